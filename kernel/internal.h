/* SPDX-License-Identifier: GPL-2.0 */
/*
 * puzzlefs.ko: a read-only file system that mounts PuzzleFS images (OCI
 * image layout directories) straight from their blob files.
 *
 * The format is decoded by core/ (the same sources libpuzzlefs compiles):
 * the rootfs blob is read into memory at mount and core/ walks it in place.
 * File data comes from chunk blobs, opened once through the OCI directory
 * the mount names and read with the VFS iter helpers, checked (sha256, or
 * fs-verity in verity mode) and, for compressed chunks, decompressed with
 * the kernel's zstd before any byte reaches the page cache.
 */
#ifndef PUZZLEFS_KERNEL_INTERNAL_H
#define PUZZLEFS_KERNEL_INTERNAL_H

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/mutex.h>
#include <linux/path.h>
#include <linux/ratelimit.h>
#include <linux/spinlock.h>
#include <linux/xarray.h>

#include "../core/rootfs.h"

#if BITS_PER_LONG < 64
#error "puzzlefs uses 64-bit inode numbers as i_ino"
#endif

/* Limits on what is read whole into memory. */
#define PFS_MAX_MANIFEST	(64u << 20)
#define PFS_MAX_ROOTFS		(1ull << 30)
#define PFS_MAX_BLOB		(64u << 20)	/* stored, and decompressed */
#define PFS_MAX_LAYERS		1024

#define PFS_DEFAULT_CACHE_MB	32
#define PFS_MAX_OPEN_BLOBS	1024

struct pfs_blob_cache;
struct crypto_shash;

struct pfs_sb_info {
	/* Mount options. */
	char *oci_dir;
	bool has_manifest, has_rootfs;
	u8 manifest[PFS_DIGEST_LEN];	/* sha256 of the image manifest */
	u8 rootfs[PFS_DIGEST_LEN];	/* sha256 of the rootfs blob */
	bool verity;			/* fs-verity mode */
	bool has_verity_digest;
	u8 verity_digest[PFS_DIGEST_LEN];	/* of the manifest (or rootfs) */
	unsigned int cache_mb;

	struct path blobs;		/* OCI_DIR/blobs/sha256 */
	const struct cred *cred;	/* the mounter's, to open and read blobs */
	struct crypto_shash *sha256;
	struct ratelimit_state rs;
	char label[96];			/* for log lines */

	/* The rootfs, decoded in place by core/. */
	u8 *rootfs_buf;
	u64 rootfs_len;
	u64 *seg;
	struct pfs_layer *layers;
	struct pfs_ino_ref *index;	/* images of many layers */
	struct pfs_rootfs rfs;
	bool rootfs_has_verity;
	u8 rootfs_verity[PFS_DIGEST_LEN];	/* manifest annotation */

	/* From one walk of the tree at mount: link counts and totals. */
	struct xarray links;		/* ino -> xa_mk_value(PFS_LINKS()) */
	u64 nfiles, nblocks;

	struct pfs_blob_cache *blob_cache;
	struct pfs_readahead *ra;
};

/*
 * sbi->links holds every visible inode reached from the root: its kind and
 * link count.
 */
#define PFS_LINKS(kind, nlink)	((unsigned long)(kind) << 32 | (u32)(nlink))
#define PFS_LINKS_NLINK(v)	((u32)(v))
#define PFS_LINKS_KIND(v)	((u16)((v) >> 32))

struct pfs_inode_info {
	struct pfs_inode pi;		/* decoded; points into the rootfs */
	char *link;			/* symlink target, NUL-terminated */
	/* Where the last read of a file was: chunk index and its offset. */
	spinlock_t hint_lock;
	u32 hint_idx;
	u64 hint_start;
	/* Files of many chunks: each chunk's end offset (pfs_file_ends), made
	 * at the first read; set once, freed with the inode. */
	u64 *ends;
	/* lookBelow directories: the merged entries, likewise (dir.c). */
	struct pfs_kmerged *merged;
	struct inode vfs_inode;
};

