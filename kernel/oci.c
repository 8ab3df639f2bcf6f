// SPDX-License-Identifier: GPL-2.0
/*
 * The OCI directory: opening blobs, reading them whole, checking them, and
 * loading the manifest and the rootfs at mount.
 *
 * Blobs are opened relative to the blobs/sha256 directory resolved at
 * mount, with the mounter's credentials (the process that later reads a
 * file of the image may not be allowed to open the OCI directory itself, and
 * must not be charged for it), and never through a symlink.
 *
 * fs-verity: Linux 6.1 exports no way to ask for a file's fs-verity digest
 * from a module (fsverity_get_digest() is exported from 6.6 on, and the
 * FS_IOC_MEASURE_VERITY handler wants a user pointer).  The digest is by
 * definition the sha256 of the file's 256-byte fsverity_descriptor with the
 * signature size zeroed, and the file system hands out that descriptor
 * through its fsverity_operations; once fs-verity is active on the inode,
 * every page read from the file is checked against the Merkle tree whose
 * root the descriptor holds.  So digest(descriptor) == expected proves the
 * content, with no need to hash the data here.
 */
#include <linux/fs.h>
#include <linux/fsverity.h>
#include <linux/ktime.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/namei.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uio.h>
#include <crypto/hash.h>
#include <crypto/sha2.h>

#include "internal.h"
#include "../core/manifest.h"

struct file *pfs_blob_open(struct pfs_sb_info *sbi, const u8 *digest)
{
	char name[2 * PFS_DIGEST_LEN + 1];
	const struct cred *old;
	struct file *file;

	bin2hex(name, digest, PFS_DIGEST_LEN);
	name[2 * PFS_DIGEST_LEN] = 0;
	old = override_creds(sbi->cred);
	/* O_NONBLOCK: a FIFO planted under a blob's name must not make the
	 * open wait for a writer; it is refused just below. */
	file = file_open_root(&sbi->blobs, name,
			      O_RDONLY | O_LARGEFILE | O_NOFOLLOW | O_NONBLOCK,
			      0);
	revert_creds(old);
	if (IS_ERR(file)) {
		pfs_err(sbi, "blob %s: cannot open: %ld", name, PTR_ERR(file));
		return file;
	}
	if (!S_ISREG(file_inode(file)->i_mode)) {
		pfs_err(sbi, "blob %s: not a regular file", name);
		fput(file);
		return ERR_PTR(-EIO);
	}
	spin_lock(&file->f_lock);
	file->f_flags &= ~O_NONBLOCK;
	spin_unlock(&file->f_lock);
	return file;
}

/* Read exactly @len bytes at @pos; a short file is an error. */
int pfs_read_full(struct file *file, void *buf, size_t len, loff_t pos)
{
	while (len) {
		struct kvec kv = { .iov_base = buf, .iov_len = len };
		struct iov_iter iter;
		struct kiocb kiocb;
		ssize_t n;

		init_sync_kiocb(&kiocb, file);
		kiocb.ki_pos = pos;
		iov_iter_kvec(&iter, ITER_DEST, &kv, 1, len);
		n = vfs_iocb_iter_read(file, &kiocb, &iter);
		if (n < 0)
			return n;
		if (n == 0)
			return -EIO;
		buf += n;
		len -= n;
		pos += n;
	}
	return 0;
}

/*
 * In verity mode: fs-verity must be active on @file and, when @want is
 * given, its digest must equal @want.  @what and @digest name the blob in
 * the log.
 */
