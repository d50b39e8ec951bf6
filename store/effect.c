/*
 * effect.c - what a command changed, as replayable RESP for the effect
 * log: idempotent state assignments with absolute times (SET k v PXAT t,
 * SADD, SREM, DEL, PEXPIREAT), gathered per command in a buffer of this
 * process and appended as one record while the stripe locks are held.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "store/store.h"
#include "util/util.h"

#define MULTI_RESP "*1\r\n$5\r\nMULTI\r\n"
#define EXEC_RESP "*1\r\n$4\r\nEXEC\r\n"
#define MULTI_LEN (sizeof(MULTI_RESP) - 1)
#define EXEC_LEN (sizeof(EXEC_RESP) - 1)
/* room for a command's "*<argc>\r\n", filled in when it ends */
#define ARGC_ROOM 13
#define EFFECT_KEEP_BYTES (256u * 1024) /* larger buffers are given back */

/*
 * The buffer starts with room for MULTI so that a record of several
 * commands is wrapped without moving it.
 */
static struct {
	char *p;
	size_t len, cap;
	size_t cmd_start; /* of the command being written */
	uint32_t cmd_argc;
	uint32_t ncmds; /* complete commands in the buffer */
	int depth; /* nested tn_call: EXEC runs commands inside its own */
	bool lost; /* out of memory: this command's effects are incomplete */
	uint64_t pos; /* log position past the last record appended */
} E = {.len = MULTI_LEN};

static bool room(size_t n)
{
	size_t cap;
	char *p;

	if (tn_likely(E.len + n <= E.cap))
		return true;
	cap = E.cap ? E.cap : 4096;
	while (cap < E.len + n)
		cap *= 2;
	p = realloc(E.p, cap);
	if (!p) {
		E.lost = true;
		return false;
	}
	E.p = p;
	E.cap = cap;
	return true;
}

void tn_effect_begin(const char *name)
{
	if (!room(ARGC_ROOM))
		return;
	E.cmd_start = E.len;
	E.len += ARGC_ROOM;
	E.cmd_argc = 0;
	tn_effect_arg(name, strlen(name));
}

/* "<c><n>\r\n" into buf (32 bytes), its length; no printf on this path:
 * it runs for every argument of every write. */
static size_t count_hdr(char *buf, char c, unsigned long long n)
{
	size_t h;

	buf[0] = c;
	h = 1 + (size_t)tn_ll2str(buf + 1, (long long)n);
	buf[h++] = '\r';
	buf[h++] = '\n';
	return h;
}

void tn_effect_arg(const void *p, size_t n)
{
	char hdr[32];
	size_t h = count_hdr(hdr, '$', n);

	if (!room(h + n + 2))
		return;
	memcpy(E.p + E.len, hdr, h);
	E.len += h;
	memcpy(E.p + E.len, p, n);
	E.len += n;
	E.p[E.len++] = '\r';
	E.p[E.len++] = '\n';
	E.cmd_argc++;
}

void tn_effect_arg_ll(long long v)
{
	char buf[32];
	int n = tn_ll2str(buf, v);

	tn_effect_arg(buf, (size_t)n);
}

void tn_effect_end(void)
{
	char hdr[32];
	size_t h, body;

	if (E.lost)
		return;
	h = count_hdr(hdr, '*', E.cmd_argc);
	body = E.len - E.cmd_start - ARGC_ROOM;
	memmove(E.p + E.cmd_start + h, E.p + E.cmd_start + ARGC_ROOM, body);
	memcpy(E.p + E.cmd_start, hdr, h);
	E.len -= ARGC_ROOM - h;
	E.ncmds++;
}

static void key_cmd(const char *name, const struct tn_key *k)
{
	tn_effect_begin(name);
	tn_effect_arg(k->p, k->len);
}

void tn_effect_del(const struct tn_key *k)
{
	if (!tn_effects_on())
		return;
	key_cmd("DEL", k);
	tn_effect_end();
}

void tn_effect_pexpireat(const struct tn_key *k, int64_t ms)
{
	if (!tn_effects_on())
		return;
	key_cmd("PEXPIREAT", k);
	tn_effect_arg_ll(ms);
	tn_effect_end();
}

void tn_effect_persist(const struct tn_key *k)
{
	if (!tn_effects_on())
		return;
	key_cmd("PERSIST", k);
	tn_effect_end();
}

void tn_effect_flushall(void)
{
	if (!tn_effects_on())
		return;
	tn_effect_begin("FLUSHALL");
	tn_effect_end();
}

void tn_effect_members(const char *cmd, const struct tn_key *k,
		       const struct tn_arg *argv, int n)
{
	int i;

	if (!tn_effects_on() || n <= 0)
		return;
	key_cmd(cmd, k);
	for (i = 0; i < n; i++)
		tn_effect_arg(argv[i].p, argv[i].len);
	tn_effect_end();
}

static void add_member(void *arg, tn_off off)
{
	struct member_shm *m = tn_ptr(off);

	tn_effect_arg(m->data, m->len);
}

