/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * A bounds-checked Cap'n Proto reader for unpacked, framed messages held in
 * one buffer.  It handles multi-segment messages, far and double-far
 * pointers, struct, list, composite-list and data pointers, and struct
 * sections shorter or longer than the schema's (missing fields read as 0,
 * missing pointers as null).
 *
 * Values (pfs_struct, pfs_list) are plain positions in the buffer: they hold
 * no pointers and may be cached for as long as the buffer lives.  Every
 * operation that follows a pointer takes a pfs_cur, which carries the message
 * and the traversal budget of one logical operation (words left to read), as
 * capnp's own traversal limit does; each value carries its nesting depth.
 * Pointer getters return 1 when the pointer is set, 0 when it is null and a
 * negative errno when the message is malformed.
 */
#ifndef PUZZLEFS_CAPNP_H
#define PUZZLEFS_CAPNP_H

#include "compat.h"

#define PFS_CAPNP_MAX_SEGMENTS 512
#define PFS_CAPNP_NESTING_LIMIT 64
#define PFS_CAPNP_MIN_BUDGET (8ull << 20)	/* words, as capnp's default */

struct pfs_msg {
	const u8 *buf;
	u64 len;
	u32 nseg;
	const u64 *seg;		/* nseg + 1 byte offsets: segment i is [seg[i], seg[i+1]) */
};

struct pfs_cur {
	const struct pfs_msg *msg;
	u64 budget;		/* words this operation may still traverse */
};

struct pfs_struct {
	u64 data;		/* byte offset of the data section in msg->buf */
	u64 ptrs;		/* byte offset of the pointer section */
	u32 data_len;		/* bytes */
	u16 nptrs;
	u16 seg;
	u8 depth;
};

struct pfs_list {
	u64 start;		/* byte offset of element 0 */
	u32 count;
	u32 step;		/* bytes per element; 0 for void, 0 for bit lists */
	u32 data_len;		/* struct view of an element: data bytes */
	u16 nptrs;		/* struct view of an element: pointers */
	u16 seg;
	u8 elem;		/* element size code (0..7) */
	u8 depth;
};

/* Framing: number of segments announced by the header. */
int pfs_msg_count_segments(const u8 *buf, u64 len, u32 *nseg);
/* seg must have room for nseg + 1 entries. */
int pfs_msg_init(struct pfs_msg *m, const u8 *buf, u64 len, u64 *seg, u32 nseg);
u64 pfs_msg_words(const struct pfs_msg *m);

static inline void pfs_cur_init(struct pfs_cur *c, const struct pfs_msg *m)
{
	u64 w = pfs_msg_words(m) * 4;

	c->msg = m;
	c->budget = w > PFS_CAPNP_MIN_BUDGET ? w : PFS_CAPNP_MIN_BUDGET;
}

int pfs_capnp_root(struct pfs_cur *c, struct pfs_struct *root);

/* Data-section fields; out-of-section reads give the default 0. */
u64 pfs_u64(const struct pfs_cur *c, const struct pfs_struct *s, u32 off);
u32 pfs_u32(const struct pfs_cur *c, const struct pfs_struct *s, u32 off);
u16 pfs_u16(const struct pfs_cur *c, const struct pfs_struct *s, u32 off);
bool pfs_bit(const struct pfs_cur *c, const struct pfs_struct *s, u32 bit);

/* Pointer fields (1 set, 0 null, <0 malformed).  A null struct reads as a
 * struct with no fields; a null list as an empty list. */
int pfs_get_struct(struct pfs_cur *c, const struct pfs_struct *s, u16 idx,
		   struct pfs_struct *out);
int pfs_get_list(struct pfs_cur *c, const struct pfs_struct *s, u16 idx,
		 struct pfs_list *out);
int pfs_get_data(struct pfs_cur *c, const struct pfs_struct *s, u16 idx,
		 const u8 **data, u32 *len);

/* Element i of a list viewed as a struct (composite lists, and the
 * primitive and pointer lists capnp allows to be upgraded to structs). */
int pfs_list_struct(const struct pfs_cur *c, const struct pfs_list *l, u32 i,
		    struct pfs_struct *out);

#endif
