/*
 * test_slab.c - the segment allocator: size classes, slab page reuse,
 * page runs and their coalescing, exhaustion, realloc and accounting.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shm/shm.h"

static int seg_fd = -1;

static void seg_open(size_t heap_bytes)
{
	struct tn_seg_params p = {
	    .nstripes = 4,
	    .nshards = 2,
	    .nclients = 4,
	    .heap_bytes = heap_bytes,
	    .config_bytes = 4096,
	    .key_at = 12,
	};

	seg_fd = tn_segment_create(&p);
	cr_assert_geq(seg_fd, 0, "tn_segment_create: %d", seg_fd);
}

static void seg_setup(void)
{
	seg_open(8u << 20);
}

static void seg_teardown(void)
{
	if (tn_seg)
		tn_segment_destroy(seg_fd);
}

TestSuite(slab, .init = seg_setup, .fini = seg_teardown);

static void fill(tn_off off, size_t n, unsigned seed)
{
	unsigned char *p = tn_ptr(off);

	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(seed * 31 + i * 7);
}

static bool check(tn_off off, size_t n, unsigned seed)
{
	const unsigned char *p = tn_ptr(off);

	for (size_t i = 0; i < n; i++)
		if (p[i] != (unsigned char)(seed * 31 + i * 7))
			return false;
	return true;
}

static void assert_empty_heap(void)
{
	struct heap_shm *h = tn_heap();

	cr_assert_eq(tn_heap_used(), 0, "used_bytes %lu after freeing all",
		     (unsigned long)tn_heap_used());
	cr_assert_eq(atomic_load(&h->pages_used), 0);
	cr_assert_eq(h->free_runs, 1, "%u free runs: not coalesced",
		     h->free_runs);
	for (unsigned i = 0; i < h->cache_count; i++)
		cr_assert_eq(tn_heap_cache(i)->used_bytes, 0);
}

Test(slab, segment_layout)
{
	struct heap_shm *h = tn_heap();

	cr_assert_eq(tn_seg->magic, TN_SEG_MAGIC);
	cr_assert_eq(tn_seg->layout, TN_SEG_LAYOUT);
	cr_assert_eq(tn_seg->nprocs, 2 + 2 + 8);
	cr_assert_eq(strlen(tn_seg->run_id), 40);
	cr_assert_eq(tn_seg->next_client_id, 1);
	cr_assert_eq(tn_seg->heap_off % TN_CACHELINE, 0);
	cr_assert_eq(tn_seg->stripes_off % TN_CACHELINE, 0);
	cr_assert_eq(tn_seg->procs_off % TN_CACHELINE, 0);
	cr_assert_eq(tn_seg->clients_off % TN_CACHELINE, 0);
	cr_assert_eq(h->pages_off % TN_PAGE_SIZE, 0);
	cr_assert_geq(h->heap_bytes, 8u << 20);
	cr_assert_leq(h->pages_off + h->heap_bytes, tn_seg->size);
	cr_assert_eq(h->cache_count, tn_seg->nstripes + 1);
	for (unsigned i = 0; i < tn_seg->nstripes; i++) {
		cr_assert_eq(tn_stripe(i)->keys.key_at, 12);
		cr_assert_eq(tn_stripe_cache(tn_stripe(i)), tn_heap_cache(i));
	}
	cr_assert_null(tn_heap_cache(h->cache_count));
}

Test(slab, bad_params)
{
	struct tn_seg_params p = {
	    .nstripes = 3, .heap_bytes = 1 << 20, .key_at = 12};

	cr_assert_eq(tn_segment_create(&p), -EINVAL, "stripes not 2^n");
	p.nstripes = 4;
	p.key_at = 4;
	cr_assert_eq(tn_segment_create(&p), -EINVAL, "key_at too small");
}

Test(slab, alloc_free_reuse)
{
	struct slab_cache_shm *c = tn_heap_cache(0);
	tn_off a, b, x;

	a = tn_alloc(c, 100);
	cr_assert_neq(a, 0);
	cr_assert_eq(a % 8, 0);
	cr_assert_eq(tn_alloc_usable(a), 104);
	cr_assert_eq(tn_heap_used(), 104);
	cr_assert_eq(c->used_bytes, 104);
	fill(a, 100, 1);
	b = tn_alloc(c, 100);
	cr_assert_neq(b, 0);
	cr_assert_neq(a, b);
	cr_assert(check(a, 100, 1), "neighbour write clobbered a");
	tn_free(a);
	cr_assert_eq(tn_heap_used(), 104);
	/* The freed object is the first one handed out again. */
	x = tn_alloc(c, 97);
	cr_assert_eq(x, a);
	tn_free(x);
	tn_free(b);
	assert_empty_heap();
	/* The page went back to the heap and comes back fresh. */
	x = tn_alloc(c, 100);
	cr_assert_eq(x, a);
	tn_free(x);
	assert_empty_heap();
}

