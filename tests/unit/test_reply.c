/*
 * test_reply.c - every reply writer in RESP2 and RESP3, byte for byte as
 * Redis 7.0 sends it, deferred lengths, and the tn_buf underneath.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"

static struct tn_buf out;
static struct tn_reply r2, r3;

static void setup(void)
{
	memset(&out, 0, sizeof(out));
	r2 = (struct tn_reply){ .out = &out, .resp = 2 };
	r3 = (struct tn_reply){ .out = &out, .resp = 3 };
}

static void teardown(void)
{
	tn_buf_free(&out);
}

/* Compare what was written since the last check, then forget it. */
static void expect_out_len(const char *want, size_t n, int line)
{
	size_t got = out.len - out.off;

	cr_expect(got == n && memcmp(out.data + out.off, want, n) == 0,
		  "line %d: got %zu bytes \"%.*s\", want %zu bytes \"%.*s\"",
		  line, got, (int)got, out.data + out.off, n, (int)n, want);
	out.off = out.len;
}

#define expect_out(lit) expect_out_len(lit, sizeof(lit) - 1, __LINE__)

TestSuite(reply, .init = setup, .fini = teardown);

Test(reply, status_and_errors)
{
	tn_reply_ok(&r2);
	expect_out("+OK\r\n");
	tn_reply_status(&r3, "PONG");
	expect_out("+PONG\r\n");
	tn_reply_error(&r2, "ERR unknown command");
	expect_out("-ERR unknown command\r\n");
	tn_reply_error(&r3, "WRONGTYPE Operation against a key");
	expect_out("-WRONGTYPE Operation against a key\r\n");
	tn_reply_error(&r2, "ERR bad\r\nthing\n");
	expect_out("-ERR bad  thing \r\n");
	tn_reply_error(&r2, "-NOAUTH Authentication required.");
	expect_out("-NOAUTH Authentication required.\r\n");
	tn_reply_errorf(&r2, "ERR unknown command '%s', with args %s", "foo",
			"beginning with: ");
	expect_out("-ERR unknown command 'foo', with args beginning with: "
		   "\r\n");
	tn_reply_errorf(&r2, "ERR Protocol error: got '%c'", '\r');
	expect_out("-ERR Protocol error: got ' '\r\n");
	cr_expect(!r2.oom && !r3.oom);
}

Test(reply, long_errorf)
{
	char want[1200];
	char arg[1001];

	memset(arg, 'x', 1000);
	arg[1000] = '\0';
	tn_reply_errorf(&r2, "ERR %s\n", arg);
	snprintf(want, sizeof(want), "-ERR %s \r\n", arg);
	expect_out_len(want, strlen(want), __LINE__);
}

Test(reply, integers)
{
	tn_reply_int(&r2, 0);
	expect_out(":0\r\n");
	tn_reply_int(&r3, -1);
	expect_out(":-1\r\n");
	tn_reply_int(&r2, 9223372036854775807LL);
	expect_out(":9223372036854775807\r\n");
	tn_reply_int(&r2, -9223372036854775807LL - 1);
	expect_out(":-9223372036854775808\r\n");
}

/* Headers of one and two digits take a short cut: its edges. */
Test(reply, small_numbers_edges)
{
	static const long long v[] = {1, 9, 10, 11, 42, 99, 100, 101, -9, -10,
				      -99, -100};
	char want[32];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(want, sizeof(want), ":%lld\r\n", v[i]);
		tn_reply_int(&r2, v[i]);
		expect_out_len(want, strlen(want), __LINE__);
		snprintf(want, sizeof(want), "*%lld\r\n", v[i]);
		tn_reply_array(&r2, v[i]);
		expect_out_len(want, strlen(want), __LINE__);
	}
	tn_reply_bulk(&r2, "0123456789", 10);
	expect_out("$10\r\n0123456789\r\n");
	tn_reply_bulk(&r2, "", 0);
	expect_out("$0\r\n\r\n");
}

