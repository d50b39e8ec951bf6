/*
 * test_expire.c - active expiry on a real segment: tn_expire_stripe's
 * sampling removes expired keys and only those, stops when few are stale
 * or when its deadline passes; tn_expire_cycle keeps to the shard's
 * stripes and budget, and finishes resizes no client drives.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "store/store.h"
#include "tests/unit/seg_fixture.h"
#include "util/util.h"

#define NSTRIPES 4

static int seg_fd = -1;
static struct tn_client client;
static uint64_t khash[8];
static struct tn_ctx ctx;
static unsigned name_seq;

static void setup(void)
{

	seg_fd = tn_test_seg_up(NSTRIPES, 2, 96u << 20, TN_KENTRY_KEY_AT);
	memset(&client, 0, sizeof(client));
	client.khash = khash;
	client.khash_cap = 8;
	client.resp = 2;
	ctx = (struct tn_ctx){.c = &client, .now_ms = tn_mstime()};
	name_seq = 0;
}

static void teardown(void)
{
	tn_test_seg_down(seg_fd);
}

TestSuite(expire_unit, .init = setup, .fini = teardown, .timeout = 60);

/* A fresh key name that hashes to `stripe`, in buf. */
static struct tn_key key_in(uint32_t stripe, char *buf, size_t len)
{
	for (;;) {
		struct tn_key k;

		snprintf(buf, len, "key:%u", name_seq++);
		k = tn_key_of(buf, strlen(buf));
		if (k.s == tn_stripe(stripe))
			return k;
	}
}

/* Add a string key with an absolute expiry (-1: none); its name in buf. */
static void add_key(uint32_t stripe, int64_t expire_ms, char *buf, size_t len)
{
	struct tn_key k = key_in(stripe, buf, len);
	struct kentry_shm *e = tn_db_set_string(&ctx, &k, "v", 1, false);

	cr_assert_not_null(e);
	if (expire_ms >= 0)
		cr_assert_eq(tn_db_set_expire(k.s, e, expire_ms), 0);
}

static bool present(const char *name)
{
	struct tn_key k = tn_key_of(name, strlen(name));

	return tn_dict_find(&k.s->keys, k.p, k.len, k.h) != 0;
}

/* Every TTL slot points at a live entry that knows its slot. */
static void check_ttl_index(struct stripe_shm *s)
{
	tn_off *arr = tn_ptr(s->ttl_arr);
	uint32_t i;

	cr_assert_leq(s->ttl_len, s->ttl_cap);
	for (i = 0; i < s->ttl_len; i++) {
		struct kentry_shm *e = tn_ptr(arr[i]);

		cr_assert_eq(e->ttl_slot, i, "slot %u says %u", i, e->ttl_slot);
		cr_assert_geq(e->expire_ms, 0);
		cr_assert_eq(tn_dict_find(&s->keys, e->key, e->keylen,
					  tn_hash(e->key, e->keylen)),
			     arr[i]);
	}
}

static int64_t far_deadline(void)
{
	return tn_monotonic_us() + 10 * 1000000LL;
}

Test(expire_unit, only_expired_keys_go)
{
	struct stripe_shm *s = tn_stripe(0);
	char past[300][32], future[300][32], none[100][32];
	int64_t now = tn_mstime();
	unsigned sampled, calls = 0;
	uint64_t total = 0;
	int i;

	for (i = 0; i < 300; i++) {
		add_key(0, now - 1000 - i, past[i], sizeof(past[i]));
		add_key(0, now + 3600 * 1000 + i, future[i], sizeof(future[i]));
		if (i < 100)
			add_key(0, -1, none[i], sizeof(none[i]));
	}
	cr_assert_eq(s->ttl_len, 600);
	/* a sample can stop early (few stale): call until all are gone */
	while (s->ttl_len > 300 && calls++ < 100000) {
		total += tn_expire_stripe(s, now, far_deadline(), &sampled);
		cr_assert_gt(sampled, 0);
		check_ttl_index(s);
	}
	cr_assert_eq(total, 300);
	cr_assert_eq(s->ttl_len, 300);
	cr_assert_eq(tn_dict_size(&s->keys), 400);
	for (i = 0; i < 300; i++) {
		cr_expect(!present(past[i]), "%s survived", past[i]);
		cr_expect(present(future[i]), "%s expired early", future[i]);
		if (i < 100)
			cr_expect(present(none[i]), "%s (no TTL) went",
				  none[i]);
	}
	/* and now nothing more goes */
	for (i = 0; i < 100; i++)
		cr_assert_eq(tn_expire_stripe(s, now, far_deadline(), &sampled),
			     0);
	cr_assert_eq(tn_dict_size(&s->keys), 400);
}

