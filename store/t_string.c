/*
 * t_string.c - string commands: GET/SET and their variants, counters,
 * ranges, APPEND, MGET/MSET and LCS.  A string is its entry's inline
 * bytes (struct kentry_shm); replies and errors follow Redis 7.0.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "store/cmds.h"
#include "util/util.h"

/* SET and GETEX options, as Redis' OBJ_* flags. */
enum {
	OPT_NX = 1u << 0,
	OPT_XX = 1u << 1,
	OPT_GET = 1u << 2,
	OPT_KEEPTTL = 1u << 3,
	OPT_PERSIST = 1u << 4,
	OPT_EX = 1u << 5,
	OPT_PX = 1u << 6,
	OPT_EXAT = 1u << 7,
	OPT_PXAT = 1u << 8,
};
#define OPT_EXPIRE (OPT_EX | OPT_PX | OPT_EXAT | OPT_PXAT)

/* Growth slack for APPEND/SETRANGE is capped here, as sds' greedy
 * preallocation (SDS_MAX_PREALLOC). */
#define STR_PREALLOC_MAX_BYTES (1024 * 1024)
#define STR_LL_MAX_CHARS 24

#define ERR_EXPIRE "ERR invalid expire time in '%s' command"
#define ERR_TOO_BIG                                                            \
	"ERR string exceeds maximum allowed size (proto-max-bulk-len)"

static bool wrongtype(struct tn_ctx *x, const struct kentry_shm *e)
{
	if (tn_likely(!e || e->type == TN_T_STRING))
		return false;
	tn_reply_error(x->r, TN_ERR_WRONGTYPE);
	return true;
}

/*
 * A reply already written for a command that then failed to allocate
 * must not reach the client: only the OOM error should.
 */
static void reply_oom_since(struct tn_ctx *x, size_t mark)
{
	if (x->r->out->len > mark)
		x->r->out->len = mark;
	tn_reply_error(x->r, TN_ERR_OOM);
}

/* Redis' checkStringLength: would `size + extra` bytes exceed
 * proto-max-bulk-len?  Replies the error if so. */
static bool too_long(struct tn_ctx *x, uint64_t size, uint64_t extra)
{
	uint64_t max = (uint64_t)tn_conf->proto_max_bulk_len;

	if (size <= max && extra <= max - size)
		return false;
	tn_reply_error(x->r, ERR_TOO_BIG);
	return true;
}

/*
 * Store `v` as k's value.  `e` is k's live entry or NULL; a string keeps
 * its TTL only with keepttl.  Returns the entry, or NULL on OOM.
 */
static struct kentry_shm *put_string(struct tn_ctx *x, const struct tn_key *k,
				     struct kentry_shm *e, const void *v,
				     size_t len, bool keepttl)
{
	if (!e) {
		e = tn_db_add(x, k, TN_T_STRING, len);
	} else if (e->type == TN_T_STRING) {
		e = tn_db_resize(x, k, e, len);
		if (e && !keepttl && e->expire_ms >= 0)
			tn_db_set_expire(k->s, e, -1);
	} else {
		return tn_db_set_string(x, k, v, len, keepttl);
	}
	if (!e)
		return NULL;
	e->enc = TN_E_STR;
	memcpy(tn_kentry_val(e), v, len);
	return e;
}

/*
 * Give a string entry `len` value bytes, keeping the old ones.  Growth
 * takes slack so that a run of APPENDs copies the value O(log n) times,
 * not once per page.  NULL on OOM (the entry intact).
 */
static struct kentry_shm *grow_string(struct tn_ctx *x, const struct tn_key *k,
				      struct kentry_shm *e, uint64_t len)
{
	size_t hdr = sizeof(*e) + e->keylen;
	struct kentry_shm *n;
	uint64_t slack;

	if (hdr + len <= tn_alloc_usable(tn_off_of(e))) {
		e->vlen = len;
		return e;
	}
	slack = TN_MIN(len, (uint64_t)STR_PREALLOC_MAX_BYTES);
	n = tn_db_resize(x, k, e, len + slack);
	if (!n)
		n = tn_db_resize(x, k, e, len);
	if (n)
		n->vlen = len;
	return n;
}

/* ------------------------------------------------------------------ */
/* GET, SET and friends                                                 */
/* ------------------------------------------------------------------ */

