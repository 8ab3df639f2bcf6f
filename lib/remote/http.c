// SPDX-License-Identifier: MIT
/* The transfer engine (see http.h): one curl multi handle, one thread. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "remote/http.h"

#define MAX_HEADERS (64u << 10)		/* response header bytes kept */
#define MAX_ERRBODY (64u << 10)		/* error body bytes kept */
#define MAX_REDIRECTS 5
#define MAX_URL (8u << 10)
#define BACKOFF_CAP_MS 8000
#define RETRY_AFTER_CAP_S 10

enum { ST_NEW, ST_INCOMING, ST_PENDING, ST_WAITING, ST_ACTIVE, ST_DONE };

struct rlist {
	struct pfs_http_req *first, *last;
};

struct pfs_http {
	struct pfs_http_opts o;
	CURLM *multi;
	CURLSH *share;
	pthread_t thread;
	bool thread_on;

	/* Shared with the submitters. */
	pthread_mutex_t lock;
	struct rlist incoming;
	struct pfs_http_req **ctl;	/* cancel / unpause asked */
	size_t nctl, ctl_cap;
	bool stop;

	/* The engine thread's own. */
	struct rlist pending[PFS_PRIO_COUNT];
	struct rlist waiting;		/* retries, by due time */
	struct rlist active;
	unsigned nactive, nactive_prio[PFS_PRIO_COUNT];
	size_t ndeadline;		/* pending with a deadline */
	uint64_t deadline_scan;
	CURL **pool;
	size_t npool, pool_cap;

	_Atomic uint64_t requests, retries, up, down;
};

/* ---- small helpers --------------------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void rl_add(struct rlist *l, struct pfs_http_req *r)
{
	r->next = NULL;
	r->prev = l->last;
	if (l->last)
		l->last->next = r;
	else
		l->first = r;
	l->last = r;
}

static void rl_add_front(struct rlist *l, struct pfs_http_req *r)
{
	r->prev = NULL;
	r->next = l->first;
	if (l->first)
		l->first->prev = r;
	else
		l->last = r;
	l->first = r;
}

static void rl_del(struct rlist *l, struct pfs_http_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		l->first = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->last = r->prev;
	r->prev = r->next = NULL;
}

/* Waiting requests stay sorted by due time (there are few of them). */
static void rl_add_sorted(struct rlist *l, struct pfs_http_req *r)
{
	struct pfs_http_req *at = l->last;

	while (at && at->due > r->due)
		at = at->prev;
	if (!at) {
		rl_add_front(l, r);
		return;
	}
	r->prev = at;
	r->next = at->next;
	if (at->next)
		at->next->prev = r;
	else
		l->last = r;
	at->next = r;
}

void pfs_http_url_for_log(const char *url, char *out, size_t size)
{
	size_t n = strcspn(url, "?#");

	snprintf(out, size, "%.*s", (int)n, url);
}

/* ---- the request ------------------------------------------------------------ */

void pfs_http_req_init(struct pfs_http_req *r, const char *method)
{
	memset(r, 0, sizeof(*r));
	r->method = method;
	r->body_fd = -1;
	r->prio = PFS_PRIO_NORMAL;
}

static void reset_results(struct pfs_http_req *r)
{
	r->err = 0;
	r->status = 0;
	r->errmsg[0] = 0;
	r->attempts = 0;
	r->delivered = 0;
	r->hdrs.len = 0;
	r->errbody.len = 0;
	free(r->cur_url);
	r->cur_url = NULL;
	r->redirects = 0;
	r->body_pos = 0;
	r->resp_pos = 0;
	r->want_pos = r->range_off;
	r->want_end = r->range_len ? r->range_off + r->range_len : 0;
	r->sink_err = 0;
	r->cancel = r->paused = r->unpause = r->no_auth = false;
}

void pfs_http_req_clear(struct pfs_http_req *r)
{
	free(r->url);
	curl_slist_free_all(r->headers);
	free(r->auth);
	pfs_buf_free(&r->hdrs);
	pfs_buf_free(&r->errbody);
	free(r->cur_url);
	curl_slist_free_all(r->sent_headers);
	pfs_http_req_init(r, r->method);
}

int pfs_http_req_url(struct pfs_http_req *r, const char *url)
{
	char *u = strdup(url);

	if (!u)
		return -ENOMEM;
	free(r->url);
	r->url = u;
	return 0;
}

int pfs_http_req_header(struct pfs_http_req *r, const char *fmt, ...)
{
	struct curl_slist *l;
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL;
	l = curl_slist_append(r->headers, line);
	if (!l)
		return -ENOMEM;
	r->headers = l;
	return 0;
}

