/*
 * test_process.c - the process model seen from outside: titles, a killed
 * shard or acceptor is respawned without disturbing the others, a death
 * inside a stripe lock restarts the store, signals, the supervisor's
 * death, many clients, maxclients, deep pipelines.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/integration/harness.h"

#define WAIT_MS 10000 /* bound on every "until it happens" poll */

static struct tn_server srv;

static void start(const char *extra)
{
	cr_assert(tn_server_start(&srv, extra) == 0, "server did not start");
}

/* Tests that stopped the supervisor themselves leave srv.pid at 0. */
static void stop(void)
{
	bool running = srv.pid > 0;
	int rc = tn_server_stop(&srv);

	if (running)
		cr_expect(rc == 0, "supervisor did not exit 0 on SIGTERM");
}

/* Can a TCP connection to the port be made at all? */
static bool port_open(int port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

static pid_t shard_pid(int i)
{
	char title[32];

	snprintf(title, sizeof(title), "titan: shard %d", i);
	return tn_wait_child(&srv, title, 0, WAIT_MS);
}

/* Wait for the supervisor itself to exit; its status, or -1. */
static int wait_supervisor(int timeout_ms)
{
	long long deadline = tn_now_ms() + timeout_ms;
	int status;

	do {
		if (waitpid(srv.pid, &status, WNOHANG) == srv.pid) {
			srv.pid = 0;
			return status;
		}
		usleep(10000);
	} while (tn_now_ms() < deadline);
	return -1;
}

TestSuite(process, .fini = stop, .timeout = 120);

/* acceptor, 2 shards, journal, scheduler */
#define NKIDS 5

/* The children, once all of them are forked (PING may answer first). */
static int all_children(pid_t *kids, int max)
{
	long long deadline = tn_now_ms() + WAIT_MS;
	int n;

	while ((n = tn_proc_children(srv.pid, kids, max)) < NKIDS &&
	       tn_now_ms() < deadline)
		usleep(10000);
	return n;
}

/* Children and what ps shows for each; a child forked a moment ago may
 * not have set its title yet, so poll until all of them have one. */
static int titled_children(pid_t *kids, char t[][256], int max)
{
	long long deadline = tn_now_ms() + WAIT_MS;
	int n, i, titled;

	do {
		n = tn_proc_children(srv.pid, kids, max);
		for (i = titled = 0; i < n && i < max; i++)
			if (tn_proc_cmdline(kids[i], t[i], 256) == 0 &&
			    strcmp(t[i], "titan: supervisor") != 0)
				titled++;
		if (n == NKIDS && titled == NKIDS)
			break;
		usleep(10000);
	} while (tn_now_ms() < deadline);
	return n;
}

Test(process, titles)
{
	const char *want[NKIDS] = {"titan: acceptor", "titan: shard 0",
				   "titan: shard 1", "titan: journal",
				   "titan: scheduler"};
	bool seen[NKIDS] = {false};
	char t[16][256], st[256];
	pid_t kids[16];
	int n, i, j;

	start(NULL);
	cr_assert(tn_proc_cmdline(srv.pid, st, sizeof(st)) == 0);
	cr_expect_str_eq(st, "titan: supervisor");
	n = titled_children(kids, t, 16);
	cr_assert_eq(n, NKIDS, "supervisor has %d children, want %d", n,
		     NKIDS);
	for (i = 0; i < n; i++) {
		/* what ps shows, padding and all: no stray bytes after it */
		for (j = 0; j < NKIDS; j++)
			if (strcmp(t[i], want[j]) == 0)
				break;
		cr_expect(j < NKIDS, "unexpected child title \"%s\"", t[i]);
		if (j < NKIDS) {
			cr_expect(!seen[j], "two children titled \"%s\"", t[i]);
			seen[j] = true;
		}
	}
	for (j = 0; j < NKIDS; j++)
		cr_expect(seen[j], "no child titled \"%s\"", want[j]);
}

/* A client that keeps SETting and GETting one key from another thread. */
struct pounder {
	redisContext *c;
	atomic_long ok;
	atomic_long max_ms;
	atomic_bool stop;
	atomic_bool failed;
	char why[256];
};

static void *pound(void *arg)
{
	struct pounder *p = arg;
	long n = 0;

	while (!atomic_load(&p->stop)) {
		long long t0 = tn_now_ms(), dt;
		redisReply *r;

		n++;
		/* one key, overwritten: no growth, so the idle shard's cron
		 * has no rehash to do (and no lock to die in) */
		r = redisCommand(p->c, "SET survivor %ld", n);
		if (!r || r->type != REDIS_REPLY_STATUS ||
		    strcmp(r->str, "OK") != 0) {
			snprintf(p->why, sizeof(p->why), "SET #%ld: %s", n,
				 r ? (r->str ? r->str : "?") : p->c->errstr);
			if (r)
				freeReplyObject(r);
			break;
		}
		freeReplyObject(r);
		r = redisCommand(p->c, "GET survivor");
		if (!r || r->type != REDIS_REPLY_STRING || atol(r->str) != n) {
			snprintf(p->why, sizeof(p->why), "GET #%ld: %s", n,
				 r ? (r->str ? r->str : "?") : p->c->errstr);
			if (r)
				freeReplyObject(r);
			break;
		}
		freeReplyObject(r);
		dt = tn_now_ms() - t0;
		if (dt > atomic_load(&p->max_ms))
			atomic_store(&p->max_ms, dt);
		atomic_fetch_add(&p->ok, 1);
	}
	if (!atomic_load(&p->stop))
		atomic_store(&p->failed, true);
	return NULL;
}

static bool wait_progress(struct pounder *p, long target)
{
	long long deadline = tn_now_ms() + WAIT_MS;

	while (atomic_load(&p->ok) < target && !atomic_load(&p->failed) &&
	       tn_now_ms() < deadline)
		usleep(1000);
	return atomic_load(&p->ok) >= target;
}

/* Connections until one lands on `shard`; NULL if none does. */
static redisContext *connect_to_shard(int shard, redisContext **spare,
				      int nspare)
{
	int i;

	for (i = 0; i < nspare; i++) {
		redisContext *c = tn_connect(&srv);

		tn_expect_status(tn_cmd(c, "PING"), "PONG");
		if (tn_client_shard(&srv, c, WAIT_MS) == shard)
			return c;
		spare[i] = c;
	}
	return NULL;
}

/* Close the connections connect_to_shard() set aside and forget them, so
 * the array can be passed to it again. */
static void free_spares(redisContext **spare, int nspare)
{
	int i;

	for (i = 0; i < nspare; i++) {
		if (spare[i])
			redisFree(spare[i]);
		spare[i] = NULL;
	}
}

Test(process, kill_shard_others_served_data_intact)
{
	struct pounder p = {0};
	redisContext *victim, *other, *c, *spare[8] = {NULL};
	pthread_t th;
	pid_t old, fresh;
	int vs, os, i;
	redisReply *r;
	long before;
	long long victim_id;
	char idfield[32];

	start(NULL);
	victim = tn_connect(&srv);
	tn_expect_status(tn_cmd(victim, "PING"), "PONG");
	r = tn_cmd(victim, "CLIENT ID");
	cr_assert_eq(r->type, REDIS_REPLY_INTEGER);
	victim_id = r->integer;
	freeReplyObject(r);
	vs = tn_client_shard(&srv, victim, WAIT_MS);
	cr_assert(vs == 0 || vs == 1, "victim's shard not found (%d)", vs);
	other = connect_to_shard(!vs, spare, 8);
	cr_assert(other, "no connection landed on shard %d", !vs);
	os = !vs;

	/* data written before the kill, through the surviving shard */
	for (i = 0; i < 1000; i++)
		redisAppendCommand(other, "SET key:%d val:%d", i, i);
	for (i = 0; i < 1000; i++) {
		cr_assert(redisGetReply(other, (void **)&r) == REDIS_OK);
		tn_expect_status(r, "OK");
	}

	p.c = other;
	cr_assert(pthread_create(&th, NULL, pound, &p) == 0);
	cr_assert(wait_progress(&p, 200), "pounder stalled before the kill: %s",
		  p.why);

	old = shard_pid(vs);
	cr_assert(old > 0);
	before = atomic_load(&p.ok);
	cr_assert(kill(old, SIGKILL) == 0);

	/* the killed shard's client is disconnected, not left hanging */
	r = redisCommand(victim, "PING");
	cr_expect(r == NULL, "killed shard's client still got a reply");
	if (r)
		freeReplyObject(r);

	fresh = tn_wait_child(&srv, vs ? "titan: shard 1" : "titan: shard 0",
			      old, WAIT_MS);
	cr_assert(fresh > 0, "shard %d was not respawned", vs);

	cr_expect(wait_progress(&p, before + 200),
		  "the client on shard %d stopped being served: %s", os, p.why);
	atomic_store(&p.stop, true);
	pthread_join(th, NULL);
	cr_expect(!atomic_load(&p.failed), "client on shard %d failed: %s", os,
		  p.why);
	cr_expect(atomic_load(&p.max_ms) < 2000,
		  "a command on shard %d took %ld ms", os,
		  atomic_load(&p.max_ms));

	/* its clients are gone from CLIENT LIST too, not left as ghosts */
	snprintf(idfield, sizeof(idfield), "id=%lld ", victim_id);
	r = tn_cmd(other, "CLIENT LIST");
	cr_expect(r->type == REDIS_REPLY_STRING &&
		      strstr(r->str, idfield) == NULL,
		  "the dead shard's client still listed:\n%s", r->str);
	freeReplyObject(r);

	cr_expect(!tn_file_contains(srv.log, "restarting the store"),
		  "an idle shard's death restarted the whole store");
	/* everything written before is there, seen from the new shard */
	c = NULL;
	for (long long end = tn_now_ms() + WAIT_MS; !c && tn_now_ms() < end;) {
		redisContext *t = tn_connect(&srv);

		tn_expect_status(tn_cmd(t, "PING"), "PONG");
		if (tn_client_shard(&srv, t, WAIT_MS) == vs)
			c = t;
		else
			redisFree(t);
	}
	cr_assert(c, "no connection reached the respawned shard");
	for (i = 0; i < 1000; i++)
		redisAppendCommand(c, "GET key:%d", i);
	for (i = 0; i < 1000; i++) {
		char want[32];

		cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK);
		snprintf(want, sizeof(want), "val:%d", i);
		tn_expect_str(r, want);
	}
	redisFree(c);
	redisFree(victim);
	redisFree(other);
	free_spares(spare, 8);
}

