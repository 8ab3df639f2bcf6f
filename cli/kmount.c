// SPDX-License-Identifier: MIT
/*
 * `puzzlefs mount --kernel`: the kernel driver (kernel/, puzzlefs.ko) takes
 * the OCI directory and the digest of an image manifest, because it does not
 * read index.json; this resolves the tag here and calls mount(2).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "store/oci.h"
#include "util.h"
#include "cli.h"

static const struct {
	const char *name;
	unsigned long set, clear;
} mount_flags[] = {
	{ "ro", MS_RDONLY, 0 },
	{ "nosuid", MS_NOSUID, 0 },
	{ "nodev", MS_NODEV, 0 },
	{ "noexec", MS_NOEXEC, 0 },
	{ "noatime", MS_NOATIME, 0 },
	{ "nodiratime", MS_NODIRATIME, 0 },
	{ "relatime", MS_RELATIME, 0 },
	{ "strictatime", MS_STRICTATIME, 0 },
	{ "sync", MS_SYNCHRONOUS, 0 },
	{ "dirsync", MS_DIRSYNC, 0 },
	{ "suid", 0, MS_NOSUID },
	{ "dev", 0, MS_NODEV },
	{ "exec", 0, MS_NOEXEC },
	{ "defaults", 0, 0 },
};

/* Split @options into mount flags and driver options (appended to @data). */
static int split_options(struct cli *cli, const char *options,
			 unsigned long *flags, struct pfs_buf *data)
{
	char *copy, *opt, *save = NULL;
	size_t i;
	int e = 0;

	if (!options || !*options)
		return 0;
	copy = strdup(options);
	if (!copy)
		return -ENOMEM;
	for (opt = strtok_r(copy, ",", &save); opt && !e;
	     opt = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < sizeof(mount_flags) / sizeof(mount_flags[0]); i++)
			if (!strcmp(opt, mount_flags[i].name))
				break;
		if (i < sizeof(mount_flags) / sizeof(mount_flags[0])) {
			*flags = (*flags | mount_flags[i].set) &
				 ~mount_flags[i].clear;
			continue;
		}
		if (!strcmp(opt, "rw")) {
			cli_err(cli, "the kernel driver mounts read-only: "
				"option 'rw' is not possible");
			e = -EINVAL;
			break;
		}
		if (!strncmp(opt, "oci_root_dir=", 13) ||
		    !strncmp(opt, "image_manifest=", 15) ||
		    !strncmp(opt, "rootfs=", 7)) {
			cli_err(cli, "option '%s' is set from OCI_DIR:TAG", opt);
			e = -EINVAL;
			break;
		}
		if (pfs_buf_add(data, ",", 1) || pfs_buf_add(data, opt, strlen(opt)))
			e = -ENOMEM;
	}
	free(copy);
	return e;
}

/*
 * Resolve @tag to its image manifest and mount(2) it at @mountpoint, type
 * "puzzlefs", always read-only.  In @options the generic flags (nosuid,
 * nodev, noexec, noatime, ...) become mount flags and anything else (e.g.
 * cache_mb=N) goes to the driver.  @verity_digest (the fs-verity digest of
 * the manifest that `build` printed) selects fs-verity mode.  Returns the
 * exit status: 0, or 1 with a message.
 */
int cli_kernel_mount(struct cli *cli, const char *oci_dir, const char *tag,
		     const char *mountpoint, const char *options,
		     const uint8_t *verity_digest)
{
	char hex[2 * PFS_DIGEST_SIZE + 1], vhex[2 * PFS_DIGEST_SIZE + 1];
	char dir[PATH_MAX], *source = NULL;
	unsigned long flags = MS_RDONLY;
	struct pfs_buf data = { 0 };
	struct pfs_oci *oci = NULL;
	struct pfs_desc mdesc;
	int e, status = 1;

	if (!realpath(oci_dir, dir)) {
		cli_err(cli, "%s: %s", oci_dir, strerror(errno));
		return 1;
	}
	/* The option string is comma-separated: a comma cannot be escaped. */
	if (strchr(dir, ',')) {
		cli_err(cli, "%s: the kernel driver cannot take a path with a "
			"comma", dir);
		return 1;
	}
	e = pfs_oci_open(dir, false, &cli->log, &oci);
	if (!e)
		e = pfs_oci_tag_resolve(oci, tag, &mdesc);
	pfs_oci_close(oci);
	if (e)
		return 1;	/* the library said why */
	pfs_hex(mdesc.digest, PFS_DIGEST_SIZE, hex);
	if (pfs_buf_add(&data, "oci_root_dir=", 13) ||
	    pfs_buf_add(&data, dir, strlen(dir)) ||
	    pfs_buf_add(&data, ",image_manifest=", 16) ||
	    pfs_buf_add(&data, hex, strlen(hex)))
		goto nomem;
	if (verity_digest) {
		pfs_hex(verity_digest, PFS_DIGEST_SIZE, vhex);
		if (pfs_buf_add(&data, ",verity=", 8) ||
		    pfs_buf_add(&data, vhex, strlen(vhex)))
			goto nomem;
	}
	e = split_options(cli, options, &flags, &data);
	if (e == -ENOMEM)
		goto nomem;
	if (e)
		goto out;
	if (pfs_buf_add(&data, "", 1) ||
	    asprintf(&source, "%s:%s", dir, tag) < 0)
		goto nomem;
	if (mount(source, mountpoint, "puzzlefs", flags, data.data) == 0) {
		status = 0;
		goto out;
	}
	e = errno;
	if (e == ENODEV)
		cli_err(cli, "the kernel has no puzzlefs file system: load the "
			"driver first ('modprobe puzzlefs', or 'insmod "
			"build/kernel/puzzlefs.ko' after 'make kmod')");
	else if (e == EPERM)
		cli_err(cli, "%s: mounting with the kernel driver needs root "
			"(CAP_SYS_ADMIN)", mountpoint);
	else
		cli_err(cli, "%s:%s on %s: %s (the kernel log, dmesg, has the "
			"driver's reason)", dir, tag, mountpoint, strerror(e));
	goto out;
nomem:
	cli_err(cli, "out of memory");
out:
	free(source);
	pfs_buf_free(&data);
	return status;
}
