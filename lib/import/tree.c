// SPDX-License-Identifier: MIT
/*
 * The import tree (see tree.h for the layer semantics).  Names live in
 * one hash table keyed by (directory, name), and in their directory's
 * list; nodes are never freed before the tree is (the builder may still
 * point at a file's node until its data is cut, even if a later entry of
 * the same layer replaced it).
 *
 * Numbering follows walk.c exactly, with the layers below standing for
 * build -b's base image: the same tree gives the same layer, whether it
 * came from a directory or from tar layers (the chunk lists aside: tar
 * data is chunked in tar order).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "../../core/puzzlefs_fs.h"
#include "../../core/rootfs.h"
#include "import/tree_priv.h"

#define NAME_MAX_BYTES 255
#define PATH_MAX_BYTES 4096
#define TARGET_MAX 4095
#define XATTR_VALUE_MAX 65536
#define WH ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define WH_META ".wh..wh."

/* A cleaned path: its names, pointing into @buf. */
struct comps {
	char *buf;
	const char **name;
	uint32_t *len;
	size_t n;
};

/* ---- messages ----------------------------------------------------------------- */

/* Names come from the tar: show them with control bytes escaped, and not
 * beyond a sensible length. */
static void show(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (; *s && o + 8 < cap; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '\\')
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (*s)
		o += (size_t)snprintf(out + o, cap - o, "...");
	out[o] = 0;
}