int pfs_verity_check(struct pfs_sb_info *sbi, struct file *file,
		     const u8 *want, const char *what, const u8 *digest)
{
	struct inode *inode = file_inode(file);
	const struct fsverity_operations *vop = inode->i_sb->s_vop;
	struct fsverity_descriptor *desc;
	u8 got[PFS_DIGEST_LEN];
	int size, err;

	if (!IS_VERITY(inode) || !fsverity_active(inode) || !vop ||
	    !vop->get_verity_descriptor) {
		pfs_err(sbi, "%s %*phN: fs-verity is not enabled", what,
			PFS_DIGEST_LEN, digest);
		return -EIO;
	}
	if (!want)
		return 0;
	size = vop->get_verity_descriptor(inode, NULL, 0);
	if (size < (int)sizeof(*desc) || size > FS_VERITY_MAX_DESCRIPTOR_SIZE) {
		pfs_err(sbi, "%s %*phN: bad fs-verity descriptor (%d)", what,
			PFS_DIGEST_LEN, digest, size);
		return -EIO;
	}
	desc = kmalloc(size, GFP_KERNEL);
	if (!desc)
		return -ENOMEM;
	err = vop->get_verity_descriptor(inode, desc, size);
	if (err >= 0 && err < (int)sizeof(*desc))
		err = -EIO;
	if (err >= 0) {
		/* The file digest covers the descriptor without signature. */
		desc->sig_size = 0;
		sha256((const u8 *)desc, sizeof(*desc), got);
		err = memcmp(got, want, PFS_DIGEST_LEN) ? -EIO : 0;
		if (err)
			pfs_err(sbi, "%s %*phN: fs-verity digest %*phN, expected %*phN",
				what, PFS_DIGEST_LEN, digest, PFS_DIGEST_LEN,
				got, PFS_DIGEST_LEN, want);
	} else {
		pfs_err(sbi, "%s %*phN: cannot read the fs-verity descriptor (%d)",
			what, PFS_DIGEST_LEN, digest, err);
		err = -EIO;
	}
	kfree(desc);
	return err;
}

/*
 * Which sha256 to use.  Every byte of every blob is hashed once per mount,
 * the bulk of a cold read's CPU.  The crypto API ranks implementations by a
 * fixed priority, and the best one depends on the CPU: under qemu TCG, for
 * one, the AVX2 code runs at a third of the speed of the generic C.  So the
 * module times each implementation the kernel has on a small buffer when it
 * loads and keeps the fastest, as the kernel's RAID6 and XOR code do.
 */
static char pfs_sha256_driver[CRYPTO_MAX_ALG_NAME] = "sha256";

static u64 time_sha256(struct crypto_shash *tfm, const u8 *buf, size_t len)
{
	SHASH_DESC_ON_STACK(desc, tfm);
	u64 best = U64_MAX, t;
	u8 out[PFS_DIGEST_LEN];
	int i;

	desc->tfm = tfm;
	for (i = 0; i < 3; i++) {
		t = ktime_get_ns();
		if (crypto_shash_digest(desc, buf, len, out)) {
			best = U64_MAX;
			break;
		}
		best = min(best, ktime_get_ns() - t);
	}
	shash_desc_zero(desc);
	return best;
}

void pfs_sha256_pick(void)
{
	static const char *const names[] = {
		"sha256",	/* the crypto API's choice */
#ifdef CONFIG_X86
		"sha256-ni", "sha256-avx2", "sha256-avx", "sha256-ssse3",
#endif
#ifdef CONFIG_ARM64
		"sha256-ce", "sha256-arm64",
#endif
		"sha256-generic",
	};
	const size_t len = SZ_16K;
	u64 best = U64_MAX, t;
	u8 *buf = kmalloc(len, GFP_KERNEL);
	size_t i;

	if (!buf)
		return;
	memset(buf, 0x5a, len);
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		struct crypto_shash *tfm = crypto_alloc_shash(names[i], 0, 0);

		if (IS_ERR(tfm))
			continue;
		t = time_sha256(tfm, buf, len);
		if (t < best) {
			best = t;
			strscpy(pfs_sha256_driver, crypto_shash_driver_name(tfm),
				sizeof(pfs_sha256_driver));
		}
		crypto_free_shash(tfm);
	}
	kfree(buf);
	pr_info("puzzlefs: sha256 by %s\n", pfs_sha256_driver);
}

