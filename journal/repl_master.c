/*
 * repl_master.c - the master side of replication, a thread of the journal
 * process: it owns the replicas' sockets (the shards hand them over after
 * PSYNC/SYNC), keeps the backlog of the replication stream (the effect
 * records the drain thread writes to the AOF, as Redis' command stream),
 * and serves full syncs (an RDB snapshot made by a helper thread, sent
 * disk-less with an EOF mark or as a sized bulk) and partial ones.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "ipc/ipc.h"
#include "journal/journal.h"
#include "journal/repl.h"
#include "shm/shm.h"
#include "util/util.h"

#define RM_TICK_MS 100
#define RM_RDB_CHUNK (256u * 1024) /* read this much of a snapshot at once */
#define RM_RDB_HIGH (4u * RM_RDB_CHUNK) /* stop reading it above this */
#define RM_IN_MAX (64u * 1024) /* a replica only sends REPLCONF ACK */
#define RM_NEWLINE_MS 1000 /* keep-alive while a disk snapshot is made */

#define RM_PING "*1\r\n$4\r\nPING\r\n"
#define RM_GETACK "*3\r\n$8\r\nREPLCONF\r\n$6\r\nGETACK\r\n$1\r\n*\r\n"

enum { TAG_HANDOFF, TAG_WAKE, TAG_SOCK, TAG_RDB };

struct ep_tag {
	int kind;
	int index; /* TAG_HANDOFF: the shard */
	struct replica *r;
	struct snapjob *job; /* TAG_RDB */
};

/*
 * One snapshot for the full syncs of every replica attached to it (its
 * members: the replicas whose `job` it is).  References: the thread, the
 * repl thread's side until the pipe is closed and reaped, each member.
 */
struct snapjob {
	_Atomic int refs;
	_Atomic int rc; /* 1 while running, then 0 or -errno */
	int wfd; /* pipe: the RDB (disk-less) or only its end (disk) */
	int file_fd; /* the unlinked temp file (disk) */
	bool disk;
	/* the repl thread's side */
	int rfd; /* the pipe's read end, -1 once closed */
	bool paused;
	bool closed; /* rfd closed: reaped at the end of the round */
	uint64_t start; /* the stream offset the snapshot goes with */
	struct ep_tag tag;
	struct snapjob *next;
};

struct replica {
	int fd;
	int slot; /* in tn_seg->repl_replicas */
	int state; /* enum tn_repl_state */
	uint32_t capa;
	bool sync; /* old SYNC: no +FULLRESYNC line */
	bool started; /* the snapshot was started (or not needed) */
	char addr[64];
	uint64_t pos; /* next stream byte to send, 0-based */
	struct snapjob *job;
	/* disk-less: waiting for the snapshot that the replicas asking
	 * meanwhile will share (repl-diskless-sync-delay) */
	bool queued;
	int64_t queued_ms;
	off_t file_off, file_size;
	char eofmark[TN_REPL_ID_LEN + 1];
	struct tn_buf pre; /* what goes before the stream: replies, RDB */
	struct tn_buf in;
	struct tn_resp_req req;
	int64_t last_io_ms, last_newline_ms, soft_since_ms;
	bool want_write;
	bool await_ack; /* disk-less: the stream waits for the first ACK,
			 * or it would run into the RDB's end mark */
	bool dead;
	struct ep_tag sock_tag;
	struct replica *next;
};

static struct {
	pthread_mutex_t mu;
	char *ring; /* the stream's bytes [lo, off), at i & (cap - 1) */
	uint64_t cap;
	uint64_t lo;
	uint64_t off; /* master_repl_offset */
	bool active; /* a backlog exists: effects flow */
	bool boundary; /* the stream ends between two commands */
	bool ping_due, getack_due;
	int64_t idle_since_ms;
	int64_t last_ping_ms;
	struct replica *list;
	int nrep;
	struct snapjob *jobs;
	int njobs; /* ever started: names their temp files */
	char *chunk; /* RM_RDB_CHUNK bytes read from a snapshot pipe */
	int ep;
	struct ep_tag handoff_tags[TN_MAX_SHARDS];
	struct ep_tag wake_tag;
} R = {.mu = PTHREAD_MUTEX_INITIALIZER, .boundary = true};

static void new_replid(char *out)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[TN_REPL_ID_LEN / 2];
	size_t i;

	arc4random_buf(raw, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[TN_REPL_ID_LEN] = '\0';
}

static uint64_t backlog_size(void)
{
	long long s = tn_conf->repl_backlog_size;

	return s > 0 ? (uint64_t)s : 1;
}

static uint64_t histlen(void)
{
	uint64_t h = R.off - R.lo;

	return h < backlog_size() ? h : backlog_size();
}

static void publish_stream(void)
{
	atomic_store(&tn_seg->repl_backlog_histlen, R.active ? histlen() : 0);
	atomic_store(&tn_seg->master_repl_offset, R.off);
}

