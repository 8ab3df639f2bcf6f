/* SPDX-License-Identifier: MIT */
/*
 * libpuzzlefs: build, read, extract and check PuzzleFS images.
 *
 * An image is an OCI image layout directory; a tag names one image.  Every
 * function returns 0 (or a count) on success and a negative errno on
 * failure; the reason, naming the path, tag, digest or inode involved, goes
 * to the caller's log callback (the message channel the CLI prints).
 * Nothing here keeps global state: all state lives in the objects passed in.
 */
#ifndef PUZZLEFS_H
#define PUZZLEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PUZZLEFS_VERSION "0.2.0"
#define PFS_DIGEST_SIZE 32

enum pfs_log_level { PFS_LOG_ERR, PFS_LOG_WARN, PFS_LOG_INFO, PFS_LOG_DEBUG };

struct pfs_log {
	void (*fn)(void *arg, int level, const char *msg);
	void *arg;
};

/* ---- building ----------------------------------------------------------- */

enum pfs_mtime_mode {
	/* The source's, or none in a delta whose base has none (so that
	 * unchanged inodes stay unchanged). */
	PFS_MTIME_DEFAULT,
	PFS_MTIME_SOURCE,		/* the source's */
	PFS_MTIME_FIXED,		/* mtime_fixed on every inode */
	PFS_MTIME_NONE,			/* none, as the reference writes */
};

struct pfs_build_opts {
	const struct pfs_log *log;
	bool compress;			/* seekable zstd chunks (build -c) */
	int zstd_level;			/* 0: the reference's 3 */
	/* 0: 32 KiB, or in a delta the frame size of the base's chunks */
	uint32_t zstd_frame;
	const char *base_tag;		/* delta build on this tag */
	unsigned threads;		/* 0: one per CPU */
	/* Called now and then while data is read (may be NULL). */
	void (*progress)(void *arg, uint64_t files, uint64_t bytes);
	void *progress_arg;
	struct pfs_build_stats *stats;	/* filled on success (may be NULL) */
	/* The mtimes stored (build --mtime); later ones than mtime_clamp
	 * become it when clamp_mtime is set (SOURCE_DATE_EPOCH). */
	enum pfs_mtime_mode mtime;
	int64_t mtime_fixed;		/* PFS_MTIME_FIXED */
	bool clamp_mtime;
	int64_t mtime_clamp;
};

struct pfs_build_stats {
	uint64_t files;			/* regular files whose data was read */
	uint64_t bytes;			/* bytes of file data read */
	uint64_t chunks;		/* chunks cut from them */
	uint64_t blobs;			/* distinct chunk blobs among them */
	/* build -c: chunks found to repeat a stored one before they were
	 * compressed (not compressed again) */
	uint64_t repeats;
};

/*
 * Build the tree at @rootfs into @oci_dir under @tag.  On success
 * @manifest_verity receives the fs-verity digest of the new image manifest
 * (the trust anchor `mount --digest` takes).
 */
int pfs_build(const char *rootfs, const char *oci_dir, const char *tag,
	      const struct pfs_build_opts *opts,
	      uint8_t manifest_verity[PFS_DIGEST_SIZE]);

/* ---- importing ---------------------------------------------------------- */

struct pfs_remote_opts;

struct pfs_import_opts {
	const struct pfs_log *log;
	bool compress;			/* seekable zstd chunks (-c) */
	int zstd_level;			/* 0: 3 */
	uint32_t zstd_frame;		/* 0: one frame per chunk */
	unsigned threads;		/* 0: one per CPU */
	bool flatten;			/* one layer instead of one per tar layer */
	const char *platform;		/* "OS/ARCH[/VARIANT]" in an image
					 * index; NULL: the host's */
	/* docker:// sources: credentials, TLS (NULL: the defaults) */
	const struct pfs_remote_opts *remote;
	uint64_t max_bytes;		/* uncompressed tar bytes; 0: 256 GiB */
	uint64_t max_entries;		/* tar entries; 0: 4,000,000 */
	/* The mtimes stored, as pfs_build_opts's (PFS_MTIME_DEFAULT: the
	 * tar headers'). */
	enum pfs_mtime_mode mtime;
	int64_t mtime_fixed;
	bool clamp_mtime;
	int64_t mtime_clamp;
	void (*progress)(void *arg, uint64_t files, uint64_t bytes);
	void *progress_arg;
	struct pfs_import_stats *stats;	/* filled on success (may be NULL) */
};

struct pfs_import_stats {
	uint64_t layers;		/* tar layers read */
	uint64_t rootfs_layers;		/* puzzlefs layers written */
	uint64_t entries;		/* tar entries */
	uint64_t files, bytes, chunks, blobs, repeats;	/* as pfs_build's */
};

/*
 * Import the image @source ("oci:DIR[:TAG]", "docker-archive:FILE[:REF]",
 * "docker://HOST[:PORT]/REPO[:TAG|@DIGEST]", or a tar, tar.gz or tar.zst
 * layer file) into @oci_dir under @tag, with
 * one puzzlefs layer per tar layer (a delta on the one below, as build -b
 * makes) or, with @opts->flatten, one.  The source's image config is kept
 * as the image's config.  On success @manifest_verity receives the
 * fs-verity digest of the new image manifest.
 */
