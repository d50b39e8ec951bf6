/*
 * t_server.c - connection and server commands.
 */
#include "store/cmds.h"

static void cmd_ping(struct tn_ctx *x)
{
	if (x->argc > 2) {
		tn_reply_error(x->r, "ERR wrong number of arguments for 'ping' command");
		return;
	}
	if (x->argc == 2)
		tn_reply_bulk(x->r, x->argv[1].p, x->argv[1].len);
	else
		tn_reply_status(x->r, "PONG");
}

void tn_client_release(struct tn_client *c)
{
}

const struct tn_cmd tn_cmds_server[] = {
	{"ping", -1, TN_CMD_FAST | TN_CMD_STALE, 0, 0, 0, cmd_ping, NULL,
	 "fast connection"},
	{0},
};
