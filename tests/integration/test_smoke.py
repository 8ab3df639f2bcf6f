"""Smoke test of the test machinery itself: corner tree round trip."""
import pytest

import tree


@pytest.mark.core
@pytest.mark.parametrize("opts", [(), ("-c",)], ids=["plain", "zstd"])
def test_corner_tree_roundtrip(pfs, corner_tree, tmp_path, opts):
    oci = tmp_path / "oci"
    pfs.build(corner_tree, f"{oci}:t", *opts)
    pfs.run("extract", f"{oci}:t", tmp_path / "out")
    tree.compare(pfs.listing(corner_tree), pfs.listing(tmp_path / "out"))
