/*
 * repl_replica.c - the replica process: follows the master `replicaof`
 * names (stock Redis 7.0 or Titan) with Redis' handshake and PSYNC, loads
 * a full sync's RDB into the segment, then applies the master's stream
 * through the store's own dispatch as the obeyed master client.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "store/store.h"
#include "util/util.h"

#define REPL_READ_BYTES (64 * 1024)
#define REPL_LINE_MAX 1024 /* a status line of the handshake */
#define REPL_BACKOFF_MIN_MS 100
#define REPL_BACKOFF_MAX_MS 5000
#define REPL_ACK_PERIOD_MS 1000
#define REPL_EOF_MARK_LEN 40 /* Redis' RDB_EOF_MARK_SIZE */
#define REPL_ERR_LOG_MS 10000 /* at most one "command failed" line per */

static uint32_t my_gen; /* tn_seg->repl_gen when this process started */

/* The connection to the master and what was read from it. */
struct link {
	int fd;
	struct tn_buf in;
	int timeout_ms; /* repl-timeout */
	char host[256];
	int port;
};

/* The master as a client of our store: replies are dropped. */
struct master {
	struct tn_client c;
	struct tn_resp_req req;
	struct tn_arg *args;
	int64_t applied; /* master offset of every byte parsed */
	int64_t committed; /* the same outside MULTI: what we acknowledge */
	int64_t err_logged_ms;
	uint64_t errors; /* commands the store refused since the last log */
};

static bool stopping(void)
{
	return tn_stop_flag || atomic_load(&tn_seg->shutting_down);
}

/* 1 when fd is ready, 0 on timeout, -errno (-EINTR when told to stop). */
static int wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	int r;

	for (;;) {
		if (stopping())
			return -EINTR;
		/* SIGHUP (log rotation): every wait comes through here */
		if (tn_reopen_flag) {
			tn_reopen_flag = 0;
			tn_log_reopen();
		}
		r = poll(&p, 1, timeout_ms);
		if (r >= 0)
			return r > 0;
		if (errno != EINTR)
			return -errno;
	}
}

static void link_close(struct link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	tn_buf_free(&l->in);
	/* INFO's master_link_down_since_seconds counts from here */
	if (atomic_exchange(&tn_seg->repl_link_up, 0))
		atomic_store(&tn_seg->repl_down_since_ms, tn_mstime());
}

/* A non-blocking connect bounded by repl-timeout; 0 or -errno. */
static int link_connect(struct link *l)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM};
	struct addrinfo *res, *ai;
	char port[16];
	int fd = -1, r = -ECONNREFUSED, one = 1;

	snprintf(port, sizeof(port), "%d", l->port);
	r = getaddrinfo(l->host, port, &hints, &res);
	if (r) {
		tn_warn("Unable to connect to MASTER: cannot resolve %s: %s",
			l->host, gai_strerror(r));
		return -EHOSTUNREACH;
	}
	r = -ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next) {
		socklen_t len = sizeof(int);
		int err = 0;

		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			r = -errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		r = -errno;
		if (errno == EINPROGRESS) {
			r = wait_fd(fd, POLLOUT, l->timeout_ms);
			if (r == 0)
				r = -ETIMEDOUT;
			if (r > 0) {
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
				if (!err)
					break;
				r = -err;
			}
		}
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return r;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	l->fd = fd;
	return 0;
}

static int link_write(struct link *l, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(l->fd, p, n);
		int r;

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return -errno;
		r = wait_fd(l->fd, POLLOUT, l->timeout_ms);
		if (r <= 0)
			return r ? r : -ETIMEDOUT;
	}
	return 0;
}

/* Send one command as a RESP array of bulk strings. */
static int link_send(struct link *l, int argc, const char *const *argv)
{
	struct tn_buf b = {0};
	int i, r = tn_buf_printf(&b, "*%d\r\n", argc);

	for (i = 0; i < argc && !r; i++)
		r = tn_buf_printf(&b, "$%zu\r\n%s\r\n", strlen(argv[i]),
				  argv[i]);
	if (!r)
		r = link_write(l, b.data, b.len);
	tn_buf_free(&b);
	return r;
}

