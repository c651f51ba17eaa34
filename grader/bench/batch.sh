#!/bin/bash
# Benchmark of `grader batch`: a generated class of 100 submissions of the
# C/Python edition (labs/ipc/original.toml), graded twice; the second
# (warm) run is the one timed. The class mixes
#   61 correct copies of grader/tests/submissions/original,
#   24 broken ones (the mistakes grader/tests/grade.rs checks, and two more),
#   15 hostile ones: a cat that sleeps forever, one that leaves children
#      behind, a listener that plants a daemon, a cat that floods stdout,
#      one that tries to SIGKILL every process it can see, and one that
#      tries to wreck every litterbox it can reach.
# Every submission's score is known in advance (expected.csv); the script
# checks the gradebook row by row, then checks that no process of any slot's
# users is left. Prints, at the end:
#   batch: N submissions, wall X s (warm), median Y s per submission, ...
#
# Needs root (slots run as their own users). Usage:
#   grader/bench/batch.sh [--jobs N] [--keep] [--class DIR]
#     --jobs N     slots (default: none given, so the grader's own default, four
#                  per core: what an instructor gets without flags)
#     --keep       keep the generated class and the outputs (path printed)
#     --class DIR  only generate the class into DIR, then stop
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# More slots than cores: most of a grading run waits on student programs (a
# sleeping cat holds its slot for the 5 s deadline), so extra slots overlap
# those waits with other submissions' builds.
jobs=()
keep=no
class_only=""
while (($#)); do
	case "$1" in
	--jobs) jobs=(--jobs "$2"); shift ;;
	--keep) keep=yes ;;
	--class) class_only=$2; shift ;;
	-h | --help) sed -n '2,22p' "$0"; exit 0 ;;
	*) echo "batch.sh: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

# Writes the class into $1: one directory per student, and $1/expected.csv
# (student,score). Variants are edits of the sample submission; each edit
# must find its text, so a changed sample fails here and not silently later.
generate_class() {
	python3 - "$repo/grader/tests/submissions/original" "$1" <<'PY'
import os, shutil, sys

base, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)

def edit(file, old, new):
    def apply(d):
        p = os.path.join(d, file)
        text = open(p).read()
        assert old in text, f"{old!r} not in {file}"
        open(p, "w").write(text.replace(old, new, 1))
    return apply

def remove(file):
    return lambda d: os.remove(os.path.join(d, file))

CAT = "cat.py"
STRIP = "name = sys.stdin.read().strip()"
# Each hostile cat does its damage, then behaves, so its own score is known.
SLEEPER = edit(CAT, STRIP, "import time\ntime.sleep(1000)\n" + STRIP)
LINGER = edit(CAT, STRIP,
    "import os, time\nfor _ in range(4):\n    if os.fork() == 0:\n"
    "        os.setsid()\n        time.sleep(1000)\n        os._exit(0)\n" + STRIP)
FLOOD = edit(CAT, STRIP, "sys.stdout.write('x' * (8 << 20))\n" + STRIP)
KILLER = edit(CAT, STRIP,
    "import os, signal\nfor p in os.listdir('/proc'):\n"
    "    try:\n        if p.isdigit() and os.stat('/proc/' + p).st_uid != os.getuid():\n"
    "            os.kill(int(p), signal.SIGKILL)\n    except OSError:\n        pass\n" + STRIP)
VANDAL = edit(CAT, STRIP,
    "import glob, os\nmine = os.path.realpath('.')\n"
    "targets = glob.glob('/tmp/*/*/*/run/litterbox/treasure.txt') + glob.glob('/tmp/*/run/litterbox/treasure.txt')\n"
    "targets += [f'/proc/{p}/cwd/litterbox/treasure.txt' for p in os.listdir('/proc') if p.isdigit()]\n"
    "for t in targets:\n    try:\n        if os.path.realpath(t).startswith(mine + '/'):\n            continue\n"
    "        os.unlink(t)\n        open(t, 'w').write('PWNED')\n    except OSError:\n        pass\n" + STRIP)
DAEMON = edit("listener.c", "    pause();",
    "    if (fork() == 0) { setsid(); if (fork() == 0) { sleep(1000); } _exit(0); }\n    pause();")

