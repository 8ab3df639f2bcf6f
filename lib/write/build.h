/* SPDX-License-Identifier: MIT */
/*
 * The builder, in two halves: walk.c reads the source tree (inode
 * numbering, metadata, file contents in stream order) and build.c turns the
 * file stream into chunk blobs and writes the rootfs, manifest and tag.
 */
#ifndef PUZZLEFS_BUILD_H
#define PUZZLEFS_BUILD_H

#include <zstd.h>

#include "read/image.h"
#include "write/model.h"

/* A piece of a file: bytes [off, off + len) of chunk number @seq. */
struct pfs_piece {
	uint64_t seq;
	uint64_t off, len;
};

struct pfs_bnode {
	struct pfs_minode m;
	struct pfs_piece *pieces;
	uint32_t npieces, pieces_cap;
	uint64_t stream_size;		/* bytes this file put in the stream */
	bool keep_base_data;		/* delta: content equals the base's */
	bool unchanged;			/* delta: identical to the base inode */
};

struct pfs_builder;

/* Called by the walker for the contents of each new regular file, in
 * stream order; returns 0 or a negative errno. */
int pfs_build_file_begin(struct pfs_builder *b, struct pfs_bnode *n);
/* The contents go straight into the stream: read up to *room bytes into
 * the returned space (NULL: out of memory), then commit how many arrived. */
uint8_t *pfs_build_space(struct pfs_builder *b, size_t *room);
int pfs_build_commit(struct pfs_builder *b, size_t n);
int pfs_build_file_end(struct pfs_builder *b, struct pfs_bnode *n);
void pfs_build_progress(struct pfs_builder *b, uint64_t bytes);

/* The mtimes a build stores, resolved from pfs_build_opts: mode is never
 * PFS_MTIME_DEFAULT. */
struct pfs_mtime_policy {
	enum pfs_mtime_mode mode;
	int64_t fixed;
	bool clamp;
	int64_t clamp_to;
};

/* Give @m the mtime @p makes of the source's @sec.@nsec. */
void pfs_mtime_apply(const struct pfs_mtime_policy *p, struct pfs_minode *m,
		     int64_t sec, uint32_t nsec);

struct pfs_walk {
	struct pfs_builder *b;
	struct pfs_mtime_policy mtime;
	const struct pfs_log *log;
	struct pfs_image *base;		/* delta builds */
	uint64_t next_ino;
	struct pfs_bnode **nodes;	/* numbering order */
	size_t nnodes, nodes_cap;
	uint64_t *removed;		/* delta: base inos no longer named */
	size_t nremoved, removed_cap;
};

/*
 * Does blob @digest (@size bytes; seekable zstd when @compressed) hold
 * exactly @data?  Read back, sha256 checked, decompressed and compared
 * byte for byte; any failure, a blob not (yet) there included, is a no.
 * @c holds the scratch buffers, reused from call to call.
 */
struct pfs_chunk_check {
	ZSTD_DCtx *dctx;
	struct pfs_buf blob, raw;
};
bool pfs_blob_holds(struct pfs_oci *oci, struct pfs_chunk_check *c,
		    const uint8_t *digest, uint64_t size, bool compressed,
		    const void *data, size_t len);
void pfs_chunk_check_free(struct pfs_chunk_check *c);

int pfs_walk(struct pfs_walk *w, const char *rootfs);
void pfs_walk_free(struct pfs_walk *w);

#endif
