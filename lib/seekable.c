// SPDX-License-Identifier: MIT
#include <errno.h>
#include <xxhash.h>

#include "../core/puzzlefs_fs.h"
#include "seekable.h"

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Run one frame: feed the slice with e_continue, then flush with e_end
 * until zstd says the frame is complete (no pledged size, so the frame
 * header carries no content size, as zeekstd writes it). */
static int compress_frame(ZSTD_CCtx *cctx, const uint8_t *src, size_t len,
			  struct pfs_buf *out, size_t *csize)
{
	ZSTD_inBuffer in = { src, len, 0 };
	size_t start = out->len, r;
	ZSTD_EndDirective mode = ZSTD_e_continue;

	for (;;) {
		ZSTD_outBuffer ob;

		if (pfs_buf_reserve(out, ZSTD_CStreamOutSize()))
			return -ENOMEM;
		ob.dst = out->data + out->len;
		ob.size = out->cap - out->len;
		ob.pos = 0;
		if (mode == ZSTD_e_continue && in.pos == in.size) {
			mode = ZSTD_e_end;
			in.src = NULL;
			in.size = in.pos = 0;
		}
		r = ZSTD_compressStream2(cctx, &ob, &in, mode);
		if (ZSTD_isError(r))
			return -EIO;
		out->len += ob.pos;
		if (mode == ZSTD_e_end && r == 0)
			break;
	}
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_only);
	*csize = out->len - start;
	return 0;
}

int pfs_seekable_compress(ZSTD_CCtx *cctx, const void *src, size_t len,
			  int level, uint32_t frame, struct pfs_buf *out)
{
	const uint8_t *p = src;
	struct pfs_buf table = { 0 };
	uint8_t ent[8];
	uint32_t n = 0;
	size_t off = 0;
	int e;

	if (!frame || frame > PFS_SEEK_MAX_FRAME_SIZE)
		return -EINVAL;
	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	if (ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel,
						level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 0)))
		return -EINVAL;
	do {
		size_t slice = len - off < frame ? len - off : frame, csize;

		e = compress_frame(cctx, p + off, slice, out, &csize);
		if (e)
			goto out;
		put_le32(ent, (uint32_t)csize);
		put_le32(ent + 4, (uint32_t)slice);
		if (pfs_buf_add(&table, ent, 8)) {
			e = -ENOMEM;
			goto out;
		}
		n++;
		off += slice;
	} while (off < len);

	put_le32(ent, PFS_SKIPPABLE_MAGIC);
	put_le32(ent + 4, (uint32_t)(table.len + PFS_SEEK_FOOTER_LEN));
	e = -ENOMEM;
	if (pfs_buf_add(out, ent, 8) || pfs_buf_add(out, table.data, table.len))
		goto out;
	put_le32(ent, n);
	ent[4] = 0;
	if (pfs_buf_add(out, ent, 5))
		goto out;
	put_le32(ent, PFS_SEEKABLE_MAGIC);
	if (pfs_buf_add(out, ent, 4))
		goto out;
	e = 0;
out:
	pfs_buf_free(&table);
	return e;
}

int pfs_seekable_frame(ZSTD_DCtx *dctx, const uint8_t *src, size_t csize,
		       uint8_t *dst, size_t dsize, const uint32_t *checksum)
{
	unsigned long long fcs;
	size_t r;

	/* Exactly one frame, whose declared size (if any) matches. */
	if (ZSTD_findFrameCompressedSize(src, csize) != csize)
		return -EIO;
	fcs = ZSTD_getFrameContentSize(src, csize);
	if (fcs == ZSTD_CONTENTSIZE_ERROR ||
	    (fcs != ZSTD_CONTENTSIZE_UNKNOWN && fcs != dsize))
		return -EIO;
	r = ZSTD_decompressDCtx(dctx, dst, dsize, src, csize);
	if (ZSTD_isError(r) || r != dsize)
		return -EIO;
	if (checksum && (uint32_t)XXH64(dst, dsize, 0) != *checksum)
		return -EIO;
	return 0;
}
