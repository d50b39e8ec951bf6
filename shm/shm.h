/*
 * shm.h - the shared segment: its layout, the slab allocator over it, the
 * offset-addressed hash table (dict) and the stripes of the keyspace.
 *
 * Everything stored in the segment refers to other things by offset from
 * the segment base (tn_off), never by pointer.  tn_ptr() turns an offset
 * into a pointer at the point of use.
 */
#ifndef TN_SHM_H
#define TN_SHM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef uint64_t tn_off; /* offset from the segment base; 0 means none */

extern char *tn_base; /* where this process mapped the segment */

static inline void *tn_ptr(tn_off off)
{
	return off ? (void *)(tn_base + off) : NULL;
}

static inline tn_off tn_off_of(const void *p)
{
	return p ? (tn_off)((const char *)p - tn_base) : 0;
}

#define TN_CACHELINE 64
#define TN_SHM_ALIGNED __attribute__((aligned(TN_CACHELINE)))

/* ------------------------------------------------------------------ */
/* Robust process-shared locks                                          */
/* ------------------------------------------------------------------ */

/* Initialise a PTHREAD_PROCESS_SHARED + PTHREAD_MUTEX_ROBUST mutex. */
int tn_lock_init(pthread_mutex_t *m);
/*
 * Lock.  Returns 0, or -EOWNERDEAD when the previous owner died holding
 * it: the lock is then held and made consistent, but what it guards may
 * be half-written; the caller decides (the shard reports to the
 * supervisor, which restarts the store).
 */
int tn_lock(pthread_mutex_t *m);
void tn_unlock(pthread_mutex_t *m);

/* ------------------------------------------------------------------ */
/* Slab allocator (shm/slab.c)                                          */
/* ------------------------------------------------------------------ */

#define TN_PAGE_SIZE 4096u
#define TN_SLAB_MAX 2048u /* larger requests take whole page runs */
/* 8-byte steps to 128, then 8 classes per doubling up to 2048. */
#define TN_SLAB_NCLASSES 48
#define TN_HEAP_NBINS 64 /* free-run bins: exact to 32 pages, then log2 */

/*
 * One page descriptor per heap page, in an array ahead of the pages.
 * For a slab page: its size class, free count and free list; for a run
 * of free or allocated pages: the run length (on the first page) and a
 * back-pointer to the first page (on the last one) for coalescing.
 */
struct page_shm {
	uint32_t next; /* page index + 1 in a list; 0 ends it */
	uint32_t prev;
	uint32_t run; /* pages in the run (first page); first page + 1 (last) */
	uint16_t cls; /* size class + 1 for slab pages; 0 otherwise */
	uint16_t nfree; /* free objects on a slab page */
	uint32_t free_obj; /* byte offset in page of first free object + 1 */
	uint32_t owner; /* stripe cache index + 1 that owns a slab page */
	uint32_t flags;
	uint32_t carved; /* slab page: bytes handed out at least once */
};
_Static_assert(sizeof(struct page_shm) == 32, "page_shm size");

/* Per-stripe cache: partially free slab pages of each size class.  Only
 * touched with the owning stripe's lock held. */
struct slab_cache_shm {
	uint32_t partial[TN_SLAB_NCLASSES]; /* page index + 1, list head */
	uint32_t index; /* this cache's number + 1 */
	uint32_t spare;
	uint64_t used_bytes; /* bytes this cache has handed out */
} TN_SHM_ALIGNED;

/* The global heap: page runs, with its own lock. */
struct heap_shm {
	pthread_mutex_t lock;
	tn_off pages_off; /* first page */
	tn_off descs_off; /* page_shm array */
	uint32_t npages;
	uint32_t free_runs; /* how many free runs run_bins hold */
	_Atomic uint64_t used_bytes; /* everything handed out, slabs included */
	_Atomic uint64_t pages_used;
	uint64_t heap_bytes;
	uint32_t cache_count;
	uint32_t spare;
	tn_off caches_off; /* slab_cache_shm array, one per stripe + 1 */
	uint64_t bin_map; /* bit b set: run_bins[b] is not empty */
	uint32_t run_bins[TN_HEAP_NBINS]; /* page index + 1, free run lists */
} TN_SHM_ALIGNED;

