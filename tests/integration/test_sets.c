/*
 * test_sets.c - set commands against a real server: replies and errors
 * as Redis 7.0 gives them, intset to hashtable conversion, random picks,
 * SSCAN over a large set that grows during the scan, RESP3 reply types.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

/* A small intset limit so the boundary is cheap to reach. */
#define INTSET_MAX 16

static struct tn_server srv;

static void setup(void)
{
	cr_assert(tn_server_start(&srv, "set-max-intset-entries 16") == 0,
		  "server did not start");
}

static void teardown(void)
{
	cr_expect(tn_server_stop(&srv) == 0, "supervisor did not exit 0");
}

TestSuite(sets, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A reply's elements as a sorted, NULL-terminated list of strings. */
static char **members_of(redisReply *r, size_t *n)
{
	char **v;
	size_t i;

	cr_assert(r->type == REDIS_REPLY_ARRAY,
		  "expected an array, got type %d \"%s\"", r->type,
		  r->str ? r->str : "");
	v = calloc(r->elements + 1, sizeof(*v));
	cr_assert(v);
	for (i = 0; i < r->elements; i++) {
		cr_assert(r->element[i]->type == REDIS_REPLY_STRING,
			  "element %zu has type %d", i, r->element[i]->type);
		v[i] = strndup(r->element[i]->str, r->element[i]->len);
	}
	qsort(v, r->elements, sizeof(*v), cmp_str);
	*n = r->elements;
	return v;
}

static void free_members(char **v)
{
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

/* The reply holds exactly the space-separated members of `want`, in any
 * order (want "" is the empty set). */
static void check_set(redisReply *r, const char *want)
{
	char buf[4096], *tok, *save = NULL, *w[512];
	size_t nw = 0, n, i;
	char **got = members_of(r, &n);

	snprintf(buf, sizeof(buf), "%s", want);
	for (tok = strtok_r(buf, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save))
		w[nw++] = tok;
	qsort(w, nw, sizeof(*w), cmp_str);
	cr_expect_eq(n, nw, "expected %zu members (%s), got %zu", nw, want,
		     n);
	for (i = 0; i < n && i < nw; i++)
		cr_expect_str_eq(got[i], w[i], "member %zu differs (want %s)",
				 i, want);
	free_members(got);
}

/* check_set, then free the reply. */
static void expect_set(redisReply *r, const char *want)
{
	check_set(r, want);
	freeReplyObject(r);
}

static void expect_type(redisReply *r, int type, const char *what)
{
	cr_expect_eq(r->type, type, "%s: expected reply type %d, got %d",
		     what, type, r->type);
	freeReplyObject(r);
}

/* OBJECT ENCODING of key, or NULL when the server lacks the command. */
static char *encoding_of(redisContext *c, const char *key)
{
	redisReply *r = tn_cmd(c, "OBJECT ENCODING %s", key);
	char *s = NULL;

	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
		s = strdup(r->str);
	else
		cr_expect(r->type == REDIS_REPLY_ERROR, "OBJECT ENCODING: %d",
			  r->type);
	freeReplyObject(r);
	return s;
}

static void expect_encoding(redisContext *c, const char *key,
			    const char *want)
{
	char *enc = encoding_of(c, key);

	if (!enc)
		return; /* OBJECT not there yet: behaviour is checked instead */
	cr_expect_str_eq(enc, want, "OBJECT ENCODING %s", key);
	free(enc);
}

/* SADD key with members prefix0..prefix(n-1), in batches, pipelined. */
static void fill_set(redisContext *c, const char *key, const char *prefix,
		     long from, long n)
{
	enum { BATCH = 1000 };
	const char **argv = malloc(sizeof(char *) * (BATCH + 2));
	size_t *lens = malloc(sizeof(size_t) * (BATCH + 2));
	char (*bufs)[48] = malloc(48 * BATCH);
	long i, sent = 0, j;
	redisReply *r;

	cr_assert(argv && lens && bufs);
	argv[0] = "SADD";
	argv[1] = key;
	lens[0] = 4;
	lens[1] = strlen(key);
	for (i = 0; i < n; i += BATCH) {
		long m = n - i < BATCH ? n - i : BATCH;

		for (j = 0; j < m; j++) {
			lens[j + 2] = (size_t)snprintf(bufs[j], 48, "%s%ld",
						       prefix, from + i + j);
			argv[j + 2] = bufs[j];
		}
		cr_assert(redisAppendCommandArgv(c, (int)m + 2, argv, lens) ==
			  REDIS_OK);
		sent++;
		/* The args were copied into hiredis' buffer: reuse them. */
	}
	for (i = 0; i < sent; i++) {
		cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK,
			  "pipelined SADD: %s", c->errstr);
		cr_expect_eq(r->type, REDIS_REPLY_INTEGER, "SADD reply %d: %s",
			     r->type, r->str ? r->str : "");
		freeReplyObject(r);
	}
	free(argv);
	free(lens);
	free(bufs);
}

/* ------------------------------------------------------------------ */
/* Basic commands                                                       */
/* ------------------------------------------------------------------ */

Test(sets, sadd_scard_sismember)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_int(tn_cmd(c, "SADD s a b c"), 3);
	tn_expect_int(tn_cmd(c, "SADD s a d a"), 1);
	tn_expect_int(tn_cmd(c, "SCARD s"), 4);
	tn_expect_int(tn_cmd(c, "SCARD nosuch"), 0);
	tn_expect_int(tn_cmd(c, "SISMEMBER s a"), 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER s zz"), 0);
	tn_expect_int(tn_cmd(c, "SISMEMBER nosuch a"), 0);
	expect_set(tn_cmd(c, "SMEMBERS s"), "a b c d");
	expect_set(tn_cmd(c, "SMEMBERS nosuch"), "");
	tn_expect_status(tn_cmd(c, "TYPE s"), "set");

	/* Empty and binary members are members like any other. */
	tn_expect_int(tn_cmd(c, "SADD bin %b %b", "", (size_t)0, "a\0b",
			     (size_t)3),
		      2);
	tn_expect_int(tn_cmd(c, "SISMEMBER bin %b", "a\0b", (size_t)3), 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER bin %b", "a", (size_t)1), 0);
	tn_expect_int(tn_cmd(c, "SISMEMBER bin %b", "", (size_t)0), 1);

	tn_expect_error(tn_cmd(c, "SADD s"),
			"ERR wrong number of arguments for 'sadd' command");
	tn_expect_error(tn_cmd(c, "SCARD"),
			"ERR wrong number of arguments for 'scard' command");
	tn_expect_error(tn_cmd(c, "SISMEMBER s"),
			"ERR wrong number of arguments for 'sismember' command");
	tn_expect_error(tn_cmd(c, "SMEMBERS s x"),
			"ERR wrong number of arguments for 'smembers' command");
	redisFree(c);
}

Test(sets, smismember)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	tn_expect_int(tn_cmd(c, "SADD s a 1 b"), 3);
	r = tn_cmd(c, "SMISMEMBER s a x 1 b 2");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 5);
	long long want[] = {1, 0, 1, 1, 0};
	for (size_t i = 0; i < 5; i++) {
		cr_expect_eq(r->element[i]->type, REDIS_REPLY_INTEGER);
		cr_expect_eq(r->element[i]->integer, want[i], "element %zu", i);
	}
	freeReplyObject(r);

	r = tn_cmd(c, "SMISMEMBER nosuch a b");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 2);
	cr_expect_eq(r->element[0]->integer, 0);
	cr_expect_eq(r->element[1]->integer, 0);
	freeReplyObject(r);

	tn_expect_error(tn_cmd(c, "SMISMEMBER s"),
			"ERR wrong number of arguments for 'smismember' "
			"command");
	redisFree(c);
}

