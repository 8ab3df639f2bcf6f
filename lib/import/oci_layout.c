// SPDX-License-Identifier: MIT
/*
 * Import source: an OCI image layout, as `skopeo copy ... oci:DIR:TAG`,
 * buildah and umoci write it.  The tag's descriptor leads to an image
 * manifest, or to an image index (or Docker manifest list) in which the
 * host's platform (or --platform) picks one; its config gives the runtime
 * config and rootfs.diff_ids; its layers are read from blobs/sha256.
 * Every manifest, index and config is checked against its digest before
 * it is used; layers are checked while they stream (layer.c).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/puzzlefs_fs.h"
#include "import/source.h"
#include "store/oci.h"

#define MAX_INDEX_DEPTH 4	/* index -> index -> ... -> manifest */
#define MAX_CONFIG (16u << 20)

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"

struct oci_src {
	struct pfs_src s;
	struct pfs_oci *oci;
};

static int oci_open_layer(struct pfs_src *s, size_t i, struct pfs_stream **out)
{
	struct oci_src *o = (struct oci_src *)s;
	struct stat st;
	int fd = pfs_oci_blob_open(o->oci, s->layers[i].digest);

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return pfs_errf(s->log, EINVAL, "%s: %s: not a regular file",
				o->oci->path, s->layers[i].name);
	}
	return pfs_stream_fd(fd, out);
}

static void oci_free(struct pfs_src *s)
{
	struct oci_src *o = (struct oci_src *)s;

	pfs_src_base_free(s);
	pfs_oci_close(o->oci);
	free(o);
}

static const struct pfs_src_ops oci_ops = {
	.open_layer = oci_open_layer,
	.free = oci_free,
};

/* A JSON blob a descriptor names, checked against it. */
static int read_json(struct oci_src *o, json_t *desc, const char *what,
		     json_t **out)
{
	struct pfs_desc d;
	json_error_t jerr;
	uint8_t *data;
	size_t len;
	int e;

	e = pfs_oci_parse_desc(o->oci, desc, what, &d);
	if (!e)
		e = pfs_oci_blob_read(o->oci, d.digest, d.size, MAX_CONFIG, NULL,
				      &data, &len, NULL);
	if (e)
		return e == -EFBIG ? pfs_errf(o->s.log, EFBIG, "%s: %s: too large",
					      o->oci->path, what) : e;
	*out = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	free(data);
	if (!json_is_object(*out)) {
		json_decref(*out);
		return pfs_errf(o->s.log, EINVAL, "%s: %s: not a JSON object%s%s",
				o->oci->path, what, *out ? "" : ": ",
				*out ? "" : jerr.text);
	}
	return 0;
}

static const char *media_of(json_t *desc, json_t *blob)
{
	const char *mt = json_string_value(json_object_get(desc, "mediaType"));

	if (!mt && blob)
		mt = json_string_value(json_object_get(blob, "mediaType"));
	return mt;
}

static bool is_index(const char *mt)
{
	return mt && (!strcmp(mt, MT_OCI_INDEX) || !strcmp(mt, MT_DOCKER_LIST));
}

/* The one entry of @list (index "manifests") for @platform. */
static int pick(struct oci_src *o, json_t *list, const char *platform,
		const char *what, json_t **out)
{
	char host[64];
	json_t *ent;
	size_t i;

	json_array_foreach(list, i, ent) {
		if (pfs_platform_match(json_object_get(ent, "platform"),
				       platform)) {
			*out = ent;
			return 0;
		}
	}
	snprintf(host, sizeof(host), "linux/%s", pfs_goarch());
	return pfs_errf(o->s.log, ENOENT, "%s: %s: no image for %s",
			o->oci->path, what, platform ? platform : host);
}

/* The tag's entry in index.json (without a tag: the only image). */
static int find_entry(struct oci_src *o, json_t *index, const char *tag,
		      const char *platform, json_t **out)
{
	json_t *list = json_object_get(index, "manifests"), *ent, *match;
	size_t i, n = 0;

	match = json_array();
	if (!match)
		return -ENOMEM;
	json_array_foreach(list, i, ent) {
		const char *t = pfs_oci_entry_tag(ent);

		if (!tag || (t && !strcmp(t, tag)))
			json_array_append(match, ent);
	}
	n = json_array_size(match);
	if (n == 1) {
		/* Borrowed from @index, which outlives the source's set-up. */
		*out = json_array_get(match, 0);
		json_decref(match);
		return 0;
	}
	if (n == 0) {
		json_decref(match);
		return tag ? pfs_errf(o->s.log, ENOENT, "%s: no tag '%s'",
				      o->oci->path, tag) :
			     pfs_errf(o->s.log, ENOENT, "%s: no image",
				      o->oci->path);
	}
	/* Several: one per platform (or a layout of many images). */
	ent = NULL;
	json_array_foreach(match, i, ent)
		if (json_object_get(ent, "platform") &&
		    pfs_platform_match(json_object_get(ent, "platform"),
				       platform))
			break;
	if (i == n || (!tag && !platform)) {
		json_decref(match);
		return pfs_errf(o->s.log, EINVAL,
				"%s: %zu images%s%s%s: name one (oci:DIR:TAG) or its platform (--platform)",
				o->oci->path, n, tag ? " tagged '" : "",
				tag ? tag : "", tag ? "'" : "");
	}
	*out = ent;
	json_decref(match);
	return 0;
}

