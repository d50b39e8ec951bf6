/*
 * test_rdb.c - SAVE, BGSAVE and LASTSAVE against a real server, and
 * dump.rdb loaded at the next start (appendonly no): strings, sets of
 * both encodings, TTLs kept, keys that expired meanwhile gone; save
 * points, the save at shutdown and stop-writes-on-bgsave-error.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* CONFIG GET save's value must be `want`. */
static void expect_save_points(redisContext *c, const char *want)
{
	redisReply *r = tn_cmd(c, "CONFIG GET save");

	cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 2,
		  "CONFIG GET save: type %d", r->type);
	cr_expect_str_eq(r->element[1]->str, want);
	freeReplyObject(r);
}

/* Stop, then start again on the same datadir; a fresh connection. */
static redisContext *restart(const char *conf)
{
	cr_assert_eq(tn_server_stop(&s), 0, "supervisor exit status");
	cr_assert_eq(tn_server_start(&s, conf), 0);
	return tn_connect(&s);
}

/* Send a SHUTDOWN (no reply comes), then start again as restart(). */
static redisContext *shutdown_restart(redisContext *c, const char *cmd)
{
	cr_assert_null(redisCommand(c, cmd), "%s replied", cmd);
	redisFree(c);
	return restart(extra);
}

/* kill -9 of the supervisor (no save at exit), then start again. */
static redisContext *kill9_restart(redisContext *c)
{
	redisFree(c);
	kill(s.pid, SIGKILL);
	waitpid(s.pid, NULL, 0);
	s.pid = 0;
	tn_server_stop(&s); /* its temp dir */
	cr_assert_eq(tn_server_start(&s, extra), 0);
	return tn_connect(&s);
}

/*
 * Redis' save at shutdown: SIGTERM with save points saves (the harness's
 * config has none of its own: Redis' default), with `save ""` it does
 * not; SHUTDOWN SAVE saves without save points, SHUTDOWN NOSAVE skips
 * them.  appendonly no: the RDB is all that survives.
 */
Test(rdb, shutdown_saves_as_redis_does)
{
	char nosave[sizeof(extra) + 16];
	redisContext *c;

	snprintf(nosave, sizeof(nosave), "%ssave \"\"\n", extra);
	cr_assert_eq(tn_server_start(&s, extra), 0);
	c = tn_connect(&s);
	expect_save_points(c, "3600 1 300 100 60 10000");
	tn_expect_status(tn_cmd(c, "SET k1 sigterm"), "OK");
	redisFree(c);
	c = restart(nosave);
	tn_expect_str(tn_cmd(c, "GET k1"), "sigterm");
	tn_expect_status(tn_cmd(c, "SET k2 lost"), "OK");
	redisFree(c);
	c = restart(nosave);
	tn_expect_nil(tn_cmd(c, "GET k2"));
	tn_expect_status(tn_cmd(c, "SET k3 shutdown-save"), "OK");
	c = shutdown_restart(c, "SHUTDOWN SAVE");
	tn_expect_str(tn_cmd(c, "GET k3"), "shutdown-save");
	tn_expect_status(tn_cmd(c, "SET k4 nosave"), "OK");
	c = shutdown_restart(c, "SHUTDOWN NOSAVE");
	tn_expect_str(tn_cmd(c, "GET k3"), "shutdown-save");
	tn_expect_nil(tn_cmd(c, "GET k4"));
	redisFree(c);
}

/* A save point is reached: a background save without any BGSAVE. */
Test(rdb, save_point_saves_in_the_background)
{
	redisContext *c;

	cr_assert_eq(tn_server_start(&s, extra), 0);
	c = tn_connect(&s);
	tn_expect_status(tn_cmd(c, "CONFIG SET save %s", "1 2"), "OK");
	tn_expect_status(tn_cmd(c, "SET a 1"), "OK");
	usleep(1500 * 1000);
	cr_assert_eq(rdb_saves(c), 0, "saved after 1 change of 2");
	tn_expect_status(tn_cmd(c, "SET b 2"), "OK");
	wait_bgsave(c, 0);
	expect_save_points(c, "1 2");
	/* the background save has both keys */
	c = kill9_restart(c);
	tn_expect_str(tn_cmd(c, "GET a"), "1");
	tn_expect_str(tn_cmd(c, "GET b"), "2");
	redisFree(c);
}

/* INFO persistence's rdb_last_bgsave_status is `want` within 10 s. */
static void wait_bgsave_status(redisContext *c, const char *want)
{
	long long deadline = tn_now_ms() + 10000;
	char line[64];

	snprintf(line, sizeof(line), "rdb_last_bgsave_status:%s\r", want);
	for (;;) {
		redisReply *r = tn_cmd(c, "INFO persistence");
		bool found = strstr(r->str, line) != NULL;

		freeReplyObject(r);
		if (found)
			return;
		cr_assert_lt(tn_now_ms(), deadline, "no %s", line);
		usleep(20000);
	}
}

/*
 * The snapshot's directory is gone: the background save fails, writes
 * (and PING) get Redis' MISCONF while reads work, SIGTERM does not make
 * the server exit without its save (it serves again), and once the
 * directory is back a save works, writes are taken, SIGTERM exits and
 * the next start has the data.
 */
