/*
 * test_strings.c - string commands against a real server: replies and
 * error strings as Redis 7.0 gives them, expiry options, RESP3 nulls,
 * binary-safe and 10 MB values, wide MSET/MGET, pipelined INCRs.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

static struct tn_server srv;

static void setup(void)
{
	cr_assert(tn_server_start(&srv, NULL) == 0, "server did not start");
}

static void teardown(void)
{
	cr_expect(tn_server_stop(&srv) == 0, "supervisor did not exit 0");
}

TestSuite(strings, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static long long wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long int_of(redisReply *r)
{
	long long v;

	cr_assert(r->type == REDIS_REPLY_INTEGER, "expected integer, got %d %s",
		  r->type, r->str ? r->str : "");
	v = r->integer;
	freeReplyObject(r);
	return v;
}

static long long pttl(redisContext *c, const char *key)
{
	return int_of(tn_cmd(c, "PTTL %s", key));
}

/* PTTL within [lo, hi]. */
static void expect_pttl(redisContext *c, const char *key, long long lo,
			long long hi)
{
	long long t = pttl(c, key);

	cr_expect(t >= lo && t <= hi, "PTTL %s = %lld, want [%lld, %lld]", key,
		  t, lo, hi);
}

/* Poll GET until the key reads as nil; false if it outlives the bound. */
static bool wait_gone(redisContext *c, const char *key, int timeout_ms)
{
	long long deadline = tn_now_ms() + timeout_ms;

	while (tn_now_ms() < deadline) {
		redisReply *r = tn_cmd(c, "GET %s", key);
		bool gone = r->type == REDIS_REPLY_NIL;

		freeReplyObject(r);
		if (gone)
			return true;
		usleep(5000);
	}
	return false;
}

/* A reply holding exactly these bytes. */
static void expect_bytes(redisReply *r, const void *p, size_t len)
{
	cr_expect(r->type == REDIS_REPLY_STRING, "expected a bulk, got %d",
		  r->type);
	if (r->type == REDIS_REPLY_STRING) {
		cr_expect_eq(r->len, len, "length %zu, want %zu", r->len, len);
		cr_expect(r->len == len && memcmp(r->str, p, len) == 0,
			  "bytes differ");
	}
	freeReplyObject(r);
}

/* Make `key` a set (SADD exists now: its absence is a failure). */
static bool make_set(redisContext *c, const char *key)
{
	redisReply *r = tn_cmd(c, "SADD %s member", key);
	bool ok = r->type == REDIS_REPLY_INTEGER;

	cr_expect(ok, "SADD %s: %s", key, r->str ? r->str : "?");
	freeReplyObject(r);
	return ok;
}

/* One command on a fresh raw connection in `proto`; compare the bytes. */
static void raw_expect(int proto, const char *want, const char *a0,
		       const char *a1, const char *a2, const char *a3)
{
	char out[4096];
	int fd = tn_raw_connect(&srv);

	cr_assert_geq(fd, 0);
	if (proto == 3) {
		cr_assert_gt(
		    tn_raw_cmd(fd, out, sizeof(out), "HELLO", "3", NULL), 0);
		cr_assert_eq(out[0], '%', "HELLO 3: %s", out);
	}
	cr_assert_gt(tn_raw_cmd(fd, out, sizeof(out), a0, a1, a2, a3, NULL), 0,
		     "no reply to %s", a0);
	cr_expect_str_eq(out, want, "RESP%d %s %s: got \"%s\"", proto, a0,
			 a1 ? a1 : "", out);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* GET / SET                                                            */
/* ------------------------------------------------------------------ */

Test(strings, get_set_basic)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_nil(tn_cmd(c, "GET k"));
	tn_expect_status(tn_cmd(c, "SET k v1"), "OK");
	tn_expect_str(tn_cmd(c, "GET k"), "v1");
	tn_expect_status(tn_cmd(c, "SET k %s", "a longer value than before"),
			 "OK");
	tn_expect_str(tn_cmd(c, "GET k"), "a longer value than before");
	tn_expect_status(tn_cmd(c, "SET k %s", ""), "OK");
	tn_expect_str(tn_cmd(c, "GET k"), "");
	tn_expect_int(tn_cmd(c, "STRLEN k"), 0);
	tn_expect_error(tn_cmd(c, "GET"),
			"ERR wrong number of arguments for 'get' command");
	tn_expect_error(tn_cmd(c, "GET a b"),
			"ERR wrong number of arguments for 'get' command");
	tn_expect_error(tn_cmd(c, "SET k"),
			"ERR wrong number of arguments for 'set' command");
	redisFree(c);
}

Test(strings, set_nx_xx_get)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_status(tn_cmd(c, "SET k v NX"), "OK");
	tn_expect_nil(tn_cmd(c, "SET k w NX"));
	tn_expect_str(tn_cmd(c, "GET k"), "v");
	tn_expect_status(tn_cmd(c, "SET k w XX"), "OK");
	tn_expect_str(tn_cmd(c, "GET k"), "w");
	tn_expect_nil(tn_cmd(c, "SET missing v XX"));
	tn_expect_int(tn_cmd(c, "EXISTS missing"), 0);
	/* repeating an option is fine; case does not matter */
	tn_expect_nil(tn_cmd(c, "SET k v nx NX"));
	tn_expect_status(tn_cmd(c, "SET k v2 xX Xx"), "OK");

	/* GET returns the old value, nil when there was none */
	tn_expect_str(tn_cmd(c, "SET k v3 GET"), "v2");
	tn_expect_str(tn_cmd(c, "GET k"), "v3");
	tn_expect_nil(tn_cmd(c, "SET g1 new GET"));
	tn_expect_str(tn_cmd(c, "GET g1"), "new");
	tn_expect_str(tn_cmd(c, "SET k v4 GET get"), "v3");
	/* with NX/XX and GET the condition still decides the write */
	tn_expect_str(tn_cmd(c, "SET k nope NX GET"), "v4");
	tn_expect_str(tn_cmd(c, "GET k"), "v4");
	tn_expect_nil(tn_cmd(c, "SET g2 nope XX GET"));
	tn_expect_int(tn_cmd(c, "EXISTS g2"), 0);
	tn_expect_nil(tn_cmd(c, "SET g3 yes NX GET"));
	tn_expect_str(tn_cmd(c, "GET g3"), "yes");
	tn_expect_str(tn_cmd(c, "SET g3 again XX GET"), "yes");
	tn_expect_str(tn_cmd(c, "GET g3"), "again");

	/* conflicting or unknown options */
	tn_expect_error(tn_cmd(c, "SET k v NX XX"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v XX NX"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v foo"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v EX"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v EX 10 PX 100"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v EX 10 EXAT 100"),
			"ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v PXAT 10 PX 100"),
			"ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v KEEPTTL EX 10"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v PX 10 KEEPTTL"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v PERSIST"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SET k v NXX"), "ERR syntax error");
	tn_expect_str(tn_cmd(c, "GET k"), "v4");
	redisFree(c);
}

