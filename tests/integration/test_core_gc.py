"""rmtag and gc: removing images from an OCI directory.  gc deletes
exactly the blobs no tag reaches, keeps what other tools' manifests and
image indexes name, deletes nothing when it cannot account for a tag, and
refuses a shared store unless told all of its users."""
import json
import os
import random
import shutil

import pytest

import ocidir

pytestmark = pytest.mark.core
KIB = 1024


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def make_trees(base):
    """a; b = a with a file changed and one added; c unrelated."""
    rng = random.Random(4)
    a, b, c = (os.path.join(base, n) for n in "abc")
    write(os.path.join(a, "big"), rng.randbytes(600 * KIB))
    write(os.path.join(a, "dir", "small"), b"small\n")
    shutil.copytree(a, b)
    write(os.path.join(b, "big"), rng.randbytes(600 * KIB))
    write(os.path.join(b, "dir", "new"), b"new\n")
    write(os.path.join(c, "other"), rng.randbytes(300 * KIB))
    return a, b, c


def reached(oci, tags):
    """Every blob the tags' manifests name, the manifests included."""
    out = set()
    for t in tags:
        out.add(oci.manifest_digest(t))
        man = oci.manifest(t)
        out.add(man["config"]["digest"].split(":")[1])
        out |= {l["digest"].split(":")[1] for l in man["layers"]}
    return out


def gc(pfs, *args):
    return json.loads(pfs.run("gc", "--json", *args).stdout)


@pytest.fixture
def three(pfs, tmp_path):
    a, b, c = make_trees(tmp_path / "src")
    oci = ocidir.Oci(tmp_path / "oci")
    pfs.build(a, f"{oci.path}:a")
    pfs.build(b, f"{oci.path}:b", "-b", "a")
    pfs.build(c, f"{oci.path}:c", "-c")
    return oci, {"a": a, "b": b, "c": c}


def test_rmtag_then_gc(pfs, three, tmp_path):
    oci, src = three
    assert gc(pfs, oci.path)["removed"] == []
    pfs.run("rmtag", f"{oci.path}:a")
    assert pfs.run("tags", oci.path).stdout == b"b\nc\n"
    garbage = oci.blobs() - reached(oci, ["b", "c"])
    assert garbage        # a's manifest, rootfs and replaced chunks
    # A dry run lists them and deletes nothing.
    before = oci.blobs()
    r = gc(pfs, "--dry-run", oci.path)
    assert r["dry_run"] and oci.blobs() == before
    assert {x["digest"].split(":")[1] for x in r["removed"]} == garbage
    assert r["bytes"] == sum(os.path.getsize(oci.blob_path(d))
                             for d in garbage)
    # The real one deletes exactly them; b and c read as before.
    r = gc(pfs, oci.path)
    assert {x["digest"].split(":")[1] for x in r["removed"]} == garbage
    assert oci.blobs() == before - garbage
    assert r["kept"] == len(oci.blobs())
    for tag in ("b", "c"):
        out = tmp_path / f"out-{tag}"
        pfs.run("extract", f"{oci.path}:{tag}", out)
        assert pfs.listing(out) == pfs.listing(src[tag])
    pfs.run("fsck", oci.path)
    assert gc(pfs, oci.path)["removed"] == []
    # Quiet by default; -v lists what it deleted.
    pfs.run("rmtag", f"{oci.path}:b", f"{oci.path}:c")
    r = pfs.run("gc", "-v", oci.path)
    assert len(r.stdout.splitlines()) == len(before - garbage)
    assert oci.blobs() == set() and oci.index()["manifests"] == []


def test_rmtag_errors(pfs, three):
    oci, _ = three
    r = pfs.run("rmtag", f"{oci.path}:nope", check=False)
    assert r.returncode == 1 and b"no tag 'nope'" in r.stderr
    assert pfs.run("tags", oci.path).stdout == b"a\nb\nc\n"


