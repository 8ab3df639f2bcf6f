// SPDX-License-Identifier: MIT
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fsverity.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/puzzlefs_fs.h"
#include "json.h"
#include "store/oci.h"

#define OCI_LAYOUT "{\"imageLayoutVersion\":\"1.0.0\"}"
#define EMPTY_INDEX "{\"manifests\":[],\"schemaVersion\":2}"
#define TMP_PREFIX ".pfs-tmp-"
#define PENDING_MAX 256

static int oci_err(struct pfs_oci *oci, int err, const char *what)
{
	return pfs_errf(oci->log, err, "%s: %s: %s", oci->path, what,
			strerror(err));
}

/* Why a blob or index.json could not be read: blob_size's and
 * pfs_read_file_at's -EINVAL means the file is not a regular one. */
static const char *why(int e)
{
	return e == -EINVAL ? "not a regular file" : strerror(-e);
}

static void tmp_name(char *buf, size_t size)
{
	uint8_t rnd[8];
	char hex[17];

	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
		memset(rnd, 0x5a, sizeof(rnd));
	pfs_hex(rnd, sizeof(rnd), hex);
	snprintf(buf, size, TMP_PREFIX "%s", hex);
}

/* Write @name in @dirfd atomically: temp file, fsync, rename, fsync dir. */
static int atomic_write(int dirfd, const char *name, const void *data,
			size_t len)
{
	char tmp[64];
	int fd, e;

	tmp_name(tmp, sizeof(tmp));
	fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
	if (fd < 0)
		return -errno;
	e = pfs_write_full(fd, data, len);
	if (!e && fsync(fd))
		e = -errno;
	if (close(fd) && !e)
		e = -errno;
	if (!e && renameat(dirfd, tmp, dirfd, name))
		e = -errno;
	if (e) {
		unlinkat(dirfd, tmp, 0);
		return e;
	}
	return fsync(dirfd) ? -errno : 0;
}