/* Bytes of segment the heap needs to manage `heap_bytes` of objects
 * (pages + descriptors + caches).  Used to size the segment. */
size_t tn_heap_footprint(size_t heap_bytes, unsigned ncaches);
/* Lay out a heap at `off` spanning `footprint` bytes.  0 or -errno. */
int tn_heap_init(tn_off off, size_t footprint, unsigned ncaches);
struct heap_shm *tn_heap(void); /* the segment's heap */
void tn_heap_attach(tn_off heap_off); /* set by tn_segment_* */
struct slab_cache_shm *tn_heap_cache(unsigned i);

/*
 * Allocate `n` bytes from cache `c` (the caller holds c's stripe lock).
 * Returns 0 when the heap is exhausted.  Objects are 8-byte aligned.
 */
tn_off tn_alloc(struct slab_cache_shm *c, size_t n);
/* Free an object (caller holds the lock of the stripe owning its page). */
void tn_free(tn_off off);
/* Usable size of an allocated object. */
size_t tn_alloc_usable(tn_off off);
/* Grow or shrink; may move.  Returns 0 (old still valid) on failure. */
tn_off tn_realloc(struct slab_cache_shm *c, tn_off off, size_t n);
/* Bytes currently handed out (what INFO calls used_memory). */
uint64_t tn_heap_used(void);

/* ------------------------------------------------------------------ */
/* Dict: chained hash table with incremental rehash (shm/dict.c)        */
/* ------------------------------------------------------------------ */

/*
 * Entries are caller-allocated.  Every entry starts with `tn_off next`
 * and carries its key at byte `key_at`, preceded by its length as a
 * uint32_t at `key_at - 4`.
 */
struct dict_shm {
	tn_off table[2]; /* arrays of tn_off bucket heads */
	uint64_t size[2]; /* bucket counts, powers of two (or 0) */
	uint64_t used[2];
	int64_t rehash_idx; /* -1 when not rehashing */
	uint32_t key_at;
	uint32_t flags; /* TN_DICT_NO_SHRINK */
};

/* A cursor walks the table across lock releases: no shrink meanwhile
 * (it would bring back keys already visited).  Cleared by a release. */
#define TN_DICT_NO_SHRINK 1u

uint64_t tn_hash(const void *key, size_t len);
void tn_hash_seed(const uint8_t seed[16]);

void tn_dict_init(struct dict_shm *d, uint32_t key_at);
static inline uint64_t tn_dict_size(const struct dict_shm *d)
{
	return d->used[0] + d->used[1];
}
/* Find the entry whose key equals key[0..len); `h` = tn_hash(key, len). */
tn_off tn_dict_find(struct dict_shm *d, const void *key, size_t len,
		    uint64_t h);
/* Link a new entry (its key must not be present).  May grow the table
 * from `c`; returns 0 or -ENOMEM (entry not linked). */
int tn_dict_add(struct dict_shm *d, struct slab_cache_shm *c, tn_off e,
		uint64_t h);
/* Unlink the entry with this key; returns it (not freed) or 0. */
tn_off tn_dict_unlink(struct dict_shm *d, struct slab_cache_shm *c,
		      const void *key, size_t len, uint64_t h);
/* Swap entry `old` for `new` (same key) in its chain, e.g. after
 * tn_realloc.  `old` is not read (it may be freed): `new` must already
 * start with old's `next`, as tn_realloc's copy does. */
void tn_dict_replace(struct dict_shm *d, tn_off old, tn_off new, uint64_t h);
/* Do `steps` buckets of incremental rehash; returns 1 if more remains.
 * When done and `c` is given, starts a shrink if the table is sparse. */
int tn_dict_rehash(struct dict_shm *d, struct slab_cache_shm *c, int steps);
/* Shrink if mostly empty (call after deletions). */
void tn_dict_shrink(struct dict_shm *d, struct slab_cache_shm *c);
/*
 * Keep the table from shrinking (`on`) while a tn_dict_scan cursor
 * walks it in several holds of its lock, so that no entry is visited
 * twice; a shrink already under way is finished first.  Growth stays
 * allowed.  tn_dict_size_held() turns false if the dict was released
 * (emptied) meanwhile.
 */
