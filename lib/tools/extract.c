// SPDX-License-Identifier: MIT
/*
 * Extraction.  Everything is created relative to its parent directory's
 * descriptor, never following symlinks, and never over an existing entry
 * (only an existing real directory is reused), so a hostile image cannot
 * write outside the destination.  A directory gets its owner, xattrs and
 * mode only after its children exist (a 0555 directory still gets its
 * contents).  Every inode's owner goes first, then its xattrs, then its
 * mode (chown clears setuid/setgid and security.capability), then its
 * mtime (a directory's once its entries are made, as they change it).
 *
 * What can fail for a whole image (the image, its tree's shape, its size)
 * is checked before the destination is touched.  After that, an entry
 * that fails is reported and the extraction goes on with the next one: a
 * file whose data cannot be read is removed rather than left truncated,
 * and a directory that cannot be made loses its subtree.
 *
 * The walk is pfs_tree's, iterative, so the tree's depth (up to
 * PFS_MAX_DEPTH) costs no stack.  Each open directory holds a descriptor;
 * only the deepest FD_WINDOW are kept, and an ancestor's is opened again
 * through ".." of its child, checked to be the directory made, when the
 * walk comes back to it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "read/tree.h"

#define COPY_BLOCK (1u << 20)
#define HOLE_BLOCK 4096u
#define FD_WINDOW 128

/* A directory being filled, at its depth in the walk ([0]: DEST). */
struct xdir {
	int fd;				/* -1: closed, see FD_WINDOW */
	dev_t dev;
	ino_t ino;
};

struct extractor {
	struct pfs_image *img;
	const struct pfs_log *log;
	const struct pfs_extract_opts *opts;
	bool chown;
	struct pfs_tree tree;
	struct xdir *dirs;		/* PFS_MAX_DEPTH + 2 of them */
	uint8_t *buf;
	struct pfs_u64map links;	/* hard-linked ino -> index in relpaths */
	char **relpaths;		/* first extracted path of each */
	size_t nlinks, links_cap;
	const char *dest;
	size_t failures;
	int err;			/* the first failure's */
};

/* An entry could not be extracted (as it should be): say so, go on. */
static void failed(struct extractor *x, int err, const char *what)
{
	const char *path = x->tree.path;

	pfs_logf(x->log, PFS_LOG_ERR, "%s%s%s%s%s: %s", x->dest,
		 *path ? "/" : "", path, what ? ": " : "", what ? what : "",
		 strerror(err));
	x->failures++;
	if (!x->err)
		x->err = err;
}

static void xwarn(struct extractor *x, const char *what)
{
	pfs_logf(x->log, PFS_LOG_WARN, "%s/%s: %s", x->dest, x->tree.path,
		 what);
}

/* Xattrs on @fd, or when it is -1 on @proc (not following a final
 * symlink).  Each one that cannot be set is a failure of its own. */
static void set_xattrs(struct extractor *x, const struct pfs_cinode *ci,
		       int fd, const char *proc)
{
	struct pfs_rootfs *r = &x->img->rfs;
	struct pfs_xattr xa;
	struct pfs_cur c;
	char key[256];
	u32 i;

	if (x->opts->no_xattrs)
		return;
	pfs_cur_init(&c, &r->msg);
	for (i = 0; i < pfs_xattr_count(&ci->in); i++) {
		if (pfs_xattr_at(&c, r, &ci->in, i, &xa)) {
			failed(x, EIO, "xattrs");
			return;
		}
		memcpy(key, xa.key, xa.key_len);
		key[xa.key_len] = 0;
		if ((fd >= 0 ? fsetxattr(fd, key, xa.val, xa.val_len, 0) :
			       lsetxattr(proc, key, xa.val, xa.val_len, 0)))
			failed(x, errno, key);
	}
}

/* The image's permission bits, less what the options drop. */
static mode_t perm_of(const struct extractor *x, const struct pfs_cinode *ci)
{
	return x->opts->no_setuid ? ci->in.perm & ~(S_ISUID | S_ISGID) :
				    ci->in.perm;
}

/* The image's mtime (as atime too), on @fd itself when @name is NULL;
 * last, since writing contents or entries would change it. */
