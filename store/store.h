/*
 * store.h - TitanStore's commands: the client as a command sees it, the
 * command table, the keyspace (entries in the stripes' dicts, TTLs, lazy
 * expiry), and the glob matcher.  One file per type: t_string.c, t_set.c,
 * keys in db.c and t_keys.c, server commands in t_server.c.
 */
#ifndef TN_STORE_H
#define TN_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/daemon.h"
#include "ipc/ipc.h"
#include "shm/shm.h"

/* ------------------------------------------------------------------ */
/* Clients                                                              */
/* ------------------------------------------------------------------ */

#define TN_CLIENT_UNIX (1u << 0)
#define TN_CLIENT_CLOSE_AFTER_REPLY (1u << 1)
#define TN_CLIENT_CLOSE_ASAP (1u << 2)
#define TN_CLIENT_NO_EVICT (1u << 3)
/* The replica's link to its master: obeyed, never answered, exempt from
 * replica-read-only, maxmemory and MISCONF (store/dispatch.c). */
#define TN_CLIENT_MASTER (1u << 4)
/* Parked in WAIT (CLIENT LIST's `b`, INFO's blocked_clients). */
#define TN_CLIENT_BLOCKED (1u << 5)

struct tn_client {
	uint64_t id;
	int fd;
	int resp; /* 2 or 3 */
	uint32_t flags;
	bool authenticated;
	uint32_t slot; /* index of its client_shm */
	struct tn_buf in;
	struct tn_buf out;
	struct tn_resp_req req;
	struct tn_reply reply;
	int64_t ctime_ms;
	int64_t last_ms;
	char name[64];
	char addr[64]; /* "ip:port" or path */
	char laddr[64];
	/* key hashes of the current command, by argv index */
	uint64_t *khash;
	size_t khash_cap;
	void *loop_data; /* the shard's per-client state */
	/* MULTI/EXEC and WATCH (store/multi.c) */
	uint32_t multi_flags; /* TN_MULTI_* */
	struct tn_multi *multi; /* queued commands, watched keys; or NULL */
	struct tn_pubsub_client *ps; /* subscriptions (store/pubsub.c) */
	int64_t obuf_soft_since_ms; /* above the soft output limit since */
	/* what REPLCONF said before PSYNC hands it to the journal */
	struct {
		int port; /* listening-port */
		uint32_t capa; /* TN_REPL_CAPA_* (journal/repl.h) */
		char ip[48]; /* ip-address */
	} repl;
};

#define TN_MULTI_ACTIVE (1u << 0) /* between MULTI and EXEC or DISCARD */
#define TN_MULTI_DIRTY_EXEC (1u << 1) /* a command failed to queue */

/* The client's slot in the shared client table (NULL if none). */
struct client_shm *tn_shard_slot(struct tn_client *c);
/* Drop a closing client's store-side state. */
void tn_client_release(struct tn_client *c);
/* CLIENT LIST's multi=: MULTI queued its `count`-th command (multi.c). */
void tn_client_note_queued(struct tn_client *c, uint32_t count);
/* After a batch of the client's commands, before their replies go out:
 * publish what CLIENT LIST shows of it to the other shards (shard loop). */
void tn_client_sync_slot(struct tn_client *c);

/* ------------------------------------------------------------------ */
/* Command context and table                                            */
/* ------------------------------------------------------------------ */

/* What a handler gets: the request, where to reply, and the time the
 * command started (one clock read per command, as Redis caches it). */
struct tn_ctx {
	struct tn_client *c;
	const struct tn_arg *argv;
	int argc;
	struct tn_reply *r;
	int64_t now_ms;
	const struct tn_cmd *cmd;
	int shard; /* this process' shard index */
	uint64_t dirty; /* tn_db_dirty() counts of this command: it wrote */
};

typedef void tn_cmd_fn(struct tn_ctx *x);
/* For commands whose key positions are not (first, last, step): fill
 * keys[] with argv indexes; returns the count, or -1 (syntax error left
 * to the handler, no keys locked). */