Test(strings, set_expire_errors)
{
	redisContext *c = tn_connect(&srv);
	static const char *bad[] = {
	    "EX 0",
	    "EX -1",
	    "PX 0",
	    "PX -100",
	    "EXAT 0",
	    "PXAT -5",
	    /* fine alone, overflows once "now" is added */
	    "EX 9223372036854775",
	    /* overflows on the way to milliseconds */
	    "EX 9223372036854776",
	    "EXAT 9223372036854776",
	    "PX 9223372036854775807",
	};
	size_t i;

	tn_expect_status(tn_cmd(c, "SET k keep"), "OK");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "SET k v %s", bad[i]);
		tn_expect_error(tn_cmd(c, cmd),
				"ERR invalid expire time in 'set' command");
	}
	tn_expect_error(tn_cmd(c, "SET k v EX abc"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "SET k v PX 1.5"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "SET k v EX 99999999999999999999"),
			"ERR value is not an integer or out of range");
	/* the expire is checked before GET answers anything */
	tn_expect_error(tn_cmd(c, "SET k v GET EX 0"),
			"ERR invalid expire time in 'set' command");
	tn_expect_str(tn_cmd(c, "GET k"), "keep");
	expect_pttl(c, "k", -1, -1);
	/* an absolute time far away is fine */
	tn_expect_status(tn_cmd(c, "SET k v PXAT 9223372036854775807"), "OK");
	expect_pttl(c, "k", 9000000000000000000LL, 9223372036854775807LL);
	redisFree(c);
}

Test(strings, set_expire_options)
{
	redisContext *c = tn_connect(&srv);
	long long now_s = wall_ms() / 1000;

	tn_expect_status(tn_cmd(c, "SET k v EX 100"), "OK");
	expect_pttl(c, "k", 98000, 100000);
	tn_expect_status(tn_cmd(c, "SET k v PX 50000"), "OK");
	expect_pttl(c, "k", 48000, 50000);
	tn_expect_status(tn_cmd(c, "SET k v EXAT %lld", now_s + 200), "OK");
	expect_pttl(c, "k", 197000, 200000);
	tn_expect_status(tn_cmd(c, "SET k v PXAT %lld", wall_ms() + 300000),
			 "OK");
	expect_pttl(c, "k", 298000, 300000);
	/* the last of repeated expire options wins */
	tn_expect_status(tn_cmd(c, "SET k v EX 10 EX 400"), "OK");
	expect_pttl(c, "k", 398000, 400000);

	/* KEEPTTL keeps it, a plain SET drops it */
	tn_expect_status(tn_cmd(c, "SET k v2 KEEPTTL"), "OK");
	expect_pttl(c, "k", 398000, 400000);
	tn_expect_str(tn_cmd(c, "GET k"), "v2");
	tn_expect_status(tn_cmd(c, "SET k v3 XX KEEPTTL KEEPTTL"), "OK");
	expect_pttl(c, "k", 398000, 400000);
	tn_expect_str(tn_cmd(c, "SET k v4 GET"), "v3");
	expect_pttl(c, "k", -1, -1);
	tn_expect_status(tn_cmd(c, "SET k v KEEPTTL"), "OK");
	expect_pttl(c, "k", -1, -1);

	/* a time already past: the key is set and gone */
	tn_expect_status(tn_cmd(c, "SET past v EXAT 1"), "OK");
	tn_expect_nil(tn_cmd(c, "GET past"));
	tn_expect_int(tn_cmd(c, "EXISTS past"), 0);
	tn_expect_status(tn_cmd(c, "SET past v PXAT %lld", wall_ms() - 1000),
			 "OK");
	tn_expect_nil(tn_cmd(c, "GET past"));

	/* a short one really expires */
	tn_expect_status(tn_cmd(c, "SET short v PX 50"), "OK");
	cr_expect(wait_gone(c, "short", 5000), "PX 50 key never expired");
	tn_expect_status(tn_cmd(c, "SET short v EX 1 NX"), "OK");
	cr_expect(wait_gone(c, "short", 5000), "EX 1 key never expired");
	redisFree(c);
}

/* Commands that rewrite a value in place keep the TTL; GETSET drops it. */
Test(strings, ttl_kept_or_dropped)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_status(tn_cmd(c, "SET n 10 EX 100"), "OK");
	tn_expect_int(tn_cmd(c, "INCR n"), 11);
	tn_expect_int(tn_cmd(c, "INCRBY n 1000"), 1011);
	expect_pttl(c, "n", 98000, 100000);
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT n 0.5"), "1011.5");
	expect_pttl(c, "n", 98000, 100000);
	tn_expect_int(tn_cmd(c, "APPEND n 0"), 7);
	expect_pttl(c, "n", 98000, 100000);
	tn_expect_int(tn_cmd(c, "SETRANGE n 10 x"), 11);
	expect_pttl(c, "n", 98000, 100000);
	tn_expect_status(tn_cmd(c, "SET n x EX 100"), "OK");
	tn_expect_str(tn_cmd(c, "GETSET n y"), "x");
	expect_pttl(c, "n", -1, -1);
	tn_expect_status(tn_cmd(c, "SET n x EX 100"), "OK");
	tn_expect_status(tn_cmd(c, "MSET n z other 1"), "OK");
	expect_pttl(c, "n", -1, -1);
	redisFree(c);
}

Test(strings, setnx_setex_psetex)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_int(tn_cmd(c, "SETNX k v1"), 1);
	tn_expect_int(tn_cmd(c, "SETNX k v2"), 0);
	tn_expect_str(tn_cmd(c, "GET k"), "v1");

	tn_expect_status(tn_cmd(c, "SETEX e 100 val"), "OK");
	tn_expect_str(tn_cmd(c, "GET e"), "val");
	expect_pttl(c, "e", 98000, 100000);
	tn_expect_status(tn_cmd(c, "PSETEX p 100000 val"), "OK");
	expect_pttl(c, "p", 98000, 100000);
	tn_expect_status(tn_cmd(c, "SETEX k 100 over"), "OK");
	tn_expect_str(tn_cmd(c, "GET k"), "over");

	tn_expect_error(tn_cmd(c, "SETEX e 0 v"),
			"ERR invalid expire time in 'setex' command");
	tn_expect_error(tn_cmd(c, "SETEX e -5 v"),
			"ERR invalid expire time in 'setex' command");
	tn_expect_error(tn_cmd(c, "SETEX e 9223372036854776 v"),
			"ERR invalid expire time in 'setex' command");
	tn_expect_error(tn_cmd(c, "PSETEX e 0 v"),
			"ERR invalid expire time in 'psetex' command");
	tn_expect_error(tn_cmd(c, "PSETEX e 9223372036854775807 v"),
			"ERR invalid expire time in 'psetex' command");
	tn_expect_error(tn_cmd(c, "SETEX e abc v"),
			"ERR value is not an integer or out of range");
	tn_expect_str(tn_cmd(c, "GET e"), "val");
	tn_expect_error(tn_cmd(c, "SETEX e 10"),
			"ERR wrong number of arguments for 'setex' command");
	tn_expect_error(tn_cmd(c, "SETNX e"),
			"ERR wrong number of arguments for 'setnx' command");

	tn_expect_status(tn_cmd(c, "PSETEX short 30 v"), "OK");
	cr_expect(wait_gone(c, "short", 5000), "PSETEX 30 never expired");
	redisFree(c);
}

