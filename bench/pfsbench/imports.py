"""Import (issue 15): `puzzlefs import` of a Debian image with tar layers
against the way in without it, side by side in one run.

The image: deb-v1 (debootstrap minbase) as a one-layer image, tag v1, and
deb-v2 (its update) as a second layer on it, tag v2, both made by umoci
(unpack, change the rootfs, repack: gzip layers, whiteouts for what the
update removed), cached under WORK/images.  For each tag:

  import -c             puzzlefs import -c oci:IMG:TAG
  import -c --frame-size 256K  one zstd frame per chunk (the smallest -c)
  import -c --flatten   the same, one layer
  import                without -c
  umoci + build -c      umoci unpack, then puzzlefs build -c of its rootfs
  tar -xzf              the tag's layers extracted in turn, alone (what a
                        runtime's extraction costs, whiteouts aside)

and, after import -c of v1, import -c of v2 into the same directory (what
v2 adds when v1 is there: its base layer and chunks are shared).  Inputs
are read from a warm page cache, as the builds are."""
import json
import os
import shutil
import time

from . import corpora
from .common import log, measure, out, save, sh, stats, tree_size

TOOLS = ["import -c", "import -c --frame-size 256K", "import -c --flatten",
         "import", "umoci + build -c", "tar -xzf"]


def make_image(ctx):
    """The umoci image of deb-v1 (tag v1) and deb-v2 on top (tag v2)."""
    img = os.path.join(ctx.work, "images", "deb-oci")
    stamp = img + ".json"
    if os.path.exists(stamp):
        with open(stamp) as f:
            return json.load(f)
    v1, v2 = corpora.info(ctx, "deb-v1"), corpora.info(ctx, "deb-v2")
    shutil.rmtree(img, ignore_errors=True)
    os.makedirs(os.path.dirname(img), exist_ok=True)
    log("import: making the umoci image of deb-v1 and deb-v2")
    bundle = img + "-bundle"
    sh(["umoci", "init", "--layout", img])
    sh(["umoci", "new", "--image", f"{img}:v0"])
    for src, tag, base in ((v1, "v1", "v0"), (v2, "v2", "v1")):
        shutil.rmtree(bundle, ignore_errors=True)
        sh(["umoci", "unpack", "--image", f"{img}:{base}", bundle])
        shutil.rmtree(os.path.join(bundle, "rootfs"))
        # cp -a keeps mtimes, owners and xattrs: what did not change in
        # the update is no part of the new layer.
        sh(["cp", "-a", src["path"], os.path.join(bundle, "rootfs")])
        sh(["umoci", "repack", "--image", f"{img}:{tag}", bundle])
    shutil.rmtree(bundle)
    sh(["umoci", "gc", "--layout", img])
    info = {"path": img, "v1": v1, "v2": v2, "tags": {}}
    with open(os.path.join(img, "index.json")) as f:
        index = json.load(f)
    for m in index["manifests"]:
        tag = m["annotations"]["org.opencontainers.image.ref.name"]
        if tag not in ("v1", "v2"):
            continue
        with open(os.path.join(img, "blobs", "sha256", m["digest"][7:])) as f:
            man = json.load(f)
        info["tags"][tag] = [{"path": os.path.join(img, "blobs", "sha256",
                                                    l["digest"][7:]),
                              "size": l["size"], "mediaType": l["mediaType"]}
                             for l in man["layers"]]
    with open(stamp, "w") as f:
        json.dump(info, f)
    return info


def one(ctx, tool, img, tag, layers, dest):
    """Measure @tool on @tag; returns the measurement with the output size."""
    oci = os.path.join(dest, "oci")
    if tool.startswith("import"):
        m = measure([ctx.puzzlefs] + tool.split() + [f"oci:{img}:{tag}",
                                                     f"{oci}:t"])
        m["bytes"] = tree_size(oci)[0]
        return m
    if tool == "umoci + build -c":
        bundle = os.path.join(dest, "bundle")
        a = measure(["umoci", "unpack", "--image", f"{img}:{tag}", bundle])
        b = measure([ctx.puzzlefs, "build", "-c",
                     os.path.join(bundle, "rootfs"), f"{oci}:t"])
        return {"wall": a["wall"] + b["wall"], "user": a["user"] + b["user"],
                "sys": a["sys"] + b["sys"],
                "rss_kb": max(a["rss_kb"] or 0, b["rss_kb"] or 0),
                "unpack_wall": a["wall"], "build_wall": b["wall"],
                "bytes": tree_size(oci)[0]}
    x = os.path.join(dest, "x")
    os.makedirs(x)
    m = measure(" && ".join(f"tar -xzf '{l['path']}' -C '{x}'" for l in layers))
    m["bytes"] = tree_size(x)[0]
    return m


def run(ctx):
    info = make_image(ctx)
    img = info["path"]
    for layers in info["tags"].values():
        for l in layers:
            sh(f"cat '{l['path']}' > /dev/null")
    corpora.warm(img)
    raw = {tag: {t: [] for t in TOOLS} for tag in ("v1", "v2")}
    added = []
    tools = TOOLS
    for r in range(ctx.runs):
        # Rotated: no tool always runs right after the same other one.
        order = tools[r % len(tools):] + tools[:r % len(tools)]
        for tag in ("v1", "v2"):
            for tool in order:
                dest = os.path.join(ctx.work, "out", "import",
                                    f"{tag}-{tool.replace(' ', '_')}.{r}")
                shutil.rmtree(dest, ignore_errors=True)
                os.makedirs(dest)
                os.sync()
                time.sleep(0.5)
                m = one(ctx, tool, img, tag, info["tags"][tag], dest)
                log(f"  {tag} {tool} #{r + 1}: {m['wall']:.2f} s, "
                    f"{m['bytes'] / 1e6:.1f} MB")
                raw[tag][tool].append(m)
                if tool == "import -c" and tag == "v1":
                    # v2 into the directory that holds v1.
                    oci = os.path.join(dest, "oci")
                    before = tree_size(oci)[0]
                    a = measure([ctx.puzzlefs, "import", "-c",
                                 f"oci:{img}:v2", f"{oci}:v2"])
                    a["bytes"] = tree_size(oci)[0] - before
                    added.append(a)
                ctx.trash_later(dest)
    res = {tag: {t: {k: stats([m.get(k) for m in ms])
                     for k in ("wall", "user", "sys", "rss_kb", "bytes",
                               "unpack_wall", "build_wall")}
                 for t, ms in tools_.items() if ms}
           for tag, tools_ in raw.items()}
    res["v2 after v1"] = {"import -c": {k: stats([m[k] for m in added])
                                        for k in ("wall", "bytes")}}
    layers = {tag: [{"size": l["size"], "mediaType": l["mediaType"]}
                    for l in ls] for tag, ls in info["tags"].items()}
    save(ctx, "import", {"image": {"v1": info["v1"], "v2": info["v2"],
                                   "layers": layers},
                         "results": res,
                         "umoci": out("umoci --version"),
                         "packages_added": corpora.V2_PACKAGES})
