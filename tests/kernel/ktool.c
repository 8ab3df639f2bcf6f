// SPDX-License-Identifier: MIT
/*
 * ktool: the small programs the kernel test guest (and the kernel
 * benchmark) runs.  Linked statically: the guest is a busybox initramfs.
 *
 *   ktool readers SECONDS NPROC ROOT LIST [ROOT LIST ...]
 *       NPROC processes read the files of LIST (lines "sha256 size hexpath",
 *       paths relative to ROOT) for SECONDS: whole files sequentially with
 *       random buffer sizes (sha256 checked) and random ranges of 1 B to
 *       1 MiB (checked against a verified copy).  Caches are dropped every
 *       2 s so that reads keep reaching the file system.  Exit 1 on any
 *       error or mismatch.
 *   ktool read FILE          read all of FILE: "OK <sha256>" or "ERR <errno>"
 *   ktool descend DIR        follow the first subdirectory down, through
 *                            descriptors (deeper than a path can name):
 *                            "OK <levels>" or "ERR <errno> at <levels>"
 *   ktool walk DIR           visit everything (stat, readlink, xattrs, read
 *                            files), ignoring errors: prints counts
 *   ktool enable-verity FILE enable fs-verity (sha256, 4 KiB blocks)
 *   ktool measure FILE       print the fs-verity digest
 *   ktool statall DIR        lstat every entry: "N entries MS ms"
 *   ktool readall DIR        read every regular file: "N files BYTES bytes MS ms"
 *   ktool time CMD [ARGS]    run CMD: "MS ms" (its exit status is ktool's)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fsverity.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void hex(const unsigned char *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", in[i]);
}

/* xorshift64*: reproducible per worker, no libc state shared. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ull;
}

/* ---- readers --------------------------------------------------------------- */

struct item {
	char *path;
	char sha[65];
	long long size;
};

static struct item *items;
static size_t nitems;

static char *unhex_path(const char *root, const char *h)
{
	size_t n = strlen(h) / 2, r = strlen(root), i;
	char *p = malloc(r + 1 + n + 1);
	unsigned v;

	memcpy(p, root, r);
	p[r] = '/';
	for (i = 0; i < n; i++) {
		sscanf(h + 2 * i, "%2x", &v);
		p[r + 1 + i] = (char)v;
	}
	p[r + 1 + n] = 0;
	return p;
}

static void load_list(const char *root, const char *list)
{
	char sha[65], hp[8192];
	long long size;
	FILE *f = fopen(list, "r");

	if (!f) {
		perror(list);
		exit(2);
	}
	while (fscanf(f, "%64s %lld %8191s", sha, &size, hp) == 3) {
		items = realloc(items, (nitems + 1) * sizeof(*items));
		items[nitems].path = unhex_path(root, hp);
		memcpy(items[nitems].sha, sha, sizeof(sha));
		items[nitems].size = size;
		nitems++;
	}
	fclose(f);
}

