/*
 * test_resp.c - the RESP request parser: every protocol error with
 * Redis 7.0's exact words, pipelines, input split at every byte, a moving
 * buffer, the pre-AUTH limits, and lengths that must not allocate.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"

#define MiB (1024LL * 1024)

struct px {
	struct tn_resp_req req;
	struct tn_buf in;
	struct tn_resp_limits lim;
	char err[256];
	struct tn_buf log; /* what came out, in a comparable form */
};

static void px_init(struct px *p, bool auth)
{
	memset(p, 0, sizeof(*p));
	p->lim.max_bulk = 512 * MiB;
	p->lim.max_query = 1024 * MiB;
	p->lim.authenticated = auth;
}

static void px_free(struct px *p)
{
	tn_resp_req_free(&p->req);
	tn_buf_free(&p->in);
	tn_buf_free(&p->log);
}

static void px_feed(struct px *p, const void *d, size_t n)
{
	cr_assert_eq(tn_buf_append(&p->in, d, n), 0);
}

#define feed_lit(p, lit) px_feed(p, lit, sizeof(lit) - 1)

static int px_parse(struct px *p)
{
	return tn_resp_parse(&p->req, &p->in, &p->lim, p->err, sizeof(p->err));
}

/* Copy the buffer elsewhere and free the old one: a parser that kept a
 * pointer instead of an offset reads freed memory (ASan) or garbage. */
static void px_move(struct px *p)
{
	char *d = malloc(p->in.cap ? p->in.cap : 1);

	cr_assert(d);
	if (p->in.len)
		memcpy(d, p->in.data, p->in.len);
	free(p->in.data);
	p->in.data = d;
}

static void log_cmd(struct tn_buf *log, size_t argc, const struct tn_arg *argv)
{
	size_t i;

	tn_buf_append(log, "[", 1);
	for (i = 0; i < argc; i++) {
		tn_buf_printf(log, "%zu:", argv[i].len);
		tn_buf_append(log, argv[i].p, argv[i].len);
		tn_buf_append(log, ",", 1);
	}
	tn_buf_append(log, "]\n", 2);
}

/* Parse all that can be parsed; returns MORE or ERROR. */
static int px_drain(struct px *p)
{
	for (;;) {
		size_t before = p->in.off;
		int rc = tn_resp_parse(&p->req, &p->in, &p->lim, p->err,
				       sizeof(p->err));

		if (rc == TN_RESP_DONE) {
			size_t i;

			cr_assert_gt(p->in.off, before);
			for (i = 0; i < p->req.argc; i++) {
				const char *a = p->req.argv[i].p;

				const char *d = p->in.data;

				/* Multibulk args lie in what was consumed. */
				if (a >= d && a < d + p->in.len)
					cr_assert(a + p->req.argv[i].len <=
						  d + p->in.off);
			}
			log_cmd(&p->log, p->req.argc, p->req.argv);
		} else if (rc == TN_RESP_EMPTY) {
			cr_assert_gt(p->in.off, before);
			tn_buf_append(&p->log, "E\n", 2);
		} else {
			if (rc == TN_RESP_MORE)
				cr_assert_eq(p->in.off, before);
			/* NUL-terminate the log for the string compares. */
			cr_assert_eq(tn_buf_reserve(&p->log, 1), 0);
			p->log.data[p->log.len] = '\0';
			return rc;
		}
		/* argv is processed: now the caller may compact. */
		tn_buf_compact(&p->in);
	}
}

static void enc_cmd(struct tn_buf *b, size_t argc, const struct tn_arg *argv)
{
	size_t i;

	tn_buf_printf(b, "*%zu\r\n", argc);
	for (i = 0; i < argc; i++) {
		tn_buf_printf(b, "$%zu\r\n", argv[i].len);
		tn_buf_append(b, argv[i].p, argv[i].len);
		tn_buf_append(b, "\r\n", 2);
	}
}

#define A(s) { s, sizeof(s) - 1 }

