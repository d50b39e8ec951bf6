/*
 * test_worker.c - titan-worker against a fake scheduler written here (a
 * socket that answers HELLO, sends DISPATCH/CANCEL_JOB and reads what
 * comes back), and in v1 mode against a fake v1 master.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "ipc/proto.h"
#include "tests/integration/harness.h"

#define WAIT_MS 10000

static struct {
	int lfd;     /* the fake scheduler's listening socket */
	int port;
	int fd;      /* the accepted worker link */
	pid_t pid;   /* titan-worker */
	char dir[128];
	char ws[200];
} fk = { -1, 0, -1, 0, "", "" };

static const char *worker_path(void)
{
	static char path[1024];
	char tmp[1024];

	snprintf(tmp, sizeof(tmp), "%s", tn_supervisor_path());
	snprintf(path, sizeof(path), "%s/titan-worker", dirname(tmp));
	return path;
}

static int listen_any(int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	cr_assert(listen(fd, 16) == 0);
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

static void setup(void)
{
	snprintf(fk.dir, sizeof(fk.dir), "/tmp/titan-worker-XXXXXX");
	cr_assert(mkdtemp(fk.dir));
	snprintf(fk.ws, sizeof(fk.ws), "%s/ws", fk.dir);
	fk.lfd = listen_any(&fk.port);
}

static void teardown(void)
{
	char cmd[300];

	if (fk.pid > 0) {
		kill(fk.pid, SIGKILL);
		waitpid(fk.pid, NULL, 0);
	}
	if (fk.fd >= 0)
		close(fk.fd);
	if (fk.lfd >= 0)
		close(fk.lfd);
	/* TN_KEEP=1 keeps the temp dir (worker.log) for a post-mortem */
	if (fk.dir[0] && !getenv("TN_KEEP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fk.dir);
		if (system(cmd) != 0)
			cr_log_info("could not remove %s", fk.dir);
	}
}

TestSuite(worker, .init = setup, .fini = teardown, .timeout = 60);

/* Start titan-worker pointed at the fake scheduler; args NULL-ended. */
static void start_worker(const char *first, ...)
{
	const char *argv[40];
	char port[16], log[300];
	va_list ap;
	int n = 0;

	snprintf(port, sizeof(port), "%d", fk.port);
	argv[n++] = "titan-worker";
	argv[n++] = "-p";
	argv[n++] = port;
	argv[n++] = "--workdir";
	argv[n++] = fk.ws;
	va_start(ap, first);
	for (const char *a = first; a && n < 38; a = va_arg(ap, const char *))
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	snprintf(log, sizeof(log), "%s/worker.log", fk.dir);
	fk.pid = fork();
	cr_assert(fk.pid >= 0);
	if (fk.pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);

		dup2(fd, 1);
		dup2(fd, 2);
		execv(worker_path(), (char **)argv);
		_exit(127);
	}
}

static int accept_link(int lfd, int timeout_ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };
	struct timeval tv = { 5, 0 };
	int fd;

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* Next frame within timeout_ms (beats skipped unless wanted). */
static int recv_frame(int fd, int timeout_ms, uint8_t *op, char **body,
		      bool want_beats)
{
	long long end = tn_now_ms() + timeout_ms;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		struct tn_frame f;
		long long left = end - tn_now_ms();

		*body = NULL;
		if (left <= 0 || poll(&p, 1, (int)left) != 1)
			return -ETIMEDOUT;
		if (tn_proto_recv(fd, TN_PROTO_MAX_BODY_V1, &f, body))
			return -ECONNRESET;
		if (f.opcode == TN_OP_WORKER_BEAT && !want_beats) {
			free(*body);
			continue;
		}
		*op = f.opcode;
		return 0;
	}
}

static void expect_frame(int fd, uint8_t op, const char *body)
{
	uint8_t got;
	char *b;

	cr_assert(recv_frame(fd, WAIT_MS, &got, &b, false) == 0,
		  "no frame (wanted 0x%02x '%s')", op, body);
	cr_expect(got == op, "opcode 0x%02x, wanted 0x%02x (body '%s')", got,
		  op, b);
	cr_expect_str_eq(b, body);
	free(b);
}

static void send_frame(int fd, uint8_t op, const char *body)
{
	cr_assert(tn_proto_send(fd, op, body, strlen(body)) == 0);
}

/* Accept the worker's link and complete the HELLO. */
static void handshake(void)
{
	uint8_t op;
	char *b;

	fk.fd = accept_link(fk.lfd, WAIT_MS);
	cr_assert(fk.fd >= 0, "the worker did not connect");
	cr_assert(recv_frame(fk.fd, WAIT_MS, &op, &b, false) == 0);
	cr_assert(op == TN_OP_WORKER_HELLO, "first frame 0x%02x", op);
	free(b);
	send_frame(fk.fd, TN_OP_ACK, "REGISTERED");
}

static char *b64list(const char *const *items)
{
	struct tn_buf b = { 0 };
	size_t n = 0;

	while (items && items[n])
		n++;
	cr_assert(tn_b64_list_append(&b, items, n) == 0);
	tn_buf_append(&b, "", 1);
	return b.data;
}

static void dispatch(const char *id, int timeout_ms, const char *const *argv,
		     const char *const *env, const char *cwd,
		     const char *stage, const char *stage_data)
{
	const char *cwdv[] = { cwd, NULL };
	char *a = b64list(argv), *e = b64list(env),
	     *c = b64list(cwd ? cwdv : NULL), *s = NULL, *body;

	if (stage_data) {
		s = malloc(tn_b64_encoded_len(strlen(stage_data)) + 1);
		tn_b64_encode(stage_data, strlen(stage_data), s);
	}
	cr_assert(asprintf(&body, "%s|1|%d|%s|%s|%s|%s|%s", id, timeout_ms, a,
			   e, c, stage ? stage : "", s ? s : "") > 0);
	send_frame(fk.fd, TN_OP_DISPATCH, body);
	free(body);
	free(a);
	free(e);
	free(c);
	free(s);
}

/* Collect LOG_LINES of `id` until its JOB_COMPLETE; returns the latter's
 * body; out/err get the lines, '\n'-joined. */
