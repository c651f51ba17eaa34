#!/bin/bash
# Bench copy of the handout-style Part 2 test: a name inside the litterbox
# prints that file. Run from a lab directory; CAT overrides the program.
set -x
set -e

cat_program=${CAT:-./target/release/cat-sandbox}
wanted="Treasure found!"
got=$(echo "treasure.txt" | "$cat_program") || true

if [ "$got" = "$wanted" ]; then
	echo "PASSED"
	exit 0
fi
echo "FAILED: wanted '$wanted', got '$got'"
exit 1
