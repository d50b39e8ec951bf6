/*
 * shard.c - a shard process: an epoll loop over the clients the acceptor
 * hands it.  It reads, parses RESP, runs commands on the shared keyspace
 * through tn_dispatch, writes replies, and runs the periodic work (active
 * expiry of the stripes it owns, idle timeouts, CLIENT KILL requests).
 * Under appendfsync always a client's replies wait until the journal has
 * made its writes durable, and a client in WAIT is parked until enough
 * replicas acknowledge its writes, while the loop serves everyone else.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "ipc/ipc.h"
#include "journal/repl.h"
#include "shm/shm.h"
#include "store/store.h"
#include "util/util.h"

#define TN_READ_CHUNK (16 * 1024)
#define TN_SHUTDOWN_FLUSH_MS 2000
#define TN_OUT_SHRINK_BYTES (64 * 1024)
/* held replies: how long to sleep before looking at `durable` again if
 * the journal's wake never comes (it restarts) */
#define TN_HOLD_RECHECK_MS 1000

/* Tags for epoll data that are not clients (clients are pointers). */
#define TAG_HANDOFF ((void *)1)
#define TAG_WAKE ((void *)2)
#define TAG_TIMER ((void *)3)

static int shard_index;
static int ep = -1;
static int timer_fd = -1;
static volatile sig_atomic_t shard_stop;
static volatile sig_atomic_t shard_reopen_log;
static struct proc_shm *me;

/* Output that waits for the log: stream bytes below `end` may be sent
 * once `durable` reaches `pos`. */
struct hold {
	uint64_t end;
	uint64_t pos;
};

/* The shard's lists of clients: every one, those holding replies for
 * the log (appendfsync always), those parked in WAIT. */
enum { L_ALL, L_HELD, L_WAIT, NLISTS };

struct link {
	struct shard_client *prev, *next;
};

struct shard_client {
	struct tn_client c;
	struct link link[NLISTS];
	bool want_write;
	/*
	 * appendfsync always.  Output is a stream: `sent` bytes of it went
	 * out, and stream byte i is at out.off + (i - sent) (the buffer may
	 * be compacted).  Up to `free_end` it may go now, the rest waits for
	 * the holds (the second one absorbs later commands).
	 */
	uint64_t sent;
	uint64_t free_end;
	struct hold hold[2];
	int nhold;
	/* log position past its last logged write, for WAIT */
	uint64_t wpos;
	/* parked in WAIT: its input stays buffered until the reply */
	bool parked;
	struct tn_repl_wait wait;
};

static struct shard_client *head[NLISTS];

static void list_push(int l, struct shard_client *sc)
{
	sc->link[l].prev = NULL;
	sc->link[l].next = head[l];
	if (head[l])
		head[l]->link[l].prev = sc;
	head[l] = sc;
}

static void list_unlink(int l, struct shard_client *sc)
{
	struct link *k = &sc->link[l];

	if (k->prev)
		k->prev->link[l].next = k->next;
	else
		head[l] = k->next;
	if (k->next)
		k->next->link[l].prev = k->prev;
	k->prev = k->next = NULL;
}

static void run_input(struct shard_client *sc);

static void on_term(int sig)
{
	shard_stop = 1;
}

static void on_hup(int sig)
{
	shard_reopen_log = 1;
}

static void format_addr(const struct sockaddr_storage *ss, bool is_unix,
			char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (is_unix || ss->ss_family == AF_UNIX) {
		const struct sockaddr_un *su = (const void *)ss;

		snprintf(out, outlen, "%.56s:0",
			 su->sun_path[0] ? su->sun_path : tn_conf->unixsocket);
		return;
	}
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
		snprintf(out, outlen, "%s:%d", ip, ntohs(s4->sin_port));
	} else {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
		snprintf(out, outlen, "%s:%d", ip, ntohs(s6->sin6_port));
	}
}

/* Claim a client_shm slot so CLIENT LIST/KILL in any shard can see us. */
static uint32_t claim_slot(uint64_t id)
{
	static uint32_t hint;
	uint32_t i, n = tn_seg->nclients;

	for (i = 0; i < n; i++) {
		uint32_t s = (hint + i) % n;
		uint64_t expect = 0;
		struct client_shm *cs = tn_client_slot(s);

		if (atomic_compare_exchange_strong(&cs->id, &expect, id)) {
			hint = s + 1;
			return s;
		}
	}
	return UINT32_MAX;
}

