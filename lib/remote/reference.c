// SPDX-License-Identifier: MIT
#include <errno.h>
#include <string.h>

#include "remote/reference.h"

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool word(char c)
{
	return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_';
}

/* path-component: [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )* */
static bool valid_component(const char *s, size_t n)
{
	size_t i = 0;

	if (!n || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
		return false;
	while (i < n) {
		if (lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.') {
			i++;
		} else if (s[i] == '_') {
			i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return false;
		}
		if (i >= n || !lower_alnum(s[i]))
			return false;
	}
	return true;
}

bool pfs_ref_valid_repo(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > PFS_REF_NAME_MAX)
		return false;
	while (*s) {
		size_t c = strcspn(s, "/");

		if (!valid_component(s, c))
			return false;
		s += c;
		if (*s == '/' && !*++s)
			return false;
	}
	return true;
}

bool pfs_ref_valid_tag(const char *s)
{
	size_t i, n = strlen(s);

	if (!n || n > PFS_REF_TAG_MAX || !word(s[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!word(s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* domain: labels of [A-Za-z0-9-] separated by '.', or [IPv6], then an
 * optional :port. */
static bool valid_host(const char *s, size_t n)
{
	size_t i = 0, port;

	if (!n || n > PFS_REF_HOST_MAX)
		return false;
	if (s[0] == '[') {
		for (i = 1; i < n && s[i] != ']'; i++)
			if (!(word(s[i]) || s[i] == ':' || s[i] == '.') ||
			    s[i] == '_')
				return false;
		if (i >= n || i == 1)
			return false;
		i++;
	} else {
		size_t label = 0;

		for (; i < n && s[i] != ':'; i++) {
			char c = s[i];

			if (c == '.') {
				if (!label || s[i - 1] == '-')
					return false;
				label = 0;
				continue;
			}
			if (!(lower_alnum(c) || (c >= 'A' && c <= 'Z') ||
			      (c == '-' && label)))
				return false;
			label++;
		}
		if (!label || s[i - 1] == '-')
			return false;
	}
	if (i == n)
		return true;
	if (s[i] != ':' || i + 1 == n || n - i - 1 > 5)
		return false;
	for (port = 0, i++; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		port = port * 10 + (size_t)(s[i] - '0');
	}
	return port > 0 && port < 65536;
}

static int bad(const struct pfs_log *log, const char *s, const char *why)
{
	return pfs_errf(log, EINVAL, "'%s': %s", s, why);
}

int pfs_ref_parse(const char *s, struct pfs_ref *ref, const struct pfs_log *log)
{
	const char *full = s, *at, *slash, *colon, *name;
	char buf[PFS_REF_NAME_MAX + PFS_REF_TAG_MAX + 2];
	size_t n, hn;

	memset(ref, 0, sizeof(*ref));
	if (!strncmp(s, PFS_REF_PREFIX, strlen(PFS_REF_PREFIX)))
		s += strlen(PFS_REF_PREFIX);
	at = strchr(s, '@');
	if (at && (!strchr(s, '/') || at < strchr(s, '/')))
		/* user:password@host: not echoed, it may hold a password. */
		return pfs_errf(log, EINVAL, "credentials do not go in an image "
				"reference: use --creds or an auth file");
	if (at) {
		if (strncmp(at + 1, "sha256:", 7))
			return bad(log, full, "only sha256 digests are supported");
		if (pfs_parse_digest(at + 1, ref->digest))
			return bad(log, full, "invalid digest (expected sha256: and 64 lowercase hex digits)");
		ref->by_digest = true;
		n = (size_t)(at - s);
	} else {
		n = strlen(s);
	}
	if (n >= sizeof(buf))
		return bad(log, full, "name too long");
	memcpy(buf, s, n);
	buf[n] = 0;
	/* The host: a first component with '.', ':' or "localhost". */
	slash = strchr(buf, '/');
	hn = slash ? (size_t)(slash - buf) : 0;
	if (slash && (memchr(buf, '.', hn) || memchr(buf, ':', hn) ||
		      (hn == 9 && !memcmp(buf, "localhost", 9)) ||
		      buf[0] == '[')) {
		if (!valid_host(buf, hn))
			return bad(log, full, "invalid registry host");
		memcpy(ref->host, buf, hn);
		ref->host[hn] = 0;
		name = slash + 1;
	} else {
		strcpy(ref->host, "docker.io");
		name = buf;
	}
	/* A tag follows the last ':' after the last '/'. */
	slash = strrchr(name, '/');
	colon = strrchr(slash ? slash : name, ':');
	if (colon) {
		if (!pfs_ref_valid_tag(colon + 1))
			return bad(log, full, "invalid tag (letters, digits, '_', '.', '-'; at most 128, not starting with '.' or '-')");
		if (!ref->by_digest)
			strcpy(ref->tag, colon + 1);
		*(char *)colon = 0;
	}
	n = strlen(name);
	if (n + 8 >= sizeof(ref->repo))
		return bad(log, full, "name too long");
	if (!strcmp(ref->host, "docker.io") && !strchr(name, '/')) {
		memcpy(ref->repo, "library/", 8);
		memcpy(ref->repo + 8, name, n + 1);
	} else {
		memcpy(ref->repo, name, n + 1);
	}
	if (!pfs_ref_valid_repo(ref->repo) ||
	    strlen(ref->host) + 1 + strlen(ref->repo) > PFS_REF_NAME_MAX)
		return bad(log, full, "invalid repository name (lowercase letters and digits, separated by '.', '_', '__', '-' or '/')");
	if (!ref->by_digest && !ref->tag[0])
		strcpy(ref->tag, "latest");
	return 0;
}

const char *pfs_ref_api_host(const struct pfs_ref *ref)
{
	return strcmp(ref->host, "docker.io") ? ref->host : "registry-1.docker.io";
}

void pfs_ref_target(const struct pfs_ref *ref, char *out, size_t size)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];

	if (ref->by_digest) {
		pfs_hex(ref->digest, PFS_DIGEST_SIZE, hex);
		snprintf(out, size, "sha256:%s", hex);
	} else {
		snprintf(out, size, "%s", ref->tag);
	}
}

void pfs_ref_format(const struct pfs_ref *ref, char *out, size_t size)
{
	char target[PFS_REF_TAG_MAX + 80];

	pfs_ref_target(ref, target, sizeof(target));
	snprintf(out, size, "%s/%s%s%s", ref->host, ref->repo,
		 ref->by_digest ? "@" : ":", target);
}
