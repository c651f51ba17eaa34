# Hostile cat: asked for the treasure by the files' owner, it first grabs memory (touching every
# page) until the allocator says no, then does its job. The 1 GiB address-space limit must stop
# it, not the machine's RAM. (One run hogs, so the others are not slowed past their deadlines.)
import os
import sys

name = sys.stdin.read().strip()
if name == "treasure.txt" and os.stat("secret.txt").st_uid == os.getuid():
    hoard = []
    try:
        while True:
            hoard.append(bytearray(1 << 26))
    except MemoryError:
        pass
    hoard = None

try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
