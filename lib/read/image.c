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

#include "../../core/manifest.h"
#include "read/image.h"
#include "read/tree.h"

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

/* ---- census: link counts, the tree's shape, totals ------------------------ */

/*
 * Link counts are not stored; they are counted once, when first asked for,
 * by one walk of the directories reached from the root, which reads each
 * entry for its inode number only (names are checked when they are served)
 * and finds inodes by position, not by search: with one layer (every plain
 * build) in arrays indexed by the place in the layer's sorted list, with
 * several in a map of every number's visible version.  A file's count is
 * the number of entries naming it; a directory's is 2 + its subdirectories.
 *
 * The walk also checks the shape of the tree every other walk relies on:
 * a root directory, every directory named once (a cycle or a directory
 * hard link makes walks endless: 2^40 paths in a chain of 40 directories
 * each linked twice) and none deeper than PFS_MAX_DEPTH.  It is bounded by
 * the open's charge of every list (each directory is walked once).
 */
struct pfs_census {
	struct pfs_u64map nlink;	/* several layers: ino -> count */
	uint64_t *inos;			/* one layer: its inode numbers, */
	uint32_t *links;		/* sorted, and their counts */
	size_t n;
	uint64_t files, blocks;		/* statfs totals, when counted */
	bool incomplete;		/* unreadable directories skipped */
	int err;			/* the tree's shape is wrong: why */
	char why[400];
};

/* Position of @ino in a sorted array (n if absent).  Numbers are nearly
 * dense (hard links leave gaps): try the direct place first. */
static size_t ino_index(const uint64_t *inos, size_t n, uint64_t ino)
{
	size_t lo = 0, hi = n;

	if (n && ino >= inos[0] && ino - inos[0] < n && inos[ino - inos[0]] == ino)
		return (size_t)(ino - inos[0]);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (inos[mid] < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && inos[lo] == ino ? lo : n;
}

static uint32_t cs_get(struct pfs_census *cs, uint64_t ino)
{
	uint64_t *n;

	if (cs->inos) {
		size_t i = ino_index(cs->inos, cs->n, ino);

		return i < cs->n ? cs->links[i] : 0;
	}
	n = pfs_u64map_get(&cs->nlink, ino);
	return n ? (uint32_t)*n : 0;
}

static void census_free(struct pfs_census *cs)
{
	if (!cs)
		return;
	pfs_u64map_free(&cs->nlink);
	free(cs->inos);
	free(cs->links);
	free(cs);
}

/* Visible version of each inode: kind << 56 | layer << 32 | index. */
#define VIS(kind, layer, idx) ((uint64_t)(kind) << 56 | (uint64_t)(layer) << 32 | (idx))
#define VIS_KIND(v) ((unsigned)((v) >> 56))
#define VIS_LAYER(v) ((u32)((v) >> 32) & 0xffffff)

struct census_walk {
	struct pfs_image *img;
	struct pfs_census *cs;
	bool totals;
	uint8_t *kind;			/* one layer: by position */
	struct pfs_u64map vis;		/* several layers: ino -> VIS() */
	struct census_dir { uint64_t ino, vis; uint32_t depth; } *stack;
	size_t n, cap;
};

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

/* One layer: its inode numbers and kinds, by position. */
static int census_layer(struct census_walk *w)
{
	const struct pfs_rootfs *r = &w->img->rfs;
	const struct pfs_list *list = &r->layers[0].inodes;
	struct pfs_census *cs = w->cs;
	size_t n = list->count, i;
	struct pfs_struct s;
	struct pfs_cur c;

	w->kind = malloc(n + 1);
	cs->inos = malloc((n + 1) * sizeof(*cs->inos));
	cs->links = calloc(n + 1, sizeof(*cs->links));
	if (!w->kind || !cs->inos || !cs->links)
		return -ENOMEM;
	pfs_cur_init(&c, &r->msg);
	for (i = 0; i < n; i++) {
		if (pfs_list_struct(&c, list, (u32)i, &s))
			return -EIO;
		cs->inos[i] = pfs_u64(&c, &s, PFS_INODE_INO_OFF);
		w->kind[i] = pfs_u16(&c, &s, PFS_INODE_MODE_OFF) & 0xff;
	}
	cs->n = n;
	return 0;
}

/* The merged entries of @dir if @need them (*ref: the reference to put),
 * else nothing to do. */
static int dir_merged(struct pfs_image *img, const struct pfs_inode *dir,
		      bool need, struct pfs_merged *m,
		      struct pfs_derived **ref)
{
	int e;

	*ref = NULL;
	m->ent = NULL;
	m->n = 0;
	if (!need)
		return 0;
	e = pfs_merged_get(&img->derived, &img->rfs, dir, ref);
	if (e)
		return e == -PFS_ECORRUPT ? -EIO : e;
	m->ent = pfs_derived_dir(*ref);
	m->n = (*ref)->n;
	return 0;
}

/* The visible version of @ino (VIS()), or false. */
static bool visible(struct census_walk *w, uint64_t ino, uint64_t *v)
{
	uint64_t *p;
	size_t i;

	if (w->kind) {
		i = ino_index(w->cs->inos, w->cs->n, ino);
		if (i == w->cs->n)
			return false;
		*v = VIS(w->kind[i], 0, i);
		return true;
	}
	p = pfs_u64map_get(&w->vis, ino);
	if (p)
		*v = *p;
	return p != NULL;
}

static uint32_t count_of(struct census_walk *w, uint64_t ino, uint64_t v)
{
	return w->kind ? w->cs->links[(u32)v] : cs_get(w->cs, ino);
}

static int count_set(struct census_walk *w, uint64_t ino, uint64_t v,
		     uint32_t n)
{
	if (w->kind) {
		w->cs->links[(u32)v] = n;
		return 0;
	}
	return pfs_u64map_put(&w->cs->nlink, ino, n);
}

static int push_dir(struct census_walk *w, uint64_t ino, uint64_t v,
		    uint32_t depth)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 256;
		struct census_dir *s = realloc(w->stack, cap * sizeof(*s));

		if (!s)
			return -ENOMEM;
		w->stack = s;
		w->cap = cap;
	}
	w->stack[w->n].ino = ino;
	w->stack[w->n].vis = v;
	w->stack[w->n++].depth = depth;
	return 0;
}

