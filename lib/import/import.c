// SPDX-License-Identifier: MIT
/*
 * pfs_import: tar layers in, a puzzlefs image out, in one streaming pass
 * per layer and without extracting anything.
 *
 * Each layer is read in tar order (layer.c), its entries applied to the
 * import tree (tree.c), and each new regular file's data streamed into
 * the builder as it arrives: chunks follow tar order, not inode order.
 * At the end of a layer the stream is cut (so a layer's chunks depend on
 * that layer alone and images that share a base layer share its chunk
 * blobs), its digests are checked, and its puzzlefs layer is made from the
 * tree (number.c): the first one as `build` numbers a tree, the next ones
 * as deltas on the layers made so far, as `build -b` makes them.  So the
 * bottom layer's InodeVector depends on the bottom tar layer only.
 *
 * --flatten reads the headers of every layer first (checking digests) to
 * know the final tree, then streams only the data of the files that are
 * in it, and writes one layer numbered as `build` numbers that tree.
 */
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/puzzlefs_fs.h"
#include "import/layer.h"
#include "import/source.h"
#include "import/tree.h"
#include "store/oci.h"

#define MAX_BYTES (256ull << 30)
#define KEEP_MAX (8u << 20)

struct importer {
	const struct pfs_import_opts *o;
	const struct pfs_log *log;
	const char *source;
	struct pfs_src *src;
	struct pfs_builder *b;
	struct pfs_itree *t;
	struct pfs_mlayer *layers;	/* bottom first */
	size_t nlayers;
	uint64_t max_bytes, entries;
	uint64_t used;			/* tar bytes read in this pass */
	struct pfs_buf keep;		/* same_as_below's file */
};

/* Feed @len bytes of @buf to the stream as file @n's contents. */
static int feed(struct importer *im, struct pfs_tnode *n, const uint8_t *buf,
		size_t len)
{
	size_t done = 0;
	int e;

	e = pfs_build_file_begin(im->b, &n->bn);
	while (!e && done < len) {
		size_t room;
		uint8_t *p = pfs_build_space(im->b, &room);

		if (!p)
			return -ENOMEM;
		if (room > len - done)
			room = len - done;
		memcpy(p, buf + done, room);
		e = pfs_build_commit(im->b, room);
		pfs_build_progress(im->b, room);
		done += room;
	}
	return e ? e : pfs_build_file_end(im->b, &n->bn);
}

static int short_data(struct importer *im, struct pfs_tnode *n,
		      struct archive_entry *ae, uint64_t got)
{
	return pfs_errf(im->log, EIO, "%s: entry '%s': %llu of %llu bytes",
			im->src->layers[n->src_layer].name,
			archive_entry_pathname(ae), (unsigned long long)got,
			(unsigned long long)n->size);
}

/*
 * A layer that restates a file of a lower layer (a chmod, a chown, a new
 * hard link: the tar carries the whole file again) often carries the same
 * bytes.  As build -b does, such a file keeps its chunks (and, with the
 * same metadata, is no change at all): files up to KEEP_MAX are read
 * whole and compared with the lower file's chunks before they go to the
 * stream.  1 kept, 0 streamed.
 */
static int same_as_below(struct importer *im, struct pfs_layer *l,
			 struct pfs_tnode *n, struct archive_entry *ae)
{
	struct pfs_tnode *old = n->replaced;
	uint64_t got = 0;
	ssize_t r;
	int e;

	if (pfs_buf_reserve(&im->keep, (size_t)n->size + 1))
		return -ENOMEM;
	while (got < n->size) {
		r = pfs_layer_data(l, im->keep.data + got,
				   (size_t)(n->size - got));
		if (r < 0)
			return (int)r;
		if (r == 0)
			return short_data(im, n, ae, got);
		got += (uint64_t)r;
	}
	if (pfs_build_same_data(im->b, &old->bn.m, im->keep.data, n->size)) {
		struct pfs_mchunk *c = NULL;

		if (old->bn.m.nchunks) {
			c = malloc(old->bn.m.nchunks * sizeof(*c));
			if (!c)
				return -ENOMEM;
			memcpy(c, old->bn.m.chunks, old->bn.m.nchunks * sizeof(*c));
		}
		free(n->bn.m.chunks);
		n->bn.m.chunks = c;
		n->bn.m.nchunks = n->bn.m.chunks_cap = old->bn.m.nchunks;
		return 1;
	}
	e = feed(im, n, im->keep.data, (size_t)n->size);
	return e ? e : 0;
}

