/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * The PuzzleFS rootfs: metadata layers of inodes, directory entries, chunk
 * lists, xattrs and fs-verity data, decoded straight from the Cap'n Proto
 * buffer without copying.  Shared by libpuzzlefs and puzzlefs.ko.
 *
 * Opening is two calls because core/ never allocates: pfs_rootfs_init()
 * reads the header and says how many layers there are, then the caller
 * provides storage for them to pfs_rootfs_init_layers(), which checks that
 * every layer's inode list is sorted (lookups binary search it).
 *
 * Layer 0 is the top.  An inode is taken from the topmost layer that has its
 * number; a whiteout there means it does not exist.  A directory whose
 * lookBelow flag is set is merged with its version in the layers below.
 */
#ifndef PUZZLEFS_ROOTFS_H
#define PUZZLEFS_ROOTFS_H

#include "capnp.h"
#include "puzzlefs_fs.h"

#define PFS_NAME_MAX 255
/* Linux lists at most 64 KiB of xattr names (XATTR_LIST_MAX), each at least
 * one byte and a NUL: an inode with more xattrs is corrupt. */
#define PFS_XATTR_MAX 32768

struct pfs_layer {
	struct pfs_list inodes;
	u64 min_ino, max_ino;
};

/* Where an inode is: see pfs_rootfs_init_index. */
struct pfs_ino_ref {
	u64 ino;
	u32 layer;
	u32 index;
};

struct pfs_rootfs {
	struct pfs_msg msg;
	u64 version;
	u32 nlayers;
	const struct pfs_layer *layers;
	const struct pfs_ino_ref *index;	/* NULL: layers are searched */
	u64 nindex;
	struct pfs_list verity;		/* fsVerityData */
	bool verity_sorted;
	/* Message channel for corruption reports (may be NULL). */
	void (*report)(void *arg, const char *msg);
	void *report_arg;
};

enum pfs_dir_order { PFS_DIR_UNCHECKED, PFS_DIR_SORTED, PFS_DIR_UNSORTED };

/*
 * The reference's delta layers list a directory's whiteouts first, in the
 * base's order, then the new entries sorted: each delta generation adds at
 * most one ascending run, so a directory has at most as many runs as the
 * image has layers; more are refused.  Up to this many runs are remembered
 * and each is binary searched; a directory with more is merged by the
 * caller into one sorted list (pfs_dir_needs_merge).
 */
#define PFS_DIR_MAX_RUNS 8

struct pfs_inode {
	u64 ino;
	u32 layer;			/* layer it was found in */
	u32 index;			/* and its place in that layer's list */
	u16 kind;			/* enum pfs_kind */
	u16 perm;			/* permission bits incl. suid/sgid/sticky */
	u32 uid, gid;
	u64 major, minor;		/* chr, blk */
	bool has_mtime;			/* ours: see PFS_INODE_MTIME_DATA_BYTES */
	s64 mtime_sec;
	u32 mtime_nsec;			/* < PFS_NSEC_PER_SEC */
	struct pfs_list list;		/* dir: entries, file: chunks */
	bool look_below;		/* dir */
	u8 order;			/* dir: enum pfs_dir_order */
	u8 nruns;			/* dir, unsorted: ascending runs */
	u32 run[PFS_DIR_MAX_RUNS];	/* dir, unsorted: where each begins */
	bool has_additional;
	struct pfs_list xattrs;
	const u8 *target;		/* lnk */
	u32 target_len;
};

struct pfs_dirent {
	u64 ino;
	const u8 *name;
	u32 name_len;
};

struct pfs_chunk {
	const u8 *digest;		/* PFS_DIGEST_LEN bytes */
	u64 offset;			/* in the chunk's uncompressed bytes */
	u64 len;
	bool compressed;
};

struct pfs_xattr {
	const u8 *key, *val;
	u32 key_len, val_len;
};

