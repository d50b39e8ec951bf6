/*
 * ring.c - bounded rings of variable-length records in the segment, the
 * shards' pub/sub inboxes: producers (serialised by the caller) append,
 * the one consumer reads records in place and releases them.
 */
#include <errno.h>
#include <string.h>

#include "shm/shm.h"

_Static_assert(sizeof(struct ring_shm) == 2 * TN_CACHELINE, "ring_shm size");
_Static_assert(offsetof(struct ring_shm, head) % TN_CACHELINE == 0,
	       "ring_shm: the consumer's counter shares the producers' line");

#define RING_PAD UINT32_MAX /* kind of the filler before a wrap */

struct rec_hdr {
	uint32_t len; /* body bytes */
	uint32_t kind;
};
_Static_assert(sizeof(struct rec_hdr) == TN_RING_HEADER_BYTES, "rec_hdr");

static inline uint64_t rec_bytes(size_t len)
{
	return (TN_RING_HEADER_BYTES + len + 7) & ~(uint64_t)7;
}

static inline char *ring_at(const struct ring_shm *r, uint64_t counter)
{
	return tn_base + r->data_off + (counter & (r->size - 1));
}

int tn_ring_init(struct ring_shm *r, tn_off data_off, uint64_t size)
{
	if (size < TN_RING_MIN_BYTES || (size & (size - 1)) || !data_off ||
	    (data_off & 7))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->size = size;
	r->data_off = data_off;
	return 0;
}

size_t tn_ring_max_record(const struct ring_shm *r)
{
	/* In an empty ring either the space to the end or the space before
	 * the current position is at least half of it. */
	return r->size / 2 - TN_RING_HEADER_BYTES;
}

int tn_ring_push(struct ring_shm *r, uint32_t kind, const struct iovec *iov,
		 int iovcnt)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t need, to_end, pad = 0;
	struct rec_hdr h = {.kind = kind};
	size_t len = 0;
	char *p;
	int i;

	for (i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (len > tn_ring_max_record(r) || kind == RING_PAD)
		return -EMSGSIZE;
	need = rec_bytes(len);
	to_end = r->size - (tail & (r->size - 1));
	if (need > to_end)
		pad = to_end;
	if (tail + pad + need - head > r->size) {
		atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
		return -ENOSPC;
	}
	if (pad) {
		struct rec_hdr ph = {.len = (uint32_t)(pad -
						       TN_RING_HEADER_BYTES),
				     .kind = RING_PAD};

		memcpy(ring_at(r, tail), &ph, sizeof(ph));
		tail += pad;
	}
	h.len = (uint32_t)len;
	p = ring_at(r, tail);
	memcpy(p, &h, sizeof(h));
	p += sizeof(h);
	for (i = 0; i < iovcnt; i++) {
		memcpy(p, iov[i].iov_base, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	r->pushed++;
	/* the bytes before the counter: the consumer loads it with acquire */
	atomic_store_explicit(&r->tail, tail + need, memory_order_release);
	return 0;
}

bool tn_ring_wake_claim(struct ring_shm *r)
{
	/* seq_cst with the tail store above and the consumer's reset-then-
	 * load: either it sees our record, or we see the flag clear */
	return atomic_exchange(&r->wake_pending, 1) == 0;
}

void tn_ring_wake_reset(struct ring_shm *r)
{
	atomic_store(&r->wake_pending, 0);
}

void tn_ring_want_space(struct ring_shm *r, unsigned who)
{
	/* seq_cst with the consumer's head store and exchange below: either
	 * it sees our bit, or our next push sees its room */
	atomic_fetch_or(&r->space_wanted, 1u << (who & 31));
}

uint32_t tn_ring_space_claim(struct ring_shm *r)
{
	/* the head stores before this load (store-load order) */
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&r->space_wanted, memory_order_relaxed))
		return 0;
	return atomic_exchange(&r->space_wanted, 0);
}

const void *tn_ring_peek(struct ring_shm *r, uint32_t *kind, size_t *len)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t tail = atomic_load(&r->tail);
	struct rec_hdr h;
	const char *p;

	for (;;) {
		if (head == tail)
			return NULL;
		p = ring_at(r, head);
		memcpy(&h, p, sizeof(h));
		if (h.kind != RING_PAD)
			break;
		head += rec_bytes(h.len);
		atomic_store_explicit(&r->head, head, memory_order_release);
	}
	*kind = h.kind;
	*len = h.len;
	return p + sizeof(h);
}

void tn_ring_pop(struct ring_shm *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	struct rec_hdr h;

	memcpy(&h, ring_at(r, head), sizeof(h));
	/* done reading: the producers may reuse the bytes */
	atomic_store_explicit(&r->head, head + rec_bytes(h.len),
			      memory_order_release);
}
