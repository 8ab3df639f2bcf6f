"""Acceptance 6: our images are ordinary OCI images: `skopeo copy` copies
a tag, a delta tag included, with everything it needs (the manifest must
list every blob the image reads, also those of the base's layers)."""
import shutil
import subprocess

import pytest

import ocidir
import tree
from test_core_delta import change, make_base

pytestmark = pytest.mark.core


def skopeo_copy(src, dst, tag):
    subprocess.run(["skopeo", "--insecure-policy", "copy", "-q",
                    f"oci:{src}:{tag}", f"oci:{dst}:{tag}"], check=True)


@pytest.mark.parametrize("opts", [(), ("-c",)], ids=["plain", "zstd"])
def test_skopeo_copy(pfs, corner_tree, tmp_path, opts):
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(corner_tree, f"{oci.path}:t", *opts)
    copy = ocidir.Oci(tmp_path / "copy")
    skopeo_copy(oci.path, copy.path, "t")
    assert copy.manifest_digest("t") == oci.manifest_digest("t")
    pfs.run("extract", f"{copy.path}:t", tmp_path / "out")
    tree.compare(pfs.listing(corner_tree), pfs.listing(tmp_path / "out"))
    pfs.run("fsck", copy.path)


def test_skopeo_copy_delta(pfs, tmp_path):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    make_base(a)
    shutil.copytree(a, b, symlinks=True)
    change(b)
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(a, f"{oci.path}:a", "-c")
    pfs.build(b, f"{oci.path}:b", "-c", "-b", "a")
    copy = ocidir.Oci(tmp_path / "copy")
    skopeo_copy(oci.path, copy.path, "b")    # without tag a
    pfs.run("extract", f"{copy.path}:b", tmp_path / "out")
    tree.compare(pfs.listing(b), pfs.listing(tmp_path / "out"))
    pfs.run("fsck", copy.path)