Test(sets, srem_deletes_empty_set)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_int(tn_cmd(c, "SREM nosuch a"), 0);
	tn_expect_int(tn_cmd(c, "SADD s a b c 1 2"), 5);
	tn_expect_int(tn_cmd(c, "SREM s a x a"), 1);
	tn_expect_int(tn_cmd(c, "SREM s 1 b"), 2);
	expect_set(tn_cmd(c, "SMEMBERS s"), "c 2");
	tn_expect_int(tn_cmd(c, "SREM s c 2 zz"), 2);
	tn_expect_int(tn_cmd(c, "EXISTS s"), 0);
	tn_expect_status(tn_cmd(c, "TYPE s"), "none");

	/* An intset emptied is gone too. */
	tn_expect_int(tn_cmd(c, "SADD i 1 2 3"), 3);
	tn_expect_int(tn_cmd(c, "SREM i 3 2 1 0"), 3);
	tn_expect_int(tn_cmd(c, "EXISTS i"), 0);
	/* and it comes back fresh */
	tn_expect_int(tn_cmd(c, "SADD i 5"), 1);
	expect_set(tn_cmd(c, "SMEMBERS i"), "5");
	tn_expect_error(tn_cmd(c, "SREM i"),
			"ERR wrong number of arguments for 'srem' command");
	redisFree(c);
}

/* A string key against every set command, in every key position. */
Test(sets, wrongtype)
{
	redisContext *c = tn_connect(&srv);
	const char *wt =
		"WRONGTYPE Operation against a key holding the wrong kind of "
		"value";
	const char *cmds[] = {
		"SADD str a",		"SREM str a",
		"SISMEMBER str a",	"SMISMEMBER str a b",
		"SCARD str",		"SMEMBERS str",
		"SPOP str",		"SPOP str 2",
		"SPOP str 0",		"SRANDMEMBER str",
		"SRANDMEMBER str 2",	"SRANDMEMBER str 0",
		"SRANDMEMBER str -2",	"SSCAN str 0",
		"SINTER str",		"SINTER s str",
		"SINTER nosuch str",	"SINTER str nosuch",
		"SUNION s str",		"SUNION nosuch str",
		"SDIFF str s",		"SDIFF s str",
		"SDIFF nosuch str",	"SINTERCARD 1 str",
		"SINTERCARD 2 nosuch str", "SINTERSTORE d s str",
		"SINTERSTORE d nosuch str", "SUNIONSTORE d str s",
		"SDIFFSTORE d s str",	"SDIFFSTORE d nosuch str",
		"SMOVE str s a",	"SMOVE s str a",
	};

	tn_expect_status(tn_cmd(c, "SET str x"), "OK");
	tn_expect_int(tn_cmd(c, "SADD s a"), 1);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		redisReply *r = tn_cmd(c, cmds[i]);

		cr_expect(r->type == REDIS_REPLY_ERROR && !strcmp(r->str, wt),
			  "%s: got type %d \"%s\"", cmds[i], r->type,
			  r->str ? r->str : "");
		freeReplyObject(r);
	}
	/* Nothing changed, and the failed store left d alone. */
	tn_expect_str(tn_cmd(c, "GET str"), "x");
	expect_set(tn_cmd(c, "SMEMBERS s"), "a");
	tn_expect_int(tn_cmd(c, "EXISTS d"), 0);

	/* Redis looks at the source first: a missing one is just 0. */
	tn_expect_int(tn_cmd(c, "SMOVE nosuch str a"), 0);
	/* A string destination of a STORE is simply overwritten. */
	tn_expect_int(tn_cmd(c, "SUNIONSTORE str s"), 1);
	tn_expect_status(tn_cmd(c, "TYPE str"), "set");
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* Encodings                                                            */
/* ------------------------------------------------------------------ */

Test(sets, intset_boundary_and_conversion)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;
	char cmd[512], *enc;
	int i, len;

	/* Exactly INTSET_MAX integers stay an intset. */
	len = snprintf(cmd, sizeof(cmd), "SADD b");
	for (i = 0; i < INTSET_MAX; i++)
		len += snprintf(cmd + len, sizeof(cmd) - len, " %d",
				(i * 7919) % 1000 - 500);
	tn_expect_int(tn_cmd(c, cmd), INTSET_MAX);
	expect_encoding(c, "b", "intset");
	/* An integer already there changes nothing, even at the limit. */
	tn_expect_int(tn_cmd(c, "SADD b -500"), 0);
	expect_encoding(c, "b", "intset");
	/* One more: hashtable, for good. */
	tn_expect_int(tn_cmd(c, "SADD b 100000"), 1);
	expect_encoding(c, "b", "hashtable");
	tn_expect_int(tn_cmd(c, "SCARD b"), INTSET_MAX + 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER b -500"), 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER b 100000"), 1);
	tn_expect_int(tn_cmd(c, "SREM b 100000 -500"), 2);
	expect_encoding(c, "b", "hashtable");
	tn_expect_int(tn_cmd(c, "SCARD b"), INTSET_MAX - 1);

	/* Sorted, as an intset iterates. */
	tn_expect_int(tn_cmd(c, "SADD n 5 -3 9223372036854775807 0 "
				"-9223372036854775808"),
		      5);
	expect_encoding(c, "n", "intset");
	r = tn_cmd(c, "SMEMBERS n");
	cr_assert_eq(r->elements, 5);
	enc = encoding_of(c, "n");
	if (enc) {
		const char *order[] = {"-9223372036854775808", "-3", "0", "5",
				       "9223372036854775807"};

		for (i = 0; i < 5; i++)
			cr_expect_str_eq(r->element[i]->str, order[i]);
		free(enc);
	}
	freeReplyObject(r);

	/* Strings that only look like integers are not: hashtable. */
	const char *notint[] = {"01", "+1", " 1", "1 ", "-0",
				"9223372036854775808", "1.0", "0x10"};
	for (i = 0; i < (int)(sizeof(notint) / sizeof(notint[0])); i++) {
		char key[32];

		snprintf(key, sizeof(key), "ni%d", i);
		tn_expect_int(tn_cmd(c, "SADD %s 1 %s", key, notint[i]), 2);
		expect_encoding(c, key, "hashtable");
		tn_expect_int(tn_cmd(c, "SISMEMBER %s %s", key, notint[i]),
			      1);
		tn_expect_int(tn_cmd(c, "SISMEMBER %s 1", key), 1);
		tn_expect_int(tn_cmd(c, "SCARD %s", key), 2);
	}

	/* A non-integer member converts; integers still match by value. */
	tn_expect_int(tn_cmd(c, "SADD m 10 20 30"), 3);
	tn_expect_int(tn_cmd(c, "SADD m x"), 1);
	expect_encoding(c, "m", "hashtable");
	tn_expect_int(tn_cmd(c, "SISMEMBER m 10"), 1);
	tn_expect_int(tn_cmd(c, "SREM m x"), 1);
	expect_encoding(c, "m", "hashtable");
	tn_expect_int(tn_cmd(c, "SADD m 10"), 0);
	expect_set(tn_cmd(c, "SMEMBERS m"), "10 20 30");

	/* First member a string, then integers: hashtable from the start. */
	tn_expect_int(tn_cmd(c, "SADD h a 1 2"), 3);
	expect_encoding(c, "h", "hashtable");
	redisFree(c);
}

/* Intsets and hashtables holding the same values agree in every
 * multi-key command. */
