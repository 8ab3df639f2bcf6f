/* SPDX-License-Identifier: MIT */
/*
 * In-memory rootfs as the builder assembles it, and its encoder into a
 * deterministic single-segment Cap'n Proto message.
 */
#ifndef PUZZLEFS_MODEL_H
#define PUZZLEFS_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct pfs_mxattr {
	uint8_t *key, *val;
	uint32_t key_len, val_len;
};

struct pfs_mdirent {
	uint64_t ino;
	uint8_t *name;
	uint32_t name_len;
};

struct pfs_mchunk {
	uint8_t digest[PFS_DIGEST_SIZE];
	uint64_t offset, len;
	bool compressed;
};

struct pfs_minode {
	uint64_t ino;
	uint16_t kind, perm;
	uint32_t uid, gid;
	int64_t mtime_sec;		/* with has_mtime */
	uint32_t mtime_nsec;
	bool has_mtime;
	uint64_t major, minor;
	bool look_below;
	struct pfs_mdirent *ents;
	uint32_t nents, ents_cap;
	struct pfs_mchunk *chunks;
	uint32_t nchunks, chunks_cap;
	bool has_additional;
	struct pfs_mxattr *xattrs;
	uint32_t nxattrs;
	uint8_t *target;
	uint32_t target_len;
	bool has_target;
};

struct pfs_mlayer {
	struct pfs_minode *inodes;	/* ascending ino */
	size_t count;
};

struct pfs_mverity {
	uint8_t digest[PFS_DIGEST_SIZE];
	uint8_t verity[PFS_DIGEST_SIZE];
};

int pfs_rootfs_encode(const struct pfs_mlayer *layers, size_t nlayers,
		      const struct pfs_mverity *verity, size_t nverity,
		      struct pfs_buf *out);

void pfs_minode_free(struct pfs_minode *in);
void pfs_mlayer_free(struct pfs_mlayer *l);

int pfs_minode_add_dirent(struct pfs_minode *dir, uint64_t ino,
			  const uint8_t *name, uint32_t len);
int pfs_minode_add_chunk(struct pfs_minode *f, const struct pfs_mchunk *c);

#endif
