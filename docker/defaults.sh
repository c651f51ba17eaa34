# shellcheck shell=bash
# Shared settings for the docker/*.sh scripts: image names, the hardening of a
# grading container, and two timing helpers. Sourced, never executed.
#
# Everything here can be overridden from the environment, so a course can
# point the scripts at its own registry image without editing them. This file
# must never start containers or change images: it only defines names.

# The image students run. A course overrides this with its registry path,
# e.g. IPC_LAB_IMAGE=registry.example/course/ipc-lab/grader:latest.
: "${IPC_LAB_IMAGE:=ipc-lab/grader:latest}"

# Named volume that keeps build caches between two grading runs, so that a
# submission that was already built is graded again in about a second.
# Set IPC_LAB_CACHE_VOLUME= (empty) to grade without any cache.
: "${IPC_LAB_CACHE_VOLUME=ipc-lab-cache}"
# Where that volume is mounted inside the container (GRADER_CACHE_DIR).
IPC_LAB_CACHE_MOUNT=/var/cache/ipc-lab

# Resource limits of a grading container. The tmpfs holds the scratch copy of
# the submission and, without the cache volume, its target directory; tmpfs
# pages count against --memory, so the memory limit must leave room for it and
# for rustc.
: "${IPC_LAB_PIDS_LIMIT:=512}"
: "${IPC_LAB_MEMORY:=2g}"
: "${IPC_LAB_CPUS:=2}"
: "${IPC_LAB_TMPFS_SIZE:=1g}"

# Capabilities the grader keeps after --cap-drop ALL. This is THE place to
# adjust; docker/probe-capabilities.sh grades the reference without each
# candidate in turn. Measured on the grader of 2026-11-21 (commit 11690ef):
#   SETUID, SETGID  without them: exit 2, labowner cannot run cargo (no drop)
#   CHOWN           without it: exit 2, cannot give build/ to its owner
#   KILL            without it: the grader HANGS (cannot stop a uid-20002 listener)
#   DAC_OVERRIDE    not needed since the grader hands build/ over after copying
#                   (before that: exit 2, root could not create build/<crate>)
#   FOWNER          not needed
read -r -a IPC_LAB_CAPS <<<"${IPC_LAB_CAPS_OVERRIDE:-SETUID SETGID CHOWN KILL}"

# Prints, one per line, the `docker run` options that confine a grading or
# shell container (without the image, the mounts of the code or the command).
ipc_lab_hardening_flags() {
    local cap
    # --init: a tiny init is PID 1 and passes SIGINT/SIGTERM on to the grader
    # (a PID 1 without handlers ignores them, so Ctrl-C and `docker stop`
    # would not stop it) and reaps orphaned student processes.
    printf '%s\n' \
        --init \
        --network none \
        --pids-limit "$IPC_LAB_PIDS_LIMIT" \
        --memory "$IPC_LAB_MEMORY" \
        --memory-swap "$IPC_LAB_MEMORY" \
        --cpus "$IPC_LAB_CPUS" \
        --read-only \
        --tmpfs "/tmp:rw,exec,nosuid,nodev,size=$IPC_LAB_TMPFS_SIZE" \
        --cap-drop ALL
    for cap in "${IPC_LAB_CAPS[@]}"; do
        printf '%s\n' --cap-add "$cap"
    done
    printf '%s\n' --security-opt no-new-privileges
}

# Prints the options that mount the build cache volume, if one is configured.
ipc_lab_cache_flags() {
    if [[ -n "$IPC_LAB_CACHE_VOLUME" ]]; then
        printf '%s\n' -v "$IPC_LAB_CACHE_VOLUME:$IPC_LAB_CACHE_MOUNT" \
            -e "GRADER_CACHE_DIR=$IPC_LAB_CACHE_MOUNT"
    fi
}

# Quotes a command the way a shell would read it back, for "prints then runs":
# plain words as they are, others in single quotes.
ipc_lab_show_command() {
    local out="" word q="'"
    for word in "$@"; do
        if [[ "$word" =~ ^[A-Za-z0-9_@%+=:,./-]+$ ]]; then
            out+="${out:+ }$word"
        else
            out+="${out:+ }$q${word//$q/$q\\$q$q}$q"
        fi
    done
    printf '%s\n' "$out"
}

# Seconds since the epoch with nanoseconds, and the difference of two of them.
ipc_lab_now() { date +%s.%N; }
ipc_lab_since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'; }

# Removes untagged images that carry this project's label (a replaced tag, the
# layers of a failed build) and nothing else. `docker image prune --filter
# label=...` does not remove them on the engine here (20.10), so list and rmi.
ipc_lab_remove_untagged_images() {
    local ids
    ids=$(docker image ls -q -f dangling=true -f label=ipc-lab.image | sort -u)
    if [[ -n "$ids" ]]; then
        # shellcheck disable=SC2086  # one id per word
        docker rmi $ids >/dev/null 2>&1 || true
    fi
}

# The wrappers' common arguments, `[DIR] [-- REST...]`: sets IPC_LAB_DIR (absolute; the current
# directory when absent) and the array IPC_LAB_REST. Prints "usage: USAGE" and exits 2 otherwise.
ipc_lab_dir_and_rest() {
    local usage=$1
    shift
    IPC_LAB_DIR=.
    if (($#)) && [[ "$1" != -- ]]; then
        IPC_LAB_DIR=$1
        shift
    fi
    [[ $# -eq 0 || "$1" == -- ]] || { echo "usage: $usage" >&2; exit 2; }
    (($#)) && shift
    if [[ ! -d "$IPC_LAB_DIR" ]]; then
        # The grader's own wording and exit status for a submission it cannot read.
        echo "grader: error: the submission directory $IPC_LAB_DIR does not exist" >&2
        echo "  fix: give the path of your working copy (the directory with Cargo.toml), or run from inside it" >&2
        echo "GRADE: none (the grader could not grade: see the error above)"
        exit 2
    fi
    IPC_LAB_DIR=$(cd "$IPC_LAB_DIR" && pwd)
    # shellcheck disable=SC2034  # read by the scripts that source this file
    IPC_LAB_REST=("$@")
}
