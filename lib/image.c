// SPDX-License-Identifier: MIT
/*
 * The reader: opens a tag, checks and decodes its rootfs lazily with the
 * shared core/ decoder, and serves inodes, directories, file data and
 * xattrs.  Opening reads the rootfs blob and checks only what must hold for
 * any lookup to be safe (framing, version, sorted inode lists); everything
 * else is decoded when first asked for.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "../core/manifest.h"
#include "image.h"

#define MAX_ROOTFS (4ull << 30)

/* ---- inode cache: set-associative, sharded locks ------------------------- */

#define IC_SETS 4096
#define IC_WAYS 4
#define IC_LOCKS 64

struct ic_slot {
	bool valid;
	struct pfs_cinode ci;
};

struct pfs_icache {
	pthread_mutex_t locks[IC_LOCKS];
	uint8_t next[IC_SETS];
	struct ic_slot slots[IC_SETS][IC_WAYS];
};

static uint32_t ic_set(uint64_t ino)
{
	return (uint32_t)((ino * 0x9e3779b97f4a7c15ull) >> 52) % IC_SETS;
}

static bool ic_get(struct pfs_icache *ic, uint64_t ino, struct pfs_cinode *out)
{
	uint32_t set = ic_set(ino), w;
	bool hit = false;

	pthread_mutex_lock(&ic->locks[set % IC_LOCKS]);
	for (w = 0; w < IC_WAYS; w++) {
		if (ic->slots[set][w].valid && ic->slots[set][w].ci.in.ino == ino) {
			*out = ic->slots[set][w].ci;
			hit = true;
			break;
		}
	}
	pthread_mutex_unlock(&ic->locks[set % IC_LOCKS]);
	return hit;
}

static void ic_put(struct pfs_icache *ic, const struct pfs_cinode *ci)
{
	uint32_t set = ic_set(ci->in.ino), w;

	pthread_mutex_lock(&ic->locks[set % IC_LOCKS]);
	for (w = 0; w < IC_WAYS; w++)
		if (!ic->slots[set][w].valid ||
		    ic->slots[set][w].ci.in.ino == ci->in.ino)
			break;
	if (w == IC_WAYS) {
		w = ic->next[set];
		ic->next[set] = (uint8_t)((w + 1) % IC_WAYS);
	}
	ic->slots[set][w].valid = true;
	ic->slots[set][w].ci = *ci;
	pthread_mutex_unlock(&ic->locks[set % IC_LOCKS]);
}

/* ---- census: link counts and totals ------------------------------------- */

/*
 * Link counts are not stored; they are counted once, when first asked for,
 * in two linear passes over the layers (no lookups): first the visible
 * version of every inode number (the topmost), then the entries of every
 * visible directory.  A file's count is the number of entries naming it; a
 * directory's is 2 + its subdirectories.
 */
struct pfs_census {
	struct pfs_u64map nlink;
	uint64_t files, bytes;		/* statfs totals, when counted */
};

static uint32_t cs_get(struct pfs_census *cs, uint64_t ino)
{
	uint64_t *n = pfs_u64map_get(&cs->nlink, ino);

	return n ? (uint32_t)*n : 0;
}

static void census_free(struct pfs_census *cs)
{
	if (!cs)
		return;
	pfs_u64map_free(&cs->nlink);
	free(cs);
}

/* Visible version of each inode: kind << 56 | layer << 32 | index. */
#define VIS(kind, layer, idx) ((uint64_t)(kind) << 56 | (uint64_t)(layer) << 32 | (idx))
#define VIS_KIND(v) ((unsigned)((v) >> 56))

static int census_visible(struct pfs_image *img, struct pfs_u64map *vis)
{
	const struct pfs_rootfs *r = &img->rfs;
	struct pfs_cur c;
	u32 l, i;

	pfs_cur_init(&c, &r->msg);
	for (l = 0; l < r->nlayers && l < (1u << 24); l++) {
		for (i = 0; i < r->layers[l].inodes.count; i++) {
			struct pfs_struct s;
			uint64_t ino;

			if (pfs_list_struct(&c, &r->layers[l].inodes, i, &s))
				return -EIO;
			ino = pfs_u64(&c, &s, PFS_INODE_INO_OFF);
			if (pfs_u64map_get(vis, ino))
				continue;
			if (pfs_u64map_put(vis, ino, VIS(pfs_u16(&c, &s,
					PFS_INODE_MODE_OFF) & 0xff, l, i)))
				return -ENOMEM;
		}
	}
	return 0;
}