/* Read what is there (waiting up to timeout_ms): bytes read, or -errno
 * (-ETIMEDOUT, -ECONNRESET when the master closed). */
static ssize_t link_fill(struct link *l, int timeout_ms)
{
	ssize_t n;
	int r;

	tn_buf_compact(&l->in);
	if (tn_buf_reserve(&l->in, REPL_READ_BYTES) < 0)
		return -ENOMEM;
	for (;;) {
		n = read(l->fd, l->in.data + l->in.len, REPL_READ_BYTES);
		if (n > 0) {
			l->in.len += (size_t)n;
			atomic_store(&tn_seg->repl_last_io_ms, tn_mstime());
			return n;
		}
		if (n == 0)
			return -ECONNRESET;
		if (errno == EINTR && !stopping())
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_fd(l->fd, POLLIN, timeout_ms);
		if (r <= 0)
			return r ? r : -ETIMEDOUT;
	}
}

/*
 * One line (without CRLF) into out.  `skip_empty`: the master sends
 * newlines to keep the link alive while it prepares the RDB.
 */
static int link_line(struct link *l, char *out, size_t max, bool skip_empty)
{
	for (;;) {
		char *s = l->in.data + l->in.off;
		size_t have = tn_buf_pending(&l->in);
		char *nl = have ? memchr(s, '\n', have) : NULL;
		ssize_t n;

		if (nl) {
			size_t len = (size_t)(nl - s);

			l->in.off += len + 1;
			if (len && s[len - 1] == '\r')
				len--;
			if (!len && skip_empty)
				continue;
			if (len >= max)
				return -EPROTO;
			memcpy(out, s, len);
			out[len] = '\0';
			return 0;
		}
		if (have > REPL_LINE_MAX)
			return -EPROTO;
		n = link_fill(l, l->timeout_ms);
		if (n < 0)
			return (int)n;
	}
}

/* Send a command and read its one-line reply. */
static int link_cmd(struct link *l, char *reply, size_t max, int argc,
		    const char *const *argv)
{
	int r = link_send(l, argc, argv);

	return r ? r : link_line(l, reply, max, false);
}

static int fail(const char *what, int r)
{
	if (r != -EINTR)
		tn_warn("%s: %s", what,
			r == -EPROTO ? "protocol error" : strerror(-r));
	return r ? r : -EPROTO;
}

/* PING, AUTH, REPLCONF listening-port and capa, as Redis 7.0's replica. */
static int handshake(struct link *l)
{
	char reply[REPL_LINE_MAX], port[16];
	const char *ping[] = {"PING"};
	const char *auth[3];
	int r, n = 0;

	r = link_cmd(l, reply, sizeof(reply), 1, ping);
	if (r)
		return fail("Error reading PING reply from master", r);
	/* an error asking for AUTH is fine: AUTH comes next */
	if (reply[0] == '-' && strncmp(reply, "-NOAUTH", 7) &&
	    strncmp(reply, "-NOPERM", 7) &&
	    strncmp(reply, "-ERR operation not permitted", 28)) {
		tn_warn("Error reply to PING from master: '%s'", reply);
		return -EPROTO;
	}
	tn_notice("Master replied to PING, replication can continue...");
	if (tn_conf->masterauth[0]) {
		auth[n++] = "AUTH";
		if (tn_conf->masteruser[0])
			auth[n++] = tn_conf->masteruser;
		auth[n++] = tn_conf->masterauth;
		r = link_cmd(l, reply, sizeof(reply), n, auth);
		if (r)
			return fail("Error reading AUTH reply from master", r);
		if (reply[0] == '-') {
			tn_warn("Unable to AUTH to MASTER: %s", reply);
			return -EACCES;
		}
	}
	snprintf(port, sizeof(port), "%d", tn_conf->port);
	{
		const char *lp[] = {"REPLCONF", "listening-port", port};

		r = link_cmd(l, reply, sizeof(reply), 3, lp);
	}
	if (r)
		return fail("Error reading REPLCONF reply from master", r);
	if (reply[0] == '-')
		tn_notice("(Non critical) Master does not understand REPLCONF "
			  "listening-port: %s", reply);
	{
		const char *capa[] = {"REPLCONF", "capa", "eof", "capa",
				      "psync2"};

		r = link_cmd(l, reply, sizeof(reply), 5, capa);
	}
	if (r)
		return fail("Error reading REPLCONF reply from master", r);
	if (reply[0] == '-')
		tn_notice("(Non critical) Master does not understand REPLCONF "
			  "capa: %s", reply);
	return 0;
}