void tn_dict_hold_size(struct dict_shm *d, bool on);
bool tn_dict_size_held(const struct dict_shm *d);
/* A uniformly-ish random entry (0 when empty). */
tn_off tn_dict_random(struct dict_shm *d);
/*
 * Redis' reverse-binary cursor scan: calls fn for each entry of the
 * buckets visited and returns the next cursor (0 when done).  Entries
 * present for the whole scan are returned at least once, even across
 * resizes.  fn must not add or unlink entries.
 */
typedef void (*tn_dict_scan_fn)(void *arg, tn_off entry);
uint64_t tn_dict_scan(struct dict_shm *d, uint64_t cursor, tn_dict_scan_fn fn,
		      void *arg);
/* Free the bucket arrays (entries are the caller's). */
void tn_dict_release(struct dict_shm *d);
/* Visit every entry (no modification during the walk). */
void tn_dict_foreach(struct dict_shm *d, tn_dict_scan_fn fn, void *arg);
/* Bytes taken by the bucket arrays. */
uint64_t tn_dict_overhead(const struct dict_shm *d);

/* ------------------------------------------------------------------ */
/* Stripes and the segment (shm/segment.c, shm/stripe.c)               */
/* ------------------------------------------------------------------ */

/*
 * A stripe: one part of the keyspace, `hash(key) & (nstripes - 1)`.  Its
 * lock guards the dict, the TTL index and the stripe's slab cache.  The
 * TTL index is an array of entry offsets (entries with an expiry) that
 * active expiry samples at random.
 */
struct stripe_shm {
	pthread_mutex_t lock;
	struct dict_shm keys;
	tn_off ttl_arr; /* tn_off[ttl_cap] */
	uint32_t ttl_len;
	uint32_t ttl_cap;
	uint32_t cache; /* slab cache index */
	uint32_t index;
	uint64_t expired_stale_perc; /* for INFO: last sample's expired % */
	/*
	 * Set while the lock holder may be changing the stripe.  A holder
	 * that dies with it clear was only reading: the stripe is intact and
	 * the next locker carries on; with it set the store is poisoned.
	 */
	_Atomic uint32_t writing;
	/* WATCHed keys of this stripe (struct watch_shm), from any shard */
	struct dict_shm watched;
} TN_SHM_ALIGNED;

/*
 * A WATCHed key: clients remember `version` when they WATCH it and EXEC
 * compares.  Writes and expiry bump it; `refs` counts the watching
 * clients of every shard, and the entry goes with the last one.
 */
struct watch_shm {
	tn_off next;
	uint64_t version;
	uint32_t refs;
	uint32_t keylen;
	char key[];
};
#define TN_WATCH_KEY_AT offsetof(struct watch_shm, key)

/* Per-process slot: liveness and the counters INFO sums. */
struct proc_shm {
	_Atomic int32_t pid;
	_Atomic int32_t alive; /* 1 while the process serves */
	_Atomic int64_t clients; /* connected clients */
	_Atomic uint64_t commands;
	_Atomic uint64_t connections;
	_Atomic uint64_t rejected;
	_Atomic uint64_t hits;
	_Atomic uint64_t misses;
	_Atomic uint64_t expired;
	_Atomic uint64_t net_in;
	_Atomic uint64_t net_out;
	_Atomic uint64_t cmd_usec;
	_Atomic uint64_t blocked;
	_Atomic uint64_t pubsub_channels;
	_Atomic uint64_t restarts;
	uint64_t spare[2];
} TN_SHM_ALIGNED;
_Static_assert(sizeof(struct proc_shm) % TN_CACHELINE == 0, "proc_shm");

/* One connected client, as CLIENT LIST and CLIENT KILL see it. */
struct client_shm {
	_Atomic uint64_t id; /* 0: slot free */
	_Atomic int32_t kill; /* set by CLIENT KILL; the owner closes it */
	int32_t shard;
	int32_t fd;
	int32_t db;
	uint32_t flags;
	int32_t resp;
	int64_t ctime_ms;
	_Atomic int64_t last_ms;
	uint64_t qbuf, obuf;
	char addr[64];
	char laddr[64];
	char name[64];
	char lastcmd[32];
	char user[16];
	/* CLIENT LIST's sub= psub= ssub=, kept by store/pubsub.c */
	uint32_t nsub, npsub, nssub;
	/* and multi=: queued commands + 1 inside MULTI, 0 outside, so a
	 * zeroed slot reads -1 (store/t_client.c) */
	uint32_t multi_plus1;
} TN_SHM_ALIGNED;