static int census_dir(struct pfs_image *img, const struct pfs_u64map *vis,
		      struct pfs_census *cs, const struct pfs_inode *dir)
{
	struct pfs_inode child;
	struct pfs_dirent de;
	struct pfs_cur c;
	uint32_t subdirs = 0;
	uint64_t pos = 0, *v;
	int e;

	pfs_cur_init(&c, &img->rfs.msg);
	/* Merged directories go through the full iterator; plain ones are
	 * read directly. */
	while ((e = dir->look_below ?
		    pfs_dir_next(&c, &img->rfs, dir, &pos, &de, &child) :
		    (pos < dir->list.count ?
		     !pfs_dirent_at(&c, &img->rfs, dir, (u32)pos++, &de) : 0)) == 1) {
		v = pfs_u64map_get(vis, de.ino);
		if (!v || VIS_KIND(*v) == PFS_KIND_WHT)
			continue;
		if (VIS_KIND(*v) == PFS_KIND_DIR) {
			subdirs++;
			continue;
		}
		if (pfs_u64map_put(&cs->nlink, de.ino, cs_get(cs, de.ino) + 1))
			return -ENOMEM;
	}
	if (e < 0)
		return e;
	return pfs_u64map_put(&cs->nlink, dir->ino, 2 + subdirs);
}

/* Link counts need only the directories decoded; statfs's totals (which
 * need every file's size) are counted too, but only when statfs asks. */
static int census_count(struct pfs_image *img, struct pfs_census *cs,
			bool totals)
{
	struct pfs_u64map vis = { 0 };
	struct pfs_inode in;
	struct pfs_cur c;
	size_t i;
	int e = census_visible(img, &vis);

	for (i = 0; !e && i < vis.cap; i++) {
		uint64_t v = vis.vals[i], size;
		unsigned kind = VIS_KIND(v);

		if (!vis.keys[i] || kind == PFS_KIND_WHT || kind > PFS_KIND_MAX)
			continue;
		cs->files++;
		if (kind != PFS_KIND_DIR && !(totals && kind == PFS_KIND_FILE))
			continue;
		pfs_cur_init(&c, &img->rfs.msg);
		e = pfs_layer_inode(&c, &img->rfs, (u32)(v >> 32) & 0xffffff,
				    (u32)v, &in);
		if (e)
			break;
		if (kind == PFS_KIND_DIR && !totals)
			e = census_dir(img, &vis, cs, &in);
		else if (kind == PFS_KIND_FILE &&
			 pfs_file_size(&c, &img->rfs, &in, &size) == 0)
			cs->bytes += (size + 4095) / 4096;
	}
	pfs_u64map_free(&vis);
	return e;
}

static struct pfs_census *census(struct pfs_image *img)
{
	struct pfs_census *cs;

	pthread_mutex_lock(&img->census_lock);
	cs = img->census;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		if (cs && census_count(img, cs, false)) {
			/* Partial counts are still the best we know. */
			pfs_logf(&img->log, PFS_LOG_WARN,
				 "%s:%s: link counts may be incomplete",
				 img->oci->path, img->tag);
		}
		img->census = cs;
	}
	pthread_mutex_unlock(&img->census_lock);
	return cs;
}

/* ---- open / close ----------------------------------------------------------- */

static void report(void *arg, const char *msg)
{
	struct pfs_image *img = arg;
	char hex[2 * PFS_DIGEST_SIZE + 1];

	pfs_hex(img->manifest.rootfs.digest, PFS_DIGEST_SIZE, hex);
	pfs_logf(&img->log, PFS_LOG_ERR, "%s:%s: rootfs %.12s: %s",
		 img->oci->path, img->tag, hex, msg);
}

