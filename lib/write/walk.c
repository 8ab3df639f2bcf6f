// SPDX-License-Identifier: MIT
/*
 * Source tree walk of the builder.  Inode numbers follow the reference
 * exactly: the root is 1; directories are visited depth first in name
 * order, and when a directory is visited each of its children, sorted by
 * name bytes, takes the next number (a second name of a hard-linked file
 * takes a number too, but points at the first one's inode).  Regular files
 * are streamed to the chunker as they are numbered, so the stream order is
 * the numbering order.
 *
 * Delta builds (w->base set) reuse the base's inode number for every path
 * that exists in the base, and mark inodes that are identical to the base's
 * as unchanged so that only what changed is written.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "write/build.h"

#define READ_BLOCK (1u << 20)

struct hardlink {
	dev_t dev;
	ino_t ino;
	uint64_t pino;
};

struct walker {
	struct pfs_walk *w;
	dev_t root_dev;
	struct hardlink *links;
	size_t nlinks, links_cap;
	struct pfs_u64map claimed;	/* delta: base inos given to a path */
	char *path;			/* current path, for messages */
	size_t path_cap;
	uint8_t *buf, *basebuf;		/* file reads */
};

static int werr(struct walker *k, int err, const char *what)
{
	return pfs_errf(k->w->log, err, "%s%s%s: %s", k->path, what ? ": " : "",
			what ? what : "", strerror(err));
}

static int path_push(struct walker *k, const char *name, size_t *saved)
{
	size_t len = strlen(k->path), nl = strlen(name);

	*saved = len;
	if (len + nl + 2 > k->path_cap) {
		size_t cap = (len + nl + 2) * 2;
		char *p = realloc(k->path, cap);

		if (!p)
			return -ENOMEM;
		k->path = p;
		k->path_cap = cap;
	}
	if (len && k->path[len - 1] != '/')
		k->path[len++] = '/';
	memcpy(k->path + len, name, nl + 1);
	return 0;
}

static int add_node(struct pfs_walk *w, struct pfs_bnode *n)
{
	if (w->nnodes == w->nodes_cap) {
		size_t cap = w->nodes_cap ? w->nodes_cap * 2 : 1024;
		struct pfs_bnode **p = realloc(w->nodes, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		w->nodes = p;
		w->nodes_cap = cap;
	}
	w->nodes[w->nnodes++] = n;
	return 0;
}

static int xattr_cmp(const void *a, const void *b)
{
	const struct pfs_mxattr *x = a, *y = b;

	return pfs_name_cmp(x->key, x->key_len, y->key, y->key_len);
}

/* Xattrs of an open file (@fd >= 0), or of @path without following a
 * final symlink. */
static ssize_t list_x(int fd, const char *path, char *buf, size_t size)
{
	return fd >= 0 ? flistxattr(fd, buf, size) : llistxattr(path, buf, size);
}

static ssize_t get_x(int fd, const char *path, const char *key, void *buf,
		     size_t size)
{
	return fd >= 0 ? fgetxattr(fd, key, buf, size) :
			 lgetxattr(path, key, buf, size);
}

/* All xattrs, sorted by name so that images do not depend on the order the
 * source filesystem lists them in. */
static int read_xattrs(struct walker *k, int fd, const char *proc,
		       struct pfs_minode *m)
{
	ssize_t n, len = 0;
	char *list = NULL, *key;
	size_t cap = 0;

	for (;;) {
		n = list_x(fd, proc, NULL, 0);
		if (n < 0 && (errno == ENOTSUP || errno == ENOSYS))
			return 0;
		if (n < 0)
			return werr(k, errno, "list xattrs");
		if (n == 0)
			return 0;
		free(list);
		list = malloc((size_t)n);
		if (!list)
			return -ENOMEM;
		len = list_x(fd, proc, list, (size_t)n);
		if (len >= 0)
			break;
		if (errno != ERANGE) {
			free(list);
			return werr(k, errno, "list xattrs");
		}
	}
	for (key = list; key < list + len; key += strlen(key) + 1) {
		struct pfs_mxattr *x;
		ssize_t vl;

		if (m->nxattrs == cap) {
			cap = cap ? cap * 2 : 4;
			x = realloc(m->xattrs, cap * sizeof(*x));
			if (!x)
				goto nomem;
			m->xattrs = x;
		}
		x = &m->xattrs[m->nxattrs];
		vl = get_x(fd, proc, key, NULL, 0);
		if (vl < 0 && errno == ENODATA)
			continue;	/* removed meanwhile */
		if (vl < 0) {
			free(list);
			return werr(k, errno, key);
		}
		x->key_len = (uint32_t)strlen(key);
		x->key = malloc(x->key_len);
		x->val = malloc(vl ? (size_t)vl : 1);
		if (!x->key || !x->val) {
			free(x->key);
			free(x->val);
			goto nomem;
		}
		memcpy(x->key, key, x->key_len);
		vl = get_x(fd, proc, key, x->val, (size_t)vl);
		if (vl < 0) {
			free(x->key);
			free(x->val);
			if (errno == ENODATA || errno == ERANGE)
				continue;
			free(list);
			return werr(k, errno, key);
		}
		x->val_len = (uint32_t)vl;
		m->nxattrs++;
	}
	free(list);
	qsort(m->xattrs, m->nxattrs, sizeof(*m->xattrs), xattr_cmp);
	return 0;
nomem:
	free(list);
	return -ENOMEM;
}

static uint16_t kind_of(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFDIR: return PFS_KIND_DIR;
	case S_IFREG: return PFS_KIND_FILE;
	case S_IFLNK: return PFS_KIND_LNK;
	case S_IFCHR: return PFS_KIND_CHR;
	case S_IFBLK: return PFS_KIND_BLK;
	case S_IFIFO: return PFS_KIND_FIFO;
	case S_IFSOCK: return PFS_KIND_SOCK;
	default: return PFS_KIND_UNKNOWN;
	}
}

