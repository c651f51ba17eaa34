#!/usr/bin/env bash
# Builds the grader image from this repository in one command.
#
# 1. Prepares docker/context/ (git-ignored) on the host:
#      vendor/     `cargo vendor` of this workspace's Cargo.lock (also the
#                  starter's dependency set), with a CARGO_HOME of its own in
#                  docker/context/cargo-home; redone only when Cargo.lock changes
#      skeleton/   the manifests plus stub sources, so the image can compile the
#                  dependencies in a layer that source edits do not invalidate
#      workspace/  the repository's sources without .git, target/ or docker/context/
# 2. `docker build -f docker/Dockerfile --build-arg BASE_IMAGE=... -t IMAGE .`
#
# Usage: docker/build-image.sh [options]
#   --image NAME     image to tag (default: $IPC_LAB_IMAGE, i.e. ipc-lab/grader:latest)
#   --base IMAGE     base image with cargo/rustc (default: see below)
#   --local-base     use (and if needed make) the local base, docker/make-base-image.sh
#   --prepare-only   only step 1 (for CI: a job that has cargo but no docker)
#   --no-prepare     only step 2, with docker/context as it is (a job with docker, no cargo)
# Default base: rust:1-slim-bookworm when present or pullable, else the local base.
# The build stage is tagged too (NAME's repository + "-build"), so a rebuild
# reuses its compiled dependencies and no untagged image is left behind.
# Progress goes to stderr; the last stdout line is the image name.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=docker/defaults.sh
source "$here/defaults.sh"

official_base=rust:1-slim-bookworm
image=$IPC_LAB_IMAGE
base=""
local_base=false
do_prepare=true
do_build=true
while (($#)); do
    case "$1" in
        --image) image=$2; shift ;;
        --base) base=$2; shift ;;
        --local-base) local_base=true ;;
        --prepare-only) do_build=false ;;
        --no-prepare) do_prepare=false ;;
        -h | --help) sed -n '2,24p' "$0"; exit 0 ;;
        *) echo "build-image: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done

log() { printf 'build-image: %s\n' "$*" >&2; }

context="$repo/docker/context"
t_total=$(ipc_lab_now)

# Copies the repository's sources (what `git ls-files` would roughly give,
# plus files not yet added) into $1, leaving out what the image never needs.
export_sources() {
    tar -C "$repo" -cf - \
        --exclude=./.git --exclude=./target --exclude='./*/target' \
        --exclude=./docker/context --exclude='*.swp' --exclude=__pycache__ . |
        tar -C "$1" -xf -
}

# Writes into $1 every Cargo.toml of the repository and a stub for each file
# cargo treats as a crate root (by convention, or named by a `path = "*.rs"`
# line): lib.rs empty, the others `fn main() {}`. Module files are left out,
# so adding one does not invalidate the image's dependency layer.
make_skeleton() {
    local file dir rel root='(^|/)'
    local conventional="${root}(src/main\.rs|build\.rs|src/bin/[^/]+\.rs|src/bin/[^/]+/main\.rs|(tests|benches|examples)/[^/]+(\.rs|/main\.rs))\$"
    stub() {
        mkdir -p "$1/$(dirname "$2")"
        if [[ "$2" == */lib.rs ]]; then : >"$1/$2"; else echo 'fn main() {}' >"$1/$2"; fi
    }
    cp "$repo/Cargo.lock" "$1/"
    while IFS= read -r -d '' file; do
        if [[ "$file" == */Cargo.toml ]]; then
            mkdir -p "$1/$(dirname "$file")"
            cp "$repo/$file" "$1/$file"
            dir=$(dirname "$file")
            while IFS= read -r rel; do
                [[ -f "$repo/$dir/$rel" ]] && stub "$1" "$dir/$rel"
            done < <(sed -n 's/^[[:space:]]*path[[:space:]]*=[[:space:]]*"\([^"]*\.rs\)".*/\1/p' "$repo/$file")
        elif [[ "$file" == */build.rs ]]; then
            # Only a build script next to its manifest, not a module of that name.
            [[ -f "$repo/$(dirname "$file")/Cargo.toml" ]] && stub "$1" "$file"
        elif [[ "$file" =~ ${root}src/lib\.rs$ || "$file" =~ $conventional ]]; then
            stub "$1" "$file"
        fi
    done < <(cd "$repo" && find . \( -path ./.git -o -path ./docker/context -o -name target \) -prune \
        -o -type f \( -name Cargo.toml -o -name '*.rs' \) -print0)
}

if $do_prepare; then
    mkdir -p "$context"
    vendor="$context/vendor"
    stamp="$context/vendor.Cargo.lock"
    if [[ -d "$vendor" && -f "$stamp" ]] && cmp -s "$repo/Cargo.lock" "$stamp"; then
        log "vendored crates match Cargo.lock (cached)"
    else
        t=$(ipc_lab_now)
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
    t=$(ipc_lab_now)
    for part in skeleton workspace; do
        rm -rf "${context:?}/$part.new"
        mkdir -p "$context/$part.new"
    done
    make_skeleton "$context/skeleton.new"
    export_sources "$context/workspace.new"
    for part in skeleton workspace; do
        rm -rf "${context:?}/$part"
        mv "$context/$part.new" "$context/$part"
    done
    log "exported the sources and their skeleton in $(ipc_lab_since "$t") s"
fi
$do_build || exit 0

for part in vendor skeleton workspace; do
    [[ -d "$context/$part" ]] || { log "$context/$part is missing: run without --no-prepare"; exit 1; }
done

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

if [[ "${image##*/}" == *:* ]]; then
    build_image="${image%:*}-build:${image##*:}"
else
    build_image="$image-build:latest"
fi

build_log=$(mktemp "${TMPDIR:-/tmp}/ipc-lab-build.XXXXXX")
trap 'rm -f "$build_log"' EXIT
docker_build() {
    # --force-rm: the container of a failed step must not outlive the build.
    if ! docker build --force-rm -f "$repo/docker/Dockerfile" --build-arg "BASE_IMAGE=$base" \
        "$@" "$repo" >"$build_log" 2>&1; then
        tail -n 40 "$build_log" >&2
        # Layers of a failed build are untagged; drop ours (and only ours).
        ipc_lab_remove_untagged_images
        log "docker build failed"
        exit 1
    fi
}

t=$(ipc_lab_now)
# The build stage gets its own tag, so its compiled dependencies survive as
# cache instead of as an untagged image. The second build reuses it.
docker_build --target build -t "$build_image"
docker_build -t "$image"
build_seconds=$(ipc_lab_since "$t")

# An image that lost its tag to this build is garbage now; remove only ours.
ipc_lab_remove_untagged_images

size=$(docker image inspect -f '{{.Size}}' "$image")
log "$image: $((size / 1000000)) MB; docker build took $build_seconds s; total $(ipc_lab_since "$t_total") s"
echo "$image"
