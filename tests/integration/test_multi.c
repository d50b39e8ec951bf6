/*
 * test_multi.c - transactions against a real server: queued replies,
 * EXEC results, EXECABORT, runtime errors, DISCARD, nesting, WATCH
 * invalidated from the other shard and by expiry, keyspace walks inside
 * EXEC, atomicity seen by a third client, RESP3 nulls.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/integration/harness.h"

#define NCONN	      8 /* over 2 shards: some land on each */
#define ATOMIC_ROUNDS 5000
#define POLL_MS	      5000
/* keys one transaction increments: some land in different stripes */
#define NPAIR 16

static struct tn_server srv;

static void setup(void)
{
	cr_assert(tn_server_start(&srv, NULL) == 0, "server did not start");
}

static void teardown(void)
{
	cr_expect(tn_server_stop(&srv) == 0, "supervisor did not exit 0");
}

TestSuite(multi, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

static void expect_error_is(redisReply *r, const char *s)
{
	cr_expect(r->type == REDIS_REPLY_ERROR && strcmp(r->str, s) == 0,
		  "expected -%s, got type %d \"%s\"", s, r->type,
		  r->str ? r->str : "");
	freeReplyObject(r);
}

static void expect_queued(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert(r, "no reply to %s", fmt);
	tn_expect_status(r, "QUEUED");
}

/* An aborted EXEC: a null array in RESP2. */
static void expect_exec_nil(redisContext *c)
{
	redisReply *r = tn_cmd(c, "EXEC");

	cr_expect(r->type == REDIS_REPLY_NIL, "EXEC: want nil, got type %d",
		  r->type);
	freeReplyObject(r);
}

/* EXEC that ran: an array of n replies, returned for inspection. */
static redisReply *exec_array(redisContext *c, size_t n)
{
	redisReply *r = tn_cmd(c, "EXEC");

	cr_assert(r->type == REDIS_REPLY_ARRAY, "EXEC: want array, got %d %s",
		  r->type, r->str ? r->str : "");
	cr_assert_eq(r->elements, n, "EXEC: %zu replies, want %zu", r->elements,
		     n);
	return r;
}

/* Two connections served by different shards, from NCONN tries. */
static void pick_pair_across_shards(redisContext **c, redisContext **a,
				    redisContext **b)
{
	int shard[NCONN], i, j;

	for (i = 0; i < NCONN; i++) {
		c[i] = tn_connect(&srv);
		cr_assert(c[i], "connect %d", i);
		shard[i] = tn_client_shard(&srv, c[i], POLL_MS);
		cr_assert_geq(shard[i], 0, "connection %d in no shard", i);
	}
	for (i = 0; i < NCONN; i++) {
		for (j = 0; j < NCONN; j++) {
			if (shard[i] != shard[j]) {
				*a = c[i];
				*b = c[j];
				return;
			}
		}
	}
	cr_assert_fail("all %d connections on shard %d", NCONN, shard[0]);
}

static void free_all(redisContext **c, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (c[i])
			redisFree(c[i]);
}

/* ------------------------------------------------------------------ */
/* Queueing, EXEC, errors                                               */
/* ------------------------------------------------------------------ */

Test(multi, queued_then_exec_results)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET a 1");
	expect_queued(c, "INCR a");
	expect_queued(c, "GET a");
	expect_queued(c, "GET missing");
	expect_queued(c, "SADD s x y");
	/* nothing ran yet, as seen from another connection */
	{
		redisContext *o = tn_connect(&srv);

		tn_expect_nil(tn_cmd(o, "GET a"));
		redisFree(o);
	}
	r = exec_array(c, 5);
	cr_expect(r->element[0]->type == REDIS_REPLY_STATUS &&
		  strcmp(r->element[0]->str, "OK") == 0);
	cr_expect(r->element[1]->type == REDIS_REPLY_INTEGER &&
		  r->element[1]->integer == 2);
	cr_expect(r->element[2]->type == REDIS_REPLY_STRING &&
		  strcmp(r->element[2]->str, "2") == 0);
	cr_expect(r->element[3]->type == REDIS_REPLY_NIL);
	cr_expect(r->element[4]->type == REDIS_REPLY_INTEGER &&
		  r->element[4]->integer == 2);
	freeReplyObject(r);
	/* the transaction is over */
	expect_error_is(tn_cmd(c, "EXEC"), "ERR EXEC without MULTI");
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	r = exec_array(c, 0);
	freeReplyObject(r);
	redisFree(c);
}