typedef int tn_getkeys_fn(const struct tn_arg *argv, int argc, int *keys,
			  int max);

enum tn_cmd_flag {
	TN_CMD_WRITE = 1u << 0,
	TN_CMD_READONLY = 1u << 1,
	TN_CMD_DENYOOM = 1u << 2,
	TN_CMD_ADMIN = 1u << 3,
	TN_CMD_PUBSUB = 1u << 4,
	TN_CMD_NOSCRIPT = 1u << 5,
	TN_CMD_RANDOM = 1u << 6,
	TN_CMD_LOADING = 1u << 7,
	TN_CMD_STALE = 1u << 8,
	TN_CMD_FAST = 1u << 9,
	TN_CMD_NO_AUTH = 1u << 10,
	TN_CMD_ALLSTRIPES = 1u << 11, /* walks stripes itself (KEYS, SCAN) */
	TN_CMD_SENTINEL = 1u << 12,
	TN_CMD_MAY_REPLICATE = 1u << 13,
	TN_CMD_NO_MULTI = 1u << 14,
	TN_CMD_ALLOW_BUSY = 1u << 15,
};

struct tn_cmd {
	const char *name; /* lower case */
	int arity; /* Redis' convention: -N means at least N */
	uint32_t flags;
	int first_key, last_key, key_step; /* last < 0 counts from the end */
	tn_cmd_fn *fn;
	tn_getkeys_fn *getkeys;
	const char *acl; /* ACL categories, space separated, no '@' */
	const struct tn_cmd *sub; /* subcommands (name "config|get"), NULL-ended */
	const char *summary;
	const char *since;
	const char *group;
};

/* Find a command by name (case-insensitive). */
const struct tn_cmd *tn_cmd_lookup(const char *name, size_t len);
/* Find a subcommand of `parent` by name. */
const struct tn_cmd *tn_cmd_lookup_sub(const struct tn_cmd *parent,
				       const char *name, size_t len);
/* The whole table, for COMMAND: i in [0, tn_cmd_count()). */
const struct tn_cmd *tn_cmd_at(size_t i);
size_t tn_cmd_count(void);
/* "config|get" style full name of a (sub)command. */
const char *tn_cmd_fullname(const struct tn_cmd *cmd);

/*
 * Collect a command's key argument indexes.  Returns the count (0 for
 * keyless), or -1 when the arguments do not fit the key spec.
 */
int tn_cmd_keys(const struct tn_cmd *cmd, const struct tn_arg *argv, int argc,
		int *keys, int max);

/*
 * Lock a stripe.  A previous holder that died while writing poisons the
 * store (the supervisor restarts it) and -EOWNERDEAD is returned with the
 * lock held; one that died while reading is forgotten.  Callers that
 * change the stripe set s->writing while they do.
 */
int tn_stripe_lock(struct stripe_shm *s);

/*
 * Run one request for a client: look the command up, check arity, auth
 * and memory, lock the stripes of its keys in ascending order, call the
 * handler, unlock.  The reply goes to c->reply.  Inside MULTI, queue it
 * instead.
 */
void tn_dispatch(struct tn_client *c, const struct tn_arg *argv, int argc,
		 int shard);
/*
 * Refuse a command before it runs, as Redis' rejectCommand: reply `msg`
 * (a full error, "ERR ..." included) and flag the transaction being
 * queued, if any; EXEC itself answers EXECABORT and discards it.  `cmd`
 * is NULL when the command is unknown.
 */
void tn_dispatch_reject(struct tn_client *c, const struct tn_cmd *cmd,
			const char *msg);

/*
 * The second half of dispatch, for EXEC: run one command whose stripes
 * the caller holds.  x->argv, argc and now_ms are set; `keys` are its key
 * argument indexes, khash[i] the hash of keys[i] (NULL: already in
 * x->c->khash).  A command that wrote touches the WATCHed keys among
 * them.  0, or -ENOMEM (replied).
 */
