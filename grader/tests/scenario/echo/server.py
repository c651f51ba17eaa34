"""A small Unix-socket echo server for the scenario kind's tests.

Usage: server.py SOCKET LOG [WORKERS]. Prints `ready <pid>` once it listens, answers each
connection with `echo: <what it read>`, appends one JSON line per connection to LOG, runs
WORKERS idle threads, and exits 0 on SIGTERM or on `quit` read from stdin.
"""
import json
import os
import signal
import socket
import sys
import threading

path, log = sys.argv[1], sys.argv[2]
workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
stop = threading.Event()
for _ in range(workers):
    threading.Thread(target=stop.wait, daemon=True).start()


def bye(*_):
    sys.stdout.flush()
    os._exit(0)


signal.signal(signal.SIGTERM, bye)


def stdin_watch():
    for line in sys.stdin:
        if line.strip() == "quit":
            print("bye", flush=True)
            bye()


threading.Thread(target=stdin_watch, daemon=True).start()
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(path)
os.chmod(path, 0o666)
server.listen(64)
print(f"ready {os.getpid()}", flush=True)
served = 0
while True:
    conn, _ = server.accept()
    data = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    conn.sendall(b"echo: " + data)
    conn.close()
    served += 1
    with open(log, "a") as out:
        out.write(json.dumps({"n": served, "bytes": len(data), "text": data.decode()}) + "\n")
