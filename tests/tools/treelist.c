// SPDX-License-Identifier: MIT
/*
 * treelist DIR: print a canonical JSON listing of a directory tree, the
 * format of ../shared/fixtures/reference-images/vN.listing.json: one object
 * per path (sorted by path bytes, "." for DIR itself) with type, mode,
 * uid, gid, size and sha256 for files, target for symlinks, rdev for
 * devices, xattrs_hex and hardlink_group.  The tests compare sources,
 * extractions and mounts with it, on the host and (linked statically) in
 * the kernel test guest.  Bytes that are not UTF-8 are written as \udcXX
 * (Python's surrogateescape).
 *
 *   --all-xattrs   every namespace, not only user.*
 *   --nlink        add "nlink" (link count) to every entry
 *   --mtime        add "mtime" ("SECONDS.NANOSECONDS") to every entry
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

struct entry {
	char *path;
	struct stat st;
	char *json;		/* everything but hardlink_group */
};

static struct entry *ents;
static size_t nents, cap;
static bool all_xattrs, with_nlink, with_mtime;
static int status;

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "treelist: %s: %s\n", what, strerror(errno));
	exit(1);
}

struct out {
	char *p;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->p = realloc(o->p, o->cap);
		if (!o->p)
			die("realloc");
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = 0;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Length of a valid UTF-8 sequence at s, or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if (len == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) ||
			 (s[0] == 0xed && s[1] >= 0xa0)))
		return 0;
	if (len == 4 && ((s[0] == 0xf0 && s[1] < 0x90) ||
			 (s[0] == 0xf4 && s[1] >= 0x90)))
		return 0;
	return len;
}

static void put_str(struct out *o, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	char esc[16];
	size_t i = 0, l;

	puts_(o, "\"");
	while (i < n) {
		if (u[i] == '"' || u[i] == '\\') {
			esc[0] = '\\';
			esc[1] = (char)u[i];
			put(o, esc, 2);
			i++;
		} else if (u[i] < 0x20 || u[i] == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", u[i]);
			puts_(o, esc);
			i++;
		} else if ((l = utf8_len(u + i, n - i))) {
			put(o, s + i, l);
			i += l;
		} else {
			snprintf(esc, sizeof(esc), "\\udc%02x", u[i]);
			puts_(o, esc);
			i++;
		}
	}
	puts_(o, "\"");
}

static void put_hex(struct out *o, const unsigned char *p, size_t n)
{
	char h[3];
	size_t i;

	puts_(o, "\"");
	for (i = 0; i < n; i++) {
		snprintf(h, sizeof(h), "%02x", p[i]);
		put(o, h, 2);
	}
	puts_(o, "\"");
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void put_xattrs(struct out *o, const char *path)
{
	char *list, *k, **keys;
	ssize_t n = llistxattr(path, NULL, 0);
	size_t nk = 0, j;
	bool first = true;

	if (n <= 0)
		return;
	list = malloc((size_t)n);
	n = llistxattr(path, list, (size_t)n);
	keys = calloc((size_t)n, sizeof(*keys));
	for (k = list; k < list + n; k += strlen(k) + 1)
		if (all_xattrs || !strncmp(k, "user.", 5))
			keys[nk++] = k;
	qsort(keys, nk, sizeof(*keys), key_cmp);
	for (j = 0; j < nk; j++) {
		ssize_t vl = lgetxattr(path, keys[j], NULL, 0);
		unsigned char *v = malloc(vl > 0 ? (size_t)vl : 1);

		vl = lgetxattr(path, keys[j], v, vl > 0 ? (size_t)vl : 0);
		if (vl < 0) {
			free(v);
			continue;
		}
		puts_(o, first ? ", \"xattrs_hex\": {" : ", ");
		first = false;
		put_str(o, keys[j], strlen(keys[j]));
		puts_(o, ": ");
		put_hex(o, v, (size_t)vl);
		free(v);
	}
	if (!first)
		puts_(o, "}");
	free(keys);
	free(list);
}

static void put_sha256(struct out *o, const char *path)
{
	unsigned char md[32], *buf = malloc(1 << 20);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	unsigned int mdlen;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_NOFOLLOW);

	if (fd < 0) {
		fprintf(stderr, "treelist: %s: %s\n", path, strerror(errno));
		status = 1;
		puts_(o, ", \"sha256\": null");
		free(buf);
		EVP_MD_CTX_free(c);
		return;
	}
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	while ((n = read(fd, buf, 1 << 20)) > 0)
		EVP_DigestUpdate(c, buf, (size_t)n);
	if (n < 0) {
		fprintf(stderr, "treelist: %s: %s\n", path, strerror(errno));
		status = 1;
	}
	EVP_DigestFinal_ex(c, md, &mdlen);
	close(fd);
	puts_(o, ", \"sha256\": ");
	put_hex(o, md, 32);
	free(buf);
	EVP_MD_CTX_free(c);
}

