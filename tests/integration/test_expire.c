/*
 * test_expire.c - TTLs against a real server: EXPIRE and friends with
 * their NX/XX/GT/LT options and errors, TTL/PTTL/EXPIRETIME/PERSIST, lazy
 * expiry on access and active expiry of keys nobody touches.
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

TestSuite(expire, .init = setup, .fini = teardown, .timeout = 120);

static long long int_of(redisReply *r)
{
	long long v;

	cr_assert(r->type == REDIS_REPLY_INTEGER, "expected integer, got %d %s",
		  r->type, r->str ? r->str : "");
	v = r->integer;
	freeReplyObject(r);
	return v;
}

static long long unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* PTTL within (lo, hi]. */
static void expect_pttl(redisContext *c, const char *key, long long lo,
			long long hi)
{
	long long t = int_of(tn_cmd(c, "PTTL %s", key));

	cr_expect(t > lo && t <= hi, "PTTL %s = %lld, wanted (%lld, %lld]", key,
		  t, lo, hi);
}

/* DBSIZE counts keys whether or not they are past their deadline, so it
 * shows what active expiry has really removed. */
static long long dbsize(redisContext *c)
{
	return int_of(tn_cmd(c, "DBSIZE"));
}

/* ------------------------------------------------------------------ */
/* EXPIRE and its options                                               */
/* ------------------------------------------------------------------ */

Test(expire, expire_and_ttl)
{
	redisContext *c = tn_connect(&srv);
	long long now, t;

	tn_expect_int(tn_cmd(c, "TTL nosuch"), -2);
	tn_expect_int(tn_cmd(c, "PTTL nosuch"), -2);
	tn_expect_int(tn_cmd(c, "EXPIRETIME nosuch"), -2);
	tn_expect_int(tn_cmd(c, "PEXPIRETIME nosuch"), -2);
	tn_expect_int(tn_cmd(c, "EXPIRE nosuch 100"), 0);
	tn_expect_int(tn_cmd(c, "PERSIST nosuch"), 0);

	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_int(tn_cmd(c, "TTL k"), -1);
	tn_expect_int(tn_cmd(c, "PTTL k"), -1);
	tn_expect_int(tn_cmd(c, "EXPIRETIME k"), -1);
	tn_expect_int(tn_cmd(c, "PEXPIRETIME k"), -1);
	tn_expect_int(tn_cmd(c, "PERSIST k"), 0);

	tn_expect_int(tn_cmd(c, "EXPIRE k 100"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), 100);
	expect_pttl(c, "k", 99000, 100000);
	now = unix_ms();
	t = int_of(tn_cmd(c, "EXPIRETIME k"));
	cr_expect(t >= now / 1000 + 99 && t <= now / 1000 + 101, "%lld", t);
	t = int_of(tn_cmd(c, "PEXPIRETIME k"));
	cr_expect(t >= now + 99000 - 1000 && t <= now + 100000 + 1000, "%lld",
		  t);

	tn_expect_int(tn_cmd(c, "PEXPIRE k 5500"), 1);
	expect_pttl(c, "k", 5000, 5500);
	/* TTL rounds to the nearest second */
	tn_expect_int(tn_cmd(c, "PEXPIRE k 2900"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), 3);

	tn_expect_int(tn_cmd(c, "PEXPIREAT k 4102444800123"), 1);
	tn_expect_int(tn_cmd(c, "PEXPIRETIME k"), 4102444800123LL);
	tn_expect_int(tn_cmd(c, "EXPIRETIME k"), 4102444800LL);
	tn_expect_int(tn_cmd(c, "EXPIREAT k 4102444801"), 1);
	tn_expect_int(tn_cmd(c, "PEXPIRETIME k"), 4102444801000LL);
	tn_expect_int(tn_cmd(c, "EXPIRETIME k"), 4102444801LL);

	tn_expect_int(tn_cmd(c, "PERSIST k"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), -1);
	tn_expect_int(tn_cmd(c, "PERSIST k"), 0);
	tn_expect_str(tn_cmd(c, "GET k"), "v");

	/* an overwriting SET drops the TTL */
	tn_expect_int(tn_cmd(c, "EXPIRE k 100"), 1);
	tn_expect_status(tn_cmd(c, "SET k v2"), "OK");
	tn_expect_int(tn_cmd(c, "TTL k"), -1);
	redisFree(c);
}

