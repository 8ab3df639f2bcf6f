/* SPDX-License-Identifier: MIT */
/*
 * The registry client (OCI distribution spec 1.1), for push, pull, the
 * lazy mount and tar-layer import.
 *
 * A session (struct pfs_registry) talks to one registry host.  Opening it
 * finds the credentials (--creds, --authfile, the auth files), loads the
 * TLS material (--cert-dir or certs.d), starts the transfer engine
 * (http.h: one curl multi handle on a thread of its own, persistent
 * connections, HTTP/2 when offered, bounded parallelism by priority,
 * retries, redirects) and pings /v2/ to learn how the registry
 * authenticates: anonymous, Basic, or Bearer tokens.  For tokens it asks
 * the token server for every scope declared at open (repository:R:pull or
 * pull,push) and for what later challenges ask; a token is refreshed when
 * it expires or the registry refuses it, once per request, while the
 * requests that need it wait (none is sent twice with the old one).
 * Credentials and tokens never reach a message.
 *
 * Requests are calls (struct pfs_reg_call): a prepared HTTP request plus a
 * completion.  Prepare one with a helper below (or pfs_reg_call_init for
 * any path), then either
 *   - pfs_reg_submit(): asynchronous; call->done runs once, on the engine
 *     thread, and must not block (it may submit more calls); or
 *   - pfs_reg_run(): synchronous, from any thread but the engine's.
 * Results are in call->req (err, status, headers, errbody); when a call
 * failed, pfs_reg_failure() logs why in words (the registry's error codes,
 * what a 401/403/404/413 means) and returns a negative errno.
 *
 * Users:
 *   - push.c and pull.c submit thousands of calls (HEAD, GET, POST, PUT,
 *     PATCH) and wait for them in a window;
 *   - a lazy mount calls pfs_reg_blob_read() from many FUSE threads:
 *     one blob or a Range of it, into a buffer, with a priority
 *     (PFS_PRIO_DEMAND for reads, PFS_PRIO_PREFETCH for the background)
 *     and a timeout; the engine bounds the parallelism and keeps demand
 *     reads ahead of prefetch;
 *   - import streams a tar layer with pfs_reg_stream_open/read/close: a
 *     blocking reader (libarchive's read callback) over a transfer that
 *     pauses when the reader falls behind, its sha256 checked at the end.
 * Every function returns 0 (or a count) or a negative errno, with a
 * message on the session's log for failures the caller cannot explain
 * better (pfs_reg_call_init and the synchronous helpers log; asynchronous
 * calls leave the words to pfs_reg_failure).
 */
#ifndef PUZZLEFS_REMOTE_REGISTRY_H
#define PUZZLEFS_REMOTE_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "remote/http.h"
#include "remote/reference.h"
#include "util.h"

#define PFS_MEDIA_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define PFS_MEDIA_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define PFS_MEDIA_DOCKER_MANIFEST \
	"application/vnd.docker.distribution.manifest.v2+json"
#define PFS_MEDIA_DOCKER_LIST \
	"application/vnd.docker.distribution.manifest.list.v2+json"
/* What a manifest GET accepts unless told otherwise. */
#define PFS_REG_ACCEPT_ALL PFS_MEDIA_OCI_MANIFEST ", " PFS_MEDIA_OCI_INDEX \
	", " PFS_MEDIA_DOCKER_MANIFEST ", " PFS_MEDIA_DOCKER_LIST
/* Registries keep manifests under 4 MiB; we read up to this much. */
#define PFS_REG_MANIFEST_MAX (16u << 20)

/* A repository the session will use, and whether it pushes there. */
struct pfs_reg_scope {
	const char *repo;
	bool push;
};

struct pfs_registry;

int pfs_registry_open(const char *host, const struct pfs_reg_scope *scopes,
		      size_t nscopes, const struct pfs_remote_opts *opts,
		      struct pfs_registry **out);
/* Cancels what is still running (its calls complete with -ECANCELED). */
void pfs_registry_close(struct pfs_registry *reg);
const char *pfs_registry_host(const struct pfs_registry *reg);
const struct pfs_log *pfs_registry_log(const struct pfs_registry *reg);
void pfs_registry_stats(struct pfs_registry *reg, struct pfs_http_stats *st);

struct reg_waiter;

struct pfs_reg_call {
	struct pfs_http_req req;	/* the request, then its results */
	void (*done)(struct pfs_reg_call *c);
	void *arg;
	/* private */
	struct pfs_registry *reg;
	unsigned auth_gen, auth_tries;
	struct pfs_reg_call *parked;
	struct reg_waiter *waiter;
};

/* A call of @method on the registry's @path (printf-style, after the
 * host: "/v2/..."), or an absolute URL the registry gave (a Location). */
