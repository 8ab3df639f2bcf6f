#!/usr/bin/python3
"""Run the whole test suite and print one final line "N passed, N failed".

Phases: a -Werror build; C unit tests (meson test); integration tests
(pytest: CLI, FUSE, kernel module in qemu); the core and the FUSE tests
once more under AddressSanitizer + UndefinedBehaviorSanitizer; the FUSE
tests under ThreadSanitizer; each libFuzzer target for a bounded time.
Every phase counts its own tests; a phase that cannot run at all counts as
one failure.
"""
import json
import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3"
FUZZ_SECONDS = int(os.environ.get("PFS_FUZZ_SECONDS", "30"))

passed = failed = 0
failures = []


def log(msg):
    print(f"[run] {msg}", flush=True)


def count(ok, name):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        failures.append(name)


def sh(cmd, **kw):
    log("$ " + " ".join(cmd))
    return subprocess.run(cmd, cwd=TOP, **kw).returncode == 0


def build(builddir, *opts, env=None):
    e = dict(os.environ, **(env or {}))
    if not os.path.exists(os.path.join(TOP, builddir, "build.ninja")):
        if not sh(["meson", "setup", builddir, "-Dwerror=true", *opts], env=e):
            return False
    return sh(["ninja", "-C", builddir], env=e)


def meson_tests(builddir, label):
    sh(["meson", "test", "-C", builddir, "--print-errorlogs",
        "--no-rebuild"])
    path = os.path.join(TOP, builddir, "meson-logs", "testlog.json")
    if not os.path.exists(path):
        count(False, f"{label}: meson test log")
        return
    with open(path) as f:
        for line in f:
            t = json.loads(line)
            if t.get("result") == "SKIP":
                continue
            count(t.get("result") == "OK", f"{label}: {t.get('name')}")


def pytest(label, paths, env=None, extra=()):
    xml = os.path.join(TOP, "build", f"pytest-{label}.xml")
    e = dict(os.environ, **(env or {}))
    sh([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        f"--junitxml={xml}", *extra, *paths], env=e)
    if not os.path.exists(xml):
        count(False, f"{label}: pytest did not run")
        return
    root = ET.parse(xml).getroot()
    for case in root.iter("testcase"):
        name = f"{label}: {case.get('classname')}.{case.get('name')}"
        if case.find("skipped") is not None:
            continue
        bad = case.find("failure") is not None or case.find("error") is not None
        count(not bad, name)
    os.unlink(xml)


def fuzz(exe, target):
    """Run one libFuzzer target on its seed corpus (plus what earlier runs
    found) for FUZZ_SECONDS; on failure, show the end of its log and
    where the input that failed it is."""
    corpus = os.path.join(TOP, "tests", "fuzz", "corpus", target)
    work = os.path.join(TOP, "build-fuzz", f"corpus-{target}")
    logfile = os.path.join(TOP, "build-fuzz", f"fuzz-{target}.log")
    if not os.path.exists(exe):
        log(f"{exe} was not built (tests/fuzz/meson.build)")
        return False
    os.makedirs(work, exist_ok=True)
    with open(logfile, "w") as f:
        ok = sh([exe, work, corpus, f"-max_total_time={FUZZ_SECONDS}",
                 "-rss_limit_mb=2048", "-timeout=10",
                 f"-artifact_prefix={work}/"], stdout=f, stderr=f)
    if not ok:
        with open(logfile, errors="replace") as f:
            tail = f.readlines()[-40:]
        log(f"fuzz_{target} failed; log {logfile}, ends with:")
        print("".join(tail), end="", flush=True)
        for name in sorted(os.listdir(work)):
            if name.split("-")[0] in ("crash", "leak", "timeout", "oom",
                                      "slow"):
                log(f"failing input: {os.path.join(work, name)}; reproduce "
                    f"with {exe} {os.path.join(work, name)}")
    return ok


def fuse_sanitized(label, builddir, options):
    """The FUSE tests against a sanitizer build.  The daemons serve in the
    background with no terminal, so each sanitizer writes its reports to
    files (log_path); any report fails the phase and is shown."""
    reports = os.path.join(TOP, builddir, "reports")
    shutil.rmtree(reports, ignore_errors=True)
    os.makedirs(reports)
    env = {k: f"{v}:log_path={reports}/{k.split('_')[0].lower()}"
           for k, v in options.items()}
    env.update(PUZZLEFS_BUILD=os.path.join(TOP, builddir),
               PFS_FUSE_SOAK_SECONDS="20")
    pytest(label, ["tests/integration/test_fuse.py",
                   "tests/integration/test_fuse_hostile.py"], env=env)
    found = sorted(os.listdir(reports))
    for name in found:
        log(f"sanitizer report {os.path.join(reports, name)}:")
        with open(os.path.join(reports, name), errors="replace") as f:
            print(f.read()[:6000], end="", flush=True)
    return not found


def main():
    start = time.time()
    ok = build("build")
    count(ok, "build (-Werror)")
    if ok:
        meson_tests("build", "unit")
        paths = [p for p in ("tests/integration", "tests/kernel")
                 if os.path.isdir(os.path.join(TOP, p))]
        pytest("integration", paths)

    # Sanitizers: the core tests and the FUSE tests (the daemon serving
    # good and corrupt images) again against an ASan+UBSan build.
    san = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1",
           "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1"}
    ok = build("build-asan", "-Db_sanitize=address,undefined",
               "-Db_lundef=false", "--buildtype=debug")
    count(ok, "build (ASan+UBSan)")
    if ok:
        meson_tests("build-asan", "unit-asan")
        pytest("asan", ["tests/integration"], env=dict(
            san, PUZZLEFS_BUILD=os.path.join(TOP, "build-asan")),
            extra=["-m", "core"])
        count(fuse_sanitized("asan-fuse", "build-asan", san),
              "asan: no report from the FUSE tests")

    # ThreadSanitizer: the FUSE tests, so the daemon's threads (libfuse's
    # workers, readahead, the caches) and the builder's workers that make
    # their images; a race aborts the process and leaves a report.
    ok = build("build-tsan", "-Db_sanitize=thread", "-Db_lundef=false",
               "--buildtype=debugoptimized")
    count(ok, "build (TSan)")
    if ok:
        count(fuse_sanitized("tsan", "build-tsan",
                             {"TSAN_OPTIONS": "halt_on_error=1"}),
              "tsan: no data race reported")

    # Fuzzing: every libFuzzer target for a bounded time from its corpus.
    ok = build("build-fuzz", "-Dfuzz=true", "--buildtype=debugoptimized",
               env={"CC": "clang"})
    count(ok, "build (libFuzzer)")
    if ok:
        fuzzdir = os.path.join(TOP, "build-fuzz", "tests", "fuzz")
        for target in sorted(os.listdir(os.path.join(TOP, "tests", "fuzz", "corpus"))):
            count(fuzz(os.path.join(fuzzdir, f"fuzz_{target}"), target),
                  f"fuzz: {target}")

    log(f"done in {time.time() - start:.0f} s")
    for f in failures:
        log(f"FAILED: {f}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
