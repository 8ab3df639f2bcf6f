/* SPDX-License-Identifier: MIT */
/*
 * Walking an image's directory tree, for every tool that visits a whole
 * tree (extract, ls -R, fsck, the readahead's file order, the expanded
 * size): iterative, depth first with each directory's entries in their
 * order, at most PFS_MAX_DEPTH directories deep, and every directory
 * entered once.  A directory named twice (a cycle, or a directory hard
 * link, which no writer makes) would otherwise be walked again and again,
 * 2^40 times for a chain of 40 directories each linked twice.
 *
 * pfs_image_check() refuses such an image before anything walks it (the
 * census sees every reachable directory); the walker checks on its own as
 * well, so that a walk is bounded whoever calls it.
 */
#ifndef PUZZLEFS_TREE_H
#define PUZZLEFS_TREE_H

#include "read/image.h"

struct pfs_tree_dir {
	uint64_t ino;
	uint64_t pos;			/* pfs_readdir's */
	size_t path_len;		/* its path in pfs_tree.path */
};

struct pfs_tree {
	struct pfs_image *img;
	struct pfs_tree_dir *dirs;	/* [0] the start, [depth - 1] current */
	unsigned depth, cap;
	bool left;			/* the current one was reported left */
	struct pfs_u64map entered;	/* directories walked */
	/* The path of the entry reported, or of the directory left: the
	 * start's path, then names joined with '/'. */
	char *path;
	size_t path_len, path_cap;
	struct pfs_dirent_info ent;	/* the entry reported */
	const char *why;		/* pfs_tree_enter's refusal */
};

enum { PFS_TREE_END, PFS_TREE_ENTRY, PFS_TREE_LEAVE };

/* Walk directory @dir, whose path is @path ("" or "/" are fine). */
int pfs_tree_init(struct pfs_tree *t, struct pfs_image *img, uint64_t dir,
		  const char *path);
void pfs_tree_free(struct pfs_tree *t);

/*
 * The next step: PFS_TREE_ENTRY, an entry of the current directory (t->ent,
 * its path in t->path); PFS_TREE_LEAVE, the current directory has no more
 * (t->path is its path, t->depth still counts it; the start is left last);
 * PFS_TREE_END; or a negative errno when the current directory cannot be
 * read further (it is left next).
 */
int pfs_tree_next(struct pfs_tree *t);

/*
 * Walk the directory just reported next (its entries come before the rest
 * of its parent's).  -ELOOP, t->why saying why, when it was walked already
 * or would be deeper than PFS_MAX_DEPTH below the start.
 */
int pfs_tree_enter(struct pfs_tree *t);

/* What extracting the tree at @dir writes. */
struct pfs_tree_size {
	uint64_t entries;		/* names below @dir */
	uint64_t files;			/* regular files, hard links once */
	uint64_t bytes;			/* their contents */
};

int pfs_tree_size(struct pfs_image *img, uint64_t dir,
		  struct pfs_tree_size *out);

#endif
