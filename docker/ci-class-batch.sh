#!/usr/bin/env bash
# The class template, labs/ci/class-batch.gitlab-ci.yml, run the way GitLab
# would run it, with gitlabci-local (PyPI), against the grader image; called by
# docker/ci-docker.sh, and runnable on its own once the image is built:
#   1. a small class in a temporary directory: CLASS_SIZE copies of
#      grader/tests/submissions/original (the C/Python edition, lab `original`),
#      the copies numbered in CLASS_BROKEN with one deliberate mistake, a roster
#   2. a throwaway project whose .gitlab-ci.yml includes a copy of the template
#      (a local include, the variables a course sets, `parallel:` overridden)
#   3. each shard job `ipc-lab-class-shard K/N` (gitlabci-local does not set
#      CI_NODE_INDEX and CI_NODE_TOTAL: they are passed with -e), then the
#      merge job `ipc-lab-class-merge`, on the shards the jobs left in the project
#   4. one unsharded `grader batch` of the same class in the same image, in a
#      container confined like a student's (docker/defaults.sh)
#   5. the merged gradebook must equal that one byte for byte apart from the
#      `seconds` column, with full marks for the intact copies and less for the
#      broken ones
# Prints the figures (times); exits 1 with the reasons on any mismatch, 0 when
# everything matched. Removes every container, volume and temporary directory
# it made, also when interrupted.
set -euo pipefail

# ---- parameters -------------------------------------------------------------
# The class: CLASS_SIZE copies of CLASS_SOURCE graded with lab CLASS_LAB; the
# copies numbered (from 1) in CLASS_BROKEN get the mistake below.
CLASS_SIZE=${CLASS_SIZE:-6}
CLASS_BROKEN=${CLASS_BROKEN:-"2 5"}
CLASS_LAB=${CLASS_LAB:-original}
CLASS_SHARDS=${CLASS_SHARDS:-2}
# The deliberate mistake: in BROKEN_FILE, the text BROKEN_FROM becomes BROKEN_TO.
BROKEN_FILE=${BROKEN_FILE:-listener.c}
BROKEN_FROM=${BROKEN_FROM:-'SIGUSR1 received!'}
BROKEN_TO=${BROKEN_TO:-'SIGUSR1 recieved!'}
GCIL_VERSION=${GCIL_VERSION:-13.2.0}
# Developers: a grader binary of this machine (built for the image's Debian)
# mounted read-only over the image's /usr/local/bin/grader in every container
# of this check, to try a grader change without rebuilding the image. Empty:
# the image's own grader, as in CI.
IPC_LAB_GRADER_BIN=${IPC_LAB_GRADER_BIN:-}
# -----------------------------------------------------------------------------

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
# shellcheck source=docker/defaults.sh
source "$here/defaults.sh"

say() { printf 'ci-class-batch: %s\n' "$*"; }
die() { say "FAIL: $*"; exit 1; }
failures=()
fail() { failures+=("$*"); say "FAIL: $*"; }
figures=()
figure() { figures+=("$*"); say "$*"; }

template="$repo/labs/ci/class-batch.gitlab-ci.yml"
source_dir="$repo/grader/tests/submissions/original"
[[ -f "$template" ]] || die "no template at $template"
[[ -f "$source_dir/$BROKEN_FILE" ]] || die "no $BROKEN_FILE in $source_dir"
grep -qF -- "$BROKEN_FROM" "$source_dir/$BROKEN_FILE" ||
    die "'$BROKEN_FROM' is not in $source_dir/$BROKEN_FILE any more; update BROKEN_* in docker/ci-class-batch.sh"
((CLASS_SHARDS >= 2 && CLASS_SIZE >= CLASS_SHARDS)) ||
    die "CLASS_SHARDS must be at least 2 and at most CLASS_SIZE ($CLASS_SIZE), not $CLASS_SHARDS"
