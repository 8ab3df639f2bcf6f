/* SPDX-License-Identifier: MIT */
/*
 * Chunk blob cache of a reader.  A blob is loaded whole on first use and
 * checked (sha256 always; fs-verity too in verity mode) before any byte of
 * it is served, so what is served is what was checked.  Compressed blobs
 * keep their seek table and a lazily filled buffer of decompressed frames.
 * The cache is sharded by digest (no global lock on the read path) and
 * bounded in bytes (least recently used blobs are dropped).
 */
#ifndef PUZZLEFS_BLOB_H
#define PUZZLEFS_BLOB_H

#include "store/oci.h"

struct pfs_blob_cache;

struct pfs_blob_verity {
	/* In verity mode: returns the expected fs-verity digest of a blob. */
	int (*expected)(void *arg, const uint8_t *digest, uint8_t *verity);
	void *arg;
};

int pfs_blob_cache_new(struct pfs_oci *oci, const struct pfs_log *log,
		       size_t max_bytes, const struct pfs_blob_verity *verity,
		       struct pfs_blob_cache **out);
void pfs_blob_cache_free(struct pfs_blob_cache *bc);

/* Copy @len bytes at @off of the chunk's (uncompressed) content. */
int pfs_blob_read(struct pfs_blob_cache *bc, const uint8_t *digest,
		  bool compressed, uint64_t off, size_t len, uint8_t *dst);

/* Readahead: load and check a blob now, decompress all its frames. */
int pfs_blob_warm(struct pfs_blob_cache *bc, const uint8_t *digest,
		  bool compressed);

/* Uncompressed length of a blob's content (for fsck). */
int pfs_blob_content_size(struct pfs_blob_cache *bc, const uint8_t *digest,
			  bool compressed, uint64_t *size);

#endif
