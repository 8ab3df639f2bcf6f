/* SPDX-License-Identifier: MIT */
/*
 * The FUSE file system proper: the low-level operations over one opened
 * image (ops.c) and the little state they share.  Node ids are puzzlefs
 * inode numbers (the root is 1 in both), so the operations keep no
 * per-node state and forget is a no-op; the only thing remembered is each
 * directory's parent, for "..".
 */
#ifndef PFS_FUSE_FS_H
#define PFS_FUSE_FS_H

#define FUSE_USE_VERSION 312

#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <time.h>

#include "puzzlefs.h"
#include "util.h"

/* Directory -> parent directory, filled by lookups (sharded locks). */
#define PFS_PARENT_SHARDS 16

struct pfs_parents {
	pthread_mutex_t lock[PFS_PARENT_SHARDS];
	struct pfs_u64map map[PFS_PARENT_SHARDS];
};

void pfs_parents_init(struct pfs_parents *p);
void pfs_parents_free(struct pfs_parents *p);
void pfs_parents_set(struct pfs_parents *p, uint64_t dir, uint64_t parent);
/* The parent of @dir, or @dir itself when unknown (the root is its own). */
uint64_t pfs_parents_get(struct pfs_parents *p, uint64_t dir);

enum pfs_fs_state { PFS_FS_WAITING, PFS_FS_READY, PFS_FS_ENDED };

struct pfs_fs {
	struct pfs_image *img;
	const struct pfs_log *log;
	struct timespec stamp;		/* a/m/ctime of inodes without an mtime */
	bool rdonly;			/* mounted MS_RDONLY */
	/* Set by init: the kernel serves open/opendir without asking us. */
	bool no_open, no_opendir;
	struct pfs_parents parents;
	/* INIT handshake, waited for by the daemon's notifier. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum pfs_fs_state state;
};

extern const struct fuse_lowlevel_ops pfs_fuse_ops;

void pfs_fs_init(struct pfs_fs *fs, struct pfs_image *img,
		 const struct pfs_log *log, bool rdonly);
void pfs_fs_destroy(struct pfs_fs *fs);
/* Block until the kernel's INIT was answered (true) or the session ended
 * first (false). */
bool pfs_fs_wait_ready(struct pfs_fs *fs);
void pfs_fs_set_state(struct pfs_fs *fs, enum pfs_fs_state state);

#endif
