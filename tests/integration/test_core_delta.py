"""Acceptance 8: delta builds (`build -b BASE`).  The new tag is a new top
metadata layer over the base's layers; it must extract to exactly the new
tree, the base tag must be untouched, and data that did not change must
not be stored again."""
import json
import os
import random
import shutil

import pytest

import ocidir
import seekable
import tree
from conftest import REFERENCE

pytestmark = pytest.mark.core
KIB = 1024


def rand(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little")


def put(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    os.chmod(path, mode)


def make_base(root):
    rng = random.Random(8)
    j = os.path.join
    put(j(root, "keep", "big"), rand(rng, 1024 * KIB))
    put(j(root, "keep", "small"), b"unchanged\n")
    os.symlink("small", j(root, "keep", "link"))
    put(j(root, "del", "file1"), b"deleted with its directory\n")
    put(j(root, "del", "sub", "file2"), rand(rng, 40 * KIB))
    put(j(root, "gone"), b"deleted file\n")
    put(j(root, "content"), rand(rng, 200 * KIB))
    put(j(root, "grows"), b"a line\n" * 1000)
    put(j(root, "mode"), b"mode changes\n")
    put(j(root, "owner"), b"owner changes\n")
    os.chown(j(root, "owner"), 1000, 1000)
    put(j(root, "xattrs"), b"xattrs change\n")
    os.setxattr(j(root, "xattrs"), "user.a", b"1")
    os.setxattr(j(root, "xattrs"), "user.b", b"2")
    put(j(root, "file2dir"), b"becomes a directory\n")
    put(j(root, "dir2file", "child"), b"parent becomes a file\n")
    os.symlink("old-target", j(root, "symlink"))
    put(j(root, "hard", "h1"), b"linked now, not later\n")
    os.link(j(root, "hard", "h1"), j(root, "hard", "h2"))
    put(j(root, "hard", "n1"), b"separate now, linked later\n")
    put(j(root, "hard", "n2"), b"separate now, linked later\n")
    os.mkdir(j(root, "dirmode"))
    os.mkdir(j(root, "empty"))


def change(root):
    """The base tree turned into the delta's tree."""
    rng = random.Random(9)
    j = os.path.join
    shutil.rmtree(j(root, "del"))
    os.unlink(j(root, "gone"))
    with open(j(root, "content"), "r+b") as f:
        f.seek(100 * KIB)
        f.write(b"changed in the middle")
    with open(j(root, "grows"), "ab") as f:
        f.write(b"another line\n")
    os.chmod(j(root, "mode"), 0o600)
    os.chown(j(root, "owner"), 2000, 3000)
    os.setxattr(j(root, "xattrs"), "user.a", b"changed")
    os.removexattr(j(root, "xattrs"), "user.b")
    os.setxattr(j(root, "xattrs"), "user.c", b"3")
    os.unlink(j(root, "file2dir"))
    put(j(root, "file2dir", "inside"), b"now a directory\n")
    shutil.rmtree(j(root, "dir2file"))
    put(j(root, "dir2file"), b"now a file\n")
    os.unlink(j(root, "symlink"))
    os.symlink("new-target", j(root, "symlink"))
    os.unlink(j(root, "hard", "h2"))
    put(j(root, "hard", "h2"), b"no longer linked\n")
    os.unlink(j(root, "hard", "n2"))
    os.link(j(root, "hard", "n1"), j(root, "hard", "n2"))
    os.chmod(j(root, "dirmode"), 0o700)
    put(j(root, "new", "dir", "file"), rand(rng, 30 * KIB))
    put(j(root, "new-file"), b"added\n")
    os.mkfifo(j(root, "new-fifo"))


def chunk_digests(pfs, oci, tag):
    dump = json.loads(pfs.run("dump", f"{oci.path}:{tag}").stdout)
    return dump, {c["digest"] for layer in dump["metadatas"] for i in layer
                  for c in i.get("chunks", [])}


@pytest.mark.parametrize("opts", [(), ("-c",)], ids=["plain", "zstd"])
def test_delta(pfs, tmp_path, opts):
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    make_base(a)
    shutil.copytree(a, b, symlinks=True)
    change(b)
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(a, f"{oci.path}:a", *opts)
    blobs_a = oci.blobs()
    pfs.build(b, f"{oci.path}:b", "-b", "a", *opts)
    for tag, src in (("a", a), ("b", b)):
        out = tmp_path / f"out-{tag}"
        pfs.run("extract", f"{oci.path}:{tag}", out)
        tree.compare(pfs.listing(src), pfs.listing(out))
    for gone in ("/gone", "/del", "/del/file1"):
        r = pfs.run("ls", f"{oci.path}:b", gone, check=False)
        assert r.returncode == 1 and gone.encode() in r.stderr

    dump_a, used_a = chunk_digests(pfs, oci, "a")
    dump_b, used_b = chunk_digests(pfs, oci, "b")
    assert len(dump_b["metadatas"]) == 2
    assert dump_b["metadatas"][1] == dump_a["metadatas"][0]
    # Only what changed is in the new layer: not keep/ and its contents.
    top = {i["ino"] for i in dump_b["metadatas"][0]}
    root = dump_a["metadatas"][0][0]
    keep = next(e["ino"] for e in root["entries"] if e["name"] == "keep")
    keep_dir = next(i for i in dump_a["metadatas"][0] if i["ino"] == keep)
    assert not top & ({keep} | {e["ino"] for e in keep_dir["entries"]})
    # Unchanged data is not stored twice: what the delta added is its
    # rootfs, its manifest and the chunks of new or changed content only.
    new = oci.blobs() - blobs_a
    assert oci.rootfs_digest("b") in new and oci.manifest_digest("b") in new
    new_chunks = new & used_b
    assert new == new_chunks | {oci.rootfs_digest("b"),
                                oci.manifest_digest("b")}
    # keep/big's chunks are shared by both tags: counted once.
    big_ino = next(e["ino"] for e in keep_dir["entries"] if e["name"] == "big")
    big = {c["digest"] for i in dump_a["metadatas"][0] if i["ino"] == big_ino
           for c in i["chunks"]}
    assert len(big) > 10 and big <= used_a & used_b and not big & new
    changed = (200 + 8 + 30 + 1) * KIB
    assert 0 < sum(os.path.getsize(oci.blob_path(d)) for d in new_chunks) \
        <= changed
    layers = [l["digest"][7:] for l in oci.chunk_layers("b")]
    assert sorted(layers) == sorted(used_b)
    pfs.run("fsck", oci.path)

    # A third layer re-adds what the second deleted (the reference cannot).
    pfs.build(a, f"{oci.path}:c", "-b", "b", *opts)
    out = tmp_path / "out-c"
    pfs.run("extract", f"{oci.path}:c", out)
    tree.compare(pfs.listing(a), pfs.listing(out))
    assert len(json.loads(pfs.run("dump", f"{oci.path}:c").stdout)
               ["metadatas"]) == 3
    pfs.run("fsck", oci.path)


def test_delta_of_identical_tree(pfs, tmp_path):
    """Nothing changed: the new layer is empty, no chunk is stored."""
    a = str(tmp_path / "a")
    make_base(a)
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(a, f"{oci.path}:a")
    before = oci.blobs()
    pfs.build(a, f"{oci.path}:b", "-b", "a")
    assert len(oci.blobs() - before) == 2   # rootfs and manifest
    dump = json.loads(pfs.run("dump", f"{oci.path}:b").stdout)
    assert dump["metadatas"][0] == []
    out = tmp_path / "out"
    pfs.run("extract", f"{oci.path}:b", out)
    tree.compare(pfs.listing(a), pfs.listing(out))


def frame_sizes(oci, layers):
    """The decompressed sizes of every frame but each blob's last."""
    sizes = set()
    for l in layers:
        blob = oci.blob(l["digest"][7:])
        if blob[-4:] == seekable.SEEKABLE.to_bytes(4, "little"):  # not raw
            sizes |= {n for _, n in seekable.frames(blob)[:-1]}
    return sizes


def test_delta_follows_the_base_frame_size(pfs, tmp_path):
    """A chunk is one blob only when every build compresses it the same
    way.  On a base the reference built (4 KiB frames), build -c -b cuts
    4 KiB frames too, so a changed file's unchanged chunks are the base's
    blobs; --frame-size still decides when given."""
    oci = ocidir.Oci(tmp_path / "demo")
    shutil.copytree(os.path.join(REFERENCE, "demo"), oci.path)
    src = tmp_path / "src"
    pfs.run("extract", f"{oci.path}:v0-zstd", src)
    with open(src / "usr/share/words.txt", "ab") as f:
        f.write(b"one more line\n")
    base = {l["digest"] for l in oci.chunk_layers("v0-zstd")}
    stored = {}
    for tag, opts in (("follows", ()), ("told", ("--frame-size", "32K"))):
        pfs.build(src, f"{oci.path}:{tag}", "-c", "-b", "v0-zstd", *opts)
        new = [l for l in oci.chunk_layers(tag) if l["digest"] not in base]
        stored[tag] = len(new)
        assert frame_sizes(oci, new) == {4096 if tag == "follows" else 32768}
        out = tmp_path / f"out-{tag}"
        pfs.run("extract", f"{oci.path}:{tag}", out)
        tree.compare(pfs.listing(src), pfs.listing(out))
    # words.txt is 16 chunks: most of them did not change.
    assert stored["follows"] <= 4 < stored["told"]


@pytest.mark.parametrize("base_frame,want", [("256K", set()), ("100", {32768})],
                         ids=["whole-chunk", "tiny"])
def test_delta_frame_size_of_other_bases(pfs, tmp_path, base_frame, want):
    """A base of one frame per chunk (--frame-size 256K): its delta's
    chunks are one frame each too.  A base of 100-byte frames is not
    followed (a frame that small would make the build crawl): 32 KiB."""
    rng = random.Random(5)
    words = [b"frame", b"chunk", b"blob", b"layer", b"delta"]
    a = tmp_path / "a"
    put(str(a / "text"), b" ".join(rng.choice(words) for _ in range(150000)))
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(a, f"{oci.path}:a", "-c", "--frame-size", base_frame)
    put(str(a / "more"), b" ".join(rng.choice(words) for _ in range(150000)))
    pfs.build(a, f"{oci.path}:b", "-c", "-b", "a")
    base = {l["digest"] for l in oci.chunk_layers("a")}
    new = [l for l in oci.chunk_layers("b") if l["digest"] not in base]
    assert len(new) > 1 and frame_sizes(oci, new) == want
