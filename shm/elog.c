/*
 * elog.c - the effect log: a multi-producer byte ring of replayable RESP
 * records that shards fill and the journal drains.  Producers serialise
 * only to reserve; they copy outside the lock and commit with one release
 * store in the record header, which the journal reads in order.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "shm/shm.h"

_Static_assert(offsetof(struct elog_shm, consumed) % TN_CACHELINE == 0,
	       "elog_shm: the journal's line shares the producers' one");

#define ELOG_HDR 8u
#define ELOG_COMMITTED (1u << 31) /* in the length word */
#define ELOG_PAD 1u /* flags: filler up to the end of the ring */
#define ELOG_MORE 2u /* flags: a chunk, the record goes on in the next */
#define ELOG_SPACE_WAIT_MS 100 /* re-check shutdown this often */
#define ELOG_SLEEPING 1u /* journal_sleeping: wake it for any record */
#define ELOG_NAPPING 2u /* journal_sleeping: it wakes by itself soon */

/* The header that starts every record, 8-byte aligned in the ring. */
struct elog_hdr {
	_Atomic uint32_t len; /* body bytes | ELOG_COMMITTED */
	uint32_t flags;
};
_Static_assert(sizeof(struct elog_hdr) == ELOG_HDR, "elog_hdr");

static inline uint64_t rec_bytes(uint64_t len)
{
	return (ELOG_HDR + len + 7) & ~(uint64_t)7;
}

static inline struct elog_hdr *hdr_at(const struct elog_shm *l, uint64_t pos)
{
	return (struct elog_hdr *)(tn_base + l->data_off +
				   (pos & (l->size - 1)));
}

static long futex(_Atomic uint32_t *w, int op, uint32_t val,
		  const struct timespec *ts)
{
	return syscall(SYS_futex, (uint32_t *)w, op, val, ts, NULL, 0);
}

static void futex_wait_us(_Atomic uint32_t *w, uint32_t val, int64_t us)
{
	struct timespec ts = {.tv_sec = us / 1000000,
			      .tv_nsec = (long)(us % 1000000) * 1000};

	futex(w, FUTEX_WAIT, val, us >= 0 ? &ts : NULL);
}

static void futex_wake_all(_Atomic uint32_t *w)
{
	futex(w, FUTEX_WAKE, INT_MAX, NULL);
}

struct elog_shm *tn_elog(void)
{
	return tn_seg ? tn_ptr(tn_seg->elog_off) : NULL;
}

int tn_elog_init(struct elog_shm *l, tn_off data_off, uint64_t size)
{
	int r;

	if (size < 4096 || (size & (size - 1)) || !data_off || (data_off & 7) ||
	    size / 2 > UINT32_MAX / 2)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	r = tn_lock_init(&l->lock);
	if (r)
		return r;
	l->size = size;
	l->data_off = data_off;
	return 0;
}

size_t tn_elog_max_record(const struct elog_shm *l)
{
	/* in an empty ring either the room up to the end or the room
	 * before the current position is at least half of it */
	return l->size / 2 - ELOG_HDR;
}

static bool shutting_down(void)
{
	return tn_seg && atomic_load_explicit(&tn_seg->shutting_down,
					      memory_order_relaxed);
}

/*
 * A shard defers its wakes to the end of its event-loop round: the
 * journal then gets one batch per round instead of one per record, and
 * the shard one futex call per round instead of one per command.
 */
static struct {
	bool on;
	struct elog_shm *pending; /* a record was committed, no wake yet */
} defer;

/*
 * Wake the journal if it sleeps.  A journal that naps (gathering a batch
 * for a moment, appendfsync everysec or no) wakes by itself: only a
 * producer short of room (`force`) cuts the nap short.
 */
static void wake_now(struct elog_shm *l, bool force)
{
	uint32_t s = atomic_load(&l->journal_sleeping);

	/* seq_cst after the commit: either the journal's re-check after
	 * setting journal_sleeping sees our record, or we see the flag */
	if (!s || (s == ELOG_NAPPING && !force))
		return;
	if (atomic_exchange(&l->journal_sleeping, 0)) {
		atomic_fetch_add(&l->journal_futex, 1);
		futex_wake_all(&l->journal_futex);
	}
}

static void wake_journal(struct elog_shm *l)
{
	if (defer.on && (!defer.pending || defer.pending == l)) {
		defer.pending = l;
		return;
	}
	wake_now(l, false);
}

