#!/usr/bin/env bash
# Finds out which capabilities the grader really needs: grades a submission
# once with every candidate capability, then once without each of them, and
# prints whether the score and exit status stayed the same.
#
# Usage: docker/probe-capabilities.sh [DIR]   (default: this repository)
# Candidates: IPC_LAB_PROBE_CAPS (default: SETUID SETGID CHOWN KILL DAC_OVERRIDE FOWNER).
# IPC_LAB_PROBE_DROP limits which of them are left out in turn (default: each).
# A run that takes longer than IPC_LAB_PROBE_DEADLINE seconds (300) is stopped
# and reported as HUNG.
# Each run uses a fresh cache volume of its own, so the build is exercised too,
# then a second run on that volume exercises the cached path; the volumes are
# removed at the end. Keep in docker/defaults.sh (IPC_LAB_CAPS) exactly the
# capabilities whose removal changes the result. Takes a few minutes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$(cd "${1:-$here/..}" && pwd)
read -r -a candidates <<<"${IPC_LAB_PROBE_CAPS:-SETUID SETGID CHOWN KILL DAC_OVERRIDE FOWNER}"
read -r -a drops <<<"${IPC_LAB_PROBE_DROP:-${candidates[*]}}"
deadline=${IPC_LAB_PROBE_DEADLINE:-300}

volumes=()
cleanup() {
    local v
    # Each run's container is named after its volume.
    for v in "${volumes[@]}"; do
        docker rm -f "$v" >/dev/null 2>&1 || true
        docker volume rm -f "$v" >/dev/null 2>&1 || true
    done
}
trap cleanup EXIT

# Grades $dir with the capabilities $2... on the fresh cache volume $1, twice,
# and prints "<exit status>, <GRADE line>" of each run, separated by " | ".
grade_with() {
    local volume=$1 out rc line result=""
    shift
    for pass in cold warm; do
        # A grader that cannot do its job may also hang (seen without KILL):
        # stop the container after a deadline instead of waiting forever.
        out=$(IPC_LAB_CAPS_OVERRIDE="$*" IPC_LAB_CACHE_VOLUME="$volume" IPC_LAB_CONTAINER_NAME="$volume" \
            timeout -k 5 "$deadline" "$here/grade.sh" "$dir" 2>&1) && rc=0 || rc=$?
        if ((rc == 124 || rc == 137)); then
            docker kill "$volume" >/dev/null 2>&1 || true
            docker rm -f "$volume" >/dev/null 2>&1 || true
            result+="${result:+ | }$pass: HUNG (stopped after ${deadline}s)"
            continue
        fi
        line=$(printf '%s\n' "$out" | tail -n 1)
        [[ "$line" == GRADE:* ]] || line="no GRADE line; $(printf '%s\n' "$out" | grep -m1 -i error || true)"
        result+="${result:+ | }$pass: exit $rc, $line"
    done
    docker volume rm -f "$volume" >/dev/null
    printf '%s\n' "$result"
}

echo "probing ${candidates[*]} on $dir"
next_volume() { volume="ipc-lab-probe-$$-${#volumes[@]}"; volumes+=("$volume"); }
next_volume
baseline=$(grade_with "$volume" "${candidates[@]}")
echo "all candidates:        $baseline"
for drop in "${drops[@]}"; do
    keep=()
    for cap in "${candidates[@]}"; do [[ "$cap" == "$drop" ]] || keep+=("$cap"); done
    next_volume
    result=$(grade_with "$volume" "${keep[@]}")
    if [[ "$result" == "$baseline" ]]; then verdict="not needed"; else verdict="NEEDED"; fi
    printf 'without %-13s %s  -> %s\n' "$drop:" "$result" "$verdict"
done
