/*
 * test_http.c - the dashboard's HTTP/1.1 parser: every class of malformed
 * request with its status, the length bounds reported before the bytes
 * arrive, keep-alive rules, pipelines split at every byte, and helpers.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/http.h"

/* Parse `n` bytes delivered in chunks cut at `cuts` (ascending, may be
 * empty); describe each request in `log`.  Returns 0 or the error
 * status; *err_at gets how many bytes had arrived when it was seen. */
static int run(const char *s, size_t n, const size_t *cuts, size_t ncuts,
	       struct tn_buf *log, size_t *err_at)
{
	struct tn_http_req req = { 0 };
	struct tn_buf in = { 0 };
	size_t fed = 0, k;
	int rc, status = 0;

	tn_http_req_reset(&req);
	for (k = 0; k <= ncuts && !status; k++) {
		size_t to = k < ncuts ? cuts[k] : n;

		tn_buf_append(&in, s + fed, to - fed);
		fed = to;
		for (;;) {
			rc = tn_http_parse(&req, &in);
			if (rc == TN_HTTP_MORE)
				break;
			if (rc == TN_HTTP_ERROR) {
				status = req.status;
				if (err_at)
					*err_at = fed;
				break;
			}
			tn_buf_printf(log, "[m%d v%d ka%d p=%s q=%s body=%.*s",
				      req.method, req.minor, req.keep_alive,
				      req.path, req.query, (int)req.body_len,
				      req.body);
			for (size_t i = 0; i < req.nhdr; i++)
				tn_buf_printf(log, " %.*s:%.*s",
					      (int)req.hdr[i].nlen,
					      req.hdr[i].name,
					      (int)req.hdr[i].vlen,
					      req.hdr[i].val);
			tn_buf_printf(log, "]");
			tn_http_req_reset(&req);
		}
	}
	tn_http_req_free(&req);
	tn_buf_free(&in);
	return status;
}

static int parse1(const char *s, struct tn_buf *log)
{
	return run(s, strlen(s), NULL, 0, log, NULL);
}

static int status_of(const char *s)
{
	struct tn_buf log = { 0 };
	int st = parse1(s, &log);

	tn_buf_free(&log);
	return st;
}

static const char pipeline[] =
	"GET /api/jobs/DAG-a%20b?x=1&y=%41 HTTP/1.1\r\nHost: h\r\n"
	"Accept: */*\r\n\r\n"
	"\r\n" /* a stray CRLF between requests is tolerated */
	"POST /login HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
	"Connection: close\r\n\r\ntoken=s3crt"
	"HEAD /static/app.js HTTP/1.0\nConnection: Keep-Alive\n\n"
	"GET http://example.org:5000/abs/form HTTP/1.0\r\n\r\n";

Test(http, pipeline_fields)
{
	struct tn_buf log = { 0 };

	cr_assert_eq(parse1(pipeline, &log), 0);
	tn_buf_append(&log, "", 1);
	cr_assert_str_eq(
		log.data,
		"[m0 v1 ka1 p=/api/jobs/DAG-a b q=x=1&y=%41 body= Host:h "
		"Accept:*/*]"
		"[m2 v1 ka0 p=/login q= body=token=s3crt Host:h "
		"Content-Length:11 Connection:close]"
		"[m1 v0 ka1 p=/static/app.js q= body= Connection:Keep-Alive]"
		"[m0 v0 ka0 p=/abs/form q= body=]");
	tn_buf_free(&log);
}

Test(http, every_split_parses_the_same)
{
	size_t n = strlen(pipeline), i, j;
	struct tn_buf want = { 0 };

	cr_assert_eq(parse1(pipeline, &want), 0);
	for (i = 0; i <= n; i++) {
		struct tn_buf got = { 0 };
		size_t cut[1] = { i };

		cr_assert_eq(run(pipeline, n, cut, 1, &got, NULL), 0);
		cr_assert_eq(got.len, want.len, "split at %zu", i);
		cr_assert(!memcmp(got.data, want.data, got.len), "split %zu", i);
		tn_buf_free(&got);
	}
	/* And one byte at a time. */
	{
		size_t *cuts = malloc(n * sizeof(*cuts));
		struct tn_buf got = { 0 };

		for (j = 0; j < n; j++)
			cuts[j] = j + 1;
		cr_assert_eq(run(pipeline, n, cuts, n - 1, &got, NULL), 0);
		cr_assert_eq(got.len, want.len);
		cr_assert(!memcmp(got.data, want.data, got.len));
		tn_buf_free(&got);
		free(cuts);
	}
	tn_buf_free(&want);
}

struct bad {
	const char *req;
	int status;
};

