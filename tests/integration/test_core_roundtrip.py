"""Acceptance 2: the corner-case tree survives build and extract, with and
without -c: types, modes, owners, sizes, contents, symlink targets, device
numbers, xattrs of every namespace, hard-link groups, link counts and
mtimes (to the nanosecond, directories' too).  The tests run as root (devices, foreign owners, trusted.* xattrs)."""
import json
import os
import shutil
import stat
import subprocess

import pytest

import tree
from conftest import as_nobody

pytestmark = pytest.mark.core


@pytest.fixture(scope="module", params=[(), ("-c",)], ids=["plain", "zstd"])
def image(request, pfs, corner_tree, tmp_path_factory):
    oci = tmp_path_factory.mktemp("roundtrip") / "oci"
    pfs.build(corner_tree, f"{oci}:t", *request.param)
    return f"{oci}:t"


def test_extract_identical(pfs, corner_tree, image, tmp_path):
    out = tmp_path / "out"
    pfs.run("extract", image, out)
    tree.compare(pfs.listing(corner_tree, nlink=True, mtime=True),
                 pfs.listing(out, nlink=True, mtime=True))
    # Holes stay holes: the 8 MiB file has 18 bytes of data.
    st = os.stat(out / "sparse")
    assert st.st_size == 8 << 20 and st.st_blocks * 512 < 1 << 20


def test_reader_view(pfs, corner_tree, image):
    """What `ls -R --json` and `cat` show is the source tree."""
    src = pfs.listing(corner_tree, mtime=True)
    entries = json.loads(pfs.run("ls", "-R", "--json", image).stdout)
    seen = set()
    for e in entries:
        # Names that are not UTF-8 come in hex; treelist writes them as
        # Python's surrogate escapes.
        path = e["path"] if "path" in e else \
            bytes.fromhex(e["path_hex"]).decode(errors="surrogateescape")
        path = path[1:]
        want = src[path]
        seen.add(path)
        assert e["type"] == want["type"], path
        assert oct(e["mode"]) == want["mode"], path
        assert (e["uid"], e["gid"]) == (want["uid"], want["gid"]), path
        assert f"{e['mtime']}.{e['mtime_nsec']:09d}" == want["mtime"], path
        if e["type"] == "-":
            assert e["size"] == want["size"], path
        if e["type"] == "l":
            assert e["target"] == want["target"], path
        if e["type"] in "cb":
            assert e["rdev"] == want["rdev"], path
    assert seen == set(src) - {"."}
    for path in ("big-random", "sparse", "names/caf\udce9-latin1",
                 "modes/none", "deep/" + "/".join(f"level{i:02d}"
                                                for i in range(40)) + "/bottom"):
        with open(os.path.join(corner_tree, path), "rb",) as f:
            assert pfs.run("cat", image, "/" + path).stdout == f.read(), path


def test_extract_no_owner(pfs, image, tmp_path):
    out = tmp_path / "out"
    pfs.run("extract", "--no-owner", image, out)
    st = os.lstat(out / "modes" / "foreign")
    assert (st.st_uid, st.st_gid) == (0, 0)
    assert stat.S_IMODE(os.lstat(out / "modes" / "all").st_mode) == 0o7777


def test_extract_unprivileged(pfs, corner_tree, image, nobody_tmp):
    """As an ordinary user: everything but owners, devices (--no-devices)
    and the trusted.* and security.* xattrs, whose loss is reported and
    fails the extraction (exit 1) once all else is extracted; directories
    get their modes (0555, sticky) only after their contents exist."""
    oci = os.path.join(nobody_tmp, "oci")
    shutil.copytree(image.rsplit(":", 1)[0], oci)
    out = os.path.join(nobody_tmp, "out")
    r = subprocess.run(as_nobody(pfs.exe, "extract", "--no-devices",
                                 f"{oci}:t", out), capture_output=True)
    assert r.returncode == 1, r.stderr
    assert b"trusted.secret: Operation not permitted" in r.stderr
    assert b"dev/null" not in r.stderr
    src = pfs.listing(corner_tree, mtime=True)
    got = pfs.listing(out, mtime=True)
    for path, want in src.items():
        if want["type"] in "cb":
            assert path not in got
            continue
        have = dict(got[path], uid=want["uid"], gid=want["gid"])
        want = dict(want)
        want["xattrs_hex"] = {k: v for k, v in want.get(
            "xattrs_hex", {}).items() if k.startswith("user.")}
        if not want["xattrs_hex"]:
            del want["xattrs_hex"]
        assert have == want, path


def test_extract_unprivileged_no_xattrs(pfs, image, nobody_tmp):
    """--no-xattrs: none is restored, and none lost is a failure."""
    oci = os.path.join(nobody_tmp, "oci")
    shutil.copytree(image.rsplit(":", 1)[0], oci)
    out = os.path.join(nobody_tmp, "out")
    r = subprocess.run(as_nobody(pfs.exe, "extract", "--no-devices",
                                 "--no-xattrs", f"{oci}:t", out),
                       capture_output=True)
    assert r.returncode == 0 and not r.stderr, r.stderr
    for dirpath, dirs, files in os.walk(out):
        for n in dirs + files:
            assert not os.listxattr(os.path.join(dirpath, n),
                                    follow_symlinks=False), n
