// SPDX-License-Identifier: MIT
/*
 * Extraction.  Everything is created relative to its parent directory's
 * descriptor, never following symlinks, and never over an existing entry
 * (only an existing real directory is reused), so a hostile image cannot
 * write outside the destination.  A directory gets its owner and mode only
 * after its children exist (a 0555 directory still gets its contents);
 * ownership goes before mode so setuid/setgid bits survive.  Mtimes go
 * last, a directory's after its children's entries.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "read/image.h"

#define MAX_DEPTH 4096
#define COPY_BLOCK (1u << 20)
#define HOLE_BLOCK 4096u

struct extractor {
	struct pfs_image *img;
	const struct pfs_log *log;
	const struct pfs_extract_opts *opts;
	bool chown;
	int dest_fd;
	uint8_t *buf;
	struct pfs_u64map links;	/* hard-linked ino -> index in relpaths */
	char **relpaths;		/* first extracted path of each */
	size_t nlinks, links_cap;
	struct pfs_u64map dirs;		/* directories entered (cycle check) */
	char *path;			/* relative to dest, for messages */
	size_t path_cap;
	const char *dest;
};

static int xerr(struct extractor *x, int err, const char *what)
{
	return pfs_errf(x->log, err, "%s/%s%s%s: %s", x->dest, x->path,
			what ? ": " : "", what ? what : "", strerror(err));
}

static void xwarn(struct extractor *x, int err, const char *what)
{
	pfs_logf(x->log, PFS_LOG_WARN, "%s/%s: %s: %s", x->dest, x->path, what,
		 strerror(err));
}

static int push_name(struct extractor *x, const char *name, size_t len,
		     size_t *saved)
{
	size_t cur = strlen(x->path);

	*saved = cur;
	if (cur + len + 2 > x->path_cap) {
		size_t cap = (cur + len + 2) * 2;
		char *p = realloc(x->path, cap);

		if (!p)
			return -ENOMEM;
		x->path = p;
		x->path_cap = cap;
	}
	if (cur)
		x->path[cur++] = '/';
	memcpy(x->path + cur, name, len);
	x->path[cur + len] = 0;
	return 0;
}

/* On @fd, or when it is -1 on @proc (not following a final symlink). */
static int set_xattrs(struct extractor *x, const struct pfs_cinode *ci,
		      int fd, const char *proc)
{
	struct pfs_rootfs *r = &x->img->rfs;
	struct pfs_xattr xa;
	struct pfs_cur c;
	char key[256];
	u32 i;

	pfs_cur_init(&c, &r->msg);
	for (i = 0; i < pfs_xattr_count(&ci->in); i++) {
		if (pfs_xattr_at(&c, r, &ci->in, i, &xa))
			return -EIO;
		memcpy(key, xa.key, xa.key_len);
		key[xa.key_len] = 0;
		if ((fd >= 0 ? fsetxattr(fd, key, xa.val, xa.val_len, 0) :
			       lsetxattr(proc, key, xa.val, xa.val_len, 0)) == 0)
			continue;
		/* Namespaces this process or filesystem cannot hold are
		 * reported, not fatal (trusted.* needs root, for one). */
		if (errno == EPERM || errno == ENOTSUP || errno == EACCES) {
			xwarn(x, errno, key);
			continue;
		}
		return xerr(x, errno, key);
	}
	return 0;
}

/* Owner, xattrs, then mode, of @fd itself when @name is NULL (xattrs on
 * @xfd, or on @proc when it is -1).  In this order because chown clears
 * setuid/setgid and security.capability, and a mode without write
 * permission would keep an owner who is not root from setting xattrs. */
static int set_owner_mode(struct extractor *x, int fd, const char *name,
			  const struct pfs_cinode *ci, bool mode, int xfd,
			  const char *proc)
{
	int e;

	if (x->chown) {
		e = name ? fchownat(fd, name, ci->in.uid, ci->in.gid,
				    AT_SYMLINK_NOFOLLOW) :
			   fchown(fd, ci->in.uid, ci->in.gid);
		if (e)
			return xerr(x, errno, "chown");
	}
	e = set_xattrs(x, ci, xfd, proc);
	if (e)
		return e;
	if (mode && (name ? fchmodat(fd, name, ci->in.perm, 0) :
			    fchmod(fd, ci->in.perm)))
		return xerr(x, errno, "chmod");
	return 0;
}

/* The image's mtime (as atime too), on @fd itself when @name is NULL;
 * last, since writing contents or entries would change it. */
