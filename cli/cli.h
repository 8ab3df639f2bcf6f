/* SPDX-License-Identifier: MIT */
#ifndef PUZZLEFS_CLI_H
#define PUZZLEFS_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

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
/* A usage error for a tag outside PFS_TAG_GRAMMAR (exit status 2). */
int cli_bad_tag(const struct cli *cli, const char *tag);
/* Parse a 64-hex-digit digest. */
int cli_digest(const struct cli *cli, const char *arg, uint8_t *out);
/* Common --help/-h handling: prints @usage and returns true. */
bool cli_wants_help(int argc, char **argv, const char *usage);
/* For commands without options: a usage error (2) for any argument that
 * looks like one, else 0. */
int cli_no_options(const struct cli *cli, int argc, char **argv);
bool cli_isatty_stderr(void);
/* build and import: progress on a TTY (files, MiB read; @cli is the
 * struct cli), and the result: the manifest digest line, or with --json an
 * object of the tag, the digest and @counts (taken; may be NULL). */
void cli_progress(void *cli, uint64_t files, uint64_t bytes);
/* A number in [min, max], or a usage error (2). */
int cli_number(const struct cli *cli, const char *arg, long long min,
	       long long max, long long *out);
/* build and import's --zstd-level ('L'), --frame-size ('F') and -j:
 * 0 taken, a usage error (2), or -1 if @c is none of them. */
int cli_chunk_opt(const struct cli *cli, int c, const char *arg, int *level,
		  uint32_t *frame, unsigned *threads);
/* build and import: --mtime SECONDS|none|source, and SOURCE_DATE_EPOCH
 * (the latest mtime stored, when set); 0 or a usage error (2). */
int cli_mtime_arg(const struct cli *cli, const char *arg,
		  enum pfs_mtime_mode *mode, int64_t *fixed);
int cli_source_date_epoch(const struct cli *cli, bool *clamp, int64_t *to);
void cli_image_done(const struct cli *cli, const char *tag,
		    const uint8_t *verity, json_t *counts);

int cmd_build(struct cli *cli, int argc, char **argv);
int cmd_import(struct cli *cli, int argc, char **argv);
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


/* The options every command that talks to a registry takes, named as
 * skopeo names them: their getopt entries, their --help lines, and their
 * parser: 0 when @c was one (handled), -1 when not, else an exit status.
 * --creds is copied into *@creds (wiped and freed by cli_registry_free)
 * and wiped from the process's arguments. */
enum { CLI_O_CREDS = 0x200, CLI_O_AUTHFILE, CLI_O_TLS, CLI_O_CERTS,
       CLI_O_RETRY, CLI_O_HTTP1 };
#define CLI_REGISTRY_OPTS \
	{ "creds", required_argument, NULL, CLI_O_CREDS }, \
	{ "authfile", required_argument, NULL, CLI_O_AUTHFILE }, \
	{ "tls-verify", required_argument, NULL, CLI_O_TLS }, \
	{ "cert-dir", required_argument, NULL, CLI_O_CERTS }, \
	{ "retry-times", required_argument, NULL, CLI_O_RETRY }, \
	{ "http1", no_argument, NULL, CLI_O_HTTP1 }
#define CLI_REGISTRY_HELP \
	"      --creds USER[:PASSWORD]  credentials (asked for on the terminal\n" \
	"                          without :PASSWORD); otherwise from --authfile,\n" \
	"                          $REGISTRY_AUTH_FILE,\n" \
	"                          $XDG_RUNTIME_DIR/containers/auth.json,\n" \
	"                          ~/.config/containers/auth.json or\n" \
	"                          ~/.docker/config.json (skopeo/podman login)\n" \
	"      --authfile FILE     the auth file to use (containers-auth.json)\n" \
	"      --tls-verify=BOOL   check the registry's certificate (default\n" \
	"                          true); false also allows plain HTTP\n" \
	"      --cert-dir DIR      CAs (*.crt) and a client certificate\n" \
	"                          (*.cert, *.key) for the registry (default\n" \
	"                          /etc/containers/certs.d/HOST:PORT)\n" \
	"      --retry-times N     tries after a transient failure (default 4)\n" \
	"      --http1             do not use HTTP/2\n"
struct pfs_remote_opts;
int cli_registry_opt(const struct cli *cli, int c, const char *arg,
		     struct pfs_remote_opts *r, char **creds);
void cli_registry_free(char *creds);

#endif
