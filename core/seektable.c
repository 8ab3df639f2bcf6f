// SPDX-License-Identifier: MIT OR GPL-2.0
#include "seektable.h"
#include "puzzlefs_fs.h"

int pfs_seektable_footer(const u8 *footer, u64 blob_size, u64 *table_len)
{
	u32 n = pfs_le32(footer);
	u8 desc = footer[4];
	u64 len;

	if (blob_size < PFS_SEEK_FOOTER_LEN ||
	    pfs_le32(footer + 5) != PFS_SEEKABLE_MAGIC ||
	    (desc & PFS_SEEK_RESERVED_BITS) || n > PFS_SEEK_MAX_FRAMES)
		return -PFS_ECORRUPT;
	len = 8 + (u64)n * (desc & PFS_SEEK_CHECKSUM_FLAG ? 12 : 8) +
	      PFS_SEEK_FOOTER_LEN;
	if (len > blob_size)
		return -PFS_ECORRUPT;
	*table_len = len;
	return 0;
}

int pfs_seektable_parse(const u8 *table, u64 table_len, u64 blob_size,
			struct pfs_seektable *st)
{
	const u8 *footer = table + table_len - PFS_SEEK_FOOTER_LEN;
	u64 want, csum = 0, dsum = 0;
	u32 i;

	if (table_len < 8 + PFS_SEEK_FOOTER_LEN ||
	    pfs_seektable_footer(footer, blob_size, &want) || want != table_len)
		return -PFS_ECORRUPT;
	if (pfs_le32(table) != PFS_SKIPPABLE_MAGIC ||
	    pfs_le32(table + 4) != table_len - 8)
		return -PFS_ECORRUPT;
	st->entries = table + 8;
	st->nframes = pfs_le32(footer);
	st->checksums = footer[4] & PFS_SEEK_CHECKSUM_FLAG;
	st->entry_size = st->checksums ? 12 : 8;
	for (i = 0; i < st->nframes; i++) {
		u32 c = pfs_seek_csize(st, i), d = pfs_seek_dsize(st, i);

		/* The smallest zstd frame is 9 bytes (header + empty block);
		 * no frame of a chunk decompresses to more than a chunk. */
		if (c < 9 || c > PFS_SEEK_MAX_FRAME_SIZE || d > PFS_FRAME_MAX)
			return -PFS_ECORRUPT;
		csum += c;
		dsum += d;
	}
	if (csum + table_len != blob_size)
		return -PFS_ECORRUPT;
	st->table_off = csum;
	st->data_size = dsum;
	return 0;
}

void pfs_seektable_offsets(const struct pfs_seektable *st, u64 *coff,
			   u64 *doff)
{
	u64 c = 0, d = 0;
	u32 i;

	for (i = 0; i < st->nframes; i++) {
		coff[i] = c;
		doff[i] = d;
		c += pfs_seek_csize(st, i);
		d += pfs_seek_dsize(st, i);
	}
	coff[st->nframes] = c;
	doff[st->nframes] = d;
}

u32 pfs_seektable_find(const u64 *doff, u32 nframes, u64 off)
{
	u32 lo = 0, hi = nframes;

	/* Last frame whose start is <= off; empty frames are skipped over. */
	while (hi - lo > 1) {
		u32 mid = lo + (hi - lo) / 2;

		if (doff[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	while (lo < nframes && doff[lo + 1] <= off)
		lo++;
	return lo;
}
