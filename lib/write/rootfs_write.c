// SPDX-License-Identifier: MIT
/*
 * Encoder for the rootfs message.  The whole message is one segment, built
 * in a growing buffer addressed by word offsets (the buffer moves as it
 * grows).  Objects are laid out in the order the reference allocates them,
 * so the output is a pure function of the model: same tree, same bytes.
 *
 * One difference: a chunk digest is written once, and every later BlobRef
 * or VerityData of the same chunk points back at those 32 bytes.  Cap'n
 * Proto readers follow pointers wherever they lead (capnp counts such
 * reads against its traversal limit like any other), so the reference reads
 * it unchanged; a /usr/share image has 7 references per chunk, and its
 * rootfs shrinks by 18%.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/puzzlefs_fs.h"
#include "write/model.h"

struct cb {
	struct pfs_buf b;
	struct pfs_dindex digests;	/* -> word offset of each digest's data */
	int err;
};

/* Cap'n Proto pointer offsets are signed 30-bit word counts. */
#define CB_MAX_WORDS (1ull << 29)

static size_t cb_alloc(struct cb *c, size_t words)
{
	size_t at = c->b.len / 8;

	if (c->err)
		return 0;
	if (at + words >= CB_MAX_WORDS) {
		c->err = -EFBIG;
		return 0;
	}
	if (pfs_buf_reserve(&c->b, words * 8)) {
		c->err = -ENOMEM;
		return 0;
	}
	memset(c->b.data + c->b.len, 0, words * 8);
	c->b.len += words * 8;
	return at;
}

