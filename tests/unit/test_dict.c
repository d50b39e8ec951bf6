/*
 * test_dict.c - the shared dict: SipHash vectors, add/find/unlink at
 * scale, incremental rehash, SCAN across resizes, random sampling, and
 * two processes working one stripe while it rehashes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/shm.h"
#include "tests/unit/seg_fixture.h"

/* Entries laid out like store's member_shm: key length at 8, key at 12. */
struct ent {
	tn_off next;
	uint32_t len;
	char key[];
} __attribute__((packed));
#define ENT_KEY_AT 12

static int seg_fd = -1;

static void seg_setup(void)
{

	seg_fd = tn_test_seg_up(4, 2, 64u << 20, ENT_KEY_AT);
}

static void seg_teardown(void)
{
	tn_segment_destroy(seg_fd);
}

TestSuite(dict, .init = seg_setup, .fini = seg_teardown);

static size_t key_of(char *buf, const char *pfx, long i)
{
	return (size_t)snprintf(buf, 32, "%s:%ld", pfx, i);
}

static tn_off ent_new(struct slab_cache_shm *c, const char *key, size_t len)
{
	tn_off e = tn_alloc(c, sizeof(struct ent) + len);
	struct ent *p = tn_ptr(e);

	cr_assert_neq(e, 0);
	p->next = 0;
	p->len = (uint32_t)len;
	memcpy(p->key, key, len);
	return e;
}

static long ent_id(tn_off e)
{
	struct ent *p = tn_ptr(e);
	const char *colon = memchr(p->key, ':', p->len);
	char num[32];
	size_t n;

	/* The key is not NUL-terminated: copy its digits out first. */
	if (!colon)
		return -1;
	n = p->len - (size_t)(colon + 1 - p->key);
	if (n >= sizeof(num))
		return -1;
	memcpy(num, colon + 1, n);
	num[n] = '\0';
	return strtol(num, NULL, 10);
}

static tn_off add(struct dict_shm *d, struct slab_cache_shm *c, const char *pfx,
		  long i)
{
	char k[32];
	size_t n = key_of(k, pfx, i);
	tn_off e = ent_new(c, k, n);

	cr_assert_eq(tn_dict_add(d, c, e, tn_hash(k, n)), 0);
	return e;
}

static tn_off find(struct dict_shm *d, const char *pfx, long i)
{
	char k[32];
	size_t n = key_of(k, pfx, i);

	return tn_dict_find(d, k, n, tn_hash(k, n));
}

static tn_off unlink_key(struct dict_shm *d, struct slab_cache_shm *c,
			 const char *pfx, long i)
{
	char k[32];
	size_t n = key_of(k, pfx, i);

	return tn_dict_unlink(d, c, k, n, tn_hash(k, n));
}

static void count_fn(void *arg, tn_off e)
{
	(*(uint64_t *)arg)++;
}

static void free_fn(void *arg, tn_off e)
{
	tn_free(e);
}

static void dict_destroy(struct dict_shm *d)
{
	tn_dict_foreach(d, free_fn, NULL);
	tn_dict_release(d);
}

Test(dict, siphash13_vectors)
{
	uint8_t key[16], msg[4] = {0, 1, 2, 3};
	static const uint64_t want[4] = {
	    0xabac0158050fc4dcULL,
	    0xc9f49bf37d57ca93ULL,
	    0x82cb9b024dc7d44dULL,
	    0x8bf80ab8e7ddf7fbULL,
	};

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	tn_hash_seed(key);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(tn_hash(msg, (size_t)i), want[i], "len %d", i);
	memset(key, 0, sizeof(key));
	tn_hash_seed(key);
	cr_assert_eq(tn_hash("", 0), 0xd1fba762150c532cULL);
	cr_assert_eq(tn_hash("siphash", 7), 0x8264ceeccb16bcbeULL);
}

Test(dict, seed_changes_hash)
{
	uint8_t s1[16] = {1}, s2[16] = {2};
	uint64_t a, b;

	tn_hash_seed(s1);
	a = tn_hash("hello world, long key", 21);
	cr_assert_eq(tn_hash("hello world, long key", 21), a);
	tn_hash_seed(s2);
	b = tn_hash("hello world, long key", 21);
	cr_assert_neq(a, b);
}

