// SPDX-License-Identifier: MIT OR GPL-2.0
/*
 * Bounded JSON scan of an OCI image manifest; see manifest.h.
 *
 * The scanner validates the whole document (RFC 8259 grammar, minus UTF-8
 * validation of string contents, which nothing here interprets) so that a
 * manifest the library rejects is not accepted by the kernel, and vice
 * versa, for everything the rootfs lookup depends on.  Strings are compared
 * with their escapes decoded, so "application\/vnd..." is still found.
 */
#include "manifest.h"

struct scan {
	const u8 *p;
	u64 len;
	u64 pos;
};

/* A string token: [start, end) are the raw bytes between the quotes. */
struct span {
	u64 start, end;
};

static bool at_end(const struct scan *s)
{
	return s->pos >= s->len;
}

static u8 cur(const struct scan *s)
{
	return s->pos < s->len ? s->p[s->pos] : 0;
}

static void skip_ws(struct scan *s)
{
	while (s->pos < s->len) {
		u8 c = s->p[s->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		s->pos++;
	}
}

static bool expect(struct scan *s, u8 c)
{
	skip_ws(s);
	if (cur(s) != c || at_end(s))
		return false;
	s->pos++;
	return true;
}

/* On '"': validate the string and return its raw span. */
static int string(struct scan *s, struct span *sp)
{
	if (cur(s) != '"' || at_end(s))
		return -PFS_ECORRUPT;
	sp->start = ++s->pos;
	while (s->pos < s->len) {
		u8 c = s->p[s->pos];

		if (c == '"') {
			sp->end = s->pos++;
			return 0;
		}
		if (c < 0x20)
			return -PFS_ECORRUPT;
		if (c != '\\') {
			s->pos++;
			continue;
		}
		if (s->len - s->pos < 2)
			return -PFS_ECORRUPT;
		c = s->p[s->pos + 1];
		if (c == 'u') {
			u32 i;

			if (s->len - s->pos < 6)
				return -PFS_ECORRUPT;
			for (i = 2; i < 6; i++)
				if (pfs_hexval(s->p[s->pos + i]) < 0)
					return -PFS_ECORRUPT;
			s->pos += 6;
		} else if (c == '"' || c == '\\' || c == '/' || c == 'b' ||
			   c == 'f' || c == 'n' || c == 'r' || c == 't') {
			s->pos += 2;
		} else {
			return -PFS_ECORRUPT;
		}
	}
	return -PFS_ECORRUPT;
}

/*
 * Next decoded byte of a validated span at *i, or -1 at the end, or -2 for
 * a character outside ASCII (escaped or not: it never equals anything the
 * scan looks for, which is all ASCII).
 */
static int next_char(const struct scan *s, const struct span *sp, u64 *i)
{
	u8 c;

	if (*i >= sp->end)
		return -1;
	c = s->p[(*i)++];
	if (c >= 0x80)
		return -2;
	if (c != '\\')
		return c;
	c = s->p[(*i)++];
	switch (c) {
	case 'b': return '\b';
	case 'f': return '\f';
	case 'n': return '\n';
	case 'r': return '\r';
	case 't': return '\t';
	case 'u': {
		u32 v = 0, k;

		for (k = 0; k < 4; k++)
			v = v << 4 | (u32)pfs_hexval(s->p[(*i)++]);
		return v < 0x80 ? (int)v : -2;
	}
	default:
		return c;	/* " \ / */
	}
}

static bool span_is(const struct scan *s, const struct span *sp,
		    const char *lit)
{
	u64 i = sp->start, raw = sp->end - sp->start, n = 0;

	/* Escapes only lengthen a string: a span as long as the literal
	 * matches only byte for byte, a shorter one never (the common case,
	 * without decoding). */
	while (lit[n])
		n++;
	if (raw < n)
		return false;
	if (raw == n)
		return !memcmp(s->p + sp->start, lit, n);
	if (!memchr(s->p + sp->start, '\\', raw))
		return false;
	for (; *lit; lit++)
		if (next_char(s, sp, &i) != (u8)*lit)
			return false;
	return next_char(s, sp, &i) == -1;
}

/* Decode an ASCII span into buf (at most cap bytes): length, or -1. */
static int span_copy(const struct scan *s, const struct span *sp, u8 *buf,
		     u32 cap)
{
	u64 i = sp->start;
	u32 n = 0;
	int c;

	while ((c = next_char(s, sp, &i)) != -1) {
		if (c < 0 || n == cap)
			return -1;
		buf[n++] = (u8)c;
	}
	return (int)n;
}

/* A JSON number; *uint set when it is a non-negative integer fitting u64. */
static int number(struct scan *s, u64 *val, bool *uint)
{
	bool neg = false, ovf = false, frac = false;
	u64 v = 0;

	if (cur(s) == '-') {
		neg = true;
		s->pos++;
	}
	if (at_end(s) || cur(s) < '0' || cur(s) > '9')
		return -PFS_ECORRUPT;
	if (cur(s) == '0') {
		s->pos++;
	} else {
		while (!at_end(s) && cur(s) >= '0' && cur(s) <= '9') {
			u64 d = cur(s) - '0';

			if (v > (~(u64)0 - d) / 10)
				ovf = true;
			else
				v = v * 10 + d;
			s->pos++;
		}
	}
	if (cur(s) == '.' && !at_end(s)) {
		frac = true;
		s->pos++;
		if (at_end(s) || cur(s) < '0' || cur(s) > '9')
			return -PFS_ECORRUPT;
		while (!at_end(s) && cur(s) >= '0' && cur(s) <= '9')
			s->pos++;
	}
	if ((cur(s) == 'e' || cur(s) == 'E') && !at_end(s)) {
		frac = true;
		s->pos++;
		if (cur(s) == '+' || cur(s) == '-')
			s->pos++;
		if (at_end(s) || cur(s) < '0' || cur(s) > '9')
			return -PFS_ECORRUPT;
		while (!at_end(s) && cur(s) >= '0' && cur(s) <= '9')
			s->pos++;
	}
	*uint = !neg && !ovf && !frac;
	*val = v;
	return 0;
}

static int literal(struct scan *s, const char *lit)
{
	for (; *lit; lit++, s->pos++)
		if (at_end(s) || cur(s) != (u8)*lit)
			return -PFS_ECORRUPT;
	return 0;
}

/* A scalar value at the cursor (after whitespace). */
static int scalar(struct scan *s)
{
	struct span sp;
	bool uint;
	u64 v;

	switch (cur(s)) {
	case '"': return string(s, &sp);
	case 't': return literal(s, "true");
	case 'f': return literal(s, "false");
	case 'n': return literal(s, "null");
	default: return number(s, &v, &uint);
	}
}

/* On a member of an object: the key and the ':' after it. */
static int member_key(struct scan *s, struct span *key)
{
	skip_ws(s);
	if (string(s, key))
		return -PFS_ECORRUPT;
	return expect(s, ':') ? 0 : -PFS_ECORRUPT;
}

/*
 * Skip one value of any shape.  Nesting is tracked in a bit stack (1 =
 * object) rather than by recursion, so the kernel stack use is constant;
 * @depth is the nesting level the value sits at.
 */
static int skip_value(struct scan *s, u32 depth)
{
	u64 stack = 0;		/* bit i: level base+i+1 is an object */
	u32 n = 0;		/* levels open inside this value */
	struct span key;
	u8 c;

	skip_ws(s);
	for (;;) {
		c = cur(s);
		if (at_end(s))
			return -PFS_ECORRUPT;
		if (c == '{' || c == '[') {
			if (depth + n + 1 > PFS_JSON_MAX_DEPTH || n >= 64)
				return -PFS_ECORRUPT;
			stack = c == '{' ? stack | (1ull << n) :
					   stack & ~(1ull << n);
			n++;
			s->pos++;
			skip_ws(s);
			if (cur(s) == (c == '{' ? '}' : ']') && !at_end(s)) {
				s->pos++;
				n--;
				goto closed;
			}
			if (c == '{' && member_key(s, &key))
				return -PFS_ECORRUPT;
			skip_ws(s);
			continue;
		}
		if (scalar(s))
			return -PFS_ECORRUPT;
closed:
		/* After a complete value: close containers or go on. */
		for (;;) {
			bool obj;

			if (n == 0)
				return 0;
			obj = stack >> (n - 1) & 1;
			skip_ws(s);
			c = cur(s);
			if (at_end(s))
				return -PFS_ECORRUPT;
			if (c == ',') {
				s->pos++;
				if (obj && member_key(s, &key))
					return -PFS_ECORRUPT;
				skip_ws(s);
				break;
			}
			if (c != (obj ? '}' : ']'))
				return -PFS_ECORRUPT;
			s->pos++;
			n--;
		}
	}
}

/*
 * Iterate the members of an object: on '{' the first call returns 1 with
 * the key, each later call consumes the ',' or the '}'; 0 at the end.
 */
static int object_next(struct scan *s, bool *first, struct span *key)
{
	skip_ws(s);
	if (*first) {
		*first = false;
		if (!expect(s, '{'))
			return -PFS_ECORRUPT;
		skip_ws(s);
		if (cur(s) == '}' && !at_end(s)) {
			s->pos++;
			return 0;
		}
	} else {
		if (cur(s) == '}' && !at_end(s)) {
			s->pos++;
			return 0;
		}
		if (!expect(s, ','))
			return -PFS_ECORRUPT;
	}
	return member_key(s, key) ? -PFS_ECORRUPT : 1;
}

int pfs_unhex_digest(const u8 *hex, u32 len, u8 out[PFS_DIGEST_LEN])
{
	u32 i;

	if (len != 2 * PFS_DIGEST_LEN)
		return -EINVAL;
	for (i = 0; i < len; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') ||
		      (hex[i] >= 'a' && hex[i] <= 'f')))
			return -EINVAL;
	for (i = 0; i < PFS_DIGEST_LEN; i++)
		out[i] = (u8)(pfs_hexval(hex[2 * i]) << 4 |
			      pfs_hexval(hex[2 * i + 1]));
	return 0;
}

