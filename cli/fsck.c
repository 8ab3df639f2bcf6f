// SPDX-License-Identifier: MIT
/* fsck and dump: checking and printing whole images. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/dump.h"
#include "cli.h"

static const char fsck_usage[] =
	"Usage: puzzlefs fsck [--json] OCI_DIR[:TAG]\n\n"
	"Check a tag, or every tag and every blob of OCI_DIR: manifests, rootfs,\n"
	"metadata invariants, every file's data (each blob's sha256, seek\n"
	"tables and frames) and fsVerityData.  Prints each problem; exit status\n"
	"0 when there is none, 1 otherwise.\n\n"
	"  --json    print {\"problems\": [messages], \"warnings\": [messages]}\n"
	"            on stdout instead of messages on stderr\n";

/* --json: collect the messages instead of printing them. */
static void collect(void *arg, int level, const char *msg)
{
	json_t *report = arg;

	if (level <= PFS_LOG_WARN)
		json_array_append_new(json_object_get(report, level == PFS_LOG_ERR ?
					"problems" : "warnings"), json_string(msg));
}

int cmd_fsck(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pfs_log log = cli->log;
	char *dir = NULL, *tag = NULL;
	json_t *report = NULL;
	int n, c, e;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': cli->json = true; break;
		case 'h': fputs(fsck_usage, stdout); return 0;
		default: return cli_usage_err(cli, "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_err(cli, "expected OCI_DIR[:TAG]");
	/* A directory that exists is the whole OCI dir, even with a ':' in
	 * its name; otherwise DIR:TAG. */
	if (strchr(argv[optind], ':') && access(argv[optind], F_OK) != 0) {
		if ((e = cli_image_ref(cli, argv[optind], &dir, &tag)))
			return e;
	} else {
		dir = strdup(argv[optind]);
	}
	if (cli->json) {
		report = json_pack("{s:[],s:[]}", "problems", "warnings");
		log.fn = collect;
		log.arg = report;
	}
	n = pfs_fsck(dir, tag, &log);
	if (report) {
		json_object_set_new(report, "count", json_integer(n));
		json_dumpf(report, stdout, JSON_INDENT(1));
		putchar('\n');
		json_decref(report);
	} else if (n > 0) {
		cli_err(cli, "%s: %d problem%s found", argv[optind], n,
			n == 1 ? "" : "s");
	}
	free(dir);
	free(tag);
	return n ? 1 : 0;
}

static const char dump_usage[] =
	"Usage: puzzlefs dump OCI_DIR:TAG\n\n"
	"Print the image's metadata as JSON: the manifest and rootfs digests,\n"
	"every metadata layer's inodes as stored (top layer first),\n"
	"fsVerityData, and \"expanded\": what extract writes (entries, regular\n"
	"files with hard links once, their bytes; null and exit status 1 if the\n"
	"tree is malformed).  Byte strings that are not UTF-8 appear as\n"
	"\"<key>_hex\".\n";

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
	/* Printed all the same, but a malformed tree fails. */
	if (!e && json_is_null(json_object_get(j, "expanded")))
		e = 1;
	json_decref(j);
	pfs_image_close(img);
	return e ? 1 : 0;
}
