/*
 * http.c - HTTP/1.1 requests for the dashboard: a resumable parser that
 * bounds the request line, the header block and the body before buffering
 * them, and the few response helpers the dashboard needs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "ipc/http.h"
#include "util/util.h"

/* Empty lines tolerated before a request line (RFC 9112 2.2). */
#define TN_HTTP_LEADING_CRLF_MAX 8

enum { ST_LINE, ST_HEADERS, ST_BODY };

static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int tn_http_pct_decode(char *s, size_t n, bool plus_is_space)
{
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		if (s[i] == '%') {
			int hi, lo;

			if (i + 2 >= n)
				return -EINVAL;
			hi = hexval((unsigned char)s[i + 1]);
			lo = hexval((unsigned char)s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			s[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (plus_is_space && s[i] == '+') {
			s[o++] = ' ';
		} else {
			s[o++] = s[i];
		}
	}
	return (int)o;
}

void tn_http_req_reset(struct tn_http_req *req)
{
	char *store = req->store;
	size_t cap = req->store_cap;

	memset(req, 0, offsetof(struct tn_http_req, store));
	req->store = store;
	req->store_cap = cap;
	req->path = "";
	req->query = "";
}

void tn_http_req_free(struct tn_http_req *req)
{
	free(req->store);
	req->store = NULL;
	req->store_cap = 0;
	tn_http_req_reset(req);
}

static int fail(struct tn_http_req *req, int status)
{
	req->status = status;
	return TN_HTTP_ERROR;
}

/* Is any segment of the decoded path exactly ".."? */
static bool has_dotdot(const char *p, size_t n)
{
	size_t i = 0, s;

	while (i < n) {
		s = i;
		while (i < n && p[i] != '/')
			i++;
		if (i - s == 2 && p[s] == '.' && p[s + 1] == '.')
			return true;
		i++;
	}
	return false;
}

/* The request target: origin-form, or absolute-form reduced to its path. */
static int parse_target(struct tn_http_req *req, const char *t, size_t n)
{
	size_t i, plen, qlen;
	const char *q;
	int dl;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)t[i];

		if (c <= 0x20 || c >= 0x7f || c == '#')
			return fail(req, 400);
	}
	if (n > 8 && !strncasecmp(t, "https://", 8)) {
		t += 8;
		n -= 8;
	} else if (n > 7 && !strncasecmp(t, "http://", 7)) {
		t += 7;
		n -= 7;
	} else if (n == 0 || t[0] != '/') {
		return fail(req, 400);
	}
	if (t[0] != '/') {
		/* Skip the authority of an absolute-form target. */
		while (n && *t != '/' && *t != '?') {
			t++;
			n--;
		}
	}
	q = memchr(t, '?', n);
	plen = q ? (size_t)(q - t) : n;
	qlen = q ? n - plen - 1 : 0;
	if (req->store_cap < n + 3) {
		char *s = realloc(req->store, n + 3);

		if (!s)
			return fail(req, 500);
		req->store = s;
		req->store_cap = n + 3;
	}
	if (plen == 0) {
		req->store[0] = '/';
		dl = 1;
	} else {
		memcpy(req->store, t, plen);
		dl = tn_http_pct_decode(req->store, plen, false);
		if (dl < 0 || memchr(req->store, '\0', (size_t)dl) ||
		    has_dotdot(req->store, (size_t)dl))
			return fail(req, 400);
	}
	req->store[dl] = '\0';
	memcpy(req->store + dl + 1, q ? q + 1 : "", qlen);
	req->store[dl + 1 + qlen] = '\0';
	req->path = req->store;
	req->query = req->store + dl + 1;
	return 0;
}

