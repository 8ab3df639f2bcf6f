#!/bin/sh
# The README's demo: build an image from examples/rootfs, show it, mount it
# with FUSE, read through the mount, unmount, extract it.
set -eu
P=${1:-build/puzzlefs}
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/demo
"$P" umount "$out/mnt" 2>/dev/null || true	# left by an interrupted run
rm -rf "$out"
mkdir -p "$out/mnt"

step() { printf '\n== %s\n' "$*"; }

step "build examples/rootfs into $out/oci:v1 (and a zstd-compressed v1-zstd)"
"$P" build "$top/examples/rootfs" "$out/oci:v1"
"$P" build -c "$top/examples/rootfs" "$out/oci:v1-zstd"

step "tags"
"$P" tags "$out/oci"

step "ls -lR $out/oci:v1"
"$P" ls -lR "$out/oci:v1"

step "cat /etc/os-release from the image"
"$P" cat "$out/oci:v1-zstd" /etc/os-release

step "mount $out/oci:v1-zstd on $out/mnt (FUSE), read through it, unmount"
"$P" mount "$out/oci:v1-zstd" "$out/mnt"
trap '"$P" umount "$out/mnt" 2>/dev/null || true' EXIT
grep " $out/mnt " /proc/self/mounts
ls -l "$out/mnt" "$out/mnt/etc"
cat "$out/mnt/etc/os-release"
"$P" umount "$out/mnt"
trap - EXIT

step "extract v1-zstd into $out/extracted"
"$P" extract "$out/oci:v1-zstd" "$out/extracted"
ls -l "$out/extracted/usr/bin"

step "fsck"
"$P" fsck "$out/oci" && echo "no problems"
