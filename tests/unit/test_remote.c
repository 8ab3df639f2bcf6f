// SPDX-License-Identifier: MIT
/* lib/remote/'s parsers: references, challenges, tokens, auth files,
 * header values, error bodies, manifests' descriptors. */
#include <errno.h>
#include <stdlib.h>

#include "remote/auth.h"
#include "remote/http.h"
#include "remote/reference.h"
#include "remote/registry.h"
#include "check.h"

#define ZEROS "sha256:0000000000000000000000000000000000000000000000000000000000000000"

static void ref_ok(const char *s, const char *host, const char *repo,
		   const char *tag, bool by_digest)
{
	struct pfs_ref r;

	CHECK(pfs_ref_parse(s, &r, NULL) == 0);
	if (strcmp(r.host, host) || strcmp(r.repo, repo) || strcmp(r.tag, tag) ||
	    r.by_digest != by_digest) {
		fprintf(stderr, "%s -> %s %s %s %d\n", s, r.host, r.repo, r.tag,
			r.by_digest);
		check_failures++;
	}
}

static void references(void)
{
	static const char *const bad[] = {
		"docker://", "docker://h.x/", "docker://h.x/Upper", "docker://h.x/a//b",
		"docker://h.x/a:", "docker://h.x/a:-t", "docker://h.x/a@sha256:00",
		"docker://h.x/a@md5:0123456789abcdef0123456789abcdef",
		"docker://h.x:0/a", "docker://h.x:70000/a", "docker://h-.x/a",
		"docker://h.x/a_", "docker://h.x/a___b", "docker://h x/a",
		"docker://h.x/a?b", "docker://[]/a", "docker://u:pw@h.x/a",
	};
	size_t i;
	struct pfs_ref r;
	char s[300];

	ref_ok("docker://127.0.0.1:5000/ns/repo:v1", "127.0.0.1:5000", "ns/repo",
	       "v1", false);
	ref_ok("registry.example/a.b__c-d/e", "registry.example", "a.b__c-d/e",
	       "latest", false);
	ref_ok("docker://localhost/x", "localhost", "x", "latest", false);
	ref_ok("docker://busybox", "docker.io", "library/busybox", "latest", false);
	ref_ok("docker://user/img:1", "docker.io", "user/img", "1", false);
	ref_ok("docker://[::1]:5000/x:t", "[::1]:5000", "x", "t", false);
	ref_ok("docker://h.x/a:t@" ZEROS, "h.x", "a", "", true);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!pfs_ref_parse(bad[i], &r, NULL)) {
			fprintf(stderr, "accepted %s\n", bad[i]);
			check_failures++;
		}
	}
	pfs_ref_parse("docker://h.x/a@" ZEROS, &r, NULL);
	pfs_ref_format(&r, s, sizeof(s));
	CHECK(!strcmp(s, "h.x/a@" ZEROS));
	CHECK(!strcmp(pfs_ref_api_host(&r), "h.x"));
	pfs_ref_parse("busybox", &r, NULL);
	CHECK(!strcmp(pfs_ref_api_host(&r), "registry-1.docker.io"));
}

static void challenges(void)
{
	struct pfs_challenge c;

	CHECK(pfs_challenge_parse("Bearer realm=\"https://a/token\",service="
				  "\"reg\",scope=\"repository:x/y:pull,push\"",
				  &c) == 0);
	CHECK(c.scheme == PFS_AUTH_BEARER && !strcmp(c.realm, "https://a/token") &&
	      !strcmp(c.service, "reg") &&
	      !strcmp(c.scope, "repository:x/y:pull,push"));
	pfs_challenge_free(&c);
	CHECK(pfs_challenge_parse("Basic realm=\"r\", Bearer realm=\"https://t\", "
				  "error=insufficient_scope", &c) == 0);
	CHECK(c.scheme == PFS_AUTH_BEARER && !strcmp(c.realm, "https://t") &&
	      !strcmp(c.error, "insufficient_scope"));
	pfs_challenge_free(&c);
	CHECK(pfs_challenge_parse("basic realm=\"a \\\"b\\\"\"", &c) == 0);
	CHECK(c.scheme == PFS_AUTH_BASIC && !strcmp(c.realm, "a \"b\""));
	pfs_challenge_free(&c);
	CHECK(pfs_challenge_parse("Negotiate", &c) == -EINVAL);
	CHECK(pfs_challenge_parse("Bearer service=x", &c) == -EINVAL);
	CHECK(pfs_challenge_parse("Bearer realm=\"unterminated", &c) == -EINVAL);
	CHECK(pfs_challenge_parse("Bearer realm=\"a\x01\"", &c) == -EINVAL);
	CHECK(pfs_challenge_parse("", &c) == -EINVAL);
}