int pfs_http_req_auth(struct pfs_http_req *r, const char *value)
{
	char *v = value ? strdup(value) : NULL;

	if (value && !v)
		return -ENOMEM;
	if (r->auth) {
		explicit_bzero(r->auth, strlen(r->auth));
		free(r->auth);
	}
	r->auth = v;
	return 0;
}

const char *pfs_http_header(const struct pfs_http_req *r, const char *name,
			    const char *after)
{
	size_t n = strlen(name), off = 0;
	bool passed = !after;

	while (off < r->hdrs.len) {
		const char *h = (const char *)r->hdrs.data + off;
		size_t len = strlen(h);

		off += len + 1;
		/* @after points into the value of an entry: go on from the
		 * next one. */
		if (!passed) {
			passed = after >= h && after <= h + len;
			continue;
		}
		if (strncasecmp(h, name, n) || h[n] != ':')
			continue;
		h += n + 1;
		while (*h == ' ' || *h == '\t')
			h++;
		return h;
	}
	return NULL;
}

/* ---- header parsers (fuzzed: tests/fuzz/fuzz_http.c) ------------------------- */

static int parse_u64(const char **p, uint64_t *out)
{
	uint64_t v = 0;
	const char *s = *p;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return 0;
}

int pfs_http_content_range(const char *v, uint64_t *start, uint64_t *end)
{
	uint64_t total;

	if (strncasecmp(v, "bytes", 5) || v[5] != ' ')
		return -EINVAL;
	v += 6;
	while (*v == ' ')
		v++;
	if (parse_u64(&v, start) || *v++ != '-' || parse_u64(&v, end) ||
	    *v++ != '/' || *end < *start)
		return -EINVAL;
	if (*v == '*')
		v++;
	else if (parse_u64(&v, &total) || *end >= total)
		return -EINVAL;
	while (*v == ' ')
		v++;
	return *v ? -EINVAL : 0;
}

long pfs_http_retry_after(const char *v)
{
	uint64_t s;

	while (*v == ' ')
		v++;
	if (parse_u64(&v, &s) || s > 86400)
		return -1;
	while (*v == ' ')
		v++;
	return *v ? -1 : (long)s;
}

/* Scheme, host and port of a URL, by curl's parser (NULL on failure). */
static CURLU *parse_url(const char *url)
{
	CURLU *u = curl_url();

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
		curl_url_cleanup(u);
		u = NULL;
	}
	return u;
}

static bool part_eq(CURLU *a, CURLU *b, CURLUPart part, unsigned flags)
{
	char *x = NULL, *y = NULL;
	bool eq;

	curl_url_get(a, part, &x, flags);
	curl_url_get(b, part, &y, flags);
	eq = x && y && !strcasecmp(x, y);
	curl_free(x);
	curl_free(y);
	return eq;
}

