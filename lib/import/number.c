// SPDX-License-Identifier: MIT
/*
 * The puzzlefs layer of an import tree.  Numbering is walk.c's: the root
 * is 1; directories are visited depth first in name order, and a visited
 * directory's names, sorted by their bytes, take the next numbers (a hard
 * link's second name takes one too, as in the reference, and points at
 * the first).  On top of lower layers it is build -b's: a name that the
 * same path has below keeps that inode number (unless a hard link of the
 * layers below has given it to another path already), and the layer holds
 * only the inodes that differ from their version below, every directory
 * whose list changed (the complete list), and a whiteout for each inode
 * that a directory below named and nothing names now.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/puzzlefs_fs.h"
#include "import/tree_priv.h"

#define MAX_DEPTH 4096

static int ino_cmp(const void *key, const void *elem)
{
	uint64_t a = *(const uint64_t *)key;
	uint64_t b = ((const struct pfs_minode *)elem)->ino;

	return a < b ? -1 : a > b;
}

/* Inode @ino as the layers below show it (the topmost version), or NULL if
 * it is absent or whited out. */
static const struct pfs_minode *below_find(const struct pfs_itree *t,
					   uint64_t ino)
{
	size_t l;

	for (l = t->nbelow; l-- > 0;) {
		const struct pfs_minode *m = bsearch(&ino, t->below[l].inodes,
						     t->below[l].count,
						     sizeof(*m), ino_cmp);

		if (m)
			return m->kind == PFS_KIND_WHT ? NULL : m;
	}
	return NULL;
}