static int set_times(struct extractor *x, int fd, const char *name,
		     const struct pfs_cinode *ci)
{
	struct timespec ts[2];

	if (!ci->in.has_mtime)
		return 0;
	ts[0].tv_sec = (time_t)ci->in.mtime_sec;
	ts[0].tv_nsec = (long)ci->in.mtime_nsec;
	if (ts[0].tv_sec != ci->in.mtime_sec)
		return xerr(x, EOVERFLOW, "mtime");
	ts[1] = ts[0];
	if (name ? utimensat(fd, name, ts, AT_SYMLINK_NOFOLLOW) :
		   futimens(fd, ts))
		return xerr(x, errno, "set mtime");
	return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n && p[0] == 0 && !memcmp(p, p + 1, n - 1);
}

static int write_file(struct extractor *x, int fd, const struct pfs_cinode *ci)
{
	uint64_t off = 0;
	size_t i, run, len;
	ssize_t n;
	int e;

	while (off < ci->size) {
		n = pfs_read(x->img, ci->in.ino, x->buf, COPY_BLOCK, off);
		if (n <= 0)
			return xerr(x, n ? (int)-n : EIO, "read from image");
		/* Keep holes: zero blocks are skipped, the size is set at the
		 * end; runs of other blocks are written in one go. */
		for (i = 0; i < (size_t)n; i += run) {
			for (run = 0; i + run < (size_t)n; run += len) {
				len = (size_t)n - i - run < HOLE_BLOCK ?
				      (size_t)n - i - run : HOLE_BLOCK;
				if (all_zero(x->buf + i + run, len))
					break;
			}
			if (!run) {
				run = len;
				continue;
			}
			if (lseek(fd, (off_t)(off + i), SEEK_SET) < 0)
				return xerr(x, errno, NULL);
			if ((e = pfs_write_full(fd, x->buf + i, run)))
				return xerr(x, -e, NULL);
		}
		off += (uint64_t)n;
	}
	if (ftruncate(fd, (off_t)ci->size))
		return xerr(x, errno, NULL);
	return 0;
}

static int remember_link(struct extractor *x, uint64_t ino)
{
	if (x->nlinks == x->links_cap) {
		size_t cap = x->links_cap ? x->links_cap * 2 : 64;
		char **p = realloc(x->relpaths, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		x->relpaths = p;
		x->links_cap = cap;
	}
	x->relpaths[x->nlinks] = strdup(x->path);
	if (!x->relpaths[x->nlinks] ||
	    pfs_u64map_put(&x->links, ino, x->nlinks))
		return -ENOMEM;
	x->nlinks++;
	return 0;
}

static const char *linked_path(struct extractor *x, uint64_t ino)
{
	uint64_t *i = pfs_u64map_get(&x->links, ino);

	return i ? x->relpaths[*i] : NULL;
}

static int extract_dir(struct extractor *x, int fd, uint64_t ino,
		       unsigned depth);

static int make_node(struct extractor *x, int dirfd, const char *name,
		     const struct pfs_cinode *ci)
{
	const struct pfs_inode *in = &ci->in;
	dev_t dev = 0;
	mode_t type;

	switch (in->kind) {
	case PFS_KIND_FIFO: type = S_IFIFO; break;
	case PFS_KIND_SOCK: type = S_IFSOCK; break;
	case PFS_KIND_CHR: type = S_IFCHR; break;
	default: type = S_IFBLK; break;
	}
	if (in->kind == PFS_KIND_CHR || in->kind == PFS_KIND_BLK) {
		if (in->major > 0xffffffffu || in->minor > 0xffffffffu)
			return xerr(x, EOVERFLOW, "device number");
		dev = makedev((unsigned)in->major, (unsigned)in->minor);
	}
	if (mknodat(dirfd, name, type | 0600, dev) == 0)
		return 1;
	if (errno == EPERM && x->opts->no_devices && dev) {
		xwarn(x, errno, "skipped device");
		return 0;
	}
	return xerr(x, errno, NULL);
}

static int extract_entry(struct extractor *x, int dirfd,
			 const struct pfs_dirent_info *ent, unsigned depth)
{
	struct pfs_attr a;
	struct pfs_cinode ci;
	char proc[300], name[PFS_NAME_MAX + 1];
	const char *first;
	int fd, e;

	memcpy(name, ent->name, ent->name_len);
	name[ent->name_len] = 0;
	e = pfs_image_inode(x->img, ent->ino, &ci);
	if (e)
		return xerr(x, -e, "image");
	pfs_image_attr(x->img, &ci, &a);
	if (ci.in.kind != PFS_KIND_DIR && a.nlink > 1) {
		first = linked_path(x, ci.in.ino);
		if (first) {
			if (linkat(x->dest_fd, first, dirfd, name, 0))
				return xerr(x, errno, "link");
			return 0;
		}
		if ((e = remember_link(x, ci.in.ino)))
			return e;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	switch (ci.in.kind) {
	case PFS_KIND_DIR:
		if (mkdirat(dirfd, name, 0700) && errno != EEXIST)
			return xerr(x, errno, NULL);
		fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			    O_CLOEXEC);
		if (fd < 0)
			return xerr(x, errno, NULL);
		e = extract_dir(x, fd, ci.in.ino, depth + 1);
		if (!e)
			e = set_owner_mode(x, fd, NULL, &ci, true, fd, NULL);
		if (!e)
			e = set_times(x, fd, NULL, &ci);
		close(fd);
		return e;
	case PFS_KIND_FILE:
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
		if (fd < 0)
			return xerr(x, errno, NULL);
		e = write_file(x, fd, &ci);
		if (!e)
			e = set_owner_mode(x, fd, NULL, &ci, true, fd, NULL);
		if (!e)
			e = set_times(x, fd, NULL, &ci);
		close(fd);
		return e;
	case PFS_KIND_LNK: {
		char target[4097];

		memcpy(target, ci.in.target, ci.in.target_len);
		target[ci.in.target_len] = 0;
		if (symlinkat(target, dirfd, name))
			return xerr(x, errno, NULL);
		e = set_owner_mode(x, dirfd, name, &ci, false, -1, proc);
		return e ? e : set_times(x, dirfd, name, &ci);
	}
	case PFS_KIND_FIFO:
	case PFS_KIND_SOCK:
	case PFS_KIND_CHR:
	case PFS_KIND_BLK:
		e = make_node(x, dirfd, name, &ci);
		if (e <= 0)
			return e;
		e = set_owner_mode(x, dirfd, name, &ci, true, -1, proc);
		return e ? e : set_times(x, dirfd, name, &ci);
	default:
		xwarn(x, EINVAL, "skipped inode of unknown type");
		return 0;
	}
}

static int enter_dir(struct extractor *x, uint64_t ino)
{
	if (pfs_u64map_get(&x->dirs, ino))
		return xerr(x, ELOOP, "directory linked twice in the image");
	return pfs_u64map_put(&x->dirs, ino, 1);
}

static int extract_dir(struct extractor *x, int fd, uint64_t ino,
		       unsigned depth)
{
	struct pfs_dirent_info ent;
	uint64_t pos = 0;
	size_t saved;
	int e;

	if (depth > MAX_DEPTH)
		return xerr(x, ELOOP, "directory tree too deep");
	if ((e = enter_dir(x, ino)))
		return e;
	while ((e = pfs_readdir(x->img, ino, &pos, &ent)) == 1) {
		e = push_name(x, ent.name, ent.name_len, &saved);
		if (!e)
			e = extract_entry(x, fd, &ent, depth);
		x->path[saved] = 0;
		if (e)
			return e;
	}
	return e < 0 ? xerr(x, -e, "read directory") : 0;
}

static int mkdir_p(const char *path)
{
	char *p = strdup(path), *s;
	int e = 0;

	if (!p)
		return -ENOMEM;
	for (s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = 0;
			if (mkdir(p, 0755) && errno != EEXIST)
				e = -errno;
			*s = c;
			if (!c || e)
				break;
		}
	}
	free(p);
	return e;
}