/* Map the ring's pages in this process now: a fault per 4 KB page on
 * the write path costs more than the whole ring once. */
static void prefault(struct elog_shm *l)
{
#ifdef MADV_POPULATE_WRITE
	madvise(tn_base + l->data_off, l->size, MADV_POPULATE_WRITE);
#else
	(void)l;
#endif
}

void tn_elog_defer_wakes(bool on)
{
	/* a shard starting its loop: it produces from now on */
	if (on && !defer.on && tn_elog())
		prefault(tn_elog());
	defer.on = on;
	if (!on)
		tn_elog_flush_wakes();
}

void tn_elog_flush_wakes(void)
{
	struct elog_shm *l = defer.pending;

	if (l) {
		defer.pending = NULL;
		wake_now(l, false);
	}
}

/*
 * Wait (holding `lock`) until `need` ring bytes are free after `at`.
 * False when the store shuts down first.
 */
static bool wait_room(struct elog_shm *l, uint64_t at, uint64_t need)
{
	for (;;) {
		uint64_t consumed = atomic_load(&l->consumed);
		uint32_t v;

		if (at + need - consumed <= l->size)
			return true;
		if (shutting_down())
			return false;
		/* the journal frees the room: it must not sleep on our
		 * deferred records meanwhile */
		tn_elog_flush_wakes();
		wake_now(l, true);
		v = atomic_load(&l->space_futex);
		atomic_fetch_add(&l->space_waiters, 1);
		/* seq_cst against the journal's store of `consumed` then
		 * load of space_waiters: it sees us or we see its release */
		if (at + need - atomic_load(&l->consumed) > l->size)
			futex_wait_us(&l->space_futex, v,
				      ELOG_SPACE_WAIT_MS * 1000);
		atomic_fetch_sub(&l->space_waiters, 1);
	}
}

/*
 * Reserve one record of `len` body bytes (the lock held): a padding
 * record first when it would cross the end.  Returns its position, and
 * leaves `reserved` past it, or UINT64_MAX when shutting down.
 */
static uint64_t reserve(struct elog_shm *l, uint64_t len, uint32_t flags)
{
	uint64_t at = atomic_load_explicit(&l->reserved, memory_order_relaxed);
	uint64_t need = rec_bytes(len);
	uint64_t to_end = l->size - (at & (l->size - 1));
	struct elog_hdr *h;

	if (need > to_end) {
		if (!wait_room(l, at, to_end))
			return UINT64_MAX;
		h = hdr_at(l, at);
		h->flags = ELOG_PAD;
		atomic_store_explicit(&h->len,
				      (uint32_t)(to_end - ELOG_HDR) |
					  ELOG_COMMITTED,
				      memory_order_release);
		at += to_end;
		atomic_store_explicit(&l->reserved, at, memory_order_release);
	}
	if (!wait_room(l, at, need))
		return UINT64_MAX;
	h = hdr_at(l, at);
	h->flags = flags;
	atomic_store_explicit(&h->len, (uint32_t)len, memory_order_relaxed);
	/* the uncommitted header before the counter: the journal only reads
	 * a header below `reserved`, so never last lap's committed one */
	atomic_store_explicit(&l->reserved, at + need, memory_order_release);
	atomic_fetch_add_explicit(&l->body_bytes, len, memory_order_relaxed);
	return at;
}

static void commit(struct elog_shm *l, uint64_t at, const void *p, size_t len)
{
	struct elog_hdr *h = hdr_at(l, at);

	memcpy((char *)h + ELOG_HDR, p, len);
	atomic_store_explicit(&h->len, (uint32_t)len | ELOG_COMMITTED,
			      memory_order_release);
}

static void elog_lock(struct elog_shm *l)
{
	/* a producer that died in here left a reservation it never
	 * committed; only a death inside a stripe lock can do that, and
	 * that poisons the store, which is rebuilt from the AOF */
	tn_lock(&l->lock);
}

uint64_t tn_elog_append(const void *p, size_t len)
{
	return tn_elog_append_to(tn_elog(), p, len);
}

