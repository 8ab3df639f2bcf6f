// SPDX-License-Identifier: MIT
/*
 * fs-verity file digest, as the kernel and `fsverity digest` compute it for
 * SHA-256, 4096-byte blocks and no salt: a Merkle tree over the data blocks,
 * its root hash put in a 256-byte fsverity_descriptor, and the digest is the
 * SHA-256 of that descriptor.
 *
 * The tree is built in one pass with one pending block per level, so the
 * only memory is this function's frame: data of any size, no allocation.
 */
#include <errno.h>
#include <string.h>

#include "util.h"

#define BLOCK 4096
#define HASH 32
/* 2^64 bytes are 2^52 blocks; each level above has 128 times fewer. */
#define MAX_LEVELS 8

struct tree {
	struct pfs_sha256_ctx *sha;
	unsigned int levels;		/* hash levels above the data */
	size_t fill[MAX_LEVELS];	/* bytes pending in blk[level] */
	uint8_t blk[MAX_LEVELS][BLOCK];
};

static void hash_block(struct tree *t, const uint8_t *b, uint8_t out[HASH])
{
	pfs_sha256_reset(t->sha);
	pfs_sha256_update(t->sha, b, BLOCK);
	pfs_sha256_final(t->sha, out);
}

/* Append @h to level @l; a full block is hashed into the level above (the
 * top level is the root block and never overflows). */
static void push(struct tree *t, unsigned int l, const uint8_t *h)
{
	uint8_t up[HASH];

	for (;;) {
		memcpy(t->blk[l] + t->fill[l], h, HASH);
		t->fill[l] += HASH;
		if (t->fill[l] < BLOCK || l + 1 == t->levels)
			return;
		hash_block(t, t->blk[l], up);
		t->fill[l] = 0;
		h = up;
		l++;
	}
}

/* Zero-pad a partial block of level @l and hash it. */
static void seal(struct tree *t, unsigned int l, uint8_t out[HASH])
{
	memset(t->blk[l] + t->fill[l], 0, BLOCK - t->fill[l]);
	hash_block(t, t->blk[l], out);
	t->fill[l] = 0;
}

int pfs_verity_digest(const void *data, size_t len,
		      uint8_t digest[PFS_DIGEST_SIZE])
{
	const uint8_t *p = data;
	uint8_t desc[256] = { 0 }, h[HASH], pad[BLOCK];
	struct tree t;
	uint64_t n;
	size_t off;
	unsigned int l;

	t.sha = pfs_sha256_new();
	if (!t.sha)
		return -ENOMEM;
	t.levels = 0;
	for (n = len / BLOCK + (len % BLOCK != 0); n > 1; n = (n + 127) / 128)
		t.fill[t.levels++] = 0;

	desc[0] = 1;		/* version */
	desc[1] = 1;		/* FS_VERITY_HASH_ALG_SHA256 */
	desc[2] = 12;		/* log2(BLOCK) */
	for (l = 0; l < 8; l++)
		desc[8 + l] = (uint8_t)((uint64_t)len >> (8 * l));
	for (off = 0; off < len; off += BLOCK) {
		const uint8_t *b = p + off;

		if (len - off < BLOCK) {
			memset(pad, 0, BLOCK);
			memcpy(pad, b, len - off);
			b = pad;
		}
		hash_block(&t, b, h);
		if (t.levels)
			push(&t, 0, h);
	}
	/* Close each level's last, partial block into the one above; the
	 * root hash is the hash of the top block (or, for a file of one
	 * block, of that block; an empty file keeps zeros). */
	if (t.levels) {
		for (l = 0; l + 1 < t.levels; l++)
			if (t.fill[l]) {
				seal(&t, l, h);
				push(&t, l + 1, h);
			}
		seal(&t, t.levels - 1, h);
	}
	if (len)
		memcpy(desc + 16, h, HASH);
	pfs_sha256_reset(t.sha);
	pfs_sha256_update(t.sha, desc, sizeof(desc));
	pfs_sha256_final(t.sha, digest);
	pfs_sha256_free(t.sha);
	return 0;
}
