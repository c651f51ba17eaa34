#!/usr/bin/env python3
"""Replays the handout's Part 0 shell steps through docker/shell.sh in the real image.

Usage: part0-replay.py HANDOUT_0_SETUP_MD WORKING_COPY CONTAINER_NAME

Takes, from section 0.5 of the handout, every `sh` block (commands run for their exit status)
and every `console` transcript (`$ command` lines, each followed by the output it must print),
and runs them, in order, each in a container started by docker/shell.sh on WORKING_COPY (a
copy of the starter). Then checks what the handout promises of that shell: the build landed in
the working copy itself (it is the same folder, not a copy), and while a shell runs, the
container answers to its name (`docker exec -it ipc-lab bash`). Prints one line per step and
exits 1 on the first step that does not do what the handout says. Never writes outside
WORKING_COPY.
"""

import os
import re
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
SHELL = os.path.join(HERE, "shell.sh")


def section(text, number):
    """The text of the `## <number> ...` section."""
    match = re.search(rf"^## {re.escape(number)}\b.*?(?=^## |\Z)", text, re.M | re.S)
    if not match:
        sys.exit(f"part0-replay: the handout has no section {number}")
    return match.group(0)


def blocks(text):
    """(info, body) of every fenced block, in order."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.M | re.S)


def in_shell(copy, name, command, stdin=None):
    env = dict(os.environ, IPC_LAB_CONTAINER_NAME=name)
    return subprocess.run(
        [SHELL, copy, "--", command],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=900,
    )


def fail(what, run=None):
    print(f"part0-replay: FAIL: {what}")
    if run is not None:
        for line in (run.stderr + run.stdout).splitlines()[-30:]:
            print(f"    | {line}")
    sys.exit(1)


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__.splitlines()[2])
    handout, copy, name = sys.argv[1], os.path.abspath(sys.argv[2]), sys.argv[3]
    steps = blocks(section(open(handout, encoding="utf-8").read(), "0.5"))
    if not any(info == "console" for info, _ in steps):
        fail("section 0.5 shows no transcript")
    for info, body in steps:
        if info == "sh":
            for command in [l for l in body.splitlines() if l.strip()]:
                run = in_shell(copy, name, command)
                if run.returncode != 0:
                    fail(f"`{command}` exited {run.returncode}", run)
                print(f"part0-replay: ok  `{command}`")
        elif info == "console":
            command, expected = None, []
            pairs = []
            for line in body.splitlines():
                if line.startswith("$ "):
                    if command is not None:
                        pairs.append((command, expected))
                    command, expected = line[2:], []
                elif command is not None:
                    expected.append(line)
            if command is not None:
                pairs.append((command, expected))
            for command, expected in pairs:
                run = in_shell(copy, name, command)
                got = run.stdout.splitlines()
                if got != expected:
                    fail(f"`{command}` printed {got!r}, the handout shows {expected!r}", run)
                print(f"part0-replay: ok  `{command}` printed what the handout shows")
    if not os.path.isfile(os.path.join(copy, "target", "debug", "listener")):
        fail("the build did not land in the working copy (target/debug/listener is missing)")
    print("part0-replay: ok  the build is in the working copy itself")
    named(copy, name)


def named(copy, name):
    """While a shell runs, `docker exec NAME` reaches it. Synchronised on FIFOs, not on time."""
    ready, go = os.path.join(copy, ".part0-ready"), os.path.join(copy, ".part0-go")
    for fifo in (ready, go):
        if os.path.exists(fifo):
            os.unlink(fifo)
        os.mkfifo(fifo, 0o666)
    result = {}

    def shell_run():
        result["run"] = in_shell(copy, name, "echo up > .part0-ready && read -r _ < .part0-go")
        # A shell that never came up must not leave the reader below waiting for ever.
        poke(ready)

    shell = threading.Thread(target=shell_run)
    shell.start()
    try:
        with open(ready, encoding="utf-8") as r:
            r.read()
        probe = subprocess.run(
            ["docker", "exec", name, "true"], capture_output=True, text=True, timeout=120
        )
    finally:
        poke(go, b"go\n")
        shell.join()
        os.unlink(ready)
        os.unlink(go)
    if probe.returncode != 0:
        fail(f"`docker exec {name} true` exited {probe.returncode}: {probe.stderr.strip()}")
    if result["run"].returncode != 0:
        fail("the named shell did not end cleanly", result["run"])
    print(f"part0-replay: ok  a second shell reaches the running one: docker exec {name}")


def poke(fifo, data=b""):
    """Writes to a FIFO only if someone has it open for reading; never blocks."""
    try:
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:
        return
    try:
        if data:
            os.write(fd, data)
    finally:
        os.close(fd)


if __name__ == "__main__":
    main()
