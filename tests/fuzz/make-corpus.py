#!/usr/bin/python3
"""Regenerate the fuzzers' seed corpora (run as root from the top of the
tree after a build):

    tests/fuzz/make-corpus.py build/puzzlefs

corpus/rootfs: our rootfs blobs of small trees (every inode type, xattrs, a
delta with whiteouts; without mtimes, the reference's 24-byte inodes, and
with: 32-byte ones, a delta's whiteouts marked as having none, a layer of
each size), the same re-segmented with far and double-far pointers, and the
Rust reference's multi-segment rootfs blobs.
corpus/seektable: our seekable zstd blobs, one with per-frame checksums,
one of empty content, and one written by the reference.
corpus/oci: index.json and image manifests, ours and the reference's, and
an index listing another tool's image index.
corpus/import: tar layers (separated by "PFSLAYR\n"): every entry type,
whiteouts and opaque directories over a lower layer, the corner cases of
the import tests, GNU and PAX sparse entries, base-256 numbers.
corpus/tree: the rootfs seeds, and hostile trees (tests/integration/hostile.py):
a directory naming itself, one naming the root, a DAG of directories named
twice, a chain of 4,097 directories.
corpus/blob: the seektable seeds, a raw chunk, and bombs: one frame of
1 GiB of zeros, frames of a chunk's size, a frame above it.

    tests/fuzz/make-corpus.py build/puzzlefs oci

regenerates only the named corpora (others may hold hand-made seeds).
"""
import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import capnp_msg  # noqa: E402
import hostile  # noqa: E402
import ocidir  # noqa: E402
import seekable  # noqa: E402
import tar_images as images  # noqa: E402

REFERENCE = os.path.join(HERE, "..", "fixtures", "reference-images", "demo")


def small_tree(root):
    os.makedirs(os.path.join(root, "d", "e"))
    with open(os.path.join(root, "d", "f"), "wb") as f:
        f.write(b"".join(b"line %d\n" % i for i in range(2000)))
    os.link(os.path.join(root, "d", "f"), os.path.join(root, "hard"))
    os.symlink("d/f", os.path.join(root, "link"))
    os.mkfifo(os.path.join(root, "fifo"))
    os.mknod(os.path.join(root, "chr"), 0o600 | stat.S_IFCHR,
             os.makedev(1, 3))
    s = socket.socket(socket.AF_UNIX)
    s.bind(os.path.join(root, "sock"))
    s.close()
    os.setxattr(os.path.join(root, "d"), "user.k", b"v")
    os.setxattr(os.path.join(root, "d", "f"), "user.empty", b"")


