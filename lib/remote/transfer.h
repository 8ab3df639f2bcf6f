/* SPDX-License-Identifier: MIT */
/*
 * What push and pull share: a window of blobs in flight (the caller's
 * thread starts them, their last callback on the engine thread ends
 * them), the first error, the counts and the progress reports.
 */
#ifndef PUZZLEFS_REMOTE_TRANSFER_H
#define PUZZLEFS_REMOTE_TRANSFER_H

#include <pthread.h>
#include <stdbool.h>

#include "remote/registry.h"

/* Set on a tag pulled from a registry: "HOST/REPO", where push may mount
 * its blobs from. */
#define PFS_ANNOT_PULLED_FROM "io.puzzlefsoci.puzzlefs.pulled_from"

/* Work a callback leaves for the caller's thread (which may block:
 * committing a blob to the store). */
struct pfs_xfer_item {
	struct pfs_xfer_item *next;
	void (*fn)(struct pfs_xfer_item *it);
};

struct pfs_xfer {
	pthread_mutex_t m;
	pthread_cond_t cv;
	size_t outstanding;
	int err;			/* the first failure */
	struct pfs_transfer_stats st;	/* under @m */
	const struct pfs_transfer_opts *o;
	struct pfs_registry *reg;
	uint64_t next_report;
	struct pfs_xfer_item *ready, **ready_tail;
};

void pfs_xfer_init(struct pfs_xfer *x, const struct pfs_transfer_opts *o);
void pfs_xfer_destroy(struct pfs_xfer *x);
/* Wait (reporting progress) until fewer than @window are in flight, then
 * count one more; false if a blob failed meanwhile (nothing counted). */
bool pfs_xfer_start(struct pfs_xfer *x, size_t window);
/* A blob is dealt with: @err 0 or its failure, @bytes of it, @how one of
 * the counters (&x->st.present, .moved, .mounted) or NULL. */
void pfs_xfer_end(struct pfs_xfer *x, int err, uint64_t bytes,
		  uint64_t *how, uint64_t moved_bytes);
/* From a callback: run @it on the caller's thread, at its next wait (the
 * blob stays in flight until @it ends it). */
void pfs_xfer_defer(struct pfs_xfer *x, struct pfs_xfer_item *it);
/* Wait for everything in flight; the first error or 0. */
int pfs_xfer_wait(struct pfs_xfer *x);
/* Copy the counts (with the session's request counts) to the caller's
 * stats and give a last progress report. */
void pfs_xfer_finish(struct pfs_xfer *x);

/* The window of blobs a session keeps started: enough to keep every
 * transfer slot busy while completions come back. */
size_t pfs_xfer_window(const struct pfs_remote_opts *o);

#endif
