// SPDX-License-Identifier: MIT
/*
 * The daemon: open the image, mount, serve; in the foreground or from a
 * background process.
 *
 * Everything that commonly fails (the image, the mount) is done before
 * forking, so it is reported directly.  The background daemon then tells
 * the waiting command through a pipe once the mount has answered a first
 * request through the kernel (and the overlay of -w is mounted): records
 * "E<message>\0" and "W<message>\0" carry its messages, "S\0" success.  A
 * pipe that closes without "S" is a failure, whatever killed the daemon,
 * and the command then removes what was mounted before it exits.
 *
 * The serving process blocks SIGINT/SIGTERM/SIGHUP in every thread and
 * waits for them in one: it unmounts, the kernel ends the connection and
 * the session loop returns, exactly as after an external umount.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"
#include "mountinfo.h"
#include "mounts.h"
#include "pfs_fuse.h"

struct daemon {
	const struct pfs_fuse_args *a;
	const struct pfs_log *cli_log;
	struct pfs_log log;		/* everything logs through here */
	pthread_mutex_t log_lock;
	int report_fd;			/* to the waiting command, or -1 */
	bool use_syslog;
	struct pfs_image *img;
	bool fs_ready;			/* fs initialized */
	struct pfs_fs fs;
	struct fuse_session *se;
	bool direct;			/* mounted with mount(2) by us */
	dev_t dev, ovl_dev;		/* our mounts (0: none, unknown) */
	bool ready;			/* readiness was announced */
	int status;
};

/* ---- messages ----------------------------------------------------------- */

static void daemon_log(void *arg, int level, const char *msg)
{
	struct daemon *d = arg;
	char rec[PIPE_BUF];
	int n;

	if (level > PFS_LOG_WARN)
		return;
	pthread_mutex_lock(&d->log_lock);
	if (d->report_fd >= 0) {
		/* One write of at most PIPE_BUF bytes: atomic. */
		n = snprintf(rec, sizeof(rec), "%c%s",
			     level == PFS_LOG_ERR ? 'E' : 'W', msg);
		if (n >= (int)sizeof(rec))
			n = (int)sizeof(rec) - 1;
		if (n > 0)
			(void)!write(d->report_fd, rec, (size_t)n + 1);
	} else if (d->use_syslog) {
		syslog(level == PFS_LOG_ERR ? LOG_ERR : LOG_WARNING, "%s: %s",
		       d->a->mountpoint, msg);
	} else if (d->cli_log && d->cli_log->fn) {
		d->cli_log->fn(d->cli_log->arg, level, msg);
	}
	pthread_mutex_unlock(&d->log_lock);
}

/* libfuse's levels are syslog's priorities. */
static void fuse_to_syslog(enum fuse_log_level level, const char *fmt,
			   va_list ap)
{
	vsyslog((int)level, fmt, ap);
}

static void report_ready(struct daemon *d)
{
	pthread_mutex_lock(&d->log_lock);
	d->ready = true;
	if (d->report_fd >= 0) {
		(void)!write(d->report_fd, "S", 2);
		close(d->report_fd);
		d->report_fd = -1;
	}
	pthread_mutex_unlock(&d->log_lock);
}

/* -i FIFO: open() waits for the reader, as the reference does. */
static void write_fifo(const struct pfs_log *log, const char *path, char c)
{
	struct stat st;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		pfs_logf(log, PFS_LOG_ERR, "%s: %s", path, strerror(errno));
		return;
	}
	if (fstat(fd, &st) || !S_ISFIFO(st.st_mode))
		pfs_logf(log, PFS_LOG_ERR, "%s: not a FIFO", path);
	else if (write(fd, &c, 1) != 1)
		pfs_logf(log, PFS_LOG_ERR, "%s: %s", path, strerror(errno));
	close(fd);
}

/* ---- mounting ----------------------------------------------------------- */

static int new_session(struct daemon *d)
{
	const struct pfs_fuse_args *a = d->a;
	struct pfs_buf opts = { 0 };
	char *argv[4], *name = NULL;
	struct fuse_args args;

	if (asprintf(&name, "%s:%s", a->oci_dir, a->tag) < 0)
		return -ENOMEM;
	if (pfs_mount_opts_libfuse(a->opts, name, &opts)) {
		free(name);
		pfs_buf_free(&opts);
		return -ENOMEM;
	}
	free(name);
	argv[0] = "puzzlefs";
	argv[1] = "-o";
	argv[2] = (char *)opts.data;
	argv[3] = NULL;
	args = (struct fuse_args)FUSE_ARGS_INIT(3, argv);
	d->se = fuse_session_new(&args, &pfs_fuse_ops, sizeof(pfs_fuse_ops),
				 &d->fs);
	fuse_opt_free_args(&args);
	pfs_buf_free(&opts);
	if (!d->se)
		return pfs_errf(&d->log, EINVAL, "cannot start a FUSE session");
	return 0;
}

