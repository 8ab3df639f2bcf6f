// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>
#include <time.h>

#include "remote/transfer.h"

#define REPORT_MS 250

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void pfs_xfer_init(struct pfs_xfer *x, const struct pfs_transfer_opts *o)
{
	memset(x, 0, sizeof(*x));
	pthread_mutex_init(&x->m, NULL);
	pthread_cond_init(&x->cv, NULL);
	x->o = o;
	x->ready_tail = &x->ready;
}

void pfs_xfer_destroy(struct pfs_xfer *x)
{
	pthread_mutex_destroy(&x->m);
	pthread_cond_destroy(&x->cv);
}

size_t pfs_xfer_window(const struct pfs_remote_opts *o)
{
	return (o->jobs ? o->jobs : 16) * 4;
}

static void counts(struct pfs_xfer *x, struct pfs_transfer_stats *st)
{
	struct pfs_http_stats hs;

	*st = x->st;
	if (x->reg) {
		pfs_registry_stats(x->reg, &hs);
		st->requests = hs.requests;
		st->retries = hs.retries;
	}
}

/* Called with @m held; drops it around the callback. */
static void report(struct pfs_xfer *x, bool force)
{
	struct pfs_transfer_stats st;
	uint64_t now;

	if (!x->o->progress)
		return;
	now = now_ms();
	if (!force && now < x->next_report)
		return;
	x->next_report = now + REPORT_MS;
	counts(x, &st);
	pthread_mutex_unlock(&x->m);
	x->o->progress(x->o->progress_arg, &st);
	pthread_mutex_lock(&x->m);
}

/* Run what callbacks left for this thread (@m held, dropped meanwhile). */
static bool run_ready(struct pfs_xfer *x)
{
	struct pfs_xfer_item *it = x->ready, *next;

	if (!it)
		return false;
	x->ready = NULL;
	x->ready_tail = &x->ready;
	pthread_mutex_unlock(&x->m);
	for (; it; it = next) {
		next = it->next;
		it->fn(it);
	}
	pthread_mutex_lock(&x->m);
	return true;
}

void pfs_xfer_defer(struct pfs_xfer *x, struct pfs_xfer_item *it)
{
	pthread_mutex_lock(&x->m);
	it->next = NULL;
	*x->ready_tail = it;
	x->ready_tail = &it->next;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->m);
}

static void wait_a_while(struct pfs_xfer *x)
{
	struct timespec ts;

	if (run_ready(x))
		return;
	if (!x->o->progress) {
		pthread_cond_wait(&x->cv, &x->m);
		run_ready(x);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += REPORT_MS * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&x->cv, &x->m, &ts);
	run_ready(x);
	report(x, false);
}

bool pfs_xfer_start(struct pfs_xfer *x, size_t window)
{
	bool ok;

	pthread_mutex_lock(&x->m);
	while (x->outstanding >= window && !x->err)
		wait_a_while(x);
	ok = !x->err;
	if (ok)
		x->outstanding++;
	report(x, false);
	pthread_mutex_unlock(&x->m);
	return ok;
}

void pfs_xfer_end(struct pfs_xfer *x, int err, uint64_t bytes,
		  uint64_t *how, uint64_t moved_bytes)
{
	pthread_mutex_lock(&x->m);
	x->outstanding--;
	if (err && !x->err)
		x->err = err;
	if (!err) {
		x->st.blobs_done++;
		x->st.bytes_done += bytes;
		if (how)
			++*how;
		x->st.bytes_moved += moved_bytes;
	}
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->m);
}

int pfs_xfer_wait(struct pfs_xfer *x)
{
	int e;

	pthread_mutex_lock(&x->m);
	while (x->outstanding)
		wait_a_while(x);
	e = x->err;
	pthread_mutex_unlock(&x->m);
	return e;
}

void pfs_xfer_finish(struct pfs_xfer *x)
{
	pthread_mutex_lock(&x->m);
	report(x, true);
	if (x->o->stats)
		counts(x, x->o->stats);
	pthread_mutex_unlock(&x->m);
}