enum psync_result { PSYNC_FULL, PSYNC_CONTINUE };

static bool valid_replid(const char *s, size_t len)
{
	size_t i;

	if (len != 40)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f') ||
		      (s[i] >= 'A' && s[i] <= 'F')))
			return false;
	return true;
}

/*
 * PSYNC <replid> <offset + 1> when we hold a master's history, else
 * PSYNC ? -1.  Fills replid/offset of a +FULLRESYNC.  PSYNC_* or -errno.
 */
static int psync(struct link *l, char *replid, int64_t *offset)
{
	char reply[REPL_LINE_MAX], off[32], id[41];
	const char *argv[3] = {"PSYNC", "?", "-1"};
	int64_t ours = atomic_load(&tn_seg->repl_master_offset);
	long long v;
	char *sp;
	int r;

	memcpy(id, tn_seg->repl_master_replid, sizeof(id));
	id[40] = '\0';
	if (id[0]) {
		snprintf(off, sizeof(off), "%lld", (long long)ours + 1);
		argv[1] = id;
		argv[2] = off;
		tn_notice("Trying a partial resynchronization (request %s:%s).",
			  id, off);
	} else {
		tn_notice("Partial resynchronization not possible (no cached "
			  "master)");
	}
	r = link_send(l, 3, argv);
	if (!r)
		r = link_line(l, reply, sizeof(reply), true);
	if (r)
		return fail("Error reading PSYNC reply from master", r);
	if (!strncmp(reply, "+FULLRESYNC ", 12)) {
		sp = strchr(reply + 12, ' ');
		if (!sp || !valid_replid(reply + 12, (size_t)(sp - reply - 12)) ||
		    !tn_str2ll(sp + 1, strlen(sp + 1), &v) || v < 0) {
			tn_warn("Master replied with wrong +FULLRESYNC syntax: "
				"'%s'", reply);
			return -EPROTO;
		}
		memcpy(replid, reply + 12, 40);
		replid[40] = '\0';
		*offset = v;
		tn_notice("Full resync from master: %s:%lld", replid, v);
		return PSYNC_FULL;
	}
	if (!strncmp(reply, "+CONTINUE", 9) && id[0]) {
		const char *nid = reply + 9;

		while (*nid == ' ')
			nid++;
		tn_notice("Successful partial resynchronization with master.");
		if (*nid && valid_replid(nid, strlen(nid)) &&
		    strcmp(nid, id) != 0) {
			memcpy(tn_seg->repl_master_replid, nid, 40);
			tn_seg->repl_master_replid[40] = '\0';
			tn_notice("Master replication ID changed to %s", nid);
		}
		tn_notice("MASTER <-> REPLICA sync: Master accepted a Partial "
			  "Resynchronization.");
		return PSYNC_CONTINUE;
	}
	if (!strncmp(reply, "-NOMASTERLINK", 13) ||
	    !strncmp(reply, "-LOADING", 8)) {
		tn_notice("Master is currently unable to PSYNC but should be "
			  "in the future: %s", reply);
		return -EAGAIN;
	}
	tn_warn("Unexpected reply to PSYNC from master: '%s'", reply);
	return -EPROTO;
}

