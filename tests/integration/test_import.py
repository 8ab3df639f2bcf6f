"""Issue 15, the import: `puzzlefs import` of images made by umoci, buildah
and skopeo (OCI layouts and docker-archives) equals `umoci unpack` of the
same image, extracted and mounted, compared by the independent tree
listing, with one layer per tar layer or --flatten, with and without -c;
the layers are the ones build -b makes; images sharing a base layer share
its rootfs layer and chunks; the runtime config is kept and OCI tools
still take the image; hostile layers fail cleanly (exit 1, the layer and
the entry named, no tag, no partial blob, nothing written elsewhere).
"""
import json
import os
import subprocess
import tarfile

import pytest

import ocidir
import tar_images as images
import tree
from registry import FaultProxy, anon_registry, certs  # noqa: F401 (fixtures)
from tar_images import d, f, hard, sym
from test_fuse import Mounts, mkdir

pytestmark = pytest.mark.core


# ---- sources --------------------------------------------------------------

@pytest.fixture(scope="module")
def umoci_img(tmp_path_factory):
    return images.UmociImage(tmp_path_factory.mktemp("umoci"))


@pytest.fixture(scope="module")
def buildah_img(tmp_path_factory):
    return images.BuildahImage(tmp_path_factory.mktemp("buildah"))


@pytest.fixture(scope="module")
def sources(umoci_img, buildah_img, tmp_path_factory):
    """name -> (SOURCE, the OCI layout and tag umoci unpacks for it)."""
    tmp = tmp_path_factory.mktemp("archives")
    u, b = umoci_img.oci, buildah_img.oci
    return {
        "umoci": (f"oci:{u}:v3", u, "v3"),
        "buildah": (f"oci:{b}:v2", b, "v2"),
        "umoci-docker-archive": ("docker-archive:" + images.docker_archive(
            u, "v3", tmp / "u.tar"), u, "v3"),
        "buildah-docker-archive": ("docker-archive:" + images.docker_archive(
            b, "v2", tmp / "b.tar") + ":puzzle/test:v2", b, "v2"),
    }


@pytest.fixture(scope="module")
def unpacked(sources, tmp_path_factory):
    """The umoci unpack listing of each source image."""
    out = {}
    for name, (_, oci, tag) in sources.items():
        key = (oci, tag)
        if key not in out:
            root = images.umoci_unpack(oci, tag, tmp_path_factory.mktemp(
                "unpack") / "bundle")
            out[key] = root
    return out


@pytest.fixture
def mounts(pfs):
    m = Mounts(pfs)
    yield m
    m.cleanup()


def source_layers(oci, tag):
    o = ocidir.Oci(oci)
    return len(json.loads(o.blob(o.manifest_digest(tag)))["layers"])


# ---- acceptance 1: equal to umoci unpack ---------------------------------

@pytest.mark.parametrize("opts", [(), ("-c",), ("--flatten",),
                                  ("--flatten", "-c")],
                         ids=["layers", "layers-zstd", "flatten",
                              "flatten-zstd"])
@pytest.mark.parametrize("name", ["umoci", "buildah", "umoci-docker-archive",
                                  "buildah-docker-archive"])
def test_import_equals_unpack(pfs, mounts, sources, unpacked, tmp_path, name,
                              opts):
    source, src_oci, tag = sources[name]
    want_root = unpacked[(src_oci, tag)]
    oci = str(tmp_path / "oci")
    out = pfs.run("import", "--json", *opts, source, f"{oci}:img").stdout
    stats = json.loads(out)
    n = source_layers(src_oci, tag)
    assert stats["layers"] == n
    assert stats["rootfs_layers"] == (1 if "--flatten" in opts else n)
    dump = json.loads(pfs.run("dump", f"{oci}:img").stdout)
    assert len(dump["metadatas"]) == stats["rootfs_layers"]
    pfs.run("extract", f"{oci}:img", tmp_path / "out")
    # buildah's layers have no entry for the root: its time is nobody's
    # (umoci shows 0, the image none, so extract and the mount their own).
    dirs = ("keep", ".") if name.startswith("buildah") else ("keep",)
    want = umoci_times(pfs.listing(want_root, mtime=True), dirs)
    tree.compare(want, umoci_times(pfs.listing(tmp_path / "out", mtime=True),
                                   dirs))
    mnt = mkdir(tmp_path / "mnt")
    mounts.mount(f"{oci}:img", mnt)
    tree.compare(umoci_times(pfs.listing(want_root, nlink=True, mtime=True),
                             dirs),
                 umoci_times(pfs.listing(mnt, nlink=True, mtime=True), dirs))
    pfs.run("fsck", oci)


