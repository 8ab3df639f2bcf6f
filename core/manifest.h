/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * Finding the PuzzleFS rootfs layer in an OCI image manifest.
 *
 * The kernel driver is given the digest of an image manifest and must find
 * the rootfs blob in it without a JSON library.  This is a small bounded
 * scanner: one pass over the bytes, no allocation, no recursion (nesting is
 * tracked in a bit stack), every string and number checked.  It accepts any
 * valid JSON manifest, in any key order and with unknown fields, and takes
 * the first element of "layers" whose "mediaType" is exactly the rootfs
 * media type, as the reference does.  Shared by the kernel module and user
 * space (unit test and fuzz target).
 */
#ifndef PUZZLEFS_MANIFEST_H
#define PUZZLEFS_MANIFEST_H

#include "compat.h"
#include "puzzlefs_fs.h"

#define PFS_JSON_MAX_DEPTH 64

struct pfs_manifest_rootfs {
	u8 digest[PFS_DIGEST_LEN];	/* sha256 of the rootfs blob */
	u64 size;			/* its length in bytes */
	bool has_verity;
	u8 verity[PFS_DIGEST_LEN];	/* fs-verity annotation, if any */
};

/*
 * 0 and *out filled; -ENOENT when the manifest has no rootfs layer;
 * -PFS_ECORRUPT when it is not valid JSON, nests deeper than
 * PFS_JSON_MAX_DEPTH, repeats a key the scan relies on, or the rootfs
 * descriptor's digest, size or annotation is malformed.
 */
int pfs_manifest_find_rootfs(const u8 *json, u64 len,
			     struct pfs_manifest_rootfs *out);

/* Parse exactly 2 * PFS_DIGEST_LEN lowercase hex digits. */
int pfs_unhex_digest(const u8 *hex, u32 len, u8 out[PFS_DIGEST_LEN]);

#endif
