// SPDX-License-Identifier: GPL-2.0
/*
 * Mount options, the superblock and the module.
 *
 *   mount -t puzzlefs -o oci_root_dir=DIR,image_manifest=HEX none /mnt
 *   mount -t puzzlefs -o oci_root_dir=DIR,rootfs=HEX none /mnt
 *
 * plus "verity" or "verity=HEX" (fs-verity mode) and "cache_mb=N" (the
 * budget for decoded chunk blobs).  The image never changes, so the
 * superblock is always read-only and everything it derives at mount (the
 * rootfs, link counts) stays valid until umount.
 */
#include <linux/fs_context.h>
#include <linux/fs_parser.h>
#include <linux/module.h>
#include <linux/namei.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/statfs.h>
#include <crypto/hash.h>

#include "internal.h"

static struct kmem_cache *pfs_inode_cachep;

void pfs_err(struct pfs_sb_info *sbi, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	if (!__ratelimit(&sbi->rs))
		return;
	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_err("puzzlefs (%s): %pV\n", sbi->label, &vaf);
	va_end(args);
}

void pfs_info(struct pfs_sb_info *sbi, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	pr_info("puzzlefs (%s): %pV\n", sbi->label, &vaf);
	va_end(args);
}

/* ---- inodes ------------------------------------------------------------ */

static struct inode *pfs_alloc_inode(struct super_block *sb)
{
	struct pfs_inode_info *pii = alloc_inode_sb(sb, pfs_inode_cachep,
						    GFP_KERNEL);

	if (!pii)
		return NULL;
	memset(&pii->pi, 0, sizeof(pii->pi));
	pii->link = NULL;
	spin_lock_init(&pii->hint_lock);
	pii->hint_idx = 0;
	pii->hint_start = 0;
	pii->ends = NULL;
	pii->merged = NULL;
	return &pii->vfs_inode;
}

/* Called after an RCU grace period: i_link may be in use until then. */
static void pfs_free_inode(struct inode *inode)
{
	struct pfs_inode_info *pii = PFS_I(inode);

	kfree(pii->link);
	kvfree(pii->ends);
	kvfree(pii->merged);
	kmem_cache_free(pfs_inode_cachep, pii);
}

static void pfs_inode_init_once(void *ptr)
{
	struct pfs_inode_info *pii = ptr;

	inode_init_once(&pii->vfs_inode);
}

/* ---- superblock ---------------------------------------------------------- */

static int pfs_statfs(struct dentry *dentry, struct kstatfs *buf)
{
	struct super_block *sb = dentry->d_sb;
	struct pfs_sb_info *sbi = PFS_SB(sb);

	buf->f_type = PFS_SUPER_MAGIC;
	buf->f_bsize = sb->s_blocksize;
	buf->f_frsize = sb->s_blocksize;
	buf->f_blocks = sbi->nblocks;
	buf->f_bfree = buf->f_bavail = 0;
	buf->f_files = sbi->nfiles;
	buf->f_ffree = 0;
	buf->f_namelen = PFS_NAME_MAX;
	buf->f_fsid = u64_to_fsid(huge_encode_dev(sb->s_dev));
	return 0;
}

static int pfs_show_options(struct seq_file *m, struct dentry *root)
{
	struct pfs_sb_info *sbi = PFS_SB(root->d_sb);

	seq_show_option(m, "oci_root_dir", sbi->oci_dir);
	if (sbi->has_manifest)
		seq_printf(m, ",image_manifest=%*phN", PFS_DIGEST_LEN,
			   sbi->manifest);
	else
		seq_printf(m, ",rootfs=%*phN", PFS_DIGEST_LEN, sbi->rootfs);
	if (sbi->verity && sbi->has_verity_digest)
		seq_printf(m, ",verity=%*phN", PFS_DIGEST_LEN,
			   sbi->verity_digest);
	else if (sbi->verity)
		seq_puts(m, ",verity");
	if (sbi->cache_mb != PFS_DEFAULT_CACHE_MB)
		seq_printf(m, ",cache_mb=%u", sbi->cache_mb);
	return 0;
}

static const struct super_operations pfs_sops = {
	.alloc_inode	= pfs_alloc_inode,
	.free_inode	= pfs_free_inode,
	.statfs		= pfs_statfs,
	.show_options	= pfs_show_options,
};

static void pfs_free_sbi(struct pfs_sb_info *sbi)
{
	if (!sbi)
		return;
	pfs_ra_destroy(sbi);
	pfs_blob_cache_destroy(sbi);
	pfs_free_metadata(sbi);
	xa_destroy(&sbi->links);
	if (sbi->sha256)
		crypto_free_shash(sbi->sha256);
	if (sbi->blobs.mnt)
		path_put(&sbi->blobs);
	if (sbi->cred)
		put_cred(sbi->cred);
	kfree(sbi->oci_dir);
	kfree(sbi);
}

