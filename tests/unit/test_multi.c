/*
 * test_multi.c - WATCH's shared side on a real segment: references and
 * versions of struct watch_shm, bumped by lazy and active expiry and by
 * FLUSHALL; the stripe walkers under an EXEC that holds stripes; the
 * stripe sort and which key arguments a write touches.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store/cmds.h"
#include "tests/unit/seg_fixture.h"
#include "util/util.h"

#define NSTRIPES 4

static int seg_fd = -1;
static struct tn_client client;
static uint64_t khash[8];
static struct tn_ctx ctx;

static void setup(void)
{

	seg_fd = tn_test_seg_up(NSTRIPES, 2, 32u << 20, TN_KENTRY_KEY_AT);
	memset(&client, 0, sizeof(client));
	client.khash = khash;
	client.khash_cap = 8;
	client.resp = 2;
	ctx = (struct tn_ctx){.c = &client, .now_ms = tn_mstime()};
	tn_stripes_held = TN_HELD_NONE;
}

static void teardown(void)
{
	tn_test_seg_down(seg_fd);
}

TestSuite(multi_unit, .init = setup, .fini = teardown, .timeout = 30);

static struct tn_key key(const char *name)
{
	return tn_key_of(name, strlen(name));
}

static uint64_t version(const char *name)
{
	struct tn_key k = key(name);
	uint64_t v = UINT64_MAX;

	cr_assert(tn_watch_version(&k, &v), "%s is not watched", name);
	return v;
}

static void add_string(const char *name, int64_t expire_ms)
{
	struct tn_key k = key(name);
	struct kentry_shm *e = tn_db_set_string(&ctx, &k, "v", 1, false);

	cr_assert_not_null(e);
	if (expire_ms >= 0)
		cr_assert_eq(tn_db_set_expire(k.s, e, expire_ms), 0);
}

static void hold(const char *name)
{
	struct tn_key k = key(name);
	uint64_t v;

	cr_assert_eq(tn_watch_hold(&k, &v), 0);
}

Test(multi_unit, references_and_versions)
{
	struct tn_key k = key("w1");
	uint64_t v = 99;

	cr_assert(!tn_watch_version(&k, &v));
	cr_assert_eq(tn_watch_hold(&k, &v), 0);
	cr_assert_eq(v, 0);
	cr_assert_eq(tn_watch_hold(&k, &v), 0);
	cr_assert_eq(tn_dict_size(&k.s->watched), 1, "one entry, two refs");
	tn_watch_touch(&k);
	tn_watch_touch(&k);
	cr_assert_eq(version("w1"), 2);
	/* a late watcher starts from the current version */
	cr_assert_eq(tn_watch_hold(&k, &v), 0);
	cr_assert_eq(v, 2);
	tn_watch_drop(&k);
	tn_watch_drop(&k);
	cr_assert_eq(version("w1"), 2, "gone before the last reference");
	tn_watch_drop(&k);
	cr_assert(!tn_watch_version(&k, &v));
	cr_assert_eq(tn_dict_size(&k.s->watched), 0);
	/* touching or dropping what nobody watches is harmless */
	tn_watch_touch(&k);
	tn_watch_drop(&k);
	cr_assert_eq(tn_dict_size(&k.s->watched), 0);
}

Test(multi_unit, many_watches_come_and_go)
{
	char name[32];
	uint64_t before[NSTRIPES];
	uint32_t s;
	int i;

	for (s = 0; s < NSTRIPES; s++)
		before[s] = tn_stripe_cache(tn_stripe(s))->used_bytes;
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "wk:%d", i);
		hold(name);
	}
	for (i = 0; i < 5000; i += 7) {
		snprintf(name, sizeof(name), "wk:%d", i);
		struct tn_key k = key(name);

		tn_watch_touch(&k);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "wk:%d", i);
		cr_assert_eq(version(name), i % 7 == 0, "%s", name);
	}
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "wk:%d", i);
		struct tn_key k = key(name);

		tn_watch_drop(&k);
	}
	for (s = 0; s < NSTRIPES; s++) {
		struct stripe_shm *st = tn_stripe(s);

		/* finish any shrink, then every byte is back */
		while (tn_dict_rehash(&st->watched, tn_stripe_cache(st), 100))
			;
		cr_expect_eq(tn_dict_size(&st->watched), 0);
		cr_expect_leq(
		    tn_stripe_cache(st)->used_bytes,
		    before[s] + tn_dict_overhead(&st->watched),
		    "stripe %u keeps %llu bytes", s,
		    (unsigned long long)(tn_stripe_cache(st)->used_bytes -
					 before[s]));
	}
}

Test(multi_unit, lazy_expiry_touches)
{
	struct tn_key k = key("lazy");

	add_string("lazy", ctx.now_ms - 10);
	add_string("alive", ctx.now_ms + 60000);
	hold("lazy");
	hold("alive");
	cr_assert_null(tn_db_find(&ctx, &k));
	cr_assert_eq(version("lazy"), 1);
	k = key("alive");
	cr_assert_not_null(tn_db_find(&ctx, &k));
	cr_assert_eq(version("alive"), 0);
}

Test(multi_unit, active_expiry_touches)
{
	struct tn_key k = key("act");
	unsigned sampled;
	int rounds = 0;

	add_string("act", ctx.now_ms - 10);
	add_string("stay", ctx.now_ms + 60000);
	hold("act");
	hold("stay");
	while (tn_dict_find(&k.s->keys, k.p, k.len, k.h) && rounds++ < 1000)
		tn_expire_stripe(k.s, ctx.now_ms, tn_monotonic_us() + 1000000,
				 &sampled);
	cr_assert_eq(tn_dict_find(&k.s->keys, k.p, k.len, k.h), 0);
	cr_assert_eq(version("act"), 1);
	cr_assert_eq(version("stay"), 0);
}

