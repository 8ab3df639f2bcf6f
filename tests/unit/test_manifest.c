// SPDX-License-Identifier: MIT
/*
 * core/manifest.c, the kernel driver's bounded JSON scan of an image
 * manifest: the reference's manifests, key order and escapes, unknown
 * fields, malformed JSON, and agreement with jansson (the library's parser)
 * on every truncation of a real manifest.
 */
#include <jansson.h>

#include "../../core/manifest.h"
#include "util.h"
#include "check.h"

#define ROOTFS_HEX "8c56094777bac29bd35b803bae4083da59623c71b960531299b87a9b27d1b95f"
#define VERITY_HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OTHER_HEX "1111111111111111111111111111111111111111111111111111111111111111"

static int scan(const char *json, struct pfs_manifest_rootfs *r)
{
	return pfs_manifest_find_rootfs((const u8 *)json, strlen(json), r);
}

static void want_rootfs(const char *json, const char *digest, uint64_t size,
			const char *verity)
{
	struct pfs_manifest_rootfs r;
	int e = scan(json, &r);

	if (e) {
		fprintf(stderr, "scan failed (%d): %s\n", e, json);
		check_failures++;
		return;
	}
	CHECK_HEX(r.digest, 32, digest);
	CHECK_EQ_U64(r.size, size);
	CHECK(r.has_verity == (verity != NULL));
	if (verity)
		CHECK_HEX(r.verity, 32, verity);
}

static void want_error(const char *json, int err)
{
	struct pfs_manifest_rootfs r;
	int e = scan(json, &r);

	if (e != err) {
		fprintf(stderr, "scan gave %d, expected %d: %s\n", e, err, json);
		check_failures++;
	}
}

