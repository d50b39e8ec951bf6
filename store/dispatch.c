/*
 * dispatch.c - runs one request: command lookup, arity, auth and memory
 * checks (with Redis' error strings), then, inside MULTI, the queue;
 * otherwise the stripe locks of the command's keys taken in ascending
 * order so multi-key commands are atomic and deadlock-free, the handler,
 * and the unlocks.  EXEC reuses the second half under its own locks.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/daemon.h"
#include "store/cmds.h"
#include "util/util.h"

#define TN_KEYS_ON_STACK 32
#define TN_ERR_RESTARTING                                                      \
	"ERR the store is restarting after a process died while writing; "     \
	"retry shortly"

int tn_stripes_held = TN_HELD_NONE;

static int keys_grow(struct tn_client *c, int argc)
{
	uint64_t *n;

	if ((size_t)argc <= c->khash_cap)
		return 0;
	n = realloc(c->khash, sizeof(*n) * argc);
	if (!n)
		return -ENOMEM;
	c->khash = n;
	c->khash_cap = argc;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int tn_stripes_sort(uint32_t *s, int n)
{
	int i, j;

	if (n <= 1)
		return n;
	if (n < 16) {
		for (i = 1; i < n; i++) {
			uint32_t v = s[i];

			for (j = i; j > 0 && s[j - 1] > v; j--)
				s[j] = s[j - 1];
			s[j] = v;
		}
	} else {
		qsort(s, n, sizeof(*s), cmp_u32);
	}
	for (i = 1, j = 0; i < n; i++)
		if (s[i] != s[j])
			s[++j] = s[i];
	return j + 1;
}

int tn_stripe_lock(struct stripe_shm *s)
{
	if (tn_unlikely(tn_lock(&s->lock) == -EOWNERDEAD) && s->writing) {
		tn_seg->poisoned = 1;
		kill(tn_rt.pid_supervisor, SIGUSR1);
		return -EOWNERDEAD;
	}
	return 0;
}

static void poison(void)
{
	tn_seg->poisoned = 1;
	kill(tn_rt.pid_supervisor, SIGUSR1);
}

bool tn_stripes_lock(const uint32_t *idx, int n, bool write)
{
	bool ok = true;
	int i;

	for (i = 0; i < n; i++) {
		struct stripe_shm *s = tn_stripe(idx[i]);

		if (tn_stripe_lock(s) < 0)
			ok = false;
		/* lookups take rehash steps: a reader may write then too */
		if (write || s->keys.rehash_idx >= 0)
			s->writing = 1;
	}
	return ok && !tn_seg->poisoned;
}

void tn_stripes_unlock(const uint32_t *idx, int n)
{
	int i;

	for (i = n - 1; i >= 0; i--) {
		struct stripe_shm *s = tn_stripe(idx[i]);

		s->writing = 0;
		tn_unlock(&s->lock);
	}
}

bool tn_stripe_walk_lock(struct stripe_shm *s, bool write)
{
	if (tn_unlikely(tn_stripes_held == TN_HELD_ALL)) {
		if (write)
			s->writing = 1;
		return true;
	}
	if (tn_unlikely(tn_stripe_lock(s) < 0 || tn_seg->poisoned)) {
		tn_unlock(&s->lock);
		return false;
	}
	if (write)
		s->writing = 1;
	return true;
}

void tn_stripe_walk_unlock(struct stripe_shm *s)
{
	/* EXEC clears the flag when it lets go of every stripe */
	if (tn_unlikely(tn_stripes_held == TN_HELD_ALL))
		return;
	/* expired keys are logged before another process can write them */
	tn_effect_flush(false);
	s->writing = 0;
	tn_unlock(&s->lock);
}

/* Redis' "unknown command" error, arguments quoted up to 128 bytes. */
static void unknown_msg(char *msg, size_t size, const struct tn_arg *argv,
			int argc)
{
	char args[256];
	size_t len = 0;
	int i;

	args[0] = '\0';
	for (i = 1; i < argc && len < 128; i++) {
		int room = 128 - (int)len;
		int take = (int)TN_MIN(argv[i].len, (size_t)room);

		len += snprintf(args + len, sizeof(args) - len, "'%.*s' ", take,
				argv[i].p);
	}
	snprintf(msg, size,
		 "ERR unknown command '%.*s', with args beginning with: %s",
		 (int)TN_MIN(argv[0].len, 128), argv[0].p, args);
}

