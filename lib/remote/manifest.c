// SPDX-License-Identifier: MIT
/* The blobs an image manifest names, as push and pull move them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "remote/registry.h"

/* More descriptors than any registry takes in a 4 MiB manifest. */
#define MAX_DESCS (1u << 20)
/* JSON integers are exact up to 2^53; no blob is larger. */
#define MAX_SIZE (1ull << 53)

struct descs {
	struct pfs_reg_desc *v;
	size_t n;
	struct pfs_dindex seen;
};

static const uint8_t *desc_digest(const void *owner, size_t i)
{
	const struct descs *d = owner;

	return d->v[i].digest;
}

static int add(struct descs *d, json_t *j, bool config, const char **why)
{
	const char *dg = json_string_value(json_object_get(j, "digest"));
	json_t *size = json_object_get(j, "size");
	struct pfs_reg_desc *x = &d->v[d->n];

	if (!json_is_object(j)) {
		*why = "a descriptor is not an object";
		return -EINVAL;
	}
	if (!dg || strncmp(dg, "sha256:", 7)) {
		*why = dg ? "a descriptor has a digest other than sha256 (not supported)" :
		       "a descriptor has no digest";
		return -EINVAL;
	}
	if (pfs_parse_digest(dg, x->digest)) {
		*why = "a descriptor has an invalid sha256 digest";
		return -EINVAL;
	}
	if (!json_is_integer(size) || json_integer_value(size) < 0 ||
	    (uint64_t)json_integer_value(size) > MAX_SIZE) {
		*why = "a descriptor has an invalid size";
		return -EINVAL;
	}
	x->size = (uint64_t)json_integer_value(size);
	x->config = config;
	if (pfs_dindex_find(&d->seen, x->digest) != SIZE_MAX) {
		struct pfs_reg_desc *first =
			&d->v[pfs_dindex_find(&d->seen, x->digest)];

		if (first->size != x->size) {
			*why = "two descriptors of one blob give it different sizes";
			return -EINVAL;
		}
		return 0;	/* the same blob twice: moved once */
	}
	if (pfs_dindex_add(&d->seen, x->digest, d->n))
		return -ENOMEM;
	d->n++;
	return 0;
}

/* What a document that is not an OCI image manifest is, in words. */
static const char *kind(json_t *v)
{
	const char *mt = json_string_value(json_object_get(v, "mediaType"));
	json_t *sv = json_object_get(v, "schemaVersion");

	if (json_is_integer(sv) && json_integer_value(sv) == 1)
		return "a Docker schema 1 manifest (not supported)";
	if (mt && !strcmp(mt, PFS_MEDIA_DOCKER_MANIFEST))
		return "a Docker schema 2 manifest, not an OCI one "
		       "(skopeo copy --format oci converts it)";
	if ((mt && (!strcmp(mt, PFS_MEDIA_OCI_INDEX) ||
		    !strcmp(mt, PFS_MEDIA_DOCKER_LIST))) ||
	    json_is_array(json_object_get(v, "manifests")))
		return "an image index (several platforms): name one of its "
		       "manifests by digest";
	if (mt && strcmp(mt, PFS_MEDIA_OCI_MANIFEST))
		return "not an OCI image manifest (unknown mediaType)";
	if (!json_is_integer(sv) || json_integer_value(sv) != 2)
		return "not an OCI image manifest (schemaVersion is not 2)";
	return NULL;
}

int pfs_reg_manifest_descs(const uint8_t *data, size_t len,
			   struct pfs_reg_desc **descs, size_t *n,
			   const char **why)
{
	struct descs d = { 0 };
	json_t *v, *config, *layers, *l;
	size_t i, total;
	int e = -EINVAL;

	*descs = NULL;
	*n = 0;
	v = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(v)) {
		*why = "not JSON, or not an object";
		goto out;
	}
	if ((*why = kind(v)))
		goto out;
	config = json_object_get(v, "config");
	layers = json_object_get(v, "layers");
	if (!config || !json_is_array(layers)) {
		*why = !config ? "no config descriptor" : "no layers";
		goto out;
	}
	total = json_array_size(layers) + 1;
	if (total > MAX_DESCS) {
		*why = "too many layers";
		goto out;
	}
	d.v = calloc(total, sizeof(*d.v));
	d.seen.digest = desc_digest;
	d.seen.owner = &d;
	e = -ENOMEM;
	if (!d.v)
		goto out;
	e = add(&d, config, true, why);
	json_array_foreach(layers, i, l) {
		if (e)
			break;
		e = add(&d, l, false, why);
	}
	if (!e) {
		*descs = d.v;
		*n = d.n;
		d.v = NULL;
	}
out:
	if (e == -ENOMEM)
		*why = "out of memory";
	free(d.v);
	pfs_dindex_free(&d.seen);
	json_decref(v);
	return e;
}
