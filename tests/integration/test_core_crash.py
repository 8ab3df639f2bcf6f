"""Acceptance 11: a build killed with SIGKILL leaves the OCI directory
valid: existing tags extract identically, fsck passes, and the next build
works.  strace's fault injection delivers the SIGKILL on entry to the Nth
call of a given system call, so the kill points are chosen, not timed:
while chunk blobs are written, when the first and a later blob get their
names, when index.json is replaced, and after that."""
import shutil
import subprocess

import pytest

import tree
from test_core_delta import change, make_base

pytestmark = pytest.mark.core

POINTS = {
    "blob-write": "write:when=3",
    "first-link": "linkat:when=1",
    "later-link": "linkat:when=4",
    "index-rename": "renameat,renameat2,rename:when=1",
    "after-rename": "fsync:when=3",
}


def killed_build(pfs, point, *args):
    syscalls, when = POINTS[point].split(":")
    r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null",
                        "-e", f"trace={syscalls}",
                        "-e", f"inject={syscalls}:signal=SIGKILL:{when}",
                        pfs.exe, "build", *map(str, args)],
                       capture_output=True)
    assert r.returncode in (-9, 137), r


@pytest.fixture(scope="module")
def trees(tmp_path_factory):
    top = tmp_path_factory.mktemp("crash")
    a, b = str(top / "a"), str(top / "b")
    make_base(a)
    shutil.copytree(a, b, symlinks=True)
    change(b)
    return a, b


def check(pfs, oci, tmp_path, required, optional=None):
    """The required tags are there, any other is one of the optional ones,
    every tag extracts to its tree, fsck passes."""
    trees = dict(optional or {}, **required)
    tags = pfs.run("tags", oci).stdout.decode().split()
    assert set(required) <= set(tags) <= set(trees)
    for tag in tags:
        out = tmp_path / f"out-{tag}"
        shutil.rmtree(out, ignore_errors=True)
        pfs.run("extract", f"{oci}:{tag}", out)
        tree.compare(pfs.listing(trees[tag]), pfs.listing(out))
    pfs.run("fsck", oci)


@pytest.mark.parametrize("point", sorted(POINTS))
@pytest.mark.parametrize("delta", [False, True], ids=["full", "delta"])
def test_killed_build(pfs, trees, tmp_path, point, delta):
    a, b = trees
    oci = tmp_path / "oci"
    pfs.build(a, f"{oci}:a", "-c")
    base = ("-b", "a") if delta else ()
    killed_build(pfs, point, "-c", *base, b, f"{oci}:b")
    # Tag b appears all at once, with the rename of index.json.
    tagged = pfs.run("tags", oci).stdout.split()
    assert (b"b" in tagged) == (point == "after-rename")
    check(pfs, oci, tmp_path, {"a": a}, {"b": b})
    # The next build goes through, over whatever the killed one left.
    pfs.build(b, f"{oci}:b", "-c", *base)
    check(pfs, oci, tmp_path, {"a": a, "b": b})


@pytest.mark.parametrize("point", ["blob-write", "first-link"])
def test_killed_first_build(pfs, trees, tmp_path, point):
    """Killed while creating the directory: a valid layout without tags."""
    a, _ = trees
    oci = tmp_path / "oci"
    killed_build(pfs, point, a, f"{oci}:a")
    assert pfs.run("tags", oci).stdout == b""
    pfs.run("fsck", oci)
    pfs.build(a, f"{oci}:a")
    check(pfs, oci, tmp_path, {"a": a})


def test_concurrent_builds(pfs, trees, tmp_path):
    """Builds into one directory at the same time are serialized by its
    lock: whatever the interleaving, every tag is complete."""
    a, b = trees
    oci = tmp_path / "oci"
    pfs.build(a, f"{oci}:a")
    jobs = [subprocess.Popen([pfs.exe, "build", *opts, src, f"{oci}:{tag}"],
                             stdout=subprocess.DEVNULL)
            for tag, src, opts in (("b", b, ()), ("c", a, ("-c",)),
                                   ("d", b, ("-c", "-b", "a")))]
    assert [j.wait() for j in jobs] == [0, 0, 0]
    check(pfs, oci, tmp_path, {"a": a, "b": b, "c": a, "d": b})
