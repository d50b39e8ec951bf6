/*
 * t_save.c - persistence commands (filled in with the journal).
 */
#include "store/cmds.h"

const struct tn_cmd tn_cmds_save[] = {
	{.name = NULL},
};