static int add_layers(struct oci_src *o, json_t *man)
{
	json_t *layers = json_object_get(man, "layers"), *l;
	char what[160], hex[2 * PFS_DIGEST_SIZE + 1];
	size_t i, n;
	int e;

	if (!json_is_array(layers))
		return pfs_errf(o->s.log, EINVAL, "%s: image manifest has no layers",
				o->oci->path);
	n = json_array_size(layers);
	json_array_foreach(layers, i, l) {
		const char *mt = media_of(l, NULL);
		struct pfs_desc d;

		snprintf(what, sizeof(what), "layer %zu", i + 1);
		if (mt && !strncmp(mt, PFS_MEDIA_ROOTFS, strlen(PFS_MEDIA_ROOTFS)))
			return pfs_errf(o->s.log, EINVAL,
					"%s: already a PuzzleFS image", o->oci->path);
		e = pfs_oci_parse_desc(o->oci, l, what, &d);
		if (e)
			return e;
		pfs_hex(d.digest, PFS_DIGEST_SIZE, hex);
		if (!pfs_src_layer_type_ok(mt))
			return pfs_errf(o->s.log, EOPNOTSUPP,
					"%s: layer %zu (sha256:%s): media type '%s' is not a tar layer",
					o->oci->path, i + 1, hex, mt ? mt : "(none)");
		snprintf(what, sizeof(what), "layer %zu/%zu sha256:%s", i + 1, n,
			 hex);
		e = pfs_src_add_layer(&o->s, what, mt, d.digest, d.size);
		if (e)
			return e;
	}
	return 0;
}

/* From the tag's descriptor through any index to the image manifest and
 * its config. */
static int resolve(struct oci_src *o, json_t *desc, const char *platform)
{
	json_t *blob = NULL, *next = NULL;
	unsigned depth;
	bool picked = false;
	int e;

	json_incref(desc);
	for (depth = 0;; depth++) {
		if (depth > MAX_INDEX_DEPTH) {
			e = pfs_errf(o->s.log, ELOOP, "%s: image indexes nested too deep",
				     o->oci->path);
			goto out;
		}
		e = read_json(o, desc, picked ? "image index entry" :
			      "image manifest", &blob);
		if (e)
			goto out;
		if (!is_index(media_of(desc, blob)))
			break;
		e = pick(o, json_object_get(blob, "manifests"), platform,
			 "image index", &next);
		if (e)
			goto out;
		/* The entry lives in @blob, which goes. */
		json_decref(desc);
		desc = json_incref(next);
		json_decref(blob);
		blob = NULL;
		picked = true;
	}
	e = add_layers(o, blob);
	if (!e) {
		json_t *cd = json_object_get(blob, "config");

		e = cd ? read_json(o, cd, "image config", &o->s.config) :
			 pfs_errf(o->s.log, EINVAL, "%s: image manifest has no config",
				  o->oci->path);
	}
	if (!e)
		e = pfs_src_diff_ids(&o->s, o->oci->path);
	/* An image named directly is taken as it is, unless --platform asks
	 * for something else. */
	if (!e && !picked && platform &&
	    !pfs_platform_match(o->s.config, platform))
		e = pfs_errf(o->s.log, EINVAL, "%s: the image is not for %s",
			     o->oci->path, platform);
out:
	json_decref(desc);
	json_decref(blob);
	return e;
}

int pfs_src_oci(const char *dir, const char *tag, const char *platform,
		const struct pfs_log *log, struct pfs_src **out)
{
	struct oci_src *o = calloc(1, sizeof(*o));
	json_t *index = NULL, *ent = NULL;
	int e;

	if (!o)
		return -ENOMEM;
	o->s.ops = &oci_ops;
	o->s.log = log;
	e = pfs_oci_open(dir, false, log, &o->oci);
	if (!e)
		e = pfs_oci_index_load(o->oci, &index);
	if (!e)
		e = find_entry(o, index, tag, platform, &ent);
	if (!e)
		e = resolve(o, ent, platform);
	json_decref(index);
	if (e) {
		oci_free(&o->s);
		return e;
	}
	*out = &o->s;
	return 0;
}
