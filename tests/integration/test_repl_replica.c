/*
 * test_repl_replica.c - Titan as the replica of a stock redis-server 7.0
 * master: full sync, 100 000 mixed writes compared key by key, partial
 * resync after CLIENT KILL TYPE replica, full resync after a master
 * restart, -READONLY, REPLICAOF NO ONE and REPLICAOF at run time;
 * acknowledged offsets and WAIT with Titan and stock replicas; INFO
 * replication field by field against a stock replica (mid-sync with a
 * fake master, link up, link down) and replica-serve-stale-data no,
 * with EXEC refused once the link drops after queueing.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define READONLY_ERR "READONLY You can't write against a read only replica."
#define SYNC_MS 20000
#define BATCH 1000

struct stock {
	pid_t pid;
	int port;
	char dir[256];
	char log[300];
	int replicaof; /* start as a replica of this port; 0: a master */
	int diskless_delay; /* repl-diskless-sync-delay, seconds */
	bool stale_no; /* replica-serve-stale-data no */
};

/* What a test started, for the fini to stop when an assertion cut the
 * test short: nothing may outlive it (it would hold the output pipe). */
#define MAX_LIVE 4
static struct stock *live_stock[MAX_LIVE];
static struct tn_server *live_titan[MAX_LIVE];
static pid_t live_fake; /* a fake master's process group */

static void track(void **slots, void *p)
{
	int i;

	for (i = 0; i < MAX_LIVE; i++)
		if (!slots[i] || slots[i] == p) {
			slots[i] = p;
			return;
		}
}

static void stop_leftovers(void)
{
	int i;

	if (live_fake > 0) {
		kill(-live_fake, SIGKILL);
		waitpid(live_fake, NULL, 0);
		live_fake = 0;
	}
	for (i = 0; i < MAX_LIVE; i++) {
		if (live_stock[i] && live_stock[i]->pid > 0) {
			kill(live_stock[i]->pid, SIGKILL);
			waitpid(live_stock[i]->pid, NULL, 0);
		}
		if (live_titan[i] && live_titan[i]->pid > 0 &&
		    kill(live_titan[i]->pid, 0) == 0)
			tn_server_stop(live_titan[i]);
	}
}

TestSuite(repl_replica, .timeout = 90, .fini = stop_leftovers);

static bool have_redis(void)
{
	return system("command -v redis-server >/dev/null 2>&1") == 0;
}