int tn_call(struct tn_ctx *x, const struct tn_cmd *cmd, const int *keys,
	    int nkeys, const uint64_t *khash);
/* Sort stripe indexes and drop duplicates; returns the new count. */
int tn_stripes_sort(uint32_t *idx, int n);
/*
 * Lock stripes (sorted, unique) in ascending order, marking them written
 * when `write` or mid-rehash.  All are locked even when one is poisoned;
 * returns false then (or when the store already is).
 */
bool tn_stripes_lock(const uint32_t *idx, int n, bool write);
void tn_stripes_unlock(const uint32_t *idx, int n);

/*
 * What this process' running EXEC holds.  TN_HELD_ALL: every stripe (a
 * queued command walks the keyspace), so the walkers below must not lock
 * again: locks are not recursive.
 */
enum { TN_HELD_NONE, TN_HELD_SOME, TN_HELD_ALL };
extern int tn_stripes_held;

/*
 * Lock a stripe for code that walks the stripes itself, one at a time
 * (KEYS, SCAN, RANDOMKEY, DBSIZE, FLUSHALL, active expiry).  False (nothing
 * held) when the store is poisoned: the caller replies the error.
 * `write`: the holder may change the stripe (expiring keys, rehash
 * steps), so a death must poison.  A no-op lock under TN_HELD_ALL.
 */
bool tn_stripe_walk_lock(struct stripe_shm *s, bool write);
void tn_stripe_walk_unlock(struct stripe_shm *s);

/* ------------------------------------------------------------------ */
/* Keyspace (store/db.c)                                                */
/* ------------------------------------------------------------------ */

enum tn_type { TN_T_STRING = 0, TN_T_SET = 2 }; /* Redis' OBJ_* numbers */
enum tn_enc {
	TN_E_STR = 0, /* inline bytes: "int", "embstr" or "raw" by content */
	TN_E_RAWSTR = 1, /* inline bytes, shown as "raw" (after APPEND...) */
	TN_E_INTSET = 2, /* value holds tn_off of an intset_shm */
	TN_E_HT = 3, /* value holds tn_off of a dict_shm of member_shm */
	TN_E_NOINTSTR = 4, /* inline bytes never shown as "int": "embstr" or
			    * "raw" by length (INCRBYFLOAT's result) */
};

/*
 * A key: one allocation holding the header, the key, then the value.
 * A string's bytes are the value; a set's value is the tn_off of its
 * set object.
 */
struct kentry_shm {
	tn_off next;
	int64_t expire_ms; /* absolute unix ms; -1: no expiry */
	uint64_t vlen;
	uint32_t ttl_slot; /* index in the stripe's TTL array */
	uint8_t type;
	uint8_t enc;
	uint16_t lru; /* seconds clock, for OBJECT IDLETIME */
	uint32_t keylen;
	char key[];
} __attribute__((packed));
#define TN_KENTRY_KEY_AT offsetof(struct kentry_shm, key)

static inline char *tn_kentry_val(struct kentry_shm *e)
{
	return e->key + e->keylen;
}

/* A set member in a hashtable-encoded set. */
struct member_shm {
	tn_off next;
	uint32_t len;
	char data[];
} __attribute__((packed));
#define TN_MEMBER_KEY_AT offsetof(struct member_shm, data)

/* A set of integers, sorted (Redis' intset, always 64-bit here). */
struct intset_shm {
	uint32_t count;
	uint32_t cap;
	int64_t v[];
};

/* A resolved key argument: bytes, hash, stripe (locked by dispatch). */
struct tn_key {
	const char *p;
	size_t len;
	uint64_t h;
	struct stripe_shm *s;
};

/* Resolve argv[i] (a key argument of the current command). */
struct tn_key tn_key_arg(struct tn_ctx *x, int i);
/* Resolve any bytes as a key (the caller must hold its stripe's lock). */
struct tn_key tn_key_of(const char *p, size_t len);