static char *collect(const char *id, char *out, char *err, size_t cap,
		     int timeout_ms)
{
	size_t idl = strlen(id);

	out[0] = err[0] = '\0';
	for (;;) {
		uint8_t op;
		char *b;

		cr_assert(recv_frame(fk.fd, timeout_ms, &op, &b, false) == 0,
			  "no JOB_COMPLETE for %s", id);
		if (op == TN_OP_JOB_COMPLETE) {
			cr_assert(strncmp(b, id, idl) == 0 && b[idl] == '|',
				  "completion for another job: %s", b);
			return b;
		}
		cr_assert(op == TN_OP_LOG_LINES, "unexpected opcode 0x%02x", op);
		cr_assert(strncmp(b, id, idl) == 0 && b[idl] == '|');
		{
			char *dst = b[idl + 1] == 'o' ? out : err;

			cr_assert(b[idl + 1] == 'o' || b[idl + 1] == 'e');
			cr_assert(b[idl + 2] == '|');
			if (dst[0])
				strncat(dst, "\n", cap - strlen(dst) - 1);
			strncat(dst, b + idl + 3, cap - strlen(dst) - 1);
		}
		free(b);
	}
}

/* Wait for one LOG_LINES frame of `id` whose text is `line`. */
static void wait_line(const char *id, const char *line)
{
	uint8_t op;
	char *b, want[256];

	snprintf(want, sizeof(want), "%s|o|%s", id, line);
	cr_assert(recv_frame(fk.fd, WAIT_MS, &op, &b, false) == 0);
	cr_assert(op == TN_OP_LOG_LINES, "opcode 0x%02x body %s", op, b);
	cr_assert_str_eq(b, want);
	free(b);
}