/* Metadata of one inode: @dirfd/@name, or @dirfd itself if name is NULL;
 * @fd >= 0 is the entry already open (its xattrs are read through it). */
static int fill_meta(struct walker *k, int dirfd, const char *name,
		     const struct stat *st, struct pfs_minode *m, int fd)
{
	char proc[300];
	int e;

	m->kind = kind_of(st->st_mode);
	m->perm = st->st_mode & 07777;
	m->uid = st->st_uid;
	m->gid = st->st_gid;
	pfs_mtime_apply(&k->w->mtime, m, st->st_mtim.tv_sec,
			(uint32_t)st->st_mtim.tv_nsec);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		m->major = major(st->st_rdev);
		m->minor = minor(st->st_rdev);
	}
	if (S_ISLNK(st->st_mode)) {
		char target[4097];
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target));

		if (n < 0)
			return werr(k, errno, "readlink");
		if (n >= (ssize_t)sizeof(target))
			return werr(k, ENAMETOOLONG, "readlink");
		m->target = malloc(n ? (size_t)n : 1);
		if (!m->target)
			return -ENOMEM;
		memcpy(m->target, target, (size_t)n);
		m->target_len = (uint32_t)n;
		m->has_target = true;
	}
	if (fd >= 0) {
		/* Cheaper than a path through /proc. */
		e = read_xattrs(k, fd, NULL, m);
	} else if (name) {
		/* The final component is the entry itself, not followed. */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dirfd, name);
		e = read_xattrs(k, -1, proc, m);
	} else {
		e = read_xattrs(k, dirfd, NULL, m);
	}
	if (e)
		return e;
	m->has_additional = m->has_target || m->nxattrs;
	return 0;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(struct walker *k, int fd, char ***names, size_t *count)
{
	size_t n = 0, cap = 16;
	char **v = malloc(cap * sizeof(*v));
	struct dirent *d;
	DIR *dir;
	int dfd = dup(fd);

	if (!v || dfd < 0) {
		free(v);
		if (dfd >= 0)
			close(dfd);
		return v ? werr(k, errno, NULL) : -ENOMEM;
	}
	dir = fdopendir(dfd);
	if (!dir) {
		close(dfd);
		free(v);
		return werr(k, errno, NULL);
	}
	errno = 0;
	while ((d = readdir(dir))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (n == cap) {
			char **p = realloc(v, 2 * cap * sizeof(*v));

			if (!p)
				goto nomem;
			v = p;
			cap *= 2;
		}
		v[n] = strdup(d->d_name);
		if (!v[n++])
			goto nomem;
		errno = 0;
	}
	if (errno) {
		int e = errno;

		closedir(dir);
		while (n)
			free(v[--n]);
		free(v);
		return werr(k, e, NULL);
	}
	closedir(dir);
	qsort(v, n, sizeof(*v), name_cmp);
	*names = v;
	*count = n;
	return 0;
nomem:
	closedir(dir);
	while (n)
		free(v[--n]);
	free(v);
	return -ENOMEM;
}