Test(dict, add_find_unlink_100k)
{
	enum { N = 100000 };
	struct stripe_shm *s = tn_stripe(0);
	struct dict_shm *d = &s->keys;
	struct slab_cache_shm *c = tn_stripe_cache(s);
	tn_off e;

	for (long i = 0; i < N; i++)
		add(d, c, "key", i);
	cr_assert_eq(tn_dict_size(d), N);
	while (tn_dict_rehash(d, c, 100))
		;
	cr_assert_eq(d->size[0], 131072);
	cr_assert_eq(tn_dict_overhead(d), 131072 * sizeof(tn_off));
	for (long i = 0; i < N; i++) {
		e = find(d, "key", i);
		cr_assert_neq(e, 0, "key %ld lost", i);
		cr_assert_eq(ent_id(e), i);
	}
	cr_assert_eq(find(d, "key", N), 0);
	cr_assert_eq(find(d, "kex", 5), 0);
	cr_assert_eq(tn_dict_find(d, "key:1", 4, tn_hash("key:1", 4)), 0);

	for (long i = 0; i < N; i += 2) {
		e = unlink_key(d, c, "key", i);
		cr_assert_neq(e, 0);
		cr_assert_eq(ent_id(e), i);
		tn_free(e);
	}
	cr_assert_eq(unlink_key(d, c, "key", 0), 0, "unlinked twice");
	cr_assert_eq(tn_dict_size(d), N / 2);
	for (long i = 0; i < N; i++)
		cr_assert_eq(find(d, "key", i) != 0, i % 2 == 1, "key %ld", i);
	for (long i = 1; i < N; i += 2)
		tn_free(unlink_key(d, c, "key", i));
	cr_assert_eq(tn_dict_size(d), 0);
	while (tn_dict_rehash(d, c, 100))
		;
	cr_assert_leq(d->size[0], 8, "never shrank: %lu",
		      (unsigned long)d->size[0]);
	tn_dict_release(d);
	cr_assert_eq(tn_heap_used(), 0, "leak: %lu",
		     (unsigned long)tn_heap_used());
}

Test(dict, incremental_rehash)
{
	struct stripe_shm *s = tn_stripe(1);
	struct dict_shm *d = &s->keys;
	struct slab_cache_shm *c = tn_stripe_cache(s);
	int steps = 0;
	long i;

	cr_assert_eq(d->size[0], 0);
	add(d, c, "k", 0);
	cr_assert_eq(d->size[0], 4, "first table has 4 buckets");
	for (i = 1; i < 1024; i++)
		add(d, c, "k", i);
	while (tn_dict_rehash(d, c, 100))
		;
	cr_assert_eq(d->size[0], 1024);
	/* The 1025th entry starts a grow that is not done at once. */
	add(d, c, "k", i++);
	cr_assert_geq(d->rehash_idx, 0);
	cr_assert_eq(d->size[1], 2048);
	cr_assert_gt(d->used[0], 0);
	cr_assert_gt(d->used[1], 0);
	cr_assert_eq(tn_dict_size(d), 1025);
	/* Everything stays reachable mid-rehash, and each find moves a
	 * bucket. */
	for (long k = 0; k < 100; k++)
		cr_assert_neq(find(d, "k", k), 0, "k %ld mid-rehash", k);
	cr_assert_geq(d->rehash_idx, 0, "100 finds cannot finish 1024 buckets");
	for (long k = 0; k < 1025; k++)
		cr_assert_neq(find(d, "k", k), 0);
	while (tn_dict_rehash(d, c, 1))
		steps++;
	cr_assert_eq(d->rehash_idx, -1);
	cr_assert_eq(d->size[0], 2048);
	cr_assert_eq(d->table[1], 0);
	cr_assert_eq(tn_dict_size(d), 1025);
	for (long k = 0; k < 1025; k++)
		cr_assert_neq(find(d, "k", k), 0);
	dict_destroy(d);
	cr_assert_eq(tn_heap_used(), 0);
}

