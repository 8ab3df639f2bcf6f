"""Acceptance 12: the reference implementation's own tests that apply to
us (spec §9.1), with their literal expectations, plus the vectors of spec
§9.3 for the same image."""
import hashlib
import json
import os
import shutil

import pytest

import ocidir
from conftest import FIXTURES

pytestmark = pytest.mark.core
JPG = "SekienAkashita.jpg"
JPG_SHA = "d9e749d9367fc908876749d6502eb212fee88c9a94892fb07da5ef3ba8bc39ed"
ZSTD_BLOB = "d568d1505905ee36e66ef6f94f544a50f52c6a63574048da0cf351b8235ff42b"


@pytest.fixture
def test1(tmp_path):
    """The reference's builder/test/test-1: the jpg and nothing else."""
    d = tmp_path / "test-1"
    d.mkdir()
    shutil.copy(os.path.join(FIXTURES, JPG), d / JPG)
    return d


def dump(pfs, ref):
    d = json.loads(pfs.run("dump", ref).stdout)
    inodes = {}
    for layer in reversed(d["metadatas"]):
        inodes.update({i["ino"]: i for i in layer})
    return d, inodes


def ls(pfs, ref, path="/"):
    return {e["path"]: e for e in json.loads(
        pfs.run("ls", "--json", ref, path).stdout)}


def test_fs_generation(pfs, test1, tmp_path):
    oci = ocidir.Oci(tmp_path / "oci")
    # The reference's frame size (ours defaults to 32 KiB): its bytes.
    pfs.build(test1, f"{oci.path}:test-tag", "-c", "--frame-size", "4096")
    assert os.path.exists(oci.blob_path(ZSTD_BLOB))
    d, inodes = dump(pfs, f"{oci.path}:test-tag")
    assert inodes[1]["type"] == "dir"
    assert inodes[1]["entries"] == [{"ino": 2, "name": JPG}]
    assert inodes[2]["type"] == "file"
    assert inodes[2]["chunks"] == [{"digest": ZSTD_BLOB, "offset": 0,
                                    "len": 109466, "compressed": True}]
    st = os.stat(oci.blob_path(ZSTD_BLOB))
    assert (inodes[2]["uid"], inodes[2]["gid"]) == (st.st_uid, st.st_gid)
    # Spec §9.3: fs-verity digest of the compressed blob.
    assert d["fsVerityData"] == [{"digest": ZSTD_BLOB, "verity":
        "bffc73fc4cf4f0d2c994c14cc3ea526bf69faa751a9b065343eb14fcaf2b1227"}]
    pfs.run("fsck", oci.path)


def test_fs_generation_uncompressed(pfs, test1, tmp_path):
    """The CLI default (no compression), spec §9.3."""
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(test1, f"{oci.path}:t")
    d, inodes = dump(pfs, f"{oci.path}:t")
    assert inodes[2]["chunks"] == [{"digest": JPG_SHA, "offset": 0,
                                    "len": 109466, "compressed": False}]
    assert d["fsVerityData"] == [{"digest": JPG_SHA, "verity":
        "3d57915768b0151c164196cee1d8a1c48a20149a40d3b3a9e7ac97350919340a"}]


def test_delta_generation(pfs, test1, tmp_path):
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(test1, f"{oci.path}:test", "-c")
    delta = tmp_path / "delta"
    (delta / "foo").mkdir(parents=True)
    shutil.copy(test1 / JPG, delta / JPG)
    pfs.build(delta, f"{oci.path}:test2", "-c", "-b", "test")
    d, inodes = dump(pfs, f"{oci.path}:test2")
    assert len(d["metadatas"]) == 2
    assert max(inodes) == 3
    root = ls(pfs, f"{oci.path}:test2")
    assert [(p, e["ino"]) for p, e in root.items()] == [
        (f"/{JPG}", 2), ("/foo", 3)]
    assert len(inodes[1]["entries"]) == 2
    assert root[f"/{JPG}"]["size"] == 109466
    assert inodes[3]["type"] == "dir" and inodes[3]["entries"] == []
    pfs.run("fsck", oci.path)


def test_file_reader(pfs, test1, tmp_path):
    ref = f"{tmp_path}/oci:t"
    pfs.build(test1, ref, "-c")
    data = pfs.run("cat", ref, f"/{JPG}").stdout
    assert len(data) == 109466
    assert hashlib.sha256(data).hexdigest() == JPG_SHA
    assert max(dump(pfs, ref)[1]) == 2


def test_path_lookup(pfs, test1, tmp_path):
    ref = f"{tmp_path}/oci:t"
    pfs.build(test1, ref, "-c")
    assert ls(pfs, ref, f"/{JPG}")[f"/{JPG}"]["ino"] == 2
    assert dump(pfs, ref)[0]["metadatas"][0][0]["ino"] == 1
    r = pfs.run("ls", ref, "/notexist", check=False)
    assert r.returncode == 1 and b"/notexist" in r.stderr
    for bad in ("./invalid-path", "invalid-path"):
        r = pfs.run("ls", ref, bad, check=False)
        assert r.returncode == 1 and bad.encode() in r.stderr


def xattr_tree(tmp_path, extra=()):
    src = tmp_path / "src"
    (src / "foo").mkdir(parents=True)
    (src / "bar").write_bytes(b"bar")
    for p in (src / "foo", src / "bar"):
        os.setxattr(p, "user.meshuggah", b"rocks")
        for k, v in extra:
            os.setxattr(p, k, v)
    return src


def test_xattrs(pfs, tmp_path):
    ref = f"{tmp_path}/oci:t"
    pfs.build(xattr_tree(tmp_path), ref)
    d, inodes = dump(pfs, ref)
    assert [e["name"] for e in inodes[1]["entries"]] == ["bar", "foo"]
    for ino in (2, 3):
        assert inodes[ino]["xattrs"][0] == {"key": "user.meshuggah",
                                            "value": "rocks"}


def test_extracted_xattrs(pfs, tmp_path):
    ref = f"{tmp_path}/oci:t"
    pfs.build(xattr_tree(tmp_path, [("user.nothing", b"")]), ref)
    pfs.run("extract", ref, tmp_path / "out")
    for p in ("foo", "bar"):
        assert os.getxattr(tmp_path / "out" / p, "user.meshuggah") == b"rocks"
        assert os.getxattr(tmp_path / "out" / p, "user.nothing") == b""


def one_file_tree(tmp_path, data=b"foo", mode=0o644):
    src = tmp_path / "src"
    src.mkdir()
    (src / "foo").write_bytes(data)
    os.chmod(src / "foo", mode)
    return src


def test_permissions(pfs, tmp_path):
    ref = f"{tmp_path}/oci:t"
    pfs.build(one_file_tree(tmp_path, mode=0o7777), ref)
    pfs.run("extract", ref, tmp_path / "out")
    assert os.stat(tmp_path / "out" / "foo").st_mode & 0xFFF == 0o7777


def test_hardlink_extraction(pfs, tmp_path):
    src = one_file_tree(tmp_path)
    os.link(src / "foo", src / "bar")
    ref = f"{tmp_path}/oci:t"
    pfs.build(src, ref)
    pfs.run("extract", ref, tmp_path / "out")
    assert os.stat(tmp_path / "out" / "foo").st_ino == \
        os.stat(tmp_path / "out" / "bar").st_ino


def test_empty_file(pfs, tmp_path):
    ref = f"{tmp_path}/oci:t"
    pfs.build(one_file_tree(tmp_path, data=b""), ref)
    pfs.run("extract", ref, tmp_path / "out")
    assert os.path.getsize(tmp_path / "out" / "foo") == 0
