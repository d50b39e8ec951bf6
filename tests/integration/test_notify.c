/*
 * test_notify.c - keyspace notifications against a real two-shard server:
 * notify-keyspace-events parsing and CONFIG GET, the channel names and
 * the events of strings, keys and sets exactly as Redis 7.0 sends them,
 * the class filter, and "expired" from active expiry within a cycle of
 * the deadline with nobody touching the key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/integration/harness.h"

#define WAIT_MS 10000
#define EVENTS_MAX 4096

static struct tn_server srv;
static redisContext *cli, *sub;
static int sync_seq;

/* The subscriber on the other shard than the client, so every event
 * crosses shards. */
static void setup(void)
{
	int s;

	cr_assert(tn_server_start(&srv, TN_STORE_ONLY) == 0,
		  "server did not start");
	cli = tn_connect(&srv);
	s = tn_client_shard(&srv, cli, WAIT_MS);
	cr_assert_geq(s, 0);
	do {
		if (sub)
			redisFree(sub);
		sub = tn_connect(&srv);
	} while (tn_client_shard(&srv, sub, WAIT_MS) == s);
	sync_seq = 0;
}

static void teardown(void)
{
	redisFree(cli);
	redisFree(sub);
	sub = cli = NULL;
	cr_expect(tn_server_stop(&srv) == 0, "supervisor did not exit 0");
}

TestSuite(notify, .init = setup, .fini = teardown, .timeout = 60);

static void config_set(const char *classes)
{
	tn_expect_status(tn_cmd(cli, "CONFIG SET notify-keyspace-events %s",
				classes),
			 "OK");
}

/* Listen to every keyspace and keyevent channel, and to "sync". */
static void listen_all(void)
{
	redisReply *r = tn_cmd(sub, "PSUBSCRIBE __key*__:*");

	freeReplyObject(r);
	r = tn_cmd(sub, "SUBSCRIBE sync");
	freeReplyObject(r);
}

/*
 * Run a command on cli, then collect what the subscriber got for it, up
 * to the "sync" message published right after: keyspace events as
 * "key=event", keyevent ones as "event!key", space separated.
 */
static const char *events_of(const char *fmt, ...)
{
	static char out[EVENTS_MAX];
	char mark[16];
	redisReply *r;
	va_list ap;
	size_t n = 0;

	va_start(ap, fmt);
	r = redisvCommand(cli, fmt, ap);
	va_end(ap);
	cr_assert_not_null(r, "no reply to %s", fmt);
	freeReplyObject(r);
	snprintf(mark, sizeof(mark), "%d", ++sync_seq);
	freeReplyObject(tn_cmd(cli, "PUBLISH sync %s", mark));
	out[0] = '\0';
	for (;;) {
		const char *ch, *m;

		cr_assert_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
		cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
		if (!strcmp(r->element[0]->str, "message")) {
			bool done = !strcmp(r->element[2]->str, mark);

			freeReplyObject(r);
			if (done)
				break;
			continue;
		}
		cr_assert_str_eq(r->element[0]->str, "pmessage");
		ch = r->element[2]->str;
		m = r->element[3]->str;
		if (!strncmp(ch, "__keyspace@0__:", 15))
			n += snprintf(out + n, sizeof(out) - n, "%s%s=%s",
				      n ? " " : "", ch + 15, m);
		else if (!strncmp(ch, "__keyevent@0__:", 15))
			n += snprintf(out + n, sizeof(out) - n, "%s%s!%s",
				      n ? " " : "", ch + 15, m);
		else
			cr_assert_fail("event on %s", ch);
		freeReplyObject(r);
	}
	return out;
}

