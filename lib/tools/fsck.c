// SPDX-License-Identifier: MIT
/*
 * fsck: check what a reader relies on, and report every problem (not just
 * the first).  For a tag: the manifest, the rootfs and its fs-verity
 * annotation, every chunk layer, every inode of every layer, the visible
 * tree (every file read in full, which checks each blob's sha256, seek
 * table and frames), and fsVerityData against the blobs.  For a whole
 * directory: every tag, and every blob file against its name.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "read/tree.h"

struct fsck {
	const struct pfs_log *log;	/* the caller's */
	struct pfs_log counting;	/* counts errors, then forwards */
	int problems;
	const char *dir, *tag;
	uint8_t *buf;
	uint8_t *listed;		/* the tag's chunk layers, sorted */
	struct pfs_u64map reported;	/* chunks already reported */
};

static void count(void *arg, int level, const char *msg)
{
	struct fsck *f = arg;

	if (level == PFS_LOG_ERR)
		f->problems++;
	if (f->log && f->log->fn)
		f->log->fn(f->log->arg, level, msg);
}

#define problem(f, ...) pfs_logf(&(f)->counting, PFS_LOG_ERR, __VA_ARGS__)

static int digest_cmp(const void *a, const void *b)
{
	return memcmp(a, b, PFS_DIGEST_SIZE);
}

/* A chunk a file uses must be in fsVerityData (or verity mounts fail on
 * it) and in the manifest's layers (or copies of the image lack it). */
static void check_chunk(struct fsck *f, struct pfs_image *img,
			const struct pfs_chunk *ch)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];
	struct pfs_cur c;
	uint64_t key;
	const u8 *v;
	bool in_verity, in_layers;

	memcpy(&key, ch->digest, sizeof(key));
	if (!key || pfs_u64map_get(&f->reported, key))
		return;
	pfs_cur_init(&c, &img->rfs.msg);
	in_verity = pfs_verity_find(&c, &img->rfs, ch->digest, &v) == 0;
	in_layers = bsearch(ch->digest, f->listed, img->manifest.nchunks,
			    PFS_DIGEST_SIZE, digest_cmp) != NULL;
	if (in_verity && in_layers)
		return;
	pfs_u64map_put(&f->reported, key, 1);
	pfs_hex(ch->digest, PFS_DIGEST_SIZE, hex);
	if (!in_verity)
		problem(f, "%s:%s: chunk %s has no fsVerityData entry", f->dir,
			f->tag, hex);
	if (!in_layers)
		problem(f, "%s:%s: chunk %s is not a layer of the manifest",
			f->dir, f->tag, hex);
}

static int dirent_cmp(const void *a, const void *b)
{
	const struct pfs_dirent *x = a, *y = b;

	return pfs_name_cmp(x->name, x->name_len, y->name, y->name_len);
}

/* A name may appear once in a directory (lists may be unsorted: the
 * reference puts whiteouts first). */
static void check_names(struct fsck *f, struct pfs_cur *c,
			const struct pfs_rootfs *r, const struct pfs_inode *dir,
			u32 layer)
{
	struct pfs_dirent *v = calloc(dir->list.count + 1, sizeof(*v));
	u32 i, n = 0;

	if (!v)
		return;
	for (i = 0; i < dir->list.count; i++)
		if (pfs_dirent_at(c, r, dir, i, &v[n]) == 0)
			n++;
	qsort(v, n, sizeof(*v), dirent_cmp);
	for (i = 1; i < n; i++)
		if (!dirent_cmp(&v[i - 1], &v[i]))
			problem(f, "%s:%s: layer %u: directory %llu: name '%.*s' "
				"appears twice", f->dir, f->tag, layer,
				(unsigned long long)dir->ino, (int)v[i].name_len,
				v[i].name);
	free(v);
}

static void check_layers(struct fsck *f, struct pfs_image *img)
{
	const struct pfs_rootfs *r = &img->rfs;
	struct pfs_inode in;
	struct pfs_xattr x;
	struct pfs_chunk ch;
	struct pfs_cur c;
	u32 l, i, j;
	u64 size;

	for (l = 0; l < r->nlayers; l++) {
		for (i = 0; i < r->layers[l].inodes.count; i++) {
			pfs_cur_init(&c, &r->msg);
			/* Decoding reports what is wrong through the log. */
			if (pfs_layer_inode(&c, r, l, i, &in))
				continue;
			if (in.kind == PFS_KIND_DIR)
				check_names(f, &c, r, &in, l);
			for (j = 0; in.kind == PFS_KIND_FILE && j < in.list.count; j++)
				pfs_file_chunk(&c, r, &in, j, &ch);
			for (j = 0; j < in.xattrs.count; j++)
				pfs_xattr_at(&c, r, &in, j, &x);
			pfs_file_size(&c, r, &in, &size);
			if (in.kind == PFS_KIND_LNK && !in.target)
				problem(f, "%s:%s: layer %u: symlink %llu has no target",
					f->dir, f->tag, l, (unsigned long long)in.ino);
		}
	}
}

