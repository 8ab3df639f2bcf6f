// SPDX-License-Identifier: MIT
/*
 * puzzlefs push: an image of an OCI directory into a registry.
 *
 * The manifest under the tag is asked first (HEAD): the same digest means
 * there is nothing to do; another manifest there names blobs the registry
 * holds (it checked them when it took that manifest), which need no HEAD.
 * Every other blob the manifest names (config included) is HEADed and,
 * if absent, mounted from --from (or the repository the tag was pulled
 * from) or uploaded: POST, then one PUT ?digest= (or PATCH chunks, then
 * the PUT, for blobs over the chunk size).  A failed upload starts over
 * from the HEAD (the blob may have landed); a failed PATCH asks the
 * session how far it got.  The manifest is PUT under the tag only after
 * every blob is confirmed, so the tag never names a missing blob; should
 * the registry still miss some (deleted meanwhile), it says which, they
 * go up, and the manifest is PUT again once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../core/puzzlefs_fs.h"
#include "remote/transfer.h"
#include "store/oci.h"

#define DEFAULT_CHUNK (64ull << 20)
#define MAX_RESTARTS 3
#define MANIFEST_LIMIT (4u << 20)	/* what registries commonly take */

struct push {
	struct pfs_xfer x;
	struct pfs_registry *reg;
	struct pfs_oci *oci;
	const struct pfs_log *log;
	struct pfs_ref dst;
	const char *from;		/* mount source repository, or NULL */
	uint64_t chunk;
	struct pfs_reg_desc *descs;
	size_t n;
	uint8_t (*known)[PFS_DIGEST_SIZE];	/* sorted: the registry has them */
	size_t nknown;
};

struct upload {
	struct pfs_reg_call call;
	struct push *p;
	const struct pfs_reg_desc *d;
	int fd;
	char *loc;			/* the upload session's URL */
	uint64_t sent, end;
	unsigned restarts;
	bool mounting;
	char what[96];
};

static void head(struct upload *u);
static void post(struct upload *u);

/* ---- one blob ---------------------------------------------------------------- */

static void finish(struct upload *u, int err, uint64_t *how, uint64_t moved)
{
	struct push *p = u->p;

	if (u->fd >= 0)
		close(u->fd);
	free(u->loc);
	pfs_reg_call_clear(&u->call);
	pfs_xfer_end(&p->x, err, u->d->size, how, moved);
	free(u);
}

static void fail(struct upload *u)
{
	finish(u, pfs_reg_failure(&u->call, u->what), NULL, 0);
}

static void fail_with(struct upload *u, int err, const char *why)
{
	finish(u, pfs_errf(u->p->log, err, "%s: %s: %s",
			   pfs_registry_host(u->p->reg), u->what, why), NULL, 0);
}

static void send(struct upload *u, void (*next)(struct pfs_reg_call *))
{
	u->call.done = next;
	u->call.arg = u;
	pfs_reg_submit(&u->call);
}

static bool transport_or_5xx(const struct pfs_reg_call *c)
{
	return c->req.err || c->req.status >= 500;
}

/* Start the blob over from its HEAD, a bounded number of times. */
static void restart(struct upload *u)
{
	if (++u->restarts > MAX_RESTARTS) {
		fail(u);
		return;
	}
	free(u->loc);
	u->loc = NULL;
	u->sent = 0;
	head(u);
}

/* The upload session's URL from a 202's Location. */
static int take_location(struct upload *u)
{
	const char *loc = pfs_http_header(&u->call.req, "Location", NULL);
	char *next;

	if (!loc || pfs_http_resolve(u->call.req.url, loc, &next))
		return -EPROTO;
	free(u->loc);
	u->loc = next;
	return 0;
}

static int open_blob(struct upload *u)
{
	if (u->fd < 0)
		u->fd = pfs_oci_blob_open(u->p->oci, u->d->digest);
	return u->fd < 0 ? u->fd : 0;
}

