"""Container images with tar layers made by the tools people use, for the
import tests: umoci (new/unpack/repack, and raw add-layer for layers no
tool writes: opaque directories, same-layer whiteouts, duplicates),
buildah (from scratch, copy, mount, commit, in vfs storage), and skopeo
(the same images as docker-archive).  `umoci unpack` of an image is what
an import must equal.
"""
import io
import os
import random
import shutil
import stat
import subprocess
import tarfile

import tree

KIB = 1024


def run(*cmd, **kw):
    return subprocess.run([os.fspath(c) for c in cmd], check=True,
                          capture_output=True, **kw)


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tree._write(path, data, mode)


def rand(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little")


# ---- the trees ------------------------------------------------------------

def base_tree(root, seed=1):
    """Layer 1: every inode type and the corner cases of tar headers (long
    and non-UTF-8 names, sparse data, devices, setuid, xattrs including
    security.capability, foreign owners, hard links)."""
    rng = random.Random(seed)
    j = os.path.join
    write(j(root, "etc", "a"), b"a\n")
    write(j(root, "etc", "hostname"), b"puzzle\n")
    write(j(root, "usr", "bin", "tool"), rand(rng, 10 * KIB), 0o4755)
    os.chmod(j(root, "usr", "bin", "tool"), 0o4755)
    write(j(root, "usr", "bin", "sgid"), b"sgid\n", 0o2755)
    os.chmod(j(root, "usr", "bin", "sgid"), 0o2755)
    text = b"".join(b"line %06d of a text file\n" % i for i in range(8000))
    write(j(root, "usr", "lib", "big"), rand(rng, 300 * KIB) + text)
    write(j(root, "usr", "lib", "empty"), b"")
    with open(j(root, "usr", "lib", "sparse"), "wb") as f:
        f.seek(1 << 20)
        f.write(b"after the hole")
    write(j(root, "names", "n" * 255), b"long name\n")
    write(os.path.join(j(root, "names").encode(), b"caf\xe9"), b"latin1\n")
    write(j(root, "names", "snow\u2603"), b"utf8\n")
    os.symlink("/etc/hostname", j(root, "names", "abs-link"))
    os.symlink("../usr/lib/big", j(root, "names", "rel-link"))
    os.makedirs(j(root, "dev"))
    os.mkfifo(j(root, "dev", "fifo"), 0o640)
    os.mknod(j(root, "dev", "null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mknod(j(root, "dev", "blk"), 0o660 | stat.S_IFBLK,
             os.makedev(259, 70000))
    os.makedirs(j(root, "tmp"))
    os.chmod(j(root, "tmp"), 0o1777)
    write(j(root, "home", "user", "own"), b"owned\n", 0o600)
    os.chown(j(root, "home", "user", "own"), 1234, 5678)
    os.chown(j(root, "home", "user"), 1234, 5678)
    write(j(root, "xattrs", "cap"), b"capable\n", 0o755)
    os.setxattr(j(root, "xattrs", "cap"), "security.capability",
                bytes.fromhex("0100000200200000000000000000000000000000"))
    os.setxattr(j(root, "xattrs", "cap"), "user.binary", bytes(range(256)))
    os.setxattr(j(root, "xattrs"), "user.on-dir", b"dir value")
    write(j(root, "links", "a"), b"hard linked\n")
    os.link(j(root, "links", "a"), j(root, "links", "b"))
    os.makedirs(j(root, "links", "other"))
    os.link(j(root, "links", "a"), j(root, "links", "other", "c"))
    deep = j(root, "deep", *[f"d{i:02d}" for i in range(30)])
    write(j(deep, "bottom"), b"bottom\n")
    write(j(root, "gone", "sub", "z"), b"z\n")
    write(j(root, "gone", "y"), b"y\n")
    write(j(root, "becomes-dir"), b"a file\n")
    write(j(root, "becomes-file", "inside"), b"inside\n")
    write(j(root, "mode-only"), b"mode\n", 0o644)
    write(j(root, "content"), rand(rng, 70 * KIB))
    write(j(root, "opq", "old1"), b"old1\n")
    write(j(root, "opq", "sub", "old2"), b"old2\n")
    write(j(root, "keep", "old"), b"old\n")


def change_tree(root, seed=2):
    """Layer 2 (umoci repack): deletions (whiteouts of files and of a
    directory), type changes, a mode change, new content, a hard link to a
    file of the layer below, a name of a hard-link group removed."""
    rng = random.Random(seed)
    j = os.path.join
    shutil.rmtree(j(root, "gone"))
    os.unlink(j(root, "etc", "a"))
    os.unlink(j(root, "becomes-dir"))
    write(j(root, "becomes-dir", "child"), b"child\n")
    shutil.rmtree(j(root, "becomes-file"))
    write(j(root, "becomes-file"), b"now a file\n")
    os.chmod(j(root, "mode-only"), 0o600)
    write(j(root, "content"), rand(rng, 90 * KIB))
    write(j(root, "etc", "new"), b"new\n")
    os.makedirs(j(root, "new"))
    os.link(j(root, "usr", "lib", "big"), j(root, "new", "big-link"))
    os.unlink(j(root, "links", "a"))
    os.setxattr(j(root, "etc"), "user.changed", b"yes")


def tar_layer(path, entries):
    """An uncompressed tar of (TarInfo fields, data) entries, in order."""
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        for fields, data in entries:
            ti = tarfile.TarInfo(fields.pop("name"))
            ti.mtime = 1700000000
            for k, v in fields.items():
                setattr(ti, k, v)
            if ti.type in (tarfile.REGTYPE, tarfile.AREGTYPE):
                ti.size = len(data or b"")
                t.addfile(ti, io.BytesIO(data or b""))
            else:
                t.addfile(ti)


def d(name, mode=0o755, **kw):
    return dict(name=name, type=tarfile.DIRTYPE, mode=mode, **kw), None


def f(name, data, mode=0o644, **kw):
    return dict(name=name, type=tarfile.REGTYPE, mode=mode, **kw), data


def sym(name, target):
    return dict(name=name, type=tarfile.SYMTYPE, linkname=target,
                mode=0o777), None


def hard(name, target):
    return dict(name=name, type=tarfile.LNKTYPE, linkname=target), None


def crafted_layer(path):
    """Layer 3 (umoci raw add-layer): what tools rarely write but runtimes
    must apply: an opaque directory, whiteouts after entries of the same
    layer, an entry replaced twice in one layer, absolute and ".." paths,
    a tar hard link to a file of a lower layer, AUFS metadata."""
    tar_layer(path, [
        d("opq/"), f("opq/.wh..wh..opq", b""), f("opq/new", b"new in opq\n"),
        d("keep/"), f("keep/mine", b"mine\n"), f("keep/.wh.mine", b""),
        f(".wh.keep", b""),
        f("dup", b"first\n"), sym("dup", "etc/hostname"),
        f("dup", b"third\n", mode=0o600),
        f("/abs-path", b"absolute\n"), f("../../dotdot", b"dotdot\n"),
        f("x/../normalised", b"normalised\n"),
        hard("linked-from-below", "usr/bin/tool"),
        f(".wh..wh.plnk", b""),
        d("./"),
    ])


# ---- umoci ----------------------------------------------------------------

class UmociImage:
    """An OCI layout made by umoci: tag v1 (the base tree), v2 (+ a
    repack with deletions), v3 (+ the crafted layer)."""

    def __init__(self, root):
        self.root = os.fspath(root)
        self.oci = os.path.join(self.root, "oci")
        run("umoci", "init", "--layout", self.oci)
        run("umoci", "new", "--image", f"{self.oci}:v0")
        self._repack("v0", "v1", base_tree)
        self._repack("v1", "v2", change_tree)
        layer = os.path.join(self.root, "crafted.tar")
        crafted_layer(layer)
        run("umoci", "raw", "add-layer", "--image", f"{self.oci}:v2",
            "--tag", "v3", layer)
        run("umoci", "config", "--image", f"{self.oci}:v3",
            "--config.entrypoint", "/bin/sh", "--config.cmd", "-c",
            "--config.cmd", "id", "--config.env", "A=1",
            "--config.workingdir", "/home/user", "--config.user", "1234:5678",
            "--config.stopsignal", "SIGINT", "--config.label", "k=v")

    def _repack(self, src, dst, change):
        bundle = os.path.join(self.root, f"bundle-{dst}")
        run("umoci", "unpack", "--image", f"{self.oci}:{src}", bundle)
        change(os.path.join(bundle, "rootfs"))
        run("umoci", "repack", "--image", f"{self.oci}:{dst}", bundle)
        shutil.rmtree(bundle)


def umoci_unpack(oci, tag, dest):
    """The reference extraction of an image: umoci unpack's rootfs."""
    bundle = os.fspath(dest)
    run("umoci", "unpack", "--image", f"{oci}:{tag}", bundle)
    return os.path.join(bundle, "rootfs")


def umoci_add_layers(root, layers):
    """An OCI layout (tag t) of the given uncompressed layer tars, added
    verbatim by umoci; returns the directory."""
    oci = os.path.join(os.fspath(root), "oci")
    run("umoci", "init", "--layout", oci)
    run("umoci", "new", "--image", f"{oci}:t")
    for layer in layers:
        run("umoci", "raw", "add-layer", "--image", f"{oci}:t", layer)
    return oci


# ---- buildah --------------------------------------------------------------

class BuildahImage:
    """An OCI layout pushed by buildah (vfs storage, as root): v1 from
    scratch with a buildah copy of the base tree, v2 a container of v1
    changed through buildah mount, with a runtime config."""

    def __init__(self, root):
        self.root = os.fspath(root)
        self.oci = os.path.join(self.root, "oci")
        storage = os.path.join(self.root, "storage")
        self.b = ["buildah", "--storage-driver", "vfs", "--root",
                  os.path.join(storage, "root"), "--runroot",
                  os.path.join(storage, "run")]
        src = os.path.join(self.root, "src")
        os.makedirs(src)
        base_tree(src, seed=3)
        # buildah copy chowns to root and does not copy devices, fifos or
        # xattrs; those come in through the mounted container below.
        for p in ("dev", "xattrs"):
            shutil.rmtree(os.path.join(src, p))
        ctr = self.buildah("from", "scratch")
        self.buildah("copy", ctr, src, "/")
        self.buildah("config", "--entrypoint", '["/bin/sh", "-c"]',
                     "--cmd", "id", "--env", "B=2", "--workingdir", "/etc",
                     "--user", "1:1", "--label", "made=buildah", ctr)
        self.buildah("commit", "-q", ctr, "img1")
        ctr2 = self.buildah("from", "localhost/img1")
        mnt = self.buildah("mount", ctr2)
        change_tree(mnt)
        os.mknod(os.path.join(mnt, "null"), 0o666 | stat.S_IFCHR,
                 os.makedev(1, 3))
        os.mkfifo(os.path.join(mnt, "fifo"))
        write(os.path.join(mnt, "xattr-file"), b"x\n")
        os.setxattr(os.path.join(mnt, "xattr-file"), "user.k", b"v")
        self.buildah("umount", ctr2)
        self.buildah("commit", "-q", ctr2, "img2")
        self.buildah("push", "-q", "img1", f"oci:{self.oci}:v1")
        self.buildah("push", "-q", "img2", f"oci:{self.oci}:v2")
        for c in (ctr, ctr2):
            self.buildah("rm", c)

    def buildah(self, *args):
        return run(*self.b, *args).stdout.decode().strip()


def docker_archive(oci, tag, path):
    """The same image as skopeo writes it to a docker-archive."""
    run("skopeo", "--insecure-policy", "copy", "-q", f"oci:{oci}:{tag}",
        f"docker-archive:{path}:puzzle/test:{tag}")
    return os.fspath(path)


# ---- OCI layouts written by hand ----------------------------------------

def sha256(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


def canonical(obj):
    import json
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def gzip_bytes(data, mtime=0):
    import gzip
    return gzip.compress(data, mtime=mtime)


def zstd_bytes(data):
    return subprocess.run(["zstd", "-q", "-c"], input=data, check=True,
                          capture_output=True).stdout


LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
LAYER_GZIP = LAYER_TAR + "+gzip"
LAYER_ZSTD = LAYER_TAR + "+zstd"


def put_blob(oci, data):
    d = sha256(data)
    os.makedirs(os.path.join(oci, "blobs", "sha256"), exist_ok=True)
    with open(os.path.join(oci, "blobs", "sha256", d), "wb") as f:
        f.write(data)
    return d


def image_manifest(oci, layers, config=None, diff_ids=None):
    """Store an image: @layers [(blob bytes, media type, uncompressed tar
    bytes)], its config (diff_ids computed unless given); returns the
    manifest's descriptor."""
    cfg = dict(config or {"architecture": "amd64", "os": "linux",
                          "config": {}})
    cfg["rootfs"] = {"type": "layers", "diff_ids": diff_ids if diff_ids
                     is not None else ["sha256:" + sha256(t)
                                       for _, _, t in layers]}
    cb = canonical(cfg)
    man = {"schemaVersion": 2,
           "mediaType": "application/vnd.oci.image.manifest.v1+json",
           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                      "digest": "sha256:" + put_blob(oci, cb),
                      "size": len(cb)},
           "layers": [{"mediaType": mt, "digest": "sha256:" + put_blob(oci, b),
                       "size": len(b)} for b, mt, _ in layers]}
    mb = canonical(man)
    return {"mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": "sha256:" + put_blob(oci, mb), "size": len(mb)}


def write_index(oci, entries):
    """index.json of (descriptor, tag or None, platform or None)."""
    os.makedirs(oci, exist_ok=True)
    with open(os.path.join(oci, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    ms = []
    for desc, tag, platform in entries:
        e = dict(desc)
        if tag:
            e["annotations"] = {"org.opencontainers.image.ref.name": tag}
        if platform:
            e["platform"] = platform
        ms.append(e)
    with open(os.path.join(oci, "index.json"), "wb") as f:
        f.write(canonical({"schemaVersion": 2, "manifests": ms}))


def oci_image(oci, layers, tag="t", **kw):
    """An OCI layout with one tagged image of @layers (see image_manifest)."""
    oci = os.fspath(oci)
    write_index(oci, [(image_manifest(oci, layers, **kw), tag, None)])
    return oci


def tar_bytes(entries):
    """tar_layer's tar, as bytes."""
    import tempfile
    with tempfile.NamedTemporaryFile() as t:
        tar_layer(t.name, [(dict(fl), data) for fl, data in entries])
        return open(t.name, "rb").read()