static int entry_err(struct pfs_itree *t, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int entry_err(struct pfs_itree *t, int err, const char *fmt, ...)
{
	char path[300], why[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	show(t->path ? t->path : "", path, sizeof(path));
	return pfs_errf(t->log, err, "%s: entry '%s': %s", t->what, path, why);
}

/* "a/b/c" of the first @n names, for messages. */
static void prefix(const struct comps *c, size_t n, char *out, size_t cap)
{
	char tmp[PATH_MAX_BYTES + 1];
	size_t i, o = 0;

	for (i = 0; i < n && o + c->len[i] + 2 < sizeof(tmp); i++) {
		if (i)
			tmp[o++] = '/';
		memcpy(tmp + o, c->name[i], c->len[i]);
		o += c->len[i];
	}
	tmp[o] = 0;
	show(tmp, out, cap);
}

/* ---- paths ---------------------------------------------------------------------- */

/* Clean @raw the way runtimes do (path.Clean from "/"): no empty names,
 * no ".", ".." goes up but never above the root. */
static int clean(struct pfs_itree *t, const char *raw, const char *what,
		 struct comps *c)
{
	size_t cap = 0, total = 0;
	char *p, *tok;

	memset(c, 0, sizeof(*c));
	c->buf = strdup(raw);
	if (!c->buf)
		return -ENOMEM;
	for (p = c->buf; *p; p++)
		cap += *p == '/';
	c->name = malloc((cap + 1) * sizeof(*c->name));
	c->len = malloc((cap + 1) * sizeof(*c->len));
	if (!c->name || !c->len)
		return -ENOMEM;
	for (p = c->buf; p; p = tok) {
		size_t len;

		tok = strchr(p, '/');
		if (tok)
			*tok++ = 0;
		len = strlen(p);
		if (!len || (len == 1 && p[0] == '.'))
			continue;
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (c->n)
				total -= c->len[--c->n] + 1;
			continue;
		}
		if (len > NAME_MAX_BYTES)
			return entry_err(t, ENAMETOOLONG,
					 "%s has a name of %zu bytes (at most 255)",
					 what, len);
		total += len + 1;
		if (total > PATH_MAX_BYTES)
			return entry_err(t, ENAMETOOLONG,
					 "%s is longer than %u bytes", what,
					 PATH_MAX_BYTES);
		c->name[c->n] = p;
		c->len[c->n++] = (uint32_t)len;
	}
	return 0;
}

static void comps_free(struct comps *c)
{
	free(c->buf);
	free(c->name);
	free(c->len);
}

/* ---- names ------------------------------------------------------------------------ */

static uint64_t name_hash(const struct pfs_itree *t, const struct pfs_tnode *dir,
			  const void *name, uint32_t len)
{
	return XXH3_64bits_withSeed(name, len, t->seed ^
				    (dir->serial * 0x9e3779b97f4a7c15ull));
}

static struct pfs_tname *lookup(struct pfs_itree *t, struct pfs_tnode *dir,
				const char *name, uint32_t len)
{
	uint64_t h = name_hash(t, dir, name, len);
	struct pfs_tname *n;

	if (!t->nbuckets)
		return NULL;
	for (n = t->buckets[h & (t->nbuckets - 1)]; n; n = n->hnext)
		if (n->hash == h && n->dir == dir && n->len == len &&
		    !memcmp(n->name, name, len))
			return n;
	return NULL;
}

static int grow_buckets(struct pfs_itree *t)
{
	size_t cap = t->nbuckets ? t->nbuckets * 2 : 1024, i;
	struct pfs_tname **b = calloc(cap, sizeof(*b)), *n, *next;

	if (!b)
		return -ENOMEM;
	for (i = 0; i < t->nbuckets; i++) {
		for (n = t->buckets[i]; n; n = next) {
			next = n->hnext;
			n->hnext = b[n->hash & (cap - 1)];
			b[n->hash & (cap - 1)] = n;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = cap;
	return 0;
}

static int add_name(struct pfs_itree *t, struct pfs_tnode *dir,
		    const char *name, uint32_t len, struct pfs_tnode *node,
		    struct pfs_tname **out)
{
	struct pfs_tname *n;
	size_t slot;

	if (t->nnames + 1 > t->nbuckets && grow_buckets(t))
		return -ENOMEM;
	if (dir->nkids == dir->kids_cap) {
		uint32_t cap = dir->kids_cap ? dir->kids_cap * 2 : 4;
		struct pfs_tname **k = realloc(dir->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		dir->kids = k;
		dir->kids_cap = cap;
	}
	n = calloc(1, sizeof(*n) + len);
	if (!n)
		return -ENOMEM;
	n->dir = dir;
	n->node = node;
	n->len = len;
	memcpy(n->name, name, len);
	n->hash = name_hash(t, dir, name, len);
	slot = n->hash & (t->nbuckets - 1);
	n->hnext = t->buckets[slot];
	t->buckets[slot] = n;
	n->idx = dir->nkids;
	dir->kids[dir->nkids++] = n;
	node->nnames++;
	t->nnames++;
	if (out)
		*out = n;
	return 0;
}

/* Take a name out of the tree, and everything under it. */
static void remove_name(struct pfs_itree *t, struct pfs_tname *n)
{
	struct pfs_tname **pp = &t->buckets[n->hash & (t->nbuckets - 1)];
	struct pfs_tnode *dir = n->dir, *node = n->node;

	while (*pp != n)
		pp = &(*pp)->hnext;
	*pp = n->hnext;
	dir->kids[n->idx] = dir->kids[--dir->nkids];
	dir->kids[n->idx]->idx = n->idx;
	t->nnames--;
	free(n);
	if (--node->nnames == 0)
		while (node->nkids)
			remove_name(t, node->kids[node->nkids - 1]);
}

/* A whiteout: what is not this layer's goes, and below a directory of this
 * layer, what is not this layer's in it. */
static void wipe(struct pfs_itree *t, struct pfs_tname *n, uint32_t layer)
{
	uint32_t i;

	if (n->upper != layer) {
		remove_name(t, n);
		return;
	}
	for (i = n->node->nkids; i-- > 0;)
		if (i < n->node->nkids)
			wipe(t, n->node->kids[i], layer);
}

/* ---- nodes -------------------------------------------------------------------------- */

static struct pfs_tnode *new_node(struct pfs_itree *t, uint16_t kind)
{
	struct pfs_tnode *n;

	if (t->nnodes == t->nodes_cap) {
		size_t cap = t->nodes_cap ? t->nodes_cap * 2 : 1024;
		struct pfs_tnode **v = realloc(t->nodes, cap * sizeof(*v));

		if (!v)
			return NULL;
		t->nodes = v;
		t->nodes_cap = cap;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->bn.m.kind = kind;
	n->serial = ++t->serial;
	n->dirty = true;
	t->nodes[t->nnodes++] = n;
	return n;
}

/* What the tar does not say: none (a reader shows a time of its own),
 * unless every inode gets one time. */
static void no_mtime(const struct pfs_itree *t, struct pfs_minode *m)
{
	m->has_mtime = false;
	m->mtime_sec = 0;
	m->mtime_nsec = 0;
	if (t->mtime.mode == PFS_MTIME_FIXED)
		pfs_mtime_apply(&t->mtime, m, 0, 0);
}

/* A directory umoci makes for a parent the layer did not list. */
static struct pfs_tnode *implicit_dir(struct pfs_itree *t, uint32_t layer)
{
	struct pfs_tnode *d = new_node(t, PFS_KIND_DIR);

	if (d) {
		d->bn.m.perm = 0755;
		d->stamp = layer;
		no_mtime(t, &d->bn.m);
	}
	return d;
}

static void node_free(struct pfs_tnode *n)
{
	pfs_minode_free(&n->bn.m);
	free(n->bn.pieces);
	free(n->kids);
	free(n);
}

static uint16_t kind_of(struct archive_entry *ae)
{
	switch (archive_entry_filetype(ae)) {
	case AE_IFREG: return PFS_KIND_FILE;
	case AE_IFDIR: return PFS_KIND_DIR;
	case AE_IFLNK: return PFS_KIND_LNK;
	case AE_IFCHR: return PFS_KIND_CHR;
	case AE_IFBLK: return PFS_KIND_BLK;
	case AE_IFIFO: return PFS_KIND_FIFO;
	default: return PFS_KIND_UNKNOWN;
	}
}

struct keyed {
	struct pfs_mxattr x;
	uint32_t order;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;
	int c = pfs_name_cmp(x->x.key, x->x.key_len, y->x.key, y->x.key_len);

	return c ? c : x->order < y->order ? -1 : x->order > y->order;
}

static void free_xattrs(struct pfs_minode *m)
{
	uint32_t i;

	for (i = 0; i < m->nxattrs; i++) {
		free(m->xattrs[i].key);
		free(m->xattrs[i].val);
	}
	free(m->xattrs);
	m->xattrs = NULL;
	m->nxattrs = 0;
}

/* The entry's xattrs (pax SCHILY.xattr.*, LIBARCHIVE.xattr.*), sorted by
 * name; a name given twice takes its last value, as a pax reader does. */
static int read_xattrs(struct pfs_itree *t, struct archive_entry *ae,
		       struct pfs_minode *m)
{
	int n = archive_entry_xattr_reset(ae);
	struct keyed *v;
	uint32_t i = 0, k, out = 0;
	const char *key;
	const void *val;
	size_t len;
	int e = 0;

	free_xattrs(m);
	if (n <= 0)
		return 0;
	if (n > PFS_XATTR_MAX)
		return entry_err(t, E2BIG, "%d xattrs (at most %u)", n,
				 PFS_XATTR_MAX);
	v = calloc((size_t)n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	while (!e && i < (uint32_t)n &&
	       archive_entry_xattr_next(ae, &key, &val, &len) == ARCHIVE_OK) {
		size_t kl = strlen(key);

		if (!kl || kl > NAME_MAX_BYTES || len > XATTR_VALUE_MAX) {
			e = entry_err(t, EINVAL,
				      "xattr '%.64s': a name of %zu bytes or a value of %zu (at most 255 and 65536)",
				      key, kl, len);
			break;
		}
		v[i].x.key = malloc(kl);
		v[i].x.val = malloc(len ? len : 1);
		v[i].order = i;
		v[i].x.key_len = (uint32_t)kl;
		v[i].x.val_len = (uint32_t)len;
		i++;
		if (!v[i - 1].x.key || !v[i - 1].x.val) {
			e = -ENOMEM;
			break;
		}
		memcpy(v[i - 1].x.key, key, kl);
		if (len)
			memcpy(v[i - 1].x.val, val, len);
	}
	if (!e)
		m->xattrs = calloc(i ? i : 1, sizeof(*m->xattrs));
	if (!e && !m->xattrs)
		e = -ENOMEM;
	if (e) {
		for (k = 0; k < i; k++) {
			free(v[k].x.key);
			free(v[k].x.val);
		}
		free(v);
		return e;
	}
	qsort(v, i, sizeof(*v), keyed_cmp);
	for (k = 0; k < i; k++) {
		if (k + 1 < i && !pfs_name_cmp(v[k].x.key, v[k].x.key_len,
					       v[k + 1].x.key,
					       v[k + 1].x.key_len)) {
			free(v[k].x.key);
			free(v[k].x.val);
			continue;
		}
		m->xattrs[out++] = v[k].x;
	}
	m->nxattrs = out;
	free(v);
	return 0;
}

/* Metadata from the header: type, permissions (setuid/setgid/sticky
 * too), numeric owner, device numbers, symlink target, xattrs, mtime. */
static int set_meta(struct pfs_itree *t, struct pfs_tnode *n,
		    struct archive_entry *ae, uint32_t layer)
{
	struct pfs_minode *m = &n->bn.m;
	la_int64_t uid = archive_entry_uid(ae), gid = archive_entry_gid(ae);
	const char *target;
	int e;

	if (uid < 0 || uid > UINT32_MAX || gid < 0 || gid > UINT32_MAX)
		return entry_err(t, ERANGE, "owner %lld:%lld out of range",
				 (long long)uid, (long long)gid);
	m->perm = archive_entry_perm(ae) & 07777;
	m->uid = (uint32_t)uid;
	m->gid = (uint32_t)gid;
	m->major = m->minor = 0;
	if (m->kind == PFS_KIND_CHR || m->kind == PFS_KIND_BLK) {
		uint64_t ma = archive_entry_rdevmajor(ae);
		uint64_t mi = archive_entry_rdevminor(ae);

		if (ma > UINT32_MAX || mi > UINT32_MAX)
			return entry_err(t, ERANGE, "device %llu:%llu out of range",
					 (unsigned long long)ma,
					 (unsigned long long)mi);
		m->major = ma;
		m->minor = mi;
	}
	if (archive_entry_mtime_is_set(ae))
		pfs_mtime_apply(&t->mtime, m, (int64_t)archive_entry_mtime(ae),
				(uint32_t)archive_entry_mtime_nsec(ae) %
				1000000000u);
	else
		no_mtime(t, m);
	free(m->target);
	m->target = NULL;
	m->target_len = 0;
	m->has_target = false;
	if (m->kind == PFS_KIND_LNK) {
		size_t len;

		target = archive_entry_symlink(ae);
		len = target ? strlen(target) : 0;
		if (!len || len > TARGET_MAX)
			return entry_err(t, EINVAL,
					 "symlink target of %zu bytes (1 to %u)",
					 len, TARGET_MAX);
		m->target = malloc(len);
		if (!m->target)
			return -ENOMEM;
		memcpy(m->target, target, len);
		m->target_len = (uint32_t)len;
		m->has_target = true;
	}
	e = read_xattrs(t, ae, m);
	if (e)
		return e;
	m->has_additional = m->has_target || m->nxattrs;
	n->stamp = layer;
	n->dirty = true;
	return 0;
}

/*
 * The directory the first @upto names of @c lead to.  @make: create what
 * is missing (as umoci's MkdirAll) and mark the way as this layer's
 * (@layer).  1 found, 0 absent (only without @make), <0 error: a name on
 * the way that is a symlink or not a directory.
 */
static int walk(struct pfs_itree *t, const struct comps *c, size_t upto,
		bool make, uint32_t layer, const char *what,
		struct pfs_tnode **out)
{
	struct pfs_tnode *d = t->root;
	char p[300];
	size_t i;
	int e;

	for (i = 0; i < upto; i++) {
		struct pfs_tname *n = lookup(t, d, c->name[i], c->len[i]);

		if (!n && !make)
			return 0;
		if (!n) {
			struct pfs_tnode *nd = implicit_dir(t, layer);

			if (!nd || (e = add_name(t, d, c->name[i], c->len[i], nd,
						 &n)))
				return -ENOMEM;
		}
		if (n->node->bn.m.kind == PFS_KIND_LNK) {
			prefix(c, i + 1, p, sizeof(p));
			return entry_err(t, ELOOP,
					 "%s goes through '%s', a symlink (of this or a lower layer)",
					 what, p);
		}
		if (n->node->bn.m.kind != PFS_KIND_DIR) {
			if (!make)
				return 0;
			prefix(c, i + 1, p, sizeof(p));
			return entry_err(t, ENOTDIR,
					 "'%s' is not a directory (it would be made the parent of the entry)",
					 p);
		}
		if (make)
			n->upper = layer;
		d = n->node;
	}
	*out = d;
	return 1;
}

static int whiteout(struct pfs_itree *t, const struct comps *c,
		    uint32_t layer)
{
	const char *base = c->name[c->n - 1];
	uint32_t blen = c->len[c->n - 1];
	struct pfs_tnode *dir;
	struct pfs_tname *n;
	uint32_t i;
	int e;

	if (blen == strlen(WH_OPAQUE) && !memcmp(base, WH_OPAQUE, blen)) {
		e = walk(t, c, c->n - 1, false, layer, "the opaque directory",
			 &dir);
		if (e <= 0)
			return e;
		for (i = dir->nkids; i-- > 0;)
			if (i < dir->nkids)
				wipe(t, dir->kids[i], layer);
		return 0;
	}
	/* AUFS's own metadata (.wh..wh.plnk, .wh..wh.aufs): not part of the
	 * image, as docker and containerd treat it. */
	if (blen >= strlen(WH_META) && !memcmp(base, WH_META, strlen(WH_META)))
		return 0;
	base += strlen(WH);
	blen -= (uint32_t)strlen(WH);
	if (!blen || (blen == 1 && base[0] == '.') ||
	    (blen == 2 && base[0] == '.' && base[1] == '.'))
		return entry_err(t, EINVAL, "a whiteout of no name");
	e = walk(t, c, c->n - 1, false, layer, "the whiteout", &dir);
	if (e <= 0)
		return e;
	n = lookup(t, dir, base, blen);
	if (n)
		wipe(t, n, layer);
	return 0;
}

static int hard_link(struct pfs_itree *t, struct pfs_tnode *dir,
		     const struct comps *c, const char *link, uint32_t layer)
{
	struct pfs_tname *target, *n;
	struct pfs_tnode *tdir;
	struct comps tc;
	char shown[300];
	int e;

	e = clean(t, link, "the hard link's target", &tc);
	if (!e && !tc.n)
		e = entry_err(t, EPERM, "a hard link to the root directory");
	if (!e)
		e = walk(t, &tc, tc.n - 1, false, layer, "the hard link's target",
			 &tdir);
	target = NULL;
	if (e == 1)
		target = lookup(t, tdir, tc.name[tc.n - 1], tc.len[tc.n - 1]);
	if (e > 0)
		e = 0;
	if (!e && !target) {
		show(link, shown, sizeof(shown));
		e = entry_err(t, ENOENT, "a hard link to '%s', which does not exist",
			      shown);
	}
	if (!e && target->node->bn.m.kind == PFS_KIND_DIR) {
		show(link, shown, sizeof(shown));
		e = entry_err(t, EPERM, "a hard link to '%s', a directory", shown);
	}
	if (!e)
		e = add_name(t, dir, c->name[c->n - 1], c->len[c->n - 1],
			     target->node, &n);
	if (!e)
		n->upper = layer;
	comps_free(&tc);
	return e;
}

int pfs_itree_apply(struct pfs_itree *t, uint32_t layer_index,
		    const char *what, struct archive_entry *ae,
		    struct pfs_tnode **file)
{
	uint32_t layer = layer_index + 1;
	const char *raw = archive_entry_pathname(ae), *link;
	uint16_t kind = kind_of(ae);
	struct pfs_tnode *dir, *node, *replaced;
	struct pfs_tname *n;
	struct comps c;
	int e;

	*file = NULL;
	t->what = what;
	t->path = raw;
	if (++t->entries > t->max_entries)
		return entry_err(t, EFBIG, "more than %llu entries in the image",
				 (unsigned long long)t->max_entries);
	if (!raw)
		return entry_err(t, EINVAL, "an entry without a name");
	link = archive_entry_hardlink(ae);
	if (!link && kind == PFS_KIND_UNKNOWN)
		return entry_err(t, EINVAL, "unsupported entry type 0%o",
				 (unsigned)archive_entry_filetype(ae));
	e = clean(t, raw, "the path", &c);
	if (e)
		goto out;
	/* The root itself: its metadata, and it stays a directory. */
	if (!c.n) {
		if (link || kind != PFS_KIND_DIR)
			e = entry_err(t, EPERM, "the root directory cannot become %s",
				      link ? "a hard link" : "anything but a directory");
		else
			e = set_meta(t, t->root, ae, layer);
		goto out;
	}
	if (c.len[c.n - 1] >= strlen(WH) &&
	    !memcmp(c.name[c.n - 1], WH, strlen(WH))) {
		e = whiteout(t, &c, layer);
		goto out;
	}
	e = walk(t, &c, c.n - 1, true, layer, "the path", &dir);
	if (e < 0)
		goto out;
	e = 0;
	n = lookup(t, dir, c.name[c.n - 1], c.len[c.n - 1]);
	if (n && !link && kind == PFS_KIND_DIR &&
	    n->node->bn.m.kind == PFS_KIND_DIR) {
		/* A directory over a directory: new metadata, same children. */
		n->upper = layer;
		e = set_meta(t, n->node, ae, layer);
		goto out;
	}
	/* Anything else replaces what was there, as umoci's RemoveAll (a
	 * hard link to what it replaces then has nothing to name). */
	replaced = n && n->node->bn.m.kind == PFS_KIND_FILE ? n->node : NULL;
	if (n)
		remove_name(t, n);
	if (link) {
		e = hard_link(t, dir, &c, link, layer);
		goto out;
	}
	node = new_node(t, kind);
	if (!node) {
		e = -ENOMEM;
		goto out;
	}
	node->src_layer = layer_index;
	node->src_entry = t->entries;
	node->replaced = replaced;
	e = set_meta(t, node, ae, layer);
	if (!e)
		e = add_name(t, dir, c.name[c.n - 1], c.len[c.n - 1], node, &n);
	if (e)
		goto out;
	n->upper = layer;
	if (kind == PFS_KIND_FILE) {
		la_int64_t size = archive_entry_size_is_set(ae) ?
				  archive_entry_size(ae) : 0;

		if (size < 0) {
			e = entry_err(t, EINVAL, "negative size");
			goto out;
		}
		node->size = (uint64_t)size;
		*file = node;
	}
out:
	comps_free(&c);
	t->path = NULL;
	return e;
}

/* ---- the tree's life --------------------------------------------------------------- */

int pfs_itree_new(const struct pfs_itree_opts *o, struct pfs_itree **out)
{
	struct pfs_itree *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->log = o->log;
	t->max_entries = o->max_entries ? o->max_entries : PFS_IMPORT_MAX_ENTRIES;
	if (o->mtime)
		t->mtime = *o->mtime;
	else
		t->mtime.mode = PFS_MTIME_SOURCE;
	t->seed = pfs_random_seed();
	t->root = new_node(t, PFS_KIND_DIR);
	if (!t->root || grow_buckets(t)) {
		pfs_itree_free(t);
		return -ENOMEM;
	}
	/* umoci's rootfs directory, until a layer says otherwise. */
	t->root->bn.m.perm = 0755;
	no_mtime(t, &t->root->bn.m);
	t->root->nnames = 1;
	*out = t;
	return 0;
}

void pfs_itree_free(struct pfs_itree *t)
{
	struct pfs_tname *n, *next;
	size_t i;

	if (!t)
		return;
	for (i = 0; i < t->nbuckets; i++)
		for (n = t->buckets[i]; n; n = next) {
			next = n->hnext;
			free(n);
		}
	free(t->buckets);
	for (i = 0; i < t->nnodes; i++)
		node_free(t->nodes[i]);
	free(t->nodes);
	free(t->removed);
	free(t->order);
	pfs_u64map_free(&t->claimed);
	pfs_u64map_free(&t->named);
	free(t);
}

int pfs_itree_files(struct pfs_itree *t, struct pfs_tnode ***files,
		    size_t *count)
{
	size_t i, n = 0;

	*files = malloc((t->nnodes + 1) * sizeof(**files));
	if (!*files)
		return -ENOMEM;
	for (i = 0; i < t->nnodes; i++)
		if (t->nodes[i]->nnames && t->nodes[i]->bn.m.kind == PFS_KIND_FILE)
			(*files)[n++] = t->nodes[i];
	*count = n;
	return 0;
}

struct pfs_tnode **pfs_itree_fresh(struct pfs_itree *t, size_t *count)
{
	struct pfs_tnode **v = t->nodes + t->fresh;

	*count = t->nnodes - t->fresh;
	t->fresh = t->nnodes;
	return v;
}