Test(reply, bulks)
{
	tn_reply_bulk(&r2, "", 0);
	expect_out("$0\r\n\r\n");
	tn_reply_bulk(&r3, "a\r\n\0b", 5);
	expect_out("$5\r\na\r\n\0b\r\n");
	tn_reply_bulkstr(&r2, "hello");
	expect_out("$5\r\nhello\r\n");
	tn_reply_bulk_ll(&r2, -42);
	expect_out("$3\r\n-42\r\n");
	tn_reply_bulk_ll(&r3, 1234567890123LL);
	expect_out("$13\r\n1234567890123\r\n");
}

Test(reply, big_bulk)
{
	size_t n = 3 * 1024 * 1024, i;
	char *p = malloc(n);

	cr_assert(p);
	for (i = 0; i < n; i++)
		p[i] = (char)i;
	tn_reply_bulk(&r2, p, n);
	cr_assert_eq(out.len, 10 + n + 2);
	cr_expect_eq(memcmp(out.data, "$3145728\r\n", 10), 0);
	cr_expect_eq(memcmp(out.data + 10, p, n), 0);
	cr_expect_eq(memcmp(out.data + 10 + n, "\r\n", 2), 0);
	free(p);
}

Test(reply, oom_flag_on_impossible_size)
{
	tn_reply_bulk(&r2, "x", SIZE_MAX - 8);
	cr_expect(r2.oom);
	cr_expect_eq(out.len, 0);
	tn_reply_verbatim(&r3, "x", SIZE_MAX - 8);
	cr_expect(r3.oom);
	cr_expect_eq(out.len, 0);
}

Test(reply, nulls_and_bools)
{
	tn_reply_null(&r2);
	expect_out("$-1\r\n");
	tn_reply_null(&r3);
	expect_out("_\r\n");
	tn_reply_null_array(&r2);
	expect_out("*-1\r\n");
	tn_reply_null_array(&r3);
	expect_out("_\r\n");
	tn_reply_bool(&r2, true);
	expect_out(":1\r\n");
	tn_reply_bool(&r2, false);
	expect_out(":0\r\n");
	tn_reply_bool(&r3, true);
	expect_out("#t\r\n");
	tn_reply_bool(&r3, false);
	expect_out("#f\r\n");
}

Test(reply, aggregates)
{
	tn_reply_array(&r2, 3);
	expect_out("*3\r\n");
	tn_reply_array(&r3, 0);
	expect_out("*0\r\n");
	tn_reply_map(&r2, 2);
	expect_out("*4\r\n");
	tn_reply_map(&r3, 2);
	expect_out("%2\r\n");
	tn_reply_set(&r2, 5);
	expect_out("*5\r\n");
	tn_reply_set(&r3, 5);
	expect_out("~5\r\n");
	tn_reply_push(&r2, 3);
	expect_out("*3\r\n");
	tn_reply_push(&r3, 3);
	expect_out(">3\r\n");
	tn_reply_array(&r2, 1234567);
	expect_out("*1234567\r\n");
}

Test(reply, doubles)
{
	tn_reply_double(&r2, 1.5);
	expect_out("$3\r\n1.5\r\n");
	tn_reply_double(&r3, 1.5);
	expect_out(",1.5\r\n");
	tn_reply_double(&r2, 0.1);
	expect_out("$19\r\n0.10000000000000001\r\n");
	tn_reply_double(&r3, 0.1);
	expect_out(",0.10000000000000001\r\n");
	tn_reply_double(&r3, 3);
	expect_out(",3\r\n");
	tn_reply_double(&r2, -2.5e-7);
	expect_out("$23\r\n-2.4999999999999999e-07\r\n");
	tn_reply_double(&r3, 1e300);
	expect_out(",1.0000000000000001e+300\r\n");
	tn_reply_double(&r2, INFINITY);
	expect_out("$3\r\ninf\r\n");
	tn_reply_double(&r2, -INFINITY);
	expect_out("$4\r\n-inf\r\n");
	tn_reply_double(&r3, INFINITY);
	expect_out(",inf\r\n");
	tn_reply_double(&r3, -INFINITY);
	expect_out(",-inf\r\n");
	tn_reply_double(&r3, NAN);
	expect_out(",nan\r\n");
	tn_reply_double(&r3, -NAN);
	expect_out(",nan\r\n");
}

