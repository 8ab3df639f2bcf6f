#!/usr/bin/python3
"""The benchmark suite (issue 5; issue 3 item 8): bench/run.sh calls this.

    bench/run.sh [--sections build,dedup,fuse,frames,frontier,kernel,import,registry] [--runs N]
                 [--corpora share,lib,...] [--tools ...] [--systems ...]
                 [--quick] [--no-wait] [--no-kernel] [--report-only]

Results go to WORK/results/SECTION.json (a run of some sections keeps the
others' earlier results), then bench/RESULTS.md and bench/plots/*.png are
written from all of them."""
import argparse
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pfsbench import build, common, dedup, frames, frontier, fuse, imports, kernel, report  # noqa: E402
from pfsbench import registry  # noqa: E402
from pfsbench.common import REG, TOP, log, sh, source_state  # noqa: E402

SECTIONS = {"build": build.run, "dedup": dedup.run, "fuse": fuse.run,
            "frames": frames.run, "frontier": frontier.run, "kernel": kernel.run,
            "import": imports.run, "registry": registry.run}


class Ctx:
    def __init__(self, a):
        self.a = a
        self.work = os.path.abspath(a.work)
        self.results = os.path.abspath(a.results) if a.results else \
            os.path.join(self.work, "results")
        self.puzzlefs = os.path.abspath(a.puzzlefs)
        self.source = source_state()    # what run.sh has just built
        self.runs = a.runs
        self.run_kernel = not a.no_kernel
        self.want_memory = not a.no_memory
        self.partial_systems = bool(a.systems)
        self.trash = os.path.join(self.work, "trash")
        self.fsbench = os.path.join(self.work, "fsbench")
        self.load_start = common.loadavg()
        self.waited = 0.0
        self._n = 0

    def _pick(self, given, default):
        if not given:
            return default
        chosen = [x.strip() for x in given.split(",") if x.strip()]
        return chosen

    def corpora(self, default):
        return self._pick(self.a.corpora, default)

    def tools(self, default):
        return self._pick(self.a.tools, default)

    def systems(self, default):
        return self._pick(self.a.systems, default)

    def previous(self, section):
        return common.load(self.results, section)

    def trash_later(self, path):
        """Outputs with many files are deleted at the end of the run, not
        between measurements (see build.py)."""
        os.makedirs(self.trash, exist_ok=True)
        self._n += 1
        os.rename(path, os.path.join(self.trash, f"{os.getpid()}.{self._n}"))


def stale_cleanup(work):
    """Mounts and loop devices a killed earlier run left under WORK."""
    with open("/proc/self/mountinfo") as f:
        mnts = [line.split()[4] for line in f]
    for m in reversed(mnts):
        if m.startswith(work + "/"):
            sh(["umount", "-l", m], check=False)
    for line in common.out(["losetup", "-n", "-O", "NAME,BACK-FILE", "-l"]).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith(work + "/"):
            sh(["losetup", "-d", parts[0]], check=False)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help="comma-separated, of: " + ", ".join(SECTIONS))
    ap.add_argument("--runs", type=int, default=3, help="repetitions (default 3)")
    ap.add_argument("--corpora", help="build and frontier sections: corpora to use "
                    f"(default {','.join(build.CORPORA)})")
    ap.add_argument("--tools", help="build section: tools (default all: "
                    + ",".join(build.PEERS) + ")")
    ap.add_argument("--systems", help="fuse section: file systems (default all: "
                    + ",".join(fuse.ALL) + ")")
    ap.add_argument("--no-memory", action="store_true",
                    help="skip the build-memory pair (share, share+lib)")
    ap.add_argument("--quick", action="store_true",
                    help="development: 1 run, /usr/share only, no kernel run")
    ap.add_argument("--no-wait", action="store_true",
                    help="do not wait for a quiet machine (load < 1, no qemu)")
    ap.add_argument("--no-kernel", action="store_true",
                    help="do not run bench/kernel/run.py (the qemu TCG guest, "
                    "~10 minutes): the kernel section keeps its last table")
    ap.add_argument("--skopeo-full", action="store_true",
                    help="registry section: skopeo copies the whole /usr/share "
                    "images (hours) instead of /usr/share/doc, scaled")
    ap.add_argument("--report-only", action="store_true",
                    help="only write RESULTS.md and the plots from saved results")
    ap.add_argument("--work", default="/var/tmp/pfs-bench")
    ap.add_argument("--results", help="where results go (default WORK/results); "
                    "e.g. a baseline binary's numbers kept apart")
    ap.add_argument("--no-report", action="store_true",
                    help="do not rewrite RESULTS.md (runs of a baseline binary)")
    ap.add_argument("--puzzlefs", default=os.path.join(TOP, "build-bench", "puzzlefs"))
    a = ap.parse_args()
    if a.quick:
        a.runs = 1
        a.corpora = a.corpora or "share"
        a.no_memory = True
        a.no_kernel = True
    ctx = Ctx(a)
    if not a.report_only:
        if os.geteuid() != 0:
            sys.exit("bench: run as root (mounts, loop devices, drop_caches)")
        os.makedirs(ctx.work, exist_ok=True)
        stale_cleanup(ctx.work)
        if os.path.exists(ctx.trash):
            log("deleting a previous run's outputs, then letting ext4 settle")
            shutil.rmtree(ctx.trash, ignore_errors=True)
            time.sleep(40)
        sh(["cc", "-O2", "-Wall", "-Wextra", "-o", ctx.fsbench,
            os.path.join(TOP, "bench", "tools", "fsbench.c")])
        common.install_signal_cleanup()
        t0 = time.monotonic()
        try:
            for s in a.sections.split(","):
                if s not in SECTIONS:
                    sys.exit(f"bench: unknown section {s}")
                if not a.no_wait and s != "kernel":
                    ctx.waited += common.wait_quiet()
                # The load a section starts with (after the wait), not
                # the load the whole run was started with.
                ctx.load_start = common.loadavg()
                log(f"section {s} (load {ctx.load_start:.2f})")
                SECTIONS[s](ctx)
        finally:
            REG.cleanup()
            log(f"deleting outputs ({time.monotonic() - t0:.0f} s so far)")
            shutil.rmtree(ctx.trash, ignore_errors=True)
        log(f"all sections done in {time.monotonic() - t0:.0f} s")
    if not a.no_report:
        report.write(ctx)


if __name__ == "__main__":
    main()
