/*
 * test_glob.c - store/glob.c against Redis 7.0 stringmatchlen: classes,
 * ranges, escapes, nocase, its quirks, and patterns built to be slow.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

static bool m(const char *pat, const char *s)
{
	return tn_glob_match(pat, strlen(pat), s, strlen(s), false);
}

static bool mi(const char *pat, const char *s)
{
	return tn_glob_match(pat, strlen(pat), s, strlen(s), true);
}

Test(glob, literals_and_wildcards)
{
	cr_expect(m("hello", "hello"));
	cr_expect(!m("hello", "hell"));
	cr_expect(!m("hell", "hello"));
	cr_expect(!m("hello", "Hello"));
	cr_expect(m("h?llo", "hello"));
	cr_expect(m("h?llo", "hallo"));
	cr_expect(!m("h?llo", "hllo"));
	cr_expect(m("h*llo", "hllo"));
	cr_expect(m("h*llo", "heeeello"));
	cr_expect(!m("h*llo", "heeeell"));
	cr_expect(m("*", "x"));
	cr_expect(m("**", "xyz"));
	cr_expect(m("a*", "a"));
	cr_expect(m("a**", "a"));
	cr_expect(m("*a", "bba"));
	cr_expect(!m("*a", "bab"));
	cr_expect(m("*:*:*", "user:1:name"));
	cr_expect(!m("*:*:*", "user:1"));
	cr_expect(m("", ""));
	cr_expect(!m("", "a"));
	cr_expect(!m("?", ""));
}

Test(glob, star_against_empty_string_is_redis_quirk)
{
	/* stringmatchlen("*", "") is 0: KEYS and SCAN special-case "*". */
	cr_expect(!m("*", ""));
	cr_expect(!m("**", ""));
}

Test(glob, classes)
{
	cr_expect(m("h[ae]llo", "hello"));
	cr_expect(m("h[ae]llo", "hallo"));
	cr_expect(!m("h[ae]llo", "hillo"));
	cr_expect(m("h[^e]llo", "hallo"));
	cr_expect(!m("h[^e]llo", "hello"));
	cr_expect(m("h[a-b]llo", "hallo"));
	cr_expect(m("h[a-b]llo", "hbllo"));
	cr_expect(!m("h[a-b]llo", "hcllo"));
	cr_expect(m("[0-9]", "5"));
	cr_expect(!m("[0-9]", "a"));
	cr_expect(m("[^0-9]", "a"));
	cr_expect(m("[a-cx-z]", "y"));
	cr_expect(!m("[a-cx-z]", "m"));
	cr_expect(m("[abc]*", "cat"));
	cr_expect(!m("[abc]", ""));
}

Test(glob, reversed_ranges)
{
	cr_expect(m("[z-a]", "m"));
	cr_expect(m("[9-0]", "0"));
	cr_expect(!m("[z-a]", "A"));
	cr_expect(m("[^z-a]", "A"));
}

Test(glob, escapes)
{
	cr_expect(m("h\\*llo", "h*llo"));
	cr_expect(!m("h\\*llo", "hello"));
	cr_expect(m("\\?", "?"));
	cr_expect(!m("\\?", "a"));
	cr_expect(m("\\[a]", "[a]"));
	cr_expect(m("a\\\\b", "a\\b"));
	/* A trailing backslash is a literal backslash. */
	cr_expect(m("a\\", "a\\"));
	cr_expect(!m("a\\", "a"));
	/* Inside a class, \x is the literal x: "[\]]" is the class of ']'. */
	cr_expect(m("[\\]]", "]"));
	cr_expect(m("[\\^a]", "^"));
	cr_expect(m("[\\-]", "-"));
	cr_expect(!m("[\\-]", "\\"));
}