def umoci_times(listing, dirs=("keep",)):
    """Mtimes as the tar headers give them, which is what umoci leaves
    except on a directory its whiteout handling changed without putting
    its time back (a whiteout of a directory this layer made, which takes
    the lower layers' names out of it: the crafted layer's "keep")."""
    for p in dirs:
        if p in listing:
            listing[p].pop("mtime", None)
    return listing


def strip_chunks(layer):
    return [{k: v for k, v in i.items() if k != "chunks"} for i in layer]


def test_layers_are_build_b(pfs, umoci_img, tmp_path):
    """Each imported layer is what build (the bottom one) and build -b (the
    next) make of umoci's unpacked trees: the same inodes, numbers,
    metadata and directory lists; only the chunk lists differ, tar data
    being chunked in tar order."""
    oci = str(tmp_path / "oci")
    ref = str(tmp_path / "ref")
    trees = [images.umoci_unpack(umoci_img.oci, t, tmp_path / f"b-{t}")
             for t in ("v1", "v2")]
    pfs.build(trees[0], f"{ref}:v1")
    pfs.build(trees[1], f"{ref}:v2", "-b", "v1")
    pfs.run("import", f"oci:{umoci_img.oci}:v2", f"{oci}:v2")
    want = json.loads(pfs.run("dump", f"{ref}:v2").stdout)["metadatas"]
    got = json.loads(pfs.run("dump", f"{oci}:v2").stdout)["metadatas"]
    assert [strip_chunks(x) for x in got] == [strip_chunks(x) for x in want]


# ---- acceptance 3: shared base layers ------------------------------------

def manifest_chunks(oci, tag):
    o = ocidir.Oci(oci)
    m = json.loads(o.blob(o.manifest_digest(tag)))
    return {x["digest"] for x in m["layers"][1:]}


@pytest.mark.parametrize("opts", [(), ("-c",)], ids=["plain", "zstd"])
def test_shared_base_layer(pfs, umoci_img, sources, tmp_path, opts):
    """v1 and v3 (v1's layer plus two) imported into one directory: v3's
    bottom layer is v1's rootfs layer, and v1's chunks are v3's; the same
    from the docker-archive of v3."""
    oci = str(tmp_path / "oci")
    pfs.run("import", *opts, f"oci:{umoci_img.oci}:v1", f"{oci}:v1")
    before = ocidir.Oci(oci).blobs()
    pfs.run("import", *opts, f"oci:{umoci_img.oci}:v3", f"{oci}:v3")
    pfs.run("import", *opts, sources["umoci-docker-archive"][0], f"{oci}:da")
    v1 = json.loads(pfs.run("dump", f"{oci}:v1").stdout)["metadatas"]
    for tag in ("v3", "da"):
        v3 = json.loads(pfs.run("dump", f"{oci}:{tag}").stdout)["metadatas"]
        assert len(v1) == 1 and len(v3) == 3
        assert v3[-1] == v1[0]
        assert manifest_chunks(oci, "v1") <= manifest_chunks(oci, tag)
    # Every chunk of v1 was stored once: v3 added only its own layers'.
    for c in manifest_chunks(oci, "v1"):
        assert c.split(":")[1] in before


# ---- the runtime config and OCI tools ------------------------------------

def skopeo(*args):
    return subprocess.run(["skopeo", "--insecure-policy", *map(str, args)],
                          check=True, capture_output=True).stdout