struct crypto_shash *pfs_sha256_alloc(void)
{
	struct crypto_shash *tfm = crypto_alloc_shash(pfs_sha256_driver, 0, 0);

	return IS_ERR(tfm) ? crypto_alloc_shash("sha256", 0, 0) : tfm;
}

/* sha256 of a large buffer, yielding the CPU now and then. */
int pfs_sha256(struct pfs_sb_info *sbi, const u8 *buf, u64 len,
	       u8 out[PFS_DIGEST_LEN])
{
	SHASH_DESC_ON_STACK(desc, sbi->sha256);
	int err;

	desc->tfm = sbi->sha256;
	err = crypto_shash_init(desc);
	while (!err && len) {
		unsigned int n = min_t(u64, len, SZ_1M);

		err = crypto_shash_update(desc, buf, n);
		buf += n;
		len -= n;
		cond_resched();
	}
	if (!err)
		err = crypto_shash_final(desc, out);
	shash_desc_zero(desc);
	return err;
}

/*
 * Read a metadata blob (manifest or rootfs) whole.  @size is its expected
 * length (U64_MAX: any up to @max).  Checked before use: by fs-verity in
 * verity mode when @verity is given, else by sha256.
 */
static int read_meta_blob(struct pfs_sb_info *sbi, const u8 *digest,
			  u64 size, u64 max, const u8 *verity,
			  const char *what, u8 **out, u64 *out_len)
{
	const struct cred *old;
	u8 got[PFS_DIGEST_LEN];
	struct file *file;
	u64 len;
	u8 *buf;
	int err;

	file = pfs_blob_open(sbi, digest);
	if (IS_ERR(file))
		return PTR_ERR(file);
	len = i_size_read(file_inode(file));
	if ((size != U64_MAX && len != size) || len > max || len == 0) {
		pfs_err(sbi, "%s %*phN: %llu bytes, expected %llu (at most %llu)",
			what, PFS_DIGEST_LEN, digest, len,
			size == U64_MAX ? 0 : size, max);
		fput(file);
		return -EIO;
	}
	if (sbi->verity) {
		err = pfs_verity_check(sbi, file, verity, what, digest);
		if (err) {
			fput(file);
			return err;
		}
	}
	buf = kvmalloc(len, GFP_KERNEL);
	if (!buf) {
		fput(file);
		return -ENOMEM;
	}
	old = override_creds(sbi->cred);
	err = pfs_read_full(file, buf, len, 0);
	revert_creds(old);
	fput(file);
	if (err) {
		pfs_err(sbi, "%s %*phN: read error %d", what, PFS_DIGEST_LEN,
			digest, err);
		kvfree(buf);
		return err == -EINTR ? err : -EIO;
	}
	if (!sbi->verity || !verity) {
		if (pfs_sha256(sbi, buf, len, got) ||
		    memcmp(got, digest, PFS_DIGEST_LEN)) {
			pfs_err(sbi, "%s %*phN: content does not match its sha256 (corrupted)",
				what, PFS_DIGEST_LEN, digest);
			kvfree(buf);
			return -EIO;
		}
	}
	*out = buf;
	*out_len = len;
	return 0;
}

static void pfs_report(void *arg, const char *msg)
{
	pfs_err(arg, "corrupted image: %s", msg);
}