/* A pipeline mixing every request form, and what it must parse to. */
static void build_pipeline(struct tn_buf *wire, struct tn_buf *want)
{
	static char big[100];
	const struct tn_arg set[] = { A("SET"), A("key"), A("value") };
	const struct tn_arg bin[] = { A("a\r\n\0b") };
	const struct tn_arg two[] = { A(""), { big, sizeof(big) } };
	const struct tn_arg get[] = { A("GET") };
	const struct tn_arg ping[] = { A("PING") };
	const struct tn_arg quoted[] = { A("SET"), A("a b"), A("c d"),
					 A("A\n") };
	const struct tn_arg echo[] = { A("ECHO"), A("it's"), A("q\"x") };

	memset(big, 'z', sizeof(big));
	memset(wire, 0, sizeof(*wire));
	memset(want, 0, sizeof(*want));

	enc_cmd(wire, 3, set);
	log_cmd(want, 3, set);
	tn_buf_append(wire, "PING\r\n", 6);
	log_cmd(want, 1, ping);
	enc_cmd(wire, 1, bin);
	log_cmd(want, 1, bin);
	tn_buf_append(wire, "*0\r\n", 4);
	tn_buf_append(want, "E\n", 2);
	tn_buf_append(wire, "\r\n", 2);
	tn_buf_append(want, "E\n", 2);
	tn_buf_printf(wire, "SET \"a b\" 'c d' \"\\x41\\n\"\n");
	log_cmd(want, 4, quoted);
	tn_buf_append(wire, "*-1\r\n", 5);
	tn_buf_append(want, "E\n", 2);
	enc_cmd(wire, 2, two);
	log_cmd(want, 2, two);
	tn_buf_append(wire, "   \r\n", 5);
	tn_buf_append(want, "E\n", 2);
	enc_cmd(wire, 1, get);
	log_cmd(want, 1, get);
	tn_buf_printf(wire, "ECHO  'it\\'s'  \"q\\\"x\"\r\n");
	log_cmd(want, 3, echo);
}

static void expect_log(struct px *p, const struct tn_buf *want, const char *ctx,
		       size_t k)
{
	cr_expect(p->log.len == want->len &&
		  memcmp(p->log.data, want->data, want->len) == 0,
		  "%s %zu: got\n%.*s\nwant\n%.*s", ctx, k, (int)p->log.len,
		  p->log.data, (int)want->len, want->data);
}

Test(resp, pipeline_in_one_read)
{
	struct tn_buf wire, want;
	struct px p;

	build_pipeline(&wire, &want);
	px_init(&p, true);
	px_feed(&p, wire.data, wire.len);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE, "%s", p.err);
	expect_log(&p, &want, "whole", 0);
	cr_expect_eq(tn_buf_pending(&p.in), 0);
	px_free(&p);
	tn_buf_free(&wire);
	tn_buf_free(&want);
}

Test(resp, pipeline_split_at_every_byte)
{
	struct tn_buf wire, want;
	size_t k;

	build_pipeline(&wire, &want);
	for (k = 0; k <= wire.len; k++) {
		struct px p;

		px_init(&p, true);
		px_feed(&p, wire.data, k);
		cr_assert_eq(px_drain(&p), TN_RESP_MORE, "split %zu: %s", k,
			     p.err);
		px_move(&p);
		px_feed(&p, wire.data + k, wire.len - k);
		cr_assert_eq(px_drain(&p), TN_RESP_MORE, "split %zu: %s", k,
			     p.err);
		expect_log(&p, &want, "split", k);
		px_free(&p);
	}
	tn_buf_free(&wire);
	tn_buf_free(&want);
}

Test(resp, pipeline_one_byte_at_a_time_moving_buffer)
{
	struct tn_buf wire, want;
	struct px p;
	size_t k;

	build_pipeline(&wire, &want);
	px_init(&p, true);
	for (k = 0; k < wire.len; k++) {
		px_feed(&p, wire.data + k, 1);
		cr_assert_eq(px_drain(&p), TN_RESP_MORE, "byte %zu: %s", k,
			     p.err);
		px_move(&p);
		/* Compaction while a request is incomplete must be safe too. */
		tn_buf_compact(&p.in);
	}
	expect_log(&p, &want, "bytewise", 0);
	px_free(&p);
	tn_buf_free(&wire);
	tn_buf_free(&want);
}

