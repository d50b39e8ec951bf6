/*
 * test_server.c - server commands against a real server: INFO (parsed
 * as Redis clients parse it, summed over the shards), CONFIG, COMMAND,
 * DBSIZE, FLUSHALL, TIME, SHUTDOWN, and redis-cli talking to us.
 */
#include <criterion/criterion.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/integration/harness.h"
#include "util/util.h"

static struct tn_server srv;

static void setup(void)
{
	cr_assert(tn_server_start(&srv, TN_STORE_ONLY) == 0,
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

/* INFO's text; the caller frees it. */
static char *info(redisContext *c, const char *section)
{
	char cmd[128];
	redisReply *r;
	char *s;

	/* sections as separate arguments: hiredis splits the format */
	snprintf(cmd, sizeof(cmd), "INFO %s", section ? section : "");
	r = tn_cmd(c, cmd);

	cr_assert_eq(r->type, REDIS_REPLY_STRING, "INFO: type %d %s", r->type,
		     r->str ? r->str : "");
	s = strdup(r->str);
	freeReplyObject(r);
	return s;
}

/* The value of "field:" in an INFO text, or NULL; the caller frees it. */
static char *info_field(const char *text, const char *field)
{
	size_t len = strlen(field);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, field, len) == 0 && p[len] == ':')
			return strndup(p + len + 1, strcspn(p + len + 1, "\r"));
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

static long long info_ll(redisContext *c, const char *section,
			 const char *field)
{
	char *text = info(c, section), *v = info_field(text, field);
	long long n;

	cr_assert(v, "no %s in INFO %s", field, section);
	n = atoll(v);
	free(v);
	free(text);
	return n;
}

/* Every line "# Title", "key:value" or blank, all ending in \r\n; the
 * section titles in order into titles (comma separated). */
static void check_info_shape(const char *text, char *titles, size_t len)
{
	const char *p = text;

	titles[0] = '\0';
	while (*p) {
		const char *eol = strstr(p, "\r\n");
		size_t n;

		cr_assert(eol, "line without \\r\\n: %s", p);
		n = (size_t)(eol - p);
		if (n == 0) {
			/* blank lines only between sections */
			cr_expect_eq(eol[2], '#', "blank line before %.20s",
				     eol + 2);
		} else if (p[0] == '#') {
			cr_expect_eq(p[1], ' ');
			if (titles[0])
				strncat(titles, ",", len - strlen(titles) - 1);
			strncat(titles, p + 2,
				TN_MIN(n - 2, len - strlen(titles) - 1));
		} else {
			const char *colon = memchr(p, ':', n);
			const char *q;

			cr_assert(colon, "no ':' in %.*s", (int)n, p);
			for (q = p; q < colon; q++)
				cr_expect(islower((unsigned char)*q) ||
						  isdigit((unsigned char)*q) ||
						  *q == '_',
					  "odd key %.*s", (int)n, p);
		}
		p = eol + 2;
	}
}

Test(server, info_sections, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);
	char titles[256], *text, *v;
	static const char all[] = "Server,Clients,Memory,Persistence,Stats,"
				  "Replication,CPU,Modules,Cluster,Keyspace";

	text = info(c, NULL);
	check_info_shape(text, titles, sizeof(titles));
	cr_expect_str_eq(titles, all);
	cr_expect(text[strlen(text) - 3] != '\n', "trailing blank line");

	v = info_field(text, "redis_version");
	cr_expect_str_eq(v, TN_REDIS_COMPAT_VERSION);
	free(v);
	v = info_field(text, "titan_version");
	cr_expect_str_eq(v, TN_VERSION);
	free(v);
	v = info_field(text, "process_id");
	cr_expect_eq(atoi(v), srv.pid, "process_id %s, supervisor %d", v,
		     (int)srv.pid);
	free(v);
	v = info_field(text, "tcp_port");
	cr_expect_eq(atoi(v), srv.port);
	free(v);
	v = info_field(text, "run_id");
	cr_expect_eq(strlen(v), 40);
	cr_expect_eq(strspn(v, "0123456789abcdef"), 40);
	{
		char *replid = info_field(text, "master_replid");

		cr_expect_str_eq(replid, v);
		free(replid);
	}
	free(v);
	v = info_field(text, "master_replid2");
	cr_expect_str_eq(v, "0000000000000000000000000000000000000000");
	free(v);
	v = info_field(text, "redis_mode");
	cr_expect_str_eq(v, "standalone");
	free(v);
	v = info_field(text, "multiplexing_api");
	cr_expect_str_eq(v, "epoll");
	free(v);
	v = info_field(text, "shards");
	cr_expect_str_eq(v, "2");
	free(v);
	v = info_field(text, "role");
	cr_expect_str_eq(v, "master");
	free(v);
	v = info_field(text, "maxmemory_policy");
	cr_expect_str_eq(v, "noeviction");
	free(v);
	v = info_field(text, "aof_enabled");
	cr_expect_str_eq(v, "0");
	free(v);
	v = info_field(text, "used_memory_rss");
	cr_expect_gt(atoll(v), 0);
	free(v);
	v = info_field(text, "used_cpu_user");
	cr_expect(v && strchr(v, '.') && strlen(strchr(v, '.')) == 7, "%s", v);
	free(v);
	v = info_field(text, "cluster_enabled");
	cr_expect_str_eq(v, "0");
	free(v);
	free(text);

	text = info(c, "server");
	check_info_shape(text, titles, sizeof(titles));
	cr_expect_str_eq(titles, "Server");
	free(text);
	text = info(c, "CLIENTS memory");
	check_info_shape(text, titles, sizeof(titles));
	cr_expect_str_eq(titles, "Clients,Memory");
	free(text);
	text = info(c, "keyspace server");
	check_info_shape(text, titles, sizeof(titles));
	cr_expect_str_eq(titles, "Server,Keyspace");
	free(text);
	text = info(c, "all");
	check_info_shape(text, titles, sizeof(titles));
	cr_expect_str_eq(titles, all);
	free(text);
	text = info(c, "everything");
	check_info_shape(text, titles, sizeof(titles));
	cr_expect_str_eq(titles, all);
	free(text);
	tn_expect_str(tn_cmd(c, "INFO nosuchsection"), "");
	redisFree(c);
}

