/*
 * test_pubsub.c - pub/sub against a real two-shard server: Redis 7.0's
 * replies byte for byte in RESP2 and RESP3, the subscribed context,
 * messages crossing shards, PUBSUB introspection, shard channels, slow
 * subscribers cut off by client-output-buffer-limit while the publisher
 * keeps going, a killed shard leaving no ghost subscribers, and CLIENT
 * LIST's sub= psub= ssub= multi= seen from either shard.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/integration/harness.h"

#define WAIT_MS 10000 /* bound on every "until it happens" poll */
#define REPLY_MAX 8192

static struct tn_server srv;

static void setup(void)
{
	cr_assert(tn_server_start(&srv, NULL) == 0, "server did not start");
}

static void teardown(void)
{
	cr_expect(tn_server_stop(&srv) == 0, "supervisor did not exit 0");
}

TestSuite(pubsub, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* The next reply on fd must be exactly `want`. */
static void expect_next(int fd, const char *want)
{
	char buf[REPLY_MAX];
	ssize_t n = tn_raw_read_reply(fd, buf, sizeof(buf), 5000);

	cr_assert_geq(n, 0, "no reply, wanted %s", want);
	cr_expect_str_eq(buf, want);
}

/* Send a command; its (first) reply must be exactly `want`. */
#define EXPECT_CMD(fd, want, ...)                                            \
	do {                                                                 \
		char b_[REPLY_MAX];                                          \
		ssize_t n_ = tn_raw_cmd(fd, b_, sizeof(b_), __VA_ARGS__,     \
					(char *)NULL);                       \
		cr_assert_geq(n_, 0, "no reply, wanted %s", want);           \
		cr_expect_str_eq(b_, want);                                  \
	} while (0)

/* Exactly these bytes arrive next on fd (a reply with pushes inside). */
static void expect_bytes(int fd, const char *want)
{
	size_t len = strlen(want), got = 0;
	long long deadline = tn_now_ms() + WAIT_MS;
	char buf[REPLY_MAX];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	ssize_t n;

	cr_assert_lt(len, sizeof(buf));
	while (got < len && tn_now_ms() < deadline) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		n = read(fd, buf + got, len - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	cr_expect_str_eq(buf, want);
}

/* Nothing more arrives on fd for a moment. */
static void expect_silence(int fd, int ms)
{
	char buf[REPLY_MAX];

	cr_expect_lt(tn_raw_read_reply(fd, buf, sizeof(buf), ms), 0,
		     "unexpected: %s", buf);
}

/* "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n" and friends. */
static const char *frame3(char *buf, size_t len, int resp, const char *a,
			  const char *b, const char *c_or_null, long long n,
			  bool last_is_int)
{
	char tail[128];

	if (last_is_int)
		snprintf(tail, sizeof(tail), ":%lld\r\n", n);
	else if (c_or_null)
		snprintf(tail, sizeof(tail), "$%zu\r\n%s\r\n",
			 strlen(c_or_null), c_or_null);
	else
		snprintf(tail, sizeof(tail), "%s", resp == 3 ? "_\r\n" : "$-1\r\n");
	if (b)
		snprintf(buf, len, "%c3\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n%s",
			 resp == 3 ? '>' : '*', strlen(a), a, strlen(b), b,
			 tail);
	else
		snprintf(buf, len, "%c3\r\n$%zu\r\n%s\r\n%s%s",
			 resp == 3 ? '>' : '*', strlen(a), a,
			 resp == 3 ? "_\r\n" : "$-1\r\n", tail);
	return buf;
}

/* A (un)subscribe confirmation. */
static const char *conf(char *buf, size_t len, int resp, const char *what,
			const char *name, long long count)
{
	return frame3(buf, len, resp, what, name, NULL, count, true);
}

/* A message, pmessage or smessage frame. */
static const char *msg(char *buf, size_t len, int resp, const char *kind,
		       const char *pattern, const char *ch, const char *payload)
{
	if (pattern)
		snprintf(buf, len,
			 "%c4\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n$%zu\r\n%s\r\n"
			 "$%zu\r\n%s\r\n",
			 resp == 3 ? '>' : '*', strlen(kind), kind,
			 strlen(pattern), pattern, strlen(ch), ch,
			 strlen(payload), payload);
	else
		frame3(buf, len, resp, kind, ch, payload, 0, false);
	return buf;
}

/* Which shard serves this raw connection. */
static int fd_shard(int fd)
{
	redisContext rc;

	memset(&rc, 0, sizeof(rc));
	rc.fd = fd;
	return tn_client_shard(&srv, &rc, WAIT_MS);
}

/* A raw connection; rcvbuf > 0 sets its receive buffer before the
 * handshake (after it, window scaling makes a tiny buffer stall). */
static int raw_connect(int rcvbuf)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	if (rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sa.sin_port = htons(srv.port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* A raw connection served by `shard`. */
static int raw_on_shard_rcvbuf(int shard, int rcvbuf)
{
	int tries, fd, spare[64], nspare = 0, i;

	for (tries = 0; tries < 64; tries++) {
		fd = raw_connect(rcvbuf);
		if (fd_shard(fd) == shard)
			break;
		spare[nspare++] = fd;
		fd = -1;
	}
	for (i = 0; i < nspare; i++)
		close(spare[i]);
	cr_assert_geq(fd, 0, "no connection landed on shard %d", shard);
	return fd;
}

static int raw_on_shard(int shard)
{
	return raw_on_shard_rcvbuf(shard, 0);
}

/* A hiredis connection served by `shard`. */
static redisContext *hiredis_on_shard(int shard)
{
	redisContext *spare[64], *c = NULL;
	int tries, nspare = 0, i;

	for (tries = 0; tries < 64; tries++) {
		c = tn_connect(&srv);
		cr_assert_not_null(c);
		if (tn_client_shard(&srv, c, WAIT_MS) == shard)
			break;
		spare[nspare++] = c;
		c = NULL;
	}
	for (i = 0; i < nspare; i++)
		redisFree(spare[i]);
	cr_assert_not_null(c, "no connection landed on shard %d", shard);
	return c;
}

static long long numsub(redisContext *c, const char *sub, const char *ch)
{
	redisReply *r = tn_cmd(c, "PUBSUB %s %s", sub, ch);
	long long n;

	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 2);
	cr_assert_str_eq(r->element[0]->str, ch);
	n = r->element[1]->integer;
	freeReplyObject(r);
	return n;
}

/* Poll PUBSUB NUMSUB until it is `want` (the count of a closing client
 * drops when its shard has noticed). */
static void wait_numsub(redisContext *c, const char *ch, long long want)
{
	long long deadline = tn_now_ms() + WAIT_MS, n;

	while ((n = numsub(c, "NUMSUB", ch)) != want && tn_now_ms() < deadline)
		usleep(2000);
	cr_expect_eq(n, want, "NUMSUB %s", ch);
}

static long long publish(redisContext *c, const char *ch, const char *m)
{
	redisReply *r = tn_cmd(c, "PUBLISH %s %s", ch, m);
	long long n;

	cr_assert_eq(r->type, REDIS_REPLY_INTEGER, "%s", r->str ? r->str : "");
	n = r->integer;
	freeReplyObject(r);
	return n;
}

/* ------------------------------------------------------------------ */
/* Replies                                                              */
/* ------------------------------------------------------------------ */

Test(pubsub, subscribe_and_unsubscribe_replies_resp2)
{
	int fd = tn_raw_connect(&srv);
	char b[512];

	cr_assert_geq(fd, 0);
	/* nothing to leave: a nil name and the count */
	EXPECT_CMD(fd, "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n",
		   "UNSUBSCRIBE");
	EXPECT_CMD(fd, "*3\r\n$12\r\npunsubscribe\r\n$-1\r\n:0\r\n",
		   "PUNSUBSCRIBE");
	EXPECT_CMD(fd, "*3\r\n$12\r\nsunsubscribe\r\n$-1\r\n:0\r\n",
		   "SUNSUBSCRIBE");
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "unsubscribe", "a", 0),
		   "UNSUBSCRIBE", "a", "b");
	expect_next(fd, conf(b, sizeof(b), 2, "unsubscribe", "b", 0));
	/* a channel twice counts once */
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "subscribe", "a", 1),
		   "SUBSCRIBE", "a", "b", "a");
	expect_next(fd, conf(b, sizeof(b), 2, "subscribe", "b", 2));
	expect_next(fd, conf(b, sizeof(b), 2, "subscribe", "a", 2));
	/* patterns count with channels; shard channels apart */
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "psubscribe", "p*", 3),
		   "PSUBSCRIBE", "p*", "a");
	expect_next(fd, conf(b, sizeof(b), 2, "psubscribe", "a", 4));
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "ssubscribe", "s1", 1),
		   "SSUBSCRIBE", "s1", "s2");
	expect_next(fd, conf(b, sizeof(b), 2, "ssubscribe", "s2", 2));
	/* leaving one not subscribed to still answers */
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "unsubscribe", "zz", 4),
		   "UNSUBSCRIBE", "zz");
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "unsubscribe", "a", 3),
		   "UNSUBSCRIBE", "a");
	/* all: one reply per channel, in some order, counting down */
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "unsubscribe", "b", 2),
		   "UNSUBSCRIBE");
	EXPECT_CMD(fd, "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:2\r\n",
		   "UNSUBSCRIBE");
	{
		char r1[512], r2[512];
		char w1[512], w2[512], w3[512], w4[512];

		cr_assert_geq(tn_raw_cmd(fd, r1, sizeof(r1), "PUNSUBSCRIBE",
					 (char *)NULL),
			      0);
		cr_assert_geq(tn_raw_read_reply(fd, r2, sizeof(r2), 5000), 0);
		conf(w1, sizeof(w1), 2, "punsubscribe", "p*", 1);
		conf(w2, sizeof(w2), 2, "punsubscribe", "a", 0);
		conf(w3, sizeof(w3), 2, "punsubscribe", "a", 1);
		conf(w4, sizeof(w4), 2, "punsubscribe", "p*", 0);
		cr_expect((!strcmp(r1, w1) && !strcmp(r2, w2)) ||
			      (!strcmp(r1, w3) && !strcmp(r2, w4)),
			  "got %s then %s", r1, r2);
	}
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "sunsubscribe", "s1", 1),
		   "SUNSUBSCRIBE", "s1");
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "sunsubscribe", "s2", 0),
		   "SUNSUBSCRIBE");
	/* out of the subscribed context again */
	EXPECT_CMD(fd, "$-1\r\n", "GET", "x");
	close(fd);
}