static int pfs_open_oci_dir(struct super_block *sb, struct pfs_sb_info *sbi)
{
	struct path root;
	char *blobs;
	int err;

	err = kern_path(sbi->oci_dir, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &root);
	if (err) {
		pfs_err(sbi, "cannot open OCI directory: %d", err);
		return err;
	}
	path_put(&root);
	/* blobs/sha256 may be a symlink to a shared blob store. */
	blobs = kasprintf(GFP_KERNEL, "%s/blobs/sha256", sbi->oci_dir);
	if (!blobs)
		return -ENOMEM;
	err = kern_path(blobs, LOOKUP_FOLLOW | LOOKUP_DIRECTORY, &sbi->blobs);
	kfree(blobs);
	if (err) {
		sbi->blobs.mnt = NULL;
		pfs_err(sbi, "cannot open blobs/sha256: %d", err);
		return err;
	}
	/* Stacking on other stacked file systems is bounded, as overlayfs. */
	sb->s_stack_depth = sbi->blobs.mnt->mnt_sb->s_stack_depth + 1;
	if (sb->s_stack_depth > FILESYSTEM_MAX_STACK_DEPTH) {
		pfs_err(sbi, "maximum file system stacking depth exceeded");
		return -EINVAL;
	}
	return 0;
}

static int pfs_fill_super(struct super_block *sb, struct fs_context *fc)
{
	struct pfs_sb_info *sbi = PFS_SB(sb);
	struct inode *root;
	int err;

	sb->s_magic = PFS_SUPER_MAGIC;
	sb->s_op = &pfs_sops;
	sb->s_xattr = pfs_xattr_handlers;
	sb->s_flags |= SB_RDONLY | SB_NOATIME;
	sb->s_maxbytes = MAX_LFS_FILESIZE;
	sb->s_time_gran = 1;
	sb->s_blocksize = PAGE_SIZE;
	sb->s_blocksize_bits = PAGE_SHIFT;

	/* A bdi of our own: the anonymous superblock's has no readahead. */
	err = super_setup_bdi(sb);
	if (err)
		return err;

	sbi->cred = get_current_cred();
	sbi->sha256 = pfs_sha256_alloc();
	if (IS_ERR(sbi->sha256)) {
		err = PTR_ERR(sbi->sha256);
		sbi->sha256 = NULL;
		return err;
	}
	err = pfs_open_oci_dir(sb, sbi);
	if (err)
		return err;
	err = pfs_load_metadata(sbi);
	if (err)
		return err;
	err = pfs_census(sbi);
	if (err) {
		if (err != -ENOMEM && err != -EINTR)
			pfs_err(sbi, "the directory tree is corrupted (%d)",
				err);
		return pfs_errno(err);
	}
	err = pfs_blob_cache_init(sbi);
	if (!err)
		err = pfs_ra_init(sbi);
	if (err)
		return err;

	root = pfs_iget(sb, PFS_ROOT_INO, NULL);
	if (IS_ERR(root)) {
		pfs_err(sbi, "cannot read the root directory: %ld",
			PTR_ERR(root));
		return PTR_ERR(root);
	}
	if (!S_ISDIR(root->i_mode)) {
		pfs_err(sbi, "the root inode is not a directory");
		iput(root);
		return -EUCLEAN;
	}
	sb->s_root = d_make_root(root);
	if (!sb->s_root)
		return -ENOMEM;
	pfs_info(sbi, "mounted: %u layer(s), %llu inodes%s", sbi->rfs.nlayers,
		 sbi->nfiles, sbi->verity ? ", fs-verity" : "");
	return 0;
}

/* ---- mount options --------------------------------------------------------- */

enum { Opt_oci_root_dir, Opt_image_manifest, Opt_rootfs, Opt_verity,
       Opt_verity_digest, Opt_cache_mb };

static const struct fs_parameter_spec pfs_param_spec[] = {
	fsparam_string("oci_root_dir", Opt_oci_root_dir),
	fsparam_string("image_manifest", Opt_image_manifest),
	fsparam_string("rootfs", Opt_rootfs),
	/* "verity" alone, or "verity=HEX" with the trust anchor. */
	fsparam_flag("verity", Opt_verity),
	fsparam_string("verity", Opt_verity_digest),
	fsparam_u32("cache_mb", Opt_cache_mb),
	{}
};

static int parse_digest(struct fs_context *fc, struct fs_parameter *param,
			u8 *out)
{
	const char *s = param->string;

	if (!strncmp(s, "sha256:", 7))
		s += 7;
	if (strlen(s) != 2 * PFS_DIGEST_LEN ||
	    hex2bin(out, s, PFS_DIGEST_LEN))
		return invalfc(fc, "%s: expected 64 hex digits", param->key);
	return 0;
}

