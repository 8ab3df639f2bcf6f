// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the bytes as the rootfs blob of an image, opened by
 * the library from a real OCI directory (the blob under its sha256, a
 * manifest and index.json naming it), then everything that walks a tree:
 * the census and its check of the tree's shape (pfs_image_check), the
 * tools' walk (lib/read/tree.c) with every entry's attributes, link,
 * xattrs and data, the expanded size, statfs and dump.  No crash, no
 * hang; and when the census finds the tree well formed, the walk never
 * meets a directory twice or too deep.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../core/puzzlefs_fs.h"
#include "read/tree.h"
#include "tools/dump.h"
#include "util.h"

#define STEPS 20000		/* entries visited at most per input */
#define DUMP_MAX 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void quiet(void *arg, int level, const char *msg)
{
	(void)arg;
	(void)level;
	if (!*msg)
		abort();		/* a message says what is wrong */
}

static void put(const char *name, const void *p, size_t n)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || pfs_write_full(fd, p, n))
		abort();
	close(fd);
}

static void drop_blob(const char *hex)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, hex);
	unlink(path);
}

/* Store @p as a blob: its name in @hex. */
static void put_blob(const void *p, size_t n, char *hex)
{
	uint8_t d[PFS_DIGEST_SIZE];
	char name[128];

	pfs_sha256(p, n, d);
	pfs_hex(d, PFS_DIGEST_SIZE, hex);
	snprintf(name, sizeof(name), "blobs/sha256/%s", hex);
	put(name, p, n);
}

static void setup(void)
{
	char path[128];

	snprintf(dir, sizeof(dir), "%s", "/dev/shm/pfs-fuzz-tree-XXXXXX");
	if (!mkdtemp(dir)) {
		snprintf(dir, sizeof(dir), "%s", "/tmp/pfs-fuzz-tree-XXXXXX");
		if (!mkdtemp(dir))
			abort();
	}
	snprintf(path, sizeof(path), "%s/blobs", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	mkdir(path, 0755);
	put("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
}

static void walk(struct pfs_image *img, bool shape_ok)
{
	struct pfs_tree t;
	struct pfs_attr a;
	char buf[4096];
	unsigned steps = 0;
	int e;

	if (pfs_tree_init(&t, img, PFS_ROOT_INO, "/"))
		return;
	while (steps++ < STEPS && (e = pfs_tree_next(&t)) != PFS_TREE_END) {
		if (e != PFS_TREE_ENTRY)
			continue;
		if (t.depth > PFS_MAX_DEPTH + 1)
			abort();
		if (pfs_getattr(img, t.ent.ino, &a))
			continue;
		if (S_ISDIR(a.mode)) {
			e = pfs_tree_enter(&t);
			if (e == -ELOOP && shape_ok)
				abort();	/* the census let it through */
		} else if (S_ISREG(a.mode)) {
			pfs_read(img, a.ino, buf, sizeof(buf), 0);
		} else if (S_ISLNK(a.mode)) {
			pfs_readlink(img, a.ino, buf, sizeof(buf));
		}
		pfs_listxattr(img, a.ino, buf, sizeof(buf));
	}
	pfs_tree_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pfs_log log = { quiet, NULL };
	struct pfs_image_opts io = { .log = &log, .readahead = -1,
				     .cache_bytes = 1 << 20 };
	char rootfs[65], man[65], json[1024];
	struct pfs_tree_size ts;
	struct pfs_statfs st;
	struct pfs_image *img;
	bool shape_ok;
	json_t *j;
	int n;

	if (!dir[0])
		setup();
	put_blob(data, size, rootfs);
	n = snprintf(json, sizeof(json),
		     "{\"config\":{\"digest\":\"sha256:" PFS_EMPTY_DIGEST "\","
		     "\"mediaType\":\"" PFS_MEDIA_EMPTY "\",\"size\":2},"
		     "\"layers\":[{\"digest\":\"sha256:%s\",\"mediaType\":\""
		     PFS_MEDIA_ROOTFS "\",\"size\":%zu}],\"schemaVersion\":2}",
		     rootfs, size);
	put_blob(json, (size_t)n, man);
	n = snprintf(json, sizeof(json),
		     "{\"manifests\":[{\"annotations\":{\"" PFS_ANNOT_REFNAME
		     "\":\"t\"},\"digest\":\"sha256:%s\",\"mediaType\":\""
		     PFS_MEDIA_MANIFEST "\",\"size\":%d}],\"schemaVersion\":2}",
		     man, n);
	put("index.json", json, (size_t)n);
	if (pfs_image_open(dir, "t", &io, &img) == 0) {
		shape_ok = pfs_image_check(img) == 0;
		walk(img, shape_ok);
		if (shape_ok && pfs_tree_size(img, PFS_ROOT_INO, &ts) == -ELOOP)
			abort();
		pfs_statfs(img, &st);
		/* dump is layer by layer, no walk: small inputs do. */
		if (size < DUMP_MAX) {
			j = pfs_image_dump(img);
			json_decref(j);
		}
		pfs_image_close(img);
	}
	drop_blob(rootfs);
	drop_blob(man);
	return 0;
}