def test_config_kept(pfs, umoci_img, buildah_img, tmp_path):
    oci = str(tmp_path / "oci")
    pfs.run("import", f"oci:{umoci_img.oci}:v3", f"{oci}:u")
    pfs.run("import", f"oci:{buildah_img.oci}:v2", f"{oci}:b")
    o = ocidir.Oci(oci)
    for tag, src, stag in (("u", umoci_img.oci, "v3"),
                           ("b", buildah_img.oci, "v2")):
        man = json.loads(o.blob(o.manifest_digest(tag)))
        assert man["config"]["mediaType"] == \
            "application/vnd.oci.image.config.v1+json"
        cfg = json.loads(skopeo("inspect", "--config", f"oci:{oci}:{tag}"))
        want = json.loads(skopeo("inspect", "--config", f"oci:{src}:{stag}"))
        assert cfg["config"] == want["config"]
        assert (cfg["architecture"], cfg["os"]) == (want["architecture"],
                                                    want["os"])
        # diff_ids: the rootfs blob, the one layer OCI tools could unpack.
        assert cfg["rootfs"] == {"type": "layers",
                                 "diff_ids": [man["layers"][0]["digest"]]}
        assert o.descriptor(tag)["platform"] == {
            "architecture": want["architecture"], "os": want["os"]}
    cfg = json.loads(skopeo("inspect", "--config", f"oci:{oci}:u"))["config"]
    assert cfg["Entrypoint"] == ["/bin/sh"] and cfg["Cmd"] == ["-c", "id"]
    assert cfg["WorkingDir"] == "/home/user" and cfg["User"] == "1234:5678"
    assert "A=1" in cfg["Env"] and cfg["StopSignal"] == "SIGINT"
    assert cfg["Labels"] == {"k": "v"}
    # skopeo copies the image as it is; the copy reads the same.
    skopeo("copy", "-q", f"oci:{oci}:u", f"oci:{tmp_path / 'copy'}:u")
    copy = ocidir.Oci(tmp_path / "copy")
    assert copy.manifest_digest("u") == o.manifest_digest("u")
    pfs.run("extract", f"{copy.path}:u", tmp_path / "a")
    pfs.run("extract", f"{oci}:u", tmp_path / "b")
    tree.compare(pfs.listing(tmp_path / "a"), pfs.listing(tmp_path / "b"))
    pfs.run("fsck", copy.path)
    # gc keeps the config (and fsck checks it is there).
    pfs.run("rmtag", f"{oci}:b")
    pfs.run("gc", oci)
    pfs.run("fsck", oci)
    os.unlink(o.blob_path(json.loads(o.blob(o.manifest_digest("u")))[
        "config"]["digest"].split(":")[1]))
    r = pfs.run("fsck", oci, check=False)
    assert r.returncode == 1 and b"image config blob is missing" in r.stderr


# ---- registries -----------------------------------------------------------

def test_registry_round_trip(pfs, umoci_img, anon_registry, certs, tmp_path):
    """An imported image (with its config) goes to a registry and back
    with skopeo unchanged."""
    oci = str(tmp_path / "oci")
    ref = anon_registry.ref("puzzle/imported", "t")
    pfs.run("import", "-c", f"oci:{umoci_img.oci}:v3", f"{oci}:t")
    skopeo("copy", "-q", "--dest-cert-dir", certs.cert_dir, f"oci:{oci}:t", ref)
    skopeo("copy", "-q", "--src-cert-dir", certs.cert_dir, ref,
           f"oci:{tmp_path / 'back'}:t")
    back = ocidir.Oci(tmp_path / "back")
    assert back.manifest_digest("t") == ocidir.Oci(oci).manifest_digest("t")
    pfs.run("fsck", back.path)


@pytest.fixture(scope="module")
def pushed(umoci_img, anon_registry, certs):
    """umoci's v3 (three tar layers, gzip) in the registry, put there by
    skopeo: the image as a registry holds it."""
    ref = anon_registry.ref("src/umoci", "v3")
    skopeo("copy", "-q", "--dest-cert-dir", certs.cert_dir,
           f"oci:{umoci_img.oci}:v3", ref)
    return ref


@pytest.mark.parametrize("opts", [(), ("-c", "--flatten")],
                         ids=["layers", "zstd-flatten"])
def test_import_from_registry(pfs, umoci_img, anon_registry, certs, pushed,
                              tmp_path, opts):
    """import docker://... streams the layers from the registry and makes
    the very image that importing the same layers from disk makes (the
    same manifest digest); each layer is fetched once per pass."""
    local, remote = str(tmp_path / "local"), str(tmp_path / "remote")
    pfs.run("import", *opts, f"oci:{umoci_img.oci}:v3", f"{local}:t")
    mark = anon_registry.mark()
    pfs.run("import", *opts, "--cert-dir", certs.cert_dir, pushed,
            f"{remote}:t")
    assert ocidir.Oci(remote).manifest_digest("t") == \
        ocidir.Oci(local).manifest_digest("t")
    pfs.run("fsck", remote)
    layers = json.loads(skopeo("inspect", "--raw", "--cert-dir",
                               certs.cert_dir, pushed))["layers"]
    passes = 2 if "--flatten" in opts else 1
    for layer in layers:
        assert anon_registry.count("GET", "/blobs/" + layer["digest"],
                                   since=mark) == passes