Test(resp, many_commands_pipeline)
{
	struct tn_buf wire = { 0 }, want = { 0 };
	struct px p;
	int i;

	for (i = 0; i < 5000; i++) {
		char k[32], v[32];
		struct tn_arg a[3] = { A("SET") };

		a[1].len = (size_t)snprintf(k, sizeof(k), "key:%d", i);
		a[1].p = k;
		a[2].len = (size_t)snprintf(v, sizeof(v), "%d", i * 7);
		a[2].p = v;
		if (i % 3 == 0) {
			tn_buf_printf(&wire, "SET %s %s\r\n", k, v);
		} else {
			enc_cmd(&wire, 3, a);
		}
		log_cmd(&want, 3, a);
	}
	px_init(&p, true);
	/* Odd-sized reads, so requests straddle them at varied places. */
	for (size_t off = 0; off < wire.len; off += 4093) {
		size_t n = wire.len - off < 4093 ? wire.len - off : 4093;

		px_feed(&p, wire.data + off, n);
		cr_assert_eq(px_drain(&p), TN_RESP_MORE, "%s", p.err);
	}
	expect_log(&p, &want, "many", 0);
	px_free(&p);
	tn_buf_free(&wire);
	tn_buf_free(&want);
}

/* Feed `in` whole and bytewise; both must end in exactly `msg`. */
static void expect_error_lim(const char *in, size_t len, bool auth,
			     long long max_bulk, long long max_query,
			     const char *msg, bool bytewise)
{
	struct px p;
	size_t k;
	int rc;

	px_init(&p, auth);
	if (max_bulk)
		p.lim.max_bulk = max_bulk;
	if (max_query)
		p.lim.max_query = max_query;
	px_feed(&p, in, len);
	rc = px_drain(&p);
	cr_expect_eq(rc, TN_RESP_ERROR, "\"%.*s\": no error", (int)len, in);
	cr_expect_str_eq(p.err, msg, "input \"%.60s\"", in);
	px_free(&p);

	if (!bytewise)
		return;
	px_init(&p, auth);
	if (max_bulk)
		p.lim.max_bulk = max_bulk;
	if (max_query)
		p.lim.max_query = max_query;
	for (k = 0, rc = TN_RESP_MORE; k < len && rc != TN_RESP_ERROR; k++) {
		px_feed(&p, in + k, 1);
		rc = px_drain(&p);
		px_move(&p);
	}
	cr_expect_eq(rc, TN_RESP_ERROR, "bytewise \"%.60s\": no error", in);
	cr_expect_str_eq(p.err, msg, "bytewise input \"%.60s\"", in);
	px_free(&p);
}

#define expect_error(lit, auth, msg)                                    \
	expect_error_lim(lit, sizeof(lit) - 1, auth, 0, 0, msg, true)

Test(resp, multibulk_length_errors)
{
	const char *inv = "ERR Protocol error: invalid multibulk length";

	expect_error("*abc\r\n", true, inv);
	expect_error("*\r\n", true, inv);
	expect_error("*+1\r\n", true, inv);
	expect_error("*01\r\n", true, inv);
	expect_error("*1 \r\n", true, inv);
	expect_error("*2147483648\r\n", true, inv);
	expect_error("*3000000000\r\n", false, inv);
	expect_error("*99999999999999999999\r\n", true, inv);
	expect_error("*1\0\r\n", true, inv);
}

Test(resp, multibulk_empty_counts)
{
	static const char *const in[] = { "*0\r\n", "*-1\r\n", "*-10\r\n" };
	size_t i;

	for (i = 0; i < 3; i++) {
		struct px p;

		px_init(&p, false);
		px_feed(&p, in[i], strlen(in[i]));
		px_feed(&p, "PING\r\n", 6);
		cr_expect_eq(px_parse(&p),
			     TN_RESP_EMPTY, "%s", in[i]);
		cr_expect_eq(p.in.off, strlen(in[i]));
		cr_expect_eq(px_drain(&p), TN_RESP_MORE);
		cr_expect_str_eq(p.log.data, "[4:PING,]\n");
		px_free(&p);
	}
}