/* ------------------------------------------------------------------ */
/* Rings (shm/ring.c): bounded byte rings of variable-length records    */
/* ------------------------------------------------------------------ */

/*
 * One consumer, producers serialised by the caller (pub/sub: its lock).
 * Counters are 64-bit and only grow; position = counter & (size - 1).
 * A record is an 8-byte header (length, kind) and its bytes, padded to
 * 8; a record never wraps: one that does not fit before the end is put
 * at the start, behind a padding record, so the consumer reads every
 * record in place.
 */
struct ring_shm {
	/* the producers' line */
	_Atomic uint64_t tail; /* bytes ever pushed */
	uint64_t pushed; /* records ever pushed */
	_Atomic uint64_t dropped; /* records refused: the ring was full */
	uint64_t size; /* data bytes, a power of two; fixed */
	tn_off data_off; /* fixed */
	uint64_t spare0[3];
	/* the consumer's line */
	_Atomic uint64_t head; /* bytes ever consumed */
	/* Set by the producer that wakes the consumer, cleared by the
	 * consumer before it drains: one wake for many records. */
	_Atomic uint32_t wake_pending;
	/* Producers (a bit each) that found the ring full and wait to be
	 * woken once the consumer has made room. */
	_Atomic uint32_t space_wanted;
	uint64_t spare2[6];
} TN_SHM_ALIGNED;

#define TN_RING_HEADER_BYTES 8u
#define TN_RING_MIN_BYTES 4096u

/* Lay out an empty ring over `size` bytes (a power of two, at least
 * TN_RING_MIN_BYTES) at data_off.  0 or -EINVAL. */
int tn_ring_init(struct ring_shm *r, tn_off data_off, uint64_t size);
/* The largest record body that always fits an empty ring. */
size_t tn_ring_max_record(const struct ring_shm *r);
/*
 * Producer: append one record of `kind` (below UINT32_MAX) made of the
 * iovecs.  0, -EMSGSIZE (larger than tn_ring_max_record) or -ENOSPC
 * (full right now; counted in `dropped`).  Never blocks.
 */
int tn_ring_push(struct ring_shm *r, uint32_t kind, const struct iovec *iov,
		 int iovcnt);
/* Producer, after pushing: true if it must wake the consumer (the
 * consumer had not been woken since it last drained). */
bool tn_ring_wake_claim(struct ring_shm *r);
/* Consumer: clear the wake flag, then drain everything. */
void tn_ring_wake_reset(struct ring_shm *r);
/* Producer `who` (0..31) found the ring full: ask to be told when the
 * consumer has made room.  Push again after this, before waiting. */
void tn_ring_want_space(struct ring_shm *r, unsigned who);
/* Consumer, after releasing records: the producers to wake (a bit each,
 * cleared), or 0. */
uint32_t tn_ring_space_claim(struct ring_shm *r);
/* Consumer: the oldest record, in place, or NULL when empty.  Valid
 * until tn_ring_pop(). */
const void *tn_ring_peek(struct ring_shm *r, uint32_t *kind, size_t *len);
/* Consumer: release the record tn_ring_peek() returned. */
void tn_ring_pop(struct ring_shm *r);
/* Bytes pushed and not yet consumed. */
static inline uint64_t tn_ring_used(struct ring_shm *r)
{
	return atomic_load_explicit(&r->tail, memory_order_acquire) -
	       atomic_load_explicit(&r->head, memory_order_relaxed);
}

/* ------------------------------------------------------------------ */
/* The effect log (shm/elog.c): writes on their way to the journal      */
/* ------------------------------------------------------------------ */

