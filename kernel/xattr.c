// SPDX-License-Identifier: GPL-2.0
/*
 * Extended attributes: the user., trusted. and security. namespaces, read
 * from the inode's stored list (full keys, in stored order).  Other stored
 * keys (system.posix_acl_*, or anything unknown) are neither listed nor
 * served; trusted.* is listed only to CAP_SYS_ADMIN, as everywhere else.
 */
#include <linux/xattr.h>

#include "internal.h"

enum { USER, TRUSTED, SECURITY };

static const char *const prefixes[] = {
	[USER] = XATTR_USER_PREFIX,
	[TRUSTED] = XATTR_TRUSTED_PREFIX,
	[SECURITY] = XATTR_SECURITY_PREFIX,
};

static int pfs_xattr_get(const struct xattr_handler *handler,
			 struct dentry *unused, struct inode *inode,
			 const char *name, void *buffer, size_t size)
{
	struct pfs_sb_info *sbi = PFS_SB(inode->i_sb);
	struct pfs_inode *pi = &PFS_I(inode)->pi;
	size_t plen = strlen(handler->prefix), nlen = strlen(name);
	struct pfs_xattr x;
	struct pfs_cur c;
	u32 i;
	int err;

	pfs_cur_init(&c, &sbi->rfs.msg);
	for (i = 0; i < pfs_xattr_count(pi); i++) {
		err = pfs_xattr_at(&c, &sbi->rfs, pi, i, &x);
		if (err)
			return pfs_errno(err);
		if (x.key_len != plen + nlen ||
		    memcmp(x.key, handler->prefix, plen) ||
		    memcmp(x.key + plen, name, nlen))
			continue;
		if (!size)
			return x.val_len;
		if (x.val_len > size)
			return -ERANGE;
		memcpy(buffer, x.val, x.val_len);
		return x.val_len;
	}
	return -ENODATA;
}

static bool listable(const u8 *key, u32 len)
{
	size_t i, plen;

	for (i = 0; i < ARRAY_SIZE(prefixes); i++) {
		plen = strlen(prefixes[i]);
		if (len > plen && !memcmp(key, prefixes[i], plen))
			return i != TRUSTED || capable(CAP_SYS_ADMIN);
	}
	return false;
}

ssize_t pfs_listxattr(struct dentry *dentry, char *buf, size_t size)
{
	struct inode *inode = d_inode(dentry);
	struct pfs_sb_info *sbi = PFS_SB(inode->i_sb);
	struct pfs_inode *pi = &PFS_I(inode)->pi;
	struct pfs_xattr x;
	struct pfs_cur c;
	size_t need = 0;
	u32 i;
	int err;

	pfs_cur_init(&c, &sbi->rfs.msg);
	for (i = 0; i < pfs_xattr_count(pi); i++) {
		err = pfs_xattr_at(&c, &sbi->rfs, pi, i, &x);
		if (err)
			return pfs_errno(err);
		if (!listable(x.key, x.key_len))
			continue;
		if (size) {
			if (need + x.key_len + 1 > size)
				return -ERANGE;
			memcpy(buf + need, x.key, x.key_len);
			buf[need + x.key_len] = 0;
		}
		need += x.key_len + 1;
	}
	return need;
}

static const struct xattr_handler pfs_user_handler = {
	.prefix	= XATTR_USER_PREFIX,
	.get	= pfs_xattr_get,
};

static const struct xattr_handler pfs_trusted_handler = {
	.prefix	= XATTR_TRUSTED_PREFIX,
	.get	= pfs_xattr_get,
};

static const struct xattr_handler pfs_security_handler = {
	.prefix	= XATTR_SECURITY_PREFIX,
	.get	= pfs_xattr_get,
};

const struct xattr_handler *pfs_xattr_handlers[] = {
	&pfs_user_handler,
	&pfs_trusted_handler,
	&pfs_security_handler,
	NULL,
};
