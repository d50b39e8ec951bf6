/*
 * resp.c - the resumable RESP request parser, a port of Redis 7.0's
 * processMultibulkBuffer/processInlineBuffer: same limits, same error
 * strings, safe for input split at any byte and for a moving buffer.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"
#include "util/util.h"

/* Redis' defaults for proto-max-bulk-len and client-query-buffer-limit,
 * used when the caller leaves a limit at 0. */
#define TN_PROTO_MAX_BULK_DEFAULT (512LL * 1024 * 1024)
#define TN_MAX_QUERY_DEFAULT (1024LL * 1024 * 1024)
/* Redis 7's limits before AUTH (CVE-2021-32675). */
#define TN_UNAUTH_MAX_ARGS 10
#define TN_UNAUTH_MAX_BULK 16384
/* Never trust the announced count for more than this many slots. */
#define TN_ARGV_INITIAL_MAX 1024
/* Arrays above these sizes are freed between requests, as Redis frees
 * argv, so one huge request does not pin its memory for good. */
#define TN_ARGV_KEEP_MAX 1024
#define TN_INLINE_KEEP_MAX TN_INLINE_MAX
/* Redis' wording for every framing error; clients match on it. */
#define PROTO "ERR Protocol error: "

static int resp_fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int resp_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return TN_RESP_ERROR;
}

/* Grow the three per-argument arrays together so filling argv at the
 * end of a request can never fail. */
