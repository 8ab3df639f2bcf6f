// SPDX-License-Identifier: MIT
/*
 * Import source: a docker-archive, the tar that `docker save` and `skopeo
 * copy ... docker-archive:FILE` write.  Its manifest.json lists, for each
 * image, the config member, the RepoTags and the layer members (in order,
 * bottom first); docker save stores a layer that repeats an earlier one
 * as a symlink to it.  The archive is read with libarchive: each member
 * is found by reading the headers from the start (on a plain tar file
 * libarchive seeks over the data it skips), and a layer streams out of
 * the archive as its member's data.  Layers are checked against the
 * config's rootfs.diff_ids, and against their name when the member is
 * named after its digest (blobs/sha256/HEX, as newer docker writes).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import/source.h"

#define MAX_JSON (16u << 20)
#define MAX_LINK_HOPS 8
#define MEMBER_MAX 4096

struct outer {
	struct archive *a;
	int fd;
};

struct da_src {
	struct pfs_src s;
	char *path;
	char **members;			/* each layer's member */
};

struct da_stream {
	struct pfs_stream s;
	struct outer o;
	const struct pfs_log *log;
	char *what;
};

static void outer_close(struct outer *o)
{
	if (o->a)
		archive_read_free(o->a);
	if (o->fd >= 0)
		close(o->fd);
	o->a = NULL;
	o->fd = -1;
}

