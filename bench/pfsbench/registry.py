"""Registry: `puzzlefs push` / `pull` of the /usr/share image (plain and
-c) through Debian's docker-registry 2.8 on 127.0.0.1 (TLS, anonymous;
the test suite's fixture, tests/integration/registry.py), against
`skopeo copy` on the same registry in the same run; a re-push of an
unchanged image; a delta v2 pushed after v1 (the blobs it uploads,
counted against the blobs only v2 has).  CPU time of puzzlefs (or
skopeo) and of the registry for each.

skopeo moves about 5 blobs/s on this image and slows down as it goes
(a full pull of the 8,917-blob plain image took it 2,307 s), so by default
it copies a subset image (/usr/share/doc, ~1,150 blobs) and its time is
scaled to the full image linearly in blobs: since it grows faster than
that, the scaled figure is a lower bound of its time, and our ratio to it
an upper bound.  --skopeo-full copies the full images as well (hours),
and the targets are then taken against that."""
import json
import os
import random
import subprocess
import sys

from .common import REG, TOP, log, measure, rmtree, save, sh, stats

sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
import registry as fixture  # noqa: E402

FLAVORS = {"plain": [], "zstd": ["-c"]}
SUBSET = "/usr/share/doc"


def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    x = s[s.rfind(")") + 2:].split()
    return (int(x[11]) + int(x[12])) / os.sysconf("SC_CLK_TCK")


def manifest_blobs(oci, tag):
    with open(os.path.join(oci, "index.json")) as f:
        idx = json.load(f)
    for m in idx["manifests"]:
        if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            with open(os.path.join(oci, "blobs", "sha256", m["digest"][7:])) as f:
                man = json.load(f)
            return {man["config"]["digest"]} | {l["digest"] for l in man["layers"]}, \
                man["config"]["size"] + sum(l["size"] for l in man["layers"])
    raise KeyError(tag)


def has_tag(oci, tag):
    try:
        manifest_blobs(oci, tag)
        return True
    except (OSError, KeyError):
        return False


class Bench:
    def __init__(self, ctx):
        self.ctx = ctx
        self.dir = os.path.join(ctx.work, "registry")
        self.images = os.path.join(self.dir, "images")
        os.makedirs(self.dir, exist_ok=True)
        self.certs = fixture.Certs(os.path.join(self.dir, "certs"))
        storage = os.path.join(self.dir, "server")
        rmtree(storage)
        self.reg = fixture.Registry(storage, certs=self.certs).start()
        REG.add("proc", self.reg.proc)
        self.opts = ["--cert-dir", self.certs.cert_dir]

    def stop(self):
        REG.remove("proc", self.reg.proc)
        self.reg.stop()

    def image(self, tag, src, flags, base=None):
        if not has_tag(self.images, tag):
            log(f"  building {tag} from {src}")
            sh([self.ctx.puzzlefs, "build", *flags] + (["-b", base] if base else [])
               + [src, f"{self.images}:{tag}"], stdout=subprocess.DEVNULL)
        return manifest_blobs(self.images, tag)

    def run(self, cmd, json_out=True):
        """measure() of a command, with the registry's CPU time and the
        command's --json (ours) added."""
        c0 = cpu_of(self.reg.proc.pid)
        out = os.path.join(self.dir, "out.json")
        with open(out, "w") as f:
            m = measure(cmd, stdout=f)
        m["reg_cpu"] = cpu_of(self.reg.proc.pid) - c0
        m["cpu"] = m["user"] + m["sys"]
        if json_out:
            with open(out) as f:
                j = json.load(f)
            m.update(requests=j["requests"], moved=j.get("uploaded", j.get("fetched")),
                     present=j["present"], mounted=j.get("mounted", 0),
                     up_to_date=j.get("up_to_date", False))
        return m

    def push(self, tag, repo):
        return self.run([self.ctx.puzzlefs, "push", "--json", *self.opts,
                         f"{self.images}:{tag}", self.reg.ref(repo, tag)])

    def pull(self, repo, tag, dest):
        return self.run([self.ctx.puzzlefs, "pull", "--json", *self.opts,
                         self.reg.ref(repo, tag), f"{dest}:{tag}"])

    def skopeo_push(self, tag, repo):
        return self.run(["nice", "skopeo", "--insecure-policy", "copy", "-q",
                         "--dest-cert-dir", self.certs.cert_dir,
                         f"oci:{self.images}:{tag}",
                         f"docker://{self.reg.host}/{repo}:{tag}"], json_out=False)

    def skopeo_pull(self, repo, tag, dest):
        return self.run(["nice", "skopeo", "--insecure-policy", "copy", "-q",
                         "--src-cert-dir", self.certs.cert_dir,
                         f"docker://{self.reg.host}/{repo}:{tag}",
                         f"oci:{dest}:{tag}"], json_out=False)


def summary(ms):
    keys = [k for k in ms[0] if isinstance(ms[0][k], (int, float)) and
            not isinstance(ms[0][k], bool)]
    return {k: stats([m[k] for m in ms]) for k in keys}


