// SPDX-License-Identifier: GPL-2.0
/*
 * Name lookup.  Nothing is put in the dcache ahead of time: each name is
 * looked up when the VFS asks, by binary search in the directory's
 * name-sorted entry list (checked at iget; delta layers written by the
 * reference list whiteouts first: each sorted run is searched), or in the
 * merged list of a lookBelow directory or of one in more runs than are
 * remembered (pfs_inode_merged); whiteouts hide names.
 */
#include "internal.h"

static struct dentry *pfs_lookup(struct inode *dir, struct dentry *dentry,
				 unsigned int flags)
{
	struct pfs_sb_info *sbi = PFS_SB(dir->i_sb);
	const struct pfs_merged *m;
	struct pfs_inode child;
	struct inode *inode = NULL;
	struct pfs_cur c;
	int err;

	if (dentry->d_name.len > PFS_NAME_MAX)
		return ERR_PTR(-ENAMETOOLONG);
	m = pfs_inode_merged(dir);
	if (IS_ERR(m))
		return ERR_CAST(m);
	pfs_cur_init(&c, &sbi->rfs.msg);
	err = pfs_dir_lookup(&c, &sbi->rfs, &PFS_I(dir)->pi, m,
			     dentry->d_name.name, dentry->d_name.len, &child);
	if (!err)
		inode = pfs_iget(dir->i_sb, child.ino, &child);
	else if (err != -ENOENT)
		return ERR_PTR(pfs_errno(err));
	/* A miss leaves a negative dentry: the image never changes. */
	return d_splice_alias(inode, dentry);
}

const struct inode_operations pfs_dir_iops = {
	.lookup		= pfs_lookup,
	.listxattr	= pfs_listxattr,
};
