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
#include "fuzz_ocidir.h"

#define STEPS 20000		/* entries visited at most per input */
#define DUMP_MAX 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

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
	struct pfs_log log = { fuzz_quiet, NULL };
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
		fuzz_oci_dir(dir, "tree");
	fuzz_put_blob(dir, data, size, rootfs);
	n = snprintf(json, sizeof(json),
		     "{\"config\":{\"digest\":\"sha256:" PFS_EMPTY_DIGEST "\","
		     "\"mediaType\":\"" PFS_MEDIA_EMPTY "\",\"size\":2},"
		     "\"layers\":[{\"digest\":\"sha256:%s\",\"mediaType\":\""
		     PFS_MEDIA_ROOTFS "\",\"size\":%zu}],\"schemaVersion\":2}",
		     rootfs, size);
	fuzz_put_blob(dir, json, (size_t)n, man);
	n = snprintf(json, sizeof(json),
		     "{\"manifests\":[{\"annotations\":{\"" PFS_ANNOT_REFNAME
		     "\":\"t\"},\"digest\":\"sha256:%s\",\"mediaType\":\""
		     PFS_MEDIA_MANIFEST "\",\"size\":%d}],\"schemaVersion\":2}",
		     man, n);
	fuzz_put(dir, "index.json", json, (size_t)n);
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
	fuzz_drop_blob(dir, rootfs);
	fuzz_drop_blob(dir, man);
	return 0;
}
