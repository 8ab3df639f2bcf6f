// SPDX-License-Identifier: MIT
/*
 * Tar layer reading.  Two libarchive readers in a row: the first, in
 * "raw" format with the gzip and zstd filters, turns the blob into the
 * uncompressed tar (its read callback pulls the blob from the source and
 * hashes it); the second reads that tar (its read callback pulls from the
 * first and hashes what it gets: the diff_id).  So both digests cover
 * exactly the bytes the entries came from, and a corrupt or truncated
 * stream is an error from the decoder, named with the layer.  Only the
 * decoders built into libarchive are used: one that would run an
 * external program is refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "import/layer.h"

#define IN_BUF (128u << 10)
#define TAR_BUF (128u << 10)

struct pfs_layer {
	const struct pfs_src_layer *info;
	const struct pfs_log *log;
	struct pfs_stream *in;
	struct archive *raw, *tar;
	struct pfs_sha256_ctx *zhash, *hash;
	uint64_t zbytes, bytes, max_bytes;
	bool in_end, raw_end;
	int err;			/* from a callback, already logged */
	uint8_t *inbuf, *tarbuf;
};

int pfs_tar_formats(struct archive *a)
{
	return archive_read_support_format_tar(a) == ARCHIVE_OK &&
	       archive_read_support_format_gnutar(a) == ARCHIVE_OK ? 0 : -EINVAL;
}

static int fail(struct pfs_layer *l, int err, const char *what,
		struct archive *a)
{
	if (l->err)
		return l->err;
	l->err = pfs_errf(l->log, err, "%s: %s%s%s", l->info->name, what,
			  a && archive_error_string(a) ? ": " : "",
			  a && archive_error_string(a) ? archive_error_string(a) : "");
	return l->err;
}

/* The blob, as stored. */
static la_ssize_t raw_read(struct archive *a, void *arg, const void **buf)
{
	struct pfs_layer *l = arg;
	ssize_t n;

	(void)a;
	if (l->in_end)
		return 0;
	n = l->in->read(l->in, l->inbuf, IN_BUF);
	if (n < 0) {
		l->err = l->err ? l->err : (int)n;
		return -1;
	}
	if (n == 0)
		l->in_end = true;
	l->zbytes += (uint64_t)n;
	if (l->info->has_digest && l->info->size != UINT64_MAX &&
	    l->zbytes > l->info->size) {
		fail(l, EIO, "longer than its descriptor says", NULL);
		return -1;
	}
	pfs_sha256_update(l->zhash, l->inbuf, (size_t)n);
	*buf = l->inbuf;
	return n;
}

/* The uncompressed tar. */
static la_ssize_t tar_read(struct archive *a, void *arg, const void **buf)
{
	struct pfs_layer *l = arg;
	la_ssize_t n;

	(void)a;
	if (l->raw_end || l->err)
		return l->err ? -1 : 0;
	n = archive_read_data(l->raw, l->tarbuf, TAR_BUF);
	if (n < 0) {
		fail(l, EIO, "cannot decompress", l->raw);
		return -1;
	}
	if (n == 0)
		l->raw_end = true;
	l->bytes += (uint64_t)n;
	if (l->bytes > l->max_bytes) {
		char m[96];

		snprintf(m, sizeof(m), "expands to more than %llu bytes",
			 (unsigned long long)l->max_bytes);
		fail(l, EFBIG, m, NULL);
		return -1;
	}
	pfs_sha256_update(l->hash, l->tarbuf, (size_t)n);
	*buf = l->tarbuf;
	return n;
}

int pfs_layer_open(const struct pfs_src_layer *info, struct pfs_stream *in,
		   uint64_t max_bytes, const struct pfs_log *log,
		   struct pfs_layer **out)
{
	struct pfs_layer *l = calloc(1, sizeof(*l));
	struct archive_entry *ae;
	int r;