def test_import_from_registry_refused(pfs, anon_registry, certs, pushed,
                                      tmp_path):
    """TLS is checked (no --cert-dir: refused); a layer whose bytes the
    registry (a proxy in front of it) changes fails the import, naming the
    layer, and writes no tag; an unknown tag says so."""
    oci = str(tmp_path / "oci")
    r = pfs.run("import", pushed, f"{oci}:t", check=False)
    assert r.returncode == 1 and b"certificate" in r.stderr
    layers = json.loads(skopeo("inspect", "--raw", "--cert-dir",
                               certs.cert_dir, pushed))["layers"]
    proxy = FaultProxy(anon_registry, certs)
    try:
        digest = layers[1]["digest"]
        proxy.flip.add(digest.split(":")[1])
        r = pfs.run("import", "--cert-dir", certs.cert_dir,
                    proxy.ref("src/umoci", "v3"), f"{oci}:t", check=False)
        assert r.returncode == 1, r.stderr
        assert digest.encode() in r.stderr, r.stderr
    finally:
        proxy.close()
    assert not os.path.exists(os.path.join(oci, "index.json")) or \
        b"t" not in pfs.run("tags", oci).stdout.split()
    r = pfs.run("import", "--cert-dir", certs.cert_dir,
                anon_registry.ref("src/umoci", "nope"), f"{oci}:t", check=False)
    assert r.returncode == 1 and b"nope" in r.stderr


# ---- layer files, image indexes ------------------------------------------

SMALL = [d("etc/"), f("etc/a", b"a\n"), f("bin/x", b"x" * 70000, mode=0o755),
         sym("bin/y", "x"), hard("bin/z", "bin/x"),
         f("big", bytes(range(256)) * 2000)]


def test_layer_files(pfs, tmp_path):
    """One layer as tar, tar.gz and tar.zst (found by content, whatever
    the name): the same image, equal to umoci's unpack of it."""
    raw = images.tar_bytes(SMALL)
    files = {"plain.bin": raw, "gz.tar": images.gzip_bytes(raw),
             "zst.tgz": images.zstd_bytes(raw)}
    digests = set()
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        oci = tmp_path / f"oci-{name}"
        pfs.run("import", tmp_path / name, f"{oci}:t")
        digests.add(ocidir.Oci(oci).manifest_digest("t"))
    assert len(digests) == 1
    (tmp_path / "layer.tar").write_bytes(raw)
    src = images.umoci_add_layers(tmp_path / "u", [tmp_path / "layer.tar"])
    want = images.umoci_unpack(src, "t", tmp_path / "bundle")
    pfs.run("extract", f"{tmp_path / 'oci-gz.tar'}:t", tmp_path / "out")
    tree.compare(pfs.listing(want), pfs.listing(tmp_path / "out"))


def test_image_index_platform(pfs, tmp_path):
    """An image index: the host's platform is taken, --platform another;
    a platform it does not have is an error."""
    src = str(tmp_path / "src")
    amd = images.tar_bytes([f("which", b"amd64\n")])
    arm = images.tar_bytes([f("which", b"arm64\n")])
    m1 = images.image_manifest(src, [(amd, images.LAYER_TAR, amd)])
    m2 = images.image_manifest(src, [(arm, images.LAYER_TAR, arm)], config={
        "architecture": "arm64", "variant": "v8", "os": "linux",
        "config": {}})
    idx = images.canonical({"schemaVersion": 2, "mediaType":
                            "application/vnd.oci.image.index.v1+json",
                            "manifests": [
                                dict(m2, platform={"architecture": "arm64",
                                                   "os": "linux",
                                                   "variant": "v8"}),
                                dict(m1, platform={"architecture": "amd64",
                                                   "os": "linux"})]})
    images.write_index(src, [({"mediaType":
                               "application/vnd.oci.image.index.v1+json",
                               "digest": "sha256:" + images.put_blob(src, idx),
                               "size": len(idx)}, "multi", None)])
    oci = str(tmp_path / "oci")
    pfs.run("import", f"oci:{src}:multi", f"{oci}:host")
    pfs.run("import", "--platform", "linux/arm64", f"oci:{src}", f"{oci}:arm")
    assert pfs.run("cat", f"{oci}:host", "/which").stdout == b"amd64\n"
    assert pfs.run("cat", f"{oci}:arm", "/which").stdout == b"arm64\n"
    assert ocidir.Oci(oci).descriptor("arm")["platform"] == {
        "architecture": "arm64", "os": "linux", "variant": "v8"}
    r = pfs.run("import", "--platform", "linux/s390x", f"oci:{src}:multi",
                f"{oci}:none", check=False)
    assert r.returncode == 1 and b"no image for linux/s390x" in r.stderr


