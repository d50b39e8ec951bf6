/*
 * test_conn.c - connection commands against a real server: PING, ECHO,
 * QUIT, RESET, HELLO (RESP3 checked byte by byte, hiredis 0.14 cannot
 * read it), AUTH with and without requirepass, SELECT, and CLIENT across
 * the shard processes.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "util/util.h"

#define NCONN 5 /* > 2 shards x 2: some land on each shard */

static struct tn_server srv;

static void setup(void)
{
	cr_assert(tn_server_start(&srv, TN_STORE_ONLY) == 0,
		  "server did not start");
}

static void setup_pass(void)
{
	cr_assert(tn_server_start(&srv, "requirepass s3cret") == 0,
		  "server did not start");
}

static void teardown(void)
{
	cr_expect(tn_server_stop(&srv) == 0, "supervisor did not exit 0");
}

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long client_id(redisContext *c)
{
	redisReply *r = tn_cmd(c, "CLIENT ID");
	long long id;

	cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
	id = r->integer;
	freeReplyObject(r);
	cr_assert_gt(id, 0);
	return id;
}

/* The CLIENT LIST (or INFO) text; the caller frees it. */
static char *client_text(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;
	char *s;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert(r, "no reply to %s", fmt);
	cr_assert_eq(r->type, REDIS_REPLY_STRING, "%s: type %d %s", fmt,
		     r->type, r->str ? r->str : "");
	s = strdup(r->str);
	freeReplyObject(r);
	return s;
}