Test(sets, mixed_encodings_agree)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_int(tn_cmd(c, "SADD i 1 2 3 4 5"), 5);
	tn_expect_int(tn_cmd(c, "SADD h 3 4 5 6 x"), 5);
	expect_encoding(c, "i", "intset");
	expect_encoding(c, "h", "hashtable");
	expect_set(tn_cmd(c, "SINTER i h"), "3 4 5");
	expect_set(tn_cmd(c, "SINTER h i"), "3 4 5");
	expect_set(tn_cmd(c, "SUNION i h"), "1 2 3 4 5 6 x");
	expect_set(tn_cmd(c, "SDIFF i h"), "1 2");
	expect_set(tn_cmd(c, "SDIFF h i"), "6 x");
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 i h"), 3);

	/* A store of integers only is an intset again; with x it is not. */
	tn_expect_int(tn_cmd(c, "SINTERSTORE d h i"), 3);
	expect_encoding(c, "d", "intset");
	tn_expect_int(tn_cmd(c, "SDIFFSTORE d h i"), 2);
	expect_encoding(c, "d", "hashtable");
	expect_set(tn_cmd(c, "SMEMBERS d"), "6 x");
	redisFree(c);
}

/* Where Redis builds a new set, the encoding shows how it was built. */
Test(sets, encoding_of_rebuilt_sets)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	/* SDIFFSTORE with many subtrahends copies the first set (a
	 * hashtable here) and removes from the copy: still a hashtable. */
	tn_expect_int(tn_cmd(c, "SADD a 1 2 3 4 5 6 7 8 9 10 x"), 11);
	tn_expect_int(tn_cmd(c, "SADD b x"), 1);
	tn_expect_int(tn_cmd(c, "SADD c 1"), 1);
	tn_expect_int(tn_cmd(c, "SDIFFSTORE d a b c"), 9);
	expect_encoding(c, "d", "hashtable");
	expect_set(tn_cmd(c, "SMEMBERS d"), "2 3 4 5 6 7 8 9 10");
	/* With one, it walks the first set and adds to a new intset. */
	tn_expect_int(tn_cmd(c, "SDIFFSTORE d a b"), 10);
	expect_encoding(c, "d", "intset");
	expect_set(tn_cmd(c, "SMEMBERS d"), "1 2 3 4 5 6 7 8 9 10");

	/* SPOP of a few keeps the hashtable; SPOP of most moves the
	 * survivors to a new set, an intset if they fit. */
	tn_expect_int(tn_cmd(c, "SADD h 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 "
				"16 17 18 19 20"),
		      20);
	expect_encoding(c, "h", "hashtable");
	r = tn_cmd(c, "SPOP h 2");
	cr_expect_eq(r->elements, 2);
	freeReplyObject(r);
	expect_encoding(c, "h", "hashtable");
	r = tn_cmd(c, "SPOP h 15");
	cr_expect_eq(r->elements, 15);
	freeReplyObject(r);
	expect_encoding(c, "h", "intset");
	tn_expect_int(tn_cmd(c, "SCARD h"), 3);
	r = tn_cmd(c, "SMEMBERS h");
	cr_assert_eq(r->elements, 3);
	for (size_t i = 0; i < 3; i++) {
		int v = atoi(r->element[i]->str);

		cr_expect(v >= 1 && v <= 20);
		tn_expect_int(tn_cmd(c, "SISMEMBER h %d", v), 1);
	}
	freeReplyObject(r);
	/* not with a string among them */
	tn_expect_int(tn_cmd(c, "SADD s a b c d e f g h i j k l m n o p q r "
				"s t"),
		      20);
	r = tn_cmd(c, "SPOP s 17");
	freeReplyObject(r);
	expect_encoding(c, "s", "hashtable");
	tn_expect_int(tn_cmd(c, "SCARD s"), 3);
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* SPOP                                                                 */
/* ------------------------------------------------------------------ */

Test(sets, spop_single)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	tn_expect_nil(tn_cmd(c, "SPOP nosuch"));
	tn_expect_int(tn_cmd(c, "SADD s a b"), 2);
	r = tn_cmd(c, "SPOP s");
	cr_assert_eq(r->type, REDIS_REPLY_STRING);
	cr_assert(!strcmp(r->str, "a") || !strcmp(r->str, "b"));
	tn_expect_int(tn_cmd(c, "SISMEMBER s %s", r->str), 0);
	tn_expect_int(tn_cmd(c, "SCARD s"), 1);
	freeReplyObject(r);
	r = tn_cmd(c, "SPOP s");
	cr_assert_eq(r->type, REDIS_REPLY_STRING);
	freeReplyObject(r);
	tn_expect_int(tn_cmd(c, "EXISTS s"), 0);
	tn_expect_nil(tn_cmd(c, "SPOP s"));

	tn_expect_int(tn_cmd(c, "SADD i 7"), 1);
	tn_expect_str(tn_cmd(c, "SPOP i"), "7");
	tn_expect_int(tn_cmd(c, "EXISTS i"), 0);

	tn_expect_error(tn_cmd(c, "SPOP s 1 2"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SPOP"),
			"ERR wrong number of arguments for 'spop' command");
	redisFree(c);
}

Test(sets, spop_count_errors_and_edges)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	tn_expect_int(tn_cmd(c, "SADD s a b c"), 3);
	tn_expect_error(tn_cmd(c, "SPOP s -1"),
			"ERR value is out of range, must be positive");
	tn_expect_error(tn_cmd(c, "SPOP s abc"),
			"ERR value is out of range, must be positive");
	/* The count is checked before the key. */
	tn_expect_error(tn_cmd(c, "SPOP nosuch -1"),
			"ERR value is out of range, must be positive");
	expect_set(tn_cmd(c, "SPOP s 0"), "");
	expect_set(tn_cmd(c, "SPOP nosuch 0"), "");
	expect_set(tn_cmd(c, "SPOP nosuch 5"), "");
	tn_expect_int(tn_cmd(c, "SCARD s"), 3);

	/* count >= size: everything, and the key is gone. */
	expect_set(tn_cmd(c, "SPOP s 3"), "a b c");
	tn_expect_int(tn_cmd(c, "EXISTS s"), 0);
	tn_expect_int(tn_cmd(c, "SADD s 1 2 3"), 3);
	expect_set(tn_cmd(c, "SPOP s 100"), "1 2 3");
	tn_expect_int(tn_cmd(c, "EXISTS s"), 0);

	tn_expect_int(tn_cmd(c, "SADD s x y"), 2);
	r = tn_cmd(c, "SPOP s 1");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 1);
	freeReplyObject(r);
	tn_expect_int(tn_cmd(c, "SCARD s"), 1);
	redisFree(c);
}

/*
 * SPOP key count for count < size, for both encodings and both of
 * Redis' strategies (few popped; most popped): distinct members of the
 * original, removed, and what is left is the rest.
 */
static void check_spop_count(redisContext *c, const char *key, long size,
			     long count, const char *prefix)
{
	char **popped, **left;
	size_t np, nl, i;
	redisReply *r;

	r = tn_cmd(c, "SPOP %s %ld", key, count);
	popped = members_of(r, &np);
	freeReplyObject(r);
	cr_assert_eq((long)np, count, "SPOP %s %ld gave %zu", key, count, np);
	for (i = 1; i < np; i++)
		cr_expect_str_neq(popped[i - 1], popped[i], "repeated %s",
				  popped[i]);
	tn_expect_int(tn_cmd(c, "SCARD %s", key), size - count);
	r = tn_cmd(c, "SMEMBERS %s", key);
	left = members_of(r, &nl);
	freeReplyObject(r);
	/* Together they are the original members, each once. */
	for (i = 0; i < np; i++)
		cr_expect(!strncmp(popped[i], prefix, strlen(prefix)),
			  "foreign member %s", popped[i]);
	cr_expect_eq((long)(np + nl), size);
	for (i = 0; i < np; i++)
		cr_expect_null(bsearch(&popped[i], left, nl, sizeof(char *),
				       cmp_str),
			       "%s popped and still there", popped[i]);
	free_members(popped);
	free_members(left);
}

