#!/usr/bin/env bash
# Checks the repository's two GitLab CI files without a GitLab instance:
#   .gitlab-ci.yml                    (this repository's pipeline)
#   labs/ipc/ci/grade.gitlab-ci.yml   (the job template student repositories include)
#
# 1. Both against GitLab's own CI schema, which check-jsonschema (PyPI) ships
#    as `--builtin-schema vendor.gitlab-ci`; the same options as its
#    check-gitlab-ci pre-commit hook. To prove the schema really rejects
#    things, a deliberately broken copy of the template must fail too.
# 2. The template's `coverage:` regex, applied the way GitLab applies it
#    (each log line from the last one back; the last capture group of a match;
#    the first number in it), must read the percentage from GRADE lines.
#
# check-jsonschema is installed, on first use, into a virtualenv this script
# makes under ${XDG_CACHE_HOME:-~/.cache}/ipc-lab/. Exits non-zero on failure.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
pipeline="$repo/.gitlab-ci.yml"
template="$repo/labs/ipc/ci/grade.gitlab-ci.yml"

# Pinned so that a new schema release cannot change the verdict by surprise.
version=0.39.0
venv="${XDG_CACHE_HOME:-$HOME/.cache}/ipc-lab/check-jsonschema-$version"
if [[ ! -x "$venv/bin/check-jsonschema" ]]; then
    echo "validate-ci-yaml: installing check-jsonschema $version into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "check-jsonschema==$version"
fi

check() {
    "$venv/bin/check-jsonschema" --builtin-schema vendor.gitlab-ci \
        --data-transform gitlab-ci --regex-variant nonunicode "$@"
}

failed=0
echo "== GitLab CI schema (check-jsonschema $version, vendor.gitlab-ci)"
check "$pipeline" "$template" || failed=1

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ipc-lab-ciyaml.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# A misspelt keyword and a coverage value without slashes: both must be refused.
sed -e 's/^  script:/  scirpt:/' -e "s|^  coverage: '/\\(.*\\)/'|  coverage: '\\1'|" \
    "$template" >"$scratch/broken.gitlab-ci.yml"
if check "$scratch/broken.gitlab-ci.yml" >"$scratch/broken.out" 2>&1; then
    echo "FAIL: the schema accepted a broken template; the check proves nothing" >&2
    failed=1
else
    echo "ok -- a broken copy of the template is refused:"
    grep -E '::' "$scratch/broken.out" | sed 's/^/   /'
fi

echo "== coverage regex of the template"
"$venv/bin/python" - "$template" <<'PY' || failed=1
import re
import sys

from ruamel.yaml import YAML

doc = YAML(typ="safe").load(open(sys.argv[1]))
jobs = [job for job in doc.values() if isinstance(job, dict) and "coverage" in job]
assert len(jobs) == 1, "expected exactly one job with a coverage regex"
regex = jobs[0]["coverage"]
assert regex.startswith("/") and regex.endswith("/"), regex
# Python's re and GitLab's RE2 agree on this small pattern (no RE2-only syntax).
pattern = re.compile(regex[1:-1])


def gitlab_coverage(log):
    """What GitLab stores as the job's coverage for this log (None if nothing)."""
    for line in reversed(log.splitlines()):
        matches = pattern.findall(line)
        if not matches:
            continue
        last = matches[-1]
        value = last[-1] if isinstance(last, tuple) else last
        number = re.search(r"\d+(\.\d+)?", value or "")
        if number:
            return number.group(0)
    return None


cases = [
    ("GRADE: 25/25 (100.00%)", "100.00"),
    ("GRADE: 24/25 (96.00%)", "96.00"),
    ("GRADE: 0/25 (0.00%)", "0.00"),
    # Half points, and the line of a run that could not grade (no coverage then).
    ("GRADE: 17.5/25 (70.00%)", "70.00"),
    ("GRADE: none (the grader could not grade: see the error above)", None),
    # A line from the report that was indented on purpose does not count, and
    # the last GRADE line of the log wins.
    (" GRADE: 25/25 (100.00%)\nGRADE: 10/25 (40.00%)", "40.00"),
    (" GRADE: 25/25 (100.00%)\nThe grader could not grade this commit", None),
]
bad = 0
for log, want in cases:
    got = gitlab_coverage(log)
    mark = "ok  " if got == want else "FAIL"
    bad += got != want
    print(f"{mark} {log!r} -> {got}")
sys.exit(1 if bad else 0)
PY

if ((failed)); then
    echo "validate-ci-yaml: FAILED" >&2
    exit 1
fi
echo "validate-ci-yaml: both files are valid"
