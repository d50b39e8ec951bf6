/*
 * rdb.c - RDB version 10 files, as Redis 7.0 writes and reads them: the
 * encoder snapshot.c serialises keys with, and the reader that loads a
 * file into the segment's stripes (or only checks it, for titan-check).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "store/cmds.h"
#include "util/util.h"

/* Opcodes and value types (Redis' rdb.h numbers). */
enum {
	RDB_TYPE_STRING = 0,
	RDB_TYPE_LIST = 1,
	RDB_TYPE_SET = 2,
	RDB_TYPE_ZSET = 3,
	RDB_TYPE_HASH = 4,
	RDB_TYPE_ZSET_2 = 5,
	RDB_TYPE_MODULE_2 = 7,
	RDB_TYPE_HASH_ZIPMAP = 9,
	RDB_TYPE_LIST_ZIPLIST = 10,
	RDB_TYPE_SET_INTSET = 11,
	RDB_TYPE_ZSET_ZIPLIST = 12,
	RDB_TYPE_HASH_ZIPLIST = 13,
	RDB_TYPE_LIST_QUICKLIST = 14,
	RDB_TYPE_STREAM_LISTPACKS = 15,
	RDB_TYPE_HASH_LISTPACK = 16,
	RDB_TYPE_ZSET_LISTPACK = 17,
	RDB_TYPE_LIST_QUICKLIST_2 = 18,
	RDB_TYPE_STREAM_LISTPACKS_2 = 19,
	RDB_TYPE_SET_LISTPACK = 20,
	RDB_TYPE_STREAM_LISTPACKS_3 = 21,
	RDB_TYPE_LAST = 21,
	RDB_OPCODE_FUNCTION2 = 245,
	RDB_OPCODE_FUNCTION = 246,
	RDB_OPCODE_MODULE_AUX = 247,
	RDB_OPCODE_IDLE = 248,
	RDB_OPCODE_FREQ = 249,
	RDB_OPCODE_AUX = 250,
	RDB_OPCODE_RESIZEDB = 251,
	RDB_OPCODE_EXPIRETIME_MS = 252,
	RDB_OPCODE_EXPIRETIME = 253,
	RDB_OPCODE_SELECTDB = 254,
	RDB_OPCODE_EOF = 255,
};

/* Length prefixes: 00 6 bits, 01 14 bits, 0x80 32 bits, 0x81 64 bits,
 * 11 a special string encoding (integers, LZF). */
#define RDB_6BITLEN 0
#define RDB_14BITLEN 1
#define RDB_32BITLEN 0x80
#define RDB_64BITLEN 0x81
#define RDB_ENCVAL 3
#define RDB_ENC_INT8 0
#define RDB_ENC_INT16 1
#define RDB_ENC_INT32 2
#define RDB_ENC_LZF 3

#define TN_RDB_REDIS_VER "7.0.15" /* what the aux field claims */
#define TN_RDB_MAX_STRING (512ull << 20) /* proto-max-bulk-len's default */
#define TN_RDB_MIN_VERSION 1
#define TN_RDB_MAX_VERSION 12 /* 11 and 12 (7.2, 7.4) only add types */
#define TN_RDB_LZF_MIN 20 /* Redis compresses strings longer than this */
#define TN_RDB_READ_BYTES (64u << 10)

/* ------------------------------------------------------------------ */
/* Buffers                                                              */
/* ------------------------------------------------------------------ */

/* Room for n more bytes at b->p + b->len, or NULL (b->oom set). */
static char *sbuf_reserve(struct tn_sbuf *b, size_t n)
{
	if (b->oom)
		return NULL;
	if (b->cap - b->len < n) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap - b->len < n) {
			if (cap > SIZE_MAX / 2) {
				b->oom = true;
				return NULL;
			}
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (!p) {
			b->oom = true;
			return NULL;
		}
		b->p = p;
		b->cap = cap;
	}
	return b->p + b->len;
}

void tn_sbuf_put(struct tn_sbuf *b, const void *p, size_t len)
{
	char *d = sbuf_reserve(b, len);

	if (!d)
		return;
	memcpy(d, p, len);
	b->len += len;
}

void tn_sbuf_free(struct tn_sbuf *b)
{
	free(b->p);
	*b = (struct tn_sbuf){0};
}

static void put_u8(struct tn_sbuf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;

	tn_sbuf_put(b, &c, 1);
}

static void put_le(struct tn_sbuf *b, uint64_t v, unsigned bytes)
{
	unsigned char d[8];
	unsigned i;

	for (i = 0; i < bytes; i++)
		d[i] = (unsigned char)(v >> (8 * i));
	tn_sbuf_put(b, d, bytes);
}

static void put_len(struct tn_sbuf *b, uint64_t len)
{
	unsigned char d[9];
	int i;

	if (len < (1u << 6)) {
		put_u8(b, (unsigned)len);
	} else if (len < (1u << 14)) {
		d[0] = (unsigned char)((RDB_14BITLEN << 6) | (len >> 8));
		d[1] = (unsigned char)len;
		tn_sbuf_put(b, d, 2);
	} else if (len <= UINT32_MAX) {
		d[0] = RDB_32BITLEN;
		for (i = 0; i < 4; i++)
			d[1 + i] = (unsigned char)(len >> (24 - 8 * i));
		tn_sbuf_put(b, d, 5);
	} else {
		d[0] = RDB_64BITLEN;
		for (i = 0; i < 8; i++)
			d[1 + i] = (unsigned char)(len >> (56 - 8 * i));
		tn_sbuf_put(b, d, 9);
	}
}