Test(sets, spop_count_strategies)
{
	redisContext *c = tn_connect(&srv);

	/* hashtable, 100 members */
	fill_set(c, "h1", "m", 0, 100);
	check_spop_count(c, "h1", 100, 10, "m"); /* remaining*5 > count */
	fill_set(c, "h2", "m", 0, 100);
	check_spop_count(c, "h2", 100, 90, "m"); /* remaining*5 <= count */
	fill_set(c, "h3", "m", 0, 100);
	check_spop_count(c, "h3", 100, 99, "m");
	expect_encoding(c, "h3", "hashtable");
	/* intset */
	fill_set(c, "i1", "", 0, INTSET_MAX);
	expect_encoding(c, "i1", "intset");
	check_spop_count(c, "i1", INTSET_MAX, 3, "");
	fill_set(c, "i2", "", 0, INTSET_MAX);
	check_spop_count(c, "i2", INTSET_MAX, INTSET_MAX - 1, "");
	expect_encoding(c, "i2", "intset");
	/* the intset left behind still works as a sorted set of ints */
	tn_expect_int(tn_cmd(c, "SADD i1 -1 1000"), 2);
	tn_expect_int(tn_cmd(c, "SISMEMBER i1 1000"), 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER i1 -1"), 1);

	/* large: most of 20000 popped, then the rest */
	fill_set(c, "big", "m", 0, 20000);
	check_spop_count(c, "big", 20000, 19000, "m");
	check_spop_count(c, "big", 1000, 10, "m");
	redisReply *r = tn_cmd(c, "SPOP big 990");
	cr_expect_eq(r->elements, 990);
	freeReplyObject(r);
	tn_expect_int(tn_cmd(c, "EXISTS big"), 0);
	redisFree(c);
}

/* Every member eventually comes out of SPOP and SRANDMEMBER. */
static void check_all_seen(redisContext *c, const char *key, int n,
			   bool pop)
{
	bool seen[64] = {false};
	int nseen = 0, tries, idx;
	redisReply *r;

	for (tries = 0; tries < 5000 && nseen < n; tries++) {
		r = tn_cmd(c, pop ? "SPOP %s" : "SRANDMEMBER %s", key);
		cr_assert_eq(r->type, REDIS_REPLY_STRING);
		idx = atoi(r->str[0] == 'm' ? r->str + 1 : r->str);
		cr_assert(idx >= 0 && idx < n, "foreign member %s", r->str);
		if (!seen[idx]) {
			seen[idx] = true;
			nseen++;
		}
		if (pop)
			tn_expect_int(tn_cmd(c, "SADD %s %s", key, r->str), 1);
		freeReplyObject(r);
	}
	cr_expect_eq(nseen, n, "%s %s: only %d of %d members seen",
		     pop ? "SPOP" : "SRANDMEMBER", key, nseen, n);
}

Test(sets, random_distribution)
{
	redisContext *c = tn_connect(&srv);

	fill_set(c, "i", "", 0, INTSET_MAX);
	fill_set(c, "h", "m", 0, 40);
	check_all_seen(c, "i", INTSET_MAX, false);
	check_all_seen(c, "h", 40, false);
	check_all_seen(c, "i", INTSET_MAX, true);
	check_all_seen(c, "h", 40, true);
	tn_expect_int(tn_cmd(c, "SCARD i"), INTSET_MAX);
	tn_expect_int(tn_cmd(c, "SCARD h"), 40);
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* SRANDMEMBER                                                          */
/* ------------------------------------------------------------------ */

static void check_srand_distinct(redisContext *c, const char *key,
				 long size, long count)
{
	char **got;
	size_t n, i;
	redisReply *r = tn_cmd(c, "SRANDMEMBER %s %ld", key, count);

	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	got = members_of(r, &n);
	freeReplyObject(r);
	cr_expect_eq((long)n, count < size ? count : size,
		     "SRANDMEMBER %s %ld gave %zu", key, count, n);
	for (i = 1; i < n; i++)
		cr_expect_str_neq(got[i - 1], got[i], "repeated %s", got[i]);
	for (i = 0; i < n; i++)
		tn_expect_int(tn_cmd(c, "SISMEMBER %s %s", key, got[i]), 1);
	free_members(got);
	/* a read: nothing removed */
	tn_expect_int(tn_cmd(c, "SCARD %s", key), size);
}

Test(sets, srandmember_count)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;
	size_t i;

	tn_expect_nil(tn_cmd(c, "SRANDMEMBER nosuch"));
	expect_type(tn_cmd(c, "SRANDMEMBER nosuch 5"), REDIS_REPLY_ARRAY,
		    "SRANDMEMBER nosuch 5");
	expect_set(tn_cmd(c, "SRANDMEMBER nosuch 5"), "");
	expect_set(tn_cmd(c, "SRANDMEMBER nosuch -5"), "");

	fill_set(c, "h", "m", 0, 300);
	fill_set(c, "i", "", 0, INTSET_MAX);
	expect_set(tn_cmd(c, "SRANDMEMBER h 0"), "");
	/* each strategy, each encoding */
	check_srand_distinct(c, "h", 300, 1);
	check_srand_distinct(c, "h", 300, 20); /* sampling */
	check_srand_distinct(c, "h", 300, 250); /* shuffle */
	check_srand_distinct(c, "h", 300, 300);
	check_srand_distinct(c, "h", 300, 1000); /* whole set */
	check_srand_distinct(c, "i", INTSET_MAX, 2);
	check_srand_distinct(c, "i", INTSET_MAX, 10);
	check_srand_distinct(c, "i", INTSET_MAX, 100);

	/* negative: exactly |count|, repetitions allowed */
	r = tn_cmd(c, "SRANDMEMBER i -100");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 100);
	for (i = 0; i < r->elements; i++) {
		int v = atoi(r->element[i]->str);

		cr_expect(v >= 0 && v < INTSET_MAX, "foreign %s",
			  r->element[i]->str);
	}
	freeReplyObject(r);
	tn_expect_int(tn_cmd(c, "SADD one only"), 1);
	r = tn_cmd(c, "SRANDMEMBER one -3");
	cr_assert_eq(r->elements, 3);
	for (i = 0; i < 3; i++)
		cr_expect_str_eq(r->element[i]->str, "only");
	freeReplyObject(r);

	tn_expect_error(tn_cmd(c, "SRANDMEMBER h abc"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "SRANDMEMBER h -9223372036854775808"),
			"ERR value is out of range, value must between "
			"-9223372036854775807 and 9223372036854775807");
	tn_expect_error(tn_cmd(c, "SRANDMEMBER h 1 2"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SRANDMEMBER"),
			"ERR wrong number of arguments for 'srandmember' "
			"command");
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* SINTER, SUNION, SDIFF, SINTERCARD and the STORE forms                */
/* ------------------------------------------------------------------ */

Test(sets, sinter_sunion_sdiff)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_int(tn_cmd(c, "SADD a x y z 1"), 4);
	tn_expect_int(tn_cmd(c, "SADD b y z w 1 2"), 5);
	tn_expect_int(tn_cmd(c, "SADD cc z 1 q"), 3);
	expect_set(tn_cmd(c, "SINTER a"), "x y z 1");
	expect_set(tn_cmd(c, "SINTER a b"), "y z 1");
	expect_set(tn_cmd(c, "SINTER a b cc"), "z 1");
	expect_set(tn_cmd(c, "SINTER a b nosuch"), "");
	expect_set(tn_cmd(c, "SINTER nosuch a"), "");
	expect_set(tn_cmd(c, "SINTER a a"), "x y z 1");
	expect_set(tn_cmd(c, "SUNION a b"), "x y z w 1 2");
	expect_set(tn_cmd(c, "SUNION a nosuch cc"), "x y z 1 q");
	expect_set(tn_cmd(c, "SUNION nosuch"), "");
	expect_set(tn_cmd(c, "SUNION a a"), "x y z 1");
	expect_set(tn_cmd(c, "SUNION nosuch b"), "y z w 1 2");
	expect_set(tn_cmd(c, "SDIFF a b"), "x");
	expect_set(tn_cmd(c, "SDIFF b a cc"), "w 2");
	expect_set(tn_cmd(c, "SDIFF a nosuch"), "x y z 1");
	expect_set(tn_cmd(c, "SDIFF nosuch a"), "");
	expect_set(tn_cmd(c, "SDIFF a a"), "");
	expect_set(tn_cmd(c, "SDIFF a b a"), "");
	tn_expect_error(tn_cmd(c, "SINTER"),
			"ERR wrong number of arguments for 'sinter' command");
	tn_expect_error(tn_cmd(c, "SUNION"),
			"ERR wrong number of arguments for 'sunion' command");
	tn_expect_error(tn_cmd(c, "SDIFF"),
			"ERR wrong number of arguments for 'sdiff' command");
	redisFree(c);
}

Test(sets, sintercard)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_int(tn_cmd(c, "SADD a 1 2 3 4 x"), 5);
	tn_expect_int(tn_cmd(c, "SADD b 2 3 4 5 x"), 5);
	tn_expect_int(tn_cmd(c, "SINTERCARD 1 a"), 5);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 a b"), 4);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 a b LIMIT 0"), 4);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 a b LIMIT 2"), 2);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 a b limit 4"), 4);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 a b LIMIT 100"), 4);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 a b LIMIT 1 LIMIT 3"), 3);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 a nosuch"), 0);
	tn_expect_int(tn_cmd(c, "SINTERCARD 1 nosuch"), 0);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 a a"), 5);
	/* keys beyond numkeys are not keys: "LIMIT" here is an option */
	tn_expect_int(tn_cmd(c, "SINTERCARD 1 a LIMIT 1"), 1);

	tn_expect_error(tn_cmd(c, "SINTERCARD 0 a"),
			"ERR numkeys should be greater than 0");
	tn_expect_error(tn_cmd(c, "SINTERCARD -1 a"),
			"ERR numkeys should be greater than 0");
	tn_expect_error(tn_cmd(c, "SINTERCARD abc a"),
			"ERR numkeys should be greater than 0");
	tn_expect_error(tn_cmd(c, "SINTERCARD 3 a b"),
			"ERR Number of keys can't be greater than number of "
			"args");
	tn_expect_error(tn_cmd(c, "SINTERCARD 9223372036854775807 a"),
			"ERR Number of keys can't be greater than number of "
			"args");
	tn_expect_error(tn_cmd(c, "SINTERCARD 1 a LIMIT -1"),
			"ERR LIMIT can't be negative");
	tn_expect_error(tn_cmd(c, "SINTERCARD 1 a LIMIT x"),
			"ERR LIMIT can't be negative");
	tn_expect_error(tn_cmd(c, "SINTERCARD 1 a LIMIT"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SINTERCARD 1 a b"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SINTERCARD 1"),
			"ERR wrong number of arguments for 'sintercard' "
			"command");
	redisFree(c);
}

