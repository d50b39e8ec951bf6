/*
 * rand.c - the process' fast random numbers (xorshift64*), for sampling:
 * SPOP, SRANDMEMBER, RANDOMKEY, active expiry, dict random entries.
 * Speed, not secrecy.  Seeded from arc4random on first use, and again in
 * every fork child, so each shard draws its own sequence.
 */
#include <pthread.h>
#include <stdlib.h>

#include "util/util.h"

static uint64_t rng_state;
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;

static void rng_forget(void)
{
	rng_state = 0;
}

static void rng_register(void)
{
	pthread_atfork(NULL, NULL, rng_forget);
}

uint64_t tn_rand64(void)
{
	uint64_t x;

	if (tn_unlikely(!rng_state)) {
		pthread_once(&rng_once, rng_register);
		while (!rng_state)
			arc4random_buf(&rng_state, sizeof(rng_state));
	}
	x = rng_state;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545f4914f6cdd1dULL;
}
