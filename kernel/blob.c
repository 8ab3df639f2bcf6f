// SPDX-License-Identifier: GPL-2.0
/*
 * The chunk blob cache of a mount.
 *
 * A chunk is small (the chunker cuts at most 256 KiB), is shared by many
 * small files, and a file's folios rarely line up with chunks.  So a blob is
 * loaded whole the first time a folio needs it: read from its file, checked
 * (sha256 against its name, or fs-verity against fsVerityData in verity
 * mode) and, when compressed, decompressed frame by frame with the kernel's
 * zstd as its seek table says.  Folios are then filled from that decoded
 * copy, which is what was checked: nothing read later from the blob file
 * can slip past the check.
 *
 * No frame decompresses to more than a chunk (PFS_FRAME_MAX, checked with
 * the seek table), and a blob is decoded whole only if its content is at
 * most a chunk, as every blob a writer makes is.  A larger one (crafted:
 * 256 frames of 256 KiB of zeros are 64 MiB in a few KB, and with a cache
 * smaller than that each folio would decode it all again) keeps its
 * checked stored bytes and has its frames decoded as folios need them,
 * keeping at most BIG_KEEP of them between reads.
 *
 * Entries keep their struct file while they live (each blob file is opened
 * once); the decoded bytes are bounded by cache_mb and dropped least
 * recently used first, the open files by PFS_MAX_OPEN_BLOBS.  A failed load
 * is not cached: the next read tries again and fails again, with EIO.
 */
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/wait.h>
#include <linux/xxhash.h>
#include <linux/zstd.h>

#include "internal.h"
#include "../core/seektable.h"

#define HASH_BITS 8
#define BIG_KEEP (2 * PFS_FRAME_MAX)

struct pfs_blob {
	struct hlist_node node;
	struct list_head lru;
	u8 digest[PFS_DIGEST_LEN];
	bool compressed;
	unsigned int refs;		/* under the cache lock */
	struct mutex lock;		/* serializes loading */
	struct file *file;		/* opened on first use, kept */
	bool checked;			/* fs-verity checked (verity mode) */
	void *data;			/* decoded content, NULL until loaded */
	size_t len;
	size_t charged;
	/* Big compressed blobs (content above PFS_FRAME_MAX) instead: the
	 * checked stored bytes, the seek table, the frames decoded so far
	 * (under lock). */
	void *zdata;
	struct pfs_seektable st;
	u64 *coff, *doff;
	void **frame;
	size_t decoded;
	u32 last;			/* the frame decoded last */
};

struct pfs_dctx {
	struct list_head list;
	zstd_dctx *dctx;
	void *ws;
};

struct pfs_blob_cache {
	struct mutex lock;		/* hash, LRU, refs and accounting */
	struct hlist_head hash[1 << HASH_BITS];
	struct list_head lru;		/* most recently used first */
	unsigned int nblobs;
	size_t bytes, max_bytes;
	/* zstd contexts: one per concurrent decompression, reused. */
	spinlock_t dctx_lock;
	struct list_head dctx_free;
	unsigned int ndctx, max_dctx;
	wait_queue_head_t dctx_wait;
};

static struct hlist_head *bucket(struct pfs_blob_cache *bc, const u8 *digest)
{
	/* Digests are uniform: their first bytes make a good hash. */
	return &bc->hash[(digest[0] | digest[1] << 8) & ((1 << HASH_BITS) - 1)];
}

bool pfs_blob_is(const struct pfs_blob *b, const u8 *digest, bool compressed)
{
	return b->compressed == compressed &&
	       !memcmp(b->digest, digest, PFS_DIGEST_LEN);
}

static struct pfs_blob *find(struct pfs_blob_cache *bc, const u8 *digest,
			     bool compressed)
{
	struct pfs_blob *b;

	hlist_for_each_entry(b, bucket(bc, digest), node)
		if (pfs_blob_is(b, digest, compressed))
			return b;
	return NULL;
}

