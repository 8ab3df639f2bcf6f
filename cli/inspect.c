// SPDX-License-Identifier: MIT
/* Inspection commands: tags, ls, cat. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "read/tree.h"
#include "util.h"
#include "cli.h"

static const char tags_usage[] =
	"Usage: puzzlefs tags [--json] OCI_DIR\n\n"
	"List the tags of an OCI image directory, in index order.\n\n"
	"  --json    print a JSON array of {\"tag\", \"manifest\", \"size\"}\n";

struct tags_json {
	struct pfs_oci *oci;
	json_t *arr;
};

/* --json: one pass over index.json, however many tags it has. */
static int tag_entry(void *arg, json_t *ent, size_t i)
{
	struct tags_json *tj = arg;
	const char *t = pfs_oci_entry_tag(ent);
	char hex[7 + 2 * PFS_DIGEST_SIZE + 1] = "sha256:", what[64];
	struct pfs_desc d;
	int e;

	if (!t)
		return 0;
	snprintf(what, sizeof(what), "index.json entry %zu", i);
	e = pfs_oci_parse_desc(tj->oci, ent, what, &d);
	if (e)
		return e;
	pfs_hex(d.digest, PFS_DIGEST_SIZE, hex + 7);
	return json_array_append_new(tj->arr, json_pack("{s:s,s:s,s:I}",
				     "tag", t, "manifest", hex, "size",
				     (json_int_t)d.size)) ? -ENOMEM : 0;
}

static int tags_json(struct cli *cli, const char *dir)
{
	struct tags_json tj = { NULL, json_array() };
	uint8_t *data = NULL;
	size_t len;
	int e;

	e = pfs_oci_open(dir, false, &cli->log, &tj.oci);
	if (!e)
		e = pfs_read_file_at(tj.oci->root_fd, "index.json",
				     PFS_MAX_JSON, &data, &len);
	if (e && tj.oci)
		cli_err(cli, "%s: index.json: %s", dir, strerror(-e));
	if (!e)
		e = pfs_oci_index_scan(tj.oci, data, len, tag_entry, &tj, NULL);
	if (e >= 0) {
		json_dumpf(tj.arr, stdout, JSON_INDENT(1));
		putchar('\n');
	}
	free(data);
	json_decref(tj.arr);
	pfs_oci_close(tj.oci);
	return e < 0 ? 1 : 0;
}