Test(multi, queueing_error_aborts_exec)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET k 1");
	expect_error_is(tn_cmd(c, "NOSUCHCMD x"),
			"ERR unknown command 'NOSUCHCMD', with args beginning "
			"with: 'x' ");
	expect_queued(c, "SET k2 1");
	expect_error_is(tn_cmd(c, "EXEC"),
			"EXECABORT Transaction discarded because of previous "
			"errors.");
	tn_expect_nil(tn_cmd(c, "GET k"));
	tn_expect_nil(tn_cmd(c, "GET k2"));

	/* wrong arity, and an unknown subcommand, abort the same way */
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_error_is(tn_cmd(c, "INCR a b"),
			"ERR wrong number of arguments for 'incr' command");
	expect_error_is(tn_cmd(c, "EXEC"),
			"EXECABORT Transaction discarded because of previous "
			"errors.");
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_error_is(tn_cmd(c, "CONFIG NOPE"),
			"ERR unknown subcommand 'NOPE'. Try CONFIG HELP.");
	expect_error_is(tn_cmd(c, "EXEC"),
			"EXECABORT Transaction discarded because of previous "
			"errors.");

	/* EXEC refused by its own checks aborts at once */
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET k 1");
	expect_error_is(tn_cmd(c, "EXEC extra"),
			"EXECABORT Transaction discarded because of: wrong "
			"number of arguments for 'exec' command");
	expect_error_is(tn_cmd(c, "EXEC"), "ERR EXEC without MULTI");
	tn_expect_nil(tn_cmd(c, "GET k"));
	redisFree(c);
}

Test(multi, runtime_error_does_not_stop_the_rest)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET a 1");
	expect_queued(c, "SADD a x");
	expect_queued(c, "INCR a");
	expect_queued(c, "INCRBY a notanumber");
	expect_queued(c, "GET a");
	r = exec_array(c, 5);
	cr_expect(r->element[0]->type == REDIS_REPLY_STATUS);
	cr_expect(r->element[1]->type == REDIS_REPLY_ERROR &&
		  strcmp(r->element[1]->str,
			 "WRONGTYPE Operation against a key holding the wrong "
			 "kind of value") == 0);
	cr_expect(r->element[2]->type == REDIS_REPLY_INTEGER &&
		  r->element[2]->integer == 2);
	cr_expect(r->element[3]->type == REDIS_REPLY_ERROR &&
		  strcmp(r->element[3]->str,
			 "ERR value is not an integer or out of range") == 0);
	cr_expect(r->element[4]->type == REDIS_REPLY_STRING &&
		  strcmp(r->element[4]->str, "2") == 0);
	freeReplyObject(r);
	redisFree(c);
}

Test(multi, discard_and_misplaced_commands)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	expect_error_is(tn_cmd(c, "DISCARD"), "ERR DISCARD without MULTI");
	expect_error_is(tn_cmd(c, "EXEC"), "ERR EXEC without MULTI");
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET d 1");
	tn_expect_status(tn_cmd(c, "DISCARD"), "OK");
	tn_expect_nil(tn_cmd(c, "GET d"));
	expect_error_is(tn_cmd(c, "EXEC"), "ERR EXEC without MULTI");

	/* nested MULTI and WATCH inside are refused, but abort nothing */
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_error_is(tn_cmd(c, "MULTI"),
			"ERR MULTI calls can not be nested");
	expect_error_is(tn_cmd(c, "WATCH x"),
			"ERR WATCH inside MULTI is not allowed");
	expect_queued(c, "SET n 1");
	expect_queued(c, "UNWATCH");
	r = exec_array(c, 2);
	cr_expect(r->element[0]->type == REDIS_REPLY_STATUS &&
		  strcmp(r->element[0]->str, "OK") == 0);
	freeReplyObject(r);
	tn_expect_str(tn_cmd(c, "GET n"), "1");
	redisFree(c);
}

