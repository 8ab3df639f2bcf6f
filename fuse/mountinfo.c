// SPDX-License-Identifier: MIT
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "mountinfo.h"

#define MAX_STACK 64		/* mounts stacked on one mount point */

struct entry {
	int id, parent;
	struct pfs_mnt m;
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *d = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
				      (s[3] - '0'));
			s += 4;
		} else {
			*d++ = *s++;
		}
	}
	*d = 0;
}

/*
 * "ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL...] - TYPE SOURCE SUPER":
 * fills @e when POINT is @path.
 */
static bool parse_line(char *line, const char *path, struct entry *e)
{
	char *save = NULL, *tok, *point, *type, *source;
	unsigned maj = 0, min = 0;
	int i;

	line[strcspn(line, "\n")] = 0;
	tok = strtok_r(line, " ", &save);
	for (i = 0; tok && i < 4; i++) {
		if (i == 0)
			e->id = atoi(tok);
		else if (i == 1)
			e->parent = atoi(tok);
		else if (i == 2 && sscanf(tok, "%u:%u", &maj, &min) != 2)
			return false;
		tok = strtok_r(NULL, " ", &save);
	}
	point = tok;
	if (!point)
		return false;
	unescape(point);
	if (strcmp(point, path))
		return false;
	while ((tok = strtok_r(NULL, " ", &save)) && strcmp(tok, "-"))
		;
	type = strtok_r(NULL, " ", &save);
	source = strtok_r(NULL, " ", &save);
	if (!type)
		return false;
	e->m.dev = makedev(maj, min);
	unescape(type);
	snprintf(e->m.fstype, sizeof(e->m.fstype), "%s", type);
	if (source)
		unescape(source);
	snprintf(e->m.source, sizeof(e->m.source), "%s", source ? source : "");
	return true;
}

int pfs_mountinfo_find(const char *path, struct pfs_mnt *out)
{
	struct entry *found;
	size_t n = 0, cap = 0, i, j;
	char *line = NULL;
	FILE *f;
	int e = 0;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	found = calloc(MAX_STACK, sizeof(*found));
	if (!found) {
		fclose(f);
		return -ENOMEM;
	}
	while (getline(&line, &cap, f) > 0)
		if (n < MAX_STACK && parse_line(line, path, &found[n]))
			n++;
	free(line);
	fclose(f);
	/* Stacked mounts: the top one is nobody's parent. */
	for (i = n; i-- > 0 && !e;) {
		for (j = 0; j < n; j++)
			if (found[j].parent == found[i].id)
				break;
		if (j == n) {
			*out = found[i].m;
			e = 1;
		}
	}
	free(found);
	return e;
}

bool pfs_mnt_is_puzzlefs(const struct pfs_mnt *m)
{
	return !strcmp(m->fstype, "fuse") || !strncmp(m->fstype, "fuse.", 5) ||
	       !strcmp(m->fstype, "puzzlefs");
}

char *pfs_canonical_mountpoint(const char *path)
{
	char *copy = strdup(path), *slash, *dir, *out = NULL;
	const char *base;

	if (!copy)
		return NULL;
	/* Strip trailing slashes, but keep "/". */
	for (slash = copy + strlen(copy); slash > copy + 1 && slash[-1] == '/';)
		*--slash = 0;
	slash = strrchr(copy, '/');
	base = slash ? slash + 1 : copy;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		out = realpath(copy, NULL);
		free(copy);
		return out;
	}
	if (slash == copy)
		dir = realpath("/", NULL);
	else if (slash) {
		*slash = 0;
		dir = realpath(copy, NULL);
	} else {
		dir = realpath(".", NULL);
	}
	if (dir && asprintf(&out, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "",
			    base) < 0)
		out = NULL;
	free(dir);
	free(copy);
	return out;
}
