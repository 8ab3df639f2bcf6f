"""Issue 19: what a hostile-image and fault campaign found, item by item.
Hostile images come from tests/integration/hostile.py (crafted rootfs and
chunk blobs, independent of the code under test) or from real trees.
These tests also run under ASan+UBSan (the crash cases: deep trees,
cycles, bombs, an empty DEST); what they measure of memory is checked in
the plain build only (a sanitizer's shadow memory and quarantine are part
of a process's RSS there).

  1 test_build_depth_limit, test_deep_tree, test_crafted_too_deep
  2 test_directory_linked_twice
  3 test_one_frame_bomb, test_big_blob_bounded
  4 test_extract_empty_dest
  5 test_no_root
  6 test_extract_capabilities, test_extract_all_xattrs_or_fail
  7 test_extract_goes_on
  8 test_no_devices_as_root, test_no_setuid
  9 test_missing_chunk_cat, test_mount_w_and_p, test_tag_grammar,
    test_foreign_tags_listed, test_big_index, test_expanded_size
"""
import json
import os
import random
import resource
import shutil
import stat
import subprocess
import sys
import tempfile

import pytest
from pathlib import Path

import hostile
import ocidir
from conftest import BUILD, as_nobody
from hostile import KIB, MIB, MAX_DEPTH

pytestmark = pytest.mark.core
SANITIZED = "san" in os.path.basename(os.path.normpath(BUILD))
SANITIZER = (b"AddressSanitizer", b"LeakSanitizer", b"runtime error:",
             b"Segmentation fault")
# Only a guard against hangs and runaway output: no outcome depends on it.
HANG = 300
OUTPUT_MAX = 512 << 20


def _limit_output():
    # Runaway output (ls -R of a cycle printed 4.8 GB) ends the command.
    resource.setrlimit(resource.RLIMIT_FSIZE, (OUTPUT_MAX, OUTPUT_MAX))


def run(pfs, *args, status=0, names=()):
    """Run the CLI; the exit status must be @status and stderr must name
    each of @names.  Returns (stdout, stderr)."""
    with tempfile.TemporaryFile() as o, tempfile.TemporaryFile() as e:
        p = subprocess.Popen([pfs.exe, *map(os.fspath, args)], stdout=o,
                             stderr=e, preexec_fn=_limit_output)
        try:
            p.wait(timeout=HANG)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            raise AssertionError(f"{args}: hang")
        o.seek(0)
        e.seek(0)
        out, err = o.read(), e.read()
    text = err.decode(errors="replace")
    assert p.returncode == status, (args, p.returncode, text[:4000])
    assert not any(s in err for s in SANITIZER), text
    assert status == 0 or text.startswith("puzzlefs"), text
    for n in names:
        assert str(n) in text, (n, text[:4000])
    return out, text


def peak_rss(pfs, *args, status=0):
    """The peak RSS of one CLI run (bytes): a process of its own waits
    for it, so that its children's peak is that run's."""
    r = subprocess.run(
        [sys.executable, "-c",
         "import resource, subprocess, sys\n"
         "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL,"
         " stderr=subprocess.PIPE)\n"
         "sys.stderr.buffer.write(r.stderr)\n"
         "print(r.returncode, resource.getrusage("
         "resource.RUSAGE_CHILDREN).ru_maxrss * 1024)",
         pfs.exe, *map(os.fspath, args)],
        capture_output=True, text=True, timeout=HANG)
    rc, rss = map(int, r.stdout.split())
    assert rc == status, (args, rc, r.stderr)
    return rss


# ---- 1. depth ------------------------------------------------------------------

@pytest.fixture(scope="module")
def deep(pfs, tmp_path_factory):
    """A real tree MAX_DEPTH levels deep (the most build takes) and its
    image."""
    base = tmp_path_factory.mktemp("deep")
    src = hostile.make_deep_tree(str(base / "src"), MAX_DEPTH)
    pfs.build(src, f"{base}/oci:t")
    yield base
    hostile.remove_deep(src)


@pytest.fixture
def deep_out(tmp_path):
    """A directory for a deep tree, removed level by level afterwards."""
    yield tmp_path / "out"
    hostile.remove_deep(str(tmp_path / "out"))