Test(resp, expected_dollar)
{
	expect_error("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", true,
		     "ERR Protocol error: expected '$', got 'f'");
	expect_error("*1\r\n:1\r\n", true,
		     "ERR Protocol error: expected '$', got ':'");
	expect_error("*1\r\n+oops\r\n", false,
		     "ERR Protocol error: expected '$', got '+'");
	/* The byte is printed raw; the reply writer turns \r into a space. */
	expect_error("*1\r\n\r\n", true,
		     "ERR Protocol error: expected '$', got '\r'");
}

Test(resp, bulk_length_errors)
{
	const char *inv = "ERR Protocol error: invalid bulk length";

	expect_error("*1\r\n$abc\r\n", true, inv);
	expect_error("*1\r\n$\r\n", true, inv);
	expect_error("*1\r\n$-1\r\n", true, inv);
	expect_error("*1\r\n$-0\r\n", true, inv);
	expect_error("*1\r\n$+3\r\n", true, inv);
	expect_error("*1\r\n$03\r\n", true, inv);
	expect_error("*1\r\n$3x\r\n", true, inv);
	expect_error("*2\r\n$3\r\nGET\r\n$9999999999\r\n", true, inv);
	expect_error("*1\r\n$536870913\r\n", true, inv);
	expect_error("*1\r\n$99999999999999999999999\r\n", true, inv);
	/* proto-max-bulk-len is the caller's. */
	expect_error_lim("*1\r\n$101\r\n", 10, true, 100, 0, inv, true);
}

/* The digit scanner's edges: zero, leading zeros, 18 and 19 digits. */
Test(resp, length_digits_edges)
{
	const char *inv = "ERR Protocol error: invalid bulk length";
	struct px p;

	expect_error("*1\r\n$00\r\n", true, inv);
	expect_error("*1\r\n$0x\r\n", true, inv);
	expect_error("*1\r\n$100000000000000000\r\n", true, inv);
	expect_error("*1\r\n$1000000000000000000\r\n", true, inv);
	expect_error("*00\r\n", true,
		     "ERR Protocol error: invalid multibulk length");
	/* empty arguments, and a count of two digits */
	px_init(&p, true);
	feed_lit(&p, "*2\r\n$0\r\n\r\n$0\r\n\r\n");
	feed_lit(&p, "*12\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n"
		     "$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n"
		     "$1\r\nh\r\n$1\r\ni\r\n$1\r\nj\r\n$1\r\nk\r\n"
		     "$10\r\n0123456789\r\n");
	cr_expect_eq(px_drain(&p), TN_RESP_MORE);
	cr_expect_str_eq(p.log.data, "[0:,0:,]\n[1:a,1:b,1:c,1:d,1:e,1:f,"
				     "1:g,1:h,1:i,1:j,1:k,10:0123456789,]\n");
	px_free(&p);
}

Test(resp, bulk_length_at_limit_is_accepted)
{
	struct px p;

	px_init(&p, true);
	p.lim.max_bulk = 100;
	px_feed(&p, "*1\r\n$100\r\n", 10);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE);
	cr_expect_eq(p.req.bulk_len, 100);
	px_free(&p);
}

Test(resp, unauthenticated_limits)
{
	struct px p;
	char *req;
	size_t n;

	expect_error("*11\r\n", false,
		     "ERR Protocol error: unauthenticated multibulk length");
	expect_error("*1\r\n$16385\r\n", false,
		     "ERR Protocol error: unauthenticated bulk length");
	/* The absolute limits are checked first, as Redis does. */
	expect_error("*3000000000\r\n", false,
		     "ERR Protocol error: invalid multibulk length");
	expect_error("*1\r\n$600000000\r\n", false,
		     "ERR Protocol error: invalid bulk length");

	/* At the limits exactly: fine. */
	px_init(&p, false);
	px_feed(&p, "*10\r\n", 5);
	for (int i = 0; i < 10; i++)
		px_feed(&p, "$1\r\nx\r\n", 7);
	cr_expect_eq(px_parse(&p), TN_RESP_DONE, "%s", p.err);
	cr_expect_eq(p.req.argc, 10);
	px_free(&p);

	n = 16384;
	req = malloc(n + 32);
	cr_assert(req);
	px_init(&p, false);
	px_feed(&p, "*1\r\n$16384\r\n", 12);
	memset(req, 'v', n);
	px_feed(&p, req, n);
	px_feed(&p, "\r\n", 2);
	cr_expect_eq(px_parse(&p), TN_RESP_DONE, "%s", p.err);
	cr_expect_eq(p.req.argc, 1);
	cr_expect_eq(p.req.argv[0].len, n);
	px_free(&p);
	free(req);

	/* The 10-argument limit does not apply to inline requests. */
	px_init(&p, false);
	px_feed(&p, "a b c d e f g h i j k l\r\n", 25);
	cr_expect_eq(px_parse(&p), TN_RESP_DONE, "%s", p.err);
	cr_expect_eq(p.req.argc, 12);
	px_free(&p);
}

