// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the OCI JSON documents as the library reads them
 * (lib/store/oci.c): the bytes as index.json (parse, then look up a tag the
 * way `OCI_DIR:TAG` does) and as an image manifest (rootfs and chunk
 * descriptors).  Whatever the bytes, each must end in a result or an
 * error with a message (a tag lookup gives the same answer twice), and
 * what a success returns must hold together.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/oci.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void count(void *arg, int level, const char *msg)
{
	(void)level;
	if (!*msg)
		abort();		/* an error names what went wrong */
	++*(int *)arg;
}

static int messages(const struct pfs_oci *oci)
{
	return *(int *)oci->log->arg;
}

/* The tag as a tree of the whole index finds it (pfs_oci_index_find). */
static int tree_find(struct pfs_oci *oci, const uint8_t *data, size_t size,
		     const char *tag, struct pfs_desc *d)
{
	json_t *index;
	int e;

	e = pfs_oci_index_parse(oci, data, size, &index);
	if (e)
		return e;
	if (!json_is_array(json_object_get(index, "manifests")))
		abort();
	e = pfs_oci_index_find(oci, index, tag, d);
	json_decref(index);
	return e;
}

/* The streaming scan (what the library uses) agrees with the tree. */
static void index_twice(struct pfs_oci *oci, const uint8_t *data, size_t size)
{
	static const char *const tags[] = { "t", "v0", "latest", "" };
	struct pfs_desc a, b, c;
	size_t i;

	for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
		int before = messages(oci);
		int ea = pfs_oci_index_lookup(oci, data, size, tags[i], &a);
		int eb = pfs_oci_index_lookup(oci, data, size, tags[i], &b);
		int ec = tree_find(oci, data, size, tags[i], &c);

		if (ea != eb || (!ea && memcmp(&a, &b, sizeof(a))))
			abort();
		if (ea && ea != -EINVAL && ea != -ENOENT && ea != -ENOMEM)
			abort();
		if (ea && ea != -ENOMEM && messages(oci) == before)
			abort();	/* an error says why */
		/* What the tree finds, the scan finds.  (The tree may refuse
		 * more: jansson's nesting limit counts from the document's
		 * top, the scan's from each descriptor.) */
		if (ec != -ENOMEM && ea != -ENOMEM && !ec &&
		    (ea || memcmp(&a, &c, sizeof(a))))
			abort();
		if (!ea && ec && ec != -EINVAL && ec != -ENOMEM)
			abort();
	}
}

static void manifest(struct pfs_oci *oci, const uint8_t *data, size_t size)
{
	struct pfs_manifest m;
	volatile uint64_t sum = 0;
	size_t i;
	int e;

	e = pfs_manifest_parse(oci, data, size, "manifest", &m);
	if (e) {
		if (e != -EINVAL && e != -ENOMEM)
			abort();
		if (m.chunks || m.chunk_zstd || m.nchunks)
			abort();	/* nothing left behind on failure */
		return;
	}
	/* Touch every element: ASan checks the arrays hold nchunks. */
	for (i = 0; i < m.nchunks; i++)
		sum += m.chunks[i].size + m.chunk_zstd[i];
	(void)sum;
	pfs_manifest_free(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int messages = 0;
	struct pfs_log log = { count, &messages };
	struct pfs_oci oci = { .root_fd = -1, .blobs_fd = -1,
			       .path = (char *)"fuzz", .log = &log };
	uint8_t *copy = malloc(size ? size : 1);

	/* An exact-size copy: ASan catches a read one byte past the end. */
	memcpy(copy, data, size);
	index_twice(&oci, copy, size);
	manifest(&oci, copy, size);
	free(copy);
	return 0;
}