int cmd_tags(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char **tags, *shown;
	size_t n, i;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'j': cli->json = true; break;
		case 'h': fputs(tags_usage, stdout); return 0;
		default: return cli_usage_err(cli, "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_err(cli, "expected OCI_DIR");
	if (cli->json)
		return tags_json(cli, argv[optind]);
	if (pfs_list_tags(argv[optind], &cli->log, &tags, &n))
		return 1;
	/* One line a tag: one another tool wrote outside the grammar is
	 * shown escaped. */
	for (i = 0; i < n; i++) {
		if (pfs_tag_valid(tags[i])) {
			printf("%s\n", tags[i]);
			continue;
		}
		shown = malloc(4 * strlen(tags[i]) + 8);
		if (shown) {
			pfs_printable(tags[i], shown, 4 * strlen(tags[i]) + 8);
			printf("%s\n", shown);
			cli_err(cli, "warning: %s: tag '%s' is not a valid tag",
				argv[optind], shown);
		}
		free(shown);
	}
	pfs_tags_free(tags, n);
	return 0;
}

static const char ls_usage[] =
	"Usage: puzzlefs ls [-l] [-R] [--total] [--json] OCI_DIR:TAG [PATH]\n\n"
	"List the entries of directory PATH (default /) of an image, or PATH\n"
	"itself when it is not a directory.\n\n"
	"  -l, --long        type, permissions, links, owner, size, mtime (UTC;\n"
	"                    '-' if the image has none), target\n"
	"  -R, --recursive   list subdirectories too, with paths\n"
	"  --total           instead, what extract writes for PATH: entries,\n"
	"                    regular files (hard links once) and their bytes\n"
	"  --json            one JSON object per entry (path, ino, type, mode,\n"
	"                    uid, gid, nlink, size, rdev, target, mtime and\n"
	"                    mtime_nsec), as an array; names that are not\n"
	"                    UTF-8 come as path_hex, target_hex; with --total\n"
	"                    {path, entries, files, bytes}\n";

static void mode_string(uint32_t mode, char *s)
{
	const char *rwx = "rwxrwxrwx";
	int i;

	s[0] = S_ISDIR(mode) ? 'd' : S_ISLNK(mode) ? 'l' : S_ISCHR(mode) ? 'c' :
	       S_ISBLK(mode) ? 'b' : S_ISFIFO(mode) ? 'p' :
	       S_ISSOCK(mode) ? 's' : '-';
	for (i = 0; i < 9; i++)
		s[i + 1] = mode & (0400 >> i) ? rwx[i] : '-';
	if (mode & S_ISUID)
		s[3] = mode & 0100 ? 's' : 'S';
	if (mode & S_ISGID)
		s[6] = mode & 0010 ? 's' : 'S';
	if (mode & S_ISVTX)
		s[9] = mode & 0001 ? 't' : 'T';
	s[10] = 0;
}

struct ls {
	struct cli *cli;
	struct pfs_image *img;
	bool lng, rec;
	json_t *arr;
	int err;
};

/* Names are bytes: a string when valid UTF-8, else "<key>_hex" (as dump). */
static void set_name(json_t *o, const char *key, const char *s, size_t len)
{
	json_t *v = memchr(s, 0, len) ? NULL : json_stringn(s, len);
	char hkey[32], *hex;

	if (v) {
		json_object_set_new(o, key, v);
		return;
	}
	hex = malloc(2 * len + 1);
	if (!hex)
		return;
	pfs_hex((const uint8_t *)s, len, hex);
	snprintf(hkey, sizeof(hkey), "%s_hex", key);
	json_object_set_new(o, hkey, json_string(hex));
	free(hex);
}

/* "YYYY-MM-DD HH:MM:SS" in UTC (an image shows the same anywhere), or
 * "-" in as many columns. */
static void mtime_string(const struct pfs_attr *a, char *s, size_t size)
{
	time_t t = (time_t)a->mtime_sec;
	struct tm tm;

	if (a->has_mtime && t == a->mtime_sec && gmtime_r(&t, &tm) &&
	    strftime(s, size, "%Y-%m-%d %H:%M:%S", &tm))
		return;
	if (a->has_mtime)
		snprintf(s, size, "%19lld", (long long)a->mtime_sec);
	else
		snprintf(s, size, "%-19s", "-");
}

static void ls_print(struct ls *ls, const char *path, const char *shown,
		     const struct pfs_attr *a)
{
	char target[4097] = "", mode[11], when[64];
	ssize_t n = 0;

	if (S_ISLNK(a->mode)) {
		n = pfs_readlink(ls->img, a->ino, target, sizeof(target) - 1);
		if (n < 0)
			n = 0;
		target[n > 4096 ? 4096 : n] = 0;
	}
	if (ls->arr) {
		json_t *o = json_pack("{s:I,s:s,s:I,s:I,s:I,s:I,s:I}",
			"ino", (json_int_t)a->ino, "type", "",
			"mode", (json_int_t)(a->mode & 07777),
			"uid", (json_int_t)a->uid, "gid", (json_int_t)a->gid,
			"nlink", (json_int_t)a->nlink,
			"size", (json_int_t)a->size);

		if (!o) {
			ls->err = 1;
			return;
		}
		set_name(o, "path", path, strlen(path));
		mode_string(a->mode, mode);
		json_object_set_new(o, "type", json_stringn(mode, 1));
		if (S_ISLNK(a->mode))
			set_name(o, "target", target, (size_t)n);
		if (S_ISCHR(a->mode) || S_ISBLK(a->mode))
			json_object_set_new(o, "rdev", json_pack("[I,I]",
				(json_int_t)a->rdev_major, (json_int_t)a->rdev_minor));
		if (a->has_mtime) {
			json_object_set_new(o, "mtime",
					    json_integer(a->mtime_sec));
			json_object_set_new(o, "mtime_nsec",
					    json_integer(a->mtime_nsec));
		}
		json_array_append_new(ls->arr, o);
		return;
	}
	if (!ls->lng) {
		printf("%s\n", shown);
		return;
	}
	mode_string(a->mode, mode);
	mtime_string(a, when, sizeof(when));
	if (S_ISCHR(a->mode) || S_ISBLK(a->mode))
		printf("%s %3u %5u %5u %4llu, %4llu %s %s", mode, a->nlink,
		       a->uid, a->gid, (unsigned long long)a->rdev_major,
		       (unsigned long long)a->rdev_minor, when, shown);
	else
		printf("%s %3u %5u %5u %10llu %s %s", mode, a->nlink, a->uid,
		       a->gid, (unsigned long long)a->size, when, shown);
	if (S_ISLNK(a->mode))
		printf(" -> %s", target);
	putchar('\n');
}

/* The entries of directory @ino (PATH), and with -R of every directory
 * below, depth first: the walk tools share (read/tree.h). */
static void ls_dir(struct ls *ls, uint64_t ino, const char *path)
{
	struct pfs_tree t;
	struct pfs_attr a;
	int e;

	e = pfs_tree_init(&t, ls->img, ino, path);
	while (!e && (e = pfs_tree_next(&t)) != PFS_TREE_END) {
		if (e == PFS_TREE_LEAVE) {
			e = 0;
			continue;
		}
		if (e < 0 || (e = pfs_getattr(ls->img, t.ent.ino, &a)))
			break;
		ls_print(ls, t.path, ls->rec ? t.path :
			 t.path + t.path_len - t.ent.name_len, &a);
		if (ls->rec && S_ISDIR(a.mode)) {
			e = pfs_tree_enter(&t);
			if (e == -ELOOP)
				cli_err(ls->cli, "%s: %s", t.path, t.why);
		}
	}
	if (e < 0) {
		if (e != -ELOOP)
			cli_err(ls->cli, "%s: %s", t.path, strerror(-e));
		ls->err = 1;
	}
	pfs_tree_free(&t);
}

/* --total: what extract writes for PATH. */
static void ls_total(struct ls *ls, const char *path, const struct pfs_attr *a)
{
	struct pfs_tree_size ts = { 0 };

	if (S_ISDIR(a->mode)) {
		if (pfs_tree_size(ls->img, a->ino, &ts)) {
			ls->err = 1;
			return;
		}
	} else {
		ts.entries = 1;
		ts.files = S_ISREG(a->mode);
		ts.bytes = S_ISREG(a->mode) ? a->size : 0;
	}
	if (ls->cli->json) {
		json_t *o = json_pack("{s:I,s:I,s:I}", "entries",
				      (json_int_t)ts.entries, "files",
				      (json_int_t)ts.files, "bytes",
				      (json_int_t)ts.bytes);

		set_name(o, "path", path, strlen(path));
		json_dumpf(o, stdout, JSON_INDENT(1));
		putchar('\n');
		json_decref(o);
		return;
	}
	printf("%llu entries, %llu files, %llu bytes\n",
	       (unsigned long long)ts.entries, (unsigned long long)ts.files,
	       (unsigned long long)ts.bytes);
}

int cmd_ls(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "long", no_argument, NULL, 'l' },
		{ "recursive", no_argument, NULL, 'R' },
		{ "json", no_argument, NULL, 'j' },
		{ "total", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ls ls = { .cli = cli };
	bool total = false;
	struct pfs_image_opts io = { .log = &cli->log };
	const char *path = "/";
	char *dir, *tag;
	struct pfs_attr a;
	int c, e;

	while ((c = getopt_long(argc, argv, "lRh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': ls.lng = true; break;
		case 'R': ls.rec = true; break;
		case 'j': cli->json = true; break;
		case 't': total = true; break;
		case 'h': fputs(ls_usage, stdout); return 0;
		default: return cli_usage_err(cli, "bad option");
		}
	}
	if (optind != argc - 1 && optind != argc - 2)
		return cli_usage_err(cli, "expected OCI_DIR:TAG [PATH]");
	if ((e = cli_image_ref(cli, argv[optind], &dir, &tag)))
		return e;
	if (optind == argc - 2)
		path = argv[optind + 1];
	if (pfs_image_open(dir, tag, &io, &ls.img)) {
		free(dir);
		free(tag);
		return 1;
	}
	if (cli->json && !total)
		ls.arr = json_array();
	e = pfs_resolve(ls.img, path, &a);
	if (e) {
		cli_err(cli, "%s:%s: %s: %s", dir, tag, path, strerror(-e));
		ls.err = 1;
	} else if ((ls.rec || total) && pfs_image_check(ls.img)) {
		/* A walk of a malformed tree: refused, as extract does. */
		ls.err = 1;
	} else if (total) {
		ls_total(&ls, path, &a);
	} else if (S_ISDIR(a.mode)) {
		ls_dir(&ls, a.ino, path);
	} else {
		ls_print(&ls, path, path, &a);
	}
	if (ls.arr) {
		json_dumpf(ls.arr, stdout, JSON_INDENT(1));
		putchar('\n');
		json_decref(ls.arr);
	}
	pfs_image_close(ls.img);
	free(dir);
	free(tag);
	return ls.err;
}

static const char cat_usage[] =
	"Usage: puzzlefs cat OCI_DIR:TAG PATH...\n\n"
	"Write the contents of files of an image to standard output.\n";

int cmd_cat(struct cli *cli, int argc, char **argv)
{
	struct pfs_image_opts io = { .log = &cli->log };
	struct pfs_image *img;
	char *dir, *tag, *buf;
	size_t bufsz = 1 << 20;
	int i, e, rc = 0;

	if (cli_wants_help(argc, argv, cat_usage))
		return 0;
	if ((e = cli_no_options(cli, argc, argv)))
		return e;
	if (argc < 3)
		return cli_usage_err(cli, "expected OCI_DIR:TAG PATH...");
	if ((e = cli_image_ref(cli, argv[1], &dir, &tag)))
		return e;
	if (pfs_image_open(dir, tag, &io, &img)) {
		free(dir);
		free(tag);
		return 1;
	}
	buf = malloc(bufsz);
	for (i = 2; i < argc && buf; i++) {
		struct pfs_attr a;
		uint64_t off = 0;
		ssize_t n;

		e = pfs_resolve(img, argv[i], &a);
		if (!e && S_ISDIR(a.mode))
			e = -EISDIR;
		if (e) {
			cli_err(cli, "%s:%s: %s: %s", dir, tag, argv[i],
				strerror(-e));
			rc = 1;
			continue;
		}
		while ((n = pfs_read(img, a.ino, buf, bufsz, off)) > 0) {
			if (pfs_write_full(STDOUT_FILENO, buf, (size_t)n)) {
				cli_err(cli, "stdout: %s", strerror(errno));
				rc = 1;
				break;
			}
			off += (uint64_t)n;
		}
		if (n < 0) {
			cli_err(cli, "%s:%s: %s: %s", dir, tag, argv[i],
				strerror((int)-n));
			rc = 1;
		}
	}
	free(buf);
	pfs_image_close(img);
	free(dir);
	free(tag);
	return rc;
}
