# The kernel test checks, run by /init in the guest (busybox sh).
#
# Each check reports PASS/FAIL/SKIP on the console; listings of mounted
# images are written to /tmp/out/NAME.json and handed to the host (tar on
# the second disk), which compares them with the listings of the sources.
# The images and their digests come from the host (/data, /data/meta.sh).
. /lib.sh
. /data/meta.sh

mkdir -p /tmp/out /mnt/p /mnt/q /mnt/f
T=/bin/treelist
K=/bin/ktool
CORNER=/data/img/corner

# ---- the module ---------------------------------------------------------

module_load() {
	insmod /puzzlefs.ko || die "insmod failed"
	grep -qw puzzlefs /proc/filesystems || die "puzzlefs not in /proc/filesystems"
	echo "loaded"
}
check module_load module_load

# list NAME DIR [treelist options]: the guest's listing of a mount
list() {
	out=/tmp/out/$1.json
	dir=$2
	shift 2
	$T "$@" "$dir" > "$out.tmp" || die "treelist failed on $dir"
	mv "$out.tmp" "$out"
	echo "listed $(grep -c '"path"' "$out") paths"
}

mount_list() {	# NAME OCI MANIFEST [extra options]
	pmount /mnt/p "oci_root_dir=$2,image_manifest=$3${4:+,$4}" ||
		die "mount failed"
	list "$1" /mnt/p --all-xattrs --nlink --mtime
	r=$?
	umount /mnt/p || die "umount failed"
	return $r
}

# ---- 1. corner-case tree, plain and compressed --------------------------------

check corner_plain mount_list corner-plain $CORNER $CORNER_PLAIN
check corner_zstd mount_list corner-zstd $CORNER $CORNER_ZSTD
# One zstd frame per chunk (build --frame-size 256K).
check corner_zstd_whole mount_list corner-zstd-whole $CORNER $CORNER_ZSTD_WHOLE

rootfs_option() {
	pmount /mnt/p "oci_root_dir=$CORNER,rootfs=$CORNER_PLAIN_ROOTFS" ||
		die "mount failed"
	list corner-rootfs /mnt/p --all-xattrs --nlink --mtime
	umount /mnt/p
}
check rootfs_option rootfs_option

# What a mount shows besides its tree: statfs, options, read-only-ness,
# dots, stable readdir, inode numbers of hard links.
fs_semantics() {
	pmount /mnt/p "oci_root_dir=$CORNER,image_manifest=$CORNER_ZSTD,cache_mb=8" ||
		die "mount failed"
	trap 'umount /mnt/p' EXIT
	t=$(stat -f -c %t /mnt/p)
	[ "$t" = 7a7a7570 ] || die "statfs type $t"
	files=$(stat -f -c %c /mnt/p)
	[ "$files" -gt 3000 ] || die "statfs files $files"
	grep " /mnt/p puzzlefs " /proc/mounts > /tmp/m || die "not in /proc/mounts"
	grep -q "ro," /tmp/m || die "not read-only: $(cat /tmp/m)"
	grep -q "oci_root_dir=$CORNER,image_manifest=$CORNER_ZSTD,cache_mb=8" /tmp/m ||
		die "options: $(cat /tmp/m)"
	touch /mnt/p/new 2>/dev/null && die "created a file"
	echo x >> /mnt/p/big-text 2>/dev/null && die "wrote a file"
	mount -o remount,rw /mnt/p 2>/dev/null && die "remounted rw"
	mount -o remount,ro /mnt/p || die "remount ro failed"
	[ "$(ls -a /mnt/p | head -n 2 | tr '\n' ' ')" = ". .. " ] || die "no . and .."
	[ "$(stat -c %i /mnt/p/hard/first)" = "$(stat -c %i /mnt/p/hard/other/second)" ] ||
		die "hard links are different inodes"
	[ "$(stat -c %h /mnt/p/hard/first)" = 3 ] || die "hard link count"
	[ "$(stat -c %i /mnt/p)" = 1 ] || die "root inode number"
	[ "$(stat -c %t:%T /mnt/p/dev/bigchr)" = "fff:fffff" ] || die "rdev"
	[ "$(readlink /mnt/p/links/relative)" = "../sizes/one" ] || die "readlink"
	[ "$(cat /mnt/p/links/relative)" = "x" ] || die "symlink not followed"
	# Two listings of the wide directory are identical (stable order).
	find /mnt/p/wide -maxdepth 1 > /tmp/w1
	echo 3 > /proc/sys/vm/drop_caches
	find /mnt/p/wide -maxdepth 1 > /tmp/w2
	cmp -s /tmp/w1 /tmp/w2 || die "readdir order changed"
	[ "$(wc -l < /tmp/w1)" = 3001 ] || die "wide has $(wc -l < /tmp/w1) entries"
	# Lookups of absent names are negative, 256-byte names too long.
	[ ! -e /mnt/p/no-such-file ] || die "absent name found"
	cat "/mnt/p/$(head -c 256 /dev/zero | tr '\0' n)" 2>/tmp/e && die "256-byte name"
	grep -q "too long" /tmp/e || die "256-byte name: $(cat /tmp/e)"
	# Page cache reads through mmap and splice as well as read(2).
	[ "$(tail -c 18 /mnt/p/sparse)" = "end of sparse file" ] ||
		[ "$(dd if=/mnt/p/sparse bs=1 skip=3145728 count=18 2>/dev/null)" = "end of sparse file" ] ||
		die "sparse file content"
	$K read /mnt/p/big-random > /dev/null || die "read big-random"
	echo "statfs, options, ro, dots, inodes, rdev, links ok"
}
check fs_semantics fs_semantics

