// SPDX-License-Identifier: MIT
/* LD_PRELOAD shim for one test: when the program opens a file whose name
 * is $PFS_SWAP_NAME, $PFS_SWAP_WITH (a FIFO made by the test) is renamed
 * over it first, as if the tree changed between the walker's lstat and its
 * open.  Once only. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int (*openat_fn)(int, const char *, int, ...);

int openat(int dirfd, const char *path, int flags, ...)
{
	static int done;
	const char *name = getenv("PFS_SWAP_NAME");
	const char *with = getenv("PFS_SWAP_WITH");
	openat_fn real = (openat_fn)dlsym(RTLD_NEXT, "openat");
	mode_t mode = 0;
	va_list ap;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!done && name && with && !strcmp(path, name)) {
		done = 1;
		if (renameat(AT_FDCWD, with, dirfd, path))
			perror("swap_preload: rename");
	}
	return real(dirfd, path, flags, mode);
}

/* What programs built with 64-bit file offsets call: the same function. */
int openat64(int dirfd, const char *path, int flags, ...)
	__attribute__((alias("openat")));