/* Lookup without touching stats; deletes it first if expired. */
struct kentry_shm *tn_db_find(struct tn_ctx *x, const struct tn_key *k);
/* Lookup for a read: counts keyspace_hits / keyspace_misses. */
struct kentry_shm *tn_db_read(struct tn_ctx *x, const struct tn_key *k);
/*
 * Create a key of `type` with `vlen` bytes of (uninitialised) value space.
 * The key must not exist.  NULL on OOM (nothing changed).
 */
struct kentry_shm *tn_db_add(struct tn_ctx *x, const struct tn_key *k,
			     int type, uint64_t vlen);
/* Give an entry `vlen` value bytes (contents kept up to the shorter).
 * Returns the entry, possibly moved, or NULL on OOM (old one intact). */
struct kentry_shm *tn_db_resize(struct tn_ctx *x, const struct tn_key *k,
				struct kentry_shm *e, uint64_t vlen);
/* Set a string value, creating or overwriting (drops the old TTL unless
 * keepttl).  NULL on OOM. */
struct kentry_shm *tn_db_set_string(struct tn_ctx *x, const struct tn_key *k,
				    const void *v, size_t len, bool keepttl);
/* Delete the key if present; returns 1 if it was. */
int tn_db_delete(struct tn_ctx *x, const struct tn_key *k);
/* Unlink an entry and free it with its value. */
void tn_db_delete_entry(struct tn_ctx *x, const struct tn_key *k,
			struct kentry_shm *e);
/* Expiry management (absolute ms; -1 removes). 0 or -ENOMEM. */
int tn_db_set_expire(struct stripe_shm *s, struct kentry_shm *e, int64_t ms);
/* Free a value's out-of-line objects (sets). */
void tn_db_free_value(struct kentry_shm *e);
/* Move an entry (with its value) into stripe `to` under key `k`, deep
 * copying into that stripe's allocator.  NULL on OOM. */
struct kentry_shm *tn_db_copy_entry(struct tn_ctx *x, const struct tn_key *k,
				    const struct kentry_shm *src);
/* Is this entry past its expiry at `now_ms`? */
static inline bool tn_kentry_expired(const struct kentry_shm *e, int64_t now)
{
	return e->expire_ms >= 0 && e->expire_ms <= now;
}
/* The 16-bit seconds clock kentry_shm.lru holds (OBJECT IDLETIME);
 * tn_db_read, tn_db_add and tn_db_set_string stamp entries with it. */
uint16_t tn_db_lru_clock(int64_t now_ms);
/* Shard 0's cron: sample INFO's instantaneous rates and memory peak
 * (store/t_info.c; a no-op in other shards). */
void tn_stats_cron(int64_t now_ms);
/* Count a write for INFO (rdb_changes_since_last_save). */
void tn_db_dirty(struct tn_ctx *x, uint64_t n);
/* Active expiry for the stripes this shard owns; returns keys expired. */
uint64_t tn_expire_cycle(int shard, int nshards, int64_t budget_us);
/* Expire one stripe's sampled keys (unit-testable core of the cycle). */
uint64_t tn_expire_stripe(struct stripe_shm *s, int64_t now_ms,
			  int64_t deadline_us, unsigned *sampled);
/* ------------------------------------------------------------------ */
/* WATCH (store/multi.c)                                                */
/* ------------------------------------------------------------------ */

void tn_watch_touch_slow(const struct tn_key *k);
/* A key changed or expired (its stripe locked): EXEC of the clients of
 * any shard that WATCH it will fail.  Free when nobody watches. */
static inline void tn_watch_touch(const struct tn_key *k)
{
	if (__builtin_expect(tn_dict_size(&k->s->watched) != 0, 0))
		tn_watch_touch_slow(k);
}
/* FLUSHALL is about to empty stripe s (locked): touch the watched keys
 * that exist in it, as Redis' touchAllWatchedKeysInDb. */
