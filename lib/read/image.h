/* SPDX-License-Identifier: MIT */
/* The reader's internals, for the tools built on it (extract, fsck, dump). */
#ifndef PUZZLEFS_IMAGE_H
#define PUZZLEFS_IMAGE_H

#include <pthread.h>

#include "../../core/rootfs.h"
#include "read/blob.h"
#include "read/derived.h"
#include "store/oci.h"

struct pfs_icache;

/* A visible inode with what the reader derives from it once. */
struct pfs_cinode {
	struct pfs_inode in;
	uint64_t size;
};

struct pfs_census;

/* A chunk: which file (its place in the readahead order), which entry of
 * its chunk list. */
struct pfs_ra_pos {
	uint64_t pos;
	uint32_t idx;
};

#define PFS_RA_MAX 32
#define PFS_RA_THREADS 3

/*
 * Readahead of chunk blobs (image.c): threads that load, check and
 * decompress the blobs of the files that follow a sequential reader's
 * position, in the order readers walk a tree (depth first, names in
 * order), so that disk reads (several in flight), sha256 and zstd run
 * ahead of the reads, which then only copy.
 */
struct pfs_readahead {
	pthread_mutex_t lock;		/* everything below */
	pthread_cond_t wake;
	pthread_t thread[PFS_RA_THREADS];
	unsigned depth;			/* blobs kept ahead; 0: off */
	unsigned nthreads;
	bool stop, posted;
	uint64_t want_ino;		/* the reader's latest position */
	uint32_t want_idx;
	uint8_t posted_blob[32];	/* and its blob */
	uint64_t *order;		/* regular files, depth first */
	size_t norder;
	struct pfs_u64map where;	/* ino -> place in order */
	int ordered;			/* 0 no, 1 being built, 2 built */
	struct pfs_ra_pos base, horizon;
	struct pfs_ra_pos ahead[PFS_RA_MAX];
	unsigned nahead;
	bool at_end;			/* nothing after horizon */
	uint8_t last[32];		/* digest of the chunk at horizon */
};

struct pfs_image {
	struct pfs_log log;
	struct pfs_oci *oci;
	bool owns_oci;
	char *tag;
	struct pfs_desc manifest_desc;
	uint8_t *manifest_json;
	size_t manifest_len;
	struct pfs_manifest manifest;	/* chunks: see pfs_image_chunk_layers */
	bool chunks_loaded;
	uint8_t *rootfs_buf;
	size_t rootfs_len;
	u64 *seg;
	struct pfs_layer *layers;
	struct pfs_ino_ref *index;	/* images of many layers */
	struct pfs_rootfs rfs;
	bool verity;
	struct pfs_blob_cache *blobs;
	struct pfs_icache *icache;
	struct pfs_dcache derived;	/* chunk ends, merged dirs */
	pthread_mutex_t census_lock;
	struct pfs_census *census;	/* link counts */
	bool totals;			/* statfs figures counted */
	uint64_t files, blocks;
	struct pfs_readahead ra;
};

/* Open with an OCI handle the caller keeps owning. */
int pfs_image_open_oci(struct pfs_oci *oci, const char *tag,
		       const struct pfs_image_opts *opts,
		       struct pfs_image **out);

/* Parse the manifest's chunk layers into img->manifest (once). */
int pfs_image_chunk_layers(struct pfs_image *img);

/* The visible inode @ino (cached). */
int pfs_image_inode(struct pfs_image *img, uint64_t ino,
		    struct pfs_cinode *out);
void pfs_image_attr(struct pfs_image *img, const struct pfs_cinode *ci,
		    struct pfs_attr *attr);

#endif
