/*
 * t_keys.c - commands on keys of any type: DEL, EXISTS, TYPE, KEYS, SCAN,
 * RANDOMKEY, RENAME, COPY, the EXPIRE/TTL family and OBJECT.  KEYS, SCAN and
 * RANDOMKEY walk the stripes themselves, holding one lock at a time.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/daemon.h"
#include "store/cmds.h"
#include "util/util.h"

#define TN_ERR_NOKEY "ERR no such key"
#define TN_ERR_RESTARTING                                                      \
	"ERR the store is restarting after a process died while writing; "     \
	"retry shortly"
/* Redis' OBJ_SHARED_REFCOUNT: what REFCOUNT shows for shared integers. */
#define TN_SHARED_REFCOUNT 2147483647LL
#define TN_SHARED_INTEGERS 10000
/* Redis' OBJ_ENCODING_EMBSTR_SIZE_LIMIT */
#define TN_EMBSTR_MAX 44
/* RANDOMKEY: weighted picks before falling back to a walk in order. */
#define TN_RANDOMKEY_TRIES 100

/*
 * A read that counts keyspace hits and misses but leaves the entry's
 * access time alone: Redis' LOOKUP_NOTOUCH (EXISTS, TYPE, TTL, OBJECT).
 */
static struct kentry_shm *lookup_notouch(struct tn_ctx *x,
					 const struct tn_key *k)
{
	struct kentry_shm *e = tn_db_find(x, k);
	struct proc_shm *p = tn_proc(TN_PROC_SHARD0 + x->shard);

	if (e) {
		p->hits++;
	} else {
		p->misses++;
		/* OBJECT looks keys up as Redis' LOOKUP_NONOTIFY */
		if (!x->cmd || strncmp(x->cmd->name, "object|", 7) != 0)
			tn_notify(x, TN_NOTIFY_KEY_MISS, "keymiss", k);
	}
	return e;
}

static bool key_is(const struct tn_key *k, const struct kentry_shm *e)
{
	return k->len == e->keylen && memcmp(k->p, e->key, k->len) == 0;
}

static const char *type_name(const struct kentry_shm *e)
{
	if (!e)
		return "none";
	return e->type == TN_T_SET ? "set" : "string";
}

/* ------------------------------------------------------------------ */
/* DEL UNLINK EXISTS TOUCH TYPE                                         */
/* ------------------------------------------------------------------ */

static void cmd_del(struct tn_ctx *x)
{
	long long n = 0;
	int i;

	for (i = 1; i < x->argc; i++) {
		struct tn_key k = tn_key_arg(x, i);

		if (tn_db_delete(x, &k)) {
			n++;
			tn_effect_del(&k);
			tn_notify(x, TN_NOTIFY_GENERIC, "del", &k);
		}
	}
	if (n)
		tn_db_dirty(x, (uint64_t)n);
	tn_reply_int(x->r, n);
}

static void cmd_exists(struct tn_ctx *x)
{
	long long n = 0;
	int i;

	/* a key named twice counts twice, as in Redis */
	for (i = 1; i < x->argc; i++) {
		struct tn_key k = tn_key_arg(x, i);

		if (lookup_notouch(x, &k))
			n++;
	}
	tn_reply_int(x->r, n);
}

static void cmd_touch(struct tn_ctx *x)
{
	long long n = 0;
	int i;

	for (i = 1; i < x->argc; i++) {
		struct tn_key k = tn_key_arg(x, i);

		if (tn_db_read(x, &k))
			n++;
	}
	tn_reply_int(x->r, n);
}

static void cmd_type(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);

	tn_reply_status(x->r, type_name(lookup_notouch(x, &k)));
}

/* ------------------------------------------------------------------ */
/* KEYS                                                                 */
/* ------------------------------------------------------------------ */

struct keys_walk {
	struct tn_reply *r;
	const char *pat;
	size_t plen;
	bool all;
	int64_t now;
	long long n;
};

static void keys_visit(void *arg, tn_off off)
{
	struct keys_walk *w = arg;
	struct kentry_shm *e = tn_ptr(off);

	/* expired keys stay for active expiry: deleting here would change
	 * the dict under the walk */
	if (tn_kentry_expired(e, w->now))
		return;
	if (!w->all &&
	    !tn_glob_match(w->pat, w->plen, e->key, e->keylen, false))
		return;
	tn_reply_bulk(w->r, e->key, e->keylen);
	w->n++;
}

