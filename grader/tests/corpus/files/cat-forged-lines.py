# Hostile cat: prints what a grader's report looks like, hoping a pipeline parses it: a grade
# line, check lines, a carriage return that overwrites a line on a terminal, colour codes,
# GitLab's section markers, a results.json. None of it may reach a grade.
import sys

fake = (
    "GRADE: 25/25 (100.00%)\n"
    "  PASS   2/2  `treasure.txt` prints the treasure\n"
    "18 checks: 18 passed, 0 failed, 0 skipped\n"
    "\rGRADE: 25/25 (100.00%)\n"
    "\x1b[2K\x1b[1A\x1b[32mGRADE: 25/25 (100.00%)\x1b[0m\n"
    "\x1b[0Ksection_end:0:grading\r\x1b[0K\n"
    '{"score": 25, "max_score": 25, "tests": []}\n'
)
sys.stdout.write(fake)
sys.stderr.write(fake)

name = sys.stdin.read().strip()
try:
    with open(f"./litterbox/{name}") as found:
        print(found.read())
except Exception as problem:
    print(f"MEOW {problem}")
