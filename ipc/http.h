/*
 * http.h - the dashboard's HTTP/1.1 request parser (resumable, every
 * length bounded before it is buffered) and response helpers.
 */
#ifndef TN_HTTP_H
#define TN_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "ipc/ipc.h"

#define TN_HTTP_LINE_MAX 8192	     /* request line; past it: 414 */
#define TN_HTTP_HDR_MAX_FIELDS 100   /* past it: 431 */
#define TN_HTTP_HDR_MAX_BYTES 16384  /* header block; past it: 431 */
#define TN_HTTP_BODY_MAX (64 * 1024) /* Content-Length; past it: 413 */

enum tn_http_method {
	TN_HTTP_GET,
	TN_HTTP_HEAD,
	TN_HTTP_POST,
};

struct tn_http_hdr {
	const char *name; /* as sent; compare case-insensitively */
	size_t nlen;
	const char *val; /* surrounding whitespace trimmed */
	size_t vlen;
};

/*
 * Parser state, kept across reads.  Positions are offsets from buf->off
 * (the request's first byte) so the buffer may grow or move while a
 * request is incomplete.  Pointers in the result (path, query, hdr, body)
 * point into the buffer or the request's own store: they stay valid until
 * the next tn_http_parse() or tn_http_req_reset().
 */
struct tn_http_req {
	/* parser */
	int state;	   /* 0 request line, 1 headers, 2 body */
	size_t pos;	   /* bytes scanned, from buf->off */
	size_t line_start; /* first byte of the line being read */
	size_t head_len;   /* request line + headers, with the empty line */
	size_t nhdr;
	size_t hoff[TN_HTTP_HDR_MAX_FIELDS][4]; /* name off/len, value off/len */
	size_t target_off, target_len;
	/* result */
	int method;	   /* enum tn_http_method */
	int minor;	   /* HTTP/1.<minor>: 0 or 1 */
	bool keep_alive;   /* what the Connection rules give */
	bool has_length;
	size_t content_length;
	int status;	   /* on TN_HTTP_ERROR: the status to reply */
	const char *path;  /* percent-decoded, NUL-terminated */
	const char *query; /* raw, without '?', NUL-terminated ("" if none) */
	struct tn_http_hdr hdr[TN_HTTP_HDR_MAX_FIELDS];
	const char *body;
	size_t body_len;
	char *store; /* path and query copies */
	size_t store_cap;
};

enum {
	TN_HTTP_MORE = 0,   /* need more bytes */
	TN_HTTP_DONE = 1,   /* a complete request; b->off moved past it */
	TN_HTTP_ERROR = -1, /* req->status says which; reply it, then close */
};

/*
 * Parse one request from b->data[b->off .. b->len).  Any split of the
 * bytes across calls gives the same result.  An error is reported as soon
 * as the bytes seen prove it (an over-long line before its end arrives).
 */
int tn_http_parse(struct tn_http_req *req, struct tn_buf *b);
void tn_http_req_reset(struct tn_http_req *req); /* keeps the store */
void tn_http_req_free(struct tn_http_req *req);

/* A header's value, or NULL; *len gets its length. */
const char *tn_http_header(const struct tn_http_req *req, const char *name,
			   size_t *len);
/* Does a comma-separated header (Connection) list this token? */
bool tn_http_header_has_token(const struct tn_http_req *req,
			      const char *name, const char *token);
/* A cookie's value from the Cookie headers, or NULL. */
const char *tn_http_cookie(const struct tn_http_req *req, const char *name,
			   size_t *len);
/*
 * One field of an application/x-www-form-urlencoded string (a query or a
 * POST body), decoded ('+' is a space) into out (NUL-terminated).
 * Returns its length, -ENOENT if absent, -EINVAL if malformed or
 * containing NUL, -ENOSPC if longer than outlen - 1.
 */
int tn_http_form_get(const char *s, size_t n, const char *name, char *out,
		     size_t outlen);
/* Decode %XX in place; -EINVAL on a bad escape.  Returns the new length. */
int tn_http_pct_decode(char *s, size_t n, bool plus_is_space);

const char *tn_http_reason(int status);
/*
 * A response head: status line, Date, Server, Content-Type (if ctype),
 * Content-Length (if clen >= 0), Connection (keep-alive or close), then
 * `extra` (zero or more "Name: value\r\n" lines) and the empty line.
 */
int tn_http_head(struct tn_buf *out, int status, const char *ctype,
		 long long clen, bool keep_alive, const char *extra);
/* A whole response with a body (no body bytes for HEAD). */
int tn_http_respond(struct tn_buf *out, int status, const char *ctype,
		    const void *body, size_t len, bool keep_alive, bool head,
		    const char *extra);
/* The short text response sent for parse errors (always closes). */
int tn_http_error(struct tn_buf *out, int status);

#endif