Test(rdb, failed_save_stops_writes_and_exit)
{
	char sub[96], conf[sizeof(sub) + 32];
	redisContext *c;
	redisReply *r;
	int i;

	snprintf(sub, sizeof(sub), "%s/sub", datadir);
	snprintf(conf, sizeof(conf), "appendonly no\ndir %s\n", sub);
	cr_assert_eq(mkdir(sub, 0755), 0);
	cr_assert_eq(tn_server_start(&s, conf), 0);
	c = tn_connect(&s);
	tn_expect_status(tn_cmd(c, "SET a 1"), "OK");
	cr_assert_eq(rmdir(sub), 0);
	tn_expect_status(tn_cmd(c, "BGSAVE"), "Background saving started");
	wait_bgsave_status(c, "err");
	r = tn_cmd(c, "SET b 2");
	cr_expect(r->type == REDIS_REPLY_ERROR &&
			  strncmp(r->str, "MISCONF Redis is configured to save "
					  "RDB snapshots",
				  45) == 0,
		  "SET: %s", r->str);
	freeReplyObject(r);
	r = tn_cmd(c, "PING");
	cr_expect(r->type == REDIS_REPLY_ERROR &&
			  strncmp(r->str, "MISCONF", 7) == 0,
		  "PING: %s", r->str);
	freeReplyObject(r);
	tn_expect_str(tn_cmd(c, "GET a"), "1");
	tn_expect_status(tn_cmd(c, "CONFIG SET stop-writes-on-bgsave-error no"),
			 "OK");
	tn_expect_status(tn_cmd(c, "SET b 2"), "OK");
	tn_expect_status(tn_cmd(c, "CONFIG SET stop-writes-on-bgsave-error yes"),
			 "OK");
	redisFree(c);

	cr_assert_eq(kill(s.pid, SIGTERM), 0);
	usleep(1000 * 1000);
	cr_assert_eq(waitpid(s.pid, NULL, WNOHANG), 0,
		     "the supervisor exited without its save");
	/* (PING gets MISCONF: poll with a read) */
	for (i = 0;; i++) {
		c = redisConnect("127.0.0.1", s.port);
		r = c && !c->err ? redisCommand(c, "GET b") : NULL;
		if (r)
			break;
		cr_assert_lt(i, 500, "not serving again");
		redisFree(c);
		usleep(20000);
	}
	cr_expect(r->type == REDIS_REPLY_STRING && strcmp(r->str, "2") == 0,
		  "GET b after the refused exit: type %d", r->type);
	freeReplyObject(r);

	cr_assert_eq(mkdir(sub, 0755), 0);
	tn_expect_status(tn_cmd(c, "BGSAVE"), "Background saving started");
	wait_bgsave_status(c, "ok");
	for (i = 0; i < 3; i++)
		tn_expect_status(tn_cmd(c, "SET c%d 3", i), "OK");
	redisFree(c);
	c = restart(conf);
	tn_expect_str(tn_cmd(c, "GET a"), "1");
	tn_expect_str(tn_cmd(c, "GET b"), "2");
	tn_expect_str(tn_cmd(c, "GET c2"), "3");
	redisFree(c);
}

/* With save points, FLUSHALL saves the empty dataset at once (Redis):
 * after a crash the old dump.rdb does not bring the keys back. */
Test(rdb, flushall_saves_the_empty_dataset)
{
	redisContext *c;

	cr_assert_eq(tn_server_start(&s, extra), 0);
	c = tn_connect(&s);
	tn_expect_status(tn_cmd(c, "SET a 1"), "OK");
	tn_expect_status(tn_cmd(c, "SAVE"), "OK");
	tn_expect_status(tn_cmd(c, "SET b 2"), "OK");
	tn_expect_status(tn_cmd(c, "FLUSHALL"), "OK");
	c = kill9_restart(c);
	tn_expect_int(tn_cmd(c, "DBSIZE"), 0);
	redisFree(c);
}

/* INFO persistence's `field` (an integer). */
static long long persistence_ll(redisContext *c, const char *field)
{
	redisReply *r = tn_cmd(c, "INFO persistence");
	const char *p = strstr(r->str, field);
	long long v;

	cr_assert_not_null(p, "no %s in %s", field, r->str);
	v = atoll(p + strlen(field));
	freeReplyObject(r);
	return v;
}

/*
 * A BGSAVE running when FLUSHALL comes is void, as Redis kills its
 * saving child: the file it was writing must not replace the empty one
 * FLUSHALL saved (after a crash the flushed keys would be back), and it
 * is no error.
 */
Test(rdb, flushall_voids_a_running_bgsave)
{
	char val[301];
	redisContext *c;
	redisReply *r;
	long long deadline;
	int i, j;

	memset(val, 'v', sizeof(val) - 1);
	val[sizeof(val) - 1] = '\0';
	cr_assert_eq(tn_server_start(&s, extra), 0);
	c = tn_connect(&s);
	/* ~90 MB: the save takes long enough for FLUSHALL to come first */
	for (i = 0; i < 300; i++) {
		for (j = 0; j < 1000; j++)
			redisAppendCommand(c, "SET k%d:%d %s", i, j, val);
		for (j = 0; j < 1000; j++) {
			cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
			freeReplyObject(r);
		}
	}
	tn_expect_status(tn_cmd(c, "BGSAVE"), "Background saving started");
	deadline = tn_now_ms() + 10000;
	while (!persistence_ll(c, "rdb_bgsave_in_progress:")) {
		cr_assert_lt(tn_now_ms(), deadline, "the BGSAVE did not start");
		usleep(1000);
	}
	tn_expect_status(tn_cmd(c, "FLUSHALL"), "OK");
	deadline = tn_now_ms() + 30000;
	while (persistence_ll(c, "rdb_bgsave_in_progress:")) {
		cr_assert_lt(tn_now_ms(), deadline, "the BGSAVE did not end");
		usleep(10000);
	}
	r = tn_cmd(c, "INFO persistence");
	cr_expect(strstr(r->str, "rdb_last_bgsave_status:ok\r\n"), "%s",
		  r->str);
	freeReplyObject(r);
	c = kill9_restart(c);
	tn_expect_int(tn_cmd(c, "DBSIZE"), 0);
	redisFree(c);
}