Test(strings, getset_getdel)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_nil(tn_cmd(c, "GETSET k first"));
	tn_expect_str(tn_cmd(c, "GET k"), "first");
	tn_expect_str(tn_cmd(c, "GETSET k second"), "first");
	tn_expect_str(tn_cmd(c, "GET k"), "second");
	tn_expect_str(tn_cmd(c, "GETDEL k"), "second");
	tn_expect_int(tn_cmd(c, "EXISTS k"), 0);
	tn_expect_nil(tn_cmd(c, "GETDEL k"));
	tn_expect_nil(tn_cmd(c, "GETDEL never"));
	tn_expect_error(tn_cmd(c, "GETDEL a b"),
			"ERR wrong number of arguments for 'getdel' command");
	tn_expect_error(tn_cmd(c, "GETSET a"),
			"ERR wrong number of arguments for 'getset' command");
	redisFree(c);
}

Test(strings, getex)
{
	redisContext *c = tn_connect(&srv);

	/* a missing key answers nil, even with a bad expire */
	tn_expect_nil(tn_cmd(c, "GETEX k"));
	tn_expect_nil(tn_cmd(c, "GETEX k EX abc"));
	tn_expect_nil(tn_cmd(c, "GETEX k EX 0"));
	/* but the syntax is checked first */
	tn_expect_error(tn_cmd(c, "GETEX k foo"), "ERR syntax error");

	tn_expect_status(tn_cmd(c, "SET k hello"), "OK");
	tn_expect_str(tn_cmd(c, "GETEX k"), "hello");
	expect_pttl(c, "k", -1, -1);
	tn_expect_str(tn_cmd(c, "GETEX k EX 100"), "hello");
	expect_pttl(c, "k", 98000, 100000);
	tn_expect_str(tn_cmd(c, "GETEX k"), "hello");
	expect_pttl(c, "k", 98000, 100000);
	tn_expect_str(tn_cmd(c, "GETEX k PX 200000"), "hello");
	expect_pttl(c, "k", 198000, 200000);
	tn_expect_str(tn_cmd(c, "GETEX k EXAT %lld", wall_ms() / 1000 + 300),
		      "hello");
	expect_pttl(c, "k", 297000, 300000);
	tn_expect_str(tn_cmd(c, "GETEX k PXAT %lld", wall_ms() + 400000),
		      "hello");
	expect_pttl(c, "k", 398000, 400000);
	tn_expect_str(tn_cmd(c, "GETEX k EX 10 EX 500"), "hello");
	expect_pttl(c, "k", 498000, 500000);
	tn_expect_str(tn_cmd(c, "GETEX k PERSIST persist"), "hello");
	expect_pttl(c, "k", -1, -1);
	tn_expect_str(tn_cmd(c, "GETEX k PERSIST"), "hello");
	expect_pttl(c, "k", -1, -1);

	tn_expect_error(tn_cmd(c, "GETEX k EX 0"),
			"ERR invalid expire time in 'getex' command");
	tn_expect_error(tn_cmd(c, "GETEX k PX -1"),
			"ERR invalid expire time in 'getex' command");
	tn_expect_error(tn_cmd(c, "GETEX k EX 9223372036854776"),
			"ERR invalid expire time in 'getex' command");
	tn_expect_error(tn_cmd(c, "GETEX k EX abc"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "GETEX k PERSIST EX 10"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "GETEX k EX 10 PERSIST"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "GETEX k EX 10 PX 10"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "GETEX k KEEPTTL"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "GETEX k NX"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "GETEX k GET"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "GETEX k EX"), "ERR syntax error");
	expect_pttl(c, "k", -1, -1);

	/* an absolute time already past deletes the key after reading it */
	tn_expect_str(tn_cmd(c, "GETEX k EXAT 1"), "hello");
	tn_expect_int(tn_cmd(c, "EXISTS k"), 0);
	tn_expect_status(tn_cmd(c, "SET k again"), "OK");
	tn_expect_str(tn_cmd(c, "GETEX k PXAT %lld", wall_ms() - 10), "again");
	tn_expect_int(tn_cmd(c, "EXISTS k"), 0);

	tn_expect_status(tn_cmd(c, "SET k soon"), "OK");
	tn_expect_str(tn_cmd(c, "GETEX k PX 40"), "soon");
	cr_expect(wait_gone(c, "k", 5000), "GETEX PX 40 never expired");
	tn_expect_error(tn_cmd(c, "GETEX"),
			"ERR wrong number of arguments for 'getex' command");
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* Wrong type                                                           */
/* ------------------------------------------------------------------ */

#define WT "WRONGTYPE Operation against a key holding the wrong kind of value"

Test(strings, wrongtype)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	if (!make_set(c, "s")) {
		redisFree(c);
		return;
	}
	/* SET ... GET on a set fails and leaves the set alone */
	tn_expect_error(tn_cmd(c, "SET s v GET"), WT);
	tn_expect_status(tn_cmd(c, "TYPE s"), "set");
	tn_expect_error(tn_cmd(c, "SET s v NX GET"), WT);
	tn_expect_error(tn_cmd(c, "SET s v XX GET EX 10"), WT);
	tn_expect_status(tn_cmd(c, "TYPE s"), "set");
	expect_pttl(c, "s", -1, -1);

	tn_expect_error(tn_cmd(c, "GET s"), WT);
	tn_expect_error(tn_cmd(c, "GETSET s v"), WT);
	tn_expect_error(tn_cmd(c, "GETDEL s"), WT);
	tn_expect_error(tn_cmd(c, "GETEX s EX 10"), WT);
	tn_expect_error(tn_cmd(c, "GETEX s EX abc"), WT);
	tn_expect_error(tn_cmd(c, "APPEND s x"), WT);
	tn_expect_error(tn_cmd(c, "STRLEN s"), WT);
	tn_expect_error(tn_cmd(c, "INCR s"), WT);
	tn_expect_error(tn_cmd(c, "DECR s"), WT);
	tn_expect_error(tn_cmd(c, "INCRBY s 2"), WT);
	tn_expect_error(tn_cmd(c, "DECRBY s 2"), WT);
	tn_expect_error(tn_cmd(c, "INCRBYFLOAT s 2"), WT);
	tn_expect_error(tn_cmd(c, "GETRANGE s 0 1"), WT);
	tn_expect_error(tn_cmd(c, "SUBSTR s 0 1"), WT);
	tn_expect_error(tn_cmd(c, "SETRANGE s 0 x"), WT);
	tn_expect_error(tn_cmd(c, "SETRANGE s 0 %s", ""), WT);
	tn_expect_error(tn_cmd(c, "LCS s s"),
			"ERR The specified keys must contain string values");
	/* argument errors come before the type check */
	tn_expect_error(tn_cmd(c, "INCRBY s abc"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "GETRANGE s a 1"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "SETRANGE s -1 x"),
			"ERR offset is out of range");
	tn_expect_error(tn_cmd(c, "GETEX s foo"), "ERR syntax error");
	tn_expect_int(tn_cmd(c, "SETNX s v"), 0);
	tn_expect_int(tn_cmd(c, "MSETNX s v other v"), 0);
	tn_expect_int(tn_cmd(c, "EXISTS other"), 0);

	/* MGET reads a non-string as nil */
	tn_expect_status(tn_cmd(c, "SET str v"), "OK");
	r = tn_cmd(c, "MGET s str nope");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 3);
	cr_expect_eq(r->element[0]->type, REDIS_REPLY_NIL);
	cr_expect_str_eq(r->element[1]->str, "v");
	cr_expect_eq(r->element[2]->type, REDIS_REPLY_NIL);
	freeReplyObject(r);
	tn_expect_status(tn_cmd(c, "TYPE s"), "set");

	/* plain SET and MSET replace whatever is there */
	tn_expect_status(tn_cmd(c, "SET s plain"), "OK");
	tn_expect_str(tn_cmd(c, "GET s"), "plain");
	cr_assert(make_set(c, "s2"));
	tn_expect_status(tn_cmd(c, "MSET s2 m"), "OK");
	tn_expect_str(tn_cmd(c, "GET s2"), "m");
	cr_assert(make_set(c, "s3"));
	tn_expect_status(tn_cmd(c, "SETEX s3 100 x"), "OK");
	tn_expect_str(tn_cmd(c, "GET s3"), "x");
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* MGET / MSET / MSETNX                                                 */
/* ------------------------------------------------------------------ */

