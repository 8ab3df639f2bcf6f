// SPDX-License-Identifier: MIT
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "remote/auth.h"

#define MAX_AUTHFILE (4u << 20)
#define MAX_CHALLENGE (16u << 10)
#define MAX_PARAM (4u << 10)

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void pfs_creds_free(struct pfs_creds *c)
{
	wipe_free(c->user);
	wipe_free(c->pass);
	c->user = c->pass = NULL;
}

static int creds_set(struct pfs_creds *c, const char *user, size_t ulen,
		     const char *pass)
{
	c->user = strndup(user, ulen);
	c->pass = strdup(pass);
	if (!c->user || !c->pass) {
		pfs_creds_free(c);
		return -ENOMEM;
	}
	return 0;
}

/* ---- auth files --------------------------------------------------------------- */

/* An auth file key as containers/image reads it: a legacy docker key
 * ("https://index.docker.io/v1/") names a host only. */
static void normalize_key(const char *key, char *out, size_t size)
{
	const char *s = key;

	if (!strncmp(s, "https://", 8) || !strncmp(s, "http://", 7)) {
		s = strstr(s, "://") + 3;
		snprintf(out, size, "%.*s", (int)strcspn(s, "/"), s);
	} else {
		snprintf(out, size, "%s", s);
	}
	if (!strcmp(out, "index.docker.io") ||
	    !strcmp(out, "registry-1.docker.io"))
		snprintf(out, size, "docker.io");
}

/* How specific @key is for @host/@repo: -1 no match, 0 the host, then
 * the number of repository components it names. */
static int key_match(const char *key, const char *host, const char *repo)
{
	size_t hn = strlen(host), kn = strlen(key);
	const char *p;
	int depth = 0;

	if (strncmp(key, host, hn) || (key[hn] && key[hn] != '/'))
		return -1;
	if (!key[hn])
		return 0;
	p = key + hn + 1;
	kn -= hn + 1;
	if (!kn || strncmp(repo, p, kn) || (repo[kn] && repo[kn] != '/'))
		return -1;
	for (depth = 1; *p; p++)
		depth += *p == '/';
	return depth;
}

static int decode_auth(const char *b64, struct pfs_creds *out)
{
	size_t n = strlen(b64), len, i;
	unsigned char *buf;
	const char *colon;
	int got, e;

	if (!n || n % 4 || n > 8192)
		return -EINVAL;
	buf = malloc(n / 4 * 3 + 1);
	if (!buf)
		return -ENOMEM;
	got = EVP_DecodeBlock(buf, (const unsigned char *)b64, (int)n);
	if (got < 0) {
		free(buf);
		return -EINVAL;
	}
	len = (size_t)got;
	for (i = n; i > 0 && b64[i - 1] == '=' && len; i--)
		len--;		/* EVP_DecodeBlock counts the padding */
	buf[len] = 0;
	colon = memchr(buf, ':', len);
	e = -EINVAL;
	if (colon && colon != (char *)buf && !memchr(buf, 0, len))
		e = creds_set(out, (char *)buf, (size_t)(colon - (char *)buf),
			      colon + 1);
	explicit_bzero(buf, n / 4 * 3 + 1);
	free(buf);
	return e;
}

int pfs_authfile_lookup(const uint8_t *data, size_t len, const char *host,
			const char *repo, const char *what,
			struct pfs_creds *out, const struct pfs_log *log)
{
	json_t *v, *auths, *best = NULL, *ent;
	const char *key, *b64, *u, *p;
	int best_depth = -1, e = 0;
	json_error_t jerr;
	char norm[512];

	memset(out, 0, sizeof(*out));
	v = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		return pfs_errf(log, EINVAL, "%s: malformed JSON at line %d",
				what, jerr.line);
	auths = json_object_get(v, "auths");
	if (!json_is_object(v) || (auths && !json_is_object(auths))) {
		json_decref(v);
		return pfs_errf(log, EINVAL, "%s: not an auth file "
				"({\"auths\": {...}})", what);
	}
	json_object_foreach(auths, key, ent) {
		int d;

		normalize_key(key, norm, sizeof(norm));
		d = key_match(norm, host, repo);
		if (d > best_depth && json_is_object(ent)) {
			best_depth = d;
			best = ent;
		}
	}
	if (best) {
		b64 = json_string_value(json_object_get(best, "auth"));
		u = json_string_value(json_object_get(best, "username"));
		p = json_string_value(json_object_get(best, "password"));
		if (b64 && *b64)
			e = decode_auth(b64, out);
		else if (u && *u && p)
			e = creds_set(out, u, strlen(u), p);
		if (e == -EINVAL)
			e = pfs_errf(log, EINVAL, "%s: the entry for %s holds "
				     "no valid \"auth\" (base64 of user:password)",
				     what, host);
	}
	json_decref(v);
	return e ? e : out->user ? 1 : 0;
}

