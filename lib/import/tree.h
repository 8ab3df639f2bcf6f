/* SPDX-License-Identifier: MIT */
/*
 * The tree an import builds: the image's filesystem as its tar layers
 * leave it, one layer after another, with the OCI layer semantics (what
 * `umoci unpack` and the runtimes do), and the puzzlefs layers made from
 * it (numbered and diffed as `build -b` does).
 *
 * Applying an entry, in tar order:
 *  - its path is cleaned as runtimes clean it ("/a", "./a", "../a" and
 *    "x/../a" are all "a"; nothing is ever outside the tree), and every
 *    name in it must be at most 255 bytes;
 *  - ".wh.NAME" removes NAME from the layers below (with everything
 *    under it), ".wh..wh..opq" empties its directory of what the layers
 *    below put there; what this layer made itself stays, whatever the
 *    order; other ".wh..wh." names (AUFS's) are ignored; whiteouts are
 *    never part of the tree;
 *  - anything else replaces what was at its path, of any type, except
 *    that a directory over a directory keeps its children (and takes the
 *    new metadata); missing parents are made (0755, root's) as umoci does;
 *  - a hard link names the inode its target has at that moment (a file of
 *    a lower layer, too); a link to a missing path or to a directory is
 *    an error;
 *  - a path that goes through a symlink, or through anything but a
 *    directory, is an error (runtimes would follow the link, umoci inside
 *    the tree; an image that needs that is malformed or hostile).
 */
#ifndef PUZZLEFS_IMPORT_TREE_H
#define PUZZLEFS_IMPORT_TREE_H

#include <archive.h>
#include <archive_entry.h>

#include "write/build.h"

/* An inode of the tree (hard links: several names, one node). */
struct pfs_tnode {
	struct pfs_bnode bn;		/* metadata, stream pieces, FileChunks */
	struct pfs_tname **kids;	/* directories: their names */
	uint32_t nkids, kids_cap;
	uint32_t nnames;		/* names in the tree */
	uint32_t stamp;			/* layer (1-based) that wrote it */
	uint32_t pass;			/* numbering pass that numbered it */
	bool dirty;			/* written since the last numbering */
	uint64_t ino;			/* in the last numbering */
	uint64_t prev_ino;		/* in the numbering before that */
	uint64_t base_ino;		/* same path in the layers below */
	uint64_t serial;
	uint64_t size;			/* regular files: bytes of data */
	uint32_t src_layer;		/* the entry that made it */
	uint64_t src_entry;
	/* A regular file the entry replaced at its path (the caller may
	 * keep its chunks if the data is the same, as build -b does). */
	struct pfs_tnode *replaced;
};

struct pfs_itree;

struct pfs_itree_opts {
	const struct pfs_log *log;
	uint64_t max_entries;		/* 0: PFS_IMPORT_MAX_ENTRIES */
	/* The mtimes made of the headers' (NULL: theirs, as they are). */
	const struct pfs_mtime_policy *mtime;
};

int pfs_itree_new(const struct pfs_itree_opts *o, struct pfs_itree **out);
void pfs_itree_free(struct pfs_itree *t);

/*
 * Apply entry @ae of layer @layer (0 the bottom; @what names it in
 * messages).  A new regular file is returned in *@file (else NULL): its
 * data, archive_entry_size(@ae) bytes, is the caller's to stream.
 */
int pfs_itree_apply(struct pfs_itree *t, uint32_t layer, const char *what,
		    struct archive_entry *ae, struct pfs_tnode **file);

/* Every regular file of the tree as it stands, in no particular order. */
int pfs_itree_files(struct pfs_itree *t, struct pfs_tnode ***files,
		    size_t *count);

/* Nodes made since the last call (to resolve their pieces after a cut). */
struct pfs_tnode **pfs_itree_fresh(struct pfs_itree *t, size_t *count);

/*
 * The puzzlefs layer of the tree as it stands: numbered as the reference
 * numbers a tree (root 1, depth first, each directory's names in byte
 * order), or, on top of @below (@nbelow layers, bottom first, as earlier
 * calls made them), as `build -b` would: a path that exists below keeps
 * its inode number, new ones are numbered after the highest below, and
 * the layer holds only what differs from below (with complete directory
 * lists) plus a whiteout for each inode below no longer named.
 */
int pfs_itree_layer(struct pfs_itree *t, const struct pfs_mlayer *below,
		    size_t nbelow, struct pfs_mlayer *out);

#define PFS_IMPORT_MAX_ENTRIES 4000000ull

#endif