static int load_manifest(struct pfs_sb_info *sbi, u64 *rootfs_size)
{
	struct pfs_manifest_rootfs mr;
	u8 *buf;
	u64 len;
	int err;

	err = read_meta_blob(sbi, sbi->manifest, U64_MAX, PFS_MAX_MANIFEST,
			     sbi->has_verity_digest ? sbi->verity_digest : NULL,
			     "manifest", &buf, &len);
	if (err)
		return err;
	err = pfs_manifest_find_rootfs(buf, len, &mr);
	kvfree(buf);
	if (err == -ENOENT) {
		pfs_err(sbi, "the manifest has no PuzzleFS rootfs layer");
		return -EINVAL;
	}
	if (err) {
		pfs_err(sbi, "the manifest is not a valid image manifest");
		return -EUCLEAN;
	}
	memcpy(sbi->rootfs, mr.digest, PFS_DIGEST_LEN);
	sbi->rootfs_has_verity = mr.has_verity;
	memcpy(sbi->rootfs_verity, mr.verity, PFS_DIGEST_LEN);
	*rootfs_size = mr.size;
	return 0;
}

/* Images of many layers: see pfs_rootfs_init_index.  Two entries per word
 * of the rootfs at most (init_layers checks): 32 bytes per 8. */
static int index_inodes(struct pfs_sb_info *sbi)
{
	u64 n = pfs_rootfs_index_len(&sbi->rfs);

	if (!n)
		return 0;
	sbi->index = kvmalloc_array(n, sizeof(*sbi->index),
				    GFP_KERNEL | __GFP_NOWARN);
	if (!sbi->index)
		return -ENOMEM;
	pfs_rootfs_init_index(&sbi->rfs, sbi->index);
	return 0;
}

int pfs_load_metadata(struct pfs_sb_info *sbi)
{
	const u8 *verity = NULL;
	u64 size = U64_MAX;
	u32 nseg;
	int err;

	if (sbi->has_manifest) {
		err = load_manifest(sbi, &size);
		if (err)
			return err;
		if (sbi->verity && !sbi->rootfs_has_verity) {
			pfs_err(sbi, "verity: the rootfs layer has no fs-verity annotation");
			return -EINVAL;
		}
		verity = sbi->rootfs_verity;
	} else if (sbi->has_verity_digest) {
		/* rootfs=HEX,verity=HEX: the digest is the rootfs's own. */
		verity = sbi->verity_digest;
	}
	err = read_meta_blob(sbi, sbi->rootfs, size, PFS_MAX_ROOTFS, verity,
			     "rootfs", &sbi->rootfs_buf, &sbi->rootfs_len);
	if (err)
		return err;

	sbi->rfs.report = pfs_report;
	sbi->rfs.report_arg = sbi;
	err = pfs_rootfs_probe(sbi->rootfs_buf, sbi->rootfs_len, &nseg);
	if (err) {
		pfs_err(sbi, "corrupted image: rootfs: bad Cap'n Proto framing");
		return -EUCLEAN;
	}
	sbi->seg = kcalloc(nseg + 1, sizeof(*sbi->seg), GFP_KERNEL);
	if (!sbi->seg)
		return -ENOMEM;
	err = pfs_rootfs_init(&sbi->rfs, sbi->rootfs_buf, sbi->rootfs_len,
			      sbi->seg, nseg);
	if (err)
		return err == -EINVAL ? err : -EUCLEAN;
	if (sbi->rfs.nlayers > PFS_MAX_LAYERS) {
		pfs_err(sbi, "corrupted image: %u metadata layers (at most %u)",
			sbi->rfs.nlayers, PFS_MAX_LAYERS);
		return -EUCLEAN;
	}
	sbi->layers = kcalloc(sbi->rfs.nlayers, sizeof(*sbi->layers),
			      GFP_KERNEL);
	if (!sbi->layers)
		return -ENOMEM;
	err = pfs_rootfs_init_layers(&sbi->rfs, sbi->layers);
	if (err)
		return -EUCLEAN;
	return index_inodes(sbi);
}

void pfs_free_metadata(struct pfs_sb_info *sbi)
{
	kvfree(sbi->index);
	sbi->index = NULL;
	kfree(sbi->layers);
	kfree(sbi->seg);
	kvfree(sbi->rootfs_buf);
	sbi->layers = NULL;
	sbi->seg = NULL;
	sbi->rootfs_buf = NULL;
}
