/* SPDX-License-Identifier: MIT */
/*
 * Chunk end offsets of files with many chunks, computed once per file and
 * kept in a small cache, so that a read finds its chunk by binary search
 * instead of walking the chunk list (see pfs_file_ends).
 */
#ifndef PUZZLEFS_LIB_ENDS_H
#define PUZZLEFS_LIB_ENDS_H

#include <stdatomic.h>
#include <stddef.h>
#include <pthread.h>

#include "../core/rootfs.h"

struct pfs_ends {
	atomic_uint refs;
	uint64_t ino;
	size_t bytes;
	u64 end[];
};

#define PFS_ENDS_SLOTS 64
/* Arrays are 8 bytes per chunk (0.01% of a file of 64 KiB chunks); beyond
 * this much in all, a file's array serves one read and is freed. */
#define PFS_ENDS_BUDGET ((size_t)64 << 20)

struct pfs_ends_cache {
	pthread_mutex_t lock;
	size_t bytes;
	struct pfs_ends *slot[PFS_ENDS_SLOTS];
};

void pfs_ends_cache_init(struct pfs_ends_cache *ec);
void pfs_ends_cache_destroy(struct pfs_ends_cache *ec);

/* The chunk ends of file @in, referenced; NULL when a walk is as good (few
 * chunks) or the array cannot be had (no memory, corrupt list: the walk
 * then reports it). */
struct pfs_ends *pfs_ends_get(struct pfs_ends_cache *ec,
			      const struct pfs_rootfs *r,
			      const struct pfs_inode *in);
void pfs_ends_put(struct pfs_ends *e);

#endif