static void cmd_get(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_read(x, &k);

	if (!e) {
		tn_reply_null(x->r);
		return;
	}
	if (wrongtype(x, e))
		return;
	tn_reply_bulk(x->r, tn_kentry_val(e), e->vlen);
}

/* "NX"-style two-letter option word. */
static bool word2(const struct tn_arg *a, char c0, char c1)
{
	return a->len == 2 && (a->p[0] | 0x20) == c0 && (a->p[1] | 0x20) == c1;
}

static unsigned expire_word(const struct tn_arg *a)
{
	if (word2(a, 'e', 'x'))
		return OPT_EX;
	if (word2(a, 'p', 'x'))
		return OPT_PX;
	if (tn_arg_is(a, "exat"))
		return OPT_EXAT;
	if (tn_arg_is(a, "pxat"))
		return OPT_PXAT;
	return 0;
}

/*
 * Redis' parseExtendedStringArgumentsOrReply: options from argv[from] on,
 * for SET (is_set) or GETEX.  A repeated option is accepted; conflicting
 * ones are a syntax error.  *exp_arg gets the expire value's index.
 */
static bool parse_opts(struct tn_ctx *x, int from, bool is_set, unsigned *flags,
		       int *exp_arg)
{
	unsigned f = 0, bit;
	int j;

	for (j = from; j < x->argc; j++) {
		const struct tn_arg *a = &x->argv[j];

		if (is_set && word2(a, 'n', 'x') && !(f & OPT_XX)) {
			f |= OPT_NX;
		} else if (is_set && word2(a, 'x', 'x') && !(f & OPT_NX)) {
			f |= OPT_XX;
		} else if (is_set && tn_arg_is(a, "get")) {
			f |= OPT_GET;
		} else if (is_set && tn_arg_is(a, "keepttl") &&
			   !(f & (OPT_PERSIST | OPT_EXPIRE))) {
			f |= OPT_KEEPTTL;
		} else if (!is_set && tn_arg_is(a, "persist") &&
			   !(f & (OPT_KEEPTTL | OPT_EXPIRE))) {
			f |= OPT_PERSIST;
		} else if (j + 1 < x->argc && (bit = expire_word(a)) &&
			   !(f & (OPT_KEEPTTL | OPT_PERSIST |
				  (OPT_EXPIRE & ~bit)))) {
			f |= bit;
			*exp_arg = ++j;
		} else {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return false;
		}
	}
	*flags = f;
	return true;
}

/*
 * Redis' getExpireMillisecondsOrReply: argv[i] as an absolute unix ms.
 * EX/PX are relative to the command's time; anything not positive, or
 * that overflows on the way to milliseconds, is an invalid expire time.
 */
static bool expire_arg(struct tn_ctx *x, int i, unsigned opt, int64_t *ms)
{
	long long v;

	if (!tn_arg_ll(x, i, &v, NULL))
		return false;
	if (v <= 0)
		goto bad;
	if (opt & (OPT_EX | OPT_EXAT)) {
		if (v > LLONG_MAX / 1000)
			goto bad;
		v *= 1000;
	}
	if (opt & (OPT_EX | OPT_PX)) {
		if (v > LLONG_MAX - x->now_ms)
			goto bad;
		v += x->now_ms;
	}
	*ms = v;
	return true;
bad:
	tn_reply_errorf(x->r, ERR_EXPIRE, x->cmd->name);
	return false;
}

/*
 * Redis' setGenericCommand for SET, SETNX, SETEX and PSETEX.  `ms` is the
 * absolute expiry or -1.  SETNX answers 1/0 instead of OK/nil.
 */
