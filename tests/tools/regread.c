// SPDX-License-Identifier: MIT
/*
 * regread: the registry client's read API as a lazy mount and import use
 * it (lib/remote/registry.h), driven by the tests against a real registry.
 *
 *   regread [OPTIONS] HOST REPO DIGEST RANGE...
 *     RANGE  OFF:LEN, read with pfs_reg_blob_read() by one of --threads
 *            threads (round robin), each printed as a JSON line
 *            {"off", "len", "got", "sha256"} or {"off", "err"}
 *   regread [OPTIONS] --stream SIZE HOST REPO DIGEST
 *            read the blob with pfs_reg_stream_read() in --piece bytes
 *            with --pause-us between reads; prints {"got", "sha256"} or
 *            {"err"}
 * Options: --cert-dir DIR, -j N (transfers at once), --threads N,
 * --timeout MS, --prefetch (PFS_PRIO_PREFETCH instead of DEMAND),
 * --stall-ms MS (the engine's stall limit), --attempts N.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "remote/registry.h"

struct range {
	uint64_t off, len;
	ssize_t got;
	uint8_t sha[PFS_DIGEST_SIZE];
};

struct job {
	struct pfs_registry *reg;
	const char *repo;
	uint8_t digest[PFS_DIGEST_SIZE];
	struct range *r;
	size_t n, next;
	pthread_mutex_t m;
	enum pfs_http_prio prio;
	unsigned timeout;
};

static void *reader(void *arg)
{
	struct job *j = arg;

	for (;;) {
		struct range *r;
		uint8_t *buf;

		pthread_mutex_lock(&j->m);
		r = j->next < j->n ? &j->r[j->next++] : NULL;
		pthread_mutex_unlock(&j->m);
		if (!r)
			return NULL;
		buf = malloc(r->len ? r->len : 1);
		r->got = buf ? pfs_reg_blob_read(j->reg, j->repo, j->digest,
						 r->off, r->len, buf, j->prio,
						 j->timeout) : -ENOMEM;
		if (r->got >= 0)
			pfs_sha256(buf, (size_t)r->got, r->sha);
		free(buf);
	}
}

static void log_err(void *arg, int level, const char *msg)
{
	(void)arg;
	if (level <= PFS_LOG_WARN)
		fprintf(stderr, "regread: %s\n", msg);
}

static int stream(struct pfs_registry *reg, const char *repo,
		  const uint8_t *digest, uint64_t size, size_t piece,
		  unsigned pause_us)
{
	struct pfs_reg_stream *s;
	struct pfs_sha256_ctx *c = pfs_sha256_new();
	uint8_t *buf = malloc(piece), sha[PFS_DIGEST_SIZE];
	char hex[2 * PFS_DIGEST_SIZE + 1];
	uint64_t got = 0;
	ssize_t n;
	int e;

	e = pfs_reg_stream_open(reg, repo, digest, size, PFS_PRIO_NORMAL, &s);
	if (e) {
		printf("{\"err\":%d}\n", -e);
		return 1;
	}
	while ((n = pfs_reg_stream_read(s, buf, piece)) > 0) {
		pfs_sha256_update(c, buf, (size_t)n);
		got += (uint64_t)n;
		if (pause_us)
			usleep(pause_us);
	}
	pfs_reg_stream_close(s);
	pfs_sha256_final(c, sha);
	pfs_sha256_free(c);
	free(buf);
	if (n < 0) {
		printf("{\"err\":%d,\"got\":%llu}\n", (int)-n,
		       (unsigned long long)got);
		return 1;
	}
	pfs_hex(sha, PFS_DIGEST_SIZE, hex);
	printf("{\"got\":%llu,\"sha256\":\"%s\"}\n", (unsigned long long)got, hex);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "cert-dir", required_argument, NULL, 'C' },
		{ "threads", required_argument, NULL, 't' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "prefetch", no_argument, NULL, 'P' },
		{ "stall-ms", required_argument, NULL, 'S' },
		{ "attempts", required_argument, NULL, 'A' },
		{ "stream", required_argument, NULL, 's' },
		{ "piece", required_argument, NULL, 'p' },
		{ "pause-us", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct pfs_log log = { log_err, NULL };
	struct pfs_remote_opts ro = { .log = &log };
	struct job j = { .prio = PFS_PRIO_DEMAND };
	struct pfs_reg_scope scope;
	unsigned threads = 1, pause_us = 0, i;
	uint64_t stream_size = 0;
	size_t piece = 4096;
	bool by_stream = false;
	pthread_t *tids;
	int c, e, status = 0;

	while ((c = getopt_long(argc, argv, "j:", opts, NULL)) != -1) {
		switch (c) {
		case 'C': ro.cert_dir = optarg; break;
		case 'j': ro.jobs = (unsigned)atoi(optarg); break;
		case 't': threads = (unsigned)atoi(optarg); break;
		case 'T': j.timeout = (unsigned)atoi(optarg); break;
		case 'P': j.prio = PFS_PRIO_PREFETCH; break;
		case 'S': ro.stall_ms = (unsigned)atoi(optarg); break;
		case 'A': ro.attempts = (unsigned)atoi(optarg); break;
		case 's': by_stream = true; stream_size = strtoull(optarg, NULL, 10); break;
		case 'p': piece = strtoul(optarg, NULL, 10); break;
		case 'u': pause_us = (unsigned)atoi(optarg); break;
		default: return 2;
		}
	}
	if (argc - optind < 3 || !threads || !piece ||
	    pfs_parse_digest(argv[optind + 2], j.digest))
		return 2;
	j.repo = argv[optind + 1];
	scope = (struct pfs_reg_scope){ j.repo, false };
	e = pfs_registry_open(argv[optind], &scope, 1, &ro, &j.reg);
	if (e)
		return 1;
	if (by_stream) {
		status = stream(j.reg, j.repo, j.digest, stream_size, piece,
				pause_us);
		pfs_registry_close(j.reg);
		return status;
	}
	j.n = (size_t)(argc - optind - 3);
	j.r = calloc(j.n + 1, sizeof(*j.r));
	tids = calloc(threads, sizeof(*tids));
	pthread_mutex_init(&j.m, NULL);
	for (i = 0; i < j.n; i++) {
		char *colon;

		j.r[i].off = strtoull(argv[optind + 3 + i], &colon, 10);
		if (*colon != ':')
			return 2;
		j.r[i].len = strtoull(colon + 1, NULL, 10);
	}
	for (i = 0; i < threads; i++)
		pthread_create(&tids[i], NULL, reader, &j);
	for (i = 0; i < threads; i++)
		pthread_join(tids[i], NULL);
	for (i = 0; i < j.n; i++) {
		char hex[2 * PFS_DIGEST_SIZE + 1];

		if (j.r[i].got < 0) {
			printf("{\"off\":%llu,\"err\":%d}\n",
			       (unsigned long long)j.r[i].off, (int)-j.r[i].got);
			status = 1;
			continue;
		}
		pfs_hex(j.r[i].sha, PFS_DIGEST_SIZE, hex);
		printf("{\"off\":%llu,\"len\":%llu,\"got\":%zd,\"sha256\":\"%s\"}\n",
		       (unsigned long long)j.r[i].off,
		       (unsigned long long)j.r[i].len, j.r[i].got, hex);
	}
	pfs_registry_close(j.reg);
	free(j.r);
	free(tids);
	return status;
}