/* Write what the link holds of the RDB to fd; -errno on a write error. */
static int spool(int fd, struct link *l, size_t n)
{
	int r = tn_write_all(fd, l->in.data + l->in.off, n);

	atomic_fetch_add(&tn_seg->repl_transfer_read, (int64_t)n);
	if (r < 0)
		tn_warn("Failed to write the RDB from the master to disk: %s; "
			"check free space in '%s'",
			strerror(-r), tn_conf->dir);
	l->in.off += n;
	return r;
}

/*
 * The RDB of a full sync, either "$<len>\r\n<bytes>" or, disk-less,
 * "$EOF:<40 byte mark>\r\n<bytes><mark>", into the file fd.
 */
static int recv_rdb(struct link *l, int fd)
{
	char line[REPL_LINE_MAX], mark[REPL_EOF_MARK_LEN];
	bool eof_mode;
	long long left = 0;
	int r;

	r = link_line(l, line, sizeof(line), true);
	if (r)
		return fail("I/O error reading bulk count from MASTER", r);
	if (line[0] == '-') {
		tn_warn("MASTER aborted replication with an error: %s",
			line + 1);
		return -EPROTO;
	}
	if (line[0] != '$') {
		tn_warn("Bad protocol from MASTER, the first byte is not '$' "
			"(we received '%.64s'), are you sure the host and port "
			"are right?", line);
		return -EPROTO;
	}
	eof_mode = !strncmp(line + 1, "EOF:", 4) &&
		   strlen(line + 5) == REPL_EOF_MARK_LEN;
	if (eof_mode) {
		/* Redis shows 0 for the size of this form */
		atomic_store(&tn_seg->repl_transfer_size, 0);
		memcpy(mark, line + 5, REPL_EOF_MARK_LEN);
		tn_notice("MASTER <-> REPLICA sync: receiving streamed RDB "
			  "from master with EOF to disk");
	} else if (!tn_str2ll(line + 1, strlen(line + 1), &left) || left < 0) {
		tn_warn("Bad RDB length from MASTER: '%.64s'", line);
		return -EPROTO;
	} else {
		atomic_store(&tn_seg->repl_transfer_size, left);
		tn_notice("MASTER <-> REPLICA sync: receiving %lld bytes from "
			  "master to disk", left);
	}
	for (;;) {
		size_t have = tn_buf_pending(&l->in);
		ssize_t n;

		if (eof_mode && have >= REPL_EOF_MARK_LEN) {
			const char *s = l->in.data + l->in.off;
			const char *at = memmem(s, have, mark, REPL_EOF_MARK_LEN);

			if (at) {
				r = spool(fd, l, (size_t)(at - s));
				l->in.off += REPL_EOF_MARK_LEN;
				atomic_fetch_add(&tn_seg->repl_transfer_read,
						 REPL_EOF_MARK_LEN);
				return r;
			}
			/* the mark may straddle this read and the next */
			r = spool(fd, l, have - (REPL_EOF_MARK_LEN - 1));
			if (r)
				return r;
		} else if (!eof_mode) {
			size_t take = (size_t)TN_MIN((long long)have, left);

			r = spool(fd, l, take);
			if (r)
				return r;
			left -= (long long)take;
			if (!left)
				return 0;
		}
		n = link_fill(l, l->timeout_ms);
		if (n < 0)
			return fail("I/O error trying to sync with MASTER", (int)n);
	}
}

static void master_init(struct master *m)
{
	memset(m, 0, sizeof(*m));
	m->c.fd = -1;
	m->c.resp = 2;
	m->c.authenticated = true;
	m->c.flags = TN_CLIENT_MASTER;
	m->c.slot = UINT32_MAX;
	m->c.reply.out = &m->c.out;
	m->c.reply.resp = 2;
	snprintf(m->c.addr, sizeof(m->c.addr), "master");
}

static void master_free(struct master *m)
{
	tn_client_release(&m->c);
	tn_buf_free(&m->c.out);
	tn_buf_free(&m->c.in);
	free(m->c.khash);
	tn_resp_req_free(&m->req);
}

/* The process' proc slot, so INFO counts the master's commands. */
static int proc_index(void)
{
	return tn_rt.nshards + 2; /* TN_PROC_SHARD0 + this = the slot */
}

