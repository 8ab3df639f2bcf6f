"""Issue 16 acceptance 3: anonymous (test_registry.py), Basic (htpasswd)
and token authentication against docker-registry; wrong credentials fail
with a clear message; credentials come from --creds or the auth files
skopeo and podman write; no password or token ever appears in what we
print; TLS verification is on by default (an untrusted certificate fails,
--cert-dir with the CA works, --tls-verify=false too, and plain HTTP with
it); a blob redirected to storage on another origin is fetched without
our credentials."""
import json
import os

import pytest

import ocidir
from registry import (Client, FaultProxy, Registry, TokenServer,  # noqa: F401
                      anon_registry, certs)

USER, PASSWORD = "alice", "pw-Secret-4711"
READER, READER_PW = "reader", "rd-Secret-0815"
BAD = "not-the-password-99"


@pytest.fixture(scope="module")
def client(pfs, certs):
    return Client(pfs, certs)


@pytest.fixture(scope="module")
def image(pfs, tmp_path_factory):
    """A small image: a few files, a few chunks."""
    root = tmp_path_factory.mktemp("auth-tree")
    for i in range(5):
        (root / f"f{i}").write_bytes(os.urandom(50000 + i))
    oci = tmp_path_factory.mktemp("auth-oci") / "oci"
    pfs.build(root, f"{oci}:t")
    return f"{oci}:t"


@pytest.fixture(scope="module")
def basic(tmp_path_factory, certs):
    r = Registry(tmp_path_factory.mktemp("basic"), certs=certs,
                 auth="htpasswd", users={USER: PASSWORD}).start()
    yield r
    r.stop()


@pytest.fixture(scope="module")
def token(tmp_path_factory, certs):
    def grants(user, kind, name, actions):
        if user == USER:
            return actions
        if user == READER:
            return [a for a in actions if a == "pull"]
        return []
    ts = TokenServer(tmp_path_factory.mktemp("token"), certs,
                     {USER: PASSWORD, READER: READER_PW}, grants)
    r = Registry(tmp_path_factory.mktemp("tokreg"), certs=certs, auth="token",
                 token=ts).start()
    yield r
    r.stop()
    ts.close()


def no_secrets(r):
    for out in (r.stdout, r.stderr):
        for secret in (PASSWORD, READER_PW, BAD):
            assert secret.encode() not in out


def run(client, cmd, *args):
    r = getattr(client, cmd)(*args, check=False)
    no_secrets(r)
    return r


def roundtrip(client, reg, image, repo, tmp_path, *opts):
    r = run(client, "push", image, reg.ref(repo, "t"), *opts)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["uploaded"] > 0
    out = tmp_path / "pulled"
    r = run(client, "pull", reg.ref(repo, "t"), f"{out}:t", *opts)
    assert r.returncode == 0, r.stderr
    assert ocidir.Oci(out).manifest_digest("t") == \
        ocidir.Oci(image.rsplit(":", 1)[0]).manifest_digest("t")


# ---- Basic --------------------------------------------------------------------

def test_basic(client, basic, image, tmp_path):
    roundtrip(client, basic, image, "basic/ok", tmp_path,
              "--creds", f"{USER}:{PASSWORD}")


def test_basic_refused(client, basic, image):
    r = run(client, "push", image, basic.ref("basic/no", "t"),
            "--creds", f"{USER}:{BAD}")
    assert r.returncode == 1 and b"401" in r.stderr and \
        b"authentication failed" in r.stderr, r.stderr
    r = run(client, "push", image, basic.ref("basic/no", "t"),
            "--authfile", "/dev/null/none")
    assert r.returncode == 1 and b"auth file" in r.stderr
    empty = {"HOME": "/nonexistent", "PATH": os.environ["PATH"]}
    r = client.push(image, basic.ref("basic/no", "t"), check=False, env=empty)
    assert r.returncode == 1 and b"authentication required" in r.stderr, r.stderr


def test_auth_files(client, basic, certs, image, tmp_path):
    """The file skopeo login writes, through --authfile, $REGISTRY_AUTH_FILE,
    $XDG_RUNTIME_DIR/containers/auth.json and ~/.docker/config.json."""
    import subprocess
    authfile = tmp_path / "auth.json"
    subprocess.run(["skopeo", "login", "--authfile", authfile, "--cert-dir",
                    certs.cert_dir, "-u", USER, "-p", PASSWORD, basic.host],
                   check=True, capture_output=True)
    assert basic.host in json.loads(authfile.read_text())["auths"]
    base = {"PATH": os.environ["PATH"], "HOME": "/nonexistent"}
    r = run(client, "push", image, basic.ref("files/a", "t"), "--authfile",
            authfile)
    assert r.returncode == 0, r.stderr
    xdg, home = tmp_path / "run", tmp_path / "home"
    (xdg / "containers").mkdir(parents=True)
    os.link(authfile, xdg / "containers" / "auth.json")
    (home / ".docker").mkdir(parents=True)
    os.link(authfile, home / ".docker" / "config.json")
    for repo, env in (("files/b", {"REGISTRY_AUTH_FILE": str(authfile)}),
                      ("files/c", {"XDG_RUNTIME_DIR": str(xdg)}),
                      ("files/d", {"HOME": str(home)})):
        r = client.push(image, basic.ref(repo, "t"), check=False,
                        env=dict(base, **env))
        assert r.returncode == 0, (env, r.stderr)
    # A repository-specific entry wins over the host's.
    entries = {"auths": {basic.host: {"auth": "YmFkOmJhZA=="},
                         f"{basic.host}/files": json.loads(
                             authfile.read_text())["auths"][basic.host]}}
    scoped = tmp_path / "scoped.json"
    scoped.write_text(json.dumps(entries))
    r = run(client, "push", image, basic.ref("files/e", "t"), "--authfile",
            scoped)
    assert r.returncode == 0, r.stderr
    r = run(client, "push", image, basic.ref("other/e", "t"), "--authfile",
            scoped)
    assert r.returncode == 1 and b"authentication failed" in r.stderr