static int expected_verity(void *arg, const uint8_t *digest, uint8_t *verity)
{
	struct pfs_image *img = arg;
	const u8 *v;
	struct pfs_cur c;
	int e;

	pfs_cur_init(&c, &img->rfs.msg);
	e = pfs_verity_find(&c, &img->rfs, digest, &v);
	if (!e)
		memcpy(verity, v, PFS_DIGEST_SIZE);
	return e;
}

/*
 * The manifest is checked (size, sha256, fs-verity in verity mode) and only
 * scanned for the rootfs layer with the bounded scanner the kernel uses: a
 * manifest lists every chunk, and building a JSON tree of it would be most
 * of the time a mount takes.  The chunk layers are parsed when a tool asks
 * for them (pfs_image_chunk_layers).
 */
static int load_manifest(struct pfs_image *img, const uint8_t *verity)
{
	struct pfs_manifest_rootfs mr;
	char hex[2 * PFS_DIGEST_SIZE + 1];
	int e;

	e = pfs_oci_tag_resolve(img->oci, img->tag, &img->manifest_desc);
	if (!e)
		e = pfs_oci_blob_read(img->oci, img->manifest_desc.digest,
				      img->manifest_desc.size, PFS_MAX_JSON,
				      verity, &img->manifest_json,
				      &img->manifest_len);
	if (e)
		return e;
	e = pfs_manifest_find_rootfs(img->manifest_json, img->manifest_len, &mr);
	if (e) {
		pfs_hex(img->manifest_desc.digest, PFS_DIGEST_SIZE, hex);
		return pfs_errf(&img->log, EINVAL,
				"%s: manifest %s of tag '%s': %s",
				img->oci->path, hex, img->tag,
				e == -ENOENT ? "missing PuzzleFS rootfs layer" :
				"malformed JSON or rootfs descriptor");
	}
	memcpy(img->manifest.rootfs.digest, mr.digest, PFS_DIGEST_SIZE);
	img->manifest.rootfs.size = mr.size;
	img->manifest.has_verity = mr.has_verity;
	memcpy(img->manifest.rootfs_verity, mr.verity, PFS_DIGEST_SIZE);
	return 0;
}

int pfs_image_chunk_layers(struct pfs_image *img)
{
	struct pfs_manifest m;
	char what[300];
	int e;

	if (img->chunks_loaded)
		return 0;
	snprintf(what, sizeof(what), "manifest of tag '%s'", img->tag);
	e = pfs_manifest_parse(img->oci, img->manifest_json, img->manifest_len,
			       what, &m);
	if (e)
		return e;
	img->manifest.chunks = m.chunks;
	img->manifest.chunk_zstd = m.chunk_zstd;
	img->manifest.nchunks = m.nchunks;
	img->chunks_loaded = true;
	return 0;
}

static int load_rootfs(struct pfs_image *img, const uint8_t *verity)
{
	u32 nseg;
	int e;

	e = pfs_oci_blob_read(img->oci, img->manifest.rootfs.digest,
			      img->manifest.rootfs.size, MAX_ROOTFS, verity,
			      &img->rootfs_buf, &img->rootfs_len);
	if (e)
		return e;
	img->rfs.report = report;
	img->rfs.report_arg = img;
	if (pfs_rootfs_probe(img->rootfs_buf, img->rootfs_len, &nseg))
		return pfs_corrupt(&img->rfs, "bad Cap'n Proto framing");
	img->seg = calloc(nseg + 1, sizeof(*img->seg));
	if (!img->seg)
		return -ENOMEM;
	e = pfs_rootfs_init(&img->rfs, img->rootfs_buf, img->rootfs_len,
			    img->seg, nseg);
	if (e)
		return e;
	img->layers = calloc(img->rfs.nlayers, sizeof(*img->layers));
	if (!img->layers)
		return -ENOMEM;
	return pfs_rootfs_init_layers(&img->rfs, img->layers);
}

int pfs_image_open_oci(struct pfs_oci *oci, const char *tag,
		       const struct pfs_image_opts *opts,
		       struct pfs_image **out)
{
	struct pfs_image *img = calloc(1, sizeof(*img));
	struct pfs_blob_verity bv;
	int e;

