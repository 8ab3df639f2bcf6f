// SPDX-License-Identifier: MIT
/* fs-verity digests: vectors checked with `fsverity digest`. */
#include "../../lib/util.h"
#include "check.h"

int main(void)
{
	uint8_t d[PFS_DIGEST_SIZE];
	size_t n;
	uint8_t *jpg = read_fixture("SekienAkashita.jpg", &n);

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
