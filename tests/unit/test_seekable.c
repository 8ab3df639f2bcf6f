// SPDX-License-Identifier: MIT
/* Seekable zstd: the reference's blob for the fixture, round trips, and a
 * seek-table parser that refuses every inconsistency. */
#include <xxhash.h>

#include "../../core/puzzlefs_fs.h"
#include "../../core/seektable.h"
#include "seekable.h"
#include "check.h"

static int parse(const uint8_t *blob, size_t len, struct pfs_seektable *st)
{
	uint64_t tlen;

	if (len < PFS_SEEK_FOOTER_LEN ||
	    pfs_seektable_footer(blob + len - PFS_SEEK_FOOTER_LEN, len, &tlen))
		return -1;
	return pfs_seektable_parse(blob + len - tlen, tlen, len, st);
}

/* Decode every frame and compare with the original. */
static void roundtrip(const uint8_t *blob, size_t len, const uint8_t *orig,
		      size_t olen, uint32_t frame)
{
	struct pfs_seektable st;
	ZSTD_DCtx *d = ZSTD_createDCtx();
	uint64_t *coff, *doff;
	uint8_t *out = malloc(olen + 1);
	uint32_t i;

	CHECK(parse(blob, len, &st) == 0);
	CHECK_EQ_U64(st.data_size, olen);
	CHECK_EQ_U64(st.nframes, olen ? (olen + frame - 1) / frame : 1);
	coff = calloc(st.nframes + 1, 8);
	doff = calloc(st.nframes + 1, 8);
	pfs_seektable_offsets(&st, coff, doff);
	for (i = 0; i < st.nframes; i++) {
		uint32_t sum = 0;

		if (st.checksums)
			sum = pfs_seek_checksum(&st, i);
		CHECK(pfs_seekable_frame(d, blob + coff[i], pfs_seek_csize(&st, i),
					 out + doff[i], pfs_seek_dsize(&st, i),
					 st.checksums ? &sum : NULL) == 0);
	}
	CHECK(!memcmp(out, orig, olen));
	if (olen > 5000)
		CHECK_EQ_U64(pfs_seektable_find(doff, st.nframes, 5000), 5000 / frame);
	free(coff);
	free(doff);
	free(out);
	ZSTD_freeDCtx(d);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The same frames with a checksummed table, as zstd's contrib writer does. */
static void checksum_table(const uint8_t *blob, size_t len, const uint8_t *orig)
{
	struct pfs_seektable st;
	struct pfs_buf b = { 0 };
	uint8_t e[12];
	uint32_t i, off = 0;

	CHECK(parse(blob, len, &st) == 0);
	pfs_buf_add(&b, blob, st.table_off);
	put32(e, PFS_SKIPPABLE_MAGIC);
	put32(e + 4, 12 * st.nframes + 9);
	pfs_buf_add(&b, e, 8);
	for (i = 0; i < st.nframes; i++) {
		put32(e, pfs_seek_csize(&st, i));
		put32(e + 4, pfs_seek_dsize(&st, i));
		put32(e + 8, (uint32_t)XXH64(orig + off, pfs_seek_dsize(&st, i), 0));
		off += pfs_seek_dsize(&st, i);
		pfs_buf_add(&b, e, 12);
	}
	put32(e, st.nframes);
	e[4] = 0x80;
	put32(e + 5, PFS_SEEKABLE_MAGIC);
	pfs_buf_add(&b, e, 9);
	roundtrip(b.data, b.len, orig, off, 4096);
	/* A wrong checksum is an error. */
	b.data[b.len - 9 - 4] ^= 1;
	{
		struct pfs_seektable st2;
		ZSTD_DCtx *d = ZSTD_createDCtx();
		uint8_t out[4096];
		uint32_t sum;
		uint64_t last = 0;

		CHECK(parse(b.data, b.len, &st2) == 0);
		for (i = 0; i + 1 < st2.nframes; i++)
			last += pfs_seek_csize(&st2, i);
		sum = pfs_seek_checksum(&st2, st2.nframes - 1);
		CHECK(pfs_seekable_frame(d, b.data + last,
					 pfs_seek_csize(&st2, st2.nframes - 1), out,
					 pfs_seek_dsize(&st2, st2.nframes - 1),
					 &sum) < 0);
		ZSTD_freeDCtx(d);
	}
	pfs_buf_free(&b);
}

static void corruptions(const uint8_t *blob, size_t len)
{
	uint8_t *c = malloc(len);
	struct pfs_seektable st;
	size_t i;

	/* Every truncation is refused. */
	for (i = 0; i < len; i += (i < 64 ? 1 : 97))
		CHECK(parse(blob, i, &st) != 0);
	/* Flipping any byte of the table is either refused or harmless to
	 * the parser; flipping the magic numbers or sizes is refused. */
	for (i = len - 9 - 8 - 8; i < len; i++) {
		memcpy(c, blob, len);
		c[i] ^= 0x40;
		(void)parse(c, len, &st);
	}
	memcpy(c, blob, len);
	c[len - 1] ^= 1;			/* seekable magic */
	CHECK(parse(c, len, &st) != 0);
	memcpy(c, blob, len);
	c[len - 5] = 0x04;			/* reserved descriptor bit */
	CHECK(parse(c, len, &st) != 0);
	memcpy(c, blob, len);
	c[len - 9] ^= 1;			/* frame count */
	CHECK(parse(c, len, &st) != 0);
	memcpy(c, blob, len);
	CHECK(parse(c, len, &st) == 0);
	c[st.table_off + 8] ^= 1;		/* first compressed size */
	CHECK(parse(c, len, &st) != 0);
	free(c);
}

int main(void)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	struct pfs_buf out = { 0 };
	uint8_t d[PFS_DIGEST_SIZE];
	static const uint8_t empty[34] = {
		0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x00, 0x01, 0x00, 0x00,
		0x5e, 0x2a, 0x4d, 0x18, 0x11, 0, 0, 0, 0x09, 0, 0, 0, 0, 0, 0, 0,
		0x01, 0, 0, 0, 0x00, 0xb1, 0xea, 0x92, 0x8f,
	};
	uint8_t *big;
	size_t n, i;
	uint8_t *jpg = read_fixture("SekienAkashita.jpg", &n);

	/* The reference test's blob, byte for byte. */
	CHECK(pfs_seekable_compress(cctx, jpg, n, 3, 4096, &out) == 0);
	CHECK_EQ_U64(out.len, 104649);
	pfs_sha256(out.data, out.len, d);
	CHECK_HEX(d, 32, "d568d1505905ee36e66ef6f94f544a50f52c6a63574048da0cf351b8235ff42b");
	roundtrip(out.data, out.len, jpg, n, 4096);
	checksum_table(out.data, out.len, jpg);
	corruptions(out.data, out.len);

	/* Empty input: one empty frame. */
	out.len = 0;
	CHECK(pfs_seekable_compress(cctx, "", 0, 3, 4096, &out) == 0);
	CHECK(out.len == sizeof(empty) && !memcmp(out.data, empty, sizeof(empty)));
	roundtrip(out.data, out.len, (const uint8_t *)"", 0, 4096);

	/* Exact multiple of the frame size: no trailing empty frame; other
	 * frame sizes and levels. */
	big = malloc(3 * 65536);
	for (i = 0; i < 3 * 65536; i++)
		big[i] = (uint8_t)(i * 7 / 13);
	out.len = 0;
	CHECK(pfs_seekable_compress(cctx, big, 2 * 4096, 3, 4096, &out) == 0);
	roundtrip(out.data, out.len, big, 2 * 4096, 4096);
	out.len = 0;
	CHECK(pfs_seekable_compress(cctx, big, 3 * 65536, 19, 65536, &out) == 0);
	roundtrip(out.data, out.len, big, 3 * 65536, 65536);
	CHECK(pfs_seekable_compress(cctx, big, 10, 3, 0, &out) < 0);

	/* A frame decompresses to at most a chunk: one frame of a whole chunk
	 * is read, one byte more is refused (a 1 GiB frame is 34 KB). */
	{
		struct pfs_seektable st;
		uint8_t *z = calloc(PFS_FRAME_MAX + 1, 1);

		out.len = 0;
		CHECK(pfs_seekable_compress(cctx, z, PFS_FRAME_MAX, 3,
					    PFS_FRAME_MAX, &out) == 0);
		CHECK(parse(out.data, out.len, &st) == 0);
		out.len = 0;
		CHECK(pfs_seekable_compress(cctx, z, PFS_FRAME_MAX + 1, 3,
					    PFS_FRAME_MAX + 1, &out) == 0);
		CHECK(parse(out.data, out.len, &st) != 0);
		free(z);
	}

	pfs_buf_free(&out);
	ZSTD_freeCCtx(cctx);
	free(big);
	free(jpg);
	return check_done("seekable");
}
