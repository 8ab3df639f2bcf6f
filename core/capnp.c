// SPDX-License-Identifier: MIT OR GPL-2.0
/*
 * Bounds-checked Cap'n Proto reader; see capnp.h.  Every offset read from
 * the message is checked against the segment it must lie in before use, and
 * every pointer followed is charged against the operation's budget, so a
 * hostile message can neither read out of bounds nor make a reader loop.
 */
#include "capnp.h"

#define PTR_STRUCT 0
#define PTR_LIST 1
#define PTR_FAR 2
#define PTR_OTHER 3

#define ELEM_VOID 0
#define ELEM_BIT 1
#define ELEM_BYTE 2
#define ELEM_PTR 6
#define ELEM_COMPOSITE 7

int pfs_msg_count_segments(const u8 *buf, u64 len, u32 *nseg)
{
	u32 n;

	if (len < 8)
		return -PFS_ECORRUPT;
	n = pfs_le32(buf);
	if (n >= PFS_CAPNP_MAX_SEGMENTS)
		return -PFS_ECORRUPT;
	*nseg = n + 1;
	return 0;
}

int pfs_msg_init(struct pfs_msg *m, const u8 *buf, u64 len, u64 *seg, u32 nseg)
{
	u64 hdr = ((u64)4 * (nseg + 1) + 7) & ~(u64)7;
	u64 pos = hdr;
	u32 i;

	if (nseg == 0 || nseg > PFS_CAPNP_MAX_SEGMENTS || len < hdr ||
	    pfs_le32(buf) != nseg - 1)
		return -PFS_ECORRUPT;
	for (i = 0; i < nseg; i++) {
		u64 words = pfs_le32(buf + 4 + 4 * (u64)i);

		seg[i] = pos;
		if (words > (len - pos) / 8)
			return -PFS_ECORRUPT;
		pos += words * 8;
	}
	seg[nseg] = pos;
	/* The root pointer lives in the first word of segment 0. */
	if (seg[1] - seg[0] < 8)
		return -PFS_ECORRUPT;
	m->buf = buf;
	m->len = len;
	m->nseg = nseg;
	m->seg = seg;
	return 0;
}

u64 pfs_msg_words(const struct pfs_msg *m)
{
	return (m->seg[m->nseg] - m->seg[0]) / 8;
}

static int charge(struct pfs_cur *c, u64 words)
{
	if (words == 0)
		words = 1;
	if (words > c->budget) {
		c->budget = 0;
		return -PFS_ECORRUPT;
	}
	c->budget -= words;
	return 0;
}

/* Does [off, off + bytes) lie inside segment s? */
static bool in_seg(const struct pfs_msg *m, u32 s, u64 off, u64 bytes)
{
	return off >= m->seg[s] && off <= m->seg[s + 1] &&
	       bytes <= m->seg[s + 1] - off;
}

/*
 * Follow the pointer at byte offset @at of segment @seg.  On success *tag is
 * the word that describes the object (struct or list pointer), *obj the byte
 * offset of the object's content and *oseg its segment.
 */
