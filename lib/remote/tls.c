// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "remote/tls.h"

#define MAX_PEM (8u << 20)

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && !strcmp(s + n - m, suffix);
}

/* Append a PEM file (and a newline, should it lack one). */
static int add_pem(struct pfs_buf *b, int dirfd, const char *name)
{
	uint8_t *data;
	size_t len;
	int e;

	e = pfs_read_file_at(dirfd, name, MAX_PEM, &data, &len);
	if (e)
		return e;
	e = pfs_buf_add(b, data, len);
	if (!e)
		e = pfs_buf_add(b, "\n", 1);
	free(data);
	return e;
}

/* The bundle curl trusts by default, which a CA blob would replace. */
static int add_system_bundle(struct pfs_buf *b)
{
	char *path = NULL;
	CURL *c = curl_easy_init();
	int e = 0;

	if (!c)
		return -ENOMEM;
	if (curl_easy_getinfo(c, CURLINFO_CAINFO, &path) == CURLE_OK && path) {
		e = add_pem(b, AT_FDCWD, path);
		if (e == -ENOENT)
			e = 0;
	}
	curl_easy_cleanup(c);
	return e;
}

static char *join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);

	if (p)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

/* The client pair: NAME.cert with NAME.key, the first in name order. */
static int client_pair(struct pfs_tls *t, const char *dir, int dirfd,
		       struct dirent **ents, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		char key[NAME_MAX + 1];
		size_t base;

		if (!ends_with(name, ".cert"))
			continue;
		base = strlen(name) - 5;
		snprintf(key, sizeof(key), "%.*s.key", (int)base, name);
		if (faccessat(dirfd, key, R_OK, 0))
			continue;
		t->cert = join(dir, name);
		t->key = join(dir, key);
		return t->cert && t->key ? 0 : -ENOMEM;
	}
	return 0;
}

static int load_dir(struct pfs_tls *t, const char *dir, bool given,
		    const struct pfs_log *log)
{
	struct dirent **ents = NULL;
	int dirfd, n, i, e = 0;
	bool any_crt = false;

	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		if (!given && errno == ENOENT)
			return 0;
		return pfs_errf(log, errno, "certificate directory %s: %s",
				dir, strerror(errno));
	}
	n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		e = pfs_errf(log, errno, "certificate directory %s: %s", dir,
			     strerror(errno));
		close(dirfd);
		return e;
	}
	for (i = 0; i < n && !e; i++) {
		if (!ends_with(ents[i]->d_name, ".crt"))
			continue;
		if (!any_crt && !t->ca.len)
			e = add_system_bundle(&t->ca);
		any_crt = true;
		if (!e)
			e = add_pem(&t->ca, dirfd, ents[i]->d_name);
		if (e)
			e = pfs_errf(log, -e, "%s/%s: %s", dir,
				     ents[i]->d_name, strerror(-e));
	}
	if (!e && !t->cert)
		e = client_pair(t, dir, dirfd, ents, n);
	for (i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	close(dirfd);
	return e;
}

int pfs_tls_load(struct pfs_tls *t, const char *dir, const char *host,
		 const struct pfs_log *log)
{
	static const char *const defaults[] = { "/etc/containers/certs.d",
						"/etc/docker/certs.d" };
	char path[4096];
	size_t i;
	int e;

	memset(t, 0, sizeof(*t));
	if (dir)
		return load_dir(t, dir, true, log);
	for (i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", defaults[i], host);
		e = load_dir(t, path, false, log);
		if (e)
			return e;
	}
	return 0;
}

void pfs_tls_free(struct pfs_tls *t)
{
	pfs_buf_free(&t->ca);
	free(t->cert);
	free(t->key);
	memset(t, 0, sizeof(*t));
}