int pfs_import(const char *source, const char *oci_dir, const char *tag,
	       const struct pfs_import_opts *opts,
	       uint8_t manifest_verity[PFS_DIGEST_SIZE]);

/*
 * The runtime config of @tag: the bytes of its OCI image config blob
 * (sha256 checked, NUL-terminated; free() them), or *@config NULL and
 * *@len 0 if the image has the empty config (pfs_build and the reference
 * write that).  Entrypoint, Cmd, Env, WorkingDir, User... are in its
 * "config" object (OCI image-spec config.md).
 */
int pfs_image_config(const char *oci_dir, const char *tag,
		     const struct pfs_log *log, char **config, size_t *len);

/* ---- reading ------------------------------------------------------------ */

struct pfs_image;

struct pfs_image_opts {
	const struct pfs_log *log;
	/* fs-verity mode: the expected fs-verity digest of the manifest. */
	const uint8_t *manifest_verity;
	size_t cache_bytes;		/* blob cache; 0: default (64 MiB) */
	/* Chunk blobs read ahead of sequential reads (loaded, checked and
	 * decompressed by threads of the reader): 0 default (8), -1 off. */
	int readahead;
};

int pfs_image_open(const char *oci_dir, const char *tag,
		   const struct pfs_image_opts *opts, struct pfs_image **out);
void pfs_image_close(struct pfs_image *img);

struct pfs_attr {
	uint64_t ino;
	uint32_t mode;			/* S_IF* type | permission bits */
	uint32_t uid, gid;
	uint32_t nlink;
	uint64_t size;			/* files; symlink target length; dirs: entries */
	uint64_t blocks;		/* 512-byte units */
	uint64_t rdev_major, rdev_minor;
	/* Images without (the reference's) have none: readers show a time
	 * of their own. */
	bool has_mtime;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
};

struct pfs_dirent_info {
	uint64_t ino;
	const char *name;		/* not NUL-terminated; valid until the next call */
	size_t name_len;
	uint32_t type;			/* S_IF* */
};

struct pfs_statfs {
	uint64_t blocks;		/* 4096-byte blocks of file data */
	uint64_t files;
	uint32_t bsize;
	uint32_t namemax;
};

#define PFS_ROOT_INODE 1

int pfs_getattr(struct pfs_image *img, uint64_t ino, struct pfs_attr *attr);
int pfs_lookup(struct pfs_image *img, uint64_t dir, const char *name,
	       size_t len, struct pfs_attr *attr);
/* An absolute path inside the image; symlinks are not followed. */
int pfs_resolve(struct pfs_image *img, const char *path, struct pfs_attr *attr);
/* *pos starts at 0; returns 1 per entry (no "." / ".."), 0 at the end. */
int pfs_readdir(struct pfs_image *img, uint64_t dir, uint64_t *pos,
		struct pfs_dirent_info *ent);
ssize_t pfs_read(struct pfs_image *img, uint64_t ino, void *buf, size_t len,
		 uint64_t off);
ssize_t pfs_readlink(struct pfs_image *img, uint64_t ino, char *buf,
		     size_t size);
/* size 0 asks for the length; -ERANGE if @size is too small. */
ssize_t pfs_listxattr(struct pfs_image *img, uint64_t ino, char *buf,
		      size_t size);
ssize_t pfs_getxattr(struct pfs_image *img, uint64_t ino, const char *name,
		     void *buf, size_t size);
int pfs_statfs(struct pfs_image *img, struct pfs_statfs *st);

/* The tree's shape, which walks and mounts rely on: a root directory,
 * every directory named once (no cycle, no directory hard link), none
 * more than 4096 levels below the root.  0, or -EIO / -ELOOP with the
 * reason logged. */
int pfs_image_check(struct pfs_image *img);

/* Digests of what was opened (raw 32-byte values). */
void pfs_image_manifest_digest(const struct pfs_image *img,
			       uint8_t digest[PFS_DIGEST_SIZE]);
void pfs_image_rootfs_digest(const struct pfs_image *img,
			     uint8_t digest[PFS_DIGEST_SIZE]);

/* ---- whole-image tools -------------------------------------------------- */

struct pfs_extract_opts {
	const struct pfs_log *log;
	bool no_owner;			/* never chown (default: chown when root) */
	bool no_devices;		/* create no device nodes, even as root */
	bool no_setuid;			/* drop setuid and setgid bits */
	bool no_xattrs;			/* restore no xattrs */
	uint64_t max_size;		/* refuse more file data than this (0: any) */
};

/*
 * Checks the image first (pfs_image_check, @max_size): if that fails,
 * nothing is written and @dest is not created.  Then everything that can
 * be extracted is: an entry that fails (and a file whose data cannot be
 * read is removed) is reported and the rest goes on; a directory that
 * cannot be made loses its subtree.  Returns 0, or the first failure's
 * negative errno once all is done.
 */

