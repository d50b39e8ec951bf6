/*
 * worker_loop.c - titan-worker's event loop (epoll, signalfd, deadlines)
 * and its persistent link to the scheduler: AUTH, WORKER_HELLO, beats,
 * reconnects with backoff, and an out-queue that survives a reconnect.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "ipc/proto.h"
#include "util/util.h"
#include "workers/worker.h"

int tn_worker_epoll_add(struct tn_worker *w, int fd, uint32_t events,
			struct tn_worker_ev *ev)
{
	struct epoll_event e = { .events = events, .data.ptr = ev };

	return epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e);
}

static int tn_worker_outq_add(struct tn_worker_outq *q, uint8_t op,
			      const void *body, size_t len)
{
	size_t need = q->len + TN_PROTO_HEADER_BYTES + len;

	if (need > q->cap) {
		size_t cap = q->cap ? q->cap : 4096;
		char *p;

		while (cap < need)
			cap *= 2;
		p = realloc(q->data, cap);
		if (!p)
			return -ENOMEM;
		q->data = p;
		q->cap = cap;
	}
	tn_proto_header((uint8_t *)q->data + q->len, op, (uint32_t)len);
	if (len)
		memcpy(q->data + q->len + TN_PROTO_HEADER_BYTES, body, len);
	q->len = need;
	return 0;
}

static size_t tn_worker_frame_len(const char *p)
{
	const unsigned char *u = (const unsigned char *)p;

	return TN_PROTO_HEADER_BYTES + ((size_t)u[4] << 24 |
					(size_t)u[5] << 16 |
					(size_t)u[6] << 8 | u[7]);
}

/* Drop what was written, keeping whole frames from the first unsent
 * one (the queue must start on a frame boundary for a rewind). */
static void tn_worker_outq_compact(struct tn_worker_outq *q)
{
	size_t at = 0, fl;

	if (q->sent == q->len) {
		q->sent = q->len = 0;
		return;
	}
	if (q->sent < (1u << 20))
		return;
	while (at < q->len && at + (fl = tn_worker_frame_len(q->data + at)) <=
						q->sent)
		at += fl;
	memmove(q->data, q->data + at, q->len - at);
	q->len -= at;
	q->sent -= at;
}

/*
 * The link dropped: the frame it was in the middle of goes again whole
 * (the scheduler drops a truncated frame with the connection); stale
 * beats do not.
 */
static void tn_worker_outq_rewind(struct tn_worker_outq *q)
{
	size_t at = 0, fl, out = 0;

	while (at < q->len && at + (fl = tn_worker_frame_len(q->data + at)) <=
						q->sent)
		at += fl;
	while (at < q->len) {
		fl = tn_worker_frame_len(q->data + at);
		if ((uint8_t)q->data[at + 1] != TN_OP_WORKER_BEAT) {
			memmove(q->data + out, q->data + at, fl);
			out += fl;
		}
		at += fl;
	}
	q->len = out;
	q->sent = 0;
}

/*
 * Completions written to a link that then dropped may never have been
 * read (a scheduler killed with them in its socket buffer): keep the
 * recent ones and send them again right after the next HELLO, before any
 * beat.  The scheduler ignores a completion for a job it no longer sees
 * running on this worker.  (Added by the scheduler's engineer.)
 */
#define TN_WORKER_REPLAY 128
#define TN_WORKER_REPLAY_MS 10000
static struct {
	char *body;
	size_t len;
	int64_t at_ms;
} tn_worker_replay[TN_WORKER_REPLAY];
static unsigned tn_worker_replay_next;

static void tn_worker_replay_keep(const void *body, size_t len)
{
	unsigned i = tn_worker_replay_next++ % TN_WORKER_REPLAY;
	char *p = malloc(len ? len : 1);

	if (!p)
		return;
	memcpy(p, body, len);
	free(tn_worker_replay[i].body);
	tn_worker_replay[i].body = p;
	tn_worker_replay[i].len = len;
	tn_worker_replay[i].at_ms = tn_worker_now_ms();
}

