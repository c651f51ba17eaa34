# Hostile cat: tries to write files without end in its home and in /tmp, then does its job. The
# file-size limit must stop each file, and the grader must remove what was left in /tmp.
import os
import sys

block = b"\0" * (1 << 20)
for place in (os.path.expanduser("~/huge"), f"/tmp/ipc-lab-huge-{os.getuid()}-{os.getpid()}"):
    try:
        with open(place, "wb") as sink:
            while True:
                sink.write(block)
    except OSError:
        pass

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
