/*
 * test_rdb.c - SAVE, BGSAVE and LASTSAVE against a real server, and
 * dump.rdb loaded at the next start (appendonly no): strings, sets of
 * both encodings, TTLs kept, keys that expired meanwhile gone.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"

static struct tn_server s; /* stopped by teardown if a check fails */
static char datadir[64];
static char extra[160];

static void setup(void)
{
	strcpy(datadir, "/tmp/titan-rdb-XXXXXX");
	cr_assert_not_null(mkdtemp(datadir));
	snprintf(extra, sizeof(extra), "appendonly no\ndir %s\n", datadir);
}

static void teardown(void)
{
	char cmd[128];

	if (s.pid > 0)
		tn_server_stop(&s);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", datadir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(rdb, .init = setup, .fini = teardown, .timeout = 90);

/* INFO persistence's rdb_saves. */
static long long rdb_saves(redisContext *c)
{
	redisReply *r = tn_cmd(c, "INFO persistence");
	const char *p = strstr(r->str, "rdb_saves:");
	long long n;

	cr_assert_not_null(p, "%s", r->str);
	n = atoll(p + 10);
	freeReplyObject(r);
	return n;
}

/* Poll until a BGSAVE has been counted after `before` saves (bounded). */
static void wait_bgsave(redisContext *c, long long before)
{
	long long deadline = tn_now_ms() + 10000;

	while (rdb_saves(c) <= before) {
		cr_assert_lt(tn_now_ms(), deadline, "BGSAVE did not finish");
		usleep(20000);
	}
}

Test(rdb, save_bgsave_lastsave_replies)
{
	redisContext *c;
	redisReply *r;
	char path[128];
	struct stat st;
	long long before;

	cr_assert_eq(tn_server_start(&s, extra), 0);
	c = tn_connect(&s);
	r = tn_cmd(c, "LASTSAVE");
	cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
	cr_assert(llabs(r->integer - (long long)time(NULL)) < 60);
	before = r->integer;
	freeReplyObject(r);
	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	tn_expect_status(tn_cmd(c, "SAVE"), "OK");
	snprintf(path, sizeof(path), "%s/dump.rdb", datadir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_gt(st.st_size, 9);
	r = tn_cmd(c, "LASTSAVE");
	cr_assert_geq(r->integer, before);
	freeReplyObject(r);
	r = tn_cmd(c, "INFO persistence");
	cr_assert(strstr(r->str, "rdb_changes_since_last_save:0\r\n"), "%s",
		  r->str);
	freeReplyObject(r);

	tn_expect_error(tn_cmd(c, "BGSAVE now"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SAVE extra"),
			"ERR wrong number of arguments for 'save' command");
	unlink(path);
	before = rdb_saves(c);
	tn_expect_status(tn_cmd(c, "BGSAVE"), "Background saving started");
	wait_bgsave(c, before);
	cr_assert_eq(stat(path, &st), 0, "BGSAVE wrote no %s", path);
	tn_expect_status(tn_cmd(c, "BGSAVE SCHEDULE"),
			 "Background saving started");
	wait_bgsave(c, before + 1);
	r = tn_cmd(c, "INFO persistence");
	cr_assert(strstr(r->str, "rdb_last_bgsave_status:ok\r\n"), "%s",
		  r->str);
	freeReplyObject(r);

	tn_expect_status(tn_cmd(c, "MULTI"), "OK");
	tn_expect_error(tn_cmd(c, "SAVE"),
			"ERR Command not allowed inside a transaction");
	tn_expect_status(tn_cmd(c, "DISCARD"), "OK");
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);
}

Test(rdb, dump_loaded_at_start)
{
	redisContext *c;
	redisReply *r;
	char big[3000];
	int i;

	memset(big, 'q', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	cr_assert_eq(tn_server_start(&s, extra), 0);
	c = tn_connect(&s);
	tn_expect_status(tn_cmd(c, "SET str hello"), "OK");
	tn_expect_status(tn_cmd(c, "SET num -123456"), "OK");
	tn_expect_status(tn_cmd(c, "SET big %s", big), "OK");
	tn_expect_status(tn_cmd(c, "SET ttl v PX 600000"), "OK");
	tn_expect_status(tn_cmd(c, "SET short v PX 300"), "OK");
	tn_expect_int(tn_cmd(c, "SADD ints 5 -3 70000 9000000000"), 4);
	tn_expect_int(tn_cmd(c, "SADD words a b 1"), 3);
	tn_expect_int(tn_cmd(c, "EXPIRE words 500"), 1);
	for (i = 0; i < 600; i++)
		tn_expect_int(tn_cmd(c, "SADD many %d", i), 1);
	tn_expect_status(tn_cmd(c, "SAVE"), "OK");
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);

	/* past "short"'s deadline before the restart */
	usleep(350 * 1000);
	cr_assert_eq(tn_server_start(&s, extra), 0);
	c = tn_connect(&s);
	tn_expect_int(tn_cmd(c, "DBSIZE"), 7);
	tn_expect_str(tn_cmd(c, "GET str"), "hello");
	tn_expect_str(tn_cmd(c, "GET num"), "-123456");
	tn_expect_str(tn_cmd(c, "GET big"), big);
	tn_expect_nil(tn_cmd(c, "GET short"));
	r = tn_cmd(c, "PTTL ttl");
	cr_assert(r->integer > 500000 && r->integer <= 600000, "%lld",
		  r->integer);
	freeReplyObject(r);
	r = tn_cmd(c, "TTL words");
	cr_assert(r->integer > 400 && r->integer <= 500, "%lld", r->integer);
	freeReplyObject(r);
	tn_expect_str(tn_cmd(c, "OBJECT ENCODING ints"), "intset");
	tn_expect_int(tn_cmd(c, "SCARD ints"), 4);
	tn_expect_int(tn_cmd(c, "SISMEMBER ints 9000000000"), 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER ints -3"), 1);
	tn_expect_str(tn_cmd(c, "OBJECT ENCODING words"), "hashtable");
	tn_expect_int(tn_cmd(c, "SISMEMBER words a"), 1);
	tn_expect_int(tn_cmd(c, "SISMEMBER words 1"), 1);
	tn_expect_int(tn_cmd(c, "SCARD many"), 600);
	tn_expect_str(tn_cmd(c, "OBJECT ENCODING many"), "hashtable");
	tn_expect_int(tn_cmd(c, "SISMEMBER many 599"), 1);
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);
}
