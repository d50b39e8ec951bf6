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
extern const struct tn_cmd tn_cmds_multi[];
extern const struct tn_cmd tn_cmds_pubsub[];
extern const struct tn_cmd tn_cmds_aof[];  /* t_aof.c: BGREWRITEAOF */
extern const struct tn_cmd tn_cmds_save[]; /* t_save.c: SAVE, BGSAVE, LASTSAVE */
extern const struct tn_cmd tn_cmds_replicaof[]; /* REPLICAOF, SLAVEOF */
extern const struct tn_cmd tn_cmds_repl[]; /* t_repl.c: REPLCONF PSYNC ROLE WAIT */

/* Replication, master side (t_repl.c).  INFO's replication section
 * (the replica's through tn_replica_info); its master part; 0 or
 * -ENOMEM. */
int tn_info_replication(struct tn_buf *b);
int tn_info_replication_master(struct tn_buf *b);
/* min-replicas-to-write / min-replicas-max-lag allow writes now? */
bool tn_repl_min_replicas_ok(void);
/* CLIENT KILL TYPE replica: ask the journal to drop every replica
 * link; returns how many there are. */
long long tn_repl_kill_replicas(void);

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
 * Transactions (multi.c), for dispatch, RESET and the client's release.
 */
/* Inside MULTI, does this command run at once rather than queue?  EXEC,
 * DISCARD, MULTI, WATCH, QUIT and RESET, as in Redis. */
bool tn_multi_runs_now(const struct tn_cmd *cmd);
bool tn_multi_is_exec(const struct tn_cmd *cmd);
/* Is the memory limit checked before this command beyond its DENYOOM
 * flag?  Inside MULTI all but EXEC, DISCARD, QUIT and RESET are (queues
 * grow); EXEC is when a queued command is DENYOOM. */
bool tn_multi_oom_applies(const struct tn_client *c, const struct tn_cmd *cmd);
/* Did a write change its i-th key argument (not a source of a *STORE,
 * COPY, BITOP or PFMERGE)?  Only those touch WATCHed keys. */
bool tn_multi_key_written(const struct tn_cmd *cmd, int i);
/* Queue a command (its arguments copied) and reply +QUEUED. */
void tn_multi_queue(struct tn_client *c, const struct tn_cmd *cmd,
		    const struct tn_arg *argv, int argc);
/* EXEC refused by a check: "EXECABORT ... because of: <msg>", discard. */
void tn_multi_exec_abort(struct tn_client *c, const char *msg);
/* Leave MULTI and forget the watched keys (DISCARD, RESET). */
void tn_multi_discard(struct tn_client *c);
/* A closing client: tn_multi_discard and free the state. */
void tn_multi_release(struct tn_client *c);
/*
 * The shared side of WATCH, for a key whose stripe the caller holds
 * (marked written): take a reference on its entry, creating it, and
 * give its version (0 or -ENOMEM); drop a reference, removing the entry
 * with the last one; read the version (false when nobody watches).
 */
int tn_watch_hold(const struct tn_key *k, uint64_t *version);
void tn_watch_drop(const struct tn_key *k);
bool tn_watch_version(const struct tn_key *k, uint64_t *version);

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
