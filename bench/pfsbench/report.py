"""bench/RESULTS.md and bench/plots/*.png from WORK/results/*.json.  The
hand-written parts (the frame-size decision, the optimizations with their
before/after numbers) live in bench/notes/ and are included as they are."""
import json
import os
import platform
import re
import subprocess
import time

from .common import TOP, load, log, out, source_state

BENCH = os.path.join(TOP, "bench")
PLOTS = os.path.join(BENCH, "plots")
NOTES = os.path.join(BENCH, "notes")
CORPUS_TITLE = {"share": "/usr/share", "lib": "/usr/lib/x86_64-linux-gnu",
                "share+lib": "share+lib (copy of both)", "deb-v1": "deb-v1",
                "deb-v2": "deb-v2 (debootstrap + update)",
                "small": "small (60k synthetic files)",
                "huge": "huge (4 synthetic 256 MiB files)"}


# ---- formatting ------------------------------------------------------------

def med(s, scale=1.0):
    return None if not s else s["median"] * scale


def fmt(s, scale=1.0, digits=2):
    """'median (min-max)' of a stats dict."""
    if not s:
        return "-"
    f = f"{{:.{digits}f}}"
    m = f.format(s["median"] * scale)
    if s.get("n", 1) > 1 and s["min"] != s["max"]:
        return f"{m} ({f.format(s['min'] * scale)}–{f.format(s['max'] * scale)})"
    return m


def ratio(a, b, digits=2):
    return f"{a / b:.{digits}f}×" if a and b else "-"


def verdict(ok):
    return "-" if ok is None else ("**PASS**" if ok else "**MISS**")


def table(head, rows):
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    # A bare | in a cell (a tool named tar|zstd) would end the cell.
    lines += ["| " + " | ".join(re.sub(r"(?<!\\)\|", r"\\|", str(c)) for c in r) + " |"
              for r in rows]
    return "\n".join(lines)


def note(name):
    p = os.path.join(NOTES, name)
    if os.path.exists(p):
        with open(p) as f:
            return f.read().strip()
    return f"_(bench/notes/{name} is missing)_"


def conditions(sec):
    m = sec.get("_meta", {})
    busy = " **(qemu was running at the end: numbers disturbed)**" if m.get("qemu_at_end") else ""
    src = f", puzzlefs at git {m['source']}" if m.get("source") else ""
    return (f"_Taken {m.get('date', '?')}{src}, {m.get('runs', '?')} runs, load "
            f"{m.get('load_start', 0):.2f} at the start and {m.get('load_end', 0):.2f} "
            f"at the end of the run{busy}._")


# ---- facts ------------------------------------------------------------------

def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    root = out("findmnt -n -o SOURCE,FSTYPE,OPTIONS -T /var/tmp")
    return [("CPU", f"{cpu}, {os.cpu_count()} cores (KVM guest; no hardware perf counters)"),
            ("RAM", f"{mem:.0f} GiB"),
            ("kernel", platform.release()),
            ("disk", f"virtio disk, {root.split()[1] if root else '?'} "
                     f"(the host caches it: a cold read here is a guest-cold read)"),
            ("OS", out("sh -c '. /etc/os-release; echo $PRETTY_NAME'"))]


def versions(puzzlefs):
    def pkg(p):
        return out(["dpkg-query", "-W", "-f", "${Version}", p]) or "?"
    build_dir = os.path.dirname(puzzlefs)
    btype = "?"
    try:
        with open(os.path.join(build_dir, "meson-info", "intro-buildoptions.json")) as f:
            for o in json.load(f):
                if o["name"] == "buildtype":
                    btype = o["value"]
    except OSError:
        pass
    return [("puzzlefs", f"{out([puzzlefs, '--version'])}; git {source_state()} "
                         f"now (each section says what it measured); "
                         f"meson buildtype={btype} ({build_dir})"),
            ("libzstd / zstd", pkg("libzstd1")), ("OpenSSL libcrypto", pkg("libssl3")),
            ("libfuse3", pkg("libfuse3-3")), ("tar", pkg("tar")),
            ("casync", pkg("casync")), ("erofs-utils", pkg("erofs-utils")),
            ("squashfs-tools", pkg("squashfs-tools")), ("squashfuse", pkg("squashfuse")),
            ("gcc", pkg("gcc-12"))]


# ---- plots ------------------------------------------------------------------

def gnuplot(name, script, data):
    os.makedirs(PLOTS, exist_ok=True)
    dat = os.path.join(PLOTS, f".{name}.dat")
    with open(dat, "w") as f:
        f.write(data)
    png = os.path.join(PLOTS, name + ".png")
    full = (f"set terminal pngcairo size 1000,520 font 'DejaVu Sans,10'\n"
            f"set output '{png}'\nset datafile separator '\\t'\n"
            f"set key outside right top\nset grid ytics\n" + script.replace("DAT", dat))
    r = subprocess.run(["gnuplot"], input=full, text=True, capture_output=True)
    os.unlink(dat)
    if r.returncode:
        log(f"gnuplot {name}: {r.stderr.strip()}")
        return None
    return f"plots/{name}.png"


