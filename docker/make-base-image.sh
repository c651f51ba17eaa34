#!/usr/bin/env bash
# Makes a local Rust-capable Debian bookworm image for machines that cannot
# pull `rust:1-slim-bookworm` (no registry reachable), and prints its tag.
#
# How: debootstrap a minimal bookworm with the C tool chain and python3, copy
# the host's own Rust tool chain into it (laid out like the official image:
# cargo and rustc on PATH at /usr/local/cargo/bin), trim, and `docker import`.
# The package mirror is read from this machine's apt configuration at run time;
# no mirror host name is written anywhere. The image is cached by its tag:
# when the tag exists, nothing is rebuilt.
#
# Usage: docker/make-base-image.sh [--force] [--print-tag]
#   --force      rebuild even if the tag exists (the old image is replaced)
#   --print-tag  only print the tag this host's tool chain maps to, then exit
# Progress goes to stderr; the last stdout line is the tag.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=docker/defaults.sh
source "$here/defaults.sh"

suite=bookworm
# gcc/libc6-dev/make: the C variant of the lab and Rust's linker driver;
# python3: the Python variant; passwd: useradd; procps: ps/pkill for Part 0.
packages=gcc,libc6-dev,make,python3,ca-certificates,passwd,procps

force=false
print_only=false
for arg in "$@"; do
    case "$arg" in
        --force) force=true ;;
        --print-tag) print_only=true ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "make-base-image: unknown option $arg" >&2; exit 2 ;;
    esac
done

log() { printf 'make-base-image: %s\n' "$*" >&2; }

command -v rustc >/dev/null || { log "rustc is not on PATH: there is no tool chain to copy"; exit 1; }
rust_version=$(rustc --version | awk '{print $2}')
sysroot=$(rustc --print sysroot)
host_triple=$(rustc -vV | awk '/^host:/ {print $2}')
tag="ipc-lab/base:$suite-rust-$rust_version"

if $print_only; then
    echo "$tag"
    exit 0
fi

if ! $force && docker image inspect "$tag" >/dev/null 2>&1; then
    log "$tag already exists (cached)"
    echo "$tag"
    exit 0
fi

# The mirror this machine already uses: the first URIs: line of the deb822
# sources, else the first deb line of the classic sources.list.
mirror=${IPC_LAB_DEBIAN_MIRROR:-}
if [[ -z "$mirror" && -r /etc/apt/sources.list.d/debian.sources ]]; then
    mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources)
fi
if [[ -z "$mirror" && -r /etc/apt/sources.list ]]; then
    mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list)
fi
[[ -n "$mirror" ]] || { log "no Debian mirror in the apt configuration; set IPC_LAB_DEBIAN_MIRROR"; exit 1; }

t_total=$(ipc_lab_now)

if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    t=$(ipc_lab_now)
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    log "debootstrap installed in $(ipc_lab_since "$t") s"
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/ipc-lab-rootfs.XXXXXX")
# debootstrap mounts /proc and /sys inside the tree; a failed run can leave
# them mounted. Unmount first, and never let rm cross into another file system.
cleanup() {
    local m
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v r="$root/" 'index($2, r) == 1 { print $2 }' /proc/mounts | sort -r)
    rm -rf --one-file-system "$root"
    rm -f "$root.log"
}
trap cleanup EXIT

log "debootstrap $suite (minbase + $packages) from the apt mirror"
t=$(ipc_lab_now)
debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.log" 2>&1 || {
    tail -n 30 "$root.log" >&2
    exit 1
}
log "debootstrap took $(ipc_lab_since "$t") s"

t=$(ipc_lab_now)
# The tool chain goes where rustup would put it in the official image; the
# commands on PATH are links to it. rustc finds its libraries through the
# real path of its binary, so links work.
toolchain_dir="usr/local/rustup/toolchains/$rust_version-$host_triple"
mkdir -p "$root/$toolchain_dir" "$root/usr/local/cargo/bin"
# share/ (documentation, man pages) and libexec/ (rust-analyzer helper) are
# not needed to build; lib/rustlib/<triple>/bin holds rust-lld, which is.
tar -C "$sysroot" --exclude=./share --exclude=./libexec --exclude=./etc -cf - . |
    tar -C "$root/$toolchain_dir" -xf -
for tool in cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver; do
    if [[ -x "$root/$toolchain_dir/bin/$tool" ]]; then
        ln -s "../../rustup/toolchains/$rust_version-$host_triple/bin/$tool" "$root/usr/local/cargo/bin/$tool"
    fi
done
log "copied the rust $rust_version tool chain in $(ipc_lab_since "$t") s"

t=$(ipc_lab_now)
# Trim what only an interactive Debian system needs.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/var/log/* "$root"/var/cache/debconf/*-old \
    "$root"/tmp/* "$root"/root/.cache
find "$root/usr/lib" -name __pycache__ -type d -prune -exec rm -rf {} +
# The image must not carry this machine's resolver or host name.
: >"$root/etc/resolv.conf"
echo localhost >"$root/etc/hostname"

path=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
tar -C "$root" --numeric-owner -cf - . |
    docker import \
        --change "ENV PATH=$path" \
        --change "ENV CARGO_HOME=/usr/local/cargo" \
        --change "ENV LANG=C.UTF-8" \
        --change "LABEL ipc-lab.image=base" \
        --change "LABEL ipc-lab.rust-version=$rust_version" \
        --change 'CMD ["bash"]' \
        - "$tag" >/dev/null
log "trimmed and imported in $(ipc_lab_since "$t") s"

# A replaced image (with --force) is left without a tag: remove it.
ipc_lab_remove_untagged_images

size=$(docker image inspect -f '{{.Size}}' "$tag")
log "$tag: $((size / 1000000)) MB, made in $(ipc_lab_since "$t_total") s"
echo "$tag"