/* mount(2) on /dev/fuse ourselves: no fusermount3 needed (minimal
 * systems), and the mount is named "OCI_DIR:TAG" of type fuse.puzzlefs.
 * 1: not permitted, let libfuse try. */
static int mount_direct(struct daemon *d)
{
	const struct pfs_fuse_args *a = d->a;
	const struct pfs_mount_opts *mo = a->opts;
	char data[4096], type[80], fdname[32], *source = NULL;
	int fd, n, e;

	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		if (e == EACCES || e == EPERM)
			return 1;
		return pfs_errf(&d->log, e, "/dev/fuse: %s%s", strerror(e),
				e == ENOENT ? " (no FUSE in this kernel?)" :
				"");
	}
	n = snprintf(data, sizeof(data),
		     "fd=%d,rootmode=%o,user_id=%u,group_id=%u%s%s%s%s", fd,
		     S_IFDIR, (unsigned)getuid(), (unsigned)getgid(),
		     mo->allow_other || mo->allow_root ? ",allow_other" : "",
		     mo->default_permissions ? ",default_permissions" : "",
		     mo->kernel.len ? "," : "",
		     mo->kernel.len ? (const char *)mo->kernel.data : "");
	snprintf(type, sizeof(type), "fuse.%s",
		 mo->subtype ? mo->subtype : "puzzlefs");
	if (mo->fsname)
		source = strdup(mo->fsname);
	else if (asprintf(&source, "%s:%s", a->oci_dir, a->tag) < 0)
		source = NULL;
	if (n < 0 || n >= (int)sizeof(data) || !source) {
		close(fd);
		free(source);
		return pfs_errf(&d->log, E2BIG, "mount options too long");
	}
	if (mount(source, a->mountpoint, type, mo->flags, data)) {
		e = errno;
		close(fd);
		free(source);
		if (e == EPERM)
			return 1;
		return pfs_errf(&d->log, e, "%s: cannot mount: %s",
				a->mountpoint, strerror(e));
	}
	free(source);
	d->direct = true;
	/* libfuse takes a /dev/fuse descriptor that is already mounted. */
	snprintf(fdname, sizeof(fdname), "/dev/fd/%d", fd);
	if (fuse_session_mount(d->se, fdname)) {
		umount2(a->mountpoint, MNT_DETACH);
		close(fd);
		return pfs_errf(&d->log, EIO, "%s: libfuse refused the mount",
				a->mountpoint);
	}
	return 0;
}

static int mount_fuse(struct daemon *d)
{
	struct pfs_mnt m;
	int r = 1;

	if (geteuid() == 0)
		r = mount_direct(d);
	if (r < 0)
		return r;
	if (r == 1 && fuse_session_mount(d->se, d->a->mountpoint))
		return pfs_errf(&d->log, EPERM, "%s: cannot mount (libfuse "
				"and fusermount3 failed)", d->a->mountpoint);
	/* Remember which mount is ours, to never unmount another one. */
	if (pfs_mountinfo_find(d->a->mountpoint, &m) == 1)
		d->dev = m.dev;
	return 0;
}

static int unmount_fuse(struct daemon *d)
{
	struct pfs_mnt m;

	if (d->direct || geteuid() == 0)
		return pfs_unmount_if(d->a->mountpoint, d->dev, true);
	if (pfs_mountinfo_find(d->a->mountpoint, &m) != 1)
		return 0;
	if (d->dev && m.dev != d->dev)
		return -EBUSY;
	return pfs_fusermount_unmount(d->a->mountpoint, true, &d->log);
}

/* Overlay first: it holds the FUSE mount busy. */
static int unmount_all(struct daemon *d)
{
	int e = 0;

	if (d->ovl_dev)
		e = pfs_unmount_if(d->a->overlay, d->ovl_dev, true);
	if (!e)
		e = unmount_fuse(d);
	if (e)
		pfs_logf(&d->log, PFS_LOG_ERR, "%s: cannot unmount: %s",
			 d->a->overlay && d->ovl_dev ? d->a->overlay :
			 d->a->mountpoint,
			 e == -EBUSY ? "another mount covers it" :
			 strerror(-e));
	return e;
}

