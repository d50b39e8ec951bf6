/*
 * cli_json.c - the JSON reader behind titan(1)'s tables: a recursive
 * descent parser into a small tree, depth-bounded so a hostile reply
 * cannot blow the stack.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/cli.h"

struct jp {
	const char *s;
	size_t len, pos;
	int depth;
};

static void jp_ws(struct jp *p)
{
	while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]) &&
	       p->s[p->pos])
		p->pos++;
}

static int jp_lit(struct jp *p, const char *w)
{
	size_t n = strlen(w);

	if (p->len - p->pos < n || memcmp(p->s + p->pos, w, n))
		return -EINVAL;
	p->pos += n;
	return 0;
}

static int jp_hex4(struct jp *p, unsigned *out)
{
	unsigned v = 0;
	int i;

	if (p->len - p->pos < 4)
		return -EINVAL;
	for (i = 0; i < 4; i++) {
		char c = p->s[p->pos++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static size_t jp_utf8(unsigned cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* A string at p->pos (on its quote); *out is malloc'd, NUL-ended. */
static int jp_string(struct jp *p, char **out)
{
	size_t start = ++p->pos, cap, n = 0;
	char *d;
	unsigned cp, lo;

	/* The decoded text is never longer than the escaped one. */
	while (p->pos < p->len && p->s[p->pos] != '"')
		p->pos += p->s[p->pos] == '\\' ? 2 : 1;
	if (p->pos >= p->len)
		return -EINVAL;
	cap = p->pos - start + 1;
	d = malloc(cap);
	if (!d)
		return -ENOMEM;
	p->pos = start;
	while (p->s[p->pos] != '"') {
		char c = p->s[p->pos++];

		if ((unsigned char)c < 0x20)
			goto bad;
		if (c != '\\') {
			d[n++] = c;
			continue;
		}
		c = p->s[p->pos++];
		switch (c) {
		case '"': case '\\': case '/':
			d[n++] = c;
			break;
		case 'b': d[n++] = '\b'; break;
		case 'f': d[n++] = '\f'; break;
		case 'n': d[n++] = '\n'; break;
		case 'r': d[n++] = '\r'; break;
		case 't': d[n++] = '\t'; break;
		case 'u':
			if (jp_hex4(p, &cp))
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00 &&
			    p->len - p->pos >= 6 && p->s[p->pos] == '\\' &&
			    p->s[p->pos + 1] == 'u') {
				p->pos += 2;
				if (jp_hex4(p, &lo) || lo < 0xdc00 ||
				    lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			} else if (cp >= 0xd800 && cp < 0xe000) {
				cp = 0xfffd;
			}
			/* \u0000 would end the C string: show U+FFFD. */
			if (cp == 0)
				cp = 0xfffd;
			/* 6 escaped bytes always hold 3 UTF-8 bytes, 12
			 * hold 4. */
			n += jp_utf8(cp, d + n);
			break;
		default:
			goto bad;
		}
	}
	p->pos++;
	d[n] = '\0';
	*out = d;
	return 0;
bad:
	free(d);
	return -EINVAL;
}

static void jp_free_kids(struct tn_json *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		jp_free_kids(&v->kids[i]);
	free(v->kids);
	free(v->str);
	free(v->key);
}

static int jp_value(struct jp *p, struct tn_json *v);

static int jp_push(struct tn_json *v, size_t *cap, struct tn_json **kid)
{
	struct tn_json *k;

	if (v->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;

		k = realloc(v->kids, nc * sizeof(*k));
		if (!k)
			return -ENOMEM;
		v->kids = k;
		*cap = nc;
	}
	*kid = &v->kids[v->n++];
	memset(*kid, 0, sizeof(**kid));
	return 0;
}

