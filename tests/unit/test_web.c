/*
 * test_web.c - the dashboard module driven over real loopback sockets
 * with a fake data source: routes, auth, keep-alive and pipelining, SSE
 * history then live lines in order, and a slow SSE client dropped at the
 * 1 MiB limit while another keeps receiving every line.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc/http.h"
#include "util/util.h"
#include "workers/web.h"

static int lfd = -1, port, wfd = -1;
static long long fake_finished;

#define WORKERS "[{\"id\":\"w1\",\"host\":\"127.0.0.1\",\"port\":0," \
		"\"capabilities\":[\"GENERAL\"],\"capacity\":4,\"running\":1," \
		"\"alive\":true,\"last_seen_ms\":1}]"
#define DAGS "[{\"id\":\"D-1\",\"state\":\"RUNNING\",\"jobs\":2,\"created_ms\":5}]"
#define DAG1 "{\"id\":\"D-1\",\"state\":\"RUNNING\",\"jobs\":[]," \
	     "\"counts\":{\"RUNNING\":1}}"

static int job_state; /* bumped by tests: changes the JOB_INFO */

static int f_workers(struct tn_buf *b, void *arg)
{
	return tn_buf_append(b, WORKERS, strlen(WORKERS));
}

static int f_dags(struct tn_buf *b, void *arg)
{
	return tn_buf_append(b, DAGS, strlen(DAGS));
}

static int f_dag(const char *id, struct tn_buf *b, void *arg)
{
	if (strcmp(id, "D-1"))
		return -ENOENT;
	return tn_buf_append(b, DAG1, strlen(DAG1));
}

static int f_job(const char *id, struct tn_buf *b, void *arg)
{
	if (strcmp(id, "DAG-j1"))
		return -ENOENT;
	return tn_buf_printf(b, "{\"id\":\"DAG-j1\",\"state\":\"%s\"}",
			     job_state ? "COMPLETED" : "RUNNING");
}

static int f_counts(struct tn_buf *b, void *arg)
{
	return tn_buf_printf(b, "{\"RUNNING\":1}");
}

static int f_log(const char *id, tn_web_emit_fn *emit, void *ctx, void *arg)
{
	if (strcmp(id, "DAG-j1"))
		return -ENOENT;
	emit(ctx, 'o', "line 1", 6);
	emit(ctx, 'e', "line \"2\"\t", 9);
	emit(ctx, 'o', "line 3", 6);
	return 0;
}

static long long f_finished(void *arg)
{
	return fake_finished;
}

static const struct tn_web_source src = {
	.workers = f_workers,
	.dags = f_dags,
	.dag = f_dag,
	.job = f_job,
	.job_counts = f_counts,
	.job_log = f_log,
	.finished = f_finished,
};

static void start(const char *token)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	struct tn_web_opts o = { .token = token };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(lfd >= 0);
	cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(listen(lfd, 2048), 0);
	getsockname(lfd, (struct sockaddr *)&a, &al);
	port = ntohs(a.sin_port);
	wfd = tn_web_init(&lfd, 1, &src, &o);
	cr_assert(wfd >= 0, "tn_web_init: %d", wfd);
}

static void stop(void)
{
	tn_web_shutdown();
	close(lfd);
}

/* Let the module run for up to `ms` (returns at once if it has work). */
static void pump(int ms)
{
	struct pollfd p = { .fd = wfd, .events = POLLIN };

	if (poll(&p, 1, ms) > 0)
		tn_web_on_event();
	tn_web_flush();
}