static int req_grow(struct tn_resp_req *req, size_t cap)
{
	size_t *off, *len;
	struct tn_arg *argv;

	if (cap <= req->argcap)
		return 0;
	if (cap > SIZE_MAX / sizeof(struct tn_arg))
		return -ENOMEM;
	off = realloc(req->arg_off, cap * sizeof(*off));
	if (!off)
		return -ENOMEM;
	req->arg_off = off;
	len = realloc(req->arg_len, cap * sizeof(*len));
	if (!len)
		return -ENOMEM;
	req->arg_len = len;
	argv = realloc(req->argv, cap * sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	req->argv = argv;
	req->argcap = cap;
	return 0;
}

static void req_release_arrays(struct tn_resp_req *req)
{
	free(req->arg_off);
	free(req->arg_len);
	free(req->argv);
	req->arg_off = req->arg_len = NULL;
	req->argv = NULL;
	req->argcap = 0;
}

void tn_resp_req_reset(struct tn_resp_req *req)
{
	req->state = 0;
	req->pos = 0;
	req->mbulk_left = 0;
	req->bulk_len = -1;
	req->argc = 0;
	if (req->argcap > TN_ARGV_KEEP_MAX)
		req_release_arrays(req);
	if (req->inline_cap > TN_INLINE_KEEP_MAX) {
		free(req->inline_store);
		req->inline_store = NULL;
		req->inline_cap = 0;
	}
}

void tn_resp_req_free(struct tn_resp_req *req)
{
	req_release_arrays(req);
	free(req->inline_store);
	memset(req, 0, sizeof(*req));
	req->bulk_len = -1;
}

static int parse_inline(struct tn_resp_req *req, struct tn_buf *b,
			char *err, size_t errlen)
{
	const char *start = b->data + b->off;
	size_t avail = tn_buf_pending(b);
	const char *nl = memchr(start, '\n', avail);
	size_t linelen, skip;
	int argc;

	if (!nl) {
		if (avail > TN_INLINE_MAX)
			return resp_fail(err, errlen,
					 PROTO "too big inline request");
		return TN_RESP_MORE;
	}
	skip = (size_t)(nl - start) + 1;
	linelen = skip - 1;
	if (linelen > 0 && start[linelen - 1] == '\r')
		linelen--;

	if (linelen > req->inline_cap) {
		char *p = realloc(req->inline_store, linelen);

		if (!p)
			return resp_fail(err, errlen, "ERR out of memory");
		req->inline_store = p;
		req->inline_cap = linelen;
	}
	argc = tn_split_args(start, linelen, req->inline_store, req->argv,
			     req->argcap);
	if (argc < 0)
		return resp_fail(err, errlen,
				 PROTO "unbalanced quotes in request");
	if ((size_t)argc > req->argcap) {
		/* Sized by the words actually on the line, never by a claim. */
		if (req_grow(req, (size_t)argc))
			return resp_fail(err, errlen, "ERR out of memory");
		tn_split_args(start, linelen, req->inline_store, req->argv,
			      req->argcap);
	}
	req->argc = (size_t)argc;
	b->off += skip;
	return argc ? TN_RESP_DONE : TN_RESP_EMPTY;
}

/*
 * The digits of a count or length line at p, up to its '\r', as tn_str2ll
 * reads them, in the common case only: no sign, no leading zero, at most
 * 18 digits, and the byte after the '\r' already there.  Returns the
 * line's length without CRLF, or 0 to take the general path (which also
 * words the errors).
 */
static inline size_t quick_count(const char *p, size_t avail, long long *out)
{
	long long n;
	size_t i;

	if (avail < 4 || p[1] < '0' || p[1] > '9')
		return 0;
	if (p[1] == '0') {
		if (p[2] != '\r')
			return 0;
		*out = 0;
		return 2;
	}
	n = p[1] - '0';
	for (i = 2; i < avail && i < 19 && p[i] >= '0' && p[i] <= '9'; i++)
		n = n * 10 + (p[i] - '0');
	if (i + 2 > avail || p[i] != '\r')
		return 0;
	*out = n;
	return i;
}

/* The "*<count>\r\n" line.  Returns MORE, EMPTY, ERROR, or DONE meaning
 * "carry on with the arguments". */
static int parse_mbulk_count(struct tn_resp_req *req, struct tn_buf *b,
			     const struct tn_resp_limits *lim, char *err,
			     size_t errlen)
{
	const char *start = b->data + b->off;
	size_t avail = tn_buf_pending(b);
	const char *cr;
	size_t linelen;
	long long n;

	linelen = quick_count(start, avail, &n);
	if (linelen)
		goto counted;
	cr = memchr(start, '\r', avail);
	if (!cr) {
		if (avail > TN_INLINE_MAX)
			return resp_fail(err, errlen,
					 PROTO "too big mbulk count string");
		return TN_RESP_MORE;
	}
	linelen = (size_t)(cr - start);
	/* Redis only asks for one byte after the '\r', and skips it. */
	if (linelen + 2 > avail)
		return TN_RESP_MORE;
	if (!tn_str2ll(start + 1, linelen - 1, &n))
		return resp_fail(err, errlen, PROTO "invalid multibulk length");
counted:
	if (n > INT_MAX)
		return resp_fail(err, errlen, PROTO "invalid multibulk length");
	if (n > TN_UNAUTH_MAX_ARGS && !lim->authenticated)
		return resp_fail(err, errlen,
				 PROTO "unauthenticated multibulk length");
	if (n <= 0) {
		b->off += linelen + 2;
		return TN_RESP_EMPTY;
	}
	if (req_grow(req, TN_MIN((size_t)n, (size_t)TN_ARGV_INITIAL_MAX)))
		return resp_fail(err, errlen, "ERR out of memory");
	req->pos = linelen + 2;
	req->mbulk_left = n;
	req->bulk_len = -1;
	req->state = 1;
	return TN_RESP_DONE;
}

/* A "$<len>\r\n" line at p.  DONE means req->bulk_len is set and
 * req->pos is past the line. */
static int parse_bulk_len(struct tn_resp_req *req, const char *p,
			  size_t avail, const struct tn_resp_limits *lim,
			  char *err, size_t errlen)
{
	long long max_bulk = lim->max_bulk > 0 ? lim->max_bulk :
						 TN_PROTO_MAX_BULK_DEFAULT;
	const char *cr;
	size_t linelen;
	long long n;

	if (avail && p[0] == '$') {
		linelen = quick_count(p, avail, &n);
		if (linelen)
			goto counted;
	}
	cr = memchr(p, '\r', avail);
	if (!cr) {
		if (avail > TN_INLINE_MAX)
			return resp_fail(err, errlen,
					 PROTO "too big bulk count string");
		return TN_RESP_MORE;
	}
	linelen = (size_t)(cr - p);
	if (linelen + 2 > avail)
		return TN_RESP_MORE;
	if (p[0] != '$')
		return resp_fail(err, errlen, PROTO "expected '$', got '%c'",
				 p[0]);
	if (!tn_str2ll(p + 1, linelen - 1, &n) || n < 0)
		return resp_fail(err, errlen, PROTO "invalid bulk length");
counted:
	if (n > max_bulk)
		return resp_fail(err, errlen, PROTO "invalid bulk length");
	if (n > TN_UNAUTH_MAX_BULK && !lim->authenticated)
		return resp_fail(err, errlen,
				 PROTO "unauthenticated bulk length");
	req->pos += linelen + 2;
	req->bulk_len = n;
	return TN_RESP_DONE;
}

static int parse_mbulk_args(struct tn_resp_req *req, struct tn_buf *b,
			    const struct tn_resp_limits *lim, char *err,
			    size_t errlen)
{
	const char *base = b->data + b->off;
	size_t pending = tn_buf_pending(b);
	size_t i;
	int rc;

	while (req->mbulk_left > 0) {
		if (req->bulk_len == -1) {
			rc = parse_bulk_len(req, base + req->pos,
					    pending - req->pos, lim, err,
					    errlen);
			if (rc != TN_RESP_DONE)
				return rc;
		}
		/* +2: the CRLF after the payload, which Redis skips unread. */
		if (pending - req->pos < (size_t)req->bulk_len + 2)
			return TN_RESP_MORE;
		if (req->argc == req->argcap) {
			size_t cap = req->argcap * 2;
			size_t most = req->argc + (size_t)req->mbulk_left;

			if (req_grow(req, TN_MIN(cap, most)))
				return resp_fail(err, errlen,
						 "ERR out of memory");
		}
		req->arg_off[req->argc] = req->pos;
		req->arg_len[req->argc] = (size_t)req->bulk_len;
		req->argc++;
		req->pos += (size_t)req->bulk_len + 2;
		req->bulk_len = -1;
		req->mbulk_left--;
	}
	for (i = 0; i < req->argc; i++) {
		req->argv[i].p = base + req->arg_off[i];
		req->argv[i].len = req->arg_len[i];
	}
	b->off += req->pos;
	req->state = 0;
	return TN_RESP_DONE;
}

int tn_resp_parse(struct tn_resp_req *req, struct tn_buf *b,
		  const struct tn_resp_limits *lim, char *err, size_t errlen)
{
	long long max_query = lim->max_query > 0 ? lim->max_query :
						   TN_MAX_QUERY_DEFAULT;
	int rc;

	if (req->state == 0) {
		tn_resp_req_reset(req);
		if (tn_buf_pending(b) == 0)
			return TN_RESP_MORE;
		if (b->data[b->off] != '*') {
			rc = parse_inline(req, b, err, errlen);
			goto out;
		}
		rc = parse_mbulk_count(req, b, lim, err, errlen);
		if (rc != TN_RESP_DONE)
			goto out;
	}
	rc = parse_mbulk_args(req, b, lim, err, errlen);
out:
	if (rc == TN_RESP_ERROR) {
		req->state = 0;
	} else if (rc == TN_RESP_MORE &&
		   tn_buf_pending(b) > (unsigned long long)max_query) {
		req->state = 0;
		rc = resp_fail(err, errlen,
			       PROTO "client query buffer limit exceeded");
	}
	return rc;
}

static inline bool split_isspace(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static inline char unescape(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'b':
		return '\b';
	case 'a':
		return '\a';
	default:
		return c;
	}
}

/*
 * One word of an inline line, starting at a non-blank p; its unescaped
 * bytes go to *wp.  Returns the position after it (and after the blank
 * that ended it), or NULL on unbalanced quotes.  The (end - p) checks
 * stand in for sdssplitargs' reads up to the NUL terminator.
 */
static const char *split_word(const char *p, const char *end, char **wp)
{
	bool inq = false, insq = false;
	char *w = *wp;

	for (;; p++) {
		if (inq) {
			if (p == end)
				return NULL;
			if (*p == '\\' && end - p >= 4 && p[1] == 'x' &&
			    hexval(p[2]) >= 0 && hexval(p[3]) >= 0) {
				*w++ = (char)(hexval(p[2]) * 16 + hexval(p[3]));
				p += 3;
			} else if (*p == '\\' && end - p >= 2) {
				p++;
				*w++ = unescape(*p);
			} else if (*p == '"') {
				/* "foo"bar is an error, not two words. */
				if (end - p >= 2 && !split_isspace(p[1]))
					return NULL;
				p++;
				break;
			} else {
				*w++ = *p;
			}
		} else if (insq) {
			if (p == end)
				return NULL;
			if (*p == '\\' && end - p >= 2 && p[1] == '\'') {
				p++;
				*w++ = '\'';
			} else if (*p == '\'') {
				if (end - p >= 2 && !split_isspace(p[1]))
					return NULL;
				p++;
				break;
			} else {
				*w++ = *p;
			}
		} else if (p == end) {
			break;
		} else if (*p == ' ' || *p == '\n' || *p == '\r' ||
			   *p == '\t') {
			/* Not \v or \f: those are blanks only between words. */
			p++;
			break;
		} else if (*p == '"') {
			inq = true;
		} else if (*p == '\'') {
			insq = true;
		} else {
			*w++ = *p;
		}
	}
	*wp = w;
	return p;
}

int tn_split_args(const char *line, size_t len, char *store,
		  struct tn_arg *argv, size_t argmax)
{
	/* sdssplitargs reads a C string: a NUL ends the line. */
	const char *nul = memchr(line, '\0', len);
	const char *p = line, *end = nul ? nul : line + len;
	size_t argc = 0;
	char *w = store;

	for (;;) {
		char *word = w;

		while (p < end && split_isspace(*p))
			p++;
		if (p == end)
			break;
		p = split_word(p, end, &w);
		if (!p)
			return -1;
		if (argc < argmax) {
			argv[argc].p = word;
			argv[argc].len = (size_t)(w - word);
		}
		argc++;
	}
	return argc > INT_MAX ? -1 : (int)argc;
}
