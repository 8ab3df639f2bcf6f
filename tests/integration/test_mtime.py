"""Issue 15, timestamps: build stores every inode's mtime (Inode.mtime and
Inode.mtimeNsec, ours, after the reference's fields), --mtime and
SOURCE_DATE_EPOCH normalise them, delta builds compare them; extract, ls,
dump and FUSE show them; the reference's schema still reads such images as
before, and images without mtimes (the reference's) behave as they did.
The kernel module's side is in tests/kernel (the guest lists mounts with
mtimes).  Python's timestamp-based .pyc files stay valid in a mounted
image: the test of why mtimes matter.
"""
import json
import os
import re
import subprocess
import sys

import pytest

import capnp_msg
import ocidir
import tree
from conftest import REFERENCE, TOP
from test_fuse import Mounts, mkdir

SCHEMA = os.path.join(TOP, "core", "metadata.capnp")
REF_SCHEMA = os.path.join(TOP, "tests", "fixtures", "reference-metadata.capnp")
NS = 10**9


def set_ns(path, ns):
    os.utime(path, ns=(ns, ns), follow_symlinks=False)


@pytest.fixture(scope="module")
def mtime_tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("mtime") / "tree")
    return root, tree.make_mtime_tree(root)


@pytest.fixture(scope="module")
def images(pfs, mtime_tree, tmp_path_factory):
    """The tree with mtimes (tag t), compressed (tag z), without (tag
    none)."""
    oci = ocidir.Oci(tmp_path_factory.mktemp("mtime-oci") / "oci")
    pfs.build(mtime_tree[0], f"{oci.path}:t")
    pfs.build(mtime_tree[0], f"{oci.path}:z", "-c")
    pfs.build(mtime_tree[0], f"{oci.path}:none", "--mtime", "none")
    return oci


def ls(pfs, ref, *opts):
    out = json.loads(pfs.run("ls", "-R", "--json", *opts, ref).stdout)
    return {e["path"]: e for e in out}


def inode_sizes(rootfs):
    """Data words of each layer's inodes."""
    root = capnp_msg.decode(rootfs)
    return [layer.ptrs[0].dw for layer in root.ptrs[0].items]


def top_inodes(pfs, oci, tag):
    return {i["ino"]: i for i in json.loads(
        pfs.run("dump", f"{oci.path}:{tag}").stdout)["metadatas"][0]}


@pytest.mark.core
@pytest.mark.parametrize("tag", ["t", "z"])
def test_extract(pfs, mtime_tree, images, tmp_path, tag):
    """build -> extract keeps every mtime to the nanosecond: files, hard
    links, symlinks (dangling too), fifos, devices, sockets, directories
    (set after their entries), the root."""
    out = tmp_path / "out"
    pfs.run("extract", f"{images.path}:{tag}", out)
    want = pfs.listing(mtime_tree[0], nlink=True, mtime=True)
    tree.compare(want, pfs.listing(out, nlink=True, mtime=True))
    assert want["dir/sub/old"]["mtime"] == "-31536000.500000000"
    assert want["link"]["mtime"] == "1400000000.000000001"


@pytest.mark.core
def test_ls_and_dump(pfs, mtime_tree, images):
    root, times = mtime_tree
    entries = ls(pfs, f"{images.path}:t")
    for path, ns in times.items():
        e = entries["/" if path == "." else "/" + path] if path != "." else None
        if e is None:
            continue
        assert e["mtime"] * NS + e["mtime_nsec"] == ns, path
    assert entries["/dir/hard2"]["mtime_nsec"] == 999_999_999
    # ls -l: the mtime in UTC, or "-" when the image has none.
    long = pfs.run("ls", "-l", f"{images.path}:t", "/dir").stdout.decode()
    assert re.search(r" 2020-09-13 12:26:40 file$", long, re.M), long
    none = pfs.run("ls", "-l", f"{images.path}:none", "/dir").stdout.decode()
    assert re.search(r" - +file$", none, re.M), none
    assert all("mtime" not in e for e in ls(pfs, f"{images.path}:none").values())
    # dump: as stored, seconds and nanoseconds apart.
    dumped = top_inodes(pfs, images, "t")
    assert dumped[1]["mtime"] == 1_700_000_003 and dumped[1]["mtimeNsec"] == 9
    assert not any("mtime" in i for i in top_inodes(pfs, images, "none").values())


