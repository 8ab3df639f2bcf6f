// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "../../core/puzzlefs_fs.h"
#include "../../core/seektable.h"
#include "read/blob.h"
#include "seekable.h"

#define SHARDS 64
#define BUCKETS 256		/* per shard */
#define MAX_BLOB (1ull << 30)
/*
 * Decompressed content is kept per frame.  A blob of at most a chunk's
 * content (every chunk blob a writer makes) is decoded into one buffer of
 * its size.  A larger one (crafted: 4,096 frames of 256 KiB of zeros are
 * 1 GiB in 135 KB) has its frames decoded as reads touch them, each into
 * its own buffer, and keeps at most this much of them between reads: a
 * read costs the frames it needs, whatever the blob's size, and the memory
 * stays within the cache's bound.
 */
#define BIG_KEEP (2 * PFS_FRAME_MAX)

enum { LOADING, READY, FAILED };

struct blob {
	uint8_t digest[PFS_DIGEST_SIZE];
	int state;
	int refs;
	uint8_t *data;
	size_t size;
	size_t charged;
	pthread_mutex_t lock;		/* the compressed view below */
	int table_state;		/* 0 unparsed, 1 ok, <0 errno */
	struct pfs_seektable st;
	uint64_t *coff, *doff;
	uint8_t **frame;		/* decompressed frames (NULL: not yet) */
	uint8_t *plain;			/* small blobs: all frames, in one */
	size_t decoded;			/* big blobs: bytes in frame buffers */
	uint32_t last;			/* big blobs: the frame decoded last */
	struct blob *hnext;
	struct blob *prev, *next;	/* LRU, most recent first */
};

struct shard {
	pthread_mutex_t lock;
	pthread_cond_t loaded;
	struct blob *bucket[BUCKETS];
	struct blob *head, *tail;
	size_t bytes;
};

struct pfs_blob_cache {
	struct pfs_oci *oci;
	const struct pfs_log *log;
	size_t shard_max;
	struct pfs_blob_verity verity;
	bool use_verity;
	pthread_key_t dctx_key;
	struct shard shards[SHARDS];
};

static void dctx_free(void *p)
{
	ZSTD_freeDCtx(p);
}

int pfs_blob_cache_new(struct pfs_oci *oci, const struct pfs_log *log,
		       size_t max_bytes, const struct pfs_blob_verity *verity,
		       struct pfs_blob_cache **out)
{
	struct pfs_blob_cache *bc = calloc(1, sizeof(*bc));
	int i;

	if (!bc)
		return -ENOMEM;
	bc->oci = oci;
	bc->log = log;
	bc->shard_max = (max_bytes ? max_bytes : 64u << 20) / SHARDS;
	if (verity) {
		bc->verity = *verity;
		bc->use_verity = true;
	}
	if (pthread_key_create(&bc->dctx_key, dctx_free)) {
		free(bc);
		return -ENOMEM;
	}
	for (i = 0; i < SHARDS; i++) {
		pthread_mutex_init(&bc->shards[i].lock, NULL);
		pthread_cond_init(&bc->shards[i].loaded, NULL);
	}
	*out = bc;
	return 0;
}

static bool big(const struct blob *b)
{
	return b->st.data_size > PFS_FRAME_MAX;
}

/* Frees a big blob's decoded frames, but frame @keep; the bytes freed. */
static size_t drop_frames(struct blob *b, uint32_t keep)
{
	size_t freed = 0;
	uint32_t i;

	for (i = 0; b->frame && !b->plain && i < b->st.nframes; i++) {
		if (i == keep || !b->frame[i])
			continue;
		freed += pfs_seek_dsize(&b->st, i);
		free(b->frame[i]);
		b->frame[i] = NULL;
	}
	b->decoded -= freed;
	return freed;
}