/* Read a whole file with random buffer sizes; returns its bytes or NULL. */
static unsigned char *read_whole(const struct item *it, uint64_t *seed)
{
	unsigned char *buf = malloc(it->size + 1), md[32];
	char h[65];
	long long off = 0;
	int fd = open(it->path, O_RDONLY);
	ssize_t n;

	if (fd < 0 || !buf) {
		printf("ERR open %s: %s\n", it->path, strerror(errno));
		free(buf);
		return NULL;
	}
	for (;;) {
		size_t want = 1 + rnd(seed) % (256 * 1024);

		if (off + (long long)want > it->size + 1)
			want = it->size + 1 - off;
		n = read(fd, buf + off, want);
		if (n < 0) {
			printf("ERR read %s at %lld: %s\n", it->path, off,
			       strerror(errno));
			close(fd);
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		off += n;
		if (off > it->size) {
			printf("ERR %s longer than %lld\n", it->path, it->size);
			close(fd);
			free(buf);
			return NULL;
		}
	}
	close(fd);
	EVP_Digest(buf, it->size, md, NULL, EVP_sha256(), NULL);
	hex(md, 32, h);
	if (off != it->size || strcmp(h, it->sha)) {
		printf("ERR %s: %lld bytes sha256 %s, expected %lld %s\n",
		       it->path, off, h, it->size, it->sha);
		free(buf);
		return NULL;
	}
	return buf;
}

static int random_reads(const struct item *it, const unsigned char *ref,
			uint64_t *seed)
{
	unsigned char *buf = malloc(1 << 20);
	int fd = open(it->path, O_RDONLY), i, bad = 0;

	if (fd < 0 || !buf) {
		printf("ERR open %s: %s\n", it->path, strerror(errno));
		free(buf);
		return 1;
	}
	for (i = 0; i < 16 && !bad; i++) {
		long long off = it->size ? (long long)(rnd(seed) % (it->size + 16)) : 0;
		size_t len = 1 + rnd(seed) % (1 << 20);
		long long want = off >= it->size ? 0 :
			(it->size - off < (long long)len ? it->size - off : (long long)len);
		ssize_t n = pread(fd, buf, len, off);

		if (n != want || (n > 0 && memcmp(buf, ref + off, n))) {
			printf("ERR %s: pread(%zu at %lld) gave %zd (%s), expected %lld\n",
			       it->path, len, off, n, n < 0 ? strerror(errno) : "data",
			       want);
			bad = 1;
		}
	}
	close(fd);
	free(buf);
	return bad;
}

static int worker(int id, double end)
{
	uint64_t seed = 0x9e3779b97f4a7c15ull * (id + 1), ops = 0;

	while (now_ms() < end) {
		const struct item *it = &items[rnd(&seed) % nitems];
		unsigned char *ref = read_whole(it, &seed);

		if (!ref)
			return 1;
		ops++;
		if (rnd(&seed) & 1) {
			if (random_reads(it, ref, &seed)) {
				free(ref);
				return 1;
			}
			ops += 16;
		}
		free(ref);
	}
	printf("worker %d: %llu reads\n", id, (unsigned long long)ops);
	return 0;
}

static int cmd_readers(int argc, char **argv)
{
	double secs, end;
	int n, i, st, bad = 0;
	pid_t dropper;

	if (argc < 5 || argc % 2 == 0) {
		fprintf(stderr, "usage: ktool readers SECONDS NPROC ROOT LIST...\n");
		return 2;
	}
	secs = atof(argv[1]);
	n = atoi(argv[2]);
	for (i = 3; i + 1 < argc; i += 2)
		load_list(argv[i], argv[i + 1]);
	if (!nitems) {
		fprintf(stderr, "ktool readers: no files\n");
		return 2;
	}
	end = now_ms() + secs * 1000;
	fflush(stdout);
	dropper = fork();
	if (dropper == 0) {
		while (now_ms() < end) {
			int fd = open("/proc/sys/vm/drop_caches", O_WRONLY);

			if (fd >= 0) {
				if (write(fd, "3", 1) < 0)
					perror("drop_caches");
				close(fd);
			}
			usleep(2000 * 1000);
		}
		_exit(0);
	}
	for (i = 0; i < n; i++) {
		if (fork() == 0) {
			int r = worker(i, end);

			fflush(stdout);
			_exit(r);
		}
	}
	/* Every child, the dropper included (waiting for n of them could
	 * reap the dropper and leave a reader running on the mount). */
	for (i = 0; i <= n; i++) {
		pid_t pid = wait(&st);

		if (pid < 0)
			break;
		if (pid != dropper && (!WIFEXITED(st) || WEXITSTATUS(st)))
			bad++;
	}
	printf("readers: %d of %d failed over %zu files\n", bad, n, nitems);
	return bad ? 1 : 0;
}

/* ---- single files ---------------------------------------------------------------- */

static int cmd_read(const char *path)
{
	unsigned char buf[65536], md[32];
	char h[65];
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0) {
		printf("ERR %d %s\n", errno, strerror(errno));
		return 1;
	}
	EVP_DigestInit(ctx, EVP_sha256());
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		EVP_DigestUpdate(ctx, buf, n);
	if (n < 0) {
		printf("ERR %d %s\n", errno, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	EVP_DigestFinal(ctx, md, NULL);
	EVP_MD_CTX_free(ctx);
	hex(md, 32, h);
	printf("OK %s\n", h);
	return 0;
}

static int cmd_descend(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY), sub;
	unsigned levels = 0;
	struct dirent *de;
	DIR *d;

	while (fd >= 0) {
		d = fdopendir(fd);
		if (!d)
			break;
		sub = -1;
		errno = 0;
		while ((de = readdir(d)))
			if (de->d_type == DT_DIR && strcmp(de->d_name, ".") &&
			    strcmp(de->d_name, "..")) {
				sub = openat(dirfd(d), de->d_name,
					     O_RDONLY | O_DIRECTORY);
				if (sub < 0) {
					printf("ERR %d at %u\n", errno, levels);
					closedir(d);
					return 1;
				}
				break;
			}
		if (errno) {
			printf("ERR %d at %u\n", errno, levels);
			closedir(d);
			return 1;
		}
		closedir(d);
		if (sub < 0) {
			printf("OK %u\n", levels);
			return 0;
		}
		fd = sub;
		levels++;
	}
	printf("ERR %d at %u\n", errno, levels);
	return 1;
}

static int cmd_enable_verity(const char *path)
{
	struct fsverity_enable_arg arg = {
		.version = 1,
		.hash_algorithm = FS_VERITY_HASH_ALG_SHA256,
		.block_size = 4096,
	};
	int fd = open(path, O_RDONLY);

	if (fd < 0 || ioctl(fd, FS_IOC_ENABLE_VERITY, &arg)) {
		fprintf(stderr, "enable-verity %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}

static int cmd_measure(const char *path)
{
	struct {
		struct fsverity_digest d;
		unsigned char buf[64];
	} m = { .d.digest_size = 64 };
	char h[129];
	int fd = open(path, O_RDONLY);

	if (fd < 0 || ioctl(fd, FS_IOC_MEASURE_VERITY, &m)) {
		fprintf(stderr, "measure %s: %s\n", path, strerror(errno));
		return 1;
	}
	close(fd);
	hex(m.d.digest, m.d.digest_size, h);
	printf("%s\n", h);
	return 0;
}

/* ---- whole trees ------------------------------------------------------------------- */

struct walk {
	unsigned long long entries, files, bytes, errors;
	bool read_files, all;
};

static void visit(struct walk *w, const char *path)
{
	char buf[65536];
	struct stat st;
	DIR *d;
	struct dirent *de;

	w->entries++;
	if (lstat(path, &st)) {
		w->errors++;
		return;
	}
	if (w->all) {
		ssize_t n = llistxattr(path, buf, sizeof(buf)), i;

		if (n < 0)
			w->errors++;
		for (i = 0; n > 0 && i < n; i += strlen(buf + i) + 1) {
			char val[65536];

			if (lgetxattr(path, buf + i, val, sizeof(val)) < 0 &&
			    errno != ENODATA)
				w->errors++;
		}
		if (S_ISLNK(st.st_mode) && readlink(path, buf, sizeof(buf)) < 0)
			w->errors++;
	}
	if (S_ISREG(st.st_mode) && w->read_files) {
		int fd = open(path, O_RDONLY);
		ssize_t n;

		w->files++;
		if (fd < 0) {
			w->errors++;
			return;
		}
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			w->bytes += n;
		if (n < 0)
			w->errors++;
		close(fd);
		return;
	}
	if (!S_ISDIR(st.st_mode))
		return;
	d = opendir(path);
	if (!d) {
		w->errors++;
		return;
	}
	while ((errno = 0, de = readdir(d))) {
		char *p;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (asprintf(&p, "%s/%s", path, de->d_name) < 0)
			exit(3);
		visit(w, p);
		free(p);
	}
	if (errno)
		w->errors++;
	closedir(d);
}

int main(int argc, char **argv)
{
	struct walk w = { 0 };
	double t;

	if (argc < 2) {
		fprintf(stderr, "usage: ktool readers|read|walk|enable-verity|measure|statall|readall ...\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!strcmp(argv[1], "time") && argc > 2) {
		int st;
		pid_t pid;

		t = now_ms();
		pid = fork();
		if (pid == 0) {
			execvp(argv[2], argv + 2);
			_exit(127);
		}
		if (pid < 0 || waitpid(pid, &st, 0) < 0)
			return 127;
		printf("%.2f ms\n", now_ms() - t);
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	}
	if (!strcmp(argv[1], "readers"))
		return cmd_readers(argc - 1, argv + 1);
	if (argc != 3) {
		fprintf(stderr, "ktool %s: one argument\n", argv[1]);
		return 2;
	}
	if (!strcmp(argv[1], "read"))
		return cmd_read(argv[2]);
	if (!strcmp(argv[1], "descend"))
		return cmd_descend(argv[2]);
	if (!strcmp(argv[1], "enable-verity"))
		return cmd_enable_verity(argv[2]);
	if (!strcmp(argv[1], "measure"))
		return cmd_measure(argv[2]);
	t = now_ms();
	if (!strcmp(argv[1], "walk")) {
		w.read_files = w.all = true;
		visit(&w, argv[2]);
		printf("%llu entries %llu files %llu bytes %llu errors\n",
		       w.entries, w.files, w.bytes, w.errors);
		return 0;
	}
	if (!strcmp(argv[1], "statall")) {
		visit(&w, argv[2]);
		printf("%llu entries %.1f ms %llu errors\n", w.entries,
		       now_ms() - t, w.errors);
		return w.errors ? 1 : 0;
	}
	if (!strcmp(argv[1], "readall")) {
		w.read_files = true;
		visit(&w, argv[2]);
		printf("%llu files %llu bytes %.1f ms %llu errors\n", w.files,
		       w.bytes, now_ms() - t, w.errors);
		return w.errors ? 1 : 0;
	}
	fprintf(stderr, "ktool: unknown command %s\n", argv[1]);
	return 2;
}
