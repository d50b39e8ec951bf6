/*
 * t_aof.c - BGREWRITEAOF: asks the journal process, which rewrites the
 * AOF from a thread of its own (journal/rewrite.c); replies as Redis 7.0.
 */
#include <stdatomic.h>

#include "daemon/daemon.h"
#include "store/cmds.h"
#include "util/util.h"

static void cmd_bgrewriteaof(struct tn_ctx *x)
{
	struct elog_shm *l = tn_elog();

	if (atomic_load(&tn_seg->aof_rewrite_in_progress)) {
		tn_reply_error(x->r, "ERR Background append only file rewriting "
				     "already in progress");
		return;
	}
	/* another background job (BGSAVE) or a transaction: it waits */
	if (atomic_load(&tn_seg->rdb_bgsave_in_progress) ||
	    atomic_load(&l->req_bgsave) ||
	    (x->c && (x->c->multi_flags & TN_MULTI_ACTIVE))) {
		atomic_store(&tn_seg->aof_rewrite_scheduled, 1);
		atomic_store(&l->req_rewrite, 1);
		tn_elog_wake(l);
		tn_reply_status(x->r,
				"Background append only file rewriting scheduled");
		return;
	}
	if (atomic_exchange(&l->req_rewrite, 1) &&
	    !atomic_load(&tn_seg->aof_rewrite_scheduled)) {
		tn_reply_error(x->r, "ERR Background append only file rewriting "
				     "already in progress");
		return;
	}
	/* INFO shows it at once, as Redis' fork does */
	atomic_store(&tn_seg->aof_rewrite_in_progress, 1);
	tn_elog_wake(l);
	tn_reply_status(x->r, "Background append only file rewriting started");
}

const struct tn_cmd tn_cmds_aof[] = {
	{"bgrewriteaof", 1, TN_CMD_ADMIN | TN_CMD_NOSCRIPT, 0, 0, 0,
	 cmd_bgrewriteaof, NULL, "admin slow dangerous", NULL,
	 "Asynchronously rewrite the append-only file to disk", "1.0.0",
	 "server"},
	{.name = NULL},
};
