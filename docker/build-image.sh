#!/usr/bin/env bash
# Builds the grader image from this repository in one command:
#   1. `cargo vendor` on the host into docker/context/vendor (git-ignored), with
#      a CARGO_HOME of its own in docker/context/cargo-home, so the image can
#      build the grader and students' code offline. The vendored set is this
#      workspace's Cargo.lock, which is also the starter's dependency set.
#   2. `docker build -f docker/Dockerfile` with the chosen base image.
#
# Usage: docker/build-image.sh [options]
#   --image NAME     image to tag (default: $IPC_LAB_IMAGE, i.e. ipc-lab/grader:latest)
#   --base IMAGE     base image with cargo/rustc (default: see below)
#   --local-base     use (and if needed make) the local base, docker/make-base-image.sh
#   --vendor-only    only refresh docker/context/vendor (for CI: a job with cargo, no docker)
#   --skip-vendor    use docker/context/vendor as it is (for CI: a job with docker, no cargo)
# Default base: rust:1-slim-bookworm when present or pullable, else the local base.
# Both stages are tagged (NAME and NAME's repository + "-build"), so rebuilding
# reuses the compiled grader layer and leaves no untagged images behind.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=docker/defaults.sh
source "$here/defaults.sh"

official_base=rust:1-slim-bookworm
image=$IPC_LAB_IMAGE
base=""
local_base=false
do_vendor=true
do_build=true
while (($#)); do
    case "$1" in
        --image) image=$2; shift ;;
        --base) base=$2; shift ;;
        --local-base) local_base=true ;;
        --vendor-only) do_build=false ;;
        --skip-vendor) do_vendor=false ;;
        -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "build-image: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

log() { printf 'build-image: %s\n' "$*" >&2; }

context="$repo/docker/context"
vendor="$context/vendor"
stamp="$context/vendor.Cargo.lock"
t_total=$(ipc_lab_now)

if $do_vendor; then
    # Re-vendor only when Cargo.lock changed since the last run.
    if [[ -d "$vendor" && -f "$stamp" ]] && cmp -s "$repo/Cargo.lock" "$stamp"; then
        log "vendored crates match Cargo.lock (cached)"
    else
        t=$(ipc_lab_now)
        mkdir -p "$context"
        rm -f "$stamp"
        # Our own CARGO_HOME: the developer's ~/.cargo config (mirrors,
        # replacements) must not change what is vendored, and the download
        # cache stays next to the context for the next run.
        CARGO_HOME="$context/cargo-home" cargo vendor --quiet --locked \
            --manifest-path "$repo/Cargo.toml" "$vendor" >/dev/null
        # Student builds run as unprivileged users: everything must be readable.
        chmod -R a+rX "$vendor"
        cp "$repo/Cargo.lock" "$stamp"
        log "vendored $(find "$vendor" -mindepth 1 -maxdepth 1 -type d | wc -l) crates" \
            "($(du -sm "$vendor" | cut -f1) MB) in $(ipc_lab_since "$t") s"
    fi
fi
$do_build || exit 0

[[ -d "$vendor" ]] || { log "$vendor is missing: run without --skip-vendor first"; exit 1; }

if [[ -z "$base" ]]; then
    if $local_base; then
        base=$("$here/make-base-image.sh" | tail -n 1)
    elif docker image inspect "$official_base" >/dev/null 2>&1; then
        base=$official_base
    elif docker pull -q "$official_base" >/dev/null 2>&1; then
        base=$official_base
    else
        log "$official_base is absent and cannot be pulled: using a local base image"
        base=$("$here/make-base-image.sh" | tail -n 1)
    fi
fi
log "base image: $base"

build_image="${image%:*}-build:${image##*:}"
[[ "$image" == *:* ]] || build_image="$image-build:latest"

build_log=$(mktemp "${TMPDIR:-/tmp}/ipc-lab-build.XXXXXX")
trap 'rm -f "$build_log"' EXIT
docker_build() {
    if ! docker build -f "$repo/docker/Dockerfile" --build-arg "BASE_IMAGE=$base" "$@" "$repo" \
        >"$build_log" 2>&1; then
        tail -n 40 "$build_log" >&2
        log "docker build failed"
        exit 1
    fi
}

t=$(ipc_lab_now)
# The build stage gets its own tag, so its compiled grader survives as cache
# instead of as an untagged image. The second build reuses it.
docker_build --target build -t "$build_image"
docker_build -t "$image"
build_seconds=$(ipc_lab_since "$t")

# An image that lost its tag to this build is garbage now; remove only ours.
docker image prune -f --filter label=ipc-lab.image=grader >/dev/null
docker image prune -f --filter label=ipc-lab.image=grader-build >/dev/null

size=$(docker image inspect -f '{{.Size}}' "$image")
log "$image: $((size / 1000000)) MB; docker build took $build_seconds s; total $(ipc_lab_since "$t_total") s"
echo "$image"