Test(resp, limits_follow_auth_between_requests)
{
	struct px p;
	struct tn_buf wire = { 0 };
	char *val = malloc(20000);
	const struct tn_arg auth[] = { A("AUTH"), A("pw") };
	struct tn_arg set[] = { A("SET"), A("k"), { val, 20000 } };
	int rc;

	cr_assert(val);
	memset(val, 'x', 20000);
	enc_cmd(&wire, 2, auth);
	enc_cmd(&wire, 3, set);
	px_init(&p, false);
	px_feed(&p, wire.data, wire.len);
	rc = px_parse(&p);
	cr_assert_eq(rc, TN_RESP_DONE);
	cr_expect_eq(p.req.argc, 2);
	p.lim.authenticated = true;
	rc = px_parse(&p);
	cr_assert_eq(rc, TN_RESP_DONE, "%s", p.err);
	cr_expect_eq(p.req.argv[2].len, 20000);
	cr_expect_eq(p.req.argv[2].p[19999], 'x');
	px_free(&p);
	tn_buf_free(&wire);
	free(val);
}

Test(resp, too_big_count_lines)
{
	size_t n = TN_INLINE_MAX + 10;
	char *in = malloc(n + 16);

	cr_assert(in);
	in[0] = '*';
	memset(in + 1, '1', n - 1);
	expect_error_lim(in, n, true, 0, 0,
			 "ERR Protocol error: too big mbulk count string",
			 false);
	/* At exactly the limit it still waits for the line's end. */
	{
		struct px p;

		px_init(&p, true);
		px_feed(&p, in, TN_INLINE_MAX);
		cr_expect_eq(px_drain(&p), TN_RESP_MORE);
		px_free(&p);
	}

	memcpy(in, "*1\r\n$", 5);
	memset(in + 5, '1', n - 5);
	expect_error_lim(in, n, true, 0, 0,
			 "ERR Protocol error: too big bulk count string",
			 false);

	memset(in, 'a', n);
	expect_error_lim(in, n, true, 0, 0,
			 "ERR Protocol error: too big inline request", false);
	free(in);
}

Test(resp, too_big_lines_chunked)
{
	/* The same errors when the bytes come in small reads. */
	size_t n = TN_INLINE_MAX + 10, k;
	char *in = malloc(n);
	struct px p;
	int rc = TN_RESP_MORE;

	cr_assert(in);
	memset(in, 'a', n);
	px_init(&p, true);
	for (k = 0; k < n && rc == TN_RESP_MORE; k += 1000) {
		px_feed(&p, in + k, n - k < 1000 ? n - k : 1000);
		rc = px_drain(&p);
	}
	cr_expect_eq(rc, TN_RESP_ERROR);
	cr_expect_str_eq(p.err, "ERR Protocol error: too big inline request");
	px_free(&p);
	free(in);
}

Test(resp, inline_requests)
{
	struct px p;

	px_init(&p, false);
	feed_lit(&p, "  PING  \r\n");
	feed_lit(&p, "set k \"v w\"\n");
	feed_lit(&p, "echo \"\\xff\\xZZ\\t\\\\\"\r\n");
	feed_lit(&p, "a\"b c\"\r\n");
	feed_lit(&p, "\"\" ''\r\n");
	feed_lit(&p, "x\ty\v\r\n");
	feed_lit(&p, "one\r\rtwo\n");
	feed_lit(&p, "cut\0rest\r\n");
	cr_expect_eq(px_drain(&p), TN_RESP_MORE, "%s", p.err);
	cr_expect_str_eq(p.log.data,
			 "[4:PING,]\n"
			 "[3:set,1:k,3:v w,]\n"
			 "[4:echo,6:\xff" "xZZ\t\\,]\n"
			 "[4:ab c,]\n"
			 "[0:,0:,]\n"
			 "[1:x,2:y\v,]\n"
			 "[3:one,3:two,]\n"
			 "[3:cut,]\n",
			 "got %s", p.log.data);
	px_free(&p);
}