kmount() {
	puzzlefs mount --help 2>&1 | grep -q -- --kernel || {
		echo "puzzlefs mount has no --kernel yet (cli/mount.c)"
		exit 77
	}
	puzzlefs mount --kernel $CORNER:plain /mnt/p || die "puzzlefs mount --kernel failed"
	list corner-kmount /mnt/p --all-xattrs --nlink --mtime
	umount /mnt/p
}
check kmount kmount

# ---- 2. delta tags: ours and the reference's ------------------------------------

check delta_b mount_list delta-b /data/img/delta $DELTA_B
check delta_a mount_list delta-a /data/img/delta $DELTA_A
check delta_b_zstd mount_list delta-b-zstd /data/img/delta $DELTA_B_ZSTD
check delta_a_zstd mount_list delta-a-zstd /data/img/delta $DELTA_A_ZSTD
check delta_chain mount_list chain /data/img/chain $CHAIN
# Mtimes (to the nanosecond, before 1970, after 2038) of every inode type.
check mtime_tree mount_list mtime /data/img/mtime $MTIME
rootfs_list() {	# NAME: a crafted rootfs of /data/img/NAME, by digest
	pmount /mnt/p "oci_root_dir=/data/img/$1,rootfs=$2" || die "mount failed"
	list "$1" /mnt/p --all-xattrs --nlink
	r=$?
	umount /mnt/p
	return $r
}
check merged rootfs_list merged $MERGED_ROOTFS
check runs rootfs_list runs $RUNS_ROOTFS

shared_lists() {	# directories sharing one entry list: refused, no hang
	dmesg -c > /dev/null
	timeout 60 mount -t puzzlefs -o "oci_root_dir=/data/img/runs,rootfs=$SHARED_ROOTFS" \
		none /mnt/p 2>/dev/null && { umount /mnt/p; die "mounted"; }
	dmesg | grep -q "more than the rootfs holds" ||
		die "no message: $(dmesg | tail -n 3)"
	echo "mount refused"
}
check shared_lists shared_lists

