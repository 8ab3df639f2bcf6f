// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: a seekable zstd blob as a reader meets it.  The seek
 * table's footer, then the table (core/seektable.c), then every frame
 * decoded on its own into its announced size (lib/seekable.c), as the
 * chunk reader does.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../core/puzzlefs_fs.h"
#include "../../core/seektable.h"
#include "seekable.h"

/* A reader holds a blob's content in memory; keep the fuzzer's frames
 * small enough not to trip its memory limit. */
#define MAX_CONTENT (16u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static ZSTD_DCtx *dctx;
	struct pfs_seektable st;
	uint64_t tlen, *coff, *doff;
	uint8_t *plain;
	uint32_t i, sum;

	if (!dctx)
		dctx = ZSTD_createDCtx();
	if (size < PFS_SEEK_FOOTER_LEN ||
	    pfs_seektable_footer(data + size - PFS_SEEK_FOOTER_LEN, size, &tlen) ||
	    pfs_seektable_parse(data + size - tlen, tlen, size, &st) ||
	    st.data_size > MAX_CONTENT)
		return 0;
	coff = malloc((st.nframes + 1) * sizeof(*coff));
	doff = malloc((st.nframes + 1) * sizeof(*doff));
	plain = malloc(st.data_size ? st.data_size : 1);
	if (coff && doff && plain) {
		pfs_seektable_offsets(&st, coff, doff);
		/* Every offset maps to the frame that holds it. */
		for (i = 0; i < st.nframes; i++) {
			uint32_t f = pfs_seektable_find(doff, st.nframes, doff[i]);

			if (f >= st.nframes || doff[f] > doff[i] ||
			    doff[f + 1] <= doff[i])
				if (pfs_seek_dsize(&st, i))
					abort();
		}
		for (i = 0; i < st.nframes; i++) {
			if (st.checksums)
				sum = pfs_seek_checksum(&st, i);
			pfs_seekable_frame(dctx, data + coff[i],
					   pfs_seek_csize(&st, i), plain + doff[i],
					   pfs_seek_dsize(&st, i),
					   st.checksums ? &sum : NULL);
		}
	}
	free(coff);
	free(doff);
	free(plain);
	return 0;
}
