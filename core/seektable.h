/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * Seek table of a seekable zstd blob: a skippable frame at the end listing
 * (compressed size, decompressed size[, checksum]) per frame.  Parsing is
 * two steps because the table's length is only known from its footer:
 * pfs_seektable_footer() reads the last 9 bytes, the caller fetches the
 * whole table, pfs_seektable_parse() validates it against the blob size.
 */
#ifndef PUZZLEFS_SEEKTABLE_H
#define PUZZLEFS_SEEKTABLE_H

#include "compat.h"

struct pfs_seektable {
	const u8 *entries;	/* in the caller's copy of the table */
	u32 nframes;
	u32 entry_size;		/* 8, or 12 with checksums */
	bool checksums;
	u64 table_off;		/* where the table frame starts in the blob */
	u64 data_size;		/* sum of decompressed sizes */
};

/* From the blob's last PFS_SEEK_FOOTER_LEN bytes: the table's full length. */
int pfs_seektable_footer(const u8 *footer, u64 blob_size, u64 *table_len);
int pfs_seektable_parse(const u8 *table, u64 table_len, u64 blob_size,
			struct pfs_seektable *st);

static inline u32 pfs_seek_csize(const struct pfs_seektable *st, u32 i)
{
	return pfs_le32(st->entries + (u64)i * st->entry_size);
}

static inline u32 pfs_seek_dsize(const struct pfs_seektable *st, u32 i)
{
	return pfs_le32(st->entries + (u64)i * st->entry_size + 4);
}

static inline u32 pfs_seek_checksum(const struct pfs_seektable *st, u32 i)
{
	return pfs_le32(st->entries + (u64)i * st->entry_size + 8);
}

/* Prefix sums: coff/doff get nframes + 1 entries (compressed and
 * decompressed start of each frame, then the totals). */
void pfs_seektable_offsets(const struct pfs_seektable *st, u64 *coff,
			   u64 *doff);

/* Frame holding decompressed offset @off (binary search in doff). */
u32 pfs_seektable_find(const u64 *doff, u32 nframes, u64 off);

#endif