static inline struct pfs_sb_info *PFS_SB(struct super_block *sb)
{
	return sb->s_fs_info;
}

static inline struct pfs_inode_info *PFS_I(struct inode *inode)
{
	return container_of(inode, struct pfs_inode_info, vfs_inode);
}

__printf(2, 3) void pfs_err(struct pfs_sb_info *sbi, const char *fmt, ...);
__printf(2, 3) void pfs_info(struct pfs_sb_info *sbi, const char *fmt, ...);

/* Core errors to errnos: corruption is EUCLEAN (EFSCORRUPTED). */
static inline int pfs_errno(int e)
{
	return e == -PFS_ECORRUPT ? -EUCLEAN : e;
}

/* oci.c: blob files and the metadata read at mount. */
struct file *pfs_blob_open(struct pfs_sb_info *sbi, const u8 *digest);
int pfs_read_full(struct file *file, void *buf, size_t len, loff_t pos);
void pfs_sha256_pick(void);	/* at module load */
struct crypto_shash *pfs_sha256_alloc(void);
int pfs_sha256(struct pfs_sb_info *sbi, const u8 *buf, u64 len,
	       u8 out[PFS_DIGEST_LEN]);
int pfs_verity_check(struct pfs_sb_info *sbi, struct file *file,
		     const u8 *want, const char *what, const u8 *digest);
int pfs_load_metadata(struct pfs_sb_info *sbi);
void pfs_free_metadata(struct pfs_sb_info *sbi);

/* census.c */
int pfs_census(struct pfs_sb_info *sbi);

/* blob.c: cache of opened, checked and decoded chunk blobs. */
struct pfs_blob;
int pfs_blob_cache_init(struct pfs_sb_info *sbi);
void pfs_blob_cache_destroy(struct pfs_sb_info *sbi);
struct pfs_blob *pfs_blob_get(struct pfs_sb_info *sbi, const u8 *digest,
			      bool compressed);
void pfs_blob_put(struct pfs_sb_info *sbi, struct pfs_blob *b);
bool pfs_blob_is(const struct pfs_blob *b, const u8 *digest, bool compressed);
/* Copy [off, off + len) of the blob's content; -EIO beyond its end. */
int pfs_blob_copy(struct pfs_sb_info *sbi, struct pfs_blob *b, u64 off,
		  size_t len, void *dst);

/* readahead.c: loads the blobs after a sequential reader's, in stream
 * order, on the unbound workqueue. */
int pfs_ra_init(struct pfs_sb_info *sbi);
void pfs_ra_destroy(struct pfs_sb_info *sbi);
void pfs_ra_post(struct pfs_sb_info *sbi, const struct pfs_inode *in,
		 u32 idx, const u8 *digest);

/* inode.c */
struct inode *pfs_iget(struct super_block *sb, u64 ino,
		       const struct pfs_inode *known);
extern const struct inode_operations pfs_file_iops;
extern const struct inode_operations pfs_symlink_iops;
extern const struct inode_operations pfs_special_iops;

/* namei.c */
extern const struct inode_operations pfs_dir_iops;

/* dir.c */
extern const struct file_operations pfs_dir_fops;
/* A lookBelow directory's merged entries (pfs_dir_merge), one allocation. */
struct pfs_kmerged {
	struct pfs_merged m;
	struct pfs_merged_ent ent[];
};
struct pfs_kmerged *pfs_merge_dir(struct pfs_sb_info *sbi,
				  const struct pfs_inode *dir);
/* The directory's, made at first use and kept with the inode; NULL for
 * directories that need none (pfs_dir_needs_merge). */
const struct pfs_merged *pfs_inode_merged(struct inode *dir);

/* data.c */
extern const struct address_space_operations pfs_aops;

/* xattr.c */
extern const struct xattr_handler *pfs_xattr_handlers[];
ssize_t pfs_listxattr(struct dentry *dentry, char *buf, size_t size);

#endif
