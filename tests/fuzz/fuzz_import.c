// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the import's own logic (lib/import/tree.c, number.c)
 * on tar layers read from memory by libarchive.  The input is up to four
 * tar layers separated by the line "PFSLAYR\n".  They are applied in order
 * twice: once making a puzzlefs layer after each (the deltas import
 * writes), once making one layer at the end (--flatten).  Whatever the
 * bytes: no crash, leak or undefined behaviour; an error has a message;
 * and if every entry applied, both rootfs messages open and walk cleanly
 * with core/ and show the same tree.
 */
#include <archive.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../unit/exercise.h"
#include "import/layer.h"
#include "import/tree.h"

#define SEP "PFSLAYR\n"
#define MAX_LAYERS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count(void *arg, int level, const char *msg)
{
	(void)level;
	if (!*msg)
		abort();
	++*(int *)arg;
}

struct piece {
	const uint8_t *p;
	size_t n;
};

/* Apply one layer's entries; 0, or an error (with a message). */
static int apply(struct pfs_itree *t, uint32_t layer, struct piece in,
		 uint8_t *scratch, size_t scratch_len)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	struct pfs_tnode *file;
	int r, e = 0;

	if (!a)
		return -ENOMEM;
	if (pfs_tar_formats(a) ||
	    archive_read_open_memory(a, in.p, in.n) != ARCHIVE_OK) {
		archive_read_free(a);
		return -EINVAL;
	}
	while (!e && (r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		e = pfs_itree_apply(t, layer, "layer", ae, &file);
		/* The data as import reads it; its bytes go nowhere. */
		while (!e && file && archive_read_data(a, scratch, scratch_len) > 0)
			;
	}
	if (!e && r != ARCHIVE_EOF)
		e = -EINVAL;
	archive_read_free(a);
	return e;
}

/* A canonical listing of the tree under @ino (no inode numbers: the two
 * numberings differ). */
static void list(const struct pfs_rootfs *r, u64 ino, int depth,
		 struct pfs_buf *out)
{
	struct pfs_inode dir, child;
	struct pfs_dirent de;
	struct pfs_cur c;
	u64 pos = 0;
	char line[64];
	u32 i;

	pfs_cur_init(&c, &r->msg);
	if (depth > 40 || pfs_inode_get(&c, r, ino, &dir) ||
	    dir.kind != PFS_KIND_DIR)
		return;
	for (i = 0; i < 5000; i++) {
		pfs_cur_init(&c, &r->msg);
		if (pfs_dir_next(&c, r, &dir, NULL, &pos, &de, &child) <= 0)
			break;
		snprintf(line, sizeof(line), "%d %u %o %u %u %u\n", depth,
			 child.kind, child.perm, child.uid, child.gid,
			 child.kind == PFS_KIND_LNK ? child.target_len : 0);
		pfs_buf_add(out, de.name, de.name_len);
		pfs_buf_add(out, line, strlen(line));
		if (child.kind == PFS_KIND_DIR)
			list(r, child.ino, depth + 1, out);
	}
}

static int open_rootfs(const struct pfs_buf *b, struct pfs_rootfs *r,
		       u64 **seg, struct pfs_layer **layers)
{
	u32 nseg;

	memset(r, 0, sizeof(*r));
	r->report = quiet;
	if (pfs_rootfs_probe(b->data, b->len, &nseg))
		return -1;
	*seg = calloc(nseg + 1, sizeof(**seg));
	if (!*seg || pfs_rootfs_init(r, b->data, b->len, *seg, nseg))
		return -1;
	*layers = calloc(r->nlayers + 1, sizeof(**layers));
	return *layers && !pfs_rootfs_init_layers(r, *layers) ? 0 : -1;
}

static void walk(const struct pfs_buf *msg, struct pfs_buf *listing)
{
	struct pfs_layer *layers = NULL;
	struct pfs_rootfs r;
	u64 *seg = NULL;

	/* What the writer made must open and walk. */
	if (exercise_rootfs(msg->data, msg->len) ||
	    open_rootfs(msg, &r, &seg, &layers))
		abort();
	list(&r, PFS_ROOT_INO, 0, listing);
	free(seg);
	free(layers);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static locale_t utf8;
	struct piece pieces[MAX_LAYERS];
	struct pfs_mlayer stack[MAX_LAYERS], flat = { 0 }, top[MAX_LAYERS];
	struct pfs_itree *t = NULL, *u = NULL;
	struct pfs_buf a = { 0 }, b = { 0 }, la = { 0 }, lb = { 0 };
	int msgs = 0, e = 0;
	struct pfs_log log = { count, &msgs };
	struct pfs_itree_opts o = { .log = &log, .max_entries = 20000 };
	uint8_t scratch[4096];
	size_t n = 0, i;
	const uint8_t *p = data, *end = data + size;

	if (!utf8 && (utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0)))
		uselocale(utf8);
	while (n < MAX_LAYERS) {
		const uint8_t *s = memmem(p, (size_t)(end - p), SEP, strlen(SEP));

		pieces[n].p = p;
		pieces[n++].n = s ? (size_t)(s - p) : (size_t)(end - p);
		if (!s)
			break;
		p = s + strlen(SEP);
	}
	memset(stack, 0, sizeof(stack));
	if (pfs_itree_new(&o, &t) || pfs_itree_new(&o, &u))
		abort();
	for (i = 0; i < n && !e; i++) {
		msgs = 0;
		e = apply(t, (uint32_t)i, pieces[i], scratch, sizeof(scratch));
		if (e == -EINVAL && !msgs)
			break;		/* libarchive's own refusal */
		if (e && !msgs)
			abort();	/* an error says why */
		if (!e)
			e = pfs_itree_layer(t, stack, i, &stack[i]);
		if (!e)
			e = apply(u, (uint32_t)i, pieces[i], scratch,
				  sizeof(scratch));
		if (e)
			break;
	}
	if (!e && i == n) {
		if (pfs_itree_layer(u, NULL, 0, &flat))
			abort();
		for (i = 0; i < n; i++)
			top[i] = stack[n - 1 - i];
		if (pfs_rootfs_encode(top, n, NULL, 0, &a) ||
		    pfs_rootfs_encode(&flat, 1, NULL, 0, &b))
			abort();
		walk(&a, &la);
		walk(&b, &lb);
		/* The deltas and the flat layer show the same tree. */
		if (la.len != lb.len || (la.len && memcmp(la.data, lb.data, la.len)))
			abort();
	}
	for (i = 0; i < MAX_LAYERS; i++)
		pfs_mlayer_free(&stack[i]);
	pfs_mlayer_free(&flat);
	pfs_buf_free(&a);
	pfs_buf_free(&b);
	pfs_buf_free(&la);
	pfs_buf_free(&lb);
	pfs_itree_free(t);
	pfs_itree_free(u);
	return 0;
}
