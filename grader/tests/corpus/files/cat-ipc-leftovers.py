# Hostile cat: every run, it leaves things in the kernel that outlive processes: SysV shared
# memory (512 MiB, never touched), a message queue holding this run's secret, a semaphore, a POSIX
# message queue, and the secret as a key in its user keyring, where the next process of the same
# user could read it. Then it does its job: full marks, and nothing of it may survive the grade.
import ctypes
import os
import sys

libc = ctypes.CDLL(None, use_errno=True)
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
try:
    with open("secret.txt", "rb") as f:
        secret = f.read()
except OSError:
    secret = b"no secret"
libc.shmget(IPC_PRIVATE, ctypes.c_size_t(512 << 20), IPC_CREAT | 0o600)
queue = libc.msgget(IPC_PRIVATE, IPC_CREAT | 0o600)


class Message(ctypes.Structure):
    _fields_ = [("mtype", ctypes.c_long), ("mtext", ctypes.c_char * 512)]


message = Message(1, secret[:511])
libc.msgsnd(queue, ctypes.byref(message), ctypes.c_size_t(len(secret[:511])), 0)
libc.semget(IPC_PRIVATE, 1, IPC_CREAT | 0o600)
try:
    rt = ctypes.CDLL("librt.so.1", use_errno=True)
    rt.mq_open(f"/ipc-lab-leak-{os.getpid()}".encode(), os.O_CREAT | os.O_RDWR, 0o600, None)
except OSError:
    pass
# add_key("user", desc, payload, len, KEY_SPEC_USER_KEYRING): syscall 248 on x86_64.
libc.syscall(248, b"user", f"ipc-lab-leak-{os.getpid()}".encode(), secret, len(secret), -4)

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