ref_list() {	# NAME MANIFEST: the reference's listings have user xattrs only
	pmount /mnt/p "oci_root_dir=/data/ref,image_manifest=$2" || die "mount failed"
	list "$1" /mnt/p || { umount /mnt/p; exit 1; }
	# The reference's images have no mtimes: every inode shows the epoch.
	$T --mtime /mnt/p > /tmp/ref-times
	umount /mnt/p
	n=$(grep -c '"path"' /tmp/ref-times)
	z=$(grep -c '"mtime": "0.000000000"' /tmp/ref-times)
	[ "$n" = "$z" ] || die "$((n - z)) of $n inodes not at the epoch"
	echo "listed $n paths, all at the epoch"
}
check ref_v0 ref_list ref-v0 $REF_V0
check ref_v0_zstd ref_list ref-v0-zstd $REF_V0_ZSTD
check ref_v1 ref_list ref-v1 $REF_V1
check ref_v1_zstd ref_list ref-v1-zstd $REF_V1_ZSTD

# ---- 3. parallel readers ---------------------------------------------------------

readers() {
	# cache_mb=1 keeps the blob cache churning; both kinds of chunks.
	pmount /mnt/p "oci_root_dir=$CORNER,image_manifest=$CORNER_PLAIN,cache_mb=1" || die "mount"
	pmount /mnt/q "oci_root_dir=$CORNER,image_manifest=$CORNER_ZSTD" || die "mount"
	dmesg -c > /dev/null
	timeout 120 $K readers 30 8 /mnt/p /data/expect/corner.list /mnt/q /data/expect/corner.list
	r=$?
	umount /mnt/p || die "umount /mnt/p: busy after the readers"
	umount /mnt/q || die "umount /mnt/q: busy after the readers"
	# No oops, BUG, WARNING or lockup, and not one error of the driver.
	dmesg > /tmp/dmesg.readers
	dmesg_bad && die "bad kernel messages during the readers"
	grep puzzlefs /tmp/dmesg.readers | grep -v ': mounted: ' && die "the driver logged errors"
	[ $r = 0 ] || die "readers failed ($r)"
	echo "8 readers, 30 s, no error, dmesg quiet"
}
check readers readers

# ---- 4. corrupted images -----------------------------------------------------------

# Expectations: mountfail | any | eio:HEXPATH:ok:HEXPATH | descend:LEVELS
# (mounts; the first subdirectories go LEVELS deep) | sha:PATH:SHA256
# (mounts; PATH reads whole, with that sha256)
corrupt() {	# NAME OPTS EXPECT
	d=/data/corrupt/$1
	timeout 60 mount -t puzzlefs -o "oci_root_dir=$d,$2" none /mnt/p 2>/tmp/err
	rc=$?
	case $3 in
	mountfail)
		[ $rc != 0 ] || { umount /mnt/p; die "mounted"; }
		echo "mount refused";;
	any)
		if [ $rc = 0 ]; then
			timeout 120 $K walk /mnt/p || die "walk crashed or hung"
			umount /mnt/p || die "umount"
		else
			echo "mount refused"
		fi;;
	eio:*)
		[ $rc = 0 ] || die "mount failed: $(cat /tmp/err)"
		bad=$(echo "$3" | cut -d: -f2)
		good=$(echo "$3" | cut -d: -f4)
		r=$($K read "/mnt/p/$bad")
		r2=$($K read "/mnt/p/$bad")
		o=$($K read "/mnt/p/$good")
		umount /mnt/p
		case "$r" in "ERR 5 "*) ;; *) die "$bad: $r, expected EIO";; esac
		case "$r2" in "ERR 5 "*) ;; *) die "$bad again: $r2, expected EIO";; esac
		case "$o" in OK*) ;; *) die "$good: $o";; esac
		echo "EIO on $bad, $good reads";;
	descend:*)
		[ $rc = 0 ] || die "mount failed: $(cat /tmp/err)"
		r=$($K descend /mnt/p)
		umount /mnt/p
		[ "$r" = "OK ${3#descend:}" ] || die "descend: $r"
		echo "${3#descend:} levels served";;
	sha:*)
		[ $rc = 0 ] || die "mount failed: $(cat /tmp/err)"
		p=$(echo "$3" | cut -d: -f2)
		want=$(echo "$3" | cut -d: -f3)
		r=$($K read "/mnt/p/$p")
		umount /mnt/p
		[ "$r" = "OK $want" ] || die "$p: $r, expected OK $want"
		echo "$p reads right";;
	esac
}
dmesg -c > /dev/null
while read -r name opts expect; do
	check "corrupt_$name" corrupt "$name" "$opts" "$expect"
