/*
 * test_sched.c - the scheduler through its TITAN_PROTO port: v1 client
 * frames get v1's reply bytes, bad frames get error frames, and with two
 * real titan-workers a diamond DAG runs in order, a killed worker's
 * job reruns on the other, and a DAG survives kill -9 of the scheduler
 * and of the whole supervisor.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ipc/proto.h"

static struct tn_server srv;

static void setup(void)
{
	cr_assert_eq(tn_server_start(&srv, NULL), 0, "server did not start");
}

static void teardown(void)
{
	tn_server_stop(&srv);
}

TestSuite(sched, .init = setup, .fini = teardown, .timeout = 60);

static int tconnect(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)srv.titan_port)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	long long until = tn_now_ms() + 5000;

	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	while (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		cr_assert(tn_now_ms() < until, "titan port not listening");
		close(fd);
		usleep(20000);
		fd = socket(AF_INET, SOCK_STREAM, 0);
	}
	{
		struct timeval tv = {.tv_sec = 10};

		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	return fd;
}

/* One request on a fresh connection, as v1 clients do.  Returns the
 * reply opcode; *out gets the body (freed by the caller). */
static int call(uint8_t op, const char *body, char **out)
{
	int fd = tconnect();
	struct tn_frame f;
	int r;

	cr_assert_eq(tn_proto_send(fd, op, body, strlen(body)), 0);
	r = tn_proto_recv(fd, 0, &f, out);
	cr_assert_eq(r, 0, "no reply to opcode 0x%02x: %d", op, r);
	close(fd);
	return f.opcode;
}

static void expect(uint8_t op, const char *body, int rop, const char *want)
{
	char *got = NULL;
	int o = call(op, body, &got);

	cr_expect_str_eq(got, want, "opcode 0x%02x body '%s'", op, body);
	cr_expect_eq(o, rop, "reply opcode for 0x%02x", op);
	free(got);
}

Test(sched, v1_kv_and_status)
{
	expect(TN_OP_KV_SET, "k1|v|with|pipes", TN_OP_ACK, "OK");
	expect(TN_OP_KV_GET, "k1", TN_OP_ACK, "v|with|pipes");
	expect(TN_OP_KV_GET, "nope", TN_OP_ACK, "NULL");
	expect(TN_OP_KV_SET, "nopipe", TN_OP_ERROR, "ERROR: Invalid Format");
	expect(TN_OP_KV_SADD, "s|a", TN_OP_ACK, "1");
	expect(TN_OP_KV_SADD, "s|a", TN_OP_ACK, "0");
	expect(TN_OP_KV_SADD, "s|b", TN_OP_ACK, "1");
	expect(TN_OP_KV_SMEMBERS, "empty", TN_OP_ACK, "");
	{
		char *got = NULL;

		call(TN_OP_KV_SMEMBERS, "s", &got);
		cr_expect(strcmp(got, "a,b") == 0 || strcmp(got, "b,a") == 0,
			  "%s", got);
		free(got);
	}
	expect(TN_OP_GET_JOB_STATUS, "DAG-none", TN_OP_ACK, "NULL");
	expect(TN_OP_GET_LOGS, "DAG-none", TN_OP_ACK, "");
	expect(TN_OP_CANCEL_JOB, "DAG-none", TN_OP_ACK, "NOT_FOUND");
	expect(TN_OP_JOB_COMPLETE, "garbage", TN_OP_ACK, "ACK_CALLBACK");
	expect(TN_OP_LOG_BATCH, "x", TN_OP_ACK, "ACK_BATCH");
	expect(TN_OP_STATS_JSON, "", TN_OP_ACK,
	       "{\"active_workers\": 0,\"queue_size\": 0,\"workers\": []}");
	expect(0x30, "", TN_OP_ERROR, "UNKNOWN_OPCODE: 48");
	expect(0x90, "", TN_OP_ERROR, "UNKNOWN_OPCODE: -112");
	expect(TN_OP_HEARTBEAT, "", TN_OP_ERROR, "UNKNOWN_OPCODE: 1");
	expect(TN_OP_UPLOAD_ASSET, "../x|aGk=", TN_OP_ERROR,
	       "ERROR: Invalid asset name (path traversal rejected)");
	expect(TN_OP_UPLOAD_ASSET, "a.txt|aGk=", TN_OP_ACK, "UPLOAD_SUCCESS");
	expect(TN_OP_FETCH_ASSET, "a.txt", TN_OP_ACK, "aGk=");
	expect(TN_OP_FETCH_ASSET, "../titan.conf", TN_OP_ERROR,
	       "ERROR_NOT_FOUND");
	expect(TN_OP_UPLOAD_ASSET, "b.txt|!!", TN_OP_ERROR,
	       "UPLOAD_FAILED: Illegal base64 character");
	/* the KV bus is the store: redis-cli sees user:<key> */
	{
		redisContext *rc = tn_connect(&srv);

		tn_expect_str(tn_cmd(rc, "GET user:k1"), "v|with|pipes");
		redisFree(rc);
	}
}

