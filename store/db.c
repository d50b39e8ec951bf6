/*
 * db.c - the keyspace: entries in their stripe's dict, the stripe's TTL
 * index, lazy expiry on access.  Every function here runs with the key's
 * stripe locked by tn_dispatch (or by the caller, for FLUSHALL and the
 * expiry cycle).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "store/store.h"
#include "util/util.h"

static struct proc_shm *my_proc(struct tn_ctx *x)
{
	return tn_proc(TN_PROC_SHARD0 + (x ? x->shard : 0));
}

static size_t entry_bytes(size_t keylen, uint64_t vlen)
{
	return sizeof(struct kentry_shm) + keylen + vlen;
}

uint16_t tn_db_lru_clock(int64_t now_ms)
{
	/* seconds since the segment was created; wraps after ~18 hours */
	return (uint16_t)((now_ms - tn_seg->start_ms) / 1000);
}

int tn_db_set_expire(struct stripe_shm *s, struct kentry_shm *e, int64_t ms)
{
	tn_off *arr;

	if (ms < 0) {
		if (e->expire_ms >= 0) {
			uint32_t slot = e->ttl_slot;
			tn_off last;

			arr = tn_ptr(s->ttl_arr);
			last = arr[--s->ttl_len];
			arr[slot] = last;
			((struct kentry_shm *)tn_ptr(last))->ttl_slot = slot;
		}
		e->expire_ms = -1;
		return 0;
	}
	if (e->expire_ms < 0) {
		if (s->ttl_len == s->ttl_cap) {
			uint32_t cap = s->ttl_cap ? s->ttl_cap * 2 : 16;
			tn_off n;

			n = s->ttl_arr ? tn_realloc(tn_stripe_cache(s), s->ttl_arr,
						    cap * sizeof(tn_off))
				       : tn_alloc(tn_stripe_cache(s),
						  cap * sizeof(tn_off));
			if (!n)
				return -ENOMEM;
			s->ttl_arr = n;
			s->ttl_cap = cap;
		}
		arr = tn_ptr(s->ttl_arr);
		e->ttl_slot = s->ttl_len;
		arr[s->ttl_len++] = tn_off_of(e);
	}
	e->expire_ms = ms;
	return 0;
}

static void free_member(void *arg, tn_off m)
{
	tn_free(m);
}

void tn_db_free_value(struct kentry_shm *e)
{
	tn_off v;

	if (e->type != TN_T_SET)
		return;
	memcpy(&v, tn_kentry_val(e), sizeof(v));
	if (e->enc == TN_E_HT) {
		struct dict_shm *d = tn_ptr(v);

		tn_dict_foreach(d, free_member, NULL);
		tn_dict_release(d);
	}
	tn_free(v);
}

/* Unlink and free, keeping the TTL index right. */
static void remove_entry(struct stripe_shm *s, const struct tn_key *k,
			 struct kentry_shm *e)
{
	tn_dict_unlink(&s->keys, tn_stripe_cache(s), k->p, k->len, k->h);
	if (e->expire_ms >= 0)
		tn_db_set_expire(s, e, -1);
	tn_db_free_value(e);
	tn_free(tn_off_of(e));
}

void tn_db_delete_entry(struct tn_ctx *x, const struct tn_key *k,
			struct kentry_shm *e)
{
	remove_entry(k->s, k, e);
}

/* A key found past its deadline: gone, and counted as expired. */
static void expire_now(struct tn_ctx *x, const struct tn_key *k,
		       struct kentry_shm *e)
{
	/* read-only commands expire keys too: a death in here must poison
	 * (dispatch clears the flag at unlock) */
	k->s->writing = 1;
	/* before the free: k may point into the entry (RANDOMKEY) */
	tn_watch_touch(k);
	tn_notify(x, TN_NOTIFY_EXPIRED, "expired", k);
	tn_effect_del(k);
	remove_entry(k->s, k, e);
	my_proc(x)->expired++;
}

struct kentry_shm *tn_db_find(struct tn_ctx *x, const struct tn_key *k)
{
	struct kentry_shm *e =
		tn_ptr(tn_dict_find(&k->s->keys, k->p, k->len, k->h));

	if (e && tn_kentry_expired(e, x->now_ms)) {
		expire_now(x, k, e);
		return NULL;
	}
	return e;
}

struct kentry_shm *tn_db_read(struct tn_ctx *x, const struct tn_key *k)
{
	struct kentry_shm *e = tn_db_find(x, k);

	if (e) {
		my_proc(x)->hits++;
		e->lru = tn_db_lru_clock(x->now_ms);
	} else {
		my_proc(x)->misses++;
		tn_notify(x, TN_NOTIFY_KEY_MISS, "keymiss", k);
	}
	return e;
}

