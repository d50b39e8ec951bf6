/*
 * config.c - titan.conf.  One table describes every directive; the file
 * parser (redis.conf syntax: sdssplitargs quoting, `include`), CONFIG SET
 * and CONFIG GET all go through it, so they can never disagree.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "ipc/ipc.h"
#include "util/util.h"

/* Nesting bound for `include`: deep enough for any layout, shallow enough
 * that a file including itself fails quickly. */
#define TN_CONFIG_INCLUDE_DEPTH 16
/* hz is a hint: Redis accepts any non-negative value and clamps it. */
#define TN_HZ_MIN      1
#define TN_HZ_MAX      500
#define TN_MAX_STRIPES 65536

#define KB 1024LL
#define MB (1024LL * 1024)
#define GB (1024LL * 1024 * 1024)

#define STR_(x) #x
#define STR(x)	STR_(x)

struct tn_config *tn_conf;

enum cfg_kind {
	CFG_BOOL,   /* yes / no */
	CFG_INT,    /* strict decimal, min..max */
	CFG_MEMORY, /* bytes, or 10k, 10kb, 100mb, 1gb */
	CFG_OCTAL,  /* file mode, min..max */
	CFG_STRING, /* NUL-terminated in a fixed array */
	CFG_ENUM,   /* one of names[], stored as its index */
	CFG_BIND,   /* 1..TN_MAX_BIND addresses, "-addr" is optional */
	CFG_NOTIFY, /* keyspace event class letters, "KEA" */
	CFG_OBUF,   /* client-output-buffer-limit: class hard soft seconds */
	CFG_SAVE,   /* save: seconds changes pairs */
	CFG_REPLICAOF, /* "host port", or "no one" */
};

#define CFG_IMMUTABLE 0x1 /* refused by CONFIG SET */
#define CFG_NONEMPTY  0x2 /* a string that may not be "" */

struct cfg_directive {
	const char *name;
	enum cfg_kind kind;
	unsigned flags;
	size_t offset; /* into struct tn_config */
	size_t size;   /* of that field */
	long long min, max;
	const char *const *names; /* CFG_ENUM */
	/* CFG_INT: refuse (false) or adjust a value already within min..max */
	bool (*adjust)(long long *v);
	const char *want; /* what adjust accepts, for messages */
	const char *default_text;
};

static const char *const loglevel_names[] = {
    [TN_LOG_DEBUG] = "debug",
    [TN_LOG_VERBOSE] = "verbose",
    [TN_LOG_NOTICE] = "notice",
    [TN_LOG_WARNING] = "warning",
    NULL,
};

static const char *const fsync_names[] = {
    [TN_FSYNC_ALWAYS] = "always",
    [TN_FSYNC_EVERYSEC] = "everysec",
    [TN_FSYNC_NO] = "no",
    NULL,
};

static bool cfg_hz_clamp(long long *v)
{
	if (*v < TN_HZ_MIN)
		*v = TN_HZ_MIN;
	if (*v > TN_HZ_MAX)
		*v = TN_HZ_MAX;
	return true;
}

static bool cfg_stripes_valid(long long *v)
{
	long long n = *v;

	return n == 0 || (n >= TN_MIN_STRIPES && n <= TN_MAX_STRIPES &&
			  (n & (n - 1)) == 0);
}

#define AT(field)                                                              \
	.offset = offsetof(struct tn_config, field),                           \
	.size = sizeof(((struct tn_config *)0)->field)

/* name, field, flags, default as titan.conf would write it, then limits */
#define D_BOOL(n, f, fl, def)                                                  \
	{                                                                      \
		.name = n, .kind = CFG_BOOL, .flags = fl, AT(f),               \
		.default_text = def                                            \
	}
#define D_INT(n, f, fl, def, lo, hi)                                           \
	D_INT_CHECKED(n, f, fl, def, lo, hi, NULL, NULL)
/* adj refuses or adjusts a value within lo..hi; wanted says what it takes */
#define D_INT_CHECKED(n, f, fl, def, lo, hi, adj, wanted)                      \
	{                                                                      \
		.name = n, .kind = CFG_INT, .flags = fl, AT(f),                \
		.default_text = def, .min = lo, .max = hi, .adjust = adj,      \
		.want = wanted                                                 \
	}
#define D_MEMORY(n, f, fl, def, lo)                                            \
	{                                                                      \
		.name = n, .kind = CFG_MEMORY, .flags = fl, AT(f),             \
		.default_text = def, .min = lo, .max = LLONG_MAX               \
	}
#define D_OCTAL(n, f, fl, def, lo, hi)                                         \
	{                                                                      \
		.name = n, .kind = CFG_OCTAL, .flags = fl, AT(f),              \
		.default_text = def, .min = lo, .max = hi                      \
	}
#define D_STRING(n, f, fl, def)                                                \
	{                                                                      \
		.name = n, .kind = CFG_STRING, .flags = fl, AT(f),             \
		.default_text = def                                            \
	}
#define D_ENUM(n, f, fl, def, list)                                            \
	{                                                                      \
		.name = n, .kind = CFG_ENUM, .flags = fl, AT(f),               \
		.default_text = def, .names = list                             \
	}
#define D_BIND(n, f, fl, def)                                                  \
	{                                                                      \
		.name = n, .kind = CFG_BIND, .flags = fl, AT(f),               \
		.default_text = def                                            \
	}
#define D_SPECIAL(n, k, f, fl, def)                                            \
	{                                                                      \
		.name = n, .kind = k, .flags = fl, AT(f), .default_text = def  \
	}

