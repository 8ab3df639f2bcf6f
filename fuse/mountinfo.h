/* SPDX-License-Identifier: MIT */
/* What is mounted where: /proc/self/mountinfo, parsed. */
#ifndef PFS_FUSE_MOUNTINFO_H
#define PFS_FUSE_MOUNTINFO_H

#include <stdbool.h>
#include <sys/types.h>

struct pfs_mnt {
	dev_t dev;		/* of the mounted superblock */
	char fstype[64];
	char source[1024];
};

/*
 * The topmost mount whose mount point is exactly @path (absolute, no
 * symlinks).  Returns 1 and fills @out, 0 when nothing is mounted there, or
 * a negative errno when mountinfo cannot be read.
 */
int pfs_mountinfo_find(const char *path, struct pfs_mnt *out);

/* Is @m one of ours: FUSE (any subtype) or the kernel driver? */
bool pfs_mnt_is_puzzlefs(const struct pfs_mnt *m);

/*
 * A mount point as the kernel names it, without touching the mount point
 * itself (a dead FUSE mount answers ENOTCONN): the canonical parent plus
 * the last component.  Free the result.
 */
char *pfs_canonical_mountpoint(const char *path);

#endif
