/*
 * t_repl.c - the master's replication commands: REPLCONF, PSYNC and SYNC
 * (which hand the replica's socket to the journal, journal/repl_master.c),
 * ROLE, WAIT, the min-replicas-to-write check and INFO replication.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "journal/repl.h"
#include "store/cmds.h"
#include "util/util.h"

#define TN_REPL_HANDOFF_FLUSH_MS 1000 /* replies owed before the hand-off */

static const char *const state_names[] = {
	[TN_REPL_FREE] = "none",
	[TN_REPL_WAIT_BGSAVE] = "wait_bgsave",
	[TN_REPL_SEND_BULK] = "send_bulk",
	[TN_REPL_ONLINE] = "online",
};

static void wake_journal(void)
{
	uint64_t one = 1;

	if (write(tn_rt.repl_wake, &one, sizeof(one)) < 0) {
		/* the counter is full: it is awake anyway */
	}
}

/* REPLCONF <option> <value> ...: what a replica says before PSYNC. */
static void cmd_replconf(struct tn_ctx *x)
{
	struct tn_client *c = x->c;
	int i;

	if (x->argc % 2 == 0) {
		tn_reply_error(x->r, TN_ERR_SYNTAX);
		return;
	}
	for (i = 1; i < x->argc; i += 2) {
		const struct tn_arg *o = &x->argv[i], *v = &x->argv[i + 1];
		long long port;

		if (tn_arg_is(o, "listening-port")) {
			if (!tn_str2ll(v->p, v->len, &port)) {
				tn_reply_error(x->r, TN_ERR_NOTINT);
				return;
			}
			c->repl.port = (int)port;
		} else if (tn_arg_is(o, "ip-address")) {
			if (v->len >= sizeof(c->repl.ip)) {
				tn_reply_errorf(x->r,
						"ERR REPLCONF ip-address provided "
						"by replica instance is too long: "
						"%zu bytes",
						v->len);
				return;
			}
			memcpy(c->repl.ip, v->p, v->len);
			c->repl.ip[v->len] = '\0';
		} else if (tn_arg_is(o, "capa")) {
			if (tn_arg_is(v, "eof"))
				c->repl.capa |= TN_REPL_CAPA_EOF;
			else if (tn_arg_is(v, "psync2"))
				c->repl.capa |= TN_REPL_CAPA_PSYNC2;
		} else if (tn_arg_is(o, "ack") || tn_arg_is(o, "fack") ||
			   tn_arg_is(o, "getack")) {
			/* only links say these (the journal reads the
			 * replicas'); Redis answers nothing either */
			return;
		} else if (tn_arg_is(o, "rdb-only")) {
			long long v01;

			if (!tn_str2ll(v->p, v->len, &v01) ||
			    (v01 != 0 && v01 != 1)) {
				tn_reply_error(x->r, TN_ERR_NOTINT);
				return;
			}
		} else {
			tn_reply_errorf(x->r,
					"ERR Unrecognized REPLCONF option: %.*s",
					(int)TN_MIN(o->len, 128), o->p);
			return;
		}
	}
	tn_reply_ok(x->r);
}

/* Send the replies still owed (REPLCONF's +OK pipelined before PSYNC):
 * the journal writes on the socket from now on. */
