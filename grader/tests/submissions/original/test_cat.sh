#!/bin/bash
# Part 2 test: asking for a file inside the litterbox prints that file.
set -x
set -e

wanted="Treasure found!"
# `|| true`: judge the output below even if the cat crashed
got=$(echo "treasure.txt" | python3 cat.py) || true

if [ "$got" = "$wanted" ]; then
	echo -e "\033[92m PASSED \033[0m"
	exit 0
fi
echo -e "\033[91m FAILED \033[0m"
echo "wanted: $wanted"
echo "got:    $got"
exit 1