Test(expire, ttl_after_set_ex)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_status(tn_cmd(c, "SET k v EX 100"), "OK");
	tn_expect_int(tn_cmd(c, "TTL k"), 100);
	expect_pttl(c, "k", 99000, 100000);
	tn_expect_status(tn_cmd(c, "SET p v PX 5000"), "OK");
	expect_pttl(c, "p", 4000, 5000);
	tn_expect_int(tn_cmd(c, "TTL p"), 5);
	redisFree(c);
}

Test(expire, past_times_delete)
{
	redisContext *c = tn_connect(&srv);
	const char *cmds[] = {
	    "EXPIRE k -1",     "EXPIRE k 0",
	    "PEXPIRE k -100",  "PEXPIRE k 0",
	    "EXPIREAT k 1",    "EXPIREAT k 0",
	    "PEXPIREAT k 100", "PEXPIRE k -9223372036854775808"};
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		tn_expect_status(tn_cmd(c, "SET k v"), "OK");
		tn_expect_int(tn_cmd(c, cmds[i]), 1);
		tn_expect_int(tn_cmd(c, "EXISTS k"), 0);
		tn_expect_int(tn_cmd(c, "TTL k"), -2);
		tn_expect_int(tn_cmd(c, cmds[i]), 0);
	}
	/* an expired key with a TTL goes too, and from its TTL index */
	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_int(tn_cmd(c, "EXPIRE k 100"), 1);
	tn_expect_int(tn_cmd(c, "EXPIRE k -5"), 1);
	tn_expect_int(tn_cmd(c, "EXISTS k"), 0);
	tn_expect_int(tn_cmd(c, "DBSIZE"), 0);
	redisFree(c);
}

Test(expire, options_matrix)
{
	redisContext *c = tn_connect(&srv);

	/* NX: only without a TTL */
	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_int(tn_cmd(c, "EXPIRE k 100 NX"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), 100);
	tn_expect_int(tn_cmd(c, "EXPIRE k 200 nx"), 0);
	tn_expect_int(tn_cmd(c, "TTL k"), 100);

	/* XX: only with a TTL */
	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_int(tn_cmd(c, "EXPIRE k 100 XX"), 0);
	tn_expect_int(tn_cmd(c, "TTL k"), -1);
	tn_expect_int(tn_cmd(c, "EXPIRE k 100"), 1);
	tn_expect_int(tn_cmd(c, "EXPIRE k 200 XX"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), 200);

	/* GT: no TTL counts as infinite, so GT never applies to it */
	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_int(tn_cmd(c, "EXPIRE k 100 GT"), 0);
	tn_expect_int(tn_cmd(c, "TTL k"), -1);
	tn_expect_int(tn_cmd(c, "EXPIRE k 100"), 1);
	tn_expect_int(tn_cmd(c, "EXPIRE k 50 GT"), 0);
	tn_expect_int(tn_cmd(c, "TTL k"), 100);
	tn_expect_int(tn_cmd(c, "EXPIRE k 200 gt"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), 200);
	tn_expect_int(tn_cmd(c, "PEXPIREAT k 4102444800000"), 1);
	tn_expect_int(tn_cmd(c, "PEXPIREAT k 4102444800000 GT"), 0);
	/* GT with a past time fails: the key stays */
	tn_expect_int(tn_cmd(c, "EXPIRE k -5 GT"), 0);
	tn_expect_int(tn_cmd(c, "EXISTS k"), 1);

	/* LT: applies to no TTL (infinite), and to larger TTLs */
	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_int(tn_cmd(c, "EXPIRE k 100 LT"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), 100);
	tn_expect_int(tn_cmd(c, "EXPIRE k 200 LT"), 0);
	tn_expect_int(tn_cmd(c, "TTL k"), 100);
	tn_expect_int(tn_cmd(c, "EXPIRE k 50 Lt"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), 50);
	tn_expect_int(tn_cmd(c, "PEXPIREAT k 4102444800000"), 1);
	tn_expect_int(tn_cmd(c, "PEXPIREAT k 4102444800000 LT"), 0);
	/* LT with a past time on a key without TTL deletes it */
	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_int(tn_cmd(c, "EXPIRE k -5 LT"), 1);
	tn_expect_int(tn_cmd(c, "EXISTS k"), 0);

	/* XX GT and XX LT together */
	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_int(tn_cmd(c, "EXPIRE k 100 XX LT"), 0);
	tn_expect_int(tn_cmd(c, "EXPIRE k 100 XX GT"), 0);
	tn_expect_int(tn_cmd(c, "TTL k"), -1);
	tn_expect_int(tn_cmd(c, "EXPIRE k 100"), 1);
	tn_expect_int(tn_cmd(c, "EXPIRE k 200 XX GT"), 1);
	tn_expect_int(tn_cmd(c, "EXPIRE k 50 GT XX"), 0);
	tn_expect_int(tn_cmd(c, "EXPIRE k 50 XX LT"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), 50);
	/* repeats are fine */
	tn_expect_int(tn_cmd(c, "EXPIRE k 40 LT LT xx"), 1);
	tn_expect_int(tn_cmd(c, "TTL k"), 40);

	/* the other three commands take the same options */
	tn_expect_status(tn_cmd(c, "SET p v"), "OK");
	tn_expect_int(tn_cmd(c, "PEXPIRE p 100000 XX"), 0);
	tn_expect_int(tn_cmd(c, "PEXPIRE p 100000 NX"), 1);
	tn_expect_int(tn_cmd(c, "PEXPIRE p 200000 NX"), 0);
	tn_expect_int(tn_cmd(c, "EXPIREAT p 4102444800 GT"), 1);
	tn_expect_int(tn_cmd(c, "EXPIREAT p 4102444700 GT"), 0);
	tn_expect_int(tn_cmd(c, "PEXPIREAT p 4102444700000 LT"), 1);
	tn_expect_int(tn_cmd(c, "PEXPIRETIME p"), 4102444700000LL);

	/* a missing key: 0 whatever the options */
	tn_expect_int(tn_cmd(c, "EXPIRE nosuch 100 NX"), 0);
	tn_expect_int(tn_cmd(c, "EXPIRE nosuch 100 LT"), 0);
	redisFree(c);
}