/* SADD k <every member> of a set entry. */
static void set_members(const struct tn_key *k, struct kentry_shm *e)
{
	tn_off v;

	memcpy(&v, tn_kentry_val(e), sizeof(v));
	key_cmd("SADD", k);
	if (e->enc == TN_E_INTSET) {
		const struct intset_shm *is = tn_ptr(v);
		uint32_t i;

		for (i = 0; is && i < is->count; i++)
			tn_effect_arg_ll(is->v[i]);
	} else {
		tn_dict_foreach(tn_ptr(v), add_member, NULL);
	}
	tn_effect_end();
}

void tn_effect_key(const struct tn_key *k)
{
	struct kentry_shm *e;

	if (!tn_effects_on())
		return;
	/* the raw lookup: logging must not expire what the command kept */
	e = tn_ptr(tn_dict_find(&k->s->keys, k->p, k->len, k->h));
	if (!e) {
		tn_effect_del(k);
		return;
	}
	if (e->type == TN_T_STRING) {
		key_cmd("SET", k);
		tn_effect_arg(tn_kentry_val(e), e->vlen);
		if (e->expire_ms >= 0) {
			tn_effect_arg("PXAT", 4);
			tn_effect_arg_ll(e->expire_ms);
		}
		tn_effect_end();
		return;
	}
	tn_effect_del(k);
	set_members(k, e);
	if (e->expire_ms >= 0)
		tn_effect_pexpireat(k, e->expire_ms);
}

/* Parse one "$<n>\r\n<bytes>\r\n" at p; NULL when it is not one. */
static const char *next_bulk(const char *p, const char *end, const char **s,
			     size_t *n)
{
	size_t len = 0;

	if (p >= end || *p++ != '$')
		return NULL;
	while (p < end && *p >= '0' && *p <= '9')
		len = len * 10 + (size_t)(*p++ - '0');
	if (end - p < 2 || (size_t)(end - p - 2) < len + 2)
		return NULL;
	*s = p + 2;
	*n = len;
	return p + 2 + len + 2;
}

void tn_effect_srem_reply(const struct tn_key *k, const struct tn_buf *out,
			  size_t mark)
{
	const char *p = out->data + mark, *end = out->data + out->len, *s;
	size_t n;

	if (!tn_effects_on() || p >= end)
		return;
	/* an array or set header, then the members as bulk strings */
	if (*p == '*' || *p == '~') {
		p = memchr(p, '\n', (size_t)(end - p));
		if (!p)
			return;
		p++;
	}
	key_cmd("SREM", k);
	while ((p = next_bulk(p, end, &s, &n)))
		tn_effect_arg(s, n);
	if (E.cmd_argc > 2) {
		tn_effect_end();
	} else if (!E.lost) {
		/* nothing was popped after all: drop the command */
		E.len = E.cmd_start;
	}
}

static void reset(void)
{
	E.len = MULTI_LEN;
	E.ncmds = 0;
	E.lost = false;
	if (E.cap > EFFECT_KEEP_BYTES) {
		free(E.p);
		E.p = NULL;
		E.cap = 0;
	}
}

void tn_effect_flush(bool wrap)
{
	const char *rec;
	size_t len;
	uint64_t pos;

	if (tn_unlikely(E.lost)) {
		tn_warn("out of memory logging the effects of a command: %u "
			"commands are missing from the AOF; rewrite it "
			"(BGREWRITEAOF) once memory is back",
			E.ncmds + 1);
		reset();
		return;
	}
	if (!E.ncmds)
		return;
	rec = E.p + MULTI_LEN;
	len = E.len - MULTI_LEN;
	if (wrap && E.ncmds > 1 && room(EXEC_LEN)) {
		memcpy(E.p, MULTI_RESP, MULTI_LEN);
		memcpy(E.p + E.len, EXEC_RESP, EXEC_LEN);
		rec = E.p;
		len = E.len + EXEC_LEN;
	}
	pos = tn_elog_append(rec, len);
	if (pos)
		E.pos = pos;
	reset();
}

void tn_effect_enter(void)
{
	E.depth++;
}

void tn_effect_leave(void)
{
	if (--E.depth == 0)
		tn_effect_flush(true);
}

uint64_t tn_effect_take_pos(void)
{
	uint64_t pos = E.pos;

	E.pos = 0;
	return pos;
}

void tn_elog_publish_durable(uint64_t pos)
{
	struct elog_shm *l = tn_elog();
	uint64_t cur = atomic_load(&l->durable);

	while (cur < pos &&
	       !atomic_compare_exchange_weak(&l->durable, &cur, pos))
		;
	tn_elog_wake_waiters();
}

void tn_elog_wake_waiters(void)
{
	/* seq_cst with the waiters' set-bit-then-check of `durable` */
	uint32_t bits = atomic_exchange(&tn_elog()->shard_waiting, 0);
	int i;

	for (i = 0; bits && i <= tn_rt.nshards; i++)
		if (bits & (1u << (i & 31)))
			tn_shard_wake(i);
}
