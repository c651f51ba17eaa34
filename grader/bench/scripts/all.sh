#!/bin/bash
# Runs the four handout-style tests against the reference programs, in the
# order a CI job would, inside a lab directory prepared by ../compare.sh.
# Usage: all.sh LAB_DIR   (or BENCH_LAB_DIR=LAB_DIR all.sh)
# Exits non-zero if any test fails, so a benchmark of a failing setup stops.
set -e

lab_dir=${1:-${BENCH_LAB_DIR:?give the lab directory as the first argument}}
scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

cd "$lab_dir"
for test in test_listener.sh test_cat.sh test_cat_exploit.sh test_full_dd.sh; do
	bash "$scripts/$test"
done
