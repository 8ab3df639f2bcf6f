/* SPDX-License-Identifier: MIT */
/* Seekable zstd blobs: the writer and the per-frame decoder (the seek-table
 * parser itself is in core/seektable.c, shared with the kernel). */
#ifndef PUZZLEFS_SEEKABLE_H
#define PUZZLEFS_SEEKABLE_H

#include <stdbool.h>
#include <zstd.h>

#include "util.h"

/*
 * Compress @src into independent frames of at most @frame uncompressed
 * bytes, then the seek table (no checksums), appending to @out.  Follows
 * the reference's libzstd call sequence so that the bytes match it.
 */
int pfs_seekable_compress(ZSTD_CCtx *cctx, const void *src, size_t len,
			  int level, uint32_t frame, struct pfs_buf *out);

/* Decode exactly one frame of @csize bytes into exactly @dsize bytes;
 * with @checksum set, also check the seek table's XXH64 checksum. */
int pfs_seekable_frame(ZSTD_DCtx *dctx, const uint8_t *src, size_t csize,
		       uint8_t *dst, size_t dsize, const uint32_t *checksum);

#endif
