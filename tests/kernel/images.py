"""Test images for the kernel guest, made on the host.

prepare() fills a staging directory that becomes the guest's data disk:

  img/corner   corner-case tree (tests/integration/tree.py), tags plain, zstd
  img/delta    tags a (tree A) and b, b-zstd (tree B built with -b a / -b a-zstd)
  img/vt       small tree for the fs-verity checks (tag t)
  img/mtime    tree.make_mtime_tree: mtimes of every inode type (tag t)
  ref/         the Rust reference's demo images (tags v0, v0-zstd, v1, v1-zstd)
  corrupt/     damaged images, one directory per case, and corrupt/cases
  expect/*.list  regular files of a tree as "sha256 size hexpath" (readers)
  meta.sh      shell variables: manifest digests and the like

and returns the expected listings (host treelist of the sources) for the
host to compare with what the guest lists.
"""
import hashlib
import json
import os
import random
import shutil
import stat
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import capnp_msg  # noqa: E402
import crafted  # noqa: E402
import hostile  # noqa: E402
import tree  # noqa: E402

REFERENCE = os.path.join(TOP, "tests", "fixtures", "reference-images")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def run(*cmd, **kw):
    r = subprocess.run([os.fspath(c) for c in cmd], capture_output=True, **kw)
    if r.returncode:
        raise RuntimeError(f"{cmd}: exit {r.returncode}: {r.stderr.decode()}")
    return r.stdout.decode()


def build(pfs, src, oci, tag, *opts):
    out = run(pfs, "build", *opts, src, f"{oci}:{tag}")
    return out.split()[-1]


def manifest_of(oci, tag):
    with open(os.path.join(oci, "index.json")) as f:
        for m in json.load(f)["manifests"]:
            if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
                return m["digest"].split(":")[1]
    raise KeyError(tag)


def blob(oci, digest):
    return os.path.join(oci, "blobs", "sha256", digest)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def put_blob(oci, data):
    d = sha256(data)
    p = blob(oci, d)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
    return d


def rootfs_of(oci, tag):
    m = json.loads(read(blob(oci, manifest_of(oci, tag))))
    return m["layers"][0]["digest"].split(":")[1]


def dump(pfs, oci, tag):
    return json.loads(run(pfs, "dump", f"{oci}:{tag}"))


def file_chunks(dumped):
    """ino -> chunk digests (top layer), and path -> ino."""
    inodes = {}
    for layer in reversed(dumped["metadatas"]):
        for ino in layer:
            inodes[ino["ino"]] = ino
    paths = {}

    def walk(ino, prefix):
        for e in inodes[ino].get("entries", []):
            child = inodes[e["ino"]]
            p = prefix + e["name"]
            paths[p] = e["ino"]
            if child["type"] == "dir":
                walk(e["ino"], p + "/")
    walk(1, "")
    chunks = {i: [c["digest"] for c in n.get("chunks", [])]
              for i, n in inodes.items()}
    compressed = {c["digest"] for n in inodes.values()
                  for c in n.get("chunks", []) if c["compressed"]}
    return chunks, paths, compressed


def private_chunk(pfs, oci, tag):
    """(path, digest of a chunk only that file uses, a path not using it);
    a compressed chunk if there is one."""
    chunks, paths, compressed = file_chunks(dump(pfs, oci, tag))
    users = {}
    for p, ino in paths.items():
        for d in chunks.get(ino, []):
            users.setdefault(d, set()).add(p)
    cands = sorted(((d not in compressed, p, d) for p, ino in paths.items()
                    for d in chunks.get(ino, []) if users[d] == {p}))
    if not cands:
        raise RuntimeError("no private chunk")
    _, p, d = cands[0]
    other = next(q for q, i in sorted(paths.items())
                 if chunks.get(i) and d not in chunks[i])
    return p, d, other


def files_list(root, out):
    """'sha256 size hexpath' per regular file of a tree (for ktool readers)."""
    lines = []
    for dirpath, dirs, files in os.walk(root):
        for n in files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode):
                continue
            rel = os.path.relpath(p, root).encode("utf-8", "surrogateescape")
            lines.append(f"{sha256(read(p))} {st.st_size} {rel.hex()}\n")
    with open(out, "w") as f:
        f.writelines(sorted(lines))