/* What one layer descriptor says, as far as the scan cares. */
struct layer {
	bool has_type, has_digest, has_size, has_annots, has_verity;
	bool is_rootfs, digest_str, size_ok, verity_str;
	struct span digest, verity;	/* decoded for the rootfs only */
	struct pfs_manifest_rootfs d;
};

static int annotations(struct scan *s, struct layer *l)
{
	struct span key;
	bool first = true;
	int e;

	skip_ws(s);
	if (cur(s) != '{')
		return skip_value(s, 3);
	while ((e = object_next(s, &first, &key)) == 1) {
		if (!span_is(s, &key, PFS_ANNOT_VERITY)) {
			if (skip_value(s, 4))
				return -PFS_ECORRUPT;
			continue;
		}
		if (l->has_verity)
			return -PFS_ECORRUPT;
		l->has_verity = true;
		skip_ws(s);
		if (cur(s) != '"') {
			if (skip_value(s, 4))
				return -PFS_ECORRUPT;
			continue;
		}
		if (string(s, &l->verity))
			return -PFS_ECORRUPT;
		l->verity_str = true;
	}
	return e;
}

/* The digests of the rootfs descriptor (a manifest lists thousands of
 * chunk layers: only one is decoded). */
static bool layer_digests(const struct scan *s, struct layer *l)
{
	static const char prefix[] = "sha256:";
	u8 buf[sizeof(prefix) - 1 + 2 * PFS_DIGEST_LEN];
	int n;

	if (!l->digest_str)
		return false;
	n = span_copy(s, &l->digest, buf, sizeof(buf));
	if (n != (int)sizeof(buf) || memcmp(buf, prefix, sizeof(prefix) - 1) ||
	    pfs_unhex_digest(buf + sizeof(prefix) - 1, 2 * PFS_DIGEST_LEN,
			     l->d.digest))
		return false;
	if (!l->has_verity)
		return true;
	n = l->verity_str ? span_copy(s, &l->verity, buf, sizeof(buf)) : -1;
	return n == 2 * PFS_DIGEST_LEN &&
	       !pfs_unhex_digest(buf, 2 * PFS_DIGEST_LEN, l->d.verity);
}

