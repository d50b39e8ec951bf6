/*
 * dict.c - the offset-addressed chained hash table of the stripes and the
 * large sets: Redis' dict with two tables, incremental rehash and the
 * reverse-binary SCAN cursor.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shm/shm.h"
#include "util/util.h"

#define DICT_MIN_SIZE 4
/* A rehash step gives up after this many empty buckets per bucket asked
 * for, so one step stays cheap on a sparse table (as Redis). */
#define DICT_EMPTY_VISITS 10
/* The low hash bits pick the stripe: buckets use the bits above them. */
#define BUCKET_SHIFT 16

#define likely(x)   __builtin_expect(!!(x), 1)

static inline tn_off *ent_next(tn_off e)
{
	return (tn_off *)(tn_base + e);
}

static inline const char *ent_key(const struct dict_shm *d, tn_off e)
{
	return tn_base + e + d->key_at;
}

static inline uint32_t ent_klen(const struct dict_shm *d, tn_off e)
{
	uint32_t len;

	/* Entries may be packed: the length need not be aligned. */
	memcpy(&len, tn_base + e + d->key_at - 4, sizeof(len));
	return len;
}

static inline bool ent_match(const struct dict_shm *d, tn_off e,
			     const void *key, size_t len)
{
	return ent_klen(d, e) == len && !memcmp(ent_key(d, e), key, len);
}

static inline uint64_t bucket_of(uint64_t h, uint64_t size)
{
	return (h >> BUCKET_SHIFT) & (size - 1);
}

static inline tn_off *table(const struct dict_shm *d, int t)
{
	return (tn_off *)tn_ptr(d->table[t]);
}

static inline bool rehashing(const struct dict_shm *d)
{
	return d->rehash_idx >= 0;
}

void tn_dict_init(struct dict_shm *d, uint32_t key_at)
{
	memset(d, 0, sizeof(*d));
	d->rehash_idx = -1;
	d->key_at = key_at;
}

static void rehash_done(struct dict_shm *d)
{
	tn_free(d->table[0]);
	d->table[0] = d->table[1];
	d->size[0] = d->size[1];
	d->used[0] = d->used[1];
	d->table[1] = 0;
	d->size[1] = 0;
	d->used[1] = 0;
	d->rehash_idx = -1;
}

/* Move up to n buckets to the new table.  Never allocates, so the read
 * paths may call it too. */
static int rehash(struct dict_shm *d, int n)
{
	int empty = n * DICT_EMPTY_VISITS;
	tn_off *t0, *t1;
	uint64_t m1, idx;
	tn_off e, next, *b;

	if (!rehashing(d))
		return 0;
	t0 = table(d, 0);
	t1 = table(d, 1);
	m1 = d->size[1] - 1;
	idx = (uint64_t)d->rehash_idx;
	while (n-- > 0 && d->used[0]) {
		while (!t0[idx]) {
			/* used[0] > 0 guarantees an entry ahead; the bound only
			 * guards against a corrupted count. */
			if (++idx >= d->size[0] || --empty == 0) {
				if (idx >= d->size[0])
					idx = d->size[0] - 1;
				d->rehash_idx = (int64_t)idx;
				return 1;
			}
		}
		for (e = t0[idx]; e; e = next) {
			next = *ent_next(e);
			b = &t1[bucket_of(
			    tn_hash(ent_key(d, e), ent_klen(d, e)), m1 + 1)];
			*ent_next(e) = *b;
			*b = e;
			d->used[0]--;
			d->used[1]++;
		}
		t0[idx] = 0;
		idx++;
	}
	d->rehash_idx = (int64_t)idx;
	if (!d->used[0]) {
		rehash_done(d);
		return 0;
	}
	return 1;
}

int tn_dict_rehash(struct dict_shm *d, struct slab_cache_shm *c, int steps)
{
	if (rehash(d, steps))
		return 1;
	/* Deletions that went on during a shrink may call for another:
	 * the owner's cron calling this keeps tables tight. */
	if (c)
		tn_dict_shrink(d, c);
	return rehashing(d);
}

static uint64_t next_pow2(uint64_t n)
{
	if (n <= DICT_MIN_SIZE)
		return DICT_MIN_SIZE;
	if (n > (1ull << 62))
		return 1ull << 62;
	return 1ull << (64 - __builtin_clzll(n - 1));
}

