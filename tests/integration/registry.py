"""A real registry for the tests: Debian's docker-registry (distribution
2.8) on 127.0.0.1, on a port the kernel picks, with a generated config
(storage in a temp dir, delete enabled; TLS with a generated CA; htpasswd
or token auth), and the pieces around it the tests need:

  Certs        a CA and a server certificate for 127.0.0.1 (openssl), and
               a --cert-dir holding the CA
  Registry     start / stop / kill / restart on the same storage; its
               access log (requests and counts by method and path)
  TokenServer  the token endpoint of token auth: issues RS256 JWTs the
               registry accepts (kid = the libtrust key id of the signing
               key, whose certificate is the registry's rootcertbundle)
  FaultProxy   an HTTP proxy in front of it that counts requests and, when
               asked, drops a connection, stalls, kills the registry at a
               given request, flips one byte of a blob, answers 413 to a
               manifest over a size, answers 503, or redirects blob GETs to
               a "storage" origin of its own (and records the headers that
               reach it)

Reusable by every test that needs a registry (push/pull, lazy mounts,
import): module-scoped fixtures start one, tests share it.
"""
import base64
import hashlib
import http.client
import http.server
import json
import os
import re
import secrets
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
import time
import urllib.parse

import pytest

START_TIMEOUT = 30
SERVICE = "puzzlefs-test"
ISSUER = "puzzlefs-test-issuer"


def _run(*cmd, **kw):
    return subprocess.run([os.fspath(c) for c in cmd], check=True,
                          capture_output=True, **kw)


