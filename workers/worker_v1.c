/*
 * worker_v1.c - titan-worker --listen: behave as a Titan v1 worker
 * (TITAN_PROTO.md 5.2, 6.3, 6.4, 8): serve HEARTBEAT, STAGE, RUN,
 * CANCEL_JOB and KILL_WORKER on a port of our own, REGISTER every 30 s,
 * and report with a new connection per LOG_BATCH and JOB_COMPLETE.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ipc/proto.h"
#include "util/util.h"
#include "workers/worker.h"

#define TN_WORKER_V1_IO_MS 5000   /* connect/send/recv bound per try */
#define TN_WORKER_V1_TRIES 5      /* v1: 1 s, 2 s, 4 s, 8 s apart */
#define TN_WORKER_V1_RUN_S 60
#define TN_WORKER_V1_DAG_RUN_S 86400

int tn_worker_v1_init(struct tn_worker *w)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_addr.s_addr = htonl(INADDR_ANY);
	sa.sin_port = htons((uint16_t)w->o.listen_port);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 128) < 0) {
		int err = errno;

		tn_warn("cannot listen on port %d for v1 requests: %s; pick "
			"another --listen port", w->o.listen_port,
			strerror(err));
		close(fd);
		return -err;
	}
	w->listen_fd = fd;
	w->listen_ev.type = TN_WEV_LISTEN;
	tn_worker_epoll_add(w, fd, EPOLLIN, &w->listen_ev);
	w->v1_register_due_ms = tn_worker_now_ms();
	w->v1_register_backoff_ms = TN_WORKER_BACKOFF_MIN_MS;
	tn_notice("v1 mode: serving master requests on port %d",
		  w->o.listen_port);
	return 0;
}

/* A blocking connection to the scheduler, bounded in time, AUTHed. */
static int tn_worker_v1_dial(struct tn_worker *w)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	struct timeval tv = { TN_WORKER_V1_IO_MS / 1000, 0 };
	struct tn_frame f;
	char port[16], *body;
	int fd = -1;

	snprintf(port, sizeof(port), "%d", w->o.port);
	if (getaddrinfo(w->o.host, port, &hints, &ai))
		return -1;
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
			    a->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd < 0 || !w->o.token)
		return fd;
	if (tn_proto_send(fd, TN_OP_AUTH, w->o.token, strlen(w->o.token)) ||
	    tn_proto_recv(fd, TN_WORKER_MAX_BODY, &f, &body)) {
		close(fd);
		return -1;
	}
	if (f.opcode != TN_OP_ACK) {
		tn_warn("the scheduler refused our token: %s; check --token",
			body);
		free(body);
		close(fd);
		return -1;
	}
	free(body);
	return fd;
}

/* One request, one reply (into *reply when asked).  0 or -1. */
static int tn_worker_v1_call(struct tn_worker *w, uint8_t op,
			     const char *body, size_t len, char **reply)
{
	struct tn_frame f;
	char *r = NULL;
	int fd = tn_worker_v1_dial(w), rc = -1;

	if (fd < 0)
		return -1;
	if (tn_proto_send(fd, op, body, len))
		goto out;
	if (reply && tn_proto_recv(fd, TN_WORKER_MAX_BODY, &f, &r))
		goto out;
	rc = 0;
	if (reply)
		*reply = r;
out:
	close(fd);
	return rc;
}