/* A big blob's decoded frames but @keep; the bytes freed. */
static size_t drop_frames(struct pfs_blob *b, u32 keep)
{
	size_t freed = 0;
	u32 i;

	for (i = 0; b->frame && i < b->st.nframes; i++) {
		if (i == keep || !b->frame[i])
			continue;
		freed += pfs_seek_dsize(&b->st, i);
		kvfree(b->frame[i]);
		b->frame[i] = NULL;
	}
	b->decoded -= freed;
	return freed;
}

static void free_big(struct pfs_blob *b)
{
	drop_frames(b, U32_MAX);
	kvfree(b->frame);
	kvfree(b->coff);
	kvfree(b->doff);
	kvfree(b->zdata);
	b->frame = NULL;
	b->coff = b->doff = NULL;
	b->zdata = NULL;
}

static void drop_data(struct pfs_blob_cache *bc, struct pfs_blob *b)
{
	kvfree(b->data);
	b->data = NULL;
	free_big(b);
	b->len = 0;
	bc->bytes -= b->charged;
	b->charged = 0;
}

/* Trim the cache to its budgets, least recently used first.  Locked. */
static void shrink(struct pfs_blob_cache *bc)
{
	struct pfs_blob *b, *tmp;

	list_for_each_entry_safe_reverse(b, tmp, &bc->lru, lru) {
		if (bc->bytes <= bc->max_bytes &&
		    bc->nblobs <= PFS_MAX_OPEN_BLOBS)
			break;
		if (b->refs)
			continue;
		if (b->data)
			drop_data(bc, b);
		if (bc->nblobs > PFS_MAX_OPEN_BLOBS) {
			hlist_del(&b->node);
			list_del(&b->lru);
			bc->nblobs--;
			if (b->file)
				fput(b->file);
			mutex_destroy(&b->lock);
			kfree(b);
		}
	}
}

/* ---- zstd contexts ----------------------------------------------------------- */

static void dctx_free(struct pfs_dctx *d)
{
	kvfree(d->ws);
	kfree(d);
}

static struct pfs_dctx *dctx_get(struct pfs_blob_cache *bc)
{
	struct pfs_dctx *d;
	size_t size;

	for (;;) {
		spin_lock(&bc->dctx_lock);
		d = list_first_entry_or_null(&bc->dctx_free, struct pfs_dctx,
					     list);
		if (d) {
			list_del(&d->list);
			spin_unlock(&bc->dctx_lock);
			return d;
		}
		if (bc->ndctx < bc->max_dctx) {
			bc->ndctx++;
			spin_unlock(&bc->dctx_lock);
			break;
		}
		spin_unlock(&bc->dctx_lock);
		wait_event(bc->dctx_wait, !list_empty_careful(&bc->dctx_free));
	}
	size = zstd_dctx_workspace_bound();
	d = kzalloc(sizeof(*d), GFP_KERNEL);
	if (d)
		d->ws = kvmalloc(size, GFP_KERNEL);
	if (d && d->ws)
		d->dctx = zstd_init_dctx(d->ws, size);
	if (!d || !d->dctx) {
		if (d)
			dctx_free(d);
		spin_lock(&bc->dctx_lock);
		bc->ndctx--;
		spin_unlock(&bc->dctx_lock);
		wake_up(&bc->dctx_wait);
		return NULL;
	}
	return d;
}

static void dctx_put(struct pfs_blob_cache *bc, struct pfs_dctx *d)
{
	spin_lock(&bc->dctx_lock);
	list_add(&d->list, &bc->dctx_free);
	spin_unlock(&bc->dctx_lock);
	wake_up(&bc->dctx_wait);
}

/* ---- loading --------------------------------------------------------------------- */

static int frame_error(struct pfs_sb_info *sbi, struct pfs_blob *b, u32 i)
{
	pfs_err(sbi, "blob %*phN: frame %u does not decompress to its seek-table entry",
		PFS_DIGEST_LEN, b->digest, i);
	return -EIO;
}

