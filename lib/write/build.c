// SPDX-License-Identifier: MIT
/*
 * The builder.  The walker (walk.c) feeds every new regular file's bytes,
 * in inode-numbering order, into one stream; FastCDC cuts the stream into
 * chunks; worker threads compress (build -c), hash and store each chunk as
 * a blob while the stream goes on.  Memory is bounded by the stream buffer
 * and the job queue, whatever the amount of data.  At the end the chunk
 * pieces are mapped back onto the files, and the rootfs, the manifest and
 * the tag are written, in that order, so that a crash at any point leaves
 * the previous state of the OCI directory intact.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>

#include "../../core/seektable.h"
#include "write/build.h"
#include "write/fastcdc.h"
#include "json.h"
#include "seekable.h"

#define STREAM_BUF (4u << 20)
/*
 * Frame size for build -c.  The reference writes 4 KiB frames (its bytes
 * are reproduced with --frame-size 4096); 32 KiB frames make images 12%
 * smaller and the build use 11% less CPU, with cold random reads through
 * FUSE within about 10% (bench/RESULTS.md, frame-size study).  Any frame
 * size is read by the reference.  A delta build takes its base's frame
 * size instead (base_frame).
 */
#define BUILD_FRAME (32u << 10)
#define BASE_PROBE 64		/* base chunk blobs read for their frame size */
#define BASE_FRAME_MIN 1024	/* smaller frames in a base are not followed */
#define READ_MAX (1u << 20)		/* walker reads at most this at once */
/*
 * Chunks queued for the workers: about one stream window's worth.  The
 * walker's pace varies with the tree (a run of small files is slow to
 * read, a big file fast) and so does the workers' (with -c, how well the
 * data compresses): a deep queue lets one side run ahead while the other
 * is slow.  With two jobs per worker they waited on each other, and
 * build -c took 4-8% longer (bench/notes/optimizations.md).
 */
#define QUEUE_JOBS 64
#define SPARE_BUFS 2

struct chunk_rec {
	uint8_t digest[PFS_DIGEST_SIZE];
	uint64_t stored;		/* blob size */
	bool compressed;
};

/*
 * A stream window.  Chunks are handed to the workers as pointers into it,
 * not as copies: the window lives until the stream has moved on to a new
 * one and the last job that points into it is done (refs, under the
 * builder's lock).
 */
struct sbuf {
	uint8_t *data;
	unsigned refs;
	struct sbuf *next;		/* spare list */
};

struct job {
	uint64_t seq;
	const uint8_t *data;
	size_t len;
	struct sbuf *sb;
};

struct open_file {
	struct pfs_bnode *node;
	uint64_t start, end;		/* stream offsets; end unknown: UINT64_MAX */
};

/* Set of stored blob digests. */
struct digest_set {
	struct pfs_mverity *v;		/* digest and fs-verity digest */
	size_t n, cap;
	struct pfs_dindex idx;		/* digest -> index into v */
};

struct pfs_builder {
	const struct pfs_build_opts *opts;
	const struct pfs_log *log;
	struct pfs_oci *oci;
	struct pfs_cdc_params cdc;
	int level;
	uint32_t frame;

	/* the stream: bytes [start, end) of cur are not cut yet */
	struct sbuf *cur, *spare;
	unsigned nspare;
	size_t start, end;
	uint64_t fed;			/* bytes fed so far */
	uint64_t cut;			/* stream offset of cur->data[start] */
	uint64_t next_seq;
	struct open_file *files;
	size_t fhead, fcount, fcap;

	/* shared with the workers */
	pthread_mutex_t lock;
	pthread_cond_t has_job, has_space, idle;
	struct job *ring;
	size_t ring_cap, ring_head, ring_len;
	unsigned busy;
	bool stop;
	int err;
	struct chunk_rec *chunks;
	size_t chunks_cap;
	struct digest_set blobs;
	/* build -c: XXH3 of each stored chunk's raw bytes -> its seq, to find
	 * repeated chunks before compressing them (reuse_chunk) */
	struct pfs_u64map raws;
	uint64_t raw_seed;
	uint64_t repeats;
	pthread_t *threads;
	unsigned nthreads;

	/* pfs_build_same_data, on the feeding thread */
	struct pfs_chunk_check same;
	uint8_t same_digest[PFS_DIGEST_SIZE];
	bool same_valid;

	/* progress */
	uint64_t nfiles, nbytes;
	struct timespec last;
};

/* ---- digest set ------------------------------------------------------------ */

static const uint8_t *ds_digest(const void *owner, size_t i)
{
	return ((const struct digest_set *)owner)->v[i].digest;
}

static struct pfs_mverity *ds_find(struct digest_set *s, const uint8_t *d)
{
	size_t i = pfs_dindex_find(&s->idx, d);

	return i == SIZE_MAX ? NULL : &s->v[i];
}

static int ds_add(struct digest_set *s, const uint8_t *d, const uint8_t *verity)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		struct pfs_mverity *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	/* The index reads digests from the set: it must not move after this. */
	s->idx.digest = ds_digest;
	s->idx.owner = s;
	memcpy(s->v[s->n].digest, d, PFS_DIGEST_SIZE);
	memcpy(s->v[s->n].verity, verity, PFS_DIGEST_SIZE);
	if (pfs_dindex_add(&s->idx, d, s->n))
		return -ENOMEM;
	s->n++;
	return 0;
}

static void ds_free(struct digest_set *s)
{
	free(s->v);
	pfs_dindex_free(&s->idx);
	memset(s, 0, sizeof(*s));
}

/* ---- stream windows ------------------------------------------------------ */

/* Both under the builder's lock. */
static struct sbuf *sbuf_get(struct pfs_builder *b)
{
	struct sbuf *sb = b->spare;

	if (sb) {
		b->spare = sb->next;
		b->nspare--;
	} else {
		sb = calloc(1, sizeof(*sb));
		if (sb && !(sb->data = malloc(STREAM_BUF))) {
			free(sb);
			sb = NULL;
		}
	}
	if (sb)
		sb->refs = 1;
	return sb;
}

