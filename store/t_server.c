/*
 * t_server.c - connection and server commands: PING, ECHO, QUIT, RESET,
 * HELLO, AUTH, SELECT, DBSIZE, FLUSHALL, FLUSHDB, TIME, SHUTDOWN and
 * CONFIG.  INFO is in t_info.c, CLIENT in t_client.c, COMMAND in
 * t_command.c.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "store/cmds.h"
#include "util/util.h"

#define TN_ERR_WRONGPASS                                                     \
	"WRONGPASS invalid username-password pair or user is disabled."
#define TN_DATABASES 1 /* one keyspace: SELECT 0 only */
#define TN_CONFIG_VALUE_MAX 2048 /* bind's 16 addresses fit */

/* "<CMD> <subcommand> ...", the lines, then HELP, as Redis' addReplyHelp. */
void tn_reply_help(struct tn_ctx *x, const char *const *lines)
{
	char head[96];
	const char *name = x->cmd->name;
	size_t n = 0, i;

	/* "client|help" -> "CLIENT <subcommand> ..." */
	for (i = 0; name[i] && name[i] != '|' && i < 32; i++)
		head[i] = (char)(name[i] >= 'a' && name[i] <= 'z'
					 ? name[i] - 'a' + 'A'
					 : name[i]);
	snprintf(head + i, sizeof(head) - i,
		 " <subcommand> [<arg> [value] [opt] ...]. Subcommands are:");
	while (lines[n])
		n++;
	tn_reply_array(x->r, (long long)n + 3);
	tn_reply_status(x->r, head);
	for (i = 0; i < n; i++)
		tn_reply_status(x->r, lines[i]);
	tn_reply_status(x->r, "HELP");
	tn_reply_status(x->r, "    Prints this help.");
}

/* ------------------------------------------------------------------ */
/* Connection                                                           */
/* ------------------------------------------------------------------ */

static void cmd_ping(struct tn_ctx *x)
{
	if (x->argc > 2) {
		tn_reply_error(x->r,
			       "ERR wrong number of arguments for 'ping' command");
		return;
	}
	/* a RESP2 subscriber can only read arrays: Redis sends this */
	if (x->c->resp == 2 && tn_pubsub_subscribed(x->c)) {
		tn_reply_array(x->r, 2);
		tn_reply_bulk(x->r, "pong", 4);
		if (x->argc == 2)
			tn_reply_bulk(x->r, x->argv[1].p, x->argv[1].len);
		else
			tn_reply_bulk(x->r, "", 0);
		return;
	}
	if (x->argc == 2)
		tn_reply_bulk(x->r, x->argv[1].p, x->argv[1].len);
	else
		tn_reply_status(x->r, "PONG");
}

static void cmd_echo(struct tn_ctx *x)
{
	tn_reply_bulk(x->r, x->argv[1].p, x->argv[1].len);
}

static void cmd_quit(struct tn_ctx *x)
{
	tn_reply_ok(x->r);
	x->c->flags |= TN_CLIENT_CLOSE_AFTER_REPLY;
}

static bool no_password(void)
{
	return tn_conf->requirepass[0] == '\0';
}

/*
 * The default user's password check.  The configured password is copied
 * under the config lock (CONFIG SET may be rewriting it) and compared in
 * time that does not depend on where the first difference is.
 */
static bool password_ok(const struct tn_arg *pass)
{
	char want[sizeof(tn_conf->requirepass)];
	size_t wlen, i;
	unsigned diff;

	tn_lock(&tn_seg->config_lock);
	memcpy(want, tn_conf->requirepass, sizeof(want));
	tn_unlock(&tn_seg->config_lock);
	want[sizeof(want) - 1] = '\0';
	wlen = strlen(want);
	if (wlen == 0)
		return true; /* "nopass": any password will do */
	diff = pass->len != wlen;
	for (i = 0; i < wlen; i++)
		diff |= (unsigned char)want[i] ^
			(unsigned char)(i < pass->len ? pass->p[i] : 0);
	return diff == 0;
}

/* Only the default user exists. */
static bool authenticate(struct tn_ctx *x, const struct tn_arg *user,
			 const struct tn_arg *pass)
{
	if (!tn_arg_is(user, "default") || !password_ok(pass))
		return false;
	x->c->authenticated = true;
	return true;
}

