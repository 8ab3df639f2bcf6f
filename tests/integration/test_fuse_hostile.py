"""Issue 19 through FUSE mounts: the shape of the tree is decided at mount
(a directory named twice or deeper than 4096 levels is not mounted, as
extract and fsck refuse it), what build accepts is served, frame bombs
fail their reads with EIO and big blobs are served in memory the cache
bounds, and a missing chunk blob is EIO, not ENOENT.  tests/run.py runs
this file under the sanitizers too, with test_fuse.py."""
import errno
import os

import pytest

import hostile
import ocidir
from conftest import BUILD
from hostile import MIB, MAX_DEPTH
from test_core_hostile import CYCLES
from test_fuse import daemons, mkdir, mounted, mounts, wait_until  # noqa: F401

pytestmark = pytest.mark.fuse
SANITIZED = "san" in os.path.basename(os.path.normpath(BUILD))


def peak(pid):
    """VmHWM of a process, in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.fixture(scope="module")
def malformed(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuse-malformed")
    for name, layers in CYCLES.items():
        hostile.image(str(base / "oci"), name, layers)
    hostile.image(str(base / "oci"), "deep", [hostile.chain(MAX_DEPTH + 1)])
    return base / "oci"


@pytest.mark.parametrize("tag", sorted(CYCLES) + ["deep"])
def test_mount_refuses_malformed(mounts, malformed, tmp_path, tag):
    """Refused at mount with the reason (the mount answered ELOOP or EIO
    on some paths only, and its walks never ended), nothing left mounted
    and no daemon."""
    mnt = mkdir(tmp_path / "mnt")
    r = mounts.mount(f"{malformed}:{tag}", mnt, check=False)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, err
    want = ("more than 4096 levels below the root" if tag == "deep" else
            "is linked twice")
    assert err.startswith("puzzlefs: mount: ") and want in err, err
    assert mounted(mnt) is None
    wait_until(lambda: not daemons(mnt), "no daemon left")


def test_deep_served(pfs, mounts, tmp_path):
    """The deepest tree build takes is mounted and served to its bottom."""
    src = hostile.make_deep_tree(str(tmp_path / "src"), MAX_DEPTH)
    try:
        pfs.build(src, f"{tmp_path}/oci:t")
    finally:
        hostile.remove_deep(src)
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{tmp_path}/oci:t", mnt)
    assert hostile.read_deep(mnt, MAX_DEPTH) == b"bottom\n"


@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    base = tmp_path_factory.mktemp("fuse-bombs")
    one = hostile.seekable.blob([(hostile.zero_frame(1 << 30), 1 << 30)])
    big = hostile.zeros_blob(256 * MIB, hostile.FRAME_MAX)
    for tag, blob, size in (("one", one, 1 << 30), ("big", big, 256 * MIB)):
        hostile.image(str(base / "oci"), tag, [[
            hostile.dir_(1, [("z", 2), ("ok", 3)]),
            hostile.file_(2, [(ocidir.sha256(blob), 0, size, True)]),
            hostile.file_(3)]], chunks=[blob])
    return base / "oci"


def test_frame_bomb(mounts, bombs, tmp_path):
    """A frame of 1 GiB (a 34 KB image) fails its reads with EIO; the
    daemon does not take the gigabyte it held before, and serves on."""
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{bombs}:one", mnt, "-o", "cache_size=8M")
    fd = os.open(os.path.join(mnt, "z"), os.O_RDONLY)
    with pytest.raises(OSError) as e:
        os.read(fd, 4096)
    os.close(fd)
    assert e.value.errno == errno.EIO
    assert os.path.getsize(os.path.join(mnt, "ok")) == 0
    (pid,) = daemons(mnt)
    if not SANITIZED:
        assert peak(pid) < 64 * MIB


def test_big_blob_daemon(mounts, bombs, tmp_path):
    """256 MiB from a 32 KB blob: served right, frame by frame, with the
    daemon's memory bounded by its cache, not by the content."""
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{bombs}:big", mnt, "-o", "cache_size=8M")
    n = 0
    with open(os.path.join(mnt, "z"), "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            assert b.count(0) == len(b)
            n += len(b)
    assert n == 256 * MIB
    (pid,) = daemons(mnt)
    if not SANITIZED:
        assert peak(pid) < 96 * MIB


def test_missing_chunk_eio(pfs, mounts, tmp_path):
    """A missing chunk blob fails the read with EIO, as documented (it
    was ENOENT: 'No such file' of a file that is there)."""
    oci, _ = hostile.missing_chunk_image(pfs, tmp_path)
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{oci.path}:t", mnt)
    assert os.path.getsize(os.path.join(mnt, "f")) == 100000
    fd = os.open(os.path.join(mnt, "f"), os.O_RDONLY)
    with pytest.raises(OSError) as e:
        os.read(fd, 4096)
    os.close(fd)
    assert e.value.errno == errno.EIO