/* Windows are kept for reuse: fresh 4 MiB buffers cost page faults. */
static void sbuf_put(struct pfs_builder *b, struct sbuf *sb)
{
	if (!sb || --sb->refs)
		return;
	if (b->nspare < SPARE_BUFS) {
		sb->next = b->spare;
		b->spare = sb;
		b->nspare++;
		return;
	}
	free(sb->data);
	free(sb);
}

/* ---- repeated chunks ------------------------------------------------------ */

bool pfs_blob_holds(struct pfs_oci *oci, struct pfs_chunk_check *c,
		    const uint8_t *digest, uint64_t size, bool compressed,
		    const void *data, size_t len)
{
	size_t n;

	if (pfs_oci_blob_fetch(oci, digest, size, &c->blob))
		return false;
	if (!compressed)
		return c->blob.len == len && !memcmp(c->blob.data, data, len);
	c->raw.len = 0;
	if (!c->dctx)
		c->dctx = ZSTD_createDCtx();
	if (!c->dctx || pfs_buf_reserve(&c->raw, len + 1))
		return false;
	/* All frames at once: the seek table is a skippable frame.  One byte
	 * of room more than expected tells a longer content apart. */
	n = ZSTD_decompressDCtx(c->dctx, c->raw.data, len + 1, c->blob.data,
				c->blob.len);
	return !ZSTD_isError(n) && n == len && !memcmp(c->raw.data, data, len);
}

void pfs_chunk_check_free(struct pfs_chunk_check *c)
{
	ZSTD_freeDCtx(c->dctx);
	pfs_buf_free(&c->blob);
	pfs_buf_free(&c->raw);
	c->dctx = NULL;
}

/*
 * Is the content @m's FileChunks describe exactly @data?  Their blobs are
 * read back (sha256 checked, decompressed); any failure is a no.  For a
 * source that sees a file again and wants to keep its chunks if it did
 * not change (import: a layer restating a lower layer's file).
 */
bool pfs_build_same_data(struct pfs_builder *b, const struct pfs_minode *m,
			 const uint8_t *data, uint64_t len)
{
	struct pfs_chunk_check *c = &b->same;
	uint64_t off = 0;
	uint32_t i;

	for (i = 0; i < m->nchunks; i++) {
		const struct pfs_mchunk *mc = &m->chunks[i];
		const struct pfs_buf *src;

		if (mc->len > len - off)
			return false;
		if (!b->same_valid ||
		    memcmp(b->same_digest, mc->digest, PFS_DIGEST_SIZE)) {
			size_t n;

			b->same_valid = false;
			if (pfs_oci_blob_fetch(b->oci, mc->digest, UINT64_MAX,
					       &c->blob))
				return false;
			c->raw.len = 0;
			if (mc->compressed) {
				if (!c->dctx)
					c->dctx = ZSTD_createDCtx();
				if (!c->dctx ||
				    pfs_buf_reserve(&c->raw, PFS_CDC_MAX + 1))
					return false;
				n = ZSTD_decompressDCtx(c->dctx, c->raw.data,
							PFS_CDC_MAX + 1,
							c->blob.data, c->blob.len);
				if (ZSTD_isError(n))
					return false;
				c->raw.len = n;
			}
			memcpy(b->same_digest, mc->digest, PFS_DIGEST_SIZE);
			b->same_valid = true;
		}
		src = mc->compressed ? &c->raw : &c->blob;
		if (mc->offset > src->len || mc->len > src->len - mc->offset ||
		    memcmp(src->data + mc->offset, data + off, mc->len))
			return false;
		off += mc->len;
	}
	return off == len;
}

/* Map key of a chunk's raw bytes (0 is the map's empty slot). */
static uint64_t raw_key(const struct pfs_builder *b, const struct job *j)
{
	uint64_t k = XXH3_64bits_withSeed(j->data, j->len, b->raw_seed);

	return k ? k : 1;
}

/*
 * build -c: trees repeat content (the same file under several names or in
 * several packages, runs of zeros in binaries), and compressing a repeated
 * chunk again only to find its blob stored already is most of its cost.
 * A chunk whose raw bytes hash like an earlier one's is given that blob if
 * it is proven to hold the same bytes (pfs_blob_holds: read back, sha256,
 * decompressed, compared); the hash only picks the candidate, so crafted
 * collisions cost a check, never a wrong chunk.  The image is the same as
 * without this: compression is deterministic.  A blob not named yet (its
 * batch is not synced) is read through its descriptor; only one that the
 * syncer is naming right then is missed, and the chunk is compressed.
 */
static bool reuse_chunk(struct pfs_builder *b, struct pfs_chunk_check *c,
			const struct job *j, uint64_t key)
{
	struct chunk_rec rec;
	uint64_t *seq;

	pthread_mutex_lock(&b->lock);
	seq = pfs_u64map_get(&b->raws, key);
	if (seq)
		rec = b->chunks[*seq];
	pthread_mutex_unlock(&b->lock);
	if (!seq || !pfs_blob_holds(b->oci, c, rec.digest, rec.stored,
				    rec.compressed, j->data, j->len))
		return false;
	pthread_mutex_lock(&b->lock);
	b->chunks[j->seq] = rec;
	b->repeats++;
	pthread_mutex_unlock(&b->lock);
	return true;
}

/* ---- workers ------------------------------------------------------------------ */

struct worker_ctx {
	ZSTD_CCtx *cctx;
	struct pfs_buf zbuf;
	struct pfs_chunk_check check;
};

