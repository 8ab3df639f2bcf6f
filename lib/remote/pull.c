// SPDX-License-Identifier: MIT
/*
 * puzzlefs pull: an image from a registry into an OCI directory.
 *
 * The manifest is fetched by tag or digest and checked (its digest
 * against Docker-Content-Digest and the digest asked for; that it is an
 * OCI image manifest).  Under the directory's lock, every blob it names
 * that the directory (or the shared store blobs/sha256 leads to) lacks is
 * fetched, several at once, into an unnamed temporary file, hashed as it
 * streams; only a blob of the right size and sha256 is handed to the
 * store, which names it once it is durable.  The manifest goes in last,
 * then the tag in index.json.  An interrupted pull leaves the blobs it
 * completed (named: the next pull does not fetch them again) and no tag.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "remote/transfer.h"
#include "store/oci.h"

struct pull {
	struct pfs_xfer x;
	struct pfs_registry *reg;
	struct pfs_oci *oci;
	const struct pfs_log *log;
	struct pfs_ref src;
	char name[PFS_REF_NAME_MAX + PFS_REF_TAG_MAX + 80];	/* for messages */
	struct pfs_reg_desc *descs;
	size_t n;
};

struct fetch {
	struct pfs_xfer_item item;	/* first: the commit, deferred */
	struct pfs_reg_call call;
	struct pull *p;
	const struct pfs_reg_desc *d;
	struct pfs_oci_writer *w;
	int werr;
	char what[96];
};

static int sink(void *arg, const void *data, size_t len)
{
	struct fetch *f = arg;

	f->werr = pfs_oci_writer_write(f->w, data, len);
	return f->werr;
}

static void end(struct fetch *f, int err, uint64_t *how, uint64_t moved)
{
	struct pull *p = f->p;
	uint64_t size = f->d->size;

	pfs_oci_writer_abort(f->w);
	pfs_reg_call_clear(&f->call);
	free(f);
	pfs_xfer_end(&p->x, err, size, how, moved);
}

/* The caller's thread: the blob is complete; the store checks it. */
static void commit(struct pfs_xfer_item *it)
{
	struct fetch *f = (struct fetch *)it;
	struct pull *p = f->p;
	int e;

	e = pfs_oci_writer_commit(f->w);
	f->w = NULL;
	if (e == -EIO)
		e = pfs_errf(p->log, EIO, "%s: %s: content does not match its "
			     "digest (or size): refused, not stored",
			     p->name, f->what);
	end(f, e, &p->x.st.moved, f->d->size);
}

static void fetched(struct pfs_reg_call *c)
{
	struct fetch *f = c->arg;
	struct pull *p = f->p;

	if (!c->req.err && c->req.status / 100 == 2) {
		f->item.fn = commit;
		pfs_xfer_defer(&p->x, &f->item);
		return;
	}
	if (c->req.err == -EFBIG && f->werr == -EFBIG)
		end(f, pfs_errf(p->log, EIO, "%s: %s: more bytes than its "
				"size, %llu: refused, not stored", p->name,
				f->what, (unsigned long long)f->d->size),
		    NULL, 0);
	else if (c->req.err && f->werr)
		end(f, pfs_errf(p->log, -f->werr, "%s: %s: %s",
				p->oci->path, f->what, strerror(-f->werr)),
		    NULL, 0);
	else
		end(f, pfs_reg_failure(c, f->what), NULL, 0);
}

static int start_fetch(struct pull *p, const struct pfs_reg_desc *d)
{
	struct fetch *f = calloc(1, sizeof(*f));
	char hex[2 * PFS_DIGEST_SIZE + 1];
	int e;

	if (!f) {
		pfs_xfer_end(&p->x, -ENOMEM, 0, NULL, 0);
		return -ENOMEM;
	}
	f->p = p;
	f->d = d;
	pfs_hex(d->digest, PFS_DIGEST_SIZE, hex);
	snprintf(f->what, sizeof(f->what), "blob sha256:%s", hex);
	e = pfs_oci_writer_open(p->oci, d->digest, d->size, &f->w);
	if (!e)
		e = pfs_reg_blob_get(&f->call, p->reg, p->src.repo, d->digest,
				     0, 0, sink, f);
	if (e) {
		end(f, e, NULL, 0);
		return e;
	}
	f->call.done = fetched;
	f->call.arg = f;
	pfs_reg_submit(&f->call);
	return 0;
}