def test_build_depth_limit(pfs, deep, deep_out, tmp_path):
    """A tree one level deeper is refused, and the message (its path is
    8 KB) still ends with the reason."""
    src = hostile.make_deep_tree(str(deep_out), MAX_DEPTH + 1)
    _, err = run(pfs, "build", src, f"{tmp_path}/oci:t", status=1)
    assert err.rstrip().endswith(
        "more than 4096 levels below the root (the most an image holds)"), err
    assert len(err) < 2048


def test_deep_tree(pfs, deep, deep_out):
    """What build accepts, extract, ls -R and fsck take (the first
    crashed at ~1,600 levels)."""
    ref = f"{deep}/oci:t"
    run(pfs, "extract", ref, deep_out)
    assert hostile.read_deep(str(deep_out), MAX_DEPTH) == b"bottom\n"
    out, _ = run(pfs, "ls", "-R", ref)
    lines = out.decode().splitlines()
    assert len(lines) == MAX_DEPTH + 1
    assert lines[-1] == "/d" * MAX_DEPTH + "/f"
    run(pfs, "fsck", ref)
    out, _ = run(pfs, "ls", "--total", ref)
    assert out == b"%d entries, 1 files, 7 bytes\n" % (MAX_DEPTH + 1)


@pytest.fixture(scope="module")
def too_deep(tmp_path_factory):
    """Crafted: a chain of 10,000 directories."""
    base = tmp_path_factory.mktemp("toodeep")
    hostile.image(str(base / "oci"), "t", [hostile.chain(10000)])
    return base


@pytest.mark.parametrize("cmd", ["extract", "ls", "fsck", "dump"])
def test_crafted_too_deep(pfs, too_deep, tmp_path, cmd):
    """Refused by every command that walks it, before anything is written;
    the reason names the directory."""
    ref = f"{too_deep}/oci:t"
    why = "is more than 4096 levels below the root"
    dest = tmp_path / "dest"
    args = {"extract": ["extract", ref, dest], "ls": ["ls", "-R", ref],
            "fsck": ["fsck", ref], "dump": ["dump", ref]}[cmd]
    out, err = run(pfs, *args, status=1, names=[why, "4098"])
    assert not dest.exists()
    if cmd == "dump":
        assert json.loads(out)["expanded"] is None


# ---- 2. cycles and DAGs --------------------------------------------------------------

CYCLES = {
    # /a names itself
    "self": [[hostile.dir_(1, [("a", 2)]), hostile.dir_(2, [("self", 2)])]],
    # /a/up is the root
    "root": [[hostile.dir_(1, [("a", 2)]), hostile.dir_(2, [("up", 1)])]],
    # 40 levels, each directory named twice: 2^40 paths
    "dag": [hostile.dag(40)],
    # /a/b/c back to /a
    "loop": [[hostile.dir_(1, [("a", 2)]), hostile.dir_(2, [("b", 3)]),
              hostile.dir_(3, [("c", 4)]), hostile.dir_(4, [("a", 2)])]],
}


@pytest.fixture(scope="module")
def cycles(tmp_path_factory):
    base = tmp_path_factory.mktemp("cycles")
    for name, layers in CYCLES.items():
        hostile.image(str(base / "oci"), name, layers)
    return base / "oci"


@pytest.mark.parametrize("name", sorted(CYCLES))
def test_directory_linked_twice(pfs, cycles, tmp_path, name):
    """ls -R (which ran to 4.7 GB of memory and 4.8 GB of output), extract,
    fsck and dump refuse the image, naming the directory."""
    ref = f"{cycles}:{name}"
    why = "is linked twice"
    out, _ = run(pfs, "ls", "-R", ref, status=1, names=[why])
    assert not out
    run(pfs, "extract", ref, tmp_path / "dest", status=1, names=[why])
    assert not (tmp_path / "dest").exists()
    run(pfs, "fsck", ref, status=1, names=[why])
    out, _ = run(pfs, "dump", ref, status=1, names=[why])
    assert json.loads(out)["expanded"] is None
    run(pfs, "ls", "--total", ref, status=1, names=[why])
    # A listing of one directory is no walk.
    run(pfs, "ls", ref)


# ---- 3. decompression bombs ------------------------------------------------------

