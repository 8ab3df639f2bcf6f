// SPDX-License-Identifier: MIT
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const char usage[] =
	"Usage: puzzlefs extract [OPTIONS] OCI_DIR:TAG DEST\n\n"
	"Recreate the image's tree in DEST (created if needed): files, directories,\n"
	"symlinks, hard links, fifos, sockets, device nodes, xattrs, permissions,\n"
	"and ownership when run as root.  Existing entries are never overwritten.\n\n"
	"      --no-owner     do not change ownership, even as root\n"
	"      --no-devices   skip device nodes that cannot be created\n"
	"  -h, --help         this help\n";

int cmd_extract(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-owner", no_argument, NULL, 'o' },
		{ "no-devices", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pfs_extract_opts xo = { .log = &cli->log };
	char *dir, *tag;
	int c, e;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': xo.no_owner = true; break;
		case 'd': xo.no_devices = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_err(cli, "bad option");
		}
	}
	if (optind != argc - 2)
		return cli_usage_err(cli, "expected OCI_DIR:TAG DEST");
	if ((e = cli_image_ref(cli, argv[optind], &dir, &tag)))
		return e;
	e = pfs_extract(dir, tag, argv[optind + 1], &xo);
	free(dir);
	free(tag);
	return e ? 1 : 0;
}
