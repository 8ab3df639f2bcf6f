// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char usage[] =
	"Usage: puzzlefs enable-fs-verity OCI_DIR:TAG MANIFEST_DIGEST\n\n"
	"Enable fs-verity on the tag's manifest, rootfs, config and chunk blobs\n"
	"(the OCI directory must be on a filesystem with fs-verity, e.g. ext4\n"
	"with -O verity) and check every measurement: the manifest against\n"
	"MANIFEST_DIGEST (what 'build' printed), the rootfs against the\n"
	"manifest, each chunk against fsVerityData.  Then mount with\n"
	"'puzzlefs mount --digest MANIFEST_DIGEST'.\n";

int cmd_enable_verity(struct cli *cli, int argc, char **argv)
{
	uint8_t digest[PFS_DIGEST_SIZE];
	char *dir, *tag;
	int e;

	if (cli_wants_help(argc, argv, usage))
		return 0;
	if ((e = cli_no_options(cli, argc, argv)))
		return e;
	if (argc != 3)
		return cli_usage_err(cli, "expected OCI_DIR:TAG MANIFEST_DIGEST");
	if ((e = cli_digest(cli, argv[2], digest)))
		return e;
	if ((e = cli_image_ref(cli, argv[1], &dir, &tag)))
		return e;
	e = pfs_enable_verity(dir, tag, digest, &cli->log);
	free(dir);
	free(tag);
	return e ? 1 : 0;
}
