/* SPDX-License-Identifier: MIT */
/*
 * Image references as skopeo's docker transport names them:
 * docker://HOST[:PORT]/REPO[:TAG|@DIGEST] (TAG and DIGEST together: the
 * digest wins).  The grammar is distribution's reference grammar: the
 * first component is the host if it holds a '.' or a ':' or is
 * "localhost", else the image is on Docker Hub (docker.io, "library/" for
 * a one-component name).  No tag and no digest means "latest".
 */
#ifndef PUZZLEFS_REMOTE_REFERENCE_H
#define PUZZLEFS_REMOTE_REFERENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define PFS_REF_HOST_MAX 262		/* host name 253, ":" port */
#define PFS_REF_NAME_MAX 255		/* host/repo */
#define PFS_REF_TAG_MAX 128

struct pfs_ref {
	char host[PFS_REF_HOST_MAX + 1];	/* as named: "docker.io" */
	char repo[PFS_REF_NAME_MAX + 1];
	char tag[PFS_REF_TAG_MAX + 1];		/* "" when by digest */
	bool by_digest;
	uint8_t digest[PFS_DIGEST_SIZE];
};

#define PFS_REF_PREFIX "docker://"

/* Parse @s (with or without "docker://"); -EINVAL with a message saying
 * what is wrong. */
int pfs_ref_parse(const char *s, struct pfs_ref *ref, const struct pfs_log *log);
/* Is @s a valid repository name (path components, no host)? */
bool pfs_ref_valid_repo(const char *s);
/* Is @s a valid tag? */
bool pfs_ref_valid_tag(const char *s);
/* The host the registry API is served from (Docker Hub's differs). */
const char *pfs_ref_api_host(const struct pfs_ref *ref);
/* "HOST/REPO:TAG" or "HOST/REPO@sha256:HEX", for messages. */
void pfs_ref_format(const struct pfs_ref *ref, char *out, size_t size);
/* The tag, or "sha256:HEX": what goes after /manifests/. */
void pfs_ref_target(const struct pfs_ref *ref, char *out, size_t size);

#endif
