/*
 * test_limits.c - hostile and oversized input: huge bulk headers, garbage,
 * maxmemory, proto-max-bulk-len, inline commands, the pre-AUTH limits.
 * The server answers with Redis' error, closes that client only, and
 * goes on serving everyone else.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/integration/harness.h"

#define WAIT_MS 10000

static struct tn_server srv;

static void start(const char *extra)
{
	cr_assert(tn_server_start(&srv, extra) == 0, "server did not start");
}

static void stop(void)
{
	bool running = srv.pid > 0;
	int rc = tn_server_stop(&srv);

	if (running)
		cr_expect(rc == 0, "supervisor did not exit 0 on SIGTERM");
}

TestSuite(limits, .fini = stop, .timeout = 120);

/*
 * Send `req` on a fresh connection; expect exactly `reply` back, and the
 * connection closed afterwards when `closes`.
 */
static void expect_raw(const char *req, size_t len, const char *reply,
		       bool closes)
{
	char out[4096];
	bool closed;
	ssize_t n;

	n = tn_raw_talk(&srv, req, len, out, sizeof(out),
			closes ? 0 : strlen(reply), closes ? WAIT_MS : 2000,
			&closed);
	cr_expect(n == (ssize_t)strlen(reply) && strcmp(out, reply) == 0,
		  "sent \"%.40s\": got \"%s\" (%zd bytes), want \"%s\"", req,
		  n > 0 ? out : "", n, reply);
	if (closes)
		cr_expect(closed, "sent \"%.40s\": connection not closed", req);
	else
		cr_expect(!closed, "sent \"%.40s\": connection closed", req);
}

#define RAW(req, reply, closes) expect_raw(req, sizeof(req) - 1, reply, closes)

static void expect_alive(redisContext *c)
{
	tn_expect_status(tn_cmd(c, "PING"), "PONG");
	tn_expect_str(tn_cmd(c, "GET keep"), "1");
}

Test(limits, huge_bulk_header)
{
	redisContext *c;

	start(NULL);
	c = tn_connect(&srv);
	tn_expect_status(tn_cmd(c, "SET keep 1"), "OK");
	RAW("*1\r\n$2147483648\r\n",
	    "-ERR Protocol error: invalid bulk length\r\n", true);
	expect_alive(c);
	RAW("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$99999999999999999999\r\n",
	    "-ERR Protocol error: invalid bulk length\r\n", true);
	RAW("*2147483648\r\n",
	    "-ERR Protocol error: invalid multibulk length\r\n", true);
	expect_alive(c);
	redisFree(c);
}

Test(limits, garbage)
{
	static char big[70000];
	redisContext *c;
	char *req, out[4096];
	unsigned seed = (unsigned)getpid();
	bool closed;
	ssize_t n;
	int round, i;

	start(NULL);
	c = tn_connect(&srv);
	tn_expect_status(tn_cmd(c, "SET keep 1"), "OK");
	RAW("*-5\r\n*abc\r\n",
	    "-ERR Protocol error: invalid multibulk length\r\n", true);
	RAW("*2\r\nxyz\r\n", "-ERR Protocol error: expected '$', got 'x'\r\n",
	    true);
	RAW("*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length\r\n",
	    true);
	RAW("*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length\r\n",
	    true);
	RAW("\"unbalanced\r\n",
	    "-ERR Protocol error: unbalanced quotes in request\r\n", true);
	/* a negative count is an empty request, not an error */
	RAW("*-5\r\nPING\r\n", "+PONG\r\n", false);
	RAW("*0\r\nPING\r\n", "+PONG\r\n", false);
	expect_alive(c);

	memset(big, 'a', sizeof(big));
	expect_raw(big, sizeof(big),
		   "-ERR Protocol error: too big inline request\r\n", true);
	big[0] = '*';
	memset(big + 1, '1', sizeof(big) - 1);
	expect_raw(big, sizeof(big),
		   "-ERR Protocol error: too big mbulk count string\r\n", true);
	expect_alive(c);

	/* random bytes: an error or silence, never a crash */
	req = malloc(8192);
	for (round = 0; round < 40; round++) {
		size_t len = 1 + (size_t)(rand_r(&seed) % 8192);

		for (i = 0; i < (int)len; i++)
			req[i] = (char)(rand_r(&seed) & 0xff);
		if (round % 4 == 0)
			req[0] = '*';
		else if (round % 4 == 1)
			req[0] = '\0';
		n = tn_raw_talk(&srv, req, len, out, sizeof(out), 0, 300,
				&closed);
		cr_expect(n <= 0 || out[0] == '-',
			  "round %d (seed %u): non-error reply \"%.60s\"",
			  round, seed, out);
		expect_alive(c);
	}
	free(req);
	redisFree(c);
}