bool pfs_http_same_origin(const char *a, const char *b)
{
	CURLU *ua = parse_url(a), *ub = parse_url(b);
	bool same = ua && ub && part_eq(ua, ub, CURLUPART_SCHEME, 0) &&
		    part_eq(ua, ub, CURLUPART_HOST, 0) &&
		    part_eq(ua, ub, CURLUPART_PORT, CURLU_DEFAULT_PORT);

	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

int pfs_http_resolve(const char *base, const char *location, char **out)
{
	char *scheme = NULL, *full = NULL;
	CURLU *u;
	size_t i;
	int e = -EINVAL;

	*out = NULL;
	if (strlen(location) > MAX_URL || !*location)
		return -EINVAL;
	for (i = 0; location[i]; i++)
		if ((unsigned char)location[i] < 0x20 || location[i] == 0x7f)
			return -EINVAL;
	u = parse_url(base);
	if (!u)
		return -EINVAL;
	/* Relative references resolve against the URL already set. */
	if (curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    (!strcmp(scheme, "https") || !strcmp(scheme, "http")) &&
	    curl_url_get(u, CURLUPART_URL, &full, 0) == CURLUE_OK &&
	    strlen(full) <= MAX_URL) {
		*out = strdup(full);
		e = *out ? 0 : -ENOMEM;
	}
	curl_free(scheme);
	curl_free(full);
	curl_url_cleanup(u);
	return e;
}

/* ---- callbacks (engine thread) ---------------------------------------------- */

static long status_of(const char *line, size_t len)
{
	size_t i = 5;
	long code = 0;
	int digits = 0;

	while (i < len && line[i] != ' ')
		i++;
	while (i < len && line[i] == ' ')
		i++;
	for (; i < len && digits < 3 && line[i] >= '0' && line[i] <= '9'; i++,
	     digits++)
		code = code * 10 + (line[i] - '0');
	return digits == 3 ? code : 0;
}

static int keep_header(struct pfs_http_req *r, const char *line, size_t len)
{
	const char *colon = memchr(line, ':', len);
	size_t start = r->hdrs.len, i;
	int e;

	if (!colon || colon == line || start + len + 1 > MAX_HEADERS)
		return 0;
	e = pfs_buf_add(&r->hdrs, line, len);
	if (!e)
		e = pfs_buf_add(&r->hdrs, "", 1);
	/* A NUL inside a header would cut it short: make it a blank. */
	for (i = start; !e && i < start + len; i++)
		if (!r->hdrs.data[i])
			r->hdrs.data[i] = ' ';
	return e;
}

static size_t on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct pfs_http_req *r = arg;
	size_t len = size * n, l = len;
	const char *cr;

	if (len >= 5 && !memcmp(buf, "HTTP/", 5)) {
		r->status = status_of(buf, len);
		r->hdrs.len = 0;
		r->errbody.len = 0;
		r->resp_pos = 0;
		return len;
	}
	while (l && (buf[l - 1] == '\n' || buf[l - 1] == '\r'))
		l--;
	if (!l)
		return len;
	if (keep_header(r, buf, l))
		return 0;
	if (r->status == 206 && l > 14 && !strncasecmp(buf, "Content-Range:", 14)) {
		char v[128];
		uint64_t start, end;

		cr = buf + 14;
		snprintf(v, sizeof(v), "%.*s", (int)(l - 14), cr);
		if (pfs_http_content_range(v + strspn(v, " \t"), &start, &end)) {
			r->sink_err = -EPROTO;
			snprintf(r->errmsg, sizeof(r->errmsg),
				 "malformed Content-Range");
			return 0;
		}
		r->resp_pos = start;
	}
	return len;
}

static bool ok_status(long s)
{
	return s >= 200 && s < 300;
}

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct pfs_http_req *r = arg;
	size_t len = size * n, skip = 0, give;
	uint64_t end;
	int e;

	if (!ok_status(r->status)) {
		size_t room = MAX_ERRBODY - r->errbody.len;

		if (pfs_buf_add(&r->errbody, p, len < room ? len : room))
			return 0;
		return len;
	}
	if (r->resp_pos < r->want_pos)
		skip = r->want_pos - r->resp_pos < len ?
		       (size_t)(r->want_pos - r->resp_pos) : len;
	/* A 206 that starts past what we want is of no use. */
	if (r->resp_pos > r->want_pos && r->sink) {
		r->sink_err = -EPROTO;
		snprintf(r->errmsg, sizeof(r->errmsg),
			 "the server sent bytes from %llu, not %llu",
			 (unsigned long long)r->resp_pos,
			 (unsigned long long)r->want_pos);
		return 0;
	}
	give = len - skip;
	end = r->resp_pos + len;
	if (r->want_end && end > r->want_end)
		give = r->want_end > r->resp_pos + skip ?
		       (size_t)(r->want_end - r->resp_pos - skip) : 0;
	if (give && r->sink) {
		e = r->sink(r->sink_arg, p + skip, give);
		if (e == PFS_HTTP_PAUSE) {
			r->paused = true;
			return CURL_WRITEFUNC_PAUSE;
		}
		if (e < 0) {
			r->sink_err = e;
			return 0;
		}
	}
	r->resp_pos += len;
	r->want_pos += give;
	r->delivered += give;
	if (r->want_end && r->want_pos >= r->want_end && end > r->want_end) {
		/* The server ignored our range and goes on: we have ours. */
		r->sink_err = 1;
		return 0;
	}
	return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct pfs_http_req *r = arg;
	uint64_t left = r->body_len - r->body_pos;
	size_t take = size * n < left ? size * n : (size_t)left;
	ssize_t got;

	if (!take)
		return 0;
	if (r->body_fd < 0) {
		memcpy(buf, r->body + r->body_pos, take);
		got = (ssize_t)take;
	} else {
		got = pfs_pread_full(r->body_fd, buf, take,
				     (off_t)(r->body_off + r->body_pos));
		if (got <= 0) {
			r->sink_err = got < 0 ? (int)got : -EIO;
			snprintf(r->errmsg, sizeof(r->errmsg), "%s",
				 got < 0 ? strerror((int)-got) :
				 "the file to upload is shorter than its size");
			return CURL_READFUNC_ABORT;
		}
	}
	r->body_pos += (uint64_t)got;
	return (size_t)got;
}