/* The name of entry @pos of @dir, for a message: printable, at most 64. */
static void shown_name(struct pfs_cur *c, const struct pfs_rootfs *r,
		       const struct pfs_inode *dir, const struct pfs_merged *m,
		       u64 pos, char *out)
{
	const u8 *name = (const u8 *)"?";
	u32 len = 1, i;
	struct pfs_dirent de;

	if (dir->look_below) {
		name = m->ent[pos].name;
		len = m->ent[pos].name_len;
	} else if (pfs_dirent_at(c, r, dir, (u32)pos, &de) == 0) {
		name = de.name;
		len = de.name_len;
	}
	for (i = 0; i < len && i < 64; i++)
		out[i] = name[i] < 0x20 || name[i] == 0x7f ? '?' : (char)name[i];
	out[i] = 0;
}

static int shape_error(struct census_walk *w, struct pfs_cur *c,
		       const struct pfs_inode *dir, const struct pfs_merged *m,
		       u64 pos, uint64_t child, bool twice)
{
	char name[65];

	shown_name(c, &w->img->rfs, dir, m, pos, name);
	if (twice)
		snprintf(w->cs->why, sizeof(w->cs->why),
			 "directory inode %llu is linked twice (again as '%s' "
			 "in directory inode %llu): a cycle or a directory hard "
			 "link", (unsigned long long)child, name,
			 (unsigned long long)dir->ino);
	else
		snprintf(w->cs->why, sizeof(w->cs->why),
			 "directory inode %llu ('%s' in directory inode %llu) "
			 "is more than %u levels below the root",
			 (unsigned long long)child, name,
			 (unsigned long long)dir->ino, PFS_MAX_DEPTH);
	return w->cs->err = -ELOOP;
}

/* The inode number of entry @pos (of @m if @dir is lookBelow). */
static int entry_ino(struct pfs_cur *c, const struct pfs_inode *dir,
		     const struct pfs_merged *m, u64 pos, uint64_t *ino)
{
	struct pfs_struct s;

	if (dir->look_below) {
		*ino = m->ent[pos].ino;
		return 0;
	}
	if (pfs_list_struct(c, &dir->list, (u32)pos, &s))
		return -EIO;
	*ino = pfs_u64(c, &s, PFS_DIRENT_INO_OFF);
	return 0;
}