done < /data/corrupt/cases
corrupt_dmesg() {
	dmesg > /tmp/dmesg.corrupt
	grep -c puzzlefs /tmp/dmesg.corrupt | sed 's/^/puzzlefs log lines: /'
	dmesg_bad && die "bad kernel messages"
	grep -q 'puzzlefs' /tmp/dmesg.corrupt || die "no puzzlefs log line at all"
	echo "no oops, BUG or WARNING; $(grep -c puzzlefs /tmp/dmesg.corrupt) log lines"
}
check corrupt_dmesg corrupt_dmesg

# ---- 5. fs-verity (ext4 with the verity feature) ---------------------------------

VT=/data/img/vt
VTB=$VT/blobs/sha256
WRONG=0000000000000000000000000000000000000000000000000000000000000001
vopts() { echo "oci_root_dir=$1,image_manifest=$VT_MANIFEST,verity=$VT_VERITY"; }
fresh_copy() {	# DIR: a copy of vt without fs-verity
	rm -rf "$1"
	cp -a $VT "$1"
}
fresh_copy /data/vt-plain

verity_enable() {
	puzzlefs enable-fs-verity $VT:t $VT_VERITY || die "enable-fs-verity failed"
	m=$($K measure $VTB/$VT_MANIFEST) || die "manifest has no fs-verity"
	[ "$m" = "$VT_VERITY" ] || die "manifest measures $m"
	for b in $VTB/*; do $K measure "$b" > /dev/null || die "$b: no verity"; done
	echo "enabled and measured: $(ls $VTB | wc -l) blobs"
}
check verity_enable verity_enable

verity_mount() {
	pmount /mnt/p "$(vopts $VT)" || die "verity mount failed"
	list vt-verity /mnt/p --all-xattrs --nlink --mtime
	grep " /mnt/p puzzlefs " /proc/mounts | grep -q "verity=$VT_VERITY" ||
		die "verity not in the options"
	umount /mnt/p
}
check verity_mount verity_mount

verity_flag() {
	pmount /mnt/p "oci_root_dir=$VT,image_manifest=$VT_MANIFEST,verity" ||
		die "mount -o verity failed"
	$K walk /mnt/p | grep -q ' 0 errors' || die "errors reading"
	umount /mnt/p
	echo "-o verity (no digest) mounts and reads"
}
check verity_flag verity_flag

verity_wrong_digest() {
	pmount /mnt/p "oci_root_dir=$VT,image_manifest=$VT_MANIFEST,verity=$WRONG" &&
		{ umount /mnt/p; die "mounted with a wrong digest"; }
	echo "refused"
}
check verity_wrong_digest verity_wrong_digest

verity_no_verity() {
	pmount /mnt/p "$(vopts /data/vt-plain)" &&
		{ umount /mnt/p; die "mounted an image without fs-verity"; }
	# Manifest with verity, rootfs without: still refused.
	$K enable-verity /data/vt-plain/blobs/sha256/$VT_MANIFEST || die "enable"
	pmount /mnt/p "$(vopts /data/vt-plain)" &&
		{ umount /mnt/p; die "mounted a rootfs without fs-verity"; }
	echo "refused"
}
check verity_no_verity verity_no_verity

# A chunk blob without fs-verity, and one whose fs-verity digest is wrong.
verity_bad_blob() {	# DIR how
	d=$1
	fresh_copy "$d"
	puzzlefs enable-fs-verity $d:t $VT_VERITY || die "enable-fs-verity"
	b=$d/blobs/sha256/$VT_CHUNK
	cp "$b" /tmp/blob && rm -f "$b" && cp /tmp/blob "$b" || die "copy"
	if [ "$2" = wrong ]; then
		echo x >> "$b"
		$K enable-verity "$b" || die "enable on the changed blob"
	fi
	pmount /mnt/p "$(vopts "$d")" || die "mount failed"
	bad=$($K read "/mnt/p/$VT_FILE")
	good=$($K read "/mnt/p/$VT_OTHER")
	umount /mnt/p
	case "$bad" in "ERR 5 "*) ;; *) die "$VT_FILE: $bad, expected EIO";; esac
	case "$good" in OK*) ;; *) die "$VT_OTHER: $good";; esac
	echo "EIO on $VT_FILE, $VT_OTHER reads"
}
check verity_blob_without verity_bad_blob /data/vt-nov none
check verity_blob_wrong verity_bad_blob /data/vt-wrong wrong

# ---- 6. FUSE mount -d (issue 3, acceptance 6) --------------------------------------

fuse_ready() {
	puzzlefs mount --help 2>&1 | grep -q -- --digest || {
		echo "puzzlefs mount has no FUSE --digest yet (cli/mount.c)"
		exit 77
	}
	[ -c /dev/fuse ] || die "no /dev/fuse"
}
fumount() { umount "$1" 2>/dev/null || puzzlefs umount "$1"; }

fuse_verity_ok() {
	fuse_ready
	timeout 60 puzzlefs mount -d $VT_VERITY $VT:t /mnt/f || die "mount -d failed"
	list vt-fuse /mnt/f --all-xattrs --mtime
	fumount /mnt/f
}
check fuse_verity_ok fuse_verity_ok

fuse_verity_wrong() {
	fuse_ready
	timeout 60 puzzlefs mount -d $WRONG $VT:t /mnt/f &&
		{ fumount /mnt/f; die "mounted with a wrong digest"; }
	echo "refused"
}
check fuse_verity_wrong fuse_verity_wrong

fuse_verity_bad_blob() {	# DIR
	fuse_ready
	timeout 60 puzzlefs mount -d $VT_VERITY $1:t /mnt/f || {
		echo "refused at mount"
		return 0
	}
	bad=$($K read "/mnt/f/$VT_FILE")
	good=$($K read "/mnt/f/$VT_OTHER")
	fumount /mnt/f
	case "$bad" in "ERR 5 "*) ;; *) die "$VT_FILE: $bad, expected EIO";; esac
	case "$good" in OK*) ;; *) die "$VT_OTHER: $good";; esac
	echo "EIO on $VT_FILE, $VT_OTHER reads"
}
check fuse_verity_blob_without fuse_verity_bad_blob /data/vt-nov
check fuse_verity_blob_wrong fuse_verity_bad_blob /data/vt-wrong
fuse_verity_plain() {
	fuse_ready
	timeout 60 puzzlefs mount -d $VT_VERITY /data/vt-plain:t /mnt/f &&
		{ fumount /mnt/f; die "mounted an image without fs-verity"; }
	echo "refused"
}
check fuse_verity_no_verity fuse_verity_plain

# ---- 7. unload -----------------------------------------------------------------

unload() {
	grep -q ' puzzlefs ' /proc/mounts && die "still mounted: $(grep puzzlefs /proc/mounts)"
	rmmod puzzlefs || die "rmmod failed"
	grep -qw puzzlefs /proc/filesystems && die "still registered"
	# Every blob file the module opened is closed: the disk unmounts.
	umount /data || die "the data disk is busy: $(cat /proc/mounts)"
	echo "rmmod and umount of the backing disk ok"
}
check unload unload

dmesg_clean() {
	dmesg > /tmp/out/dmesg.txt
	dmesg_bad && die "bad kernel messages"
	echo "dmesg has no oops, BUG, WARNING or lockup"
}
check dmesg_clean dmesg_clean

tar -cf /dev/vdb -C /tmp/out . || echo "@@PFS note tar cannot write the results disk"