static void set_times(struct extractor *x, int fd, const char *name,
		      const struct pfs_cinode *ci)
{
	struct timespec ts[2];

	if (!ci->in.has_mtime)
		return;
	ts[0].tv_sec = (time_t)ci->in.mtime_sec;
	ts[0].tv_nsec = (long)ci->in.mtime_nsec;
	if (ts[0].tv_sec != ci->in.mtime_sec) {
		failed(x, EOVERFLOW, "mtime");
		return;
	}
	ts[1] = ts[0];
	if (name ? utimensat(fd, name, ts, AT_SYMLINK_NOFOLLOW) :
		   futimens(fd, ts))
		failed(x, errno, "set mtime");
}

/*
 * Owner, xattrs, mode (chown clears setuid/setgid bits and
 * security.capability), then mtime, of @fd itself when @name is NULL,
 * else of @name in @fd (xattrs through @proc then).  Symlinks have no
 * mode.
 */
static void set_meta(struct extractor *x, int fd, const char *name,
		     const char *proc, const struct pfs_cinode *ci)
{
	bool mode = ci->in.kind != PFS_KIND_LNK;

	if (x->chown && (name ? fchownat(fd, name, ci->in.uid, ci->in.gid,
					 AT_SYMLINK_NOFOLLOW) :
				fchown(fd, ci->in.uid, ci->in.gid)))
		failed(x, errno, "chown");
	set_xattrs(x, ci, name ? -1 : fd, proc);
	if (mode && (name ? fchmodat(fd, name, perm_of(x, ci), 0) :
			    fchmod(fd, perm_of(x, ci))))
		failed(x, errno, "chmod");
	set_times(x, fd, name, ci);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	return n && p[0] == 0 && !memcmp(p, p + 1, n - 1);
}

/* 0, or the errno of the failure (reported). */
static int write_file(struct extractor *x, int fd, const struct pfs_cinode *ci)
{
	uint64_t off = 0;
	size_t i, run, len;
	ssize_t n;
	int e;

	while (off < ci->size) {
		n = pfs_read(x->img, ci->in.ino, x->buf, COPY_BLOCK, off);
		if (n <= 0) {
			e = n ? (int)-n : EIO;
			failed(x, e, "read from image");
			return e;
		}
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
			e = lseek(fd, (off_t)(off + i), SEEK_SET) < 0 ? errno :
			    -pfs_write_full(fd, x->buf + i, run);
			if (e) {
				failed(x, e, NULL);
				return e;
			}
		}
		off += (uint64_t)n;
	}
	if (ftruncate(fd, (off_t)ci->size)) {
		e = errno;
		failed(x, e, NULL);
		return e;
	}
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
	x->relpaths[x->nlinks] = strdup(x->tree.path);
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

/* Fifos, sockets and device nodes: 1 made, 0 skipped or failed. */
static int make_node(struct extractor *x, int dirfd, const char *name,
		     const struct pfs_cinode *ci)
{
	const struct pfs_inode *in = &ci->in;
	bool device = in->kind == PFS_KIND_CHR || in->kind == PFS_KIND_BLK;
	dev_t dev = 0;
	mode_t type;

	switch (in->kind) {
	case PFS_KIND_FIFO: type = S_IFIFO; break;
	case PFS_KIND_SOCK: type = S_IFSOCK; break;
	case PFS_KIND_CHR: type = S_IFCHR; break;
	default: type = S_IFBLK; break;
	}
	/* Asked not to: none is made, whoever runs this. */
	if (device && x->opts->no_devices)
		return 0;
	if (device) {
		if (in->major > 0xffffffffu || in->minor > 0xffffffffu) {
			failed(x, EOVERFLOW, "device number");
			return 0;
		}
		dev = makedev((unsigned)in->major, (unsigned)in->minor);
	}
	if (mknodat(dirfd, name, type | 0600, dev) == 0)
		return 1;
	failed(x, errno, device && errno == EPERM ?
	       "device node (--no-devices skips them)" : NULL);
	return 0;
}

