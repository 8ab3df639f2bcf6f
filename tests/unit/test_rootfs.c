// SPDX-License-Identifier: MIT
/*
 * The rootfs codec: our encoder against the shared decoder, the reference's
 * multi-segment rootfs blobs, a hand-made double-far message, and hostile
 * variants of valid messages (every truncation, many byte flips).
 */
#include "write/model.h"
#include "check.h"
#include "exercise.h"

static const char *const REF = "reference-images/demo/blobs/sha256/";

static uint8_t *dup_bytes(const char *s, uint32_t *len)
{
	*len = (uint32_t)strlen(s);
	return (uint8_t *)strdup(s);
}

/* Three-layer model: top layer with a file, a device, a symlink with
 * xattrs; a whiteout; lower layers with the root directory. */
static void make_model(struct pfs_mlayer *l, struct pfs_mverity *v)
{
	struct pfs_minode *in;
	struct pfs_mchunk ch = { .offset = 42, .len = 100, .compressed = true };

	memset(ch.digest, 0xab, sizeof(ch.digest));
	l[0].count = 4;
	l[0].inodes = calloc(4, sizeof(struct pfs_minode));
	in = &l[0].inodes[0];
	in->ino = 2;
	in->kind = PFS_KIND_FILE;
	in->perm = 06755;
	in->uid = 1000;
	in->gid = 100;
	pfs_minode_add_chunk(in, &ch);
	ch.offset = 0;
	ch.len = 7;
	ch.compressed = false;
	pfs_minode_add_chunk(in, &ch);
	in = &l[0].inodes[1];
	in->ino = 3;
	in->kind = PFS_KIND_CHR;
	in->major = 64;
	in->minor = 65536;
	in = &l[0].inodes[2];
	in->ino = 4;
	in->kind = PFS_KIND_LNK;
	in->perm = 0777;
	in->has_additional = true;
	in->has_target = true;
	in->target = dup_bytes("some/other/path", &in->target_len);
	in->nxattrs = 2;
	in->xattrs = calloc(2, sizeof(*in->xattrs));
	in->xattrs[0].key = dup_bytes("user.a", &in->xattrs[0].key_len);
	in->xattrs[0].val = dup_bytes("", &in->xattrs[0].val_len);
	in->xattrs[1].key = dup_bytes("user.b", &in->xattrs[1].key_len);
	in->xattrs[1].val = dup_bytes("with some value", &in->xattrs[1].val_len);
	in = &l[0].inodes[3];
	in->ino = 5;
	in->kind = PFS_KIND_WHT;
	in->perm = 0644;

	l[1].count = 1;
	l[1].inodes = calloc(1, sizeof(struct pfs_minode));
	in = &l[1].inodes[0];
	in->ino = 1;
	in->kind = PFS_KIND_DIR;
	in->perm = 0755;
	pfs_minode_add_dirent(in, 2, (const uint8_t *)"file", 4);
	pfs_minode_add_dirent(in, 3, (const uint8_t *)"null", 4);
	pfs_minode_add_dirent(in, 4, (const uint8_t *)"sym", 3);
	pfs_minode_add_dirent(in, 5, (const uint8_t *)"zgone", 5);
	l[2].count = 0;
	memset(v->digest, 0xab, 32);
	memset(v->verity, 0xcd, 32);
}