static void tn_worker_v1_register(struct tn_worker *w, int64_t now)
{
	char caps[sizeof(w->o.caps)], *save = NULL, *cap, body[512];
	bool ok = true;

	/* v1 registers one capability per REGISTER; they accumulate. */
	snprintf(caps, sizeof(caps), "%s", w->o.caps);
	for (cap = strtok_r(caps, ",", &save); cap && ok;
	     cap = strtok_r(NULL, ",", &save)) {
		char *reply = NULL;
		int n = snprintf(body, sizeof(body), "%d||%s||false",
				 w->o.listen_port, cap);

		ok = tn_worker_v1_call(w, TN_OP_REGISTER, body, (size_t)n,
				       &reply) == 0 &&
		     strcmp(reply, "REGISTERED") == 0;
		if (!ok && reply)
			tn_warn("the scheduler refused REGISTER: %s", reply);
		free(reply);
	}
	if (ok) {
		if (w->v1_register_backoff_ms != 0)
			tn_notice("registered with the scheduler at %s:%d "
				  "(v1, port %d, %s)", w->o.host, w->o.port,
				  w->o.listen_port, w->o.caps);
		w->v1_register_backoff_ms = 0;
		w->v1_register_due_ms = now + TN_WORKER_V1_REGISTER_MS;
		return;
	}
	if (!w->v1_register_backoff_ms)
		w->v1_register_backoff_ms = TN_WORKER_BACKOFF_MIN_MS;
	tn_verbose("cannot register with the scheduler at %s:%d; retrying in "
		   "%d ms", w->o.host, w->o.port, w->v1_register_backoff_ms);
	w->v1_register_due_ms = now + w->v1_register_backoff_ms;
	w->v1_register_backoff_ms = TN_MIN(w->v1_register_backoff_ms * 2,
					   TN_WORKER_BACKOFF_MAX_MS);
}

void tn_worker_v1_send_logs(struct tn_worker *w, const char *id,
			    const char *lines, size_t len)
{
	struct tn_buf b = { 0 };

	/* v1 sends and closes without reading the reply. */
	if (tn_buf_printf(&b, "%s|", id) || tn_buf_append(&b, lines, len) ||
	    tn_worker_v1_call(w, TN_OP_LOG_BATCH, b.data, b.len, NULL))
		tn_verbose("cannot send log lines of job %s to the scheduler; "
			   "they are lost", id);
	tn_buf_free(&b);
}

void tn_worker_v1_complete(struct tn_worker *w, const char *body,
			   size_t len)
{
	struct tn_worker_v1cb *cb = calloc(1, sizeof(*cb)), **tail;

	if (!cb || !(cb->body = malloc(len))) {
		free(cb);
		tn_warn("out of memory queueing a job completion; it is lost");
		return;
	}
	memcpy(cb->body, body, len);
	cb->len = len;
	cb->due_ms = tn_worker_now_ms();
	for (tail = &w->v1cbs; *tail; tail = &(*tail)->next)
		;
	*tail = cb;
}

void tn_worker_v1_timers(struct tn_worker *w, int64_t now)
{
	struct tn_worker_v1cb **pp = &w->v1cbs, *cb;

	if (!w->stopping && now >= w->v1_register_due_ms)
		tn_worker_v1_register(w, now);
	while ((cb = *pp)) {
		char *reply = NULL;

		if (now < cb->due_ms) {
			pp = &cb->next;
			continue;
		}
		if (tn_worker_v1_call(w, TN_OP_JOB_COMPLETE, cb->body, cb->len,
				      &reply) == 0 ||
		    ++cb->tries >= TN_WORKER_V1_TRIES) {
			if (!reply)
				tn_warn("cannot deliver completion '%.*s' after "
					"%d tries; dropped", (int)TN_MIN(cb->len, 80),
					cb->body, cb->tries);
			free(reply);
			*pp = cb->next;
			free(cb->body);
			free(cb);
			continue;
		}
		cb->due_ms = now + (1000LL << (cb->tries - 1));
		pp = &cb->next;
	}
}

int64_t tn_worker_v1_next_due(struct tn_worker *w)
{
	struct tn_worker_v1cb *cb;
	int64_t due = w->stopping ? 0 : w->v1_register_due_ms;

	for (cb = w->v1cbs; cb; cb = cb->next)
		if (!due || cb->due_ms < due)
			due = cb->due_ms;
	return due;
}

bool tn_worker_v1_idle(struct tn_worker *w)
{
	struct tn_worker_v1conn *c;

	for (c = w->v1conns; c; c = c->next)
		if (tn_buf_pending(&c->out))
			return false;
	return w->v1cbs == NULL;
}

