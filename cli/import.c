// SPDX-License-Identifier: MIT
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
	"Usage: puzzlefs import [OPTIONS] SOURCE OCI_DIR:TAG\n\n"
	"Import a container image with tar layers into the OCI image directory\n"
	"OCI_DIR under TAG (the directory is created if needed), without\n"
	"extracting it, and print the fs-verity digest of the new image\n"
	"manifest.  SOURCE is one of\n"
	"  oci:DIR[:TAG]            an OCI image layout (skopeo, buildah, umoci);\n"
	"                           without TAG, its only image\n"
	"  docker-archive:FILE[:NAME:TAG|:@N]\n"
	"                           a docker save / skopeo docker-archive tar\n"
	"  docker://HOST[:PORT]/REPO[:TAG|@DIGEST]\n"
	"                           an image in a registry, its layers streamed\n"
	"  FILE                     one layer: tar, tar.gz or tar.zst\n"
	"Each tar layer becomes a puzzlefs layer on top of the one below (as\n"
	"build -b makes), so images that share base layers share them here too;\n"
	"the image's runtime config (Entrypoint, Cmd, Env, User...) is kept.\n\n"
	"  -c, --compression        store chunks as seekable zstd\n"
	"      --flatten            write one layer instead of one per tar layer\n"
	"      --platform OS/ARCH[/VARIANT]\n"
	"                           the image to take from an image index\n"
	"                           (default: the host's, linux/%s)\n"
	"      --zstd-level N       zstd level for -c (default 3)\n"
	"      --frame-size SIZE    uncompressed bytes per zstd frame for -c\n"
	"                           (default 256K: one frame per chunk)\n"
	"  -j, --threads N          worker threads (default: one per CPU)\n"
	"      --mtime SECONDS|none|source\n"
	"                           the mtimes stored: SECONDS on every inode,\n"
	"                           none, or the tar headers' (the default)\n"
	"      --max-size SIZE      refuse layers that expand to more than SIZE\n"
	"                           in all (K, M, G; default 256G)\n"
	"      --max-entries N      refuse more than N tar entries in all\n"
	"                           (default 4000000)\n"
	"      --json               print the tag, the manifest digest and\n"
	"                           counts as JSON\n"
	"  -h, --help               this help\n"
	"For docker:// sources:\n"
	CLI_REGISTRY_HELP "\n"
	"SOURCE_DATE_EPOCH (seconds since the epoch), when set, is the latest\n"
	"mtime stored: later ones become it.\n";

static bool platform_ok(const char *p)
{
	const char *slash = strchr(p, '/');

	return slash && slash != p && slash[1] && slash[1] != '/' &&
	       !strchr(p, ' ') && (!strchr(slash + 1, '/') ||
				   strchr(slash + 1, '/')[1]);
}

int cmd_import(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "compression", no_argument, NULL, 'c' },
		{ "flatten", no_argument, NULL, 'f' },
		{ "platform", required_argument, NULL, 'p' },
		{ "zstd-level", required_argument, NULL, 'L' },
		{ "frame-size", required_argument, NULL, 'F' },
		{ "threads", required_argument, NULL, 'j' },
		{ "mtime", required_argument, NULL, 'M' },
		{ "max-size", required_argument, NULL, 'S' },
		{ "max-entries", required_argument, NULL, 'E' },
		{ "json", no_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		CLI_REGISTRY_OPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct pfs_import_stats st;
	struct pfs_remote_opts ro = { .log = &cli->log };
	struct pfs_import_opts io = { .log = &cli->log, .stats = &st,
				      .remote = &ro };
	char *creds = NULL;
	uint8_t verity[PFS_DIGEST_SIZE];
	char *dir, *tag;
	bool tty = cli_isatty_stderr();
	long long v;
	size_t size;
	int c, e;

	while ((c = getopt_long(argc, argv, "cj:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': io.compress = true; break;
		case 'f': io.flatten = true; break;
		case 'p':
			if (!platform_ok(optarg))
				return cli_usage_err(cli, "'%s': expected OS/ARCH[/VARIANT]",
						     optarg);
			io.platform = optarg;
			break;
		case 'M':
			if ((e = cli_mtime_arg(cli, optarg, &io.mtime,
						 &io.mtime_fixed)))
				return e;
			break;
		case 'S':
			if (pfs_parse_size(optarg, &size) || !size)
				return cli_usage_err(cli, "'%s': expected a size (K, M, G: 1024-based)",
						     optarg);
			io.max_bytes = size;
			break;
		case 'E':
			if ((e = cli_number(cli, optarg, 1, 1ll << 40, &v)))
				return e;
			io.max_entries = (uint64_t)v;
			break;
		case 'J': cli->json = true; break;
		case 'h': printf(usage, pfs_goarch()); return 0;
		default:
			e = cli_chunk_opt(cli, c, optarg, &io.zstd_level,
					  &io.zstd_frame, &io.threads);
			if (e < 0)
				e = cli_registry_opt(cli, c, optarg, &ro, &creds);
			if (e) {
				cli_registry_free(creds);
				return e < 0 ? cli_usage_err(cli, "bad option") : e;
			}
		}
	}
	if (optind != argc - 2)
		e = cli_usage_err(cli, "expected SOURCE OCI_DIR:TAG");
	else if (!(e = cli_source_date_epoch(cli, &io.clamp_mtime,
					     &io.mtime_clamp)))
		e = cli_image_ref(cli, argv[optind + 1], &dir, &tag);
	if (e) {
		cli_registry_free(creds);
		return e;
	}
	if (tty) {
		io.progress = cli_progress;
		io.progress_arg = cli;
	}
	e = pfs_import(argv[optind], dir, tag, &io, verity);
	if (tty)
		fputs("\r\033[K", stderr);
	if (!e)
		cli_image_done(cli, tag, verity, json_pack(
			"{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			"layers", (json_int_t)st.layers,
			"rootfs_layers", (json_int_t)st.rootfs_layers,
			"entries", (json_int_t)st.entries,
			"files", (json_int_t)st.files,
			"bytes", (json_int_t)st.bytes,
			"chunks", (json_int_t)st.chunks,
			"blobs", (json_int_t)st.blobs,
			"repeats", (json_int_t)st.repeats));
	free(dir);
	free(tag);
	cli_registry_free(creds);
	return e ? 1 : 0;
}
