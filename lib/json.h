/* SPDX-License-Identifier: MIT */
/* RFC 8785 (JCS) canonical JSON, the encoding of OCI index and manifests. */
#ifndef PUZZLEFS_JSON_H
#define PUZZLEFS_JSON_H

#include <jansson.h>

#include "util.h"

int pfs_json_canonical(const json_t *v, struct pfs_buf *out);

#endif
