// SPDX-License-Identifier: MIT
/*
 * The import in C: the tree's layer semantics on entries made with
 * libarchive (whiteouts spare what their own layer made, a directory over
 * a directory keeps its children, what is refused), numbering as build
 * -b does, pfs_build_same_data, and pfs_image_config reading back the
 * config an import writes (and none for a build).
 */
#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/tree.h"
#include "check.h"

static int errors;

static void log_fn(void *arg, int level, const char *msg)
{
	(void)arg;
	(void)level;
	(void)msg;
	errors++;
}

static const struct pfs_log logger = { log_fn, NULL };

static struct archive_entry *entry(const char *path, mode_t type,
				   const char *link)
{
	struct archive_entry *e = archive_entry_new();

	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	if (type == AE_IFLNK)
		archive_entry_set_symlink(e, link);
	else if (link)
		archive_entry_set_hardlink(e, link);
	return e;
}

static int apply(struct pfs_itree *t, uint32_t layer, const char *path,
		 mode_t type, const char *link)
{
	struct archive_entry *e = entry(path, type, link);
	struct pfs_tnode *f;
	int r = pfs_itree_apply(t, layer, "layer", e, &f);

	archive_entry_free(e);
	return r;
}

static const struct pfs_minode *find(const struct pfs_mlayer *l, uint64_t ino)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		if (l->inodes[i].ino == ino)
			return &l->inodes[i];
	return NULL;
}

static bool names(const struct pfs_minode *d, const char *want)
{
	char got[256] = "";
	uint32_t i;

	for (i = 0; d && i < d->nents; i++) {
		strncat(got, (const char *)d->ents[i].name, d->ents[i].name_len);
		strcat(got, " ");
	}
	if (strcmp(got, want))
		fprintf(stderr, "names: '%s', expected '%s'\n", got, want);
	return !strcmp(got, want);
}

static void test_semantics(void)
{
	struct pfs_itree_opts o = { .log = &logger };
	struct pfs_mlayer l[2] = { { 0 } };
	struct pfs_itree *t;

	CHECK(pfs_itree_new(&o, &t) == 0);
	CHECK(apply(t, 0, "d/", AE_IFDIR, NULL) == 0);
	CHECK(apply(t, 0, "d/old", AE_IFREG, NULL) == 0);
	CHECK(apply(t, 0, "gone/sub/f", AE_IFREG, NULL) == 0);
	CHECK(apply(t, 0, "f", AE_IFREG, NULL) == 0);
	CHECK(apply(t, 0, "keep/a", AE_IFREG, NULL) == 0);
	CHECK(pfs_itree_layer(t, NULL, 0, &l[0]) == 0);
	/* Root 1; its names d f gone keep 2-5; then d's, gone's... */
	CHECK(names(find(&l[0], 1), "d f gone keep "));
	CHECK(names(find(&l[0], 2), "old "));
	CHECK(names(find(&l[0], 4), "sub "));

	/* Layer 2: an opaque d with a new name; a whiteout of gone; keep
	 * restated as a directory (its children stay); keep/new then its own
	 * whiteout after it (spared: same layer); f becomes a directory. */
	CHECK(apply(t, 1, "d/.wh..wh..opq", AE_IFREG, NULL) == 0);
	CHECK(apply(t, 1, "d/new", AE_IFREG, NULL) == 0);
	CHECK(apply(t, 1, ".wh.gone", AE_IFREG, NULL) == 0);
	CHECK(apply(t, 1, "keep/", AE_IFDIR, NULL) == 0);
	CHECK(apply(t, 1, "keep/b", AE_IFREG, NULL) == 0);
	CHECK(apply(t, 1, "keep/.wh.b", AE_IFREG, NULL) == 0);
	CHECK(apply(t, 1, "f/", AE_IFDIR, NULL) == 0);
	CHECK(apply(t, 1, "/f/../f/x", AE_IFREG, NULL) == 0);
	CHECK(apply(t, 1, "h", AE_IFREG, "keep/a") == 0);
	CHECK(pfs_itree_layer(t, l, 1, &l[1]) == 0);
	CHECK(names(find(&l[1], 1), "d f h keep "));
	CHECK(names(find(&l[1], 2), "new "));
	CHECK(names(find(&l[1], 5), "a b "));
	/* gone (4) and what d lost (old, 6) are whiteouts; f is a directory
	 * under its old number. */
	CHECK(find(&l[1], 4) && find(&l[1], 4)->kind == PFS_KIND_WHT);
	CHECK(find(&l[1], 6) && find(&l[1], 6)->kind == PFS_KIND_WHT);
	CHECK(find(&l[1], 3) && find(&l[1], 3)->kind == PFS_KIND_DIR);

	/* What is refused, with a message each. */
	errors = 0;
	CHECK(apply(t, 2, "h/x", AE_IFREG, NULL) == -ENOTDIR);
	CHECK(apply(t, 2, "s", AE_IFLNK, "d") == 0);
	CHECK(apply(t, 2, "s/x", AE_IFREG, NULL) == -ELOOP);
	CHECK(apply(t, 2, "hl", AE_IFREG, "missing") == -ENOENT);
	CHECK(apply(t, 2, "hl", AE_IFREG, "d") == -EPERM);
	CHECK(apply(t, 2, "./", AE_IFLNK, "x") == -EPERM);
	CHECK(errors == 5);
	pfs_mlayer_free(&l[0]);
	pfs_mlayer_free(&l[1]);
	pfs_itree_free(t);
}

