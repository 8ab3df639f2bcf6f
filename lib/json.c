// SPDX-License-Identifier: MIT
/*
 * Canonical JSON: no whitespace, object members sorted by the UTF-16 code
 * units of their names, strings with only the escapes JCS mandates, and
 * numbers in their shortest round-trip form.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static int add(struct pfs_buf *b, const char *s, size_t n)
{
	return pfs_buf_add(b, s, n);
}

/* Next UTF-16 code unit sequence of UTF-8 string @s (valid UTF-8, as
 * jansson guarantees): returns the number of bytes consumed and the code
 * units (1 or 2) in @u. */
static size_t utf16_units(const unsigned char *s, uint16_t u[2], int *n)
{
	uint32_t cp;
	size_t len;

	if (s[0] < 0x80) {
		cp = s[0];
		len = 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		cp = (uint32_t)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
		len = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		cp = (uint32_t)(s[0] & 0x0f) << 12 | (uint32_t)(s[1] & 0x3f) << 6 |
		     (s[2] & 0x3f);
		len = 3;
	} else {
		cp = (uint32_t)(s[0] & 0x07) << 18 | (uint32_t)(s[1] & 0x3f) << 12 |
		     (uint32_t)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
		len = 4;
	}
	if (cp >= 0x10000) {
		cp -= 0x10000;
		u[0] = (uint16_t)(0xd800 + (cp >> 10));
		u[1] = (uint16_t)(0xdc00 + (cp & 0x3ff));
		*n = 2;
	} else {
		u[0] = (uint16_t)cp;
		*n = 1;
	}
	return len;
}

static int key_cmp(const void *pa, const void *pb)
{
	const unsigned char *a = *(const unsigned char *const *)pa;
	const unsigned char *b = *(const unsigned char *const *)pb;

	while (*a && *b) {
		uint16_t ua[2], ub[2];
		int na, nb, i;

		a += utf16_units(a, ua, &na);
		b += utf16_units(b, ub, &nb);
		for (i = 0; i < na && i < nb; i++)
			if (ua[i] != ub[i])
				return ua[i] < ub[i] ? -1 : 1;
		if (na != nb)
			return na < nb ? -1 : 1;
	}
	return *a ? 1 : *b ? -1 : 0;
}

static int put_string(struct pfs_buf *b, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	int e = add(b, "\"", 1);

	for (i = 0; i < len && !e; i++) {
		unsigned char ch = (unsigned char)s[i];
		char esc[7];

		switch (ch) {
		case '"': e = add(b, "\\\"", 2); break;
		case '\\': e = add(b, "\\\\", 2); break;
		case '\b': e = add(b, "\\b", 2); break;
		case '\f': e = add(b, "\\f", 2); break;
		case '\n': e = add(b, "\\n", 2); break;
		case '\r': e = add(b, "\\r", 2); break;
		case '\t': e = add(b, "\\t", 2); break;
		default:
			if (ch < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[ch >> 4];
				esc[5] = hex[ch & 15];
				e = add(b, esc, 6);
			} else {
				e = add(b, (const char *)&ch, 1);
			}
		}
	}
	return e ? e : add(b, "\"", 1);
}

/* ECMAScript Number.prototype.toString for finite doubles (RFC 8785). */
static int put_real(struct pfs_buf *b, double d)
{
	char digits[32], out[64], *e;
	int prec, n, k = 0, i, o = 0;

	if (!isfinite(d))
		return -EINVAL;
	if (d == 0)
		return add(b, "0", 1);
	if (d < 0) {
		out[o++] = '-';
		d = -d;
	}
	/* Shortest digit string that reads back as the same double. */
	for (prec = 1; prec <= 17; prec++) {
		snprintf(digits, sizeof(digits), "%.*e", prec - 1, d);
		if (strtod(digits, NULL) == d)
			break;
	}
	e = strchr(digits, 'e');
	n = atoi(e + 1) + 1;	/* value = 0.DIGITS x 10^n */
	for (i = 0; digits + i < e; i++)
		if (digits[i] != '.')
			digits[k++] = digits[i];
	while (k > 1 && digits[k - 1] == '0')
		k--;
	if (k <= n && n <= 21) {
		for (i = 0; i < n; i++)
			out[o++] = i < k ? digits[i] : '0';
	} else if (0 < n && n <= 21) {
		for (i = 0; i < k; i++) {
			if (i == n)
				out[o++] = '.';
			out[o++] = digits[i];
		}
	} else if (-6 < n && n <= 0) {
		out[o++] = '0';
		out[o++] = '.';
		for (i = 0; i < -n; i++)
			out[o++] = '0';
		for (i = 0; i < k; i++)
			out[o++] = digits[i];
	} else {
		out[o++] = digits[0];
		if (k > 1)
			out[o++] = '.';
		for (i = 1; i < k; i++)
			out[o++] = digits[i];
		o += snprintf(out + o, sizeof(out) - (size_t)o, "e%c%d",
			      n - 1 < 0 ? '-' : '+', abs(n - 1));
	}
	return add(b, out, (size_t)o);
}

int pfs_json_canonical(const json_t *v, struct pfs_buf *b)
{
	char num[32];
	int e = 0;

	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		size_t n = json_object_size(v), i = 0;
		const char **keys = calloc(n ? n : 1, sizeof(*keys));
		const char *k;
		json_t *val;

		if (!keys)
			return -ENOMEM;
		json_object_foreach((json_t *)v, k, val)
			keys[i++] = k;
		qsort(keys, n, sizeof(*keys), key_cmp);
		e = add(b, "{", 1);
		for (i = 0; i < n && !e; i++) {
			if (i)
				e = add(b, ",", 1);
			if (!e)
				e = put_string(b, keys[i], strlen(keys[i]));
			if (!e)
				e = add(b, ":", 1);
			if (!e)
				e = pfs_json_canonical(json_object_get(v, keys[i]), b);
		}
		free(keys);
		return e ? e : add(b, "}", 1);
	}
	case JSON_ARRAY: {
		size_t i;

		e = add(b, "[", 1);
		for (i = 0; i < json_array_size(v) && !e; i++) {
			if (i)
				e = add(b, ",", 1);
			if (!e)
				e = pfs_json_canonical(json_array_get(v, i), b);
		}
		return e ? e : add(b, "]", 1);
	}
	case JSON_STRING:
		return put_string(b, json_string_value(v), json_string_length(v));
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		return add(b, num, strlen(num));
	case JSON_REAL:
		return put_real(b, json_real_value(v));
	case JSON_TRUE:
		return add(b, "true", 4);
	case JSON_FALSE:
		return add(b, "false", 5);
	case JSON_NULL:
		return add(b, "null", 4);
	}
	return -EINVAL;
}
