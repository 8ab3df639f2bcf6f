// SPDX-License-Identifier: GPL-2.0
/*
 * One walk of the directory tree at mount.
 *
 * The format stores no link counts, but a hard link must show as one inode
 * with nlink > 1 (tools find hard links that way), and a directory's nlink
 * is 2 + its subdirectories.  Both need every directory entry, so the tree
 * is walked once here, which also yields the statfs totals and finds the
 * corruption a lookup could otherwise stumble on much later: a directory
 * reached twice (a cycle, or a directory hard link) is marked bad and is
 * refused by iget.  Each visible inode's kind is kept with its count, so
 * readdir can give d_type without decoding every child again.  The walk is iterative (explicit stack), bounded by the
 * number of directories, and yields the CPU between directories.
 */
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "internal.h"

static u32 links_get(struct pfs_sb_info *sbi, u64 ino, bool *present)
{
	void *v = xa_load(&sbi->links, ino);

	*present = v != NULL;
	return v ? PFS_LINKS_NLINK(xa_to_value(v)) : 0;
}

static int links_set(struct pfs_sb_info *sbi, u64 ino, u16 kind, u32 n)
{
	return xa_err(xa_store(&sbi->links, ino,
			       xa_mk_value(PFS_LINKS(kind, n)), GFP_KERNEL));
}

struct stack {
	u64 *v;
	size_t n, cap;
};

static int push(struct stack *s, u64 ino)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		u64 *v = kvmalloc_array(cap, sizeof(*v), GFP_KERNEL);

		if (!v)
			return -ENOMEM;
		if (s->n)
			memcpy(v, s->v, s->n * sizeof(*v));
		kvfree(s->v);
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = ino;
	return 0;
}

static int walk_dir(struct pfs_sb_info *sbi, struct stack *st, u64 ino)
{
	struct pfs_inode dir, child;
	struct pfs_dirent de;
	struct pfs_cur c;
	u32 subdirs = 0, n;
	u64 pos = 0, size;
	bool present;
	int e;

	/* A traversal budget per directory: the walk is not one operation. */
	pfs_cur_init(&c, &sbi->rfs.msg);
	e = pfs_inode_get(&c, &sbi->rfs, ino, &dir);
	if (e)
		return e == -ENOENT ? -PFS_ECORRUPT : e;
	while ((e = pfs_dir_next(&c, &sbi->rfs, &dir, &pos, &de, &child)) == 1) {
		n = links_get(sbi, child.ino, &present);
		if (child.kind == PFS_KIND_DIR) {
			if (present) {
				pfs_err(sbi, "corrupted image: directory %llu is linked twice",
					child.ino);
				e = links_set(sbi, child.ino, PFS_KIND_DIR,
					      PFS_LINKS_BAD);
				if (e)
					return e;
				continue;
			}
			subdirs++;
			e = push(st, child.ino);
			if (!e)
				e = links_set(sbi, child.ino, PFS_KIND_DIR, 2);
			if (e)
				return e;
			sbi->nfiles++;
			continue;
		}
		if (!present) {
			sbi->nfiles++;
			if (child.kind == PFS_KIND_FILE) {
				e = pfs_file_size(&c, &sbi->rfs, &child, &size);
				if (e)
					return e;
				sbi->nblocks += DIV_ROUND_UP_ULL(size, PAGE_SIZE);
			}
		}
		if (n < U32_MAX) {
			e = links_set(sbi, child.ino, child.kind, n + 1);
			if (e)
				return e;
		}
	}
	if (e < 0)
		return e;
	if (subdirs) {
		n = links_get(sbi, ino, &present);
		if (n != PFS_LINKS_BAD) {
			e = links_set(sbi, ino, PFS_KIND_DIR, 2 + subdirs);
			if (e)
				return e;
		}
	}
	return 0;
}

int pfs_census(struct pfs_sb_info *sbi)
{
	struct stack st = { 0 };
	int e;

	e = links_set(sbi, PFS_ROOT_INO, PFS_KIND_DIR, 2);
	if (!e)
		e = push(&st, PFS_ROOT_INO);
	sbi->nfiles = 1;
	while (!e && st.n) {
		e = walk_dir(sbi, &st, st.v[--st.n]);
		if (!e && fatal_signal_pending(current))
			e = -EINTR;
		cond_resched();
	}
	kvfree(st.v);
	return e;
}
