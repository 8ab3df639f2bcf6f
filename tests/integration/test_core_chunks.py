"""Acceptance 4: the chunk stream, its FastCDC boundaries and the chunk
blobs, against an independent Python FastCDC (fastcdc.py) over the stream
the spec defines (every regular file once, in inode-numbering order:
depth first over directories, each directory's children in byte order).
"""
import collections
import hashlib
import json
import os
import random
import struct
import subprocess

import pytest

import fastcdc
import ocidir
import seekable
from conftest import FIXTURES

pytestmark = pytest.mark.core
KIB = 1024


def test_oracle_matches_fastcdc_vectors():
    """The oracle reproduces fastcdc-rs 3.0.0's own test vectors."""
    with open(os.path.join(FIXTURES, "SekienAkashita.jpg"), "rb") as f:
        jpg = f.read()
    got = fastcdc.chunks(jpg, fastcdc.Params(4096, 16384, 65535))
    assert [(n, h) for _, n, h in got] == [
        (21325, 17968276318003433923), (17140, 8197189939299398838),
        (28084, 13019990849178155730), (18217, 4509236223063678303),
        (24700, 2504464741100432583)]
    assert fastcdc.chunks(jpg) == [(0, 109466, 2504464741100432583)]


def make_tree(root):
    """~2.5 MiB in nested directories, so that the order matters: chunks
    span files, a hard link is first met before its original name, zeros
    give maximal chunks, duplicate content gives duplicate chunks."""
    rng = random.Random(4)
    j = os.path.join

    def put(path, data):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)

    def rand(n):
        return rng.getrandbits(8 * n).to_bytes(n, "little")

    dup = rand(300 * KIB)
    put(j(root, "a-dir", "x"), rand(300 * KIB))
    put(j(root, "a-dir", "sub", "y"), rand(100 * KIB))
    put(j(root, "a-dir", "z"), rand(50 * KIB + 3))
    put(j(root, "b-file"), rand(200 * KIB))
    put(j(root, "c-dir", "w"), rand(700 * KIB))
    put(j(root, "c-dir", "dup1"), dup)
    put(j(root, "c-dir", "dup2"), dup)
    put(j(root, "d-file"), rand(5 * KIB))
    put(j(root, "e-empty"), b"")
    os.link(j(root, "a-dir", "x"), j(root, "f-link"))
    put(j(root, "g-text"), b"".join(b"text line %d\n" % i
                                    for i in range(30000)))
    put(j(root, "h-zeros"), bytes(600 * KIB))
    os.symlink("b-file", j(root, "i-symlink"))
    for i in range(20):
        put(j(root, "j-small", f"s{i:02d}"), rand(rng.randrange(1, 3000)))


