"""Kernel module against kernel EROFS, in one qemu guest boot:
bench/kernel/run.py does the work (issue 4 item 6); this
section runs it (unless --no-kernel or --quick: it takes about ten minutes
under TCG) and otherwise takes the table it last wrote, with its date."""
import os
import re
import subprocess
import time

from .common import TOP, log, save

RESULTS = os.path.join(TOP, "build", "kernel-bench", "results.md")
SCRIPT = os.path.join(TOP, "bench", "kernel", "run.py")


def parse(text):
    """The ratio rows: {"puzzlefs / erofs": {"cold read all (ms)": 1.05, ...}}."""
    ratios, header = {}, None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells and cells[0] == "ratio":
            header = cells[1:]
        elif header and "/" in cells[0] and len(cells) == len(header) + 1:
            ratios[cells[0]] = {h: float(v.rstrip("x")) if re.match(r"^[\d.]+x$", v)
                                else None for h, v in zip(header, cells[1:])}
    return ratios


def run(ctx):
    if ctx.run_kernel:
        if not os.path.exists(SCRIPT):
            log("kernel: bench/kernel/run.py is not there")
        else:
            log("kernel: running bench/kernel/run.py (a qemu TCG guest; slow)")
            subprocess.run(["/usr/bin/python3", SCRIPT, "--runs", str(ctx.runs)],
                           check=False)
    data = {"script": os.path.exists(SCRIPT), "available": os.path.exists(RESULTS)}
    if data["available"]:
        with open(RESULTS) as f:
            data["markdown"] = f.read()
        data["date"] = time.strftime("%Y-%m-%d %H:%M",
                                     time.localtime(os.path.getmtime(RESULTS)))
        data["ratios"] = parse(data["markdown"])
    save(ctx, "kernel", data)
