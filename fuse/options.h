/* SPDX-License-Identifier: MIT */
/*
 * `puzzlefs mount -o` options: mount(2) flags, the FUSE kernel options,
 * libfuse's and our own.  Options come from the command line, mount(8) or
 * an fstab line, so anything unknown is refused by name.
 */
#ifndef PFS_FUSE_OPTIONS_H
#define PFS_FUSE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "puzzlefs.h"
#include "util.h"

struct pfs_mount_opts {
	unsigned long flags;		/* MS_*; ro,nosuid,nodev by default */
	struct pfs_buf kernel;		/* "allow_other,max_read=N,..." */
	char *fsname, *subtype;
	bool allow_other, allow_root, default_permissions, debug;
	size_t cache_bytes;		/* cache_size= */
	/* The command-line flags, also as options for mount(8) and fstab. */
	bool writable;			/* writable */
	char *persist;			/* persist=DIR */
	char *digest;			/* digest=HEX */
};

void pfs_mount_opts_init(struct pfs_mount_opts *mo);
void pfs_mount_opts_free(struct pfs_mount_opts *mo);
/* Parse one comma-separated list (may be called once per -o).  -EINVAL
 * with a message naming the option when it is unknown or malformed. */
int pfs_mount_opts_parse(struct pfs_mount_opts *mo, const char *list,
			 const struct pfs_log *log);
/* The options for libfuse's session and its own mount (the unprivileged
 * path), escaped for libfuse's parser; @fsname unless -o fsname= says. */
int pfs_mount_opts_libfuse(const struct pfs_mount_opts *mo,
			   const char *fsname, struct pfs_buf *out);

#endif