def stream_order(root):
    """Regular files in the order their bytes enter the chunker."""
    seen, order = set(), []

    def visit(d):
        names = sorted(os.listdir(os.fsencode(d)))
        for n in names:
            st = os.lstat(os.path.join(d, n))
            if os.path.isfile(os.path.join(d, n)) and not os.path.islink(
                    os.path.join(d, n)) and (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                order.append(os.path.join(d, n))
        for n in names:
            p = os.path.join(d, n)
            if os.path.isdir(p) and not os.path.islink(p):
                visit(p)
    visit(os.fsencode(root))
    return order


def expected_chunks(root):
    """{relative path: [(sha256, offset in chunk, len)]} and {sha256: bytes}
    as spec §3.3 maps the chunks onto the files."""
    files = stream_order(root)
    data = []
    for p in files:
        with open(p, "rb") as f:
            data.append(f.read())
    stream = b"".join(data)
    cuts = fastcdc.chunks(stream)
    blobs = {}
    per_file = {}
    pos = 0
    for p, d in zip(files, data):
        pieces, start, end = [], pos, pos + len(d)
        for off, n, _ in cuts:
            lo, hi = max(off, start), min(off + n, end)
            if lo < hi:
                chunk = stream[off:off + n]
                digest = hashlib.sha256(chunk).hexdigest()
                blobs[digest] = chunk
                pieces.append((digest, lo - off, hi - lo))
        per_file[os.path.relpath(p, os.fsencode(root))] = pieces
        pos = end
    return per_file, blobs, cuts


def dumped_files(pfs, oci, tag):
    """{relative path: chunk list} of every regular file in the image."""
    dump = json.loads(pfs.run("dump", f"{oci}:{tag}").stdout)
    inodes = {i["ino"]: i for layer in reversed(dump["metadatas"])
              for i in layer}
    files = {}

    def walk(ino, prefix):
        for e in inodes[ino]["entries"]:
            name = bytes.fromhex(e["name_hex"]) if "name_hex" in e \
                else e["name"].encode()
            child = inodes[e["ino"]]
            path = prefix + name
            if child["type"] == "dir":
                walk(e["ino"], path + b"/")
            elif child["type"] == "file":
                files[path] = child["chunks"]
    walk(1, b"")
    return files, dump


@pytest.fixture(scope="module")
def chunk_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("chunks") / "tree"
    make_tree(str(root))
    return str(root), expected_chunks(str(root))


def test_uncompressed_chunks(pfs, chunk_tree, tmp_path):
    root, (per_file, blobs, cuts) = chunk_tree
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(root, f"{oci.path}:t")
    files, dump = dumped_files(pfs, oci.path, "t")
    got = {p: [(c["digest"], c["offset"], c["len"]) for c in ch]
           for p, ch in files.items()}
    # Hard links: the image holds the inode once; both names give it.
    assert got == per_file | {b"a-dir/x": per_file[b"f-link"]}
    assert all(not c["compressed"] for ch in files.values() for c in ch)
    # The fixture is meant to cover: chunks shared by several files,
    # maximal chunks, a short last chunk and deduplicated chunks.
    users = collections.Counter(d for v in per_file.values()
                                for d in {d for d, _, _ in v})
    assert max(users.values()) > 1
    assert any(n == 256 * KIB for _, n, _ in cuts)
    assert cuts[-1][1] < 16 * KIB
    assert len(blobs) < len(cuts)
    # Each chunk blob holds exactly its chunk, named by its sha256, listed
    # once in the manifest and once in fsVerityData.
    for digest, chunk in blobs.items():
        assert oci.blob(digest) == chunk
    layers = oci.chunk_layers("t")
    assert sorted(l["digest"] for l in layers) == \
        sorted("sha256:" + d for d in blobs)
    assert all(l["mediaType"] == ocidir.CHUNK and
               l["size"] == len(blobs[l["digest"][7:]]) for l in layers)
    assert [v["digest"] for v in dump["fsVerityData"]] == sorted(blobs)


def seek_table(blob):
    """[(compressed size, decompressed size)] of a seekable zstd blob,
    checking the framing (zstd contrib/seekable_format)."""
    n, desc, magic = struct.unpack_from("<IBI", blob, len(blob) - 9)
    assert magic == 0x8F92EAB1 and desc == 0
    table = 8 + 8 * n + 9
    skip_magic, size = struct.unpack_from("<II", blob, len(blob) - table)
    assert skip_magic == 0x184D2A5E and size == table - 8
    entries = [struct.unpack_from("<II", blob, len(blob) - table + 8 + 8 * i)
               for i in range(n)]
    assert sum(c for c, _ in entries) + table == len(blob)
    return entries


def test_compressed_chunks(pfs, chunk_tree, tmp_path):
    root, (per_file, blobs, cuts) = chunk_tree
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(root, f"{oci.path}:t", "-c")
    files, dump = dumped_files(pfs, oci.path, "t")
    # Same boundaries as without compression; chunks stored compressed
    # are referred to by the digest of the compressed blob.
    stored = {}
    for path, ch in files.items():
        want = per_file[b"f-link" if path == b"a-dir/x" else path]
        assert [(c["offset"], c["len"]) for c in ch] == \
            [(o, n) for _, o, n in want], path
        for c, (raw, _, _) in zip(ch, want):
            stored[c["digest"]] = (raw, c["compressed"])
    assert {r for r, _ in stored.values()} == set(blobs)
    frames = tmp_path / "frames"
    frames.mkdir()
    whole, parts = [], []
    for digest, (raw, compressed) in sorted(stored.items()):
        blob = oci.blob(digest)
        assert hashlib.sha256(blob).hexdigest() == digest
        if not compressed:
            # Stored raw only when compression did not pay (random data).
            assert blob == blobs[raw]
            continue
        assert len(blob) < len(blobs[raw])
        whole.append((digest, raw))
        entries = seek_table(blob)
        # Frames of 32 KiB uncompressed bytes (the default), the last one
        # shorter.
        sizes = [d for _, d in entries]
        assert sum(sizes) == len(blobs[raw])
        assert all(d == 32 * KIB for d in sizes[:-1]) and \
            0 < sizes[-1] <= 32 * KIB
        off = 0
        for i, (c, d) in enumerate(entries):
            name = frames / f"{digest}.{i}.zst"
            name.write_bytes(blob[off:off + c])
            parts.append((name, blobs[raw][sum(sizes[:i]):][:d]))
            off += c
    assert whole and len(whole) < len(stored)   # some of each kind
    # Each blob, and each frame on its own, decompresses with zstd -d.
    for digest, raw in whole:
        out = subprocess.run(["zstd", "-d", "-c", "-q", oci.blob_path(digest)],
                             check=True, capture_output=True).stdout
        assert out == blobs[raw]
    subprocess.run(["zstd", "-d", "-q", *[str(p) for p, _ in parts]],
                   check=True)
    for p, want in parts:
        assert (frames / p.stem).read_bytes() == want
    layers = oci.chunk_layers("t")
    assert sorted(l["digest"][7:] for l in layers) == sorted(stored)
    assert all(l["mediaType"] == ocidir.CHUNK + "+zstd" for l in layers)


def test_foreign_seekable_blobs(pfs, tmp_path):
    """Seekable blobs as other writers make them read the same (spec:
    with or without checksums): per-frame checksums and a trailing empty
    frame (facebook's contrib writer), and frames of other sizes."""
    src = tmp_path / "src"
    src.mkdir()
    text = b"".join(b"%d bottles of beer on the wall\n" % i
                    for i in range(1500))
    (src / "text").write_bytes(text)
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(src, f"{oci.path}:t", "-c")
    (layer,) = oci.chunk_layers("t")
    digest = layer["digest"][7:]
    frames = seekable.frames(oci.blob(digest))
    sums, off = [], 0
    for _, n in frames:
        sums.append(seekable.xxh64(text[off:off + n]))
        off += n
    one_frame = subprocess.run(["zstd", "-c", "-q", "--no-check"], input=text,
                               check=True, capture_output=True).stdout
    halves = [subprocess.run(["zstd", "-c", "-q"], input=h, check=True,
                             capture_output=True).stdout
              for h in (text[:10000], text[10000:])]
    variants = {
        "checksums": seekable.blob(frames, sums),
        "empty-last-frame": seekable.blob(
            frames + [(seekable.EMPTY_FRAME, 0)], sums + [seekable.xxh64(b"")]),
        "one-frame": seekable.blob([(one_frame, len(text))]),
        "uneven-frames": seekable.blob([(halves[0], 10000),
                                        (halves[1], len(text) - 10000)]),
    }
    for name, blob in variants.items():
        oci.retag("t", name, replace={digest: blob})
        assert pfs.run("cat", f"{oci.path}:{name}", "/text").stdout == text, \
            name
        pfs.run("fsck", f"{oci.path}:{name}")


def test_frame_size_option(pfs, tmp_path):
    """--frame-size takes bytes or 1024-based K/M/G: 16K cuts 16384-byte
    frames (the same blobs as 16384), 256K one frame per chunk."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "text").write_bytes(words(random.Random(7), 600 << 10))
    stored = {}
    for size in ("16K", "16384", "256K"):
        oci = ocidir.Oci(tmp_path / size)
        pfs.build(src, f"{oci.path}:t", "-c", "--frame-size", size)
        blobs = {l["digest"]: oci.blob(l["digest"][7:])
                 for l in oci.chunk_layers("t")}
        stored[size] = blobs
        for blob in blobs.values():
            sizes = [n for _, n in seekable.frames(blob)]
            if size == "256K":
                assert len(sizes) == 1
            else:
                assert set(sizes[:-1]) <= {16384} and 0 < sizes[-1] <= 16384
        assert pfs.run("cat", f"{oci.path}:t", "/text").stdout == \
            (src / "text").read_bytes()
    assert stored["16K"] == stored["16384"]
    assert len(stored["256K"]) > 1


def words(rng, size):
    """Compressible text of @size bytes, different for every @rng."""
    vocab = [b"puzzle", b"chunk", b"blob", b"inode", b"frame", b"seek",
             b"digest", b"layer", b"verity", b"stream", b"\n"]
    out = bytearray()
    while len(out) < size:
        out += b" ".join(rng.choices(vocab, k=4096))
    return bytes(out[:size])


def test_repeated_chunks(pfs, tmp_path):
    """build -c finds chunks that repeat earlier ones and does not compress
    them again; the image is the one it would be anyway."""
    rng = random.Random(7)
    root = tmp_path / "tree"
    root.mkdir()
    # 24 MiB: more chunks than one batch of blobs (256), so that the
    # first copy's blobs are named by the time the copies are read.
    first = words(rng, 24 << 20)
    near = bytearray(first)
    near[len(near) // 2] ^= 0x20
    (root / "a-first").write_bytes(first)
    (root / "b-copy").write_bytes(first)
    (root / "c-near").write_bytes(bytes(near))
    (root / "d-other").write_bytes(words(rng, 1 << 20))

    def build(oci, *opts):
        out = pfs.run("build", "--json", *opts, root, f"{oci}:t").stdout
        return json.loads(out)

    plain = build(tmp_path / "plain")
    one = build(tmp_path / "one", "-c", "-j", "1")
    two = build(tmp_path / "two", "-c", "-j", "2")
    assert plain["repeats"] == 0
    for r in (plain, one, two):
        assert r["files"] == 4 and r["bytes"] == 3 * len(first) + (1 << 20)
    # Every build cuts the same chunks into the same distinct blobs.
    assert one["chunks"] == two["chunks"] == plain["chunks"]
    assert one["blobs"] == two["blobs"] == plain["blobs"]
    assert plain["blobs"] < plain["chunks"]
    # Whether a repeat is caught before compression depends on timing
    # (its first blob must be named already); the image does not.
    assert one["manifest_verity"] == two["manifest_verity"]
    assert one["repeats"] > 0 and two["repeats"] > 0
    assert one["repeats"] <= one["chunks"] - one["blobs"]
    files, _ = dumped_files(pfs, tmp_path / "two", "t")
    # One stream: a copy's first and last chunks straddle its neighbours;
    # FastCDC finds the first copy's cuts again within a few chunks.
    seen = {c["digest"] for c in files[b"a-first"]}
    new = {f: [i for i, c in enumerate(files[f]) if c["digest"] not in seen]
           for f in (b"b-copy", b"c-near")}
    n = len(files[b"c-near"])
    assert n > 300
    assert all(i < 3 for i in new[b"b-copy"])
    middle = [i for i in new[b"c-near"] if 3 <= i < n - 1]
    assert 1 <= len(middle) <= 2 and abs(middle[0] - n // 2) < n // 8
    out = tmp_path / "out"
    pfs.run("extract", f"{tmp_path / 'two'}:t", out)
    for name in ("a-first", "b-copy", "c-near", "d-other"):
        assert (out / name).read_bytes() == (root / name).read_bytes()
    pfs.run("fsck", f"{tmp_path / 'two'}:t")


def test_repeated_chunks_not_synced_yet(pfs, tmp_path):
    """A copy right after its original: the first copy's blobs are still
    waiting for their batch's sync (far fewer than 256), and are read
    through their descriptors to prove the repeats."""
    rng = random.Random(8)
    root = tmp_path / "tree"
    root.mkdir()
    data = words(rng, 4 << 20)
    (root / "a").write_bytes(data)
    (root / "b").write_bytes(data)
    out = pfs.run("build", "--json", "-c", "-j", "1", root,
                  f"{tmp_path / 'oci'}:t").stdout
    r = json.loads(out)
    assert r["blobs"] < r["chunks"] < 256
    # With one worker the copy's chunks come after every blob of the
    # original is stored: each repeat but the straddling ones is caught.
    assert r["repeats"] >= r["chunks"] - r["blobs"] - 2
    pfs.run("extract", f"{tmp_path / 'oci'}:t", tmp_path / "out")
    for name in ("a", "b"):
        assert (tmp_path / "out" / name).read_bytes() == data
