#!/usr/bin/env bash
# The Docker part of this repository's checks (called by .ci/run):
#   1. make the local base image if missing (cached by tag)
#   2. build docker/Dockerfile on it
#   3. grade the reference solution (this repository) with docker/grade.sh,
#      the student one-liner: expect exit 0 and `GRADE: 25/25 (100.00%)`
#   4. grade it again on the warm build cache and time that
#   5. grade a copy with one deliberate mistake: expect the parameters below
#   6. replay the handout's Part 0 shell steps through docker/shell.sh
#   7. run the student GitLab template job with gitlabci-local, and the class
#      template's shard and merge jobs (docker/ci-class-batch.sh); build the
#      Gradescope image and grade the sample submission in it
#   8. check that no container, no process of the lab's users and no scratch
#      directory is left behind
# and prints the figures (image size, build time, warm grading time).
# When no Docker engine answers it says so in one loud line and exits 0.
set -euo pipefail

# ---- parameters -------------------------------------------------------------
# The reference solution must score this, with exit status 0.
REFERENCE_EXPECT_GRADE=${REFERENCE_EXPECT_GRADE:-"GRADE: 25/25 (100.00%)"}
# The deliberate mistake: in BROKEN_FILE, the text BROKEN_FROM becomes BROKEN_TO.
# Default: the listener misspells its SIGUSR1 line.
BROKEN_FILE=${BROKEN_FILE:-listener/src/lib.rs}
BROKEN_FROM=${BROKEN_FROM:-'"SIGUSR1 received!"'}
BROKEN_TO=${BROKEN_TO:-'"SIGUSR1 recieved!"'}
# What grading the broken copy must give: the exit status, and the exact GRADE
# line (empty: any GRADE line below full marks is accepted).
BROKEN_EXPECT_EXIT=${BROKEN_EXPECT_EXIT:-1}
BROKEN_EXPECT_GRADE=${BROKEN_EXPECT_GRADE:-"GRADE: 24/25 (96.00%)"}
# The build-cache volume of these runs. It starts empty and is removed at the
# end, so every run measures a cold grading and no state leaks between runs;
# KEEP_CACHE=1 keeps it (faster reruns, but results then depend on old state).
CACHE_VOLUME=${CACHE_VOLUME:-ipc-lab-ci-cache}
KEEP_CACHE=${KEEP_CACHE:-0}
# Warm grading runs to time.
WARM_RUNS=${WARM_RUNS:-5}
# Also run the student GitLab template job locally with gitlabci-local (1) or not (0).
GITLAB_TEMPLATE_RUN=${GITLAB_TEMPLATE_RUN:-1}
GCIL_VERSION=${GCIL_VERSION:-13.2.0}
# Also build the Gradescope image and grade the sample in it (1) or not (0).
GRADESCOPE_IMAGE_RUN=${GRADESCOPE_IMAGE_RUN:-1}
GRADESCOPE_IMAGE=${GRADESCOPE_IMAGE:-ipc-lab/gradescope-ci:latest}
# Uids of garfield and labowner in the image (docker/Dockerfile).
LAB_UIDS=${LAB_UIDS:-20001,20002}
# -----------------------------------------------------------------------------

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=docker/defaults.sh
source "$here/defaults.sh"

if ! docker info >/dev/null 2>&1; then
    echo "!!!!! ci-docker: NO DOCKER ENGINE ANSWERS: the grader image was NOT built or tested !!!!!"
    exit 0
fi

