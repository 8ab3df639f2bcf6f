/* SPDX-License-Identifier: MIT */
/*
 * Registry authentication: where credentials come from, and the pieces of
 * the protocol a client parses (WWW-Authenticate challenges, token
 * responses).  Passwords and tokens live only here and in the
 * Authorization values made from them: no message carries them, and their
 * memory is wiped when freed.
 */
#ifndef PUZZLEFS_REMOTE_AUTH_H
#define PUZZLEFS_REMOTE_AUTH_H

#include <stdbool.h>
#include <stdint.h>

#include "util.h"

#define PFS_TOKEN_MAX (64u << 10)

struct pfs_creds {
	char *user, *pass;		/* NULL: anonymous */
};

/*
 * Credentials for @host (and @repo, for auth files that name repositories,
 * the most specific entry winning): @creds ("USER[:PASS]", --creds) if
 * given; else @authfile if given; else the first of $REGISTRY_AUTH_FILE,
 * $XDG_RUNTIME_DIR/containers/auth.json (/run/containers/UID/auth.json
 * without it), $XDG_CONFIG_HOME/containers/auth.json, ~/.docker/config.json
 * that has an entry.  No entry anywhere: 0 with no user.  A file that
 * cannot be read or parsed (other than one that does not exist): error.
 */
int pfs_creds_find(const char *creds, const char *authfile, const char *host,
		   const char *repo, struct pfs_creds *out,
		   const struct pfs_log *log);
void pfs_creds_free(struct pfs_creds *c);

/* The entry for @host/@repo in an auth file's bytes (@what names the file
 * in messages): 1 found, 0 none, -EINVAL malformed. */
int pfs_authfile_lookup(const uint8_t *data, size_t len, const char *host,
			const char *repo, const char *what,
			struct pfs_creds *out, const struct pfs_log *log);

/* "Basic base64(user:pass)" in a new string, or NULL. */
char *pfs_basic_auth(const struct pfs_creds *c);

enum pfs_auth_scheme { PFS_AUTH_NONE, PFS_AUTH_BASIC, PFS_AUTH_BEARER };

struct pfs_challenge {
	enum pfs_auth_scheme scheme;
	char *realm, *service, *scope, *error;
};

/* The challenge of a WWW-Authenticate value we can answer: Bearer if it
 * offers one, else Basic; -EINVAL if it is malformed or offers neither. */
int pfs_challenge_parse(const char *value, struct pfs_challenge *c);
void pfs_challenge_free(struct pfs_challenge *c);

/* A token server's answer: the token ("token" or "access_token",
 * printable ASCII, at most PFS_TOKEN_MAX) and its lifetime in seconds
 * ("expires_in", 60 when absent or smaller, as the protocol says);
 * -EINVAL with @why set if it is not one. */
int pfs_token_parse(const uint8_t *data, size_t len, char **token,
		    uint64_t *lifetime_s, const char **why);

#endif