static void tn_worker_replay_queue(struct tn_worker_outq *q)
{
	int64_t since = tn_worker_now_ms() - TN_WORKER_REPLAY_MS;
	unsigned k;

	for (k = 0; k < TN_WORKER_REPLAY; k++) {
		unsigned i = (tn_worker_replay_next + k) % TN_WORKER_REPLAY;

		if (tn_worker_replay[i].body &&
		    tn_worker_replay[i].at_ms >= since)
			tn_worker_outq_add(q, TN_OP_JOB_COMPLETE,
					   tn_worker_replay[i].body,
					   tn_worker_replay[i].len);
	}
}

void tn_worker_link_send(struct tn_worker *w, uint8_t op, const void *body,
			 size_t len, bool droppable)
{
	static bool warned;

	if (op == TN_OP_JOB_COMPLETE)
		tn_worker_replay_keep(body, len);

	if (droppable && w->q.len - w->q.sent > TN_WORKER_BACKLOG_MAX) {
		if (!warned)
			tn_warn("scheduler link backlog over %u MiB; dropping "
				"log lines until it drains",
				TN_WORKER_BACKLOG_MAX >> 20);
		warned = true;
		return;
	}
	warned = false;
	if (tn_worker_outq_add(&w->q, op, body, len))
		tn_warn("out of memory queueing a frame (opcode 0x%02x) for "
			"the scheduler; it is lost", op);
}

static void tn_worker_link_watch(struct tn_worker *w, bool want_out)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &w->link_ev };

	if (want_out == w->link_want_out)
		return;
	if (want_out)
		e.events |= EPOLLOUT;
	epoll_ctl(w->epfd, EPOLL_CTL_MOD, w->link_fd, &e);
	w->link_want_out = want_out;
}

static void tn_worker_link_down(struct tn_worker *w, const char *why)
{
	int64_t now = tn_worker_now_ms();

	if (w->link_fd >= 0) {
		epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->link_fd, NULL);
		close(w->link_fd);
		if (w->link_state == TN_LINK_UP)
			tn_warn("lost the scheduler link to %s:%d (%s); "
				"reconnecting, jobs keep running",
				w->o.host, w->o.port, why);
		else
			tn_verbose("cannot reach the scheduler at %s:%d (%s); "
				   "retrying in %d ms", w->o.host, w->o.port,
				   why, w->backoff_ms);
	}
	w->link_fd = -1;
	w->link_state = TN_LINK_DOWN;
	w->link_want_out = false;
	w->link_in.len = w->link_in.off = 0;
	w->hs.len = w->hs.sent = 0;
	tn_worker_outq_rewind(&w->q);
	w->reconnect_ms = now + w->backoff_ms;
	w->backoff_ms = TN_MIN(w->backoff_ms * 2, TN_WORKER_BACKOFF_MAX_MS);
}

static void tn_worker_link_hello(struct tn_worker *w)
{
	char body[2048];
	int n;

	n = snprintf(body, sizeof(body), "%s|%s|%d|%s|%d", w->o.id,
		     w->hostname, w->o.listen_port, w->o.caps, w->o.capacity);
	/* the optional 6th field: how many DISPATCHes we queue */
	if (w->o.prefetch > 0 && !w->hello_plain)
		n += snprintf(body + n, sizeof(body) - (size_t)n, "|%d",
			      w->o.prefetch);
	tn_worker_outq_add(&w->hs, TN_OP_WORKER_HELLO, body, (size_t)n);
	tn_worker_replay_queue(&w->hs);
	w->link_state = TN_LINK_HELLO;
}

/* Connected: say who we are (AUTH first when there is a token). */
static void tn_worker_link_connected(struct tn_worker *w)
{
	int one = 1;

	setsockopt(w->link_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (w->o.token) {
		tn_worker_outq_add(&w->hs, TN_OP_AUTH, w->o.token,
				   strlen(w->o.token));
		w->link_state = TN_LINK_AUTH;
	} else {
		tn_worker_link_hello(w);
	}
}

static void tn_worker_link_connect(struct tn_worker *w)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	char port[16];
	int fd = -1, rc;

	snprintf(port, sizeof(port), "%d", w->o.port);
	rc = getaddrinfo(w->o.host, port, &hints, &ai);
	if (rc) {
		tn_warn("cannot resolve scheduler host '%s': %s; retrying",
			w->o.host, gai_strerror(rc));
		w->link_fd = -1;
		tn_worker_link_down(w, "name lookup failed");
		return;
	}
	for (a = ai; a; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK |
						  SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 ||
		    errno == EINPROGRESS)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	w->link_fd = fd;
	if (fd < 0) {
		w->link_state = TN_LINK_CONNECTING;
		tn_worker_link_down(w, strerror(errno));
		return;
	}
	w->link_state = TN_LINK_CONNECTING;
	w->link_want_out = true;
	if (tn_worker_epoll_add(w, fd, EPOLLIN | EPOLLOUT, &w->link_ev) < 0)
		tn_worker_link_down(w, strerror(errno));
}

