# Guest job of the kernel benchmark (busybox sh): the same tree as kernel
# EROFS on a loop device and as puzzlefs.ko (plain and -c images), cold
# sequential read of every file and cold stat of every entry, RUNS times,
# in one boot.  "Cold": a fresh mount and all caches dropped (the backing
# ext4 disk's too), so every byte comes from the virtual disk again.
. /lib.sh
. /data/meta.sh
K=/bin/ktool
mkdir -p /mnt/b
insmod /puzzlefs.ko || echo "@@PFS note bench insmod failed"
losetup /dev/loop0 /data/tree.erofs || echo "@@PFS note bench losetup failed"
[ -b /dev/loop1 ] && losetup /dev/loop1 /data/tree-lz4.erofs

mnt() {	# KIND: mount it, print how long that took
	case $1 in
	erofs) set -- mount -t erofs -o ro /dev/loop0 /mnt/b;;
	erofs-lz4) set -- mount -t erofs -o ro /dev/loop1 /mnt/b;;
	puzzlefs) set -- mount -t puzzlefs -o "oci_root_dir=/data/oci,image_manifest=$PLAIN" none /mnt/b;;
	puzzlefs-zstd) set -- mount -t puzzlefs -o "oci_root_dir=/data/oci,image_manifest=$ZSTD" none /mnt/b;;
	esac
	$K time "$@"
}

cold() { sync; echo 3 > /proc/sys/vm/drop_caches; }

# one KIND RUN: mount-ready time, cold read all, cold stat all, warm stat all
one() {
	cold
	t=$(mnt "$1") || { echo "@@PFS note bench mount $1 failed"; return; }
	echo "@@PFS data $1.mount.$2 $t"
	cold
	set -- "$1" "$2" "$($K readall /mnt/b)"
	echo "@@PFS data $1.read.$2 $3"
	umount /mnt/b; mnt "$1" > /dev/null; cold
	echo "@@PFS data $1.stat.$2 $($K statall /mnt/b)"
	echo "@@PFS data $1.warmstat.$2 $($K statall /mnt/b)"
	umount /mnt/b
}

echo "@@PFS data cpus $(grep -c ^processor /proc/cpuinfo)"
echo "@@PFS data cpu $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for run in $(seq 1 $RUNS); do
	for kind in $KINDS; do
		one "$kind" "$run"
	done
done
dmesg_bad && echo "@@PFS note bench bad kernel messages"