Test(process, kill_acceptor)
{
	redisContext *c1, *c2;
	pid_t old, fresh;

	start(NULL);
	c1 = tn_connect(&srv);
	tn_expect_status(tn_cmd(c1, "SET a 1"), "OK");
	old = tn_wait_child(&srv, "titan: acceptor", 0, WAIT_MS);
	cr_assert(old > 0);
	cr_assert(kill(old, SIGKILL) == 0);
	cr_assert(tn_wait_exit(old, WAIT_MS));
	/* the supervisor owns the listening socket: this queues in the
	 * backlog and is served by the next acceptor */
	c2 = tn_connect(&srv);
	fresh = tn_wait_child(&srv, "titan: acceptor", old, WAIT_MS);
	cr_assert(fresh > 0, "acceptor was not respawned");
	tn_expect_status(tn_cmd(c2, "PING"), "PONG");
	tn_expect_str(tn_cmd(c1, "GET a"), "1");
	tn_expect_status(tn_cmd(c1, "SET a 2"), "OK");
	tn_expect_str(tn_cmd(c2, "GET a"), "2");
	redisFree(c2);
	c2 = tn_connect(&srv);
	tn_expect_str(tn_cmd(c2, "GET a"), "2");
	redisFree(c2);
	redisFree(c1);
}

