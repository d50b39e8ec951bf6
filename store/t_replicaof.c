/*
 * t_replicaof.c - REPLICAOF / SLAVEOF, and what INFO replication and ROLE
 * show of a replica.  The command only changes tn_conf; the supervisor
 * starts, restarts or stops the replica process (journal/repl_replica.c).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/repl.h"
#include "store/cmds.h"
#include "util/util.h"

#define TN_NULL_REPLID "0000000000000000000000000000000000000000"
#define TN_REPLICAOF_WAIT_MS 2000 /* for the command the old link runs */

bool tn_is_replica(void)
{
	return tn_conf && tn_conf->replicaof_host[0] != '\0';
}

/*
 * The supervisor reads tn_conf again and acts on the change.  Called
 * after repl_gen moved: the replica process applies nothing more of the
 * old master once any command it is running ends, which we wait for.
 */
static void tell_supervisor(void)
{
	int64_t end = tn_mstime() + TN_REPLICAOF_WAIT_MS;

	if (tn_rt.pid_supervisor > 0)
		kill(tn_rt.pid_supervisor, SIGUSR2);
	while (atomic_load(&tn_seg->repl_applying) && tn_mstime() < end)
		usleep(100);
}

/*
 * Become a master again.  The master's history we hold stays valid up to
 * our offset: it becomes replid2, as Redis' shiftReplicationId, and the
 * next REPLICAOF starts from a full sync (our data may change now).
 */
static void promote(void)
{
	int64_t off = atomic_load(&tn_seg->repl_master_offset);

	if (tn_seg->repl_master_replid[0]) {
		memcpy(tn_seg->repl_master_replid2, tn_seg->repl_master_replid,
		       sizeof(tn_seg->repl_master_replid2));
		atomic_store(&tn_seg->repl_second_offset, off + 1);
		tn_notice("Setting secondary replication ID to %s, valid up to "
			  "offset: %lld",
			  tn_seg->repl_master_replid2, (long long)off + 1);
	}
	tn_seg->repl_master_replid[0] = '\0';
	atomic_store(&tn_seg->repl_self_cached, 0);
	atomic_store(&tn_seg->repl_link_up, 0);
	atomic_store(&tn_seg->repl_sync_in_progress, 0);
}

static void cmd_replicaof(struct tn_ctx *x)
{
	const struct tn_arg *host = &x->argv[1];
	long long port;
	bool same;

	if (tn_arg_is(host, "no") && tn_arg_is(&x->argv[2], "one")) {
		bool was;

		tn_lock(&tn_seg->config_lock);
		was = tn_conf->replicaof_host[0] != '\0';
		tn_conf->replicaof_host[0] = '\0';
		tn_conf->replicaof_port = 0;
		if (was) {
			promote();
			atomic_fetch_add(&tn_seg->repl_gen, 1);
		}
		tn_unlock(&tn_seg->config_lock);
		if (was) {
			tn_notice("MASTER MODE enabled (user request from '%s')",
				  x->c->addr);
			tell_supervisor();
		}
		tn_reply_ok(x->r);
		return;
	}
	if (!tn_str2ll(x->argv[2].p, x->argv[2].len, &port) || port < 0 ||
	    port > 65535) {
		tn_reply_error(x->r, "ERR Invalid master port");
		return;
	}
	if (host->len == 0 || host->len >= sizeof(tn_conf->replicaof_host) ||
	    memchr(host->p, '\0', host->len)) {
		tn_reply_error(x->r, "ERR Invalid master host");
		return;
	}
	tn_lock(&tn_seg->config_lock);
	if (!tn_conf->replicaof_host[0] && !tn_seg->repl_master_replid[0]) {
		int64_t own = (int64_t)atomic_load(&tn_seg->master_repl_offset);

		atomic_store(&tn_seg->repl_master_offset, own);
		atomic_store(&tn_seg->repl_read_offset, own);
		atomic_store(&tn_seg->repl_self_cached, 1);
	}
	same = tn_conf->replicaof_host[0] &&
	       strlen(tn_conf->replicaof_host) == host->len &&
	       strncasecmp(tn_conf->replicaof_host, host->p, host->len) == 0 &&
	       tn_conf->replicaof_port == port;
	if (!same) {
		memcpy(tn_conf->replicaof_host, host->p, host->len);
		tn_conf->replicaof_host[host->len] = '\0';
		tn_conf->replicaof_port = (int)port;
		/* the link to the old master is lost now, as Redis counts */
		if (atomic_exchange(&tn_seg->repl_link_up, 0))
			atomic_store(&tn_seg->repl_down_since_ms, tn_mstime());
		atomic_fetch_add(&tn_seg->repl_gen, 1);
	}
	tn_unlock(&tn_seg->config_lock);
	if (same) {
		tn_notice("REPLICAOF would result into synchronization with the "
			  "master we are already connected with. No operation "
			  "performed.");
		tn_reply_status(x->r, "OK Already connected to specified master");
		return;
	}
	tn_notice("REPLICAOF %.*s:%lld enabled (user request from '%s')",
		  (int)host->len, host->p, port, x->c->addr);
	tell_supervisor();
	tn_reply_ok(x->r);
}

/* The transfer of a full sync's RDB, as Redis shows it (the EOF form
 * has no size: 0, and a negative left count, as in Redis). */