Test(multi, reset_and_quit_inside_multi)
{
	redisContext *c = tn_connect(&srv), *o = tn_connect(&srv);
	redisReply *r;

	tn_expect_status(tn_cmd(c, "SET w 0"), "OK");
	tn_expect_status(tn_cmd(c, "WATCH w"), "OK");
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET r 1");
	tn_expect_status(tn_cmd(c, "RESET"), "RESET");
	expect_error_is(tn_cmd(c, "EXEC"), "ERR EXEC without MULTI");
	tn_expect_nil(tn_cmd(c, "GET r"));
	/* RESET dropped the watch too: a write to w no longer matters */
	tn_expect_status(tn_cmd(o, "SET w 1"), "OK");
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET r 2");
	r = exec_array(c, 1);
	freeReplyObject(r);

	/* QUIT runs at once and closes, the queue never runs */
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET q 1");
	tn_expect_status(tn_cmd(c, "QUIT"), "OK");
	r = redisCommand(c, "PING");
	cr_expect(r == NULL, "connection still open after QUIT");
	if (r)
		freeReplyObject(r);
	tn_expect_nil(tn_cmd(o, "GET q"));
	redisFree(c);
	redisFree(o);
}

Test(multi, pipelined_big_arguments_are_copied)
{
	redisContext *c = tn_connect(&srv);
	size_t n = 200 * 1024, i;
	char *v1 = malloc(n), *v2 = malloc(n);
	redisReply *r;

	cr_assert(v1 && v2);
	for (i = 0; i < n; i++) {
		v1[i] = (char)('a' + i % 26);
		v2[i] = (char)('A' + i % 23);
	}
	/* one burst: the query buffer is compacted and reused under the
	 * queue, which must have its own copies */
	redisAppendCommand(c, "MULTI");
	redisAppendCommand(c, "SET big1 %b", v1, n);
	redisAppendCommand(c, "SET big2 %b", v2, n);
	redisAppendCommand(c, "APPEND big1 %b", v2, (size_t)10);
	redisAppendCommand(c, "EXEC");
	for (i = 0; i < 4; i++) {
		cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK);
		freeReplyObject(r);
	}
	cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK);
	cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3);
	freeReplyObject(r);
	r = tn_cmd(c, "GET big1");
	cr_assert(r->type == REDIS_REPLY_STRING && r->len == n + 10);
	cr_expect(memcmp(r->str, v1, n) == 0 &&
		  memcmp(r->str + n, v2, 10) == 0);
	freeReplyObject(r);
	r = tn_cmd(c, "GET big2");
	cr_assert(r->type == REDIS_REPLY_STRING && r->len == n);
	cr_expect(memcmp(r->str, v2, n) == 0);
	freeReplyObject(r);
	free(v1);
	free(v2);
	redisFree(c);
}

Test(multi, oom_refuses_queueing_and_exec)
{
	redisContext *c = tn_connect(&srv), *o = tn_connect(&srv);

	/* something in the heap, so that it is over one byte */
	tn_expect_status(tn_cmd(o, "SET filler x"), "OK");
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET q 1");
	tn_expect_status(tn_cmd(o, "CONFIG SET maxmemory 1"), "OK");
	expect_error_is(tn_cmd(c, "EXEC"),
			"EXECABORT Transaction discarded because of: OOM "
			"command not allowed when used memory > 'maxmemory'.");
	/* inside MULTI even a read is refused: the queue would grow */
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_error_is(tn_cmd(c, "GET q"),
			"OOM command not allowed when used memory > "
			"'maxmemory'.");
	tn_expect_status(tn_cmd(c, "DISCARD"), "OK");
	tn_expect_status(tn_cmd(o, "CONFIG SET maxmemory 0"), "OK");
	tn_expect_nil(tn_cmd(c, "GET q"));
	redisFree(c);
	redisFree(o);
}

/* ------------------------------------------------------------------ */
/* WATCH                                                                */
/* ------------------------------------------------------------------ */

