// SPDX-License-Identifier: MIT
/* push and pull: images to and from OCI registries. */
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "remote/reference.h"
#include "util.h"
#include "cli.h"

#define REMOTE_OPTIONS \
	"  -j, --jobs N            transfers at once (default 16)\n" \
	CLI_REGISTRY_HELP \
	"      --json              print what was done as JSON\n" \
	"  -h, --help              this help\n"

static const char push_usage[] =
	"Usage: puzzlefs push [OPTIONS] OCI_DIR:TAG docker://HOST[:PORT]/REPO[:TAG|@DIGEST]\n\n"
	"Push an image to a registry: the blobs it lacks (config, rootfs,\n"
	"chunks), then the manifest and the tag; a tag never names a missing\n"
	"blob.  An image the registry already has under the tag costs one\n"
	"request.\n\n"
	"      --from REPO         mount blobs the registry has in REPO (of the\n"
	"                          same registry) instead of uploading them;\n"
	"                          default: the repository the tag was pulled from\n"
	"      --chunk-size SIZE   upload blobs larger than SIZE in pieces of\n"
	"                          SIZE (K, M, G; default 64M)\n"
	REMOTE_OPTIONS;

static const char pull_usage[] =
	"Usage: puzzlefs pull [OPTIONS] docker://HOST[:PORT]/REPO[:TAG|@DIGEST] OCI_DIR:TAG\n\n"
	"Pull an image from a registry into OCI_DIR (created if needed) under\n"
	"TAG: the blobs the directory (or the store blobs/sha256 leads to)\n"
	"lacks, each checked against its digest before it takes its name, then\n"
	"the manifest and the tag.  An interrupted pull keeps the blobs it\n"
	"completed: run it again to go on.\n\n"
	REMOTE_OPTIONS;

enum { O_JSON = 256, O_FROM, O_CHUNK };