Test(expire_unit, boundary_is_expired)
{
	struct stripe_shm *s = tn_stripe(1);
	char at[32], after[32];
	int64_t now = tn_mstime();
	unsigned sampled;
	int i;

	/* expired means expire_ms <= now, as Redis' keyIsExpired */
	add_key(1, now, at, sizeof(at));
	add_key(1, now + 1, after, sizeof(after));
	for (i = 0; i < 50; i++)
		tn_expire_stripe(s, now, far_deadline(), &sampled);
	cr_expect(!present(at));
	cr_expect(present(after));
	cr_assert_eq(s->ttl_len, 1);
}

Test(expire_unit, few_stale_stops_after_one_sample)
{
	struct stripe_shm *s = tn_stripe(2);
	char name[32];
	int64_t now = tn_mstime();
	unsigned sampled;
	uint64_t got;
	int i;

	for (i = 0; i < 1000; i++)
		add_key(2, now + 3600 * 1000, name, sizeof(name));
	for (i = 0; i < 10; i++)
		add_key(2, now - 1, name, sizeof(name));
	got = tn_expire_stripe(s, now, far_deadline(), &sampled);
	/* 1% stale: one round of 20 samples, then it gives up */
	cr_expect_eq(sampled, 20);
	cr_expect_leq(got, 20);
	cr_expect_eq(s->ttl_len, 1010 - got);
	cr_expect_eq(tn_dict_size(&s->keys), 1010 - got);
	check_ttl_index(s);

	/* nothing stale at all: one round too */
	got = 0;
	while (s->ttl_len > 1000)
		got += tn_expire_stripe(s, now, far_deadline(), &sampled);
	got = tn_expire_stripe(s, now, far_deadline(), &sampled);
	cr_expect_eq(got, 0);
	cr_expect_eq(sampled, 20);
}

Test(expire_unit, stripe_rounds_and_deadline)
{
	struct stripe_shm *s = tn_stripe(3);
	char name[32];
	int64_t now = tn_mstime();
	unsigned sampled;
	uint64_t got;
	int i;

	for (i = 0; i < 5000; i++)
		add_key(3, now - 10, name, sizeof(name));
	/* a passed deadline still allows one round, no more */
	got = tn_expire_stripe(s, now, tn_monotonic_us() - 1, &sampled);
	cr_expect_eq(sampled, 20);
	cr_expect_eq(got, 20);
	cr_expect_eq(s->ttl_len, 4980);
	/* with time to spare, the per-lock round limit (16 x 20) bounds it */
	got = tn_expire_stripe(s, now, far_deadline(), &sampled);
	cr_expect_eq(sampled, 16 * 20);
	cr_expect_eq(got, 16 * 20);
	cr_expect_eq(s->ttl_len, 4980 - 320);
	cr_expect_eq(s->expired_stale_perc, 100);
	check_ttl_index(s);
}

Test(expire_unit, lazy_expiry_in_find)
{
	char name[32];
	struct tn_key k;
	struct proc_shm *p = tn_proc(TN_PROC_SHARD0);
	uint64_t before = p->expired;

	add_key(0, ctx.now_ms - 5, name, sizeof(name));
	k = tn_key_of(name, strlen(name));
	cr_assert_eq(k.s->ttl_len, 1);
	cr_assert_null(tn_db_find(&ctx, &k));
	cr_assert(!present(name));
	cr_assert_eq(k.s->ttl_len, 0);
	cr_assert_eq(p->expired, before + 1);
	/* a read counts the miss */
	cr_assert_null(tn_db_read(&ctx, &k));
}

Test(expire_unit, cycle_keeps_to_owned_stripes)
{
	char name[32];
	int64_t now = tn_mstime();
	uint64_t total = 0;
	uint32_t i;
	int j, cycles = 0;

	for (i = 0; i < NSTRIPES; i++)
		for (j = 0; j < 200; j++)
			add_key(i, now - 100, name, sizeof(name));
	/* shard 0 of 2 owns stripes 0 and 2 */
	while (cycles++ < 10000) {
		uint64_t got = tn_expire_cycle(0, 2, 1000000);

		total += got;
		if (!tn_stripe(0)->ttl_len && !tn_stripe(2)->ttl_len)
			break;
	}
	cr_assert_eq(total, 400);
	cr_assert_eq(tn_stripe(0)->ttl_len, 0);
	cr_assert_eq(tn_stripe(2)->ttl_len, 0);
	cr_assert_eq(tn_dict_size(&tn_stripe(0)->keys), 0);
	cr_assert_eq(tn_stripe(1)->ttl_len, 200);
	cr_assert_eq(tn_stripe(3)->ttl_len, 200);
	cr_assert_eq(tn_dict_size(&tn_stripe(3)->keys), 200);
	cr_assert_eq(tn_proc(TN_PROC_SHARD0)->expired, 400);
	cr_assert_eq(tn_proc(TN_PROC_SHARD0 + 1)->expired, 0);

	total = 0;
	cycles = 0;
	while (cycles++ < 10000 &&
	       (tn_stripe(1)->ttl_len || tn_stripe(3)->ttl_len))
		total += tn_expire_cycle(1, 2, 1000000);
	cr_assert_eq(total, 400);
	cr_assert_eq(tn_proc(TN_PROC_SHARD0 + 1)->expired, 400);
	for (i = 0; i < NSTRIPES; i++)
		cr_assert_eq(tn_dict_size(&tn_stripe(i)->keys), 0);
}