static void put_done(struct pfs_reg_call *c)
{
	struct upload *u = c->arg;

	if (!c->req.err && c->req.status == 201) {
		finish(u, 0, &u->p->x.st.moved, u->d->size);
		return;
	}
	if (!c->req.err && c->req.status == 400 &&
	    pfs_reg_errors_has(c->req.errbody.data, c->req.errbody.len,
			       "DIGEST_INVALID")) {
		fail_with(u, EIO, "the registry found other content than the "
			  "digest says: the local blob is damaged (puzzlefs fsck)");
		return;
	}
	if (transport_or_5xx(c) || c->req.status == 404) {
		restart(u);
		return;
	}
	fail(u);
}

/* PUT ?digest=: the whole blob (monolithic) or none (after PATCHes). */
static void put(struct upload *u, bool with_body)
{
	char hex[2 * PFS_DIGEST_SIZE + 1], *loc = u->loc;
	int e;

	u->loc = NULL;
	pfs_reg_call_clear(&u->call);
	pfs_hex(u->d->digest, PFS_DIGEST_SIZE, hex);
	e = with_body ? open_blob(u) : 0;
	if (!e)
		e = pfs_reg_call_init(&u->call, u->p->reg, "PUT",
				      "%s%sdigest=sha256%%3A%s", loc,
				      strchr(loc, '?') ? "&" : "?", hex);
	u->loc = loc;
	if (!e)
		e = pfs_http_req_header(&u->call.req,
					"Content-Type: application/octet-stream");
	if (e) {
		finish(u, e, NULL, 0);
		return;
	}
	u->call.req.has_body = true;
	if (with_body) {
		u->call.req.body_fd = u->fd;
		u->call.req.body_len = u->d->size;
	} else {
		u->call.req.body = (const uint8_t *)"";
	}
	send(u, put_done);
}

static void patch(struct upload *u);

/* The session's Range header, "0-N": the bytes it holds. */
static int session_range(struct upload *u, uint64_t *have)
{
	const char *r = pfs_http_header(&u->call.req, "Range", NULL);
	uint64_t last;

	if (!r || pfs_reg_upload_range(r, &last))
		return -EPROTO;
	*have = last + 1;
	return 0;
}

static void status_done(struct pfs_reg_call *c)
{
	struct upload *u = c->arg;
	uint64_t have;

	if (!c->req.err && c->req.status == 204 && !take_location(u) &&
	    !session_range(u, &have) && have > 1 && have <= u->d->size) {
		/* "0-0" says 0 or 1 byte: ambiguous, so that starts over. */
		u->sent = have;
		if (u->sent == u->d->size)
			put(u, false);
		else
			patch(u);
		return;
	}
	if (transport_or_5xx(c) && c->req.err)
		fail(u);	/* the engine already retried the GET */
	else
		restart(u);
}

/* How far did the session get?  (After a PATCH failed.) */
static void upload_status(struct upload *u)
{
	char *loc = u->loc;
	int e;

	u->loc = NULL;
	pfs_reg_call_clear(&u->call);
	e = pfs_reg_call_init(&u->call, u->p->reg, "GET", "%s", loc);
	u->loc = loc;
	if (e) {
		finish(u, e, NULL, 0);
		return;
	}
	send(u, status_done);
}

static void patch_done(struct pfs_reg_call *c)
{
	struct upload *u = c->arg;
	uint64_t have;

	if (!c->req.err && c->req.status == 202) {
		if (take_location(u) || session_range(u, &have) ||
		    have != u->end) {
			restart(u);
			return;
		}
		u->sent = have;
		if (u->sent < u->d->size)
			patch(u);
		else
			put(u, false);
		return;
	}
	if (transport_or_5xx(c) || c->req.status == 416) {
		upload_status(u);
		return;
	}
	if (c->req.status == 404) {
		restart(u);
		return;
	}
	fail(u);
}

static void patch(struct upload *u)
{
	char *loc = u->loc;
	int e;

	u->end = u->sent + u->p->chunk < u->d->size ? u->sent + u->p->chunk :
		 u->d->size;
	u->loc = NULL;
	pfs_reg_call_clear(&u->call);
	e = open_blob(u);
	if (!e)
		e = pfs_reg_call_init(&u->call, u->p->reg, "PATCH", "%s", loc);
	u->loc = loc;
	if (!e)
		e = pfs_http_req_header(&u->call.req,
					"Content-Type: application/octet-stream");
	if (!e)
		e = pfs_http_req_header(&u->call.req, "Content-Range: %llu-%llu",
					(unsigned long long)u->sent,
					(unsigned long long)u->end - 1);
	if (e) {
		finish(u, e, NULL, 0);
		return;
	}
	u->call.req.has_body = true;
	u->call.req.body_fd = u->fd;
	u->call.req.body_off = u->sent;
	u->call.req.body_len = u->end - u->sent;
	send(u, patch_done);
}

