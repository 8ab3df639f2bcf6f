// SPDX-License-Identifier: MIT
/*
 * enable-fs-verity: turn on fs-verity for every blob of a tag and check each
 * measurement against what the image records: the manifest against the
 * digest the user holds, the rootfs against the manifest's annotation, the
 * chunks against fsVerityData.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fsverity.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "read/image.h"

static int enable(struct pfs_oci *oci, const uint8_t *digest,
		  const uint8_t *want, const char *what)
{
	struct fsverity_enable_arg arg = {
		.version = 1,
		.hash_algorithm = FS_VERITY_HASH_ALG_SHA256,
		.block_size = 4096,
	};
	char hex[2 * PFS_DIGEST_SIZE + 1];
	uint8_t got[PFS_DIGEST_SIZE];
	int fd, e = 0;

	pfs_hex(digest, PFS_DIGEST_SIZE, hex);
	fd = pfs_oci_blob_open(oci, digest);
	if (fd < 0)
		return fd;
	if (ioctl(fd, FS_IOC_ENABLE_VERITY, &arg) && errno != EEXIST)
		e = pfs_errf(oci->log, errno, "%s: %s %s: enable fs-verity: %s",
			     oci->path, what, hex, strerror(errno));
	if (!e && want) {
		e = pfs_measure_verity(fd, got);
		if (e)
			e = pfs_errf(oci->log, -e, "%s: %s %s: measure: %s",
				     oci->path, what, hex, strerror(-e));
		else if (memcmp(got, want, PFS_DIGEST_SIZE))
			e = pfs_errf(oci->log, EINVAL,
				     "%s: %s %s: fs-verity digest mismatch",
				     oci->path, what, hex);
	}
	close(fd);
	return e;
}

int pfs_enable_verity(const char *oci_dir, const char *tag,
		      const uint8_t manifest_verity[PFS_DIGEST_SIZE],
		      const struct pfs_log *log)
{
	struct pfs_image_opts io = { .log = log };
	struct pfs_image *img = NULL;
	struct pfs_desc mdesc;
	struct pfs_oci *oci;
	struct pfs_cur c;
	uint8_t empty[PFS_DIGEST_SIZE];
	bool is_empty;
	size_t i;
	int e;

	e = pfs_oci_open(oci_dir, false, log, &oci);
	if (e)
		return e;
	e = pfs_oci_tag_resolve(oci, tag, &mdesc);
	if (!e)
		e = enable(oci, mdesc.digest, manifest_verity, "manifest");
	if (!e)
		e = pfs_image_open_oci(oci, tag, &io, &img);
	if (!e)
		e = pfs_image_chunk_layers(img);
	if (!e && !img->manifest.has_verity)
		e = pfs_errf(log, EINVAL, "%s:%s: rootfs has no fs-verity annotation",
			     oci_dir, tag);
	if (!e)
		e = enable(oci, img->manifest.rootfs.digest,
			   img->manifest.rootfs_verity, "rootfs");
	/* The config: the empty one's "{}" if it is there (the reference's
	 * images may lack it), an import's image config in any case. */
	pfs_unhex(PFS_EMPTY_DIGEST, empty, PFS_DIGEST_SIZE);
	is_empty = img && img->manifest.has_config &&
		   !memcmp(empty, img->manifest.config.digest, PFS_DIGEST_SIZE);
	if (!e && img->manifest.has_config &&
	    (!is_empty || pfs_oci_blob_check(oci, empty) == 1))
		e = enable(oci, img->manifest.config.digest, NULL, "config");
	for (i = 0; !e && i < img->rfs.verity.count; i++) {
		const u8 *d, *v;

		pfs_cur_init(&c, &img->rfs.msg);
		e = pfs_verity_at(&c, &img->rfs, (u32)i, &d, &v);
		if (!e)
			e = enable(oci, d, v, "chunk");
	}
	/* Every chunk layer must be covered, or verity mounts fail on it. */
	for (i = 0; !e && i < img->manifest.nchunks; i++) {
		const u8 *v;

		pfs_cur_init(&c, &img->rfs.msg);
		if (pfs_verity_find(&c, &img->rfs, img->manifest.chunks[i].digest,
				    &v)) {
			char hex[2 * PFS_DIGEST_SIZE + 1];

			pfs_hex(img->manifest.chunks[i].digest, PFS_DIGEST_SIZE,
				hex);
			e = pfs_errf(log, EINVAL,
				     "%s:%s: chunk %s has no fsVerityData entry",
				     oci_dir, tag, hex);
		}
	}
	pfs_image_close(img);
	pfs_oci_close(oci);
	return e;
}
