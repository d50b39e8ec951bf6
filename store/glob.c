/*
 * glob.c - KEYS/SCAN MATCH/PSUBSCRIBE patterns, a port of Redis 7.0's
 * stringmatchlen (util.c) including its quirks and its defences against
 * patterns built to take exponential time or to overflow the stack.
 */
#include <stdbool.h>
#include <stddef.h>

#include "store/store.h"

/* Redis gives up (no match) past this many nested '*'. */
#define TN_GLOB_MAX_NESTING 1000

/*
 * tolower() as Redis gets it: glibc, C locale (Redis never sets
 * LC_CTYPE), called on plain signed chars.  ASCII letters fold; bytes
 * 0x80-0xfe come back as their unsigned value, 0xff as EOF (-1).  It
 * only shows in nocase ranges over high bytes, but those must agree.
 */
static inline int fold(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c + ('a' - 'A');
	if (c < -1)
		return c + 256;
	return c;
}

/* Redis compares range bounds as plain (signed, on x86) chars. */
static inline int sch(char c)
{
	return (signed char)c;
}

static bool chars_equal(char a, char b, bool nocase)
{
	return nocase ? fold(sch(a)) == fold(sch(b)) : a == b;
}

/*
 * Match one "[...]" class starting just after the '['.  Advances *pp and
 * *plen to the closing ']' (or to the last byte when there is none, as
 * Redis does) and returns whether `c` is in the class.
 */
static bool class_match(const char **pp, size_t *plen, char c, bool nocase)
{
	const char *p = *pp;
	size_t plen_left = *plen;
	bool not = false, match = false;

	if (plen_left && p[0] == '^') {
		not = true;
		p++;
		plen_left--;
	}
	for (;;) {
		if (plen_left == 0) {
			/* Unterminated: step back; the caller's p++ ends it. */
			p--;
			plen_left++;
			break;
		}
		if (p[0] == '\\' && plen_left >= 2) {
			p++;
			plen_left--;
			if (p[0] == c)
				match = true;
		} else if (p[0] == ']') {
			break;
		} else if (plen_left >= 3 && p[1] == '-') {
			int start = sch(p[0]), end = sch(p[2]), x = sch(c);

			if (start > end) {
				int t = start;

				start = end;
				end = t;
			}
			if (nocase) {
				start = fold(start);
				end = fold(end);
				x = fold(x);
			}
			p += 2;
			plen_left -= 2;
			if (x >= start && x <= end)
				match = true;
		} else if (chars_equal(p[0], c, nocase)) {
			match = true;
		}
		p++;
		plen_left--;
	}
	*pp = p;
	*plen = plen_left;
	return not ? !match : match;
}

/*
 * `skip_longer` is Redis' fix for exponential backtracking: once the rest
 * of the pattern after a '*' failed at every position of the string, no
 * earlier '*' can help by matching more, so every level gives up.
 */
static bool glob_impl(const char *p, size_t plen, const char *s, size_t slen,
		      bool nocase, bool *skip_longer, int nesting)
{
	if (nesting > TN_GLOB_MAX_NESTING)
		return false;

	while (plen && slen) {
		switch (p[0]) {
		case '*':
			while (plen > 1 && p[1] == '*') {
				p++;
				plen--;
			}
			if (plen == 1)
				return true;
			while (slen) {
				if (glob_impl(p + 1, plen - 1, s, slen, nocase,
					      skip_longer, nesting + 1))
					return true;
				if (*skip_longer)
					return false;
				s++;
				slen--;
			}
			*skip_longer = true;
			return false;
		case '?':
			s++;
			slen--;
			break;
		case '[':
			p++;
			plen--;
			if (!class_match(&p, &plen, s[0], nocase))
				return false;
			s++;
			slen--;
			break;
		case '\\':
			if (plen >= 2) {
				p++;
				plen--;
			}
			/* fall through */
		default:
			if (!chars_equal(p[0], s[0], nocase))
				return false;
			s++;
			slen--;
			break;
		}
		p++;
		plen--;
		if (slen == 0) {
			/* Trailing stars match the empty rest. */
			while (plen && p[0] == '*') {
				p++;
				plen--;
			}
			break;
		}
	}
	return plen == 0 && slen == 0;
}

bool tn_glob_match(const char *pat, size_t plen, const char *s, size_t slen,
		   bool nocase)
{
	bool skip_longer = false;

	return glob_impl(pat, plen, s, slen, nocase, &skip_longer, 0);
}
