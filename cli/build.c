// SPDX-License-Identifier: MIT
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/puzzlefs_fs.h"
#include "util.h"
#include "cli.h"

static const char usage[] =
	"Usage: puzzlefs build [OPTIONS] ROOTFS OCI_DIR:TAG\n\n"
	"Build the directory tree ROOTFS into the OCI image directory OCI_DIR\n"
	"under TAG (the directory is created if needed), and print the\n"
	"fs-verity digest of the new image manifest.\n\n"
	"  -c, --compression        store chunks as seekable zstd\n"
	"  -b, --base-layer TAG     delta build on top of TAG (same OCI_DIR):\n"
	"                           only what changed is stored\n"
	"      --zstd-level N       zstd level for -c (default 3)\n"
	"      --frame-size SIZE    uncompressed bytes per zstd frame for -c\n"
	"                           (K, M, G: 1024-based; default 32K, or the\n"
	"                           base's with -b; 4096 gives the reference's\n"
	"                           bytes; 256K, one frame per chunk, the\n"
	"                           smallest images)\n"
	"  -j, --threads N          worker threads (default: one per CPU)\n"
	"      --json               print the tag, the manifest digest and\n"
	"                           counts (files, bytes, chunks, blobs,\n"
	"                           repeats) as JSON\n"
	"  -h, --help               this help\n";

static void progress(void *arg, uint64_t files, uint64_t bytes)
{
	(void)arg;
	fprintf(stderr, "\rpuzzlefs: build: %llu files, %.1f MiB   ",
		(unsigned long long)files, (double)bytes / (1 << 20));
	fflush(stderr);
}

static void print_json(const char *tag, const char *hex,
		       const struct pfs_build_stats *st)
{
	json_t *j = json_pack("{s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "tag", tag,
			      "manifest_verity", hex,
			      "files", (json_int_t)st->files,
			      "bytes", (json_int_t)st->bytes,
			      "chunks", (json_int_t)st->chunks,
			      "blobs", (json_int_t)st->blobs,
			      "repeats", (json_int_t)st->repeats);

	if (j)
		json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
}

int cmd_build(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "compression", no_argument, NULL, 'c' },
		{ "base-layer", required_argument, NULL, 'b' },
		{ "zstd-level", required_argument, NULL, 'L' },
		{ "frame-size", required_argument, NULL, 'F' },
		{ "threads", required_argument, NULL, 'j' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pfs_build_stats st;
	struct pfs_build_opts bo = { .log = &cli->log, .stats = &st };
	uint8_t verity[PFS_DIGEST_SIZE];
	char hex[2 * PFS_DIGEST_SIZE + 1], *dir, *tag;
	bool tty = cli_isatty_stderr();
	size_t size;
	long v;
	int c, e;

	while ((c = getopt_long(argc, argv, "cb:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': bo.compress = true; break;
		case 'b': bo.base_tag = optarg; break;
		case 'L':
			if ((e = cli_number(cli, optarg, -7, 22, &v)))
				return e;
			bo.zstd_level = v ? (int)v : 3;
			break;
		case 'F':
			if (pfs_parse_size(optarg, &size) || !size ||
			    size > PFS_SEEK_MAX_FRAME_SIZE)
				return cli_usage_err(cli, "'%s': expected a size in 1..1G (K, M, G: 1024-based)",
						     optarg);
			bo.zstd_frame = (uint32_t)size;
			break;
		case 'j':
			if ((e = cli_number(cli, optarg, 1, 1024, &v)))
				return e;
			bo.threads = (unsigned)v;
			break;
		case 'J': cli->json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default: return cli_usage_err(cli, "bad option");
		}
	}
	if (optind != argc - 2)
		return cli_usage_err(cli, "expected ROOTFS OCI_DIR:TAG");
	if ((e = cli_image_ref(cli, argv[optind + 1], &dir, &tag)))
		return e;
	if (tty) {
		bo.progress = progress;
		bo.progress_arg = cli;
	}
	e = pfs_build(argv[optind], dir, tag, &bo, verity);
	if (tty)
		fputs("\r\033[K", stderr);
	if (!e) {
		pfs_hex(verity, PFS_DIGEST_SIZE, hex);
		if (cli->json)
			print_json(tag, hex, &st);
		else
			printf("puzzlefs image manifest digest: %s\n", hex);
	}
	free(dir);
	free(tag);
	return e ? 1 : 0;
}
