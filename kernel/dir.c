// SPDX-License-Identifier: GPL-2.0
/*
 * readdir.  Positions: 0 is ".", 1 is "..", and 2 + p for the rest, where p
 * is core's directory position (layer depth << 32 | index), so a position
 * stays valid across calls, across lseek and for the lifetime of the
 * mount, whiteouts and merged lower layers included.
 *
 * A directory that is not merged with lower layers (all but lookBelow ones)
 * is listed straight from its entry list, the kind of each entry coming
 * from the census: an entry the census did not record is a whiteout.  That
 * is what core's pfs_dir_next() yields, without decoding every child.
 */
#include "internal.h"

static unsigned char kind_to_dtype(u16 kind)
{
	switch (kind) {
	case PFS_KIND_FIFO: return DT_FIFO;
	case PFS_KIND_CHR: return DT_CHR;
	case PFS_KIND_DIR: return DT_DIR;
	case PFS_KIND_BLK: return DT_BLK;
	case PFS_KIND_LNK: return DT_LNK;
	case PFS_KIND_SOCK: return DT_SOCK;
	default: return DT_REG;
	}
}

static int readdir_one(struct file *file, struct dir_context *ctx,
		       struct pfs_cur *c, u64 pos)
{
	struct inode *dir = file_inode(file);
	struct pfs_sb_info *sbi = PFS_SB(dir->i_sb);
	struct pfs_inode *pi = &PFS_I(dir)->pi;
	struct pfs_dirent de;
	void *v;
	int err;

	for (; pos < pi->list.count; pos++) {
		err = pfs_dirent_at(c, &sbi->rfs, pi, (u32)pos, &de);
		if (err)
			return pfs_errno(err);
		v = xa_load(&sbi->links, de.ino);
		if (!v)
			continue;
		if (!dir_emit(ctx, de.name, de.name_len, de.ino,
			      kind_to_dtype(PFS_LINKS_KIND(xa_to_value(v)))))
			return 0;
		ctx->pos = pos + 1 + 2;
	}
	ctx->pos = pos + 2;
	return 0;
}

static int pfs_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	struct pfs_sb_info *sbi = PFS_SB(dir->i_sb);
	struct pfs_inode child;
	struct pfs_dirent de;
	struct pfs_cur c;
	u64 pos, next;
	int err;

	if (!dir_emit_dots(file, ctx))
		return 0;
	pos = ctx->pos - 2;
	pfs_cur_init(&c, &sbi->rfs.msg);
	if (!PFS_I(dir)->pi.look_below)
		return readdir_one(file, ctx, &c, pos);
	for (;;) {
		next = pos;
		err = pfs_dir_next(&c, &sbi->rfs, &PFS_I(dir)->pi, &next, &de,
				   &child);
		if (err < 0)
			return pfs_errno(err);
		if (err == 0) {
			/* Past trailing whiteouts: the next call ends at once. */
			ctx->pos = next + 2;
			return 0;
		}
		/* Only a delivered entry advances the position. */
		if (!dir_emit(ctx, de.name, de.name_len, de.ino,
			      kind_to_dtype(child.kind)))
			return 0;
		pos = next;
		ctx->pos = pos + 2;
	}
}

const struct file_operations pfs_dir_fops = {
	.llseek		= generic_file_llseek,
	.read		= generic_read_dir,
	.iterate_shared	= pfs_readdir,
};
