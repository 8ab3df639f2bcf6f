/* SPDX-License-Identifier: MIT */
/* Mounting and unmounting building blocks shared by the daemon and umount. */
#ifndef PFS_FUSE_MOUNTS_H
#define PFS_FUSE_MOUNTS_H

#include <stdbool.h>
#include <sys/types.h>

#include "puzzlefs.h"

/* overlayfs at @target: the image below, @upper/@work above. */
int pfs_overlay_mount(const char *lower, const char *upper, const char *work,
		      const char *target, const struct pfs_log *log);

/* Unmount @path only if the mount on top there is the one with device
 * @dev (0: any puzzlefs-made mount).  0 if done or nothing is mounted,
 * -EBUSY if something else is mounted on top. */
int pfs_unmount_if(const char *path, dev_t dev, bool lazy);

/* `fusermount3 -u [-z] PATH`, for FUSE mounts of unprivileged users. */
int pfs_fusermount_unmount(const char *path, bool lazy,
			   const struct pfs_log *log);

#endif