static const struct bad bads[] = {
	/* syntax */
	{ "GET\r\n\r\n", 400 },
	{ "GET /\r\n\r\n", 400 }, /* HTTP/0.9 form */
	{ "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400 },
	{ " GET / HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET / http/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET / HTTP/1.x\r\nHost: h\r\n\r\n", 400 },
	{ "GET / HTTP/11\r\nHost: h\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\rX\r\nHost: h\r\n\r\n", 400 }, /* bare CR */
	{ "GET /a\tb HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET relative HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /#frag HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n", 400 },
	/* path decoding */
	{ "GET /a%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /a%4 HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /a% HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /a%00b HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /../etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /static/.. HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /a/%2e%2E/b HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	{ "GET /a/.%2e HTTP/1.1\r\nHost: h\r\n\r\n", 400 },
	/* headers */
	{ "GET / HTTP/1.1\r\nHost h\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\n: h\r\nHost: h\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x7f\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\nHo\"st: h\r\n\r\n", 400 },
	{ "GET / HTTP/1.1\r\n\r\n", 400 }, /* 1.1 needs Host */
	{ "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
	{ "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400 },
	/* framing */
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: x\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1, 1\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n"
	  "Content-Length: 3\r\n\r\nabc", 400 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 65537\r\n\r\n", 413 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: "
	  "99999999999999999999999\r\n\r\n", 413 },
	{ "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
	  "0\r\n\r\n", 501 },
	{ "GET / HTTP/1.1\r\nHost: h\r\ntransfer-encoding: identity\r\n\r\n",
	  501 },
	/* versions and methods */
	{ "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505 },
	{ "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505 },
	{ "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505 },
	{ "GET / HTTP/0.9\r\n\r\n", 505 },
	{ "GET / HTTP/3.0\r\n\r\n", 505 },
	{ "PUT / HTTP/1.1\r\nHost: h\r\n\r\n", 405 },
	{ "DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", 405 },
	{ "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", 405 },
	{ "get / HTTP/1.1\r\nHost: h\r\n\r\n", 405 },
};

Test(http, malformed_requests_at_every_split)
{
	size_t i, k;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const char *s = bads[i].req;
		size_t n = strlen(s);
		struct tn_buf log = { 0 };

		cr_assert_eq(parse1(s, &log), bads[i].status,
			     "case %zu: %s", i, s);
		cr_assert_eq(log.len, 0, "case %zu parsed a request", i);
		for (k = 0; k <= n; k++) {
			size_t cut[1] = { k };

			cr_assert_eq(run(s, n, cut, 1, &log, NULL),
				     bads[i].status, "case %zu split %zu", i, k);
		}
		tn_buf_free(&log);
	}
}

/* Feed `total` bytes of `head` + filler one 512-byte chunk at a time;
 * the error must come before everything was sent. */
static void over_limit(const char *head, char fill, size_t total, int want)
{
	char *s = malloc(total);
	size_t hl = strlen(head), *cuts, nc = 0, at = 0;
	struct tn_buf log = { 0 };

	memcpy(s, head, hl);
	memset(s + hl, fill, total - hl);
	cuts = malloc((total / 512 + 1) * sizeof(*cuts));
	for (size_t c = 512; c < total; c += 512)
		cuts[nc++] = c;
	cr_assert_eq(run(s, total, cuts, nc, &log, &at), want);
	cr_assert_lt(at, total, "error seen only at the end (%zu)", at);
	free(cuts);
	free(s);
	tn_buf_free(&log);
}

Test(http, bounds_reported_early)
{
	/* A request line of 8 KiB + 1 with no end in sight. */
	over_limit("GET /", 'a', 64 * 1024, 414);
	/* A header block past 16 KiB. */
	over_limit("GET / HTTP/1.1\r\nHost: h\r\nX-Big: ", 'b', 64 * 1024,
		   431);
}

Test(http, limits_exact)
{
	char *s = malloc(40000);
	size_t n;
	int i;

	/* A request line of exactly 8192 bytes is fine, 8193 is not. */
	n = (size_t)sprintf(s, "GET /");
	memset(s + n, 'a', TN_HTTP_LINE_MAX - n - 9);
	n = TN_HTTP_LINE_MAX - 9;
	n += (size_t)sprintf(s + n, " HTTP/1.0\r\n\r\n");
	cr_assert_eq(status_of(s), 0);
	memmove(s + 6, s + 5, n - 5 + 1);
	s[5] = 'a';
	cr_assert_eq(status_of(s), 414);

	/* 100 fields are fine, 101 are not. */
	n = (size_t)sprintf(s, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (i = 1; i < TN_HTTP_HDR_MAX_FIELDS; i++)
		n += (size_t)sprintf(s + n, "X-%d: v\r\n", i);
	strcpy(s + n, "\r\n");
	cr_assert_eq(status_of(s), 0);
	strcpy(s + n, "X-last: v\r\n\r\n");
	cr_assert_eq(status_of(s), 431);

	/* A 64 KiB body is fine. */
	n = (size_t)sprintf(s, "POST /login HTTP/1.1\r\nHost: h\r\n"
			       "Content-Length: 65536\r\n\r\n");
	cr_assert_eq(status_of(s), 0 /* waits for the body */);
	free(s);
}

Test(http, keep_alive_rules)
{
	struct {
		const char *req;
		const char *want;
	} t[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "ka1" },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		  "ka0" },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n"
		  "\r\n", "ka0" },
		{ "GET / HTTP/1.0\r\n\r\n", "ka0" },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "ka1" },
		{ "GET / HTTP/1.0\r\nConnection: x\r\nConnection: Keep-Alive"
		  "\r\n\r\n", "ka1" },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
		  "ka0" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct tn_buf log = { 0 };

		cr_assert_eq(parse1(t[i].req, &log), 0);
		tn_buf_append(&log, "", 1);
		cr_assert(strstr(log.data, t[i].want), "%zu: %s", i, log.data);
		tn_buf_free(&log);
	}
}

Test(http, buffer_moves_between_reads)
{
	struct tn_http_req req = { 0 };
	struct tn_buf in = { 0 };
	const char *a = "GET /x HTTP/1.1\r\nHost: h\r\nCookie: a=1; ";

	tn_http_req_reset(&req);
	tn_buf_append(&in, a, strlen(a));
	cr_assert_eq(tn_http_parse(&req, &in), TN_HTTP_MORE);
	/* Force a realloc to a new address. */
	tn_buf_reserve(&in, 1 << 20);
	tn_buf_append(&in, "titan_session=abc\r\n\r\n", 21);
	cr_assert_eq(tn_http_parse(&req, &in), TN_HTTP_DONE);
	{
		size_t n;
		const char *v = tn_http_cookie(&req, "titan_session", &n);

		cr_assert(v);
		cr_assert_eq(n, 3);
		cr_assert(!memcmp(v, "abc", 3));
		cr_assert_null(tn_http_cookie(&req, "titan", NULL));
		v = tn_http_cookie(&req, "a", &n);
		cr_assert(v && n == 1 && *v == '1');
		v = tn_http_header(&req, "host", &n);
		cr_assert(v && n == 1 && *v == 'h');
	}
	cr_assert_eq(in.off, in.len);
	tn_http_req_free(&req);
	tn_buf_free(&in);
}

Test(http, form_fields)
{
	const char *f = "next=%2Fjobs%2FDAG-x&token=a+b%21&empty=&bare&x=%zz"
			"&nul=a%00";
	char out[32];

	cr_assert_eq(tn_http_form_get(f, strlen(f), "token", out, sizeof(out)),
		     4);
	cr_assert_str_eq(out, "a b!");
	cr_assert_eq(tn_http_form_get(f, strlen(f), "next", out, sizeof(out)),
		     11);
	cr_assert_str_eq(out, "/jobs/DAG-x");
	cr_assert_eq(tn_http_form_get(f, strlen(f), "empty", out, 32), 0);
	cr_assert_eq(tn_http_form_get(f, strlen(f), "bare", out, 32), 0);
	cr_assert_eq(tn_http_form_get(f, strlen(f), "tok", out, 32), -ENOENT);
	cr_assert_eq(tn_http_form_get(f, strlen(f), "x", out, 32), -EINVAL);
	cr_assert_eq(tn_http_form_get(f, strlen(f), "nul", out, 32), -EINVAL);
	cr_assert_eq(tn_http_form_get(f, strlen(f), "next", out, 5), -ENOSPC);
}

Test(http, responses)
{
	struct tn_buf b = { 0 };

	cr_assert_eq(tn_http_error(&b, 431), 0);
	tn_buf_append(&b, "", 1);
	cr_assert(!strncmp(b.data,
			   "HTTP/1.1 431 Request Header Fields Too Large\r\n",
			   46));
	cr_assert(strstr(b.data, "\r\nContent-Length: 36\r\n"));
	cr_assert(strstr(b.data, "\r\nConnection: close\r\n"));
	cr_assert(strstr(b.data, "\r\n\r\n431 Request Header Fields Too "
				 "Large\n"));
	b.len = 0;
	tn_http_error(&b, 405);
	tn_buf_append(&b, "", 1);
	cr_assert(strstr(b.data, "\r\nAllow: GET, HEAD, POST\r\n"));
	b.len = 0;
	tn_http_respond(&b, 200, "text/plain", "hello", 5, true, true, NULL);
	tn_buf_append(&b, "", 1);
	cr_assert(strstr(b.data, "Content-Length: 5\r\n"));
	cr_assert(strstr(b.data, "Connection: keep-alive\r\n\r\n"));
	cr_assert_null(strstr(b.data, "hello"), "HEAD has no body");
	tn_buf_free(&b);
}