Test(multi, watch_conflict_from_other_shard)
{
	redisContext *c[NCONN] = {0}, *w, *m;
	redisReply *r;

	pick_pair_across_shards(c, &w, &m);
	tn_expect_status(tn_cmd(w, "SET wk 0"), "OK");
	tn_expect_status(tn_cmd(w, "WATCH wk"), "OK");
	tn_expect_status(tn_cmd(m, "SET wk 1"), "OK");
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "SET wk 2");
	expect_exec_nil(w);
	tn_expect_str(tn_cmd(m, "GET wk"), "1");

	/* a write from the other shard to another key does not matter */
	tn_expect_status(tn_cmd(w, "WATCH wk"), "OK");
	tn_expect_status(tn_cmd(m, "SET other 1"), "OK");
	tn_expect_int(tn_cmd(m, "DEL nosuchkey"), 0);
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "SET wk 3");
	r = exec_array(w, 1);
	freeReplyObject(r);
	tn_expect_str(tn_cmd(m, "GET wk"), "3");

	/* the other way round, and by a command of a transaction */
	tn_expect_status(tn_cmd(m, "WATCH wk"), "OK");
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "INCR wk");
	r = exec_array(w, 1);
	freeReplyObject(r);
	tn_expect_status(tn_cmd(m, "MULTI"), "OK");
	expect_queued(m, "SET wk 9");
	expect_exec_nil(m);
	tn_expect_str(tn_cmd(m, "GET wk"), "4");

	/* UNWATCH forgets: the same conflict no longer aborts */
	tn_expect_status(tn_cmd(w, "WATCH wk"), "OK");
	tn_expect_status(tn_cmd(m, "SET wk 5"), "OK");
	tn_expect_status(tn_cmd(w, "UNWATCH"), "OK");
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "GET wk");
	r = exec_array(w, 1);
	cr_expect(strcmp(r->element[0]->str, "5") == 0);
	freeReplyObject(r);
	free_all(c, NCONN);
}

Test(multi, watch_many_keys_one_changed_elsewhere)
{
	redisContext *c[NCONN] = {0}, *w, *m;
	char key[32];
	int i;

	pick_pair_across_shards(c, &w, &m);
	/* keys in many stripes: the changed one is found among them */
	for (i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "mk:%d", i);
		tn_expect_status(tn_cmd(w, "WATCH %s", key), "OK");
	}
	tn_expect_status(tn_cmd(w, "WATCH mk:7 mk:7 mk:8"), "OK");
	tn_expect_int(tn_cmd(m, "SADD mk:37 x"), 1);
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "SET mk:0 done");
	expect_exec_nil(w);
	tn_expect_nil(tn_cmd(m, "GET mk:0"));
	free_all(c, NCONN);
}

Test(multi, watch_missing_key_then_set)
{
	redisContext *c[NCONN] = {0}, *w, *m;
	redisReply *r;

	pick_pair_across_shards(c, &w, &m);
	tn_expect_status(tn_cmd(w, "WATCH nk"), "OK");
	tn_expect_status(tn_cmd(m, "SET nk v"), "OK");
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "GET nk");
	expect_exec_nil(w);

	/* deleting a missing key changes nothing */
	tn_expect_status(tn_cmd(w, "WATCH nk2"), "OK");
	tn_expect_int(tn_cmd(m, "DEL nk2"), 0);
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "GET nk2");
	r = exec_array(w, 1);
	cr_expect(r->element[0]->type == REDIS_REPLY_NIL);
	freeReplyObject(r);

	/* FLUSHALL touches the watched keys that existed, only them */
	tn_expect_status(tn_cmd(w, "WATCH nk nk3"), "OK");
	tn_expect_status(tn_cmd(m, "FLUSHALL"), "OK");
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "PING");
	expect_exec_nil(w);
	tn_expect_status(tn_cmd(w, "WATCH nk3"), "OK");
	tn_expect_status(tn_cmd(m, "FLUSHALL"), "OK");
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "PING");
	r = exec_array(w, 1);
	freeReplyObject(r);
	free_all(c, NCONN);
}

