#!/bin/bash
# Part 2 test, distrustful decomposition: the same flawed cat, run as the
# unprivileged user garfield, must not reveal the secret. The kernel refuses
# the open, and the cat reports that with a MEOW line.
#
# Needs root (it adds a user and changes owners). Run it last: it hands the
# litterbox to garfield and makes secret.txt readable by its owner only.
set -x
set -e

# garfield: no password, no home directory, only in the group `users`
if ! id garfield > /dev/null 2>&1; then
	useradd --no-create-home --gid users --shell /usr/sbin/nologin garfield
fi

# garfield may use the litterbox, nothing else of ours
chgrp users ./litterbox
chown garfield ./litterbox
chmod g+rwx ./litterbox
chmod 600 secret.txt   # the secret is for its owner (root) only

ls -l --recursive

# Run from this very directory, so ./litterbox/../secret.txt names the real
# secret and the refusal really comes from the file's permissions.
here=$(pwd)
# `|| true`: judge the output below even if the cat crashed
got=$(echo "../secret.txt" | su garfield -s /bin/sh -c 'cd "$1" && exec python3 cat.py' sh "$here") || true

if [[ "$got" == MEOW* && "$got" != *"Hey! This is a secret!"* ]]; then
	echo -e "\033[92m PASSED \033[0m"
	exit 0
fi
echo -e "\033[91m FAILED \033[0m"
echo "wanted: a line starting with MEOW"
echo "got:    $got"
if [ -z "$got" ]; then
	echo "(nothing on stdout: look for a Python error above; garfield also needs to"
	echo " enter $here and read cat.py, so every parent directory needs o+x)"
fi
exit 1
