"""An independent FastCDC v2020 (fastcdc-rs 3.0.0, normalization level 1)
written from ../shared/spec/fastcdc.md: the oracle the chunk tests compare
the builder's boundaries with.  Slow (pure Python), so tests keep their
streams to a few MiB.
"""
import hashlib
import math

MASKS = {15: 0x0000d90f03530000, 16: 0x0000d90303537000,
         17: 0x0000d90703537000, 13: 0x0000d90303530000,
         14: 0x0000d90313530000, 12: 0x0000d90103530000}
M64 = (1 << 64) - 1
# GEAR[i]: the first 8 bytes, big-endian, of MD5 of 64 bytes equal to i.
GEAR = [int.from_bytes(hashlib.md5(bytes([i]) * 64).digest()[:8], "big")
        for i in range(256)]
GEAR_LS = [(g << 1) & M64 for g in GEAR]


class Params:
    def __init__(self, lo, avg, hi, level=1):
        bits = round(math.log2(avg))
        self.min, self.avg, self.max = lo, avg, hi
        self.mask_s = MASKS[bits + level]
        self.mask_l = MASKS[bits - level]
        self.mask_s_ls = self.mask_s << 1
        self.mask_l_ls = self.mask_l << 1


PUZZLEFS = Params(16384, 65536, 262144)


def cut(p, buf, start, n):
    """Length of the chunk starting at buf[start] with n bytes left, and
    its hash."""
    if n <= p.min:
        return n, 0
    remaining = min(n, p.max)
    center = remaining if remaining < p.avg else p.avg
    h = 0
    i = p.min // 2
    for limit, mls, ms in ((center // 2, p.mask_s_ls, p.mask_s),
                           (remaining // 2, p.mask_l_ls, p.mask_l)):
        while i < limit:
            a = start + 2 * i
            h = ((h << 2) + GEAR_LS[buf[a]]) & M64
            if not h & mls:
                return 2 * i, h
            h = (h + GEAR[buf[a + 1]]) & M64
            if not h & ms:
                return 2 * i + 1, h
            i += 1
    return remaining, h


def chunks(data, p=PUZZLEFS):
    """[(offset, length, hash)] of a whole stream."""
    out, off = [], 0
    while off < len(data):
        n, h = cut(p, data, off, len(data) - off)
        out.append((off, n, h))
        off += n
    return out