Test(limits, maxmemory)
{
	enum { VAL = 10 * 1024, MAXKEYS = 5000 };
	char *val = malloc(VAL), name[32];
	pid_t s0, s1;
	redisContext *c;
	redisReply *r;
	int i, n = -1;

	start("maxmemory 2mb");
	/* a shard may not have set its title yet right after start */
	s0 = tn_wait_child(&srv, "titan: shard 0", 0, WAIT_MS);
	s1 = tn_wait_child(&srv, "titan: shard 1", 0, WAIT_MS);
	cr_assert(s0 > 0 && s1 > 0);
	c = tn_connect(&srv);
	memset(val, 'v', VAL);
	for (i = 0; i < MAXKEYS; i++) {
		r = tn_cmd(c, "SET big:%d %b", i, val, (size_t)VAL);
		if (r->type == REDIS_REPLY_ERROR) {
			cr_expect_str_eq(r->str,
					 "OOM command not allowed when used "
					 "memory > 'maxmemory'.");
			freeReplyObject(r);
			n = i;
			break;
		}
		tn_expect_status(r, "OK");
	}
	cr_assert(n >= 0, "%d SETs of 10 KB under maxmemory 2mb: no -OOM",
		  MAXKEYS);
	cr_expect(n >= 10 && n <= 210, "-OOM after %d SETs of 10 KB", n);
	/* refused again, not crashed; reads and deletes still go */
	tn_expect_error(tn_cmd(c, "SET big:x %b", val, (size_t)VAL), "OOM ");
	tn_expect_status(tn_cmd(c, "PING"), "PONG");
	if (n > 0) {
		r = tn_cmd(c, "GET big:0");
		cr_expect(r->type == REDIS_REPLY_STRING && r->len == VAL,
			  "GET under -OOM: type %d len %zu", r->type, r->len);
		freeReplyObject(r);
	}
	tn_expect_nil(tn_cmd(c, "GET big:x"));
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "big:%d", i);
		tn_expect_int(tn_cmd(c, "DEL %s", name), 1);
	}
	tn_expect_status(tn_cmd(c, "SET big:again %b", val, (size_t)VAL), "OK");
	tn_expect_status(tn_cmd(c, "SET small x"), "OK");
	tn_expect_str(tn_cmd(c, "GET small"), "x");
	cr_expect_eq(tn_child_pid(&srv, "titan: shard 0"), s0,
		     "shard 0 died on the way");
	cr_expect_eq(tn_child_pid(&srv, "titan: shard 1"), s1,
		     "shard 1 died on the way");
	cr_expect(!tn_file_contains(srv.log, "killed by signal"),
		  "a process was killed (see %s)", srv.log);
	redisFree(c);
	free(val);
}

Test(limits, proto_max_bulk_len)
{
	enum { MB = 1024 * 1024 };
	char *val = malloc(MB + 1);
	redisContext *c;
	redisReply *r;

	start("proto-max-bulk-len 1mb");
	c = tn_connect(&srv);
	tn_expect_status(tn_cmd(c, "SET keep 1"), "OK");
	RAW("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2097152\r\n",
	    "-ERR Protocol error: invalid bulk length\r\n", true);
	RAW("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n",
	    "-ERR Protocol error: invalid bulk length\r\n", true);
	expect_alive(c);
	/* the limit itself is allowed */
	memset(val, 'b', MB);
	tn_expect_status(tn_cmd(c, "SET k %b", val, (size_t)MB), "OK");
	r = tn_cmd(c, "GET k");
	cr_expect(r->type == REDIS_REPLY_STRING && r->len == MB &&
		      memcmp(r->str, val, MB) == 0,
		  "GET of a 1 MB value: type %d len %zu", r->type, r->len);
	freeReplyObject(r);
	redisFree(c);
	free(val);
}

Test(limits, inline_commands)
{
	start(NULL);
	RAW("PING\r\n", "+PONG\r\n", false);
	RAW("PING\n", "+PONG\r\n", false);
	RAW("\r\n\r\nPING\r\n", "+PONG\r\n", false);
	RAW("SET a b\r\nGET a\r\n", "+OK\r\n$1\r\nb\r\n", false);
	RAW("SET \"sp ace\" \"x\\ty\"\r\nGET \"sp ace\"\r\n",
	    "+OK\r\n$3\r\nx\ty\r\n", false);
	RAW("ping hello\r\n", "$5\r\nhello\r\n", false);
	RAW("NOSUCH a\r\n",
	    "-ERR unknown command 'NOSUCH', with args beginning with: 'a' \r\n",
	    false);
}

Test(limits, unauthenticated)
{
	start("requirepass s3cret");
	RAW("*100\r\n",
	    "-ERR Protocol error: unauthenticated multibulk length\r\n", true);
	RAW("*2\r\n$3\r\nGET\r\n$20000\r\n",
	    "-ERR Protocol error: unauthenticated bulk length\r\n", true);
	RAW("*1\r\n$4\r\nPING\r\n", "-NOAUTH Authentication required.\r\n",
	    false);
	/* the limits end with AUTH: a 100-argument header then just waits */
	RAW("*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n*100\r\n", "+OK\r\n", false);
}