struct client_shm *tn_shard_slot(struct tn_client *c)
{
	return c->slot == UINT32_MAX ? NULL : tn_client_slot(c->slot);
}

static void held_unlink(struct shard_client *sc)
{
	list_unlink(L_HELD, sc);
	sc->nhold = 0;
}

/* Stream position of the end of what the client's output holds now. */
static uint64_t out_end(const struct shard_client *sc)
{
	return sc->sent + tn_buf_pending(&sc->c.out);
}

/*
 * A command whose reply ends the output now logged a record ending at
 * `pos`: hold the output from `start` on until it is durable.
 */
static void hold_add(struct shard_client *sc, uint64_t start, uint64_t pos)
{
	struct hold h = {.end = out_end(sc), .pos = pos};

	if (sc->nhold == 0) {
		sc->free_end = start;
		sc->hold[0] = h;
		sc->nhold = 1;
		list_push(L_HELD, sc);
	} else if (sc->nhold == 1) {
		sc->hold[1] = h;
		sc->nhold = 2;
	} else {
		sc->hold[1].end = h.end;
		sc->hold[1].pos = TN_MAX(sc->hold[1].pos, pos);
	}
}

/* How many bytes of the buffer may be written now. */
static size_t sendable(struct shard_client *sc)
{
	struct tn_buf *o = &sc->c.out;
	uint64_t durable;

	if (tn_likely(!sc->nhold))
		return tn_buf_pending(o);
	durable = atomic_load(&tn_elog()->durable);
	while (sc->nhold && sc->hold[0].pos <= durable) {
		sc->free_end = sc->hold[0].end;
		sc->hold[0] = sc->hold[1];
		sc->nhold--;
	}
	if (!sc->nhold) {
		held_unlink(sc);
		return tn_buf_pending(o);
	}
	return (size_t)(sc->free_end - sc->sent);
}

/* What CLIENT LIST (flags=b) and INFO (blocked_clients) show of a WAIT. */
static void set_blocked(struct shard_client *sc, bool on)
{
	struct client_shm *cs = tn_shard_slot(&sc->c);

	if (on) {
		sc->c.flags |= TN_CLIENT_BLOCKED;
		me->blocked++;
	} else {
		sc->c.flags &= ~TN_CLIENT_BLOCKED;
		me->blocked--;
	}
	if (cs)
		cs->flags = sc->c.flags;
}

static void wait_unlink(struct shard_client *sc)
{
	list_unlink(L_WAIT, sc);
	sc->parked = false;
	set_blocked(sc, false);
}

int tn_shard_wait_park(struct tn_client *c, const struct tn_repl_wait *w)
{
	struct shard_client *sc = c->loop_data;

	if (!sc || sc->parked)
		return -ENOTSUP;
	sc->wait = *w;
	sc->parked = true;
	set_blocked(sc, true);
	list_push(L_WAIT, sc);
	return 0;
}

uint64_t tn_shard_client_wpos(const struct tn_client *c)
{
	const struct shard_client *sc = c->loop_data;

	return sc ? sc->wpos : 0;
}

static void client_free(struct shard_client *sc)
{
	struct tn_client *c = &sc->c;
	struct client_shm *cs = tn_shard_slot(c);

	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (sc->nhold)
		held_unlink(sc);
	if (sc->parked)
		wait_unlink(sc);
	list_unlink(L_ALL, sc);
	tn_client_release(c);
	if (cs) {
		cs->kill = 0;
		/* before the release: the supervisor frees the slots of a
		 * dead shard by this field, and a slot claimed anew must not
		 * look like one of those */
		cs->shard = -1;
		atomic_store(&cs->id, 0);
	}
	tn_buf_free(&c->in);
	tn_buf_free(&c->out);
	tn_resp_req_free(&c->req);
	free(c->khash);
	free(sc);
	me->clients--;
}

