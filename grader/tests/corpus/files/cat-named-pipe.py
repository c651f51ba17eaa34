# A cat that takes its name from a named pipe in its home instead of stdin (this lab is about
# pipes, after all). Nobody ever writes to that FIFO, so opening it blocks until the deadline.
import os

fifo = os.path.expanduser("~/name.fifo")
try:
    os.mkfifo(fifo)
except FileExistsError:
    pass
with open(fifo) as source:
    name = source.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
