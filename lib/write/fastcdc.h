/* SPDX-License-Identifier: MIT */
/*
 * FastCDC v2020 content-defined chunking, cut for cut the same as
 * fastcdc-rs 3.0.0 (doc/FORMAT.md, "Chunking").
 */
#ifndef PUZZLEFS_FASTCDC_H
#define PUZZLEFS_FASTCDC_H

#include <stddef.h>
#include <stdint.h>

struct pfs_cdc_params {
	uint32_t min, avg, max;
	uint64_t mask_s, mask_l, mask_s_ls, mask_l_ls;
};

/* level: normalization level 0..3 (fastcdc-rs StreamCDC::new uses 1). */
int pfs_cdc_params_init(struct pfs_cdc_params *p, uint32_t min, uint32_t avg,
			uint32_t max, unsigned level);

/* Length of the first chunk of src[0..n) (n is at most p->max for stream
 * chunking); *hash gets the gear hash at the cut. */
size_t pfs_cdc_cut(const struct pfs_cdc_params *p, const uint8_t *src,
		   size_t n, uint64_t *hash);

#endif
