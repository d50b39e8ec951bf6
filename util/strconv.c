/*
 * strconv.c - strict number <-> string conversions with Redis' rules
 * (util.c string2ll, string2ld, ll2string; config.c memtoull), so that
 * what Titan accepts as an integer or a size is exactly what Redis does.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"

/* Redis' MAX_LONG_DOUBLE_CHARS: longer input is not a number to it. */
/* "-9223372036854775808" is 20 characters; longer is never valid. */
#define TN_LL_MAX_CHARS 20

int tn_str2ll(const char *s, size_t len, long long *out)
{
	unsigned long long v;
	size_t i = 0;
	bool neg = false;

	if (len == 0 || len > TN_LL_MAX_CHARS)
		return 0;
	if (len == 1 && s[0] == '0') {
		*out = 0;
		return 1;
	}
	if (s[0] == '-') {
		neg = true;
		if (++i == len)
			return 0;
	}
	/* A leading zero is only valid as "0" itself: "-0" and "01" are not. */
	if (s[i] < '1' || s[i] > '9')
		return 0;
	v = (unsigned long long)(s[i++] - '0');
	for (; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return 0;
		d = (unsigned)(s[i] - '0');
		if (v > (ULLONG_MAX - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	if (neg) {
		if (v > (unsigned long long)LLONG_MAX + 1)
			return 0;
		*out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN :
							      -(long long)v;
	} else {
		if (v > (unsigned long long)LLONG_MAX)
			return 0;
		*out = (long long)v;
	}
	return 1;
}

int tn_str2ld(const char *s, size_t len, long double *out)
{
	char buf[TN_LD_MAX_CHARS];
	long double v;
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return 0;
	/* strtold skips leading blanks, so " 1" would pass; not in Redis. */
	if (s[0] == ' ' || (s[0] >= '\t' && s[0] <= '\r'))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtold(buf, &end);
	/* end stops early on an embedded NUL too, which rejects it. */
	if ((size_t)(end - buf) != len)
		return 0;
	if (errno == EINVAL || isnan(v))
		return 0;
	if (errno == ERANGE && (isinf(v) || v == 0))
		return 0;
	*out = v;
	return 1;
}

int tn_ll2str(char *buf, long long v)
{
	static const char digits[201] =
		"0001020304050607080910111213141516171819"
		"2021222324252627282930313233343536373839"
		"4041424344454647484950515253545556575859"
		"6061626364656667686970717273747576777879"
		"8081828384858687888990919293949596979899";
	char tmp[TN_LL_MAX_CHARS];
	unsigned long long u;
	int n = 0, len = 0;

	if (v < 0) {
		buf[len++] = '-';
		/* Negate in unsigned arithmetic: -LLONG_MIN overflows. */
		u = 0ULL - (unsigned long long)v;
	} else {
		u = (unsigned long long)v;
	}
	/* Two digits per division halves the slow divides. */
	while (u >= 100) {
		unsigned i = (unsigned)(u % 100) * 2;

		u /= 100;
		tmp[n++] = digits[i + 1];
		tmp[n++] = digits[i];
	}
	if (u < 10) {
		tmp[n++] = (char)('0' + u);
	} else {
		unsigned i = (unsigned)u * 2;

		tmp[n++] = digits[i + 1];
		tmp[n++] = digits[i];
	}
	while (n > 0)
		buf[len++] = tmp[--n];
	buf[len] = '\0';
	return len;
}

int tn_parse_memory(const char *s, unsigned long long *out)
{
	static const struct {
		const char *unit;
		unsigned long long mul;
	} units[] = {
		{ "", 1 },
		{ "b", 1 },
		{ "k", 1000ULL },
		{ "kb", 1024ULL },
		{ "m", 1000ULL * 1000 },
		{ "mb", 1024ULL * 1024 },
		{ "g", 1000ULL * 1000 * 1000 },
		{ "gb", 1024ULL * 1024 * 1024 },
	};
	unsigned long long v = 0, mul = 0;
	const char *u = s;
	size_t i;

	while (*u >= '0' && *u <= '9')
		u++;
	/* Redis reads "" and "kb" as 0; a size with no digits is a typo. */
	if (u == s)
		return -1;
	for (i = 0; i < TN_ARRAY_SIZE(units); i++) {
		if (strcasecmp(u, units[i].unit) == 0) {
			mul = units[i].mul;
			break;
		}
	}
	if (mul == 0)
		return -1;
	for (; s < u; s++) {
		unsigned d = (unsigned)(*s - '0');

		if (v > (ULLONG_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > ULLONG_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

size_t tn_ld2str(char *buf, size_t cap, long double d)
{
	int n = snprintf(buf, cap, "%.17Lf", d);

	if (n < 0 || (size_t)n >= cap)
		return 0;
	if (memchr(buf, '.', (size_t)n)) {
		while (buf[n - 1] == '0')
			n--;
		if (buf[n - 1] == '.')
			n--;
	}
	if (n == 2 && buf[0] == '-' && buf[1] == '0') {
		buf[0] = '0';
		n = 1;
	}
	return (size_t)n;
}
