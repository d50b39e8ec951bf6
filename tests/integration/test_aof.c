/*
 * test_aof.c - the AOF end to end on a real supervisor: writes survive a
 * restart, a kill -9 of everything (appendfsync always: every
 * acknowledged write), a kill -9 of the journal, torn tails and garbage,
 * BGREWRITEAOF under writes, CONFIG SET appendonly yes, group commit
 * with many writers, and the files against Debian's redis-check-aof and
 * a stock redis-server 7.0.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define AOF_ON "appendonly yes\nappendfsync always\n"
#define MANIFEST "appendonlydir/appendonly.aof.manifest"

TestSuite(aof, .timeout = 120);

/* Start the supervisor again on s's directory and config. */
static int start_again(struct tn_server *s)
{
	if (tn_server_spawn(s) < 0)
		return -1;
	return tn_server_wait_ready(s, 15000);
}

/* A start that must fail: its exit status (-1 if it kept running). */
static int start_must_fail(struct tn_server *s)
{
	long long end = tn_now_ms() + 15000;
	int status;

	cr_assert_geq(tn_server_spawn(s), 0);
	while (tn_now_ms() < end) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		}
		usleep(20000);
	}
	return -1;
}

/* SIGTERM and a clean exit 0, keeping the directory. */
static void stop_keep(struct tn_server *s)
{
	long long end = tn_now_ms() + 15000;
	int status = 0;

	kill(s->pid, SIGTERM);
	while (tn_now_ms() < end) {
		if (waitpid(s->pid, &status, WNOHANG) == s->pid) {
			s->pid = 0;
			cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
				  "supervisor exit status %d", status);
			return;
		}
		usleep(10000);
	}
	cr_assert_fail("the supervisor did not stop in 15 s");
}

/* kill -9 of the supervisor and every child, none warned. */
static void crash_all(struct tn_server *s)
{
	pid_t kids[64];
	int n, i;

	kill(s->pid, SIGSTOP); /* no respawn, no PDEATHSIG drain */
	n = tn_proc_children(s->pid, kids, 64);
	for (i = 0; i < n && i < 64; i++)
		kill(kids[i], SIGKILL);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	for (i = 0; i < n && i < 64; i++)
		tn_wait_exit(kids[i], 5000);
	s->pid = 0;
}