Test(pubsub, subscribed_context_resp2)
{
	int fd = tn_raw_connect(&srv);
	char b[512];

	cr_assert_geq(fd, 0);
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "ssubscribe", "s", 1),
		   "SSUBSCRIBE", "s");
	EXPECT_CMD(fd,
		   "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / "
		   "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
		   "context\r\n",
		   "GET", "x");
	EXPECT_CMD(fd,
		   "-ERR Can't execute 'pubsub|numsub': only (P|S)SUBSCRIBE / "
		   "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
		   "context\r\n",
		   "PUBSUB", "NUMSUB", "s");
	EXPECT_CMD(fd,
		   "-ERR Can't execute 'publish': only (P|S)SUBSCRIBE / "
		   "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this "
		   "context\r\n",
		   "PUBLISH", "s", "x");
	/* unknown commands and bad arity are refused first, as Redis */
	EXPECT_CMD(fd, "-ERR wrong number of arguments for 'get' command\r\n",
		   "GET");
	EXPECT_CMD(fd, "*2\r\n$4\r\npong\r\n$0\r\n\r\n", "PING");
	EXPECT_CMD(fd, "*2\r\n$4\r\npong\r\n$5\r\nhello\r\n", "PING", "hello");
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "subscribe", "c", 1), "SUBSCRIBE",
		   "c");
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "psubscribe", "p", 2),
		   "PSUBSCRIBE", "p");
	/* RESET leaves every channel, without a word, and answers */
	EXPECT_CMD(fd, "+RESET\r\n", "RESET");
	EXPECT_CMD(fd, "+PONG\r\n", "PING");
	EXPECT_CMD(fd, "$-1\r\n", "GET", "x");
	EXPECT_CMD(fd, "*2\r\n$1\r\nc\r\n:0\r\n", "PUBSUB", "NUMSUB", "c");
	EXPECT_CMD(fd, "*2\r\n$1\r\ns\r\n:0\r\n", "PUBSUB", "SHARDNUMSUB", "s");
	EXPECT_CMD(fd, ":0\r\n", "PUBSUB", "NUMPAT");
	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "subscribe", "c", 1), "SUBSCRIBE",
		   "c");
	EXPECT_CMD(fd, "+OK\r\n", "QUIT");
	close(fd);
}

