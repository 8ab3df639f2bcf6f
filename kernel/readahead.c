// SPDX-License-Identifier: GPL-2.0
/*
 * Readahead of chunk blobs.
 *
 * The page cache's readahead runs in the reader's own context, and for
 * puzzlefs a blob's first use is all CPU and I/O in that context: read the
 * blob file, sha256 it, decompress it.  A reader going through many files
 * would do all of that serially, one blob at a time.  So reads that come
 * through ->readahead post where they are, and a few work items (one per
 * CPU, at most PFS_RA_WORKERS) load the next blobs in stream order: the
 * builder cuts chunks over all regular files in inode order, so a layer's
 * inode list, file by file and chunk by chunk, is the order blobs were
 * written and the order a reader of a directory's files needs them.
 *
 * The workers only warm the blob cache (pfs_blob_get and put): a reader
 * that arrives first loads the blob itself, one that arrives during the
 * load waits for it, and a blob that fails to load is not cached, so its
 * error reaches the reader that needs it.  A reader never waits for the
 * readahead's lock (mutex_trylock): a post is a hint.
 */
#include <linux/slab.h>
#include <linux/workqueue.h>

#include "internal.h"

#define PFS_RA_DEPTH	8	/* distinct blobs kept loaded ahead */
#define PFS_RA_WORKERS	4
#define PFS_RA_SCAN	4096	/* inodes without data skipped at most */

struct pfs_ra_pos {
	u32 layer, index, idx;		/* inode @index of @layer, chunk @idx */
};

struct pfs_ra_worker {
	struct work_struct work;
	struct pfs_sb_info *sbi;
};

struct pfs_readahead {
	struct mutex lock;		/* everything below */
	bool stop;
	struct pfs_ra_pos base;		/* the reader's last post */
	struct pfs_ra_pos horizon;	/* the last chunk handed out */
	struct pfs_ra_pos ahead[PFS_RA_DEPTH];	/* blobs handed out */
	unsigned int nahead;
	bool at_end;
	u8 last[PFS_DIGEST_LEN];	/* digest handed out last */
	u8 posted[PFS_DIGEST_LEN];	/* digest of the last post */
	unsigned int nworkers;
	struct pfs_ra_worker workers[PFS_RA_WORKERS];
};

static bool pos_le(struct pfs_ra_pos a, struct pfs_ra_pos b)
{
	if (a.layer != b.layer)
		return a.layer < b.layer;
	if (a.index != b.index)
		return a.index < b.index;
	return a.idx <= b.idx;
}

/* The chunk after @p in stream order, within its layer: the file's next
 * chunk, or the first of the next file with data.  True and @p moved. */
static bool next_chunk(struct pfs_sb_info *sbi, struct pfs_ra_pos *p,
		       struct pfs_chunk *ch)
{
	u32 index = p->index, idx = p->idx + 1, n;
	struct pfs_inode in;
	struct pfs_cur c;

	pfs_cur_init(&c, &sbi->rfs.msg);
	for (n = 0; n < PFS_RA_SCAN; n++, index++, idx = 0) {
		if (pfs_layer_inode(&c, &sbi->rfs, p->layer, index, &in))
			return false;		/* end of the layer, or corrupt */
		if (in.kind != PFS_KIND_FILE || idx >= in.list.count)
			continue;
		if (pfs_file_chunk(&c, &sbi->rfs, &in, idx, ch))
			return false;
		p->index = index;
		p->idx = idx;
		return true;
	}
	return false;
}

/* The reader is at @at (locked): forget what it has passed; a jump
 * backwards or beyond what was handed out starts afresh there. */
static void moved(struct pfs_readahead *ra, struct pfs_ra_pos at)
{
	unsigned int i;

	if (!pos_le(ra->base, at) || !pos_le(at, ra->horizon)) {
		ra->nahead = 0;
		ra->horizon = at;
		ra->at_end = false;
		memset(ra->last, 0, sizeof(ra->last));
	}
	for (i = 0; i < ra->nahead && pos_le(ra->ahead[i], at); i++)
		;
	memmove(ra->ahead, ra->ahead + i, (ra->nahead - i) * sizeof(*ra->ahead));
	ra->nahead -= i;
	ra->base = at;
}