Test(slab, every_size_class)
{
	struct slab_cache_shm *c = tn_heap_cache(1);
	static tn_off offs[TN_SLAB_MAX + 1];
	size_t prev = 0, classes = 0, want = 0, u;

	for (size_t n = 1; n <= TN_SLAB_MAX; n++) {
		offs[n] = tn_alloc(c, n);
		cr_assert_neq(offs[n], 0, "alloc %zu", n);
		cr_assert_eq(offs[n] % 8, 0);
		u = tn_alloc_usable(offs[n]);
		cr_assert_geq(u, n);
		/* Waste bounded by the class spacing (1/8 above 128). */
		cr_assert_leq(u, n < 128 ? n + 7 : n + n / 8 + 8,
			      "n %zu usable %zu", n, u);
		cr_assert_geq(u, prev, "classes not monotonic at %zu", n);
		if (u != prev)
			classes++;
		prev = u;
		want += u;
		fill(offs[n], u, (unsigned)n);
	}
	cr_assert_eq(classes, TN_SLAB_NCLASSES);
	cr_assert_eq(prev, TN_SLAB_MAX);
	cr_assert_eq(tn_heap_used(), want);
	cr_assert_eq(c->used_bytes, want);
	for (size_t n = 1; n <= TN_SLAB_MAX; n++)
		cr_assert(check(offs[n], tn_alloc_usable(offs[n]), (unsigned)n),
			  "object of %zu overwritten", n);
	for (size_t n = 1; n <= TN_SLAB_MAX; n += 2)
		tn_free(offs[n]);
	for (size_t n = 2; n <= TN_SLAB_MAX; n += 2)
		tn_free(offs[n]);
	assert_empty_heap();
}

Test(slab, class_fills_pages)
{
	struct slab_cache_shm *c = tn_heap_cache(0);
	struct heap_shm *h = tn_heap();
	enum { N = 4096 / 24 * 3 };
	tn_off o[N];

	/* 170 objects of 24 bytes fill a page: three pages exactly. */
	for (int i = 0; i < N; i++) {
		o[i] = tn_alloc(c, 24);
		cr_assert_neq(o[i], 0);
	}
	cr_assert_eq(atomic_load(&h->pages_used), 3);
	cr_assert_eq(c->partial[2], 0, "full pages stay off the list");
	tn_free(o[5]);
	cr_assert_neq(c->partial[2], 0);
	cr_assert_eq(tn_alloc(c, 20), o[5]);
	for (int i = 0; i < N; i++)
		tn_free(o[i]);
	assert_empty_heap();
}

Test(slab, objects_go_back_to_owner)
{
	struct slab_cache_shm *c1 = tn_heap_cache(1), *c2 = tn_heap_cache(2);
	tn_off a, b, x, y;

	a = tn_alloc(c1, 40);
	b = tn_alloc(c1, 40);
	cr_assert_eq(c1->used_bytes, 80);
	tn_free(a);
	cr_assert_eq(c1->used_bytes, 40);
	/* Another cache does not see c1's free object... */
	x = tn_alloc(c2, 40);
	cr_assert_neq(x / TN_PAGE_SIZE, a / TN_PAGE_SIZE);
	/* ...c1 does. */
	y = tn_alloc(c1, 40);
	cr_assert_eq(y, a);
	tn_free(b);
	tn_free(x);
	tn_free(y);
	assert_empty_heap();
}

Test(slab, page_runs_and_coalescing)
{
	struct slab_cache_shm *c = tn_heap_cache(0);
	struct heap_shm *h = tn_heap();
	uint32_t np = h->npages;
	size_t run = 3 * TN_PAGE_SIZE, n = 0;
	tn_off *o = calloc(np, sizeof(*o));
	tn_off big;

	cr_assert_not_null(o);
	while ((o[n] = tn_alloc(c, run - 100)) != 0) {
		cr_assert_eq(o[n] % TN_PAGE_SIZE, 0);
		cr_assert_eq(tn_alloc_usable(o[n]), run);
		fill(o[n], 64, (unsigned)n);
		n++;
	}
	cr_assert_eq(n, np / 3, "runs: %zu of %u pages", n, np);
	cr_assert_eq(tn_heap_used(), n * run);
	cr_assert_eq(tn_alloc(c, 2 * run), 0);

	/* Every other run free: holes of 3 pages only. */
	for (size_t i = 0; i < n; i += 2)
		tn_free(o[i]);
	cr_assert_eq(tn_alloc(c, 2 * run), 0, "no 6-page hole may exist");
	for (size_t i = 1; i < n; i += 2)
		cr_assert(check(o[i], 64, (unsigned)i));

	/* Freeing run 1 joins holes 0, 1 and 2 into 9 pages. */
	tn_free(o[1]);
	big = tn_alloc(c, 3 * run);
	cr_assert_neq(big, 0, "neighbours did not coalesce");
	cr_assert_eq(big, o[0]);
	tn_free(big);
	for (size_t i = 3; i < n; i += 2)
		tn_free(o[i]);
	assert_empty_heap();

	/* All of it merged back into one run: the whole heap fits. */
	big = tn_alloc(c, h->heap_bytes);
	cr_assert_neq(big, 0);
	cr_assert_eq(tn_alloc(c, 1), 0, "heap should be full");
	tn_free(big);
	assert_empty_heap();
	free(o);
}