@pytest.fixture(scope="module")
def bombs(tmp_path_factory):
    """t1: one file of one chunk, one seekable frame of 1 GiB of zeros (a
    34 KB image).  big: one file of 256 MiB of zeros in 1,024 frames of
    256 KiB each (a chunk's most), a blob of 32 KB: too big a content for
    a chunk, but a reader must serve it in bounded memory."""
    base = tmp_path_factory.mktemp("bombs")
    one = hostile.seekable.blob([(hostile.zero_frame(1 << 30), 1 << 30)])
    big = hostile.zeros_blob(256 * MIB, hostile.FRAME_MAX)
    for tag, blob, size in (("t1", one, 1 << 30), ("big", big, 256 * MIB)):
        d = ocidir.sha256(blob)
        hostile.image(str(base / "oci"), tag, [[
            hostile.dir_(1, [("z", 2), ("ok", 3)]),
            hostile.file_(2, [(d, 0, size, True)]),
            hostile.file_(3)]], chunks=[blob])
    return base / "oci"


def test_one_frame_bomb(pfs, bombs, tmp_path):
    """A frame announcing more than a chunk is refused at once (cat, fsck
    and the FUSE daemon held 1 GiB whatever cache_size said)."""
    ref = f"{bombs}:t1"
    why = "invalid seek table"
    run(pfs, "cat", ref, "/z", status=1,
                    names=[why, "Input/output error"])
    run(pfs, "fsck", ref, status=1, names=[why])
    run(pfs, "extract", ref, tmp_path / "out", status=1, names=[why, "/z"])
    assert not (tmp_path / "out" / "z").exists()
    assert (tmp_path / "out" / "ok").exists()
    if not SANITIZED:
        assert peak_rss(pfs, "cat", ref, "/z", status=1) < 64 * MIB


def test_big_blob_bounded(pfs, bombs, tmp_path):
    """256 MiB of content from a 32 KB blob: served right, decoded frame
    by frame as reads go, in memory bounded by the cache, not by the
    content (which was held whole, and decoded again for every read once
    it did not fit the cache)."""
    ref = f"{bombs}:big"
    p = subprocess.Popen([pfs.exe, "cat", ref, "/z"], stdout=subprocess.PIPE)
    n = 0
    while True:
        b = p.stdout.read(1 << 20)
        if not b:
            break
        assert b.count(0) == len(b)
        n += len(b)
    assert p.wait(timeout=HANG) == 0
    assert n == 256 * MIB
    run(pfs, "extract", ref, tmp_path / "out")
    assert os.path.getsize(tmp_path / "out" / "z") == 256 * MIB
    if not SANITIZED:
        assert peak_rss(pfs, "cat", ref, "/z") < 96 * MIB
        assert peak_rss(pfs, "extract", ref, tmp_path / "again") < 96 * MIB


# ---- 4, 5. arguments and roots ---------------------------------------------------------

def test_extract_empty_dest(pfs, bombs):
    """An empty DEST is a usage error (mkdir_p read before its buffer)."""
    run(pfs, "extract", f"{bombs}:big", "", status=2, names=["DEST is empty"])


@pytest.mark.parametrize("case", ["missing", "whiteout", "file"])
def test_no_root(pfs, tmp_path, case):
    """An image without a root directory: every failure says why, and
    extract creates nothing (it exited 1 with an empty message and made
    DEST)."""
    layers = {"missing": [[hostile.dir_(2, [])]],
              "whiteout": [[hostile.wht_(1)], [hostile.dir_(1, [])]],
              "file": [[hostile.file_(1)]]}[case]
    hostile.image(str(tmp_path / "oci"), "t", layers)
    ref = f"{tmp_path}/oci:t"
    why = "no root directory"
    run(pfs, "extract", ref, tmp_path / "dest", status=1, names=[why])
    assert not (tmp_path / "dest").exists()
    run(pfs, "ls", "-R", ref, status=1)
    run(pfs, "fsck", ref, status=1, names=[why])


# ---- 6. xattrs -------------------------------------------------------------------

# A VFS capability, revision 2: cap_net_raw permitted and effective.
CAP = (0x02000001).to_bytes(4, "little") + (1 << 13).to_bytes(4, "little") + \
    bytes(12)