def bars(name, title, ylabel, rows, cols, logscale=False):
    """Clustered bars: one cluster per row label, one bar per column."""
    data = "label\t" + "\t".join(cols) + "\n"
    for label, vals in rows:
        data += label + "\t" + "\t".join("?" if v is None else f"{v:.6g}"
                                         for v in vals) + "\n"
    script = (f"set title '{title}'\nset ylabel '{ylabel}'\n"
              "set style data histograms\nset style histogram clustered gap 1\n"
              "set style fill solid 0.85 border -1\nset boxwidth 0.9\n"
              "set xtics noenhanced\nset key noenhanced\nset yrange [0:*]\n"
              + ("set logscale y\nset yrange [*:*]\n" if logscale else "")
              + "plot " + ", ".join(f"'DAT' using {i + 2}:xtic(1) title columnheader({i + 2})"
                                    for i in range(len(cols))) + "\n")
    return gnuplot(name, script, data)


# ---- sections ---------------------------------------------------------------

def build_section(b, targets):
    if not b:
        return "_Not run yet: `bench/run.sh --sections build`._"
    parts = [conditions(b),
             "Time: wall seconds of the command. Output: apparent bytes of every file it "
             "wrote (casync: store + index; puzzlefs: the whole OCI directory, rootfs and "
             "manifest included). `mkfs.erofs -zlz4hc` and `mksquashfs` (zstd at its "
             "default level 15) take 30–150 s a run: they run on /usr/share only."]
    plot_rows, tools_seen = [], []
    for name, c in b["corpora"].items():
        t = c["tools"]
        tar, cas = med(t.get("tar|zstd", {}).get("wall")), med(t.get("casync", {}).get("wall"))
        cas_size = med(t.get("casync", {}).get("bytes"))
        rows = []
        for tool, r in t.items():
            w, sz = med(r["wall"]), med(r["bytes"])
            rows.append([tool, fmt(r["threads"], digits=0), fmt(r["cores"]),
                         fmt(r["wall"]), ratio(w, tar), ratio(w, cas),
                         fmt(r["bytes"], 1e-6, 1), ratio(sz, cas_size),
                         fmt(r["files"], digits=0), fmt(r["rss_kb"], 1 / 1024, 0)])
            if tool not in tools_seen:
                tools_seen.append(tool)
        cc = c["corpus"]
        parts.append(f"### {CORPUS_TITLE.get(name, name)}\n\n{cc['bytes'] / 1e6:.0f} MB in "
                     f"{cc['files']} files, {cc['entries']} entries.\n\n" + table(
                         ["tool", "threads (max seen)", "cores used", "time s",
                          "× tar\\|zstd", "× casync", "output MB", "size × casync",
                          "output files", "peak RSS MiB"], rows))
        plot_rows.append((name, [med(t[x]["wall"]) / tar if x in t and tar else None
                                 for x in tools_seen]))
        pc = t.get("puzzlefs -c")
        if pc and name in ("share", "lib"):
            w, sz = med(pc["wall"]), med(pc["bytes"])
            targets.append((f"`build -c` time ≤ 1.0× `tar | zstd -3 -T2` ({CORPUS_TITLE[name]})",
                            ratio(w, tar), w / tar <= 1.0 if tar else None))
            targets.append((f"`build -c` time ≤ 0.5× `casync make` ({CORPUS_TITLE[name]})",
                            ratio(w, cas), w / cas <= 0.5 if cas else None))
            targets.append((f"`build -c` size ≤ casync store ({CORPUS_TITLE[name]})",
                            ratio(sz, cas_size), sz <= cas_size if cas_size else None))
    # memory
    mem = b.get("memory", {})
    if "share" in mem and "share+lib" in mem:
        rows = []
        for tool in ("puzzlefs", "puzzlefs -c"):
            a = med(mem["share"]["tools"][tool]["rss_kb"])
            z = med(mem["share+lib"]["tools"][tool]["rss_kb"])
            rows.append([tool, f"{a / 1024:.0f}", f"{z / 1024:.0f}", ratio(z, a)])
            targets.append((f"build memory: peak RSS on share+lib ≤ 1.5× /usr/share ({tool})",
                            ratio(z, a), z / a <= 1.5))
        s1, s2 = mem["share"]["corpus"], mem["share+lib"]["corpus"]
        parts.append("### Build memory\n\nThe same builds on /usr/share "
                     f"({s1['bytes'] / 1e6:.0f} MB, {s1['entries']} entries) and on a tree "
                     f"{s2['bytes'] / s1['bytes']:.1f}× as large (share+lib: "
                     f"{s2['bytes'] / 1e6:.0f} MB, {s2['entries']} entries).\n\n"
                     + table(["build", "peak RSS /usr/share MiB", "peak RSS share+lib MiB",
                              "ratio"], rows))
    png = bars("build-time", "Build time relative to tar | zstd -3 -T2 (lower is better)",
               "time / tar|zstd time", plot_rows, tools_seen, logscale=True)
    if png:
        parts.append(f"![build time]({png})")
    size_rows = [(n, [med(c["tools"][x]["bytes"]) / c["corpus"]["bytes"]
                      if x in c["tools"] else None for x in tools_seen])
                 for n, c in b["corpora"].items()]
    png = bars("build-size", "Output size relative to the input (lower is better)",
               "output / input bytes", size_rows, tools_seen)
    if png:
        parts.append(f"![build size]({png})")
    return "\n\n".join(parts)