Test(strings, mget_mset_msetnx)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	tn_expect_status(tn_cmd(c, "MSET a 1 b 2 c 3"), "OK");
	r = tn_cmd(c, "MGET a b nope c");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 4);
	cr_expect_str_eq(r->element[0]->str, "1");
	cr_expect_str_eq(r->element[1]->str, "2");
	cr_expect_eq(r->element[2]->type, REDIS_REPLY_NIL);
	cr_expect_str_eq(r->element[3]->str, "3");
	freeReplyObject(r);
	/* the last of a repeated key wins */
	tn_expect_status(tn_cmd(c, "MSET a x a y"), "OK");
	tn_expect_str(tn_cmd(c, "GET a"), "y");

	tn_expect_error(tn_cmd(c, "MSET a"),
			"ERR wrong number of arguments for 'mset' command");
	tn_expect_error(tn_cmd(c, "MSET a 1 b"),
			"ERR wrong number of arguments for 'mset' command");
	tn_expect_error(tn_cmd(c, "MSETNX a 1 b"),
			"ERR wrong number of arguments for 'msetnx' command");
	tn_expect_error(tn_cmd(c, "MGET"),
			"ERR wrong number of arguments for 'mget' command");
	tn_expect_str(tn_cmd(c, "GET a"), "y");

	/* MSETNX: all or nothing */
	tn_expect_int(tn_cmd(c, "MSETNX n1 1 n2 2 a 3"), 0);
	tn_expect_int(tn_cmd(c, "EXISTS n1"), 0);
	tn_expect_int(tn_cmd(c, "EXISTS n2"), 0);
	tn_expect_str(tn_cmd(c, "GET a"), "y");
	tn_expect_int(tn_cmd(c, "MSETNX n1 1 n2 2"), 1);
	tn_expect_str(tn_cmd(c, "GET n1"), "1");
	tn_expect_str(tn_cmd(c, "GET n2"), "2");
	tn_expect_int(tn_cmd(c, "MSETNX n3 3 n3 4"), 1);
	tn_expect_str(tn_cmd(c, "GET n3"), "4");
	redisFree(c);
}

#define WIDE 1000

/* 1000 keys land in most of the stripes: one command, all locked. */
Test(strings, mset_mget_wide)
{
	redisContext *c = tn_connect(&srv);
	const char **argv = calloc(2 * WIDE + 2, sizeof(*argv));
	size_t *lens = calloc(2 * WIDE + 2, sizeof(*lens));
	char(*keys)[32] = calloc(WIDE + 1, sizeof(*keys));
	char(*vals)[32] = calloc(WIDE, sizeof(*vals));
	redisReply *r;
	int i;

	cr_assert(argv && lens && keys && vals);
	argv[0] = "MSET";
	lens[0] = 4;
	for (i = 0; i < WIDE; i++) {
		snprintf(keys[i], sizeof(keys[i]), "wide:%d", i);
		snprintf(vals[i], sizeof(vals[i]), "value-%d", i * 7);
		argv[1 + 2 * i] = keys[i];
		lens[1 + 2 * i] = strlen(keys[i]);
		argv[2 + 2 * i] = vals[i];
		lens[2 + 2 * i] = strlen(vals[i]);
	}
	r = redisCommandArgv(c, 1 + 2 * WIDE, argv, lens);
	cr_assert(r);
	tn_expect_status(r, "OK");

	/* MGET all of them plus one missing key at the end */
	snprintf(keys[WIDE], sizeof(keys[WIDE]), "wide:missing");
	argv[0] = "MGET";
	lens[0] = 4;
	for (i = 0; i <= WIDE; i++) {
		argv[1 + i] = keys[i];
		lens[1 + i] = strlen(keys[i]);
	}
	r = redisCommandArgv(c, 2 + WIDE, argv, lens);
	cr_assert(r);
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, WIDE + 1);
	for (i = 0; i < WIDE; i++) {
		cr_assert_eq(r->element[i]->type, REDIS_REPLY_STRING, "key %d",
			     i);
		cr_assert_str_eq(r->element[i]->str, vals[i], "key %d", i);
	}
	cr_expect_eq(r->element[WIDE]->type, REDIS_REPLY_NIL);
	freeReplyObject(r);

	/* MSETNX over 1000 new keys and one old one: nothing is written */
	argv[0] = "MSETNX";
	lens[0] = 6;
	for (i = 0; i < WIDE; i++) {
		snprintf(keys[i], sizeof(keys[i]), "nx:%d", i);
		argv[1 + 2 * i] = keys[i];
		lens[1 + 2 * i] = strlen(keys[i]);
		argv[2 + 2 * i] = "x";
		lens[2 + 2 * i] = 1;
	}
	argv[1 + 2 * (WIDE - 1)] = "wide:500";
	lens[1 + 2 * (WIDE - 1)] = strlen("wide:500");
	r = redisCommandArgv(c, 1 + 2 * WIDE, argv, lens);
	cr_assert(r);
	tn_expect_int(r, 0);
	for (i = 0; i < WIDE - 1; i += 97)
		tn_expect_int(tn_cmd(c, "EXISTS %s", keys[i]), 0);
	tn_expect_str(tn_cmd(c, "GET wide:500"), "value-3500");
	/* and with the old key swapped for a new one, everything is */
	argv[1 + 2 * (WIDE - 1)] = keys[WIDE - 1];
	lens[1 + 2 * (WIDE - 1)] = strlen(keys[WIDE - 1]);
	r = redisCommandArgv(c, 1 + 2 * WIDE, argv, lens);
	cr_assert(r);
	tn_expect_int(r, 1);
	for (i = 0; i < WIDE; i++)
		tn_expect_str(tn_cmd(c, "GET %s", keys[i]), "x");
	free(argv);
	free(lens);
	free(keys);
	free(vals);
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* APPEND / STRLEN / encodings                                          */
/* ------------------------------------------------------------------ */

