// SPDX-License-Identifier: MIT
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "util.h"
#include "options.h"

#define MAX_VALUE 4096

struct flag_opt {
	const char *name;
	unsigned long flag;
	bool set;
	bool libfuse;		/* also understood by libfuse's own mount */
};

static const struct flag_opt flag_opts[] = {
	{ "ro", MS_RDONLY, true, true },
	{ "rw", MS_RDONLY, false, true },
	{ "nosuid", MS_NOSUID, true, true },
	{ "suid", MS_NOSUID, false, true },
	{ "nodev", MS_NODEV, true, true },
	{ "dev", MS_NODEV, false, true },
	{ "noexec", MS_NOEXEC, true, true },
	{ "exec", MS_NOEXEC, false, true },
	{ "sync", MS_SYNCHRONOUS, true, true },
	{ "async", MS_SYNCHRONOUS, false, true },
	{ "dirsync", MS_DIRSYNC, true, true },
	{ "noatime", MS_NOATIME, true, true },
	{ "atime", MS_NOATIME, false, true },
	{ "nodiratime", MS_NODIRATIME, true, false },
	{ "diratime", MS_NODIRATIME, false, false },
	{ "relatime", MS_RELATIME, true, false },
	{ "norelatime", MS_RELATIME, false, false },
	{ "strictatime", MS_STRICTATIME, true, false },
	{ "nostrictatime", MS_STRICTATIME, false, false },
	{ "lazytime", MS_LAZYTIME, true, false },
	{ "nolazytime", MS_LAZYTIME, false, false },
};

/* Words mount(8) and fstab use that mean nothing to the mount itself. */
static const char *const ignored[] = {
	"defaults", "auto", "noauto", "user", "nouser", "users", "owner",
	"group", "nofail", "_netdev",
};

/* Passed to the kernel as they are (SELinux labels). */
static const char *const kernel_valued[] = {
	"context=", "fscontext=", "defcontext=", "rootcontext=",
};

void pfs_mount_opts_init(struct pfs_mount_opts *mo)
{
	memset(mo, 0, sizeof(*mo));
	mo->flags = MS_RDONLY | MS_NOSUID | MS_NODEV;
}

void pfs_mount_opts_free(struct pfs_mount_opts *mo)
{
	pfs_buf_free(&mo->kernel);
	free(mo->fsname);
	free(mo->subtype);
	free(mo->persist);
	free(mo->digest);
}

static int add_kernel(struct pfs_mount_opts *mo, const char *opt, size_t len)
{
	if ((mo->kernel.len && pfs_buf_add(&mo->kernel, ",", 1)) ||
	    pfs_buf_add(&mo->kernel, opt, len) ||
	    pfs_buf_reserve(&mo->kernel, 1))
		return -ENOMEM;
	mo->kernel.data[mo->kernel.len] = 0;
	return 0;
}

static bool valid_subtype(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 64)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-+", *s))
			return false;
	return true;
}

