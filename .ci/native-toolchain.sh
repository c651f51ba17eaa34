#!/usr/bin/env bash
# Prepares what a root grader needs on a machine outside Docker: a Rust toolchain and an offline
# crate set that the lab's unprivileged users can read (root's own ~/.cargo and ~/.rustup usually
# live under /root, mode 0700). Both are cached under $IPC_LAB_NATIVE (default /opt/ipc-lab-native)
# and keyed by the toolchain version and Cargo.lock, so later runs take a few milliseconds.
# Prints the two variables to export: GRADER_TOOL_PATH and GRADER_VENDOR_DIR.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
base=${IPC_LAB_NATIVE:-/opt/ipc-lab-native}
sysroot=$(rustc --print sysroot)
version=$(rustc --version | awk '{print $2}')
toolchain="$base/toolchain-$version"
lock_key=$(sha256sum "$repo/Cargo.lock" | cut -c1-16)
vendor="$base/vendor-$lock_key"
mkdir -p "$base"
chmod 755 "$base"
exec 9>"$base/.lock"
flock 9
if [ ! -x "$toolchain/bin/cargo" ]; then
  echo "native-toolchain: copying $sysroot to $toolchain" >&2
  rm -rf "$toolchain.tmp"
  cp -a "$sysroot" "$toolchain.tmp"
  rm -rf "$toolchain.tmp/share/doc" "$toolchain.tmp/share/man"
  chmod -R a+rX "$toolchain.tmp"
  mv "$toolchain.tmp" "$toolchain"
fi
if [ ! -f "$vendor/.complete" ]; then
  echo "native-toolchain: vendoring the crates of Cargo.lock into $vendor" >&2
  rm -rf "$vendor.tmp"
  (cd "$repo" && cargo vendor --quiet --locked --versioned-dirs "$vendor.tmp" >/dev/null)
  chmod -R a+rX "$vendor.tmp"
  touch "$vendor.tmp/.complete"
  mv "$vendor.tmp" "$vendor"
fi
echo "GRADER_TOOL_PATH=$toolchain/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
echo "GRADER_VENDOR_DIR=$vendor"