/* Stop serving: unmounting ends the session loop.  When that is
 * impossible (another mount on top of ours) the process cannot stop
 * cleanly and just exits. */
static void stop(struct daemon *d)
{
	if (unmount_all(d) && !fuse_session_exited(d->se))
		_exit(1);
}

/* ---- serving ------------------------------------------------------------ */

static void stop_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
}

static void *signal_main(void *arg)
{
	struct daemon *d = arg;
	sigset_t set;
	int sig;

	stop_signals(&set);
	if (sigwait(&set, &sig) == 0)
		stop(d);
	return NULL;
}

/*
 * A first request through the kernel, answered from the root inode.  Not
 * a stat: attributes include link counts, which take a pass over the whole
 * image; and security.* xattrs are not subject to permission checks.
 */
static int probe(struct daemon *d)
{
	const char *mnt = d->a->mountpoint;

	if (lgetxattr(mnt, "security.puzzlefs.probe", NULL, 0) >= 0 ||
	    errno == ENODATA)
		return 0;
	return pfs_errf(&d->log, errno, "%s: the new mount does not answer: "
			"%s", mnt, strerror(errno));
}

/* Announce readiness once the kernel got an answer to INIT and to a
 * first request, after mounting the overlay of -w/-p. */
static void *notify_main(void *arg)
{
	struct daemon *d = arg;
	const struct pfs_fuse_args *a = d->a;
	struct pfs_mnt m;
	int e;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	if (!pfs_fs_wait_ready(&d->fs))
		return NULL;
	e = probe(d);
	if (!e && a->overlay) {
		e = pfs_overlay_mount(a->mountpoint, a->upper, a->work,
				      a->overlay, &d->log);
		if (!e && pfs_mountinfo_find(a->overlay, &m) == 1)
			d->ovl_dev = m.dev;
	}
	if (e) {
		d->status = 1;
		stop(d);
		return NULL;
	}
	report_ready(d);
	if (a->init_fifo) {
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		write_fifo(&d->log, a->init_fifo, 's');
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
	}
	return NULL;
}

static int serve(struct daemon *d)
{
	struct fuse_loop_config *cfg;
	pthread_t sig_thread, notifier;
	sigset_t set, old;
	int r = -ENOMEM;

	stop_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&sig_thread, NULL, signal_main, d)) {
		pfs_logf(&d->log, PFS_LOG_ERR, "cannot start a thread");
		unmount_all(d);
		return 1;
	}
	if (pthread_create(&notifier, NULL, notify_main, d)) {
		pfs_logf(&d->log, PFS_LOG_ERR, "cannot start a thread");
		d->status = 1;
		unmount_all(d);
	} else {
		cfg = fuse_loop_cfg_create();
		if (cfg)
			r = fuse_session_loop_mt(d->se, cfg);
		fuse_loop_cfg_destroy(cfg);
		pfs_fs_set_state(&d->fs, PFS_FS_ENDED);
		pthread_cancel(notifier);
		pthread_join(notifier, NULL);
	}
	pthread_cancel(sig_thread);
	pthread_join(sig_thread, NULL);
	if (r < 0) {
		pfs_logf(&d->log, PFS_LOG_ERR, "%s: FUSE session failed: %s",
			 d->a->mountpoint, strerror(-r));
		d->status = 1;
		unmount_all(d);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return d->status;
}

/* ---- background --------------------------------------------------------- */

static void finish(struct daemon *d)
{
	if (d->se)
		fuse_session_destroy(d->se);
	d->se = NULL;
	if (d->fs_ready)
		pfs_fs_destroy(&d->fs);
	d->fs_ready = false;
	pfs_image_close(d->img);
	d->img = NULL;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

/* The classic double fork: no controlling terminal, ever. */
static void __attribute__((noreturn)) daemon_child(struct daemon *d,
						   int report_fd)
{
	pid_t pid;
	int status;

	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid)
		_exit(pid < 0);
	if (chdir("/"))
		_exit(1);
	detach_stdio();
	openlog("puzzlefs", LOG_PID, LOG_USER);
	fuse_set_log_func(fuse_to_syslog);
	pthread_mutex_lock(&d->log_lock);
	d->report_fd = report_fd;
	d->use_syslog = true;
	pthread_mutex_unlock(&d->log_lock);
	status = serve(d);
	finish(d);
	closelog();
	exit(status);
}

