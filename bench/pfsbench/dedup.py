"""Dedup: the storage two versions of an image take (deb-v1, then deb-v2,
an update of it).  puzzlefs as a delta (build -b v1) and as a second full
build into the same OCI directory, plain and -c; casync with one store for
both; two tar.zst layers (what an OCI registry stores for two versions of
a tar-layer image)."""
import os
import time

from . import corpora
from .common import log, measure, save, stats, tree_size

SCHEMES = ["puzzlefs delta", "puzzlefs fresh", "puzzlefs -c delta",
           "puzzlefs -c fresh", "casync", "tar.zst x2"]


def scheme(ctx, name, v1, v2, out):
    """Build both versions; returns per-step measurements and the sizes."""
    os.makedirs(out)
    steps = []
    if name.startswith("puzzlefs"):
        flags = ["-c"] if " -c " in name else []
        oci = os.path.join(out, "oci")
        steps.append(measure([ctx.puzzlefs, "build"] + flags + [v1, oci + ":v1"]))
        size1 = tree_size(out)[0]
        base = ["-b", "v1"] if name.endswith("delta") else []
        steps.append(measure([ctx.puzzlefs, "build"] + flags + base + [v2, oci + ":v2"]))
    elif name == "casync":
        store = "--store=" + os.path.join(out, "store")
        steps.append(measure(["casync", "make", store, out + "/v1.caidx", v1]))
        size1 = tree_size(out)[0]
        steps.append(measure(["casync", "make", store, out + "/v2.caidx", v2]))
    else:
        for i, src in enumerate((v1, v2)):
            steps.append(measure(f"tar --numeric-owner --xattrs -C '{src}' -cf - . "
                                 f"| zstd -3 -T2 -q -o '{out}/v{i + 1}.tar.zst'"))
            if i == 0:
                size1 = tree_size(out)[0]
    total, files = tree_size(out)
    return {"v1_bytes": size1, "total_bytes": total, "files": files,
            "v2_wall": steps[1]["wall"], "v2_rss_kb": steps[1]["rss_kb"],
            "v1_wall": steps[0]["wall"]}


def run(ctx):
    v1, v2 = corpora.info(ctx, "deb-v1"), corpora.info(ctx, "deb-v2")
    corpora.warm(v1["path"])
    corpora.warm(v2["path"])
    log(f"dedup: deb-v1 {v1['bytes'] / 1e6:.0f} MB, deb-v2 {v2['bytes'] / 1e6:.0f} MB")
    raw = {s: [] for s in SCHEMES}
    for r in range(ctx.runs):
        for s in SCHEMES:
            out = os.path.join(ctx.work, "out", "dedup", f"{s.replace(' ', '_')}.{r}")
            os.sync()
            time.sleep(0.5)
            m = scheme(ctx, s, v1["path"], v2["path"], out)
            ctx.trash_later(out)
            log(f"  {s} #{r + 1}: total {m['total_bytes'] / 1e6:.1f} MB, "
                f"v2 step {m['v2_wall']:.2f} s")
            raw[s].append(m)
    res = {s: {k: stats([m[k] for m in ms]) for k in ms[0]} for s, ms in raw.items()}
    save(ctx, "dedup", {"v1": v1, "v2": v2, "schemes": res,
                        "packages_added": corpora.V2_PACKAGES})