/* ------------------------------------------------------------------ */
/* The stream and its backlog                                          */
/* ------------------------------------------------------------------ */

/* The oldest byte to keep once the stream reaches `end`: the backlog's
 * worth, and what a replica within its output limit still needs. */
static uint64_t keep_from(uint64_t end)
{
	long long hard = tn_conf->obuf_limit[TN_OBUF_REPLICA].hard_bytes;
	uint64_t k = end > backlog_size() ? end - backlog_size() : 0;
	struct replica *r;

	for (r = R.list; r; r = r->next)
		if (!r->dead && r->started && r->pos >= R.lo && r->pos < k &&
		    (hard <= 0 || end - r->pos <= (uint64_t)hard))
			k = r->pos;
	return k < R.lo ? R.lo : k;
}

/* Make room for `len` more bytes; false when memory runs out. */
static bool ring_reserve(uint64_t len)
{
	uint64_t keep = keep_from(R.off + len), need = R.off + len - keep;
	uint64_t cap = R.cap ? R.cap : 4096, i;
	char *n;

	if (need <= R.cap) {
		if (R.off + len - R.lo > R.cap)
			R.lo = R.off + len - R.cap;
		return true;
	}
	while (cap < need)
		cap <<= 1;
	n = malloc(cap);
	if (!n)
		return false;
	for (i = keep; i < R.off; i++)
		n[i & (cap - 1)] = R.ring[i & (R.cap - 1)];
	free(R.ring);
	R.ring = n;
	R.cap = cap;
	R.lo = keep;
	return true;
}

static void stream_append(const void *p, size_t len)
{
	const char *c = p;
	uint64_t at;
	size_t first;

	if (!len)
		return;
	if (!ring_reserve(len)) {
		/* the replicas cannot get these bytes: they resync */
		tn_warn("Out of memory growing the replication backlog to "
			"%llu bytes; dropping the replicas, they will resync",
			(unsigned long long)(R.off + len - R.lo));
		R.lo = R.off + len;
		R.off += len;
		return;
	}
	at = R.off & (R.cap - 1);
	first = TN_MIN(len, (size_t)(R.cap - at));
	memcpy(R.ring + at, c, first);
	memcpy(R.ring, c + first, len - first);
	R.off += len;
}

/* PING and GETACK go in between commands only. */
static void inject_due(void)
{
	if (!R.boundary)
		return;
	if (R.ping_due) {
		stream_append(RM_PING, strlen(RM_PING));
		R.ping_due = false;
	}
	if (R.getack_due) {
		stream_append(RM_GETACK, strlen(RM_GETACK));
		R.getack_due = false;
	}
}

static void wake_thread(void)
{
	uint64_t one = 1;

	if (write(tn_rt.repl_wake, &one, sizeof(one)) < 0) {
		/* the counter is full: the thread is awake anyway */
	}
}

static void replica_flush(struct replica *r);

/*
 * The drain thread sends the fresh bytes to the replicas that are
 * streaming itself: a hand-over to the replication thread would cost a
 * wake-up and a context switch per batch, which a loaded box pays in
 * replication lag.  The thread still serves full syncs, partial ones,
 * ACKs, and the sockets that were full (EPOLLOUT).
 */
void tn_repl_feed(const struct iovec *iov, int n)
{
	struct replica *r;
	bool wake = false;
	int i;

	if (n <= 0 || !atomic_load_explicit(&tn_seg->repl_backlog_active,
					    memory_order_relaxed))
		return;
	pthread_mutex_lock(&R.mu);
	if (R.active) {
		for (i = 0; i < n; i++)
			stream_append(iov[i].iov_base, iov[i].iov_len);
		R.boundary = !tn_elog_record_more(iov[n - 1].iov_base);
		inject_due();
		publish_stream();
	}
	for (r = R.list; r; r = r->next) {
		if (r->dead)
			continue;
		if (!r->started)
			wake = true; /* its full sync starts at a boundary */
		else if (r->state == TN_REPL_ONLINE && !r->await_ack &&
			 !r->want_write && !tn_buf_pending(&r->pre))
			replica_flush(r);
	}
	pthread_mutex_unlock(&R.mu);
	if (wake)
		wake_thread();
}

/* The first replica: from now on every write is logged for it. */
static void backlog_create(void)
{
	if (R.active)
		return;
	R.active = true;
	R.lo = R.off;
	R.boundary = true;
	atomic_store(&tn_seg->repl_backlog_active, 1);
	publish_stream();
}

static void backlog_free(void)
{
	atomic_store(&tn_seg->repl_backlog_active, 0);
	R.active = false;
	free(R.ring);
	R.ring = NULL;
	R.cap = 0;
	R.lo = R.off;
	/* the offsets of the old history mean nothing now */
	new_replid(tn_seg->master_replid);
	memset(tn_seg->master_replid2, '0', TN_REPL_ID_LEN);
	tn_seg->master_replid2[TN_REPL_ID_LEN] = '\0';
	atomic_store(&tn_seg->second_repl_offset, -1);
	publish_stream();
}