Test(multi_unit, flush_touches_existing_keys_only)
{
	add_string("there", -1);
	add_string("expired-but-there", ctx.now_ms - 10);
	hold("there");
	hold("expired-but-there");
	hold("absent");
	tn_db_flush_all(&ctx);
	cr_assert_eq(tn_db_size(), 0);
	cr_assert_eq(version("there"), 1);
	cr_assert_eq(version("expired-but-there"), 1);
	cr_assert_eq(version("absent"), 0);
}

/* Is every stripe's lock free (and its write flag down)? */
static void expect_all_free(void)
{
	uint32_t i;

	for (i = 0; i < NSTRIPES; i++) {
		struct stripe_shm *s = tn_stripe(i);

		cr_expect_eq(pthread_mutex_trylock(&s->lock), 0,
			     "stripe %u still locked", i);
		pthread_mutex_unlock(&s->lock);
		cr_expect_eq(s->writing, 0, "stripe %u still written", i);
	}
}

Test(multi_unit, walkers_under_exec_holding_every_stripe)
{
	uint32_t idx[NSTRIPES] = {0, 1, 2, 3};
	char name[32];
	int i;

	for (i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "k:%d", i);
		add_string(name, -1);
	}
	cr_assert(tn_stripes_lock(idx, NSTRIPES, true));
	tn_stripes_held = TN_HELD_ALL;
	/* locks are not recursive: these would hang if they locked */
	cr_assert_eq(tn_db_size(), 40);
	cr_assert(tn_stripe_walk_lock(tn_stripe(2), true));
	tn_stripe_walk_unlock(tn_stripe(2));
	cr_assert_eq(tn_stripe(2)->writing, 1,
		     "EXEC clears it, not the walker");
	tn_db_flush_all(&ctx);
	cr_assert_eq(tn_db_size(), 0);
	tn_stripes_held = TN_HELD_NONE;
	tn_stripes_unlock(idx, NSTRIPES);
	expect_all_free();
}

Test(multi_unit, size_under_exec_holding_some)
{
	uint32_t idx[2] = {1, 3};
	char name[32];
	int i;

	for (i = 0; i < 25; i++) {
		snprintf(name, sizeof(name), "k:%d", i);
		add_string(name, -1);
	}
	cr_assert(tn_stripes_lock(idx, 2, false));
	tn_stripes_held = TN_HELD_SOME;
	cr_assert_eq(tn_db_size(), 25);
	tn_stripes_held = TN_HELD_NONE;
	tn_stripes_unlock(idx, 2);
	expect_all_free();
	cr_assert_eq(tn_db_size(), 25);
}

Test(multi_unit, stripes_sort_and_dedupe)
{
	uint32_t small[] = {3, 1, 3, 0, 1};
	uint32_t big[100];
	int n, i;

	n = tn_stripes_sort(small, 5);
	cr_assert_eq(n, 3);
	cr_assert(small[0] == 0 && small[1] == 1 && small[2] == 3);
	for (i = 0; i < 100; i++)
		big[i] = (uint32_t)((i * 37) % 50);
	n = tn_stripes_sort(big, 100);
	cr_assert_eq(n, 50);
	for (i = 0; i < n; i++)
		cr_assert_eq(big[i], (uint32_t)i);
	cr_assert_eq(tn_stripes_sort(big, 0), 0);
}

Test(multi_unit, written_keys_of_a_write)
{
	const struct tn_cmd store = {.name = "sinterstore"};
	const struct tn_cmd copy = {.name = "copy"};
	const struct tn_cmd rename = {.name = "rename"};
	const struct tn_cmd bitop = {.name = "bitop"};

	cr_expect(tn_multi_key_written(&store, 0));
	cr_expect(!tn_multi_key_written(&store, 1));
	cr_expect(!tn_multi_key_written(&store, 2));
	cr_expect(!tn_multi_key_written(&copy, 0));
	cr_expect(tn_multi_key_written(&copy, 1));
	cr_expect(tn_multi_key_written(&rename, 0));
	cr_expect(tn_multi_key_written(&rename, 1));
	cr_expect(tn_multi_key_written(&bitop, 0));
	cr_expect(!tn_multi_key_written(&bitop, 1));
}

Test(multi_unit, command_table_entries)
{
	const struct tn_cmd *w = tn_cmd_lookup("watch", 5);
	const char *names[] = {"multi", "exec", "discard", "unwatch"};
	size_t i;

	cr_assert_not_null(w);
	cr_expect_eq(w->arity, -2);
	cr_expect(w->first_key == 1 && w->last_key == -1 && w->key_step == 1);
	cr_expect(tn_multi_runs_now(w));
	for (i = 0; i < 4; i++) {
		const struct tn_cmd *c =
		    tn_cmd_lookup(names[i], strlen(names[i]));

		cr_assert_not_null(c, "%s", names[i]);
		cr_expect_eq(c->arity, 1);
		cr_expect_eq(tn_multi_runs_now(c), i < 3, "%s", names[i]);
	}
	cr_expect(tn_multi_is_exec(tn_cmd_lookup("EXEC", 4)));
	cr_expect(!tn_multi_runs_now(tn_cmd_lookup("set", 3)));
	cr_expect(tn_multi_runs_now(tn_cmd_lookup("quit", 4)));
	cr_expect(tn_multi_runs_now(tn_cmd_lookup("reset", 5)));
}