/* Table order is the order of CONFIG GET * and of titan.conf(5). */
static const struct cfg_directive cfg_table[] = {
    D_INT("port", port, CFG_IMMUTABLE, STR(TN_DEFAULT_PORT), 0, 65535),
    D_BIND("bind", bind, CFG_IMMUTABLE, "* -::*"),
    D_BOOL("protected-mode", protected_mode, 0, "yes"),
    D_STRING("unixsocket", unixsocket, CFG_IMMUTABLE, ""),
    D_OCTAL("unixsocketperm", unixsocketperm, CFG_IMMUTABLE, "0", 0, 0777),
    D_INT("tcp-backlog", tcp_backlog, CFG_IMMUTABLE,
	  STR(TN_DEFAULT_TCP_BACKLOG), 0, INT_MAX),
    D_INT("tcp-keepalive", tcp_keepalive_s, 0, STR(TN_DEFAULT_TCP_KEEPALIVE_S),
	  0, INT_MAX),
    D_INT("timeout", timeout_s, 0, "0", 0, INT_MAX),
    D_INT("maxclients", maxclients, 0, STR(TN_DEFAULT_MAXCLIENTS), 1, UINT_MAX),
    D_STRING("requirepass", requirepass, 0, ""),
    D_MEMORY("maxmemory", maxmemory_bytes, 0, "0", 0),
    D_MEMORY("proto-max-bulk-len", proto_max_bulk_len, 0, "512mb", MB),
    D_MEMORY("client-query-buffer-limit", client_query_buffer_limit, 0, "1gb",
	     MB),
    D_SPECIAL("client-output-buffer-limit", CFG_OBUF, obuf_limit, 0,
	      "normal 0 0 0 slave 256mb 64mb 60 pubsub 32mb 8mb 60"),
    D_INT("set-max-intset-entries", set_max_intset_entries, 0,
	  STR(TN_DEFAULT_INTSET_ENTRIES), 0, LLONG_MAX),
    D_SPECIAL("notify-keyspace-events", CFG_NOTIFY, notify_keyspace_events, 0,
	      ""),
    D_INT_CHECKED("hz", hz, 0, STR(TN_DEFAULT_HZ), 0, INT_MAX, cfg_hz_clamp,
		  NULL),
    D_BOOL("daemonize", daemonize, CFG_IMMUTABLE, "no"),
    D_STRING("pidfile", pidfile, CFG_IMMUTABLE, ""),
    D_STRING("logfile", logfile, CFG_IMMUTABLE, ""),
    D_ENUM("loglevel", loglevel, 0, "notice", loglevel_names),
    D_STRING("dir", dir, CFG_NONEMPTY, "./"),
    D_INT("shards", shards, CFG_IMMUTABLE, "0", 0, TN_MAX_SHARDS),
    D_INT_CHECKED("stripes", stripes, CFG_IMMUTABLE, "0", 0, TN_MAX_STRIPES,
		  cfg_stripes_valid,
		  "0 or a power of two between " STR(
		      TN_MIN_STRIPES) " and " STR(TN_MAX_STRIPES)),
    D_BOOL("appendonly", appendonly, 0, "no"),
    D_STRING("appendfilename", appendfilename, CFG_IMMUTABLE | CFG_NONEMPTY,
	     "appendonly.aof"),
    D_STRING("appenddirname", appenddirname, CFG_IMMUTABLE | CFG_NONEMPTY,
	     "appendonlydir"),
    D_ENUM("appendfsync", appendfsync, 0, "everysec", fsync_names),
    D_BOOL("aof-load-truncated", aof_load_truncated, 0, "yes"),
    D_BOOL("aof-use-rdb-preamble", aof_use_rdb_preamble, 0, "yes"),
    D_INT("auto-aof-rewrite-percentage", auto_aof_rewrite_percentage, 0, "100",
	  0, INT_MAX),
    D_MEMORY("auto-aof-rewrite-min-size", auto_aof_rewrite_min_size, 0, "64mb",
	     0),
    D_SPECIAL("save", CFG_SAVE, save, 0, "3600 1 300 100 60 10000"),
    D_BOOL("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error, 0,
	   "yes"),
    D_STRING("dbfilename", dbfilename, CFG_NONEMPTY, "dump.rdb"),
    D_BOOL("rdbcompression", rdbcompression, 0, "yes"),
    D_BOOL("rdbchecksum", rdbchecksum, 0, "yes"),
    D_MEMORY("repl-backlog-size", repl_backlog_size, CFG_IMMUTABLE, "1mb",
	     16 * KB),
    D_SPECIAL("replicaof", CFG_REPLICAOF, replicaof_host, CFG_IMMUTABLE,
	      "no one"),
    D_STRING("masterauth", masterauth, 0, ""),
    D_STRING("masteruser", masteruser, 0, ""),
    D_BOOL("replica-read-only", replica_read_only, 0, "yes"),
    D_BOOL("replica-serve-stale-data", replica_serve_stale_data, 0, "yes"),
    D_INT("replica-priority", replica_priority, 0, "100", 0, INT_MAX),
    D_INT("repl-backlog-ttl", repl_backlog_ttl_s, 0, "3600", 0, INT_MAX),
    D_BOOL("repl-diskless-sync", repl_diskless_sync, 0, "yes"),
    D_INT("repl-diskless-sync-delay", repl_diskless_sync_delay_s, 0, "5", 0,
	  INT_MAX),
    D_INT("repl-diskless-sync-max-replicas", repl_diskless_sync_max_replicas,
	  0, "0", 0, INT_MAX),
    D_INT("repl-ping-replica-period", repl_ping_replica_period_s, 0, "10", 1,
	  INT_MAX),
    D_INT("repl-timeout", repl_timeout_s, 0, "60", 1, INT_MAX),
    D_INT("min-replicas-to-write", min_replicas_to_write, 0, "0", 0, INT_MAX),
    D_INT("min-replicas-max-lag", min_replicas_max_lag_s, 0, "10", 0, INT_MAX),
    D_INT("titan-port", titan_port, CFG_IMMUTABLE,
	  STR(TN_DEFAULT_TITAN_PORT), 0, 65535),
    D_STRING("titan-bind", titan_bind, CFG_IMMUTABLE | CFG_NONEMPTY,
	     "127.0.0.1"),
    D_STRING("titan-auth-token", titan_auth_token, CFG_IMMUTABLE, ""),
    D_INT("worker-ttl", worker_ttl_s, 0, "5", 1, 86400),
    D_MEMORY("job-log-max-bytes", job_log_max_bytes, 0, "1mb", 0),
    D_MEMORY("titan-max-frame-bytes", titan_max_frame_bytes, 0, "10mb", 1024),
    D_INT("http-port", http_port, CFG_IMMUTABLE, STR(TN_DEFAULT_HTTP_PORT), 0,
	  65535),
    D_STRING("http-bind", http_bind, CFG_IMMUTABLE | CFG_NONEMPTY,
	     "127.0.0.1"),
};

static void cfg_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void cfg_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct cfg_directive *cfg_lookup(const char *name)
{
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(cfg_table); i++)
		if (strcasecmp(cfg_table[i].name, name) == 0)
			return &cfg_table[i];
	return NULL;
}