Test(pubsub, resp3_push_frames)
{
	redisContext *pub = tn_connect(&srv);
	int fd = tn_raw_connect(&srv);
	char b[512];

	cr_assert_geq(fd, 0);
	cr_assert_geq(tn_raw_cmd(fd, b, sizeof(b), "HELLO", "3", (char *)NULL),
		      0);
	cr_assert_eq(b[0], '%');
	EXPECT_CMD(fd, ">3\r\n$11\r\nunsubscribe\r\n_\r\n:0\r\n", "UNSUBSCRIBE");
	EXPECT_CMD(fd, conf(b, sizeof(b), 3, "subscribe", "ch", 1),
		   "SUBSCRIBE", "ch");
	EXPECT_CMD(fd, conf(b, sizeof(b), 3, "psubscribe", "c*", 2),
		   "PSUBSCRIBE", "c*");
	EXPECT_CMD(fd, conf(b, sizeof(b), 3, "ssubscribe", "s", 1),
		   "SSUBSCRIBE", "s");
	/* RESP3 has no subscribed context */
	EXPECT_CMD(fd, "_\r\n", "GET", "x");
	EXPECT_CMD(fd, "+PONG\r\n", "PING");
	EXPECT_CMD(fd, "$2\r\nhi\r\n", "PING", "hi");
	cr_expect_eq(publish(pub, "ch", "hello"), 2);
	expect_next(fd, msg(b, sizeof(b), 3, "message", NULL, "ch", "hello"));
	expect_next(fd, msg(b, sizeof(b), 3, "pmessage", "c*", "ch", "hello"));
	freeReplyObject(tn_cmd(pub, "SPUBLISH s x"));
	expect_next(fd, msg(b, sizeof(b), 3, "smessage", NULL, "s", "x"));
	/* to itself: the push, then the reply, as Redis 7.0 */
	EXPECT_CMD(fd, msg(b, sizeof(b), 3, "pmessage", "c*", "cz", "me"),
		   "PUBLISH", "cz", "me");
	expect_next(fd, ":1\r\n");
	EXPECT_CMD(fd, conf(b, sizeof(b), 3, "unsubscribe", "ch", 1),
		   "UNSUBSCRIBE");
	EXPECT_CMD(fd, conf(b, sizeof(b), 3, "punsubscribe", "c*", 0),
		   "PUNSUBSCRIBE");
	EXPECT_CMD(fd, conf(b, sizeof(b), 3, "sunsubscribe", "s", 0),
		   "SUNSUBSCRIBE");
	cr_expect_eq(publish(pub, "ch", "gone"), 0);
	expect_silence(fd, 100);
	close(fd);
	redisFree(pub);
}

/* Send a command without reading its reply. */
static void send_cmd(int fd, const char *cmd)
{
	size_t len = strlen(cmd);

	cr_assert_eq(write(fd, cmd, len), (ssize_t)len);
}

#define PUSH_CH_X ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n"
#define PUSH_PAT_X ">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$1\r\nx\r\n"

/*
 * Redis 7.0 writes a message to its subscribers while PUBLISH runs: a
 * RESP3 client publishing to itself gets the pushes before the reply,
 * inside EXEC's array too, and a keyspace event before SET's +OK.  The
 * publisher's own shard is written to directly, on either shard.
 */
Test(pubsub, resp3_own_messages_come_before_the_reply)
{
	redisContext *cfg = tn_connect(&srv);
	char b[512];
	int s, fd;

	tn_expect_status(tn_cmd(cfg, "CONFIG SET notify-keyspace-events K$"),
			 "OK");
	for (s = 0; s < 2; s++) {
		fd = raw_on_shard(s);
		cr_assert_geq(tn_raw_cmd(fd, b, sizeof(b), "HELLO", "3",
					 (char *)NULL),
			      0);
		EXPECT_CMD(fd, conf(b, sizeof(b), 3, "subscribe", "ch", 1),
			   "SUBSCRIBE", "ch");
		EXPECT_CMD(fd, conf(b, sizeof(b), 3, "psubscribe", "c*", 2),
			   "PSUBSCRIBE", "c*");
		send_cmd(fd, "PUBLISH ch x\r\n");
		expect_bytes(fd, PUSH_CH_X PUSH_PAT_X ":2\r\n");
		/* pipelined: each reply after its own pushes */
		send_cmd(fd, "PUBLISH ch x\r\nPUBLISH ch x\r\n");
		expect_bytes(fd, PUSH_CH_X PUSH_PAT_X ":2\r\n" PUSH_CH_X
				 PUSH_PAT_X ":2\r\n");
		/* in EXEC, between the array's header and the element */
		EXPECT_CMD(fd, "+OK\r\n", "MULTI");
		EXPECT_CMD(fd, "+QUEUED\r\n", "PUBLISH", "ch", "x");
		send_cmd(fd, "EXEC\r\n");
		expect_bytes(fd, "*1\r\n" PUSH_CH_X PUSH_PAT_X ":2\r\n");
		EXPECT_CMD(fd, conf(b, sizeof(b), 3, "subscribe",
				    "__keyspace@0__:k", 3),
			   "SUBSCRIBE", "__keyspace@0__:k");
		send_cmd(fd, "SET k v\r\n");
		expect_bytes(fd, ">3\r\n$7\r\nmessage\r\n$16\r\n"
				 "__keyspace@0__:k\r\n$3\r\nset\r\n+OK\r\n");
		expect_silence(fd, 50);
		close(fd);
	}
	redisFree(cfg);
}

/* The CLIENT LIST line of client `id`, as seen by `q`. */
static void client_line_of(redisContext *q, long long id, char *out,
			   size_t len)
{
	redisReply *r = tn_cmd(q, "CLIENT LIST ID %lld", id);

	cr_assert_eq(r->type, REDIS_REPLY_STRING);
	snprintf(out, len, "%s", r->str);
	freeReplyObject(r);
}