static int parse_request_line(struct tn_http_req *req, const char *l,
			      size_t n)
{
	const char *sp1, *sp2, *v;
	size_t mlen, vlen, i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c < 0x20 || c == 0x7f)
			return fail(req, 400);
	}
	sp1 = memchr(l, ' ', n);
	if (!sp1)
		return fail(req, 400);
	sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - l));
	if (!sp2 || memchr(sp2 + 1, ' ', n - (size_t)(sp2 + 1 - l)))
		return fail(req, 400);
	v = sp2 + 1;
	vlen = n - (size_t)(v - l);
	if (vlen != 8 || memcmp(v, "HTTP/", 5) || v[5] < '0' || v[5] > '9' ||
	    v[6] != '.' || v[7] < '0' || v[7] > '9')
		return fail(req, 400);
	if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
		return fail(req, 505);
	req->minor = v[7] - '0';
	mlen = (size_t)(sp1 - l);
	if (mlen == 0)
		return fail(req, 400);
	for (i = 0; i < mlen; i++)
		if (!is_tchar((unsigned char)l[i]))
			return fail(req, 400);
	if (mlen == 3 && !memcmp(l, "GET", 3))
		req->method = TN_HTTP_GET;
	else if (mlen == 4 && !memcmp(l, "HEAD", 4))
		req->method = TN_HTTP_HEAD;
	else if (mlen == 4 && !memcmp(l, "POST", 4))
		req->method = TN_HTTP_POST;
	else
		return fail(req, 405);
	return parse_target(req, sp1 + 1, (size_t)(sp2 - sp1 - 1));
}

