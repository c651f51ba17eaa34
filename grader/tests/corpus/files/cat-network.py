# Hostile cat: phones home to a port the corpus opened on the host's loopback (@@PORT@@) before
# doing its job. In the grader's empty network namespace the connection must fail; if it ever
# works the cat prints a LEAK line, and the corpus also sees the connection arrive.
import socket
import sys

try:
    with socket.create_connection(("127.0.0.1", @@PORT@@), timeout=2) as home:
        home.sendall(b"PWNED")
    print("LEAK network")
    sys.exit(0)
except OSError:
    pass

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