Test(process, sigterm_exits_zero_and_cleans_up)
{
	pid_t kids[16];
	redisContext *c;
	redisReply *r;
	int n, i, status;

	start(NULL);
	c = tn_connect(&srv);
	tn_expect_status(tn_cmd(c, "SET a 1"), "OK");
	n = all_children(kids, 16);
	cr_assert_eq(n, NKIDS);
	cr_assert(kill(srv.pid, SIGTERM) == 0);
	status = wait_supervisor(WAIT_MS);
	cr_assert(status != -1, "supervisor still running after SIGTERM");
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		  "supervisor exit status 0x%x, want exit 0", status);
	for (i = 0; i < n; i++)
		cr_expect(tn_wait_exit(kids[i], 1000), "child %d outlived it",
			  (int)kids[i]);
	cr_expect(!port_open(srv.port), "port %d still accepts", srv.port);
	r = redisCommand(c, "PING");
	cr_expect(r == NULL, "a client still got a reply after shutdown");
	if (r)
		freeReplyObject(r);
	redisFree(c);
	cr_expect(tn_file_contains(srv.log, "ready to exit"),
		  "no clean-shutdown line in the log");
	cr_expect(!tn_file_contains(srv.log, "did not stop in time"),
		  "children had to be SIGKILLed");
}