/* Only the deepest FD_WINDOW directories keep their descriptors. */
static void window(struct extractor *x, unsigned top)
{
	struct xdir *d;

	if (top <= FD_WINDOW)
		return;
	d = &x->dirs[top - FD_WINDOW];
	if (d->fd >= 0) {
		close(d->fd);
		d->fd = -1;
	}
}

/* The directory just reported: made, opened, and walked next. */
static int enter_dir(struct extractor *x, int dirfd, const char *name)
{
	struct pfs_tree *t = &x->tree;
	struct stat st;
	int fd, e;

	if (mkdirat(dirfd, name, 0700) && errno != EEXIST) {
		failed(x, errno, NULL);
		return 0;
	}
	/* Only a real directory is reused (O_NOFOLLOW: not a symlink). */
	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		failed(x, errno, NULL);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	e = pfs_tree_enter(t);
	if (e) {
		close(fd);
		if (e != -ELOOP)
			return e;
		failed(x, ELOOP, t->why);
		return 0;
	}
	x->dirs[t->depth - 1] = (struct xdir){ fd, st.st_dev, st.st_ino };
	window(x, t->depth - 1);
	return 0;
}

/* One entry of the current directory.  0, or a fatal errno (no memory). */
static int extract_entry(struct extractor *x)
{
	const struct pfs_dirent_info *ent = &x->tree.ent;
	int dirfd = x->dirs[x->tree.depth - 1].fd;
	char proc[300], name[PFS_NAME_MAX + 1];
	struct pfs_cinode ci;
	struct pfs_attr a;
	const char *first;
	bool linked;
	int fd, e;

	memcpy(name, ent->name, ent->name_len);
	name[ent->name_len] = 0;
	e = pfs_image_inode(x->img, ent->ino, &ci);
	if (e) {
		failed(x, -e, "image");
		return e == -ENOMEM ? e : 0;
	}
	if (ci.in.kind == PFS_KIND_DIR)
		return enter_dir(x, dirfd, name);
	pfs_image_attr(x->img, &ci, &a);
	linked = a.nlink > 1;
	first = linked ? linked_path(x, ci.in.ino) : NULL;
	if (first) {
		if (linkat(x->dirs[0].fd, first, dirfd, name, 0))
			failed(x, errno, "link");
		return 0;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
	switch (ci.in.kind) {
	case PFS_KIND_FILE:
		fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
			    O_CLOEXEC, 0600);
		if (fd < 0) {
			failed(x, errno, NULL);
			return 0;
		}
		if (write_file(x, fd, &ci)) {
			/* Not a prefix of it under its name. */
			close(fd);
			unlinkat(dirfd, name, 0);
			return 0;
		}
		set_meta(x, fd, NULL, NULL, &ci);
		close(fd);
		break;
	case PFS_KIND_LNK: {
		char target[4097];

		memcpy(target, ci.in.target, ci.in.target_len);
		target[ci.in.target_len] = 0;
		if (symlinkat(target, dirfd, name)) {
			failed(x, errno, NULL);
			return 0;
		}
		set_meta(x, dirfd, name, proc, &ci);
		break;
	}
	case PFS_KIND_FIFO:
	case PFS_KIND_SOCK:
	case PFS_KIND_CHR:
	case PFS_KIND_BLK:
		if (!make_node(x, dirfd, name, &ci))
			return 0;
		set_meta(x, dirfd, name, proc, &ci);
		break;
	default:
		xwarn(x, "skipped inode of unknown type");
		return 0;
	}
	return linked ? remember_link(x, ci.in.ino) : 0;
}

/*
 * The current directory's entries are done: its parent's descriptor back
 * if the window closed it (through "..", which must be the directory made
 * there), then the directory's owner, xattrs and mode.
 */
