"""FUSE read benchmark (issue 3 item 8, issue 5) on /usr/share: puzzlefs
(plain and -c) against squashfuse_ll and squashfuse on a squashfs image of
the same tree, casync mount, and kernel erofs/squashfs on loop devices
(the ceiling).  For each file system and run:

  mount ready   from the mount command's start until a listing of the
                root answers: cold (all caches dropped, the binary and its
                libraries too) and warm (the image just read: in the page
                cache, as after a pull or a previous mount)
  cold read     read every file (fsbench readall) after a fresh mount and
                dropping all caches; then the same again: warm read
  cold stat     lstat every entry after a fresh mount, caches dropped;
                then again: warm stat
  random 4 KiB  fsbench randread (readahead off) after a fresh mount,
                caches dropped: offsets uniform over all file bytes
  daemon        peak RSS, RSS and CPU seconds of the daemon over the cold
                read, and the most threads it had

The client (bench/tools/fsbench.c) is one thread."""
import json
import os

from . import corpora, mounts
from .common import REG, Sampler, drop_caches, log, out, save, stats

RAND_READS = 2000


def fsbench(ctx, *args):
    return json.loads(out([ctx.fsbench] + [str(a) for a in args]))


def systems(ctx, corpus, want):
    """name -> file system object, images made as needed."""
    fs = {}
    if "puzzlefs" in want:
        fs["puzzlefs"] = mounts.puzzlefs(ctx, "puzzlefs", mounts.pfs_image(ctx, corpus, []))
    if "puzzlefs -c" in want:
        fs["puzzlefs -c"] = mounts.puzzlefs(ctx, "puzzlefs -c",
                                            mounts.pfs_image(ctx, corpus, ["-c"]))
    if {"squashfuse_ll", "squashfuse", "squashfs (kernel)"} & set(want):
        sq = mounts.peer_image(ctx, corpus, "squashfs")
        if "squashfuse_ll" in want:
            fs["squashfuse_ll"] = mounts.squashfuse("squashfuse_ll", sq, "squashfuse_ll")
        if "squashfuse" in want:
            fs["squashfuse"] = mounts.squashfuse("squashfuse", sq, "squashfuse")
        if "squashfs (kernel)" in want:
            fs["squashfs (kernel)"] = mounts.KernelFS("squashfs (kernel)", sq, "squashfs")
    if "casync mount" in want:
        fs["casync mount"] = mounts.casync(mounts.peer_image(ctx, corpus, "casync"))
    for kind in ("erofs", "erofs-lz4hc"):
        name = f"{kind} (kernel)"
        if name in want:
            fs[name] = mounts.KernelFS(name, mounts.peer_image(ctx, corpus, kind), "erofs")
    return {k: fs[k] for k in want if k in fs}


ALL = ["puzzlefs", "puzzlefs -c", "squashfuse_ll", "squashfuse", "casync mount",
       "erofs (kernel)", "erofs-lz4hc (kernel)", "squashfs (kernel)"]


def one_run(ctx, fs, mnt, seed, what=("read", "stat", "rand")):
    r = {}
    drop_caches()
    m = fs.mount(mnt)
    r["mount_s"] = m.ready
    try:
        if "read" in what:
            drop_caches()
            before = m.status()
            s = Sampler(m.pid) if m.pid else None
            if s:
                s.start()
            r["cold_read"] = fsbench(ctx, "readall", mnt)
            if s:
                s.stop.set()
                r["daemon_threads"] = s.max
            after = m.status()
            r["warm_read"] = fsbench(ctx, "readall", mnt)
            if m.pid:
                r["daemon"] = after
                r["daemon_cpu_read"] = after.get("cpu", 0) - before.get("cpu", 0)
        if "stat" in what:
            m.umount()
            m = fs.mount(mnt)           # the image is in the page cache now
            r["mount_warm_s"] = m.ready
            drop_caches()
            r["cold_stat"] = fsbench(ctx, "statall", mnt)
            r["warm_stat"] = fsbench(ctx, "statall", mnt)
        if "rand" in what:
            m.umount()
            m = fs.mount(mnt)
            drop_caches()
            r["rand"] = fsbench(ctx, "randread", mnt, RAND_READS, seed)
    finally:
        m.umount()
    return r


def summarize(runs):
    def col(f):
        return stats([f(r) for r in runs])
    return {
        "mount_ms": col(lambda r: r["mount_s"] * 1000),
        "mount_warm_ms": col(lambda r: r["mount_warm_s"] * 1000
                             if "mount_warm_s" in r else None),
        "cold_read_s": col(lambda r: r.get("cold_read", {}).get("secs")),
        "warm_read_s": col(lambda r: r.get("warm_read", {}).get("secs")),
        "cold_stat_s": col(lambda r: r.get("cold_stat", {}).get("secs")),
        "warm_stat_s": col(lambda r: r.get("warm_stat", {}).get("secs")),
        "rand_mean_us": col(lambda r: r.get("rand", {}).get("mean_us")),
        "rand_p99_us": col(lambda r: r.get("rand", {}).get("p99_us")),
        "rss_peak_kb": col(lambda r: r.get("daemon", {}).get("VmHWM")),
        "daemon_cpu_s": col(lambda r: r.get("daemon_cpu_read")),
        "threads": col(lambda r: r.get("daemon_threads")),
    }


def run(ctx):
    corpus = corpora.info(ctx, "share")
    want = ctx.systems(ALL)
    fss = systems(ctx, corpus, want)
    mnt = os.path.join(ctx.work, "mnt")
    os.makedirs(mnt, exist_ok=True)
    raw = {n: [] for n in fss}
    for r in range(ctx.runs):
        for name, fs in fss.items():
            res = one_run(ctx, fs, mnt, 1000 + r)
            log(f"  fuse {name} #{r + 1}: mount {res['mount_s'] * 1000:.0f} ms, "
                f"read {res['cold_read']['secs']:.2f}/{res['warm_read']['secs']:.2f} s, "
                f"stat {res['cold_stat']['secs']:.3f}/{res['warm_stat']['secs']:.3f} s, "
                f"rand {res['rand']['mean_us']:.0f} us, "
                f"rss {res.get('daemon', {}).get('VmHWM', 0) / 1024:.0f} MiB")
            raw[name].append(res)
    data = {"corpus": corpus, "rand_reads": RAND_READS,
            "systems": {n: {"summary": summarize(v), "raw": v,
                            "threads_note": fss[n].threads,
                            "kernel": fss[n].kernel} for n, v in raw.items()}}
    prev = ctx.previous("fuse")
    if prev and ctx.partial_systems:
        prev["systems"].update(data["systems"])
        data = prev
    save(ctx, "fuse", data)
    REG.cleanup()