Test(sched, v1_dag_validation)
{
	char *got = NULL;

	expect(TN_OP_SUBMIT_DAG, "a|G|x|1|0|[b] ; b|G|x|1|0|[a]", TN_OP_ERROR,
	       "ERROR: DAG rejected: cycle: a -> b -> a");
	expect(TN_OP_SUBMIT_DAG2, "a|G|x|1|0|[] ; b|G|x|1|0|[zz]",
	       TN_OP_ERROR, "ERROR: job b: unknown parent zz");
	expect(TN_OP_SUBMIT_DAG2, "a|G|x|1|0|[];a|G|x|1|0|[]", TN_OP_ERROR,
	       "ERROR: duplicate job id a");
	expect(TN_OP_GET_JOB_STATUS, "DAG-a", TN_OP_ACK, "NULL");
	expect(TN_OP_SUBMIT_DAG,
	       "a|RUN_PAYLOAD|a.py||aGk=|GPU|1|0|[] ; "
	       "b|RUN_PAYLOAD|b.py||aGk=|GPU|1|0|[a]",
	       TN_OP_ACK, "DAG_ACCEPTED");
	/* no GPU worker: both wait; the SDK's unprefixed id works too */
	expect(TN_OP_GET_JOB_STATUS, "DAG-a", TN_OP_ACK, "PENDING");
	expect(TN_OP_GET_JOB_STATUS, "b", TN_OP_ACK, "PENDING");
	call(TN_OP_JOB_INFO, "DAG-b", &got);
	cr_expect(strstr(got, "\"state\":\"PENDING\"") &&
			  strstr(got, "\"parents\":[\"DAG-a\"]") &&
			  strstr(got, "\"capability\":\"GPU\""),
		  "%s", got);
	free(got);
	expect(TN_OP_CANCEL_JOB, "DAG-a", TN_OP_ACK, "CANCELLED");
	expect(TN_OP_GET_JOB_STATUS, "DAG-b", TN_OP_ACK, "CANCELLED");
	/* state is in the keyspace */
	{
		redisContext *rc = tn_connect(&srv);
		redisReply *r = tn_cmd(rc, "GET titan:job:DAG-a");

		cr_assert_eq(r->type, REDIS_REPLY_STRING);
		cr_expect(strstr(r->str, "state=CANCELLED\n"), "%s", r->str);
		freeReplyObject(r);
		redisFree(rc);
	}
}

Test(sched, bad_frames)
{
	char out[256], req[8];
	bool closed = false;
	ssize_t n;
	int fd = tconnect();
	uint8_t hdr[8];
	struct tn_frame f;
	char *body = NULL;

	/* oversized: error frame naming both sizes, then close */
	tn_proto_header(hdr, TN_OP_SUBMIT_DAG, 10u * 1024 * 1024 + 1);
	cr_assert_eq(write(fd, hdr, 8), 8);
	cr_assert_eq(tn_proto_recv(fd, 0, &f, &body), 0);
	cr_expect_eq(f.opcode, TN_OP_ERROR);
	cr_expect_str_eq(body, "ERROR: frame too large (10485761 bytes, "
			       "limit 10485760)");
	free(body);
	cr_expect_eq(read(fd, out, sizeof(out)), 0, "not closed");
	close(fd);
	/* bad version */
	{
		static const char badver[8] = {2, 9, 0, 0, 0, 0, 0, 0};

		memcpy(req, badver, 8);
	}
	{
		struct tn_server *s = &srv;
		int save = s->port;

		s->port = s->titan_port;
		n = tn_raw_talk(s, req, 8, out, sizeof(out), 0, 5000, &closed);
		s->port = save;
	}
	cr_assert_gt(n, 8);
	cr_expect_eq((uint8_t)out[1], TN_OP_ERROR);
	cr_expect(closed);
	cr_expect(strstr(out + 8, "ERROR: bad protocol version 2"), "%s",
		  out + 8);
	/* many frames on one connection, and the server survives an
	 * early close */
	fd = tconnect();
	cr_assert_eq(tn_proto_send(fd, TN_OP_KV_GET, "x", 1), 0);
	cr_assert_eq(tn_proto_send(fd, TN_OP_KV_SET, "x|1", 3), 0);
	cr_assert_eq(tn_proto_send(fd, TN_OP_KV_GET, "x", 1), 0);
	cr_assert_eq(tn_proto_recv(fd, 0, &f, &body), 0);
	cr_expect_str_eq(body, "NULL");
	free(body);
	cr_assert_eq(tn_proto_recv(fd, 0, &f, &body), 0);
	free(body);
	cr_assert_eq(tn_proto_recv(fd, 0, &f, &body), 0);
	cr_expect_str_eq(body, "1");
	free(body);
	cr_assert_eq(tn_proto_send(fd, TN_OP_STATS, "", 0), 0);
	close(fd);
	expect(TN_OP_KV_GET, "x", TN_OP_ACK, "1");
}