class Certs:
    """A CA, a certificate for 127.0.0.1/localhost signed by it, and
    cert_dir: a directory with the CA as ca.crt (what --cert-dir takes)."""

    def __init__(self, d):
        os.makedirs(d, exist_ok=True)
        self.dir = os.fspath(d)
        j = lambda n: os.path.join(self.dir, n)  # noqa: E731
        self.ca, self.ca_key = j("ca.crt"), j("ca.key")
        self.cert, self.key = j("server.crt"), j("server.key")
        _run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
             "-keyout", self.ca_key, "-out", self.ca, "-days", "2",
             "-subj", "/CN=puzzlefs test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        csr = j("server.csr")
        _run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
             self.key, "-out", csr, "-subj", "/CN=127.0.0.1")
        ext = j("server.ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "basicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage=serverAuth\n")
        _run("openssl", "x509", "-req", "-in", csr, "-CA", self.ca,
             "-CAkey", self.ca_key, "-CAcreateserial", "-out", self.cert,
             "-days", "2", "-extfile", ext)
        self.cert_dir = j("certs.d")
        os.makedirs(self.cert_dir, exist_ok=True)
        with open(self.ca, "rb") as src, \
                open(os.path.join(self.cert_dir, "ca.crt"), "wb") as dst:
            dst.write(src.read())

    def server_context(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self):
        return ssl.create_default_context(cafile=self.ca)


def htpasswd(users):
    """htpasswd lines (bcrypt, which distribution requires)."""
    lines = []
    for user, password in users.items():
        lines.append(_run("htpasswd", "-Bbn", user, password,
                          text=True).stdout.strip())
    return "\n".join(lines) + "\n"


def listening_port(pid):
    """The TCP port process @pid listens on (its first), or None: its
    sockets' inodes looked up in /proc/net/tcp, so that a server bound to
    port 0 needs no log line to say where it is."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                t = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if t.startswith("socket:["):
                inodes.add(t[8:-1])
        with open(f"/proc/{pid}/net/tcp") as f:
            next(f)
            for line in f:
                x = line.split()
                if x[3] == "0A" and x[9] in inodes:
                    return int(x[1].split(":")[1], 16)
    except OSError:
        pass
    return None


_LOG_LINE = re.compile(r'"(\w+) (\S+) HTTP/[\d.]+" (\d{3})')


class Registry:
    """docker-registry on 127.0.0.1.  auth: None, "htpasswd" (users) or
    "token" (a TokenServer).  certs: a Certs for TLS, or None for plain
    HTTP."""

    def __init__(self, workdir, certs=None, auth=None, users=None,
                 token=None):
        self.dir = os.fspath(workdir)
        os.makedirs(self.dir, exist_ok=True)
        self.storage = os.path.join(self.dir, "storage")
        self.certs, self.auth, self.token = certs, auth, token
        self.users = users or {}
        self.proc = None
        self.port = 0
        self.access_log = os.path.join(self.dir, "access.log")
        self.error_log = os.path.join(self.dir, "registry.log")
        self._write_config()

    def _write_config(self):
        # Requests are counted from the access log; a line per request at
        # level info as well would only cost the registry CPU.
        cfg = ["version: 0.1",
               "log:", "  level: warn", "  formatter: text",
               "  accesslog:", "    disabled: false",
               "storage:", "  filesystem:",
               f"    rootdirectory: {self.storage}",
               "  delete:", "    enabled: true",
               "  maintenance:", "    uploadpurging:", "      enabled: false",
               "http:", "  addr: 127.0.0.1:{port}",
               f"  secret: {secrets.token_hex(16)}"]
        if self.certs:
            cfg += ["  tls:", f"    certificate: {self.certs.cert}",
                    f"    key: {self.certs.key}"]
        if self.auth == "htpasswd":
            path = os.path.join(self.dir, "htpasswd")
            with open(path, "w") as f:
                f.write(htpasswd(self.users))
            cfg += ["auth:", "  htpasswd:", "    realm: puzzlefs-test",
                    f"    path: {path}"]
        elif self.auth == "token":
            cfg += ["auth:", "  token:", f"    realm: {self.token.realm}",
                    f"    service: {SERVICE}", f"    issuer: {ISSUER}",
                    f"    rootcertbundle: {self.token.cert}"]
        self.config_template = "\n".join(cfg) + "\n"

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def ref(self, repo, tag=None):
        return f"docker://{self.host}/{repo}" + (f":{tag}" if tag else "")

    @property
    def scheme(self):
        return "https" if self.certs else "http"

    def start(self, port=0):
        """Start on @port (0: any free one); waits until it listens."""
        config = os.path.join(self.dir, "config.yml")
        with open(config, "w") as f:
            f.write(self.config_template.replace("{port}", str(port)))
        err = open(self.error_log, "ab")
        out = open(self.access_log, "ab")
        self.proc = subprocess.Popen(["docker-registry", "serve", config],
                                     stdout=out, stderr=err,
                                     stdin=subprocess.DEVNULL)
        err.close()
        out.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = listening_port(self.proc.pid)
            if found:
                self.port = found
                return self
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop()
        with open(self.error_log, errors="replace") as f:
            raise RuntimeError("docker-registry did not start:\n" + f.read()[-3000:])

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self):
        """SIGKILL: no chance to finish what it was doing."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def restart(self):
        """Again on the same storage and, if it is still free, port."""
        self.stop()
        return self.start(self.port)

    # ---- what it saw ----

    def requests(self):
        """[(method, path, status)] of every request so far (the access log,
        in order)."""
        with open(self.access_log, errors="replace") as f:
            return [(m.group(1), m.group(2), int(m.group(3)))
                    for m in map(_LOG_LINE.search, f) if m]

    def mark(self):
        """A position in the access log: count(since=mark) counts after it."""
        return len(self.requests())

    def count(self, method=None, pattern="", since=0):
        rx = re.compile(pattern)
        return sum(1 for m, p, _ in self.requests()[since:]
                   if (method is None or m == method) and rx.search(p))

    # ---- direct access, independent of the code under test ----

    def request(self, method, path, body=None, headers=None, auth=None):
        """(status, headers, body) of one request; auth: (user, password)
        for Basic, or a bearer token string."""
        h = dict(headers or {})
        if isinstance(auth, tuple):
            h["Authorization"] = "Basic " + base64.b64encode(
                f"{auth[0]}:{auth[1]}".encode()).decode()
        elif auth:
            h["Authorization"] = "Bearer " + auth
        if self.certs:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, context=self.certs.client_context(),
                timeout=30)
        else:
            conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                              timeout=30)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            conn.close()

    def admin_auth(self, repo="", push=True):
        """Credentials for request(): the first user, or a token for it."""
        if self.auth == "htpasswd":
            return next(iter(self.users.items()))
        if self.auth == "token":
            user = next(iter(self.token.users))
            return self.token.issue(user, [("repository", repo,
                                            ["pull", "push", "delete"])])
        return None

    def tags(self, repo):
        """The repository's tags ([] if it has none or does not exist)."""
        st, _, body = self.request("GET", f"/v2/{repo}/tags/list",
                                   auth=self.admin_auth(repo, False))
        if st == 404:
            return []
        assert st == 200, (st, body)
        return json.loads(body).get("tags") or []

    def manifest(self, repo, ref):
        st, h, body = self.request(
            "GET", f"/v2/{repo}/manifests/{ref}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
            auth=self.admin_auth(repo, False))
        return st, body

    def has_blob(self, repo, digest):
        st, _, _ = self.request("HEAD", f"/v2/{repo}/blobs/sha256:{digest}",
                                auth=self.admin_auth(repo, False))
        return st == 200

    def put_blob(self, repo, data):
        """Upload a blob directly (monolithic); its digest."""
        digest = hashlib.sha256(data).hexdigest()
        auth = self.admin_auth(repo)
        st, h, _ = self.request("POST", f"/v2/{repo}/blobs/uploads/",
                                auth=auth)
        assert st == 202, st
        loc = urllib.parse.urlsplit(h["Location"])
        path = loc.path + "?" + (loc.query + "&" if loc.query else "") + \
            f"digest=sha256:{digest}"
        st, _, body = self.request("PUT", path, body=data, auth=auth,
                                   headers={"Content-Type":
                                            "application/octet-stream"})
        assert st == 201, (st, body)
        return digest

    def put_manifest(self, repo, ref, data, media_type):
        st, _, body = self.request("PUT", f"/v2/{repo}/manifests/{ref}",
                                   body=data, auth=self.admin_auth(repo),
                                   headers={"Content-Type": media_type})
        return st, body


