// SPDX-License-Identifier: MIT
/*
 * `puzzlefs umount`: find what is mounted at the path in mountinfo (never
 * touching the mount itself, which may be dead or hung) and unmount it,
 * the overlay first for a writable mount.  The daemon notices its mount is
 * gone and exits.
 */
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"
#include "mountinfo.h"
#include "mounts.h"
#include "pfs_fuse.h"

extern char **environ;

int pfs_unmount_if(const char *path, dev_t dev, bool lazy)
{
	struct pfs_mnt m;
	int r = pfs_mountinfo_find(path, &m);

	if (r <= 0)
		return r;
	if (dev ? m.dev != dev : !pfs_mnt_is_puzzlefs(&m))
		return -EBUSY;
	return umount2(path, lazy ? MNT_DETACH : 0) ? -errno : 0;
}

int pfs_fusermount_unmount(const char *path, bool lazy,
			   const struct pfs_log *log)
{
	static const char *const progs[] = { "fusermount3", "fusermount" };
	char *argv[5];
	size_t i;
	pid_t pid;
	int st, e = ENOENT;

	for (i = 0; i < sizeof(progs) / sizeof(*progs); i++) {
		int n = 0;

		argv[n++] = (char *)progs[i];
		argv[n++] = lazy ? "-uz" : "-u";
		argv[n++] = "--";
		argv[n++] = (char *)path;
		argv[n] = NULL;
		e = posix_spawnp(&pid, progs[i], NULL, NULL, argv, environ);
		if (e == 0)
			break;
	}
	if (e)
		return pfs_errf(log, e, "%s: cannot run fusermount3: %s", path,
				strerror(e));
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return pfs_errf(log, errno, "waitpid: %s",
					strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return pfs_errf(log, EIO, "%s: fusermount3 failed", path);
	return 0;
}

static int unmount_one(const char *path, bool lazy, const struct pfs_log *log)
{
	if (!umount2(path, lazy ? MNT_DETACH : 0))
		return 0;
	if (errno == EPERM && geteuid() != 0)
		return pfs_fusermount_unmount(path, lazy, log);
	if (errno == EBUSY)
		return pfs_errf(log, EBUSY, "%s: busy (files open or a "
				"process inside; --lazy detaches it now)",
				path);
	return pfs_errf(log, errno, "%s: cannot unmount: %s", path,
			strerror(errno));
}

/* Find the mount at @arg: as named, or through a symlink. */
static int locate(const char *arg, char **path, struct pfs_mnt *m,
		  const struct pfs_log *log)
{
	char *real;
	int r;

	*path = pfs_canonical_mountpoint(arg);
	if (!*path)
		return pfs_errf(log, errno, "%s: %s", arg, strerror(errno));
	r = pfs_mountinfo_find(*path, m);
	if (r == 0 && (real = realpath(arg, NULL))) {
		if (strcmp(real, *path)) {
			free(*path);
			*path = real;
			r = pfs_mountinfo_find(*path, m);
		} else {
			free(real);
		}
	}
	if (r < 0)
		return pfs_errf(log, -r, "/proc/self/mountinfo: %s",
				strerror(-r));
	if (r == 0)
		return pfs_errf(log, EINVAL, "%s: not mounted", *path);
	return 0;
}

static int unmount_overlay(const char *path, bool lazy,
			   const struct pfs_log *log)
{
	struct pfs_mnt lower;
	char *ro;
	int r;

	if (asprintf(&ro, "%s/ro", path) < 0)
		return -ENOMEM;
	r = pfs_mountinfo_find(ro, &lower);
	if (r != 1 || !pfs_mnt_is_puzzlefs(&lower)) {
		r = pfs_errf(log, EINVAL, "%s: an overlay, but no puzzlefs "
			     "mount below it at %s", path, ro);
	} else if (geteuid() != 0) {
		r = pfs_errf(log, EPERM,
			     "%s: only root can unmount writable mounts", path);
	} else {
		r = unmount_one(path, lazy, log);
		if (!r)
			r = unmount_one(ro, lazy, log);
	}
	free(ro);
	return r;
}

int pfs_unmount(const char *arg, bool lazy, const struct pfs_log *log)
{
	struct pfs_mnt m;
	char *path = NULL;
	int r;

	r = locate(arg, &path, &m, log);
	if (r)
		goto out;
	if (!strcmp(m.fstype, "overlay"))
		r = unmount_overlay(path, lazy, log);
	else if (pfs_mnt_is_puzzlefs(&m))
		r = unmount_one(path, lazy, log);
	else
		r = pfs_errf(log, EINVAL, "%s: not a puzzlefs mount (%s %s)",
			     path, m.fstype, m.source);
out:
	free(path);
	return r;
}