/* Compress (if asked and worth it), hash and store one chunk. */
static int store_chunk(struct pfs_builder *b, struct worker_ctx *w,
		       const struct job *j)
{
	uint8_t digest[PFS_DIGEST_SIZE], verity[PFS_DIGEST_SIZE];
	const uint8_t *stored = j->data;
	size_t len = j->len;
	bool compressed = false;
	struct chunk_rec *rec;
	uint64_t key = 0;
	bool fresh;
	int e = 0;

	if (b->opts->compress) {
		key = raw_key(b, j);
		if (reuse_chunk(b, &w->check, j, key))
			return 0;
		w->zbuf.len = 0;
		e = pfs_seekable_compress(w->cctx, j->data, j->len, b->level,
					  b->frame, &w->zbuf);
		if (e)
			return pfs_errf(b->log, -e, "zstd: %s", strerror(-e));
		/* Store raw when compression does not pay, as the reference. */
		if (w->zbuf.len < j->len) {
			stored = w->zbuf.data;
			len = w->zbuf.len;
			compressed = true;
		}
	}
	pfs_sha256(stored, len, digest);
	/* The fs-verity digest of the bytes actually stored (the
	 * reference measures the compressed buffer even when it stores
	 * the raw one). */
	if (pfs_verity_digest(stored, len, verity))
		return pfs_errf(b->log, ENOMEM, "fs-verity digest: %s",
				strerror(ENOMEM));

	pthread_mutex_lock(&b->lock);
	rec = &b->chunks[j->seq];
	memcpy(rec->digest, digest, PFS_DIGEST_SIZE);
	rec->stored = len;
	rec->compressed = compressed;
	fresh = !ds_find(&b->blobs, digest);
	if (fresh)
		e = ds_add(&b->blobs, digest, verity);
	if (!e && key && !pfs_u64map_get(&b->raws, key))
		e = pfs_u64map_put(&b->raws, key, j->seq);
	pthread_mutex_unlock(&b->lock);
	/* The first to claim a digest stores it, outside the builder's lock:
	 * a write (and the sync of a full batch) must not stall the walker
	 * and the other workers. */
	if (fresh && !e)
		e = pfs_oci_blob_put(b->oci, digest, stored, len);
	return e;
}

static void *worker(void *arg)
{
	struct pfs_builder *b = arg;
	struct worker_ctx w = {
		.cctx = b->opts->compress ? ZSTD_createCCtx() : NULL,
	};
	struct job j;
	bool skip;
	int e;

	for (;;) {
		pthread_mutex_lock(&b->lock);
		while (!b->ring_len && !b->stop)
			pthread_cond_wait(&b->has_job, &b->lock);
		if (!b->ring_len) {
			pthread_mutex_unlock(&b->lock);
			break;
		}
		j = b->ring[b->ring_head];
		b->ring_head = (b->ring_head + 1) % b->ring_cap;
		b->ring_len--;
		b->busy++;
		skip = b->err != 0;	/* after an error, only drain */
		pthread_cond_signal(&b->has_space);
		pthread_mutex_unlock(&b->lock);

		e = skip ? 0 : (b->opts->compress && !w.cctx) ? -ENOMEM :
		    store_chunk(b, &w, &j);

		pthread_mutex_lock(&b->lock);
		sbuf_put(b, j.sb);
		if (e && !b->err) {
			b->err = e;
			pthread_cond_broadcast(&b->has_space);
			pthread_cond_broadcast(&b->idle);
		}
		b->busy--;
		if (!b->busy && !b->ring_len)
			pthread_cond_broadcast(&b->idle);
		pthread_mutex_unlock(&b->lock);
	}
	ZSTD_freeCCtx(w.cctx);
	pfs_buf_free(&w.zbuf);
	pfs_chunk_check_free(&w.check);
	return NULL;
}

static int submit(struct pfs_builder *b, uint64_t seq, const uint8_t *data,
		  size_t len)
{
	int e;

	pthread_mutex_lock(&b->lock);
	while (b->ring_len == b->ring_cap && !b->err)
		pthread_cond_wait(&b->has_space, &b->lock);
	e = b->err;
	if (!e && seq >= b->chunks_cap) {
		size_t cap = b->chunks_cap ? b->chunks_cap * 2 : 1024;
		struct chunk_rec *c = realloc(b->chunks, cap * sizeof(*c));

		if (!c) {
			e = -ENOMEM;
		} else {
			b->chunks = c;
			b->chunks_cap = cap;
		}
	}
	if (!e) {
		struct job *j = &b->ring[(b->ring_head + b->ring_len) %
					 b->ring_cap];

		j->seq = seq;
		j->data = data;
		j->len = len;
		j->sb = b->cur;
		b->cur->refs++;
		b->ring_len++;
		pthread_cond_signal(&b->has_job);
	}
	pthread_mutex_unlock(&b->lock);
	return e;
}

static int drain(struct pfs_builder *b)
{
	int e;

	pthread_mutex_lock(&b->lock);
	while ((b->ring_len || b->busy) && !b->err)
		pthread_cond_wait(&b->idle, &b->lock);
	e = b->err;
	pthread_mutex_unlock(&b->lock);
	return e;
}

static int start_workers(struct pfs_builder *b)
{
	unsigned i, n = b->opts->threads;

	if (!n) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		n = cpus > 0 ? (unsigned)cpus : 1;
	}
	b->ring_cap = 2 * (size_t)n + 2 > QUEUE_JOBS ? 2 * (size_t)n + 2 :
		      QUEUE_JOBS;
	b->ring = calloc(b->ring_cap, sizeof(*b->ring));
	b->threads = calloc(n, sizeof(*b->threads));
	if (!b->ring || !b->threads)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		if (pthread_create(&b->threads[i], NULL, worker, b))
			return -EAGAIN;
		b->nthreads++;
	}
	return 0;
}

static void stop_workers(struct pfs_builder *b)
{
	unsigned i;

	pthread_mutex_lock(&b->lock);
	b->stop = true;
	pthread_cond_broadcast(&b->has_job);
	pthread_cond_broadcast(&b->has_space);
	pthread_mutex_unlock(&b->lock);
	for (i = 0; i < b->nthreads; i++)
		pthread_join(b->threads[i], NULL);
	b->nthreads = 0;
	while (b->ring_len) {
		sbuf_put(b, b->ring[b->ring_head].sb);
		b->ring_head = (b->ring_head + 1) % b->ring_cap;
		b->ring_len--;
	}
}

/* ---- the stream ------------------------------------------------------------- */