/* `q`'s view of client `id` contains `want` (" flags=... multi=N "). */
static void expect_client(redisContext *q, long long id, const char *want)
{
	char line[1024];

	client_line_of(q, id, line, sizeof(line));
	cr_expect(strstr(line, want) != NULL, "wanted '%s' in: %s", want,
		  line);
}

static long long raw_client_id(int fd)
{
	char b[64];

	cr_assert_geq(tn_raw_cmd(fd, b, sizeof(b), "CLIENT", "ID",
				 (char *)NULL),
		      0);
	cr_assert_eq(b[0], ':', "%s", b);
	return atoll(b + 1);
}

/*
 * sub= psub= ssub= count the client's subscriptions and multi= its
 * queued commands inside MULTI (-1 outside), with P and x among the
 * flags, as Redis 7.0 shows them; seen from the client's own shard and
 * from the other one.
 */
Test(pubsub, client_list_counts_subscriptions_and_queued)
{
	int a = raw_on_shard(0), m = raw_on_shard(1), fd;
	redisContext *q[2] = {hiredis_on_shard(0), hiredis_on_shard(1)};
	long long ida = raw_client_id(a), idm = raw_client_id(m);
	char b[1024];
	int v;

	for (v = 0; v < 2; v++) {
		expect_client(q[v], ida, " flags=N db=0 sub=0 psub=0 ssub=0 "
					 "multi=-1 ");
		expect_client(q[v], idm, " flags=N db=0 sub=0 psub=0 ssub=0 "
					 "multi=-1 ");
	}
	EXPECT_CMD(a, conf(b, sizeof(b), 2, "subscribe", "x", 1),
		   "SUBSCRIBE", "x", "y", "x");
	expect_next(a, conf(b, sizeof(b), 2, "subscribe", "y", 2));
	expect_next(a, conf(b, sizeof(b), 2, "subscribe", "x", 2));
	EXPECT_CMD(a, conf(b, sizeof(b), 2, "psubscribe", "p*", 3),
		   "PSUBSCRIBE", "p*");
	EXPECT_CMD(a, conf(b, sizeof(b), 2, "ssubscribe", "s1", 1),
		   "SSUBSCRIBE", "s1", "s2", "s3");
	expect_next(a, conf(b, sizeof(b), 2, "ssubscribe", "s2", 2));
	expect_next(a, conf(b, sizeof(b), 2, "ssubscribe", "s3", 3));
	EXPECT_CMD(m, "+OK\r\n", "MULTI");
	for (v = 0; v < 2; v++) {
		expect_client(q[v], ida, " flags=P db=0 sub=2 psub=1 ssub=3 "
					 "multi=-1 ");
		expect_client(q[v], idm, " flags=x db=0 sub=0 psub=0 ssub=0 "
					 "multi=0 ");
	}
	EXPECT_CMD(m, "+QUEUED\r\n", "SET", "k", "v");
	EXPECT_CMD(m, "+QUEUED\r\n", "GET", "k");
	for (v = 0; v < 2; v++)
		expect_client(q[v], idm, " flags=x db=0 sub=0 psub=0 ssub=0 "
					 "multi=2 ");
	/* inside EXEC the client sees its whole queue */
	EXPECT_CMD(m, "+QUEUED\r\n", "CLIENT", "INFO");
	cr_assert_geq(tn_raw_cmd(m, b, sizeof(b), "EXEC", (char *)NULL), 0);
	cr_expect(strstr(b, " flags=x db=0 sub=0 psub=0 ssub=0 multi=3 "),
		  "%s", b);
	for (v = 0; v < 2; v++)
		expect_client(q[v], idm, " flags=N db=0 sub=0 psub=0 ssub=0 "
					 "multi=-1 ");
	/* a command that fails to queue is not counted */
	EXPECT_CMD(m, "+OK\r\n", "MULTI");
	cr_assert_geq(tn_raw_cmd(m, b, sizeof(b), "NOSUCHCMD", (char *)NULL),
		      0);
	cr_expect_eq(b[0], '-');
	EXPECT_CMD(m, "+QUEUED\r\n", "SET", "k", "v");
	for (v = 0; v < 2; v++)
		expect_client(q[v], idm, " flags=x db=0 sub=0 psub=0 ssub=0 "
					 "multi=0 ");
	EXPECT_CMD(m, "+OK\r\n", "DISCARD");
	/* pipelined in one read, the last state counts */
	send_cmd(m, "MULTI\r\nSET k 1\r\nEXEC\r\nMULTI\r\nSET k 2\r\n");
	expect_bytes(m, "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n+OK\r\n+QUEUED\r\n");
	for (v = 0; v < 2; v++)
		expect_client(q[v], idm, " flags=x db=0 sub=0 psub=0 ssub=0 "
					 "multi=1 ");
	EXPECT_CMD(m, "+RESET\r\n", "RESET");
	for (v = 0; v < 2; v++)
		expect_client(q[v], idm, " flags=N db=0 sub=0 psub=0 ssub=0 "
					 "multi=-1 ");
	/* leaving counts down; RESET leaves everything */
	EXPECT_CMD(a, conf(b, sizeof(b), 2, "unsubscribe", "y", 2),
		   "UNSUBSCRIBE", "y");
	EXPECT_CMD(a, conf(b, sizeof(b), 2, "sunsubscribe", "s2", 2),
		   "SUNSUBSCRIBE", "s2");
	for (v = 0; v < 2; v++)
		expect_client(q[v], ida, " flags=P db=0 sub=1 psub=1 ssub=2 "
					 "multi=-1 ");
	EXPECT_CMD(a, "+RESET\r\n", "RESET");
	for (v = 0; v < 2; v++)
		expect_client(q[v], ida, " flags=N db=0 sub=0 psub=0 ssub=0 "
					 "multi=-1 ");
	/* RESP3: the client's own view */
	fd = raw_on_shard(1);
	cr_assert_geq(tn_raw_cmd(fd, b, sizeof(b), "HELLO", "3", (char *)NULL),
		      0);
	EXPECT_CMD(fd, conf(b, sizeof(b), 3, "psubscribe", "a*", 1),
		   "PSUBSCRIBE", "a*");
	cr_assert_geq(tn_raw_cmd(fd, b, sizeof(b), "CLIENT", "INFO",
				 (char *)NULL),
		      0);
	cr_expect(strstr(b, " flags=P db=0 sub=0 psub=1 ssub=0 multi=-1 "),
		  "%s", b);
	close(m);
	close(a);
	close(fd);
	for (v = 0; v < 2; v++)
		redisFree(q[v]);
}