static bool arity_ok(const struct tn_cmd *cmd, int argc)
{
	return cmd->arity > 0 ? argc == cmd->arity : argc >= -cmd->arity;
}

static void note_command(struct tn_client *c, const struct tn_cmd *cmd,
			 int64_t now)
{
	struct client_shm *cs = tn_shard_slot(c);

	if (!cs)
		return;
	cs->last_ms = now;
	if (strncmp(cs->lastcmd, cmd->name, sizeof(cs->lastcmd)) != 0)
		snprintf(cs->lastcmd, sizeof(cs->lastcmd), "%s", cmd->name);
}

void tn_dispatch_reject(struct tn_client *c, const struct tn_cmd *cmd,
			const char *msg)
{
	if (cmd && tn_multi_is_exec(cmd)) {
		tn_multi_exec_abort(c, msg);
		return;
	}
	tn_reply_error(&c->reply, msg);
	if (c->multi_flags & TN_MULTI_ACTIVE)
		c->multi_flags |= TN_MULTI_DIRTY_EXEC;
}

static bool over_maxmemory(struct tn_client *c, const struct tn_cmd *cmd)
{
	if (tn_likely(tn_conf->maxmemory_bytes <= 0))
		return false;
	if (!(cmd->flags & TN_CMD_DENYOOM) &&
	    !((c->multi_flags & TN_MULTI_ACTIVE) &&
	      tn_multi_oom_applies(c, cmd)))
		return false;
	return tn_heap_used() > (uint64_t)tn_conf->maxmemory_bytes;
}

/* The journal cannot write the AOF: writes must not be acknowledged. */
static bool aof_failing(void)
{
	struct elog_shm *l = tn_elog();

	return l && atomic_load_explicit(&l->write_errno,
					 memory_order_relaxed) != 0 &&
	       tn_effects_on();
}

/*
 * stop-writes-on-bgsave-error: with save points set, a failed snapshot
 * stops writes until one works (Redis' check comes before the AOF's).
 */
static bool rdb_failing(void)
{
	return tn_conf->stop_writes_on_bgsave_error && tn_conf->nsave > 0 &&
	       !atomic_load_explicit(&tn_seg->rdb_last_bgsave_ok,
				     memory_order_relaxed);
}

/* What Redis refuses then: writes, PING, and EXEC of queued writes. */
static bool denied_on_disk_error(const struct tn_client *c,
				 const struct tn_cmd *cmd)
{
	if (cmd->flags & TN_CMD_WRITE)
		return true;
	if (strcmp(cmd->name, "ping") == 0)
		return true;
	return tn_multi_is_exec(cmd) && tn_multi_queued_write(c);
}

/*
 * Redis' processCommand checks, in its order.  NULL when the command is
 * refused: the error is replied and a transaction being queued is flagged.
 */
