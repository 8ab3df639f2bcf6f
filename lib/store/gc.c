// SPDX-License-Identifier: MIT
/*
 * Garbage collection of an OCI directory: the blobs no tag reaches.
 *
 * What a tag reaches is found from index.json down: each manifest (or image
 * index, for layouts other tools wrote) is read, checked against its sha256
 * and parsed, and every descriptor in it is kept.  Anything that cannot be
 * read or parsed stops the collection before a blob is deleted: a missing
 * manifest may be a tag that is still being written by hand, and a blob the
 * collector cannot account for is never its to delete.
 *
 * The directories are locked as a build locks them, so no build runs
 * meanwhile (and what a crashed build left is cleaned).  A blob store
 * reached through a symlink (blobs or blobs/sha256) may serve other OCI
 * directories too: it is collected only when the caller says that the
 * directories given are all its users (opts->shared), and then the blobs
 * any of them reaches are kept.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/puzzlefs_fs.h"
#include "store/oci.h"
#include "puzzlefs.h"

#define GC_MAX_DEPTH 8

struct gc {
	const struct pfs_gc_opts *opts;
	uint8_t (*refs)[PFS_DIGEST_SIZE];	/* every digest reached */
	size_t nrefs, cap;
	struct pfs_dindex index;		/* over refs */
};

static const uint8_t *ref_digest(const void *owner, size_t val)
{
	return ((const struct gc *)owner)->refs[val];
}

/* Records @d; 1 if it was new. */
static int reach(struct gc *g, const uint8_t *d)
{
	if (pfs_dindex_find(&g->index, d) != SIZE_MAX)
		return 0;
	if (g->nrefs == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 256;
		void *v = realloc(g->refs, cap * sizeof(*g->refs));

		if (!v)
			return -ENOMEM;
		g->refs = v;
		g->cap = cap;
	}
	memcpy(g->refs[g->nrefs], d, PFS_DIGEST_SIZE);
	if (pfs_dindex_add(&g->index, d, g->nrefs))
		return -ENOMEM;
	g->nrefs++;
	return 1;
}

static int reach_manifest(struct gc *g, struct pfs_oci *oci, json_t *desc,
			  const char *what, int depth);

/* Keeps a blob a manifest names (config, layer, subject). */
static int reach_blob(struct gc *g, struct pfs_oci *oci, json_t *desc,
		      const char *what)
{
	struct pfs_desc d;
	int e = pfs_oci_parse_desc(oci, desc, what, &d);

	return e ? e : (reach(g, d.digest) < 0 ? -ENOMEM : 0);
}

/* Every descriptor of a parsed manifest or image index. */
static int reach_children(struct gc *g, struct pfs_oci *oci, json_t *m,
			  const char *what, int depth)
{
	static const char *const lists[] = { "layers", "blobs" };
	json_t *v;
	size_t i, k;
	int e = 0;

	if (!json_is_object(m))
		return pfs_errf(g->opts->log, EINVAL,
				"%s: %s: not a JSON object; nothing deleted",
				oci->path, what);
	if ((v = json_object_get(m, "config")))
		e = reach_blob(g, oci, v, what);
	if (!e && (v = json_object_get(m, "subject")))
		e = reach_blob(g, oci, v, what);
	for (k = 0; !e && k < 2; k++)
		json_array_foreach(json_object_get(m, lists[k]), i, v)
			if (!e)
				e = reach_blob(g, oci, v, what);
	json_array_foreach(json_object_get(m, "manifests"), i, v)
		if (!e)
			e = reach_manifest(g, oci, v, what, depth + 1);
	return e;
}

/* A tag whose manifest is gone stops gc until the tag goes too. */
#define RMTAG_HINT " (if the image is gone for good, 'puzzlefs rmtag' its tag first)"