static int layer(struct scan *s, struct layer *l)
{
	struct span key, val;
	bool first = true, uint;
	int e;

	while ((e = object_next(s, &first, &key)) == 1) {
		skip_ws(s);
		if (span_is(s, &key, "mediaType")) {
			if (l->has_type)
				return -PFS_ECORRUPT;
			l->has_type = true;
			if (cur(s) != '"')
				goto other;
			if (string(s, &val))
				return -PFS_ECORRUPT;
			l->is_rootfs = span_is(s, &val, PFS_MEDIA_ROOTFS);
		} else if (span_is(s, &key, "digest")) {
			if (l->has_digest)
				return -PFS_ECORRUPT;
			l->has_digest = true;
			if (cur(s) != '"')
				goto other;
			if (string(s, &l->digest))
				return -PFS_ECORRUPT;
			l->digest_str = true;
		} else if (span_is(s, &key, "size")) {
			if (l->has_size)
				return -PFS_ECORRUPT;
			l->has_size = true;
			if (cur(s) == '"' || cur(s) == '{' || cur(s) == '[' ||
			    cur(s) == 't' || cur(s) == 'f' || cur(s) == 'n')
				goto other;
			if (number(s, &l->d.size, &uint))
				return -PFS_ECORRUPT;
			l->size_ok = uint;
		} else if (span_is(s, &key, "annotations")) {
			if (l->has_annots)
				return -PFS_ECORRUPT;
			l->has_annots = true;
			if (annotations(s, l))
				return -PFS_ECORRUPT;
		} else {
other:
			if (skip_value(s, 3))
				return -PFS_ECORRUPT;
		}
	}
	return e;
}

