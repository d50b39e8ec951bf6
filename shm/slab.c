/*
 * slab.c - the segment's allocator: size-classed slab pages served from
 * per-stripe caches (no global lock on the common path), and runs of
 * whole pages from a global heap that coalesces on free, as ngx_slab.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "shm/shm.h"

/* Page descriptor flags.  Only the first and last descriptor of a run
 * are kept up to date; the ones inside a run are stale and never read. */
#define PG_FREE 1u /* first or last page of a free run */
#define PG_RUN	2u /* first or last page of an allocated run */
#define PG_SLAB 4u /* a slab page (always a single page) */
#define PG_TAIL 8u /* last page of a run of more than one page */

#define PAGE_SHIFT 12
_Static_assert(TN_PAGE_SIZE == 1u << PAGE_SHIFT, "page size");
_Static_assert(sizeof(struct slab_cache_shm) % TN_CACHELINE == 0, "cache");
_Static_assert(sizeof(struct heap_shm) % TN_CACHELINE == 0, "heap_shm");

#define RUN_EXACT_BINS 32 /* runs of 1..32 pages have a bin each */
#define NO_PAGE	       UINT32_MAX

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* clang-format off */
static const uint16_t class_size[TN_SLAB_NCLASSES] = {
	8,    16,   24,   32,   40,   48,   56,   64,
	72,   80,   88,   96,   104,  112,  120,  128,
	144,  160,  176,  192,  208,  224,  240,  256,
	288,  320,  352,  384,  416,  448,  480,  512,
	576,  640,  704,  768,  832,  896,  960,  1024,
	1152, 1280, 1408, 1536, 1664, 1792, 1920, 2048,
};
/* clang-format on */

/* This process' view of the heap, set by tn_heap_attach(). */
static struct {
	struct heap_shm *h;
	struct page_shm *pd;
	struct slab_cache_shm *caches;
	char *pages;
	tn_off pages_off;
	uint32_t npages;
	uint16_t class_objs[TN_SLAB_NCLASSES];
} H;

static inline unsigned size_class(size_t n)
{
	size_t m = n - 1;
	unsigned k;

	if (m < 128)
		return (unsigned)(m >> 3);
	/* 8 classes per power of two: the top bit picks the group and the
	 * next three bits the class inside it. */
	k = 63 - (unsigned)__builtin_clzll(m);
	return 16 + (k - 7) * 8 + (unsigned)(m >> (k - 3)) - 8;
}

static inline unsigned run_bin(uint32_t n)
{
	if (n <= RUN_EXACT_BINS)
		return n - 1;
	return RUN_EXACT_BINS - 5 + (31 - (unsigned)__builtin_clz(n));
}

static void heap_lock(void)
{
	/* A dead holder may have left the heap half-updated: tell the
	 * supervisor through the segment; allocation carries on. */
	if (tn_lock(&H.h->lock) == -EOWNERDEAD && tn_seg)
		atomic_store(&tn_seg->poisoned, 1);
}

static void bin_insert(uint32_t p)
{
	struct page_shm *d = &H.pd[p];
	unsigned b = run_bin(d->run);

	d->prev = 0;
	d->next = H.h->run_bins[b];
	if (d->next)
		H.pd[d->next - 1].prev = p + 1;
	H.h->run_bins[b] = p + 1;
	H.h->bin_map |= 1ull << b;
	H.h->free_runs++;
}

static void bin_remove(uint32_t p)
{
	struct page_shm *d = &H.pd[p];
	unsigned b = run_bin(d->run);

	if (d->prev)
		H.pd[d->prev - 1].next = d->next;
	else
		H.h->run_bins[b] = d->next;
	if (d->next)
		H.pd[d->next - 1].prev = d->prev;
	if (!H.h->run_bins[b])
		H.h->bin_map &= ~(1ull << b);
	d->next = d->prev = 0;
	H.h->free_runs--;
}

/* Write the first and last descriptors of the run [p, p + n). */
static void run_mark(uint32_t p, uint32_t n, uint32_t flags)
{
	struct page_shm *d = &H.pd[p];

	d->run = n;
	d->flags = flags;
	d->cls = 0;
	d->owner = 0;
	if (n > 1) {
		d = &H.pd[p + n - 1];
		d->run = p + 1;
		d->flags = flags | PG_TAIL;
	}
}

