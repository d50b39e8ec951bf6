/*
 * expire.c - the shard's periodic keyspace work on the stripes it owns
 * (stripe % nshards == shard): active expiry as Redis' activeExpireCycle
 * (sample 20 TTL keys, again while more than 10% of them had expired,
 * within a time budget), then ~1 ms of incremental rehashing as Redis'
 * databasesCron.  Stripe locks are dropped between rounds so clients never
 * wait long.
 */
#include <stdlib.h>

#include "daemon/daemon.h"
#include "store/store.h"
#include "util/util.h"

#define TN_EXPIRE_SAMPLE 20
/* Redis 7's acceptable stale percentage (active-expire-effort 1) */
#define TN_EXPIRE_STALE_PERC	  10
#define TN_EXPIRE_ROUNDS_PER_LOCK 16
/* Redis' dictRehashMilliseconds(d, 1), in batches of 100 buckets */
#define TN_REHASH_BUDGET_US 1000
#define TN_REHASH_STEPS	    100

/* Reads without the lock, only to skip idle stripes. */
static uint32_t ttl_len_hint(struct stripe_shm *s)
{
	return __atomic_load_n(&s->ttl_len, __ATOMIC_RELAXED);
}

static bool rehashing_hint(struct stripe_shm *s)
{
	return __atomic_load_n(&s->keys.rehash_idx, __ATOMIC_RELAXED) >= 0;
}

uint64_t tn_expire_stripe(struct stripe_shm *s, int64_t now_ms,
			  int64_t deadline_us, unsigned *sampled)
{
	uint64_t expired = 0;
	unsigned rounds = 0, n, i, got;

	*sampled = 0;
	do {
		if (s->ttl_len == 0)
			break;
		n = TN_MIN(s->ttl_len, (uint32_t)TN_EXPIRE_SAMPLE);
		got = 0;
		for (i = 0; i < n && s->ttl_len; i++) {
			tn_off *arr = tn_ptr(s->ttl_arr);
			struct kentry_shm *e = tn_ptr(arr[tn_rand64() % s->ttl_len]);

			(*sampled)++;
			if (tn_kentry_expired(e, now_ms)) {
				struct tn_key k = {
				    .p = e->key, .len = e->keylen, .s = s};

				k.h = tn_hash(k.p, k.len);
				/* now, while the entry holds the key's bytes:
				 * the scheduler learns of dead workers so */
				tn_notify(NULL, TN_NOTIFY_EXPIRED, "expired",
					  &k);
				tn_watch_touch(&k);
				/* logged with the stripe held: the walk unlock
				 * appends the batch */
				tn_effect_del(&k);
				tn_db_delete_entry(NULL, &k, e);
				got++;
			}
		}
		expired += got;
		s->expired_stale_perc = got * 100 / n;
		if (got * 100 <= n * TN_EXPIRE_STALE_PERC)
			break;
	} while (++rounds < TN_EXPIRE_ROUNDS_PER_LOCK &&
		 tn_monotonic_us() < deadline_us);
	return expired;
}

/* Expire what the sampling finds in one stripe; false if poisoned. */
static bool expire_one(struct stripe_shm *s, int64_t deadline, uint64_t *total)
{
	unsigned sampled;
	uint64_t got;

	do {
		if (!tn_stripe_walk_lock(s, true))
			return false;
		got = tn_expire_stripe(s, tn_mstime(), deadline, &sampled);
		/* deletions leave tables sparse: shrink them here, off the
		 * clients' path */
		if (got)
			tn_dict_shrink(&s->keys, tn_stripe_cache(s));
		tn_stripe_walk_unlock(s);
		*total += got;
	} while (got * 100 > (uint64_t)sampled * TN_EXPIRE_STALE_PERC &&
		 tn_monotonic_us() < deadline);
	return true;
}

/*
 * Finish resizes that no client drives: a table only rehashes a bucket
 * per access, so an idle stripe would keep both tables forever.
 */
static void rehash_owned(int shard, int nshards, int64_t budget_us)
{
	static uint32_t next; /* resume where the last pass stopped */
	int64_t deadline = tn_monotonic_us() + budget_us;
	uint32_t nstripes = tn_seg->nstripes, visited, i;
	int more;

	for (i = next % nstripes, visited = 0; visited < nstripes;
	     i = (i + 1) % nstripes, visited++) {
		struct stripe_shm *s = tn_stripe(i);

		if ((int)(i % (uint32_t)nshards) != shard || !rehashing_hint(s))
			continue;
		do {
			if (!tn_stripe_walk_lock(s, true))
				return;
			more = tn_dict_rehash(&s->keys, tn_stripe_cache(s),
					      TN_REHASH_STEPS);
			tn_stripe_walk_unlock(s);
		} while (more && tn_monotonic_us() < deadline);
		if (tn_monotonic_us() >= deadline) {
			next = more ? i : (i + 1) % nstripes;
			return;
		}
	}
}

uint64_t tn_expire_cycle(int shard, int nshards, int64_t budget_us)
{
	static uint32_t next_stripe; /* resume where the last cycle stopped */
	static int64_t spent_us;     /* below a ms, carried to the next cycle */
	int64_t start = tn_monotonic_us(), deadline = start + budget_us, end;
	uint32_t nstripes = tn_seg->nstripes, visited, i;
	uint64_t total = 0;

	if (nshards < 1)
		nshards = 1;
	if (tn_seg->poisoned)
		return 0;
	for (i = next_stripe % nstripes, visited = 0; visited < nstripes;
	     i = (i + 1) % nstripes, visited++) {
		struct stripe_shm *s = tn_stripe(i);

		if ((int)(i % (uint32_t)nshards) != shard || !ttl_len_hint(s))
			continue;
		if (!expire_one(s, deadline, &total))
			break;
		if (tn_monotonic_us() >= deadline) {
			/* the rest waits for the next cycle, starting after
			 * this stripe so every stripe gets its turn */
			next_stripe = (i + 1) % nstripes;
			break;
		}
	}
	if (total)
		tn_proc(TN_PROC_SHARD0 + shard)->expired += total;
	end = tn_monotonic_us();
	spent_us += end - start;
	tn_seg->expire_cycle_ms += (uint64_t)(spent_us / 1000);
	spent_us %= 1000;
	rehash_owned(shard, nshards, TN_REHASH_BUDGET_US);
	return total;
}