/* Has pid an open descriptor on `path`? */
static bool holds_file(pid_t pid, const char *path)
{
	char dir[64], link[320], target[512];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		ssize_t n;

		snprintf(link, sizeof(link), "%s/%s", dir, de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = '\0';
			found = strcmp(target, path) == 0;
		}
	}
	closedir(d);
	return found;
}

Test(process, sighup_reopens_log)
{
	char old[320];
	long long deadline;
	bool closed, ok = false;
	char out[256];
	pid_t kids[16];
	int i;

	start(NULL);
	snprintf(old, sizeof(old), "%s.1", srv.log);
	cr_assert(rename(srv.log, old) == 0);
	cr_assert(kill(srv.pid, SIGHUP) == 0);
	/* a shard event (it logs a protocol error at verbose) and a
	 * supervisor event (the next SIGHUP) must reach the new file */
	deadline = tn_now_ms() + WAIT_MS;
	while (!ok && tn_now_ms() < deadline) {
		tn_raw_talk(&srv, "*1\r\n$-7\r\n", 9, out, sizeof(out), 0, 2000,
			    &closed);
		ok = tn_file_contains(srv.log, "invalid bulk length");
		if (!ok)
			usleep(20000);
	}
	cr_expect(ok, "no shard log line in the reopened %s", srv.log);
	cr_assert(kill(srv.pid, SIGHUP) == 0);
	deadline = tn_now_ms() + WAIT_MS;
	while (!(ok = tn_file_contains(srv.log, "SIGHUP")) &&
	       tn_now_ms() < deadline)
		usleep(20000);
	cr_expect(ok, "no supervisor log line in the reopened %s", srv.log);
	/* and no process keeps the renamed file open */
	cr_assert_eq(all_children(kids, 16), NKIDS);
	kids[NKIDS] = srv.pid;
	for (i = 0; i <= NKIDS; i++) {
		deadline = tn_now_ms() + WAIT_MS;
		while ((ok = holds_file(kids[i], old)) &&
		       tn_now_ms() < deadline)
			usleep(20000);
		if (ok)
			tn_proc_title(kids[i], out, sizeof(out));
		cr_expect(!ok, "\"%s\" still writes to the renamed log",
			  ok ? out : "");
	}
	cr_expect(tn_file_contains(old, "Ready to accept"),
		  "the renamed file lost its start-up lines");
}

Test(process, supervisor_death_stops_children)
{
	pid_t kids[16];
	int n, i;

	/* orphans come to us instead of init, so we can see them exit */
	cr_assert(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0);
	start(NULL);
	n = all_children(kids, 16);
	cr_assert_eq(n, NKIDS);
	cr_assert(kill(srv.pid, SIGKILL) == 0);
	cr_assert(wait_supervisor(WAIT_MS) != -1);
	for (i = 0; i < n; i++) {
		bool gone = tn_wait_exit(kids[i], WAIT_MS);
		char t[64] = "?";

		if (!gone) {
			tn_proc_title(kids[i], t, sizeof(t));
			kill(kids[i], SIGKILL);
			waitpid(kids[i], NULL, 0);
		}
		cr_expect(gone, "\"%s\" (pid %d) outlived the supervisor", t,
			  (int)kids[i]);
	}
	cr_expect(!port_open(srv.port), "port %d still accepts", srv.port);
}