def make_delta_trees(base):
    """Trees A and B: B deletes, changes, adds and retypes paths of A."""
    a, b = os.path.join(base, "A"), os.path.join(base, "B")
    j = os.path.join
    for d in ("etc/conf.d", "usr/lib", "usr/share/doc", "gone/deep", "var"):
        os.makedirs(j(a, d))
    for i in range(40):
        with open(j(a, "etc/conf.d", f"item{i:03d}.conf"), "w") as f:
            f.write(f"setting {i}\n" * (i + 1))
    rng = random.Random(7)
    with open(j(a, "usr/lib/libbig.so"), "wb") as f:
        f.write(rng.getrandbits(8 * 400_000).to_bytes(400_000, "little"))
    with open(j(a, "usr/share/doc/README"), "w") as f:
        f.write("version A\n" * 1000)
    with open(j(a, "gone/deep/file"), "w") as f:
        f.write("deleted in B\n")
    with open(j(a, "var/becomes-dir"), "w") as f:
        f.write("a file in A\n")
    os.symlink("usr/lib/libbig.so", j(a, "link"))
    os.setxattr(j(a, "usr/share/doc/README"), "user.version", b"A")
    shutil.copytree(a, b, symlinks=True)
    for i in range(0, 40, 3):
        os.unlink(j(b, "etc/conf.d", f"item{i:03d}.conf"))
    shutil.rmtree(j(b, "gone"))
    with open(j(b, "usr/share/doc/README"), "w") as f:
        f.write("version B\n" * 1200)
    os.setxattr(j(b, "usr/share/doc/README"), "user.version", b"B")
    os.unlink(j(b, "var/becomes-dir"))
    os.makedirs(j(b, "var/becomes-dir/sub"))
    with open(j(b, "var/becomes-dir/sub/new"), "w") as f:
        f.write("new in B\n")
    with open(j(b, "etc/conf.d/zz-added.conf"), "w") as f:
        f.write("added\n")
    os.chmod(j(b, "usr/lib/libbig.so"), 0o600)
    os.unlink(j(b, "link"))
    os.symlink("etc", j(b, "link"))
    return a, b


def make_small_tree(root, seed):
    rng = random.Random(seed)
    os.makedirs(os.path.join(root, "dir/sub"))
    for i, n in enumerate((5, 4096, 70_000, 300_000)):
        with open(os.path.join(root, f"dir/rand{i}"), "wb") as f:
            f.write(rng.getrandbits(8 * n).to_bytes(n, "little"))
    with open(os.path.join(root, "dir/sub/text"), "w") as f:
        f.write("".join(f"line {i} of a small text file\n" for i in range(5000)))
    with open(os.path.join(root, "dir/sub/bigtext"), "w") as f:
        f.write("".join(f"{rng.randrange(10**9)} is line {i} of a bigger one\n"
                        for i in range(40000)))
    with open(os.path.join(root, "hello"), "w") as f:
        f.write("hello\n")
    os.symlink("dir/sub/text", os.path.join(root, "link"))
    os.setxattr(os.path.join(root, "hello"), "user.k", b"v")


# ---- corruption ---------------------------------------------------------------

def capnp_root_data(buf):
    """Byte offset of the root struct's data section."""
    nseg = struct.unpack_from("<I", buf, 0)[0] + 1
    seg0 = (4 * (nseg + 1) + 7) & ~7
    ptr = struct.unpack_from("<Q", buf, seg0)[0]
    off = struct.unpack("<i", struct.pack("<I", ptr & 0xffffffff))[0] >> 2
    return seg0 + 8 + 8 * off


def far_inode(rbuf):
    """The rootfs with its highest inode renumbered 2^40 (and the entry
    that names it): valid Cap'n Proto, sorted, but a number no writer hands
    out for a rootfs this size."""
    schema = os.path.join(TOP, "core", "metadata.capnp")

    def convert(direction, data):
        return subprocess.run(["capnp", "convert", direction, schema, "Rootfs"],
                              input=data, check=True, capture_output=True).stdout
    rootfs = json.loads(convert("binary:json", rbuf))
    inodes = rootfs["metadatas"][0]["inodes"]
    last = inodes[-1]["ino"]
    far = str(1 << 40)
    inodes[-1]["ino"] = far
    for i in inodes:
        for e in i["mode"].get("dir", {}).get("entries", []):
            if e["ino"] == last:
                e["ino"] = far
    return convert("json:binary", json.dumps(rootfs).encode())