	if (!img)
		return -ENOMEM;
	if (opts && opts->log)
		img->log = *opts->log;
	img->oci = oci;
	pthread_mutex_init(&img->census_lock, NULL);
	img->tag = strdup(tag);
	img->icache = calloc(1, sizeof(*img->icache));
	if (!img->tag || !img->icache) {
		e = -ENOMEM;
		goto fail;
	}
	for (e = 0; e < IC_LOCKS; e++)
		pthread_mutex_init(&img->icache->locks[e], NULL);
	img->verity = opts && opts->manifest_verity;
	e = load_manifest(img, img->verity ? opts->manifest_verity : NULL);
	if (e)
		goto fail;
	if (img->verity && !img->manifest.has_verity) {
		e = pfs_errf(&img->log, EINVAL,
			     "%s:%s: the rootfs layer has no fs-verity annotation",
			     oci->path, tag);
		goto fail;
	}
	e = load_rootfs(img, img->verity ? img->manifest.rootfs_verity : NULL);
	if (e)
		goto fail;
	bv.expected = expected_verity;
	bv.arg = img;
	e = pfs_blob_cache_new(oci, &img->log, opts ? opts->cache_bytes : 0,
			       img->verity ? &bv : NULL, &img->blobs);
	if (e)
		goto fail;
	*out = img;
	return 0;
fail:
	pfs_image_close(img);
	return e;
}

int pfs_image_open(const char *oci_dir, const char *tag,
		   const struct pfs_image_opts *opts, struct pfs_image **out)
{
	struct pfs_oci *oci;
	int e;

	e = pfs_oci_open(oci_dir, false, opts ? opts->log : NULL, &oci);
	if (e)
		return e;
	e = pfs_image_open_oci(oci, tag, opts, out);
	if (e)
		pfs_oci_close(oci);
	else
		(*out)->owns_oci = true;
	return e;
}

void pfs_image_close(struct pfs_image *img)
{
	int i;

	if (!img)
		return;
	pfs_blob_cache_free(img->blobs);
	if (img->icache) {
		for (i = 0; i < IC_LOCKS; i++)
			pthread_mutex_destroy(&img->icache->locks[i]);
		free(img->icache);
	}
	census_free(img->census);
	pthread_mutex_destroy(&img->census_lock);
	pfs_manifest_free(&img->manifest);
	free(img->manifest_json);
	free(img->layers);
	free(img->seg);
	free(img->rootfs_buf);
	free(img->tag);
	if (img->owns_oci)
		pfs_oci_close(img->oci);
	free(img);
}

void pfs_image_manifest_digest(const struct pfs_image *img,
			       uint8_t digest[PFS_DIGEST_SIZE])
{
	memcpy(digest, img->manifest_desc.digest, PFS_DIGEST_SIZE);
}

void pfs_image_rootfs_digest(const struct pfs_image *img,
			     uint8_t digest[PFS_DIGEST_SIZE])
{
	memcpy(digest, img->manifest.rootfs.digest, PFS_DIGEST_SIZE);
}

/* ---- inodes ------------------------------------------------------------------ */

int pfs_image_inode(struct pfs_image *img, uint64_t ino,
		    struct pfs_cinode *out)
{
	struct pfs_cur c;
	int e;

	if (ic_get(img->icache, ino, out))
		return 0;
	memset(out, 0, sizeof(*out));
	pfs_cur_init(&c, &img->rfs.msg);
	e = pfs_inode_get(&c, &img->rfs, ino, &out->in);
	if (!e && out->in.kind == PFS_KIND_FILE)
		e = pfs_file_size(&c, &img->rfs, &out->in, &out->size);
	if (!e && out->in.kind == PFS_KIND_DIR)
		e = pfs_dir_check_order(&c, &img->rfs, &out->in);
	if (e == -PFS_ECORRUPT)
		e = -EIO;
	if (!e)
		ic_put(img->icache, out);
	return e;
}

uint32_t pfs_kind_to_type(unsigned kind)
{
	switch (kind) {
	case PFS_KIND_FIFO: return S_IFIFO;
	case PFS_KIND_CHR: return S_IFCHR;
	case PFS_KIND_DIR: return S_IFDIR;
	case PFS_KIND_BLK: return S_IFBLK;
	case PFS_KIND_LNK: return S_IFLNK;
	case PFS_KIND_SOCK: return S_IFSOCK;
	default: return S_IFREG;	/* files, and "unknown" shown as empty files */
	}
}