/* Integer encoding for a string that is an integer and prints back to
 * the same bytes (so "007" or "+1" stay strings). */
static bool put_int_string(struct tn_sbuf *b, const char *p, size_t len)
{
	char tmp[24];
	long long v;

	if (len == 0 || len > 11 || !tn_str2ll(p, len, &v))
		return false;
	if ((size_t)tn_ll2str(tmp, v) != len || memcmp(tmp, p, len))
		return false;
	if (v >= INT8_MIN && v <= INT8_MAX) {
		put_u8(b, (RDB_ENCVAL << 6) | RDB_ENC_INT8);
		put_le(b, (uint64_t)v, 1);
	} else if (v >= INT16_MIN && v <= INT16_MAX) {
		put_u8(b, (RDB_ENCVAL << 6) | RDB_ENC_INT16);
		put_le(b, (uint64_t)v, 2);
	} else if (v >= INT32_MIN && v <= INT32_MAX) {
		put_u8(b, (RDB_ENCVAL << 6) | RDB_ENC_INT32);
		put_le(b, (uint64_t)v, 4);
	} else {
		return false;
	}
	return true;
}

/* LZF when it saves at least 4 bytes, as Redis' rdbSaveLzfStringObject. */
static bool put_lzf_string(struct tn_sbuf *b, const char *p, size_t len)
{
	size_t clen;
	char *out;

	if (len <= 4)
		return false;
	out = malloc(len - 4);
	if (!out)
		return false;
	clen = tn_lzf_compress(p, len, out, len - 4);
	if (clen) {
		put_u8(b, (RDB_ENCVAL << 6) | RDB_ENC_LZF);
		put_len(b, clen);
		put_len(b, len);
		tn_sbuf_put(b, out, clen);
	}
	free(out);
	return clen != 0;
}

static void put_string(struct tn_sbuf *b, const char *p, size_t len,
		       bool compress)
{
	if (len <= 11 && put_int_string(b, p, len))
		return;
	if (compress && len > TN_RDB_LZF_MIN && put_lzf_string(b, p, len))
		return;
	put_len(b, len);
	tn_sbuf_put(b, p, len);
}

static void put_aux(struct tn_sbuf *b, const char *key, const char *val)
{
	put_u8(b, RDB_OPCODE_AUX);
	put_string(b, key, strlen(key), false);
	put_string(b, val, strlen(val), false);
}

static void put_aux_ll(struct tn_sbuf *b, const char *key, long long v)
{
	char tmp[24];

	tn_ll2str(tmp, v);
	put_aux(b, key, tmp);
}

void tn_rdb_put_header(struct tn_sbuf *b, bool aof_base, uint64_t keys,
		       uint64_t expires)
{
	char magic[16];

	snprintf(magic, sizeof(magic), "REDIS%04d", TN_RDB_VERSION);
	tn_sbuf_put(b, magic, 9);
	put_aux(b, "redis-ver", TN_RDB_REDIS_VER);
	put_aux_ll(b, "redis-bits", (long long)sizeof(void *) * 8);
	put_aux_ll(b, "ctime", (long long)time(NULL));
	put_aux_ll(b, "used-mem", (long long)(tn_seg ? tn_heap_used() : 0));
	put_aux_ll(b, "aof-base", aof_base);
	put_u8(b, RDB_OPCODE_SELECTDB);
	put_len(b, 0);
	put_u8(b, RDB_OPCODE_RESIZEDB);
	put_len(b, keys);
	put_len(b, expires);
}

struct member_put {
	struct tn_sbuf *b;
	bool compress;
};

static void put_member(void *arg, tn_off off)
{
	struct member_put *mp = arg;
	const struct member_shm *m = tn_ptr(off);

	put_string(mp->b, m->data, m->len, mp->compress);
}

/* Redis' intset blob: encoding, count, values, all little-endian, in
 * the narrowest of 16, 32 and 64 bits that holds every value. */
static void put_intset(struct tn_sbuf *b, const struct intset_shm *is,
		       bool compress)
{
	struct tn_sbuf blob = {0};
	int64_t lo = is->v[0], hi = is->v[is->count - 1];
	unsigned width = 8;
	uint32_t i;

	if (lo >= INT16_MIN && hi <= INT16_MAX)
		width = 2;
	else if (lo >= INT32_MIN && hi <= INT32_MAX)
		width = 4;
	if (!sbuf_reserve(&blob, 8 + (size_t)is->count * width)) {
		b->oom = true;
		return;
	}
	put_le(&blob, width, 4);
	put_le(&blob, is->count, 4);
	for (i = 0; i < is->count; i++)
		put_le(&blob, (uint64_t)is->v[i], width);
	put_string(b, blob.p, blob.len, compress);
	tn_sbuf_free(&blob);
}

static const struct intset_shm *set_intset(const struct kentry_shm *e)
{
	tn_off off;

	memcpy(&off, tn_kentry_val((struct kentry_shm *)e), sizeof(off));
	return tn_ptr(off);
}

static uint64_t set_count(const struct kentry_shm *e)
{
	if (e->enc == TN_E_INTSET) {
		const struct intset_shm *is = set_intset(e);

		return is ? is->count : 0;
	}
	return tn_dict_size((struct dict_shm *)set_intset(e));
}