Test(reply, long_doubles_as_incrbyfloat)
{
	/* The same bytes in both protocols: INCRBYFLOAT always replies bulk. */
	struct tn_reply *rs[] = { &r2, &r3 };
	size_t i;

	for (i = 0; i < 2; i++) {
		tn_reply_long_double(rs[i], 10.5L);
		expect_out("$4\r\n10.5\r\n");
		tn_reply_long_double(rs[i], 10.5L + 0.1L);
		expect_out("$4\r\n10.6\r\n");
		tn_reply_long_double(rs[i], 3.0L);
		expect_out("$1\r\n3\r\n");
		tn_reply_long_double(rs[i], 1.25L);
		expect_out("$4\r\n1.25\r\n");
		tn_reply_long_double(rs[i], -0.0L);
		expect_out("$1\r\n0\r\n");
		tn_reply_long_double(rs[i], 0.0L);
		expect_out("$1\r\n0\r\n");
		tn_reply_long_double(rs[i], -5.0L);
		expect_out("$2\r\n-5\r\n");
		tn_reply_long_double(rs[i], 1e20L);
		expect_out("$21\r\n100000000000000000000\r\n");
		tn_reply_long_double(rs[i], 5.0e3L);
		expect_out("$4\r\n5000\r\n");
		tn_reply_long_double(rs[i], 1e-18L);
		expect_out("$1\r\n0\r\n");
		tn_reply_long_double(rs[i], (long double)INFINITY);
		expect_out("$3\r\ninf\r\n");
		tn_reply_long_double(rs[i], -(long double)INFINITY);
		expect_out("$4\r\n-inf\r\n");
	}
}

Test(reply, long_double_huge)
{
	/* The largest long double prints 4933 digits; it must not fail. */
	tn_reply_long_double(&r2, -LDBL_MAX);
	cr_expect(!r2.oom);
	cr_expect_eq(out.len, 7 + 4934 + 2);
	cr_expect(memcmp(out.data, "$4934\r\n-118973149535723176", 26) == 0);
	cr_expect(memcmp(out.data + out.len - 4, "40\r\n", 4) == 0);
}

Test(reply, verbatim)
{
	tn_reply_verbatim(&r2, "hello", 5);
	expect_out("$5\r\nhello\r\n");
	tn_reply_verbatim(&r3, "hello", 5);
	expect_out("=9\r\ntxt:hello\r\n");
	tn_reply_verbatim(&r3, "", 0);
	expect_out("=4\r\ntxt:\r\n");
	tn_reply_verbatim(&r3, "a\r\nb", 4);
	expect_out("=8\r\ntxt:a\r\nb\r\n");
}

Test(reply, raw)
{
	tn_reply_raw(&r2, "+QUEUED\r\n", 9);
	expect_out("+QUEUED\r\n");
	tn_reply_raw(&r2, "", 0);
	expect_out("");
}

/* Build what a deferred reply of n integer elements should look like. */
static void check_defer(struct tn_reply *r, char kind, long long n,
			const char *hdr)
{
	struct tn_buf want = { 0 };
	size_t mark;
	long long i;

	tn_reply_status(r, "before");
	out.off = out.len;
	mark = tn_reply_defer(r);
	for (i = 0; i < n; i++)
		tn_reply_int(r, i);
	tn_reply_defer_set(r, mark, kind, n);
	tn_reply_status(r, "after");

	cr_assert(tn_buf_append(&want, hdr, strlen(hdr)) == 0);
	for (i = 0; i < n; i++)
		cr_assert(tn_buf_printf(&want, ":%lld\r\n", i) == 0);
	cr_assert(tn_buf_append(&want, "+after\r\n", 8) == 0);
	expect_out_len(want.data, want.len, __LINE__);
	cr_expect(!r->oom);
	tn_buf_free(&want);
}

Test(reply, defer_array)
{
	check_defer(&r2, '*', 0, "*0\r\n");
	check_defer(&r2, '*', 9, "*9\r\n");
	check_defer(&r2, '*', 10, "*10\r\n");
	check_defer(&r2, '*', 1000, "*1000\r\n");
	check_defer(&r3, '*', 10, "*10\r\n");
}