static const struct tn_cmd *check(struct tn_client *c,
				  const struct tn_arg *argv, int argc)
{
	const struct tn_cmd *cmd = tn_cmd_lookup(argv[0].p, argv[0].len);
	char msg[512];

	if (!cmd) {
		unknown_msg(msg, sizeof(msg), argv, argc);
		tn_dispatch_reject(c, NULL, msg);
		return NULL;
	}
	if (cmd->sub && argc >= 2) {
		const struct tn_cmd *sub =
			tn_cmd_lookup_sub(cmd, argv[1].p, argv[1].len);

		if (!sub) {
			char up[64];
			size_t k;

			for (k = 0; cmd->name[k] && k < sizeof(up) - 1; k++)
				up[k] = (char)(cmd->name[k] & ~0x20);
			up[k] = '\0';
			snprintf(msg, sizeof(msg),
				 "ERR unknown subcommand '%.*s'. Try %s HELP.",
				 (int)TN_MIN(argv[1].len, 128), argv[1].p, up);
			tn_dispatch_reject(c, NULL, msg);
			return NULL;
		}
		cmd = sub;
	}
	if (!arity_ok(cmd, argc)) {
		snprintf(msg, sizeof(msg),
			 "ERR wrong number of arguments for '%s' command",
			 tn_cmd_fullname(cmd));
		tn_dispatch_reject(c, cmd, msg);
		return NULL;
	}
	if (!c->authenticated && !(cmd->flags & TN_CMD_NO_AUTH)) {
		tn_dispatch_reject(c, cmd, "NOAUTH Authentication required.");
		return NULL;
	}
	/* the master's stream is obeyed (replica-ignore-maxmemory, and
	 * Redis' replica ignores its own disk errors for it) */
	if (!(c->flags & TN_CLIENT_MASTER) && over_maxmemory(c, cmd)) {
		tn_dispatch_reject(c, cmd, TN_ERR_OOM);
		return NULL;
	}
	if (tn_unlikely(rdb_failing()) && !(c->flags & TN_CLIENT_MASTER) &&
	    denied_on_disk_error(c, cmd)) {
		tn_dispatch_reject(c, cmd, TN_ERR_MISCONF_RDB);
		return NULL;
	}
	if (tn_unlikely(aof_failing()) && !(c->flags & TN_CLIENT_MASTER) &&
	    denied_on_disk_error(c, cmd)) {
		snprintf(msg, sizeof(msg),
			 "MISCONF Errors writing to the AOF file: %s",
			 strerror(atomic_load(&tn_elog()->write_errno)));
		tn_dispatch_reject(c, cmd, msg);
		return NULL;
	}
	/* the AOF replayed at start-up is obeyed too */
	if (tn_unlikely(tn_conf->replicaof_host[0]) &&
	    tn_conf->replica_read_only && !(c->flags & TN_CLIENT_MASTER) &&
	    !tn_seg->loading &&
	    ((cmd->flags & TN_CMD_WRITE) ||
	     (tn_multi_is_exec(cmd) && tn_multi_queued_write(c)))) {
		tn_dispatch_reject(c, cmd, "READONLY You can't write against a "
					   "read only replica.");
		return NULL;
	}
	if (tn_unlikely(tn_conf->min_replicas_to_write > 0) &&
	    !(c->flags & TN_CLIENT_MASTER) &&
	    ((cmd->flags & TN_CMD_WRITE) ||
	     (tn_multi_is_exec(cmd) && tn_multi_queued_write(c))) &&
	    !tn_repl_min_replicas_ok()) {
		tn_dispatch_reject(c, cmd, "NOREPLICAS Not enough good "
					   "replicas to write.");
		return NULL;
	}
	/* Redis checks the RESP2 subscribed context here, between memory
	 * and transaction (store/pubsub.c) */
	if (tn_pubsub_context_denied(c, cmd))
		return NULL;
	/* replica-serve-stale-data no: only "stale" commands while the
	 * link is down or a full sync runs (Redis' order: after pub/sub) */
	if (tn_unlikely(tn_conf->replicaof_host[0]) &&
	    !tn_conf->replica_serve_stale_data &&
	    !(cmd->flags & TN_CMD_STALE) && !(c->flags & TN_CLIENT_MASTER) &&
	    !tn_seg->loading && !atomic_load(&tn_seg->repl_link_up)) {
		tn_dispatch_reject(c, cmd, "MASTERDOWN Link with MASTER is down "
					   "and replica-serve-stale-data is set "
					   "to 'no'.");
		return NULL;
	}
	if (tn_unlikely(c->multi_flags & TN_MULTI_ACTIVE) &&
	    (cmd->flags & TN_CMD_NO_MULTI)) {
		tn_dispatch_reject(
		    c, cmd, "ERR Command not allowed inside a transaction");
		return NULL;
	}
	return cmd;
}

/* A write changed these keys: EXEC of whoever WATCHes them must fail. */
static void touch_written(struct tn_ctx *x, const int *keys, int nkeys)
{
	int i;

	for (i = 0; i < nkeys; i++) {
		struct tn_key k = tn_key_arg(x, keys[i]);

		if (tn_likely(tn_dict_size(&k.s->watched) == 0))
			continue;
		if (tn_multi_key_written(x->cmd, i))
			tn_watch_touch_slow(&k);
	}
}

int tn_call(struct tn_ctx *x, const struct tn_cmd *cmd, const int *keys,
	    int nkeys, const uint64_t *khash)
{
	int i;

	if (khash && nkeys > 0) {
		if (keys_grow(x->c, x->argc) < 0) {
			tn_reply_error(x->r, TN_ERR_OOM);
			return -ENOMEM;
		}
		for (i = 0; i < nkeys; i++)
			x->c->khash[keys[i]] = khash[i];
	}
	x->cmd = cmd;
	x->dirty = 0;
	tn_effect_enter();
	cmd->fn(x);
	if (x->dirty && nkeys > 0)
		touch_written(x, keys, nkeys);
	/* the outermost command logs its effects, its stripes still held */
	tn_effect_leave();
	return 0;
}