static int leave_dir(struct extractor *x)
{
	unsigned top = x->tree.depth - 1;
	struct xdir *d = &x->dirs[top], *up = top ? d - 1 : NULL;
	struct pfs_cinode ci;
	struct stat st;
	int e;

	if (up && up->fd < 0) {
		up->fd = openat(d->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (up->fd < 0 || fstat(up->fd, &st) || st.st_dev != up->dev ||
		    st.st_ino != up->ino) {
			/* Moved meanwhile: nothing more is made in it. */
			e = up->fd < 0 ? errno : ESTALE;
			if (up->fd >= 0)
				close(up->fd);
			up->fd = -1;
			failed(x, e, "parent directory moved during extraction");
			return -e;
		}
	}
	e = pfs_image_inode(x->img, x->tree.dirs[top].ino, &ci);
	if (e)
		failed(x, -e, "image");
	else
		set_meta(x, d->fd, NULL, NULL, &ci);
	if (top) {
		close(d->fd);
		d->fd = -1;
	}
	return 0;
}

static int extract_tree(struct extractor *x)
{
	int e = 0;

	while (e >= 0 && (e = pfs_tree_next(&x->tree)) != PFS_TREE_END) {
		if (e == PFS_TREE_ENTRY)
			e = extract_entry(x);
		else if (e == PFS_TREE_LEAVE)
			e = leave_dir(x);
		else if (e != -ENOMEM)
			failed(x, -e, "read directory");
	}
	return e < 0 ? e : 0;
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

/* What fails for the whole image fails before DEST is touched. */
static int check_image(struct extractor *x, const char *oci_dir,
		       const char *tag)
{
	struct pfs_tree_size size;
	int e;

	e = pfs_image_check(x->img);
	if (e || !x->opts->max_size)
		return e;
	e = pfs_tree_size(x->img, PFS_ROOT_INO, &size);
	if (e)
		return e;
	if (size.bytes > x->opts->max_size)
		return pfs_errf(x->log, EFBIG,
				"%s:%s: the image's %llu files hold %llu bytes, "
				"more than the %llu of --max-size", oci_dir, tag,
				(unsigned long long)size.files,
				(unsigned long long)size.bytes,
				(unsigned long long)x->opts->max_size);
	return 0;
}

int pfs_extract(const char *oci_dir, const char *tag, const char *dest,
		const struct pfs_extract_opts *opts)
{
	struct pfs_extract_opts defaults = { 0 };
	struct extractor x = { 0 };
	struct pfs_image_opts io = { 0 };
	size_t i;
	int e;

	if (!opts)
		opts = &defaults;
	if (!dest || !*dest)
		return pfs_errf(opts->log, EINVAL, "no destination directory");
	io.log = opts->log;
	x.log = opts->log;
	x.opts = opts;
	x.dest = dest;
	x.chown = geteuid() == 0 && !opts->no_owner;
	e = pfs_image_open(oci_dir, tag, &io, &x.img);
	if (e)
		return e;
	x.buf = malloc(COPY_BLOCK);
	x.dirs = calloc(PFS_MAX_DEPTH + 2, sizeof(*x.dirs));
	if (!x.buf || !x.dirs)
		e = -ENOMEM;
	for (i = 0; x.dirs && i <= PFS_MAX_DEPTH + 1; i++)
		x.dirs[i].fd = -1;
	if (!e)
		e = check_image(&x, oci_dir, tag);
	if (!e)
		e = pfs_tree_init(&x.tree, x.img, PFS_ROOT_INO, "");
	if (e)
		goto out;
	if ((e = mkdir_p(dest)) ||
	    (x.dirs[0].fd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		e = pfs_errf(x.log, e ? -e : errno, "%s: %s", dest,
			     strerror(e ? -e : errno));
		goto out;
	}
	e = extract_tree(&x);
	if (e == -ENOMEM)
		pfs_errf(x.log, ENOMEM, "%s: out of memory", dest);
	else if (x.failures)
		e = pfs_errf(x.log, x.err, "%s: %zu failure%s (above); the "
			     "rest of %s:%s is extracted", dest, x.failures,
			     x.failures == 1 ? "" : "s", oci_dir, tag);
out:
	for (i = 0; x.dirs && i <= PFS_MAX_DEPTH + 1; i++)
		if (x.dirs[i].fd >= 0)
			close(x.dirs[i].fd);
	for (i = 0; i < x.nlinks; i++)
		free(x.relpaths[i]);
	free(x.relpaths);
	free(x.dirs);
	pfs_tree_free(&x.tree);
	pfs_u64map_free(&x.links);
	free(x.buf);
	pfs_image_close(x.img);
	return e;
}
