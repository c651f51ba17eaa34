# Hostile cat: before doing its job it hunts for what it must never see: the secret through the
# grader's /proc entries (memory, environment, open files, working directory), through the open
# files of every other process, in the owner's scratch home; and another student's build copy
# (@@VICTIM_BUILD@@) in the grader's build cache. Anything found is printed as a LEAK line,
# which changes the grade, so the corpus notices.
import glob
import os
import sys

SECRET = b"Hey! This is a secret!"
VICTIM = "@@VICTIM_BUILD@@"


def peek(path, limit=1 << 20):
    try:
        with open(path, "rb") as found:
            return found.read(limit)
    except Exception:
        return b""


def grader_memory(pid):
    """Every readable mapping of the grader, through /proc/<pid>/mem."""
    try:
        maps = open(f"/proc/{pid}/maps").read().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb")
    except Exception:
        return b""
    seen = []
    for line in maps:
        low, high = (int(x, 16) for x in line.split()[0].split("-"))
        try:
            mem.seek(low)
            seen.append(mem.read(min(high - low, 1 << 22)))
        except Exception:
            pass
    return b"".join(seen)


def hunt():
    leaks = []
    owns_secret = os.stat("secret.txt").st_uid == os.getuid()
    grader = os.getppid()
    places = {
        "grader environ": peek(f"/proc/{grader}/environ"),
        "grader memory": grader_memory(grader),
        "grader cwd": peek(f"/proc/{grader}/cwd/secret.txt"),
        "grader root": peek(f"/proc/{grader}/root{os.path.abspath('secret.txt')}"),
        "owner home": b"".join(peek(p) for p in glob.glob("../home/*")),
        "grader lock": peek("/tmp/ipc-lab-grader.lock"),
    }
    for fd in glob.glob("/proc/[0-9]*/fd/*"):
        places[fd] = peek(fd, 1 << 16)
    for environ in glob.glob("/proc/[0-9]*/environ"):
        places[environ] = peek(environ)
    # The files' owner may read the secret (that is the exploit check); the grader's own
    # memory, environment and files are off limits to everyone.
    private = {"grader environ", "grader memory", "grader cwd", "grader root", "grader lock"}
    for where, found in places.items():
        if SECRET in found and (not owns_secret or where in private):
            leaks.append(where)
    if b"VICTIM-MARKER" in peek(os.path.join(VICTIM, "victim-marker.txt")):
        leaks.append("another student's build copy")
    return leaks


leaks = hunt()
if leaks:
    print("LEAK " + ", ".join(leaks))
    sys.exit(0)

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