static void path_in(const struct tn_server *s, const char *name, char *out,
		    size_t len)
{
	snprintf(out, len, "%s/%s", s->dir, name);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *p;
	long n;

	cr_assert_not_null(f, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p = malloc((size_t)n + 1);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	if (len)
		*len = (size_t)n;
	return p;
}

static void append_bytes(const char *path, const char *bytes)
{
	FILE *f = fopen(path, "a");

	cr_assert_not_null(f);
	fputs(bytes, f);
	fclose(f);
}

/* Does INFO persistence show "field:value"? */
static bool info_is(redisContext *c, const char *field, const char *value)
{
	redisReply *r = tn_cmd(c, "INFO persistence");
	char key[128];
	bool yes;

	snprintf(key, sizeof(key), "\r\n%s:%s\r\n", field, value);
	yes = strstr(r->str, key) != NULL;
	freeReplyObject(r);
	return yes;
}

static long long info_field(redisContext *c, const char *field)
{
	redisReply *r = tn_cmd(c, "INFO persistence");
	char key[80], *p;
	long long v = -1;

	snprintf(key, sizeof(key), "\r\n%s:", field);
	p = strstr(r->str, key);
	if (p)
		v = atoll(p + strlen(key));
	freeReplyObject(r);
	return v;
}

/* The last incremental file named by the manifest. */
static void last_incr(const struct tn_server *s, char *out, size_t len)
{
	char path[512], *m, *p, *q = NULL;

	path_in(s, MANIFEST, path, sizeof(path));
	m = slurp(path, NULL);
	for (p = strstr(m, "file "); p; p = strstr(p + 1, "file "))
		if (strstr(p, "type i") && (!strchr(p, '\n') ||
					    strstr(p, "type i") < strchr(p, '\n')))
			q = p + 5;
	cr_assert_not_null(q, "no incr file in %s", m);
	*strchr(q, ' ') = '\0';
	snprintf(out, len, "%s/appendonlydir/%s", s->dir, q);
	free(m);
}

static void fill(redisContext *c)
{
	tn_expect_status(tn_cmd(c, "SET str hello"), "OK");
	tn_expect_status(tn_cmd(c, "SET num 41"), "OK");
	tn_expect_int(tn_cmd(c, "INCR num"), 42);
	tn_expect_int(tn_cmd(c, "SADD small 1 2 3"), 3);
	tn_expect_int(tn_cmd(c, "SADD big a b c d"), 4);
	tn_expect_int(tn_cmd(c, "SREM big d"), 1);
	tn_expect_status(tn_cmd(c, "SET ttl v EX 1000"), "OK");
	tn_expect_status(tn_cmd(c, "SET gone v"), "OK");
	tn_expect_int(tn_cmd(c, "DEL gone"), 1);
	tn_expect_status(tn_cmd(c, "SET bin %b", "a\0\r\nb", (size_t)5), "OK");
}

static void check_filled(redisContext *c)
{
	redisReply *r;

	tn_expect_str(tn_cmd(c, "GET str"), "hello");
	tn_expect_str(tn_cmd(c, "GET num"), "42");
	tn_expect_int(tn_cmd(c, "SCARD small"), 3);
	tn_expect_int(tn_cmd(c, "SISMEMBER small 2"), 1);
	tn_expect_int(tn_cmd(c, "SCARD big"), 3);
	tn_expect_int(tn_cmd(c, "SISMEMBER big d"), 0);
	tn_expect_int(tn_cmd(c, "EXISTS gone"), 0);
	r = tn_cmd(c, "TTL ttl");
	cr_assert(r->integer > 990 && r->integer <= 1000, "TTL %lld",
		  r->integer);
	freeReplyObject(r);
	r = tn_cmd(c, "GET bin");
	cr_assert_eq(r->len, 5);
	cr_assert(memcmp(r->str, "a\0\r\nb", 5) == 0);
	freeReplyObject(r);
}

Test(aof, writes_survive_a_restart)
{
	struct tn_server s;
	redisContext *c;
	char path[512], *m, *incr;

	cr_assert_eq(tn_server_start(&s, AOF_ON), 0);
	c = tn_connect(&s);
	fill(c);
	cr_assert_eq(info_field(c, "aof_enabled"), 1);
	cr_assert(info_is(c, "aof_last_write_status", "ok"));
	redisFree(c);
	path_in(&s, MANIFEST, path, sizeof(path));
	m = slurp(path, NULL);
	cr_assert_str_eq(m, "file appendonly.aof.1.base.rdb seq 1 type b\n"
			    "file appendonly.aof.1.incr.aof seq 1 type i\n");
	free(m);
	path_in(&s, "appendonlydir/appendonly.aof.1.incr.aof", path,
		sizeof(path));
	incr = slurp(path, NULL);
	cr_assert(strncmp(incr, "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n", 23) == 0);
	cr_assert(strstr(incr, "PXAT") != NULL, "no absolute expiry");
	free(incr);
	stop_keep(&s);
	cr_assert(tn_file_contains(s.log, "Calling fsync() on the AOF file."));

	cr_assert_eq(start_again(&s), 0);
	c = tn_connect(&s);
	check_filled(c);
	redisFree(c);
	cr_assert(tn_file_contains(s.log, "DB loaded from append only file:"));
	cr_assert_eq(tn_server_stop(&s), 0);
}

/* A writer in a child process: SET, EXPIRE and SADD, each acknowledged
 * index stored in shared memory as soon as its reply arrives. */
struct acked {
	volatile long long sets;
	volatile long long expires;
	volatile long long sadds;
};

static pid_t writer(struct tn_server *s, struct acked *a, const char *tag)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		redisContext *c;
		long long i;

		/* a failed assertion ends the test: the writer with it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = redisConnect("127.0.0.1", s->port);

		if (!c || c->err)
			_exit(1);
		for (i = 1;; i++) {
			redisReply *r = redisCommand(c, "SET %s:%lld v%lld",
						     tag, i, i);

			if (!r || r->type != REDIS_REPLY_STATUS)
				_exit(0);
			freeReplyObject(r);
			a->sets = i;
			r = redisCommand(c, "EXPIRE %s:%lld 600", tag, i);
			if (!r || r->type != REDIS_REPLY_INTEGER ||
			    r->integer != 1)
				_exit(0);
			freeReplyObject(r);
			a->expires = i;
			r = redisCommand(c, "SADD %s:set %lld", tag, i);
			if (!r || r->type != REDIS_REPLY_INTEGER)
				_exit(0);
			freeReplyObject(r);
			a->sadds = i;
		}
	}
	return pid;
}

/* Every write `a` says was acknowledged is there: each SET's value, each
 * EXPIRE's TTL, each SADD's member (pipelined: thousands of checks). */
static void check_acked(redisContext *c, const char *tag, struct acked a)
{
	redisReply *r;
	long long i;
	char want[32];

	cr_assert_gt(a.sets, 0, "the writer %s got no acknowledgement", tag);
	for (i = 1; i <= a.sets; i++) {
		redisAppendCommand(c, "GET %s:%lld", tag, i);
		redisAppendCommand(c, "PTTL %s:%lld", tag, i);
	}
	for (i = 1; i <= a.sadds; i++)
		redisAppendCommand(c, "SISMEMBER %s:set %lld", tag, i);
	for (i = 1; i <= a.sets; i++) {
		cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
		snprintf(want, sizeof(want), "v%lld", i);
		cr_assert(r->type == REDIS_REPLY_STRING && !strcmp(r->str, want),
			  "acknowledged SET %s:%lld is lost (of %lld)", tag, i,
			  a.sets);
		freeReplyObject(r);
		cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
		if (i <= a.expires)
			cr_assert(r->integer > 0 && r->integer <= 600000,
				  "acknowledged EXPIRE %s:%lld lost: PTTL %lld",
				  tag, i, r->integer);
		freeReplyObject(r);
	}
	for (i = 1; i <= a.sadds; i++) {
		cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
		cr_assert_eq(r->integer, 1,
			     "acknowledged SADD %s:set %lld is lost (of %lld)",
			     tag, i, a.sadds);
		freeReplyObject(r);
	}
}

static struct acked *shared_acked(int n)
{
	struct acked *a = mmap(NULL, n * sizeof(*a), PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	cr_assert_neq(a, MAP_FAILED);
	memset((void *)a, 0, n * sizeof(*a));
	return a;
}

static void wait_acked(struct acked *a, long long n)
{
	long long end = tn_now_ms() + 20000;

	while (a->sadds < n && tn_now_ms() < end)
		usleep(2000);
	cr_assert_geq(a->sadds, n, "the writer is stuck at %lld", a->sadds);
}

Test(aof, kill9_journal_is_restarted_and_loses_nothing)
{
	struct tn_server s;
	struct acked *a = shared_acked(1), seen;
	redisContext *c;
	pid_t j, j2, w;

	cr_assert_eq(tn_server_start(&s, AOF_ON), 0);
	j = tn_child_pid(&s, "titan: journal");
	cr_assert_gt(j, 0);
	w = writer(&s, a, "j");
	wait_acked(a, 100);
	kill(j, SIGKILL);
	j2 = tn_wait_child(&s, "titan: journal", j, 10000);
	cr_assert_gt(j2, 0, "the journal was not restarted");
	wait_acked(a, a->sadds + 100); /* writes flow again */
	kill(w, SIGKILL);
	waitpid(w, NULL, 0);
	seen = *a;
	stop_keep(&s);
	cr_assert_eq(start_again(&s), 0);
	c = tn_connect(&s);
	check_acked(c, "j", seen);
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);
	munmap(a, sizeof(*a));
}

Test(aof, truncated_tail_is_cut_when_allowed)
{
	struct tn_server s;
	redisContext *c;
	char incr[600], *body;
	size_t before, after;

	cr_assert_eq(tn_server_start(&s, AOF_ON), 0);
	c = tn_connect(&s);
	fill(c);
	redisFree(c);
	stop_keep(&s);
	last_incr(&s, incr, sizeof(incr));
	free(slurp(incr, &before));
	append_bytes(incr, "*3\r\n$3\r\nSET\r\n$4\r\ntorn\r\n$5\r\nva");
	cr_assert_eq(start_again(&s), 0, "refused a torn tail");
	cr_assert(tn_file_contains(
	    s.log, "!!! Warning: short read while loading the AOF file "
		   "appendonly.aof.1.incr.aof!!!"));
	cr_assert(tn_file_contains(s.log, "loaded anyway because "
					  "aof-load-truncated is enabled"));
	c = tn_connect(&s);
	check_filled(c);
	tn_expect_int(tn_cmd(c, "EXISTS torn"), 0);
	tn_expect_status(tn_cmd(c, "SET after cut"), "OK");
	redisFree(c);
	stop_keep(&s);
	/* the tail went, and what came after is whole */
	body = slurp(incr, &after);
	cr_assert_gt(after, before);
	cr_assert_null(strstr(body, "torn"));
	free(body);
	cr_assert_eq(start_again(&s), 0);
	c = tn_connect(&s);
	tn_expect_str(tn_cmd(c, "GET after"), "cut");
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);
}

