"""Issue 16: push and pull through a real registry (docker-registry 2.8 on
127.0.0.1 with TLS).  Acceptance 1 (round trips: plain, -c, delta tags, a
shared blob store; the pulled image mounts equal to the source and fsck
is clean) and 2 (interop with skopeo both ways, a tar-layer image pushed
by skopeo), and what push and pull promise besides: an unchanged re-push
costs no upload, a delta uploads only its new blobs, blobs are mounted
from another repository, big blobs go in PATCH chunks, references by
digest, the registry's manifest size limit, manifests we do not store."""
import hashlib
import json
import os
import shutil
import subprocess

import pytest

import ocidir
import tree
from registry import Client, anon_registry, certs  # noqa: F401 (fixtures)
from test_core_delta import change, make_base
from test_fuse import Mounts


EMPTY_CONFIG = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


@pytest.fixture(scope="module")
def client(pfs, certs):
    return Client(pfs, certs)


@pytest.fixture(scope="module")
def images(pfs, corner_tree, tmp_path_factory):
    """The corner tree plain and -c, and a delta pair, in one directory."""
    d = tmp_path_factory.mktemp("reg-images")
    oci = ocidir.Oci(d / "oci")
    pfs.build(corner_tree, f"{oci.path}:plain")
    pfs.build(corner_tree, f"{oci.path}:zstd", "-c")
    a, b = str(d / "a"), str(d / "b")
    make_base(a)
    shutil.copytree(a, b, symlinks=True)
    change(b)
    pfs.build(a, f"{oci.path}:a", "-c")
    pfs.build(b, f"{oci.path}:b", "-c", "-b", "a")
    return {"oci": oci, "a": a, "b": b}


@pytest.fixture(scope="module")
def small_tree(tmp_path_factory):
    """A small tree (33 blobs), for the slow tools (skopeo)."""
    return tree.make_corner_tree(str(tmp_path_factory.mktemp("small") / "t"),
                                 seed=3, big=300 * 1024)


def image_blobs(oci, tag):
    """Digests of the blobs a tag's manifest names (config included)."""
    m = oci.manifest(tag)
    return {m["config"]["digest"].split(":")[1]} | \
        {l["digest"].split(":")[1] for l in m["layers"]}


def compare_extract(pfs, ref, src, out):
    pfs.run("extract", ref, out)
    tree.compare(pfs.listing(src), pfs.listing(out))


