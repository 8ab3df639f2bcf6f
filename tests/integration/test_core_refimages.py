"""Acceptance 13: images built by the Rust reference (tests/fixtures/
reference-images, see its README) list, read and extract exactly as the
expected listings say: multi-segment rootfs messages, delta layers whose
directory lists put whiteouts first, raw chunks under +zstd media types,
duplicate chunk descriptors."""
import hashlib
import json
import os
import subprocess

import pytest

from conftest import REFERENCE

pytestmark = pytest.mark.core
TAGS = ["v0", "v0-zstd", "v1", "v1-zstd"]


def expected(tag):
    with open(os.path.join(REFERENCE, tag[:2] + ".listing.json")) as f:
        return {e["path"]: e for e in json.load(f)}


def digests():
    out = {}
    with open(os.path.join(REFERENCE, "DIGESTS.txt")) as f:
        for line in f:
            tag, *kv = line.split()
            out[tag] = dict(zip(kv[::2], kv[1::2]))
    return out


@pytest.mark.parametrize("tag", TAGS)
def test_list(pfs, reference_demo, tag):
    want = expected(tag)
    ref = f"{reference_demo}:{tag}"
    paths = pfs.run("ls", "-R", ref).stdout.decode().splitlines()
    assert sorted(paths) == sorted("/" + p for p in want if p != ".")
    assert len(set(paths)) == len(paths)
    for e in json.loads(pfs.run("ls", "-R", "--json", ref).stdout):
        w = want[e["path"][1:]]
        assert (e["type"], oct(e["mode"]), e["uid"], e["gid"]) == \
            (w["type"], w["mode"], w["uid"], w["gid"]), e["path"]
        assert e.get("target") == w.get("target"), e["path"]
        assert e.get("rdev") == w.get("rdev"), e["path"]
        if w["type"] == "-":
            assert e["size"] == w["size"], e["path"]
    dump = json.loads(pfs.run("dump", ref).stdout)
    assert (dump["manifest"], dump["rootfs"]) == \
        (digests()[tag]["manifest-sha256"], digests()[tag]["rootfs"])


@pytest.mark.parametrize("tag", TAGS)
def test_read(pfs, reference_demo, tag):
    files = sorted((p, e) for p, e in expected(tag).items() if e["type"] == "-")
    data = pfs.run("cat", f"{reference_demo}:{tag}",
                   *["/" + p for p, _ in files]).stdout
    off = 0
    for p, e in files:
        assert hashlib.sha256(data[off:off + e["size"]]).hexdigest() == \
            e["sha256"], p
        off += e["size"]
    assert off == len(data)


@pytest.mark.parametrize("tag", TAGS)
def test_extract(pfs, reference_demo, tag, tmp_path):
    out = tmp_path / "out"
    pfs.run("extract", f"{reference_demo}:{tag}", out)
    # The expected listings carry user.* xattrs only.
    got = json.loads(subprocess.run([pfs.treelist, out], check=True,
                                    capture_output=True).stdout)
    assert {e["path"]: e for e in got} == expected(tag)


@pytest.mark.parametrize("tag", ["v1", "v1-zstd"])
def test_whiteouts_first(pfs, reference_demo, tag):
    """The delta tags' directories list whiteouts first: unsorted lists
    must still be read in full, and whited-out names are gone."""
    ref = f"{reference_demo}:{tag}"
    dump = json.loads(pfs.run("dump", ref).stdout)
    top = {i["ino"]: i for i in dump["metadatas"][0]}
    whiteouts = {ino for ino, i in top.items() if i["type"] == "wht"}
    unsorted = [i for i in top.values() if i["type"] == "dir" and
                [e["name"] for e in i["entries"]] !=
                sorted(e["name"] for e in i["entries"])]
    assert whiteouts and unsorted
    for d in unsorted:
        assert d["entries"][0]["ino"] in whiteouts
    v0, v1 = expected("v0"), expected("v1")
    for path in sorted(set(v0) - set(v1))[:10]:
        r = pfs.run("cat", ref, "/" + path, check=False)
        assert r.returncode == 1 and b"No such file" in r.stderr, path
    for path in ("etc/conf.d", "usr"):
        names = pfs.run("ls", ref, "/" + path).stdout.decode().splitlines()
        assert sorted(names) == sorted(
            p.rsplit("/", 1)[1] for p in v1 if p.startswith(path + "/")
            and "/" not in p[len(path) + 1:])


@pytest.mark.parametrize("tag", TAGS)
def test_fsck(pfs, reference_demo, tag):
    r = pfs.run("fsck", f"{reference_demo}:{tag}", check=False)
    if "zstd" not in tag:
        assert r.returncode == 0, r.stderr
        return
    # The reference measures the compressed buffer of chunks it then
    # stores raw (spec §4.3): fsck finds exactly those, nothing else.
    problems = r.stderr.decode().splitlines()[:-1]
    assert r.returncode == 1 and problems
    assert all("fsVerityData of blob" in p for p in problems), problems