static void put64(struct cb *c, size_t word, uint32_t byte, uint64_t v)
{
	uint8_t *p;
	int i;

	if (c->err)
		return;
	p = c->b.data + word * 8 + byte;
	for (i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put32(struct cb *c, size_t word, uint32_t byte, uint32_t v)
{
	uint8_t *p;

	if (c->err)
		return;
	p = c->b.data + word * 8 + byte;
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void put16(struct cb *c, size_t word, uint32_t byte, uint16_t v)
{
	if (c->err)
		return;
	c->b.data[word * 8 + byte] = (uint8_t)v;
	c->b.data[word * 8 + byte + 1] = (uint8_t)(v >> 8);
}

static void put_bit(struct cb *c, size_t word, uint32_t bit, bool v)
{
	if (c->err || !v)
		return;
	c->b.data[word * 8 + bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* Pointer word at @at to an object at @target (offsets in words). */
static uint64_t rel(size_t at, size_t target)
{
	int64_t off = (int64_t)target - (int64_t)at - 1;

	return ((uint64_t)off << 2) & 0xfffffffcull;
}

static size_t new_struct(struct cb *c, size_t at, uint16_t dw, uint16_t pw)
{
	size_t s = cb_alloc(c, (size_t)dw + pw);

	put64(c, at, 0, rel(at, s) | (uint64_t)dw << 32 | (uint64_t)pw << 48);
	return s;
}

/* Composite list; returns the word offset of element 0. */
static size_t new_struct_list(struct cb *c, size_t at, uint32_t count,
			      uint16_t dw, uint16_t pw)
{
	uint64_t words = (uint64_t)count * (dw + pw);
	size_t tag = cb_alloc(c, 1 + (size_t)words);

	put64(c, at, 0, rel(at, tag) | 1 | 7ull << 32 | words << 35);
	put64(c, tag, 0, (uint64_t)count << 2 | (uint64_t)dw << 32 |
			 (uint64_t)pw << 48);
	return tag + 1;
}

/* Byte list pointer at @at to @len bytes at word @d. */
static void data_ptr(struct cb *c, size_t at, size_t d, uint32_t len)
{
	put64(c, at, 0, rel(at, d) | 1 | 2ull << 32 | (uint64_t)len << 35);
}

static size_t new_data(struct cb *c, size_t at, const uint8_t *data,
		       uint32_t len)
{
	size_t d = cb_alloc(c, (len + 7) / 8);

	data_ptr(c, at, d, len);
	if (!c->err && len)
		memcpy(c->b.data + d * 8, data, len);
	return d;
}

static const uint8_t *digest_at(const void *owner, size_t word)
{
	return ((const struct cb *)owner)->b.data + word * 8;
}

/* Data pointer at @at to @digest: to its first copy if there is one. */
static void new_digest(struct cb *c, size_t at, const uint8_t *digest)
{
	size_t d;

	if (c->err)
		return;
	d = pfs_dindex_find(&c->digests, digest);
	if (d != SIZE_MAX) {
		data_ptr(c, at, d, PFS_DIGEST_SIZE);
		return;
	}
	d = new_data(c, at, digest, PFS_DIGEST_SIZE);
	if (!c->err && pfs_dindex_add(&c->digests, digest, d))
		c->err = -ENOMEM;
}

/*
 * An inode list has one struct size: the reference's 24 data bytes, or 32
 * with our mtime fields when any inode of the layer has an mtime (an
 * inode without one then says so with PFS_MTIME_NONE_NSEC).  Layers of
 * inodes without mtimes are the bytes they always were, and a delta's
 * copied base layers keep their size.
 */
static uint16_t layer_dw(const struct pfs_mlayer *l)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		if (l->inodes[i].has_mtime)
			return PFS_INODE_MTIME_DATA_BYTES / 8;
	return PFS_INODE_DATA_BYTES / 8;
}

static void encode_payload(struct cb *c, size_t in, uint16_t dw,
			   const struct pfs_minode *m)
{
	size_t p = in + dw + PFS_INODE_PAYLOAD_PTR, s, e;
	uint32_t i;

	switch (m->kind) {
	case PFS_KIND_CHR:
	case PFS_KIND_BLK:
		s = new_struct(c, p, 2, 0);
		put64(c, s, PFS_DEV_MINOR_OFF, m->minor);
		put64(c, s, PFS_DEV_MAJOR_OFF, m->major);
		break;
	case PFS_KIND_DIR:
		s = new_struct(c, p, 1, 1);
		put_bit(c, s, PFS_DIR_LOOKBELOW_BIT, m->look_below);
		e = new_struct_list(c, s + 1 + PFS_DIR_ENTRIES_PTR, m->nents,
				    1, 1);
		for (i = 0; i < m->nents; i++, e += 2) {
			put64(c, e, PFS_DIRENT_INO_OFF, m->ents[i].ino);
			new_data(c, e + 1 + PFS_DIRENT_NAME_PTR,
				 m->ents[i].name, m->ents[i].name_len);
		}
		break;
	case PFS_KIND_FILE:
		e = new_struct_list(c, p, m->nchunks, 1, 1);
		for (i = 0; i < m->nchunks; i++, e += 2) {
			const struct pfs_mchunk *ch = &m->chunks[i];

			put64(c, e, PFS_CHUNK_LEN_OFF, ch->len);
			s = new_struct(c, e + 1 + PFS_CHUNK_BLOB_PTR, 2, 1);
			new_digest(c, s + 2 + PFS_BLOBREF_DIGEST_PTR,
				   ch->digest);
			put64(c, s, PFS_BLOBREF_OFFSET_OFF, ch->offset);
			put_bit(c, s, PFS_BLOBREF_COMPRESSED_BIT,
				ch->compressed);
		}
		break;
	default:
		break;
	}
}

static void encode_mtime(struct cb *c, size_t in, const struct pfs_minode *m)
{
	if (!m->has_mtime) {
		put32(c, in, PFS_INODE_MTIME_NSEC_OFF, PFS_MTIME_NONE_NSEC);
		return;
	}
	put64(c, in, PFS_INODE_MTIME_OFF, (uint64_t)m->mtime_sec);
	put32(c, in, PFS_INODE_MTIME_NSEC_OFF, m->mtime_nsec);
}

static void encode_inode(struct cb *c, size_t in, uint16_t dw,
			 const struct pfs_minode *m)
{
	size_t a, x;
	uint32_t i;

	put64(c, in, PFS_INODE_INO_OFF, m->ino);
	put16(c, in, PFS_INODE_MODE_OFF, m->kind);
	encode_payload(c, in, dw, m);
	put32(c, in, PFS_INODE_UID_OFF, m->uid);
	put32(c, in, PFS_INODE_GID_OFF, m->gid);
	put16(c, in, PFS_INODE_PERM_OFF, m->perm);
	if (dw * 8 >= PFS_INODE_MTIME_DATA_BYTES)
		encode_mtime(c, in, m);
	if (!m->has_additional)
		return;
	a = new_struct(c, in + dw + PFS_INODE_ADDITIONAL_PTR, 0, 2);
	x = new_struct_list(c, a + PFS_ADDL_XATTRS_PTR, m->nxattrs, 0, 2);
	for (i = 0; i < m->nxattrs; i++, x += 2) {
		new_data(c, x + PFS_XATTR_VAL_PTR, m->xattrs[i].val,
			 m->xattrs[i].val_len);
		new_data(c, x + PFS_XATTR_KEY_PTR, m->xattrs[i].key,
			 m->xattrs[i].key_len);
	}
	if (m->has_target)
		new_data(c, a + PFS_ADDL_TARGET_PTR, m->target, m->target_len);
}

int pfs_rootfs_encode(const struct pfs_mlayer *layers, size_t nlayers,
		      const struct pfs_mverity *verity, size_t nverity,
		      struct pfs_buf *out)
{
	struct cb c = { .digests = { .digest = digest_at } };
	size_t root, rootfs, l, i, iv, in, v;
	uint16_t dw;
	uint8_t hdr[8] = { 0 };

	if (nlayers > UINT32_MAX || nverity > UINT32_MAX)
		return -EFBIG;
	c.digests.owner = &c;
	root = cb_alloc(&c, 1);
	rootfs = new_struct(&c, root, 1, 2);
	put64(&c, rootfs, PFS_ROOTFS_VERSION_OFF, PFS_MANIFEST_VERSION);
	iv = new_struct_list(&c, rootfs + 1 + PFS_ROOTFS_METADATAS_PTR,
			     (uint32_t)nlayers, 0, 1);
	for (l = 0; l < nlayers; l++, iv++) {
		dw = layer_dw(&layers[l]);
		if (layers[l].count > UINT32_MAX / (dw + PFS_INODE_PTRS)) {
			c.err = -EFBIG;
			break;
		}
		in = new_struct_list(&c, iv + PFS_IVEC_INODES_PTR,
				     (uint32_t)layers[l].count, dw,
				     PFS_INODE_PTRS);
		for (i = 0; i < layers[l].count; i++)
			encode_inode(&c, in + i * (dw + PFS_INODE_PTRS), dw,
				     &layers[l].inodes[i]);
	}
	v = new_struct_list(&c, rootfs + 1 + PFS_ROOTFS_VERITY_PTR,
			    (uint32_t)nverity, 0, 2);
	for (i = 0; i < nverity; i++, v += 2) {
		new_digest(&c, v + PFS_VDATA_DIGEST_PTR, verity[i].digest);
		new_data(&c, v + PFS_VDATA_VERITY_PTR, verity[i].verity,
			 PFS_DIGEST_SIZE);
	}
	pfs_dindex_free(&c.digests);
	if (c.err) {
		pfs_buf_free(&c.b);
		return c.err;
	}
	/* Framing: one segment, its size in words. */
	hdr[4] = (uint8_t)(c.b.len / 8);
	hdr[5] = (uint8_t)(c.b.len / 8 >> 8);
	hdr[6] = (uint8_t)(c.b.len / 8 >> 16);
	hdr[7] = (uint8_t)(c.b.len / 8 >> 24);
	out->len = 0;
	if (pfs_buf_add(out, hdr, 8) || pfs_buf_add(out, c.b.data, c.b.len)) {
		pfs_buf_free(&c.b);
		return -ENOMEM;
	}
	pfs_buf_free(&c.b);
	return 0;
}

void pfs_minode_free(struct pfs_minode *in)
{
	uint32_t i;

	for (i = 0; i < in->nents; i++)
		free(in->ents[i].name);
	free(in->ents);
	free(in->chunks);
	for (i = 0; i < in->nxattrs; i++) {
		free(in->xattrs[i].key);
		free(in->xattrs[i].val);
	}
	free(in->xattrs);
	free(in->target);
	memset(in, 0, sizeof(*in));
}

void pfs_mlayer_free(struct pfs_mlayer *l)
{
	size_t i;

	for (i = 0; i < l->count; i++)
		pfs_minode_free(&l->inodes[i]);
	free(l->inodes);
	l->inodes = NULL;
	l->count = 0;
}

int pfs_minode_add_dirent(struct pfs_minode *dir, uint64_t ino,
			  const uint8_t *name, uint32_t len)
{
	struct pfs_mdirent *d;

	if (dir->nents == dir->ents_cap) {
		uint32_t cap = dir->ents_cap ? dir->ents_cap * 2 : 8;

		d = realloc(dir->ents, cap * sizeof(*d));
		if (!d)
			return -ENOMEM;
		dir->ents = d;
		dir->ents_cap = cap;
	}
	d = &dir->ents[dir->nents];
	d->name = malloc(len ? len : 1);
	if (!d->name)
		return -ENOMEM;
	memcpy(d->name, name, len);
	d->name_len = len;
	d->ino = ino;
	dir->nents++;
	return 0;
}

int pfs_minode_add_chunk(struct pfs_minode *f, const struct pfs_mchunk *c)
{
	if (f->nchunks == f->chunks_cap) {
		uint32_t cap = f->chunks_cap ? f->chunks_cap * 2 : 4;
		struct pfs_mchunk *p = realloc(f->chunks, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		f->chunks = p;
		f->chunks_cap = cap;
	}
	f->chunks[f->nchunks++] = *c;
	return 0;
}
