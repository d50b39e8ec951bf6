/*
 * test_intset.c - the sorted int64 arrays small integer sets live in:
 * order, search at the edges of the int64 range, growth and shrinking
 * through the segment allocator, and running out of memory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "shm/shm.h"
#include "store/cmds.h"
#include "util/util.h"

static int seg_fd = -1;

static void seg_setup(void)
{
	struct tn_seg_params p = {
		.nstripes = 4,
		.nshards = 1,
		.nclients = 4,
		.heap_bytes = 8u << 20,
		.config_bytes = 4096,
		.key_at = TN_KENTRY_KEY_AT,
	};

	seg_fd = tn_segment_create(&p);
	cr_assert_geq(seg_fd, 0, "tn_segment_create: %d", seg_fd);
}

static void seg_teardown(void)
{
	if (tn_seg)
		tn_segment_destroy(seg_fd);
}

TestSuite(intset, .init = seg_setup, .fini = seg_teardown);

static struct slab_cache_shm *cache(void)
{
	return tn_stripe_cache(tn_stripe(0));
}

static void expect_sorted(tn_off off, uint32_t count)
{
	const struct intset_shm *is = tn_ptr(off);

	cr_assert_not_null(is);
	cr_assert_eq(is->count, count);
	cr_assert_geq(is->cap, is->count);
	for (uint32_t i = 1; i < is->count; i++)
		cr_assert_lt(is->v[i - 1], is->v[i], "not sorted at %u", i);
}

Test(intset, empty)
{
	uint32_t pos = 99;
	tn_off off = 0;

	cr_expect_not(tn_intset_find(NULL, 5, &pos));
	cr_expect_eq(pos, 0);
	cr_expect_not(tn_intset_remove(cache(), &off, 5));
	cr_expect_eq(off, 0);
}

Test(intset, add_find_remove)
{
	tn_off off = 0;
	uint32_t pos;

	cr_assert_eq(tn_intset_add(cache(), &off, 5), 1);
	cr_assert_neq(off, 0);
	cr_expect_eq(tn_intset_add(cache(), &off, 5), 0);
	cr_expect_eq(tn_intset_add(cache(), &off, -3), 1);
	cr_expect_eq(tn_intset_add(cache(), &off, 12), 1);
	cr_expect_eq(tn_intset_add(cache(), &off, 7), 1);
	expect_sorted(off, 4);

	const struct intset_shm *is = tn_ptr(off);
	cr_expect_eq(is->v[0], -3);
	cr_expect_eq(is->v[3], 12);

	cr_expect(tn_intset_find(is, 7, &pos));
	cr_expect_eq(pos, 2);
	cr_expect_not(tn_intset_find(is, 6, &pos));
	cr_expect_eq(pos, 2, "insertion point of 6");
	cr_expect_not(tn_intset_find(is, -100, &pos));
	cr_expect_eq(pos, 0);
	cr_expect_not(tn_intset_find(is, 100, &pos));
	cr_expect_eq(pos, 4);

	cr_expect(tn_intset_remove(cache(), &off, 5));
	cr_expect_not(tn_intset_remove(cache(), &off, 5));
	expect_sorted(off, 3);
	cr_expect_not(tn_intset_find(tn_ptr(off), 5, NULL));
	cr_expect(tn_intset_remove(cache(), &off, -3));
	cr_expect(tn_intset_remove(cache(), &off, 12));
	cr_expect(tn_intset_remove(cache(), &off, 7));
	expect_sorted(off, 0);
	tn_free(off);
}

Test(intset, int64_edges)
{
	tn_off off = 0;
	const int64_t v[] = {INT64_MAX, INT64_MIN, 0, -1, 1, INT64_MAX - 1,
			     INT64_MIN + 1};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		cr_assert_eq(tn_intset_add(cache(), &off, v[i]), 1);
	expect_sorted(off, 7);
	const struct intset_shm *is = tn_ptr(off);
	cr_expect_eq(is->v[0], INT64_MIN);
	cr_expect_eq(is->v[6], INT64_MAX);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		cr_expect(tn_intset_find(is, v[i], NULL), "%lld",
			  (long long)v[i]);
	cr_expect_not(tn_intset_find(is, 2, NULL));
	tn_free(off);
}

/* Random adds and removes against a plain bitmap model; the intset grows
 * past slab sizes into page runs and shrinks back. */
Test(intset, model)
{
	enum { RANGE = 20000 };
	static bool in[RANGE];
	tn_off off = 0;
	uint32_t count = 0, i;
	uint64_t used0 = tn_heap_used();

	srandom(42);
	for (i = 0; i < 200000; i++) {
		int64_t v = random() % RANGE;
		/* add-heavy first, remove-heavy after: grow, then shrink */
		bool add = (random() % 100) < (i < 100000 ? 70 : 25);

		if (add) {
			int r = tn_intset_add(cache(), &off, v);

			cr_assert_eq(r, in[v] ? 0 : 1, "add %lld", (long long)v);
			count += !in[v];
			in[v] = true;
		} else if (off) {
			bool r = tn_intset_remove(cache(), &off, v);

			cr_assert_eq(r, in[v], "remove %lld", (long long)v);
			count -= in[v];
			in[v] = false;
		}
	}
	expect_sorted(off, count);
	for (i = 0; i < RANGE; i++)
		cr_assert_eq(tn_intset_find(tn_ptr(off), i, NULL), in[i],
			     "membership of %u", i);
	/* Few left: the array gave most of its room back. */
	const struct intset_shm *is = tn_ptr(off);
	cr_expect_leq(is->cap, TN_MAX(4u * is->count, 64u),
		      "cap %u for %u values", is->cap, is->count);
	tn_free(off);
	cr_expect_eq(tn_heap_used(), used0, "memory not all returned");
}

/* Out of memory: the add fails and the intset is intact. */
Test(intset, oom_keeps_intset)
{
	tn_off off = 0;
	int64_t v, added = 0;
	int r = 0;

	/* 8 MiB of heap cannot hold a million int64s while growing. */
	for (v = 0; v < (1 << 20); v++) {
		r = tn_intset_add(cache(), &off, v * 2);
		if (r < 0)
			break;
		added++;
	}
	cr_assert_eq(r, -ENOMEM, "the heap never ran out");
	expect_sorted(off, (uint32_t)added);
	/* what is there can still be found and removed */
	cr_expect(tn_intset_find(tn_ptr(off), 0, NULL));
	cr_expect(tn_intset_find(tn_ptr(off), (added - 1) * 2, NULL));
	cr_expect(tn_intset_remove(cache(), &off, 0));
	expect_sorted(off, (uint32_t)added - 1);
	/* room freed by the remove takes an add again */
	cr_expect_eq(tn_intset_add(cache(), &off, 1), 1);
	expect_sorted(off, (uint32_t)added);
	tn_free(off);
}
