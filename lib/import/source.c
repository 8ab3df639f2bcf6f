// SPDX-License-Identifier: MIT
/*
 * Import sources: the dispatch on SOURCE's transport, what every source
 * shares (layer list, diff_ids, platform matching, file streams), and the
 * simplest source, one layer file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/puzzlefs_fs.h"
#include "import/source.h"
#include "store/oci.h"

/* ---- streams over a file --------------------------------------------------- */

struct fd_stream {
	struct pfs_stream s;
	int fd;
};

static ssize_t fd_read(struct pfs_stream *s, void *buf, size_t len)
{
	struct fd_stream *f = (struct fd_stream *)s;
	ssize_t n;

	do
		n = read(f->fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static void fd_close(struct pfs_stream *s)
{
	struct fd_stream *f = (struct fd_stream *)s;

	close(f->fd);
	free(f);
}

int pfs_stream_fd(int fd, struct pfs_stream **out)
{
	struct fd_stream *f = calloc(1, sizeof(*f));

	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->s.read = fd_read;
	f->s.close = fd_close;
	f->fd = fd;
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	*out = &f->s;
	return 0;
}

int pfs_src_open_file(const char *path, const struct pfs_log *log)
{
	/* O_NONBLOCK: a FIFO given as SOURCE must not hang the open. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct stat st;

	if (fd < 0)
		return pfs_errf(log, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return pfs_errf(log, EINVAL, "%s: not a regular file", path);
	}
	/* Reads block as usual from here on. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* ---- what sources share -------------------------------------------------------- */

bool pfs_src_layer_type_ok(const char *mt)
{
	static const char *const ok[] = {
		"application/vnd.oci.image.layer.v1.tar",
		"application/vnd.oci.image.layer.v1.tar+gzip",
		"application/vnd.oci.image.layer.v1.tar+zstd",
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
		/* what skopeo writes for docker-archive layers */
		"application/vnd.docker.image.rootfs.diff.tar",
	};
	size_t i;

	for (i = 0; mt && i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!strcmp(mt, ok[i]))
			return true;
	return false;
}

int pfs_src_add_layer(struct pfs_src *s, const char *name,
		      const char *media_type, const uint8_t *digest,
		      uint64_t size)
{
	struct pfs_src_layer *l;

	l = realloc(s->layers, (s->nlayers + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	s->layers = l;
	l = &s->layers[s->nlayers];
	memset(l, 0, sizeof(*l));
	l->size = size;
	l->name = strdup(name);
	l->media_type = media_type ? strdup(media_type) : NULL;
	if (!l->name || (media_type && !l->media_type)) {
		free(l->name);
		free(l->media_type);
		return -ENOMEM;
	}
	if (digest) {
		memcpy(l->digest, digest, PFS_DIGEST_SIZE);
		l->has_digest = true;
	}
	s->nlayers++;
	return 0;
}

int pfs_src_diff_ids(struct pfs_src *s, const char *what)
{
	json_t *ids = json_object_get(json_object_get(s->config, "rootfs"),
				      "diff_ids");
	size_t i;

	if (!json_is_array(ids) || json_array_size(ids) != s->nlayers)
		return pfs_errf(s->log, EINVAL,
				"%s: rootfs.diff_ids lists %zu layers, the manifest %zu",
				what, json_is_array(ids) ? json_array_size(ids) : 0,
				s->nlayers);
	for (i = 0; i < s->nlayers; i++) {
		const char *d = json_string_value(json_array_get(ids, i));

		if (!d || pfs_parse_digest(d, s->layers[i].diff_id))
			return pfs_errf(s->log, EINVAL,
					"%s: rootfs.diff_ids[%zu] is not a sha256 digest",
					what, i);
		s->layers[i].has_diff_id = true;
	}
	return 0;
}

static bool field_is(json_t *platform, const char *key, const char *want,
		     size_t len)
{
	const char *v = json_string_value(json_object_get(platform, key));

	return v && strlen(v) == len && !memcmp(v, want, len);
}

bool pfs_platform_match(json_t *platform, const char *want)
{
	const char *slash, *arch, *variant;

	if (!want)
		return field_is(platform, "os", "linux", 5) &&
		       field_is(platform, "architecture", pfs_goarch(),
				strlen(pfs_goarch()));
	slash = strchr(want, '/');
	if (!slash)
		return false;
	arch = slash + 1;
	variant = strchr(arch, '/');
	if (!field_is(platform, "os", want, (size_t)(slash - want)) ||
	    !field_is(platform, "architecture", arch,
		      variant ? (size_t)(variant - arch) : strlen(arch)))
		return false;
	return !variant || field_is(platform, "variant", variant + 1,
				    strlen(variant + 1));
}

/* ---- from a descriptor to the image's layers and config ------------------ */

#define MAX_INDEX_DEPTH 4	/* index -> index -> ... -> manifest */
#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"

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
static int pick(struct pfs_src *s, const char *where, json_t *list,
		const char *platform, json_t **out)
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
	return pfs_errf(s->log, ENOENT, "%s: image index: no image for %s",
			where, platform ? platform : host);
}

static int add_layers(struct pfs_src *s, const char *where, json_t *man)
{
	json_t *layers = json_object_get(man, "layers"), *l;
	char what[160], hex[2 * PFS_DIGEST_SIZE + 1];
	size_t i, n;
	int e;

	if (!json_is_array(layers))
		return pfs_errf(s->log, EINVAL, "%s: image manifest has no layers",
				where);
	n = json_array_size(layers);
	json_array_foreach(layers, i, l) {
		const char *mt = media_of(l, NULL);
		struct pfs_desc d;

		snprintf(what, sizeof(what), "layer %zu", i + 1);
		if (mt && !strncmp(mt, PFS_MEDIA_ROOTFS, strlen(PFS_MEDIA_ROOTFS)))
			return pfs_errf(s->log, EINVAL,
					"%s: already a PuzzleFS image", where);
		e = pfs_desc_parse(l, s->log, where, what, &d);
		if (e)
			return e;
		pfs_hex(d.digest, PFS_DIGEST_SIZE, hex);
		if (!pfs_src_layer_type_ok(mt))
			return pfs_errf(s->log, EOPNOTSUPP,
					"%s: layer %zu (sha256:%s): media type '%s' is not a tar layer",
					where, i + 1, hex, mt ? mt : "(none)");
		snprintf(what, sizeof(what), "layer %zu/%zu sha256:%s", i + 1, n,
			 hex);
		e = pfs_src_add_layer(s, what, mt, d.digest, d.size);
		if (e)
			return e;
	}
	return 0;
}

int pfs_src_resolve(struct pfs_src *s, const char *where,
		    pfs_src_read_doc read_doc, json_t *desc, json_t *doc,
		    const char *platform)
{
	json_t *blob = json_incref(doc), *next = NULL;
	unsigned depth;
	bool picked = false;
	int e = 0;

	json_incref(desc);
	for (depth = 0;; depth++) {
		if (depth > MAX_INDEX_DEPTH) {
			e = pfs_errf(s->log, ELOOP, "%s: image indexes nested too deep",
				     where);
			goto out;
		}
		if (!blob)
			e = read_doc(s, desc, picked ? "image index entry" :
				     "image manifest", &blob);
		if (e)
			goto out;
		if (!is_index(media_of(desc, blob)))
			break;
		e = pick(s, where, json_object_get(blob, "manifests"), platform,
			 &next);
		if (e)
			goto out;
		/* The entry lives in @blob, which goes. */
		json_decref(desc);
		desc = json_incref(next);
		json_decref(blob);
		blob = NULL;
		picked = true;
	}
	e = add_layers(s, where, blob);
	if (!e) {
		json_t *cd = json_object_get(blob, "config");

		e = cd ? read_doc(s, cd, PFS_SRC_CONFIG, &s->config) :
			 pfs_errf(s->log, EINVAL, "%s: image manifest has no config",
				  where);
	}
	if (!e)
		e = pfs_src_diff_ids(s, where);
	/* An image named directly is taken as it is, unless --platform asks
	 * for something else. */
	if (!e && !picked && platform && !pfs_platform_match(s->config, platform))
		e = pfs_errf(s->log, EINVAL, "%s: the image is not for %s", where,
			     platform);
out:
	json_decref(desc);
	json_decref(blob);
	return e;
}

void pfs_src_base_free(struct pfs_src *s)
{
	size_t i;

	for (i = 0; i < s->nlayers; i++) {
		free(s->layers[i].name);
		free(s->layers[i].media_type);
	}
	free(s->layers);
	json_decref(s->config);
}

void pfs_src_free(struct pfs_src *s)
{
	if (s)
		s->ops->free(s);
}

/* ---- one layer file ------------------------------------------------------------- */

struct file_src {
	struct pfs_src s;
	char *path;
};

static int file_open_layer(struct pfs_src *s, size_t i, struct pfs_stream **out)
{
	struct file_src *f = (struct file_src *)s;
	int fd;

	(void)i;
	fd = pfs_src_open_file(f->path, s->log);
	return fd < 0 ? fd : pfs_stream_fd(fd, out);
}

static void file_free(struct pfs_src *s)
{
	struct file_src *f = (struct file_src *)s;

	pfs_src_base_free(s);
	free(f->path);
	free(f);
}

static const struct pfs_src_ops file_ops = {
	.open_layer = file_open_layer,
	.free = file_free,
};

int pfs_src_layer_file(const char *file, const struct pfs_log *log,
		       struct pfs_src **out)
{
	struct file_src *f = calloc(1, sizeof(*f));
	int fd, e;

	if (!f)
		return -ENOMEM;
	f->s.ops = &file_ops;
	f->s.log = log;
	f->path = strdup(file);
	e = f->path ? pfs_src_add_layer(&f->s, file, NULL, NULL, UINT64_MAX) :
		      -ENOMEM;
	/* Say now if it cannot be read, not once the import is under way. */
	if (!e) {
		fd = pfs_src_open_file(file, log);
		if (fd < 0)
			e = fd;
		else
			close(fd);
	}
	if (e) {
		file_free(&f->s);
		return e;
	}
	*out = &f->s;
	return 0;
}

/* ---- SOURCE ------------------------------------------------------------------------ */

/* "NAME:REST" -> NAME and REST (NULL if there is no ':'), as skopeo splits
 * a transport's reference at its first ':'. */
static int split_first(const char *s, char **name, char **rest)
{
	const char *colon = strchr(s, ':');

	*name = colon ? strndup(s, (size_t)(colon - s)) : strdup(s);
	*rest = colon ? strdup(colon + 1) : NULL;
	if (!*name || (colon && !*rest)) {
		free(*name);
		free(*rest);
		return -ENOMEM;
	}
	return 0;
}

int pfs_src_open(const char *spec, const char *platform,
		 const struct pfs_remote_opts *remote,
		 const struct pfs_log *log, struct pfs_src **out)
{
	char *name = NULL, *rest = NULL;
	int e;

	if (!strncmp(spec, "oci:", 4)) {
		e = split_first(spec + 4, &name, &rest);
		if (!e && (!name[0] || (rest && !rest[0])))
			e = pfs_errf(log, EINVAL, "'%s': expected oci:DIR[:TAG]",
				     spec);
		if (!e)
			e = pfs_src_oci(name, rest, platform, log, out);
	} else if (!strncmp(spec, "docker-archive:", 15)) {
		e = split_first(spec + 15, &name, &rest);
		if (!e && (!name[0] || (rest && !rest[0])))
			e = pfs_errf(log, EINVAL,
				     "'%s': expected docker-archive:FILE[:NAME:TAG]",
				     spec);
		if (!e)
			e = pfs_src_docker_archive(name, rest, log, out);
	} else if (!strncmp(spec, "docker://", 9)) {
		e = pfs_src_registry(spec, platform, remote, log, out);
	} else if (strstr(spec, "://") || !strncmp(spec, "docker:", 7) ||
		   !strncmp(spec, "oci-archive:", 12) ||
		   !strncmp(spec, "containers-storage:", 19) ||
		   !strncmp(spec, "dir:", 4)) {
		e = pfs_errf(log, EOPNOTSUPP,
			     "'%s': transport not supported (oci:, docker-archive:, docker:// or a layer file)",
			     spec);
	} else {
		e = pfs_src_layer_file(spec, log, out);
	}
	free(name);
	free(rest);
	return e;
}
