// SPDX-License-Identifier: MIT OR GPL-2.0
/*
 * Rootfs decoding; see rootfs.h.  Nothing here trusts the image: every
 * pointer goes through capnp.c, every count is checked before use, and
 * names, digests and xattrs are validated where they are read.
 */
#include "rootfs.h"

int pfs_corrupt(const struct pfs_rootfs *r, const char *fmt, ...)
{
	char msg[192];
	va_list ap;

	if (r && r->report) {
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		r->report(r->report_arg, msg);
	}
	return -PFS_ECORRUPT;
}

int pfs_rootfs_probe(const u8 *buf, u64 len, u32 *nseg)
{
	return pfs_msg_count_segments(buf, len, nseg);
}

/*
 * Every element of the lists we iterate has content, so it takes a word or
 * more: a list of zero-sized elements is corrupt.  This bounds every
 * iteration by the message's size (capnp charges such lists a word per
 * element, but each inode decode gets a fresh budget, and many inodes may
 * share one list).
 */
static bool sized(const struct pfs_list *l)
{
	return l->count == 0 || l->step != 0;
}

static bool digest_less(const u8 *a, const u8 *b)
{
	return memcmp(a, b, PFS_DIGEST_LEN) < 0;
}

static int check_verity_order(struct pfs_cur *c, struct pfs_rootfs *r)
{
	const u8 *prev = NULL, *d, *v;
	u32 i;
	int e;

	r->verity_sorted = true;
	for (i = 0; i < r->verity.count; i++) {
		e = pfs_verity_at(c, r, i, &d, &v);
		if (e)
			return e;
		if (prev && !digest_less(prev, d))
			r->verity_sorted = false;
		prev = d;
	}
	return 0;
}

int pfs_rootfs_init(struct pfs_rootfs *r, const u8 *buf, u64 len, u64 *seg,
		    u32 nseg)
{
	struct pfs_struct root;
	struct pfs_list metas;
	struct pfs_cur c;
	int e;

	r->layers = NULL;
	r->nlayers = 0;
	r->index = NULL;
	r->nindex = 0;
	if (pfs_msg_init(&r->msg, buf, len, seg, nseg))
		return pfs_corrupt(r, "rootfs: bad Cap'n Proto framing");
	pfs_cur_init(&c, &r->msg);
	if (pfs_capnp_root(&c, &root))
		return pfs_corrupt(r, "rootfs: bad root pointer");
	r->version = pfs_u64(&c, &root, PFS_ROOTFS_VERSION_OFF);
	if (r->version != PFS_MANIFEST_VERSION) {
		pfs_corrupt(r, "rootfs: manifest version %llu, expected %d",
			    (unsigned long long)r->version,
			    PFS_MANIFEST_VERSION);
		return -EINVAL;
	}
	if (pfs_get_list(&c, &root, PFS_ROOTFS_METADATAS_PTR, &metas) < 0 ||
	    pfs_get_list(&c, &root, PFS_ROOTFS_VERITY_PTR, &r->verity) < 0 ||
	    !sized(&metas) || !sized(&r->verity))
		return pfs_corrupt(r, "rootfs: bad layer or fs-verity list");
	if (metas.count == 0)
		return pfs_corrupt(r, "rootfs: no metadata layer");
	r->nlayers = metas.count;
	e = check_verity_order(&c, r);
	return e;
}

static u64 inode_ino(const struct pfs_cur *c, const struct pfs_list *l, u32 i)
{
	struct pfs_struct s;

	if (pfs_list_struct(c, l, i, &s))
		return 0;
	return pfs_u64(c, &s, PFS_INODE_INO_OFF);
}

/*
 * Charges inode @i's entry or chunk list to @c, the one cursor of the
 * open.  Other damage is left to the decode that meets it.
 */
static void charge_lists(struct pfs_cur *c, const struct pfs_list *l, u32 i)
{
	struct pfs_struct s, dir;
	struct pfs_list list;

	if (pfs_list_struct(c, l, i, &s))
		return;
	switch (pfs_u16(c, &s, PFS_INODE_MODE_OFF)) {
	case PFS_KIND_FILE:
		pfs_get_list(c, &s, PFS_INODE_PAYLOAD_PTR, &list);
		break;
	case PFS_KIND_DIR:
		if (pfs_get_struct(c, &s, PFS_INODE_PAYLOAD_PTR, &dir) > 0)
			pfs_get_list(c, &dir, PFS_DIR_ENTRIES_PTR, &list);
		break;
	}
}