void pfs_image_attr(struct pfs_image *img, const struct pfs_cinode *ci,
		    struct pfs_attr *a)
{
	const struct pfs_inode *in = &ci->in;
	struct pfs_census *cs = census(img);
	uint32_t links = cs ? cs_get(cs, in->ino) : 0;

	memset(a, 0, sizeof(*a));
	a->ino = in->ino;
	a->mode = pfs_kind_to_type(in->kind) | in->perm;
	a->uid = in->uid;
	a->gid = in->gid;
	a->nlink = links ? links : in->kind == PFS_KIND_DIR ? 2 : 1;
	switch (in->kind) {
	case PFS_KIND_FILE:
		a->size = ci->size;
		a->blocks = (ci->size + 511) / 512;
		break;
	case PFS_KIND_LNK:
		a->size = in->target_len;
		break;
	case PFS_KIND_DIR:
		a->size = in->list.count;
		break;
	case PFS_KIND_CHR:
	case PFS_KIND_BLK:
		a->rdev_major = in->major;
		a->rdev_minor = in->minor;
		break;
	}
}

int pfs_getattr(struct pfs_image *img, uint64_t ino, struct pfs_attr *attr)
{
	struct pfs_cinode ci;
	int e = pfs_image_inode(img, ino, &ci);

	if (!e)
		pfs_image_attr(img, &ci, attr);
	return e;
}

static int lookup(struct pfs_image *img, uint64_t dir, const char *name,
		  size_t len, struct pfs_cinode *out)
{
	struct pfs_cinode d;
	struct pfs_inode child;
	struct pfs_cur c;
	int e;

	if (len == 0 || len > PFS_NAME_MAX)
		return len ? -ENAMETOOLONG : -ENOENT;
	e = pfs_image_inode(img, dir, &d);
	if (e)
		return e;
	pfs_cur_init(&c, &img->rfs.msg);
	e = pfs_dir_lookup(&c, &img->rfs, &d.in, (const u8 *)name, (u32)len,
		       &child);
	if (e)
		return e == -PFS_ECORRUPT ? -EIO : e;
	return pfs_image_inode(img, child.ino, out);
}

int pfs_lookup(struct pfs_image *img, uint64_t dir, const char *name,
	       size_t len, struct pfs_attr *attr)
{
	struct pfs_cinode ci;
	int e = lookup(img, dir, name, len, &ci);

	if (!e)
		pfs_image_attr(img, &ci, attr);
	return e;
}