static void add(const char *full, const char *rel, const struct stat *st)
{
	struct out o = { 0 };
	char t[2] = "-", num[128];

	switch (st->st_mode & S_IFMT) {
	case S_IFDIR: t[0] = 'd'; break;
	case S_IFLNK: t[0] = 'l'; break;
	case S_IFCHR: t[0] = 'c'; break;
	case S_IFBLK: t[0] = 'b'; break;
	case S_IFIFO: t[0] = 'p'; break;
	case S_IFSOCK: t[0] = 's'; break;
	}
	puts_(&o, "\"type\": \"");
	puts_(&o, t);
	snprintf(num, sizeof(num), "\", \"mode\": \"0o%o\", \"uid\": %u, \"gid\": %u",
		 st->st_mode & 07777, st->st_uid, st->st_gid);
	puts_(&o, num);
	if (with_nlink) {
		snprintf(num, sizeof(num), ", \"nlink\": %lu",
			 (unsigned long)st->st_nlink);
		puts_(&o, num);
	}
	if (with_mtime) {
		snprintf(num, sizeof(num), ", \"mtime\": \"%lld.%09ld\"",
			 (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
		puts_(&o, num);
	}
	if (S_ISREG(st->st_mode)) {
		snprintf(num, sizeof(num), ", \"size\": %lld",
			 (long long)st->st_size);
		puts_(&o, num);
		put_sha256(&o, full);
	} else if (S_ISLNK(st->st_mode)) {
		char target[8192];
		ssize_t n = readlink(full, target, sizeof(target));

		if (n < 0)
			die(full);
		puts_(&o, ", \"target\": ");
		put_str(&o, target, (size_t)n);
	} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
		snprintf(num, sizeof(num), ", \"rdev\": [%u, %u]",
			 major(st->st_rdev), minor(st->st_rdev));
		puts_(&o, num);
	}
	put_xattrs(&o, full);
	if (nents == cap) {
		cap = cap ? cap * 2 : 1024;
		ents = realloc(ents, cap * sizeof(*ents));
		if (!ents)
			die("realloc");
	}
	ents[nents].path = strdup(rel);
	ents[nents].st = *st;
	ents[nents].json = o.p;
	nents++;
}

static void walk(const char *full, const char *rel)
{
	struct dirent *d;
	DIR *dir = opendir(full);

	if (!dir)
		die(full);
	while ((d = readdir(dir))) {
		char *f, *r;
		struct stat st;

		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (asprintf(&f, "%s/%s", full, d->d_name) < 0 ||
		    asprintf(&r, "%s%s%s", rel, *rel ? "/" : "", d->d_name) < 0)
			die("asprintf");
		if (lstat(f, &st))
			die(f);
		add(f, r, &st);
		if (S_ISDIR(st.st_mode))
			walk(f, r);
		free(f);
		free(r);
	}
	closedir(dir);
}

static int path_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (!strcmp(x->path, "."))
		return -1;
	if (!strcmp(y->path, "."))
		return 1;
	return strcmp(x->path, y->path);
}

int main(int argc, char **argv)
{
	struct stat st;
	struct out o = { 0 };
	const char *root = NULL;
	size_t i, j;
	int a;

	for (a = 1; a < argc; a++) {
		if (!strcmp(argv[a], "--all-xattrs"))
			all_xattrs = true;
		else if (!strcmp(argv[a], "--nlink"))
			with_nlink = true;
		else if (!strcmp(argv[a], "--mtime"))
			with_mtime = true;
		else
			root = argv[a];
	}
	if (!root) {
		fprintf(stderr, "usage: treelist [--all-xattrs] [--nlink] [--mtime] DIR\n");
		return 2;
	}
	if (lstat(root, &st))
		die(root);
	add(root, ".", &st);
	walk(root, "");
	qsort(ents, nents, sizeof(*ents), path_cmp);
	puts_(&o, "[\n");
	for (i = 0; i < nents; i++) {
		const struct entry *e = &ents[i];

		puts_(&o, " {\"path\": ");
		put_str(&o, e->path, strlen(e->path));
		puts_(&o, ", ");
		puts_(&o, e->json);
		if (!S_ISDIR(e->st.st_mode) && e->st.st_nlink > 1) {
			/* the group is named by its first path */
			for (j = 0; j < nents; j++)
				if (ents[j].st.st_ino == e->st.st_ino &&
				    ents[j].st.st_dev == e->st.st_dev)
					break;
			puts_(&o, ", \"hardlink_group\": ");
			put_str(&o, ents[j].path, strlen(ents[j].path));
		}
		puts_(&o, i + 1 < nents ? "},\n" : "}\n");
	}
	puts_(&o, "]\n");
	fwrite(o.p, 1, o.len, stdout);
	free(o.p);
	return status;
}
