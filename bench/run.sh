#!/bin/sh
# The benchmark suite: `make bench` runs it all (50–80 minutes on
# 2 cores) and writes bench/RESULTS.md and bench/plots/*.png.
#
#   bench/run.sh                      everything, 3 runs each
#   bench/run.sh --quick              development: 1 run, /usr/share only
#   bench/run.sh --sections fuse --runs 1 --systems puzzlefs,squashfuse_ll
#   bench/run.sh --sections build --corpora share --tools "puzzlefs -c,tar|zstd"
#   bench/run.sh --report-only        rewrite RESULTS.md from saved results
#   bench/run.sh --help               all options
#
# Needs root (mounts, loop devices, drop_caches).  Waits for a quiet
# machine (load < 1, no qemu guest running) before each section unless
# --no-wait.  Work files live in /var/tmp/pfs-bench (--work); corpora and
# images made there are reused by later runs.  puzzlefs is measured from
# its own release build, build-bench/ (PUZZLEFS_BUILD to use another).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${PUZZLEFS_BUILD:-$top/build-bench}

case " $* " in
*" --help "*|*" -h "*|*" --report-only "*) ;;
*)
	[ "$(id -u)" -eq 0 ] || { echo "bench: run as root" >&2; exit 2; }
	"$top/scripts/install-deps.sh" --bench
	# Our own build directory, so that the numbers do not depend on how
	# build/ happens to be configured.
	[ -f "$build/build.ninja" ] ||
		meson setup "$build" -Dwerror=true --buildtype=release >/dev/null
	ninja -C "$build" >/dev/null
	;;
esac
# Debian's python3 (the one on PATH may be another).
exec /usr/bin/python3 "$top/bench/bench.py" --puzzlefs "$build/puzzlefs" "$@"
