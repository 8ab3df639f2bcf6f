// SPDX-License-Identifier: MIT
/*
 * An image's runtime config: the OCI image config blob its manifest
 * names (what `puzzlefs import` keeps from the source image), checked
 * against its digest.  Images built from a directory, ours and the
 * reference's, have the empty config instead.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/puzzlefs_fs.h"
#include "store/oci.h"

#define MAX_CONFIG (16u << 20)

static int config_of(struct pfs_oci *oci, const char *tag, char **config,
		     size_t *len)
{
	struct pfs_desc md, cd;
	json_t *man, *c;
	json_error_t jerr;
	const char *mt;
	uint8_t *data;
	size_t mlen;
	char what[300];
	int e;

	e = pfs_oci_tag_resolve(oci, tag, &md);
	if (!e)
		e = pfs_oci_blob_read(oci, md.digest, md.size, PFS_MAX_JSON, NULL,
				      &data, &mlen, NULL);
	if (e)
		return e;
	man = json_loadb((const char *)data, mlen, JSON_REJECT_DUPLICATES, &jerr);
	free(data);
	if (!man)
		return pfs_errf(oci->log, EINVAL, "%s: tag '%s': manifest: %s",
				oci->path, tag, jerr.text);
	c = json_object_get(man, "config");
	mt = json_string_value(json_object_get(c, "mediaType"));
	snprintf(what, sizeof(what), "tag '%s': config", tag);
	if (!c || (mt && !strcmp(mt, PFS_MEDIA_EMPTY))) {
		json_decref(man);
		return 0;
	}
	e = pfs_oci_parse_desc(oci, c, what, &cd);
	json_decref(man);
	if (!e)
		e = pfs_oci_blob_read(oci, cd.digest, cd.size, MAX_CONFIG, NULL,
				      &data, len, NULL);
	if (e)
		return e == -EFBIG ? pfs_errf(oci->log, EFBIG, "%s: %s: too large",
					      oci->path, what) : e;
	data[*len] = 0;		/* pfs_oci_blob_read leaves room for it */
	*config = (char *)data;
	return 0;
}

int pfs_image_config(const char *oci_dir, const char *tag,
		     const struct pfs_log *log, char **config, size_t *len)
{
	struct pfs_oci *oci;
	int e;

	*config = NULL;
	*len = 0;
	e = pfs_oci_open(oci_dir, false, log, &oci);
	if (e)
		return e;
	e = config_of(oci, tag, config, len);
	pfs_oci_close(oci);
	return e;
}