static void write_tar(const char *path)
{
	struct archive *a = archive_write_new();
	struct archive_entry *e = entry("etc/hostname", AE_IFREG, NULL);

	archive_write_set_format_pax_restricted(a);
	CHECK(archive_write_open_filename(a, path) == ARCHIVE_OK);
	archive_entry_set_size(e, 7);
	CHECK(archive_write_header(a, e) == ARCHIVE_OK);
	CHECK(archive_write_data(a, "puzzle\n", 7) == 7);
	archive_entry_free(e);
	archive_write_close(a);
	archive_write_free(a);
}

static void test_config(void)
{
	char dir[] = "/tmp/pfs-test-import-XXXXXX", tar[300], oci[300],
	     src[300];
	struct pfs_import_opts io = { .log = &logger };
	struct pfs_build_opts bo = { .log = &logger };
	uint8_t v[PFS_DIGEST_SIZE];
	json_t *c, *ids;
	char *config;
	size_t len;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(tar, sizeof(tar), "%s/layer.tar", dir);
	snprintf(oci, sizeof(oci), "%s/oci", dir);
	snprintf(src, sizeof(src), "%s/src", dir);
	write_tar(tar);
	CHECK(pfs_import(tar, oci, "imported", &io, v) == 0);
	CHECK(pfs_image_config(oci, "imported", &logger, &config, &len) == 0);
	c = config ? json_loadb(config, len, 0, NULL) : NULL;
	CHECK(c && !strcmp(json_string_value(json_object_get(c, "os")), "linux"));
	ids = json_object_get(json_object_get(c, "rootfs"), "diff_ids");
	CHECK(json_array_size(ids) == 1);
	CHECK(config && strlen(config) == len);
	json_decref(c);
	free(config);
	/* A build has the empty config: none to give. */
	CHECK(mkdir(src, 0755) == 0);
	CHECK(pfs_build(src, oci, "built", &bo, v) == 0);
	CHECK(pfs_image_config(oci, "built", &logger, &config, &len) == 0);
	CHECK(config == NULL && len == 0);
	CHECK(pfs_image_config(oci, "nope", &logger, &config, &len) < 0);
	snprintf(src, sizeof(src), "rm -rf '%s'", dir);
	CHECK(system(src) == 0);
}

int main(void)
{
	test_semantics();
	test_config();
	return check_done("test_import");
}
