/*
 * test_repl_master.c - the master side of replication seen through a raw
 * replica socket: REPLCONF and WAIT errors as Redis words them, ROLE and
 * INFO with and without a replica, a disk-less full sync (FULLRESYNC,
 * $EOF mark, then the live stream after the first ACK), a partial resync
 * (+CONTINUE), NOREPLICAS, and a journal killed with -9.  WAIT parks
 * only its client: the same shard serves others meanwhile, pipelined
 * commands follow its reply, CLIENT KILL and hang-ups free it, and a
 * stock redis-server replica's ACK answers it early; REPLICAOF lets it
 * go with -UNBLOCKED.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/integration/harness.h"

#define WAIT_MS 10000

static struct tn_server srv;
static redisContext *cli;

static void setup(void)
{
	cr_assert(tn_server_start(&srv, TN_STORE_ONLY) == 0,
		  "server did not start");
	cli = tn_connect(&srv);
}

/* Stock redis-server replicas a test started: killed by the fini even
 * when an assertion cut the test short. */
#define NSTOCK 2
static pid_t stock_pid[NSTOCK];
static int stock_port[NSTOCK];
static char stock_dir[NSTOCK][64];

static void stock_stop(void)
{
	char cmd[160];
	int i;

	for (i = 0; i < NSTOCK; i++) {
		if (stock_pid[i] > 0) {
			kill(stock_pid[i], SIGKILL);
			waitpid(stock_pid[i], NULL, 0);
			stock_pid[i] = 0;
		}
		if (stock_dir[i][0]) {
			snprintf(cmd, sizeof(cmd), "rm -rf %s", stock_dir[i]);
			if (system(cmd) != 0)
				cr_log_info("could not remove %s",
					    stock_dir[i]);
			stock_dir[i][0] = '\0';
		}
	}
}

/* Start stock replica i of our server; false (the test skipped) when
 * redis-server is not installed. */
static bool stock_start(int i)
{
	char port[16], master[16];

	if (system("command -v redis-server >/dev/null 2>&1") != 0) {
		cr_skip_test("redis-server is not installed");
		return false;
	}
	snprintf(stock_dir[i], sizeof(stock_dir[i]), "/tmp/titan-stock-XXXXXX");
	cr_assert(mkdtemp(stock_dir[i]));
	stock_port[i] = tn_free_port();
	snprintf(port, sizeof(port), "%d", stock_port[i]);
	snprintf(master, sizeof(master), "%d", srv.port);
	stock_pid[i] = fork();
	cr_assert_geq(stock_pid[i], 0);
	if (stock_pid[i] == 0) {
		int fd = open("/dev/null", O_RDWR);

		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("redis-server", "redis-server", "--port", port, "--bind",
		       "127.0.0.1", "--dir", stock_dir[i], "--save", "",
		       "--replicaof", "127.0.0.1", master, (char *)NULL);
		_exit(127);
	}
	return true;
}

static void teardown(void)
{
	stock_stop();
	redisFree(cli);
	cli = NULL;
	cr_expect(tn_server_stop(&srv) == 0, "supervisor did not exit 0");
}

TestSuite(repl_master, .init = setup, .fini = teardown, .timeout = 60);

/* Read after the `len` bytes buf holds until `needle` is in it (or
 * fail); returns the bytes buf holds then. */
static size_t read_until_from(int fd, char *buf, size_t cap, size_t len,
			      size_t from, const char *needle, size_t nlen)
{
	long long deadline = tn_now_ms() + WAIT_MS;

	while (tn_now_ms() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (len >= from + nlen &&
		    memmem(buf + from, len - from, needle, nlen))
			return len;
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(fd, buf + len, cap - len);
		cr_assert_gt(n, 0, "the master closed the link: %s",
			     n ? strerror(errno) : "EOF");
		len += (size_t)n;
		cr_assert_lt(len, cap, "more than expected");
	}
	cr_assert_fail("no '%.*s' from the master", (int)nlen, needle);
	return 0;
}

static size_t read_until(int fd, char *buf, size_t cap, size_t len,
			 const char *needle, size_t nlen)
{
	return read_until_from(fd, buf, cap, len, 0, needle, nlen);
}

