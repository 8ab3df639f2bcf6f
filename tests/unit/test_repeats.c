// SPDX-License-Identifier: MIT
/* build -c gives a repeated chunk an earlier chunk's blob only on proof:
 * pfs_blob_holds() must say no to every blob that does not hold exactly
 * the chunk's bytes. */
#include <fcntl.h>
#include <unistd.h>

#include "write/build.h"
#include "seekable.h"
#include "check.h"

#define LEN (100u << 10)

struct stored {
	uint8_t digest[PFS_DIGEST_SIZE];
	uint64_t size;
};

static void put(struct pfs_oci *oci, const void *data, size_t len,
		struct stored *s)
{
	pfs_sha256(data, len, s->digest);
	s->size = len;
	CHECK(pfs_oci_blob_put(oci, s->digest, data, len) == 0);
}

/* Flip one byte of a stored blob in place (its name no longer fits). */
static void corrupt(const char *dir, const struct stored *s)
{
	char hex[2 * PFS_DIGEST_SIZE + 1], path[256];
	uint8_t c;
	int fd;

	pfs_hex(s->digest, PFS_DIGEST_SIZE, hex);
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, hex);
	fd = open(path, O_RDWR);
	CHECK(fd >= 0);
	CHECK(pread(fd, &c, 1, 10) == 1);
	c ^= 1;
	CHECK(pwrite(fd, &c, 1, 10) == 1);
	close(fd);
}

int main(void)
{
	char dir[] = "/tmp/pfs-test-repeats-XXXXXX", cmd[64];
	struct pfs_chunk_check chk = { 0 };
	struct pfs_buf z = { 0 };
	struct stored zs, rs, absent;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	uint8_t *a = malloc(LEN + 1), *b = malloc(LEN + 1);
	struct pfs_oci *oci;
	size_t i;

	CHECK(mkdtemp(dir) != NULL);
	CHECK(pfs_oci_open(dir, true, NULL, &oci) == 0);
	for (i = 0; i < LEN + 1; i++)	/* compressible */
		a[i] = (uint8_t)("puzzlefs"[i % 8] + (i / 4096) % 3);
	memcpy(b, a, LEN + 1);
	b[LEN / 2] ^= 0x40;

	CHECK(pfs_seekable_compress(cctx, a, LEN, 3, 32u << 10, &z) == 0);
	CHECK(z.len < LEN);
	put(oci, z.data, z.len, &zs);
	put(oci, b, LEN, &rs);			/* a blob stored raw */
	memset(&absent, 0x5a, sizeof(absent));
	absent.size = z.len;
	CHECK(pfs_oci_sync(oci) == 0);

	/* Compressed blob: only the very bytes it decompresses to. */
	CHECK(pfs_blob_holds(oci, &chk, zs.digest, zs.size, true, a, LEN));
	CHECK(!pfs_blob_holds(oci, &chk, zs.digest, zs.size, true, b, LEN));
	CHECK(!pfs_blob_holds(oci, &chk, zs.digest, zs.size, true, a, LEN - 1));
	CHECK(!pfs_blob_holds(oci, &chk, zs.digest, zs.size, true, a, LEN + 1));
	CHECK(!pfs_blob_holds(oci, &chk, zs.digest, zs.size - 1, true, a, LEN));
	/* Its compressed bytes compared as if stored raw: no. */
	CHECK(!pfs_blob_holds(oci, &chk, zs.digest, zs.size, false, a, LEN));

	/* Raw blob. */
	CHECK(pfs_blob_holds(oci, &chk, rs.digest, rs.size, false, b, LEN));
	CHECK(!pfs_blob_holds(oci, &chk, rs.digest, rs.size, false, a, LEN));
	CHECK(!pfs_blob_holds(oci, &chk, rs.digest, rs.size, true, b, LEN));

	/* Absent, or present with other content than its name says. */
	CHECK(!pfs_blob_holds(oci, &chk, absent.digest, absent.size, true, a,
			      LEN));
	corrupt(dir, &zs);
	CHECK(!pfs_blob_holds(oci, &chk, zs.digest, zs.size, true, a, LEN));
	corrupt(dir, &rs);
	CHECK(!pfs_blob_holds(oci, &chk, rs.digest, rs.size, false, b, LEN));

	/* A blob still waiting, unnamed, for its batch's sync is read through
	 * its descriptor: the same proof, before and after it is named. */
	a[0] ^= 1;
	z.len = 0;
	CHECK(pfs_seekable_compress(cctx, a, LEN, 3, 32u << 10, &z) == 0);
	put(oci, z.data, z.len, &zs);
	CHECK(pfs_blob_holds(oci, &chk, zs.digest, zs.size, true, a, LEN));
	CHECK(!pfs_blob_holds(oci, &chk, zs.digest, zs.size, true, b, LEN));
	CHECK(!pfs_blob_holds(oci, &chk, zs.digest, zs.size + 1, true, a, LEN));
	CHECK(pfs_oci_sync(oci) == 0);
	CHECK(pfs_blob_holds(oci, &chk, zs.digest, zs.size, true, a, LEN));

	pfs_chunk_check_free(&chk);
	pfs_buf_free(&z);
	ZSTD_freeCCtx(cctx);
	pfs_oci_close(oci);
	free(a);
	free(b);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	return check_done("test_repeats");
}