Test(sets, store_commands)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	tn_expect_int(tn_cmd(c, "SADD a x y z"), 3);
	tn_expect_int(tn_cmd(c, "SADD b y z w"), 3);

	tn_expect_int(tn_cmd(c, "SINTERSTORE d a b"), 2);
	expect_set(tn_cmd(c, "SMEMBERS d"), "y z");
	tn_expect_int(tn_cmd(c, "SUNIONSTORE d a b"), 4);
	expect_set(tn_cmd(c, "SMEMBERS d"), "x y z w");
	tn_expect_int(tn_cmd(c, "SDIFFSTORE d a b"), 1);
	expect_set(tn_cmd(c, "SMEMBERS d"), "x");

	/* An empty result deletes the destination. */
	tn_expect_int(tn_cmd(c, "SINTERSTORE d a nosuch"), 0);
	tn_expect_int(tn_cmd(c, "EXISTS d"), 0);
	tn_expect_int(tn_cmd(c, "SADD d old"), 1);
	tn_expect_int(tn_cmd(c, "SDIFFSTORE d a a"), 0);
	tn_expect_int(tn_cmd(c, "EXISTS d"), 0);
	tn_expect_int(tn_cmd(c, "SADD d old"), 1);
	tn_expect_int(tn_cmd(c, "SUNIONSTORE d nosuch"), 0);
	tn_expect_int(tn_cmd(c, "EXISTS d"), 0);

	/* Overwrite a string with a TTL: set type, no TTL. */
	tn_expect_status(tn_cmd(c, "SET d str"), "OK");
	r = tn_cmd(c, "PEXPIRE d 100000");
	freeReplyObject(r);
	tn_expect_int(tn_cmd(c, "SUNIONSTORE d a"), 3);
	tn_expect_status(tn_cmd(c, "TYPE d"), "set");
	r = tn_cmd(c, "TTL d");
	if (r->type == REDIS_REPLY_INTEGER)
		cr_expect_eq(r->integer, -1, "TTL after STORE: %lld",
			     r->integer);
	freeReplyObject(r);
	expect_set(tn_cmd(c, "SMEMBERS d"), "x y z");

	/* The destination may be one of the sources. */
	tn_expect_int(tn_cmd(c, "SUNIONSTORE a a b"), 4);
	expect_set(tn_cmd(c, "SMEMBERS a"), "x y z w");
	tn_expect_int(tn_cmd(c, "SINTERSTORE a b a"), 3);
	expect_set(tn_cmd(c, "SMEMBERS a"), "y z w");
	tn_expect_int(tn_cmd(c, "SADD a x"), 1);
	tn_expect_int(tn_cmd(c, "SDIFFSTORE a a b"), 1);
	expect_set(tn_cmd(c, "SMEMBERS a"), "x");
	tn_expect_int(tn_cmd(c, "SDIFFSTORE b a b"), 1);
	expect_set(tn_cmd(c, "SMEMBERS b"), "x");
	tn_expect_int(tn_cmd(c, "SINTERSTORE a a"), 1);
	expect_set(tn_cmd(c, "SMEMBERS a"), "x");
	tn_expect_int(tn_cmd(c, "SDIFFSTORE a a"), 1);
	tn_expect_int(tn_cmd(c, "SDIFFSTORE a a b"), 0);
	tn_expect_int(tn_cmd(c, "EXISTS a"), 0);

	/* Large sources into an intset-sized and a big result. */
	fill_set(c, "big1", "", 0, 5000);
	fill_set(c, "big2", "", 4990, 5000);
	tn_expect_int(tn_cmd(c, "SINTERSTORE d big1 big2"), 10);
	expect_encoding(c, "d", "intset");
	tn_expect_int(tn_cmd(c, "SUNIONSTORE d big1 big2"), 9990);
	expect_encoding(c, "d", "hashtable");
	tn_expect_int(tn_cmd(c, "SDIFFSTORE d big1 big2"), 4990);
	tn_expect_int(tn_cmd(c, "SISMEMBER d 4989"), 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER d 4990"), 0);
	r = tn_cmd(c, "SUNION big1 big2");
	cr_expect_eq(r->elements, 9990);
	freeReplyObject(r);

	tn_expect_error(tn_cmd(c, "SINTERSTORE d"),
			"ERR wrong number of arguments for 'sinterstore' "
			"command");
	tn_expect_error(tn_cmd(c, "SUNIONSTORE d"),
			"ERR wrong number of arguments for 'sunionstore' "
			"command");
	tn_expect_error(tn_cmd(c, "SDIFFSTORE d"),
			"ERR wrong number of arguments for 'sdiffstore' "
			"command");
	redisFree(c);
}

