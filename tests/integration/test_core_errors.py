"""Acceptance 9: bad input gets a clear error naming the path, tag or
digest, exit status 1 (2 for usage errors), and never a crash (these tests
also run against the ASan+UBSan build).  Damaged images are made two ways:
damage to a blob on disk (caught by its sha256), and damaged content under
a correct name, referenced by a hand-written manifest (ocidir.retag), which
is what reaches the decoders."""
import json
import os
import random
import shutil
import stat
import struct
import subprocess

import pytest

import capnp_msg
import crafted
import ocidir
import seekable
from conftest import FIXTURES, NOBODY, TOP, as_nobody

pytestmark = pytest.mark.core
SANITIZER = (b"AddressSanitizer", b"LeakSanitizer", b"runtime error:",
             b"Segmentation fault")


def fails(pfs, *args, status=1, names=()):
    """Run a command that must fail cleanly; returns its stderr."""
    r = pfs.run(*args, check=False)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == status, (args, r.returncode, err)
    assert not any(s in r.stderr for s in SANITIZER), err
    assert err.startswith("puzzlefs"), err
    for n in names:
        assert str(n) in err, (n, err)
    return err


def no_crash(pfs, *args):
    """A command on damaged input: success or a clean failure."""
    r = pfs.run(*args, check=False)
    assert r.returncode in (0, 1), (args, r.returncode, r.stderr)
    assert not any(s in r.stderr for s in SANITIZER), r.stderr
    assert r.returncode == 0 or r.stderr.startswith(b"puzzlefs"), r.stderr
    return r


@pytest.fixture
def src(tmp_path):
    """A small tree: a compressible file of several seekable frames, an
    incompressible one, a directory, a symlink and xattrs."""
    s = tmp_path / "src"
    (s / "dir").mkdir(parents=True)
    (s / "text").write_bytes(b"".join(b"line %d\n" % i for i in range(3000)))
    shutil.copy(os.path.join(FIXTURES, "SekienAkashita.jpg"), s / "dir" / "jpg")
    os.symlink("text", s / "link")
    os.setxattr(s / "text", "user.k", b"v")
    return s


@pytest.fixture
def image(pfs, src, tmp_path):
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(src, f"{oci.path}:t", "-c")
    return oci


def text_chunk(pfs, oci, tag="t"):
    """The chunk digest of /text (compressed)."""
    dump = json.loads(pfs.run("dump", f"{oci.path}:{tag}").stdout)
    inodes = {i["ino"]: i for i in dump["metadatas"][0]}
    ino = next(e["ino"] for e in inodes[1]["entries"] if e["name"] == "text")
    (chunk,) = inodes[ino]["chunks"]
    assert chunk["compressed"]
    return chunk["digest"]


# ---- build --------------------------------------------------------------

def test_build_missing_rootfs(pfs, tmp_path):
    fails(pfs, "build", tmp_path / "nowhere", f"{tmp_path}/oci:t",
          names=[tmp_path / "nowhere"])
    fails(pfs, "build", "/etc/hostname", f"{tmp_path}/oci:t",
          names=["/etc/hostname"])


def test_build_unreadable(pfs, src, nobody_tmp):
    """Root reads everything, so build as nobody: a file and a directory
    it may not read."""
    top = nobody_tmp
    shutil.copytree(src, f"{top}/src", symlinks=True)
    subprocess.run(["chown", "-R", f"{NOBODY}:{NOBODY}", top], check=True)

    def build():
        return subprocess.run(as_nobody(pfs.exe, "build", f"{top}/src",
                                        f"{top}/oci:t"), capture_output=True)
    os.chmod(f"{top}/src/dir/jpg", 0)
    r = build()
    assert r.returncode == 1 and b"src/dir/jpg: Permission denied" in \
        r.stderr, r.stderr
    os.chmod(f"{top}/src/dir/jpg", 0o644)
    os.chmod(f"{top}/src/dir", 0)
    r = build()
    assert r.returncode == 1 and b"src/dir: Permission denied" in \
        r.stderr, r.stderr
    # Nothing was tagged; once readable, the same build works.
    assert pfs.run("tags", f"{top}/oci").stdout == b""
    os.chmod(f"{top}/src/dir", 0o755)
    assert build().returncode == 0


