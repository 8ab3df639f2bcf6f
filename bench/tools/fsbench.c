// SPDX-License-Identifier: MIT
/*
 * fsbench: the client side of the read benchmarks, the same code for every
 * file system so that only the file system differs.  One thread, plain
 * POSIX calls, the way tar, cp -a or a container runtime touch a tree.
 *
 *   fsbench readall DIR          read every regular file, depth first
 *   fsbench statall DIR          lstat every entry, depth first
 *   fsbench randread PATH N SEED N random 4 KiB preads, offsets uniform
 *                                over all file bytes under PATH (a file is
 *                                picked in proportion to its size) or in
 *                                the file PATH; readahead off
 *
 * Prints one JSON object: counts, seconds, and for randread the latency
 * distribution in microseconds.  Directories are walked in readdir order
 * (every file system here returns names sorted).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUF (1 << 20)
#define PAGE 4096

struct walk {
	int mode;			/* 'r', 's' or 'l' (list for randread) */
	uint8_t *buf;
	uint64_t entries, files, bytes;
	/* randread: every regular file with its path and size */
	char **paths;
	uint64_t *sizes;
	size_t n, cap;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void die(const char *what, const char *path)
{
	fprintf(stderr, "fsbench: %s: %s: %s\n", what, path, strerror(errno));
	exit(1);
}

static void read_file(struct walk *w, int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		die("open", name);
	while ((n = read(fd, w->buf, BUF)) > 0)
		w->bytes += (uint64_t)n;
	if (n < 0)
		die("read", name);
	close(fd);
	w->files++;
}

static void remember(struct walk *w, const char *path, uint64_t size)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 4096;
		w->paths = realloc(w->paths, w->cap * sizeof(*w->paths));
		w->sizes = realloc(w->sizes, w->cap * sizeof(*w->sizes));
		if (!w->paths || !w->sizes)
			die("malloc", path);
	}
	w->paths[w->n] = strdup(path);
	w->sizes[w->n++] = size;
}

static void walk(struct walk *w, int fd, const char *path)
{
	DIR *d = fdopendir(fd);
	struct dirent *e;
	char sub[8192];

	if (!d)
		die("opendir", path);
	while ((errno = 0, e = readdir(d))) {
		struct stat st;
		int cfd;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		w->entries++;
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		if (w->mode == 's' || e->d_type == DT_UNKNOWN) {
			if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
				die("lstat", sub);
			e->d_type = S_ISDIR(st.st_mode) ? DT_DIR :
				    S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
		}
		if (e->d_type == DT_REG && w->mode == 'r')
			read_file(w, dirfd(d), e->d_name);
		if (e->d_type == DT_REG && w->mode == 'l') {
			if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW))
				die("lstat", sub);
			if (st.st_size > 0)
				remember(w, sub, (uint64_t)st.st_size);
		}
		if (e->d_type != DT_DIR)
			continue;
		cfd = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY |
			     O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			die("open", sub);
		walk(w, cfd, sub);
	}
	if (errno)
		die("readdir", path);
	closedir(d);
}

static int open_root(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		die("open", dir);
	return fd;
}

/* xorshift64*: the same reads for every file system given one seed. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545f4914f6cdd1dull;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct req {
	size_t file;
	uint64_t off;
	int fd;
};

static void randread(struct walk *w, const char *dir, long count, uint64_t seed)
{
	uint64_t total = 0, *cum, s = seed ? seed : 1;
	struct req *r = calloc((size_t)count, sizeof(*r));
	double *lat = calloc((size_t)count, sizeof(*lat)), t0, sum = 0;
	struct rlimit rl;
	struct stat st;
	size_t i, lo, hi;
	int *fds, root;
	long k;

	if (stat(dir, &st))
		die("stat", dir);
	if (S_ISREG(st.st_mode)) {
		/* One file: open it through its directory like the others. */
		char *slash = strrchr(dir, '/');

		remember(w, slash ? slash + 1 : dir, (uint64_t)st.st_size);
		if (slash)
			*slash = 0;
		else
			dir = ".";
	} else {
		w->mode = 'l';
		walk(w, open_root(dir), ".");
	}
	cum = calloc(w->n + 1, sizeof(*cum));
	fds = calloc(w->n + 1, sizeof(*fds));
	if (!r || !lat || !cum || !fds || !w->n)
		die("setup", dir);
	for (i = 0; i < w->n; i++) {
		total += w->sizes[i];
		cum[i + 1] = total;
	}
	/* Pick every request first; then open each file once, untimed, so
	 * that only the reads are timed. */
	for (k = 0; k < count; k++) {
		uint64_t at = rnd(&s) % total;

		lo = 0;
		hi = w->n;
		while (hi - lo > 1) {
			size_t mid = (lo + hi) / 2;

			if (cum[mid] <= at)
				lo = mid;
			else
				hi = mid;
		}
		r[k].file = lo;
		r[k].off = (at - cum[lo]) & ~(uint64_t)(PAGE - 1);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	root = open_root(dir);
	for (k = 0; k < count; k++) {
		size_t f = r[k].file;

		if (!fds[f]) {
			fds[f] = openat(root, w->paths[f], O_RDONLY | O_CLOEXEC);
			if (fds[f] < 0)
				die("open", w->paths[f]);
			/* A random reader wants no readahead. */
			posix_fadvise(fds[f], 0, 0, POSIX_FADV_RANDOM);
		}
		r[k].fd = fds[f];
	}
	for (k = 0; k < count; k++) {
		ssize_t n;

		t0 = now();
		n = pread(r[k].fd, w->buf, PAGE, (off_t)r[k].off);
		lat[k] = (now() - t0) * 1e6;
		if (n <= 0)
			die("pread", w->paths[r[k].file]);
		sum += lat[k];
		w->bytes += (uint64_t)n;
	}
	qsort(lat, (size_t)count, sizeof(*lat), dbl_cmp);
	printf("{\"reads\": %ld, \"files\": %zu, \"bytes\": %llu, "
	       "\"secs\": %.6f, \"mean_us\": %.1f, \"p50_us\": %.1f, "
	       "\"p90_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}\n",
	       count, w->n, (unsigned long long)w->bytes, sum / 1e6,
	       sum / (double)count, lat[count / 2], lat[count * 9 / 10],
	       lat[count * 99 / 100], lat[count - 1]);
}

int main(int argc, char **argv)
{
	struct walk w = { 0 };
	double t0;

	w.buf = malloc(BUF);
	if (!w.buf)
		return 1;
	if (argc == 3 && (!strcmp(argv[1], "readall") ||
			  !strcmp(argv[1], "statall"))) {
		w.mode = argv[1][0] == 'r' ? 'r' : 's';
		t0 = now();
		walk(&w, open_root(argv[2]), argv[2]);
		printf("{\"entries\": %llu, \"files\": %llu, \"bytes\": %llu, "
		       "\"secs\": %.6f}\n", (unsigned long long)w.entries,
		       (unsigned long long)w.files,
		       (unsigned long long)w.bytes, now() - t0);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "randread")) {
		long n = atol(argv[3]);

		if (n <= 0)
			return 2;
		randread(&w, argv[2], n, strtoull(argv[4], NULL, 0));
		return 0;
	}
	fprintf(stderr, "usage: fsbench readall|statall DIR | "
		"randread DIR COUNT SEED\n");
	return 2;
}
