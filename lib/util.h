/* SPDX-License-Identifier: MIT */
/* Small helpers shared by the library: messages, hex, sha256, file I/O. */
#ifndef PUZZLEFS_UTIL_H
#define PUZZLEFS_UTIL_H

#include <dirent.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "puzzlefs.h"

/* Send a message to the log channel; returns -err (err is a positive errno). */
int pfs_errf(const struct pfs_log *log, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pfs_logf(const struct pfs_log *log, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pfs_vlogf(const struct pfs_log *log, int level, const char *fmt,
	       va_list ap);

void pfs_hex(const uint8_t *in, size_t len, char *out);	/* out: 2*len+1 */
/* @s for a message or a line of output: control characters and '\\' as
 * C escapes, cut at @size - 1 bytes (with "..." when cut). */
void pfs_printable(const char *s, char *out, size_t size);
int pfs_unhex(const char *in, uint8_t *out, size_t len);	/* exact 2*len chars */
/* "sha256:<64 lowercase hex>" -> 32 bytes. */
int pfs_parse_digest(const char *s, uint8_t out[PFS_DIGEST_SIZE]);
/* "64M", "256K", "1G", "2T", "1048576": bytes, 1024-based suffixes. */
int pfs_parse_size(const char *s, size_t *out);

void pfs_sha256(const void *data, size_t len, uint8_t out[PFS_DIGEST_SIZE]);

struct pfs_sha256_ctx;
struct pfs_sha256_ctx *pfs_sha256_new(void);
void pfs_sha256_reset(struct pfs_sha256_ctx *c);
void pfs_sha256_update(struct pfs_sha256_ctx *c, const void *data, size_t len);
void pfs_sha256_final(struct pfs_sha256_ctx *c, uint8_t out[PFS_DIGEST_SIZE]);
void pfs_sha256_free(struct pfs_sha256_ctx *c);

/* A listing of the directory @dirfd from its first entry, through a
 * duplicate descriptor (which shares @dirfd's position, hence the rewind);
 * NULL with errno set on failure.  closedir() leaves @dirfd open. */
DIR *pfs_opendir_at(int dirfd);

/* Full reads and writes that retry on EINTR and short transfers. */
ssize_t pfs_pread_full(int fd, void *buf, size_t len, off_t off);
/* Start reading the first @len bytes of @fd into the page cache, without
 * waiting: a hint, errors are ignored. */
void pfs_prefetch(int fd, uint64_t len);
int pfs_write_full(int fd, const void *buf, size_t len);
/* Read a whole file relative to dirfd, refusing more than @max bytes. */
int pfs_read_file_at(int dirfd, const char *path, size_t max, uint8_t **data,
		     size_t *len);

/* Growable byte buffer. */
struct pfs_buf {
	uint8_t *data;
	size_t len, cap;
};
int pfs_buf_reserve(struct pfs_buf *b, size_t more);
int pfs_buf_add(struct pfs_buf *b, const void *data, size_t len);
void pfs_buf_free(struct pfs_buf *b);

/* A seed for the hashes below: keys often come from images, so where they
 * land must not be predictable, or crafted keys would pile up in one run
 * of slots and make every insert a scan. */
uint64_t pfs_random_seed(void);

/* Map from nonzero u64 keys to u64 values (open addressing, slots picked
 * by XXH3 with a random seed per map). */
struct pfs_u64map {
	uint64_t *keys, *vals;
	size_t cap, used;
	uint64_t seed;
};
/* Returns a pointer to the value, or NULL if absent. */
uint64_t *pfs_u64map_get(const struct pfs_u64map *m, uint64_t key);
int pfs_u64map_put(struct pfs_u64map *m, uint64_t key, uint64_t val);
void pfs_u64map_free(struct pfs_u64map *m);

/*
 * Index of 32-byte digests stored by the caller: each slot holds a value
 * (the caller's position of a digest), and @digest(owner, value) gives the
 * digest back.  Slots are picked by XXH3 with a random seed, as above.
 */
struct pfs_dindex {
	size_t *slot;			/* value + 1; 0 empty */
	size_t slots, n;
	uint64_t seed;
	const uint8_t *(*digest)(const void *owner, size_t val);
	const void *owner;
};
/* The value of @d, or SIZE_MAX if absent. */
size_t pfs_dindex_find(const struct pfs_dindex *x, const uint8_t *d);
/* Add @d, which must be absent, with @val. */
int pfs_dindex_add(struct pfs_dindex *x, const uint8_t *d, size_t val);
void pfs_dindex_free(struct pfs_dindex *x);

#endif