static int read_data(struct importer *im, struct pfs_layer *l,
		     struct pfs_tnode *n, struct archive_entry *ae)
{
	struct pfs_tnode *old = n->replaced;
	uint64_t got = 0;
	int e;

	/* Only a lower layer's file has its chunks (a file of this layer
	 * gets them at the cut). */
	if (old && old->src_layer < n->src_layer && old->size == n->size &&
	    n->size && n->size <= KEEP_MAX && !im->o->flatten) {
		e = same_as_below(im, l, n, ae);
		return e < 0 ? e : 0;
	}
	e = pfs_build_file_begin(im->b, &n->bn);
	while (!e && got < n->size) {
		size_t room;
		uint8_t *p = pfs_build_space(im->b, &room);
		ssize_t r;

		if (!p)
			return -ENOMEM;
		if (room > n->size - got)
			room = (size_t)(n->size - got);
		r = pfs_layer_data(l, p, room);
		if (r < 0)
			return (int)r;
		if (r == 0)
			break;
		e = pfs_build_commit(im->b, (size_t)r);
		pfs_build_progress(im->b, (uint64_t)r);
		got += (uint64_t)r;
	}
	if (!e && got != n->size)
		e = short_data(im, n, ae, got);
	return e ? e : pfs_build_file_end(im->b, &n->bn);
}

static int open_layer(struct importer *im, size_t i, struct pfs_layer **l)
{
	struct pfs_stream *in;
	int e = im->src->ops->open_layer(im->src, i, &in);

	/* The bound is on all layers: a bomb split in many layers is one. */
	return e ? e : pfs_layer_open(&im->src->layers[i], in,
				      im->max_bytes - im->used, im->log, l);
}

static void close_layer(struct importer *im, struct pfs_layer *l)
{
	im->used += pfs_layer_bytes(l);
	pfs_layer_close(l);
}

/* After a cut: the nodes streamed since get their FileChunks. */
static int resolve_fresh(struct importer *im)
{
	size_t n, i;
	struct pfs_tnode **v = pfs_itree_fresh(im->t, &n);
	int e = 0;

	for (i = 0; i < n && !e; i++) {
		e = pfs_build_resolve(im->b, &v[i]->bn);
		free(v[i]->bn.pieces);
		v[i]->bn.pieces = NULL;
		v[i]->bn.npieces = v[i]->bn.pieces_cap = 0;
	}
	return e;
}

/* Layer @i, with the data of its files (@data) or only its headers. */
static int apply_layer(struct importer *im, size_t i, bool data)
{
	const char *name = im->src->layers[i].name;
	struct archive_entry *ae;
	struct pfs_layer *l;
	struct pfs_tnode *f;
	int e, r;

	e = open_layer(im, i, &l);
	if (e)
		return e;
	while ((r = pfs_layer_next(l, &ae)) == 1) {
		e = pfs_itree_apply(im->t, (uint32_t)i, name, ae, &f);
		if (!e && f && data)
			e = read_data(im, l, f, ae);
		if (e)
			break;
		im->entries++;
	}
	if (!e && r < 0)
		e = r;
	if (!e)
		e = pfs_layer_finish(l, NULL, NULL);
	close_layer(im, l);
	return e;
}

static int one_layer_each(struct importer *im)
{
	size_t i;
	int e = 0;

	im->layers = calloc(im->src->nlayers + 1, sizeof(*im->layers));
	if (!im->layers)
		return -ENOMEM;
	for (i = 0; i < im->src->nlayers && !e; i++) {
		e = apply_layer(im, i, true);
		if (!e)
			e = pfs_build_cut(im->b);
		if (!e)
			e = resolve_fresh(im);
		if (!e)
			e = pfs_itree_layer(im->t, im->layers, i, &im->layers[i]);
		if (!e)
			im->nlayers++;
	}
	return e;
}

