/*
 * t_aof.c - persistence commands (filled in with the journal).
 */
#include "store/cmds.h"

const struct tn_cmd tn_cmds_aof[] = {
	{.name = NULL},
};
