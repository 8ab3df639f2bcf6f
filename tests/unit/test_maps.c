// SPDX-License-Identifier: MIT
/*
 * The hash maps whose keys come from images (inode numbers, digests): right
 * answers, and keys crafted to pile up under a fixed hash (all alike in the
 * bits such a hash would use) spread out all the same: no key sits far
 * from its home slot, so no lookup or insert turns into a long scan.
 */
#include <xxhash.h>

#include "util.h"
#include "check.h"

enum { N = 100000, FAR = 64 };

/* Slots between where @home says a key belongs and where it is. */
static size_t displacement(size_t home, size_t at, size_t cap)
{
	return (at - home) & (cap - 1);
}

static void u64map(void)
{
	struct pfs_u64map m = { 0 };
	size_t i, worst = 0;

	/* Multiples of 2^40: the same low bits, and the same top bits of
	 * k * golden ratio, the old hash. */
	for (i = 1; i <= N; i++)
		CHECK(pfs_u64map_put(&m, (uint64_t)i << 40, i) == 0);
	for (i = 1; i <= N; i++) {
		uint64_t *v = pfs_u64map_get(&m, (uint64_t)i << 40);

		CHECK(v && *v == i);
	}
	CHECK(!pfs_u64map_get(&m, 12345));
	for (i = 0; i < m.cap; i++) {
		size_t home;

		if (!m.keys[i])
			continue;
		home = (size_t)XXH3_64bits_withSeed(&m.keys[i], 8, m.seed) &
		       (m.cap - 1);
		if (displacement(home, i, m.cap) > worst)
			worst = displacement(home, i, m.cap);
	}
	CHECK(worst < FAR);
	pfs_u64map_free(&m);
}

static uint8_t (*digests)[PFS_DIGEST_SIZE];

static const uint8_t *digest_of(const void *owner, size_t i)
{
	(void)owner;
	return digests[i];
}

static void dindex(void)
{
	struct pfs_dindex x = { .digest = digest_of };
	uint8_t other[PFS_DIGEST_SIZE] = { 1 };
	size_t i, worst = 0;

	digests = calloc(N, PFS_DIGEST_SIZE);
	/* One 24-byte prefix for all: the old index used the first 8 bytes. */
	for (i = 0; i < N; i++) {
		memset(digests[i], 0xa5, PFS_DIGEST_SIZE);
		memcpy(digests[i] + 24, &i, sizeof(i));
		CHECK(pfs_dindex_add(&x, digests[i], i) == 0);
	}
	for (i = 0; i < N; i++)
		CHECK_EQ_U64(pfs_dindex_find(&x, digests[i]), i);
	CHECK(pfs_dindex_find(&x, other) == SIZE_MAX);
	for (i = 0; i < x.slots; i++) {
		size_t home;

		if (!x.slot[i])
			continue;
		home = (size_t)XXH3_64bits_withSeed(digests[x.slot[i] - 1],
						    PFS_DIGEST_SIZE, x.seed) &
		       (x.slots - 1);
		if (displacement(home, i, x.slots) > worst)
			worst = displacement(home, i, x.slots);
	}
	CHECK(worst < FAR);
	pfs_dindex_free(&x);
	free(digests);
}

int main(void)
{
	u64map();
	dindex();
	return check_done("maps");
}