uint64_t tn_elog_append_to(struct elog_shm *l, const void *p, size_t len)
{
	size_t max = tn_elog_max_record(l);
	const char *src = p;
	uint64_t at, end;

	if (!len)
		return 0;
	elog_lock(l);
	if (len <= max) {
		at = reserve(l, len, 0);
		tn_unlock(&l->lock);
		if (at == UINT64_MAX)
			return 0;
		commit(l, at, p, len);
		wake_journal(l);
		return at + rec_bytes(len);
	}
	/* Too big for one record: chunks, back to back under the lock, each
	 * committed before the next is reserved so the journal frees room. */
	end = 0;
	while (len) {
		size_t n = len < max ? len : max;

		at = reserve(l, n, n < len ? ELOG_MORE : 0);
		if (at == UINT64_MAX)
			break;
		commit(l, at, src, n);
		/* the journal frees room for the next chunk: at once */
		wake_now(l, true);
		src += n;
		len -= n;
		end = at + rec_bytes(n);
	}
	tn_unlock(&l->lock);
	return len ? 0 : end;
}

const void *tn_elog_read(struct elog_shm *l, uint64_t *cursor, size_t *len)
{
	uint64_t at = *cursor;

	for (;;) {
		uint64_t reserved = atomic_load_explicit(&l->reserved,
							 memory_order_acquire);
		struct elog_hdr *h;
		uint32_t w;

		if (at >= reserved)
			return NULL;
		h = hdr_at(l, at);
		w = atomic_load_explicit(&h->len, memory_order_acquire);
		if (!(w & ELOG_COMMITTED))
			return NULL;
		w &= ~ELOG_COMMITTED;
		if (h->flags & ELOG_PAD) {
			at += rec_bytes(w);
			*cursor = at;
			continue;
		}
		*len = w;
		*cursor = at + rec_bytes(w);
		return (const char *)h + ELOG_HDR;
	}
}

const void *tn_elog_peek(struct elog_shm *l, size_t *len, uint64_t *pos)
{
	uint64_t at = atomic_load_explicit(&l->consumed, memory_order_relaxed);
	const void *p = tn_elog_read(l, &at, len);

	*pos = at;
	return p;
}

void tn_elog_release(struct elog_shm *l, uint64_t pos)
{
	if (pos <= atomic_load_explicit(&l->consumed, memory_order_relaxed))
		return;
	/* done reading: the producers may reuse the bytes */
	atomic_store(&l->consumed, pos);
	if (atomic_load(&l->space_waiters)) {
		atomic_fetch_add(&l->space_futex, 1);
		futex_wake_all(&l->space_futex);
	}
}

uint64_t tn_elog_committed(struct elog_shm *l)
{
	uint64_t at = atomic_load_explicit(&l->consumed, memory_order_relaxed);
	size_t len;

	while (tn_elog_read(l, &at, &len))
		;
	return at;
}

void tn_elog_wait_at(struct elog_shm *l, uint64_t cursor, int64_t timeout_us)
{
	uint32_t v = atomic_load(&l->journal_futex);
	size_t len;

	atomic_store(&l->journal_sleeping, ELOG_SLEEPING);
	/* a producer that committed before seeing the flag is found here */
	if (!tn_elog_read(l, &cursor, &len) && !shutting_down())
		futex_wait_us(&l->journal_futex, v, timeout_us);
	atomic_store(&l->journal_sleeping, 0);
}

uint32_t tn_elog_seq(struct elog_shm *l)
{
	return atomic_load(&l->journal_futex);
}

void tn_elog_nap(struct elog_shm *l, uint32_t seq, int64_t timeout_us)
{
	atomic_store(&l->journal_sleeping, ELOG_NAPPING);
	if (!shutting_down())
		futex_wait_us(&l->journal_futex, seq, timeout_us);
	atomic_store(&l->journal_sleeping, 0);
}

void tn_elog_prefault(struct elog_shm *l)
{
	prefault(l);
}

void tn_elog_wait(struct elog_shm *l, int timeout_ms)
{
	tn_elog_wait_at(l, atomic_load(&l->consumed),
			timeout_ms < 0 ? -1 : (int64_t)timeout_ms * 1000);
}

void tn_elog_wake(struct elog_shm *l)
{
	atomic_fetch_add(&l->journal_futex, 1);
	futex_wake_all(&l->journal_futex);
}

bool tn_elog_record_more(const void *body)
{
	const struct elog_hdr *h =
		(const struct elog_hdr *)((const char *)body - ELOG_HDR);

	return (h->flags & ELOG_MORE) != 0;
}