kinds = [
    # (name, count, edits, expected score)
    ("correct", 61, [], 25),
    ("sigint-exits-0", 2, [edit("listener.c", "return_code = 1;", "return_code = 0;")], 24),
    ("no-sigusr1", 2, [edit("listener.c", " || signal(SIGUSR1, on_sigusr1) == SIG_ERR", "")], 23),
    ("busy-wait", 2, [edit("listener.c", "pause();", "while (!caught) { }")], 23),
    ("never-exits", 2, [edit("listener.c", "pause();", "for (;;) pause();")], 19),
    ("parent-pid", 2, [edit("listener.c", "(int)getpid()", "(int)getppid()")], 23),
    ("no-build", 2, [edit("listener.c", "pause();", "pause()")], 15),
    ("fixed-flaw", 2, [edit(CAT, "try:\n", "try:\n    if '..' in name:\n        raise ValueError('no')\n")], 23),
    ("stderr", 2, [edit(CAT, "print(found.read())", "print(found.read(), file=sys.stderr)")], 20),
    ("hard-coded", 2, [edit(CAT, "print(found.read())", "print('Treasure found!')")], 20),
    ("newline", 2, [edit(CAT, "sys.stdin.read().strip()", "sys.stdin.read()")], 20),
    ("forged-grade", 2, [edit(CAT, "name = sys.stdin", "print('GRADE: 25/25 (100.00%)')\nname = sys.stdin")], 15),
    ("no-secret", 1, [remove("secret.txt")], 24),
    ("no-gitignore", 1, [remove(".gitignore")], 24),
    ("sleeper", 3, [SLEEPER], 15),
    # Processes left behind cost the checks whose runs left them: every cat check for linger;
    # for daemon, the signal checks whose listener had forked its daemon before the signal came.
    ("linger", 3, [LINGER], 15),
    ("daemon", 2, [DAEMON], (13, 24)),
    ("flood", 1, [FLOOD], 15),
    ("killer", 3, [KILLER], 25),
    ("vandal", 3, [VANDAL], 25),
]
rows = []
for name, count, edits, score in kinds:
    for i in range(1, count + 1):
        student = f"{name}-{i:02d}"
        d = os.path.join(out, student)
        shutil.copytree(base, d)
        for e in edits:
            e(d)
        rows.append((student, score))
assert len(rows) == 100, len(rows)
with open(os.path.join(out, "expected.csv"), "w") as f:
    f.write("student,lowest,highest\n")
    for student, score in rows:
        low, high = score if isinstance(score, tuple) else (score, score)
        f.write(f"{student},{low},{high}\n")
PY
	chmod -R a+rX "$1"
}

if [[ -n "$class_only" ]]; then
	generate_class "$class_only"
	echo "$class_only"
	exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
	echo "batch.sh: needs root (every slot runs as users of its own)" >&2
	exit 2
fi

work=$(mktemp -d /tmp/ipc-batch-bench.XXXXXX)
chmod 755 "$work"
if [[ $keep == no ]]; then
	trap 'rm -rf "$work"' EXIT
fi
generate_class "$work/class"

echo "building the grader (release)" >&2
cargo build --release --quiet -p grader --manifest-path "$repo/Cargo.toml"
grader="$repo/target/release/grader"
lab="$repo/labs/ipc/original.toml"
dirs=()
while IFS=, read -r student _; do
	[[ $student == student ]] || dirs+=("$work/class/$student")
done <"$work/class/expected.csv"

run_batch() {
	"$grader" batch --lab "$lab" --out "$work/out" --cache-dir "$work/cache" \
		"${jobs[@]}" "${dirs[@]}" 2>"$work/progress-$1.log" | tail -n 2 >"$work/summary-$1.txt" || true
}

echo "first pass (creates the slot users, fills caches)" >&2
run_batch cold
start=$(date +%s.%N)
run_batch warm
wall=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
cat "$work/summary-warm.txt" >&2

# Row by row: the gradebook's score must be the expected one.
wrong=$(python3 - "$work/class/expected.csv" "$work/out/gradebook.csv" <<'PY'
import csv, sys
want = {r["student"]: (float(r["lowest"]), float(r["highest"])) for r in csv.DictReader(open(sys.argv[1]))}
got = {r["student"]: r for r in csv.DictReader(open(sys.argv[2], newline=""))}
bad = []
for student, (low, high) in want.items():
    row = got.get(student)
    if row is None or row["status"] != "graded" or not low <= float(row["score"] or -1) <= high:
        shown = f"{low:g}" if low == high else f"{low:g} to {high:g}"
        bad.append(f"{student}: want {shown}, got {row and (row['status'], row['score'])}")
print("\n".join(bad))
PY
)
median=$(python3 - "$work/out/gradebook.csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="")))
s = [float(r["seconds"]) for r in rows if r["seconds"]]
print(f"{statistics.median(s):.2f} {max(s):.2f}")
PY
)

# No process of any slot's users may be left.
left=0
for user in $(getent passwd | cut -d: -f1 | grep -E '^(labowner|garfield)-[0-9]+$'); do
	n=$(pgrep -c -u "$user" || true)
	left=$((left + n))
done

if [[ -n "$wrong" ]]; then
	echo "batch.sh: wrong rows:" >&2
	echo "$wrong" >&2
fi
slots=${jobs[1]:-default}
printf 'batch: %d submissions, slots %s, wall %s s (warm), median %s s per submission (max %s s), %d wrong rows, %d processes left\n' \
	"${#dirs[@]}" "$slots" "$wall" "${median% *}" "${median#* }" "$(grep -c . <<<"$wrong" || true)" "$left"
if [[ $keep == yes ]]; then
	echo "kept: $work" >&2
fi
[[ -z "$wrong" && $left -eq 0 ]]