def dedup_section(d, targets):
    if not d:
        return "_Not run yet: `bench/run.sh --sections dedup`._"
    s = d["schemes"]
    cas = med(s["casync"]["total_bytes"])
    rows = []
    for name, r in s.items():
        tot, v1 = med(r["total_bytes"]), med(r["v1_bytes"])
        rows.append([name, f"{v1 / 1e6:.1f}", f"{tot / 1e6:.1f}", f"{(tot - v1) / 1e6:.1f}",
                     ratio(tot, cas), fmt(r["files"], digits=0), fmt(r["v2_wall"])])
    # casync's store is compressed: the comparable build is -c (the
    # uncompressed delta stays in the table, for what it saves over fresh).
    for name in ("puzzlefs -c delta",):
        tot = med(s[name]["total_bytes"])
        targets.append((f"dedup: v1 + v2 ≤ casync store of both ({name})",
                        ratio(tot, cas), tot <= cas))
    png = bars("dedup", "Storage for version 1 + version 2 (MB)", "MB",
               [(n, [med(r["v1_bytes"]) / 1e6, (med(r["total_bytes"]) - med(r["v1_bytes"])) / 1e6])
                for n, r in s.items()], ["v1", "added by v2"])
    v1, v2 = d["v1"], d["v2"]
    return "\n\n".join(x for x in [
        conditions(d),
        f"deb-v1: Debian 12 minbase by debootstrap ({v1['bytes'] / 1e6:.0f} MB, "
        f"{v1['entries']} entries). deb-v2: deb-v1 after `apt-get dist-upgrade` from "
        f"bookworm-updates/-security and installing {', '.join(d['packages_added'])} "
        f"({v2['bytes'] / 1e6:.0f} MB, {v2['entries']} entries). Sizes are apparent bytes "
        "of every file the scheme stores (blobs, index, manifests; casync: store + both "
        ".caidx).",
        table(["scheme", "v1 MB", "v1 + v2 MB", "added by v2 MB", "× casync",
               "files", "v2 step time s"], rows),
        f"![dedup]({png})" if png else None] if x)


def import_section(im, targets):
    if not im:
        return "_Not run yet: `bench/run.sh --sections import`._"
    res, img = im["results"], im["image"]
    rows = []
    for tag in ("v1", "v2"):
        src = sum(l["size"] for l in img["layers"][tag])
        for tool, r in res[tag].items():
            extra = ""
            if r.get("unpack_wall"):
                extra = f" (unpack {fmt(r['unpack_wall'])} + build {fmt(r['build_wall'])})"
            cpu = med(r["user"]) + med(r["sys"]) if r.get("user") else None
            rows.append([tag, tool, fmt(r["wall"]) + extra,
                         f"{cpu:.2f}" if cpu is not None else "-",
                         fmt(r["rss_kb"], 1 / 1024, 0),
                         f"{med(r['bytes']) / 1e6:.1f}", ratio(med(r["bytes"]), src)])
        base = res[tag].get("umoci + build -c")
        imp = res[tag].get("import -c")
        if base and imp:
            t = med(imp["wall"]) / med(base["wall"])
            targets.append((f"import -c ≤ 0.5× umoci unpack + build -c ({tag})",
                            f"{t:.2f}×", t <= 0.5))
            for name in ("import -c", "import -c --frame-size 256K"):
                if name in res[tag]:
                    sz = med(res[tag][name]["bytes"]) / src
                    targets.append((f"{name} output ≤ the source's tar.gz layers ({tag})",
                                    f"{sz:.2f}×", sz <= 1.0))
    a = res.get("v2 after v1", {}).get("import -c")
    v1, v2 = img["v1"], img["v2"]
    lay = ", ".join(f"{tag}: {len(ls)} layer{'s' if len(ls) > 1 else ''} of "
                    + " + ".join(f"{l['size'] / 1e6:.1f}" for l in ls) + " MB"
                    for tag, ls in img["layers"].items() if tag in ("v1", "v2"))
    return "\n\n".join(x for x in [
        conditions(im),
        f"The image: deb-v1 (Debian 12 minbase by debootstrap, {v1['bytes'] / 1e6:.0f} MB, "
        f"{v1['entries']} entries) as a one-layer image, tag v1, and deb-v2 (its update: "
        f"dist-upgrade and {', '.join(im['packages_added'])}; {v2['bytes'] / 1e6:.0f} MB, "
        f"{v2['entries']} entries) as a second layer on it, tag v2, both made by "
        f"{im['umoci']} (unpack, new rootfs, repack: gzip layers) — {lay}. "
        "Each tool starts from the OCI layout in the page cache and writes a fresh "
        "directory; `umoci + build -c` is `umoci unpack` followed by `puzzlefs build -c` of "
        "its rootfs; `tar -xzf` extracts the tag's layers in turn (whiteouts not applied). "
        "Output: the bytes the tool wrote (the OCI directory; tar: the tree); × source: "
        "over the tag's tar.gz layers.",
        table(["tag", "tool", "time s", "CPU s", "peak RSS MiB", "output MB", "× source"],
              rows),
        (f"v2 imported into the directory that holds v1 (its base layer and chunks are "
         f"v1's): {fmt(a['wall'])} s, adds {med(a['bytes']) / 1e6:.1f} MB.") if a else None]
        if x)


