// SPDX-License-Identifier: MIT
/*
 * A blob as a blocking stream (for tar-layer import): the transfer fills a
 * ring buffer on the engine thread and pauses when it is full; the reader
 * drains it and resumes the transfer.  The sha256 is taken as bytes
 * arrive; the end of the stream is reported only once it matches.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "remote/registry.h"

#define RING (1u << 20)
#define RESUME_ROOM (256u << 10)	/* free space that resumes a pause */

struct pfs_reg_stream {
	struct pfs_reg_call call;
	struct pfs_registry *reg;
	pthread_mutex_t m;
	pthread_cond_t cv;
	uint8_t *ring;
	size_t head, len;		/* unread bytes: [head, head + len) */
	bool paused, finished;
	int err;			/* at the end: 0 or why not */
	struct pfs_sha256_ctx *sha;
	uint64_t got, size;
	uint8_t digest[PFS_DIGEST_SIZE];
};

static int stream_sink(void *arg, const void *data, size_t len)
{
	struct pfs_reg_stream *s = arg;
	size_t tail, first;

	if (s->got + len > s->size)
		return -EFBIG;
	pthread_mutex_lock(&s->m);
	if (RING - s->len < len) {
		s->paused = true;
		pthread_mutex_unlock(&s->m);
		return PFS_HTTP_PAUSE;
	}
	tail = (s->head + s->len) % RING;
	first = RING - tail < len ? RING - tail : len;
	memcpy(s->ring + tail, data, first);
	memcpy(s->ring, (const uint8_t *)data + first, len - first);
	s->len += len;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->m);
	pfs_sha256_update(s->sha, data, len);
	s->got += len;
	return 0;
}

static void stream_done(struct pfs_reg_call *c)
{
	struct pfs_reg_stream *s = c->arg;
	uint8_t got[PFS_DIGEST_SIZE];
	char what[100], hex[65];
	int e = 0;

	pfs_hex(s->digest, PFS_DIGEST_SIZE, hex);
	snprintf(what, sizeof(what), "blob sha256:%s", hex);
	if (c->req.err == -EFBIG)
		e = pfs_errf(pfs_registry_log(s->reg), EIO, "%s: %s: more "
			     "bytes than its size, %llu", pfs_registry_host(s->reg),
			     what, (unsigned long long)s->size);
	else if (c->req.err || c->req.status / 100 != 2)
		e = pfs_reg_failure(c, what);
	if (!e) {
		pfs_sha256_final(s->sha, got);
		if (s->got != s->size || memcmp(got, s->digest, PFS_DIGEST_SIZE))
			e = pfs_errf(pfs_registry_log(s->reg), EIO,
				     "%s: %s: %s", pfs_registry_host(s->reg),
				     what, s->got != s->size ?
				     "shorter than its size" :
				     "content does not match its digest");
	}
	pthread_mutex_lock(&s->m);
	s->err = e;
	s->finished = true;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->m);
}

int pfs_reg_stream_open(struct pfs_registry *reg, const char *repo,
			const uint8_t *digest, uint64_t size,
			enum pfs_http_prio prio, struct pfs_reg_stream **out)
{
	struct pfs_reg_stream *s = calloc(1, sizeof(*s));
	int e;

	if (!s)
		return -ENOMEM;
	s->reg = reg;
	s->size = size;
	memcpy(s->digest, digest, PFS_DIGEST_SIZE);
	s->ring = malloc(RING);
	s->sha = pfs_sha256_new();
	pthread_mutex_init(&s->m, NULL);
	pthread_cond_init(&s->cv, NULL);
	e = s->ring && s->sha ? 0 : -ENOMEM;
	if (!e)
		e = pfs_reg_blob_get(&s->call, reg, repo, digest, 0, 0,
				     stream_sink, s);
	if (e) {
		s->finished = true;
		pfs_reg_stream_close(s);
		return e;
	}
	s->call.req.prio = prio;
	s->call.done = stream_done;
	s->call.arg = s;
	pfs_reg_submit(&s->call);
	*out = s;
	return 0;
}

ssize_t pfs_reg_stream_read(struct pfs_reg_stream *s, void *buf, size_t len)
{
	size_t n, first;
	bool resume = false;

	pthread_mutex_lock(&s->m);
	while (!s->len && !s->finished)
		pthread_cond_wait(&s->cv, &s->m);
	if (!s->len) {
		int e = s->err;

		pthread_mutex_unlock(&s->m);
		return e;
	}
	n = len < s->len ? len : s->len;
	first = RING - s->head < n ? RING - s->head : n;
	memcpy(buf, s->ring + s->head, first);
	memcpy((uint8_t *)buf + first, s->ring, n - first);
	s->head = (s->head + n) % RING;
	s->len -= n;
	if (s->paused && RING - s->len >= RESUME_ROOM) {
		s->paused = false;
		resume = true;
	}
	pthread_mutex_unlock(&s->m);
	if (resume)
		pfs_reg_unpause(&s->call);
	return (ssize_t)n;
}

void pfs_reg_stream_close(struct pfs_reg_stream *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->m);
	if (!s->finished) {
		pthread_mutex_unlock(&s->m);
		pfs_reg_cancel(&s->call);
		pthread_mutex_lock(&s->m);
		while (!s->finished)
			pthread_cond_wait(&s->cv, &s->m);
	}
	pthread_mutex_unlock(&s->m);
	pfs_reg_call_clear(&s->call);
	pthread_mutex_destroy(&s->m);
	pthread_cond_destroy(&s->cv);
	pfs_sha256_free(s->sha);
	free(s->ring);
	free(s);
}
