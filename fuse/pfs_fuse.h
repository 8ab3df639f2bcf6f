/* SPDX-License-Identifier: MIT */
/*
 * The FUSE daemon behind `puzzlefs mount` and the unmount behind
 * `puzzlefs umount`.  The CLI parses and checks the command line; this
 * module mounts, daemonizes, serves and unmounts.
 */
#ifndef PFS_FUSE_H
#define PFS_FUSE_H

#include <stdbool.h>
#include <stdint.h>

#include "puzzlefs.h"
#include "options.h"

struct pfs_fuse_args {
	const char *oci_dir, *tag;	/* the OCI directory, canonical */
	const char *mountpoint;		/* where FUSE mounts, canonical */
	/* -w / -p: overlayfs at @overlay over @mountpoint (its "ro" dir),
	 * else all NULL. */
	const char *overlay, *upper, *work;
	const uint8_t *verity;		/* -d: manifest fs-verity digest */
	const struct pfs_mount_opts *opts;
	bool foreground;
	const char *init_fifo;		/* -i, or NULL */
};

/*
 * Mount and serve; returns the exit status of `puzzlefs mount`.  In the
 * background (default) it returns 0 once the mount answers (and the
 * overlay is mounted) while a daemon serves it, or 1 after reporting why
 * it failed, with nothing left mounted.  In the foreground it serves until
 * the mount goes away or SIGINT/SIGTERM/SIGHUP (then it unmounts), and
 * returns 0.
 */
int pfs_fuse_main(const struct pfs_fuse_args *a, const struct pfs_log *log);

/* Unmount what `puzzlefs mount` mounted at @path: FUSE or kernel mounts,
 * or the overlay + FUSE pair of a writable mount. */
int pfs_unmount(const char *path, bool lazy, const struct pfs_log *log);

#endif