void tn_worker_v1_accept(struct tn_worker *w)
{
	int fd;

	while ((fd = accept4(w->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct tn_worker_v1conn *c = calloc(1, sizeof(*c));

		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->ev.type = TN_WEV_V1CONN;
		c->ev.ptr = c;
		if (tn_worker_epoll_add(w, fd, EPOLLIN, &c->ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = w->v1conns;
		w->v1conns = c;
	}
}

static void tn_worker_v1_close(struct tn_worker *w,
			       struct tn_worker_v1conn *c)
{
	struct tn_worker_v1conn **pp;

	for (pp = &w->v1conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	/* close() alone leaves the registration while another process
	 * holds the socket, and its next event would point at freed c */
	epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	tn_buf_free(&c->in);
	tn_buf_free(&c->out);
	free(c);
}

void tn_worker_v1_free(struct tn_worker *w)
{
	struct tn_worker_v1cb *cb;

	while (w->v1conns)
		tn_worker_v1_close(w, w->v1conns);
	while ((cb = w->v1cbs)) {
		w->v1cbs = cb->next;
		free(cb->body);
		free(cb);
	}
	if (w->listen_fd >= 0)
		close(w->listen_fd);
	w->listen_fd = -1;
}

/* v1's worker reply rule (TITAN_PROTO.md 2.2). */
static void tn_worker_v1_reply(struct tn_worker_v1conn *c, const char *text)
{
	size_t n = strlen(text);
	uint8_t op = strncmp(text, "ERROR", 5) == 0 || strstr(text, "FAILED") ?
			     TN_OP_ERROR :
			     TN_OP_ACK;

	tn_proto_write(&c->out, op, text, n);
}

static void tn_worker_v1_stage(struct tn_worker *w,
			       struct tn_worker_v1conn *c, const char *body,
			       size_t len)
{
	const char *bar = memchr(body, '|', len);
	char name[256], path[PATH_MAX + 300], abs[PATH_MAX];
	char reply[sizeof(path) + 128];
	size_t nl;
	ssize_t n;
	char *data;
	int fd;

	if (!bar) {
		tn_worker_v1_reply(c, "JOB_FAILED Invalid STAGE payload");
		return;
	}
	nl = (size_t)(bar - body);
	if (!nl || nl >= sizeof(name) || memchr(body, '/', nl) ||
	    memchr(body, '\0', nl) || (nl == 1 && body[0] == '.') ||
	    (nl == 2 && body[0] == '.' && body[1] == '.')) {
		tn_worker_v1_reply(c, "JOB_FAILED Invalid file name");
		return;
	}
	memcpy(name, body, nl);
	name[nl] = '\0';
	data = malloc(tn_b64_decoded_max(len - nl - 1) + 1);
	n = data ? tn_b64_decode(bar + 1, len - nl - 1, data) : -1;
	if (n < 0) {
		tn_worker_v1_reply(c, "JOB_FAILED Illegal base64 content");
		free(data);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", w->o.workdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd < 0 || write(fd, data, (size_t)n) != n) {
		snprintf(reply, sizeof(reply), "JOB_FAILED %s: %s", path,
			 strerror(errno));
		tn_worker_v1_reply(c, reply);
	} else {
		snprintf(reply, sizeof(reply), "FILE_SAVED: %s",
			 realpath(path, abs) ? abs : path);
		tn_worker_v1_reply(c, reply);
	}
	if (fd >= 0)
		close(fd);
	free(data);
}

static bool tn_worker_ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* v1 RUN: `<jobId>|<file>|<args>`; reply JOB_ACCEPTED, report later. */
static void tn_worker_v1_run(struct tn_worker *w, struct tn_worker_v1conn *c,
			     const char *body)
{
	char *copy = strdup(body), *id, *file, *args, *bar, *argv[130];
	char path[PATH_MAX], cwd[PATH_MAX], safe[TN_WORKER_ID_MAX + 2];
	struct tn_worker_job *j;
	int argc = 0, rc, limit_s;
	bool dag;

	if (!copy) {
		tn_worker_v1_reply(c, "ERROR: out of memory");
		return;
	}
	bar = strchr(copy, '|');
	if (!bar) {
		/* v1 runs it under UNKNOWN and never reports */
		id = "UNKNOWN";
		file = copy;
		args = "";
	} else {
		*bar = '\0';
		id = copy;
		file = bar + 1;
		args = "";
		if ((bar = strchr(file, '|'))) {
			*bar = '\0';
			args = bar + 1;
		}
	}
	if (w->running >= w->o.capacity || w->stopping) {
		tn_worker_v1_reply(c, "ERROR_WORKER_SATURATED");
		goto out;
	}
	if (strlen(id) >= TN_WORKER_ID_MAX || tn_worker_job_find(w, id)) {
		tn_worker_v1_reply(c, "ERROR: job id too long or already "
				      "running");
		goto out;
	}
	j = tn_worker_job_alloc(w, id);
	j->v1 = true;
	j->v1_callback = strchr(body, '|') && strcmp(id, "TEST") != 0;
	tn_worker_v1_reply(c, "JOB_ACCEPTED");
	if (file[0] == '/')
		snprintf(path, sizeof(path), "%s", file);
	else
		snprintf(path, sizeof(path), "%s/%s", w->o.workdir, file);
	if ((!tn_worker_ends_with(file, ".py") &&
	     !tn_worker_ends_with(file, ".sh")) ||
	    access(path, R_OK) < 0) {
		if (j->v1_callback) {
			char res[TN_WORKER_ID_MAX + 64];
			int n = snprintf(res, sizeof(res), "%s|FAILED|ERROR: "
					 "Script file not found", id);

			tn_worker_v1_complete(w, res, (size_t)n);
		}
		tn_worker_job_release(w, j);
		goto out;
	}
	argv[argc++] = tn_worker_ends_with(file, ".py") ? "python3" :
							  "/bin/bash";
	if (strcmp(argv[0], "python3") == 0)
		argv[argc++] = "-u";
	argv[argc++] = path;
	for (char *save = NULL, *a = strtok_r(args, " ", &save);
	     a && argc < (int)TN_ARRAY_SIZE(argv) - 1;
	     a = strtok_r(NULL, " ", &save))
		argv[argc++] = a;
	argv[argc] = NULL;
	dag = strncmp(id, "DAG-", 4) == 0;
	tn_worker_sanitise(id, safe, sizeof(safe));
	snprintf(cwd, sizeof(cwd), "%s/%s", w->o.workdir,
		 dag ? "shared" : safe);
	tn_worker_mkdirs(cwd);
	limit_s = dag ? TN_WORKER_V1_DAG_RUN_S : TN_WORKER_V1_RUN_S;
	j->timeout_ms = limit_s * 1000;
	snprintf(j->v1_timeout_text, sizeof(j->v1_timeout_text),
		 "ERROR: Script timed out (%ds limit)", limit_s);
	rc = tn_worker_job_start(w, j, argv, NULL, 0, cwd, true);
	if (rc) {
		if (j->v1_callback) {
			char res[TN_WORKER_ID_MAX + 300];
			int n = snprintf(res, sizeof(res), "%s|FAILED|ERROR: "
					 "cannot run %s: %s", id, argv[0],
					 strerror(-rc));

			tn_worker_v1_complete(w, res, (size_t)n);
		}
		tn_worker_job_release(w, j);
	}
out:
	free(copy);
}

static void tn_worker_v1_frame(struct tn_worker *w, struct tn_worker_v1conn *c,
			       struct tn_frame *f)
{
	char *body = strndup(f->body, f->len), text[512];
	struct tn_worker_job *j;
	int n;

	if (!body) {
		c->close_after = true;
		return;
	}
	switch (f->opcode) {
	case TN_OP_HEARTBEAT:
		snprintf(text, sizeof(text), "PONG|%d|%d", w->running,
			 w->o.capacity);
		tn_worker_v1_reply(c, text);
		break;
	case TN_OP_STAGE:
		tn_worker_v1_stage(w, c, f->body, f->len);
		break;
	case TN_OP_RUN:
		tn_worker_v1_run(w, c, body);
		break;
	case TN_OP_CANCEL_JOB: {
		char *s = body, *e = body + strlen(body);

		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
		while (e > s && (e[-1] == ' ' || e[-1] == '\t' ||
				 e[-1] == '\n' || e[-1] == '\r'))
			*--e = '\0';
		j = tn_worker_job_find(w, s);
		if (j && j->v1) {
			tn_worker_cancel(w, j, TN_WEND_CANCEL, true);
			tn_worker_v1_reply(c, "KILLED");
		} else {
			tn_worker_v1_reply(c, "NOT_FOUND");
		}
		break;
	}
	case TN_OP_STOP: {
		const char *id = strchr(body, '|') ? strchr(body, '|') + 1 : body;

		/* We host no services: v1's answer for an unknown one. */
		snprintf(text, sizeof(text), "UNKNOWN_SERVICE: %.400s", id);
		tn_worker_v1_reply(c, text);
		break;
	}
	case TN_OP_KILL_WORKER: {
		static const char bye[] = "SUCCESS: Worker shutting down.";

		tn_proto_write(&c->out, TN_OP_KILL_WORKER, bye, sizeof(bye) - 1);
		c->exit_after = true;
		break;
	}
	default:
		/* v1 kept silent here, leaving the master waiting 30 s */
		n = snprintf(text, sizeof(text), "UNKNOWN_OPCODE: %d",
			     (int)(int8_t)f->opcode);
		tn_proto_write(&c->out, TN_OP_ERROR, text, (size_t)n);
		break;
	}
	free(body);
}

static void tn_worker_v1_stop_all(struct tn_worker *w)
{
	int i;

	tn_notice("KILL_WORKER received: stopping");
	w->stopping = true;
	w->stop_deadline_ms = tn_worker_now_ms() + TN_WORKER_KILL_GRACE_MS +
			      3000;
	for (i = 0; i < w->njobs; i++)
		if (w->jobs[i].used)
			tn_worker_cancel(w, &w->jobs[i], TN_WEND_SHUTDOWN,
					 false);
	if (w->listen_fd >= 0) {
		close(w->listen_fd);
		w->listen_fd = -1;
	}
}

void tn_worker_v1_conn_event(struct tn_worker *w, struct tn_worker_v1conn *c,
			     uint32_t events)
{
	struct tn_frame f;
	size_t used;
	ssize_t n;
	int rc;

	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			if (tn_buf_reserve(&c->in, 65536))
				goto close;
			n = recv(c->fd, c->in.data + c->in.len, 65536, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				c->close_after = true;
				break;
			}
			c->in.len += (size_t)n;
		}
		while ((rc = tn_proto_parse(c->in.data + c->in.off,
					    tn_buf_pending(&c->in),
					    TN_WORKER_MAX_BODY, &f, &used)) ==
		       TN_PROTO_OK) {
			tn_worker_v1_frame(w, c, &f);
			c->in.off += used;
		}
		/* v1 ends a connection with a bad frame silently */
		if (rc < 0)
			goto close;
		tn_buf_compact(&c->in);
	}
	while (tn_buf_pending(&c->out)) {
		n = send(c->fd, c->out.data + c->out.off, tn_buf_pending(&c->out),
			 MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			goto close;
		c->out.off += (size_t)n;
	}
	if (tn_buf_pending(&c->out)) {
		struct epoll_event e = { .events = EPOLLIN | EPOLLOUT,
					 .data.ptr = &c->ev };

		epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e);
		return;
	} else {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &c->ev };

		c->out.len = c->out.off = 0;
		epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e);
	}
	if (c->exit_after) {
		tn_worker_v1_close(w, c);
		tn_worker_v1_stop_all(w);
		return;
	}
	if (!c->close_after)
		return;
close:
	if (c->exit_after)
		tn_worker_v1_stop_all(w);
	tn_worker_v1_close(w, c);
}