/* A free run of at least n pages, or NO_PAGE.  Heap lock held. */
static uint32_t run_find(uint32_t n)
{
	unsigned b = run_bin(n);
	uint64_t higher;
	uint32_t i;

	if (b < RUN_EXACT_BINS) {
		if (H.h->run_bins[b])
			return H.h->run_bins[b] - 1;
	} else {
		/* A log2 bin mixes sizes: first fit inside it. */
		for (i = H.h->run_bins[b]; i; i = H.pd[i - 1].next)
			if (H.pd[i - 1].run >= n)
				return i - 1;
	}
	higher = b + 1 < 64 ? H.h->bin_map & (~0ull << (b + 1)) : 0;
	if (!higher)
		return NO_PAGE;
	/* Every run in a higher bin is large enough: take the smallest. */
	return H.h->run_bins[__builtin_ctzll(higher)] - 1;
}

/* Take n pages off the heap, marked with `flags`.  Heap lock held. */
static uint32_t pages_take(uint32_t n, uint32_t flags)
{
	uint32_t p = run_find(n);
	uint32_t have;

	if (p == NO_PAGE)
		return NO_PAGE;
	have = H.pd[p].run;
	bin_remove(p);
	if (have > n) {
		run_mark(p + n, have - n, PG_FREE);
		bin_insert(p + n);
	}
	run_mark(p, n, flags);
	atomic_fetch_add_explicit(&H.h->pages_used, n, memory_order_relaxed);
	return p;
}

/* Give [p, p + n) back, merged with free neighbours.  Heap lock held. */
static void pages_give(uint32_t p, uint32_t n)
{
	struct page_shm *d;
	uint32_t q;

	atomic_fetch_sub_explicit(&H.h->pages_used, n, memory_order_relaxed);
	/* Stale flags on what becomes the inside of a run must not make a
	 * second free of this offset look valid. */
	H.pd[p].flags = 0;
	H.pd[p + n - 1].flags = 0;

	q = p + n;
	if (q < H.npages && (H.pd[q].flags & PG_FREE)) {
		n += H.pd[q].run;
		bin_remove(q);
		H.pd[q].flags = 0;
	}
	if (p > 0) {
		d = &H.pd[p - 1];
		if (d->flags & PG_FREE) {
			q = (d->flags & PG_TAIL) ? d->run - 1 : p - 1;
			bin_remove(q);
			n += H.pd[q].run;
			d->flags = 0;
			H.pd[q].flags = 0;
			p = q;
		}
	}
	run_mark(p, n, PG_FREE);
	bin_insert(p);
}

static inline char *page_addr(uint32_t p)
{
	return H.pages + ((size_t)p << PAGE_SHIFT);
}

static inline void partial_push(struct slab_cache_shm *c, unsigned cls,
				uint32_t p)
{
	struct page_shm *d = &H.pd[p];

	d->prev = 0;
	d->next = c->partial[cls];
	if (d->next)
		H.pd[d->next - 1].prev = p + 1;
	c->partial[cls] = p + 1;
}

static inline void partial_remove(struct slab_cache_shm *c, unsigned cls,
				  uint32_t p)
{
	struct page_shm *d = &H.pd[p];

	if (d->prev)
		H.pd[d->prev - 1].next = d->next;
	else
		c->partial[cls] = d->next;
	if (d->next)
		H.pd[d->next - 1].prev = d->prev;
	d->next = d->prev = 0;
}

static uint32_t slab_page_new(struct slab_cache_shm *c, unsigned cls)
{
	struct page_shm *d;
	uint32_t p;

	heap_lock();
	p = pages_take(1, PG_SLAB);
	tn_unlock(&H.h->lock);
	if (p == NO_PAGE)
		return NO_PAGE;
	/* Objects are carved lazily, so a fresh page costs O(1). */
	d = &H.pd[p];
	d->cls = (uint16_t)(cls + 1);
	d->owner = c->index;
	d->nfree = H.class_objs[cls];
	d->free_obj = 0;
	d->carved = 0;
	partial_push(c, cls, p);
	return p;
}