static int mkdir_p(const char *path)
{
	char *p = strdup(path), *s;
	int e = 0;

	if (!p)
		return -ENOMEM;
	for (s = p + 1; ; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;

			*s = 0;
			if (mkdir(p, 0755) && errno != EEXIST) {
				e = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return e;
}

/* Temporary files a crashed writer may have left; only called under the
 * directory lock, so no live writer owns them. */
static void remove_stale(int dirfd)
{
	DIR *dir = pfs_opendir_at(dirfd);
	struct dirent *d;

	if (!dir)
		return;
	while ((d = readdir(dir)))
		if (!strncmp(d->d_name, TMP_PREFIX, strlen(TMP_PREFIX)))
			unlinkat(dirfd, d->d_name, 0);
	closedir(dir);
}

static int create_layout(struct pfs_oci *oci)
{
	struct stat st;
	int e;

	if (mkdirat(oci->root_fd, "blobs", 0755) && errno != EEXIST)
		return oci_err(oci, errno, "blobs");
	if (mkdirat(oci->root_fd, "blobs/sha256", 0755) && errno != EEXIST)
		return oci_err(oci, errno, "blobs/sha256");
	/* An empty index too, so that a new directory is a valid image
	 * layout (with no tags) even if the first build never finishes. */
	if (fstatat(oci->root_fd, "index.json", &st, AT_SYMLINK_NOFOLLOW) &&
	    (e = atomic_write(oci->root_fd, "index.json", EMPTY_INDEX,
			      strlen(EMPTY_INDEX))))
		return oci_err(oci, -e, "index.json");
	if (fstatat(oci->root_fd, "oci-layout", &st, 0) == 0)
		return 0;
	e = atomic_write(oci->root_fd, "oci-layout", OCI_LAYOUT,
			 strlen(OCI_LAYOUT));
	return e ? oci_err(oci, -e, "oci-layout") : 0;
}

static void syncer_stop(struct pfs_oci *oci);

int pfs_oci_open(const char *path, bool create, const struct pfs_log *log,
		 struct pfs_oci **out)
{
	struct pfs_oci *oci = calloc(1, sizeof(*oci));
	int e;

	if (!oci)
		return -ENOMEM;
	oci->root_fd = oci->blobs_fd = -1;
	pthread_mutex_init(&oci->put_lock, NULL);
	pthread_mutex_init(&oci->sync_lock, NULL);
	pthread_cond_init(&oci->sync_cv, NULL);
	oci->log = log;
	oci->writable = create;
	oci->path = strdup(path);
	if (!oci->path) {
		free(oci);
		return -ENOMEM;
	}
	if (create && (e = mkdir_p(path))) {
		oci_err(oci, -e, "cannot create");
		goto fail;
	}
	oci->root_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (oci->root_fd < 0) {
		e = oci_err(oci, errno, "cannot open OCI directory");
		goto fail;
	}
	if (create && (e = create_layout(oci)))
		goto fail;
	/* blobs/sha256 may be a symlink to a shared store: follow it. */
	oci->blobs_fd = openat(oci->root_fd, "blobs/sha256",
			       O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (oci->blobs_fd < 0) {
		e = oci_err(oci, errno, "blobs/sha256");
		goto fail;
	}
	*out = oci;
	return 0;
fail:
	pfs_oci_close(oci);
	return e;
}

void pfs_oci_close(struct pfs_oci *oci)
{
	size_t i;

	if (!oci)
		return;
	syncer_stop(oci);
	for (i = 0; i < oci->npending; i++) {
		close(oci->pending[i].fd);
		if (oci->pending[i].tmpname[0])
			unlinkat(oci->blobs_fd, oci->pending[i].tmpname, 0);
	}
	free(oci->pending);
	pthread_mutex_destroy(&oci->put_lock);
	pthread_mutex_destroy(&oci->sync_lock);
	pthread_cond_destroy(&oci->sync_cv);
	if (oci->blobs_fd >= 0)
		close(oci->blobs_fd);
	if (oci->root_fd >= 0)
		close(oci->root_fd);
	free(oci->path);
	free(oci);
}

int pfs_oci_lock(struct pfs_oci *oci)
{
	while (flock(oci->root_fd, LOCK_EX)) {
		if (errno != EINTR)
			return oci_err(oci, errno, "lock");
	}
	remove_stale(oci->root_fd);
	remove_stale(oci->blobs_fd);
	return 0;
}

/* ---- tags ---------------------------------------------------------------- */

bool pfs_tag_valid(const char *tag)
{
	size_t i;

	for (i = 0; tag[i]; i++) {
		unsigned char c = (unsigned char)tag[i];

		if (i == PFS_TAG_MAX ||
		    !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' ||
		      (i && (c == '.' || c == '-'))))
			return false;
	}
	return i > 0;
}

int pfs_tag_check(const struct pfs_log *log, const char *tag)
{
	char shown[64];

	if (pfs_tag_valid(tag))
		return 0;
	pfs_printable(tag, shown, sizeof(shown));
	return pfs_errf(log, EINVAL, "invalid tag '%s': a tag is "
			PFS_TAG_GRAMMAR " (letters, digits, '_', then also '.' "
			"and '-', at most %d)", shown, PFS_TAG_MAX);
}

/* ---- index.json ---------------------------------------------------------- */

int pfs_oci_index_parse(struct pfs_oci *oci, const uint8_t *data,
			size_t len, json_t **index)
{
	json_error_t jerr;
	json_t *v, *m;

	v = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		return pfs_errf(oci->log, EINVAL,
				"%s: index.json: malformed JSON at line %d: %s",
				oci->path, jerr.line, jerr.text);
	m = json_object_get(v, "manifests");
	if (!json_is_object(v) || (m && !json_is_array(m))) {
		json_decref(v);
		return pfs_errf(oci->log, EINVAL,
				"%s: index.json: not an OCI image index",
				oci->path);
	}
	if (!m)
		json_object_set_new(v, "manifests", json_array());
	*index = v;
	return 0;
}

/* index.json's bytes; a writable directory without one has an empty one. */
static int index_read(struct pfs_oci *oci, uint8_t **data, size_t *len)
{
	int e;

	e = pfs_read_file_at(oci->root_fd, "index.json", PFS_MAX_JSON, data,
			     len);
	if (e == -ENOENT && oci->writable) {
		*data = (uint8_t *)strdup(EMPTY_INDEX);
		*len = strlen(EMPTY_INDEX);
		return *data ? 0 : -ENOMEM;
	}
	if (e)
		return pfs_errf(oci->log, -e, "%s: index.json: %s", oci->path,
				why(e));
	return 0;
}

int pfs_oci_index_load(struct pfs_oci *oci, json_t **index)
{
	uint8_t *data;
	size_t len;
	int e;

	e = index_read(oci, &data, &len);
	if (e)
		return e;
	e = pfs_oci_index_parse(oci, data, len, index);
	free(data);
	return e;
}

/*
 * The streaming read of index.json.  Every value is decoded by jansson
 * (each stops where its JSON ends); between them only the index's own
 * object and its "manifests" array are followed here: whitespace, '{',
 * ':', ',', '[', ']' and '}'.
 */
struct iscan {
	struct pfs_oci *oci;
	const char *p;
	size_t len, pos;
};

static void iscan_ws(struct iscan *s)
{
	while (s->pos < s->len && (s->p[s->pos] == ' ' || s->p[s->pos] == '\t' ||
				   s->p[s->pos] == '\n' || s->p[s->pos] == '\r'))
		s->pos++;
}

/* The next non-blank character if it is one of @set (consumed), else 0. */
static char iscan_punct(struct iscan *s, const char *set)
{
	char c;

	iscan_ws(s);
	if (s->pos == s->len)
		return 0;
	c = s->p[s->pos];
	if (!strchr(set, c) || !c)
		return 0;
	s->pos++;
	return c;
}

static json_t *iscan_value(struct iscan *s, json_error_t *err)
{
	json_t *v;

	iscan_ws(s);
	v = json_loadb(s->p + s->pos, s->len - s->pos,
		       JSON_DECODE_ANY | JSON_DISABLE_EOF_CHECK |
		       JSON_REJECT_DUPLICATES, err);
	if (v)
		s->pos += (size_t)err->position;
	return v;
}

static int iscan_bad(struct iscan *s, const json_error_t *err)
{
	return pfs_errf(s->oci->log, EINVAL,
			"%s: index.json: malformed JSON at byte %zu%s%s",
			s->oci->path, s->pos + (err ? (size_t)err->position : 0),
			err ? ": " : "", err ? err->text : "");
}

/* The "manifests" array: each descriptor to @fn, then let go. */
static int iscan_manifests(struct iscan *s, pfs_index_fn fn, void *arg)
{
	json_error_t err;
	json_t *ent;
	size_t i = 0;
	int e = 0;

	if (!iscan_punct(s, "["))
		return pfs_errf(s->oci->log, EINVAL,
				"%s: index.json: not an OCI image index",
				s->oci->path);
	if (iscan_punct(s, "]"))
		return 0;
	do {
		ent = iscan_value(s, &err);
		if (!ent)
			return iscan_bad(s, &err);
		e = e ? e : fn(arg, ent, i++);
		json_decref(ent);
		if (e < 0)
			return e;
	} while (iscan_punct(s, ","));
	return iscan_punct(s, "]") ? e : iscan_bad(s, NULL);
}

int pfs_oci_index_scan(struct pfs_oci *oci, const uint8_t *data, size_t len,
		       pfs_index_fn fn, void *arg, json_t **rest)
{
	struct iscan s = { oci, (const char *)data, len, 0 };
	json_t *top = json_object(), *key, *v;
	json_error_t err;
	bool listed = false;
	int e = 0, r = 0;

	if (!top)
		return -ENOMEM;
	if (!iscan_punct(&s, "{")) {
		e = pfs_errf(oci->log, EINVAL,
			     "%s: index.json: not an OCI image index", oci->path);
		goto out;
	}
	if (iscan_punct(&s, "}"))
		goto end;
	do {
		iscan_ws(&s);
		key = s.pos < s.len && s.p[s.pos] == '"' ? iscan_value(&s, &err) :
							   NULL;
		if (!key || !iscan_punct(&s, ":")) {
			json_decref(key);
			e = iscan_bad(&s, key ? NULL : &err);
			goto out;
		}
		if (!strcmp(json_string_value(key), "manifests") && !listed) {
			listed = true;
			r = iscan_manifests(&s, fn, arg);
			e = r < 0 ? r : 0;
		} else if ((v = iscan_value(&s, &err)) == NULL) {
			e = iscan_bad(&s, &err);
		} else if (listed && !strcmp(json_string_value(key), "manifests")) {
			json_decref(v);
			e = iscan_bad(&s, NULL);
		} else if (json_object_get(top, json_string_value(key))) {
			json_decref(v);
			e = pfs_errf(oci->log, EINVAL, "%s: index.json: "
				     "duplicate key '%s'", oci->path,
				     json_string_value(key));
		} else {
			e = json_object_set_new(top, json_string_value(key), v) ?
			    -ENOMEM : 0;
		}
		json_decref(key);
		if (e)
			goto out;
	} while (iscan_punct(&s, ","));
	if (!iscan_punct(&s, "}")) {
		e = iscan_bad(&s, NULL);
		goto out;
	}
end:
	iscan_ws(&s);
	if (s.pos != s.len) {
		e = iscan_bad(&s, NULL);
		goto out;
	}
	if (rest) {
		*rest = top;
		top = NULL;
	}
out:
	json_decref(top);
	return e ? e : r;
}

struct find_arg {
	struct pfs_oci *oci;
	const char *tag;
	struct pfs_desc *desc;
	int e;
};

static int find_one(void *arg, json_t *ent, size_t i)
{
	struct find_arg *f = arg;
	const char *t = pfs_oci_entry_tag(ent);
	char what[300];

	(void)i;
	if (!t || strcmp(t, f->tag))
		return 0;
	snprintf(what, sizeof(what), "index.json: tag '%s'", f->tag);
	f->e = pfs_oci_parse_desc(f->oci, ent, what, f->desc);
	return 1;
}

const char *pfs_oci_entry_tag(json_t *ent)
{
	json_t *a = json_object_get(ent, "annotations");

	return json_string_value(json_object_get(a, PFS_ANNOT_REFNAME));
}

int pfs_desc_parse(json_t *d, const struct pfs_log *log, const char *where,
		   const char *what, struct pfs_desc *out)
{
	const char *dg = json_string_value(json_object_get(d, "digest"));
	json_t *size = json_object_get(d, "size");

	if (!dg || pfs_parse_digest(dg, out->digest))
		return pfs_errf(log, EINVAL,
				"%s: %s: missing or invalid sha256 digest",
				where, what);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return pfs_errf(log, EINVAL, "%s: %s: invalid size", where,
				what);
	out->size = (uint64_t)json_integer_value(size);
	return 0;
}

int pfs_oci_parse_desc(struct pfs_oci *oci, json_t *d, const char *what,
		       struct pfs_desc *out)
{
	return pfs_desc_parse(d, oci->log, oci->path, what, out);
}

int pfs_oci_index_find(struct pfs_oci *oci, json_t *index, const char *tag,
		       struct pfs_desc *manifest)
{
	json_t *ent;
	size_t i;

	json_array_foreach(json_object_get(index, "manifests"), i, ent) {
		const char *t = pfs_oci_entry_tag(ent);

		if (t && !strcmp(t, tag)) {
			char what[300];

			snprintf(what, sizeof(what), "index.json: tag '%s'", tag);
			return pfs_oci_parse_desc(oci, ent, what, manifest);
		}
	}
	return pfs_errf(oci->log, ENOENT, "%s: no tag '%s'", oci->path, tag);
}

int pfs_oci_index_lookup(struct pfs_oci *oci, const uint8_t *data, size_t len,
		       const char *tag, struct pfs_desc *manifest)
{
	struct find_arg f = { oci, tag, manifest, 0 };
	char shown[64];
	int e;

	e = pfs_oci_index_scan(oci, data, len, find_one, &f, NULL);
	if (e < 0)
		return e;
	if (e)
		return f.e;
	pfs_printable(tag, shown, sizeof(shown));
	return pfs_errf(oci->log, ENOENT, "%s: no tag '%s'", oci->path, shown);
}

int pfs_oci_tag_resolve(struct pfs_oci *oci, const char *tag,
			struct pfs_desc *manifest)
{
	uint8_t *data;
	size_t len;
	int e;

	e = index_read(oci, &data, &len);
	if (e)
		return e;
	e = pfs_oci_index_lookup(oci, data, len, tag, manifest);
	free(data);
	return e;
}

const char *pfs_goarch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	return "ppc64le";
#elif defined(__powerpc64__)
	return "ppc64";
#elif defined(__i386__)
	return "386";
#elif defined(__riscv) && __riscv_xlen == 64
	return "riscv64";
#elif defined(__s390x__)
	return "s390x";
#else
	return "unknown";
#endif
}

/*
 * Rewriting index.json streams too: every descriptor kept is re-encoded
 * (canonical JSON) into the new file as it is read, so memory is the old
 * file and the new one, not a tree of every tag.
 */
struct rewrite {
	const char *drop;		/* entries of this tag go */
	size_t dropped;
	struct pfs_buf list;		/* the kept ones, joined with ',' */
	int e;
};

static int add_entry(struct rewrite *w, const json_t *ent)
{
	if (w->list.len && pfs_buf_add(&w->list, ",", 1))
		return -ENOMEM;
	return pfs_json_canonical(ent, &w->list);
}

static int keep_entry(void *arg, json_t *ent, size_t i)
{
	struct rewrite *w = arg;
	const char *t = pfs_oci_entry_tag(ent);

	(void)i;
	if (t && !strcmp(t, w->drop)) {
		w->dropped++;
		return 0;
	}
	return add_entry(w, ent);
}

/* Replace index.json by its entries less @w->drop's, plus @add if set. */
static int index_rewrite(struct pfs_oci *oci, struct rewrite *w,
			 const json_t *add)
{
	struct pfs_buf top = { 0 }, out = { 0 };
	char mark[64], *at;
	uint64_t rnd[2] = { pfs_random_seed(), pfs_random_seed() };
	json_t *rest = NULL;
	uint8_t *data;
	size_t len, mlen;
	int e;

	e = index_read(oci, &data, &len);
	if (e)
		return e;
	e = pfs_oci_index_scan(oci, data, len, keep_entry, w, &rest);
	free(data);
	if (e)
		goto out;
	if (add && (e = add_entry(w, add)))
		goto out;
	/* The index's other members, canonical, with a mark where the
	 * list goes (a random string no other value holds). */
	snprintf(mark, sizeof(mark), "pfs-%016llx%016llx",
		 (unsigned long long)rnd[0], (unsigned long long)rnd[1]);
	e = -ENOMEM;
	if (json_object_set_new(rest, "manifests", json_string(mark)) ||
	    pfs_json_canonical(rest, &top) || pfs_buf_add(&top, "", 1))
		goto out;
	snprintf(mark, sizeof(mark), "\"manifests\":\"pfs-%016llx%016llx\"",
		 (unsigned long long)rnd[0], (unsigned long long)rnd[1]);
	at = strstr((char *)top.data, mark);
	mlen = strlen(mark);
	if (!at || pfs_buf_add(&out, top.data, (size_t)(at - (char *)top.data)) ||
	    pfs_buf_add(&out, "\"manifests\":[", 13) ||
	    pfs_buf_add(&out, w->list.data, w->list.len) ||
	    pfs_buf_add(&out, "]", 1) ||
	    pfs_buf_add(&out, at + mlen, top.len - 1 - (size_t)(at + mlen -
							     (char *)top.data)))
		goto out;
	e = atomic_write(oci->root_fd, "index.json", out.data, out.len);
	if (e)
		e = oci_err(oci, -e, "index.json");
out:
	json_decref(rest);
	pfs_buf_free(&top);
	pfs_buf_free(&out);
	pfs_buf_free(&w->list);
	return e;
}

int pfs_oci_tag_set(struct pfs_oci *oci, const char *tag,
		    const struct pfs_desc *manifest)
{
	return pfs_oci_tag_put(oci, tag, manifest, NULL, NULL, NULL);
}

int pfs_oci_tag_put(struct pfs_oci *oci, const char *tag,
		    const struct pfs_desc *manifest, json_t *platform,
		    const char *key, const char *value)
{
	char digest[7 + 2 * PFS_DIGEST_SIZE + 1];
	struct rewrite w = { .drop = tag };
	json_t *ent;
	int e;

	e = pfs_tag_check(oci->log, tag);
	if (e)
		return e;
	/* A tag names one manifest: every older entry carrying it goes. */
	memcpy(digest, "sha256:", 7);
	pfs_hex(manifest->digest, PFS_DIGEST_SIZE, digest + 7);
	ent = json_pack("{s:{s:s},s:s,s:s,s:O?,s:I}", "annotations",
			PFS_ANNOT_REFNAME, tag, "digest", digest, "mediaType",
			PFS_MEDIA_MANIFEST, "platform", platform, "size",
			(json_int_t)manifest->size);
	if (ent && !platform)
		json_object_set_new(ent, "platform", json_pack("{s:s,s:s}",
				    "architecture", pfs_goarch(), "os", "linux"));
	if (ent && key &&
	    json_object_set_new(json_object_get(ent, "annotations"), key,
				json_string(value))) {
		json_decref(ent);
		ent = NULL;
	}
	if (!ent || !json_object_get(ent, "platform")) {
		json_decref(ent);
		return -ENOMEM;
	}
	e = index_rewrite(oci, &w, ent);
	json_decref(ent);
	return e;
}

int pfs_oci_tag_remove(struct pfs_oci *oci, const char *tag)
{
	struct rewrite w = { .drop = tag };
	char shown[64];
	uint8_t *data;
	size_t len;
	int e;

	/* Nothing is rewritten for a tag that is not there. */
	e = index_read(oci, &data, &len);
	if (e)
		return e;
	e = pfs_oci_index_scan(oci, data, len, keep_entry, &w, NULL);
	free(data);
	pfs_buf_free(&w.list);
	if (e)
		return e;
	if (!w.dropped) {
		pfs_printable(tag, shown, sizeof(shown));
		return pfs_errf(oci->log, ENOENT, "%s: no tag '%s'", oci->path,
				shown);
	}
	w.dropped = 0;
	return index_rewrite(oci, &w, NULL);
}

/* ---- blobs ---------------------------------------------------------------- */

static void blob_name(const uint8_t *digest, char *name)
{
	pfs_hex(digest, PFS_DIGEST_SIZE, name);
}

/* O_NONBLOCK: a FIFO planted under a blob's name must not hang the open
 * (regular files ignore the flag; anything else is refused later). */
static int open_blob(struct pfs_oci *oci, const char *name)
{
	return openat(oci->blobs_fd, name,
		      O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
}

int pfs_oci_blob_open(struct pfs_oci *oci, const uint8_t *digest)
{
	char name[2 * PFS_DIGEST_SIZE + 1];
	int fd;

	blob_name(digest, name);
	fd = open_blob(oci, name);
	if (fd < 0)
		return pfs_errf(oci->log, errno, "%s: blob %s: %s", oci->path,
				name, strerror(errno));
	return fd;
}

/* sha256 of an open file, streaming. */
static int hash_fd(int fd, uint8_t out[PFS_DIGEST_SIZE], uint64_t *size)
{
	struct pfs_sha256_ctx *c = pfs_sha256_new();
	size_t bufsz = 1 << 20;
	uint8_t *buf = malloc(bufsz);
	uint64_t off = 0;
	ssize_t n;
	int e = 0;

	if (!c || !buf) {
		e = -ENOMEM;
		goto out;
	}
	while ((n = pfs_pread_full(fd, buf, bufsz, (off_t)off)) > 0) {
		pfs_sha256_update(c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	if (n < 0)
		e = (int)n;
	pfs_sha256_final(c, out);
	*size = off;
out:
	pfs_sha256_free(c);
	free(buf);
	return e;
}

int pfs_measure_verity(int fd, uint8_t digest[PFS_DIGEST_SIZE])
{
	/* Room for the digest after the header (a union: clang refuses a
	 * flexible-array struct followed by more members). */
	union {
		struct fsverity_digest d;
		uint8_t buf[sizeof(struct fsverity_digest) + 64];
	} m;

	m.d.digest_size = 64;
	if (ioctl(fd, FS_IOC_MEASURE_VERITY, &m.d))
		return -errno;
	if (m.d.digest_algorithm != FS_VERITY_HASH_ALG_SHA256 ||
	    m.d.digest_size != PFS_DIGEST_SIZE)
		return -EINVAL;
	memcpy(digest, m.d.digest, PFS_DIGEST_SIZE);
	return 0;
}

/* Size of an open blob, which must be a regular file. */
static int blob_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st))
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Blobs larger than this are read in pieces of this size, each hashed
 * while the kernel reads the next ones (started by pfs_prefetch). */
#define READ_STEP (1u << 20)

static int read_exact(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	ssize_t n = pfs_pread_full(fd, buf, len, (off_t)off);

	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

/* Read exactly @len bytes of a blob and check them against its @digest:
 * 0, a negative errno from the read, or 1 for other content.  @peek sees
 * all the bytes before any is hashed (so then there is one piece). */
static int read_checked(int fd, const uint8_t *digest, uint8_t *buf,
			size_t len, const struct pfs_blob_peek *peek)
{
	size_t step = peek ? len : READ_STEP, off, n;
	uint8_t got[PFS_DIGEST_SIZE];
	struct pfs_sha256_ctx *c;
	int e = 0;

	if (len <= READ_STEP && !peek) {
		e = read_exact(fd, buf, len, 0);
		if (!e)
			pfs_sha256(buf, len, got);
	} else {
		pfs_prefetch(fd, len);
		/* Made before the first read, so that the crypto library's
		 * first use overlaps the I/O just started. */
		c = pfs_sha256_new();
		if (!c)
			return -ENOMEM;
		for (off = 0; off < len && !e; off += n) {
			n = len - off < step ? len - off : step;
			e = read_exact(fd, buf + off, n, off);
			if (!e && peek)
				peek->fn(peek->arg, buf, len);
			if (!e)
				pfs_sha256_update(c, buf + off, n);
		}
		pfs_sha256_final(c, got);
		pfs_sha256_free(c);
	}
	if (e)
		return e;
	return memcmp(got, digest, PFS_DIGEST_SIZE) ? 1 : 0;
}

int pfs_oci_blob_read(struct pfs_oci *oci, const uint8_t *digest,
		      uint64_t size, size_t max, const uint8_t *verity,
		      uint8_t **data, size_t *len,
		      const struct pfs_blob_peek *peek)
{
	char name[2 * PFS_DIGEST_SIZE + 1];
	uint8_t got[PFS_DIGEST_SIZE];
	uint64_t have = 0;
	int fd, e;

	blob_name(digest, name);
	fd = pfs_oci_blob_open(oci, digest);
	if (fd < 0)
		return fd;
	e = blob_size(fd, &have);
	if (!e && have > max)
		e = -EFBIG;
	if (!e && size != UINT64_MAX && have != size) {
		close(fd);
		return pfs_errf(oci->log, EIO,
				"%s: blob %s: size %llu, descriptor says %llu",
				oci->path, name, (unsigned long long)have,
				(unsigned long long)size);
	}
	/* Measure and read through one descriptor: what is checked is
	 * what is read. */
	if (!e && verity) {
		e = pfs_measure_verity(fd, got);
		if (e || memcmp(got, verity, PFS_DIGEST_SIZE)) {
			close(fd);
			return pfs_errf(oci->log, EIO, "%s: blob %s: %s",
					oci->path, name,
					e ? "fs-verity is not enabled" :
					"fs-verity digest mismatch");
		}
	}
	if (!e) {
		*data = malloc((size_t)have + 1);
		e = *data ? read_checked(fd, digest, *data, (size_t)have,
				     peek) :
		    -ENOMEM;
		if (e) {
			free(*data);
			*data = NULL;
		}
	}
	close(fd);
	if (e == 1)
		return pfs_errf(oci->log, EIO,
				"%s: blob %s: content does not match its sha256",
				oci->path, name);
	if (e)
		return pfs_errf(oci->log, -e, "%s: blob %s: %s", oci->path,
				name, why(e));
	(*data)[have] = 0;
	*len = (size_t)have;
	return 0;
}

static int find_dup(const struct pfs_pending *v, size_t n,
		    const uint8_t *digest)
{
	size_t i;
	int fd;

	for (i = 0; v && i < n; i++) {
		if (memcmp(v[i].digest, digest, PFS_DIGEST_SIZE))
			continue;
		fd = fcntl(v[i].fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? -errno : fd;
	}
	return -ENOENT;
}

/*
 * A descriptor of blob @digest while it waits, unnamed, for its batch to be
 * synced: a dup taken under the lock that keeps the entry alive, so that
 * the syncer may link and close its own meanwhile.  -ENOENT if it is not
 * waiting (or is being synced right now).
 */
static int pending_dup(struct pfs_oci *oci, const uint8_t *digest)
{
	int fd;

	pthread_mutex_lock(&oci->put_lock);
	fd = find_dup(oci->pending, oci->npending, digest);
	pthread_mutex_unlock(&oci->put_lock);
	if (fd != -ENOENT)
		return fd;
	pthread_mutex_lock(&oci->sync_lock);
	fd = find_dup(oci->sync_batch, oci->sync_n, digest);
	pthread_mutex_unlock(&oci->sync_lock);
	return fd;
}

int pfs_oci_blob_fetch(struct pfs_oci *oci, const uint8_t *digest,
		       uint64_t size, struct pfs_buf *out)
{
	char name[2 * PFS_DIGEST_SIZE + 1];
	uint64_t have = 0;
	int fd, e;

	blob_name(digest, name);
	fd = open_blob(oci, name);
	if (fd < 0 && errno == ENOENT)
		fd = pending_dup(oci, digest);
	else if (fd < 0)
		fd = -errno;
	if (fd < 0)
		return fd;
	out->len = 0;
	e = blob_size(fd, &have);
	if (!e && size == UINT64_MAX && have <= PFS_FETCH_ANY_MAX)
		size = have;
	if (!e && (have != size || size > SIZE_MAX))
		e = -EIO;
	if (!e)
		e = pfs_buf_reserve(out, (size_t)size);
	if (!e)
		e = read_checked(fd, digest, out->data, (size_t)size, NULL);
	close(fd);
	if (e)
		return e < 0 ? e : -EIO;
	out->len = (size_t)size;
	return 0;
}

void pfs_oci_blob_prefetch(struct pfs_oci *oci, const uint8_t *digest,
			   uint64_t max)
{
	char name[2 * PFS_DIGEST_SIZE + 1];
	uint64_t size = 0;
	int fd;

	blob_name(digest, name);
	fd = open_blob(oci, name);
	if (fd < 0)
		return;
	if (!blob_size(fd, &size))
		pfs_prefetch(fd, size < max ? size : max);
	close(fd);
}

int pfs_oci_blob_check(struct pfs_oci *oci, const uint8_t *digest)
{
	char name[2 * PFS_DIGEST_SIZE + 1];
	uint8_t got[PFS_DIGEST_SIZE];
	uint64_t size;
	int fd, e;

	blob_name(digest, name);
	fd = open_blob(oci, name);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return pfs_errf(oci->log, errno, "%s: blob %s: %s", oci->path,
				name, strerror(errno));
	e = blob_size(fd, &size);
	if (!e)
		e = hash_fd(fd, got, &size);
	close(fd);
	if (e)
		return pfs_errf(oci->log, -e, "%s: blob %s: %s", oci->path,
				name, strerror(-e));
	if (memcmp(got, digest, PFS_DIGEST_SIZE))
		return pfs_errf(oci->log, EEXIST,
				"%s: blob %s exists with other content; "
				"remove it (puzzlefs fsck lists such blobs)",
				oci->path, name);
	return 1;
}

static int link_pending(struct pfs_oci *oci, struct pfs_pending *p)
{
	char name[2 * PFS_DIGEST_SIZE + 1], proc[64];
	int e = 0;

	blob_name(p->digest, name);
	if (p->tmpname[0]) {
		if (linkat(oci->blobs_fd, p->tmpname, oci->blobs_fd, name, 0))
			e = -errno;
		unlinkat(oci->blobs_fd, p->tmpname, 0);
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", p->fd);
		if (linkat(AT_FDCWD, proc, oci->blobs_fd, name,
			   AT_SYMLINK_FOLLOW))
			e = -errno;
	}
	/* Synced, so clean: its page cache goes back now.  The next blobs
	 * are written into these pages, which costs less than fresh ones
	 * (much less in a VM, where a page's first touch is a host fault),
	 * and a build does not push the user's files out of the cache. */
	posix_fadvise(p->fd, 0, 0, POSIX_FADV_DONTNEED);
	close(p->fd);
	/* Someone stored the same blob meanwhile: it must be identical. */
	if (e == -EEXIST)
		return pfs_oci_blob_check(oci, p->digest) == 1 ? 0 : -EEXIST;
	return e ? pfs_errf(oci->log, -e, "%s: blob %s: %s", oci->path, name,
			    strerror(-e)) : 0;
}

/*
 * Make a batch of written blobs durable with one filesystem sync, then give
 * them their names: a crash never leaves a partial blob under a real name.
 */
static int sync_batch(struct pfs_oci *oci, struct pfs_pending *batch, size_t n)
{
	size_t i;
	int e = 0;

	if (!n)
		return 0;
	if (syncfs(oci->blobs_fd))
		e = oci_err(oci, errno, "sync");
	for (i = 0; i < n; i++) {
		if (e) {
			close(batch[i].fd);
			if (batch[i].tmpname[0])
				unlinkat(oci->blobs_fd, batch[i].tmpname, 0);
			continue;
		}
		e = link_pending(oci, &batch[i]);
	}
	if (!e && fsync(oci->blobs_fd))
		e = oci_err(oci, errno, "sync blobs/sha256");
	return e;
}

/* Take the pending batch (put_lock held); a fresh one takes its place. */
static struct pfs_pending *take_batch(struct pfs_oci *oci, size_t *n)
{
	struct pfs_pending *batch = oci->pending;

	*n = oci->npending;
	oci->pending = NULL;
	oci->npending = 0;
	return batch;
}

static void *syncer_main(void *arg)
{
	struct pfs_oci *oci = arg;
	struct pfs_pending *batch;
	size_t n;
	int e;

	pthread_mutex_lock(&oci->sync_lock);
	for (;;) {
		while (!oci->sync_batch && !oci->sync_stop)
			pthread_cond_wait(&oci->sync_cv, &oci->sync_lock);
		if (!oci->sync_batch)
			break;
		batch = oci->sync_batch;
		n = oci->sync_n;
		oci->sync_batch = NULL;
		oci->sync_busy = true;
		pthread_cond_broadcast(&oci->sync_cv);
		pthread_mutex_unlock(&oci->sync_lock);
		e = sync_batch(oci, batch, n);
		free(batch);
		pthread_mutex_lock(&oci->sync_lock);
		oci->sync_busy = false;
		if (e && !oci->sync_err)
			oci->sync_err = e;
		pthread_cond_broadcast(&oci->sync_cv);
	}
	pthread_mutex_unlock(&oci->sync_lock);
	return NULL;
}

/* Hand a full batch to the syncer (started on first use); waits while the
 * syncer is still busy with the previous one, so that at most two batches
 * of descriptors are open.  The syncer's first error is returned by this
 * or the next call. */
static int hand_off(struct pfs_oci *oci, struct pfs_pending *batch, size_t n)
{
	int e;

	pthread_mutex_lock(&oci->sync_lock);
	if (!oci->syncer_on &&
	    !pthread_create(&oci->syncer, NULL, syncer_main, oci))
		oci->syncer_on = true;
	if (!oci->syncer_on) {
		pthread_mutex_unlock(&oci->sync_lock);
		e = sync_batch(oci, batch, n);
		free(batch);
		return e;
	}
	while (oci->sync_batch || oci->sync_busy)
		pthread_cond_wait(&oci->sync_cv, &oci->sync_lock);
	oci->sync_batch = batch;
	oci->sync_n = n;
	pthread_cond_broadcast(&oci->sync_cv);
	e = oci->sync_err;
	pthread_mutex_unlock(&oci->sync_lock);
	return e;
}

/* Wait until the syncer has nothing left: its error, or 0. */
static int syncer_wait(struct pfs_oci *oci)
{
	int e;

	pthread_mutex_lock(&oci->sync_lock);
	while (oci->sync_batch || oci->sync_busy)
		pthread_cond_wait(&oci->sync_cv, &oci->sync_lock);
	e = oci->sync_err;
	pthread_mutex_unlock(&oci->sync_lock);
	return e;
}

/* A batch still handed over is synced and named before the thread ends. */
static void syncer_stop(struct pfs_oci *oci)
{
	if (!oci->syncer_on)
		return;
	pthread_mutex_lock(&oci->sync_lock);
	oci->sync_stop = true;
	pthread_cond_broadcast(&oci->sync_cv);
	pthread_mutex_unlock(&oci->sync_lock);
	pthread_join(oci->syncer, NULL);
	oci->syncer_on = false;
}

int pfs_oci_sync(struct pfs_oci *oci)
{
	struct pfs_pending *batch;
	size_t n;
	int e, e2;

	e = syncer_wait(oci);
	pthread_mutex_lock(&oci->put_lock);
	batch = take_batch(oci, &n);
	pthread_mutex_unlock(&oci->put_lock);
	e2 = sync_batch(oci, batch, n);
	free(batch);
	return e ? e : e2;
}

static int tmp_blob(struct pfs_oci *oci, struct pfs_pending *p)
{
	bool no_tmpfile;

	pthread_mutex_lock(&oci->put_lock);
	no_tmpfile = oci->no_tmpfile;
	pthread_mutex_unlock(&oci->put_lock);
	if (!no_tmpfile) {
		p->tmpname[0] = 0;
		p->fd = openat(oci->blobs_fd, ".", O_TMPFILE | O_RDWR |
			       O_CLOEXEC, 0666);
		if (p->fd >= 0)
			return 0;
		if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
			return -errno;
		pthread_mutex_lock(&oci->put_lock);
		oci->no_tmpfile = true;
		pthread_mutex_unlock(&oci->put_lock);
	}
	tmp_name(p->tmpname, sizeof(p->tmpname));
	p->fd = openat(oci->blobs_fd, p->tmpname, O_RDWR | O_CREAT | O_EXCL |
		       O_CLOEXEC, 0666);
	return p->fd < 0 ? -errno : 0;
}

/* Add a written blob to the pending batch; a full batch goes to the
 * syncer.  On failure the file is dropped. */
static int enqueue(struct pfs_oci *oci, struct pfs_pending *p)
{
	struct pfs_pending *batch = NULL;
	size_t n = 0;

	pthread_mutex_lock(&oci->put_lock);
	if (!oci->pending)
		oci->pending = calloc(PENDING_MAX, sizeof(*oci->pending));
	if (!oci->pending) {
		pthread_mutex_unlock(&oci->put_lock);
		close(p->fd);
		if (p->tmpname[0])
			unlinkat(oci->blobs_fd, p->tmpname, 0);
		return -ENOMEM;
	}
	oci->pending[oci->npending++] = *p;
	if (oci->npending == PENDING_MAX)
		batch = take_batch(oci, &n);
	pthread_mutex_unlock(&oci->put_lock);
	return batch ? hand_off(oci, batch, n) : 0;
}

/*
 * Store a blob: written to an unnamed file now, named by the next sync.
 * Safe to call from several threads: the writes run in parallel, and a
 * full batch goes to the syncer thread, so that nobody waits for the disk
 * unless the syncer falls a whole batch behind.
 */
int pfs_oci_blob_put(struct pfs_oci *oci, const uint8_t *digest,
		     const void *data, size_t len)
{
	struct pfs_pending p;
	int e;

	e = pfs_oci_blob_check(oci, digest);
	if (e)
		return e < 0 ? e : 0;
	memcpy(p.digest, digest, PFS_DIGEST_SIZE);
	e = tmp_blob(oci, &p);
	if (!e) {
		e = pfs_write_full(p.fd, data, len);
		if (e) {
			close(p.fd);
			if (p.tmpname[0])
				unlinkat(oci->blobs_fd, p.tmpname, 0);
		}
	}
	if (e)
		return oci_err(oci, -e, "write blob");
	return enqueue(oci, &p);
}

/* ---- blobs written as they arrive ------------------------------------------ */

struct pfs_oci_writer {
	struct pfs_oci *oci;
	struct pfs_pending p;
	struct pfs_sha256_ctx *sha;
	uint64_t size, got;
};

int pfs_oci_writer_open(struct pfs_oci *oci, const uint8_t *digest,
			uint64_t size, struct pfs_oci_writer **out)
{
	struct pfs_oci_writer *w = calloc(1, sizeof(*w));
	int e;

	if (!w)
		return -ENOMEM;
	w->sha = pfs_sha256_new();
	if (!w->sha) {
		free(w);
		return -ENOMEM;
	}
	w->oci = oci;
	w->size = size;
	memcpy(w->p.digest, digest, PFS_DIGEST_SIZE);
	e = tmp_blob(oci, &w->p);
	if (e) {
		pfs_sha256_free(w->sha);
		free(w);
		return oci_err(oci, -e, "write blob");
	}
	*out = w;
	return 0;
}

int pfs_oci_writer_write(struct pfs_oci_writer *w, const void *data,
			 size_t len)
{
	if (len > w->size - w->got)
		return -EFBIG;
	pfs_sha256_update(w->sha, data, len);
	w->got += len;
	return pfs_write_full(w->p.fd, data, len);
}

void pfs_oci_writer_abort(struct pfs_oci_writer *w)
{
	if (!w)
		return;
	close(w->p.fd);
	if (w->p.tmpname[0])
		unlinkat(w->oci->blobs_fd, w->p.tmpname, 0);
	pfs_sha256_free(w->sha);
	free(w);
}

int pfs_oci_writer_commit(struct pfs_oci_writer *w)
{
	uint8_t got[PFS_DIGEST_SIZE];
	struct pfs_oci *oci = w->oci;
	struct pfs_pending p = w->p;

	pfs_sha256_final(w->sha, got);
	if (w->got != w->size || memcmp(got, w->p.digest, PFS_DIGEST_SIZE)) {
		pfs_oci_writer_abort(w);
		return -EIO;
	}
	pfs_sha256_free(w->sha);
	free(w);
	return enqueue(oci, &p);
}

int pfs_oci_blob_have(struct pfs_oci *oci, const uint8_t *digest,
		      uint64_t size)
{
	char name[2 * PFS_DIGEST_SIZE + 1];
	struct stat st;

	blob_name(digest, name);
	if (fstatat(oci->blobs_fd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 :
		       pfs_errf(oci->log, errno, "%s: blob %s: %s", oci->path,
				name, strerror(errno));
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size != size)
		return pfs_errf(oci->log, EIO, "%s: blob %s is there with %s; "
				"remove it (puzzlefs fsck lists such blobs)",
				oci->path, name, S_ISREG(st.st_mode) ?
				"another size" : "another file type");
	return 1;
}

/* ---- manifests ------------------------------------------------------------ */

void pfs_manifest_free(struct pfs_manifest *m)
{
	free(m->chunks);
	free(m->chunk_zstd);
	m->chunks = NULL;
	m->chunk_zstd = NULL;
	m->nchunks = 0;
}

int pfs_manifest_parse(struct pfs_oci *oci, const uint8_t *data, size_t len,
		       const char *what, struct pfs_manifest *m)
{
	size_t chunk_len = strlen(PFS_MEDIA_CHUNK), i;
	json_t *v, *layers, *l, *v_config;
	bool found = false;
	json_error_t jerr;
	char lwhat[300];
	int e = 0;

	memset(m, 0, sizeof(*m));
	v = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!v)
		return pfs_errf(oci->log, EINVAL,
				"%s: %s: malformed JSON at line %d: %s",
				oci->path, what, jerr.line, jerr.text);
	layers = json_object_get(v, "layers");
	if (!json_is_array(layers)) {
		e = pfs_errf(oci->log, EINVAL, "%s: %s: no layers", oci->path,
			     what);
		goto out;
	}
	v_config = json_object_get(v, "config");
	if (v_config) {
		snprintf(lwhat, sizeof(lwhat), "%s: config", what);
		e = pfs_oci_parse_desc(oci, v_config, lwhat, &m->config);
		if (e)
			goto out;
		m->has_config = true;
	}
	m->chunks = calloc(json_array_size(layers) + 1, sizeof(*m->chunks));
	m->chunk_zstd = calloc(json_array_size(layers) + 1, sizeof(bool));
	if (!m->chunks || !m->chunk_zstd) {
		e = -ENOMEM;
		goto out;
	}
	json_array_foreach(layers, i, l) {
		const char *mt = json_string_value(json_object_get(l, "mediaType"));

		snprintf(lwhat, sizeof(lwhat), "%s: layer %zu", what, i);
		if (!mt)
			continue;
		if (!found && !strcmp(mt, PFS_MEDIA_ROOTFS)) {
			json_t *a = json_object_get(l, "annotations");
			const char *vh = json_string_value(
				json_object_get(a, PFS_ANNOT_VERITY));

			e = pfs_oci_parse_desc(oci, l, lwhat, &m->rootfs);
			if (e)
				goto out;
			if (vh) {
				if (pfs_unhex(vh, m->rootfs_verity,
					      PFS_DIGEST_SIZE)) {
					e = pfs_errf(oci->log, EINVAL,
						"%s: %s: invalid verity annotation",
						oci->path, lwhat);
					goto out;
				}
				m->has_verity = true;
			}
			found = true;
		} else if (!strncmp(mt, PFS_MEDIA_CHUNK, chunk_len) &&
			   (!mt[chunk_len] ||
			    !strcmp(mt + chunk_len, PFS_MEDIA_ZSTD_SUFFIX))) {
			e = pfs_oci_parse_desc(oci, l, lwhat, &m->chunks[m->nchunks]);
			if (e)
				goto out;
			m->chunk_zstd[m->nchunks++] = mt[chunk_len] != 0;
		}
	}
	if (!found)
		e = pfs_errf(oci->log, EINVAL, "%s: %s: missing PuzzleFS rootfs layer",
			     oci->path, what);
out:
	json_decref(v);
	if (e)
		pfs_manifest_free(m);
	return e;
}

/* ---- public: tags ---------------------------------------------------------- */

void pfs_tags_free(char **tags, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		free(tags[i]);
	free(tags);
}

struct tag_list {
	char **v;
	size_t n, cap;
};

static int list_one(void *arg, json_t *ent, size_t i)
{
	struct tag_list *l = arg;
	const char *t = pfs_oci_entry_tag(ent);

	(void)i;
	if (!t)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		char **v = realloc(l->v, (cap + 1) * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n] = strdup(t);
	return l->v[l->n++] ? 0 : -ENOMEM;
}

int pfs_list_tags(const char *oci_dir, const struct pfs_log *log,
		  char ***tags, size_t *count)
{
	struct tag_list l = { 0 };
	struct pfs_oci *oci;
	uint8_t *data = NULL;
	size_t len;
	int e;

	e = pfs_oci_open(oci_dir, false, log, &oci);
	if (e)
		return e;
	e = index_read(oci, &data, &len);
	if (!e)
		e = pfs_oci_index_scan(oci, data, len, list_one, &l, NULL);
	free(data);
	pfs_oci_close(oci);
	if (e < 0) {
		pfs_tags_free(l.v, l.n);
		return e == -ENOMEM ? pfs_errf(log, ENOMEM, "out of memory") : e;
	}
	if (!l.v && !(l.v = calloc(1, sizeof(*l.v))))
		return -ENOMEM;
	*tags = l.v;
	*count = l.n;
	return 0;
}
