// SPDX-License-Identifier: MIT
/*
 * The image stores no parent pointers, but a directory has exactly one
 * parent and the kernel only learns a directory's node id by looking it up
 * in that parent; remembering the pair then is enough to answer "..".
 */
#include <string.h>

#include "fs.h"

static unsigned shard(uint64_t dir)
{
	return (unsigned)((dir * 0x9e3779b97f4a7c15ull) >> 60) %
	       PFS_PARENT_SHARDS;
}

void pfs_parents_init(struct pfs_parents *p)
{
	unsigned i;

	for (i = 0; i < PFS_PARENT_SHARDS; i++) {
		pthread_mutex_init(&p->lock[i], NULL);
		memset(&p->map[i], 0, sizeof(p->map[i]));
	}
}

void pfs_parents_free(struct pfs_parents *p)
{
	unsigned i;

	for (i = 0; i < PFS_PARENT_SHARDS; i++) {
		pfs_u64map_free(&p->map[i]);
		pthread_mutex_destroy(&p->lock[i]);
	}
}

void pfs_parents_set(struct pfs_parents *p, uint64_t dir, uint64_t parent)
{
	unsigned s = shard(dir);

	if (dir == PFS_ROOT_INODE)
		return;
	pthread_mutex_lock(&p->lock[s]);
	/* Out of memory only costs ".." its inode number. */
	(void)pfs_u64map_put(&p->map[s], dir, parent);
	pthread_mutex_unlock(&p->lock[s]);
}

uint64_t pfs_parents_get(struct pfs_parents *p, uint64_t dir)
{
	unsigned s = shard(dir);
	uint64_t *v, parent = dir;

	pthread_mutex_lock(&p->lock[s]);
	v = pfs_u64map_get(&p->map[s], dir);
	if (v)
		parent = *v;
	pthread_mutex_unlock(&p->lock[s]);
	return parent;
}
