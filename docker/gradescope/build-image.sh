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
#   --local        use the local base from docker/make-base-image.sh for both
#                  (a stand-in for Gradescope's, to try the image)
#   --smoke        after building, grade grader/tests/submissions/original
# A --base or --rust image that is neither here nor pullable is replaced by the
# local base, with a warning: such an image is for trying out, not for
# Gradescope, which needs its own base. The stages are tagged (NAME's repository
# + "-toolchain" and "-build"), so a rebuild reuses them and no untagged image
# is left behind, after a failed build too.
# Push the image to a registry Gradescope can read and give its name in the
# assignment's "Manual Docker configuration".
# Progress goes to stderr; the last stdout line is the image name.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
# shellcheck source=docker/defaults.sh
source "$repo/docker/defaults.sh"

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
        -h | --help) sed -n '2,25p' "$0"; exit 0 ;;
        *) echo "gradescope/build-image: unknown option $1" >&2; exit 2 ;;
    esac
    shift
done
log() { printf 'gradescope/build-image: %s\n' "$*" >&2; }

# The local base (made once, cached by tag), for --local and as the fallback.
local_image=""
local_base_image() {
    [[ -n "$local_image" ]] || local_image=$("$repo/docker/make-base-image.sh" | tail -n 1)
    echo "$local_image"
}
# Prints IMAGE when it is here or can be pulled, else the local base (saying so).
usable() {
    local what=$1 wanted=$2
    if docker image inspect "$wanted" >/dev/null 2>&1 || docker pull -q "$wanted" >/dev/null 2>&1; then
        echo "$wanted"
        return
    fi
    log "$what image $wanted is absent and cannot be pulled: using the local base instead" \
        "(good for trying the image; Gradescope needs its own base, so build where it can be pulled)"
    local_base_image
}

if $local_base; then
    base=$(local_base_image)
    rust=$base
else
    base=$(usable base "$base")
    rust=$(usable Rust "$rust")
fi

"$repo/docker/build-image.sh" --prepare-only >/dev/null
log "building $image from $base (Rust from $rust)"
if [[ "${image##*/}" == *:* ]]; then
    name=${image%:*} tag=${image##*:}
else
    name=$image tag=latest
fi
build_log=$(mktemp "${TMPDIR:-/tmp}/ipc-lab-gradescope.XXXXXX")
trap 'rm -f "$build_log"' EXIT
t=$(ipc_lab_now)
docker_build() {
    # --force-rm: the container of a failed step must not outlive the build.
    if ! docker build --force-rm -f "$here/Dockerfile" --build-arg "BASE_IMAGE=$base" \
        --build-arg "RUST_IMAGE=$rust" --build-arg "LAB_FILE=$lab" "$@" "$repo" \
        >"$build_log" 2>&1; then
        tail -n 40 "$build_log" >&2
        ipc_lab_remove_untagged_images
        log "docker build failed"
        exit 1
    fi
}
# Each stage under a tag of its own: the legacy builder keeps a stage's image
# untagged otherwise, and every rebuild would leave one more behind.
docker_build --target toolchain -t "$name-toolchain:$tag"
docker_build --target build -t "$name-build:$tag"
docker_build -t "$image"
# Images that lost their tag to this build are garbage now; remove only ours.
ipc_lab_remove_untagged_images
size=$(docker image inspect -f '{{.Size}}' "$image")
log "built $image: $((size / 1000000)) MB in $(ipc_lab_since "$t") s"

if $smoke; then
    sample="$repo/grader/tests/submissions/original"
    out=$(mktemp -d "${TMPDIR:-/tmp}/ipc-lab-gradescope-results.XXXXXX")
    chmod 777 "$out"
    smoke_lab=()
    [[ -n "$lab" ]] || smoke_lab=(-e GRADER_LAB=/opt/ipc-lab/labs/ipc/original.toml)
    docker run --rm --network none "${smoke_lab[@]}" \
        -v "$sample:/autograder/submission:ro" -v "$out:/autograder/results" \
        "$image" /autograder/run_autograder >&2
    # The sample is a correct submission: full marks, no check failed (skipped and
    # information-only checks carry no status: Gradescope shows them neutral).
    if ! verdict=$(python3 - "$out/results.json" <<'PY'
import json, sys
try:
    with open(sys.argv[1]) as f:
        r = json.load(f)
except (OSError, ValueError) as e:
    sys.exit(f"no usable results.json: {e}")
tests = r.get("tests") or []
full = sum(t.get("max_score", 0) for t in tests)
bad = [t.get("name", "?") for t in tests if t.get("status", "passed") != "passed"]
if not tests or r.get("score") != full or bad:
    sys.exit(f"score {r.get('score')} of {full}, failed: {', '.join(bad) or 'none'}")
print(f"score {r['score']} of {full}, no test of {len(tests)} failed")
PY
    ); then
        log "smoke test failed (results kept in $out)"
        exit 1
    fi
    rm -rf "$out"
    log "smoke test: $verdict"
fi
echo "$image"