def fuse_section(f, targets):
    if not f:
        return "_Not run yet: `bench/run.sh --sections fuse`._"
    sy = f["systems"]
    rows = []
    for name, v in sy.items():
        s = v["summary"]
        rows.append([name, "kernel" if v["kernel"] else fmt(s["threads"], digits=0),
                     fmt(s["mount_ms"], digits=1), fmt(s.get("mount_warm_ms"), digits=1),
                     fmt(s["cold_read_s"]),
                     fmt(s["warm_read_s"]), fmt(s["cold_stat_s"], digits=3),
                     fmt(s["warm_stat_s"], digits=3),
                     f"{fmt(s['rand_mean_us'], digits=0)} / {fmt(s['rand_p99_us'], digits=0)}",
                     fmt(s["rss_peak_kb"], 1 / 1024, 1), fmt(s["daemon_cpu_s"])])
    parts = [conditions(f),
             f"{f['corpus']['entries']} entries, {f['corpus']['bytes'] / 1e6:.0f} MB. "
             "Times in seconds (median, min–max), one client thread (bench/tools/fsbench.c); "
             f"random: {f['rand_reads']} reads of 4 KiB, mean / p99 µs. Threads: the most the "
             "daemon had during the cold read. Daemon RSS: peak (VmHWM) after the cold read.",
             table(["file system", "daemon threads", "mount ready ms (cold)",
                    "mount ready ms (warm)", "cold read s",
                    "warm read s", "cold stat s", "warm stat s", "random 4K µs",
                    "daemon peak RSS MiB", "daemon CPU s (cold read)"], rows)]
    ll = sy.get("squashfuse_ll", {}).get("summary")
    if ll:
        rows, plot = [], []
        for name in ("puzzlefs", "puzzlefs -c"):
            if name not in sy:
                continue
            s = sy[name]["summary"]
            cr = med(s["cold_read_s"]) / med(ll["cold_read_s"])
            cs = med(s["cold_stat_s"]) / med(ll["cold_stat_s"])
            ws = med(s["warm_stat_s"]) / med(ll["warm_stat_s"])
            mt, mw = med(s["mount_ms"]), med(s.get("mount_warm_ms"))
            rows.append([name, f"{cr:.2f}×", f"{cs:.2f}×", f"{ws:.2f}×",
                         ratio(med(s["warm_read_s"]), med(ll["warm_read_s"])),
                         ratio(med(s["rand_mean_us"]), med(ll["rand_mean_us"]))])
            targets += [(f"FUSE cold read ≤ 0.8× squashfuse_ll ({name})", f"{cr:.2f}×", cr <= 0.8),
                        (f"FUSE cold stat-all ≤ 1.0× squashfuse_ll ({name})", f"{cs:.2f}×", cs <= 1.0),
                        (f"FUSE warm stat-all ≤ 0.3× squashfuse_ll ({name})", f"{ws:.2f}×", ws <= 0.3),
                        (f"mount ready ≤ 50 ms, image in the page cache ({name})",
                         f"{mw:.1f} ms" if mw else "-", mw <= 50 if mw else None),
                        (f"mount ready ≤ 50 ms, all caches dropped ({name})",
                         f"{mt:.1f} ms", mt <= 50),
                        (f"daemon RSS reported ({name})",
                         f"{med(s['rss_peak_kb']) / 1024:.0f} MiB peak", None)]
        parts.append("Ratios to squashfuse_ll (lower is better):\n\n" + table(
            ["", "cold read", "cold stat", "warm stat", "warm read", "random 4K"], rows))
        metrics = [("cold read", "cold_read_s"), ("warm read", "warm_read_s"),
                   ("cold stat", "cold_stat_s"), ("warm stat", "warm_stat_s"),
                   ("random 4K", "rand_mean_us")]
        names = list(sy)
        for label, k in metrics:
            plot.append((label, [med(sy[n]["summary"][k]) / med(ll[k])
                                 if med(sy[n]["summary"][k]) else None for n in names]))
        png = bars("fuse", "Read benchmarks relative to squashfuse_ll (lower is better)",
                   "time / squashfuse_ll time", plot, names, logscale=True)
        if png:
            parts.append(f"![fuse]({png})")
    return "\n\n".join(parts)