/* Redis' bytesToHuman */
Test(server, info_memory_human, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);
	char *text, *used, *human, want[32];
	unsigned long long n;

	tn_expect_status(tn_cmd(c, "SET k %s", "some value"), "OK");
	tn_expect_status(tn_cmd(c, "CONFIG SET maxmemory 1mb"), "OK");
	text = info(c, "memory");
	used = info_field(text, "used_memory");
	human = info_field(text, "used_memory_human");
	n = strtoull(used, NULL, 10);
	cr_expect_gt(n, 0);
	if (n < 1024)
		snprintf(want, sizeof(want), "%lluB", n);
	else if (n < 1024 * 1024)
		snprintf(want, sizeof(want), "%.2fK", (double)n / 1024);
	else
		snprintf(want, sizeof(want), "%.2fM", (double)n / 1048576);
	cr_expect_str_eq(human, want);
	free(used);
	free(human);
	used = info_field(text, "maxmemory");
	cr_expect_str_eq(used, "1048576");
	human = info_field(text, "maxmemory_human");
	cr_expect_str_eq(human, "1.00M");
	free(used);
	free(human);
	used = info_field(text, "used_memory_peak");
	cr_expect_geq(strtoull(used, NULL, 10), n);
	free(used);
	free(text);
	redisFree(c);
}

/* connected_clients sums the shards' counts; poll, the acceptor hands
 * sockets over asynchronously. */
static bool wait_clients(redisContext *c, long long want)
{
	long long deadline = mono_ms() + 5000, n = -1;

	while (mono_ms() < deadline) {
		n = info_ll(c, "clients", "connected_clients");
		if (n == want)
			return true;
		usleep(5000);
	}
	cr_log_error("connected_clients %lld, wanted %lld", n, want);
	return false;
}