static void send_str(int fd, const char *s)
{
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static char *info_field(const char *field)
{
	redisReply *r = tn_cmd(cli, "INFO replication");
	char key[64], *p, *end, *v;

	cr_assert_eq(r->type, REDIS_REPLY_STRING);
	snprintf(key, sizeof(key), "\r\n%s:", field);
	p = strstr(r->str, key);
	cr_assert(p, "no %s in %s", field, r->str);
	p += strlen(key);
	end = strstr(p, "\r\n");
	v = strndup(p, (size_t)(end - p));
	freeReplyObject(r);
	return v;
}

static bool info_has(const char *line)
{
	redisReply *r = tn_cmd(cli, "INFO replication");
	bool yes = strstr(r->str, line) != NULL;

	freeReplyObject(r);
	return yes;
}

static bool poll_info(const char *line)
{
	long long deadline = tn_now_ms() + WAIT_MS;

	while (tn_now_ms() < deadline) {
		if (info_has(line))
			return true;
		usleep(10000);
	}
	return false;
}

Test(repl_master, errors_as_redis)
{
	tn_expect_error(tn_cmd(cli, "REPLCONF listening-port"),
			"ERR syntax error");
	tn_expect_error(tn_cmd(cli, "REPLCONF foo bar"),
			"ERR Unrecognized REPLCONF option: foo");
	tn_expect_error(tn_cmd(cli, "REPLCONF listening-port x"),
			"ERR value is not an integer or out of range");
	tn_expect_status(tn_cmd(cli, "REPLCONF listening-port 7 capa eof "
				     "capa psync2"),
			 "OK");
	tn_expect_error(tn_cmd(cli, "WAIT x 1"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(cli, "WAIT 1 x"),
			"ERR timeout is not an integer or out of range");
	tn_expect_error(tn_cmd(cli, "WAIT 1 -1"), "ERR timeout is negative");
	tn_expect_error(tn_cmd(cli, "PSYNC ?"),
			"ERR wrong number of arguments for 'psync' command");
	tn_expect_int(tn_cmd(cli, "WAIT 0 0"), 0);
	tn_expect_int(tn_cmd(cli, "WAIT 1 50"), 0);
	tn_expect_int(tn_cmd(cli, "CLIENT KILL TYPE replica"), 0);
	tn_expect_int(tn_cmd(cli, "CLIENT KILL TYPE slave"), 0);
}

Test(repl_master, role_and_info_without_replicas)
{
	redisReply *r = tn_cmd(cli, "ROLE");
	char *v;

	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 3);
	cr_expect_str_eq(r->element[0]->str, "master");
	cr_expect_eq(r->element[1]->type, REDIS_REPLY_INTEGER);
	cr_expect_eq(r->element[2]->elements, 0);
	freeReplyObject(r);
	cr_expect(info_has("# Replication\r\nrole:master\r\nconnected_slaves:0"
			   "\r\nmaster_failover_state:no-failover\r\n"));
	v = info_field("repl_backlog_active");
	cr_expect_str_eq(v, "0");
	free(v);
	v = info_field("repl_backlog_size");
	cr_expect_str_eq(v, "1048576");
	free(v);
	v = info_field("second_repl_offset");
	cr_expect_str_eq(v, "-1");
	free(v);
	/* no replica: writes refused when one is required */
	tn_expect_status(tn_cmd(cli, "CONFIG SET min-replicas-to-write 1"),
			 "OK");
	tn_expect_error(tn_cmd(cli, "SET k v"),
			"NOREPLICAS Not enough good replicas to write.");
	tn_expect_nil(tn_cmd(cli, "GET k"));
	/* and INFO counts the good ones, as Redis does then */
	cr_expect(info_has("\r\nconnected_slaves:0\r\n"
			   "min_slaves_good_slaves:0\r\n"
			   "master_failover_state:"));
	tn_expect_status(tn_cmd(cli, "CONFIG SET min-replicas-to-write 0"),
			 "OK");
	tn_expect_status(tn_cmd(cli, "SET k v"), "OK");
}

/* A full sync over a raw socket: returns the link, *offset = the
 * replication offset after the RDB, replid filled. */
static int full_sync(char *replid, long long *offset)
{
	static char buf[1 << 20];
	char mark[41], *p, *dollar;
	int fd = tn_raw_connect(&srv);
	size_t len;

	cr_assert_geq(fd, 0);
	send_str(fd, "*5\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$3\r\neof\r\n"
		     "$4\r\ncapa\r\n$6\r\npsync2\r\n"
		     "*3\r\n$8\r\nREPLCONF\r\n$14\r\nlistening-port\r\n"
		     "$4\r\n4242\r\n"
		     "*3\r\n$5\r\nPSYNC\r\n$1\r\n?\r\n$2\r\n-1\r\n");
	len = read_until(fd, buf, sizeof(buf), 0, "\r\nREDIS", 7);
	cr_assert(strncmp(buf, "+OK\r\n+OK\r\n+FULLRESYNC ", 21) == 0,
		  "handshake: %.80s", buf);
	p = buf + 21;
	cr_assert_eq(sscanf(p, "%40s %lld", replid, offset), 2);
	dollar = strstr(buf, "$EOF:");
	memcpy(mark, dollar + 5, 40);
	mark[40] = '\0';
	/* the RDB, then the mark, then nothing before our ACK */
	len = read_until_from(fd, buf, sizeof(buf), len,
			      (size_t)(dollar + 47 - buf), mark, 40);
	p = memmem(dollar + 47, len - (size_t)(dollar + 47 - buf), mark, 40);
	cr_assert(p, "no end mark");
	cr_expect_eq((size_t)(p + 40 - buf), len,
		     "stream bytes before the first ACK");
	return fd;
}

static void send_ack(int fd, long long off)
{
	char cmd[128], num[32];

	snprintf(num, sizeof(num), "%lld", off);
	snprintf(cmd, sizeof(cmd),
		 "*3\r\n$8\r\nREPLCONF\r\n$3\r\nACK\r\n$%zu\r\n%s\r\n",
		 strlen(num), num);
	send_str(fd, cmd);
}

Test(repl_master, full_then_partial_sync)
{
	static char buf[1 << 16];
	char replid[41], line[128], want[256];
	long long off, off2;
	size_t len;
	int fd, fd2;
	redisReply *r;

	tn_expect_status(tn_cmd(cli, "SET before 1"), "OK");
	fd = full_sync(replid, &off);
	cr_expect_eq(strlen(replid), 40);
	cr_assert(poll_info("connected_slaves:1\r\n"));
	send_ack(fd, off);
	/* the stream starts: SELECT 0, then our write as an effect */
	tn_expect_status(tn_cmd(cli, "SET k v"), "OK");
	len = read_until(fd, buf, sizeof(buf), 0, "$1\r\nk\r\n$1\r\nv\r\n",
			 14);
	cr_expect(strncmp(buf, "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", 23) == 0,
		  "stream starts with %.40s", buf);
	snprintf(want, sizeof(want),
		 "slave0:ip=127.0.0.1,port=4242,state=online,offset=%lld,",
		 off);
	cr_expect(poll_info(want), "no '%s'", want);
	r = tn_cmd(cli, "ROLE");
	cr_assert_eq(r->elements, 3);
	cr_assert_eq(r->element[2]->elements, 1);
	cr_expect_str_eq(r->element[2]->element[0]->element[0]->str,
			 "127.0.0.1");
	cr_expect_str_eq(r->element[2]->element[0]->element[1]->str, "4242");
	freeReplyObject(r);

	/* we got `len` bytes after `off`: ACK them, WAIT counts us */
	off2 = off + (long long)len;
	send_ack(fd, off2);
	tn_expect_int(tn_cmd(cli, "WAIT 1 1000"), 1);

	/* CLIENT KILL TYPE replica drops the link */
	tn_expect_int(tn_cmd(cli, "CLIENT KILL TYPE replica"), 1);
	len = 0;
	{
		long long deadline = tn_now_ms() + WAIT_MS;
		ssize_t n = 1;

		while (n > 0 && tn_now_ms() < deadline)
			n = read(fd, buf, sizeof(buf));
		cr_expect_eq(n, 0, "the link was not closed");
	}
	close(fd);
	cr_assert(poll_info("connected_slaves:0\r\n"));
	tn_expect_status(tn_cmd(cli, "SET k2 v2"), "OK");

	/* back from where we were: +CONTINUE and what we missed */
	fd2 = tn_raw_connect(&srv);
	snprintf(line, sizeof(line), "%lld", off2 + 1);
	snprintf(want, sizeof(want),
		 "*3\r\n$8\r\nREPLCONF\r\n$4\r\ncapa\r\n$6\r\npsync2\r\n"
		 "*3\r\n$5\r\nPSYNC\r\n$40\r\n%s\r\n$%zu\r\n%s\r\n",
		 replid, strlen(line), line);
	send_str(fd2, want);
	len = read_until(fd2, buf, sizeof(buf), 0,
			 "$2\r\nk2\r\n$2\r\nv2\r\n", 16);
	snprintf(want, sizeof(want), "+OK\r\n+CONTINUE %s\r\n", replid);
	cr_expect(strncmp(buf, want, strlen(want)) == 0, "got %.100s", buf);
	/* exactly the bytes after our ACKed offset: no SELECT again */
	cr_expect(memmem(buf, len, "SELECT", 6) == NULL, "got %.100s", buf);
	close(fd2);

	/* an offset out of the backlog: a full resync */
	fd2 = tn_raw_connect(&srv);
	snprintf(line, sizeof(line), "%lld", off2 + 100000000);
	snprintf(want, sizeof(want),
		 "*3\r\n$5\r\nPSYNC\r\n$40\r\n%s\r\n$%zu\r\n%s\r\n",
		 replid, strlen(line), line);
	send_str(fd2, want);
	read_until(fd2, buf, sizeof(buf), 0, "+FULLRESYNC ", 12);
	close(fd2);
}

Test(repl_master, journal_killed_drops_links)
{
	char replid[41];
	long long off;
	pid_t j, j2;
	int fd;

	fd = full_sync(replid, &off);
	cr_assert(poll_info("connected_slaves:1\r\n"));
	j = tn_child_pid(&srv, "titan: journal");
	cr_assert_gt(j, 0);
	kill(j, SIGKILL);
	j2 = tn_wait_child(&srv, "titan: journal", j, WAIT_MS);
	cr_assert_gt(j2, 0, "the journal was not restarted");
	{
		char b[4096];
		long long deadline = tn_now_ms() + WAIT_MS;
		ssize_t n = 1;

		while (n > 0 && tn_now_ms() < deadline)
			n = read(fd, b, sizeof(b));
		cr_expect_eq(n, 0, "the link outlived its journal");
	}
	close(fd);
	cr_expect(poll_info("connected_slaves:0\r\n"));
	/* a new replica syncs with the new journal */
	fd = full_sync(replid, &off);
	cr_expect(poll_info("connected_slaves:1\r\n"));
	close(fd);
	tn_expect_status(tn_cmd(cli, "SET after 1"), "OK");
}

/*
 * A second connection served by the same shard as `a`.  The acceptor
 * picks the least loaded shard: the others stay open until one lands.
 */
static redisContext *same_shard(redisContext *a)
{
	redisContext *tried[16], *b = NULL;
	int s = tn_client_shard(&srv, a, WAIT_MS), i, n = 0;

	cr_assert_geq(s, 0);
	while (!b && n < 16) {
		b = tn_connect(&srv);
		if (tn_client_shard(&srv, b, WAIT_MS) != s) {
			tried[n++] = b;
			b = NULL;
		}
	}
	for (i = 0; i < n; i++)
		redisFree(tried[i]);
	cr_assert(b, "no second connection on shard %d", s);
	return b;
}

static void send_raw(redisContext *c, const char *s)
{
	cr_assert_eq(write(c->fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Read from a raw connection until `want` bytes came (or fail). */
static void read_exact(redisContext *c, char *buf, size_t want,
		       int timeout_ms)
{
	long long deadline = tn_now_ms() + timeout_ms;
	size_t len = 0;

	while (len < want && tn_now_ms() < deadline) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		ssize_t n;

		if (poll(&p, 1, 10) <= 0)
			continue;
		n = read(c->fd, buf + len, want - len);
		cr_assert_gt(n, 0, "the server closed the connection");
		len += (size_t)n;
	}
	buf[len] = '\0';
	cr_assert_eq(len, want, "got only '%s'", buf);
}

/* Nothing arrives on the connection for `ms`. */
static bool silent_for(redisContext *c, int ms)
{
	struct pollfd p = {.fd = c->fd, .events = POLLIN};

	return poll(&p, 1, ms) == 0;
}

#define WAIT_800 "*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n800\r\n"
#define WAIT_FOREVER "*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$1\r\n0\r\n"

/*
 * No replica: WAIT 1 800 parks its client for 800 ms, while another
 * client of the same shard is served as usual.
 */
Test(repl_master, wait_blocks_only_its_client)
{
	redisContext *other = same_shard(cli);
	long long t0, busy, waited;
	char buf[8];
	int i;

	tn_expect_status(tn_cmd(cli, "SET mine 1"), "OK");
	t0 = tn_now_ms();
	send_raw(cli, WAIT_800);
	/* the WAIT is parked before our round trips begin */
	cr_assert(silent_for(cli, 20));
	for (i = 0; i < 50; i++) {
		tn_expect_status(tn_cmd(other, "PING"), "PONG");
		tn_expect_status(tn_cmd(other, "SET k%d v", i), "OK");
	}
	busy = tn_now_ms() - t0;
	cr_expect_lt(busy, 400, "100 round trips took %lld ms during a WAIT",
		     busy);
	read_exact(cli, buf, 4, 5000);
	waited = tn_now_ms() - t0;
	cr_expect_str_eq(buf, ":0\r\n");
	cr_expect_geq(waited, 799, "WAIT 1 800 answered after %lld ms",
		      waited);
	cr_expect_lt(waited, 3000);
	redisFree(other);
}

Test(repl_master, wait_zero_and_multi_answer_at_once)
{
	long long t0 = tn_now_ms();
	redisReply *r;

	tn_expect_int(tn_cmd(cli, "WAIT 0 0"), 0);
	tn_expect_int(tn_cmd(cli, "WAIT 0 100000"), 0);
	/* inside MULTI WAIT does not block, as Redis */
	tn_expect_status(tn_cmd(cli, "MULTI"), "OK");
	tn_expect_status(tn_cmd(cli, "SET k v"), "QUEUED");
	tn_expect_status(tn_cmd(cli, "WAIT 1 0"), "QUEUED");
	r = tn_cmd(cli, "EXEC");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 2);
	cr_expect_str_eq(r->element[0]->str, "OK");
	cr_expect_eq(r->element[1]->type, REDIS_REPLY_INTEGER);
	cr_expect_eq(r->element[1]->integer, 0);
	freeReplyObject(r);
	cr_expect_lt(tn_now_ms() - t0, 500);
}

/* Timeout 0 waits for ever; CLIENT KILL ends it, the shard goes on. */
Test(repl_master, wait_forever_then_killed)
{
	redisContext *other = same_shard(cli);
	redisReply *r = tn_cmd(cli, "CLIENT ID");
	long long id = r->integer;
	char b[16];

	freeReplyObject(r);
	send_raw(cli, WAIT_FOREVER);
	cr_expect(silent_for(cli, 300), "WAIT 1 0 answered");
	tn_expect_status(tn_cmd(other, "PING"), "PONG");
	/* shown as blocked, as Redis shows a client in WAIT */
	r = tn_cmd(other, "CLIENT LIST ID %lld", id);
	cr_expect(r->type == REDIS_REPLY_STRING &&
		      strstr(r->str, " flags=b ") != NULL,
		  "not flags=b: %s", r->str);
	freeReplyObject(r);
	r = tn_cmd(other, "INFO clients");
	cr_expect(strstr(r->str, "\r\nblocked_clients:1\r\n") != NULL, "%s",
		  r->str);
	freeReplyObject(r);
	tn_expect_int(tn_cmd(other, "CLIENT KILL ID %lld", id), 1);
	{
		struct pollfd p = {.fd = cli->fd, .events = POLLIN};

		cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "not closed");
		cr_expect_eq(read(cli->fd, b, sizeof(b)), 0,
			     "a reply instead of the close");
	}
	tn_expect_status(tn_cmd(other, "SET after kill"), "OK");
	r = tn_cmd(other, "INFO clients");
	cr_expect(strstr(r->str, "\r\nblocked_clients:0\r\n") != NULL, "%s",
		  r->str);
	freeReplyObject(r);
	redisFree(cli);
	cli = other;
}

/* Clients that hang up while parked are freed; the server stays well. */
Test(repl_master, wait_client_disconnects)
{
	long long deadline;
	int i;

	for (i = 0; i < 8; i++) {
		redisContext *c = tn_connect(&srv);

		send_raw(c, i & 1 ? WAIT_FOREVER : WAIT_800);
		/* pipelined behind it, never to run */
		send_raw(c, "*3\r\n$3\r\nSET\r\n$4\r\ngone\r\n$1\r\n1\r\n");
		cr_expect(silent_for(c, 20));
		redisFree(c);
	}
	deadline = tn_now_ms() + WAIT_MS;
	for (;;) {
		redisReply *r = tn_cmd(cli, "INFO clients");
		bool one = strstr(r->str, "connected_clients:1\r\n") != NULL;

		freeReplyObject(r);
		if (one)
			break;
		cr_assert_lt(tn_now_ms(), deadline,
			     "the parked clients were not freed");
		usleep(10000);
	}
	tn_expect_int(tn_cmd(cli, "EXISTS gone"), 0);
	tn_expect_status(tn_cmd(cli, "PING"), "PONG");
	tn_expect_int(tn_cmd(cli, "WAIT 0 10"), 0);
}

/* Commands pipelined after a WAIT run after its reply, in order. */
Test(repl_master, wait_pipelined_commands_follow)
{
	redisContext *other = same_shard(cli);
	const char *want = ":0\r\n+OK\r\n$1\r\n1\r\n:2\r\n+PONG\r\n";
	char buf[64];

	send_raw(cli, "*3\r\n$4\r\nWAIT\r\n$1\r\n1\r\n$3\r\n300\r\n"
		      "*3\r\n$3\r\nSET\r\n$1\r\np\r\n$1\r\n1\r\n"
		      "*2\r\n$3\r\nGET\r\n$1\r\np\r\n"
		      "*2\r\n$4\r\nINCR\r\n$1\r\np\r\n"
		      "*1\r\n$4\r\nPING\r\n");
	cr_expect(silent_for(cli, 50));
	/* not run yet: the other client sees no p */
	tn_expect_nil(tn_cmd(other, "GET p"));
	read_exact(cli, buf, strlen(want), 5000);
	cr_expect_str_eq(buf, want);
	tn_expect_str(tn_cmd(other, "GET p"), "2");
	redisFree(other);
}

/* A stock redis-server 7.0 replica: WAIT 1 answers 1 soon after a write
 * (GETACK), not at the deadline. */
Test(repl_master, wait_stock_replica)
{
	long long t0, took;

	if (!stock_start(0))
		return;
	cr_assert(poll_info("slave0:ip=127.0.0.1,port="),
		  "the stock replica did not attach");
	cr_assert(poll_info(",state=online,"), "the replica is not online");
	tn_expect_status(tn_cmd(cli, "SET k v"), "OK");
	t0 = tn_now_ms();
	tn_expect_int(tn_cmd(cli, "WAIT 1 5000"), 1);
	took = tn_now_ms() - t0;
	cr_expect_lt(took, 900, "WAIT took %lld ms: no GETACK or no wake?",
		     took);
	/* more than there are: the deadline, with the count */
	t0 = tn_now_ms();
	tn_expect_int(tn_cmd(cli, "WAIT 2 300"), 1);
	cr_expect_geq(tn_now_ms() - t0, 299);
	stock_stop();
}

/* REPLICAOF lets a parked WAIT go as Redis does: an error, then close. */
Test(repl_master, wait_unblocked_by_replicaof)
{
	const char *want = "-UNBLOCKED force unblock from blocking operation, "
			   "instance state changed (master -> replica?)\r\n";
	redisContext *other = tn_connect(&srv);
	char buf[128];
	ssize_t n;

	send_raw(cli, WAIT_FOREVER);
	cr_assert(silent_for(cli, 50));
	tn_expect_status(
	    tn_cmd(other, "REPLICAOF 127.0.0.1 %d", tn_free_port()), "OK");
	read_exact(cli, buf, strlen(want), WAIT_MS);
	cr_expect_str_eq(buf, want);
	n = read(cli->fd, buf, sizeof(buf));
	cr_expect_eq(n, 0, "not closed after the error");
	tn_expect_status(tn_cmd(other, "REPLICAOF NO ONE"), "OK");
	tn_expect_status(tn_cmd(other, "PING"), "PONG");
	redisFree(cli);
	cli = other;
}

/* How many lines of the server's log hold `what`. */
static int log_count(const char *what)
{
	char line[1024];
	FILE *f = fopen(srv.log, "r");
	int n = 0;

	cr_assert_not_null(f, "%s", srv.log);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, what) != NULL;
	fclose(f);
	return n;
}