/* The segment count of the message, for pfs_rootfs_init's storage. */
int pfs_rootfs_probe(const u8 *buf, u64 len, u32 *nseg);
/* seg: nseg + 1 entries.  Fills r->nlayers. */
int pfs_rootfs_init(struct pfs_rootfs *r, const u8 *buf, u64 len, u64 *seg,
		    u32 nseg);
/* layers: r->nlayers entries.  Refuses lists that add up to more than the
 * message holds: inode lists shared by layers, entry or chunk lists shared
 * by inodes. */
int pfs_rootfs_init_layers(struct pfs_rootfs *r, struct pfs_layer *layers);

/*
 * Finding an inode binary searches each layer whose inode range holds it,
 * top first: with many layers (a long chain of delta builds, or a crafted
 * image of a million one-inode layers) every lookup costs as many searches.
 * Above PFS_LAYERS_SCAN layers, readers index every inode of every layer
 * once, sorted by (ino, layer), and lookups search that.  The caller
 * provides pfs_rootfs_index_len() entries (0: no index is needed) after
 * pfs_rootfs_init_layers.
 */
#define PFS_LAYERS_SCAN 8
u64 pfs_rootfs_index_len(const struct pfs_rootfs *r);
void pfs_rootfs_init_index(struct pfs_rootfs *r, struct pfs_ino_ref *index);