/* Lock the command's stripes, run it, unlock. */
static void execute(struct tn_client *c, const struct tn_cmd *cmd,
		    const struct tn_arg *argv, int argc, int shard)
{
	struct tn_ctx x = {.c = c, .argv = argv, .argc = argc, .r = &c->reply,
			   .shard = shard, .cmd = cmd};
	int keys_stack[TN_KEYS_ON_STACK], *keys = keys_stack;
	uint32_t stripes_stack[TN_KEYS_ON_STACK], *stripes = stripes_stack;
	int nkeys, nstripes = 0, i, max = TN_KEYS_ON_STACK;
	int64_t start_us;
	bool ok;

	nkeys = tn_cmd_keys(cmd, argv, argc, keys, max);
	if (nkeys < 0) {
		max = argc;
		keys = malloc(sizeof(int) * max);
		stripes = malloc(sizeof(uint32_t) * max);
		if (!keys || !stripes) {
			tn_reply_error(&c->reply, TN_ERR_OOM);
			goto out;
		}
		nkeys = tn_cmd_keys(cmd, argv, argc, keys, max);
		if (nkeys < 0)
			nkeys = 0;
	}
	if (nkeys > 0 && keys_grow(c, argc) < 0) {
		tn_reply_error(&c->reply, TN_ERR_OOM);
		goto out;
	}
	for (i = 0; i < nkeys; i++) {
		uint64_t h = tn_hash(argv[keys[i]].p, argv[keys[i]].len);

		c->khash[keys[i]] = h;
		stripes[i] = tn_stripe_of(h);
	}
	nstripes = tn_stripes_sort(stripes, nkeys);
	ok = tn_stripes_lock(stripes, nstripes, cmd->flags & TN_CMD_WRITE);

	start_us = tn_ustime();
	x.now_ms = start_us / 1000;
	if (tn_unlikely(!ok)) {
		poison();
		tn_reply_error(&c->reply, TN_ERR_RESTARTING);
	} else {
		tn_call(&x, cmd, keys, nkeys, NULL);
	}
	tn_stripes_unlock(stripes, nstripes);

	{
		struct proc_shm *p = tn_proc(TN_PROC_SHARD0 + shard);

		p->commands++;
		p->cmd_usec += tn_ustime() - start_us;
	}
	note_command(c, cmd, x.now_ms);
out:
	if (keys != keys_stack)
		free(keys);
	if (stripes != stripes_stack)
		free(stripes);
}

void tn_dispatch(struct tn_client *c, const struct tn_arg *argv, int argc,
		 int shard)
{
	const struct tn_cmd *cmd;

	c->reply.resp = c->resp;
	cmd = check(c, argv, argc);
	if (!cmd)
		return;
	if (tn_unlikely(c->multi_flags & TN_MULTI_ACTIVE) &&
	    !tn_multi_runs_now(cmd)) {
		tn_multi_queue(c, cmd, argv, argc);
		note_command(c, cmd, c->last_ms);
		return;
	}
	execute(c, cmd, argv, argc, shard);
}

struct tn_key tn_key_arg(struct tn_ctx *x, int i)
{
	struct tn_key k = {.p = x->argv[i].p, .len = x->argv[i].len,
			   .h = x->c->khash[i]};

	k.s = tn_stripe(tn_stripe_of(k.h));
	return k;
}

struct tn_key tn_key_of(const char *p, size_t len)
{
	struct tn_key k = {.p = p, .len = len, .h = tn_hash(p, len)};

	k.s = tn_stripe(tn_stripe_of(k.h));
	return k;
}

bool tn_arg_ll(struct tn_ctx *x, int i, long long *out, const char *err)
{
	if (tn_str2ll(x->argv[i].p, x->argv[i].len, out))
		return true;
	tn_reply_error(x->r, err ? err : TN_ERR_NOTINT);
	return false;
}

bool tn_arg_is(const struct tn_arg *a, const char *word)
{
	size_t n = strlen(word);

	return a->len == n && strncasecmp(a->p, word, n) == 0;
}
