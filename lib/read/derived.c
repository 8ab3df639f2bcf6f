// SPDX-License-Identifier: MIT
/*
 * The derived-array caches (see derived.h): direct mapped by inode number,
 * one lock, arrays shared by reference count so that a reader keeps its
 * array while another replaces it in the cache.
 */
#include <stdlib.h>

#include "read/derived.h"

void pfs_dcache_init(struct pfs_dcache *dc)
{
	memset(dc, 0, sizeof(*dc));
	pthread_mutex_init(&dc->lock, NULL);
}

void pfs_dcache_destroy(struct pfs_dcache *dc)
{
	unsigned i;

	for (i = 0; i < PFS_DERIVED_SLOTS; i++)
		pfs_derived_put(dc->slot[i]);
	pthread_mutex_destroy(&dc->lock);
}

void pfs_derived_put(struct pfs_derived *d)
{
	if (d && atomic_fetch_sub(&d->refs, 1) == 1)
		free(d);
}

static unsigned slot_of(uint64_t ino)
{
	return (unsigned)((ino * 0x9e3779b97f4a7c15ull) >> 58) %
	       PFS_DERIVED_SLOTS;
}

static struct pfs_derived *lookup(struct pfs_dcache *dc, uint64_t ino)
{
	struct pfs_derived *d = dc->slot[slot_of(ino)];

	if (d && d->ino == ino) {
		atomic_fetch_add(&d->refs, 1);
		return d;
	}
	return NULL;
}

static void drop(struct pfs_dcache *dc, unsigned s)
{
	if (dc->slot[s]) {
		dc->bytes -= dc->slot[s]->bytes;
		pfs_derived_put(dc->slot[s]);
		dc->slot[s] = NULL;
	}
}

/* Put @d (one reference, the caller's) in its slot, in place of what was
 * there; beyond the budget, in place of everything (an array too big to
 * keep would be made again at every call: a listing, one call an entry,
 * would redo a merge per entry).  Another thread may have put the same
 * inode's there meanwhile. */
static struct pfs_derived *insert(struct pfs_dcache *dc, struct pfs_derived *d)
{
	struct pfs_derived *had = lookup(dc, d->ino);
	unsigned s;

	if (had) {
		pfs_derived_put(d);
		return had;
	}
	drop(dc, slot_of(d->ino));
	for (s = 0; s < PFS_DERIVED_SLOTS &&
		    dc->bytes + d->bytes > PFS_DERIVED_BUDGET; s++)
		drop(dc, s);
	dc->bytes += d->bytes;
	atomic_fetch_add(&d->refs, 1);
	dc->slot[slot_of(d->ino)] = d;
	return d;
}

static struct pfs_derived *cached(struct pfs_dcache *dc, uint64_t ino)
{
	struct pfs_derived *d;

	pthread_mutex_lock(&dc->lock);
	d = lookup(dc, ino);
	pthread_mutex_unlock(&dc->lock);
	return d;
}

static struct pfs_derived *keep(struct pfs_dcache *dc, struct pfs_derived *d)
{
	pthread_mutex_lock(&dc->lock);
	d = insert(dc, d);
	pthread_mutex_unlock(&dc->lock);
	return d;
}

static struct pfs_derived *alloc_derived(uint64_t ino, u64 n, size_t elem)
{
	size_t bytes = sizeof(struct pfs_derived) + (size_t)n * elem;
	struct pfs_derived *d;

	if (n > (SIZE_MAX - sizeof(*d)) / elem)
		return NULL;
	d = malloc(bytes);
	if (!d)
		return NULL;
	atomic_init(&d->refs, 1);
	d->ino = ino;
	d->bytes = bytes;
	d->n = n;
	return d;
}

struct pfs_derived *pfs_ends_get(struct pfs_dcache *dc,
				 const struct pfs_rootfs *r,
				 const struct pfs_inode *in)
{
	struct pfs_derived *d;
	struct pfs_cur c;

	if (in->kind != PFS_KIND_FILE || in->list.count < PFS_SEEK_ENDS_MIN)
		return NULL;
	d = cached(dc, in->ino);
	if (d)
		return d;
	/* Outside the lock: a long list takes a while to sum. */
	d = alloc_derived(in->ino, in->list.count, sizeof(u64));
	if (!d)
		return NULL;
	pfs_cur_init(&c, &r->msg);
	if (pfs_file_ends(&c, r, in, pfs_derived_ends(d))) {
		pfs_derived_put(d);
		return NULL;
	}
	return keep(dc, d);
}

int pfs_merged_get(struct pfs_dcache *dc, const struct pfs_rootfs *r,
		   const struct pfs_inode *dir, struct pfs_derived **out)
{
	struct pfs_derived *d;
	struct pfs_cur c;
	u64 n;
	int e;

	*out = cached(dc, dir->ino);
	if (*out)
		return 0;
	pfs_cur_init(&c, &r->msg);
	e = pfs_dir_merge_len(&c, r, dir, &n);
	if (e)
		return e;
	d = alloc_derived(dir->ino, n, sizeof(struct pfs_merged_ent));
	if (!d)
		return -ENOMEM;
	pfs_cur_init(&c, &r->msg);
	e = pfs_dir_merge(&c, r, dir, pfs_derived_dir(d), n, &d->n);
	if (e) {
		pfs_derived_put(d);
		return e;
	}
	*out = keep(dc, d);
	return 0;
}