int pfs_extract(const char *oci_dir, const char *tag, const char *dest,
		const struct pfs_extract_opts *opts);

/* Check one tag, or every tag when @tag is NULL.  Problems are logged; the
 * return value is the number of problems found, or a negative errno. */
int pfs_fsck(const char *oci_dir, const char *tag, const struct pfs_log *log);

/* Enable fs-verity on the tag's blobs and check the digests, as the
 * reference's enable-fs-verity does. */
int pfs_enable_verity(const char *oci_dir, const char *tag,
		      const uint8_t manifest_verity[PFS_DIGEST_SIZE],
		      const struct pfs_log *log);

/* Remove a tag from index.json (atomically, under the directory's lock);
 * the blobs it used stay until pfs_gc.  -ENOENT if there is no such tag. */
int pfs_remove_tag(const char *oci_dir, const char *tag,
		   const struct pfs_log *log);

struct pfs_gc_opts {
	const struct pfs_log *log;
	bool dry_run;			/* find the garbage, delete nothing */
	bool shared;			/* the store is reached through a
					 * symlink and @dirs are all its users */
};

struct pfs_gc_result {
	struct {
		uint8_t digest[PFS_DIGEST_SIZE];
		uint64_t size;
	} *removed;			/* (or would be, in a dry run) */
	size_t nremoved;
	uint64_t bytes;			/* their sizes */
	size_t kept;			/* blobs reached from a tag */
};

/* Delete the blobs of the directories' shared store that no tag of theirs
 * reaches (through manifests and image indexes).  Nothing is deleted if
 * any manifest cannot be read or parsed.  Free @res with
 * pfs_gc_result_free(), on error too. */
int pfs_gc(const char *const *dirs, size_t ndirs,
	   const struct pfs_gc_opts *opts, struct pfs_gc_result *res);
void pfs_gc_result_free(struct pfs_gc_result *res);

/* Tags of an OCI directory, in index order; free with pfs_tags_free(). */
int pfs_list_tags(const char *oci_dir, const struct pfs_log *log,
		  char ***tags, size_t *count);
void pfs_tags_free(char **tags, size_t count);

/* fs-verity digest (sha256, 4096-byte blocks, no salt) of a byte string;
 * 0, or -ENOMEM. */
int pfs_verity_digest(const void *data, size_t len,
		      uint8_t digest[PFS_DIGEST_SIZE]);

/* ---- registries (push, pull) --------------------------------------------- */

/* How to reach a registry: skopeo's options. */
struct pfs_remote_opts {
	const struct pfs_log *log;
	const char *creds;		/* "USER:PASSWORD" (--creds), or NULL */
	const char *authfile;		/* --authfile, or NULL: the usual ones */
	bool no_tls_verify;		/* --tls-verify=false: no certificate
					 * checks, and plain HTTP if the
					 * registry does not speak TLS */
	const char *cert_dir;		/* --cert-dir, or NULL: certs.d */
	unsigned jobs;			/* transfers at once (0: 16) */
	bool http1;			/* never HTTP/2 */
	/* Retry tuning (0: defaults: 5 tries, 250 ms first backoff, a
	 * transfer stalled 30 s is retried). */
	unsigned attempts, backoff_ms, stall_ms;
};

struct pfs_transfer_stats {
	uint64_t blobs, bytes;		/* what the manifest names (config too) */
	uint64_t blobs_done, bytes_done;	/* dealt with so far */
	uint64_t present;		/* already there: not moved */
	uint64_t moved, bytes_moved;	/* uploaded / downloaded */
	uint64_t mounted;		/* push: mounted from another repository */
	uint64_t requests, retries;	/* HTTP requests, and how many retried */
	bool up_to_date;		/* push: the tag had this manifest */
	uint8_t manifest_digest[PFS_DIGEST_SIZE];
};

struct pfs_transfer_opts {
	struct pfs_remote_opts remote;
	/* push: a repository of the same registry to mount blobs from;
	 * NULL: the one the tag was pulled from, if it was. */
	const char *from;
	/* push: blobs larger than this go up in PATCH chunks of this size
	 * (0: 64 MiB). */
	uint64_t chunk_size;
	/* Called about 4 times a second from the calling thread. */
	void (*progress)(void *arg, const struct pfs_transfer_stats *st);
	void *progress_arg;
	struct pfs_transfer_stats *stats;	/* filled (may be NULL) */
};

/* Push @oci_dir:@tag to @dest ("docker://HOST[:PORT]/REPO[:TAG|@DIGEST]"):
 * the blobs the registry lacks, then the manifest, then the tag. */
int pfs_push(const char *oci_dir, const char *tag, const char *dest,
	     const struct pfs_transfer_opts *opts);
/* Pull @src into @oci_dir (created if needed) under @tag: the blobs the
 * directory lacks, each verified before it takes its name, then the
 * manifest, then index.json.  An interrupted pull keeps what it
 * completed. */
int pfs_pull(const char *src, const char *oci_dir, const char *tag,
	     const struct pfs_transfer_opts *opts);

#endif