def frames_section(fr):
    if not fr:
        return "_Not run yet: `bench/run.sh --sections frames`._"
    sz = fr["sizes"]
    base = sz.get("4096", {}).get("bytes")
    rows, data = [], "frame\tMB\trand\thot\n"
    for k, v in sorted(sz.items(), key=lambda kv: int(kv[0])):
        rows.append([f"{int(k) // 1024} KiB", f"{v['bytes'] / 1e6:.1f}", ratio(v["bytes"], base),
                     fmt(v["build_s"]), fmt(v["build_cpu_s"]), fmt(v["cold_read_s"]),
                     f"{fmt(v['rand_mean_us'], digits=0)} / {fmt(v.get('rand_p50_us'), digits=0)}"
                     f" / {fmt(v['rand_p99_us'], digits=0)}",
                     f"{fmt(v['hot_mean_us'], digits=0)} / {fmt(v.get('hot_p50_us'), digits=0)}"
                     f" / {fmt(v['hot_p99_us'], digits=0)}"])
        data += f"{int(k) // 1024}K\t{v['bytes'] / 1e6:.2f}\t{med(v['rand_mean_us']):.1f}\t{med(v['hot_mean_us']):.1f}\n"
    script = ("set title 'Frame size: image size against random 4 KiB read latency'\n"
              "set xlabel 'image MB'\nset ylabel 'mean latency µs'\nset yrange [0:*]\n"
              "plot 'DAT' using 2:3 with linespoints pt 7 title 'random over the tree (cold)', "
              "'' using 2:3:1 with labels offset 0,1 notitle, "
              "'' using 2:4 with linespoints pt 5 title 'random in one file (chunks cached)', "
              "'' using 2:4:1 with labels offset 0,1 notitle\n")
    png = gnuplot("frames", script, data)
    return "\n\n".join(x for x in [
        conditions(fr),
        f"`puzzlefs build -c --frame-size N` of /usr/share. Random reads through FUSE, "
        f"after a fresh mount with caches dropped: 2000 over the whole tree, and "
        f"{fr['hot_reads']} inside `{fr['hot_file']}` ({fr['hot_bytes'] / 1e6:.0f} MB; "
        "its chunks are soon in the daemon's cache, its frames are not yet decompressed).",
        table(["frame", "image MB", "× 4 KiB", "build s", "build CPU s", "cold read s",
               "random 4K µs mean / p50 / p99",
               "random in one file µs mean / p50 / p99"], rows),
        f"![frames]({png})" if png else None, note("frames.md")] if x)


def frontier_section(fr):
    if not fr:
        return "_Not run yet: `bench/run.sh --sections frontier`._"
    shape = fr["settings"]
    parts = [conditions(fr),
             "`puzzlefs build -c` at other zstd levels and frame sizes, side by side with "
             "the peers of the build targets (same run, interleaved and rotated). "
             "256 KiB frames: one frame per chunk (FastCDC's largest is 256 KiB), as casync "
             "compresses each chunk; a random read then decompresses up to a whole chunk. "
             "Both targets: time ≤ 1.0× `tar | zstd -3 -T2` and size ≤ the casync store."]
    data = "level\tcorpus\tframe\ttime\tsize\n"
    for name, c in fr["corpora"].items():
        t = c["tools"]
        tar, cas = med(t["tar|zstd"]["wall"]), med(t["casync"]["bytes"])
        rows, both = [], []
        order = sorted(t, key=lambda x: (x not in shape, shape.get(x, {}).get("frame", 0),
                                         shape.get(x, {}).get("level", 0), x))
        for tool in order:
            r, sh = t[tool], shape.get(tool)
            w, sz = med(r["wall"]), med(r["bytes"])
            ok = w <= tar and sz <= cas
            if sh:
                both += [tool] if ok else []
                data += f"{sh['level']}\t{name}\t{sh['frame']}\t{w / tar:.4f}\t{sz / cas:.4f}\n"
            default = sh and sh["level"] == 3 and sh["frame"] == 32768
            rows.append([tool + (" (default)" if default else ""),
                         sh["level"] if sh else "-",
                         (f"{sh['frame'] // 1024} KiB" if sh else "-"),
                         fmt(r["wall"]), ratio(w, tar), f"{med(r['user']) + med(r['sys']):.2f}",
                         fmt(r["bytes"], 1e-6, 1), ratio(sz, cas, 3),
                         ("both" if ok else "-") if sh else ""])
        parts.append(f"### {CORPUS_TITLE.get(name, name)}\n\n" + table(
            ["setting", "zstd level", "frame", "time s", "× tar\\|zstd", "CPU s (user + sys)",
             "output MB", "size × casync", "targets met"], rows)
            + "\n\nSettings meeting both targets: "
            + (", ".join(f"`{x}`" for x in both) if both else "**none**") + ".")
    series = []
    for i, n in enumerate(fr["corpora"]):
        for frame, pt, what in ((32768, 7, "32 KiB frames"), (262144, 9, "256 KiB frames")):
            sel = f"(strcol(2) eq '{n}' && $3 == {frame} ? $4 : 1/0)"
            series.append(f"'DAT' using {sel}:5 with points pt {pt} ps 1.4 lc {i + 1} "
                          f"title '{CORPUS_TITLE.get(n, n)}, {what}'")
            series.append(f"'' using {sel}:5:(sprintf('L%d', $1)) with labels "
                          "offset 1.6,0 font ',8' notitle")
    script = ("set title 'build -c: time and size against the peers (the targets: both ≤ 1; "
              "labels: zstd level)'\nset xlabel 'time / tar|zstd -3 -T2'\n"
              "set ylabel 'size / casync store'\nset key inside right top noenhanced\nset title noenhanced\n"
              "set xlabel noenhanced\n"
              "set arrow from 1, graph 0 to 1, graph 1 nohead dt 2\n"
              "set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2\n"
              "plot " + ", ".join(series) + "\n")
    png = gnuplot("frontier", script, data)
    if png:
        parts.append(f"![frontier]({png})")
    parts.append(note("frontier.md"))
    return "\n\n".join(parts)