Test(sched, auth_token)
{
	struct tn_server s2;
	int save_port;
	struct tn_frame f;
	char *body = NULL;
	int fd;

	tn_server_stop(&srv);
	cr_assert_eq(tn_server_start(&s2, "titan-auth-token s3cret\n"), 0);
	save_port = srv.titan_port;
	srv = s2;
	(void)save_port;
	expect(TN_OP_KV_GET, "x", TN_OP_ERROR,
	       "ERROR: authentication required");
	expect(TN_OP_AUTH, "wrong", TN_OP_ERROR, "ERROR: invalid token");
	fd = tconnect();
	cr_assert_eq(tn_proto_send(fd, TN_OP_AUTH, "s3cret", 6), 0);
	cr_assert_eq(tn_proto_recv(fd, 0, &f, &body), 0);
	cr_expect_str_eq(body, "OK");
	free(body);
	cr_assert_eq(tn_proto_send(fd, TN_OP_KV_GET, "x", 1), 0);
	cr_assert_eq(tn_proto_recv(fd, 0, &f, &body), 0);
	cr_expect_str_eq(body, "NULL");
	free(body);
	close(fd);
}

/* ------------------------------------------------------------------ */
/* With real titan-workers                                              */
/* ------------------------------------------------------------------ */

static char worker_bin[512];

static bool have_worker(void)
{
	const char *sup = tn_supervisor_path();
	const char *slash = strrchr(sup, '/');

	snprintf(worker_bin, sizeof(worker_bin), "%.*s/titan-worker",
		 (int)(slash ? slash - sup : 1), slash ? sup : ".");
	return access(worker_bin, X_OK) == 0;
}