/* Both stock replicas online, each with the master's DBSIZE. */
static void expect_replicas_synced(long long keys)
{
	int i;

	cr_assert(poll_info("slave1:"), "the second replica did not attach");
	for (i = 0; i < NSTOCK; i++) {
		char line[64];

		snprintf(line, sizeof(line), "slave%d:ip=127.0.0.1,port=", i);
		cr_assert(info_has(line));
	}
	for (i = 0; i < NSTOCK; i++) {
		long long deadline = tn_now_ms() + WAIT_MS;
		char field[24];

		snprintf(field, sizeof(field), "slave%d", i);
		for (;;) {
			char *v = info_field(field);
			bool online = strstr(v, "state=online") != NULL;

			free(v);
			if (online)
				break;
			cr_assert_lt(tn_now_ms(), deadline,
				     "replica %d is not online", i);
			usleep(10000);
		}
	}
	/* (a replica may still be loading what it received) */
	for (i = 0; i < NSTOCK; i++) {
		redisContext *r = redisConnect("127.0.0.1", stock_port[i]);
		long long deadline = tn_now_ms() + WAIT_MS, got = -1;

		cr_assert(r && !r->err);
		while (got != keys && tn_now_ms() < deadline) {
			redisReply *n = tn_cmd(r, "DBSIZE");

			got = n->type == REDIS_REPLY_INTEGER ? n->integer : -1;
			freeReplyObject(n);
			if (got != keys)
				usleep(10000);
		}
		cr_expect_eq(got, keys, "replica %d has %lld keys", i, got);
		redisFree(r);
	}
}