say() { printf 'ci-docker: %s\n' "$*"; }
failures=()
fail() { failures+=("$*"); say "FAIL: $*"; }
figures=()
figure() { figures+=("$*"); say "$*"; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ipc-lab-ci-docker.XXXXXX")
name_prefix="ipc-lab-ci-$$"
cleanup() {
    local id
    for id in $(docker ps -aq --filter "name=^$name_prefix"); do
        docker rm -f "$id" >/dev/null 2>&1 || true
    done
    [[ "$KEEP_CACHE" == 1 ]] || docker volume rm -f "$CACHE_VOLUME" >/dev/null 2>&1 || true
    docker volume rm -f "$name_prefix-seed-cache" >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap cleanup EXIT
[[ "$KEEP_CACHE" == 1 ]] || docker volume rm -f "$CACHE_VOLUME" >/dev/null 2>&1 || true
# Temporary files of the docker/*.sh scripts (the grader's own scratch trees
# are on the container's tmpfs and never reach this machine's TMPDIR).
own_tmp() {
    find "${TMPDIR:-/tmp}" -maxdepth 1 \( -name 'ipc-lab-rootfs.*' -o -name 'ipc-lab-build.*' \
        -o -name 'ipc-lab-ci-docker.*' -o -name 'ipc-lab-ciyaml.*' -o -name 'ipc-lab-gradescope*' \) ! -path "$scratch" | sort
}
tmp_before=$(own_tmp)

# 1. Base image.
t=$(ipc_lab_now)
base=$("$here/make-base-image.sh" | tail -n 1)
figure "base image $base ready in $(ipc_lab_since "$t") s"

# 2. Grader image.
t=$(ipc_lab_now)
"$here/build-image.sh" --base "$base" --image "$IPC_LAB_IMAGE" >/dev/null
figure "grader image build (context + docker build): $(ipc_lab_since "$t") s"
size=$(docker image inspect -f '{{.Size}}' "$IPC_LAB_IMAGE")
figure "grader image $IPC_LAB_IMAGE: $((size / 1000000)) MB"

# Runs docker/grade.sh on $2 into $scratch/$1.out; sets $status and $last.
grade() {
    local label=$1 dir=$2
    status=0
    IPC_LAB_CACHE_VOLUME="$CACHE_VOLUME" IPC_LAB_CONTAINER_NAME="$name_prefix-$label" \
        "$here/grade.sh" "$dir" >"$scratch/$label.out" 2>"$scratch/$label.err" || status=$?
    last=$(tail -n 1 "$scratch/$label.out")
}
show_failure() {
    sed 's/^/    | /' "$scratch/$1.err" "$scratch/$1.out" | tail -n 40
}

# 3. Reference solution, cold.
t=$(ipc_lab_now)
grade reference "$repo"
figure "reference grading, cold cache: $(ipc_lab_since "$t") s, exit $status, $last"
stale_hint="if the report shows the broken copy's output ($BROKEN_TO), the build cache served a stale build"
if [[ $status -ne 0 || "$last" != "$REFERENCE_EXPECT_GRADE" ]]; then
    fail "reference: expected exit 0 and '$REFERENCE_EXPECT_GRADE', got exit $status and '$last' ($stale_hint)"
    show_failure reference
fi

# 4. Reference again, on the warm cache: the figure students feel on a regrade.
# hyperfine from Debian's packages when this script may install it.
install_hyperfine() {
    command -v apt-get >/dev/null && ((EUID == 0)) || return 1
    say "installing hyperfine (Debian package) for the timing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq hyperfine >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq hyperfine >/dev/null 2>&1; }
}
if command -v hyperfine >/dev/null || install_hyperfine; then
    IPC_LAB_CACHE_VOLUME="$CACHE_VOLUME" IPC_LAB_CONTAINER_NAME="$name_prefix-hyperfine" \
        hyperfine --style basic --ignore-failure \
        --runs "$WARM_RUNS" --export-json "$scratch/warm.json" \
        "$(printf '%q ' "$here/grade.sh" "$repo") >/dev/null 2>&1" >"$scratch/warm.txt" 2>&1 || true
    warm=$(python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
print("mean %.2f s, min %.2f s, max %.2f s (hyperfine, %d runs)" % (r["mean"], r["min"], r["max"], len(r["times"])))' \
        "$scratch/warm.json" 2>/dev/null || echo "hyperfine gave no figures: $(tail -n 3 "$scratch/warm.txt")")
else
    total=0
    for ((i = 0; i < WARM_RUNS; i++)); do
        t=$(ipc_lab_now)
        grade warm "$repo"
        total=$(awk -v a="$total" -v b="$(ipc_lab_since "$t")" 'BEGIN { print a + b }')
    done
    warm=$(awk -v a="$total" -v n="$WARM_RUNS" 'BEGIN { printf "mean %.2f s (date, %d runs)", a / n, n }')
fi
figure "reference grading on a warm cache, container start included: $warm (target: under 2 s)"
grade warm "$repo"
if [[ $status -ne 0 || "$last" != "$REFERENCE_EXPECT_GRADE" ]]; then
    fail "reference on a warm cache: expected exit 0 and '$REFERENCE_EXPECT_GRADE', got exit $status and '$last'"
    show_failure warm
fi

# 5. A copy with one deliberate mistake.
broken="$scratch/broken"
mkdir -p "$broken"
tar -C "$repo" -cf - --exclude=./target --exclude='./*/target' --exclude=./docker/context . | tar -C "$broken" -xf -
if ! grep -qF -- "$BROKEN_FROM" "$broken/$BROKEN_FILE"; then
    fail "broken copy: '$BROKEN_FROM' is not in $BROKEN_FILE any more; update BROKEN_* in docker/ci-docker.sh"
else
    BROKEN_FROM="$BROKEN_FROM" BROKEN_TO="$BROKEN_TO" perl -0pi -e \
        's/\Q$ENV{BROKEN_FROM}\E/$ENV{BROKEN_TO}/' "$broken/$BROKEN_FILE"
    t=$(ipc_lab_now)
    grade broken "$broken"
    figure "broken copy ($BROKEN_FILE: $BROKEN_FROM -> $BROKEN_TO): $(ipc_lab_since "$t") s, exit $status, $last"
    if [[ $status -ne $BROKEN_EXPECT_EXIT ]]; then
        fail "broken copy: expected exit $BROKEN_EXPECT_EXIT, got $status"
        show_failure broken
    elif [[ -n "$BROKEN_EXPECT_GRADE" && "$last" != "$BROKEN_EXPECT_GRADE" ]]; then
        fail "broken copy: expected '$BROKEN_EXPECT_GRADE', got '$last'"
    elif [[ -z "$BROKEN_EXPECT_GRADE" && ("$last" != GRADE:* || "$last" == "$REFERENCE_EXPECT_GRADE") ]]; then
        fail "broken copy: expected a GRADE line below full marks, got '$last'"
    fi
    # Every submission is /submission in the container, so both share one
    # cache entry. Grading the reference again must rebuild it, not reuse the
    # broken build (whose outputs are newer than the reference's sources).
    grade after-broken "$repo"
    figure "reference again after the broken copy, same cache: exit $status, $last"
    if [[ $status -ne 0 || "$last" != "$REFERENCE_EXPECT_GRADE" ]]; then
        fail "reference after the broken copy: got exit $status and '$last': $stale_hint"
        grep -e "$BROKEN_TO" "$scratch/after-broken.out" | sed 's/^/    | /' || true
    fi
fi

# 5b. Every scenario lab the image carries: its reference solution gets full marks in the image.
for lab in shm monitor deputy proxy; do
    t0=$(ipc_lab_now)
    set +e
    # No cache volume: the check of the volume below expects only the ipc lab's builds in it.
    out=$(IPC_LAB_CACHE_VOLUME= bash "$here/grade.sh" "$repo/labs/$lab/reference" -- \
        grade --lab "$lab" /submission 2>"$scratch/$lab.err")
    code=$?
    set -e
    last=$(printf '%s\n' "$out" | tail -n 1)
    figure "lab $lab: reference in the image: $(ipc_lab_since "$t0") s, exit $code, $last"
    if [[ $code -ne 0 || "$last" != "GRADE: 30/30 (100.00%)" ]]; then
        fail "lab $lab: the reference did not get full marks in the image: exit $code, $last"
        printf '%s\n' "$out" | tail -n 40 >&2
        tail -n 20 "$scratch/$lab.err" >&2
    fi
done

# 5b'. The build seed in the image (labs/shm/lab.toml: seed = "reference", found through
#      GRADER_LAB_ROOT): a student's edited copy graded with a cache volume of its own builds the
#      lab's reference crates first, once; the next edit then compiles only the student's crate.
seed_volume="$name_prefix-seed-cache"
docker volume rm -f "$seed_volume" >/dev/null 2>&1 || true
seed_ok=true
seed_times=()
for n in 1 2; do
    copy="$scratch/seed-edit-$n"
    cp -r "$repo/labs/shm/reference" "$copy"
    printf '\n// edit %s\n' "$n" >>"$copy/src/bin/server.rs"
    t0=$(ipc_lab_now)
    set +e
    out=$(IPC_LAB_CACHE_VOLUME=$seed_volume bash "$here/grade.sh" "$copy" -- \
        grade --lab shm /submission 2>"$scratch/seed-$n.err")
    code=$?
    set -e
    seed_times+=("$(ipc_lab_since "$t0")")
    last=$(printf '%s\n' "$out" | tail -n 1)
    if [[ $code -ne 0 || "$last" != "GRADE: 30/30 (100.00%)" ]]; then
        seed_ok=false
        fail "build seed: edit $n of the shm reference: exit $code, $last"
        tail -n 20 "$scratch/seed-$n.err" >&2
    fi
done
grep -q "built the lab's reference crates once" "$scratch/seed-1.err" ||
    { seed_ok=false; fail "build seed: the first edit did not build the lab's reference crates first"; }
if grep -q "built the lab's reference crates once" "$scratch/seed-2.err"; then
    seed_ok=false
    fail "build seed: the second edit built the reference crates again"
fi
docker volume rm -f "$seed_volume" >/dev/null 2>&1 || true
$seed_ok && figure "build seed in the image (lab shm, own cache volume): first edit ${seed_times[0]} s" \
    "(reference crates built first), second edit ${seed_times[1]} s, both 30/30"

# 5c. The student template against GitLab's schema, and its coverage regex on
#     the grader's GRADE lines (docker/validate-ci-yaml.sh).
if bash "$here/validate-ci-yaml.sh" >"$scratch/ciyaml.out" 2>&1; then
    figure "student CI template: valid against GitLab's schema, coverage regex reads every GRADE line"
else
    fail "student CI template: docker/validate-ci-yaml.sh failed"
    sed 's/^/    | /' "$scratch/ciyaml.out" | tail -n 30
fi

# 5d. The handout's Part 0 shell: its 0.5 steps replayed through docker/shell.sh
#     on a copy of the starter (writable working copy, the image's toolchain, the
#     container's name).
t0=$(ipc_lab_now)
part0="$scratch/part0"
cp -r "$repo/labs/ipc/starter" "$part0"
if python3 "$here/part0-replay.py" "$repo/labs/ipc/handout/0-setup.md" "$part0" \
    "$name_prefix-part0" >"$scratch/part0.out" 2>&1; then
    figure "Part 0 through docker/shell.sh: $(ipc_lab_since "$t0") s, every step as the handout shows"
else
    fail "Part 0 through docker/shell.sh: a step did not do what the handout shows"
    sed 's/^/    | /' "$scratch/part0.out" | tail -n 40
fi
# What the container built belongs to root: the scratch removal at exit copes.

# 6. The student CI template, run as GitLab would run it, with gitlabci-local
#    (PyPI): a copy of this repository whose .gitlab-ci.yml only includes
#    labs/ipc/ci/grade.gitlab-ci.yml. Its container gets Docker's default
#    capabilities, like a GitLab Docker executor, and the cache volume.
if [[ "$GITLAB_TEMPLATE_RUN" == 1 ]]; then
    gcil_venv="${XDG_CACHE_HOME:-$HOME/.cache}/ipc-lab/gitlabci-local-$GCIL_VERSION"
    if [[ ! -x "$gcil_venv/bin/gcil" ]]; then
        say "installing gitlabci-local $GCIL_VERSION into $gcil_venv"
        rm -rf "$gcil_venv"
        python3 -m venv "$gcil_venv"
        "$gcil_venv/bin/pip" install --quiet --disable-pip-version-check "gitlabci-local==$GCIL_VERSION"
    fi
    # A fixed directory name: the job sees /builds/<name>, so the build cache
    # of this path stays warm from one run to the next.
    student="$scratch/ipc-lab-ci-student"
    mkdir -p "$student"
    tar -C "$repo" -cf - --exclude=./target --exclude='./*/target' --exclude=./docker/context . |
        tar -C "$student" -xf -
    printf '%s\n' 'include:' '  - local: labs/ipc/ci/grade.gitlab-ci.yml' 'variables:' \
        "  IPC_LAB_GRADER_IMAGE: \"$IPC_LAB_IMAGE\"" >"$student/.gitlab-ci.yml"
    # gitlabci-local takes `-v NAME:PATH` as a path relative to the project,
    # which would put the cache inside the submission: use a host directory
    # (fresh, like the volume).
    template_cache="$scratch/template-job-cache"
    mkdir -p "$template_cache"
    containers_before=$(docker ps -aq | sort)
    t=$(ipc_lab_now)
    status=0
    (cd "$student" && "$gcil_venv/bin/gcil" --no-color --privileged false -n none \
        -v "$template_cache:$IPC_LAB_CACHE_MOUNT" -e "GRADER_CACHE_DIR=$IPC_LAB_CACHE_MOUNT" \
        -- ipc-lab-grade) >"$scratch/template.out" 2>&1 || status=$?
    last=$(grep -E '^GRADE: ' "$scratch/template.out" | tail -n 1 || true)
    figure "GitLab template job (gitlabci-local): $(ipc_lab_since "$t") s, exit $status, $last"
    if [[ $status -ne 0 || "$last" != "$REFERENCE_EXPECT_GRADE" ]]; then
        fail "template job: expected exit 0 and a last GRADE line '$REFERENCE_EXPECT_GRADE'"
        sed 's/^/    | /' "$scratch/template.out" | tail -n 40
    fi
    for artifact in grade.json junit.xml; do
        [[ -s "$student/$artifact" ]] || fail "template job: $artifact was not written"
    done
    left=$(comm -13 <(echo "$containers_before") <(docker ps -aq | sort))
    [[ -z "$left" ]] || fail "template job: gitlabci-local left containers: $left"
fi

# 6b. The class template, labs/ci/class-batch.gitlab-ci.yml, with gitlabci-local:
#     a small class (copies of the C/Python test submission, two broken) graded
#     by its shard jobs and merged must give the gradebook of one unsharded
#     batch in the image (docker/ci-class-batch.sh).
if [[ "$GITLAB_TEMPLATE_RUN" == 1 ]]; then
    t=$(ipc_lab_now)
    if GCIL_VERSION="$GCIL_VERSION" bash "$here/ci-class-batch.sh" >"$scratch/class-batch.out" 2>&1; then
        jobs_line=$(grep -m 1 -o 'the [0-9]* shard jobs and the merge: .*' "$scratch/class-batch.out" || true)
        figure "class template (gitlabci-local): merged shards = one batch's gradebook;" \
            "${jobs_line:-shard and merge jobs}, $(ipc_lab_since "$t") s in all"
    else
        fail "class template: docker/ci-class-batch.sh failed"
        sed 's/^/    | /' "$scratch/class-batch.out" | tail -n 40
    fi
fi

# 6c. The Gradescope autograder image (docker/gradescope/build-image.sh): built
#     with no registry (the Gradescope and Rust images fall back to the local
#     base), then the sample C/Python submission graded the way Gradescope runs
#     it must give full marks; no untagged image of ours may be left behind.
if [[ "$GRADESCOPE_IMAGE_RUN" == 1 ]]; then
    t=$(ipc_lab_now)
    if bash "$here/gradescope/build-image.sh" --image "$GRADESCOPE_IMAGE" --smoke \
        >"$scratch/gradescope.out" 2>&1; then
        smoke=$(grep -m 1 -o 'smoke test: .*' "$scratch/gradescope.out" || true)
        built=$(grep -m 1 -o 'built [^ ]*: [0-9]* MB' "$scratch/gradescope.out" || true)
        figure "Gradescope image: ${built:-built}, $smoke, $(ipc_lab_since "$t") s in all"
    else
        fail "Gradescope image: docker/gradescope/build-image.sh --smoke failed"
        sed 's/^/    | /' "$scratch/gradescope.out" | tail -n 40
    fi
    grep -q 'absent and cannot be pulled: using the local base' "$scratch/gradescope.out" ||
        docker image inspect gradescope/autograder-base:latest >/dev/null 2>&1 ||
        fail "Gradescope image: no registry, yet the build did not say it fell back to the local base"
    dangling=$(docker image ls -q -f dangling=true -f label=ipc-lab.image)
    [[ -z "$dangling" ]] || fail "untagged images of ours left behind: $dangling"
fi

# 7. Nothing left behind. A container that is gone takes its processes and
#    its tmpfs with it, so leftovers must be looked for inside one: grade the
#    reference in the same hardened container, then list what still runs and
#    what is left in /tmp and in the cache volume once the grader has exited.
#    (Processes of uids 20001/20002 on this machine are not a test: another
#    grading by someone else may be running at the same time.)
left=$(docker ps -aq --filter "name=^$name_prefix")
[[ -z "$left" ]] || fail "containers left behind: $left"
mapfile -t hardening < <(ipc_lab_hardening_flags)
IPC_LAB_CACHE_VOLUME=$CACHE_VOLUME
mapfile -t cache < <(ipc_lab_cache_flags)
docker run --rm --name "$name_prefix-leftovers" "${hardening[@]}" "${cache[@]}" \
    -v "$repo:/submission:ro" --entrypoint bash "$IPC_LAB_IMAGE" -c '
        grader grade /submission >/dev/null 2>&1; echo "grader exit $?"
        echo "processes:"; ps -e -o user=,pid=,args= | grep -v -e " ps -e" -e "bash -c" -e docker-init
        echo "tmp:"; ls -A /tmp
        echo "cache:"; ls -A "$GRADER_CACHE_DIR"' >"$scratch/leftovers.out" 2>&1 || true
say "inside the container after a grading: $(tr '\n' ' ' <"$scratch/leftovers.out")"
if ! grep -q '^grader exit [01]$' "$scratch/leftovers.out"; then
    fail "leftover check: the grading itself did not run (see above)"
fi
section() { sed -n "/^$1:\$/,/^[a-z]*:\$/p" "$scratch/leftovers.out" | sed '1d;/^[a-z]*:$/d'; }
left=$(section processes)
[[ -z "$left" ]] || fail "processes left running after the grader exited: $left"
# The grader's lock file (it serialises the set-up of the lab's users) may stay.
left=$(section tmp | grep -vx 'ipc-lab-grader.lock' || true)
[[ -z "$left" ]] || fail "scratch left in /tmp after the grader exited: $left"
left=$(section cache | grep -v '^ipc-' || true)
[[ -z "$left" ]] || fail "unexpected entries in the cache volume: $left"
tmp_after=$(own_tmp)
[[ "$tmp_before" == "$tmp_after" ]] ||
    fail "temporary files left in ${TMPDIR:-/tmp}: $(comm -13 <(echo "$tmp_before") <(echo "$tmp_after"))"

echo
say "figures:"
printf '  %s\n' "${figures[@]}"
if ((${#failures[@]})); then
    say "${#failures[@]} check(s) FAILED:"
    printf '  %s\n' "${failures[@]}"
    exit 1
fi
say "all docker checks passed"