Test(aof, truncated_tail_refused_when_not_allowed)
{
	struct tn_server s;
	redisContext *c;
	char incr[600];
	FILE *f;

	cr_assert_eq(tn_server_start(&s, AOF_ON), 0);
	c = tn_connect(&s);
	fill(c);
	redisFree(c);
	stop_keep(&s);
	last_incr(&s, incr, sizeof(incr));
	append_bytes(incr, "*2\r\n$3\r\nDEL\r\n$3\r\nst");
	f = fopen(s.conf, "a");
	fputs("aof-load-truncated no\n", f);
	fclose(f);
	cr_assert_gt(start_must_fail(&s), 0, "started on a torn AOF");
	cr_assert(tn_file_contains(s.log, "Unexpected end of file reading the "
					  "append only file "
					  "appendonly.aof.1.incr.aof"));
	/* the file was left alone */
	{
		size_t len;
		char *body = slurp(incr, &len);

		cr_assert(len > 6 && !memcmp(body + len - 6, "$3\r\nst", 6));
		free(body);
	}
	tn_server_stop(&s);
}

Test(aof, garbage_in_the_middle_refuses_to_start)
{
	struct tn_server s;
	redisContext *c;
	char incr[600], msg[300], *body;
	size_t len;
	FILE *f;

	cr_assert_eq(tn_server_start(&s, AOF_ON), 0);
	c = tn_connect(&s);
	fill(c);
	redisFree(c);
	stop_keep(&s);
	last_incr(&s, incr, sizeof(incr));
	body = slurp(incr, &len);
	cr_assert_gt(len, 100);
	/* a command boundary: the second command starts at 23 */
	memcpy(body + 23, "#garbage", 8);
	f = fopen(incr, "w");
	fwrite(body, 1, len, f);
	fclose(f);
	free(body);
	cr_assert_gt(start_must_fail(&s), 0, "started on a corrupt AOF");
	snprintf(msg, sizeof(msg),
		 "Bad file format reading the append only file "
		 "appendonly.aof.1.incr.aof: expected '*' (a multibulk "
		 "command) at offset 23");
	cr_assert(tn_file_contains(s.log, msg), "log lacks: %s", msg);
	cr_assert(tn_file_contains(s.log, "titan-check"));
	tn_server_stop(&s);
}

