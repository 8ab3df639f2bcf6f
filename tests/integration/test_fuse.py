"""Issue 3: FUSE mounts (`puzzlefs mount` / `umount`, the mount helper),
tested on real mounts.  Every mount a test makes goes through the `mounts`
fixture, which unmounts it (and stops foreground daemons) at teardown.

Acceptance items: 1 test_corner_tree; 2 test_random_reads,
test_concurrent_readers (marked slow: 60 s, PFS_FUSE_SOAK_SECONDS changes
it); 3 test_delta, test_reference_tags; 4 test_background_ready,
test_mount_fails, test_init_pipe, test_foreground_signal,
test_foreground_external_umount, test_umount_fuse (the overlay pair:
test_writable, test_persist); 5 test_writable, test_persist; 7
test_corrupt_chunk, test_background_syslog.  Also: semantics details
(test_semantics, test_statfs, test_readdir_*, test_xattr_sizes,
test_access, test_erofs), usage errors, the mount(8) helper and fstab (test_mount_helper), --kernel
reaching the kernel driver's mount (test_kernel_dispatch) and fs-verity
mode being refused on this host, which has no fs-verity
(test_verity_refused; the real fs-verity tests run in the qemu guest).
"""
import ctypes
import errno
import hashlib
import json
import math
import os
import random
import select
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import threading
import time

import pytest

import capnp_msg
import crafted
import ocidir
import tree
from conftest import BUILD, REFERENCE, as_nobody

pytestmark = pytest.mark.fuse
KIB = 1024
MIB = 1024 * KIB
SOAK_SECONDS = int(os.environ.get("PFS_FUSE_SOAK_SECONDS", "60"))
# Only a guard against hangs: no test outcome depends on it.
HANG = 120
libc = ctypes.CDLL(None, use_errno=True)


# ---- mounts --------------------------------------------------------------

