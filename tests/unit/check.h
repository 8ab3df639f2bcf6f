/* SPDX-License-Identifier: MIT */
/* Minimal unit-test support: CHECK() records a failure and goes on. */
#ifndef PUZZLEFS_TEST_CHECK_H
#define PUZZLEFS_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, \
			__LINE__, #cond); \
		check_failures++; \
	} \
} while (0)

#define CHECK_EQ_U64(a, b) do { \
	unsigned long long a_ = (a), b_ = (b); \
	if (a_ != b_) { \
		fprintf(stderr, "%s:%d: %s == %llu, expected %llu\n", \
			__FILE__, __LINE__, #a, a_, b_); \
		check_failures++; \
	} \
} while (0)

#define CHECK_HEX(bytes, len, hexstr) do { \
	char h_[2 * (len) + 1]; \
	pfs_hex((bytes), (len), h_); \
	if (strcmp(h_, (hexstr))) { \
		fprintf(stderr, "%s:%d: %s is %s, expected %s\n", __FILE__, \
			__LINE__, #bytes, h_, (hexstr)); \
		check_failures++; \
	} \
} while (0)

static inline int check_done(const char *name)
{
	if (check_failures)
		fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
	return check_failures ? 1 : 0;
}

/* Read a fixture (path relative to tests/fixtures). */
static inline unsigned char *read_fixture(const char *rel, size_t *len)
{
	const char *dir = getenv("PFS_FIXTURES");
	char path[4096];
	unsigned char *buf;
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "tests/fixtures", rel);
	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
		exit(1);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

#endif