Test(expire, option_errors)
{
	redisContext *c = tn_connect(&srv);
	const char *nx_combo = "ERR NX and XX, GT or LT options at the same "
			       "time are not compatible";
	const char *gt_lt = "ERR GT and LT options at the same time are not "
			    "compatible";

	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_error(tn_cmd(c, "EXPIRE k 10 NX XX"), nx_combo);
	tn_expect_error(tn_cmd(c, "EXPIRE k 10 NX GT"), nx_combo);
	tn_expect_error(tn_cmd(c, "EXPIRE k 10 LT NX"), nx_combo);
	tn_expect_error(tn_cmd(c, "PEXPIRE k 10 xx nx"), nx_combo);
	tn_expect_error(tn_cmd(c, "EXPIRE k 10 GT LT"), gt_lt);
	tn_expect_error(tn_cmd(c, "EXPIREAT k 10 lt gt"), gt_lt);
	tn_expect_error(tn_cmd(c, "PEXPIREAT k 10 XX GT LT"), gt_lt);
	tn_expect_error(tn_cmd(c, "EXPIRE k 10 FOO"),
			"ERR Unsupported option FOO");
	tn_expect_error(tn_cmd(c, "EXPIRE k 10 XX foo"),
			"ERR Unsupported option foo");
	/* options are checked before the time, and before the key */
	tn_expect_error(tn_cmd(c, "EXPIRE k abc foo"),
			"ERR Unsupported option foo");
	tn_expect_error(tn_cmd(c, "EXPIRE k abc NX XX"), nx_combo);
	tn_expect_error(tn_cmd(c, "EXPIRE nosuch 10 NX XX"), nx_combo);
	tn_expect_error(tn_cmd(c, "EXPIRE k abc"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "EXPIRE k 1.5"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "PEXPIRE k %s", ""),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "EXPIRE k"),
			"ERR wrong number of arguments for 'expire' command");
	tn_expect_error(tn_cmd(c, "PEXPIREAT k"),
			"ERR wrong number of arguments for 'pexpireat' "
			"command");
	tn_expect_error(tn_cmd(c, "TTL"),
			"ERR wrong number of arguments for 'ttl' command");
	tn_expect_error(tn_cmd(c, "PTTL a b"),
			"ERR wrong number of arguments for 'pttl' command");
	tn_expect_error(tn_cmd(c, "EXPIRETIME"),
			"ERR wrong number of arguments for 'expiretime' "
			"command");
	tn_expect_error(tn_cmd(c, "PERSIST"),
			"ERR wrong number of arguments for 'persist' command");
	tn_expect_int(tn_cmd(c, "TTL k"), -1);
	redisFree(c);
}

