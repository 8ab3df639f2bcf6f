"""Hostile images (issue 19), written from scratch and independently of the
code under test: rootfs blobs from JSON through the official `capnp
convert` (core/metadata.capnp), seekable zstd chunk blobs from frames the
`zstd` command makes, and the OCI layout around them (ocidir).  Also real
source trees deeper than a path can name, made through directory
descriptors."""
import functools
import json
import os
import subprocess

import ocidir
import seekable

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCHEMA = os.path.join(TOP, "core", "metadata.capnp")
KIB = 1024
MIB = 1024 * KIB
FRAME_MAX = 256 * KIB           # PFS_FRAME_MAX: a chunk's most
MAX_DEPTH = 4096                # PFS_MAX_DEPTH


# ---- inodes, as capnp's JSON encoding of core/metadata.capnp -------------

def _inode(ino, mode, perm, uid=0, gid=0, xattrs=None, target=None):
    i = {"ino": str(ino), "mode": mode, "uid": uid, "gid": gid,
         "permissions": perm}
    if xattrs is not None or target is not None:
        i["additional"] = {"xattrs": [
            {"key": list(k.encode()), "val": list(v)}
            for k, v in sorted((xattrs or {}).items())]}
        if target is not None:
            i["additional"]["symlinkTarget"] = list(target)
    return i


def dir_(ino, entries, perm=0o755, **kw):
    """entries: [(name, ino)], sorted by name (as readers require)."""
    ents = [{"ino": str(n), "name": list(name.encode())}
            for name, n in sorted(entries, key=lambda e: e[0].encode())]
    return _inode(ino, {"dir": {"entries": ents, "lookBelow": False}}, perm,
                  **kw)


def file_(ino, chunks=(), perm=0o644, **kw):
    """chunks: [(digest hex, offset, length, compressed)]."""
    return _inode(ino, {"file": [
        {"blob": {"digest": list(bytes.fromhex(d)), "offset": str(off),
                  "compressed": comp}, "len": str(n)}
        for d, off, n, comp in chunks]}, perm, **kw)


def dev_(ino, kind, major, minor, perm=0o600):
    return _inode(ino, {kind: {"major": str(major), "minor": str(minor)}},
                  perm)


def wht_(ino):
    return _inode(ino, {"wht": None}, 0o644)


def rootfs(layers, verity=()):
    """A rootfs blob: layers top first, each a list of inodes (sorted
    here); verity: [(digest hex, fs-verity digest hex)]."""
    r = {"metadatas": [{"inodes": sorted(l, key=lambda i: int(i["ino"]))}
                       for l in layers],
         "fsVerityData": [{"digest": list(bytes.fromhex(d)),
                           "verity": list(bytes.fromhex(v))}
                          for d, v in sorted(verity)],
         "manifestVersion": "3"}
    return subprocess.run(["capnp", "convert", "json:binary", SCHEMA,
                           "Rootfs"], input=json.dumps(r).encode(),
                          check=True, capture_output=True).stdout


# ---- OCI directories --------------------------------------------------------