/* Is there a line with "id=<id> " in a CLIENT LIST? */
static bool has_id(const char *list, long long id)
{
	char pat[40];
	const char *p = list;

	snprintf(pat, sizeof(pat), "id=%lld ", id);
	while (p) {
		if (strncmp(p, pat, strlen(pat)) == 0)
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

/* Poll (bounded) until CLIENT LIST from c no longer shows id. */
static bool wait_gone(redisContext *c, long long id)
{
	long long deadline = mono_ms() + 5000;

	while (mono_ms() < deadline) {
		char *l = client_text(c, "CLIENT LIST");
		bool there = has_id(l, id);

		free(l);
		if (!there)
			return true;
		usleep(5000);
	}
	return false;
}

Test(conn, ping_echo, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	tn_expect_status(tn_cmd(c, "PING"), "PONG");
	tn_expect_str(tn_cmd(c, "PING %s", "hello world"), "hello world");
	tn_expect_error(tn_cmd(c, "PING a b"),
			"ERR wrong number of arguments for 'ping' command");
	r = tn_cmd(c, "ECHO %b", "a\0b", (size_t)3);
	cr_expect(r->type == REDIS_REPLY_STRING && r->len == 3 &&
		  memcmp(r->str, "a\0b", 3) == 0);
	freeReplyObject(r);
	tn_expect_str(tn_cmd(c, "ECHO %s", ""), "");
	tn_expect_error(tn_cmd(c, "ECHO"),
			"ERR wrong number of arguments for 'echo' command");
	tn_expect_error(tn_cmd(c, "ECHO a b"),
			"ERR wrong number of arguments for 'echo' command");
	redisFree(c);
}

Test(conn, quit_closes_after_reply, .init = setup, .fini = teardown)
{
	static const char req[] = "QUIT\r\nPING\r\n";
	char out[256];
	ssize_t n;

	n = tn_raw_exchange(&srv, req, sizeof(req) - 1, out, sizeof(out) - 1,
			    5000);
	cr_assert_geq(n, 0);
	out[n] = '\0';
	/* +OK, then the close: the pipelined PING never runs */
	cr_expect_str_eq(out, "+OK\r\n");
}

Test(conn, select, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_status(tn_cmd(c, "SELECT 0"), "OK");
	tn_expect_error(tn_cmd(c, "SELECT 1"), "ERR DB index is out of range");
	tn_expect_error(tn_cmd(c, "SELECT 15"), "ERR DB index is out of range");
	tn_expect_error(tn_cmd(c, "SELECT -1"), "ERR DB index is out of range");
	tn_expect_error(tn_cmd(c, "SELECT x"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "SELECT 1.5"),
			"ERR value is not an integer or out of range");
	tn_expect_error(tn_cmd(c, "SELECT 99999999999"),
			"ERR value is out of range, value must between "
			"-2147483648 and 2147483647");
	tn_expect_error(tn_cmd(c, "SELECT"),
			"ERR wrong number of arguments for 'select' command");
	redisFree(c);
}

Test(conn, hello3_reply_types, .init = setup, .fini = teardown)
{
	static const char req[] =
		"CLIENT ID\r\n"
		"HELLO 3\r\n"
		"CONFIG GET maxmemory\r\n"
		"CLIENT GETNAME\r\n"
		"COMMAND INFO get\r\n"
		"PING\r\n"
		"SELECT 1\r\n"
		"HELLO 2\r\n"
		"CLIENT GETNAME\r\n"
		"CONFIG GET maxmemory\r\n"
		"QUIT\r\n";
	char out[4096], want[4096];
	long long id = 0;
	ssize_t n;

	n = tn_raw_exchange(&srv, req, sizeof(req) - 1, out, sizeof(out) - 1,
			    5000);
	cr_assert_gt(n, 0);
	out[n] = '\0';
	cr_assert_eq(sscanf(out, ":%lld\r\n", &id), 1, "%s", out);
	snprintf(want, sizeof(want),
		 ":%lld\r\n"
		 /* HELLO 3: a map, in RESP3 already */
		 "%%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"
		 "$7\r\nversion\r\n$%zu\r\n%s\r\n"
		 "$5\r\nproto\r\n:3\r\n"
		 "$2\r\nid\r\n:%lld\r\n"
		 "$4\r\nmode\r\n$10\r\nstandalone\r\n"
		 "$4\r\nrole\r\n$6\r\nmaster\r\n"
		 "$7\r\nmodules\r\n*0\r\n"
		 /* CONFIG GET: a map */
		 "%%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
		 /* no name: the RESP3 null */
		 "_\r\n"
		 /* COMMAND INFO: sets for flags, categories, tips, specs */
		 "*1\r\n*10\r\n$3\r\nget\r\n:2\r\n~2\r\n+readonly\r\n+fast\r\n"
		 ":1\r\n:1\r\n:1\r\n~3\r\n+@read\r\n+@string\r\n+@fast\r\n"
		 "~0\r\n~0\r\n~0\r\n"
		 "+PONG\r\n"
		 "-ERR DB index is out of range\r\n"
		 /* HELLO 2: back to flat arrays and $-1 */
		 "*14\r\n$6\r\nserver\r\n$5\r\nredis\r\n"
		 "$7\r\nversion\r\n$%zu\r\n%s\r\n"
		 "$5\r\nproto\r\n:2\r\n"
		 "$2\r\nid\r\n:%lld\r\n"
		 "$4\r\nmode\r\n$10\r\nstandalone\r\n"
		 "$4\r\nrole\r\n$6\r\nmaster\r\n"
		 "$7\r\nmodules\r\n*0\r\n"
		 "$-1\r\n"
		 "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n"
		 "+OK\r\n",
		 id, strlen(TN_REDIS_COMPAT_VERSION), TN_REDIS_COMPAT_VERSION,
		 id, strlen(TN_REDIS_COMPAT_VERSION), TN_REDIS_COMPAT_VERSION,
		 id);
	cr_expect_str_eq(out, want);
}

Test(conn, hello3_verbatim_and_slot, .init = setup, .fini = teardown)
{
	static const char req[] = "HELLO 3 SETNAME resp3client\r\n"
				  "CLIENT INFO\r\n"
				  "INFO server\r\n"
				  "QUIT\r\n";
	char out[8192], *p;
	ssize_t n;

	n = tn_raw_exchange(&srv, req, sizeof(req) - 1, out, sizeof(out) - 1,
			    5000);
	cr_assert_gt(n, 0);
	out[n] = '\0';
	/* CLIENT INFO and INFO are verbatim strings "=<len>\r\ntxt:..." */
	p = strstr(out, "*0\r\n=");
	cr_assert(p, "%s", out);
	p += 4;
	cr_expect(strncmp(strchr(p, '\n') + 1, "txt:id=", 7) == 0, "%s", p);
	cr_expect(strstr(p, " name=resp3client ") != NULL, "%s", p);
	cr_expect(strstr(p, " resp=3\n") != NULL, "%s", p);
	cr_expect(strstr(p, "\r\ntxt:# Server\r\nredis_version:") != NULL, "%s",
		  p);
}

Test(conn, hello_errors, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r;

	tn_expect_error(tn_cmd(c, "HELLO 4"),
			"NOPROTO unsupported protocol version");
	tn_expect_error(tn_cmd(c, "HELLO 1"),
			"NOPROTO unsupported protocol version");
	tn_expect_error(tn_cmd(c, "HELLO abc"),
			"ERR Protocol version is not an integer or out of "
			"range");
	tn_expect_error(tn_cmd(c, "HELLO 2 foo"),
			"ERR Syntax error in HELLO option 'foo'");
	tn_expect_error(tn_cmd(c, "HELLO 2 AUTH a"),
			"ERR Syntax error in HELLO option 'AUTH'");
	tn_expect_error(tn_cmd(c, "HELLO 2 SETNAME"),
			"ERR Syntax error in HELLO option 'SETNAME'");
	tn_expect_error(tn_cmd(c, "HELLO 2 AUTH bob x"),
			"WRONGPASS invalid username-password pair or user is "
			"disabled.");
	tn_expect_error(tn_cmd(c, "HELLO 2 SETNAME %s", "a b"),
			"ERR Client names cannot contain spaces, newlines or "
			"special characters.");
	/* the default user has no password: any password will do */
	r = tn_cmd(c, "HELLO 2 AUTH default anything SETNAME hi");
	cr_expect_eq(r->type, REDIS_REPLY_ARRAY);
	cr_expect_eq(r->elements, 14);
	freeReplyObject(r);
	tn_expect_str(tn_cmd(c, "CLIENT GETNAME"), "hi");
	/* without a version it only reports */
	r = tn_cmd(c, "HELLO");
	cr_expect_eq(r->type, REDIS_REPLY_ARRAY);
	cr_expect_eq(r->elements, 14);
	cr_expect_eq(r->element[5]->integer, 2);
	freeReplyObject(r);
	redisFree(c);
}

Test(conn, auth_without_password, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_error(tn_cmd(c, "AUTH x"),
			"ERR AUTH <password> called without any password "
			"configured for the default user. Are you sure your "
			"configuration is correct?");
	tn_expect_status(tn_cmd(c, "AUTH default x"), "OK");
	tn_expect_error(tn_cmd(c, "AUTH bob x"),
			"WRONGPASS invalid username-password pair or user is "
			"disabled.");
	tn_expect_error(tn_cmd(c, "AUTH a b c"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "AUTH"),
			"ERR wrong number of arguments for 'auth' command");
	redisFree(c);
}

Test(conn, auth_flow, .init = setup_pass, .fini = teardown)
{
	redisContext *c = tn_connect(&srv), *d;
	redisReply *r;

	tn_expect_error(tn_cmd(c, "PING"), "NOAUTH Authentication required.");
	tn_expect_error(tn_cmd(c, "INFO"), "NOAUTH Authentication required.");
	tn_expect_error(tn_cmd(c, "HELLO 3"),
			"NOAUTH HELLO must be called with the client already "
			"authenticated, otherwise the HELLO AUTH <user> <pass> "
			"option can be used to authenticate the client and "
			"select the RESP protocol version at the same time");
	tn_expect_error(tn_cmd(c, "AUTH wrong"),
			"WRONGPASS invalid username-password pair or user is "
			"disabled.");
	tn_expect_error(tn_cmd(c, "AUTH default wrong"),
			"WRONGPASS invalid username-password pair or user is "
			"disabled.");
	tn_expect_error(tn_cmd(c, "AUTH s3cre"),
			"WRONGPASS invalid username-password pair or user is "
			"disabled.");
	tn_expect_error(tn_cmd(c, "AUTH s3cret!"),
			"WRONGPASS invalid username-password pair or user is "
			"disabled.");
	tn_expect_error(tn_cmd(c, "AUTH bob s3cret"),
			"WRONGPASS invalid username-password pair or user is "
			"disabled.");
	tn_expect_error(tn_cmd(c, "PING"), "NOAUTH Authentication required.");
	tn_expect_status(tn_cmd(c, "AUTH s3cret"), "OK");
	tn_expect_status(tn_cmd(c, "PING"), "PONG");
	/* a failed AUTH does not log an authenticated client out */
	tn_expect_error(tn_cmd(c, "AUTH nope"), "WRONGPASS");
	tn_expect_status(tn_cmd(c, "PING"), "PONG");
	/* RESET logs out */
	tn_expect_status(tn_cmd(c, "RESET"), "RESET");
	tn_expect_error(tn_cmd(c, "PING"), "NOAUTH Authentication required.");
	tn_expect_status(tn_cmd(c, "AUTH default s3cret"), "OK");
	tn_expect_status(tn_cmd(c, "PING"), "PONG");

	d = tn_connect(&srv);
	tn_expect_error(tn_cmd(d, "HELLO 2 AUTH default nope"),
			"WRONGPASS invalid username-password pair or user is "
			"disabled.");
	r = tn_cmd(d, "HELLO 2 AUTH default s3cret");
	cr_expect_eq(r->type, REDIS_REPLY_ARRAY);
	cr_expect_eq(r->elements, 14);
	freeReplyObject(r);
	tn_expect_status(tn_cmd(d, "PING"), "PONG");
	redisFree(d);

	/* HELLO's AUTH takes effect at once, before a later bad option */
	d = tn_connect(&srv);
	tn_expect_error(tn_cmd(d, "HELLO 2 AUTH default s3cret foo"),
			"ERR Syntax error in HELLO option 'foo'");
	tn_expect_status(tn_cmd(d, "PING"), "PONG");
	redisFree(d);

	/* a new password applies to new connections */
	tn_expect_status(tn_cmd(c, "CONFIG SET requirepass %s", ""), "OK");
	d = tn_connect(&srv);
	tn_expect_status(tn_cmd(d, "PING"), "PONG");
	redisFree(d);
	redisFree(c);
}

Test(conn, quit_before_auth, .init = setup_pass, .fini = teardown)
{
	static const char req[] = "PING\r\nQUIT\r\n";
	char out[256];
	ssize_t n;

	n = tn_raw_exchange(&srv, req, sizeof(req) - 1, out, sizeof(out) - 1,
			    5000);
	cr_assert_gt(n, 0);
	out[n] = '\0';
	cr_expect_str_eq(out,
			 "-NOAUTH Authentication required.\r\n+OK\r\n");
}

Test(conn, reset, .init = setup, .fini = teardown)
{
	static const char req[] = "CLIENT SETNAME x\r\n"
				  "CLIENT NO-EVICT on\r\n"
				  "HELLO 3\r\n"
				  "RESET\r\n"
				  "CLIENT GETNAME\r\n"
				  "QUIT\r\n";
	redisContext *c = tn_connect(&srv);
	char out[4096], *p;
	ssize_t n;

	tn_expect_status(tn_cmd(c, "CLIENT SETNAME foo"), "OK");
	tn_expect_status(tn_cmd(c, "RESET"), "RESET");
	tn_expect_nil(tn_cmd(c, "CLIENT GETNAME"));
	tn_expect_error(tn_cmd(c, "RESET x"),
			"ERR wrong number of arguments for 'reset' command");
	redisFree(c);

	n = tn_raw_exchange(&srv, req, sizeof(req) - 1, out, sizeof(out) - 1,
			    5000);
	cr_assert_gt(n, 0);
	out[n] = '\0';
	/* +RESET, then a RESP2 null for the name: RESP2 again, no name */
	p = strstr(out, "+RESET\r\n");
	cr_assert(p, "%s", out);
	cr_expect_str_eq(p, "+RESET\r\n$-1\r\n+OK\r\n");
}

Test(conn, client_names, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);
	char name[201], *info;

	tn_expect_nil(tn_cmd(c, "CLIENT GETNAME"));
	tn_expect_status(tn_cmd(c, "CLIENT SETNAME my-name_1"), "OK");
	tn_expect_str(tn_cmd(c, "CLIENT GETNAME"), "my-name_1");
	tn_expect_error(tn_cmd(c, "CLIENT SETNAME %s", "a b"),
			"ERR Client names cannot contain spaces, newlines or "
			"special characters.");
	tn_expect_error(tn_cmd(c, "CLIENT SETNAME %s", "a\nb"),
			"ERR Client names cannot contain spaces");
	tn_expect_error(tn_cmd(c, "CLIENT SETNAME %s", "caf\xc3\xa9"),
			"ERR Client names cannot contain spaces");
	/* a refused name leaves the old one */
	tn_expect_str(tn_cmd(c, "CLIENT GETNAME"), "my-name_1");
	memset(name, 'n', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	tn_expect_status(tn_cmd(c, "CLIENT SETNAME %s", name), "OK");
	tn_expect_str(tn_cmd(c, "CLIENT GETNAME"), name);
	info = client_text(c, "CLIENT INFO");
	cr_expect(strstr(info, " name=nnnnnnnn") != NULL, "%s", info);
	free(info);
	tn_expect_status(tn_cmd(c, "CLIENT SETNAME %s", ""), "OK");
	tn_expect_nil(tn_cmd(c, "CLIENT GETNAME"));
	tn_expect_error(tn_cmd(c, "CLIENT SETNAME"),
			"ERR wrong number of arguments for 'client|setname' "
			"command");
	tn_expect_error(tn_cmd(c, "CLIENT"),
			"ERR wrong number of arguments for 'client' command");
	tn_expect_error(tn_cmd(c, "CLIENT foo"),
			"ERR unknown subcommand 'foo'. Try CLIENT HELP.");
	redisFree(c);
}

/* Redis 7.0's CLIENT LIST fields, in order. */
static const char *const list_fields[] = {
	"id",	      "addr",	   "laddr",    "fd",	    "name",
	"age",	      "idle",	   "flags",    "db",	    "sub",
	"psub",	      "ssub",	   "multi",    "qbuf",	    "qbuf-free",
	"argv-mem",   "multi-mem", "rbs",      "rbp",	    "obl",
	"oll",	      "omem",	   "tot-mem",  "events",    "cmd",
	"user",	      "redir",	   "resp",
};

static void check_line(const char *line, int port)
{
	char *copy = strndup(line, strcspn(line, "\n")), *save, *tok;
	char laddr[64];
	size_t i = 0;

	snprintf(laddr, sizeof(laddr), "127.0.0.1:%d", port);
	for (tok = strtok_r(copy, " ", &save); tok;
	     tok = strtok_r(NULL, " ", &save), i++) {
		char *eq = strchr(tok, '=');

		cr_assert(eq, "field without '=': %s", tok);
		cr_assert_lt(i, TN_ARRAY_SIZE(list_fields), "%s", line);
		*eq = '\0';
		cr_expect_str_eq(tok, list_fields[i], "%s", line);
		if (strcmp(tok, "laddr") == 0)
			cr_expect_str_eq(eq + 1, laddr);
		if (strcmp(tok, "addr") == 0)
			cr_expect(strncmp(eq + 1, "127.0.0.1:", 10) == 0);
		if (strcmp(tok, "user") == 0)
			cr_expect_str_eq(eq + 1, "default");
		if (strcmp(tok, "db") == 0 || strcmp(tok, "sub") == 0)
			cr_expect_str_eq(eq + 1, "0");
		if (strcmp(tok, "multi") == 0 || strcmp(tok, "redir") == 0)
			cr_expect_str_eq(eq + 1, "-1");
	}
	cr_expect_eq(i, TN_ARRAY_SIZE(list_fields), "%s", line);
	free(copy);
}

Test(conn, client_list_across_shards, .init = setup, .fini = teardown)
{
	redisContext *c[NCONN];
	long long id[NCONN];
	char *list, *line, buf[64];
	int i, lines = 0, shard[NCONN], other = 0;

	for (i = 0; i < NCONN; i++) {
		c[i] = tn_connect(&srv);
		id[i] = client_id(c[i]);
		tn_expect_status(tn_cmd(c[i], "CLIENT SETNAME conn-%d", i),
				 "OK");
		shard[i] = tn_client_shard(&srv, c[i], 5000);
		cr_assert_geq(shard[i], 0, "conn %d in no shard", i);
		other += shard[i] != shard[0];
	}
	/* the acceptor spreads them over both shards; each list shows all */
	cr_assert_gt(other, 0, "all connections on shard %d", shard[0]);
	for (i = 0; i < NCONN; i++) {
		int j;

		list = client_text(c[i], "CLIENT LIST");
		for (j = 0; j < NCONN; j++) {
			snprintf(buf, sizeof(buf), " name=conn-%d ", j);
			cr_expect(strstr(list, buf) != NULL,
				  "conn %d does not see conn %d:\n%s", i, j,
				  list);
			cr_expect(has_id(list, id[j]));
		}
		free(list);
	}
	tn_expect_str(tn_cmd(c[1], "ECHO x"), "x");
	list = client_text(c[0], "CLIENT LIST");
	for (line = list; *line; line = strchr(line, '\n') + 1) {
		cr_assert(strchr(line, '\n'), "unterminated line");
		check_line(line, srv.port);
		lines++;
	}
	cr_expect_eq(lines, NCONN);
	/* the others' last command, the caller's running one */
	snprintf(buf, sizeof(buf), "id=%lld ", id[1]);
	line = strstr(list, buf);
	cr_assert(line);
	cr_expect(strstr(line, " cmd=echo ") < strchr(line, '\n') &&
		  strstr(line, " cmd=echo ") != NULL);
	snprintf(buf, sizeof(buf), "id=%lld ", id[0]);
	line = strstr(list, buf);
	cr_assert(line);
	cr_expect(strstr(line, " cmd=client|list ") < strchr(line, '\n') &&
		  strstr(line, " cmd=client|list ") != NULL);
	free(list);

	list = client_text(c[0], "CLIENT LIST TYPE normal");
	for (i = 0; i < NCONN; i++)
		cr_expect(has_id(list, id[i]));
	free(list);
	tn_expect_str(tn_cmd(c[0], "CLIENT LIST TYPE pubsub"), "");
	tn_expect_str(tn_cmd(c[0], "CLIENT LIST TYPE replica"), "");
	tn_expect_error(tn_cmd(c[0], "CLIENT LIST TYPE foo"),
			"ERR Unknown client type 'foo'");
	list = client_text(c[0], "CLIENT LIST ID 999999 %lld %lld",
			   id[3], id[4]);
	cr_expect(has_id(list, id[3]) && has_id(list, id[4]));
	cr_expect(!has_id(list, id[0]));
	cr_expect_eq(strchr(strchr(list, '\n') + 1, '\n')[1], '\0');
	free(list);
	tn_expect_error(tn_cmd(c[0], "CLIENT LIST ID abc"),
			"ERR Invalid client ID");
	tn_expect_error(tn_cmd(c[0], "CLIENT LIST foo"), "ERR syntax error");
	tn_expect_error(tn_cmd(c[0], "CLIENT LIST TYPE"), "ERR syntax error");

	/* CLIENT INFO: the caller's own line */
	list = client_text(c[2], "CLIENT INFO");
	snprintf(buf, sizeof(buf), "id=%lld ", id[2]);
	cr_expect(strncmp(list, buf, strlen(buf)) == 0, "%s", list);
	cr_expect(strstr(list, " name=conn-2 ") != NULL);
	cr_expect(strstr(list, " flags=N ") != NULL);
	cr_expect(strstr(list, " cmd=client|info ") != NULL);
	check_line(list, srv.port);
	free(list);
	for (i = 0; i < NCONN; i++)
		redisFree(c[i]);
}

Test(conn, client_kill_by_id_across_shards, .init = setup, .fini = teardown)
{
	redisContext *k = tn_connect(&srv), *v[NCONN - 1];
	long long id[NCONN - 1];
	int i, ks = tn_client_shard(&srv, k, 5000), other = 0;

	cr_assert_geq(ks, 0);
	for (i = 0; i < NCONN - 1; i++) {
		v[i] = tn_connect(&srv);
		id[i] = client_id(v[i]);
		other += tn_client_shard(&srv, v[i], 5000) != ks;
	}
	/* victims on the killer's shard and on the other one */
	cr_assert_gt(other, 0, "no victim on the other shard");
	cr_assert_lt(other, NCONN - 1, "no victim on the killer's shard");
	for (i = 0; i < NCONN - 1; i++) {
		redisReply *r;

		tn_expect_int(tn_cmd(k, "CLIENT KILL ID %lld", id[i]), 1);
		cr_expect(wait_gone(k, id[i]), "client %lld still listed",
			  id[i]);
		r = redisCommand(v[i], "PING");
		cr_expect(r == NULL, "killed client %lld still answered",
			  id[i]);
		if (r)
			freeReplyObject(r);
		redisFree(v[i]);
	}
	tn_expect_int(tn_cmd(k, "CLIENT KILL ID %lld", id[0]), 0);
	tn_expect_int(tn_cmd(k, "CLIENT KILL ID 999999"), 0);
	tn_expect_error(tn_cmd(k, "CLIENT KILL ID 0"),
			"ERR client-id should be greater than 0");
	tn_expect_error(tn_cmd(k, "CLIENT KILL ID abc"),
			"ERR client-id should be greater than 0");
	tn_expect_status(tn_cmd(k, "PING"), "PONG");
	redisFree(k);
}

/* "addr=..." of a client, from its own CLIENT INFO. */
static void field_of(redisContext *c, const char *field, char *out,
		     size_t len)
{
	char *info = client_text(c, "CLIENT INFO"), *p, pat[32];

	snprintf(pat, sizeof(pat), " %s=", field);
	p = strstr(info, pat);
	cr_assert(p, "%s", info);
	p += strlen(pat);
	snprintf(out, len, "%.*s", (int)strcspn(p, " "), p);
	free(info);
}

Test(conn, client_kill_filters, .init = setup, .fini = teardown)
{
	redisContext *k = tn_connect(&srv), *v, *w;
	char addr[64], laddr[64];
	redisReply *r;
	long long kid = client_id(k), vid;

	v = tn_connect(&srv);
	vid = client_id(v);
	field_of(v, "addr", addr, sizeof(addr));
	field_of(v, "laddr", laddr, sizeof(laddr));

	tn_expect_error(tn_cmd(k, "CLIENT KILL 1.2.3.4:5"),
			"ERR No such client");
	tn_expect_int(tn_cmd(k, "CLIENT KILL ADDR 1.2.3.4:5"), 0);
	tn_expect_int(tn_cmd(k, "CLIENT KILL LADDR 1.2.3.4:5"), 0);
	tn_expect_int(tn_cmd(k, "CLIENT KILL TYPE pubsub"), 0);
	tn_expect_int(tn_cmd(k, "CLIENT KILL TYPE master"), 0);
	tn_expect_error(tn_cmd(k, "CLIENT KILL TYPE foo"),
			"ERR Unknown client type 'foo'");
	tn_expect_error(tn_cmd(k, "CLIENT KILL USER nobody"),
			"ERR No such user 'nobody'");
	tn_expect_error(tn_cmd(k, "CLIENT KILL SKIPME maybe"),
			"ERR syntax error");
	tn_expect_error(tn_cmd(k, "CLIENT KILL FOO bar"), "ERR syntax error");
	tn_expect_error(tn_cmd(k, "CLIENT KILL ID %lld ADDR", vid),
			"ERR syntax error");
	tn_expect_error(tn_cmd(k, "CLIENT KILL"),
			"ERR wrong number of arguments for 'client|kill' "
			"command");
	/* filters combine: right id, wrong address */
	tn_expect_int(tn_cmd(k, "CLIENT KILL ID %lld ADDR 1.2.3.4:5", vid), 0);
	/* skipme yes by default: killing by our own id kills nobody */
	tn_expect_int(tn_cmd(k, "CLIENT KILL ID %lld", kid), 0);
	tn_expect_status(tn_cmd(k, "PING"), "PONG");

	/* the old form by address */
	tn_expect_status(tn_cmd(k, "CLIENT KILL %s", addr), "OK");
	cr_expect(wait_gone(k, vid));
	r = redisCommand(v, "PING");
	cr_expect(r == NULL);
	if (r)
		freeReplyObject(r);
	redisFree(v);

	/* ADDR and LADDR in the new form */
	v = tn_connect(&srv);
	vid = client_id(v);
	field_of(v, "addr", addr, sizeof(addr));
	tn_expect_int(tn_cmd(k, "CLIENT KILL ADDR %s LADDR %s USER default",
			     addr, laddr),
		      1);
	cr_expect(wait_gone(k, vid));
	redisFree(v);

	/* everyone but us, then ourselves after the reply */
	v = tn_connect(&srv);
	w = tn_connect(&srv);
	vid = client_id(v);
	client_id(w);
	r = tn_cmd(k, "CLIENT KILL TYPE normal");
	cr_expect_eq(r->type, REDIS_REPLY_INTEGER);
	cr_expect_geq(r->integer, 2);
	freeReplyObject(r);
	cr_expect(wait_gone(k, vid));
	tn_expect_int(tn_cmd(k, "CLIENT KILL ID %lld SKIPME no", kid), 1);
	r = redisCommand(k, "PING");
	cr_expect(r == NULL, "a client that killed itself still answers");
	if (r)
		freeReplyObject(r);
	redisFree(k);
	redisFree(v);
	redisFree(w);
}

Test(conn, client_kill_self_old_form, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);
	char addr[64];
	redisReply *r;

	field_of(c, "addr", addr, sizeof(addr));
	tn_expect_status(tn_cmd(c, "CLIENT KILL %s", addr), "OK");
	r = redisCommand(c, "PING");
	cr_expect(r == NULL);
	if (r)
		freeReplyObject(r);
	redisFree(c);
}

Test(conn, client_id_noevict_help, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv), *d = tn_connect(&srv);
	long long a = client_id(c), b = client_id(d);
	char *info;
	redisReply *r;

	cr_expect_neq(a, b);
	cr_expect_eq(client_id(c), a);
	tn_expect_error(tn_cmd(c, "CLIENT ID x"),
			"ERR wrong number of arguments for 'client|id' command");
	tn_expect_status(tn_cmd(c, "CLIENT NO-EVICT on"), "OK");
	info = client_text(c, "CLIENT INFO");
	cr_expect(strstr(info, " flags=e ") != NULL, "%s", info);
	free(info);
	/* seen from another connection, perhaps on the other shard */
	info = client_text(d, "CLIENT LIST");
	{
		char pat[40], *p;

		snprintf(pat, sizeof(pat), "id=%lld ", a);
		p = strstr(info, pat);
		cr_assert(p);
		cr_expect(strstr(p, " flags=e ") != NULL &&
				  strstr(p, " flags=e ") < strchr(p, '\n'),
			  "%s", info);
	}
	free(info);
	tn_expect_status(tn_cmd(c, "CLIENT NO-EVICT OFF"), "OK");
	info = client_text(c, "CLIENT INFO");
	cr_expect(strstr(info, " flags=N ") != NULL, "%s", info);
	free(info);
	tn_expect_error(tn_cmd(c, "CLIENT NO-EVICT maybe"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "CLIENT NO-EVICT"),
			"ERR wrong number of arguments for 'client|no-evict' "
			"command");
	r = tn_cmd(c, "CLIENT HELP");
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_gt(r->elements, 4);
	cr_expect_str_eq(r->element[0]->str,
			 "CLIENT <subcommand> [<arg> [value] [opt] ...]. "
			 "Subcommands are:");
	cr_expect_str_eq(r->element[r->elements - 2]->str, "HELP");
	freeReplyObject(r);
	redisFree(c);
	redisFree(d);
}