Test(expire, invalid_expire_times)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	/* seconds that overflow once made milliseconds */
	tn_expect_error(tn_cmd(c, "EXPIRE k 9223372036854776"),
			"ERR invalid expire time in 'expire' command");
	tn_expect_error(tn_cmd(c, "EXPIRE k -9223372036854776"),
			"ERR invalid expire time in 'expire' command");
	/* fits as ms, overflows with now added */
	tn_expect_error(tn_cmd(c, "EXPIRE k 9223372036854775"),
			"ERR invalid expire time in 'expire' command");
	tn_expect_error(tn_cmd(c, "PEXPIRE k 9223372036854775807"),
			"ERR invalid expire time in 'pexpire' command");
	tn_expect_error(tn_cmd(c, "EXPIREAT k 9223372036854776"),
			"ERR invalid expire time in 'expireat' command");
	tn_expect_error(tn_cmd(c, "PEXPIRE k 9223372036854775808"),
			"ERR value is not an integer or out of range");
	tn_expect_int(tn_cmd(c, "TTL k"), -1);
	/* the largest absolute time is fine, and prints rounded */
	tn_expect_int(tn_cmd(c, "PEXPIREAT k 9223372036854775807"), 1);
	tn_expect_int(tn_cmd(c, "PEXPIRETIME k"), 9223372036854775807LL);
	tn_expect_int(tn_cmd(c, "EXPIRETIME k"), 9223372036854776LL);
	tn_expect_int(tn_cmd(c, "EXPIREAT k 9223372036854775"), 1);
	tn_expect_int(tn_cmd(c, "EXPIRETIME k"), 9223372036854775LL);
	redisFree(c);
}

/* ------------------------------------------------------------------ */
/* Expiry: lazy and active                                              */
/* ------------------------------------------------------------------ */

Test(expire, lazy_expiry_on_access)
{
	redisContext *c = tn_connect(&srv);
	long long deadline;
	redisReply *r = NULL;

	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_int(tn_cmd(c, "PEXPIRE k 50"), 1);
	tn_expect_str(tn_cmd(c, "GET k"), "v");
	deadline = tn_now_ms() + 2000;
	while (tn_now_ms() < deadline) {
		r = tn_cmd(c, "GET k");
		if (r->type == REDIS_REPLY_NIL)
			break;
		freeReplyObject(r);
		r = NULL;
		usleep(5000);
	}
	cr_assert(r && r->type == REDIS_REPLY_NIL, "k outlived its TTL");
	freeReplyObject(r);
	tn_expect_int(tn_cmd(c, "TTL k"), -2);
	tn_expect_int(tn_cmd(c, "EXISTS k"), 0);
	redisFree(c);
}

Test(expire, px50_leaves_keys_listing)
{
	redisContext *c = tn_connect(&srv);
	long long start, deadline, gone = -1;

	tn_expect_status(tn_cmd(c, "SET short v"), "OK");
	tn_expect_status(tn_cmd(c, "SET long v"), "OK");
	start = tn_now_ms();
	tn_expect_int(tn_cmd(c, "PEXPIRE short 50"), 1);
	deadline = start + 2000;
	while (tn_now_ms() < deadline) {
		redisReply *r = tn_cmd(c, "KEYS *");
		size_t n = r->elements;

		freeReplyObject(r);
		if (n == 1) {
			gone = tn_now_ms() - start;
			break;
		}
		cr_assert_eq(n, 2);
		usleep(2000);
	}
	cr_assert_geq(gone, 0, "short still listed after 2 s");
	/* and not before its time */
	cr_expect_geq(gone, 45, "gone after %lld ms", gone);
	tn_expect_int(tn_cmd(c, "EXISTS long"), 1);
	redisFree(c);
}

