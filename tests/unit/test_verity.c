// SPDX-License-Identifier: MIT
/* fs-verity digests: vectors checked with `fsverity digest`. */
#include "util.h"
#include "check.h"

/* Trees of one to three levels, with full and partial last blocks: data
 * byte i is (i * 131) ^ (i >> 12), digests from `fsverity digest
 * --hash-alg=sha256 --block-size=4096` (fsverity-utils 1.5). */
static const struct {
	size_t len;
	const char *hex;
} TREES[] = {
	{ 4096, "0d5fa6409d4b558cae4fb7fd1e06719f23b827c810519a104556c55134466f70" },
	{ 4097, "faaec20dc4ef7167925eab47ddde944e4ba519e04a824ed4e1492f456e162e37" },
	{ 4096 * 128, "9b40c45a13d7b31d8d7f47527534a10edf699383908909abcd69db2bcbf21e63" },
	{ 4096 * 128 + 1, "9922e5035a8a55684f4ea314e4bb622ccc9953d4cd3ee68ae11487a90e005f48" },
	{ 4096 * 129, "f469d8469e3843250df5a9d9555bfad1632ef77aa866cd96f714b007b047f40f" },
	{ 4096 * 128 * 128, "d7c04330e4f88bb230cdea2e562f572b539da6236b3437fdb10c86dd226110f5" },
	{ 4096 * 128 * 128 + 4097, "4cbf732fd07d9e7710fdb4db1fa61cfcb965cf82599b758d7e563d657bbba2df" },
};

static void trees(void)
{
	size_t max = TREES[sizeof(TREES) / sizeof(TREES[0]) - 1].len, i;
	uint8_t d[PFS_DIGEST_SIZE], *data = malloc(max);

	CHECK(data != NULL);
	for (i = 0; i < max; i++)
		data[i] = (uint8_t)((i * 131) ^ (i >> 12));
	for (i = 0; i < sizeof(TREES) / sizeof(TREES[0]); i++) {
		CHECK(pfs_verity_digest(data, TREES[i].len, d) == 0);
		CHECK_HEX(d, 32, TREES[i].hex);
	}
	free(data);
}

int main(void)
{
	uint8_t d[PFS_DIGEST_SIZE];
	size_t n;
	uint8_t *jpg = read_fixture("SekienAkashita.jpg", &n);

	trees();
	pfs_verity_digest(jpg, n, d);
	CHECK_HEX(d, 32, "3d57915768b0151c164196cee1d8a1c48a20149a40d3b3a9e7ac97350919340a");
	pfs_verity_digest("", 0, d);
	CHECK_HEX(d, 32, "3d248ca542a24fc62d1c43b916eae5016878e2533c88238480b26128a1f1af95");
	pfs_verity_digest("meshuggah rocks", 15, d);
	CHECK_HEX(d, 32, "1a194a268a7afc10cea811e499e1dcb3e55db4b386dea180c62fa4f7e9590b57");
	pfs_verity_digest("{}", 2, d);
	CHECK_HEX(d, 32, "7f943a505c946ab0b3bc97afd3ab20cc376b16a0560b1da6f9abf5f6086d4515");
	pfs_sha256("meshuggah rocks", 15, d);
	CHECK_HEX(d, 32, "3abd5ce0f91f640d88dca1f26b37037b02415927cacec9626d87668a715ec12d");
	free(jpg);
	return check_done("verity");
}
