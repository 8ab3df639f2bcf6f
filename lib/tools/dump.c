// SPDX-License-Identifier: MIT
/* The metadata of an image as JSON, layer by layer, as stored. */
#include <stdlib.h>
#include <string.h>

#include "read/tree.h"
#include "tools/dump.h"

/* Byte strings become JSON strings when they are valid UTF-8 without NUL,
 * else "<key>_hex" carries them in hex. */
static void set_bytes(json_t *o, const char *key, const u8 *p, u32 len)
{
	json_t *s = memchr(p, 0, len) ? NULL : json_stringn((const char *)p, len);
	char hkey[64], *hex;

	if (s) {
		json_object_set_new(o, key, s);
		return;
	}
	hex = malloc(2 * (size_t)len + 1);
	if (!hex)
		return;
	pfs_hex(p, len, hex);
	snprintf(hkey, sizeof(hkey), "%s_hex", key);
	json_object_set_new(o, hkey, json_string(hex));
	free(hex);
}

static json_t *digest_str(const u8 *d)
{
	char hex[2 * PFS_DIGEST_SIZE + 1];

	pfs_hex(d, PFS_DIGEST_SIZE, hex);
	return json_string(hex);
}

static const char *const kind_names[] = {
	"unknown", "fifo", "chr", "dir", "blk", "file", "lnk", "sock", "wht",
};

static json_t *dump_inode(struct pfs_cur *c, const struct pfs_rootfs *r,
			  const struct pfs_inode *in)
{
	json_t *o = json_pack("{s:I,s:s,s:i,s:I,s:I}", "ino", (json_int_t)in->ino,
			      "type", kind_names[in->kind], "permissions",
			      in->perm, "uid", (json_int_t)in->uid, "gid",
			      (json_int_t)in->gid);
	json_t *a;
	u32 i;

	if (in->has_mtime) {
		json_object_set_new(o, "mtime", json_integer(in->mtime_sec));
		json_object_set_new(o, "mtimeNsec", json_integer(in->mtime_nsec));
	}
	if (in->kind == PFS_KIND_CHR || in->kind == PFS_KIND_BLK) {
		json_object_set_new(o, "major", json_integer((json_int_t)in->major));
		json_object_set_new(o, "minor", json_integer((json_int_t)in->minor));
	}
	if (in->kind == PFS_KIND_DIR) {
		struct pfs_dirent de;

		a = json_array();
		for (i = 0; i < in->list.count; i++) {
			json_t *e;

			if (pfs_dirent_at(c, r, in, i, &de))
				break;
			e = json_pack("{s:I}", "ino", (json_int_t)de.ino);
			set_bytes(e, "name", de.name, de.name_len);
			json_array_append_new(a, e);
		}
		json_object_set_new(o, "lookBelow", json_boolean(in->look_below));
		json_object_set_new(o, "entries", a);
	}
	if (in->kind == PFS_KIND_FILE) {
		struct pfs_chunk ch;

		a = json_array();
		for (i = 0; i < in->list.count; i++) {
			if (pfs_file_chunk(c, r, in, i, &ch))
				break;
			json_array_append_new(a, json_pack("{s:o,s:I,s:I,s:b}",
				"digest", digest_str(ch.digest),
				"offset", (json_int_t)ch.offset,
				"len", (json_int_t)ch.len,
				"compressed", ch.compressed));
		}
		json_object_set_new(o, "chunks", a);
	}
	if (in->target)
		set_bytes(o, "target", in->target, in->target_len);
	if (in->xattrs.count) {
		struct pfs_xattr x;

		a = json_array();
		for (i = 0; i < in->xattrs.count; i++) {
			json_t *e;

			if (pfs_xattr_at(c, r, in, i, &x))
				break;
			e = json_object();
			set_bytes(e, "key", x.key, x.key_len);
			set_bytes(e, "value", x.val, x.val_len);
			json_array_append_new(a, e);
		}
		json_object_set_new(o, "xattrs", a);
	}
	return o;
}

/* What extract writes: null (the reason logged) for a malformed tree. */
static json_t *expanded(struct pfs_image *img)
{
	struct pfs_tree_size ts;

	if (pfs_image_check(img) || pfs_tree_size(img, PFS_ROOT_INO, &ts))
		return json_null();
	return json_pack("{s:I,s:I,s:I}", "entries", (json_int_t)ts.entries,
			 "files", (json_int_t)ts.files, "bytes",
			 (json_int_t)ts.bytes);
}

json_t *pfs_image_dump(struct pfs_image *img)
{
	const struct pfs_rootfs *r = &img->rfs;
	json_t *out, *layers, *verity;
	struct pfs_inode in;
	struct pfs_cur c;
	u32 l, i;

	layers = json_array();
	for (l = 0; l < r->nlayers; l++) {
		json_t *layer = json_array();

		for (i = 0; i < r->layers[l].inodes.count; i++) {
			pfs_cur_init(&c, &r->msg);
			if (pfs_layer_inode(&c, r, l, i, &in))
				json_array_append_new(layer, json_null());
			else
				json_array_append_new(layer, dump_inode(&c, r, &in));
		}
		json_array_append_new(layers, layer);
	}
	verity = json_array();
	for (i = 0; i < r->verity.count; i++) {
		const u8 *d, *v;

		pfs_cur_init(&c, &r->msg);
		if (pfs_verity_at(&c, r, i, &d, &v))
			break;
		json_array_append_new(verity, json_pack("{s:o,s:o}", "digest",
					digest_str(d), "verity", digest_str(v)));
	}
	out = json_pack("{s:o,s:o,s:I,s:o,s:o,s:o}",
			"manifest", digest_str(img->manifest_desc.digest),
			"rootfs", digest_str(img->manifest.rootfs.digest),
			"manifestVersion", (json_int_t)r->version,
			"metadatas", layers, "fsVerityData", verity,
			"expanded", expanded(img));
	return out;
}