/* A first entry naming a non-directory: it counts once in the totals. */
static void count_file(struct census_walk *w, uint64_t v)
{
	const struct pfs_rootfs *r = &w->img->rfs;
	struct pfs_inode in;
	struct pfs_cur c;
	uint64_t size;

	w->cs->files++;
	if (!w->totals || VIS_KIND(v) != PFS_KIND_FILE)
		return;
	pfs_cur_init(&c, &r->msg);
	if (pfs_layer_inode(&c, r, VIS_LAYER(v), (u32)v, &in) == 0 &&
	    pfs_file_size(&c, r, &in, &size) == 0)
		w->cs->blocks += (size + 4095) / 4096;
}

static int census_dir(struct census_walk *w, const struct census_dir *d)
{
	const struct pfs_rootfs *r = &w->img->rfs;
	struct pfs_derived *ref = NULL;
	struct pfs_inode dir;
	struct pfs_merged m;
	struct pfs_cur c;
	uint32_t subdirs = 0, k;
	uint64_t pos, n, child, v;
	int e = 0;

	/* A traversal budget per directory: the walk is not one operation.
	 * A directory that cannot be decoded is skipped (its reads fail). */
	pfs_cur_init(&c, &r->msg);
	if (pfs_layer_inode(&c, r, VIS_LAYER(d->vis), (u32)d->vis, &dir) ||
	    dir_merged(w->img, &dir, dir.look_below, &m, &ref)) {
		w->cs->incomplete = true;
		return 0;
	}
	n = dir.look_below ? m.n : dir.list.count;
	for (pos = 0; pos < n && !e; pos++) {
		if (entry_ino(&c, &dir, &m, pos, &child)) {
			w->cs->incomplete = true;
			continue;
		}
		if (!visible(w, child, &v) || VIS_KIND(v) == PFS_KIND_WHT ||
		    VIS_KIND(v) > PFS_KIND_MAX)
			continue;
		k = count_of(w, child, v);
		if (VIS_KIND(v) == PFS_KIND_DIR) {
			if (k)
				e = shape_error(w, &c, &dir, &m, pos, child, true);
			else if (d->depth >= PFS_MAX_DEPTH)
				e = shape_error(w, &c, &dir, &m, pos, child, false);
			if (!e)
				e = count_set(w, child, v, 2);
			if (!e)
				e = push_dir(w, child, v, d->depth + 1);
			w->cs->files++;
			subdirs++;
			continue;
		}
		if (!k)
			count_file(w, v);
		if (k < UINT32_MAX)
			e = count_set(w, child, v, k + 1);
	}
	pfs_derived_put(ref);
	return e ? e : count_set(w, dir.ino, d->vis, 2 + subdirs);
}

/* Link counts need only the directories decoded; statfs's totals (which
 * need every file's size) are counted too, but only when statfs asks. */
static int census_count(struct pfs_image *img, struct pfs_census *cs,
			bool totals)
{
	struct census_walk w = { .img = img, .cs = cs, .totals = totals };
	struct census_dir d;
	uint64_t v;
	int e;

	e = img->rfs.nlayers == 1 ? census_layer(&w) :
				    census_visible(img, &w.vis);
	if (!e && (!visible(&w, PFS_ROOT_INO, &v) ||
		   VIS_KIND(v) != PFS_KIND_DIR)) {
		snprintf(cs->why, sizeof(cs->why),
			 "the image has no root directory (inode 1 is %s)",
			 !visible(&w, PFS_ROOT_INO, &v) ? "missing" :
			 VIS_KIND(v) == PFS_KIND_WHT ? "a whiteout" :
			 "not a directory");
		e = cs->err = -EIO;
	}
	if (!e) {
		cs->files = 1;
		e = count_set(&w, PFS_ROOT_INO, v, 2);
	}
	if (!e)
		e = push_dir(&w, PFS_ROOT_INO, v, 0);
	while (!e && w.n) {
		d = w.stack[--w.n];
		e = census_dir(&w, &d);
	}
	free(w.kind);
	free(w.stack);
	pfs_u64map_free(&w.vis);
	return e;
}