void tn_rdb_put_key(struct tn_sbuf *b, const struct kentry_shm *e,
		    bool compress)
{
	struct kentry_shm *m = (struct kentry_shm *)e;

	if (e->type == TN_T_SET && set_count(e) == 0)
		return; /* an empty set is no key (Redis skips them too) */
	if (e->expire_ms >= 0) {
		put_u8(b, RDB_OPCODE_EXPIRETIME_MS);
		put_le(b, (uint64_t)e->expire_ms, 8);
	}
	if (e->type == TN_T_STRING) {
		put_u8(b, RDB_TYPE_STRING);
		put_string(b, e->key, e->keylen, compress);
		put_string(b, tn_kentry_val(m), e->vlen, compress);
	} else if (e->enc == TN_E_INTSET) {
		put_u8(b, RDB_TYPE_SET_INTSET);
		put_string(b, e->key, e->keylen, compress);
		put_intset(b, set_intset(e), compress);
	} else {
		struct member_put mp = {.b = b, .compress = compress};
		struct dict_shm *d = (struct dict_shm *)set_intset(e);

		put_u8(b, RDB_TYPE_SET);
		put_string(b, e->key, e->keylen, compress);
		put_len(b, tn_dict_size(d));
		tn_dict_foreach(d, put_member, &mp);
	}
}

/* ------------------------------------------------------------------ */
/* RESP output (AOF base files written as commands)                     */
/* ------------------------------------------------------------------ */

#define TN_AOF_ITEMS_PER_CMD 64 /* Redis' AOF_REWRITE_ITEMS_PER_CMD */

static void resp_head(struct tn_sbuf *b, long long argc)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "*%lld\r\n", argc);

	tn_sbuf_put(b, tmp, (size_t)n);
}

static void resp_bulk(struct tn_sbuf *b, const void *p, size_t len)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "$%zu\r\n", len);

	tn_sbuf_put(b, tmp, (size_t)n);
	tn_sbuf_put(b, p, len);
	tn_sbuf_put(b, "\r\n", 2);
}

static void resp_bulk_ll(struct tn_sbuf *b, long long v)
{
	char tmp[24];

	resp_bulk(b, tmp, (size_t)tn_ll2str(tmp, v));
}

struct resp_sadd {
	struct tn_sbuf *b;
	const struct kentry_shm *e;
	uint64_t left; /* members not yet written */
	unsigned in_cmd; /* members left in the current SADD */
};

static void resp_sadd_begin(struct resp_sadd *rs)
{
	if (rs->in_cmd)
		return;
	rs->in_cmd = rs->left < TN_AOF_ITEMS_PER_CMD ? (unsigned)rs->left
						      : TN_AOF_ITEMS_PER_CMD;
	resp_head(rs->b, 2 + (long long)rs->in_cmd);
	resp_bulk(rs->b, "SADD", 4);
	resp_bulk(rs->b, rs->e->key, rs->e->keylen);
}

static void resp_sadd_member(void *arg, tn_off off)
{
	struct resp_sadd *rs = arg;
	const struct member_shm *m = tn_ptr(off);

	resp_sadd_begin(rs);
	resp_bulk(rs->b, m->data, m->len);
	rs->in_cmd--;
	rs->left--;
}

