/* SPDX-License-Identifier: MIT */
/*
 * Where an import's tar layers come from.  A source is a list of layers
 * (each with what its source says it is: media type, digest and size of
 * the blob, uncompressed digest from the config's rootfs.diff_ids), the
 * image config if it has one, and a way to open each layer as a byte
 * stream, as many times as asked (import --flatten reads each twice).
 *
 * Sources here: an OCI image layout (oci:DIR[:TAG]), a docker-archive
 * (docker-archive:FILE[:REF]), a single layer file, and an image in a
 * registry (docker://), whose layers are streams of blob bodies; the layer
 * reader (layer.c) checks what every stream hashes to.
 */
#ifndef PUZZLEFS_IMPORT_SOURCE_H
#define PUZZLEFS_IMPORT_SOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/* A byte stream: read() returns bytes, 0 at the end, or a negative errno
 * (and has said why on the log). */
struct pfs_stream {
	ssize_t (*read)(struct pfs_stream *s, void *buf, size_t len);
	void (*close)(struct pfs_stream *s);
};

/* A stream over an open file descriptor (owned by the stream). */
int pfs_stream_fd(int fd, struct pfs_stream **out);

struct pfs_src_layer {
	char *name;			/* for messages: "layer 2 (sha256:...)" */
	char *media_type;		/* NULL: not given (a layer file) */
	bool has_digest;		/* sha256 and size of the blob as stored */
	uint8_t digest[PFS_DIGEST_SIZE];
	uint64_t size;			/* UINT64_MAX: unknown */
	bool has_diff_id;		/* sha256 of the uncompressed tar */
	uint8_t diff_id[PFS_DIGEST_SIZE];
};

struct pfs_src;

struct pfs_src_ops {
	/* Open layer @i (0 is the bottom one) from its start. */
	int (*open_layer)(struct pfs_src *s, size_t i, struct pfs_stream **out);
	void (*free)(struct pfs_src *s);
};

struct pfs_src {
	const struct pfs_src_ops *ops;
	const struct pfs_log *log;
	struct pfs_src_layer *layers;	/* bottom first */
	size_t nlayers;
	json_t *config;			/* the image config; NULL: none */
};

/*
 * SOURCE as the import command takes it: "oci:DIR[:TAG]",
 * "docker-archive:FILE[:NAME:TAG|:@N]" (split at the first ':' as skopeo
 * does), or the path of one layer file.  @platform ("OS/ARCH[/VARIANT]",
 * NULL: the host's) picks an image out of an image index.
 */
int pfs_src_open(const char *spec, const char *platform,
		 const struct pfs_remote_opts *remote,
		 const struct pfs_log *log, struct pfs_src **out);
void pfs_src_free(struct pfs_src *s);

int pfs_src_oci(const char *dir, const char *tag, const char *platform,
		const struct pfs_log *log, struct pfs_src **out);
int pfs_src_docker_archive(const char *file, const char *ref,
			   const struct pfs_log *log, struct pfs_src **out);
int pfs_src_layer_file(const char *file, const struct pfs_log *log,
		       struct pfs_src **out);
/* docker://HOST[:PORT]/REPO[:TAG|@DIGEST] through the registry client
 * (@remote: credentials, TLS; NULL: the defaults). */
int pfs_src_registry(const char *spec, const char *platform,
		     const struct pfs_remote_opts *remote,
		     const struct pfs_log *log, struct pfs_src **out);

/* ---- helpers the sources share (source.c) -------------------------------- */

/* Layer media types an import reads (compression is found from the bytes,
 * not from the name). */
bool pfs_src_layer_type_ok(const char *media_type);
/* A layer's entry: name, and digest/size/diff_id as the source gives them. */
int pfs_src_add_layer(struct pfs_src *s, const char *name,
		      const char *media_type, const uint8_t *digest,
		      uint64_t size);
/* Take each layer's diff_id from the config's rootfs.diff_ids (which must
 * list one per layer). @what names the config in messages. */
int pfs_src_diff_ids(struct pfs_src *s, const char *what);
/* What pfs_src_resolve calls the config when it asks for it. */
#define PFS_SRC_CONFIG "image config"
/* Reads the JSON document (manifest, index, config) descriptor @desc
 * names, checked against it; @what names it in messages. */
typedef int (*pfs_src_read_doc)(struct pfs_src *s, json_t *desc,
				const char *what, json_t **out);
/*
 * From @desc (or @doc, the document it names, when the caller has it
 * already) through any image index (the entry for @platform) to the image
 * manifest: its layers, its config (s->config) and diff_ids.  @where names
 * the source in messages.
 */
int pfs_src_resolve(struct pfs_src *s, const char *where,
		    pfs_src_read_doc read_doc, json_t *desc, json_t *doc,
		    const char *platform);
/* Does an image index entry's platform object match "OS/ARCH[/VARIANT]"
 * (NULL: the host's)? */
bool pfs_platform_match(json_t *platform, const char *want);
/* A file opened for reading, refused unless it is a regular file. */
int pfs_src_open_file(const char *path, const struct pfs_log *log);
void pfs_src_base_free(struct pfs_src *s);

#endif