@pytest.mark.core
def test_wire_format(pfs, mtime_tree, images):
    """32-byte inodes with mtimes, the reference's 24 without (--mtime
    none is byte for byte what builds wrote before mtimes existed).  The
    official Cap'n Proto decoder with the reference's schema (what its
    generated readers see) reads the mtime image exactly as the image
    without: older readers skip the fields; with ours it reads the
    values."""
    with_m, without = images.rootfs("t"), images.rootfs("none")
    assert inode_sizes(with_m) == [4] and inode_sizes(without) == [3]
    assert len(with_m) - len(without) == 8 * len(top_inodes(pfs, images, "t"))

    def convert(schema, data):
        return subprocess.run(["capnp", "convert", "binary:json", schema,
                               "Rootfs"], input=data, check=True,
                              capture_output=True).stdout
    assert convert(REF_SCHEMA, with_m) == convert(REF_SCHEMA, without)
    ours = json.loads(convert(SCHEMA, with_m))
    by_ino = {int(i["ino"]): i for i in ours["metadatas"][0]["inodes"]}
    dumped = top_inodes(pfs, images, "t")
    for ino, i in dumped.items():
        assert (int(by_ino[ino]["mtime"]), by_ino[ino]["mtimeNsec"]) == \
            (i["mtime"], i["mtimeNsec"]), ino
    # The reference's schema compiles to 24-byte inodes, ours to 32, the
    # new fields in the padding hole and after it.
    layout = subprocess.run(["capnp", "compile", "-ocapnp", SCHEMA],
                            check=True, capture_output=True, text=True).stdout
    assert "mtime @14 :Int64;  # bits[192, 256)" in layout
    assert "mtimeNsec @15 :UInt32;  # bits[160, 192)" in layout
    ref = subprocess.run(["capnp", "compile", "-ocapnp", REF_SCHEMA],
                         check=True, capture_output=True, text=True).stdout
    assert re.search(r"struct Inode @0xb975cead028072a1 \{  # 24 bytes", ref)


@pytest.mark.core
def test_reference_images(pfs, tmp_path):
    """The reference's images have no mtimes: nothing shown, nothing set
    by extract (the files keep the time they were written)."""
    ref = f"{os.path.join(REFERENCE, 'demo')}:v1"
    assert all("mtime" not in e for e in ls(pfs, ref).values())
    dumped = json.loads(pfs.run("dump", ref).stdout)
    assert not any("mtime" in i for layer in dumped["metadatas"] for i in layer)
    long = pfs.run("ls", "-l", ref).stdout.decode().splitlines()
    assert long and all(re.search(r"\d -\s{19}\S", line) for line in long)
    out = tmp_path / "out"
    pfs.run("extract", ref, out)
    for d, dirs, files in os.walk(out):
        for n in dirs + files:
            assert os.lstat(os.path.join(d, n)).st_mtime > 1e9, n