Test(resp, inline_nul_byte_argument)
{
	/* "\x00" is the one way to put a NUL in an inline argument; the
	 * log above stops at it (%s), so check the bytes here. */
	struct px p;

	px_init(&p, true);
	px_feed(&p, "echo \"\\x00z\"\r\n", 14);
	cr_assert_eq(px_parse(&p),
		     TN_RESP_DONE);
	cr_assert_eq(p.req.argc, 2);
	cr_expect_eq(p.req.argv[1].len, 2);
	cr_expect(memcmp(p.req.argv[1].p, "\0z", 2) == 0);
	px_free(&p);
}

Test(resp, inline_unbalanced_quotes)
{
	const char *msg = "ERR Protocol error: unbalanced quotes in request";

	expect_error("SET a \"foo\r\n", true, msg);
	expect_error("SET a \"foo\"bar\r\n", true, msg);
	expect_error("SET a 'foo\r\n", true, msg);
	expect_error("SET a 'foo'bar\r\n", true, msg);
	expect_error("SET a \"foo\\\"\r\n", true, msg);
	expect_error("\"\n", false, msg);
}

Test(resp, split_args_direct)
{
	char store[64];
	struct tn_arg argv[8];
	const char *line = "a 'b c' \"d\\x41\" ''";
	int n;

	n = tn_split_args(line, strlen(line), store, argv, 8);
	cr_assert_eq(n, 4);
	cr_expect(argv[1].len == 3 && memcmp(argv[1].p, "b c", 3) == 0);
	cr_expect(argv[2].len == 2 && memcmp(argv[2].p, "dA", 2) == 0);
	cr_expect_eq(argv[3].len, 0);
	/* Too small an argv: the count comes back, only argmax filled. */
	memset(argv, 0, sizeof(argv));
	n = tn_split_args(line, strlen(line), store, argv, 2);
	cr_expect_eq(n, 4);
	cr_expect_null(argv[2].p);
	cr_expect_eq(tn_split_args("", 0, store, argv, 8), 0);
	cr_expect_eq(tn_split_args("   \t ", 5, store, argv, 8), 0);
	cr_expect_eq(tn_split_args("\"a\"b", 4, store, argv, 8), -1);
	cr_expect_eq(tn_split_args("'a", 2, store, argv, 8), -1);
	/* A quote escape at the very end must not read past len. */
	cr_expect_eq(tn_split_args("\"a\\\"", 4, store, argv, 8), -1);
	cr_expect_eq(tn_split_args("\"\\x4", 4, store, argv, 8), -1);
}

Test(resp, binary_safe_arguments)
{
	struct px p;
	static const char in[] = "*3\r\n$3\r\nSET\r\n$4\r\n\r\n\r\n\r\n"
				 "$6\r\n\0\r\n\0\0\0\r\n";

	px_init(&p, true);
	px_feed(&p, in, sizeof(in) - 1);
	cr_assert_eq(px_parse(&p),
		     TN_RESP_DONE);
	cr_assert_eq(p.req.argc, 3);
	cr_expect(p.req.argv[1].len == 4 &&
		  memcmp(p.req.argv[1].p, "\r\n\r\n", 4) == 0);
	cr_expect(p.req.argv[2].len == 6 &&
		  memcmp(p.req.argv[2].p, "\0\r\n\0\0\0", 6) == 0);
	cr_expect_eq(p.in.off, sizeof(in) - 1);
	px_free(&p);
}

Test(resp, payload_crlf_skipped_unchecked_as_redis)
{
	/* Redis skips the two bytes after a bulk without looking. */
	struct px p;

	px_init(&p, true);
	px_feed(&p, "*1\r\n$3\r\nfooXY*1\r\n$1\r\nz\r\n", 24);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE, "%s", p.err);
	cr_expect_str_eq(p.log.data, "[3:foo,]\n[1:z,]\n");
	px_free(&p);
}

