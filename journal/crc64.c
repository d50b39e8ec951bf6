/*
 * crc64.c - the CRC-64 that ends an RDB file: Jones' polynomial
 * (0xad93d23594c935a9), reflected, initial value 0, as Redis computes it.
 */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "journal/journal.h"

#define TN_CRC64_POLY 0x95ac9329ac4bc9b5ULL /* 0xad93...35a9 bit-reversed */

/* Slice-by-8 tables: eight bytes per step instead of one. */
static uint64_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc64_init(void)
{
	unsigned i, k;

	for (i = 0; i < 256; i++) {
		uint64_t c = i;

		for (k = 0; k < 8; k++)
			c = (c & 1) ? (c >> 1) ^ TN_CRC64_POLY : c >> 1;
		crc_table[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc_table[k][i] = (crc_table[k - 1][i] >> 8) ^
					  crc_table[0][crc_table[k - 1][i] & 0xff];
}

uint64_t tn_crc64(uint64_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;

	pthread_once(&crc_once, crc64_init);
	while (len >= 8) {
		uint64_t w;

		memcpy(&w, p, 8);
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
		w = __builtin_bswap64(w); /* the tables take bytes in order */
#endif
		crc ^= w;
		crc = crc_table[7][crc & 0xff] ^
		      crc_table[6][(crc >> 8) & 0xff] ^
		      crc_table[5][(crc >> 16) & 0xff] ^
		      crc_table[4][(crc >> 24) & 0xff] ^
		      crc_table[3][(crc >> 32) & 0xff] ^
		      crc_table[2][(crc >> 40) & 0xff] ^
		      crc_table[1][(crc >> 48) & 0xff] ^
		      crc_table[0][crc >> 56];
		p += 8;
		len -= 8;
	}
	while (len--)
		crc = crc_table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}