/* The next blob to load (locked): true and its chunk. */
static bool next_blob(struct pfs_sb_info *sbi, struct pfs_chunk *ch)
{
	struct pfs_readahead *ra = sbi->ra;

	while (!ra->stop && ra->nahead < PFS_RA_DEPTH && !ra->at_end) {
		struct pfs_ra_pos p = ra->horizon;

		if (!next_chunk(sbi, &p, ch)) {
			ra->at_end = true;
			break;
		}
		ra->horizon = p;
		/* Small files share a blob: count each blob once. */
		if (!memcmp(ch->digest, ra->last, PFS_DIGEST_LEN))
			continue;
		memcpy(ra->last, ch->digest, PFS_DIGEST_LEN);
		ra->ahead[ra->nahead++] = p;
		return true;
	}
	return false;
}

static void pfs_ra_work(struct work_struct *work)
{
	struct pfs_sb_info *sbi = container_of(work, struct pfs_ra_worker,
					       work)->sbi;
	struct pfs_readahead *ra = sbi->ra;
	struct pfs_chunk ch;
	struct pfs_blob *b;

	for (;;) {
		mutex_lock(&ra->lock);
		if (!next_blob(sbi, &ch)) {
			mutex_unlock(&ra->lock);
			return;
		}
		mutex_unlock(&ra->lock);
		/* ch.digest points into the rootfs, which outlives us. */
		b = pfs_blob_get(sbi, ch.digest, ch.compressed);
		if (!IS_ERR(b))
			pfs_blob_put(sbi, b);
		cond_resched();
	}
}

void pfs_ra_post(struct pfs_sb_info *sbi, const struct pfs_inode *in,
		 u32 idx, const u8 *digest)
{
	struct pfs_readahead *ra = sbi->ra;
	struct pfs_ra_pos at = { in->layer, in->index, idx };
	unsigned int i;

	if (!ra || !mutex_trylock(&ra->lock))
		return;
	/* Small files share blobs: hear of each blob once. */
	if (ra->stop || !memcmp(ra->posted, digest, PFS_DIGEST_LEN)) {
		mutex_unlock(&ra->lock);
		return;
	}
	memcpy(ra->posted, digest, PFS_DIGEST_LEN);
	moved(ra, at);
	mutex_unlock(&ra->lock);
	for (i = 0; i < ra->nworkers; i++)
		queue_work(system_unbound_wq, &ra->workers[i].work);
}

int pfs_ra_init(struct pfs_sb_info *sbi)
{
	struct pfs_readahead *ra = kzalloc(sizeof(*ra), GFP_KERNEL);
	unsigned int i;

	if (!ra)
		return -ENOMEM;
	mutex_init(&ra->lock);
	ra->nworkers = clamp_t(unsigned int, num_online_cpus(), 1,
			       PFS_RA_WORKERS);
	for (i = 0; i < ra->nworkers; i++) {
		INIT_WORK(&ra->workers[i].work, pfs_ra_work);
		ra->workers[i].sbi = sbi;
	}
	sbi->ra = ra;
	return 0;
}

/* Before the blob cache and the rootfs go: no worker runs after this. */
void pfs_ra_destroy(struct pfs_sb_info *sbi)
{
	struct pfs_readahead *ra = sbi->ra;
	unsigned int i;

	if (!ra)
		return;
	mutex_lock(&ra->lock);
	ra->stop = true;
	mutex_unlock(&ra->lock);
	for (i = 0; i < ra->nworkers; i++)
		cancel_work_sync(&ra->workers[i].work);
	mutex_destroy(&ra->lock);
	kfree(ra);
	sbi->ra = NULL;
}
