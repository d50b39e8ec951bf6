/*
 * multi.c - transactions: MULTI queues commands (arguments copied: the
 * query buffer is reused) and EXEC runs them under the locks of every
 * stripe they touch, taken once in ascending order, so no client of any
 * shard sees half of one.  WATCH keeps a version per watched key in the
 * key's stripe (struct watch_shm) that writes and expiry in every shard
 * bump, and EXEC compares under those same locks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/cmds.h"
#include "util/util.h"

#define TN_STRIPES_ON_STACK 64
#define TN_KEYS_ON_STACK    32
#define TN_QUEUE_KEEP	    64 /* queue slots kept across transactions */
#define TN_ERR_RESTARTING                                                      \
	"ERR the store is restarting after a process died while writing; "     \
	"retry shortly"

/* A queued command.  `mem` holds khash[nkeys], argv[argc], keys[nkeys]
 * and the argument bytes, in that order. */
struct queued {
	const struct tn_cmd *cmd;
	int argc;
	int nkeys;
	struct tn_arg *argv;
	int *keys;
	uint64_t *khash; /* khash[i]: hash of argv[keys[i]] */
	void *mem;
};

/* A key this client WATCHes, and the version it saw then. */
struct watched {
	uint64_t h;
	uint64_t version;
	uint32_t stripe;
	uint32_t len;
	char key[];
};

struct tn_multi {
	struct queued *q;
	uint32_t count, cap;
	uint32_t cmd_flags; /* the queued commands' flags, or'ed */
	uint32_t cmd_inv_flags; /* their missing flags, or'ed */
	struct watched **w;
	uint32_t nwatched, wcap;
};

static void cmd_multi(struct tn_ctx *x);
static void cmd_exec(struct tn_ctx *x);
static void cmd_discard(struct tn_ctx *x);
static void cmd_watch(struct tn_ctx *x);

static struct tn_multi *state(struct tn_client *c)
{
	if (!c->multi)
		c->multi = calloc(1, sizeof(*c->multi));
	return c->multi;
}

static bool name_is(const struct tn_cmd *cmd, const char *name)
{
	return strcmp(cmd->name, name) == 0;
}

/* ------------------------------------------------------------------ */
/* The shared side of WATCH: one watch_shm per watched key, per stripe  */
/* ------------------------------------------------------------------ */

static struct watch_shm *watch_find(const struct tn_key *k)
{
	return tn_ptr(tn_dict_find(&k->s->watched, k->p, k->len, k->h));
}

int tn_watch_hold(const struct tn_key *k, uint64_t *version)
{
	struct stripe_shm *s = k->s;
	struct watch_shm *w = watch_find(k);

	if (!w) {
		tn_off off = tn_alloc(tn_stripe_cache(s), sizeof(*w) + k->len);

		if (!off)
			return -ENOMEM;
		w = tn_ptr(off);
		w->next = 0;
		w->version = 0;
		w->refs = 0;
		w->keylen = (uint32_t)k->len;
		memcpy(w->key, k->p, k->len);
		if (tn_dict_add(&s->watched, tn_stripe_cache(s), off, k->h) <
		    0) {
			tn_free(off);
			return -ENOMEM;
		}
	}
	w->refs++;
	*version = w->version;
	return 0;
}

void tn_watch_drop(const struct tn_key *k)
{
	struct watch_shm *w = watch_find(k);

	if (!w || --w->refs > 0)
		return;
	tn_dict_unlink(&k->s->watched, tn_stripe_cache(k->s), k->p, k->len,
		       k->h);
	tn_free(tn_off_of(w));
}

bool tn_watch_version(const struct tn_key *k, uint64_t *version)
{
	struct watch_shm *w = watch_find(k);

	if (!w)
		return false;
	*version = w->version;
	return true;
}

void tn_watch_touch_slow(const struct tn_key *k)
{
	struct watch_shm *w = watch_find(k);

	if (w)
		w->version++;
}

static void touch_if_present(void *arg, tn_off off)
{
	struct stripe_shm *s = arg;
	struct watch_shm *w = tn_ptr(off);

	if (tn_dict_find(&s->keys, w->key, w->keylen,
			 tn_hash(w->key, w->keylen)))
		w->version++;
}

void tn_watch_touch_flush(struct stripe_shm *s)
{
	if (tn_dict_size(&s->watched))
		tn_dict_foreach(&s->watched, touch_if_present, s);
}