static void cmd_auth(struct tn_ctx *x)
{
	static const struct tn_arg deflt = {"default", 7};

	if (x->argc > 3) {
		tn_reply_error(x->r, TN_ERR_SYNTAX);
		return;
	}
	if (x->argc == 2 && no_password()) {
		tn_reply_error(x->r,
			       "ERR AUTH <password> called without any password "
			       "configured for the default user. Are you sure "
			       "your configuration is correct?");
		return;
	}
	if (authenticate(x, x->argc == 2 ? &deflt : &x->argv[1],
			 &x->argv[x->argc - 1]))
		tn_reply_ok(x->r);
	else
		tn_reply_error(x->r, TN_ERR_WRONGPASS);
}

static void cmd_hello(struct tn_ctx *x)
{
	const struct tn_arg *name = NULL;
	long long ver = 0;
	int i = 1;

	if (x->argc >= 2) {
		if (!tn_arg_ll(x, i++, &ver,
			       "ERR Protocol version is not an integer or out "
			       "of range"))
			return;
		if (ver < 2 || ver > 3) {
			tn_reply_error(x->r,
				       "NOPROTO unsupported protocol version");
			return;
		}
	}
	for (; i < x->argc; i++) {
		int more = x->argc - 1 - i;

		if (tn_arg_is(&x->argv[i], "auth") && more >= 2) {
			/* at once, as Redis 7.0: a later bad option still
			 * leaves the client authenticated */
			if (!authenticate(x, &x->argv[i + 1],
					  &x->argv[i + 2])) {
				tn_reply_error(x->r, TN_ERR_WRONGPASS);
				return;
			}
			i += 2;
		} else if (tn_arg_is(&x->argv[i], "setname") && more >= 1) {
			name = &x->argv[++i];
		} else {
			tn_reply_errorf(x->r,
					"ERR Syntax error in HELLO option '%.*s'",
					(int)TN_MIN(x->argv[i].len, 128),
					x->argv[i].p);
			return;
		}
	}
	if (!x->c->authenticated) {
		tn_reply_error(x->r,
			       "NOAUTH HELLO must be called with the client "
			       "already authenticated, otherwise the HELLO AUTH "
			       "<user> <pass> option can be used to authenticate "
			       "the client and select the RESP protocol version "
			       "at the same time");
		return;
	}
	if (name && !tn_client_setname(x, name->p, name->len))
		return;
	if (ver)
		tn_client_set_resp(x, (int)ver);
	tn_reply_map(x->r, 7);
	tn_reply_bulkstr(x->r, "server");
	tn_reply_bulkstr(x->r, "redis");
	tn_reply_bulkstr(x->r, "version");
	tn_reply_bulkstr(x->r, TN_REDIS_COMPAT_VERSION);
	tn_reply_bulkstr(x->r, "proto");
	tn_reply_int(x->r, x->c->resp);
	tn_reply_bulkstr(x->r, "id");
	tn_reply_int(x->r, (long long)x->c->id);
	tn_reply_bulkstr(x->r, "mode");
	tn_reply_bulkstr(x->r, "standalone");
	tn_reply_bulkstr(x->r, "role");
	tn_reply_bulkstr(x->r, "master");
	tn_reply_bulkstr(x->r, "modules");
	tn_reply_array(x->r, 0);
}

/* Back to a fresh connection's state (RESP2, no name, authenticated only
 * if no password is required); Redis 7 keeps the no-evict flag. */
static void cmd_reset(struct tn_ctx *x)
{
	tn_multi_discard(x->c);
	tn_pubsub_reset(x->c);
	tn_client_setname(x, "", 0);
	tn_client_set_resp(x, 2);
	x->c->authenticated = no_password();
	tn_reply_status(x->r, "RESET");
}

static void cmd_select(struct tn_ctx *x)
{
	long long id;

	if (!tn_arg_ll(x, 1, &id, NULL))
		return;
	if (id < -2147483648LL || id > 2147483647LL) {
		tn_reply_error(x->r, "ERR value is out of range, value must "
				     "between -2147483648 and 2147483647");
		return;
	}
	if (id < 0 || id >= TN_DATABASES) {
		tn_reply_error(x->r, "ERR DB index is out of range");
		return;
	}
	tn_reply_ok(x->r);
}

/* ------------------------------------------------------------------ */
/* Server                                                               */
/* ------------------------------------------------------------------ */

static void cmd_dbsize(struct tn_ctx *x)
{
	tn_reply_int(x->r, (long long)tn_db_size());
}