Test(server, info_clients_across_shards, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv), *more[6];
	int i;

	cr_expect(wait_clients(c, 1));
	for (i = 0; i < 6; i++) {
		more[i] = tn_connect(&srv);
		tn_expect_status(tn_cmd(more[i], "PING"), "PONG");
	}
	cr_expect(wait_clients(c, 7));
	cr_expect_eq(info_ll(more[5], "clients", "connected_clients"), 7);
	for (i = 0; i < 4; i++)
		redisFree(more[i]);
	cr_expect(wait_clients(c, 3));
	cr_expect_geq(info_ll(c, "stats", "total_connections_received"), 7);
	cr_expect_eq(info_ll(c, "clients", "maxclients"), 10000);
	for (; i < 6; i++)
		redisFree(more[i]);
	redisFree(c);
}

Test(server, info_stats_counters, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv), *d = tn_connect(&srv);
	long long cmds, hits, misses, dirty;

	tn_expect_status(tn_cmd(c, "SET a 1"), "OK");
	cmds = info_ll(c, "stats", "total_commands_processed");
	hits = info_ll(c, "stats", "keyspace_hits");
	misses = info_ll(c, "stats", "keyspace_misses");
	dirty = info_ll(c, "persistence", "rdb_changes_since_last_save");
	tn_expect_str(tn_cmd(d, "GET a"), "1");
	tn_expect_str(tn_cmd(c, "GET a"), "1");
	tn_expect_nil(tn_cmd(d, "GET nosuch"));
	tn_expect_status(tn_cmd(d, "SET b 2"), "OK");
	/* counted in both shards, summed */
	cr_expect_eq(info_ll(c, "stats", "keyspace_hits"), hits + 2);
	cr_expect_eq(info_ll(c, "stats", "keyspace_misses"), misses + 1);
	cr_expect_eq(info_ll(c, "persistence", "rdb_changes_since_last_save"),
		     dirty + 1);
	/* 4 INFO calls above + GET GET GET SET + this one's predecessor */
	cr_expect_geq(info_ll(c, "stats", "total_commands_processed"),
		      cmds + 8);
	cr_expect_gt(info_ll(c, "stats", "total_net_input_bytes"), 0);
	cr_expect_gt(info_ll(c, "stats", "total_net_output_bytes"), 0);
	cr_expect_eq(info_ll(c, "stats", "rejected_connections"), 0);

	tn_expect_status(tn_cmd(c, "CONFIG RESETSTAT"), "OK");
	cr_expect_eq(info_ll(c, "stats", "keyspace_hits"), 0);
	cr_expect_eq(info_ll(c, "stats", "keyspace_misses"), 0);
	/* only the INFO calls since the reset */
	cr_expect_lt(info_ll(c, "stats", "total_commands_processed"), 5);
	tn_expect_error(tn_cmd(c, "CONFIG RESETSTAT x"),
			"ERR wrong number of arguments for 'config|resetstat' "
			"command");
	redisFree(c);
	redisFree(d);
}

/* Keep commands flowing until INFO sees a rate, bounded. */
Test(server, instantaneous_ops, .init = setup, .fini = teardown)
{
	redisContext *load = tn_connect(&srv), *c = tn_connect(&srv);
	long long deadline = mono_ms() + 10000, ops = 0;
	int i;

	cr_expect_eq(info_ll(c, "stats", "instantaneous_ops_per_sec"), 0);
	while (mono_ms() < deadline && ops == 0) {
		for (i = 0; i < 500; i++)
			redisAppendCommand(load, "PING");
		for (i = 0; i < 500; i++) {
			redisReply *r;

			cr_assert_eq(redisGetReply(load, (void **)&r),
				     REDIS_OK);
			freeReplyObject(r);
		}
		ops = info_ll(c, "stats", "instantaneous_ops_per_sec");
	}
	cr_expect_gt(ops, 0, "instantaneous_ops_per_sec stayed 0");
	redisFree(load);
	redisFree(c);
}

