/* SPDX-License-Identifier: MIT */
/*
 * TLS material of a registry, as containers-certs.d(5) lays it out: in a
 * certificate directory, every *.crt is a CA trusted in addition to the
 * system's, and a *.cert with the *.key of the same name is the client
 * certificate.  Without --cert-dir, /etc/containers/certs.d/HOST[:PORT] and
 * /etc/docker/certs.d/HOST[:PORT] are used when they exist.
 */
#ifndef PUZZLEFS_REMOTE_TLS_H
#define PUZZLEFS_REMOTE_TLS_H

#include "util.h"

struct pfs_tls {
	struct pfs_buf ca;		/* PEM: system bundle + *.crt; empty:
					 * curl's default store */
	char *cert, *key;		/* client certificate files, or NULL */
};

/* Load @dir (NULL: the default directories of @host).  A directory that
 * does not exist is an error only when it was given. */
int pfs_tls_load(struct pfs_tls *t, const char *dir, const char *host,
		 const struct pfs_log *log);
void pfs_tls_free(struct pfs_tls *t);

#endif
