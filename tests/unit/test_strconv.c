/*
 * test_strconv.c - util/strconv.c against Redis' string2ll, string2ld,
 * ll2string and memtoull rules, edge by edge.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

static int ll(const char *s, long long *v)
{
	return tn_str2ll(s, strlen(s), v);
}

Test(strconv, str2ll_accepts)
{
	static const struct {
		const char *s;
		long long v;
	} ok[] = {
		{ "0", 0 },
		{ "1", 1 },
		{ "-1", -1 },
		{ "99", 99 },
		{ "-99", -99 },
		{ "9223372036854775807", LLONG_MAX },
		{ "-9223372036854775808", LLONG_MIN },
		{ "1234567890", 1234567890 },
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		long long v = 12345;

		cr_expect_eq(ll(ok[i].s, &v), 1, "\"%s\" rejected", ok[i].s);
		cr_expect_eq(v, ok[i].v, "\"%s\" -> %lld", ok[i].s, v);
	}
}

Test(strconv, str2ll_rejects)
{
	static const char *bad[] = {
		"",
		" 1",
		"1 ",
		"+1",
		"-",
		"-0",
		"00",
		"01",
		"-01",
		"1a",
		"a1",
		"1.0",
		"0x10",
		"9223372036854775808",
		"-9223372036854775809",
		"18446744073709551616",
		"99999999999999999999",
		"000000000000000000001",
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		long long v = 777;

		cr_expect_eq(ll(bad[i], &v), 0, "\"%s\" accepted", bad[i]);
		cr_expect_eq(v, 777, "\"%s\" wrote the output", bad[i]);
	}
}

Test(strconv, str2ll_honours_length_not_nul)
{
	long long v = 0;

	cr_expect_eq(tn_str2ll("123456", 3, &v), 1);
	cr_expect_eq(v, 123);
	cr_expect_eq(tn_str2ll("12\0003", 4, &v), 0, "embedded NUL accepted");
	cr_expect_eq(tn_str2ll("5", 0, &v), 0);
}

static int ld(const char *s, long double *v)
{
	return tn_str2ld(s, strlen(s), v);
}

Test(strconv, str2ld)
{
	long double v = 0;

	cr_expect_eq(ld("1.5", &v), 1);
	cr_expect(v == 1.5L);
	cr_expect_eq(ld("-10", &v), 1);
	cr_expect(v == -10.0L);
	cr_expect_eq(ld("1e3", &v), 1);
	cr_expect(v == 1000.0L);
	cr_expect_eq(ld("+2", &v), 1, "strtold accepts a sign, Redis too");
	cr_expect_eq(ld("inf", &v), 1);
	cr_expect(isinf(v) && v > 0);
	cr_expect_eq(ld("-inf", &v), 1);
	cr_expect(isinf(v) && v < 0);
	cr_expect_eq(ld(".5", &v), 1);
	cr_expect(v == 0.5L);

	cr_expect_eq(ld("", &v), 0);
	cr_expect_eq(ld(" 1", &v), 0, "leading space");
	cr_expect_eq(ld("\t1", &v), 0, "leading tab");
	cr_expect_eq(ld("1 ", &v), 0, "trailing space");
	cr_expect_eq(ld("1.5x", &v), 0, "partial parse");
	cr_expect_eq(ld("nan", &v), 0);
	cr_expect_eq(ld("-nan", &v), 0);
	cr_expect_eq(ld("abc", &v), 0);
	cr_expect_eq(ld("1e999999", &v), 0, "overflow");
	cr_expect_eq(ld("1e-999999", &v), 0, "underflow to zero");
	cr_expect_eq(tn_str2ld("1\0002", 3, &v), 0, "embedded NUL");
	cr_expect_eq(tn_str2ld("3.25xxxx", 4, &v), 1, "length honoured");
	cr_expect(v == 3.25L);
}

Test(strconv, str2ld_length_limit)
{
	static char big[6000];
	long double v;

	memset(big, '1', sizeof(big));
	big[0] = '0';
	big[1] = '.';
	cr_expect_eq(tn_str2ld(big, 5119, &v), 1, "5119 chars is allowed");
	cr_expect_eq(tn_str2ld(big, 5120, &v), 0, "5120 chars is too long");
}

Test(strconv, ll2str)
{
	static const long long vals[] = {
		0, 1, -1, 9, 10, 99, 100, 101, -100, 12345, 1000000,
		LLONG_MAX, LLONG_MIN, LLONG_MIN + 1, 4294967296LL,
	};
	char buf[32], want[32];
	size_t i;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		int n = tn_ll2str(buf, vals[i]);
		int wn = snprintf(want, sizeof(want), "%lld", vals[i]);

		cr_expect_eq(n, wn, "length of %lld", vals[i]);
		cr_expect_str_eq(buf, want);
	}
	cr_expect_eq(tn_ll2str(buf, LLONG_MIN), 20, "fits a 21-byte buffer");
}

Test(strconv, ll2str_roundtrip)
{
	char buf[21];
	long long v, back;
	int i;

	for (i = 0; i < 63; i++) {
		int n;

		v = 1LL << i;
		n = tn_ll2str(buf, v - 1);

		cr_assert_eq(tn_str2ll(buf, (size_t)n, &back), 1);
		cr_expect_eq(back, v - 1);
		n = tn_ll2str(buf, -v);
		cr_assert_eq(tn_str2ll(buf, (size_t)n, &back), 1);
		cr_expect_eq(back, -v);
	}
}

Test(strconv, parse_memory)
{
	static const struct {
		const char *s;
		unsigned long long v;
	} ok[] = {
		{ "0", 0 },
		{ "100", 100 },
		{ "100b", 100 },
		{ "1k", 1000 },
		{ "1K", 1000 },
		{ "1kb", 1024 },
		{ "1KB", 1024 },
		{ "1kB", 1024 },
		{ "2m", 2000000 },
		{ "2mb", 2 * 1024 * 1024 },
		{ "3g", 3000000000ULL },
		{ "3Gb", 3ULL * 1024 * 1024 * 1024 },
		{ "18446744073709551615", ULLONG_MAX },
	};
	static const char *bad[] = {
		"", "-1", "1x", "1 kb", " 1", "1kbb", "kb", "1.5mb", "+1",
		"18446744073709551616", "17179869184gb", "1t",
	};
	unsigned long long v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 42;
		cr_expect_eq(tn_parse_memory(ok[i].s, &v), 0, "\"%s\" rejected",
			     ok[i].s);
		cr_expect_eq(v, ok[i].v, "\"%s\" -> %llu", ok[i].s, v);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		v = 42;
		cr_expect_eq(tn_parse_memory(bad[i], &v), -1, "\"%s\" accepted",
			     bad[i]);
		cr_expect_eq(v, 42);
	}
}
