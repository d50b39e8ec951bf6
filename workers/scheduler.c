/*
 * scheduler.c - the scheduler process: one epoll loop over the
 * TITAN_PROTO sockets, a timerfd for every delay, backoff and timeout,
 * a signalfd, and a RESP subscription to our own store that tells us
 * when a worker's TTL key expires.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "ipc/proto.h"
#include "shm/shm.h"
#include "store/store.h"
#include "util/util.h"
#include "workers/sched.h"
#include "workers/web.h"

#define SCHED_READ_BYTES 65536
#define SCHED_SUB_RETRY_MS 500
#define EXPIRED_CHANNEL "__keyevent@0__:expired"

static int ep = -1;
static struct sconn *dirty_list;
static struct sconn **dead_list;
static size_t ndead, capdead;
static struct sconn timer_conn, signal_conn;
static struct sconn wake_conn; /* the journal: `durable` moved */
static struct sconn web_conn; /* the dashboard's epoll set */
static int64_t armed_at = -1;
static struct sconn *sub; /* the subscription, or NULL */
static uint64_t hold_pos; /* output waits until the log is durable here */
static struct sched_timer sub_retry;

static void conn_close(struct sconn *c);

static void mark_dirty(struct sconn *c)
{
	if (c->dirty || c->dead)
		return;
	c->dirty = true;
	c->next_dirty = dirty_list;
	dirty_list = c;
}

void sched_send(struct sconn *c, uint8_t op, const void *body, size_t n)
{
	if (c->dead)
		return;
	if (tn_proto_write(&c->out, op, body, n) < 0) {
		tn_warn("scheduler: out of memory queueing a reply to %s; "
			"closing that connection",
			c->peer);
		conn_close(c);
		return;
	}
	mark_dirty(c);
}

void sched_reply(struct sconn *c, const char *text, size_t n)
{
	sched_send(c, tn_proto_reply_op(text, n), text, n);
}

void sched_reply_str(struct sconn *c, const char *text)
{
	sched_reply(c, text, strlen(text));
}

void sched_close_after(struct sconn *c)
{
	c->closing = true;
	mark_dirty(c);
}

static void conn_close(struct sconn *c)
{
	if (c->dead)
		return;
	c->dead = true;
	if (c->kind == SC_CLIENT && c->w)
		sched_link_closed(c);
	if (c->kind == SC_V1OUT) {
		sched_timer_stop(&c->v1_timeout);
		if (!c->v1_done) {
			c->v1_done = true;
			sched_v1_failed(c);
		}
	}
	if (c == sub)
		sub = NULL;
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	if (ndead == capdead) {
		size_t nc = capdead ? capdead * 2 : 16;
		struct sconn **n = realloc(dead_list, sizeof(*n) * nc);

		if (!n)
			return; /* leaked, not freed twice */
		dead_list = n;
		capdead = nc;
	}
	dead_list[ndead++] = c;
}

static void free_dead(void)
{
	size_t i;

	for (i = 0; i < ndead; i++) {
		free(dead_list[i]->v1_job);
		tn_buf_free(&dead_list[i]->v1_next);
		tn_buf_free(&dead_list[i]->in);
		tn_buf_free(&dead_list[i]->out);
		free(dead_list[i]);
	}
	ndead = 0;
}

static void set_events(struct sconn *c, bool out)
{
	struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0),
				 .data.ptr = c};

	if (c->want_out == out)
		return;
	c->want_out = out;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static void conn_flush(struct sconn *c)
{
	while (tn_buf_pending(&c->out) > 0) {
		ssize_t w = write(c->fd, c->out.data + c->out.off,
				  tn_buf_pending(&c->out));

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_events(c, true);
				return;
			}
			/* a peer that left early: not our problem */
			conn_close(c);
			return;
		}
		c->out.off += (size_t)w;
	}
	c->out.len = c->out.off = 0;
	set_events(c, false);
	if (c->closing)
		conn_close(c);
}