/*
 * Around everything that changes the keyspace for the master: false
 * (and stop) when REPLICAOF moved on meanwhile; it waits for
 * apply_end() of a change already begun.
 */
static bool apply_begin(void)
{
	atomic_store(&tn_seg->repl_applying, 1);
	if (atomic_load(&tn_seg->repl_gen) == my_gen)
		return true;
	atomic_store(&tn_seg->repl_applying, 0);
	tn_stop_flag = 1;
	return false;
}

static void apply_end(void)
{
	atomic_store(&tn_seg->repl_applying, 0);
}

/* Run one command of the master's; its reply is dropped, errors logged. */
static void apply(struct master *m, const struct tn_arg *argv, int argc)
{
	int64_t now;

	tn_dispatch(&m->c, argv, argc, proc_index());
	if (m->c.out.len && m->c.out.data[0] == '-') {
		m->errors++;
		now = tn_mstime();
		if (now - m->err_logged_ms >= REPL_ERR_LOG_MS) {
			size_t e = strcspn(m->c.out.data, "\r\n");

			tn_warn("the master's '%.*s' failed here: %.*s (%llu "
				"such errors); this replica's data may differ "
				"from the master's",
				(int)TN_MIN(argv[0].len, 64), argv[0].p,
				(int)TN_MIN(e, 200), m->c.out.data,
				(unsigned long long)m->errors);
			m->err_logged_ms = now;
			m->errors = 0;
		}
	}
	m->c.out.len = m->c.out.off = 0;
}

static void run_local(struct master *m, const char *cmd)
{
	struct tn_arg a = {.p = cmd, .len = strlen(cmd)};

	apply(m, &a, 1);
}

static int send_ack(struct link *l, int64_t off)
{
	char n[32];
	const char *argv[] = {"REPLCONF", "ACK", n};

	snprintf(n, sizeof(n), "%lld", (long long)off);
	return link_send(l, 3, argv);
}

struct key_walk {
	tn_off *v;
	size_t n, cap;
	bool oom;
};

static void collect_key(void *arg, tn_off off)
{
	struct key_walk *w = arg;
	tn_off *v;

	if (w->n == w->cap) {
		v = reallocarray(w->v, w->cap ? w->cap * 2 : 256, sizeof(*v));
		if (!v) {
			w->oom = true;
			return;
		}
		w->v = v;
		w->cap = w->cap ? w->cap * 2 : 256;
	}
	w->v[w->n++] = off;
}

/*
 * The RDB loader writes no effects: log every loaded key, stripe by
 * stripe under its lock, so our AOF and our own replicas, which saw the
 * FLUSHALL, get the new data too.  0 or -ENOMEM.
 */
static int log_loaded_keys(void)
{
	struct key_walk w = {0};
	uint32_t s;
	int r = 0;

	if (!tn_effects_on())
		return 0;
	for (s = 0; s < tn_seg->nstripes && !r; s++) {
		struct stripe_shm *st = tn_stripe(s);
		size_t i;

		/* written: lookups take rehash steps */
		if (!tn_stripe_walk_lock(st, true)) {
			free(w.v);
			return -EOWNERDEAD;
		}
		w.n = 0;
		/* collected first: tn_effect_key's lookups may rehash */
		tn_dict_foreach(&st->keys, collect_key, &w);
		for (i = 0; i < w.n; i++) {
			struct kentry_shm *e = tn_ptr(w.v[i]);
			struct tn_key k = tn_key_of(e->key, e->keylen);

			tn_effect_key(&k);
		}
		if (w.oom) {
			tn_warn("out of memory logging the keys of a full sync; "
				"our AOF and replicas miss them until a rewrite");
			r = -ENOMEM;
		}
		tn_stripe_walk_unlock(st);
	}
	free(w.v);
	return r;
}