Test(process, thousand_clients_one_keyspace, .timeout = 180)
{
	enum { N = 1000 };
	redisContext **c = calloc(N, sizeof(*c));
	struct rlimit rl;
	int i, s0, s1;

	/* our fds plus the server's: it inherits this limit */
	cr_assert(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < 4096) {
		rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
		cr_assert(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	}
	cr_assert(rl.rlim_cur >= N + 100, "RLIMIT_NOFILE hard limit %lu",
		  (unsigned long)rl.rlim_max);
	start(NULL);
	/* both shards serving before the burst: a shard still starting
	 * (mapping its pages, on a busy machine) would get none of it */
	for (i = 0; i < 2; i++) {
		redisContext *spare[8] = {NULL}, *x = connect_to_shard(i, spare, 8);

		cr_assert(x, "no connection landed on shard %d", i);
		redisFree(x);
		free_spares(spare, 8);
	}
	for (i = 0; i < N; i++)
		c[i] = tn_connect(&srv);
	for (i = 0; i < N; i++)
		redisAppendCommand(c[i], "SET client:%d %d", i, i);
	for (i = 0; i < N; i++) {
		redisReply *r;

		cr_assert(redisGetReply(c[i], (void **)&r) == REDIS_OK,
			  "client %d: %s", i, c[i]->errstr);
		tn_expect_status(r, "OK");
	}
	for (i = 0; i < N; i++)
		redisAppendCommand(c[i], "GET client:%d", (i + 1) % N);
	for (i = 0; i < N; i++) {
		redisReply *r;
		char want[16];

		cr_assert(redisGetReply(c[i], (void **)&r) == REDIS_OK,
			  "client %d: %s", i, c[i]->errstr);
		snprintf(want, sizeof(want), "%d", (i + 1) % N);
		tn_expect_str(r, want);
	}
	s0 = tn_proc_sockets(shard_pid(0));
	s1 = tn_proc_sockets(shard_pid(1));
	cr_expect(s0 >= N / 4 && s1 >= N / 4,
		  "clients not spread over the shards: %d and %d sockets", s0,
		  s1);
	for (i = 0; i < N; i++)
		redisFree(c[i]);
	free(c);
}

/* A served connection, retrying while earlier ones still count. */
static redisContext *connect_served(void)
{
	long long deadline = tn_now_ms() + WAIT_MS;

	do {
		redisContext *c = tn_connect(&srv);
		redisReply *r = redisCommand(c, "PING");
		bool ok = r && r->type == REDIS_REPLY_STATUS &&
			  strcmp(r->str, "PONG") == 0;

		if (r)
			freeReplyObject(r);
		if (ok)
			return c;
		redisFree(c);
		usleep(20000);
	} while (tn_now_ms() < deadline);
	return NULL;
}

Test(process, maxclients)
{
	static const char full[] = "-ERR max number of clients reached\r\n";
	redisContext *c[10], *again;
	char out[256];
	bool closed;
	ssize_t n;
	int i;

	start(TN_STORE_ONLY "maxclients 10");
	for (i = 0; i < 10; i++) {
		c[i] = connect_served();
		cr_assert(c[i], "client %d of 10 refused", i + 1);
	}
	n = tn_raw_talk(&srv, "PING\r\n", 6, out, sizeof(out), 0, WAIT_MS,
			&closed);
	cr_expect(n == (ssize_t)strlen(full) && strcmp(out, full) == 0,
		  "11th client got \"%s\"", out);
	cr_expect(closed, "11th client was not closed");
	for (i = 0; i < 10; i++)
		tn_expect_status(tn_cmd(c[i], "PING"), "PONG");
	redisFree(c[0]);
	again = connect_served();
	cr_expect(again != NULL, "a slot freed by a client was not reused");
	if (again)
		redisFree(again);
	for (i = 1; i < 10; i++)
		redisFree(c[i]);
}

Test(process, pipeline_10000)
{
	enum { N = 10000 };
	redisContext *c;
	redisReply *r;
	char *req, *out, want[32];
	bool closed;
	ssize_t n;
	int i;

	start(NULL);
	c = tn_connect(&srv);
	for (i = 0; i < N; i++)
		redisAppendCommand(c, "SET p:%d v%d", i, i);
	for (i = 0; i < N; i++) {
		cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK,
			  "reply %d: %s", i, c->errstr);
		tn_expect_status(r, "OK");
	}
	for (i = 0; i < N; i++)
		redisAppendCommand(c, "GET p:%d", i);
	for (i = 0; i < N; i++) {
		cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK,
			  "reply %d: %s", i, c->errstr);
		snprintf(want, sizeof(want), "v%d", i);
		tn_expect_str(r, want);
	}
	redisFree(c);

	/* the same depth as one raw write of inline commands */
	req = malloc(N * 6);
	out = malloc(N * 7 + 1);
	for (i = 0; i < N; i++)
		memcpy(req + i * 6, "PING\r\n", 6);
	n = tn_raw_talk(&srv, req, N * 6, out, N * 7 + 1, N * 7, WAIT_MS,
			&closed);
	cr_expect_eq(n, N * 7, "got %zd bytes of %d PONGs", n, N);
	for (i = 0; i < n / 7; i++)
		if (memcmp(out + i * 7, "+PONG\r\n", 7) != 0)
			break;
	cr_expect_eq(i, N, "reply %d is not +PONG", i);
	cr_expect(!closed);
	free(req);
	free(out);
}