Test(slab, slab_pages_between_runs)
{
	struct slab_cache_shm *c = tn_heap_cache(3);
	tn_off r1, s, r2, big;

	r1 = tn_alloc(c, 5000);
	s = tn_alloc(c, 64);
	r2 = tn_alloc(c, 9000);
	cr_assert(r1 && s && r2);
	cr_assert_eq(tn_alloc_usable(r1), 2 * TN_PAGE_SIZE);
	cr_assert_eq(tn_alloc_usable(r2), 3 * TN_PAGE_SIZE);
	tn_free(r1);
	tn_free(r2);
	cr_assert_eq(tn_heap()->free_runs, 2, "slab page splits the heap");
	tn_free(s);
	cr_assert_eq(tn_heap()->free_runs, 1);
	big = tn_alloc(c, 6 * TN_PAGE_SIZE);
	cr_assert_eq(big, r1, "freed slab page joined its neighbours");
	tn_free(big);
	assert_empty_heap();
}

Test(slab, exhaustion_small)
{
	struct slab_cache_shm *c = tn_heap_cache(0);
	struct heap_shm *h = tn_heap();
	size_t cap = (size_t)h->npages * (TN_PAGE_SIZE / 64), n = 0;
	tn_off *o = malloc((cap + 1) * sizeof(*o));

	cr_assert_not_null(o);
	while (n <= cap && (o[n] = tn_alloc(c, 64)) != 0)
		n++;
	cr_assert_eq(n, cap, "64-byte objects: %zu of %zu", n, cap);
	cr_assert_eq(tn_heap_used(), cap * 64);
	cr_assert_eq(tn_alloc(c, 8), 0);
	cr_assert_eq(tn_alloc(c, 3000), 0);
	cr_assert_eq(tn_alloc(c, 64), 0);
	cr_assert_eq(tn_realloc(c, o[0], 500), 0);
	cr_assert_eq(tn_alloc_usable(o[0]), 64, "failed realloc kept it");
	for (size_t i = 0; i < n; i++)
		tn_free(o[i]);
	assert_empty_heap();
	free(o);
}