def _unescape(s):
    out, i = bytearray(), 0
    b = s.encode()
    while i < len(b):
        if b[i:i + 1] == b"\\" and b[i + 1:i + 4].isdigit():
            out.append(int(b[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(b[i])
            i += 1
    return out.decode(errors="surrogateescape")


def mounted(path):
    """(fstype, source) of the last mount at path, or None.  Never touches
    the mount itself (it may be dead)."""
    path = os.path.join(os.path.realpath(os.path.dirname(os.fspath(path))),
                        os.path.basename(os.fspath(path)))
    top = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if _unescape(fields[4]) == path:
                sep = fields.index("-")
                top = (fields[sep + 1], _unescape(fields[sep + 2]))
    return top


def daemons(mnt):
    """Live puzzlefs processes serving mnt (by their command line)."""
    want = os.fsencode(os.fspath(mnt))
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cmd[0].endswith(b"puzzlefs") and b"mount" in cmd and want in cmd:
            pids.append(int(pid))
    return pids


def wait_until(cond, what):
    deadline = time.monotonic() + HANG
    while not cond():
        assert time.monotonic() < deadline, f"hang: {what}"
        time.sleep(0.05)


class Mounts:
    def __init__(self, pfs):
        self.pfs = pfs
        self.points = []
        self.procs = []

    def mount(self, ref, mnt, *opts, check=True):
        self.points.append(os.fspath(mnt))
        return self.pfs.run("mount", *opts, ref, mnt, check=check)

    def foreground(self, ref, mnt, *opts, stderr=subprocess.PIPE):
        self.points.append(os.fspath(mnt))
        p = subprocess.Popen([self.pfs.exe, "mount", "-f", *map(
            os.fspath, opts), ref, os.fspath(mnt)], stderr=stderr)
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=HANG)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for mnt in reversed(self.points):
            for point in (mnt, os.path.join(mnt, "ro")):
                for _ in range(8):
                    if not mounted(point):
                        break
                    subprocess.run(["umount", "-l", point],
                                   capture_output=True)
            for pid in daemons(mnt):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


@pytest.fixture
def mounts(pfs):
    m = Mounts(pfs)
    yield m
    m.cleanup()


def mkdir(path):
    os.makedirs(path, exist_ok=True)
    return os.fspath(path)


# ---- images --------------------------------------------------------------

@pytest.fixture(scope="session")
def corner_images(pfs, corner_tree, tmp_path_factory):
    """The corner tree built plain (tag plain), with -c (tag zstd), with
    -c and one frame per chunk (tag zstd-whole), and without mtimes (tag
    none)."""
    oci = os.fspath(tmp_path_factory.mktemp("fuse-corner") / "oci")
    pfs.build(corner_tree, f"{oci}:plain")
    pfs.build(corner_tree, f"{oci}:none", "--mtime", "none")
    pfs.build(corner_tree, f"{oci}:zstd", "-c")
    pfs.build(corner_tree, f"{oci}:zstd-whole", "-c", "--frame-size", "256K")
    return oci


def chunk_map(pfs, ref):
    """ino -> [(digest, offset, len, compressed)] of a single-layer image."""
    d = json.loads(pfs.run("dump", ref).stdout)
    out = {}
    for layer in reversed(d["metadatas"]):
        for i in layer:
            if i.get("type") == "file":
                out[i["ino"]] = [(c["digest"], c["offset"], c["len"],
                                  c["compressed"]) for c in i["chunks"]]
    return out


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def drop_cache(fd):
    """Make the next reads go to the daemon, not the page cache."""
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


# ---- acceptance 1: the corner tree ---------------------------------------

@pytest.mark.parametrize("tag", ["plain", "zstd", "zstd-whole"])
def test_corner_tree(pfs, mounts, corner_tree, corner_images, tmp_path, tag):
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{corner_images}:{tag}", mnt)
    want = pfs.listing(corner_tree, nlink=True, mtime=True)
    got = pfs.listing(mnt, nlink=True, mtime=True)
    tree.compare(want, got)
    # Hard links are one inode: the same st_ino everywhere.
    inos = {os.lstat(os.path.join(mnt, p)).st_ino
            for p in ("hard/first", "hard/other/second", "sizes/third-link")}
    assert len(inos) == 1


def test_semantics(pfs, mounts, corner_images, tmp_path):
    """st_ino is the puzzlefs inode (root 1), the mtime as atime and ctime
    too, one timestamp for the whole mount of an image without mtimes,
    blksize 4096, blocks, sizes of symlinks and directories."""
    none = mkdir(tmp_path / "none")
    mounts.mount(f"{corner_images}:none", none)
    ref = f"{corner_images}:plain"
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(ref, mnt)
    assert os.stat(mnt).st_ino == 1
    entries = {e["path"]: e for e in json.loads(
        pfs.run("ls", "-R", "--json", ref).stdout) if "path" in e}
    stamps = set()
    for path, e in entries.items():
        st = os.lstat(mnt + path)
        assert st.st_ino == e["ino"], path
        assert st.st_blksize == 4096, path
        assert st.st_mtime_ns == e["mtime"] * 10**9 + e["mtime_nsec"], path
        assert st.st_atime_ns == st.st_ctime_ns == st.st_mtime_ns, path
        st = os.lstat(none + path)
        stamps.add((st.st_mtime_ns, st.st_atime_ns, st.st_ctime_ns))
        if stat.S_ISREG(st.st_mode):
            assert st.st_blocks == (st.st_size + 511) // 512, path
        if stat.S_ISLNK(st.st_mode):
            assert st.st_size == len(os.readlink(mnt + path)), path
    assert len(stamps) == 1 and len(set(stamps.pop())) == 1
    assert os.stat(mnt + "/wide").st_size == 3000
    assert os.stat(mnt + "/empty-dir").st_size == 0
    # Reads at and past the end, and a read of a directory.
    fd = os.open(mnt + "/sizes/one", os.O_RDONLY)
    assert os.pread(fd, 10, 0) == b"x"
    assert os.pread(fd, 10, 1) == b""
    assert os.pread(fd, 10, 1 << 40) == b""
    os.close(fd)
    with pytest.raises(IsADirectoryError):
        read_file(mnt + "/wide")


def test_statfs(pfs, mounts, corner_tree, corner_images, tmp_path):
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{corner_images}:plain", mnt)
    inodes, blocks = set(), 0
    for root, dirs, files in os.walk(corner_tree):
        for name in [root] + [os.path.join(root, f) for f in files + dirs]:
            st = os.lstat(name)
            if st.st_ino not in inodes and stat.S_ISREG(st.st_mode):
                blocks += math.ceil(st.st_size / 4096)
            inodes.add(st.st_ino)
    v = os.statvfs(mnt)
    assert (v.f_bsize, v.f_frsize, v.f_namemax) == (4096, 4096, 255)
    assert (v.f_blocks, v.f_files) == (blocks, len(inodes))
    assert (v.f_bfree, v.f_bavail, v.f_ffree) == (0, 0, 0)


class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


libc.opendir.restype = ctypes.c_void_p
libc.opendir.argtypes = [ctypes.c_char_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.telldir.argtypes = [ctypes.c_void_p]
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.closedir.argtypes = [ctypes.c_void_p]


def read_entries(d, n=None):
    out = []
    while n is None or len(out) < n:
        e = libc.readdir(d)
        if not e:
            break
        out.append((e.contents.d_name, e.contents.d_ino))
    return out


def test_readdir_dots(mounts, corner_images, tmp_path):
    """"." and ".." come first, with the inode numbers of the directory
    and its parent."""
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{corner_images}:plain", mnt)
    for path, parent in (("", ""), ("/hard/other", "/hard"),
                         ("/deep/level00", "/deep")):
        os.stat(mnt + path)     # looked up through its parent
        d = libc.opendir(os.fsencode(mnt + path))
        assert d
        got = read_entries(d)
        libc.closedir(d)
        assert got[0] == (b".", os.stat(mnt + path).st_ino)
        assert got[1] == (b"..", os.stat(mnt + parent).st_ino)
        names = sorted(n for n, _ in got[2:])
        assert names == sorted(os.fsencode(n) for n in os.listdir(mnt + path))


def test_readdir_offsets(mounts, corner_images, tmp_path):
    """telldir() positions stay valid, in the same and in a new stream."""
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{corner_images}:zstd", mnt)
    path = os.fsencode(mnt + "/wide")
    d = libc.opendir(path)
    first = read_entries(d, 1234)
    pos = libc.telldir(d)
    rest = read_entries(d)
    assert len(first) + len(rest) == 3002
    libc.seekdir(d, pos)
    assert read_entries(d) == rest
    libc.closedir(d)
    d = libc.opendir(path)
    libc.seekdir(d, pos)
    assert read_entries(d) == rest
    libc.closedir(d)


def test_xattr_sizes(mounts, corner_images, tmp_path):
    """The size query and ERANGE, for getxattr and listxattr."""
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{corner_images}:plain", mnt)
    path = os.fsencode(mnt + "/xattrs/file")
    name = b"user.binary"
    assert libc.lgetxattr(path, name, None, 0) == 256
    small = ctypes.create_string_buffer(255)
    assert libc.lgetxattr(path, name, small, 255) == -1
    assert ctypes.get_errno() == errno.ERANGE
    big = ctypes.create_string_buffer(256)
    assert libc.lgetxattr(path, name, big, 256) == 256
    assert big.raw == bytes(range(256))
    assert libc.lgetxattr(path, b"user.empty", None, 0) == 0
    assert libc.lgetxattr(path, b"user.none", None, 0) == -1
    assert ctypes.get_errno() == errno.ENODATA
    n = libc.llistxattr(path, None, 0)
    keys = b"trusted.secret\0user.binary\0user.empty\0user.text\0"
    assert n == len(keys)
    buf = ctypes.create_string_buffer(n)
    assert libc.llistxattr(path, buf, n - 1) == -1
    assert ctypes.get_errno() == errno.ERANGE
    assert libc.llistxattr(path, buf, n) == n
    assert sorted(buf.raw.split(b"\0")[:-1]) == sorted(keys.split(b"\0")[:-1])
    assert libc.llistxattr(os.fsencode(mnt + "/empty-dir"), None, 0) == 0
    link = os.fsencode(mnt + "/xattrs/link")
    assert os.getxattr(link, "trusted.on-symlink", follow_symlinks=False) \
        == b"link value"


@pytest.mark.parametrize("flag", ["ro", "rw"])
def test_erofs(mounts, corner_images, tmp_path, flag):
    """Every modification fails with EROFS: refused by the kernel on the
    default read-only mount, by the daemon on an -o rw mount."""
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{corner_images}:plain", mnt, "-o", flag)
    f, d = mnt + "/sizes/one", mnt + "/hard"
    attempts = [
        lambda: os.open(f, os.O_WRONLY),
        lambda: os.open(f, os.O_RDWR),
        lambda: os.open(f, os.O_RDONLY | os.O_TRUNC),
        lambda: os.open(d + "/new", os.O_WRONLY | os.O_CREAT, 0o644),
        lambda: os.truncate(f, 0),
        lambda: os.mkdir(d + "/newdir"),
        lambda: os.unlink(f),
        lambda: os.rmdir(mnt + "/empty-dir"),
        lambda: os.rename(f, d + "/moved"),
        lambda: os.link(f, d + "/linked"),
        lambda: os.symlink("x", d + "/sym"),
        lambda: os.mknod(d + "/fifo", 0o644 | stat.S_IFIFO),
        lambda: os.chmod(f, 0o600),
        lambda: os.chown(f, 1, 1),
        lambda: os.utime(f, (1, 1)),
        lambda: os.setxattr(f, "user.new", b"v"),
        lambda: os.removexattr(mnt + "/xattrs/file", "user.text"),
    ]
    for i, attempt in enumerate(attempts):
        with pytest.raises(OSError) as e:
            attempt()
        assert e.value.errno == errno.EROFS, i
    assert read_file(f) == b"x"


def test_access(mounts, corner_images):
    """access(2) checks the mode bits for other users (allow_other without
    default_permissions) and says EROFS for W_OK."""
    mnt = tempfile.mkdtemp()
    os.chmod(mnt, 0o755)
    try:
        mounts.mount(f"{corner_images}:plain", mnt, "-o", "allow_other")
        for path, ok in (("/modes/ro", True), ("/modes/none", False),
                         ("/modes/foreign", True)):
            r = subprocess.run(as_nobody("test", "-r", mnt + path))
            assert (r.returncode == 0) == ok, path
        assert os.access(mnt + "/modes/none", os.R_OK)     # root
        assert not os.access(mnt + "/modes/ro", os.W_OK)
        assert subprocess.run(as_nobody(
            "test", "-x", mnt + "/modes/closed-dir")).returncode == 0
    finally:
        mounts.cleanup()
        os.rmdir(mnt)


# ---- acceptance 2: reads -------------------------------------------------

def read_plan(rng, size, chunks):
    """(offset, length) pairs: around every chunk and 4 KiB frame boundary
    (in file offsets), plus random ones of 1 B .. 1 MiB."""
    bounds, pos = set(), 0
    for _, off, length, compressed in chunks:
        bounds.add(pos)
        if compressed:
            # Frames are 4 KiB of the blob's data; the chunk starts at off.
            first = pos + (-off) % 4096
            bounds.update(range(first, pos + length, 4096))
        pos += length
    assert pos == size
    plan = []
    for b in sorted(bounds):
        for d in (-1, 0, 1):
            if 0 <= b + d < size:
                plan.append((b + d, rng.choice([1, 2, 4095, 4097, 70000])))
    plan = rng.sample(plan, min(len(plan), 400))
    for _ in range(200):
        n = int(2 ** rng.uniform(0, 20))
        plan.append((rng.randrange(0, size + 10), n))
    plan.append((size - 1, MIB))
    plan.append((0, size))
    return plan


@pytest.mark.parametrize("tag", ["plain", "zstd", "zstd-whole"])
def test_random_reads(pfs, mounts, corner_tree, corner_images, tmp_path, tag):
    ref = f"{corner_images}:{tag}"
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(ref, mnt)
    chunks = chunk_map(pfs, ref)
    # Files of 32 chunks or more are seeked by binary search over their
    # chunks' end offsets (PFS_SEEK_ENDS_MIN), others by a walk: both run.
    counts = sorted(len(c) for c in chunks.values())
    assert counts[0] < 32 <= counts[-1], counts
    rng = random.Random(3)
    for name in ("big-random", "big-text", "sparse", "dup-b",
                 "sizes/rand-262145", "sizes/text-65537"):
        src = read_file(os.path.join(corner_tree, name))
        ino = os.stat(os.path.join(mnt, name)).st_ino
        fd = os.open(os.path.join(mnt, name), os.O_RDONLY)
        try:
            for i, (off, n) in enumerate(read_plan(rng, len(src),
                                                   chunks[ino])):
                if i % 16 == 0:
                    drop_cache(fd)
                assert os.pread(fd, n, off) == src[off:off + n], \
                    (name, off, n)
        finally:
            os.close(fd)


@pytest.mark.slow
def test_concurrent_readers(mounts, corner_tree, corner_images, tmp_path):
    """8 readers of random ranges for SOAK_SECONDS (60: the issue's
    figure), with a small chunk cache so that blobs are evicted and loaded
    again all the time; every byte must match."""
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{corner_images}:zstd", mnt, "-o", "cache_size=1M")
    names = ["big-random", "big-text", "sparse", "dup-a", "dup-b"] + [
        f"sizes/rand-{n}" for n in tree.BOUNDARY_SIZES]
    src = {n: read_file(os.path.join(corner_tree, n)) for n in names}
    deadline = time.monotonic() + SOAK_SECONDS
    errors, counts = [], [0] * 8

    def reader(k):
        rng = random.Random(k)
        fds = {n: os.open(os.path.join(mnt, n), os.O_RDONLY) for n in names}
        try:
            while time.monotonic() < deadline and not errors:
                n = rng.choice(names)
                data = src[n]
                off = rng.randrange(0, len(data) + 1)
                size = int(2 ** rng.uniform(0, 20))
                drop_cache(fds[n])
                got = os.pread(fds[n], size, off)
                if got != data[off:off + size]:
                    errors.append((n, off, size))
                counts[k] += 1
        except OSError as e:
            errors.append(repr(e))
        finally:
            for fd in fds.values():
                os.close(fd)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:5]
    assert all(counts), counts


# ---- acceptance 3: deltas and the reference's images ---------------------

def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def make_delta_trees(base, new):
    rng = random.Random(5)
    j = os.path.join
    write(j(base, "keep", "big"), rng.randbytes(700 * KIB))
    write(j(base, "keep", "small"), b"unchanged\n")
    write(j(base, "gone", "sub", "file"), b"deleted with its directory\n")
    write(j(base, "file"), b"deleted file\n")
    write(j(base, "changes"), rng.randbytes(100 * KIB))
    write(j(base, "mode"), b"mode changes\n")
    write(j(base, "file2dir"), b"becomes a directory\n")
    os.symlink("old-target", j(base, "link"))
    write(j(base, "hard", "a"), b"linked later\n")
    write(j(base, "hard", "b"), b"linked later\n")
    shutil.copytree(base, new, symlinks=True)
    shutil.rmtree(j(new, "gone"))
    os.unlink(j(new, "file"))
    write(j(new, "changes"), rng.randbytes(120 * KIB))
    os.chmod(j(new, "mode"), 0o600)
    os.unlink(j(new, "file2dir"))
    write(j(new, "file2dir", "inside"), b"now a directory\n")
    os.unlink(j(new, "link"))
    os.symlink("new-target", j(new, "link"))
    os.unlink(j(new, "hard", "b"))
    os.link(j(new, "hard", "a"), j(new, "hard", "b"))
    write(j(new, "added", "deep", "file"), b"new file\n")


@pytest.mark.parametrize("opts", [(), ("-c",)], ids=["plain", "zstd"])
def test_delta(pfs, mounts, tmp_path, opts):
    base, new = tmp_path / "base", tmp_path / "new"
    make_delta_trees(base, new)
    oci = tmp_path / "oci"
    pfs.build(base, f"{oci}:base", *opts)
    pfs.build(new, f"{oci}:new", "-b", "base", *opts)
    for tag, src in (("new", new), ("base", base)):
        mnt = mkdir(tmp_path / f"mnt-{tag}")
        mounts.mount(f"{oci}:{tag}", mnt)
        tree.compare(pfs.listing(src, nlink=True),
                     pfs.listing(mnt, nlink=True))


def test_delta_chain(pfs, mounts, tmp_path):
    """Thirteen layers (a base and twelve deltas, each on the previous):
    above PFS_LAYERS_SCAN (8) layers inodes are found through an index of
    every layer; both ways serve each generation's tree."""
    src, oci = tmp_path / "src", tmp_path / "oci"
    make_delta_trees(tmp_path / "unused", src)
    pfs.build(src, f"{oci}:g00")
    listings = {0: pfs.listing(src, nlink=True)}
    for g in range(1, 13):
        tree.next_generation(src, g)
        pfs.build(src, f"{oci}:g{g:02d}", "-b", f"g{g - 1:02d}")
        listings[g] = pfs.listing(src, nlink=True)
    top = json.loads(pfs.run("dump", f"{oci}:g12").stdout)
    assert len(top["metadatas"]) == 13
    for g in (7, 8, 12):
        mnt = mkdir(tmp_path / f"mnt-{g}")
        mounts.mount(f"{oci}:g{g:02d}", mnt)
        tree.compare(listings[g], pfs.listing(mnt, nlink=True))


def test_merged_directory(pfs, mounts, tmp_path):
    """A lookBelow directory (crafted: no writer sets it) lists and looks
    up its merged versions: upper names win, whiteouts hide names."""
    src, oci = tmp_path / "src", tmp_path / "oci"
    crafted.make_merged_tree(src)
    pfs.build(src, f"{oci}:t")
    o = ocidir.Oci(oci)
    o.retag("t", "merged", rootfs=crafted.merged_rootfs(o.rootfs("t")))
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{oci}:merged", mnt)
    crafted.make_merged_expected(src, tmp_path / "expected")
    tree.compare(pfs.listing(tmp_path / "expected", nlink=True),
                 pfs.listing(mnt, nlink=True))
    for gone in ("f2", "f3"):
        assert not os.path.lexists(os.path.join(mnt, "d", gone))


def reference_listing(tag):
    with open(os.path.join(REFERENCE, tag[:2] + ".listing.json")) as f:
        return {e["path"]: e for e in json.load(f)}


@pytest.mark.parametrize("tag", ["v0", "v0-zstd", "v1", "v1-zstd"])
def test_reference_tags(pfs, mounts, reference_demo, tmp_path, tag):
    """The Rust reference's images, delta tags included (whiteouts listed
    first in their directories), mount as their expected listings say."""
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{reference_demo}:{tag}", mnt)
    # The expected listings carry user.* xattrs only.
    got = json.loads(subprocess.run([pfs.treelist, mnt], check=True,
                                    capture_output=True).stdout)
    assert {e["path"]: e for e in got} == reference_listing(tag)


# ---- acceptance 4: the command -------------------------------------------

def test_background_ready(pfs, mounts, corner_images, tmp_path):
    """On return the mount is there and answers; the daemon is detached
    (its own session) and exits after umount."""
    mnt = mkdir(tmp_path / "mnt")
    r = mounts.mount(f"{corner_images}:plain", mnt)
    assert (r.stdout, r.stderr) == (b"", b"")
    assert mounted(mnt) == ("fuse.puzzlefs", f"{corner_images}:plain")
    assert read_file(mnt + "/hard/first") == b"hard linked content\n"
    pids = daemons(mnt)
    assert len(pids) == 1
    assert os.getsid(pids[0]) != os.getsid(0)
    with open("/proc/self/mountinfo") as f:
        opts = [l.split()[5] for l in f if l.split()[4] == mnt]
    assert opts[-1].split(",")[:3] == ["ro", "nosuid", "nodev"]
    pfs.run("umount", mnt)
    assert mounted(mnt) is None
    wait_until(lambda: not daemons(mnt), "daemon exit after umount")


def corrupt_blob(oci, digest):
    path = ocidir.Oci(oci).blob_path(digest)
    data = bytearray(read_file(path))
    data[len(data) // 2] ^= 0x01
    os.chmod(path, 0o644)
    with open(path, "wb") as f:
        f.write(data)
    return digest


def rootless_tag(oci, base, tag):
    """A tag whose rootfs decodes but has no inode 1 (opening it works)."""
    o = ocidir.Oci(oci)
    root = capnp_msg.decode(o.rootfs(base))
    inodes = root.ptrs[0].items[0].ptrs[0]
    inodes.items = inodes.items[1:]
    inodes.count -= 1
    o.retag(base, tag, rootfs=capnp_msg.encode(root))


@pytest.mark.parametrize("case", ["unknown-tag", "corrupt-rootfs",
                                  "corrupt-manifest", "missing-mountpoint",
                                  "file-mountpoint",
                                  "already-mounted", "no-root-inode",
                                  "overlay-fails", "missing-oci-dir"])
def test_mount_fails(pfs, mounts, corner_tree, tmp_path, case):
    """Failures exit 1 with a message naming what is wrong, and leave
    nothing mounted and no daemon behind."""
    oci = os.fspath(tmp_path / "oci")
    pfs.build(os.path.join(corner_tree, "hard"), f"{oci}:t")
    mnt = mkdir(tmp_path / "mnt")
    ref, opts, want = f"{oci}:t", [], None
    if case == "unknown-tag":
        ref, want = f"{oci}:nope", "no tag 'nope'"
    elif case == "corrupt-rootfs":
        want = corrupt_blob(oci, ocidir.Oci(oci).rootfs_digest("t"))
    elif case == "corrupt-manifest":
        want = corrupt_blob(oci, ocidir.Oci(oci).manifest_digest("t"))
    elif case == "missing-mountpoint":
        mnt, want = os.fspath(tmp_path / "nowhere"), "No such file"
    elif case == "file-mountpoint":
        mnt = os.fspath(tmp_path / "file")
        write(mnt, b"")
        want = "not a directory"
    elif case == "already-mounted":
        mounts.mount(ref, mnt)
        want = "already mounted"
    elif case == "no-root-inode":
        rootless_tag(oci, "t", "rootless")
        ref, want = f"{oci}:rootless", "rootless: no root directory"
    elif case == "overlay-fails":
        write(os.path.join(mnt, "work"), b"not a directory")
        opts, want = ["-w"], "overlay"
    elif case == "missing-oci-dir":
        ref, want = f"{tmp_path}/nowhere:t", "nowhere"
    r = mounts.mount(ref, mnt, *opts, check=False)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, err
    assert err.startswith("puzzlefs: mount: ") and want in err, err
    if case == "already-mounted":
        assert read_file(mnt + "/first") == b"hard linked content\n"
        return
    for point in (mnt, os.path.join(mnt, "ro")):
        assert mounted(point) is None, point
    wait_until(lambda: not daemons(mnt), "no daemon left")


def test_bad_usage(pfs, corner_images, tmp_path):
    mnt = mkdir(tmp_path / "mnt")
    ref = f"{corner_images}:plain"
    for args in (["-o", "bogus"], ["-o", "cache_size=lots"], ["-f", "-w"],
                 ["-d", "xyz"], ["-i", os.fspath(tmp_path)],
                 ["--kernel", "-w"], ["-o", "allow_other,allow_root"]):
        r = pfs.run("mount", *args, ref, mnt, check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert mounted(mnt) is None
    r = pfs.run("mount", ref, check=False)
    assert r.returncode == 2
    for cmd in ("mount", "umount"):
        r = pfs.run(cmd, "--help")
        assert r.stdout.startswith(f"Usage: puzzlefs {cmd} ".encode())


def read_fifo(path):
    """One byte from a FIFO; the guard only prevents a hang."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        poll = select.poll()
        poll.register(fd, select.POLLIN)
        assert poll.poll(HANG * 1000), "hang: nothing written to the FIFO"
        return os.read(fd, 1)
    finally:
        os.close(fd)


@pytest.mark.parametrize("mode", ["background", "foreground"])
@pytest.mark.parametrize("outcome", ["s", "f"])
def test_init_pipe(pfs, mounts, corner_images, tmp_path, mode, outcome):
    """-i FIFO gets 's' once the mount is ready, 'f' when it fails."""
    fifo = os.fspath(tmp_path / "fifo")
    os.mkfifo(fifo)
    mnt = mkdir(tmp_path / "mnt")
    ref = f"{corner_images}:{'plain' if outcome == 's' else 'nope'}"
    if mode == "foreground":
        p = mounts.foreground(ref, mnt, "-i", fifo)
    else:
        p = subprocess.Popen([pfs.exe, "mount", "-i", fifo, ref, mnt],
                             stderr=subprocess.PIPE)
        mounts.points.append(mnt)
        mounts.procs.append(p)
    assert read_fifo(fifo) == outcome.encode()
    if outcome == "s":
        assert mounted(mnt)[0] == "fuse.puzzlefs"
        assert read_file(mnt + "/sizes/one") == b"x"
        if mode == "background":
            assert p.wait(timeout=HANG) == 0
    else:
        assert p.wait(timeout=HANG) == 1
        assert b"no tag 'nope'" in p.stderr.read()
        assert mounted(mnt) is None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_foreground_signal(mounts, corner_images, tmp_path, sig):
    """-f serves until SIGTERM/SIGINT, then unmounts and exits 0."""
    fifo = os.fspath(tmp_path / "fifo")
    os.mkfifo(fifo)
    mnt = mkdir(tmp_path / "mnt")
    p = mounts.foreground(f"{corner_images}:plain", mnt, "-i", fifo)
    assert read_fifo(fifo) == b"s"
    assert read_file(mnt + "/sizes/one") == b"x"
    assert p.poll() is None
    p.send_signal(sig)
    assert p.wait(timeout=HANG) == 0
    assert p.stderr.read() == b""
    assert mounted(mnt) is None


def test_foreground_external_umount(pfs, mounts, corner_images, tmp_path):
    """-f also ends, with status 0, when the mount is unmounted."""
    fifo = os.fspath(tmp_path / "fifo")
    os.mkfifo(fifo)
    mnt = mkdir(tmp_path / "mnt")
    p = mounts.foreground(f"{corner_images}:plain", mnt, "-i", fifo)
    assert read_fifo(fifo) == b"s"
    pfs.run("umount", mnt)
    assert p.wait(timeout=HANG) == 0
    assert mounted(mnt) is None


def test_umount_fuse(pfs, mounts, corner_images, tmp_path):
    """umount: errors for what is not ours, busy mounts, --lazy, and a
    mount whose daemon died."""
    mnt = mkdir(tmp_path / "mnt")
    r = pfs.run("umount", mnt, check=False)
    assert r.returncode == 1 and b"not mounted" in r.stderr
    r = pfs.run("umount", "/proc", check=False)
    assert r.returncode == 1 and b"not a puzzlefs mount" in r.stderr
    mounts.mount(f"{corner_images}:plain", mnt)
    with open(mnt + "/sizes/one", "rb"):
        r = pfs.run("umount", mnt, check=False)
        assert r.returncode == 1 and b"busy" in r.stderr
        assert mounted(mnt)
        pfs.run("umount", "--lazy", mnt)
        assert mounted(mnt) is None
    wait_until(lambda: not daemons(mnt), "daemon exit after umount")
    # A dead mount (daemon killed) is still unmounted, by a relative path.
    mounts.mount(f"{corner_images}:plain", mnt)
    pid, = daemons(mnt)
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not daemons(mnt), "daemon killed")
    pfs.run("umount", os.path.relpath(mnt))
    assert mounted(mnt) is None


# ---- acceptance 5: writable overlays -------------------------------------

def tree_digest(path):
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        for name in sorted(files):
            p = os.path.join(root, name)
            h.update(p.encode() + read_file(p))
    return h.hexdigest()


def test_writable(pfs, mounts, corner_tree, tmp_path):
    oci = os.fspath(tmp_path / "oci")
    pfs.build(os.path.join(corner_tree, "xattrs"), f"{oci}:t")
    before = tree_digest(oci)
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{oci}:t", mnt, "-w")
    assert mounted(mnt)[0] == "overlay"
    assert mounted(mnt + "/ro")[0] == "fuse.puzzlefs"
    write(mnt + "/new", b"new file\n")
    with open(mnt + "/file", "ab") as f:
        f.write(b"appended\n")
    os.unlink(mnt + "/link")
    assert read_file(mnt + "/file") == b"has xattrs\nappended\n"
    assert os.getxattr(mnt + "/file", "user.text") == b"some value"
    pfs.run("umount", mnt)
    assert mounted(mnt) is None and mounted(mnt + "/ro") is None
    wait_until(lambda: not daemons(mnt + "/ro") and not daemons(mnt),
               "daemon exit")
    assert read_file(mnt + "/upper/new") == b"new file\n"
    assert read_file(mnt + "/upper/file") == b"has xattrs\nappended\n"
    assert os.path.isdir(mnt + "/work") and os.path.isdir(mnt + "/ro")
    assert tree_digest(oci) == before
    # The image itself is unchanged.
    plain = mkdir(tmp_path / "plain")
    mounts.mount(f"{oci}:t", plain)
    assert read_file(plain + "/file") == b"has xattrs\n"
    assert not os.path.exists(plain + "/new")


def test_persist(pfs, mounts, corner_tree, tmp_path):
    oci = os.fspath(tmp_path / "oci")
    pfs.build(os.path.join(corner_tree, "hard"), f"{oci}:t")
    before = tree_digest(oci)
    mnt = mkdir(tmp_path / "mnt")
    upper = os.fspath(tmp_path / "keep" / "upper")     # created by -p
    mounts.mount(f"{oci}:t", mnt, "-p", upper)
    write(mnt + "/other/new", b"persisted\n")
    os.unlink(mnt + "/first")
    assert read_file(upper + "/other/new") == b"persisted\n"
    pfs.run("umount", mnt)
    assert mounted(mnt) is None and mounted(mnt + "/ro") is None
    # Remounted with the same upper dir: the earlier writes are there.
    mounts.mount(f"{oci}:t", mnt, "-o", f"persist={upper}")
    assert read_file(mnt + "/other/new") == b"persisted\n"
    assert not os.path.exists(mnt + "/first")
    assert read_file(mnt + "/other/second") == b"hard linked content\n"
    pfs.run("umount", mnt)
    assert tree_digest(oci) == before


# ---- acceptance 7: a corrupted chunk -------------------------------------

@pytest.mark.parametrize("tag", ["plain", "zstd"])
def test_corrupt_chunk(pfs, mounts, corner_tree, corner_images, tmp_path,
                       tag):
    """Reads touching the corrupted blob fail with EIO and a log line
    naming it; everything else reads fine and the daemon keeps serving."""
    oci = os.fspath(tmp_path / "oci")
    shutil.copytree(corner_images, oci)
    ref = f"{oci}:{tag}"
    chunks = chunk_map(pfs, ref)
    mnt = mkdir(tmp_path / "mnt")
    log = open(tmp_path / "stderr", "w+b")
    fifo = os.fspath(tmp_path / "fifo")
    os.mkfifo(fifo)
    p = mounts.foreground(ref, mnt, "-i", fifo, stderr=log)
    assert read_fifo(fifo) == b"s"
    ino = os.stat(mnt + "/big-random").st_ino
    digest, _, _, _ = chunks[ino][len(chunks[ino]) // 2]
    o = ocidir.Oci(oci)
    data = bytearray(o.blob(digest))
    data[len(data) // 3] ^= 1
    os.chmod(o.blob_path(digest), 0o644)
    with open(o.blob_path(digest), "wb") as f:
        f.write(data)
    src = read_file(os.path.join(corner_tree, "big-random"))
    bad, pos = [], 0
    for d, _, length, _ in chunks[ino]:
        if d == digest:
            bad.append((pos, pos + length))
        pos += length
    # The kernel reads whole pages: a page shared with the bad chunk fails.
    bad = [(lo & ~4095, (hi + 4095) & ~4095) for lo, hi in bad]
    fd = os.open(mnt + "/big-random", os.O_RDONLY)
    for lo, hi in bad:
        drop_cache(fd)
        with pytest.raises(OSError) as e:
            os.pread(fd, 1, (lo + hi) // 2)
        assert e.value.errno == errno.EIO
    good, start = [], 0
    for lo, hi in sorted(bad):
        good.append((start, lo))
        start = hi
    good.append((start, len(src)))
    for lo, hi in good:
        drop_cache(fd)
        if lo < hi:
            assert os.pread(fd, hi - lo, lo) == src[lo:hi], (lo, hi)
    os.close(fd)
    # Every file not using the blob still reads in full.
    by_ino = {}
    for root, dirs, files in os.walk(corner_tree):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), corner_tree)
            st = os.lstat(os.path.join(mnt, rel))
            if stat.S_ISREG(st.st_mode):
                by_ino.setdefault(st.st_ino, rel)
    for ino2, rel in by_ino.items():
        if all(c[0] != digest for c in chunks.get(ino2, [])):
            assert read_file(os.path.join(mnt, rel)) == \
                read_file(os.path.join(corner_tree, rel)), rel
    assert p.poll() is None
    p.terminate()
    assert p.wait(timeout=HANG) == 0
    log.seek(0)
    err = log.read().decode()
    assert f"blob {digest}: content does not match its sha256" in err, err
    assert mounted(mnt) is None


@pytest.fixture
def syslog_socket():
    """A datagram socket at /dev/log (this host has no syslog daemon)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind("/dev/log")
    except OSError:
        sock.close()
        pytest.skip("/dev/log exists: a syslog daemon runs here")
    try:
        yield sock
    finally:
        sock.close()
        os.unlink("/dev/log")


def test_background_syslog(pfs, mounts, corner_images, tmp_path,
                           syslog_socket):
    """The background daemon logs to syslog: the corrupted blob's name."""
    oci = os.fspath(tmp_path / "oci")
    shutil.copytree(corner_images, oci)
    ref = f"{oci}:plain"
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(ref, mnt)
    digest = chunk_map(pfs, ref)[os.stat(mnt + "/big-text").st_ino][0][0]
    o = ocidir.Oci(oci)
    os.chmod(o.blob_path(digest), 0o644)
    with open(o.blob_path(digest), "r+b") as f:
        f.write(b"X")
    with pytest.raises(OSError) as e:
        read_file(mnt + "/big-text")
    assert e.value.errno == errno.EIO
    syslog_socket.settimeout(HANG)
    want = f"blob {digest}: content does not match its sha256"
    while True:     # other programs may log too
        msg = syslog_socket.recv(65536).decode(errors="replace")
        if want in msg:
            break
    assert "puzzlefs[" in msg and mnt in msg, msg
    assert read_file(mnt + "/sizes/one") == b"x"


def test_kernel_dispatch(pfs, corner_images, tmp_path):
    """--kernel goes to the kernel driver's mount, with its own -o."""
    with open("/proc/filesystems") as f:
        if any(l.split()[-1] == "puzzlefs" for l in f):
            pytest.skip("puzzlefs.ko is loaded: tested by the kernel tests")
    mnt = mkdir(tmp_path / "mnt")
    r = pfs.run("mount", "--kernel", "-o", "cache_mb=4",
                f"{corner_images}:plain", mnt, check=False)
    assert r.returncode == 1
    assert r.stderr.startswith(b"puzzlefs: mount: ") and \
        b"kernel" in r.stderr, r.stderr
    assert mounted(mnt) is None


# ---- the mount(8) helper, fstab ------------------------------------------

@pytest.fixture
def helper():
    """/sbin/mount.fuse.puzzlefs -> this build's helper, for the test."""
    mine = os.path.join(BUILD, "mount.fuse.puzzlefs")
    path = "/sbin/mount.fuse.puzzlefs"
    if os.path.lexists(path):
        if os.path.realpath(path) != os.path.realpath(mine):
            pytest.skip(f"{path} is another installation's")
        yield path
        return
    os.symlink(mine, path)
    try:
        yield path
    finally:
        os.unlink(path)


def test_mount_helper(pfs, mounts, helper, corner_tree, corner_images,
                      tmp_path):
    ref = f"{corner_images}:zstd"
    mnt = mkdir(tmp_path / "mnt")
    mounts.points.append(mnt)
    subprocess.run(["mount", "-t", "fuse.puzzlefs", ref, mnt], check=True)
    with open("/proc/self/mountinfo") as f:
        line = [l for l in f if l.split()[4] == mnt][-1]
    assert line.split()[5].startswith("ro,")    # mount(8) said rw
    tree.compare(pfs.listing(corner_tree), pfs.listing(mnt))
    subprocess.run(["umount", mnt], check=True)
    assert mounted(mnt) is None
    # fstab, with options of mount(8), FUSE and ours.
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{ref} {mnt} fuse.puzzlefs "
                     "defaults,noauto,allow_other,cache_size=8M 0 0\n")
    subprocess.run(["mount", "-T", fstab, mnt], check=True)
    with open("/proc/self/mountinfo") as f:
        line = [l for l in f if l.split()[4] == mnt][-1]
    assert "allow_other" in line
    assert read_file(mnt + "/sizes/one") == b"x"
    pfs.run("umount", mnt)
    # A writable overlay from fstab.
    fstab.write_text(f"{ref} {mnt} fuse.puzzlefs writable 0 0\n")
    subprocess.run(["mount", "-T", fstab, mnt], check=True)
    assert mounted(mnt)[0] == "overlay"
    write(mnt + "/new", b"x")
    pfs.run("umount", mnt)
    assert read_file(mnt + "/upper/new") == b"x"


# ---- fs-verity mode (the host has no fs-verity: always refused) ----------

def test_verity_refused(pfs, mounts, corner_tree, tmp_path):
    oci = os.fspath(tmp_path / "oci")
    digest = pfs.build(os.path.join(corner_tree, "hard"), f"{oci}:t")
    mnt = mkdir(tmp_path / "mnt")
    for d in (digest, "0" * 64):
        r = mounts.mount(f"{oci}:t", mnt, "-d", d, check=False)
        assert r.returncode == 1
        assert r.stderr.startswith(b"puzzlefs: mount: ")
        assert mounted(mnt) is None