static void adopt(int fd, const struct tn_handoff *h)
{
	struct shard_client *sc = calloc(1, sizeof(*sc));
	struct tn_client *c;
	struct client_shm *cs;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct epoll_event ev;

	if (!sc) {
		close(fd);
		me->clients--;
		return;
	}
	c = &sc->c;
	c->fd = fd;
	c->resp = 2;
	c->id = atomic_fetch_add(&tn_seg->next_client_id, 1);
	c->authenticated = tn_conf->requirepass[0] == '\0';
	c->ctime_ms = c->last_ms = tn_mstime();
	c->reply.out = &c->out;
	c->reply.resp = 2;
	c->req.bulk_len = -1;
	c->loop_data = sc;
	if (h->is_unix)
		c->flags |= TN_CLIENT_UNIX;
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		format_addr(&ss, h->is_unix, c->addr, sizeof(c->addr));
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		format_addr(&ss, h->is_unix, c->laddr, sizeof(c->laddr));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	c->slot = claim_slot(c->id);
	cs = tn_shard_slot(c);
	if (cs) {
		cs->shard = shard_index;
		cs->fd = fd;
		cs->db = 0;
		cs->resp = 2;
		cs->flags = c->flags;
		cs->ctime_ms = c->ctime_ms;
		cs->last_ms = c->last_ms;
		cs->name[0] = '\0';
		cs->qbuf = cs->obuf = 0;
		strcpy(cs->lastcmd, "NULL");
		snprintf(cs->addr, sizeof(cs->addr), "%s", c->addr);
		snprintf(cs->laddr, sizeof(cs->laddr), "%s", c->laddr);
	}
	list_push(L_ALL, sc);
	me->connections++;
	ev.events = EPOLLIN;
	ev.data.ptr = sc;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		client_free(sc);
}

static void handoff_ready(void)
{
	struct tn_handoff h;
	ssize_t n;
	int fd;

	for (;;) {
		n = tn_fd_recv(tn_rt.shard_sock[shard_index], &fd, &h,
			       sizeof(h));
		if (n <= 0)
			return;
		if (fd < 0)
			continue;
		if (n != sizeof(h))
			memset(&h, 0, sizeof(h));
		adopt(fd, &h);
	}
}

static void set_want_write(struct shard_client *sc, bool want)
{
	struct epoll_event ev;

	if (sc->want_write == want)
		return;
	sc->want_write = want;
	ev.events = EPOLLIN | (want ? EPOLLOUT : 0);
	ev.data.ptr = sc;
	epoll_ctl(ep, EPOLL_CTL_MOD, sc->c.fd, &ev);
}

/* Write what we can; returns -1 if the client is to be freed. */
static int client_write(struct shard_client *sc)
{
	struct tn_client *c = &sc->c;
	struct tn_buf *o = &c->out;
	size_t may = sendable(sc);
	ssize_t n;

	while (may) {
		n = write(c->fd, o->data + o->off, may);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			return -1;
		}
		o->off += n;
		sc->sent += (uint64_t)n;
		may -= (size_t)n;
		me->net_out += n;
	}
	if (!tn_buf_pending(o)) {
		/* kept for the next burst; check_clients() gives back a
		 * big one the client no longer needs */
		o->off = o->len = 0;
		set_want_write(sc, false);
		if (c->flags & TN_CLIENT_CLOSE_AFTER_REPLY)
			return -1;
	} else {
		/* held output is sent when the journal wakes us, not when
		 * the socket is writable */
		set_want_write(sc, may > 0);
	}
	return 0;
}

/* Send what the log's progress released; before sleeping, say that we
 * wait (the journal wakes each waiting shard once per durable advance). */
static void flush_held(void)
{
	struct elog_shm *l = tn_elog();
	struct shard_client *sc, *next;

	if (!head[L_HELD])
		return;
	atomic_fetch_or(&l->shard_waiting, 1u << (shard_index & 31));
	/* after the bit: a durable advance the journal made before seeing
	 * it is read here */
	for (sc = head[L_HELD]; sc; sc = next) {
		next = sc->link[L_HELD].next;
		if (client_write(sc) < 0)
			client_free(sc);
	}
}

/*
 * Answer the parked clients whose WAIT is over, then run what each
 * pipelined behind it.  Before looking, say what is to wake us (seq_cst
 * with the writers' store-then-claim): a replica ACK, and the journal's
 * durable advance while a client's writes are not in the stream yet.
 * Returns how long epoll may sleep (-1: until woken).
 */
