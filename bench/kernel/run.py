#!/usr/bin/python3
"""Kernel benchmark (issue 4, acceptance 6): puzzlefs.ko against kernel EROFS
in one qemu boot (TCG, the only accelerator here), on the same tree.

    bench/kernel/run.py [--tree DIR]... [--runs N] [--out FILE]

Builds the tree's images on the host (puzzlefs build, build -c; mkfs.erofs
plain and lz4hc), puts them on an ext4 disk, boots the test guest of
tests/kernel with bench/kernel/bench.sh as its job, and prints a table of
medians (min-max) per file system: mount, cold sequential read of every
file, cold and warm stat of every entry, and the ratios to EROFS.  Needs
`make` (build/puzzlefs) first; run as root.  The absolute numbers are those
of an emulated CPU and disk; the ratios are what to compare.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "kernel"))
import images  # noqa: E402
import kharness  # noqa: E402

KINDS = ["erofs", "puzzlefs", "erofs-lz4", "puzzlefs-zstd"]


def prepare(trees, stage, tmp):
    src = os.path.join(tmp, "tree")
    os.makedirs(src)
    for t in trees:
        subprocess.run(["cp", "-a", t, os.path.join(src, os.path.basename(t.rstrip("/")))],
                       check=True)
    pfs = os.path.join(TOP, "build", "puzzlefs")
    oci = os.path.join(stage, "oci")
    images.build(pfs, src, oci, "plain")
    images.build(pfs, src, oci, "zstd", "-c")
    subprocess.run(["mkfs.erofs", os.path.join(stage, "tree.erofs"), src],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["mkfs.erofs", "-zlz4hc", os.path.join(stage, "tree-lz4.erofs"),
                    src], check=True, stdout=subprocess.DEVNULL)
    files = sum(len(f) + len(d) for _, d, f in os.walk(src))
    size = int(subprocess.run(["du", "-sb", src], capture_output=True,
                              text=True).stdout.split()[0])
    return {"PLAIN": images.manifest_of(oci, "plain"),
            "ZSTD": images.manifest_of(oci, "zstd")}, files, size


def table(data, runs, entries, size):
    def vals(kind, what, field):
        out = []
        for r in range(1, runs + 1):
            v = data.get(f"{kind}.{what}.{r}")
            if v is None:
                continue
            words = v.split()
            out.append(float(words[field]))
        return out

    metrics = [("mount (ms)", "mount", 0, 1), ("cold read all (ms)", "read", 4, 1),
               ("cold stat all (ms)", "stat", 2, 1), ("warm stat all (ms)", "warmstat", 2, 1)]
    lines = [f"Tree: {entries} entries, {size / 1e6:.0f} MB; {runs} runs, "
             f"median (min-max); qemu TCG guest, {data.get('cpus', '?')} vCPUs.", "",
             "| file system | " + " | ".join(m[0] for m in metrics) + " |",
             "|---" * (len(metrics) + 1) + "|"]
    med = {}
    for kind in KINDS:
        cells = []
        for name, what, field, scale in metrics:
            v = [x * scale for x in vals(kind, what, field)]
            if not v:
                cells.append("-")
                continue
            m = statistics.median(v)
            med[(kind, what)] = m
            cells.append(f"{m:.0f} ({min(v):.0f}-{max(v):.0f})")
        lines.append(f"| {kind} | " + " | ".join(cells) + " |")
    lines += ["", "| ratio | " + " | ".join(m[0] for m in metrics) + " |",
              "|---" * (len(metrics) + 1) + "|"]
    for ours, base in (("puzzlefs", "erofs"), ("puzzlefs-zstd", "erofs-lz4"),
                       ("puzzlefs-zstd", "erofs")):
        cells = []
        for _, what, _, _ in metrics:
            a, b = med.get((ours, what)), med.get((base, what))
            cells.append(f"{a / b:.2f}x" if a and b else "-")
        lines.append(f"| {ours} / {base} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tree", action="append",
                    help="directory to include (default /usr/share/doc and "
                         "/usr/lib/python3)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(TOP, "build", "kernel-bench",
                                                  "results.md"))
    a = ap.parse_args()
    trees = a.tree or ["/usr/share/doc", "/usr/lib/python3"]
    work = os.path.join(TOP, "build", "kernel-bench")
    os.makedirs(work, exist_ok=True)
    kver = kharness.kernel_version()
    kroot = kharness.fetch_kernel(kver)
    ko = kharness.build_module()
    ktool = kharness.build_static(os.path.join(TOP, "tests", "kernel", "ktool.c"),
                                  os.path.join(kharness.WORK, "bin", "ktool"))
    stage = os.path.join(work, "stage")
    shutil.rmtree(stage, ignore_errors=True)
    os.makedirs(stage)
    with tempfile.TemporaryDirectory(dir=work) as tmp:
        meta, entries, size = prepare(trees, stage, tmp)
    meta["RUNS"] = str(a.runs)
    meta["KINDS"] = " ".join(KINDS)
    with open(os.path.join(stage, "meta.sh"), "w") as f:
        for k, v in meta.items():
            f.write(f"{k}='{v}'\n")
    disk = kharness.make_disk(stage, os.path.join(work, "data.img"), extra_mb=128)
    shutil.rmtree(stage)
    files = {"/bin/ktool": ktool, "/puzzlefs.ko": ko,
             "/lib.sh": os.path.join(TOP, "tests", "kernel", "guest", "lib.sh"),
             "/job.sh": os.path.join(HERE, "bench.sh")}
    with open(os.path.join(TOP, "tests", "kernel", "guest", "init.sh")) as f:
        init = f.read()
    initrd = kharness.make_initramfs(os.path.join(work, "initramfs.cpio"), kver,
                                     kroot, files, init)
    kharness.log("booting the benchmark guest")
    reports, console, secs = kharness.run_guest(
        kroot, kver, initrd, [(disk, True)], 3600, mem="3G",
        log_path=os.path.join(work, "console.log"))
    os.unlink(disk)
    for n, lines in reports["notes"].items():
        for line in lines:
            print(f"note {n}: {line}")
    if not reports["done"] or reports["panic"]:
        print(f"the guest failed (panic: {reports['panic']}); see {work}/console.log")
        return 1
    out = table(reports["data"], a.runs, entries, size)
    print(out)
    with open(a.out, "w") as f:
        f.write(out + "\n")
    print(f"(written to {a.out}; guest ran {secs:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