bool tn_multi_key_written(const struct tn_cmd *cmd, int i)
{
	size_t n = strlen(cmd->name);

	/* the destination comes first and the sources are only read, as
	 * Redis' key specs say; it touches the destination alone */
	if ((n > 5 && strcmp(cmd->name + n - 5, "store") == 0) ||
	    name_is(cmd, "bitop") || name_is(cmd, "pfmerge"))
		return i == 0;
	if (name_is(cmd, "copy"))
		return i == 1;
	return true;
}

/* ------------------------------------------------------------------ */
/* The client's side: its watched keys                                  */
/* ------------------------------------------------------------------ */

static struct tn_key watched_key(const struct watched *w)
{
	struct tn_key k = {
	    .p = w->key, .len = w->len, .h = w->h, .s = tn_stripe(w->stripe)};

	return k;
}

static bool watching(const struct tn_multi *m, const struct tn_key *k)
{
	uint32_t i;

	for (i = 0; i < m->nwatched; i++) {
		const struct watched *w = m->w[i];

		if (w->h == k->h && w->len == k->len &&
		    memcmp(w->key, k->p, k->len) == 0)
			return true;
	}
	return false;
}

static int cmp_stripe(const void *a, const void *b)
{
	const struct watched *x = *(struct watched *const *)a;
	const struct watched *y = *(struct watched *const *)b;

	return x->stripe < y->stripe ? -1 : x->stripe > y->stripe;
}

/* Forget the watched keys while their stripes are held (EXEC). */
static void unwatch_held(struct tn_multi *m)
{
	uint32_t i;

	for (i = 0; i < m->nwatched; i++) {
		struct tn_key k = watched_key(m->w[i]);

		tn_watch_drop(&k);
		free(m->w[i]);
	}
	m->nwatched = 0;
}

/* Forget the watched keys, taking their stripes one at a time.  When the
 * store is poisoned the shared entries stay: it is being restarted. */
static void unwatch_all(struct tn_multi *m)
{
	uint32_t i, j;

	if (!m || !m->nwatched)
		return;
	qsort(m->w, m->nwatched, sizeof(*m->w), cmp_stripe);
	for (i = 0; i < m->nwatched; i = j) {
		uint32_t stripe = m->w[i]->stripe;
		struct stripe_shm *s = tn_stripe(stripe);
		bool locked = tn_stripe_walk_lock(s, true);

		for (j = i; j < m->nwatched && m->w[j]->stripe == stripe; j++) {
			struct tn_key k = watched_key(m->w[j]);

			if (locked)
				tn_watch_drop(&k);
			free(m->w[j]);
		}
		if (locked)
			tn_stripe_walk_unlock(s);
	}
	m->nwatched = 0;
}

/*
 * Are the watched keys as they were at WATCH (their stripes held)?  A
 * key past its deadline expires now, which counts as a change, as Redis'
 * isWatchedKeyExpired does.
 */
