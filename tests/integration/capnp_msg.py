"""A small Cap'n Proto message rewriter for the tests: decode a framed,
unpacked message into its object tree (schema-less), and encode it again
spread over several segments, so that pointers cross segments through far
or double-far landing pads.  The official `capnp convert` must decode the
result to the same JSON, and so must our reader.
"""
import struct

STRUCT, LIST, FAR = 0, 1, 2
ELEM_BITS = [0, 1, 8, 16, 32, 64, 64, 0]


class Struct:
    def __init__(self, data, ptrs):
        self.data = data        # bytes, a whole number of words
        self.ptrs = ptrs        # [None | Struct | List]


class List:
    def __init__(self, elem, count, data=b"", items=(), dw=0, pw=0):
        self.elem, self.count = elem, count
        self.data = data        # primitive lists: the raw bytes
        self.items = list(items)    # pointer lists: targets; composite: Structs
        self.dw, self.pw = dw, pw   # composite element size in words


def _words(n_bytes):
    return (n_bytes + 7) // 8


def decode(msg, stats=None):
    """The root struct of a message; stats, if given, counts the far
    pointers followed ("far", "double")."""
    nseg = struct.unpack_from("<I", msg)[0] + 1
    sizes = struct.unpack_from(f"<{nseg}I", msg, 4)
    pos = (4 * (nseg + 1) + 7) & ~7
    segs = []
    for n in sizes:
        segs.append(msg[pos:pos + 8 * n])
        pos += 8 * n

    def word(s, i):
        return struct.unpack_from("<Q", segs[s], 8 * i)[0]

    def follow(s, at):
        """(tag word, segment, word index of the content) or None."""
        w = word(s, at)
        if w == 0:
            return None
        if w & 3 == FAR:
            pad, ps = (w >> 3) & 0x1fffffff, w >> 32
            if stats is not None:
                k = "double" if (w >> 2) & 1 else "far"
                stats[k] = stats.get(k, 0) + 1
            if not (w >> 2) & 1:
                return follow_near(ps, pad, word(ps, pad))
            far, tag = word(ps, pad), word(ps, pad + 1)
            return tag, far >> 32, (far >> 3) & 0x1fffffff
        return follow_near(s, at, w)

    def follow_near(s, at, w):
        off = (w & 0xffffffff) >> 2
        if off & (1 << 29):
            off -= 1 << 30
        return w, s, at + 1 + off

    def read_struct(s, i, dw, pw):
        data = segs[s][8 * i:8 * (i + dw)]
        return Struct(data, [read(s, i + dw + k) for k in range(pw)])

    def read(s, at):
        r = follow(s, at)
        if r is None:
            return None
        tag, s, i = r
        if tag & 3 == STRUCT:
            return read_struct(s, i, (tag >> 32) & 0xffff, tag >> 48)
        assert tag & 3 == LIST, hex(tag)
        elem, count = (tag >> 32) & 7, tag >> 35
        if elem == 7:
            t = word(s, i)
            n, dw, pw = (t >> 2) & 0x3fffffff, (t >> 32) & 0xffff, t >> 48
            return List(7, n, items=[read_struct(s, i + 1 + k * (dw + pw),
                                                 dw, pw) for k in range(n)],
                        dw=dw, pw=pw)
        if elem == 6:
            return List(6, count, items=[read(s, i + k) for k in range(count)])
        nbytes = (count * ELEM_BITS[elem] + 7) // 8
        return List(elem, count, data=segs[s][8 * i:8 * i + nbytes])

    return read(0, 0)


def _size(obj):
    """Words of an object's content."""
    if isinstance(obj, Struct):
        return len(obj.data) // 8 + len(obj.ptrs)
    if obj.elem == 7:
        return 1 + obj.count * (obj.dw + obj.pw)
    if obj.elem == 6:
        return obj.count
    return _words((obj.count * ELEM_BITS[obj.elem] + 7) // 8)


def _upper(obj):
    """The high half of the pointer word describing obj."""
    if isinstance(obj, Struct):
        return len(obj.data) // 8 | len(obj.ptrs) << 16
    if obj.elem == 7:
        return 7 | (obj.count * (obj.dw + obj.pw)) << 3
    return obj.elem | obj.count << 3


def encode(root, nseg=1, far="single"):
    """Frame the tree as a message of nseg segments.  Objects are dealt
    round-robin to the segments in depth-first order, so most pointers
    cross segments; far is "single" (landing pad next to the object),
    "double" (two-word pad in another segment) or "mixed"."""
    segs = [[] for _ in range(nseg)]
    where = {}              # id(obj) -> (segment, word index)
    order = []

    def place(obj):
        if obj is None or id(obj) in where:
            return
        s = len(order) % nseg
        order.append(obj)
        where[id(obj)] = (s, len(segs[s]))
        segs[s].extend([0] * _size(obj))
        kids = obj.ptrs if isinstance(obj, Struct) else (
            [p for it in obj.items for p in it.ptrs] if obj.elem == 7
            else obj.items)
        for k in kids:
            place(k)

    segs[0].append(0)       # the root pointer
    place(root)
    nfar = [0]

    def pointer(s, at, obj):
        if obj is None:
            return
        ts, ti = where[id(obj)]
        kind = STRUCT if isinstance(obj, Struct) else LIST
        up = _upper(obj) << 32
        if ts == s:
            segs[s][at] = ((ti - at - 1) << 2 & 0xffffffff) | kind | up
            return
        nfar[0] += 1
        double = far == "double" or (far == "mixed" and nfar[0] % 2 == 0)
        if not double:
            pad = len(segs[ts])
            segs[ts].append(((ti - pad - 1) << 2 & 0xffffffff) | kind | up)
            segs[s][at] = FAR | pad << 3 | ts << 32
        else:
            ps = next((x for x in range(nseg) if x not in (s, ts)), s)
            pad = len(segs[ps])
            segs[ps].append(FAR | ti << 3 | ts << 32)
            segs[ps].append(kind | up)
            segs[s][at] = FAR | 4 | pad << 3 | ps << 32

    def fill_struct(s, i, obj):
        for k in range(len(obj.data) // 8):
            segs[s][i + k] = struct.unpack_from("<Q", obj.data, 8 * k)[0]
        base = i + len(obj.data) // 8
        for k, p in enumerate(obj.ptrs):
            pointer(s, base + k, p)

    pointer(0, 0, root)
    for obj in order:
        s, i = where[id(obj)]
        if isinstance(obj, Struct):
            fill_struct(s, i, obj)
        elif obj.elem == 7:
            segs[s][i] = obj.count << 2 | obj.dw << 32 | obj.pw << 48
            for k, it in enumerate(obj.items):
                fill_struct(s, i + 1 + k * (obj.dw + obj.pw), it)
        elif obj.elem == 6:
            for k, p in enumerate(obj.items):
                pointer(s, i + k, p)
        else:
            raw = obj.data + bytes(8 * _size(obj) - len(obj.data))
            for k in range(_size(obj)):
                segs[s][i + k] = struct.unpack_from("<Q", raw, 8 * k)[0]

    out = struct.pack(f"<I{nseg}I", nseg - 1, *(len(x) for x in segs))
    out += bytes(-len(out) % 8)
    for x in segs:
        out += struct.pack(f"<{len(x)}Q", *x)
    return out


def segment_count(msg):
    return struct.unpack_from("<I", msg)[0] + 1
