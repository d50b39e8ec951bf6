/*
 * web.c - the dashboard server inside the scheduler's loop: non-blocking
 * connections in an epoll set of their own (the host watches one fd),
 * routing, built-in pages, the JSON API and Server-Sent Events fan-out.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipc/http.h"
#include "util/util.h"
#include "workers/web.h"

#define WEB_READ_CHUNK 16384
#define WEB_HTTP_OUT_PAUSE (256 * 1024) /* stop parsing past this backlog */
#define WEB_LINGER_MS 2000
#define WEB_SCAN_MS 1000
#define WEB_NBUCKETS 1024 /* subscription hash (power of two) */
#define WEB_SESSIONS 64
#define WEB_SESSION_MS (24LL * 3600 * 1000)
#define WEB_ID_MAX 256

enum wkind {
	C_LISTEN,
	C_HTTP,
	C_SSE_JOB,
	C_SSE_DAG,
	C_SSE_ALL,
	C_LINGER, /* error sent, write side shut: drain until EOF */
};

struct wconn {
	int fd;
	int kind;
	bool dead;
	bool want_close; /* close (lingering) once out is written */
	bool on_flush;
	bool on_dirty;
	bool blocked; /* waiting for EPOLLOUT */
	bool paused;  /* stopped parsing until its backlog is written */
	uint32_t events; /* registered with epoll */
	struct tn_buf in, out;
	struct tn_http_req *req;
	char *sub; /* SSE: the job or DAG id */
	unsigned bucket;
	int64_t deadline; /* ms; 0 none */
	int64_t next_ping;
	struct wconn *hnext, *hprev; /* subscription chain */
	struct wconn *next, *prev;   /* all connections */
	struct wconn *fnext;	     /* flush list */
	struct wconn *dnext;	     /* dirty list */
	struct wconn *gnext;	     /* graveyard */
};

struct wsession {
	char id[33];
	int64_t expires_ms;
};

static struct {
	bool up;
	int epfd;
	struct tn_web_source src;
	char token[256];
	size_t sse_max;
	int max_conns;
	struct wconn *listeners;
	int nlisten;
	struct wconn *all;
	struct wconn *flush, *dirty, *grave;
	struct wconn *bucket[WEB_NBUCKETS];
	bool overview_dirty;
	int64_t next_push, next_scan, next_sample;
	long long last_finished;
	double rate[TN_WEB_RATE_SAMPLES];
	int rate_head, rate_n;
	struct wsession sess[WEB_SESSIONS];
	struct tn_web_stats st;
} W;

static void conn_close(struct wconn *c);

/* ------------------------------------------------------------------ */
/* JSON and SSE framing                                                 */
/* ------------------------------------------------------------------ */

static void json_str(struct tn_buf *b, const char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, run = 0;

	tn_buf_append(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		char esc[7];

		if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7f)
			continue;
		tn_buf_append(b, p + run, i - run);
		run = i + 1;
		esc[0] = '\\';
		if (c == '"' || c == '\\') {
			esc[1] = (char)c;
			tn_buf_append(b, esc, 2);
		} else if (c == '\n' || c == '\t' || c == '\r') {
			esc[1] = c == '\n' ? 'n' : c == '\t' ? 't' : 'r';
			tn_buf_append(b, esc, 2);
		} else {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			tn_buf_append(b, esc, 6);
		}
	}
	tn_buf_append(b, p + run, n - run);
	tn_buf_append(b, "\"", 1);
}

/* One log line as the JSON the pages read: {"s":"o","l":"..."}. */
static void json_logline(struct tn_buf *b, char stream, const char *line,
			 size_t len)
{
	tn_buf_printf(b, "{\"s\":\"%c\",\"l\":", stream == 'e' ? 'e' : 'o');
	json_str(b, line, len);
	tn_buf_append(b, "}", 1);
}

/* An SSE event whose data is one line of JSON (no CR or LF in it). */
static void sse_event(struct tn_buf *out, const char *event, const char *p,
		      size_t n)
{
	if (event)
		tn_buf_printf(out, "event: %s\n", event);
	tn_buf_append(out, "data: ", 6);
	tn_buf_append(out, p, n);
	tn_buf_append(out, "\n\n", 2);
}

