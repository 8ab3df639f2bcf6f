"""The file systems of the read benchmarks: images (made once and reused
while the tool and the corpus are the same) and how each is mounted,
found (its daemon) and unmounted."""
import hashlib
import json
import os
import subprocess
import time

from .common import REG, out, rmtree, sh


def _file_hash(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def image(ctx, name, key, make):
    """WORK/images/NAME, made by make(path) unless the stamp says it was
    made with the same key (tool version, flags, corpus)."""
    p = os.path.join(ctx.work, "images", name)
    stamp = p + ".key"
    key = json.dumps(key, sort_keys=True)
    if os.path.exists(stamp) and open(stamp).read() == key:
        return p
    rmtree(p)
    if os.path.exists(p):
        os.unlink(p)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    make(p)
    with open(stamp, "w") as f:
        f.write(key)
    return p


def pfs_image(ctx, corpus, flags):
    key = {"bin": _file_hash(ctx.puzzlefs), "flags": flags, "corpus": corpus}
    name = f"{os.path.basename(corpus['path'])}-pfs{''.join(flags)}"
    return image(ctx, name, key, lambda p: sh(
        [ctx.puzzlefs, "build"] + flags + [corpus["path"], p + ":t"],
        stdout=subprocess.DEVNULL)) + ":t"


def peer_image(ctx, corpus, kind):
    base = os.path.basename(corpus["path"])
    if kind == "squashfs":
        key = {"v": out("mksquashfs -version | head -1"), "corpus": corpus}
        return image(ctx, base + ".sqfs", key, lambda p: sh(
            ["mksquashfs", corpus["path"], p, "-comp", "zstd", "-noappend",
             "-quiet", "-no-progress"]))
    if kind in ("erofs", "erofs-lz4hc"):
        flags = ["-zlz4hc"] if kind == "erofs-lz4hc" else []
        key = {"v": out("dpkg-query -W -f '${Version}' erofs-utils"),
               "flags": flags, "corpus": corpus}
        return image(ctx, f"{base}.{kind}", key, lambda p: sh(
            ["mkfs.erofs", "--quiet"] + flags + [p, corpus["path"]]))
    if kind == "casync":
        key = {"v": out("casync --version"), "corpus": corpus}

        def make(p):
            os.makedirs(p)
            sh(["casync", "make", f"--store={p}/store", f"{p}/x.caidx",
                corpus["path"]], stdout=subprocess.DEVNULL)
        return image(ctx, base + ".casync", key, make)
    raise ValueError(kind)


def find_daemon(mnt, exe_names):
    """The process serving @mnt: its command line names the mount point."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if (mnt.encode() in argv and
                os.path.basename(argv[0].decode(errors="replace")) in exe_names):
            return int(pid)
    return None


def proc_status(pid):
    """VmHWM, VmRSS (KiB), Threads and CPU seconds of a daemon."""
    res = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if k in ("VmHWM", "VmRSS", "Threads"):
                    res[k] = int(v.split()[0])
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        fields = st[st.rfind(")") + 2:].split()
        res["cpu"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        pass
    return res


class Mounted:
    def __init__(self, fs, mnt, ready, pid=None, loop=None, proc=None):
        self.fs, self.mnt, self.ready = fs, mnt, ready
        self.pid, self.loop, self.proc = pid, loop, proc

    def status(self):
        return proc_status(self.pid) if self.pid else {}

    def umount(self):
        self.fs.umount(self)


def _wait_ready(mnt, t0, limit=60):
    """Ready: the mount exists and its root can be listed (the daemon
    answers).  Returns seconds since t0."""
    while time.monotonic() - t0 < limit:
        if os.path.ismount(mnt):
            try:
                os.listdir(mnt)
                return time.monotonic() - t0
            except OSError:
                pass
        time.sleep(0.0005)
    raise RuntimeError(f"{mnt}: not ready after {limit} s")


class FuseFS:
    """A FUSE file system mounted by a command that returns once mounted
    (puzzlefs mount waits for readiness; squashfuse daemonizes after the
    mount(2)), or (foreground) that keeps serving."""

    def __init__(self, name, argv, exe, threads, foreground=False,
                 umount=("umount",)):
        self.name, self.argv, self.exe = name, argv, exe
        self.threads, self.foreground, self.umount_cmd = threads, foreground, umount
        self.kernel = False

    def mount(self, mnt):
        t0 = time.monotonic()
        proc = None
        if self.foreground:
            proc = subprocess.Popen(self.argv + [mnt], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            REG.add("proc", proc)
        else:
            subprocess.run(self.argv + [mnt], check=True)
        REG.add("mount", mnt)
        ready = _wait_ready(mnt, t0)
        pid = proc.pid if proc else find_daemon(mnt, self.exe)
        return Mounted(self, mnt, ready, pid=pid, proc=proc)

    def umount(self, m):
        sh(list(self.umount_cmd) + [m.mnt])
        REG.remove("mount", m.mnt)
        if m.proc:
            m.proc.wait(30)
            REG.remove("proc", m.proc)
        elif m.pid:                     # the daemon exits once unmounted
            for _ in range(3000):
                if not os.path.exists(f"/proc/{m.pid}"):
                    break
                time.sleep(0.01)


class KernelFS:
    def __init__(self, name, image, fstype):
        self.name, self.image, self.fstype = name, image, fstype
        self.kernel, self.threads = True, "kernel"

    def mount(self, mnt):
        t0 = time.monotonic()
        loop = out(["losetup", "-f", "--show", "-r", self.image])
        REG.add("loop", loop)
        sh(["mount", "-t", self.fstype, "-o", "ro", loop, mnt])
        REG.add("mount", mnt)
        ready = _wait_ready(mnt, t0)
        return Mounted(self, mnt, ready, loop=loop)

    def umount(self, m):
        sh(["umount", m.mnt])
        REG.remove("mount", m.mnt)
        sh(["losetup", "-d", m.loop])
        REG.remove("loop", m.loop)


def puzzlefs(ctx, name, ref, opts=None):
    argv = [ctx.puzzlefs, "mount"] + (["-o", opts] if opts else []) + [ref]
    return FuseFS(name, argv, ("puzzlefs",), "libfuse mt loop",
                  umount=(ctx.puzzlefs, "umount"))


def squashfuse(name, img, exe):
    return FuseFS(name, [exe, img], (exe,), "1")


def casync(img):
    return FuseFS("casync mount", ["casync", "mount", f"--store={img}/store",
                                   f"{img}/x.caidx"], ("casync",), "libfuse",
                  foreground=True)