static int add_piece(struct pfs_bnode *n, uint64_t seq, uint64_t off,
		     uint64_t len)
{
	if (n->npieces == n->pieces_cap) {
		uint32_t cap = n->pieces_cap ? n->pieces_cap * 2 : 2;
		struct pfs_piece *p = realloc(n->pieces, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		n->pieces = p;
		n->pieces_cap = cap;
	}
	n->pieces[n->npieces].seq = seq;
	n->pieces[n->npieces].off = off;
	n->pieces[n->npieces++].len = len;
	return 0;
}

/* Map stream range [cs, ce) of chunk @seq onto the files it covers. */
static int map_chunk(struct pfs_builder *b, uint64_t seq, uint64_t cs,
		     uint64_t ce)
{
	while (b->fcount) {
		struct open_file *f = &b->files[b->fhead];
		uint64_t ps = f->start > cs ? f->start : cs;
		uint64_t pe = f->end < ce ? f->end : ce;
		int e;

		if (f->start >= ce)
			break;
		if (pe > ps && (e = add_piece(f->node, seq, ps - cs, pe - ps)))
			return e;
		if (f->end > ce)
			break;
		b->fhead = (b->fhead + 1) % b->fcap;
		b->fcount--;
	}
	return 0;
}

static int emit(struct pfs_builder *b, size_t n)
{
	const uint8_t *p = b->cur->data + b->start;
	uint64_t hash;
	size_t len = pfs_cdc_cut(&b->cdc, p, n, &hash);
	int e;

	e = map_chunk(b, b->next_seq, b->cut, b->cut + len);
	if (!e)
		e = submit(b, b->next_seq++, p, len);
	b->start += len;
	b->cut += len;
	return e;
}

/*
 * The walker reads straight into the stream window: pfs_build_space gives
 * room for the next read, pfs_build_commit cuts what arrived.  When the
 * window is nearly full, the bytes not cut yet (less than one maximal
 * chunk) move to a fresh window and the old one stays with the jobs that
 * still point into it.
 */
uint8_t *pfs_build_space(struct pfs_builder *b, size_t *room)
{
	if (STREAM_BUF - b->end < READ_MAX) {
		struct sbuf *nb;

		pthread_mutex_lock(&b->lock);
		nb = sbuf_get(b);
		pthread_mutex_unlock(&b->lock);
		if (!nb)
			return NULL;
		memcpy(nb->data, b->cur->data + b->start, b->end - b->start);
		pthread_mutex_lock(&b->lock);
		sbuf_put(b, b->cur);
		pthread_mutex_unlock(&b->lock);
		b->cur = nb;
		b->end -= b->start;
		b->start = 0;
	}
	*room = READ_MAX;
	return b->cur->data + b->end;
}

int pfs_build_commit(struct pfs_builder *b, size_t n)
{
	int e;

	b->end += n;
	b->fed += n;
	/* Cut only with a full window, as StreamCDC does. */
	while (b->end - b->start >= b->cdc.max)
		if ((e = emit(b, b->cdc.max)))
			return e;
	return 0;
}

static int stream_finish(struct pfs_builder *b)
{
	int e;

	while (b->end > b->start)
		if ((e = emit(b, b->end - b->start)))
			return e;
	return 0;
}

int pfs_build_file_begin(struct pfs_builder *b, struct pfs_bnode *n)
{
	struct open_file *f;

	if (b->fcount == b->fcap) {
		size_t cap = b->fcap ? b->fcap * 2 : 256, i;
		struct open_file *nf = malloc(cap * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		for (i = 0; i < b->fcount; i++)
			nf[i] = b->files[(b->fhead + i) % b->fcap];
		free(b->files);
		b->files = nf;
		b->fcap = cap;
		b->fhead = 0;
	}
	f = &b->files[(b->fhead + b->fcount++) % b->fcap];
	f->node = n;
	f->start = b->fed;
	f->end = UINT64_MAX;
	return 0;
}

int pfs_build_file_end(struct pfs_builder *b, struct pfs_bnode *n)
{
	struct open_file *f = &b->files[(b->fhead + b->fcount - 1) % b->fcap];

	f->end = b->fed;
	n->stream_size = f->end - f->start;
	b->nfiles++;
	return 0;
}

void pfs_build_progress(struct pfs_builder *b, uint64_t bytes)
{
	struct timespec now;

	b->nbytes += bytes;
	if (!b->opts->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - b->last.tv_sec) * 1000000000ll +
	    (now.tv_nsec - b->last.tv_nsec) < 200000000ll)
		return;
	b->last = now;
	b->opts->progress(b->opts->progress_arg, b->nfiles, b->nbytes);
}

/* ---- output -------------------------------------------------------------- */

static int node_cmp(const void *x, const void *y)
{
	const struct pfs_minode *a = x, *b = y;

	return a->ino < b->ino ? -1 : a->ino > b->ino;
}

static int verity_cmp(const void *x, const void *y)
{
	return memcmp(((const struct pfs_mverity *)x)->digest,
		      ((const struct pfs_mverity *)y)->digest, PFS_DIGEST_SIZE);
}

/* Turn a file's pieces into FileChunks once their chunks are stored. */
int pfs_build_resolve(struct pfs_builder *b, struct pfs_bnode *n)
{
	uint32_t p;
	int e;

	for (p = 0; p < n->npieces; p++) {
		const struct chunk_rec *r = &b->chunks[n->pieces[p].seq];
		struct pfs_mchunk mc;

		memcpy(mc.digest, r->digest, PFS_DIGEST_SIZE);
		mc.offset = n->pieces[p].off;
		mc.len = n->pieces[p].len;
		mc.compressed = r->compressed;
		if ((e = pfs_minode_add_chunk(&n->m, &mc)))
			return e;
	}
	return 0;
}

static int resolve_pieces(struct pfs_builder *b, struct pfs_walk *w)
{
	size_t i;
	int e;

	for (i = 0; i < w->nnodes; i++)
		if ((e = pfs_build_resolve(b, w->nodes[i])))
			return e;
	return 0;
}

static int u64_cmp(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* Every inode number some directory of the new tree names, sorted. */
static uint64_t *named_inos(struct pfs_walk *w, size_t *count)
{
	size_t i, n = 1, total = 1;
	uint64_t *v;
	uint32_t d;

	for (i = 0; i < w->nnodes; i++)
		total += w->nodes[i]->m.nents;
	v = malloc(total * sizeof(*v));
	if (!v)
		return NULL;
	v[0] = PFS_ROOT_INO;
	for (i = 0; i < w->nnodes; i++)
		for (d = 0; d < w->nodes[i]->m.nents; d++)
			v[n++] = w->nodes[i]->m.ents[d].ino;
	qsort(v, n, sizeof(*v), u64_cmp);
	*count = n;
	return v;
}

/*
 * The new layer: every node that is not unchanged, plus a whiteout for each
 * base inode whose name is gone and that no directory of the new tree names
 * any more.  Directory lists are complete, so whiteouts are not needed to
 * hide names (and are not put in directory lists, which the reference's
 * reader cannot list); they record that the inode is gone.  Moves the
 * nodes' contents into the layer.
 */
static int new_layer(struct pfs_walk *w, struct pfs_mlayer *l)
{
	size_t i, n = 0, nnamed;
	uint64_t *named = named_inos(w, &nnamed), prev = 0;

	l->inodes = calloc(w->nnodes + w->nremoved + 1, sizeof(*l->inodes));
	if (!named || !l->inodes) {
		free(named);
		return -ENOMEM;
	}
	if (w->nremoved)	/* qsort(NULL, 0) is undefined */
		qsort(w->removed, w->nremoved, sizeof(*w->removed), u64_cmp);
	for (i = 0; i < w->nremoved; i++) {
		uint64_t ino = w->removed[i];

		if (ino == prev || bsearch(&ino, named, nnamed, sizeof(*named),
					   u64_cmp))
			continue;
		prev = ino;
		l->inodes[n].ino = ino;
		l->inodes[n].kind = PFS_KIND_WHT;
		l->inodes[n].perm = PFS_WHT_PERMISSIONS;
		n++;
	}
	free(named);
	for (i = 0; i < w->nnodes; i++) {
		if (w->nodes[i]->unchanged)
			continue;
		l->inodes[n++] = w->nodes[i]->m;
		memset(&w->nodes[i]->m, 0, sizeof(w->nodes[i]->m));
	}
	qsort(l->inodes, n, sizeof(*l->inodes), node_cmp);
	l->count = n;
	for (i = 1; i < n; i++)
		if (l->inodes[i].ino == l->inodes[i - 1].ino)
			return -EINVAL;
	return 0;
}

/* ---- delta: lower layers are copied as they are -------------------------- */

static int copy_data(struct pfs_cur *c, const struct pfs_rootfs *r,
		     const u8 *p, u32 len, uint8_t **out)
{
	(void)c;
	(void)r;
	*out = malloc(len ? len : 1);
	if (!*out)
		return -ENOMEM;
	if (len)
		memcpy(*out, p, len);
	return 0;
}

static int inode_to_model(struct pfs_cur *c, const struct pfs_rootfs *r,
			  const struct pfs_inode *in, struct pfs_minode *m)
{
	struct pfs_dirent de;
	struct pfs_chunk ch;
	struct pfs_xattr x;
	u32 i;
	int e = 0;

	m->ino = in->ino;
	m->kind = in->kind;
	m->perm = in->perm;
	m->uid = in->uid;
	m->gid = in->gid;
	m->major = in->major;
	m->minor = in->minor;
	m->has_mtime = in->has_mtime;
	m->mtime_sec = in->mtime_sec;
	m->mtime_nsec = in->mtime_nsec;
	m->look_below = in->look_below;
	m->has_additional = in->has_additional;
	for (i = 0; !e && in->kind == PFS_KIND_DIR && i < in->list.count; i++) {
		e = pfs_dirent_at(c, r, in, i, &de);
		if (!e)
			e = pfs_minode_add_dirent(m, de.ino, de.name, de.name_len);
	}
	for (i = 0; !e && in->kind == PFS_KIND_FILE && i < in->list.count; i++) {
		struct pfs_mchunk mc;

		e = pfs_file_chunk(c, r, in, i, &ch);
		if (e)
			break;
		memcpy(mc.digest, ch.digest, PFS_DIGEST_SIZE);
		mc.offset = ch.offset;
		mc.len = ch.len;
		mc.compressed = ch.compressed;
		e = pfs_minode_add_chunk(m, &mc);
	}
	if (!e && in->xattrs.count) {
		m->xattrs = calloc(in->xattrs.count, sizeof(*m->xattrs));
		if (!m->xattrs)
			return -ENOMEM;
	}
	for (i = 0; !e && i < in->xattrs.count; i++) {
		e = pfs_xattr_at(c, r, in, i, &x);
		if (!e)
			e = copy_data(c, r, x.key, x.key_len, &m->xattrs[i].key);
		if (!e)
			e = copy_data(c, r, x.val, x.val_len, &m->xattrs[i].val);
		if (!e) {
			m->xattrs[i].key_len = x.key_len;
			m->xattrs[i].val_len = x.val_len;
			m->nxattrs++;
		}
	}
	if (!e && in->target) {
		e = copy_data(c, r, in->target, in->target_len, &m->target);
		m->target_len = in->target_len;
		m->has_target = true;
	}
	return e;
}

static int copy_layers(struct pfs_image *base, struct pfs_mlayer *out)
{
	const struct pfs_rootfs *r = &base->rfs;
	struct pfs_inode in;
	struct pfs_cur c;
	u32 l, i;
	int e = 0;

	for (l = 0; l < r->nlayers && !e; l++) {
		u32 n = r->layers[l].inodes.count;

		out[l].inodes = calloc(n ? n : 1, sizeof(*out[l].inodes));
		if (!out[l].inodes)
			return -ENOMEM;
		for (i = 0; i < n && !e; i++) {
			pfs_cur_init(&c, &r->msg);
			e = pfs_layer_inode(&c, r, l, i, &in);
			if (!e)
				e = inode_to_model(&c, r, &in, &out[l].inodes[i]);
			out[l].count = i + 1;
		}
	}
	return e;
}

static uint64_t base_max_ino(const struct pfs_image *base)
{
	uint64_t max = PFS_ROOT_INO;
	u32 l;

	for (l = 0; l < base->rfs.nlayers; l++)
		if (base->rfs.layers[l].max_ino > max)
			max = base->rfs.layers[l].max_ino;
	return max;
}

/* fsVerityData: one entry per distinct blob, sorted by digest. */
static int verity_list(struct pfs_builder *b, struct pfs_image *base,
		       struct pfs_mverity **out, size_t *count)
{
	size_t n = b->blobs.n, i, k;
	u32 nb = base ? base->rfs.verity.count : 0, j;
	struct pfs_mverity *v = malloc((n + nb + 1) * sizeof(*v));
	struct pfs_cur c;

	if (!v)
		return -ENOMEM;
	if (n)
		memcpy(v, b->blobs.v, n * sizeof(*v));
	if (base)
		pfs_cur_init(&c, &base->rfs.msg);
	for (j = 0; j < nb; j++) {
		const u8 *d, *vd;

		if (pfs_verity_at(&c, &base->rfs, j, &d, &vd)) {
			free(v);
			return -EIO;
		}
		memcpy(v[n].digest, d, PFS_DIGEST_SIZE);
		memcpy(v[n++].verity, vd, PFS_DIGEST_SIZE);
	}
	qsort(v, n, sizeof(*v), verity_cmp);
	for (i = k = 0; i < n; i++)
		if (!k || memcmp(v[k - 1].digest, v[i].digest, PFS_DIGEST_SIZE))
			v[k++] = v[i];
	*out = v;
	*count = k;
	return 0;
}

static json_t *descriptor(const uint8_t *digest, uint64_t size,
			  const char *media, bool zstd)
{
	char d[7 + 2 * PFS_DIGEST_SIZE + 1] = "sha256:", mt[128];

	pfs_hex(digest, PFS_DIGEST_SIZE, d + 7);
	snprintf(mt, sizeof(mt), "%s%s", media, zstd ? PFS_MEDIA_ZSTD_SUFFIX : "");
	return json_pack("{s:s,s:s,s:I}", "digest", d, "mediaType", mt, "size",
			 (json_int_t)size);
}

/* Chunk layers: the base's (delta), then this build's in chunk order; each
 * blob once. */
static int chunk_layers(struct pfs_builder *b, struct pfs_image *base,
			json_t *layers)
{
	struct digest_set seen = { 0 };
	uint8_t none[PFS_DIGEST_SIZE] = { 0 };
	uint64_t s;
	size_t i;
	int e = 0;

	for (i = 0; base && i < base->manifest.nchunks && !e; i++) {
		const struct pfs_desc *d = &base->manifest.chunks[i];

		if (ds_find(&seen, d->digest))
			continue;
		e = ds_add(&seen, d->digest, none);
		if (!e && json_array_append_new(layers, descriptor(d->digest,
				d->size, PFS_MEDIA_CHUNK,
				base->manifest.chunk_zstd[i])))
			e = -ENOMEM;
	}
	for (s = 0; s < b->next_seq && !e; s++) {
		const struct chunk_rec *r = &b->chunks[s];

		if (ds_find(&seen, r->digest))
			continue;
		e = ds_add(&seen, r->digest, none);
		if (!e && json_array_append_new(layers, descriptor(r->digest,
				r->stored, PFS_MEDIA_CHUNK, b->opts->compress)))
			e = -ENOMEM;
	}
	ds_free(&seen);
	return e;
}

static int put_blob(struct pfs_oci *oci, const void *data, size_t len,
		    uint8_t digest[PFS_DIGEST_SIZE])
{
	pfs_sha256(data, len, digest);
	return pfs_oci_blob_put(oci, digest, data, len);
}

/*
 * The image config: the empty descriptor (and its "{}" blob, which skopeo
 * and friends expect), or an OCI image config (import: the source's
 * runtime config) whose rootfs.diff_ids name the one rootfs blob.
 */
static int put_config(struct pfs_builder *b, json_t *config,
		      const uint8_t *rootfs_digest, json_t **desc)
{
	char d[7 + 2 * PFS_DIGEST_SIZE + 1] = "sha256:";
	uint8_t digest[PFS_DIGEST_SIZE];
	struct pfs_buf buf = { 0 };
	json_t *c;
	int e;

	if (!config) {
		e = put_blob(b->oci, "{}", 2, digest);
		*desc = e ? NULL : json_pack("{s:s,s:s,s:s,s:i}", "data", "e30=",
					     "digest", "sha256:" PFS_EMPTY_DIGEST,
					     "mediaType", PFS_MEDIA_EMPTY,
					     "size", 2);
		return e ? e : *desc ? 0 : -ENOMEM;
	}
	pfs_hex(rootfs_digest, PFS_DIGEST_SIZE, d + 7);
	c = json_deep_copy(config);
	if (!c || json_object_set_new(c, "rootfs", json_pack("{s:s,s:[s]}",
			"type", "layers", "diff_ids", d))) {
		json_decref(c);
		return -ENOMEM;
	}
	e = pfs_json_canonical(c, &buf);
	json_decref(c);
	if (!e)
		e = put_blob(b->oci, buf.data, buf.len, digest);
	if (!e) {
		pfs_hex(digest, PFS_DIGEST_SIZE, d + 7);
		*desc = json_pack("{s:s,s:s,s:I}", "digest", d, "mediaType",
				  PFS_MEDIA_CONFIG, "size", (json_int_t)buf.len);
		e = *desc ? 0 : -ENOMEM;
	}
	pfs_buf_free(&buf);
	return e;
}

int pfs_build_write(struct pfs_builder *b, struct pfs_image *base,
		    struct pfs_mlayer *layers, size_t nlayers,
		    const struct pfs_build_meta *meta, const char *tag,
		    uint8_t *manifest_verity)
{
	uint8_t rootfs_digest[PFS_DIGEST_SIZE], rootfs_verity[PFS_DIGEST_SIZE];
	char vhex[2 * PFS_DIGEST_SIZE + 1];
	struct pfs_buf rootfs = { 0 }, mbuf = { 0 };
	struct pfs_mverity *verity = NULL;
	struct pfs_desc mdesc;
	size_t nverity;
	json_t *man = NULL, *layers_json, *rd, *config = NULL;
	int e;

	e = verity_list(b, base, &verity, &nverity);
	if (!e)
		e = pfs_rootfs_encode(layers, nlayers, verity, nverity, &rootfs);
	free(verity);
	if (e)
		goto out;
	e = put_blob(b->oci, rootfs.data, rootfs.len, rootfs_digest);
	if (e)
		goto out;
	e = pfs_verity_digest(rootfs.data, rootfs.len, rootfs_verity);
	if (e)
		goto out;
	pfs_hex(rootfs_verity, PFS_DIGEST_SIZE, vhex);

	e = put_config(b, meta ? meta->config : NULL, rootfs_digest, &config);
	if (e)
		goto out;
	e = -ENOMEM;
	man = json_pack("{s:o,s:[],s:i}", "config", config, "layers",
			"schemaVersion", 2);
	config = NULL;
	layers_json = json_object_get(man, "layers");
	rd = descriptor(rootfs_digest, rootfs.len, PFS_MEDIA_ROOTFS, false);
	if (!man || !rd || json_object_set_new(rd, "annotations",
			json_pack("{s:s}", PFS_ANNOT_VERITY, vhex)) ||
	    json_array_append_new(layers_json, rd))
		goto out;
	e = chunk_layers(b, base, layers_json);
	if (!e)
		e = pfs_json_canonical(man, &mbuf);
	if (!e)
		e = put_blob(b->oci, mbuf.data, mbuf.len, mdesc.digest);
	if (e)
		goto out;
	mdesc.size = mbuf.len;
	e = pfs_verity_digest(mbuf.data, mbuf.len, manifest_verity);
	/* Every blob is durable and named before the tag points at them. */
	if (!e)
		e = pfs_oci_sync(b->oci);
	if (!e)
		e = pfs_oci_tag_put(b->oci, tag, &mdesc,
				    meta ? meta->platform : NULL, NULL, NULL);
out:
	json_decref(config);
	json_decref(man);
	pfs_buf_free(&rootfs);
	pfs_buf_free(&mbuf);
	return e;
}

/* The frame sizes of a seekable blob: its first frame's and whether it
 * has more than one.  0 if the blob is not seekable zstd (chunks that did
 * not shrink are stored raw under a +zstd media type). */
static uint32_t blob_first_frame(struct pfs_oci *oci, const uint8_t *digest,
				 bool *more)
{
	uint8_t foot[PFS_SEEK_FOOTER_LEN], *table = NULL;
	struct pfs_seektable st;
	uint64_t table_len;
	uint32_t first = 0;
	struct stat sb;
	int fd;

	fd = pfs_oci_blob_open(oci, digest);
	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) || sb.st_size < PFS_SEEK_FOOTER_LEN ||
	    pfs_pread_full(fd, foot, sizeof(foot),
			   sb.st_size - PFS_SEEK_FOOTER_LEN) != sizeof(foot) ||
	    pfs_seektable_footer(foot, (uint64_t)sb.st_size, &table_len) ||
	    table_len > (1u << 20))
		goto out;
	table = malloc(table_len);
	if (table && pfs_pread_full(fd, table, table_len,
				    sb.st_size - (off_t)table_len) ==
		     (ssize_t)table_len &&
	    !pfs_seektable_parse(table, table_len, (uint64_t)sb.st_size, &st) &&
	    st.nframes) {
		first = pfs_seek_dsize(&st, 0);
		*more = st.nframes > 1;
	}
out:
	free(table);
	close(fd);
	return first;
}