Test(dict, shrink)
{
	struct stripe_shm *s = tn_stripe(2);
	struct dict_shm *d = &s->keys;
	struct slab_cache_shm *c = tn_stripe_cache(s);

	for (long i = 0; i < 1000; i++)
		add(d, c, "s", i);
	while (tn_dict_rehash(d, c, 100))
		;
	cr_assert_eq(d->size[0], 1024);
	/* Without a cache, unlink leaves the size alone. */
	for (long i = 0; i < 950; i++)
		tn_free(unlink_key(d, NULL, "s", i));
	cr_assert_eq(d->size[0], 1024);
	tn_dict_shrink(d, c);
	cr_assert_geq(d->rehash_idx, 0, "shrink must start a rehash");
	cr_assert_eq(d->size[1], 64);
	while (tn_dict_rehash(d, c, 1))
		;
	cr_assert_eq(d->size[0], 64);
	for (long i = 950; i < 1000; i++)
		cr_assert_neq(find(d, "s", i), 0);
	/* 50 of 64 is not sparse: no shrink. */
	tn_dict_shrink(d, c);
	cr_assert_eq(d->rehash_idx, -1);
	dict_destroy(d);
	cr_assert_eq(tn_heap_used(), 0);
}

struct seen {
	uint8_t *hit;
	long max;
	long calls;
};

static void seen_fn(void *arg, tn_off e)
{
	struct seen *s = arg;
	long id = ent_id(e);

	cr_assert(id >= 0 && id < s->max, "bad entry id %ld", id);
	s->hit[id]++;
	s->calls++;
}

Test(dict, scan_plain)
{
	enum { N = 5000 };
	struct stripe_shm *s = tn_stripe(0);
	struct dict_shm *d = &s->keys;
	struct slab_cache_shm *c = tn_stripe_cache(s);
	struct seen sn = {calloc(N, 1), N, 0};
	uint64_t cur = 0;

	cr_assert_eq(tn_dict_scan(d, 0, seen_fn, &sn), 0, "empty dict");
	for (long i = 0; i < N; i++)
		add(d, c, "p", i);
	while (tn_dict_rehash(d, c, 100))
		;
	do {
		cur = tn_dict_scan(d, cur, seen_fn, &sn);
	} while (cur);
	/* Without resizes, exactly once each. */
	for (long i = 0; i < N; i++)
		cr_assert_eq(sn.hit[i], 1, "key %ld seen %d times", i,
			     sn.hit[i]);
	dict_destroy(d);
	free(sn.hit);
}

Test(dict, scan_across_grow)
{
	enum { STABLE = 1000, MAX = 200000 };
	struct stripe_shm *s = tn_stripe(1);
	struct dict_shm *d = &s->keys;
	struct slab_cache_shm *c = tn_stripe_cache(s);
	struct seen sn = {calloc(MAX, 1), MAX, 0};
	long next = STABLE;
	int mid_rehash = 0, calls = 0;
	uint64_t cur = 0, first_size;

	for (long i = 0; i < STABLE; i++)
		add(d, c, "g", i);
	while (tn_dict_rehash(d, c, 100))
		;
	first_size = d->size[0];
	do {
		cur = tn_dict_scan(d, cur, seen_fn, &sn);
		calls++;
		if (d->rehash_idx >= 0)
			mid_rehash++;
		/* Inserting while scanning grows the table under the
		 * cursor several times. */
		for (int k = 0; k < 40 && next < MAX; k++)
			add(d, c, "g", next++);
	} while (cur);
	cr_assert_gt(d->size[0], 8 * first_size, "table did not grow enough");
	cr_assert_gt(mid_rehash, 0, "no scan call ran during a rehash");
	for (long i = 0; i < STABLE; i++)
		cr_assert_geq(sn.hit[i], 1, "stable key %ld missed", i);
	dict_destroy(d);
	free(sn.hit);
}

