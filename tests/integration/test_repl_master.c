/*
 * test_repl_master.c - the master side of replication seen through a raw
 * replica socket: REPLCONF and WAIT errors as Redis words them, ROLE and
 * INFO with and without a replica, a disk-less full sync (FULLRESYNC,
 * $EOF mark, then the live stream after the first ACK), a partial resync
 * (+CONTINUE), NOREPLICAS, and a journal killed with -9.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
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

static void teardown(void)
{
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
