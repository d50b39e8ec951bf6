/*
 * segment.c - create the shared segment: size every part first, then one
 * memfd mapped MAP_SHARED, then the header with its table of contents,
 * the stripes, the process and client tables, the pub/sub tables and
 * inboxes, the effect log, and the heap.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm.h"

_Static_assert(sizeof(struct stripe_shm) % TN_CACHELINE == 0, "stripe_shm");
_Static_assert(sizeof(struct client_shm) % TN_CACHELINE == 0, "client_shm");

#define SEG_SPARE_PROCS 8 /* acceptor + supervisor + shards + these */
/* Stripes take the low hash bits, buckets the bits from 16 up. */
#define SEG_MAX_STRIPES 65536u
#define SEG_MIN_KEY_AT	(sizeof(tn_off) + sizeof(uint32_t))
/* The heap's caches: one per stripe, then pub/sub's (its tables' lock
 * guards it). */
#define SEG_NCACHES(nstripes) ((nstripes) + 1)
#define SEG_PUBSUB_CACHE(nstripes) (nstripes)

char *tn_base;
struct seg_shm *tn_seg;

static size_t align64(size_t v)
{
	return (v + TN_CACHELINE - 1) & ~(size_t)(TN_CACHELINE - 1);
}

static void hex_id(char *out, size_t bytes)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t raw[32];
	size_t i;

	arc4random_buf(raw, bytes);
	for (i = 0; i < bytes; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[2 * bytes] = '\0';
}

static size_t page_align(size_t v)
{
	return (v + TN_PAGE_SIZE - 1) & ~(size_t)(TN_PAGE_SIZE - 1);
}

/* An inbox size the ring takes: a power of two, at least its minimum. */
static uint64_t inbox_size(size_t want)
{
	uint64_t n = TN_RING_MIN_BYTES;

	if (!want)
		want = TN_PUBSUB_INBOX_BYTES;
	while (n < want && n < ((uint64_t)1 << 40))
		n <<= 1;
	return n;
}

/* The pub/sub tables, empty, and one inbox per shard. */
/* The effect log's size: a power of two, at least its minimum. */
static uint64_t elog_size(size_t want)
{
	uint64_t n = TN_ELOG_MIN_BYTES;

	while (n < want && n < ((uint64_t)1 << 40))
		n <<= 1;
	return n;
}

