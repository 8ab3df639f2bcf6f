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

#define MAX_CONFIG (16u << 20)


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

static int oci_read_doc(struct pfs_src *s, json_t *desc, const char *what,
			json_t **out)
{
	return read_json((struct oci_src *)s, desc, what, out);
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
		e = pfs_src_resolve(&o->s, o->oci->path, oci_read_doc, ent, NULL,
				    platform);
	json_decref(index);
	if (e) {
		oci_free(&o->s);
		return e;
	}
	*out = &o->s;
	return 0;
}