/*
 * The open charges every layer's inode list and every inode's entry or
 * chunk list once.  Every object takes words of its own, so the charges
 * stay within the message's size (twice, for rounding), unless lists are
 * shared (by layers, or by inodes: a few words each, a whole list to walk
 * for each) or of empty elements.  This bounds the inode index and every
 * walk of the whole tree (census, extract, fsck) by the rootfs's size.
 */
static bool overcharged(const struct pfs_rootfs *r, const struct pfs_cur *c,
			u64 budget)
{
	return budget - c->budget > 2 * pfs_msg_words(&r->msg) + 64;
}

int pfs_rootfs_init_layers(struct pfs_rootfs *r, struct pfs_layer *layers)
{
	struct pfs_struct root, ivec;
	struct pfs_list metas;
	struct pfs_cur c;
	u64 budget;
	u32 l, i;

	pfs_cur_init(&c, &r->msg);
	budget = c.budget;
	if (pfs_capnp_root(&c, &root) ||
	    pfs_get_list(&c, &root, PFS_ROOTFS_METADATAS_PTR, &metas) < 0 ||
	    metas.count != r->nlayers)
		return pfs_corrupt(r, "rootfs: bad layer list");
	for (l = 0; l < r->nlayers; l++) {
		struct pfs_layer *ly = &layers[l];
		u64 prev = 0;

		if (pfs_list_struct(&c, &metas, l, &ivec) ||
		    pfs_get_list(&c, &ivec, PFS_IVEC_INODES_PTR,
				 &ly->inodes) < 0 ||
		    ly->inodes.elem == 1)
			return pfs_corrupt(r, "rootfs: layer %u: bad inode list",
					   l);
		if (overcharged(r, &c, budget))
			return pfs_corrupt(r,
				"rootfs: layer %u: lists add up to more than the rootfs holds (shared, or of empty elements)",
				l);
		for (i = 0; i < ly->inodes.count; i++) {
			u64 ino = inode_ino(&c, &ly->inodes, i);

			pfs_yield(i);
			if (ino == 0 || ino <= prev)
				return pfs_corrupt(r,
					"rootfs: layer %u: inode %llu out of order",
					l, (unsigned long long)ino);
			charge_lists(&c, &ly->inodes, i);
			if (overcharged(r, &c, budget))
				return pfs_corrupt(r,
					"rootfs: layer %u: inode %llu: lists add up to more than the rootfs holds (shared, or of empty elements)",
					l, (unsigned long long)ino);
			prev = ino;
		}
		ly->min_ino = ly->inodes.count ? inode_ino(&c, &ly->inodes, 0) : 0;
		ly->max_ino = prev;
	}
	r->layers = layers;
	return 0;
}

u64 pfs_rootfs_index_len(const struct pfs_rootfs *r)
{
	u64 n = 0;
	u32 l;

	if (r->nlayers <= PFS_LAYERS_SCAN)
		return 0;
	for (l = 0; l < r->nlayers; l++)
		n += r->layers[l].inodes.count;
	return n;
}

static bool ref_less(const void *pa, const void *pb)
{
	const struct pfs_ino_ref *a = pa, *b = pb;

	return a->ino < b->ino || (a->ino == b->ino && a->layer < b->layer);
}

#define SORT_MAX_ELEM 32
_Static_assert(sizeof(struct pfs_merged_ent) <= SORT_MAX_ELEM &&
	       sizeof(struct pfs_ino_ref) <= SORT_MAX_ELEM, "sort buffer");

static void swap_elem(u8 *a, u8 *b, size_t size)
{
	u8 t[SORT_MAX_ELEM];

	memcpy(t, a, size);
	memcpy(a, b, size);
	memcpy(b, t, size);
}

static void sift_down(u8 *v, u64 i, u64 n, size_t size,
		      bool (*less)(const void *, const void *))
{
	u64 child;

	while ((child = 2 * i + 1) < n) {
		if (child + 1 < n && less(v + child * size,
					  v + (child + 1) * size))
			child++;
		if (!less(v + i * size, v + child * size))
			return;
		swap_elem(v + i * size, v + child * size, size);
		i = child;
	}
}

/* Heapsort: in place, no recursion, O(n log n) whatever the input (the
 * kernel's sort() is the same; core/ has its own to stay one source). */