/* BGREWRITEAOF while a writer goes on, under appendfsync `fsync`: the
 * files switch under the writes (under always, in the middle of a group
 * that waits for its sync), none is lost, none waits for ever. */
static void rewrite_while_writing(const char *fsync)
{
	struct tn_server s;
	struct acked *a = shared_acked(1), seen;
	redisContext *c;
	long long end;
	char path[512], *m, conf[64];
	redisReply *r;
	pid_t w;
	int i;

	snprintf(conf, sizeof(conf), "appendonly yes\nappendfsync %s\n", fsync);
	cr_assert_eq(tn_server_start(&s, conf), 0);
	c = tn_connect(&s);
	for (i = 0; i < 2000; i++)
		freeReplyObject(tn_cmd(c, "SET pre:%d %d", i, i));
	w = writer(&s, a, "rw");
	wait_acked(a, 50);
	tn_expect_status(tn_cmd(c, "BGREWRITEAOF"),
			 "Background append only file rewriting started");
	r = tn_cmd(c, "BGREWRITEAOF");
	/* the first one may be over already on a fast machine */
	cr_assert(r->type == REDIS_REPLY_STATUS ||
		      (r->type == REDIS_REPLY_ERROR &&
		       !strcmp(r->str, "ERR Background append only file "
				       "rewriting already in progress")),
		  "%s", r->str);
	freeReplyObject(r);
	end = tn_now_ms() + 20000;
	while (info_field(c, "aof_rewrites") < 1 && tn_now_ms() < end)
		usleep(10000);
	while (info_field(c, "aof_rewrite_in_progress") != 0 &&
	       tn_now_ms() < end)
		usleep(10000);
	cr_assert_geq(info_field(c, "aof_rewrites"), 1);
	cr_assert(info_is(c, "aof_last_bgrewrite_status", "ok"));
	wait_acked(a, a->sadds + 50);
	kill(w, SIGKILL);
	waitpid(w, NULL, 0);
	seen = *a;
	redisFree(c);
	path_in(&s, MANIFEST, path, sizeof(path));
	m = slurp(path, NULL);
	cr_assert_null(strstr(m, "appendonly.aof.1."), "old files kept: %s", m);
	cr_assert_null(strstr(m, "type h"), "%s", m);
	free(m);
	path_in(&s, "appendonlydir/appendonly.aof.1.incr.aof", path,
		sizeof(path));
	cr_assert_neq(access(path, F_OK), 0, "the old incr file stayed");
	stop_keep(&s);
	cr_assert_eq(start_again(&s), 0);
	c = tn_connect(&s);
	check_acked(c, "rw", seen);
	tn_expect_str(tn_cmd(c, "GET pre:1999"), "1999");
	{
		/* the writer's last SET may have run without its OK read */
		redisReply *n = tn_cmd(c, "DBSIZE");

		cr_assert(n->integer == 2000 + seen.sets + 1 ||
			      n->integer == 2000 + seen.sets + 2,
			  "DBSIZE %lld, %lld acknowledged", n->integer,
			  seen.sets);
		freeReplyObject(n);
	}
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);
	munmap(a, sizeof(*a));
}

Test(aof, bgrewriteaof_while_writing_loses_nothing)
{
	rewrite_while_writing("everysec");
}

Test(aof, bgrewriteaof_while_writing_always_loses_nothing)
{
	rewrite_while_writing("always");
}

Test(aof, config_set_appendonly_yes_starts_the_aof)
{
	struct tn_server s;
	redisContext *c;
	char path[512];
	long long end;
	FILE *f;

	cr_assert_eq(tn_server_start(&s, NULL), 0);
	c = tn_connect(&s);
	tn_expect_status(tn_cmd(c, "SET before on"), "OK");
	tn_expect_int(tn_cmd(c, "SADD s m1 m2"), 2);
	cr_assert_eq(info_field(c, "aof_enabled"), 0);
	tn_expect_status(tn_cmd(c, "CONFIG SET appendonly yes"), "OK");
	path_in(&s, MANIFEST, path, sizeof(path));
	end = tn_now_ms() + 10000;
	while ((access(path, F_OK) != 0 || info_field(c, "aof_rewrites") < 1) &&
	       tn_now_ms() < end)
		usleep(10000);
	cr_assert_eq(access(path, F_OK), 0, "no manifest after CONFIG SET");
	tn_expect_status(tn_cmd(c, "SET after on"), "OK");
	redisFree(c);
	stop_keep(&s);
	f = fopen(s.conf, "a");
	fputs("appendonly yes\n", f);
	fclose(f);
	cr_assert_eq(start_again(&s), 0);
	c = tn_connect(&s);
	tn_expect_str(tn_cmd(c, "GET before"), "on");
	tn_expect_str(tn_cmd(c, "GET after"), "on");
	tn_expect_int(tn_cmd(c, "SCARD s"), 2);
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);
}

