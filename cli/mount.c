// SPDX-License-Identifier: MIT
/* puzzlefs mount / umount: the command line; fuse/ does the work. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fuse/mountinfo.h"
#include "../fuse/pfs_fuse.h"
#include "cli.h"

static const char mount_usage[] =
	"Usage: puzzlefs mount [OPTIONS] OCI_DIR:TAG MOUNTPOINT\n\n"
	"Mount an image read-only with FUSE (or the kernel driver: --kernel).\n"
	"Returns once the mount is ready (exit 0) while a daemon serves it,\n"
	"or fails with the reason and leaves nothing mounted (exit 1).\n\n"
	"  -f, --foreground      serve from this process until unmounted or\n"
	"                        SIGINT/SIGTERM (then unmount); log to stderr\n"
	"                        (the daemon logs to syslog)\n"
	"  -i, --init-pipe FIFO  write 's' to FIFO once the mount is ready, 'f'\n"
	"                        if mounting fails (the write waits for a reader)\n"
	"  -o OPT[,OPT...]       mount options, repeatable (below)\n"
	"  -d, --digest HEX      fs-verity mode: HEX is the manifest's fs-verity\n"
	"                        digest (what 'build' printed); every blob must\n"
	"                        have fs-verity with the digest the image records\n"
	"  -w, --writable        writable overlay (root only): the image at\n"
	"                        MOUNTPOINT/ro, overlayfs at MOUNTPOINT with the\n"
	"                        upper dir MOUNTPOINT/upper, work dir MOUNTPOINT/work\n"
	"  -p, --persist DIR     as -w with the upper dir DIR, kept across mounts\n"
	"                        (on the file system of MOUNTPOINT/work)\n"
	"      --kernel          mount with the puzzlefs kernel module instead\n"
	"  -h, --help            this help\n\n"
	"Mount options:\n"
	"  ro (default), rw, nosuid and nodev (default) or suid, dev; noexec,\n"
	"  noatime, sync, dirsync and the other generic flags of mount(8)\n"
	"  allow_other, allow_root, default_permissions, max_read=N\n"
	"  fsname=NAME           the mount's source (default OCI_DIR:TAG)\n"
	"  subtype=NAME          type fuse.NAME (default fuse.puzzlefs)\n"
	"  cache_size=SIZE       chunk cache, e.g. 256M (default 64M)\n"
	"  debug                 log every FUSE request (with -f)\n"
	"  writable, persist=DIR, digest=HEX: -w, -p, -d for mount(8) and fstab\n\n"
	"mount(8) and fstab: 'mount -t fuse.puzzlefs OCI_DIR:TAG MOUNTPOINT'\n"
	"runs the helper mount.fuse.puzzlefs.  Unmount with 'puzzlefs umount'.\n";

static const char umount_usage[] =
	"Usage: puzzlefs umount [-l] MOUNTPOINT\n\n"
	"Unmount what 'puzzlefs mount' mounted at MOUNTPOINT: a FUSE mount, a\n"
	"kernel driver mount, or the overlay and FUSE mount of -w/-p.  The\n"
	"daemon exits once its mount is gone.\n\n"
	"  -l, --lazy   detach now even if busy; cleaned up once unused\n"
	"  -h, --help   this help\n";

struct mount_cmd {
	struct pfs_mount_opts mo;
	struct pfs_buf raw;		/* the -o lists, joined with ',' */
	bool kernel, foreground, writable;
	const char *fifo, *digest, *persist;
	char *dir, *tag;		/* from OCI_DIR:TAG */
	/* canonical paths */
	char *oci, *mnt, *fuse_mnt, *upper, *work, *fifo_path;
	uint8_t verity[PFS_DIGEST_SIZE];
};

static void mount_cmd_free(struct mount_cmd *m)
{
	pfs_mount_opts_free(&m->mo);
	pfs_buf_free(&m->raw);
	free(m->dir);
	free(m->tag);
	free(m->oci);
	free(m->mnt);
	free(m->fuse_mnt);
	free(m->upper);
	free(m->work);
	free(m->fifo_path);
}