/* A manifest or an image index: kept, read and followed. */
static int reach_manifest(struct gc *g, struct pfs_oci *oci, json_t *desc,
			  const char *what, int depth)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];
	struct pfs_desc d;
	json_error_t jerr;
	uint8_t *data;
	size_t len;
	json_t *m;
	int e;

	e = pfs_oci_parse_desc(oci, desc, what, &d);
	if (e)
		return e;
	e = reach(g, d.digest);
	if (e <= 0)
		return e;		/* seen already, or no memory */
	pfs_hex(d.digest, PFS_DIGEST_SIZE, hex);
	if (depth > GC_MAX_DEPTH)
		return pfs_errf(g->opts->log, ELOOP,
				"%s: %s: manifests nested more than %d deep; nothing deleted",
				oci->path, what, GC_MAX_DEPTH);
	e = pfs_oci_blob_read(oci, d.digest, d.size, PFS_MAX_JSON, NULL, &data,
			      &len, NULL);
	if (e)
		return pfs_errf(g->opts->log, -e,
				"%s: %s: manifest %s cannot be read; nothing deleted%s",
				oci->path, what, hex, depth ? "" : RMTAG_HINT);
	m = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	free(data);
	if (!m)
		return pfs_errf(g->opts->log, EINVAL,
				"%s: %s: manifest %s: malformed JSON; nothing deleted%s",
				oci->path, what, hex, depth ? "" : RMTAG_HINT);
	e = reach_children(g, oci, m, what, depth);
	json_decref(m);
	return e;
}

struct reach_arg {
	struct gc *g;
	struct pfs_oci *oci;
};

static int reach_entry(void *arg, json_t *ent, size_t i)
{
	struct reach_arg *r = arg;
	const char *tag = pfs_oci_entry_tag(ent);
	char what[320];

	if (tag)
		snprintf(what, sizeof(what), "tag '%s'", tag);
	else
		snprintf(what, sizeof(what), "index.json entry %zu", i);
	return reach_manifest(r->g, r->oci, ent, what, 0);
}

/* index.json is read as a stream (pfs_oci_index_scan): an index of many
 * tags is not held as a tree. */
static int reach_tags(struct gc *g, struct pfs_oci *oci)
{
	struct reach_arg r = { g, oci };
	uint8_t *data;
	size_t len;
	int e;

	e = pfs_read_file_at(oci->root_fd, "index.json", PFS_MAX_JSON, &data,
			     &len);
	if (e)
		return pfs_errf(g->opts->log, -e, "%s: index.json: %s",
				oci->path, e == -EINVAL ? "not a regular file" :
				strerror(-e));
	e = pfs_oci_index_scan(oci, data, len, reach_entry, &r, NULL);
	free(data);
	return e < 0 ? e : 0;
}

/* Is blobs or blobs/sha256 a symlink (a store other directories may
 * share)? */
static bool store_linked(struct pfs_oci *oci)
{
	struct stat st;

	return (!fstatat(oci->root_fd, "blobs", &st, AT_SYMLINK_NOFOLLOW) &&
		S_ISLNK(st.st_mode)) ||
	       (!fstatat(oci->root_fd, "blobs/sha256", &st,
			 AT_SYMLINK_NOFOLLOW) && S_ISLNK(st.st_mode));
}

/* All directories must use one store: the one that is collected. */
static int check_stores(struct gc *g, struct pfs_oci **oci, size_t n)
{
	struct stat first, st;
	size_t i;

	for (i = 0; i < n; i++) {
		if (store_linked(oci[i]) && !g->opts->shared)
			return pfs_errf(g->opts->log, EPERM,
					"%s: blobs/sha256 is a symlink, a store other OCI directories may use: give them all and --shared",
					oci[i]->path);
		if (fstat(oci[i]->blobs_fd, i ? &st : &first))
			return pfs_errf(g->opts->log, errno, "%s: blobs/sha256",
					oci[i]->path);
		if (i && (st.st_dev != first.st_dev ||
			  st.st_ino != first.st_ino))
			return pfs_errf(g->opts->log, EINVAL,
					"%s and %s do not share a blob store",
					oci[0]->path, oci[i]->path);
	}
	return 0;
}