docker image inspect "$IPC_LAB_IMAGE" >/dev/null 2>&1 ||
    die "no image $IPC_LAB_IMAGE: build it first (docker/build-image.sh)"
grader_mount=()
if [[ -n "$IPC_LAB_GRADER_BIN" ]]; then
    [[ -x "$IPC_LAB_GRADER_BIN" ]] || die "IPC_LAB_GRADER_BIN=$IPC_LAB_GRADER_BIN is not an executable"
    IPC_LAB_GRADER_BIN=$(cd "$(dirname "$IPC_LAB_GRADER_BIN")" && pwd)/$(basename "$IPC_LAB_GRADER_BIN")
    grader_mount=(-v "$IPC_LAB_GRADER_BIN:/usr/local/bin/grader:ro")
    say "the grader is $IPC_LAB_GRADER_BIN, mounted over the image's (IPC_LAB_GRADER_BIN)"
fi

t_total=$(ipc_lab_now)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ipc-lab-ci-class.XXXXXX")
name_prefix="ipc-lab-ci-class-$$"
containers_before=$(docker ps -aq --no-trunc | sort)
# The containers this script made: its own by name, and those gitlabci-local
# started (unnamed) that mount the temporary directory. Others' are never touched.
own_containers() {
    local id
    docker ps -aq --no-trunc --filter "name=^$name_prefix" | sort -u
    for id in $(comm -13 <(echo "$containers_before") <(docker ps -aq --no-trunc | sort)); do
        docker inspect -f '{{range .Mounts}}{{.Source}}{{"\n"}}{{end}}' "$id" 2>/dev/null |
            grep -qF -- "$tmp" && echo "$id"
    done
    return 0
}
cleanup() {
    local id
    # -v: with a container go the anonymous volumes it had (the image declares
    # none; this script makes no named ones).
    for id in $(own_containers); do docker rm -f -v "$id" >/dev/null 2>&1 || true; done
    # What the containers wrote belongs to their root; a non-root caller
    # cannot remove it, so a container of the image removes it then.
    if ! rm -rf "$tmp" 2>/dev/null; then
        docker run --rm --network none -v "$tmp:/scratch" --entrypoint sh "$IPC_LAB_IMAGE" \
            -c 'rm -rf /scratch/* /scratch/.[!.]*' >/dev/null 2>&1 || true
        rm -rf "$tmp" || true
    fi
}
trap cleanup EXIT
# Ctrl-C or a stop: end here (the cleanup runs), not with the next step.
trap 'exit 130' INT
trap 'exit 143' TERM

# 0. The image's grader must have what the template runs.
docker run --rm --name "$name_prefix-probe" --network none "${grader_mount[@]}" \
    --entrypoint sh "$IPC_LAB_IMAGE" -c \
    'grader batch --help | grep -q -e "--shard" && grader gradebook merge --help >/dev/null' \
    >/dev/null 2>&1 ||
    die "the grader in $IPC_LAB_IMAGE has no \`batch --shard\` or no \`gradebook merge\`" \
        "(an image older than these sources?): rebuild it with docker/build-image.sh," \
        "or set IPC_LAB_GRADER_BIN to a grader built from these sources"

# 1. The class. Each copy gets a file of its own: the build cache is keyed by a
#    submission's content, and identical copies graded at the same time would
#    share one cache entry (a real class has no two identical repositories).
project_name=ipc-lab-ci-class
project="$tmp/$project_name"
mkdir -p "$project/submissions" "$project/labs/ci"
roster="$project/roster.csv"
echo '# student_id,directory' >"$roster"
ids=()
broken_ids=()
for ((i = 1; i <= CLASS_SIZE; i++)); do
    id=$(printf 'student-%02d' "$i")
    ids+=("$id")
    cp -r "$source_dir" "$project/submissions/$id"
    printf '%s\n' "$id" >"$project/submissions/$id/AUTHORS"
    if [[ " $CLASS_BROKEN " == *" $i "* ]]; then
        BROKEN_FROM="$BROKEN_FROM" BROKEN_TO="$BROKEN_TO" perl -0pi -e \
            's/\Q$ENV{BROKEN_FROM}\E/$ENV{BROKEN_TO}/' "$project/submissions/$id/$BROKEN_FILE"
        broken_ids+=("$id")
    fi
    echo "$id,submissions/$id" >>"$roster"
