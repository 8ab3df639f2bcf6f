/* SPDX-License-Identifier: MIT */
/* The reader's internals, for the tools built on it (extract, fsck, dump). */
#ifndef PUZZLEFS_IMAGE_H
#define PUZZLEFS_IMAGE_H

#include <pthread.h>

#include "../core/rootfs.h"
#include "blob.h"
#include "oci.h"

struct pfs_icache;

/* A visible inode with what the reader derives from it once. */
struct pfs_cinode {
	struct pfs_inode in;
	uint64_t size;
};

struct pfs_census;

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
	struct pfs_rootfs rfs;
	bool verity;
	struct pfs_blob_cache *blobs;
	struct pfs_icache *icache;
	pthread_mutex_t census_lock;
	struct pfs_census *census;	/* link counts */
	bool totals;			/* statfs figures counted */
	uint64_t files, blocks;
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
uint32_t pfs_kind_to_type(unsigned kind);

#endif
