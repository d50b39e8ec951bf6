/*
 * t_string.c - string commands.
 */
#include <string.h>

#include "store/cmds.h"
#include "util/util.h"

static void cmd_get(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_read(x, &k);

	if (!e) {
		tn_reply_null(x->r);
		return;
	}
	if (e->type != TN_T_STRING) {
		tn_reply_error(x->r, TN_ERR_WRONGTYPE);
		return;
	}
	tn_reply_bulk(x->r, tn_kentry_val(e), e->vlen);
}

static void cmd_set(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);

	if (!tn_db_set_string(x, &k, x->argv[2].p, x->argv[2].len, false)) {
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	tn_db_dirty(x, 1);
	tn_reply_ok(x->r);
}

const struct tn_cmd tn_cmds_string[] = {
	{"get", 2, TN_CMD_READONLY | TN_CMD_FAST, 1, 1, 1, cmd_get, NULL,
	 "read string fast"},
	{"set", -3, TN_CMD_WRITE | TN_CMD_DENYOOM, 1, 1, 1, cmd_set, NULL,
	 "write string slow"},
	{0},
};