static size_t link_slot(const struct walker *k, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 32)) *
		     0x9e3779b97f4a7c15ull;
	size_t i = (size_t)(h >> 24) & (k->links_cap - 1);

	while (k->links[i].pino &&
	       (k->links[i].ino != ino || k->links[i].dev != dev))
		i = (i + 1) & (k->links_cap - 1);
	return i;
}

/* Hard links are keyed by (st_dev, st_ino); the reference forgets st_dev. */
static uint64_t *find_link(struct walker *k, const struct stat *st)
{
	size_t i;

	if (!k->links_cap)
		return NULL;
	i = link_slot(k, st->st_dev, st->st_ino);
	return k->links[i].pino ? &k->links[i].pino : NULL;
}

static int add_link(struct walker *k, const struct stat *st, uint64_t pino)
{
	size_t i;

	if ((k->nlinks + 1) * 2 > k->links_cap) {
		struct walker n = { .links_cap = k->links_cap ? k->links_cap * 2 : 64 };

		n.links = calloc(n.links_cap, sizeof(*n.links));
		if (!n.links)
			return -ENOMEM;
		for (i = 0; i < k->links_cap; i++)
			if (k->links[i].pino)
				n.links[link_slot(&n, k->links[i].dev,
						  k->links[i].ino)] = k->links[i];
		free(k->links);
		k->links = n.links;
		k->links_cap = n.links_cap;
	}
	i = link_slot(k, st->st_dev, st->st_ino);
	k->links[i].dev = st->st_dev;
	k->links[i].ino = st->st_ino;
	k->links[i].pino = pino;
	k->nlinks++;
	return 0;
}

/* Open the regular file @st said @name was.  O_NONBLOCK: should a FIFO
 * take its place meanwhile, the open must not wait for a writer; what was
 * opened must still be that file. */
