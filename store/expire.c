/*
 * expire.c - active expiry.  Each shard samples the TTL index of the
 * stripes it owns (stripe % nshards == shard), as Redis' activeExpireCycle
 * does: 20 keys at a time, again while more than a quarter of a sample had
 * expired, within a time budget.  The stripe lock is dropped between
 * rounds so clients are never held up for long.
 */
#include "store/store.h"
#include "util/util.h"

#define TN_EXPIRE_SAMPLE 20
#define TN_EXPIRE_STALE_PERC 25
#define TN_EXPIRE_ROUNDS_PER_LOCK 16

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	/* xorshift64*: enough to pick samples */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
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
			struct kentry_shm *e =
				tn_ptr(arr[rng() % s->ttl_len]);

			(*sampled)++;
			if (tn_kentry_expired(e, now_ms)) {
				struct tn_key k = {.p = e->key,
						   .len = e->keylen};

				k.h = tn_hash(k.p, k.len);
				k.s = s;
				tn_db_delete_entry(NULL, &k, e);
				got++;
			}
		}
		expired += got;
		s->expired_stale_perc = n ? got * 100 / n : 0;
		if (got * 100 <= n * TN_EXPIRE_STALE_PERC)
			break;
	} while (++rounds < TN_EXPIRE_ROUNDS_PER_LOCK &&
		 tn_monotonic_us() < deadline_us);
	return expired;
}

uint64_t tn_expire_cycle(int shard, int nshards, int64_t budget_us)
{
	static uint32_t next_stripe; /* resume where the last cycle stopped */
	int64_t start = tn_monotonic_us(), deadline = start + budget_us;
	uint32_t nstripes = tn_seg->nstripes, visited = 0, i;
	uint64_t total = 0, got;
	unsigned sampled;

	if (!rng_state || rng_state == 0x9e3779b97f4a7c15ULL)
		rng_state ^= (uint64_t)start * 0x2545F4914F6CDD1DULL + shard;
	for (i = next_stripe; visited < nstripes; i = (i + 1) % nstripes) {
		struct stripe_shm *s = tn_stripe(i);

		visited++;
		if ((int)(i % (uint32_t)nshards) != shard || !s->ttl_len)
			continue;
		do {
			tn_lock(&s->lock);
			got = tn_expire_stripe(s, tn_mstime(), deadline,
					       &sampled);
			/* deletions leave tables sparse: shrink them here,
			 * off the clients' path */
			if (got)
				tn_dict_shrink(&s->keys, tn_stripe_cache(s));
			tn_unlock(&s->lock);
			total += got;
		} while (got * 100 > sampled * TN_EXPIRE_STALE_PERC &&
			 tn_monotonic_us() < deadline);
		if (tn_monotonic_us() >= deadline) {
			next_stripe = (i + 1) % nstripes;
			break;
		}
	}
	if (total) {
		tn_proc(TN_PROC_SHARD0 + shard)->expired += total;
	}
	tn_seg->expire_cycle_ms += (tn_monotonic_us() - start) / 1000;
	return total;
}
