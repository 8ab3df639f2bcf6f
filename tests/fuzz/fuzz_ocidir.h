/* SPDX-License-Identifier: MIT */
/*
 * An OCI directory for the fuzz targets that read through the library
 * (fuzz_tree, fuzz_blob): made once per process in /dev/shm (or /tmp),
 * each input stored under its sha256 and removed after.
 */
#ifndef PUZZLEFS_FUZZ_OCIDIR_H
#define PUZZLEFS_FUZZ_OCIDIR_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

/* Library messages: each says what is wrong. */
static inline void fuzz_quiet(void *arg, int level, const char *msg)
{
	(void)arg;
	(void)level;
	if (!*msg)
		abort();
}

static inline void fuzz_put(const char *dir, const char *name, const void *p,
			    size_t n)
{
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || pfs_write_full(fd, p, n))
		abort();
	close(fd);
}

static const char *fuzz_dir;

/* At exit: the directory goes, whatever it still holds. */
static void fuzz_oci_dir_remove(void)
{
	static const char *const subs[] = { "blobs/sha256", "blobs", "" };
	char path[384];
	struct dirent *de;
	unsigned i;
	DIR *d;

	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir, subs[i]);
		d = opendir(path);
		while (d && (de = readdir(d))) {
			char p[640];

			if (de->d_type == DT_REG) {
				snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
				unlink(p);
			}
		}
		if (d)
			closedir(d);
		rmdir(path);
	}
}

/* @dir (64 bytes) becomes a new OCI directory named after @what, removed
 * when the process exits. */
static inline void fuzz_oci_dir(char *dir, const char *what)
{
	static const char *const bases[] = { "/dev/shm", "/tmp" };
	char path[128];
	int i;

	for (i = 0; i < 2; i++) {
		snprintf(dir, 64, "%s/pfs-fuzz-%s-XXXXXX", bases[i], what);
		if (mkdtemp(dir))
			break;
	}
	if (i == 2)
		abort();
	fuzz_dir = dir;
	atexit(fuzz_oci_dir_remove);
	snprintf(path, sizeof(path), "%s/blobs", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/blobs/sha256", dir);
	mkdir(path, 0755);
	fuzz_put(dir, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30);
}

/* Store @p as a blob of @dir: its name in @hex (65 bytes). */
static inline void fuzz_put_blob(const char *dir, const void *p, size_t n,
				 char *hex)
{
	uint8_t d[PFS_DIGEST_SIZE];
	char name[128];

	pfs_sha256(p, n, d);
	pfs_hex(d, PFS_DIGEST_SIZE, hex);
	snprintf(name, sizeof(name), "blobs/sha256/%s", hex);
	fuzz_put(dir, name, p, n);
}

static inline void fuzz_drop_blob(const char *dir, const char *hex)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", dir, hex);
	unlink(path);
}

#endif