def check_store(path):
    """Every blob file is named by its sha256; no temporary file."""
    d = os.path.join(path, "blobs", "sha256")
    for name in os.listdir(d):
        assert not name.startswith("."), name
        with open(os.path.join(d, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == name, name


# ---- acceptance 1: round trips ----------------------------------------------

@pytest.mark.core
@pytest.mark.parametrize("tag", ["plain", "zstd"])
def test_roundtrip_mounts(pfs, client, anon_registry, images, corner_tree,
                          tmp_path, tag):
    src = images["oci"]
    r = client.push(f"{src.path}:{tag}", anon_registry.ref("rt", tag))
    n = len(image_blobs(src, tag))
    assert r["blobs"] == n and r["uploaded"] + r["present"] == n
    assert r["digest"] == "sha256:" + src.manifest_digest(tag)
    assert anon_registry.tags("rt") and tag in anon_registry.tags("rt")
    dst = ocidir.Oci(tmp_path / "pulled")
    p = client.pull(anon_registry.ref("rt", tag), f"{dst.path}:{tag}")
    assert p["fetched"] == n and p["present"] == 0
    assert dst.manifest_digest(tag) == src.manifest_digest(tag)
    assert dst.blobs() == image_blobs(src, tag) | {src.manifest_digest(tag)}
    pfs.run("fsck", dst.path)
    mounts = Mounts(pfs)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    try:
        mounts.mount(f"{dst.path}:{tag}", mnt)
        tree.compare(pfs.listing(corner_tree, nlink=True),
                     pfs.listing(mnt, nlink=True))
    finally:
        mounts.cleanup()


@pytest.mark.core
def test_delta_uploads_new_blobs(pfs, client, anon_registry, images, tmp_path):
    src = images["oci"]
    client.push(f"{src.path}:a", anon_registry.ref("delta", "a"))
    new = image_blobs(src, "b") - image_blobs(src, "a")
    mark = anon_registry.mark()
    r = client.push(f"{src.path}:b", anon_registry.ref("delta", "b"))
    assert r["uploaded"] == len(new) and r["mounted"] == 0
    assert r["present"] == len(image_blobs(src, "b")) - len(new)
    # One PUT per new blob, then the manifest's.
    assert anon_registry.count("PUT", r"/blobs/uploads/", since=mark) == len(new)
    assert anon_registry.count("PUT", r"/manifests/b$", since=mark) == 1
    dst = ocidir.Oci(tmp_path / "pulled")
    client.pull(anon_registry.ref("delta", "b"), f"{dst.path}:b")
    compare_extract(pfs, f"{dst.path}:b", images["b"], tmp_path / "out")
    pfs.run("fsck", dst.path)


def test_shared_store(pfs, client, anon_registry, images, tmp_path):
    """Two OCI directories on one blobs/sha256 store: the second pull
    fetches only what the store lacks."""
    src = images["oci"]
    for t in ("a", "b"):
        client.push(f"{src.path}:{t}", anon_registry.ref("shared", t))
    store = tmp_path / "store"
    store.mkdir()
    dirs = []
    for name in ("x", "y"):
        d = tmp_path / name
        (d / "blobs").mkdir(parents=True)
        os.symlink(store, d / "blobs" / "sha256")
        dirs.append(d)
    pa = client.pull(anon_registry.ref("shared", "a"), f"{dirs[0]}:a")
    pb = client.pull(anon_registry.ref("shared", "b"), f"{dirs[1]}:b")
    new = image_blobs(src, "b") - image_blobs(src, "a")
    assert pa["fetched"] == len(image_blobs(src, "a"))
    assert pb["fetched"] == len(new)
    for d, t, tr in ((dirs[0], "a", images["a"]), (dirs[1], "b", images["b"])):
        pfs.run("fsck", f"{d}:{t}")
        compare_extract(pfs, f"{d}:{t}", tr, tmp_path / f"out-{t}")
    check_store(dirs[0])


def test_repush_unchanged(client, anon_registry, images):
    src = images["oci"]
    client.push(f"{src.path}:plain", anon_registry.ref("again", "v1"))
    mark = anon_registry.mark()
    r = client.push(f"{src.path}:plain", anon_registry.ref("again", "v1"))
    assert r["up_to_date"] and r["uploaded"] == 0
    # The ping and one HEAD of the manifest.
    assert anon_registry.count(since=mark) == r["requests"] <= 2
    assert anon_registry.count("HEAD", "/manifests/v1$", since=mark) == 1
    # Under another tag: at most one HEAD per blob, nothing uploaded.
    mark = anon_registry.mark()
    r = client.push(f"{src.path}:plain", anon_registry.ref("again", "v2"))
    n = len(image_blobs(src, "plain"))
    assert r["uploaded"] == 0 and r["present"] == n
    assert anon_registry.count("HEAD", "/blobs/", since=mark) <= n
    assert anon_registry.count("POST", since=mark) == 0
    assert anon_registry.count("PUT", "/blobs/", since=mark) == 0


def test_retag_uses_the_old_manifest(pfs, client, anon_registry, images):
    """A tag that names an older image: its blobs need no HEAD."""
    src = images["oci"]
    client.push(f"{src.path}:a", anon_registry.ref("retag", "latest"))
    mark = anon_registry.mark()
    r = client.push(f"{src.path}:b", anon_registry.ref("retag", "latest"))
    new = image_blobs(src, "b") - image_blobs(src, "a")
    assert r["uploaded"] == len(new)
    assert anon_registry.count("HEAD", "/blobs/", since=mark) == len(new)
    st, body = anon_registry.manifest("retag", "latest")
    assert st == 200 and hashlib.sha256(body).hexdigest() == \
        src.manifest_digest("b")


def test_mount_from_another_repository(pfs, client, anon_registry, images,
                                       tmp_path):
    src = images["oci"]
    n = len(image_blobs(src, "zstd"))
    client.push(f"{src.path}:zstd", anon_registry.ref("origin/img", "v1"))
    # Explicitly.
    r = client.push(f"{src.path}:zstd", anon_registry.ref("copy1", "v1"),
                    "--from", "origin/img")
    assert r["mounted"] == n and r["uploaded"] == 0
    # From the repository a tag was pulled from.
    pulled = tmp_path / "pulled"
    client.pull(anon_registry.ref("origin/img", "v1"), f"{pulled}:v1")
    mark = anon_registry.mark()
    r = client.push(f"{pulled}:v1", anon_registry.ref("copy2", "v1"))
    assert r["mounted"] == n and r["uploaded"] == 0
    assert anon_registry.count("POST", r"mount=", since=mark) == n
    for repo in ("copy1", "copy2"):
        out = tmp_path / repo
        client.pull(anon_registry.ref(repo, "v1"), f"{out}:v1")
        pfs.run("fsck", out)


@pytest.mark.core
def test_chunked_upload(pfs, client, anon_registry, images, tmp_path):
    src = images["oci"]
    big = [d for d in image_blobs(src, "plain")
           if os.path.getsize(src.blob_path(d)) > 64 * 1024]
    assert big
    mark = anon_registry.mark()
    client.push(f"{src.path}:plain", anon_registry.ref("chunked", "v1"),
                "--chunk-size", "64K")
    assert anon_registry.count("PATCH", since=mark) >= len(big) + 1
    dst = tmp_path / "pulled"
    client.pull(anon_registry.ref("chunked", "v1"), f"{dst}:v1")
    pfs.run("fsck", dst)
    assert ocidir.Oci(dst).manifest_digest("v1") == src.manifest_digest("plain")


@pytest.mark.core
def test_by_digest(pfs, client, anon_registry, images, tmp_path):
    src = images["oci"]
    digest = src.manifest_digest("zstd")
    ref = f"docker://{anon_registry.host}/bydigest@sha256:{digest}"
    r = client.push(f"{src.path}:zstd", ref)
    assert r["digest"] == f"sha256:{digest}"
    assert anon_registry.tags("bydigest") == []
    client.pull(ref, f"{tmp_path / 'p'}:t")
    assert ocidir.Oci(tmp_path / "p").manifest_digest("t") == digest
    wrong = f"docker://{anon_registry.host}/bydigest@sha256:{'1' * 64}"
    r = client.push(f"{src.path}:zstd", wrong, check=False)
    assert r.returncode == 1 and b"not the digest named" in r.stderr
    r = client.pull(wrong, f"{tmp_path / 'q'}:t", check=False)
    assert r.returncode == 1 and b"no manifest" in r.stderr


# ---- acceptance 2: interop with skopeo --------------------------------------

def skopeo(*args):
    subprocess.run(["skopeo", "--insecure-policy", "copy", "-q", *args],
                   check=True, capture_output=True)


@pytest.mark.parametrize("opts", [(), ("-c",)], ids=["plain", "zstd"])
def test_skopeo_pulls_ours(pfs, client, anon_registry, certs, small_tree,
                           tmp_path, opts):
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(small_tree, f"{oci.path}:t", *opts)
    client.push(f"{oci.path}:t", anon_registry.ref("byus", "t"))
    out = ocidir.Oci(tmp_path / "skopeo")
    skopeo("--src-cert-dir", certs.cert_dir,
           f"docker://{anon_registry.host}/byus:t", f"oci:{out.path}:t")
    assert out.manifest_digest("t") == oci.manifest_digest("t")
    compare_extract(pfs, f"{out.path}:t", small_tree, tmp_path / "x")
    pfs.run("fsck", out.path)


def test_we_pull_skopeos(pfs, client, anon_registry, certs, small_tree,
                         tmp_path):
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(small_tree, f"{oci.path}:t", "-c")
    skopeo("--dest-cert-dir", certs.cert_dir, f"oci:{oci.path}:t",
           f"docker://{anon_registry.host}/byskopeo:t")
    dst = ocidir.Oci(tmp_path / "pulled")
    client.pull(anon_registry.ref("byskopeo", "t"), f"{dst.path}:t")
    assert dst.manifest_digest("t") == oci.manifest_digest("t")
    compare_extract(pfs, f"{dst.path}:t", small_tree, tmp_path / "x")
    pfs.run("fsck", dst.path)


def test_tar_layer_image(client, anon_registry, certs, tmp_path):
    """An ordinary image (umoci: a gzip tar layer and a real config)
    pushed by skopeo comes through whole: same manifest, same blobs, and
    umoci unpacks it to the same tree."""
    layout = tmp_path / "layout"
    subprocess.run(["umoci", "init", "--layout", layout], check=True)
    subprocess.run(["umoci", "new", "--image", f"{layout}:t"], check=True)
    bundle = tmp_path / "bundle"
    subprocess.run(["umoci", "unpack", "--image", f"{layout}:t", bundle],
                   check=True)
    rootfs = bundle / "rootfs"
    (rootfs / "etc").mkdir()
    (rootfs / "etc" / "hostname").write_text("tar-layer\n")
    (rootfs / "data").write_bytes(os.urandom(100000))
    os.symlink("etc/hostname", rootfs / "link")
    subprocess.run(["umoci", "repack", "--image", f"{layout}:t", bundle],
                   check=True)
    skopeo("--dest-cert-dir", certs.cert_dir, f"oci:{layout}:t",
           f"docker://{anon_registry.host}/tarimg:t")
    dst = ocidir.Oci(tmp_path / "pulled")
    client.pull(anon_registry.ref("tarimg", "t"), f"{dst.path}:t")
    src = ocidir.Oci(layout)
    assert dst.manifest_digest("t") == src.manifest_digest("t")
    for d in image_blobs(src, "t"):
        assert dst.blob(d) == src.blob(d)
    again = tmp_path / "again"
    subprocess.run(["umoci", "unpack", "--image", f"{dst.path}:t", again],
                   check=True, capture_output=True)
    for name in ("etc/hostname", "data"):
        assert (again / "rootfs" / name).read_bytes() == \
            (rootfs / name).read_bytes()
    assert os.readlink(again / "rootfs" / "link") == "etc/hostname"


# ---- what the registry refuses, what we refuse -------------------------------

def test_manifest_over_the_limit(pfs, client, anon_registry, images, tmp_path):
    """docker-registry takes manifests up to 4 MiB: a bigger one is refused
    and the message says which limit, and how many chunks the image has."""
    src = images["oci"]
    d = tmp_path / "big"
    shutil.copytree(src.path, d)
    oci = ocidir.Oci(d)
    m = oci.manifest("plain")
    m["annotations"] = {"padding": "x" * (5 << 20)}
    data = json.dumps(m).encode()
    digest = hashlib.sha256(data).hexdigest()
    with open(oci.blob_path(digest), "wb") as f:
        f.write(data)
    index = oci.index()
    ent = dict(oci.descriptor("plain"))
    ent.update(digest=f"sha256:{digest}", size=len(data),
               annotations={ocidir.REFNAME: "huge"})
    index["manifests"].append(ent)
    with open(os.path.join(d, "index.json"), "w") as f:
        json.dump(index, f)
    r = client.push(f"{d}:huge", anon_registry.ref("huge", "t"), check=False)
    err = r.stderr.decode()
    assert r.returncode == 1, err
    chunks = sum(1 for l in m["layers"] if l["mediaType"].startswith(ocidir.CHUNK))
    assert "too large" in err and "4 MiB" in err and f"{chunks} of them chunks" in err
    assert anon_registry.tags("huge") == []


def test_pull_refuses_what_it_cannot_store(pfs, client, anon_registry,
                                           tmp_path):
    config = anon_registry.put_blob("others", b'{"architecture":"amd64"}')
    layer = anon_registry.put_blob("others", b"not really a tar")
    desc = lambda mt, d, n: {"mediaType": mt, "digest": f"sha256:{d}",  # noqa: E731
                             "size": n}
    docker = {"schemaVersion": 2,
              "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
              "config": desc("application/vnd.docker.container.image.v1+json",
                             config, 24),
              "layers": [desc("application/vnd.docker.image.rootfs.diff.tar.gzip",
                              layer, 16)]}
    st, body = anon_registry.put_manifest("others", "docker", json.dumps(docker),
                                          docker["mediaType"])
    assert st == 201, body
    oci_m = dict(docker, mediaType="application/vnd.oci.image.manifest.v1+json")
    oci_m["config"] = desc("application/vnd.oci.image.config.v1+json", config, 24)
    oci_m["layers"] = [desc("application/vnd.oci.image.layer.v1.tar", layer, 16)]
    data = json.dumps(oci_m).encode()
    st, body = anon_registry.put_manifest("others", "oci", data, oci_m["mediaType"])
    assert st == 201, body
    index = {"schemaVersion": 2,
             "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [dict(desc(oci_m["mediaType"],
                                     hashlib.sha256(data).hexdigest(), len(data)),
                                platform={"architecture": "amd64", "os": "linux"})]}
    st, body = anon_registry.put_manifest("others", "index", json.dumps(index),
                                          index["mediaType"])
    assert st == 201, body
    for tag, words in (("docker", "Docker schema 2"), ("index", "image index"),
                       ("nosuch", "no manifest")):
        r = client.pull(anon_registry.ref("others", tag), f"{tmp_path / tag}:t",
                        check=False)
        assert r.returncode == 1 and words in r.stderr.decode(), r.stderr
        assert not os.path.exists(tmp_path / tag / "index.json") or \
            "t" not in json.dumps(ocidir.Oci(tmp_path / tag).index())
    # An OCI image of tar layers is stored as it is.
    client.pull(anon_registry.ref("others", "oci"), f"{tmp_path / 'ok'}:t")
    assert ocidir.Oci(tmp_path / "ok").blob(layer) == b"not really a tar"


