"""Fixtures for the integration tests.

PUZZLEFS_BUILD selects the build directory to test (default: build/), so the
same tests run against the sanitizer build.  Tests marked "core" are the
ones run again under ASan+UBSan.
"""
import os
import shutil
import subprocess
import tempfile

import pytest

import tree

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("PUZZLEFS_BUILD", os.path.join(TOP, "build"))
FIXTURES = os.path.join(TOP, "tests", "fixtures")
REFERENCE = os.path.join(FIXTURES, "reference-images")


def pytest_configure(config):
    for m in ("core: core-issue tests, also run under ASan+UBSan",
              "fuse: needs FUSE mounts", "kernel: boots the qemu guest",
              "slow: runs for a minute or more (-m 'not slow' skips it)"):
        config.addinivalue_line("markers", m)


class Puzzlefs:
    """Runs the puzzlefs CLI of the build under test."""

    def __init__(self, build):
        self.exe = os.path.join(build, "puzzlefs")
        self.treelist = os.path.join(build, "tests", "treelist")

    def run(self, *args, check=True, **kw):
        cmd = [self.exe] + [os.fspath(a) for a in args]
        r = subprocess.run(cmd, capture_output=True, **kw)
        if check and r.returncode != 0:
            raise AssertionError(
                f"{cmd} exited {r.returncode}\nstdout: {r.stdout!r}\n"
                f"stderr: {r.stderr!r}")
        return r

    def build(self, src, ref, *opts):
        """Build and return the printed manifest fs-verity digest."""
        out = self.run("build", *opts, src, ref).stdout.decode()
        assert out.startswith("puzzlefs image manifest digest: "), out
        return out.split()[-1]

    def listing(self, path, nlink=False, mtime=False):
        return tree.listing(self.treelist, path, nlink, mtime)


@pytest.fixture(scope="session")
def pfs():
    return Puzzlefs(BUILD)


@pytest.fixture(scope="session")
def corner_tree(tmp_path_factory):
    """The corner-case tree, built once per session (read-only use)."""
    return tree.make_corner_tree(str(tmp_path_factory.mktemp("corner") / "tree"))


@pytest.fixture(scope="session")
def reference_demo(tmp_path_factory):
    """A writable copy of the reference's demo OCI directory."""
    dst = tmp_path_factory.mktemp("reference") / "demo"
    shutil.copytree(os.path.join(REFERENCE, "demo"), dst)
    return str(dst)


NOBODY = 65534


def as_nobody(*cmd):
    """A command line that runs cmd as user and group nobody (root bypasses
    the permission checks some tests need)."""
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}",
            "--clear-groups", *map(os.fspath, cmd)]


@pytest.fixture
def nobody_tmp():
    """A scratch directory owned by nobody, reachable by nobody (pytest's
    own tmp_path is under a 0700 directory)."""
    d = tempfile.mkdtemp()
    os.chmod(d, 0o755)
    os.chown(d, NOBODY, NOBODY)
    yield d
    shutil.rmtree(d)
