/*
 * lzf.c - LZF compression as RDB files use it (Marc Lehmann's format:
 * literal runs of up to 32 bytes, back references of 3..264 bytes up to
 * 8 KiB back).  Written from the format, bounded on both sides.
 */
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "journal/journal.h"

#define LZF_HLOG 14
#define LZF_MAX_OFF (1u << 13) /* 13-bit distances */
#define LZF_MAX_REF ((1u << 8) + (1u << 3)) /* 264: 2 + 7 + 255 */
#define LZF_MAX_LIT (1u << 5)

static inline uint32_t lzf_hash(const unsigned char *p)
{
	uint32_t v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];

	return (v * 2654435761u) >> (32 - LZF_HLOG);
}

size_t tn_lzf_compress(const void *in, size_t inlen, void *out, size_t outlen)
{
	const unsigned char *ip = in;
	unsigned char *op = out;
	uint32_t htab[1u << LZF_HLOG]; /* position + 1 of a 3-byte prefix */
	size_t i = 0, o = 1, lit = 0; /* o - lit - 1: the run's control byte */

	if (inlen == 0 || outlen < 2 || inlen > UINT32_MAX - 1)
		return 0;
	memset(htab, 0, sizeof(htab));
	while (i + 2 < inlen) {
		uint32_t h = lzf_hash(ip + i);
		size_t ref = htab[h], off, len, max;

		htab[h] = (uint32_t)i + 1;
		if (ref && (off = i - ref) < LZF_MAX_OFF &&
		    !memcmp(ip + ref - 1, ip + i, 3)) {
			ref--;
			max = inlen - i;
			if (max > LZF_MAX_REF)
				max = LZF_MAX_REF;
			len = 3;
			while (len < max && ip[ref + len] == ip[i + len])
				len++;
			/* close the literal run (drop it when empty) */
			if (lit)
				op[o - lit - 1] = (unsigned char)(lit - 1);
			else
				o--;
			if (o + 3 + 1 > outlen)
				return 0;
			len -= 2;
			if (len < 7) {
				op[o++] = (unsigned char)((off >> 8) + (len << 5));
			} else {
				op[o++] = (unsigned char)((off >> 8) + (7 << 5));
				op[o++] = (unsigned char)(len - 7);
			}
			op[o++] = (unsigned char)off;
			i += len + 2;
			lit = 0;
			o++; /* the next run's control byte */
			continue;
		}
		if (o >= outlen)
			return 0;
		op[o++] = ip[i++];
		if (++lit == LZF_MAX_LIT) {
			op[o - lit - 1] = LZF_MAX_LIT - 1;
			lit = 0;
			o++;
		}
	}
	while (i < inlen) {
		if (o >= outlen)
			return 0;
		op[o++] = ip[i++];
		if (++lit == LZF_MAX_LIT) {
			op[o - lit - 1] = LZF_MAX_LIT - 1;
			lit = 0;
			o++;
		}
	}
	if (lit)
		op[o - lit - 1] = (unsigned char)(lit - 1);
	else
		o--;
	return o;
}

ssize_t tn_lzf_decompress(const void *in, size_t inlen, void *out,
			  size_t outlen)
{
	const unsigned char *ip = in, *end = ip + inlen;
	unsigned char *op = out;
	size_t o = 0;

	while (ip < end) {
		unsigned ctrl = *ip++;

		if (ctrl < LZF_MAX_LIT) {
			size_t n = ctrl + 1;

			if ((size_t)(end - ip) < n || outlen - o < n)
				return -1;
			memcpy(op + o, ip, n);
			ip += n;
			o += n;
		} else {
			size_t n = ctrl >> 5, back;

			if (n == 7) {
				if (ip >= end)
					return -1;
				n += *ip++;
			}
			if (ip >= end)
				return -1;
			back = ((size_t)(ctrl & 0x1f) << 8) + *ip++ + 1;
			n += 2;
			if (back > o || outlen - o < n)
				return -1;
			/* byte by byte: the source may overlap what it makes */
			while (n--) {
				op[o] = op[o - back];
				o++;
			}
		}
	}
	return (ssize_t)o;
}
