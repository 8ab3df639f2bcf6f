// SPDX-License-Identifier: MIT
/* puzzlefs: the command line front end of libpuzzlefs. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "store/oci.h"
#include "util.h"
#include "cli.h"

static const struct cli_cmd commands[] = {
	{ "build", "build an image from a directory tree", cmd_build },
	{ "import", "import an image with tar layers (OCI, docker-archive)",
	  cmd_import },
	{ "extract", "extract an image into a directory", cmd_extract },
	{ "mount", "mount an image (FUSE, or the kernel driver)", cmd_mount },
	{ "umount", "unmount an image", cmd_umount },
	{ "enable-fs-verity", "enable fs-verity on an image's blobs",
	  cmd_enable_verity },
	{ "tags", "list the tags of an OCI directory", cmd_tags },
	{ "ls", "list a directory of an image", cmd_ls },
	{ "cat", "print a file of an image", cmd_cat },
	{ "dump", "print an image's metadata as JSON", cmd_dump },
	{ "fsck", "check an image or a whole OCI directory", cmd_fsck },
	{ "rmtag", "remove tags from an OCI directory", cmd_rmtag },
	{ "gc", "delete the blobs no tag uses", cmd_gc },
	{ "push", "push an image to a registry (docker://)", cmd_push },
	{ "pull", "pull an image from a registry (docker://)", cmd_pull },
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "Usage: puzzlefs [--help] [--version] COMMAND [ARGS]\n\n"
		   "PuzzleFS is a next-generation container filesystem.\n\n"
		   "Commands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-17s %s\n", commands[i].name,
			commands[i].summary);
	fprintf(f, "\nImages are named OCI_DIR:TAG.  "
		   "Run 'puzzlefs COMMAND --help' for a command's options.\n");
}

void cli_err(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "puzzlefs: %s: ", cli->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_usage_err(const struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "puzzlefs: %s: ", cli->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'puzzlefs %s --help'.\n", cli->cmd);
	return EXIT_USAGE;
}

int cli_image_ref(const struct cli *cli, const char *arg, char **dir,
		  char **tag)
{
	const char *colon = strrchr(arg, ':');

	if (!colon || colon == arg || !colon[1])
		return cli_usage_err(cli, "'%s': expected OCI_DIR:TAG", arg);
	if (!pfs_tag_valid(colon + 1))
		return cli_bad_tag(cli, colon + 1);
	*dir = strndup(arg, (size_t)(colon - arg));
	*tag = strdup(colon + 1);
	if (!*dir || !*tag) {
		cli_err(cli, "out of memory");
		return 1;
	}
	return 0;
}

int cli_bad_tag(const struct cli *cli, const char *tag)
{
	char shown[64];

	pfs_printable(tag, shown, sizeof(shown));
	return cli_usage_err(cli, "invalid tag '%s': a tag is %s (letters, "
			     "digits and '_', then also '.' and '-'; at most "
			     "%d)", shown, PFS_TAG_GRAMMAR, PFS_TAG_MAX);
}

int cli_number(const struct cli *cli, const char *arg, long long min,
	       long long max, long long *out)
{
	char *end;

	*out = strtoll(arg, &end, 10);
	if (*arg == 0 || *end || *out < min || *out > max)
		return cli_usage_err(cli, "'%s': expected a number in %lld..%lld",
				     arg, min, max);
	return 0;
}

int cli_digest(const struct cli *cli, const char *arg, uint8_t *out)
{
	if (!strncmp(arg, "sha256:", 7))
		arg += 7;
	if (pfs_unhex(arg, out, PFS_DIGEST_SIZE))
		return cli_usage_err(cli, "'%s': expected a 64-digit hex digest",
				     arg);
	return 0;
}

bool cli_wants_help(int argc, char **argv, const char *usage)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage, stdout);
			return true;
		}
	}
	return false;
}

int cli_no_options(const struct cli *cli, int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--"))
			break;
		if (argv[i][0] == '-' && argv[i][1])
			return cli_usage_err(cli, "unknown option '%s'", argv[i]);
	}
	return 0;
}

bool cli_isatty_stderr(void)
{
	return isatty(STDERR_FILENO);
}

static void log_to_stderr(void *arg, int level, const char *msg)
{
	struct cli *cli = arg;

	if (level > PFS_LOG_WARN)
		return;
	fprintf(stderr, "puzzlefs: %s: %s%s\n", cli->cmd,
		level == PFS_LOG_WARN ? "warning: " : "", msg);
}

int main(int argc, char **argv)
{
	struct cli cli = { .cmd = "puzzlefs" };
	size_t i;

	/* The one thing asked of OpenSSL is SHA-256; reading its config file
	 * (engines, providers, TLS policy) would only slow every start. */
	OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL);
	cli.log.fn = log_to_stderr;
	cli.log.arg = &cli;
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("puzzlefs %s (puzzlefs-c, image format version 3)\n",
		       PUZZLEFS_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(argv[1], commands[i].name)) {
			cli.cmd = commands[i].name;
			return commands[i].run(&cli, argc - 1, argv + 1);
		}
	}
	fprintf(stderr, "puzzlefs: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