static int info_transfer(struct tn_buf *b, int64_t now)
{
	int64_t size = atomic_load(&tn_seg->repl_transfer_size);
	int64_t read = atomic_load(&tn_seg->repl_transfer_read);
	int64_t io = atomic_load(&tn_seg->repl_last_io_ms);

	return tn_buf_printf(b,
			     "master_sync_total_bytes:%lld\r\n"
			     "master_sync_read_bytes:%lld\r\n"
			     "master_sync_left_bytes:%lld\r\n"
			     "master_sync_perc:%.2f\r\n"
			     "master_sync_last_io_seconds_ago:%d\r\n",
			     (long long)size, (long long)read,
			     (long long)(size - read),
			     size ? (double)read * 100 / (double)size : 0.0,
			     io ? (int)((now - io) / 1000) : 0);
}

/*
 * INFO replication of a replica: Redis 7.0's fields in its order.  The
 * offsets are 1 while no history is held (Redis: no master and no cached
 * master), as before the first sync of a replica from its start.
 */
int tn_replica_info(struct tn_buf *b)
{
	int64_t off = atomic_load(&tn_seg->repl_master_offset);
	int64_t read = atomic_load(&tn_seg->repl_read_offset);
	int64_t io = atomic_load(&tn_seg->repl_last_io_ms);
	int64_t start = atomic_load(&tn_seg->repl_sync_offset);
	int64_t second = atomic_load(&tn_seg->repl_second_offset);
	int64_t down = atomic_load(&tn_seg->repl_down_since_ms);
	int64_t now = tn_mstime(), hist = 0;
	bool up = atomic_load(&tn_seg->repl_link_up) != 0;
	bool syncing = atomic_load(&tn_seg->repl_sync_in_progress) != 0;
	bool synced = tn_seg->repl_master_replid[0] != '\0';
	/* Redis: the master's offset, else the cached master's (kept
	 * through a full sync's transfer), else 1 */
	bool cached = synced || atomic_load(&tn_seg->repl_self_cached);
	int r;

	r = tn_buf_printf(b,
			  "# Replication\r\n"
			  "role:slave\r\n"
			  "master_host:%s\r\n"
			  "master_port:%d\r\n"
			  "master_link_status:%s\r\n"
			  "master_last_io_seconds_ago:%lld\r\n"
			  "master_sync_in_progress:%d\r\n"
			  "slave_read_repl_offset:%lld\r\n"
			  "slave_repl_offset:%lld\r\n",
			  tn_conf->replicaof_host, tn_conf->replicaof_port,
			  up ? "up" : "down",
			  up ? (long long)(now - io) / 1000 : -1LL,
			  syncing ? 1 : 0, cached ? (long long)read : 1LL,
			  cached ? (long long)off : 1LL);
	if (!r && syncing)
		r = info_transfer(b, now);
	if (!r && !up)
		r = tn_buf_printf(b, "master_link_down_since_seconds:%lld\r\n",
				  down ? (long long)(now - down) / 1000 : -1LL);
	if (synced) {
		hist = off - start;
		if (hist > tn_conf->repl_backlog_size)
			hist = tn_conf->repl_backlog_size;
	}
	if (!r)
		r = tn_buf_printf(b,
				  "slave_priority:%d\r\n"
				  "slave_read_only:%d\r\n"
				  "replica_announced:1\r\n",
				  tn_conf->replica_priority,
				  tn_conf->replica_read_only);
	if (!r)
		r = tn_repl_info_slaves(b);
	if (!r)
		r = tn_buf_printf(
			b,
			"master_failover_state:no-failover\r\n"
			"master_replid:%s\r\n"
			"master_replid2:%s\r\n"
			"master_repl_offset:%lld\r\n"
			"second_repl_offset:%lld\r\n"
			"repl_backlog_active:%d\r\n"
			"repl_backlog_size:%lld\r\n"
			"repl_backlog_first_byte_offset:%lld\r\n"
			"repl_backlog_histlen:%lld\r\n",
			synced ? tn_seg->repl_master_replid : tn_seg->run_id,
			tn_seg->repl_master_replid2[0]
				? tn_seg->repl_master_replid2
				: TN_NULL_REPLID,
			(long long)off, second ? (long long)second : -1LL,
			synced ? 1 : 0, tn_conf->repl_backlog_size,
			synced ? (long long)(off - hist + 1) : 0LL,
			(long long)hist);
	return r;
}

void tn_replica_role(struct tn_reply *r)
{
	const char *state = "connect";
	bool up = atomic_load(&tn_seg->repl_link_up) != 0;

	if (up)
		state = "connected";
	else if (atomic_load(&tn_seg->repl_sync_in_progress))
		state = "sync";
	tn_reply_array(r, 5);
	tn_reply_bulkstr(r, "slave");
	tn_reply_bulkstr(r, tn_conf->replicaof_host);
	tn_reply_int(r, tn_conf->replicaof_port);
	tn_reply_bulkstr(r, state);
	tn_reply_int(r, up ? (long long)atomic_load(&tn_seg->repl_master_offset)
			   : -1LL);
}

#define REPLICAOF_FLAGS (TN_CMD_ADMIN | TN_CMD_NOSCRIPT | TN_CMD_STALE)

const struct tn_cmd tn_cmds_replicaof[] = {
	{"replicaof", 3, REPLICAOF_FLAGS, 0, 0, 0, cmd_replicaof, NULL,
	 "admin slow dangerous", NULL,
	 "Make the server a replica of another instance, or promote it as "
	 "master.",
	 "5.0.0", "server"},
	{"slaveof", 3, REPLICAOF_FLAGS, 0, 0, 0, cmd_replicaof, NULL,
	 "admin slow dangerous", NULL,
	 "Make the server a replica of another instance, or promote it as "
	 "master. Deprecated starting with Redis 5. Use REPLICAOF instead.",
	 "1.0.0", "server"},
	{.name = NULL},
};
