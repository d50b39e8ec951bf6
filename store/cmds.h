/*
 * cmds.h - the command tables each t_*.c file exports, private to store/.
 * command.c merges them into one lookup table.
 */
#ifndef TN_CMDS_H
#define TN_CMDS_H

#include "store/store.h"

/* Each table ends with an entry whose name is NULL. */
extern const struct tn_cmd tn_cmds_string[];
extern const struct tn_cmd tn_cmds_keys[];
extern const struct tn_cmd tn_cmds_set[];
extern const struct tn_cmd tn_cmds_server[];

#endif
