"""CLI conventions: --help on every command (exit 0, usage on stdout),
--version, and exit status 2 with a hint for every usage error."""
import re

import pytest

pytestmark = pytest.mark.core


def commands(pfs):
    out = pfs.run("--help").stdout.decode()
    cmds = re.findall(r"^  ([a-z-]+) ", out, re.M)
    assert {"build", "extract", "tags", "ls", "cat", "dump", "fsck",
            "mount"} <= set(cmds)
    return cmds


def test_help_every_command(pfs):
    for cmd in commands(pfs):
        for flag in ("--help", "-h"):
            r = pfs.run(cmd, flag)
            assert r.stdout.startswith(b"Usage: puzzlefs " + cmd.encode()), cmd
            assert r.stderr == b"", cmd


def test_version(pfs):
    assert re.match(rb"puzzlefs \d+\.\d+\.\d+", pfs.run("--version").stdout)
    assert pfs.run("-V").stdout == pfs.run("--version").stdout


def usage_error(pfs, *args):
    r = pfs.run(*args, check=False)
    assert r.returncode == 2, (args, r)
    assert b"--help" in r.stderr, (args, r.stderr)
    assert r.stdout == b"", args


def test_usage_errors(pfs):
    usage_error(pfs)
    usage_error(pfs, "no-such-command")
    for cmd in commands(pfs):
        usage_error(pfs, cmd, "--no-such-option")
        usage_error(pfs, cmd, "--no-such-option", "a:b", "c")
        usage_error(pfs, cmd, "-Z", "a:b", "c")
        usage_error(pfs, cmd)   # missing operands
    usage_error(pfs, "build", "only-one-arg")
    usage_error(pfs, "build", "-b")
    usage_error(pfs, "build", "--threads", "zero", "src", "oci:t")
    for size in ("0", "2G", "16Q", "-1", ""):
        usage_error(pfs, "build", "--frame-size", size, "src", "oci:t")
    usage_error(pfs, "extract", "oci:t")
    usage_error(pfs, "ls", "oci:t", "/", "extra")
    usage_error(pfs, "enable-fs-verity", "oci:t", "not-hex")


def test_fsck_json(pfs, reference_demo):
    """fsck --json: problems as a JSON list on stdout, the same exit codes."""
    import json

    r = pfs.run("fsck", "--json", f"{reference_demo}:v0")
    assert json.loads(r.stdout) == {"problems": [], "warnings": [], "count": 0}
    assert r.stderr == b""
    # The reference's -c images carry its wrong fsVerityData for raw chunks.
    r = pfs.run("fsck", "--json", f"{reference_demo}:v0-zstd", check=False)
    report = json.loads(r.stdout)
    assert r.returncode == 1 and report["count"] == len(report["problems"]) > 0
    assert all("fsVerityData" in p for p in report["problems"])