static int outer_open(const char *path, const struct pfs_log *log,
		      struct outer *o)
{
	o->a = NULL;
	o->fd = pfs_src_open_file(path, log);
	if (o->fd < 0)
		return o->fd;
	o->a = archive_read_new();
	if (!o->a) {
		outer_close(o);
		return -ENOMEM;
	}
	/* docker load takes the archive compressed too.  Only built-in
	 * decoders: a filter that would run an external program is refused
	 * (ARCHIVE_WARN). */
	if (archive_read_support_format_tar(o->a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(o->a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(o->a) != ARCHIVE_OK ||
	    archive_read_open_fd(o->a, o->fd, 64 << 10) != ARCHIVE_OK) {
		int e = pfs_errf(log, EINVAL, "%s: %s", path,
				 archive_error_string(o->a) ?
				 archive_error_string(o->a) : "cannot read");

		outer_close(o);
		return e;
	}
	return 0;
}

/* Member names compare without a leading "./" or "/". */
static const char *member_name(const char *n)
{
	while (n[0] == '/' || (n[0] == '.' && n[1] == '/'))
		n += n[0] == '/' ? 1 : 2;
	return n;
}

/*
 * Position @o at member @name's data.  A symlink member is followed
 * (docker save links repeated layers), relative to its directory; *@name
 * then becomes the target's name.  1 found, 0 absent, <0 error.
 */
static int outer_find(const char *path, const struct pfs_log *log,
		      char **name, struct outer *o)
{
	struct archive_entry *ae;
	unsigned hops = 0;
	int r, e;

again:
	e = outer_open(path, log, o);
	if (e)
		return e;
	while ((r = archive_read_next_header(o->a, &ae)) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(ae);
		const char *target = archive_entry_symlink(ae);
		char *dir, *slash, *joined;

		if (!n || strcmp(member_name(n), *name))
			continue;
		if (archive_entry_filetype(ae) == AE_IFREG &&
		    !archive_entry_hardlink(ae))
			return 1;
		if (archive_entry_filetype(ae) != AE_IFLNK || !target ||
		    target[0] == '/' || ++hops > MAX_LINK_HOPS)
			break;
		/* "a/layer.tar" -> "../b/layer.tar": "b/layer.tar" */
		dir = strdup(*name);
		if (!dir) {
			outer_close(o);
			return -ENOMEM;
		}
		slash = strrchr(dir, '/');
		*(slash ? slash : dir) = 0;
		while (!strncmp(target, "../", 3)) {
			target += 3;
			slash = strrchr(dir, '/');
			*(slash ? slash : dir) = 0;
		}
		if (asprintf(&joined, "%s%s%s", dir, dir[0] ? "/" : "",
			     member_name(target)) < 0) {
			free(dir);
			outer_close(o);
			return -ENOMEM;
		}
		free(dir);
		free(*name);
		*name = joined;
		outer_close(o);
		goto again;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
		e = pfs_errf(log, EIO, "%s: %s", path, archive_error_string(o->a));
		outer_close(o);
		return e;
	}
	outer_close(o);
	return r == ARCHIVE_EOF ? 0 :
	       pfs_errf(log, EINVAL, "%s: member %s is neither a file nor a link to one",
			path, *name);
}

static int read_member_json(struct da_src *d, const char *member, json_t **out)
{
	struct outer o = { .fd = -1 };
	char *name = strdup(member_name(member));
	struct pfs_buf b = { 0 };
	json_error_t jerr;
	la_ssize_t n;
	int e;

	if (!name)
		return -ENOMEM;
	e = outer_find(d->path, d->s.log, &name, &o);
	if (e == 0)
		e = pfs_errf(d->s.log, ENOENT, "%s: no member %s", d->path, name);
	while (e == 1) {
		if (pfs_buf_reserve(&b, 64 << 10)) {
			e = -ENOMEM;
			break;
		}
		n = archive_read_data(o.a, b.data + b.len, 64 << 10);
		if (n < 0)
			e = pfs_errf(d->s.log, EIO, "%s: %s: %s", d->path, name,
				     archive_error_string(o.a));
		else if (n == 0)
			e = 0;
		else if ((b.len += (size_t)n) > MAX_JSON)
			e = pfs_errf(d->s.log, EFBIG, "%s: %s: too large",
				     d->path, name);
	}
	outer_close(&o);
	if (!e) {
		*out = json_loadb((const char *)b.data, b.len,
				  JSON_REJECT_DUPLICATES, &jerr);
		if (!*out)
			e = pfs_errf(d->s.log, EINVAL, "%s: %s: %s", d->path,
				     name, jerr.text);
	}
	free(name);
	pfs_buf_free(&b);
	return e;
}

static ssize_t da_read(struct pfs_stream *s, void *buf, size_t len)
{
	struct da_stream *d = (struct da_stream *)s;
	la_ssize_t n = archive_read_data(d->o.a, buf, len);

	if (n < 0)
		return pfs_errf(d->log, EIO, "%s: %s", d->what,
				archive_error_string(d->o.a));
	return n;
}

static void da_close(struct pfs_stream *s)
{
	struct da_stream *d = (struct da_stream *)s;

	outer_close(&d->o);
	free(d->what);
	free(d);
}

static int da_open_layer(struct pfs_src *s, size_t i, struct pfs_stream **out)
{
	struct da_src *d = (struct da_src *)s;
	struct da_stream *st = calloc(1, sizeof(*st));
	char *name = strdup(d->members[i]);
	int e;

	if (!st || !name) {
		free(st);
		free(name);
		return -ENOMEM;
	}
	st->o.fd = -1;
	e = outer_find(d->path, s->log, &name, &st->o);
	if (e == 0)
		e = pfs_errf(s->log, ENOENT, "%s: no member %s", d->path, name);
	if (e == 1 && asprintf(&st->what, "%s: %s", d->path, name) < 0)
		e = -ENOMEM;
	free(name);
	if (e != 1) {
		outer_close(&st->o);
		free(st);
		return e;
	}
	st->s.read = da_read;
	st->s.close = da_close;
	st->log = s->log;
	*out = &st->s;
	return 0;
}

static void da_free(struct pfs_src *s)
{
	struct da_src *d = (struct da_src *)s;
	size_t i;

	for (i = 0; d->members && i < s->nlayers; i++)
		free(d->members[i]);
	free(d->members);
	pfs_src_base_free(s);
	free(d->path);
	free(d);
}

static const struct pfs_src_ops da_ops = {
	.open_layer = da_open_layer,
	.free = da_free,
};

/*
 * A reference as docker names it in full: "busybox" is
 * "docker.io/library/busybox:latest", "puzzle/test:v2"
 * "docker.io/puzzle/test:v2" (skopeo writes RepoTags so).  NULL: no memory.
 */
static char *full_ref(const char *ref)
{
	const char *slash = strchr(ref, '/'), *last = strrchr(ref, '/');
	bool domain = slash && (memchr(ref, '.', (size_t)(slash - ref)) ||
				memchr(ref, ':', (size_t)(slash - ref)) ||
				!strncmp(ref, "localhost/", 10));
	bool tagged = strchr(last ? last : ref, ':') || strchr(ref, '@');
	char *out;

	if (asprintf(&out, "%s%s%s%s", domain ? "" : "docker.io/",
		     domain || slash ? "" : "library/", ref,
		     tagged ? "" : ":latest") < 0)
		return NULL;
	return out;
}

/* Does RepoTags list @ref?  -ENOMEM, 0 no, 1 yes. */
static int has_tag(json_t *img, const char *ref)
{
	char *want = full_ref(ref), *have;
	json_t *t;
	size_t i;
	int found = 0;

	if (!want)
		return -ENOMEM;
	json_array_foreach(json_object_get(img, "RepoTags"), i, t) {
		if (!json_string_value(t))
			continue;
		have = full_ref(json_string_value(t));
		if (!have) {
			found = -ENOMEM;
			break;
		}
		found = !strcmp(have, want);
		free(have);
		if (found)
			break;
	}
	free(want);
	return found;
}

static int pick_image(struct da_src *d, json_t *manifest, const char *ref,
		      json_t **out)
{
	size_t n = json_array_size(manifest), i;
	char *end;

	if (!json_is_array(manifest) || !n)
		return pfs_errf(d->s.log, EINVAL, "%s: manifest.json lists no image",
				d->path);
	if (!ref) {
		if (n > 1)
			return pfs_errf(d->s.log, EINVAL,
					"%s: %zu images: name one (docker-archive:FILE:NAME:TAG or :@N)",
					d->path, n);
		*out = json_array_get(manifest, 0);
		return 0;
	}
	if (ref[0] == '@') {
		unsigned long k = strtoul(ref + 1, &end, 10);

		if (!ref[1] || *end || k >= n)
			return pfs_errf(d->s.log, EINVAL, "%s: no image %s",
					d->path, ref);
		*out = json_array_get(manifest, k);
		return 0;
	}
	for (i = 0; i < n; i++) {
		int e = has_tag(json_array_get(manifest, i), ref);

		if (e < 0)
			return e;
		if (e) {
			*out = json_array_get(manifest, i);
			return 0;
		}
	}
	return pfs_errf(d->s.log, ENOENT, "%s: no image tagged %s", d->path, ref);
}

static int add_layers(struct da_src *d, json_t *img)
{
	json_t *layers = json_object_get(img, "Layers"), *l;
	size_t i, n = json_array_size(layers);
	int e;

	if (!json_is_array(layers))
		return pfs_errf(d->s.log, EINVAL, "%s: manifest.json: no Layers",
				d->path);
	d->members = calloc(n + 1, sizeof(*d->members));
	if (!d->members)
		return -ENOMEM;
	json_array_foreach(layers, i, l) {
		const char *m = json_string_value(l), *base;
		uint8_t digest[PFS_DIGEST_SIZE];
		bool named = false;
		char what[MEMBER_MAX + 64];

		if (!m || !m[0] || strlen(m) > MEMBER_MAX)
			return pfs_errf(d->s.log, EINVAL,
					"%s: manifest.json: bad layer %zu", d->path,
					i + 1);
		m = member_name(m);
		base = strrchr(m, '/');
		/* blobs/sha256/HEX: the member's name is its digest. */
		if (base && base - m >= 6 && !strncmp(base - 6, "sha256", 6) &&
		    !pfs_unhex(base + 1, digest, PFS_DIGEST_SIZE))
			named = true;
		snprintf(what, sizeof(what), "layer %zu/%zu %s", i + 1, n, m);
		e = pfs_src_add_layer(&d->s, what,
				      "application/vnd.docker.image.rootfs.diff.tar",
				      named ? digest : NULL, UINT64_MAX);
		if (e)
			return e;
		d->members[i] = strdup(m);
		if (!d->members[i])
			return -ENOMEM;
	}
	return 0;
}

int pfs_src_docker_archive(const char *file, const char *ref,
			   const struct pfs_log *log, struct pfs_src **out)
{
	struct da_src *d = calloc(1, sizeof(*d));
	json_t *manifest = NULL, *img = NULL;
	const char *cfg;
	char what[300];
	int e;

	if (!d)
		return -ENOMEM;
	d->s.ops = &da_ops;
	d->s.log = log;
	d->path = strdup(file);
	e = d->path ? read_member_json(d, "manifest.json", &manifest) : -ENOMEM;
	if (!e)
		e = pick_image(d, manifest, ref, &img);
	if (!e) {
		cfg = json_string_value(json_object_get(img, "Config"));
		e = cfg ? read_member_json(d, cfg, &d->s.config) :
			  pfs_errf(log, EINVAL, "%s: manifest.json: no Config",
				   file);
	}
	if (!e && !json_is_object(d->s.config))
		e = pfs_errf(log, EINVAL, "%s: the image config is not an object",
			     file);
	if (!e)
		e = add_layers(d, img);
	if (!e) {
		snprintf(what, sizeof(what), "%s: image config", file);
		e = pfs_src_diff_ids(&d->s, what);
	}
	json_decref(manifest);
	if (e) {
		da_free(&d->s);
		return e;
	}
	*out = &d->s;
	return 0;
}