int pfs_resolve(struct pfs_image *img, const char *path, struct pfs_attr *attr)
{
	struct pfs_cinode ci;
	const char *p = path, *end;
	int e;

	if (*p != '/')
		return -EINVAL;
	e = pfs_image_inode(img, PFS_ROOT_INO, &ci);
	while (!e) {
		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchrnul(p, '/');
		if ((end - p == 1 && p[0] == '.') ||
		    (end - p == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		if (ci.in.kind != PFS_KIND_DIR)
			return -ENOTDIR;
		e = lookup(img, ci.in.ino, p, (size_t)(end - p), &ci);
		p = end;
	}
	if (!e)
		pfs_image_attr(img, &ci, attr);
	return e;
}

int pfs_readdir(struct pfs_image *img, uint64_t dir, uint64_t *pos,
		struct pfs_dirent_info *ent)
{
	struct pfs_cinode d;
	struct pfs_inode child;
	struct pfs_dirent de;
	struct pfs_cur c;
	int e;

	e = pfs_image_inode(img, dir, &d);
	if (e)
		return e;
	pfs_cur_init(&c, &img->rfs.msg);
	e = pfs_dir_next(&c, &img->rfs, &d.in, pos, &de, &child);
	if (e <= 0)
		return e == -PFS_ECORRUPT ? -EIO : e;
	ent->ino = de.ino;
	ent->name = (const char *)de.name;
	ent->name_len = de.name_len;
	ent->type = pfs_kind_to_type(child.kind);
	return 1;
}

ssize_t pfs_read(struct pfs_image *img, uint64_t ino, void *buf, size_t len,
		 uint64_t off)
{
	struct pfs_chunk ch;
	struct pfs_cinode ci;
	struct pfs_cur c;
	uint64_t start = 0;
	size_t done = 0;
	u32 idx = 0;
	int e;

	e = pfs_image_inode(img, ino, &ci);
	if (e)
		return e;
	if (ci.in.kind == PFS_KIND_DIR)
		return -EISDIR;
	if (ci.in.kind != PFS_KIND_FILE || off >= ci.size)
		return 0;
	if (len > ci.size - off)
		len = (size_t)(ci.size - off);
	pfs_cur_init(&c, &img->rfs.msg);
	while (done < len) {
		uint64_t at = off + done, within;
		size_t n;

		e = pfs_file_seek(&c, &img->rfs, &ci.in, at, &idx, &start, &ch);
		if (e)
			return e == -ENOENT || e == -PFS_ECORRUPT ? -EIO : e;
		within = at - start;
		n = len - done;
		if (n > ch.len - within)
			n = (size_t)(ch.len - within);
		e = pfs_blob_read(img->blobs, ch.digest, ch.compressed,
				  ch.offset + within, n, (uint8_t *)buf + done);
		if (e)
			return e;
		done += n;
	}
	return (ssize_t)done;
}

ssize_t pfs_readlink(struct pfs_image *img, uint64_t ino, char *buf,
		     size_t size)
{
	struct pfs_cinode ci;
	size_t n;
	int e;

	e = pfs_image_inode(img, ino, &ci);
	if (e)
		return e;
	if (ci.in.kind != PFS_KIND_LNK)
		return -EINVAL;
	n = ci.in.target_len < size ? ci.in.target_len : size;
	if (n)
		memcpy(buf, ci.in.target, n);
	return (ssize_t)ci.in.target_len;
}

ssize_t pfs_listxattr(struct pfs_image *img, uint64_t ino, char *buf,
		      size_t size)
{
	struct pfs_cinode ci;
	struct pfs_xattr x;
	struct pfs_cur c;
	size_t need = 0;
	u32 i;
	int e;

	e = pfs_image_inode(img, ino, &ci);
	if (e)
		return e;
	pfs_cur_init(&c, &img->rfs.msg);
	for (i = 0; i < pfs_xattr_count(&ci.in); i++) {
		if (pfs_xattr_at(&c, &img->rfs, &ci.in, i, &x))
			return -EIO;
		if (size && need + x.key_len + 1 <= size) {
			memcpy(buf + need, x.key, x.key_len);
			buf[need + x.key_len] = 0;
		}
		need += x.key_len + 1;
	}
	if (size && need > size)
		return -ERANGE;
	return (ssize_t)need;
}

ssize_t pfs_getxattr(struct pfs_image *img, uint64_t ino, const char *name,
		     void *buf, size_t size)
{
	size_t len = strlen(name);
	struct pfs_cinode ci;
	struct pfs_xattr x;
	struct pfs_cur c;
	u32 i;
	int e;

	e = pfs_image_inode(img, ino, &ci);
	if (e)
		return e;
	pfs_cur_init(&c, &img->rfs.msg);
	for (i = 0; i < pfs_xattr_count(&ci.in); i++) {
		if (pfs_xattr_at(&c, &img->rfs, &ci.in, i, &x))
			return -EIO;
		if (x.key_len != len || memcmp(x.key, name, len))
			continue;
		if (size && x.val_len > size)
			return -ERANGE;
		if (size && x.val_len)
			memcpy(buf, x.val, x.val_len);
		return (ssize_t)x.val_len;
	}
	return -ENODATA;
}

int pfs_statfs(struct pfs_image *img, struct pfs_statfs *st)
{
	memset(st, 0, sizeof(*st));
	st->bsize = 4096;
	st->namemax = PFS_NAME_MAX;
	pthread_mutex_lock(&img->census_lock);
	if (!img->totals) {
		struct pfs_census t = { 0 };

		census_count(img, &t, true);
		img->files = t.files;
		img->blocks = t.bytes;
		img->totals = true;
	}
	st->blocks = img->blocks;
	st->files = img->files;
	pthread_mutex_unlock(&img->census_lock);
	return 0;
}