/* Keys for a snapshot to carry. */
static void fill(int n)
{
	redisReply *r;
	int i;

	for (i = 0; i < n; i++)
		redisAppendCommand(cli, "SET key:%d value:%d", i, i);
	for (i = 0; i < n; i++) {
		cr_assert_eq(redisGetReply(cli, (void **)&r), REDIS_OK);
		freeReplyObject(r);
	}
}

/* CONFIG SET `config`, `keys` keys, then both stock replicas started
 * and synced; false when the test is skipped (no redis-server). */
static bool two_replicas_synced(const char *config, int keys)
{
	const char *argv[8] = {"CONFIG", "SET"};
	char buf[128], *save = NULL, *w;
	redisReply *r;
	int argc = 2;

	snprintf(buf, sizeof(buf), "%s", config);
	for (w = strtok_r(buf, " ", &save); w && argc < 8;
	     w = strtok_r(NULL, " ", &save))
		argv[argc++] = w;
	r = redisCommandArgv(cli, argc, argv, NULL);
	cr_assert_not_null(r, "CONFIG SET %s: no reply", config);
	tn_expect_status(r, "OK");
	fill(keys);
	if (!stock_start(0) || !stock_start(1))
		return false;
	expect_replicas_synced(keys);
	return true;
}

/*
 * repl-diskless-sync (Redis' default): replicas asking for a full sync
 * within repl-diskless-sync-delay of the first share one snapshot.
 */