static redisContext *connect_port(int port)
{
	struct timeval tv = {10, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	cr_assert(c && !c->err, "cannot connect to port %d", port);
	redisSetTimeout(c, tv);
	return c;
}

/* A stock redis-server master (no RDB saves, no diskless delay). */
static void stock_start(struct stock *m)
{
	long long end = tn_now_ms() + 10000;
	char p[16], rp[16], delay[16];
	const char *argv[24];
	int n = 0;

	track((void **)live_stock, m);
	snprintf(m->log, sizeof(m->log), "%s/redis.log", m->dir);
	snprintf(p, sizeof(p), "%d", m->port);
	snprintf(rp, sizeof(rp), "%d", m->replicaof);
	snprintf(delay, sizeof(delay), "%d", m->diskless_delay);
	argv[n++] = "redis-server";
	argv[n++] = "--port";
	argv[n++] = p;
	argv[n++] = "--bind";
	argv[n++] = "127.0.0.1";
	argv[n++] = "--dir";
	argv[n++] = m->dir;
	argv[n++] = "--save";
	argv[n++] = "";
	argv[n++] = "--logfile";
	argv[n++] = m->log;
	argv[n++] = "--repl-diskless-sync-delay";
	argv[n++] = delay;
	if (m->replicaof) {
		argv[n++] = "--replicaof";
		argv[n++] = "127.0.0.1";
		argv[n++] = rp;
	}
	if (m->stale_no) {
		argv[n++] = "--replica-serve-stale-data";
		argv[n++] = "no";
	}
	argv[n] = NULL;
	m->pid = fork();
	cr_assert_geq(m->pid, 0);
	if (m->pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	while (tn_now_ms() < end) {
		redisContext *c = redisConnect("127.0.0.1", m->port);
		redisReply *r = c && !c->err ? redisCommand(c, "PING") : NULL;
		/* a replica that serves no stale data says MASTERDOWN */
		bool ok = r && (r->type == REDIS_REPLY_STATUS ||
				r->type == REDIS_REPLY_ERROR);

		if (r)
			freeReplyObject(r);
		if (c)
			redisFree(c);
		if (ok)
			return;
		usleep(20000);
	}
	kill(m->pid, SIGKILL);
	waitpid(m->pid, NULL, 0);
	cr_assert_fail("redis-server did not start on port %d", m->port);
}

static void stock_stop(struct stock *m)
{
	if (m->pid <= 0)
		return;
	kill(m->pid, SIGTERM);
	waitpid(m->pid, NULL, 0);
	m->pid = 0;
}

static void stock_new(struct stock *m)
{
	char tmpl[] = "/tmp/titan-repl-XXXXXX";

	cr_assert_not_null(mkdtemp(tmpl));
	snprintf(m->dir, sizeof(m->dir), "%s", tmpl);
	m->port = tn_free_port();
	stock_start(m);
}

static void stock_cleanup(struct stock *m)
{
	char cmd[400];

	stock_stop(m);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", m->dir);
	cr_assert_eq(system(cmd), 0);
}

static void titan_start(struct tn_server *s, const char *conf)
{
	track((void **)live_titan, s);
	s->pid = 0;
	cr_assert_eq(tn_server_start(s, conf), 0);
}

/* Start a Titan replica of m. */
static void replica_start(struct tn_server *s, const struct stock *m)
{
	char conf[256];

	snprintf(conf, sizeof(conf), TN_STORE_ONLY "replicaof 127.0.0.1 %d\n",
		 m->port);
	titan_start(s, conf);
}

/*
 * Write a fresh marker on the master and wait until the replica has it:
 * everything written before is applied then.
 */
static void wait_synced(redisContext *mc, redisContext *rc, int timeout_ms)
{
	static int seq;
	long long end = tn_now_ms() + timeout_ms;
	char val[32];
	redisReply *r;

	snprintf(val, sizeof(val), "%d-%d", (int)getpid(), ++seq);
	tn_expect_status(tn_cmd(mc, "SET marker %s", val), "OK");
	for (;;) {
		bool ok;

		r = tn_cmd(rc, "GET marker");
		ok = r->type == REDIS_REPLY_STRING && strcmp(r->str, val) == 0;
		freeReplyObject(r);
		if (ok)
			return;
		cr_assert(tn_now_ms() < end, "the replica did not catch up "
					     "within %d ms", timeout_ms);
		usleep(10000);
	}
}

static long long dbsize(redisContext *c)
{
	redisReply *r = tn_cmd(c, "DBSIZE");
	long long n = r->integer;

	freeReplyObject(r);
	return n;
}

/* Count `needle` in the file. */
static int count_in_file(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

static void wait_log(const char *path, const char *needle, int count,
		     int timeout_ms)
{
	long long end = tn_now_ms() + timeout_ms;

	while (count_in_file(path, needle) < count) {
		cr_assert(tn_now_ms() < end, "%s never said '%s' (%d times)",
			  path, needle, count);
		usleep(20000);
	}
}

/* Read n pipelined replies, checking each succeeded. */
static void drain(redisContext *c, int n)
{
	redisReply *r;
	int i;

	for (i = 0; i < n; i++) {
		cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
		cr_assert_neq(r->type, REDIS_REPLY_ERROR, "%s", r->str);
		freeReplyObject(r);
	}
}

/*
 * 100 000 mixed writes, pipelined: strings (SET, INCR, APPEND, SET EX),
 * sets (SADD, SREM, SPOP-free so both sides are deterministic), TTLs
 * (long ones, and short ones that expire during the run), DEL.
 */
static void mixed_writes(redisContext *c, unsigned seed, int n)
{
	int i, pending = 0;

	srand(seed);
	for (i = 0; i < n; i++) {
		int k = rand() % 20000, op = rand() % 100;

		if (op < 30)
			redisAppendCommand(c, "SET s:%d v%d", k, i);
		else if (op < 38)
			redisAppendCommand(c, "INCR n:%d", k % 2000);
		else if (op < 42)
			redisAppendCommand(c, "APPEND s:%d +%d", k, i);
		else if (op < 50)
			redisAppendCommand(c, "SET t:%d v%d EX %d", k, i,
					   100 + k % 500);
		else if (op < 53)
			redisAppendCommand(c, "SET e:%d v PX %d", k, 1 + k % 30);
		else if (op < 70)
			redisAppendCommand(c, "SADD set:%d m%d %d", k % 3000,
					   rand() % 50, rand() % 600);
		else if (op < 78)
			redisAppendCommand(c, "SREM set:%d m%d", k % 3000,
					   rand() % 50);
		else if (op < 84)
			redisAppendCommand(c, "PEXPIRE set:%d %d", k % 3000,
					   200000 + k);
		else if (op < 86)
			redisAppendCommand(c, "PEXPIRE s:%d 5", k);
		else if (op < 92)
			redisAppendCommand(c, "DEL s:%d", k);
		else if (op < 95)
			redisAppendCommand(c, "PERSIST t:%d", k);
		else
			redisAppendCommand(c, "DEL set:%d n:%d", k % 3000,
					   k % 2000);
		if (++pending == BATCH) {
			drain(c, pending);
			pending = 0;
		}
	}
	drain(c, pending);
}

static int cmp_str(const void *a, const void *b)
{
	const redisReply *x = *(redisReply *const *)a;
	const redisReply *y = *(redisReply *const *)b;

	return strcmp(x->str, y->str);
}

/* The same value: strings byte for byte, sets as sorted members. */
static void same_value(const char *key, redisReply *a, redisReply *b)
{
	cr_assert_eq(a->type, b->type, "key %s: reply types %d and %d", key,
		     a->type, b->type);
	if (a->type == REDIS_REPLY_STRING) {
		cr_assert(a->len == b->len && !memcmp(a->str, b->str, a->len),
			  "key %s: '%s' on the master, '%s' on the replica",
			  key, a->str, b->str);
		return;
	}
	cr_assert_eq(a->type, REDIS_REPLY_ARRAY, "key %s", key);
	cr_assert_eq(a->elements, b->elements, "key %s: %zu and %zu members",
		     key, a->elements, b->elements);
	qsort(a->element, a->elements, sizeof(*a->element), cmp_str);
	qsort(b->element, b->elements, sizeof(*b->element), cmp_str);
	for (size_t i = 0; i < a->elements; i++)
		cr_assert_str_eq(a->element[i]->str, b->element[i]->str,
				 "key %s member %zu", key, i);
}

static void append_value(redisContext *c, const char *key)
{
	if (!strncmp(key, "set:", 4))
		redisAppendCommand(c, "SMEMBERS %s", key);
	else
		redisAppendCommand(c, "GET %s", key);
	redisAppendCommand(c, "PTTL %s", key);
}

/* One batch of keys: value and PTTL on both sides. */
static void compare_keys(redisContext *mc, redisContext *rc, char **keys,
			 size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		append_value(mc, keys[i]);
		append_value(rc, keys[i]);
	}
	for (i = 0; i < n; i++) {
		redisReply *mv, *mt, *rv, *rt;

		cr_assert_eq(redisGetReply(mc, (void **)&mv), REDIS_OK);
		cr_assert_eq(redisGetReply(mc, (void **)&mt), REDIS_OK);
		cr_assert_eq(redisGetReply(rc, (void **)&rv), REDIS_OK);
		cr_assert_eq(redisGetReply(rc, (void **)&rt), REDIS_OK);
		same_value(keys[i], mv, rv);
		cr_assert((mt->integer < 0 && mt->integer == rt->integer) ||
				  (mt->integer >= 0 && rt->integer >= 0 &&
				   llabs(mt->integer - rt->integer) <= 2000),
			  "key %s: PTTL %lld on the master, %lld on the "
			  "replica",
			  keys[i], mt->integer, rt->integer);
		freeReplyObject(mv);
		freeReplyObject(mt);
		freeReplyObject(rv);
		freeReplyObject(rt);
	}
}

/* SCAN the master; every key must read the same on the replica. */
static long long compare_all(redisContext *mc, redisContext *rc)
{
	char cursor[32] = "0";
	long long total = 0;

	do {
		redisReply *r = tn_cmd(mc, "SCAN %s COUNT %d", cursor, BATCH);
		char **keys;
		size_t i;

		cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		keys = calloc(r->element[1]->elements + 1, sizeof(*keys));
		for (i = 0; i < r->element[1]->elements; i++)
			keys[i] = r->element[1]->element[i]->str;
		compare_keys(mc, rc, keys, r->element[1]->elements);
		total += (long long)r->element[1]->elements;
		free(keys);
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return total;
}

/*
 * Let the short TTLs pass and the master reclaim (and propagate DEL for)
 * what expired, so both sides hold the same live keys.
 */
static void settle(redisContext *mc, redisContext *rc)
{
	char cursor[32] = "0";

	usleep(100000);
	do {
		redisReply *r = tn_cmd(mc, "SCAN %s COUNT 5000", cursor);

		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	wait_synced(mc, rc, SYNC_MS);
}

Test(repl_replica, follows_a_stock_master)
{
	struct stock m = {0};
	struct tn_server s;
	redisContext *mc, *rc;
	long long n;
	redisReply *r;

	if (!have_redis())
		cr_skip_test("redis-server is not installed");
	stock_new(&m);
	mc = connect_port(m.port);
	/* data before the sync comes with the RDB */
	tn_expect_status(tn_cmd(mc, "SET before 1"), "OK");
	tn_expect_int(tn_cmd(mc, "SADD set:before a b 7"), 3);
	tn_expect_int(tn_cmd(mc, "PEXPIRE set:before 500000"), 1);
	replica_start(&s, &m);
	rc = tn_connect(&s);
	wait_synced(mc, rc, SYNC_MS);
	tn_expect_str(tn_cmd(rc, "GET before"), "1");
	tn_expect_int(tn_cmd(rc, "SCARD set:before"), 3);
	wait_log(s.log, "MASTER <-> REPLICA sync: Finished with success", 1,
		 1000);

	/* the stream: 100 000 writes */
	mixed_writes(mc, 42, 100000);
	settle(mc, rc);
	n = dbsize(mc);
	cr_assert_gt(n, 10000);
	cr_assert_eq(dbsize(rc), n, "DBSIZE %lld on the master, %lld on the "
				    "replica", n, dbsize(rc));
	cr_assert_eq(compare_all(mc, rc), n);

	/* writes to the replica are refused; reads are served */
	tn_expect_error(tn_cmd(rc, "SET before 2"), READONLY_ERR);
	tn_expect_error(tn_cmd(rc, "SADD set:before x"), READONLY_ERR);
	tn_expect_error(tn_cmd(rc, "DEL before"), READONLY_ERR);
	tn_expect_str(tn_cmd(rc, "GET before"), "1");
	tn_expect_status(tn_cmd(rc, "MULTI"), "OK");
	tn_expect_error(tn_cmd(rc, "SET before 3"), READONLY_ERR);
	tn_expect_error(tn_cmd(rc, "EXEC"),
			"EXECABORT Transaction discarded because of previous "
			"errors.");

	/* a dropped link resumes with a partial resync */
	r = tn_cmd(mc, "CLIENT KILL TYPE replica");
	cr_assert_eq(r->integer, 1);
	freeReplyObject(r);
	mixed_writes(mc, 7, 20000);
	wait_log(m.log, "Partial resynchronization request from", 1, SYNC_MS);
	cr_assert_eq(count_in_file(m.log, "accepted. Sending"), 1);
	cr_assert_eq(count_in_file(s.log, "Full resync from master"), 1);
	settle(mc, rc);
	n = dbsize(mc);
	cr_assert_eq(dbsize(rc), n);
	cr_assert_eq(compare_all(mc, rc), n);

	/* promotion keeps the data and takes writes */
	tn_expect_status(tn_cmd(rc, "REPLICAOF NO ONE"), "OK");
	cr_assert_eq(dbsize(rc), n);
	tn_expect_status(tn_cmd(rc, "SET before promoted"), "OK");
	tn_expect_str(tn_cmd(rc, "GET before"), "promoted");
	tn_expect_status(tn_cmd(rc, "REPLICAOF NO ONE"), "OK");
	/* and the master no longer feeds it */
	tn_expect_status(tn_cmd(mc, "SET after-promotion 1"), "OK");
	usleep(200000);
	tn_expect_nil(tn_cmd(rc, "GET after-promotion"));
	cr_assert(tn_file_contains(s.log, "MASTER MODE enabled"));

	redisFree(rc);
	redisFree(mc);
	cr_assert_eq(tn_server_stop(&s), 0);
	stock_cleanup(&m);
}

Test(repl_replica, master_restart_gives_a_full_resync)
{
	struct stock m = {0};
	struct tn_server s;
	redisContext *mc, *rc;

	if (!have_redis())
		cr_skip_test("redis-server is not installed");
	stock_new(&m);
	mc = connect_port(m.port);
	tn_expect_status(tn_cmd(mc, "SET old 1"), "OK");
	replica_start(&s, &m);
	rc = tn_connect(&s);
	wait_synced(mc, rc, SYNC_MS);
	tn_expect_str(tn_cmd(rc, "GET old"), "1");
	redisFree(mc);

	/* save '' : the master comes back empty, with a new replid */
	stock_stop(&m);
	stock_start(&m);
	mc = connect_port(m.port);
	tn_expect_status(tn_cmd(mc, "SET new 2"), "OK");
	wait_synced(mc, rc, SYNC_MS);
	wait_log(s.log, "Full resync from master", 2, 1000);
	tn_expect_nil(tn_cmd(rc, "GET old"));
	tn_expect_str(tn_cmd(rc, "GET new"), "2");
	cr_assert_eq(dbsize(rc), dbsize(mc));

	redisFree(rc);
	redisFree(mc);
	cr_assert_eq(tn_server_stop(&s), 0);
	stock_cleanup(&m);
}

Test(repl_replica, replicaof_at_run_time)
{
	struct stock m = {0};
	struct tn_server s;
	redisContext *mc, *rc;
	char port[16];

	if (!have_redis())
		cr_skip_test("redis-server is not installed");
	stock_new(&m);
	mc = connect_port(m.port);
	tn_expect_status(tn_cmd(mc, "SET from-master yes"), "OK");
	titan_start(&s, TN_STORE_ONLY);
	rc = tn_connect(&s);
	tn_expect_status(tn_cmd(rc, "SET local 1"), "OK");
	/* what Redis 7.0 answers to a bad port */
	tn_expect_error(tn_cmd(rc, "REPLICAOF 127.0.0.1 abc"),
			"ERR Invalid master port");
	tn_expect_error(tn_cmd(rc, "REPLICAOF 127.0.0.1 70000"),
			"ERR Invalid master port");
	tn_expect_error(tn_cmd(rc, "SLAVEOF 127.0.0.1 -1"),
			"ERR Invalid master port");
	tn_expect_error(tn_cmd(rc, "REPLICAOF 127.0.0.1"),
			"ERR wrong number of arguments for 'replicaof' "
			"command");
	/* a master that is one already: nothing to do */
	tn_expect_status(tn_cmd(rc, "REPLICAOF NO ONE"), "OK");
	cr_assert(!tn_file_contains(s.log, "MASTER MODE enabled"));

	snprintf(port, sizeof(port), "%d", m.port);
	tn_expect_status(tn_cmd(rc, "SLAVEOF 127.0.0.1 %s", port), "OK");
	tn_expect_status(tn_cmd(rc, "REPLICAOF 127.0.0.1 %s", port),
			 "OK Already connected to specified master");
	wait_synced(mc, rc, SYNC_MS);
	/* the full sync replaced what it held */
	tn_expect_str(tn_cmd(rc, "GET from-master"), "yes");
	tn_expect_nil(tn_cmd(rc, "GET local"));
	tn_expect_error(tn_cmd(rc, "SET local 2"), READONLY_ERR);
	cr_assert(tn_wait_child(&s, "titan: replica", 0, 1000) > 0);

	/* promoted: the replica process goes */
	tn_expect_status(tn_cmd(rc, "REPLICAOF NO ONE"), "OK");
	tn_expect_status(tn_cmd(rc, "SET local 3"), "OK");
	{
		long long end = tn_now_ms() + 5000;
		pid_t pids[64];
		int i, n, found;

		do {
			char title[128];

			found = 0;
			n = tn_proc_children(s.pid, pids, 64);
			for (i = 0; i < n && i < 64; i++)
				if (tn_proc_title(pids[i], title,
						  sizeof(title)) == 0 &&
				    strstr(title, "titan: replica"))
					found = 1;
			if (found)
				usleep(10000);
		} while (found && tn_now_ms() < end);
		cr_assert(!found, "the replica process is still running");
	}

	redisFree(rc);
	redisFree(mc);
	cr_assert_eq(tn_server_stop(&s), 0);
	stock_cleanup(&m);
}

/* Stop the supervisor, keeping its directory. */
static void stop_keep(struct tn_server *s)
{
	int status;

	kill(s->pid, SIGTERM);
	cr_assert_eq(waitpid(s->pid, &status, 0), s->pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void start_again(struct tn_server *s)
{
	cr_assert_geq(tn_server_spawn(s), 0);
	cr_assert_eq(tn_server_wait_ready(s, 15000), 0);
}

/*
 * Titan all the way: master -> replica (appendonly yes) -> sub-replica.
 * The replica logs what its full sync loaded, so its AOF holds the data
 * after a restart with the master gone.
 */
Test(repl_replica, titan_chain_and_the_replicas_aof)
{
	struct tn_server m, r, sub;
	redisContext *mc, *rc, *sc;
	char conf[256];
	int i;

	titan_start(&m, TN_STORE_ONLY);
	mc = tn_connect(&m);
	for (i = 0; i < 500; i++)
		redisAppendCommand(mc, "SET pre:%d %d", i, i);
	drain(mc, 500);
	tn_expect_int(tn_cmd(mc, "SADD set:pre a b c"), 3);
	tn_expect_status(tn_cmd(mc, "SET ttl:pre v PX 500000"), "OK");
	snprintf(conf, sizeof(conf),
		 TN_STORE_ONLY "replicaof 127.0.0.1 %d\nappendonly yes\n",
		 m.port);
	titan_start(&r, conf);
	rc = tn_connect(&r);
	snprintf(conf, sizeof(conf), TN_STORE_ONLY "replicaof 127.0.0.1 %d\n",
		 r.port);
	titan_start(&sub, conf);
	sc = tn_connect(&sub);
	wait_synced(mc, rc, SYNC_MS);
	mixed_writes(mc, 3, 20000);
	settle(mc, rc);
	/* the marker went through the middle one to the end of the chain */
	{
		long long end = tn_now_ms() + SYNC_MS;

		while (dbsize(sc) != dbsize(mc) && tn_now_ms() < end)
			usleep(10000);
	}
	cr_assert_eq(dbsize(rc), dbsize(mc));
	cr_assert_eq(dbsize(sc), dbsize(mc));
	cr_assert_eq(compare_all(mc, rc), dbsize(mc));
	cr_assert_eq(compare_all(mc, sc), dbsize(mc));
	tn_expect_error(tn_cmd(sc, "SET x 1"), READONLY_ERR);
	{
		redisReply *role = tn_cmd(sc, "ROLE");

		cr_assert_eq(role->type, REDIS_REPLY_ARRAY);
		cr_assert_eq(role->elements, 5);
		cr_assert_str_eq(role->element[0]->str, "slave");
		cr_assert_str_eq(role->element[1]->str, "127.0.0.1");
		cr_assert_eq(role->element[2]->integer, r.port);
		cr_assert_str_eq(role->element[3]->str, "connected");
		cr_assert_geq(role->element[4]->integer, 0);
		freeReplyObject(role);
	}
	{
		redisReply *info = tn_cmd(rc, "INFO replication");

		cr_assert(strstr(info->str, "role:slave\r\n"));
		cr_assert(strstr(info->str, "master_link_status:up\r\n"));
		cr_assert(strstr(info->str, "master_sync_in_progress:0\r\n"));
		freeReplyObject(info);
	}

	/* the master goes; the replica restarts from its own AOF */
	redisFree(mc);
	mc = NULL;
	{
		long long n = dbsize(rc);

		redisFree(rc);
		cr_assert_eq(tn_server_stop(&m), 0);
		stop_keep(&r);
		start_again(&r);
		rc = tn_connect(&r);
		cr_assert_eq(dbsize(rc), n);
	}
	tn_expect_int(tn_cmd(rc, "SCARD set:pre"), 3);
	tn_expect_str(tn_cmd(rc, "GET pre:499"), "499");
	{
		redisReply *t = tn_cmd(rc, "PTTL ttl:pre");

		cr_assert(t->integer > 400000 && t->integer <= 500000,
			  "PTTL %lld", t->integer);
		freeReplyObject(t);
	}
	redisFree(rc);
	redisFree(sc);
	cr_assert_eq(tn_server_stop(&sub), 0);
	cr_assert_eq(tn_server_stop(&r), 0);
}

/* ------------------------------------------------------------------ */
/* Acknowledged offsets, INFO's fields and replica-serve-stale-data    */
/* ------------------------------------------------------------------ */

/* The value of an INFO replication field, or "" (a static buffer). */
static const char *info_val(redisContext *c, const char *field)
{
	static char v[128];
	redisReply *r = tn_cmd(c, "INFO replication");
	char key[64];
	const char *p;

	cr_assert_eq(r->type, REDIS_REPLY_STRING, "INFO replication: %s",
		     r->type == REDIS_REPLY_STATUS ||
			     r->type == REDIS_REPLY_ERROR ?
			     r->str :
			     "not a string");
	snprintf(key, sizeof(key), "\n%s:", field);
	p = strstr(r->str, key);
	v[0] = '\0';
	if (p)
		snprintf(v, sizeof(v), "%.*s", (int)strcspn(p + strlen(key), "\r\n"),
			 p + strlen(key));
	freeReplyObject(r);
	return v;
}

/* The field names of INFO replication, in order, comma-separated. */
static void info_names(redisContext *c, char *out, size_t cap)
{
	redisReply *r = tn_cmd(c, "INFO replication");
	const char *p = r->str;
	size_t len = 0;

	cr_assert_eq(r->type, REDIS_REPLY_STRING);
	out[0] = '\0';
	while (*p) {
		size_t line = strcspn(p, "\r\n"), name = strcspn(p, ":\r\n");

		if (line && p[0] != '#' && name < line)
			len += (size_t)snprintf(out + len, cap - len, "%.*s,",
						(int)name, p);
		cr_assert_lt(len, cap);
		p += line;
		while (*p == '\r' || *p == '\n')
			p++;
	}
	freeReplyObject(r);
}

static void same_info_names(redisContext *titan, redisContext *stock,
			    const char *when)
{
	char a[2048], b[2048];

	info_names(titan, a, sizeof(a));
	info_names(stock, b, sizeof(b));
	cr_assert_str_eq(a, b, "%s: INFO replication fields differ\ntitan: %s\n"
			       "stock: %s", when, a, b);
}

static void poll_info(redisContext *c, const char *field, const char *want,
		      int timeout_ms)
{
	long long end = tn_now_ms() + timeout_ms;

	while (strcmp(info_val(c, field), want) != 0) {
		cr_assert(tn_now_ms() < end, "INFO %s never became '%s' (is '%s')",
			  field, want, info_val(c, field));
		usleep(5000);
	}
}

/*
 * Every replica of the master at mc has acknowledged master_repl_offset
 * (polled: ACKs come every second), with a lag of 0 or 1 second.
 */
static void wait_all_acked(redisContext *mc, int nreplicas)
{
	long long end = tn_now_ms() + SYNC_MS;
	char field[32], want[128];
	int i, ok;

	do {
		snprintf(want, sizeof(want), "%s",
			 info_val(mc, "master_repl_offset"));
		ok = 0;
		for (i = 0; i < nreplicas; i++) {
			const char *v, *o, *lag;

			snprintf(field, sizeof(field), "slave%d", i);
			v = info_val(mc, field);
			o = strstr(v, ",offset=");
			lag = strstr(v, ",lag=");
			cr_assert(o && lag, "no %s line: '%s'", field, v);
			if ((size_t)(lag - o - 8) == strlen(want) &&
			    !strncmp(o + 8, want, strlen(want))) {
				cr_assert(!strcmp(lag, ",lag=0") ||
					  !strcmp(lag, ",lag=1"),
					  "%s: %s", field, v);
				ok++;
			}
		}
		if (ok == nreplicas)
			return;
		usleep(10000);
	} while (tn_now_ms() < end);
	cr_assert_fail("the replicas never acknowledged offset %s: %s", want,
		       info_val(mc, "slave0"));
}

/* WAIT n: every replica answers GETACK at once, long before the
 * once-a-second ACK. */
static void wait_is_quick(redisContext *mc, int n)
{
	long long t0;
	redisReply *r;

	tn_expect_status(tn_cmd(mc, "SET wait:probe %lld", tn_now_ms()), "OK");
	t0 = tn_now_ms();
	r = tn_cmd(mc, "WAIT %d 5000", n);
	cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
	cr_assert_eq(r->integer, n, "WAIT %d answered %lld", n, r->integer);
	freeReplyObject(r);
	cr_assert_lt(tn_now_ms() - t0, 900, "WAIT took %lld ms: no GETACK?",
		     tn_now_ms() - t0);
}

/*
 * A Titan master with a Titan replica and a stock redis-server replica:
 * both acknowledge the master's offset (INFO slaveN, ROLE), WAIT counts
 * both, quickly.
 */
Test(repl_replica, replicas_acknowledge_a_titan_master)
{
	/* static: the fini stops them after a failed assertion */
	static struct tn_server m, r;
	static struct stock s;
	redisContext *mc, *rc, *sc;
	redisReply *role;
	char conf[256];
	size_t i;

	if (!have_redis())
		cr_skip_test("redis-server is not installed");
	memset(&s, 0, sizeof(s));
	titan_start(&m, TN_STORE_ONLY);
	mc = tn_connect(&m);
	snprintf(conf, sizeof(conf), TN_STORE_ONLY "replicaof 127.0.0.1 %d\n",
		 m.port);
	titan_start(&r, conf);
	rc = tn_connect(&r);
	s.replicaof = m.port;
	stock_new(&s);
	sc = connect_port(s.port);
	wait_synced(mc, rc, SYNC_MS);
	wait_synced(mc, sc, SYNC_MS);
	mixed_writes(mc, 11, 5000);
	tn_expect_int(tn_cmd(mc, "WAIT 2 5000"), 2);
	wait_all_acked(mc, 2);
	/* ROLE shows the same offsets */
	role = tn_cmd(mc, "ROLE");
	cr_assert_eq(role->elements, 3);
	cr_assert_eq(role->element[2]->elements, 2);
	for (i = 0; i < 2; i++)
		cr_assert_eq(atoll(role->element[2]->element[i]->element[2]->str),
			     role->element[1]->integer);
	freeReplyObject(role);
	wait_is_quick(mc, 2);
	/* a replica's own offset is the master's */
	cr_assert_str_eq(info_val(rc, "slave_repl_offset"),
			 info_val(sc, "slave_repl_offset"));
	/* more replicas than there are: WAIT times out with the count */
	tn_expect_int(tn_cmd(mc, "WAIT 3 100"), 2);

	redisFree(sc);
	redisFree(rc);
	redisFree(mc);
	stock_cleanup(&s);
	cr_assert_eq(tn_server_stop(&r), 0);
	cr_assert_eq(tn_server_stop(&m), 0);
}

/*
 * A master that stops in the middle of a full sync: it answers the
 * handshake, +FULLRESYNC, announces a 1000-byte RDB, sends 100 bytes of
 * it and then nothing.  Its replicas stay in the transfer.  Runs in a
 * child; returns its pid, the port in *port.
 */
#define FAKE_RDB_SIZE 1000
#define FAKE_RDB_SENT 100
static pid_t fake_master(int *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	cr_assert_geq(ls, 0);
	cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(ls, 8), 0);
	cr_assert_eq(getsockname(ls, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid > 0) {
		/* here too: the kill may come before the child ran */
		setpgid(pid, pid);
		close(ls);
		live_fake = pid;
		return pid;
	}
	/* a group of its own: one kill stops it and its connections */
	setpgid(0, 0);
	for (;;) {
		int fd = accept(ls, NULL, NULL);

		if (fd < 0)
			_exit(1);
		if (fork() == 0) {
			char in[4096], rdb[FAKE_RDB_SENT];
			size_t len = 0;

			close(ls);
			memset(rdb, 'x', sizeof(rdb));
			for (;;) {
				ssize_t n = read(fd, in + len, sizeof(in) - len - 1);
				char *cmd;

				if (n <= 0 || len + (size_t)n >= sizeof(in) - 1)
					_exit(0);
				len += (size_t)n;
				in[len] = '\0';
				/* one command per read is all a replica sends
				 * here: it waits for each reply */
				cmd = strstr(in, "\r\n$");
				cmd = cmd ? strstr(cmd + 3, "\r\n") : NULL;
				if (!cmd || !strstr(cmd + 2, "\r\n"))
					continue;
				cmd += 2;
				len = 0;
				if (!strncasecmp(cmd, "ping", 4)) {
					dprintf(fd, "+PONG\r\n");
				} else if (!strncasecmp(cmd, "psync", 5) ||
					   !strncasecmp(cmd, "sync", 4)) {
					dprintf(fd, "+FULLRESYNC %s 0\r\n$%d\r\n",
						"0123456789abcdef0123456789abcdef"
						"01234567",
						FAKE_RDB_SIZE);
					if (write(fd, rdb, sizeof(rdb)) < 0)
						_exit(0);
					pause();
				} else {
					dprintf(fd, "+OK\r\n");
				}
			}
		}
		close(fd);
	}
}

/* The same reply from both: type, and the text of errors and statuses. */
static void same_reply(redisContext *titan, redisContext *stock,
		       const char *cmd)
{
	redisReply *a = tn_cmd(titan, cmd), *b = tn_cmd(stock, cmd);

	cr_assert_eq(a->type, b->type, "%s: reply type %d (%s) here, %d (%s) "
				       "from redis-server",
		     cmd, a->type, a->type == REDIS_REPLY_ERROR ? a->str : "",
		     b->type, b->type == REDIS_REPLY_ERROR ? b->str : "");
	if (a->type == REDIS_REPLY_ERROR || a->type == REDIS_REPLY_STATUS)
		cr_assert_str_eq(a->str, b->str, "%s", cmd);
	freeReplyObject(a);
	freeReplyObject(b);
}

/* What a replica that serves no stale data answers, next to Redis. */
static void same_stale_replies(redisContext *titan, redisContext *stock)
{
	static const char *const cmds[] = {
		"PING", "GET k", "SET k v", "ECHO x", "DBSIZE", "EXISTS k",
		"TTL k", "SCARD s", "KEYS *", "SCAN 0", "TYPE k", "RANDOMKEY",
		"CONFIG GET replica-serve-stale-data", "ROLE", "SELECT 0",
		"COMMAND COUNT", "CLIENT GETNAME", "PUBLISH c m", "LASTSAVE",
		"MULTI", "GET k", "ECHO y", "EXEC", "MULTI", "ECHO z", "EXEC",
	};
	redisReply *r = tn_cmd(titan, "GET k");
	size_t i;

	cr_assert_eq(r->type, REDIS_REPLY_ERROR, "GET k was served");
	cr_assert_str_eq(r->str, "MASTERDOWN Link with MASTER is down and "
				 "replica-serve-stale-data is set to 'no'.");
	freeReplyObject(r);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		same_reply(titan, stock, cmds[i]);
}

/*
 * A Titan replica next to a stock one, both of a stock master: INFO
 * replication has the same fields in the same order while the full sync
 * runs, with the link up and with it down; the stock master sees both
 * acknowledge its offset; replica-serve-stale-data no answers as Redis
 * does during the sync and with the link down, and CONFIG SET turns it
 * off at run time.
 */
Test(repl_replica, info_and_stale_data_as_a_stock_replica)
{
	static const char *const same[] = {
		"master_link_status", "master_sync_in_progress",
		"slave_read_repl_offset", "slave_repl_offset",
		"master_sync_total_bytes", "master_sync_read_bytes",
		"master_sync_left_bytes", "master_sync_perc",
		"master_link_down_since_seconds",
	};
	/* static: the fini stops them after a failed assertion */
	static struct stock m, s;
	static struct tn_server t;
	redisContext *mc, *tc, *sc;
	char port[16];
	long long end;
	int fport;
	pid_t fake;
	size_t i;

	if (!have_redis())
		cr_skip_test("redis-server is not installed");
	memset(&m, 0, sizeof(m));
	memset(&s, 0, sizeof(s));
	stock_new(&m);
	mc = connect_port(m.port);
	tn_expect_status(tn_cmd(mc, "SET k master"), "OK");
	stock_new(&s);
	sc = connect_port(s.port);
	titan_start(&t, TN_STORE_ONLY);
	tc = tn_connect(&t);
	tn_expect_status(tn_cmd(tc, "CONFIG SET replica-serve-stale-data no"),
			 "OK");
	tn_expect_status(tn_cmd(sc, "CONFIG SET replica-serve-stale-data no"),
			 "OK");
	/* a master: the directive does not apply */
	tn_expect_nil(tn_cmd(tc, "GET k"));

	/* a full sync that stays in the middle */
	fake = fake_master(&fport);
	snprintf(port, sizeof(port), "%d", fport);
	tn_expect_status(tn_cmd(tc, "REPLICAOF 127.0.0.1 %s", port), "OK");
	tn_expect_status(tn_cmd(sc, "REPLICAOF 127.0.0.1 %s", port), "OK");
	snprintf(port, sizeof(port), "%d", FAKE_RDB_SENT);
	poll_info(tc, "master_sync_read_bytes", port, SYNC_MS);
	poll_info(sc, "master_sync_read_bytes", port, SYNC_MS);
	same_info_names(tc, sc, "during the full sync");
	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char v[128];

		snprintf(v, sizeof(v), "%s", info_val(sc, same[i]));
		cr_assert_str_eq(info_val(tc, same[i]), v, "%s: %s here, %s from redis-server", same[i], info_val(tc, same[i]), v);
	}
	same_stale_replies(tc, sc);
	kill(-fake, SIGKILL);
	waitpid(fake, NULL, 0);
	live_fake = 0;

	snprintf(port, sizeof(port), "%d", m.port);
	tn_expect_status(tn_cmd(tc, "REPLICAOF 127.0.0.1 %s", port), "OK");
	tn_expect_status(tn_cmd(sc, "REPLICAOF 127.0.0.1 %s", port), "OK");
	poll_info(tc, "master_link_status", "up", SYNC_MS);
	poll_info(sc, "master_link_status", "up", SYNC_MS);
	same_info_names(tc, sc, "with the link up");
	tn_expect_str(tn_cmd(tc, "GET k"), "master");
	tn_expect_status(tn_cmd(tc, "PING"), "PONG");
	mixed_writes(mc, 5, 5000);
	tn_expect_int(tn_cmd(mc, "WAIT 2 5000"), 2);
	wait_all_acked(mc, 2);
	cr_assert_str_eq(info_val(tc, "slave_repl_offset"),
			 info_val(mc, "master_repl_offset"));
	wait_is_quick(mc, 2);

	/* the link goes down: no master there */
	snprintf(port, sizeof(port), "%d", tn_free_port());
	tn_expect_status(tn_cmd(tc, "REPLICAOF 127.0.0.1 %s", port), "OK");
	tn_expect_status(tn_cmd(sc, "REPLICAOF 127.0.0.1 %s", port), "OK");
	poll_info(tc, "master_link_status", "down", SYNC_MS);
	poll_info(sc, "master_link_status", "down", SYNC_MS);
	same_info_names(tc, sc, "with the link down");
	/* it went down just now, not never */
	end = atoll(info_val(tc, "master_link_down_since_seconds"));
	cr_assert(end >= 0 && end <= 2, "down since %lld s", end);
	same_stale_replies(tc, sc);
	/* stale data is served again once the directive says so */
	tn_expect_status(tn_cmd(tc, "CONFIG SET replica-serve-stale-data yes"),
			 "OK");
	tn_expect_str(tn_cmd(tc, "GET k"), "master");
	tn_expect_status(tn_cmd(tc, "PING"), "PONG");
	tn_expect_error(tn_cmd(tc, "SET k v"), READONLY_ERR);
	{
		redisReply *r = tn_cmd(tc, "CONFIG GET replica-serve-stale-data");

		cr_assert_eq(r->elements, 2);
		cr_assert_str_eq(r->element[1]->str, "yes");
		freeReplyObject(r);
	}

	redisFree(tc);
	redisFree(sc);
	redisFree(mc);
	cr_assert_eq(tn_server_stop(&t), 0);
	stock_cleanup(&s);
	stock_cleanup(&m);
}

/*
 * replica-serve-stale-data no, and the link goes down after MULTI queued
 * a command that serves no stale data: EXEC is refused as Redis refuses
 * it (EXECABORT ... MASTERDOWN), while a transaction of stale commands
 * only still runs.
 */
Test(repl_replica, exec_refused_when_link_drops_after_queueing)
{
	static struct stock m, s;
	static struct tn_server t;
	redisContext *mc, *tc, *sc, *tc2, *sc2;
	redisReply *r;

	if (!have_redis())
		cr_skip_test("redis-server is not installed");
	memset(&m, 0, sizeof(m));
	memset(&s, 0, sizeof(s));
	stock_new(&m);
	mc = connect_port(m.port);
	tn_expect_status(tn_cmd(mc, "SET k master"), "OK");
	s.replicaof = m.port;
	s.stale_no = true;
	stock_new(&s);
	sc = connect_port(s.port);
	sc2 = connect_port(s.port);
	replica_start(&t, &m);
	tc = tn_connect(&t);
	tc2 = tn_connect(&t);
	tn_expect_status(tn_cmd(tc, "CONFIG SET replica-serve-stale-data no"),
			 "OK");
	poll_info(tc, "master_link_status", "up", SYNC_MS);
	poll_info(sc, "master_link_status", "up", SYNC_MS);
	tn_expect_str(tn_cmd(tc, "GET k"), "master");

	same_reply(tc, sc, "MULTI");
	same_reply(tc, sc, "GET k");
	same_reply(tc, sc, "ROLE");
	same_reply(tc2, sc2, "MULTI");
	same_reply(tc2, sc2, "ROLE");
	same_reply(tc2, sc2, "INFO server");
	redisFree(mc);
	stock_stop(&m);
	/* tc and sc are in MULTI: others look */
	mc = tn_connect(&t);
	poll_info(mc, "master_link_status", "down", SYNC_MS);
	redisFree(mc);
	mc = connect_port(s.port);
	poll_info(mc, "master_link_status", "down", SYNC_MS);
	redisFree(mc);
	r = tn_cmd(sc, "EXEC");
	cr_assert_eq(r->type, REDIS_REPLY_ERROR, "redis-server ran EXEC");
	cr_assert_str_eq(r->str, "EXECABORT Transaction discarded because of: "
				 "MASTERDOWN Link with MASTER is down and "
				 "replica-serve-stale-data is set to 'no'.");
	freeReplyObject(r);
	r = tn_cmd(tc, "EXEC");
	cr_assert_eq(r->type, REDIS_REPLY_ERROR, "EXEC ran");
	cr_assert_str_eq(r->str, "EXECABORT Transaction discarded because of: "
				 "MASTERDOWN Link with MASTER is down and "
				 "replica-serve-stale-data is set to 'no'.");
	freeReplyObject(r);
	/* both discarded the transaction */
	same_reply(tc, sc, "EXEC");
	/* only stale commands: it runs */
	r = tn_cmd(tc2, "EXEC");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 2);
	freeReplyObject(r);
	r = tn_cmd(sc2, "EXEC");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	freeReplyObject(r);

	redisFree(tc);
	redisFree(tc2);
	redisFree(sc);
	redisFree(sc2);
	cr_assert_eq(tn_server_stop(&t), 0);
	stock_cleanup(&s);
	stock_cleanup(&m);
}
