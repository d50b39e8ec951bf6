/*
 * dispatch.c - runs one request: command lookup, arity, auth and memory
 * checks (with Redis' error strings), then the stripe locks of the
 * command's keys taken in ascending order so multi-key commands are atomic
 * and deadlock-free, the handler, and the unlocks.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/daemon.h"
#include "store/store.h"
#include "util/util.h"

#define TN_KEYS_ON_STACK 32

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

/* Sort and deduplicate; returns the new count. */
static int unique_stripes(uint32_t *s, int n)
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

static void reply_unknown(struct tn_reply *r, const struct tn_arg *argv,
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
	tn_reply_errorf(r,
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

void tn_dispatch(struct tn_client *c, const struct tn_arg *argv, int argc,
		 int shard)
{
	struct tn_ctx x = {.c = c, .argv = argv, .argc = argc, .r = &c->reply,
			   .shard = shard};
	const struct tn_cmd *cmd;
	int keys_stack[TN_KEYS_ON_STACK], *keys = keys_stack;
	uint32_t stripes_stack[TN_KEYS_ON_STACK], *stripes = stripes_stack;
	int nkeys, nstripes = 0, i, max = TN_KEYS_ON_STACK;
	int64_t start_us;
	bool poisoned = false;

	c->reply.resp = c->resp;
	cmd = tn_cmd_lookup(argv[0].p, argv[0].len);
	if (!cmd) {
		reply_unknown(&c->reply, argv, argc);
		return;
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
			tn_reply_errorf(&c->reply,
					"ERR unknown subcommand '%.*s'. Try %s HELP.",
					(int)TN_MIN(argv[1].len, 128), argv[1].p,
					up);
			return;
		}
		cmd = sub;
	}
	if (!arity_ok(cmd, argc)) {
		tn_reply_errorf(&c->reply,
				"ERR wrong number of arguments for '%s' command",
				tn_cmd_fullname(cmd));
		return;
	}
	if (!c->authenticated && !(cmd->flags & TN_CMD_NO_AUTH)) {
		tn_reply_error(&c->reply, "NOAUTH Authentication required.");
		return;
	}
	if ((cmd->flags & TN_CMD_DENYOOM) && tn_conf->maxmemory_bytes > 0 &&
	    tn_heap_used() > (uint64_t)tn_conf->maxmemory_bytes) {
		tn_reply_error(&c->reply, TN_ERR_OOM);
		return;
	}

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
	nstripes = unique_stripes(stripes, nkeys);
	for (i = 0; i < nstripes; i++) {
		struct stripe_shm *s = tn_stripe(stripes[i]);

		if (tn_stripe_lock(s) < 0)
			poisoned = true;
		/* lookups take rehash steps: a reader may write then too */
		if ((cmd->flags & TN_CMD_WRITE) || s->keys.rehash_idx >= 0)
			s->writing = 1;
	}

	start_us = tn_ustime();
	x.now_ms = start_us / 1000;
	x.cmd = cmd;
	if (tn_unlikely(poisoned || tn_seg->poisoned)) {
		poison();
		tn_reply_error(&c->reply,
			       "ERR the store is restarting after a process died "
			       "while writing; retry shortly");
	} else {
		cmd->fn(&x);
	}
	for (i = nstripes - 1; i >= 0; i--) {
		struct stripe_shm *s = tn_stripe(stripes[i]);

		s->writing = 0;
		tn_unlock(&s->lock);
	}

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