def kernel_section(k, targets):
    if k and k.get("available"):
        r = k.get("ratios", {}).get("puzzlefs / erofs", {})
        for key, label in (("cold read all (ms)", "cold read"), ("cold stat all (ms)", "cold stat")):
            v = r.get(key)
            targets.append((f"kernel module {label} ≤ 1.2× EROFS (puzzlefs / erofs, in qemu)",
                            f"{v:.2f}×" if v else "-", v <= 1.2 if v else None))
        return (f"From `bench/kernel/run.py` (the kernel module's own benchmark, one qemu "
                f"TCG guest boot), last written {k['date']}. Absolute times are those of an "
                "emulated CPU; compare the ratios.\n\n" + k["markdown"].strip())
    targets.append(("kernel module ≤ 1.2× EROFS", "not measured yet", None))
    return ("> **NOT READY.** The kernel module's benchmark has not produced results on this "
            "machine yet (no `build/kernel-bench/results.md`). The benchmark is "
            "`bench/kernel/run.py` (issue 4 item 6): puzzlefs.ko against kernel EROFS in one "
            "qemu guest boot. To run it and fold it in here:\n>\n"
            ">     make && bench/run.sh --sections kernel\n>\n"
            "> (or run `bench/kernel/run.py` alone and then `bench/run.sh --report-only`).")