void tn_resp_put_key(struct tn_sbuf *b, const struct kentry_shm *e)
{
	struct kentry_shm *m = (struct kentry_shm *)e;

	if (e->type == TN_T_STRING) {
		resp_head(b, 3);
		resp_bulk(b, "SET", 3);
		resp_bulk(b, e->key, e->keylen);
		resp_bulk(b, tn_kentry_val(m), e->vlen);
	} else {
		struct resp_sadd rs = {.b = b, .e = e, .left = set_count(e)};

		if (rs.left == 0)
			return;
		if (e->enc == TN_E_INTSET) {
			const struct intset_shm *is = set_intset(e);
			uint32_t i;

			for (i = 0; i < is->count; i++) {
				resp_sadd_begin(&rs);
				resp_bulk_ll(b, is->v[i]);
				rs.in_cmd--;
				rs.left--;
			}
		} else {
			tn_dict_foreach((struct dict_shm *)set_intset(e),
					resp_sadd_member, &rs);
		}
	}
	if (e->expire_ms >= 0) {
		resp_head(b, 3);
		resp_bulk(b, "PEXPIREAT", 9);
		resp_bulk(b, e->key, e->keylen);
		resp_bulk_ll(b, e->expire_ms);
	}
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

struct rdb_in {
	int fd;
	uint64_t room; /* bytes the stream may still hold past `off` */
	uint64_t off; /* bytes consumed */
	uint64_t fill; /* bytes read from fd */
	uint64_t fd_limit; /* read no more than this from fd */
	uint64_t crc;
	size_t pos, len;
	unsigned char buf[TN_RDB_READ_BYTES];
	uint64_t item_end; /* end of the last whole item */
	char *err;
	size_t errlen;
	bool failed;
	bool load; /* false: only check the file */
	int64_t now_ms;
	uint64_t loaded, expired;
	long long intset_max;
	struct tn_sbuf key, val, scratch;
};

__attribute__((format(printf, 3, 4))) static int
rdb_fail(struct rdb_in *r, uint64_t at, const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (r->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(r->err, r->errlen, "offset %" PRIu64 ": %s", at, msg);
	r->failed = true;
	return -1;
}

static int rdb_torn(struct rdb_in *r)
{
	return rdb_fail(r, r->off,
			"unexpected end of file (the file is truncated; "
			"sound up to offset %" PRIu64 ")",
			r->item_end);
}

static int rdb_refill(struct rdb_in *r)
{
	size_t want = sizeof(r->buf);
	ssize_t n;

	if (r->fill >= r->fd_limit)
		return rdb_torn(r);
	if (want > r->fd_limit - r->fill)
		want = (size_t)(r->fd_limit - r->fill);
	do
		n = read(r->fd, r->buf, want);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return rdb_fail(r, r->off, "read failed: %s", strerror(errno));
	if (n == 0)
		return rdb_torn(r);
	r->fill += (uint64_t)n;
	r->pos = 0;
	r->len = (size_t)n;
	return 0;
}

/* Read exactly n bytes, folding them into the running checksum. */
static int rdb_read(struct rdb_in *r, void *dst, size_t n)
{
	unsigned char *d = dst;

	while (n) {
		size_t c;

		if (r->pos == r->len && rdb_refill(r) < 0)
			return -1;
		c = r->len - r->pos;
		if (c > n)
			c = n;
		memcpy(d, r->buf + r->pos, c);
		r->crc = tn_crc64(r->crc, r->buf + r->pos, c);
		r->pos += c;
		r->off += c;
		d += c;
		n -= c;
	}
	return 0;
}

static int rdb_u8(struct rdb_in *r, unsigned *v)
{
	unsigned char c;

	if (rdb_read(r, &c, 1) < 0)
		return -1;
	*v = c;
	return 0;
}

static int rdb_le(struct rdb_in *r, unsigned bytes, uint64_t *v)
{
	unsigned char d[8];
	unsigned i;

	if (rdb_read(r, d, bytes) < 0)
		return -1;
	*v = 0;
	for (i = 0; i < bytes; i++)
		*v |= (uint64_t)d[i] << (8 * i);
	return 0;
}

/* A length, or (when `enc` is given) a special encoding number with
 * *enc set true. */
static int rdb_len(struct rdb_in *r, uint64_t *len, bool *enc)
{
	unsigned char d[8];
	unsigned c, i;
	uint64_t at = r->off;

	if (enc)
		*enc = false;
	if (rdb_u8(r, &c) < 0)
		return -1;
	switch (c >> 6) {
	case RDB_6BITLEN:
		*len = c & 0x3f;
		return 0;
	case RDB_14BITLEN:
		if (rdb_read(r, d, 1) < 0)
			return -1;
		*len = (uint64_t)(c & 0x3f) << 8 | d[0];
		return 0;
	case RDB_ENCVAL:
		if (!enc)
			return rdb_fail(r, at,
					"string encoding 0x%02x where a length "
					"was expected",
					c);
		*enc = true;
		*len = c & 0x3f;
		return 0;
	}
	if (c != RDB_32BITLEN && c != RDB_64BITLEN)
		return rdb_fail(r, at, "bad length prefix 0x%02x", c);
	i = c == RDB_32BITLEN ? 4 : 8;
	if (rdb_read(r, d, i) < 0)
		return -1;
	*len = 0;
	for (c = 0; c < i; c++)
		*len = *len << 8 | d[c];
	return 0;
}

/* A length that must fit in what is left of the stream (each unit
 * taking at least `unit` bytes) and under `max`: checked before any
 * allocation. */
static int rdb_bounded(struct rdb_in *r, uint64_t len, uint64_t unit,
		       uint64_t max, uint64_t at, const char *what)
{
	uint64_t left = r->room > r->off ? r->room - r->off : 0;

	if (len > max)
		return rdb_fail(r, at, "%s length %" PRIu64 " is over the limit "
				"of %" PRIu64, what, len, max);
	if (len > left / unit)
		return rdb_fail(r, at, "%s length %" PRIu64 " runs past the end "
				"of the file (%" PRIu64 " bytes left): the "
				"file is truncated or corrupt",
				what, len, left);
	return 0;
}

/* Append one RDB string (any encoding) to out. */
static int rdb_string(struct rdb_in *r, struct tn_sbuf *out)
{
	uint64_t at = r->off, len, clen;
	bool enc;
	char *d;

	if (rdb_len(r, &len, &enc) < 0)
		return -1;
	if (enc) {
		uint64_t v;
		char tmp[24];

		switch (len) {
		case RDB_ENC_INT8:
		case RDB_ENC_INT16:
		case RDB_ENC_INT32: {
			unsigned bytes = 1u << len;
			long long s;

			if (rdb_le(r, bytes, &v) < 0)
				return -1;
			/* sign-extend from the encoded width */
			s = (long long)(v << (64 - 8 * bytes)) >> (64 - 8 * bytes);
			tn_sbuf_put(out, tmp, (size_t)tn_ll2str(tmp, s));
			break;
		}
		case RDB_ENC_LZF:
			if (rdb_len(r, &clen, NULL) < 0 ||
			    rdb_len(r, &len, NULL) < 0)
				return -1;
			if (rdb_bounded(r, clen, 1, TN_RDB_MAX_STRING, at,
					"compressed string") < 0)
				return -1;
			if (len > TN_RDB_MAX_STRING)
				return rdb_fail(r, at, "string length %" PRIu64
						" is over the limit of %llu",
						len, TN_RDB_MAX_STRING);
			r->scratch.len = 0;
			if (!sbuf_reserve(&r->scratch, clen) ||
			    !(d = sbuf_reserve(out, len)))
				return rdb_fail(r, at, "out of memory");
			if (rdb_read(r, r->scratch.p, clen) < 0)
				return -1;
			if (tn_lzf_decompress(r->scratch.p, clen, d, len) !=
			    (ssize_t)len)
				return rdb_fail(r, at, "corrupt LZF string "
						"(%" PRIu64 " bytes to %" PRIu64 ")",
						clen, len);
			out->len += len;
			break;
		default:
			return rdb_fail(r, at, "unknown string encoding %" PRIu64,
					len);
		}
		return out->oom ? rdb_fail(r, at, "out of memory") : 0;
	}
	if (rdb_bounded(r, len, 1, TN_RDB_MAX_STRING, at, "string") < 0)
		return -1;
	d = sbuf_reserve(out, len);
	if (!d)
		return rdb_fail(r, at, "out of memory");
	if (rdb_read(r, d, len) < 0)
		return -1;
	out->len += len;
	return 0;
}

struct members {
	size_t n, cap;
	size_t *ol; /* off, len pairs into r->val */
};

static int members_add(struct rdb_in *r, struct members *m, size_t off,
		       size_t len, uint64_t at)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		size_t *ol = reallocarray(m->ol, cap, 2 * sizeof(size_t));

		if (!ol)
			return rdb_fail(r, at, "out of memory");
		m->ol = ol;
		m->cap = cap;
	}
	m->ol[2 * m->n] = off;
	m->ol[2 * m->n + 1] = len;
	m->n++;
	return 0;
}

