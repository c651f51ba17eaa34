#!/usr/bin/env bash
# Opens the handout's Part 0 shell (0.4) in the grader image: your working
# copy at /work, read-write (it is the same folder, not a copy), the image's
# toolchain and crates, and the container named `ipc-lab`, so that
# `docker exec -it ipc-lab bash` opens a second shell in it. Confined like a
# grading run (no network, few capabilities, limits). Prints the exact
# `docker run` command first, then runs it.
#
# Usage: docker/shell.sh [DIR] [-- COMMAND...]
#   DIR defaults to the current directory. What you build there (target/,
#   output.log) lands in DIR, owned by root on Linux, as the handout says.
#   COMMAND runs instead of an interactive bash.
# IPC_LAB_CONTAINER_NAME names the container (default ipc-lab; empty: no
# name). Same other environment variables as docker/grade.sh.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/defaults.sh
source "$here/defaults.sh"

ipc_lab_dir_and_rest "docker/shell.sh [DIR] [-- COMMAND...]" "$@"
dir=$IPC_LAB_DIR
set -- "${IPC_LAB_REST[@]}"

name=${IPC_LAB_CONTAINER_NAME-ipc-lab}

cmd=(docker run --rm -i)
# A terminal only when there is one (scripts and CI have none).
[[ -t 0 && -t 1 ]] && cmd+=(-t)
[[ -n "$name" ]] && cmd+=(--name "$name")
mapfile -t hardening < <(ipc_lab_hardening_flags)
# The image's CARGO_HOME is on the read-only root: cargo gets a writable one on
# the tmpfs, with the image's offline vendored-crates configuration copied in.
cmd+=("${hardening[@]}" -v "$dir:/work" -w /work -e CARGO_HOME=/tmp/cargo-home
    --entrypoint bash "$IPC_LAB_IMAGE")
setup='mkdir -p /tmp/cargo-home && cp /usr/local/cargo/config.toml /tmp/cargo-home/ 2>/dev/null; '
if (($#)); then
    cmd+=(-c "$setup$*")
else
    cmd+=(-c "${setup}exec bash -i")
fi

printf '+ %s\n' "$(ipc_lab_show_command "${cmd[@]}")" >&2
exec "${cmd[@]}"