static bool hex_name(const char *s)
{
	size_t i;

	for (i = 0; i < 2 * PFS_DIGEST_SIZE; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[i] == 0;
}

static int add_removed(struct pfs_gc_result *res, size_t *cap,
		       const uint8_t *d, uint64_t size)
{
	if (res->nremoved == *cap) {
		size_t n = *cap ? 2 * *cap : 64;
		void *v = realloc(res->removed, n * sizeof(*res->removed));

		if (!v)
			return -ENOMEM;
		res->removed = v;
		*cap = n;
	}
	memcpy(res->removed[res->nremoved].digest, d, PFS_DIGEST_SIZE);
	res->removed[res->nremoved++].size = size;
	res->bytes += size;
	return 0;
}

/* Every blob of the store that nothing reached: listed, and deleted
 * unless this is a dry run. */
static int sweep(struct gc *g, struct pfs_oci *oci, struct pfs_gc_result *res)
{
	uint8_t d[PFS_DIGEST_SIZE];
	struct dirent *ent;
	struct stat st;
	DIR *dir = pfs_opendir_at(oci->blobs_fd);
	size_t cap = 0;
	int e = 0;

	if (!dir)
		return pfs_errf(g->opts->log, errno, "%s: blobs/sha256",
				oci->path);
	while (!e && (ent = readdir(dir))) {
		if (!hex_name(ent->d_name) ||
		    pfs_unhex(ent->d_name, d, PFS_DIGEST_SIZE) ||
		    pfs_dindex_find(&g->index, d) != SIZE_MAX)
			continue;
		if (fstatat(oci->blobs_fd, ent->d_name, &st,
			    AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode))
			continue;
		e = add_removed(res, &cap, d, (uint64_t)st.st_size);
		if (!e && !g->opts->dry_run &&
		    unlinkat(oci->blobs_fd, ent->d_name, 0) && errno != ENOENT)
			e = pfs_errf(g->opts->log, errno, "%s: blob %s",
				     oci->path, ent->d_name);
	}
	closedir(dir);
	if (!e && !g->opts->dry_run && res->nremoved && fsync(oci->blobs_fd))
		e = pfs_errf(g->opts->log, errno, "%s: blobs/sha256",
			     oci->path);
	res->kept = g->nrefs;
	return e;
}

int pfs_gc(const char *const *dirs, size_t ndirs,
	   const struct pfs_gc_opts *opts, struct pfs_gc_result *res)
{
	struct gc g = { .opts = opts };
	struct pfs_oci **oci;
	size_t i, n = 0;
	int e = 0;

	memset(res, 0, sizeof(*res));
	g.index.digest = ref_digest;
	g.index.owner = &g;
	oci = calloc(ndirs ? ndirs : 1, sizeof(*oci));
	if (!oci)
		return -ENOMEM;
	for (; n < ndirs && !e; n++)
		e = pfs_oci_open(dirs[n], false, opts->log, &oci[n]);
	if (e)
		n--;			/* the one that failed is not open */
	for (i = 0; i < n && !e; i++)
		e = pfs_oci_lock(oci[i]);
	if (!e)
		e = check_stores(&g, oci, n);
	for (i = 0; i < n && !e; i++)
		e = reach_tags(&g, oci[i]);
	if (!e && n)
		e = sweep(&g, oci[0], res);
	for (i = 0; i < n; i++)
		pfs_oci_close(oci[i]);
	free(oci);
	free(g.refs);
	pfs_dindex_free(&g.index);
	return e;
}

void pfs_gc_result_free(struct pfs_gc_result *res)
{
	free(res->removed);
	memset(res, 0, sizeof(*res));
}

int pfs_remove_tag(const char *oci_dir, const char *tag,
		   const struct pfs_log *log)
{
	struct pfs_oci *oci;
	int e;

	e = pfs_oci_open(oci_dir, false, log, &oci);
	if (e)
		return e;
	e = pfs_oci_lock(oci);
	if (!e)
		e = pfs_oci_tag_remove(oci, tag);
	pfs_oci_close(oci);
	return e;
}