static bool flush_owed(struct tn_client *c)
{
	int64_t deadline = tn_mstime() + TN_REPL_HANDOFF_FLUSH_MS;
	struct tn_buf *o = &c->out;

	while (tn_buf_pending(o)) {
		struct pollfd p = {.fd = c->fd, .events = POLLOUT};
		ssize_t n = write(c->fd, o->data + o->off, tn_buf_pending(o));

		if (n > 0) {
			o->off += (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return false;
		if (tn_mstime() >= deadline)
			return false;
		poll(&p, 1, 100);
	}
	o->off = o->len = 0;
	return true;
}

/* Hand the client to the journal as a replica; the shard forgets it. */
static void hand_off(struct tn_ctx *x, bool sync, const struct tn_arg *id,
		     const struct tn_arg *off)
{
	struct tn_client *c = x->c;
	struct tn_repl_handoff h;
	long long o = -1;
	char *colon;
	int rc;

	if (c->multi_flags & TN_MULTI_ACTIVE) {
		tn_reply_error(x->r, "ERR Command not allowed inside a "
				     "transaction");
		return;
	}
	memset(&h, 0, sizeof(h));
	h.sync = sync;
	h.capa = sync ? 0 : c->repl.capa;
	h.listening_port = c->repl.port;
	if (id) {
		snprintf(h.replid, sizeof(h.replid), "%.*s",
			 (int)TN_MIN(id->len, TN_REPL_ID_LEN), id->p);
		if (!tn_str2ll(off->p, off->len, &o))
			o = -1;
	}
	h.offset = o;
	snprintf(h.addr, sizeof(h.addr), "%s", c->addr);
	if (c->repl.ip[0]) {
		snprintf(h.ip, sizeof(h.ip), "%s", c->repl.ip);
	} else {
		/* "ip:port" (the ip may hold colons itself: IPv6) */
		colon = strrchr(c->addr, ':');
		snprintf(h.ip, sizeof(h.ip), "%.*s",
			 (int)TN_MIN(colon ? (size_t)(colon - c->addr)
				       : strlen(c->addr),
				     sizeof(h.ip) - 1),
			 c->addr);
	}
	if (!flush_owed(c)) {
		c->flags |= TN_CLIENT_CLOSE_ASAP;
		return;
	}
	rc = tn_fd_send(tn_rt.repl_shard_sock[x->shard], c->fd, &h,
			sizeof(h));
	if (rc < 0) {
		tn_warn("cannot hand replica %s to the journal: %s", c->addr,
			strerror(-rc));
		tn_reply_errorf(x->r, "ERR cannot start replication: %s",
				strerror(-rc));
		return;
	}
	wake_journal();
	/* the journal holds its own copy of the socket now: closing ours
	 * leaves the connection open */
	c->flags |= TN_CLIENT_CLOSE_ASAP;
}

static void cmd_psync(struct tn_ctx *x)
{
	hand_off(x, false, &x->argv[1], &x->argv[2]);
}

static void cmd_sync(struct tn_ctx *x)
{
	hand_off(x, true, NULL, NULL);
}

/* Replicas whose state is online, and those with a recent ACK. */
static int count_replicas(bool online_only, int64_t max_lag_ms,
			  uint64_t min_ack)
{
	int i, n = 0;
	int64_t now = tn_mstime();

	for (i = 0; i < TN_REPL_SLOTS; i++) {
		struct repl_replica_shm *s = &tn_seg->repl_replicas[i];
		uint32_t st = atomic_load(&s->state);

		if (st == TN_REPL_FREE)
			continue;
		if (online_only && st != TN_REPL_ONLINE)
			continue;
		if (max_lag_ms >= 0 && now - atomic_load(&s->ack_ms) >
					       max_lag_ms)
			continue;
		if (atomic_load(&s->ack_off) < min_ack)
			continue;
		n++;
	}
	return n;
}

bool tn_repl_min_replicas_ok(void)
{
	int need = tn_conf->min_replicas_to_write;
	int lag = tn_conf->min_replicas_max_lag_s;

	if (need <= 0 || lag <= 0)
		return true;
	/* Redis counts lag in whole seconds: lag <= max-lag is good */
	return count_replicas(true, (int64_t)lag * 1000 + 999, 0) >= need;
}

long long tn_repl_kill_replicas(void)
{
	long long n = atomic_load(&tn_seg->repl_nreplicas);

	if (n) {
		atomic_store(&tn_seg->repl_req_kill, 1);
		wake_journal();
	}
	return n;
}

static void role_master(struct tn_ctx *x)
{
	size_t mark;
	long long n = 0;
	int i;

	tn_reply_array(x->r, 3);
	tn_reply_bulkstr(x->r, "master");
	tn_reply_int(x->r, (long long)atomic_load(&tn_seg->master_repl_offset));
	mark = tn_reply_defer(x->r);
	for (i = 0; i < TN_REPL_SLOTS; i++) {
		struct repl_replica_shm *s = &tn_seg->repl_replicas[i];

		if (atomic_load(&s->state) != TN_REPL_ONLINE)
			continue;
		tn_reply_array(x->r, 3);
		tn_reply_bulkstr(x->r, s->ip);
		tn_reply_bulk_ll(x->r, s->port);
		tn_reply_bulk_ll(x->r, (long long)atomic_load(&s->ack_off));
		n++;
	}
	tn_reply_defer_set(x->r, mark, '*', n);
}

static void cmd_role(struct tn_ctx *x)
{
	if (tn_is_replica())
		tn_replica_role(x->r);
	else
		role_master(x);
}

bool tn_repl_wait_check(struct tn_repl_wait *w, int64_t now,
			long long *acked)
{
	bool late = w->deadline_ms && now >= w->deadline_ms;

	if (!w->fed) {
		/*
		 * The journal feeds a batch to the stream before it publishes
		 * the batch durable: once `durable` passed the client's last
		 * write, the stream offset now covers it.  Not yet: no replica
		 * can have acknowledged it.
		 */
		if (w->logged > atomic_load(&tn_elog()->durable)) {
			*acked = 0;
			return late || w->want <= 0;
		}
		w->fed = true;
		w->target = w->logged ?
				    atomic_load(&tn_seg->master_repl_offset) :
				    0;
	}
	*acked = count_replicas(true, -1, w->target);
	if (*acked >= w->want || late)
		return true;
	if (!w->asked) {
		/* once: the replicas answer GETACK with their offset now,
		 * instead of at their next once-a-second ACK */
		w->asked = true;
		atomic_store(&tn_seg->repl_req_getack, 1);
		wake_journal();
	}
	return false;
}

/*
 * WAIT numreplicas timeout.  As Redis, only the calling client waits:
 * the shard parks it (tn_shard_wait_park) and answers when enough
 * replicas acknowledged its writes, or at the deadline; a timeout of 0
 * waits for ever.  Inside MULTI it answers at once.
 */
static void cmd_wait(struct tn_ctx *x)
{
	struct tn_repl_wait w = {0};
	long long want, timeout, acked;

	if (tn_is_replica()) {
		tn_reply_error(x->r,
			       "ERR WAIT cannot be used with replica instances. "
			       "Please also note that since Redis 4.0 if a "
			       "replica is configured to be writable (which is "
			       "not the default) writes to replicas are just "
			       "local and are not propagated.");
		return;
	}
	if (!tn_arg_ll(x, 1, &want, NULL))
		return;
	if (!tn_arg_ll(x, 2, &timeout,
		       "ERR timeout is not an integer or out of range"))
		return;
	if (timeout < 0) {
		tn_reply_error(x->r, "ERR timeout is negative");
		return;
	}
	w.want = want;
	w.logged = tn_shard_client_wpos(x->c);
	/* Redis takes a deadline past the clock's range as no deadline */
	if (timeout > 0)
		w.deadline_ms = timeout > INT64_MAX - x->now_ms ?
					0 :
					x->now_ms + timeout;
	if (tn_repl_wait_check(&w, x->now_ms, &acked) ||
	    (x->c->multi_flags & TN_MULTI_ACTIVE) ||
	    tn_shard_wait_park(x->c, &w) < 0)
		tn_reply_int(x->r, acked);
}

/*
 * connected_slaves, min_slaves_good_slaves (when min-replicas-to-write is
 * on) and a slaveN line per link, as Redis prints them for a master and
 * for a replica with replicas of its own.
 */
int tn_repl_info_slaves(struct tn_buf *b)
{
	int64_t now = tn_mstime();
	int i, n = 0, rc;

	rc = tn_buf_printf(b, "connected_slaves:%d\r\n",
			   (int)atomic_load(&tn_seg->repl_nreplicas));
	if (rc >= 0 && tn_conf->min_replicas_to_write > 0 &&
	    tn_conf->min_replicas_max_lag_s > 0)
		rc = tn_buf_printf(
		    b, "min_slaves_good_slaves:%d\r\n",
		    count_replicas(true,
				   (int64_t)tn_conf->min_replicas_max_lag_s *
					   1000 + 999,
				   0));
	for (i = 0; i < TN_REPL_SLOTS && rc >= 0; i++) {
		struct repl_replica_shm *s = &tn_seg->repl_replicas[i];
		uint32_t st = atomic_load(&s->state);

		if (st == TN_REPL_FREE || st >= TN_ARRAY_SIZE(state_names))
			continue;
		rc = tn_buf_printf(
		    b, "slave%d:ip=%s,port=%u,state=%s,offset=%llu,lag=%lld\r\n",
		    n++, s->ip, s->port, state_names[st],
		    (unsigned long long)atomic_load(&s->ack_off),
		    (long long)((now - atomic_load(&s->ack_ms)) / 1000));
	}
	return rc < 0 ? rc : 0;
}

int tn_info_replication_master(struct tn_buf *b)
{
	uint64_t off = atomic_load(&tn_seg->master_repl_offset);
	uint64_t hist = atomic_load(&tn_seg->repl_backlog_histlen);
	int active = atomic_load(&tn_seg->repl_backlog_active);
	int rc;

	rc = tn_buf_printf(b, "# Replication\r\n"
			      "role:master\r\n");
	if (rc >= 0)
		rc = tn_repl_info_slaves(b);
	if (rc < 0)
		return rc;
	return tn_buf_printf(
	    b,
	    "master_failover_state:no-failover\r\n"
	    "master_replid:%s\r\n"
	    "master_replid2:%s\r\n"
	    "master_repl_offset:%llu\r\n"
	    "second_repl_offset:%lld\r\n"
	    "repl_backlog_active:%d\r\n"
	    "repl_backlog_size:%lld\r\n"
	    "repl_backlog_first_byte_offset:%llu\r\n"
	    "repl_backlog_histlen:%llu\r\n",
	    /* the journal sets it from the run id as it starts */
	    tn_seg->master_replid[0] ? tn_seg->master_replid : tn_seg->run_id,
	    tn_seg->master_replid2[0]
		? tn_seg->master_replid2
		: "0000000000000000000000000000000000000000",
	    (unsigned long long)off,
	    (long long)(tn_seg->master_replid2[0]
			    ? atomic_load(&tn_seg->second_repl_offset)
			    : -1),
	    active, tn_conf->repl_backlog_size,
	    (unsigned long long)(active ? off - hist + 1 : 0),
	    (unsigned long long)hist);
}

int tn_info_replication(struct tn_buf *b)
{
	if (tn_is_replica())
		return tn_replica_info(b);
	return tn_info_replication_master(b);
}

const struct tn_cmd tn_cmds_repl[] = {
    {"replconf", -1,
     TN_CMD_ADMIN | TN_CMD_NOSCRIPT | TN_CMD_LOADING | TN_CMD_STALE |
	 TN_CMD_ALLOW_BUSY,
     0, 0, 0, cmd_replconf, NULL, "admin slow dangerous", NULL,
     "An internal command for configuring the replication stream", "3.0.0",
     "server"},
    {"psync", -3, TN_CMD_ADMIN | TN_CMD_NOSCRIPT | TN_CMD_NO_MULTI, 0, 0, 0,
     cmd_psync, NULL, "admin slow dangerous", NULL,
     "An internal command used in replication", "2.8.0", "server"},
    {"sync", 1, TN_CMD_ADMIN | TN_CMD_NOSCRIPT | TN_CMD_NO_MULTI, 0, 0, 0,
     cmd_sync, NULL, "admin slow dangerous", NULL,
     "An internal command used in replication", "1.0.0", "server"},
    {"role", 1,
     TN_CMD_NOSCRIPT | TN_CMD_LOADING | TN_CMD_STALE | TN_CMD_FAST |
	 TN_CMD_SENTINEL,
     0, 0, 0, cmd_role, NULL, "admin fast dangerous", NULL,
     "Return the role of the instance in the context of replication",
     "2.8.12", "server"},
    {"wait", 3, TN_CMD_NOSCRIPT, 0, 0, 0, cmd_wait, NULL, "slow connection",
     NULL,
     "Wait for the synchronous replication of all the write commands sent "
     "in the context of the current connection",
     "3.0.0", "generic"},
    {.name = NULL},
};
