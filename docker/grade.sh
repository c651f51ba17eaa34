#!/usr/bin/env bash
# shellcheck disable=SC2016  # copy mode prints a literal "$id" for the reader
# Grades a submission the way a student does: prints the exact `docker run`
# command, then runs it. The code is mounted read-only; the container has no
# network, few capabilities, and limits on processes, memory and CPU.
#
# Usage: docker/grade.sh [DIR] [-- GRADER ARGS...]
#   DIR defaults to the current directory (the working copy to grade).
#   Arguments after -- replace the default `grade /submission`.
# Environment (defaults in docker/defaults.sh): IPC_LAB_IMAGE (image to run),
#   IPC_LAB_CACHE_VOLUME (build-cache volume; empty for none), IPC_LAB_MEMORY,
#   IPC_LAB_CPUS, IPC_LAB_PIDS_LIMIT, IPC_LAB_TMPFS_SIZE, IPC_LAB_CAPS_OVERRIDE;
#   IPC_LAB_CONTAINER_NAME names the container (for tests that look for it);
#   IPC_LAB_SUBMISSION_MODE=mount|copy. `mount` (the default) bind-mounts DIR.
#   `copy` (the default when DOCKER_HOST is tcp:// or ssh://, e.g. Docker-in-
#   Docker in CI) cannot mount a path of this machine, so it creates the same
#   container with an anonymous volume at /submission, copies DIR into it
#   (without target/ and docker/context/), then starts it.
# Exit status: the grader's (0 all passed, 1 some failed, 2 could not grade),
# or docker's own (125 and up) when the container could not run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/defaults.sh
source "$here/defaults.sh"

ipc_lab_dir_and_rest "docker/grade.sh [DIR] [-- GRADER ARGS...]" "$@"
dir=$IPC_LAB_DIR
set -- "${IPC_LAB_REST[@]}"

mode=${IPC_LAB_SUBMISSION_MODE:-}
if [[ -z "$mode" ]]; then
    case "${DOCKER_HOST:-}" in
        tcp://* | ssh://*) mode=copy ;;
        *) mode=mount ;;
    esac
fi

mapfile -t hardening < <(ipc_lab_hardening_flags)
mapfile -t cache < <(ipc_lab_cache_flags)
options=(--rm)
[[ -n "${IPC_LAB_CONTAINER_NAME:-}" ]] && options+=(--name "$IPC_LAB_CONTAINER_NAME")
options+=("${hardening[@]}" "${cache[@]}")

case "$mode" in
    mount)
        cmd=(docker run "${options[@]}" -v "$dir:/submission:ro" "$IPC_LAB_IMAGE" "$@")
        printf '+ %s\n' "$(ipc_lab_show_command "${cmd[@]}")" >&2
        exec "${cmd[@]}"
        ;;
    copy)
        create=(docker create "${options[@]}" -v /submission "$IPC_LAB_IMAGE" "$@")
        printf '+ id=$(%s)\n' "$(ipc_lab_show_command "${create[@]}")" >&2
        id=$("${create[@]}")
        # --rm removes the container and its anonymous volume once it stops;
        # this covers the case where it never started.
        trap 'docker rm -f -v "$id" >/dev/null 2>&1 || true' EXIT
        printf '+ tar -C %s -c --exclude=./target --exclude=./docker/context . | docker cp - "$id":/submission\n' \
            "$(ipc_lab_show_command "$dir")" >&2
        tar -C "$dir" -cf - --exclude=./target --exclude=./docker/context . | docker cp - "$id:/submission"
        printf '+ docker start -a "$id"\n' >&2
        docker start -a "$id" && status=0 || status=$?
        exit "$status"
        ;;
    *)
        echo "grade.sh: IPC_LAB_SUBMISSION_MODE must be mount or copy, not $mode" >&2
        exit 2
        ;;
esac