/*
 * A multi-producer, single-consumer byte ring of effect records: each
 * record is the replayable RESP of one command's effects (DESIGN.md
 * section 3), reserved while the producer still holds the stripe locks
 * of its keys, so log order is execution order for every key.
 *
 * Producers serialise on `lock` only to reserve space; they copy and
 * commit outside it.  A record never wraps (a padding record fills the
 * end of the ring).  The journal reads committed records in order and
 * stops at the first uncommitted one.  Positions are 64-bit counters of
 * ring bytes that only grow; `durable` is such a position too, so a
 * writer compares its record's end with it.
 *
 * A record larger than tn_elog_max_record() is split into chunks that
 * are reserved one after the other under `lock`, so no other record
 * lands between them; the journal just concatenates record bodies.
 */
struct elog_shm {
	pthread_mutex_t lock; /* producers: reservation */
	uint64_t size; /* data bytes, a power of two; fixed */
	tn_off data_off; /* fixed */
	_Atomic uint64_t reserved; /* ring bytes ever reserved */
	_Atomic uint64_t body_bytes; /* record body bytes ever reserved */
	_Atomic uint32_t space_futex; /* bumped when `consumed` moves */
	_Atomic uint32_t space_waiters; /* producers sleeping for room */
	uint8_t spare0[8];
	/* the journal's line */
	_Atomic uint64_t consumed TN_SHM_ALIGNED; /* ring bytes released */
	_Atomic uint64_t durable; /* on disk as appendfsync asks */
	_Atomic uint32_t journal_futex; /* bumped by producers to wake it */
	_Atomic uint32_t journal_sleeping;
	_Atomic int32_t write_errno; /* last AOF write error; 0 once ok */
	_Atomic uint32_t shard_waiting; /* bit i: shard i waits on durable */
	uint8_t spare1[32];
	/* requests to the journal, from any process (set, then wake it) */
	_Atomic uint32_t req_rewrite TN_SHM_ALIGNED; /* BGREWRITEAOF */
	_Atomic uint32_t req_bgsave; /* BGSAVE */
	_Atomic uint32_t req_aof_on; /* CONFIG SET appendonly yes */
	uint8_t spare2[52];
} TN_SHM_ALIGNED;
_Static_assert(sizeof(struct elog_shm) % TN_CACHELINE == 0, "elog_shm");

#define TN_ELOG_MIN_BYTES (16u << 20)

/* The segment's effect log. */
struct elog_shm *tn_elog(void);
/* Lay out an empty log over `size` bytes (a power of two) at data_off. */
int tn_elog_init(struct elog_shm *l, tn_off data_off, uint64_t size);
/* Largest body one record carries (larger ones are chunked). */
size_t tn_elog_max_record(const struct elog_shm *l);
/*
 * Producer: append `len` bytes as one record (or several contiguous
 * chunks), waiting for room while the log is full (back-pressure: the
 * caller keeps its stripe locks).  Wakes the journal when it sleeps.
 * Returns the log position just past the record (what `durable` must
 * reach before the write may be acknowledged under appendfsync always),
 * or 0 when the store is shutting down and nothing was logged.
 */
uint64_t tn_elog_append(const void *p, size_t len);
/* The same on a given log (tests, tools). */
uint64_t tn_elog_append_to(struct elog_shm *l, const void *p, size_t len);
/*
 * Consumer (the journal): the next committed record body in place, or
 * NULL when none is ready.  `pos` is the log position past it.
 */
const void *tn_elog_peek(struct elog_shm *l, size_t *len, uint64_t *pos);
/*
 * Consumer, batching: the committed record at *cursor (padding skipped)
 * or NULL, and *cursor moved past it.  Start from `consumed`; records
 * stay valid until released.  A record of more than tn_elog_max_record()
 * bytes comes as consecutive chunks: concatenate the bodies.
 */
const void *tn_elog_read(struct elog_shm *l, uint64_t *cursor, size_t *len);
/* The position past the last committed record readable in order. */
uint64_t tn_elog_committed(struct elog_shm *l);
/* Consumer: release every record up to `pos` (wakes waiting producers). */
void tn_elog_release(struct elog_shm *l, uint64_t pos);
/* Consumer: sleep until a producer wakes it or the timeout passes (-1:
 * no limit); returns at once if a record is ready at `consumed`
 * (tn_elog_wait) or at `cursor` (tn_elog_wait_at). */