void tn_watch_touch_flush(struct stripe_shm *s);

/* Free every key of every stripe (FLUSHALL). */
void tn_db_flush_all(struct tn_ctx *x);
uint64_t tn_db_size(void);
uint64_t tn_db_expires(void);

/* ------------------------------------------------------------------ */
/* Pub/sub (store/pubsub.c), keyspace notifications (store/notify.c)   */
/* ------------------------------------------------------------------ */

/* PUBLISH: hand `msg` to the channel's subscribers (and the matching
 * patterns') on every shard.  Returns how many receive it. */
long long tn_publish(const char *ch, size_t chlen, const char *msg,
		     size_t msglen);
/*
 * Keyspace notification of class `type` (TN_NOTIFY_* in daemon.h) for
 * key k, as Redis' notifyKeyspaceEvent; nothing unless enabled by
 * notify-keyspace-events.  x may be NULL (active expiry).
 */
void tn_notify(struct tn_ctx *x, int type, const char *event,
	       const struct tn_key *k);
/* Subscribed to any channel, pattern or shard channel? */
bool tn_pubsub_subscribed(const struct tn_client *c);
/* Dispatch: in a RESP2 subscribed context only (P|S)(UN)SUBSCRIBE, PING,
 * QUIT and RESET run; for others reply Redis' error and return true. */
bool tn_pubsub_context_denied(struct tn_client *c, const struct tn_cmd *cmd);
/* Drop every subscription, without replies (RESET). */
void tn_pubsub_reset(struct tn_client *c);
/* A closing client: drop its subscriptions and pub/sub state. */
void tn_pubsub_release(struct tn_client *c);
/*
 * The shard loop: tn_pubsub_drain() writes what this shard's inbox holds
 * to its subscribers' output buffers; tn_pubsub_flush() then hands each
 * client written to (once) to fn, which sends it or closes it.
 * tn_pubsub_pending() says whether there is work before the loop may
 * sleep: clients that wait for a flush, other shards still to be woken,
 * records backlogged for a full inbox, or records in our own inbox.
 */
void tn_pubsub_drain(void);
typedef void tn_pubsub_flush_fn(struct tn_client *c);
void tn_pubsub_flush(tn_pubsub_flush_fn *fn);
bool tn_pubsub_pending(void);
/* client-output-buffer-limit of the client's class (pubsub if it is
 * subscribed, else normal): true, and TN_CLIENT_CLOSE_ASAP set, once it
 * is over the hard limit or over the soft one for too long. */
bool tn_client_obuf_limit_reached(struct tn_client *c, int64_t now_ms);
/* Supervisor: shard `shard` died; its subscribers no longer count and
 * its inbox is emptied. */
void tn_pubsub_forget_shard(int shard);

/* ------------------------------------------------------------------ */
/* Effects (store/effect.c): writes as replayable RESP for the AOF      */
/* ------------------------------------------------------------------ */

/*
 * Are writes logged?  With appendonly or a replication backlog, and
 * not while the supervisor loads the AOF it would log to.
 */
static inline bool tn_effects_on(void)
{
	return tn_conf && tn_seg &&
	       (tn_conf->appendonly ||
		atomic_load_explicit(&tn_seg->repl_backlog_active,
				     memory_order_relaxed)) &&
	       !atomic_load_explicit(&tn_seg->loading, memory_order_relaxed);
}

/*
 * Effects gather in a buffer of this process, one command each; a
 * flush turns them into one effect-log record (several commands wrapped
 * in MULTI/EXEC when `wrap`).  tn_call flushes when the outermost
 * command ends, EXEC before it lets go of its stripes, and the stripe
 * walkers (expiry, KEYS, SCAN) at each stripe unlock, so a record always
 * lands while its keys' stripes are held.  The emitters do nothing when
 * effects are off.
 */
