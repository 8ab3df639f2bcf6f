"""Frame-size study for build -c on /usr/share: 4 KiB frames (the
reference's default) against 16, 32 and 64 KiB and one frame per chunk
(256 KiB, FastCDC's largest chunk).  Bigger frames compress
better and faster; a random read must decompress a whole frame.  For each
size: build time and image size, then through FUSE a cold sequential read
of everything, cold random 4 KiB reads over the whole tree (each mostly
loads a new chunk), and random 4 KiB reads inside one large file (chunks
soon cached by the daemon, frames not yet decompressed: the cost a frame
adds to a read)."""
import os

from . import corpora, mounts
from .build import run_tool
from .common import log, measure, save, stats, tree_size, drop_caches
from .fuse import fsbench

SIZES = [4096, 16384, 32768, 65536, 262144]     # 256 KiB: one frame per chunk
HOT_READS = 4000


def hot_file(root, limit=32 << 20):
    """The largest file of at most @limit bytes: a stand-in for a database
    or a model file read at random."""
    best = (0, None)
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            try:
                s = os.lstat(p)
            except OSError:
                continue
            if os.path.isfile(p) and not os.path.islink(p) and best[0] < s.st_size <= limit:
                best = (s.st_size, p)
    return best[1]


def run(ctx):
    corpus = corpora.info(ctx, "share")
    hot = hot_file(corpus["path"])
    rel = os.path.relpath(hot, corpus["path"])
    mnt = os.path.join(ctx.work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    corpora.warm(corpus["path"])
    res = {}
    for fsz in SIZES:
        flags = ["-c", "--frame-size", str(fsz)]
        builds = []
        for r in range(ctx.runs):
            out = os.path.join(ctx.work, "out", "frames", f"{fsz}.{r}")
            os.makedirs(out)
            os.sync()
            m = measure([ctx.puzzlefs, "build"] + flags + [corpus["path"], out + "/oci:t"])
            m["bytes"] = tree_size(out)[0]
            ctx.trash_later(out)
            builds.append(m)
        ref = mounts.pfs_image(ctx, corpus, flags)
        fs = mounts.puzzlefs(ctx, f"-c {fsz}", ref)
        reads = []
        for r in range(ctx.runs):
            drop_caches()
            m = fs.mount(mnt)
            try:
                drop_caches()
                one = {"cold_read": fsbench(ctx, "readall", mnt)}
                m.umount()
                m = fs.mount(mnt)
                drop_caches()
                one["rand"] = fsbench(ctx, "randread", mnt, 2000, 2000 + r)
                m.umount()
                m = fs.mount(mnt)
                drop_caches()
                one["hot"] = fsbench(ctx, "randread", os.path.join(mnt, rel),
                                     HOT_READS, 3000 + r)
            finally:
                m.umount()
            reads.append(one)
        res[str(fsz)] = {
            "build_s": stats([b["wall"] for b in builds]),
            "build_cpu_s": stats([b["user"] + b["sys"] for b in builds]),
            "bytes": builds[0]["bytes"],
            "cold_read_s": stats([x["cold_read"]["secs"] for x in reads]),
            "rand_mean_us": stats([x["rand"]["mean_us"] for x in reads]),
            "rand_p99_us": stats([x["rand"]["p99_us"] for x in reads]),
            "hot_mean_us": stats([x["hot"]["mean_us"] for x in reads]),
            "hot_p50_us": stats([x["hot"]["p50_us"] for x in reads]),
            "rand_p50_us": stats([x["rand"]["p50_us"] for x in reads]),
            "hot_p99_us": stats([x["hot"]["p99_us"] for x in reads]),
        }
        log(f"  frames {fsz}: {res[str(fsz)]['bytes'] / 1e6:.1f} MB, "
            f"build {res[str(fsz)]['build_s']['median']:.2f} s, "
            f"rand {res[str(fsz)]['rand_mean_us']['median']:.0f} us, "
            f"hot {res[str(fsz)]['hot_mean_us']['median']:.0f} us")
    save(ctx, "frames", {"corpus": corpus, "hot_file": rel,
                         "hot_bytes": os.path.getsize(hot), "sizes": res,
                         "hot_reads": HOT_READS})