def new_oci(path):
    os.makedirs(os.path.join(path, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    oci = ocidir.Oci(path)
    if not os.path.exists(os.path.join(path, "index.json")):
        oci.write_index({"schemaVersion": 2, "manifests": []})
    oci.put_blob(b"{}")
    return oci


def image(path, tag, layers, chunks=()):
    """Tag @tag in the OCI directory @path (made if needed) as an image of
    the given layers and chunk blobs (bytes; listed in the manifest and in
    fsVerityData).  Returns the Oci."""
    oci = new_oci(path)
    digests = [oci.put_blob(c) for c in chunks]
    verity = list(zip(digests, ocidir.fsverity_digest(
        *[oci.blob_path(d) for d in digests]))) if digests else []
    r = rootfs(layers, verity)
    d = oci.put_blob(r)
    (rv,) = ocidir.fsverity_digest(oci.blob_path(d))
    layer_descs = [{"annotations": {ocidir.VERITY: rv},
                    "digest": "sha256:" + d, "mediaType": ocidir.ROOTFS,
                    "size": len(r)}]
    layer_descs += [{"digest": "sha256:" + c,
                     "mediaType": ocidir.CHUNK + "+zstd",
                     "size": len(data)} for c, data in zip(digests, chunks)]
    man = {"config": {"data": "e30=", "digest": "sha256:" +
                      ocidir.sha256(b"{}"),
                      "mediaType": "application/vnd.oci.empty.v1+json",
                      "size": 2},
           "layers": layer_descs, "schemaVersion": 2}
    oci.tag_manifest(tag, ocidir.canonical(man))
    return oci


def missing_chunk_image(pfs, base):
    """An image (tag t) of one file /f of 100,000 bytes whose one chunk
    blob is gone: (its Oci, the digest)."""
    src = os.path.join(base, "src")
    os.makedirs(src)
    with open(os.path.join(src, "f"), "wb") as f:
        f.write(b"x" * 100000)
    oci = ocidir.Oci(os.path.join(base, "oci"))
    pfs.build(src, f"{oci.path}:t")
    (layer,) = oci.chunk_layers("t")
    d = layer["digest"].split(":")[1]
    os.unlink(oci.blob_path(d))
    return oci, d


# ---- seekable zstd --------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def zero_frame(n):
    """One zstd frame of n zero bytes (content size not in its header)."""
    return subprocess.run(["zstd", "-q", "-c", "--no-check", "-1"],
                          input=bytes(n), check=True,
                          capture_output=True).stdout


def zeros_blob(total, frame):
    """A seekable blob of @total zero bytes in frames of @frame bytes."""
    frames = [(zero_frame(frame), frame)] * (total // frame)
    if total % frame:
        frames.append((zero_frame(total % frame), total % frame))
    return seekable.blob(frames)


# ---- crafted trees ----------------------------------------------------------------

def chain(levels, leaf=None):
    """Directories 1 (the root) .. levels + 1, each the one entry 'd' of
    the one above; @leaf, an inode of number levels + 2, is 'f' in the
    last."""
    inodes = [dir_(i, [("d", i + 1)]) for i in range(1, levels + 1)]
    inodes.append(dir_(levels + 1, [("f", levels + 2)] if leaf else []))
    if leaf:
        inodes.append(leaf)
    return inodes


def dag(levels):
    """A chain of directories each named twice ('a' and 'b') by the one
    above: 2^levels paths to the bottom."""
    inodes = [dir_(i, [("a", i + 1), ("b", i + 1)])
              for i in range(1, levels + 1)]
    return inodes + [dir_(levels + 1, [])]


# ---- real deep trees --------------------------------------------------------------

def make_deep_tree(root, levels, content=b"bottom\n"):
    """root/d/d/.../d (levels directories below root) with a file 'f' in
    the last: deeper than PATH_MAX lets a path name, so made (and read)
    through directory descriptors."""
    os.makedirs(root)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            os.mkdir("d", dir_fd=fd)
            sub = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = sub
        f = os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(f, content)
        os.close(f)
    finally:
        os.close(fd)
    return root


def read_deep(root, levels, name="f"):
    """The contents of root/d/.../d/NAME (levels d's), or the OSError."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(levels):
            sub = os.open("d", os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = sub
        f = os.open(name, os.O_RDONLY, dir_fd=fd)
        with os.fdopen(f, "rb") as fh:
            return fh.read()
    finally:
        os.close(fd)


def remove_deep(root):
    """Remove a tree of make_deep_tree's shape (or its extracted copy):
    shutil.rmtree recurses once per level and fails on 4,096 of them, as
    would pytest's clean-up of its old temporary directories; rm(1) walks
    without recursion."""
    subprocess.run(["rm", "-rf", "--one-file-system", os.fspath(root)],
                   check=True)