/* connected_clients from INFO, through `c`; -1000000 if unreadable. */
static long long connected_clients(redisContext *c)
{
	redisReply *r = tn_cmd(c, "INFO clients");
	long long n = -1000000;
	char *p;

	if (r->type == REDIS_REPLY_STRING) {
		p = strstr(r->str, "connected_clients:");
		if (p)
			n = atoll(p + strlen("connected_clients:"));
	}
	freeReplyObject(r);
	return n;
}

/*
 * Connections handed to a shard that dies before it picks them up wait in
 * its channel for the next one; the client count must neither lose them
 * nor count the dead shard's own clients twice.
 */
Test(process, shard_death_keeps_client_count)
{
	redisContext *c[4], *probe, *other, *more[11], *spare[8] = {NULL};
	long long deadline, n = 0, base;
	pid_t s0, fresh;
	int i, ok;

	start(TN_STORE_ONLY "maxclients 12");
	s0 = shard_pid(0);
	cr_assert(s0 > 0);
	/* a client of shard 0 that dies with it, one of shard 1 that
	 * watches the count */
	probe = connect_to_shard(0, spare, 8);
	cr_assert(probe, "no connection landed on shard 0");
	free_spares(spare, 8);
	other = connect_to_shard(1, spare, 8);
	cr_assert(other, "no connection landed on shard 1");
	free_spares(spare, 8);
	deadline = tn_now_ms() + WAIT_MS;
	while ((base = connected_clients(other)) != 2 && tn_now_ms() < deadline)
		usleep(20000);
	cr_assert_eq(base, 2);

	cr_assert(kill(s0, SIGSTOP) == 0);
	for (i = 0; i < 4; i++)
		c[i] = tn_connect(&srv);
	/* handed over: some now wait in the stopped shard's channel */
	deadline = tn_now_ms() + WAIT_MS;
	while ((n = connected_clients(other)) != base + 4 &&
	       tn_now_ms() < deadline)
		usleep(20000);
	cr_assert_eq(n, base + 4, "connected_clients %lld, want %lld", n,
		     base + 4);
	cr_assert(kill(s0, SIGKILL) == 0);
	fresh = tn_wait_child(&srv, "titan: shard 0", s0, WAIT_MS);
	cr_assert(fresh > 0, "shard 0 was not respawned");
	for (i = 0; i < 4; i++)
		tn_expect_status(tn_cmd(c[i], "PING"), "PONG");
	cr_expect(redisCommand(probe, "PING") == NULL,
		  "a client of the dead shard still answered");
	redisFree(probe);
	for (i = 0; i < 4; i++)
		redisFree(c[i]);

	deadline = tn_now_ms() + WAIT_MS;
	while ((n = connected_clients(other)) != 1 && tn_now_ms() < deadline)
		usleep(20000);
	cr_expect_eq(n, 1, "connected_clients %lld with one client left", n);
	/* and maxclients still counts right: 11 more, then no more */
	for (i = ok = 0; i < 11; i++) {
		more[i] = connect_served();
		ok += more[i] != NULL;
	}
	cr_expect_eq(ok, 11, "only %d of 11 more clients got in", ok);
	{
		char out[128];
		bool closed;

		tn_raw_talk(&srv, "PING\r\n", 6, out, sizeof(out), 0, WAIT_MS,
			    &closed);
		cr_expect_str_eq(out, "-ERR max number of clients reached\r\n");
	}
	for (i = 0; i < 11; i++)
		if (more[i])
			redisFree(more[i]);
	redisFree(other);
}