static void set_generic(struct tn_ctx *x, const struct tn_key *k, unsigned f,
			int64_t ms, const struct tn_arg *v, bool setnx)
{
	size_t mark = x->r->out->len;
	struct kentry_shm *e;

	if (f & OPT_GET) {
		e = tn_db_read(x, k);
		if (wrongtype(x, e))
			return;
		if (e)
			tn_reply_bulk(x->r, tn_kentry_val(e), e->vlen);
		else
			tn_reply_null(x->r);
	} else {
		e = tn_db_find(x, k);
	}
	if (((f & OPT_NX) && e) || ((f & OPT_XX) && !e)) {
		if (setnx)
			tn_reply_int(x->r, 0);
		else if (!(f & OPT_GET))
			tn_reply_null(x->r);
		return;
	}
	e = put_string(x, k, e, v->p, v->len, f & OPT_KEEPTTL);
	/* a key that should expire but cannot is dropped, not kept forever */
	if (e && ms >= 0 && tn_db_set_expire(k->s, e, ms) < 0) {
		tn_db_delete_entry(x, k, e);
		e = NULL;
	}
	if (!e) {
		/* the old value may be gone: log what is left */
		tn_effect_key(k);
		reply_oom_since(x, mark);
		return;
	}
	tn_db_dirty(x, 1);
	tn_effect_key(k);
	tn_notify(x, TN_NOTIFY_STRING, "set", k);
	if (ms >= 0)
		tn_notify(x, TN_NOTIFY_GENERIC, "expire", k);
	if (setnx)
		tn_reply_int(x->r, 1);
	else if (!(f & OPT_GET))
		tn_reply_ok(x->r);
}

static void cmd_set(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	unsigned f = 0;
	int exp_arg = 0;
	int64_t ms = -1;

	if (x->argc == 3) {
		if (!tn_db_set_string(x, &k, x->argv[2].p, x->argv[2].len,
				      false)) {
			tn_reply_error(x->r, TN_ERR_OOM);
			return;
		}
		tn_db_dirty(x, 1);
		tn_effect_key(&k);
		tn_notify(x, TN_NOTIFY_STRING, "set", &k);
		tn_reply_ok(x->r);
		return;
	}
	if (!parse_opts(x, 3, true, &f, &exp_arg))
		return;
	if ((f & OPT_EXPIRE) && !expire_arg(x, exp_arg, f, &ms))
		return;
	set_generic(x, &k, f, ms, &x->argv[2], false);
}

static void cmd_setnx(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);

	set_generic(x, &k, OPT_NX, -1, &x->argv[2], true);
}

static void setex_generic(struct tn_ctx *x, unsigned unit)
{
	struct tn_key k = tn_key_arg(x, 1);
	int64_t ms;

	if (!expire_arg(x, 2, unit, &ms))
		return;
	set_generic(x, &k, 0, ms, &x->argv[3], false);
}

static void cmd_setex(struct tn_ctx *x)
{
	setex_generic(x, OPT_EX);
}

static void cmd_psetex(struct tn_ctx *x)
{
	setex_generic(x, OPT_PX);
}

static void cmd_getset(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_read(x, &k);
	size_t mark = x->r->out->len;

	if (wrongtype(x, e))
		return;
	if (e)
		tn_reply_bulk(x->r, tn_kentry_val(e), e->vlen);
	else
		tn_reply_null(x->r);
	if (!put_string(x, &k, e, x->argv[2].p, x->argv[2].len, false)) {
		tn_effect_key(&k);
		reply_oom_since(x, mark);
		return;
	}
	tn_db_dirty(x, 1);
	tn_effect_key(&k);
	tn_notify(x, TN_NOTIFY_STRING, "set", &k);
}

static void cmd_getdel(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_read(x, &k);

	if (!e) {
		tn_reply_null(x->r);
		return;
	}
	if (wrongtype(x, e))
		return;
	tn_reply_bulk(x->r, tn_kentry_val(e), e->vlen);
	tn_db_delete_entry(x, &k, e);
	tn_db_dirty(x, 1);
	tn_effect_key(&k);
	tn_notify(x, TN_NOTIFY_GENERIC, "del", &k);
}

/*
 * GETEX: the option syntax is checked first, a missing key then answers
 * nil whatever the expire value, and only then is the value checked.
 */
static void cmd_getex(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e;
	unsigned f = 0;
	int exp_arg = 0;
	int64_t ms = -1;

	if (!parse_opts(x, 2, false, &f, &exp_arg))
		return;
	e = tn_db_read(x, &k);
	if (!e) {
		tn_reply_null(x->r);
		return;
	}
	if (wrongtype(x, e))
		return;
	if ((f & OPT_EXPIRE) && !expire_arg(x, exp_arg, f, &ms))
		return;
	if ((f & (OPT_EXAT | OPT_PXAT)) && ms <= x->now_ms) {
		tn_reply_bulk(x->r, tn_kentry_val(e), e->vlen);
		tn_db_delete_entry(x, &k, e);
		tn_db_dirty(x, 1);
		tn_effect_key(&k);
		tn_notify(x, TN_NOTIFY_GENERIC, "del", &k);
		return;
	}
	if (f & OPT_EXPIRE) {
		if (tn_db_set_expire(k.s, e, ms) < 0) {
			tn_reply_error(x->r, TN_ERR_OOM);
			return;
		}
		tn_db_dirty(x, 1);
		tn_effect_key(&k);
		tn_notify(x, TN_NOTIFY_GENERIC, "expire", &k);
	} else if ((f & OPT_PERSIST) && e->expire_ms >= 0) {
		tn_db_set_expire(k.s, e, -1);
		tn_db_dirty(x, 1);
		tn_effect_key(&k);
		tn_notify(x, TN_NOTIFY_GENERIC, "persist", &k);
	}
	tn_reply_bulk(x->r, tn_kentry_val(e), e->vlen);
}