def shared_layers(rbuf):
    """The rootfs with 1000 layers that all point at its one inode list:
    more inodes in all than the message has words (the driver takes up to
    1024 layers)."""
    root = capnp_msg.decode(rbuf)
    metas = root.ptrs[0]
    metas.items = metas.items[:1] * 1000
    metas.count = 1000
    return capnp_msg.encode(root)


def patch_digest(data, old, new):
    o, n = bytes.fromhex(old), bytes.fromhex(new)
    assert o in data
    return data.replace(o, n)


def corrupt_case_names():
    """The corruption cases make_corrupt() produces, in order."""
    names = []
    for kind in ("plain", "zstd"):
        names += [f"{kind}-trunc{p}" for p in (10, 50, 98)]
        names += [f"{kind}-mut{i}" for i in range(12)]
        names += [f"{kind}-{n}" for n in (
            "version", "rootfs-flip", "manifest-trunc", "manifest-norootfs",
            "manifest-size", "chunk-flip", "chunk-missing", "chunk-fifo",
            "rootfs-fifo", "ino-far", "layers-shared", "chunk-short")]
        if kind == "zstd":
            names += [f"zstd-{n}" for n in ("seek-magic", "seek-count",
                                            "seek-dsize", "seek-csize",
                                            "zstd-garbage")]
    return names + [f"hostile-{n}" for n in HOSTILE]


# Issue 19's hostile images (tests/integration/hostile.py).
HOSTILE = ["self", "root", "dag", "deep", "deep-ok", "bomb", "big"]


def make_hostile(cdir, add):
    """Malformed trees fail the mount (as extract, fsck and FUSE refuse
    them); the deepest tree is served; a frame of more than a chunk is EIO
    (64 MiB of zeros decoded again for every folio with a 32 MiB cache);
    a blob of more content than a chunk is served in frames, with a cache
    smaller than it."""
    zero = hostile.zero_frame
    bomb = hostile.seekable.blob([(zero(64 << 20), 64 << 20)])
    big = hostile.zeros_blob(32 << 20, hostile.FRAME_MAX)

    def files(blob, size):
        return [[hostile.dir_(1, [("z", 2), ("ok", 3)]),
                 hostile.file_(2, [(sha256(blob), 0, size, True)]),
                 hostile.file_(3)]], [blob]

    images = {
        "self": ([[hostile.dir_(1, [("a", 2)]),
                   hostile.dir_(2, [("self", 2)])]], [], "mountfail"),
        "root": ([[hostile.dir_(1, [("a", 2)]),
                   hostile.dir_(2, [("up", 1)])]], [], "mountfail"),
        "dag": ([hostile.dag(40)], [], "mountfail"),
        "deep": ([hostile.chain(hostile.MAX_DEPTH + 1)], [], "mountfail"),
        "deep-ok": ([hostile.chain(hostile.MAX_DEPTH)], [],
                    f"descend:{hostile.MAX_DEPTH}"),
        "bomb": (*files(bomb, 64 << 20), "eio:z:ok:ok"),
        "big": (*files(big, 32 << 20), "sha:z:" + sha256(bytes(32 << 20))),
    }
    for name in HOSTILE:
        layers, chunks, expect = images[name]
        oci = hostile.image(os.path.join(cdir, f"hostile-{name}"), "t",
                            layers, chunks)
        opts = f"image_manifest={oci.manifest_digest('t')}"
        if name == "big":
            opts += ",cache_mb=1"
        add(f"hostile-{name}", opts, expect)