static int pfs_parse_param(struct fs_context *fc, struct fs_parameter *param)
{
	struct pfs_sb_info *sbi = fc->s_fs_info;
	struct fs_parse_result result;
	int opt, err;

	opt = fs_parse(fc, pfs_param_spec, param, &result);
	if (opt < 0)
		return opt;
	switch (opt) {
	case Opt_oci_root_dir:
		kfree(sbi->oci_dir);
		sbi->oci_dir = param->string;
		param->string = NULL;
		break;
	case Opt_image_manifest:
		err = parse_digest(fc, param, sbi->manifest);
		if (err)
			return err;
		sbi->has_manifest = true;
		break;
	case Opt_rootfs:
		err = parse_digest(fc, param, sbi->rootfs);
		if (err)
			return err;
		sbi->has_rootfs = true;
		break;
	case Opt_verity:
		sbi->verity = true;
		break;
	case Opt_verity_digest:
		err = parse_digest(fc, param, sbi->verity_digest);
		if (err)
			return err;
		sbi->verity = true;
		sbi->has_verity_digest = true;
		break;
	case Opt_cache_mb:
		if (result.uint_32 < 1 || result.uint_32 > 65536)
			return invalfc(fc, "cache_mb: 1 to 65536");
		sbi->cache_mb = result.uint_32;
		break;
	}
	return 0;
}

static int pfs_get_tree(struct fs_context *fc)
{
	struct pfs_sb_info *sbi = fc->s_fs_info;

	if (!sbi->oci_dir || !*sbi->oci_dir)
		return invalfc(fc, "oci_root_dir= is required");
	if (sbi->has_manifest == sbi->has_rootfs)
		return invalfc(fc, "exactly one of image_manifest= and rootfs= is required");
	if (sbi->has_manifest)
		snprintf(sbi->label, sizeof(sbi->label), "%.60s manifest %*phN",
			 sbi->oci_dir, 6, sbi->manifest);
	else
		snprintf(sbi->label, sizeof(sbi->label), "%.60s rootfs %*phN",
			 sbi->oci_dir, 6, sbi->rootfs);
	return get_tree_nodev(fc, pfs_fill_super);
}

static int pfs_reconfigure(struct fs_context *fc)
{
	/* Options are fixed at mount; the only state is read-only. */
	sync_filesystem(fc->root->d_sb);
	if (!(fc->sb_flags & SB_RDONLY))
		return invalfc(fc, "puzzlefs is read-only");
	return 0;
}

static void pfs_fc_free(struct fs_context *fc)
{
	/* Still set only if no superblock took it over. */
	pfs_free_sbi(fc->s_fs_info);
}

static const struct fs_context_operations pfs_context_ops = {
	.parse_param	= pfs_parse_param,
	.get_tree	= pfs_get_tree,
	.reconfigure	= pfs_reconfigure,
	.free		= pfs_fc_free,
};

static int pfs_init_fs_context(struct fs_context *fc)
{
	struct pfs_sb_info *sbi;

	/* Also for a remount: its options are parsed into a throwaway
	 * copy, since they cannot change (see pfs_reconfigure). */
	sbi = kzalloc(sizeof(*sbi), GFP_KERNEL);
	if (!sbi)
		return -ENOMEM;
	sbi->cache_mb = PFS_DEFAULT_CACHE_MB;
	xa_init(&sbi->links);
	ratelimit_state_init(&sbi->rs, DEFAULT_RATELIMIT_INTERVAL,
			     DEFAULT_RATELIMIT_BURST);
	strscpy(sbi->label, "mount", sizeof(sbi->label));
	fc->s_fs_info = sbi;
	if (fc->purpose == FS_CONTEXT_FOR_MOUNT)
		fc->sb_flags |= SB_RDONLY;
	fc->ops = &pfs_context_ops;
	return 0;
}

static void pfs_kill_sb(struct super_block *sb)
{
	struct pfs_sb_info *sbi = PFS_SB(sb);

	kill_anon_super(sb);
	pfs_free_sbi(sbi);
}

static struct file_system_type pfs_fs_type = {
	.owner			= THIS_MODULE,
	.name			= "puzzlefs",
	.init_fs_context	= pfs_init_fs_context,
	.parameters		= pfs_param_spec,
	.kill_sb		= pfs_kill_sb,
};
MODULE_ALIAS_FS("puzzlefs");
/* Blob checks hash every byte: load the fastest sha256 before us. */
MODULE_SOFTDEP("pre: sha256");

static int __init pfs_module_init(void)
{
	int err;

	pfs_inode_cachep = kmem_cache_create("puzzlefs_inode",
			sizeof(struct pfs_inode_info), 0,
			SLAB_RECLAIM_ACCOUNT | SLAB_MEM_SPREAD | SLAB_ACCOUNT,
			pfs_inode_init_once);
	if (!pfs_inode_cachep)
		return -ENOMEM;
	pfs_sha256_pick();
	err = register_filesystem(&pfs_fs_type);
	if (err)
		kmem_cache_destroy(pfs_inode_cachep);
	return err;
}

static void __exit pfs_module_exit(void)
{
	unregister_filesystem(&pfs_fs_type);
	/* Inodes are freed after an RCU grace period. */
	rcu_barrier();
	kmem_cache_destroy(pfs_inode_cachep);
}

module_init(pfs_module_init);
module_exit(pfs_module_exit);

MODULE_DESCRIPTION("PuzzleFS: read-only OCI container image file system");
MODULE_AUTHOR("puzzlefs-c");
MODULE_LICENSE("GPL");