/* Start a resize to hold `want` entries (or create the first table). */
static int expand(struct dict_shm *d, struct slab_cache_shm *c, uint64_t want)
{
	uint64_t size = next_pow2(want);
	tn_off t;

	if (rehashing(d) || (d->table[0] && size == d->size[0]))
		return -EINVAL;
	if (size > SIZE_MAX / sizeof(tn_off))
		return -ENOMEM;
	t = tn_alloc(c, size * sizeof(tn_off));
	if (!t)
		return -ENOMEM;
	memset(tn_ptr(t), 0, size * sizeof(tn_off));
	if (!d->table[0]) {
		d->table[0] = t;
		d->size[0] = size;
		d->used[0] = 0;
		return 0;
	}
	d->table[1] = t;
	d->size[1] = size;
	d->used[1] = 0;
	d->rehash_idx = 0;
	return 0;
}

/* The link that points at the entry with this key, or NULL; *tp gets
 * the table it is in. */
static inline tn_off *slot_of(struct dict_shm *d, const void *key, size_t len,
			      uint64_t h, int *tp)
{
	tn_off *pp;
	uint64_t b;
	int t;

	for (t = 0; t < 2; t++) {
		b = bucket_of(h, d->size[t]);
		/* Buckets below rehash_idx have moved to the new table. */
		if (t == 1 || !rehashing(d) || b >= (uint64_t)d->rehash_idx) {
			for (pp = &table(d, t)[b]; *pp; pp = ent_next(*pp)) {
				if (ent_match(d, *pp, key, len)) {
					*tp = t;
					return pp;
				}
			}
		}
		if (likely(!rehashing(d)))
			break;
	}
	return NULL;
}

tn_off tn_dict_find(struct dict_shm *d, const void *key, size_t len, uint64_t h)
{
	tn_off *pp;
	int t;

	if (tn_unlikely(d->used[0] + d->used[1] == 0))
		return 0;
	if (tn_unlikely(rehashing(d)))
		rehash(d, 1);
	pp = slot_of(d, key, len, h, &t);
	return pp ? *pp : 0;
}

int tn_dict_add(struct dict_shm *d, struct slab_cache_shm *c, tn_off e,
		uint64_t h)
{
	tn_off *b;
	int t;

	if (rehashing(d))
		rehash(d, 1);
	if (tn_unlikely(!d->table[0])) {
		if (expand(d, c, DICT_MIN_SIZE))
			return -ENOMEM;
	} else if (!rehashing(d) && d->used[0] >= d->size[0]) {
		/* Without memory to grow, longer chains still work. */
		expand(d, c, d->used[0] + 1);
	}
	t = rehashing(d) ? 1 : 0;
	b = &table(d, t)[bucket_of(h, d->size[t])];
	*ent_next(e) = *b;
	*b = e;
	d->used[t]++;
	return 0;
}

void tn_dict_shrink(struct dict_shm *d, struct slab_cache_shm *c)
{
	if (rehashing(d) || !d->table[0] || d->size[0] <= DICT_MIN_SIZE ||
	    (d->flags & TN_DICT_NO_SHRINK))
		return;
	if (d->used[0] * 10 >= d->size[0])
		return;
	if (expand(d, c, d->used[0]) == 0 && !d->used[0])
		rehash(d, 1);
}

tn_off tn_dict_unlink(struct dict_shm *d, struct slab_cache_shm *c,
		      const void *key, size_t len, uint64_t h)
{
	tn_off e, *pp;
	int t;

	if (d->used[0] + d->used[1] == 0)
		return 0;
	if (rehashing(d))
		rehash(d, 1);
	pp = slot_of(d, key, len, h, &t);
	if (!pp)
		return 0;
	e = *pp;
	*pp = *ent_next(e);
	*ent_next(e) = 0;
	d->used[t]--;
	if (c)
		tn_dict_shrink(d, c);
	return e;
}

void tn_dict_replace(struct dict_shm *d, tn_off old, tn_off new, uint64_t h)
{
	tn_off *pp;
	uint64_t b;
	int t;

	if (!d->table[0])
		return;
	for (t = 0; t < 2; t++) {
		b = bucket_of(h, d->size[t]);
		for (pp = &table(d, t)[b]; *pp; pp = ent_next(*pp)) {
			/* old may be freed already (after tn_realloc): only its
			 * offset is compared, never read. */
			if (*pp == old) {
				*pp = new;
				return;
			}
		}
		if (!rehashing(d))
			break;
	}
}