/* ------------------------------------------------------------------ */
/* Connections                                                          */
/* ------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	return tn_mstime();
}

static void conn_events(struct wconn *c)
{
	struct epoll_event ev = { 0 };
	uint32_t want = 0;

	if (c->dead)
		return;
	if (c->blocked)
		want |= EPOLLOUT;
	/* An HTTP connection with a backlog reads nothing more until it
	 * drains, so a pipelining client cannot grow our buffers. */
	if (!(c->kind == C_HTTP && tn_buf_pending(&c->out) > WEB_HTTP_OUT_PAUSE))
		want |= EPOLLIN;
	if (want == c->events)
		return;
	ev.events = want;
	ev.data.ptr = c;
	if (epoll_ctl(W.epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->events = want;
}

static void flush_later(struct wconn *c)
{
	if (c->on_flush || c->dead || c->blocked)
		return;
	c->on_flush = true;
	c->fnext = W.flush;
	W.flush = c;
}

static void dirty_later(struct wconn *c)
{
	if (c->on_dirty || c->dead)
		return;
	c->on_dirty = true;
	c->dnext = W.dirty;
	W.dirty = c;
}

static unsigned hash_sub(int kind, const char *id)
{
	uint32_t h = 2166136261u ^ (uint32_t)kind;

	while (*id)
		h = (h ^ (unsigned char)*id++) * 16777619u;
	return h & (WEB_NBUCKETS - 1);
}

static void sub_add(struct wconn *c)
{
	c->bucket = hash_sub(c->kind, c->sub);
	c->hprev = NULL;
	c->hnext = W.bucket[c->bucket];
	if (c->hnext)
		c->hnext->hprev = c;
	W.bucket[c->bucket] = c;
	W.st.sse_clients++;
}

static void sub_del(struct wconn *c)
{
	if (c->hprev)
		c->hprev->hnext = c->hnext;
	else
		W.bucket[c->bucket] = c->hnext;
	if (c->hnext)
		c->hnext->hprev = c->hprev;
	W.st.sse_clients--;
}

static bool is_sse(const struct wconn *c)
{
	return c->kind == C_SSE_JOB || c->kind == C_SSE_DAG ||
	       c->kind == C_SSE_ALL;
}

static void conn_close(struct wconn *c)
{
	if (c->dead)
		return;
	if (is_sse(c))
		sub_del(c);
	c->dead = true;
	epoll_ctl(W.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		W.all = c->next;
	if (c->next)
		c->next->prev = c->prev;
	W.st.conns--;
	/* Freed by reap(), once no list of this turn can still hold it. */
	c->gnext = W.grave;
	W.grave = c;
}

static void reap(void)
{
	while (W.grave) {
		struct wconn *c = W.grave;

		W.grave = c->gnext;
		tn_buf_free(&c->in);
		tn_buf_free(&c->out);
		if (c->req) {
			tn_http_req_free(c->req);
			free(c->req);
		}
		free(c->sub);
		free(c);
	}
}

/* After an error reply: stop writing, read what the client still sends
 * so the reply is not lost to a reset, then close. */
static void conn_linger(struct wconn *c)
{
	if (is_sse(c))
		sub_del(c);
	c->kind = C_LINGER;
	shutdown(c->fd, SHUT_WR);
	c->deadline = now_ms() + WEB_LINGER_MS;
	conn_events(c);
}

static void process_input(struct wconn *c);

/* Write what is queued.  Returns false if the connection was closed. */
static bool conn_write(struct wconn *c)
{
	while (tn_buf_pending(&c->out)) {
		ssize_t n = send(c->fd, c->out.data + c->out.off,
				 tn_buf_pending(&c->out),
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			c->blocked = true;
			conn_events(c);
			return true;
		}
		if (n <= 0) {
			conn_close(c);
			return false;
		}
		c->out.off += (size_t)n;
	}
	c->out.off = c->out.len = 0;
	if (c->out.cap > 64 * 1024) {
		tn_buf_free(&c->out);
	}
	c->blocked = false;
	if (c->want_close) {
		c->want_close = false;
		conn_linger(c);
		return true;
	}
	conn_events(c);
	return true;
}

/* Queue SSE bytes; a client that cannot keep up is dropped. */
static void sse_queued(struct wconn *c)
{
	if (tn_buf_pending(&c->out) > W.sse_max) {
		tn_notice("dashboard: dropping an event-stream client (fd %d) "
			  "%zu bytes behind; it may reconnect",
			  c->fd, tn_buf_pending(&c->out));
		W.st.sse_dropped++;
		conn_close(c);
		return;
	}
	flush_later(c);
}

static void conn_accept(struct wconn *l)
{
	int i;

	for (i = 0; i < 64; i++) {
		struct epoll_event ev = { 0 };
		struct wconn *c;
		int fd = accept4(l->fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				tn_warn("dashboard: accept failed: %s; "
					"check the open file limit (ulimit -n)",
					strerror(errno));
			return;
		}
		if (W.st.conns >= W.max_conns) {
			static const char busy[] =
				"HTTP/1.1 503 Service Unavailable\r\n"
				"Content-Length: 0\r\nConnection: close\r\n\r\n";

			if (send(fd, busy, sizeof(busy) - 1,
				 MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
				/* Closing is all that is left to do. */
			}
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (c)
			c->req = calloc(1, sizeof(*c->req));
		if (!c || !c->req) {
			free(c);
			close(fd);
			tn_warn("dashboard: out of memory accepting a connection");
			return;
		}
		tn_http_req_reset(c->req);
		c->fd = fd;
		c->kind = C_HTTP;
		c->deadline = now_ms() + TN_WEB_HEADER_MS;
		ev.events = c->events = EPOLLIN;
		ev.data.ptr = c;
		if (epoll_ctl(W.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c->req);
			free(c);
			continue;
		}
		c->next = W.all;
		if (W.all)
			W.all->prev = c;
		W.all = c;
		W.st.conns++;
	}
}

/* ------------------------------------------------------------------ */
/* Auth                                                                 */
/* ------------------------------------------------------------------ */

static bool ct_equal(const char *a, size_t an, const char *b, size_t bn)
{
	unsigned char d = an != bn;
	size_t i;

	for (i = 0; i < an && i < bn; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static bool session_valid(const char *v, size_t n)
{
	int64_t now = now_ms();
	int i;

	for (i = 0; i < WEB_SESSIONS; i++)
		if (W.sess[i].expires_ms > now &&
		    ct_equal(W.sess[i].id, strlen(W.sess[i].id), v, n))
			return true;
	return false;
}

static int session_new(char id[33])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[16];
	int i, slot = 0;

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -EIO;
	for (i = 0; i < 16; i++) {
		id[2 * i] = hex[r[i] >> 4];
		id[2 * i + 1] = hex[r[i] & 15];
	}
	id[32] = '\0';
	/* The oldest slot goes: a bounded table, logins past it re-login. */
	for (i = 1; i < WEB_SESSIONS; i++)
		if (W.sess[i].expires_ms < W.sess[slot].expires_ms)
			slot = i;
	memcpy(W.sess[slot].id, id, 33);
	W.sess[slot].expires_ms = now_ms() + WEB_SESSION_MS;
	return 0;
}

static bool authorized(const struct tn_http_req *req)
{
	const char *v;
	size_t n;

	if (!W.token[0])
		return true;
	v = tn_http_header(req, "Authorization", &n);
	if (v && n > 7 && !strncasecmp(v, "Bearer ", 7) &&
	    ct_equal(v + 7, n - 7, W.token, strlen(W.token)))
		return true;
	v = tn_http_cookie(req, TN_WEB_COOKIE, &n);
	return v && session_valid(v, n);
}

/* ------------------------------------------------------------------ */
/* Responses                                                            */
/* ------------------------------------------------------------------ */

#define SEC_HEADERS                                                       \
	"Cache-Control: no-cache\r\n"                                     \
	"X-Content-Type-Options: nosniff\r\n"                             \
	"Content-Security-Policy: default-src 'self'; "                   \
	"frame-ancestors 'none'\r\n"

static void respond(struct wconn *c, const struct tn_http_req *req,
		    int status, const char *ctype, const void *body,
		    size_t len, const char *extra)
{
	char hdrs[1024];

	snprintf(hdrs, sizeof(hdrs), "%s%s", SEC_HEADERS, extra ? extra : "");
	if (tn_http_respond(&c->out, status, ctype, body, len,
			    req->keep_alive, req->method == TN_HTTP_HEAD,
			    hdrs) < 0)
		conn_close(c);
	else if (!req->keep_alive)
		c->want_close = true;
}

static void respond_json(struct wconn *c, const struct tn_http_req *req,
			 int status, const struct tn_buf *b)
{
	respond(c, req, status, "application/json", b->data, b->len, NULL);
}

static void respond_error(struct wconn *c, const struct tn_http_req *req,
			  int status, const char *msg)
{
	struct tn_buf b = { 0 };

	tn_buf_append(&b, "{\"error\":", 9);
	json_str(&b, msg, strlen(msg));
	tn_buf_append(&b, "}", 1);
	respond(c, req, status, "application/json", b.data, b.len,
		status == 401 ? "WWW-Authenticate: Bearer realm=\"titan\"\r\n"
			      : NULL);
	tn_buf_free(&b);
}

static const struct tn_web_asset *asset_find(const char *name)
{
	const struct tn_web_asset *a;

	for (a = tn_web_assets; a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

static void respond_asset(struct wconn *c, const struct tn_http_req *req,
			  int status, const char *name)
{
	const struct tn_web_asset *a = asset_find(name);

	if (!a) {
		respond_error(c, req, 404, "no such file");
		return;
	}
	respond(c, req, status, a->ctype, a->data, a->len, NULL);
}

/* A page asked for without credentials: off to the login form. */
static void redirect_login(struct wconn *c, const struct tn_http_req *req)
{
	static const char hex[] = "0123456789ABCDEF";
	char loc[600];
	const char *p;
	size_t o;

	o = (size_t)snprintf(loc, sizeof(loc), "Location: /login?next=");
	for (p = req->path; *p && o + 8 < sizeof(loc); p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("/-_.~", ch)) {
			loc[o++] = (char)ch;
		} else {
			loc[o++] = '%';
			loc[o++] = hex[ch >> 4];
			loc[o++] = hex[ch & 15];
		}
	}
	memcpy(loc + o, "\r\n", 3);
	respond(c, req, 303, "text/plain; charset=utf-8", "login\n", 6, loc);
}

static void do_login(struct wconn *c, const struct tn_http_req *req)
{
	char tok[512], next[512], extra[768], id[33];
	int n;

	n = tn_http_form_get(req->body, req->body_len, "token", tok,
			     sizeof(tok));
	if (n < 0 || !W.token[0] ||
	    !ct_equal(tok, (size_t)n, W.token, strlen(W.token))) {
		if (W.token[0])
			tn_notice("dashboard: login with a wrong token");
		respond_asset(c, req, W.token[0] ? 401 : 404, "login.html");
		return;
	}
	/* Only a local path: no open redirect to another site. */
	if (tn_http_form_get(req->body, req->body_len, "next", next,
			     sizeof(next)) < 0 ||
	    next[0] != '/' || next[1] == '/' || next[1] == '\\' ||
	    strpbrk(next, "\r\n"))
		strcpy(next, "/");
	if (session_new(id) < 0) {
		respond_error(c, req, 500, "cannot make a session id");
		return;
	}
	snprintf(extra, sizeof(extra),
		 "Location: %s\r\nSet-Cookie: " TN_WEB_COOKIE
		 "=%s; Path=/; HttpOnly; SameSite=Strict\r\n",
		 next, id);
	respond(c, req, 303, "text/plain; charset=utf-8", "ok\n", 3, extra);
}

/* ------------------------------------------------------------------ */
/* API                                                                  */
/* ------------------------------------------------------------------ */

static void emit_json_line(void *ctx, char stream, const char *line,
			   size_t len)
{
	struct tn_buf *b = ctx;

	if (b->len > 1)
		tn_buf_append(b, ",", 1);
	json_logline(b, stream, line, len);
}

static void rate_json(struct tn_buf *b)
{
	int i;

	tn_buf_printf(b, "{\"step_s\":%d,\"per_s\":[", TN_WEB_RATE_STEP_S);
	for (i = 0; i < W.rate_n; i++) {
		int k = (W.rate_head - W.rate_n + i + TN_WEB_RATE_SAMPLES) %
			TN_WEB_RATE_SAMPLES;

		tn_buf_printf(b, "%s%.3g", i ? "," : "", W.rate[k]);
	}
	tn_buf_append(b, "]}", 2);
}

/* Append one callback's JSON, or `dflt` when it has none. */
static void src_json(struct tn_buf *b, int (*fn)(struct tn_buf *, void *),
		     const char *dflt)
{
	size_t mark = b->len;

	if (!fn || fn(b, W.src.arg) < 0) {
		b->len = mark;
		tn_buf_append(b, dflt, strlen(dflt));
	}
}

static void overview_json(struct tn_buf *b)
{
	tn_buf_append(b, "{\"workers\":", 11);
	src_json(b, W.src.workers, "[]");
	tn_buf_append(b, ",\"counts\":", 10);
	src_json(b, W.src.job_counts, "{}");
	tn_buf_append(b, ",\"dags\":", 8);
	src_json(b, W.src.dags, "[]");
	tn_buf_append(b, ",\"rate\":", 8);
	rate_json(b);
	tn_buf_append(b, "}", 1);
}

/* A job's or DAG's JSON; 404/500 status on failure. */
static int one_json(int (*fn)(const char *, struct tn_buf *, void *),
		    const char *id, struct tn_buf *b)
{
	int rc;

	if (!fn)
		return 404;
	rc = fn(id, b, W.src.arg);
	if (rc == -ENOENT)
		return 404;
	return rc < 0 ? 500 : 200;
}

static void start_sse(struct wconn *c, const struct tn_http_req *req,
		      int kind, const char *id)
{
	char *sub = strdup(id);

	if (!sub) {
		respond_error(c, req, 500, "out of memory");
		return;
	}
	if (tn_http_head(&c->out, 200, "text/event-stream", -1, false,
			 SEC_HEADERS "X-Accel-Buffering: no\r\n") < 0) {
		free(sub);
		conn_close(c);
		return;
	}
	if (req->method == TN_HTTP_HEAD) {
		free(sub);
		c->want_close = true;
		return;
	}
	tn_buf_append(&c->out, "retry: 2000\n\n", 13);
	c->kind = kind;
	c->sub = sub;
	c->deadline = 0;
	c->next_ping = now_ms() + TN_WEB_SSE_PING_MS;
	sub_add(c);
}

/* History lines of a job stream, in the same frames as live ones. */
static void sse_emit(void *ctx, char stream, const char *line, size_t len)
{
	struct wconn *c = ctx;

	tn_buf_append(&c->out, "data: ", 6);
	json_logline(&c->out, stream, line, len);
	tn_buf_append(&c->out, "\n\n", 2);
}

/* "/prefix/<id>" or "/prefix/<id>/<tail>": the id, or NULL. */
static const char *path_id(const char *path, const char *prefix,
			   const char *tail, char *id, size_t idlen)
{
	size_t pl = strlen(prefix), n;
	const char *s, *slash;

	if (strncmp(path, prefix, pl))
		return NULL;
	s = path + pl;
	slash = strchr(s, '/');
	if (tail) {
		if (!slash || strcmp(slash + 1, tail))
			return NULL;
		n = (size_t)(slash - s);
	} else {
		if (slash)
			return NULL;
		n = strlen(s);
	}
	if (n == 0 || n >= idlen)
		return NULL;
	memcpy(id, s, n);
	id[n] = '\0';
	return id;
}

static void route(struct wconn *c, const struct tn_http_req *req)
{
	const char *p = req->path;
	struct tn_buf b = { 0 };
	char id[WEB_ID_MAX];
	int st;

	W.st.requests++;
	if (!strcmp(p, "/login")) {
		if (req->method == TN_HTTP_POST)
			do_login(c, req);
		else
			respond_asset(c, req, 200, "login.html");
		return;
	}
	if (req->method == TN_HTTP_POST) {
		respond(c, req, 405, "text/plain; charset=utf-8", "405\n", 4,
			"Allow: GET, HEAD\r\n");
		return;
	}
	if (!strncmp(p, "/static/", 8)) {
		respond_asset(c, req, 200, p + 8);
		return;
	}
	if (!authorized(req)) {
		if (!strncmp(p, "/api/", 5))
			respond_error(c, req, 401, "authentication required");
		else
			redirect_login(c, req);
		return;
	}
	if (!strcmp(p, "/") || !strcmp(p, "/index.html")) {
		respond_asset(c, req, 200, "index.html");
	} else if (path_id(p, "/dags/", NULL, id, sizeof(id))) {
		respond_asset(c, req, 200, "dag.html");
	} else if (path_id(p, "/jobs/", NULL, id, sizeof(id))) {
		respond_asset(c, req, 200, "job.html");
	} else if (!strcmp(p, "/api/workers")) {
		src_json(&b, W.src.workers, "[]");
		respond_json(c, req, 200, &b);
	} else if (!strcmp(p, "/api/dags")) {
		src_json(&b, W.src.dags, "[]");
		respond_json(c, req, 200, &b);
	} else if (!strcmp(p, "/api/stats")) {
		overview_json(&b);
		respond_json(c, req, 200, &b);
	} else if (!strcmp(p, "/api/events")) {
		start_sse(c, req, C_SSE_ALL, "");
		if (c->kind == C_SSE_ALL) {
			overview_json(&b);
			sse_event(&c->out, "overview", b.data, b.len);
		}
	} else if (path_id(p, "/api/dags/", NULL, id, sizeof(id))) {
		st = one_json(W.src.dag, id, &b);
		if (st == 200)
			respond_json(c, req, 200, &b);
		else
			respond_error(c, req, st, st == 404 ? "no such DAG"
							    : "cannot read DAG");
	} else if (path_id(p, "/api/dags/", "events", id, sizeof(id))) {
		st = one_json(W.src.dag, id, &b);
		if (st != 200) {
			respond_error(c, req, st, "no such DAG");
		} else {
			start_sse(c, req, C_SSE_DAG, id);
			if (c->kind == C_SSE_DAG)
				sse_event(&c->out, "dag", b.data, b.len);
		}
	} else if (path_id(p, "/api/jobs/", NULL, id, sizeof(id))) {
		st = one_json(W.src.job, id, &b);
		if (st == 200)
			respond_json(c, req, 200, &b);
		else
			respond_error(c, req, st, st == 404 ? "no such job"
							    : "cannot read job");
	} else if (path_id(p, "/api/jobs/", "logs", id, sizeof(id))) {
		tn_buf_append(&b, "[", 1);
		st = W.src.job_log ? W.src.job_log(id, emit_json_line, &b,
						   W.src.arg)
				   : -ENOENT;
		tn_buf_append(&b, "]", 1);
		if (st == 0)
			respond_json(c, req, 200, &b);
		else
			respond_error(c, req, st == -ENOENT ? 404 : 500,
				      "no such job");
	} else if (path_id(p, "/api/jobs/", "events", id, sizeof(id))) {
		st = one_json(W.src.job, id, &b);
		if (st != 200) {
			respond_error(c, req, st, "no such job");
		} else {
			/* History, then the state: a page that stops
			 * listening once the job is over has every line. */
			start_sse(c, req, C_SSE_JOB, id);
			if (c->kind == C_SSE_JOB) {
				if (W.src.job_log)
					W.src.job_log(id, sse_emit, c,
						      W.src.arg);
				sse_event(&c->out, "job", b.data, b.len);
			}
		}
	} else if (!strncmp(p, "/api/", 5)) {
		respond_error(c, req, 404, "no such endpoint");
	} else {
		respond(c, req, 404, "text/plain; charset=utf-8",
			"404 Not Found\n", 14, NULL);
	}
	tn_buf_free(&b);
}

static void process_input(struct wconn *c)
{
	int rc;

	c->paused = false;
	while (!c->dead && c->kind == C_HTTP && !c->want_close) {
		if (tn_buf_pending(&c->out) > WEB_HTTP_OUT_PAUSE) {
			c->paused = true;
			break;
		}
		rc = tn_http_parse(c->req, &c->in);
		if (rc == TN_HTTP_MORE)
			break;
		if (rc == TN_HTTP_ERROR) {
			tn_verbose("dashboard: bad request on fd %d: %d %s",
				   c->fd, c->req->status,
				   tn_http_reason(c->req->status));
			tn_http_error(&c->out, c->req->status);
			c->want_close = true;
			break;
		}
		route(c, c->req);
		tn_http_req_reset(c->req);
		if (c->dead)
			return;
		c->deadline = now_ms() + (tn_buf_pending(&c->in)
						  ? TN_WEB_HEADER_MS
						  : TN_WEB_IDLE_MS);
		if (is_sse(c)) {
			/* The request struct is of no more use. */
			tn_http_req_free(c->req);
			free(c->req);
			c->req = NULL;
			tn_buf_free(&c->in);
			if (tn_buf_pending(&c->out) > W.sse_max) {
				sse_queued(c);
				return;
			}
		}
	}
	if (!c->dead) {
		tn_buf_compact(&c->in);
		if (tn_buf_pending(&c->out))
			flush_later(c);
		conn_events(c);
	}
}

static void conn_read(struct wconn *c)
{
	char junk[4096];
	ssize_t n;

	if (c->kind != C_HTTP) {
		/* SSE and lingering: input means nothing, only EOF does. */
		n = recv(c->fd, junk, sizeof(junk), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			conn_close(c);
		return;
	}
	if (tn_buf_reserve(&c->in, WEB_READ_CHUNK) < 0) {
		conn_close(c);
		return;
	}
	n = recv(c->fd, c->in.data + c->in.len, WEB_READ_CHUNK, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->in.len += (size_t)n;
	process_input(c);
}

/* ------------------------------------------------------------------ */
/* Host-facing entry points                                             */
/* ------------------------------------------------------------------ */

int tn_web_init(const int *fds, int n, const struct tn_web_source *src,
		const struct tn_web_opts *opt)
{
	int i;

	if (W.up)
		return -EALREADY;
	memset(&W, 0, sizeof(W));
	W.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (W.epfd < 0)
		return -errno;
	W.src = *src;
	if (opt && opt->token)
		snprintf(W.token, sizeof(W.token), "%s", opt->token);
	W.sse_max = opt && opt->sse_max_buffer ? opt->sse_max_buffer
					       : TN_WEB_SSE_MAX_BUFFER;
	W.max_conns = opt && opt->max_conns ? opt->max_conns
					    : TN_WEB_MAX_CONNS;
	W.listeners = calloc((size_t)(n > 0 ? n : 1), sizeof(*W.listeners));
	if (!W.listeners) {
		close(W.epfd);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct epoll_event ev = { 0 };
		struct wconn *l = &W.listeners[i];
		int fl = fcntl(fds[i], F_GETFL);

		l->fd = fds[i];
		l->kind = C_LISTEN;
		if (fl < 0 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) < 0)
			goto fail;
		ev.events = EPOLLIN;
		ev.data.ptr = l;
		if (epoll_ctl(W.epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			goto fail;
	}
	W.nlisten = n;
	W.next_scan = now_ms() + WEB_SCAN_MS;
	W.next_sample = now_ms() + TN_WEB_RATE_STEP_S * 1000;
	W.last_finished = W.src.finished ? W.src.finished(W.src.arg) : 0;
	W.up = true;
	return W.epfd;
fail:
	i = -errno;
	free(W.listeners);
	close(W.epfd);
	memset(&W, 0, sizeof(W));
	return i;
}

void tn_web_flush(void)
{
	while (W.flush) {
		struct wconn *c = W.flush;

		W.flush = c->fnext;
		c->on_flush = false;
		if (c->dead || c->blocked)
			continue;
		if (conn_write(c) && !c->dead && c->paused && !c->blocked)
			process_input(c); /* pipelined requests that waited */
	}
	reap();
}

void tn_web_on_event(void)
{
	struct epoll_event ev[64];
	int n, i;

	if (!W.up)
		return;
	n = epoll_wait(W.epfd, ev, 64, 0);
	for (i = 0; i < n; i++) {
		struct wconn *c = ev[i].data.ptr;

		if (c->kind == C_LISTEN) {
			conn_accept(c);
			continue;
		}
		if (c->dead)
			continue;
		if (ev[i].events & EPOLLOUT) {
			c->blocked = false;
			flush_later(c);
		}
		if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
			conn_read(c);
	}
	tn_web_flush();
}

/* Push coalesced state changes to the streams that asked for them. */
static void push_dirty(void)
{
	struct tn_buf b = { 0 };
	struct wconn *c, *nx;
	unsigned i;

	if (W.overview_dirty) {
		W.overview_dirty = false;
		overview_json(&b);
		for (i = 0; i < WEB_NBUCKETS; i++)
			for (c = W.bucket[i]; c; c = nx) {
				nx = c->hnext;
				if (c->kind != C_SSE_ALL)
					continue;
				sse_event(&c->out, "overview", b.data, b.len);
				sse_queued(c);
			}
	}
	while (W.dirty) {
		int (*fn)(const char *, struct tn_buf *, void *);
		const char *ev;

		c = W.dirty;
		W.dirty = c->dnext;
		c->on_dirty = false;
		if (c->dead)
			continue;
		fn = c->kind == C_SSE_JOB ? W.src.job : W.src.dag;
		ev = c->kind == C_SSE_JOB ? "job" : "dag";
		b.len = 0;
		if (fn && fn(c->sub, &b, W.src.arg) == 0) {
			sse_event(&c->out, ev, b.data, b.len);
			sse_queued(c);
		}
	}
	tn_buf_free(&b);
}

static void sample_rate(int64_t now)
{
	long long fin;

	if (!W.src.finished)
		return;
	fin = W.src.finished(W.src.arg);
	W.rate[W.rate_head] = (double)(fin - W.last_finished) /
			      TN_WEB_RATE_STEP_S;
	W.rate_head = (W.rate_head + 1) % TN_WEB_RATE_SAMPLES;
	if (W.rate_n < TN_WEB_RATE_SAMPLES)
		W.rate_n++;
	W.last_finished = fin;
	W.overview_dirty = true;
	(void)now;
}

int64_t tn_web_timer(int64_t now)
{
	int64_t next;

	if (!W.up)
		return -1;
	if (now >= W.next_sample) {
		sample_rate(now);
		W.next_sample = now + TN_WEB_RATE_STEP_S * 1000;
	}
	if ((W.overview_dirty || W.dirty) && now >= W.next_push) {
		push_dirty();
		W.next_push = now + TN_WEB_PUSH_MS;
	}
	if (now >= W.next_scan) {
		struct wconn *c, *nx;

		for (c = W.all; c; c = nx) {
			nx = c->next;
			if (c->deadline && now >= c->deadline) {
				if (c->kind == C_HTTP && !tn_buf_pending(&c->out) &&
				    tn_buf_pending(&c->in)) {
					/* A request begun and never finished. */
					tn_http_error(&c->out, 408);
					c->want_close = true;
					c->deadline = now + WEB_LINGER_MS;
					flush_later(c);
				} else {
					conn_close(c);
				}
			} else if (is_sse(c) && now >= c->next_ping) {
				tn_buf_append(&c->out, ": ping\n\n", 8);
				c->next_ping = now + TN_WEB_SSE_PING_MS;
				sse_queued(c);
			}
		}
		W.next_scan = now + WEB_SCAN_MS;
	}
	tn_web_flush();
	next = TN_MIN(W.next_scan, W.next_sample);
	if (W.overview_dirty || W.dirty)
		next = TN_MIN(next, W.next_push);
	return next;
}

int tn_web_tick(void)
{
	int64_t now = now_ms(), next;

	if (!W.up)
		return -1;
	next = tn_web_timer(now);
	return (int)TN_MAX(0, TN_MIN(next - now, WEB_SCAN_MS));
}

void tn_web_shutdown(void)
{
	int i;

	if (!W.up)
		return;
	while (W.all)
		conn_close(W.all);
	W.flush = W.dirty = NULL;
	reap();
	for (i = 0; i < W.nlisten; i++)
		epoll_ctl(W.epfd, EPOLL_CTL_DEL, W.listeners[i].fd, NULL);
	free(W.listeners);
	close(W.epfd);
	memset(&W, 0, sizeof(W));
}

void tn_web_log_line(const char *job_id, char stream, const char *line,
		     size_t len)
{
	struct tn_buf ev = { 0 };
	struct wconn *c, *nx;

	if (!W.up)
		return;
	for (c = W.bucket[hash_sub(C_SSE_JOB, job_id)]; c; c = nx) {
		nx = c->hnext;
		if (c->kind != C_SSE_JOB || strcmp(c->sub, job_id))
			continue;
		if (!ev.len) {
			tn_buf_append(&ev, "data: ", 6);
			json_logline(&ev, stream, line, len);
			tn_buf_append(&ev, "\n\n", 2);
		}
		tn_buf_append(&c->out, ev.data, ev.len);
		sse_queued(c);
	}
	tn_buf_free(&ev);
}

static void mark_subs(int kind, const char *id)
{
	struct wconn *c;

	for (c = W.bucket[hash_sub(kind, id)]; c; c = c->hnext)
		if (c->kind == kind && !strcmp(c->sub, id))
			dirty_later(c);
}

void tn_web_job_changed(const char *job_id)
{
	if (!W.up)
		return;
	mark_subs(C_SSE_JOB, job_id);
	W.overview_dirty = true;
}

void tn_web_dag_changed(const char *dag_id)
{
	if (!W.up)
		return;
	mark_subs(C_SSE_DAG, dag_id);
	W.overview_dirty = true;
}

void tn_web_workers_changed(void)
{
	if (W.up)
		W.overview_dirty = true;
}

void tn_web_get_stats(struct tn_web_stats *st)
{
	*st = W.st;
}