@pytest.mark.core
def test_source_date_epoch(pfs, tmp_path):
    """SOURCE_DATE_EPOCH clamps: later mtimes become it, earlier ones stay
    as they are (nanoseconds included); with --mtime the fixed time is
    clamped too.  A malformed value is a usage error."""
    src = tmp_path / "src"
    src.mkdir()
    for name, ns in (("early", 1000 * NS + 5), ("at", 2000 * NS),
                     ("just-after", 2000 * NS + 1), ("late", 3000 * NS)):
        (src / name).write_text(name)
        set_ns(src / name, ns)
    set_ns(src, 5000 * NS)
    oci = ocidir.Oci(tmp_path / "oci")

    def built(tag, *opts, sde="2000"):
        env = dict(os.environ, SOURCE_DATE_EPOCH=sde)
        pfs.run("build", *opts, src, f"{oci.path}:{tag}", env=env)
        return {p: (e["mtime"], e["mtime_nsec"])
                for p, e in ls(pfs, f"{oci.path}:{tag}").items()}
    assert built("clamp") == {"/early": (1000, 5), "/at": (2000, 0),
                              "/just-after": (2000, 0), "/late": (2000, 0)}
    assert top_inodes(pfs, oci, "clamp")[1]["mtime"] == 2000
    assert set(built("fixed", "--mtime", "2500").values()) == {(2000, 0)}
    assert set(built("fixed-early", "--mtime", "-5").values()) == {(-5, 0)}
    assert built("empty", sde="")["/late"] == (3000, 0)
    for bad in ("2000.5", "1e9", " 1", "x", "99999999999999999999"):
        r = pfs.run("build", src, f"{oci.path}:bad",
                    env=dict(os.environ, SOURCE_DATE_EPOCH=bad), check=False)
        assert r.returncode == 2 and b"SOURCE_DATE_EPOCH" in r.stderr, bad
    for bad in ("soon", "1.5", ""):
        r = pfs.run("build", "--mtime", bad, src, f"{oci.path}:bad",
                    check=False)
        assert r.returncode == 2 and b"--mtime" in r.stderr, bad
    with pytest.raises(KeyError):
        oci.descriptor("bad")


@pytest.mark.core
def test_delta(pfs, mtime_tree, tmp_path):
    """A delta compares mtimes: a file only touched goes into the new
    layer (with the base's chunks: no new data), untouched inodes do not.
    On a base without mtimes a delta stores none either, unless told
    (--mtime source: then every inode differs from the base's)."""
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    tree.make_mtime_tree(a)
    subprocess.run(["cp", "-a", a, b], check=True)
    set_ns(os.path.join(b, "dir", "file"), 1_650_000_000 * NS)
    set_ns(os.path.join(b, "dir"), 1_700_000_001 * NS + 7)
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(a, f"{oci.path}:a")
    before = oci.blobs()
    pfs.build(b, f"{oci.path}:b", "-b", "a")
    file_ino = ls(pfs, f"{oci.path}:a")["/dir/file"]["ino"]
    assert set(top_inodes(pfs, oci, "b")) == {file_ino}
    assert oci.blobs() - before == {oci.rootfs_digest("b"),
                                    oci.manifest_digest("b")}
    out = tmp_path / "out"
    pfs.run("extract", f"{oci.path}:b", out)
    tree.compare(pfs.listing(b, mtime=True), pfs.listing(out, mtime=True))
    # A base without mtimes: the default delta stores none and holds only
    # the changed file; --mtime source gives every inode its mtime.
    pfs.build(a, f"{oci.path}:a-none", "--mtime", "none")
    with open(os.path.join(b, "zero"), "w") as f:
        f.write("changed\n")
    pfs.build(b, f"{oci.path}:b-none", "-b", "a-none")
    top = top_inodes(pfs, oci, "b-none")
    zero_ino = ls(pfs, f"{oci.path}:a")["/zero"]["ino"]
    assert set(top) == {zero_ino} and "mtime" not in top[zero_ino]
    assert inode_sizes(oci.rootfs("b-none")) == [3, 3]
    pfs.build(b, f"{oci.path}:b-source", "-b", "a-none", "--mtime", "source")
    assert len(top_inodes(pfs, oci, "b-source")) == \
        len(top_inodes(pfs, oci, "a-none"))
    assert inode_sizes(oci.rootfs("b-source")) == [4, 3]
    # --mtime none on a base with mtimes: every inode differs from the
    # base's; the base layer keeps its bytes below.
    pfs.build(b, f"{oci.path}:b-mixed", "-b", "a", "--mtime", "none")
    assert inode_sizes(oci.rootfs("b-mixed")) == [3, 4]
    dump = lambda t: json.loads(pfs.run("dump", f"{oci.path}:{t}").stdout)  # noqa: E731
    assert dump("b-mixed")["metadatas"][1] == dump("a")["metadatas"][0]
    assert all("mtime" not in e for e in ls(pfs, f"{oci.path}:b-mixed").values())


# ---- FUSE --------------------------------------------------------------------

