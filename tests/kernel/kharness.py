"""The qemu guest of the kernel tests and of the kernel benchmark.

Everything the guest needs is made on the host:
  * Debian's linux-image package matching the installed linux-headers-amd64
    (apt-get download + dpkg -x, cached under build/kernel-test/cache and
    reused across runs);
  * puzzlefs.ko (make kmod), the static helpers (treelist, ktool) and the
    puzzlefs CLI with its shared libraries;
  * a busybox initramfs holding those, the kernel modules the checks load
    (with their dependencies, from modules.dep) and an init script;
  * an ext4 data disk (with the verity feature) holding the test images and
    the expected listings, attached read-write with snapshot=on so that the
    guest's changes never reach the image file.

The guest runs a shell script and reports on the serial console with lines
"@@PFS <kind> ..." (see guest/lib.sh); run_guest() collects them.  qemu runs
with -accel tcg only (KVM hangs on these machines) and is killed at the
timeout; a panic reboots, which -no-reboot turns into an exit.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.path.join(TOP, "build", "kernel-test")
CACHE = os.path.join(WORK, "cache")

# Kernel modules the guest loads (dependencies are added from modules.dep).
# (sha256_ssse3: the vector sha256 the driver's blob checks get from the
# crypto API, as a distribution kernel autoloads it.)
GUEST_MODULES = ["virtio_pci", "virtio_blk", "crc32c_generic", "sha256_ssse3",
                 "ext4", "loop", "erofs", "fuse"]


def log(msg):
    print(f"[kernel-test] {msg}", flush=True)


def sh(cmd, **kw):
    kw.setdefault("check", True)
    return subprocess.run(cmd, **kw)


def kernel_version():
    """The kernel version linux-headers-amd64 points at (e.g. 6.1.0-56-amd64)."""
    out = subprocess.run(["dpkg-query", "-W", "-f=${Depends}", "linux-headers-amd64"],
                         capture_output=True, text=True).stdout
    m = re.match(r"linux-headers-(\S+)", out)
    if m:
        return m.group(1).rstrip(",")
    versions = sorted(os.listdir("/lib/modules"))
    if not versions:
        raise RuntimeError("no kernel headers: run scripts/install-deps.sh")
    return versions[-1]


def fetch_kernel(kver):
    """Unpack linux-image-KVER into the cache; returns its root directory."""
    root = os.path.join(CACHE, f"linux-image-{kver}")
    if os.path.exists(os.path.join(root, "lib", "modules", kver, "modules.dep")):
        return root
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(CACHE, exist_ok=True)
    pkg = f"linux-image-{kver}"
    with tempfile.TemporaryDirectory(dir=CACHE) as tmp:
        log(f"downloading {pkg}")
        r = sh(["apt-get", "download", pkg], cwd=tmp, check=False,
               capture_output=True)
        if r.returncode != 0:
            sh(["apt-get", "update", "-q"], capture_output=True)
            sh(["apt-get", "download", pkg], cwd=tmp, capture_output=True)
        deb = [f for f in os.listdir(tmp) if f.endswith(".deb")][0]
        part = root + ".part"
        shutil.rmtree(part, ignore_errors=True)
        sh(["dpkg", "-x", os.path.join(tmp, deb), part])
        # The package leaves modules.dep to its postinst: make it here.
        sh(["depmod", "-b", part, kver])
        os.rename(part, root)
    return root


def build_module():
    sh(["make", "-s", "kmod"], cwd=TOP, stdout=subprocess.DEVNULL)
    return os.path.join(TOP, "build", "kernel", "puzzlefs.ko")


def build_static(src, out):
    """A static binary from one C file (linked with libcrypto)."""
    if os.path.exists(out) and os.path.getmtime(out) >= os.path.getmtime(src):
        return out
    os.makedirs(os.path.dirname(out), exist_ok=True)
    sh(["gcc", "-static", "-O2", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
        "-o", out, src,
        "-lcrypto", "-lpthread"], stderr=subprocess.DEVNULL)
    return out


def module_closure(modroot, kver, names):
    """The .ko files for @names and their dependencies, in load order."""
    base = os.path.join(modroot, "lib", "modules", kver)
    deps = {}
    with open(os.path.join(base, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
    byname = {}
    for path in deps:
        n = os.path.basename(path).split(".ko")[0].replace("-", "_")
        byname[n] = path
    order = []

    def add(path):
        if path in order:
            return
        for d in deps.get(path, []):
            add(d)
        order.append(path)

    for n in names:
        if n in byname:          # absent means built in
            add(byname[n])
    return [os.path.join(base, p) for p in order]


def shared_libs(exe):
    """An executable's shared libraries (ldd), loader included."""
    out = subprocess.run(["ldd", exe], capture_output=True, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if m and os.path.exists(m.group(1)):
            libs.append(m.group(1))
    return libs


def make_initramfs(out, kver, modroot, files, init_script):
    """A newc cpio: busybox, modules, @files {guest path: host path}."""
    stage = out + ".d"
    shutil.rmtree(stage, ignore_errors=True)
    for d in ("bin", "sbin", "proc", "sys", "dev", "tmp", "mnt", "data",
              "lib/modules", "etc", "root", "run"):
        os.makedirs(os.path.join(stage, d), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(stage, "bin", "busybox"))
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True,
                             text=True).stdout.split()
    for a in applets:
        p = os.path.join(stage, "bin", a)
        if not os.path.exists(p):
            os.symlink("busybox", p)
    mods = []
    for ko in module_closure(modroot, kver, GUEST_MODULES):
        dst = os.path.join(stage, "lib", "modules", os.path.basename(ko))
        shutil.copy2(ko, dst)
        mods.append(os.path.basename(ko))
    with open(os.path.join(stage, "lib", "modules", "order"), "w") as f:
        f.write("\n".join(mods) + "\n")
    for gpath, hpath in files.items():
        dst = os.path.join(stage, gpath.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy2(hpath, dst)
    with open(os.path.join(stage, "init"), "w") as f:
        f.write(init_script)
    os.chmod(os.path.join(stage, "init"), 0o755)
    with open(out, "wb") as f:
        find = subprocess.Popen(["find", "."], cwd=stage, stdout=subprocess.PIPE)
        sh(["cpio", "-o", "-H", "newc", "--quiet"], cwd=stage, stdin=find.stdout,
           stdout=f)
        find.wait()
    shutil.rmtree(stage)
    return out


def empty_disk(path, mb):
    with open(path, "wb") as f:
        f.truncate(mb << 20)
    return path


def read_tar_disk(path):
    """{name: bytes} of the tar the guest wrote on a raw disk."""
    import tarfile
    out = {}
    try:
        with tarfile.open(path) as t:
            for m in t.getmembers():
                if m.isfile():
                    out[m.name.lstrip("./")] = t.extractfile(m).read()
    except tarfile.TarError:
        pass
    return out


def puzzlefs_files(exe):
    """The CLI and its shared libraries, for the initramfs."""
    files = {"/bin/puzzlefs": exe}
    for lib in shared_libs(exe):
        files[lib] = lib
        real = os.path.realpath(lib)
        files[real] = real
    return files


def make_disk(stage, out, extra_mb=64):
    """An ext4 image (verity feature) holding the tree @stage."""
    used = int(subprocess.run(["du", "-sm", "--apparent-size", stage],
                              capture_output=True, text=True).stdout.split()[0])
    size = max(64, int(used * 1.3) + extra_mb)
    if os.path.exists(out):
        os.unlink(out)
    sh(["mkfs.ext4", "-q", "-F", "-O", "verity", "-b", "4096", "-N", "200000",
        "-d", stage, out, f"{size}M"], stdout=subprocess.DEVNULL)
    return out


def run_guest(kroot, kver, initrd, disks, timeout, mem="2G", log_path=None):
    """Boot the guest with @disks [(path, snapshot)]; returns (reports,
    console text, seconds)."""
    vmlinuz = os.path.join(kroot, "boot", f"vmlinuz-{kver}")
    cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", "max", "-smp", "2",
           "-m", mem, "-nographic", "-no-reboot", "-nodefaults",
           "-serial", "stdio", "-kernel", vmlinuz, "-initrd", initrd,
           # A starved TCG vCPU (2 host CPUs shared) looks like a lockup or
           # an RCU stall to the guest: those detectors are off, hangs are
           # caught by the timeouts instead.
           "-append", "console=ttyS0 panic=-1 loglevel=1 rdinit=/init "
                      "nokaslr tsc=unstable nosoftlockup "
                      "rcupdate.rcu_cpu_stall_suppress=1"]
    for i, (d, snapshot) in enumerate(disks):
        cmd += ["-drive", f"file={d},format=raw,if=virtio,"
                          f"snapshot={'on' if snapshot else 'off'},"
                          f"cache=unsafe,id=d{i}"]
    start = time.time()
    # The console goes straight to a file, so a long run can be followed.
    log_path = log_path or os.path.join(WORK, "console.log")
    os.makedirs(os.path.dirname(log_path), exist_ok=True)
    timed_out = False
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            # Also when interrupted: no qemu outlives its test.
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    with open(log_path, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    reports = parse_reports(text)
    reports["timed_out"] = timed_out
    return reports, text, time.time() - start


def parse_reports(text):
    """'@@PFS check NAME PASS|FAIL|SKIP msg' and '@@PFS data KEY value'."""
    checks, data, notes = {}, {}, {}
    done = False
    for line in text.splitlines():
        i = line.find("@@PFS ")
        if i < 0:
            continue
        parts = line[i + 6:].rstrip("\r").split(" ", 3)
        if parts[0] == "check" and len(parts) >= 3:
            checks[parts[1]] = (parts[2], parts[3] if len(parts) > 3 else "")
        elif parts[0] == "data" and len(parts) >= 3:
            data[parts[1]] = " ".join(parts[2:])
        elif parts[0] == "note" and len(parts) >= 2:
            notes.setdefault(parts[1], []).append(" ".join(parts[2:]))
        elif parts[0] == "done":
            done = True
    panic = re.search(r"Kernel panic|BUG: |Oops|general protection fault",
                      text)
    return {"checks": checks, "data": data, "notes": notes, "done": done,
            "panic": panic.group(0) if panic else None}