# A POSIX ACL (as setfacl -m u:1234:r writes it): user::rwx, user:1234:r,
# group::r-x, mask::r-x, other::r-x.
ACL = (2).to_bytes(4, "little") + b"".join(
    tag.to_bytes(2, "little") + perm.to_bytes(2, "little") +
    uid.to_bytes(4, "little", signed=True)
    for tag, perm, uid in ((1, 7, -1), (2, 4, 1234), (4, 5, -1),
                           (0x10, 5, -1), (0x20, 5, -1)))


@pytest.fixture(scope="module")
def caps(pfs, tmp_path_factory):
    """Files another user owns with security.capability, setuid and
    setgid bits, user.*, trusted.* and an ACL."""
    base = tmp_path_factory.mktemp("caps")
    src = base / "src"
    (src / "bin").mkdir(parents=True)
    for name, mode in (("ping", 0o755), ("suid", 0o4755), ("sgid", 0o2711),
                       ("sticky", 0o1777)):
        p = src / "bin" / name
        if name == "sticky":
            p.mkdir()
        else:
            p.write_bytes(b"#!/bin/true\n")
        os.chown(p, 1000, 1000)
        os.chmod(p, mode)
    os.setxattr(src / "bin" / "ping", "security.capability", CAP)
    os.setxattr(src / "bin" / "ping", "user.note", b"n")
    os.setxattr(src / "bin" / "suid", "trusted.t", b"t")
    os.setxattr(src / "bin" / "suid", "system.posix_acl_access", ACL)
    pfs.build(src, f"{base}/oci:t")
    return base


def test_extract_capabilities(pfs, caps, tmp_path):
    """security.capability survives (chown, which clears it, goes first):
    extract dropped it without a word, while dump and mounts showed it."""
    run(pfs, "extract", f"{caps}/oci:t", tmp_path / "out")
    ping = tmp_path / "out" / "bin" / "ping"
    assert os.getxattr(ping, "security.capability") == CAP
    assert os.getxattr(ping, "user.note") == b"n"
    st = os.lstat(ping)
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    src = pfs.listing(caps / "src")
    got = pfs.listing(tmp_path / "out")
    assert got == src


def test_no_setuid(pfs, caps, tmp_path):
    """--no-setuid drops setuid and setgid bits (and keeps the rest)."""
    run(pfs, "extract", "--no-setuid", f"{caps}/oci:t", tmp_path / "out")
    b = tmp_path / "out" / "bin"
    assert stat.S_IMODE(os.lstat(b / "suid").st_mode) == 0o755
    assert stat.S_IMODE(os.lstat(b / "sgid").st_mode) == 0o711
    assert stat.S_IMODE(os.lstat(b / "sticky").st_mode) == 0o1777
    assert os.getxattr(b / "ping", "security.capability") == CAP


def test_extract_all_xattrs_or_fail(pfs, caps, nobody_tmp):
    """Xattrs that cannot be restored (as an ordinary user: trusted.*, and
    security.capability without CAP_SETFCAP) are each reported, and the
    exit status is 1, once all the rest is extracted."""
    oci = os.path.join(nobody_tmp, "oci")
    shutil.copytree(caps / "oci", oci)
    out = Path(nobody_tmp) / "out"
    r = subprocess.run(as_nobody(pfs.exe, "extract", f"{oci}:t", out),
                       capture_output=True, timeout=HANG)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    assert "bin/suid: trusted.t: Operation not permitted" in err
    assert "bin/ping: security.capability: Operation not permitted" in err
    assert "2 failures" in err
    # All the rest is there.
    assert os.getxattr(out / "bin" / "ping", "user.note") == b"n"
    assert stat.S_IMODE(os.lstat(out / "bin" / "suid").st_mode) == 0o4755


# ---- 7. a failed extract -------------------------------------------------------------