static void expect_encoding(redisContext *c, const char *key, const char *enc)
{
	redisReply *r = tn_cmd(c, "OBJECT ENCODING %s", key);

	cr_expect(r->type == REDIS_REPLY_STRING && strcmp(r->str, enc) == 0,
		  "OBJECT ENCODING %s: got %s, want %s", key,
		  r->str ? r->str : "?", enc);
	freeReplyObject(r);
}

Test(strings, append_strlen)
{
	redisContext *c = tn_connect(&srv);
	int i;

	tn_expect_int(tn_cmd(c, "STRLEN k"), 0);
	tn_expect_int(tn_cmd(c, "APPEND k hello"), 5);
	expect_encoding(c, "k", "embstr");
	tn_expect_int(tn_cmd(c, "APPEND k %s", " world"), 11);
	expect_encoding(c, "k", "raw");
	tn_expect_str(tn_cmd(c, "GET k"), "hello world");
	tn_expect_int(tn_cmd(c, "STRLEN k"), 11);
	tn_expect_int(tn_cmd(c, "APPEND k %s", ""), 11);
	tn_expect_int(tn_cmd(c, "APPEND e %s", ""), 0);
	tn_expect_int(tn_cmd(c, "EXISTS e"), 1);

	tn_expect_status(tn_cmd(c, "SET i 12345"), "OK");
	expect_encoding(c, "i", "int");
	tn_expect_int(tn_cmd(c, "STRLEN i"), 5);
	tn_expect_int(tn_cmd(c, "APPEND i 6"), 6);
	expect_encoding(c, "i", "raw");
	tn_expect_int(tn_cmd(c, "INCR i"), 123457);
	expect_encoding(c, "i", "int");
	tn_expect_status(tn_cmd(c, "SET i short"), "OK");
	expect_encoding(c, "i", "embstr");

	/* many appends: amortised growth, content intact */
	for (i = 0; i < 3000; i++)
		tn_expect_int(
		    tn_cmd(c, "APPEND many %s",
			   "0123456789012345678901234567890123456789"),
		    (i + 1) * 40LL);
	tn_expect_str(tn_cmd(c, "GETRANGE many 119960 -1"),
		      "0123456789012345678901234567890123456789");
	tn_expect_error(tn_cmd(c, "APPEND k"),
			"ERR wrong number of arguments for 'append' command");
	tn_expect_error(tn_cmd(c, "STRLEN"),
			"ERR wrong number of arguments for 'strlen' command");
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* Counters                                                             */
/* ------------------------------------------------------------------ */

Test(strings, incr_decr)
{
	redisContext *c = tn_connect(&srv);
	static const char *notint[] = {
	    "abc",
	    " 1",
	    "1 ",
	    "01",
	    "1.5",
	    "+1",
	    "",
	    "123456789012345678901",
	    "9223372036854775808",
	    "-9223372036854775809",
	};
	size_t i;

	tn_expect_int(tn_cmd(c, "INCR n"), 1);
	tn_expect_int(tn_cmd(c, "INCR n"), 2);
	tn_expect_int(tn_cmd(c, "DECR n"), 1);
	tn_expect_int(tn_cmd(c, "INCRBY n 10"), 11);
	tn_expect_int(tn_cmd(c, "INCRBY n -20"), -9);
	tn_expect_int(tn_cmd(c, "DECRBY n -9"), 0);
	tn_expect_int(tn_cmd(c, "DECRBY n 100"), -100);
	tn_expect_str(tn_cmd(c, "GET n"), "-100");
	tn_expect_int(tn_cmd(c, "DECR fresh"), -1);
	tn_expect_int(tn_cmd(c, "DECRBY fresh2 5"), -5);
	tn_expect_int(tn_cmd(c, "INCRBY fresh3 -5"), -5);
	/* the length changes both ways */
	tn_expect_status(tn_cmd(c, "SET w 9"), "OK");
	tn_expect_int(tn_cmd(c, "INCR w"), 10);
	tn_expect_int(tn_cmd(c, "INCRBY w 999999999999"), 1000000000009LL);
	tn_expect_str(tn_cmd(c, "GET w"), "1000000000009");
	tn_expect_int(tn_cmd(c, "DECRBY w 1000000000000"), 9);
	tn_expect_str(tn_cmd(c, "GET w"), "9");
	tn_expect_int(tn_cmd(c, "STRLEN w"), 1);

	for (i = 0; i < sizeof(notint) / sizeof(notint[0]); i++) {
		tn_expect_status(tn_cmd(c, "SET bad %s", notint[i]), "OK");
		tn_expect_error(tn_cmd(c, "INCR bad"),
				"ERR value is not an integer or out of range");
		tn_expect_error(tn_cmd(c, "DECRBY bad 1"),
				"ERR value is not an integer or out of range");
		tn_expect_str(tn_cmd(c, "GET bad"), notint[i]);
		tn_expect_error(tn_cmd(c, "INCRBY n %s", notint[i]),
				"ERR value is not an integer or out of range");
	}
	tn_expect_str(tn_cmd(c, "GET n"), "-100");

	tn_expect_status(tn_cmd(c, "SET m 9223372036854775806"), "OK");
	tn_expect_int(tn_cmd(c, "INCR m"), 9223372036854775807LL);
	tn_expect_error(tn_cmd(c, "INCR m"),
			"ERR increment or decrement would overflow");
	tn_expect_error(tn_cmd(c, "INCRBY m 9223372036854775807"),
			"ERR increment or decrement would overflow");
	tn_expect_str(tn_cmd(c, "GET m"), "9223372036854775807");
	tn_expect_status(tn_cmd(c, "SET m -9223372036854775807"), "OK");
	tn_expect_int(tn_cmd(c, "DECR m"), -9223372036854775807LL - 1);
	tn_expect_error(tn_cmd(c, "DECR m"),
			"ERR increment or decrement would overflow");
	tn_expect_error(tn_cmd(c, "DECRBY m 9223372036854775807"),
			"ERR increment or decrement would overflow");
	tn_expect_error(tn_cmd(c, "INCRBY m -1"),
			"ERR increment or decrement would overflow");
	tn_expect_str(tn_cmd(c, "GET m"), "-9223372036854775808");
	tn_expect_int(tn_cmd(c, "INCRBY m 9223372036854775807"), -1);
	tn_expect_error(tn_cmd(c, "DECRBY m -9223372036854775808"),
			"ERR decrement would overflow");
	tn_expect_int(tn_cmd(c, "INCRBY m -9223372036854775807"),
		      -9223372036854775807LL - 1);

	tn_expect_error(tn_cmd(c, "INCR"),
			"ERR wrong number of arguments for 'incr' command");
	tn_expect_error(tn_cmd(c, "INCRBY n"),
			"ERR wrong number of arguments for 'incrby' command");
	tn_expect_error(tn_cmd(c, "DECRBY n 1 2"),
			"ERR wrong number of arguments for 'decrby' command");
	redisFree(c);
}

Test(strings, incrbyfloat)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_str(tn_cmd(c, "INCRBYFLOAT f 10.5"), "10.5");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT f 0.1"), "10.6");
	tn_expect_str(tn_cmd(c, "GET f"), "10.6");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT f -10.6"), "0");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT f 5.0e3"), "5000");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT f -5000.25"), "-0.25");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT f 1.25"), "1");
	tn_expect_str(tn_cmd(c, "GET f"), "1");
	/* Redis stores the result as a plain string, never an "int" */
	expect_encoding(c, "f", "embstr");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT new 3"), "3");
	expect_encoding(c, "new", "embstr");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT fi 41"), "41");
	tn_expect_int(tn_cmd(c, "INCR fi"), 42);
	expect_encoding(c, "fi", "int");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT new 1e-20"), "3");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT tiny 1e-20"), "0");
	tn_expect_status(tn_cmd(c, "SET i 17"), "OK");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT i 0.5"), "17.5");
	tn_expect_status(tn_cmd(c, "SET e 1.5e2"), "OK");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT e 1"), "151");
	tn_expect_str(tn_cmd(c, "INCRBYFLOAT e -1000"), "-849");

	tn_expect_error(tn_cmd(c, "INCRBYFLOAT f abc"),
			"ERR value is not a valid float");
	tn_expect_error(tn_cmd(c, "INCRBYFLOAT f %s", " 1"),
			"ERR value is not a valid float");
	tn_expect_error(tn_cmd(c, "INCRBYFLOAT f nan"),
			"ERR value is not a valid float");
	tn_expect_error(tn_cmd(c, "INCRBYFLOAT f inf"),
			"ERR increment would produce NaN or Infinity");
	tn_expect_error(tn_cmd(c, "INCRBYFLOAT f -inf"),
			"ERR increment would produce NaN or Infinity");
	tn_expect_str(tn_cmd(c, "GET f"), "1");
	tn_expect_status(tn_cmd(c, "SET s notanumber"), "OK");
	tn_expect_error(tn_cmd(c, "INCRBYFLOAT s 1"),
			"ERR value is not a valid float");
	tn_expect_str(tn_cmd(c, "GET s"), "notanumber");
	tn_expect_error(tn_cmd(c, "INCRBYFLOAT f"),
			"ERR wrong number of arguments for 'incrbyfloat' "
			"command");
	redisFree(c);
}

