/* SPDX-License-Identifier: MIT */
/*
 * The transfer engine: one libcurl multi handle driven by a thread of its
 * own, which every request of a session goes through.
 *
 * - Persistent connections (the multi's pool), HTTP/2 where the server
 *   offers it over TLS (transfers multiplexed on one connection), one
 *   share object for DNS and TLS sessions: one TLS context per session.
 * - At most `parallel` transfers at once, picked by priority (DEMAND before
 *   NORMAL before PREFETCH, FIFO within one), PREFETCH transfers capped
 *   below that so that a demand read always finds a slot soon.
 * - Retries with bounded exponential backoff (Retry-After honoured, up to
 *   a cap) on connection failures, resets, stalls, 429 and 5xx; a GET that
 *   already delivered bytes resumes with a Range request, so its sink sees
 *   one unbroken stream.  Uploads are retried only when the caller marks
 *   the request idempotent (their body is rewound).
 * - Redirects of GET and HEAD are followed here (at most 5), so that the
 *   Authorization value goes only to the origin it was meant for: never
 *   to blob storage on another scheme, host or port.
 * - A deadline per request (queueing, attempts and backoff included).
 *
 * Any thread may submit; completions (and sinks) run on the engine thread
 * and must not block: they may submit more requests.  A request is owned
 * by its submitter and is not touched by the engine after its done
 * callback returned.
 */
#ifndef PUZZLEFS_REMOTE_HTTP_H
#define PUZZLEFS_REMOTE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "remote/tls.h"
#include "util.h"

enum pfs_http_prio {
	PFS_PRIO_DEMAND,		/* someone waits for it (a read) */
	PFS_PRIO_NORMAL,		/* push, pull */
	PFS_PRIO_PREFETCH,		/* background fill */
	PFS_PRIO_COUNT
};

/* A sink's answer that pauses the transfer: the same bytes come again
 * after pfs_http_unpause(). */
#define PFS_HTTP_PAUSE 1

struct pfs_http_opts {
	const struct pfs_log *log;
	unsigned parallel;		/* transfers at once (0: 16) */
	unsigned prefetch_parallel;	/* of which PREFETCH (0: 3/4) */
	bool no_tls_verify;		/* --tls-verify=false */
	const struct pfs_tls *tls;	/* CAs, client certificate (may be
					 * NULL; must outlive the engine) */
	bool http1;			/* never HTTP/2 */
	unsigned attempts;		/* tries of a transient failure (0: 5) */
	unsigned backoff_ms;		/* first retry delay (0: 250) */
	unsigned connect_timeout_ms;	/* 0: 10 s */
	unsigned stall_ms;		/* no byte for this long: retry (0: 30 s) */
};

struct pfs_http_req;

/* Where a request's 2xx response body goes: 0, PFS_HTTP_PAUSE, or a
 * negative errno that ends the request (not retried). */
typedef int (*pfs_http_sink)(void *arg, const void *data, size_t len);

struct pfs_http_req {
	/* ---- set by the submitter (pfs_http_req_init zeroes them) ---- */
	const char *method;		/* "GET", "HEAD", "PUT", "POST", ... */
	char *url;			/* owned: pfs_http_req_url() */
	struct curl_slist *headers;	/* owned: pfs_http_req_header() */
	char *auth;			/* owned: Authorization value, sent to
					 * the URL's origin only */
	/* Upload body: memory, or @body_fd from @body_off. */
	const uint8_t *body;
	int body_fd;
	uint64_t body_off, body_len;
	bool has_body;
	bool idempotent;		/* may be retried (GET/HEAD always) */
	/* GET: the byte range wanted (@range_len 0: to the end). */
	uint64_t range_off, range_len;
	pfs_http_sink sink;
	void *sink_arg;
	enum pfs_http_prio prio;
	unsigned timeout_ms;		/* whole request; 0: none */
	void (*done)(struct pfs_http_req *req);
	void *arg;

	/* ---- results, valid in done ---- */
	int err;			/* 0: an HTTP answer in @status */
	long status;
	char errmsg[512];		/* why, when @err (no credentials) */
	unsigned attempts;		/* transfers made (retries + 1) */
	uint64_t delivered;		/* body bytes given to the sink */
	/* Response headers of the last answer, "Name: value\0" each. */
	struct pfs_buf hdrs;
	/* Non-2xx response body (the registry's error JSON), bounded. */
	struct pfs_buf errbody;

	/* ---- engine-private ---- */
	struct pfs_http_req *prev, *next;
	int state;
	void *easy;
	struct curl_slist *sent_headers;
	char *cur_url;			/* after redirects */
	unsigned redirects;
	uint64_t deadline, due;		/* monotonic ms */
	uint64_t body_pos;		/* upload position */
	uint64_t resp_pos, want_pos, want_end;
	int sink_err;
	bool cancel, paused, unpause, no_auth, need_reset;
};

struct pfs_http;

struct pfs_http_stats {
	uint64_t requests;		/* transfers started */
	uint64_t retries;
	uint64_t bytes_up, bytes_down;	/* bodies */
};

int pfs_http_new(const struct pfs_http_opts *opts, struct pfs_http **out);
/* Ends every request still queued or running (done with -ECANCELED),
 * then the thread. */
void pfs_http_free(struct pfs_http *h);

void pfs_http_req_init(struct pfs_http_req *r, const char *method);
/* Frees what the request owns; results included. */
void pfs_http_req_clear(struct pfs_http_req *r);
/* Replace the URL / add a header ("Name: value") / set the auth value;
 * -ENOMEM. */
int pfs_http_req_url(struct pfs_http_req *r, const char *url);
int pfs_http_req_header(struct pfs_http_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int pfs_http_req_auth(struct pfs_http_req *r, const char *value);

/* Queue @r (again, after a done: results are reset).  Thread-safe. */
void pfs_http_submit(struct pfs_http *h, struct pfs_http_req *r);
/* End @r soon with -ECANCELED if it has not ended; done runs either way. */
void pfs_http_cancel(struct pfs_http *h, struct pfs_http_req *r);
/* Resume a transfer its sink paused. */
void pfs_http_unpause(struct pfs_http *h, struct pfs_http_req *r);
/* Is the calling thread the engine's (where waiting would deadlock)? */
bool pfs_http_on_engine(const struct pfs_http *h);
void pfs_http_stats(struct pfs_http *h, struct pfs_http_stats *st);

/* The value of response header @name (case-insensitive), the first one
 * after @after (NULL: from the start); NULL if none. */
const char *pfs_http_header(const struct pfs_http_req *r, const char *name,
			    const char *after);

/* @url without its query and fragment (which may carry signatures), for
 * messages; into @out of @size bytes. */
void pfs_http_url_for_log(const char *url, char *out, size_t size);
/* Is @a the same origin (scheme, host, port) as @b? */
bool pfs_http_same_origin(const char *a, const char *b);
/* Resolve @location (a Location header, absolute or relative) against
 * @base into a new absolute http(s) URL in *@out: -EINVAL if it is not
 * one (bad syntax, another scheme, control characters, over 8 KiB). */
int pfs_http_resolve(const char *base, const char *location, char **out);
/* "bytes START-END/TOTAL" (TOTAL may be "*"): 0 and the numbers, or
 * -EINVAL. */
int pfs_http_content_range(const char *v, uint64_t *start, uint64_t *end);
/* Seconds of a Retry-After header (delta-seconds only), or -1. */
long pfs_http_retry_after(const char *v);

#endif