def test_tar_corners(pfs, tmp_path):
    """GNU sparse and PAX sparse entries, base-256 owners and devices, long
    names and link targets from GNU tar and Python: as umoci unpacks them."""
    root = tmp_path / "src"
    os.makedirs(root)
    with open(root / "sparse", "wb") as fh:
        fh.seek(3 << 20)
        fh.write(b"data after a hole")
        fh.seek(5 << 20)
        fh.write(b"x")
    (root / ("L" * 200)).mkdir()
    (root / ("L" * 200) / ("M" * 200)).write_bytes(b"long path\n")
    os.symlink("T" * 900, root / "long-target")
    (root / "big-owner").write_bytes(b"owner\n")
    os.chown(root / "big-owner", 3000000000, 2 ** 31)
    tars = []
    for i, fmt in enumerate(("gnu", "pax")):
        t = tmp_path / f"{fmt}.tar"
        subprocess.run(["tar", "--sparse", f"--format={fmt}", "-C", root,
                        "-cf", t, "."], check=True)
        tars.append(t)
    py = tmp_path / "base256.tar"
    with tarfile.open(py, "w", format=tarfile.GNU_FORMAT) as t:
        ti = tarfile.TarInfo("dev-big")
        ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, 4095, 2 ** 20 - 1
        t.addfile(ti)
        ti = tarfile.TarInfo("uid-big")
        ti.uid, ti.gid = 2 ** 32 - 2, 2 ** 30
        t.addfile(ti)
    tars.append(py)
    for t in tars:
        src = images.umoci_add_layers(tmp_path / f"u-{t.name}", [t])
        if t.name == "gnu.tar":
            # umoci (Go's archive/tar) does not take GNU's 'S' entries:
            # GNU tar itself is the reference for them.
            want = tmp_path / "gnu-x"
            want.mkdir()
            subprocess.run(["tar", "-xpf", t, "-C", want], check=True)
        else:
            want = images.umoci_unpack(src, "t", tmp_path / f"b-{t.name}")
        oci = tmp_path / f"oci-{t.name}"
        pfs.run("import", f"oci:{src}:t", f"{oci}:t")
        out = tmp_path / f"out-{t.name}"
        pfs.run("extract", f"{oci}:t", out)
        tree.compare(pfs.listing(want), pfs.listing(out))


def test_paths_normalised(pfs, tmp_path):
    """Absolute and ".." paths (and hard link targets) are cleaned as
    runtimes clean them: the tree is umoci's, and nothing is written
    outside the image directory."""
    raw = images.tar_bytes([f("/etc/abs", b"abs\n"),
                            f("../../../escape", b"escape\n"),
                            f("a/b/../../../../c", b"c\n"),
                            hard("/link", "../../etc/abs"),
                            d("/"), d("./x/../")])
    (tmp_path / "l.tar").write_bytes(raw)
    src = images.umoci_add_layers(tmp_path / "u", [tmp_path / "l.tar"])
    want = images.umoci_unpack(src, "t", tmp_path / "bundle")
    work = tmp_path / "work"
    work.mkdir()
    pfs.run("import", f"oci:{src}:t", f"{work / 'oci'}:t")
    assert sorted(os.listdir(work)) == ["oci"]
    assert sorted(os.listdir(work / "oci")) == ["blobs", "index.json",
                                                "oci-layout"]
    pfs.run("extract", f"{work / 'oci'}:t", tmp_path / "out")
    tree.compare(pfs.listing(want), pfs.listing(tmp_path / "out"))


# ---- acceptance 2: hostile layers ----------------------------------------

def corrupt(data, at=None):
    b = bytearray(data)
    i = len(b) // 2 if at is None else at
    b[i] ^= 0xff
    return bytes(b)


GOOD = images.tar_bytes([f("ok", os.urandom(200000))])