/* Print the daemon's messages; true once it said the mount is ready. */
static bool wait_report(struct daemon *d, int fd)
{
	char buf[2 * PIPE_BUF], *end;
	size_t have = 0, used;
	bool ok = false, said = false;
	ssize_t n;

	while (!ok) {
		n = read(fd, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		while (!ok && (end = memchr(buf, 0, have))) {
			if (buf[0] == 'S') {
				ok = true;
			} else if (buf[0] == 'E' || buf[0] == 'W') {
				pfs_logf(&d->log, buf[0] == 'E' ? PFS_LOG_ERR :
					 PFS_LOG_WARN, "%s", buf + 1);
				said = true;
			}
			used = (size_t)(end + 1 - buf);
			memmove(buf, end + 1, have - used);
			have -= used;
		}
		if (have == sizeof(buf))
			have = 0;	/* not a record of ours */
	}
	if (!ok && !said)
		pfs_logf(&d->log, PFS_LOG_ERR, "%s: the daemon exited before "
			 "the mount was ready", d->a->mountpoint);
	return ok;
}

/* After a failed start: take away what the daemon may have left. */
static void cleanup_failed(struct daemon *d)
{
	const struct pfs_fuse_args *a = d->a;
	struct pfs_mnt over, fuse;

	if (a->overlay && pfs_mountinfo_find(a->overlay, &over) == 1 &&
	    !strcmp(over.fstype, "overlay") &&
	    pfs_mountinfo_find(a->mountpoint, &fuse) == 1 &&
	    fuse.dev == d->dev)
		umount2(a->overlay, MNT_DETACH);
	unmount_fuse(d);
}

static int run_background(struct daemon *d)
{
	int p[2], st;
	pid_t pid;
	bool ok;

	if (pipe2(p, O_CLOEXEC)) {
		pfs_logf(&d->log, PFS_LOG_ERR, "pipe: %s", strerror(errno));
		unmount_fuse(d);
		return 1;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		pfs_logf(&d->log, PFS_LOG_ERR, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		unmount_fuse(d);
		return 1;
	}
	if (pid == 0) {
		close(p[0]);
		daemon_child(d, p[1]);
	}
	close(p[1]);
	/* The daemon alone holds the connection now. */
	fuse_session_destroy(d->se);
	d->se = NULL;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	ok = wait_report(d, p[0]);
	close(p[0]);
	if (ok)
		return 0;
	cleanup_failed(d);
	return 1;
}

/* ---- entry -------------------------------------------------------------- */

/*
 * A mount without a root directory would only fail later: say it now
 * (this decodes the root and its first entry).  The tree's shape is
 * decided at mount too, as extract and fsck decide it: an image with a
 * directory named twice (a cycle, which makes every tree walk endless)
 * or deeper than PFS_MAX_DEPTH is not mounted (pfs_image_check's walk is
 * the one the link counts need, made now instead of at the first stat).
 */
static int check_root(struct daemon *d)
{
	struct pfs_dirent_info ent;
	uint64_t pos = 0;
	int e = pfs_readdir(d->img, PFS_ROOT_INODE, &pos, &ent);

	if (e < 0)
		return pfs_errf(&d->log, -e, "%s:%s: no root directory: %s",
				d->a->oci_dir, d->a->tag, strerror(-e));
	return pfs_image_check(d->img);
}

int pfs_fuse_main(const struct pfs_fuse_args *a, const struct pfs_log *log)
{
	struct daemon d = { .a = a, .cli_log = log, .report_fd = -1,
			    .status = 0 };
	struct pfs_image_opts io = { .log = &d.log,
				     .manifest_verity = a->verity,
				     .cache_bytes = a->opts->cache_bytes };
	int status = 1;

	d.log.fn = daemon_log;
	d.log.arg = &d;
	pthread_mutex_init(&d.log_lock, NULL);
	if (pfs_image_open(a->oci_dir, a->tag, &io, &d.img) || check_root(&d))
		goto out;
	pfs_fs_init(&d.fs, d.img, &d.log, a->opts->flags & MS_RDONLY);
	d.fs_ready = true;
	if (new_session(&d) || mount_fuse(&d))
		goto out;
	status = a->foreground ? serve(&d) : run_background(&d);
out:
	/* Foreground, or the command after a background start failed. */
	if (status && a->init_fifo && !d.ready)
		write_fifo(&d.log, a->init_fifo, 'f');
	finish(&d);
	pthread_mutex_destroy(&d.log_lock);
	return status;
}