static int parse_header_line(struct tn_http_req *req, const char *base,
			     size_t off, size_t n)
{
	const char *l = base + off;
	size_t i, vs, ve, colon;

	if (req->nhdr == TN_HTTP_HDR_MAX_FIELDS)
		return fail(req, 431);
	for (i = 0; i < n && l[i] != ':'; i++)
		if (!is_tchar((unsigned char)l[i]))
			return fail(req, 400); /* also obs-fold and "Name :" */
	if (i == 0 || i == n)
		return fail(req, 400);
	colon = i;
	vs = i + 1;
	ve = n;
	while (vs < ve && (l[vs] == ' ' || l[vs] == '\t'))
		vs++;
	while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
		ve--;
	for (i = vs; i < ve; i++) {
		unsigned char c = (unsigned char)l[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return fail(req, 400);
	}
	req->hoff[req->nhdr][0] = off;
	req->hoff[req->nhdr][1] = colon;
	req->hoff[req->nhdr][2] = off + vs;
	req->hoff[req->nhdr][3] = ve - vs;
	req->nhdr++;
	return 0;
}

static void resolve_headers(struct tn_http_req *req, const char *base)
{
	size_t i;

	for (i = 0; i < req->nhdr; i++) {
		req->hdr[i].name = base + req->hoff[i][0];
		req->hdr[i].nlen = req->hoff[i][1];
		req->hdr[i].val = base + req->hoff[i][2];
		req->hdr[i].vlen = req->hoff[i][3];
	}
}

static bool name_is(const struct tn_http_hdr *h, const char *name)
{
	return h->nlen == strlen(name) && !strncasecmp(h->name, name, h->nlen);
}

/* What the header block means for framing and the connection. */
static int finish_head(struct tn_http_req *req)
{
	size_t i, nhost = 0;

	for (i = 0; i < req->nhdr; i++) {
		const struct tn_http_hdr *h = &req->hdr[i];

		if (name_is(h, "Transfer-Encoding"))
			return fail(req, 501);
		if (name_is(h, "Host"))
			nhost++;
		if (name_is(h, "Content-Length")) {
			size_t v = 0, k;

			if (h->vlen == 0 || h->vlen > 18)
				return fail(req, h->vlen ? 413 : 400);
			for (k = 0; k < h->vlen; k++) {
				if (h->val[k] < '0' || h->val[k] > '9')
					return fail(req, 400);
				v = v * 10 + (size_t)(h->val[k] - '0');
			}
			if (req->has_length && v != req->content_length)
				return fail(req, 400);
			req->has_length = true;
			req->content_length = v;
		}
	}
	/* RFC 9112 3.2: a 1.1 request carries exactly one Host. */
	if (req->minor == 1 && nhost != 1)
		return fail(req, 400);
	if (nhost > 1)
		return fail(req, 400);
	if (req->content_length > TN_HTTP_BODY_MAX)
		return fail(req, 413);
	if (tn_http_header_has_token(req, "Connection", "close"))
		req->keep_alive = false;
	else if (req->minor == 1)
		req->keep_alive = true;
	else
		req->keep_alive =
			tn_http_header_has_token(req, "Connection", "keep-alive");
	return 0;
}

int tn_http_parse(struct tn_http_req *req, struct tn_buf *b)
{
	const char *base = b->data + b->off;
	size_t avail = b->len - b->off;
	int rc;

	while (req->state != ST_BODY) {
		const char *nl = NULL;
		size_t end, lend, len;

		if (req->pos < avail)
			nl = memchr(base + req->pos, '\n', avail - req->pos);
		if (!nl) {
			req->pos = avail;
			/* +1: the CR of a CRLF may already be here. */
			if (req->state == ST_LINE &&
			    avail - req->line_start > TN_HTTP_LINE_MAX + 1)
				return fail(req, 414);
			if (req->state == ST_HEADERS &&
			    avail - req->head_len > TN_HTTP_HDR_MAX_BYTES)
				return fail(req, 431);
			return TN_HTTP_MORE;
		}
		end = (size_t)(nl - base);
		lend = end;
		if (lend > req->line_start && base[lend - 1] == '\r')
			lend--;
		len = lend - req->line_start;
		if (memchr(base + req->line_start, '\r', len))
			return fail(req, 400); /* a bare CR */
		req->pos = end + 1;
		if (req->state == ST_LINE) {
			if (len > TN_HTTP_LINE_MAX)
				return fail(req, 414);
			if (len == 0) {
				if (req->pos > TN_HTTP_LEADING_CRLF_MAX * 2)
					return fail(req, 400);
				req->line_start = req->pos;
				continue;
			}
			rc = parse_request_line(req, base + req->line_start,
						len);
			if (rc)
				return rc;
			req->state = ST_HEADERS;
			req->head_len = req->pos; /* start of the headers */
		} else {
			if (req->pos - req->head_len > TN_HTTP_HDR_MAX_BYTES)
				return fail(req, 431);
			if (len == 0) {
				resolve_headers(req, base);
				req->head_len = req->pos;
				rc = finish_head(req);
				if (rc)
					return rc;
				req->state = ST_BODY;
				break;
			}
			rc = parse_header_line(req, base, req->line_start, len);
			if (rc)
				return rc;
		}
		req->line_start = req->pos;
	}
	if (avail - req->head_len < req->content_length)
		return TN_HTTP_MORE;
	resolve_headers(req, base);
	req->body = base + req->head_len;
	req->body_len = req->content_length;
	b->off += req->head_len + req->content_length;
	return TN_HTTP_DONE;
}

const char *tn_http_header(const struct tn_http_req *req, const char *name,
			   size_t *len)
{
	size_t i;

	for (i = 0; i < req->nhdr; i++) {
		if (name_is(&req->hdr[i], name)) {
			if (len)
				*len = req->hdr[i].vlen;
			return req->hdr[i].val;
		}
	}
	return NULL;
}

/* Split v on `sep`; call back with each trimmed item.  Stops on true. */
static bool each_item(const char *v, size_t n, char sep,
		      bool (*fn)(const char *p, size_t n, const void *arg),
		      const void *arg)
{
	size_t i = 0, s, e;

	while (i <= n) {
		s = i;
		while (i < n && v[i] != sep)
			i++;
		e = i;
		while (s < e && (v[s] == ' ' || v[s] == '\t'))
			s++;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e > s && fn(v + s, e - s, arg))
			return true;
		i++;
	}
	return false;
}

