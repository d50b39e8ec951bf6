/*
 * t_set.c - set commands.
 */
#include "store/cmds.h"

const struct tn_cmd tn_cmds_set[] = {
	{0},
};