static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct pfs_http_req *r = arg;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	r->body_pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

/* ---- starting transfers ---------------------------------------------------- */

static CURL *get_easy(struct pfs_http *h)
{
	if (h->npool) {
		CURL *c = h->pool[--h->npool];

		curl_easy_reset(c);
		return c;
	}
	return curl_easy_init();
}

static void put_easy(struct pfs_http *h, CURL *c)
{
	if (h->npool == h->pool_cap) {
		size_t cap = h->pool_cap ? h->pool_cap * 2 : 16;
		CURL **p = realloc(h->pool, cap * sizeof(*p));

		if (!p) {
			curl_easy_cleanup(c);
			return;
		}
		h->pool = p;
		h->pool_cap = cap;
	}
	h->pool[h->npool++] = c;
}

static int add_header(struct curl_slist **l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int add_header(struct curl_slist **l, const char *fmt, ...)
{
	struct curl_slist *n;
	char *line = NULL;
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (len < 0)
		return -ENOMEM;
	n = curl_slist_append(*l, line);
	explicit_bzero(line, (size_t)len);
	free(line);
	if (!n)
		return -ENOMEM;
	*l = n;
	return 0;
}

static int build_headers(struct pfs_http_req *r)
{
	struct curl_slist *l = NULL, *i;
	int e = 0;

	for (i = r->headers; i && !e; i = i->next)
		e = add_header(&l, "%s", i->data);
	if (!e && r->auth && !r->no_auth)
		e = add_header(&l, "Authorization: %s", r->auth);
	/* Ask for the rest of a body a failed attempt left unfinished. */
	if (!e && r->sink && (r->want_pos || r->want_end)) {
		if (r->want_end)
			e = add_header(&l, "Range: bytes=%llu-%llu",
				       (unsigned long long)r->want_pos,
				       (unsigned long long)r->want_end - 1);
		else
			e = add_header(&l, "Range: bytes=%llu-",
				       (unsigned long long)r->want_pos);
	}
	/* No 100-continue round trip before a body. */
	if (!e)
		e = add_header(&l, "Expect:");
	curl_slist_free_all(r->sent_headers);
	r->sent_headers = e ? NULL : l;
	if (e)
		curl_slist_free_all(l);
	return e;
}

static void set_method(CURL *c, struct pfs_http_req *r)
{
	const char *m = r->method;

	if (!strcmp(m, "HEAD")) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(m, "GET")) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (!strcmp(m, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(r->has_body ? r->body_len : 0));
		if (!r->has_body)
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	} else {
		if (r->has_body) {
			curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
					 (curl_off_t)r->body_len);
		}
		if (strcmp(m, "PUT") || !r->has_body)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, m);
	}
	if (r->has_body) {
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, r);
		curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(c, CURLOPT_SEEKDATA, r);
	}
}

static void set_tls(struct pfs_http *h, CURL *c)
{
	const struct pfs_tls *t = h->o.tls;

	if (h->o.no_tls_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (t && t->ca.len) {
		struct curl_blob blob = { t->ca.data, t->ca.len,
					  CURL_BLOB_NOCOPY };

		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &blob);
	}
	if (t && t->cert) {
		curl_easy_setopt(c, CURLOPT_SSLCERT, t->cert);
		curl_easy_setopt(c, CURLOPT_SSLKEY, t->key);
	}
}

static int setup(struct pfs_http *h, struct pfs_http_req *r, CURL *c,
		 uint64_t now)
{
	long stall_s = (long)(h->o.stall_ms + 999) / 1000;
	int e;

	e = build_headers(r);
	if (e)
		return e;
	curl_easy_setopt(c, CURLOPT_URL, r->cur_url);
	curl_easy_setopt(c, CURLOPT_PRIVATE, r);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTP_VERSION, h->o.http1 ?
			 (long)CURL_HTTP_VERSION_1_1 :
			 (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "puzzlefs/" PUZZLEFS_VERSION);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)h->o.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, stall_s);
	if (r->deadline)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
				 (long)(r->deadline > now ? r->deadline - now : 1));
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, r->sent_headers);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errmsg);
	set_method(c, r);
	set_tls(h, c);
	return 0;
}

static void complete(struct pfs_http *h, struct pfs_http_req *r, int err);

