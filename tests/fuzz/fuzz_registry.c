// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the JSON a registry (or a token server, or an auth
 * file) sends us, through every parser of lib/remote/ that reads it: image
 * manifests (the blobs push and pull move), registry error bodies, token
 * responses, auth files.  Each must end in a result or an error, and what
 * a success returns must hold together.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "remote/auth.h"
#include "remote/registry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void manifest(const uint8_t *data, size_t size)
{
	struct pfs_reg_desc *d;
	const char *why = NULL;
	size_t n, i, j;

	if (pfs_reg_manifest_descs(data, size, &d, &n, &why)) {
		if (!why || !*why || d || n)
			abort();
		return;
	}
	for (i = 0; i < n; i++) {
		if (d[i].config != (i == 0))
			abort();	/* the config first, then layers */
		for (j = 0; j < i && n < 64; j++)
			if (!memcmp(d[i].digest, d[j].digest, PFS_DIGEST_SIZE))
				abort();	/* duplicates dropped */
	}
	free(d);
}

static void errors(const uint8_t *data, size_t size)
{
	uint8_t unknown[4][PFS_DIGEST_SIZE];
	char words[200];
	size_t nu = 99, i;

	if (pfs_reg_errors_parse(data, size, words, sizeof(words), unknown, 4,
				 &nu)) {
		if (words[0] || nu)
			abort();
		return;
	}
	if (strlen(words) >= sizeof(words))
		abort();
	for (i = 0; words[i]; i++)
		if ((unsigned char)words[i] < 0x20 || words[i] == 0x7f)
			abort();	/* nothing reaches a terminal raw */
	(void)pfs_reg_errors_has(data, size, "BLOB_UNKNOWN");
}

static void token(const uint8_t *data, size_t size)
{
	const char *why = NULL;
	uint64_t life = 0;
	char *t = NULL;
	size_t i;

	if (pfs_token_parse(data, size, &t, &life, &why)) {
		if (t)
			abort();
		return;
	}
	if (!t || !*t || life < 60 || strlen(t) > PFS_TOKEN_MAX)
		abort();
	for (i = 0; t[i]; i++)
		if (t[i] <= ' ' || t[i] == 0x7f || t[i] == ',' || t[i] == '"')
			abort();	/* nothing that could split a header */
	free(t);
}

static void authfile(const uint8_t *data, size_t size)
{
	struct pfs_creds c;
	int e;

	e = pfs_authfile_lookup(data, size, "registry.example:5000",
				"ns/repo", "fuzz", &c, NULL);
	if (e == 1 && (!c.user || !*c.user || !c.pass))
		abort();
	if (e != 1 && (c.user || c.pass))
		abort();
	if (e == 1) {
		char *b = pfs_basic_auth(&c);

		if (!b || strncmp(b, "Basic ", 6))
			abort();
		free(b);
	}
	pfs_creds_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy: ASan catches a read one byte past the end. */
	uint8_t *copy = malloc(size ? size : 1);

	memcpy(copy, data, size);
	manifest(copy, size);
	errors(copy, size);
	token(copy, size);
	authfile(copy, size);
	free(copy);
	return 0;
}
