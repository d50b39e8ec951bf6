/*
 * t_set.c - set commands.  A set is an intset (sorted int64 array) while
 * its members are all integers and few, then a dict of member_shm; only
 * a set built anew (STORE results, survivors of a big SPOP) can be an
 * intset again, as in Redis 7.0.  Missing keys read as empty sets.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "store/cmds.h"
#include "util/util.h"

/* Redis' thresholds between its SPOP / SRANDMEMBER strategies. */
#define SPOP_MOVE_STRATEGY_MUL 5
#define SRANDMEMBER_SUB_STRATEGY_MUL 3
/* Redis caps intsets at 1G entries whatever the config says. */
#define INTSET_MAX_ENTRIES (1LL << 30)
#define SSCAN_DEFAULT_COUNT 10
#define SETS_ON_STACK 16
#define SCAN_ON_STACK 256

#define ERR_POSITIVE "ERR value is out of range, must be positive"

/* ------------------------------------------------------------------ */
/* Randomness                                                           */
/* ------------------------------------------------------------------ */

static inline uint64_t set_rand_below(uint64_t n)
{
	return tn_rand64() % n;
}

/* ------------------------------------------------------------------ */
/* Intsets                                                              */
/* ------------------------------------------------------------------ */

static size_t intset_bytes(uint64_t cap)
{
	return sizeof(struct intset_shm) + cap * sizeof(int64_t);
}

/* The capacity an allocation really has: slab classes round up. */
static uint32_t intset_cap_of(tn_off off)
{
	size_t n = (tn_alloc_usable(off) - sizeof(struct intset_shm)) /
		   sizeof(int64_t);

	return (uint32_t)TN_MIN(n, (size_t)UINT32_MAX);
}

bool tn_intset_find(const struct intset_shm *is, int64_t v, uint32_t *pos)
{
	uint32_t lo = 0, hi = is ? is->count : 0, mid;

	/* Growing ids are the common case: appends skip the search. */
	if (hi && v > is->v[hi - 1]) {
		lo = hi;
	} else {
		while (lo < hi) {
			mid = lo + (hi - lo) / 2;
			if (is->v[mid] < v)
				lo = mid + 1;
			else
				hi = mid;
		}
	}
	if (pos)
		*pos = lo;
	return is && lo < is->count && is->v[lo] == v;
}

/* Make room for `need` values; may move the intset. */
static int intset_reserve(struct slab_cache_shm *c, tn_off *off, uint64_t need)
{
	struct intset_shm *is = tn_ptr(*off);
	uint64_t cap;
	tn_off n;

	if (is && is->cap >= need)
		return 0;
	cap = is ? (uint64_t)is->cap * 2 : 4;
	if (cap < need)
		cap = need;
	n = tn_realloc(c, *off, intset_bytes(cap));
	if (!n)
		return -ENOMEM;
	is = tn_ptr(n);
	if (!*off)
		is->count = 0;
	is->cap = intset_cap_of(n);
	*off = n;
	return 0;
}

/* Give memory back once three quarters are unused; failing is harmless. */
static void intset_shrink(struct slab_cache_shm *c, tn_off *off)
{
	struct intset_shm *is = tn_ptr(*off);
	tn_off n;

	if (is->cap <= 16 || (uint64_t)is->count * 4 > is->cap)
		return;
	n = tn_realloc(c, *off, intset_bytes(TN_MAX(is->count * 2, 8u)));
	if (!n)
		return;
	is = tn_ptr(n);
	is->cap = intset_cap_of(n);
	*off = n;
}

int tn_intset_add(struct slab_cache_shm *c, tn_off *off, int64_t v)
{
	struct intset_shm *is = tn_ptr(*off);
	uint32_t pos;

	if (tn_intset_find(is, v, &pos))
		return 0;
	if (intset_reserve(c, off, (is ? (uint64_t)is->count : 0) + 1) < 0)
		return -ENOMEM;
	is = tn_ptr(*off);
	memmove(&is->v[pos + 1], &is->v[pos],
		(is->count - pos) * sizeof(int64_t));
	is->v[pos] = v;
	is->count++;
	return 1;
}

static void intset_remove_at(struct slab_cache_shm *c, tn_off *off,
			     uint32_t pos)
{
	struct intset_shm *is = tn_ptr(*off);

	memmove(&is->v[pos], &is->v[pos + 1],
		(is->count - pos - 1) * sizeof(int64_t));
	is->count--;
	intset_shrink(c, off);
}