static void tokens(void)
{
	const char *why;
	uint64_t life;
	char *t;

#define TOKEN(json) pfs_token_parse((const uint8_t *)(json), strlen(json), \
				    &t, &life, &why)
	CHECK(TOKEN("{\"token\":\"a.b-c_d\",\"expires_in\":300}") == 0);
	CHECK(!strcmp(t, "a.b-c_d") && life == 300);
	free(t);
	CHECK(TOKEN("{\"access_token\":\"x==\",\"expires_in\":5}") == 0);
	CHECK(!strcmp(t, "x==") && life == 60);	/* at least 60 s */
	free(t);
	CHECK(TOKEN("{\"token\":\"\",\"access_token\":\"y\"}") == 0 && life == 60);
	free(t);
	CHECK(TOKEN("{\"token\":\"a\\r\\nX-Evil: 1\"}") == -EINVAL && !t);
	CHECK(TOKEN("{\"token\":\"a b\"}") == -EINVAL);
	CHECK(TOKEN("{\"token\":\"=a\"}") == -EINVAL);
	CHECK(TOKEN("{\"token\":\"a\",\"expires_in\":\"60\"}") == -EINVAL);
	CHECK(TOKEN("[]") == -EINVAL);
	CHECK(TOKEN("{}") == -EINVAL);
#undef TOKEN
}

static void auth_files(void)
{
	/* dXNlcjpwYXNz = user:pass, bnM6cHc6eA== = ns:pw:x, eDp5 = x:y */
	const char *f = "{\"auths\":{\"r.x:5000\":{\"auth\":\"dXNlcjpwYXNz\"},"
			"\"r.x:5000/ns\":{\"auth\":\"bnM6cHc6eA==\"},"
			"\"https://index.docker.io/v1/\":{\"auth\":\"eDp5\"},"
			"\"r.x:5000/nsx\":{\"username\":\"u\",\"password\":\"p\"}}}";
	struct pfs_creds c;
	char *b;

#define LOOK(host, repo) pfs_authfile_lookup((const uint8_t *)f, strlen(f), \
					     host, repo, "t", &c, NULL)
	CHECK(LOOK("r.x:5000", "other/repo") == 1 && !strcmp(c.user, "user") &&
	      !strcmp(c.pass, "pass"));
	b = pfs_basic_auth(&c);
	CHECK(b && !strcmp(b, "Basic dXNlcjpwYXNz"));
	free(b);
	pfs_creds_free(&c);
	CHECK(LOOK("r.x:5000", "ns/repo") == 1 && !strcmp(c.user, "ns") &&
	      !strcmp(c.pass, "pw:x"));
	pfs_creds_free(&c);
	CHECK(LOOK("r.x:5000", "nsx") == 1 && !strcmp(c.user, "u"));
	pfs_creds_free(&c);
	CHECK(LOOK("docker.io", "library/x") == 1 && !strcmp(c.user, "x"));
	pfs_creds_free(&c);
	CHECK(LOOK("r.x", "a") == 0 && !c.user);
	CHECK(LOOK("r.x:50000", "a") == 0);
	f = "{\"auths\":{\"r.x\":{\"auth\":\"bm9jb2xvbg==\"}}}";	/* nocolon */
	CHECK(LOOK("r.x", "a") == -EINVAL && !c.user);
	f = "{\"auths\":[]}";
	CHECK(LOOK("r.x", "a") == -EINVAL);
#undef LOOK
}