static void post_done(struct pfs_reg_call *c)
{
	struct upload *u = c->arg;

	if (!c->req.err && c->req.status == 201 && u->mounting) {
		finish(u, 0, &u->p->x.st.mounted, 0);
		return;
	}
	if (!c->req.err && c->req.status == 202) {
		if (take_location(u)) {
			fail_with(u, EPROTO, "the registry started an upload "
				  "without a valid Location");
			return;
		}
		if (u->d->size > u->p->chunk)
			patch(u);
		else
			put(u, true);
		return;
	}
	/* A registry that does not mount from there: upload instead. */
	if (u->mounting && !c->req.err && c->req.status >= 400 &&
	    c->req.status < 500 && c->req.status != 401) {
		u->mounting = false;
		post(u);
		return;
	}
	fail(u);
}

/* Start an upload session, mounting the blob from --from if there is
 * one to try (then 201: done; 202: a session to upload it). */
static void post(struct upload *u)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];
	int e;

	pfs_reg_call_clear(&u->call);
	pfs_hex(u->d->digest, PFS_DIGEST_SIZE, hex);
	if (u->mounting)
		e = pfs_reg_call_init(&u->call, u->p->reg, "POST",
				      "/v2/%s/blobs/uploads/?mount=sha256%%3A%s&from=%s",
				      u->p->dst.repo, hex, u->p->from);
	else
		e = pfs_reg_call_init(&u->call, u->p->reg, "POST",
				      "/v2/%s/blobs/uploads/", u->p->dst.repo);
	if (e) {
		finish(u, e, NULL, 0);
		return;
	}
	/* An abandoned session expires: asking for another is safe. */
	u->call.req.idempotent = true;
	send(u, post_done);
}

static void head_done(struct pfs_reg_call *c)
{
	struct upload *u = c->arg;

	if (!c->req.err && c->req.status == 200) {
		finish(u, 0, &u->p->x.st.present, 0);
		return;
	}
	if (!c->req.err && c->req.status == 404) {
		u->mounting = u->p->from != NULL && u->restarts == 0;
		post(u);
		return;
	}
	/* Still 5xx after the retries: docker-registry answers 500 for a
	 * blob whose link file a crash left empty (it writes them in
	 * place); uploading the blob again rewrites it. */
	if (!c->req.err && c->req.status >= 500) {
		u->mounting = false;
		post(u);
		return;
	}
	fail(u);
}

static void head(struct upload *u)
{
	int e;

	pfs_reg_call_clear(&u->call);
	e = pfs_reg_blob_head(&u->call, u->p->reg, u->p->dst.repo,
			      u->d->digest);
	if (e) {
		finish(u, e, NULL, 0);
		return;
	}
	send(u, head_done);
}

/* Caller's thread: start blob @d (its last callback ends it). */
static int start_blob(struct push *p, const struct pfs_reg_desc *d)
{
	struct upload *u = calloc(1, sizeof(*u));
	char hex[2 * PFS_DIGEST_SIZE + 1];

	if (!u) {
		pfs_xfer_end(&p->x, -ENOMEM, 0, NULL, 0);
		return -ENOMEM;
	}
	u->p = p;
	u->d = d;
	u->fd = -1;
	pfs_hex(d->digest, PFS_DIGEST_SIZE, hex);
	snprintf(u->what, sizeof(u->what), "blob sha256:%s", hex);
	head(u);
	return 0;
}

/* ---- the image ----------------------------------------------------------------- */

static int cmp_digest(const void *a, const void *b)
{
	return memcmp(a, b, PFS_DIGEST_SIZE);
}

static bool known(const struct push *p, const uint8_t *digest)
{
	return p->known && bsearch(digest, p->known, p->nknown,
				   PFS_DIGEST_SIZE, cmp_digest);
}