static int file_cmp(const void *a, const void *b)
{
	const struct pfs_tnode *x = *(struct pfs_tnode *const *)a;
	const struct pfs_tnode *y = *(struct pfs_tnode *const *)b;

	return x->src_entry < y->src_entry ? -1 : x->src_entry > y->src_entry;
}

/* --flatten, second pass: the data of the files the final tree has, in
 * tar order. */
static int stream_survivors(struct importer *im, struct pfs_tnode **files,
			    size_t nfiles)
{
	uint64_t entry = 0;
	size_t i, next = 0;
	int e = 0, r;

	im->used = 0;		/* the same bytes again: the bound is per pass */
	for (i = 0; i < im->src->nlayers && !e; i++) {
		struct archive_entry *ae;
		struct pfs_layer *l;

		e = open_layer(im, i, &l);
		if (e)
			break;
		while (!e && (r = pfs_layer_next(l, &ae)) == 1) {
			struct pfs_tnode *f;

			entry++;
			if (next == nfiles || files[next]->src_entry != entry)
				continue;
			f = files[next++];
			if (archive_entry_filetype(ae) != AE_IFREG ||
			    archive_entry_hardlink(ae) ||
			    (uint64_t)archive_entry_size(ae) != f->size)
				e = pfs_errf(im->log, EIO,
					     "%s: entry '%s' changed since the first reading",
					     im->src->layers[i].name,
					     archive_entry_pathname(ae));
			else
				e = read_data(im, l, f, ae);
		}
		if (!e && r < 0)
			e = r;
		if (!e)
			e = pfs_layer_finish(l, NULL, NULL);
		close_layer(im, l);
		if (!e)
			e = pfs_build_cut(im->b);
	}
	if (!e && next != nfiles)
		e = pfs_errf(im->log, EIO, "%s: shorter than at the first reading",
			     im->src->layers[files[next]->src_layer].name);
	return e;
}

static int flatten(struct importer *im)
{
	struct pfs_tnode **files = NULL;
	size_t nfiles = 0, i;
	int e = 0;

	for (i = 0; i < im->src->nlayers && !e; i++)
		e = apply_layer(im, i, false);
	if (!e)
		e = pfs_itree_files(im->t, &files, &nfiles);
	if (e)
		return e;
	if (nfiles)
		qsort(files, nfiles, sizeof(*files), file_cmp);
	e = stream_survivors(im, files, nfiles);
	for (i = 0; i < nfiles && !e; i++)
		e = pfs_build_resolve(im->b, &files[i]->bn);
	free(files);
	im->layers = calloc(1, sizeof(*im->layers));
	if (!e && !im->layers)
		e = -ENOMEM;
	if (!e)
		e = pfs_itree_layer(im->t, NULL, 0, &im->layers[0]);
	if (!e)
		im->nlayers = 1;
	return e;
}

/* The image config: the source's (its rootfs is rewritten when the image
 * is written), or, for a bare layer, the fields OCI requires. */
static int make_meta(struct importer *im, struct pfs_build_meta *meta)
{
	json_t *c = im->src->config;
	const char *arch, *os, *variant;

	meta->config = c ? json_deep_copy(c) :
		       json_pack("{s:s,s:s,s:{}}", "architecture", pfs_goarch(),
				 "os", "linux", "config");
	if (!meta->config)
		return -ENOMEM;
	json_object_del(meta->config, "rootfs");
	arch = json_string_value(json_object_get(meta->config, "architecture"));
	os = json_string_value(json_object_get(meta->config, "os"));
	variant = json_string_value(json_object_get(meta->config, "variant"));
	meta->platform = NULL;
	if (arch && os) {
		meta->platform = json_pack("{s:s,s:s}", "architecture", arch,
					   "os", os);
		if (meta->platform && variant)
			json_object_set_new(meta->platform, "variant",
					    json_string(variant));
		if (!meta->platform)
			return -ENOMEM;
	}
	return 0;
}

