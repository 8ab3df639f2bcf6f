// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: an image manifest as the kernel driver meets it
 * (core/manifest.c).  Whatever the bytes, the scan must end without
 * reading out of bounds, and give the same answer twice.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfs_manifest_rootfs a, b;
	uint8_t *copy = malloc(size ? size : 1);
	int ea, eb;

	/* An exact-size copy: ASan catches a read one byte past the end. */
	memcpy(copy, data, size);
	ea = pfs_manifest_find_rootfs(copy, size, &a);
	eb = pfs_manifest_find_rootfs(copy, size, &b);
	if (ea != eb || (ea == 0 && memcmp(&a, &b, sizeof(a))))
		abort();
	if (ea != 0 && ea != -ENOENT && ea != -PFS_ECORRUPT)
		abort();
	free(copy);
	return 0;
}