static int add_raw(struct pfs_buf *b, const char *list)
{
	if ((b->len && pfs_buf_add(b, ",", 1)) ||
	    pfs_buf_add(b, list, strlen(list)) || pfs_buf_reserve(b, 1))
		return -ENOMEM;
	b->data[b->len] = 0;
	return 0;
}

static int parse_args(struct cli *cli, struct mount_cmd *m, int argc,
		      char **argv)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "init-pipe", required_argument, NULL, 'i' },
		{ "digest", required_argument, NULL, 'd' },
		{ "writable", no_argument, NULL, 'w' },
		{ "persist", required_argument, NULL, 'p' },
		{ "kernel", no_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "fi:o:d:wp:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': m->foreground = true; break;
		case 'i': m->fifo = optarg; break;
		case 'd': m->digest = optarg; break;
		case 'w': m->writable = true; break;
		case 'p': m->persist = optarg; break;
		case 'K': m->kernel = true; break;
		case 'o':
			if (add_raw(&m->raw, optarg))
				return cli_usage_err(cli, "out of memory");
			break;
		case 'h': fputs(mount_usage, stdout); return -1;
		default: return cli_usage_err(cli, "bad option");
		}
	}
	if (optind != argc - 2)
		return cli_usage_err(cli, "expected OCI_DIR:TAG MOUNTPOINT");
	/* The kernel driver has options of its own. */
	if (!m->kernel && m->raw.len &&
	    pfs_mount_opts_parse(&m->mo, (const char *)m->raw.data,
				 &cli->log)) {
		fputs("Try 'puzzlefs mount --help'.\n", stderr);
		return EXIT_USAGE;
	}
	/* -w | -p: -p is -w with an upper dir of its own. */
	if ((m->writable || m->mo.writable) && (m->persist || m->mo.persist))
		return cli_usage_err(cli, "-w (writable) and -p (persist) "
				     "exclude each other: -p DIR is -w with "
				     "the changes in DIR");
	/* The mount(8) spellings of the flags. */
	m->writable |= m->mo.writable;
	if (!m->persist)
		m->persist = m->mo.persist;
	if (!m->digest)
		m->digest = m->mo.digest;
	if (m->persist)
		m->writable = true;
	if (m->kernel && (m->foreground || m->fifo || m->writable))
		return cli_usage_err(cli, "--kernel takes only -o and -d");
	if (m->writable && m->foreground)
		return cli_usage_err(cli, "-w/-p and -f exclude each other");
	if (m->digest && cli_digest(cli, m->digest, m->verity))
		return EXIT_USAGE;
	return cli_image_ref(cli, argv[optind], &m->dir, &m->tag);
}