#define EXPECT_EVENTS(want, ...)                                             \
	cr_expect_str_eq(events_of(__VA_ARGS__), want, "%s", #__VA_ARGS__)

Test(notify, config_flags_like_redis)
{
	redisReply *r;

	r = tn_cmd(cli, "CONFIG GET notify-keyspace-events");
	cr_assert_eq(r->elements, 2);
	cr_expect_str_eq(r->element[1]->str, "");
	freeReplyObject(r);
	config_set("KEA");
	r = tn_cmd(cli, "CONFIG GET notify-keyspace-events");
	cr_expect_str_eq(r->element[1]->str, "AKE");
	freeReplyObject(r);
	config_set("Kgn");
	r = tn_cmd(cli, "CONFIG GET notify-keyspace-events");
	cr_expect_str_eq(r->element[1]->str, "gnK");
	freeReplyObject(r);
	tn_expect_error(tn_cmd(cli, "CONFIG SET notify-keyspace-events KEQ"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'notify-keyspace-events') - Invalid event class "
			"character. Use 'Ag$lshzxeKEtmdn'.");
	r = tn_cmd(cli, "CONFIG GET notify-keyspace-events");
	cr_expect_str_eq(r->element[1]->str, "gnK", "unchanged");
	freeReplyObject(r);
	r = tn_cmd(cli, "CONFIG GET client-output-buffer-limit");
	cr_expect_str_eq(r->element[1]->str,
			 "normal 0 0 0 slave 268435456 67108864 60 pubsub "
			 "33554432 8388608 60");
	freeReplyObject(r);
}

/* The exact channels and messages, keyspace first. */
Test(notify, channel_names_and_order)
{
	redisReply *r;

	config_set("KEA");
	listen_all();
	freeReplyObject(tn_cmd(cli, "SET foo bar"));
	cr_assert_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
	cr_assert_eq(r->elements, 4);
	cr_expect_str_eq(r->element[0]->str, "pmessage");
	cr_expect_str_eq(r->element[1]->str, "__key*__:*");
	cr_expect_str_eq(r->element[2]->str, "__keyspace@0__:foo");
	cr_expect_str_eq(r->element[3]->str, "set");
	freeReplyObject(r);
	cr_assert_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
	cr_expect_str_eq(r->element[2]->str, "__keyevent@0__:set");
	cr_expect_str_eq(r->element[3]->str, "foo");
	freeReplyObject(r);
	/* a plain subscriber to one key's channel */
	r = tn_cmd(sub, "PUNSUBSCRIBE");
	freeReplyObject(r);
	r = tn_cmd(sub, "SUBSCRIBE __keyspace@0__:foo");
	freeReplyObject(r);
	freeReplyObject(tn_cmd(cli, "DEL foo"));
	cr_assert_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
	cr_expect_str_eq(r->element[0]->str, "message");
	cr_expect_str_eq(r->element[1]->str, "__keyspace@0__:foo");
	cr_expect_str_eq(r->element[2]->str, "del");
	freeReplyObject(r);
}

Test(notify, string_events)
{
	config_set("KA");
	listen_all();
	EXPECT_EVENTS("a=set", "SET a 1");
	EXPECT_EVENTS("a=set a=expire", "SET a 2 EX 100");
	EXPECT_EVENTS("a=set", "SET a 3 KEEPTTL");
	EXPECT_EVENTS("", "SET a 4 NX");
	EXPECT_EVENTS("", "SET b 4 XX");
	EXPECT_EVENTS("a=set", "SET a 5 GET");
	EXPECT_EVENTS("c=set", "SETNX c 1");
	EXPECT_EVENTS("", "SETNX c 1");
	EXPECT_EVENTS("d=set d=expire", "SETEX d 10 v");
	EXPECT_EVENTS("e=set e=expire", "PSETEX e 10000 v");
	EXPECT_EVENTS("a=set", "GETSET a 9");
	EXPECT_EVENTS("a=del", "GETDEL a");
	EXPECT_EVENTS("", "GETDEL a");
	EXPECT_EVENTS("c=expire", "GETEX c EX 100");
	EXPECT_EVENTS("c=persist", "GETEX c PERSIST");
	EXPECT_EVENTS("", "GETEX c PERSIST");
	EXPECT_EVENTS("c=del", "GETEX c PXAT 1");
	EXPECT_EVENTS("m1=set m2=set", "MSET m1 1 m2 2");
	EXPECT_EVENTS("", "MSETNX m1 1 m3 3");
	EXPECT_EVENTS("i=incrby", "INCR i");
	EXPECT_EVENTS("i=incrby", "INCRBY i 5");
	EXPECT_EVENTS("i=incrby", "DECR i");
	EXPECT_EVENTS("i=incrby", "DECRBY i 2");
	EXPECT_EVENTS("f=incrbyfloat", "INCRBYFLOAT f 1.5");
	EXPECT_EVENTS("ap=append", "APPEND ap x");
	EXPECT_EVENTS("ap=append", "APPEND ap y");
	EXPECT_EVENTS("sr=setrange", "SETRANGE sr 2 x");
	EXPECT_EVENTS("", "SETRANGE nope 0 %s", "");
	EXPECT_EVENTS("", "GET nosuch");
}

Test(notify, key_events)
{
	config_set("KA");
	listen_all();
	events_of("MSET a 1 b 2");
	EXPECT_EVENTS("a=del b=del", "DEL a b nosuch");
	events_of("SET a 1");
	EXPECT_EVENTS("a=del", "UNLINK a nosuch");
	events_of("SET a 1");
	EXPECT_EVENTS("a=expire", "EXPIRE a 100");
	EXPECT_EVENTS("a=expire", "PEXPIRE a 100000");
	EXPECT_EVENTS("a=expire", "EXPIREAT a 99999999999");
	EXPECT_EVENTS("a=expire", "PEXPIREAT a 99999999999999");
	EXPECT_EVENTS("", "EXPIRE a 100 NX");
	EXPECT_EVENTS("a=expire", "EXPIRE a 200 XX");
	EXPECT_EVENTS("", "EXPIRE nosuch 100");
	EXPECT_EVENTS("a=persist", "PERSIST a");
	EXPECT_EVENTS("", "PERSIST a");
	EXPECT_EVENTS("a=del", "EXPIRE a -1");
	events_of("SET a 1");
	EXPECT_EVENTS("a=del", "PEXPIREAT a 1");
	events_of("SET a 1");
	EXPECT_EVENTS("a=rename_from b=rename_to", "RENAME a b");
	events_of("SET c 1");
	EXPECT_EVENTS("b=rename_from c=rename_to", "RENAME b c");
	EXPECT_EVENTS("c=rename_from d=rename_to", "RENAMENX c d");
	EXPECT_EVENTS("", "RENAMENX nosuch e");
	/* FLUSHALL announces nothing, as Redis */
	EXPECT_EVENTS("", "FLUSHALL");
}

Test(notify, set_events)
{
	config_set("KA");
	listen_all();
	EXPECT_EVENTS("s=sadd", "SADD s 1 2 3");
	EXPECT_EVENTS("", "SADD s 1");
	EXPECT_EVENTS("s=srem", "SREM s 1 nosuch");
	EXPECT_EVENTS("", "SREM s nosuch");
	EXPECT_EVENTS("", "SREM nokey x");
	events_of("SADD t x");
	EXPECT_EVENTS("t=srem t=del", "SREM t x");
	events_of("SADD p 1 2 3 4 5");
	EXPECT_EVENTS("p=spop", "SPOP p");
	EXPECT_EVENTS("p=spop", "SPOP p 2");
	EXPECT_EVENTS("", "SPOP p 0");
	EXPECT_EVENTS("p=spop p=del", "SPOP p 10");
	EXPECT_EVENTS("", "SPOP nokey");
	events_of("SADD q 1");
	EXPECT_EVENTS("q=spop q=del", "SPOP q");
	events_of("SADD a 1 2 3");
	events_of("SADD b 2 3 4");
	EXPECT_EVENTS("d=sinterstore", "SINTERSTORE d a b");
	EXPECT_EVENTS("d=sunionstore", "SUNIONSTORE d a b");
	EXPECT_EVENTS("d=sdiffstore", "SDIFFSTORE d a b");
	EXPECT_EVENTS("d=del", "SDIFFSTORE d a a");
	EXPECT_EVENTS("", "SDIFFSTORE d a a");
	EXPECT_EVENTS("a=srem b=sadd", "SMOVE a b 1");
	EXPECT_EVENTS("a=srem", "SMOVE a b 2");
	EXPECT_EVENTS("a=srem a=del nb=sadd", "SMOVE a nb 3");
	EXPECT_EVENTS("", "SMOVE a b nosuch");
	EXPECT_EVENTS("", "SMOVE b b 2");
	EXPECT_EVENTS("", "SMEMBERS b");
}

/* n announces created keys, m reads of missing ones; both only when
 * asked for by name (A covers neither). */
Test(notify, new_and_keymiss)
{
	config_set("KA");
	listen_all();
	EXPECT_EVENTS("k=set", "SET k 1");
	EXPECT_EVENTS("", "GET nosuch");
	config_set("Knm");
	EXPECT_EVENTS("k2=new", "SET k2 1");
	EXPECT_EVENTS("", "SET k2 2");
	EXPECT_EVENTS("s=new", "SADD s x");
	EXPECT_EVENTS("nosuch=keymiss", "GET nosuch");
	EXPECT_EVENTS("nosuch=keymiss", "EXISTS nosuch");
	EXPECT_EVENTS("", "GET k2");
	events_of("SET a 1");
	EXPECT_EVENTS("b=new", "RENAME a b");
}

/* Only the classes asked for, on the sides asked for. */
Test(notify, classes_and_sides_filter)
{
	listen_all();
	config_set("A");
	EXPECT_EVENTS("", "SET a 1");
	config_set("Kg");
	EXPECT_EVENTS("", "SET a 2");
	EXPECT_EVENTS("", "SADD s 1");
	EXPECT_EVENTS("a=expire", "EXPIRE a 100");
	config_set("E$");
	EXPECT_EVENTS("set!a", "SET a 3");
	EXPECT_EVENTS("", "DEL a");
	config_set("KEs");
	EXPECT_EVENTS("s=sadd sadd!s", "SADD s 2");
	config_set("");
	EXPECT_EVENTS("", "SADD s 3");
}

/*
 * The scheduler's case: nobody touches the key, active expiry finds it
 * and announces it on __keyevent@0__:expired within ~one cycle (100 ms
 * at hz 10) of its deadline.  Keys spread over stripes of both shards.
 */
#define EXPIRING_KEYS 12
#define EXPIRE_SLACK_MS 250

Test(notify, expired_without_access_is_prompt)
{
	long long deadline[EXPIRING_KEYS], now;
	bool seen[EXPIRING_KEYS] = {false};
	redisReply *r;
	int i, got = 0;

	config_set("Ex");
	freeReplyObject(tn_cmd(sub, "SUBSCRIBE __keyevent@0__:expired"));
	for (i = 0; i < EXPIRING_KEYS; i++) {
		long long px = 50 + 25 * i;

		freeReplyObject(tn_cmd(cli, "SET worker:%d alive PX %lld", i,
				       px));
		deadline[i] = tn_now_ms() + px;
	}
	while (got < EXPIRING_KEYS) {
		cr_assert_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
		now = tn_now_ms();
		cr_assert_eq(r->elements, 3);
		cr_expect_str_eq(r->element[1]->str, "__keyevent@0__:expired");
		cr_assert_eq(sscanf(r->element[2]->str, "worker:%d", &i), 1);
		cr_assert(i >= 0 && i < EXPIRING_KEYS && !seen[i],
			  "%s twice", r->element[2]->str);
		seen[i] = true;
		cr_expect_geq(now, deadline[i] - 5, "worker:%d early", i);
		cr_expect_leq(now, deadline[i] + EXPIRE_SLACK_MS,
			      "worker:%d announced %lld ms after its deadline",
			      i, now - deadline[i]);
		freeReplyObject(r);
		got++;
	}
	tn_expect_int(tn_cmd(cli, "DBSIZE"), 0);
}

/* A key read after its deadline expires then: "expired" exactly once. */
Test(notify, lazy_expiry_announces_once)
{
	config_set("KEA");
	listen_all();
	events_of("SET k v PX 1");
	usleep(5000);
	cr_expect_str_eq(events_of("GET k"), "k=expired expired!k");
	EXPECT_EVENTS("", "GET k");
}

/* A RESP3 subscriber gets push frames. */
Test(notify, resp3_push)
{
	int fd = tn_raw_connect(&srv);
	char b[1024];

	cr_assert_geq(fd, 0);
	config_set("K$");
	cr_assert_geq(tn_raw_cmd(fd, b, sizeof(b), "HELLO", "3", (char *)NULL),
		      0);
	cr_assert_geq(tn_raw_cmd(fd, b, sizeof(b), "SUBSCRIBE",
				 "__keyspace@0__:x", (char *)NULL),
		      0);
	cr_expect_str_eq(b, ">3\r\n$9\r\nsubscribe\r\n$16\r\n__keyspace@0__:x"
			    "\r\n:1\r\n");
	freeReplyObject(tn_cmd(cli, "SET x 1"));
	cr_assert_geq(tn_raw_read_reply(fd, b, sizeof(b), 5000), 0);
	cr_expect_str_eq(b, ">3\r\n$7\r\nmessage\r\n$16\r\n__keyspace@0__:x"
			    "\r\n$3\r\nset\r\n");
	close(fd);
}