/* FLUSHALL and FLUSHDB: one keyspace, so the same thing. */
static void cmd_flushall(struct tn_ctx *x)
{
	bool all = strcmp(x->cmd->name, "flushall") == 0;
	uint64_t n;

	if (x->argc > 2 ||
	    (x->argc == 2 && !tn_arg_is(&x->argv[1], "sync") &&
	     !tn_arg_is(&x->argv[1], "async"))) {
		tn_reply_error(x->r, TN_ERR_SYNTAX);
		return;
	}
	n = tn_db_size();
	tn_db_flush_all(x);
	/* as Redis kills its saving child: what a BGSAVE wrote before the
	 * flush must not replace what is saved after it */
	if (all)
		atomic_fetch_add(&tn_seg->rdb_epoch, 1);
	/* Redis counts the keys removed plus the flush itself */
	tn_db_dirty(x, n);
	/* and, with save points set, FLUSHALL (not FLUSHDB) saves the empty
	 * dataset at once: a crash must not bring the old dump.rdb back */
	if (all && tn_conf->nsave > 0)
		tn_rdb_save_db();
	tn_db_dirty(x, 1);
	tn_reply_ok(x->r);
}

static void cmd_time(struct tn_ctx *x)
{
	int64_t us = tn_ustime();

	tn_reply_array(x->r, 2);
	tn_reply_bulk_ll(x->r, us / 1000000);
	tn_reply_bulk_ll(x->r, us % 1000000);
}

/*
 * The supervisor owns shutdown: it stops every process, each flushing
 * its clients' pending replies, then saves an RDB snapshot as Redis does
 * (with save points set, or SAVE; not with NOSAVE).  The caller gets no
 * reply; its connection just closes.  If the save fails the supervisor
 * starts serving again (as Redis, which answers the caller an error:
 * here its connection has closed with the shard).
 */
