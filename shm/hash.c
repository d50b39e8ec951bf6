/*
 * hash.c - the keyspace hash: SipHash-1-3 (one compression round, three
 * finalisation rounds, as Redis uses) keyed by the segment's random seed.
 */
#include <stdint.h>
#include <string.h>

#include "shm/shm.h"

/* Round counts; the tests build the reference SipHash-2-4 from this file
 * by overriding them. */
#ifndef TN_SIP_CROUNDS
#define TN_SIP_CROUNDS 1
#endif
#ifndef TN_SIP_DROUNDS
#define TN_SIP_DROUNDS 3
#endif

/* Per process: every process maps the same segment, so they agree. */
static uint64_t sip_k0, sip_k1;

static inline uint64_t load_le64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL(v1, 13);                                             \
		v1 ^= v0;                                                      \
		v0 = ROTL(v0, 32);                                             \
		v2 += v3;                                                      \
		v3 = ROTL(v3, 16);                                             \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL(v3, 21);                                             \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL(v1, 17);                                             \
		v1 ^= v2;                                                      \
		v2 = ROTL(v2, 32);                                             \
	} while (0)

void tn_hash_seed(const uint8_t seed[16])
{
	sip_k0 = load_le64(seed);
	sip_k1 = load_le64(seed + 8);
}

uint64_t tn_hash(const void *key, size_t len)
{
	const uint8_t *p = key;
	const uint8_t *end = p + (len & ~(size_t)7);
	uint64_t v0 = sip_k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = sip_k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = sip_k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = sip_k1 ^ 0x7465646279746573ULL;
	uint64_t b = (uint64_t)len << 56;
	uint64_t m;
	int i;

	for (; p != end; p += 8) {
		m = load_le64(p);
		v3 ^= m;
		for (i = 0; i < TN_SIP_CROUNDS; i++)
			SIPROUND;
		v0 ^= m;
	}

	switch (len & 7) {
	case 7:
		b |= (uint64_t)p[6] << 48;
		__attribute__((fallthrough));
	case 6:
		b |= (uint64_t)p[5] << 40;
		__attribute__((fallthrough));
	case 5:
		b |= (uint64_t)p[4] << 32;
		__attribute__((fallthrough));
	case 4:
		b |= (uint64_t)p[3] << 24;
		__attribute__((fallthrough));
	case 3:
		b |= (uint64_t)p[2] << 16;
		__attribute__((fallthrough));
	case 2:
		b |= (uint64_t)p[1] << 8;
		__attribute__((fallthrough));
	case 1:
		b |= (uint64_t)p[0];
		break;
	default:
		break;
	}

	v3 ^= b;
	for (i = 0; i < TN_SIP_CROUNDS; i++)
		SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	for (i = 0; i < TN_SIP_DROUNDS; i++)
		SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}