def registry_section(rg, targets):
    if not rg:
        return "_Not run yet: `bench/run.sh --sections registry`._"
    full = rg.get("skopeo_full")
    parts = [conditions(rg),
             f"`puzzlefs push` / `pull` through {rg['registry']} on 127.0.0.1 (TLS, "
             "anonymous, filesystem storage; the test suite's fixture), against "
             f"`{rg['skopeo']}` `copy` (oci: ↔ docker://) on the same registry in the same "
             "run. Each puzzlefs push goes to a new repository and each pull into a new "
             "directory; re-push: the same image to the same tag again. CPU: user + system "
             "seconds of the client, and of the registry process meanwhile. Blobs/s: blobs "
             "moved / wall seconds. skopeo copied each image once (it takes minutes to "
             "hours): the /usr/share/doc subset images, and " +
             ("the whole images; the targets are taken against the whole images." if full else
              "not the whole images: their time is scaled from the subset linearly in "
              "blobs, which underestimates it (skopeo slows down as an image grows: see the "
              "note below), so the ratios to it are upper bounds.") +
             " The subset table compares both tools on the subset directly."]
    for flavor, im in rg["images"].items():
        sub = rg["subset"][flavor]
        scale = im["blobs"] / sub["blobs"]
        rows = []
        for op in ("push", "pull"):
            m = im[op]
            w = med(m["wall"])
            sk, k = im.get(f"skopeo_{op}"), 1.0
            if not sk:
                sk, k = sub.get(f"skopeo_{op}"), scale
            sk_wall = sk["wall"] * k if sk else None
            rows.append([f"puzzlefs {op}", im["blobs"], f"{im['bytes'] / 1e6:.0f}",
                         fmt(m["wall"]), f"{im['blobs'] / w:.0f}", fmt(m["cpu"]),
                         fmt(m["reg_cpu"]), fmt(m["requests"], digits=0),
                         ratio(w, sk_wall, 3)])
            if sk:
                rows.append([f"skopeo {op}" + ("" if k == 1.0 else " (scaled)"),
                             im["blobs"], f"{im['bytes'] / 1e6:.0f}", f"{sk_wall:.0f}",
                             f"{im['blobs'] / sk_wall:.1f}", f"{sk['cpu'] * k:.0f}",
                             f"{sk['reg_cpu'] * k:.0f}", "-", "1×"])
                targets.append((f"registry {op} ≤ 0.05× `skopeo copy` ({flavor}, /usr/share"
                                + ("" if k == 1.0 else ", skopeo scaled") + ")",
                                ratio(w, sk_wall, 3), w / sk_wall <= 0.05))
        rp = im["repush"]
        rows.append(["puzzlefs re-push (unchanged)", im["blobs"], "-", fmt(rp["wall"]),
                     "-", fmt(rp["cpu"]), fmt(rp["reg_cpu"]), fmt(rp["requests"], digits=0),
                     "-"])
        targets.append((f"re-push of an unchanged image ≤ 2 s ({flavor}, /usr/share)",
                        f"{med(rp['wall']):.2f} s", med(rp["wall"]) <= 2))
        parts.append(f"### /usr/share, {'plain' if flavor == 'plain' else '-c'}\n\n" + table(
            ["", "blobs", "MB", "time s", "blobs/s", "client CPU s", "registry CPU s",
             "requests", "× skopeo"], rows))
    rows = []
    for flavor, sub in rg["subset"].items():
        for op in ("push", "pull"):
            sk = sub.get(f"skopeo_{op}")
            w = med(sub[op]["wall"])
            rows.append([f"{flavor}: {op}", sub["blobs"], fmt(sub[op]["wall"]),
                         f"{sk['wall']:.1f}" if sk else "-",
                         ratio(w, sk["wall"], 3) if sk else "-",
                         fmt(sub[op]["cpu"]), f"{sk['cpu']:.1f}" if sk else "-"])
    parts.append("### The /usr/share/doc subset, both tools\n\n" + table(
        ["image: operation", "blobs", "puzzlefs s", "skopeo s", "× skopeo",
         "puzzlefs CPU s", "skopeo CPU s"], rows))
    d = rg.get("delta")
    if d:
        parts.append("### A delta v2 after v1\n\n"
                     f"v1 is the plain /usr/share image ({d['v1_blobs']} blobs), already in "
                     "the repository; v2 (`build -b`) adds 100 files and appends a line to 20 "
                     f"others: {d['v2_blobs']} blobs, {d['new_blobs']} of them not in v1. "
                     f"Pushing v2 uploaded {d['uploaded']} blobs ({d['present']} found "
                     f"present) in {d['wall']:.2f} s, {d['requests']} requests.")
        targets.append(("a delta v2 pushed after v1 uploads only v2's new blobs",
                        f"{d['uploaded']} uploaded, {d['new_blobs']} new",
                        d["uploaded"] == d["new_blobs"]))
    parts.append(note("registry.md"))
    return "\n\n".join(parts)


def before_after(ctx):
    """The same measurements with the binary before the optimizations
    (bench.py --puzzlefs OLD --results WORK/results-baseline), if kept."""
    bdir = os.path.join(ctx.work, "results-baseline")
    ob, nb = load(bdir, "build"), load(ctx.results, "build")
    of, nf = load(bdir, "fuse"), load(ctx.results, "fuse")
    rows = []

    def tool(d, t, k, scale=1.0):
        try:
            return med(d["corpora"]["share"]["tools"][t][k], scale)
        except (KeyError, TypeError):
            return None

    def fs(d, n, k):
        try:
            return med(d["systems"][n]["summary"][k])
        except (KeyError, TypeError):
            return None

    def row(label, a, b, unit, digits=2):
        if a is None or b is None:
            return
        f = f"{{:.{digits}f}}"
        rows.append([label, f"{f.format(a)} {unit}", f"{f.format(b)} {unit}",
                     f"{(b - a) / a * 100:+.0f}%"])

    for t in ("puzzlefs", "puzzlefs -c"):
        row(f"`{t.replace('puzzlefs', 'build')}` /usr/share: time", tool(ob, t, "wall"),
            tool(nb, t, "wall"), "s")
        a, b = tool(ob, "tar|zstd", "wall"), tool(nb, "tar|zstd", "wall")
        if a and b and tool(ob, t, "wall") and tool(nb, t, "wall"):
            row(f"`{t.replace('puzzlefs', 'build')}`: time / tar\|zstd (same run)",
                tool(ob, t, "wall") / a, tool(nb, t, "wall") / b, "×")
        row(f"`{t.replace('puzzlefs', 'build')}`: CPU (user + sys)",
            (tool(ob, t, "user") or 0) + (tool(ob, t, "sys") or 0) or None,
            (tool(nb, t, "user") or 0) + (tool(nb, t, "sys") or 0) or None, "s")
        row(f"`{t.replace('puzzlefs', 'build')}`: output", tool(ob, t, "bytes", 1e-6),
            tool(nb, t, "bytes", 1e-6), "MB", 1)
    for n in ("puzzlefs", "puzzlefs -c"):
        for label, k, unit, dg in (("cold read", "cold_read_s", "s", 2),
                                   ("cold stat", "cold_stat_s", "s", 3),
                                   ("warm stat", "warm_stat_s", "s", 3),
                                   ("mount ready, cold", "mount_ms", "ms", 1),
                                   ("mount ready, warm", "mount_warm_ms", "ms", 1),
                                   ("random 4 KiB read", "rand_mean_us", "µs", 0),
                                   ("daemon CPU in the cold read", "daemon_cpu_s", "s", 2),
                                   ("daemon peak RSS", "rss_peak_kb", "KiB", 0)):
            row(f"FUSE {n}: {label}", fs(of, n, k), fs(nf, n, k), unit, dg)
        a, b = fs(of, "squashfuse_ll", "cold_read_s"), fs(nf, "squashfuse_ll", "cold_read_s")
        if a and b and fs(of, n, "cold_read_s") and fs(nf, n, "cold_read_s"):
            row(f"FUSE {n}: cold read / squashfuse_ll (same run)",
                fs(of, n, "cold_read_s") / a, fs(nf, n, "cold_read_s") / b, "×")
    if not rows:
        return ("_No baseline results (WORK/results-baseline): run the suite with the "
                "old binary, `bench/bench.py --puzzlefs OLD --results "
                "/var/tmp/pfs-bench/results-baseline --no-report`._")
    m = (ob or of or {}).get("_meta", {})
    return (f"Before: the binary of the last commit before these changes, measured "
            f"{m.get('date', '?')} (same harness, same corpora; the -c default was "
            "4 KiB frames then). After: this run. Absolute times move with this "
            "machine's load between the two runs; the ratios to a peer measured in the "
            "same run do not.\n\n" +
            table(["", "before", "after", "change"], rows))


