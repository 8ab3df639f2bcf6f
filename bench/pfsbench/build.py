"""Build: puzzlefs build (plain and -c) against the peers on each corpus,
each tool run `runs` times, interleaved (run 1 of every tool, then run 2,
...) so that a disturbance hits every tool alike, and rotated (run r starts
with the r-th tool) so that what one tool leaves behind (page cache it
dropped, memory it freed) is not always inherited by the same next tool.
Time, CPU, peak RSS, threads and output size.  Sources are read from a warm page cache; each
output goes to a fresh directory (ext4 allocates inodes slowly right
after a mass delete, so old outputs are deleted only at the end)."""
import os
import time

from . import corpora
from .common import drop_caches, log, measure, rmtree, save, stats, tree_size

# name -> (description, threads as configured, command maker)
# Each maker takes (puzzlefs, src, out) and returns (argv or sh string,
# output path whose size is the result).
def puzzlefs_build(flags):
    def make(ctx, src, out):
        return ([ctx.puzzlefs, "build"] + flags + [src, out + "/oci:t"],
                out)
    return make


def _tar(ctx, src, out):
    return (f"tar --numeric-owner --xattrs -C '{src}' -cf - . | "
            f"zstd -3 -T2 -q -o '{out}/x.tar.zst'", out)


def _casync(ctx, src, out):
    return (["casync", "make", f"--store={out}/store", f"{out}/x.caidx", src],
            out)


def _erofs(flags):
    def make(ctx, src, out):
        return (["mkfs.erofs", "--quiet"] + flags + [f"{out}/x.erofs", src], out)
    return make


def _squashfs(ctx, src, out):
    return (["mksquashfs", src, f"{out}/x.sqfs", "-comp", "zstd", "-noappend",
             "-quiet", "-no-progress"], out)


TOOLS = {
    "puzzlefs": ("puzzlefs build", "1 walker + 2 workers + 1 syncer", puzzlefs_build([])),
    "puzzlefs -c": ("puzzlefs build -c", "1 walker + 2 workers + 1 syncer", puzzlefs_build(["-c"])),
    "tar|zstd": ("tar | zstd -3 -T2", "tar 1 + zstd 2", _tar),
    "casync": ("casync make (zstd)", "1", _casync),
    "erofs": ("mkfs.erofs", "1", _erofs([])),
    "erofs-lz4hc": ("mkfs.erofs -zlz4hc", "1", _erofs(["-zlz4hc"])),
    "squashfs": ("mksquashfs -comp zstd (level 15)", "2 (+ I/O threads)", _squashfs),
}
PEERS = list(TOOLS)
# mkfs.erofs -zlz4hc and mksquashfs at its default zstd level 15 take
# 30-150 s a run: on /usr/share only, to keep the suite near an hour.
SLOW = {"erofs-lz4hc", "squashfs"}
SLOW_ON = {"share"}
CORPORA = ["share", "lib", "small", "huge", "deb-v2"]
MEMORY = ["share", "share+lib"]           # the memory target's pair


def run_tool(ctx, tool, src, tag, table=TOOLS):
    out = os.path.join(ctx.work, "out", "build", tag)
    rmtree(out)
    os.makedirs(out)
    cmd, result = table[tool][2](ctx, src, out)
    os.sync()                       # nobody else's writeback in our time
    time.sleep(0.5)
    m = measure(cmd)
    m["bytes"], m["files"] = tree_size(result)
    ctx.trash_later(out)
    return m


def bench_corpus(ctx, name, tools, runs, table=TOOLS):
    c = corpora.info(ctx, name)
    log(f"build: {name} ({c['bytes'] / 1e6:.0f} MB, {c['entries']} entries): "
        f"{', '.join(tools)} x{runs}")
    corpora.warm(c["path"])
    raw = {t: [] for t in tools}
    for r in range(runs):
        k = r % len(tools)
        for t in tools[k:] + tools[:k]:
            m = run_tool(ctx, t, c["path"], f"{name}/{t.replace(' ', '')}.{r}", table)
            log(f"  {name} {t} #{r + 1}: {m['wall']:.2f} s, "
                f"{m['bytes'] / 1e6:.1f} MB, {(m['rss_kb'] or 0) / 1024:.0f} MiB RSS, "
                f"{m['threads']} threads, {m['cores']:.2f} cores")
            raw[t].append(m)
    res = {}
    for t, ms in raw.items():
        res[t] = {k: stats([m[k] for m in ms])
                  for k in ("wall", "user", "sys", "rss_kb", "threads", "cores",
                            "bytes", "files")}
        res[t]["raw"] = ms
    return {"corpus": c, "tools": res}


def run(ctx):
    data = {"tools": {t: {"desc": v[0], "threads": v[1]} for t, v in TOOLS.items()},
            "corpora": {}, "memory": {}}
    for name in ctx.corpora(CORPORA):
        tools = [t for t in ctx.tools(PEERS)
                 if t not in SLOW or name in SLOW_ON or ctx.a.tools]
        data["corpora"][name] = bench_corpus(ctx, name, tools, ctx.runs)
    if ctx.want_memory:
        for name in MEMORY:
            if name in data["corpora"]:
                data["memory"][name] = data["corpora"][name]
            else:
                data["memory"][name] = bench_corpus(
                    ctx, name, ["puzzlefs", "puzzlefs -c"], ctx.runs)
    prev = ctx.previous("build")
    if prev:                        # a partial run keeps the rest
        for k in ("corpora", "memory"):
            old = prev.get(k, {})
            for name, new in data[k].items():
                if name in old and ctx.a.tools:     # and the other tools
                    old[name]["tools"].update(new["tools"])
                    old[name]["corpus"] = new["corpus"]
                else:
                    old[name] = new
            data[k] = old
    save(ctx, "build", data)
    drop_caches()