static void check_model(const uint8_t *buf, size_t len)
{
	struct pfs_rootfs r = { 0 };
	struct pfs_layer layers[3];
	struct pfs_inode in, child, root;
	struct pfs_chunk ch;
	struct pfs_xattr x;
	struct pfs_dirent de;
	struct pfs_cur c;
	const u8 *v;
	u64 seg[2], size, pos = 0;
	u32 nseg, names = 0;

	CHECK(pfs_rootfs_probe(buf, len, &nseg) == 0 && nseg == 1);
	CHECK(pfs_rootfs_init(&r, buf, len, seg, nseg) == 0);
	CHECK_EQ_U64(r.nlayers, 3);
	CHECK(pfs_rootfs_init_layers(&r, layers) == 0);
	pfs_cur_init(&c, &r.msg);
	CHECK(pfs_inode_get(&c, &r, 2, &in) == 0);
	CHECK(in.kind == PFS_KIND_FILE && in.perm == 06755 && in.uid == 1000 &&
	      in.gid == 100 && in.layer == 0);
	CHECK(pfs_file_size(&c, &r, &in, &size) == 0 && size == 107);
	CHECK(pfs_file_chunk(&c, &r, &in, 0, &ch) == 0);
	CHECK(ch.offset == 42 && ch.len == 100 && ch.compressed &&
	      ch.digest[0] == 0xab);
	CHECK(pfs_file_chunk(&c, &r, &in, 1, &ch) == 0);
	CHECK(ch.offset == 0 && ch.len == 7 && !ch.compressed &&
	      ch.digest[0] == 0xab && ch.digest[31] == 0xab);
	{
		/* Seeking by the ends array agrees with the walk. */
		static const u64 at[] = { 0, 99, 100, 106, 107, 1000 };
		u64 ends[2], s1 = 0, s2 = 0;
		u32 i, i1 = 0, i2 = 0;

		CHECK(pfs_file_ends(&c, &r, &in, ends) == 0 && ends[0] == 100 &&
		      ends[1] == 107);
		for (i = 0; i < 6; i++) {
			int e1 = pfs_file_seek(&c, &r, &in, NULL, at[i], &i1,
					       &s1, &ch);
			int e2 = pfs_file_seek(&c, &r, &in, ends, at[i], &i2,
					       &s2, &ch);

			CHECK(e1 == e2 && (e1 || (i1 == i2 && s1 == s2)));
			CHECK(e1 == (at[i] < 107 ? 0 : -ENOENT));
		}
		CHECK(i2 == 1 && s2 == 100);
		i2 = 0xffffffff;	/* a hint is only a hint */
		CHECK(pfs_file_seek(&c, &r, &in, ends, 5, &i2, &s2, &ch) == 0 &&
		      i2 == 0 && s2 == 0);
	}
	CHECK(pfs_inode_get(&c, &r, 3, &in) == 0);
	CHECK(in.kind == PFS_KIND_CHR && in.major == 64 && in.minor == 65536);
	CHECK(pfs_inode_get(&c, &r, 4, &in) == 0);
	CHECK(in.kind == PFS_KIND_LNK && in.target_len == 15 &&
	      !memcmp(in.target, "some/other/path", 15));
	CHECK(pfs_xattr_count(&in) == 2);
	CHECK(pfs_xattr_at(&c, &r, &in, 0, &x) == 0 && x.val_len == 0);
	CHECK(pfs_xattr_at(&c, &r, &in, 1, &x) == 0 && x.key_len == 6 &&
	      !memcmp(x.val, "with some value", 15));
	CHECK(pfs_inode_get(&c, &r, 5, &in) == -ENOENT);	/* whiteout */
	CHECK(pfs_inode_find(&c, &r, 5, 0, &in) == 0 && in.kind == PFS_KIND_WHT);
	CHECK(pfs_inode_get(&c, &r, 6, &in) == -ENOENT);
	CHECK(pfs_inode_get(&c, &r, 1, &root) == 0 && root.layer == 1);
	CHECK(pfs_dir_check_order(&c, &r, &root) == 0 &&
	      root.order == PFS_DIR_SORTED);
	CHECK(pfs_dir_lookup(&c, &r, &root, NULL, (const u8 *)"sym", 3, &child) == 0 &&
	      child.ino == 4);
	CHECK(pfs_dir_lookup(&c, &r, &root, NULL, (const u8 *)"zgone", 5, &child) ==
	      -ENOENT);
	CHECK(pfs_dir_lookup(&c, &r, &root, NULL, (const u8 *)"nope", 4, &child) ==
	      -ENOENT);
	/* Iteration hides the whiteout. */
	while (pfs_dir_next(&c, &r, &root, NULL, &pos, &de, &child) == 1)
		names++;
	CHECK_EQ_U64(names, 3);
	CHECK(pfs_verity_find(&c, &r, ch.digest, &v) == 0 && v[0] == 0xcd);
	{
		/* The inode index finds what the layer search finds (it is
		 * used above PFS_LAYERS_SCAN layers; any count works). */
		struct pfs_ino_ref index[16];
		struct pfs_inode a, b;
		u64 ino, n = 0;
		u32 l, from;

		CHECK(pfs_rootfs_index_len(&r) == 0);
		for (l = 0; l < r.nlayers; l++)
			n += r.layers[l].inodes.count;
		CHECK(n <= 16);
		pfs_rootfs_init_index(&r, index);
		CHECK(r.nindex == n);
		for (ino = 0; ino < 9; ino++) {
			for (from = 0; from <= r.nlayers; from++) {
				int e1, e2;

				r.index = NULL;
				e1 = pfs_inode_find(&c, &r, ino, from, &a);
				r.index = index;
				e2 = pfs_inode_find(&c, &r, ino, from, &b);
				CHECK(e1 == e2);
				CHECK(e1 || (a.layer == b.layer &&
					     a.index == b.index && a.ino == ino));
			}
		}
		r.index = NULL;
	}
}