static void cmd_shutdown(struct tn_ctx *x)
{
	bool save = false, nosave = false, abort_it = false, force = false;
	bool other = false;
	int i;

	for (i = 1; i < x->argc; i++) {
		const struct tn_arg *a = &x->argv[i];

		if (tn_arg_is(a, "nosave")) {
			nosave = true;
		} else if (tn_arg_is(a, "save")) {
			save = true;
		} else if (tn_arg_is(a, "now")) {
			other = true;
		} else if (tn_arg_is(a, "force")) {
			force = other = true;
		} else if (tn_arg_is(a, "abort")) {
			abort_it = true;
		} else {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
	}
	if ((abort_it && (save || nosave || other)) || (save && nosave)) {
		tn_reply_error(x->r, TN_ERR_SYNTAX);
		return;
	}
	if (abort_it) {
		tn_reply_error(x->r, "ERR No shutdown in progress.");
		return;
	}
	tn_notice("User requested shutdown...");
	atomic_store(&tn_seg->shutdown_save, save ? 1 : nosave ? -1 : 0);
	atomic_store(&tn_seg->shutdown_force, force);
	if (tn_rt.pid_supervisor <= 0 ||
	    kill(tn_rt.pid_supervisor, SIGTERM) < 0) {
		tn_reply_error(x->r,
			       "ERR Errors trying to SHUTDOWN. Check logs.");
		return;
	}
	x->c->flags |= TN_CLIENT_CLOSE_AFTER_REPLY;
}

/* ------------------------------------------------------------------ */
/* CONFIG                                                               */
/* ------------------------------------------------------------------ */

/*
 * Parameters clients ask for that have one fixed, true value here.
 * CONFIG SET takes that value (a no-op) and refuses any other.
 */
static const struct {
	const char *name, *value;
} cfg_fixed[] = {
	{"appendonly", "no"},
	{"databases", "1"},
	{"maxmemory-policy", "noeviction"},
};

static size_t cfg_count(const char *const *names)
{
	size_t n = 0;

	while (names[n])
		n++;
	return n;
}

/* argv bytes as a C string in `buf`; false if it does not fit. */
static bool arg_cstr(const struct tn_arg *a, char *buf, size_t len)
{
	if (a->len >= len || memchr(a->p, '\0', a->len))
		return false;
	memcpy(buf, a->p, a->len);
	buf[a->len] = '\0';
	return true;
}

static bool cfg_fixed_hidden(size_t j)
{
	/* a real directive of the same name wins */
	return tn_config_get(tn_conf, cfg_fixed[j].name, NULL, 0) == 0;
}

/* The fixed value of parameter `name`, or NULL when it has none. */
static const char *cfg_fixed_value(const char *name)
{
	size_t j;

	for (j = 0; j < TN_ARRAY_SIZE(cfg_fixed); j++)
		if (strcasecmp(cfg_fixed[j].name, name) == 0 &&
		    !cfg_fixed_hidden(j))
			return cfg_fixed[j].value;
	return NULL;
}

/*
 * Each parameter once, in the order the patterns first match it (Redis
 * replies in its dict's order, which no client may rely on), named as the
 * first exact pattern spelled it, as Redis 7.0 does.
 */
static void cmd_config_get(struct tn_ctx *x)
{
	const char *const *names = tn_config_names();
	size_t nreal = cfg_count(names);
	size_t total = nreal + TN_ARRAY_SIZE(cfg_fixed);
	char value[TN_CONFIG_VALUE_MAX], exact[128];
	bool *seen = calloc(total, sizeof(*seen));
	struct {
		size_t j;
		const struct tn_arg *as; /* NULL: the table's name */
	} *order = calloc(total, sizeof(*order));
	size_t j, k, n = 0;
	int a;

	if (!seen || !order) {
		tn_reply_error(x->r, TN_ERR_OOM);
		goto out;
	}
	for (a = 2; a < x->argc; a++) {
		const struct tn_arg *p = &x->argv[a];
		bool glob = memchr(p->p, '*', p->len) ||
			    memchr(p->p, '?', p->len) ||
			    memchr(p->p, '[', p->len);

		if (!glob && !arg_cstr(p, exact, sizeof(exact)))
			continue;
		for (j = 0; j < total; j++) {
			const char *name;

			if (seen[j])
				continue;
			if (j < nreal) {
				name = names[j];
			} else if (cfg_fixed_hidden(j - nreal)) {
				continue;
			} else {
				name = cfg_fixed[j - nreal].name;
			}
			if (glob ? tn_glob_match(p->p, p->len, name,
						 strlen(name), true)
				 : strcasecmp(exact, name) == 0) {
				seen[j] = true;
				order[n].j = j;
				order[n++].as = glob ? NULL : p;
			}
		}
	}
	tn_reply_map(x->r, (long long)n);
	tn_lock(&tn_seg->config_lock);
	for (k = 0; k < n; k++) {
		const char *v = value;

		j = order[k].j;
		if (j >= nreal)
			v = cfg_fixed[j - nreal].value;
		else if (tn_config_get(tn_conf, names[j], value,
				       sizeof(value)) < 0)
			value[0] = '\0';
		if (order[k].as)
			tn_reply_bulk(x->r, order[k].as->p, order[k].as->len);
		else
			tn_reply_bulkstr(x->r, j < nreal ? names[j]
						      : cfg_fixed[j - nreal].name);
		tn_reply_bulkstr(x->r, v);
	}
	tn_unlock(&tn_seg->config_lock);
out:
	free(seen);
	free(order);
}

/* "... - can't set immutable config" as tn_config_set words it */
static bool cfg_immutable(struct tn_config *scratch, const char *name,
			  const char *val)
{
	char err[256] = "";

	if (tn_config_set(scratch, name, 1, &val, true, err, sizeof(err)) == 0)
		return false;
	return strstr(err, "can't set immutable config") != NULL;
}

/*
 * Redis 7's CONFIG SET: several parameters at once, all or nothing.
 * Names are checked first (unknown, immutable, twice), then the values
 * are applied to a copy; only when every one took is the live
 * configuration changed, under the config lock.
 */
static void cmd_config_set(struct tn_ctx *x)
{
	int n = (x->argc - 2) / 2, i, j;
	const char **name = NULL, **val = NULL;
	char *store = NULL, *p, err[512] = "";
	struct tn_config *scratch = NULL;
	size_t bytes = 0;
	bool ok = false, loglevel = false;

	if ((x->argc - 2) % 2) {
		tn_reply_error(x->r, TN_ERR_SYNTAX);
		return;
	}
	for (i = 2; i < x->argc; i++)
		bytes += x->argv[i].len + 1;
	name = calloc(n, sizeof(*name));
	val = calloc(n, sizeof(*val));
	store = malloc(bytes);
	scratch = malloc(sizeof(*scratch));
	if (!name || !val || !store || !scratch) {
		tn_reply_error(x->r, TN_ERR_OOM);
		goto out;
	}
	for (p = store, i = 0; i < n; i++) {
		const struct tn_arg *a = &x->argv[2 + 2 * i], *b = a + 1;

		/* an embedded NUL would be cut: no directive takes one */
		memcpy(p, a->p, a->len);
		p[a->len] = '\0';
		name[i] = p;
		p += a->len + 1;
		memcpy(p, b->p, b->len);
		p[b->len] = '\0';
		val[i] = p;
		p += b->len + 1;
	}

	tn_lock(&tn_seg->config_lock);
	memcpy(scratch, tn_conf, sizeof(*scratch));
	for (i = 0; i < n && !err[0]; i++) {
		const char *fixed = cfg_fixed_value(name[i]);

		if (fixed && strcasecmp(fixed, val[i]) != 0) {
			snprintf(err, sizeof(err),
				 "ERR CONFIG SET failed (possibly related to "
				 "argument '%s') - Titan has only '%s' here",
				 name[i], fixed);
			break;
		}
		if (!fixed && tn_config_get(scratch, name[i], NULL, 0) < 0) {
			snprintf(err, sizeof(err),
				 "ERR Unknown option or number of arguments for "
				 "CONFIG SET - '%s'", name[i]);
			break;
		}
		if (cfg_immutable(scratch, name[i], val[i])) {
			snprintf(err, sizeof(err),
				 "ERR CONFIG SET failed (possibly related to "
				 "argument '%s') - can't set immutable config",
				 name[i]);
			break;
		}
		for (j = 0; j < i; j++) {
			if (strcasecmp(name[j], name[i]) == 0) {
				snprintf(err, sizeof(err),
					 "ERR CONFIG SET failed (possibly related "
					 "to argument '%s') - duplicate parameter",
					 name[i]);
				break;
			}
		}
	}
	if (!err[0]) {
		memcpy(scratch, tn_conf, sizeof(*scratch));
		for (i = 0; i < n; i++)
			if (!cfg_fixed_value(name[i]) &&
			    tn_config_set(scratch, name[i], 1, &val[i], true,
					  err, sizeof(err)) < 0)
				break;
		ok = i == n;
	}
	if (ok) {
		/* the same changes on the same starting point: cannot fail */
		for (i = 0; i < n; i++) {
			if (cfg_fixed_value(name[i]))
				continue;
			tn_config_set(tn_conf, name[i], 1, &val[i], true, NULL,
				      0);
			if (strcasecmp(name[i], "loglevel") == 0)
				loglevel = true;
		}
	}
	tn_unlock(&tn_seg->config_lock);
	if (loglevel)
		tn_log_set_level(tn_conf->loglevel);
	if (ok)
		tn_reply_ok(x->r);
	else
		tn_reply_error(x->r, err[0] ? err : "ERR CONFIG SET failed");
out:
	free(name);
	free(val);
	free(store);
	free(scratch);
}

static void cmd_config_resetstat(struct tn_ctx *x)
{
	uint32_t i;

	for (i = 0; i < tn_seg->nprocs; i++) {
		struct proc_shm *p = tn_proc(i);

		p->commands = 0;
		p->connections = 0;
		p->rejected = 0;
		p->hits = 0;
		p->misses = 0;
		p->expired = 0;
		p->net_in = 0;
		p->net_out = 0;
		p->cmd_usec = 0;
	}
	tn_seg->expired_keys = 0;
	tn_seg->evicted_keys = 0;
	tn_seg->stat_reset_ms = x->now_ms;
	tn_stats_reset();
	tn_reply_ok(x->r);
}

static void cmd_config_help(struct tn_ctx *x)
{
	static const char *const help[] = {
		"GET <pattern>",
		"    Return parameters matching the glob-like <pattern> and "
		"their values.",
		"SET <directive> <value>",
		"    Set the configuration <directive> to <value>.",
		"RESETSTAT",
		"    Reset statistics reported by the INFO command.",
		NULL,
	};

	tn_reply_help(x, help);
}

/* Reached only through the subcommand table; dispatch answers the rest. */
static void cmd_config(struct tn_ctx *x)
{
	tn_reply_errorf(x->r, "ERR unknown subcommand '%.*s'. Try CONFIG HELP.",
			(int)TN_MIN(x->argv[1].len, 128), x->argv[1].p);
}

/* ------------------------------------------------------------------ */
/* Tables                                                               */
/* ------------------------------------------------------------------ */

#define LS (TN_CMD_LOADING | TN_CMD_STALE)
/* AUTH, HELLO, QUIT, RESET: usable before authenticating */
#define CONN_NOAUTH                                                          \
	(TN_CMD_NOSCRIPT | LS | TN_CMD_FAST | TN_CMD_NO_AUTH |               \
	 TN_CMD_ALLOW_BUSY)
#define CFG_ADMIN (TN_CMD_ADMIN | TN_CMD_NOSCRIPT | LS)

static const struct tn_cmd config_subs[] = {
	{"config|get", -3, CFG_ADMIN, 0, 0, 0, cmd_config_get, NULL,
	 "admin slow dangerous", NULL,
	 "Get the values of configuration parameters", "2.0.0", "server"},
	{"config|set", -4, CFG_ADMIN, 0, 0, 0, cmd_config_set, NULL,
	 "admin slow dangerous", NULL,
	 "Set configuration parameters to the given values", "2.0.0",
	 "server"},
	{"config|resetstat", 2, CFG_ADMIN, 0, 0, 0, cmd_config_resetstat, NULL,
	 "admin slow dangerous", NULL, "Reset the stats returned by INFO",
	 "2.0.0", "server"},
	{"config|help", 2, LS, 0, 0, 0, cmd_config_help, NULL, "slow", NULL,
	 "Show helpful text about the different subcommands", "5.0.0",
	 "server"},
	{0},
};

const struct tn_cmd tn_cmds_server[] = {
	{"ping", -1, TN_CMD_FAST, 0, 0, 0, cmd_ping, NULL, "fast connection",
	 NULL, "Ping the server", "1.0.0", "connection"},
	{"echo", 2, LS | TN_CMD_FAST, 0, 0, 0, cmd_echo, NULL,
	 "fast connection", NULL, "Echo the given string", "1.0.0",
	 "connection"},
	{"quit", -1, CONN_NOAUTH, 0, 0, 0, cmd_quit, NULL, "fast connection",
	 NULL, "Close the connection", "1.0.0", "connection"},
	{"reset", 1, CONN_NOAUTH, 0, 0, 0, cmd_reset, NULL, "fast connection",
	 NULL, "Reset the connection", "6.2.0", "connection"},
	{"hello", -1, CONN_NOAUTH, 0, 0, 0, cmd_hello, NULL, "fast connection",
	 NULL, "Handshake with Redis", "6.0.0", "connection"},
	{"auth", -2, CONN_NOAUTH, 0, 0, 0, cmd_auth, NULL, "fast connection",
	 NULL, "Authenticate to the server", "1.0.0", "connection"},
	{"select", 2, LS | TN_CMD_FAST, 0, 0, 0, cmd_select, NULL,
	 "fast connection", NULL,
	 "Change the selected database for the current connection", "1.0.0",
	 "connection"},
	{"dbsize", 1, TN_CMD_READONLY | TN_CMD_FAST | TN_CMD_ALLSTRIPES, 0, 0,
	 0, cmd_dbsize, NULL, "keyspace read fast", NULL,
	 "Return the number of keys in the selected database", "1.0.0",
	 "server"},
	{"flushall", -1, TN_CMD_WRITE | TN_CMD_ALLSTRIPES, 0, 0, 0,
	 cmd_flushall, NULL, "keyspace write slow dangerous", NULL,
	 "Remove all keys from all databases", "1.0.0", "server"},
	{"flushdb", -1, TN_CMD_WRITE | TN_CMD_ALLSTRIPES, 0, 0, 0,
	 cmd_flushall, NULL, "keyspace write slow dangerous", NULL,
	 "Remove all keys from the current database", "1.0.0", "server"},
	{"time", 1, LS | TN_CMD_FAST | TN_CMD_RANDOM, 0, 0, 0, cmd_time, NULL,
	 "fast", NULL, "Return the current server time", "2.6.0", "server"},
	{"shutdown", -1,
	 TN_CMD_ADMIN | TN_CMD_NOSCRIPT | LS | TN_CMD_NO_MULTI |
		 TN_CMD_ALLOW_BUSY,
	 0, 0, 0, cmd_shutdown, NULL, "admin slow dangerous", NULL,
	 "Synchronously save the dataset to disk and then shut down the "
	 "server",
	 "1.0.0", "server"},
	{"config", -2, 0, 0, 0, 0, cmd_config, NULL, "slow", config_subs,
	 "A container for server configuration commands", "2.0.0", "server"},
	{0},
};
