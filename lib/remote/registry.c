// SPDX-License-Identifier: MIT
/* A registry session: the /v2/ ping, authentication, calls and their
 * failures, blob and manifest requests (see registry.h). */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "remote/auth.h"
#include "remote/registry.h"

struct reg_waiter {
	pthread_mutex_t m;
	pthread_cond_t cv;
	bool done;
};

struct pfs_registry {
	struct pfs_remote_opts o;
	const struct pfs_log *log;
	char host[PFS_REF_HOST_MAX + 1];
	char base[PFS_REF_HOST_MAX + 16];	/* "https://HOST" */
	struct pfs_tls tls;
	struct pfs_http *http;
	struct pfs_creds creds;

	pthread_mutex_t lock;		/* the authentication state */
	enum pfs_auth_scheme scheme;
	char *auth;			/* the Authorization value */
	unsigned gen;			/* bumped when @auth changes */
	uint64_t expires;		/* Bearer: monotonic ms */
	char *realm, *service;
	char **scopes;
	size_t nscopes;
	bool refreshing;
	struct pfs_reg_call *parked;	/* calls waiting for a token */
	struct pfs_http_req token;
	char auth_msg[512];		/* why the last token request failed */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

const char *pfs_registry_host(const struct pfs_registry *reg)
{
	return reg->host;
}

const struct pfs_log *pfs_registry_log(const struct pfs_registry *reg)
{
	return reg->log;
}

void pfs_registry_stats(struct pfs_registry *reg, struct pfs_http_stats *st)
{
	pfs_http_stats(reg->http, st);
}

/* ---- scopes ----------------------------------------------------------------- */

static int add_scope(struct pfs_registry *reg, const char *scope, size_t n)
{
	char **v;
	size_t i;

	for (i = 0; i < reg->nscopes; i++)
		if (strlen(reg->scopes[i]) == n &&
		    !strncmp(reg->scopes[i], scope, n))
			return 0;
	v = realloc(reg->scopes, (reg->nscopes + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	reg->scopes = v;
	v[reg->nscopes] = strndup(scope, n);
	if (!v[reg->nscopes])
		return -ENOMEM;
	reg->nscopes++;
	return 0;
}

/* A challenge's scope parameter: scopes separated by spaces. */
static void add_scopes(struct pfs_registry *reg, const char *list)
{
	while (list && *list) {
		size_t n = strcspn(list, " ");

		if (n && n < 512)
			add_scope(reg, list, n);
		list += n;
		list += strspn(list, " ");
	}
}

/* ---- tokens ----------------------------------------------------------------- */

static void set_auth(struct pfs_registry *reg, char *value)
{
	if (reg->auth) {
		explicit_bzero(reg->auth, strlen(reg->auth));
		free(reg->auth);
	}
	reg->auth = value;
	reg->gen++;
}

static int token_url(struct pfs_registry *reg, char **out)
{
	struct pfs_buf b = { 0 };
	char *esc;
	size_t i;
	int e;

	e = pfs_buf_add(&b, reg->realm, strlen(reg->realm));
	for (i = 0; !e && i <= reg->nscopes; i++) {
		const char *name = i ? "scope" : "service";
		const char *v = i ? reg->scopes[i - 1] : reg->service;

		if (!v)
			continue;
		esc = curl_easy_escape(NULL, v, 0);
		if (!esc)
			e = -ENOMEM;
		if (!e) {
			const char *sep = memchr(b.data, '?', b.len) ? "&" : "?";

			e = pfs_buf_add(&b, sep, 1);
			if (!e)
				e = pfs_buf_add(&b, name, strlen(name));
			if (!e)
				e = pfs_buf_add(&b, "=", 1);
			if (!e)
				e = pfs_buf_add(&b, esc, strlen(esc));
		}
		curl_free(esc);
	}
	if (!e)
		e = pfs_buf_add(&b, "", 1);
	if (e) {
		pfs_buf_free(&b);
		return e;
	}
	*out = (char *)b.data;
	return 0;
}

static void resubmit_parked(struct pfs_registry *reg, struct pfs_reg_call *list,
			    bool ok)
{
	struct pfs_reg_call *c, *rev = NULL;

	while (list) {		/* parked last first: restore the order */
		c = list;
		list = c->parked;
		c->parked = rev;
		rev = c;
	}
	while ((c = rev)) {
		rev = c->parked;
		c->parked = NULL;
		if (ok) {
			pfs_reg_submit(c);
			continue;
		}
		c->req.err = -EACCES;
		c->req.status = 0;
		snprintf(c->req.errmsg, sizeof(c->req.errmsg), "%.*s",
			 (int)sizeof(c->req.errmsg) - 1, reg->auth_msg);
		if (c->done)
			c->done(c);
	}
}

static void token_done(struct pfs_http_req *r)
{
	struct pfs_registry *reg = r->arg;
	char realm[256], *token = NULL, *value;
	struct pfs_reg_call *list;
	const char *why = NULL;
	uint64_t life = 0, margin;
	bool ok = false;

	pfs_http_url_for_log(reg->realm, realm, sizeof(realm));
	if (r->err) {
		snprintf(reg->auth_msg, sizeof(reg->auth_msg),
			 "token server %.120s: %.200s", realm, r->errmsg);
	} else if (r->status == 401 || r->status == 403) {
		snprintf(reg->auth_msg, sizeof(reg->auth_msg),
			 "token server %s refused %s (%ld)", realm,
			 reg->creds.user ? "the credentials" :
			 "anonymous access (no credentials for this registry: "
			 "--creds, --authfile)", r->status);
	} else if (r->status != 200) {
		snprintf(reg->auth_msg, sizeof(reg->auth_msg),
			 "token server %s answered %ld", realm, r->status);
	} else if (pfs_token_parse(r->errbody.data ? r->errbody.data :
				   (const uint8_t *)"", r->errbody.len,
				   &token, &life, &why)) {
		snprintf(reg->auth_msg, sizeof(reg->auth_msg),
			 "token server %s: %s", realm, why ? why : "no memory");
	} else if (asprintf(&value, "Bearer %s", token) < 0) {
		snprintf(reg->auth_msg, sizeof(reg->auth_msg), "out of memory");
	} else {
		ok = true;
	}
	if (token) {
		explicit_bzero(token, strlen(token));
		free(token);
	}
	/* The answer was collected as an "error body" (see token_start). */
	if (r->errbody.data)
		explicit_bzero(r->errbody.data, r->errbody.len);
	pthread_mutex_lock(&reg->lock);
	if (ok) {
		set_auth(reg, value);
		margin = life * 1000 / 4 < 10000 ? life * 1000 / 4 : 10000;
		reg->expires = now_ms() + life * 1000 - margin;
	}
	list = reg->parked;
	reg->parked = NULL;
	reg->refreshing = false;
	pthread_mutex_unlock(&reg->lock);
	resubmit_parked(reg, list, ok);
}

/* The token's body is small: keep it in the request's bounded error
 * buffer rather than a sink of its own. */
static int token_sink(void *arg, const void *data, size_t len)
{
	struct pfs_http_req *r = arg;

	if (r->errbody.len + len > PFS_TOKEN_MAX * 2)
		return -EFBIG;
	return pfs_buf_add(&r->errbody, data, len);
}

/* Ask the token server for a token for every scope (lock not held). */
static void token_start(struct pfs_registry *reg)
{
	struct pfs_http_req *r = &reg->token;
	char *url = NULL, *basic = NULL;
	struct pfs_reg_call *list;
	int e;

	pthread_mutex_lock(&reg->lock);
	e = token_url(reg, &url);
	pthread_mutex_unlock(&reg->lock);
	pfs_http_req_clear(r);
	pfs_http_req_init(r, "GET");
	if (!e)
		e = pfs_http_req_url(r, url);
	if (!e && reg->creds.user) {
		basic = pfs_basic_auth(&reg->creds);
		e = basic ? pfs_http_req_auth(r, basic) : -ENOMEM;
	}
	if (basic) {
		explicit_bzero(basic, strlen(basic));
		free(basic);
	}
	free(url);
	if (e) {
		snprintf(reg->auth_msg, sizeof(reg->auth_msg),
			 "token request: %s", strerror(-e));
		pthread_mutex_lock(&reg->lock);
		list = reg->parked;
		reg->parked = NULL;
		reg->refreshing = false;
		pthread_mutex_unlock(&reg->lock);
		resubmit_parked(reg, list, false);
		return;
	}
	r->sink = token_sink;
	r->sink_arg = r;
	r->prio = PFS_PRIO_DEMAND;
	r->done = token_done;
	r->arg = reg;
	pfs_http_submit(reg->http, r);
}

/* ---- calls ---------------------------------------------------------------- */

static void call_done(struct pfs_http_req *r);

int pfs_reg_call_init(struct pfs_reg_call *c, struct pfs_registry *reg,
		      const char *method, const char *fmt, ...)
{
	char path[8192], *url;
	va_list ap;
	int n, e;

	memset(c, 0, sizeof(*c));
	pfs_http_req_init(&c->req, method);
	c->reg = reg;
	va_start(ap, fmt);
	n = vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(path))
		return pfs_errf(reg->log, EINVAL, "%s: URL too long", reg->host);
	if (!strncmp(path, "https://", 8) || !strncmp(path, "http://", 7))
		return pfs_http_req_url(&c->req, path);
	if (asprintf(&url, "%s%s", reg->base, path) < 0)
		return -ENOMEM;
	e = pfs_http_req_url(&c->req, url);
	free(url);
	return e;
}

void pfs_reg_call_clear(struct pfs_reg_call *c)
{
	pfs_http_req_clear(&c->req);
}

void pfs_reg_submit(struct pfs_reg_call *c)
{
	struct pfs_registry *reg = c->reg;
	bool start = false;
	int e;

	pthread_mutex_lock(&reg->lock);
	if (reg->scheme == PFS_AUTH_BEARER &&
	    (reg->refreshing || now_ms() >= reg->expires)) {
		c->parked = reg->parked;
		reg->parked = c;
		start = !reg->refreshing;
		reg->refreshing = true;
		pthread_mutex_unlock(&reg->lock);
		if (start)
			token_start(reg);
		return;
	}
	c->auth_gen = reg->gen;
	/* Credentials go to the registry only, not to an upload URL it
	 * names on another host. */
	e = pfs_http_req_auth(&c->req, c->req.url &&
			      pfs_http_same_origin(c->req.url, reg->base) ?
			      reg->auth : NULL);
	pthread_mutex_unlock(&reg->lock);
	c->req.done = call_done;
	c->req.arg = c;
	if (e) {
		c->req.err = e;
		snprintf(c->req.errmsg, sizeof(c->req.errmsg), "out of memory");
		if (c->done)
			c->done(c);
		return;
	}
	pfs_http_submit(reg->http, &c->req);
}

/* The challenge of a 401 we can answer, from any WWW-Authenticate. */
static int challenge_of(struct pfs_http_req *r, struct pfs_challenge *ch)
{
	const char *v = NULL;

	while ((v = pfs_http_header(r, "WWW-Authenticate", v)))
		if (!pfs_challenge_parse(v, ch))
			return 0;
	return -EINVAL;
}

/* A 401: answer the challenge and send @c again (true), or let the 401
 * stand (false). */
static bool reauth(struct pfs_reg_call *c)
{
	struct pfs_registry *reg = c->reg;
	struct pfs_challenge ch;
	char *basic;
	bool start;

	if (c->auth_tries >= 2 || challenge_of(&c->req, &ch))
		return false;
	c->auth_tries++;
	pthread_mutex_lock(&reg->lock);
	if (c->auth_gen != reg->gen) {
		/* Another request got new credentials meanwhile. */
		pthread_mutex_unlock(&reg->lock);
		pfs_challenge_free(&ch);
		pfs_reg_submit(c);
		return true;
	}
	if (ch.scheme == PFS_AUTH_BASIC) {
		if (!reg->creds.user || reg->scheme == PFS_AUTH_BASIC ||
		    !(basic = pfs_basic_auth(&reg->creds))) {
			pthread_mutex_unlock(&reg->lock);
			pfs_challenge_free(&ch);
			return false;
		}
		reg->scheme = PFS_AUTH_BASIC;
		set_auth(reg, basic);
		pthread_mutex_unlock(&reg->lock);
		pfs_challenge_free(&ch);
		pfs_reg_submit(c);
		return true;
	}
	if (!reg->realm || strcmp(reg->realm, ch.realm)) {
		free(reg->realm);
		reg->realm = ch.realm;
		ch.realm = NULL;
	}
	free(reg->service);
	reg->service = ch.service;
	ch.service = NULL;
	add_scopes(reg, ch.scope);
	reg->scheme = PFS_AUTH_BEARER;
	c->parked = reg->parked;
	reg->parked = c;
	start = !reg->refreshing;
	reg->refreshing = true;
	pthread_mutex_unlock(&reg->lock);
	pfs_challenge_free(&ch);
	if (start)
		token_start(reg);
	return true;
}

static void call_done(struct pfs_http_req *r)
{
	struct pfs_reg_call *c = r->arg;

	if (!r->err && r->status == 401 && reauth(c))
		return;
	if (c->done)
		c->done(c);
}

static void wake(struct pfs_reg_call *c)
{
	struct reg_waiter *w = c->waiter;

	pthread_mutex_lock(&w->m);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->m);
}

int pfs_reg_run(struct pfs_reg_call *c)
{
	struct reg_waiter w = { .done = false };

	if (pfs_http_on_engine(c->reg->http))
		return -EDEADLK;
	pthread_mutex_init(&w.m, NULL);
	pthread_cond_init(&w.cv, NULL);
	c->done = wake;
	c->waiter = &w;
	pfs_reg_submit(c);
	pthread_mutex_lock(&w.m);
	while (!w.done)
		pthread_cond_wait(&w.cv, &w.m);
	pthread_mutex_unlock(&w.m);
	pthread_mutex_destroy(&w.m);
	pthread_cond_destroy(&w.cv);
	c->done = NULL;
	c->waiter = NULL;
	return c->req.err;
}

void pfs_reg_cancel(struct pfs_reg_call *c)
{
	pfs_http_cancel(c->reg->http, &c->req);
}

void pfs_reg_unpause(struct pfs_reg_call *c)
{
	pfs_http_unpause(c->reg->http, &c->req);
}

/* ---- failures in words -------------------------------------------------- */

int pfs_reg_status_errno(long s)
{
	if (s >= 200 && s < 300)
		return 0;
	switch (s) {
	case 400: return -EINVAL;
	case 401:
	case 403: return -EACCES;
	case 404: return -ENOENT;
	case 405: return -EOPNOTSUPP;
	case 413: return -EFBIG;
	case 416: return -ERANGE;
	case 429: return -EBUSY;
	default: return -EIO;
	}
}

static const char *reason(long s)
{
	switch (s) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 413: return "Payload Too Large";
	case 416: return "Range Not Satisfiable";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

int pfs_reg_failure(struct pfs_reg_call *c, const char *what)
{
	struct pfs_registry *reg = c->reg;
	struct pfs_http_req *r = &c->req;
	const char *hint = "";
	char words[512] = "";
	int e;

	if (r->err) {
		if (r->err == -EPROTO && !reg->o.no_tls_verify &&
		    strstr(r->errmsg, "certificate"))
			hint = " (trust its CA with --cert-dir DIR, DIR holding "
			       "the CA as a *.crt file, or skip the check with "
			       "--tls-verify=false)";
		return pfs_errf(reg->log, -r->err, "%s: %s: %s%s", reg->host,
				what, r->errmsg, hint);
	}
	e = pfs_reg_status_errno(r->status);
	if (r->errbody.len)
		pfs_reg_errors_parse(r->errbody.data, r->errbody.len, words,
				     sizeof(words), NULL, 0, NULL);
	if (r->status == 401)
		hint = reg->creds.user ? " (authentication failed: wrong user "
					 "name or password?)" :
		       " (authentication required: --creds USER:PASSWORD, "
		       "--authfile FILE, or skopeo/podman login)";
	else if (r->status == 403)
		hint = " (access denied)";
	return pfs_errf(reg->log, -e, "%s: %s: %ld %s%s%s%s", reg->host, what,
			r->status, reason(r->status), words[0] ? ": " : "",
			words, hint);
}

/* ---- opening --------------------------------------------------------------- */

static int ping(struct pfs_registry *reg)
{
	struct pfs_reg_call c;
	int e;

	e = pfs_reg_call_init(&c, reg, "GET", "/v2/");
	if (!e) {
		c.req.prio = PFS_PRIO_DEMAND;
		e = pfs_reg_run(&c);
		if (!e && c.req.status != 200)
			e = -1;
	}
	if (e) {
		/* --tls-verify=false also means: maybe no TLS at all. */
		if (e != -1 && reg->o.no_tls_verify &&
		    !strncmp(reg->base, "https:", 6) &&
		    (e == -EPROTO || e == -ECONNRESET || e == -EIO)) {
			pfs_reg_call_clear(&c);
			snprintf(reg->base, sizeof(reg->base), "http://%s",
				 reg->host);
			return ping(reg);
		}
		e = pfs_reg_failure(&c, "/v2/");
	}
	pfs_reg_call_clear(&c);
	return e;
}

int pfs_registry_open(const char *host, const struct pfs_reg_scope *scopes,
		      size_t nscopes, const struct pfs_remote_opts *opts,
		      struct pfs_registry **out)
{
	struct pfs_http_opts ho = { 0 };
	struct pfs_registry *reg;
	const char *repo = nscopes ? scopes[0].repo : "";
	char scope[PFS_REF_NAME_MAX + 32];
	size_t i;
	int e;

	if (strlen(host) > PFS_REF_HOST_MAX)
		return pfs_errf(opts->log, EINVAL, "registry host name too long");
	reg = calloc(1, sizeof(*reg));
	if (!reg)
		return -ENOMEM;
	reg->o = *opts;
	reg->log = opts->log;
	pthread_mutex_init(&reg->lock, NULL);
	pfs_http_req_init(&reg->token, "GET");
	snprintf(reg->host, sizeof(reg->host), "%s", host);
	snprintf(reg->base, sizeof(reg->base), "https://%s", host);
	e = pfs_creds_find(opts->creds, opts->authfile, host, repo,
			   &reg->creds, reg->log);
	for (i = 0; !e && i < nscopes; i++) {
		snprintf(scope, sizeof(scope), "repository:%s:%s",
			 scopes[i].repo, scopes[i].push ? "pull,push" : "pull");
		e = add_scope(reg, scope, strlen(scope));
	}
	if (!e)
		e = pfs_tls_load(&reg->tls, opts->cert_dir, host, reg->log);
	if (!e) {
		ho.log = reg->log;
		ho.parallel = opts->jobs;
		ho.no_tls_verify = opts->no_tls_verify;
		ho.tls = &reg->tls;
		ho.http1 = opts->http1;
		ho.attempts = opts->attempts;
		ho.backoff_ms = opts->backoff_ms;
		ho.stall_ms = opts->stall_ms;
		e = pfs_http_new(&ho, &reg->http);
	}
	if (!e)
		e = ping(reg);
	if (e) {
		pfs_registry_close(reg);
		return e;
	}
	*out = reg;
	return 0;
}

void pfs_registry_close(struct pfs_registry *reg)
{
	size_t i;

	if (!reg)
		return;
	pfs_http_free(reg->http);
	pfs_http_req_clear(&reg->token);
	set_auth(reg, NULL);
	pfs_creds_free(&reg->creds);
	pfs_tls_free(&reg->tls);
	free(reg->realm);
	free(reg->service);
	for (i = 0; i < reg->nscopes; i++)
		free(reg->scopes[i]);
	free(reg->scopes);
	pthread_mutex_destroy(&reg->lock);
	free(reg);
}

/* ---- blobs ------------------------------------------------------------------ */

static void digest_str(const uint8_t *digest, char out[7 + 65])
{
	memcpy(out, "sha256:", 7);
	pfs_hex(digest, PFS_DIGEST_SIZE, out + 7);
}

int pfs_reg_blob_head(struct pfs_reg_call *c, struct pfs_registry *reg,
		      const char *repo, const uint8_t *digest)
{
	char d[7 + 65];

	digest_str(digest, d);
	return pfs_reg_call_init(c, reg, "HEAD", "/v2/%s/blobs/%s", repo, d);
}

int pfs_reg_blob_get(struct pfs_reg_call *c, struct pfs_registry *reg,
		     const char *repo, const uint8_t *digest, uint64_t off,
		     uint64_t len, pfs_http_sink sink, void *sink_arg)
{
	char d[7 + 65];
	int e;

	digest_str(digest, d);
	e = pfs_reg_call_init(c, reg, "GET", "/v2/%s/blobs/%s", repo, d);
	c->req.range_off = off;
	c->req.range_len = len;
	c->req.sink = sink;
	c->req.sink_arg = sink_arg;
	return e;
}

struct into_buf {
	uint8_t *buf;
	size_t len, got;
};

static int buf_sink(void *arg, const void *data, size_t len)
{
	struct into_buf *b = arg;

	if (len > b->len - b->got)
		return -EFBIG;
	memcpy(b->buf + b->got, data, len);
	b->got += len;
	return 0;
}

ssize_t pfs_reg_blob_read(struct pfs_registry *reg, const char *repo,
			  const uint8_t *digest, uint64_t off, size_t len,
			  void *buf, enum pfs_http_prio prio,
			  unsigned timeout_ms)
{
	struct into_buf b = { buf, len, 0 };
	struct pfs_reg_call c;
	char what[100], d[7 + 65];
	ssize_t e;

	if (!len)
		return 0;
	e = pfs_reg_blob_get(&c, reg, repo, digest, off, len, buf_sink, &b);
	c.req.prio = prio;
	c.req.timeout_ms = timeout_ms;
	if (!e)
		e = pfs_reg_run(&c);
	if (!e && c.req.status == 416)
		e = 0;			/* @off is at or past the end */
	else if (!e && c.req.status / 100 == 2)
		e = (ssize_t)b.got;
	else {
		digest_str(digest, d);
		snprintf(what, sizeof(what), "blob %s", d);
		e = pfs_reg_failure(&c, what);
	}
	pfs_reg_call_clear(&c);
	return e;
}

/* ---- manifests ------------------------------------------------------------- */

struct manifest_sink {
	struct pfs_buf *buf;
};

static int manifest_sink(void *arg, const void *data, size_t len)
{
	struct pfs_buf *b = arg;

	if (b->len + len > PFS_REG_MANIFEST_MAX)
		return -EFBIG;
	return pfs_buf_add(b, data, len);
}

void pfs_reg_manifest_free(struct pfs_reg_manifest *m)
{
	pfs_buf_free(&m->data);
}

/* A media type without its parameters, printable only. */
static void media_type(const char *v, char *out, size_t size)
{
	size_t n = strcspn(v, "; \t"), i;

	snprintf(out, size, "%.*s", (int)n, v);
	for (i = 0; out[i]; i++)
		if ((unsigned char)out[i] < 0x21 || out[i] == 0x7f)
			out[i] = '?';
}

static void json_media_type(const struct pfs_buf *b, char *out, size_t size)
{
	json_t *v = json_loadb((const char *)b->data, b->len, 0, NULL);
	const char *mt = json_string_value(json_object_get(v, "mediaType"));

	if (mt)
		media_type(mt, out, size);
	json_decref(v);
}

/* A GET or HEAD of a manifest, and its name for messages in @what. */
static int manifest_call(struct pfs_reg_call *c, struct pfs_registry *reg,
			 const char *method, const char *repo,
			 const char *target, const char *accept, char *what,
			 size_t size)
{
	int e;

	snprintf(what, size, "manifest %s:%s", repo, target);
	e = pfs_reg_call_init(c, reg, method, "/v2/%s/manifests/%s", repo,
			      target);
	if (!e)
		e = pfs_http_req_header(&c->req, "Accept: %s",
					accept ? accept : PFS_REG_ACCEPT_ALL);
	c->req.prio = PFS_PRIO_DEMAND;
	return e;
}

int pfs_reg_manifest_get(struct pfs_registry *reg, const char *repo,
			 const char *target, const char *accept,
			 struct pfs_reg_manifest *out)
{
	char what[PFS_REF_NAME_MAX + PFS_REF_TAG_MAX + 32], hex[65];
	uint8_t want[PFS_DIGEST_SIZE];
	struct pfs_reg_call c;
	const char *dcd, *ct;
	int e;

	memset(out, 0, sizeof(*out));
	e = manifest_call(&c, reg, "GET", repo, target, accept, what,
			  sizeof(what));
	c.req.sink = manifest_sink;
	c.req.sink_arg = &out->data;
	if (!e)
		e = pfs_reg_run(&c);
	if (!e && c.req.status == 404) {
		e = pfs_errf(reg->log, ENOENT, "%s: no manifest %s in %s",
			     reg->host, target, repo);
		goto out;
	}
	if (e == -EFBIG) {
		e = pfs_errf(reg->log, EFBIG, "%s: %s: larger than %u MiB",
			     reg->host, what, PFS_REG_MANIFEST_MAX >> 20);
		goto out;
	}
	if (e || c.req.status != 200) {
		e = pfs_reg_failure(&c, what);
		goto out;
	}
	pfs_sha256(out->data.data ? out->data.data : (const uint8_t *)"",
		   out->data.len, out->digest);
	pfs_hex(out->digest, PFS_DIGEST_SIZE, hex);
	dcd = pfs_http_header(&c.req, "Docker-Content-Digest", NULL);
	if ((dcd && !pfs_parse_digest(dcd, want) &&
	     memcmp(want, out->digest, PFS_DIGEST_SIZE)) ||
	    (!strncmp(target, "sha256:", 7) && strcmp(target + 7, hex))) {
		e = pfs_errf(reg->log, EIO, "%s: %s: the bytes received have "
			     "sha256:%s, not the digest %s", reg->host, what,
			     hex, !strncmp(target, "sha256:", 7) ?
			     "asked for" : "the registry names");
		goto out;
	}
	ct = pfs_http_header(&c.req, "Content-Type", NULL);
	if (ct)
		media_type(ct, out->media_type, sizeof(out->media_type));
	if (!out->media_type[0] || !strcmp(out->media_type, "application/json"))
		json_media_type(&out->data, out->media_type,
				sizeof(out->media_type));
out:
	pfs_reg_call_clear(&c);
	if (e)
		pfs_reg_manifest_free(out);
	return e;
}

int pfs_reg_manifest_head(struct pfs_registry *reg, const char *repo,
			  const char *target, const char *accept,
			  uint8_t digest[PFS_DIGEST_SIZE])
{
	char what[PFS_REF_NAME_MAX + PFS_REF_TAG_MAX + 32];
	struct pfs_reg_call c;
	const char *dcd;
	int e;

	memset(digest, 0, PFS_DIGEST_SIZE);
	e = manifest_call(&c, reg, "HEAD", repo, target, accept, what,
			  sizeof(what));
	if (!e)
		e = pfs_reg_run(&c);
	if (!e && c.req.status == 404)
		e = 0;
	else if (!e && c.req.status == 200) {
		dcd = pfs_http_header(&c.req, "Docker-Content-Digest", NULL);
		if (dcd)
			pfs_parse_digest(dcd, digest);
		e = 1;
	} else {
		e = pfs_reg_failure(&c, what);
	}
	pfs_reg_call_clear(&c);
	return e;
}

int pfs_reg_manifest_put(struct pfs_reg_call *c, struct pfs_registry *reg,
			 const char *repo, const char *target,
			 const char *media_type, const void *data, size_t len)
{
	int e;

	e = pfs_reg_call_init(c, reg, "PUT", "/v2/%s/manifests/%s", repo,
			      target);
	if (!e)
		e = pfs_http_req_header(&c->req, "Content-Type: %s", media_type);
	if (e)
		return e;
	c->req.body = data;
	c->req.body_len = len;
	c->req.has_body = true;
	c->req.idempotent = true;
	return pfs_reg_run(c);
}

/* ---- error bodies ------------------------------------------------------------ */

static void add_words(char *out, size_t size, size_t *n, const char *s)
{
	for (; s && *s && *n + 1 < size; s++)
		out[(*n)++] = (unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s;
	out[*n] = 0;
}

static bool blob_unknown(const char *code)
{
	return !strcmp(code, "MANIFEST_BLOB_UNKNOWN") ||
	       !strcmp(code, "BLOB_UNKNOWN");
}

int pfs_reg_errors_parse(const uint8_t *body, size_t len, char *out,
			 size_t size, uint8_t (*unknown)[PFS_DIGEST_SIZE],
			 size_t max, size_t *nunknown)
{
	json_t *v, *errs, *e;
	size_t i, n = 0, nu = 0;

	if (size)
		out[0] = 0;
	if (nunknown)
		*nunknown = 0;
	v = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
	errs = json_object_get(v, "errors");
	if (!json_is_array(errs)) {
		json_decref(v);
		return -EINVAL;
	}
	json_array_foreach(errs, i, e) {
		const char *code = json_string_value(json_object_get(e, "code"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		json_t *detail = json_object_get(e, "detail");
		const char *dd = json_string_value(detail);
		uint8_t d[PFS_DIGEST_SIZE];

		if (!code)
			continue;
		if (!dd)
			dd = json_string_value(json_object_get(detail, "digest"));
		if (size && n && i < 8)
			add_words(out, size, &n, "; ");
		if (size && i < 8) {
			add_words(out, size, &n, code);
			if (msg && *msg) {
				add_words(out, size, &n, ": ");
				add_words(out, size, &n, msg);
			}
			if (dd && *dd) {
				add_words(out, size, &n, " (");
				add_words(out, size, &n, dd);
				add_words(out, size, &n, ")");
			}
		}
		if (blob_unknown(code) && dd && !pfs_parse_digest(dd, d)) {
			if (unknown && nu < max)
				memcpy(unknown[nu], d, PFS_DIGEST_SIZE);
			nu++;
		}
	}
	if (i > 8 && size)
		add_words(out, size, &n, "; ...");
	if (nunknown)
		*nunknown = nu;
	json_decref(v);
	return 0;
}

int pfs_reg_upload_range(const char *v, uint64_t *last)
{
	uint64_t n = 0;

	if (!strncasecmp(v, "bytes=", 6))
		v += 6;
	if (*v++ != '0' || *v++ != '-' || *v < '0' || *v > '9')
		return -EINVAL;
	for (; *v >= '0' && *v <= '9'; v++) {
		if (n > (UINT64_MAX - 9) / 10)
			return -EINVAL;
		n = n * 10 + (uint64_t)(*v - '0');
	}
	if (*v)
		return -EINVAL;
	*last = n;
	return 0;
}

bool pfs_reg_errors_has(const uint8_t *body, size_t len, const char *code)
{
	json_t *v = json_loadb((const char *)body, len, 0, NULL), *e;
	bool has = false;
	size_t i;

	json_array_foreach(json_object_get(v, "errors"), i, e) {
		const char *c = json_string_value(json_object_get(e, "code"));

		if (c && !strcmp(c, code))
			has = true;
	}
	json_decref(v);
	return has;
}
