# Hostile cat: does its job, then leaves a child behind in a session of its own that sleeps
# forever with stdout and stderr still open. The grade must not wait for it, and it must not
# outlive the grading.
import os
import sys
import time

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
sys.stdout.flush()
if os.fork() == 0:
    os.setsid()
    time.sleep(10**6)