static struct pfs_census *census(struct pfs_image *img)
{
	struct pfs_census *cs;
	int e;

	pthread_mutex_lock(&img->census_lock);
	cs = img->census;
	if (!cs) {
		cs = calloc(1, sizeof(*cs));
		e = cs ? census_count(img, cs, false) : 0;
		/* Partial counts are still the best we know. */
		if (cs && ((e && !cs->err) || cs->incomplete))
			pfs_logf(&img->log, PFS_LOG_WARN,
				 "%s:%s: link counts may be incomplete",
				 img->oci->path, img->tag);
		img->census = cs;
	}
	pthread_mutex_unlock(&img->census_lock);
	return cs;
}

int pfs_image_check(struct pfs_image *img)
{
	struct pfs_census *cs = census(img);

	if (!cs)
		return pfs_errf(&img->log, ENOMEM, "out of memory");
	if (cs->err)
		return pfs_errf(&img->log, -cs->err, "%s:%s: %s",
				img->oci->path, img->tag, cs->why);
	return 0;
}

/* ---- readahead of chunk blobs ------------------------------------------- */

/*
 * Readers that read many files (tar, cp -a, a container starting, a
 * checksum of everything) walk the tree depth first with names in order;
 * the chunks are stored in stream order (each directory's files, then its
 * subdirectories), which is not the same.  So the readahead thread first
 * lists the regular files in walk order (once, on the first sequential
 * read), and keeps the blobs of the next `depth` distinct chunks after
 * the reader's position loaded, checked (sha256) and decompressed.  Reads
 * that look sequential post their position.  It only warms the cache:
 * every read still gets its bytes from a checked blob, and errors are
 * reported by the read that needs the blob.
 */
#define RA_DEFAULT 8
#define RA_SCAN 4096		/* files without data skipped at most */

static bool pos_le(struct pfs_ra_pos a, struct pfs_ra_pos b)
{
	return a.pos < b.pos || (a.pos == b.pos && a.idx <= b.idx);
}

/* The regular files in walk order (the first name of a hard link); a
 * directory the walk refuses (named twice, too deep) is skipped. */
static int ra_order(struct pfs_image *img)
{
	struct pfs_readahead *ra = &img->ra;
	struct pfs_tree t;
	size_t cap = 0;
	int e;

	e = pfs_tree_init(&t, img, PFS_ROOT_INO, "");
	while (!e && (e = pfs_tree_next(&t)) != PFS_TREE_END) {
		if (e != PFS_TREE_ENTRY) {
			e = e == -ENOMEM ? e : 0;
			continue;
		}
		e = 0;
		if (S_ISDIR(t.ent.type)) {
			e = pfs_tree_enter(&t);
			e = e == -ELOOP ? 0 : e;
		} else if (S_ISREG(t.ent.type) &&
			   !pfs_u64map_get(&ra->where, t.ent.ino)) {
			if (ra->norder == cap) {
				uint64_t *o;

				cap = cap ? 2 * cap : 4096;
				o = realloc(ra->order, cap * sizeof(*o));
				if (!o) {
					e = -ENOMEM;
					break;
				}
				ra->order = o;
			}
			e = pfs_u64map_put(&ra->where, t.ent.ino, ra->norder);
			ra->order[ra->norder++] = t.ent.ino;
		}
	}
	pfs_tree_free(&t);
	return e;
}

/* The chunk after @p in walk order: the file's next entry, or the first
 * of the next file with data.  Returns 1 and moves @p there, 0 if none. */
static int next_chunk(struct pfs_image *img, struct pfs_ra_pos *p,
		      struct pfs_chunk *ch)
{
	struct pfs_readahead *ra = &img->ra;
	uint64_t pos = p->pos;
	uint32_t idx = p->idx + 1;
	struct pfs_cinode ci;
	struct pfs_cur c;
	unsigned n;

	for (n = 0; pos < ra->norder && n < RA_SCAN; pos++, idx = 0, n++) {
		if (pfs_image_inode(img, ra->order[pos], &ci) ||
		    ci.in.kind != PFS_KIND_FILE || idx >= ci.in.list.count)
			continue;
		pfs_cur_init(&c, &img->rfs.msg);
		if (pfs_file_chunk(&c, &img->rfs, &ci.in, idx, ch))
			return 0;
		p->pos = pos;
		p->idx = idx;
		return 1;
	}
	return 0;
}