def test_gc_keeps_other_manifests(pfs, three):
    """Another tool's image (config, a layer, an image index over a second
    manifest) is followed like ours."""
    oci, _ = three
    config = oci.put_blob(b'{"architecture":"amd64","os":"linux"}')
    layer = oci.put_blob(b"a tar layer, say")
    inner = oci.put_blob(b"a second layer")
    desc = lambda d, mt, n: {"digest": "sha256:" + d, "mediaType": mt,
                             "size": n}
    m2 = json.dumps({"schemaVersion": 2, "config": desc(
        config, "application/vnd.oci.image.config.v1+json", 37),
        "layers": [desc(inner, "application/vnd.oci.image.layer.v1.tar", 14)]
    }).encode()
    m2d = oci.put_blob(m2)
    idx = json.dumps({"schemaVersion": 2, "manifests": [desc(
        m2d, "application/vnd.oci.image.manifest.v1+json", len(m2))]}).encode()
    oci.tag_manifest("tool", json.dumps({
        "schemaVersion": 2,
        "config": desc(config, "application/vnd.oci.image.config.v1+json", 37),
        "layers": [desc(layer, "application/vnd.oci.image.layer.v1.tar", 16)],
    }).encode())
    index = oci.index()
    index["manifests"].append(dict(desc(
        oci.put_blob(idx), "application/vnd.oci.image.index.v1+json", len(idx)),
        annotations={ocidir.REFNAME: "nested"}))
    oci.write_index(index)
    stray = oci.put_blob(b"nobody names this")
    r = gc(pfs, oci.path)
    assert [x["digest"] for x in r["removed"]] == ["sha256:" + stray]
    assert {config, layer, inner, m2d} <= oci.blobs()


def test_gc_deletes_nothing_it_cannot_account_for(pfs, three):
    oci, _ = three
    pfs.run("rmtag", f"{oci.path}:a")
    before = oci.blobs()
    # A tag whose manifest is missing: maybe a copy still in progress.
    oci.tag_manifest("broken", b'{"schemaVersion": 2, "layers": []}')
    os.unlink(oci.blob_path(oci.manifest_digest("broken")))
    r = pfs.run("gc", oci.path, check=False)
    assert r.returncode == 1, r
    assert b"tag 'broken'" in r.stderr and b"nothing deleted" in r.stderr
    assert b"'puzzlefs rmtag' its tag first" in r.stderr
    assert oci.blobs() == before - {oci.manifest_digest("broken")}
    # A manifest that is not JSON.
    oci.tag_manifest("broken", b"not json")
    r = pfs.run("gc", oci.path, check=False)
    assert r.returncode == 1 and b"malformed JSON" in r.stderr
    assert oci.blobs() >= before


def test_gc_shared_store(pfs, tmp_path):
    """Two directories whose blobs/sha256 link to one store: collecting
    one alone would delete the other's blobs, so it takes --shared and
    every user; then what either reaches is kept."""
    a, b, c = make_trees(tmp_path / "src")
    store = tmp_path / "store"
    store.mkdir()
    dirs = []
    for name, tree_ in (("one", a), ("two", c)):
        d = tmp_path / name
        os.makedirs(d / "blobs")
        os.symlink(store, d / "blobs" / "sha256")
        pfs.build(tree_, f"{d}:t")
        dirs.append(ocidir.Oci(d))
    pfs.build(b, f"{dirs[0].path}:old")
    pfs.run("rmtag", f"{dirs[0].path}:old")
    r = pfs.run("gc", dirs[0].path, check=False)
    assert r.returncode == 1 and b"--shared" in r.stderr
    garbage = dirs[0].blobs() - reached(dirs[0], ["t"]) - reached(dirs[1], ["t"])
    assert garbage
    r = gc(pfs, "--shared", dirs[0].path, dirs[1].path)
    assert {x["digest"].split(":")[1] for x in r["removed"]} == garbage
    for o in dirs:
        pfs.run("fsck", o.path)
    # Directories with different stores are not collected together.
    pfs.build(c, f"{tmp_path / 'own'}:t")
    r = pfs.run("gc", "--shared", dirs[0].path, tmp_path / "own", check=False)
    assert r.returncode == 1 and b"do not share a blob store" in r.stderr