static void heap_sort(void *base, u64 n, size_t size,
		      bool (*less)(const void *, const void *))
{
	u8 *v = base;
	u64 i;

	for (i = n / 2; i > 0; i--) {
		pfs_yield(i);
		sift_down(v, i - 1, n, size, less);
	}
	for (i = n; i > 1; i--) {
		pfs_yield(i);
		swap_elem(v, v + (i - 1) * size, size);
		sift_down(v, 0, i - 1, size, less);
	}
}

void pfs_rootfs_init_index(struct pfs_rootfs *r, struct pfs_ino_ref *index)
{
	struct pfs_cur c;
	u64 n = 0;
	u32 l, i;

	for (l = 0; l < r->nlayers; l++) {
		pfs_cur_init(&c, &r->msg);
		for (i = 0; i < r->layers[l].inodes.count; i++, n++) {
			pfs_yield(n);
			index[n].ino = inode_ino(&c, &r->layers[l].inodes, i);
			index[n].layer = l;
			index[n].index = i;
		}
	}
	heap_sort(index, n, sizeof(*index), ref_less);
	r->index = index;
	r->nindex = n;
}

/* Ours: an mtime when the data section holds one (the reference's inodes
 * end before it) and its nanoseconds are valid (not the "none" marker). */
static void decode_mtime(const struct pfs_cur *c, const struct pfs_struct *s,
			 struct pfs_inode *out)
{
	u32 nsec;

	if (s->data_len < PFS_INODE_MTIME_DATA_BYTES)
		return;
	nsec = pfs_u32(c, s, PFS_INODE_MTIME_NSEC_OFF);
	if (nsec >= PFS_NSEC_PER_SEC)
		return;
	out->has_mtime = true;
	out->mtime_sec = (s64)pfs_u64(c, s, PFS_INODE_MTIME_OFF);
	out->mtime_nsec = nsec;
}

static int decode_inode(struct pfs_cur *c, const struct pfs_rootfs *r,
			u32 layer, u32 index, const struct pfs_struct *s,
			struct pfs_inode *out)
{
	struct pfs_struct p, addl;
	int e = 0;

	memset(out, 0, sizeof(*out));
	out->ino = pfs_u64(c, s, PFS_INODE_INO_OFF);
	out->layer = layer;
	out->index = index;
	out->kind = pfs_u16(c, s, PFS_INODE_MODE_OFF);
	out->perm = pfs_u16(c, s, PFS_INODE_PERM_OFF) & 07777;
	out->uid = pfs_u32(c, s, PFS_INODE_UID_OFF);
	out->gid = pfs_u32(c, s, PFS_INODE_GID_OFF);
	decode_mtime(c, s, out);
	switch (out->kind) {
	case PFS_KIND_CHR:
	case PFS_KIND_BLK:
		e = pfs_get_struct(c, s, PFS_INODE_PAYLOAD_PTR, &p);
		out->major = pfs_u64(c, &p, PFS_DEV_MAJOR_OFF);
		out->minor = pfs_u64(c, &p, PFS_DEV_MINOR_OFF);
		break;
	case PFS_KIND_DIR:
		e = pfs_get_struct(c, s, PFS_INODE_PAYLOAD_PTR, &p);
		if (e >= 0)
			e = pfs_get_list(c, &p, PFS_DIR_ENTRIES_PTR, &out->list);
		out->look_below = pfs_bit(c, &p, PFS_DIR_LOOKBELOW_BIT);
		break;
	case PFS_KIND_FILE:
		e = pfs_get_list(c, s, PFS_INODE_PAYLOAD_PTR, &out->list);
		break;
	case PFS_KIND_UNKNOWN:
	case PFS_KIND_FIFO:
	case PFS_KIND_LNK:
	case PFS_KIND_SOCK:
	case PFS_KIND_WHT:
		break;
	default:
		return pfs_corrupt(r, "inode %llu: unknown mode %u",
				   (unsigned long long)out->ino, out->kind);
	}
	if (e < 0 || out->list.elem == 1 || !sized(&out->list))
		return pfs_corrupt(r, "inode %llu: bad payload",
				   (unsigned long long)out->ino);
	e = pfs_get_struct(c, s, PFS_INODE_ADDITIONAL_PTR, &addl);
	if (e > 0) {
		out->has_additional = true;
		if (pfs_get_list(c, &addl, PFS_ADDL_XATTRS_PTR, &out->xattrs) < 0 ||
		    out->xattrs.elem == 1 || !sized(&out->xattrs) ||
		    pfs_get_data(c, &addl, PFS_ADDL_TARGET_PTR, &out->target,
				 &out->target_len) < 0)
			e = -1;
	}
	if (e < 0)
		return pfs_corrupt(r, "inode %llu: bad additional data",
				   (unsigned long long)out->ino);
	/* Every getxattr scans the list: keep it to what could be listed. */
	if (out->xattrs.count > PFS_XATTR_MAX)
		return pfs_corrupt(r, "inode %llu: %u xattrs (at most %u can be listed)",
				   (unsigned long long)out->ino,
				   out->xattrs.count, PFS_XATTR_MAX);
	if (out->kind == PFS_KIND_LNK && out->target_len > 4095)
		return pfs_corrupt(r, "inode %llu: symlink target too long",
				   (unsigned long long)out->ino);
	return 0;
}