static const struct option long_opts[] = {
	{ "jobs", required_argument, NULL, 'j' },
	CLI_REGISTRY_OPTS,
	{ "json", no_argument, NULL, O_JSON },
	{ "from", required_argument, NULL, O_FROM },
	{ "chunk-size", required_argument, NULL, O_CHUNK },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

struct args {
	struct pfs_transfer_opts o;
	struct pfs_transfer_stats st;
	char *creds;			/* owned, wiped (cli_registry_free) */
	bool push;
};

/* --creds USER: the password from the terminal, without echo. */
static int ask_password(const struct cli *cli, const char *user, char **out)
{
	struct termios old, quiet;
	char pass[1024];
	size_t n;
	FILE *tty = fopen("/dev/tty", "r+");
	int e = 0;

	if (!tty)
		return cli_usage_err(cli, "--creds %s: no password, and no "
				     "terminal to ask for one", user);
	fprintf(tty, "Password for %s: ", user);
	fflush(tty);
	tcgetattr(fileno(tty), &old);
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	tcsetattr(fileno(tty), TCSAFLUSH, &quiet);
	if (!fgets(pass, sizeof(pass), tty))
		e = cli_usage_err(cli, "--creds %s: no password given", user);
	tcsetattr(fileno(tty), TCSAFLUSH, &old);
	fputc('\n', tty);
	fclose(tty);
	if (e)
		return e;
	n = strcspn(pass, "\r\n");
	pass[n] = 0;
	if (asprintf(out, "%s:%s", user, pass) < 0)
		*out = NULL;
	explicit_bzero(pass, sizeof(pass));
	if (!*out) {
		cli_err(cli, "out of memory");
		return 1;
	}
	return 0;
}

static int bool_arg(const struct cli *cli, const char *opt, const char *v,
		    bool *out)
{
	if (!strcmp(v, "true") || !strcmp(v, "1"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "0"))
		*out = false;
	else
		return cli_usage_err(cli, "%s=%s: expected true or false", opt, v);
	return 0;
}

int cli_registry_opt(const struct cli *cli, int c, const char *arg,
		     struct pfs_remote_opts *r, char **creds)
{
	bool verify = true;
	long long v;
	int e;

	switch (c) {
	case CLI_O_CREDS:
		free(*creds);
		*creds = NULL;
		if (strchr(arg, ':'))
			*creds = strdup(arg);
		else if ((e = ask_password(cli, arg, creds)))
			return e;
		/* Not left in the process's visible arguments. */
		explicit_bzero((char *)arg, strlen(arg));
		if (!*creds) {
			cli_err(cli, "out of memory");
			return 1;
		}
		r->creds = *creds;
		return 0;
	case CLI_O_AUTHFILE: r->authfile = arg; return 0;
	case CLI_O_TLS:
		if ((e = bool_arg(cli, "--tls-verify", arg, &verify)))
			return e;
		r->no_tls_verify = !verify;
		return 0;
	case CLI_O_CERTS: r->cert_dir = arg; return 0;
	case CLI_O_RETRY:
		if ((e = cli_number(cli, arg, 0, 100, &v)))
			return e;
		r->attempts = (unsigned)v + 1;
		return 0;
	case CLI_O_HTTP1: r->http1 = true; return 0;
	}
	return -1;
}

void cli_registry_free(char *creds)
{
	if (creds) {
		explicit_bzero(creds, strlen(creds));
		free(creds);
	}
}

static int parse(struct cli *cli, int argc, char **argv, struct args *a)
{
	struct pfs_remote_opts *r = &a->o.remote;
	const char *usage = a->push ? push_usage : pull_usage;
	size_t size;
	long long v;
	int c, e;

	r->log = &cli->log;
	while ((c = getopt_long(argc, argv, "j:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			if ((e = cli_number(cli, optarg, 1, 256, &v)))
				return e;
			r->jobs = (unsigned)v;
			break;
		case O_JSON: cli->json = true; break;
		case O_FROM:
			if (!a->push)
				return cli_usage_err(cli, "--from is for push");
			a->o.from = optarg;
			break;
		case O_CHUNK:
			if (!a->push)
				return cli_usage_err(cli, "--chunk-size is for push");
			if (pfs_parse_size(optarg, &size) || size < 4096)
				return cli_usage_err(cli, "'%s': expected a size of "
						     "at least 4K (K, M, G)", optarg);
			a->o.chunk_size = size;
			break;
		case 'h': fputs(usage, stdout); return -1;
		default:
			e = cli_registry_opt(cli, c, optarg, r, &a->creds);
			if (e)
				return e < 0 ? cli_usage_err(cli, "bad option") : e;
		}
	}
	if (optind != argc - 2)
		return cli_usage_err(cli, a->push ?
				     "expected OCI_DIR:TAG docker://HOST/REPO[:TAG]" :
				     "expected docker://HOST/REPO[:TAG] OCI_DIR:TAG");
	return 0;
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

struct progress {
	struct cli *cli;
	struct timespec t0;
};

static void progress(void *arg, const struct pfs_transfer_stats *st)
{
	struct progress *p = arg;
	double s = seconds_since(&p->t0);

	fprintf(stderr, "\rpuzzlefs: %s: %llu/%llu blobs, %.1f/%.1f MiB, "
		"%.1f MiB/s\033[K", p->cli->cmd,
		(unsigned long long)st->blobs_done,
		(unsigned long long)st->blobs,
		(double)st->bytes_done / (1 << 20),
		(double)st->bytes / (1 << 20),
		s > 0 ? (double)st->bytes_moved / (1 << 20) / s : 0.0);
	fflush(stderr);
}

static void print_json(const struct args *a, const char *src, const char *dst,
		       double seconds)
{
	const struct pfs_transfer_stats *st = &a->st;
	char digest[7 + 2 * PFS_DIGEST_SIZE + 1] = "sha256:";
	json_t *j;

	pfs_hex(st->manifest_digest, PFS_DIGEST_SIZE, digest + 7);
	j = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f}",
		      "source", src, "destination", dst, "digest", digest,
		      "blobs", (json_int_t)st->blobs,
		      "bytes", (json_int_t)st->bytes,
		      "present", (json_int_t)st->present,
		      a->push ? "uploaded" : "fetched", (json_int_t)st->moved,
		      a->push ? "bytes_uploaded" : "bytes_fetched",
		      (json_int_t)st->bytes_moved,
		      "requests", (json_int_t)st->requests,
		      "retries", (json_int_t)st->retries,
		      "seconds", seconds);
	if (j && a->push) {
		json_object_set_new(j, "mounted", json_integer((json_int_t)st->mounted));
		json_object_set_new(j, "up_to_date", json_boolean(st->up_to_date));
	}
	if (j)
		json_dumpf(j, stdout, JSON_COMPACT | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(j);
}

static int run(struct cli *cli, int argc, char **argv, bool push)
{
	struct args a = { .push = push };
	struct progress pr = { .cli = cli };
	struct pfs_ref ref;
	const char *remote;
	char *dir = NULL, *tag = NULL;
	bool tty = cli_isatty_stderr();
	int e;

	if (cli_wants_help(argc, argv, push ? push_usage : pull_usage))
		return 0;
	e = parse(cli, argc, argv, &a);
	if (e)
		goto out;
	remote = argv[optind + (push ? 1 : 0)];
	if (strncmp(remote, "docker://", 9)) {
		e = cli_usage_err(cli, "'%s': expected docker://HOST[:PORT]/REPO[:TAG|@DIGEST]",
				  remote);
		goto out;
	}
	if (pfs_ref_parse(remote, &ref, &cli->log)) {
		e = cli_usage_err(cli, "expected docker://HOST[:PORT]/REPO[:TAG|@DIGEST]");
		goto out;
	}
	if ((e = cli_image_ref(cli, argv[optind + (push ? 0 : 1)], &dir, &tag)))
		goto out;
	a.o.stats = &a.st;
	if (tty && !cli->json) {
		a.o.progress = progress;
		a.o.progress_arg = &pr;
	}
	clock_gettime(CLOCK_MONOTONIC, &pr.t0);
	e = push ? pfs_push(dir, tag, remote, &a.o) :
	    pfs_pull(remote, dir, tag, &a.o);
	if (a.o.progress)
		fputs("\r\033[K", stderr);
	if (!e && cli->json)
		print_json(&a, push ? argv[optind] : remote,
			   push ? remote : argv[optind + 1],
			   seconds_since(&pr.t0));
	e = e ? 1 : 0;
out:
	free(dir);
	free(tag);
	cli_registry_free(a.creds);
	return e < 0 ? 0 : e;
}

int cmd_push(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, true);
}

int cmd_pull(struct cli *cli, int argc, char **argv)
{
	return run(cli, argc, argv, false);
}