static void headers(void)
{
	uint64_t a = 0, b = 0;
	char *u = NULL;

	CHECK(pfs_http_content_range("bytes 10-19/100", &a, &b) == 0 && a == 10 &&
	      b == 19);
	CHECK(pfs_http_content_range("bytes 0-0/*", &a, &b) == 0 && !a && !b);
	CHECK(pfs_http_content_range("bytes 5-4/100", &a, &b) == -EINVAL);
	CHECK(pfs_http_content_range("bytes 0-100/100", &a, &b) == -EINVAL);
	CHECK(pfs_http_content_range("bytes */100", &a, &b) == -EINVAL);
	CHECK(pfs_http_content_range("bytes 0-99999999999999999999/1", &a, &b) ==
	      -EINVAL);
	CHECK(pfs_reg_upload_range("0-1023", &a) == 0 && a == 1023);
	CHECK(pfs_reg_upload_range("bytes=0-5", &a) == 0 && a == 5);
	CHECK(pfs_reg_upload_range("1-5", &a) == -EINVAL);
	CHECK(pfs_reg_upload_range("0--1", &a) == -EINVAL);
	CHECK(pfs_http_retry_after("7") == 7 && pfs_http_retry_after(" 0 ") == 0);
	CHECK(pfs_http_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == -1);
	CHECK(pfs_http_resolve("https://r.x:5000/v2/a/blobs/uploads/",
			       "/v2/a/blobs/uploads/u?_state=s", &u) == 0 &&
	      !strcmp(u, "https://r.x:5000/v2/a/blobs/uploads/u?_state=s"));
	free(u);
	CHECK(pfs_http_resolve("https://r.x/v2/a/b", "c?d=1", &u) == 0 &&
	      !strcmp(u, "https://r.x/v2/a/c?d=1"));
	free(u);
	CHECK(pfs_http_resolve("https://r.x/", "ftp://r.x/f", &u) == -EINVAL && !u);
	CHECK(pfs_http_resolve("https://r.x/", "/a\r\nX: y", &u) == -EINVAL);
	CHECK(pfs_http_resolve("https://r.x/", "", &u) == -EINVAL);
	CHECK(pfs_http_same_origin("https://r.x/a", "https://R.X:443/b"));
	CHECK(!pfs_http_same_origin("https://r.x/a", "http://r.x/a"));
	CHECK(!pfs_http_same_origin("https://r.x/a", "https://r.x:444/a"));
	CHECK(!pfs_http_same_origin("https://r.x/a", "https://s3.r.x/a"));
}

static void errors(void)
{
	const char *body = "{\"errors\":[{\"code\":\"MANIFEST_BLOB_UNKNOWN\","
			   "\"message\":\"blob unknown\",\"detail\":\"" ZEROS "\"},"
			   "{\"code\":\"DENIED\",\"message\":\"no\\u001b[31m\"}]}";
	uint8_t unknown[2][PFS_DIGEST_SIZE];
	char words[256];
	size_t n;

	CHECK(pfs_reg_errors_parse((const uint8_t *)body, strlen(body), words,
				   sizeof(words), unknown, 2, &n) == 0);
	CHECK(n == 1);
	CHECK(!strcmp(words, "MANIFEST_BLOB_UNKNOWN: blob unknown (" ZEROS
		      "); DENIED: no?[31m"));
	CHECK(pfs_reg_errors_has((const uint8_t *)body, strlen(body), "DENIED"));
	CHECK(!pfs_reg_errors_has((const uint8_t *)body, strlen(body), "NO"));
	CHECK(pfs_reg_errors_parse((const uint8_t *)"<html>", 6, words,
				   sizeof(words), NULL, 0, NULL) == -EINVAL);
}

static void descriptors(void)
{
	const char *m = "{\"schemaVersion\":2,\"mediaType\":"
			"\"application/vnd.oci.image.manifest.v1+json\","
			"\"config\":{\"digest\":\"" ZEROS "\",\"size\":2},"
			"\"layers\":[{\"digest\":\"sha256:1111111111111111111111111111111111111111111111111111111111111111\",\"size\":5},"
			"{\"digest\":\"" ZEROS "\",\"size\":2}]}";
	struct pfs_reg_desc *d;
	const char *why;
	size_t n;

	CHECK(pfs_reg_manifest_descs((const uint8_t *)m, strlen(m), &d, &n,
				     &why) == 0);
	CHECK(n == 2 && d[0].config && !d[1].config && d[1].size == 5);
	free(d);
	m = "{\"schemaVersion\":2,\"config\":{\"digest\":\"" ZEROS "\",\"size\":2},"
	    "\"layers\":[{\"digest\":\"" ZEROS "\",\"size\":3}]}";
	CHECK(pfs_reg_manifest_descs((const uint8_t *)m, strlen(m), &d, &n,
				     &why) == -EINVAL && strstr(why, "sizes"));
	m = "{\"schemaVersion\":2,\"manifests\":[]}";
	CHECK(pfs_reg_manifest_descs((const uint8_t *)m, strlen(m), &d, &n,
				     &why) == -EINVAL && strstr(why, "index"));
	m = "{\"schemaVersion\":2,\"mediaType\":\"" PFS_MEDIA_DOCKER_MANIFEST "\"}";
	CHECK(pfs_reg_manifest_descs((const uint8_t *)m, strlen(m), &d, &n,
				     &why) == -EINVAL && strstr(why, "Docker"));
	m = "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha512:00\",\"size\":2},"
	    "\"layers\":[]}";
	CHECK(pfs_reg_manifest_descs((const uint8_t *)m, strlen(m), &d, &n,
				     &why) == -EINVAL && strstr(why, "sha256"));
}

int main(void)
{
	references();
	challenges();
	tokens();
	auth_files();
	headers();
	errors();
	descriptors();
	return check_done("test_remote");
}