static int check_waiters(void)
{
	uint32_t bit = 1u << (shard_index & 31);
	struct shard_client *sc, *next;
	int64_t now, nearest = 0;
	long long acked;
	bool unfed = false;

	if (!head[L_WAIT])
		return -1;
	for (sc = head[L_WAIT]; sc; sc = sc->link[L_WAIT].next)
		unfed |= !sc->wait.fed;
	atomic_fetch_or(&tn_seg->repl_ack_waiting, bit);
	if (unfed)
		atomic_fetch_or(&tn_elog()->shard_waiting, bit);
	now = tn_mstime();
	for (sc = head[L_WAIT]; sc; sc = next) {
		next = sc->link[L_WAIT].next;
		if (tn_is_replica()) {
			/* REPLICAOF: as Redis, the waiters are told and let go
			 * (seen here at the latest at the recheck) */
			wait_unlink(sc);
			tn_reply_error(&sc->c.reply,
				       "UNBLOCKED force unblock from blocking "
				       "operation, instance state changed "
				       "(master -> replica?)");
			sc->c.flags |= TN_CLIENT_CLOSE_AFTER_REPLY;
			run_input(sc);
			continue;
		}
		if (!tn_repl_wait_check(&sc->wait, now, &acked)) {
			if (sc->wait.deadline_ms &&
			    (!nearest || sc->wait.deadline_ms < nearest))
				nearest = sc->wait.deadline_ms;
			continue;
		}
		wait_unlink(sc);
		tn_reply_int(&sc->c.reply, acked);
		/* frees or parks again only sc itself, never `next` */
		run_input(sc);
	}
	if (!head[L_WAIT]) {
		atomic_fetch_and(&tn_seg->repl_ack_waiting, ~bit);
		return -1;
	}
	/* a wake lost to a journal restart costs at most this */
	if (!nearest || nearest - now > TN_HOLD_RECHECK_MS)
		return TN_HOLD_RECHECK_MS;
	return (int)(nearest - now);
}

/*
 * Pub/sub wrote to this client's output buffer: send it now.  One that
 * must go is not freed here (later events of this epoll batch may name
 * it): shut down, it reads EOF and is freed on its next event.
 */
static void pubsub_flush_one(struct tn_client *c)
{
	struct shard_client *sc = c->loop_data;

	if (!(c->flags & TN_CLIENT_CLOSE_ASAP) && client_write(sc) == 0)
		return;
	c->flags |= TN_CLIENT_CLOSE_ASAP;
	shutdown(c->fd, SHUT_RDWR);
}

/* Fan out what the inbox holds to this shard's subscribers. */
static void pubsub_deliver(void)
{
	tn_pubsub_drain();
	tn_pubsub_flush(pubsub_flush_one);
}

static void process_input(struct shard_client *sc)
{
	struct tn_client *c = &sc->c;
	struct tn_resp_limits lim;
	char err[256];
	int rc;

	lim.max_bulk = tn_conf->proto_max_bulk_len;
	lim.max_query = tn_conf->client_query_buffer_limit;
	/* a parked client's next commands run after its WAIT reply */
	while (!(c->flags & (TN_CLIENT_CLOSE_AFTER_REPLY |
			     TN_CLIENT_CLOSE_ASAP)) &&
	       !sc->parked && tn_buf_pending(&c->in)) {
		lim.authenticated = c->authenticated;
		rc = tn_resp_parse(&c->req, &c->in, &lim, err, sizeof(err));
		if (rc == TN_RESP_MORE)
			break;
		if (rc == TN_RESP_ERROR) {
			tn_reply_error(&c->reply, err);
			c->flags |= TN_CLIENT_CLOSE_AFTER_REPLY;
			tn_verbose("closing client %s: %s", c->addr, err);
			break;
		}
		if (rc == TN_RESP_DONE) {
			uint64_t start = out_end(sc), pos;

			c->last_ms = tn_mstime();
			tn_dispatch(c, c->req.argv, (int)c->req.argc,
				    shard_index);
			pos = tn_effect_take_pos();
			if (pos)
				sc->wpos = pos;
			if (pos && tn_conf->appendfsync == TN_FSYNC_ALWAYS)
				hold_add(sc, start, pos);
		}
		tn_resp_req_reset(&c->req);
	}
	tn_buf_compact(&c->in);
}