# ---- token auth -------------------------------------------------------------

def libtrust_kid(public_key):
    """The key id distribution looks a token's signing key up by: base32
    of the first 240 bits of the sha256 of the key's DER, in groups of 4."""
    from cryptography.hazmat.primitives import serialization
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    s = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
    return ":".join(s[i:i + 4] for i in range(0, len(s), 4))


class _Quiet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class TokenServer:
    """The token endpoint (distribution's spec/auth/token.md) over TLS.
    users: {user: password}; grants(user, type, name, actions) -> the
    actions granted (default: everything to a known user, nothing to
    anyone else).  first_expired: the first token it issues is already
    expired (the registry refuses it), as a token that ran out would be."""

    def __init__(self, workdir, certs, users, grants=None, lifetime=300):
        import jwt  # noqa: F401  (python3-jwt)
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        import datetime
        self.users = dict(users)
        self.grants = grants or (lambda user, t, n, acts: acts if user else [])
        self.lifetime = lifetime
        self.first_expired = False
        self.issued = 0
        self.requests = []              # (user or None, [scopes])
        self.saw_basic = []             # Authorization headers: scheme only
        self.lock = threading.Lock()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = libtrust_kid(self.key.public_key())
        name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME,
                                             "puzzlefs token signer")])
        now = datetime.datetime.utcnow()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(self.key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(days=1))
                .not_valid_after(now + datetime.timedelta(days=2))
                .sign(self.key, hashes.SHA256()))
        os.makedirs(workdir, exist_ok=True)
        self.cert = os.path.join(os.fspath(workdir), "token-signer.crt")
        with open(self.cert, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        self.pem = self.key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption())
        srv = self

        class Handler(_Quiet):
            def do_GET(self):
                srv._handle(self)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.httpd.socket = certs.server_context().wrap_socket(
            self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.realm = f"https://127.0.0.1:{self.port}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def issue(self, user, access, expired=False):
        import jwt
        now = int(time.time())
        exp = now - 3600 if expired else now + self.lifetime
        claims = {"iss": ISSUER, "sub": user or "", "aud": SERVICE,
                  "exp": exp, "nbf": now - 30 if not expired else now - 7200,
                  "iat": now if not expired else now - 7200,
                  "jti": secrets.token_hex(8),
                  "access": [{"type": t, "name": n, "actions": a}
                             for t, n, a in access]}
        return jwt.encode(claims, self.pem, algorithm="RS256",
                          headers={"kid": self.kid})

    def _user(self, handler):
        h = handler.headers.get("Authorization", "")
        with self.lock:
            self.saw_basic.append(h.split(" ")[0] if h else "")
        if not h.startswith("Basic "):
            return None, True
        try:
            user, _, password = base64.b64decode(h[6:]).decode().partition(":")
        except Exception:
            return None, False
        ok = self.users.get(user) == password
        return (user if ok else None), ok

    def _handle(self, handler):
        q = urllib.parse.urlsplit(handler.path)
        params = urllib.parse.parse_qs(q.query)
        user, ok = self._user(handler)
        scopes = params.get("scope", [])
        with self.lock:
            self.requests.append((user, scopes))
        if q.path != "/token" or not ok:
            body = b'{"details":"bad credentials"}'
            handler.send_response(401)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
            return
        access = []
        for s in scopes:
            t, _, rest = s.partition(":")
            name, _, acts = rest.rpartition(":")
            granted = self.grants(user, t, name, acts.split(","))
            if granted:
                access.append((t, name, granted))
        with self.lock:
            expired = self.first_expired and self.issued == 0
            self.issued += 1
        token = self.issue(user, access, expired=expired)
        body = json.dumps({"token": token, "access_token": token,
                           "expires_in": self.lifetime,
                           "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                      time.gmtime())}).encode()
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---- the fault proxy -----------------------------------------------------------

_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding",
        "te", "trailer", "upgrade"}
_BLOB_GET = re.compile(r"^/v2/.+/blobs/sha256:([0-9a-f]{64})$")


class FaultProxy:
    """HTTP(S) reverse proxy in front of a Registry.  Set, at any time:
      flip       hex digests: the body of a GET of that blob has one byte
                 flipped (the middle one)
      hook       f(method, path) -> None (forward), "drop" (close without
                 an answer), "stall" (hold the request until release()),
                 "503" (answer 503 at once), "kill" (kill the registry,
                 then drop), "cut" (forward, but close the connection
                 after half of the answer's body)
      max_manifest  answer 413 to a manifest PUT over this many bytes
      redirect   True: answer blob GETs with a 307 to this proxy's
                 storage origin (another port), which serves the blob and
                 records the request headers it got in storage_headers
    seen: [(method, path)] of every request that reached the proxy."""

    def __init__(self, registry, certs=None):
        self.reg = registry
        self.certs = certs
        self.flip = set()
        self.hook = None
        self.max_manifest = None
        self.redirect = False
        self.storage_headers = []
        self.seen = []
        self.lock = threading.Lock()
        self.released = threading.Event()
        proxy = self

        class Handler(_Quiet):
            def _any(self):
                proxy._handle(self)
            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any

        class Storage(_Quiet):
            def do_GET(self):
                proxy._storage(self)

        self.httpd = self._serve(Handler)
        self.port = self.httpd.server_address[1]
        self.storage = self._serve(Storage)
        self.storage_port = self.storage.server_address[1]

    def _serve(self, handler):
        httpd = _Server(("127.0.0.1", 0), handler)
        if self.certs:
            httpd.socket = self.certs.server_context().wrap_socket(
                httpd.socket, server_side=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        return httpd

    @property
    def host(self):
        return f"127.0.0.1:{self.port}"

    def ref(self, repo, tag=None):
        return f"docker://{self.host}/{repo}" + (f":{tag}" if tag else "")

    def release(self):
        self.released.set()

    def count(self, method=None, pattern=""):
        rx = re.compile(pattern)
        with self.lock:
            return sum(1 for m, p in self.seen
                       if (method is None or m == method) and rx.search(p))

    def close(self):
        self.released.set()
        for s in (self.httpd, self.storage):
            s.shutdown()
            s.server_close()

    # ---- plumbing ----

    def _upstream(self):
        if self.reg.certs:
            return http.client.HTTPSConnection(
                "127.0.0.1", self.reg.port, timeout=60,
                context=self.reg.certs.client_context())
        return http.client.HTTPConnection("127.0.0.1", self.reg.port,
                                          timeout=60)

    @staticmethod
    def _drop(handler):
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    @staticmethod
    def _answer(handler, status, body=b"", headers=()):
        handler.send_response(status)
        for k, v in headers:
            handler.send_header(k, v)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(body)

    def _forward(self, handler, method, path, body, headers):
        """(status, headers, body) from the registry, or None if it is
        unreachable."""
        conn = self._upstream()
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read() if method != "HEAD" else b""
            return r.status, r.getheaders(), data
        except OSError:
            return None
        finally:
            conn.close()

    def _handle(self, h):
        method, path = h.command, h.path
        n = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(n) if n else None
        with self.lock:
            self.seen.append((method, path))
        action = self.hook(method, path) if self.hook else None
        if action == "kill":
            self.reg.kill()
            action = "drop"
        if action == "stall":
            self.released.wait()
            action = "drop"
        if action == "drop":
            self._drop(h)
            return
        if action == "503":
            self._answer(h, 503, b'{"errors":[{"code":"UNAVAILABLE",'
                         b'"message":"try again"}]}',
                         [("Content-Type", "application/json")])
            return
        if (self.max_manifest is not None and method == "PUT" and
                "/manifests/" in path and len(body or b"") > self.max_manifest):
            self._answer(h, 413, b"manifest too large")
            return
        m = _BLOB_GET.match(urllib.parse.urlsplit(path).path)
        if self.redirect and method == "GET" and m:
            scheme = "https" if self.certs else "http"
            loc = (f"{scheme}://127.0.0.1:{self.storage_port}/storage"
                   f"{path}?X-Signature={secrets.token_hex(8)}")
            self._answer(h, 307, headers=[("Location", loc)])
            return
        headers = {k: v for k, v in h.headers.items()
                   if k.lower() not in _HOP and k.lower() != "content-length"}
        r = self._forward(h, method, path, body, headers)
        if r is None:
            self._drop(h)
            return
        status, rheaders, data = r
        if action == "cut":
            self._reply(h, status, rheaders, data, cut=len(data) // 2)
            self._drop(h)
            return
        if method == "GET" and m and m.group(1) in self.flip and data:
            data = bytearray(data)
            data[len(data) // 2] ^= 0x01
            data = bytes(data)
        self._reply(h, status, rheaders, data)

    def _reply(self, h, status, rheaders, data, cut=None):
        h.send_response(status)
        for k, v in rheaders:
            if k.lower() not in _HOP and k.lower() != "content-length":
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)) if h.command != "HEAD"
                      else dict((k.lower(), v) for k, v in rheaders)
                      .get("content-length", "0"))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data if cut is None else data[:cut])
            h.wfile.flush()

    def _storage(self, h):
        """Blob storage on another origin: serves what the registry holds
        (fetched with the registry's own credentials), and records whether
        the client sent it any Authorization."""
        with self.lock:
            self.storage_headers.append(dict(h.headers.items()))
        path = urllib.parse.urlsplit(h.path).path[len("/storage"):]
        headers = {}
        m = re.match(r"^/v2/(.+)/blobs/", path)
        auth = self.reg.admin_auth(m.group(1) if m else "", push=False)
        if isinstance(auth, tuple):
            headers["Authorization"] = "Basic " + base64.b64encode(
                f"{auth[0]}:{auth[1]}".encode()).decode()
        elif auth:
            headers["Authorization"] = "Bearer " + auth
        if "Range" in h.headers:
            headers["Range"] = h.headers["Range"]
        r = self._forward(h, "GET", path, None, headers)
        if r is None:
            self._drop(h)
            return
        self._reply(h, *r)


# ---- fixtures (import them into a test module to use them) -------------------

@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    """A CA and a certificate for 127.0.0.1, for a module's servers."""
    return Certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def anon_registry(tmp_path_factory, certs):
    """An anonymous TLS registry for the module."""
    r = Registry(tmp_path_factory.mktemp("registry"), certs=certs).start()
    yield r
    r.stop()


class Client:
    """The puzzlefs CLI against a registry: push/pull with the registry's
    CA (--cert-dir) and --json; returns the JSON (or the CompletedProcess
    with check=False)."""

    def __init__(self, pfs, certs=None):
        self.pfs, self.certs = pfs, certs

    def _opts(self):
        return ["--cert-dir", self.certs.cert_dir] if self.certs else []

    def _run(self, cmd, a, b, opts, check, env):
        r = self.pfs.run(cmd, "--json", *self._opts(), *opts, a, b,
                         check=check, env=env)
        if not check:
            return r
        return json.loads(r.stdout)

    def push(self, src, dest, *opts, check=True, env=None):
        return self._run("push", src, dest, opts, check, env)

    def pull(self, src, dest, *opts, check=True, env=None):
        return self._run("pull", src, dest, opts, check, env)
