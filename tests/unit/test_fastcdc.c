// SPDX-License-Identifier: MIT
/* FastCDC v2020: fastcdc-rs 3.0.0's own test vectors. */
#include <openssl/evp.h>

#include "write/fastcdc.h"
#include "write/fastcdc_gear.h"
#include "util.h"
#include "check.h"

struct cut {
	uint64_t hash;
	size_t len;
};

static void vector(const uint8_t *data, size_t n, uint32_t min, uint32_t avg,
		   uint32_t max, unsigned level, const struct cut *want,
		   size_t nwant)
{
	struct pfs_cdc_params p;
	size_t off = 0, i = 0;

	CHECK(pfs_cdc_params_init(&p, min, avg, max, level) == 0);
	while (off < n) {
		uint64_t h;
		size_t rem = n - off;
		size_t len = pfs_cdc_cut(&p, data + off, rem > max ? max : rem, &h);

		CHECK(i < nwant);
		if (i < nwant) {
			CHECK_EQ_U64(len, want[i].len);
			CHECK_EQ_U64(h, want[i].hash);
		}
		off += len;
		i++;
	}
	CHECK_EQ_U64(i, nwant);
}

static void gear_table(void)
{
	unsigned char block[64], md[16];
	unsigned int mdlen;
	int i, j;

	for (i = 0; i < 256; i++) {
		uint64_t v = 0;

		memset(block, i, sizeof(block));
		EVP_Digest(block, sizeof(block), md, &mdlen, EVP_md5(), NULL);
		for (j = 0; j < 8; j++)
			v = v << 8 | md[j];
		CHECK_EQ_U64(pfs_gear[i], v);
	}
}

int main(void)
{
	static const struct cut nc1_16k[] = {
		{ 17968276318003433923ull, 21325 }, { 8197189939299398838ull, 17140 },
		{ 13019990849178155730ull, 28084 }, { 4509236223063678303ull, 18217 },
		{ 2504464741100432583ull, 24700 },
	};
	static const struct cut nc1_32k[] = {
		{ 15733367461443853673ull, 66549 }, { 6321136627705800457ull, 42917 },
	};
	static const struct cut puzzlefs[] = { { 2504464741100432583ull, 109466 } };
	static const struct cut nc0[] = {
		{ 443122261039895162ull, 6634 }, { 15733367461443853673ull, 59915 },
		{ 10460176299449652894ull, 25597 }, { 6197802202431009942ull, 5237 },
		{ 6321136627705800457ull, 12083 },
	};
	static const struct cut nc3[] = {
		{ 10718006254707412376ull, 17350 }, { 13104072099671895560ull, 19911 },
		{ 12322483109039221194ull, 17426 }, { 16009206469796846404ull, 17519 },
		{ 2473608525189754172ull, 19940 }, { 2504464741100432583ull, 17320 },
	};
	struct cut zeros[10];
	struct pfs_cdc_params p;
	uint8_t *z = calloc(10240, 1);
	size_t n, i;
	uint8_t *jpg = read_fixture("SekienAkashita.jpg", &n);

	CHECK_EQ_U64(n, 109466);
	gear_table();
	vector(jpg, n, 4096, 16384, 65535, 1, nc1_16k, 5);
	vector(jpg, n, 8192, 32768, 131072, 1, nc1_32k, 2);
	vector(jpg, n, 16384, 65536, 262144, 1, puzzlefs, 1);
	vector(jpg, n, 4096, 16384, 65535, 0, nc0, 5);
	vector(jpg, n, 8192, 16384, 32768, 3, nc3, 6);
	for (i = 0; i < 10; i++) {
		zeros[i].hash = 14169102344523991076ull;
		zeros[i].len = 1024;
	}
	vector(z, 10240, 64, 256, 1024, 1, zeros, 10);

	/* The masks for the PuzzleFS parameters. */
	CHECK(pfs_cdc_params_init(&p, 16384, 65536, 262144, 1) == 0);
	CHECK_EQ_U64(p.mask_s, 0x0000d90703537000ull);
	CHECK_EQ_U64(p.mask_l, 0x0000d90f03530000ull);
	/* Out-of-range parameters are refused, never asserted on. */
	CHECK(pfs_cdc_params_init(&p, 10, 65536, 262144, 1) < 0);
	CHECK(pfs_cdc_params_init(&p, 16384, 65536, 262144, 4) < 0);
	free(jpg);
	free(z);
	return check_done("fastcdc");
}
