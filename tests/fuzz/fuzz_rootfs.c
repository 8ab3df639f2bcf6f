// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the rootfs decoder (core/capnp.c, core/rootfs.c) on
 * arbitrary bytes, driven over everything a reader does by
 * tests/unit/exercise.h.  Whatever the input, no crash, no out-of-bounds
 * access, no undefined behaviour, no hang.
 */
#include <stddef.h>
#include <stdint.h>

#include "../unit/exercise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	exercise_rootfs(data, size);
	return 0;
}
