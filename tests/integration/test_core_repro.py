"""Acceptance 7: reproducible images.  The same tree, created twice at
different paths with different timestamps, a different readdir order and a
different xattr order, gives the same rootfs, manifest and blob set."""
import os
import shutil
import tempfile

import pytest

import ocidir
import tree

pytestmark = pytest.mark.core


def tmpfs_dir():
    """A scratch directory on tmpfs that holds user xattrs, or None."""
    try:
        d = tempfile.mkdtemp(dir="/dev/shm")
    except OSError:
        return None
    try:
        os.setxattr(d, "user.probe", b"1")
        return d
    except OSError:
        shutil.rmtree(d)
        return None


@pytest.fixture
def elsewhere(tmp_path):
    """Where the second copy goes: tmpfs if possible, because ext4 lists a
    directory in name-hash order, the same for both copies, while tmpfs
    lists the newest entry first."""
    d = tmpfs_dir()
    yield d or str(tmp_path / "elsewhere")
    if d:
        shutil.rmtree(d)


def reorder(root):
    """Same content, other metadata that must not matter: every timestamp,
    the order of one wide directory, the xattr order of a file."""
    wide = os.path.join(root, "wide")
    for name in sorted(os.listdir(wide), reverse=True):
        p = os.path.join(wide, name)
        os.rename(p, p + ".tmp")
        os.rename(p + ".tmp", p)
    f = os.path.join(root, "xattrs", "file")
    values = {k: os.getxattr(f, k) for k in os.listxattr(f)}
    for k in values:
        os.removexattr(f, k)
    for k in sorted(values, reverse=True):
        os.setxattr(f, k, values[k])
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            os.utime(os.path.join(d, n), (1e9, 1e9), follow_symlinks=False)


@pytest.mark.parametrize("opts", [(), ("-c",)], ids=["plain", "zstd"])
def test_reproducible(pfs, corner_tree, tmp_path, elsewhere, opts):
    other = os.path.join(elsewhere, "copy")
    tree.make_corner_tree(other)
    reorder(other)
    images = []
    for n, src in enumerate((corner_tree, other)):
        oci = ocidir.Oci(tmp_path / f"oci{n}")
        printed = pfs.build(src, f"{oci.path}:t", *opts)
        images.append((oci.rootfs_digest("t"), oci.manifest_digest("t"),
                       printed, oci.blobs()))
    assert images[0] == images[1]
