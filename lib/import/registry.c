// SPDX-License-Identifier: MIT
/*
 * Import source: an image in a registry (docker://HOST[:PORT]/REPO[:TAG|
 * @DIGEST]), through the registry client (lib/remote/).  The manifest is
 * fetched by tag or digest (its digest checked against what the registry
 * says and what was asked for), an image index leads to the platform's
 * manifest by digest, the config is read whole and checked against its
 * descriptor, and each layer is a stream of the blob's body: nothing is
 * written to disk but the image being made.  The layer reader (layer.c)
 * checks what each stream hashes to, and so does the stream itself at its
 * end.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "import/source.h"
#include "remote/reference.h"
#include "remote/registry.h"
#include "store/oci.h"

#define MAX_CONFIG (16u << 20)
/* A document read on the way to the layers; the engine retries stalls. */
#define DOC_TIMEOUT_MS 120000

struct reg_src {
	struct pfs_src s;
	struct pfs_registry *reg;
	struct pfs_ref ref;
	char where[PFS_REF_HOST_MAX + PFS_REF_NAME_MAX + 80];
};

struct reg_stream {
	struct pfs_stream s;
	struct pfs_reg_stream *rs;
};

static ssize_t rs_read(struct pfs_stream *s, void *buf, size_t len)
{
	return pfs_reg_stream_read(((struct reg_stream *)s)->rs, buf, len);
}

static void rs_close(struct pfs_stream *s)
{
	struct reg_stream *r = (struct reg_stream *)s;

	pfs_reg_stream_close(r->rs);
	free(r);
}

static int reg_open_layer(struct pfs_src *s, size_t i, struct pfs_stream **out)
{
	struct reg_src *r = (struct reg_src *)s;
	struct reg_stream *st = calloc(1, sizeof(*st));
	int e;

	if (!st)
		return -ENOMEM;
	e = pfs_reg_stream_open(r->reg, r->ref.repo, s->layers[i].digest,
				s->layers[i].size, PFS_PRIO_DEMAND, &st->rs);
	if (e) {
		free(st);
		return e;
	}
	st->s.read = rs_read;
	st->s.close = rs_close;
	*out = &st->s;
	return 0;
}

static void reg_free(struct pfs_src *s)
{
	struct reg_src *r = (struct reg_src *)s;

	pfs_src_base_free(s);
	pfs_registry_close(r->reg);
	free(r);
}

static const struct pfs_src_ops reg_ops = {
	.open_layer = reg_open_layer,
	.free = reg_free,
};

static int parse_doc(struct reg_src *r, const uint8_t *data, size_t len,
		     const char *what, json_t **out)
{
	json_error_t jerr;

	*out = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(*out)) {
		json_decref(*out);
		*out = NULL;
		return pfs_errf(r->s.log, EINVAL, "%s: %s: not a JSON object%s%s",
				r->where, what, jerr.text[0] ? ": " : "",
				jerr.text);
	}
	return 0;
}

/* The config: a blob, read whole and checked against its descriptor. */
static int read_config(struct reg_src *r, const struct pfs_desc *d,
		       json_t **out)
{
	uint8_t digest[PFS_DIGEST_SIZE];
	uint8_t *buf;
	ssize_t n;
	int e;

	if (d->size > MAX_CONFIG)
		return pfs_errf(r->s.log, EFBIG, "%s: image config: too large "
				"(%llu bytes)", r->where,
				(unsigned long long)d->size);
	buf = malloc(d->size ? d->size : 1);
	if (!buf)
		return -ENOMEM;
	n = pfs_reg_blob_read(r->reg, r->ref.repo, d->digest, 0, d->size, buf,
			      PFS_PRIO_DEMAND, DOC_TIMEOUT_MS);
	if (n >= 0) {
		pfs_sha256(buf, (size_t)n, digest);
		if ((uint64_t)n != d->size ||
		    memcmp(digest, d->digest, PFS_DIGEST_SIZE))
			n = pfs_errf(r->s.log, EIO, "%s: image config: the "
				     "registry sent other bytes than its "
				     "descriptor names", r->where);
	}
	e = n < 0 ? (int)n : parse_doc(r, buf, (size_t)n, "image config", out);
	free(buf);
	return e;
}

static int read_doc(struct pfs_src *s, json_t *desc, const char *what,
		    json_t **out)
{
	struct reg_src *r = (struct reg_src *)s;
	struct pfs_reg_manifest m = { 0 };
	char target[7 + 2 * PFS_DIGEST_SIZE + 1] = "sha256:";
	struct pfs_desc d;
	int e;

	e = pfs_desc_parse(desc, s->log, r->where, what, &d);
	if (e)
		return e;
	if (!strcmp(what, PFS_SRC_CONFIG))
		return read_config(r, &d, out);
	/* A manifest by digest: the client checks the bytes against it. */
	pfs_hex(d.digest, PFS_DIGEST_SIZE, target + 7);
	e = pfs_reg_manifest_get(r->reg, r->ref.repo, target, NULL, &m);
	if (!e && m.data.len != d.size)
		e = pfs_errf(s->log, EIO, "%s: %s: %zu bytes, its descriptor "
			     "says %llu", r->where, what, m.data.len,
			     (unsigned long long)d.size);
	if (!e)
		e = parse_doc(r, m.data.data, m.data.len, what, out);
	pfs_reg_manifest_free(&m);
	return e;
}

int pfs_src_registry(const char *spec, const char *platform,
		     const struct pfs_remote_opts *remote,
		     const struct pfs_log *log, struct pfs_src **out)
{
	struct reg_src *r = calloc(1, sizeof(*r));
	struct pfs_remote_opts ro = { 0 };
	struct pfs_reg_manifest m = { 0 };
	struct pfs_reg_scope scope;
	char target[PFS_REF_TAG_MAX + 80];
	json_t *doc = NULL, *desc = NULL;
	int e;

	if (!r)
		return -ENOMEM;
	r->s.ops = &reg_ops;
	r->s.log = log;
	if (remote)
		ro = *remote;
	ro.log = log;
	e = pfs_ref_parse(spec, &r->ref, log);
	if (e)
		goto out;
	pfs_ref_format(&r->ref, r->where, sizeof(r->where));
	scope = (struct pfs_reg_scope){ r->ref.repo, false };
	e = pfs_registry_open(pfs_ref_api_host(&r->ref), &scope, 1, &ro,
			      &r->reg);
	if (e)
		goto out;
	pfs_ref_target(&r->ref, target, sizeof(target));
	e = pfs_reg_manifest_get(r->reg, r->ref.repo, target, NULL, &m);
	if (e)
		goto out;
	e = parse_doc(r, m.data.data, m.data.len, "image manifest", &doc);
	if (e)
		goto out;
	desc = json_pack("{s:s}", "mediaType", m.media_type);
	if (!desc) {
		e = -ENOMEM;
		goto out;
	}
	e = pfs_src_resolve(&r->s, r->where, read_doc, desc, doc, platform);
out:
	json_decref(desc);
	json_decref(doc);
	pfs_reg_manifest_free(&m);
	if (e) {
		reg_free(&r->s);
		return e;
	}
	*out = &r->s;
	return 0;
}