/* More keys than the dispatcher keeps on its stack. */
Test(sets, many_keys)
{
	enum { NK = 100 };
	redisContext *c = tn_connect(&srv);
	const char *argv[NK + 2];
	size_t lens[NK + 2];
	char names[NK][16];
	redisReply *r;
	int i;

	for (i = 0; i < NK; i++) {
		snprintf(names[i], sizeof(names[i]), "k%d", i);
		tn_expect_int(tn_cmd(c, "SADD %s common %d", names[i], i), 2);
		argv[i + 2] = names[i];
		lens[i + 2] = strlen(names[i]);
	}
	/* argv[1..]: command, then the NK keys */
	argv[1] = "SINTER";
	lens[1] = 6;
	expect_set(redisCommandArgv(c, NK + 1, argv + 1, lens + 1), "common");
	argv[1] = "SUNION";
	r = redisCommandArgv(c, NK + 1, argv + 1, lens + 1);
	cr_assert_not_null(r);
	cr_expect_eq(r->elements, NK + 1);
	freeReplyObject(r);
	argv[1] = "SDIFF";
	lens[1] = 5;
	/* only k0 holds "0" */
	expect_set(redisCommandArgv(c, NK + 1, argv + 1, lens + 1), "0");
	/* argv[0..]: command, numkeys or destination, then the keys */
	argv[0] = "SINTERCARD";
	lens[0] = 10;
	argv[1] = "100";
	lens[1] = 3;
	tn_expect_int(redisCommandArgv(c, NK + 2, argv, lens), 1);
	argv[0] = "SUNIONSTORE";
	lens[0] = 11;
	argv[1] = "dest";
	lens[1] = 4;
	tn_expect_int(redisCommandArgv(c, NK + 2, argv, lens), NK + 1);
	tn_expect_int(tn_cmd(c, "SCARD dest"), NK + 1);
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* SMOVE                                                                */
/* ------------------------------------------------------------------ */

Test(sets, smove)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_int(tn_cmd(c, "SADD src a b 1"), 3);
	tn_expect_int(tn_cmd(c, "SADD dst c"), 1);
	tn_expect_int(tn_cmd(c, "SMOVE src dst a"), 1);
	expect_set(tn_cmd(c, "SMEMBERS src"), "b 1");
	expect_set(tn_cmd(c, "SMEMBERS dst"), "a c");
	tn_expect_int(tn_cmd(c, "SMOVE src dst zz"), 0);
	tn_expect_int(tn_cmd(c, "SMOVE nosuch dst a"), 0);
	/* already in the destination: still moved out of the source */
	tn_expect_int(tn_cmd(c, "SADD dst b"), 1);
	tn_expect_int(tn_cmd(c, "SMOVE src dst b"), 1);
	expect_set(tn_cmd(c, "SMEMBERS src"), "1");
	tn_expect_int(tn_cmd(c, "SCARD dst"), 3);
	/* same key: a membership test */
	tn_expect_int(tn_cmd(c, "SMOVE src src 1"), 1);
	tn_expect_int(tn_cmd(c, "SMOVE src src 2"), 0);
	expect_set(tn_cmd(c, "SMEMBERS src"), "1");
	/* last member: source gone; missing destination: created */
	tn_expect_int(tn_cmd(c, "SMOVE src fresh 1"), 1);
	tn_expect_int(tn_cmd(c, "EXISTS src"), 0);
	expect_set(tn_cmd(c, "SMEMBERS fresh"), "1");
	expect_encoding(c, "fresh", "intset");
	/* a string member into an intset converts it */
	tn_expect_int(tn_cmd(c, "SADD hs word"), 1);
	tn_expect_int(tn_cmd(c, "SMOVE hs fresh word"), 1);
	expect_encoding(c, "fresh", "hashtable");
	expect_set(tn_cmd(c, "SMEMBERS fresh"), "1 word");
	/* integer member from a hashtable into an intset stays an int */
	tn_expect_int(tn_cmd(c, "SADD hs x 42"), 2);
	tn_expect_int(tn_cmd(c, "SADD is 7"), 1);
	tn_expect_int(tn_cmd(c, "SMOVE hs is 42"), 1);
	expect_encoding(c, "is", "intset");
	expect_set(tn_cmd(c, "SMEMBERS is"), "7 42");

	tn_expect_error(tn_cmd(c, "SMOVE a b"),
			"ERR wrong number of arguments for 'smove' command");
	redisFree(c);
}

/* Pairs of keys land in different stripes (64 or more of them), so a
 * member's memory must come from the destination's stripe.  Moving
 * back and forth and deleting would trip the allocator otherwise. */
Test(sets, smove_across_stripes)
{
	redisContext *c = tn_connect(&srv);
	int i, j;

	for (i = 0; i < 50; i++) {
		tn_expect_int(tn_cmd(c, "SADD from:%d a b c 1 2", i), 5);
		for (j = 0; j < 20; j++)
			tn_expect_int(tn_cmd(c, "SADD from:%d m%d", i, j), 1);
		tn_expect_int(tn_cmd(c, "SMOVE from:%d to:%d a", i, i), 1);
		tn_expect_int(tn_cmd(c, "SMOVE from:%d to:%d 1", i, i), 1);
		tn_expect_int(tn_cmd(c, "SMOVE from:%d to:%d m7", i, i), 1);
	}
	for (i = 0; i < 50; i++) {
		expect_set(tn_cmd(c, "SMEMBERS to:%d", i), "a 1 m7");
		tn_expect_int(tn_cmd(c, "SCARD from:%d", i), 22);
		/* delete the source: the moved members must survive */
		tn_expect_int(tn_cmd(c, "DEL from:%d", i), 1);
		tn_expect_int(tn_cmd(c, "SADD junk:%d x y z w", i), 4);
		expect_set(tn_cmd(c, "SMEMBERS to:%d", i), "a 1 m7");
		tn_expect_int(tn_cmd(c, "SMOVE to:%d back:%d m7", i, i), 1);
		tn_expect_int(tn_cmd(c, "DEL to:%d", i), 1);
		expect_set(tn_cmd(c, "SMEMBERS back:%d", i), "m7");
	}
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* SSCAN                                                                */
/* ------------------------------------------------------------------ */

/* One SSCAN call: returns the new cursor, the reply in *out. */
static unsigned long long sscan_once(redisContext *c, const char *key,
				     unsigned long long cursor,
				     const char *opts, redisReply **out)
{
	char cmd[256];
	redisReply *r;

	/* hiredis splits the format on spaces, options included */
	snprintf(cmd, sizeof(cmd), "SSCAN %s %llu %s", key, cursor, opts);
	r = tn_cmd(c, cmd);

	cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "SSCAN: type %d %s", r->type,
		     r->str ? r->str : "");
	cr_assert_eq(r->elements, 2);
	cr_assert_eq(r->element[0]->type, REDIS_REPLY_STRING);
	cr_assert_eq(r->element[1]->type, REDIS_REPLY_ARRAY);
	*out = r;
	return strtoull(r->element[0]->str, NULL, 10);
}


