#!/usr/bin/env bash
# Build a shm-lab server and put exactly `server`, `server_killer` and `ipc.so` into DIR, so
# that the notebook's IPCDIR can point at DIR.
#
#   bash labs/shm/install.sh DIR [SOURCE]
#
# SOURCE is a submission-shaped directory (default: this lab's reference/; the lab's tests
# also install starter/). The build is offline and goes to $CARGO_TARGET_DIR when set, else
# to SOURCE/target. Exit status: 0 installed, 1 the build failed, 2 usage error.
set -euo pipefail

usage() { echo "usage: bash labs/shm/install.sh DIR [SOURCE]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
dest=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${2:-$here/reference}
[ -f "$src/Cargo.toml" ] || { echo "install.sh: $src has no Cargo.toml" >&2; exit 2; }
src=$(cd "$src" && pwd)
target=${CARGO_TARGET_DIR:-$src/target}

if ! cargo build --release --offline --quiet --manifest-path "$src/Cargo.toml" --target-dir "$target"; then
    echo "install.sh: the build of $src failed (see above)" >&2
    exit 1
fi
mkdir -p "$dest"
install -m 0755 "$target/release/server" "$dest/server"
install -m 0755 "$target/release/server_killer" "$dest/server_killer"
install -m 0755 "$target/release/libipc.so" "$dest/ipc.so"
echo "installed server, server_killer and ipc.so into $dest"