/*
 * A chunk is stored once for every build that cuts it and compresses it the
 * same way: the blob's name is the digest of its compressed bytes.  So a
 * delta build -c follows its base's frame size when not told one (4 KiB on
 * a base the reference built), as the newest of the base's compressed
 * chunks show it: the first frame of a blob of several frames; one frame
 * bigger than our default means one frame per chunk.
 */
static uint32_t base_frame(struct pfs_oci *oci, const struct pfs_image *base)
{
	const struct pfs_manifest *m = &base->manifest;
	uint32_t single = 0, probed = 0;
	size_t i;

	for (i = m->nchunks; i-- > 0 && probed < BASE_PROBE;) {
		bool more = false;
		uint32_t first;

		if (!m->chunk_zstd[i])
			continue;
		probed++;
		first = blob_first_frame(oci, m->chunks[i].digest, &more);
		/* The base is input too: a frame of a few bytes would make
		 * this build crawl, so such a base is not followed. */
		if (more)
			return first < BASE_FRAME_MIN ? 0 :
			       first > PFS_CDC_MAX ? PFS_CDC_MAX : first;
		if (first > single)
			single = first;
	}
	return single > BUILD_FRAME ? PFS_CDC_MAX : 0;
}

/* ---- mtimes ------------------------------------------------------------ */