/* ------------------------------------------------------------------ */
/* Multi-key                                                            */
/* ------------------------------------------------------------------ */

static void cmd_mget(struct tn_ctx *x)
{
	int i;

	tn_reply_array(x->r, x->argc - 1);
	for (i = 1; i < x->argc; i++) {
		struct tn_key k = tn_key_arg(x, i);
		struct kentry_shm *e = tn_db_read(x, &k);

		if (e && e->type == TN_T_STRING)
			tn_reply_bulk(x->r, tn_kentry_val(e), e->vlen);
		else
			tn_reply_null(x->r);
	}
}

/* MSET and MSETNX: every key's stripe is locked, so both are atomic. */
static void mset_generic(struct tn_ctx *x, bool nx)
{
	int i;

	if (x->argc % 2 == 0) {
		tn_reply_errorf(
		    x->r, "ERR wrong number of arguments for '%s' command",
		    x->cmd->name);
		return;
	}
	if (nx) {
		for (i = 1; i < x->argc; i += 2) {
			struct tn_key k = tn_key_arg(x, i);

			if (tn_db_find(x, &k)) {
				tn_reply_int(x->r, 0);
				return;
			}
		}
	}
	for (i = 1; i < x->argc; i += 2) {
		struct tn_key k = tn_key_arg(x, i);
		const struct tn_arg *v = &x->argv[i + 1];

		if (!put_string(x, &k, tn_db_find(x, &k), v->p, v->len,
				false)) {
			tn_effect_key(&k);
			tn_db_dirty(x, (uint64_t)(i - 1) / 2);
			tn_reply_error(x->r, TN_ERR_OOM);
			return;
		}
		tn_effect_key(&k);
		tn_notify(x, TN_NOTIFY_STRING, "set", &k);
	}
	tn_db_dirty(x, (uint64_t)(x->argc - 1) / 2);
	if (nx)
		tn_reply_int(x->r, 1);
	else
		tn_reply_ok(x->r);
}

static void cmd_mset(struct tn_ctx *x)
{
	mset_generic(x, false);
}

static void cmd_msetnx(struct tn_ctx *x)
{
	mset_generic(x, true);
}

/* ------------------------------------------------------------------ */
/* Counters                                                             */
/* ------------------------------------------------------------------ */

/*
 * The stored bytes are parsed and the new number written back in place;
 * the entry moves only when its length crosses an allocation class.
 */
static void incr_generic(struct tn_ctx *x, long long by)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_find(x, &k);
	char buf[STR_LL_MAX_CHARS];
	long long v = 0;
	int n;

	if (e) {
		if (wrongtype(x, e))
			return;
		if (!tn_str2ll(tn_kentry_val(e), e->vlen, &v)) {
			tn_reply_error(x->r, TN_ERR_NOTINT);
			return;
		}
	}
	if ((by < 0 && v < 0 && by < LLONG_MIN - v) ||
	    (by > 0 && v > 0 && by > LLONG_MAX - v)) {
		tn_reply_error(x->r, TN_ERR_OVERFLOW);
		return;
	}
	v += by;
	n = tn_ll2str(buf, v);
	if (!e)
		e = tn_db_add(x, &k, TN_T_STRING, (uint64_t)n);
	else if (e->vlen != (uint64_t)n)
		e = tn_db_resize(x, &k, e, (uint64_t)n);
	if (!e) {
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	e->enc = TN_E_STR;
	memcpy(tn_kentry_val(e), buf, (size_t)n);
	tn_db_dirty(x, 1);
	tn_effect_key(&k);
	tn_notify(x, TN_NOTIFY_STRING, "incrby", &k);
	tn_reply_int(x->r, v);
}