/* The first (ino, layer >= from) in the index. */
static int find_indexed(struct pfs_cur *c, const struct pfs_rootfs *r, u64 ino,
			u32 from, struct pfs_inode *out)
{
	const struct pfs_ino_ref key = { ino, from, 0 }, *x;
	u64 lo = 0, hi = r->nindex;
	struct pfs_struct s;

	while (lo < hi) {
		u64 mid = lo + (hi - lo) / 2;

		if (ref_less(&r->index[mid], &key))
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == r->nindex || r->index[lo].ino != ino)
		return -ENOENT;
	x = &r->index[lo];
	if (pfs_list_struct(c, &r->layers[x->layer].inodes, x->index, &s))
		return -PFS_ECORRUPT;
	return decode_inode(c, r, x->layer, x->index, &s, out);
}

int pfs_inode_find(struct pfs_cur *c, const struct pfs_rootfs *r, u64 ino,
		   u32 from, struct pfs_inode *out)
{
	u32 l;

	if (r->index)
		return find_indexed(c, r, ino, from, out);
	for (l = from; l < r->nlayers; l++) {
		const struct pfs_layer *ly = &r->layers[l];
		u32 lo = 0, hi = ly->inodes.count;

		if (hi == 0 || ino < ly->min_ino || ino > ly->max_ino)
			continue;
		while (lo < hi) {
			u32 mid = lo + (hi - lo) / 2;
			struct pfs_struct s;
			u64 v;

			if (pfs_list_struct(c, &ly->inodes, mid, &s))
				return -PFS_ECORRUPT;
			v = pfs_u64(c, &s, PFS_INODE_INO_OFF);
			if (v == ino)
				return decode_inode(c, r, l, mid, &s, out);
			if (v < ino)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	return -ENOENT;
}

int pfs_layer_inode(struct pfs_cur *c, const struct pfs_rootfs *r, u32 layer,
		    u32 i, struct pfs_inode *out)
{
	struct pfs_struct s;

	if (layer >= r->nlayers ||
	    pfs_list_struct(c, &r->layers[layer].inodes, i, &s))
		return -ENOENT;
	return decode_inode(c, r, layer, i, &s, out);
}

int pfs_inode_get(struct pfs_cur *c, const struct pfs_rootfs *r, u64 ino,
		  struct pfs_inode *out)
{
	int e = pfs_inode_find(c, r, ino, 0, out);

	if (e == 0 && out->kind == PFS_KIND_WHT)
		return -ENOENT;
	return e;
}

static int chunk_len(const struct pfs_cur *c, const struct pfs_inode *in,
		     u32 i, u64 *len)
{
	struct pfs_struct s;

	if (pfs_list_struct(c, &in->list, i, &s))
		return -PFS_ECORRUPT;
	*len = pfs_u64(c, &s, PFS_CHUNK_LEN_OFF);
	return 0;
}

int pfs_file_chunk(struct pfs_cur *c, const struct pfs_rootfs *r,
		   const struct pfs_inode *in, u32 i, struct pfs_chunk *out)
{
	struct pfs_struct s, blob;
	u32 dlen;

	if (in->kind != PFS_KIND_FILE || pfs_list_struct(c, &in->list, i, &s))
		return pfs_corrupt(r, "inode %llu: bad chunk %u",
				   (unsigned long long)in->ino, i);
	out->len = pfs_u64(c, &s, PFS_CHUNK_LEN_OFF);
	if (pfs_get_struct(c, &s, PFS_CHUNK_BLOB_PTR, &blob) <= 0 ||
	    pfs_get_data(c, &blob, PFS_BLOBREF_DIGEST_PTR, &out->digest,
			 &dlen) <= 0 || dlen != PFS_DIGEST_LEN)
		return pfs_corrupt(r, "inode %llu: chunk %u: bad blob reference",
				   (unsigned long long)in->ino, i);
	out->offset = pfs_u64(c, &blob, PFS_BLOBREF_OFFSET_OFF);
	out->compressed = pfs_bit(c, &blob, PFS_BLOBREF_COMPRESSED_BIT);
	if (out->offset + out->len < out->offset)
		return pfs_corrupt(r, "inode %llu: chunk %u: bad extent",
				   (unsigned long long)in->ino, i);
	return 0;
}

#define PFS_MAX_FILE_SIZE ((u64)1 << 62)

/* Sums the chunk lengths, storing each chunk's end offset if @ends. */
static int sum_chunks(struct pfs_cur *c, const struct pfs_rootfs *r,
		      const struct pfs_inode *in, u64 *ends, u64 *size)
{
	u64 sum = 0, len;
	u32 i;

	*size = 0;
	if (in->kind != PFS_KIND_FILE)
		return 0;
	for (i = 0; i < in->list.count; i++) {
		if (chunk_len(c, in, i, &len) || len > PFS_MAX_FILE_SIZE - sum)
			return pfs_corrupt(r, "inode %llu: bad file size",
					   (unsigned long long)in->ino);
		sum += len;
		if (ends)
			ends[i] = sum;
	}
	*size = sum;
	return 0;
}

int pfs_file_size(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *in, u64 *size)
{
	return sum_chunks(c, r, in, NULL, size);
}

int pfs_file_ends(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *in, u64 *ends)
{
	u64 size;

	return sum_chunks(c, r, in, ends, &size);
}

/* The first chunk that ends after @off (chunks of length 0 end where they
 * start, so they are never it): the hinted one or the next if it is (reads
 * in order), else found by binary search. */
static int seek_ends(struct pfs_cur *c, const struct pfs_rootfs *r,
		     const struct pfs_inode *in, const u64 *ends, u64 off,
		     u32 *idx, u64 *start, struct pfs_chunk *chunk)
{
	u32 lo = 0, hi = in->list.count, i = *idx;

	if (i < hi && off < ends[i] && (i ? ends[i - 1] : 0) <= off)
		lo = hi = i;
	else if (i < hi && i + 1 < hi && off < ends[i + 1] && ends[i] <= off)
		lo = hi = i + 1;
	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		if (ends[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == in->list.count)
		return -ENOENT;
	*idx = lo;
	*start = lo ? ends[lo - 1] : 0;
	return pfs_file_chunk(c, r, in, lo, chunk);
}

int pfs_file_seek(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *in, const u64 *ends, u64 off,
		  u32 *idx, u64 *start, struct pfs_chunk *chunk)
{
	u64 pos = *start, len;
	u32 i = *idx;

	if (in->kind != PFS_KIND_FILE)
		return -EINVAL;
	if (ends)
		return seek_ends(c, r, in, ends, off, idx, start, chunk);
	if (i >= in->list.count || pos > off) {
		i = 0;
		pos = 0;
	}
	for (; i < in->list.count; i++) {
		if (chunk_len(c, in, i, &len))
			return -PFS_ECORRUPT;
		if (off - pos < len) {
			*idx = i;
			*start = pos;
			return pfs_file_chunk(c, r, in, i, chunk);
		}
		if (len > PFS_MAX_FILE_SIZE - pos)
			return pfs_corrupt(r, "inode %llu: bad file size",
					   (unsigned long long)in->ino);
		pos += len;
	}
	return -ENOENT;
}

static bool valid_name(const u8 *name, u32 len)
{
	if (len == 0 || len > PFS_NAME_MAX)
		return false;
	if (name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')))
		return false;
	return !memchr(name, '/', len) && !memchr(name, 0, len);
}

int pfs_dirent_at(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *dir, u32 i, struct pfs_dirent *out)
{
	struct pfs_struct s;

	if (dir->kind != PFS_KIND_DIR || pfs_list_struct(c, &dir->list, i, &s))
		return pfs_corrupt(r, "directory %llu: bad entry %u",
				   (unsigned long long)dir->ino, i);
	out->ino = pfs_u64(c, &s, PFS_DIRENT_INO_OFF);
	if (pfs_get_data(c, &s, PFS_DIRENT_NAME_PTR, &out->name,
			 &out->name_len) < 0 ||
	    !valid_name(out->name, out->name_len))
		return pfs_corrupt(r, "directory %llu: entry %u: invalid name",
				   (unsigned long long)dir->ino, i);
	return 0;
}

int pfs_dir_check_order(struct pfs_cur *c, const struct pfs_rootfs *r,
			struct pfs_inode *dir)
{
	struct pfs_dirent prev, cur;
	u32 i, runs = 1;
	int e;

	dir->order = PFS_DIR_SORTED;
	dir->nruns = 0;
	dir->run[0] = 0;
	for (i = 0; i < dir->list.count; i++) {
		e = pfs_dirent_at(c, r, dir, i, &cur);
		if (e)
			return e;
		if (i && pfs_name_cmp(prev.name, prev.name_len, cur.name,
				      cur.name_len) >= 0) {
			if (runs == r->nlayers)
				return pfs_corrupt(r,
					"directory %llu: entries out of order (more sorted runs than the image has layers, %u)",
					(unsigned long long)dir->ino,
					r->nlayers);
			if (runs < PFS_DIR_MAX_RUNS)
				dir->run[runs] = i;
			runs++;
		}
		prev = cur;
	}
	if (runs > 1) {
		dir->order = PFS_DIR_UNSORTED;
		/* Past the runs remembered: merged (pfs_dir_needs_merge). */
		dir->nruns = runs <= PFS_DIR_MAX_RUNS ? (u8)runs : 0;
	}
	return 0;
}

/* Binary search of entries [lo, hi), sorted: 1 found, 0 absent. */
static int find_sorted(struct pfs_cur *c, const struct pfs_rootfs *r,
		       const struct pfs_inode *dir, u32 lo, u32 hi,
		       const u8 *name, u32 len, struct pfs_dirent *de)
{
	int e, d;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;

		e = pfs_dirent_at(c, r, dir, mid, de);
		if (e)
			return e;
		d = pfs_name_cmp(de->name, de->name_len, name, len);
		if (d == 0)
			return 1;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/* Search one version of a directory: 1 found, 0 absent. */
static int dir_find(struct pfs_cur *c, const struct pfs_rootfs *r,
		    const struct pfs_inode *dir, const u8 *name, u32 len,
		    struct pfs_dirent *de)
{
	u32 i, end;
	int e;

	if (dir->order == PFS_DIR_SORTED)
		return find_sorted(c, r, dir, 0, dir->list.count, name, len,
				   de);
	if (dir->order == PFS_DIR_UNSORTED && dir->nruns) {
		for (i = 0; i < dir->nruns; i++) {
			end = i + 1 < dir->nruns ? dir->run[i + 1] :
						   dir->list.count;
			e = find_sorted(c, r, dir, dir->run[i], end, name, len,
					de);
			if (e)
				return e;
		}
		return 0;
	}
	/* Not checked, or more runs than remembered and no merged list from
	 * the caller: entry by entry. */
	for (i = 0; i < dir->list.count; i++) {
		e = pfs_dirent_at(c, r, dir, i, de);
		if (e)
			return e;
		if (de->name_len == len && !memcmp(de->name, name, len))
			return 1;
	}
	return 0;
}

/* The version of @dir in the layers below it, if it is merged with it. */
static int dir_below(struct pfs_cur *c, const struct pfs_rootfs *r,
		     const struct pfs_inode *dir, struct pfs_inode *lower)
{
	int e;

	if (!dir->look_below)
		return 0;
	e = pfs_inode_find(c, r, dir->ino, dir->layer + 1, lower);
	if (e == -ENOENT)
		return 0;
	if (e)
		return e;
	return lower->kind == PFS_KIND_DIR;
}

static int entry_inode(struct pfs_cur *c, const struct pfs_rootfs *r,
		       const struct pfs_inode *dir,
		       const struct pfs_dirent *de, struct pfs_inode *child)
{
	int e = pfs_inode_find(c, r, de->ino, 0, child);

	if (e == -ENOENT)
		return pfs_corrupt(r,
			"directory %llu: entry '%.*s' points to missing inode %llu",
			(unsigned long long)dir->ino, (int)de->name_len,
			de->name, (unsigned long long)de->ino);
	return e;
}

/* The entry called @name in a merged directory's entries: its index, or
 * m->n. */
static u64 merged_find(const struct pfs_merged *m, const u8 *name, u32 len)
{
	u64 lo = 0, hi = m->n;
	int d;

	while (lo < hi) {
		u64 mid = lo + (hi - lo) / 2;

		d = pfs_name_cmp(m->ent[mid].name, m->ent[mid].name_len, name,
				 len);
		if (d == 0)
			return mid;
		if (d < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return m->n;
}

int pfs_dir_lookup(struct pfs_cur *c, const struct pfs_rootfs *r,
		   const struct pfs_inode *dir, const struct pfs_merged *m,
		   const u8 *name, u32 len, struct pfs_inode *child)
{
	struct pfs_dirent de;
	u64 i;
	int e;

	if (dir->kind != PFS_KIND_DIR)
		return -ENOTDIR;
	if (dir->look_below && !m)
		return -EINVAL;
	if (m) {
		i = merged_find(m, name, len);
		if (i == m->n)
			return -ENOENT;
		de.ino = m->ent[i].ino;
		de.name = m->ent[i].name;
		de.name_len = m->ent[i].name_len;
	} else {
		e = dir_find(c, r, dir, name, len, &de);
		if (e <= 0)
			return e ? e : -ENOENT;
	}
	e = entry_inode(c, r, dir, &de, child);
	if (e)
		return e;
	return child->kind == PFS_KIND_WHT ? -ENOENT : 0;
}

int pfs_dir_next(struct pfs_cur *c, const struct pfs_rootfs *r,
		 const struct pfs_inode *dir, const struct pfs_merged *m,
		 u64 *pos, struct pfs_dirent *de, struct pfs_inode *child)
{
	const struct pfs_merged_ent *me;
	int e;

	if (dir->kind != PFS_KIND_DIR)
		return -ENOTDIR;
	if (dir->look_below && !m)
		return -EINVAL;
	for (;;) {
		if (*pos >= (dir->look_below ? m->n : dir->list.count))
			return 0;
		if (dir->look_below) {
			me = &m->ent[(*pos)++];
			de->ino = me->ino;
			de->name = me->name;
			de->name_len = me->name_len;
		} else {
			e = pfs_dirent_at(c, r, dir, (u32)(*pos)++, de);
			if (e)
				return e;
		}
		e = entry_inode(c, r, dir, de, child);
		if (e)
			return e;
		if (child->kind != PFS_KIND_WHT)
			return 1;
	}
}

/* ---- merged directories ---- */

/* Calls @fn on every version of @dir, top first (depth 0), until it
 * returns non-zero or the versions end.  Depth is below the layer count:
 * each version is found in a layer below the last. */
static int each_version(struct pfs_cur *c, const struct pfs_rootfs *r,
			const struct pfs_inode *dir,
			int (*fn)(const struct pfs_inode *ver, u32 depth,
				  void *arg),
			void *arg)
{
	struct pfs_inode ver = *dir;
	u32 depth;
	int e;

	for (depth = 0;; depth++) {
		e = fn(&ver, depth, arg);
		if (e)
			return e < 0 ? e : 0;
		e = dir_below(c, r, &ver, &ver);
		if (e <= 0)
			return e;
	}
}

/* Versions are inodes of their own, whose lists the open charged: their
 * entries add up to no more than the rootfs holds. */
static int count_version(const struct pfs_inode *ver, u32 depth, void *arg)
{
	(void)depth;
	*(u64 *)arg += ver->list.count;
	return 0;
}

int pfs_dir_merge_len(struct pfs_cur *c, const struct pfs_rootfs *r,
		      const struct pfs_inode *dir, u64 *n)
{
	*n = 0;
	if (dir->kind != PFS_KIND_DIR)
		return -ENOTDIR;
	return each_version(c, r, dir, count_version, n);
}

struct merge_fill {
	const struct pfs_rootfs *r;
	struct pfs_merged_ent *ent;
	u64 cap, n;
};

static int fill_version(const struct pfs_inode *ver, u32 depth, void *arg)
{
	struct merge_fill *mf = arg;
	struct pfs_dirent de;
	struct pfs_cur c;
	u32 i;
	int e;

	pfs_cur_init(&c, &mf->r->msg);
	for (i = 0; i < ver->list.count; i++) {
		if (mf->n == mf->cap)
			return -EINVAL;
		e = pfs_dirent_at(&c, mf->r, ver, i, &de);
		if (e)
			return e;
		mf->ent[mf->n].ino = de.ino;
		mf->ent[mf->n].name = de.name;
		mf->ent[mf->n].name_len = de.name_len;
		mf->ent[mf->n].depth = depth;
		mf->n++;
		pfs_yield(mf->n);
	}
	return 0;
}

static bool merged_less(const void *pa, const void *pb)
{
	const struct pfs_merged_ent *a = pa, *b = pb;
	int d = pfs_name_cmp(a->name, a->name_len, b->name, b->name_len);

	return d < 0 || (d == 0 && a->depth < b->depth);
}

/* Keeps the topmost entry of each name whose inode is not a whiteout. */
static int keep_visible(const struct pfs_rootfs *r,
			const struct pfs_inode *dir, struct pfs_merged_ent *ent,
			u64 *n)
{
	struct pfs_inode child;
	struct pfs_dirent de;
	struct pfs_cur c;
	u64 i, k = 0;
	int e;

	for (i = 0; i < *n; i++) {
		if (i && !pfs_name_cmp(ent[i].name, ent[i].name_len,
				       ent[i - 1].name, ent[i - 1].name_len))
			continue;
		de.ino = ent[i].ino;
		de.name = ent[i].name;
		de.name_len = ent[i].name_len;
		pfs_cur_init(&c, &r->msg);
		e = entry_inode(&c, r, dir, &de, &child);
		if (e)
			return e;
		pfs_yield(i);
		if (child.kind == PFS_KIND_WHT)
			continue;
		ent[k++] = ent[i];
	}
	*n = k;
	return 0;
}

int pfs_dir_merge(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *dir, struct pfs_merged_ent *ent,
		  u64 cap, u64 *n)
{
	struct merge_fill mf = { r, ent, cap, 0 };
	int e;

	*n = 0;
	if (dir->kind != PFS_KIND_DIR)
		return -ENOTDIR;
	e = each_version(c, r, dir, fill_version, &mf);
	if (e)
		return e;
	heap_sort(ent, mf.n, sizeof(*ent), merged_less);
	e = keep_visible(r, dir, ent, &mf.n);
	if (!e)
		*n = mf.n;
	return e;
}

int pfs_xattr_at(struct pfs_cur *c, const struct pfs_rootfs *r,
		 const struct pfs_inode *in, u32 i, struct pfs_xattr *out)
{
	struct pfs_struct s;

	if (pfs_list_struct(c, &in->xattrs, i, &s) ||
	    pfs_get_data(c, &s, PFS_XATTR_KEY_PTR, &out->key,
			 &out->key_len) < 0 ||
	    pfs_get_data(c, &s, PFS_XATTR_VAL_PTR, &out->val,
			 &out->val_len) < 0 ||
	    out->key_len == 0 || out->key_len > 255 ||
	    memchr(out->key, 0, out->key_len) || out->val_len > 65536)
		return pfs_corrupt(r, "inode %llu: bad xattr %u",
				   (unsigned long long)in->ino, i);
	if (!out->val)
		out->val = out->key;	/* empty value: any valid pointer */
	return 0;
}

int pfs_verity_at(struct pfs_cur *c, const struct pfs_rootfs *r, u32 i,
		  const u8 **digest, const u8 **verity)
{
	struct pfs_struct s;
	u32 dl, vl;

	if (pfs_list_struct(c, &r->verity, i, &s) ||
	    pfs_get_data(c, &s, PFS_VDATA_DIGEST_PTR, digest, &dl) <= 0 ||
	    pfs_get_data(c, &s, PFS_VDATA_VERITY_PTR, verity, &vl) <= 0 ||
	    dl != PFS_DIGEST_LEN || vl != PFS_DIGEST_LEN)
		return pfs_corrupt(r, "rootfs: bad fs-verity entry %u", i);
	return 0;
}

int pfs_verity_find(struct pfs_cur *c, const struct pfs_rootfs *r,
		    const u8 *digest, const u8 **verity)
{
	u32 lo = 0, hi = r->verity.count, i;
	const u8 *d;
	int e, cmp;

	if (r->verity_sorted) {
		while (lo < hi) {
			u32 mid = lo + (hi - lo) / 2;

			e = pfs_verity_at(c, r, mid, &d, verity);
			if (e)
				return e;
			cmp = memcmp(d, digest, PFS_DIGEST_LEN);
			if (cmp == 0)
				return 0;
			if (cmp < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return -ENOENT;
	}
	for (i = 0; i < r->verity.count; i++) {
		e = pfs_verity_at(c, r, i, &d, verity);
		if (e)
			return e;
		if (!memcmp(d, digest, PFS_DIGEST_LEN))
			return 0;
	}
	return -ENOENT;
}
