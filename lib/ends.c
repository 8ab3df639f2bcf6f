// SPDX-License-Identifier: MIT
/*
 * The chunk-ends cache (see ends.h): direct mapped by inode number, one
 * lock, arrays shared by reference count so that a reader keeps its array
 * while another replaces it in the cache.
 */
#include <stdlib.h>

#include "ends.h"

void pfs_ends_cache_init(struct pfs_ends_cache *ec)
{
	memset(ec, 0, sizeof(*ec));
	pthread_mutex_init(&ec->lock, NULL);
}

void pfs_ends_cache_destroy(struct pfs_ends_cache *ec)
{
	unsigned i;

	for (i = 0; i < PFS_ENDS_SLOTS; i++)
		pfs_ends_put(ec->slot[i]);
	pthread_mutex_destroy(&ec->lock);
}

void pfs_ends_put(struct pfs_ends *e)
{
	if (e && atomic_fetch_sub(&e->refs, 1) == 1)
		free(e);
}

static unsigned slot_of(uint64_t ino)
{
	return (unsigned)((ino * 0x9e3779b97f4a7c15ull) >> 58) % PFS_ENDS_SLOTS;
}

static struct pfs_ends *lookup(struct pfs_ends_cache *ec, uint64_t ino)
{
	struct pfs_ends *e = ec->slot[slot_of(ino)];

	if (e && e->ino == ino) {
		atomic_fetch_add(&e->refs, 1);
		return e;
	}
	return NULL;
}

static struct pfs_ends *compute(const struct pfs_rootfs *r,
				const struct pfs_inode *in)
{
	size_t bytes = sizeof(struct pfs_ends) + (size_t)in->list.count * 8;
	struct pfs_ends *e = malloc(bytes);
	struct pfs_cur c;

	if (!e)
		return NULL;
	pfs_cur_init(&c, &r->msg);
	if (pfs_file_ends(&c, r, in, e->end)) {
		free(e);
		return NULL;
	}
	atomic_init(&e->refs, 1);
	e->ino = in->ino;
	e->bytes = bytes;
	return e;
}

/* Put @e (one reference, the caller's) in its slot if the budget allows;
 * another thread may have put the same file there meanwhile. */
static struct pfs_ends *insert(struct pfs_ends_cache *ec, struct pfs_ends *e)
{
	unsigned s = slot_of(e->ino);
	struct pfs_ends *old = ec->slot[s], *had = lookup(ec, e->ino);
	size_t freed = old ? old->bytes : 0;

	if (had) {
		pfs_ends_put(e);
		return had;
	}
	if (ec->bytes - freed + e->bytes > PFS_ENDS_BUDGET)
		return e;
	ec->bytes = ec->bytes - freed + e->bytes;
	atomic_fetch_add(&e->refs, 1);
	ec->slot[s] = e;
	pfs_ends_put(old);
	return e;
}

struct pfs_ends *pfs_ends_get(struct pfs_ends_cache *ec,
			      const struct pfs_rootfs *r,
			      const struct pfs_inode *in)
{
	struct pfs_ends *e;

	if (in->kind != PFS_KIND_FILE || in->list.count < PFS_SEEK_ENDS_MIN)
		return NULL;
	pthread_mutex_lock(&ec->lock);
	e = lookup(ec, in->ino);
	pthread_mutex_unlock(&ec->lock);
	if (e)
		return e;
	/* Outside the lock: a long list takes a while to sum. */
	e = compute(r, in);
	if (!e)
		return NULL;
	pthread_mutex_lock(&ec->lock);
	e = insert(ec, e);
	pthread_mutex_unlock(&ec->lock);
	return e;
}
