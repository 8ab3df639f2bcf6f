"""One qemu boot for all the kernel tests (puzzlefs.ko, issue 4).

The session fixture `guest` builds the module, the images and the guest,
boots it once with every check, and hands the reports and the listings the
guest made to the tests, which are separate pytest cases per check.
PUZZLEFS_BUILD selects the user-space build (default build/), as for the
integration tests.  (Not a conftest.py: tests/integration imports its own
conftest by name, and pytest runs both directories in one session.)
"""
import json
import os
import shutil
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import images  # noqa: E402
import kharness  # noqa: E402

TOP = kharness.TOP
BUILD = os.environ.get("PUZZLEFS_BUILD", os.path.join(TOP, "build"))
GUEST_TIMEOUT = int(os.environ.get("PFS_KERNEL_TIMEOUT", "1500"))


class Guest:
    def __init__(self, reports, outputs, expected, console):
        self.reports = reports
        self.outputs = outputs
        self.expected = expected
        self.console = console

    def check(self, name):
        return self.reports["checks"].get(name)

    def notes(self, name):
        return "\n".join(self.reports["notes"].get(name, []))

    def listing(self, name):
        data = self.outputs.get(f"{name}.json")
        if data is None:
            return None
        return {e["path"]: e for e in json.loads(data.decode("utf-8", "surrogateescape"))}


@pytest.fixture(scope="session")
def guest(tmp_path_factory):
    work = kharness.WORK
    os.makedirs(work, exist_ok=True)
    kver = kharness.kernel_version()
    kroot = kharness.fetch_kernel(kver)
    ko = kharness.build_module()
    pfs = os.path.join(BUILD, "puzzlefs")
    treelist = kharness.build_static(os.path.join(TOP, "tests", "tools", "treelist.c"),
                                     os.path.join(work, "bin", "treelist"))
    ktool = kharness.build_static(os.path.join(HERE, "ktool.c"),
                                  os.path.join(work, "bin", "ktool"))
    stage = os.path.join(work, "stage")
    shutil.rmtree(stage, ignore_errors=True)
    expected, _, _ = images.prepare(stage, pfs, treelist,
                                    str(tmp_path_factory.mktemp("kimg")))
    disk = kharness.make_disk(stage, os.path.join(work, "data.img"))
    shutil.rmtree(stage)
    out = kharness.empty_disk(os.path.join(work, "out.img"), 64)
    files = {"/bin/treelist": treelist, "/bin/ktool": ktool, "/puzzlefs.ko": ko,
             "/lib.sh": os.path.join(HERE, "guest", "lib.sh"),
             "/job.sh": os.path.join(HERE, "guest", "checks.sh")}
    files.update(kharness.puzzlefs_files(pfs))
    with open(os.path.join(HERE, "guest", "init.sh")) as f:
        init = f.read()
    initrd = kharness.make_initramfs(os.path.join(work, "initramfs.cpio"), kver,
                                     kroot, files, init)
    kharness.log(f"booting {kver} under qemu (tcg)")
    reports, console, secs = kharness.run_guest(
        kroot, kver, initrd, [(disk, True), (out, False)], GUEST_TIMEOUT,
        log_path=os.path.join(work, "console.log"))
    kharness.log(f"guest ran {secs:.0f} s; console in {work}/console.log")
    outputs = kharness.read_tar_disk(out)
    return Guest(reports, outputs, expected, console)