static void blob_free(struct blob *b)
{
	drop_frames(b, UINT32_MAX);
	free(b->data);
	free(b->coff);
	free(b->doff);
	free(b->plain);
	free(b->frame);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

void pfs_blob_cache_free(struct pfs_blob_cache *bc)
{
	struct blob *b, *n;
	void *d;
	int i;

	if (!bc)
		return;
	for (i = 0; i < SHARDS; i++) {
		for (b = bc->shards[i].head; b; b = n) {
			n = b->next;
			blob_free(b);
		}
		pthread_mutex_destroy(&bc->shards[i].lock);
		pthread_cond_destroy(&bc->shards[i].loaded);
	}
	d = pthread_getspecific(bc->dctx_key);
	ZSTD_freeDCtx(d);
	pthread_key_delete(bc->dctx_key);
	free(bc);
}

static int load(struct pfs_blob_cache *bc, struct blob *b)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];
	uint8_t got[PFS_DIGEST_SIZE], want[PFS_DIGEST_SIZE];
	struct stat st;
	ssize_t n;
	int fd, e;

	pfs_hex(b->digest, PFS_DIGEST_SIZE, hex);
	/* A chunk the image needs and cannot have is an I/O error of the
	 * read, whatever the reason (a missing blob is ENOENT here, which a
	 * mount would report as the file itself being gone). */
	fd = pfs_oci_blob_open(bc->oci, b->digest);
	if (fd < 0)
		return fd == -ENOMEM ? fd : -EIO;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MAX_BLOB) {
		close(fd);
		return pfs_errf(bc->log, EIO, "blob %s: not a regular file "
				"of at most 1 GiB", hex);
	}
	if (bc->use_verity) {
		e = bc->verity.expected(bc->verity.arg, b->digest, want);
		if (e) {
			close(fd);
			return pfs_errf(bc->log, EIO,
					"blob %s: no fs-verity digest in the image",
					hex);
		}
		e = pfs_measure_verity(fd, got);
		if (e || memcmp(got, want, PFS_DIGEST_SIZE)) {
			close(fd);
			return pfs_errf(bc->log, EIO, "blob %s: %s", hex,
					e ? "fs-verity is not enabled" :
					"fs-verity digest mismatch");
		}
	}
	b->size = (size_t)st.st_size;
	b->data = malloc(b->size ? b->size : 1);
	if (!b->data) {
		close(fd);
		return -ENOMEM;
	}
	n = pfs_pread_full(fd, b->data, b->size, 0);
	close(fd);
	if (n != (ssize_t)b->size)
		return pfs_errf(bc->log, EIO, "blob %s: short read", hex);
	pfs_sha256(b->data, b->size, got);
	if (memcmp(got, b->digest, PFS_DIGEST_SIZE))
		return pfs_errf(bc->log, EIO,
				"blob %s: content does not match its sha256 "
				"(corrupted)", hex);
	return 0;
}

static void lru_unlink(struct shard *s, struct blob *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		s->head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		s->tail = b->prev;
	b->prev = b->next = NULL;
}

static void lru_front(struct shard *s, struct blob *b)
{
	b->next = s->head;
	b->prev = NULL;
	if (s->head)
		s->head->prev = b;
	s->head = b;
	if (!s->tail)
		s->tail = b;
}

static void hash_remove(struct shard *s, struct blob *b)
{
	struct blob **p = &s->bucket[b->digest[1]];

	while (*p && *p != b)
		p = &(*p)->hnext;
	if (*p)
		*p = b->hnext;
}

/* Drop unused blobs from the tail until the shard fits.  Shard locked. */
static void evict(struct shard *s, size_t max)
{
	struct blob *b = s->tail, *prev;

	while (b && s->bytes > max) {
		prev = b->prev;
		if (b->refs == 0) {
			lru_unlink(s, b);
			hash_remove(s, b);
			s->bytes -= b->charged;
			blob_free(b);
		}
		b = prev;
	}
}

static struct blob *blob_get(struct pfs_blob_cache *bc, const uint8_t *digest,
			     int *err)
{
	struct shard *s = &bc->shards[digest[0] % SHARDS];
	struct blob *b;
	int e;

	pthread_mutex_lock(&s->lock);
	for (b = s->bucket[digest[1]]; b; b = b->hnext)
		if (!memcmp(b->digest, digest, PFS_DIGEST_SIZE))
			break;
	if (b) {
		b->refs++;
		while (b->state == LOADING)
			pthread_cond_wait(&s->loaded, &s->lock);
		if (b->state == READY) {
			lru_unlink(s, b);
			lru_front(s, b);
			pthread_mutex_unlock(&s->lock);
			return b;
		}
		*err = -EIO;
		if (--b->refs == 0) {
			lru_unlink(s, b);
			pthread_mutex_unlock(&s->lock);
			blob_free(b);
			return NULL;
		}
		pthread_mutex_unlock(&s->lock);
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		pthread_mutex_unlock(&s->lock);
		*err = -ENOMEM;
		return NULL;
	}
	memcpy(b->digest, digest, PFS_DIGEST_SIZE);
	pthread_mutex_init(&b->lock, NULL);
	b->state = LOADING;
	b->refs = 1;
	b->hnext = s->bucket[digest[1]];
	s->bucket[digest[1]] = b;
	pthread_mutex_unlock(&s->lock);

	e = load(bc, b);

	pthread_mutex_lock(&s->lock);
	if (e) {
		/* Failed loads are not cached: the next read tries again. */
		b->state = FAILED;
		hash_remove(s, b);
		pthread_cond_broadcast(&s->loaded);
		if (--b->refs == 0) {
			pthread_mutex_unlock(&s->lock);
			blob_free(b);
		} else {
			/* A waiter still holds it; it frees on release. */
			lru_front(s, b);
			pthread_mutex_unlock(&s->lock);
		}
		*err = e;
		return NULL;
	}
	b->state = READY;
	b->charged = b->size;
	s->bytes += b->charged;
	lru_front(s, b);
	evict(s, bc->shard_max);
	pthread_cond_broadcast(&s->loaded);
	pthread_mutex_unlock(&s->lock);
	return b;
}

