/*
 * t_keys.c - commands on keys of any type.
 */
#include "store/cmds.h"

const struct tn_cmd tn_cmds_keys[] = {
	{0},
};