static size_t count_bytes(const uint8_t *buf, size_t len, const uint8_t *pat,
			  size_t plen)
{
	size_t n = 0, i;

	for (i = 0; i + plen <= len; i++)
		n += !memcmp(buf + i, pat, plen);
	return n;
}

/* Hostile variants of a message: every truncation and @flips single-byte
 * changes. */
static void hostile(const uint8_t *msg, size_t len, unsigned seed,
		    unsigned flips)
{
	uint8_t *copy = malloc(len);
	size_t i;

	for (i = 0; i < len; i++)
		exercise_rootfs(msg, i);
	for (i = 0; copy && i < flips; i++) {
		memcpy(copy, msg, len);
		seed = seed * 1103515245 + 12345;
		copy[(seed >> 8) % len] ^= (uint8_t)(1 + (seed >> 20) % 255);
		exercise_rootfs(copy, len);
	}
	free(copy);
}

static void roundtrip(void)
{
	struct pfs_mlayer l[3];
	struct pfs_mverity v;
	struct pfs_buf out = { 0 };
	size_t i;

	memset(l, 0, sizeof(l));
	make_model(l, &v);
	CHECK(pfs_rootfs_encode(l, 3, &v, 1, &out) == 0);
	check_model(out.data, out.len);
	/* Two BlobRefs and the VerityData share the digest's one copy. */
	CHECK_EQ_U64(count_bytes(out.data, out.len, v.digest, 32), 1);

	hostile(out.data, out.len, 1, 20000);
	for (i = 0; i < 3; i++)
		pfs_mlayer_free(&l[i]);
	pfs_buf_free(&out);
}

/* The reference's rootfs blobs: capnp-rust multi-segment messages. */
static void reference(const char *digest, u32 segs, u32 nlayers,
		      u32 inodes0)
{
	char path[256];
	struct pfs_rootfs r = { 0 };
	struct pfs_layer layers[4];
	struct pfs_inode root;
	struct pfs_cur c;
	u64 seg[16];
	u32 nseg;
	size_t len;
	uint8_t *buf;

	snprintf(path, sizeof(path), "%s%s", REF, digest);
	buf = read_fixture(path, &len);
	CHECK(pfs_rootfs_probe(buf, len, &nseg) == 0);
	CHECK_EQ_U64(nseg, segs);
	CHECK(pfs_rootfs_init(&r, buf, len, seg, nseg) == 0);
	CHECK_EQ_U64(r.nlayers, nlayers);
	CHECK(pfs_rootfs_init_layers(&r, layers) == 0);
	CHECK_EQ_U64(layers[0].inodes.count, inodes0);
	pfs_cur_init(&c, &r.msg);
	CHECK(pfs_inode_get(&c, &r, 1, &root) == 0 && root.kind == PFS_KIND_DIR);
	CHECK(exercise_rootfs(buf, len) == 0);
	free(buf);
}

