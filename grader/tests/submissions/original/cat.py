# cat.py: a cat that only means to show files from ./litterbox.
#
# stdin:  one file name (the trailing newline from `echo` is stripped)
# stdout: the file's contents, or one line `MEOW <what went wrong>`
#
# WARNING, ON PURPOSE: the name is pasted onto "./litterbox/" without any
# check, so a name such as "../secret.txt" walks out of the litterbox. The
# lab keeps this hole to show that running the cat as the unprivileged user
# garfield (distrustful decomposition) lets the kernel stop the escape.
#
# A proper fix would resolve the path (os.path.realpath) and refuse anything
# that does not end up inside the resolved litterbox directory.
import sys

name = sys.stdin.read().strip()
path = f"./litterbox/{name}"  # <- the deliberate path-traversal flaw

try:
    with open(path) as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
