// SPDX-License-Identifier: MIT
/* RFC 8785 canonical JSON. */
#include "json.h"
#include "check.h"

static void canon(const char *in, const char *want)
{
	struct pfs_buf b = { 0 };
	json_error_t e;
	json_t *v = json_loads(in, JSON_DECODE_ANY, &e);

	CHECK(v != NULL);
	if (!v)
		return;
	CHECK(pfs_json_canonical(v, &b) == 0);
	pfs_buf_add(&b, "", 1);
	if (strcmp((char *)b.data, want)) {
		fprintf(stderr, "canonical(%s) = %s, expected %s\n", in,
			(char *)b.data, want);
		check_failures++;
	}
	pfs_buf_free(&b);
	json_decref(v);
}

int main(void)
{
	canon("{ \"b\" : 1, \"a\" : [ true, false, null ] }",
	      "{\"a\":[true,false,null],\"b\":1}");
	/* Keys sort by UTF-16 code units: U+20AC < U+1F600 (D83D) < U+FB33. */
	canon("{\"\\ufb33\":3,\"\\ud83d\\ude00\":2,\"\\u20ac\":1}",
	      "{\"\xe2\x82\xac\":1,\"\xf0\x9f\x98\x80\":2,\"\xef\xac\xb3\":3}");
	canon("\"\\u0001\\n\\t\\\"\\\\\\/\\u007f\\u00e9\"",
	      "\"\\u0001\\n\\t\\\"\\\\/\x7f\xc3\xa9\"");
	canon("[1e30,4.5,0.002,1e-7,123456789012,-0.5,1.5e21,3.0,1e21]",
	      "[1e+30,4.5,0.002,1e-7,123456789012,-0.5,1.5e+21,3,1e+21]");
	canon("[333333333.33333329, 1E-6, 0.000001, 9007199254740993]",
	      "[333333333.3333333,0.000001,0.000001,9007199254740993]");
	/* The OCI layout file and an empty index, as the reference writes. */
	canon("{\"imageLayoutVersion\": \"1.0.0\"}",
	      "{\"imageLayoutVersion\":\"1.0.0\"}");
	canon("{\"schemaVersion\":2,\"manifests\":[]}",
	      "{\"manifests\":[],\"schemaVersion\":2}");
	return check_done("json");
}