def write(ctx):
    targets = []
    b, d, f = load(ctx.results, "build"), load(ctx.results, "dedup"), load(ctx.results, "fuse")
    fr, k = load(ctx.results, "frames"), load(ctx.results, "kernel")
    fo = load(ctx.results, "frontier")
    im = load(ctx.results, "import")
    rg = load(ctx.results, "registry")
    sections = [("Build", build_section(b, targets)),
                ("Dedup: two versions of an image", dedup_section(d, targets)),
                ("FUSE read (/usr/share)", fuse_section(f, targets)),
                ("Frame-size study for `build -c`", frames_section(fr)),
                ("Size against time for `build -c`: zstd level and frame size",
                 frontier_section(fo)),
                ("Kernel module vs kernel EROFS (qemu guest)", kernel_section(k, targets)),
                ("Import: a Debian image with tar layers", import_section(im, targets)),
                ("Registry: push and pull", registry_section(rg, targets))]
    passed = sum(1 for t in targets if t[2] is True)
    failed = sum(1 for t in targets if t[2] is False)
    doc = ["# Benchmark results",
           f"Written by `make bench` (`bench/run.sh`) on {time.strftime('%Y-%m-%d %H:%M %Z')} from "
           "the saved results of each section (each section says when it was measured). "
           "Do not edit: the hand-written parts come from `bench/notes/`.",
           "## Targets",
           f"{passed} met, {failed} missed.",
           table(["target", "measured", "result"],
                 [(t[0], t[1], verdict(t[2])) for t in targets]),
           note("summary.md"),
           "## Conditions",
           table(["", ""], machine()),
           "Each number is the median of the runs with the range (min–max). Peers run side "
           "by side in the same run, interleaved (builds also rotated: each run starts with "
           "the next tool, so that no tool always inherits the memory its predecessor "
           "freed). Builds read their input from a warm page "
           "cache and write to the same ext4 file system; `puzzlefs build` makes its output "
           "durable (fsync, syncfs) before it returns, the peers do not. Cold reads drop the "
           "guest's page cache, dentries and inodes (`echo 3 > /proc/sys/vm/drop_caches`) "
           "after a fresh mount.",
           "### Versions", table(["tool", "version"], versions(ctx.puzzlefs)),
           "### Threads",
           "Build: `puzzlefs build` runs one walker thread (reads, FastCDC) and one worker per "
           "CPU (compress, hash, store): 2 here, plus one that syncs full batches of blobs; "
           "`tar | zstd -3 -T2`: tar plus 2 zstd "
           "workers; `casync make` and `mkfs.erofs` one thread; `mksquashfs` one compressor "
           "per CPU plus reader/writer threads. The tables give the most threads seen at once "
           "and the average cores used (CPU time / wall time). FUSE: the daemons' thread "
           "counts are in the FUSE table; the client is always one thread."]
    for title, body in sections:
        doc += [f"## {title}", body]
    doc += ["## Optimizations", note("optimizations.md"),
            "### Before and after", before_after(ctx),
            "## How to run", note("howto.md")]
    with open(os.path.join(BENCH, "RESULTS.md"), "w") as fh:
        fh.write("\n\n".join(doc) + "\n")
    log(f"wrote bench/RESULTS.md ({passed} targets met, {failed} missed)")
