"""Acceptance 7: reproducible images.  The same tree, created twice at
different paths with a different readdir order and a different xattr order,
gives the same rootfs, manifest and blob set: with the same mtimes as they
are, and with different mtimes once SOURCE_DATE_EPOCH or --mtime normalise
them (issue 15)."""
import json
import os
import shutil
import subprocess
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


@pytest.fixture(scope="module")
def copies(corner_tree, tmp_path_factory):
    """Two more copies of the corner tree, on tmpfs if possible (ext4
    lists a directory in name-hash order, the same for both copies, while
    tmpfs lists the newest entry first): one made again, with other
    timestamps, readdir and xattr orders; one copied with its timestamps
    (cp -a)."""
    d = tmpfs_dir()
    base = d or str(tmp_path_factory.mktemp("elsewhere"))
    other = os.path.join(base, "copy")
    tree.make_corner_tree(other)
    reorder(other)
    same = os.path.join(base, "same-times")
    subprocess.run(["cp", "-a", corner_tree, same], check=True)
    yield other, same
    if d:
        shutil.rmtree(d)


def reorder(root):
    """Same content, other metadata that must not matter: the order of one
    wide directory, the xattr order of a file; and every timestamp, which
    matters unless normalised."""
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


def image(pfs, src, oci, *opts, env=None):
    printed = pfs.run("build", *opts, src, f"{oci.path}:t",
                      env=env).stdout.decode().split()[-1]
    return (oci.rootfs_digest("t"), oci.manifest_digest("t"), printed,
            oci.blobs())


def mtimes(pfs, oci):
    return {(i.get("mtime"), i.get("mtimeNsec")) for i in json.loads(
        pfs.run("dump", f"{oci.path}:t").stdout)["metadatas"][0]}


@pytest.mark.parametrize("opts", [(), ("-c",)], ids=["plain", "zstd"])
def test_reproducible(pfs, corner_tree, copies, tmp_path, opts):
    """Different mtimes clamped by SOURCE_DATE_EPOCH (all are later)."""
    env = dict(os.environ, SOURCE_DATE_EPOCH="999999999")
    images = [image(pfs, src, ocidir.Oci(tmp_path / f"oci{n}"), *opts, env=env)
              for n, src in enumerate((corner_tree, copies[0]))]
    assert images[0] == images[1]
    assert mtimes(pfs, ocidir.Oci(tmp_path / "oci0")) == {(999999999, 0)}


def test_reproducible_mtime_option(pfs, corner_tree, copies, tmp_path):
    """--mtime SECONDS and --mtime none make builds independent of the
    source's mtimes; --mtime none writes what builds wrote before mtimes
    (the reference's 24-byte inodes)."""
    for opt in ("1234567890", "none"):
        images = [image(pfs, src, ocidir.Oci(tmp_path / f"{opt}{n}"),
                        "--mtime", opt)
                  for n, src in enumerate((corner_tree, copies[0]))]
        assert images[0] == images[1], opt
    assert mtimes(pfs, ocidir.Oci(tmp_path / "12345678900")) == \
        {(1234567890, 0)}
    assert mtimes(pfs, ocidir.Oci(tmp_path / "none0")) == {(None, None)}


def test_same_mtimes(pfs, corner_tree, copies, tmp_path):
    """The same tree with the same mtimes (cp -a) gives the same image as
    it is; with other mtimes, another rootfs over the same chunks."""
    other, same = copies
    images = [image(pfs, src, ocidir.Oci(tmp_path / f"oci{n}"))
              for n, src in enumerate((corner_tree, same, other))]
    assert images[0] == images[1]
    assert images[2][0] != images[0][0]
    assert images[2][3] - {images[2][0], images[2][1]} == \
        images[0][3] - {images[0][0], images[0][1]}
