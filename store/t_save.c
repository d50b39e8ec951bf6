/*
 * t_save.c - SAVE, BGSAVE and LASTSAVE: RDB snapshots of the keyspace at
 * dir/dbfilename.  SAVE writes from this shard; BGSAVE asks the journal,
 * which saves from a thread of its own.
 */
#include <stdatomic.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "store/cmds.h"
#include "util/util.h"

#define TN_ERR_BGSAVE_RUNNING "ERR Background save already in progress"

static bool bgsave_running(void)
{
	return atomic_load(&tn_seg->rdb_bgsave_in_progress) ||
	       atomic_load(&tn_elog()->req_bgsave);
}

static void cmd_save(struct tn_ctx *x)
{
	if (bgsave_running()) {
		tn_reply_error(x->r, TN_ERR_BGSAVE_RUNNING);
		return;
	}
	if (tn_rdb_save_db() < 0) {
		tn_reply_error(x->r, "ERR");
		return;
	}
	tn_reply_ok(x->r);
}

static void cmd_bgsave(struct tn_ctx *x)
{
	bool schedule = false;

	if (x->argc > 1) {
		if (x->argc != 2 || !tn_arg_is(&x->argv[1], "schedule")) {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
		schedule = true;
	}
	if (atomic_load(&tn_seg->rdb_bgsave_in_progress)) {
		tn_reply_error(x->r, TN_ERR_BGSAVE_RUNNING);
		return;
	}
	/* as Redis with another child at work (an AOF rewrite): only
	 * SCHEDULE, or a call from inside a transaction, waits for it */
	if (atomic_load(&tn_seg->aof_rewrite_in_progress) &&
	    !schedule && !(x->c && (x->c->multi_flags & TN_MULTI_ACTIVE))) {
		tn_reply_error(x->r,
			       "ERR Another child process is active (AOF?): "
			       "can't BGSAVE right now. Use BGSAVE SCHEDULE in "
			       "order to schedule a BGSAVE whenever possible.");
		return;
	}
	if (atomic_exchange(&tn_elog()->req_bgsave, 1)) {
		tn_reply_error(x->r, TN_ERR_BGSAVE_RUNNING);
		return;
	}
	tn_elog_wake(tn_elog());
	if (atomic_load(&tn_seg->aof_rewrite_in_progress))
		tn_reply_status(x->r, "Background saving scheduled");
	else
		tn_reply_status(x->r, "Background saving started");
}

static void cmd_lastsave(struct tn_ctx *x)
{
	int64_t ms = atomic_load(&tn_seg->rdb_last_save_ms);

	/* Redis counts the start as the last save until one is made */
	if (ms <= 0)
		ms = tn_seg->start_ms;
	tn_reply_int(x->r, ms / 1000);
}

const struct tn_cmd tn_cmds_save[] = {
    {"save", 1, TN_CMD_ADMIN | TN_CMD_NOSCRIPT | TN_CMD_NO_MULTI |
		    TN_CMD_ALLSTRIPES,
     0, 0, 0, cmd_save, NULL, "admin slow dangerous", NULL,
     "Synchronously save the dataset to disk", "1.0.0", "server"},
    {"bgsave", -1, TN_CMD_ADMIN | TN_CMD_NOSCRIPT | TN_CMD_ALLSTRIPES, 0, 0,
     0, cmd_bgsave, NULL, "admin slow dangerous", NULL,
     "Asynchronously save the dataset to disk", "1.0.0", "server"},
    {"lastsave", 1, TN_CMD_LOADING | TN_CMD_STALE | TN_CMD_FAST, 0, 0, 0,
     cmd_lastsave, NULL, "admin fast dangerous", NULL,
     "Get the UNIX time stamp of the last successful save to disk", "1.0.0",
     "server"},
    {.name = NULL},
};