/* The reader moved to @at (lock held): forget what it has passed; a jump
 * backwards or beyond what was read ahead starts afresh there. */
static void ra_moved(struct pfs_readahead *ra, struct pfs_ra_pos at)
{
	unsigned i;

	if (!pos_le(ra->base, at) || !pos_le(at, ra->horizon)) {
		ra->nahead = 0;
		ra->horizon = at;
		ra->at_end = false;
		memset(ra->last, 0, sizeof(ra->last));
	}
	for (i = 0; i < ra->nahead && pos_le(ra->ahead[i], at); i++)
		;
	memmove(ra->ahead, ra->ahead + i, (ra->nahead - i) * sizeof(*ra->ahead));
	ra->nahead -= i;
	ra->base = at;
}

/* The next blob to warm (lock held): 1 and its chunk, 0 if none. */
static int ra_next(struct pfs_image *img, struct pfs_chunk *ch)
{
	struct pfs_readahead *ra = &img->ra;

	while (ra->nahead < ra->depth && !ra->at_end) {
		struct pfs_ra_pos p = ra->horizon;

		if (!next_chunk(img, &p, ch)) {
			ra->at_end = true;
			break;
		}
		ra->horizon = p;
		/* Small files share a blob: count each blob once. */
		if (!memcmp(ch->digest, ra->last, PFS_DIGEST_SIZE))
			continue;
		memcpy(ra->last, ch->digest, PFS_DIGEST_SIZE);
		ra->ahead[ra->nahead++] = p;
		return 1;
	}
	return 0;
}

/* Take the reader's newest position (lock held). */
static void ra_take_post(struct pfs_readahead *ra)
{
	uint64_t *where = pfs_u64map_get(&ra->where, ra->want_ino);
	struct pfs_ra_pos at;

	ra->posted = false;
	if (!where)
		return;
	at.pos = *where;
	at.idx = ra->want_idx;
	ra_moved(ra, at);
}

/*
 * Each readahead thread takes the next blob after the horizon and warms it
 * without the lock, so that several loads (disk reads) are in flight.  The
 * first one lists the files in walk order, once.
 */
static void *ra_main(void *arg)
{
	struct pfs_image *img = arg;
	struct pfs_readahead *ra = &img->ra;
	struct pfs_chunk ch;

	pthread_mutex_lock(&ra->lock);
	while (!ra->stop) {
		if (ra->ordered == 0) {
			ra->ordered = 1;
			pthread_mutex_unlock(&ra->lock);
			if (ra_order(img))
				ra->norder = 0;		/* no readahead then */
			pthread_mutex_lock(&ra->lock);
			ra->ordered = 2;
			pthread_cond_broadcast(&ra->wake);
			continue;
		}
		if (ra->ordered == 2 && ra->posted)
			ra_take_post(ra);
		if (ra->ordered == 2 && ra_next(img, &ch)) {
			pthread_mutex_unlock(&ra->lock);
			pfs_blob_warm(img->blobs, ch.digest, ch.compressed);
			pthread_mutex_lock(&ra->lock);
			continue;
		}
		pthread_cond_wait(&ra->wake, &ra->lock);
	}
	pthread_mutex_unlock(&ra->lock);
	return NULL;
}

/* The reader is at chunk @idx of @ino, in blob @digest.  The threads start
 * on first use (not at open: the FUSE daemon forks after opening). */
static void ra_post(struct pfs_image *img, uint64_t ino, uint32_t idx,
		    const uint8_t *digest)
{
	struct pfs_readahead *ra = &img->ra;

	/* Only a hint: a reader never waits for the readahead threads (they
	 * hold the lock while they look for the next blobs). */
	if (pthread_mutex_trylock(&ra->lock))
		return;
	/* Small files share blobs: the threads need to hear of each blob
	 * once, not of every file (each wakeup costs the reader a syscall). */
	if (!memcmp(ra->posted_blob, digest, PFS_DIGEST_SIZE)) {
		pthread_mutex_unlock(&ra->lock);
		return;
	}
	memcpy(ra->posted_blob, digest, PFS_DIGEST_SIZE);
	while (ra->depth && ra->nthreads < PFS_RA_THREADS) {
		if (pthread_create(&ra->thread[ra->nthreads], NULL, ra_main, img))
			break;
		ra->nthreads++;
	}
	if (!ra->nthreads)
		ra->depth = 0;
	ra->want_ino = ino;
	ra->want_idx = idx;
	ra->posted = true;
	pthread_cond_broadcast(&ra->wake);
	pthread_mutex_unlock(&ra->lock);
}

