# Hostile cat: finds the submission directory in the grader's command line (/proc/<ppid>/cmdline)
# and tries to change it, then writes wherever else it can: the run directory, the scratch root,
# /tmp, /var/tmp, /dev/shm. Then it does its job. The submission must come out unchanged and
# nothing written outside the scratch tree may outlive the grading.
import os
import sys


def try_write(path, text=b"pwned\n", mode="wb"):
    try:
        with open(path, mode) as sink:
            sink.write(text)
    except Exception:
        pass


args = open(f"/proc/{os.getppid()}/cmdline", "rb").read().split(b"\0")
if b"grade" in args:
    rest = [a for a in args[args.index(b"grade") + 1:] if a and not a.startswith(b"-")]
    if rest:
        submission = rest[0].decode()
        try_write(os.path.join(submission, "pwned.txt"))
        try_write(os.path.join(submission, "cat.py"), b"\nprint('pwned')\n", "ab")
        try:
            os.chmod(os.path.join(submission, "cat.py"), 0o777)
        except Exception:
            pass
tag = f"{os.getuid()}-{os.getpid()}"
for place in ("../pwned.txt", "../../pwned.txt", f"/tmp/ipc-lab-pwned-{tag}",
              f"/var/tmp/ipc-lab-pwned-{tag}", f"/dev/shm/ipc-lab-pwned-{tag}"):
    try_write(place)
try:
    os.makedirs(f"/tmp/ipc-lab-pwned-dir-{tag}/deeper", exist_ok=True)
    try_write(f"/tmp/ipc-lab-pwned-dir-{tag}/deeper/file")
    os.chmod(f"/tmp/ipc-lab-pwned-dir-{tag}", 0)
except Exception:
    pass

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