def test_build_file_replaced_by_fifo(pfs, tmp_path):
    """A regular file replaced by a FIFO between the walker's lstat and its
    open (swap_preload.c renames one over it at the open): the build fails
    at once, naming the file, instead of waiting for a writer."""
    shim = tmp_path / "swap.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", shim,
                    os.path.join(TOP, "tests", "integration", "swap_preload.c"),
                    "-ldl"], check=True)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a").write_bytes(b"a" * 1000)
    (src / "victim").write_bytes(b"v" * 1000)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    env = dict(os.environ, LD_PRELOAD=str(shim), PFS_SWAP_NAME="victim",
               PFS_SWAP_WITH=str(fifo),
               ASAN_OPTIONS=os.environ.get("ASAN_OPTIONS", "") +
               ":verify_asan_link_order=0")
    r = subprocess.run([pfs.exe, "build", src, f"{tmp_path}/oci:t"],
                       capture_output=True, env=env, timeout=60)
    assert r.returncode == 1, r.stderr
    assert b"src/victim: replaced while the build ran" in r.stderr, r.stderr
    assert stat.S_ISFIFO(os.lstat(src / "victim").st_mode)


def test_build_bad_base_or_dir(pfs, src, image, tmp_path):
    fails(pfs, "build", "-b", "nope", src, f"{image.path}:u",
          names=["'nope'"])
    fails(pfs, "build", src, "/etc/hostname:t", names=["/etc/hostname"])
    with open(os.path.join(image.path, "index.json"), "w") as f:
        f.write("{")
    fails(pfs, "build", src, f"{image.path}:u", names=["index.json"])
    with open(os.path.join(image.path, "index.json")) as f:
        assert f.read() == "{"     # not replaced


# ---- naming ---------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["ls", "cat", "extract", "dump", "fsck"])
def test_unknown_tag(pfs, image, cmd, tmp_path):
    extra = {"cat": ["/text"], "extract": [tmp_path / "out"]}.get(cmd, [])
    fails(pfs, cmd, f"{image.path}:nope", *extra,
          names=[image.path, "'nope'"])
    fails(pfs, cmd, f"{tmp_path}/absent:t", *extra,
          names=[f"{tmp_path}/absent"])


@pytest.mark.parametrize("ref", ["no-colon", "dir:", ":tag"])
@pytest.mark.parametrize("cmd", ["build", "ls", "cat", "extract", "dump"])
def test_malformed_ref(pfs, src, tmp_path, cmd, ref):
    args = {"build": [src, ref], "cat": [ref, "/x"],
            "extract": [ref, tmp_path / "out"]}.get(cmd, [ref])
    fails(pfs, cmd, *args, status=2, names=[f"'{ref}'", "OCI_DIR:TAG"])


# ---- damaged OCI directory ----------------------------------------------------

@pytest.mark.parametrize("content", [
    b"garbage", b"[]", b'{"manifests": {}}',
    b'{"manifests": [{"annotations": {"org.opencontainers.image.ref.name":'
    b' "t"}, "digest": "sha256:1234", "size": 2}]}',
    b'{"manifests": [{"annotations": {"org.opencontainers.image.ref.name":'
    b' "t"}, "digest": "sha256:' + b"0" * 64 + b'", "size": -1}]}',
    b'{"schemaVersion": 2, "schemaVersion": 2}',
], ids=["garbage", "array", "object", "digest", "size", "duplicate-key"])
def test_malformed_index(pfs, image, content):
    with open(os.path.join(image.path, "index.json"), "wb") as f:
        f.write(content)
    err = fails(pfs, "ls", f"{image.path}:t", names=["index.json"])
    assert image.path in err
    no_crash(pfs, "tags", image.path)
    fails(pfs, "fsck", image.path, names=["index.json"])


def test_missing_index(pfs, image):
    os.unlink(os.path.join(image.path, "index.json"))
    fails(pfs, "tags", image.path, names=["index.json"])


