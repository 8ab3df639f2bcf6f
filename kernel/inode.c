// SPDX-License-Identifier: GPL-2.0
/*
 * Inodes.  The VFS inode number is the PuzzleFS inode number, so every
 * directory entry of a hard-linked file finds the same struct inode in the
 * inode cache.  What an inode needs later (its decoded pfs_inode, which
 * points into the rootfs held for the whole mount, the directory's sort
 * check, the symlink target) is computed once here.
 */
#include <linux/slab.h>
#include <linux/xattr.h>

#include "internal.h"



static int fill_inode(struct inode *inode, const struct pfs_inode *known)
{
	struct pfs_sb_info *sbi = PFS_SB(inode->i_sb);
	struct pfs_inode_info *pii = PFS_I(inode);
	struct pfs_inode *pi = &pii->pi;
	struct pfs_cur c;
	u64 size = 0;
	bool present;
	void *links;
	u32 nlink;
	int err;

	pfs_cur_init(&c, &sbi->rfs.msg);
	if (known) {
		*pi = *known;
	} else {
		err = pfs_inode_get(&c, &sbi->rfs, inode->i_ino, pi);
		if (err)
			return pfs_errno(err);
	}
	links = xa_load(&sbi->links, inode->i_ino);
	present = links != NULL;
	nlink = present ? PFS_LINKS_NLINK(xa_to_value(links)) : 0;
	if (!present)
		nlink = pi->kind == PFS_KIND_DIR ? 2 : 1;

	inode->i_mode = pfs_kind_to_type(pi->kind) | pi->perm;
	i_uid_write(inode, pi->uid);
	i_gid_write(inode, pi->gid);
	set_nlink(inode, nlink);
	/* The image keeps one time, the mtime, shown as atime and ctime too
	 * (as squashfs and erofs do); an inode without (the reference's
	 * images) shows the epoch. */
	inode->i_mtime = (struct timespec64){};
	if (pi->has_mtime) {
		inode->i_mtime.tv_sec = pi->mtime_sec;
		inode->i_mtime.tv_nsec = pi->mtime_nsec;
	}
	inode->i_atime = inode->i_ctime = inode->i_mtime;

	switch (pi->kind) {
	case PFS_KIND_DIR:
		err = pfs_dir_check_order(&c, &sbi->rfs, pi);
		if (err)
			return pfs_errno(err);
		size = pi->list.count;
		inode->i_op = &pfs_dir_iops;
		inode->i_fop = &pfs_dir_fops;
		break;
	case PFS_KIND_LNK:
		pii->link = kmemdup_nul(pi->target ? (const char *)pi->target : "",
					pi->target_len, GFP_KERNEL);
		if (!pii->link)
			return -ENOMEM;
		size = pi->target_len;
		inode->i_link = pii->link;
		inode->i_op = &pfs_symlink_iops;
		break;
	case PFS_KIND_CHR:
	case PFS_KIND_BLK:
		/* Linux device numbers have 12 bits of major, 20 of minor. */
		if (pi->major >= (1u << (32 - MINORBITS)) ||
		    pi->minor > MINORMASK) {
			pfs_err(sbi, "inode %lu: device %llu:%llu does not fit dev_t",
				inode->i_ino, pi->major, pi->minor);
			return -EOVERFLOW;
		}
		fallthrough;
	case PFS_KIND_FIFO:
	case PFS_KIND_SOCK:
		inode->i_op = &pfs_special_iops;
		init_special_inode(inode, inode->i_mode,
				   MKDEV((u32)pi->major, (u32)pi->minor));
		break;
	case PFS_KIND_FILE:
		err = pfs_file_size(&c, &sbi->rfs, pi, &size);
		if (err)
			return pfs_errno(err);
		fallthrough;
	default:
		inode->i_op = &pfs_file_iops;
		inode->i_fop = &generic_ro_fops;
		inode->i_mapping->a_ops = &pfs_aops;
		break;
	}
	inode->i_size = size;
	inode->i_blocks = pi->kind == PFS_KIND_FILE ? DIV_ROUND_UP_ULL(size, 512) : 0;
	return 0;
}

struct inode *pfs_iget(struct super_block *sb, u64 ino,
		       const struct pfs_inode *known)
{
	struct inode *inode = iget_locked(sb, ino);
	int err;

	if (!inode)
		return ERR_PTR(-ENOMEM);
	if (!(inode->i_state & I_NEW))
		return inode;
	err = fill_inode(inode, known);
	if (err) {
		iget_failed(inode);
		return ERR_PTR(err);
	}
	unlock_new_inode(inode);
	return inode;
}

const struct inode_operations pfs_file_iops = {
	.listxattr	= pfs_listxattr,
};

const struct inode_operations pfs_symlink_iops = {
	.get_link	= simple_get_link,
	.listxattr	= pfs_listxattr,
};

const struct inode_operations pfs_special_iops = {
	.listxattr	= pfs_listxattr,
};