void tn_effect_del(const struct tn_key *k);
void tn_effect_pexpireat(const struct tn_key *k, int64_t ms);
void tn_effect_persist(const struct tn_key *k);
void tn_effect_flushall(void);
/* The key's whole state: SET k v [PXAT t] for a string; DEL k, SADD k
 * <members> [, PEXPIREAT k t] for a set; DEL k when it is gone. */
void tn_effect_key(const struct tn_key *k);
/* `cmd` k argv[0..n) (SADD or SREM of a command's own members). */
void tn_effect_members(const char *cmd, const struct tn_key *k,
		       const struct tn_arg *argv, int n);
/* SREM k <the bulk strings replied since `mark`> (SPOP's members). */
void tn_effect_srem_reply(const struct tn_key *k, const struct tn_buf *out,
			  size_t mark);
/* Any command: begin with its name, add arguments, end. */
void tn_effect_begin(const char *name);
void tn_effect_arg(const void *p, size_t n);
void tn_effect_arg_ll(long long v);
void tn_effect_end(void);
void tn_effect_flush(bool wrap);
void tn_effect_enter(void); /* tn_call nesting */
void tn_effect_leave(void);
/* The log position past the last record this process appended since the
 * last call (0: none): appendfsync always holds the reply until durable. */
uint64_t tn_effect_take_pos(void);
/* The journal: `durable` reached pos; wake the shards that wait on it
 * (bit i & 31 of shard_waiting stands for shard i; bit nshards & 31 for
 * the scheduler, woken on tn_rt.shard_wake[nshards]). */
void tn_elog_publish_durable(uint64_t pos);
/* Wake every waiter whose bit is set, and clear the bits. */
void tn_elog_wake_waiters(void);
/* Did the client's transaction queue a write?  (MISCONF refuses its
 * EXEC as Redis does.) */
bool tn_multi_queued_write(const struct tn_client *c);

/* ------------------------------------------------------------------ */
/* The replica side of replication (store/t_replicaof.c)                */
/* ------------------------------------------------------------------ */

/* Does this server follow a master (replicaof set)? */
bool tn_is_replica(void);
/* INFO replication for a replica, Redis 7.0's fields.  0 or -ENOMEM. */
int tn_replica_info(struct tn_buf *b);
/* ROLE of a replica: ["slave", host, port, state, offset]. */
void tn_replica_role(struct tn_reply *r);

/* ------------------------------------------------------------------ */
/* Replies used across files                                            */
/* ------------------------------------------------------------------ */

#define TN_ERR_WRONGTYPE                                                     \
	"WRONGTYPE Operation against a key holding the wrong kind of value"
#define TN_ERR_SYNTAX "ERR syntax error"
#define TN_ERR_NOTINT "ERR value is not an integer or out of range"
#define TN_ERR_NOTFLOAT "ERR value is not a valid float"
#define TN_ERR_OOM "OOM command not allowed when used memory > 'maxmemory'."
#define TN_ERR_OVERFLOW "ERR increment or decrement would overflow"
/* Redis' words (clients match on MISCONF; the rest says what to do) */
#define TN_ERR_MISCONF_RDB                                                     \
	"MISCONF Redis is configured to save RDB snapshots, but it's "         \
	"currently unable to persist to disk. Commands that may modify the "   \
	"data set are disabled, because this instance is configured to "       \
	"report errors during writes if RDB snapshotting fails "               \
	"(stop-writes-on-bgsave-error option). Please check the Redis logs "   \
	"for details about the RDB error."

/* Parse argv[i] as a strict integer; on failure reply `err` (or
 * TN_ERR_NOTINT when NULL) and return false. */
bool tn_arg_ll(struct tn_ctx *x, int i, long long *out, const char *err);
bool tn_arg_is(const struct tn_arg *a, const char *word); /* ci compare */

/* ------------------------------------------------------------------ */
/* Glob matching (store/glob.c), Redis' stringmatchlen rules            */
/* ------------------------------------------------------------------ */

bool tn_glob_match(const char *pat, size_t plen, const char *s, size_t slen,
		   bool nocase);

#endif
