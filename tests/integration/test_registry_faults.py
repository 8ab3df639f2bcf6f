"""Issue 16 acceptance 4: faults between us and the registry, made by a
proxy the tests run (registry.FaultProxy) in front of docker-registry:
the registry killed in the middle of a push and of a pull (clear error,
exit 1; a rerun completes; the registry never has a tag naming a missing
blob; nothing partial in OCI_DIR and what was complete is kept), a blob
with one byte flipped (refused, nothing stored under its name), dropped
connections and 503s (retried), a manifest the registry finds too large
(the message says which limit and how many chunks)."""
import hashlib
import os
import random
import threading

import pytest

import ocidir
from registry import Client, FaultProxy, Registry, certs  # noqa: F401

pytestmark = pytest.mark.core

RETRY = ("--retry-times", "2")


@pytest.fixture(scope="module")
def image(pfs, tmp_path_factory):
    """About 60 chunk blobs of 20-60 KB: enough to be killed in the middle of."""
    root = tmp_path_factory.mktemp("fault-tree")
    rnd = random.Random(16)
    for i in range(60):
        (root / f"f{i:02d}").write_bytes(rnd.randbytes(20000 + 700 * i))
    oci = tmp_path_factory.mktemp("fault-oci") / "oci"
    pfs.build(root, f"{oci}:t")
    return ocidir.Oci(oci)


@pytest.fixture
def setup(tmp_path, certs, pfs):
    """A registry of its own (a test may kill it) behind a proxy."""
    reg = Registry(tmp_path / "registry", certs=certs).start()
    proxy = FaultProxy(reg, certs)
    yield reg, proxy, Client(pfs, certs)
    proxy.close()
    reg.stop()


def blobs_of(oci, tag):
    m = oci.manifest(tag)
    return [m["config"]["digest"][7:]] + [l["digest"][7:] for l in m["layers"]]


def nth(method, part, n, action):
    """A hook that answers @action to the @n-th request matching, only."""
    seen = [0]
    lock = threading.Lock()

    def hook(m, path):
        if m != method or part not in path:
            return None
        with lock:
            seen[0] += 1
            return action if seen[0] == n else None
    return hook


def check_store(path):
    """Every blob file is whole (named by its sha256), no temporary file;
    the names."""
    d = os.path.join(path, "blobs", "sha256")
    names = os.listdir(d)
    for name in names:
        assert not name.startswith("."), name
        with open(os.path.join(d, name), "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == name, name
    return set(names)


def no_tag(path, tag):
    if not os.path.exists(os.path.join(path, "index.json")):
        return True
    return all(m.get("annotations", {}).get(ocidir.REFNAME) != tag
               for m in ocidir.Oci(path).index()["manifests"])


def test_registry_killed_mid_push(setup, image):
    reg, proxy, client = setup
    proxy.hook = nth("PUT", "/blobs/uploads/", 20, "kill")
    r = client.push(f"{image.path}:t", proxy.ref("killed", "t"), *RETRY,
                    check=False)
    assert r.returncode == 1, r.stderr
    err = r.stderr.decode()
    assert err.startswith("puzzlefs: push: ") and proxy.host in err, err
    proxy.hook = None
    reg.start(reg.port)
    # No tag, and so none that names a missing blob.
    assert reg.tags("killed") == []
    done = sum(reg.has_blob("killed", d) for d in set(blobs_of(image, "t")))
    assert 0 < done < len(set(blobs_of(image, "t")))
    r = client.push(f"{image.path}:t", proxy.ref("killed", "t"))
    assert r["present"] == done and r["uploaded"] == r["blobs"] - done
    assert reg.tags("killed") == ["t"]
    assert all(reg.has_blob("killed", d) for d in blobs_of(image, "t"))


def test_registry_killed_mid_pull(setup, image, tmp_path):
    reg, proxy, client = setup
    client.push(f"{image.path}:t", reg.ref("pullkill", "t"))
    proxy.hook = nth("GET", "/blobs/", 25, "kill")
    dst = str(tmp_path / "pulled")
    r = client.pull(proxy.ref("pullkill", "t"), f"{dst}:t", *RETRY,
                    check=False)
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith(b"puzzlefs: pull: "), r.stderr
    assert no_tag(dst, "t")
    kept = check_store(dst)          # only whole, verified blobs
    assert 0 < len(kept) < len(set(blobs_of(image, "t")))
    proxy.hook = None
    reg.start(reg.port)
    r = client.pull(proxy.ref("pullkill", "t"), f"{dst}:t")
    assert r["present"] == len(kept) and r["fetched"] == r["blobs"] - len(kept)
    assert ocidir.Oci(dst).manifest_digest("t") == image.manifest_digest("t")
    check_store(dst)


def test_flipped_byte(setup, image, tmp_path):
    reg, proxy, client = setup
    client.push(f"{image.path}:t", reg.ref("flip", "t"))
    victim = blobs_of(image, "t")[7]
    proxy.flip = {victim}
    dst = str(tmp_path / "pulled")
    r = client.pull(proxy.ref("flip", "t"), f"{dst}:t", check=False)
    assert r.returncode == 1
    assert f"sha256:{victim}".encode() in r.stderr and \
        b"does not match" in r.stderr, r.stderr
    assert victim not in check_store(dst)
    assert no_tag(dst, "t")


def test_transient_failures_are_retried(setup, image, tmp_path, pfs):
    reg, proxy, client = setup
    lock = threading.Lock()
    n = [0]

    def hook(method, path):
        with lock:
            n[0] += 1
            if "/blobs/" in path and n[0] % 7 == 0:
                return "drop" if n[0] % 2 else "503"
        return None
    proxy.hook = hook
    r = client.push(f"{image.path}:t", proxy.ref("flaky", "t"))
    assert r["retries"] > 0 and r["uploaded"] + r["present"] == r["blobs"]
    r = client.pull(proxy.ref("flaky", "t"), f"{tmp_path / 'p'}:t")
    assert r["retries"] > 0 and r["fetched"] == r["blobs"]
    pfs.run("fsck", tmp_path / "p")


def test_413(setup, image):
    reg, proxy, client = setup
    proxy.max_manifest = 100
    r = client.push(f"{image.path}:t", proxy.ref("limit", "t"), check=False)
    assert r.returncode == 1
    err = r.stderr.decode()
    chunks = len(image.manifest("t")["layers"]) - 1
    assert "413" in err and "manifest size limit" in err and \
        f"{chunks} of them chunks" in err, err
    assert reg.tags("limit") == []


def test_blob_link_left_empty(setup, image):
    """What a registry killed while it linked a blob leaves: the link file
    empty (docker-registry writes them in place), which it then answers
    with 500.  The blob goes up again, which repairs the link."""
    reg, proxy, client = setup
    client.push(f"{image.path}:t", reg.ref("emptylink", "t"))
    victim = blobs_of(image, "t")[3]
    link = os.path.join(reg.storage, "docker", "registry", "v2", "repositories",
                        "emptylink", "_layers", "sha256", victim, "link")
    open(link, "w").close()
    st, _, _ = reg.request("HEAD", f"/v2/emptylink/blobs/sha256:{victim}")
    assert st == 500
    r = client.push(f"{image.path}:t", reg.ref("emptylink", "u"), *RETRY)
    assert r["uploaded"] == 1 and r["present"] == r["blobs"] - 1
    assert reg.has_blob("emptylink", victim)