Test(reply, defer_map_and_set)
{
	/* RESP2 counts a map's fields and values; RESP3 its pairs. */
	check_defer(&r2, '%', 0, "*0\r\n");
	check_defer(&r2, '%', 5, "*10\r\n");
	check_defer(&r3, '%', 5, "%5\r\n");
	check_defer(&r3, '%', 500, "%500\r\n");
	check_defer(&r2, '~', 9, "*9\r\n");
	check_defer(&r3, '~', 9, "~9\r\n");
	check_defer(&r3, '~', 1000, "~1000\r\n");
}

Test(reply, defer_nested)
{
	size_t outer, inner;

	outer = tn_reply_defer(&r3);
	tn_reply_bulkstr(&r3, "k");
	inner = tn_reply_defer(&r3);
	tn_reply_int(&r3, 1);
	tn_reply_int(&r3, 2);
	tn_reply_defer_set(&r3, inner, '*', 2);
	tn_reply_defer_set(&r3, outer, '%', 1);
	expect_out("%1\r\n$1\r\nk\r\n*2\r\n:1\r\n:2\r\n");
}

Test(reply, defer_at_start_of_empty_buffer)
{
	size_t mark = tn_reply_defer(&r2);

	cr_expect_eq(mark, 0);
	tn_reply_defer_set(&r2, mark, '*', 0);
	expect_out("*0\r\n");
}

Test(buf, append_reserve_printf)
{
	struct tn_buf b = { 0 };
	size_t i;

	cr_assert_eq(tn_buf_append(&b, "abc", 3), 0);
	cr_assert_eq(tn_buf_printf(&b, "%d-%s", 42, "x"), 0);
	cr_expect_eq(b.len, 7);
	cr_expect(memcmp(b.data, "abc42-x", 7) == 0);
	/* Longer than the first vsnprintf attempt's room. */
	for (i = 0; i < 10; i++)
		cr_assert_eq(tn_buf_printf(&b, "%0300d", 7), 0);
	cr_expect_eq(b.len, 7 + 3000);
	cr_expect_eq(b.data[b.len - 1], '7');
	cr_expect_eq(b.data[b.len - 2], '0');
	cr_expect_eq(tn_buf_reserve(&b, SIZE_MAX - 10), -ENOMEM);
	cr_expect_eq(b.len, 3007, "failed reserve keeps the contents");
	cr_expect_eq(tn_buf_reserve(&b, 0), 0);
	tn_buf_free(&b);
	cr_expect_null(b.data);
	cr_expect_eq(b.cap, 0);
}

Test(buf, growth_is_bounded)
{
	struct tn_buf b = { 0 };

	cr_assert_eq(tn_buf_reserve(&b, 100), 0);
	cr_expect(b.cap >= 100 && b.cap <= 256);
	cr_assert_eq(tn_buf_reserve(&b, 8 * 1024 * 1024), 0);
	/* Past 1 MiB the slack is 1 MiB, not another copy of the data. */
	cr_expect(b.cap >= 8 * 1024 * 1024);
	cr_expect(b.cap <= 9 * 1024 * 1024, "cap %zu", b.cap);
	tn_buf_free(&b);
}

Test(buf, compact)
{
	struct tn_buf b = { 0 };

	cr_assert_eq(tn_buf_append(&b, "0123456789", 10), 0);
	b.off = 3;
	tn_buf_compact(&b);
	cr_expect_eq(b.off, 3, "moving 7 bytes to free 3 is not worth it");
	b.off = 5;
	tn_buf_compact(&b);
	cr_expect_eq(b.off, 0);
	cr_expect_eq(b.len, 5);
	cr_expect(memcmp(b.data, "56789", 5) == 0);
	b.off = 5;
	tn_buf_compact(&b);
	cr_expect_eq(b.off, 0);
	cr_expect_eq(b.len, 0);
	tn_buf_free(&b);
}

Test(buf, compact_releases_big_empty_buffer)
{
	struct tn_buf b = { 0 };

	cr_assert_eq(tn_buf_reserve(&b, 4 * 1024 * 1024), 0);
	b.len = 4 * 1024 * 1024;
	b.off = b.len;
	tn_buf_compact(&b);
	cr_expect_eq(b.len, 0);
	cr_expect_eq(b.cap, 0);
	cr_expect_null(b.data);
	cr_assert_eq(tn_buf_append(&b, "x", 1), 0);
	tn_buf_free(&b);
}