Test(dict, scan_across_shrink)
{
	enum { N = 40000 };
	struct stripe_shm *s = tn_stripe(2);
	struct dict_shm *d = &s->keys;
	struct slab_cache_shm *c = tn_stripe_cache(s);
	struct seen sn = {calloc(N, 1), N, 0};
	long victim = 0;
	int mid_rehash = 0;
	uint64_t cur = 0, first_size, min_size = UINT64_MAX;

	for (long i = 0; i < N; i++)
		add(d, c, "h", i);
	while (tn_dict_rehash(d, c, 100))
		;
	first_size = d->size[0];
	do {
		cur = tn_dict_scan(d, cur, seen_fn, &sn);
		if (d->rehash_idx >= 0)
			mid_rehash++;
		/* Delete every key but the stable ones (id % 16 == 0);
		 * unlink shrinks the table as it empties. */
		for (int k = 0; k < 40 && victim < N; victim++) {
			if (victim % 16 == 0)
				continue;
			tn_free(unlink_key(d, c, "h", victim));
			k++;
		}
		/* As the owning shard's cron would: lets several shrinks
		 * finish while the scan goes on. */
		tn_dict_rehash(d, c, 50);
		if (d->size[0] < min_size)
			min_size = d->size[0];
	} while (cur);
	cr_assert_lt(min_size, first_size / 4, "no shrink finished mid-scan");
	cr_assert_gt(mid_rehash, 0);
	while (tn_dict_rehash(d, c, 100))
		;
	cr_assert_leq(d->size[0], 8192, "%lu", (unsigned long)d->size[0]);
	for (long i = 0; i < N; i += 16)
		cr_assert_geq(sn.hit[i], 1, "stable key %ld missed", i);
	cr_assert_eq(tn_dict_size(d), N / 16);
	dict_destroy(d);
	free(sn.hit);
}

Test(dict, random_entries)
{
	enum { N = 1000 };
	struct stripe_shm *s = tn_stripe(3);
	struct dict_shm *d = &s->keys;
	struct slab_cache_shm *c = tn_stripe_cache(s);
	uint8_t *hit = calloc(N, 1);
	int distinct = 0, during_rehash = 0;

	cr_assert_eq(tn_dict_random(d), 0);
	for (long i = 0; i < N; i++)
		add(d, c, "r", i);
	for (int k = 0; k < 20000; k++) {
		tn_off e;
		long id;

		if (d->rehash_idx >= 0)
			during_rehash++;
		e = tn_dict_random(d);
		cr_assert_neq(e, 0);
		id = ent_id(e);
		cr_assert(id >= 0 && id < N);
		cr_assert_eq(find(d, "r", id), e, "random gave a stranger");
		if (!hit[id]++)
			distinct++;
		/* Keep a rehash going some of the time. */
		if (k == 10000) {
			for (long i = N; i < 1100; i++)
				add(d, c, "r", i);
			for (long i = N; i < 1100; i++)
				tn_free(unlink_key(d, NULL, "r", i));
		}
	}
	cr_assert_gt(during_rehash, 0);
	cr_assert_gt(distinct, N * 95 / 100, "only %d distinct", distinct);
	dict_destroy(d);
	free(hit);
}

Test(dict, replace_entry)
{
	struct stripe_shm *s = tn_stripe(0);
	struct dict_shm *d = &s->keys;
	struct slab_cache_shm *c = tn_stripe_cache(s);
	tn_off old, nw;
	char k[32];
	size_t n;

	for (long i = 0; i < 100; i++)
		add(d, c, "x", i);
	old = find(d, "x", 42);
	n = key_of(k, "x", 42);
	nw = tn_realloc(c, old, 500);
	cr_assert_neq(nw, old);
	tn_dict_replace(d, old, nw, tn_hash(k, n));
	cr_assert_eq(find(d, "x", 42), nw);
	for (long i = 0; i < 100; i++)
		cr_assert_neq(find(d, "x", i), 0, "chain broken at %ld", i);
	cr_assert_eq(tn_dict_size(d), 100);
	dict_destroy(d);
	cr_assert_eq(tn_heap_used(), 0);
}

/* The store's entries are packed: the key length is not aligned. */
struct kent {
	tn_off next;
	int64_t expire;
	uint64_t vlen;
	uint32_t slot;
	uint8_t type, enc;
	uint16_t lru;
	uint32_t len;
	char key[];
} __attribute__((packed));