Test(slab, exhaustion_mixed)
{
	struct slab_cache_shm *cs[2] = {tn_heap_cache(0), tn_heap_cache(4)};
	size_t max = 1 << 20, n = 0, fails = 0;
	tn_off *o = malloc(max * sizeof(*o));

	cr_assert_not_null(o);
	srand(7);
	/* Fill to exhaustion three times, freeing a random half between. */
	for (int round = 0; round < 3; round++) {
		while (n < max && fails < 200) {
			size_t sz = rand() % 3 ? (size_t)rand() % 300
					       : (size_t)rand() % 20000;
			tn_off x = tn_alloc(cs[n & 1], sz);

			if (!x) {
				fails++;
				continue;
			}
			cr_assert_geq(tn_alloc_usable(x), sz ? sz : 1);
			o[n++] = x;
		}
		cr_assert_gt(tn_heap_used(), tn_heap()->heap_bytes / 2);
		fails = 0;
		for (size_t i = 0; i < n;) {
			if (rand() & 1) {
				tn_free(o[i]);
				o[i] = o[--n];
			} else {
				i++;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		tn_free(o[i]);
	assert_empty_heap();
	free(o);
}

Test(slab, bounds)
{
	struct slab_cache_shm *c = tn_heap_cache(0);
	struct heap_shm *h = tn_heap();
	tn_off z, r;

	z = tn_alloc(c, 0);
	cr_assert_neq(z, 0);
	cr_assert_eq(tn_alloc_usable(z), 8);
	cr_assert_eq(tn_alloc(c, h->heap_bytes + 1), 0);
	cr_assert_eq(tn_alloc(c, SIZE_MAX), 0);
	cr_assert_eq(tn_alloc(c, SIZE_MAX / 2), 0);
	cr_assert_eq(tn_alloc(NULL, 16), 0, "small alloc needs a cache");
	r = tn_alloc(NULL, 5000);
	cr_assert_neq(r, 0, "page runs need no cache");
	tn_free(0);
	tn_free(1);
	tn_free(h->pages_off + h->heap_bytes + 4096);
	tn_free(r + 8);
	cr_assert_eq(tn_alloc_usable(r), 2 * TN_PAGE_SIZE);
	tn_free(r);
	/* A second free of a run is ignored, not double counted. */
	tn_free(r);
	cr_assert_eq(tn_alloc_usable(r), 0);
	cr_assert_eq(tn_heap_used(), 8);
	tn_free(z);
	assert_empty_heap();
}

Test(slab, realloc_keeps_contents)
{
	struct slab_cache_shm *c = tn_heap_cache(2);
	tn_off a, b;

	a = tn_realloc(c, 0, 10);
	cr_assert_neq(a, 0);
	memcpy(tn_ptr(a), "0123456789", 10);
	b = tn_realloc(c, a, 16);
	cr_assert_eq(b, a, "same class stays in place");
	a = tn_realloc(c, b, 100);
	cr_assert_neq(a, b);
	cr_assert_eq(memcmp(tn_ptr(a), "0123456789", 10), 0);
	fill(a, 100, 9);
	b = tn_realloc(c, a, 3000);
	cr_assert_eq(tn_alloc_usable(b), TN_PAGE_SIZE);
	cr_assert(check(b, 100, 9));
	fill(b, 3000, 10);
	a = tn_realloc(c, b, 4096);
	cr_assert_eq(a, b, "same page run stays in place");
	a = tn_realloc(c, b, 10000);
	cr_assert_eq(tn_alloc_usable(a), 3 * TN_PAGE_SIZE);
	cr_assert(check(a, 3000, 10));
	fill(a, 10000, 11);
	b = tn_realloc(c, a, 50);
	cr_assert_eq(tn_alloc_usable(b), 56);
	cr_assert(check(b, 50, 11));
	cr_assert_eq(tn_heap_used(), 56);
	b = tn_realloc(c, b, 0);
	cr_assert_eq(tn_alloc_usable(b), 8);
	cr_assert_eq(tn_realloc(c, b, tn_heap()->heap_bytes + 1), 0);
	tn_free(b);
	assert_empty_heap();
}

struct shadow {
	tn_off off;
	size_t n;
	unsigned seed;
};

Test(slab, random_stress)
{
	enum { SLOTS = 4000, OPS = 200000 };
	struct shadow *s = calloc(SLOTS, sizeof(*s));
	struct slab_cache_shm *c;
	uint64_t expect = 0;

	cr_assert_not_null(s);
	srand(42);
	for (int op = 0; op < OPS; op++) {
		struct shadow *x = &s[rand() % SLOTS];
		size_t n =
		    rand() % 8 ? (size_t)rand() % 512 : (size_t)rand() % 30000;
		tn_off r;

		c = tn_heap_cache((unsigned)(x - s) % 5);
		if (x->off) {
			cr_assert(check(x->off, x->n, x->seed),
				  "op %d: object corrupted", op);
			expect -= tn_alloc_usable(x->off);
			if (rand() & 1) {
				tn_free(x->off);
				x->off = 0;
				continue;
			}
			r = tn_realloc(c, x->off, n);
			if (!r) {
				expect += tn_alloc_usable(x->off);
				continue;
			}
			cr_assert(check(r, x->n < n ? x->n : n, x->seed));
		} else {
			r = tn_alloc(c, n);
			if (!r)
				continue;
		}
		x->off = r;
		x->n = n;
		x->seed = (unsigned)op;
		fill(r, n, x->seed);
		expect += tn_alloc_usable(r);
		cr_assert_eq(tn_heap_used(), expect, "op %d", op);
	}
	for (int i = 0; i < SLOTS; i++) {
		if (s[i].off) {
			cr_assert(check(s[i].off, s[i].n, s[i].seed));
			tn_free(s[i].off);
		}
	}
	assert_empty_heap();
	free(s);
}

TestSuite(slab_big, .fini = seg_teardown);

Test(slab_big, init_touches_little)
{
	size_t heap = (size_t)4 << 30, resident = 0, pages;
	unsigned char *vec;

	/* 4 GiB of heap (1M page descriptors): creating it must leave
	 * the sparse memfd almost untouched. */
	seg_open(heap);
	pages = tn_seg->size / TN_PAGE_SIZE;
	vec = malloc(pages);
	cr_assert_not_null(vec);
	cr_assert_eq(mincore(tn_base, tn_seg->size, vec), 0);
	for (size_t i = 0; i < pages; i++)
		resident += vec[i] & 1;
	cr_assert_lt(resident, 64, "%zu pages touched at init", resident);
	cr_assert_geq(tn_heap()->heap_bytes, heap);
	/* And the last page is reachable. */
	cr_assert_neq(tn_alloc(tn_heap_cache(0), heap - 4096), 0);
	cr_assert_neq(tn_alloc(tn_heap_cache(0), 4096), 0);
	free(vec);
}
