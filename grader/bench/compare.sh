#!/bin/bash
# Compares the handout's way of testing (four shell scripts that wait with
# `sleep 1`) with the grader, on the same programs and the same fixtures.
#
#   default      the reference Rust programs of this repo:
#                  (a) bash grader/bench/scripts/all.sh LAB  (a temp lab dir)
#                  (b) target/release/grader grade . --cache-dir C
#   --original   the C/Python sample submission (grader/tests/submissions/original):
#                  (a) its own four test_*.sh, run in a temp copy built with make
#                  (b) target/release/grader grade --lab labs/ipc/original.toml ...
#
# The grader's build cache is filled by one run before timing starts, and
# hyperfine adds one warm-up run of each command. Prints one line:
#   speedup: <scripts mean / grader mean>x (scripts .. s, grader .. s)
# If the grader cannot grade yet, it times the scripts alone and says why.
#
# Needs root (the DD test adds the user garfield and changes owners). Installs
# hyperfine with apt-get when it is missing. Leaves the hyperfine JSON and the
# logs in a /tmp/ipc-bench.* dir (path printed at the end; BENCH_JSON picks
# the JSON's path).
#
# Usage: grader/bench/compare.sh [--original] [extra hyperfine options, e.g. --runs 5]
set -euo pipefail

edition=rust
if [[ ${1:-} == --original ]]; then
	edition=original
	shift
fi

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"

if [[ $(id -u) -ne 0 ]]; then
	echo "compare.sh: needs root (the DD test adds a user and chowns files)" >&2
	exit 2
fi

if ! command -v hyperfine > /dev/null; then
	echo "installing hyperfine with apt-get" >&2
	apt-get install -y hyperfine > /dev/null 2>&1 ||
		{ apt-get update > /dev/null && apt-get install -y hyperfine > /dev/null; }
fi

# A private work dir: the lab the scripts run in, the grader's build cache and
# the logs. mktemp makes it 0700; garfield must be able to walk into the lab.
work=$(mktemp -d /tmp/ipc-bench.XXXXXX)
chmod 755 "$work"
json=${BENCH_JSON:-$work/hyperfine.json}
lab="$work/lab"
trap 'rm -rf "$lab" "$work/cache"' EXIT
mkdir -p "$work/cache"

echo "building the grader (release)" >&2
grader_built=yes
if ! cargo build --release --quiet -p grader > "$work/grader-build.log" 2>&1; then
	grader_built=no
	echo "compare.sh: the grader does not build (see $work/grader-build.log)" >&2
fi

if [[ $edition == rust ]]; then
	echo "building the reference programs (release)" >&2
	cargo build --release --quiet -p listener -p cat-sandbox
	mkdir -p "$lab/litterbox" "$lab/target/release"
	printf 'Hey! This is a secret!' > "$lab/secret.txt"
	printf 'Treasure found!' > "$lab/litterbox/treasure.txt"
	install -m 755 target/release/listener target/release/cat-sandbox "$lab/target/release/"
	scripts_cmd="bash grader/bench/scripts/all.sh $lab"
	grader_cmd="target/release/grader grade . --cache-dir $work/cache"
else
	sample=grader/tests/submissions/original
	cp -a "$sample/." "$lab/"
	make -s -C "$lab" > /dev/null
	scripts_cmd="bash -c 'cd $lab && ./test_listener.sh && ./test_cat.sh && ./test_cat_exploit.sh && ./test_full_dd.sh'"
	grader_cmd="target/release/grader grade --lab labs/ipc/original.toml --cache-dir $work/cache $sample"
fi

# Fail early and readably if the scripts do not pass.
if ! bash -c "$scripts_cmd" > "$work/scripts.log" 2>&1; then
	echo "compare.sh: the scripts fail; end of $work/scripts.log:" >&2
	tail -n 20 "$work/scripts.log" >&2
	exit 1
fi

# One run to fill the grader's build cache; it must pass to be worth timing.
grader_ok=no
if [[ $grader_built == yes ]] && bash -c "$grader_cmd" > "$work/grader.log" 2>&1; then
	grader_ok=yes
fi

if [[ $grader_ok == yes ]]; then
	hyperfine --warmup 1 --export-json "$json" "$@" \
		-n scripts "$scripts_cmd" -n grader "$grader_cmd" >&2
else
	echo "compare.sh: the grader cannot grade here yet; timing the scripts alone" >&2
	[[ -f $work/grader.log ]] && tail -n 5 "$work/grader.log" >&2
	hyperfine --warmup 1 --export-json "$json" "$@" -n scripts "$scripts_cmd" >&2
fi

# The same grade ten more times with a JUnit report: its per-check times give the grade with the
# (cached, no-op) build step taken out, which is what the scripts are compared with: they test
# programs that are already built.
build_times=()
if [[ $grader_ok == yes ]]; then
	for _ in $(seq 10); do
		start=$(date +%s.%N)
		bash -c "$grader_cmd --junit $work/junit.xml" > /dev/null 2>&1 || true
		end=$(date +%s.%N)
		build=$(python3 -c 'import re,sys; x=open(sys.argv[1]).read(); m=re.search(r"<testcase name=\"[^\"]*build[^\"]*\"[^>]*time=\"([0-9.]+)\"", x); print(m.group(1) if m else 0)' "$work/junit.xml")
		build_times+=("$(python3 -c "print($end - $start - $build)")")
	done
fi

python3 - "$json" "${build_times[@]}" << 'EOF'
import json, statistics, sys

with open(sys.argv[1]) as f:
    means = {r["command"]: r["mean"] for r in json.load(f)["results"]}
scripts = means["scripts"]
grader = means.get("grader")
if grader:
    print(f"speedup: {scripts / grader:.1f}x (scripts {scripts:.2f} s, grader {grader:.3f} s)")
    excluded = [float(x) for x in sys.argv[2:]]
    if excluded:
        mean = statistics.mean(excluded)
        print(f"speedup, build step excluded: {scripts / mean:.1f}x (grader {mean:.3f} s)")
else:
    print(f"speedup: n/a (scripts {scripts:.2f} s, grader not measured)")
EOF
echo "hyperfine results and logs: $work" >&2