Test(multi, watch_invalidated_by_expiry)
{
	redisContext *c[NCONN] = {0}, *w, *m;
	long long deadline;
	redisReply *r;
	bool gone = false;

	pick_pair_across_shards(c, &w, &m);
	tn_expect_status(tn_cmd(w, "SET ek v PX 50"), "OK");
	tn_expect_status(tn_cmd(w, "WATCH ek"), "OK");
	/* poll from the other shard until the key is gone */
	deadline = tn_now_ms() + POLL_MS;
	while (!gone && tn_now_ms() < deadline) {
		r = tn_cmd(m, "EXISTS ek");
		gone = r->type == REDIS_REPLY_INTEGER && r->integer == 0;
		freeReplyObject(r);
		if (!gone)
			usleep(5000);
	}
	cr_assert(gone, "ek outlived its 50 ms");
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "SET ek again");
	expect_exec_nil(w);
	tn_expect_nil(tn_cmd(m, "GET ek"));

	/* nobody touches it: EXEC itself sees the deadline passed */
	tn_expect_status(tn_cmd(w, "SET ek2 v PX 30"), "OK");
	tn_expect_status(tn_cmd(w, "WATCH ek2"), "OK");
	usleep(60 * 1000);
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "SET ek2 again");
	expect_exec_nil(w);
	tn_expect_nil(tn_cmd(m, "GET ek2"));

	/* a TTL that has not run out yet changes nothing */
	tn_expect_status(tn_cmd(w, "SET ek3 v PX 60000"), "OK");
	tn_expect_status(tn_cmd(w, "WATCH ek3"), "OK");
	tn_expect_status(tn_cmd(w, "MULTI"), "OK");
	expect_queued(w, "GET ek3");
	r = exec_array(w, 1);
	cr_expect(r->element[0]->type == REDIS_REPLY_STRING);
	freeReplyObject(r);
	free_all(c, NCONN);
}

/* WATCH many keys (several per stripe) on c. */
static void watch_many(redisContext *c, const char *prefix, int n)
{
	int i;

	for (i = 0; i < n; i++)
		tn_expect_status(tn_cmd(c, "WATCH %s:%d shared", prefix, i),
				 "OK");
}

Test(multi, watches_released_by_unwatch_discard_and_close)
{
	redisContext *c[NCONN] = {0}, *a, *b, *o;
	redisReply *r;
	int i;

	pick_pair_across_shards(c, &a, &b);
	o = tn_connect(&srv);
	tn_expect_status(tn_cmd(o, "SET shared 1"), "OK");

	/* b watches too: a's UNWATCH must leave b's watch in place */
	tn_expect_status(tn_cmd(b, "WATCH shared"), "OK");
	watch_many(a, "u", 40);
	tn_expect_status(tn_cmd(a, "UNWATCH"), "OK");
	tn_expect_status(tn_cmd(b, "MULTI"), "OK");
	expect_queued(b, "GET shared");
	r = exec_array(b, 1);
	freeReplyObject(r);

	/* and a's DISCARD, then a's disconnection, likewise */
	tn_expect_status(tn_cmd(b, "WATCH shared"), "OK");
	watch_many(a, "d", 40);
	tn_expect_status(tn_cmd(a, "MULTI"), "OK");
	tn_expect_status(tn_cmd(a, "DISCARD"), "OK");
	watch_many(a, "q", 40);
	for (i = 0; i < NCONN; i++)
		if (c[i] == a)
			c[i] = NULL;
	redisFree(a);
	/* a write after all that still reaches b's watch */
	tn_expect_status(tn_cmd(o, "SET shared 2"), "OK");
	tn_expect_status(tn_cmd(b, "MULTI"), "OK");
	expect_queued(b, "GET shared");
	expect_exec_nil(b);
	/* the stripes a used are free */
	tn_expect_status(tn_cmd(o, "SET u:3 x"), "OK");
	tn_expect_status(tn_cmd(o, "SET q:39 x"), "OK");
	redisFree(o);
	free_all(c, NCONN);
}

/* ------------------------------------------------------------------ */
/* Commands that walk every stripe, inside EXEC                         */
/* ------------------------------------------------------------------ */