bool tn_intset_remove(struct slab_cache_shm *c, tn_off *off, int64_t v)
{
	uint32_t pos;

	if (!tn_intset_find(tn_ptr(*off), v, &pos))
		return false;
	intset_remove_at(c, off, pos);
	return true;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------ */
/* Members: one value seen as bytes, as an integer, or both             */
/* ------------------------------------------------------------------ */

/*
 * Intsets hold integers and dicts hold bytes; a member moving between
 * them is converted at most once each way, and hashed at most once.
 */
struct mem {
	const char *p; /* the bytes, when has_str */
	size_t len;
	int64_t v; /* the integer, when isint == 1 */
	int8_t isint; /* -1: not parsed yet */
	bool has_str;
	bool hashed;
	uint64_t h;
	char buf[24];
};

static inline void mem_bytes(struct mem *m, const char *p, size_t len)
{
	m->p = p;
	m->len = len;
	m->isint = -1;
	m->has_str = true;
	m->hashed = false;
}

static inline void mem_ll(struct mem *m, int64_t v)
{
	m->v = v;
	m->isint = 1;
	m->has_str = false;
	m->hashed = false;
}

static inline void mem_member(struct mem *m, const struct member_shm *ms)
{
	mem_bytes(m, ms->data, ms->len);
}

static inline bool mem_int(struct mem *m)
{
	if (m->isint < 0) {
		long long v;

		m->isint = (int8_t)tn_str2ll(m->p, m->len, &v);
		m->v = v;
	}
	return m->isint;
}

static inline void mem_str(struct mem *m)
{
	if (!m->has_str) {
		m->len = (size_t)tn_ll2str(m->buf, m->v);
		m->p = m->buf;
		m->has_str = true;
	}
}

static inline uint64_t mem_hash(struct mem *m)
{
	if (!m->hashed) {
		mem_str(m);
		m->h = tn_hash(m->p, m->len);
		m->hashed = true;
	}
	return m->h;
}

static inline void mem_reply(struct tn_reply *r, struct mem *m)
{
	if (m->has_str)
		tn_reply_bulk(r, m->p, m->len);
	else
		tn_reply_bulk_ll(r, m->v);
}

/* ------------------------------------------------------------------ */
/* Set values                                                           */
/* ------------------------------------------------------------------ */

/* A set value: an intset (off 0 while empty, in builders only) or a
 * dict_shm of member_shm. */
struct setv {
	uint8_t enc;
	tn_off off;
};

static inline struct setv sv_load(struct kentry_shm *e)
{
	struct setv sv = {.enc = e->enc};

	memcpy(&sv.off, tn_kentry_val(e), sizeof(sv.off));
	return sv;
}

static inline void sv_save(struct kentry_shm *e, const struct setv *sv)
{
	e->enc = sv->enc;
	memcpy(tn_kentry_val(e), &sv->off, sizeof(sv->off));
}

static inline struct setv sv_empty(void)
{
	return (struct setv){.enc = TN_E_INTSET, .off = 0};
}

static inline bool sv_is_intset(const struct setv *sv)
{
	return sv->enc == TN_E_INTSET;
}

static uint64_t sv_size(const struct setv *sv)
{
	if (sv_is_intset(sv)) {
		const struct intset_shm *is = tn_ptr(sv->off);

		return is ? is->count : 0;
	}
	return tn_dict_size(tn_ptr(sv->off));
}

static uint64_t intset_max(void)
{
	long long m = tn_conf->set_max_intset_entries;

	if (m < 0)
		return 0;
	return (uint64_t)TN_MIN(m, INTSET_MAX_ENTRIES);
}

static bool sv_has(const struct setv *sv, struct mem *m)
{
	if (sv_is_intset(sv))
		return mem_int(m) && tn_intset_find(tn_ptr(sv->off), m->v, NULL);
	mem_str(m);
	return tn_dict_find(tn_ptr(sv->off), m->p, m->len, mem_hash(m)) != 0;
}

static void free_member(void *arg, tn_off m)
{
	tn_free(m);
}

/* Link a copy of m into d; the caller knows it is not there. */
static int dict_add_member(struct dict_shm *d, struct slab_cache_shm *c,
			   struct mem *m)
{
	uint64_t h = mem_hash(m);
	tn_off off = tn_alloc(c, sizeof(struct member_shm) + m->len);
	struct member_shm *ms = tn_ptr(off);

	if (!off)
		return -ENOMEM;
	ms->next = 0;
	ms->len = (uint32_t)m->len;
	memcpy(ms->data, m->p, m->len);
	if (tn_dict_add(d, c, off, h) < 0) {
		tn_free(off);
		return -ENOMEM;
	}
	return 0;
}

/* Intset to dict, once and for good.  On OOM the intset is kept. */
static int sv_convert(struct setv *sv, struct slab_cache_shm *c)
{
	struct intset_shm *is = tn_ptr(sv->off);
	tn_off doff = tn_alloc(c, sizeof(struct dict_shm));
	struct dict_shm *d = tn_ptr(doff);
	struct mem m;
	uint32_t i;

	if (!doff)
		return -ENOMEM;
	tn_dict_init(d, TN_MEMBER_KEY_AT);
	for (i = 0; is && i < is->count; i++) {
		mem_ll(&m, is->v[i]);
		if (dict_add_member(d, c, &m) < 0) {
			tn_dict_foreach(d, free_member, NULL);
			tn_dict_release(d);
			tn_free(doff);
			return -ENOMEM;
		}
	}
	tn_free(sv->off);
	sv->enc = TN_E_HT;
	sv->off = doff;
	return 0;
}

/* Add a member: 1 added, 0 already there, -ENOMEM (set unchanged). */
static int sv_add(struct setv *sv, struct slab_cache_shm *c, struct mem *m)
{
	if (sv_is_intset(sv)) {
		const struct intset_shm *is = tn_ptr(sv->off);

		if (mem_int(m)) {
			if ((is ? is->count : 0) < intset_max())
				return tn_intset_add(c, &sv->off, m->v);
			if (tn_intset_find(is, m->v, NULL))
				return 0;
		}
		if (sv_convert(sv, c) < 0)
			return -ENOMEM;
	} else if (sv_has(sv, m)) {
		return 0;
	}
	return dict_add_member(tn_ptr(sv->off), c, m) < 0 ? -ENOMEM : 1;
}

static bool sv_del(struct setv *sv, struct slab_cache_shm *c, struct mem *m)
{
	tn_off off;

	if (sv_is_intset(sv))
		return mem_int(m) && tn_intset_remove(c, &sv->off, m->v);
	mem_str(m);
	off = tn_dict_unlink(tn_ptr(sv->off), c, m->p, m->len, mem_hash(m));
	if (!off)
		return false;
	tn_free(off);
	return true;
}

/* Free a value that no key holds (builders, temporaries). */
static void sv_free(struct setv *sv)
{
	if (!sv_is_intset(sv) && sv->off) {
		struct dict_shm *d = tn_ptr(sv->off);

		tn_dict_foreach(d, free_member, NULL);
		tn_dict_release(d);
	}
	tn_free(sv->off);
	*sv = sv_empty();
}

/*
 * A walk over every member.  Nothing may change the set meanwhile (not
 * even a lookup in it: a dict lookup does a rehash step).
 */
struct set_iter {
	const struct setv *sv;
	uint64_t pos; /* intset index, or bucket in table t */
	int t;
	tn_off e; /* next entry of the current chain */
};

static void set_iter_init(struct set_iter *it, const struct setv *sv)
{
	it->sv = sv;
	it->pos = 0;
	it->t = 0;
	it->e = 0;
}

static bool set_next(struct set_iter *it, struct mem *m)
{
	const struct dict_shm *d;
	struct member_shm *ms;

	if (sv_is_intset(it->sv)) {
		const struct intset_shm *is = tn_ptr(it->sv->off);

		if (!is || it->pos >= is->count)
			return false;
		mem_ll(m, is->v[it->pos++]);
		return true;
	}
	d = tn_ptr(it->sv->off);
	while (!it->e) {
		if (it->t > 1)
			return false;
		if (!d->table[it->t] || it->pos >= d->size[it->t]) {
			it->t++;
			it->pos = 0;
			continue;
		}
		it->e = ((tn_off *)tn_ptr(d->table[it->t]))[it->pos++];
	}
	ms = tn_ptr(it->e);
	it->e = ms->next;
	mem_member(m, ms);
	return true;
}

/* A uniformly chosen member (the set is not empty). */
static void sv_random(const struct setv *sv, struct mem *m)
{
	if (sv_is_intset(sv)) {
		const struct intset_shm *is = tn_ptr(sv->off);

		mem_ll(m, is->v[set_rand_below(is->count)]);
		return;
	}
	mem_member(m, tn_ptr(tn_dict_random(tn_ptr(sv->off))));
}

/* The whole set as a RESP3 set (array in RESP2). */
static void sv_reply_all(struct tn_ctx *x, const struct setv *sv)
{
	struct set_iter it;
	struct mem m;

	tn_reply_set(x->r, (long long)sv_size(sv));
	set_iter_init(&it, sv);
	while (set_next(&it, &m))
		mem_reply(x->r, &m);
}

/* ------------------------------------------------------------------ */
/* Keys holding sets                                                    */
/* ------------------------------------------------------------------ */

/* Replies WRONGTYPE and returns true when e holds something else. */
static bool not_a_set(struct tn_ctx *x, const struct kentry_shm *e)
{
	if (e && e->type != TN_T_SET) {
		tn_reply_error(x->r, TN_ERR_WRONGTYPE);
		return true;
	}
	return false;
}

/*
 * A read that changes the segment all the same (a lookup in a dict that
 * is rehashing moves a bucket) says so: a death midway must poison the
 * store.  Dispatch clears the flag at unlock.
 */
static void note_read(const struct tn_key *k, const struct setv *sv)
{
	const struct dict_shm *d;

	if (sv_is_intset(sv))
		return;
	d = tn_ptr(sv->off);
	if (tn_unlikely(d->rehash_idx >= 0))
		k->s->writing = 1;
}

/* A new key holding sv.  NULL on OOM (sv still the caller's). */
static struct kentry_shm *set_attach(struct tn_ctx *x, const struct tn_key *k,
				     const struct setv *sv)
{
	struct kentry_shm *e = tn_db_add(x, k, TN_T_SET, sizeof(tn_off));

	if (e)
		sv_save(e, sv);
	return e;
}

/*
 * Make dk hold sv, whatever it held before, without a TTL (Redis'
 * setKey).  The old entry is reused so nothing is lost on OOM.
 */
static int set_replace(struct tn_ctx *x, const struct tn_key *dk,
		       const struct setv *sv)
{
	struct kentry_shm *e = tn_db_find(x, dk), *n;

	if (!e)
		return set_attach(x, dk, sv) ? 0 : -ENOMEM;
	if (e->vlen != sizeof(tn_off)) {
		n = tn_db_resize(x, dk, e, sizeof(tn_off));
		if (!n)
			return -ENOMEM;
		e = n;
	}
	tn_db_free_value(e);
	e->type = TN_T_SET;
	sv_save(e, sv);
	tn_db_set_expire(dk->s, e, -1);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Single-key commands                                                  */
/* ------------------------------------------------------------------ */

static void cmd_sadd(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_find(x, &k);
	struct slab_cache_shm *c = tn_stripe_cache(k.s);
	struct setv sv;
	long long added = 0;
	bool oom = false;
	struct mem m;
	int i, r;

	if (not_a_set(x, e))
		return;
	sv = e ? sv_load(e) : sv_empty();
	for (i = 2; i < x->argc; i++) {
		mem_bytes(&m, x->argv[i].p, x->argv[i].len);
		r = sv_add(&sv, c, &m);
		if (r < 0) {
			oom = true;
			break;
		}
		added += r;
	}
	if (e) {
		sv_save(e, &sv);
	} else if (!oom && !set_attach(x, &k, &sv)) {
		oom = true;
	}
	if (oom) {
		/* A new key appears whole or not at all. */
		if (!e) {
			sv_free(&sv);
			added = 0;
		}
		tn_db_dirty(x, (uint64_t)added);
		if (added)
			tn_effect_members("SADD", &k, x->argv + 2, i - 2);
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	tn_db_dirty(x, (uint64_t)added);
	if (added)
		tn_effect_members("SADD", &k, x->argv + 2, x->argc - 2);
	if (added)
		tn_notify(x, TN_NOTIFY_SET, "sadd", &k);
	tn_reply_int(x->r, added);
}

static void cmd_srem(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_find(x, &k);
	struct slab_cache_shm *c = tn_stripe_cache(k.s);
	struct setv sv;
	long long removed = 0;
	struct mem m;
	int i;

	if (!e) {
		tn_reply_int(x->r, 0);
		return;
	}
	if (not_a_set(x, e))
		return;
	sv = sv_load(e);
	for (i = 2; i < x->argc; i++) {
		mem_bytes(&m, x->argv[i].p, x->argv[i].len);
		if (sv_del(&sv, c, &m)) {
			removed++;
			if (!sv_size(&sv))
				break;
		}
	}
	sv_save(e, &sv);
	if (removed)
		tn_notify(x, TN_NOTIFY_SET, "srem", &k);
	if (!sv_size(&sv)) {
		tn_db_delete_entry(x, &k, e);
		tn_notify(x, TN_NOTIFY_GENERIC, "del", &k);
	}
	tn_db_dirty(x, (uint64_t)removed);
	if (removed)
		tn_effect_members("SREM", &k, x->argv + 2, x->argc - 2);
	tn_reply_int(x->r, removed);
}

static void cmd_smove(struct tn_ctx *x)
{
	struct tn_key ks = tn_key_arg(x, 1), kd = tn_key_arg(x, 2);
	struct kentry_shm *src = tn_db_find(x, &ks), *dst;
	struct setv ssv, dsv;
	struct mem m;
	int added;

	if (!src) {
		tn_reply_int(x->r, 0);
		return;
	}
	dst = tn_db_find(x, &kd);
	if (not_a_set(x, src) || not_a_set(x, dst))
		return;
	mem_bytes(&m, x->argv[3].p, x->argv[3].len);
	ssv = sv_load(src);
	if (src == dst) {
		tn_reply_int(x->r, sv_has(&ssv, &m));
		return;
	}
	if (!sv_has(&ssv, &m)) {
		tn_reply_int(x->r, 0);
		return;
	}
	/* Add first (it may fail), then remove (it cannot). */
	dsv = dst ? sv_load(dst) : sv_empty();
	added = sv_add(&dsv, tn_stripe_cache(kd.s), &m);
	if (added < 0 || (!dst && !set_attach(x, &kd, &dsv))) {
		if (!dst)
			sv_free(&dsv);
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	if (dst)
		sv_save(dst, &dsv);
	sv_del(&ssv, tn_stripe_cache(ks.s), &m);
	sv_save(src, &ssv);
	tn_notify(x, TN_NOTIFY_SET, "srem", &ks);
	if (!sv_size(&ssv)) {
		tn_db_delete_entry(x, &ks, src);
		tn_notify(x, TN_NOTIFY_GENERIC, "del", &ks);
	}
	if (added)
		tn_notify(x, TN_NOTIFY_SET, "sadd", &kd);
	tn_db_dirty(x, 1 + (uint64_t)added);
	tn_effect_members("SREM", &ks, x->argv + 3, 1);
	tn_effect_members("SADD", &kd, x->argv + 3, 1);
	tn_reply_int(x->r, 1);
}

static void cmd_sismember(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_read(x, &k);
	struct setv sv;
	struct mem m;

	if (not_a_set(x, e))
		return;
	if (!e) {
		tn_reply_int(x->r, 0);
		return;
	}
	sv = sv_load(e);
	note_read(&k, &sv);
	mem_bytes(&m, x->argv[2].p, x->argv[2].len);
	tn_reply_int(x->r, sv_has(&sv, &m));
}

static void cmd_smismember(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_read(x, &k);
	struct setv sv = sv_empty();
	struct mem m;
	int i;

	if (not_a_set(x, e))
		return;
	if (e) {
		sv = sv_load(e);
		note_read(&k, &sv);
	}
	tn_reply_array(x->r, x->argc - 2);
	for (i = 2; i < x->argc; i++) {
		mem_bytes(&m, x->argv[i].p, x->argv[i].len);
		tn_reply_int(x->r, e && sv_has(&sv, &m));
	}
}

static void cmd_scard(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_read(x, &k);
	struct setv sv;

	if (not_a_set(x, e))
		return;
	if (!e) {
		tn_reply_int(x->r, 0);
		return;
	}
	sv = sv_load(e);
	tn_reply_int(x->r, (long long)sv_size(&sv));
}

static void cmd_smembers(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_read(x, &k);
	struct setv sv;

	if (not_a_set(x, e))
		return;
	if (!e) {
		tn_reply_set(x->r, 0);
		return;
	}
	sv = sv_load(e);
	sv_reply_all(x, &sv);
}

/* ------------------------------------------------------------------ */
/* SPOP                                                                 */
/* ------------------------------------------------------------------ */

/* Remove one random member, replying it as a bulk string. */
static void spop_one(struct tn_ctx *x, struct setv *sv,
		     struct slab_cache_shm *c)
{
	if (sv_is_intset(sv)) {
		struct intset_shm *is = tn_ptr(sv->off);
		uint32_t pos = (uint32_t)set_rand_below(is->count);

		tn_reply_bulk_ll(x->r, is->v[pos]);
		intset_remove_at(c, &sv->off, pos);
	} else {
		struct dict_shm *d = tn_ptr(sv->off);
		tn_off off = tn_dict_random(d);
		struct member_shm *ms = tn_ptr(off);

		tn_reply_bulk(x->r, ms->data, ms->len);
		tn_dict_unlink(d, c, ms->data, ms->len,
			       tn_hash(ms->data, ms->len));
		tn_free(off);
	}
}

/*
 * Pop count < size members of an intset: a partial Fisher-Yates shuffle
 * brings them to the front, the rest slides down and is sorted again.
 */
static void spop_intset(struct tn_ctx *x, struct setv *sv,
			struct slab_cache_shm *c, uint64_t count)
{
	struct intset_shm *is = tn_ptr(sv->off);
	uint64_t n = is->count, i, j;
	int64_t t;

	for (i = 0; i < count; i++) {
		j = i + set_rand_below(n - i);
		t = is->v[i];
		is->v[i] = is->v[j];
		is->v[j] = t;
		tn_reply_bulk_ll(x->r, is->v[i]);
	}
	memmove(is->v, is->v + count, (n - count) * sizeof(int64_t));
	is->count = (uint32_t)(n - count);
	qsort(is->v, is->count, sizeof(int64_t), cmp_i64);
	intset_shrink(c, &sv->off);
}

struct relink_ctx {
	struct dict_shm *d;
	struct slab_cache_shm *c;
};

static void relink_member(void *arg, tn_off off)
{
	struct relink_ctx *rc = arg;
	struct member_shm *ms = tn_ptr(off);

	tn_dict_add(rc->d, rc->c, off, tn_hash(ms->data, ms->len));
}

struct drain_ctx {
	struct tn_reply *r;
};

static void reply_and_free_member(void *arg, tn_off off)
{
	struct drain_ctx *dc = arg;
	struct member_shm *ms = tn_ptr(off);

	tn_reply_bulk(dc->r, ms->data, ms->len);
	tn_free(off);
}

struct ints_ctx {
	struct slab_cache_shm *c;
	tn_off is;
	bool ok;
};

static void add_int_member(void *arg, tn_off off)
{
	struct ints_ctx *ic = arg;
	struct member_shm *ms = tn_ptr(off);
	long long v;

	if (ic->ok && (!tn_str2ll(ms->data, ms->len, &v) ||
		       tn_intset_add(ic->c, &ic->is, v) < 0))
		ic->ok = false;
}

/* An intset of d's members if they are all integers and few enough,
 * else 0 (also on OOM: a dict is as good, only bigger). */
static tn_off ints_to_intset(struct dict_shm *d, struct slab_cache_shm *c)
{
	struct ints_ctx ic = {.c = c, .ok = true};

	if (tn_dict_size(d) > intset_max())
		return 0;
	tn_dict_foreach(d, add_int_member, &ic);
	if (!ic.ok) {
		tn_free(ic.is);
		return 0;
	}
	return ic.is;
}

/*
 * SPOP of most of a dict (Redis' case 3): move the few members that stay
 * into a new dict, reply and free what is left of the old one.  Like
 * Redis, which builds the survivors a new set, they become an intset if
 * they can.  Returns false, having replied nothing and changed nothing,
 * without memory.
 */
static bool spop_keep_ht(struct tn_ctx *x, struct setv *sv,
			 struct slab_cache_shm *c, uint64_t keep)
{
	struct dict_shm *d = tn_ptr(sv->off), *nd;
	tn_off noff = tn_alloc(c, sizeof(struct dict_shm)), off;
	struct member_shm *ms;
	struct drain_ctx dc = {.r = x->r};
	tn_off ioff;
	uint64_t h;

	if (!noff)
		return false;
	nd = tn_ptr(noff);
	tn_dict_init(nd, TN_MEMBER_KEY_AT);
	while (keep--) {
		off = tn_dict_random(d);
		ms = tn_ptr(off);
		h = tn_hash(ms->data, ms->len);
		/* No shrinking of the old dict: it is about to go. */
		tn_dict_unlink(d, NULL, ms->data, ms->len, h);
		if (tn_dict_add(nd, c, off, h) < 0) {
			/* Adding to a dict with a table never fails: undo. */
			struct relink_ctx rc = {.d = d, .c = c};

			tn_dict_add(d, c, off, h);
			tn_dict_foreach(nd, relink_member, &rc);
			tn_dict_release(nd);
			tn_free(noff);
			return false;
		}
	}
	tn_dict_foreach(d, reply_and_free_member, &dc);
	tn_dict_release(d);
	ioff = ints_to_intset(nd, c);
	if (ioff) {
		tn_dict_foreach(nd, free_member, NULL);
		tn_dict_release(nd);
		tn_free(noff);
		tn_free(sv->off);
		sv->enc = TN_E_INTSET;
		sv->off = ioff;
	} else {
		*d = *nd;
		tn_free(noff);
	}
	return true;
}

static void spop_count(struct tn_ctx *x, const struct tn_key *k,
		       struct kentry_shm *e, uint64_t count)
{
	struct setv sv = sv_load(e);
	struct slab_cache_shm *c = tn_stripe_cache(k->s);
	uint64_t size = sv_size(&sv), remaining, i;
	size_t mark;

	tn_notify(x, TN_NOTIFY_SET, "spop", k);
	if (count >= size) {
		sv_reply_all(x, &sv);
		tn_db_delete_entry(x, k, e);
		tn_effect_del(k);
		tn_notify(x, TN_NOTIFY_GENERIC, "del", k);
		tn_db_dirty(x, size);
		return;
	}
	mark = x->r->out->len;
	tn_reply_set(x->r, (long long)count);
	remaining = size - count;
	if (sv_is_intset(&sv)) {
		spop_intset(x, &sv, c, count);
	} else if (remaining * SPOP_MOVE_STRATEGY_MUL > count ||
		   !spop_keep_ht(x, &sv, c, remaining)) {
		for (i = 0; i < count; i++)
			spop_one(x, &sv, c);
	}
	sv_save(e, &sv);
	tn_db_dirty(x, count);
	tn_effect_srem_reply(k, x->r->out, mark);
}

static void cmd_spop(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e;
	struct setv sv;
	long long count = 0;
	size_t mark;

	if (x->argc > 3) {
		tn_reply_error(x->r, TN_ERR_SYNTAX);
		return;
	}
	if (x->argc == 3 && !(tn_str2ll(x->argv[2].p, x->argv[2].len,
					&count) && count >= 0)) {
		tn_reply_error(x->r, ERR_POSITIVE);
		return;
	}
	e = tn_db_find(x, &k);
	if (not_a_set(x, e))
		return;
	if (x->argc == 3) {
		if (!e || count == 0)
			tn_reply_set(x->r, 0);
		else
			spop_count(x, &k, e, (uint64_t)count);
		return;
	}
	if (!e) {
		tn_reply_null(x->r);
		return;
	}
	sv = sv_load(e);
	mark = x->r->out->len;
	spop_one(x, &sv, tn_stripe_cache(k.s));
	tn_effect_srem_reply(&k, x->r->out, mark);
	sv_save(e, &sv);
	tn_notify(x, TN_NOTIFY_SET, "spop", &k);
	if (!sv_size(&sv)) {
		tn_db_delete_entry(x, &k, e);
		tn_notify(x, TN_NOTIFY_GENERIC, "del", &k);
	}
	tn_db_dirty(x, 1);
}

/* ------------------------------------------------------------------ */
/* SRANDMEMBER                                                          */
/* ------------------------------------------------------------------ */

/*
 * Distinct picks are tracked by id: intset index + 1, or the member's
 * offset, so 0 never names a member.
 */
static uint64_t pick_id(const struct setv *sv)
{
	if (sv_is_intset(sv)) {
		const struct intset_shm *is = tn_ptr(sv->off);

		return set_rand_below(is->count) + 1;
	}
	return tn_dict_random(tn_ptr(sv->off));
}

static void reply_id(struct tn_reply *r, const struct setv *sv, uint64_t id)
{
	if (sv_is_intset(sv)) {
		const struct intset_shm *is = tn_ptr(sv->off);

		tn_reply_bulk_ll(r, is->v[id - 1]);
	} else {
		const struct member_shm *ms = tn_ptr(id);

		tn_reply_bulk(r, ms->data, ms->len);
	}
}

struct collect_ctx {
	uint64_t *ids;
	uint64_t n;
};

static void collect_member(void *arg, tn_off off)
{
	struct collect_ctx *cc = arg;

	cc->ids[cc->n++] = off;
}

/* count distinct members out of size, count close to size: shuffle the
 * ids of all members and take the first count. */
static int srand_shuffle(struct tn_ctx *x, const struct setv *sv,
			 uint64_t size, uint64_t count)
{
	struct collect_ctx cc = {.ids = malloc(size * sizeof(uint64_t))};
	uint64_t i, j, t;

	if (!cc.ids)
		return -ENOMEM;
	if (sv_is_intset(sv)) {
		for (i = 0; i < size; i++)
			cc.ids[i] = i + 1;
	} else {
		tn_dict_foreach(tn_ptr(sv->off), collect_member, &cc);
	}
	tn_reply_array(x->r, (long long)count);
	for (i = 0; i < count; i++) {
		j = i + set_rand_below(size - i);
		t = cc.ids[i];
		cc.ids[i] = cc.ids[j];
		cc.ids[j] = t;
		reply_id(x->r, sv, cc.ids[i]);
	}
	free(cc.ids);
	return 0;
}

/* count distinct members out of a much larger set: random picks, with
 * the ids seen so far in a small open-addressing table. */
static int srand_sample(struct tn_ctx *x, const struct setv *sv,
			uint64_t count)
{
	uint64_t cap = 16, mask, n = 0, id, slot;
	uint64_t *seen;

	while (cap < count * 2)
		cap <<= 1;
	seen = calloc(cap, sizeof(*seen));
	if (!seen)
		return -ENOMEM;
	mask = cap - 1;
	tn_reply_array(x->r, (long long)count);
	while (n < count) {
		id = pick_id(sv);
		for (slot = (id * 0x9e3779b97f4a7c15ULL) >> 20 & mask;
		     seen[slot] && seen[slot] != id; slot = (slot + 1) & mask)
			;
		if (seen[slot])
			continue;
		seen[slot] = id;
		reply_id(x->r, sv, id);
		n++;
	}
	free(seen);
	return 0;
}

static void srandmember_count(struct tn_ctx *x, const struct setv *sv,
			      uint64_t count, bool uniq)
{
	uint64_t size = sv_size(sv);
	struct mem m;
	int r;

	if (!uniq || count == 1) {
		tn_reply_array(x->r, (long long)count);
		/* A huge negative count ends when the reply buffer does. */
		while (count-- && !x->r->oom) {
			sv_random(sv, &m);
			mem_reply(x->r, &m);
		}
		return;
	}
	if (count >= size) {
		struct set_iter it;

		tn_reply_array(x->r, (long long)size);
		set_iter_init(&it, sv);
		while (set_next(&it, &m))
			mem_reply(x->r, &m);
		return;
	}
	if (count * SRANDMEMBER_SUB_STRATEGY_MUL > size)
		r = srand_shuffle(x, sv, size, count);
	else
		r = srand_sample(x, sv, count);
	if (r < 0)
		tn_reply_error(x->r, TN_ERR_OOM);
}

static void cmd_srandmember(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e;
	struct setv sv;
	long long l = 0;
	struct mem m;

	if (x->argc > 3) {
		tn_reply_error(x->r, TN_ERR_SYNTAX);
		return;
	}
	if (x->argc == 3) {
		if (!tn_arg_ll(x, 2, &l, NULL))
			return;
		if (l == INT64_MIN) {
			tn_reply_error(x->r,
				       "ERR value is out of range, value must "
				       "between -9223372036854775807 and "
				       "9223372036854775807");
			return;
		}
	}
	e = tn_db_read(x, &k);
	if (not_a_set(x, e))
		return;
	if (x->argc == 3) {
		if (!e || l == 0) {
			tn_reply_array(x->r, 0);
			return;
		}
		sv = sv_load(e);
		note_read(&k, &sv);
		srandmember_count(x, &sv, (uint64_t)(l < 0 ? -l : l), l > 0);
		return;
	}
	if (!e) {
		tn_reply_null(x->r);
		return;
	}
	sv = sv_load(e);
	note_read(&k, &sv);
	sv_random(&sv, &m);
	mem_reply(x->r, &m);
}

/* ------------------------------------------------------------------ */
/* SINTER, SUNION, SDIFF and their STORE / CARD forms                   */
/* ------------------------------------------------------------------ */

enum set_op { SET_INTER, SET_UNION, SET_DIFF };

struct set_src {
	struct setv sv;
	uint64_t size;
	bool present;
};

/* Where a result goes: the reply, a count, or a new set. */
enum { OUT_REPLY, OUT_CARD, OUT_BUILD };

struct set_out {
	struct tn_ctx *x;
	int mode;
	uint64_t n;
	struct setv res; /* OUT_BUILD */
	struct slab_cache_shm *c;
	bool oom;
};

static void out_emit(struct set_out *o, struct mem *m)
{
	int r;

	switch (o->mode) {
	case OUT_REPLY:
		mem_reply(o->x->r, m);
		o->n++;
		break;
	case OUT_CARD:
		o->n++;
		break;
	default:
		r = sv_add(&o->res, o->c, m);
		if (r < 0)
			o->oom = true;
		else
			o->n += (uint64_t)r;
	}
}

static int cmp_size_asc(const void *a, const void *b)
{
	uint64_t x = ((const struct set_src *)a)->size;
	uint64_t y = ((const struct set_src *)b)->size;

	return x < y ? -1 : x > y;
}

static int cmp_size_desc(const void *a, const void *b)
{
	return cmp_size_asc(b, a);
}

static void set_inter(struct set_src *s, int n, struct set_out *o,
		      uint64_t limit)
{
	struct set_iter it;
	struct mem m;
	int j;

	qsort(s, n, sizeof(*s), cmp_size_asc);
	set_iter_init(&it, &s[0].sv);
	while (!o->oom && set_next(&it, &m)) {
		for (j = 1; j < n; j++) {
			/* The same key twice: a lookup would disturb the walk. */
			if (s[j].sv.off == s[0].sv.off)
				continue;
			if (!sv_has(&s[j].sv, &m))
				break;
		}
		if (j < n)
			continue;
		out_emit(o, &m);
		if (limit && o->n >= limit)
			break;
	}
}

static void set_union(struct set_src *s, int n, struct set_out *o)
{
	struct set_iter it;
	struct mem m;
	int i, j;

	for (i = 0; i < n && !o->oom; i++) {
		if (!s[i].present)
			continue;
		for (j = 0; j < i; j++)
			if (s[j].present && s[j].sv.off == s[i].sv.off)
				break;
		if (j < i)
			continue;
		set_iter_init(&it, &s[i].sv);
		while (!o->oom && set_next(&it, &m))
			out_emit(o, &m);
	}
}

/*
 * Members of the first set in none of the others.  Redis' algorithm 1
 * walks the first set and looks each member up in the others (biggest
 * first); algorithm 2 copies the first set and removes the others from
 * the copy.  A reply always uses 1 (no copy needed: the first set's
 * members are distinct); a STORE picks as Redis does, since the choice
 * shows in the result's encoding.
 */
static void set_diff(struct set_src *s, int n, struct set_out *o)
{
	uint64_t work1 = 0, work2 = 0;
	struct set_iter it;
	struct mem m;
	int j;

	if (!s[0].present)
		return;
	for (j = 1; j < n; j++)
		if (s[j].present && s[j].sv.off == s[0].sv.off)
			return; /* A - A - ... is empty */
	for (j = 0; j < n; j++) {
		if (s[j].present) {
			work1 += s[0].size;
			work2 += s[j].size;
		}
	}
	if (o->mode == OUT_BUILD && work1 / 2 > work2) {
		set_iter_init(&it, &s[0].sv);
		while (!o->oom && set_next(&it, &m))
			out_emit(o, &m);
		for (j = 1; j < n && !o->oom && sv_size(&o->res); j++) {
			if (!s[j].present)
				continue;
			set_iter_init(&it, &s[j].sv);
			while (set_next(&it, &m))
				sv_del(&o->res, o->c, &m);
		}
		return;
	}
	if (n > 2)
		qsort(s + 1, n - 1, sizeof(*s), cmp_size_desc);
	set_iter_init(&it, &s[0].sv);
	while (!o->oom && set_next(&it, &m)) {
		for (j = 1; j < n; j++)
			if (s[j].present && sv_has(&s[j].sv, &m))
				break;
		if (j == n)
			out_emit(o, &m);
	}
}

/* How many sources a union really draws from (a key twice counts once). */
static int distinct_present(const struct set_src *s, int n)
{
	int i, j, d = 0;

	for (i = 0; i < n; i++) {
		if (!s[i].present)
			continue;
		for (j = 0; j < i; j++)
			if (s[j].present && s[j].sv.off == s[i].sv.off)
				break;
		if (j == i)
			d++;
	}
	return d;
}

/* The STORE forms' ending: dst holds the result, or is gone if empty. */
static void store_result(struct tn_ctx *x, int dst, struct set_out *o,
			 enum set_op op)
{
	static const char *const event[] = {
		[SET_INTER] = "sinterstore",
		[SET_UNION] = "sunionstore",
		[SET_DIFF] = "sdiffstore",
	};
	struct tn_key dk = tn_key_arg(x, dst);
	uint64_t size = sv_size(&o->res);

	if (o->oom) {
		sv_free(&o->res);
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	if (!size) {
		sv_free(&o->res);
		if (tn_db_delete(x, &dk)) {
			tn_db_dirty(x, 1);
			tn_effect_del(&dk);
			tn_notify(x, TN_NOTIFY_GENERIC, "del", &dk);
		}
		tn_reply_int(x->r, 0);
		return;
	}
	if (set_replace(x, &dk, &o->res) < 0) {
		sv_free(&o->res);
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	tn_db_dirty(x, 1);
	tn_effect_key(&dk);
	tn_notify(x, TN_NOTIFY_SET, event[op], &dk);
	tn_reply_int(x->r, (long long)size);
}

/*
 * The engine of the multi-key commands: keys are argv[first, first + n);
 * dst is the destination's argv index for the STORE forms, else 0; card
 * asks for SINTERCARD's count (stopping at limit, 0 for none).
 */
static void set_op_generic(struct tn_ctx *x, enum set_op op, int first,
			   int n, int dst, bool card, uint64_t limit)
{
	struct set_src stack[SETS_ON_STACK] = {0}, *s = stack;
	struct set_out o = {.x = x, .res = sv_empty()};
	struct kentry_shm *e;
	struct tn_key k;
	size_t mark = 0;
	int i, missing = 0;

	if (n > SETS_ON_STACK) {
		s = malloc(sizeof(*s) * (size_t)n);
		if (!s) {
			tn_reply_error(x->r, TN_ERR_OOM);
			return;
		}
	}
	for (i = 0; i < n; i++) {
		k = tn_key_arg(x, first + i);
		/* Redis 7.0 counts the sources of a STORE as reads too. */
		e = tn_db_read(x, &k);
		if (not_a_set(x, e))
			goto out;
		s[i].present = e != NULL;
		s[i].sv = e ? sv_load(e) : sv_empty();
		note_read(&k, &s[i].sv);
		s[i].size = e ? sv_size(&s[i].sv) : 0;
		missing += !e;
	}

	if (dst) {
		o.mode = OUT_BUILD;
		o.c = tn_stripe_cache(tn_key_arg(x, dst).s);
	} else if (card) {
		o.mode = OUT_CARD;
	} else if (op == SET_UNION && distinct_present(s, n) > 1) {
		/* Deduplicate in a temporary set, in a stripe we hold (and
		 * so write to). */
		k = tn_key_arg(x, first);
		k.s->writing = 1;
		o.mode = OUT_BUILD;
		o.c = tn_stripe_cache(k.s);
	} else {
		o.mode = OUT_REPLY;
		mark = tn_reply_defer(x->r);
	}

	switch (op) {
	case SET_INTER:
		if (!missing)
			set_inter(s, n, &o, limit);
		break;
	case SET_UNION:
		set_union(s, n, &o);
		break;
	case SET_DIFF:
		set_diff(s, n, &o);
		break;
	}

	if (dst) {
		store_result(x, dst, &o, op);
	} else if (o.mode == OUT_CARD) {
		tn_reply_int(x->r, (long long)o.n);
	} else if (o.mode == OUT_REPLY) {
		tn_reply_defer_set(x->r, mark, '~', (long long)o.n);
	} else if (o.oom) {
		sv_free(&o.res);
		tn_reply_error(x->r, TN_ERR_OOM);
	} else {
		sv_reply_all(x, &o.res);
		sv_free(&o.res);
	}
out:
	if (s != stack)
		free(s);
}

static void cmd_sinter(struct tn_ctx *x)
{
	set_op_generic(x, SET_INTER, 1, x->argc - 1, 0, false, 0);
}

static void cmd_sinterstore(struct tn_ctx *x)
{
	set_op_generic(x, SET_INTER, 2, x->argc - 2, 1, false, 0);
}

static void cmd_sunion(struct tn_ctx *x)
{
	set_op_generic(x, SET_UNION, 1, x->argc - 1, 0, false, 0);
}

static void cmd_sunionstore(struct tn_ctx *x)
{
	set_op_generic(x, SET_UNION, 2, x->argc - 2, 1, false, 0);
}

static void cmd_sdiff(struct tn_ctx *x)
{
	set_op_generic(x, SET_DIFF, 1, x->argc - 1, 0, false, 0);
}

static void cmd_sdiffstore(struct tn_ctx *x)
{
	set_op_generic(x, SET_DIFF, 2, x->argc - 2, 1, false, 0);
}

/*
 * SINTERCARD numkeys key [key ...]: 0 when numkeys is usable, else what
 * is wrong with it.  The key spec and the handler share it so a key is
 * never used unless dispatch locked it.
 */
enum { NUMKEYS_OK, NUMKEYS_BAD, NUMKEYS_TOO_MANY };

static int sintercard_numkeys(const struct tn_arg *argv, int argc,
			      long long *n)
{
	if (argc < 2 || !tn_str2ll(argv[1].p, argv[1].len, n) || *n < 1)
		return NUMKEYS_BAD;
	if (*n > argc - 2)
		return NUMKEYS_TOO_MANY;
	return NUMKEYS_OK;
}

static int sintercard_keys(const struct tn_arg *argv, int argc, int *keys,
			   int max)
{
	long long n;
	int i;

	if (sintercard_numkeys(argv, argc, &n) != NUMKEYS_OK || n > max)
		return -1;
	for (i = 0; i < n; i++)
		keys[i] = 2 + i;
	return (int)n;
}

static void cmd_sintercard(struct tn_ctx *x)
{
	long long n, limit = 0;
	int j;

	switch (sintercard_numkeys(x->argv, x->argc, &n)) {
	case NUMKEYS_BAD:
		tn_reply_error(x->r, "ERR numkeys should be greater than 0");
		return;
	case NUMKEYS_TOO_MANY:
		tn_reply_error(x->r, "ERR Number of keys can't be greater "
				     "than number of args");
		return;
	}
	for (j = 2 + (int)n; j < x->argc; j++) {
		if (tn_arg_is(&x->argv[j], "limit") && j + 1 < x->argc) {
			j++;
			if (!tn_str2ll(x->argv[j].p, x->argv[j].len, &limit) ||
			    limit < 0) {
				tn_reply_error(x->r,
					       "ERR LIMIT can't be negative");
				return;
			}
		} else {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
	}
	set_op_generic(x, SET_INTER, 2, (int)n, 0, true, (uint64_t)limit);
}

/* ------------------------------------------------------------------ */
/* SSCAN                                                                */
/* ------------------------------------------------------------------ */

/*
 * A cursor as Redis reads it with strtoul(): optional sign (a '-'
 * wraps), decimal digits, nothing after; no leading space; "" is 0.
 */
static bool parse_cursor(const struct tn_arg *a, uint64_t *out)
{
	const char *p = a->p, *end = a->p + a->len, *nul;
	uint64_t v = 0;
	bool neg = false;

	/* Redis reads the argument as a C string. */
	nul = memchr(p, '\0', a->len);
	if (nul)
		end = nul;
	if (p == end) {
		*out = 0;
		return true;
	}
	if (isspace((unsigned char)*p))
		return false;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (p == end || !isdigit((unsigned char)*p))
		return false;
	for (; p < end && isdigit((unsigned char)*p); p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
	}
	if (p != end)
		return false;
	*out = neg ? -v : v;
	return true;
}

struct scan_acc {
	tn_off *v;
	size_t n, cap;
	uint64_t visited;
	const char *pat;
	size_t plen;
	bool oom;
	tn_off stack[SCAN_ON_STACK];
};

static void scan_member(void *arg, tn_off off)
{
	struct scan_acc *a = arg;
	struct member_shm *ms = tn_ptr(off);

	a->visited++;
	if (a->pat && !tn_glob_match(a->pat, a->plen, ms->data, ms->len, false))
		return;
	if (a->n == a->cap) {
		size_t cap = a->cap * 2;
		tn_off *nv = a->v == a->stack ? malloc(cap * sizeof(*nv))
					      : realloc(a->v, cap * sizeof(*nv));

		if (!nv) {
			a->oom = true;
			return;
		}
		if (a->v == a->stack)
			memcpy(nv, a->stack, sizeof(a->stack));
		a->v = nv;
		a->cap = cap;
	}
	a->v[a->n++] = off;
}

static void sscan_intset(struct tn_ctx *x, const struct setv *sv,
			 const char *pat, size_t plen)
{
	const struct intset_shm *is = tn_ptr(sv->off);
	struct mem m;
	long long n = 0;
	size_t mark;
	uint32_t i;

	/* Small encodings come back whole, with cursor 0, as in Redis. */
	tn_reply_array(x->r, 2);
	tn_reply_bulk(x->r, "0", 1);
	mark = tn_reply_defer(x->r);
	for (i = 0; i < is->count; i++) {
		mem_ll(&m, is->v[i]);
		if (pat) {
			mem_str(&m);
			if (!tn_glob_match(pat, plen, m.p, m.len, false))
				continue;
		}
		mem_reply(x->r, &m);
		n++;
	}
	tn_reply_defer_set(x->r, mark, '*', n);
}

static void cmd_sscan(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e;
	struct scan_acc a;
	struct setv sv;
	uint64_t cursor, maxit;
	long long count = SSCAN_DEFAULT_COUNT;
	char cbuf[24];
	size_t i;
	int j;

	if (!parse_cursor(&x->argv[2], &cursor)) {
		tn_reply_error(x->r, "ERR invalid cursor");
		return;
	}
	e = tn_db_read(x, &k);
	if (!e) {
		tn_reply_array(x->r, 2);
		tn_reply_bulk(x->r, "0", 1);
		tn_reply_array(x->r, 0);
		return;
	}
	if (not_a_set(x, e))
		return;
	a.pat = NULL;
	a.plen = 0;
	/* options come in pairs */
	for (j = 3; j < x->argc; j += 2) {
		bool more = j + 1 < x->argc;

		if (more && tn_arg_is(&x->argv[j], "count")) {
			if (!tn_arg_ll(x, j + 1, &count, NULL))
				return;
			if (count < 1) {
				tn_reply_error(x->r, TN_ERR_SYNTAX);
				return;
			}
		} else if (more && tn_arg_is(&x->argv[j], "match")) {
			const struct tn_arg *p = &x->argv[j + 1];

			/* "*" matches everything: skip the matcher. */
			a.pat = p->len == 1 && p->p[0] == '*' ? NULL : p->p;
			a.plen = p->len;
		} else {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
	}
	sv = sv_load(e);
	if (sv_is_intset(&sv)) {
		sscan_intset(x, &sv, a.pat, a.plen);
		return;
	}

	a.v = a.stack;
	a.n = 0;
	a.cap = SCAN_ON_STACK;
	a.visited = 0;
	a.oom = false;
	/* At most ten buckets per element asked for, so a sparse table
	 * cannot stall the shard (Redis' bound). */
	maxit = (uint64_t)count > UINT64_MAX / 10 ? UINT64_MAX
						  : (uint64_t)count * 10;
	do {
		cursor = tn_dict_scan(tn_ptr(sv.off), cursor, scan_member, &a);
	} while (cursor && maxit-- && a.visited < (uint64_t)count && !a.oom);

	if (a.oom) {
		tn_reply_error(x->r, TN_ERR_OOM);
	} else {
		int clen = snprintf(cbuf, sizeof(cbuf), "%llu",
				    (unsigned long long)cursor);

		tn_reply_array(x->r, 2);
		tn_reply_bulk(x->r, cbuf, (size_t)clen);
		tn_reply_array(x->r, (long long)a.n);
		for (i = 0; i < a.n; i++) {
			struct member_shm *ms = tn_ptr(a.v[i]);

			tn_reply_bulk(x->r, ms->data, ms->len);
		}
	}
	if (a.v != a.stack)
		free(a.v);
}

/* ------------------------------------------------------------------ */
/* The table                                                            */
/* ------------------------------------------------------------------ */

const struct tn_cmd tn_cmds_set[] = {
	{"sadd", -3, TN_CMD_WRITE | TN_CMD_DENYOOM | TN_CMD_FAST, 1, 1, 1,
	 cmd_sadd, NULL, "write set fast"},
	{"srem", -3, TN_CMD_WRITE | TN_CMD_FAST, 1, 1, 1, cmd_srem, NULL,
	 "write set fast"},
	{"smove", 4, TN_CMD_WRITE | TN_CMD_FAST, 1, 2, 1, cmd_smove, NULL,
	 "write set fast"},
	{"sismember", 3, TN_CMD_READONLY | TN_CMD_FAST, 1, 1, 1,
	 cmd_sismember, NULL, "read set fast"},
	{"smismember", -3, TN_CMD_READONLY | TN_CMD_FAST, 1, 1, 1,
	 cmd_smismember, NULL, "read set fast"},
	{"scard", 2, TN_CMD_READONLY | TN_CMD_FAST, 1, 1, 1, cmd_scard, NULL,
	 "read set fast"},
	{"smembers", 2, TN_CMD_READONLY, 1, 1, 1, cmd_smembers, NULL,
	 "read set slow"},
	{"spop", -2, TN_CMD_WRITE | TN_CMD_FAST, 1, 1, 1, cmd_spop, NULL,
	 "write set fast"},
	{"srandmember", -2, TN_CMD_READONLY, 1, 1, 1, cmd_srandmember, NULL,
	 "read set slow"},
	{"sinter", -2, TN_CMD_READONLY, 1, -1, 1, cmd_sinter, NULL,
	 "read set slow"},
	{"sintercard", -3, TN_CMD_READONLY, 0, 0, 0, cmd_sintercard,
	 sintercard_keys, "read set slow"},
	{"sinterstore", -3, TN_CMD_WRITE | TN_CMD_DENYOOM, 1, -1, 1,
	 cmd_sinterstore, NULL, "write set slow"},
	{"sunion", -2, TN_CMD_READONLY, 1, -1, 1, cmd_sunion, NULL,
	 "read set slow"},
	{"sunionstore", -3, TN_CMD_WRITE | TN_CMD_DENYOOM, 1, -1, 1,
	 cmd_sunionstore, NULL, "write set slow"},
	{"sdiff", -2, TN_CMD_READONLY, 1, -1, 1, cmd_sdiff, NULL,
	 "read set slow"},
	{"sdiffstore", -3, TN_CMD_WRITE | TN_CMD_DENYOOM, 1, -1, 1,
	 cmd_sdiffstore, NULL, "write set slow"},
	{"sscan", -3, TN_CMD_READONLY, 1, 1, 1, cmd_sscan, NULL,
	 "read set slow"},
	{0},
};
