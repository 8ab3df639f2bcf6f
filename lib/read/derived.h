/* SPDX-License-Identifier: MIT */
/*
 * Arrays derived from the rootfs for one inode, made at first use and kept
 * in a small cache: a file's chunk end offsets (reads binary search them,
 * see pfs_file_ends) and a merged directory's entries (pfs_dir_merge).
 */
#ifndef PUZZLEFS_LIB_DERIVED_H
#define PUZZLEFS_LIB_DERIVED_H

#include <stdatomic.h>
#include <stddef.h>
#include <pthread.h>

#include "../../core/rootfs.h"

struct pfs_derived {
	atomic_uint refs;
	uint64_t ino;
	size_t bytes;
	u64 n;				/* elements */
	_Alignas(8) unsigned char data[];
};

/* Chunk ends (n = the file's chunks). */
static inline u64 *pfs_derived_ends(struct pfs_derived *d)
{
	return (u64 *)d->data;
}

/* A merged directory's visible entries. */
static inline struct pfs_merged_ent *pfs_derived_dir(struct pfs_derived *d)
{
	return (struct pfs_merged_ent *)d->data;
}

#define PFS_DERIVED_SLOTS 64
/* Beyond this much in all, older arrays are let go (chunk ends are 8 bytes
 * a chunk: 0.01% of a file's size; merged entries 32 bytes each). */
#define PFS_DERIVED_BUDGET ((size_t)64 << 20)

struct pfs_dcache {
	pthread_mutex_t lock;
	size_t bytes;
	struct pfs_derived *slot[PFS_DERIVED_SLOTS];
};

void pfs_dcache_init(struct pfs_dcache *dc);
void pfs_dcache_destroy(struct pfs_dcache *dc);

/* The chunk ends of file @in, referenced; NULL when a walk of its chunk
 * list is as good (few chunks) or the array cannot be had (no memory,
 * corrupt list: the walk then reports it). */
struct pfs_derived *pfs_ends_get(struct pfs_dcache *dc,
				 const struct pfs_rootfs *r,
				 const struct pfs_inode *in);
/* The merged entries of directory @dir (one pfs_dir_needs_merge names),
 * referenced, in *out; 0 or a negative errno. */
int pfs_merged_get(struct pfs_dcache *dc, const struct pfs_rootfs *r,
		   const struct pfs_inode *dir, struct pfs_derived **out);
void pfs_derived_put(struct pfs_derived *d);

#endif