/* The chunks of a file the tree reaches (inodes of lower layers that
 * nothing reaches any more need not be in the image: a reference delta
 * lists only the chunks of its own build). */
static void check_file_chunks(struct fsck *f, struct pfs_image *img,
			      uint64_t ino)
{
	struct pfs_cinode ci;
	struct pfs_chunk ch;
	struct pfs_cur c;
	u32 j;

	if (pfs_image_inode(img, ino, &ci))
		return;
	pfs_cur_init(&c, &img->rfs.msg);
	for (j = 0; j < ci.in.list.count; j++)
		if (pfs_file_chunk(&c, &img->rfs, &ci.in, j, &ch) == 0)
			check_chunk(f, img, &ch);
}

/* Read a file in full (which checks its blobs); a problem if it fails. */
static void check_file(struct fsck *f, struct pfs_image *img,
		       const struct pfs_tree *t, const struct pfs_attr *a)
{
	uint64_t off = 0;
	ssize_t n = 0;

	check_file_chunks(f, img, a->ino);
	while (off < a->size &&
	       (n = pfs_read(img, a->ino, f->buf, 1 << 20, off)) > 0)
		off += (uint64_t)n;
	if (off < a->size)
		problem(f, "%s:%s: inode %llu (/%s): unreadable: %s", f->dir,
			f->tag, (unsigned long long)a->ino, t->path,
			n < 0 ? strerror((int)-n) : "short");
}

/* Walk the visible tree; read every file in full.  A directory named
 * twice or too deep is a problem pfs_image_check reported (@shape_ok
 * false); the walk does not enter it again. */
static void check_tree(struct fsck *f, struct pfs_image *img, bool shape_ok)
{
	struct pfs_u64map seen = { 0 };
	struct pfs_tree t;
	struct pfs_attr a;
	int e;

	e = pfs_tree_init(&t, img, PFS_ROOT_INO, "");
	while (!e && (e = pfs_tree_next(&t)) != PFS_TREE_END) {
		if (e < 0) {
			problem(f, "%s:%s: directory /%s: %s", f->dir, f->tag,
				t.path, strerror(-e));
			e = e == -ENOMEM ? e : 0;
			continue;
		}
		if (e == PFS_TREE_LEAVE) {
			e = 0;
			continue;
		}
		e = 0;
		if (pfs_getattr(img, t.ent.ino, &a))
			continue;
		if (S_ISDIR(a.mode)) {
			e = pfs_tree_enter(&t);
			if (e == -ELOOP && shape_ok)
				problem(f, "%s:%s: /%s: %s", f->dir, f->tag,
					t.path, t.why);
			e = e == -ELOOP ? 0 : e;
		} else if (S_ISREG(a.mode) && !pfs_u64map_get(&seen, a.ino)) {
			e = pfs_u64map_put(&seen, a.ino, 1);
			check_file(f, img, &t, &a);
		}
	}
	if (e == -ENOMEM)
		problem(f, "%s:%s: out of memory", f->dir, f->tag);
	pfs_tree_free(&t);
	pfs_u64map_free(&seen);
}

/* Chunk layers of the manifest, and fsVerityData against the blobs. */
static void check_blobs(struct fsck *f, struct pfs_image *img)
{
	const struct pfs_rootfs *r = &img->rfs;
	char hex[2 * PFS_DIGEST_SIZE + 1];
	uint8_t got[PFS_DIGEST_SIZE];
	struct pfs_cur c;
	uint8_t *data;
	size_t i, len;

	for (i = 0; i < img->manifest.nchunks; i++) {
		const struct pfs_desc *d = &img->manifest.chunks[i];

		if (pfs_oci_blob_read(img->oci, d->digest, d->size, 1u << 30,
				      NULL, &data, &len, NULL) == 0)
			free(data);
	}
	for (i = 0; i < r->verity.count; i++) {
		const u8 *d, *v;

		pfs_cur_init(&c, &r->msg);
		if (pfs_verity_at(&c, r, (u32)i, &d, &v))
			continue;
		pfs_hex(d, PFS_DIGEST_SIZE, hex);
		if (pfs_oci_blob_read(img->oci, d, UINT64_MAX, 1u << 30, NULL,
				      &data, &len, NULL))
			continue;
		if (pfs_verity_digest(data, len, got)) {
			free(data);
			problem(f, "%s:%s: blob %s: out of memory", f->dir,
				f->tag, hex);
			continue;
		}
		free(data);
		if (memcmp(got, v, PFS_DIGEST_SIZE))
			problem(f, "%s:%s: fsVerityData of blob %s does not match "
				"the blob (enable-fs-verity would fail)",
				f->dir, f->tag, hex);
	}
}