Test(resp, huge_counts_do_not_allocate)
{
	struct px p;
	int i;

	px_init(&p, true);
	px_feed(&p, "*2147483647\r\n", 13);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE);
	cr_expect_leq(p.req.argcap, 1024, "reserved %zu slots", p.req.argcap);
	for (i = 0; i < 3000; i++)
		px_feed(&p, "$1\r\na\r\n", 7);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE);
	cr_expect_eq(p.req.argc, 3000);
	/* Growth follows the arguments that arrived, not the claim. */
	cr_expect_leq(p.req.argcap, 4096, "grew to %zu", p.req.argcap);
	cr_expect_eq(p.req.mbulk_left, 2147483647LL - 3000);
	px_free(&p);

	/* A large bulk claim is only a number until its bytes come. */
	px_init(&p, true);
	px_feed(&p, "*1\r\n$536870912\r\nabc", 19);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE);
	cr_expect_lt(p.in.cap, 1024 * 1024);
	px_free(&p);
}

Test(resp, many_arguments_grow)
{
	struct tn_buf wire = { 0 };
	struct px p;
	size_t i, n = 100000;
	int rc;

	tn_buf_printf(&wire, "*%zu\r\n", n);
	for (i = 0; i < n; i++)
		tn_buf_printf(&wire, "$%d\r\n%zu\r\n",
			      snprintf(NULL, 0, "%zu", i), i);
	px_init(&p, true);
	px_feed(&p, wire.data, wire.len);
	rc = px_parse(&p);
	cr_assert_eq(rc, TN_RESP_DONE, "%s", p.err);
	cr_assert_eq(p.req.argc, n);
	for (i = 0; i < n; i += 9999) {
		char want[32];
		int wl = snprintf(want, sizeof(want), "%zu", i);

		cr_expect(p.req.argv[i].len == (size_t)wl &&
			  memcmp(p.req.argv[i].p, want, (size_t)wl) == 0);
	}
	/* The next request starts small again. */
	px_feed(&p, "PING\r\n", 6);
	rc = px_parse(&p);
	cr_assert_eq(rc, TN_RESP_DONE);
	cr_expect_leq(p.req.argcap, 1024);
	px_free(&p);
	tn_buf_free(&wire);
}

Test(resp, query_buffer_limit)
{
	const char *msg =
		"ERR Protocol error: client query buffer limit exceeded";
	char in[300];
	struct px p;

	memcpy(in, "*1\r\n$200\r\n", 10);
	memset(in + 10, 'q', 150);
	expect_error_lim(in, 160, true, 0, 100, msg, true);

	/* Complete requests are not held against the limit. */
	px_init(&p, true);
	p.lim.max_query = 40;
	for (int i = 0; i < 5; i++)
		px_feed(&p, "*2\r\n$4\r\nECHO\r\n$8\r\n12345678\r\n", 28);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE, "%s", p.err);
	cr_expect_eq(p.in.off, 0);
	px_free(&p);

	/* An inline line is bounded the same way. */
	memset(in, 'i', 200);
	expect_error_lim(in, 200, true, 0, 100, msg, false);
}

Test(resp, waits_for_lf_after_cr)
{
	struct px p;

	px_init(&p, true);
	px_feed(&p, "*1\r", 3);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE);
	px_feed(&p, "\n$1\r", 4);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE);
	px_feed(&p, "\nx\r", 3);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE);
	cr_expect_eq(p.req.argc, 0);
	px_feed(&p, "\n", 1);
	cr_expect_eq(px_drain(&p), TN_RESP_MORE);
	cr_expect_str_eq(p.log.data, "[1:x,]\n");
	px_free(&p);
}

Test(resp, reset_after_error_and_free_twice)
{
	struct px p;

	px_init(&p, true);
	px_feed(&p, "*1\r\n$x\r\n", 8);
	cr_expect_eq(px_drain(&p), TN_RESP_ERROR);
	cr_expect_eq(p.req.state, 0);
	tn_resp_req_reset(&p.req);
	tn_resp_req_free(&p.req);
	tn_resp_req_free(&p.req);
	px_free(&p);
}