/* The reference's manifests: the rootfs digest DIGESTS.txt records. */
static void reference_manifests(void)
{
	static const struct { const char *manifest, *rootfs; } tags[] = {
		{ "dc5705ea63f855930932d181ea07e22f677a4f0e86bd148b19573b187d67e4fd",
		  "8c56094777bac29bd35b803bae4083da59623c71b960531299b87a9b27d1b95f" },
		{ "f495c3bd399126c34a3d9af07d5fb569b368a1e02b65e95f1fc194873dbbe30f",
		  "93e325912dfb92d762d75e3f5cd902e44749cd0ecbd95928f709a45442c97079" },
		{ "633ebf05fa79f557b4b226aa54c3ac302267e36b6b794b1f76d3dfcf552b5946",
		  "ce63d208fa1e89529b4e2c5aa3fb6497180a18159e6042e3e01738c6ad63ee09" },
		{ "3f4751aaec217ea544b66617945a953286f0aa0ca852c5ee3c3e8d9cdaf19c37",
		  "a65a2b274b1cad91b0595f54910c8855d8cc0f24a1fa5cddacae7db1d23ad57e" },
	};
	size_t t;

	for (t = 0; t < sizeof(tags) / sizeof(tags[0]); t++) {
		struct pfs_manifest_rootfs r;
		char rel[200];
		unsigned char *buf;
		size_t len, cut;
		json_t *j;

		snprintf(rel, sizeof(rel), "reference-images/demo/blobs/sha256/%s",
			 tags[t].manifest);
		buf = read_fixture(rel, &len);
		CHECK(pfs_manifest_find_rootfs(buf, len, &r) == 0);
		CHECK_HEX(r.digest, 32, tags[t].rootfs);
		CHECK(r.has_verity);
		j = json_loadb((char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
		CHECK(j != NULL);
		CHECK_EQ_U64(r.size, json_integer_value(json_object_get(
			json_array_get(json_object_get(j, "layers"), 0), "size")));
		json_decref(j);
		/* Every proper prefix is invalid JSON, for jansson and for us. */
		for (cut = 0; cut < len; cut++) {
			bool ok = pfs_manifest_find_rootfs(buf, cut, &r) == 0;

			j = json_loadb((char *)buf, cut, 0, NULL);
			CHECK(!ok && !j);
			json_decref(j);
		}
		free(buf);
	}
}

int main(void)
{
	const char *rootfs_layer =
		"{\"annotations\":{\"io.puzzlefsoci.puzzlefs.puzzlefs_verity_root_hash\":\""
		VERITY_HEX "\"},\"digest\":\"sha256:" ROOTFS_HEX "\","
		"\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\",\"size\":1234}";
	char buf[4096];

	reference_manifests();

	/* Canonical manifest, rootfs first. */
	snprintf(buf, sizeof(buf),
		 "{\"config\":{\"data\":\"e30=\",\"digest\":\"sha256:" OTHER_HEX "\","
		 "\"mediaType\":\"application/vnd.oci.empty.v1+json\",\"size\":2},"
		 "\"layers\":[%s,{\"digest\":\"sha256:" OTHER_HEX "\","
		 "\"mediaType\":\"application/vnd.puzzlefs.image.filedata.v1\","
		 "\"size\":5}],\"schemaVersion\":2}", rootfs_layer);
	want_rootfs(buf, ROOTFS_HEX, 1234, VERITY_HEX);

	/* Rootfs not first, keys in another order, whitespace, unknown
	 * fields of every JSON type, escaped media type. */
	want_rootfs(" {\n \"schemaVersion\" : 2 , \"extra\": [1, -2.5e3, true,"
		    " false, null, {\"a\": [[], {}]}, \"s\\\"\\u00e9\"],\n"
		    " \"layers\" : [ {\"mediaType\": \"application/vnd.puzzlefs."
		    "image.filedata.v1\", \"digest\": \"sha256:" OTHER_HEX "\","
		    " \"size\": 9}, { \"size\" : 77, \"x\": {\"y\": [null]},"
		    " \"digest\" : \"sha256:" ROOTFS_HEX "\", \"mediaType\" :"
		    " \"application\\/vnd.puzzlefs.image.rootfs.v1\" } ] }\r\n",
		    ROOTFS_HEX, 77, NULL);

	/* The first rootfs layer wins; later ones may even be malformed. */
	want_rootfs("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		    "\"digest\":\"sha256:" ROOTFS_HEX "\",\"size\":1},"
		    "{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		    "\"digest\":\"nope\",\"size\":2}]}", ROOTFS_HEX, 1, NULL);

	/* No rootfs layer. */
	want_error("{\"layers\":[]}", -ENOENT);
	want_error("{\"schemaVersion\":2}", -ENOENT);
	want_error("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1+zstd\","
		   "\"digest\":\"sha256:" ROOTFS_HEX "\",\"size\":1}]}", -ENOENT);

	/* Malformed rootfs descriptors. */
	want_error("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		   "\"digest\":\"sha256:" ROOTFS_HEX "\"}]}", -PFS_ECORRUPT);
	want_error("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		   "\"digest\":\"sha256:" ROOTFS_HEX "\",\"size\":-1}]}", -PFS_ECORRUPT);
	want_error("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		   "\"digest\":\"sha256:" ROOTFS_HEX "\",\"size\":1.5}]}", -PFS_ECORRUPT);
	want_error("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		   "\"digest\":\"sha256:" ROOTFS_HEX "\",\"size\":18446744073709551616}]}",
		   -PFS_ECORRUPT);
	want_error("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		   "\"digest\":\"sha512:" ROOTFS_HEX "\",\"size\":1}]}", -PFS_ECORRUPT);
	want_error("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		   "\"digest\":\"sha256:8C56094777bac29bd35b803bae4083da59623c71b960531299b87a9b27d1b95f\","
		   "\"size\":1}]}", -PFS_ECORRUPT);
	want_error("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		   "\"digest\":\"sha256:" ROOTFS_HEX "\",\"size\":1,\"annotations\":"
		   "{\"io.puzzlefsoci.puzzlefs.puzzlefs_verity_root_hash\":\"abc\"}}]}",
		   -PFS_ECORRUPT);
	/* Repeated keys the scan relies on are refused (jansson's
	 * JSON_REJECT_DUPLICATES does the same in the library). */
	want_error("{\"layers\":[{\"mediaType\":\"application/vnd.puzzlefs.image.rootfs.v1\","
		   "\"digest\":\"sha256:" OTHER_HEX "\",\"digest\":\"sha256:" ROOTFS_HEX "\","
		   "\"size\":1}]}", -PFS_ECORRUPT);
	want_error("{\"layers\":[],\"layers\":[]}", -PFS_ECORRUPT);

	/* Malformed JSON. */
	want_error("", -PFS_ECORRUPT);
	want_error("[]", -PFS_ECORRUPT);
	want_error("{\"layers\":{}}", -PFS_ECORRUPT);
	want_error("{\"layers\":[],}", -PFS_ECORRUPT);
	want_error("{\"layers\":[1,]}", -PFS_ECORRUPT);
	want_error("{\"a\":01}", -PFS_ECORRUPT);
	want_error("{\"a\":1.}", -PFS_ECORRUPT);
	want_error("{\"a\":\"\\x\"}", -PFS_ECORRUPT);
	want_error("{\"a\":\"\\u12g4\"}", -PFS_ECORRUPT);
	want_error("{\"a\":\"tab\there\"}", -PFS_ECORRUPT);
	want_error("{\"a\":tru}", -PFS_ECORRUPT);
	want_error("{\"a\":[}", -PFS_ECORRUPT);
	want_error("{\"a\":{\"b\"}}", -PFS_ECORRUPT);
	want_error("{\"layers\":[]} x", -PFS_ECORRUPT);
	want_error("{\"layers\":[]}{}", -PFS_ECORRUPT);

	/* Nesting: 64 levels in all are fine, 65 are not. */
	{
		char deep[300];
		int d;

		for (d = 63; d <= 64; d++) {
			int n = 0, i;

			n += sprintf(deep + n, "{\"a\":");
			for (i = 0; i < d; i++)
				deep[n++] = '[';
			for (i = 0; i < d; i++)
				deep[n++] = ']';
			sprintf(deep + n, "}");
			want_error(deep, d == 63 ? -ENOENT : -PFS_ECORRUPT);
		}
	}
	return check_done("manifest");
}