def make_corrupt(pfs, stage, tmp):
    """Damaged copies of a small image; returns the 'cases' lines."""
    base = os.path.join(tmp, "small")
    make_small_tree(base, 3)
    cases = []
    cdir = os.path.join(stage, "corrupt")
    os.makedirs(cdir)
    srcs = {}
    for kind, opts in (("plain", ()), ("zstd", ("-c",))):
        oci = os.path.join(tmp, f"c-{kind}")
        build(pfs, base, oci, "t", *opts)
        srcs[kind] = oci

    def case(name, kind):
        dst = os.path.join(cdir, name)
        shutil.copytree(srcs[kind], dst)
        return dst

    def add(name, opts, expect):
        cases.append(f"{name} {opts} {expect}\n")

    rng = random.Random(11)
    for kind in ("plain", "zstd"):
        oci = srcs[kind]
        man = manifest_of(oci, "t")
        rootfs = rootfs_of(oci, "t")
        rbuf = read(blob(oci, rootfs))
        path, chunk, other = private_chunk(pfs, oci, "t")

        # Truncated rootfs (a valid blob under its own name).
        for frac in (0.1, 0.5, 0.98):
            d = case(f"{kind}-trunc{int(frac * 100)}", kind)
            r = put_blob(d, rbuf[:int(len(rbuf) * frac)])
            add(f"{kind}-trunc{int(frac * 100)}", f"rootfs={r}", "mountfail")
        # Bad pointers: random words and bytes of the rootfs overwritten.
        for i in range(12):
            d = case(f"{kind}-mut{i}", kind)
            b = bytearray(rbuf)
            for _ in range(1 + i % 3):
                at = rng.randrange(8, len(b) - 8) & ~7
                if i % 2:
                    b[at:at + 8] = rng.getrandbits(64).to_bytes(8, "little")
                else:
                    b[at + rng.randrange(8)] ^= 1 << rng.randrange(8)
            r = put_blob(d, bytes(b))
            add(f"{kind}-mut{i}", f"rootfs={r}", "any")
        # Wrong manifest version.
        d = case(f"{kind}-version", kind)
        b = bytearray(rbuf)
        struct.pack_into("<Q", b, capnp_root_data(rbuf), 2)
        add(f"{kind}-version", f"rootfs={put_blob(d, bytes(b))}", "mountfail")
        # Rootfs content changed under its name (sha256 mismatch).
        d = case(f"{kind}-rootfs-flip", kind)
        b = bytearray(rbuf)
        b[len(b) // 2] ^= 0x40
        with open(blob(d, rootfs), "wb") as f:
            f.write(b)
        add(f"{kind}-rootfs-flip", f"image_manifest={man}", "mountfail")
        # Manifests: truncated, without a rootfs layer, wrong rootfs size.
        mbuf = read(blob(oci, man))
        d = case(f"{kind}-manifest-trunc", kind)
        add(f"{kind}-manifest-trunc",
            f"image_manifest={put_blob(d, mbuf[:len(mbuf) // 2])}", "mountfail")
        d = case(f"{kind}-manifest-norootfs", kind)
        m2 = mbuf.replace(b"image.rootfs.v1", b"image.rootfs.v9")
        add(f"{kind}-manifest-norootfs", f"image_manifest={put_blob(d, m2)}",
            "mountfail")
        d = case(f"{kind}-manifest-size", kind)
        mj = json.loads(mbuf)
        mj["layers"][0]["size"] += 1
        add(f"{kind}-manifest-size",
            f"image_manifest={put_blob(d, json.dumps(mj).encode())}", "mountfail")
        # A flipped byte in a chunk blob (sha256 mismatch): EIO on read.
        d = case(f"{kind}-chunk-flip", kind)
        cb = bytearray(read(blob(oci, chunk)))
        cb[len(cb) // 3] ^= 0x01
        with open(blob(d, chunk), "wb") as f:
            f.write(cb)
        add(f"{kind}-chunk-flip", f"image_manifest={man}",
            f"eio:{path}:ok:{other}")
        # A missing chunk blob.
        d = case(f"{kind}-chunk-missing", kind)
        os.unlink(blob(d, chunk))
        add(f"{kind}-chunk-missing", f"image_manifest={man}",
            f"eio:{path}:ok:{other}")
        # FIFOs under a chunk's and the rootfs's names: refused at once, no
        # open waiting for a writer (mke2fs -d keeps them as FIFOs).
        d = case(f"{kind}-chunk-fifo", kind)
        os.unlink(blob(d, chunk))
        os.mkfifo(blob(d, chunk))
        add(f"{kind}-chunk-fifo", f"image_manifest={man}",
            f"eio:{path}:ok:{other}")
        d = case(f"{kind}-rootfs-fifo", kind)
        os.unlink(blob(d, rootfs))
        os.mkfifo(blob(d, rootfs))
        add(f"{kind}-rootfs-fifo", f"image_manifest={man}", "mountfail")
        # An inode number far beyond what the rootfs's size allows: refused
        # before it can spread the kernel's link-count xarray thin.
        d = case(f"{kind}-ino-far", kind)
        add(f"{kind}-ino-far", f"rootfs={put_blob(d, far_inode(rbuf))}",
            "mountfail")
        # Layers sharing one inode list (each inode indexed many times).
        d = case(f"{kind}-layers-shared", kind)
        add(f"{kind}-layers-shared",
            f"rootfs={put_blob(d, shared_layers(rbuf))}", "mountfail")

        # Chunks replaced by valid blobs (own names) that are wrong inside:
        # the rootfs is patched to point at them.
        cbuf = read(blob(oci, chunk))
        variants = {"chunk-short": cbuf[:len(cbuf) // 2]}
        if kind == "zstd" and cbuf[-4:] == b"\xb1\xea\x92\x8f":
            n = struct.unpack_from("<I", cbuf, len(cbuf) - 9)[0]
            tstart = len(cbuf) - (17 + 8 * n)
            b = bytearray(cbuf)
            b[-1] ^= 0xff                       # seekable magic
            variants["seek-magic"] = bytes(b)
            b = bytearray(cbuf)
            struct.pack_into("<I", b, len(b) - 9, n + 1)   # frame count
            variants["seek-count"] = bytes(b)
            b = bytearray(cbuf)
            struct.pack_into("<I", b, tstart + 8 + 4, 4095)  # frame 0 size
            variants["seek-dsize"] = bytes(b)
            b = bytearray(cbuf)
            struct.pack_into("<I", b, tstart + 8, 10)        # frame 0 csize
            variants["seek-csize"] = bytes(b)
            b = bytearray(cbuf)
            for k in range(12, 40):                          # frame 0 data
                b[k] ^= 0x5a
            variants["zstd-garbage"] = bytes(b)
        for vname, vdata in variants.items():
            d = case(f"{kind}-{vname}", kind)
            nd = put_blob(d, vdata)
            r = put_blob(d, patch_digest(rbuf, chunk, nd))
            add(f"{kind}-{vname}", f"rootfs={r}",
                f"eio:{path}:ok:{other}")
    make_hostile(cdir, add)
    with open(os.path.join(cdir, "cases"), "w") as f:
        f.writelines(cases)
    names = [c.split()[0] for c in cases]
    assert names == corrupt_case_names(), names
    return names


# ---- everything ------------------------------------------------------------------

def prepare(stage, pfs, treelist, tmp):
    """Fill @stage; returns {name: expected listing} and the case names."""
    os.makedirs(stage)
    img, exp = os.path.join(stage, "img"), os.path.join(stage, "expect")
    os.makedirs(img)
    os.makedirs(exp)
    meta, expected = {}, {}

    corner = tree.make_corner_tree(os.path.join(tmp, "corner"))
    oci = os.path.join(img, "corner")
    build(pfs, corner, oci, "plain")
    build(pfs, corner, oci, "zstd", "-c")
    build(pfs, corner, oci, "zstd-whole", "-c", "--frame-size", "256K")
    meta["CORNER_PLAIN"] = manifest_of(oci, "plain")
    meta["CORNER_ZSTD"] = manifest_of(oci, "zstd")
    meta["CORNER_ZSTD_WHOLE"] = manifest_of(oci, "zstd-whole")
    meta["CORNER_PLAIN_ROOTFS"] = rootfs_of(oci, "plain")
    expected["corner"] = tree.listing(treelist, corner, nlink=True, mtime=True)
    files_list(corner, os.path.join(exp, "corner.list"))

    a, b = make_delta_trees(os.path.join(tmp, "delta"))
    oci = os.path.join(img, "delta")
    build(pfs, a, oci, "a")
    build(pfs, b, oci, "b", "-b", "a")
    build(pfs, a, oci, "a-zstd", "-c")
    build(pfs, b, oci, "b-zstd", "-c", "-b", "a-zstd")
    for t in ("a", "b", "a-zstd", "b-zstd"):
        meta[f"DELTA_{t.replace('-', '_').upper()}"] = manifest_of(oci, t)
    expected["delta-a"] = tree.listing(treelist, a, nlink=True, mtime=True)
    expected["delta-b"] = tree.listing(treelist, b, nlink=True, mtime=True)
    # Thirteen layers: above PFS_LAYERS_SCAN, inodes are found by index.
    chain = os.path.join(tmp, "chain")
    shutil.copytree(b, chain, symlinks=True)
    oci = os.path.join(img, "chain")
    build(pfs, chain, oci, "g00", "-c")
    for g in range(1, 13):
        tree.next_generation(chain, g)
        build(pfs, chain, oci, f"g{g:02d}", "-c", "-b", f"g{g - 1:02d}")
    meta["CHAIN"] = manifest_of(oci, "g12")
    expected["chain"] = tree.listing(treelist, chain, nlink=True, mtime=True)
    # A crafted lookBelow directory (no writer sets the flag).
    msrc = os.path.join(tmp, "merged-src")
    crafted.make_merged_tree(msrc)
    oci = os.path.join(img, "merged")
    build(pfs, msrc, oci, "t")
    rootfs = crafted.merged_rootfs(read(blob(oci, rootfs_of(oci, "t"))))
    meta["MERGED_ROOTFS"] = put_blob(oci, rootfs)
    crafted.make_merged_expected(msrc, os.path.join(tmp, "merged-exp"))
    expected["merged"] = tree.listing(treelist, os.path.join(tmp, "merged-exp"),
                                      nlink=True)
    # A directory in 12 sorted runs (12 layers): sorted once, then searched.
    rsrc = os.path.join(tmp, "runs-src")
    crafted.make_runs_tree(rsrc)
    oci = os.path.join(img, "runs")
    build(pfs, rsrc, oci, "t")
    rootfs = crafted.runs_rootfs(read(blob(oci, rootfs_of(oci, "t"))), 12)
    meta["RUNS_ROOTFS"] = put_blob(oci, rootfs)
    expected["runs"] = tree.listing(treelist, rsrc, nlink=True)
    # 300 directories sharing /d's entry list: refused at mount.
    rootfs = crafted.shared_dirs_rootfs(read(blob(oci, rootfs_of(oci, "t"))),
                                        b"d", 300)
    meta["SHARED_ROOTFS"] = put_blob(oci, rootfs)

    shutil.copytree(os.path.join(REFERENCE, "demo"), os.path.join(stage, "ref"))
    for t in ("v0", "v0-zstd", "v1", "v1-zstd"):
        meta[f"REF_{t.replace('-', '_').upper()}"] = manifest_of(
            os.path.join(stage, "ref"), t)
    for v in ("v0", "v1"):
        with open(os.path.join(REFERENCE, f"{v}.listing.json")) as f:
            expected[f"ref-{v}"] = {e["path"]: e for e in json.load(f)}

    # Mtimes of every inode type: nanoseconds, before 1970, after 2038.
    mt = os.path.join(tmp, "mtime")
    tree.make_mtime_tree(mt)
    oci = os.path.join(img, "mtime")
    build(pfs, mt, oci, "t")
    meta["MTIME"] = manifest_of(oci, "t")
    expected["mtime"] = tree.listing(treelist, mt, nlink=True, mtime=True)

    vt = os.path.join(tmp, "vt")
    make_small_tree(vt, 5)
    oci = os.path.join(img, "vt")
    meta["VT_VERITY"] = build(pfs, vt, oci, "t")
    meta["VT_MANIFEST"] = manifest_of(oci, "t")
    path, chunk, other = private_chunk(pfs, oci, "t")
    meta["VT_FILE"], meta["VT_CHUNK"], meta["VT_OTHER"] = path, chunk, other
    expected["vt"] = tree.listing(treelist, vt, nlink=True, mtime=True)

    cases = make_corrupt(pfs, stage, tmp)
    with open(os.path.join(stage, "meta.sh"), "w") as f:
        for k, v in sorted(meta.items()):
            f.write(f"{k}='{v}'\n")
    return expected, cases, meta
