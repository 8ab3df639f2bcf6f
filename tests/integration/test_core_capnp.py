"""Acceptance 3: our rootfs blobs against the official Cap'n Proto
implementation (Debian's `capnp convert` with core/metadata.capnp), both
directions.

capnp -> us: the official encoder's messages (several segments for a tree
this size), and the same messages re-segmented by capnp_msg with far and
double-far pointers, are read by our reader with the same results as the
single-segment blob our builder wrote.
"""
import collections
import json
import os
import subprocess

import pytest

import capnp_msg
import crafted
import ocidir
import tree
from conftest import TOP

pytestmark = pytest.mark.core
SCHEMA = os.path.join(TOP, "core", "metadata.capnp")


def capnp(direction, data):
    return subprocess.run(["capnp", "convert", direction, SCHEMA, "Rootfs"],
                          input=data, check=True, capture_output=True).stdout


@pytest.fixture(scope="module")
def image(pfs, corner_tree, tmp_path_factory):
    """The corner tree built with -c (so both raw and compressed chunks)."""
    oci = tmp_path_factory.mktemp("capnp") / "oci"
    pfs.build(corner_tree, f"{oci}:t", "-c")
    return ocidir.Oci(oci)


def from_hex_or_str(obj, key):
    if key + "_hex" in obj:
        return bytes.fromhex(obj[key + "_hex"])
    return obj[key].encode() if key in obj else None


def norm_dump(dump):
    """`puzzlefs dump` JSON in a neutral form: ints and bytes."""
    def inode(i):
        n = {"ino": i["ino"], "type": i["type"], "perm": i["permissions"],
             "uid": i["uid"], "gid": i["gid"]}
        if "major" in i:
            n["dev"] = (i["major"], i["minor"])
        if "entries" in i:
            n["lookBelow"] = i["lookBelow"]
            n["entries"] = [(e["ino"], from_hex_or_str(e, "name"))
                            for e in i["entries"]]
        if "chunks" in i:
            n["chunks"] = [(c["digest"], c["offset"], c["len"], c["compressed"])
                           for c in i["chunks"]]
        if "target" in i or "target_hex" in i:
            n["target"] = from_hex_or_str(i, "target")
        n["xattrs"] = [(from_hex_or_str(x, "key"), from_hex_or_str(x, "value"))
                       for x in i.get("xattrs", [])]
        return n
    return {"version": dump["manifestVersion"],
            "layers": [[inode(i) for i in layer] for layer in dump["metadatas"]],
            "verity": [(v["digest"], v["verity"]) for v in dump["fsVerityData"]]}


def norm_capnp(rootfs):
    """`capnp convert binary:json` output in the same form."""
    def inode(i):
        (kind, payload), = i["mode"].items()
        n = {"ino": int(i["ino"]), "type": kind, "perm": i["permissions"],
             "uid": i["uid"], "gid": i["gid"]}
        if kind in ("chr", "blk"):
            n["dev"] = (int(payload["major"]), int(payload["minor"]))
        if kind == "dir":
            n["lookBelow"] = payload["lookBelow"]
            n["entries"] = [(int(e["ino"]), bytes(e["name"]))
                            for e in payload.get("entries", [])]
        if kind == "file":
            n["chunks"] = [(bytes(c["blob"]["digest"]).hex(),
                            int(c["blob"]["offset"]), int(c["len"]),
                            c["blob"]["compressed"]) for c in payload]
        add = i.get("additional", {})
        if "symlinkTarget" in add:
            n["target"] = bytes(add["symlinkTarget"])
        n["xattrs"] = [(bytes(x["key"]), bytes(x["val"]))
                       for x in add.get("xattrs", [])]
        return n
    return {"version": int(rootfs["manifestVersion"]),
            "layers": [[inode(i) for i in m["inodes"]]
                       for m in rootfs["metadatas"]],
            "verity": [(bytes(v["digest"]).hex(), bytes(v["verity"]).hex())
                       for v in rootfs["fsVerityData"]]}


def dump(pfs, oci, tag):
    return norm_dump(json.loads(pfs.run("dump", f"{oci.path}:{tag}").stdout))