static int exit_code(const char *a1, const char *a2)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(worker_path(), "titan-worker", "--workdir", fk.ws, a1, a2,
		      (char *)NULL);
		_exit(127);
	}
	cr_assert(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(worker, usage_errors_exit_2)
{
	cr_expect_eq(exit_code("--capacity", "0"), 2);
	cr_expect_eq(exit_code("--capacity", "x"), 2);
	cr_expect_eq(exit_code("-p", "70000"), 2);
	cr_expect_eq(exit_code("-p", ""), 2);
	cr_expect_eq(exit_code("--beat", "0"), 2);
	cr_expect_eq(exit_code("--beat", "1s"), 2);
	cr_expect_eq(exit_code("--listen", "-1"), 2);
	cr_expect_eq(exit_code("--capability", "A,,B"), 2);
	cr_expect_eq(exit_code("--capability", "A|B"), 2);
	cr_expect_eq(exit_code("--id", "a|b"), 2);
	cr_expect_eq(exit_code("--bogus", NULL), 2);
	cr_expect_eq(exit_code("stray", NULL), 2);
	cr_expect_eq(exit_code("--capacity", NULL), 2);
	cr_expect_eq(exit_code("--help", NULL), 0);
}

Test(worker, auth_hello_beat)
{
	char host[256], want[400], *b;
	uint8_t op;

	gethostname(host, sizeof(host));
	start_worker("--token", "s3cret", "--id", "w1", "--capability",
		     "GENERAL,GPU", "--capacity", "3", "--beat", "0.1", NULL);
	fk.fd = accept_link(fk.lfd, WAIT_MS);
	cr_assert(fk.fd >= 0);
	expect_frame(fk.fd, TN_OP_AUTH, "s3cret");
	send_frame(fk.fd, TN_OP_ACK, "OK");
	/* the 6th field: one DISPATCH queued beyond capacity (prefetch) */
	snprintf(want, sizeof(want), "w1|%s|0|GENERAL,GPU|3|1", host);
	expect_frame(fk.fd, TN_OP_WORKER_HELLO, want);
	send_frame(fk.fd, TN_OP_ACK, "REGISTERED");
	cr_assert(recv_frame(fk.fd, 2000, &op, &b, true) == 0);
	cr_expect_eq(op, TN_OP_WORKER_BEAT);
	cr_expect_str_eq(b, "w1|0");
	free(b);
}

Test(worker, refused_token_retries)
{
	long long t0;

	start_worker("--token", "bad", NULL);
	fk.fd = accept_link(fk.lfd, WAIT_MS);
	expect_frame(fk.fd, TN_OP_AUTH, "bad");
	send_frame(fk.fd, TN_OP_ERROR, "ERROR: invalid token");
	close(fk.fd);
	t0 = tn_now_ms();
	fk.fd = accept_link(fk.lfd, WAIT_MS);
	cr_assert(fk.fd >= 0, "no reconnect after a refused token");
	cr_expect(tn_now_ms() - t0 >= 80, "reconnected without backoff");
	expect_frame(fk.fd, TN_OP_AUTH, "bad");
}

Test(worker, output_and_exit_codes)
{
	static const char *const a1[] = { "sh", "-c",
		"echo out1; echo err1 >&2; printf 'out2\\npartial'", NULL };
	static const char *const a2[] = { "sh", "-c", "echo bad; exit 3",
					  NULL };
	static const char *const a3[] = { "sh", "-c",
		"ls /proc/$$/fd; true", NULL };
	char out[4096], err[4096], *c;

	start_worker(NULL);
	handshake();
	dispatch("J1", 0, a1, NULL, NULL, NULL, NULL);
	c = collect("J1", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(out, "out1\nout2\npartial");
	cr_expect_str_eq(err, "err1");
	cr_expect(strncmp(c, "J1|COMPLETED|COMPLETED|0|", 25) == 0, "%s", c);
	cr_expect(strstr(c, "partial") != NULL, "%s", c);
	free(c);
	dispatch("J2", 0, a2, NULL, NULL, NULL, NULL);
	c = collect("J2", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "J2|FAILED|FAILED|3|bad");
	free(c);
	/* the job holds stdin, stdout, stderr and nothing else of ours */
	dispatch("J3", 0, a3, NULL, NULL, NULL, NULL);
	c = collect("J3", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(out, "0\n1\n2");
	free(c);
}

Test(worker, signal_and_cannot_run)
{
	static const char *const a1[] = { "sh", "-c", "kill -9 $$", NULL };
	static const char *const a2[] = { "/nonexistent/prog", NULL };
	static const char *const a3[] = { "no-such-program-xyz", "a", NULL };
	char out[256], err[256], *c;

	start_worker(NULL);
	handshake();
	dispatch("S1", 0, a1, NULL, NULL, NULL, NULL);
	c = collect("S1", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "S1|FAILED|ERROR: killed by signal 9");
	free(c);
	dispatch("S2", 0, a2, NULL, NULL, NULL, NULL);
	c = collect("S2", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "S2|FAILED|ERROR: cannot run /nonexistent/prog: "
			    "No such file or directory");
	free(c);
	dispatch("S3", 0, a3, NULL, NULL, NULL, NULL);
	c = collect("S3", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "S3|FAILED|ERROR: cannot run no-such-program-xyz: "
			    "No such file or directory");
	free(c);
}

Test(worker, stage_env_cwd)
{
	static const char *const a1[] = { "sh", "run.sh", NULL };
	static const char *const e1[] = { "FOO=bar baz", "HOME=/elsewhere",
					  NULL };
	static const char *const a2[] = { "./run.sh", NULL };
	static const char *const a3[] = { "pwd", NULL };
	char out[4096], err[4096], want[512], *c;

	start_worker(NULL);
	handshake();
	dispatch("D/1", 0, a1, e1, NULL, "run.sh", "echo \"$FOO\" $HOME\npwd\n");
	c = collect("D/1", out, err, sizeof(out), WAIT_MS);
	snprintf(want, sizeof(want), "bar baz /elsewhere\n%s/D_1", fk.ws);
	cr_expect_str_eq(out, want);
	free(c);
	/* a relative argv[0] is found in the job directory */
	dispatch("D2", 0, a2, NULL, NULL, "run.sh", "#!/bin/sh\necho staged\n");
	c = collect("D2", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "D2|COMPLETED|COMPLETED|0|staged");
	free(c);
	dispatch("D3", 0, a3, NULL, "/tmp", NULL, NULL);
	c = collect("D3", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "D3|COMPLETED|COMPLETED|0|/tmp");
	free(c);
	dispatch("D4", 0, a3, NULL, NULL, "..", "x");
	c = collect("D4", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "D4|FAILED|ERROR: bad stage file name '..'");
	free(c);
	send_frame(fk.fd, TN_OP_DISPATCH, "D5|1|0|!!!|||");
	c = collect("D5", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "D5|FAILED|ERROR: bad DISPATCH: 7 fields, "
			    "expected 8");
	free(c);
	send_frame(fk.fd, TN_OP_DISPATCH, "D6|1|0|!!!||||");
	c = collect("D6", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "D6|FAILED|ERROR: bad DISPATCH: argv, env or cwd "
			    "is not Base64 of a list");
	free(c);
}

Test(worker, timeout_term_then_kill)
{
	static const char *const a1[] = { "sleep", "5", NULL };
	static const char *const a2[] = { "sh", "-c",
		"trap '' TERM; echo ready; while :; do sleep 0.05; done", NULL };
	char out[256], err[256], *c;
	long long t0 = tn_now_ms(), dt;

	start_worker(NULL);
	handshake();
	dispatch("T1", 300, a1, NULL, NULL, NULL, NULL);
	c = collect("T1", out, err, sizeof(out), WAIT_MS);
	dt = tn_now_ms() - t0;
	cr_expect_str_eq(c, "T1|FAILED|ERROR: timed out after 300 ms");
	cr_expect(dt < 1500, "timeout took %lld ms", dt);
	free(c);
	t0 = tn_now_ms();
	dispatch("T2", 200, a2, NULL, NULL, NULL, NULL);
	c = collect("T2", out, err, sizeof(out), WAIT_MS);
	dt = tn_now_ms() - t0;
	cr_expect_str_eq(c, "T2|FAILED|ERROR: timed out after 200 ms");
	cr_expect_str_eq(out, "ready");
	cr_expect(dt >= 2100 && dt < 4000, "SIGKILL came after %lld ms", dt);
	free(c);
}

Test(worker, cancel_and_saturation)
{
	static const char *const a1[] = { "sh", "-c", "echo started; exec sleep 30",
					  NULL };
	char out[256], err[256], *c;
	long long t0;

	start_worker("--capacity", "1", NULL);
	handshake();
	dispatch("C1", 0, a1, NULL, NULL, NULL, NULL);
	wait_line("C1", "started");
	/* C2 waits in the prefetch queue; one more is refused */
	dispatch("C2", 0, a1, NULL, NULL, NULL, NULL);
	dispatch("C4", 0, a1, NULL, NULL, NULL, NULL);
	expect_frame(fk.fd, TN_OP_JOB_COMPLETE, "C4|FAILED|ERROR_WORKER_SATURATED");
	/* a queued job cancelled never starts: no "started" line */
	send_frame(fk.fd, TN_OP_CANCEL_JOB, "C2");
	expect_frame(fk.fd, TN_OP_JOB_COMPLETE, "C2|FAILED|ERROR: cancelled");
	t0 = tn_now_ms();
	send_frame(fk.fd, TN_OP_CANCEL_JOB, "C1");
	c = collect("C1", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "C1|FAILED|ERROR: cancelled");
	cr_expect(tn_now_ms() - t0 < 1500);
	free(c);
	/* the slot is free again */
	dispatch("C3", 0, a1, NULL, NULL, NULL, NULL);
	wait_line("C3", "started");
	send_frame(fk.fd, TN_OP_CANCEL_JOB, "C3");
	c = collect("C3", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "C3|FAILED|ERROR: cancelled");
	free(c);
}

/*
 * Prefetch: a DISPATCH that finds every slot busy waits on the worker and
 * starts the moment the slot frees, after the first job's completion is
 * on the link (a child of that job may be waiting for it), without a
 * round trip to the scheduler.
 */
Test(worker, prefetch_starts_queued_in_order)
{
	static const char *const a1[] = { "sh", "-c",
		"echo started; sleep 0.3; echo done", NULL };
	static const char *const a2[] = { "sh", "-c", "echo second", NULL };
	static const char *const a3[] = { "sh", "-c", "echo third", NULL };
	char out[256], err[256], *c, want[300];
	long long t0;
	uint8_t op;
	char *b;

	start_worker("--id", "w1", "--capacity", "1", "--prefetch", "2",
		     "--beat", "0.05", NULL);
	fk.fd = accept_link(fk.lfd, WAIT_MS);
	cr_assert(fk.fd >= 0);
	cr_assert(recv_frame(fk.fd, WAIT_MS, &op, &b, false) == 0);
	cr_assert(op == TN_OP_WORKER_HELLO);
	cr_expect(strlen(b) > 4 && strcmp(b + strlen(b) - 4, "|1|2") == 0,
		  "HELLO %s does not end in capacity 1, prefetch 2", b);
	free(b);
	send_frame(fk.fd, TN_OP_ACK, "REGISTERED");
	dispatch("P1", 0, a1, NULL, NULL, NULL, NULL);
	wait_line("P1", "started");
	t0 = tn_now_ms();
	dispatch("P2", 0, a2, NULL, NULL, NULL, NULL);
	dispatch("P3", 0, a3, NULL, NULL, NULL, NULL);
	/* beats count queued jobs as running: 1 + 2 */
	for (;;) {
		cr_assert(recv_frame(fk.fd, WAIT_MS, &op, &b, true) == 0);
		cr_assert(op == TN_OP_WORKER_BEAT,
			  "opcode 0x%02x before a beat saying 3", op);
		snprintf(want, sizeof(want), "%s", b);
		free(b);
		if (strcmp(want, "w1|3") == 0)
			break;
	}
	c = collect("P1", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "P1|COMPLETED|COMPLETED|0|started\ndone");
	cr_expect(tn_now_ms() - t0 >= 200, "P1 ended early");
	free(c);
	c = collect("P2", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(out, "second");
	cr_expect_str_eq(c, "P2|COMPLETED|COMPLETED|0|second");
	free(c);
	c = collect("P3", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "P3|COMPLETED|COMPLETED|0|third");
	free(c);
}

/* --prefetch 0, or a scheduler that refuses the 6th field: the old
 * 5-field HELLO, and a DISPATCH beyond capacity is refused. */
Test(worker, prefetch_off_and_old_scheduler)
{
	static const char *const a1[] = { "sh", "-c", "echo started; exec sleep 30",
					  NULL };
	char host[256], want[400], *b;
	uint8_t op;

	gethostname(host, sizeof(host));
	start_worker("--id", "w1", "--capacity", "1", NULL);
	fk.fd = accept_link(fk.lfd, WAIT_MS);
	cr_assert(fk.fd >= 0);
	snprintf(want, sizeof(want), "w1|%s|0|GENERAL|1|1", host);
	expect_frame(fk.fd, TN_OP_WORKER_HELLO, want);
	send_frame(fk.fd, TN_OP_ERROR, "ERROR: WORKER_HELLO body must be "
				       "id|host|port|cap1,cap2|capacity");
	close(fk.fd);
	/* registers again at once, without the field */
	fk.fd = accept_link(fk.lfd, WAIT_MS);
	cr_assert(fk.fd >= 0, "no reconnect after the refused HELLO");
	snprintf(want, sizeof(want), "w1|%s|0|GENERAL|1", host);
	expect_frame(fk.fd, TN_OP_WORKER_HELLO, want);
	send_frame(fk.fd, TN_OP_ACK, "REGISTERED");
	dispatch("S1", 0, a1, NULL, NULL, NULL, NULL);
	wait_line("S1", "started");
	dispatch("S2", 0, a1, NULL, NULL, NULL, NULL);
	expect_frame(fk.fd, TN_OP_JOB_COMPLETE, "S2|FAILED|ERROR_WORKER_SATURATED");
	send_frame(fk.fd, TN_OP_CANCEL_JOB, "S1");
	for (;;) {
		cr_assert(recv_frame(fk.fd, WAIT_MS, &op, &b, true) == 0);
		if (op == TN_OP_JOB_COMPLETE) {
			cr_expect_str_eq(b, "S1|FAILED|ERROR: cancelled");
			free(b);
			break;
		}
		free(b);
	}
	close(fk.fd);
	kill(fk.pid, SIGTERM);
	waitpid(fk.pid, NULL, 0);
	fk.pid = 0;
	start_worker("--id", "w2", "--capacity", "2", "--prefetch", "0", NULL);
	fk.fd = accept_link(fk.lfd, WAIT_MS);
	cr_assert(fk.fd >= 0);
	snprintf(want, sizeof(want), "w2|%s|0|GENERAL|2", host);
	expect_frame(fk.fd, TN_OP_WORKER_HELLO, want);
}

/* ps shows "titan: worker <id>", not libbsd's '.' where a longer
 * argv[0] ended ("titan: worker w1        ."). */
Test(worker, ps_title)
{
	char port[16], t[512];
	long long until;

	snprintf(port, sizeof(port), "%d", fk.port);
	fk.pid = fork();
	cr_assert(fk.pid >= 0);
	if (fk.pid == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		/* argv[0] the full path: longer than the title */
		execl(worker_path(), worker_path(), "-p", port, "--workdir",
		      fk.ws, "--id", "w1", (char *)NULL);
		_exit(127);
	}
	cr_assert_gt(strlen(worker_path()), strlen("titan: worker w1"));
	until = tn_now_ms() + WAIT_MS;
	for (;;) {
		cr_assert_eq(tn_proc_cmdline(fk.pid, t, sizeof(t)), 0);
		if (strncmp(t, "titan:", 6) == 0)
			break;
		cr_assert(tn_now_ms() < until, "title never set: %s", t);
		usleep(5000);
	}
	cr_expect_str_eq(t, "titan: worker w1");
}

Test(worker, reconnect_keeps_jobs)
{
	static const char *const a1[] = { "sh", "-c",
		"echo started; sleep 0.5; echo done", NULL };
	char out[256], err[256], *c;

	start_worker(NULL);
	handshake();
	dispatch("R1", 0, a1, NULL, NULL, NULL, NULL);
	wait_line("R1", "started");
	close(fk.fd);
	handshake();
	c = collect("R1", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(out, "done");
	cr_expect_str_eq(c, "R1|COMPLETED|COMPLETED|0|started\ndone");
	free(c);
	/* garbage from the scheduler: the worker drops the link, comes back */
	cr_assert(write(fk.fd, "\x02\x01\0\0\0\0\0\0", 8) == 8);
	close(fk.fd);
	handshake();
}

Test(worker, sigterm_reports_and_exits_0)
{
	static const char *const a1[] = { "sh", "-c", "echo started; exec sleep 30",
					  NULL };
	char out[256], err[256], *c;
	int st;

	start_worker(NULL);
	handshake();
	dispatch("K1", 0, a1, NULL, NULL, NULL, NULL);
	wait_line("K1", "started");
	kill(fk.pid, SIGTERM);
	c = collect("K1", out, err, sizeof(out), WAIT_MS);
	cr_expect_str_eq(c, "K1|FAILED|ERROR: worker shutting down");
	free(c);
	cr_assert(tn_wait_exit(fk.pid, WAIT_MS) || true);
	cr_assert(waitpid(fk.pid, &st, 0) == fk.pid || errno == ECHILD);
	fk.pid = 0;
}

static char *v1_call(int port, uint8_t op, const char *body, uint8_t *rop)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct tn_frame f;
	char *b = NULL;
	int rc;

	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	send_frame(fd, op, body);
	rc = tn_proto_recv(fd, TN_PROTO_MAX_BODY_V1, &f, &b);
	cr_assert(rc == 0, "no reply to opcode 0x%02x '%s': %s", op, body,
		  strerror(-rc));
	*rop = f.opcode;
	close(fd);
	return b;
}

static void v1_expect(int port, uint8_t op, const char *body, uint8_t rop,
		      const char *reply)
{
	uint8_t got;
	char *b = v1_call(port, op, body, &got);

	cr_expect_eq(got, rop, "reply opcode 0x%02x to 0x%02x", got, op);
	cr_expect_str_eq(b, reply);
	free(b);
}

/* The fake v1 master: the next connection's frame. */
static char *v1_master_next(uint8_t *op, const char *reply)
{
	int fd = accept_link(fk.lfd, WAIT_MS);
	char *b;

	cr_assert(fd >= 0, "the worker did not call the master");
	cr_assert(recv_frame(fd, WAIT_MS, op, &b, false) == 0);
	if (reply)
		send_frame(fd, TN_OP_ACK, reply);
	close(fd);
	return b;
}

Test(worker, v1_mode)
{
	char lport[16], want[512], *b;
	int port = tn_free_port(), st;
	uint8_t op;

	snprintf(lport, sizeof(lport), "%d", port);
	start_worker("--listen", lport, "--capacity", "2", NULL);
	b = v1_master_next(&op, "REGISTERED");
	cr_expect_eq(op, TN_OP_REGISTER);
	snprintf(want, sizeof(want), "%d||GENERAL||false", port);
	cr_expect_str_eq(b, want);
	free(b);
	v1_expect(port, TN_OP_HEARTBEAT, "", TN_OP_ACK, "PONG|0|2");
	v1_expect(port, 0x30, "", TN_OP_ERROR, "UNKNOWN_OPCODE: 48");
	v1_expect(port, 0x90, "x", TN_OP_ERROR, "UNKNOWN_OPCODE: -112");
	v1_expect(port, TN_OP_CANCEL_JOB, " nope ", TN_OP_ACK, "NOT_FOUND");
	v1_expect(port, TN_OP_STAGE, "../x|aGk=", TN_OP_ERROR,
		  "JOB_FAILED Invalid file name");
	snprintf(want, sizeof(want), "FILE_SAVED: %s/hi.sh", fk.ws);
	/* "echo hi; echo there" */
	v1_expect(port, TN_OP_STAGE, "hi.sh|ZWNobyBoaTsgZWNobyB0aGVyZQ==",
		  TN_OP_ACK, want);
	v1_expect(port, TN_OP_RUN, "V1|hi.sh|", TN_OP_ACK, "JOB_ACCEPTED");
	b = v1_master_next(&op, NULL);
	cr_expect_eq(op, TN_OP_LOG_BATCH);
	cr_expect_str_eq(b, "V1|hi\nthere");
	free(b);
	b = v1_master_next(&op, "ACK_CALLBACK");
	cr_expect_eq(op, TN_OP_JOB_COMPLETE);
	cr_expect_str_eq(b, "V1|COMPLETED|COMPLETED|0|hi\nthere");
	free(b);
	v1_expect(port, TN_OP_RUN, "V2|missing.py|a b", TN_OP_ACK,
		  "JOB_ACCEPTED");
	b = v1_master_next(&op, "ACK_CALLBACK");
	cr_expect_str_eq(b, "V2|FAILED|ERROR: Script file not found");
	free(b);
	v1_expect(port, TN_OP_KILL_WORKER, "NOW", TN_OP_KILL_WORKER,
		  "SUCCESS: Worker shutting down.");
	cr_assert(waitpid(fk.pid, &st, 0) == fk.pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	fk.pid = 0;
}

/* ---- against a real supervisor's scheduler ---------------------------- */

static struct tn_server srv;

static void real_setup(void)
{
	setup();
	cr_assert(tn_server_start(&srv, NULL) == 0, "server did not start");
	fk.port = srv.titan_port;
}

static void real_teardown(void)
{
	teardown();
	cr_expect(tn_server_stop(&srv) == 0, "supervisor did not exit 0");
}

TestSuite(worker_real, .init = real_setup, .fini = real_teardown,
	  .timeout = 60);

/* One request on its own connection; the reply text (malloc'd). */
static char *sched(uint8_t op, const char *body)
{
	uint8_t rop;

	return v1_call(srv.titan_port, op, body, &rop);
}

static char *submit(const char *const *argv, int timeout_ms)
{
	char *a = b64list(argv), *body, *id;

	cr_assert(asprintf(&body, "GENERAL|1|0|%d|%s||", timeout_ms, a) > 0);
	id = sched(TN_OP_SUBMIT_EXEC, body);
	cr_assert(strncmp(id, "RUN-", 4) == 0, "SUBMIT_EXEC: %s", id);
	free(a);
	free(body);
	return id;
}

/* Poll GET_JOB_STATUS (bounded) until it is not PENDING/RUNNING. */
static char *final_status(const char *id)
{
	long long end = tn_now_ms() + WAIT_MS;

	for (;;) {
		char *st = sched(TN_OP_GET_JOB_STATUS, id);

		if ((strcmp(st, "PENDING") && strcmp(st, "RUNNING")) ||
		    tn_now_ms() > end)
			return st;
		free(st);
		usleep(20000);
	}
}

static void wait_running(const char *id)
{
	long long end = tn_now_ms() + WAIT_MS;
	char *st;

	while ((st = sched(TN_OP_GET_JOB_STATUS, id)) &&
	       strcmp(st, "RUNNING") && tn_now_ms() < end) {
		free(st);
		usleep(20000);
	}
	cr_assert_str_eq(st, "RUNNING");
	free(st);
}

static void expect_info(const char *id, const char *needle)
{
	char *info = sched(TN_OP_JOB_INFO, id);

	cr_expect(strstr(info, needle) != NULL, "%s lacks %s", info, needle);
	free(info);
}

Test(worker_real, logs_exit_codes_timeout_cancel)
{
	static const char *const a1[] = { "sh", "-c",
		"echo hello; echo oops >&2; echo world", NULL };
	static const char *const a2[] = { "sh", "-c", "echo no; exit 4", NULL };
	static const char *const a3[] = { "sleep", "5", NULL };
	static const char *const a4[] = { "sh", "-c", "echo up; exec sleep 30",
					  NULL };
	char *id, *st, *logs;

	start_worker("--id", "real1", "--capacity", "1", NULL);
	id = submit(a1, 0);
	st = final_status(id);
	cr_expect_str_eq(st, "COMPLETED");
	logs = sched(TN_OP_GET_LOGS, id);
	/* stdout and stderr travel in separate frames: any interleaving */
	cr_expect(strstr(logs, "hello\n") && strstr(logs, "world") &&
		  strstr(logs, "oops"), "logs: %s", logs);
	expect_info(id, "\"worker\":\"real1\"");
	expect_info(id, "\"exit_code\":0");
	free(logs);
	free(st);
	free(id);

	id = submit(a2, 0);
	st = final_status(id);
	cr_expect(strcmp(st, "COMPLETED") != 0, "exit 4 completed");
	expect_info(id, "\"result\":\"FAILED|4|no\"");
	free(st);
	free(id);

	id = submit(a3, 300);
	st = final_status(id);
	cr_expect(strcmp(st, "COMPLETED") != 0);
	expect_info(id, "\"result\":\"ERROR: timed out after 300 ms\"");
	free(st);
	free(id);

	id = submit(a4, 0);
	wait_running(id);
	st = sched(TN_OP_CANCEL_JOB, id);
	cr_expect_str_eq(st, "CANCELLED");
	free(st);
	st = final_status(id);
	cr_expect_str_eq(st, "CANCELLED");
	free(st);
	free(id);
	/* the slot the cancelled job held is free again */
	id = submit(a1, 0);
	st = final_status(id);
	cr_expect_str_eq(st, "COMPLETED");
	free(st);
	free(id);
}

/* The scheduler's v1 worker model: REGISTER, then STAGE + RUN on our
 * port, LOG_BATCH and JOB_COMPLETE back on connections of their own. */
Test(worker_real, v1_worker_runs_a_dag_job)
{
	char lport[16], want[64], *r, *st;
	int port = tn_free_port();

	snprintf(lport, sizeof(lport), "%d", port);
	start_worker("--listen", lport, "--capacity", "1", NULL);
	/* "echo v1 says hi" */
	r = sched(TN_OP_SUBMIT_DAG, "vj1|RUN_PAYLOAD|hi.sh||"
				    "ZWNobyB2MSBzYXlzIGhpCg==|GENERAL|1|0|[]");
	cr_expect_str_eq(r, "DAG_ACCEPTED");
	free(r);
	st = final_status("DAG-vj1");
	cr_expect_str_eq(st, "COMPLETED");
	free(st);
	r = sched(TN_OP_GET_LOGS, "DAG-vj1");
	cr_expect_str_eq(r, "v1 says hi");
	free(r);
	snprintf(want, sizeof(want), "\"worker\":\"127.0.0.1:%d\"", port);
	expect_info("DAG-vj1", want);
	expect_info("DAG-vj1", "\"result\":\"COMPLETED|0|v1 says hi\"");
}

/* ---- every log line, in order, with its stream ------------------------ */

/* The job of logs_every_line: 500 lines with bursts, gaps of 0-60 ms
 * (past the worker's 50 ms batching), lines written in two pieces
 * across a flush, stderr lines, and a last line with no newline. */
static const char log_script[] =
	"i=0\n"
	"while [ $i -lt 500 ]; do\n"
	"  i=$((i+1))\n"
	"  case $((i % 100)) in\n"
	"  13) sleep 0.05 ;; 37) sleep 0.02 ;; 61) sleep 0.06 ;;\n"
	"  77) sleep 0.001 ;; 90) sleep 0.01 ;;\n"
	"  esac\n"
	"  if [ $((i % 9)) -eq 0 ]; then echo \"err $i\" >&2\n"
	"  elif [ $((i % 83)) -eq 0 ]; then printf 'part %d' $i; sleep 0.06;"
	" printf ' end\\n'\n"
	"  elif [ $((i % 47)) -eq 0 ]; then printf 'cut %d' $i >&2; sleep 0.07;"
	" printf ' more\\n' >&2\n"
	"  else echo \"line $i\"; fi\n"
	"done\n"
	"printf 'last %d' $i\n";

/* What log_script writes on stream s ('o' or 'e'), line by line. */
static int log_expected(char s, char (*out)[32], int max)
{
	int i, n = 0;

	for (i = 1; i <= 500 && n < max; i++) {
		if (i % 9 == 0) {
			if (s == 'e')
				snprintf(out[n++], 32, "err %d", i);
		} else if (i % 83 == 0) {
			if (s == 'o')
				snprintf(out[n++], 32, "part %d end", i);
		} else if (i % 47 == 0) {
			if (s == 'e')
				snprintf(out[n++], 32, "cut %d more", i);
		} else if (s == 'o') {
			snprintf(out[n++], 32, "line %d", i);
		}
	}
	if (s == 'o' && n < max)
		snprintf(out[n++], 32, "last 500");
	return n;
}

/* GET path on the dashboard (Connection: close); the body, malloc'd. */
static char *http_get(int port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct tn_buf b = { 0 };
	char req[512], *body;
	long long end = tn_now_ms() + WAIT_MS;

	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n"
		 "Connection: close\r\n\r\n", path);
	cr_assert(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		cr_assert(tn_now_ms() < end, "no end of reply to GET %s", path);
		if (poll(&p, 1, 200) <= 0)
			continue;
		cr_assert(tn_buf_reserve(&b, 65536) == 0);
		r = read(fd, b.data + b.len, 65536);
		if (r <= 0)
			break;
		b.len += (size_t)r;
	}
	close(fd);
	tn_buf_append(&b, "", 1);
	cr_assert(strncmp(b.data, "HTTP/1.1 200 ", 13) == 0, "GET %s: %.200s",
		  path, b.data);
	body = strstr(b.data, "\r\n\r\n");
	cr_assert(body);
	body = strdup(body + 4);
	tn_buf_free(&b);
	return body;
}

/* Split the dashboard's [{"s":"o","l":"..."},...] (no escapes in our
 * lines) into per-stream lists and the whole log joined by '\n' (the
 * GET_LOGS form); returns the total line count. */
static int log_split(const char *json, char (*o)[32], int *no, char (*e)[32],
		     int *ne, int max, struct tn_buf *all)
{
	const char *p = json;
	int total = 0;

	*no = *ne = 0;
	while ((p = strstr(p, "{\"s\":\""))) {
		char s = p[6];
		const char *l = p + 7, *q;
		int *n = s == 'e' ? ne : no;
		char (*dst)[32] = s == 'e' ? e : o;

		cr_assert(s == 'e' || s == 'o', "bad stream: %.60s", p);
		cr_assert(strncmp(l, "\",\"l\":\"", 7) == 0, "bad line: %.60s",
			  p);
		l += 7;
		q = strchr(l, '"');
		cr_assert(q && q - l < 32, "bad line: %.60s", p);
		cr_assert(*n < max);
		memcpy(dst[*n], l, (size_t)(q - l));
		dst[*n][q - l] = '\0';
		(*n)++;
		if (total++)
			tn_buf_append(all, "\n", 1);
		tn_buf_append(all, l, (size_t)(q - l));
		p = q;
	}
	return total;
}

/* Read `want` PSUBSCRIBE pmessages; their channels and texts in order. */
static void read_pmessages(redisContext *rc, int want, char (*ch)[64],
			   char (*msg)[32])
{
	int n;

	for (n = 0; n < want; n++) {
		redisReply *r = NULL;

		cr_assert(redisGetReply(rc, (void **)&r) == REDIS_OK,
			  "pub/sub: %d of %d lines, then %s", n, want,
			  rc->errstr);
		cr_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 4 &&
			  !strcmp(r->element[0]->str, "pmessage"));
		snprintf(ch[n], 64, "%s", r->element[2]->str);
		snprintf(msg[n], 32, "%s", r->element[3]->str);
		freeReplyObject(r);
	}
}

/* Lines on one channel must be the two streams' lines, each in order. */
static void check_merge(char (*ch)[64], char (*msg)[32], int n,
			const char *want_ch, char (*o)[32], int no,
			char (*e)[32], int ne)
{
	int k, io = 0, ie = 0;

	for (k = 0; k < n; k++) {
		if (strcmp(ch[k], want_ch))
			continue;
		if (io < no && !strcmp(msg[k], o[io]))
			io++;
		else if (ie < ne && !strcmp(msg[k], e[ie]))
			ie++;
		else
			cr_assert_fail("%s: line '%s' unexpected or out of "
				       "order", want_ch, msg[k]);
	}
	cr_assert_eq(io, no, "%s: %d of %d stdout lines", want_ch, io, no);
	cr_assert_eq(ie, ne, "%s: %d of %d stderr lines", want_ch, ie, ne);
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

/*
 * Every line of a chatty job reaches the scheduler's log, the dashboard
 * and pub/sub, in order and with its stream.  TN_LOG_ROUNDS=20 repeats
 * it (the loss this guards against was intermittent).
 */
Test(worker_real, logs_every_line_in_order_with_stream, .timeout = 120)
{
	static const char *const argv[] = { "sh", "-c", log_script, NULL };
	static char want_o[600][32], want_e[600][32], got_o[600][32],
		got_e[600][32], msg[1200][32], ch[1200][64];
	char path[300], sch[300], *id, *st, *json, *tail;
	int nwo = log_expected('o', want_o, 600);
	int nwe = log_expected('e', want_e, 600);
	int round, rounds = getenv("TN_LOG_ROUNDS") ?
				    atoi(getenv("TN_LOG_ROUNDS")) : 1;
	struct timeval tv = { 20, 0 };

	start_worker("--id", "lines1", "--capacity", "2", NULL);
	for (round = 0; round < rounds; round++) {
		redisContext *sub = tn_connect(&srv);
		struct tn_buf all = { 0 };
		redisReply *r;
		const char *from;
		int no, ne, total, i, k;

		cr_assert(sub && !sub->err);
		redisSetTimeout(sub, tv);
		r = redisCommand(sub, "PSUBSCRIBE titan:logs:* titan:stdout:* "
					"titan:stderr:*");
		cr_assert(r);
		freeReplyObject(r);
		for (i = 0; i < 2; i++) { /* the other two psubscribe replies */
			cr_assert(redisGetReply(sub, (void **)&r) == REDIS_OK);
			freeReplyObject(r);
		}

		id = submit(argv, 0);
		st = final_status(id);
		cr_assert_str_eq(st, "COMPLETED");
		free(st);

		/* microsecond timings: runnable <= started <= finished, and
		 * the same instants as the millisecond ones */
		st = sched(TN_OP_JOB_INFO, id);
		{
			long long r_us = json_ll(st, "ready_us"),
				  s_us = json_ll(st, "started_us"),
				  f_us = json_ll(st, "finished_us"),
				  d = s_us / 1000 - json_ll(st, "started_ms");

			cr_assert(r_us > 0 && r_us <= s_us && s_us < f_us,
				  "timings: %s", st);
			cr_assert(d >= 0 && d < 100, "started_us off: %s", st);
			cr_assert(f_us - s_us > 500000, "ran < 0.5 s: %s", st);
		}
		free(st);

		/* the dashboard's log API: the whole buffered log */
		snprintf(path, sizeof(path), "/api/jobs/%s/logs", id);
		json = http_get(srv.http_port, path);
		total = log_split(json, got_o, &no, got_e, &ne, 600, &all);
		cr_assert_eq(no, nwo, "round %d: %d stdout lines, want %d",
			     round, no, nwo);
		cr_assert_eq(ne, nwe, "round %d: %d stderr lines, want %d",
			     round, ne, nwe);
		for (i = 0; i < no; i++)
			cr_assert_str_eq(got_o[i], want_o[i], "round %d", round);
		for (i = 0; i < ne; i++)
			cr_assert_str_eq(got_e[i], want_e[i], "round %d", round);
		free(json);

		/* GET_LOGS: v1's window, the last 100 lines of the same log */
		tn_buf_append(&all, "", 1);
		from = all.data;
		for (k = 0; k < total - 100; k++)
			from = strchr(from, '\n') + 1;
		tail = sched(TN_OP_GET_LOGS, id);
		cr_assert_str_eq(tail, from);
		free(tail);
		tn_buf_free(&all);

		/* pub/sub: every line on titan:logs:<id>, and on
		 * titan:stdout:<id> or titan:stderr:<id> by its stream */
		total = 2 * (nwo + nwe);
		read_pmessages(sub, total, ch, msg);
		snprintf(sch, sizeof(sch), "titan:logs:%s", id);
		check_merge(ch, msg, total, sch, want_o, nwo, want_e, nwe);
		snprintf(sch, sizeof(sch), "titan:stdout:%s", id);
		check_merge(ch, msg, total, sch, want_o, nwo, want_e, 0);
		snprintf(sch, sizeof(sch), "titan:stderr:%s", id);
		check_merge(ch, msg, total, sch, want_o, 0, want_e, nwe);
		redisFree(sub);
		free(id);
	}
}

/* ---- the dashboard's overview follows the workers ---------------------- */

/* Open an SSE stream on the dashboard; the socket. */
static int sse_open(int port, const char *path)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char req[512];

	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n"
		 "Accept: text/event-stream\r\n\r\n", path);
	cr_assert(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
	return fd;
}

/*
 * Read the stream until an overview event holding `needle` arrives, at
 * most timeout_ms; events before it are consumed.  Returns the ms it took
 * or -1.
 */
static long long sse_wait(int fd, struct tn_buf *acc, const char *needle,
			  int timeout_ms)
{
	long long t0 = tn_now_ms(), end = t0 + timeout_ms;

	for (;;) {
		char *ev, *eol;

		tn_buf_append(acc, "", 1);
		acc->len--;
		/* whole events only: "event: overview\ndata: ...\n\n" */
		while ((ev = strstr(acc->data + acc->off, "event: overview\n")) &&
		       (eol = strstr(ev, "\n\n"))) {
			bool hit;

			*eol = '\0';
			hit = strstr(ev, needle) != NULL;
			acc->off = (size_t)(eol + 2 - acc->data);
			if (hit)
				return tn_now_ms() - t0;
		}
		{
			struct pollfd p = { .fd = fd, .events = POLLIN };
			long long left = end - tn_now_ms();
			ssize_t r;

			if (left <= 0 || poll(&p, 1, (int)left) <= 0)
				return -1;
			cr_assert(tn_buf_reserve(acc, 65536) == 0);
			r = read(fd, acc->data + acc->len, 65536);
			cr_assert(r > 0, "the event stream ended");
			acc->len += (size_t)r;
		}
	}
}

/* Wait (bounded) until WORKERS_JSON has `needle`. */
static void workers_wait(const char *needle)
{
	long long end = tn_now_ms() + WAIT_MS;

	for (;;) {
		char *w = sched(TN_OP_WORKERS_JSON, "");
		bool ok = strstr(w, needle) != NULL;

		free(w);
		if (ok)
			return;
		cr_assert(tn_now_ms() < end, "no %s in WORKERS_JSON", needle);
		usleep(10000);
	}
}

/*
 * A worker joining, taking a job and leaving reaches /api/events within
 * the 250 ms coalescing (plus slack for a loaded box), not at the next
 * 5-second refresh.
 */
Test(worker_real, overview_follows_workers)
{
	static const char *const argv[] = { "sleep", "1", NULL };
	struct tn_buf acc = { 0 };
	int fd = sse_open(srv.http_port, "/api/events");
	long long ms;
	char *id, *st;
	int status;

	cr_assert_geq(sse_wait(fd, &acc, "\"workers\":", WAIT_MS), 0,
		      "no first overview event");
	start_worker("--id", "ov1", "--capacity", "1", NULL);
	workers_wait("\"id\":\"ov1\"");
	ms = sse_wait(fd, &acc, "\"id\":\"ov1\"", 1500);
	cr_assert(ms >= 0, "the overview did not show the new worker");

	id = submit(argv, 0);
	wait_running(id);
	ms = sse_wait(fd, &acc, "\"running\":1,\"alive\":true", 1500);
	cr_assert(ms >= 0, "the overview did not show the worker's load");
	st = final_status(id);
	cr_assert_str_eq(st, "COMPLETED");
	ms = sse_wait(fd, &acc, "\"running\":0,\"alive\":true", 1500);
	cr_assert(ms >= 0, "the overview did not show the load going down");

	cr_assert_eq(kill(fk.pid, SIGTERM), 0);
	cr_assert(waitpid(fk.pid, &status, 0) == fk.pid);
	fk.pid = 0;
	ms = sse_wait(fd, &acc, "\"alive\":false", 1500);
	cr_assert(ms >= 0, "the overview did not show the worker leaving");
	free(st);
	free(id);
	tn_buf_free(&acc);
	close(fd);
}
