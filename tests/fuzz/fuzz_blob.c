// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the bytes as a chunk blob, stored under its sha256 in
 * a real OCI directory and read through the reader's blob cache
 * (lib/read/blob.c) as raw and as seekable zstd, with a cache far smaller
 * than what the blob may decompress to: its size, pieces at the start,
 * the middle and the end, a sequential read of it all in 64 KiB pieces,
 * and readahead's warm-up.  Frames are decoded one at a time, none above
 * a chunk's size; what is read must be what each frame decodes to on its
 * own, and the cache must let go of what it decoded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/puzzlefs_fs.h"
#include "../../core/seektable.h"
#include "read/blob.h"
#include "seekable.h"
#include "fuzz_ocidir.h"

#define READ_MAX (8u << 20)	/* content read at most per input */
#define PIECE 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];
static struct pfs_oci *oci;
static ZSTD_DCtx *dctx;

static const struct pfs_log log_quiet = { fuzz_quiet, NULL };

static void setup(void)
{
	fuzz_oci_dir(dir, "blob");
	if (pfs_oci_open(dir, false, &log_quiet, &oci))
		abort();
	dctx = ZSTD_createDCtx();
}

/* The content as each frame decodes on its own, or NULL: what the reader
 * must serve (the fuzz target of the seek table checks the parser). */
static uint8_t *reference(const uint8_t *data, size_t size, uint64_t *len)
{
	struct pfs_seektable st;
	uint64_t tlen, c = 0, d = 0;
	uint8_t *plain;
	uint32_t i, sum;

	if (size < PFS_SEEK_FOOTER_LEN ||
	    pfs_seektable_footer(data + size - PFS_SEEK_FOOTER_LEN, size, &tlen) ||
	    pfs_seektable_parse(data + size - tlen, tlen, size, &st) ||
	    st.data_size > READ_MAX)
		return NULL;
	plain = malloc(st.data_size + 1);
	for (i = 0; plain && i < st.nframes; i++) {
		if (pfs_seek_dsize(&st, i) > PFS_FRAME_MAX)
			abort();	/* the parser lets no bigger frame by */
		if (st.checksums)
			sum = pfs_seek_checksum(&st, i);
		if (pfs_seekable_frame(dctx, data + c, pfs_seek_csize(&st, i),
				       plain + d, pfs_seek_dsize(&st, i),
				       st.checksums ? &sum : NULL)) {
			free(plain);
			return NULL;
		}
		c += pfs_seek_csize(&st, i);
		d += pfs_seek_dsize(&st, i);
	}
	*len = st.data_size;
	return plain;
}

static void read_all(struct pfs_blob_cache *bc, const uint8_t *digest,
		     bool compressed, const uint8_t *data, size_t size)
{
	static uint8_t buf[PIECE];
	uint64_t len = 0, off, want = 0;
	uint8_t *ref = NULL;
	size_t n;
	int e;

	if (pfs_blob_content_size(bc, digest, compressed, &len))
		return;
	if (compressed)
		ref = reference(data, size, &want);
	else
		want = size;
	if (!compressed || ref) {
		if (len != want)
			abort();
	}
	/* The start, the middle and the end. */
	n = len < PIECE ? (size_t)len : PIECE;
	pfs_blob_read(bc, digest, compressed, 0, n, buf);
	pfs_blob_read(bc, digest, compressed, len / 2, n / 2, buf);
	pfs_blob_read(bc, digest, compressed, len - n, n, buf);
	/* Beyond the end is an error. */
	if (pfs_blob_read(bc, digest, compressed, len, 1, buf) == 0)
		abort();
	/* All of it in order, as a sequential reader does. */
	for (off = 0; off < len && off < READ_MAX; off += n) {
		n = len - off < PIECE ? (size_t)(len - off) : PIECE;
		e = pfs_blob_read(bc, digest, compressed, off, n, buf);
		if (e)
			break;
		if (!compressed && memcmp(buf, data + off, n))
			abort();
		if (ref && memcmp(buf, ref + off, n))
			abort();
	}
	if (ref && off < len)
		abort();		/* every frame decodes: so must reads */
	pfs_blob_warm(bc, digest, compressed);
	free(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfs_blob_cache *bc;
	uint8_t digest[PFS_DIGEST_SIZE];
	char hex[2 * PFS_DIGEST_SIZE + 1];

	if (!dir[0])
		setup();
	fuzz_put_blob(dir, data, size, hex);
	if (pfs_unhex(hex, digest, PFS_DIGEST_SIZE))
		abort();
	/* A cache far smaller than a frame can be. */
	if (pfs_blob_cache_new(oci, &log_quiet, 64 * 1024, NULL, &bc))
		abort();
	read_all(bc, digest, true, data, size);
	read_all(bc, digest, false, data, size);
	pfs_blob_cache_free(bc);
	fuzz_drop_blob(dir, hex);
	return 0;
}
