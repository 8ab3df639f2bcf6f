// SPDX-License-Identifier: GPL-2.0
/*
 * Regular file data through the page cache: read_folio and readahead fill
 * folios from chunk blobs.  A file is a list of extents (chunk, offset in
 * the chunk's content, length) that need not be page-aligned: one folio can
 * take bytes from several chunks, and one chunk serves many folios and many
 * small files.  The chunk holding a file offset is found from a per-inode
 * hint (the last chunk read), so sequential reads walk the list once; in
 * files of many chunks, other reads binary search the chunks' end offsets.
 */
#include <linux/highmem.h>
#include <linux/pagemap.h>

#include "internal.h"

/* State kept across the folios of one read_folio or readahead call. */
struct read_ctx {
	struct pfs_blob *blob;		/* last blob used, referenced */
	bool sequential;		/* from ->readahead: post to pfs_ra */
	const u64 *ends;		/* see pfs_inode_info */
	u32 idx;			/* chunk hint: index and file offset */
	u64 start;
};

static int copy_extent(struct pfs_sb_info *sbi, struct read_ctx *rc,
		       const struct pfs_inode *pi, const struct pfs_chunk *ch,
		       u64 off, size_t len, void *dst)
{
	if (!rc->blob || !pfs_blob_is(rc->blob, ch->digest, ch->compressed)) {
		struct pfs_blob *b;

		/* First, so that the next blobs load while this one does. */
		if (rc->sequential)
			pfs_ra_post(sbi, pi, rc->idx, ch->digest);
		b = pfs_blob_get(sbi, ch->digest, ch->compressed);

		if (IS_ERR(b))
			return PTR_ERR(b);
		if (rc->blob)
			pfs_blob_put(sbi, rc->blob);
		rc->blob = b;
	}
	return pfs_blob_copy(sbi, rc->blob, off, len, dst);
}

static int fill_folio(struct inode *inode, struct folio *folio,
		      struct read_ctx *rc)
{
	struct pfs_sb_info *sbi = PFS_SB(inode->i_sb);
	struct pfs_inode *pi = &PFS_I(inode)->pi;
	loff_t pos = folio_pos(folio);
	size_t size = folio_size(folio), fill = 0, done = 0;
	loff_t isize = i_size_read(inode);
	struct pfs_chunk ch;
	struct pfs_cur c;
	int err = 0;

	if (pos < isize)
		fill = min_t(u64, size, isize - pos);
	pfs_cur_init(&c, &sbi->rfs.msg);
	while (done < fill) {
		u64 at = pos + done, within;
		size_t n;
		void *dst;

		err = pfs_file_seek(&c, &sbi->rfs, pi, rc->ends, at, &rc->idx,
				    &rc->start, &ch);
		if (err) {
			/* i_size is the sum of the chunks: cannot run out. */
			if (err == -ENOENT)
				pfs_err(sbi, "inode %lu: no chunk at %llu",
					inode->i_ino, at);
			err = -EIO;
			break;
		}
		within = at - rc->start;
		n = min_t(u64, fill - done, ch.len - within);
		/* Folios are mapped a page at a time. */
		n = min_t(size_t, n, PAGE_SIZE - offset_in_page(done));
		dst = kmap_local_folio(folio, done);
		err = copy_extent(sbi, rc, pi, &ch, ch.offset + within, n, dst);
		kunmap_local(dst);
		if (err)
			break;
		done += n;
	}
	if (!err) {
		folio_zero_segment(folio, fill, size);
		folio_mark_uptodate(folio);
	}
	folio_unlock(folio);
	return err;
}

/*
 * The inode's chunk ends, made on first use; NULL for files of few chunks,
 * and when memory is short or the list is corrupt (the walk then reports
 * it).  An array is 8 bytes per chunk, a third of the chunk list it comes
 * from at most; it lives as long as the inode (reclaimable).
 */
static const u64 *inode_ends(struct inode *inode)
{
	struct pfs_inode_info *pii = PFS_I(inode);
	struct pfs_sb_info *sbi = PFS_SB(inode->i_sb);
	u32 n = pii->pi.list.count;
	struct pfs_cur c;
	u64 *ends;

	ends = smp_load_acquire(&pii->ends);
	if (ends || n < PFS_SEEK_ENDS_MIN)
		return ends;
	ends = kvmalloc_array(n, sizeof(*ends), GFP_KERNEL | __GFP_NOWARN);
	if (!ends)
		return NULL;
	pfs_cur_init(&c, &sbi->rfs.msg);
	if (pfs_file_ends(&c, &sbi->rfs, &pii->pi, ends)) {
		kvfree(ends);
		return NULL;
	}
	/* Another reader may have made it meanwhile. */
	if (cmpxchg_release(&pii->ends, NULL, ends)) {
		kvfree(ends);
		ends = smp_load_acquire(&pii->ends);
	}
	return ends;
}

static void ctx_begin(struct inode *inode, struct read_ctx *rc,
		      bool sequential)
{
	struct pfs_inode_info *pii = PFS_I(inode);

	rc->blob = NULL;
	rc->sequential = sequential;
	rc->ends = inode_ends(inode);
	spin_lock(&pii->hint_lock);
	rc->idx = pii->hint_idx;
	rc->start = pii->hint_start;
	spin_unlock(&pii->hint_lock);
}

static void ctx_end(struct inode *inode, struct read_ctx *rc)
{
	struct pfs_inode_info *pii = PFS_I(inode);

	if (rc->blob)
		pfs_blob_put(PFS_SB(inode->i_sb), rc->blob);
	spin_lock(&pii->hint_lock);
	pii->hint_idx = rc->idx;
	pii->hint_start = rc->start;
	spin_unlock(&pii->hint_lock);
}

static int pfs_read_folio(struct file *file, struct folio *folio)
{
	struct inode *inode = folio->mapping->host;
	struct read_ctx rc;
	int err;

	ctx_begin(inode, &rc, false);
	err = fill_folio(inode, folio, &rc);
	ctx_end(inode, &rc);
	return err;
}

static void pfs_readahead(struct readahead_control *rac)
{
	struct inode *inode = rac->mapping->host;
	struct folio *folio;
	struct read_ctx rc;
	int err = 0;

	ctx_begin(inode, &rc, true);
	/* A folio that fails stays !uptodate: read_folio retries it and
	 * reports the error to the reader.  After a failure the rest of the
	 * window is left to read_folio too. */
	while ((folio = readahead_folio(rac))) {
		if (err)
			folio_unlock(folio);
		else
			err = fill_folio(inode, folio, &rc);
	}
	ctx_end(inode, &rc);
}

const struct address_space_operations pfs_aops = {
	.read_folio	= pfs_read_folio,
	.readahead	= pfs_readahead,
};