static int run(struct importer *im, const char *oci_dir, const char *tag,
	       uint8_t *manifest_verity)
{
	const struct pfs_import_opts *o = im->o;
	struct pfs_build_opts bo = {
		.log = o->log, .compress = o->compress,
		.zstd_level = o->zstd_level,
		/* One frame per chunk unless told: images imported to be shipped
		 * are smaller so (-4.6% against 32 KiB frames, under the tar.gz
		 * layers they came from: bench/RESULTS.md, import). */
		.zstd_frame = o->zstd_frame ? o->zstd_frame : PFS_CDC_MAX,
		.threads = o->threads, .progress = o->progress,
		.progress_arg = o->progress_arg,
	};
	struct pfs_mtime_policy mp = {
		.mode = o->mtime == PFS_MTIME_DEFAULT ? PFS_MTIME_SOURCE : o->mtime,
		.fixed = o->mtime_fixed, .clamp = o->clamp_mtime,
		.clamp_to = o->mtime_clamp,
	};
	struct pfs_itree_opts to = { .log = o->log, .mtime = &mp,
				     .max_entries = o->max_entries };
	struct pfs_build_meta meta = { 0 };
	struct pfs_mlayer *top;
	struct pfs_oci *oci = NULL;
	struct pfs_build_stats bs;
	size_t i;
	int e;

	if ((unsigned)o->mtime > PFS_MTIME_NONE)
		return pfs_errf(o->log, EINVAL, "unknown mtime mode %d",
				(int)o->mtime);
	e = pfs_src_open(im->source, o->platform, o->remote, o->log, &im->src);
	if (e)
		return e;
	if (!im->src->nlayers)
		return pfs_errf(o->log, EINVAL, "%s: the image has no layers",
				im->source);
	e = pfs_oci_open(oci_dir, true, o->log, &oci);
	if (!e)
		e = pfs_oci_lock(oci);
	if (!e)
		e = pfs_builder_new(&bo, oci, &im->b);
	if (!e)
		e = pfs_itree_new(&to, &im->t);
	if (!e)
		e = o->flatten ? flatten(im) : one_layer_each(im);
	if (!e)
		e = make_meta(im, &meta);
	if (e)
		goto out;
	/* The encoder wants the top layer first. */
	top = calloc(im->nlayers, sizeof(*top));
	if (!top) {
		e = -ENOMEM;
		goto out;
	}
	for (i = 0; i < im->nlayers; i++)
		top[i] = im->layers[im->nlayers - 1 - i];
	e = pfs_build_write(im->b, NULL, top, im->nlayers, &meta, tag,
			    manifest_verity);
	free(top);
	if (!e && o->stats) {
		pfs_build_get_stats(im->b, &bs);
		*o->stats = (struct pfs_import_stats){
			.layers = im->src->nlayers, .rootfs_layers = im->nlayers,
			.entries = im->entries, .files = bs.files,
			.bytes = bs.bytes, .chunks = bs.chunks,
			.blobs = bs.blobs, .repeats = bs.repeats,
		};
	}
out:
	json_decref(meta.config);
	json_decref(meta.platform);
	if (e == -ENOMEM)
		pfs_errf(o->log, ENOMEM, "out of memory");
	pfs_builder_free(im->b);
	pfs_oci_close(oci);
	return e;
}

int pfs_import(const char *source, const char *oci_dir, const char *tag,
	       const struct pfs_import_opts *opts,
	       uint8_t manifest_verity[PFS_DIGEST_SIZE])
{
	struct pfs_import_opts defaults = { 0 }, o;
	struct importer im = { 0 };
	locale_t utf8, old = (locale_t)0;
	size_t i;
	int e;

	o = opts ? *opts : defaults;
	if (!tag[0] || strchr(tag, ':'))
		return pfs_errf(o.log, EINVAL, "invalid tag '%s'", tag);
	im.o = &o;
	im.source = source;
	im.log = o.log;
	im.max_bytes = o.max_bytes ? o.max_bytes : MAX_BYTES;
	/*
	 * libarchive converts names to the locale's charset: in C.UTF-8 (of
	 * this thread only) every name comes out as the bytes the tar holds.
	 */
	utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	if (utf8)
		old = uselocale(utf8);
	e = run(&im, oci_dir, tag, manifest_verity);
	if (utf8) {
		uselocale(old);
		freelocale(utf8);
	}
	for (i = 0; i < im.nlayers; i++)
		pfs_mlayer_free(&im.layers[i]);
	free(im.layers);
	pfs_itree_free(im.t);
	pfs_src_free(im.src);
	pfs_buf_free(&im.keep);
	return e;
}