/* Replace the keyspace with the RDB at path. */
static int load_rdb(struct master *m, const char *path)
{
	uint64_t loaded = 0, expired = 0;
	char err[300];
	int fd, r;

	tn_notice("MASTER <-> REPLICA sync: Flushing old data");
	/* through the store, so our AOF and our replicas follow */
	run_local(m, "FLUSHALL");
	tn_notice("MASTER <-> REPLICA sync: Loading DB in memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tn_warn("cannot open the RDB received from the master (%s): %s",
			path, strerror(errno));
		return -errno;
	}
	r = tn_rdb_load_fd(fd, -1, &loaded, &expired, err, sizeof(err));
	close(fd);
	if (r < 0) {
		tn_warn("Failed trying to load the MASTER synchronization DB "
			"from disk: %s; the master holds data Titan cannot "
			"load, or the transfer was damaged",
			err);
		return -EPROTO;
	}
	tn_notice("Done loading RDB, keys loaded: %llu, keys expired: %llu.",
		  (unsigned long long)loaded, (unsigned long long)expired);
	return log_loaded_keys();
}

static int full_sync(struct link *l, struct master *m, const char *replid,
		     int64_t offset)
{
	char path[TN_PATH_MAX + 64];
	int fd, r;

	atomic_store(&tn_seg->repl_transfer_size, -1);
	atomic_store(&tn_seg->repl_transfer_read, 0);
	atomic_store(&tn_seg->repl_last_io_ms, tn_mstime());
	atomic_store(&tn_seg->repl_sync_in_progress, 1);
	snprintf(path, sizeof(path), "%s/temp-%lld.%d.rdb", tn_conf->dir,
		 (long long)(tn_mstime() / 1000), (int)getpid());
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
		tn_warn("Opening the temp file needed for MASTER <-> REPLICA "
			"synchronization (%s): %s",
			path, strerror(errno));
		goto out;
	}
	r = recv_rdb(l, fd);
	close(fd);
	if (!r && !apply_begin())
		r = -EINTR;
	if (!r) {
		/* our old history is gone with the data */
		tn_seg->repl_master_replid[0] = '\0';
		r = load_rdb(m, path);
		apply_end();
	}
	unlink(path);
	if (!r) {
		memcpy(tn_seg->repl_master_replid, replid, 41);
		atomic_store(&tn_seg->repl_master_offset, offset);
		atomic_store(&tn_seg->repl_read_offset, offset);
		atomic_store(&tn_seg->repl_sync_offset, offset);
		tn_notice("MASTER <-> REPLICA sync: Finished with success");
	}
out:
	atomic_store(&tn_seg->repl_sync_in_progress, 0);
	return r;
}

static bool is_getack(const struct tn_arg *argv, int argc)
{
	return argc >= 2 && tn_arg_is(&argv[0], "replconf") &&
	       tn_arg_is(&argv[1], "getack");
}

/* Apply every complete command the link holds. */
static int apply_pending(struct link *l, struct master *m)
{
	struct tn_resp_limits lim = {
		.max_bulk = tn_conf->proto_max_bulk_len,
		.max_query = INT64_MAX, /* the master has no query limit */
		.authenticated = true,
	};
	char err[256];

	for (;;) {
		size_t before = l->in.off;
		int rc = tn_resp_parse(&m->req, &l->in, &lim, err, sizeof(err));

		if (rc == TN_RESP_MORE)
			return 0;
		if (rc == TN_RESP_ERROR) {
			tn_warn("Protocol error from the master (%s) at offset "
				"%lld; dropping the link",
				err, (long long)m->applied);
			return -EPROTO;
		}
		if (rc == TN_RESP_DONE) {
			int argc = (int)m->req.argc;

			if (is_getack(m->req.argv, argc)) {
				/* answered, as Redis, with the offset before
				 * this command */
				int r = send_ack(l, m->committed);

				if (r)
					return r;
			} else if (!tn_arg_is(&m->req.argv[0], "replconf")) {
				if (!apply_begin())
					return -EINTR;
				apply(m, m->req.argv, argc);
				apply_end();
			}
		}
		m->applied += (int64_t)(l->in.off - before);
		/* a transaction counts once EXEC ran: a link lost inside it
		 * resumes from before MULTI */
		if (!(m->c.multi_flags & TN_MULTI_ACTIVE))
			m->committed = m->applied;
		atomic_store(&tn_seg->repl_master_offset, m->committed);
	}
}