static tn_off slab_alloc(struct slab_cache_shm *c, size_t n)
{
	unsigned cls = size_class(n);
	uint32_t size = class_size[cls];
	struct page_shm *d;
	uint32_t p, o;
	char *page;

	if (unlikely(!c))
		return 0;
	if (likely(c->partial[cls])) {
		p = c->partial[cls] - 1;
	} else {
		p = slab_page_new(c, cls);
		if (p == NO_PAGE)
			return 0;
	}
	d = &H.pd[p];
	page = page_addr(p);
	if (d->free_obj) {
		o = d->free_obj - 1;
		d->free_obj = *(uint32_t *)(page + o);
	} else {
		o = d->carved;
		d->carved += size;
	}
	if (--d->nfree == 0)
		partial_remove(c, cls, p);
	c->used_bytes += size;
	atomic_fetch_add_explicit(&H.h->used_bytes, size, memory_order_relaxed);
	return H.pages_off + ((tn_off)p << PAGE_SHIFT) + o;
}

static void slab_free(uint32_t p, uint32_t o)
{
	struct page_shm *d = &H.pd[p];
	unsigned cls = d->cls - 1u;
	uint32_t size = class_size[cls];
	struct slab_cache_shm *c = &H.caches[d->owner - 1];

	*(uint32_t *)(page_addr(p) + o) = d->free_obj;
	d->free_obj = o + 1;
	c->used_bytes -= size;
	atomic_fetch_sub_explicit(&H.h->used_bytes, size, memory_order_relaxed);
	if (d->nfree++ == 0)
		partial_push(c, cls, p);
	if (d->nfree == H.class_objs[cls]) {
		partial_remove(c, cls, p);
		heap_lock();
		pages_give(p, 1);
		tn_unlock(&H.h->lock);
	}
}

static tn_off run_alloc(size_t n)
{
	uint32_t np, p;

	if (n > (size_t)H.npages << PAGE_SHIFT)
		return 0;
	np = (uint32_t)((n + TN_PAGE_SIZE - 1) >> PAGE_SHIFT);
	heap_lock();
	p = pages_take(np, PG_RUN);
	tn_unlock(&H.h->lock);
	if (p == NO_PAGE)
		return 0;
	atomic_fetch_add_explicit(&H.h->used_bytes, (uint64_t)np << PAGE_SHIFT,
				  memory_order_relaxed);
	return H.pages_off + ((tn_off)p << PAGE_SHIFT);
}

tn_off tn_alloc(struct slab_cache_shm *c, size_t n)
{
	if (unlikely(!H.h))
		return 0;
	if (likely(n <= TN_SLAB_MAX))
		return slab_alloc(c, n ? n : 1);
	return run_alloc(n);
}

/* The descriptor index of a live allocation at off, or NO_PAGE. */
static inline uint32_t page_of(tn_off off)
{
	tn_off rel = off - H.pages_off;

	if (unlikely(!H.h || off < H.pages_off ||
		     (rel >> PAGE_SHIFT) >= H.npages))
		return NO_PAGE;
	return (uint32_t)(rel >> PAGE_SHIFT);
}

void tn_free(tn_off off)
{
	uint32_t p = page_of(off);
	uint32_t o = (uint32_t)(off - H.pages_off) & (TN_PAGE_SIZE - 1);
	uint32_t n;

	if (unlikely(p == NO_PAGE))
		return;
	if (likely(H.pd[p].flags == PG_SLAB)) {
		slab_free(p, o);
		return;
	}
	/* Anything else that is not the start of a live run is a bad or
	 * repeated free: ignore it rather than corrupt the heap. */
	if (H.pd[p].flags != PG_RUN || o)
		return;
	n = H.pd[p].run;
	atomic_fetch_sub_explicit(&H.h->used_bytes, (uint64_t)n << PAGE_SHIFT,
				  memory_order_relaxed);
	heap_lock();
	pages_give(p, n);
	tn_unlock(&H.h->lock);
}

size_t tn_alloc_usable(tn_off off)
{
	uint32_t p = page_of(off);

	if (p == NO_PAGE)
		return 0;
	if (H.pd[p].flags == PG_SLAB)
		return class_size[H.pd[p].cls - 1];
	if (H.pd[p].flags == PG_RUN)
		return (size_t)H.pd[p].run << PAGE_SHIFT;
	return 0;
}

tn_off tn_realloc(struct slab_cache_shm *c, tn_off off, size_t n)
{
	size_t old;
	tn_off nw;

	if (!off)
		return tn_alloc(c, n);
	if (!n)
		n = 1;
	old = tn_alloc_usable(off);
	if (!old)
		return 0;
	if (n <= TN_SLAB_MAX) {
		if (old <= TN_SLAB_MAX && class_size[size_class(n)] == old)
			return off;
	} else if (old > TN_SLAB_MAX &&
		   (n + TN_PAGE_SIZE - 1) >> PAGE_SHIFT == old >> PAGE_SHIFT) {
		return off;
	}
	nw = tn_alloc(c, n);
	if (!nw)
		return 0;
	memcpy(tn_ptr(nw), tn_ptr(off), old < n ? old : n);
	tn_free(off);
	return nw;
}

