#!/bin/bash
# Compares the handout's way of testing (four shell scripts with `sleep 1`)
# with the grader, both aimed at the reference Rust programs of this repo.
#
#   (a) bash grader/bench/scripts/all.sh LAB     the scripts, in a temp lab dir
#   (b) target/release/grader grade . --cache-dir C   the grader on the repo,
#       with its build cache filled by one run before timing starts
#
# Prints one line: `speedup: <scripts mean / grader mean>x (scripts .. s, grader .. s)`.
# If the grader cannot grade yet, it times the scripts alone and says why.
#
# Needs root (the tests add the user garfield and change owners). Installs
# hyperfine with apt-get when it is missing. Leaves only the hyperfine JSON
# behind (path printed at the end; set BENCH_JSON to choose it).
#
# Usage: grader/bench/compare.sh [extra hyperfine options, e.g. --runs 5]
set -euo pipefail

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

echo "building the reference programs and the grader (release)" >&2
cargo build --release --quiet -p listener -p cat-sandbox
grader_built=yes
cargo build --release --quiet -p grader || grader_built=no

# A private work dir: the lab the scripts run in and the grader's build cache.
# mktemp makes it 0700; garfield must be able to walk into the lab.
work=$(mktemp -d /tmp/ipc-bench.XXXXXX)
chmod 755 "$work"
json=${BENCH_JSON:-$work/hyperfine.json}
trap 'rm -rf "$work/lab" "$work/cache"' EXIT

lab="$work/lab"
mkdir -p "$lab/litterbox" "$lab/target/release" "$work/cache"
printf 'Hey! This is a secret!' > "$lab/secret.txt"
printf 'Treasure found!' > "$lab/litterbox/treasure.txt"
install -m 755 target/release/listener target/release/cat-sandbox "$lab/target/release/"

scripts_cmd="bash grader/bench/scripts/all.sh $lab"
grader_cmd="target/release/grader grade . --cache-dir $work/cache"

# Fail early and readably if the scripts do not pass against the reference.
if ! bash grader/bench/scripts/all.sh "$lab" > "$work/scripts.log" 2>&1; then
	echo "compare.sh: the scripts fail against the reference programs; log:" >&2
	tail -n 20 "$work/scripts.log" >&2
	exit 1
fi

# One run to fill the grader's build cache; it must succeed to be timed.
grader_ok=no
if [[ $grader_built == yes ]] && $grader_cmd > "$work/grader.log" 2>&1; then
	grader_ok=yes
fi

if [[ $grader_ok == yes ]]; then
	hyperfine --warmup 1 --export-json "$json" "$@" \
		-n scripts "$scripts_cmd" -n grader "$grader_cmd" >&2
else
	echo "compare.sh: the grader is not usable yet; timing the scripts alone" >&2
	[[ -f $work/grader.log ]] && tail -n 5 "$work/grader.log" >&2
	hyperfine --warmup 1 --export-json "$json" "$@" -n scripts "$scripts_cmd" >&2
fi

python3 - "$json" << 'EOF'
import json, sys

runs = {r["command"]: r["mean"] for r in json.load(open(sys.argv[1]))["results"]}
scripts = runs["scripts"]
grader = runs.get("grader")
if grader:
    print(f"speedup: {scripts / grader:.1f}x (scripts {scripts:.2f} s, grader {grader:.3f} s)")
else:
    print(f"speedup: n/a (scripts {scripts:.2f} s, grader not measured)")
EOF
echo "hyperfine results: $json" >&2