tn_off tn_dict_random(struct dict_shm *d)
{
	tn_off e, *t0, *t1;
	uint64_t i, span, len;

	if (!tn_dict_size(d))
		return 0;
	rehash(d, 1);
	t0 = table(d, 0);
	if (rehashing(d)) {
		/* Buckets below rehash_idx are empty: skip them. */
		t1 = table(d, 1);
		span = d->size[0] + d->size[1] - (uint64_t)d->rehash_idx;
		do {
			i = (uint64_t)d->rehash_idx + tn_rand64() % span;
			e = i >= d->size[0] ? t1[i - d->size[0]] : t0[i];
		} while (!e);
	} else {
		do {
			e = t0[tn_rand64() & (d->size[0] - 1)];
		} while (!e);
	}
	/* Then a uniform pick along the chain. */
	len = 0;
	for (tn_off x = e; x; x = *ent_next(x))
		len++;
	for (i = tn_rand64() % len; i; i--)
		e = *ent_next(e);
	return e;
}

static inline uint64_t rev64(uint64_t v)
{
	v = ((v >> 1) & 0x5555555555555555ULL) |
	    ((v & 0x5555555555555555ULL) << 1);
	v = ((v >> 2) & 0x3333333333333333ULL) |
	    ((v & 0x3333333333333333ULL) << 2);
	v = ((v >> 4) & 0x0f0f0f0f0f0f0f0fULL) |
	    ((v & 0x0f0f0f0f0f0f0f0fULL) << 4);
	return __builtin_bswap64(v);
}

static void scan_bucket(tn_off e, tn_dict_scan_fn fn, void *arg)
{
	tn_off next;

	for (; e; e = next) {
		next = *ent_next(e);
		fn(arg, e);
	}
}

uint64_t tn_dict_scan(struct dict_shm *d, uint64_t v, tn_dict_scan_fn fn,
		      void *arg)
{
	tn_off *ts, *tl;
	uint64_t ms, ml;

	if (!tn_dict_size(d))
		return 0;
	if (!rehashing(d)) {
		ms = d->size[0] - 1;
		scan_bucket(table(d, 0)[v & ms], fn, arg);
		/* Increment the reversed cursor: walks high bits first, so
		 * a resize between calls neither skips nor restarts. */
		v |= ~ms;
		v = rev64(v);
		v++;
		v = rev64(v);
		return v;
	}
	/* Visit the small table's bucket, then every bucket of the large
	 * table that expands it. */
	if (d->size[0] <= d->size[1]) {
		ts = table(d, 0);
		tl = table(d, 1);
		ms = d->size[0] - 1;
		ml = d->size[1] - 1;
	} else {
		ts = table(d, 1);
		tl = table(d, 0);
		ms = d->size[1] - 1;
		ml = d->size[0] - 1;
	}
	scan_bucket(ts[v & ms], fn, arg);
	do {
		scan_bucket(tl[v & ml], fn, arg);
		v |= ~ml;
		v = rev64(v);
		v++;
		v = rev64(v);
	} while (v & (ms ^ ml));
	return v;
}

void tn_dict_foreach(struct dict_shm *d, tn_dict_scan_fn fn, void *arg)
{
	uint64_t i;
	int t;

	for (t = 0; t < 2; t++) {
		if (!d->table[t])
			continue;
		for (i = 0; i < d->size[t]; i++)
			scan_bucket(table(d, t)[i], fn, arg);
	}
}

void tn_dict_release(struct dict_shm *d)
{
	tn_free(d->table[0]);
	tn_free(d->table[1]);
	tn_dict_init(d, d->key_at);
}

void tn_dict_hold_size(struct dict_shm *d, bool on)
{
	if (!on) {
		d->flags &= ~TN_DICT_NO_SHRINK;
		return;
	}
	/* a shrink moves entries from visited buckets to unvisited ones */
	while (rehashing(d) && d->size[1] < d->size[0])
		rehash(d, 1024);
	d->flags |= TN_DICT_NO_SHRINK;
}

bool tn_dict_size_held(const struct dict_shm *d)
{
	return (d->flags & TN_DICT_NO_SHRINK) != 0;
}

uint64_t tn_dict_overhead(const struct dict_shm *d)
{
	return (d->size[0] + d->size[1]) * sizeof(tn_off);
}