done
# shellcheck disable=SC2206  # the numbers are words
broken_list=($CLASS_BROKEN)
((${#broken_ids[@]} == ${#broken_list[@]})) ||
    die "CLASS_BROKEN=\"$CLASS_BROKEN\" names copies outside 1..$CLASS_SIZE"

# 2. The project: the template at the path a course's include would give it,
#    included locally, with the course's variables and its own `parallel:`.
cp "$template" "$project/labs/ci/class-batch.gitlab-ci.yml"
cat >"$project/.gitlab-ci.yml" <<EOF
include:
  - local: labs/ci/class-batch.gitlab-ci.yml
variables:
  IPC_LAB_GRADER_IMAGE: "$IPC_LAB_IMAGE"
  IPC_LAB_LAB: "$CLASS_LAB"
  IPC_LAB_ROSTER: "roster.csv"
ipc-lab-class-shard:
  parallel: $CLASS_SHARDS
EOF

# 3. The jobs, with gitlabci-local. Like a GitLab Docker executor the job
#    containers get Docker's default capabilities (not privileged); no network.
gcil_venv="${XDG_CACHE_HOME:-$HOME/.cache}/ipc-lab/gitlabci-local-$GCIL_VERSION"
if [[ ! -x "$gcil_venv/bin/gcil" ]]; then
    say "installing gitlabci-local $GCIL_VERSION into $gcil_venv"
    rm -rf "$gcil_venv"
    python3 -m venv "$gcil_venv"
    "$gcil_venv/bin/pip" install --quiet --disable-pip-version-check "gitlabci-local==$GCIL_VERSION"
fi
gcil() {
    (cd "$project" && "$gcil_venv/bin/gcil" --no-color --privileged false -n none \
        "${grader_mount[@]}" "$@")
}
show_log() { sed 's/^/    | /' "$1" | tail -n "${2:-30}"; }

t_jobs=$(ipc_lab_now)
for ((k = 1; k <= CLASS_SHARDS; k++)); do
    job="ipc-lab-class-shard $k/$CLASS_SHARDS"
    log="$tmp/shard-$k.log"
    t=$(ipc_lab_now)
    status=0
    gcil -e "CI_NODE_INDEX=$k" -e "CI_NODE_TOTAL=$CLASS_SHARDS" -- "$job" >"$log" 2>&1 || status=$?
    line=$(grep -E "^batch: shard $k/$CLASS_SHARDS: " "$log" | tail -n 1 || true)
    figure "job '$job' (gitlabci-local): $(ipc_lab_since "$t") s, exit $status, ${line:-no shard line}"
    if ((status != 0)); then
        fail "job '$job' exited $status"
        show_log "$log"
    elif [[ ! -s "$project/shards/shard-$k/gradebook.csv" || ! -s "$project/shards/shard-$k/batch.json" ]]; then
        fail "job '$job' left no shards/shard-$k/gradebook.csv and batch.json (its artifacts)"
        show_log "$log"
    fi
done
t=$(ipc_lab_now)
status=0
gcil -- ipc-lab-class-merge >"$tmp/merge.log" 2>&1 || status=$?
line=$(grep -E '^merge: [0-9]+ students' "$tmp/merge.log" | tail -n 1 || true)
# gitlabci-local gives a `when: always` job the result of the jobs before it,
# not its own: the template's merge job logs the grader's exit status for that.
merge_status=$(sed -n 's/^grader gradebook merge exit status: \([0-9]*\)$/\1/p' "$tmp/merge.log" | tail -n 1)
figure "job 'ipc-lab-class-merge' (gitlabci-local): $(ipc_lab_since "$t") s," \
    "exit $status, merge exit ${merge_status:-unknown}, ${line:-no merge line}"
merged="$project/gradebook"
if ((status != 0)) || [[ "$merge_status" != 0 ]]; then
    fail "job 'ipc-lab-class-merge': gitlabci-local exit $status, grader gradebook merge exit ${merge_status:-not logged}"
    show_log "$tmp/merge.log"
fi
for file in gradebook.csv batch.json report.html; do
    [[ -s "$merged/$file" ]] || fail "the merge job wrote no gradebook/$file"
done
figure "the $CLASS_SHARDS shard jobs and the merge: $(ipc_lab_since "$t_jobs") s"
left=$(own_containers)
[[ -z "$left" ]] || fail "gitlabci-local left containers: $(echo "$left" | cut -c1-12 | tr '\n' ' ')"

# 4. The same class in one run, in a container confined as docker/grade.sh
#    confines a student's, the project at the path the jobs saw (the gradebook's
#    `directory` column is the roster's), read-only. All of docker/defaults.sh's
#    confinement but --read-only: `grader batch` adds its slots' users and
#    groups to /etc when it starts (the image has none made in advance), as it
#    does in the jobs' containers, which are not read-only either.
mapfile -t hardening < <(ipc_lab_hardening_flags | grep -vx -e --read-only)
one="$tmp/one-run"
mkdir -p "$one"
t=$(ipc_lab_now)
status=0
docker run --rm --name "$name_prefix-one-run" "${hardening[@]}" "${grader_mount[@]}" \
    -v "$project:/builds/$project_name:ro" -v "$one:/out" -w "/builds/$project_name" \
    "$IPC_LAB_IMAGE" batch --lab "$CLASS_LAB" --roster roster.csv --out /out/gradebook \
    >"$tmp/one-run.log" 2>&1 || status=$?
line=$(grep -E '^batch: [0-9]+ submissions in' "$tmp/one-run.log" | tail -n 1 || true)
figure "one unsharded grader batch (docker run, confined): $(ipc_lab_since "$t") s, exit $status, ${line:-no summary line}"
if ((status != 0)); then
    fail "the unsharded grader batch exited $status"
    show_log "$tmp/one-run.log"
fi
single="$one/gradebook/gradebook.csv"

# 5. The gradebooks.
if [[ -s "$merged/gradebook.csv" && -s "$single" ]]; then
    compared=0
    python3 - "$merged/gradebook.csv" "$single" "${ids[*]}" "${broken_ids[*]}" \
        "$merged/reports" "$one/gradebook/reports" \
        >"$tmp/compare.out" 2>&1 <<'PY' || compared=$?
import difflib, sys

merged_path, single_path = sys.argv[1], sys.argv[2]
class_ids, broken = sys.argv[3].split(), set(sys.argv[4].split())
report_dirs = {"merged shards": sys.argv[5], "one run": sys.argv[6]}

def records(data):
    """The CSV's records, each a list of the (start, end) byte spans of its fields (RFC 4180)."""
    recs, fields, i, n = [], [], 0, len(data)
    while True:
        start = i
        if data[i:i + 1] == b'"':
            i += 1
            while True:
                j = data.index(b'"', i)
                if data[j + 1:j + 2] != b'"':
                    i = j + 1
                    break
                i = j + 2
        while i < n and data[i:i + 1] not in (b",", b"\n", b"\r"):
            i += 1
        fields.append((start, i))
        if data[i:i + 1] == b",":
            i += 1
            continue
        recs.append(fields)
        fields = []
        if data[i:i + 1] == b"\r":
            i += 1
        if data[i:i + 1] == b"\n":
            i += 1
        if i >= n:
            return recs

def value(raw):
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return raw[1:-1].replace('""', '"')
    return raw

def without_seconds(path):
    data = open(path, "rb").read()
    recs = records(data)
    header = [data[a:b].decode() for a, b in recs[0]]
    col = header.index("seconds")
    text, rows, last = bytearray(), [], 0
    for rec in recs:
        a, b = rec[col]
        text += data[last:a] + b"<seconds>"
        last = b
        rows.append([value(data[x:y].decode()) for x, y in rec])
    text += data[last:]
    return bytes(text), header, rows[1:]

m_text, header, m_rows = without_seconds(merged_path)
s_text, _, _ = without_seconds(single_path)
bad = []
if m_text != s_text:
    diff = difflib.unified_diff(s_text.decode().splitlines(), m_text.decode().splitlines(),
                                "one run", "merged shards", lineterm="", n=0)
    bad.append("the merged gradebook differs from the one-run gradebook beyond `seconds`:\n" +
               "\n".join("    | " + l for l in diff))
col = {h: i for i, h in enumerate(header)}
got = [r[col["student"]] for r in m_rows]
if sorted(got) != sorted(class_ids):
    bad.append(f"the merged gradebook's students are {got}, not the class {class_ids}")
full = lower = 0
for r in m_rows:
    sid, status, score, top = (r[col[k]] for k in ("student", "status", "score", "max"))
    try:
        score_f, top_f = float(score), float(top)
    except ValueError:
        bad.append(f"{sid}: no score ({status} {score!r}/{top!r})")
        continue
    if status != "graded":
        bad.append(f"{sid}: status {status!r}, expected graded")
    if sid in broken:
        if score_f >= top_f:
            bad.append(f"{sid} (broken copy): {score}/{top}, expected less than full marks")
        else:
            lower += 1
    elif score_f != top_f:
        bad.append(f"{sid} (intact copy): {score}/{top} {status}, expected full marks")
    else:
        full += 1
    print(f"  {sid}: {status} {score}/{top}")
print(f"rows: {full} full marks, {lower} lower; identical apart from seconds: {m_text == s_text}")
if bad:
    print("\n".join(bad))
    # Why: the checks each student did not pass, in both runs (a student
    # process stopped from outside, e.g. by a grading on this machine's host
    # that shares the lab users' uids, shows up here).
    for sid in class_ids:
        for label, folder in report_dirs.items():
            try:
                lines = open(f"{folder}/{sid}.txt", encoding="utf-8").read().splitlines()
            except OSError:
                continue
            failed = [l for i, l in enumerate(lines)
                      if l.lstrip().startswith("FAIL") or
                      (i and lines[i - 1].lstrip().startswith("FAIL") and l.startswith("        "))]
            if failed:
                print(f"{sid}, {label}:\n" + "\n".join("    | " + l for l in failed[:12]))
    sys.exit(1)
PY
    sed 's/^/  /' "$tmp/compare.out"
    if ((compared == 0)); then
        figure "merged gradebook = one-run gradebook apart from \`seconds\`:" \
            "$((CLASS_SIZE - ${#broken_ids[@]})) full marks, ${#broken_ids[@]} lower ($CLASS_SIZE students, $CLASS_SHARDS shards)"
    else
        fail "the gradebooks do not match (see above)"
    fi
else
    fail "no gradebook to compare (merged: $merged/gradebook.csv, one run: $single)"
fi

left=$(own_containers)
[[ -z "$left" ]] || fail "containers left behind: $(echo "$left" | cut -c1-12 | tr '\n' ' ')"
figure "class template check in all: $(ipc_lab_since "$t_total") s"

echo
say "figures:"
printf '  %s\n' "${figures[@]}"
if ((${#failures[@]})); then
    say "${#failures[@]} check(s) FAILED:"
    printf '  %s\n' "${failures[@]}"
    exit 1
fi
say "the class template's shards merge to the one-run gradebook"