int pfs_extract(const char *oci_dir, const char *tag, const char *dest,
		const struct pfs_extract_opts *opts)
{
	struct pfs_extract_opts defaults = { 0 };
	struct extractor x = { 0 };
	struct pfs_image_opts io = { 0 };
	struct pfs_cinode root;
	size_t i;
	int e;

	if (!opts)
		opts = &defaults;
	io.log = opts->log;
	x.log = opts->log;
	x.opts = opts;
	x.dest = dest;
	x.dest_fd = -1;
	x.chown = geteuid() == 0 && !opts->no_owner;
	e = pfs_image_open(oci_dir, tag, &io, &x.img);
	if (e)
		return e;
	x.path = calloc(1, 256);
	x.path_cap = 256;
	x.buf = malloc(COPY_BLOCK);
	if (!x.path || !x.buf) {
		e = -ENOMEM;
		goto out;
	}
	if ((e = mkdir_p(dest))) {
		e = xerr(&x, -e, NULL);
		goto out;
	}
	x.dest_fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x.dest_fd < 0) {
		e = xerr(&x, errno, NULL);
		goto out;
	}
	e = pfs_image_inode(x.img, PFS_ROOT_INO, &root);
	if (!e)
		e = extract_dir(&x, x.dest_fd, PFS_ROOT_INO, 0);
	if (!e)
		e = set_owner_mode(&x, x.dest_fd, NULL, &root, true, x.dest_fd,
				   NULL);
	if (!e)
		e = set_times(&x, x.dest_fd, NULL, &root);
out:
	if (x.dest_fd >= 0)
		close(x.dest_fd);
	for (i = 0; i < x.nlinks; i++)
		free(x.relpaths[i]);
	free(x.relpaths);
	pfs_u64map_free(&x.links);
	pfs_u64map_free(&x.dirs);
	free(x.path);
	free(x.buf);
	pfs_image_close(x.img);
	return e;
}