/* The state letter of /proc/<pid>/stat ('R', 'S', ...), '?' if gone. */
static char proc_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static void load_keys(redisContext *c, int n)
{
	redisReply *r;
	int i, j;

	for (i = 0; i < n; i += 1000) {
		for (j = i; j < i + 1000 && j < n; j++)
			redisAppendCommand(c, "SET big:%d %d", j, j);
		for (j = i; j < i + 1000 && j < n; j++) {
			cr_assert(redisGetReply(c, (void **)&r) == REDIS_OK,
				  "loading: %s", c->errstr);
			freeReplyObject(r);
		}
	}
}

/*
 * A shard killed inside a stripe lock while it writes: the keyspace may
 * be half-written, so the supervisor restarts every store process on a
 * new, empty segment (nothing is persisted yet).  FLUSHALL of a big
 * keyspace spends nearly all its time inside stripe locks, one after
 * the other: a SIGKILL while it runs lands inside one.
 */
#define RESTARTED "restarting the store"

Test(process, death_inside_lock_restarts_store, .timeout = 180)
{
	enum { KEYS = 300000, TRIES = 5 };
	redisContext *c0 = NULL, *c1, *c, *spare[8] = {NULL};
	pid_t s0, s1, acc;
	long long deadline, n;
	redisReply *r;
	int try, done;
	bool restarted = false;

	start(TN_STORE_ONLY);
	c1 = connect_to_shard(1, spare, 8);
	cr_assert(c1, "no connection landed on shard 1");
	free_spares(spare, 8);
	acc = tn_wait_child(&srv, "titan: acceptor", 0, WAIT_MS);
	s1 = shard_pid(1);
	for (try = 0; try < TRIES && !restarted; try++) {
		load_keys(c1, KEYS);
		c0 = connect_to_shard(0, spare, 8);
		cr_assert(c0, "no connection landed on shard 0");
		free_spares(spare, 8);
		s0 = shard_pid(0);
		redisAppendCommand(c0, "FLUSHALL");
		do {
			cr_assert(redisBufferWrite(c0, &done) == REDIS_OK);
		} while (!done);
		/* aim: the flush of KEYS keys takes ~100 ms of CPU, nearly
		 * all of it inside one stripe lock or the next */
		deadline = tn_now_ms() + 2000;
		while (proc_state(s0) != 'R' && tn_now_ms() < deadline)
			;
		usleep(20000);
		kill(s0, SIGKILL);
		redisFree(c0);
		/* either the store restarts or shard 0 alone comes back */
		deadline = tn_now_ms() + WAIT_MS;
		do
			restarted = tn_file_contains(srv.log, RESTARTED);
		while (!restarted && tn_now_ms() < deadline &&
		       tn_wait_child(&srv, "titan: shard 0", s0, 100) < 0);
		if (restarted ||
		    (restarted = tn_file_contains(srv.log, RESTARTED)))
			break;
		/* not restarted: fine only if the kill missed the flush */
		r = tn_cmd(c1, "DBSIZE");
		n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
		freeReplyObject(r);
		cr_assert(n == 0 || n == KEYS,
			  "killed halfway through FLUSHALL (%lld of %d keys "
			  "left) and the store was not restarted",
			  n, KEYS);
	}
	cr_assert(restarted, "%d kills aimed at FLUSHALL all missed it", TRIES);

	/* every store process is new; the survivor's clients are gone */
	cr_expect(tn_wait_child(&srv, "titan: acceptor", acc, WAIT_MS) > 0,
		  "the acceptor was not restarted");
	cr_expect(tn_wait_child(&srv, "titan: shard 1", s1, WAIT_MS) > 0,
		  "shard 1 was not restarted");
	r = redisCommand(c1, "PING");
	cr_expect(r == NULL, "a client of the old store still got a reply");
	if (r)
		freeReplyObject(r);
	redisFree(c1);

	c = connect_served();
	cr_assert(c, "no service after the store restart");
	deadline = tn_now_ms() + WAIT_MS;
	do {
		r = tn_cmd(c, "DBSIZE");
		n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
		freeReplyObject(r);
	} while (n != 0 && tn_now_ms() < deadline && !usleep(20000));
	cr_expect_eq(n, 0, "the new store holds %lld keys", n);
	tn_expect_status(tn_cmd(c, "SET after restart"), "OK");
	tn_expect_str(tn_cmd(c, "GET after"), "restart");
	deadline = tn_now_ms() + WAIT_MS;
	while ((n = connected_clients(c)) != 1 && tn_now_ms() < deadline)
		usleep(20000);
	cr_expect_eq(n, 1, "connected_clients %lld after the restart", n);
	redisFree(c);
}

