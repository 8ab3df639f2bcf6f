/* SPDX-License-Identifier: MIT */
/*
 * Drive the whole rootfs decoder over a buffer: open, every layer, every
 * inode (its mtime checked), entry, chunk and xattr, lookups, directory
 * iteration and fs-verity data.  Used by the unit tests on mutated messages and by the
 * fuzz target; whatever the input, this must not crash, hang or read out
 * of bounds.
 */
#ifndef PUZZLEFS_TEST_EXERCISE_H
#define PUZZLEFS_TEST_EXERCISE_H

#include <stdlib.h>

#include "../../core/rootfs.h"

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* List directory @ino and look up its names, as a reader would, then the
 * first few subdirectories the same way (to @depth). */
static inline void exercise_dir(const struct pfs_rootfs *r, u64 ino,
				int depth)
{
	struct pfs_merged m = { NULL, 0 }, *mp = NULL;
	struct pfs_merged_ent *ent = NULL;
	struct pfs_inode child, dir;
	struct pfs_dirent de;
	struct pfs_cur c;
	u64 pos = 0, n, sub[4];
	u32 i, nsub = 0;

	pfs_cur_init(&c, &r->msg);
	if (pfs_inode_get(&c, r, ino, &dir) || dir.kind != PFS_KIND_DIR ||
	    pfs_dir_check_order(&c, r, &dir))
		return;
	if (pfs_dir_needs_merge(&dir)) {
		if (pfs_dir_merge_len(&c, r, &dir, &n) || n > (1u << 20))
			return;
		ent = calloc(n + 1, sizeof(*ent));
		pfs_cur_init(&c, &r->msg);
		if (!ent || pfs_dir_merge(&c, r, &dir, ent, n, &m.n)) {
			free(ent);
			return;
		}
		m.ent = ent;
		mp = &m;
	}
	for (i = 0; i < 1000; i++) {
		pfs_cur_init(&c, &r->msg);
		if (pfs_dir_next(&c, r, &dir, mp, &pos, &de, &child) <= 0)
			break;
		if (child.kind == PFS_KIND_DIR && nsub < 4)
			sub[nsub++] = child.ino;
		pfs_cur_init(&c, &r->msg);
		pfs_dir_lookup(&c, r, &dir, mp, de.name, de.name_len, &child);
	}
	pfs_dir_lookup(&c, r, &dir, mp, (const u8 *)"x", 1, &child);
	free(ent);
	for (i = 0; depth > 0 && i < nsub; i++)
		exercise_dir(r, sub[i], depth - 1);
}

static inline void exercise_walk(const struct pfs_rootfs *r)
{
	exercise_dir(r, PFS_ROOT_INO, 2);
}

static inline int exercise_rootfs(const uint8_t *data, size_t len)
{
	struct pfs_rootfs r = { .report = quiet };
	struct pfs_layer *layers;
	struct pfs_ino_ref *index;
	struct pfs_inode in;
	struct pfs_dirent de;
	struct pfs_chunk ch;
	struct pfs_xattr x;
	struct pfs_cur c;
	const u8 *d, *v;
	u64 *seg, size;
	u32 nseg, l, i, j, idx, n = 0;

	if (pfs_rootfs_probe(data, len, &nseg))
		return -1;
	seg = calloc(nseg + 1, sizeof(*seg));
	if (!seg || pfs_rootfs_init(&r, data, len, seg, nseg)) {
		free(seg);
		return -1;
	}
	/* Absurd layer counts are cheap to reject here, as real callers do. */
	layers = r.nlayers < (1u << 20) ? calloc(r.nlayers, sizeof(*layers)) : NULL;
	if (!layers || pfs_rootfs_init_layers(&r, layers)) {
		free(layers);
		free(seg);
		return -1;
	}
	for (l = 0; l < r.nlayers; l++) {
		for (i = 0; i < r.layers[l].inodes.count && n < 100000; i++, n++) {
			pfs_cur_init(&c, &r.msg);
			if (pfs_layer_inode(&c, &r, l, i, &in))
				continue;
			/* Readers hand the mtime to the VFS as it is: only a
			 * valid one may come out. */
			if (in.has_mtime && in.mtime_nsec >= PFS_NSEC_PER_SEC)
				abort();
			pfs_file_size(&c, &r, &in, &size);
			for (j = 0; j < in.list.count && j < 10000; j++) {
				if (in.kind == PFS_KIND_DIR)
					pfs_dirent_at(&c, &r, &in, j, &de);
				else if (in.kind == PFS_KIND_FILE)
					pfs_file_chunk(&c, &r, &in, j, &ch);
			}
			for (j = 0; j < in.xattrs.count && j < 1000; j++)
				pfs_xattr_at(&c, &r, &in, j, &x);
			if (in.kind == PFS_KIND_FILE) {
				u64 start = 0, ends[256];

				idx = 0;
				pfs_file_seek(&c, &r, &in, NULL, 12345, &idx, &start, &ch);
				if (in.list.count <= 256 &&
				    pfs_file_ends(&c, &r, &in, ends) == 0)
					pfs_file_seek(&c, &r, &in, ends, 12345,
						      &idx, &start, &ch);
			}
			pfs_verity_find(&c, &r, (const u8 *)"0123456789abcdef0123456789abcdef", &v);
		}
	}
	exercise_walk(&r);
	/* Again through the inode index, as readers of many layers do. */
	size = pfs_rootfs_index_len(&r);
	index = size && size < (1u << 22) ? calloc(size, sizeof(*index)) : NULL;
	if (index) {
		pfs_rootfs_init_index(&r, index);
		exercise_walk(&r);
		r.index = NULL;
		free(index);
	}
	pfs_cur_init(&c, &r.msg);
	for (i = 0; i < r.verity.count && i < 10000; i++)
		pfs_verity_at(&c, &r, i, &d, &v);
	free(layers);
	free(seg);
	return 0;
}

#endif