static void check_tag(struct fsck *f, struct pfs_oci *oci, const char *tag)
{
	struct pfs_image_opts io = { .log = &f->counting };
	struct pfs_image *img;
	uint8_t got[PFS_DIGEST_SIZE];
	size_t i;

	f->tag = tag;
	if (pfs_image_open_oci(oci, tag, &io, &img))
		return;
	if (pfs_image_chunk_layers(img)) {
		pfs_image_close(img);
		return;
	}
	f->listed = malloc(img->manifest.nchunks * PFS_DIGEST_SIZE + 1);
	if (!f->listed) {
		pfs_image_close(img);
		problem(f, "%s:%s: out of memory", f->dir, tag);
		return;
	}
	for (i = 0; i < img->manifest.nchunks; i++)
		memcpy(f->listed + i * PFS_DIGEST_SIZE,
		       img->manifest.chunks[i].digest, PFS_DIGEST_SIZE);
	qsort(f->listed, img->manifest.nchunks, PFS_DIGEST_SIZE, digest_cmp);
	if (!img->manifest.has_verity) {
		problem(f, "%s:%s: rootfs layer has no fs-verity annotation",
			f->dir, tag);
	} else if (pfs_verity_digest(img->rootfs_buf, img->rootfs_len, got)) {
		problem(f, "%s:%s: rootfs: out of memory", f->dir, tag);
	} else if (memcmp(got, img->manifest.rootfs_verity, PFS_DIGEST_SIZE)) {
		problem(f, "%s:%s: rootfs fs-verity annotation does not "
			"match the rootfs", f->dir, tag);
	}
	/* An import's runtime config (the empty one may be absent: the
	 * reference's readers never open it). */
	if (img->manifest.has_config) {
		uint8_t empty[PFS_DIGEST_SIZE];
		int r = pfs_oci_blob_check(oci, img->manifest.config.digest);

		pfs_unhex(PFS_EMPTY_DIGEST, empty, PFS_DIGEST_SIZE);
		if (r < 0 || (r == 0 && memcmp(empty, img->manifest.config.digest,
					       PFS_DIGEST_SIZE)))
			problem(f, "%s:%s: the image config blob is %s", f->dir,
				tag, r < 0 ? "damaged" : "missing");
	}
	check_layers(f, img);
	check_blobs(f, img);
	check_tree(f, img, pfs_image_check(img) == 0);
	pfs_u64map_free(&f->reported);
	free(f->listed);
	f->listed = NULL;
	pfs_image_close(img);
}

/* Every file in blobs/sha256 must hold what its name says. */
static void check_store(struct fsck *f, struct pfs_oci *oci)
{
	uint8_t digest[PFS_DIGEST_SIZE], *data;
	DIR *dir = pfs_opendir_at(oci->blobs_fd);
	struct dirent *d;
	size_t len;

	if (!dir) {
		problem(f, "%s: blobs/sha256: %s", f->dir, strerror(errno));
		return;
	}
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		if (pfs_unhex(d->d_name, digest, PFS_DIGEST_SIZE)) {
			pfs_logf(f->log, PFS_LOG_WARN,
				 "%s: blobs/sha256/%s: not a blob name", f->dir,
				 d->d_name);
			continue;
		}
		if (pfs_oci_blob_read(oci, digest, UINT64_MAX, SIZE_MAX >> 1,
				      NULL, &data, &len, NULL) == 0)
			free(data);
	}
	closedir(dir);
}

int pfs_fsck(const char *oci_dir, const char *tag, const struct pfs_log *log)
{
	struct fsck f = { .log = log, .dir = oci_dir };
	struct pfs_oci *oci;
	char **tags;
	size_t n, i;

	f.counting.fn = count;
	f.counting.arg = &f;
	f.buf = malloc(1 << 20);
	if (!f.buf)
		return -ENOMEM;
	if (pfs_oci_open(oci_dir, false, &f.counting, &oci)) {
		free(f.buf);
		return f.problems ? f.problems : 1;
	}
	if (tag) {
		check_tag(&f, oci, tag);
	} else if (pfs_list_tags(oci_dir, &f.counting, &tags, &n) == 0) {
		for (i = 0; i < n; i++)
			check_tag(&f, oci, tags[i]);
		pfs_tags_free(tags, n);
		check_store(&f, oci);
	}
	pfs_oci_close(oci);
	free(f.buf);
	return f.problems;
}
