// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <xxhash.h>

#include "../core/compat.h"
#include "util.h"

/*
 * Messages name a path first and say why last, and a path can be longer
 * than any message should be (a tree 4,096 levels deep): a long message
 * keeps its start and its end, with "..." for what is left out between.
 */
#define MSG_MAX 1024
#define MSG_HEAD 256

void pfs_vlogf(const struct pfs_log *log, int level, const char *fmt,
	       va_list ap)
{
	char msg[MSG_MAX], *full = NULL;
	va_list again;
	int n;

	if (!log || !log->fn)
		return;
	va_copy(again, ap);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= (int)sizeof(msg) && vasprintf(&full, fmt, again) >= 0) {
		size_t tail = sizeof(msg) - MSG_HEAD - 4;

		memcpy(msg + MSG_HEAD, "...", 3);
		memcpy(msg + MSG_HEAD + 3, full + n - tail, tail + 1);
		free(full);
	}
	va_end(again);
	log->fn(log->arg, level, msg);
}

void pfs_logf(const struct pfs_log *log, int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pfs_vlogf(log, level, fmt, ap);
	va_end(ap);
}

int pfs_errf(const struct pfs_log *log, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pfs_vlogf(log, PFS_LOG_ERR, fmt, ap);
	va_end(ap);
	return -err;
}

void pfs_hex(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * len] = 0;
}

void pfs_printable(const char *s, char *out, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = 0;

	for (; *s && n + 8 < size; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\\' || c == '\n' || c == '\t') {
			out[n++] = '\\';
			out[n++] = c == '\n' ? 'n' : c == '\t' ? 't' : '\\';
		} else if (c < 0x20 || c == 0x7f) {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = digits[c >> 4];
			out[n++] = digits[c & 15];
		} else {
			out[n++] = (char)c;
		}
	}
	if (*s && size >= 4) {
		n = n + 4 > size ? size - 4 : n;
		memcpy(out + n, "...", 3);
		n += 3;
	}
	if (size)
		out[n < size ? n : size - 1] = 0;
}

int pfs_unhex(const char *in, uint8_t *out, size_t len)
{
	size_t i;

	if (strlen(in) != 2 * len)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		int hi = pfs_hexval((u8)in[2 * i]);
		int lo = pfs_hexval((u8)in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int pfs_parse_digest(const char *s, uint8_t out[PFS_DIGEST_SIZE])
{
	size_t i;

	if (strncmp(s, "sha256:", 7))
		return -EINVAL;
	s += 7;
	/* OCI requires lowercase hex; blob file names depend on it. */
	for (i = 0; s[i]; i++)
		if (s[i] >= 'A' && s[i] <= 'F')
			return -EINVAL;
	return pfs_unhex(s, out, PFS_DIGEST_SIZE);
}

DIR *pfs_opendir_at(int dirfd)
{
	int fd = dup(dirfd), saved;
	DIR *dir;

	if (fd < 0)
		return NULL;
	dir = fdopendir(fd);
	if (!dir) {
		saved = errno;
		close(fd);
		errno = saved;
		return NULL;
	}
	rewinddir(dir);
	return dir;
}

int pfs_parse_size(const char *s, size_t *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	case 't': case 'T': mul = 1ull << 40; end++; break;
	}
	if (*end || (v && mul > (unsigned long long)SIZE_MAX / v))
		return -EINVAL;
	*out = (size_t)(v * mul);
	return 0;
}

void pfs_sha256(const void *data, size_t len, uint8_t out[PFS_DIGEST_SIZE])
{
	unsigned int n = PFS_DIGEST_SIZE;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

struct pfs_sha256_ctx *pfs_sha256_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c && !EVP_DigestInit_ex(c, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return (struct pfs_sha256_ctx *)c;
}

/* Start over with the digest already set (no new lookup of SHA-256). */
void pfs_sha256_reset(struct pfs_sha256_ctx *c)
{
	EVP_DigestInit_ex2((EVP_MD_CTX *)c, NULL, NULL);
}

void pfs_sha256_update(struct pfs_sha256_ctx *c, const void *data, size_t len)
{
	EVP_DigestUpdate((EVP_MD_CTX *)c, data, len);
}

void pfs_sha256_final(struct pfs_sha256_ctx *c, uint8_t out[PFS_DIGEST_SIZE])
{
	unsigned int n = PFS_DIGEST_SIZE;

	EVP_DigestFinal_ex((EVP_MD_CTX *)c, out, &n);
}

void pfs_sha256_free(struct pfs_sha256_ctx *c)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)c);
}

