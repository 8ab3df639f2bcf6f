// SPDX-License-Identifier: MIT
/*
 * The FUSE low-level operations: each request is translated into one call
 * of the library's reader, which is thread-safe and caches inodes and
 * blobs itself, so requests run in parallel without a lock of ours.
 *
 * The image never changes, so everything the kernel may cache it caches
 * for good: entries (negative ones too), attributes, file pages across
 * opens, directory listings and symlink targets.  On a read-only mount
 * open and opendir carry no information, and are answered once with ENOSYS
 * so that the kernel stops sending them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs.h"

/* Seconds; the kernel clamps what it cannot represent. */
#define FOREVER 1e9

/* readdir offsets: 1 after ".", 2 after "..", 2 + the reader's position
 * after each image entry (positions are stable across calls). */
#define OFF_DOT 1
#define OFF_DOTDOT 2

static struct pfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* The reader returns negative errnos; anything odd becomes EIO. */
static int errno_of(long e)
{
	if (e >= 0 || e < -4095 || e == -EUCLEAN)
		return EIO;
	return (int)-e;
}

static void reply_err(fuse_req_t req, long e)
{
	fuse_reply_err(req, errno_of(e));
}

/* FUSE carries 32-bit device numbers: 12-bit major, 20-bit minor. */
static dev_t rdev_of(const struct pfs_attr *a)
{
	if (a->rdev_major > 0xfff || a->rdev_minor > 0xfffff)
		return 0;
	return makedev((unsigned)a->rdev_major, (unsigned)a->rdev_minor);
}

static void to_stat(const struct pfs_fs *fs, const struct pfs_attr *a,
		    struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	if (S_ISCHR(a->mode) || S_ISBLK(a->mode))
		st->st_rdev = rdev_of(a);
	st->st_size = (off_t)a->size;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_blksize = 4096;
	st->st_atim = st->st_mtim = st->st_ctim = fs->stamp;
	/* The image keeps one time, the mtime: shown as atime and ctime too,
	 * as squashfs and erofs do (an image never changes). */
	if (a->has_mtime) {
		st->st_mtim.tv_sec = (time_t)a->mtime_sec;
		st->st_mtim.tv_nsec = (long)a->mtime_nsec;
		st->st_atim = st->st_ctim = st->st_mtim;
	}
}

static void to_entry(const struct pfs_fs *fs, const struct pfs_attr *a,
		     struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = a->ino;
	e->attr_timeout = FOREVER;
	e->entry_timeout = FOREVER;
	to_stat(fs, a, &e->attr);
}

/* ---- init --------------------------------------------------------------- */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct pfs_fs *fs = userdata;

	/* Entries with their attributes in one round trip: ls -l, find and
	 * overlayfs copy-up stat everything they list. */
	if (conn->capable & FUSE_CAP_READDIRPLUS) {
		conn->want |= FUSE_CAP_READDIRPLUS;
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	}
	if (conn->capable & FUSE_CAP_CACHE_SYMLINKS)
		conn->want |= FUSE_CAP_CACHE_SYMLINKS;
	/* Sizes and times never change; nothing to invalidate. */
	conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	/* A read-only mount already refuses writable opens in the VFS. */
	fs->no_open = fs->rdonly && (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT);
	fs->no_opendir = conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
	pfs_fs_set_state(fs, PFS_FS_READY);
}

/* ---- inodes ------------------------------------------------------------- */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct pfs_fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct pfs_attr a;
	int r;

	r = pfs_lookup(fs->img, parent, name, strlen(name), &a);
	if (r == -ENOENT) {
		/* Cache the miss too: the name will never appear. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = FOREVER;
		fuse_reply_entry(req, &e);
		return;
	}
	if (r) {
		reply_err(req, r);
		return;
	}
	if (S_ISDIR(a.mode))
		pfs_parents_set(&fs->parents, a.ino, parent);
	to_entry(fs, &a, &e);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	struct pfs_attr a;
	struct stat st;
	int r;

	(void)fi;
	r = pfs_getattr(fs->img, ino, &a);
	if (r) {
		reply_err(req, r);
		return;
	}
	to_stat(fs, &a, &st);
	fuse_reply_attr(req, &st, FOREVER);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct pfs_fs *fs = fs_of(req);
	char target[PATH_MAX];
	ssize_t n;

	n = pfs_readlink(fs->img, ino, NULL, 0);
	if (n >= PATH_MAX)
		n = -ENAMETOOLONG;
	if (n >= 0)
		n = pfs_readlink(fs->img, ino, target, (size_t)n);
	if (n < 0) {
		reply_err(req, n);
		return;
	}
	/* The kernel takes a C string: a NUL inside is corruption. */
	if (memchr(target, 0, (size_t)n)) {
		fuse_reply_err(req, EIO);
		return;
	}
	target[n] = 0;
	fuse_reply_readlink(req, target);
}

/* ---- permissions -------------------------------------------------------- */