static int members_add_ll(struct rdb_in *r, struct members *m, long long v,
			  uint64_t at)
{
	char tmp[24];
	size_t off = r->val.len;
	int n = tn_ll2str(tmp, v);

	tn_sbuf_put(&r->val, tmp, (size_t)n);
	if (r->val.oom)
		return rdb_fail(r, at, "out of memory");
	return members_add(r, m, off, (size_t)n, at);
}

/* An intset blob: members into r->val and m. */
static int parse_intset(struct rdb_in *r, const unsigned char *p, size_t len,
			struct members *m, uint64_t at)
{
	uint32_t width, count, i;
	int64_t prev = 0;

	if (len < 8)
		return rdb_fail(r, at, "intset blob of %zu bytes is too short",
				len);
	memcpy(&width, p, 4);
	memcpy(&count, p + 4, 4);
	width = le32toh(width);
	count = le32toh(count);
	if (width != 2 && width != 4 && width != 8)
		return rdb_fail(r, at, "intset encoding %u is not 2, 4 or 8",
				width);
	if ((uint64_t)count * width + 8 != len)
		return rdb_fail(r, at, "intset of %u %u-byte values in a "
				"%zu-byte blob", count, width, len);
	for (i = 0; i < count; i++) {
		const unsigned char *q = p + 8 + (size_t)i * width;
		uint64_t u = 0;
		int64_t v;
		unsigned k;

		for (k = 0; k < width; k++)
			u |= (uint64_t)q[k] << (8 * k);
		v = (int64_t)(u << (64 - 8 * width)) >> (64 - 8 * width);
		if (i && v <= prev)
			return rdb_fail(r, at, "intset values out of order");
		prev = v;
		if (members_add_ll(r, m, v, at) < 0)
			return -1;
	}
	return 0;
}

/* Bytes a listpack entry's back-length takes for an entry of l bytes. */
static size_t lp_backlen_size(size_t l)
{
	if (l <= 127)
		return 1;
	if (l < 16383)
		return 2;
	if (l < 2097151)
		return 3;
	if (l < 268435455)
		return 4;
	return 5;
}