/* ------------------------------------------------------------------ */
/* Interop with Debian's redis-tools and redis-server 7.0              */
/* ------------------------------------------------------------------ */

static bool have(const char *prog)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A stock redis-server on `dir` (appendonly yes); its pid, or -1. */
static pid_t redis_start(const char *dir, int port)
{
	pid_t pid = fork();
	char p[16];
	long long end = tn_now_ms() + 10000;

	if (pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		snprintf(p, sizeof(p), "%d", port);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execlp("redis-server", "redis-server", "--port", p, "--bind",
		       "127.0.0.1", "--dir", dir, "--appendonly", "yes",
		       "--save", "", (char *)NULL);
		_exit(127);
	}
	while (tn_now_ms() < end) {
		redisContext *c = redisConnect("127.0.0.1", port);
		redisReply *r = c && !c->err ? redisCommand(c, "PING") : NULL;
		bool ok = r && r->type == REDIS_REPLY_STATUS;

		if (r)
			freeReplyObject(r);
		if (c)
			redisFree(c);
		if (ok)
			return pid;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void redis_stop(pid_t pid)
{
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

Test(aof, redis_check_aof_accepts_titans_directory)
{
	struct tn_server s;
	redisContext *c;

	if (!have("redis-check-aof"))
		cr_skip_test("redis-check-aof is not installed");
	cr_assert_eq(tn_server_start(&s, AOF_ON), 0);
	c = tn_connect(&s);
	fill(c);
	tn_expect_status(tn_cmd(c, "BGREWRITEAOF"),
			 "Background append only file rewriting started");
	{
		long long end = tn_now_ms() + 10000;

		while (info_field(c, "aof_rewrites") < 1 && tn_now_ms() < end)
			usleep(10000);
	}
	tn_expect_int(tn_cmd(c, "SADD after x"), 1);
	redisFree(c);
	stop_keep(&s);
	cr_assert_eq(sh("redis-check-aof %s/" MANIFEST " >%s/check.out 2>&1",
			s.dir, s.dir),
		     0, "redis-check-aof refused Titan's AOF");
	{
		char out[512];

		snprintf(out, sizeof(out), "%s/check.out", s.dir);
		cr_assert(tn_file_contains(out, "All AOF files and manifest "
						"are valid"));
	}
	cr_assert_eq(start_again(&s), 0);
	cr_assert_eq(tn_server_stop(&s), 0);
}

Test(aof, stock_redis_loads_titans_directory)
{
	struct tn_server s;
	redisContext *c;
	char copy[512];
	int port = tn_free_port();
	pid_t rp;

	if (!have("redis-server"))
		cr_skip_test("redis-server is not installed");
	cr_assert_eq(tn_server_start(&s, AOF_ON), 0);
	c = tn_connect(&s);
	fill(c);
	redisFree(c);
	stop_keep(&s);
	snprintf(copy, sizeof(copy), "%s/redis", s.dir);
	cr_assert_eq(sh("mkdir %s && cp -r %s/appendonlydir %s/", copy, s.dir,
			copy),
		     0);
	rp = redis_start(copy, port);
	cr_assert_gt(rp, 0, "redis-server did not start on Titan's AOF");
	c = redisConnect("127.0.0.1", port);
	cr_assert(c && !c->err);
	check_filled(c);
	tn_expect_int(tn_cmd(c, "DBSIZE"), 6);
	redisFree(c);
	redis_stop(rp);
	tn_server_stop(&s);
}

Test(aof, titan_loads_a_stock_redis_directory)
{
	struct tn_server s;
	redisContext *c;
	int port = tn_free_port();
	pid_t rp;
	FILE *f;

	if (!have("redis-server"))
		cr_skip_test("redis-server is not installed");
	/* a directory for Titan, written first by redis-server */
	cr_assert_eq(tn_server_start(&s, NULL), 0);
	stop_keep(&s);
	rp = redis_start(s.dir, port);
	cr_assert_gt(rp, 0);
	c = redisConnect("127.0.0.1", port);
	cr_assert(c && !c->err);
	fill(c);
	/* a large set (hashtable encoding) and a rewrite: RDB base + incr */
	{
		int i;

		for (i = 0; i < 300; i++)
			freeReplyObject(tn_cmd(c, "SADD wide m%d", i));
	}
	tn_expect_status(tn_cmd(c, "BGREWRITEAOF"),
			 "Background append only file rewriting started");
	{
		long long end = tn_now_ms() + 10000;

		while (info_field(c, "aof_rewrites") < 1 && tn_now_ms() < end)
			usleep(10000);
	}
	tn_expect_int(tn_cmd(c, "SADD wide extra"), 1);
	tn_expect_int(tn_cmd(c, "PEXPIRE str 900000"), 1);
	redisFree(c);
	redis_stop(rp);
	f = fopen(s.conf, "a");
	fputs("appendonly yes\n", f);
	fclose(f);
	cr_assert_eq(start_again(&s), 0, "Titan refused redis-server's AOF");
	c = tn_connect(&s);
	check_filled(c);
	tn_expect_int(tn_cmd(c, "SCARD wide"), 301);
	{
		redisReply *r = tn_cmd(c, "PTTL str");

		cr_assert(r->integer > 800000, "PTTL %lld", r->integer);
		freeReplyObject(r);
	}
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);
}

/* INFO persistence: Redis 7.0.15's field names, in its order (taken
 * from a stock redis-server with appendonly yes). */
Test(aof, info_persistence_has_redis_fields_in_order)
{
	static const char *const want[] = {
	    "loading", "async_loading", "current_cow_peak",
	    "current_cow_size", "current_cow_size_age", "current_fork_perc",
	    "current_save_keys_processed", "current_save_keys_total",
	    "rdb_changes_since_last_save", "rdb_bgsave_in_progress",
	    "rdb_last_save_time", "rdb_last_bgsave_status",
	    "rdb_last_bgsave_time_sec", "rdb_current_bgsave_time_sec",
	    "rdb_saves", "rdb_last_cow_size", "rdb_last_load_keys_expired",
	    "rdb_last_load_keys_loaded", "aof_enabled",
	    "aof_rewrite_in_progress", "aof_rewrite_scheduled",
	    "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec",
	    "aof_last_bgrewrite_status", "aof_rewrites",
	    "aof_rewrites_consecutive_failures", "aof_last_write_status",
	    "aof_last_cow_size", "module_fork_in_progress",
	    "module_fork_last_cow_size", "aof_current_size", "aof_base_size",
	    "aof_pending_rewrite", "aof_buffer_length",
	    "aof_pending_bio_fsync", "aof_delayed_fsync", NULL,
	};
	struct tn_server s;
	redisContext *c;
	redisReply *r;
	char *p;
	int i;

	cr_assert_eq(tn_server_start(&s, AOF_ON), 0);
	c = tn_connect(&s);
	tn_expect_status(tn_cmd(c, "SET k v"), "OK");
	r = tn_cmd(c, "INFO persistence");
	cr_assert_eq(r->type, REDIS_REPLY_STRING);
	p = strstr(r->str, "# Persistence\r\n");
	cr_assert_not_null(p);
	p += strlen("# Persistence\r\n");
	for (i = 0; want[i]; i++) {
		size_t n = strlen(want[i]);

		cr_assert(strncmp(p, want[i], n) == 0 && p[n] == ':',
			  "field %d: want %s, got %.40s", i, want[i], p);
		p = strstr(p, "\r\n");
		cr_assert_not_null(p);
		p += 2;
	}
	cr_assert(*p == '\0' || *p == '\r', "extra fields: %.60s", p);
	freeReplyObject(r);
	cr_assert(info_is(c, "rdb_changes_since_last_save", "1"));
	cr_assert(info_is(c, "aof_rewrites", "0"));
	cr_assert(info_is(c, "aof_last_rewrite_time_sec", "-1"));
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);
}

/* The incremental file's visible bytes end with a whole command: no
 * zeroed tail from the blocks allocated ahead of the writes. */
static void check_no_zero_tail(const struct tn_server *s)
{
	char path[600], tail[4096];
	struct stat st;
	ssize_t n, i;
	int fd;

	last_incr(s, path, sizeof(path));
	fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "cannot open %s", path);
	cr_assert_eq(fstat(fd, &st), 0);
	n = st.st_size < (off_t)sizeof(tail) ? st.st_size : (off_t)sizeof(tail);
	cr_assert_eq(pread(fd, tail, (size_t)n, st.st_size - n), n);
	close(fd);
	for (i = 0; i < n; i++)
		cr_assert_neq(tail[i], '\0', "a NUL byte %zd bytes before "
			      "the end of %s (size %lld)",
			      n - i, path, (long long)st.st_size);
}