void tn_elog_wait(struct elog_shm *l, int timeout_ms);
void tn_elog_wait_at(struct elog_shm *l, uint64_t cursor, int64_t timeout_us);
/* The consumer's wake count: read it before deciding to nap. */
uint32_t tn_elog_seq(struct elog_shm *l);
/*
 * Consumer: sleep up to `timeout_us` while records gather into a larger
 * batch; producers do not wake a napping journal unless they wait for
 * room.  tn_elog_wake() does, and returns it at once if it came after
 * `seq` was read (tn_elog_seq).
 */
void tn_elog_nap(struct elog_shm *l, uint32_t seq, int64_t timeout_us);
/* Map the ring's pages in this process (a consumer, before its loop;
 * tn_elog_defer_wakes(true) does it for a producer). */
void tn_elog_prefault(struct elog_shm *l);
/* Wake the journal now (a request flag was set, shutdown). */
void tn_elog_wake(struct elog_shm *l);
/* This process (a shard) batches its journal wakes: appends only note
 * that one is due, tn_elog_flush_wakes() makes it (before sleeping). */
void tn_elog_defer_wakes(bool on);
void tn_elog_flush_wakes(void);
/* Does the record whose body tn_elog_read() returned go on in the next
 * one (a chunk of a large record)?  Replication cuts the stream only
 * between whole commands. */
bool tn_elog_record_more(const void *body);

/* ------------------------------------------------------------------ */
/* Pub/sub tables (commands in store/pubsub.c)                         */
/* ------------------------------------------------------------------ */

#define TN_PUBSUB_INBOX_BYTES (4u << 20) /* per shard, default */

/*
 * Who listens where, for PUBLISH to know which shards to send to: one
 * entry per channel (or pattern, or shard channel) with a subscriber
 * count per shard.  The clients themselves are known only to their
 * shard.  Entries come from slab cache `cache`, under `lock`.
 */
struct pubsub_shm {
	pthread_mutex_t lock;
	uint32_t cache;
	uint32_t nshards;
	struct dict_shm channels;
	struct dict_shm shard_channels;
	struct dict_shm patterns;
	/* Bumped when the tables were rebuilt from scratch (a process died
	 * holding the lock): each shard then registers its clients'
	 * subscriptions again. */
	_Atomic uint64_t generation;
	_Atomic uint64_t dropped; /* messages lost to full inboxes */
	_Atomic int64_t drop_warned_ms;
	tn_off rings_off; /* ring_shm[nshards]: each shard's inbox */
	uint64_t inbox_bytes;
} TN_SHM_ALIGNED;

/* One channel or pattern.  counts[] follows the name, 4-aligned. */
struct chan_shm {
	tn_off next;
	uint64_t total; /* subscribers over all shards */
	uint32_t spare;
	uint32_t len;
	char name[];
};
#define TN_CHAN_KEY_AT offsetof(struct chan_shm, name)

static inline uint32_t *tn_chan_counts(struct chan_shm *c)
{
	return (uint32_t *)(c->name + ((c->len + 3) & ~3u));
}

#define TN_SEG_MAGIC 0x5449544e5345474dULL /* "TITNSEGM" */
#define TN_SEG_LAYOUT 3 /* 2: pub/sub tables and inboxes; 3: effect log */
#define TN_PROC_ACCEPTOR 0
#define TN_PROC_SHARD0 1 /* shard i is proc slot 1 + i */

#define TN_METRIC_SAMPLES 16 /* Redis' STATS_METRIC_SAMPLES */
#define TN_METRIC_PERIOD_MS 100
enum { TN_METRIC_COMMANDS, TN_METRIC_NET_IN, TN_METRIC_NET_OUT,
       TN_METRIC_COUNT };

/* One instantaneous metric: per-second rates of the last samples. */
struct metric_shm {
	int64_t last_ms;
	uint64_t last_count;
	uint32_t idx;
	uint32_t spare;
	uint64_t samples[TN_METRIC_SAMPLES];
};