/* A listpack blob of strings and integers (RDB_TYPE_SET_LISTPACK). */
static int parse_listpack(struct rdb_in *r, const unsigned char *p,
			  size_t len, struct members *m, uint64_t at)
{
	uint32_t total;
	uint16_t count;
	size_t i = 6, seen = 0;

	if (len < 7)
		return rdb_fail(r, at, "listpack blob too short");
	memcpy(&total, p, 4);
	memcpy(&count, p + 4, 2);
	if (le32toh(total) != len || p[len - 1] != 0xff)
		return rdb_fail(r, at, "listpack header or end is corrupt");
	while (i < len - 1) {
		unsigned c = p[i];
		size_t hdr, slen = 0, elen;
		long long v = 0;
		bool isint = true;

		if ((c & 0x80) == 0) {
			hdr = 1;
			v = c & 0x7f;
		} else if ((c & 0xc0) == 0x80) {
			hdr = 1;
			slen = c & 0x3f;
			isint = false;
		} else if ((c & 0xe0) == 0xc0) {
			hdr = 2;
			if (i + 2 > len)
				break;
			v = ((long long)(c & 0x1f) << 8 | p[i + 1]);
			if (v >= 1 << 12)
				v -= 1 << 13;
		} else if ((c & 0xf0) == 0xe0) {
			hdr = 2;
			if (i + 2 > len)
				break;
			slen = (size_t)(c & 0x0f) << 8 | p[i + 1];
			isint = false;
		} else if (c == 0xf0) {
			uint32_t l32;

			hdr = 5;
			if (i + 5 > len)
				break;
			memcpy(&l32, p + i + 1, 4);
			slen = le32toh(l32);
			isint = false;
		} else if (c >= 0xf1 && c <= 0xf4) {
			static const unsigned w[] = {2, 3, 4, 8};
			unsigned k, bytes = w[c - 0xf1];
			uint64_t u = 0;

			hdr = 1 + bytes;
			if (i + hdr > len)
				break;
			for (k = 0; k < bytes; k++)
				u |= (uint64_t)p[i + 1 + k] << (8 * k);
			v = (long long)(u << (64 - 8 * bytes)) >>
			    (64 - 8 * bytes);
		} else {
			return rdb_fail(r, at, "listpack entry type 0x%02x", c);
		}
		elen = hdr + slen;
		if (slen > len || i + elen + lp_backlen_size(elen) > len - 1)
			return rdb_fail(r, at, "listpack entry runs past its "
					"blob");
		if (isint) {
			if (members_add_ll(r, m, v, at) < 0)
				return -1;
		} else {
			size_t off = r->val.len;

			tn_sbuf_put(&r->val, p + i + hdr, slen);
			if (r->val.oom)
				return rdb_fail(r, at, "out of memory");
			if (members_add(r, m, off, slen, at) < 0)
				return -1;
		}
		i += elen + lp_backlen_size(elen);
		seen++;
	}
	if (i != len - 1)
		return rdb_fail(r, at, "listpack entry runs past its blob");
	if (le16toh(count) != 65535 && le16toh(count) != seen)
		return rdb_fail(r, at, "listpack says %u entries, holds %zu",
				le16toh(count), seen);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Putting keys into the segment                                        */
/* ------------------------------------------------------------------ */

static void free_member(void *arg, tn_off off)
{
	tn_free(off);
}

/* A set value from the members read: an intset when every member is an
 * integer and they are few enough, else a dict.  0 or -ENOMEM, or
 * -EEXIST on a member given twice. */
static int build_set(struct rdb_in *r, struct slab_cache_shm *c,
		     const struct members *m, uint8_t *enc, tn_off *out)
{
	bool ints = (long long)m->n <= r->intset_max;
	size_t i;
	long long v;
	int rc;

	for (i = 0; ints && i < m->n; i++) {
		const char *p = r->val.p + m->ol[2 * i];
		size_t len = m->ol[2 * i + 1];
		char tmp[24];

		ints = tn_str2ll(p, len, &v) &&
		       (size_t)tn_ll2str(tmp, v) == len && !memcmp(tmp, p, len);
	}
	*out = 0;
	if (ints) {
		*enc = TN_E_INTSET;
		for (i = 0; i < m->n; i++) {
			tn_str2ll(r->val.p + m->ol[2 * i], m->ol[2 * i + 1], &v);
			rc = tn_intset_add(c, out, v);
			if (rc <= 0) {
				tn_free(*out);
				*out = 0;
				return rc < 0 ? -ENOMEM : -EEXIST;
			}
		}
		return 0;
	}
	*enc = TN_E_HT;
	*out = tn_alloc(c, sizeof(struct dict_shm));
	if (!*out)
		return -ENOMEM;
	tn_dict_init(tn_ptr(*out), TN_MEMBER_KEY_AT);
	for (i = 0; i < m->n; i++) {
		const char *p = r->val.p + m->ol[2 * i];
		size_t len = m->ol[2 * i + 1];
		uint64_t h = tn_hash(p, len);
		struct dict_shm *d = tn_ptr(*out);
		tn_off mo;
		struct member_shm *ms;

		rc = -EEXIST;
		if (tn_dict_find(d, p, len, h))
			goto fail;
		rc = -ENOMEM;
		mo = tn_alloc(c, sizeof(struct member_shm) + len);
		if (!mo)
			goto fail;
		ms = tn_ptr(mo);
		ms->next = 0;
		ms->len = (uint32_t)len;
		memcpy(ms->data, p, len);
		if (tn_dict_add(d, c, mo, h) < 0) {
			tn_free(mo);
			goto fail;
		}
	}
	return 0;
fail:
	tn_dict_foreach(tn_ptr(*out), free_member, NULL);
	tn_dict_release(tn_ptr(*out));
	tn_free(*out);
	*out = 0;
	return rc;
}

/* Insert the key read into r->key: a string (r->val) or a set (m). */
static int store_key(struct rdb_in *r, int type, const struct members *m,
		     int64_t expire_ms, uint64_t at)
{
	struct tn_key k = tn_key_of(r->key.p, r->key.len);
	struct kentry_shm *e;
	uint8_t enc = TN_E_STR;
	tn_off setoff = 0;
	int rc = 0;

	if (!tn_stripe_walk_lock(k.s, true))
		return rdb_fail(r, at, "the store is poisoned (a process died "
				"holding a stripe lock)");
	if (tn_dict_find(&k.s->keys, k.p, k.len, k.h)) {
		tn_stripe_walk_unlock(k.s);
		return rdb_fail(r, at, "duplicated key '%.*s'",
				(int)TN_MIN(k.len, 64), k.p);
	}
	if (type == TN_T_SET) {
		rc = build_set(r, tn_stripe_cache(k.s), m, &enc, &setoff);
		if (rc == -EEXIST) {
			tn_stripe_walk_unlock(k.s);
			return rdb_fail(r, at, "set '%.*s' holds a member twice",
					(int)TN_MIN(k.len, 64), k.p);
		}
	}
	e = rc < 0 ? NULL
		   : tn_db_add(NULL, &k, type,
			       type == TN_T_SET ? sizeof(tn_off) : r->val.len);
	if (e && expire_ms >= 0 && tn_db_set_expire(k.s, e, expire_ms) < 0) {
		tn_db_delete_entry(NULL, &k, e);
		e = NULL;
		setoff = 0; /* freed with the entry */
	}
	if (!e) {
		if (setoff && enc == TN_E_INTSET) {
			tn_free(setoff);
		} else if (setoff) {
			tn_dict_foreach(tn_ptr(setoff), free_member, NULL);
			tn_dict_release(tn_ptr(setoff));
			tn_free(setoff);
		}
		tn_stripe_walk_unlock(k.s);
		return rdb_fail(r, at, "out of memory loading key '%.*s' "
				"(raise maxmemory)", (int)TN_MIN(k.len, 64), k.p);
	}
	if (type == TN_T_SET) {
		e->enc = enc;
		memcpy(tn_kentry_val(e), &setoff, sizeof(setoff));
	} else {
		memcpy(tn_kentry_val(e), r->val.p, r->val.len);
	}
	tn_stripe_walk_unlock(k.s);
	return 0;
}

static const char *rdb_type_name(unsigned t)
{
	switch (t) {
	case RDB_TYPE_LIST:
	case RDB_TYPE_LIST_ZIPLIST:
	case RDB_TYPE_LIST_QUICKLIST:
	case RDB_TYPE_LIST_QUICKLIST_2:
		return "list";
	case RDB_TYPE_ZSET:
	case RDB_TYPE_ZSET_2:
	case RDB_TYPE_ZSET_ZIPLIST:
	case RDB_TYPE_ZSET_LISTPACK:
		return "zset";
	case RDB_TYPE_HASH:
	case RDB_TYPE_HASH_ZIPMAP:
	case RDB_TYPE_HASH_ZIPLIST:
	case RDB_TYPE_HASH_LISTPACK:
		return "hash";
	case RDB_TYPE_STREAM_LISTPACKS:
	case RDB_TYPE_STREAM_LISTPACKS_2:
	case RDB_TYPE_STREAM_LISTPACKS_3:
		return "stream";
	case RDB_TYPE_MODULE_2:
		return "module";
	}
	return NULL;
}

/* One key of type t: its name, its value; stored unless expired. */
static int rdb_key(struct rdb_in *r, unsigned t, int64_t expire_ms,
		   uint64_t db, uint64_t at)
{
	struct members m = {0};
	const char *tname = rdb_type_name(t);
	uint64_t n, i, vat;
	int rc = -1;

	r->key.len = 0;
	r->val.len = 0;
	if (rdb_string(r, &r->key) < 0)
		return -1;
	if (db != 0)
		return rdb_fail(r, at, "key '%.*s' is in database %" PRIu64
				"; Titan has a single database (0): move it "
				"to db 0 in Redis first",
				(int)TN_MIN(r->key.len, 64), r->key.p, db);
	if (tname)
		return rdb_fail(r, at, "key '%.*s' holds a %s (RDB type %u), "
				"which Titan does not support",
				(int)TN_MIN(r->key.len, 64), r->key.p, tname, t);
	vat = r->off;
	switch (t) {
	case RDB_TYPE_STRING:
		if (rdb_string(r, &r->val) < 0)
			return -1;
		break;
	case RDB_TYPE_SET:
		if (rdb_len(r, &n, NULL) < 0 ||
		    rdb_bounded(r, n, 1, UINT32_MAX, vat, "set") < 0)
			return -1;
		for (i = 0; i < n; i++) {
			size_t off = r->val.len;

			if (rdb_string(r, &r->val) < 0 ||
			    members_add(r, &m, off, r->val.len - off, vat) < 0)
				goto out;
		}
		break;
	case RDB_TYPE_SET_INTSET:
	case RDB_TYPE_SET_LISTPACK:
		{
			struct tn_sbuf blob = {0};

			if (rdb_string(r, &blob) < 0) {
				tn_sbuf_free(&blob);
				goto out;
			}
			rc = t == RDB_TYPE_SET_INTSET
				     ? parse_intset(r, (unsigned char *)blob.p,
						    blob.len, &m, vat)
				     : parse_listpack(r, (unsigned char *)blob.p,
						      blob.len, &m, vat);
			tn_sbuf_free(&blob);
			if (rc < 0)
				goto out;
			rc = -1;
		}
		break;
	default:
		rdb_fail(r, at, "unknown RDB value type %u", t);
		goto out;
	}
	r->item_end = r->off;
	if (t != RDB_TYPE_STRING && m.n == 0) {
		rc = 0; /* empty sets are no keys: skipped, as Redis does */
		goto out;
	}
	if (expire_ms >= 0 && expire_ms <= r->now_ms) {
		r->expired++;
		rc = 0;
		goto out;
	}
	if (r->load &&
	    store_key(r, t == RDB_TYPE_STRING ? TN_T_STRING : TN_T_SET, &m,
		      expire_ms, at) < 0)
		goto out;
	r->loaded++;
	rc = 0;
out:
	free(m.ol);
	return rc;
}

static int rdb_parse(struct rdb_in *r)
{
	char magic[9];
	uint64_t db = 0, a, b, at;
	int64_t expire_ms = -1;
	unsigned t, version = 0, i;

	if (rdb_read(r, magic, 9) < 0)
		return -1;
	if (memcmp(magic, "REDIS", 5))
		return rdb_fail(r, 0, "not an RDB file (bad magic "
				"\"%.5s\", expected \"REDIS\")", magic);
	for (i = 5; i < 9; i++) {
		if (magic[i] < '0' || magic[i] > '9')
			return rdb_fail(r, 5, "bad RDB version \"%.4s\"",
					magic + 5);
		version = version * 10 + (unsigned)(magic[i] - '0');
	}
	if (version < TN_RDB_MIN_VERSION || version > TN_RDB_MAX_VERSION)
		return rdb_fail(r, 5, "can't handle RDB format version %u",
				version);
	r->item_end = r->off;
	for (;;) {
		at = r->off;
		if (rdb_u8(r, &t) < 0)
			return -1;
		switch (t) {
		case RDB_OPCODE_EXPIRETIME:
			if (rdb_le(r, 4, &a) < 0)
				return -1;
			expire_ms = (int64_t)(int32_t)a * 1000;
			continue;
		case RDB_OPCODE_EXPIRETIME_MS:
			if (rdb_le(r, 8, &a) < 0)
				return -1;
			expire_ms = (int64_t)a;
			continue;
		case RDB_OPCODE_IDLE:
			if (rdb_len(r, &a, NULL) < 0)
				return -1;
			continue;
		case RDB_OPCODE_FREQ:
			if (rdb_u8(r, &i) < 0)
				return -1;
			continue;
		case RDB_OPCODE_SELECTDB:
			if (rdb_len(r, &db, NULL) < 0)
				return -1;
			break;
		case RDB_OPCODE_RESIZEDB:
			if (rdb_len(r, &a, NULL) < 0 ||
			    rdb_len(r, &b, NULL) < 0)
				return -1;
			break;
		case RDB_OPCODE_AUX:
			r->key.len = 0;
			r->val.len = 0;
			if (rdb_string(r, &r->key) < 0 ||
			    rdb_string(r, &r->val) < 0)
				return -1;
			break;
		case RDB_OPCODE_MODULE_AUX:
			return rdb_fail(r, at, "the file holds module data "
					"(MODULE_AUX opcode), which Titan does "
					"not support");
		case RDB_OPCODE_FUNCTION:
		case RDB_OPCODE_FUNCTION2:
			return rdb_fail(r, at, "the file holds Redis functions "
					"(FUNCTION opcode), which Titan does "
					"not support: FUNCTION FLUSH them in "
					"Redis first");
		case RDB_OPCODE_EOF:
			r->item_end = r->off;
			if (version >= 5) {
				uint64_t want = r->crc, got;

				if (rdb_le(r, 8, &got) < 0)
					return -1;
				if (got && got != want)
					return rdb_fail(r, at + 1,
							"RDB checksum mismatch "
							"(file says %016" PRIx64
							", data gives %016" PRIx64
							")",
							got, want);
				r->item_end = r->off;
			}
			return 0;
		default:
			if (t > RDB_TYPE_LAST || (t == 6 || t == 8))
				return rdb_fail(r, at, "unknown RDB opcode "
						"or type 0x%02x", t);
			if (rdb_key(r, t, expire_ms, db, at) < 0)
				return -1;
			expire_ms = -1;
			continue;
		}
		r->item_end = r->off;
	}
}

static struct rdb_in *rdb_open(int fd, uint64_t room, uint64_t fd_limit,
			       bool load, char *err, size_t errlen)
{
	struct rdb_in *r = calloc(1, sizeof(*r));

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->fd = fd;
	r->room = room;
	r->fd_limit = fd_limit;
	r->err = err;
	r->errlen = errlen;
	r->load = load;
	r->now_ms = tn_mstime();
	r->intset_max = 512;
	if (load && tn_conf)
		r->intset_max = TN_MIN(tn_conf->set_max_intset_entries,
				       1LL << 30);
	return r;
}

static void rdb_close(struct rdb_in *r)
{
	tn_sbuf_free(&r->key);
	tn_sbuf_free(&r->val);
	tn_sbuf_free(&r->scratch);
	free(r);
}

int tn_rdb_load_fd(int fd, off_t limit, uint64_t *loaded, uint64_t *expired,
		   char *err, size_t errlen)
{
	uint64_t room = UINT64_MAX, fd_limit = UINT64_MAX;
	struct rdb_in *r;
	struct stat st;
	off_t here;
	int rc;

	if (limit >= 0) {
		room = fd_limit = (uint64_t)limit;
	} else if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		   (here = lseek(fd, 0, SEEK_CUR)) >= 0) {
		room = st.st_size > here ? (uint64_t)(st.st_size - here) : 0;
	}
	r = rdb_open(fd, room, fd_limit, true, err, errlen);
	if (!r)
		return -1;
	rc = rdb_parse(r);
	/* hand back what was read ahead: an AOF may go on after the RDB */
	if (rc == 0 && r->len > r->pos)
		(void)lseek(fd, -(off_t)(r->len - r->pos), SEEK_CUR);
	if (loaded)
		*loaded = r->loaded;
	if (expired)
		*expired = r->expired;
	rdb_close(r);
	return rc;
}

int tn_rdb_load_file(const char *path, uint64_t *loaded, uint64_t *expired,
		     char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		snprintf(err, errlen, "can't open: %s", strerror(errno));
		return -1;
	}
	rc = tn_rdb_load_fd(fd, -1, loaded, expired, err, errlen);
	close(fd);
	return rc;
}

int tn_rdb_check_file(const char *path, off_t *good_end, char *err,
		      size_t errlen)
{
	struct rdb_in *r;
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	*good_end = 0;
	if (fd < 0) {
		snprintf(err, errlen, "can't open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "can't stat: %s", strerror(errno));
		close(fd);
		return -1;
	}
	r = rdb_open(fd, (uint64_t)st.st_size, UINT64_MAX, false, err, errlen);
	if (!r) {
		close(fd);
		return -1;
	}
	rc = rdb_parse(r);
	*good_end = (off_t)r->item_end;
	rdb_close(r);
	close(fd);
	return rc;
}
