/* SPDX-License-Identifier: MIT */
/*
 * OCI image layout directory: oci-layout, index.json (tags), image
 * manifests and content-addressed blobs under blobs/sha256.
 *
 * Writes are atomic: a blob is written to an unnamed temporary file and
 * linked under its digest only after its data is durable, so a crash never
 * leaves a partial blob under a real name; index.json is replaced by rename.
 * An existing blob is never rewritten.  Writers hold an exclusive lock on
 * the directory for the whole build.
 */
#ifndef PUZZLEFS_OCI_H
#define PUZZLEFS_OCI_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>

#include "util.h"

#define PFS_MAX_JSON (64u << 20)

struct pfs_desc {
	uint8_t digest[PFS_DIGEST_SIZE];
	uint64_t size;
};

struct pfs_oci {
	int root_fd;
	int blobs_fd;
	char *path;
	const struct pfs_log *log;
	bool writable;
	/* Blobs written but not yet linked under their names; the builder's
	 * workers add to it concurrently (put_lock). */
	pthread_mutex_t put_lock;
	struct pfs_pending {
		int fd;
		char tmpname[32];	/* named fallback, "" for O_TMPFILE */
		uint8_t digest[PFS_DIGEST_SIZE];
	} *pending;
	size_t npending;
	bool no_tmpfile;		/* under put_lock */
	/* Full batches are synced and named by a thread of their own, so
	 * that the builder's workers go on compressing meanwhile; it syncs
	 * one batch at a time (sync_lock). */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_cv;
	pthread_t syncer;
	bool syncer_on, sync_busy, sync_stop;
	struct pfs_pending *sync_batch;
	size_t sync_n;
	int sync_err;			/* the first error of the syncer */
};

struct pfs_manifest {
	struct pfs_desc rootfs;
	struct pfs_desc config;		/* with has_config */
	bool has_config;
	bool has_verity;
	uint8_t rootfs_verity[PFS_DIGEST_SIZE];
	struct pfs_desc *chunks;	/* chunk layers, duplicates included */
	bool *chunk_zstd;
	size_t nchunks;
};

/* Tags follow the OCI distribution spec's tag grammar (docker's): they
 * name files and URLs, and are printed one a line. */
#define PFS_TAG_GRAMMAR "[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
#define PFS_TAG_MAX 128
bool pfs_tag_valid(const char *tag);
/* -EINVAL, with a message saying why, if @tag is not a valid tag. */
int pfs_tag_check(const struct pfs_log *log, const char *tag);

int pfs_oci_open(const char *path, bool create, const struct pfs_log *log,
		 struct pfs_oci **out);
void pfs_oci_close(struct pfs_oci *oci);
int pfs_oci_lock(struct pfs_oci *oci);

int pfs_oci_index_load(struct pfs_oci *oci, json_t **index);
/* index.json's bytes -> its JSON (an object with a "manifests" array). */
int pfs_oci_index_parse(struct pfs_oci *oci, const uint8_t *data,
			size_t len, json_t **index);
/*
 * index.json's bytes as a stream: @fn gets each descriptor of "manifests"
 * in turn (index @i; it is freed after the call) and returns 0 to go on,
 * > 0 to stop (the scan then returns that), < 0 an error.  The whole
 * document is checked all the same.  With 200,000 tags a JSON tree of the
 * index costs ten times the file; this costs one descriptor.  @rest (may
 * be NULL) receives the index's other members.
 */
typedef int (*pfs_index_fn)(void *arg, json_t *ent, size_t i);
int pfs_oci_index_scan(struct pfs_oci *oci, const uint8_t *data, size_t len,
		       pfs_index_fn fn, void *arg, json_t **rest);
/* The tag an index entry carries (its ref.name annotation), or NULL. */
const char *pfs_oci_entry_tag(json_t *ent);
/* The manifest descriptor @tag names in a parsed index (-ENOENT: none). */
int pfs_oci_index_find(struct pfs_oci *oci, json_t *index, const char *tag,
		       struct pfs_desc *manifest);
/* The same in index.json's bytes, read as a stream (pfs_oci_index_scan). */
int pfs_oci_index_lookup(struct pfs_oci *oci, const uint8_t *data,
			 size_t len, const char *tag, struct pfs_desc *manifest);
/* A descriptor's sha256 digest and size; errors name @what. */
int pfs_oci_parse_desc(struct pfs_oci *oci, json_t *d, const char *what,
		       struct pfs_desc *out);
/* The same for a descriptor from elsewhere (a registry): errors name
 * @where and @what. */
int pfs_desc_parse(json_t *d, const struct pfs_log *log, const char *where,
		   const char *what, struct pfs_desc *out);
