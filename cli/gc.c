// SPDX-License-Identifier: MIT
/* rmtag and gc: removing images from an OCI directory. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "util.h"
#include "cli.h"

static const char rmtag_usage[] =
	"Usage: puzzlefs rmtag OCI_DIR:TAG...\n\n"
	"Remove tags from the OCI directory's index.json (atomically).  The\n"
	"blobs they used stay until 'puzzlefs gc' deletes what no tag reaches.\n";

int cmd_rmtag(struct cli *cli, int argc, char **argv)
{
	char *dir, *tag;
	int i, e, status = 0;

	if (cli_wants_help(argc, argv, rmtag_usage))
		return 0;
	if ((e = cli_no_options(cli, argc, argv)))
		return e;
	if (argc < 2)
		return cli_usage_err(cli, "expected OCI_DIR:TAG");
	for (i = 1; i < argc; i++) {
		if ((e = cli_image_ref(cli, argv[i], &dir, &tag)))
			return e;
		if (pfs_remove_tag(dir, tag, &cli->log))
			status = 1;
		free(dir);
		free(tag);
	}
	return status;
}

static const char gc_usage[] =
	"Usage: puzzlefs gc [--dry-run] [--shared] [--json] [-v] OCI_DIR...\n\n"
	"Delete the blobs that no tag reaches (through its manifest: rootfs and\n"
	"chunks; other tools' manifests and image indexes are followed too).\n"
	"Nothing is deleted if a tag's manifest cannot be read or parsed.  The\n"
	"directory is locked as a build locks it.  Images still mounted whose\n"
	"tags were removed lose their blobs: unmount them first.\n\n"
	"  -n, --dry-run  list what would be deleted, delete nothing\n"
	"      --shared   blobs/sha256 is a symlink to a store that other OCI\n"
	"                 directories use, and the OCI_DIRs given are all of\n"
	"                 them: keep what any of them reaches\n"
	"  -v, --verbose  print each deleted blob (digest and size)\n"
	"      --json     print {\"removed\": [{\"digest\", \"size\"}], \"bytes\",\n"
	"                 \"kept\", \"dry_run\"}\n";

static void print_result(const struct cli *cli, const struct pfs_gc_result *r,
			 bool list, bool dry_run)
{
	char hex[7 + 2 * PFS_DIGEST_SIZE + 1] = "sha256:";
	json_t *removed = NULL;
	size_t i;

	if (cli->json)
		removed = json_array();
	for (i = 0; i < r->nremoved; i++) {
		pfs_hex(r->removed[i].digest, PFS_DIGEST_SIZE, hex + 7);
		if (removed)
			json_array_append_new(removed, json_pack("{s:s,s:I}",
				"digest", hex, "size",
				(json_int_t)r->removed[i].size));
		else if (list)
			printf("%s %llu\n", hex,
			       (unsigned long long)r->removed[i].size);
	}
	if (removed) {
		json_t *j = json_pack("{s:o,s:I,s:I,s:b}", "removed", removed,
				      "bytes", (json_int_t)r->bytes, "kept",
				      (json_int_t)r->kept, "dry_run", dry_run);

		json_dumpf(j, stdout, JSON_INDENT(1));
		putchar('\n');
		json_decref(j);
	}
}

int cmd_gc(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "shared", no_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pfs_gc_opts go = { .log = &cli->log };
	struct pfs_gc_result res;
	bool verbose = false;
	int c, e;

	while ((c = getopt_long(argc, argv, "nvh", opts, NULL)) != -1) {
		switch (c) {
		case 'n': go.dry_run = true; break;
		case 's': go.shared = true; break;
		case 'v': verbose = true; break;
		case 'j': cli->json = true; break;
		case 'h': fputs(gc_usage, stdout); return 0;
		default: return cli_usage_err(cli, "bad option");
		}
	}
	if (optind == argc)
		return cli_usage_err(cli, "expected OCI_DIR");
	e = pfs_gc((const char *const *)argv + optind, (size_t)(argc - optind),
		   &go, &res);
	if (!e)
		print_result(cli, &res, verbose || go.dry_run, go.dry_run);
	pfs_gc_result_free(&res);
	return e ? 1 : 0;
}
