/* SPDX-License-Identifier: MIT */
/*
 * One tar layer read as a stream with libarchive: decompressed (gzip,
 * zstd or none, found from the bytes), its sha256 taken as it goes (of
 * the blob as stored and of the uncompressed tar, which the config's
 * rootfs.diff_ids names), entries and their data handed out in tar order.
 * Nothing is extracted; memory does not grow with the layer.
 */
#ifndef PUZZLEFS_IMPORT_LAYER_H
#define PUZZLEFS_IMPORT_LAYER_H

#include <archive.h>
#include <archive_entry.h>

#include "import/source.h"

struct pfs_layer;

/*
 * Read layer @info from @in (which the reader owns from now on, also on
 * failure).  The uncompressed tar may hold at most @max_bytes (the bound
 * on a decompression bomb: it costs time, never memory).
 */
int pfs_layer_open(const struct pfs_src_layer *info, struct pfs_stream *in,
		   uint64_t max_bytes, const struct pfs_log *log,
		   struct pfs_layer **out);
/* The next entry: 1, 0 at the end of the tar, or a negative errno. */
int pfs_layer_next(struct pfs_layer *l, struct archive_entry **ae);
/* The current entry's data (holes of sparse entries read as zeros). */
ssize_t pfs_layer_data(struct pfs_layer *l, void *buf, size_t len);
/* Read what is left of the stream and check both digests against what the
 * source said; the digests found are returned (either may be NULL). */
int pfs_layer_finish(struct pfs_layer *l, uint8_t *digest, uint8_t *diff_id);
/* Uncompressed bytes read so far. */
uint64_t pfs_layer_bytes(const struct pfs_layer *l);
void pfs_layer_close(struct pfs_layer *l);

/* Make @a read tar (ustar, pax, GNU, v7) only: no other formats, no
 * filters (tree.c's fuzzer and the layer reader use it). */
int pfs_tar_formats(struct archive *a);

#endif