Test(expire_unit, cycle_respects_budget)
{
	char name[32];
	int64_t now = tn_mstime(), start, took;
	const int per = 60000;
	uint64_t got, total = 0;
	int j, cycles = 0;

	for (j = 0; j < per; j++) {
		add_key(0, now - 100, name, sizeof(name));
		add_key(2, now - 100, name, sizeof(name));
	}
	start = tn_monotonic_us();
	got = tn_expire_cycle(0, 2, 2000);
	took = tn_monotonic_us() - start;
	/* the budget, one last lock hold (16 rounds of 20) past it, and
	 * the 1 ms rehash step; generous for sanitizer builds */
	cr_expect_lt(took, 2000 + 1000 + 30000, "cycle took %lld us",
		     (long long)took);
	cr_expect_gt(got, 0);
	cr_expect_lt(got, 2u * per, "a 2 ms cycle expired everything");
	total = got;
	/* later cycles carry on where this one stopped, until done */
	while (total < 2u * per && cycles++ < 100000)
		total += tn_expire_cycle(0, 2, 2000);
	cr_assert_eq(total, 2u * per);
	cr_assert_eq(tn_stripe(0)->ttl_len, 0);
	cr_assert_eq(tn_stripe(2)->ttl_len, 0);
	cr_assert_eq(tn_dict_size(&tn_stripe(0)->keys), 0);
	cr_assert_eq(tn_dict_size(&tn_stripe(2)->keys), 0);
}

/* Add keys to a stripe until its dict has just started a resize. */
static void make_rehashing(uint32_t stripe, int min_keys)
{
	struct stripe_shm *s = tn_stripe(stripe);
	char name[32];
	int n = 0;

	for (;;) {
		add_key(stripe, -1, name, sizeof(name));
		n++;
		if (n >= min_keys && s->keys.rehash_idx >= 0 &&
		    s->keys.used[0] > 256)
			return;
		cr_assert_lt(n, 10 * min_keys + 100000);
	}
}

Test(expire_unit, cycle_finishes_idle_rehash)
{
	struct stripe_shm *s0 = tn_stripe(0), *s1 = tn_stripe(1);
	uint64_t n0;
	int cycles = 0;

	make_rehashing(0, 2000);
	make_rehashing(1, 2000);
	n0 = tn_dict_size(&s0->keys);
	cr_assert_geq(s0->keys.rehash_idx, 0);
	/* no keys with TTLs: the cycle only rehashes */
	while (s0->keys.rehash_idx >= 0 && cycles++ < 1000)
		cr_assert_eq(tn_expire_cycle(0, 2, 1000), 0);
	cr_expect_eq(s0->keys.rehash_idx, -1, "stripe 0 still rehashing");
	cr_expect_eq(s0->keys.table[1], 0);
	cr_expect_eq(tn_dict_size(&s0->keys), n0);
	/* stripe 1 belongs to shard 1 */
	cr_expect_geq(s1->keys.rehash_idx, 0, "shard 0 rehashed stripe 1");
	while (s1->keys.rehash_idx >= 0 && cycles++ < 2000)
		tn_expire_cycle(1, 2, 1000);
	cr_expect_eq(s1->keys.rehash_idx, -1);
}

Test(expire_unit, lru_clock_stamps)
{
	char name[32];
	struct tn_key k;
	struct kentry_shm *e;

	add_key(0, -1, name, sizeof(name));
	k = tn_key_of(name, strlen(name));
	e = tn_db_find(&ctx, &k);
	cr_assert_not_null(e);
	cr_expect_eq(e->lru, tn_db_lru_clock(ctx.now_ms));
	/* tn_db_find does not touch; tn_db_read does */
	e->lru = 7;
	cr_assert_eq(tn_db_find(&ctx, &k), e);
	cr_expect_eq(e->lru, 7);
	ctx.now_ms = tn_seg->start_ms + 12345 * 1000LL + 999;
	cr_assert_eq(tn_db_read(&ctx, &k), e);
	cr_expect_eq(e->lru, 12345);
	/* 16 bits of seconds: wraps */
	cr_expect_eq(tn_db_lru_clock(tn_seg->start_ms + 65537 * 1000LL), 1);
}