Test(dict, packed_entries)
{
	struct slab_cache_shm *c = tn_heap_cache(4);
	struct dict_shm d;
	uint64_t n = 0;

	tn_dict_init(&d, offsetof(struct kent, key));
	for (uint32_t i = 0; i < 3000; i++) {
		char k[16];
		uint32_t len = (uint32_t)snprintf(k, sizeof(k), "%u", i);
		tn_off e = tn_alloc(c, sizeof(struct kent) + len);
		struct kent *p = tn_ptr(e);

		p->len = len;
		memcpy(p->key, k, len);
		cr_assert_eq(tn_dict_add(&d, c, e, tn_hash(k, len)), 0);
	}
	for (uint32_t i = 0; i < 3000; i++) {
		char k[16];
		uint32_t len = (uint32_t)snprintf(k, sizeof(k), "%u", i);
		tn_off e = tn_dict_find(&d, k, len, tn_hash(k, len));
		struct kent *p = tn_ptr(e);

		cr_assert_neq(e, 0);
		cr_assert_eq(p->len, len);
	}
	tn_dict_foreach(&d, count_fn, &n);
	cr_assert_eq(n, 3000);
	dict_destroy(&d);
	cr_assert_eq(tn_heap_used(), 0);
}

Test(dict, add_without_memory)
{
	struct slab_cache_shm *c = tn_heap_cache(0);
	struct dict_shm d;
	tn_off hog, e;

	tn_dict_init(&d, ENT_KEY_AT);
	e = ent_new(c, "k:1", 3);
	/* Take every page, then the first table cannot be made. */
	hog = tn_alloc(c, tn_heap()->heap_bytes - TN_PAGE_SIZE);
	cr_assert_neq(hog, 0);
	cr_assert_eq(tn_dict_add(&d, c, e, tn_hash("k:1", 3)), -ENOMEM);
	cr_assert_eq(tn_dict_size(&d), 0);
	tn_free(hog);
	cr_assert_eq(tn_dict_add(&d, c, e, tn_hash("k:1", 3)), 0);
	cr_assert_eq(tn_dict_find(&d, "k:1", 3, tn_hash("k:1", 3)), e);
	dict_destroy(&d);
	cr_assert_eq(tn_heap_used(), 0);
}

/*
 * Work one stripe under its lock: add keys pfx:0..n-1, find each right
 * after adding it, and unlink every third one a little later.  Returns
 * the number of operations that went wrong.
 */
static int churn(struct stripe_shm *s, const char *pfx, long n, int *rehash)
{
	struct slab_cache_shm *c = tn_stripe_cache(s);
	int bad = 0;

	for (long i = 0; i < n; i++) {
		if (tn_lock(&s->lock))
			return -1;
		if (s->keys.rehash_idx >= 0)
			(*rehash)++;
		add(&s->keys, c, pfx, i);
		if (!find(&s->keys, pfx, i))
			bad++;
		if (i >= 10 && (i - 10) % 3 == 0) {
			tn_off e = unlink_key(&s->keys, c, pfx, i - 10);

			if (!e)
				bad++;
			tn_free(e);
		}
		tn_unlock(&s->lock);
	}
	return bad;
}

Test(dict, two_processes_one_stripe)
{
	enum { N = 30000 };
	struct stripe_shm *s = tn_stripe(1);
	int rehash = 0, child_rehash = 0, status, bad;
	uint64_t count = 0, expect = 0;
	pid_t pid;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		bad = churn(s, "child", N, &child_rehash);
		_exit(bad == 0 && child_rehash > 0 ? 0 : 1);
	}
	bad = churn(s, "parent", N, &rehash);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child crashed");
	cr_assert_eq(WEXITSTATUS(status), 0, "child saw a lost key");
	cr_assert_eq(bad, 0, "parent saw a lost key");
	cr_assert_gt(rehash, 0, "no rehash during the run");

	cr_assert_eq(tn_lock(&s->lock), 0);
	for (long i = 0; i < N; i++) {
		bool gone = i < N - 10 && i % 3 == 0;

		cr_assert_eq(find(&s->keys, "child", i) == 0, gone, "child %ld",
			     i);
		cr_assert_eq(find(&s->keys, "parent", i) == 0, gone,
			     "parent %ld", i);
		expect += gone ? 0 : 2;
	}
	cr_assert_eq(tn_dict_size(&s->keys), expect);
	tn_dict_foreach(&s->keys, count_fn, &count);
	cr_assert_eq(count, expect);
	dict_destroy(&s->keys);
	tn_unlock(&s->lock);
	cr_assert_eq(tn_heap_used(), 0, "leak %lu",
		     (unsigned long)tn_heap_used());
}