def test_capnp_decodes_our_rootfs(pfs, image):
    official = norm_capnp(json.loads(capnp("binary:json", image.rootfs("t"))))
    ours = dump(pfs, image, "t")
    assert official == ours
    # The structure the reference writes: one layer, sorted inodes from
    # the root, byte-sorted directories, digest-sorted fsVerityData.
    (layer,) = official["layers"]
    assert official["version"] == 3
    assert layer[0]["ino"] == 1 and layer[0]["type"] == "dir"
    assert [i["ino"] for i in layer] == sorted(i["ino"] for i in layer)
    for i in layer:
        if i["type"] == "dir":
            names = [n for _, n in i["entries"]]
            assert names == sorted(names) and not i["lookBelow"]
    assert official["verity"] == sorted(official["verity"])
    kinds = {i["type"] for i in layer}
    assert kinds == {"dir", "file", "lnk", "chr", "blk", "fifo", "sock"}
    # Each chunk digest is stored once; every BlobRef and the VerityData
    # of that chunk point at it, and the official reader follows them.
    uses = collections.Counter(c[0] for i in layer for c in i.get("chunks", []))
    assert uses.most_common(1)[0][1] > 1
    rootfs = image.rootfs("t")
    for d, _ in official["verity"]:
        assert rootfs.count(bytes.fromhex(d)) == 1


def variants(msg):
    root = capnp_msg.decode(msg)
    return {"3-far": capnp_msg.encode(root, 3, "single"),
            "4-double-far": capnp_msg.encode(root, 4, "double"),
            "5-mixed": capnp_msg.encode(root, 5, "mixed")}


def test_capnp_encoded_rootfs_reads_identically(pfs, image, corner_tree,
                                                tmp_path):
    text = capnp("binary:json", image.rootfs("t"))
    official = capnp("json:binary", text)
    # capnp-c++ starts with a 1024-word segment, like capnp-rust.
    assert capnp_msg.segment_count(official) > 1
    messages = {"capnp": official, **variants(official)}
    expected = dump(pfs, image, "t")
    listing = pfs.run("ls", "-R", "--json", f"{image.path}:t").stdout
    for name, msg in messages.items():
        stats = {}
        capnp_msg.decode(msg, stats)
        if name != "capnp":
            # Our rewriter's output is a message the official reader reads
            # to the same values ...
            assert capnp("binary:json", msg) == text, name
            assert stats.get("double" if "double" in name else "far"), name
        # ... and so does ours.
        image.retag("t", name, rootfs=msg)
        assert dump(pfs, image, name) == expected, name
        assert pfs.run("ls", "-R", "--json",
                       f"{image.path}:{name}").stdout == listing, name
    out = tmp_path / "out"
    pfs.run("extract", f"{image.path}:5-mixed", out)
    tree.compare(pfs.listing(corner_tree), pfs.listing(out))
    pfs.run("fsck", image.path)


def test_capnp_reference_inodes(pfs, image):
    """The inodes of the reference's own serialization tests
    (test_blobref_serialization, test_inode_is_constant_serialized_size),
    encoded by capnp and read back by us (inode 0 is not a valid inode
    number for a reader, so those get numbers)."""
    digest = list(bytes.fromhex(
        "1244fedd1339881248a8f8e4221215161244fedd31938821848af84e22125116"))
    inodes = [
        {"ino": "1", "mode": {"dir": {"entries": [
            {"ino": str(n), "name": list(b"i%d" % n)} for n in (2, 3, 4, 5)]}},
         "permissions": 0o755},
        {"ino": "2", "mode": {"lnk": None}},
        {"ino": "3", "mode": {"file": [{"blob": {
            "digest": digest, "offset": "100", "compressed": True},
            "len": "100"}]}, "permissions": 0o644},
        {"ino": "4", "mode": {"chr": {"major": "64", "minor": "65536"}},
         "uid": 10, "gid": 10000, "permissions": 0o755},
        {"ino": "65343", "mode": {"lnk": None}, "permissions": 0xFFFF,
         "additional": {"xattrs": [{"key": list(b"some extended attribute"),
                                    "val": list(b"with some value")}],
                        "symlinkTarget": list(b"some/other/path")}},
    ]
    inodes[0]["mode"]["dir"]["entries"][3]["ino"] = "65343"
    msg = capnp("json:binary", json.dumps(
        {"metadatas": [{"inodes": inodes}], "manifestVersion": "3"}).encode())
    image.retag("t", "vectors", rootfs=msg)
    layer, = dump(pfs, image, "vectors")["layers"]
    assert layer[2]["chunks"] == [(bytes(digest).hex(), 100, 100, True)]
    assert layer[3]["dev"] == (64, 65536)
    assert (layer[3]["uid"], layer[3]["gid"], layer[3]["perm"]) == \
        (10, 10000, 0o755)
    # Permissions are 12 bits: the reference's 0xFFFF reads as 0o7777.
    assert layer[4]["perm"] == 0o7777
    assert layer[4]["xattrs"] == [(b"some extended attribute",
                                   b"with some value")]
    assert layer[4]["target"] == b"some/other/path"
    ls = json.loads(pfs.run("ls", "--json", f"{image.path}:vectors").stdout)
    assert [(e["path"], e["type"]) for e in ls] == [
        ("/i2", "l"), ("/i3", "-"), ("/i4", "c"), ("/i5", "l")]