/* Bytes in the largest unit that divides them: "1mb", "1536kb", "10". */
static const char *cfg_fmt_size(long long v, char *buf, size_t len)
{
	if (v != 0 && v % GB == 0)
		snprintf(buf, len, "%lldgb", v / GB);
	else if (v != 0 && v % MB == 0)
		snprintf(buf, len, "%lldmb", v / MB);
	else if (v != 0 && v % KB == 0)
		snprintf(buf, len, "%lldkb", v / KB);
	else
		snprintf(buf, len, "%lld", v);
	return buf;
}

/*
 * Report a bad value two ways: CONFIG SET copies Redis' reply word for
 * word (clients match on it), the file parser says what it wanted.
 */
static int cfg_bad(const struct cfg_directive *d, bool runtime, char *err,
		   size_t errlen, const char *redis, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int cfg_bad(const struct cfg_directive *d, bool runtime, char *err,
		   size_t errlen, const char *redis, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (runtime) {
		cfg_errf(err, errlen,
			 "ERR CONFIG SET failed (possibly related to argument "
			 "'%s') - %s",
			 d->name, redis);
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cfg_errf(err, errlen, "'%s' %s", d->name, msg);
	return -1;
}

static void cfg_store_int(struct tn_config *c, const struct cfg_directive *d,
			  long long v)
{
	char *field = (char *)c + d->offset;

	if (d->size == sizeof(int)) {
		int i = (int)v;

		memcpy(field, &i, sizeof(i));
	} else {
		memcpy(field, &v, sizeof(v));
	}
}

static long long cfg_load_int(const struct tn_config *c,
			      const struct cfg_directive *d)
{
	const char *field = (const char *)c + d->offset;
	long long v;
	int i;

	if (d->size == sizeof(int)) {
		memcpy(&i, field, sizeof(i));
		/* unixsocketperm is unsigned, but its range fits in an int */
		return i;
	}
	memcpy(&v, field, sizeof(v));
	return v;
}

static int cfg_set_int(struct tn_config *c, const struct cfg_directive *d,
		       const char *arg, bool runtime, char *err, size_t errlen)
{
	char range[128], want[160];
	long long v;

	snprintf(range, sizeof(range),
		 "argument must be between %lld and %lld inclusive", d->min,
		 d->max);
	if (d->want) {
		snprintf(want, sizeof(want), "%s", d->want);
	} else {
		snprintf(want, sizeof(want), "an integer between %lld and %lld",
			 d->min, d->max);
	}
	if (!tn_str2ll(arg, strlen(arg), &v))
		return cfg_bad(d, runtime, err, errlen,
			       "argument couldn't be parsed into an integer",
			       "wants %s, got '%s'", want, arg);
	if (v < d->min || v > d->max)
		return cfg_bad(d, runtime, err, errlen, d->want ? want : range,
			       "wants %s, got '%s'", want, arg);
	if (d->adjust && !d->adjust(&v)) {
		char must[200];

		snprintf(must, sizeof(must), "argument must be %s", d->want);
		return cfg_bad(d, runtime, err, errlen, must,
			       "wants %s, got '%s'", want, arg);
	}
	cfg_store_int(c, d, v);
	return 0;
}

static int cfg_set_memory(struct tn_config *c, const struct cfg_directive *d,
			  const char *arg, bool runtime, char *err,
			  size_t errlen)
{
	char range[128], lo[32], hi[32];
	unsigned long long v;

	if (tn_parse_memory(arg, &v) < 0)
		return cfg_bad(d, runtime, err, errlen,
			       "argument must be a memory value",
			       "wants a memory size (bytes, or a number with "
			       "k, kb, m, mb, g or gb such as 100mb), got '%s'",
			       arg);
	if (v >= (unsigned long long)d->min &&
	    v <= (unsigned long long)d->max) {
		cfg_store_int(c, d, (long long)v);
		return 0;
	}
	snprintf(range, sizeof(range),
		 "argument must be between %lld and %lld inclusive", d->min,
		 d->max);
	cfg_fmt_size(d->min, lo, sizeof(lo));
	cfg_fmt_size(d->max, hi, sizeof(hi));
	if (d->max == LLONG_MAX)
		return cfg_bad(d, runtime, err, errlen, range,
			       "wants a memory size of at least %s, got '%s'",
			       lo, arg);
	return cfg_bad(d, runtime, err, errlen, range,
		       "wants a memory size between %s and %s, got '%s'", lo,
		       hi, arg);
}

static int cfg_set_octal(struct tn_config *c, const struct cfg_directive *d,
			 const char *arg, bool runtime, char *err,
			 size_t errlen)
{
	char range[128];
	long long v = 0;
	const char *p;

	snprintf(range, sizeof(range),
		 "argument must be between %llo and %llo inclusive",
		 (unsigned long long)d->min, (unsigned long long)d->max);
	/* stop once past max, so a long string cannot overflow v */
	for (p = arg; *p >= '0' && *p <= '7' && v <= d->max; p++)
		v = v * 8 + (*p - '0');
	if (p == arg || (*p != '\0' && (*p < '0' || *p > '7')))
		return cfg_bad(
		    d, runtime, err, errlen,
		    "argument couldn't be parsed as an octal number",
		    "wants an octal mode between %llo and %llo, got '%s'",
		    (unsigned long long)d->min, (unsigned long long)d->max,
		    arg);
	if (*p != '\0' || v < d->min || v > d->max)
		return cfg_bad(
		    d, runtime, err, errlen, range,
		    "wants an octal mode between %llo and %llo, got '%s'",
		    (unsigned long long)d->min, (unsigned long long)d->max,
		    arg);
	cfg_store_int(c, d, v);
	return 0;
}

static int cfg_set_bool(struct tn_config *c, const struct cfg_directive *d,
			const char *arg, bool runtime, char *err, size_t errlen)
{
	bool v;

	if (strcasecmp(arg, "yes") == 0)
		v = true;
	else if (strcasecmp(arg, "no") == 0)
		v = false;
	else
		return cfg_bad(d, runtime, err, errlen,
			       "argument must be 'yes' or 'no'",
			       "wants yes or no, got '%s'", arg);
	memcpy((char *)c + d->offset, &v, sizeof(v));
	return 0;
}

static int cfg_set_string(struct tn_config *c, const struct cfg_directive *d,
			  const char *arg, bool runtime, char *err,
			  size_t errlen)
{
	size_t len = strlen(arg);
	char redis[96];

	if (len == 0 && (d->flags & CFG_NONEMPTY)) {
		snprintf(redis, sizeof(redis), "%s can't be empty", d->name);
		return cfg_bad(d, runtime, err, errlen, redis,
			       "can't be empty");
	}
	if (len >= d->size) {
		snprintf(redis, sizeof(redis),
			 "argument is longer than %zu bytes", d->size - 1);
		return cfg_bad(d, runtime, err, errlen, redis,
			       "is longer than %zu bytes", d->size - 1);
	}
	memcpy((char *)c + d->offset, arg, len + 1);
	return 0;
}

/* replicaof host port; "no one" (as REPLICAOF takes it) clears it. */
static int cfg_set_replicaof(struct tn_config *c,
			     const struct cfg_directive *d,
			     const char *const *argv, bool runtime, char *err,
			     size_t errlen)
{
	long long port;

	if (strcasecmp(argv[0], "no") == 0 && strcasecmp(argv[1], "one") == 0) {
		c->replicaof_host[0] = '\0';
		c->replicaof_port = 0;
		return 0;
	}
	if (strlen(argv[0]) >= sizeof(c->replicaof_host) || !argv[0][0])
		return cfg_bad(d, runtime, err, errlen, "Invalid master host",
			       "wants a host name or address");
	if (!tn_str2ll(argv[1], strlen(argv[1]), &port) || port < 1 ||
	    port > 65535)
		return cfg_bad(d, runtime, err, errlen, "Invalid master port",
			       "wants a port between 1 and 65535, not '%s'",
			       argv[1]);
	strlcpy(c->replicaof_host, argv[0], sizeof(c->replicaof_host));
	c->replicaof_port = (int)port;
	return 0;
}

static int cfg_set_enum(struct tn_config *c, const struct cfg_directive *d,
			const char *arg, bool runtime, char *err, size_t errlen)
{
	char list[128] = "", redis[192];
	size_t used = 0;
	int i;

	for (i = 0; d->names[i]; i++) {
		if (strcasecmp(arg, d->names[i]) == 0) {
			cfg_store_int(c, d, i);
			return 0;
		}
	}
	for (i = 0; d->names[i] && used < sizeof(list); i++)
		used += snprintf(list + used, sizeof(list) - used, "%s%s",
				 i ? ", " : "", d->names[i]);
	snprintf(redis, sizeof(redis),
		 "argument(s) must be one of the following: %s", list);
	return cfg_bad(d, runtime, err, errlen, redis,
		       "wants one of %s, got '%s'", list, arg);
}

/* bind replaces the whole list; a leading '-' marks an address whose
 * failure to bind is not fatal (Redis 7). */
static int cfg_set_bind(struct tn_config *c, const struct cfg_directive *d,
			int argc, const char *const *argv, bool runtime,
			char *err, size_t errlen)
{
	char addr[TN_MAX_BIND][sizeof(c->bind[0])];
	bool optional[TN_MAX_BIND];
	char redis[160];
	int i;

	if (argc > TN_MAX_BIND)
		return cfg_bad(d, runtime, err, errlen,
			       "Too many bind addresses specified.",
			       "takes at most %d addresses, got %d",
			       TN_MAX_BIND, argc);
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		optional[i] = a[0] == '-';
		if (optional[i])
			a++;
		if (a[0] == '\0') {
			snprintf(redis, sizeof(redis),
				 "Invalid bind address '%s'", argv[i]);
			return cfg_bad(d, runtime, err, errlen, redis,
				       "wants an address, got '%s'", argv[i]);
		}
		if (strlen(a) >= sizeof(addr[i])) {
			snprintf(redis, sizeof(redis),
				 "bind address is longer than %zu bytes",
				 sizeof(addr[i]) - 1);
			return cfg_bad(d, runtime, err, errlen, redis,
				       "address is longer than %zu bytes: '%s'",
				       sizeof(addr[i]) - 1, argv[i]);
		}
		snprintf(addr[i], sizeof(addr[i]), "%s", a);
	}
	memset(c->bind, 0, sizeof(c->bind));
	memset(c->bind_optional, 0, sizeof(c->bind_optional));
	memcpy(c->bind, addr, sizeof(addr[0]) * argc);
	memcpy(c->bind_optional, optional, sizeof(optional[0]) * argc);
	c->nbind = argc;
	return 0;
}

/* Redis' keyspaceEventsStringToFlags: -1 on a letter it does not know. */
static int cfg_notify_parse(const char *s)
{
	static const struct {
		char letter;
		int flags;
	} classes[] = {
	    {'A', TN_NOTIFY_ALL},	{'g', TN_NOTIFY_GENERIC},
	    {'$', TN_NOTIFY_STRING},	{'l', TN_NOTIFY_LIST},
	    {'s', TN_NOTIFY_SET},	{'h', TN_NOTIFY_HASH},
	    {'z', TN_NOTIFY_ZSET},	{'x', TN_NOTIFY_EXPIRED},
	    {'e', TN_NOTIFY_EVICTED},	{'K', TN_NOTIFY_KEYSPACE},
	    {'E', TN_NOTIFY_KEYEVENT},	{'t', TN_NOTIFY_STREAM},
	    {'m', TN_NOTIFY_KEY_MISS},	{'d', TN_NOTIFY_MODULE},
	    {'n', TN_NOTIFY_NEW},
	};
	int flags = 0;
	size_t i;

	for (; *s; s++) {
		for (i = 0; i < TN_ARRAY_SIZE(classes); i++)
			if (classes[i].letter == *s)
				break;
		if (i == TN_ARRAY_SIZE(classes))
			return -1;
		flags |= classes[i].flags;
	}
	return flags;
}

/* Redis' keyspaceEventsFlagsToString: "A" stands for all the type
 * classes (and then hides n), K E m follow. */
static void cfg_notify_format(int flags, char *out, size_t outlen)
{
	static const struct {
		char letter;
		int flag;
	} order[] = {
	    {'g', TN_NOTIFY_GENERIC}, {'$', TN_NOTIFY_STRING},
	    {'l', TN_NOTIFY_LIST},    {'s', TN_NOTIFY_SET},
	    {'h', TN_NOTIFY_HASH},    {'z', TN_NOTIFY_ZSET},
	    {'x', TN_NOTIFY_EXPIRED}, {'e', TN_NOTIFY_EVICTED},
	    {'t', TN_NOTIFY_STREAM},  {'d', TN_NOTIFY_MODULE},
	    {'n', TN_NOTIFY_NEW},
	};
	char buf[32];
	size_t n = 0, i;

	if ((flags & TN_NOTIFY_ALL) == TN_NOTIFY_ALL) {
		buf[n++] = 'A';
	} else {
		for (i = 0; i < TN_ARRAY_SIZE(order); i++)
			if (flags & order[i].flag)
				buf[n++] = order[i].letter;
	}
	if (flags & TN_NOTIFY_KEYSPACE)
		buf[n++] = 'K';
	if (flags & TN_NOTIFY_KEYEVENT)
		buf[n++] = 'E';
	if (flags & TN_NOTIFY_KEY_MISS)
		buf[n++] = 'm';
	buf[n] = '\0';
	snprintf(out, outlen, "%s", buf);
}

static int cfg_set_notify(struct tn_config *c, const struct cfg_directive *d,
			  const char *arg, bool runtime, char *err,
			  size_t errlen)
{
	int flags = cfg_notify_parse(arg);

	if (flags < 0)
		return cfg_bad(d, runtime, err, errlen,
			       "Invalid event class character. Use "
			       "'Ag$lshzxeKEtmdn'.",
			       "wants event class letters from "
			       "'Ag$lshzxeKEtmdn', got '%s'",
			       arg);
	memcpy((char *)c + d->offset, &flags, sizeof(flags));
	return 0;
}

static const char *const obuf_class_names[TN_OBUF_CLASSES] = {
    [TN_OBUF_NORMAL] = "normal",
    [TN_OBUF_REPLICA] = "slave",
    [TN_OBUF_PUBSUB] = "pubsub",
};

static int cfg_obuf_class(const char *name)
{
	if (strcasecmp(name, "normal") == 0)
		return TN_OBUF_NORMAL;
	if (strcasecmp(name, "slave") == 0 || strcasecmp(name, "replica") == 0)
		return TN_OBUF_REPLICA;
	if (strcasecmp(name, "pubsub") == 0)
		return TN_OBUF_PUBSUB;
	return -1;
}

/* "pubsub 32mb 8mb 60" given as one argument: split on single spaces as
 * Redis' CONFIG SET does (so two spaces make an empty word). */
static int cfg_split_spaces(const char *s, char *buf, const char **argv,
			    int max)
{
	int argc = 0;

	if (*s == '\0')
		return 0;
	strcpy(buf, s);
	for (;;) {
		if (argc == max)
			return -1;
		argv[argc++] = buf;
		buf = strchr(buf, ' ');
		if (!buf)
			return argc;
		*buf++ = '\0';
	}
}

/*
 * Redis' setConfigClientOutputBufferLimitOption: groups of <class>
 * <hard> <soft> <soft_seconds>, all checked before any is applied; the
 * classes not named keep their limits.
 */
static int cfg_set_obuf(struct tn_config *c, const struct cfg_directive *d,
			int argc, const char *const *argv, bool runtime,
			char *err, size_t errlen)
{
	struct tn_obuf_limit set[TN_OBUF_CLASSES];
	bool named[TN_OBUF_CLASSES] = {false};
	const char *words[4 * TN_OBUF_CLASSES * 4];
	char buf[512];
	int i, cls;

	if (argc == 1) {
		if (strlen(argv[0]) >= sizeof(buf))
			return cfg_bad(d, runtime, err, errlen,
				       "Wrong number of arguments in buffer "
				       "limit configuration.",
				       "is longer than %zu bytes",
				       sizeof(buf) - 1);
		argc = cfg_split_spaces(argv[0], buf, words,
					(int)TN_ARRAY_SIZE(words));
		argv = words;
	}
	if (argc < 0 || argc % 4)
		return cfg_bad(d, runtime, err, errlen,
			       "Wrong number of arguments in buffer limit "
			       "configuration.",
			       "wants groups of <class> <hard> <soft> "
			       "<soft-seconds>");
	for (i = 0; i < argc; i += 4) {
		unsigned long long hard, soft;
		long long secs;
		char *end;

		cls = cfg_obuf_class(argv[i]);
		if (cls < 0)
			return cfg_bad(d, runtime, err, errlen,
				       "Invalid client class specified in "
				       "buffer limit configuration.",
				       "wants a class of normal, replica or "
				       "pubsub, got '%s'",
				       argv[i]);
		errno = 0;
		secs = strtoll(argv[i + 3], &end, 10);
		if (tn_parse_memory(argv[i + 1], &hard) < 0 ||
		    tn_parse_memory(argv[i + 2], &soft) < 0 || secs < 0 ||
		    *end != '\0' || hard > LLONG_MAX || soft > LLONG_MAX)
			return cfg_bad(d, runtime, err, errlen,
				       "Error in hard, soft or soft_seconds "
				       "setting in buffer limit configuration.",
				       "wants sizes and seconds, got '%s %s %s'",
				       argv[i + 1], argv[i + 2], argv[i + 3]);
		set[cls].hard_bytes = (long long)hard;
		set[cls].soft_bytes = (long long)soft;
		set[cls].soft_s = secs;
		named[cls] = true;
	}
	for (cls = 0; cls < TN_OBUF_CLASSES; cls++)
		if (named[cls])
			c->obuf_limit[cls] = set[cls];
	return 0;
}

/*
 * Redis' save points: pairs of <seconds> (at least 1) <changes> (at least
 * 0), all checked before any is applied; "" alone means none.  CONFIG
 * SET replaces the list; in the file the first `save` line replaces the
 * default and the next ones add to it, as in redis.conf.
 */
static int cfg_set_save(struct tn_config *c, const struct cfg_directive *d,
			int argc, const char *const *argv, bool runtime,
			char *err, size_t errlen)
{
	struct tn_save_point set[TN_MAX_SAVE_POINTS];
	const char *words[2 * TN_MAX_SAVE_POINTS + 1];
	char buf[512];
	int i, n, base;

	if (argc == 1) {
		if (strlen(argv[0]) >= sizeof(buf))
			argc = -1;
		else
			argc = cfg_split_spaces(argv[0], buf, words,
						(int)TN_ARRAY_SIZE(words));
		argv = words;
	}
	if (argc < 0 || argc % 2)
		return cfg_bad(d, runtime, err, errlen,
			       "Invalid save parameters",
			       "wants pairs of <seconds> <changes> (at most "
			       "%d), or \"\" for none",
			       TN_MAX_SAVE_POINTS);
	for (i = 0; i < argc; i++) {
		long long v;
		char *end;

		errno = 0;
		v = strtoll(argv[i], &end, 10);
		if (errno || end == argv[i] || *end != '\0' ||
		    v < (i % 2 ? 0 : 1))
			return cfg_bad(d, runtime, err, errlen,
				       "Invalid save parameters",
				       "wants <seconds> of at least 1 and "
				       "<changes> of at least 0, got '%s'",
				       argv[i]);
		if (i % 2)
			set[i / 2].changes = v;
		else
			set[i / 2].seconds = v;
	}
	n = argc / 2;
	base = runtime || c->save_lines == 0 ? 0 : c->nsave;
	if (base + n > TN_MAX_SAVE_POINTS)
		return cfg_bad(d, runtime, err, errlen,
			       "Invalid save parameters",
			       "has more than %d save points in all",
			       TN_MAX_SAVE_POINTS);
	if (!runtime)
		c->save_lines++;
	memcpy(c->save + base, set, n * sizeof(set[0]));
	c->nsave = base + n;
	return 0;
}

static int cfg_apply(struct tn_config *c, const struct cfg_directive *d,
		     int argc, const char *const *argv, bool runtime, char *err,
		     size_t errlen)
{
	/* replicaof "" is what CONFIG GET shows for none: it parses back */
	if (d->kind == CFG_REPLICAOF && argc == 1 && !argv[0][0]) {
		c->replicaof_host[0] = '\0';
		c->replicaof_port = 0;
		return 0;
	}
	if (d->kind == CFG_REPLICAOF ? argc != 2
	    : d->kind == CFG_BIND || d->kind == CFG_OBUF || d->kind == CFG_SAVE
		? argc < 1
							 : argc != 1)
		return cfg_bad(d, runtime, err, errlen,
			       "wrong number of arguments",
			       "wrong number of arguments");
	switch (d->kind) {
	case CFG_BOOL:
		return cfg_set_bool(c, d, argv[0], runtime, err, errlen);
	case CFG_INT:
		return cfg_set_int(c, d, argv[0], runtime, err, errlen);
	case CFG_MEMORY:
		return cfg_set_memory(c, d, argv[0], runtime, err, errlen);
	case CFG_OCTAL:
		return cfg_set_octal(c, d, argv[0], runtime, err, errlen);
	case CFG_STRING:
		return cfg_set_string(c, d, argv[0], runtime, err, errlen);
	case CFG_ENUM:
		return cfg_set_enum(c, d, argv[0], runtime, err, errlen);
	case CFG_BIND:
		return cfg_set_bind(c, d, argc, argv, runtime, err, errlen);
	case CFG_NOTIFY:
		return cfg_set_notify(c, d, argv[0], runtime, err, errlen);
	case CFG_OBUF:
		return cfg_set_obuf(c, d, argc, argv, runtime, err, errlen);
	case CFG_REPLICAOF:
		return cfg_set_replicaof(c, d, argv, runtime, err, errlen);
	case CFG_SAVE:
		return cfg_set_save(c, d, argc, argv, runtime, err, errlen);
	}
	return -1;
}

int tn_config_set(struct tn_config *c, const char *name, int argc,
		  const char *const *argv, bool runtime, char *err,
		  size_t errlen)
{
	const struct cfg_directive *d = cfg_lookup(name);

	if (!d) {
		if (runtime)
			cfg_errf(err, errlen,
				 "ERR Unknown option or number of arguments "
				 "for CONFIG SET - '%s'",
				 name);
		else
			cfg_errf(err, errlen, "unknown directive '%s'", name);
		return -1;
	}
	if (runtime && (d->flags & CFG_IMMUTABLE))
		return cfg_bad(d, runtime, err, errlen,
			       "can't set immutable config", "%s", "");
	return cfg_apply(c, d, argc, argv, runtime, err, errlen);
}

static int cfg_enum_count(const struct cfg_directive *d)
{
	int n = 0;

	while (d->names[n])
		n++;
	return n;
}

int tn_config_get(const struct tn_config *c, const char *name, char *out,
		  size_t outlen)
{
	const struct cfg_directive *d = cfg_lookup(name);
	const char *field;
	size_t used = 0;
	bool b;
	int i;

	if (!d)
		return -1;
	if (!out || outlen == 0)
		return 0;
	field = (const char *)c + d->offset;
	switch (d->kind) {
	case CFG_BOOL:
		memcpy(&b, field, sizeof(b));
		snprintf(out, outlen, "%s", b ? "yes" : "no");
		break;
	case CFG_INT:
	case CFG_MEMORY:
		snprintf(out, outlen, "%lld", cfg_load_int(c, d));
		break;
	case CFG_OCTAL:
		snprintf(out, outlen, "%llo",
			 (unsigned long long)cfg_load_int(c, d));
		break;
	case CFG_STRING:
		snprintf(out, outlen, "%.*s", (int)d->size, field);
		break;
	case CFG_ENUM:
		i = (int)cfg_load_int(c, d);
		snprintf(out, outlen, "%s",
			 i >= 0 && i < cfg_enum_count(d) ? d->names[i] : "");
		break;
	case CFG_BIND:
		out[0] = '\0';
		for (i = 0; i < c->nbind && i < TN_MAX_BIND && used < outlen;
		     i++)
			used += snprintf(out + used, outlen - used, "%s%s%.*s",
					 i ? " " : "",
					 c->bind_optional[i] ? "-" : "",
					 (int)sizeof(c->bind[i]), c->bind[i]);
		break;
	case CFG_NOTIFY:
		cfg_notify_format(c->notify_keyspace_events, out, outlen);
		break;
	case CFG_REPLICAOF:
		if (c->replicaof_host[0])
			snprintf(out, outlen, "%s %d", c->replicaof_host,
				 c->replicaof_port);
		else
			out[0] = '\0';
		break;
	case CFG_OBUF:
		out[0] = '\0';
		for (i = 0; i < TN_OBUF_CLASSES && used < outlen; i++)
			used += snprintf(out + used, outlen - used,
					 "%s%s %lld %lld %lld", i ? " " : "",
					 obuf_class_names[i],
					 c->obuf_limit[i].hard_bytes,
					 c->obuf_limit[i].soft_bytes,
					 c->obuf_limit[i].soft_s);
		break;
	case CFG_SAVE:
		out[0] = '\0';
		for (i = 0; i < c->nsave && used < outlen; i++)
			used += snprintf(out + used, outlen - used,
					 "%s%lld %lld", i ? " " : "",
					 c->save[i].seconds, c->save[i].changes);
		break;
	}
	return 0;
}

const char *const *tn_config_names(void)
{
	static const char *names[TN_ARRAY_SIZE(cfg_table) + 1];
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(cfg_table); i++)
		names[i] = cfg_table[i].name;
	names[i] = NULL;
	return names;
}