int pfs_oci_tag_resolve(struct pfs_oci *oci, const char *tag,
			struct pfs_desc *manifest);
/* Drop every index entry named @tag (-ENOENT if none); its blobs stay
 * until pfs_gc. */
int pfs_oci_tag_remove(struct pfs_oci *oci, const char *tag);
int pfs_oci_tag_set(struct pfs_oci *oci, const char *tag,
		    const struct pfs_desc *manifest);
/* The same with the index entry's platform object (NULL: the host's) and
 * one more annotation @key = @value on the entry (@key NULL: none). */
int pfs_oci_tag_put(struct pfs_oci *oci, const char *tag,
		    const struct pfs_desc *manifest, json_t *platform,
		    const char *key, const char *value);
/* The host's architecture as OCI names it (GOARCH: amd64, arm64...). */
const char *pfs_goarch(void);

/* Open a blob read-only; -ENOENT with a message naming it if absent. */
int pfs_oci_blob_open(struct pfs_oci *oci, const uint8_t *digest);
/* Sees a blob's bytes once they are read and before their sha256 is
 * checked: for hints only (prefetching what they name), never for trust. */
struct pfs_blob_peek {
	void (*fn)(void *arg, const uint8_t *data, size_t len);
	void *arg;
};
/* Read a whole blob (at most @max bytes), checking its size (unless
 * @size is UINT64_MAX), its sha256 and, when @verity is set, that the file
 * has fs-verity enabled with that digest.  @peek may be NULL. */
int pfs_oci_blob_read(struct pfs_oci *oci, const uint8_t *digest,
		      uint64_t size, size_t max, const uint8_t *verity,
		      uint8_t **data, size_t *len,
		      const struct pfs_blob_peek *peek);
/* Start reading blob @digest (its first @max bytes at most) into the page
 * cache, if it exists: a hint. */
void pfs_oci_blob_prefetch(struct pfs_oci *oci, const uint8_t *digest,
			   uint64_t max);
/* Read blob @digest, which must be @size bytes, into @out (replacing its
 * contents) and check its sha256; quiet, for callers to which a blob that
 * is absent or bad is not an error: -ENOENT, -EIO or another errno.  Finds
 * blobs this handle stored that wait, unnamed, for their sync too.
 * @size UINT64_MAX: whatever size it has, up to PFS_FETCH_ANY_MAX. */
#define PFS_FETCH_ANY_MAX (1u << 20)
int pfs_oci_blob_fetch(struct pfs_oci *oci, const uint8_t *digest,
		       uint64_t size, struct pfs_buf *out);
/* fs-verity measurement of an open file; -ENODATA if verity is off. */
int pfs_measure_verity(int fd, uint8_t digest[PFS_DIGEST_SIZE]);
/* Does the blob exist with the right content?  1 yes, 0 absent, <0 error
 * (a blob under that name with other content is an error). */
int pfs_oci_blob_check(struct pfs_oci *oci, const uint8_t *digest);

/* Store a blob (digest computed by the caller); durable after sync. */
int pfs_oci_blob_put(struct pfs_oci *oci, const uint8_t *digest,
		     const void *data, size_t len);
int pfs_oci_sync(struct pfs_oci *oci);

/*
 * A blob written as it arrives (pull): into an unnamed temporary file,
 * hashed on the way.  Commit checks its size and sha256 and hands it to
 * the pending batch, named at the next pfs_oci_sync (or when a batch is
 * full) as pfs_oci_blob_put's are: nothing unverified ever takes a
 * digest's name.  Write and commit may run on different threads (one at a
 * time per writer).
 */
struct pfs_oci_writer;
int pfs_oci_writer_open(struct pfs_oci *oci, const uint8_t *digest,
			uint64_t size, struct pfs_oci_writer **out);
/* -EFBIG past the size given at open. */
int pfs_oci_writer_write(struct pfs_oci_writer *w, const void *data,
			 size_t len);
/* Frees @w.  0 once pending; -EIO, quietly, if the bytes are not @size
 * long or do not match the digest (then nothing is kept); other errors
 * are logged. */
int pfs_oci_writer_commit(struct pfs_oci_writer *w);
void pfs_oci_writer_abort(struct pfs_oci_writer *w);
/* Is blob @digest here as a regular file of @size bytes?  1 yes, 0
 * absent, -EIO (logged) if it is there with another size or type. */
int pfs_oci_blob_have(struct pfs_oci *oci, const uint8_t *digest,
		      uint64_t size);

int pfs_manifest_parse(struct pfs_oci *oci, const uint8_t *data, size_t len,
		       const char *what, struct pfs_manifest *m);
void pfs_manifest_free(struct pfs_manifest *m);

#endif
