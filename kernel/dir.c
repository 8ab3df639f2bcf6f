// SPDX-License-Identifier: GPL-2.0
/*
 * readdir.  Positions: 0 is ".", 1 is "..", and 2 + p for the rest, where p
 * is core's directory position (an index into the entries), so a position
 * stays valid across calls, across lseek and for the lifetime of the
 * mount, whiteouts and merged lower layers included.
 *
 * A directory that is not merged with lower layers (all but lookBelow ones)
 * is listed straight from its entry list, the kind of each entry coming
 * from the census: an entry the census did not record is a whiteout.  That
 * is what core's pfs_dir_next() yields, without decoding every child.  A
 * lookBelow directory is listed from its merged entries (made once, kept
 * with the inode), where positions are indexes too.
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

struct pfs_kmerged *pfs_merge_dir(struct pfs_sb_info *sbi,
				  const struct pfs_inode *dir)
{
	struct pfs_kmerged *km;
	struct pfs_cur c;
	u64 n;
	int err;

	pfs_cur_init(&c, &sbi->rfs.msg);
	err = pfs_dir_merge_len(&c, &sbi->rfs, dir, &n);
	if (err)
		return ERR_PTR(pfs_errno(err));
	km = kvmalloc(struct_size(km, ent, n), GFP_KERNEL | __GFP_NOWARN);
	if (!km)
		return ERR_PTR(-ENOMEM);
	pfs_cur_init(&c, &sbi->rfs.msg);
	err = pfs_dir_merge(&c, &sbi->rfs, dir, km->ent, n, &km->m.n);
	if (err) {
		kvfree(km);
		return ERR_PTR(pfs_errno(err));
	}
	km->m.ent = km->ent;
	return km;
}

const struct pfs_merged *pfs_inode_merged(struct inode *dir)
{
	struct pfs_inode_info *pii = PFS_I(dir);
	struct pfs_kmerged *km = smp_load_acquire(&pii->merged);

	if (km || !pfs_dir_needs_merge(&pii->pi))
		return km ? &km->m : NULL;
	km = pfs_merge_dir(PFS_SB(dir->i_sb), &pii->pi);
	if (IS_ERR(km))
		return ERR_CAST(km);
	/* Another task may have made it meanwhile. */
	if (cmpxchg_release(&pii->merged, NULL, km)) {
		kvfree(km);
		km = smp_load_acquire(&pii->merged);
	}
	return &km->m;
}

static int pfs_readdir(struct file *file, struct dir_context *ctx)
{
	struct inode *dir = file_inode(file);
	struct pfs_sb_info *sbi = PFS_SB(dir->i_sb);
	const struct pfs_merged *m;
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
	m = pfs_inode_merged(dir);
	if (IS_ERR(m))
		return PTR_ERR(m);
	for (;;) {
		next = pos;
		/* Each entry decodes its inode: a budget of its own. */
		pfs_cur_init(&c, &sbi->rfs.msg);
		err = pfs_dir_next(&c, &sbi->rfs, &PFS_I(dir)->pi, m, &next,
				   &de, &child);
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
