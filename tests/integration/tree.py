"""Test trees and tree comparison shared by the integration tests.

make_corner_tree() builds the corner-case tree of the core issue: every
inode type and the edge cases a container filesystem must carry exactly;
make_mtime_tree() a small one of every type with mtimes of its own.
listing() runs tests/tools/treelist and compare() diffs two listings.
"""
import json
import os
import random
import socket
import stat
import subprocess

KIB = 1024
MIB = 1024 * KIB
_NS = 10**9
# Sizes at and around the 4 KiB frame and the 16/64/256 KiB FastCDC limits.
BOUNDARY_SIZES = [n + d for n in (4 * KIB, 16 * KIB, 64 * KIB, 256 * KIB)
                  for d in (-1, 0, 1)]


def _write(path, data, mode=0o644):
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def _rand(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def make_corner_tree(root, seed=1, big=5 * MIB):
    """Create the corner-case tree under root (must not exist).  Needs root
    privileges for devices, foreign owners and trusted.* xattrs."""
    rng = random.Random(seed)
    os.makedirs(root)
    j = os.path.join
    # Files of every interesting size, random (incompressible) and text.
    os.mkdir(j(root, "sizes"))
    _write(j(root, "sizes", "empty"), b"")
    _write(j(root, "sizes", "one"), b"x")
    for n in BOUNDARY_SIZES:
        _write(j(root, "sizes", f"rand-{n}"), _rand(rng, n))
        _write(j(root, "sizes", f"text-{n}"), (b"puzzlefs %d\n" % n * n)[:n])
    _write(j(root, "big-random"), _rand(rng, big))
    text = b"".join(b"line %08d of a compressible file\n" % i
                    for i in range(big // 40))
    _write(j(root, "big-text"), text)
    dup = _rand(rng, 300 * KIB)
    _write(j(root, "dup-a"), dup)
    _write(j(root, "dup-b"), dup)
    # Sparse file: mostly a hole.
    with open(j(root, "sparse"), "wb") as f:
        f.seek(3 * MIB)
        f.write(b"end of sparse file")
        f.truncate(8 * MIB)
    # A wide directory and a deep one.
    os.mkdir(j(root, "wide"))
    for i in range(3000):
        _write(j(root, "wide", f"f{i:05d}"), b"%d\n" % i)
    deep = j(root, "deep")
    for i in range(40):
        deep = j(deep, f"level{i:02d}")
    os.makedirs(deep)
    _write(j(deep, "bottom"), b"at the bottom\n")
    # Names: 255 bytes, non-UTF-8, newline, spaces and shell metacharacters.
    names = j(root, "names")
    os.mkdir(names)
    for name in (b"n" * 255, b"caf\xe9-latin1", b"\xff\xfe\x80", b"new\nline",
                 b"sp ace", b"$(touch x);'\"", b"\xe2\x98\x83-snowman",
                 b"-dash", b".hidden"):
        _write(os.path.join(names.encode(), name), name)
    # Modes and owners.
    modes = j(root, "modes")
    os.mkdir(modes)
    for name, mode in (("setuid", 0o4755), ("setgid", 0o2755),
                       ("sticky", 0o1755), ("all", 0o7777), ("none", 0o000),
                       ("ro", 0o444)):
        _write(j(modes, name), name.encode(), mode)
        os.chmod(j(modes, name), mode)
    os.mkdir(j(modes, "sticky-dir"))
    os.chmod(j(modes, "sticky-dir"), 0o1777)
    os.mkdir(j(modes, "closed-dir"))
    _write(j(modes, "closed-dir", "inside"), b"inside a 0555 dir\n")
    os.chmod(j(modes, "closed-dir"), 0o555)
    _write(j(modes, "foreign"), b"foreign owner\n")
    os.chown(j(modes, "foreign"), 1234, 5678)
    os.chown(j(modes, "setgid"), 4321, 8765)
    os.chmod(j(modes, "setgid"), 0o2755)
    # Symlinks.
    links = j(root, "links")
    os.mkdir(links)
    os.symlink("../sizes/one", j(links, "relative"))
    os.symlink("/etc/passwd", j(links, "absolute"))
    os.symlink("nowhere/at/all", j(links, "dangling"))
    os.symlink("a/" * 499 + "b", j(links, "long"))      # 1000 bytes
    os.symlink("../links", j(links, "to-dir"))
    os.lchown(j(links, "relative"), 1111, 2222)
    # Hard links across directories.
    os.mkdir(j(root, "hard"))
    os.mkdir(j(root, "hard", "other"))
    _write(j(root, "hard", "first"), b"hard linked content\n")
    os.link(j(root, "hard", "first"), j(root, "hard", "other", "second"))
    os.link(j(root, "hard", "first"), j(root, "sizes", "third-link"))
    # Special files.
    dev = j(root, "dev")
    os.mkdir(dev)
    os.mkfifo(j(dev, "fifo"), 0o640)
    os.mknod(j(dev, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(j(dev, "bigchr"), 0o600 | stat.S_IFCHR, os.makedev(4095, 1048575))
    os.mknod(j(dev, "blk"), 0o660 | stat.S_IFBLK, os.makedev(259, 70000))
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(j(dev, "socket"))
    sock.close()
    # Xattrs: user and trusted, empty and binary values, on several types.
    xa = j(root, "xattrs")
    os.mkdir(xa)
    _write(j(xa, "file"), b"has xattrs\n")
    os.setxattr(j(xa, "file"), "user.empty", b"")
    os.setxattr(j(xa, "file"), "user.binary", bytes(range(256)))
    os.setxattr(j(xa, "file"), "user.text", b"some value")
    os.setxattr(j(xa, "file"), "trusted.secret", b"\x00\x01\x02")
    os.setxattr(xa, "user.on-dir", b"dir value")
    os.setxattr(xa, "trusted.overlay.opaque", b"y")
    os.symlink("file", j(xa, "link"))
    os.setxattr(j(xa, "link"), "trusted.on-symlink", b"link value",
                follow_symlinks=False)
    os.mkdir(j(root, "empty-dir"))
    os.setxattr(root, "user.root", b"root dir xattr")
    return root


def next_generation(root, g):
    """Generation g of a tree that changes a little each time, under gen/: a
    file added and one removed (each delta's whiteout and new entry), one
    rewritten, a mode changed.  For chains of delta builds."""
    j = os.path.join
    os.makedirs(j(root, "gen"), exist_ok=True)
    _write(j(root, "gen", f"added-{g:02d}"), b"generation %d\n" % g)
    if os.path.exists(j(root, "gen", f"added-{g - 3:02d}")):
        os.unlink(j(root, "gen", f"added-{g - 3:02d}"))
    _write(j(root, "gen", "changes"), _rand(random.Random(g), 20 * KIB),
           0o600 if g % 2 else 0o644)


def make_mtime_tree(root):
    """Every inode type with a distinct mtime of its own: nanoseconds,
    before the epoch, past 2038; directories set last (entries made in them
    change theirs)."""
    j = os.path.join
    os.makedirs(j(root, "dir", "sub"))
    os.mkdir(j(root, "empty"))
    times = {
        "dir/file": 1_600_000_000 * _NS + 123_456_789,
        "dir/sub/old": -86_400 * 365 * _NS + 500_000_000,
        "dir/sub/future": 2**33 * _NS + 1,
        "hard1": 1_500_000_000 * _NS + 999_999_999,
        "link": 1_400_000_000 * _NS + 1,
        "dangling": 1_300_000_000 * _NS + 2,
        "fifo": 1_200_000_000 * _NS + 3,
        "null": 1_100_000_000 * _NS + 4,
        "sock": 1_000_000_000 * _NS + 5,
        "zero": 0,
        "dir/sub": 1_700_000_000 * _NS + 6,
        "dir": 1_700_000_001 * _NS + 7,
        "empty": 1_700_000_002 * _NS + 8,
        ".": 1_700_000_003 * _NS + 9,
    }
    for name in ("dir/file", "dir/sub/old", "dir/sub/future", "hard1", "zero"):
        with open(j(root, name), "w") as f:
            f.write(f"{name}\n")
    os.link(j(root, "hard1"), j(root, "dir", "hard2"))
    os.symlink("dir/file", j(root, "link"))
    os.symlink("nowhere", j(root, "dangling"))
    os.mkfifo(j(root, "fifo"))
    os.mknod(j(root, "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    s = socket.socket(socket.AF_UNIX)
    s.bind(j(root, "sock"))
    s.close()
    for name, ns in times.items():
        os.utime(j(root, name), ns=(ns, ns), follow_symlinks=False)
    return times


def listing(treelist, path, nlink=False, mtime=False):
    """Canonical listing of a tree (all xattr namespaces), keyed by path."""
    cmd = [treelist, "--all-xattrs"] + (["--nlink"] if nlink else []) + \
        (["--mtime"] if mtime else []) + [path]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    return {e["path"]: e for e in json.loads(out)}


def compare(a, b, ignore=()):
    """Assert two listings are equal; list the first differences."""
    diffs = []
    for p in sorted(set(a) | set(b)):
        x, y = a.get(p), b.get(p)
        if x is not None and y is not None:
            x = {k: v for k, v in x.items() if k not in ignore}
            y = {k: v for k, v in y.items() if k not in ignore}
        if x != y:
            diffs.append(f"{p!r}:\n  {x}\n  {y}")
    assert not diffs, f"{len(diffs)} paths differ:\n" + "\n".join(diffs[:20])