ssize_t pfs_pread_full(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

void pfs_prefetch(int fd, uint64_t len)
{
	/* The kernel trims one WILLNEED to its readahead window (128 KiB by
	 * default), so a large file is asked for window by window. */
	const uint64_t win = 128 << 10;
	uint64_t off;

	for (off = 0; off < len; off += win)
		if (posix_fadvise(fd, (off_t)off, (off_t)win,
				  POSIX_FADV_WILLNEED))
			break;
}

int pfs_write_full(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int pfs_read_file_at(int dirfd, const char *path, size_t max, uint8_t **data,
		     size_t *len)
{
	struct stat st;
	uint8_t *buf;
	ssize_t n;
	int fd, e;

	/* O_NONBLOCK: a FIFO in its place must not hang the open. */
	fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		e = -errno;
		goto out;
	}
	e = -EFBIG;
	if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max) {
		if (!S_ISREG(st.st_mode))
			e = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	e = -ENOMEM;
	if (!buf)
		goto out;
	n = pfs_pread_full(fd, buf, (size_t)st.st_size, 0);
	if (n != st.st_size) {
		free(buf);
		e = n < 0 ? (int)n : -EIO;
		goto out;
	}
	buf[n] = 0;
	*data = buf;
	*len = (size_t)n;
	e = 0;
out:
	close(fd);
	return e;
}

int pfs_buf_reserve(struct pfs_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 256;
	uint8_t *p;

	if (b->len + more < b->len)
		return -ENOMEM;
	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int pfs_buf_add(struct pfs_buf *b, const void *data, size_t len)
{
	if (pfs_buf_reserve(b, len))
		return -ENOMEM;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

void pfs_buf_free(struct pfs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

uint64_t pfs_random_seed(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^
		       (uint64_t)(uintptr_t)&seed;
	return seed;
}

static size_t map_slot(const struct pfs_u64map *m, uint64_t key)
{
	size_t i = (size_t)XXH3_64bits_withSeed(&key, sizeof(key), m->seed) &
		   (m->cap - 1);

	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

uint64_t *pfs_u64map_get(const struct pfs_u64map *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return NULL;
	i = map_slot(m, key);
	return m->keys[i] ? &m->vals[i] : NULL;
}

int pfs_u64map_put(struct pfs_u64map *m, uint64_t key, uint64_t val)
{
	size_t i;

	if ((m->used + 1) * 2 > m->cap) {
		struct pfs_u64map n = {
			.cap = m->cap ? m->cap * 2 : 256,
			.seed = m->cap ? m->seed : pfs_random_seed(),
		};

		n.keys = calloc(n.cap, sizeof(*n.keys));
		n.vals = calloc(n.cap, sizeof(*n.vals));
		if (!n.keys || !n.vals) {
			free(n.keys);
			free(n.vals);
			return -ENOMEM;
		}
		for (i = 0; i < m->cap; i++) {
			if (m->keys[i]) {
				size_t s = map_slot(&n, m->keys[i]);

				n.keys[s] = m->keys[i];
				n.vals[s] = m->vals[i];
			}
		}
		n.used = m->used;
		pfs_u64map_free(m);
		*m = n;
	}
	i = map_slot(m, key);
	if (!m->keys[i]) {
		m->keys[i] = key;
		m->used++;
	}
	m->vals[i] = val;
	return 0;
}

void pfs_u64map_free(struct pfs_u64map *m)
{
	free(m->keys);
	free(m->vals);
	m->keys = m->vals = NULL;
	m->cap = m->used = 0;
}

/* The slot of @d: where it is, or the free slot where it would go. */
static size_t dindex_slot(const struct pfs_dindex *x, const uint8_t *d)
{
	size_t mask = x->slots - 1;
	size_t i = (size_t)XXH3_64bits_withSeed(d, PFS_DIGEST_SIZE, x->seed) &
		   mask;

	while (x->slot[i] && memcmp(x->digest(x->owner, x->slot[i] - 1), d,
				    PFS_DIGEST_SIZE))
		i = (i + 1) & mask;
	return i;
}

size_t pfs_dindex_find(const struct pfs_dindex *x, const uint8_t *d)
{
	size_t i;

	if (!x->slots)
		return SIZE_MAX;
	i = dindex_slot(x, d);
	return x->slot[i] ? x->slot[i] - 1 : SIZE_MAX;
}

int pfs_dindex_add(struct pfs_dindex *x, const uint8_t *d, size_t val)
{
	size_t i;

	if ((x->n + 1) * 2 > x->slots) {
		struct pfs_dindex g = *x;

		g.slots = x->slots ? x->slots * 2 : 1024;
		g.slot = calloc(g.slots, sizeof(*g.slot));
		if (!g.slot)
			return -ENOMEM;
		if (!x->slots)
			g.seed = pfs_random_seed();
		for (i = 0; i < x->slots; i++)
			if (x->slot[i])
				g.slot[dindex_slot(&g, x->digest(x->owner,
						x->slot[i] - 1))] = x->slot[i];
		free(x->slot);
		*x = g;
	}
	x->slot[dindex_slot(x, d)] = val + 1;
	x->n++;
	return 0;
}

void pfs_dindex_free(struct pfs_dindex *x)
{
	free(x->slot);
	x->slot = NULL;
	x->slots = x->n = 0;
}