static int open_file(struct walker *k, int dirfd, const char *name,
		     const struct stat *st)
{
	const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
	int fd = openat(dirfd, name, flags | O_NOATIME);
	struct stat now;

	if (fd < 0 && errno == EPERM)
		fd = openat(dirfd, name, flags);
	if (fd < 0)
		return werr(k, errno, NULL);
	if (fstat(fd, &now) || !S_ISREG(now.st_mode) ||
	    now.st_ino != st->st_ino || now.st_dev != st->st_dev) {
		close(fd);
		return pfs_errf(k->w->log, EAGAIN,
				"%s: replaced while the build ran", k->path);
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	return fd;
}

static ssize_t read_some(int fd, uint8_t *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

/* Stream an open file's contents to the chunker (whatever its size is
 * now). */
static int stream_file(struct walker *k, int fd, struct pfs_bnode *n)
{
	struct pfs_builder *b = k->w->b;
	ssize_t got = 0;
	int e;

	e = pfs_build_file_begin(b, n);
	/* Read straight into the builder's stream window. */
	while (!e) {
		size_t room;
		uint8_t *p = pfs_build_space(b, &room);

		if (!p) {
			e = -ENOMEM;
			break;
		}
		got = read_some(fd, p, room);
		if (got <= 0)
			break;
		e = pfs_build_commit(b, (size_t)got);
		pfs_build_progress(b, (uint64_t)got);
	}
	if (!e && got < 0)
		e = werr(k, (int)-got, NULL);
	return e ? e : pfs_build_file_end(b, n);
}

/* Delta: is the open file's content the same as the base file's?  1 yes.
 * Leaves the file offset at 0 again. */
static int same_content(struct walker *k, int fd, uint64_t base_ino,
			uint64_t size)
{
	uint64_t off = 0;
	ssize_t got, bn;
	int same = 1;

	while ((got = read_some(fd, k->buf, READ_BLOCK)) > 0) {
		bn = pfs_read(k->w->base, base_ino, k->basebuf, (size_t)got, off);
		if (bn != got || memcmp(k->buf, k->basebuf, (size_t)got)) {
			same = bn < 0 ? (int)bn : 0;
			break;
		}
		off += (uint64_t)got;
	}
	if (got < 0)
		same = werr(k, (int)-got, NULL);
	if (lseek(fd, 0, SEEK_SET) && same >= 0)
		same = werr(k, errno, NULL);
	return same == 1 && off != size ? 0 : same;
}

static int copy_base_chunks(struct walker *k, uint64_t ino,
			    struct pfs_minode *m)
{
	struct pfs_image *img = k->w->base;
	struct pfs_cinode ci;
	struct pfs_chunk ch;
	struct pfs_mchunk mc;
	struct pfs_cur c;
	u32 i;
	int e;

	e = pfs_image_inode(img, ino, &ci);
	pfs_cur_init(&c, &img->rfs.msg);
	for (i = 0; !e && i < ci.in.list.count; i++) {
		e = pfs_file_chunk(&c, &img->rfs, &ci.in, i, &ch);
		if (e)
			break;
		memcpy(mc.digest, ch.digest, PFS_DIGEST_SIZE);
		mc.offset = ch.offset;
		mc.len = ch.len;
		mc.compressed = ch.compressed;
		e = pfs_minode_add_chunk(m, &mc);
	}
	return e;
}

static bool same_bytes(const uint8_t *a, uint32_t al, const uint8_t *b,
		       uint32_t bl)
{
	return al == bl && (!al || !memcmp(a, b, al));
}

/* Delta: metadata identical to the base inode's (entries and data aside;
 * the mtime included, so an inode touched since goes into the delta). */
static bool same_meta(struct walker *k, const struct pfs_minode *m,
		      const struct pfs_cinode *base)
{
	struct pfs_image *img = k->w->base;
	const struct pfs_inode *in = &base->in;
	struct pfs_mxattr *bx;
	struct pfs_xattr x;
	struct pfs_cur c;
	bool same = true;
	u32 i;

	if (m->kind != in->kind || m->perm != in->perm || m->uid != in->uid ||
	    m->gid != in->gid || m->has_mtime != in->has_mtime ||
	    (m->has_mtime && (m->mtime_sec != in->mtime_sec ||
			      m->mtime_nsec != in->mtime_nsec)) ||
	    m->major != in->major ||
	    m->minor != in->minor || m->nxattrs != in->xattrs.count ||
	    (m->kind == PFS_KIND_LNK &&
	     !same_bytes(m->target, m->target_len, in->target, in->target_len)))
		return false;
	if (!m->nxattrs)
		return true;
	bx = calloc(m->nxattrs, sizeof(*bx));
	if (!bx)
		return false;
	pfs_cur_init(&c, &img->rfs.msg);
	for (i = 0; i < m->nxattrs && same; i++) {
		if (pfs_xattr_at(&c, &img->rfs, in, i, &x)) {
			same = false;
			break;
		}
		bx[i].key = (uint8_t *)x.key;
		bx[i].key_len = x.key_len;
		bx[i].val = (uint8_t *)x.val;
		bx[i].val_len = x.val_len;
	}
	if (same)
		qsort(bx, m->nxattrs, sizeof(*bx), xattr_cmp);
	for (i = 0; i < m->nxattrs && same; i++)
		same = same_bytes(bx[i].key, bx[i].key_len, m->xattrs[i].key,
				  m->xattrs[i].key_len) &&
		       same_bytes(bx[i].val, bx[i].val_len, m->xattrs[i].val,
				  m->xattrs[i].val_len);
	free(bx);
	return same;
}

static int add_removed(struct pfs_walk *w, uint64_t ino)
{
	if (w->nremoved == w->removed_cap) {
		size_t cap = w->removed_cap ? w->removed_cap * 2 : 64;
		uint64_t *p = realloc(w->removed, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		w->removed = p;
		w->removed_cap = cap;
	}
	w->removed[w->nremoved++] = ino;
	return 0;
}

/*
 * Delta: compare a directory's new entries with the base directory's
 * visible entries; names that are gone are recorded (their inodes become
 * whiteouts unless still named elsewhere).  Returns 1 if the lists are
 * the same.
 */
static int diff_dir(struct walker *k, struct pfs_bnode *dir, uint64_t base_ino)
{
	struct pfs_image *img = k->w->base;
	struct pfs_dirent_info ent;
	uint64_t pos = 0;
	uint32_t matched = 0;
	bool same = true;
	int e;

	while ((e = pfs_readdir(img, base_ino, &pos, &ent)) == 1) {
		uint32_t lo = 0, hi = dir->m.nents;
		bool found = false;

		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			struct pfs_mdirent *d = &dir->m.ents[mid];
			int c = pfs_name_cmp(d->name, d->name_len,
					     (const uint8_t *)ent.name,
					     (uint32_t)ent.name_len);

			if (c == 0) {
				found = true;
				if (d->ino != ent.ino)
					same = false;
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (found) {
			matched++;
		} else {
			same = false;
			e = add_removed(k->w, ent.ino);
			if (e)
				return e;
		}
	}
	if (e < 0)
		return e;
	return same && matched == dir->m.nents;
}

struct child {
	char *name;
	struct stat st;
	struct pfs_bnode *node;		/* NULL for a second hard link */
	uint64_t base_ino;		/* delta: same path in the base, or 0 */
};

static int visit(struct walker *k, int fd, struct pfs_bnode *dir,
		 uint64_t base_dir, unsigned depth);

/* A new node's metadata, and a regular file's contents (opened once, for
 * its xattrs, the delta comparison and the stream). */
static int fill_node(struct walker *k, int dirfd, struct child *ch,
		     bool in_base)
{
	struct pfs_walk *w = k->w;
	struct pfs_cinode base;
	int fd = -1, e;

	if (S_ISREG(ch->st.st_mode)) {
		fd = open_file(k, dirfd, ch->name, &ch->st);
		if (fd < 0)
			return fd;
	}
	e = fill_meta(k, dirfd, ch->name, &ch->st, &ch->node->m, fd);
	if (e || fd < 0)
		goto out;
	if (in_base && pfs_image_inode(w->base, ch->base_ino, &base) == 0 &&
	    base.in.kind == PFS_KIND_FILE &&
	    base.size == (uint64_t)ch->st.st_size) {
		e = same_content(k, fd, ch->base_ino, base.size);
		if (e < 0)
			goto out;
		if (e == 1) {
			ch->node->keep_base_data = true;
			ch->node->unchanged = same_meta(k, &ch->node->m, &base);
			e = ch->node->unchanged ? 0 :
			    copy_base_chunks(k, ch->base_ino, &ch->node->m);
			goto out;
		}
	}
	e = stream_file(k, fd, ch->node);
out:
	if (fd >= 0)
		close(fd);
	return e;
}

static int number_child(struct walker *k, int fd, struct pfs_bnode *dir,
			uint64_t base_dir, struct child *ch)
{
	struct pfs_walk *w = k->w;
	uint64_t ino, *linked = NULL;
	bool in_base = false;
	int e;

	if (fstatat(fd, ch->name, &ch->st, AT_SYMLINK_NOFOLLOW))
		return werr(k, errno, NULL);
	if (base_dir) {
		struct pfs_attr a;

		e = pfs_lookup(w->base, base_dir, ch->name, strlen(ch->name), &a);
		if (e && e != -ENOENT)
			return e;
		/* Two names of a base hard link may no longer be one file:
		 * only the first keeps the base inode. */
		if (!e && !pfs_u64map_get(&k->claimed, a.ino)) {
			ch->base_ino = a.ino;
			in_base = true;
		}
	}
	if (!S_ISDIR(ch->st.st_mode) && ch->st.st_nlink > 1)
		linked = find_link(k, &ch->st);
	/* Every name takes a number unless it reuses a base inode, as in
	 * the reference; a repeated hard link then points at the first. */
	ino = in_base ? ch->base_ino : w->next_ino++;
	if (linked)
		ino = *linked;
	e = pfs_minode_add_dirent(&dir->m, ino, (const uint8_t *)ch->name,
				  (uint32_t)strlen(ch->name));
	if (e || linked)
		return e;
	if (in_base && (e = pfs_u64map_put(&k->claimed, ino, 1)))
		return e;
	if (!S_ISDIR(ch->st.st_mode) && ch->st.st_nlink > 1 &&
	    (e = add_link(k, &ch->st, ino)))
		return e;
	ch->node = calloc(1, sizeof(*ch->node));
	if (!ch->node || add_node(w, ch->node)) {
		free(ch->node);
		ch->node = NULL;
		return -ENOMEM;
	}
	ch->node->m.ino = ino;
	return fill_node(k, fd, ch, in_base);
}

/* Delta: mark a non-directory, non-file inode unchanged if it is. */
static void check_unchanged(struct walker *k, struct child *ch)
{
	struct pfs_cinode base;

	if (!ch->node || !ch->base_ino || S_ISDIR(ch->st.st_mode) ||
	    S_ISREG(ch->st.st_mode))
		return;
	if (pfs_image_inode(k->w->base, ch->base_ino, &base) == 0)
		ch->node->unchanged = same_meta(k, &ch->node->m, &base);
}

static int visit_children(struct walker *k, int fd, struct pfs_bnode *dir,
			  uint64_t base_dir, unsigned depth, char **names,
			  size_t count)
{
	struct child *kids = calloc(count ? count : 1, sizeof(*kids));
	size_t i, saved;
	int e = 0;

	if (!kids)
		return -ENOMEM;
	for (i = 0; i < count && !e; i++) {
		kids[i].name = names[i];
		e = path_push(k, names[i], &saved);
		if (!e)
			e = number_child(k, fd, dir, base_dir, &kids[i]);
		if (!e && k->w->base)
			check_unchanged(k, &kids[i]);
		k->path[saved] = 0;
	}
	if (!e && base_dir) {
		struct pfs_cinode base;

		e = diff_dir(k, dir, base_dir);
		if (e >= 0 && pfs_image_inode(k->w->base, base_dir, &base) == 0)
			dir->unchanged = e == 1 && same_meta(k, &dir->m, &base);
		e = e < 0 ? e : 0;
	}
	/* Then descend, depth first, in name order. */
	for (i = 0; i < count && !e; i++) {
		struct child *ch = &kids[i];
		struct pfs_cinode base;
		uint64_t bdir = 0;
		int sub;

		if (!ch->node || !S_ISDIR(ch->st.st_mode))
			continue;
		/* Like the reference, stay on the source filesystem: a mount
		 * point is stored as an empty directory. */
		if (ch->st.st_dev != k->root_dev)
			continue;
		if (ch->base_ino && pfs_image_inode(k->w->base, ch->base_ino,
						    &base) == 0 &&
		    base.in.kind == PFS_KIND_DIR)
			bdir = ch->base_ino;
		e = path_push(k, ch->name, &saved);
		if (e)
			break;
		sub = openat(fd, ch->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
			     O_CLOEXEC);
		if (sub < 0) {
			e = werr(k, errno, NULL);
		} else {
			e = visit(k, sub, ch->node, bdir, depth + 1);
			close(sub);
		}
		k->path[saved] = 0;
	}
	free(kids);
	return e;
}

static int visit(struct walker *k, int fd, struct pfs_bnode *dir,
		 uint64_t base_dir, unsigned depth)
{
	char **names = NULL;
	size_t count = 0, i;
	int e;

	/* Readers refuse deeper trees (PFS_MAX_DEPTH): so does the build. */
	if (depth > PFS_MAX_DEPTH)
		return pfs_errf(k->w->log, ELOOP, "%s: directory more than %u "
				"levels below the root (the most an image "
				"holds)", k->path, PFS_MAX_DEPTH);
	e = list_dir(k, fd, &names, &count);
	if (e)
		return e;
	e = visit_children(k, fd, dir, base_dir, depth, names, count);
	for (i = 0; i < count; i++)
		free(names[i]);
	free(names);
	return e;
}

static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int pfs_walk(struct pfs_walk *w, const char *rootfs)
{
	struct walker k = { .w = w };
	struct pfs_bnode *root;
	struct stat st;
	int fd, e;

	raise_fd_limit();
	k.path = strdup(rootfs);
	k.path_cap = strlen(rootfs) + 1;
	k.buf = malloc(READ_BLOCK);
	k.basebuf = malloc(READ_BLOCK);
	root = calloc(1, sizeof(*root));
	if (!k.path || !k.buf || !k.basebuf || !root || add_node(w, root)) {
		free(root);
		e = -ENOMEM;
		goto out;
	}
	/* The root argument may be a symlink to the tree. */
	fd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		e = werr(&k, errno, NULL);
		goto out;
	}
	if (fstat(fd, &st)) {
		e = werr(&k, errno, NULL);
		close(fd);
		goto out;
	}
	k.root_dev = st.st_dev;
	root->m.ino = PFS_ROOT_INO;
	if (!w->next_ino)
		w->next_ino = PFS_ROOT_INO + 1;
	e = fill_meta(&k, fd, NULL, &st, &root->m, -1);
	if (!e)
		e = visit(&k, fd, root, w->base ? PFS_ROOT_INO : 0, 0);
	close(fd);
out:
	free(k.path);
	free(k.buf);
	free(k.basebuf);
	free(k.links);
	pfs_u64map_free(&k.claimed);
	return e;
}

void pfs_walk_free(struct pfs_walk *w)
{
	size_t i;

	for (i = 0; i < w->nnodes; i++) {
		pfs_minode_free(&w->nodes[i]->m);
		free(w->nodes[i]->pieces);
		free(w->nodes[i]);
	}
	free(w->nodes);
	free(w->removed);
	w->nodes = NULL;
	w->removed = NULL;
	w->nnodes = w->nremoved = 0;
}