uint64_t tn_heap_used(void)
{
	if (!H.h)
		return 0;
	return atomic_load_explicit(&H.h->used_bytes, memory_order_relaxed);
}

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static tn_off pages_end(tn_off descs_off, size_t np)
{
	return align_up(descs_off + np * sizeof(struct page_shm),
			TN_PAGE_SIZE) +
	       (np << PAGE_SHIFT);
}

static size_t heap_meta_bytes(unsigned ncaches)
{
	return align_up(sizeof(struct heap_shm), TN_CACHELINE) +
	       align_up((size_t)ncaches * sizeof(struct slab_cache_shm),
			TN_CACHELINE);
}

size_t tn_heap_footprint(size_t heap_bytes, unsigned ncaches)
{
	size_t np = (heap_bytes + TN_PAGE_SIZE - 1) >> PAGE_SHIFT;

	if (np < 1)
		np = 1;
	if (np > UINT32_MAX - 1)
		np = UINT32_MAX - 1;
	/* One page of slack: `off` need not be page aligned. */
	return heap_meta_bytes(ncaches) +
	       align_up(np * sizeof(struct page_shm), TN_CACHELINE) +
	       TN_PAGE_SIZE + (np << PAGE_SHIFT);
}

int tn_heap_init(tn_off off, size_t footprint, unsigned ncaches)
{
	struct heap_shm *h;
	struct slab_cache_shm *caches;
	tn_off descs_off, pages_off, end;
	size_t np;
	unsigned i;
	int r;

	if (!tn_base || !off || off % TN_CACHELINE || !ncaches)
		return -EINVAL;
	descs_off = off + heap_meta_bytes(ncaches);
	end = off + footprint;
	if (footprint < heap_meta_bytes(ncaches) + 2 * TN_PAGE_SIZE)
		return -EINVAL;
	np = (end - descs_off) / (TN_PAGE_SIZE + sizeof(struct page_shm));
	if (np > UINT32_MAX - 1)
		np = UINT32_MAX - 1;
	/* Pages start at the first page boundary after the descriptors. */
	while (np && pages_end(descs_off, np) > end)
		np--;
	if (!np)
		return -EINVAL;
	pages_off =
	    align_up(descs_off + np * sizeof(struct page_shm), TN_PAGE_SIZE);

	h = tn_ptr(off);
	memset(h, 0, sizeof(*h));
	r = tn_lock_init(&h->lock);
	if (r)
		return r;
	h->pages_off = pages_off;
	h->descs_off = descs_off;
	h->npages = (uint32_t)np;
	h->heap_bytes = (uint64_t)np << PAGE_SHIFT;
	h->cache_count = ncaches;
	h->caches_off = off + align_up(sizeof(struct heap_shm), TN_CACHELINE);
	caches = tn_ptr(h->caches_off);
	memset(caches, 0, (size_t)ncaches * sizeof(*caches));
	for (i = 0; i < ncaches; i++)
		caches[i].index = i + 1;

	tn_heap_attach(off);
	/* One run of every page: only two descriptors are written, so the
	 * sparse segment is not touched beyond them. */
	run_mark(0, (uint32_t)np, PG_FREE);
	bin_insert(0);
	return 0;
}

void tn_heap_attach(tn_off heap_off)
{
	unsigned i;

	memset(&H, 0, sizeof(H));
	if (!heap_off)
		return;
	H.h = tn_ptr(heap_off);
	H.pd = tn_ptr(H.h->descs_off);
	H.caches = tn_ptr(H.h->caches_off);
	H.pages = tn_ptr(H.h->pages_off);
	H.pages_off = H.h->pages_off;
	H.npages = H.h->npages;
	for (i = 0; i < TN_SLAB_NCLASSES; i++)
		H.class_objs[i] = (uint16_t)(TN_PAGE_SIZE / class_size[i]);
}

struct heap_shm *tn_heap(void)
{
	return H.h;
}

struct slab_cache_shm *tn_heap_cache(unsigned i)
{
	if (!H.h || i >= H.h->cache_count)
		return NULL;
	return &H.caches[i];
}
