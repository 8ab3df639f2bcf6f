// SPDX-License-Identifier: MIT
#include <errno.h>

#include "write/fastcdc.h"
#include "write/fastcdc_gear.h"

/* Mask k has k one-bits spread over the word (the v2020 mask table). */
static const uint64_t masks[26] = {
	0, 0, 0, 0, 0,
	0x0000000001804110ull, 0x0000000001803110ull, 0x0000000018035100ull,
	0x0000001800035300ull, 0x0000019000353000ull, 0x0000590003530000ull,
	0x0000d90003530000ull, 0x0000d90103530000ull, 0x0000d90303530000ull,
	0x0000d90313530000ull, 0x0000d90f03530000ull, 0x0000d90303537000ull,
	0x0000d90703537000ull, 0x0000d90707537000ull, 0x0000d91707537000ull,
	0x0000d91747537000ull, 0x0000d91767537000ull, 0x0000d93767537000ull,
	0x0000d93777537000ull, 0x0000d93777577000ull, 0x0000db3777577000ull,
};

int pfs_cdc_params_init(struct pfs_cdc_params *p, uint32_t min, uint32_t avg,
			uint32_t max, unsigned level)
{
	unsigned bits;

	if (min < 64 || min > 1048576 || avg < 256 || avg > 4194304 ||
	    max < 1024 || max > 16777216 || level > 3)
		return -EINVAL;
	/* round(log2(avg)): avg is a power of two in practice, and past
	 * 2^b * sqrt(2), that is avg^2 >= 2^(2b+1), it rounds up. */
	bits = 31 - (unsigned)__builtin_clz(avg);
	if ((uint64_t)avg * avg >= 1ull << (2 * bits + 1))
		bits++;
	if (bits + level > 25 || bits < level + 5)
		return -EINVAL;
	p->min = min;
	p->avg = avg;
	p->max = max;
	p->mask_s = masks[bits + level];
	p->mask_l = masks[bits - level];
	p->mask_s_ls = p->mask_s << 1;
	p->mask_l_ls = p->mask_l << 1;
	return 0;
}

/* The gear hash is fed two bytes per step: the even byte through the
 * pre-shifted table and tested against the shifted mask, the odd one
 * through the plain table. */
size_t pfs_cdc_cut(const struct pfs_cdc_params *p, const uint8_t *src,
		   size_t n, uint64_t *hash)
{
	size_t remaining, center, i, a;
	uint64_t h = 0;

	*hash = 0;
	if (n <= p->min)
		return n;
	remaining = n > p->max ? p->max : n;
	center = remaining < p->avg ? remaining : p->avg;
	for (i = p->min / 2; i < center / 2; i++) {
		a = 2 * i;
		h = (h << 2) + (pfs_gear[src[a]] << 1);
		if (!(h & p->mask_s_ls))
			goto cut_a;
		h += pfs_gear[src[a + 1]];
		if (!(h & p->mask_s))
			goto cut_a1;
	}
	for (; i < remaining / 2; i++) {
		a = 2 * i;
		h = (h << 2) + (pfs_gear[src[a]] << 1);
		if (!(h & p->mask_l_ls))
			goto cut_a;
		h += pfs_gear[src[a + 1]];
		if (!(h & p->mask_l))
			goto cut_a1;
	}
	*hash = h;
	return remaining;
cut_a:
	*hash = h;
	return a;
cut_a1:
	*hash = h;
	return a + 1;
}