/*
 * Split a line into NUL-terminated arguments with the same splitter as
 * inline RESP commands (Redis' sdssplitargs() rules).  `buf` holds
 * 2 * strlen(p) + 2 bytes, `argv` strlen(p) / 2 + 2 entries.  Returns the
 * number of arguments, or -1 (unbalanced quotes) or -2 (a NUL byte, which
 * C strings cannot carry).
 */
static int cfg_split(const char *p, char *buf, char **argv)
{
	size_t len = strlen(p), max = len / 2 + 2, i;
	struct tn_arg *args = malloc(max * sizeof(*args));
	char *store = buf + len + 1;
	int argc;

	if (!args)
		return -1;
	argc = tn_split_args(p, len, buf, args, max);
	for (i = 0; argc > 0 && i < (size_t)argc; i++) {
		if (memchr(args[i].p, '\0', args[i].len)) {
			argc = -2;
			break;
		}
		/* args point into buf; lay them out again with terminators */
		memcpy(store, args[i].p, args[i].len);
		store[args[i].len] = '\0';
		argv[i] = store;
		store += args[i].len + 1;
	}
	free(args);
	return argc;
}

static int cfg_load_file(struct tn_config *c, const char *path, int depth,
			 const char *from, int from_line, char *err,
			 size_t errlen);