static void flush_dirty(void)
{
	while (dirty_list) {
		struct sconn *c = dirty_list;

		dirty_list = c->next_dirty;
		c->dirty = false;
		if (!c->dead)
			conn_flush(c);
	}
}

static struct sconn *conn_add(int fd, int kind)
{
	struct sconn *c = calloc(1, sizeof(*c));
	struct epoll_event ev = {.events = EPOLLIN};

	if (!c)
		return NULL;
	c->fd = fd;
	c->kind = kind;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		return NULL;
	}
	return c;
}

/* ------------------------------------------------------------------ */
/* TITAN_PROTO clients                                                  */
/* ------------------------------------------------------------------ */

static void accept_all(struct sconn *l)
{
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct sconn *c;
		int one = 1;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				tn_warn("scheduler: accept on the titan-port "
					"failed: %s",
					strerror(errno));
			return;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = conn_add(fd, SC_CLIENT);
		if (!c) {
			close(fd);
			continue;
		}
		c->authed = tn_conf->titan_auth_token[0] == '\0';
		if (ss.ss_family == AF_INET)
			inet_ntop(AF_INET,
				  &((struct sockaddr_in *)&ss)->sin_addr,
				  c->peer, sizeof(c->peer));
		else if (ss.ss_family == AF_INET6)
			inet_ntop(AF_INET6,
				  &((struct sockaddr_in6 *)&ss)->sin6_addr,
				  c->peer, sizeof(c->peer));
		else
			snprintf(c->peer, sizeof(c->peer), "local");
	}
}

static uint32_t frame_limit(void)
{
	long long m = tn_conf->titan_max_frame_bytes;

	if (m <= 0 || m > 0x7fffffffLL)
		m = TN_PROTO_MAX_BODY_V1;
	return (uint32_t)m;
}

static void client_read(struct sconn *c)
{
	bool eof = false;

	for (;;) {
		ssize_t r;

		if (tn_buf_reserve(&c->in, SCHED_READ_BYTES) < 0) {
			conn_close(c);
			return;
		}
		r = read(c->fd, c->in.data + c->in.len,
			 c->in.cap - c->in.len);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			eof = true;
			break;
		}
		if (r == 0) {
			eof = true;
			break;
		}
		c->in.len += (size_t)r;
		if ((size_t)r < SCHED_READ_BYTES)
			break;
	}
	/* Frames that came in before the end (a v1 worker sends LOG_BATCH
	 * and closes; a titan-worker stops after its last LOG_LINES) are
	 * handled before the connection goes. */
	while (!c->dead && !c->closing) {
		struct tn_frame f;
		size_t used;
		int st = tn_proto_parse(c->in.data + c->in.off,
					tn_buf_pending(&c->in), frame_limit(),
					&f, &used);
		char msg[128];

		if (st == TN_PROTO_AGAIN)
			break;
		if (st == TN_PROTO_BADVER) {
			snprintf(msg, sizeof(msg),
				 "ERROR: bad protocol version %u (expected 1)",
				 (unsigned char)c->in.data[c->in.off]);
			sched_reply_str(c, msg);
			sched_close_after(c);
			break;
		}
		if (st == TN_PROTO_TOOBIG) {
			const unsigned char *h =
				(const unsigned char *)c->in.data + c->in.off;
			uint32_t len = (uint32_t)h[4] << 24 |
				       (uint32_t)h[5] << 16 |
				       (uint32_t)h[6] << 8 | h[7];

			snprintf(msg, sizeof(msg),
				 "ERROR: frame too large (%u bytes, limit %u)",
				 len, frame_limit());
			sched_reply_str(c, msg);
			sched_close_after(c);
			break;
		}
		sched_handle_frame(c, f.opcode, f.body, f.len);
		c->in.off += used;
	}
	if (eof && !c->dead) {
		/* a half-closed v1 client still gets its reply if it fits */
		if (tn_buf_pending(&c->out))
			conn_flush(c);
		conn_close(c);
		return;
	}
	if (!c->dead) {
		if (c->in.off == c->in.len)
			c->in.off = c->in.len = 0;
		else
			tn_buf_compact(&c->in);
	}
}