static pid_t start_worker(const char *id)
{
	char port[16], dir[400];
	pid_t pid;

	snprintf(port, sizeof(port), "%d", srv.titan_port);
	snprintf(dir, sizeof(dir), "%s/w-%s", srv.dir, id);
	mkdir(dir, 0755);
	pid = fork();
	if (pid == 0) {
		char log[420];

		snprintf(log, sizeof(log), "%s/worker-%s.log", srv.dir, id);
		freopen(log, "w", stdout);
		freopen(log, "a", stderr);
		execl(worker_bin, "titan-worker", "-h", "127.0.0.1", "-p",
		      port, "--id", id, "--capacity", "2", "--workdir", dir,
		      "--capability", "GENERAL", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void wait_workers(int n)
{
	long long until = tn_now_ms() + 10000;
	char want[64];

	snprintf(want, sizeof(want), "\"active_workers\": %d,", n);
	for (;;) {
		char *got = NULL;

		call(TN_OP_STATS_JSON, "", &got);
		if (strstr(got, want)) {
			free(got);
			return;
		}
		free(got);
		cr_assert(tn_now_ms() < until, "workers did not register");
		usleep(20000);
	}
}

static char *wait_state(const char *id, const char *want, int ms)
{
	long long until = tn_now_ms() + ms;

	for (;;) {
		char *got = NULL;

		call(TN_OP_GET_JOB_STATUS, id, &got);
		if (strcmp(got, want) == 0)
			return got;
		if (getenv("SCHED_DEBUG") && tn_now_ms() >= until) {
			char cmd[700];

			snprintf(cmd, sizeof(cmd), "cp -r %s /tmp/sched-debug",
				 srv.dir);
			if (system(cmd) != 0)
				cr_log_info("copy failed");
		}
		cr_assert(tn_now_ms() < until, "%s is %s, not %s", id, got,
			  want);
		free(got);
		usleep(20000);
	}
}

static void b64v(char *out, const char *const *argv, int n)
{
	char raw[2048];
	size_t off = 0;
	int i;

	for (i = 0; i < n; i++) {
		size_t l = strlen(argv[i]);

		memcpy(raw + off, argv[i], l + 1);
		off += l + 1;
	}
	tn_b64_encode(raw, off ? off - 1 : 0, out);
}

/* an EXEC line running `sh -c script` */
static void exec_line(struct tn_buf *b, const char *id, const char *script,
		      int retries, int timeout_ms, const char *parents)
{
	const char *argv[] = {"/bin/sh", "-c", script};
	char a[4096];

	b64v(a, argv, 3);
	tn_buf_printf(b, "%s|GENERAL|EXEC|%s|%d|%d|||1|0|[%s];", id, a,
		      retries, timeout_ms, parents);
}

static long long marker_time(const char *name)
{
	char path[400];
	FILE *f;
	long long v = -1;

	snprintf(path, sizeof(path), "%s/%s", srv.dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* The integer after "key": in a JSON text; -1 when absent or null. */
static long long json_ll(const char *json, const char *key)
{
	char k[64];
	const char *p;

	snprintf(k, sizeof(k), "\"%s\":", key);
	p = strstr(json, k);
	if (!p || p[strlen(k)] == 'n')
		return -1;
	return atoll(p + strlen(k));
}

static long long info_ll(const char *id, const char *key)
{
	char *got = NULL;
	long long v;

	call(TN_OP_JOB_INFO, id, &got);
	v = json_ll(got, key);
	free(got);
	return v;
}

Test(sched, workers_diamond_retry_timeout)
{
	struct tn_buf b = {0};
	char s[600], *got;
	pid_t w1, w2;

	if (!have_worker()) {
		cr_skip_test("titan-worker not built");
		return;
	}
	w1 = start_worker("w1");
	w2 = start_worker("w2");
	wait_workers(2);
	/* diamond: each job writes its start time (ns) then sleeps */
#define MARK(n) "date +%%s%%N > %s/" n "; sleep 0.1; date +%%s%%N > %s/" n ".end"
	snprintf(s, sizeof(s), MARK("a"), srv.dir, srv.dir);
	exec_line(&b, "a", s, 0, 0, "");
	snprintf(s, sizeof(s), MARK("b"), srv.dir, srv.dir);
	exec_line(&b, "b", s, 0, 0, "a");
	snprintf(s, sizeof(s), MARK("c"), srv.dir, srv.dir);
	exec_line(&b, "c", s, 0, 0, "a");
	snprintf(s, sizeof(s), MARK("d"), srv.dir, srv.dir);
	exec_line(&b, "d", s, 0, 0, "b,c");
	/* fails twice, then succeeds */
	snprintf(s, sizeof(s),
		 "echo x >> %s/f.count; test $(wc -l < %s/f.count) -ge 3",
		 srv.dir, srv.dir);
	exec_line(&b, "f", s, 3, 0, "");
	exec_line(&b, "t", "sleep 5", 0, 300, "");
	tn_buf_append(&b, "", 1);
	got = NULL;
	call(TN_OP_SUBMIT_DAG2, b.data, &got);
	cr_assert(strncmp(got, "D-", 2) == 0, "%s", got);
	free(got);
	free(wait_state("DAG-d", "COMPLETED", 15000));
	free(wait_state("DAG-f", "COMPLETED", 15000));
	free(wait_state("DAG-t", "DEAD", 15000));
	{
		char ea[32], eb[32], ec[32];

		snprintf(ea, sizeof(ea), "a.end");
		snprintf(eb, sizeof(eb), "b.end");
		snprintf(ec, sizeof(ec), "c.end");
		cr_expect_geq(marker_time("b"), marker_time(ea));
		cr_expect_geq(marker_time("c"), marker_time(ea));
		cr_expect_geq(marker_time("d"), marker_time(eb));
		cr_expect_geq(marker_time("d"), marker_time(ec));
	}
	{
		/* d became runnable the instant its last parent ended, and
		 * started after that */
		long long bf = info_ll("DAG-b", "finished_us");
		long long cf = info_ll("DAG-c", "finished_us");
		long long dr = info_ll("DAG-d", "ready_us");

		cr_expect(bf > 0 && cf > 0);
		cr_expect_eq(dr, bf > cf ? bf : cf);
		cr_expect_geq(info_ll("DAG-d", "started_us"), dr);
		cr_expect_gt(info_ll("DAG-d", "finished_us"),
			     info_ll("DAG-d", "started_us"));
		cr_expect_gt(info_ll("DAG-a", "ready_us"), 0);
	}
	got = NULL;
	call(TN_OP_JOB_INFO, "DAG-f", &got);
	cr_expect(strstr(got, "\"attempts\":3"), "%s", got);
	free(got);
	got = NULL;
	call(TN_OP_JOB_INFO, "DAG-t", &got);
	cr_expect(strstr(got, "timed out after 300 ms"), "%s", got);
	free(got);
	tn_buf_free(&b);
	kill(w1, SIGKILL);
	kill(w2, SIGKILL);
	waitpid(w1, NULL, 0);
	waitpid(w2, NULL, 0);
}

Test(sched, worker_killed_job_reruns_and_logs)
{
	struct tn_buf b = {0};
	char s[600], *got = NULL;
	pid_t w1, w2, victim;
	redisContext *rc;
	redisReply *r;

	if (!have_worker()) {
		cr_skip_test("titan-worker not built");
		return;
	}
	w1 = start_worker("w1");
	wait_workers(1);
	rc = tn_connect(&srv);
	r = redisCommand(rc, "SUBSCRIBE titan:logs:DAG-k");
	freeReplyObject(r);
	/* the first run prints, then hangs; the rerun finishes */
	snprintf(s, sizeof(s),
		 "echo hello-log; if [ -e %s/k.once ]; then exit 0; fi; "
		 "touch %s/k.once; sleep 30",
		 srv.dir, srv.dir);
	exec_line(&b, "k", s, 0, 0, "");
	tn_buf_append(&b, "", 1);
	call(TN_OP_SUBMIT_DAG2, b.data, &got);
	free(got);
	/* the line arrives live on the channel */
	cr_assert_eq(redisGetReply(rc, (void **)&r), REDIS_OK);
	cr_assert_eq(r->type, REDIS_REPLY_ARRAY);
	cr_expect_str_eq(r->element[2]->str, "hello-log");
	freeReplyObject(r);
	redisFree(rc);
	free(wait_state("DAG-k", "RUNNING", 5000));
	w2 = start_worker("w2");
	wait_workers(2);
	victim = w1;
	kill(victim, SIGKILL);
	waitpid(victim, NULL, 0);
	free(wait_state("DAG-k", "COMPLETED", 15000));
	got = NULL;
	call(TN_OP_JOB_INFO, "DAG-k", &got);
	cr_expect(strstr(got, "\"worker\":\"w2\""), "%s", got);
	free(got);
	got = NULL;
	call(TN_OP_GET_LOGS, "DAG-k", &got);
	cr_expect(strstr(got, "hello-log"), "%s", got);
	free(got);
	tn_buf_free(&b);
	kill(w2, SIGKILL);
	waitpid(w2, NULL, 0);
}

static int count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = 0, ch;

	if (!f)
		return 0;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

static long long first_ll(const char *path)
{
	FILE *f = fopen(path, "r");
	long long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* ps shows the title padded: compare what `ps` shows, trimmed */
static pid_t sched_child(pid_t old, int timeout_ms)
{
	long long until = tn_now_ms() + timeout_ms;

	do {
		pid_t pids[64];
		char t[256];
		int i, n = tn_proc_children(srv.pid, pids, 64);

		for (i = 0; i < n && i < 64; i++)
			if (pids[i] != old &&
			    tn_proc_cmdline(pids[i], t, sizeof(t)) == 0 &&
			    strcmp(t, "titan: scheduler") == 0)
				return pids[i];
		usleep(10000);
	} while (tn_now_ms() < until);
	return -1;
}

/* The marker directory (srv.dir/m) and two registered workers, w1 and
 * w2, for submit_marker_dag(). */
static void marker_workers(char *mdir, size_t cap, pid_t *w1, pid_t *w2)
{
	snprintf(mdir, cap, "%s/m", srv.dir);
	mkdir(mdir, 0755);
	*w1 = start_worker("w1");
	*w2 = start_worker("w2");
	wait_workers(2);
}

/*
 * Submit a layered DAG of `layers` x `width` jobs named <p><layer>_<i>;
 * each job after the first layer has two parents in the layer before
 * (i and i + skew), and appends a start and an end timestamp (ns) to the
 * marker files mdir/<id> and mdir/<id>.end around a sleep of `nap`.
 * The DAG's id goes to dag.
 */
static void submit_marker_dag(const char *mdir, char p, int layers,
			      int width, int skew, const char *nap, char *dag,
			      size_t cap)
{
	struct tn_buf b = {0};
	char s[1024], parents[64], *got = NULL;
	int l, i;

	for (l = 0; l < layers; l++) {
		for (i = 0; i < width; i++) {
			char id[32]; /* "DAG-j%d_%d" with any ints fits */

			snprintf(id, sizeof(id), "%c%d_%d", p, l, i);
			if (l == 0)
				parents[0] = '\0';
			else
				snprintf(parents, sizeof(parents),
					 "%c%d_%d,%c%d_%d", p, l - 1, i, p,
					 l - 1, (i + skew) % width);
			snprintf(s, sizeof(s),
				 "date +%%s%%N >> %s/%s; sleep %s; "
				 "date +%%s%%N >> %s/%s.end",
				 mdir, id, nap, mdir, id);
			exec_line(&b, id, s, 3, 0, parents);
		}
	}
	tn_buf_append(&b, "", 1);
	call(TN_OP_SUBMIT_DAG2, b.data, &got);
	cr_assert(strncmp(got, "D-", 2) == 0, "%s", got);
	snprintf(dag, cap, "%s", got);
	free(got);
	tn_buf_free(&b);
}

#define LAYERS 20
#define WIDTH 10

Test(sched, scheduler_kill9_mid_dag, .timeout = 90)
{
	char mdir[400], path[500], *got = NULL;
	char dag[64];
	pid_t w1, w2, sched_pid, again;
	int l, i, done;
	long long until;

	if (!have_worker()) {
		cr_skip_test("titan-worker not built");
		return;
	}
	marker_workers(mdir, sizeof(mdir), &w1, &w2);
	submit_marker_dag(mdir, 'j', LAYERS, WIDTH, 1, "0.02", dag,
			  sizeof(dag));
	/* kill the scheduler once a quarter of the DAG has run */
	until = tn_now_ms() + 20000;
	for (;;) {
		snprintf(path, sizeof(path), "%s/j5_0.end", mdir);
		if (access(path, F_OK) == 0)
			break;
		cr_assert(tn_now_ms() < until, "the DAG does not progress");
		usleep(5000);
	}
	sched_pid = sched_child(0, 5000);
	cr_assert_gt(sched_pid, 0);
	cr_assert_eq(kill(sched_pid, SIGKILL), 0);
	again = sched_child(sched_pid, 10000);
	cr_assert_gt(again, 0, "the scheduler was not restarted");
	for (i = 0; i < WIDTH; i++) {
		char id[32]; /* "DAG-j%d_%d" with any ints fits */

		snprintf(id, sizeof(id), "DAG-j%d_%d", LAYERS - 1, i);
		free(wait_state(id, "COMPLETED", 40000));
	}
	done = 0;
	for (l = 0; l < LAYERS; l++) {
		for (i = 0; i < WIDTH; i++) {
			long long start;
			int k;

			snprintf(path, sizeof(path), "%s/j%d_%d", mdir, l, i);
			cr_expect_eq(count_lines(path), 1,
				     "j%d_%d ran %d times", l, i,
				     count_lines(path));
			start = first_ll(path);
			done += start > 0;
			for (k = 0; l > 0 && k < 2; k++) {
				char pp[500];

				snprintf(pp, sizeof(pp), "%s/j%d_%d.end", mdir,
					 l - 1, (i + k) % WIDTH);
				cr_expect_geq(start, first_ll(pp),
					      "j%d_%d started before its "
					      "parent j%d_%d ended",
					      l, i, l - 1, (i + k) % WIDTH);
			}
		}
	}
	cr_expect_eq(done, LAYERS * WIDTH);
	/* the restarted scheduler knows the whole DAG from the keyspace */
	got = NULL;
	call(TN_OP_DAG_INFO, dag, &got);
	cr_expect(strstr(got, "\"state\":\"COMPLETED\"") &&
			  strstr(got, "\"COMPLETED\":200"),
		  "%.300s", got);
	free(got);
	kill(w1, SIGKILL);
	kill(w2, SIGKILL);
	waitpid(w1, NULL, 0);
	waitpid(w2, NULL, 0);
}

/* A v1-model worker (titan-worker --listen): REGISTER, then pinged with
 * 0x01 and sent 0x0C STAGE + 0x06 RUN over connections we open. */
Test(sched, v1_worker_model)
{
	char port[16], lport[16], dir[400], log[420], *got = NULL;
	char body[600], b64[256];
	const char *py = "import sys\nprint('hi', sys.argv[1:])\n";
	const char *argv[] = {"/bin/echo", "exec-on-v1"};
	pid_t pid;

	if (!have_worker()) {
		cr_skip_test("titan-worker not built");
		return;
	}
	snprintf(port, sizeof(port), "%d", srv.titan_port);
	snprintf(lport, sizeof(lport), "%d", tn_free_port());
	snprintf(dir, sizeof(dir), "%s/v1w", srv.dir);
	snprintf(log, sizeof(log), "%s/v1w.log", srv.dir);
	mkdir(dir, 0755);
	pid = fork();
	if (pid == 0) {
		freopen(log, "w", stdout);
		freopen(log, "a", stderr);
		execl(worker_bin, "titan-worker", "-h", "127.0.0.1", "-p", port,
		      "--workdir", dir, "--listen", lport, (char *)NULL);
		_exit(127);
	}
	wait_workers(1);
	tn_b64_encode(py, strlen(py), b64);
	snprintf(body, sizeof(body),
		 "p|RUN_PAYLOAD|p.py|a b|%s|GENERAL|1|0|[]", b64);
	expect(TN_OP_SUBMIT_DAG, body, TN_OP_ACK, "DAG_ACCEPTED");
	b64v(b64, argv, 2);
	snprintf(body, sizeof(body), "e|GENERAL|EXEC|%s|0|0|||1|0|[p]", b64);
	call(TN_OP_SUBMIT_DAG2, body, &got);
	free(got);
	free(wait_state("DAG-e", "COMPLETED", 15000));
	free(wait_state("DAG-p", "COMPLETED", 1000));
	got = NULL;
	call(TN_OP_JOB_INFO, "DAG-e", &got);
	cr_expect(strstr(got, "\"result\":\"COMPLETED|0|exec-on-v1\""), "%s",
		  got);
	free(got);
	expect(TN_OP_GET_LOGS, "DAG-p", TN_OP_ACK, "hi ['a', 'b']");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/*
 * The whole supervisor dies mid-DAG (power-cut style: every titan
 * process stopped, then killed), with appendonly yes / appendfsync always;
 * the two workers stay up, keep running what they had, and reconnect to
 * the supervisor restarted on the same directory and ports.
 *
 * What must hold: every job ran, none started before all its parents had
 * ended, and a job ran exactly once unless it was in flight at the crash
 * (started before it and not ended more than CRASH_SLACK_NS before it):
 * its dispatch or completion may not have reached the disk, and it may run
 * again.  A job that ended earlier than that never runs again: its
 * completion is on disk, or its worker replays it on reconnecting.
 */
#define CRASH_LAYERS 15
#define CRASH_WIDTH 10
#define CRASH_SLACK_NS 1000000000LL

static void setup_aof(void)
{
	cr_assert_eq(tn_server_start(&srv, "appendonly yes\n"
					   "appendfsync always\n"),
		     0, "server did not start");
}

TestSuite(sched_crash, .init = setup_aof, .fini = teardown, .timeout = 120);

static long long wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* All the lines of a marker file as numbers (at most max). */
static int read_lls(const char *path, long long *v, int max)
{
	FILE *f = fopen(path, "r");
	int n = 0;

	if (!f)
		return 0;
	while (n < max && fscanf(f, "%lld", &v[n]) == 1)
		n++;
	fclose(f);
	return n;
}

static void crash_supervisor(void)
{
	pid_t kids[64];
	int i, n = tn_proc_children(srv.pid, kids, 64);

	cr_assert(n >= 4 && n <= 64, "%d titan children", n);
	/* freeze all first: nobody gets to react to another's death */
	kill(srv.pid, SIGSTOP);
	for (i = 0; i < n; i++)
		kill(kids[i], SIGSTOP);
	kill(srv.pid, SIGKILL);
	for (i = 0; i < n; i++)
		kill(kids[i], SIGKILL);
	waitpid(srv.pid, NULL, 0);
	for (i = 0; i < n; i++)
		cr_assert(tn_wait_exit(kids[i], 5000), "pid %d survived",
			  (int)kids[i]);
}

static void restart_supervisor(void)
{
	cr_assert_geq(tn_server_spawn(&srv), 0);
	cr_assert_eq(tn_server_wait_ready(&srv, 15000), 0,
		     "the supervisor did not come back on the same ports");
}

Test(sched_crash, supervisor_kill9_mid_dag)
{
	char s[64], mdir[400], path[500], dag[64], *got = NULL;
	long long crash_ns, until, runs[8], ends[8];
	pid_t w1, w2;
	int l, i, total = 0, reran = 0;

	if (!have_worker()) {
		cr_skip_test("titan-worker not built");
		return;
	}
	marker_workers(mdir, sizeof(mdir), &w1, &w2);
	submit_marker_dag(mdir, 'c', CRASH_LAYERS, CRASH_WIDTH, 3, "0.01",
			  dag, sizeof(dag));
	/* crash once a third of the DAG has run */
	until = tn_now_ms() + 30000;
	snprintf(path, sizeof(path), "%s/c%d_0.end", mdir, CRASH_LAYERS / 3);
	while (access(path, F_OK) != 0) {
		cr_assert(tn_now_ms() < until, "the DAG does not progress");
		usleep(2000);
	}
	crash_ns = wall_ns();
	crash_supervisor();
	snprintf(path, sizeof(path), "%s/c%d_0", mdir, CRASH_LAYERS - 1);
	cr_assert(access(path, F_OK) != 0, "the DAG was over before the crash");
	restart_supervisor();
	for (i = 0; i < CRASH_WIDTH; i++) {
		char id[32];

		snprintf(id, sizeof(id), "DAG-c%d_%d", CRASH_LAYERS - 1, i);
		free(wait_state(id, "COMPLETED", 60000));
	}
	for (l = 0; l < CRASH_LAYERS; l++) {
		for (i = 0; i < CRASH_WIDTH; i++) {
			int n, ne, r, k;

			snprintf(path, sizeof(path), "%s/c%d_%d", mdir, l, i);
			n = read_lls(path, runs, 8);
			snprintf(path, sizeof(path), "%s/c%d_%d.end", mdir, l, i);
			ne = read_lls(path, ends, 8);
			cr_expect(n >= 1 && ne >= 1, "c%d_%d never ran", l, i);
			if (n < 1 || ne < 1)
				continue;
			total++;
			if (n > 1) {
				reran++;
				cr_expect(n == 2 && runs[0] < crash_ns &&
						  ends[0] >= crash_ns - CRASH_SLACK_NS,
					  "c%d_%d ran %d times; its first run "
					  "%lld..%lld ns, the crash at %lld",
					  l, i, n, runs[0], ends[0], crash_ns);
			}
			/* every run began after both parents had ended once */
			for (k = 0; l > 0 && k < 2; k++) {
				long long pe[8];
				int pi = k ? (i + 3) % CRASH_WIDTH : i;

				snprintf(path, sizeof(path), "%s/c%d_%d.end",
					 mdir, l - 1, pi);
				cr_assert(read_lls(path, pe, 8) >= 1);
				for (r = 0; r < n; r++)
					cr_expect_geq(runs[r], pe[0],
						      "c%d_%d run %d started "
						      "before its parent "
						      "c%d_%d ended",
						      l, i, r, l - 1, pi);
			}
		}
	}
	cr_expect_eq(total, CRASH_LAYERS * CRASH_WIDTH);
	cr_log_info("supervisor crash: %d of %d jobs in flight ran again",
		    reran, total);
	/* the restarted scheduler has the whole DAG, from the AOF */
	got = NULL;
	call(TN_OP_DAG_INFO, dag, &got);
	snprintf(s, sizeof(s), "\"COMPLETED\":%d", CRASH_LAYERS * CRASH_WIDTH);
	cr_expect(strstr(got, "\"state\":\"COMPLETED\"") && strstr(got, s),
		  "%.100s ... %s", got,
		  strstr(got, "\"counts\"") ? strstr(got, "\"counts\"") : "");
	free(got);
	kill(w1, SIGKILL);
	kill(w2, SIGKILL);
	waitpid(w1, NULL, 0);
	waitpid(w2, NULL, 0);
}