def test_extract_goes_on(pfs, tmp_path):
    """A file whose chunk is missing: reported (naming it and the blob),
    not left as a truncated 0600 file, and everything after it is still
    extracted, directories' modes included; exit status 1."""
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    data = {n: random.Random(n).randbytes(600 * KIB) for n in "abc"}
    for name in ("a", "b", "c"):
        (src / "d" / name).write_bytes(data[name])
    os.chmod(src / "d", 0o750)
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(src, f"{oci.path}:t")
    dump = json.loads(pfs.run("dump", f"{oci.path}:t").stdout)
    inodes = {i["ino"]: i for i in dump["metadatas"][0]}
    names = {e["name"]: e["ino"] for i in inodes.values()
             for e in i.get("entries", [])}
    # b's own chunk: one no other file uses.
    others = {c["digest"] for n in ("a", "c")
              for c in inodes[names[n]]["chunks"]}
    own = [c["digest"] for c in inodes[names["b"]]["chunks"]
           if c["digest"] not in others]
    os.unlink(oci.blob_path(own[0]))
    out = tmp_path / "out"
    run(pfs, "extract", oci.path + ":t", out, status=1,
        names=["out/d/b", own[0], "1 failure"])
    assert not (out / "d" / "b").exists()
    assert (out / "d" / "a").read_bytes() == data["a"]
    assert (out / "d" / "c").read_bytes() == data["c"]
    assert stat.S_IMODE(os.lstat(out / "d").st_mode) == 0o750


# ---- 8. privilege ------------------------------------------------------------------

def test_no_devices_as_root(pfs, tmp_path):
    """--no-devices means it as root too: a copy of /dev/mem's numbers or
    of a disk's is not made (it was, whenever it could be)."""
    hostile.image(str(tmp_path / "oci"), "t", [[
        hostile.dir_(1, [("mem", 2), ("sda", 3), ("fifo", 4), ("f", 5)]),
        hostile.dev_(2, "chr", 1, 1), hostile.dev_(3, "blk", 8, 0),
        hostile._inode(4, {"fifo": None}, 0o644), hostile.file_(5)]])
    out = tmp_path / "out"
    _, err = run(pfs, "extract", "--no-devices", f"{tmp_path}/oci:t", out)
    assert not err
    assert sorted(os.listdir(out)) == ["f", "fifo"]
    run(pfs, "extract", f"{tmp_path}/oci:t", tmp_path / "all")
    assert stat.S_ISCHR(os.lstat(tmp_path / "all" / "mem").st_mode)


# ---- 9. the smaller ones ------------------------------------------------------------

def test_missing_chunk_cat(pfs, tmp_path):
    """A missing chunk blob is an I/O error of the read (not 'No such
    file', which is what a mount then said of the file itself)."""
    oci, d = hostile.missing_chunk_image(pfs, tmp_path)
    run(pfs, "cat", f"{oci.path}:t", "/f", status=1,
        names=[d, "/f: Input/output error"])


def test_mount_w_and_p(pfs, tmp_path):
    """-w and -p exclude each other, as the usage says (-w | -p)."""
    for args in (["-w", "-p", tmp_path / "u"],
                 ["-o", f"writable,persist={tmp_path}/u"]):
        run(pfs, "mount", *args, f"{tmp_path}/oci:t", tmp_path / "m",
            status=2, names=["exclude each other"])


BAD_TAGS = ["a/b", "..", ".a", "-a", "a\nb", "a\x01", "x" * 10000,
            "x" * 129, "a b", "caf\u00e9"]


def test_tag_grammar(pfs, tmp_path):
    """Tags follow [A-Za-z0-9_][A-Za-z0-9._-]{0,127}: build refuses others
    (it took 'a/b', '..', a newline, 10,000 characters), so do the
    commands that name one, with the grammar in the message; index.json
    is not touched."""
    src = tmp_path / "src"
    src.mkdir()
    ok = "A_z-9." + "x" * 122
    oci = tmp_path / "oci"
    pfs.build(src, f"{oci}:{ok}")
    index = (oci / "index.json").read_bytes()
    for tag in BAD_TAGS:
        for args in (["build", src, f"{oci}:{tag}"],
                     ["build", "-b", tag, src, f"{oci}:new"],
                     ["rmtag", f"{oci}:{tag}"], ["ls", f"{oci}:{tag}"],
                     ["extract", f"{oci}:{tag}", tmp_path / "x"]):
            run(pfs, *args, status=2,
                names=["invalid tag", "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"])
        assert (oci / "index.json").read_bytes() == index
    out, _ = run(pfs, "tags", oci)
    assert out.decode() == ok + "\n"