/* 10 000 INCRs in one pipeline: every reply in order, the exact count. */
Test(strings, pipelined_incr)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;
	int i;

	for (i = 0; i < 10000; i++)
		cr_assert_eq(redisAppendCommand(c, "INCR counter"), REDIS_OK);
	for (i = 0; i < 10000; i++) {
		cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK,
			     "reply %d: %s", i, c->errstr);
		cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "reply %d", i);
		cr_assert_eq(r->integer, i + 1, "reply %d is %lld", i,
			     r->integer);
		freeReplyObject(r);
	}
	tn_expect_str(tn_cmd(c, "GET counter"), "10000");
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* Ranges                                                               */
/* ------------------------------------------------------------------ */

Test(strings, getrange_substr)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_status(tn_cmd(c, "SET k hello"), "OK");
	tn_expect_str(tn_cmd(c, "GETRANGE k 0 -1"), "hello");
	tn_expect_str(tn_cmd(c, "GETRANGE k 1 3"), "ell");
	tn_expect_str(tn_cmd(c, "GETRANGE k -3 -1"), "llo");
	tn_expect_str(tn_cmd(c, "GETRANGE k -1 -3"), "");
	tn_expect_str(tn_cmd(c, "GETRANGE k 3 1"), "");
	tn_expect_str(tn_cmd(c, "GETRANGE k 10 20"), "");
	tn_expect_str(tn_cmd(c, "GETRANGE k 4 100"), "o");
	tn_expect_str(tn_cmd(c, "GETRANGE k -100 100"), "hello");
	tn_expect_str(tn_cmd(c, "GETRANGE k 0 -100"), "h");
	tn_expect_str(tn_cmd(c, "GETRANGE k -1 -100"), "");
	tn_expect_str(tn_cmd(c, "GETRANGE k 0 0"), "h");
	tn_expect_str(tn_cmd(c, "GETRANGE k 5 5"), "");
	tn_expect_str(tn_cmd(c, "GETRANGE k -9223372036854775808 "
				"9223372036854775807"),
		      "hello");
	tn_expect_str(tn_cmd(c, "SUBSTR k 1 2"), "el");
	tn_expect_str(tn_cmd(c, "SUBSTR k -2 -1"), "lo");
	/* a missing key or an empty string: the empty bulk, not nil */
	tn_expect_str(tn_cmd(c, "GETRANGE nokey 0 -1"), "");
	tn_expect_status(tn_cmd(c, "SET e %s", ""), "OK");
	tn_expect_str(tn_cmd(c, "GETRANGE e 0 -1"), "");
	tn_expect_str(tn_cmd(c, "GETRANGE e -1 0"), "");
	/* integers read as their digits */
	tn_expect_status(tn_cmd(c, "SET i 1234567"), "OK");
	tn_expect_str(tn_cmd(c, "GETRANGE i 2 4"), "345");

	tn_expect_error(tn_cmd(c, "GETRANGE k a 1"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "GETRANGE k 0 1.0"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "GETRANGE nokey x 1"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "GETRANGE k 0"),
			"ERR wrong number of arguments for 'getrange' command");
	tn_expect_error(tn_cmd(c, "SUBSTR k 0"),
			"ERR wrong number of arguments for 'substr' command");
	redisFree(c);
}