static int try_file(const char *path, bool given, const char *host,
		    const char *repo, struct pfs_creds *out,
		    const struct pfs_log *log)
{
	uint8_t *data;
	size_t len;
	int e;

	e = pfs_read_file_at(AT_FDCWD, path, MAX_AUTHFILE, &data, &len);
	if (e == -ENOENT && !given)
		return 0;
	if (e)
		return pfs_errf(log, -e, "auth file %s: %s", path,
				e == -EINVAL ? "not a regular file" :
				strerror(-e));
	e = pfs_authfile_lookup(data, len, host, repo, path, out, log);
	explicit_bzero(data, len);
	free(data);
	return e;
}

static const char *home(void)
{
	const char *h = getenv("HOME");
	struct passwd *pw;

	if (h && *h)
		return h;
	pw = getpwuid(getuid());
	return pw ? pw->pw_dir : NULL;
}

int pfs_creds_find(const char *creds, const char *authfile, const char *host,
		   const char *repo, struct pfs_creds *out,
		   const struct pfs_log *log)
{
	const char *env, *colon, *h = home();
	char path[4096];
	int e;

	memset(out, 0, sizeof(*out));
	if (creds) {
		colon = strchr(creds, ':');
		if (!colon || colon == creds)
			return pfs_errf(log, EINVAL, "--creds: expected USER:PASSWORD");
		return creds_set(out, creds, (size_t)(colon - creds), colon + 1);
	}
	if (authfile)
		return try_file(authfile, true, host, repo, out, log) < 0 ? -EINVAL : 0;
	env = getenv("REGISTRY_AUTH_FILE");
	if (env && *env)
		return try_file(env, true, host, repo, out, log) < 0 ? -EINVAL : 0;
	env = getenv("XDG_RUNTIME_DIR");
	if (env && *env)
		snprintf(path, sizeof(path), "%s/containers/auth.json", env);
	else
		snprintf(path, sizeof(path), "/run/containers/%u/auth.json",
			 (unsigned)getuid());
	e = try_file(path, false, host, repo, out, log);
	if (e)
		return e < 0 ? e : 0;
	env = getenv("XDG_CONFIG_HOME");
	if (env && *env)
		snprintf(path, sizeof(path), "%s/containers/auth.json", env);
	else if (h)
		snprintf(path, sizeof(path), "%s/.config/containers/auth.json", h);
	e = (env && *env) || h ? try_file(path, false, host, repo, out, log) : 0;
	if (e)
		return e < 0 ? e : 0;
	if (!h)
		return 0;
	snprintf(path, sizeof(path), "%s/.docker/config.json", h);
	e = try_file(path, false, host, repo, out, log);
	return e < 0 ? e : 0;
}

char *pfs_basic_auth(const struct pfs_creds *c)
{
	size_t ul = strlen(c->user), pl = strlen(c->pass), n = ul + 1 + pl;
	char *plain = malloc(n + 1), *out = malloc(6 + 4 * ((n + 2) / 3) + 1);

	if (!plain || !out) {
		free(plain);
		free(out);
		return NULL;
	}
	memcpy(plain, c->user, ul);
	plain[ul] = ':';
	memcpy(plain + ul + 1, c->pass, pl);
	memcpy(out, "Basic ", 6);
	EVP_EncodeBlock((unsigned char *)out + 6, (unsigned char *)plain, (int)n);
	explicit_bzero(plain, n);
	free(plain);
	return out;
}

/* ---- WWW-Authenticate (RFC 7235) --------------------------------------------- */

static bool tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* A token at @s: its length (0 if none). */
static size_t token_len(const char *s)
{
	size_t n = 0;

	while (tchar(s[n]))
		n++;
	return n;
}

/* A parameter value, token or quoted-string, into a new string. */
static int param_value(const char **sp, char **out)
{
	const char *s = *sp;
	char *v;
	size_t n = 0;

	if (*s != '"') {
		n = token_len(s);
		if (!n || n > MAX_PARAM)
			return -EINVAL;
		*out = strndup(s, n);
		*sp = s + n;
		return *out ? 0 : -ENOMEM;
	}
	v = malloc(MAX_PARAM + 1);
	if (!v)
		return -ENOMEM;
	for (s++; *s && *s != '"'; s++) {
		if (*s == '\\' && s[1])
			s++;
		if ((unsigned char)*s < 0x20 || *s == 0x7f || n == MAX_PARAM) {
			free(v);
			return -EINVAL;
		}
		v[n++] = *s;
	}
	if (*s != '"') {
		free(v);
		return -EINVAL;
	}
	v[n] = 0;
	*out = v;
	*sp = s + 1;
	return 0;
}

static char **param_slot(struct pfs_challenge *c, const char *name, size_t n)
{
	static const char *const names[] = { "realm", "service", "scope",
					     "error" };
	char **slots[] = { &c->realm, &c->service, &c->scope, &c->error };
	size_t i;

	for (i = 0; i < 4; i++)
		if (strlen(names[i]) == n && !strncasecmp(name, names[i], n))
			return slots[i];
	return NULL;
}