Test(multi, keyspace_walks_inside_exec)
{
	redisContext *c = tn_connect(&srv), *o = tn_connect(&srv);
	redisReply *r;
	int i;

	for (i = 0; i < 20; i++)
		tn_expect_status(tn_cmd(o, "SET pre:%d %d", i, i), "OK");
	tn_expect_status(tn_cmd(c, "WATCH pre:3"), "OK");
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET x 1");
	expect_queued(c, "KEYS *");
	expect_queued(c, "DBSIZE");
	expect_queued(c, "SCAN 0 COUNT 1000");
	expect_queued(c, "RANDOMKEY");
	expect_queued(c, "INFO keyspace");
	expect_queued(c, "FLUSHALL");
	expect_queued(c, "DBSIZE");
	expect_queued(c, "SET y 2");
	r = exec_array(c, 9);
	cr_expect(r->element[1]->type == REDIS_REPLY_ARRAY &&
		  r->element[1]->elements == 21);
	cr_expect(r->element[2]->type == REDIS_REPLY_INTEGER &&
		  r->element[2]->integer == 21);
	cr_expect(r->element[3]->type == REDIS_REPLY_ARRAY &&
		  r->element[3]->elements == 2 &&
		  r->element[3]->element[1]->elements == 21);
	cr_expect(r->element[4]->type == REDIS_REPLY_STRING);
	cr_expect(r->element[5]->type == REDIS_REPLY_STRING &&
		      strstr(r->element[5]->str, "db0:keys=21,") != NULL,
		  "INFO: %s", r->element[5]->str);
	cr_expect(r->element[6]->type == REDIS_REPLY_STATUS);
	cr_expect(r->element[7]->type == REDIS_REPLY_INTEGER &&
		  r->element[7]->integer == 0);
	freeReplyObject(r);
	/* every stripe was let go: both connections carry on */
	tn_expect_int(tn_cmd(o, "DBSIZE"), 1);
	tn_expect_str(tn_cmd(o, "GET y"), "2");
	tn_expect_status(tn_cmd(o, "SET z 3"), "OK");
	tn_expect_int(tn_cmd(c, "DBSIZE"), 2);

	/* INFO beside keyed commands (some stripes held) */
	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	expect_queued(c, "SET a 1");
	expect_queued(c, "INFO keyspace");
	expect_queued(c, "GET a");
	r = exec_array(c, 3);
	cr_expect(r->element[1]->type == REDIS_REPLY_STRING &&
		      strstr(r->element[1]->str, "db0:keys=3,") != NULL,
		  "INFO: %s", r->element[1]->str);
	freeReplyObject(r);
	tn_expect_str(tn_cmd(o, "GET a"), "1");
	redisFree(c);
	redisFree(o);
}

/* ------------------------------------------------------------------ */
/* Atomicity across stripes and shards                                  */
/* ------------------------------------------------------------------ */

struct incr_job {
	redisContext *c;
	int rounds;
	int failures;
	atomic_int *done;
};

static void *incr_pairs(void *arg)
{
	struct incr_job *j = arg;
	redisReply *r;
	int i, k;

	for (i = 0; i < j->rounds; i++) {
		redisAppendCommand(j->c, "MULTI");
		for (k = 0; k < NPAIR; k++)
			redisAppendCommand(j->c, "INCR pair:%d", k);
		redisAppendCommand(j->c, "EXEC");
		for (k = 0; k < NPAIR + 2; k++) {
			if (redisGetReply(j->c, (void **)&r) != REDIS_OK) {
				j->failures++;
				goto out;
			}
			if (k == NPAIR + 1 && (r->type != REDIS_REPLY_ARRAY ||
					       r->elements != NPAIR))
				j->failures++;
			freeReplyObject(r);
		}
	}
out:
	atomic_fetch_add(j->done, 1);
	return NULL;
}

static long long int_or_zero(const redisReply *e)
{
	return e->type == REDIS_REPLY_STRING ? atoll(e->str) : 0;
}