/* The blobs of the manifest the tag has now: the registry holds them. */
static void learn_known(struct push *p, const uint8_t *digest)
{
	char target[7 + 2 * PFS_DIGEST_SIZE + 1] = "sha256:";
	struct pfs_reg_manifest m;
	struct pfs_reg_desc *d;
	const char *why;
	size_t n, i;

	pfs_hex(digest, PFS_DIGEST_SIZE, target + 7);
	if (pfs_reg_manifest_get(p->reg, p->dst.repo, target,
				 PFS_MEDIA_OCI_MANIFEST, &m))
		return;		/* only a shortcut: HEAD every blob instead */
	if (!pfs_reg_manifest_descs(m.data.data, m.data.len, &d, &n, &why)) {
		p->known = calloc(n ? n : 1, PFS_DIGEST_SIZE);
		for (i = 0; p->known && i < n; i++)
			memcpy(p->known[i], d[i].digest, PFS_DIGEST_SIZE);
		if (p->known) {
			p->nknown = n;
			qsort(p->known, n, PFS_DIGEST_SIZE, cmp_digest);
		}
		free(d);
	}
	pfs_reg_manifest_free(&m);
}

/* Every blob of the manifest that may be missing, in a window. */
static int push_blobs(struct push *p, const uint8_t (*only)[PFS_DIGEST_SIZE],
		      size_t nonly)
{
	size_t window = pfs_xfer_window(&p->x.o->remote), i, j;
	int e = 0;

	for (i = 0; i < p->n && !e; i++) {
		const struct pfs_reg_desc *d = &p->descs[i];

		if (only) {
			for (j = 0; j < nonly; j++)
				if (!memcmp(only[j], d->digest, PFS_DIGEST_SIZE))
					break;
			if (j == nonly)
				continue;
		} else if (known(p, d->digest)) {
			if (!pfs_xfer_start(&p->x, SIZE_MAX))
				break;
			pfs_xfer_end(&p->x, 0, d->size, &p->x.st.present, 0);
			continue;
		}
		if (!pfs_xfer_start(&p->x, window))
			break;
		e = start_blob(p, d);
	}
	e = pfs_xfer_wait(&p->x);
	return e;
}

static size_t count_chunks(const uint8_t *data, size_t len, size_t *layers)
{
	json_t *v = json_loadb((const char *)data, len, 0, NULL), *l;
	size_t i, n = 0;

	*layers = json_array_size(json_object_get(v, "layers"));
	json_array_foreach(json_object_get(v, "layers"), i, l) {
		const char *mt = json_string_value(json_object_get(l, "mediaType"));

		if (mt && !strncmp(mt, PFS_MEDIA_CHUNK, strlen(PFS_MEDIA_CHUNK)))
			n++;
	}
	json_decref(v);
	return n;
}

/* A manifest refused for its size: 413, or docker distribution's 400
 * "request body too large" (whose body may not arrive at all: it stops
 * reading, answers and closes while the manifest is still being sent). */
static bool refused_as_too_large(const struct pfs_reg_call *c, size_t len)
{
	if (c->req.err)
		return len > MANIFEST_LIMIT && c->req.err == -ECONNRESET;
	return c->req.status == 413 ||
	       (c->req.status == 400 &&
		((c->req.errbody.len &&
		  memmem(c->req.errbody.data, c->req.errbody.len,
			 "request body too large", 22)) ||
		 (len > MANIFEST_LIMIT && !c->req.errbody.len)));
}

static int too_large(struct push *p, const char *where, const uint8_t *data,
		     size_t len, const struct pfs_reg_call *c)
{
	size_t layers, chunks = count_chunks(data, len, &layers);
	char how[64];

	if (c->req.err)
		snprintf(how, sizeof(how), "it closed the connection");
	else
		snprintf(how, sizeof(how), "%ld%s", c->req.status,
			 c->req.status == 413 ? " Payload Too Large" :
			 ": request body too large");
	return pfs_errf(p->log, EFBIG, "%s: %s: the registry refused the "
			"manifest as too large (%s): it is %zu bytes, over the "
			"registry's manifest size limit (docker distribution, "
			"and most registries, take at most 4 MiB), and names "
			"%zu layers, %zu of them chunks: build the image with "
			"fewer, larger chunk blobs",
			pfs_registry_host(p->reg), where, how, len, layers,
			chunks);
}

