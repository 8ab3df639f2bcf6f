// SPDX-License-Identifier: MIT
/*
 * The writable layer of `mount -w/-p`: overlayfs over the read-only FUSE
 * mount, laid out as the reference does (MNT/ro below, MNT/upper or the
 * persist dir above, MNT/work beside it).
 */
#include <errno.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "util.h"
#include "mounts.h"

/* overlayfs splits its options at ',' and lowerdir at ':'; a backslash
 * makes either literal. */
static int add_path(struct pfs_buf *b, const char *key, const char *path)
{
	const char *p;

	if ((b->len && pfs_buf_add(b, ",", 1)) ||
	    pfs_buf_add(b, key, strlen(key)))
		return -ENOMEM;
	for (p = path; *p; p++) {
		if (strchr(",:\\", *p) && pfs_buf_add(b, "\\", 1))
			return -ENOMEM;
		if (pfs_buf_add(b, p, 1))
			return -ENOMEM;
	}
	return 0;
}

int pfs_overlay_mount(const char *lower, const char *upper, const char *work,
		      const char *target, const struct pfs_log *log)
{
	struct pfs_buf data = { 0 };
	int e;

	e = add_path(&data, "lowerdir=", lower);
	if (!e)
		e = add_path(&data, "upperdir=", upper);
	if (!e)
		e = add_path(&data, "workdir=", work);
	if (!e)
		e = pfs_buf_add(&data, "", 1);
	if (e) {
		pfs_buf_free(&data);
		return e;
	}
	if (data.len > (size_t)sysconf(_SC_PAGESIZE)) {
		pfs_buf_free(&data);
		return pfs_errf(log, ENAMETOOLONG,
				"%s: overlay paths too long for mount(2)",
				target);
	}
	if (mount("overlay", target, "overlay", 0, data.data)) {
		e = errno;
		pfs_buf_free(&data);
		return pfs_errf(log, e, "%s: cannot mount the overlay (upper "
				"%s, work %s): %s", target, upper, work,
				strerror(e));
	}
	pfs_buf_free(&data);
	return 0;
}