static int layers(struct scan *s, struct pfs_manifest_rootfs *out,
		  bool *found)
{
	struct layer l;
	int e;

	skip_ws(s);
	if (cur(s) != '[' || at_end(s))
		return -PFS_ECORRUPT;	/* "layers" must be an array */
	s->pos++;
	skip_ws(s);
	if (cur(s) == ']' && !at_end(s)) {
		s->pos++;
		return 0;
	}
	for (;;) {
		skip_ws(s);
		if (cur(s) == '{' && !at_end(s)) {
			memset(&l, 0, sizeof(l));
			e = layer(s, &l);
			if (e)
				return e;
			if (!*found && l.is_rootfs) {
				/* The rootfs descriptor must be well formed. */
				if (!l.size_ok || !layer_digests(s, &l))
					return -PFS_ECORRUPT;
				l.d.has_verity = l.has_verity;
				*out = l.d;
				*found = true;
			}
		} else if (skip_value(s, 2)) {
			return -PFS_ECORRUPT;
		}
		skip_ws(s);
		if (cur(s) == ']' && !at_end(s)) {
			s->pos++;
			return 0;
		}
		if (!expect(s, ','))
			return -PFS_ECORRUPT;
	}
}

int pfs_manifest_find_rootfs(const u8 *json, u64 len,
			     struct pfs_manifest_rootfs *out)
{
	struct scan s = { .p = json, .len = len, .pos = 0 };
	bool first = true, found = false, seen = false;
	struct span key;
	int e;

	memset(out, 0, sizeof(*out));
	while ((e = object_next(&s, &first, &key)) == 1) {
		if (span_is(&s, &key, "layers")) {
			if (seen)
				return -PFS_ECORRUPT;
			seen = true;
			e = layers(&s, out, &found);
		} else {
			e = skip_value(&s, 1);
		}
		if (e)
			return -PFS_ECORRUPT;
	}
	if (e)
		return -PFS_ECORRUPT;
	skip_ws(&s);
	if (!at_end(&s))
		return -PFS_ECORRUPT;
	if (!found) {
		memset(out, 0, sizeof(*out));
		return -ENOENT;
	}
	return 0;
}
