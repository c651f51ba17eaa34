#!/usr/bin/env bash
# Opens a shell in the grader image with the working copy mounted, confined
# like a grading run (no network, few capabilities, limits), for trying things
# by hand: build the programs, start the listener, send it signals, run the cat
# as garfield. Prints the exact `docker run` command first, then runs it.
#
# Usage: docker/shell.sh [DIR] [-- COMMAND...]
#   DIR defaults to the current directory; it is mounted read-only at
#   /submission. Builds go to /tmp/target (CARGO_TARGET_DIR), on the
#   container's tmpfs, so nothing is written into your working copy; to use
#   make, copy the code first: `cp -r /submission /tmp/work && cd /tmp/work`.
#   COMMAND runs instead of an interactive bash.
# Same environment variables as docker/grade.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/defaults.sh
source "$here/defaults.sh"

ipc_lab_dir_and_rest "docker/shell.sh [DIR] [-- COMMAND...]" "$@"
dir=$IPC_LAB_DIR
set -- "${IPC_LAB_REST[@]}"

cmd=(docker run --rm -i)
# A terminal only when there is one (scripts and CI have none).
[[ -t 0 && -t 1 ]] && cmd+=(-t)
[[ -n "${IPC_LAB_CONTAINER_NAME:-}" ]] && cmd+=(--name "$IPC_LAB_CONTAINER_NAME")
mapfile -t hardening < <(ipc_lab_hardening_flags)
cmd+=("${hardening[@]}" -e CARGO_TARGET_DIR=/tmp/target -v "$dir:/submission:ro"
    -w /submission --entrypoint bash "$IPC_LAB_IMAGE")
if (($#)); then
    cmd+=(-c "$*")
fi

printf '+ %s\n' "$(ipc_lab_show_command "${cmd[@]}")" >&2
exec "${cmd[@]}"