/* A replica link of this master, as INFO and ROLE show it. */
#define TN_REPL_SLOTS 32
struct repl_replica_shm {
	_Atomic uint32_t state; /* 0 free, then TN_REPL_WAIT_BGSAVE... */
	uint32_t port; /* REPLCONF listening-port */
	_Atomic uint64_t ack_off; /* REPLCONF ACK */
	_Atomic int64_t ack_ms; /* when it last acked (or connected) */
	char ip[48];
};

/* The header that starts the segment: magic, layout, table of contents. */
struct seg_shm {
	uint64_t magic;
	uint32_t layout;
	uint32_t nstripes; /* power of two */
	uint32_t nshards;
	uint32_t nprocs;
	uint32_t nclients; /* client_shm slots */
	uint32_t spare;
	uint64_t size;
	tn_off config_off; /* the live configuration (daemon's struct) */
	uint64_t config_bytes;
	tn_off heap_off;
	tn_off stripes_off;
	tn_off procs_off;
	tn_off clients_off;
	uint8_t hash_seed[16];
	pthread_mutex_t config_lock; /* CONFIG SET, client table claims */
	_Atomic uint64_t next_client_id;
	_Atomic int32_t poisoned; /* a stripe lock owner died mid-write */
	_Atomic int32_t shutting_down;
	/* SHUTDOWN's words for the supervisor: save 1 (SAVE), -1 (NOSAVE),
	 * 0 (as the save points say); force: exit even if the save fails */
	_Atomic int32_t shutdown_save, shutdown_force;
	int64_t start_ms;
	char run_id[41];
	_Atomic int64_t stat_reset_ms;
	_Atomic uint64_t dirty; /* writes since start (INFO rdb_changes...) */
	_Atomic uint64_t expired_keys, evicted_keys;
	_Atomic uint64_t expire_cycle_ms;
	/* INFO's instantaneous_* rates: shard 0's cron samples the totals
	 * every TN_METRIC_PERIOD_MS; only it writes these. */
	struct metric_shm inst[TN_METRIC_COUNT];
	_Atomic uint64_t mem_peak; /* used_memory_peak, sampled likewise */
	tn_off pubsub_off; /* struct pubsub_shm, then the inboxes */
	tn_off elog_off; /* struct elog_shm, then its data */
	/* persistence state, for INFO persistence (journal/ writes) */
	_Atomic int64_t aof_last_rewrite_ms; /* when the last one ended */
	_Atomic int64_t rdb_last_save_ms; /* LASTSAVE, in ms */
	_Atomic int32_t aof_rewrite_in_progress;
	_Atomic int32_t aof_last_rewrite_ok; /* 1 ok, 0 err */
	_Atomic int32_t rdb_bgsave_in_progress;
	_Atomic int32_t rdb_last_bgsave_ok;
	_Atomic uint64_t aof_current_size, aof_base_size;
	_Atomic uint64_t rdb_changes_at_save; /* `dirty` at the last save */
	/* FLUSHALL: a background save begun before it is not kept */
	_Atomic uint64_t rdb_epoch;
	_Atomic int32_t loading; /* the supervisor loads the AOF */
	/* more of it, and where a restarted journal resumes (journal/) */
	_Atomic int32_t aof_on; /* the journal is writing an AOF */
	_Atomic int32_t aof_rewrite_scheduled; /* waits for a BGSAVE */
	_Atomic int64_t aof_rewrite_start_ms; /* of the running rewrite */
	_Atomic int64_t aof_last_rewrite_sec; /* its duration; -1: none */
	_Atomic uint64_t aof_rewrites;
	_Atomic uint64_t aof_rewrite_failures; /* consecutive */
	_Atomic int64_t rdb_bgsave_start_ms;
	_Atomic int64_t rdb_last_bgsave_sec; /* -1: none */
	_Atomic uint64_t rdb_saves;
	_Atomic int64_t aof_incr_seq; /* the incremental file written to */
	_Atomic uint64_t aof_good_size; /* its bytes up to the last batch */
	_Atomic uint64_t aof_good_pos; /* log position that batch ended at */
	_Atomic uint64_t aof_delayed_fsync;
	/* the replica side (journal/repl_replica.c writes, INFO reads) */
	char repl_master_replid[41]; /* the master's; "" before a sync */
	char repl_master_replid2[41]; /* kept by REPLICAOF NO ONE */
	_Atomic int64_t repl_master_offset; /* master bytes applied */
	_Atomic int64_t repl_read_offset; /* master bytes read */
	_Atomic int64_t repl_second_offset; /* replid2 valid to; 0: none */
	_Atomic int64_t repl_last_io_ms; /* last byte from the master */
	_Atomic int64_t repl_sync_offset; /* where the last full sync began */
	_Atomic int32_t repl_link_up;
	_Atomic int32_t repl_sync_in_progress;
	/* the master side (journal/repl_master.c writes, shards read) */
	char master_replid[41]; /* new at every start; "" until then */
	char master_replid2[41];
	_Atomic int64_t second_repl_offset; /* -1: no replid2 */
	_Atomic uint64_t master_repl_offset; /* replication stream bytes */
	_Atomic uint64_t repl_backlog_histlen;
	_Atomic int32_t repl_backlog_active; /* effects flow for replicas */
	_Atomic int32_t repl_nreplicas; /* connected replica links */
	_Atomic uint32_t repl_req_kill; /* CLIENT KILL TYPE replica */
	_Atomic uint32_t repl_req_getack; /* WAIT: REPLCONF GETACK * */
	struct repl_replica_shm repl_replicas[TN_REPL_SLOTS];
	/* REPLICAOF bumps repl_gen, then waits while the replica process
	 * is applying: it checks repl_gen after raising repl_applying, so
	 * nothing of the old master lands after the reply */
	_Atomic uint32_t repl_gen;
	_Atomic int32_t repl_applying;
	/* a full sync's RDB transfer, for INFO's master_sync_* (the replica
	 * process writes); size -1 until the size line, 0 for the EOF form */
	_Atomic int64_t repl_transfer_size;
	_Atomic int64_t repl_transfer_read;
	_Atomic int64_t repl_down_since_ms; /* link lost at; 0: never up */
	/* a master turned replica: INFO shows its own offset until a sync
	 * (Redis' cached master "using myself") */
	_Atomic int32_t repl_self_cached;
	/* bit i (i & 31): shard i has clients parked in WAIT; the journal
	 * clears the bits and wakes those shards when an ACK arrives */
	_Atomic uint32_t repl_ack_waiting;
};