/*
 * The crash tests the durability promise is about: 50 clients writing
 * (SET, EXPIRE, SADD) under appendfsync always, a kill -9 of `victim`
 * ("titan: shard 0", "titan: journal", or NULL for the supervisor and
 * every child at once), a restart, and every acknowledged write there
 * with its TTL; `rounds` times, each round with new keys, all of them
 * checked again after a clean restart at the end.
 */
enum { CRASH_WRITERS = 50 };

static void crash_case(const char *victim, int rounds)
{
	struct tn_server s;
	struct acked *a = shared_acked(CRASH_WRITERS * rounds);
	pid_t w[CRASH_WRITERS], old;
	redisContext *c;
	char tag[32];
	int round, i;

	cr_assert_eq(tn_server_start(&s, AOF_ON), 0);
	for (round = 0; round < rounds; round++) {
		struct acked *ra = a + round * CRASH_WRITERS;

		for (i = 0; i < CRASH_WRITERS; i++) {
			snprintf(tag, sizeof(tag), "c%dw%d", round, i);
			w[i] = writer(&s, &ra[i], tag);
		}
		for (i = 0; i < CRASH_WRITERS; i++)
			wait_acked(&ra[i], 10);
		if (victim) {
			old = tn_child_pid(&s, victim);
			cr_assert_gt(old, 0, "no %s", victim);
			kill(old, SIGKILL);
			cr_assert_gt(tn_wait_child(&s, victim, old, 15000), 0,
				     "%s was not restarted", victim);
		} else {
			crash_all(&s);
			check_no_zero_tail(&s);
		}
		/* the writers' counts now bound what was acknowledged */
		for (i = 0; i < CRASH_WRITERS; i++) {
			kill(w[i], SIGKILL);
			waitpid(w[i], NULL, 0);
		}
		if (!victim)
			cr_assert_eq(start_again(&s), 0, "no restart after kill -9");
		cr_assert_eq(tn_server_wait_ready(&s, 15000), 0);
		c = tn_connect(&s);
		for (i = 0; i < CRASH_WRITERS; i++) {
			snprintf(tag, sizeof(tag), "c%dw%d", round, i);
			check_acked(c, tag, ra[i]);
		}
		redisFree(c);
	}
	stop_keep(&s);
	check_no_zero_tail(&s);
	if (have("redis-check-aof"))
		cr_assert_eq(sh("redis-check-aof %s/" MANIFEST
				" >%s/check.out 2>&1",
				s.dir, s.dir),
			     0, "redis-check-aof refused the AOF");
	cr_assert_eq(start_again(&s), 0);
	c = tn_connect(&s);
	for (i = 0; i < CRASH_WRITERS * rounds; i++) {
		snprintf(tag, sizeof(tag), "c%dw%d", i / CRASH_WRITERS,
			 i % CRASH_WRITERS);
		check_acked(c, tag, a[i]);
	}
	redisFree(c);
	cr_assert_eq(tn_server_stop(&s), 0);
	munmap(a, CRASH_WRITERS * rounds * sizeof(*a));
}