Test(repl_master, diskless_sync_shared_by_replicas_asking_together)
{
	if (!two_replicas_synced("repl-diskless-sync-delay 2", 2000))
		return;
	cr_expect_eq(log_count("Starting BGSAVE for SYNC with target: "
			       "replicas sockets"),
		     1, "one snapshot for both replicas");
	cr_expect_eq(log_count("Delay next BGSAVE for diskless SYNC"), 2);
	/* the stream goes on to both */
	tn_expect_status(tn_cmd(cli, "SET after sync"), "OK");
	tn_expect_int(tn_cmd(cli, "WAIT 2 5000"), 2);
}

/* repl-diskless-sync-max-replicas: that many waiting start it at once,
 * not after the (here 60 s) delay. */
Test(repl_master, diskless_sync_starts_at_max_replicas)
{
	if (!two_replicas_synced("repl-diskless-sync-delay 60 "
				 "repl-diskless-sync-max-replicas 2",
				 500))
		return;
	cr_expect_eq(log_count("Starting BGSAVE for SYNC with target: "
			       "replicas sockets"),
		     1);
}

/* repl-diskless-sync no: a snapshot file, even for replicas that could
 * read the disk-less form. */
Test(repl_master, disk_sync_when_diskless_is_off)
{
	if (!two_replicas_synced("repl-diskless-sync no", 500))
		return;
	cr_expect_geq(log_count("Starting BGSAVE for SYNC with target: disk"),
		      1);
	cr_expect_eq(log_count("target: replicas sockets"), 0);
}
