/* SPDX-License-Identifier: MIT OR GPL-2.0 */
/*
 * PuzzleFS on-disk format: every constant the readers and the writer share.
 * The rootfs blob is a Cap'n Proto message (core/metadata.capnp); the
 * positions below are the wire positions `capnp compile -ocapnp` reports for
 * that schema.  Offsets are in bytes within a struct's data section, pointer
 * slots are indices into its pointer section.
 */
#ifndef PUZZLEFS_FS_H
#define PUZZLEFS_FS_H

#define PFS_MANIFEST_VERSION 3

/* OCI media types and annotations. */
#define PFS_MEDIA_ROOTFS "application/vnd.puzzlefs.image.rootfs.v1"
#define PFS_MEDIA_CHUNK "application/vnd.puzzlefs.image.filedata.v1"
#define PFS_MEDIA_ZSTD_SUFFIX "+zstd"
#define PFS_ANNOT_VERITY "io.puzzlefsoci.puzzlefs.puzzlefs_verity_root_hash"
#define PFS_ANNOT_REFNAME "org.opencontainers.image.ref.name"
#define PFS_MEDIA_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define PFS_MEDIA_EMPTY "application/vnd.oci.empty.v1+json"
#define PFS_MEDIA_CONFIG "application/vnd.oci.image.config.v1+json"
#define PFS_EMPTY_DIGEST \
	"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"

#define PFS_DIGEST_LEN 32	/* sha256 and fs-verity sha256 digests */
#define PFS_ROOT_INO 1

/* Rootfs: 8 data bytes, 2 pointers. */
#define PFS_ROOTFS_VERSION_OFF 0
#define PFS_ROOTFS_METADATAS_PTR 0
#define PFS_ROOTFS_VERITY_PTR 1

/* InodeVector: 0 data bytes, 1 pointer. */
#define PFS_IVEC_INODES_PTR 0

/* Inode: 24 data bytes, 2 pointers (the reference's). */
#define PFS_INODE_DATA_BYTES 24
#define PFS_INODE_PTRS 2
#define PFS_INODE_INO_OFF 0
#define PFS_INODE_MODE_OFF 8		/* u16 union discriminant */
#define PFS_INODE_PERM_OFF 10		/* u16 */
#define PFS_INODE_UID_OFF 12		/* u32 */
#define PFS_INODE_GID_OFF 16		/* u32 */
/*
 * Ours: Inode.mtime (s64 seconds) and Inode.mtimeNsec (u32) make the data
 * section 32 bytes.  An inode of fewer has no mtime (the reference's), nor
 * has one whose nanoseconds are PFS_NSEC_PER_SEC or more: writers put
 * PFS_MTIME_NONE_NSEC there for an inode without one in a layer of inodes
 * with one (every inode of a list has the same size).
 */
#define PFS_INODE_MTIME_DATA_BYTES 32
#define PFS_INODE_MTIME_NSEC_OFF 20	/* u32 */
#define PFS_INODE_MTIME_OFF 24		/* s64 */
#define PFS_NSEC_PER_SEC 1000000000u
#define PFS_MTIME_NONE_NSEC 0xffffffffu
#define PFS_INODE_PAYLOAD_PTR 0		/* Chr, Dir, Blk or List(FileChunk) */
#define PFS_INODE_ADDITIONAL_PTR 1

/* Inode.mode union discriminants. */
enum pfs_kind {
	PFS_KIND_UNKNOWN = 0,
	PFS_KIND_FIFO = 1,
	PFS_KIND_CHR = 2,
	PFS_KIND_DIR = 3,
	PFS_KIND_BLK = 4,
	PFS_KIND_FILE = 5,
	PFS_KIND_LNK = 6,
	PFS_KIND_SOCK = 7,
	PFS_KIND_WHT = 8,
};
#define PFS_KIND_MAX PFS_KIND_WHT

/* Chr and Blk: 16 data bytes. */
#define PFS_DEV_MAJOR_OFF 0
#define PFS_DEV_MINOR_OFF 8

/* Dir: 8 data bytes (lookBelow is bit 0), 1 pointer. */
#define PFS_DIR_ENTRIES_PTR 0
#define PFS_DIR_LOOKBELOW_BIT 0

/* DirEntry: 8 data bytes, 1 pointer. */
#define PFS_DIRENT_INO_OFF 0
#define PFS_DIRENT_NAME_PTR 0

/* FileChunk: 8 data bytes, 1 pointer. */
#define PFS_CHUNK_LEN_OFF 0
#define PFS_CHUNK_BLOB_PTR 0

/* BlobRef: 16 data bytes (compressed is bit 64), 1 pointer. */
#define PFS_BLOBREF_OFFSET_OFF 0
#define PFS_BLOBREF_COMPRESSED_BIT 64
#define PFS_BLOBREF_DIGEST_PTR 0

/* InodeAdditional: 0 data bytes, 2 pointers. */
#define PFS_ADDL_XATTRS_PTR 0
#define PFS_ADDL_TARGET_PTR 1

/* Xattr: 0 data bytes, 2 pointers. */
#define PFS_XATTR_KEY_PTR 0
#define PFS_XATTR_VAL_PTR 1

/* VerityData: 0 data bytes, 2 pointers. */
#define PFS_VDATA_DIGEST_PTR 0
#define PFS_VDATA_VERITY_PTR 1

/* Whiteout inodes as the reference writes them. */
#define PFS_WHT_PERMISSIONS 0644

/* Seekable zstd (facebook/zstd contrib/seekable_format). */
#define PFS_ZSTD_FRAME_MAGIC 0xFD2FB528u
#define PFS_SKIPPABLE_MAGIC 0x184D2A5Eu
#define PFS_SEEKABLE_MAGIC 0x8F92EAB1u
#define PFS_SEEK_FOOTER_LEN 9		/* nframes u32, descriptor u8, magic u32 */
#define PFS_SEEK_CHECKSUM_FLAG 0x80
#define PFS_SEEK_RESERVED_BITS 0x7C
#define PFS_SEEK_MAX_FRAMES 0x08000000u
#define PFS_SEEK_MAX_FRAME_SIZE 0x40000000u

/* FastCDC parameters of every PuzzleFS build. */
#define PFS_CDC_MIN 16384
#define PFS_CDC_AVG 65536
#define PFS_CDC_MAX 262144

/*
 * A zstd frame of a chunk blob holds part of one chunk (the reference cuts
 * 4 KiB frames, ours 32 KiB or a whole chunk), so it decompresses to at most
 * a chunk's size.  A frame announcing more is refused: one frame is decoded
 * at once, and a crafted frame of 1 GiB of zeros is 34 KB on disk.
 */
#define PFS_FRAME_MAX PFS_CDC_MAX

/*
 * Directories nest at most this deep below the root (the root is depth 0):
 * build refuses deeper source trees, and readers (extract, the walks of the
 * tools, FUSE and kernel mounts) refuse images with deeper ones.
 */
#define PFS_MAX_DEPTH 4096

/* Reference writer defaults for compressed chunks. */
#define PFS_ZSTD_LEVEL 3
#define PFS_ZSTD_FRAME 4096

/* statfs magic of the kernel driver ("puzz"). */
#define PFS_SUPER_MAGIC 0x7a7a7570

#endif