static int tn_worker_outq_write(struct tn_worker *w, struct tn_worker_outq *q)
{
	while (q->sent < q->len) {
		ssize_t n = send(w->link_fd, q->data + q->sent,
				 q->len - q->sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 1;
		if (n < 0)
			return -errno;
		q->sent += (size_t)n;
	}
	tn_worker_outq_compact(q);
	return 0;
}

/* Write what can go now; watch EPOLLOUT only while something waits. */
static void tn_worker_link_flush(struct tn_worker *w)
{
	int rc;

	if (w->link_fd < 0 || w->link_state == TN_LINK_CONNECTING)
		return;
	rc = tn_worker_outq_write(w, &w->hs);
	if (rc == 0 && w->link_state == TN_LINK_UP)
		rc = tn_worker_outq_write(w, &w->q);
	if (rc < 0) {
		tn_worker_link_down(w, strerror(-rc));
		return;
	}
	tn_worker_link_watch(w, rc > 0);
}

void tn_worker_link_flush_now(struct tn_worker *w)
{
	if (w->link_state == TN_LINK_UP)
		tn_worker_link_flush(w);
}

static void tn_worker_link_frame(struct tn_worker *w, struct tn_frame *f)
{
	bool ack = f->opcode == TN_OP_ACK;

	switch (w->link_state) {
	case TN_LINK_AUTH:
		if (ack && f->len == 2 && memcmp(f->body, "OK", 2) == 0) {
			tn_worker_link_hello(w);
			return;
		}
		tn_warn("the scheduler at %s:%d refused our token: %.*s; check "
			"--token against its titan-auth-token", w->o.host,
			w->o.port, (int)TN_MIN(f->len, 200), f->body);
		tn_worker_link_down(w, "token refused");
		return;
	case TN_LINK_HELLO:
		if (ack && f->len == 10 && memcmp(f->body, "REGISTERED", 10) == 0) {
			w->link_state = TN_LINK_UP;
			w->backoff_ms = TN_WORKER_BACKOFF_MIN_MS;
			w->beat_due_ms = tn_worker_now_ms() + w->o.beat_ms;
			tn_notice("registered with the scheduler at %s:%d as %s "
				  "(capacity %d, %s)", w->o.host, w->o.port,
				  w->o.id, w->o.capacity, w->o.caps);
			return;
		}
		if (w->o.prefetch > 0 && !w->hello_plain) {
			/* an older scheduler: register without prefetch */
			tn_notice("the scheduler at %s:%d does not take "
				  "WORKER_HELLO's prefetch field; registering "
				  "without it (no jobs queued here)",
				  w->o.host, w->o.port);
			w->hello_plain = true;
			w->backoff_ms = TN_WORKER_BACKOFF_MIN_MS;
			tn_worker_link_down(w, "registering again");
			return;
		}
		tn_warn("the scheduler at %s:%d refused WORKER_HELLO: %.*s",
			w->o.host, w->o.port, (int)TN_MIN(f->len, 200), f->body);
		tn_worker_link_down(w, "registration refused");
		return;
	default:
		break;
	}
	switch (f->opcode) {
	case TN_OP_DISPATCH:
		tn_worker_dispatch(w, f->body, f->len);
		break;
	case TN_OP_CANCEL_JOB: {
		char id[TN_WORKER_ID_MAX];
		struct tn_worker_job *j;

		snprintf(id, sizeof(id), "%.*s", (int)TN_MIN(f->len, 255),
			 f->body);
		j = tn_worker_job_find(w, id);
		if (j)
			tn_worker_cancel(w, j, TN_WEND_CANCEL, false);
		else if (!tn_worker_unqueue(w, id, "ERROR: cancelled"))
			tn_verbose("CANCEL_JOB for %s, which does not run here",
				   id);
		break;
	}
	case TN_OP_ACK:
		break;
	case TN_OP_ERROR:
		tn_warn("the scheduler says: %.*s", (int)TN_MIN(f->len, 300),
			f->body);
		break;
	default:
		tn_warn("unexpected opcode 0x%02x on the scheduler link; "
			"ignored", f->opcode);
		break;
	}
}

static void tn_worker_link_event(struct tn_worker *w, uint32_t events)
{
	if (w->link_state == TN_LINK_CONNECTING) {
		int err = 0;
		socklen_t sl = sizeof(err);

		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(w->link_fd, SOL_SOCKET, SO_ERROR, &err, &sl);
		if (err) {
			tn_worker_link_down(w, strerror(err));
			return;
		}
		tn_worker_link_connected(w);
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		for (;;) {
			struct tn_frame f;
			size_t used;
			ssize_t n;
			int rc;

			if (tn_buf_reserve(&w->link_in, 65536)) {
				tn_worker_link_down(w, "out of memory");
				return;
			}
			n = recv(w->link_fd, w->link_in.data + w->link_in.len,
				 65536, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0 && errno == EAGAIN)
				break;
			if (n <= 0) {
				tn_worker_link_down(w, n ? strerror(errno) :
							   "closed by the "
							   "scheduler");
				return;
			}
			w->link_in.len += (size_t)n;
			while ((rc = tn_proto_parse(
					w->link_in.data + w->link_in.off,
					tn_buf_pending(&w->link_in),
					TN_WORKER_MAX_BODY, &f, &used)) ==
			       TN_PROTO_OK) {
				enum tn_worker_link_state st = w->link_state;

				tn_worker_link_frame(w, &f);
				if (w->link_fd < 0 ||
				    (st != w->link_state &&
				     w->link_state == TN_LINK_DOWN))
					return;
				w->link_in.off += used;
			}
			if (rc < 0) {
				tn_worker_link_down(w, rc == TN_PROTO_BADVER ?
						       "bad protocol version" :
						       "frame over 10 MiB");
				return;
			}
			tn_buf_compact(&w->link_in);
		}
	}
	tn_worker_link_flush(w);
}

static void tn_worker_link_timers(struct tn_worker *w, int64_t now)
{
	if (w->link_state == TN_LINK_DOWN && !w->stopping &&
	    now >= w->reconnect_ms)
		tn_worker_link_connect(w);
	if (w->link_state == TN_LINK_UP && now >= w->beat_due_ms) {
		char body[TN_WORKER_ID_MAX + 32];
		int n = snprintf(body, sizeof(body), "%s|%d", w->o.id,
				 w->running + w->nqueued);

		tn_worker_link_send(w, TN_OP_WORKER_BEAT, body, (size_t)n,
				    false);
		w->beat_due_ms = now + w->o.beat_ms;
	}
}

static void tn_worker_stop(struct tn_worker *w, const char *why)
{
	int i;

	if (w->stopping)
		return;
	tn_notice("%s: stopping; running jobs are killed and reported",
		  why);
	w->stopping = true;
	w->stop_deadline_ms = tn_worker_now_ms() + TN_WORKER_KILL_GRACE_MS +
			      3000;
	while (w->nqueued > 0)
		tn_worker_unqueue(w, w->queued[0].id,
				  "ERROR: worker shutting down");
	for (i = 0; i < w->njobs; i++)
		if (w->jobs[i].used)
			tn_worker_cancel(w, &w->jobs[i], TN_WEND_SHUTDOWN,
					 false);
}

static void tn_worker_signals(struct tn_worker *w)
{
	struct signalfd_siginfo si;

	while (read(w->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			tn_worker_reap(w);
			break;
		case SIGTERM:
		case SIGINT:
			tn_worker_stop(w, si.ssi_signo == SIGTERM ? "SIGTERM" :
								    "SIGINT");
			break;
		default:
			break;
		}
	}
	/* A SIGCHLD may have merged with one read before: reap anyway. */
	tn_worker_reap(w);
}

static bool tn_worker_done(struct tn_worker *w, int64_t now)
{
	if (!w->stopping || w->running)
		return false;
	if (now >= w->stop_deadline_ms)
		return true;
	if (w->o.listen_port)
		return tn_worker_v1_idle(w);
	return w->link_state != TN_LINK_UP || w->q.sent == w->q.len;
}

static void tn_worker_due(int64_t *due, int64_t t)
{
	if (t && (!*due || t < *due))
		*due = t;
}

int tn_worker_run(struct tn_worker *w)
{
	struct epoll_event evs[64];
	sigset_t set;
	int rc = 0;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	w->link_fd = w->listen_fd = -1;
	w->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->sigfd < 0 || w->epfd < 0) {
		tn_warn("cannot set up the event loop: %s", strerror(errno));
		return -errno;
	}
	w->sig_ev.type = TN_WEV_SIGNAL;
	w->link_ev.type = TN_WEV_LINK;
	tn_worker_epoll_add(w, w->sigfd, EPOLLIN, &w->sig_ev);
	rc = tn_worker_mkdirs(w->o.workdir);
	if (rc) {
		tn_warn("cannot create workdir %s: %s; pass --workdir",
			w->o.workdir, strerror(-rc));
		return rc;
	}
	rc = tn_worker_jobs_init(w);
	if (rc)
		return rc;
	w->backoff_ms = TN_WORKER_BACKOFF_MIN_MS;
	if (w->o.listen_port) {
		rc = tn_worker_v1_init(w);
		if (rc)
			goto out;
	} else {
		w->link_state = TN_LINK_DOWN;
		w->reconnect_ms = tn_worker_now_ms();
	}
	for (;;) {
		int64_t now = tn_worker_now_ms(), due = 0;
		int n, i, timeout;

		if (!w->o.listen_port)
			tn_worker_link_timers(w, now);
		if (w->flush_due_ms && now >= w->flush_due_ms)
			tn_worker_flush_logs(w);
		tn_worker_job_timers(w, now);
		if (w->o.listen_port)
			tn_worker_v1_timers(w, now);
		tn_worker_link_flush(w);
		if (tn_worker_done(w, now))
			break;
		tn_worker_due(&due, tn_worker_job_next_due(w));
		if (w->o.listen_port) {
			tn_worker_due(&due, tn_worker_v1_next_due(w));
		} else {
			if (w->link_state == TN_LINK_DOWN && !w->stopping)
				tn_worker_due(&due, w->reconnect_ms);
			if (w->link_state == TN_LINK_UP)
				tn_worker_due(&due, w->beat_due_ms);
		}
		if (w->stopping)
			tn_worker_due(&due, w->stop_deadline_ms);
		timeout = !due ? -1 : due <= now ? 0 : (int)(due - now);
		n = epoll_wait(w->epfd, evs, TN_ARRAY_SIZE(evs), timeout);
		if (n < 0 && errno != EINTR) {
			tn_warn("epoll_wait: %s", strerror(errno));
			rc = -errno;
			break;
		}
		for (i = 0; i < n; i++) {
			struct tn_worker_ev *ev = evs[i].data.ptr;
			struct tn_worker_job *j = ev->ptr;

			switch (ev->type) {
			case TN_WEV_SIGNAL:
				tn_worker_signals(w);
				break;
			case TN_WEV_LINK:
				if (w->link_fd >= 0)
					tn_worker_link_event(w, evs[i].events);
				break;
			case TN_WEV_LISTEN:
				tn_worker_v1_accept(w);
				break;
			case TN_WEV_V1CONN:
				tn_worker_v1_conn_event(w, ev->ptr,
							evs[i].events);
				break;
			case TN_WEV_JOB_OUT:
			case TN_WEV_JOB_ERR:
				/* a job finished earlier in this batch may have
				 * closed this pipe already */
				if (j->used &&
				    j->fd[ev->type == TN_WEV_JOB_ERR] >= 0)
					tn_worker_job_readable(
						w, j, ev->type == TN_WEV_JOB_ERR,
						false);
				break;
			}
		}
	}
out:
	if (w->link_fd >= 0)
		close(w->link_fd);
	tn_worker_v1_free(w);
	tn_worker_jobs_free(w);
	free(w->q.data);
	free(w->hs.data);
	tn_buf_free(&w->link_in);
	close(w->epfd);
	close(w->sigfd);
	return rc;
}