/* ------------------------------------------------------------------ */
/* Replica links                                                        */
/* ------------------------------------------------------------------ */

static struct repl_replica_shm *slot_of(const struct replica *r)
{
	return &tn_seg->repl_replicas[r->slot];
}

static void set_state(struct replica *r, int state)
{
	r->state = state;
	/* the timeout counts from the start of the stream */
	if (state == TN_REPL_ONLINE)
		r->last_io_ms = tn_mstime();
	atomic_store(&slot_of(r)->state, (uint32_t)state);
}

static void job_put(struct snapjob *j)
{
	if (atomic_fetch_sub(&j->refs, 1) != 1)
		return;
	if (j->file_fd >= 0)
		close(j->file_fd);
	free(j);
}

/* Stop reading the snapshot (its thread sees EPIPE if still writing);
 * the repl side's reference goes at the end of the round. */
static void job_close(struct snapjob *j)
{
	if (j->rfd >= 0) {
		close(j->rfd); /* leaves the epoll set with it */
		j->rfd = -1;
	}
	j->closed = true;
}

/* The live replica after r (the first when r is NULL) that waits for
 * job j's snapshot: its members, in turn; NULL after the last. */
static struct replica *member_next(const struct snapjob *j,
				   struct replica *r)
{
	for (r = r ? r->next : R.list; r; r = r->next)
		if (!r->dead && r->job == j)
			return r;
	return NULL;
}

static bool job_has_members(const struct snapjob *j)
{
	return member_next(j, NULL) != NULL;
}

/* Drop a link now (the caller holds the mutex); the struct goes at the
 * end of the round, when no event of this batch can name it. */
static void replica_drop(struct replica *r, const char *why)
{
	struct repl_replica_shm *s;

	if (r->dead)
		return;
	tn_notice("Connection with replica %s lost (%s).", r->addr, why);
	r->dead = true;
	close(r->fd);
	if (r->job) {
		struct snapjob *j = r->job;

		r->job = NULL;
		if (j->rfd >= 0 && !job_has_members(j))
			job_close(j);
		job_put(j);
	}
	s = slot_of(r);
	atomic_store(&s->state, TN_REPL_FREE);
	R.nrep--;
	atomic_store(&tn_seg->repl_nreplicas, R.nrep);
	if (!R.nrep)
		R.idle_since_ms = tn_mstime();
}

static void reap_dead(void)
{
	struct replica **pp = &R.list, *r;
	struct snapjob **jp = &R.jobs, *j;

	while ((j = *jp)) {
		if (!j->closed) {
			jp = &j->next;
			continue;
		}
		*jp = j->next;
		job_put(j);
	}

	while ((r = *pp)) {
		if (!r->dead) {
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		tn_buf_free(&r->pre);
		tn_buf_free(&r->in);
		tn_resp_req_free(&r->req);
		free(r);
	}
}

static void set_want_write(struct replica *r, bool want)
{
	struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0),
				 .data.ptr = &r->sock_tag};

	if (r->want_write == want)
		return;
	r->want_write = want;
	epoll_ctl(R.ep, EPOLL_CTL_MOD, r->fd, &ev);
}

static void job_pause(struct snapjob *j, bool pause)
{
	struct epoll_event ev = {.events = pause ? 0 : EPOLLIN,
				 .data.ptr = &j->tag};

	if (j->rfd < 0 || j->paused == pause)
		return;
	j->paused = pause;
	epoll_ctl(R.ep, EPOLL_CTL_MOD, j->rfd, &ev);
}