void pfs_mtime_apply(const struct pfs_mtime_policy *p, struct pfs_minode *m,
		     int64_t sec, uint32_t nsec)
{
	m->has_mtime = p->mode != PFS_MTIME_NONE;
	m->mtime_sec = m->has_mtime ? sec : 0;
	m->mtime_nsec = m->has_mtime ? nsec : 0;
	if (p->mode == PFS_MTIME_FIXED) {
		m->mtime_sec = p->fixed;
		m->mtime_nsec = 0;
	}
	/* SOURCE_DATE_EPOCH: times later than it become it. */
	if (m->has_mtime && p->clamp &&
	    (m->mtime_sec > p->clamp_to ||
	     (m->mtime_sec == p->clamp_to && m->mtime_nsec))) {
		m->mtime_sec = p->clamp_to;
		m->mtime_nsec = 0;
	}
}

/*
 * By default a delta stores mtimes if its base does (its root has one):
 * on a base without (the reference's, or --mtime none), mtimes would make
 * every inode differ from the base's, and the delta the whole tree.
 */
static int mtime_policy(const struct pfs_build_opts *o, struct pfs_image *base,
			struct pfs_mtime_policy *p)
{
	struct pfs_cinode root;
	int e;

	p->mode = o->mtime;
	p->fixed = o->mtime_fixed;
	p->clamp = o->clamp_mtime;
	p->clamp_to = o->mtime_clamp;
	if ((unsigned)p->mode > PFS_MTIME_NONE)
		return pfs_errf(o->log, EINVAL, "unknown mtime mode %d",
				(int)p->mode);
	if (p->mode != PFS_MTIME_DEFAULT)
		return 0;
	p->mode = PFS_MTIME_SOURCE;
	if (!base)
		return 0;
	e = pfs_image_inode(base, PFS_ROOT_INO, &root);
	if (e)
		return e;
	if (!root.in.has_mtime)
		p->mode = PFS_MTIME_NONE;
	return 0;
}

