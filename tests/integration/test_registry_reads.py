"""The registry client's read API, as the lazy mount (ranges of blobs from
many threads, priorities, a timeout per read) and tar-layer import (a
blob as a verified stream) use it: tests/tools/regread drives
lib/remote/registry.h against docker-registry, directly and through the
fault proxy (a stalled read times out; a cut answer is resumed with a
Range request; a flipped byte fails the stream at its end)."""
import hashlib
import json
import os
import random
import subprocess

import pytest

from registry import FaultProxy, anon_registry, certs  # noqa: F401

pytestmark = pytest.mark.core

SIZE = 3 * 1024 * 1024 + 12345


@pytest.fixture(scope="module")
def blob(anon_registry):
    data = random.Random(17).randbytes(SIZE)
    return data, anon_registry.put_blob("reads/blob", data)


def regread(pfs, certs, host, digest, *args):
    exe = os.path.join(os.path.dirname(pfs.exe), "tests", "regread")
    r = subprocess.run([exe, "--cert-dir", certs.cert_dir, *map(str, args[:-1]),
                        host, "reads/blob", f"sha256:{digest}", *args[-1]],
                       capture_output=True)
    return r, [json.loads(line) for line in r.stdout.splitlines()]


def test_ranges_from_many_threads(pfs, certs, anon_registry, blob):
    data, digest = blob
    rng = random.Random(5)
    ranges = [(rng.randrange(SIZE), rng.randint(1, 300000)) for _ in range(60)]
    ranges += [(0, SIZE), (SIZE - 10, 100), (SIZE, 5), (SIZE + 99, 5)]
    for prio in ([], ["--prefetch"]):
        r, out = regread(pfs, certs, anon_registry.host, digest, "-j", 4,
                         "--threads", 8, *prio, [f"{o}:{n}" for o, n in ranges])
        assert r.returncode == 0, r.stderr
        for (o, n), got in zip(ranges, out):
            piece = data[o:o + n]
            assert got["off"] == o and got["got"] == len(piece)
            assert got["sha256"] == hashlib.sha256(piece).hexdigest()


def test_read_times_out(pfs, certs, anon_registry, blob):
    data, digest = blob
    proxy = FaultProxy(anon_registry, certs)
    proxy.hook = lambda m, p: "stall" if "/blobs/" in p else None
    try:
        r, out = regread(pfs, certs, proxy.host, digest, "--timeout", 1500,
                         ["0:100", "5000:100"])
    finally:
        proxy.close()
    assert r.returncode == 1
    assert [o["err"] for o in out] == [110, 110]    # ETIMEDOUT
    assert b"timed out" in r.stderr


def test_stream(pfs, certs, anon_registry, blob):
    data, digest = blob
    want = hashlib.sha256(data).hexdigest()
    # A slow reader: the transfer pauses when the ring is full.
    r, out = regread(pfs, certs, anon_registry.host, digest, "--stream", SIZE,
                     "--piece", 65536, "--pause-us", 2000, [])
    assert r.returncode == 0, r.stderr
    assert out == [{"got": SIZE, "sha256": want}]


def test_stream_resumes_a_cut_answer(pfs, certs, anon_registry, blob):
    data, digest = blob
    proxy = FaultProxy(anon_registry, certs)
    calls = []
    proxy.hook = lambda m, p: (calls.append(p) or "cut") \
        if "/blobs/" in p and not calls else None
    try:
        r, out = regread(pfs, certs, proxy.host, digest, "--stream", SIZE, [])
    finally:
        proxy.close()
    assert r.returncode == 0, r.stderr
    assert out == [{"got": SIZE, "sha256": hashlib.sha256(data).hexdigest()}]
    assert proxy.count("GET", "/blobs/") == 2


def test_stream_refuses_a_flipped_byte(pfs, certs, anon_registry, blob):
    data, digest = blob
    proxy = FaultProxy(anon_registry, certs)
    proxy.flip = {digest}
    try:
        r, out = regread(pfs, certs, proxy.host, digest, "--stream", SIZE, [])
    finally:
        proxy.close()
    assert r.returncode == 1 and out[0]["err"] == 5      # EIO
    assert b"does not match its digest" in r.stderr
    r, out = regread(pfs, certs, anon_registry.host, digest, "--stream",
                     SIZE - 1, [])
    assert r.returncode == 1 and out[0]["err"] == 5
