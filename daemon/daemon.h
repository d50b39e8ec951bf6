/*
 * daemon.h - the supervisor's face: the configuration (titan.conf, parsed
 * into a flat struct that lives in the shared segment so CONFIG SET in any
 * process is seen by all), and the entry points of each process role.
 */
#ifndef TN_DAEMON_H
#define TN_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TN_PATH_MAX 1024
#define TN_MAX_BIND 16

/* Defaults, with units in the names. */
#define TN_DEFAULT_PORT 6379
#define TN_DEFAULT_HZ 10
#define TN_DEFAULT_MAXCLIENTS 10000
#define TN_DEFAULT_PROTO_MAX_BULK_BYTES (512LL * 1024 * 1024)
#define TN_DEFAULT_QUERY_BUF_LIMIT_BYTES (1024LL * 1024 * 1024)
#define TN_DEFAULT_TCP_BACKLOG 511
#define TN_DEFAULT_TCP_KEEPALIVE_S 300
#define TN_DEFAULT_INTSET_ENTRIES 512
#define TN_MIN_STRIPES 64

/* appendfsync */
enum tn_fsync { TN_FSYNC_ALWAYS, TN_FSYNC_EVERYSEC, TN_FSYNC_NO };

#define TN_DEFAULT_TITAN_PORT 9090
#define TN_DEFAULT_HTTP_PORT 5000 /* Titan v1's dashboard port */

/* Keyspace notification classes: Redis' NOTIFY_* bits and letters. */
#define TN_NOTIFY_KEYSPACE (1 << 0) /* K */
#define TN_NOTIFY_KEYEVENT (1 << 1) /* E */
#define TN_NOTIFY_GENERIC (1 << 2) /* g */
#define TN_NOTIFY_STRING (1 << 3) /* $ */
#define TN_NOTIFY_LIST (1 << 4) /* l */
#define TN_NOTIFY_SET (1 << 5) /* s */
#define TN_NOTIFY_HASH (1 << 6) /* h */
#define TN_NOTIFY_ZSET (1 << 7) /* z */
#define TN_NOTIFY_EXPIRED (1 << 8) /* x */
#define TN_NOTIFY_EVICTED (1 << 9) /* e */
#define TN_NOTIFY_STREAM (1 << 10) /* t */
#define TN_NOTIFY_KEY_MISS (1 << 11) /* m */
#define TN_NOTIFY_MODULE (1 << 13) /* d */
#define TN_NOTIFY_NEW (1 << 14) /* n */
#define TN_NOTIFY_ALL                                                        \
	(TN_NOTIFY_GENERIC | TN_NOTIFY_STRING | TN_NOTIFY_LIST |             \
	 TN_NOTIFY_SET | TN_NOTIFY_HASH | TN_NOTIFY_ZSET | TN_NOTIFY_EXPIRED | \
	 TN_NOTIFY_EVICTED | TN_NOTIFY_STREAM | TN_NOTIFY_MODULE) /* A */

/* client-output-buffer-limit classes, in CONFIG GET's order. */
enum tn_obuf_class {
	TN_OBUF_NORMAL,
	TN_OBUF_REPLICA,
	TN_OBUF_PUBSUB,
	TN_OBUF_CLASSES,
};

/* `save <seconds> <changes>`: snapshot when that many writes are that old */
#define TN_MAX_SAVE_POINTS 16
struct tn_save_point {
	long long seconds;
	long long changes;
};

struct tn_obuf_limit {
	long long hard_bytes; /* 0: none */
	long long soft_bytes; /* 0: none */
	long long soft_s; /* how long above soft before closing */
};

/*
 * The live configuration.  Plain data only (no pointers): a copy lives in
 * the segment.  Strings are NUL-terminated in fixed arrays.
 */
struct tn_config {
	/* network */
	int port;
	char bind[TN_MAX_BIND][64];
	bool bind_optional[TN_MAX_BIND]; /* "-addr": failure is not fatal */
	int nbind;
	bool protected_mode;
	char unixsocket[TN_PATH_MAX];
	unsigned unixsocketperm;
	int tcp_backlog;
	int tcp_keepalive_s;
	int timeout_s; /* idle client timeout, 0 = never */
	long long maxclients;
	/* security */
	char requirepass[512];
	/* memory and limits */
	long long maxmemory_bytes; /* 0: no limit */
	long long proto_max_bulk_len;
	long long client_query_buffer_limit;
	long long set_max_intset_entries;
	struct tn_obuf_limit obuf_limit[TN_OBUF_CLASSES];
	/* pub/sub */
	int notify_keyspace_events; /* TN_NOTIFY_* bits */
	/* process */
	int shards; /* 0 in the file means "number of online CPUs" */
	int stripes; /* 0: derived */
	int hz;
	bool daemonize;
	char pidfile[TN_PATH_MAX];
	char logfile[TN_PATH_MAX];
	int loglevel; /* enum tn_loglevel */
	char dir[TN_PATH_MAX];
	/* persistence (journal/) */
	bool appendonly;
	char appendfilename[256];
	char appenddirname[256];
	int appendfsync; /* enum tn_fsync */
	bool aof_load_truncated;
	bool aof_use_rdb_preamble;
	int auto_aof_rewrite_percentage;
	long long auto_aof_rewrite_min_size;
	char dbfilename[256];
	struct tn_save_point save[TN_MAX_SAVE_POINTS];
	int nsave; /* 0: no automatic snapshots, none at shutdown */
	int save_lines; /* `save` lines read from the file so far */
	bool stop_writes_on_bgsave_error;
	bool rdbcompression;
	bool rdbchecksum;
	long long repl_backlog_size; /* also sizes the effect log ring */
	/* replication */
	char replicaof_host[256]; /* "" when this server is a master */
	int replicaof_port;
	char masterauth[512];
	char masteruser[128];
	bool replica_read_only;
	bool replica_serve_stale_data;
	int replica_priority;
	int repl_backlog_ttl_s;
	bool repl_diskless_sync;
	int repl_diskless_sync_delay_s;
	int repl_diskless_sync_max_replicas;
	int repl_ping_replica_period_s;
	int repl_timeout_s;
	int min_replicas_to_write;
	int min_replicas_max_lag_s;
	/* scheduler (workers/) */
	int titan_port; /* 0: no scheduler port */
	char titan_bind[256]; /* space-separated addresses */
	char titan_auth_token[256];
	int worker_ttl_s;
	long long job_log_max_bytes;
	long long titan_max_frame_bytes;
	/* web dashboard (served by the scheduler) */
	int http_port; /* 0: no dashboard */
	char http_bind[256]; /* space-separated addresses */
	/* where it came from */
	char config_file[TN_PATH_MAX];
};

