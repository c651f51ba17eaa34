#!/usr/bin/env bash
# Builds the Gradescope autograder image (docker/gradescope/Dockerfile) and,
# with --smoke, grades the repository's sample C/Python submission in it the
# way Gradescope would: submission mounted at /autograder/submission, then
# /autograder/run_autograder, then results.json checked to parse.
#
# Usage: docker/gradescope/build-image.sh [options]
#   --image NAME   tag to build              [ipc-lab/gradescope:latest]
#   --base IMAGE   Gradescope base image     [gradescope/autograder-base:latest]
#   --rust IMAGE   image to take Rust from   [rust:1-slim-bookworm]
#   --lab FILE     lab file, relative to the repository (e.g.
#                  labs/ipc/original.toml)   [the lab built into the grader]
#   --local        no registry: use the local base from docker/make-base-image.sh
#                  for both (a stand-in for Gradescope's, to try the image)
#   --smoke        after building, grade grader/tests/submissions/original
# Push the image to a registry Gradescope can read and give its name in the
# assignment's "Manual Docker configuration".
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

image=ipc-lab/gradescope:latest
base=gradescope/autograder-base:latest
rust=rust:1-slim-bookworm
lab=""
local_base=false
smoke=false
while (($#)); do
    case "$1" in
        --image) image=$2; shift ;;
        --base) base=$2; shift ;;
        --rust) rust=$2; shift ;;
        --lab) lab=$2; shift ;;
        --local) local_base=true ;;
        --smoke) smoke=true ;;
        -h | --help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "gradescope/build-image: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
log() { printf 'gradescope/build-image: %s\n' "$*" >&2; }

if $local_base; then
    base=$("$repo/docker/make-base-image.sh" | tail -n 1)
    rust=$base
fi

"$repo/docker/build-image.sh" --prepare-only >/dev/null
log "building $image from $base (Rust from $rust)"
build_log=$(mktemp "${TMPDIR:-/tmp}/ipc-lab-gradescope.XXXXXX")
trap 'rm -f "$build_log"' EXIT
if ! docker build --force-rm -f "$here/Dockerfile" --build-arg "BASE_IMAGE=$base" \
    --build-arg "RUST_IMAGE=$rust" --build-arg "LAB_FILE=$lab" -t "$image" "$repo" \
    >"$build_log" 2>&1; then
    tail -n 40 "$build_log" >&2
    log "docker build failed"
    exit 1
fi
log "built $image"

if $smoke; then
    sample="$repo/grader/tests/submissions/original"
    out=$(mktemp -d "${TMPDIR:-/tmp}/ipc-lab-gradescope-results.XXXXXX")
    chmod 777 "$out"
    smoke_lab=()
    [[ -n "$lab" ]] || smoke_lab=(-e GRADER_LAB=/opt/ipc-lab/labs/ipc/original.toml)
    docker run --rm --network none "${smoke_lab[@]}" \
        -v "$sample:/autograder/submission:ro" -v "$out:/autograder/results" \
        "$image" /autograder/run_autograder >&2
    if ! grep -q '"score"' "$out/results.json"; then
        log "smoke test: no usable results.json in $out"
        exit 1
    fi
    log "smoke test: $out/results.json: $(grep -m1 '"score"' "$out/results.json" | tr -d ' ,')"
fi
echo "$image"