/* Parse `text` (modified in place), one directive a line. */
static int cfg_load_text(struct tn_config *c, char *text, const char *origin,
			 int depth, char *err, size_t errlen)
{
	size_t len = strlen(text);
	char *buf = malloc(2 * len + 2);
	char **argv = malloc((len / 2 + 2) * sizeof(*argv));
	char *line, *next, *end, msg[1024];
	int lineno = 0, argc, rc = -1;

	if (!buf || !argv) {
		cfg_errf(err, errlen, "%s: out of memory", origin);
		goto out;
	}
	for (line = text; line; line = next) {
		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		/* trimmed as Redis' sdstrim(line, " \t\r\n") */
		while (*line == ' ' || *line == '\t' || *line == '\r')
			line++;
		end = line + strlen(line);
		while (end > line &&
		       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		if (*line == '\0' || *line == '#')
			continue;
		argc = cfg_split(line, buf, argv);
		if (argc == -1) {
			cfg_errf(
			    err, errlen,
			    "%s:%d: unbalanced quotes in configuration line",
			    origin, lineno);
			goto out;
		}
		if (argc == -2) {
			cfg_errf(err, errlen,
				 "%s:%d: \\x00 is not allowed in a value",
				 origin, lineno);
			goto out;
		}
		if (argc == 0)
			continue;
		if (strcasecmp(argv[0], "include") == 0) {
			if (argc != 2) {
				cfg_errf(err, errlen,
					 "%s:%d: 'include' wrong number of "
					 "arguments",
					 origin, lineno);
				goto out;
			}
			if (depth >= TN_CONFIG_INCLUDE_DEPTH) {
				cfg_errf(
				    err, errlen,
				    "%s:%d: includes nested more than %d deep; "
				    "check for a file that includes itself",
				    origin, lineno, TN_CONFIG_INCLUDE_DEPTH);
				goto out;
			}
			if (cfg_load_file(c, argv[1], depth + 1, origin, lineno,
					  err, errlen) < 0)
				goto out;
			continue;
		}
		if (tn_config_set(c, argv[0], argc - 1,
				  (const char *const *)argv + 1, false, msg,
				  sizeof(msg)) < 0) {
			cfg_errf(err, errlen, "%s:%d: %s", origin, lineno, msg);
			goto out;
		}
	}
	rc = 0;
out:
	free(argv);
	free(buf);
	return rc;
}

static int cfg_load_file(struct tn_config *c, const char *path, int depth,
			 const char *from, int from_line, char *err,
			 size_t errlen)
{
	char where[TN_PATH_MAX + 32] = "";
	size_t len = 0, cap = 4096, n;
	char *text = NULL, *grown;
	FILE *f;
	int rc = -1;

	if (from)
		snprintf(where, sizeof(where), "%s:%d: ", from, from_line);
	f = fopen(path, "r");
	if (!f) {
		cfg_errf(err, errlen, "%scannot open config file \"%s\": %s",
			 where, path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (!text || cap - len < 2) {
			cap *= 2;
			grown = realloc(text, cap);
			if (!grown) {
				cfg_errf(err, errlen,
					 "%scannot read config file \"%s\": %s",
					 where, path, strerror(ENOMEM));
				goto out;
			}
			text = grown;
		}
		n = fread(text + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		cfg_errf(err, errlen, "%scannot read config file \"%s\": %s",
			 where, path, strerror(errno));
		goto out;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len)) {
		/* the lines after it would be silently lost */
		const char *nul = text + strlen(text), *p;
		int lineno = 1;

		for (p = text; p < nul; p++)
			lineno += *p == '\n';
		cfg_errf(err, errlen, "%s:%d: NUL byte in configuration file",
			 path, lineno);
		goto out;
	}
	rc = cfg_load_text(c, text, path, depth, err, errlen);
out:
	free(text);
	fclose(f);
	return rc;
}

/* Apply the table's defaults; they go through the parser like any line. */
void tn_config_defaults(struct tn_config *c)
{
	char buf[64], *argv[sizeof(buf) / 2 + 2], err[256] = "too long";
	size_t i;
	int argc;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < TN_ARRAY_SIZE(cfg_table); i++) {
		const struct cfg_directive *d = &cfg_table[i];
		const char *one[1] = {d->default_text};

		if (d->kind == CFG_BIND || d->kind == CFG_REPLICAOF) {
			if (2 * strlen(d->default_text) + 2 > sizeof(buf))
				goto broken;
			argc = cfg_split(d->default_text, buf, argv);
			if (argc < 0 ||
			    cfg_apply(c, d, argc, (const char *const *)argv,
				      false, err, sizeof(err)) < 0)
				goto broken;
		} else if (cfg_apply(c, d, 1, one, false, err, sizeof(err)) <
			   0) {
			goto broken;
		}
	}
	/* the file's first `save` line replaces the default points */
	c->save_lines = 0;
	return;
broken:
	/* Only a bad table gets here: fail loudly at the first start. */
	fprintf(stderr, "titan: bad built-in default for '%s': %s\n",
		cfg_table[i].name, err);
	abort();
}

int tn_config_load(struct tn_config *c, const char *path, char *err,
		   size_t errlen)
{
	char abs[PATH_MAX];
	const char *name = path;
	size_t len;

	if (cfg_load_file(c, path, 0, NULL, 0, err, errlen) < 0)
		return -1;
	/* Absolute, so CONFIG REWRITE still finds it after a chdir to dir. */
	if (realpath(path, abs) && strlen(abs) < sizeof(c->config_file))
		name = abs;
	len = strnlen(name, sizeof(c->config_file) - 1);
	memcpy(c->config_file, name, len);
	c->config_file[len] = '\0';
	return 0;
}

int tn_config_load_string(struct tn_config *c, const char *text,
			  const char *origin, char *err, size_t errlen)
{
	char *copy = strdup(text);
	int rc;

	if (!origin)
		origin = "command line";
	if (!copy) {
		cfg_errf(err, errlen, "%s: out of memory", origin);
		return -1;
	}
	rc = cfg_load_text(c, copy, origin, 0, err, errlen);
	free(copy);
	return rc;
}

/* Is `addr` reachable only from this host? */
static bool cfg_bind_loopback_only(const char *addr)
{
	return strcmp(addr, "::1") == 0 || strncmp(addr, "127.", 4) == 0 ||
	       strcasecmp(addr, "localhost") == 0;
}

/*
 * Task submission runs code on workers, and the dashboard shows their
 * output: a scheduler or dashboard port that other hosts can reach needs
 * titan-auth-token (DESIGN.md section 9).
 */
static int cfg_check_private_bind(const struct tn_config *c,
				  const char *directive, const char *bind,
				  int port, char *err, size_t errlen)
{
	char list[256], *save = NULL, *a;

	if (port == 0 || c->titan_auth_token[0] != '\0')
		return 0;
	strlcpy(list, bind, sizeof(list));
	for (a = strtok_r(list, " \t", &save); a;
	     a = strtok_r(NULL, " \t", &save)) {
		if (*a == '-')
			a++;
		if (!cfg_bind_loopback_only(a)) {
			cfg_errf(err, errlen,
				 "%s includes %s, which is not loopback, and "
				 "titan-auth-token is empty; anyone who can "
				 "reach port %d could run commands on the "
				 "workers or read their output: set "
				 "titan-auth-token or bind to 127.0.0.1",
				 directive, a, port);
			return -1;
		}
	}
	return 0;
}

/* Can a client on this host reach `addr` from a loopback address? */
static bool cfg_bind_reaches_loopback(const char *addr)
{
	return strcmp(addr, "*") == 0 || strcmp(addr, "::*") == 0 ||
	       strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0 ||
	       strcmp(addr, "::1") == 0 || strncmp(addr, "127.", 4) == 0 ||
	       strcasecmp(addr, "localhost") == 0;
}

int tn_config_check(const struct tn_config *c, char *err, size_t errlen)
{
	long long online;
	bool reachable = false;
	int i;

	if (c->maxclients < 1) {
		cfg_errf(err, errlen,
			 "maxclients is %lld; it must be at least 1",
			 c->maxclients);
		return -1;
	}
	if (c->shards < 0 || c->shards > TN_MAX_SHARDS) {
		cfg_errf(err, errlen,
			 "shards is %d; it must be between 0 (one per online "
			 "CPU) and %d",
			 c->shards, TN_MAX_SHARDS);
		return -1;
	}
	if (c->stripes != 0) {
		long long s = c->stripes;

		if (!cfg_stripes_valid(&s)) {
			cfg_errf(err, errlen,
				 "stripes is %d; it must be 0 (derived) or a "
				 "power of two between %d and %d",
				 c->stripes, TN_MIN_STRIPES, TN_MAX_STRIPES);
			return -1;
		}
		online = c->shards ? c->shards : sysconf(_SC_NPROCESSORS_ONLN);
		if (c->stripes < online) {
			cfg_errf(err, errlen,
				 "stripes (%d) is less than the number of "
				 "shards (%lld); raise stripes or set it to 0",
				 c->stripes, online);
			return -1;
		}
	}
	if (c->port == 0 && c->unixsocket[0] == '\0') {
		cfg_errf(err, errlen,
			 "port is 0 and unixsocket is not set, so Titan would "
			 "listen nowhere; set port or unixsocket");
		return -1;
	}
	if (c->nbind < 0 || c->nbind > TN_MAX_BIND ||
	    (c->nbind == 0 && c->port != 0)) {
		cfg_errf(err, errlen, "bind has %d addresses; it needs 1 to %d",
			 c->nbind, TN_MAX_BIND);
		return -1;
	}
	/*
	 * Protected mode refuses every non-loopback client while no password
	 * is set.  If nothing listens where a loopback client can reach it
	 * either, the server could never be used: say so now.
	 */
	if (c->protected_mode && c->requirepass[0] == '\0' &&
	    c->unixsocket[0] == '\0') {
		for (i = 0; i < c->nbind; i++)
			reachable |= cfg_bind_reaches_loopback(c->bind[i]);
		if (!reachable) {
			cfg_errf(
			    err, errlen,
			    "protected-mode is on and requirepass is empty, "
			    "but no bind address is loopback or wildcard, so "
			    "no client could connect; set requirepass, add "
			    "127.0.0.1 to bind, or set protected-mode no");
			return -1;
		}
	}
	if (cfg_check_private_bind(c, "titan-bind", c->titan_bind,
				   c->titan_port, err, errlen) < 0)
		return -1;
	return cfg_check_private_bind(c, "http-bind", c->http_bind,
				      c->http_port, err, errlen);
}
