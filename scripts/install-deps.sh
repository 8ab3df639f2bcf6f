#!/bin/sh
# Install the Debian packages puzzlefs-c needs, only those missing.
#   scripts/install-deps.sh          build, tests (incl. kernel tests in qemu)
#   scripts/install-deps.sh --bench  also the benchmark peers
set -eu

pkgs="build-essential meson ninja-build pkg-config
libzstd-dev libssl-dev libfuse3-dev fuse3 libjansson-dev libxxhash-dev
libarchive-dev umoci buildah time
zstd capnproto skopeo fsverity attr strace python3 python3-pytest
clang libclang-rt-14-dev
qemu-system-x86 linux-headers-amd64 busybox-static cpio kmod e2fsprogs
erofs-utils squashfs-tools
libcurl4-openssl-dev docker-registry apache2-utils python3-cryptography
python3-jwt"
bench="squashfuse casync hyperfine gnuplot-nox debootstrap time"

[ "${1:-}" = "--bench" ] && pkgs="$pkgs $bench"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null; then
	$SUDO apt-get update -q >/dev/null
	# shellcheck disable=SC2086
	$SUDO apt-get install -y -q --no-install-recommends $missing >/dev/null
fi