static int put_manifest(struct push *p, const char *media, const uint8_t *data,
			size_t len)
{
	uint8_t (*unknown)[PFS_DIGEST_SIZE] = NULL;
	char where[PFS_REF_NAME_MAX + PFS_REF_TAG_MAX + 100];
	char target[PFS_REF_TAG_MAX + 80];
	struct pfs_reg_call c;
	uint8_t got[PFS_DIGEST_SIZE];
	const char *dcd;
	size_t nu = 0;
	int round, e = 0;

	pfs_ref_target(&p->dst, target, sizeof(target));
	snprintf(where, sizeof(where), "%s:%s", p->dst.repo, target);
	for (round = 0; round < 2; round++) {
		e = pfs_reg_manifest_put(&c, p->reg, p->dst.repo, target, media,
					 data, len);
		if (!e && c.req.status == 201)
			break;
		if ((!e || e == -ECONNRESET) && refused_as_too_large(&c, len)) {
			e = too_large(p, where, data, len, &c);
		} else if (!e && round == 0 && c.req.status == 400 &&
			   pfs_reg_errors_has(c.req.errbody.data,
					      c.req.errbody.len,
					      "MANIFEST_BLOB_UNKNOWN")) {
			unknown = calloc(p->n, PFS_DIGEST_SIZE);
			if (unknown)
				pfs_reg_errors_parse(c.req.errbody.data,
						     c.req.errbody.len, NULL, 0,
						     unknown, p->n, &nu);
			pfs_reg_call_clear(&c);
			if (!unknown || !nu || nu > p->n) {
				e = pfs_errf(p->log, EIO, "%s: %s: the registry "
					     "misses blobs of the manifest and "
					     "does not say which",
					     pfs_registry_host(p->reg), where);
				free(unknown);
				return e;
			}
			e = push_blobs(p, (const uint8_t (*)[PFS_DIGEST_SIZE])unknown,
				       nu);
			free(unknown);
			if (e)
				return e;
			continue;
		} else {
			e = pfs_reg_failure(&c, where);
		}
		pfs_reg_call_clear(&c);
		return e;
	}
	dcd = pfs_http_header(&c.req, "Docker-Content-Digest", NULL);
	if (dcd && !pfs_parse_digest(dcd, got) &&
	    memcmp(got, p->x.st.manifest_digest, PFS_DIGEST_SIZE))
		e = pfs_errf(p->log, EIO, "%s: %s: the registry stored the "
			     "manifest under another digest (%s)",
			     pfs_registry_host(p->reg), where, dcd);
	pfs_reg_call_clear(&c);
	return e;
}

/* The repository the tag was pulled from, on the same registry. */
static char *pulled_from(struct push *p, const char *tag)
{
	json_t *index, *ent;
	const char *v = NULL;
	char *repo = NULL;
	size_t i, hn = strlen(p->dst.host);

	if (pfs_oci_index_load(p->oci, &index))
		return NULL;
	json_array_foreach(json_object_get(index, "manifests"), i, ent) {
		const char *t = pfs_oci_entry_tag(ent);

		if (t && !strcmp(t, tag))
			v = json_string_value(json_object_get(
				json_object_get(ent, "annotations"),
				PFS_ANNOT_PULLED_FROM));
	}
	if (v && !strncmp(v, p->dst.host, hn) && v[hn] == '/' &&
	    strcmp(v + hn + 1, p->dst.repo) && pfs_ref_valid_repo(v + hn + 1))
		repo = strdup(v + hn + 1);
	json_decref(index);
	return repo;
}

static const char *manifest_media(const uint8_t *data, size_t len,
				  char *out, size_t size)
{
	json_t *v = json_loadb((const char *)data, len, 0, NULL);
	const char *mt = json_string_value(json_object_get(v, "mediaType"));

	snprintf(out, size, "%s", mt ? mt : PFS_MEDIA_OCI_MANIFEST);
	json_decref(v);
	return out;
}