Test(multi, concurrent_transactions_stay_atomic)
{
	redisContext *c[NCONN] = {0}, *x, *y, *reader;
	atomic_int done = 0;
	struct incr_job ja = {.rounds = ATOMIC_ROUNDS, .done = &done},
			jb = {.rounds = ATOMIC_ROUNDS, .done = &done};
	pthread_t ta, tb;
	long long reads = 0, torn = 0;
	redisReply *r;
	int i;

	/* the writers on different shards; the reader anywhere */
	pick_pair_across_shards(c, &x, &y);
	for (i = 0; i < NCONN && (c[i] == x || c[i] == y); i++)
		;
	reader = c[i];
	ja.c = x;
	jb.c = y;
	cr_assert(pthread_create(&ta, NULL, incr_pairs, &ja) == 0);
	cr_assert(pthread_create(&tb, NULL, incr_pairs, &jb) == 0);
	while (atomic_load(&done) < 2) {
		r = tn_cmd(reader,
			   "MGET pair:0 pair:1 pair:2 pair:3 pair:4 pair:5 "
			   "pair:6 pair:7 pair:8 pair:9 pair:10 pair:11 "
			   "pair:12 pair:13 pair:14 pair:15");
		cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == NPAIR);
		for (i = 1; i < NPAIR; i++)
			if (int_or_zero(r->element[i]) !=
			    int_or_zero(r->element[0]))
				break;
		torn += i < NPAIR;
		reads++;
		freeReplyObject(r);
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	cr_expect_eq(ja.failures + jb.failures, 0, "transactions failed");
	cr_expect_eq(torn, 0, "%lld of %lld reads saw half a transaction", torn,
		     reads);
	cr_expect_gt(reads, 10, "the reader hardly ran");
	for (i = 0; i < NPAIR; i++)
		tn_expect_str(tn_cmd(reader, "GET pair:%d", i), "10000");
	free_all(c, NCONN);
}

/* ------------------------------------------------------------------ */
/* RESP3                                                                */
/* ------------------------------------------------------------------ */

Test(multi, resp3_null_and_arrays)
{
	int fd3 = tn_raw_connect(&srv), fd2 = tn_raw_connect(&srv);
	redisContext *o = tn_connect(&srv);
	char out[4096];

	cr_assert(fd3 >= 0 && fd2 >= 0);
	cr_assert_gt(tn_raw_cmd(fd3, out, sizeof(out), "HELLO", "3", NULL), 0);
	cr_assert_eq(out[0], '%', "HELLO 3: %s", out);

	/* aborted by WATCH: RESP3 null, RESP2 null array */
	tn_raw_cmd(fd3, out, sizeof(out), "WATCH", "rk", NULL);
	cr_expect_str_eq(out, "+OK\r\n");
	tn_raw_cmd(fd2, out, sizeof(out), "WATCH", "rk", NULL);
	cr_expect_str_eq(out, "+OK\r\n");
	tn_expect_status(tn_cmd(o, "SET rk 1"), "OK");
	tn_raw_cmd(fd3, out, sizeof(out), "MULTI", NULL);
	cr_expect_str_eq(out, "+OK\r\n");
	tn_raw_cmd(fd3, out, sizeof(out), "GET", "rk", NULL);
	cr_expect_str_eq(out, "+QUEUED\r\n");
	tn_raw_cmd(fd3, out, sizeof(out), "EXEC", NULL);
	cr_expect_str_eq(out, "_\r\n");
	tn_raw_cmd(fd2, out, sizeof(out), "MULTI", NULL);
	tn_raw_cmd(fd2, out, sizeof(out), "GET", "rk", NULL);
	tn_raw_cmd(fd2, out, sizeof(out), "EXEC", NULL);
	cr_expect_str_eq(out, "*-1\r\n");

	/* one that runs: each reply in its RESP3 form */
	tn_raw_cmd(fd3, out, sizeof(out), "MULTI", NULL);
	tn_raw_cmd(fd3, out, sizeof(out), "GET", "nothere", NULL);
	tn_raw_cmd(fd3, out, sizeof(out), "GET", "rk", NULL);
	tn_raw_cmd(fd3, out, sizeof(out), "SADD", "rs", "m", NULL);
	tn_raw_cmd(fd3, out, sizeof(out), "SMEMBERS", "rs", NULL);
	tn_raw_cmd(fd3, out, sizeof(out), "EXEC", NULL);
	cr_expect_str_eq(out, "*4\r\n_\r\n$1\r\n1\r\n:1\r\n~1\r\n$1\r\nm\r\n");

	/* EXECABORT is the same error in both */
	tn_raw_cmd(fd3, out, sizeof(out), "MULTI", NULL);
	tn_raw_cmd(fd3, out, sizeof(out), "GET", NULL);
	cr_expect_str_eq(
	    out, "-ERR wrong number of arguments for 'get' command\r\n");
	tn_raw_cmd(fd3, out, sizeof(out), "EXEC", NULL);
	cr_expect_str_eq(out, "-EXECABORT Transaction discarded because of "
			      "previous errors.\r\n");
	close(fd3);
	close(fd2);
	redisFree(o);
}