@pytest.fixture
def mounts(pfs):
    m = Mounts(pfs)
    yield m
    m.cleanup()


@pytest.mark.fuse
def test_fuse(pfs, mounts, mtime_tree, images, tmp_path):
    """A mount shows each inode's mtime, as atime and ctime too."""
    for tag in ("t", "z"):
        mnt = mkdir(tmp_path / tag)
        mounts.mount(f"{images.path}:{tag}", mnt)
        tree.compare(pfs.listing(mtime_tree[0], nlink=True, mtime=True),
                     pfs.listing(mnt, nlink=True, mtime=True))
        for name in ("dir/sub/old", "link", "empty", "."):
            st = os.lstat(os.path.join(mnt, name))
            assert st.st_atime_ns == st.st_ctime_ns == st.st_mtime_ns, name


PY_SOURCE = "VALUE = 42\n"


def pyc_tree(root):
    """A module and its timestamp-based .pyc (compileall's default), the
    source's mtime well in the past."""
    os.makedirs(root)
    src = os.path.join(root, "pfsmod.py")
    with open(src, "w") as f:
        f.write(PY_SOURCE)
    set_ns(src, 1_234_567_890 * NS)
    subprocess.run([sys.executable, "-m", "compileall", "-q", root],
                   check=True)
    return os.path.join(root, "__pycache__", f"pfsmod.{sys.implementation.cache_tag}.pyc")


def python_import(mnt):
    """Import pfsmod from the mount under strace: (python -v output, the
    openat calls that would create files, whether the .pyc validates
    against the source's st_mtime as importlib checks it)."""
    check = (
        "import importlib._bootstrap_external as b, importlib.util, os, sys\n"
        "src = os.path.join(sys.argv[1], 'pfsmod.py')\n"
        "pyc = importlib.util.cache_from_source(src)\n"
        "st = os.stat(src)\n"
        "data = open(pyc, 'rb').read()\n"
        "b._classify_pyc(data, 'pfsmod', {})\n"
        "try:\n"
        "    b._validate_timestamp_pyc(data, int(st.st_mtime), st.st_size,\n"
        "                              'pfsmod', {})\n"
        "    print('valid')\n"
        "except ImportError as e:\n"
        "    print('stale:', e)\n")
    valid = subprocess.run([sys.executable, "-c", check, mnt], check=True,
                           capture_output=True, text=True).stdout.strip()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("PYTHON")}
    env["PYTHONPATH"] = mnt
    r = subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat",
                        sys.executable, "-v", "-c",
                        "import pfsmod; print(pfsmod.VALUE)"],
                       env=env, check=True, capture_output=True, text=True)
    assert r.stdout == "42\n"
    creates = [line for line in r.stderr.splitlines()
               if "openat(" in line and "O_CREAT" in line and mnt in line]
    return r.stderr, creates, valid


@pytest.mark.fuse
def test_pyc(pfs, mounts, tmp_path):
    """Python imports a module's .pyc from a mounted image without
    recompiling it: the pyc's recorded source mtime matches the mounted
    source's.  Without mtimes (--mtime none: one time for the whole mount)
    the same pyc is stale, Python compiles the source and tries to write a
    new pyc (refused by the read-only mount) at every start."""
    src = str(tmp_path / "src")
    pyc = pyc_tree(src)
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(src, f"{oci.path}:t")
    pfs.build(src, f"{oci.path}:none", "--mtime", "none")
    for tag, fresh in (("t", True), ("none", False)):
        mnt = mkdir(tmp_path / f"mnt-{tag}")
        mounts.mount(f"{oci.path}:{tag}", mnt)
        mpyc = os.path.join(mnt, os.path.relpath(pyc, src))
        verbose, creates, valid = python_import(mnt)
        if fresh:
            assert valid == "valid", valid
            assert f"{mpyc} matches {mnt}/pfsmod.py" in verbose, verbose
            assert f"code object from '{mpyc}'" in verbose, verbose
            assert not creates, creates
        else:
            assert valid.startswith("stale:"), valid
            assert "bytecode is stale for 'pfsmod'" in verbose, verbose
            assert creates and all("EROFS" in c for c in creates), creates
