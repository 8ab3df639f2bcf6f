// SPDX-License-Identifier: MIT
/* The walk of an image's tree the tools share; see tree.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "read/tree.h"

static int path_reserve(struct pfs_tree *t, size_t len)
{
	size_t cap;
	char *p;

	if (len + 1 <= t->path_cap)
		return 0;
	cap = (len + 1) * 2;
	p = realloc(t->path, cap);
	if (!p)
		return -ENOMEM;
	t->path = p;
	t->path_cap = cap;
	return 0;
}

/* Directory @ino at path t->path (t->path_len long) becomes the current. */
static int push(struct pfs_tree *t, uint64_t ino)
{
	struct pfs_tree_dir *d;

	if (t->depth == t->cap) {
		unsigned cap = t->cap ? 2 * t->cap : 64;

		d = realloc(t->dirs, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		t->dirs = d;
		t->cap = cap;
	}
	if (pfs_u64map_put(&t->entered, ino, 1))
		return -ENOMEM;
	d = &t->dirs[t->depth++];
	d->ino = ino;
	d->pos = 0;
	d->path_len = t->path_len;
	return 0;
}

int pfs_tree_init(struct pfs_tree *t, struct pfs_image *img, uint64_t dir,
		  const char *path)
{
	size_t len = strlen(path);

	memset(t, 0, sizeof(*t));
	t->img = img;
	if (path_reserve(t, len))
		return -ENOMEM;
	memcpy(t->path, path, len + 1);
	t->path_len = len;
	return push(t, dir);
}

void pfs_tree_free(struct pfs_tree *t)
{
	free(t->dirs);
	free(t->path);
	pfs_u64map_free(&t->entered);
	memset(t, 0, sizeof(*t));
}

int pfs_tree_next(struct pfs_tree *t)
{
	struct pfs_tree_dir *d;
	size_t at;
	int e;

	if (t->left) {
		t->left = false;
		t->depth--;
	}
	if (!t->depth)
		return PFS_TREE_END;
	d = &t->dirs[t->depth - 1];
	t->path_len = d->path_len;
	t->path[t->path_len] = 0;
	e = pfs_readdir(t->img, d->ino, &d->pos, &t->ent);
	if (e <= 0) {
		/* An unreadable directory ends here: it is left next. */
		t->left = true;
		return e ? e : PFS_TREE_LEAVE;
	}
	at = d->path_len;
	if (at && t->path[at - 1] != '/')
		at++;
	if (path_reserve(t, at + t->ent.name_len))
		return -ENOMEM;
	if (at != d->path_len)
		t->path[d->path_len] = '/';
	memcpy(t->path + at, t->ent.name, t->ent.name_len);
	t->path_len = at + t->ent.name_len;
	t->path[t->path_len] = 0;
	return PFS_TREE_ENTRY;
}

int pfs_tree_enter(struct pfs_tree *t)
{
	if (pfs_u64map_get(&t->entered, t->ent.ino)) {
		t->why = "directory linked twice in the image";
		return -ELOOP;
	}
	if (t->depth > PFS_MAX_DEPTH) {
		t->why = "directory tree deeper than 4096 levels";
		return -ELOOP;
	}
	return push(t, t->ent.ino);
}

int pfs_tree_size(struct pfs_image *img, uint64_t dir,
		  struct pfs_tree_size *out)
{
	struct pfs_u64map files = { 0 };
	struct pfs_cinode ci;
	struct pfs_tree t;
	int e;

	memset(out, 0, sizeof(*out));
	e = pfs_tree_init(&t, img, dir, "");
	while (!e && (e = pfs_tree_next(&t)) > 0) {
		if (e == PFS_TREE_LEAVE) {
			e = 0;
			continue;
		}
		out->entries++;
		e = 0;
		if (S_ISDIR(t.ent.type)) {
			e = pfs_tree_enter(&t);
			if (e == -ELOOP)
				pfs_errf(&img->log, ELOOP, "%s:%s: /%s: %s",
					 img->oci->path, img->tag, t.path,
					 t.why);
		} else if (S_ISREG(t.ent.type) &&
			   !pfs_u64map_get(&files, t.ent.ino)) {
			e = pfs_u64map_put(&files, t.ent.ino, 1);
			if (!e)
				e = pfs_image_inode(img, t.ent.ino, &ci);
			if (!e && ci.in.kind == PFS_KIND_FILE) {
				out->files++;
				out->bytes += ci.size;
			}
		}
	}
	pfs_u64map_free(&files);
	pfs_tree_free(&t);
	return e;
}