Test(sets, sscan_small_and_errors)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	r = tn_cmd(c, "SSCAN nosuch 0");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 2);
	cr_expect_str_eq(r->element[0]->str, "0");
	cr_expect_eq(r->element[1]->elements, 0);
	freeReplyObject(r);
	/* A missing key answers before the options are read. */
	r = tn_cmd(c, "SSCAN nosuch 0 COUNT 0 bogus");
	cr_expect_eq(r->type, REDIS_REPLY_ARRAY);
	freeReplyObject(r);

	/* An intset comes back whole with cursor 0, whatever was asked. */
	tn_expect_int(tn_cmd(c, "SADD i 1 2 3 10 11 20"), 6);
	sscan_once(c, "i", 0, "COUNT 1", &r);
	cr_expect_str_eq(r->element[0]->str, "0");
	check_set(r->element[1], "1 2 3 10 11 20");
	freeReplyObject(r);
	sscan_once(c, "i", 12345, "", &r);
	cr_expect_str_eq(r->element[0]->str, "0");
	check_set(r->element[1], "1 2 3 10 11 20");
	freeReplyObject(r);
	sscan_once(c, "i", 0, "MATCH 1*", &r);
	check_set(r->element[1], "1 10 11");
	freeReplyObject(r);
	sscan_once(c, "i", 0, "MATCH * COUNT 100", &r);
	check_set(r->element[1], "1 2 3 10 11 20");
	freeReplyObject(r);

	/* Cursors as strtoul reads them. */
	tn_expect_error(tn_cmd(c, "SSCAN i abc"), "ERR invalid cursor");
	tn_expect_error(tn_cmd(c, "SSCAN i %s", " 1"), "ERR invalid cursor");
	tn_expect_error(tn_cmd(c, "SSCAN i 1x"), "ERR invalid cursor");
	tn_expect_error(tn_cmd(c, "SSCAN i 18446744073709551616"),
			"ERR invalid cursor");
	tn_expect_error(tn_cmd(c, "SSCAN nosuch abc"), "ERR invalid cursor");
	const char *ok[] = {"-1", "+5", "18446744073709551615", ""};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		r = tn_cmd(c, "SSCAN i %s", ok[i]);
		cr_expect_eq(r->type, REDIS_REPLY_ARRAY, "cursor \"%s\": %s",
			     ok[i], r->str ? r->str : "");
		freeReplyObject(r);
	}

	tn_expect_error(tn_cmd(c, "SSCAN i 0 COUNT 0"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SSCAN i 0 COUNT -1"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SSCAN i 0 COUNT abc"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "SSCAN i 0 MATCH"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SSCAN i 0 bogus 1"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SSCAN i 0 TYPE set"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SSCAN i"),
			"ERR wrong number of arguments for 'sscan' command");
	redisFree(c);
}

/* A full SSCAN of a hashtable; seen[i] counts sightings of prefix<i>. */
static int scan_all(redisContext *c, const char *key, const char *opts,
		    const char *prefix, int *seen, int n)
{
	unsigned long long cursor = 0;
	size_t plen = strlen(prefix), i;
	int calls = 0;
	redisReply *r;

	do {
		cursor = sscan_once(c, key, cursor, opts, &r);
		for (i = 0; i < r->element[1]->elements; i++) {
			const char *m = r->element[1]->element[i]->str;

			if (!strncmp(m, prefix, plen)) {
				int idx = atoi(m + plen);

				cr_assert(idx >= 0 && idx < n, "foreign %s", m);
				seen[idx]++;
			}
		}
		freeReplyObject(r);
		calls++;
		cr_assert(calls < 1000000, "SSCAN does not end");
	} while (cursor);
	return calls;
}

Test(sets, sscan_hashtable)
{
	enum { N = 1000 };
	redisContext *c = tn_connect(&srv);
	int seen[N] = {0}, i, calls;
	redisReply *r;

	fill_set(c, "h", "m", 0, N);
	calls = scan_all(c, "h", "COUNT 10", "m", seen, N);
	for (i = 0; i < N; i++)
		cr_expect(seen[i] >= 1, "m%d never returned", i);
	/* COUNT is a hint but it does bound the work per call. */
	cr_expect(calls > 10 && calls < N, "%d SSCAN calls for %d members",
		  calls, N);

	memset(seen, 0, sizeof(seen));
	scan_all(c, "h", "MATCH m1* COUNT 50", "m", seen, N);
	for (i = 0; i < N; i++) {
		char name[16];
		bool want;

		snprintf(name, sizeof(name), "%d", i);
		want = name[0] == '1';
		cr_expect(want ? seen[i] >= 1 : seen[i] == 0,
			  "MATCH m1*: m%d seen %d times", i, seen[i]);
	}

	/* A big COUNT takes everything in one call. */
	sscan_once(c, "h", 0, "COUNT 100000", &r);
	cr_expect_str_eq(r->element[0]->str, "0");
	cr_expect_eq(r->element[1]->elements, N);
	freeReplyObject(r);
	redisFree(c);
}

/* 100 000 members, and members added between the calls (the dict grows
 * and rehashes mid-scan): every original member comes back. */
Test(sets, sscan_large_while_growing, .timeout = 120)
{
	enum { N = 100000 };
	redisContext *c = tn_connect(&srv);
	unsigned long long cursor = 0;
	int *seen = calloc(N, sizeof(int)), i, calls = 0, added = 0;
	redisReply *r;
	size_t j;

	cr_assert(seen);
	fill_set(c, "big", "m", 0, N);
	tn_expect_int(tn_cmd(c, "SCARD big"), N);
	do {
		cursor = sscan_once(c, "big", cursor, "COUNT 500", &r);
		for (j = 0; j < r->element[1]->elements; j++) {
			const char *m = r->element[1]->element[j]->str;

			if (m[0] == 'm')
				seen[atoi(m + 1)]++;
		}
		freeReplyObject(r);
		if (++calls % 4 == 0 && added < 2 * N) {
			fill_set(c, "big", "n", added, 1000);
			added += 1000;
		}
		cr_assert(calls < 100000, "SSCAN does not end");
	} while (cursor);
	for (i = 0; i < N; i++)
		if (!seen[i])
			cr_expect_fail("m%d never returned (%d calls)", i,
				       calls);
	tn_expect_int(tn_cmd(c, "SCARD big"), N + added);
	free(seen);
	redisFree(c);
}

Test(sets, large_set, .timeout = 120)
{
	enum { N = 100000 };
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	fill_set(c, "big", "", 0, N);
	expect_encoding(c, "big", "hashtable");
	tn_expect_int(tn_cmd(c, "SCARD big"), N);
	tn_expect_int(tn_cmd(c, "SISMEMBER big 0"), 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER big 99999"), 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER big 100000"), 0);
	r = tn_cmd(c, "SMEMBERS big");
	cr_expect_eq(r->elements, N);
	freeReplyObject(r);
	fill_set(c, "half", "", N / 2, N);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 big half"), N / 2);
	tn_expect_int(tn_cmd(c, "SINTERCARD 2 big half LIMIT 7"), 7);
	tn_expect_int(tn_cmd(c, "SDIFFSTORE d big half"), N / 2);
	tn_expect_int(tn_cmd(c, "SUNIONSTORE d big half"), N + N / 2);
	/* SPOP most of it (Redis' case 3), then the rest. */
	r = tn_cmd(c, "SPOP big %d", N - 10);
	cr_expect_eq(r->elements, N - 10);
	freeReplyObject(r);
	tn_expect_int(tn_cmd(c, "SCARD big"), 10);
	r = tn_cmd(c, "SPOP big 10");
	cr_expect_eq(r->elements, 10);
	freeReplyObject(r);
	tn_expect_int(tn_cmd(c, "EXISTS big"), 0);
	tn_expect_int(tn_cmd(c, "DEL d half"), 2);
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* Reply types, byte for byte                                           */
/* ------------------------------------------------------------------ */

/*
 * hiredis 0.14 predates RESP3, so these tests speak RESP on a plain
 * socket and compare the bytes: '~' sets, '*' arrays, '_' nulls.
 */
struct raw {
	int fd;
	char buf[1 << 16];
	size_t len; /* bytes buffered */
	size_t used; /* bytes of the last reply */
};

/* End of the RESP value starting at pos, or 0 if it is incomplete. */
static size_t resp_end(const char *b, size_t len, size_t pos)
{
	const char *nl;
	long long n, i;
	size_t p;
	char t;

	if (pos >= len)
		return 0;
	nl = memchr(b + pos, '\n', len - pos);
	if (!nl)
		return 0;
	t = b[pos];
	p = (size_t)(nl - b) + 1;
	n = atoll(b + pos + 1);
	switch (t) {
	case '$':
	case '=':
	case '!':
		if (n < 0)
			return p;
		return p + (size_t)n + 2 <= len ? p + (size_t)n + 2 : 0;
	case '*':
	case '~':
	case '>':
	case '%':
	case '|':
		if (t == '%' || t == '|')
			n *= 2;
		for (i = 0; i < n; i++) {
			p = resp_end(b, len, p);
			if (!p)
				return 0;
		}
		return p;
	default:
		return p;
	}
}