/* Send what we may; -1 when the link broke. */
static int send_bytes(struct replica *r, const char *p, size_t len,
		      size_t *sent)
{
	*sent = 0;
	while (len) {
		ssize_t n = send(r->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0)
			return -1;
		*sent += (size_t)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Disk snapshot done: read the file into `pre` a chunk at a time. */
static int file_refill(struct replica *r)
{
	size_t want;
	ssize_t n;

	if (r->state != TN_REPL_SEND_BULK ||
	    tn_buf_pending(&r->pre) >= RM_RDB_CHUNK)
		return 0;
	want = (size_t)TN_MIN((off_t)RM_RDB_CHUNK, r->file_size - r->file_off);
	if (want) {
		if (tn_buf_reserve(&r->pre, want) < 0)
			return -1;
		n = pread(r->job->file_fd, r->pre.data + r->pre.len, want,
			  r->file_off);
		if (n <= 0)
			return -1;
		r->pre.len += (size_t)n;
		r->file_off += n;
	}
	if (r->file_off == r->file_size) {
		tn_notice("Synchronization with replica %s succeeded",
			  r->addr);
		job_put(r->job);
		r->job = NULL;
		set_state(r, TN_REPL_ONLINE);
	}
	return 0;
}

/* Write what is pending: replies and RDB first, then the stream. */
static void replica_flush(struct replica *r)
{
	size_t sent;

	for (;;) {
		if (r->dead)
			return;
		if (tn_buf_pending(&r->pre)) {
			if (send_bytes(r, r->pre.data + r->pre.off,
				       tn_buf_pending(&r->pre), &sent) < 0) {
				replica_drop(r, "write error");
				return;
			}
			r->pre.off += sent;
			if (tn_buf_pending(&r->pre)) {
				set_want_write(r, true);
				return;
			}
			r->pre.off = r->pre.len = 0;
		}
		if (r->state == TN_REPL_SEND_BULK) {
			if (file_refill(r) < 0) {
				replica_drop(r, "cannot read the RDB file");
				return;
			}
			if (tn_buf_pending(&r->pre))
				continue;
		}
		/* (another member still full pauses it again) */
		if (r->job && r->job->paused)
			job_pause(r->job, false);
		break;
	}
	if (r->state != TN_REPL_ONLINE || r->await_ack) {
		set_want_write(r, false);
		return;
	}
	if (r->pos < R.lo) {
		replica_drop(r, "it fell out of the backlog");
		return;
	}
	while (r->pos < R.off) {
		uint64_t at = r->pos & (R.cap - 1);
		size_t len = (size_t)TN_MIN(R.off - r->pos, R.cap - at);

		if (send_bytes(r, R.ring + at, len, &sent) < 0) {
			replica_drop(r, "write error");
			return;
		}
		r->pos += sent;
		if (sent < len)
			break;
	}
	set_want_write(r, r->pos < R.off);
}

/* client-output-buffer-limit replica, as Redis applies it. */
static void check_limits(struct replica *r, int64_t now)
{
	const struct tn_obuf_limit *l = &tn_conf->obuf_limit[TN_OBUF_REPLICA];
	uint64_t used = tn_buf_pending(&r->pre) + (R.off - r->pos);
	bool hard = l->hard_bytes > 0 && used >= (uint64_t)l->hard_bytes;
	bool soft = l->soft_bytes > 0 && used >= (uint64_t)l->soft_bytes;

	if (!soft) {
		r->soft_since_ms = 0;
	} else if (!r->soft_since_ms) {
		r->soft_since_ms = now;
		soft = false;
	} else {
		soft = now - r->soft_since_ms > l->soft_s * 1000;
	}
	if (hard || soft) {
		tn_warn("Client %s (replica) scheduled to be closed ASAP for "
			"overcoming of output buffer limits.",
			r->addr);
		replica_drop(r, "output buffer limit");
	}
}

/* Shards with clients in WAIT look at the ACK offsets again (they set
 * their bit before they look: seq_cst with the store of ack_off). */
static void wake_ack_waiters(void)
{
	uint32_t bits = atomic_exchange(&tn_seg->repl_ack_waiting, 0);

	while (bits) {
		int i = __builtin_ctz(bits);

		bits &= bits - 1;
		if (i < tn_rt.nshards)
			tn_shard_wake(i);
	}
}

/* REPLCONF ACK <offset> [FACK <offset>]: all a replica says. */
static void replica_command(struct replica *r, const struct tn_arg *a,
			    size_t argc)
{
	long long off;

	if (argc >= 3 && a[0].len == 8 &&
	    strncasecmp(a[0].p, "replconf", 8) == 0 && a[1].len == 3 &&
	    strncasecmp(a[1].p, "ack", 3) == 0 &&
	    tn_str2ll(a[2].p, a[2].len, &off) && off >= 0) {
		struct repl_replica_shm *s = slot_of(r);

		if ((uint64_t)off > atomic_load(&s->ack_off)) {
			atomic_store(&s->ack_off, (uint64_t)off);
			wake_ack_waiters();
		}
		atomic_store(&s->ack_ms, tn_mstime());
		if (r->await_ack && r->state == TN_REPL_ONLINE) {
			r->await_ack = false;
			tn_notice("Streaming of the replication stream to %s "
				  "started after its first ACK",
				  r->addr);
		}
	}
}

static void replica_readable(struct replica *r)
{
	struct tn_resp_limits lim = {.max_bulk = 1024, .max_query = RM_IN_MAX,
				     .authenticated = true};
	char err[128];
	ssize_t n;
	int rc;

	if (tn_buf_reserve(&r->in, 4096) < 0) {
		replica_drop(r, "out of memory");
		return;
	}
	n = read(r->fd, r->in.data + r->in.len, r->in.cap - r->in.len);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		replica_drop(r, n == 0 ? "connection closed" : strerror(errno));
		return;
	}
	r->in.len += (size_t)n;
	r->last_io_ms = tn_mstime();
	for (;;) {
		rc = tn_resp_parse(&r->req, &r->in, &lim, err, sizeof(err));
		if (rc == TN_RESP_MORE)
			break;
		if (rc == TN_RESP_ERROR) {
			replica_drop(r, err);
			return;
		}
		if (rc == TN_RESP_DONE)
			replica_command(r, r->req.argv, r->req.argc);
		tn_resp_req_reset(&r->req);
	}
	tn_buf_compact(&r->in);
	if (tn_buf_pending(&r->in) > RM_IN_MAX)
		replica_drop(r, "too much input");
}

/* ------------------------------------------------------------------ */
/* Full and partial synchronisation                                    */
/* ------------------------------------------------------------------ */

static void *snap_thread(void *arg)
{
	struct snapjob *j = arg;
	int rc = tn_snapshot_rdb(j->disk ? j->file_fd : j->wfd, false, NULL);

	if (rc == 0 && j->disk && fsync(j->file_fd) < 0)
		rc = -errno;
	atomic_store(&j->rc, rc);
	close(j->wfd); /* the reader sees the end */
	job_put(j);
	return NULL;
}

/*
 * Start a snapshot at the stream's current offset (a command boundary),
 * written to a pipe (disk-less) or to an unlinked temp file whose end the
 * pipe tells; NULL (errno set) when it cannot start.  Its members are
 * attached by the caller.
 */
static struct snapjob *snapshot_start(bool disk)
{
	static const char select0[] = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n";
	struct snapjob *j = calloc(1, sizeof(*j));
	char path[TN_PATH_MAX + 64];
	struct epoll_event ev = {.events = EPOLLIN};
	sigset_t all, old;
	pthread_attr_t at;
	pthread_t t;
	int p[2], rc;

	if (!j || (!R.chunk && !(R.chunk = malloc(RM_RDB_CHUNK)))) {
		free(j);
		errno = ENOMEM;
		return NULL;
	}
	j->file_fd = j->rfd = -1;
	j->disk = disk;
	if (disk) {
		snprintf(path, sizeof(path), "%s/temp-%d-repl-%d.rdb",
			 tn_conf->dir[0] ? tn_conf->dir : ".", (int)getpid(),
			 ++R.njobs);
		j->file_fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC,
				  0600);
		if (j->file_fd < 0) {
			rc = errno;
			tn_warn("Can't create the RDB file %s for replicas: %s",
				path, strerror(rc));
			free(j);
			errno = rc;
			return NULL;
		}
		/* nothing to clean up after a crash */
		unlink(path);
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		goto fail;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	j->wfd = p[1];
	atomic_store(&j->rc, 1);
	atomic_store(&j->refs, 2); /* the thread, the repl side */
	backlog_create();
	/* a fresh stream starts by choosing the database */
	j->start = R.off;
	stream_append(select0, sizeof(select0) - 1);
	publish_stream();
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&t, &at, snap_thread, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (rc) {
		close(p[0]);
		close(p[1]);
		errno = rc;
		goto fail;
	}
	j->rfd = p[0];
	j->tag = (struct ep_tag){.kind = TAG_RDB, .job = j};
	ev.data.ptr = &j->tag;
	epoll_ctl(R.ep, EPOLL_CTL_ADD, j->rfd, &ev);
	j->next = R.jobs;
	R.jobs = j;
	tn_notice("Starting BGSAVE for SYNC with target: %s",
		  disk ? "disk" : "replicas sockets");
	return j;
fail:
	rc = errno;
	if (j->file_fd >= 0)
		close(j->file_fd);
	free(j);
	errno = rc;
	return NULL;
}

/* Make r a member of job j: +FULLRESYNC at the job's offset. */
static void job_attach(struct replica *r, struct snapjob *j)
{
	r->job = j;
	atomic_fetch_add(&j->refs, 1);
	r->pos = j->start;
	atomic_store(&slot_of(r)->ack_off, 0);
	if (!r->sync)
		tn_buf_printf(&r->pre, "+FULLRESYNC %s %llu\r\n",
			      tn_seg->master_replid,
			      (unsigned long long)j->start);
	if (!j->disk) {
		new_replid(r->eofmark);
		tn_buf_printf(&r->pre, "$EOF:%s\r\n", r->eofmark);
	}
	replica_flush(r);
}

/* The snapshot is complete (or failed): every member goes on. */
static void job_done(struct snapjob *j)
{
	int rc = atomic_load(&j->rc);
	struct replica *r;
	struct stat st;

	job_close(j);
	if (rc == 0 && j->disk && fstat(j->file_fd, &st) < 0)
		rc = -errno;
	for (r = member_next(j, NULL); r; r = member_next(j, r)) {
		if (rc != 0) {
			tn_warn("Background RDB transfer for replica %s failed: "
				"%s",
				r->addr, strerror(rc < 0 ? -rc : EIO));
			replica_drop(r, "snapshot failed");
			continue;
		}
		if (!j->disk) {
			tn_buf_append(&r->pre, r->eofmark, TN_REPL_ID_LEN);
			tn_notice("Diskless rdb transfer to %s done, streaming",
				  r->addr);
			r->job = NULL;
			job_put(j);
			r->await_ack = true;
			set_state(r, TN_REPL_ONLINE);
		} else {
			r->file_size = st.st_size;
			r->file_off = 0;
			tn_buf_printf(&r->pre, "$%lld\r\n",
				      (long long)st.st_size);
			set_state(r, TN_REPL_SEND_BULK);
		}
		replica_flush(r);
	}
}

/*
 * The snapshot pipe: RDB bytes (disk-less), copied to every member, or
 * only its end (disk).  Reading pauses while a member has RM_RDB_HIGH
 * bytes not sent yet: the slowest replica sets the pace.
 */
static void rdb_readable(struct snapjob *j)
{
	struct replica *r;
	ssize_t n;

	for (;;) {
		for (r = member_next(j, NULL); r; r = member_next(j, r))
			if (tn_buf_pending(&r->pre) >= RM_RDB_HIGH) {
				job_pause(j, true);
				return;
			}
		n = read(j->rfd, R.chunk, RM_RDB_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			if (n < 0)
				atomic_store(&j->rc, -errno);
			job_done(j);
			return;
		}
		if (j->disk)
			continue; /* the disk form says nothing on the pipe */
		for (r = member_next(j, NULL); r; r = member_next(j, r))
			if (tn_buf_append(&r->pre, R.chunk, (size_t)n) < 0)
				replica_drop(r, "out of memory");
		if (!job_has_members(j)) {
			job_close(j);
			return;
		}
	}
	for (r = member_next(j, NULL); r; r = member_next(j, r))
		replica_flush(r);
}

/* The disk job a replica asking now may join: still being written, and
 * the stream since its start still in the backlog. */
static struct snapjob *disk_job_to_join(void)
{
	struct snapjob *j;

	for (j = R.jobs; j; j = j->next)
		if (j->disk && !j->closed && atomic_load(&j->rc) == 1 &&
		    j->start >= R.lo)
			return j;
	return NULL;
}

/*
 * Disk-less syncs wait to share one snapshot, as Redis' do: it starts
 * repl-diskless-sync-delay seconds after the first replica asked, or once
 * repl-diskless-sync-max-replicas wait, and not while the previous one
 * still streams.  Only at a command boundary of the stream.
 */
static void diskless_start_due(int64_t now)
{
	int64_t delay = (int64_t)tn_conf->repl_diskless_sync_delay_s * 1000;
	int max = tn_conf->repl_diskless_sync_max_replicas, n = 0;
	int64_t oldest = now;
	struct snapjob *j;
	struct replica *r;

	if (!R.boundary)
		return;
	for (j = R.jobs; j; j = j->next)
		if (!j->disk && !j->closed)
			return;
	for (r = R.list; r; r = r->next)
		if (!r->dead && r->queued) {
			n++;
			oldest = TN_MIN(oldest, r->queued_ms);
		}
	if (!n || (now - oldest < delay && !(max > 0 && n >= max)))
		return;
	j = snapshot_start(false);
	for (r = R.list; r; r = r->next) {
		if (r->dead || !r->queued)
			continue;
		r->queued = false;
		if (j)
			job_attach(r, j);
		else
			replica_drop(r, "cannot start the snapshot");
	}
}

/*
 * A full sync for r (at a command boundary of the stream): disk-less
 * when the replica reads the EOF form and repl-diskless-sync is on,
 * queued to share the next snapshot; else a disk snapshot, joined while
 * one is being written.
 */
static void full_sync_begin(struct replica *r)
{
	struct snapjob *j;

	r->started = true;
	tn_notice("Full resync requested by replica %s", r->addr);
	if ((r->capa & TN_REPL_CAPA_EOF) && tn_conf->repl_diskless_sync) {
		r->queued = true;
		r->queued_ms = tn_mstime();
		if (tn_conf->repl_diskless_sync_delay_s > 0)
			tn_notice("Delay next BGSAVE for diskless SYNC");
		diskless_start_due(r->queued_ms);
		return;
	}
	j = disk_job_to_join();
	if (j) {
		tn_notice("Waiting for end of BGSAVE for SYNC");
	} else if (!(j = snapshot_start(true))) {
		replica_drop(r, "cannot start the snapshot");
		return;
	}
	job_attach(r, j);
}

/* PSYNC from an offset still in the backlog: true when it continues. */
static bool try_partial(struct replica *r, const struct tn_repl_handoff *h)
{
	uint64_t want;
	bool ours, second;

	if (h->sync || !R.active || h->offset < 1)
		return false;
	ours = strcasecmp(h->replid, tn_seg->master_replid) == 0;
	second = strcasecmp(h->replid, tn_seg->master_replid2) == 0 &&
		 h->offset <= atomic_load(&tn_seg->second_repl_offset);
	if (!ours && !second)
		return false;
	want = (uint64_t)h->offset - 1;
	if (want < R.off - histlen() || want > R.off)
		return false;
	r->pos = want;
	r->started = true;
	if (r->capa & TN_REPL_CAPA_PSYNC2)
		tn_buf_printf(&r->pre, "+CONTINUE %s\r\n",
			      tn_seg->master_replid);
	else
		tn_buf_printf(&r->pre, "+CONTINUE\r\n");
	set_state(r, TN_REPL_ONLINE);
	atomic_store(&slot_of(r)->ack_off, want);
	tn_notice("Partial resynchronization request from %s accepted. "
		  "Sending %llu bytes of backlog starting from offset %lld.",
		  r->addr, (unsigned long long)(R.off - want),
		  (long long)h->offset);
	return true;
}

static void replica_adopt(int fd, const struct tn_repl_handoff *h)
{
	struct replica *r;
	struct repl_replica_shm *s = NULL;
	struct epoll_event ev;
	int i;

	for (i = 0; i < TN_REPL_SLOTS; i++)
		if (atomic_load(&tn_seg->repl_replicas[i].state) ==
		    TN_REPL_FREE) {
			s = &tn_seg->repl_replicas[i];
			break;
		}
	r = s ? calloc(1, sizeof(*r)) : NULL;
	if (!r) {
		static const char full[] = "-ERR too many replicas\r\n";

		tn_warn("Refusing replica %s: %d replicas are connected, the "
			"most Titan keeps",
			h->addr, TN_REPL_SLOTS);
		if (send(fd, full, sizeof(full) - 1, MSG_NOSIGNAL) < 0) {
			/* closing anyway */
		}
		close(fd);
		return;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	r->fd = fd;
	r->slot = i;
	r->capa = h->capa;
	r->sync = h->sync != 0;
	r->req.bulk_len = -1;
	r->last_io_ms = r->last_newline_ms = tn_mstime();
	snprintf(r->addr, sizeof(r->addr), "%.63s", h->addr);
	s->port = (uint32_t)h->listening_port;
	snprintf(s->ip, sizeof(s->ip), "%s", h->ip);
	atomic_store(&s->ack_off, 0);
	atomic_store(&s->ack_ms, r->last_io_ms);
	set_state(r, TN_REPL_WAIT_BGSAVE);
	r->sock_tag = (struct ep_tag){.kind = TAG_SOCK, .r = r};
	ev.events = EPOLLIN;
	ev.data.ptr = &r->sock_tag;
	if (epoll_ctl(R.ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		atomic_store(&s->state, TN_REPL_FREE);
		close(fd);
		free(r);
		return;
	}
	r->next = R.list;
	R.list = r;
	R.nrep++;
	atomic_store(&tn_seg->repl_nreplicas, R.nrep);
	tn_notice("Replica %s asks for synchronization", r->addr);
	if (try_partial(r, h)) {
		replica_flush(r);
		return;
	}
	if (h->replid[0] && strcmp(h->replid, "?") != 0)
		tn_notice("Partial resynchronization not accepted: Replication "
			  "ID mismatch or offset out of the backlog (Replica "
			  "asked for '%s', my replication IDs are '%s' and "
			  "'%s')",
			  h->replid, tn_seg->master_replid,
			  tn_seg->master_replid2);
	/* a chunked record being fed: the stream is cut at its end */
	if (R.boundary || !R.active)
		full_sync_begin(r);
}

static void handoff_readable(int shard)
{
	struct tn_repl_handoff h;
	ssize_t n;
	int fd;

	for (;;) {
		n = tn_fd_recv(tn_rt.repl_journal_sock[shard], &fd, &h,
			       sizeof(h));
		if (n <= 0)
			return;
		if (fd < 0)
			continue;
		if (n != sizeof(h)) {
			close(fd);
			continue;
		}
		h.replid[TN_REPL_ID_LEN] = '\0';
		h.ip[sizeof(h.ip) - 1] = '\0';
		h.addr[sizeof(h.addr) - 1] = '\0';
		replica_adopt(fd, &h);
	}
}

/* ------------------------------------------------------------------ */
/* The thread                                                           */
/* ------------------------------------------------------------------ */

static void kill_all_replicas(void)
{
	struct replica *r;

	for (r = R.list; r; r = r->next)
		replica_drop(r, "CLIENT KILL TYPE replica");
}

static void cron(int64_t now)
{
	struct replica *r;
	int64_t period = (int64_t)tn_conf->repl_ping_replica_period_s * 1000;
	int64_t timeout = (int64_t)tn_conf->repl_timeout_s * 1000;

	if (atomic_exchange(&tn_seg->repl_req_kill, 0))
		kill_all_replicas();
	if (atomic_exchange(&tn_seg->repl_req_getack, 0) && R.nrep)
		R.getack_due = true;
	if (R.nrep && period > 0 && now - R.last_ping_ms >= period) {
		R.ping_due = true;
		R.last_ping_ms = now;
	}
	inject_due();
	publish_stream();
	diskless_start_due(now);
	for (r = R.list; r; r = r->next) {
		if (r->dead)
			continue;
		if (!r->started && R.boundary)
			full_sync_begin(r);
		if (r->state == TN_REPL_ONLINE && timeout > 0 &&
		    now - r->last_io_ms > timeout) {
			tn_warn("Disconnecting timedout replica (streaming "
				"sync): %s",
				r->addr);
			replica_drop(r, "timeout");
			continue;
		}
		/* the disk form keeps the link alive while it is made */
		if (r->state == TN_REPL_WAIT_BGSAVE && r->job &&
		    r->job->disk && now - r->last_newline_ms >= RM_NEWLINE_MS) {
			r->last_newline_ms = now;
			tn_buf_append(&r->pre, "\n", 1);
		}
		replica_flush(r);
		if (!r->dead)
			check_limits(r, now);
	}
	if (!R.nrep && R.active && tn_conf->repl_backlog_ttl_s > 0 &&
	    now - R.idle_since_ms >= (int64_t)tn_conf->repl_backlog_ttl_s *
						1000) {
		tn_notice("Replication backlog freed after %d seconds without "
			  "connected replicas.",
			  tn_conf->repl_backlog_ttl_s);
		backlog_free();
	}
}

static void *repl_thread(void *arg)
{
	struct epoll_event evs[64];
	int64_t last_cron = 0;

	(void)arg;
	for (;;) {
		int n = epoll_wait(R.ep, evs, TN_ARRAY_SIZE(evs), RM_TICK_MS);
		int64_t now = tn_mstime();
		struct replica *r;
		int i;

		pthread_mutex_lock(&R.mu);
		for (i = 0; i < n; i++) {
			struct ep_tag *t = evs[i].data.ptr;

			switch (t->kind) {
			case TAG_HANDOFF:
				handoff_readable(t->index);
				break;
			case TAG_WAKE: {
				uint64_t v;

				if (read(tn_rt.repl_wake, &v, sizeof(v)) < 0) {
					/* nothing pending */
				}
				break;
			}
			case TAG_SOCK:
				if (t->r->dead)
					break;
				if (evs[i].events & (EPOLLIN | EPOLLERR |
						     EPOLLHUP))
					replica_readable(t->r);
				break;
			case TAG_RDB:
				if (t->job->rfd >= 0)
					rdb_readable(t->job);
				break;
			}
		}
		/* requests and fresh stream bytes: served at once */
		if (atomic_load(&tn_seg->repl_req_kill) ||
		    atomic_load(&tn_seg->repl_req_getack) ||
		    now - last_cron >= RM_TICK_MS) {
			last_cron = now;
			cron(now);
		} else {
			for (r = R.list; r; r = r->next)
				replica_flush(r);
		}
		reap_dead();
		pthread_mutex_unlock(&R.mu);
	}
	return NULL;
}

int tn_repl_master_start(void)
{
	struct epoll_event ev;
	sigset_t all, old;
	pthread_t t;
	int i, rc;

	if (!tn_seg->master_replid[0]) {
		/* the run id is new at every start too: INFO shows one id
		 * until the backlog is freed, as before replication */
		memcpy(tn_seg->master_replid, tn_seg->run_id,
		       TN_REPL_ID_LEN + 1);
		memset(tn_seg->master_replid2, '0', TN_REPL_ID_LEN);
		tn_seg->master_replid2[TN_REPL_ID_LEN] = '\0';
		atomic_store(&tn_seg->second_repl_offset, -1);
	}
	/* a journal that died took the links and the backlog with it */
	for (i = 0; i < TN_REPL_SLOTS; i++)
		atomic_store(&tn_seg->repl_replicas[i].state, TN_REPL_FREE);
	atomic_store(&tn_seg->repl_nreplicas, 0);
	atomic_store(&tn_seg->repl_backlog_active, 0);
	R.off = R.lo = atomic_load(&tn_seg->master_repl_offset);
	publish_stream();
	R.ep = epoll_create1(EPOLL_CLOEXEC);
	if (R.ep < 0)
		return -errno;
	for (i = 0; i < tn_rt.nshards && i < TN_MAX_SHARDS; i++) {
		int s = tn_rt.repl_journal_sock[i];

		fcntl(s, F_SETFL, fcntl(s, F_GETFL) | O_NONBLOCK);
		R.handoff_tags[i] = (struct ep_tag){.kind = TAG_HANDOFF,
						    .index = i};
		ev.events = EPOLLIN;
		ev.data.ptr = &R.handoff_tags[i];
		if (epoll_ctl(R.ep, EPOLL_CTL_ADD, s, &ev) < 0)
			return -errno;
	}
	R.wake_tag.kind = TAG_WAKE;
	ev.events = EPOLLIN;
	ev.data.ptr = &R.wake_tag;
	if (epoll_ctl(R.ep, EPOLL_CTL_ADD, tn_rt.repl_wake, &ev) < 0)
		return -errno;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = -pthread_create(&t, NULL, repl_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == 0)
		pthread_detach(t);
	return rc;
}
