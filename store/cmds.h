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
extern const struct tn_cmd tn_cmds_info[];
extern const struct tn_cmd tn_cmds_client[];
extern const struct tn_cmd tn_cmds_command[];

/* Connection state shared by t_server.c (HELLO, RESET) and t_client.c. */
/* Set the client's name ("" removes it); on a name Redis refuses, reply
 * the error and return false. */
bool tn_client_setname(struct tn_ctx *x, const char *name, size_t len);
/* The client's name, "" when it has none. */
const char *tn_client_name(const struct tn_client *c, size_t *len);
/* Switch RESP version for this reply on, keeping the shared slot in step. */
void tn_client_set_resp(struct tn_ctx *x, int resp);
/* Reply a Redis-style HELP: "<CMD> <subcommand> ..." + lines + HELP. */
void tn_reply_help(struct tn_ctx *x, const char *const *lines);
/* CONFIG RESETSTAT's part in t_info.c: instantaneous metrics and peak. */
void tn_stats_reset(void);

/*
 * Intsets (t_set.c): a set of integers as a sorted int64 array in the
 * segment.  `*is` is the intset's offset (0: empty, none allocated yet);
 * growing or shrinking may move it, so the caller stores *is back.
 */
bool tn_intset_find(const struct intset_shm *is, int64_t v, uint32_t *pos);
/* 1 added, 0 already there, -ENOMEM (intset unchanged). */
int tn_intset_add(struct slab_cache_shm *c, tn_off *is, int64_t v);
/* true if it was there and is now gone. */
bool tn_intset_remove(struct slab_cache_shm *c, tn_off *is, int64_t v);

#endif
