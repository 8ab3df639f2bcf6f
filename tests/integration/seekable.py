"""Seekable zstd blobs taken apart and put together again by the tests
(../shared/spec/zstd-seekable.md), independently of lib/seekable.c."""
import struct

SKIPPABLE, SEEKABLE = 0x184D2A5E, 0x8F92EAB1
M64 = (1 << 64) - 1
P1, P2, P3 = 11400714785074694791, 14029467366897019727, 1609587929392839161
P4, P5 = 9650029242287828579, 2870177450012600261
EMPTY_FRAME = bytes.fromhex("28b52ffd2000010000")   # zstd frame of b""


def xxh64(data, seed=0):
    """XXH64, for seek tables with per-frame checksums."""
    def rotl(x, r):
        return ((x << r) | (x >> (64 - r))) & M64

    def rnd(acc, lane):
        return rotl((acc + lane * P2) & M64, 31) * P1 & M64

    def merge(acc, v):
        return ((acc ^ rnd(0, v)) * P1 + P4) & M64
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M64, (seed + P2) & M64, seed, (seed - P1) & M64]
        while i + 32 <= n:
            for k in range(4):
                v[k] = rnd(v[k], struct.unpack_from("<Q", data, i + 8 * k)[0])
            i += 32
        h = (rotl(v[0], 1) + rotl(v[1], 7) + rotl(v[2], 12) +
             rotl(v[3], 18)) & M64
        for x in v:
            h = merge(h, x)
    else:
        h = (seed + P5) & M64
    h = (h + n) & M64
    while i + 8 <= n:
        h = (rotl(h ^ rnd(0, struct.unpack_from("<Q", data, i)[0]), 27) * P1
             + P4) & M64
        i += 8
    if i + 4 <= n:
        h = (rotl(h ^ (struct.unpack_from("<I", data, i)[0] * P1 & M64), 23)
             * P2 + P3) & M64
        i += 4
    while i < n:
        h = rotl(h ^ (data[i] * P5 & M64), 11) * P1 & M64
        i += 1
    h = (h ^ (h >> 33)) * P2 & M64
    h = (h ^ (h >> 29)) * P3 & M64
    return h ^ (h >> 32)


def frames(blob):
    """[(zstd frame bytes, decompressed size)] of a blob without
    checksums, checking the table's framing."""
    n, desc, magic = struct.unpack_from("<IBI", blob, len(blob) - 9)
    assert magic == SEEKABLE and desc == 0
    table = len(blob) - 9 - 8 * n
    assert struct.unpack_from("<II", blob, table - 8) == (SKIPPABLE, 8 * n + 9)
    out, off = [], 0
    for i in range(n):
        c, d = struct.unpack_from("<II", blob, table + 8 * i)
        out.append((blob[off:off + c], d))
        off += c
    assert off == table - 8
    return out


def blob(frames, checksums=None):
    """A seekable blob of (frame, decompressed size) entries; checksums,
    if given, are the per-frame values (XXH64 of the content, low 32 bits)."""
    entries = b"".join(
        struct.pack("<II", len(f), n) +
        (struct.pack("<I", checksums[i] & 0xffffffff) if checksums else b"")
        for i, (f, n) in enumerate(frames))
    payload = entries + struct.pack("<IBI", len(frames),
                                    0x80 if checksums else 0, SEEKABLE)
    return b"".join(f for f, _ in frames) + \
        struct.pack("<II", SKIPPABLE, len(payload)) + payload