/* tn_db_add without the "new" event: a key that only changes type. */
static struct kentry_shm *db_add(struct tn_ctx *x, const struct tn_key *k,
				 int type, uint64_t vlen)
{
	struct slab_cache_shm *c = tn_stripe_cache(k->s);
	tn_off off = tn_alloc(c, entry_bytes(k->len, vlen));
	struct kentry_shm *e = tn_ptr(off);

	if (!off)
		return NULL;
	e->next = 0;
	e->expire_ms = -1;
	e->vlen = vlen;
	e->ttl_slot = 0;
	e->type = (uint8_t)type;
	e->enc = TN_E_STR;
	e->lru = tn_db_lru_clock(x ? x->now_ms : tn_mstime());
	e->keylen = (uint32_t)k->len;
	memcpy(e->key, k->p, k->len);
	if (tn_dict_add(&k->s->keys, c, off, k->h) < 0) {
		tn_free(off);
		return NULL;
	}
	return e;
}

struct kentry_shm *tn_db_add(struct tn_ctx *x, const struct tn_key *k,
			     int type, uint64_t vlen)
{
	struct kentry_shm *e = db_add(x, k, type, vlen);

	if (e)
		tn_notify(x, TN_NOTIFY_NEW, "new", k);
	return e;
}

struct kentry_shm *tn_db_resize(struct tn_ctx *x, const struct tn_key *k,
				struct kentry_shm *e, uint64_t vlen)
{
	size_t need = entry_bytes(e->keylen, vlen);
	size_t have = tn_alloc_usable(tn_off_of(e));
	tn_off old = tn_off_of(e), moved;

	/* stay in place unless it does not fit or would waste half */
	if (need <= have && need * 2 > have) {
		e->vlen = vlen;
		return e;
	}
	moved = tn_realloc(tn_stripe_cache(k->s), old, need);
	if (!moved)
		return NULL;
	e = tn_ptr(moved);
	e->vlen = vlen;
	if (moved != old) {
		tn_dict_replace(&k->s->keys, old, moved, k->h);
		if (e->expire_ms >= 0)
			((tn_off *)tn_ptr(k->s->ttl_arr))[e->ttl_slot] = moved;
	}
	return e;
}

struct kentry_shm *tn_db_set_string(struct tn_ctx *x, const struct tn_key *k,
				    const void *v, size_t len, bool keepttl)
{
	struct kentry_shm *e = tn_db_find(x, k);

	if (e && e->type != TN_T_STRING) {
		int64_t exp = e->expire_ms;

		remove_entry(k->s, k, e);
		e = db_add(x, k, TN_T_STRING, len);
		if (e && keepttl && exp >= 0 &&
		    tn_db_set_expire(k->s, e, exp) < 0)
			return NULL;
	} else if (e) {
		e = tn_db_resize(x, k, e, len);
		if (e && !keepttl && e->expire_ms >= 0)
			tn_db_set_expire(k->s, e, -1);
	} else {
		e = tn_db_add(x, k, TN_T_STRING, len);
	}
	if (!e)
		return NULL;
	e->enc = TN_E_STR;
	e->lru = tn_db_lru_clock(x->now_ms);
	memcpy(tn_kentry_val(e), v, len);
	return e;
}

int tn_db_delete(struct tn_ctx *x, const struct tn_key *k)
{
	struct kentry_shm *e = tn_db_find(x, k);

	if (!e)
		return 0;
	remove_entry(k->s, k, e);
	return 1;
}

struct copy_ctx {
	struct slab_cache_shm *cache;
	struct dict_shm *dst;
	bool oom;
};

static void copy_member(void *arg, tn_off m)
{
	struct copy_ctx *cc = arg;
	struct member_shm *src = tn_ptr(m), *dst;
	tn_off n;

	if (cc->oom)
		return;
	n = tn_alloc(cc->cache, sizeof(*src) + src->len);
	if (!n) {
		cc->oom = true;
		return;
	}
	dst = tn_ptr(n);
	dst->next = 0;
	dst->len = src->len;
	memcpy(dst->data, src->data, src->len);
	if (tn_dict_add(cc->dst, cc->cache, n, tn_hash(dst->data, dst->len)) <
	    0) {
		tn_free(n);
		cc->oom = true;
	}
}

/* Deep copy of a set value into `cache`; 0 on OOM. */
static tn_off copy_set(struct slab_cache_shm *cache,
		       const struct kentry_shm *src)
{
	tn_off v, n;

	memcpy(&v, (const char *)src->key + src->keylen, sizeof(v));
	if (src->enc == TN_E_INTSET) {
		size_t sz = tn_alloc_usable(v);

		n = tn_alloc(cache, sz);
		if (n)
			memcpy(tn_ptr(n), tn_ptr(v), sz);
		return n;
	} else {
		struct copy_ctx cc = {.cache = cache};

		n = tn_alloc(cache, sizeof(struct dict_shm));
		if (!n)
			return 0;
		cc.dst = tn_ptr(n);
		tn_dict_init(cc.dst, TN_MEMBER_KEY_AT);
		tn_dict_foreach(tn_ptr(v), copy_member, &cc);
		if (cc.oom) {
			tn_dict_foreach(cc.dst, free_member, NULL);
			tn_dict_release(cc.dst);
			tn_free(n);
			return 0;
		}
		return n;
	}
}