Test(aof, crash_50_writers_kill9_shard, .timeout = 240)
{
	crash_case("titan: shard 0", 3);
}

Test(aof, crash_50_writers_kill9_journal, .timeout = 240)
{
	crash_case("titan: journal", 3);
}

Test(aof, crash_50_writers_kill9_everything, .timeout = 240)
{
	crash_case(NULL, 3);
}

/* Pipelined commands on c, replies read and dropped. */
static void pipe_cmds(redisContext *c, const char *fmt, int from, int to)
{
	int i;

	for (i = from; i < to; i++)
		redisAppendCommand(c, fmt, i, i);
	for (i = from; i < to; i++) {
		redisReply *r;

		cr_assert_eq(redisGetReply(c, (void **)&r), REDIS_OK);
		freeReplyObject(r);
	}
}

/*
 * Churn while the snapshot walks the stripes a chunk at a time: most
 * keys deleted and written again (tables shrink and grow), set members
 * added and removed, TTLs set, a FLUSHALL now and then.
 */
static pid_t churner(struct tn_server *s)
{
	pid_t pid = fork();

	cr_assert_geq(pid, 0);
	if (pid == 0) {
		redisContext *c;
		int round;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		c = redisConnect("127.0.0.1", s->port);
		if (!c || c->err)
			_exit(1);
		for (round = 0;; round++) {
			pipe_cmds(c, "DEL k:%d", 0, 9000);
			pipe_cmds(c, "SREM s:%d m%d", 0, 200);
			pipe_cmds(c, "SET k:%d r%d", 0, 10000);
			pipe_cmds(c, "SADD s:%d m%d", 100, 300);
			pipe_cmds(c, "EXPIRE k:%d 1000%d", 5000, 5100);
			if (round % 7 == 6)
				freeReplyObject(redisCommand(c, "FLUSHALL"));
		}
	}
	return pid;
}

