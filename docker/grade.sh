#!/usr/bin/env bash
# Grades a submission the way a student does: prints the exact `docker run`
# command, then runs it. The code is mounted read-only; the container has no
# network, few capabilities, and limits on processes, memory and CPU.
#
# Usage: docker/grade.sh [DIR] [-- GRADER ARGS...]
#   DIR defaults to the current directory (the working copy to grade).
#   Arguments after -- replace the default `grade /submission`.
# Environment (see docker/defaults.sh): IPC_LAB_IMAGE (image to run),
#   IPC_LAB_CACHE_VOLUME (build-cache volume; empty for none), IPC_LAB_MEMORY,
#   IPC_LAB_CPUS, IPC_LAB_PIDS_LIMIT, IPC_LAB_TMPFS_SIZE, IPC_LAB_CAPS_OVERRIDE.
#   IPC_LAB_CONTAINER_NAME names the container (for tests that must find it).
# Exit status: the grader's (0 all passed, 1 some failed, 2 could not grade),
# or docker's own (125 and up) when the container could not run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/defaults.sh
source "$here/defaults.sh"

dir=.
if (($#)) && [[ "$1" != -- ]]; then
    dir=$1
    shift
fi
[[ $# -eq 0 || "$1" == -- ]] || { echo "usage: docker/grade.sh [DIR] [-- GRADER ARGS...]" >&2; exit 2; }
(($#)) && shift
dir=$(cd "$dir" && pwd)

cmd=(docker run --rm)
[[ -n "${IPC_LAB_CONTAINER_NAME:-}" ]] && cmd+=(--name "$IPC_LAB_CONTAINER_NAME")
mapfile -t hardening < <(ipc_lab_hardening_flags)
mapfile -t cache < <(ipc_lab_cache_flags)
cmd+=("${hardening[@]}" "${cache[@]}" -v "$dir:/submission:ro" "$IPC_LAB_IMAGE")
if (($#)); then
    cmd+=("$@")
fi

printf '+ %s\n' "$(ipc_lab_show_command "${cmd[@]}")" >&2
exec "${cmd[@]}"
