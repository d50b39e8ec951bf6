/*
 * reply.c - the reply writer: RESP2 and RESP3 encodings byte for byte as
 * Redis 7.0 emits them (networking.c addReply*), appended to the client's
 * output buffer.  A failed allocation sets r->oom; the caller closes.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"
#include "util/util.h"

/* Type byte + "-9223372036854775808" + CRLF, with room for ll2str's NUL. */
#define TN_HDR_MAX 32
/* Redis' MAX_LONG_DOUBLE_CHARS: %.17Lf of the largest long double fits. */

/* Room for n more bytes at the end of the buffer, or NULL (and oom). */
static char *reply_room(struct tn_reply *r, size_t n)
{
	if (tn_buf_reserve(r->out, n)) {
		r->oom = true;
		return NULL;
	}
	return r->out->data + r->out->len;
}

/* "<type><n>\r\n" into p; returns its length. */
static size_t put_hdr(char *p, char type, long long n)
{
	size_t l = 1;

	p[0] = type;
	/* most counts and lengths have one or two digits */
	if (n >= 0 && n < 10) {
		p[l++] = (char)('0' + n);
	} else if (n >= 10 && n < 100) {
		p[l++] = (char)('0' + n / 10);
		p[l++] = (char)('0' + n % 10);
	} else {
		l += (size_t)tn_ll2str(p + 1, n);
	}
	p[l++] = '\r';
	p[l++] = '\n';
	return l;
}

static void reply_hdr(struct tn_reply *r, char type, long long n)
{
	char *p = reply_room(r, TN_HDR_MAX);

	if (p)
		r->out->len += put_hdr(p, type, n);
}

void tn_reply_raw(struct tn_reply *r, const void *p, size_t n)
{
	if (tn_buf_append(r->out, p, n))
		r->oom = true;
}

void tn_reply_ok(struct tn_reply *r)
{
	tn_reply_raw(r, "+OK\r\n", 5);
}

void tn_reply_status(struct tn_reply *r, const char *s)
{
	size_t n = strlen(s);
	char *p = reply_room(r, n + 3);

	if (!p)
		return;
	p[0] = '+';
	memcpy(p + 1, s, n);
	p[n + 1] = '\r';
	p[n + 2] = '\n';
	r->out->len += n + 3;
}

void tn_reply_error(struct tn_reply *r, const char *msg)
{
	size_t n = strlen(msg), i;
	char *p;

	/* As addReplyErrorLength: a message already carrying '-' keeps it,
	 * an empty one gets Redis' generic code. */
	if (n && msg[0] == '-') {
		msg++;
		n--;
	} else if (n == 0) {
		msg = "ERR ";
		n = 4;
	}
	p = reply_room(r, n + 3);
	if (!p)
		return;
	p[0] = '-';
	/* A newline inside would end the error early and desync the client. */
	for (i = 0; i < n; i++)
		p[i + 1] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
	p[n + 1] = '\r';
	p[n + 2] = '\n';
	r->out->len += n + 3;
}