static void client_readable(struct shard_client *sc)
{
	struct tn_client *c = &sc->c;
	size_t want = TN_READ_CHUNK;
	ssize_t n;
	struct client_shm *cs = tn_shard_slot(c);

	/* CLIENT KILL from another shard: no command of ours runs after it */
	if (cs && cs->kill) {
		client_free(sc);
		return;
	}

	/* a big bulk in progress: read it in one go where we can */
	if (c->req.bulk_len > TN_MBULK_BIG_ARG)
		want = TN_MAX((size_t)c->req.bulk_len + 2, want);
	if (tn_buf_reserve(&c->in, want) < 0) {
		client_free(sc);
		return;
	}
	n = read(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		client_free(sc);
		return;
	}
	if (n < 0)
		return;
	c->in.len += n;
	me->net_in += n;
	if (sc->parked) {
		/* kept for after the WAIT reply, within the query limit */
		if ((long long)tn_buf_pending(&c->in) >
		    tn_conf->client_query_buffer_limit) {
			tn_warn("closing client %s parked in WAIT: its "
				"pipelined commands passed "
				"client-query-buffer-limit (%zu bytes); raise "
				"the limit or pipeline less",
				c->addr, tn_buf_pending(&c->in));
			client_free(sc);
		}
		return;
	}
	run_input(sc);
}

/* Run the client's buffered commands and send what they replied. */
static void run_input(struct shard_client *sc)
{
	struct tn_client *c = &sc->c;

	process_input(sc);
	tn_client_sync_slot(c);
	/* it published to this shard, or its commands wrote to others */
	if (tn_pubsub_pending())
		pubsub_deliver();
	tn_client_obuf_limit_reached(c, c->last_ms);
	if (c->reply.oom || (c->flags & TN_CLIENT_CLOSE_ASAP)) {
		client_free(sc);
		return;
	}
	if (client_write(sc) < 0)
		client_free(sc);
}

/* CLIENT KILL flags; from the cron also idle timeouts and big output
 * buffers no longer in use. */
static void check_clients(int64_t now, bool cron)
{
	struct shard_client *sc, *next;

	for (sc = head[L_ALL]; sc; sc = next) {
		struct client_shm *cs = tn_shard_slot(&sc->c);

		next = sc->link[L_ALL].next;
		if ((cs && cs->kill) || (sc->c.flags & TN_CLIENT_CLOSE_ASAP)) {
			client_free(sc);
			continue;
		}
		if (!cron)
			continue;
		if (sc->c.out.cap > TN_OUT_SHRINK_BYTES &&
		    !tn_buf_pending(&sc->c.out))
			tn_buf_free(&sc->c.out);
		/* as Redis, subscribers wait for messages without a limit,
		 * and a client in WAIT is not idle */
		if (tn_conf->timeout_s > 0 && !sc->parked &&
		    now - sc->c.last_ms > (int64_t)tn_conf->timeout_s * 1000 &&
		    !tn_buf_pending(&sc->c.out) &&
		    !tn_pubsub_subscribed(&sc->c)) {
			tn_verbose("closing idle client %s", sc->c.addr);
			client_free(sc);
		}
	}
}

static void cron(void)
{
	uint64_t ticks;
	int64_t now = tn_mstime();
	int64_t budget_us;

	if (read(timer_fd, &ticks, sizeof(ticks)) < 0) {
		/* spurious wakeup */
	}
	if (getppid() != tn_rt.pid_supervisor) {
		shard_stop = 1;
		return;
	}
	/* Redis spends at most 25% of each cron period on active expiry */
	budget_us = 250000 / TN_MAX(tn_conf->hz, 1);
	tn_expire_cycle(shard_index, tn_rt.nshards, budget_us);
	/* expired keys' records: no client waits for them */
	tn_effect_take_pos();
	tn_stats_cron(now);
	/* expired keys announced to this shard's own subscribers */
	if (tn_pubsub_pending())
		pubsub_deliver();
	check_clients(now, true);
	/* CONFIG SET loglevel in any process reaches every process here */
	tn_log_set_level(tn_conf->loglevel);
}

static void arm_timer(void)
{
	struct itimerspec its = {0};
	long period_ns = 1000000000L / TN_MAX(tn_conf->hz, 1);

	its.it_interval.tv_sec = period_ns / 1000000000L;
	its.it_interval.tv_nsec = period_ns % 1000000000L;
	its.it_value = its.it_interval;
	timerfd_settime(timer_fd, 0, &its, NULL);
}

/* Send what is pending to every client, for a bounded time, then close. */
static void shutdown_clients(void)
{
	int64_t deadline = tn_mstime() + TN_SHUTDOWN_FLUSH_MS;
	struct shard_client *sc, *next;
	bool pending = true;

	while (pending && tn_mstime() < deadline) {
		pending = false;
		for (sc = head[L_ALL]; sc; sc = next) {
			next = sc->link[L_ALL].next;
			if (!tn_buf_pending(&sc->c.out))
				continue;
			if (client_write(sc) < 0)
				client_free(sc);
			else if (tn_buf_pending(&sc->c.out))
				pending = true;
		}
		if (pending)
			usleep(1000);
	}
	while (head[L_ALL])
		client_free(head[L_ALL]);
}

