/* SPDX-License-Identifier: MIT */
#ifndef PUZZLEFS_DUMP_H
#define PUZZLEFS_DUMP_H

#include <jansson.h>

#include "read/image.h"

/* Every layer's inodes as stored, fsVerityData, the image's digests, and
 * "expanded": what extract writes ({entries, files, bytes}; null if the
 * tree is malformed, pfs_image_check says why). */
json_t *pfs_image_dump(struct pfs_image *img);

#endif