def test_usage(pfs, images, tmp_path):
    for cmd in ("push", "pull"):
        r = pfs.run(cmd, "--help")
        assert r.stdout.startswith(f"Usage: puzzlefs {cmd}".encode())
    src = images["oci"].path
    for args in (("push", f"{src}:plain"),
                 ("push", f"{src}:plain", "oci:elsewhere"),
                 ("push", f"{src}:plain", "docker://host/Bad_Name"),
                 ("push", "-j", "0", f"{src}:plain", "docker://h.x/r"),
                 ("pull", "docker://h.x/r", "notag"),
                 ("pull", "--tls-verify=maybe", "docker://h.x/r", f"{tmp_path}:t"),
                 ("pull", "--from", "r", "docker://h.x/r", f"{tmp_path}:t")):
        r = pfs.run(*args, check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith(f"puzzlefs: {args[0]}: ".encode())


def test_quiet_without_a_terminal(pfs, certs, anon_registry, images, tmp_path):
    src = images["oci"]
    r = pfs.run("push", "--cert-dir", certs.cert_dir, f"{src.path}:zstd",
                anon_registry.ref("quiet", "t"))
    assert r.stdout == b"" and r.stderr == b""
    r = pfs.run("pull", "--cert-dir", certs.cert_dir,
                anon_registry.ref("quiet", "t"), f"{tmp_path / 'p'}:t")
    assert r.stdout == b"" and r.stderr == b""
