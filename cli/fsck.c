// SPDX-License-Identifier: MIT
/* fsck and dump: checking and printing whole images. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../lib/dump.h"
#include "cli.h"

static const char fsck_usage[] =
	"Usage: puzzlefs fsck OCI_DIR[:TAG]\n\n"
	"Check a tag, or every tag and every blob of OCI_DIR: manifests, rootfs,\n"
	"metadata invariants, every file's data (each blob's sha256, seek\n"
	"tables and frames) and fsVerityData.  Prints each problem; exit status\n"
	"0 when there is none, 1 otherwise.\n";

int cmd_fsck(struct cli *cli, int argc, char **argv)
{
	char *dir = NULL, *tag = NULL;
	int n, e;

	if (cli_wants_help(argc, argv, fsck_usage))
		return 0;
	if ((e = cli_no_options(cli, argc, argv)))
		return e;
	if (argc != 2)
		return cli_usage_err(cli, "expected OCI_DIR[:TAG]");
	/* A directory that exists is the whole OCI dir, even with a ':' in
	 * its name; otherwise DIR:TAG. */
	if (strchr(argv[1], ':') && access(argv[1], F_OK) != 0) {
		if ((e = cli_image_ref(cli, argv[1], &dir, &tag)))
			return e;
	} else {
		dir = strdup(argv[1]);
	}
	n = pfs_fsck(dir, tag, &cli->log);
	if (n > 0)
		cli_err(cli, "%s: %d problem%s found", argv[1], n, n == 1 ? "" : "s");
	free(dir);
	free(tag);
	return n ? 1 : 0;
}

static const char dump_usage[] =
	"Usage: puzzlefs dump OCI_DIR:TAG\n\n"
	"Print the image's metadata as JSON: the manifest and rootfs digests,\n"
	"every metadata layer's inodes as stored (top layer first) and\n"
	"fsVerityData.  Byte strings that are not UTF-8 appear as \"<key>_hex\".\n";

int cmd_dump(struct cli *cli, int argc, char **argv)
{
	struct pfs_image_opts io = { .log = &cli->log };
	struct pfs_image *img;
	char *dir, *tag;
	json_t *j;
	int e;

	if (cli_wants_help(argc, argv, dump_usage))
		return 0;
	if ((e = cli_no_options(cli, argc, argv)))
		return e;
	if (argc != 2)
		return cli_usage_err(cli, "expected OCI_DIR:TAG");
	if ((e = cli_image_ref(cli, argv[1], &dir, &tag)))
		return e;
	e = pfs_image_open(dir, tag, &io, &img);
	free(dir);
	free(tag);
	if (e)
		return 1;
	j = pfs_image_dump(img);
	e = j ? json_dumpf(j, stdout, JSON_INDENT(1)) : -1;
	putchar('\n');
	json_decref(j);
	pfs_image_close(img);
	return e ? 1 : 0;
}