static void put64(uint8_t *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * Hand-made message: the root pointer is a single far pointer, the layer
 * list is reached through a double far pointer.  Segments:
 *   0: [far -> seg1 word 0]
 *   1: [pad: struct ptr +0 (1 data, 2 ptrs)] [Rootfs: version] [metadatas]
 *      [fsVerityData = null]
 *   2: [pad: far -> seg3 word 0] [tag: list ptr composite, 2 words]
 *   3: [tag: 1 element, 0 data 1 ptr] [InodeVector.inodes = null]
 */
static void far_pointers(void)
{
	uint8_t m[24 + 8 + 32 + 16 + 16];
	struct pfs_rootfs r = { 0 };
	struct pfs_layer layers[1];
	u64 seg[5];
	u32 nseg;
	uint8_t *p = m;

	memset(m, 0, sizeof(m));
	put64(p, 3 | (uint64_t)1 << 32);		/* 4 segments */
	put64(p + 8, 4 | (uint64_t)2 << 32);		/* sizes 1, 4 */
	put64(p + 16, 2 | (uint64_t)2 << 32);		/* sizes 2, 2 */
	p += 24;
	put64(p, 2 | 0 << 3 | (uint64_t)1 << 32);	/* far -> seg1 word 0 */
	p += 8;
	put64(p, 0 | (uint64_t)1 << 32 | (uint64_t)2 << 48);	/* struct */
	put64(p + 8, 3);				/* manifestVersion */
	put64(p + 16, 2 | 4 | 0 << 3 | (uint64_t)2 << 32);	/* double far */
	p += 32;
	put64(p, 2 | 0 << 3 | (uint64_t)3 << 32);	/* far -> seg3 word 0 */
	put64(p + 8, 1 | (uint64_t)7 << 32 | (uint64_t)1 << 35);	/* tag */
	p += 16;
	put64(p, 1 << 2 | (uint64_t)0 << 32 | (uint64_t)1 << 48);
	CHECK(pfs_rootfs_probe(m, sizeof(m), &nseg) == 0 && nseg == 4);
	CHECK(pfs_rootfs_init(&r, m, sizeof(m), seg, nseg) == 0);
	CHECK_EQ_U64(r.nlayers, 1);
	CHECK(pfs_rootfs_init_layers(&r, layers) == 0);
	CHECK_EQ_U64(layers[0].inodes.count, 0);
	/* A far pointer into a segment that does not exist. */
	m[24 + 4] = 9;
	CHECK(pfs_rootfs_init(&r, m, sizeof(m), seg, nseg) != 0);
}

static int cmp_verity(const void *a, const void *b)
{
	return memcmp(a, b, 32);
}

/*
 * Many chunks, each digest used by several files and by its VerityData:
 * every reference reads its own digest back, and each is stored once
 * (enough digests that the encoder's table grows several times).
 */
static void shared_digests(void)
{
	enum { FILES = 3000, CHUNKS = 2000 };
	struct pfs_mlayer l = { 0 };
	struct pfs_mverity *v = calloc(CHUNKS, sizeof(*v));
	struct pfs_buf out = { 0 };
	struct pfs_rootfs r = { 0 };
	struct pfs_layer layer;
	struct pfs_inode in;
	struct pfs_chunk ch;
	struct pfs_cur c;
	const u8 *ver;
	u64 seg[2];
	u32 nseg, i, j, k;

	l.count = FILES + 1;
	l.inodes = calloc(l.count, sizeof(struct pfs_minode));
	l.inodes[0].ino = 1;
	l.inodes[0].kind = PFS_KIND_DIR;
	for (i = 0; i < FILES; i++) {
		struct pfs_minode *f = &l.inodes[i + 1];

		f->ino = i + 2;
		f->kind = PFS_KIND_FILE;
		for (j = 0; j < 3; j++) {
			struct pfs_mchunk m = { .offset = j, .len = 1 };

			k = (i * 7 + j * 13) % CHUNKS;
			memset(m.digest, 0, sizeof(m.digest));
			memcpy(m.digest + 8, &k, sizeof(k));
			m.digest[0] = (uint8_t)(k * 37);
			pfs_minode_add_chunk(f, &m);
		}
	}
	for (k = 0; k < CHUNKS; k++) {
		memcpy(v[k].digest + 8, &k, sizeof(k));
		v[k].digest[0] = (uint8_t)(k * 37);
		memset(v[k].verity, (int)(k & 0xff), sizeof(v[k].verity));
	}
	qsort(v, CHUNKS, sizeof(*v), cmp_verity);	/* as the builder does */
	CHECK(pfs_rootfs_encode(&l, 1, v, CHUNKS, &out) == 0);
	for (k = 1; k < CHUNKS; k += 499)	/* once, not 5.5 times */
		CHECK_EQ_U64(count_bytes(out.data, out.len, v[k].digest, 32), 1);
	CHECK(pfs_rootfs_probe(out.data, out.len, &nseg) == 0);
	CHECK(pfs_rootfs_init(&r, out.data, out.len, seg, nseg) == 0);
	CHECK(pfs_rootfs_init_layers(&r, &layer) == 0);
	for (i = 0; i < FILES; i++) {
		pfs_cur_init(&c, &r.msg);
		CHECK(pfs_inode_get(&c, &r, i + 2, &in) == 0);
		for (j = 0; j < 3; j++) {
			k = (i * 7 + j * 13) % CHUNKS;
			CHECK(pfs_file_chunk(&c, &r, &in, j, &ch) == 0);
			CHECK(!memcmp(ch.digest + 8, &k, sizeof(k)) &&
			      ch.digest[0] == (uint8_t)(k * 37) &&
			      ch.offset == j);
			CHECK(pfs_verity_find(&c, &r, ch.digest, &ver) == 0 &&
			      ver[0] == (k & 0xff));
		}
	}
	pfs_mlayer_free(&l);
	pfs_buf_free(&out);
	free(v);
}

/* Layer @l gets directory 1 (merged with those below if @below) with
 * the entries @names -> @inos, and files or whiteouts @inos. */
static void merge_layer(struct pfs_mlayer *l, bool below, const char *names,
			const uint64_t *inos, const uint16_t *kinds, size_t n)
{
	size_t i;

	l->count = n + 1;
	l->inodes = calloc(n + 1, sizeof(*l->inodes));
	l->inodes[0].ino = 1;
	l->inodes[0].kind = PFS_KIND_DIR;
	l->inodes[0].look_below = below;
	for (i = 0; i < n; i++) {
		pfs_minode_add_dirent(&l->inodes[0], inos[i],
				      (const uint8_t *)names + i, 1);
		l->inodes[i + 1].ino = inos[i];
		l->inodes[i + 1].kind = kinds[i];
	}
}

/* lookBelow: upper names win, whiteouts hide names, one sorted list. */
static void merged_dir(void)
{
	static const uint64_t top[] = { 10, 11 }, mid[] = { 12, 13, 14 },
			      base[] = { 15, 16 };
	static const uint16_t F = PFS_KIND_FILE, W = PFS_KIND_WHT;
	static const uint16_t topk[] = { F, W }, midk[] = { F, F, F },
			      basek[] = { F, F };
	struct pfs_merged_ent ent[8];
	struct pfs_mlayer l[3];
	struct pfs_buf out = { 0 };
	struct pfs_rootfs r = { 0 };
	struct pfs_layer layers[3];
	struct pfs_merged m;
	struct pfs_inode root, child;
	struct pfs_dirent de;
	struct pfs_cur c;
	u64 seg[2], n, pos = 0;
	u32 nseg, i;
	size_t k;

	/* Entries in stored order: the merge sorts them. */
	merge_layer(&l[0], true, "aw", top, topk, 2);
	merge_layer(&l[1], true, "wba", mid, midk, 3);
	merge_layer(&l[2], false, "cb", base, basek, 2);
	CHECK(pfs_rootfs_encode(l, 3, NULL, 0, &out) == 0);
	CHECK(pfs_rootfs_probe(out.data, out.len, &nseg) == 0 && nseg == 1);
	CHECK(pfs_rootfs_init(&r, out.data, out.len, seg, nseg) == 0);
	CHECK(pfs_rootfs_init_layers(&r, layers) == 0);
	pfs_cur_init(&c, &r.msg);
	CHECK(pfs_inode_get(&c, &r, 1, &root) == 0 && root.look_below);
	CHECK(pfs_dir_merge_len(&c, &r, &root, &n) == 0 && n == 7);
	CHECK(pfs_dir_merge(&c, &r, &root, ent, 3, &n) == -EINVAL);
	CHECK(pfs_dir_merge(&c, &r, &root, ent, 8, &n) == 0 && n == 3);
	CHECK(ent[0].ino == 10 && ent[1].ino == 13 && ent[2].ino == 15);
	CHECK(ent[0].name[0] == 'a' &&
	      ent[0].depth == 0 && ent[1].depth == 1 && ent[2].depth == 2);
	m.ent = ent;
	m.n = n;
	CHECK(pfs_dir_lookup(&c, &r, &root, NULL, (const u8 *)"a", 1,
			     &child) == -EINVAL);
	CHECK(pfs_dir_lookup(&c, &r, &root, &m, (const u8 *)"b", 1,
			     &child) == 0 && child.ino == 13);
	CHECK(pfs_dir_lookup(&c, &r, &root, &m, (const u8 *)"w", 1,
			     &child) == -ENOENT);
	for (i = 0; pfs_dir_next(&c, &r, &root, &m, &pos, &de, &child) == 1;
	     i++)
		CHECK(de.ino == ent[i].ino && child.ino == de.ino);
	CHECK(i == 3 && pos == 3);
	hostile(out.data, out.len, 7, 5000);	/* through the merge */
	for (k = 0; k < 3; k++)
		pfs_mlayer_free(&l[k]);
	pfs_buf_free(&out);
}

/* The list of layer @l, and inode @ino of it. */
static void layer_inode(const struct pfs_rootfs *r, u32 l, u64 ino,
			struct pfs_inode *in)
{
	struct pfs_cur c;
	u32 i;

	pfs_cur_init(&c, &r->msg);
	for (i = 0; i < r->layers[l].inodes.count; i++)
		if (pfs_layer_inode(&c, r, l, i, in) == 0 && in->ino == ino)
			return;
	CHECK(!"inode in layer");
}

/*
 * Mtimes (ours): a layer with one has 32-byte inodes, those without one
 * carry the "none" nanoseconds; a layer without any is the reference's 24
 * bytes, whatever the unused fields hold.
 */
static void mtimes(void)
{
	struct pfs_mlayer l[3], bare[3];
	struct pfs_mverity v;
	struct pfs_buf out = { 0 }, plain = { 0 }, none = { 0 };
	struct pfs_rootfs r = { 0 };
	struct pfs_layer layers[3];
	struct pfs_inode in;
	u64 seg[2];
	uint8_t *p;
	size_t i, at;

	memset(l, 0, sizeof(l));
	memset(bare, 0, sizeof(bare));
	make_model(l, &v);
	make_model(bare, &v);
	CHECK(pfs_rootfs_encode(bare, 3, &v, 1, &plain) == 0);
	/* Unused fields of inodes without an mtime change nothing. */
	bare[1].inodes[0].mtime_sec = 12345;
	bare[1].inodes[0].mtime_nsec = 6;
	CHECK(pfs_rootfs_encode(bare, 3, &v, 1, &none) == 0);
	CHECK(none.len == plain.len && !memcmp(none.data, plain.data, plain.len));
	l[0].inodes[0].has_mtime = true;
	l[0].inodes[0].mtime_sec = INT64_MIN;
	l[0].inodes[0].mtime_nsec = 999999999;
	l[0].inodes[2].has_mtime = true;
	l[0].inodes[2].mtime_sec = 1700000000;
	CHECK(pfs_rootfs_encode(l, 3, &v, 1, &out) == 0);
	/* Four inodes of 8 more bytes each. */
	CHECK_EQ_U64(out.len, plain.len + 4 * 8);
	check_model(out.data, out.len);
	CHECK(pfs_rootfs_init(&r, out.data, out.len, seg, 1) == 0 &&
	      pfs_rootfs_init_layers(&r, layers) == 0);
	CHECK_EQ_U64(layers[0].inodes.data_len, PFS_INODE_MTIME_DATA_BYTES);
	CHECK_EQ_U64(layers[1].inodes.data_len, PFS_INODE_DATA_BYTES);
	layer_inode(&r, 0, 2, &in);
	CHECK(in.has_mtime && in.mtime_sec == INT64_MIN &&
	      in.mtime_nsec == 999999999);
	layer_inode(&r, 0, 4, &in);
	CHECK(in.has_mtime && in.mtime_sec == 1700000000 && in.mtime_nsec == 0);
	layer_inode(&r, 0, 3, &in);
	CHECK(!in.has_mtime && in.mtime_sec == 0);
	layer_inode(&r, 0, 5, &in);
	CHECK(!in.has_mtime);
	layer_inode(&r, 1, 1, &in);
	CHECK(!in.has_mtime);
	/* Invalid nanoseconds read as no mtime; 10^9 - 1 is still one. */
	at = layers[0].inodes.start + PFS_INODE_MTIME_NSEC_OFF;
	p = out.data + at;
	CHECK(p[0] == 0xff && p[1] == 0xc9 && p[2] == 0x9a && p[3] == 0x3b);
	p[0] = 0x00;	/* 10^9 */
	p[1] = 0xca;
	layer_inode(&r, 0, 2, &in);
	CHECK(!in.has_mtime);
	p[0] = 0xff;
	p[1] = 0xc9;
	layer_inode(&r, 0, 2, &in);
	CHECK(in.has_mtime);
	hostile(out.data, out.len, 3, 5000);
	for (i = 0; i < 3; i++) {
		pfs_mlayer_free(&l[i]);
		pfs_mlayer_free(&bare[i]);
	}
	pfs_buf_free(&out);
	pfs_buf_free(&plain);
	pfs_buf_free(&none);
}

int main(void)
{
	roundtrip();
	mtimes();
	merged_dir();
	shared_digests();
	reference("8c56094777bac29bd35b803bae4083da59623c71b960531299b87a9b27d1b95f",
		  4, 1, 471);
	reference("ce63d208fa1e89529b4e2c5aa3fb6497180a18159e6042e3e01738c6ad63ee09",
		  5, 2, 443);
	far_pointers();
	return check_done("rootfs");
}