static char *canonical_dir(struct cli *cli, const char *path)
{
	struct stat st;
	char *real = realpath(path, NULL);

	if (!real) {
		cli_err(cli, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (stat(real, &st) || !S_ISDIR(st.st_mode)) {
		cli_err(cli, "%s: not a directory", path);
		free(real);
		return NULL;
	}
	return real;
}

static char *subdir(struct cli *cli, const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		return NULL;
	if (mkdir(p, 0755) && errno != EEXIST) {
		cli_err(cli, "%s: %s", p, strerror(errno));
		free(p);
		return NULL;
	}
	return p;
}

/* mkdir -p */
static int make_dirs(const char *path)
{
	char *p = strdup(path), *s;
	int e = 0;

	if (!p)
		return -ENOMEM;
	for (s = strchr(p + 1, '/'); s && !e; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(p, 0755) && errno != EEXIST)
			e = -errno;
		*s = '/';
	}
	if (!e && mkdir(p, 0755) && errno != EEXIST)
		e = -errno;
	free(p);
	return e;
}

/* -w/-p: the reference's layout, MNT/ro below, MNT/work beside upper. */
static int overlay_dirs(struct cli *cli, struct mount_cmd *m)
{
	struct stat a, b;
	int e;

	if (geteuid() != 0) {
		cli_err(cli, "writable mounts (-w, -p) need root");
		return 1;
	}
	m->fuse_mnt = subdir(cli, m->mnt, "ro");
	m->work = m->fuse_mnt ? subdir(cli, m->mnt, "work") : NULL;
	if (!m->work)
		return 1;
	if (!m->persist) {
		m->upper = subdir(cli, m->mnt, "upper");
		return m->upper ? 0 : 1;
	}
	if ((e = make_dirs(m->persist))) {
		cli_err(cli, "%s: %s", m->persist, strerror(-e));
		return 1;
	}
	m->upper = canonical_dir(cli, m->persist);
	if (!m->upper)
		return 1;
	if (stat(m->upper, &a) || stat(m->work, &b) || a.st_dev != b.st_dev) {
		cli_err(cli, "%s: must be on the file system of %s "
			"(overlayfs needs its upper and work dirs together)",
			m->upper, m->work);
		return 1;
	}
	return 0;
}

static int check_not_mounted(struct cli *cli, const char *path)
{
	struct pfs_mnt mnt;
	int r = pfs_mountinfo_find(path, &mnt);

	if (r < 0) {
		cli_err(cli, "/proc/self/mountinfo: %s", strerror(-r));
		return 1;
	}
	if (r > 0) {
		cli_err(cli, "%s: already mounted (%s %s); unmount it first",
			path, mnt.fstype, mnt.source);
		return 1;
	}
	return 0;
}

/* Absolute: the daemon runs in "/". */
static int check_fifo(struct cli *cli, struct mount_cmd *m)
{
	struct stat st;

	if (stat(m->fifo, &st) || !S_ISFIFO(st.st_mode))
		return cli_usage_err(cli, "-i %s: not a FIFO (mkfifo it)",
				     m->fifo);
	m->fifo_path = realpath(m->fifo, NULL);
	if (!m->fifo_path) {
		cli_err(cli, "%s: %s", m->fifo, strerror(errno));
		return 1;
	}
	return 0;
}

static int mount_kernel(struct cli *cli, struct mount_cmd *m, char **argv)
{
	return cli_kernel_mount(cli, m->dir, m->tag, argv[optind + 1],
				m->raw.len ? (const char *)m->raw.data : NULL,
				m->digest ? m->verity : NULL);
}

static int run_mount(struct cli *cli, struct mount_cmd *m, char **argv)
{
	struct pfs_fuse_args a = { 0 };
	int e;

	if (m->fifo && (e = check_fifo(cli, m)))
		return e;
	m->oci = canonical_dir(cli, m->dir);
	m->mnt = m->oci ? canonical_dir(cli, argv[optind + 1]) : NULL;
	if (!m->mnt)
		return 1;
	if (m->writable && overlay_dirs(cli, m))
		return 1;
	if (!m->fuse_mnt && !(m->fuse_mnt = strdup(m->mnt)))
		return 1;
	if (check_not_mounted(cli, m->mnt) ||
	    (m->writable && check_not_mounted(cli, m->fuse_mnt)))
		return 1;
	a.oci_dir = m->oci;
	a.tag = m->tag;
	a.mountpoint = m->fuse_mnt;
	if (m->writable) {
		a.overlay = m->mnt;
		a.upper = m->upper;
		a.work = m->work;
	}
	a.verity = m->digest ? m->verity : NULL;
	a.opts = &m->mo;
	a.foreground = m->foreground;
	a.init_fifo = m->fifo_path;
	return pfs_fuse_main(&a, &cli->log);
}

int cmd_mount(struct cli *cli, int argc, char **argv)
{
	struct mount_cmd m = { 0 };
	int e;

	pfs_mount_opts_init(&m.mo);
	e = parse_args(cli, &m, argc, argv);
	if (e == 0)
		e = m.kernel ? mount_kernel(cli, &m, argv) :
			       run_mount(cli, &m, argv);
	mount_cmd_free(&m);
	return e < 0 ? 0 : e;
}

int cmd_umount(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "lazy", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool lazy = false;
	int c;

	while ((c = getopt_long(argc, argv, "lh", opts, NULL)) != -1) {
		switch (c) {
		case 'l': lazy = true; break;
		case 'h': fputs(umount_usage, stdout); return 0;
		default: return cli_usage_err(cli, "bad option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_err(cli, "expected MOUNTPOINT");
	return pfs_unmount(argv[optind], lazy, &cli->log) ? 1 : 0;
}