/* ------------------------------------------------------------------ */
/* Across shards                                                        */
/* ------------------------------------------------------------------ */

#define SUBS_PER_SHARD 3

Test(pubsub, messages_cross_shards)
{
	int subs[2][SUBS_PER_SHARD], psub[2], s, i;
	redisContext *pub[2];
	char b[512], pay[32];

	for (s = 0; s < 2; s++) {
		for (i = 0; i < SUBS_PER_SHARD; i++) {
			subs[s][i] = raw_on_shard(s);
			EXPECT_CMD(subs[s][i],
				   conf(b, sizeof(b), 2, "subscribe", "news", 1),
				   "SUBSCRIBE", "news");
		}
		psub[s] = raw_on_shard(s);
		EXPECT_CMD(psub[s], conf(b, sizeof(b), 2, "psubscribe", "n*", 1),
			   "PSUBSCRIBE", "n*");
		pub[s] = hiredis_on_shard(s);
	}
	cr_expect_eq(numsub(pub[0], "NUMSUB", "news"), 2 * SUBS_PER_SHARD);
	for (s = 0; s < 2; s++) {
		snprintf(pay, sizeof(pay), "from shard %d", s);
		/* channel subscribers plus one per matching pattern */
		cr_expect_eq(publish(pub[s], "news", pay),
			     2 * SUBS_PER_SHARD + 2);
		for (i = 0; i < 2 * SUBS_PER_SHARD; i++)
			expect_next(subs[i / SUBS_PER_SHARD][i % SUBS_PER_SHARD],
				    msg(b, sizeof(b), 2, "message", NULL, "news",
					pay));
		for (i = 0; i < 2; i++)
			expect_next(psub[i], msg(b, sizeof(b), 2, "pmessage",
						 "n*", "news", pay));
		/* the pattern alone */
		cr_expect_eq(publish(pub[s], "nope", pay), 2);
		for (i = 0; i < 2; i++)
			expect_next(psub[i], msg(b, sizeof(b), 2, "pmessage",
						 "n*", "nope", pay));
	}
	cr_expect_eq(publish(pub[0], "other", "x"), 0);
	/* order holds per publisher */
	for (i = 0; i < 100; i++) {
		snprintf(pay, sizeof(pay), "%d", i);
		publish(pub[i % 2], "news", pay);
	}
	for (i = 0; i < 100; i++) {
		snprintf(pay, sizeof(pay), "%d", i);
		expect_next(subs[1][0],
			    msg(b, sizeof(b), 2, "message", NULL, "news", pay));
	}
	for (s = 0; s < 2; s++) {
		for (i = 0; i < SUBS_PER_SHARD; i++)
			close(subs[s][i]);
		close(psub[s]);
		redisFree(pub[s]);
	}
}

/*
 * The scheduler subscribes to expired-key events through the store like
 * any client (workers/scheduler.c): its channel is left out of counts.
 */
#define SCHED_CHANNEL "__keyevent@0__:expired"

static size_t user_channels(const redisReply *r)
{
	size_t i, n = 0;

	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	for (i = 0; i < r->elements; i++)
		n += strcmp(r->element[i]->str, SCHED_CHANNEL) != 0;
	return n;
}

