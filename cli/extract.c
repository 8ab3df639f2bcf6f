// SPDX-License-Identifier: MIT
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "cli.h"

static const char usage[] =
	"Usage: puzzlefs extract [OPTIONS] OCI_DIR:TAG DEST\n\n"
	"Recreate the image's tree in DEST (created if needed): files, directories,\n"
	"symlinks, hard links, fifos, sockets, device nodes, xattrs, permissions,\n"
	"and ownership when run as root.  Existing entries are never overwritten.\n"
	"A damaged image or one over --max-size fails before DEST is touched;\n"
	"otherwise every entry that can be extracted is, each one that cannot\n"
	"is reported (a file whose data cannot be read is not left behind),\n"
	"and the exit status is then 1.\n\n"
	"      --no-owner       do not change ownership, even as root\n"
	"      --no-devices     create no device nodes, even as root\n"
	"      --no-setuid      drop setuid and setgid bits\n"
	"      --no-xattrs      restore no xattrs\n"
	"      --max-size SIZE  fail if the files hold more than SIZE bytes\n"
	"                       (K, M, G, T: 1024-based)\n"
	"  -h, --help           this help\n";

int cmd_extract(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "no-owner", no_argument, NULL, 'o' },
		{ "no-devices", no_argument, NULL, 'd' },
		{ "no-setuid", no_argument, NULL, 's' },
		{ "no-xattrs", no_argument, NULL, 'x' },
		{ "max-size", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pfs_extract_opts xo = { .log = &cli->log };
	char *dir, *tag;
	size_t size;
	int c, e;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'o': xo.no_owner = true; break;
		case 'd': xo.no_devices = true; break;
		case 's': xo.no_setuid = true; break;
		case 'x': xo.no_xattrs = true; break;
		case 'm':
			if (pfs_parse_size(optarg, &size) || !size)
				return cli_usage_err(cli, "--max-size '%s': expected a size (K, M, G, T: 1024-based)",
						     optarg);
			xo.max_size = size;
			break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_err(cli, "bad option");
		}
	}
	if (optind != argc - 2)
		return cli_usage_err(cli, "expected OCI_DIR:TAG DEST");
	if (!argv[optind + 1][0])
		return cli_usage_err(cli, "DEST is empty");
	if ((e = cli_image_ref(cli, argv[optind], &dir, &tag)))
		return e;
	e = pfs_extract(dir, tag, argv[optind + 1], &xo);
	free(dir);
	free(tag);
	return e ? 1 : 0;
}