static int resolve(const struct pfs_msg *m, u32 seg, u64 at, u64 *tag,
		   u64 *obj, u32 *oseg)
{
	u64 w = pfs_le64(m->buf + at);
	s64 off;

	if (w == 0)
		return 0;
	if ((w & 3) == PTR_FAR) {
		bool dbl = (w >> 2) & 1;
		u64 pad = ((w >> 3) & 0x1fffffff) * 8;
		u32 ps = (u32)(w >> 32);
		u64 far2;

		if (ps >= m->nseg)
			return -PFS_ECORRUPT;
		pad += m->seg[ps];
		if (!in_seg(m, ps, pad, dbl ? 16 : 8))
			return -PFS_ECORRUPT;
		if (!dbl) {
			w = pfs_le64(m->buf + pad);
			if ((w & 3) != PTR_STRUCT && (w & 3) != PTR_LIST)
				return -PFS_ECORRUPT;
			seg = ps;
			at = pad;
			goto near;
		}
		/* Double far: the pad is a far pointer to the content plus a
		 * tag word describing it. */
		far2 = pfs_le64(m->buf + pad);
		w = pfs_le64(m->buf + pad + 8);
		if ((far2 & 7) != PTR_FAR || ((w & 3) != PTR_STRUCT &&
					      (w & 3) != PTR_LIST))
			return -PFS_ECORRUPT;
		ps = (u32)(far2 >> 32);
		if (ps >= m->nseg)
			return -PFS_ECORRUPT;
		*obj = m->seg[ps] + ((far2 >> 3) & 0x1fffffff) * 8;
		if (*obj > m->seg[ps + 1])
			return -PFS_ECORRUPT;
		*oseg = ps;
		*tag = w;
		return 1;
	}
	if ((w & 3) == PTR_OTHER)
		return -PFS_ECORRUPT;	/* capabilities have no place here */
near:
	/* Offset: signed 30 bits, in words, from the end of the pointer. */
	off = (s64)(s32)((u32)w & ~3u) / 4;
	if (off < 0 && (u64)(-off) * 8 > at + 8 - m->seg[seg])
		return -PFS_ECORRUPT;
	*obj = at + 8 + off * 8;
	if (*obj > m->seg[seg + 1])
		return -PFS_ECORRUPT;
	*oseg = seg;
	*tag = w;
	return 1;
}

static int ptr_slot(const struct pfs_struct *s, u16 idx, u64 *at)
{
	if (idx >= s->nptrs)
		return 0;
	*at = s->ptrs + (u64)idx * 8;
	return 1;
}

static void empty_struct(struct pfs_struct *out, u8 depth)
{
	memset(out, 0, sizeof(*out));
	out->depth = depth;
}

static void empty_list(struct pfs_list *out, u8 depth)
{
	memset(out, 0, sizeof(*out));
	out->depth = depth;
}

static int struct_at(struct pfs_cur *c, u32 seg, u64 at, u8 depth,
		     struct pfs_struct *out)
{
	const struct pfs_msg *m = c->msg;
	u64 tag, obj;
	u32 oseg;
	u16 dw, pw;
	int r;

	empty_struct(out, depth + 1);
	if (depth >= PFS_CAPNP_NESTING_LIMIT)
		return -PFS_ECORRUPT;
	r = resolve(m, seg, at, &tag, &obj, &oseg);
	if (r <= 0)
		return r;
	if ((tag & 3) != PTR_STRUCT)
		return -PFS_ECORRUPT;
	dw = (u16)(tag >> 32);
	pw = (u16)(tag >> 48);
	if (!in_seg(m, oseg, obj, ((u64)dw + pw) * 8))
		return -PFS_ECORRUPT;
	if (charge(c, (u64)dw + pw))
		return -PFS_ECORRUPT;
	out->data = obj;
	out->data_len = (u32)dw * 8;
	out->ptrs = obj + (u64)dw * 8;
	out->nptrs = pw;
	out->seg = (u16)oseg;
	return 1;
}

static const u8 elem_bits[8] = { 0, 1, 8, 16, 32, 64, 64, 0 };

static int list_at(struct pfs_cur *c, u32 seg, u64 at, u8 depth,
		   struct pfs_list *out)
{
	const struct pfs_msg *m = c->msg;
	u64 tag, obj, words, count, bytes;
	u32 oseg;
	u8 elem;
	int r;