Test(pubsub, introspection_across_shards)
{
	int a = raw_on_shard(0), c = raw_on_shard(1);
	redisContext *q = tn_connect(&srv);
	redisReply *r;
	char b[512];
	size_t i;
	bool saw[3] = {false};

	EXPECT_CMD(a, conf(b, sizeof(b), 2, "subscribe", "news.a", 1),
		   "SUBSCRIBE", "news.a", "news.b", "sport");
	expect_next(a, conf(b, sizeof(b), 2, "subscribe", "news.b", 2));
	expect_next(a, conf(b, sizeof(b), 2, "subscribe", "sport", 3));
	EXPECT_CMD(c, conf(b, sizeof(b), 2, "subscribe", "news.a", 1),
		   "SUBSCRIBE", "news.a");
	EXPECT_CMD(a, conf(b, sizeof(b), 2, "psubscribe", "n*", 4),
		   "PSUBSCRIBE", "n*", "s*");
	expect_next(a, conf(b, sizeof(b), 2, "psubscribe", "s*", 5));
	EXPECT_CMD(c, conf(b, sizeof(b), 2, "psubscribe", "n*", 2),
		   "PSUBSCRIBE", "n*");
	EXPECT_CMD(c, conf(b, sizeof(b), 2, "ssubscribe", "sh", 1),
		   "SSUBSCRIBE", "sh");

	r = tn_cmd(q, "PUBSUB NUMSUB news.a news.b sport nobody");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 8);
	cr_expect_str_eq(r->element[0]->str, "news.a");
	cr_expect_eq(r->element[1]->integer, 2);
	cr_expect_str_eq(r->element[2]->str, "news.b");
	cr_expect_eq(r->element[3]->integer, 1);
	cr_expect_eq(r->element[5]->integer, 1);
	cr_expect_str_eq(r->element[6]->str, "nobody");
	cr_expect_eq(r->element[7]->integer, 0);
	freeReplyObject(r);
	r = tn_cmd(q, "PUBSUB NUMSUB");
	cr_expect_eq(r->type, REDIS_REPLY_ARRAY);
	cr_expect_eq(r->elements, 0);
	freeReplyObject(r);
	/* unique patterns, whoever subscribes them */
	tn_expect_int(tn_cmd(q, "PUBSUB NUMPAT"), 2);
	r = tn_cmd(q, "PUBSUB CHANNELS");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_expect_eq(user_channels(r), 3);
	for (i = 0; i < r->elements; i++) {
		const char *n = r->element[i]->str;

		saw[0] |= !strcmp(n, "news.a");
		saw[1] |= !strcmp(n, "news.b");
		saw[2] |= !strcmp(n, "sport");
	}
	cr_expect(saw[0] && saw[1] && saw[2]);
	freeReplyObject(r);
	r = tn_cmd(q, "PUBSUB CHANNELS news.*");
	cr_expect_eq(r->elements, 2);
	freeReplyObject(r);
	r = tn_cmd(q, "PUBSUB CHANNELS [s]port");
	cr_assert_eq(r->elements, 1);
	cr_expect_str_eq(r->element[0]->str, "sport");
	freeReplyObject(r);
	r = tn_cmd(q, "PUBSUB CHANNELS NEWS*");
	cr_expect_eq(r->elements, 0, "patterns are case-sensitive");
	freeReplyObject(r);
	tn_expect_error(tn_cmd(q, "PUBSUB channels a b"),
			"ERR unknown subcommand or wrong number of arguments "
			"for 'channels'. Try PUBSUB HELP.");
	tn_expect_error(tn_cmd(q, "PUBSUB SHARDCHANNELS a b"),
			"ERR unknown subcommand or wrong number of arguments "
			"for 'SHARDCHANNELS'. Try PUBSUB HELP.");
	tn_expect_error(tn_cmd(q, "PUBSUB NUMPAT x"),
			"ERR wrong number of arguments for 'pubsub|numpat' "
			"command");
	tn_expect_error(tn_cmd(q, "PUBSUB FOO"),
			"ERR unknown subcommand 'FOO'. Try PUBSUB HELP.");
	tn_expect_error(tn_cmd(q, "PUBSUB"),
			"ERR wrong number of arguments for 'pubsub' command");
	tn_expect_error(tn_cmd(q, "PUBLISH x"),
			"ERR wrong number of arguments for 'publish' command");
	tn_expect_error(tn_cmd(q, "SUBSCRIBE"),
			"ERR wrong number of arguments for 'subscribe' "
			"command");
	r = tn_cmd(q, "PUBSUB SHARDCHANNELS");
	cr_assert_eq(r->elements, 1);
	cr_expect_str_eq(r->element[0]->str, "sh");
	freeReplyObject(r);
	cr_expect_eq(numsub(q, "SHARDNUMSUB", "sh"), 1);
	cr_expect_eq(numsub(q, "NUMSUB", "sh"), 0, "namespaces apart");
	r = tn_cmd(q, "PUBSUB HELP");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 14);
	cr_expect_str_eq(r->element[0]->str,
			 "PUBSUB <subcommand> [<arg> [value] [opt] ...]. "
			 "Subcommands are:");
	cr_expect_str_eq(r->element[1]->str, "CHANNELS [<pattern>]");
	freeReplyObject(r);
	/* the scheduler's channel counts when it is there */
	i = numsub(q, "NUMSUB", SCHED_CHANNEL) ? 1 : 0;
	r = tn_cmd(q, "INFO stats");
	snprintf(b, sizeof(b), "pubsub_channels:%zu\r\n", 3 + i);
	cr_expect(strstr(r->str, b), "%s", r->str);
	freeReplyObject(r);

	/* a client that goes takes its subscriptions along */
	close(a);
	wait_numsub(q, "news.a", 1);
	cr_expect_eq(numsub(q, "NUMSUB", "news.b"), 0);
	tn_expect_int(tn_cmd(q, "PUBSUB NUMPAT"), 1);
	r = tn_cmd(q, "PUBSUB CHANNELS");
	cr_expect_eq(user_channels(r), 1);
	freeReplyObject(r);
	close(c);
	wait_numsub(q, "news.a", 0);
	tn_expect_int(tn_cmd(q, "PUBSUB NUMPAT"), 0);
	cr_expect_eq(numsub(q, "SHARDNUMSUB", "sh"), 0);
	redisFree(q);
}

Test(pubsub, shard_channels)
{
	int a = raw_on_shard(0), c = raw_on_shard(1);
	redisContext *q = tn_connect(&srv);
	char b[512];

	EXPECT_CMD(a, conf(b, sizeof(b), 2, "ssubscribe", "orders", 1),
		   "SSUBSCRIBE", "orders");
	EXPECT_CMD(c, conf(b, sizeof(b), 2, "ssubscribe", "orders", 1),
		   "SSUBSCRIBE", "orders");
	EXPECT_CMD(c, conf(b, sizeof(b), 2, "psubscribe", "*", 1),
		   "PSUBSCRIBE", "*");
	/* patterns do not see shard channels, nor PUBLISH them */
	tn_expect_int(tn_cmd(q, "SPUBLISH orders o1"), 2);
	expect_next(a, msg(b, sizeof(b), 2, "smessage", NULL, "orders", "o1"));
	expect_next(c, msg(b, sizeof(b), 2, "smessage", NULL, "orders", "o1"));
	cr_expect_eq(publish(q, "orders", "o2"), 1, "only the pattern");
	expect_next(c, msg(b, sizeof(b), 2, "pmessage", "*", "orders", "o2"));
	expect_silence(a, 100);
	tn_expect_int(tn_cmd(q, "SPUBLISH nobody x"), 0);
	close(a);
	close(c);
	redisFree(q);
}

/* 1 MiB messages take the out-of-line path: intact on every shard. */
Test(pubsub, big_messages)
{
	redisContext *s0 = hiredis_on_shard(0), *s1 = hiredis_on_shard(1);
	redisContext *pub = tn_connect(&srv);
	size_t len = 1 << 20, i, k;
	char *big = malloc(len);
	redisReply *r;
	redisContext *subs[2] = {s0, s1};

	cr_assert_not_null(big);
	for (i = 0; i < len; i++)
		big[i] = (char)(i * 7 + 3);
	for (k = 0; k < 2; k++) {
		r = tn_cmd(subs[k], "SUBSCRIBE big");
		freeReplyObject(r);
	}
	for (i = 0; i < 3; i++) {
		r = tn_cmd(pub, "PUBLISH big %b", big, len);
		cr_expect_eq(r->integer, 2);
		freeReplyObject(r);
	}
	for (k = 0; k < 2; k++) {
		for (i = 0; i < 3; i++) {
			cr_assert_eq(redisGetReply(subs[k], (void **)&r),
				     REDIS_OK);
			cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
			cr_assert_eq(r->elements, 3);
			cr_expect_str_eq(r->element[0]->str, "message");
			cr_assert_eq(r->element[2]->len, len);
			cr_expect_eq(memcmp(r->element[2]->str, big, len), 0);
			freeReplyObject(r);
		}
	}
	free(big);
	redisFree(s0);
	redisFree(s1);
	redisFree(pub);
}

/* ------------------------------------------------------------------ */
/* Slow subscribers                                                     */
/* ------------------------------------------------------------------ */