Test(expire, active_expiry_without_access)
{
	redisContext *c = tn_connect(&srv);
	long long start, deadline, n = -1;
	int i;

	for (i = 0; i < 1000; i++)
		redisAppendCommand(c, "SET vol:%d x", i);
	for (i = 0; i < 1000; i++)
		redisAppendCommand(c, "PEXPIRE vol:%d 100", i);
	for (i = 0; i < 2000; i++) {
		redisReply *r;

		cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK);
		cr_assert(r->type != REDIS_REPLY_ERROR, "%s", r->str);
		freeReplyObject(r);
	}
	start = tn_now_ms();
	for (i = 0; i < 100; i++)
		tn_expect_status(tn_cmd(c, "SET keep:%d x", i), "OK");
	cr_expect_eq(dbsize(c), 1100);
	/* nothing reads vol:*; only active expiry can remove them */
	deadline = start + 2000;
	while (tn_now_ms() < deadline) {
		n = dbsize(c);
		if (n == 100)
			break;
		usleep(20000);
	}
	cr_expect_eq(n, 100, "%lld keys left after 2 s", n);
	tn_expect_int(tn_cmd(c, "EXISTS keep:0 keep:99"), 2);
	redisFree(c);
}

Test(expire, active_expiry_spares_live_keys)
{
	redisContext *c = tn_connect(&srv);
	long long deadline, n = -1;
	int i;

	/* half short, half long: the long half must all survive */
	for (i = 0; i < 2000; i++)
		redisAppendCommand(c, "SET m:%d x", i);
	for (i = 0; i < 2000; i++)
		redisAppendCommand(c, "PEXPIRE m:%d %d", i, i % 2 ? 60000 : 50);
	for (i = 0; i < 4000; i++) {
		redisReply *r;

		cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK);
		freeReplyObject(r);
	}
	deadline = tn_now_ms() + 3000;
	while (tn_now_ms() < deadline) {
		n = dbsize(c);
		if (n == 1000)
			break;
		usleep(20000);
	}
	cr_expect_eq(n, 1000, "%lld keys left", n);
	for (i = 1; i < 2000; i += 2)
		redisAppendCommand(c, "EXISTS m:%d", i);
	for (i = 1; i < 2000; i += 2) {
		redisReply *r;

		cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK);
		cr_expect_eq(r->integer, 1, "m:%d expired early", i);
		freeReplyObject(r);
	}
	redisFree(c);
}

Test(expire, expiry_with_renames_and_deletes)
{
	redisContext *c = tn_connect(&srv);
	long long deadline, n = -1;
	int i;

	/* TTL index bookkeeping under churn: keys with TTLs renamed,
	 * persisted and deleted, then the survivors' TTLs shortened for
	 * the cycle to find */
	for (i = 0; i < 500; i++) {
		tn_expect_status(tn_cmd(c, "SET a:%d x", i), "OK");
		tn_expect_int(tn_cmd(c, "PEXPIRE a:%d %d", i, 60000 + i), 1);
	}
	for (i = 0; i < 500; i += 5) {
		tn_expect_status(tn_cmd(c, "RENAME a:%d b:%d", i, i), "OK");
		tn_expect_int(tn_cmd(c, "PERSIST a:%d", i + 1), 1);
		tn_expect_int(tn_cmd(c, "DEL a:%d", i + 2), 1);
		tn_expect_status(tn_cmd(c, "RENAME a:%d a:%d", i + 3, i + 2),
				 "OK");
	}
	for (i = 0; i < 500; i += 5) {
		tn_expect_int(tn_cmd(c, "PEXPIRE b:%d 100", i), 1);
		tn_expect_int(tn_cmd(c, "PEXPIRE a:%d 100 XX", i + 2), 1);
		tn_expect_int(tn_cmd(c, "PEXPIRE a:%d 100 LT", i + 4), 1);
	}
	deadline = tn_now_ms() + 3000;
	while (tn_now_ms() < deadline) {
		n = dbsize(c);
		if (n == 100)
			break;
		usleep(20000);
	}
	/* only the persisted ones remain */
	cr_expect_eq(n, 100, "%lld keys left", n);
	tn_expect_int(tn_cmd(c, "EXISTS a:1 a:496 b:0"), 2);
	tn_expect_int(tn_cmd(c, "TTL a:1"), -1);
	redisFree(c);
}