/* The live stream, until the link drops or we are told to stop. */
static int stream(struct link *l, struct master *m)
{
	int64_t last_ack = 0, now;
	int r;

	m->applied = m->committed = atomic_load(&tn_seg->repl_master_offset);
	atomic_store(&tn_seg->repl_link_up, 1);
	atomic_store(&tn_seg->repl_last_io_ms, tn_mstime());
	for (;;) {
		ssize_t n;

		r = apply_pending(l, m);
		if (r)
			return r;
		atomic_store(&tn_seg->repl_read_offset,
			     m->applied + (int64_t)tn_buf_pending(&l->in));
		now = tn_mstime();
		if (now - last_ack >= REPL_ACK_PERIOD_MS) {
			r = send_ack(l, m->committed);
			if (r)
				return fail("Error sending REPLCONF ACK to master",
					    r);
			last_ack = now;
		}
		n = link_fill(l, REPL_ACK_PERIOD_MS);
		if (n == -ETIMEDOUT) {
			if (tn_mstime() - atomic_load(&tn_seg->repl_last_io_ms) >
			    l->timeout_ms) {
				tn_warn("MASTER timeout: no data nor PING "
					"received for %d seconds...",
					l->timeout_ms / 1000);
				return -ETIMEDOUT;
			}
			continue;
		}
		if (n == -ECONNRESET) {
			tn_notice("Connection with master lost.");
			return (int)n;
		}
		if (n < 0)
			return fail("Error reading from MASTER", (int)n);
	}
}

/* One connection: handshake, sync, stream.  true once it streamed. */
static bool follow_once(struct link *l)
{
	struct master m;
	char replid[41];
	int64_t offset = 0;
	bool streamed = false;
	int r;

	tn_notice("Connecting to MASTER %s:%d", l->host, l->port);
	r = link_connect(l);
	if (r) {
		if (r != -EINTR)
			tn_warn("Error condition on socket for SYNC: %s "
				"(master %s:%d)",
				strerror(-r), l->host, l->port);
		return false;
	}
	tn_notice("MASTER <-> REPLICA sync started");
	master_init(&m);
	r = handshake(l);
	if (!r)
		r = psync(l, replid, &offset);
	if (r == PSYNC_FULL)
		r = full_sync(l, &m, replid, offset);
	else if (r == PSYNC_CONTINUE)
		r = 0;
	if (!r) {
		streamed = true;
		stream(l, &m);
	}
	master_free(&m);
	link_close(l);
	return streamed;
}

void tn_replica_main(void)
{
	struct link l = {.fd = -1};
	int backoff = REPL_BACKOFF_MIN_MS;

	tn_child_init("replica", 'S');
	tn_signals_stop_hup();
	tn_proc(tn_rt.nshards + 3)->alive = 1;
	/* a predecessor killed while applying left it raised */
	atomic_store(&tn_seg->repl_applying, 0);
	/* the generation of the master we read, read with it */
	tn_lock(&tn_seg->config_lock);
	my_gen = atomic_load(&tn_seg->repl_gen);
	snprintf(l.host, sizeof(l.host), "%s", tn_conf->replicaof_host);
	l.port = tn_conf->replicaof_port;
	tn_unlock(&tn_seg->config_lock);
	l.timeout_ms = TN_MAX(tn_conf->repl_timeout_s, 1) * 1000;
	if (!l.host[0])
		_exit(TN_EXIT_NORESPAWN);
	atomic_store(&tn_seg->repl_link_up, 0);
	while (!stopping()) {
		if (follow_once(&l))
			backoff = REPL_BACKOFF_MIN_MS;
		if (stopping())
			break;
		usleep((useconds_t)backoff * 1000);
		backoff = TN_MIN(backoff * 2, REPL_BACKOFF_MAX_MS);
	}
	tn_proc(tn_rt.nshards + 3)->alive = 0;
	_exit(0);
}