Test(server, dbsize_flushall_keyspace, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv), *d = tn_connect(&srv);
	char *text, *v;
	int i;

	tn_expect_int(tn_cmd(c, "DBSIZE"), 0);
	text = info(c, "keyspace");
	cr_expect_str_eq(text, "# Keyspace\r\n");
	free(text);
	/* 200 keys land in most of the 64 stripes */
	for (i = 0; i < 200; i++)
		tn_expect_status(tn_cmd(i % 2 ? c : d, "SET key:%d %d", i, i),
				 "OK");
	tn_expect_int(tn_cmd(c, "DBSIZE"), 200);
	tn_expect_int(tn_cmd(d, "DBSIZE"), 200);
	text = info(d, "keyspace");
	v = info_field(text, "db0");
	cr_expect_str_eq(v, "keys=200,expires=0,avg_ttl=0");
	free(v);
	free(text);
	tn_expect_error(tn_cmd(c, "DBSIZE x"),
			"ERR wrong number of arguments for 'dbsize' command");

	tn_expect_error(tn_cmd(c, "FLUSHALL foo"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "FLUSHALL SYNC ASYNC"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "FLUSHDB foo"), "ERR syntax error");
	tn_expect_int(tn_cmd(c, "DBSIZE"), 200);
	tn_expect_status(tn_cmd(c, "FLUSHALL"), "OK");
	tn_expect_int(tn_cmd(d, "DBSIZE"), 0);
	tn_expect_nil(tn_cmd(d, "GET key:1"));
	text = info(d, "keyspace");
	cr_expect_str_eq(text, "# Keyspace\r\n");
	free(text);

	tn_expect_status(tn_cmd(c, "SET x 1"), "OK");
	tn_expect_status(tn_cmd(c, "FLUSHALL ASYNC"), "OK");
	tn_expect_int(tn_cmd(c, "DBSIZE"), 0);
	tn_expect_status(tn_cmd(c, "SET x 1"), "OK");
	tn_expect_status(tn_cmd(c, "FLUSHDB sync"), "OK");
	tn_expect_int(tn_cmd(c, "DBSIZE"), 0);
	tn_expect_status(tn_cmd(c, "SET x 1"), "OK");
	tn_expect_status(tn_cmd(c, "FLUSHDB"), "OK");
	tn_expect_int(tn_cmd(c, "DBSIZE"), 0);
	redisFree(c);
	redisFree(d);
}

Test(server, time, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);
	redisReply *r = tn_cmd(c, "TIME");
	long long s, us;

	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(r->elements, 2);
	cr_assert_eq(r->element[0]->type, REDIS_REPLY_STRING);
	cr_assert_eq(r->element[1]->type, REDIS_REPLY_STRING);
	s = atoll(r->element[0]->str);
	us = atoll(r->element[1]->str);
	cr_expect_leq(llabs(s - (long long)time(NULL)), 5);
	cr_expect(us >= 0 && us < 1000000);
	freeReplyObject(r);
	tn_expect_error(tn_cmd(c, "TIME x"),
			"ERR wrong number of arguments for 'time' command");
	redisFree(c);
}

/* A CONFIG GET reply as "name=value,..." */
static char *config_pairs(redisContext *c, const char *args)
{
	char buf[4096] = "";
	redisReply *r;
	size_t i;

	/* one argument per word: hiredis splits the format, not %s */
	snprintf(buf, sizeof(buf), "CONFIG GET %s", args);
	r = tn_cmd(c, buf);
	buf[0] = '\0';

	cr_assert_eq(r->type, REDIS_REPLY_ARRAY, "type %d %s", r->type,
		     r->str ? r->str : "");
	cr_assert_eq(r->elements % 2, 0);
	for (i = 0; i < r->elements; i += 2)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf),
			 "%s%s=%s", i ? "," : "", r->element[i]->str,
			 r->element[i + 1]->str);
	freeReplyObject(r);
	return strdup(buf);
}

static void expect_config(redisContext *c, const char *args, const char *want)
{
	char *got = config_pairs(c, args);

	cr_expect_str_eq(got, want, "CONFIG GET %s", args);
	free(got);
}