static int set_str(char **dst, const char *val)
{
	char *s = strdup(val);

	if (!s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

/* Options with a value.  1: not one of these. */
static int parse_valued(struct pfs_mount_opts *mo, const char *opt,
			const struct pfs_log *log)
{
	const char *val = strchr(opt, '=');
	size_t i, n;
	char *end;

	if (!val)
		return 1;
	val++;
	if (has_prefix(opt, "fsname=")) {
		if (!*val)
			return pfs_errf(log, EINVAL, "-o %s: empty name", opt);
		return set_str(&mo->fsname, val);
	}
	if (has_prefix(opt, "subtype=")) {
		if (!valid_subtype(val))
			return pfs_errf(log, EINVAL, "-o %s: expected up to 64 "
					"letters, digits or _.-+", opt);
		return set_str(&mo->subtype, val);
	}
	if (has_prefix(opt, "cache_size=")) {
		if (pfs_parse_size(val, &mo->cache_bytes))
			return pfs_errf(log, EINVAL, "-o %s: expected a size "
					"such as 64M", opt);
		return 0;
	}
	if (has_prefix(opt, "persist=")) {
		if (!*val)
			return pfs_errf(log, EINVAL, "-o %s: empty path", opt);
		return set_str(&mo->persist, val);
	}
	if (has_prefix(opt, "digest="))
		return set_str(&mo->digest, val);
	if (has_prefix(opt, "max_read=")) {
		errno = 0;
		n = strtoul(val, &end, 10);
		if (!isdigit((unsigned char)*val) || *end || errno || !n ||
		    n > (1u << 30))
			return pfs_errf(log, EINVAL, "-o %s: expected a "
					"positive number of bytes", opt);
		return add_kernel(mo, opt, strlen(opt));
	}
	if (has_prefix(opt, "comment="))
		return 0;
	for (i = 0; i < sizeof(kernel_valued) / sizeof(*kernel_valued); i++)
		if (has_prefix(opt, kernel_valued[i]))
			return add_kernel(mo, opt, strlen(opt));
	return 1;
}

/* Options without a value.  1: not one of these. */
static int parse_word(struct pfs_mount_opts *mo, const char *opt)
{
	size_t i;

	for (i = 0; i < sizeof(flag_opts) / sizeof(*flag_opts); i++) {
		if (strcmp(opt, flag_opts[i].name))
			continue;
		if (flag_opts[i].set)
			mo->flags |= flag_opts[i].flag;
		else
			mo->flags &= ~flag_opts[i].flag;
		return 0;
	}
	for (i = 0; i < sizeof(ignored) / sizeof(*ignored); i++)
		if (!strcmp(opt, ignored[i]))
			return 0;
	if (has_prefix(opt, "x-"))
		return 0;
	if (!strcmp(opt, "allow_other"))
		mo->allow_other = true;
	else if (!strcmp(opt, "allow_root"))
		mo->allow_root = true;
	else if (!strcmp(opt, "default_permissions"))
		mo->default_permissions = true;
	else if (!strcmp(opt, "debug"))
		mo->debug = true;
	else if (!strcmp(opt, "writable"))
		mo->writable = true;
	else
		return 1;
	return 0;
}

static int parse_one(struct pfs_mount_opts *mo, const char *opt,
		     const struct pfs_log *log)
{
	int e;

	if (!*opt)
		return 0;
	if (strlen(opt) > MAX_VALUE)
		return pfs_errf(log, EINVAL, "-o: option longer than %d bytes",
				MAX_VALUE);
	e = parse_valued(mo, opt, log);
	if (e == 1)
		e = parse_word(mo, opt);
	if (e == 1)
		return pfs_errf(log, EINVAL, "-o %s: unknown mount option",
				opt);
	return e;
}

int pfs_mount_opts_parse(struct pfs_mount_opts *mo, const char *list,
			 const struct pfs_log *log)
{
	char *copy = strdup(list), *p, *next;
	int e = 0;

	if (!copy)
		return -ENOMEM;
	for (p = copy; p && !e; p = next) {
		next = strchr(p, ',');
		if (next)
			*next++ = 0;
		e = parse_one(mo, p, log);
	}
	free(copy);
	if (!e && mo->allow_other && mo->allow_root)
		e = pfs_errf(log, EINVAL,
			     "-o allow_other and allow_root exclude each "
			     "other");
	return e;
}

/* libfuse splits at ',' and takes a backslash as an escape. */
static int add_lib(struct pfs_buf *b, const char *key, const char *val)
{
	const char *p;

	if ((b->len && pfs_buf_add(b, ",", 1)) ||
	    pfs_buf_add(b, key, strlen(key)))
		return -ENOMEM;
	for (p = val; p && *p; p++)
		if ((strchr(",\\", *p) && pfs_buf_add(b, "\\", 1)) ||
		    pfs_buf_add(b, p, 1))
			return -ENOMEM;
	if (pfs_buf_reserve(b, 1))
		return -ENOMEM;
	b->data[b->len] = 0;
	return 0;
}

int pfs_mount_opts_libfuse(const struct pfs_mount_opts *mo,
			   const char *fsname, struct pfs_buf *out)
{
	size_t i;
	int e = 0;

	for (i = 0; i < sizeof(flag_opts) / sizeof(*flag_opts) && !e; i++) {
		const struct flag_opt *f = &flag_opts[i];

		if (f->libfuse && f->set == !!(mo->flags & f->flag))
			e = add_lib(out, f->name, NULL);
	}
	if (!e && mo->allow_other)
		e = add_lib(out, "allow_other", NULL);
	if (!e && mo->allow_root)
		e = add_lib(out, "allow_root", NULL);
	if (!e && mo->default_permissions)
		e = add_lib(out, "default_permissions", NULL);
	if (!e && mo->debug)
		e = add_lib(out, "debug", NULL);
	if (!e)
		e = add_lib(out, "fsname=", mo->fsname ? mo->fsname : fsname);
	if (!e)
		e = add_lib(out, "subtype=",
			    mo->subtype ? mo->subtype : "puzzlefs");
	/* Kernel options were checked one by one and hold no escapes. */
	if (!e && mo->kernel.len)
		e = add_lib(out, (const char *)mo->kernel.data, NULL);
	return e;
}