	if (!l) {
		in->close(in);
		return -ENOMEM;
	}
	l->info = info;
	l->log = log;
	l->in = in;
	l->max_bytes = max_bytes;
	l->zhash = pfs_sha256_new();
	l->hash = pfs_sha256_new();
	l->inbuf = malloc(IN_BUF);
	l->tarbuf = malloc(TAR_BUF);
	l->raw = archive_read_new();
	l->tar = archive_read_new();
	if (!l->zhash || !l->hash || !l->inbuf || !l->tarbuf || !l->raw ||
	    !l->tar) {
		pfs_layer_close(l);
		return -ENOMEM;
	}
	if (archive_read_support_format_raw(l->raw) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(l->raw) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(l->raw) != ARCHIVE_OK ||
	    pfs_tar_formats(l->tar)) {
		r = fail(l, EOPNOTSUPP, "libarchive lacks a built-in decoder",
			 l->raw);
		pfs_layer_close(l);
		return r;
	}
	if (archive_read_open(l->raw, l, NULL, raw_read, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(l->raw, &ae) != ARCHIVE_OK) {
		r = fail(l, EINVAL, "cannot read", l->raw);
		pfs_layer_close(l);
		return r;
	}
	if (archive_read_open(l->tar, l, NULL, tar_read, NULL) != ARCHIVE_OK) {
		r = fail(l, EINVAL, "not a tar archive", l->tar);
		pfs_layer_close(l);
		return r;
	}
	*out = l;
	return 0;
}

int pfs_layer_next(struct pfs_layer *l, struct archive_entry **ae)
{
	int r = archive_read_next_header(l->tar, ae);
	const char *msg;

	if (r == ARCHIVE_EOF)
		return 0;
	if (r == ARCHIVE_OK)
		return 1;
	/*
	 * Names are taken as the bytes they are (pfs_import reads in the
	 * C.UTF-8 locale, so UTF-8 names convert as they are); the only
	 * warning let through is a name that does not convert, whose bytes
	 * libarchive then hands out unchanged.  Anything else it warns
	 * about (a malformed or oversized pax header it would skip) is an
	 * error here: the entry would not be what the header says.
	 */
	msg = archive_error_string(l->tar);
	if (r == ARCHIVE_WARN && msg && strstr(msg, "can't be converted") &&
	    archive_entry_pathname(*ae))
		return 1;
	return fail(l, EINVAL, "bad tar header", l->tar);
}

ssize_t pfs_layer_data(struct pfs_layer *l, void *buf, size_t len)
{
	la_ssize_t n = archive_read_data(l->tar, buf, len);

	return n < 0 ? fail(l, EIO, "truncated or corrupt data", l->tar) : n;
}

uint64_t pfs_layer_bytes(const struct pfs_layer *l)
{
	return l->bytes;
}

static int mismatch(struct pfs_layer *l, const char *what, const uint8_t *want,
		    const uint8_t *got)
{
	char w[2 * PFS_DIGEST_SIZE + 1], g[2 * PFS_DIGEST_SIZE + 1];

	pfs_hex(want, PFS_DIGEST_SIZE, w);
	pfs_hex(got, PFS_DIGEST_SIZE, g);
	return pfs_errf(l->log, EIO, "%s: %s is sha256:%s, expected sha256:%s",
			l->info->name, what, g, w);
}

int pfs_layer_finish(struct pfs_layer *l, uint8_t *digest, uint8_t *diff_id)
{
	uint8_t z[PFS_DIGEST_SIZE], u[PFS_DIGEST_SIZE];
	const void *p;
	la_ssize_t n;

	if (l->err)
		return l->err;
	/* What follows the tar's end (padding) is part of the layer. */
	while (!l->raw_end) {
		n = archive_read_data(l->raw, l->tarbuf, TAR_BUF);
		if (n < 0)
			return fail(l, EIO, "cannot decompress", l->raw);
		if (n == 0)
			break;
		l->bytes += (uint64_t)n;
		pfs_sha256_update(l->hash, l->tarbuf, (size_t)n);
	}
	/* And so is anything after the compressed stream. */
	while (!l->in_end) {
		if (raw_read(l->raw, l, &p) < 0)
			return l->err ? l->err : -EIO;
	}
	if (l->err)
		return l->err;
	pfs_sha256_final(l->zhash, z);
	pfs_sha256_final(l->hash, u);
	if (l->info->has_digest && l->info->size != UINT64_MAX &&
	    l->zbytes != l->info->size)
		return pfs_errf(l->log, EIO, "%s: %llu bytes, its descriptor says %llu",
				l->info->name, (unsigned long long)l->zbytes,
				(unsigned long long)l->info->size);
	if (l->info->has_digest && memcmp(z, l->info->digest, PFS_DIGEST_SIZE))
		return mismatch(l, "the blob", l->info->digest, z);
	if (l->info->has_diff_id && memcmp(u, l->info->diff_id, PFS_DIGEST_SIZE))
		return mismatch(l, "the uncompressed tar (rootfs.diff_ids)",
				l->info->diff_id, u);
	if (digest)
		memcpy(digest, z, PFS_DIGEST_SIZE);
	if (diff_id)
		memcpy(diff_id, u, PFS_DIGEST_SIZE);
	return 0;
}

void pfs_layer_close(struct pfs_layer *l)
{
	if (!l)
		return;
	if (l->tar)
		archive_read_free(l->tar);
	if (l->raw)
		archive_read_free(l->raw);
	if (l->in)
		l->in->close(l->in);
	pfs_sha256_free(l->zhash);
	pfs_sha256_free(l->hash);
	free(l->inbuf);
	free(l->tarbuf);
	free(l);
}