/* INFO clients' connected_clients. */
static long long clients(redisContext *c)
{
	redisReply *r = tn_cmd(c, "INFO clients");
	const char *p = strstr(r->str, "connected_clients:");
	long long n = p ? atoll(p + 18) : -1;

	freeReplyObject(r);
	return n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_member(const void *a, const void *b)
{
	return strcmp((*(redisReply *const *)a)->str,
		      (*(redisReply *const *)b)->str);
}

/* Every key and its value ("k=v", "s={m...}", "+ttl"), sorted, in one
 * string: two servers hold the same data iff the strings are equal. */
static char *dataset(redisContext *c)
{
	char **v = NULL, *out, *p;
	size_t n = 0, cap = 0, len = 1, i;
	char cursor[32] = "0";

	do {
		redisReply *r = tn_cmd(c, "SCAN %s COUNT 1000", cursor);

		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (i = 0; i < r->element[1]->elements; i++) {
			const char *k = r->element[1]->element[i]->str;
			redisReply *t = tn_cmd(c, "TYPE %s", k), *x, *ttl;
			char buf[4096];
			size_t at;

			if (!strcmp(t->str, "string")) {
				x = tn_cmd(c, "GET %s", k);
				at = (size_t)snprintf(buf, sizeof(buf), "%s=%s",
						      k, x->str);
			} else {
				size_t j;

				x = tn_cmd(c, "SMEMBERS %s", k);
				qsort(x->element, x->elements,
				      sizeof(*x->element), cmp_member);
				at = (size_t)snprintf(buf, sizeof(buf), "%s={", k);
				for (j = 0; j < x->elements && at < 3000; j++)
					at += (size_t)snprintf(
					    buf + at, sizeof(buf) - at, "%s ",
					    x->element[j]->str);
				at += (size_t)snprintf(buf + at,
						       sizeof(buf) - at, "}");
			}
			ttl = tn_cmd(c, "TTL %s", k);
			snprintf(buf + at, sizeof(buf) - at, "%s",
				 ttl->integer > 0 ? "+ttl" : "");
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				v = reallocarray(v, cap, sizeof(*v));
				cr_assert_not_null(v);
			}
			v[n++] = strdup(buf);
			len += strlen(buf) + 1;
			freeReplyObject(t);
			freeReplyObject(x);
			freeReplyObject(ttl);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	out = p = malloc(len);
	cr_assert_not_null(out);
	for (i = 0; i < n; i++)
		/* SCAN may return a key twice: count it once */
		if (i == 0 || strcmp(v[i], v[i - 1]) != 0)
			p += sprintf(p, "%s\n", v[i]);
	for (i = 0; i < n; i++)
		free(v[i]);
	*p = '\0';
	free(v);
	return out;
}

/*
 * The rewrite snapshots a stripe a chunk of keys at a time, dropping its
 * lock in between, while writes go on: the new base is fuzzy and the
 * increment makes it exact.  After three rewrites under churn, a restart
 * shows exactly the data the server held, and a stock redis-server
 * loads the directory (it refuses an RDB base with a key twice).
 */
Test(aof, chunked_rewrite_under_churn_replays_exactly)
{
	struct tn_server s;
	redisContext *c;
	char *before, *after, copy[512];
	long long end, alone;
	int i;
	pid_t w;

	cr_assert_eq(tn_server_start(&s, "appendonly yes\n"
					 "appendfsync everysec\n"
					 "auto-aof-rewrite-percentage 0\n"),
		     0);
	c = tn_connect(&s);
	pipe_cmds(c, "SET k:%d v%d", 0, 20000);
	pipe_cmds(c, "SADD s:%d m%d", 0, 400);
	alone = clients(c);
	w = churner(&s);
	for (i = 1; i <= 3; i++) {
		redisReply *r = tn_cmd(c, "BGREWRITEAOF");

		cr_assert_eq(r->type, REDIS_REPLY_STATUS, "%s", r->str);
		freeReplyObject(r);
		end = tn_now_ms() + 30000;
		while (info_field(c, "aof_rewrites") < i && tn_now_ms() < end)
			usleep(5000);
		cr_assert_eq(info_field(c, "aof_rewrites"), i);
		cr_assert(info_is(c, "aof_last_bgrewrite_status", "ok"));
	}
	kill(w, SIGKILL);
	waitpid(w, NULL, 0);
	/* the server may still run what the churner had sent: until its
	 * connection is gone, the data moves */
	end = tn_now_ms() + 10000;
	while (clients(c) != alone) {
		cr_assert_lt(tn_now_ms(), end, "the churner stays connected");
		usleep(10000);
	}
	/* the churn may have ended on a FLUSHALL: keys written after the
	 * last rewrite must come back too */
	pipe_cmds(c, "SET after:%d v%d", 0, 100);
	before = dataset(c);
	cr_assert_gt(strlen(before), 0, "nothing to compare");
	redisFree(c);
	stop_keep(&s);
	cr_assert_eq(start_again(&s), 0);
	c = tn_connect(&s);
	after = dataset(c);
	if (strcmp(before, after) != 0) {
		char f[600];
		FILE *o;

		snprintf(f, sizeof(f), "%s/before.txt", s.dir);
		o = fopen(f, "w");
		fputs(before, o);
		fclose(o);
		snprintf(f, sizeof(f), "%s/after.txt", s.dir);
		o = fopen(f, "w");
		fputs(after, o);
		fclose(o);
		stop_keep(&s); /* the directory stays for a look */
		cr_assert_fail("the data after the restart differs from "
			       "before it (see %s)", s.dir);
	}
	redisFree(c);
	stop_keep(&s);
	if (have("redis-server")) {
		int port = tn_free_port();
		pid_t rp;

		snprintf(copy, sizeof(copy), "%s/redis", s.dir);
		cr_assert_eq(sh("mkdir %s && cp -r %s/appendonlydir %s/", copy,
				s.dir, copy),
			     0);
		rp = redis_start(copy, port);
		cr_assert_gt(rp, 0, "redis-server refused the AOF (see %s)",
			     copy);
		c = redisConnect("127.0.0.1", port);
		cr_assert(c && !c->err);
		after = dataset(c);
		cr_assert(strcmp(before, after) == 0,
			  "redis-server loaded other data than Titan's");
		redisFree(c);
		redis_stop(rp);
	}
	free(before);
	free(after);
	cr_assert_eq(start_again(&s), 0);
	cr_assert_eq(tn_server_stop(&s), 0);
}