/* Release a reference; @extra: bytes the blob holds more (or fewer) now. */
static void blob_put(struct pfs_blob_cache *bc, struct blob *b,
		     ptrdiff_t extra)
{
	struct shard *s = &bc->shards[b->digest[0] % SHARDS];

	pthread_mutex_lock(&s->lock);
	b->charged += (size_t)extra;
	s->bytes += (size_t)extra;
	if (--b->refs == 0 && b->state == FAILED) {
		lru_unlink(s, b);
		pthread_mutex_unlock(&s->lock);
		blob_free(b);
		return;
	}
	evict(s, bc->shard_max);
	pthread_mutex_unlock(&s->lock);
}

/* Parse the seek table once.  Blob locked. */
static int parse_table(struct pfs_blob_cache *bc, struct blob *b)
{
	uint64_t tlen;
	uint32_t n;

	if (b->table_state)
		return b->table_state < 0 ? b->table_state : 0;
	b->table_state = -EIO;
	if (b->size < PFS_SEEK_FOOTER_LEN ||
	    pfs_seektable_footer(b->data + b->size - PFS_SEEK_FOOTER_LEN,
				 b->size, &tlen) ||
	    pfs_seektable_parse(b->data + b->size - tlen, tlen, b->size,
				&b->st) ||
	    b->st.data_size > MAX_BLOB)	/* its content is held in memory */
		return -EIO;
	n = b->st.nframes;
	b->coff = malloc((n + 1) * sizeof(uint64_t));
	b->doff = malloc((n + 1) * sizeof(uint64_t));
	b->frame = calloc(n + 1, sizeof(*b->frame));
	if (!b->coff || !b->doff || !b->frame)
		return b->table_state = -ENOMEM;
	pfs_seektable_offsets(&b->st, b->coff, b->doff);
	(void)bc;
	b->table_state = 1;
	return 0;
}

static ZSTD_DCtx *dctx(struct pfs_blob_cache *bc)
{
	ZSTD_DCtx *d = pthread_getspecific(bc->dctx_key);

	if (!d) {
		d = ZSTD_createDCtx();
		if (d)
			pthread_setspecific(bc->dctx_key, d);
	}
	return d;
}

/* Frame @i, decoded if it is not yet (*extra counts the bytes that takes).
 * Blob locked. */
static int frame_get(struct pfs_blob_cache *bc, struct blob *b, uint32_t i,
		     ZSTD_DCtx *d, ptrdiff_t *extra)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];
	uint32_t dsize = pfs_seek_dsize(&b->st, i), sum;
	uint8_t *dst;

	if (b->frame[i])
		return 0;
	if (!big(b)) {
		if (!b->plain) {
			b->plain = malloc(b->st.data_size ? b->st.data_size : 1);
			if (!b->plain)
				return -ENOMEM;
			*extra += (ptrdiff_t)b->st.data_size;
		}
		dst = b->plain + b->doff[i];
	} else {
		dst = malloc(dsize ? dsize : 1);
		if (!dst)
			return -ENOMEM;
	}
	if (b->st.checksums)
		sum = pfs_seek_checksum(&b->st, i);
	if (pfs_seekable_frame(d, b->data + b->coff[i], pfs_seek_csize(&b->st, i),
			       dst, dsize, b->st.checksums ? &sum : NULL)) {
		if (big(b))
			free(dst);
		pfs_hex(b->digest, PFS_DIGEST_SIZE, hex);
		return pfs_errf(bc->log, EIO,
				"blob %s: frame %u does not decompress to its "
				"seek-table size", hex, i);
	}
	b->frame[i] = dst;
	if (big(b)) {
		b->decoded += dsize;
		*extra += dsize;
		b->last = i;
	}
	return 0;
}

/*
 * Copy [off, off + len) of the content, decoding the frames it needs, one
 * at a time.  A big blob then lets go of its frames beyond BIG_KEEP (all
 * but the last one decoded, which the next read of a sequential reader
 * needs).  Blob locked.
 */