Test(strings, setrange)
{
	redisContext *c = tn_connect(&srv);

	/* a new key is zero-padded up to the offset */
	tn_expect_int(tn_cmd(c, "SETRANGE k 3 ab"), 5);
	expect_bytes(tn_cmd(c, "GET k"), "\0\0\0ab", 5);
	expect_encoding(c, "k", "raw");
	tn_expect_int(tn_cmd(c, "SETRANGE k 0 xyz"), 5);
	tn_expect_str(tn_cmd(c, "GET k"), "xyzab");
	/* past the end: pads the gap */
	tn_expect_int(tn_cmd(c, "SETRANGE k 8 Q"), 9);
	expect_bytes(tn_cmd(c, "GET k"), "xyzab\0\0\0Q", 9);
	/* straddling the end: extends without a gap */
	tn_expect_int(tn_cmd(c, "SETRANGE k 7 1234"), 11);
	expect_bytes(tn_cmd(c, "GET k"),
		     "xyzab\0\0"
		     "1234",
		     11);

	tn_expect_status(tn_cmd(c, "SET s hello"), "OK");
	expect_encoding(c, "s", "embstr");
	tn_expect_int(tn_cmd(c, "SETRANGE s 0 %s", ""), 5);
	expect_encoding(c, "s", "embstr");
	tn_expect_int(tn_cmd(c, "SETRANGE s 1 E"), 5);
	expect_encoding(c, "s", "raw");
	tn_expect_str(tn_cmd(c, "GET s"), "hEllo");
	tn_expect_int(tn_cmd(c, "SETRANGE s 100 %s", ""), 5);
	tn_expect_int(tn_cmd(c, "STRLEN s"), 5);

	/* nothing to write on a missing key creates nothing */
	tn_expect_int(tn_cmd(c, "SETRANGE nk 0 %s", ""), 0);
	tn_expect_int(tn_cmd(c, "SETRANGE nk 1000 %s", ""), 0);
	tn_expect_int(tn_cmd(c, "EXISTS nk"), 0);

	tn_expect_error(tn_cmd(c, "SETRANGE k -1 a"),
			"ERR offset is out of range");
	tn_expect_error(tn_cmd(c, "SETRANGE nk -1 a"),
			"ERR offset is out of range");
	tn_expect_error(tn_cmd(c, "SETRANGE k abc a"),
			"ERR value is not an integer or out of range");
	/* proto-max-bulk-len is 512 MB by default */
	tn_expect_error(tn_cmd(c, "SETRANGE nk 536870912 a"),
			"ERR string exceeds maximum allowed size "
			"(proto-max-bulk-len)");
	tn_expect_error(tn_cmd(c, "SETRANGE k 536870911 ab"),
			"ERR string exceeds maximum allowed size "
			"(proto-max-bulk-len)");
	tn_expect_error(tn_cmd(c, "SETRANGE k 9223372036854775807 a"),
			"ERR string exceeds maximum allowed size "
			"(proto-max-bulk-len)");
	tn_expect_int(tn_cmd(c, "EXISTS nk"), 0);
	tn_expect_int(tn_cmd(c, "STRLEN k"), 11);
	tn_expect_error(tn_cmd(c, "SETRANGE k 1"),
			"ERR wrong number of arguments for 'setrange' command");
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* RESP3, binary values, big values                                     */
/* ------------------------------------------------------------------ */

Test(strings, resp3_nulls)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_status(tn_cmd(c, "SET x 1"), "OK");
	redisFree(c);

	raw_expect(2, "$-1\r\n", "GET", "nokey", NULL, NULL);
	raw_expect(3, "_\r\n", "GET", "nokey", NULL, NULL);
	raw_expect(3, "*3\r\n$1\r\n1\r\n_\r\n$1\r\n1\r\n", "MGET", "x", "nokey",
		   "x");
	raw_expect(2, "*2\r\n$1\r\n1\r\n$-1\r\n", "MGET", "x", "nokey", NULL);
	raw_expect(3, "_\r\n", "SET", "nokey", "v", "XX");
	raw_expect(3, "_\r\n", "SET", "x", "v", "NX");
	raw_expect(3, "_\r\n", "GETDEL", "nokey", NULL, NULL);
	raw_expect(3, "_\r\n", "GETEX", "nokey", "PERSIST", NULL);
	raw_expect(3, "_\r\n", "GETSET", "fresh", "v", NULL);
	raw_expect(3, "$1\r\nv\r\n", "GETSET", "fresh", "w", NULL);
	/* GETRANGE of nothing is an empty bulk in both protocols */
	raw_expect(3, "$0\r\n\r\n", "GETRANGE", "nokey", "0", "-1");
	raw_expect(2, "$0\r\n\r\n", "GETRANGE", "nokey", "0", "-1");
	/* INCRBYFLOAT answers a bulk string, not a RESP3 double */
	raw_expect(3, "$3\r\n2.5\r\n", "INCRBYFLOAT", "x", "1.5", NULL);
	raw_expect(3, ":1\r\n", "INCR", "fresh2", NULL, NULL);
	raw_expect(3, "+OK\r\n", "SET", "fresh2", "v", NULL);
	/* LCS IDX is a map in RESP3 */
	raw_expect(3, "+OK\r\n", "SET", "la", "ohmytext", NULL);
	raw_expect(3, "+OK\r\n", "SET", "lb", "mynewtext", NULL);
	raw_expect(3,
		   "%2\r\n$7\r\nmatches\r\n*2\r\n"
		   "*2\r\n*2\r\n:4\r\n:7\r\n*2\r\n:5\r\n:8\r\n"
		   "*2\r\n*2\r\n:2\r\n:3\r\n*2\r\n:0\r\n:1\r\n"
		   "$3\r\nlen\r\n:6\r\n",
		   "LCS", "la", "lb", "IDX");
}