def test_directory_in_sorted_runs(pfs, tmp_path):
    """The reference's delta layers list whiteouts first, then the sorted
    entries: each generation adds one ascending run.  A directory in as
    many runs as the image has layers is read (each run binary searched, or
    past 8 runs the list sorted once); one in more runs than that is
    corrupt, refused with a message, not searched entry by entry for every
    lookup (quadratic on a big one)."""
    src = tmp_path / "src"
    crafted.make_runs_tree(src)
    names = [f"f{i:03d}" for i in range(300)]
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(src, f"{oci.path}:t")
    rootfs = json.loads(capnp("binary:json", oci.rootfs("t")))

    def entries(r):
        (d,) = [i for i in r["metadatas"][0]["inodes"]
                if len(i["mode"].get("dir", {}).get("entries", [])) == 300]
        return d["mode"]["dir"]["entries"]

    # Three runs in a three-layer image (the top layer repeated below).
    runs = json.loads(json.dumps(rootfs))
    e = entries(runs)
    e[:] = e[200:] + e[100:200] + e[:100]
    runs["metadatas"] += [runs["metadatas"][0]] * 2
    oci.retag("t", "runs", rootfs=capnp("json:binary", json.dumps(runs).encode()))
    for n in names[::37] + names[-1:]:
        assert pfs.run("cat", f"{oci.path}:runs", f"/d/{n}").stdout == n.encode()
    listed = json.loads(pfs.run("ls", "--json", f"{oci.path}:runs", "/d").stdout)
    assert len(listed) == 300

    # Twelve runs in a twelve-layer image: more than are remembered, so
    # sorted once into a list of its own.
    oci.retag("t", "many", rootfs=crafted.runs_rootfs(oci.rootfs("t"), 12))
    ref = f"{oci.path}:many"
    for n in names[::23] + names[-1:]:
        assert pfs.run("cat", ref, f"/d/{n}").stdout == n.encode()
    assert pfs.run("cat", ref, "/d/f300", check=False).returncode == 1
    listed = json.loads(pfs.run("ls", "-l", "--json", ref, "/d").stdout)
    assert sorted(x["path"] for x in listed) == [f"/d/{n}" for n in names]

    # Reversed in a one-layer image: 300 runs.
    rev = json.loads(json.dumps(rootfs))
    entries(rev).reverse()
    oci.retag("t", "rev", rootfs=capnp("json:binary", json.dumps(rev).encode()))
    r = pfs.run("cat", f"{oci.path}:rev", "/d/f007", check=False)
    assert r.returncode == 1
    assert b"entries out of order" in r.stderr, r.stderr


def test_merged_directory(pfs, tmp_path):
    """lookBelow (no writer sets it): a directory merged with its versions
    below, upper names winning and whiteouts hiding names, read from one
    merged list made once per directory."""
    src = tmp_path / "src"
    crafted.make_merged_tree(src)
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(src, f"{oci.path}:t")
    oci.retag("t", "merged", rootfs=crafted.merged_rootfs(oci.rootfs("t")))
    ref = f"{oci.path}:merged"
    listed = json.loads(pfs.run("ls", "--json", ref, "/d").stdout)
    assert {e["path"]: e["type"] for e in listed} == {
        f"/d/{n}": t for n, t in crafted.MERGED_D.items()}
    assert pfs.run("cat", ref, "/d/f4").stdout == b"file 4\n"
    for gone in ("/d/f2", "/d/f3"):
        assert pfs.run("cat", ref, gone, check=False).returncode == 1
    out = tmp_path / "out"
    pfs.run("extract", ref, out)
    assert os.readlink(out / "d" / "f1") == "t1"
    assert sorted(os.listdir(out / "d")) == sorted(crafted.MERGED_D)