/* A subscriber that never reads, with a small receive window. */
static int lazy_subscriber(int shard, const char *ch)
{
	int fd = raw_on_shard_rcvbuf(shard, 4096);
	char b[512];

	EXPECT_CMD(fd, conf(b, sizeof(b), 2, "subscribe", ch, 1), "SUBSCRIBE",
		   ch);
	return fd;
}

/* Read until the server closes the connection; false on timeout. */
static bool drained_to_eof(int fd, int timeout_ms)
{
	long long deadline = tn_now_ms() + timeout_ms;
	char buf[65536];
	struct timeval tv = {.tv_sec = 0, .tv_usec = 100000};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	while (tn_now_ms() < deadline) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return true;
	}
	return false;
}

#define SLOW_MSG_BYTES 4096

Test(pubsub, slow_subscriber_is_cut_off_publisher_keeps_going)
{
	int lazy = lazy_subscriber(1, "feed");
	redisContext *pub = hiredis_on_shard(0);
	redisContext *fast = hiredis_on_shard(1);
	char *m = malloc(SLOW_MSG_BYTES);
	long long start, spent, n, got = 0, i;
	redisReply *r;

	cr_assert_not_null(m);
	memset(m, 'm', SLOW_MSG_BYTES);
	freeReplyObject(tn_cmd(pub, "CONFIG SET client-output-buffer-limit "
				    "%s",
			       "pubsub 1mb 512kb 60"));
	freeReplyObject(tn_cmd(fast, "SUBSCRIBE feed"));
	/* 40 MB: far past 1 MB plus what the kernel buffers */
	start = tn_now_ms();
	for (i = 0; i < 10000; i++) {
		r = tn_cmd(pub, "PUBLISH feed %b", m, (size_t)SLOW_MSG_BYTES);
		cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
		n = r->integer;
		freeReplyObject(r);
		cr_assert(n == 2 || n == 1, "receivers %lld", n);
		/* the fast one reads along */
		while (got <= i) {
			cr_assert_eq(redisGetReply(fast, (void **)&r), REDIS_OK);
			cr_assert_eq(r->element[2]->len, SLOW_MSG_BYTES);
			freeReplyObject(r);
			got++;
		}
		if (n == 1)
			break;
	}
	spent = tn_now_ms() - start;
	cr_assert_lt(i, 10000, "the lazy subscriber was never cut off");
	cr_expect_lt(spent, 20000, "publishing stalled: %lld ms", spent);
	cr_expect(tn_file_contains(srv.log, "output buffer limit"),
		  "the close is logged");
	cr_expect(drained_to_eof(lazy, WAIT_MS), "the lazy one is closed");
	cr_expect_eq(numsub(pub, "NUMSUB", "feed"), 1);
	/* and publishing goes on at full speed for the fast one */
	for (i = 0; i < 1000; i++) {
		cr_assert_eq(publish(pub, "feed", "x"), 1);
		cr_assert_eq(redisGetReply(fast, (void **)&r), REDIS_OK);
		freeReplyObject(r);
	}
	close(lazy);
	free(m);
	redisFree(pub);
	redisFree(fast);
}

/* Read exactly n bytes from fd within WAIT_MS; false if they never come. */
static bool read_exactly(int fd, char *buf, size_t n)
{
	long long deadline = tn_now_ms() + WAIT_MS;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	ssize_t r;

	while (got < n && tn_now_ms() < deadline) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return got == n;
}

/* A payload too big for the shared frame, to a RESP3 pattern subscriber on
 * either shard: the push header, the pattern, and every byte. */
Test(pubsub, big_message_resp3_pattern_push)
{
	static const char head[] = ">4\r\n$8\r\npmessage\r\n$2\r\nb*\r\n"
				   "$3\r\nbig\r\n$100000\r\n";
	size_t len = 100000, total = sizeof(head) - 1 + len + 2, i;
	char *big = malloc(len), *got = malloc(total);
	redisContext *pub = hiredis_on_shard(0);
	int fd[2], s;
	char b[REPLY_MAX];

	cr_assert(big && got);
	for (i = 0; i < len; i++)
		big[i] = (char)(i * 13 + 1);
	for (s = 0; s < 2; s++) {
		fd[s] = raw_on_shard(s);
		cr_assert_geq(tn_raw_cmd(fd[s], b, sizeof(b), "HELLO", "3",
					 (char *)NULL), 0);
		EXPECT_CMD(fd[s], conf(b, sizeof(b), 3, "psubscribe", "b*", 1),
			   "PSUBSCRIBE", "b*");
	}
	freeReplyObject(tn_cmd(pub, "PUBLISH big %b", big, len));
	for (s = 0; s < 2; s++) {
		cr_assert(read_exactly(fd[s], got, total), "shard %d", s);
		cr_expect_eq(memcmp(got, head, sizeof(head) - 1), 0,
			     "shard %d: %.40s", s, got);
		cr_expect_eq(memcmp(got + sizeof(head) - 1, big, len), 0);
		cr_expect_eq(memcmp(got + total - 2, "\r\n", 2), 0);
		close(fd[s]);
	}
	free(big);
	free(got);
	redisFree(pub);
}

#define BURST_MSGS 2000
#define BURST_MSG_BYTES 4000 /* 8 MB in all: twice a shard's inbox */

/*
 * A shard that cannot run for a while (stopped here) misses nothing: what
 * its full inbox refuses waits in the publisher's shard and follows, in
 * order, once it runs again; the publisher is not held up meanwhile.
 */
