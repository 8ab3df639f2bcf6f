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

static int swap_then_open(const char *sym, int dirfd, const char *path,
			  int flags, mode_t mode)
{
	static int done;
	const char *name = getenv("PFS_SWAP_NAME");
	const char *with = getenv("PFS_SWAP_WITH");
	openat_fn real = (openat_fn)dlsym(RTLD_NEXT, sym);

	if (!done && name && with && !strcmp(path, name)) {
		done = 1;
		if (renameat(AT_FDCWD, with, dirfd, path))
			perror("swap_preload: rename");
	}
	return real(dirfd, path, flags, mode);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
}

int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return swap_then_open("openat", dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return swap_then_open("openat64", dirfd, path, flags, mode);
}