Test(server, config_get_set, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv), *d = tn_connect(&srv);
	char *all;

	expect_config(c, "maxmemory", "maxmemory=0");
	/* named as the first exact pattern spelled it, as Redis 7.0 */
	expect_config(c, "MAXMEMORY", "MAXMEMORY=0");
	expect_config(c, "maxmemory MAXMEMORY", "maxmemory=0");
	expect_config(c, "MAXMEMORY max*",
		      "MAXMEMORY=0,maxclients=10000,"
		      "maxmemory-policy=noeviction");
	expect_config(c, "nosuch", "");
	expect_config(c, "maxmemory hz maxmemory", "maxmemory=0,hz=10");
	expect_config(c, "max*", "maxclients=10000,maxmemory=0,"
				 "maxmemory-policy=noeviction");
	expect_config(c, "h?", "hz=10");
	expect_config(c, "save appendonly",
		      "save=3600 1 300 100 60 10000,appendonly=no");
	all = config_pairs(c, "*");
	cr_expect(strstr(all, "port=") && strstr(all, "requirepass=") &&
			  strstr(all, "loglevel=verbose"),
		  "%s", all);
	free(all);

	tn_expect_status(tn_cmd(c, "CONFIG SET maxmemory 2mb"), "OK");
	expect_config(c, "maxmemory", "maxmemory=2097152");
	/* visible to every process: d may be on the other shard */
	expect_config(d, "maxmemory", "maxmemory=2097152");
	tn_expect_status(tn_cmd(d, "CONFIG SET hz 20 maxclients 500"), "OK");
	expect_config(c, "hz maxclients", "hz=20,maxclients=500");
	cr_expect_eq(info_ll(c, "clients", "maxclients"), 500);
	cr_expect_eq(info_ll(c, "server", "hz"), 20);

	tn_expect_error(tn_cmd(c, "CONFIG SET port 7000"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'port') - can't set immutable config");
	tn_expect_error(tn_cmd(c, "CONFIG SET daemonize yes"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'daemonize') - can't set immutable config");
	tn_expect_error(tn_cmd(c, "CONFIG SET nosuch 1"),
			"ERR Unknown option or number of arguments for CONFIG "
			"SET - 'nosuch'");
	tn_expect_error(tn_cmd(c, "CONFIG SET hz 30 hz 40"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'hz') - duplicate parameter");
	tn_expect_error(tn_cmd(c, "CONFIG SET hz abc"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'hz') - argument couldn't be parsed into an integer");
	tn_expect_error(tn_cmd(c, "CONFIG SET maxmemory lots"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'maxmemory') - argument must be a memory value");
	/* all or nothing: hz is not changed when maxmemory fails */
	tn_expect_error(tn_cmd(c, "CONFIG SET hz 33 maxmemory lots"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'maxmemory')");
	expect_config(c, "hz maxmemory", "hz=20,maxmemory=2097152");
	tn_expect_error(tn_cmd(c, "CONFIG SET hz 33 port 1"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'port') - can't set immutable config");
	expect_config(c, "hz", "hz=20");
	tn_expect_error(tn_cmd(c, "CONFIG SET maxmemory 1 hz"),
			"ERR syntax error");
	/* one fixed value: taken, any other refused */
	tn_expect_status(tn_cmd(c, "CONFIG SET maxmemory-policy NoEviction"),
			 "OK");
	tn_expect_error(tn_cmd(c, "CONFIG SET maxmemory-policy allkeys-lru"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'maxmemory-policy') - Titan has only 'noeviction' "
			"here");
	tn_expect_error(tn_cmd(c, "CONFIG SET databases 16"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'databases') - Titan has only '1' here");
	tn_expect_error(tn_cmd(c, "CONFIG SET save 1"),
			"ERR CONFIG SET failed (possibly related to argument "
			"'save') - Invalid save parameters");
	tn_expect_error(tn_cmd(c, "CONFIG SET maxmemory"),
			"ERR wrong number of arguments for 'config|set' "
			"command");
	tn_expect_error(tn_cmd(c, "CONFIG GET"),
			"ERR wrong number of arguments for 'config|get' "
			"command");
	tn_expect_error(tn_cmd(c, "CONFIG"),
			"ERR wrong number of arguments for 'config' command");
	tn_expect_error(tn_cmd(c, "CONFIG foo"),
			"ERR unknown subcommand 'foo'. Try CONFIG HELP.");
	{
		redisReply *r = tn_cmd(c, "CONFIG HELP");

		cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
		cr_expect_str_eq(r->element[0]->str,
				 "CONFIG <subcommand> [<arg> [value] [opt] "
				 "...]. Subcommands are:");
		freeReplyObject(r);
	}
	redisFree(c);
	redisFree(d);
}

/* Check one COMMAND INFO entry's shape (10 fields, recursively). */
static void check_entry(redisReply *e)
{
	size_t i;

	cr_assert_eq(e->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(e->elements, 10);
	cr_expect_eq(e->element[0]->type, REDIS_REPLY_STRING);
	cr_expect_eq(e->element[1]->type, REDIS_REPLY_INTEGER);
	cr_expect_neq(e->element[1]->integer, 0);
	for (i = 3; i <= 5; i++)
		cr_expect_eq(e->element[i]->type, REDIS_REPLY_INTEGER);
	for (i = 0; i < e->element[2]->elements; i++)
		cr_expect_eq(e->element[2]->element[i]->type,
			     REDIS_REPLY_STATUS);
	cr_expect_gt(e->element[6]->elements, 0, "%s has no categories",
		     e->element[0]->str);
	for (i = 0; i < e->element[6]->elements; i++)
		cr_expect_eq(e->element[6]->element[i]->str[0], '@');
	for (i = 0; i < e->element[9]->elements; i++) {
		redisReply *s = e->element[9]->element[i];
		size_t plen = strlen(e->element[0]->str);

		check_entry(s);
		cr_expect(strncmp(s->element[0]->str, e->element[0]->str,
				  plen) == 0 &&
			  s->element[0]->str[plen] == '|');
	}
}

Test(server, command, .init = setup, .fini = teardown)
{
	redisContext *c = tn_connect(&srv);
	redisReply *all = tn_cmd(c, "COMMAND"), *r, *e;
	long long count;
	size_t i, top = 0;

	r = tn_cmd(c, "COMMAND COUNT");
	cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
	count = r->integer;
	freeReplyObject(r);
	cr_assert_eq(all->type, REDIS_REPLY_ARRAY);
	cr_expect_eq((long long)all->elements, count);
	for (i = 0; i < all->elements; i++)
		check_entry(all->element[i]);
	freeReplyObject(all);

	r = tn_cmd(c, "COMMAND INFO");
	cr_expect_eq((long long)r->elements, count);
	freeReplyObject(r);
	r = tn_cmd(c, "COMMAND LIST");
	for (i = 0; i < r->elements; i++)
		top += strchr(r->element[i]->str, '|') == NULL;
	cr_expect_eq((long long)top, count);
	freeReplyObject(r);
	r = tn_cmd(c, "COMMAND DOCS");
	cr_expect_eq((long long)r->elements, 2 * count);
	freeReplyObject(r);

	/* exactly what Redis 7.0 says for these, key specs aside */
	r = tn_cmd(c, "COMMAND INFO get nosuch config|get");
	cr_assert_eq(r->elements, 3);
	e = r->element[0];
	cr_expect_str_eq(e->element[0]->str, "get");
	cr_expect_eq(e->element[1]->integer, 2);
	cr_expect_eq(e->element[2]->elements, 2);
	cr_expect_str_eq(e->element[2]->element[0]->str, "readonly");
	cr_expect_str_eq(e->element[2]->element[1]->str, "fast");
	cr_expect_eq(e->element[3]->integer, 1);
	cr_expect_eq(e->element[4]->integer, 1);
	cr_expect_eq(e->element[5]->integer, 1);
	cr_expect_eq(e->element[6]->elements, 3);
	cr_expect_str_eq(e->element[6]->element[0]->str, "@read");
	cr_expect_str_eq(e->element[6]->element[1]->str, "@string");
	cr_expect_str_eq(e->element[6]->element[2]->str, "@fast");
	cr_expect_eq(e->element[9]->elements, 0);
	cr_expect_eq(r->element[1]->type, REDIS_REPLY_NIL);
	e = r->element[2];
	cr_expect_str_eq(e->element[0]->str, "config|get");
	cr_expect_eq(e->element[1]->integer, -3);
	cr_expect_eq(e->element[6]->elements, 3);
	cr_expect_str_eq(e->element[6]->element[0]->str, "@admin");
	cr_expect_str_eq(e->element[6]->element[1]->str, "@slow");
	cr_expect_str_eq(e->element[6]->element[2]->str, "@dangerous");
	freeReplyObject(r);

	r = tn_cmd(c, "COMMAND INFO time");
	e = r->element[0];
	cr_assert_eq(e->element[7]->elements, 1);
	cr_expect_str_eq(e->element[7]->element[0]->str,
			 "nondeterministic_output");
	freeReplyObject(r);
	r = tn_cmd(c, "COMMAND INFO auth hello quit reset");
	for (i = 0; i < 4; i++) {
		size_t j;
		bool noauth = false;

		e = r->element[i]->element[2];
		for (j = 0; j < e->elements; j++)
			noauth |= strcmp(e->element[j]->str, "no_auth") == 0;
		cr_expect(noauth, "%s lacks no_auth",
			  r->element[i]->element[0]->str);
	}
	freeReplyObject(r);

	r = tn_cmd(c, "COMMAND DOCS ping nosuch");
	cr_assert_eq(r->elements, 2);
	cr_expect_str_eq(r->element[0]->str, "ping");
	e = r->element[1];
	cr_assert_eq(e->type, REDIS_REPLY_ARRAY);
	cr_assert_eq(e->elements, 6);
	cr_expect_str_eq(e->element[0]->str, "summary");
	cr_expect_str_eq(e->element[1]->str, "Ping the server");
	cr_expect_str_eq(e->element[2]->str, "since");
	cr_expect_str_eq(e->element[3]->str, "1.0.0");
	cr_expect_str_eq(e->element[4]->str, "group");
	cr_expect_str_eq(e->element[5]->str, "connection");
	freeReplyObject(r);
	r = tn_cmd(c, "COMMAND DOCS config|set config");
	cr_assert_eq(r->elements, 4);
	cr_expect_str_eq(r->element[0]->str, "config|set");
	cr_expect_str_eq(r->element[2]->str, "config");
	e = r->element[3];
	cr_assert_eq(e->elements, 8);
	cr_expect_str_eq(e->element[6]->str, "subcommands");
	cr_expect_eq(e->element[7]->elements, 8); /* 4 subcommands */
	freeReplyObject(r);

	r = tn_cmd(c, "COMMAND LIST FILTERBY PATTERN config*");
	cr_expect_geq(r->elements, 4);
	for (i = 0; i < r->elements; i++)
		cr_expect(strncmp(r->element[i]->str, "config", 6) == 0);
	freeReplyObject(r);
	r = tn_cmd(c, "COMMAND LIST FILTERBY ACLCAT connection");
	for (i = 0; i < r->elements; i++)
		if (strcmp(r->element[i]->str, "ping") == 0)
			break;
	cr_expect_lt(i, r->elements, "ping not in @connection");
	freeReplyObject(r);
	r = tn_cmd(c, "COMMAND LIST FILTERBY MODULE foo");
	cr_expect_eq(r->elements, 0);
	freeReplyObject(r);
	tn_expect_error(tn_cmd(c, "COMMAND LIST FILTERBY foo x"),
			"ERR syntax error");
	tn_expect_error(tn_cmd(c, "COMMAND LIST foo"), "ERR syntax error");

	r = tn_cmd(c, "COMMAND GETKEYS SET a b");
	cr_assert_eq(r->elements, 1);
	cr_expect_str_eq(r->element[0]->str, "a");
	freeReplyObject(r);
	tn_expect_error(tn_cmd(c, "COMMAND GETKEYS PING x"),
			"ERR The command has no key arguments");
	tn_expect_error(tn_cmd(c, "COMMAND GETKEYS nosuch a"),
			"ERR Invalid command specified");
	tn_expect_error(tn_cmd(c, "COMMAND GETKEYS GET a b"),
			"ERR Invalid number of arguments specified for command");
	tn_expect_error(tn_cmd(c, "COMMAND GETKEYS"),
			"ERR wrong number of arguments for 'command|getkeys' "
			"command");
	tn_expect_error(tn_cmd(c, "COMMAND COUNT x"),
			"ERR wrong number of arguments for 'command|count' "
			"command");
	tn_expect_error(tn_cmd(c, "COMMAND foo"),
			"ERR unknown subcommand 'foo'. Try COMMAND HELP.");
	r = tn_cmd(c, "COMMAND HELP");
	cr_expect_str_eq(r->element[0]->str,
			 "COMMAND <subcommand> [<arg> [value] [opt] ...]. "
			 "Subcommands are:");
	freeReplyObject(r);
	redisFree(c);
}

static void fini_shutdown(void)
{
	tn_server_stop(&srv);
}

Test(server, shutdown, .init = setup, .fini = fini_shutdown)
{
	redisContext *c = tn_connect(&srv);
	long long deadline;
	redisReply *r;
	int status = -1;

	tn_expect_error(tn_cmd(c, "SHUTDOWN ABORT"),
			"ERR No shutdown in progress.");
	tn_expect_error(tn_cmd(c, "SHUTDOWN foo"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SHUTDOWN SAVE NOSAVE"), "ERR syntax error");
	tn_expect_error(tn_cmd(c, "SHUTDOWN NOW ABORT"), "ERR syntax error");
	tn_expect_status(tn_cmd(c, "PING"), "PONG");
	/* no reply: the connection closes, the supervisor exits 0 */
	r = redisCommand(c, "SHUTDOWN NOSAVE");
	cr_expect(r == NULL, "SHUTDOWN replied");
	if (r)
		freeReplyObject(r);
	redisFree(c);
	deadline = mono_ms() + 15000;
	while (mono_ms() < deadline) {
		if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
			srv.pid = 0;
			break;
		}
		usleep(10000);
	}
	cr_assert_eq(srv.pid, 0, "supervisor still running");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "exit status %d", status);
}

/* Run redis-cli against the server; its output into out. */
static int run_cli(const char *args, char *out, size_t len)
{
	char cmd[512];
	size_t got = 0, n;
	FILE *p;

	snprintf(cmd, sizeof(cmd), "redis-cli -p %d %s 2>&1", srv.port, args);
	p = popen(cmd, "r");
	cr_assert(p, "popen %s", cmd);
	while (got + 1 < len && (n = fread(out + got, 1, len - 1 - got, p)) > 0)
		got += n;
	out[got] = '\0';
	/* drain what did not fit */
	while (fread(cmd, 1, sizeof(cmd), p) > 0)
		;
	return pclose(p);
}

Test(server, redis_cli, .init = setup, .fini = teardown)
{
	static char out[1 << 20];

	if (access("/usr/bin/redis-cli", X_OK) != 0)
		cr_skip_test("no redis-cli");
	cr_expect_eq(run_cli("ping", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "PONG\n");
	cr_expect_eq(run_cli("info", out, sizeof(out)), 0);
	cr_expect(strstr(out, "# Server") && strstr(out, "redis_version:"),
		  "%.200s", out);
	cr_expect(strstr(out, "ERR") == NULL, "%.200s", out);
	cr_expect_eq(run_cli("-3 info server", out, sizeof(out)), 0);
	cr_expect(strncmp(out, "# Server", 8) == 0, "%.200s", out);
	cr_expect_eq(run_cli("command docs", out, sizeof(out)), 0);
	cr_expect(strstr(out, "summary") && strstr(out, "group"), "%.200s",
		  out);
	cr_expect(strstr(out, "ERR") == NULL, "%.200s", out);
	cr_expect_eq(run_cli("--no-raw command count", out, sizeof(out)), 0);
	cr_expect(strncmp(out, "(integer) ", 10) == 0, "%s", out);
	cr_expect_eq(run_cli("config get maxmemory", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "maxmemory\n0\n");
	cr_expect_eq(run_cli("client list", out, sizeof(out)), 0);
	cr_expect(strncmp(out, "id=", 3) == 0, "%s", out);
	cr_expect_eq(run_cli("dbsize", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "0\n");
}