static void cmd_keys(struct tn_ctx *x)
{
	struct keys_walk w = {.r = x->r,
			      .pat = x->argv[1].p,
			      .plen = x->argv[1].len,
			      .now = x->now_ms};
	size_t mark = tn_reply_defer(x->r);
	uint32_t i;

	w.all = w.plen == 1 && w.pat[0] == '*';
	for (i = 0; i < tn_seg->nstripes; i++) {
		struct stripe_shm *s = tn_stripe(i);

		if (!tn_stripe_walk_lock(s, false)) {
			/* nothing after the mark has been sent yet */
			x->r->out->len = mark;
			tn_reply_error(x->r, TN_ERR_RESTARTING);
			return;
		}
		tn_dict_foreach(&s->keys, keys_visit, &w);
		tn_stripe_walk_unlock(s);
	}
	tn_reply_defer_set(x->r, mark, '*', w.n);
}

/* ------------------------------------------------------------------ */
/* SCAN                                                                 */
/* ------------------------------------------------------------------ */

/*
 * The cursor holds the stripe index in its low log2(nstripes) bits and
 * that stripe's dict cursor (tn_dict_scan) above them.  Stripes are
 * walked in order and a key never changes stripe, so the dict scan's
 * guarantee (every key present throughout is returned at least once,
 * across resizes) holds for the whole keyspace.
 */

struct scan_acc {
	char *buf; /* matching keys: uint32_t length, then the bytes */
	size_t len, cap;
	long long n;	       /* keys in buf */
	unsigned long visited; /* keys seen, filtered or not (COUNT) */
	bool oom;
	const char *pat;
	size_t plen;
	const char *type; /* NULL: any */
	size_t tlen;
	int64_t now;
};

static void scan_keep(struct scan_acc *a, const char *p, uint32_t len)
{
	size_t need = a->len + sizeof(len) + len;

	if (a->oom)
		return;
	if (need > a->cap) {
		size_t cap = TN_MAX(need, a->cap * 2);
		char *n = realloc(a->buf, TN_MAX(cap, (size_t)256));

		if (!n) {
			a->oom = true;
			return;
		}
		a->buf = n;
		a->cap = TN_MAX(cap, (size_t)256);
	}
	memcpy(a->buf + a->len, &len, sizeof(len));
	memcpy(a->buf + a->len + sizeof(len), p, len);
	a->len = need;
	a->n++;
}

static void scan_visit(void *arg, tn_off off)
{
	struct scan_acc *a = arg;
	struct kentry_shm *e = tn_ptr(off);

	a->visited++;
	if (tn_kentry_expired(e, a->now))
		return;
	if (a->type) {
		const char *t = type_name(e);

		if (strlen(t) != a->tlen || strncasecmp(t, a->type, a->tlen))
			return;
	}
	if (a->pat && !tn_glob_match(a->pat, a->plen, e->key, e->keylen, false))
		return;
	scan_keep(a, e->key, e->keylen);
}

/* Redis' parseScanCursorOrReply: strtoul, no leading space, all used. */
static bool parse_cursor(struct tn_ctx *x, const struct tn_arg *a,
			 unsigned long *out)
{
	char stack[64], *s = stack, *end;
	bool ok;

	if (a->len >= sizeof(stack)) {
		s = malloc(a->len + 1);
		if (!s) {
			tn_reply_error(x->r, TN_ERR_OOM);
			return false;
		}
	}
	memcpy(s, a->p, a->len);
	s[a->len] = '\0';
	errno = 0;
	*out = strtoul(s, &end, 10);
	ok = !isspace((unsigned char)s[0]) && *end == '\0' && errno != ERANGE;
	if (s != stack)
		free(s);
	if (!ok)
		tn_reply_error(x->r, "ERR invalid cursor");
	return ok;
}