void tn_shard_main(int index)
{
	struct epoll_event ev, evs[256];
	sigset_t unblock;
	char title[32];
	int hz = tn_conf->hz;
	int i, n;

	shard_index = index;
	tn_rt.shard = index;
	snprintf(title, sizeof(title), "shard %d", index);
	tn_child_init(title, 'S');
	signal(SIGTERM, on_term);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, on_hup);
	/* handlers in: take what tn_child_init held back */
	sigemptyset(&unblock);
	sigprocmask(SIG_SETMASK, &unblock, NULL);
	me = tn_proc(TN_PROC_SHARD0 + index);
	me->pid = getpid();

	ep = epoll_create1(EPOLL_CLOEXEC);
	timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (ep < 0 || timer_fd < 0)
		_exit(1);
	arm_timer();
	/* handoff_ready() drains the socket until it would block */
	fcntl(tn_rt.shard_sock[index], F_SETFL,
	      fcntl(tn_rt.shard_sock[index], F_GETFL) | O_NONBLOCK);
	for (i = 0; i < tn_rt.nlisten; i++)
		close(tn_rt.listen_fd[i]);
	ev.events = EPOLLIN;
	ev.data.ptr = TAG_HANDOFF;
	epoll_ctl(ep, EPOLL_CTL_ADD, tn_rt.shard_sock[index], &ev);
	/* edge-triggered: every write to the eventfd is an event, so its
	 * counter need not be read back (one syscall less per wake-up; it
	 * would take 2^64 wakes to saturate) */
	ev.events = EPOLLIN | EPOLLET;
	ev.data.ptr = TAG_WAKE;
	epoll_ctl(ep, EPOLL_CTL_ADD, tn_rt.shard_wake[index], &ev);
	ev.events = EPOLLIN;
	ev.data.ptr = TAG_TIMER;
	epoll_ctl(ep, EPOLL_CTL_ADD, timer_fd, &ev);
	/* connections handed to us from now on wait in the channel until
	 * the loop starts: better than refusing them at start-up */
	me->alive = 1;

	/* one journal wake per round of the loop, not one per command */
	tn_elog_defer_wakes(true);
	while (!shard_stop) {
		bool woken = false, ticked = false;
		int wait_ms;

		/* nothing published this round waits for another */
		if (tn_pubsub_pending())
			pubsub_deliver();
		wait_ms = check_waiters();
		tn_elog_flush_wakes();
		flush_held();
		if (head[L_HELD] && (wait_ms < 0 || wait_ms > TN_HOLD_RECHECK_MS))
			wait_ms = TN_HOLD_RECHECK_MS;
		n = epoll_wait(ep, evs, TN_ARRAY_SIZE(evs), wait_ms);
		/*
		 * Every event of the batch is handled: the wake-up and the
		 * timer, which may free clients that later events name, are
		 * dealt with after the loop.
		 */
		for (i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;
			struct shard_client *sc = tag;

			if (tag == TAG_HANDOFF) {
				handoff_ready();
			} else if (tag == TAG_WAKE) {
				woken = true;
			} else if (tag == TAG_TIMER) {
				ticked = true;
			} else if (evs[i].events & (EPOLLERR | EPOLLHUP) &&
				   !(evs[i].events & EPOLLIN)) {
				/* one event per fd per batch: none later
				 * names it */
				client_free(sc);
			} else {
				if (evs[i].events & EPOLLOUT) {
					if (client_write(sc) < 0) {
						client_free(sc);
						continue;
					}
				}
				if (evs[i].events & EPOLLIN) {
					/* may free sc: later events of this
					 * batch never refer to it (one
					 * event per fd per batch) */
					client_readable(sc);
				}
			}
		}
		if (woken) {
			check_clients(tn_mstime(), false);
			pubsub_deliver();
		}
		if (ticked) {
			cron();
			if (hz != tn_conf->hz) {
				hz = tn_conf->hz;
				arm_timer();
			}
		}
		if (shard_reopen_log) {
			shard_reopen_log = 0;
			tn_log_reopen();
		}
	}
	tn_elog_defer_wakes(false);
	me->alive = 0;
	shutdown_clients();
	close(timer_fd);
	close(ep);
	_exit(0);
}
