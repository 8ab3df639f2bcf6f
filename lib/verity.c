// SPDX-License-Identifier: MIT
/*
 * fs-verity file digest, as the kernel and `fsverity digest` compute it for
 * SHA-256, 4096-byte blocks and no salt: a Merkle tree over the data blocks,
 * its root hash put in a 256-byte fsverity_descriptor, and the digest is the
 * SHA-256 of that descriptor.
 */
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define BLOCK 4096
#define HASH 32

/* Hash each BLOCK of @in (zero-padding the last) into @out. */
static size_t hash_level(const uint8_t *in, size_t len, uint8_t *out)
{
	uint8_t pad[BLOCK];
	size_t n = 0, off;

	for (off = 0; off < len; off += BLOCK, n++) {
		if (len - off >= BLOCK) {
			pfs_sha256(in + off, BLOCK, out + n * HASH);
		} else {
			memset(pad, 0, BLOCK);
			memcpy(pad, in + off, len - off);
			pfs_sha256(pad, BLOCK, out + n * HASH);
		}
	}
	return n;
}

void pfs_verity_digest(const void *data, size_t len,
		       uint8_t digest[PFS_DIGEST_SIZE])
{
	uint8_t desc[256] = { 0 }, *level, *next;
	size_t n;

	desc[0] = 1;		/* version */
	desc[1] = 1;		/* FS_VERITY_HASH_ALG_SHA256 */
	desc[2] = 12;		/* log2(BLOCK) */
	for (n = 0; n < 8; n++)
		desc[8 + n] = (uint8_t)((uint64_t)len >> (8 * n));
	if (len > 0) {
		size_t blocks = (len + BLOCK - 1) / BLOCK;

		level = malloc(blocks * HASH);
		if (!level)
			abort();
		n = hash_level(data, len, level);
		/* Each level packs 128 hashes per block until one block is
		 * left; the root hash is the hash of that block (or of the
		 * only data block). */
		while (n > 1) {
			next = malloc(((n * HASH + BLOCK - 1) / BLOCK) * HASH);
			if (!next)
				abort();
			n = hash_level(level, n * HASH, next);
			free(level);
			level = next;
		}
		memcpy(desc + 16, level, HASH);
		free(level);
	}
	pfs_sha256(desc, sizeof(desc), digest);
}