/* Fill `c` with the built-in defaults. */
void tn_config_defaults(struct tn_config *c);

/*
 * Parse a redis.conf-syntax file into `c` (which holds the defaults).
 * On error returns -1 with "file:line: message" in err.  `include` is
 * followed relative to the working directory, as Redis does.
 */
int tn_config_load(struct tn_config *c, const char *path, char *err,
		   size_t errlen);
/* Parse directives from a string (command-line "--port 7000" style). */
int tn_config_load_string(struct tn_config *c, const char *text,
			  const char *origin, char *err, size_t errlen);

/*
 * Set one directive from its arguments, as a config line or CONFIG SET
 * would.  `runtime` refuses directives that cannot change while running
 * (Redis: "ERR CONFIG SET failed (possibly related to argument '%s') -
 * can't set immutable config").  Returns 0 or -1 with a message.
 */
int tn_config_set(struct tn_config *c, const char *name, int argc,
		  const char *const *argv, bool runtime, char *err,
		  size_t errlen);
/* Format a directive's current value as CONFIG GET shows it.  Returns
 * -1 if no such directive. */
int tn_config_get(const struct tn_config *c, const char *name, char *out,
		  size_t outlen);
/* Directive names, NULL-terminated, in table order (for CONFIG GET
 * patterns and the man page consistency test). */
const char *const *tn_config_names(void);
/*
 * Validate what no single directive can check alone, once everything is
 * loaded: maxclients >= 1, shards 0..256, stripes 0 or a power of two
 * 64..65536 and >= the number of shards, somewhere to listen, and
 * protected-mode not locking every client out.  Returns 0, or -1 with a
 * message (no "file:line:" prefix) in err.
 */
int tn_config_check(const struct tn_config *c, char *err, size_t errlen);

/* The running process' view of the configuration (in the segment). */
extern struct tn_config *tn_conf;

/* Exit status of a child that must not be respawned (bad config). */
#define TN_EXIT_NORESPAWN 78
#define TN_MAX_LISTEN 34
#define TN_MAX_SHARDS 256

/*
 * What every process inherits from the supervisor at fork: the listening
 * sockets, one SOCK_SEQPACKET pair per shard (the acceptor hands accepted
 * sockets down it) and one eventfd per shard to wake it.
 */
struct tn_runtime {
	int nshards;
	int nlisten;
	int listen_fd[TN_MAX_LISTEN];
	bool listen_unix[TN_MAX_LISTEN];
	int ntitan; /* the scheduler's TITAN_PROTO sockets */
	int titan_fd[TN_MAX_BIND];
	int nhttp; /* the dashboard's HTTP sockets (scheduler) */
	int http_fd[TN_MAX_BIND];
	int *acc_sock; /* acceptor's end, per shard */
	int *shard_sock; /* shard's end, per shard */
	int *shard_wake; /* eventfd, per shard; [nshards]: the scheduler's */
	int pid_supervisor;
	int shard; /* this process' shard index, -1 elsewhere */
	/* replication (journal/repl_master.c): a shard hands a replica's
	 * socket to the journal down repl_shard_sock[i]; the journal reads
	 * repl_journal_sock[i]; repl_wake (eventfd) wakes its thread */
	int *repl_shard_sock;
	int *repl_journal_sock;
	int repl_wake;
};
extern struct tn_runtime tn_rt;

/* What the acceptor tells a shard along with an accepted socket. */
struct tn_handoff {
	uint32_t is_unix;
	uint32_t spare;
};

/* Process entry points (never return). */
void tn_acceptor_main(void);
void tn_shard_main(int index);
void tn_journal_main(void); /* journal/journal.c */
void tn_sched_main(void);   /* workers/scheduler.c */
/* The replica: follows tn_conf->replicaof_host (journal/repl_replica.c). */
void tn_replica_main(void);
/*
 * Supervisor, after creating the segment (at start and after a store
 * restart), before any child runs: load the AOF directory (or the RDB
 * file when appendonly is no) into it.  0, or -1 when the server must
 * not start (the reason is logged, naming the file and offset).
 */
int tn_persist_load(void); /* journal/ */
/*
 * Supervisor, before a store restart or shutdown kills the children:
 * wait (bounded) until the journal has made the effect log durable.
 */
void tn_persist_drain(int64_t timeout_ms); /* journal/ */
/* Common start of every child: title, parent-death signal, log role. */
void tn_child_init(const char *title, char role);
/* Wake shard i's event loop (CLIENT KILL, pub/sub). */
void tn_shard_wake(int shard); /* shard == nshards: the scheduler */

#endif
