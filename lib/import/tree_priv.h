/* SPDX-License-Identifier: MIT */
/* The import tree's insides, shared by tree.c (applying entries) and
 * number.c (numbering and diffing its layers). */
#ifndef PUZZLEFS_IMPORT_TREE_PRIV_H
#define PUZZLEFS_IMPORT_TREE_PRIV_H

#include "import/tree.h"

struct pfs_tname {
	struct pfs_tnode *dir, *node;
	struct pfs_tname *hnext;
	uint64_t hash;
	uint32_t idx;			/* in dir->kids */
	uint32_t upper;			/* layer (1-based) that made this path
					 * or one under it: its whiteouts and
					 * opaque directories spare it */
	uint32_t len;
	uint8_t name[];
};

struct pfs_itree {
	const struct pfs_log *log;
	struct pfs_mtime_policy mtime;
	uint64_t max_entries, entries;
	struct pfs_tnode *root;
	struct pfs_tnode **nodes;
	size_t nnodes, nodes_cap, fresh;
	struct pfs_tname **buckets;
	size_t nbuckets, nnames;
	uint64_t seed, serial;
	uint32_t pass;

	/* the entry being applied, for messages */
	const char *what, *path;

	/* numbering */
	const struct pfs_mlayer *below;
	size_t nbelow;
	uint64_t next_ino;
	struct pfs_u64map claimed, named;
	uint64_t *removed;
	size_t nremoved, removed_cap;
	struct pfs_tnode **order;
	size_t norder, order_cap;
};

#endif
