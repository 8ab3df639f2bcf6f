/* SPDX-License-Identifier: MIT */
#ifndef PUZZLEFS_CLI_H
#define PUZZLEFS_CLI_H

#include <stdbool.h>

#include "puzzlefs.h"

#define EXIT_USAGE 2

struct cli {
	const char *cmd;		/* subcommand, for messages */
	struct pfs_log log;
	bool json;
};

struct cli_cmd {
	const char *name;
	const char *summary;
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* Print "puzzlefs: CMD: message" on stderr. */
void cli_err(const struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Usage error: message, hint, exit status 2. */
int cli_usage_err(const struct cli *cli, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "OCI_DIR:TAG" split at the last ':'; returns 0 or prints a usage error. */
int cli_image_ref(const struct cli *cli, const char *arg, char **dir,
		  char **tag);
/* A decimal number in @min..@max; 0 or prints a usage error (2). */
int cli_number(const struct cli *cli, const char *arg, long min, long max,
	       long *out);
/* Parse a 64-hex-digit digest. */
int cli_digest(const struct cli *cli, const char *arg, uint8_t *out);
/* Common --help/-h handling: prints @usage and returns true. */
bool cli_wants_help(int argc, char **argv, const char *usage);
/* For commands without options: a usage error (2) for any argument that
 * looks like one, else 0. */
int cli_no_options(const struct cli *cli, int argc, char **argv);
bool cli_isatty_stderr(void);

int cmd_build(struct cli *cli, int argc, char **argv);
int cmd_extract(struct cli *cli, int argc, char **argv);
int cmd_tags(struct cli *cli, int argc, char **argv);
int cmd_ls(struct cli *cli, int argc, char **argv);
int cmd_cat(struct cli *cli, int argc, char **argv);
int cmd_dump(struct cli *cli, int argc, char **argv);
int cmd_fsck(struct cli *cli, int argc, char **argv);
int cmd_enable_verity(struct cli *cli, int argc, char **argv);
int cmd_mount(struct cli *cli, int argc, char **argv);
int cmd_umount(struct cli *cli, int argc, char **argv);
int cmd_rmtag(struct cli *cli, int argc, char **argv);
int cmd_gc(struct cli *cli, int argc, char **argv);
int cmd_push(struct cli *cli, int argc, char **argv);
int cmd_pull(struct cli *cli, int argc, char **argv);

/* `puzzlefs mount --kernel` (cli/kmount.c): mount with puzzlefs.ko.
 * @options: the -o lists joined with ',' or NULL; @verity_digest: -d or
 * NULL.  Returns the exit status. */
int cli_kernel_mount(struct cli *cli, const char *oci_dir, const char *tag,
		     const char *mountpoint, const char *options,
		     const uint8_t *verity_digest);

#endif