static void ra_init(struct pfs_readahead *ra, int depth)
{
	pthread_mutex_init(&ra->lock, NULL);
	pthread_cond_init(&ra->wake, NULL);
	ra->depth = depth < 0 ? 0 : depth == 0 ? RA_DEFAULT :
		    depth > PFS_RA_MAX ? PFS_RA_MAX : (unsigned)depth;
}

static void ra_stop(struct pfs_readahead *ra)
{
	unsigned i;

	pthread_mutex_lock(&ra->lock);
	ra->stop = true;
	pthread_cond_broadcast(&ra->wake);
	pthread_mutex_unlock(&ra->lock);
	for (i = 0; i < ra->nthreads; i++)
		pthread_join(ra->thread[i], NULL);
	ra->nthreads = 0;
	free(ra->order);
	pfs_u64map_free(&ra->where);
	pthread_mutex_destroy(&ra->lock);
	pthread_cond_destroy(&ra->wake);
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
 *
 * The rootfs is the largest read of a mount.  Its digest is taken from the
 * manifest's bytes before they are checked, only to start that read early
 * (prefetch_rootfs): the checks and the hashing of the manifest then run
 * while the disk works.  Nothing read is trusted before it is checked.
 */
struct rootfs_peek {
	struct pfs_image *img;
	struct pfs_manifest_rootfs mr;
	int e;
	bool done;
};

/* The scan is kept: once the same bytes pass their check, it holds. */
static void prefetch_rootfs(void *arg, const uint8_t *json, size_t len)
{
	struct rootfs_peek *p = arg;

	p->e = pfs_manifest_find_rootfs(json, len, &p->mr);
	p->done = true;
	if (!p->e && p->mr.size <= MAX_ROOTFS)
		pfs_oci_blob_prefetch(p->img->oci, p->mr.digest, p->mr.size);
}

static int load_manifest(struct pfs_image *img, const uint8_t *verity)
{
	struct rootfs_peek rp = { .img = img };
	struct pfs_blob_peek peek = { prefetch_rootfs, &rp };
	struct pfs_manifest_rootfs *mr = &rp.mr;
	char hex[2 * PFS_DIGEST_SIZE + 1];
	int e;

	e = pfs_oci_tag_resolve(img->oci, img->tag, &img->manifest_desc);
	if (!e)
		e = pfs_oci_blob_read(img->oci, img->manifest_desc.digest,
				      img->manifest_desc.size, PFS_MAX_JSON,
				      verity, &img->manifest_json,
				      &img->manifest_len, &peek);
	if (e)
		return e;
	e = rp.done ? rp.e : pfs_manifest_find_rootfs(img->manifest_json,
						      img->manifest_len, mr);
	if (e) {
		pfs_hex(img->manifest_desc.digest, PFS_DIGEST_SIZE, hex);
		return pfs_errf(&img->log, EINVAL,
				"%s: manifest %s of tag '%s': %s",
				img->oci->path, hex, img->tag,
				e == -ENOENT ? "missing PuzzleFS rootfs layer" :
				"malformed JSON or rootfs descriptor");
	}
	memcpy(img->manifest.rootfs.digest, mr->digest, PFS_DIGEST_SIZE);
	img->manifest.rootfs.size = mr->size;
	img->manifest.has_verity = mr->has_verity;
	memcpy(img->manifest.rootfs_verity, mr->verity, PFS_DIGEST_SIZE);
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
	img->manifest.config = m.config;
	img->manifest.has_config = m.has_config;
	img->chunks_loaded = true;
	return 0;
}

static int load_rootfs(struct pfs_image *img, const uint8_t *verity)
{
	u32 nseg;
	u64 n;
	int e;

	e = pfs_oci_blob_read(img->oci, img->manifest.rootfs.digest,
			      img->manifest.rootfs.size, MAX_ROOTFS, verity,
			      &img->rootfs_buf, &img->rootfs_len, NULL);
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
	e = pfs_rootfs_init_layers(&img->rfs, img->layers);
	if (e)
		return e;
	n = pfs_rootfs_index_len(&img->rfs);
	if (n) {
		img->index = calloc(n, sizeof(*img->index));
		if (!img->index)
			return -ENOMEM;
		pfs_rootfs_init_index(&img->rfs, img->index);
	}
	return 0;
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
	pfs_dcache_init(&img->derived);
	ra_init(&img->ra, opts ? opts->readahead : 0);
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
	ra_stop(&img->ra);		/* it uses the caches below */
	pfs_blob_cache_free(img->blobs);
	if (img->icache) {
		for (i = 0; i < IC_LOCKS; i++)
			pthread_mutex_destroy(&img->icache->locks[i]);
		free(img->icache);
	}
	census_free(img->census);
	pthread_mutex_destroy(&img->census_lock);
	pfs_dcache_destroy(&img->derived);
	pfs_manifest_free(&img->manifest);
	free(img->manifest_json);
	free(img->layers);
	free(img->index);
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
	a->has_mtime = in->has_mtime;
	a->mtime_sec = in->mtime_sec;
	a->mtime_nsec = in->mtime_nsec;
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
	struct pfs_derived *ref;
	struct pfs_cinode d;
	struct pfs_inode child;
	struct pfs_merged m;
	struct pfs_cur c;
	int e;

	if (len == 0 || len > PFS_NAME_MAX)
		return len ? -ENAMETOOLONG : -ENOENT;
	e = pfs_image_inode(img, dir, &d);
	if (e)
		return e;
	e = dir_merged(img, &d.in, pfs_dir_needs_merge(&d.in), &m, &ref);
	if (e)
		return e;
	pfs_cur_init(&c, &img->rfs.msg);
	e = pfs_dir_lookup(&c, &img->rfs, &d.in, ref ? &m : NULL, (const u8 *)name,
			   (u32)len, &child);
	pfs_derived_put(ref);
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
	struct pfs_derived *ref;
	struct pfs_cinode d;
	struct pfs_inode child;
	struct pfs_dirent de;
	struct pfs_merged m;
	struct pfs_cur c;
	int e;

	e = pfs_image_inode(img, dir, &d);
	if (e)
		return e;
	e = dir_merged(img, &d.in, d.in.look_below, &m, &ref);
	if (e)
		return e;
	pfs_cur_init(&c, &img->rfs.msg);
	e = pfs_dir_next(&c, &img->rfs, &d.in, &m, pos, &de, &child);
	pfs_derived_put(ref);
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
	struct pfs_derived *ends;
	struct pfs_cinode ci;
	struct pfs_chunk ch;
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
	ends = pfs_ends_get(&img->derived, &img->rfs, &ci.in);
	pfs_cur_init(&c, &img->rfs.msg);
	while (done < len) {
		uint64_t at = off + done, within;
		size_t n;

		e = pfs_file_seek(&c, &img->rfs, &ci.in, ends ? pfs_derived_ends(ends) : NULL,
				  at, &idx, &start, &ch);
		if (e) {
			e = e == -ENOENT || e == -PFS_ECORRUPT ? -EIO : e;
			break;
		}
		within = at - start;
		n = len - done;
		if (n > ch.len - within)
			n = (size_t)(ch.len - within);
		e = pfs_blob_read(img->blobs, ch.digest, ch.compressed,
				  ch.offset + within, n, (uint8_t *)buf + done);
		if (e)
			break;
		done += n;
	}
	pfs_derived_put(ends);
	if (e)
		return e;
	/* Sequential-looking: a read of several pages (the kernel's
	 * readahead), or one that reaches the end of the file (a small file
	 * read whole).  Random 4 KiB reads inside a file start nothing. */
	if (len >= 8192 || off + len == ci.size)
		ra_post(img, ino, idx, ch.digest);
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
		img->blocks = t.blocks;
		img->totals = true;
		free(t.inos);
		free(t.links);
		pfs_u64map_free(&t.nlink);
	}
	st->blocks = img->blocks;
	st->files = img->files;
	pthread_mutex_unlock(&img->census_lock);
	return 0;
}