@pytest.mark.parametrize("content", [
    b"not json", b"{}", b'{"layers": [{"mediaType": "' + ocidir.ROOTFS.encode()
    + b'", "digest": "md5:00", "size": 1}]}',
    b'{"layers": [{"mediaType": "' + ocidir.CHUNK.encode() + b'", "digest":'
    b' "sha256:' + b"0" * 64 + b'", "size": 1}]}',
], ids=["garbage", "no-layers", "bad-digest", "no-rootfs"])
def test_malformed_manifest(pfs, image, content):
    image.tag_manifest("bad", content)
    fails(pfs, "ls", f"{image.path}:bad", names=["'bad'"])
    fails(pfs, "fsck", f"{image.path}:bad", names=["'bad'"])


def test_missing_blobs(pfs, image, tmp_path):
    chunk = text_chunk(pfs, image)
    os.unlink(image.blob_path(chunk))
    pfs.run("ls", f"{image.path}:t")
    fails(pfs, "cat", f"{image.path}:t", "/text", names=[chunk])
    fails(pfs, "extract", f"{image.path}:t", tmp_path / "out", names=[chunk])
    fails(pfs, "fsck", image.path, names=[chunk])
    rootfs = image.rootfs_digest("t")
    os.unlink(image.blob_path(rootfs))
    fails(pfs, "ls", f"{image.path}:t", names=[rootfs])
    manifest = image.manifest_digest("t")
    os.unlink(image.blob_path(manifest))
    fails(pfs, "dump", f"{image.path}:t", names=[manifest])


def test_fifo_in_place_of_a_file(pfs, image, tmp_path):
    """A FIFO under a blob's name or as index.json: opening it must not
    wait for a writer; the command names it and fails."""
    def fifo(path):
        os.unlink(path)
        os.mkfifo(path)

    def fails_soon(*args, names):
        r = pfs.run(*args, check=False, timeout=60)
        err = r.stderr.decode(errors="replace")
        assert r.returncode == 1, (args, r.returncode, err)
        for n in names:
            assert n in err, (n, err)
        return err

    chunk = text_chunk(pfs, image)
    fifo(image.blob_path(chunk))
    fails_soon("cat", f"{image.path}:t", "/text", names=[chunk])
    rootfs = image.rootfs_digest("t")
    fifo(image.blob_path(rootfs))
    err = fails_soon("ls", f"{image.path}:t", names=[rootfs])
    assert "not a regular file" in err
    manifest = image.manifest_digest("t")
    fifo(image.blob_path(manifest))
    fails_soon("ls", f"{image.path}:t", names=[manifest])
    fifo(os.path.join(image.path, "index.json"))
    err = fails_soon("ls", f"{image.path}:t", names=["index.json"])
    assert "not a regular file" in err


def test_damaged_blobs_on_disk(pfs, image, tmp_path):
    """Blobs whose content no longer matches their name."""
    chunk = text_chunk(pfs, image)
    with open(image.blob_path(chunk), "r+b") as f:
        f.seek(20)
        b = f.read(1)
        f.seek(20)
        f.write(bytes([b[0] ^ 1]))
    err = fails(pfs, "cat", f"{image.path}:t", "/text", names=[chunk])
    assert "sha256" in err
    fails(pfs, "extract", f"{image.path}:t", tmp_path / "out", names=[chunk])
    fails(pfs, "fsck", f"{image.path}:t", names=[chunk])
    rootfs = image.rootfs_digest("t")
    with open(image.blob_path(rootfs), "r+b") as f:
        f.truncate(os.path.getsize(image.blob_path(rootfs)) - 8)
    fails(pfs, "ls", f"{image.path}:t", names=[rootfs])
    fails(pfs, "fsck", image.path, names=[rootfs])


# ---- damaged content under correct names ---------------------------------------

def test_damaged_rootfs(pfs, image, tmp_path):
    """Truncated and bit-flipped rootfs messages, correctly addressed."""
    good = image.rootfs("t")
    rng = random.Random(9)
    cases = [good[:n] for n in (0, 4, 8, 16, 40, len(good) // 2,
                                len(good) - 8)]
    for _ in range(12):
        bad = bytearray(good)
        for _ in range(rng.randrange(1, 4)):
            bad[rng.randrange(len(bad))] ^= 1 << rng.randrange(8)
        cases.append(bytes(bad))
    # Segment table announcing more segments than there are.
    cases.append(struct.pack("<I", 5) + good[4:])
    for i, bad in enumerate(cases):
        tag = f"bad{i}"
        digest = image.retag("t", tag, rootfs=bad)
        ref = f"{image.path}:{tag}"
        r = no_crash(pfs, "ls", "-R", ref)
        if i < 7:       # the truncated ones cannot be read at all
            assert r.returncode == 1 and digest[:12].encode() in r.stderr
        no_crash(pfs, "dump", ref)
        no_crash(pfs, "extract", ref, tmp_path / tag)
        no_crash(pfs, "fsck", ref)


