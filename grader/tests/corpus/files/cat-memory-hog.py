# Hostile cat: grabs memory (and touches every page) until the allocator says no, then does its
# job. The 1 GiB address-space limit must stop it, not the machine's 24 GiB.
import sys

hoard = []
try:
    while True:
        hoard.append(bytearray(1 << 26))
except MemoryError:
    pass
hoard = None

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