def main(exe, only):
    out = {k: os.path.join(HERE, "corpus", k)
           for k in only or ("rootfs", "seektable", "oci", "import", "tree",
                             "blob")}
    for d in out.values():
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)

    def save(kind, name, data):
        if kind not in out:
            return
        with open(os.path.join(out[kind], name), "wb") as f:
            f.write(data)

    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "src")
        small_tree(src)
        oci = ocidir.Oci(os.path.join(tmp, "oci"))
        run = lambda *a: subprocess.run([exe, *a], check=True,  # noqa: E731
                                        capture_output=True)
        run("build", "-c", "--mtime", "none", src, f"{oci.path}:a")
        run("build", "-c", src, f"{oci.path}:mtime")
        shutil.rmtree(os.path.join(src, "d", "e"))
        os.unlink(os.path.join(src, "fifo"))
        with open(os.path.join(src, "new"), "wb") as f:
            f.write(b"new file\n")
        run("build", "-c", "-b", "a", src, f"{oci.path}:b")
        run("build", "-c", "-b", "mtime", src, f"{oci.path}:mtime-delta")
        run("build", "-c", "-b", "mtime", "--mtime", "none", src,
            f"{oci.path}:mtime-mixed")
        for tag in ("a", "b", "mtime", "mtime-delta", "mtime-mixed"):
            save("rootfs", f"ours-{tag}", oci.rootfs(tag))
            save("tree", f"ours-{tag}", oci.rootfs(tag))
        hostile_trees = {
            "self": [[hostile.dir_(1, [("a", 2)]),
                      hostile.dir_(2, [("self", 2)])]],
            "root": [[hostile.dir_(1, [("a", 2)]),
                      hostile.dir_(2, [("up", 1)])]],
            "dag": [hostile.dag(20)],
            "chain-4097": [hostile.chain(hostile.MAX_DEPTH + 1)],
        }
        for name, layers in hostile_trees.items():
            save("tree", f"hostile-{name}", hostile.rootfs(layers))
        root = capnp_msg.decode(oci.rootfs("b"))
        save("rootfs", "ours-b-3seg-far", capnp_msg.encode(root, 3, "single"))
        save("rootfs", "ours-b-4seg-double", capnp_msg.encode(root, 4, "double"))
        ref = ocidir.Oci(REFERENCE)
        for tag in ("v0", "v1"):
            save("rootfs", f"reference-{tag}", ref.rootfs(tag))
            save("tree", f"reference-{tag}", ref.rootfs(tag))

        blobs = [l["digest"][7:] for l in oci.chunk_layers("a")]
        blob = max((oci.blob(d) for d in blobs), key=len)
        save("seektable", "ours", blob)
        # The same frames with per-frame checksums (facebook's writer).
        frames = seekable.frames(blob)
        plain = subprocess.run(["zstd", "-d", "-c"], input=blob, check=True,
                               capture_output=True).stdout
        sums, off = [], 0
        for _, d in frames:
            sums.append(seekable.xxh64(plain[off:off + d]))
            off += d
        save("seektable", "checksums", seekable.blob(frames, sums))
        save("seektable", "empty", seekable.blob([(seekable.EMPTY_FRAME, 0)]))
        zstd = [l for l in ref.chunk_layers("v0-zstd")
                if ref.blob(l["digest"][7:])[-4:] == b"\xb1\xea\x92\x8f"]
        smallest = min(zstd, key=lambda l: l["size"])["digest"][7:]
        save("seektable", "reference", ref.blob(smallest))
        # The seek-table seeds as they are (hand-made ones included).
        seeds = os.path.join(HERE, "corpus", "seektable")
        for name in sorted(os.listdir(seeds)):
            save("blob", name, open(os.path.join(seeds, name), "rb").read())
        save("blob", "raw", plain[:5000])
        save("blob", "bomb-1g-frame", seekable.blob(
            [(hostile.zero_frame(1 << 30), 1 << 30)]))
        save("blob", "zeros-4-frames", hostile.zeros_blob(
            4 * hostile.FRAME_MAX, hostile.FRAME_MAX))
        save("blob", "frame-above-chunk", seekable.blob(
            [(hostile.zero_frame(hostile.FRAME_MAX + 1),
              hostile.FRAME_MAX + 1)]))

        def index_json(o):
            with open(os.path.join(o.path, "index.json"), "rb") as f:
                return f.read()
        save("oci", "ours-index", index_json(oci))
        save("oci", "ours-manifest-b", oci.blob(oci.manifest_digest("b")))
        save("oci", "reference-index", index_json(ref))
        for tag in ("v0", "v0-zstd"):
            save("oci", f"reference-manifest-{tag}",
                 ref.blob(ref.manifest_digest(tag)))
        other = {"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.index.v1+json",
             "digest": "sha256:" + "ab" * 32, "size": 300,
             "annotations": {"org.opencontainers.image.ref.name": "t"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json",
             "digest": "sha256:" + "cd" * 32, "size": 7,
             "platform": {"architecture": "amd64", "os": "linux"}}]}
        save("oci", "other-index", json.dumps(other).encode())
        import_seeds(tmp, save)
    for d in out.values():
        for name in sorted(os.listdir(d)):
            data = open(os.path.join(d, name), "rb").read()
            print(f"{d}/{name}: {len(data)} bytes, "
                  f"{hashlib.sha256(data).hexdigest()[:12]}")


def import_seeds(tmp, save):
    from tar_images import d, f, hard, sym
    sep = b"PFSLAYR\n"
    base = images.tar_bytes([
        d("etc/"), f("etc/a", b"a\n"), f("bin/x", b"x" * 3000, mode=0o4755),
        sym("bin/y", "x"), hard("bin/z", "bin/x"), d("opq/"),
        f("opq/old", b"old\n"), d("gone/sub/"), f("gone/sub/z", b"z"),
        f("file", b"f"), d("tmp/", mode=0o1777),
        (dict(name="dev/null", type=b"3", devmajor=1, devminor=3,
              mode=0o666), None),
        (dict(name="dev/fifo", type=b"6", mode=0o640), None),
        (dict(name="own", type=b"0", uid=1234, gid=5678,
              pax_headers={"SCHILY.xattr.user.k": "v",
                           "SCHILY.xattr.security.capability": "\x01"}),
         b"owned"),
    ])
    upper = images.tar_bytes([
        f("etc/.wh.a", b""), f(".wh.gone", b""), f("opq/.wh..wh..opq", b""),
        f("opq/new", b"new"), d("file/"), f("file/x", b"x"),
        hard("link-below", "bin/x"), f("bin/x", b"replaced"),
        f("/abs", b"abs"), f("../../up", b"up"), f("keep/mine", b"m"),
        f(".wh.keep", b""), f("dup", b"1"), sym("dup", "etc"),
        f(".wh..wh.plnk", b""), d("./"),
    ])
    save("import", "two-layers", base + sep + upper)
    save("import", "crafted", open_crafted(tmp))
    save("import", "under-symlink", images.tar_bytes([sym("l", "etc")]) +
         sep + images.tar_bytes([f("l/x", b"x")]))
    root = os.path.join(tmp, "sparse-src")
    os.makedirs(root)
    with open(os.path.join(root, "sparse"), "wb") as fh:
        fh.seek(1 << 20)
        fh.write(b"after a hole")
    os.chown(os.path.join(root, "sparse"), 3000000000, 2 ** 31)
    for fmt in ("gnu", "pax"):
        t = os.path.join(tmp, f"{fmt}.tar")
        subprocess.run(["tar", "--sparse", f"--format={fmt}", "-C", root,
                        "-cf", t, "."], check=True)
        save("import", f"sparse-{fmt}", open(t, "rb").read())


def open_crafted(tmp):
    path = os.path.join(tmp, "crafted.tar")
    images.crafted_layer(path)
    return open(path, "rb").read()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