/* Decode frame @i of @st (stored bytes @buf at @coff) into @dst. */
static int decode_frame(struct pfs_sb_info *sbi, struct pfs_blob *b,
			struct pfs_dctx *d, const struct pfs_seektable *st,
			u32 i, const u8 *buf, u64 coff, u8 *dst)
{
	u32 cs = pfs_seek_csize(st, i), ds = pfs_seek_dsize(st, i);
	size_t r = zstd_decompress_dctx(d->dctx, dst, ds, buf + coff, cs);

	if (zstd_is_error(r) || r != ds ||
	    (st->checksums && (u32)xxh64(dst, ds, 0) != pfs_seek_checksum(st, i)))
		return frame_error(sbi, b, i);
	return 0;
}

/* The seek table of a seekable zstd blob (@buf, @size). */
static int parse_table(struct pfs_sb_info *sbi, struct pfs_blob *b,
		       const u8 *buf, u64 size, struct pfs_seektable *st)
{
	u64 tlen;

	if (size < PFS_SEEK_FOOTER_LEN ||
	    pfs_seektable_footer(buf + size - PFS_SEEK_FOOTER_LEN, size, &tlen) ||
	    pfs_seektable_parse(buf + size - tlen, tlen, size, st)) {
		pfs_err(sbi, "blob %*phN: invalid seek table", PFS_DIGEST_LEN,
			b->digest);
		return -EIO;
	}
	if (st->data_size > PFS_MAX_BLOB) {
		pfs_err(sbi, "blob %*phN: decompresses to %llu bytes (at most %u)",
			PFS_DIGEST_LEN, b->digest, st->data_size, PFS_MAX_BLOB);
		return -EIO;
	}
	return 0;
}

/* Decode a seekable zstd blob of at most a chunk into a new buffer. */
static int decompress(struct pfs_sb_info *sbi, struct pfs_blob *b,
		      const u8 *buf, const struct pfs_seektable *st,
		      void **out)
{
	struct pfs_blob_cache *bc = sbi->blob_cache;
	struct pfs_dctx *d;
	u64 c = 0, o = 0;
	u8 *dst;
	u32 i;
	int err = 0;

	dst = kvmalloc(max_t(u64, st->data_size, 1), GFP_KERNEL);
	if (!dst)
		return -ENOMEM;
	d = dctx_get(bc);
	if (!d) {
		kvfree(dst);
		return -ENOMEM;
	}
	for (i = 0; i < st->nframes && !err; i++) {
		err = decode_frame(sbi, b, d, st, i, buf, c, dst + o);
		c += pfs_seek_csize(st, i);
		o += pfs_seek_dsize(st, i);
	}
	dctx_put(bc, d);
	if (err) {
		kvfree(dst);
		return err;
	}
	*out = dst;
	return 0;
}

/* A big blob keeps its stored bytes (@buf, taken) and its seek table. */
static int keep_big(struct pfs_blob *b, void *buf, u64 size,
		    const struct pfs_seektable *st)
{
	u32 n = st->nframes;

	b->coff = kvmalloc_array(n + 1, sizeof(u64), GFP_KERNEL);
	b->doff = kvmalloc_array(n + 1, sizeof(u64), GFP_KERNEL);
	b->frame = kvcalloc(n + 1, sizeof(void *), GFP_KERNEL);
	if (!b->coff || !b->doff || !b->frame) {
		free_big(b);
		kvfree(buf);
		return -ENOMEM;
	}
	b->st = *st;			/* its entries point into buf */
	pfs_seektable_offsets(st, b->coff, b->doff);
	b->zdata = buf;
	b->decoded = 0;
	b->charged = size + (size_t)(n + 1) * (2 * sizeof(u64) + sizeof(void *));
	b->len = st->data_size;
	return 0;
}