/* ------------------------------------------------------------------ */
/* Calls to v1 workers (TITAN_PROTO.md 6.3-6.4)                         */
/* ------------------------------------------------------------------ */

#define SCHED_V1_CALL_MS 10000 /* v1 waited 30 s; a ping every 2 s must not */

static void v1_timeout_fn(struct sched_timer *t)
{
	struct sconn *c = (struct sconn *)((char *)t -
					   offsetof(struct sconn, v1_timeout));

	conn_close(c);
}

int sched_v1_call(struct sched_worker *w, int kind, const char *job_id,
		  uint8_t op1, const char *b1, size_t l1, uint8_t op2,
		  const char *b2, size_t l2)
{
	struct sockaddr_in in = {.sin_family = AF_INET,
				 .sin_port = htons((uint16_t)w->port)};
	struct sconn *c;
	int fd, one = 1;

	if (inet_pton(AF_INET, w->host, &in.sin_addr) != 1)
		return -EAFNOSUPPORT;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (struct sockaddr *)&in, sizeof(in)) < 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		return -e;
	}
	c = conn_add(fd, SC_V1OUT);
	if (!c) {
		close(fd);
		return -ENOMEM;
	}
	snprintf(c->peer, sizeof(c->peer), "%s", w->host);
	c->v1w = w;
	c->v1_kind = kind;
	c->v1_job = job_id ? strdup(job_id) : NULL;
	if (tn_proto_write(&c->out, op1, b1, l1) < 0 ||
	    (l2 && tn_proto_write(&c->v1_next, op2, b2, l2) < 0) ||
	    (job_id && !c->v1_job)) {
		c->v1_done = true; /* the caller sees the error instead */
		conn_close(c);
		return -ENOMEM;
	}
	sched_timer_init(&c->v1_timeout, v1_timeout_fn);
	sched_timer_set(&c->v1_timeout, tn_mstime() + SCHED_V1_CALL_MS);
	set_events(c, true);
	return 0;
}

static void v1out_read(struct sconn *c)
{
	for (;;) {
		struct tn_frame f;
		size_t used;
		ssize_t r;
		int st;

		if (tn_buf_reserve(&c->in, 4096) < 0) {
			conn_close(c);
			return;
		}
		r = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0) {
			conn_close(c);
			return;
		}
		c->in.len += (size_t)r;
		st = tn_proto_parse(c->in.data + c->in.off,
				    tn_buf_pending(&c->in), frame_limit(), &f,
				    &used);
		if (st == TN_PROTO_AGAIN)
			continue;
		if (st != TN_PROTO_OK) {
			conn_close(c);
			return;
		}
		sched_v1_reply(c, f.opcode, f.body, f.len);
		c->in.off += used;
		if (c->dead || c->v1_done) {
			c->v1_done = true;
			conn_close(c);
			return;
		}
		/* the next step: RUN after STAGE */
		if (tn_buf_pending(&c->v1_next)) {
			tn_buf_append(&c->out, c->v1_next.data, c->v1_next.len);
			c->v1_next.len = 0;
			mark_dirty(c);
		}
	}
}

/* ------------------------------------------------------------------ */
/* The expired-key subscription                                         */
/* ------------------------------------------------------------------ */

static void sub_retry_fn(struct sched_timer *t);

static void resp_cmd(struct tn_buf *b, int argc, const char **argv)
{
	int i;

	tn_buf_printf(b, "*%d\r\n", argc);
	for (i = 0; i < argc; i++)
		tn_buf_printf(b, "$%zu\r\n%s\r\n", strlen(argv[i]), argv[i]);
}