static int builder_init(struct pfs_builder *b, const struct pfs_build_opts *o,
			struct pfs_oci *oci)
{
	b->opts = o;
	b->log = o->log;
	b->oci = oci;
	b->level = o->zstd_level ? o->zstd_level : PFS_ZSTD_LEVEL;
	b->frame = o->zstd_frame ? o->zstd_frame : BUILD_FRAME;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->has_job, NULL);
	pthread_cond_init(&b->has_space, NULL);
	pthread_cond_init(&b->idle, NULL);
	if (pfs_cdc_params_init(&b->cdc, PFS_CDC_MIN, PFS_CDC_AVG, PFS_CDC_MAX, 1))
		return -EINVAL;
	/* A seed per build keeps raw_key's collisions from being precomputed
	 * (they would only cost checks; see reuse_chunk). */
	b->raw_seed = pfs_random_seed();
	if (b->level < ZSTD_minCLevel() || b->level > ZSTD_maxCLevel())
		return pfs_errf(b->log, EINVAL, "zstd level %d out of range",
				b->level);
	b->cur = sbuf_get(b);
	if (!b->cur)
		return -ENOMEM;
	return start_workers(b);
}

static void builder_free(struct pfs_builder *b)
{
	stop_workers(b);
	sbuf_put(b, b->cur);
	while (b->spare) {
		struct sbuf *sb = b->spare;

		b->spare = sb->next;
		free(sb->data);
		free(sb);
	}
	pfs_chunk_check_free(&b->same);
	free(b->files);
	free(b->ring);
	free(b->threads);
	free(b->chunks);
	ds_free(&b->blobs);
	pfs_u64map_free(&b->raws);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->has_job);
	pthread_cond_destroy(&b->has_space);
	pthread_cond_destroy(&b->idle);
}

