# Hostile cat: runs the set-user-id `peek` the build made, hoping to read the secret with the
# files' owner's rights even when it runs as the confined user. With no_new_privs the set-user-id
# bit does nothing; if it ever worked the cat prints a LEAK line.
import os
import subprocess
import sys

peek = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peek")
try:
    shown = subprocess.run([peek, "../secret.txt"], capture_output=True, timeout=2).stdout
    euid = int(shown.split(b"\n", 1)[0])
    if euid != os.geteuid():
        print(f"LEAK set-user-id worked: euid {euid}")
        sys.exit(0)
except Exception:
    pass

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