static bool watches_intact(struct tn_ctx *x, struct tn_multi *m)
{
	uint32_t i;

	for (i = 0; i < m->nwatched; i++) {
		struct tn_key k = watched_key(m->w[i]);
		uint64_t v;

		tn_db_find(x, &k);
		if (!tn_watch_version(&k, &v) || v != m->w[i]->version)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------------ */
/* The queue                                                            */
/* ------------------------------------------------------------------ */

static void queue_free(struct tn_multi *m)
{
	uint32_t i;

	for (i = 0; i < m->count; i++)
		free(m->q[i].mem);
	m->count = 0;
	m->cmd_flags = 0;
	m->cmd_inv_flags = 0;
	if (m->cap > TN_QUEUE_KEEP) {
		free(m->q);
		m->q = NULL;
		m->cap = 0;
	}
}

/* Copy a command, its key positions and their hashes into q. */
static int queued_init(struct queued *q, const struct tn_cmd *cmd,
		       const struct tn_arg *argv, int argc)
{
	int stack[TN_KEYS_ON_STACK], *keys = stack, nkeys, i;
	size_t bytes = 0, size;
	char *p;

	nkeys = tn_cmd_keys(cmd, argv, argc, keys, TN_KEYS_ON_STACK);
	if (nkeys < 0) {
		keys = malloc(sizeof(int) * argc);
		if (!keys)
			return -ENOMEM;
		nkeys = tn_cmd_keys(cmd, argv, argc, keys, argc);
		if (nkeys < 0)
			nkeys = 0;
	}
	for (i = 0; i < argc; i++)
		bytes += argv[i].len;
	size = sizeof(uint64_t) * nkeys + sizeof(struct tn_arg) * argc +
	       sizeof(int) * nkeys + bytes;
	q->mem = malloc(size ? size : 1);
	if (!q->mem) {
		if (keys != stack)
			free(keys);
		return -ENOMEM;
	}
	q->cmd = cmd;
	q->argc = argc;
	q->nkeys = nkeys;
	q->khash = q->mem;
	q->argv = (struct tn_arg *)(q->khash + nkeys);
	q->keys = (int *)(q->argv + argc);
	p = (char *)(q->keys + nkeys);
	for (i = 0; i < argc; i++) {
		memcpy(p, argv[i].p, argv[i].len);
		q->argv[i].p = p;
		q->argv[i].len = argv[i].len;
		p += argv[i].len;
	}
	for (i = 0; i < nkeys; i++) {
		q->keys[i] = keys[i];
		q->khash[i] = tn_hash(argv[keys[i]].p, argv[keys[i]].len);
	}
	if (keys != stack)
		free(keys);
	return 0;
}

void tn_multi_queue(struct tn_client *c, const struct tn_cmd *cmd,
		    const struct tn_arg *argv, int argc)
{
	struct tn_multi *m;

	/* an aborted transaction keeps nothing: EXEC will only refuse it */
	if (c->multi_flags & TN_MULTI_DIRTY_EXEC)
		goto queued;
	m = state(c);
	if (!m)
		goto oom;
	if (m->count == m->cap) {
		uint32_t cap = m->cap ? m->cap * 2 : 4;
		struct queued *q = realloc(m->q, sizeof(*q) * cap);

		if (!q)
			goto oom;
		m->q = q;
		m->cap = cap;
	}
	if (queued_init(&m->q[m->count], cmd, argv, argc) < 0)
		goto oom;
	m->count++;
	tn_client_note_queued(c, m->count);
	m->cmd_flags |= cmd->flags;
	m->cmd_inv_flags |= ~cmd->flags;
queued:
	tn_reply_status(&c->reply, "QUEUED");
	return;
oom:
	tn_reply_error(&c->reply, TN_ERR_OOM);
	c->multi_flags |= TN_MULTI_DIRTY_EXEC;
}

/* ------------------------------------------------------------------ */
/* State changes dispatch and the connection commands ask for           */
/* ------------------------------------------------------------------ */

bool tn_multi_is_exec(const struct tn_cmd *cmd)
{
	return cmd->fn == cmd_exec;
}

bool tn_multi_runs_now(const struct tn_cmd *cmd)
{
	return cmd->fn == cmd_exec || cmd->fn == cmd_discard ||
	       cmd->fn == cmd_multi || cmd->fn == cmd_watch ||
	       name_is(cmd, "quit") || name_is(cmd, "reset");
}

bool tn_multi_oom_applies(const struct tn_client *c, const struct tn_cmd *cmd)
{
	if (cmd->fn == cmd_exec)
		return c->multi && (c->multi->cmd_flags & TN_CMD_DENYOOM);
	return !(cmd->fn == cmd_discard || name_is(cmd, "quit") ||
		 name_is(cmd, "reset"));
}

bool tn_multi_queued_write(const struct tn_client *c)
{
	return (c->multi_flags & TN_MULTI_ACTIVE) && c->multi &&
	       (c->multi->cmd_flags & TN_CMD_WRITE);
}

void tn_multi_discard(struct tn_client *c)
{
	c->multi_flags = 0;
	if (!c->multi)
		return;
	queue_free(c->multi);
	unwatch_all(c->multi);
}

void tn_multi_exec_abort(struct tn_client *c, const char *msg)
{
	/* Redis drops the "ERR " of a formatted refusal here */
	if (strncmp(msg, "ERR ", 4) == 0)
		msg += 4;
	tn_reply_errorf(&c->reply,
			"EXECABORT Transaction discarded because of: %s", msg);
	tn_multi_discard(c);
}

/*
 * A shard that dies leaves the references of its clients' watches in the
 * stripes: those entries stay (a few bytes each) and only make their
 * keys' writes take the slow path of tn_watch_touch.
 */
void tn_multi_release(struct tn_client *c)
{
	struct tn_multi *m = c->multi;

	tn_multi_discard(c);
	if (!m)
		return;
	free(m->q);
	free(m->w);
	free(m);
	c->multi = NULL;
}

/* ------------------------------------------------------------------ */
/* MULTI EXEC DISCARD WATCH UNWATCH                                     */
/* ------------------------------------------------------------------ */

static void cmd_multi(struct tn_ctx *x)
{
	if (x->c->multi_flags & TN_MULTI_ACTIVE) {
		tn_reply_error(x->r, "ERR MULTI calls can not be nested");
		return;
	}
	x->c->multi_flags |= TN_MULTI_ACTIVE;
	tn_reply_ok(x->r);
}

static void cmd_discard(struct tn_ctx *x)
{
	if (!(x->c->multi_flags & TN_MULTI_ACTIVE)) {
		tn_reply_error(x->r, "ERR DISCARD without MULTI");
		return;
	}
	tn_multi_discard(x->c);
	tn_reply_ok(x->r);
}

/*
 * The stripes a transaction needs: its watched keys' and its commands'
 * keys', sorted; every stripe when a command walks them.  Returns the
 * count, or -ENOMEM; *idx is `stack` or allocated.
 */
static int exec_stripes(const struct tn_multi *m, uint32_t *stack,
			uint32_t **idx, bool *all)
{
	size_t want = m->nwatched, n = 0;
	uint32_t i;
	int j;

	*all = (m->cmd_flags & TN_CMD_ALLSTRIPES) != 0;
	if (*all) {
		want = tn_seg->nstripes;
	} else {
		for (i = 0; i < m->count; i++)
			want += (size_t)m->q[i].nkeys;
	}
	*idx = want > TN_STRIPES_ON_STACK ? malloc(sizeof(uint32_t) * want)
					  : stack;
	if (!*idx)
		return -ENOMEM;
	if (*all) {
		for (i = 0; i < tn_seg->nstripes; i++)
			(*idx)[i] = i;
		return (int)tn_seg->nstripes;
	}
	for (i = 0; i < m->nwatched; i++)
		(*idx)[n++] = m->w[i]->stripe;
	for (i = 0; i < m->count; i++)
		for (j = 0; j < m->q[i].nkeys; j++)
			(*idx)[n++] = tn_stripe_of(m->q[i].khash[j]);
	return tn_stripes_sort(*idx, (int)n);
}

/* Run the queue, replies in one array; the stripes are held. */
static void exec_queue(struct tn_ctx *x, struct tn_multi *m)
{
	struct proc_shm *p = tn_proc(TN_PROC_SHARD0 + x->shard);
	uint32_t i;

	tn_reply_array(x->r, m->count);
	for (i = 0; i < m->count; i++) {
		struct queued *q = &m->q[i];
		struct tn_ctx y = *x;

		y.argv = q->argv;
		y.argc = q->argc;
		tn_call(&y, q->cmd, q->keys, q->nkeys, q->khash);
		p->commands++;
	}
}

/*
 * A replica with replica-serve-stale-data no whose link went down after
 * a command that serves no stale data was queued: as Redis, its EXEC is
 * refused as that command would be now.
 */
static bool exec_stale_refused(const struct tn_client *c,
			       const struct tn_multi *m)
{
	return m && (m->cmd_inv_flags & TN_CMD_STALE) &&
	       tn_conf->replicaof_host[0] &&
	       !tn_conf->replica_serve_stale_data &&
	       !(c->flags & TN_CLIENT_MASTER) &&
	       !atomic_load(&tn_seg->loading) &&
	       !atomic_load(&tn_seg->repl_link_up);
}

static void cmd_exec(struct tn_ctx *x)
{
	struct tn_client *c = x->c;
	struct tn_multi *m = c->multi;
	uint32_t stack[TN_STRIPES_ON_STACK], *idx;
	bool all, ok;
	int n;

	if (!(c->multi_flags & TN_MULTI_ACTIVE)) {
		tn_reply_error(x->r, "ERR EXEC without MULTI");
		return;
	}
	if (exec_stale_refused(c, m)) {
		tn_multi_exec_abort(c, "MASTERDOWN Link with MASTER is down "
				       "and replica-serve-stale-data is set "
				       "to 'no'.");
		return;
	}
	if (c->multi_flags & TN_MULTI_DIRTY_EXEC) {
		tn_reply_error(x->r, "EXECABORT Transaction discarded because "
				     "of previous errors.");
		tn_multi_discard(c);
		return;
	}
	if (!m) {
		/* nothing queued, nothing watched */
		c->multi_flags = 0;
		tn_reply_array(x->r, 0);
		return;
	}
	n = exec_stripes(m, stack, &idx, &all);
	if (n < 0) {
		tn_reply_error(x->r, TN_ERR_OOM);
		tn_multi_discard(c);
		return;
	}
	/* releasing the watches changes their stripes too */
	ok = tn_stripes_lock(idx, n,
			     (m->cmd_flags & TN_CMD_WRITE) || m->nwatched);
	if (!ok) {
		tn_stripes_unlock(idx, n);
		tn_reply_error(x->r, TN_ERR_RESTARTING);
		tn_multi_discard(c);
		goto out;
	}
	tn_stripes_held = all ? TN_HELD_ALL : TN_HELD_SOME;
	ok = watches_intact(x, m);
	/* as Redis, unwatch before running: our own writes do not count */
	unwatch_held(m);
	if (ok)
		exec_queue(x, m);
	else
		tn_reply_null_array(x->r);
	/* one record for the whole transaction, before anyone else can
	 * write its keys */
	tn_effect_flush(true);
	tn_stripes_held = TN_HELD_NONE;
	tn_stripes_unlock(idx, n);
	tn_multi_discard(c);
out:
	if (idx != stack)
		free(idx);
}

static void cmd_watch(struct tn_ctx *x)
{
	struct tn_client *c = x->c;
	struct tn_multi *m;
	int i;

	if (c->multi_flags & TN_MULTI_ACTIVE) {
		tn_reply_error(x->r, "ERR WATCH inside MULTI is not allowed");
		return;
	}
	m = state(c);
	if (!m)
		goto oom;
	for (i = 1; i < x->argc; i++) {
		struct tn_key k = tn_key_arg(x, i);
		struct watched *w;

		if (watching(m, &k))
			continue;
		if (m->nwatched == m->wcap) {
			uint32_t cap = m->wcap ? m->wcap * 2 : 4;
			struct watched **n = realloc(m->w, sizeof(*n) * cap);

			if (!n)
				goto oom;
			m->w = n;
			m->wcap = cap;
		}
		w = malloc(sizeof(*w) + k.len);
		if (!w)
			goto oom;
		/* A key already past its deadline goes now, before we take
		 * the version: its expiry is not a change to us, as Redis
		 * ignores keys that were expired at WATCH. */
		tn_db_find(x, &k);
		k.s->writing = 1;
		if (tn_watch_hold(&k, &w->version) < 0) {
			free(w);
			goto oom;
		}
		w->h = k.h;
		w->stripe = k.s->index;
		w->len = (uint32_t)k.len;
		memcpy(w->key, k.p, k.len);
		m->w[m->nwatched++] = w;
	}
	tn_reply_ok(x->r);
	return;
oom:
	tn_reply_error(x->r, TN_ERR_OOM);
}

static void cmd_unwatch(struct tn_ctx *x)
{
	unwatch_all(x->c->multi);
	tn_reply_ok(x->r);
}

/* ------------------------------------------------------------------ */
/* Table                                                                */
/* ------------------------------------------------------------------ */

#define TX	(TN_CMD_NOSCRIPT | TN_CMD_LOADING | TN_CMD_STALE)
#define TX_FAST (TX | TN_CMD_FAST | TN_CMD_ALLOW_BUSY)

const struct tn_cmd tn_cmds_multi[] = {
    {"multi", 1, TX_FAST, 0, 0, 0, cmd_multi, NULL, "fast transaction", NULL,
     "Mark the start of a transaction block", "1.2.0", "transactions"},
    {"exec", 1, TX, 0, 0, 0, cmd_exec, NULL, "slow transaction", NULL,
     "Execute all commands issued after MULTI", "1.2.0", "transactions"},
    {"discard", 1, TX_FAST, 0, 0, 0, cmd_discard, NULL, "fast transaction",
     NULL, "Discard all commands issued after MULTI", "2.0.0", "transactions"},
    {"watch", -2, TX_FAST, 1, -1, 1, cmd_watch, NULL, "fast transaction", NULL,
     "Watch the given keys to determine execution of the MULTI/EXEC "
     "block",
     "2.2.0", "transactions"},
    {"unwatch", 1, TX_FAST, 0, 0, 0, cmd_unwatch, NULL, "fast transaction",
     NULL, "Forget about all watched keys", "2.2.0", "transactions"},
    {0},
};