Test(pubsub, stalled_shard_gets_every_message_late)
{
	redisContext *sub = hiredis_on_shard(1);
	redisContext *pub = hiredis_on_shard(0);
	struct timeval tv = {.tv_sec = WAIT_MS / 1000};
	char *m = malloc(BURST_MSG_BYTES + 1);
	long long start, spent;
	int i, bad = -1, ok = 0;
	redisReply *r;
	pid_t stalled;

	cr_assert_not_null(m);
	memset(m, 'b', BURST_MSG_BYTES);
	m[BURST_MSG_BYTES] = '\0';
	freeReplyObject(tn_cmd(sub, "SUBSCRIBE burst"));
	redisSetTimeout(sub, tv);
	stalled = tn_child_pid(&srv, "titan: shard 1");
	cr_assert_gt(stalled, 0);
	cr_assert_eq(kill(stalled, SIGSTOP), 0);
	start = tn_now_ms();
	for (i = 0; i < BURST_MSGS; i++) {
		char head[16];

		snprintf(head, sizeof(head), "%06d", i);
		memcpy(m, head, 6);
		redisAppendCommand(pub, "PUBLISH burst %s", m);
	}
	for (i = 0; i < BURST_MSGS; i++) {
		if (redisGetReply(pub, (void **)&r) != REDIS_OK)
			break;
		ok += r->type == REDIS_REPLY_INTEGER && r->integer == 1;
		freeReplyObject(r);
	}
	spent = tn_now_ms() - start;
	kill(stalled, SIGCONT);
	cr_expect_eq(ok, BURST_MSGS, "PUBLISH counted the stalled receiver");
	cr_expect_lt(spent, WAIT_MS, "the publisher waited: %lld ms", spent);
	for (i = 0; i < BURST_MSGS; i++) {
		char head[16];

		if (redisGetReply(sub, (void **)&r) != REDIS_OK) {
			bad = i;
			break;
		}
		snprintf(head, sizeof(head), "%06d", i);
		if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
		    r->element[2]->len != BURST_MSG_BYTES ||
		    memcmp(r->element[2]->str, head, 6) != 0)
			bad = i;
		freeReplyObject(r);
		if (bad >= 0)
			break;
	}
	cr_expect_eq(bad, -1, "message %d missing or out of order", bad);
	cr_expect_not(tn_file_contains(srv.log, "was dropped"),
		      "nothing was dropped");
	/* and the channel flows as usual afterwards */
	cr_expect_eq(publish(pub, "burst", "after"), 1);
	cr_assert_eq(redisGetReply(sub, (void **)&r), REDIS_OK);
	cr_expect_str_eq(r->element[2]->str, "after");
	freeReplyObject(r);
	free(m);
	redisFree(pub);
	redisFree(sub);
}

/* Over the soft limit is allowed for soft-seconds, not longer. */
Test(pubsub, soft_limit_waits_its_seconds)
{
	redisContext *pub = hiredis_on_shard(1);
	int lazy = lazy_subscriber(0, "soft");
	char *m = malloc(SLOW_MSG_BYTES + 1);
	long long i, above_at;

	cr_assert_not_null(m);
	/* publish() formats with %s: the message must end in a NUL */
	memset(m, 's', SLOW_MSG_BYTES);
	m[SLOW_MSG_BYTES] = '\0';
	freeReplyObject(tn_cmd(pub, "CONFIG SET client-output-buffer-limit "
				    "%s",
			       "pubsub 0 256kb 2"));
	/* fill past the soft limit and the kernel's buffers */
	for (i = 0; i < 3000; i++)
		cr_assert_eq(publish(pub, "soft", m), 1);
	above_at = tn_now_ms();
	cr_expect_eq(numsub(pub, "NUMSUB", "soft"), 1, "not cut at once");
	/* still there within its seconds; gone after them, on a message */
	while (tn_now_ms() - above_at < 500)
		cr_assert_eq(publish(pub, "soft", "x"), 1);
	usleep((useconds_t)(above_at + 2100 - tn_now_ms()) * 1000);
	cr_expect_eq(publish(pub, "soft", "x"), 1, "the message that cuts");
	wait_numsub(pub, "soft", 0);
	cr_expect(drained_to_eof(lazy, WAIT_MS));
	close(lazy);
	free(m);
	redisFree(pub);
}

/* ------------------------------------------------------------------ */
/* A shard that dies                                                    */
/* ------------------------------------------------------------------ */

Test(pubsub, killed_shard_leaves_no_ghosts)
{
	int dead[2], live[2], fresh, i;
	redisContext *pub;
	pid_t old, now;
	char b[512];

	for (i = 0; i < 2; i++) {
		dead[i] = raw_on_shard(0);
		live[i] = raw_on_shard(1);
		EXPECT_CMD(dead[i], conf(b, sizeof(b), 2, "subscribe", "ch", 1),
			   "SUBSCRIBE", "ch");
		EXPECT_CMD(live[i], conf(b, sizeof(b), 2, "subscribe", "ch", 1),
			   "SUBSCRIBE", "ch");
	}
	EXPECT_CMD(dead[0], conf(b, sizeof(b), 2, "psubscribe", "c*", 2),
		   "PSUBSCRIBE", "c*");
	EXPECT_CMD(dead[1], conf(b, sizeof(b), 2, "ssubscribe", "s", 1),
		   "SSUBSCRIBE", "s");
	pub = hiredis_on_shard(1);
	cr_expect_eq(publish(pub, "ch", "before"), 5);
	for (i = 0; i < 2; i++)
		expect_next(live[i],
			    msg(b, sizeof(b), 2, "message", NULL, "ch", "before"));

	old = tn_child_pid(&srv, "titan: shard 0");
	cr_assert_gt(old, 0);
	cr_assert_eq(kill(old, SIGKILL), 0);
	now = tn_wait_child(&srv, "titan: shard 0", old, WAIT_MS);
	cr_assert_gt(now, 0, "shard 0 was not restarted");
	cr_assert_eq(tn_server_wait_ready(&srv, WAIT_MS), 0);
	/* its subscribers are forgotten before the new one serves */
	cr_expect_eq(numsub(pub, "NUMSUB", "ch"), 2);
	cr_expect_eq(numsub(pub, "SHARDNUMSUB", "s"), 0);
	tn_expect_int(tn_cmd(pub, "PUBSUB NUMPAT"), 0);
	cr_expect_eq(publish(pub, "ch", "after"), 2);
	for (i = 0; i < 2; i++)
		expect_next(live[i],
			    msg(b, sizeof(b), 2, "message", NULL, "ch", "after"));
	/* the new shard 0 serves subscribers again */
	fresh = raw_on_shard(0);
	EXPECT_CMD(fresh, conf(b, sizeof(b), 2, "subscribe", "ch", 1),
		   "SUBSCRIBE", "ch");
	cr_expect_eq(publish(pub, "ch", "again"), 3);
	expect_next(fresh, msg(b, sizeof(b), 2, "message", NULL, "ch", "again"));
	for (i = 0; i < 2; i++) {
		close(dead[i]);
		close(live[i]);
	}
	close(fresh);
	redisFree(pub);
}