/*
 * logrotate may send SIGHUP at any time, also while a child starts: the
 * child must not die of it before it has a handler.
 */
Test(process, sighup_while_children_start)
{
	pid_t old, fresh = -1;
	long long deadline;
	int round;

	start(NULL);
	for (round = 0; round < 5; round++) {
		old = shard_pid(0);
		cr_assert(old > 0);
		cr_assert(kill(old, SIGKILL) == 0);
		deadline = tn_now_ms() + WAIT_MS;
		do {
			kill(srv.pid, SIGHUP);
			fresh = tn_child_pid(&srv, "titan: shard 0");
		} while ((fresh <= 0 || fresh == old) &&
			 tn_now_ms() < deadline);
		cr_assert(fresh > 0 && fresh != old, "shard 0 not respawned");
		/* a few more while it settles */
		for (deadline = tn_now_ms() + 50; tn_now_ms() < deadline;)
			kill(srv.pid, SIGHUP);
	}
	cr_expect(!tn_file_contains(srv.log, "killed by signal 1;"),
		  "a child died of SIGHUP (see %s)", srv.log);
	cr_assert(tn_server_wait_ready(&srv, WAIT_MS) == 0);
}

/*
 * A client that connects while the supervisor is still starting (the
 * listening socket is open before the acceptor and the shards are) is
 * served once a shard is up, never refused with "no store process is
 * serving".  Five starts: the acceptor would win the race on most.
 */
Test(process, client_at_start_waits_for_a_shard)
{
	int round;

	start(TN_STORE_ONLY);
	for (round = 0; round < 5; round++) {
		long long deadline;
		redisContext *c = NULL;
		redisReply *r;
		int status;

		kill(srv.pid, SIGTERM);
		cr_assert_eq(waitpid(srv.pid, &status, 0), srv.pid);
		srv.pid = 0;
		cr_assert_gt(tn_server_spawn(&srv), 0);
		deadline = tn_now_ms() + WAIT_MS;
		/* the first connection the new listening socket takes */
		while (tn_now_ms() < deadline) {
			c = redisConnect("127.0.0.1", srv.port);
			if (c && !c->err)
				break;
			redisFree(c);
			c = NULL;
		}
		cr_assert_not_null(c, "the port never opened");
		r = redisCommand(c, "PING");
		cr_assert_not_null(r, "round %d: no reply: %s", round, c->errstr);
		cr_expect(r->type == REDIS_REPLY_STATUS && !strcmp(r->str, "PONG"),
			  "round %d: %s", round, r->str);
		freeReplyObject(r);
		redisFree(c);
	}
}