int pfs_reg_call_init(struct pfs_reg_call *c, struct pfs_registry *reg,
		      const char *method, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void pfs_reg_call_clear(struct pfs_reg_call *c);
void pfs_reg_submit(struct pfs_reg_call *c);
int pfs_reg_run(struct pfs_reg_call *c);
/* End a submitted call soon (-ECANCELED) if it has not ended: done runs
 * either way.  @c must stay alive until its done. */
void pfs_reg_cancel(struct pfs_reg_call *c);
/* Resume a call whose sink paused it. */
void pfs_reg_unpause(struct pfs_reg_call *c);
/* Log why @c failed (transport error or HTTP status), naming @what; the
 * errno that goes with it. */
int pfs_reg_failure(struct pfs_reg_call *c, const char *what);
/* The errno an HTTP status stands for (0 for 2xx). */
int pfs_reg_status_errno(long status);

/* ---- blobs ------------------------------------------------------------------- */

/* HEAD /v2/REPO/blobs/DIGEST: 200 present, 404 absent. */
int pfs_reg_blob_head(struct pfs_reg_call *c, struct pfs_registry *reg,
		      const char *repo, const uint8_t *digest);
/* GET a blob, or @len bytes of it from @off (@len 0: to its end), into
 * @sink (see http.h); redirects to storage followed. */
int pfs_reg_blob_get(struct pfs_reg_call *c, struct pfs_registry *reg,
		     const char *repo, const uint8_t *digest, uint64_t off,
		     uint64_t len, pfs_http_sink sink, void *sink_arg);
/* Synchronous: @len bytes of blob @digest from @off into @buf; the
 * count read (less only at the blob's end) or a negative errno
 * (-ETIMEDOUT after @timeout_ms, 0: none).  Bytes are not verified here:
 * the caller checks what it assembles (a whole blob's sha256, or a pack
 * index's per-chunk digest). */
ssize_t pfs_reg_blob_read(struct pfs_registry *reg, const char *repo,
			  const uint8_t *digest, uint64_t off, size_t len,
			  void *buf, enum pfs_http_prio prio,
			  unsigned timeout_ms);

/* A blob as a stream of verified bytes: reads block until data arrives;
 * the read that reaches the end returns 0 only once the whole blob is
 * @size bytes and matches @digest (else -EIO, logged). */
struct pfs_reg_stream;
int pfs_reg_stream_open(struct pfs_registry *reg, const char *repo,
			const uint8_t *digest, uint64_t size,
			enum pfs_http_prio prio, struct pfs_reg_stream **out);
ssize_t pfs_reg_stream_read(struct pfs_reg_stream *s, void *buf, size_t len);
void pfs_reg_stream_close(struct pfs_reg_stream *s);

/* ---- manifests ------------------------------------------------------------- */

struct pfs_reg_manifest {
	struct pfs_buf data;
	char media_type[128];		/* Content-Type, or the JSON's */
	uint8_t digest[PFS_DIGEST_SIZE];	/* sha256 of @data */
};

/*
 * GET /v2/REPO/manifests/TARGET (a tag or "sha256:HEX") accepting
 * @accept (NULL: PFS_REG_ACCEPT_ALL), at most PFS_REG_MANIFEST_MAX bytes.
 * The digest is computed; it must equal Docker-Content-Digest when the
 * registry sends one, and TARGET when that is a digest.  -ENOENT (logged)
 * if there is no such manifest.
 */
int pfs_reg_manifest_get(struct pfs_registry *reg, const char *repo,
			 const char *target, const char *accept,
			 struct pfs_reg_manifest *out);
void pfs_reg_manifest_free(struct pfs_reg_manifest *m);
/* HEAD: 1 and its digest (Docker-Content-Digest; 0 digest if the
 * registry sends none), 0 if absent (quiet), or a negative errno. */
int pfs_reg_manifest_head(struct pfs_registry *reg, const char *repo,
			  const char *target, const char *accept,
			  uint8_t digest[PFS_DIGEST_SIZE]);
/* PUT @data (of @media_type, sha256 @digest) under TARGET.  A refusal
 * is returned as is (the call's results in @c, which the caller clears),
 * for the caller to explain: err 0 and c->req.status not 201. */
int pfs_reg_manifest_put(struct pfs_reg_call *c, struct pfs_registry *reg,
			 const char *repo, const char *target,
			 const char *media_type, const void *data, size_t len);

/* ---- response parsers (fuzzed: tests/fuzz/fuzz_registry.c) ---------------- */

/* A registry error body ({"errors": [{"code", "message", "detail"}]}) in
 * words, printable ASCII only, into @out; the digests that
 * MANIFEST_BLOB_UNKNOWN / BLOB_UNKNOWN errors name go into @unknown (at
 * most @max; their count in *@nunknown).  -EINVAL if it is not one. */
int pfs_reg_errors_parse(const uint8_t *body, size_t len, char *out,
			 size_t size, uint8_t (*unknown)[PFS_DIGEST_SIZE],
			 size_t max, size_t *nunknown);
/* An upload session's Range header ("0-N", or "bytes=0-N"): N, the last
 * byte it holds; -EINVAL if it is not one. */
int pfs_reg_upload_range(const char *v, uint64_t *last);
/* Does the error body carry @code? */
bool pfs_reg_errors_has(const uint8_t *body, size_t len, const char *code);

/* Descriptors of an image manifest, as push and pull move them. */
struct pfs_reg_desc {
	uint8_t digest[PFS_DIGEST_SIZE];
	uint64_t size;
	bool config;
};

/*
 * The blobs an OCI image manifest names: its config and every layer
 * (duplicates dropped, first one kept), sha256 only, sizes checked;
 * -EINVAL with @why (static text) if @data is not an OCI image manifest
 * (image indexes, Docker manifests and other documents are refused with
 * a @why that says which they are).
 */
int pfs_reg_manifest_descs(const uint8_t *data, size_t len,
			   struct pfs_reg_desc **descs, size_t *n,
			   const char **why);

#endif