/* Report corruption through r->report and return -PFS_ECORRUPT. */
int pfs_corrupt(const struct pfs_rootfs *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Find @ino in layers from..nlayers-1, whiteouts included.  -ENOENT if no
 * layer has it. */
int pfs_inode_find(struct pfs_cur *c, const struct pfs_rootfs *r, u64 ino,
		   u32 from, struct pfs_inode *out);
/* Inode @i of layer @layer, in stored order (for tools that copy or check
 * whole layers). */
int pfs_layer_inode(struct pfs_cur *c, const struct pfs_rootfs *r, u32 layer,
		    u32 i, struct pfs_inode *out);
/* The visible inode @ino: -ENOENT if absent or whited out. */
int pfs_inode_get(struct pfs_cur *c, const struct pfs_rootfs *r, u64 ino,
		  struct pfs_inode *out);

/* Files. */
int pfs_file_chunk(struct pfs_cur *c, const struct pfs_rootfs *r,
		   const struct pfs_inode *in, u32 i, struct pfs_chunk *out);
int pfs_file_size(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *in, u64 *size);
/*
 * The chunk list stores lengths, not offsets: finding the chunk that holds
 * an offset walks the list.  For files of many chunks the caller computes
 * each chunk's end offset once (in->list.count entries; core/ does not
 * allocate) and seeks by binary search: a random read at the end of a
 * 2 GiB file walked 32,768 chunks.
 */
#define PFS_SEEK_ENDS_MIN 32
int pfs_file_ends(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *in, u64 *ends);
/*
 * Find the chunk holding byte @off of a file, by binary search in @ends if
 * given (from pfs_file_ends), else by walking the list.  *idx and *start
 * are a hint on entry (0, 0 for none; a previous result for sequential
 * reads, which then find their chunk at once) and the chunk index and its
 * file offset on return.  -ENOENT if @off is at or past the end.
 */
int pfs_file_seek(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *in, const u64 *ends, u64 off,
		  u32 *idx, u64 *start, struct pfs_chunk *chunk);

/* Directories: one version (one layer). */
int pfs_dirent_at(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *dir, u32 i, struct pfs_dirent *out);
/* Sets dir->order (sorted strictly by name, or not) and, if not, its
 * ascending runs; a directory with more runs than the image has layers is
 * corrupt. */
int pfs_dir_check_order(struct pfs_cur *c, const struct pfs_rootfs *r,
			struct pfs_inode *dir);

/*
 * Merged directories (lookBelow set; no writer sets it today): the
 * directory's versions in the layers below are merged with it, upper names
 * winning, a whiteout entry hiding a name.  Walking the versions for every
 * lookup and every entry listed would cost each entry a search of every
 * version above it, so the caller merges a directory once: room for
 * pfs_dir_merge_len() entries, which pfs_dir_merge() fills with the visible
 * entries sorted by name (core/ does not allocate).
 */
struct pfs_merged_ent {
	u64 ino;
	const u8 *name;
	u32 name_len;
	u32 depth;			/* version it comes from, 0: the top */
};

struct pfs_merged {
	const struct pfs_merged_ent *ent;
	u64 n;
};

int pfs_dir_merge_len(struct pfs_cur *c, const struct pfs_rootfs *r,
		      const struct pfs_inode *dir, u64 *n);
int pfs_dir_merge(struct pfs_cur *c, const struct pfs_rootfs *r,
		  const struct pfs_inode *dir, struct pfs_merged_ent *ent,
		  u64 cap, u64 *n);

/*
 * Which directories lookups need merged: lookBelow ones, and lists in more
 * sorted runs than are remembered (legitimate after 9 or more delta
 * generations; a crafted image of many layers can make them huge), which
 * would otherwise be searched entry by entry.  pfs_dir_check_order first.
 */
static inline bool pfs_dir_needs_merge(const struct pfs_inode *dir)
{
	return dir->look_below ||
	       (dir->order == PFS_DIR_UNSORTED && dir->nruns == 0);
}

/*
 * Name lookup in a visible directory: *child is the visible inode, -ENOENT
 * when there is none (or it is a whiteout).  @m: the merged directory,
 * searched if given; required for a lookBelow one (-EINVAL without).
 */
int pfs_dir_lookup(struct pfs_cur *c, const struct pfs_rootfs *r,
		   const struct pfs_inode *dir, const struct pfs_merged *m,
		   const u8 *name, u32 len, struct pfs_inode *child);

/*
 * Directory iteration, whiteouts skipped.  A lookBelow directory is
 * iterated in @m (required), any other in stored order (@m ignored).  *pos
 * starts at 0 and stays valid across calls (an index into the entries).
 * Returns 1 with the next visible entry and its inode, 0 at the end.
 */
int pfs_dir_next(struct pfs_cur *c, const struct pfs_rootfs *r,
		 const struct pfs_inode *dir, const struct pfs_merged *m,
		 u64 *pos, struct pfs_dirent *de, struct pfs_inode *child);

/* Xattrs, in stored order. */
static inline u32 pfs_xattr_count(const struct pfs_inode *in)
{
	return in->xattrs.count;
}
int pfs_xattr_at(struct pfs_cur *c, const struct pfs_rootfs *r,
		 const struct pfs_inode *in, u32 i, struct pfs_xattr *out);

/* fs-verity digest recorded for a blob; -ENOENT if none. */
int pfs_verity_find(struct pfs_cur *c, const struct pfs_rootfs *r,
		    const u8 *digest, const u8 **verity);
int pfs_verity_at(struct pfs_cur *c, const struct pfs_rootfs *r, u32 i,
		  const u8 **digest, const u8 **verity);

/* The S_IF* type an inode kind is shown as; "unknown" inodes are shown as
 * empty regular files. */
static inline u32 pfs_kind_to_type(u16 kind)
{
	switch (kind) {
	case PFS_KIND_FIFO: return S_IFIFO;
	case PFS_KIND_CHR: return S_IFCHR;
	case PFS_KIND_DIR: return S_IFDIR;
	case PFS_KIND_BLK: return S_IFBLK;
	case PFS_KIND_LNK: return S_IFLNK;
	case PFS_KIND_SOCK: return S_IFSOCK;
	default: return S_IFREG;
	}
}

static inline int pfs_name_cmp(const u8 *a, u32 alen, const u8 *b, u32 blen)
{
	int d = memcmp(a, b, alen < blen ? alen : blen);

	if (d)
		return d;
	return alen < blen ? -1 : alen > blen;
}

#endif