void tn_reply_errorf(struct tn_reply *r, const char *fmt, ...)
{
	char small[256], *msg = small;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0) {
		tn_reply_error(r, "ERR");
		return;
	}
	if ((size_t)n >= sizeof(small)) {
		msg = malloc((size_t)n + 1);
		if (!msg) {
			r->oom = true;
			return;
		}
		va_start(ap, fmt);
		vsnprintf(msg, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	tn_reply_error(r, msg);
	if (msg != small)
		free(msg);
}

void tn_reply_int(struct tn_reply *r, long long v)
{
	reply_hdr(r, ':', v);
}

void tn_reply_bulk(struct tn_reply *r, const void *s, size_t n)
{
	char *p;
	size_t l;

	if (n > SIZE_MAX - TN_HDR_MAX - 2) {
		r->oom = true;
		return;
	}
	p = reply_room(r, TN_HDR_MAX + n + 2);
	if (!p)
		return;
	l = put_hdr(p, '$', (long long)n);
	if (n)
		memcpy(p + l, s, n);
	l += n;
	p[l++] = '\r';
	p[l++] = '\n';
	r->out->len += l;
}

void tn_reply_bulkstr(struct tn_reply *r, const char *s)
{
	tn_reply_bulk(r, s, strlen(s));
}

void tn_reply_bulk_ll(struct tn_reply *r, long long v)
{
	char buf[TN_HDR_MAX];
	int n = tn_ll2str(buf, v);

	tn_reply_bulk(r, buf, (size_t)n);
}

/* A double as Redis 7.0 prints it (%.17g; inf spelled out, not libc's). */
static int fmt_double(char *buf, size_t len, double d)
{
	if (isinf(d))
		return snprintf(buf, len, "%s", d > 0 ? "inf" : "-inf");
	if (isnan(d))
		return snprintf(buf, len, "nan");
	return snprintf(buf, len, "%.17g", d);
}

void tn_reply_double(struct tn_reply *r, double d)
{
	char buf[64];
	int n = fmt_double(buf, sizeof(buf), d);
	char *p;

	if (r->resp == 2) {
		tn_reply_bulk(r, buf, (size_t)n);
		return;
	}
	p = reply_room(r, (size_t)n + 3);
	if (!p)
		return;
	p[0] = ',';
	memcpy(p + 1, buf, (size_t)n);
	p[n + 1] = '\r';
	p[n + 2] = '\n';
	r->out->len += (size_t)n + 3;
}

void tn_reply_long_double(struct tn_reply *r, long double d)
{
	char buf[TN_LD_MAX_CHARS];
	size_t n;

	if (isinf(d)) {
		tn_reply_bulkstr(r, d > 0 ? "inf" : "-inf");
		return;
	}
	n = tn_ld2str(buf, sizeof(buf), d);
	if (!n) {
		tn_reply_error(r, "ERR number too large to print");
		return;
	}
	tn_reply_bulk(r, buf, (size_t)n);
}

void tn_reply_null(struct tn_reply *r)
{
	if (r->resp == 2)
		tn_reply_raw(r, "$-1\r\n", 5);
	else
		tn_reply_raw(r, "_\r\n", 3);
}

void tn_reply_null_array(struct tn_reply *r)
{
	if (r->resp == 2)
		tn_reply_raw(r, "*-1\r\n", 5);
	else
		tn_reply_raw(r, "_\r\n", 3);
}

void tn_reply_bool(struct tn_reply *r, bool b)
{
	if (r->resp == 2)
		tn_reply_raw(r, b ? ":1\r\n" : ":0\r\n", 4);
	else
		tn_reply_raw(r, b ? "#t\r\n" : "#f\r\n", 4);
}

void tn_reply_array(struct tn_reply *r, long long n)
{
	reply_hdr(r, '*', n);
}

void tn_reply_map(struct tn_reply *r, long long n)
{
	if (r->resp == 2)
		reply_hdr(r, '*', n * 2);
	else
		reply_hdr(r, '%', n);
}

void tn_reply_set(struct tn_reply *r, long long n)
{
	reply_hdr(r, r->resp == 2 ? '*' : '~', n);
}

void tn_reply_push(struct tn_reply *r, long long n)
{
	reply_hdr(r, r->resp == 2 ? '*' : '>', n);
}

void tn_reply_verbatim(struct tn_reply *r, const char *s, size_t n)
{
	char *p;
	size_t l;

	if (r->resp == 2) {
		tn_reply_bulk(r, s, n);
		return;
	}
	if (n > SIZE_MAX - TN_HDR_MAX - 6) {
		r->oom = true;
		return;
	}
	p = reply_room(r, TN_HDR_MAX + 4 + n + 2);
	if (!p)
		return;
	l = put_hdr(p, '=', (long long)n + 4);
	memcpy(p + l, "txt:", 4);
	l += 4;
	if (n)
		memcpy(p + l, s, n);
	l += n;
	p[l++] = '\r';
	p[l++] = '\n';
	r->out->len += l;
}

size_t tn_reply_defer(struct tn_reply *r)
{
	return r->out->len;
}

/*
 * The header's width depends on n, so nothing is reserved up front: the
 * elements written since the mark are moved right by exactly the
 * header's length.  One memmove per deferred reply, and no filler bytes
 * a client could trip on.  The mark is a position in r->out->data, so
 * the buffer must not be compacted between the two calls.
 */
void tn_reply_defer_set(struct tn_reply *r, size_t mark, char kind,
			long long n)
{
	struct tn_buf *b = r->out;
	char hdr[TN_HDR_MAX];
	size_t h;

	/* After a failed write the elements are incomplete anyway. */
	if (r->oom || mark > b->len)
		return;
	if (r->resp == 2) {
		if (kind == '%')
			n *= 2;
		kind = '*';
	}
	h = put_hdr(hdr, kind, n);
	if (!reply_room(r, h))
		return;
	memmove(b->data + mark + h, b->data + mark, b->len - mark);
	memcpy(b->data + mark, hdr, h);
	b->len += h;
}