static int load_image(struct push *p, const char *oci_dir, const char *tag,
		      uint8_t **data, size_t *len)
{
	struct pfs_desc md;
	const char *why;
	int e;

	e = pfs_oci_open(oci_dir, false, p->log, &p->oci);
	if (!e)
		e = pfs_oci_tag_resolve(p->oci, tag, &md);
	if (!e)
		e = pfs_oci_blob_read(p->oci, md.digest, md.size,
				      PFS_REG_MANIFEST_MAX, NULL, data, len,
				      NULL);
	if (e)
		return e;
	memcpy(p->x.st.manifest_digest, md.digest, PFS_DIGEST_SIZE);
	e = pfs_reg_manifest_descs(*data, *len, &p->descs, &p->n, &why);
	if (e)
		return pfs_errf(p->log, -e, "%s:%s: manifest: %s", oci_dir, tag,
				why);
	return 0;
}

static int push_image(struct push *p, const char *tag, const uint8_t *data,
		      size_t len)
{
	char target[PFS_REF_TAG_MAX + 80], media[128];
	uint8_t have[PFS_DIGEST_SIZE];
	size_t i;
	int e;

	for (i = 0; i < p->n; i++)
		p->x.st.bytes += p->descs[i].size;
	p->x.st.blobs = p->n;
	pfs_ref_target(&p->dst, target, sizeof(target));
	e = pfs_reg_manifest_head(p->reg, p->dst.repo, target,
				  PFS_MEDIA_OCI_MANIFEST, have);
	if (e < 0)
		return e;
	if (e == 1 && !memcmp(have, p->x.st.manifest_digest, PFS_DIGEST_SIZE)) {
		p->x.st.up_to_date = true;
		p->x.st.blobs_done = p->x.st.present = p->n;
		p->x.st.bytes_done = p->x.st.bytes;
		return 0;
	}
	if (e == 1 && !p->dst.by_digest)
		learn_known(p, have);
	if (len > MANIFEST_LIMIT)
		pfs_logf(p->log, PFS_LOG_WARN, "the manifest of %s is %zu bytes: "
			 "most registries refuse manifests over 4 MiB", tag, len);
	e = push_blobs(p, NULL, 0);
	if (!e)
		e = put_manifest(p, manifest_media(data, len, media,
						   sizeof(media)), data, len);
	return e;
}

int pfs_push(const char *oci_dir, const char *tag, const char *dest,
	     const struct pfs_transfer_opts *opts)
{
	struct push p = { .log = opts->remote.log };
	struct pfs_reg_scope scopes[2];
	char *from = NULL, hex[2 * PFS_DIGEST_SIZE + 1];
	uint8_t *data = NULL;
	size_t len = 0;
	int e;

	pfs_xfer_init(&p.x, opts);
	p.chunk = opts->chunk_size ? opts->chunk_size : DEFAULT_CHUNK;
	e = pfs_ref_parse(dest, &p.dst, p.log);
	if (!e)
		e = load_image(&p, oci_dir, tag, &data, &len);
	if (!e && p.dst.by_digest &&
	    memcmp(p.dst.digest, p.x.st.manifest_digest, PFS_DIGEST_SIZE)) {
		pfs_hex(p.x.st.manifest_digest, PFS_DIGEST_SIZE, hex);
		e = pfs_errf(p.log, EINVAL, "%s: the image's manifest is "
			     "sha256:%s, not the digest named", dest, hex);
	}
	if (e)
		goto out;
	if (opts->from && !pfs_ref_valid_repo(opts->from)) {
		e = pfs_errf(p.log, EINVAL, "--from '%s': not a repository name",
			     opts->from);
		goto out;
	}
	from = opts->from ? strdup(opts->from) : pulled_from(&p, tag);
	if (from && !strcmp(from, p.dst.repo)) {
		free(from);
		from = NULL;
	}
	p.from = from;
	scopes[0] = (struct pfs_reg_scope){ p.dst.repo, true };
	scopes[1] = (struct pfs_reg_scope){ from, false };
	e = pfs_registry_open(pfs_ref_api_host(&p.dst), scopes, from ? 2 : 1,
			      &opts->remote, &p.reg);
	if (e)
		goto out;
	p.x.reg = p.reg;
	e = push_image(&p, tag, data, len);
	pfs_xfer_finish(&p.x);
out:
	pfs_registry_close(p.reg);
	pfs_oci_close(p.oci);
	pfs_xfer_destroy(&p.x);
	free(p.descs);
	free(p.known);
	free(from);
	free(data);
	return e;
}