int pfs_builder_new(const struct pfs_build_opts *o, struct pfs_oci *oci,
		    struct pfs_builder **out)
{
	struct pfs_builder *b = calloc(1, sizeof(*b));
	int e;

	if (!b)
		return -ENOMEM;
	e = builder_init(b, o, oci);
	if (e) {
		builder_free(b);
		free(b);
		return e;
	}
	*out = b;
	return 0;
}

void pfs_builder_free(struct pfs_builder *b)
{
	if (!b)
		return;
	builder_free(b);
	free(b);
}

/* The stream ends here for now: what was fed is cut and stored, so that the
 * next byte starts a chunk (a layer's chunks do not depend on what follows
 * it) and every piece fed so far can be resolved. */
int pfs_build_cut(struct pfs_builder *b)
{
	int e = stream_finish(b);

	return e ? e : drain(b);
}

void pfs_build_get_stats(const struct pfs_builder *b,
			 struct pfs_build_stats *st)
{
	*st = (struct pfs_build_stats){
		.files = b->nfiles, .bytes = b->nbytes, .chunks = b->next_seq,
		.blobs = b->blobs.n, .repeats = b->repeats,
	};
}

int pfs_build(const char *rootfs, const char *oci_dir, const char *tag,
	      const struct pfs_build_opts *opts,
	      uint8_t manifest_verity[PFS_DIGEST_SIZE])
{
	struct pfs_build_opts defaults = { 0 }, own;
	struct pfs_builder b = { 0 };
	struct pfs_walk w = { 0 };
	struct pfs_image *base = NULL;
	struct pfs_mlayer *layers = NULL;
	size_t nlayers = 1, i;
	struct pfs_oci *oci;
	int e;

	if (!opts)
		opts = &defaults;
	if ((e = pfs_tag_check(opts->log, tag)) ||
	    (opts->base_tag && (e = pfs_tag_check(opts->log, opts->base_tag))))
		return e;
	e = pfs_oci_open(oci_dir, true, opts->log, &oci);
	if (e)
		return e;
	e = pfs_oci_lock(oci);
	if (!e && opts->base_tag) {
		struct pfs_image_opts io = { .log = opts->log };

		e = pfs_image_open_oci(oci, opts->base_tag, &io, &base);
		if (!e)
			e = pfs_image_chunk_layers(base);
		if (!e) {
			w.base = base;
			w.next_ino = base_max_ino(base) + 1;
			nlayers += base->rfs.nlayers;
		}
	}
	if (!e)
		e = mtime_policy(opts, base, &w.mtime);
	if (!e && base && opts->compress && !opts->zstd_frame) {
		own = *opts;
		own.zstd_frame = base_frame(oci, base);
		opts = &own;
	}
	if (!e)
		e = builder_init(&b, opts, oci);
	if (e)
		goto out;
	w.b = &b;
	w.log = opts->log;
	e = pfs_walk(&w, rootfs);
	if (!e)
		e = stream_finish(&b);
	if (!e)
		e = drain(&b);
	stop_workers(&b);
	if (!e)
		e = resolve_pieces(&b, &w);
	layers = calloc(nlayers, sizeof(*layers));
	if (!e && !layers)
		e = -ENOMEM;
	if (!e)
		e = new_layer(&w, &layers[0]);
	if (!e && base)
		e = copy_layers(base, layers + 1);
	if (!e)
		e = pfs_build_write(&b, base, layers, nlayers, NULL, tag,
				    manifest_verity);
	if (opts->progress && !e)
		opts->progress(opts->progress_arg, b.nfiles, b.nbytes);
	if (opts->stats && !e)
		*opts->stats = (struct pfs_build_stats){
			.files = b.nfiles, .bytes = b.nbytes,
			.chunks = b.next_seq, .blobs = b.blobs.n,
			.repeats = b.repeats,
		};
out:
	if (e == -ENOMEM)
		pfs_errf(opts->log, ENOMEM, "out of memory");
	for (i = 0; layers && i < nlayers; i++)
		pfs_mlayer_free(&layers[i]);
	free(layers);
	pfs_walk_free(&w);
	builder_free(&b);
	pfs_image_close(base);
	pfs_oci_close(oci);
	return e;
}