/* One challenge at *@sp: its scheme, and its parameters into @c when
 * @keep. */
static int one_challenge(const char **sp, enum pfs_auth_scheme *scheme,
			 struct pfs_challenge *c, bool keep_if_known)
{
	const char *s = skip_ws(*sp), *name;
	size_t n = token_len(s), nn;
	bool keep;

	if (!n)
		return -EINVAL;
	if (n == 6 && !strncasecmp(s, "Bearer", 6))
		*scheme = PFS_AUTH_BEARER;
	else if (n == 5 && !strncasecmp(s, "Basic", 5))
		*scheme = PFS_AUTH_BASIC;
	else
		*scheme = PFS_AUTH_NONE;
	keep = keep_if_known && *scheme != PFS_AUTH_NONE;
	s = skip_ws(s + n);
	for (;;) {
		char *v, **slot;
		int e;

		name = s;
		nn = token_len(s);
		if (!nn)
			break;
		if (*skip_ws(s + nn) != '=')
			break;		/* the next challenge's scheme */
		s = skip_ws(skip_ws(s + nn) + 1);
		e = param_value(&s, &v);
		if (e)
			return e;
		slot = keep ? param_slot(c, name, nn) : NULL;
		if (slot) {
			free(*slot);
			*slot = v;
		} else {
			free(v);
		}
		s = skip_ws(s);
		if (*s != ',')
			break;
		s = skip_ws(s + 1);
		while (*s == ',')
			s = skip_ws(s + 1);
	}
	*sp = s;
	return 0;
}

void pfs_challenge_free(struct pfs_challenge *c)
{
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

int pfs_challenge_parse(const char *value, struct pfs_challenge *c)
{
	const char *s = value;
	struct pfs_challenge tmp;
	enum pfs_auth_scheme scheme;
	int e;

	memset(c, 0, sizeof(*c));
	if (strlen(value) > MAX_CHALLENGE)
		return -EINVAL;
	while (*(s = skip_ws(s))) {
		memset(&tmp, 0, sizeof(tmp));
		e = one_challenge(&s, &scheme, &tmp, true);
		if (e) {
			pfs_challenge_free(&tmp);
			pfs_challenge_free(c);
			return e;
		}
		/* Bearer is preferred: a token is scoped and expires. */
		if (scheme != PFS_AUTH_NONE && scheme >= c->scheme &&
		    c->scheme != PFS_AUTH_BEARER) {
			pfs_challenge_free(c);
			*c = tmp;
			c->scheme = scheme;
		} else {
			pfs_challenge_free(&tmp);
		}
		s = skip_ws(s);
		if (*s == ',')
			s++;
	}
	if (c->scheme == PFS_AUTH_NONE ||
	    (c->scheme == PFS_AUTH_BEARER && (!c->realm || !*c->realm))) {
		pfs_challenge_free(c);
		return -EINVAL;
	}
	return 0;
}

/* ---- token responses ------------------------------------------------------ */

/* RFC 6750 b64token: what may stand after "Bearer " in a header. */
static bool valid_token(const char *t)
{
	size_t i = 0, n = strlen(t);

	if (!n || n > PFS_TOKEN_MAX)
		return false;
	for (; i < n && t[i] != '='; i++)
		if (!((t[i] >= 'a' && t[i] <= 'z') ||
		      (t[i] >= 'A' && t[i] <= 'Z') ||
		      (t[i] >= '0' && t[i] <= '9') || strchr("-._~+/", t[i])))
			return false;
	if (!i)
		return false;
	for (; i < n; i++)
		if (t[i] != '=')
			return false;
	return true;
}

int pfs_token_parse(const uint8_t *data, size_t len, char **token,
		    uint64_t *lifetime_s, const char **why)
{
	json_t *v, *exp;
	const char *t;
	json_error_t jerr;

	*token = NULL;
	*lifetime_s = 60;
	v = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(v)) {
		json_decref(v);
		*why = "not a JSON object";
		return -EINVAL;
	}
	t = json_string_value(json_object_get(v, "token"));
	if (!t || !*t)
		t = json_string_value(json_object_get(v, "access_token"));
	exp = json_object_get(v, "expires_in");
	if (!t || !*t) {
		*why = "no token in the answer";
	} else if (!valid_token(t)) {
		*why = "the token has characters a token may not have";
	} else if (exp && (!json_is_integer(exp) ||
			   json_integer_value(exp) < 0)) {
		*why = "invalid expires_in";
	} else {
		if (exp && json_integer_value(exp) > 60)
			*lifetime_s = (uint64_t)json_integer_value(exp);
		*token = strdup(t);
		json_decref(v);
		return *token ? 0 : -ENOMEM;
	}
	json_decref(v);
	return -EINVAL;
}