	empty_list(out, depth + 1);
	if (depth >= PFS_CAPNP_NESTING_LIMIT)
		return -PFS_ECORRUPT;
	r = resolve(m, seg, at, &tag, &obj, &oseg);
	if (r <= 0)
		return r;
	if ((tag & 3) != PTR_LIST)
		return -PFS_ECORRUPT;
	elem = (tag >> 32) & 7;
	count = tag >> 35;
	out->elem = elem;
	out->seg = (u16)oseg;
	if (elem == ELEM_COMPOSITE) {
		u64 t, per;

		words = count;	/* for composite lists: words of content */
		if (!in_seg(m, oseg, obj, 8 + words * 8))
			return -PFS_ECORRUPT;
		t = pfs_le64(m->buf + obj);
		if ((t & 3) != PTR_STRUCT || (t & 0x80000000u))
			return -PFS_ECORRUPT;
		count = (t >> 2) & 0x3fffffff;
		per = (u64)(u16)(t >> 32) + (u16)(t >> 48);
		if (count * per > words)
			return -PFS_ECORRUPT;
		out->data_len = (u32)(u16)(t >> 32) * 8;
		out->nptrs = (u16)(t >> 48);
		out->step = (u32)per * 8;
		out->start = obj + 8;
		/* Zero-sized elements still cost a word each: no amplification. */
		if (charge(c, (words > count ? words : count) + 1))
			return -PFS_ECORRUPT;
	} else {
		bytes = (count * elem_bits[elem] + 7) / 8;
		words = (bytes + 7) / 8;
		if (!in_seg(m, oseg, obj, words * 8))
			return -PFS_ECORRUPT;
		out->start = obj;
		out->step = elem_bits[elem] / 8;
		if (elem == ELEM_PTR) {
			out->nptrs = 1;
		} else if (elem != ELEM_BIT) {
			out->data_len = out->step;
		}
		if (charge(c, elem <= ELEM_BYTE ? words :
			   (words > count ? words : count)))
			return -PFS_ECORRUPT;
	}
	out->count = (u32)count;
	return 1;
}

int pfs_capnp_root(struct pfs_cur *c, struct pfs_struct *root)
{
	int r = struct_at(c, 0, c->msg->seg[0], 0, root);

	return r < 0 ? r : 0;
}

u64 pfs_u64(const struct pfs_cur *c, const struct pfs_struct *s, u32 off)
{
	if ((u64)off + 8 > s->data_len)
		return 0;
	return pfs_le64(c->msg->buf + s->data + off);
}

u32 pfs_u32(const struct pfs_cur *c, const struct pfs_struct *s, u32 off)
{
	if ((u64)off + 4 > s->data_len)
		return 0;
	return pfs_le32(c->msg->buf + s->data + off);
}

u16 pfs_u16(const struct pfs_cur *c, const struct pfs_struct *s, u32 off)
{
	if ((u64)off + 2 > s->data_len)
		return 0;
	return pfs_le16(c->msg->buf + s->data + off);
}

bool pfs_bit(const struct pfs_cur *c, const struct pfs_struct *s, u32 bit)
{
	if (bit / 8 >= s->data_len)
		return false;
	return (c->msg->buf[s->data + bit / 8] >> (bit % 8)) & 1;
}

int pfs_get_struct(struct pfs_cur *c, const struct pfs_struct *s, u16 idx,
		   struct pfs_struct *out)
{
	u64 at;

	if (!ptr_slot(s, idx, &at)) {
		empty_struct(out, s->depth + 1);
		return 0;
	}
	return struct_at(c, s->seg, at, s->depth, out);
}

int pfs_get_list(struct pfs_cur *c, const struct pfs_struct *s, u16 idx,
		 struct pfs_list *out)
{
	u64 at;

	if (!ptr_slot(s, idx, &at)) {
		empty_list(out, s->depth + 1);
		return 0;
	}
	return list_at(c, s->seg, at, s->depth, out);
}

int pfs_get_data(struct pfs_cur *c, const struct pfs_struct *s, u16 idx,
		 const u8 **data, u32 *len)
{
	struct pfs_list l;
	int r = pfs_get_list(c, s, idx, &l);

	*data = NULL;
	*len = 0;
	if (r <= 0)
		return r;
	if (l.elem != ELEM_BYTE)
		return -PFS_ECORRUPT;
	*data = c->msg->buf + l.start;
	*len = l.count;
	return 1;
}

int pfs_list_struct(const struct pfs_cur *c, const struct pfs_list *l, u32 i,
		    struct pfs_struct *out)
{
	(void)c;
	if (i >= l->count || l->elem == ELEM_BIT)
		return -PFS_ECORRUPT;
	out->data = l->start + (u64)i * l->step;
	out->data_len = l->data_len;
	out->ptrs = out->data + l->data_len;
	out->nptrs = l->nptrs;
	out->seg = l->seg;
	out->depth = l->depth;
	return 0;
}