extern struct seg_shm *tn_seg;

struct tn_seg_params {
	uint32_t nstripes;
	uint32_t nshards;
	uint32_t nclients;
	size_t heap_bytes;
	size_t config_bytes;
	uint32_t key_at; /* the stripes' dict key_at (TN_KENTRY_KEY_AT) */
	size_t inbox_bytes; /* per shard; 0: TN_PUBSUB_INBOX_BYTES */
	size_t elog_bytes; /* effect log; 0: TN_ELOG_MIN_BYTES */
};

/* Create, size and lay out a new segment (memfd) and map it; sets
 * tn_base and tn_seg.  Returns the memfd or -errno. */
int tn_segment_create(const struct tn_seg_params *p);
void tn_segment_destroy(int fd);

static inline struct stripe_shm *tn_stripe(uint32_t i)
{
	return (struct stripe_shm *)tn_ptr(tn_seg->stripes_off) + i;
}
static inline struct proc_shm *tn_proc(uint32_t i)
{
	return (struct proc_shm *)tn_ptr(tn_seg->procs_off) + i;
}
static inline struct client_shm *tn_client_slot(uint32_t i)
{
	return (struct client_shm *)tn_ptr(tn_seg->clients_off) + i;
}
static inline uint32_t tn_stripe_of(uint64_t h)
{
	return (uint32_t)(h & (tn_seg->nstripes - 1));
}
static inline struct slab_cache_shm *tn_stripe_cache(struct stripe_shm *s)
{
	return tn_heap_cache(s->cache);
}
static inline struct pubsub_shm *tn_pubsub(void)
{
	return tn_ptr(tn_seg->pubsub_off);
}
/* Shard i's pub/sub inbox. */
static inline struct ring_shm *tn_inbox(uint32_t i)
{
	return (struct ring_shm *)tn_ptr(tn_pubsub()->rings_off) + i;
}

#endif