def hostile_cases():
    """name -> (layers [(blob, media type, tar)], extra options, what the
    message names[, a change to the layout once written])."""
    gz = images.gzip_bytes(GOOD)
    zs = images.zstd_bytes(GOOD)
    T, G, Z = images.LAYER_TAR, images.LAYER_GZIP, images.LAYER_ZSTD
    lnk = images.tar_bytes([sym("l", "etc"), d("etc/")])
    under = images.tar_bytes([f("l/passwd", b"x\n")])
    bomb_tar = images.tar_bytes([f("zeros", b"\0" * (64 << 20))])
    bomb = images.gzip_bytes(bomb_tar)
    half = images.tar_bytes([f("zeros", b"\0" * (10 << 20))])
    half2 = images.tar_bytes([f("zeros2", b"\0" * (10 << 20))])
    many = images.tar_bytes([f(f"f{i}", b"") for i in range(50)])

    def one(tar):
        return [(tar, T, tar)]
    return {
        "corrupt-gzip": ([(corrupt(gz), G, GOOD)], (), ""),
        "truncated-gzip": ([(gz[:len(gz) // 2], G, GOOD)], (), ""),
        "corrupt-zstd": ([(corrupt(zs), Z, GOOD)], (), ""),
        "truncated-zstd": ([(zs[:len(zs) // 2], Z, GOOD)], (), ""),
        # The blob replaced by the same tar gzipped with another header
        # time: same size, another digest.
        "blob-digest": ([(gz, G, GOOD)], (), "expected sha256:",
                        lambda oci: replace_blob(oci, gz, images.gzip_bytes(
                            GOOD, mtime=7))),
        "diff-id": ([(gz, G, GOOD[:-1] + b"!")], (), "rootfs.diff_ids"),
        "under-symlink": (one(images.tar_bytes([sym("l", "etc"),
                                                f("l/passwd", b"x\n")])),
                          (), "a symlink"),
        "under-lower-symlink": ([(lnk, T, lnk), (under, T, under)], (),
                                "a symlink"),
        "hardlink-missing": (one(images.tar_bytes([hard("h", "nowhere")])),
                             (), "does not exist"),
        "hardlink-dir": (one(images.tar_bytes([d("dir/"), hard("h", "dir")])),
                         (), "a directory"),
        "name-too-long": (one(images.tar_bytes([f("n" * 256, b"")])), (),
                          "256 bytes"),
        "file-children": (one(images.tar_bytes([f("file", b"x"),
                                                f("file/child", b"y")])),
                          (), "not a directory"),
        "bomb": ([(bomb, G, bomb_tar)], ("--max-size", "16M"),
                 "expands to more than"),
        # Two layers under the bound each, over it together.
        "bomb-split": ([(images.gzip_bytes(half), G, half),
                        (images.gzip_bytes(half2), G, half2)],
                       ("--max-size", "16M"), "expands to more than"),
        "too-many-entries": (one(many), ("--max-entries", "20"),
                             "more than 20 entries"),
        "root-type": (one(images.tar_bytes([sym("./", "etc")])), (),
                      "root directory"),
        "not-tar": ([(b"\x01" * 4096, T, b"\x01" * 4096)], (), ""),
    }


def replace_blob(oci, old, new):
    with open(os.path.join(oci, "blobs", "sha256", images.sha256(old)),
              "wb") as fh:
        fh.write(new)


CASES = hostile_cases()


def blob_files_ok(oci):
    """Every file under blobs/sha256 is complete: its content is its name."""
    d = os.path.join(oci, "blobs", "sha256")
    if not os.path.isdir(d):
        return True
    for name in os.listdir(d):
        with open(os.path.join(d, name), "rb") as fh:
            assert images.sha256(fh.read()) == name, name
    return True


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_layer(pfs, tmp_path, case):
    layers, opts, says, *tamper = CASES[case]
    src = images.oci_image(str(tmp_path / "src"), layers)
    for change in tamper:
        change(src)
    work = tmp_path / "work"
    work.mkdir()
    dest = str(work / "oci")
    # An existing tag of the destination stays as it was.
    (tmp_path / "good.tar").write_bytes(GOOD)
    pfs.run("import", tmp_path / "good.tar", f"{dest}:old")
    index = open(os.path.join(dest, "index.json"), "rb").read()
    r = pfs.run("import", *opts, f"oci:{src}:t", f"{dest}:new", check=False)
    err = r.stderr.decode(errors="replace")
    assert r.returncode == 1, err
    assert err.startswith("puzzlefs: import: ") and "layer " in err, err
    assert "sha256:" in err, err
    assert says in err, err
    if case in ("under-symlink", "under-lower-symlink", "hardlink-missing",
                "hardlink-dir", "name-too-long", "file-children",
                "too-many-entries", "root-type"):
        assert "entry '" in err, err
    assert open(os.path.join(dest, "index.json"), "rb").read() == index
    assert blob_files_ok(dest)
    assert sorted(os.listdir(work)) == ["oci"]
    assert sorted(os.listdir(dest)) == ["blobs", "index.json", "oci-layout"]
    pfs.run("fsck", dest)


class Zeros:
    def __init__(self, n):
        self.left = n

    def read(self, n=-1):
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


def test_bomb_memory(pfs, tmp_path):
    """A layer that expands 1000-fold streams in bounded memory (the peak
    as /usr/bin/time measures it, from a small parent)."""
    import gzip
    size = 256 << 20
    with gzip.open(tmp_path / "bomb.tgz", "wb") as gz:
        with tarfile.open(fileobj=gz, mode="w") as t:
            ti = tarfile.TarInfo("zeros")
            ti.size = size
            t.addfile(ti, Zeros(size))
    r = subprocess.run(["/usr/bin/time", "-f", "maxrss %M", pfs.exe,
                        "import", "--json", tmp_path / "bomb.tgz",
                        f"{tmp_path / 'oci'}:t"], capture_output=True)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["bytes"] == size
    kib = int(r.stderr.decode().split("maxrss ")[1])
    assert kib < 128 * 1024, kib


def test_usage(pfs):
    assert pfs.run("import", "--help").stdout.startswith(
        b"Usage: puzzlefs import")
    for args in ((), ("only-one",), ("--platform", "linux", "a", "b:c"),
                 ("--max-size", "x", "a", "b:c"), ("a", "no-tag")):
        assert pfs.run("import", *args, check=False).returncode == 2
    r = pfs.run("import", "oci-archive:/tmp/x.tar", "/tmp/x:t", check=False)
    assert r.returncode == 1 and b"not supported" in r.stderr
    r = pfs.run("import", "docker://Bad_Host/x", "/tmp/x:t", check=False)
    assert r.returncode == 1 and b"docker://" in r.stderr.lower()


# ---- random layers against umoci -------------------------------------------

def random_layer(rng, state):
    """A layer over the tree @state (the previous unpack): hard links to
    its files, then whiteouts, opaque directories and new entries in any
    order.  Directories are named a, b, c; everything else x, y, z, so no
    entry ever goes through a file or a symlink."""
    dirs = [p for p, e in state.items() if e["type"] == "d"]
    files = [p for p, e in state.items() if e["type"] == "-"]
    paths = [p for p in state if p != "."]
    ents = []
    for _ in range(rng.randrange(3)):
        name = os.path.join(rng.choice(dirs), rng.choice("xyz"))
        targets = [p for p in files if os.path.normpath(p) !=
                   os.path.normpath(name)]
        if targets:
            ents.append(hard(name, rng.choice(targets)))
    ops = []
    for _ in range(rng.randrange(1, 10)):
        parent = rng.choice(dirs)
        k = rng.randrange(10)
        if k == 0 and paths:
            p = rng.choice(paths)
            ops.append(f(os.path.join(os.path.dirname(p),
                                      ".wh." + os.path.basename(p)), b""))
        elif k == 1:
            ops.append(f(os.path.join(parent, ".wh..wh..opq"), b""))
        elif k < 4:
            ops.append(d(os.path.join(parent, rng.choice("abc")) + "/",
                         mode=rng.choice((0o755, 0o700, 0o1777))))
        elif k < 8:
            extra = {}
            if rng.random() < 0.3:
                extra["pax_headers"] = {"SCHILY.xattr.user.k":
                                        str(rng.randrange(100))}
            ops.append(f(os.path.join(parent, rng.choice("xyz")),
                         rng.randbytes(rng.choice((0, 10, 5000, 70000))),
                         mode=rng.choice((0o644, 0o600, 0o4755)), **extra))
        else:
            ops.append(sym(os.path.join(parent, rng.choice("xyz")),
                           rng.choice(("x", "../a", "/etc"))))
    return ents + ops


@pytest.mark.parametrize("seed", range(int(os.environ.get("PFS_RANDOM_SEEDS", "5"))))
def test_random_layers(pfs, tmp_path, seed):
    import random
    rng = random.Random(seed)
    oci = images.umoci_add_layers(tmp_path / "u", [])
    state = {".": {"type": "d"}}
    for k in range(4):
        path = tmp_path / f"layer{k}.tar"
        images.tar_layer(path, random_layer(rng, {p.lstrip("./") or ".": e
                                                  for p, e in state.items()}))
        images.run("umoci", "raw", "add-layer", "--image", f"{oci}:t", path)
        root = images.umoci_unpack(oci, "t", tmp_path / f"bundle{k}")
        state = pfs.listing(root)
    for opts in ((), ("--flatten",)):
        dest = tmp_path / f"oci{len(opts)}"
        pfs.run("import", *opts, f"oci:{oci}:t", f"{dest}:t")
        out = tmp_path / f"out{len(opts)}"
        pfs.run("extract", f"{dest}:t", out)
        got = pfs.listing(out, mtime=True)
        # Files' mtimes as the headers say; umoci's whiteouts change the
        # times of the directories they walk into (see umoci_times).
        dirs = [p for p, e in got.items() if e["type"] == "d"]
        tree.compare(umoci_times(pfs.listing(root, mtime=True), dirs),
                     umoci_times(got, dirs))


# ---- mtimes ---------------------------------------------------------------

def mtimes(listing):
    return {p: e.get("mtime") for p, e in listing.items() if p != "."}


def test_mtimes(pfs, tmp_path):
    """The tar headers' mtimes (to the nanosecond, PAX), --mtime and
    SOURCE_DATE_EPOCH as build takes them."""
    raw = images.tar_bytes([
        d("dir/", mtime=1500000000), f("dir/a", b"a", mtime=1600000000),
        (dict(name="dir/ns", type=tarfile.REGTYPE,
              pax_headers={"mtime": "1650000000.123456789"}), b"ns"),
        sym("dir/l", "a"), f("new", b"n", mtime=1700000000)])
    (tmp_path / "l.tar").write_bytes(raw)
    got = {}
    for name, opts, env in (("tar", (), {}), ("fixed", ("--mtime", "42"), {}),
                            ("epoch", (), {"SOURCE_DATE_EPOCH": "1620000000"}),
                            ("none", ("--mtime", "none"), {})):
        oci = tmp_path / f"oci-{name}"
        pfs.run("import", *opts, tmp_path / "l.tar", f"{oci}:t",
                env=dict(os.environ, **env))
        pfs.run("extract", f"{oci}:t", tmp_path / name)
        got[name] = mtimes(pfs.listing(tmp_path / name, mtime=True))
    assert got["tar"]["dir"] == "1500000000.000000000"
    assert got["tar"]["dir/a"] == "1600000000.000000000"
    assert got["tar"]["dir/ns"] == "1650000000.123456789"
    assert got["tar"]["new"] == "1700000000.000000000"
    assert set(got["fixed"].values()) == {"42.000000000"}
    assert got["epoch"]["dir/a"] == "1600000000.000000000"
    assert got["epoch"]["dir/ns"] == got["epoch"]["new"] == "1620000000.000000000"
    dump = pfs.run("dump", f"{tmp_path / 'oci-none'}:t").stdout
    assert b"mtime" not in dump
    r = pfs.run("import", tmp_path / "l.tar", f"{tmp_path}/x:t", check=False,
                env=dict(os.environ, SOURCE_DATE_EPOCH="soon"))
    assert r.returncode == 2


def test_pyc_stays_valid(pfs, mounts, tmp_path):
    """A module and its timestamp .pyc in a layer: mounted, Python takes
    the .pyc as it is (its recorded source mtime is the file's)."""
    import py_compile
    src = tmp_path / "src"
    src.mkdir()
    (src / "mod.py").write_text("VALUE = 42\n")
    os.utime(src / "mod.py", (1600000000, 1600000000))
    py_compile.compile(str(src / "mod.py"), invalidation_mode=
                       py_compile.PycInvalidationMode.TIMESTAMP)
    subprocess.run(["tar", "-C", src, "-czf", tmp_path / "l.tgz", "."],
                   check=True)
    import re
    for opts, valid in (((), True), (("--mtime", "42"), False)):
        oci = tmp_path / f"oci{len(opts)}"
        pfs.run("import", "-c", *opts, tmp_path / "l.tgz", f"{oci}:t")
        mnt = mkdir(tmp_path / f"mnt{len(opts)}")
        mounts.mount(f"{oci}:t", mnt)
        r = subprocess.run(["/usr/bin/python3", "-v", "-c", "import mod; "
                            "print(mod.VALUE)"], cwd=mnt, capture_output=True,
                           env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
        assert r.stdout == b"42\n", r.stderr[-2000:]
        used = re.search(rb"__pycache__/mod\.cpython-\d+\.pyc matches .*/mod\.py",
                         r.stderr)
        assert bool(used) == valid, r.stderr[-3000:]
        assert (b"bytecode is stale for 'mod'" in r.stderr) != valid