static void start(struct pfs_http *h, struct pfs_http_req *r, uint64_t now)
{
	CURL *c = get_easy(h);
	int e;

	if (!c) {
		complete(h, r, -ENOMEM);
		return;
	}
	r->errmsg[0] = 0;
	r->status = 0;
	r->hdrs.len = 0;
	r->errbody.len = 0;
	r->sink_err = 0;
	r->body_pos = 0;
	r->resp_pos = 0;
	r->paused = false;
	e = setup(h, r, c, now);
	if (!e && curl_multi_add_handle(h->multi, c) != CURLM_OK)
		e = -ENOMEM;
	if (e) {
		put_easy(h, c);
		complete(h, r, e);
		return;
	}
	r->easy = c;
	r->state = ST_ACTIVE;
	r->attempts++;
	rl_add(&h->active, r);
	h->nactive++;
	h->nactive_prio[r->prio]++;
	atomic_fetch_add(&h->requests, 1);
}

static struct pfs_http_req *pick(struct pfs_http *h)
{
	unsigned cap = h->o.prefetch_parallel;
	int p;

	for (p = 0; p < PFS_PRIO_COUNT; p++) {
		struct pfs_http_req *r = h->pending[p].first;

		if (!r || (p == PFS_PRIO_PREFETCH &&
			   h->nactive_prio[p] >= cap))
			continue;
		rl_del(&h->pending[p], r);
		if (r->deadline)
			h->ndeadline--;
		return r;
	}
	return NULL;
}

static void start_some(struct pfs_http *h)
{
	uint64_t now = now_ms();
	struct pfs_http_req *r;

	while (h->nactive < h->o.parallel && (r = pick(h)))
		start(h, r, now);
}

/* ---- ending transfers ---------------------------------------------------- */

static void unqueue_ctl(struct pfs_http *h, struct pfs_http_req *r)
{
	size_t i;

	for (i = 0; i < h->nctl; i++) {
		if (h->ctl[i] == r) {
			h->ctl[i] = h->ctl[--h->nctl];
			i--;
		}
	}
}

static void complete(struct pfs_http *h, struct pfs_http_req *r, int err)
{
	pthread_mutex_lock(&h->lock);
	unqueue_ctl(h, r);
	r->state = ST_DONE;
	pthread_mutex_unlock(&h->lock);
	r->err = err;
	if (err && !r->errmsg[0])
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", strerror(-err));
	r->easy = NULL;
	if (r->done)
		r->done(r);
}

static void detach(struct pfs_http *h, struct pfs_http_req *r)
{
	CURL *c = r->easy;

	curl_multi_remove_handle(h->multi, c);
	/* The error buffer points into @r, which may go away after done. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	put_easy(h, c);
	r->easy = NULL;
	rl_del(&h->active, r);
	h->nactive--;
	h->nactive_prio[r->prio]--;
}

static bool transient(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_OPERATION_TIMEDOUT:
		return true;
	default:
		return false;
	}
}

static bool retry_status(long s)
{
	return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 ||
	       s == 504;
}

static int errno_of(CURLcode res)
{
	switch (res) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return -EPROTO;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static bool may_retry(struct pfs_http *h, struct pfs_http_req *r, uint64_t now)
{
	bool safe = r->idempotent || !strcmp(r->method, "GET") ||
		    !strcmp(r->method, "HEAD");

	return safe && r->attempts < h->o.attempts &&
	       (!r->deadline || now < r->deadline);
}

static void schedule_retry(struct pfs_http *h, struct pfs_http_req *r,
			   uint64_t now)
{
	uint64_t delay = (uint64_t)h->o.backoff_ms << (r->attempts - 1);
	const char *ra = pfs_http_header(r, "Retry-After", NULL);
	uint16_t rnd = 0;
	long s;

	if (delay > BACKOFF_CAP_MS)
		delay = BACKOFF_CAP_MS;
	/* Jitter, so that many clients do not come back at once. */
	if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
		rnd = 0x8000;
	delay = delay / 2 + delay * rnd / 0x20000;
	s = ra ? pfs_http_retry_after(ra) : -1;
	if (s > 0)
		delay = (uint64_t)(s < RETRY_AFTER_CAP_S ? s : RETRY_AFTER_CAP_S) *
			1000;
	r->due = now + delay;
	if (r->deadline && r->due > r->deadline)
		r->due = r->deadline;
	r->state = ST_WAITING;
	rl_add_sorted(&h->waiting, r);
	atomic_fetch_add(&h->retries, 1);
}

