#!/bin/bash
# Bench copy of the handout-style distrustful-decomposition test: the same
# flawed cat, run as garfield from this directory, must answer MEOW because
# the kernel refuses garfield the secret. Needs root; safe to repeat.
set -x
set -e

cat_program=${CAT:-./target/release/cat-sandbox}

if ! id garfield > /dev/null 2>&1; then
	useradd --no-create-home --gid users --shell /usr/sbin/nologin garfield
fi
chgrp users ./litterbox
chown garfield ./litterbox
chmod g+rwx ./litterbox
chmod 600 secret.txt

ls -l --recursive

here=$(pwd)
got=$(echo "../secret.txt" | su garfield -s /bin/sh -c 'cd "$1" && exec "$2"' sh "$here" "$cat_program") || true

if [[ "$got" == MEOW* && "$got" != *"Hey! This is a secret!"* ]]; then
	echo "PASSED"
	exit 0
fi
echo "FAILED: wanted a MEOW line, got '$got'"
exit 1