static int jp_container(struct jp *p, struct tn_json *v, bool obj)
{
	char close = obj ? '}' : ']';
	struct tn_json *kid;
	size_t cap = 0;
	int rc;

	if (++p->depth > TN_JSON_MAX_DEPTH)
		return -EINVAL;
	v->type = obj ? TN_JSON_OBJ : TN_JSON_ARR;
	p->pos++;
	jp_ws(p);
	if (p->pos < p->len && p->s[p->pos] == close) {
		p->pos++;
		p->depth--;
		return 0;
	}
	for (;;) {
		rc = jp_push(v, &cap, &kid);
		if (rc)
			return rc;
		jp_ws(p);
		if (obj) {
			if (p->pos >= p->len || p->s[p->pos] != '"')
				return -EINVAL;
			rc = jp_string(p, &kid->key);
			if (rc)
				return rc;
			jp_ws(p);
			if (p->pos >= p->len || p->s[p->pos] != ':')
				return -EINVAL;
			p->pos++;
		}
		rc = jp_value(p, kid);
		if (rc)
			return rc;
		jp_ws(p);
		if (p->pos >= p->len)
			return -EINVAL;
		if (p->s[p->pos] == ',') {
			p->pos++;
			continue;
		}
		if (p->s[p->pos] != close)
			return -EINVAL;
		p->pos++;
		p->depth--;
		return 0;
	}
}

static int jp_number(struct jp *p, struct tn_json *v)
{
	size_t start = p->pos;
	char *end;

	while (p->pos < p->len && strchr("+-0123456789.eE", p->s[p->pos]) &&
	       p->s[p->pos])
		p->pos++;
	if (p->pos == start)
		return -EINVAL;
	v->type = TN_JSON_NUM;
	v->str = strndup(p->s + start, p->pos - start);
	if (!v->str)
		return -ENOMEM;
	v->num = strtod(v->str, &end);
	return *end ? -EINVAL : 0;
}

static int jp_value(struct jp *p, struct tn_json *v)
{
	jp_ws(p);
	if (p->pos >= p->len)
		return -EINVAL;
	switch (p->s[p->pos]) {
	case '{':
		return jp_container(p, v, true);
	case '[':
		return jp_container(p, v, false);
	case '"':
		v->type = TN_JSON_STR;
		return jp_string(p, &v->str);
	case 't':
		v->type = TN_JSON_BOOL;
		v->b = true;
		return jp_lit(p, "true");
	case 'f':
		v->type = TN_JSON_BOOL;
		return jp_lit(p, "false");
	case 'n':
		v->type = TN_JSON_NULL;
		return jp_lit(p, "null");
	default:
		return jp_number(p, v);
	}
}

struct tn_json *tn_json_parse(const char *s, size_t len)
{
	struct jp p = { .s = s, .len = len };
	struct tn_json *v = calloc(1, sizeof(*v));
	int rc;

	if (!v)
		return NULL;
	rc = jp_value(&p, v);
	if (!rc) {
		jp_ws(&p);
		if (p.pos != p.len)
			rc = -EINVAL;
	}
	if (rc) {
		tn_json_free(v);
		errno = -rc;
		return NULL;
	}
	return v;
}

void tn_json_free(struct tn_json *v)
{
	if (!v)
		return;
	jp_free_kids(v);
	free(v);
}

const struct tn_json *tn_json_get(const struct tn_json *v, const char *key)
{
	size_t i;

	if (!v || v->type != TN_JSON_OBJ)
		return NULL;
	for (i = 0; i < v->n; i++)
		if (!strcmp(v->kids[i].key, key))
			return &v->kids[i];
	return NULL;
}

const char *tn_json_cell(const struct tn_json *v, char *tmp, size_t n)
{
	size_t i, at = 0;
	char sub[256];

	if (!v || v->type == TN_JSON_NULL)
		return "-";
	switch (v->type) {
	case TN_JSON_BOOL:
		return v->b ? "true" : "false";
	case TN_JSON_NUM:
	case TN_JSON_STR:
		return v->str;
	case TN_JSON_ARR:
		if (n == 0)
			return "";
		tmp[0] = '\0';
		for (i = 0; i < v->n && at + 1 < n; i++) {
			int w = snprintf(tmp + at, n - at, "%s%s",
					 i ? "," : "",
					 tn_json_cell(&v->kids[i], sub,
						      sizeof(sub)));
			if (w < 0)
				break;
			at += (size_t)w;
		}
		return v->n ? tmp : "-";
	default:
		return "{...}";
	}
}