# ---- tokens ----------------------------------------------------------------------

def test_token(client, token, image, tmp_path):
    before = token.token.issued
    roundtrip(client, token, image, "tok/ok", tmp_path,
              "--creds", f"{USER}:{PASSWORD}")
    # A token a session, not one per request.
    assert token.token.issued - before <= 4


def test_token_refused(client, token, image, tmp_path):
    r = run(client, "push", image, token.ref("tok/no", "t"),
            "--creds", f"{USER}:{BAD}")
    assert r.returncode == 1 and b"token server" in r.stderr and \
        b"refused the credentials" in r.stderr, r.stderr
    empty = {"HOME": "/nonexistent", "PATH": os.environ["PATH"]}
    r = client.push(image, token.ref("tok/no", "t"), check=False, env=empty)
    assert r.returncode == 1 and b"401" in r.stderr, r.stderr


def test_token_scopes(client, token, image, tmp_path):
    """A user who may only pull: pull works, push is refused."""
    r = run(client, "push", image, token.ref("tok/ro", "t"),
            "--creds", f"{USER}:{PASSWORD}")
    assert r.returncode == 0, r.stderr
    r = run(client, "pull", token.ref("tok/ro", "t"), f"{tmp_path / 'p'}:t",
            "--creds", f"{READER}:{READER_PW}")
    assert r.returncode == 0, r.stderr
    r = run(client, "push", image, token.ref("tok/ro", "u"),
            "--creds", f"{READER}:{READER_PW}")
    assert r.returncode == 1 and b"401" in r.stderr, r.stderr
    assert token.tags("tok/ro") == ["t"]


def test_token_refreshed(client, token, image, tmp_path):
    """A token the registry no longer takes (expired) is replaced once,
    and the requests go on."""
    token.token.first_expired = True
    token.token.issued = 0
    try:
        r = run(client, "push", image, token.ref("tok/refresh", "t"),
                "--creds", f"{USER}:{PASSWORD}")
    finally:
        token.token.first_expired = False
    assert r.returncode == 0, r.stderr
    assert token.token.issued == 2


# ---- TLS ---------------------------------------------------------------------------

def test_tls_verify(pfs, anon_registry, certs, image, tmp_path):
    r = pfs.run("push", image, anon_registry.ref("tls", "t"), check=False)
    assert r.returncode == 1 and b"certificate" in r.stderr and \
        b"--cert-dir" in r.stderr, r.stderr
    r = pfs.run("push", "--tls-verify=true", image,
                anon_registry.ref("tls", "t"), check=False)
    assert r.returncode == 1
    r = pfs.run("push", "--tls-verify=false", image,
                anon_registry.ref("tls", "t"), check=False)
    assert r.returncode == 0, r.stderr
    r = pfs.run("pull", "--cert-dir", certs.cert_dir,
                anon_registry.ref("tls", "t"), f"{tmp_path / 'p'}:t",
                check=False)
    assert r.returncode == 0, r.stderr
    r = pfs.run("pull", "--cert-dir", tmp_path / "nonexistent",
                anon_registry.ref("tls", "t"), f"{tmp_path / 'q'}:t",
                check=False)
    assert r.returncode == 1 and b"certificate directory" in r.stderr


def test_plain_http(pfs, tmp_path, image):
    r = Registry(tmp_path / "plain").start()
    try:
        ok = pfs.run("push", "--tls-verify=false", image, r.ref("plain", "t"),
                     check=False)
        assert ok.returncode == 0, ok.stderr
        bad = pfs.run("pull", r.ref("plain", "t"), f"{tmp_path / 'p'}:t",
                      check=False)
        assert bad.returncode == 1
        ok = pfs.run("pull", "--tls-verify=false", r.ref("plain", "t"),
                     f"{tmp_path / 'p'}:t", check=False)
        assert ok.returncode == 0, ok.stderr
    finally:
        r.stop()


def test_redirect_keeps_credentials_home(client, basic, certs, image, tmp_path):
    """Blob GETs redirected to storage on another origin (as registries on
    S3 do): followed, and the Authorization stays with the registry."""
    r = run(client, "push", image, basic.ref("redir/img", "t"),
            "--creds", f"{USER}:{PASSWORD}")
    assert r.returncode == 0, r.stderr
    proxy = FaultProxy(basic, certs)
    proxy.redirect = True
    try:
        r = run(client, "pull", proxy.ref("redir/img", "t"),
                f"{tmp_path / 'p'}:t", "--creds", f"{USER}:{PASSWORD}")
        assert r.returncode == 0, r.stderr
        blobs = json.loads(r.stdout)["fetched"]
        assert len(proxy.storage_headers) == blobs > 0
        for h in proxy.storage_headers:
            assert "Authorization" not in h and "authorization" not in h
        assert proxy.count("GET", "/blobs/") == blobs
    finally:
        proxy.close()