def test_wrong_manifest_version(pfs, image):
    good = bytearray(image.rootfs("t"))
    # Our single-segment rootfs: the root struct's data word (version 3)
    # follows the segment table and the root pointer.
    assert struct.unpack_from("<Q", good, 16)[0] == 3
    struct.pack_into("<Q", good, 16, 2)
    image.retag("t", "v2", rootfs=bytes(good))
    fails(pfs, "ls", f"{image.path}:v2", names=["version 2, expected 3"])


def test_damaged_seek_tables(pfs, image):
    chunk = text_chunk(pfs, image)
    good = image.blob(chunk)
    frames = seekable.frames(good)
    assert len(frames) > 3
    cases = {
        "magic": good[:-1] + b"\x00",
        "reserved-bits": good[:-5] + b"\x04" + good[-4:],
        "too-many-frames": good[:-9] + struct.pack("<I", 10 ** 6) + good[-5:],
        "frame-size": good[:len(good) - 9 - 8 * len(frames) - 4] +
        struct.pack("<I", 1) + good[len(good) - 9 - 8 * len(frames):],
        "sizes-sum": seekable.blob([(frames[0][0] + b"x", frames[0][1])] +
                                   frames[1:]),
        "decompressed-size": seekable.blob(
            [(frames[0][0], frames[0][1] + 1)] + frames[1:]),
        "huge-size": seekable.blob([(frames[0][0], 1 << 30)] + frames[1:]),
        # 2 TiB of content announced by a 37 KB blob.
        "huge-total": seekable.blob([(frames[0][0], 1 << 30)] * 2048),
        "checksum": seekable.blob(frames, [0] * len(frames)),
        "garbage-frame": seekable.blob(
            [(b"\x28\xb5\x2f\xfd" + bytes(20), 4096)] + frames[1:]),
        "no-table": b"".join(f for f, _ in frames),
        "empty": b"",
    }
    for name, blob in cases.items():
        image.retag("t", name, replace={chunk: blob})
        fails(pfs, "cat", f"{image.path}:{name}", "/text",
              names=[ocidir.sha256(blob)])
        no_crash(pfs, "fsck", f"{image.path}:{name}")


def test_compressed_flag_on_raw_chunk(pfs, image):
    """A raw chunk referred to as compressed: no seek table."""
    chunk = text_chunk(pfs, image)
    plain = subprocess.run(["zstd", "-d", "-c", "-q", image.blob_path(chunk)],
                           check=True, capture_output=True).stdout
    image.retag("t", "raw", replace={chunk: plain})
    fails(pfs, "cat", f"{image.path}:raw", "/text",
          names=[ocidir.sha256(plain)])


def capnp_rootfs(inodes):
    """A rootfs message from capnp JSON inodes (official encoder)."""
    schema = os.path.join(TOP, "core", "metadata.capnp")
    return subprocess.run(
        ["capnp", "convert", "json:binary", schema, "Rootfs"],
        input=json.dumps({"metadatas": [{"inodes": inodes}],
                          "manifestVersion": "3"}).encode(),
        check=True, capture_output=True).stdout


def dirent(ino, name):
    return {"ino": str(ino), "name": list(name)}