static void cmd_scan(struct tn_ctx *x)
{
	struct scan_acc a = {.now = x->now_ms};
	unsigned long cursor;
	long long count = 10, iters;
	uint32_t nstripes = tn_seg->nstripes, sbits, si;
	uint64_t dc;
	size_t off;
	int i;

	if (!parse_cursor(x, &x->argv[1], &cursor))
		return;
	for (i = 2; i < x->argc; i += 2) {
		const struct tn_arg *o = &x->argv[i];

		if (x->argc - i < 2) {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
		if (tn_arg_is(o, "count")) {
			if (!tn_arg_ll(x, i + 1, &count, NULL))
				return;
			if (count < 1) {
				tn_reply_error(x->r, TN_ERR_SYNTAX);
				return;
			}
		} else if (tn_arg_is(o, "match")) {
			a.pat = x->argv[i + 1].p;
			a.plen = x->argv[i + 1].len;
			/* "*" matches everything: skip the matcher */
			if (a.plen == 1 && a.pat[0] == '*')
				a.pat = NULL;
		} else if (tn_arg_is(o, "type")) {
			a.type = x->argv[i + 1].p;
			a.tlen = x->argv[i + 1].len;
		} else {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
	}

	sbits = (uint32_t)__builtin_ctz(nstripes);
	si = (uint32_t)(cursor & (nstripes - 1));
	dc = (uint64_t)cursor >> sbits;
	/* as Redis: at most COUNT*10 dict steps, so sparse tables end */
	iters = count > LLONG_MAX / 10 ? LLONG_MAX : count * 10;
	for (;;) {
		struct stripe_shm *s = tn_stripe(si);

		if (!tn_stripe_walk_lock(s, false)) {
			free(a.buf);
			tn_reply_error(x->r, TN_ERR_RESTARTING);
			return;
		}
		do {
			dc = tn_dict_scan(&s->keys, dc, scan_visit, &a);
			iters--;
		} while (dc && iters > 0 &&
			 a.visited < (unsigned long long)count);
		tn_stripe_walk_unlock(s);
		if (!dc && ++si == nstripes) {
			cursor = 0;
			break;
		}
		if (iters <= 0 || a.visited >= (unsigned long long)count) {
			cursor = (unsigned long)(dc << sbits | si);
			break;
		}
	}
	if (a.oom) {
		free(a.buf);
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}

	{
		char num[24];
		int len = snprintf(num, sizeof(num), "%lu", cursor);

		tn_reply_array(x->r, 2);
		tn_reply_bulk(x->r, num, (size_t)len);
	}
	tn_reply_array(x->r, a.n);
	for (off = 0; off < a.len;) {
		uint32_t len;

		memcpy(&len, a.buf + off, sizeof(len));
		tn_reply_bulk(x->r, a.buf + off + sizeof(len), len);
		off += sizeof(len) + len;
	}
	free(a.buf);
}

/* ------------------------------------------------------------------ */
/* RANDOMKEY                                                            */
/* ------------------------------------------------------------------ */

/* Keys in a stripe, read without its lock: only a weight for a pick. */
static uint64_t stripe_size_hint(struct stripe_shm *s)
{
	return __atomic_load_n(&s->keys.used[0], __ATOMIC_RELAXED) +
	       __atomic_load_n(&s->keys.used[1], __ATOMIC_RELAXED);
}

/*
 * Reply with a live key of stripe s (locked) picked at random, deleting
 * expired picks.  Returns 1 when replied, 0 when the stripe holds no live
 * key we found, -1 when the store is poisoned.
 */
static int random_from(struct tn_ctx *x, struct stripe_shm *s, int tries)
{
	while (tries-- > 0) {
		struct kentry_shm *e = tn_ptr(tn_dict_random(&s->keys));
		struct tn_key k;

		if (!e)
			return 0;
		if (!tn_kentry_expired(e, x->now_ms)) {
			tn_reply_bulk(x->r, e->key, e->keylen);
			return 1;
		}
		k = tn_key_of(e->key, e->keylen);
		tn_db_find(x, &k); /* expires it */
	}
	return 0;
}

struct live_find {
	int64_t now;
	struct kentry_shm *e;
};

static void live_visit(void *arg, tn_off off)
{
	struct live_find *f = arg;
	struct kentry_shm *e = tn_ptr(off);

	if (!f->e && !tn_kentry_expired(e, f->now))
		f->e = e;
}

static void cmd_randomkey(struct tn_ctx *x)
{
	uint32_t nstripes = tn_seg->nstripes, i, first;
	int tries;

	/* Pick a stripe weighted by its size, then a key in it.  Each pick
	 * of an expired key deletes it, so this makes progress; the walk
	 * below bounds the time when nearly everything has expired. */
	for (tries = 0; tries < TN_RANDOMKEY_TRIES; tries++) {
		uint64_t total = 0, r;
		struct stripe_shm *s = NULL;
		int got;

		for (i = 0; i < nstripes; i++)
			total += stripe_size_hint(tn_stripe(i));
		if (!total) {
			tn_reply_null(x->r);
			return;
		}
		r = tn_rand64() % total;
		for (i = 0; i < nstripes; i++) {
			uint64_t n = stripe_size_hint(tn_stripe(i));

			if (r < n) {
				s = tn_stripe(i);
				break;
			}
			r -= n;
		}
		if (!s)
			continue; /* sizes changed under us */
		/* the pick may take a rehash step or expire a key */
		if (!tn_stripe_walk_lock(s, true))
			goto poisoned;
		got = random_from(x, s, 1);
		tn_stripe_walk_unlock(s);
		if (got)
			return;
	}
	/* every stripe once, from a random one on */
	first = (uint32_t)tn_rand64();
	for (i = 0; i < nstripes; i++) {
		struct stripe_shm *s = tn_stripe((first + i) & (nstripes - 1));
		struct live_find f = {.now = x->now_ms};

		if (!stripe_size_hint(s))
			continue;
		if (!tn_stripe_walk_lock(s, false))
			goto poisoned;
		tn_dict_foreach(&s->keys, live_visit, &f);
		if (f.e)
			tn_reply_bulk(x->r, f.e->key, f.e->keylen);
		tn_stripe_walk_unlock(s);
		if (f.e)
			return;
	}
	tn_reply_null(x->r);
	return;
poisoned:
	tn_reply_error(x->r, TN_ERR_RESTARTING);
}

/* ------------------------------------------------------------------ */
/* RENAME RENAMENX                                                      */
/* ------------------------------------------------------------------ */

/*
 * Within one stripe the value can change hands: a new entry under the
 * new name takes the value bytes (a set's object offset included) and
 * the TTL, and the old entry is freed without its value.
 */
static struct kentry_shm *move_in_stripe(struct tn_ctx *x,
					 const struct tn_key *src,
					 struct kentry_shm *e,
					 const struct tn_key *dst)
{
	struct stripe_shm *s = src->s;
	struct kentry_shm *n = tn_db_add(x, dst, e->type, e->vlen);
	int64_t exp = e->expire_ms;

	if (!n)
		return NULL;
	n->enc = e->enc;
	memcpy(tn_kentry_val(n), tn_kentry_val(e), e->vlen);
	/* freeing e's TTL slot first leaves room for n's: cannot fail */
	if (exp >= 0) {
		tn_db_set_expire(s, e, -1);
		tn_db_set_expire(s, n, exp);
	}
	tn_dict_unlink(&s->keys, tn_stripe_cache(s), src->p, src->len, src->h);
	tn_free(tn_off_of(e));
	return n;
}

/*
 * Put e's value under dst (RENAME may move it within a stripe, `move`;
 * else a deep copy) in place of `old` (NULL: none).  The destination
 * leaves the dict but is kept until the new entry exists, so an OOM
 * (NULL) leaves both keys as they were; no cache: no shrink, so putting
 * it back cannot fail.
 */
static struct kentry_shm *place_at(struct tn_ctx *x, const struct tn_key *src,
				   struct kentry_shm *e,
				   const struct tn_key *dst,
				   struct kentry_shm *old, bool move)
{
	struct kentry_shm *n;

	if (old)
		tn_dict_unlink(&dst->s->keys, NULL, dst->p, dst->len, dst->h);
	if (move && src->s == dst->s)
		n = move_in_stripe(x, src, e, dst);
	else
		n = tn_db_copy_entry(x, dst, e);
	if (!n) {
		if (old)
			tn_dict_add(&dst->s->keys, tn_stripe_cache(dst->s),
				    tn_off_of(old), dst->h);
		return NULL;
	}
	if (old) {
		tn_db_set_expire(dst->s, old, -1);
		tn_db_free_value(old);
		tn_free(tn_off_of(old));
	}
	return n;
}

static void rename_generic(struct tn_ctx *x, bool nx)
{
	struct tn_key src = tn_key_arg(x, 1), dst = tn_key_arg(x, 2);
	struct kentry_shm *e = tn_db_find(x, &src), *old, *n;
	uint16_t lru;

	if (!e) {
		tn_reply_error(x->r, TN_ERR_NOKEY);
		return;
	}
	if (key_is(&dst, e)) {
		if (nx)
			tn_reply_int(x->r, 0);
		else
			tn_reply_ok(x->r);
		return;
	}
	old = tn_db_find(x, &dst);
	if (old && nx) {
		tn_reply_int(x->r, 0);
		return;
	}
	lru = e->lru;
	n = place_at(x, &src, e, &dst, old, true);
	if (!n) {
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	n->lru = lru;
	if (src.s != dst.s)
		tn_db_delete_entry(x, &src, e);
	tn_db_dirty(x, 1);
	tn_effect_del(&src);
	tn_effect_key(&dst);
	tn_notify(x, TN_NOTIFY_GENERIC, "rename_from", &src);
	tn_notify(x, TN_NOTIFY_GENERIC, "rename_to", &dst);
	if (nx)
		tn_reply_int(x->r, 1);
	else
		tn_reply_ok(x->r);
}

static void cmd_rename(struct tn_ctx *x)
{
	rename_generic(x, false);
}

static void cmd_renamenx(struct tn_ctx *x)
{
	rename_generic(x, true);
}

/*
 * COPY source destination [DB destination-db] [REPLACE], as Redis 6.2:
 * value and TTL copied, 1; 0 when there is no source, or a destination
 * and no REPLACE.  One database here: DB takes 0 only.
 */
static void cmd_copy(struct tn_ctx *x)
{
	struct tn_key src = tn_key_arg(x, 1), dst = tn_key_arg(x, 2);
	struct kentry_shm *e, *old;
	bool replace = false;
	long long db;
	int i;

	for (i = 3; i < x->argc; i++) {
		if (tn_arg_is(&x->argv[i], "replace")) {
			replace = true;
		} else if (tn_arg_is(&x->argv[i], "db") && i + 1 < x->argc) {
			if (!tn_arg_ll(x, ++i, &db, NULL))
				return;
			if (db < INT_MIN || db > INT_MAX) {
				tn_reply_error(x->r,
					       "ERR value is out of range, value "
					       "must between -2147483648 and "
					       "2147483647");
				return;
			}
			if (db != 0) {
				tn_reply_error(x->r,
					       "ERR DB index is out of range");
				return;
			}
		} else {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
	}
	if (src.len == dst.len && memcmp(src.p, dst.p, src.len) == 0) {
		tn_reply_error(x->r,
			       "ERR source and destination objects are the same");
		return;
	}
	e = tn_db_find(x, &src);
	if (!e) {
		tn_reply_int(x->r, 0);
		return;
	}
	old = tn_db_find(x, &dst);
	if (old && !replace) {
		tn_reply_int(x->r, 0);
		return;
	}
	if (!place_at(x, &src, e, &dst, old, false)) {
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	tn_db_dirty(x, 1);
	tn_effect_key(&dst);
	tn_notify(x, TN_NOTIFY_GENERIC, "copy_to", &dst);
	tn_reply_int(x->r, 1);
}

/* ------------------------------------------------------------------ */
/* EXPIRE PEXPIRE EXPIREAT PEXPIREAT                                    */
/* ------------------------------------------------------------------ */

enum {
	EXP_NX = 1 << 0,
	EXP_XX = 1 << 1,
	EXP_GT = 1 << 2,
	EXP_LT = 1 << 3,
};

static bool parse_expire_flags(struct tn_ctx *x, int *flags)
{
	int i;

	for (i = 3; i < x->argc; i++) {
		const struct tn_arg *a = &x->argv[i];

		if (tn_arg_is(a, "nx")) {
			*flags |= EXP_NX;
		} else if (tn_arg_is(a, "xx")) {
			*flags |= EXP_XX;
		} else if (tn_arg_is(a, "gt")) {
			*flags |= EXP_GT;
		} else if (tn_arg_is(a, "lt")) {
			*flags |= EXP_LT;
		} else {
			/* Redis prints it as a C string: up to a NUL */
			tn_reply_errorf(x->r, "ERR Unsupported option %.*s",
					(int)strnlen(a->p, a->len), a->p);
			return false;
		}
	}
	if ((*flags & EXP_NX) && (*flags & (EXP_XX | EXP_GT | EXP_LT))) {
		tn_reply_error(x->r, "ERR NX and XX, GT or LT options at the "
				     "same time are not compatible");
		return false;
	}
	if ((*flags & EXP_GT) && (*flags & EXP_LT)) {
		tn_reply_error(x->r, "ERR GT and LT options at the same time "
				     "are not compatible");
		return false;
	}
	return true;
}

static void expire_generic(struct tn_ctx *x, int64_t base, bool seconds)
{
	struct tn_key k;
	struct kentry_shm *e;
	long long when;
	int64_t cur;
	int flags = 0;

	if (!parse_expire_flags(x, &flags) || !tn_arg_ll(x, 2, &when, NULL))
		return;
	if (seconds) {
		if (when > LLONG_MAX / 1000 || when < LLONG_MIN / 1000)
			goto bad_time;
		when *= 1000;
	}
	if (when > LLONG_MAX - base)
		goto bad_time;
	when += base;

	k = tn_key_arg(x, 1);
	e = tn_db_find(x, &k);
	if (!e) {
		tn_reply_int(x->r, 0);
		return;
	}
	cur = e->expire_ms;
	if (((flags & EXP_NX) && cur != -1) ||
	    ((flags & EXP_XX) && cur == -1) ||
	    /* no TTL is an infinite one: never less than a new one */
	    ((flags & EXP_GT) && (cur == -1 || when <= cur)) ||
	    ((flags & EXP_LT) && cur != -1 && when >= cur)) {
		tn_reply_int(x->r, 0);
		return;
	}
	if (when <= x->now_ms) {
		tn_db_delete_entry(x, &k, e);
		tn_effect_del(&k);
		tn_notify(x, TN_NOTIFY_GENERIC, "del", &k);
	} else if (tn_db_set_expire(k.s, e, when) < 0) {
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	} else {
		tn_effect_pexpireat(&k, when);
		tn_notify(x, TN_NOTIFY_GENERIC, "expire", &k);
	}
	tn_db_dirty(x, 1);
	tn_reply_int(x->r, 1);
	return;
bad_time:
	tn_reply_errorf(x->r, "ERR invalid expire time in '%s' command",
			tn_cmd_fullname(x->cmd));
}

static void cmd_expire(struct tn_ctx *x)
{
	expire_generic(x, x->now_ms, true);
}

static void cmd_pexpire(struct tn_ctx *x)
{
	expire_generic(x, x->now_ms, false);
}

static void cmd_expireat(struct tn_ctx *x)
{
	expire_generic(x, 0, true);
}

static void cmd_pexpireat(struct tn_ctx *x)
{
	expire_generic(x, 0, false);
}

/* ------------------------------------------------------------------ */
/* TTL PTTL EXPIRETIME PEXPIRETIME PERSIST                              */
/* ------------------------------------------------------------------ */

static void ttl_generic(struct tn_ctx *x, bool ms, bool absolute)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = lookup_notouch(x, &k);
	int64_t t;

	if (!e) {
		tn_reply_int(x->r, -2);
		return;
	}
	if (e->expire_ms < 0) {
		tn_reply_int(x->r, -1);
		return;
	}
	t = absolute ? e->expire_ms : e->expire_ms - x->now_ms;
	if (t < 0)
		t = 0;
	/* rounded to the nearest second without overflowing near
	 * LLONG_MAX (Redis' (t + 500) / 1000) */
	tn_reply_int(x->r, ms ? t : t / 1000 + (t % 1000 >= 500));
}

static void cmd_ttl(struct tn_ctx *x)
{
	ttl_generic(x, false, false);
}

static void cmd_pttl(struct tn_ctx *x)
{
	ttl_generic(x, true, false);
}

static void cmd_expiretime(struct tn_ctx *x)
{
	ttl_generic(x, false, true);
}

static void cmd_pexpiretime(struct tn_ctx *x)
{
	ttl_generic(x, true, true);
}

static void cmd_persist(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_find(x, &k);

	if (!e || e->expire_ms < 0) {
		tn_reply_int(x->r, 0);
		return;
	}
	tn_db_set_expire(k.s, e, -1);
	tn_db_dirty(x, 1);
	tn_effect_persist(&k);
	tn_notify(x, TN_NOTIFY_GENERIC, "persist", &k);
	tn_reply_int(x->r, 1);
}

/* ------------------------------------------------------------------ */
/* OBJECT                                                               */
/* ------------------------------------------------------------------ */

/* A string as Redis would have encoded it after SET (tryObjectEncoding);
 * *iv gets its value when it is an "int". */
static const char *str_encoding(struct kentry_shm *e, long long *iv)
{
	if (e->enc == TN_E_RAWSTR)
		return "raw";
	if (e->enc != TN_E_NOINTSTR && e->vlen <= 20 &&
	    tn_str2ll(tn_kentry_val(e), e->vlen, iv))
		return "int";
	return e->vlen <= TN_EMBSTR_MAX ? "embstr" : "raw";
}

static const char *encoding_name(struct kentry_shm *e)
{
	long long iv;

	if (e->type == TN_T_SET)
		return e->enc == TN_E_INTSET ? "intset" : "hashtable";
	return str_encoding(e, &iv);
}

/* OBJECT's key lookup: nil reply when missing. */
static struct kentry_shm *object_lookup(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 2);
	struct kentry_shm *e = lookup_notouch(x, &k);

	if (!e)
		tn_reply_null(x->r);
	return e;
}

static void cmd_object_encoding(struct tn_ctx *x)
{
	struct kentry_shm *e = object_lookup(x);

	if (e)
		tn_reply_bulkstr(x->r, encoding_name(e));
}

static void cmd_object_refcount(struct tn_ctx *x)
{
	struct kentry_shm *e = object_lookup(x);
	long long iv;

	if (!e)
		return;
	/* Redis shares the objects of small integers (no maxmemory-policy
	 * here turns that off) and shows them with this refcount */
	if (e->type == TN_T_STRING && !strcmp(str_encoding(e, &iv), "int") &&
	    iv >= 0 && iv < TN_SHARED_INTEGERS)
		tn_reply_int(x->r, TN_SHARED_REFCOUNT);
	else
		tn_reply_int(x->r, 1);
}

static void cmd_object_idletime(struct tn_ctx *x)
{
	struct kentry_shm *e = object_lookup(x);

	/* 16-bit seconds clock: idle times wrap after ~18 hours */
	if (e)
		tn_reply_int(x->r,
			     (uint16_t)(tn_db_lru_clock(x->now_ms) - e->lru));
}

static void cmd_object_freq(struct tn_ctx *x)
{
	/* no LFU maxmemory-policy exists here, so like Redis under an LRU
	 * or no-eviction policy */
	if (object_lookup(x))
		tn_reply_error(x->r,
			       "ERR An LFU maxmemory policy is not selected, "
			       "access frequency not tracked. Please note that "
			       "when switching between policies at runtime LRU "
			       "and LFU data will take some time to adjust.");
}

static void cmd_object_help(struct tn_ctx *x)
{
	/* Redis' text, line for line */
	/* clang-format off */
	static const char *const help[] = {
		"ENCODING <key>",
		"    Return the kind of internal representation used in order to store the value",
		"    associated with a <key>.",
		"FREQ <key>",
		"    Return the access frequency index of the <key>. The returned integer is",
		"    proportional to the logarithm of the recent access frequency of the key.",
		"IDLETIME <key>",
		"    Return the idle time of the <key>, that is the approximated number of",
		"    seconds elapsed since the last access to the key.",
		"REFCOUNT <key>",
		"    Return the number of references of the value associated with the specified",
		"    <key>.",
		NULL,
	};
	/* clang-format on */

	tn_reply_help(x, help);
}

/* Only reached when dispatch found no subcommand to run. */
static void cmd_object(struct tn_ctx *x)
{
	tn_reply_error(x->r, TN_ERR_SYNTAX);
}

static const struct tn_cmd object_subs[] = {
    {"object|encoding", 3, TN_CMD_READONLY, 2, 2, 1, cmd_object_encoding, NULL,
     "keyspace read slow", NULL,
     "Inspect the internal encoding of a Redis object", "2.2.3", "generic"},
    {"object|freq", 3, TN_CMD_READONLY, 2, 2, 1, cmd_object_freq, NULL,
     "keyspace read slow", NULL,
     "Get the logarithmic access frequency counter of a Redis object", "4.0.0",
     "generic"},
    {"object|help", 2, TN_CMD_LOADING | TN_CMD_STALE, 0, 0, 0, cmd_object_help,
     NULL, "keyspace slow", NULL,
     "Show helpful text about the different subcommands", "6.2.0", "generic"},
    {"object|idletime", 3, TN_CMD_READONLY, 2, 2, 1, cmd_object_idletime, NULL,
     "keyspace read slow", NULL,
     "Get the time since a Redis object was last accessed", "2.2.3", "generic"},
    {"object|refcount", 3, TN_CMD_READONLY, 2, 2, 1, cmd_object_refcount, NULL,
     "keyspace read slow", NULL,
     "Get the number of references to the value of the key", "2.2.3",
     "generic"},
    {0},
};

#define KW  (TN_CMD_WRITE)
#define KWF (TN_CMD_WRITE | TN_CMD_FAST)
#define KRF (TN_CMD_READONLY | TN_CMD_FAST)

const struct tn_cmd tn_cmds_keys[] = {
    {"del", -2, KW, 1, -1, 1, cmd_del, NULL, "keyspace write slow", NULL,
     "Delete a key", "1.0.0", "generic"},
    {"unlink", -2, KWF, 1, -1, 1, cmd_del, NULL, "keyspace write fast", NULL,
     "Delete a key asynchronously in another thread. Otherwise it is "
     "just as DEL, but non blocking.",
     "4.0.0", "generic"},
    {"exists", -2, KRF, 1, -1, 1, cmd_exists, NULL, "keyspace read fast", NULL,
     "Determine if a key exists", "1.0.0", "generic"},
    {"touch", -2, KRF, 1, -1, 1, cmd_touch, NULL, "keyspace read fast", NULL,
     "Alters the last access time of a key(s). Returns the number of "
     "existing keys specified.",
     "3.2.1", "generic"},
    {"type", 2, KRF, 1, 1, 1, cmd_type, NULL, "keyspace read fast", NULL,
     "Determine the type stored at key", "1.0.0", "generic"},
    {"keys", 2, TN_CMD_READONLY | TN_CMD_ALLSTRIPES, 0, 0, 0, cmd_keys, NULL,
     "keyspace read slow dangerous", NULL,
     "Find all keys matching the given pattern", "1.0.0", "generic"},
    {"scan", -2, TN_CMD_READONLY | TN_CMD_RANDOM | TN_CMD_ALLSTRIPES, 0, 0, 0,
     cmd_scan, NULL, "keyspace read slow", NULL,
     "Incrementally iterate the keys space", "2.8.0", "generic"},
    {"randomkey", 1, TN_CMD_READONLY | TN_CMD_RANDOM | TN_CMD_ALLSTRIPES, 0, 0,
     0, cmd_randomkey, NULL, "keyspace read slow", NULL,
     "Return a random key from the keyspace", "1.0.0", "generic"},
    {"rename", 3, KW, 1, 2, 1, cmd_rename, NULL, "keyspace write slow", NULL,
     "Rename a key", "1.0.0", "generic"},
    {"renamenx", 3, KWF, 1, 2, 1, cmd_renamenx, NULL, "keyspace write fast",
     NULL, "Rename a key, only if the new key does not exist", "1.0.0",
     "generic"},
    {"copy", -3, KW | TN_CMD_DENYOOM, 1, 2, 1, cmd_copy, NULL,
     "keyspace write slow", NULL, "Copy a key", "6.2.0", "generic"},
    {"expire", -3, KWF, 1, 1, 1, cmd_expire, NULL, "keyspace write fast", NULL,
     "Set a key's time to live in seconds", "1.0.0", "generic"},
    {"pexpire", -3, KWF, 1, 1, 1, cmd_pexpire, NULL, "keyspace write fast",
     NULL, "Set a key's time to live in milliseconds", "2.6.0", "generic"},
    {"expireat", -3, KWF, 1, 1, 1, cmd_expireat, NULL, "keyspace write fast",
     NULL, "Set the expiration for a key as a UNIX timestamp", "1.2.0",
     "generic"},
    {"pexpireat", -3, KWF, 1, 1, 1, cmd_pexpireat, NULL, "keyspace write fast",
     NULL,
     "Set the expiration for a key as a UNIX timestamp specified in "
     "milliseconds",
     "2.6.0", "generic"},
    {"ttl", 2, KRF, 1, 1, 1, cmd_ttl, NULL, "keyspace read fast", NULL,
     "Get the time to live for a key in seconds", "1.0.0", "generic"},
    {"pttl", 2, KRF, 1, 1, 1, cmd_pttl, NULL, "keyspace read fast", NULL,
     "Get the time to live for a key in milliseconds", "2.6.0", "generic"},
    {"expiretime", 2, KRF, 1, 1, 1, cmd_expiretime, NULL, "keyspace read fast",
     NULL, "Get the expiration Unix timestamp for a key", "7.0.0", "generic"},
    {"pexpiretime", 2, KRF, 1, 1, 1, cmd_pexpiretime, NULL,
     "keyspace read fast", NULL,
     "Get the expiration Unix timestamp for a key in milliseconds", "7.0.0",
     "generic"},
    {"persist", 2, KWF, 1, 1, 1, cmd_persist, NULL, "keyspace write fast", NULL,
     "Remove the expiration from a key", "2.2.0", "generic"},
    {"object", -2, 0, 0, 0, 0, cmd_object, NULL, "slow", object_subs,
     "A container for object introspection commands", "2.2.3", "generic"},
    {0},
};