static int load(struct pfs_sb_info *sbi, struct pfs_blob *b)
{
	struct pfs_blob_cache *bc = sbi->blob_cache;
	const struct cred *old;
	u8 got[PFS_DIGEST_LEN];
	const u8 *want;
	struct pfs_cur c;
	struct file *file;
	void *buf;
	u64 size;
	int err;

	if (!b->file) {
		file = pfs_blob_open(sbi, b->digest);
		if (IS_ERR(file))
			return -EIO;
		b->file = file;
	}
	if (sbi->verity && !b->checked) {
		pfs_cur_init(&c, &sbi->rfs.msg);
		err = pfs_verity_find(&c, &sbi->rfs, b->digest, &want);
		if (err) {
			pfs_err(sbi, "blob %*phN: no fs-verity digest in the image",
				PFS_DIGEST_LEN, b->digest);
			return -EIO;
		}
		err = pfs_verity_check(sbi, b->file, want, "blob", b->digest);
		if (err)
			return err == -ENOMEM ? err : -EIO;
		b->checked = true;
	}
	size = i_size_read(file_inode(b->file));
	if (size > PFS_MAX_BLOB) {
		pfs_err(sbi, "blob %*phN: %llu bytes (at most %u)",
			PFS_DIGEST_LEN, b->digest, size, PFS_MAX_BLOB);
		return -EIO;
	}
	buf = kvmalloc(max_t(u64, size, 1), GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	old = override_creds(sbi->cred);
	err = pfs_read_full(b->file, buf, size, 0);
	revert_creds(old);
	if (err) {
		pfs_err(sbi, "blob %*phN: read error %d", PFS_DIGEST_LEN,
			b->digest, err);
		kvfree(buf);
		return -EIO;
	}
	/* In verity mode the file system checked every page against the
	 * Merkle tree whose descriptor matched fsVerityData. */
	if (!sbi->verity) {
		if (pfs_sha256(sbi, buf, size, got) ||
		    memcmp(got, b->digest, PFS_DIGEST_LEN)) {
			pfs_err(sbi, "blob %*phN: content does not match its sha256 (corrupted)",
				PFS_DIGEST_LEN, b->digest);
			kvfree(buf);
			return -EIO;
		}
	}
	if (b->compressed) {
		struct pfs_seektable st;
		void *plain;

		err = parse_table(sbi, b, buf, size, &st);
		if (!err && st.data_size > PFS_FRAME_MAX) {
			err = keep_big(b, buf, size, &st);
			if (err)
				return err;
			mutex_lock(&bc->lock);
			bc->bytes += b->charged;
			mutex_unlock(&bc->lock);
			return 0;
		}
		if (!err)
			err = decompress(sbi, b, buf, &st, &plain);
		kvfree(buf);
		if (err)
			return err;
		buf = plain;
		size = st.data_size;
	}
	mutex_lock(&bc->lock);
	b->data = buf;
	b->len = size;
	b->charged = size;
	bc->bytes += size;
	mutex_unlock(&bc->lock);
	return 0;
}

struct pfs_blob *pfs_blob_get(struct pfs_sb_info *sbi, const u8 *digest,
			      bool compressed)
{
	struct pfs_blob_cache *bc = sbi->blob_cache;
	struct pfs_blob *b, *nb = NULL;
	int err = 0;

	mutex_lock(&bc->lock);
	b = find(bc, digest, compressed);
	if (!b) {
		mutex_unlock(&bc->lock);
		nb = kzalloc(sizeof(*nb), GFP_KERNEL);
		if (!nb)
			return ERR_PTR(-ENOMEM);
		memcpy(nb->digest, digest, PFS_DIGEST_LEN);
		nb->compressed = compressed;
		mutex_init(&nb->lock);
		mutex_lock(&bc->lock);
		b = find(bc, digest, compressed);
		if (!b) {
			b = nb;
			nb = NULL;
			hlist_add_head(&b->node, bucket(bc, digest));
			list_add(&b->lru, &bc->lru);
			bc->nblobs++;
		}
	}
	b->refs++;
	list_move(&b->lru, &bc->lru);
	mutex_unlock(&bc->lock);
	if (nb) {
		mutex_destroy(&nb->lock);
		kfree(nb);
	}

	mutex_lock(&b->lock);
	if (!b->data && !b->zdata)
		err = load(sbi, b);
	mutex_unlock(&b->lock);
	if (err) {
		pfs_blob_put(sbi, b);
		return ERR_PTR(err);
	}
	return b;
}

void pfs_blob_put(struct pfs_sb_info *sbi, struct pfs_blob *b)
{
	struct pfs_blob_cache *bc = sbi->blob_cache;

	mutex_lock(&bc->lock);
	b->refs--;
	shrink(bc);
	mutex_unlock(&bc->lock);
}

/*
 * A big blob: decode the frames [off, off + len) needs, one at a time, then
 * let go of all but the last one decoded once more than BIG_KEEP are held
 * (a sequential reader needs that one next).
 */
static int copy_frames(struct pfs_sb_info *sbi, struct pfs_blob *b, u64 off,
		       size_t len, u8 *dst)
{
	struct pfs_blob_cache *bc = sbi->blob_cache;
	u32 i, n = b->st.nframes, ds;
	struct pfs_dctx *d = NULL;
	long delta = 0;
	int err = 0;

	mutex_lock(&b->lock);
	for (i = pfs_seektable_find(b->doff, n, off); len && i < n; i++) {
		u64 end = b->doff[i + 1];
		size_t piece;

		if (end <= off)
			continue;
		if (!b->frame[i]) {
			ds = pfs_seek_dsize(&b->st, i);
			if (!d)
				d = dctx_get(bc);
			b->frame[i] = d ? kvmalloc(max_t(u32, ds, 1), GFP_KERNEL) :
				      NULL;
			if (!b->frame[i]) {
				err = -ENOMEM;
				break;
			}
			err = decode_frame(sbi, b, d, &b->st, i, b->zdata,
					   b->coff[i], b->frame[i]);
			if (err) {
				kvfree(b->frame[i]);
				b->frame[i] = NULL;
				break;
			}
			b->decoded += ds;
			delta += ds;
			b->last = i;
		}
		piece = min_t(u64, end - off, len);
		memcpy(dst, (u8 *)b->frame[i] + (off - b->doff[i]), piece);
		dst += piece;
		off += piece;
		len -= piece;
	}
	if (d)
		dctx_put(bc, d);
	if (b->decoded > BIG_KEEP)
		delta -= (long)drop_frames(b, b->last);
	mutex_unlock(&b->lock);
	if (delta) {
		mutex_lock(&bc->lock);
		b->charged += delta;
		bc->bytes += delta;
		mutex_unlock(&bc->lock);
	}
	return err;
}

int pfs_blob_copy(struct pfs_sb_info *sbi, struct pfs_blob *b, u64 off,
		  size_t len, void *dst)
{
	if (off > b->len || len > b->len - off) {
		pfs_err(sbi, "corrupted image: extent %llu+%zu beyond the %zu bytes of blob %*phN",
			off, len, b->len, PFS_DIGEST_LEN, b->digest);
		return -EIO;
	}
	if (b->zdata)
		return copy_frames(sbi, b, off, len, dst);
	memcpy(dst, b->data + off, len);
	return 0;
}

int pfs_blob_cache_init(struct pfs_sb_info *sbi)
{
	struct pfs_blob_cache *bc = kzalloc(sizeof(*bc), GFP_KERNEL);
	int i;

	if (!bc)
		return -ENOMEM;
	mutex_init(&bc->lock);
	for (i = 0; i < (1 << HASH_BITS); i++)
		INIT_HLIST_HEAD(&bc->hash[i]);
	INIT_LIST_HEAD(&bc->lru);
	bc->max_bytes = (size_t)sbi->cache_mb << 20;
	spin_lock_init(&bc->dctx_lock);
	INIT_LIST_HEAD(&bc->dctx_free);
	bc->max_dctx = num_online_cpus();
	init_waitqueue_head(&bc->dctx_wait);
	sbi->blob_cache = bc;
	return 0;
}

void pfs_blob_cache_destroy(struct pfs_sb_info *sbi)
{
	struct pfs_blob_cache *bc = sbi->blob_cache;
	struct pfs_blob *b, *tmp;
	struct pfs_dctx *d, *dtmp;

	if (!bc)
		return;
	list_for_each_entry_safe(b, tmp, &bc->lru, lru) {
		WARN_ON_ONCE(b->refs);
		kvfree(b->data);
		free_big(b);
		if (b->file)
			fput(b->file);
		mutex_destroy(&b->lock);
		kfree(b);
	}
	list_for_each_entry_safe(d, dtmp, &bc->dctx_free, list)
		dctx_free(d);
	mutex_destroy(&bc->lock);
	kfree(bc);
	sbi->blob_cache = NULL;
}