static int dial(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons((uint16_t)port);
	cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

static void say(int fd, const char *s)
{
	cr_assert_eq(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* Read what is there; returns bytes, 0 on EOF, -1 if nothing yet. */
static ssize_t drain(int fd, struct tn_buf *b)
{
	ssize_t n;

	tn_buf_reserve(b, 65536);
	n = read(fd, b->data + b->len, 65536);
	if (n > 0)
		b->len += (size_t)n;
	return n < 0 ? -1 : n;
}

/* Is a whole response (head + Content-Length body) at b->off? */
static bool head_req; /* the response has no body */

static size_t complete(const struct tn_buf *b)
{
	const char *s = b->data + b->off, *e, *cl;
	size_t n = b->len - b->off, hl;

	if (!b->data)
		return 0;
	e = memmem(s, n, "\r\n\r\n", 4);
	if (!e)
		return 0;
	hl = (size_t)(e - s) + 4;
	cl = memmem(s, hl, "Content-Length: ", 16);
	if (!cl || head_req)
		return hl;
	if (n < hl + strtoul(cl + 16, NULL, 10))
		return 0;
	return hl + strtoul(cl + 16, NULL, 10);
}

/* Next response on fd, NUL-terminated in a malloc'd string. */
static char *response(int fd, struct tn_buf *b)
{
	size_t n;
	char *r;

	for (int i = 0; i < 400 && !(n = complete(b)); i++) {
		pump(5);
		if (drain(fd, b) == 0)
			break;
	}
	n = complete(b);
	cr_assert(n, "no complete response; got %zu bytes", b->len - b->off);
	r = strndup(b->data + b->off, n);
	b->off += n;
	return r;
}

static char *get1(const char *req)
{
	struct tn_buf b = { 0 };
	int fd = dial();
	char *r;

	say(fd, req);
	head_req = !strncmp(req, "HEAD ", 5);
	r = response(fd, &b);
	head_req = false;
	close(fd);
	tn_buf_free(&b);
	return r;
}

static const char *body_of(const char *r)
{
	return strstr(r, "\r\n\r\n") + 4;
}

#define GET(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

Test(web, routes)
{
	char *r;

	start(NULL);
	r = get1(GET("/api/workers"));
	cr_assert(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17), "%s", r);
	cr_assert(strstr(r, "Content-Type: application/json\r\n"));
	cr_assert_str_eq(body_of(r), WORKERS);
	free(r);
	r = get1(GET("/api/dags"));
	cr_assert_str_eq(body_of(r), DAGS);
	free(r);
	r = get1(GET("/api/dags/D-1"));
	cr_assert_str_eq(body_of(r), DAG1);
	free(r);
	r = get1(GET("/api/dags/D-2"));
	cr_assert(!strncmp(r, "HTTP/1.1 404 ", 13));
	cr_assert_str_eq(body_of(r), "{\"error\":\"no such DAG\"}");
	free(r);
	r = get1(GET("/api/jobs/DAG-j1"));
	cr_assert_str_eq(body_of(r), "{\"id\":\"DAG-j1\",\"state\":\"RUNNING\"}");
	free(r);
	r = get1(GET("/api/jobs/DAG-j1/logs"));
	cr_assert_str_eq(body_of(r),
			 "[{\"s\":\"o\",\"l\":\"line 1\"},"
			 "{\"s\":\"e\",\"l\":\"line \\\"2\\\"\\t\"},"
			 "{\"s\":\"o\",\"l\":\"line 3\"}]");
	free(r);
	r = get1(GET("/api/jobs/nope/logs"));
	cr_assert(!strncmp(r, "HTTP/1.1 404 ", 13));
	free(r);
	r = get1(GET("/api/jobs/DAG-j1/nope"));
	cr_assert(!strncmp(r, "HTTP/1.1 404 ", 13));
	free(r);
	r = get1(GET("/api/stats"));
	cr_assert(strstr(body_of(r), "\"counts\":{\"RUNNING\":1}"), "%s", r);
	cr_assert(strstr(body_of(r), "\"rate\":{\"step_s\":5,\"per_s\":[]}"));
	free(r);
	r = get1(GET("/nope"));
	cr_assert(!strncmp(r, "HTTP/1.1 404 ", 13));
	free(r);
	r = get1(GET("/"));
	cr_assert(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17));
	cr_assert(strstr(r, "Content-Type: text/html; charset=utf-8\r\n"));
	cr_assert(strstr(r, "<title>Titan - overview</title>"));
	free(r);
	r = get1(GET("/jobs/DAG-j1"));
	cr_assert(strstr(r, "/static/job.js"));
	free(r);
	r = get1(GET("/dags/D-1"));
	cr_assert(strstr(r, "/static/dag.js"));
	free(r);
	r = get1(GET("/static/app.js"));
	cr_assert(strstr(r, "Content-Type: text/javascript"));
	free(r);
	r = get1(GET("/static/nope.js"));
	cr_assert(!strncmp(r, "HTTP/1.1 404 ", 13));
	free(r);
	r = get1("HEAD /static/style.css HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(!strncmp(r, "HTTP/1.1 200 OK\r\n", 17));
	cr_assert_str_eq(body_of(r), "");
	cr_assert_null(strstr(r, "Content-Length: 0\r\n"));
	free(r);
	r = get1("POST /api/workers HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(!strncmp(r, "HTTP/1.1 405 ", 13));
	cr_assert(strstr(r, "Allow: GET, HEAD\r\n"));
	free(r);
	stop();
}

Test(web, bad_request_closes)
{
	struct tn_buf b = { 0 };
	int fd;
	char *r;

	start(NULL);
	fd = dial();
	say(fd, "GET /../x HTTP/1.1\r\nHost: t\r\n\r\n" GET("/api/dags"));
	r = response(fd, &b);
	cr_assert(!strncmp(r, "HTTP/1.1 400 Bad Request\r\n", 26), "%s", r);
	cr_assert(strstr(r, "Connection: close\r\n"));
	free(r);
	for (int i = 0; i < 200; i++) {
		pump(5);
		if (drain(fd, &b) == 0)
			break;
	}
	cr_assert_eq(b.len, b.off, "nothing after the error");
	cr_assert_eq(read(fd, (char[1]){ 0 }, 1), 0, "closed");
	close(fd);
	tn_buf_free(&b);
	stop();
}

Test(web, auth)
{
	struct tn_buf b = { 0 };
	char *r, cookie[128], req[512];
	const char *c;

	start("s3cret");
	r = get1(GET("/api/workers"));
	cr_assert(!strncmp(r, "HTTP/1.1 401 Unauthorized\r\n", 27), "%s", r);
	cr_assert(strstr(r, "WWW-Authenticate: Bearer realm=\"titan\"\r\n"));
	cr_assert_str_eq(body_of(r), "{\"error\":\"authentication required\"}");
	free(r);
	r = get1("GET /api/workers HTTP/1.1\r\nHost: t\r\n"
		 "Authorization: Bearer s3cre\r\n\r\n");
	cr_assert(!strncmp(r, "HTTP/1.1 401 ", 13));
	free(r);
	r = get1("GET /api/jobs/DAG-j1/events HTTP/1.1\r\nHost: t\r\n\r\n");
	cr_assert(!strncmp(r, "HTTP/1.1 401 ", 13));
	free(r);
	r = get1("GET /api/workers HTTP/1.1\r\nHost: t\r\n"
		 "Authorization: Bearer s3cret\r\n\r\n");
	cr_assert(!strncmp(r, "HTTP/1.1 200 ", 13));
	free(r);
	r = get1(GET("/jobs/DAG-j1"));
	cr_assert(!strncmp(r, "HTTP/1.1 303 See Other\r\n", 24), "%s", r);
	cr_assert(strstr(r, "Location: /login?next=/jobs/DAG-j1\r\n"));
	free(r);
	r = get1(GET("/static/style.css"));
	cr_assert(!strncmp(r, "HTTP/1.1 200 ", 13), "assets are public");
	free(r);
	r = get1(GET("/login"));
	cr_assert(!strncmp(r, "HTTP/1.1 200 ", 13));
	cr_assert(strstr(r, "name=\"token\""));
	free(r);
	r = get1("POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: 12\r\n\r\n"
		 "token=wrong1");
	cr_assert(!strncmp(r, "HTTP/1.1 401 ", 13));
	cr_assert_null(strstr(r, "Set-Cookie"));
	free(r);
	r = get1("POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: 36\r\n\r\n"
		 "token=s3cret&next=%2F%2Fevil.example");
	cr_assert(!strncmp(r, "HTTP/1.1 303 ", 13), "%s", r);
	cr_assert(strstr(r, "\r\nLocation: /\r\n"), "no open redirect");
	free(r);
	r = get1("POST /login HTTP/1.1\r\nHost: t\r\nContent-Length: 34\r\n\r\n"
		 "token=s3cret&next=%2Fjobs%2FDAG-j1");
	cr_assert(!strncmp(r, "HTTP/1.1 303 ", 13), "%s", r);
	cr_assert(strstr(r, "\r\nLocation: /jobs/DAG-j1\r\n"));
	c = strstr(r, "Set-Cookie: " TN_WEB_COOKIE "=");
	cr_assert(c);
	c += strlen("Set-Cookie: " TN_WEB_COOKIE "=");
	cr_assert(strstr(c, "; Path=/; HttpOnly; SameSite=Strict\r\n"));
	snprintf(cookie, sizeof(cookie), "%.32s", c);
	free(r);
	snprintf(req, sizeof(req),
		 "GET /api/workers HTTP/1.1\r\nHost: t\r\nCookie: x=1; "
		 TN_WEB_COOKIE "=%s\r\n\r\n", cookie);
	r = get1(req);
	cr_assert(!strncmp(r, "HTTP/1.1 200 ", 13), "%s", r);
	free(r);
	cookie[0] = cookie[0] == 'a' ? 'b' : 'a';
	snprintf(req, sizeof(req),
		 "GET /api/workers HTTP/1.1\r\nHost: t\r\nCookie: "
		 TN_WEB_COOKIE "=%s\r\n\r\n", cookie);
	r = get1(req);
	cr_assert(!strncmp(r, "HTTP/1.1 401 ", 13), "a forged session");
	free(r);
	tn_buf_free(&b);
	stop();
}

Test(web, keep_alive_and_pipelining)
{
	struct tn_buf b = { 0 };
	struct tn_web_stats st;
	int fd;
	char *r;

	start(NULL);
	fd = dial();
	say(fd, GET("/api/dags"));
	r = response(fd, &b);
	cr_assert(strstr(r, "Connection: keep-alive\r\n"));
	cr_assert_str_eq(body_of(r), DAGS);
	free(r);
	say(fd, GET("/api/workers"));
	r = response(fd, &b);
	cr_assert_str_eq(body_of(r), WORKERS);
	free(r);
	/* Two at once, answered in order. */
	say(fd, GET("/api/dags/D-1") GET("/api/jobs/DAG-j1"));
	r = response(fd, &b);
	cr_assert_str_eq(body_of(r), DAG1);
	free(r);
	r = response(fd, &b);
	cr_assert(strstr(body_of(r), "DAG-j1"));
	free(r);
	tn_web_get_stats(&st);
	cr_assert_eq(st.conns, 1, "one connection for four requests");
	cr_assert_eq(st.requests, 4);
	/* HTTP/1.0 without keep-alive: answered, then closed. */
	say(fd, "GET /api/dags HTTP/1.0\r\n\r\n");
	r = response(fd, &b);
	cr_assert(strstr(r, "Connection: close\r\n"));
	free(r);
	for (int i = 0; i < 200; i++) {
		pump(5);
		if (drain(fd, &b) == 0)
			break;
	}
	cr_assert_eq(read(fd, (char[1]){ 0 }, 1), 0);
	close(fd);
	tn_buf_free(&b);
	stop();
}

/* Read SSE data until `want` "data: " lines came (or time runs out). */
static int sse_wait(int fd, struct tn_buf *b, int want)
{
	int n = 0;

	for (int i = 0; i < 400; i++) {
		const char *p;

		tn_buf_append(b, "", 1);
		b->len--;
		n = 0;
		for (p = b->data; p && (p = strstr(p, "\ndata: ")); p++)
			n++;
		if (n >= want)
			break;
		pump(5);
		drain(fd, b);
	}
	return n;
}

Test(web, sse_history_then_live_in_order)
{
	struct tn_buf b = { 0 };
	const char *body;
	char line[32];
	int fd;

	start(NULL);
	fd = dial();
	say(fd, GET("/api/jobs/DAG-j1/events"));
	cr_assert_eq(sse_wait(fd, &b, 4), 4);
	for (int i = 4; i <= 6; i++) {
		snprintf(line, sizeof(line), "line %d", i);
		tn_web_log_line("DAG-j1", i == 5 ? 'e' : 'o', line,
				strlen(line));
		tn_web_log_line("DAG-other", 'o', "x", 1);
	}
	tn_web_flush();
	cr_assert_eq(sse_wait(fd, &b, 7), 7);
	body = strstr(b.data, "\r\n\r\n");
	cr_assert(body);
	cr_assert(strstr(b.data, "Content-Type: text/event-stream\r\n"));
	cr_assert_str_eq(body + 4,
			 "retry: 2000\n\n"
			 "data: {\"s\":\"o\",\"l\":\"line 1\"}\n\n"
			 "data: {\"s\":\"e\",\"l\":\"line \\\"2\\\"\\t\"}\n\n"
			 "data: {\"s\":\"o\",\"l\":\"line 3\"}\n\n"
			 "event: job\ndata: {\"id\":\"DAG-j1\",\"state\":\"RUNNING\"}\n\n"
			 "data: {\"s\":\"o\",\"l\":\"line 4\"}\n\n"
			 "data: {\"s\":\"e\",\"l\":\"line 5\"}\n\n"
			 "data: {\"s\":\"o\",\"l\":\"line 6\"}\n\n");
	/* A state change is pushed (coalesced, on the timer). */
	job_state = 1;
	tn_web_job_changed("DAG-j1");
	tn_web_job_changed("DAG-j1");
	tn_web_timer(tn_mstime() + 1000);
	cr_assert_eq(sse_wait(fd, &b, 8), 8);
	cr_assert(strstr(b.data, "event: job\ndata: {\"id\":\"DAG-j1\","
				 "\"state\":\"COMPLETED\"}\n\n"));
	cr_assert_eq(sse_wait(fd, &b, 9), 8, "one push for two changes");
	close(fd);
	tn_buf_free(&b);
	/* No such job: a plain 404, no stream. */
	{
		char *r = get1(GET("/api/jobs/nope/events"));

		cr_assert(!strncmp(r, "HTTP/1.1 404 ", 13));
		free(r);
	}
	stop();
}

Test(web, overview_and_dag_streams)
{
	struct tn_buf a = { 0 }, d = { 0 };
	int fa, fd;

	start(NULL);
	fa = dial();
	fd = dial();
	say(fa, GET("/api/events"));
	say(fd, GET("/api/dags/D-1/events"));
	cr_assert_eq(sse_wait(fa, &a, 1), 1);
	cr_assert_eq(sse_wait(fd, &d, 1), 1);
	cr_assert(strstr(a.data, "event: overview\ndata: {\"workers\":" WORKERS
				 ",\"counts\":{\"RUNNING\":1},\"dags\":" DAGS
				 ",\"rate\":{\"step_s\":5,\"per_s\":[]}}\n\n"),
		  "%s", a.data);
	cr_assert(strstr(d.data, "event: dag\ndata: " DAG1 "\n\n"));
	tn_web_dag_changed("D-1");
	fake_finished = 10;
	tn_web_timer(tn_mstime() + TN_WEB_RATE_STEP_S * 1000 + 1000);
	cr_assert_eq(sse_wait(fa, &a, 2), 2);
	cr_assert_eq(sse_wait(fd, &d, 2), 2);
	cr_assert(strstr(a.data, "\"rate\":{\"step_s\":5,\"per_s\":[2]}"),
		  "%s", a.data);
	close(fa);
	close(fd);
	tn_buf_free(&a);
	tn_buf_free(&d);
	stop();
}

Test(web, slow_sse_client_dropped_others_served)
{
	struct tn_buf fast = { 0 }, slow = { 0 };
	struct tn_web_stats st;
	char line[1024];
	int ff, fs, small = 4096, sent = 0, got = 0;
	const char *p;

	start(NULL);
	fs = dial();
	setsockopt(fs, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	ff = dial();
	say(fs, GET("/api/jobs/DAG-j1/events"));
	say(ff, GET("/api/jobs/DAG-j1/events"));
	cr_assert_eq(sse_wait(fs, &slow, 4), 4);
	cr_assert_eq(sse_wait(ff, &fast, 4), 4);
	fast.len = fast.off = 0;
	memset(line, 'x', sizeof(line));
	/* The slow one stops reading; push until it is dropped (it needs
	 * 1 MiB queued past what the kernel buffers). */
	for (sent = 0; sent < 64 * 1024; sent++) {
		tn_web_log_line("DAG-j1", 'o', line, sizeof(line));
		pump(0);
		while (drain(ff, &fast) > 0)
			;
		tn_web_get_stats(&st);
		if (st.sse_dropped)
			break;
	}
	cr_assert_eq(st.sse_dropped, 1, "dropped after %d lines", sent);
	cr_assert_eq(st.sse_clients, 1);
	cr_assert_gt(sent, 1024, "not before 1 MiB (%d lines)", sent);
	/* The fast one keeps getting every line, before and after. */
	for (int i = 0; i < 100; i++) {
		tn_web_log_line("DAG-j1", 'o', "after", 5);
		sent++;
	}
	tn_web_flush();
	sent++; /* the one that caused the drop went to the fast one too */
	for (int i = 0; i < 400; i++) {
		got = 0;
		tn_buf_append(&fast, "", 1);
		fast.len--;
		for (p = fast.data; (p = strstr(p, "data: {")); p++)
			got++;
		if (got >= sent)
			break;
		pump(5);
		drain(ff, &fast);
	}
	cr_assert_eq(got, sent);
	cr_assert(strstr(fast.data, "\"l\":\"after\"}\n\n"));
	close(ff);
	close(fs);
	tn_buf_free(&fast);
	tn_buf_free(&slow);
	stop();
}

Test(web, many_sse_clients_get_every_line)
{
	enum { N = 300, LINES = 40 };
	static int fds[N];
	static struct tn_buf bufs[N];
	struct tn_web_stats st;
	char line[64];

	start(NULL);
	for (int i = 0; i < N; i++) {
		fds[i] = dial();
		say(fds[i], GET("/api/jobs/DAG-j1/events"));
	}
	for (int k = 0; k < 200; k++) {
		tn_web_get_stats(&st);
		if (st.sse_clients == N)
			break;
		pump(5);
	}
	cr_assert_eq(st.sse_clients, N);
	for (int l = 0; l < LINES; l++) {
		snprintf(line, sizeof(line), "live %d", l);
		tn_web_log_line("DAG-j1", 'o', line, strlen(line));
		tn_web_flush();
	}
	for (int i = 0; i < N; i++) {
		char want[64];

		cr_assert_eq(sse_wait(fds[i], &bufs[i], 4 + LINES), 4 + LINES,
			     "client %d", i);
		snprintf(want, sizeof(want), "\"live %d\"", LINES - 1);
		cr_assert(strstr(bufs[i].data, want));
		close(fds[i]);
		tn_buf_free(&bufs[i]);
	}
	stop();
}

Test(web, timeouts)
{
	struct tn_buf b = { 0 };
	struct tn_web_stats st;
	int fp, fi;
	char *r;

	start(NULL);
	fp = dial();
	fi = dial();
	say(fp, "GET / HT");
	for (int k = 0; k < 200; k++) {
		tn_web_get_stats(&st);
		if (st.conns == 2)
			break;
		pump(5);
	}
	pump(5);
	cr_assert_eq(st.conns, 2);
	tn_web_timer(tn_mstime() + TN_WEB_IDLE_MS + 1000);
	r = response(fp, &b);
	cr_assert(!strncmp(r, "HTTP/1.1 408 ", 13), "%s", r);
	free(r);
	tn_web_get_stats(&st);
	cr_assert_eq(st.conns, 1, "the idle one is closed, the slow one "
				  "gets its 408");
	cr_assert_eq(read(fi, (char[1]){ 0 }, 1), 0);
	close(fp);
	close(fi);
	tn_buf_free(&b);
	stop();
}