Test(strings, binary_safe)
{
	redisContext *c = tn_connect(&srv);
	static const char v[] = "a\0b\r\nc\0\r\n";
	static const char k[] = "key\0with\r\nnul";
	size_t vl = sizeof(v) - 1, kl = sizeof(k) - 1;
	redisReply *r;

	tn_expect_status(tn_cmd(c, "SET %b %b", k, kl, v, vl), "OK");
	expect_bytes(tn_cmd(c, "GET %b", k, kl), v, vl);
	/* a key differing only after the NUL is another key */
	tn_expect_nil(tn_cmd(c, "GET %b", "key", (size_t)3));
	tn_expect_nil(tn_cmd(c, "GET %b", "key\0with", (size_t)8));
	tn_expect_int(tn_cmd(c, "STRLEN %b", k, kl), (long long)vl);
	expect_bytes(tn_cmd(c, "GETRANGE %b 1 4", k, kl), "\0b\r\n", 4);
	tn_expect_int(tn_cmd(c, "APPEND %b %b", k, kl, "\0\0", (size_t)2),
		      (long long)vl + 2);
	expect_bytes(tn_cmd(c, "GETRANGE %b -3 -1", k, kl), "\n\0\0", 3);
	tn_expect_int(tn_cmd(c, "SETRANGE %b 0 %b", k, kl, "\r\n", (size_t)2),
		      (long long)vl + 2);
	expect_bytes(tn_cmd(c, "GETRANGE %b 0 2", k, kl), "\r\nb", 3);
	expect_bytes(tn_cmd(c, "GETSET %b %b", k, kl, v, vl),
		     "\r\nb\r\nc\0\r\n\0\0", vl + 2);
	expect_bytes(tn_cmd(c, "GETEX %b", k, kl), v, vl);

	tn_expect_status(tn_cmd(c, "MSET %b %b plain %b", "m\0", (size_t)2,
				"\0\0\0", (size_t)3, "\r\n", (size_t)2),
			 "OK");
	r = tn_cmd(c, "MGET %b plain", "m\0", (size_t)2);
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 2);
	cr_expect(r->element[0]->len == 3 &&
		  memcmp(r->element[0]->str, "\0\0\0", 3) == 0);
	cr_expect(r->element[1]->len == 2 &&
		  memcmp(r->element[1]->str, "\r\n", 2) == 0);
	freeReplyObject(r);
	/* a number with a NUL after it is not a number */
	tn_expect_status(tn_cmd(c, "SET n %b", "12\0", (size_t)3), "OK");
	tn_expect_error(tn_cmd(c, "INCR n"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "INCRBYFLOAT n 1"),
			"ERR value is not a valid float");
	expect_bytes(tn_cmd(c, "GETDEL %b", k, kl), v, vl);
	tn_expect_int(tn_cmd(c, "EXISTS %b", k, kl), 0);
	redisFree(c);
}

#define BIG (10 * 1024 * 1024)

Test(strings, big_value_10mb, .timeout = 120)
{
	redisContext *c = tn_connect(&srv);
	char *big = malloc(BIG + 3);
	redisReply *r;
	size_t i;

	cr_assert(big);
	for (i = 0; i < BIG; i++)
		big[i] = (char)(i * 131 + (i >> 13));
	tn_expect_status(tn_cmd(c, "SET big %b", big, (size_t)BIG), "OK");
	expect_bytes(tn_cmd(c, "GET big"), big, BIG);
	tn_expect_int(tn_cmd(c, "STRLEN big"), BIG);
	tn_expect_int(tn_cmd(c, "APPEND big xyz"), BIG + 3);
	memcpy(big + BIG, "xyz", 3);
	expect_bytes(tn_cmd(c, "GETRANGE big -3 -1"), "xyz", 3);
	expect_bytes(tn_cmd(c, "GETRANGE big 5000000 5000099"), big + 5000000,
		     100);
	tn_expect_int(tn_cmd(c, "SETRANGE big 4000000 HELLO"), BIG + 3);
	memcpy(big + 4000000, "HELLO", 5);
	expect_bytes(tn_cmd(c, "GET big"), big, BIG + 3);
	/* replaced by a short value, then by the big one again */
	r = tn_cmd(c, "GETSET big small");
	cr_expect_eq(r->len, (size_t)BIG + 3);
	freeReplyObject(r);
	tn_expect_str(tn_cmd(c, "GET big"), "small");
	tn_expect_status(tn_cmd(c, "SET big %b", big, (size_t)BIG), "OK");
	expect_bytes(tn_cmd(c, "GETDEL big"), big, BIG);
	tn_expect_nil(tn_cmd(c, "GET big"));
	free(big);
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* LCS                                                                  */
/* ------------------------------------------------------------------ */

Test(strings, lcs)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r, *m;

	tn_expect_status(tn_cmd(c, "MSET a ohmytext b mynewtext"), "OK");
	tn_expect_str(tn_cmd(c, "LCS a b"), "mytext");
	tn_expect_int(tn_cmd(c, "LCS a b LEN"), 6);
	tn_expect_str(tn_cmd(c, "LCS a nokey"), "");
	tn_expect_int(tn_cmd(c, "LCS nokey1 nokey2 LEN"), 0);
	tn_expect_str(tn_cmd(c, "LCS a a"), "ohmytext");

	r = tn_cmd(c, "LCS a b IDX MINMATCHLEN 4 WITHMATCHLEN");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 4);
	cr_expect_str_eq(r->element[0]->str, "matches");
	m = r->element[1];
	cr_assert_eq(m->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(m->elements, 1);
	cr_assert_eq(m->element[0]->elements, 3);
	cr_expect_eq(m->element[0]->element[0]->element[0]->integer, 4);
	cr_expect_eq(m->element[0]->element[0]->element[1]->integer, 7);
	cr_expect_eq(m->element[0]->element[1]->element[0]->integer, 5);
	cr_expect_eq(m->element[0]->element[1]->element[1]->integer, 8);
	cr_expect_eq(m->element[0]->element[2]->integer, 4);
	cr_expect_str_eq(r->element[2]->str, "len");
	cr_expect_eq(r->element[3]->integer, 6);
	freeReplyObject(r);

	r = tn_cmd(c, "LCS a b IDX");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 4);
	cr_assert_eq(r->element[1]->elements, 2);
	cr_expect_eq(r->element[1]->element[1]->element[0]->element[0]->integer,
		     2);
	cr_expect_eq(r->element[1]->element[1]->element[1]->element[1]->integer,
		     1);
	freeReplyObject(r);

	tn_expect_error(tn_cmd(c, "LCS a b LEN IDX"),
			"ERR If you want both the length and indexes, please "
			"just use IDX.");
	tn_expect_error(tn_cmd(c, "LCS a b foo"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "LCS a b MINMATCHLEN"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "LCS a b MINMATCHLEN x"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "LCS a"),
			"ERR wrong number of arguments for 'lcs' command");
	redisFree(c);
}
