// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/puzzlefs_fs.h"
#include "store/oci.h"
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
	"      --mtime SECONDS|none|source\n"
	"                           store SECONDS (since the epoch) as every\n"
	"                           inode's mtime, none (as the reference), or\n"
	"                           the source's (the default; with -b, only\n"
	"                           if the base has mtimes)\n"
	"  -j, --threads N          worker threads (default: one per CPU)\n"
	"      --json               print the tag, the manifest digest and\n"
	"                           counts (files, bytes, chunks, blobs,\n"
	"                           repeats) as JSON\n"
	"  -h, --help               this help\n\n"
	"SOURCE_DATE_EPOCH (seconds since the epoch), when set, is the latest\n"
	"mtime stored: later ones become it.\n";

void cli_progress(void *arg, uint64_t files, uint64_t bytes)
{
	const struct cli *cli = arg;

	fprintf(stderr, "\rpuzzlefs: %s: %llu files, %.1f MiB   ", cli->cmd,
		(unsigned long long)files, (double)bytes / (1 << 20));
	fflush(stderr);
}

void cli_image_done(const struct cli *cli, const char *tag,
		    const uint8_t *verity, json_t *counts)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];
	json_t *j;

	pfs_hex(verity, PFS_DIGEST_SIZE, hex);
	if (!cli->json) {
		printf("puzzlefs image manifest digest: %s\n", hex);
		json_decref(counts);
		return;
	}
	j = json_pack("{s:s,s:s}", "tag", tag, "manifest_verity", hex);
	if (j && counts)
		json_object_update(j, counts);
	json_decref(counts);
	if (j)
		json_dumpf(j, stdout, JSON_COMPACT);
	putchar('\n');
	json_decref(j);
}

int cli_chunk_opt(const struct cli *cli, int c, const char *arg, int *level,
		  uint32_t *frame, unsigned *threads)
{
	long long v;
	size_t size;
	int e;

	switch (c) {
	case 'L':
		if ((e = cli_number(cli, arg, -7, 22, &v)))
			return e;
		*level = v ? (int)v : 3;
		return 0;
	case 'F':
		if (pfs_parse_size(arg, &size) || !size ||
		    size > PFS_SEEK_MAX_FRAME_SIZE)
			return cli_usage_err(cli, "'%s': expected a size in 1..1G (K, M, G: 1024-based)",
					     arg);
		*frame = (uint32_t)size;
		return 0;
	case 'j':
		if ((e = cli_number(cli, arg, 1, 1024, &v)))
			return e;
		*threads = (unsigned)v;
		return 0;
	}
	return -1;
}

/* Whole seconds since the epoch, as SOURCE_DATE_EPOCH and --mtime give
 * them (reproducible-builds.org: an integer, nothing else). */
static int seconds(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || !(isdigit((unsigned char)*s) || *s == '-'))
		return -1;
	*out = v;
	return 0;
}

int cli_mtime_arg(const struct cli *cli, const char *arg,
		  enum pfs_mtime_mode *mode, int64_t *fixed)
{
	if (!strcmp(arg, "none"))
		*mode = PFS_MTIME_NONE;
	else if (!strcmp(arg, "source"))
		*mode = PFS_MTIME_SOURCE;
	else if (!seconds(arg, fixed))
		*mode = PFS_MTIME_FIXED;
	else
		return cli_usage_err(cli, "--mtime '%s': expected seconds since the epoch, none or source",
				     arg);
	return 0;
}

int cli_source_date_epoch(const struct cli *cli, bool *clamp, int64_t *to)
{
	const char *v = getenv("SOURCE_DATE_EPOCH");

	if (!v || !*v)
		return 0;
	if (seconds(v, to))
		return cli_usage_err(cli, "SOURCE_DATE_EPOCH '%s': expected seconds since the epoch",
				     v);
	*clamp = true;
	return 0;
}

int cmd_build(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "compression", no_argument, NULL, 'c' },
		{ "base-layer", required_argument, NULL, 'b' },
		{ "zstd-level", required_argument, NULL, 'L' },
		{ "frame-size", required_argument, NULL, 'F' },
		{ "threads", required_argument, NULL, 'j' },
		{ "mtime", required_argument, NULL, 'M' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pfs_build_stats st;
	struct pfs_build_opts bo = { .log = &cli->log, .stats = &st };
	uint8_t verity[PFS_DIGEST_SIZE];
	char *dir, *tag;
	bool tty = cli_isatty_stderr();
	int c, e;

	while ((c = getopt_long(argc, argv, "cb:j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': bo.compress = true; break;
		case 'b':
			if (!pfs_tag_valid(optarg))
				return cli_bad_tag(cli, optarg);
			bo.base_tag = optarg;
			break;
		case 'M':
			if ((e = cli_mtime_arg(cli, optarg, &bo.mtime,
						 &bo.mtime_fixed)))
				return e;
			break;
		case 'J': cli->json = true; break;
		case 'h': fputs(usage, stdout); return 0;
		default:
			e = cli_chunk_opt(cli, c, optarg, &bo.zstd_level,
					  &bo.zstd_frame, &bo.threads);
			if (e)
				return e < 0 ? cli_usage_err(cli, "bad option") : e;
		}
	}
	if (optind != argc - 2)
		return cli_usage_err(cli, "expected ROOTFS OCI_DIR:TAG");
	if ((e = cli_source_date_epoch(cli, &bo.clamp_mtime,
					 &bo.mtime_clamp)))
		return e;
	if ((e = cli_image_ref(cli, argv[optind + 1], &dir, &tag)))
		return e;
	if (tty) {
		bo.progress = cli_progress;
		bo.progress_arg = cli;
	}
	e = pfs_build(argv[optind], dir, tag, &bo, verity);
	if (tty)
		fputs("\r\033[K", stderr);
	if (!e)
		cli_image_done(cli, tag, verity, json_pack(
			"{s:I,s:I,s:I,s:I,s:I}", "files", (json_int_t)st.files,
			"bytes", (json_int_t)st.bytes,
			"chunks", (json_int_t)st.chunks,
			"blobs", (json_int_t)st.blobs,
			"repeats", (json_int_t)st.repeats));
	free(dir);
	free(tag);
	return e ? 1 : 0;
}