Test(glob, nocase)
{
	cr_expect(mi("HELLO", "hello"));
	cr_expect(mi("hello", "HeLLo"));
	cr_expect(mi("h[A-C]llo", "hbllo"));
	cr_expect(mi("h[a-c]llo", "hBllo"));
	cr_expect(mi("h[E]llo", "hello"));
	cr_expect(!mi("h[^E]llo", "hello"));
	cr_expect(mi("H*O", "hello"));
	cr_expect(!m("H*O", "hello"));
	/* Escaped characters inside a class stay case-sensitive, as Redis. */
	cr_expect(!mi("[\\A]", "a"));
	/* Only ASCII letters fold (C locale). */
	cr_expect(!mi("\xc3\x89", "\xc3\xa9"));
}

Test(glob, unterminated_class_is_redis_quirk)
{
	/* An unclosed class ends at the pattern's end and still matches. */
	cr_expect(m("[abc", "a"));
	cr_expect(m("[abc", "c"));
	cr_expect(!m("[abc", "d"));
	cr_expect(!m("[abc", "ab"));
	cr_expect(m("[^", "x"));
	cr_expect(!m("[", ""));
	/* "[a-]" is the range a..']' (reversed), not 'a' or '-'. */
	cr_expect(m("[a-]", "_"));
	cr_expect(m("[a-]", "a"));
	cr_expect(!m("[a-]", "-"));
}

Test(glob, high_bytes_compare_as_signed_chars)
{
	/* Redis on x86 sees 0xff as -1, so [\x01-\xff] is -1..1. */
	cr_expect(m("[\x01-\xff]", "\xff"));
	cr_expect(m("[\x01-\xff]", "\x01"));
	cr_expect(!m("[\x01-\xff]", "a"));
	cr_expect(m("\xe9*", "\xe9t\xe9"));
	/* With nocase, glibc's tolower() turns -23 back into 233 after the
	 * bounds were ordered, so the same range matches nothing below. */
	cr_expect(m("[\xe9-a]", "]"));
	cr_expect(!mi("[\xe9-a]", "]"));
	cr_expect(mi("\xe9", "\xe9"));
}

Test(glob, binary_safe)
{
	cr_expect(tn_glob_match("a?c", 3, "a\0c", 3, false));
	cr_expect(tn_glob_match("a\0*", 3, "a\0zzz", 5, false));
	cr_expect(!tn_glob_match("a\0*", 3, "a", 1, false));
	/* The lengths bound the reads: the bytes past them do not count. */
	cr_expect(tn_glob_match("ab*", 2, "abc", 2, false));
	cr_expect(!tn_glob_match("abcd", 3, "abcd", 4, false));
}

Test(glob, pathological_stars_finish_fast, .timeout = 5)
{
	char pat[256], *s;
	size_t i, n = 0;

	for (i = 0; i < 50; i++) {
		pat[n++] = 'a';
		pat[n++] = '*';
	}
	pat[n++] = 'b';
	s = malloc(100000);
	cr_assert(s);
	memset(s, 'a', 100000);
	/* Exponential without Redis' skip-longer-matches rule. */
	cr_expect(!tn_glob_match(pat, n, s, 100000, false));
	s[99999] = 'b';
	cr_expect(tn_glob_match(pat, n, s, 100000, false));
	free(s);
}

Test(glob, nesting_limit_matches_redis, .timeout = 5)
{
	/* Redis' "very long nested loops" regression: KEYS of 50000 "*?"
	 * against a 50000-byte key returns nothing (nesting > 1000). */
	size_t n = 50000, i;
	char *pat = malloc(2 * n), *s = malloc(n);

	cr_assert(pat && s);
	for (i = 0; i < n; i++) {
		pat[2 * i] = '*';
		pat[2 * i + 1] = '?';
	}
	memset(s, 'a', n);
	cr_expect(!tn_glob_match(pat, 2 * n, s, n, false));
	/* Below the limit the same shape matches. */
	cr_expect(tn_glob_match(pat, 2 * 10, s, 10, false));
	cr_expect(!tn_glob_match(pat, 2 * 10, s, 9, false));
	free(pat);
	free(s);
}