static const struct pfs_mdirent *find_ent(const struct pfs_minode *d,
					  const uint8_t *name, uint32_t len)
{
	uint32_t lo = 0, hi = d->nents;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = pfs_name_cmp(d->ents[mid].name, d->ents[mid].name_len,
				     name, len);

		if (!c)
			return &d->ents[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The inode name @name of directory @dir has below (0: none), as
 * pfs_lookup finds it in build -b's base. */
static uint64_t below_lookup(const struct pfs_itree *t, uint64_t dir,
			     const uint8_t *name, uint32_t len)
{
	const struct pfs_minode *d = below_find(t, dir);
	const struct pfs_mdirent *ent;

	if (!d || d->kind != PFS_KIND_DIR)
		return 0;
	ent = find_ent(d, name, len);
	return ent && below_find(t, ent->ino) ? ent->ino : 0;
}

static int kid_cmp(const void *a, const void *b)
{
	const struct pfs_tname *x = *(struct pfs_tname *const *)a;
	const struct pfs_tname *y = *(struct pfs_tname *const *)b;

	return pfs_name_cmp(x->name, x->len, y->name, y->len);
}

static int push(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		uint64_t *p = realloc(*v, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		*v = p;
		*cap = c;
	}
	(*v)[(*n)++] = x;
	return 0;
}

static int push_order(struct pfs_itree *t, struct pfs_tnode *n)
{
	if (t->norder == t->order_cap) {
		size_t c = t->order_cap ? t->order_cap * 2 : 1024;
		struct pfs_tnode **p = realloc(t->order, c * sizeof(*p));

		if (!p)
			return -ENOMEM;
		t->order = p;
		t->order_cap = c;
	}
	t->order[t->norder++] = n;
	return 0;
}

static void drop_ents(struct pfs_minode *m)
{
	uint32_t i;

	for (i = 0; i < m->nents; i++)
		free(m->ents[i].name);
	free(m->ents);
	m->ents = NULL;
	m->nents = m->ents_cap = 0;
}

/* Names below @bdir that @d's new list does not have: candidates for a
 * whiteout (build -b's diff_dir). */
static int gone_names(struct pfs_itree *t, struct pfs_tnode *d, uint64_t bdir)
{
	const struct pfs_minode *b = below_find(t, bdir);
	uint32_t i;
	int e;

	for (i = 0; b && b->kind == PFS_KIND_DIR && i < b->nents; i++)
		if (!find_ent(&d->bn.m, b->ents[i].name, b->ents[i].name_len) &&
		    (e = push(&t->removed, &t->nremoved, &t->removed_cap,
			      b->ents[i].ino)))
			return e;
	return 0;
}

static int number_dir(struct pfs_itree *t, struct pfs_tnode *d, uint64_t bdir,
		      unsigned depth)
{
	uint32_t i;
	int e;

	if (depth > MAX_DEPTH)
		return pfs_errf(t->log, ELOOP, "directory tree too deep");
	if (d->nkids)
		qsort(d->kids, d->nkids, sizeof(*d->kids), kid_cmp);
	drop_ents(&d->bn.m);
	for (i = 0; i < d->nkids; i++) {
		struct pfs_tname *k = d->kids[i];
		struct pfs_tnode *n = k->node;
		uint64_t base = 0, ino;
		bool linked;

		k->idx = i;
		if (bdir) {
			base = below_lookup(t, bdir, k->name, k->len);
			if (base && pfs_u64map_get(&t->claimed, base))
				base = 0;
		}
		linked = n->bn.m.kind != PFS_KIND_DIR && n->pass == t->pass;
		ino = base ? base : t->next_ino++;
		if (linked)
			ino = n->ino;
		e = pfs_minode_add_dirent(&d->bn.m, ino, k->name, k->len);
		if (!e)
			e = pfs_u64map_put(&t->named, ino, 1);
		if (e)
			return e;
		if (linked)
			continue;
		if (base && (e = pfs_u64map_put(&t->claimed, base, 1)))
			return e;
		n->ino = ino;
		n->pass = t->pass;
		n->base_ino = base;
		if ((e = push_order(t, n)))
			return e;
	}
	if (bdir && (e = gone_names(t, d, bdir)))
		return e;
	/* Then descend, depth first, in name order. */
	for (i = 0; i < d->nkids; i++) {
		struct pfs_tnode *n = d->kids[i]->node;
		const struct pfs_minode *b;
		uint64_t sub = 0;

		if (n->bn.m.kind != PFS_KIND_DIR)
			continue;
		if (n->base_ino && (b = below_find(t, n->base_ino)) &&
		    b->kind == PFS_KIND_DIR)
			sub = n->base_ino;
		if ((e = number_dir(t, n, sub, depth + 1)))
			return e;
	}
	return 0;
}

static bool same_bytes(const uint8_t *a, uint32_t al, const uint8_t *b,
		       uint32_t bl)
{
	return al == bl && (!al || !memcmp(a, b, al));
}

static bool same_meta(const struct pfs_minode *a, const struct pfs_minode *b)
{
	uint32_t i;

	if (a->kind != b->kind || a->perm != b->perm || a->uid != b->uid ||
	    a->gid != b->gid || a->major != b->major || a->minor != b->minor ||
	    a->has_mtime != b->has_mtime || a->mtime_sec != b->mtime_sec ||
	    a->mtime_nsec != b->mtime_nsec || a->nxattrs != b->nxattrs ||
	    a->has_target != b->has_target ||
	    !same_bytes(a->target, a->target_len, b->target, b->target_len))
		return false;
	for (i = 0; i < a->nxattrs; i++)
		if (!same_bytes(a->xattrs[i].key, a->xattrs[i].key_len,
				b->xattrs[i].key, b->xattrs[i].key_len) ||
		    !same_bytes(a->xattrs[i].val, a->xattrs[i].val_len,
				b->xattrs[i].val, b->xattrs[i].val_len))
			return false;
	return true;
}

static bool same_chunks(const struct pfs_minode *a, const struct pfs_minode *b)
{
	uint32_t i;

	if (a->nchunks != b->nchunks)
		return false;
	for (i = 0; i < a->nchunks; i++)
		if (memcmp(a->chunks[i].digest, b->chunks[i].digest,
			   PFS_DIGEST_SIZE) ||
		    a->chunks[i].offset != b->chunks[i].offset ||
		    a->chunks[i].len != b->chunks[i].len ||
		    a->chunks[i].compressed != b->chunks[i].compressed)
			return false;
	return true;
}

static bool same_ents(const struct pfs_minode *a, const struct pfs_minode *b)
{
	uint32_t i;

	if (a->nents != b->nents)
		return false;
	for (i = 0; i < a->nents; i++)
		if (a->ents[i].ino != b->ents[i].ino ||
		    !same_bytes(a->ents[i].name, a->ents[i].name_len,
				b->ents[i].name, b->ents[i].name_len))
			return false;
	return true;
}

/* Does node @n need an inode in the new layer? */
static bool changed(const struct pfs_itree *t, const struct pfs_tnode *n)
{
	const struct pfs_minode *b;

	if (!t->nbelow || !n->base_ino)
		return true;
	b = below_find(t, n->base_ino);
	if (!b)
		return true;
	/* Not written since, and the same inode then: same metadata and
	 * contents. */
	if (n->dirty || n->prev_ino != n->base_ino) {
		if (!same_meta(&n->bn.m, b) ||
		    (n->bn.m.kind == PFS_KIND_FILE && !same_chunks(&n->bn.m, b)))
			return true;
	}
	return n->bn.m.kind == PFS_KIND_DIR && !same_ents(&n->bn.m, b);
}

static void *dup_bytes(const void *p, size_t len)
{
	void *q = malloc(len ? len : 1);

	if (q && len)
		memcpy(q, p, len);
	return q;
}

/* The layer's copy of a node: metadata, contents and (moved) entries. */
static int copy_node(struct pfs_minode *dst, struct pfs_tnode *n)
{
	struct pfs_minode *m = &n->bn.m;
	uint32_t i;

	*dst = *m;
	dst->ino = n->ino;
	dst->ents_cap = m->nents;
	m->ents = NULL;
	m->nents = m->ents_cap = 0;
	dst->xattrs = NULL;
	dst->nxattrs = 0;
	dst->target = NULL;
	dst->chunks = NULL;
	dst->chunks_cap = dst->nchunks = 0;
	if (m->nchunks) {
		dst->chunks = dup_bytes(m->chunks, m->nchunks * sizeof(*m->chunks));
		if (!dst->chunks)
			return -ENOMEM;
		dst->nchunks = dst->chunks_cap = m->nchunks;
	}
	if (m->has_target && !(dst->target = dup_bytes(m->target, m->target_len)))
		return -ENOMEM;
	if (m->nxattrs) {
		dst->xattrs = calloc(m->nxattrs, sizeof(*dst->xattrs));
		if (!dst->xattrs)
			return -ENOMEM;
		for (i = 0; i < m->nxattrs; i++) {
			struct pfs_mxattr *x = &dst->xattrs[i];

			x->key = dup_bytes(m->xattrs[i].key, m->xattrs[i].key_len);
			x->val = dup_bytes(m->xattrs[i].val, m->xattrs[i].val_len);
			x->key_len = m->xattrs[i].key_len;
			x->val_len = m->xattrs[i].val_len;
			dst->nxattrs++;
			if (!x->key || !x->val)
				return -ENOMEM;
		}
	}
	return 0;
}

static int u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

static int node_cmp(const void *x, const void *y)
{
	const struct pfs_minode *a = x, *b = y;

	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

static uint64_t below_max(const struct pfs_itree *t)
{
	uint64_t max = PFS_ROOT_INO;
	size_t l;

	for (l = 0; l < t->nbelow; l++)
		if (t->below[l].count &&
		    t->below[l].inodes[t->below[l].count - 1].ino > max)
			max = t->below[l].inodes[t->below[l].count - 1].ino;
	return max;
}

static int emit(struct pfs_itree *t, struct pfs_mlayer *out)
{
	size_t i, n = 0;
	uint64_t prev = 0;
	int e = 0;

	out->inodes = calloc(t->norder + t->nremoved + 1, sizeof(*out->inodes));
	if (!out->inodes)
		return -ENOMEM;
	if (t->nremoved)
		qsort(t->removed, t->nremoved, sizeof(*t->removed), u64_cmp);
	for (i = 0; i < t->nremoved; i++) {
		uint64_t ino = t->removed[i];

		if (ino == prev || pfs_u64map_get(&t->named, ino))
			continue;
		prev = ino;
		out->inodes[n].ino = ino;
		out->inodes[n].kind = PFS_KIND_WHT;
		out->inodes[n++].perm = PFS_WHT_PERMISSIONS;
	}
	for (i = 0; i < t->norder && !e; i++) {
		struct pfs_tnode *nd = t->order[i];

		if (changed(t, nd))
			e = copy_node(&out->inodes[n++], nd);
		else
			drop_ents(&nd->bn.m);
		nd->prev_ino = nd->ino;
		nd->dirty = false;
	}
	out->count = n;
	if (e)
		return e;
	qsort(out->inodes, n, sizeof(*out->inodes), node_cmp);
	for (i = 1; i < n; i++)
		if (out->inodes[i].ino == out->inodes[i - 1].ino)
			return -EINVAL;
	return 0;
}

int pfs_itree_layer(struct pfs_itree *t, const struct pfs_mlayer *below,
		    size_t nbelow, struct pfs_mlayer *out)
{
	struct pfs_tnode *root = t->root;
	int e;

	memset(out, 0, sizeof(*out));
	t->below = below;
	t->nbelow = nbelow;
	t->pass++;
	t->norder = t->nremoved = 0;
	pfs_u64map_free(&t->claimed);
	pfs_u64map_free(&t->named);
	memset(&t->claimed, 0, sizeof(t->claimed));
	memset(&t->named, 0, sizeof(t->named));
	t->next_ino = nbelow ? below_max(t) + 1 : PFS_ROOT_INO + 1;
	root->ino = PFS_ROOT_INO;
	root->base_ino = nbelow ? PFS_ROOT_INO : 0;
	root->pass = t->pass;
	e = push_order(t, root);
	if (!e)
		e = pfs_u64map_put(&t->named, PFS_ROOT_INO, 1);
	if (!e)
		e = number_dir(t, root, root->base_ino, 0);
	if (!e)
		e = emit(t, out);
	if (e) {
		pfs_mlayer_free(out);
		if (e == -ENOMEM)
			pfs_errf(t->log, ENOMEM, "out of memory");
	}
	return e;
}
