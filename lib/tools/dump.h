/* SPDX-License-Identifier: MIT */
#ifndef PUZZLEFS_DUMP_H
#define PUZZLEFS_DUMP_H

#include <jansson.h>

#include "read/image.h"

/* Every layer's inodes as stored, fsVerityData, and the image's digests. */
json_t *pfs_image_dump(struct pfs_image *img);

#endif