static int sub_socket(void)
{
	int fd;

	if (tn_conf->unixsocket[0]) {
		struct sockaddr_un un = {.sun_family = AF_UNIX};

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (strlen(tn_conf->unixsocket) >= sizeof(un.sun_path)) {
			close(fd);
			return -ENAMETOOLONG;
		}
		memcpy(un.sun_path, tn_conf->unixsocket,
		       strlen(tn_conf->unixsocket) + 1);
		if (connect(fd, (struct sockaddr *)&un, sizeof(un)) < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
	} else {
		struct sockaddr_in in = {.sin_family = AF_INET,
					 .sin_port =
						 htons((uint16_t)tn_conf->port)};
		const char *addr = "127.0.0.1";
		int i;

		/* prefer loopback; else the first IPv4 bind address */
		for (i = 0; i < tn_conf->nbind; i++) {
			const char *b = tn_conf->bind[i];

			if (b[0] == '-')
				b++;
			if (strcmp(b, "127.0.0.1") == 0 || strcmp(b, "*") == 0 ||
			    strcmp(b, "0.0.0.0") == 0) {
				addr = "127.0.0.1";
				break;
			}
			if (i == 0 && strchr(b, '.'))
				addr = b;
		}
		inet_pton(AF_INET, addr, &in.sin_addr);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (connect(fd, (struct sockaddr *)&in, sizeof(in)) < 0) {
			int e = errno;

			close(fd);
			return -e;
		}
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Workers whose keys may have expired while nobody listened. */
static void check_worker_key(struct sched_worker *w, void *arg)
{
	char key[SCHED_ID_MAX + 16], *val = NULL;
	size_t n;

	if (!w->alive)
		return;
	snprintf(key, sizeof(key), "titan:worker:%s", w->id);
	if (sched_store_get(key, &val, &n) == 0 && !val)
		sched_key_expired(key, strlen(key));
	free(val);
}

static void sub_start(void)
{
	const char *sub_argv[] = {"SUBSCRIBE", EXPIRED_CHANNEL};
	int fd;

	if (tn_conf->port <= 0 && !tn_conf->unixsocket[0]) {
		tn_warn("scheduler: the store has neither a port nor a "
			"unixsocket; dead workers are only noticed when "
			"their link closes");
		return;
	}
	fd = sub_socket();
	if (fd < 0) {
		tn_verbose("scheduler: cannot subscribe to %s yet: %s; "
			   "retrying",
			   EXPIRED_CHANNEL, strerror(-fd));
		sched_timer_set(&sub_retry, tn_mstime() + SCHED_SUB_RETRY_MS);
		return;
	}
	sub = conn_add(fd, SC_SUB);
	if (!sub) {
		close(fd);
		sched_timer_set(&sub_retry, tn_mstime() + SCHED_SUB_RETRY_MS);
		return;
	}
	snprintf(sub->peer, sizeof(sub->peer), "store");
	if (tn_conf->requirepass[0]) {
		const char *a[] = {"AUTH", tn_conf->requirepass};

		resp_cmd(&sub->out, 2, a);
	}
	resp_cmd(&sub->out, 2, sub_argv);
	mark_dirty(sub);
}

static void sub_retry_fn(struct sched_timer *t)
{
	if (!sub)
		sub_start();
}

static void sub_read(struct sconn *c)
{
	for (;;) {
		ssize_t r;

		if (tn_buf_reserve(&c->in, 16384) < 0)
			break;
		r = read(c->fd, c->in.data + c->in.len,
			 c->in.cap - c->in.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			break;
		if (r <= 0) {
			tn_notice("scheduler: the store closed our "
				  "subscription; reconnecting");
			conn_close(c);
			sched_timer_set(&sub_retry,
					tn_mstime() + SCHED_SUB_RETRY_MS);
			return;
		}
		c->in.len += (size_t)r;
	}
	for (;;) {
		long n = sched_resp_complete(c->in.data + c->in.off,
					     tn_buf_pending(&c->in));
		struct sched_reply rep;

		if (n == 0)
			break;
		if (n < 0 || sched_resp_parse(c->in.data + c->in.off,
					      (size_t)n, &rep) < 0) {
			tn_warn("scheduler: unexpected reply on the store "
				"subscription; reconnecting");
			conn_close(c);
			sched_timer_set(&sub_retry,
					tn_mstime() + SCHED_SUB_RETRY_MS);
			return;
		}
		c->in.off += (size_t)n;
		if (rep.type == '-')
			tn_warn("scheduler: the store refused our "
				"subscription: %s; check requirepass",
				rep.str);
		if (rep.type == '*' && rep.elems.n == 3 &&
		    strcmp(rep.elems.v[0], "message") == 0)
			sched_key_expired(rep.elems.v[2],
					  strlen(rep.elems.v[2]));
		if (rep.type == '*' && rep.elems.n >= 1 &&
		    strcmp(rep.elems.v[0], "subscribe") == 0)
			/* now listening: catch what expired meanwhile */
			sched_workers_each(check_worker_key, NULL);
		sched_reply_free(&rep);
	}
	tn_buf_compact(&c->in);
}

/* ------------------------------------------------------------------ */
/* Main                                                                 */
/* ------------------------------------------------------------------ */

/*
 * Under appendfsync always nothing leaves before the state writes behind
 * it are on disk, as a shard holds a reply: a DISPATCH goes out only
 * once its RUNNING record is durable, so a job a worker ran is never
 * PENDING again after a crash of the whole server, and a JOB_ACCEPTED
 * means the DAG survives one.
 */
static bool output_held(void)
{
	struct elog_shm *l = tn_elog();
	uint64_t pos = tn_effect_take_pos();

	if (!tn_conf->appendonly || tn_conf->appendfsync != TN_FSYNC_ALWAYS) {
		hold_pos = 0;
		return false;
	}
	if (pos > hold_pos)
		hold_pos = pos;
	if (!hold_pos || atomic_load(&l->durable) >= hold_pos) {
		hold_pos = 0;
		return false;
	}
	/* ask the journal for a wake (on wake_conn), then look again: an
	 * advance it made before seeing the bit is read here */
	atomic_fetch_or(&l->shard_waiting, 1u << (tn_rt.nshards & 31));
	if (atomic_load(&l->durable) >= hold_pos) {
		hold_pos = 0;
		return false;
	}
	return true;
}

static void arm_timer(void)
{
	int64_t next = sched_timers_next();
	struct itimerspec its = {0};

	if (next == armed_at)
		return;
	armed_at = next;
	if (next >= 0) {
		if (next <= 0)
			next = 1;
		its.it_value.tv_sec = next / 1000;
		its.it_value.tv_nsec = (next % 1000) * 1000000;
	}
	timerfd_settime(timer_conn.fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void ensure_notify(void)
{
	int want = TN_NOTIFY_KEYEVENT | TN_NOTIFY_EXPIRED;

	if ((tn_conf->notify_keyspace_events & want) == want)
		return;
	tn_lock(&tn_seg->config_lock);
	tn_conf->notify_keyspace_events |= want;
	tn_unlock(&tn_seg->config_lock);
	tn_notice("scheduler: notify-keyspace-events now includes E and x "
		  "(worker TTL keys tell the scheduler of dead workers)");
}

static void on_signal(void)
{
	struct signalfd_siginfo si;

	while (read(signal_conn.fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			tn_log_reopen();
		} else {
			tn_notice("scheduler: shutting down");
			_exit(0);
		}
	}
}

void tn_sched_main(void)
{
	sigset_t set;
	struct epoll_event evs[128];
	struct epoll_event ev = {.events = EPOLLIN};
	int i, n;
	int64_t now;

	tn_child_init("scheduler", 'S');
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	ep = epoll_create1(EPOLL_CLOEXEC);
	signal_conn.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	signal_conn.kind = SC_SIGNAL;
	timer_conn.fd = timerfd_create(CLOCK_REALTIME,
				       TFD_NONBLOCK | TFD_CLOEXEC);
	timer_conn.kind = SC_TIMER;
	if (ep < 0 || signal_conn.fd < 0 || timer_conn.fd < 0) {
		tn_warn("scheduler: cannot create epoll/signalfd/timerfd: %s",
			strerror(errno));
		_exit(1);
	}
	ev.data.ptr = &signal_conn;
	epoll_ctl(ep, EPOLL_CTL_ADD, signal_conn.fd, &ev);
	ev.data.ptr = &timer_conn;
	epoll_ctl(ep, EPOLL_CTL_ADD, timer_conn.fd, &ev);
	wake_conn.fd = tn_rt.shard_wake[tn_rt.nshards];
	wake_conn.kind = SC_WAKE;
	ev.data.ptr = &wake_conn;
	epoll_ctl(ep, EPOLL_CTL_ADD, wake_conn.fd, &ev);
	for (i = 0; i < tn_rt.ntitan; i++) {
		fcntl(tn_rt.titan_fd[i], F_SETFL,
		      fcntl(tn_rt.titan_fd[i], F_GETFL) | O_NONBLOCK);
		if (!conn_add(tn_rt.titan_fd[i], SC_LISTEN))
			tn_warn("scheduler: cannot watch titan socket %d: %s",
				tn_rt.titan_fd[i], strerror(errno));
	}
	sched_log_max_bytes = tn_conf->job_log_max_bytes;
	sched_store_init();
	sched_v1_init();
	web_conn.fd = tn_web_sched_start();
	ev.data.ptr = &web_conn;
	if (web_conn.fd >= 0)
		epoll_ctl(ep, EPOLL_CTL_ADD, web_conn.fd, &ev);
	sched_timer_init(&sub_retry, sub_retry_fn);
	ensure_notify();
	now = tn_mstime();
	n = sched_recover(now);
	if (n > 0)
		tn_notice("scheduler: recovered %d unfinished jobs from the "
			  "keyspace",
			  n);
	sub_start();
	tn_notice("scheduler: ready on titan-port %d", tn_conf->titan_port);
	for (;;) {
		int wait_ms;
		bool held;

		sched_kick(tn_mstime());
		held = output_held();
		if (!held)
			flush_dirty();
		free_dead();
		arm_timer();
		wait_ms = tn_web_tick();
		n = epoll_wait(ep, evs, (int)TN_ARRAY_SIZE(evs), wait_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			tn_warn("scheduler: epoll_wait failed: %s",
				strerror(errno));
			_exit(1);
		}
		for (i = 0; i < n; i++) {
			struct sconn *c = evs[i].data.ptr;

			if (c == &web_conn) {
				tn_web_on_event();
				continue;
			}
			if (c->dead)
				continue;
			switch (c->kind) {
			case SC_LISTEN:
				accept_all(c);
				break;
			case SC_SIGNAL:
				on_signal();
				break;
			case SC_WAKE: {
				uint64_t ticks;

				/* output_held() looks at `durable` next */
				if (read(c->fd, &ticks, sizeof(ticks)) < 0 &&
				    errno != EAGAIN)
					tn_warn("scheduler: wake eventfd read: %s",
						strerror(errno));
				break;
			}
			case SC_TIMER: {
				uint64_t ticks;

				if (read(c->fd, &ticks, sizeof(ticks)) < 0 &&
				    errno != EAGAIN)
					tn_warn("scheduler: timerfd read: %s",
						strerror(errno));
				armed_at = -1;
				sched_timers_run(tn_mstime());
				break;
			}
			case SC_V1OUT:
				if (evs[i].events & EPOLLOUT)
					conn_flush(c);
				if (!c->dead &&
				    (evs[i].events & (EPOLLIN | EPOLLHUP)))
					v1out_read(c);
				else if (!c->dead && (evs[i].events & EPOLLERR))
					conn_close(c);
				break;
			case SC_SUB:
				if (evs[i].events & EPOLLOUT)
					conn_flush(c);
				if (!c->dead && (evs[i].events &
						 (EPOLLIN | EPOLLHUP | EPOLLERR)))
					sub_read(c);
				break;
			default:
				if (evs[i].events & EPOLLOUT)
					conn_flush(c);
				if (!c->dead && (evs[i].events &
						 (EPOLLIN | EPOLLHUP | EPOLLERR)))
					client_read(c);
				break;
			}
		}
	}
}