static bool in_group(fuse_req_t req, gid_t gid, gid_t own)
{
	gid_t small[64], *list = small;
	int n, i;
	bool found = false;

	if (own == gid)
		return true;
	n = fuse_req_getgroups(req, 64, small);
	if (n > 64) {
		list = malloc((size_t)n * sizeof(*list));
		if (!list)
			return false;
		n = fuse_req_getgroups(req, n, list);
	}
	for (i = 0; i < n && !found; i++)
		found = list[i] == gid;
	if (list != small)
		free(list);
	return found;
}

/* Only asked when the mount lacks default_permissions (access(2),
 * chdir): the classic owner/group/other check, root reading anything. */
static void op_access(fuse_req_t req, fuse_ino_t ino, int mask)
{
	struct pfs_fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	unsigned want = (mask & R_OK ? 4u : 0) | (mask & X_OK ? 1u : 0);
	unsigned bits;
	struct pfs_attr a;
	int r;

	r = pfs_getattr(fs->img, ino, &a);
	if (r) {
		reply_err(req, r);
		return;
	}
	if (mask & W_OK) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (ctx->uid == 0)
		bits = S_ISDIR(a.mode) || (a.mode & 0111) ? 7 : 6;
	else if (ctx->uid == a.uid)
		bits = (a.mode >> 6) & 7;
	else if (in_group(req, a.gid, ctx->gid))
		bits = (a.mode >> 3) & 7;
	else
		bits = a.mode & 7;
	fuse_reply_err(req, (bits & want) == want ? 0 : EACCES);
}

/* ---- files -------------------------------------------------------------- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	struct pfs_attr a;
	int r;

	if (fs->no_open) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	r = pfs_getattr(fs->img, ino, &a);
	if (r) {
		reply_err(req, r);
		return;
	}
	fi->keep_cache = 1;
	fi->noflush = 1;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);
	uint8_t *buf;
	ssize_t n;

	(void)fi;
	if (off < 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pfs_read(fs->img, ino, buf, size, (uint64_t)off);
	if (n < 0)
		reply_err(req, n);
	else
		fuse_reply_buf(req, (const char *)buf, (size_t)n);
	free(buf);
}

/* ---- directories -------------------------------------------------------- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct pfs_fs *fs = fs_of(req);

	(void)ino;
	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

struct dirbuf {
	fuse_req_t req;
	char *p;
	size_t len, cap;
	bool plus;
};

/* Append one entry; false when it does not fit (the kernel asks again
 * from the last offset it got). */
static bool dir_add(struct pfs_fs *fs, struct dirbuf *b, const char *name,
		    uint64_t ino, uint32_t type, off_t next)
{
	struct fuse_entry_param e;
	struct pfs_attr a;
	size_t n;

	memset(&e, 0, sizeof(e));
	e.attr.st_ino = ino;
	e.attr.st_mode = type;
	if (!b->plus) {
		n = fuse_add_direntry(b->req, b->p + b->len, b->cap - b->len,
				      name, &e.attr, next);
	} else {
		/* "." and "..", and entries whose inode fails to decode,
		 * go without attributes (node id 0: the kernel skips them;
		 * a later lookup reports the error). */
		if (strcmp(name, ".") && strcmp(name, "..") &&
		    !pfs_getattr(fs->img, ino, &a))
			to_entry(fs, &a, &e);
		n = fuse_add_direntry_plus(b->req, b->p + b->len,
					   b->cap - b->len, name, &e, next);
	}
	if (n > b->cap - b->len)
		return false;
	b->len += n;
	return true;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, bool plus)
{
	struct pfs_fs *fs = fs_of(req);
	struct dirbuf b = { .req = req, .cap = size, .plus = plus };
	struct pfs_dirent_info ent;
	struct pfs_attr dir;
	char name[NAME_MAX + 1];
	uint64_t pos, next;
	int r;

	r = pfs_getattr(fs->img, ino, &dir);
	if (!r && !S_ISDIR(dir.mode))
		r = -ENOTDIR;
	if (!r && off < 0)
		r = -EINVAL;
	if (!r && !(b.p = malloc(size ? size : 1)))
		r = -ENOMEM;
	if (r) {
		reply_err(req, r);
		return;
	}
	if (off < OFF_DOT && !dir_add(fs, &b, ".", ino, S_IFDIR, OFF_DOT))
		goto out;
	if (off < OFF_DOTDOT &&
	    !dir_add(fs, &b, "..", pfs_parents_get(&fs->parents, ino),
		     S_IFDIR, OFF_DOTDOT))
		goto out;
	pos = off > OFF_DOTDOT ? (uint64_t)off - OFF_DOTDOT : 0;
	for (;;) {
		next = pos;
		r = pfs_readdir(fs->img, ino, &next, &ent);
		if (r <= 0)
			break;
		if (ent.name_len > NAME_MAX ||
		    next > (uint64_t)INT64_MAX - OFF_DOTDOT) {
			r = -EIO;
			break;
		}
		memcpy(name, ent.name, ent.name_len);
		name[ent.name_len] = 0;
		if (!dir_add(fs, &b, name, ent.ino, ent.type,
			     (off_t)(next + OFF_DOTDOT)))
			break;
		if (plus && S_ISDIR(ent.type))
			pfs_parents_set(&fs->parents, ent.ino, ino);
		pos = next;
	}
	/* An error is reported when it is the first thing to report. */
	if (r < 0 && b.len == 0) {
		reply_err(req, r);
		free(b.p);
		return;
	}
out:
	fuse_reply_buf(req, b.p, b.len);
	free(b.p);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
		       off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	do_readdir(req, ino, size, off, true);
}