static int pull_blobs(struct pull *p)
{
	size_t window = pfs_xfer_window(&p->x.o->remote), i;
	int e = 0, have;

	for (i = 0; i < p->n; i++) {
		p->x.st.bytes += p->descs[i].size;
		p->x.st.blobs++;
	}
	for (i = 0; i < p->n && !e; i++) {
		const struct pfs_reg_desc *d = &p->descs[i];

		if (!pfs_xfer_start(&p->x, window))
			break;
		have = pfs_oci_blob_have(p->oci, d->digest, d->size);
		if (have) {
			pfs_xfer_end(&p->x, have < 0 ? have : 0, d->size,
				     &p->x.st.present, 0);
			if (have < 0)
				break;
			continue;
		}
		e = start_fetch(p, d);
	}
	return pfs_xfer_wait(&p->x);
}

static int store(struct pull *p, const char *tag, const struct pfs_reg_manifest *m)
{
	struct pfs_desc md;
	char from[PFS_REF_HOST_MAX + PFS_REF_NAME_MAX + 2];
	int e;

	memcpy(md.digest, m->digest, PFS_DIGEST_SIZE);
	md.size = m->data.len;
	e = pfs_oci_blob_put(p->oci, md.digest, m->data.data, m->data.len);
	if (!e)
		e = pfs_oci_sync(p->oci);
	snprintf(from, sizeof(from), "%s/%s", p->src.host, p->src.repo);
	if (!e)
		e = pfs_oci_tag_put(p->oci, tag, &md, NULL,
				    PFS_ANNOT_PULLED_FROM, from);
	return e;
}

static int pull_image(struct pull *p, const char *oci_dir, const char *tag)
{
	char target[PFS_REF_TAG_MAX + 80];
	struct pfs_reg_manifest m;
	const char *why;
	int e, e2;

	pfs_ref_target(&p->src, target, sizeof(target));
	e = pfs_reg_manifest_get(p->reg, p->src.repo, target, NULL, &m);
	if (e)
		return e;
	memcpy(p->x.st.manifest_digest, m.digest, PFS_DIGEST_SIZE);
	e = pfs_reg_manifest_descs(m.data.data, m.data.len, &p->descs, &p->n,
				   &why);
	if (e) {
		e = pfs_errf(p->log, -e, "%s: %s", p->name, why);
		goto out;
	}
	e = pfs_oci_open(oci_dir, true, p->log, &p->oci);
	if (!e)
		e = pfs_oci_lock(p->oci);
	if (e)
		goto out;
	e = pull_blobs(p);
	/* What completed is kept, failure or not: a rerun resumes. */
	e2 = pfs_oci_sync(p->oci);
	if (!e)
		e = e2;
	if (!e)
		e = store(p, tag, &m);
out:
	pfs_reg_manifest_free(&m);
	return e;
}

int pfs_pull(const char *src, const char *oci_dir, const char *tag,
	     const struct pfs_transfer_opts *opts)
{
	struct pull p = { .log = opts->remote.log };
	struct pfs_reg_scope scope;
	int e;

	pfs_xfer_init(&p.x, opts);
	e = pfs_ref_parse(src, &p.src, p.log);
	if (e)
		goto out;
	pfs_ref_format(&p.src, p.name, sizeof(p.name));
	scope = (struct pfs_reg_scope){ p.src.repo, false };
	e = pfs_registry_open(pfs_ref_api_host(&p.src), &scope, 1,
			      &opts->remote, &p.reg);
	if (e)
		goto out;
	p.x.reg = p.reg;
	e = pull_image(&p, oci_dir, tag);
	pfs_xfer_finish(&p.x);
out:
	pfs_registry_close(p.reg);
	pfs_oci_close(p.oci);
	pfs_xfer_destroy(&p.x);
	free(p.descs);
	return e;
}