def make_v2(b, upper):
    """An update of /usr/share as an overlay: 100 new files (4 MB of
    random data) and 20 documentation files with a line appended."""
    merged, work = upper + ".merged", upper + ".work"
    for d in (upper, work, merged):
        rmtree(d)
        os.makedirs(d)
    sh(["mount", "-t", "overlay", "overlay", "-o",
        f"lowerdir=/usr/share,upperdir={upper},workdir={work}", merged])
    REG.add("mount", merged)
    rng = random.Random(16)
    new = os.path.join(merged, "pfs-bench-update")
    os.makedirs(new)
    for i in range(100):
        with open(os.path.join(new, f"f{i:03d}"), "wb") as f:
            f.write(rng.randbytes(rng.randint(10000, 70000)))
    docs = []
    for d, _, files in sorted(os.walk(os.path.join(merged, "doc"))):
        docs += [os.path.join(d, f) for f in sorted(files)
                 if not os.path.islink(os.path.join(d, f)) and
                 os.path.getsize(os.path.join(d, f)) > 20000]
    for p in docs[:20]:
        with open(p, "ab") as f:
            f.write(b"\nupdated by the puzzlefs registry benchmark\n")
    return merged


def delta(b, results):
    """v1 (the plain image) then a delta v2: only v2's new blobs go up."""
    v1, _ = b.image("plain", "/usr/share", [])
    if not has_tag(b.images, "v2"):
        merged = make_v2(b, os.path.join(b.dir, "v2-upper"))
        try:
            b.image("v2", merged, [], base="plain")
        finally:
            sh(["umount", merged])
            REG.remove("mount", merged)
    v2, _ = manifest_blobs(b.images, "v2")
    new = v2 - v1
    b.push("plain", "delta")
    m = b.run([b.ctx.puzzlefs, "push", "--json", *b.opts, f"{b.images}:v2",
               b.reg.ref("delta", "v2")])
    log(f"  delta v2: {m['moved']} uploaded, {len(new)} new blobs, {m['wall']:.2f} s")
    results["delta"] = {"v1_blobs": len(v1), "v2_blobs": len(v2), "new_blobs": len(new),
                        "uploaded": m["moved"], "present": m["present"],
                        "wall": m["wall"], "cpu": m["cpu"], "reg_cpu": m["reg_cpu"],
                        "requests": m["requests"]}


def run(ctx):
    b = Bench(ctx)
    results = {"registry": fixture._run("docker-registry", "--version",
                                        text=True).stdout.strip(),
               "skopeo": fixture._run("skopeo", "--version", text=True).stdout.strip(),
               "skopeo_full": bool(getattr(ctx.a, "skopeo_full", False)),
               "images": {}, "subset": {}}
    try:
        for flavor, flags in FLAVORS.items():
            blobs, size = b.image(flavor, "/usr/share", flags)
            sub_blobs, sub_size = b.image(f"doc-{flavor}", SUBSET, flags)
            raw = {"push": [], "repush": [], "pull": [], "sub_push": [], "sub_pull": []}
            for r in range(ctx.runs):
                repo = f"{flavor}-{r}"
                raw["push"].append(b.push(flavor, repo))
                raw["repush"].append(b.push(flavor, repo))
                dest = os.path.join(b.dir, f"pulled-{flavor}-{r}")
                rmtree(dest)
                raw["pull"].append(b.pull(repo, flavor, dest))
                ctx.trash_later(dest)
                raw["sub_push"].append(b.push(f"doc-{flavor}", f"doc-{repo}"))
                dest = os.path.join(b.dir, f"pulled-doc-{flavor}-{r}")
                rmtree(dest)
                raw["sub_pull"].append(b.pull(f"doc-{repo}", f"doc-{flavor}", dest))
                ctx.trash_later(dest)
                log(f"  {flavor} #{r + 1}: push {raw['push'][-1]['wall']:.1f} s, "
                    f"re-push {raw['repush'][-1]['wall']:.2f} s, pull "
                    f"{raw['pull'][-1]['wall']:.1f} s")
            # skopeo: once (it takes minutes) on the subset, and with
            # --skopeo-full once on the whole image (it takes hours).
            results["images"][flavor] = {"blobs": len(blobs), "bytes": size,
                                         **{k: summary(raw[k]) for k in
                                            ("push", "repush", "pull")}}
            results["subset"][flavor] = {"blobs": len(sub_blobs), "bytes": sub_size,
                                         "push": summary(raw["sub_push"]),
                                         "pull": summary(raw["sub_pull"])}
            for tag, where in ((f"doc-{flavor}", results["subset"][flavor]),
                               (flavor, results["images"][flavor])):
                if tag == flavor and not results["skopeo_full"]:
                    continue
                dest = os.path.join(b.dir, f"skopeo-{tag}")
                rmtree(dest)
                where["skopeo_push"] = b.skopeo_push(tag, f"skopeo-{tag}")
                where["skopeo_pull"] = b.skopeo_pull(f"skopeo-{tag}", tag, dest)
                ctx.trash_later(dest)
                log(f"  skopeo {tag}: push {where['skopeo_push']['wall']:.1f} s, "
                    f"pull {where['skopeo_pull']['wall']:.1f} s")
        delta(b, results)
    finally:
        b.stop()
    save(ctx, "registry", results)
