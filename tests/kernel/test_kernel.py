"""puzzlefs.ko in a qemu guest (issue 4), plus the fs-verity checks of the
CLI that need a kernel with fs-verity (issues 2 and 3).  One boot runs
every check (see guest/checks.sh); each is a test here."""
import pytest

import images
from kguest import guest  # noqa: F401  (the session fixture)
from tree import compare

pytestmark = pytest.mark.kernel


def status(guest, name):
    r = guest.check(name)
    assert r is not None, (
        f"the guest did not report {name} (panic: {guest.reports['panic']}, "
        f"timed out: {guest.reports['timed_out']})")
    st, msg = r
    if st == "SKIP":
        pytest.skip(msg)
    assert st == "PASS", f"{name}: {msg}\n{guest.notes(name)}"
    return msg


def test_guest_ran_to_the_end(guest):
    """The guest finished every check: no panic, oops or hang."""
    assert not guest.reports["timed_out"], "the guest timed out"
    assert guest.reports["panic"] is None, guest.reports["panic"]
    assert guest.reports["done"], "the guest stopped before the end"


# Checks decided in the guest.
GUEST_CHECKS = [
    "module_load", "fs_semantics", "readers", "corrupt_dmesg",
    "shared_lists", "verity_enable", "verity_flag", "verity_wrong_digest", "verity_no_verity",
    "verity_blob_without", "verity_blob_wrong",
    "fuse_verity_wrong", "fuse_verity_blob_without", "fuse_verity_blob_wrong",
    "fuse_verity_no_verity", "unload", "dmesg_clean",
]


@pytest.mark.parametrize("name", GUEST_CHECKS)
def test_guest_check(guest, name):
    status(guest, name)


@pytest.mark.parametrize("case", images.corrupt_case_names())
def test_corrupted_image(guest, case):
    """Mount fails or reads give EIO; the kernel survives (dmesg checked by
    corrupt_dmesg)."""
    status(guest, f"corrupt_{case}")


# Listings made in the guest, compared here with the sources' listings.
LISTINGS = [
    # (check, listing written, expected, fields not compared)
    ("corner_plain", "corner-plain", "corner", ()),
    ("corner_zstd", "corner-zstd", "corner", ()),
    ("corner_zstd_whole", "corner-zstd-whole", "corner", ()),
    ("rootfs_option", "corner-rootfs", "corner", ()),
    ("kmount", "corner-kmount", "corner", ()),
    ("delta_a", "delta-a", "delta-a", ()),
    ("delta_b", "delta-b", "delta-b", ()),
    ("delta_a_zstd", "delta-a-zstd", "delta-a", ()),
    ("delta_b_zstd", "delta-b-zstd", "delta-b", ()),
    ("delta_chain", "chain", "chain", ()),
    ("mtime_tree", "mtime", "mtime", ()),
    ("merged", "merged", "merged", ()),
    ("runs", "runs", "runs", ()),
    ("ref_v0", "ref-v0", "ref-v0", ()),
    ("ref_v0_zstd", "ref-v0-zstd", "ref-v0", ()),
    ("ref_v1", "ref-v1", "ref-v1", ()),
    ("ref_v1_zstd", "ref-v1-zstd", "ref-v1", ()),
    ("verity_mount", "vt-verity", "vt", ()),
    ("fuse_verity_ok", "vt-fuse", "vt", ("nlink",)),
]


@pytest.mark.parametrize("check,listing,expected,ignore", LISTINGS,
                         ids=[x[0] for x in LISTINGS])
def test_mounted_tree(guest, check, listing, expected, ignore):
    """The mounted image equals its source: type, mode, owner, size,
    sha256, symlink target, rdev, xattrs, hard-link groups (and nlink, and
    mtimes where the image has them)."""
    status(guest, check)
    got = guest.listing(listing)
    assert got is not None, f"the guest wrote no {listing}.json"
    compare(guest.expected[expected], got, ignore=ignore)
