// SPDX-License-Identifier: GPL-2.0
/*
 * One walk of the directory tree at mount.
 *
 * The format stores no link counts, but a hard link must show as one inode
 * with nlink > 1 (tools find hard links that way), and a directory's nlink
 * is 2 + its subdirectories.  Both need every directory entry, so the tree
 * is walked once here, which also yields the statfs totals and finds the
 * corruption that would make any walk of the tree endless: a directory
 * reached twice (a cycle, or a directory hard link), or more than
 * PFS_MAX_DEPTH levels below the root, fails the mount, as extract, fsck
 * and the FUSE mount refuse such an image.  Each visible inode's kind is
 * kept with its count, so readdir can give d_type without decoding every
 * child again.  The walk is iterative (explicit stack), bounded by the
 * number of directories, and yields the CPU between directories.
 *
 * The counts live in an xarray indexed by inode number, whose nodes cost
 * ~576 bytes per 64 numbers: numbers spread far apart would cost a node or
 * more each, some kilobytes of kernel memory per 40-byte inode of a crafted
 * rootfs.  Writers hand out one number per directory entry (hard links
 * leave gaps, delta layers start above the base), and every entry takes at
 * least two words of the rootfs, so a number above the rootfs's size in
 * words is corrupt, and the xarray stays within about the rootfs's size.
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

struct census_dir {
	u64 ino;
	u32 depth;			/* below the root */
};

struct stack {
	struct census_dir *v;
	size_t n, cap;
};

static int push(struct stack *s, u64 ino, u32 depth)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 256;
		struct census_dir *v = kvmalloc_array(cap, sizeof(*v),
						      GFP_KERNEL);

		if (!v)
			return -ENOMEM;
		if (s->n)
			memcpy(v, s->v, s->n * sizeof(*v));
		kvfree(s->v);
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n].ino = ino;
	s->v[s->n++].depth = depth;
	return 0;
}

/* Records one entry's inode; directories are pushed to be walked. */
static int walk_entry(struct pfs_sb_info *sbi, struct stack *st,
		      struct pfs_cur *c, const struct census_dir *dir,
		      const struct pfs_inode *child, u32 *subdirs)
{
	u64 limit = pfs_msg_words(&sbi->rfs.msg) + 1024, size;
	bool present;
	u32 n;
	int e;

	if (child->ino > limit) {
		pfs_err(sbi, "corrupted image: inode number %llu is out of range for a rootfs of %llu words",
			child->ino, pfs_msg_words(&sbi->rfs.msg));
		return -PFS_ECORRUPT;
	}
	n = links_get(sbi, child->ino, &present);
	if (child->kind == PFS_KIND_DIR) {
		if (present) {
			pfs_err(sbi, "corrupted image: directory %llu is linked twice (again in directory %llu): a cycle or a directory hard link",
				child->ino, dir->ino);
			return -PFS_ECORRUPT;
		}
		if (dir->depth >= PFS_MAX_DEPTH) {
			pfs_err(sbi, "corrupted image: directory %llu is more than %u levels below the root",
				child->ino, PFS_MAX_DEPTH);
			return -PFS_ECORRUPT;
		}
		(*subdirs)++;
		e = push(st, child->ino, dir->depth + 1);
		if (!e)
			e = links_set(sbi, child->ino, PFS_KIND_DIR, 2);
		if (!e)
			sbi->nfiles++;
		return e;
	}
	if (!present) {
		sbi->nfiles++;
		if (child->kind == PFS_KIND_FILE) {
			e = pfs_file_size(c, &sbi->rfs, child, &size);
			if (e)
				return e;
			sbi->nblocks += DIV_ROUND_UP_ULL(size, PAGE_SIZE);
		}
	}
	if (n < U32_MAX)
		return links_set(sbi, child->ino, child->kind, n + 1);
	return 0;
}

static int walk_dir(struct pfs_sb_info *sbi, struct stack *st,
		    const struct census_dir *d)
{
	struct pfs_kmerged *km = NULL;
	struct pfs_inode dir, child;
	struct pfs_dirent de;
	struct pfs_cur c;
	u32 subdirs = 0;
	u64 pos = 0;
	int e;

	/* A traversal budget per directory: the walk is not one operation. */
	pfs_cur_init(&c, &sbi->rfs.msg);
	e = pfs_inode_get(&c, &sbi->rfs, d->ino, &dir);
	if (e)
		return e == -ENOENT ? -PFS_ECORRUPT : e;
	if (dir.look_below) {
		km = pfs_merge_dir(sbi, &dir);
		if (IS_ERR(km))
			return PTR_ERR(km);
	}
	while ((e = pfs_dir_next(&c, &sbi->rfs, &dir, km ? &km->m : NULL,
				 &pos, &de, &child)) == 1) {
		e = walk_entry(sbi, st, &c, d, &child, &subdirs);
		if (e)
			break;
	}
	kvfree(km);
	if (e < 0)
		return e;
	return subdirs ? links_set(sbi, d->ino, PFS_KIND_DIR, 2 + subdirs) : 0;
}

int pfs_census(struct pfs_sb_info *sbi)
{
	struct stack st = { 0 };
	struct census_dir d;
	int e;

	e = links_set(sbi, PFS_ROOT_INO, PFS_KIND_DIR, 2);
	if (!e)
		e = push(&st, PFS_ROOT_INO, 0);
	sbi->nfiles = 1;
	while (!e && st.n) {
		d = st.v[--st.n];
		e = walk_dir(sbi, &st, &d);
		if (!e && fatal_signal_pending(current))
			e = -EINTR;
		cond_resched();
	}
	kvfree(st.v);
	return e;
}
