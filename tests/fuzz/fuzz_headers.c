// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the header values and names a registry gives us and
 * lib/remote/ parses: WWW-Authenticate challenges, Location (resolved
 * against the request's URL), Content-Range, an upload's Range,
 * Retry-After, and image references (which come from users and scripts).
 * Every answer is a result or an error, and a result holds together.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remote/auth.h"
#include "remote/http.h"
#include "remote/reference.h"
#include "remote/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void challenge(const char *s)
{
	struct pfs_challenge c;

	if (pfs_challenge_parse(s, &c)) {
		if (c.scheme || c.realm || c.service || c.scope || c.error)
			abort();
		return;
	}
	if (c.scheme != PFS_AUTH_BASIC && c.scheme != PFS_AUTH_BEARER)
		abort();
	if (c.scheme == PFS_AUTH_BEARER && (!c.realm || !*c.realm))
		abort();
	pfs_challenge_free(&c);
}

static void location(const char *s)
{
	static const char *const bases[] = {
		"https://registry.example:5000/v2/r/blobs/uploads/",
		"http://127.0.0.1/v2/a/b/blobs/sha256:00?x=1",
	};
	size_t i, j;
	char *out;

	for (i = 0; i < 2; i++) {
		if (pfs_http_resolve(bases[i], s, &out)) {
			if (out)
				abort();
			continue;
		}
		if (strncmp(out, "https://", 8) && strncmp(out, "http://", 7))
			abort();
		for (j = 0; out[j]; j++)
			if ((unsigned char)out[j] <= ' ' || out[j] == 0x7f)
				abort();
		(void)pfs_http_same_origin(bases[i], out);
		free(out);
	}
}

static void ranges(const char *s)
{
	uint64_t a, b;

	if (!pfs_http_content_range(s, &a, &b) && a > b)
		abort();
	(void)pfs_reg_upload_range(s, &a);
	if (pfs_http_retry_after(s) < -1)
		abort();
}

static void reference(const char *s)
{
	struct pfs_ref r, again;
	char text[1024];

	if (pfs_ref_parse(s, &r, NULL))
		return;
	if (!pfs_ref_valid_repo(r.repo) || (!r.by_digest && !pfs_ref_valid_tag(r.tag)))
		abort();
	pfs_ref_format(&r, text, sizeof(text));
	if (pfs_ref_parse(text, &again, NULL) ||
	    memcmp(&r, &again, sizeof(r)))
		abort();	/* what we print reads back the same */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A string of exactly the bytes up to the first NUL. */
	size_t n = strnlen((const char *)data, size);
	char *s = malloc(n + 1);

	memcpy(s, data, n);
	s[n] = 0;
	challenge(s);
	location(s);
	ranges(s);
	reference(s);
	free(s);
	return 0;
}
