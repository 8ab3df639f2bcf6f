"""The corpora.  Real trees are read where they are; the others are made
once under WORK/corpora and reused by later runs (a stamp file records
that a corpus is complete and what it holds).

  share      /usr/share of this machine
  lib        /usr/lib/x86_64-linux-gnu (large binaries)
  share+lib  a copy of both: the "twice as large" tree of the memory target
  deb-v1     Debian 12 minbase made by debootstrap
  deb-v2     deb-v1 after an image update: apt-get dist-upgrade from
             bookworm-updates and -security, plus a few packages
  small      synthetic: 60,000 files of 64 B - 32 KiB
  huge       synthetic: 4 files of 256 MiB (text, random, zero and
             repeated segments)
"""
import json
import os
import random
import subprocess

from .common import REG, log, out, rmtree, sh, tree_entries, tree_size

SYSTEM = {"share": "/usr/share", "lib": "/usr/lib/x86_64-linux-gnu"}
MIRROR = "http://deb.debian.org/debian"
# What an update typically adds to a base image.
V2_PACKAGES = ["ca-certificates", "curl", "python3-minimal", "less", "procps",
               "iproute2", "openssh-client"]
ALL = ["share", "lib", "share+lib", "deb-v1", "deb-v2", "small", "huge"]


def path(ctx, name):
    return SYSTEM.get(name) or os.path.join(ctx.work, "corpora", name)


def info(ctx, name):
    """{"path", "bytes", "files", "entries"}; makes the corpus if needed."""
    p = path(ctx, name)
    stamp = os.path.join(ctx.work, "corpora", name + ".json")
    if name not in SYSTEM and os.path.exists(stamp):
        with open(stamp) as f:
            return json.load(f)
    if name not in SYSTEM:
        rmtree(p)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        log(f"making corpus {name}")
        MAKERS[name](ctx, p)
    size, files = tree_size(p)
    d = {"path": p, "bytes": size, "files": files, "entries": tree_entries(p)}
    if name not in SYSTEM:
        with open(stamp, "w") as f:
            json.dump(d, f)
    return d


def warm(p):
    """Builds read their source from the page cache: what is measured is
    the tool, not this machine's disk."""
    sh(f"tar cf - -C '{p}' . | cat > /dev/null", stderr=subprocess.DEVNULL)


# ---- makers -----------------------------------------------------------------

def make_share_lib(ctx, p):
    os.makedirs(p)
    for name, src in SYSTEM.items():
        sh(["cp", "-a", src, os.path.join(p, name)])


def debootstrap(ctx, p, include=()):
    cache = os.path.join(ctx.work, "corpora", "debcache")
    os.makedirs(cache, exist_ok=True)
    cmd = ["debootstrap", "--variant=minbase", f"--cache-dir={cache}"]
    if include:
        cmd.append("--include=" + ",".join(include))
    sh(cmd + ["bookworm", p, MIRROR], stdout=subprocess.DEVNULL)


def chroot_update(p):
    """An image update: upgrades from bookworm-updates and -security, a
    few new packages, caches emptied as image builds do."""
    with open(os.path.join(p, "etc/apt/sources.list"), "w") as f:
        f.write("deb http://deb.debian.org/debian bookworm main\n"
                "deb http://deb.debian.org/debian bookworm-updates main\n"
                "deb http://deb.debian.org/debian-security bookworm-security main\n")
    proc = os.path.join(p, "proc")
    sh(["mount", "-t", "proc", "proc", proc])
    REG.add("mount", proc)
    try:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update", "-q"],
                    ["apt-get", "dist-upgrade", "-y", "-q"],
                    ["apt-get", "install", "-y", "-q", "--no-install-recommends"]
                    + V2_PACKAGES,
                    ["apt-get", "clean"]):
            sh(["chroot", p] + cmd, env=env, stdout=subprocess.DEVNULL)
    finally:
        sh(["umount", proc])
        REG.remove("mount", proc)
    sh(f"rm -rf '{p}'/var/lib/apt/lists/* '{p}'/var/cache/apt/*.bin")


def make_deb_v1(ctx, p):
    debootstrap(ctx, p)
    sh(f"rm -rf '{p}'/var/lib/apt/lists/* '{p}'/var/cache/apt/archives/*.deb")


def make_deb_v2(ctx, p):
    v1 = info(ctx, "deb-v1")["path"]
    sh(["cp", "-a", v1, p])
    chroot_update(p)


def text_pool(rng, size):
    """Word soup with a Zipf-like vocabulary: compresses about as well as
    documentation does."""
    letters = "etaoinshrdlcumwfgypbvkjxqz"
    vocab = ["".join(rng.choice(letters[:rng.randint(6, 26)])
                     for _ in range(rng.randint(2, 11))) for _ in range(20000)]
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    words, n = [], 0
    while n < size:
        chunk = rng.choices(vocab, weights, k=4096)
        words.extend(chunk)
        n += sum(len(w) + 1 for w in chunk)
    return " ".join(words).encode()[:size]


def make_small(ctx, p):
    rng = random.Random(5)
    pool = text_pool(rng, 8 << 20)
    for i in range(60000):
        d = os.path.join(p, f"d{i // 2000:02d}", f"s{(i // 100) % 20:02d}")
        if i % 100 == 0:
            os.makedirs(d, exist_ok=True)
        size = int(64 * (512 ** rng.random()))      # 64 B .. 32 KiB, log-uniform
        if rng.random() < 0.1:
            data = rng.randbytes(size)
        else:
            off = rng.randrange(len(pool) - size)
            data = pool[off:off + size]
        with open(os.path.join(d, f"f{i:05d}.txt"), "wb") as f:
            f.write(data)


def make_huge(ctx, p):
    rng = random.Random(7)
    pool = text_pool(rng, 32 << 20)
    os.makedirs(p)
    for i in range(4):
        with open(os.path.join(p, f"huge{i}.bin"), "wb") as f:
            written, done = 0, []
            while written < (256 << 20):
                n = rng.randint(64 << 10, 4 << 20)
                kind = rng.random()
                if kind < 0.45:
                    off = rng.randrange(len(pool) - n)
                    seg = pool[off:off + n]
                elif kind < 0.8:
                    seg = rng.randbytes(n)
                elif kind < 0.9:
                    seg = bytes(n)
                else:                       # a repeat of an earlier segment
                    seg = rng.choice(done) if done else bytes(n)
                f.write(seg)
                written += len(seg)
                if len(done) < 16:
                    done.append(seg)


MAKERS = {"share+lib": make_share_lib, "deb-v1": make_deb_v1,
          "deb-v2": make_deb_v2, "small": make_small, "huge": make_huge}


def versions_note():
    return out("dpkg-query -W -f '${Version}' debootstrap")