static int copy_frames(struct pfs_blob_cache *bc, struct blob *b,
		       uint64_t off, size_t len, uint8_t *dst, ptrdiff_t *extra)
{
	uint32_t i, n = b->st.nframes;
	ZSTD_DCtx *d = dctx(bc);
	int e = 0;

	if (!d)
		return -ENOMEM;
	for (i = pfs_seektable_find(b->doff, n, off); !e && len && i < n; i++) {
		uint64_t end = b->doff[i + 1], at;
		size_t piece;

		if (end <= off)
			continue;
		e = frame_get(bc, b, i, d, extra);
		if (e)
			break;
		at = off - b->doff[i];
		piece = end - off < len ? (size_t)(end - off) : len;
		if (dst) {
			memcpy(dst, b->frame[i] + at, piece);
			dst += piece;
		}
		off += piece;
		len -= piece;
	}
	if (big(b) && b->decoded > BIG_KEEP)
		*extra -= (ptrdiff_t)drop_frames(b, b->last);
	return e;
}

static int read_compressed(struct pfs_blob_cache *bc, struct blob *b,
			   uint64_t off, size_t len, uint8_t *dst,
			   ptrdiff_t *extra)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];
	int e;

	pthread_mutex_lock(&b->lock);
	e = parse_table(bc, b);
	if (e) {
		pthread_mutex_unlock(&b->lock);
		pfs_hex(b->digest, PFS_DIGEST_SIZE, hex);
		return pfs_errf(bc->log, EIO, "blob %s: invalid seek table",
				hex);
	}
	if (off > b->st.data_size || len > b->st.data_size - off) {
		pthread_mutex_unlock(&b->lock);
		pfs_hex(b->digest, PFS_DIGEST_SIZE, hex);
		return pfs_errf(bc->log, EIO,
				"blob %s: extent %llu+%zu beyond its %llu bytes",
				hex, (unsigned long long)off, len,
				(unsigned long long)b->st.data_size);
	}
	e = copy_frames(bc, b, off, len, dst, extra);
	pthread_mutex_unlock(&b->lock);
	return e;
}

int pfs_blob_read(struct pfs_blob_cache *bc, const uint8_t *digest,
		  bool compressed, uint64_t off, size_t len, uint8_t *dst)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];
	ptrdiff_t extra = 0;
	struct blob *b;
	int e = 0;

	b = blob_get(bc, digest, &e);
	if (!b)
		return e;
	if (compressed) {
		e = read_compressed(bc, b, off, len, dst, &extra);
	} else if (off > b->size || len > b->size - off) {
		pfs_hex(digest, PFS_DIGEST_SIZE, hex);
		e = pfs_errf(bc->log, EIO,
			     "blob %s: extent %llu+%zu beyond its %zu bytes",
			     hex, (unsigned long long)off, len, b->size);
	} else {
		memcpy(dst, b->data + off, len);
	}
	blob_put(bc, b, extra);
	return e;
}

/*
 * Readahead: load and check a blob before it is asked for, and decompress
 * all of a compressed one (of at most a chunk's content), so that the
 * reads that follow only copy.  What is served is still only what was
 * checked.
 */
int pfs_blob_warm(struct pfs_blob_cache *bc, const uint8_t *digest,
		  bool compressed)
{
	ptrdiff_t extra = 0;
	struct blob *b;
	int e = 0;

	b = blob_get(bc, digest, &e);
	if (!b)
		return e;
	if (compressed) {
		pthread_mutex_lock(&b->lock);
		e = parse_table(bc, b);
		if (!e && !big(b))
			e = copy_frames(bc, b, 0, b->st.data_size, NULL,
					&extra);
		pthread_mutex_unlock(&b->lock);
	}
	blob_put(bc, b, extra);
	return e;
}

int pfs_blob_content_size(struct pfs_blob_cache *bc, const uint8_t *digest,
			  bool compressed, uint64_t *size)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];
	struct blob *b;
	int e = 0;

	b = blob_get(bc, digest, &e);
	if (!b)
		return e;
	if (compressed) {
		pthread_mutex_lock(&b->lock);
		e = parse_table(bc, b);
		*size = b->st.data_size;
		pthread_mutex_unlock(&b->lock);
		if (e) {
			pfs_hex(digest, PFS_DIGEST_SIZE, hex);
			e = pfs_errf(bc->log, EIO,
				     "blob %s: invalid seek table", hex);
		}
	} else {
		*size = b->size;
	}
	blob_put(bc, b, 0);
	return e;
}