struct kentry_shm *tn_db_copy_entry(struct tn_ctx *x, const struct tn_key *k,
				    const struct kentry_shm *src)
{
	struct kentry_shm *e;
	tn_off v;

	e = tn_db_add(x, k, src->type, src->vlen);
	if (!e)
		return NULL;
	e->enc = src->enc;
	if (src->type == TN_T_SET) {
		v = copy_set(tn_stripe_cache(k->s), src);
		if (!v) {
			remove_entry(k->s, k, e);
			return NULL;
		}
		memcpy(tn_kentry_val(e), &v, sizeof(v));
	} else {
		memcpy(tn_kentry_val(e), (const char *)src->key + src->keylen,
		       src->vlen);
	}
	if (src->expire_ms >= 0 &&
	    tn_db_set_expire(k->s, e, src->expire_ms) < 0) {
		remove_entry(k->s, k, e);
		return NULL;
	}
	return e;
}

void tn_db_dirty(struct tn_ctx *x, uint64_t n)
{
	tn_seg->dirty += n;
	if (x)
		x->dirty += n; /* dispatch then touches WATCHed keys */
}

static void free_entry(void *arg, tn_off off)
{
	struct kentry_shm *e = tn_ptr(off);

	tn_db_free_value(e);
	tn_free(off);
}

/* Drop every key of one stripe; the caller holds its lock. */
static void flush_stripe(struct stripe_shm *s)
{
	tn_watch_touch_flush(s);
	tn_dict_foreach(&s->keys, free_entry, NULL);
	tn_dict_release(&s->keys);
	tn_dict_init(&s->keys, TN_KENTRY_KEY_AT);
	if (s->ttl_arr)
		tn_free(s->ttl_arr);
	s->ttl_arr = 0;
	s->ttl_len = s->ttl_cap = 0;
}

/*
 * With effects on, every stripe is held at once (in ascending order, as
 * any multi-key command takes them): a write logged before FLUSHALL must
 * not survive it, nor one logged after it be gone, when the AOF replays.
 */
static void flush_all_logged(void)
{
	uint32_t n = tn_seg->nstripes, i;
	uint32_t *idx = calloc(n, sizeof(*idx));
	bool ok;

	if (!idx) {
		/* no memory for the list: one at a time, logged first */
		tn_effect_flushall();
		tn_effect_flush(false);
		for (i = 0; i < n; i++) {
			struct stripe_shm *s = tn_stripe(i);

			if (!tn_stripe_walk_lock(s, true))
				return;
			flush_stripe(s);
			tn_stripe_walk_unlock(s);
		}
		return;
	}
	for (i = 0; i < n; i++)
		idx[i] = i;
	ok = tn_stripes_lock(idx, (int)n, true);
	if (ok) {
		for (i = 0; i < n; i++)
			flush_stripe(tn_stripe(i));
		tn_effect_flushall();
		tn_effect_flush(false);
	}
	tn_stripes_unlock(idx, (int)n);
	free(idx);
}

void tn_db_flush_all(struct tn_ctx *x)
{
	uint32_t i;

	if (tn_effects_on() && tn_stripes_held != TN_HELD_ALL) {
		flush_all_logged();
		return;
	}
	for (i = 0; i < tn_seg->nstripes; i++) {
		struct stripe_shm *s = tn_stripe(i);

		/* a death mid-flush leaves the stripe half-freed: the next
		 * locker must see a writer died, and poison the store */
		if (!tn_stripe_walk_lock(s, true))
			return;
		flush_stripe(s);
		tn_stripe_walk_unlock(s);
	}
	/* inside EXEC, which holds every stripe and logs at its end */
	tn_effect_flushall();
}

uint64_t tn_db_size(void)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < tn_seg->nstripes; i++) {
		struct stripe_shm *s = tn_stripe(i);

		/* INFO inside an EXEC that holds some stripes: taking the
		 * others now would break the ascending order, and its own are
		 * not recursive.  A count read without the locks will do. */
		if (tn_stripes_held == TN_HELD_SOME) {
			n += __atomic_load_n(&s->keys.used[0], __ATOMIC_RELAXED) +
			     __atomic_load_n(&s->keys.used[1], __ATOMIC_RELAXED);
			continue;
		}
		if (!tn_stripe_walk_lock(s, false))
			continue;
		n += tn_dict_size(&s->keys);
		tn_stripe_walk_unlock(s);
	}
	return n;
}

uint64_t tn_db_expires(void)
{
	uint64_t n = 0;
	uint32_t i;

	for (i = 0; i < tn_seg->nstripes; i++)
		n += tn_stripe(i)->ttl_len;
	return n;
}