static bool token_eq(const char *p, size_t n, const void *arg)
{
	const char *t = arg;

	return n == strlen(t) && !strncasecmp(p, t, n);
}

bool tn_http_header_has_token(const struct tn_http_req *req,
			      const char *name, const char *token)
{
	size_t i;

	for (i = 0; i < req->nhdr; i++)
		if (name_is(&req->hdr[i], name) &&
		    each_item(req->hdr[i].val, req->hdr[i].vlen, ',', token_eq,
			      token))
			return true;
	return false;
}

struct cookie_find {
	const char *name;
	const char *val;
	size_t vlen;
};

static bool cookie_eq(const char *p, size_t n, const void *arg)
{
	struct cookie_find *cf = (struct cookie_find *)arg;
	size_t nl = strlen(cf->name);

	if (n > nl && p[nl] == '=' && !memcmp(p, cf->name, nl)) {
		cf->val = p + nl + 1;
		cf->vlen = n - nl - 1;
		return true;
	}
	return false;
}

const char *tn_http_cookie(const struct tn_http_req *req, const char *name,
			   size_t *len)
{
	struct cookie_find cf = { name, NULL, 0 };
	size_t i;

	for (i = 0; i < req->nhdr; i++)
		if (name_is(&req->hdr[i], "Cookie") &&
		    each_item(req->hdr[i].val, req->hdr[i].vlen, ';', cookie_eq,
			      &cf)) {
			if (len)
				*len = cf.vlen;
			return cf.val;
		}
	return NULL;
}

int tn_http_form_get(const char *s, size_t n, const char *name, char *out,
		     size_t outlen)
{
	size_t i = 0, nl = strlen(name), st, e;
	int dl;

	while (i <= n) {
		st = i;
		while (i < n && s[i] != '&')
			i++;
		e = i++;
		if (e - st < nl || memcmp(s + st, name, nl))
			continue;
		if (e - st == nl) {
			st = e; /* "name" alone: empty value */
		} else if (s[st + nl] == '=') {
			st += nl + 1;
		} else {
			continue;
		}
		if (e - st >= outlen)
			return -ENOSPC;
		memcpy(out, s + st, e - st);
		dl = tn_http_pct_decode(out, e - st, true);
		if (dl < 0 || memchr(out, '\0', (size_t)dl))
			return -EINVAL;
		out[dl] = '\0';
		return dl;
	}
	return -ENOENT;
}

const char *tn_http_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 204: return "No Content";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Unknown";
	}
}

int tn_http_head(struct tn_buf *out, int status, const char *ctype,
		 long long clen, bool keep_alive, const char *extra)
{
	char date[64];
	struct tm tm;
	time_t now = time(NULL);
	int rc;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	rc = tn_buf_printf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\nServer: titan/%s\r\n",
			   status, tn_http_reason(status), date, TN_VERSION);
	if (!rc && ctype)
		rc = tn_buf_printf(out, "Content-Type: %s\r\n", ctype);
	if (!rc && clen >= 0)
		rc = tn_buf_printf(out, "Content-Length: %lld\r\n", clen);
	if (!rc)
		rc = tn_buf_printf(out, "Connection: %s\r\n%s\r\n",
				   keep_alive ? "keep-alive" : "close",
				   extra ? extra : "");
	return rc;
}

int tn_http_respond(struct tn_buf *out, int status, const char *ctype,
		    const void *body, size_t len, bool keep_alive, bool head,
		    const char *extra)
{
	int rc = tn_http_head(out, status, ctype, (long long)len, keep_alive,
			      extra);

	if (!rc && !head)
		rc = tn_buf_append(out, body, len);
	return rc;
}

int tn_http_error(struct tn_buf *out, int status)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%d %s\n", status,
			 tn_http_reason(status));

	return tn_http_respond(out, status, "text/plain; charset=utf-8", body,
			       (size_t)n, false, false,
			       status == 405 ? "Allow: GET, HEAD, POST\r\n"
					     : NULL);
}