/* ---- xattrs, statfs ----------------------------------------------------- */

/* Both follow the size protocol: 0 asks for the length, too small a
 * buffer is ERANGE (the reader implements it). */
static void reply_sized(fuse_req_t req, ssize_t n, size_t size, void *buf)
{
	if (n < 0)
		reply_err(req, n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct pfs_fs *fs = fs_of(req);
	void *buf = NULL;
	ssize_t n;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pfs_getxattr(fs->img, ino, name, buf, size);
	reply_sized(req, n, size, buf);
	free(buf);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct pfs_fs *fs = fs_of(req);
	char *buf = NULL;
	ssize_t n;

	if (size && !(buf = malloc(size))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = pfs_listxattr(fs->img, ino, buf, size);
	reply_sized(req, n, size, buf);
	free(buf);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct pfs_fs *fs = fs_of(req);
	struct pfs_statfs s;
	struct statvfs v;
	int r;

	(void)ino;
	r = pfs_statfs(fs->img, &s);
	if (r) {
		reply_err(req, r);
		return;
	}
	memset(&v, 0, sizeof(v));
	v.f_bsize = s.bsize;
	v.f_frsize = s.bsize;
	v.f_blocks = s.blocks;
	v.f_files = s.files;
	v.f_namemax = s.namemax;
	fuse_reply_statfs(req, &v);
}

/* ---- modifications: a read-only file system ----------------------------- */

static void rofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	(void)ino, (void)attr, (void)to_set, (void)fi;
	rofs(req);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	rofs(req);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	rofs(req);
}

static void op_remove(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	rofs(req);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link, (void)parent, (void)name;
	rofs(req);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	rofs(req);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	rofs(req);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino, (void)buf, (void)size, (void)off, (void)fi;
	rofs(req);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	rofs(req);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	rofs(req);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	rofs(req);
}

static void op_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			 off_t offset, off_t length, struct fuse_file_info *fi)
{
	(void)ino, (void)mode, (void)offset, (void)length, (void)fi;
	rofs(req);
}

static void op_copy_file_range(fuse_req_t req, fuse_ino_t ino_in,
			       off_t off_in, struct fuse_file_info *fi_in,
			       fuse_ino_t ino_out, off_t off_out,
			       struct fuse_file_info *fi_out, size_t len,
			       int flags)
{
	(void)ino_in, (void)off_in, (void)fi_in, (void)ino_out, (void)off_out;
	(void)fi_out, (void)len, (void)flags;
	rofs(req);
}

/*
 * Left out on purpose: forget (node ids are inode numbers, nothing to
 * free), flush/fsync/release (nothing to do; libfuse or the kernel answer),
 * locks (the kernel then keeps them locally), bmap, ioctl, poll, lseek.
 */
const struct fuse_lowlevel_ops pfs_fuse_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.readlink = op_readlink,
	.access = op_access,
	.open = op_open,
	.read = op_read,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.statfs = op_statfs,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_remove,
	.rmdir = op_remove,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.write = op_write,
	.create = op_create,
	.setxattr = op_setxattr,
	.removexattr = op_removexattr,
	.fallocate = op_fallocate,
	.copy_file_range = op_copy_file_range,
};

/* ---- state -------------------------------------------------------------- */

void pfs_fs_init(struct pfs_fs *fs, struct pfs_image *img,
		 const struct pfs_log *log, bool rdonly)
{
	memset(fs, 0, sizeof(*fs));
	fs->img = img;
	fs->log = log;
	fs->rdonly = rdonly;
	/* Inodes without an mtime (the reference's images): one time for
	 * the whole mount, whole seconds. */
	clock_gettime(CLOCK_REALTIME, &fs->stamp);
	fs->stamp.tv_nsec = 0;
	pfs_parents_init(&fs->parents);
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->cond, NULL);
	fs->state = PFS_FS_WAITING;
}

void pfs_fs_destroy(struct pfs_fs *fs)
{
	pfs_parents_free(&fs->parents);
	pthread_mutex_destroy(&fs->lock);
	pthread_cond_destroy(&fs->cond);
}

void pfs_fs_set_state(struct pfs_fs *fs, enum pfs_fs_state state)
{
	pthread_mutex_lock(&fs->lock);
	if (fs->state == PFS_FS_WAITING)
		fs->state = state;
	pthread_cond_broadcast(&fs->cond);
	pthread_mutex_unlock(&fs->lock);
}

bool pfs_fs_wait_ready(struct pfs_fs *fs)
{
	bool ready;

	pthread_mutex_lock(&fs->lock);
	while (fs->state == PFS_FS_WAITING)
		pthread_cond_wait(&fs->cond, &fs->lock);
	ready = fs->state == PFS_FS_READY;
	pthread_mutex_unlock(&fs->lock);
	return ready;
}