def test_hostile_image(pfs, image, tmp_path):
    """An image written to attack the extractor: the same name twice, first
    a symlink out of the destination, then a directory with a file in it.
    Extraction stops with an error and writes nothing outside DEST; fsck
    reports the name; an empty xattr name is reported, not a crash (or a
    leak)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    chunk = text_chunk(pfs, image)
    rootfs = capnp_rootfs([
        {"ino": "1", "mode": {"dir": {"entries": [
            dirent(2, b"x"), dirent(3, b"x"), dirent(5, b"y")]}},
         "permissions": 0o755},
        {"ino": "2", "mode": {"lnk": None}, "permissions": 0o777,
         "additional": {"symlinkTarget": list(os.fsencode(outside))}},
        {"ino": "3", "mode": {"dir": {"entries": [dirent(4, b"f")]}},
         "permissions": 0o755},
        {"ino": "4", "mode": {"file": [{"blob": {
            "digest": list(bytes.fromhex(chunk)), "compressed": True},
            "len": "100"}]}, "permissions": 0o644},
        {"ino": "5", "mode": {"file": []}, "permissions": 0o644,
         "additional": {"xattrs": [{"key": [], "val": list(b"v")}]}},
    ])
    image.retag("t", "hostile", rootfs=rootfs)
    ref = f"{image.path}:hostile"
    no_crash(pfs, "ls", "-R", ref)
    no_crash(pfs, "dump", ref)
    fails(pfs, "extract", ref, tmp_path / "dest", names=["x"])
    assert os.listdir(outside) == []
    fails(pfs, "fsck", ref, names=["xattr", "'x' appears twice"])


def test_zero_sized_list_elements(pfs, image):
    """Cap'n Proto lets a list of empty structs take no room at all; a
    file whose chunk list is one (as many elements as the format allows
    for the cost of one word) is corrupt, not 8 million chunks of 0 bytes
    to walk on every access."""
    root = capnp_msg.decode(image.rootfs("t"))
    (layer,) = root.ptrs[0].items
    for inode in layer.ptrs[0].items:
        if struct.unpack_from("<H", inode.data, 8)[0] == 5:     # file
            inode.ptrs[0] = capnp_msg.List(7, 1000, dw=0, pw=0, items=[
                capnp_msg.Struct(b"", [])] * 1000)
    image.retag("t", "empty-structs", rootfs=capnp_msg.encode(root))
    fails(pfs, "ls", "-R", "-l", f"{image.path}:empty-structs",
          names=["more than the rootfs holds"])


def test_layers_share_inodes(pfs, image):
    """Layers are separate lists: 64 layers that all point at the base's
    inode list (64 times the inodes for no room at all) are refused when
    the image is opened, not indexed or searched 64 times over."""
    root = capnp_msg.decode(image.rootfs("t"))
    (layer,) = root.ptrs[0].items
    metas = root.ptrs[0]
    metas.items = [layer] * 64
    metas.count = 64
    image.retag("t", "shared", rootfs=capnp_msg.encode(root))
    fails(pfs, "ls", f"{image.path}:shared", names=["rootfs: layer "])


def test_too_many_xattrs(pfs, image):
    """Linux lists at most 64 KiB of xattr names, so no inode can have more
    than 32,768; one with more (every getxattr would scan them all, and
    many inodes can share one list) is corrupt.  32,768 are served."""
    def rootfs(n):
        xattrs = [{"key": list(b"user.%d" % i), "val": []} for i in range(n)]
        return capnp_rootfs([
            {"ino": "1", "mode": {"dir": {"entries": [dirent(2, b"f")]}},
             "permissions": 0o755},
            {"ino": "2", "mode": {"file": []}, "permissions": 0o644,
             "additional": {"xattrs": xattrs}}])
    image.retag("t", "many", rootfs=rootfs(32768))
    assert pfs.run("ls", "-l", f"{image.path}:many", "/f").returncode == 0
    image.retag("t", "toomany", rootfs=rootfs(32769))
    fails(pfs, "ls", "-l", f"{image.path}:toomany", "/f",
          names=["32769 xattrs"])


def test_inodes_share_lists(pfs, tmp_path):
    """Directories pointing at one entry list cost a few words each but a
    whole list to walk: when the lists add up to more than the rootfs
    holds, the image is refused when opened, instead of walks (census,
    extract, fsck) growing with the square of its size."""
    src = tmp_path / "src"
    crafted.make_runs_tree(src)
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(src, f"{oci.path}:t")
    oci.retag("t", "two", rootfs=crafted.shared_dirs_rootfs(
        oci.rootfs("t"), b"d", 2))
    r = pfs.run("ls", "-l", f"{oci.path}:two", "/")
    assert r.stderr == b"" and len(r.stdout.splitlines()) == 3
    oci.retag("t", "many", rootfs=crafted.shared_dirs_rootfs(
        oci.rootfs("t"), b"d", 300))
    fails(pfs, "ls", "-l", f"{oci.path}:many", "/",
          names=["more than the rootfs holds"])