static void cmd_incr(struct tn_ctx *x)
{
	incr_generic(x, 1);
}

static void cmd_decr(struct tn_ctx *x)
{
	incr_generic(x, -1);
}

static void cmd_incrby(struct tn_ctx *x)
{
	long long by;

	if (tn_arg_ll(x, 2, &by, NULL))
		incr_generic(x, by);
}

static void cmd_decrby(struct tn_ctx *x)
{
	long long by;

	if (!tn_arg_ll(x, 2, &by, NULL))
		return;
	/* -LLONG_MIN does not exist */
	if (by == LLONG_MIN) {
		tn_reply_error(x->r, "ERR decrement would overflow");
		return;
	}
	incr_generic(x, -by);
}

static void cmd_incrbyfloat(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_find(x, &k);
	char buf[TN_LD_MAX_CHARS];
	long double v = 0, by;
	size_t n;

	if (wrongtype(x, e))
		return;
	if ((e && !tn_str2ld(tn_kentry_val(e), e->vlen, &v)) ||
	    !tn_str2ld(x->argv[2].p, x->argv[2].len, &by)) {
		tn_reply_error(x->r, TN_ERR_NOTFLOAT);
		return;
	}
	v += by;
	if (isnan(v) || isinf(v)) {
		tn_reply_error(x->r,
			       "ERR increment would produce NaN or Infinity");
		return;
	}
	/* the same bytes are stored and replied */
	n = tn_ld2str(buf, sizeof(buf), v);
	/* INCRBYFLOAT keeps the key's TTL, as INCR does */
	e = put_string(x, &k, e, buf, n, true);
	if (!e) {
		tn_effect_key(&k);
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	/* Redis stores the result without trying an integer encoding */
	e->enc = TN_E_NOINTSTR;
	tn_db_dirty(x, 1);
	tn_effect_key(&k);
	tn_notify(x, TN_NOTIFY_STRING, "incrbyfloat", &k);
	tn_reply_bulk(x->r, buf, n);
}

/* ------------------------------------------------------------------ */
/* Lengths and ranges                                                   */
/* ------------------------------------------------------------------ */

static void cmd_strlen(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_read(x, &k);

	if (wrongtype(x, e))
		return;
	tn_reply_int(x->r, e ? (long long)e->vlen : 0);
}

static void cmd_append(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e = tn_db_find(x, &k);
	const struct tn_arg *a = &x->argv[2];
	uint64_t old;

	if (!e) {
		/* a new key holds the argument as SET would store it */
		e = tn_db_add(x, &k, TN_T_STRING, a->len);
		if (!e) {
			tn_reply_error(x->r, TN_ERR_OOM);
			return;
		}
		memcpy(tn_kentry_val(e), a->p, a->len);
		tn_db_dirty(x, 1);
		tn_effect_key(&k);
		tn_notify(x, TN_NOTIFY_STRING, "append", &k);
		tn_reply_int(x->r, (long long)a->len);
		return;
	}
	if (wrongtype(x, e) || too_long(x, e->vlen, a->len))
		return;
	old = e->vlen;
	e = grow_string(x, &k, e, old + a->len);
	if (!e) {
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	memcpy(tn_kentry_val(e) + old, a->p, a->len);
	e->enc = TN_E_RAWSTR;
	tn_db_dirty(x, 1);
	tn_effect_key(&k);
	tn_notify(x, TN_NOTIFY_STRING, "append", &k);
	tn_reply_int(x->r, (long long)e->vlen);
}

/* GETRANGE and SUBSTR.  A missing key reads as the empty string. */
static void cmd_getrange(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	struct kentry_shm *e;
	long long start, end, len;

	if (!tn_arg_ll(x, 2, &start, NULL) || !tn_arg_ll(x, 3, &end, NULL))
		return;
	e = tn_db_read(x, &k);
	if (!e) {
		tn_reply_bulk(x->r, "", 0);
		return;
	}
	if (wrongtype(x, e))
		return;
	len = (long long)e->vlen;
	if (start < 0 && end < 0 && start > end) {
		tn_reply_bulk(x->r, "", 0);
		return;
	}
	if (start < 0)
		start += len;
	if (end < 0)
		end += len;
	if (start < 0)
		start = 0;
	if (end < 0)
		end = 0;
	if (end >= len)
		end = len - 1;
	if (len == 0 || start > end)
		tn_reply_bulk(x->r, "", 0);
	else
		tn_reply_bulk(x->r, tn_kentry_val(e) + start,
			      (size_t)(end - start + 1));
}

static void cmd_setrange(struct tn_ctx *x)
{
	struct tn_key k = tn_key_arg(x, 1);
	const struct tn_arg *a = &x->argv[3];
	struct kentry_shm *e;
	long long off;
	uint64_t old;

	if (!tn_arg_ll(x, 2, &off, NULL))
		return;
	if (off < 0) {
		tn_reply_error(x->r, "ERR offset is out of range");
		return;
	}
	e = tn_db_find(x, &k);
	if (!e) {
		/* nothing to write creates nothing */
		if (a->len == 0) {
			tn_reply_int(x->r, 0);
			return;
		}
		if (too_long(x, (uint64_t)off, a->len))
			return;
		e = tn_db_add(x, &k, TN_T_STRING, (uint64_t)off + a->len);
		if (!e) {
			tn_reply_error(x->r, TN_ERR_OOM);
			return;
		}
		memset(tn_kentry_val(e), 0, (size_t)off);
	} else {
		if (wrongtype(x, e))
			return;
		if (a->len == 0) {
			tn_reply_int(x->r, (long long)e->vlen);
			return;
		}
		if (too_long(x, (uint64_t)off, a->len))
			return;
		old = e->vlen;
		if ((uint64_t)off + a->len > old) {
			e = grow_string(x, &k, e, (uint64_t)off + a->len);
			if (!e) {
				tn_reply_error(x->r, TN_ERR_OOM);
				return;
			}
			if ((uint64_t)off > old)
				memset(tn_kentry_val(e) + old, 0,
				       (size_t)((uint64_t)off - old));
		}
	}
	memcpy(tn_kentry_val(e) + off, a->p, a->len);
	e->enc = TN_E_RAWSTR;
	tn_db_dirty(x, 1);
	tn_effect_key(&k);
	tn_notify(x, TN_NOTIFY_STRING, "setrange", &k);
	tn_reply_int(x->r, (long long)e->vlen);
}

/* ------------------------------------------------------------------ */
/* LCS                                                                  */
/* ------------------------------------------------------------------ */

struct lcs_opts {
	bool len, idx, withmatchlen;
	long long minmatchlen;
};

static void lcs_reply_range(struct tn_ctx *x, const struct lcs_opts *o,
			    uint32_t as, uint32_t ae, uint32_t bs, uint32_t be)
{
	tn_reply_array(x->r, 2 + o->withmatchlen);
	tn_reply_array(x->r, 2);
	tn_reply_int(x->r, as);
	tn_reply_int(x->r, ae);
	tn_reply_array(x->r, 2);
	tn_reply_int(x->r, bs);
	tn_reply_int(x->r, be);
	if (o->withmatchlen)
		tn_reply_int(x->r, ae - as + 1);
}

/*
 * Redis' lcsCommand: the dynamic programming table, then a walk back
 * from its corner that yields the LCS string and, for IDX, the matching
 * ranges from the last to the first.
 */
static void lcs_run(struct tn_ctx *x, const char *a, uint32_t alen,
		    const char *b, uint32_t blen, const struct lcs_opts *o)
{
	uint64_t cells = (uint64_t)(alen + 1) * (blen + 1);
	uint32_t *t, i, j, idx, n = 0;
	uint32_t as = alen, ae = 0, bs = 0, be = 0; /* as == alen: no range */
	char *res = NULL;
	size_t mark = 0;
	bool walk = o->idx || !o->len;

#define LCS(I, J) t[(uint64_t)(I) * (blen + 1) + (J)]
	if (cells > (uint64_t)tn_conf->proto_max_bulk_len / sizeof(*t)) {
		tn_reply_error(x->r,
			       "ERR Insufficient memory, transient memory "
			       "for LCS exceeds proto-max-bulk-len");
		return;
	}
	t = malloc(cells * sizeof(*t));
	if (!t) {
		tn_reply_error(x->r, "ERR Insufficient memory, failed "
				     "allocating transient memory for LCS");
		return;
	}
	for (i = 0; i <= alen; i++) {
		for (j = 0; j <= blen; j++) {
			if (i == 0 || j == 0)
				LCS(i, j) = 0;
			else if (a[i - 1] == b[j - 1])
				LCS(i, j) = LCS(i - 1, j - 1) + 1;
			else
				LCS(i, j) =
				    TN_MAX(LCS(i - 1, j), LCS(i, j - 1));
		}
	}
	idx = LCS(alen, blen);
	if (walk && !o->idx) {
		res = malloc(idx ? idx : 1);
		if (!res) {
			free(t);
			tn_reply_error(x->r,
				       "ERR Insufficient memory, failed "
				       "allocating transient memory for LCS");
			return;
		}
	}
	if (o->idx) {
		tn_reply_map(x->r, 2);
		tn_reply_bulkstr(x->r, "matches");
		mark = tn_reply_defer(x->r);
	}
	i = alen;
	j = blen;
	while (walk && i > 0 && j > 0) {
		bool emit = false;

		if (a[i - 1] == b[j - 1]) {
			if (res)
				res[idx - 1] = a[i - 1];
			if (as == alen) {
				as = ae = i - 1;
				bs = be = j - 1;
			} else if (as == i && bs == j) {
				/* contiguous: extend the range backwards */
				as--;
				bs--;
			} else {
				emit = true;
			}
			if (as == 0 || bs == 0)
				emit = true;
			idx--;
			i--;
			j--;
		} else {
			if (LCS(i - 1, j) > LCS(i, j - 1))
				i--;
			else
				j--;
			if (as != alen)
				emit = true;
		}
		if (emit) {
			if (o->idx && (o->minmatchlen == 0 ||
				       ae - as + 1 >= o->minmatchlen)) {
				lcs_reply_range(x, o, as, ae, bs, be);
				n++;
			}
			as = alen;
		}
	}
	if (o->idx) {
		tn_reply_defer_set(x->r, mark, '*', n);
		tn_reply_bulkstr(x->r, "len");
		tn_reply_int(x->r, LCS(alen, blen));
	} else if (o->len) {
		tn_reply_int(x->r, LCS(alen, blen));
	} else {
		tn_reply_bulk(x->r, res, LCS(alen, blen));
	}
#undef LCS
	free(res);
	free(t);
}

static void cmd_lcs(struct tn_ctx *x)
{
	struct tn_key ka = tn_key_arg(x, 1), kb = tn_key_arg(x, 2);
	struct kentry_shm *ea = tn_db_read(x, &ka), *eb = tn_db_read(x, &kb);
	struct lcs_opts o = {0};
	int j;

	if ((ea && ea->type != TN_T_STRING) ||
	    (eb && eb->type != TN_T_STRING)) {
		tn_reply_error(
		    x->r, "ERR The specified keys must contain string values");
		return;
	}
	for (j = 3; j < x->argc; j++) {
		const struct tn_arg *a = &x->argv[j];

		if (tn_arg_is(a, "idx")) {
			o.idx = true;
		} else if (tn_arg_is(a, "len")) {
			o.len = true;
		} else if (tn_arg_is(a, "withmatchlen")) {
			o.withmatchlen = true;
		} else if (tn_arg_is(a, "minmatchlen") && j + 1 < x->argc) {
			if (!tn_arg_ll(x, ++j, &o.minmatchlen, NULL))
				return;
			if (o.minmatchlen < 0)
				o.minmatchlen = 0;
		} else {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return;
		}
	}
	if (o.idx && o.len) {
		tn_reply_error(x->r, "ERR If you want both the length and "
				     "indexes, please just use IDX.");
		return;
	}
	if ((ea && ea->vlen >= UINT32_MAX - 1) ||
	    (eb && eb->vlen >= UINT32_MAX - 1)) {
		tn_reply_error(x->r, "ERR String too long for LCS");
		return;
	}
	lcs_run(x, ea ? tn_kentry_val(ea) : "", ea ? (uint32_t)ea->vlen : 0,
		eb ? tn_kentry_val(eb) : "", eb ? (uint32_t)eb->vlen : 0, &o);
}

/* ------------------------------------------------------------------ */
/* Table                                                                */
/* ------------------------------------------------------------------ */

#define W   TN_CMD_WRITE
#define WD  (TN_CMD_WRITE | TN_CMD_DENYOOM)
#define WDF (TN_CMD_WRITE | TN_CMD_DENYOOM | TN_CMD_FAST)
#define R   TN_CMD_READONLY
#define RF  (TN_CMD_READONLY | TN_CMD_FAST)

const struct tn_cmd tn_cmds_string[] = {
	{"get", 2, RF, 1, 1, 1, cmd_get, NULL, "read string fast", NULL,
	 "Get the value of a key", "1.0.0", "string"},
	{"set", -3, WD, 1, 1, 1, cmd_set, NULL, "write string slow", NULL,
	 "Set the string value of a key", "1.0.0", "string"},
	{"setnx", 3, WDF, 1, 1, 1, cmd_setnx, NULL, "write string fast", NULL,
	 "Set the value of a key, only if the key does not exist", "1.0.0",
	 "string"},
	{"setex", 4, WD, 1, 1, 1, cmd_setex, NULL, "write string slow", NULL,
	 "Set the value and expiration of a key", "2.0.0", "string"},
	{"psetex", 4, WD, 1, 1, 1, cmd_psetex, NULL, "write string slow", NULL,
	 "Set the value and expiration in milliseconds of a key", "2.6.0",
	 "string"},
	{"getset", 3, WDF, 1, 1, 1, cmd_getset, NULL, "write string fast", NULL,
	 "Set the string value of a key and return its old value", "1.0.0",
	 "string"},
	{"getdel", 2, W | TN_CMD_FAST, 1, 1, 1, cmd_getdel, NULL,
	 "write string fast", NULL, "Get the value of a key and delete the key",
	 "6.2.0", "string"},
	{"getex", -2, W | TN_CMD_FAST, 1, 1, 1, cmd_getex, NULL,
	 "write string fast", NULL,
	 "Get the value of a key and optionally set its expiration", "6.2.0",
	 "string"},
	{"mget", -2, RF, 1, -1, 1, cmd_mget, NULL, "read string fast", NULL,
	 "Get the values of all the given keys", "1.0.0", "string"},
	{"mset", -3, WD, 1, -1, 2, cmd_mset, NULL, "write string slow", NULL,
	 "Set multiple keys to multiple values", "1.0.1", "string"},
	{"msetnx", -3, WD, 1, -1, 2, cmd_msetnx, NULL, "write string slow",
	 NULL,
	 "Set multiple keys to multiple values, only if none of the keys exist",
	 "1.0.1", "string"},
	{"append", 3, WDF, 1, 1, 1, cmd_append, NULL, "write string fast", NULL,
	 "Append a value to a key", "2.0.0", "string"},
	{"strlen", 2, RF, 1, 1, 1, cmd_strlen, NULL, "read string fast", NULL,
	 "Get the length of the value stored in a key", "2.2.0", "string"},
	{"incr", 2, WDF, 1, 1, 1, cmd_incr, NULL, "write string fast", NULL,
	 "Increment the integer value of a key by one", "1.0.0", "string"},
	{"decr", 2, WDF, 1, 1, 1, cmd_decr, NULL, "write string fast", NULL,
	 "Decrement the integer value of a key by one", "1.0.0", "string"},
	{"incrby", 3, WDF, 1, 1, 1, cmd_incrby, NULL, "write string fast", NULL,
	 "Increment the integer value of a key by the given amount", "1.0.0",
	 "string"},
	{"decrby", 3, WDF, 1, 1, 1, cmd_decrby, NULL, "write string fast", NULL,
	 "Decrement the integer value of a key by the given number", "1.0.0",
	 "string"},
	{"incrbyfloat", 3, WDF, 1, 1, 1, cmd_incrbyfloat, NULL,
	 "write string fast", NULL,
	 "Increment the float value of a key by the given amount", "2.6.0",
	 "string"},
	{"getrange", 4, R, 1, 1, 1, cmd_getrange, NULL, "read string slow",
	 NULL, "Get a substring of the string stored at a key", "2.4.0",
	 "string"},
	{"substr", 4, R, 1, 1, 1, cmd_getrange, NULL, "read string slow", NULL,
	 "Get a substring of the string stored at a key", "1.0.0", "string"},
	{"setrange", 4, WD, 1, 1, 1, cmd_setrange, NULL, "write string slow",
	 NULL,
	 "Overwrite part of a string at key starting at the specified offset",
	 "2.2.0", "string"},
	{"lcs", -3, R, 1, 2, 1, cmd_lcs, NULL, "read string slow", NULL,
	 "Find longest common substring", "7.0.0", "string"},
	{0},
};