static void enqueue(struct pfs_http *h, struct pfs_http_req *r, bool front)
{
	r->state = ST_PENDING;
	if (front)
		rl_add_front(&h->pending[r->prio], r);
	else
		rl_add(&h->pending[r->prio], r);
	if (r->deadline)
		h->ndeadline++;
}

/* Follow a GET's or HEAD's redirect: true if it was one. */
static bool redirect(struct pfs_http *h, struct pfs_http_req *r)
{
	const char *loc;
	char *next;

	if (r->status < 300 || r->status > 308 || r->status == 304 ||
	    (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")))
		return false;
	loc = pfs_http_header(r, "Location", NULL);
	if (!loc || r->redirects >= MAX_REDIRECTS)
		return false;
	if (pfs_http_resolve(r->cur_url, loc, &next))
		return false;
	/* Credentials are for the origin they were given for. */
	if (!pfs_http_same_origin(r->url, next))
		r->no_auth = true;
	free(r->cur_url);
	r->cur_url = next;
	r->redirects++;
	r->attempts = 0;
	enqueue(h, r, true);
	return true;
}

static void finished(struct pfs_http *h, struct pfs_http_req *r, CURLcode res)
{
	uint64_t now = now_ms();
	CURL *c = r->easy;
	curl_off_t up = 0, down = 0;

	curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &down);
	atomic_fetch_add(&h->up, (uint64_t)up);
	atomic_fetch_add(&h->down, (uint64_t)down);
	if (res == CURLE_OK && !r->status) {
		long code = 0;

		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		r->status = code;
	}
	detach(h, r);
	if (r->cancel) {
		complete(h, r, -ECANCELED);
		return;
	}
	if (res == CURLE_WRITE_ERROR && r->sink_err == 1)
		res = CURLE_OK;		/* the range is complete */
	else if (transient(res) && res != CURLE_OPERATION_TIMEDOUT &&
		 r->status >= 400 && !r->sink_err)
		/* An error answer whose body broke off (docker-registry's
		 * 416 over HTTP/2 announces more than it sends): the status
		 * is what counts. */
		res = CURLE_OK;
	else if (r->sink_err && r->sink_err != 1) {
		complete(h, r, r->sink_err);
		return;
	}
	if (res == CURLE_OK) {
		if (redirect(h, r))
			return;
		if (retry_status(r->status) && may_retry(h, r, now)) {
			schedule_retry(h, r, now);
			return;
		}
		r->errmsg[0] = 0;
		complete(h, r, 0);
		return;
	}
	if (res == CURLE_OPERATION_TIMEDOUT && r->deadline && now >= r->deadline) {
		snprintf(r->errmsg, sizeof(r->errmsg), "timed out");
		complete(h, r, -ETIMEDOUT);
		return;
	}
	if (!r->errmsg[0])
		snprintf(r->errmsg, sizeof(r->errmsg), "%s",
			 curl_easy_strerror(res));
	if (transient(res) && may_retry(h, r, now)) {
		schedule_retry(h, r, now);
		return;
	}
	if (transient(res) && r->attempts > 1) {
		size_t n = strlen(r->errmsg);

		snprintf(r->errmsg + n, sizeof(r->errmsg) - n, " (%u tries)",
			 r->attempts);
	}
	complete(h, r, errno_of(res));
}

static void drain(struct pfs_http *h)
{
	struct pfs_http_req *r;
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(h->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		r = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (r)
			finished(h, r, m->data.result);
	}
}

/* ---- the loop ------------------------------------------------------------- */

static void control(struct pfs_http *h, struct pfs_http_req *r)
{
	if (r->unpause && r->state == ST_ACTIVE && r->paused) {
		r->paused = false;
		curl_easy_pause(r->easy, CURLPAUSE_CONT);
	}
	r->unpause = false;
	if (!r->cancel)
		return;
	switch (r->state) {
	case ST_PENDING:
		rl_del(&h->pending[r->prio], r);
		if (r->deadline)
			h->ndeadline--;
		break;
	case ST_WAITING:
		rl_del(&h->waiting, r);
		break;
	case ST_ACTIVE:
		detach(h, r);
		break;
	default:
		return;
	}
	complete(h, r, -ECANCELED);
}

/* Move what was submitted into the queues; act on cancels and unpauses. */
static bool take_incoming(struct pfs_http *h)
{
	struct pfs_http_req *r, *next, *ctl[64];
	bool stop;
	size_t n, i;

	pthread_mutex_lock(&h->lock);
	r = h->incoming.first;
	h->incoming.first = h->incoming.last = NULL;
	for (; r; r = next) {
		next = r->next;
		enqueue(h, r, false);
	}
	stop = h->stop;
	while (h->nctl) {
		n = h->nctl < 64 ? h->nctl : 64;
		memcpy(ctl, h->ctl + h->nctl - n, n * sizeof(*ctl));
		h->nctl -= n;
		pthread_mutex_unlock(&h->lock);
		for (i = 0; i < n; i++)
			control(h, ctl[i]);
		pthread_mutex_lock(&h->lock);
	}
	pthread_mutex_unlock(&h->lock);
	return stop;
}

static void fire_timers(struct pfs_http *h, uint64_t now)
{
	struct pfs_http_req *r;

	while ((r = h->waiting.first) && r->due <= now) {
		rl_del(&h->waiting, r);
		if (r->deadline && now >= r->deadline) {
			complete(h, r, -ETIMEDOUT);
			continue;
		}
		enqueue(h, r, true);
	}
}

/* Queued requests whose deadline passed before they got a slot. */
static void expire(struct pfs_http *h, uint64_t now)
{
	struct pfs_http_req *r, *next;
	int p;

	if (!h->ndeadline || now < h->deadline_scan)
		return;
	h->deadline_scan = now + 50;
	for (p = 0; p < PFS_PRIO_COUNT; p++) {
		for (r = h->pending[p].first; r; r = next) {
			next = r->next;
			if (!r->deadline || now < r->deadline)
				continue;
			rl_del(&h->pending[p], r);
			h->ndeadline--;
			snprintf(r->errmsg, sizeof(r->errmsg),
				 "timed out waiting for a connection");
			complete(h, r, -ETIMEDOUT);
		}
	}
}

static int poll_timeout(struct pfs_http *h, uint64_t now)
{
	uint64_t t = 1000;

	if (h->waiting.first)
		t = h->waiting.first->due > now ? h->waiting.first->due - now : 0;
	if (h->ndeadline && t > 50)
		t = 50;
	return (int)(t < 1000 ? t : 1000);
}

static void cancel_list(struct pfs_http *h, struct rlist *l)
{
	struct pfs_http_req *r;

	while ((r = l->first)) {
		if (r->state == ST_ACTIVE)
			detach(h, r);	/* unlinks it from the active list */
		else
			rl_del(l, r);
		complete(h, r, -ECANCELED);
	}
}

static void shutdown_all(struct pfs_http *h)
{
	int p;

	do {
		take_incoming(h);
		cancel_list(h, &h->active);
		cancel_list(h, &h->waiting);
		for (p = 0; p < PFS_PRIO_COUNT; p++)
			cancel_list(h, &h->pending[p]);
		pthread_mutex_lock(&h->lock);
		p = h->incoming.first != NULL;
		pthread_mutex_unlock(&h->lock);
	} while (p);
}

static void *engine_main(void *arg)
{
	struct pfs_http *h = arg;
	int running;
	bool more;

	for (;;) {
		uint64_t now;

		if (take_incoming(h))
			break;
		now = now_ms();
		fire_timers(h, now);
		expire(h, now);
		start_some(h);
		curl_multi_perform(h->multi, &running);
		drain(h);
		start_some(h);
		pthread_mutex_lock(&h->lock);
		more = h->incoming.first || h->nctl || h->stop;
		pthread_mutex_unlock(&h->lock);
		if (!more)
			curl_multi_poll(h->multi, NULL, 0,
					poll_timeout(h, now_ms()), NULL);
	}
	shutdown_all(h);
	return NULL;
}

/* ---- public --------------------------------------------------------------- */

void pfs_http_submit(struct pfs_http *h, struct pfs_http_req *r)
{
	reset_results(r);
	r->cur_url = r->url ? strdup(r->url) : NULL;
	r->deadline = r->timeout_ms ? now_ms() + r->timeout_ms : 0;
	if (!r->cur_url || r->prio >= PFS_PRIO_COUNT || r->prio < 0) {
		r->state = ST_DONE;
		r->err = r->cur_url ? -EINVAL : -ENOMEM;
		snprintf(r->errmsg, sizeof(r->errmsg), "%s", strerror(-r->err));
		if (r->done)
			r->done(r);
		return;
	}
	pthread_mutex_lock(&h->lock);
	r->state = ST_INCOMING;
	rl_add(&h->incoming, r);
	pthread_mutex_unlock(&h->lock);
	curl_multi_wakeup(h->multi);
}

static void ctl_add(struct pfs_http *h, struct pfs_http_req *r)
{
	size_t i;

	for (i = 0; i < h->nctl; i++)
		if (h->ctl[i] == r)
			return;
	if (h->nctl == h->ctl_cap) {
		size_t cap = h->ctl_cap ? h->ctl_cap * 2 : 16;
		struct pfs_http_req **p = realloc(h->ctl, cap * sizeof(*p));

		if (!p)
			return;		/* the request goes on: no harm */
		h->ctl = p;
		h->ctl_cap = cap;
	}
	h->ctl[h->nctl++] = r;
}

void pfs_http_cancel(struct pfs_http *h, struct pfs_http_req *r)
{
	pthread_mutex_lock(&h->lock);
	if (r->state == ST_INCOMING) {
		rl_del(&h->incoming, r);
		r->state = ST_DONE;
		pthread_mutex_unlock(&h->lock);
		r->err = -ECANCELED;
		snprintf(r->errmsg, sizeof(r->errmsg), "cancelled");
		if (r->done)
			r->done(r);
		return;
	}
	if (r->state != ST_DONE) {
		r->cancel = true;
		ctl_add(h, r);
	}
	pthread_mutex_unlock(&h->lock);
	curl_multi_wakeup(h->multi);
}

void pfs_http_unpause(struct pfs_http *h, struct pfs_http_req *r)
{
	pthread_mutex_lock(&h->lock);
	if (r->state != ST_DONE) {
		r->unpause = true;
		ctl_add(h, r);
	}
	pthread_mutex_unlock(&h->lock);
	curl_multi_wakeup(h->multi);
}

bool pfs_http_on_engine(const struct pfs_http *h)
{
	return h->thread_on && pthread_equal(pthread_self(), h->thread);
}

void pfs_http_stats(struct pfs_http *h, struct pfs_http_stats *st)
{
	st->requests = atomic_load(&h->requests);
	st->retries = atomic_load(&h->retries);
	st->bytes_up = atomic_load(&h->up);
	st->bytes_down = atomic_load(&h->down);
}

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_res;

static void global_init(void)
{
	global_res = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int pfs_http_new(const struct pfs_http_opts *opts, struct pfs_http **out)
{
	struct pfs_http *h;

	/* libcurl's one process-wide set-up, done once whoever asks. */
	pthread_once(&global_once, global_init);
	if (global_res != CURLE_OK)
		return pfs_errf(opts->log, EIO, "libcurl: %s",
				curl_easy_strerror(global_res));
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->o = *opts;
	if (!h->o.parallel)
		h->o.parallel = 16;
	if (!h->o.prefetch_parallel || h->o.prefetch_parallel > h->o.parallel)
		h->o.prefetch_parallel = h->o.parallel > 1 ?
					 (h->o.parallel * 3 + 3) / 4 : 1;
	if (h->o.prefetch_parallel >= h->o.parallel && h->o.parallel > 1)
		h->o.prefetch_parallel = h->o.parallel - 1;
	if (!h->o.attempts)
		h->o.attempts = 5;
	if (!h->o.backoff_ms)
		h->o.backoff_ms = 250;
	if (!h->o.connect_timeout_ms)
		h->o.connect_timeout_ms = 10000;
	if (!h->o.stall_ms)
		h->o.stall_ms = 30000;
	pthread_mutex_init(&h->lock, NULL);
	h->multi = curl_multi_init();
	h->share = curl_share_init();
	if (!h->multi || !h->share) {
		pfs_http_free(h);
		return -ENOMEM;
	}
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
			  (long)h->o.parallel);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
			  (long)h->o.parallel + 4);
	if (pthread_create(&h->thread, NULL, engine_main, h)) {
		pfs_http_free(h);
		return -EAGAIN;
	}
	h->thread_on = true;
	*out = h;
	return 0;
}

void pfs_http_free(struct pfs_http *h)
{
	size_t i;

	if (!h)
		return;
	if (h->thread_on) {
		pthread_mutex_lock(&h->lock);
		h->stop = true;
		pthread_mutex_unlock(&h->lock);
		curl_multi_wakeup(h->multi);
		pthread_join(h->thread, NULL);
	}
	for (i = 0; i < h->npool; i++)
		curl_easy_cleanup(h->pool[i]);
	free(h->pool);
	free(h->ctl);
	if (h->multi)
		curl_multi_cleanup(h->multi);
	if (h->share)
		curl_share_cleanup(h->share);
	pthread_mutex_destroy(&h->lock);
	free(h);
}