def test_foreign_tags_listed(pfs, tmp_path):
    """A tag another tool wrote outside the grammar is listed on one line,
    escaped (tags printed 'a\\nb' as two lines), and said to be invalid."""
    src = tmp_path / "src"
    src.mkdir()
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(src, f"{oci.path}:t")
    index = oci.index()
    odd = dict(index["manifests"][0])
    odd["annotations"] = {ocidir.REFNAME: "a\nb\\c\x01"}
    index["manifests"].append(odd)
    oci.write_index(index)
    out, err = run(pfs, "tags", oci.path)
    assert out.decode().splitlines() == ["t", "a\\nb\\\\c\\x01"]
    assert "not a valid tag" in err
    tags = json.loads(run(pfs, "tags", "--json", oci.path)[0])
    assert [t["tag"] for t in tags] == ["t", "a\nb\\c\x01"]


@pytest.fixture(scope="module")
def big_index(pfs, tmp_path_factory):
    """An index.json of 50,000 tags (13 MB; the campaign's 200,000 took
    400-700 MB to read)."""
    base = tmp_path_factory.mktemp("index")
    src = base / "src"
    src.mkdir()
    (src / "f").write_bytes(b"f\n")
    oci = ocidir.Oci(base / "oci")
    pfs.build(src, f"{oci.path}:t")
    index = oci.index()
    one = index["manifests"][0]
    index["manifests"] = [dict(one, annotations={ocidir.REFNAME: f"v{i}"})
                          for i in range(50000)] + [one]
    oci.write_index(index)
    return oci


def test_big_index(pfs, big_index, tmp_path):
    """Every command reads (and build and rmtag rewrite) index.json as a
    stream of descriptors: memory is the file, not a JSON tree of it;
    what is rewritten keeps every other tag, canonical."""
    oci = big_index
    ref = f"{oci.path}:t"
    out, _ = run(pfs, "tags", oci.path)
    assert len(out.splitlines()) == 50001
    assert len(json.loads(run(pfs, "tags", "--json", oci.path)[0])) == 50001
    run(pfs, "cat", ref, "/f")
    run(pfs, "rmtag", f"{oci.path}:v7")
    run(pfs, "build", tmp_path, f"{oci.path}:v8")
    index = oci.index()
    tags = [m["annotations"][ocidir.REFNAME] for m in index["manifests"]]
    assert len(tags) == 50000 and tags[-1] == "v8" and "v7" not in tags
    assert (open(os.path.join(oci.path, "index.json"), "rb").read() ==
            ocidir.canonical(index))
    if not SANITIZED:
        size = os.path.getsize(os.path.join(oci.path, "index.json"))
        for args in (["tags", oci.path], ["tags", "--json", oci.path],
                     ["cat", ref, "/f"], ["rmtag", f"{oci.path}:v9"]):
            assert peak_rss(pfs, *args) < 3 * size + 32 * MIB, args


def test_expanded_size(pfs, tmp_path):
    """20,000 files of one 256 KiB chunk each are 5 GiB on extract: ls
    --total and dump say so, and extract --max-size refuses before DEST
    exists (it wrote all of it without a word)."""
    blob = os.urandom(256 * KIB)
    d = ocidir.sha256(blob)
    n = 20000
    hostile.image(str(tmp_path / "oci"), "t", [
        [hostile.dir_(1, [(f"f{i:05d}", i + 2) for i in range(n)])] +
        [hostile.file_(i + 2, [(d, 0, len(blob), False)])
         for i in range(n)]], chunks=[blob])
    ref = f"{tmp_path}/oci:t"
    total = n * 256 * KIB
    out, _ = run(pfs, "ls", "--total", ref)
    assert out.decode() == f"{n} entries, {n} files, {total} bytes\n"
    j = json.loads(run(pfs, "ls", "--total", "--json", ref)[0])
    assert j == {"path": "/", "entries": n, "files": n, "bytes": total}
    dump = json.loads(run(pfs, "dump", ref)[0])
    assert dump["expanded"] == {"entries": n, "files": n, "bytes": total}
    run(pfs, "extract", "--max-size", "1G", ref, tmp_path / "dest",
        status=1, names=[str(total), "--max-size"])
    assert not (tmp_path / "dest").exists()
