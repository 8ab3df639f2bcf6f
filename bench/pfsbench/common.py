"""Shared helpers: running and measuring commands, caches, sizes, stats,
and the registry of everything a section mounts or starts, so that an
interrupted run leaves no mount, loop device or daemon behind."""
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, check=True, **kw):
    """Run an argv (or a shell string) untimed; returns CompletedProcess."""
    shell = isinstance(cmd, str)
    return subprocess.run(cmd, shell=shell, check=check, text=True, **kw)


def out(cmd):
    return sh(cmd, capture_output=True).stdout.strip()


def source_state():
    """The commit puzzlefs is built from, and whether its sources differ."""
    commit = out(f"git -C {TOP} rev-parse --short HEAD") or "?"
    dirty = subprocess.run(["git", "-C", TOP, "diff", "--quiet", "HEAD", "--", "lib",
                            "fuse", "core", "cli"]).returncode != 0
    return f"{commit}{' + uncommitted lib/fuse changes' if dirty else ''}"


def drop_caches():
    """Cold cache: dirty data written, then page cache, dentries, inodes."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def qemu_running():
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/comm") as f:
                    if f.read().startswith("qemu-system"):
                        return True
            except OSError:
                pass
    return False


def wait_quiet(max_load=1.0, poll=120, limit=None):
    """Numbers are taken on a quiet machine only (other engineers run qemu
    guests here).  Returns the seconds waited."""
    t0 = time.monotonic()
    while loadavg() >= max_load or qemu_running():
        if limit is not None and time.monotonic() - t0 > limit:
            log("machine still busy; going on (noted in the results)")
            break
        log(f"waiting for a quiet machine (load {loadavg():.2f}, "
            f"qemu {'running' if qemu_running() else 'not running'})")
        time.sleep(poll)
    return time.monotonic() - t0


# ---- measuring ---------------------------------------------------------------

def _children_map():
    kids = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                st = f.read()
        except OSError:
            continue
        # comm may hold spaces or parentheses: split after the last ')'
        fields = st[st.rfind(")") + 2:].split()
        kids.setdefault(int(fields[1]), []).append((int(pid), int(fields[17])))
    return kids


def tree_threads(root):
    """Threads of a process and all its descendants (field 20 of stat)."""
    kids = _children_map()
    total, todo = 0, [root]
    try:
        with open(f"/proc/{root}/stat") as f:
            st = f.read()
        total = int(st[st.rfind(")") + 2:].split()[17])
    except OSError:
        return 0
    while todo:
        for pid, nthreads in kids.get(todo.pop(), []):
            total += nthreads
            todo.append(pid)
    return total


class Sampler(threading.Thread):
    """Samples the thread count of a process tree four times a second:
    cheap enough not to disturb what it watches (a /proc scan is ~1 ms).
    @wrapper: the root is a one-thread wrapper whose thread is not counted."""

    def __init__(self, pid, period=0.25, wrapper=False):
        super().__init__(daemon=True)
        self.pid, self.period, self.max = pid, period, 0
        self.skip = 1 if wrapper else 0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.wait(self.period):
            self.max = max(self.max, tree_threads(self.pid) - self.skip)


def measure(cmd, cwd=None, env=None, stdout=subprocess.DEVNULL, stdin=None):
    """Run argv (a string runs through sh -c) and return wall seconds, CPU
    seconds (user, sys, all descendants that were waited for), peak RSS in
    KiB (of the largest single process), the most threads seen at once in
    the tree, and the average cores used.

    The peak RSS comes from GNU time wrapped around the command: Linux
    carries the high-water RSS of the memory a process had before exec
    over into its own, so a child forked from this Python process (which
    grows to ~140 MB holding corpus listings) would report at least that
    much.  time's own memory is small and fresh, its child's figure clean."""
    if isinstance(cmd, str):
        cmd = ["/bin/sh", "-c", cmd]
    fd, rss_file = tempfile.mkstemp(prefix="pfs-bench-rss-")
    os.close(fd)
    t0 = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-q", "-f", "%M", "-o", rss_file]
                         + list(cmd), cwd=cwd, env=env, stdout=stdout,
                         stderr=subprocess.PIPE, stdin=stdin)
    s = Sampler(p.pid, wrapper=True)
    s.start()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    s.stop.set()
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    try:
        with open(rss_file) as f:
            rss_kb = int(f.read().split()[-1])
    except (OSError, ValueError, IndexError):
        rss_kb = None
    os.unlink(rss_file)
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}): {err[-2000:]}")
    cpu = ru.ru_utime + ru.ru_stime
    return {"wall": wall, "user": ru.ru_utime, "sys": ru.ru_stime,
            "rss_kb": rss_kb, "threads": s.max,
            "cores": cpu / wall if wall > 0 else 0.0}


def stats(values):
    """median, min, max of a list (None if empty)."""
    v = [x for x in values if x is not None]
    if not v:
        return None
    return {"median": statistics.median(v), "min": min(v), "max": max(v), "n": len(v)}


def tree_size(path):
    """Apparent bytes and number of files under path (or of one file)."""
    if os.path.isfile(path):
        return os.path.getsize(path), 1
    total = n = 0
    for d, _, files in os.walk(path):
        for f in files:
            total += os.lstat(os.path.join(d, f)).st_size
            n += 1
    return total, n


def tree_entries(path):
    n = 0
    for _, dirs, files in os.walk(path):
        n += len(dirs) + len(files)
    return n


# ---- things to clean up ------------------------------------------------------

class Registry:
    """Mounts, loop devices and processes this run created, undone in
    reverse order at the end or on a signal."""

    def __init__(self):
        self.items = []

    def add(self, kind, what):
        self.items.append((kind, what))

    def remove(self, kind, what):
        if (kind, what) in self.items:
            self.items.remove((kind, what))

    def cleanup(self):
        while self.items:
            kind, what = self.items.pop()
            try:
                if kind == "mount":
                    sh(["umount", "-l", what], check=False,
                       stderr=subprocess.DEVNULL)
                elif kind == "loop":
                    sh(["losetup", "-d", what], check=False,
                       stderr=subprocess.DEVNULL)
                elif kind == "proc":
                    what.terminate()
                    try:
                        what.wait(10)
                    except subprocess.TimeoutExpired:
                        what.kill()
            except Exception as e:  # keep cleaning whatever fails
                log(f"cleanup of {kind} {what}: {e}")


REG = Registry()


def install_signal_cleanup():
    def handler(sig, _frame):
        log(f"signal {sig}: cleaning up")
        REG.cleanup()
        sys.exit(128 + sig)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, handler)


def rmtree(path):
    if os.path.lexists(path):
        shutil.rmtree(path, ignore_errors=True)


# ---- results -----------------------------------------------------------------

def save(ctx, section, data):
    os.makedirs(ctx.results, exist_ok=True)
    data = dict(data)
    data["_meta"] = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                     "runs": ctx.runs, "puzzlefs": ctx.puzzlefs,
                     "source": ctx.source,
                     "load_start": ctx.load_start, "load_end": loadavg(),
                     "quiet_wait_s": ctx.waited, "qemu_at_end": qemu_running()}
    path = os.path.join(ctx.results, section + ".json")
    with open(path + ".tmp", "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)
    log(f"results: {path}")


def load(results_dir, section):
    try:
        with open(os.path.join(results_dir, section + ".json")) as f:
            return json.load(f)
    except OSError:
        return None
