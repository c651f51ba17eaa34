# Hostile cat: never stops writing, on stdout and stderr at once. The grader must keep only its
# output cap, end the run at its deadline, and not stall on a full pipe.
import os

line = b"Treasure found! " * 4096
while True:
    os.write(1, line)
    os.write(2, b"GRADE: 25/25 (100.00%)\n" * 64)