static void raw_open(struct raw *r)
{
	struct sockaddr_in sa = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)srv.port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {.tv_sec = 10};

	r->fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(r->fd, 0);
	cr_assert_eq(connect(r->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(r->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	r->len = r->used = 0;
}

/* Send an inline command; returns its reply, NUL-terminated. */
static const char *raw_cmd(struct raw *r, const char *cmd)
{
	static char out[sizeof(r->buf)];
	char line[512];
	size_t end;
	ssize_t n;
	int len = snprintf(line, sizeof(line), "%s\r\n", cmd);

	/* drop the previous reply */
	memmove(r->buf, r->buf + r->used, r->len - r->used);
	r->len -= r->used;
	r->used = 0;
	cr_assert_eq(write(r->fd, line, (size_t)len), len);
	while (!(end = resp_end(r->buf, r->len, 0))) {
		cr_assert(r->len < sizeof(r->buf) - 1, "reply too long");
		n = read(r->fd, r->buf + r->len, sizeof(r->buf) - 1 - r->len);
		cr_assert(n > 0, "no reply to %s", cmd);
		r->len += (size_t)n;
	}
	r->used = end;
	memcpy(out, r->buf, end);
	out[end] = '\0';
	return out;
}

static void raw_expect(struct raw *r, const char *cmd, const char *want)
{
	const char *got = raw_cmd(r, cmd);

	cr_expect_str_eq(got, want, "%s", cmd);
}

static void raw_expect_prefix(struct raw *r, const char *cmd,
			      const char *want)
{
	const char *got = raw_cmd(r, cmd);

	cr_expect(!strncmp(got, want, strlen(want)),
		  "%s: expected %s..., got %s", cmd, want, got);
}

Test(sets, resp3_reply_types)
{
	struct raw r;

	raw_open(&r);
	raw_expect_prefix(&r, "HELLO 3", "%");
	raw_expect(&r, "SADD a 3 1 2", ":3\r\n");
	raw_expect(&r, "SADD b 3 4 x", ":3\r\n");

	raw_expect(&r, "SMEMBERS a",
		   "~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
	raw_expect(&r, "SMEMBERS nosuch", "~0\r\n");
	raw_expect(&r, "SINTER a b", "~1\r\n$1\r\n3\r\n");
	raw_expect(&r, "SINTER a nosuch", "~0\r\n");
	raw_expect(&r, "SUNION a", "~3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
	raw_expect_prefix(&r, "SUNION a b", "~5\r\n");
	raw_expect(&r, "SUNION nosuch", "~0\r\n");
	raw_expect(&r, "SDIFF a b", "~2\r\n$1\r\n1\r\n$1\r\n2\r\n");
	raw_expect(&r, "SDIFF a a", "~0\r\n");
	raw_expect(&r, "SINTERCARD 2 a b", ":1\r\n");
	raw_expect(&r, "SISMEMBER a 1", ":1\r\n");
	raw_expect(&r, "SMISMEMBER a 1 9", "*2\r\n:1\r\n:0\r\n");
	raw_expect(&r, "SSCAN a 0",
		   "*2\r\n$1\r\n0\r\n*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
	raw_expect(&r, "SSCAN nosuch 0", "*2\r\n$1\r\n0\r\n*0\r\n");

	raw_expect(&r, "SPOP nosuch", "_\r\n");
	raw_expect(&r, "SPOP nosuch 1", "~0\r\n");
	raw_expect(&r, "SPOP a 0", "~0\r\n");
	raw_expect_prefix(&r, "SPOP a 1", "~1\r\n$1\r\n");
	raw_expect_prefix(&r, "SPOP a", "$1\r\n");
	raw_expect_prefix(&r, "SPOP a 10", "~1\r\n$1\r\n");
	raw_expect(&r, "EXISTS a", ":0\r\n");

	raw_expect(&r, "SRANDMEMBER nosuch", "_\r\n");
	raw_expect(&r, "SRANDMEMBER nosuch 2", "*0\r\n");
	raw_expect(&r, "SRANDMEMBER b 0", "*0\r\n");
	raw_expect_prefix(&r, "SRANDMEMBER b", "$1\r\n");
	raw_expect_prefix(&r, "SRANDMEMBER b 1", "*1\r\n$1\r\n");
	raw_expect_prefix(&r, "SRANDMEMBER b 2", "*2\r\n$1\r\n");
	raw_expect_prefix(&r, "SRANDMEMBER b 10", "*3\r\n$1\r\n");
	raw_expect_prefix(&r, "SRANDMEMBER b -5", "*5\r\n$1\r\n");
	close(r.fd);
}

/* RESP2: sets are arrays, nulls are the nil bulk. */
Test(sets, resp2_reply_types)
{
	struct raw r;

	raw_open(&r);
	raw_expect(&r, "SADD a 3 1 2", ":3\r\n");
	raw_expect(&r, "SMEMBERS a",
		   "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
	raw_expect(&r, "SMEMBERS nosuch", "*0\r\n");
	raw_expect(&r, "SINTER a nosuch", "*0\r\n");
	raw_expect(&r, "SDIFF a nosuch",
		   "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n");
	raw_expect(&r, "SPOP nosuch", "$-1\r\n");
	raw_expect(&r, "SPOP nosuch 1", "*0\r\n");
	raw_expect_prefix(&r, "SPOP a 1", "*1\r\n$1\r\n");
	raw_expect(&r, "SRANDMEMBER nosuch", "$-1\r\n");
	raw_expect(&r, "SRANDMEMBER nosuch -3", "*0\r\n");
	close(r.fd);
}

/* Clients on different shards move members between sets at the same
 * time: every member ends up in exactly one set. */
Test(sets, smove_concurrent)
{
	enum { NC = 4, NK = 6, NM = 60, OPS = 3000 };
	redisContext *c[NC];
	redisReply *r;
	char key[16];
	long long total = 0;
	int i, j, k;

	for (i = 0; i < NC; i++)
		c[i] = tn_connect(&srv);
	for (k = 0; k < NK; k++)
		for (j = 0; j < NM; j++)
			tn_expect_int(tn_cmd(c[0], "SADD mv%d %s%d", k,
					     j % 2 ? "m" : "", k * NM + j),
				      1);
	srandom(7);
	for (i = 0; i < NC; i++) {
		for (j = 0; j < OPS; j++) {
			int m = (int)(random() % (NK * NM));

			redisAppendCommand(c[i], "SMOVE mv%d mv%d %s%d",
					   (int)(random() % NK),
					   (int)(random() % NK),
					   m % 2 ? "m" : "", m);
		}
	}
	for (j = 0; j < OPS; j++) {
		for (i = 0; i < NC; i++) {
			cr_assert_eq(redisGetReply(c[i], (void **)&r), REDIS_OK);
			cr_expect(r->type == REDIS_REPLY_INTEGER &&
					  (r->integer == 0 || r->integer == 1),
				  "SMOVE reply %d", r->type);
			freeReplyObject(r);
		}
	}
	for (k = 0; k < NK; k++) {
		r = tn_cmd(c[0], "SCARD mv%d", k);
		total += r->integer;
		freeReplyObject(r);
	}
	cr_expect_eq(total, NK * NM, "members counted: %lld", total);
	r = tn_cmd(c[0], "SUNION mv0 mv1 mv2 mv3 mv4 mv5");
	cr_expect_eq(r->elements, NK * NM);
	freeReplyObject(r);
	for (j = 0; j < NK * NM; j++) {
		int where = 0;

		snprintf(key, sizeof(key), "%s%d", j % 2 ? "m" : "", j);
		for (k = 0; k < NK; k++) {
			r = tn_cmd(c[0], "SISMEMBER mv%d %s", k, key);
			where += r->integer == 1;
			freeReplyObject(r);
		}
		cr_expect_eq(where, 1, "%s is in %d sets", key, where);
	}
	for (i = 0; i < NC; i++)
		redisFree(c[i]);
}