static int pubsub_init(struct seg_shm *s, size_t off, size_t rings_off,
		       size_t inbox_off, uint64_t inbox)
{
	struct pubsub_shm *ps = tn_ptr(off);
	uint32_t i;
	int r;

	s->pubsub_off = off;
	r = tn_lock_init(&ps->lock);
	if (r)
		return r;
	ps->cache = SEG_PUBSUB_CACHE(s->nstripes);
	tn_dict_init(&ps->channels, TN_CHAN_KEY_AT);
	tn_dict_init(&ps->shard_channels, TN_CHAN_KEY_AT);
	tn_dict_init(&ps->patterns, TN_CHAN_KEY_AT);
	ps->nshards = s->nshards;
	ps->rings_off = rings_off;
	ps->inbox_bytes = inbox;
	for (i = 0; i < s->nshards; i++) {
		r = tn_ring_init(tn_inbox(i), inbox_off + (size_t)i * inbox,
				 inbox);
		if (r)
			return r;
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tn_segment_create(const struct tn_seg_params *p)
{
	size_t off, size, heap_fp;
	size_t config_off, stripes_off, procs_off, clients_off, heap_off;
	size_t pubsub_off, rings_off, inbox_off, elog_off, elog_data_off;
	uint64_t inbox, elog;
	struct seg_shm *s;
	uint32_t nprocs, i;
	void *base;
	int fd, r;

	if (!p || !p->nstripes || (p->nstripes & (p->nstripes - 1)) ||
	    p->nstripes > SEG_MAX_STRIPES || p->key_at < SEG_MIN_KEY_AT ||
	    p->nshards > UINT32_MAX - 2 - SEG_SPARE_PROCS)
		return -EINVAL;
	nprocs = 2 + p->nshards + SEG_SPARE_PROCS;
	inbox = inbox_size(p->inbox_bytes);
	elog = elog_size(p->elog_bytes);

	/* Size everything first: header, config, stripes, procs, clients,
	 * then the heap, each part on its own cache lines. */
	off = align64(sizeof(struct seg_shm));
	config_off = off;
	off += align64(p->config_bytes);
	stripes_off = off;
	off += align64((size_t)p->nstripes * sizeof(struct stripe_shm));
	procs_off = off;
	off += align64((size_t)nprocs * sizeof(struct proc_shm));
	clients_off = off;
	off += align64((size_t)p->nclients * sizeof(struct client_shm));
	pubsub_off = off;
	off += align64(sizeof(struct pubsub_shm));
	rings_off = off;
	off += align64((size_t)p->nshards * sizeof(struct ring_shm));
	inbox_off = off = page_align(off);
	off += (size_t)p->nshards * inbox;
	elog_off = off;
	off += align64(sizeof(struct elog_shm));
	elog_data_off = off = page_align(off);
	off += elog;
	heap_off = off;
	heap_fp = tn_heap_footprint(p->heap_bytes, SEG_NCACHES(p->nstripes));
	size = (off + heap_fp + TN_PAGE_SIZE - 1) & ~(size_t)(TN_PAGE_SIZE - 1);

	fd = memfd_create("titan", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		goto fail_fd;
	}
	base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		r = -errno;
		goto fail_fd;
	}
	tn_base = base;
	tn_seg = s = base;

	s->magic = TN_SEG_MAGIC;
	s->layout = TN_SEG_LAYOUT;
	s->nstripes = p->nstripes;
	s->nshards = p->nshards;
	s->nprocs = nprocs;
	s->nclients = p->nclients;
	s->size = size;
	s->config_off = config_off;
	s->config_bytes = p->config_bytes;
	s->heap_off = heap_off;
	s->stripes_off = stripes_off;
	s->procs_off = procs_off;
	s->clients_off = clients_off;
	arc4random_buf(s->hash_seed, sizeof(s->hash_seed));
	tn_hash_seed(s->hash_seed);
	r = tn_lock_init(&s->config_lock);
	if (r)
		goto fail_map;
	atomic_store(&s->next_client_id, 1);
	s->start_ms = now_ms();
	atomic_store(&s->stat_reset_ms, s->start_ms);
	/* no save has failed yet (stop-writes-on-bgsave-error) */
	s->aof_last_rewrite_ok = 1;
	s->rdb_last_bgsave_ok = 1;
	hex_id(s->run_id, (sizeof(s->run_id) - 1) / 2);

	r = tn_heap_init(heap_off, heap_fp, SEG_NCACHES(p->nstripes));
	if (r)
		goto fail_map;
	r = pubsub_init(s, pubsub_off, rings_off, inbox_off, inbox);
	if (r)
		goto fail_map;
	s->elog_off = elog_off;
	r = tn_elog_init(tn_ptr(elog_off), elog_data_off, elog);
	if (r)
		goto fail_map;
	for (i = 0; i < p->nstripes; i++) {
		struct stripe_shm *st = tn_stripe(i);

		r = tn_lock_init(&st->lock);
		if (r)
			goto fail_map;
		tn_dict_init(&st->keys, p->key_at);
		tn_dict_init(&st->watched, TN_WATCH_KEY_AT);
		st->cache = i;
		st->index = i;
	}
	return fd;

fail_map:
	munmap(base, size);
	tn_heap_attach(0);
	tn_base = NULL;
	tn_seg = NULL;
fail_fd:
	close(fd);
	return r;
}

void tn_segment_destroy(int fd)
{
	if (tn_seg)
		munmap(tn_base, tn_seg->size);
	if (fd >= 0)
		close(fd);
	tn_heap_attach(0);
	tn_base = NULL;
	tn_seg = NULL;
}
