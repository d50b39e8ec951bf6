/*
 * pubsub.c - SUBSCRIBE, PUBLISH and friends.  The shared tables say which
 * shards listen to what; PUBLISH appends one record to each other listening
 * shard's inbox (or, while it is full, to a local backlog), wakes it once at
 * the end of the client's batch, and writes to its own shard's subscribers
 * at once; a shard drains its inbox into its subscribers (tn_pubsub_drain).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "store/cmds.h"
#include "util/util.h"

/* Bigger messages go to the heap, referenced from each inbox record, so
 * a 512 MiB message costs one copy and not one per shard. */
#define TN_PUBSUB_INLINE_MAX_BYTES (64 * 1024)
#define TN_PUBSUB_DROP_WARN_MS 1000
/* What a shard keeps for another whose inbox is full, before dropping. */
#define TN_PUBSUB_BACKLOG_MAX_BYTES (64u << 20)
#define LMAP_MIN_BUCKETS 8

#define ERR_CONTEXT                                                          \
	"ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "  \
	"PING / QUIT / RESET are allowed in this context"

/* The three namespaces: channels, patterns and shard channels. */
enum ns { NS_CHANNEL, NS_PATTERN, NS_SHARD, NS_COUNT };

/* Inbox record kinds. */
enum { REC_MESSAGE = 1, REC_PMESSAGE, REC_SMESSAGE };

/* An inbox record's body: this, the pattern, the channel, the payload
 * (unless it lives in a blob). */
struct msg_rec {
	uint32_t chlen;
	uint32_t patlen;
	uint64_t paylen;
	tn_off blob; /* 0: the payload follows the names */
	uint64_t h; /* tn_hash of the pattern, or of the channel */
};

/* A payload too big to copy into every inbox; freed by its last reader. */
struct blob_shm {
	_Atomic uint32_t refs;
	uint32_t spare;
	uint64_t len;
	char data[];
};

/* ------------------------------------------------------------------ */
/* This process' subscribers                                            */
/* ------------------------------------------------------------------ */

/* A small chained hash map in process memory, keyed by bytes. */
struct lent {
	struct lent *next;
	uint64_t h;
	void *val;
	size_t len;
	char key[];
};

struct lmap {
	struct lent **b;
	size_t nb; /* a power of two, or 0 */
	size_t n;
};

/* A channel (pattern, shard channel) some of this shard's clients hear. */
struct lchan {
	struct lsub **subs;
	size_t n, cap;
	struct lent *ent; /* in local[ns]: the name */
};

/* One client's subscription to one lchan. */
struct lsub {
	struct lchan *ch;
	struct tn_client *c;
	size_t idx; /* in ch->subs */
};

struct tn_pubsub_client {
	struct lmap subs[NS_COUNT]; /* name -> struct lsub */
	size_t touched_idx; /* in touched[] while touched */
	bool touched;
};

static struct lmap local[NS_COUNT]; /* name -> struct lchan */
static uint64_t local_generation;
/* Clients written to since the shard last flushed them. */
static struct tn_client **touched;
static size_t ntouched, touched_cap;
/* Which shards were sent records since they were last woken (one byte a
 * shard); in a shard the wakes wait for the end of the client's batch. */
static uint8_t *sent_to;
static bool wakes_pending;

/* A record a full inbox refused, kept in order until it has room. */
struct backlog_rec {
	struct backlog_rec *next;
	uint32_t kind;
	uint32_t len;
	char body[];
};

/* What waits for one shard's inbox (in a shard process only). */
struct backlog {
	struct backlog_rec *head, *tail;
	size_t bytes;
	pid_t pid; /* the process it was meant for: a restarted one drops it */
};

static struct backlog *backlog; /* [nshards] */
static uint32_t backlogged; /* shards with records waiting */

static struct lent *lmap_find(const struct lmap *m, const char *k, size_t len,
			      uint64_t h)
{
	struct lent *e;

	if (!m->nb)
		return NULL;
	for (e = m->b[h & (m->nb - 1)]; e; e = e->next)
		if (e->h == h && e->len == len && !memcmp(e->key, k, len))
			return e;
	return NULL;
}

static int lmap_grow(struct lmap *m)
{
	size_t nb = m->nb ? m->nb * 2 : LMAP_MIN_BUCKETS, i;
	struct lent **b = calloc(nb, sizeof(*b)), *e, *next;

	if (!b)
		return -ENOMEM;
	for (i = 0; i < m->nb; i++) {
		for (e = m->b[i]; e; e = next) {
			next = e->next;
			e->next = b[e->h & (nb - 1)];
			b[e->h & (nb - 1)] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
	return 0;
}

/* Add a key that is not there; NULL on OOM. */
static struct lent *lmap_add(struct lmap *m, const char *k, size_t len,
			     uint64_t h, void *val)
{
	struct lent *e;

	if (m->n >= m->nb && lmap_grow(m) < 0 && !m->nb)
		return NULL;
	e = malloc(sizeof(*e) + len);
	if (!e)
		return NULL;
	e->h = h;
	e->val = val;
	e->len = len;
	memcpy(e->key, k, len);
	e->next = m->b[h & (m->nb - 1)];
	m->b[h & (m->nb - 1)] = e;
	m->n++;
	return e;
}

static void lmap_del(struct lmap *m, struct lent *e)
{
	struct lent **pp = &m->b[e->h & (m->nb - 1)];

	while (*pp != e)
		pp = &(*pp)->next;
	*pp = e->next;
	m->n--;
	free(e);
	if (!m->n) {
		free(m->b);
		m->b = NULL;
		m->nb = 0;
	}
}

/* Any entry (NULL when empty), for draining a map. */
static struct lent *lmap_any(const struct lmap *m)
{
	size_t i;

	for (i = 0; m->n && i < m->nb; i++)
		if (m->b[i])
			return m->b[i];
	return NULL;
}

static size_t client_count(const struct tn_client *c, enum ns ns)
{
	return c->ps ? c->ps->subs[ns].n : 0;
}

/* What (P)SUBSCRIBE replies count: channels and patterns together. */
static size_t count_for(const struct tn_client *c, enum ns ns)
{
	if (ns == NS_SHARD)
		return client_count(c, NS_SHARD);
	return client_count(c, NS_CHANNEL) + client_count(c, NS_PATTERN);
}

/* CLIENT LIST's sub= psub= ssub= for the other shards to read. */
static void note_counts(struct tn_client *c)
{
	struct client_shm *cs = tn_shard_slot(c);

	if (!cs)
		return;
	cs->nsub = (uint32_t)client_count(c, NS_CHANNEL);
	cs->npsub = (uint32_t)client_count(c, NS_PATTERN);
	cs->nssub = (uint32_t)client_count(c, NS_SHARD);
}

bool tn_pubsub_subscribed(const struct tn_client *c)
{
	return c->ps && (c->ps->subs[NS_CHANNEL].n || c->ps->subs[NS_PATTERN].n ||
			 c->ps->subs[NS_SHARD].n);
}

/* ------------------------------------------------------------------ */
/* The shared tables                                                    */
/* ------------------------------------------------------------------ */

static struct dict_shm *table_of(struct pubsub_shm *ps, enum ns ns)
{
	return ns == NS_CHANNEL ? &ps->channels
	       : ns == NS_PATTERN ? &ps->patterns
				  : &ps->shard_channels;
}

static struct slab_cache_shm *ps_cache(struct pubsub_shm *ps)
{
	return tn_heap_cache(ps->cache);
}

/* Add n subscribers on `shard` to a name's entry, creating it. */
static int chan_add(struct pubsub_shm *ps, enum ns ns, const char *name,
		    size_t len, uint64_t h, int shard, uint32_t n)
{
	struct dict_shm *d = table_of(ps, ns);
	struct chan_shm *e = tn_ptr(tn_dict_find(d, name, len, h));
	tn_off off;

	if (!e) {
		off = tn_alloc(ps_cache(ps),
			       sizeof(*e) + ((len + 3) & ~(size_t)3) +
				   sizeof(uint32_t) * ps->nshards);
		if (!off)
			return -ENOMEM;
		e = tn_ptr(off);
		e->next = 0;
		e->total = 0;
		e->spare = 0;
		e->len = (uint32_t)len;
		memcpy(e->name, name, len);
		memset(tn_chan_counts(e), 0, sizeof(uint32_t) * ps->nshards);
		if (tn_dict_add(d, ps_cache(ps), off, h) < 0) {
			tn_free(off);
			return -ENOMEM;
		}
	}
	tn_chan_counts(e)[shard] += n;
	e->total += n;
	return 0;
}

static void chan_unlink(struct pubsub_shm *ps, enum ns ns,
			struct chan_shm *e, uint64_t h)
{
	tn_dict_unlink(table_of(ps, ns), ps_cache(ps), e->name, e->len, h);
	tn_free(tn_off_of(e));
}

static void chan_sub(struct pubsub_shm *ps, enum ns ns, const char *name,
		     size_t len, uint64_t h, int shard)
{
	struct chan_shm *e =
		tn_ptr(tn_dict_find(table_of(ps, ns), name, len, h));
	uint32_t *cnt;

	if (!e)
		return;
	cnt = tn_chan_counts(e);
	if (cnt[shard]) {
		cnt[shard]--;
		e->total--;
	}
	if (!e->total)
		chan_unlink(ps, ns, e, h);
}

/* INFO's pubsub_channels: it sums the processes' slots, so the count of
 * distinct channels goes in one only, the last, spare one. */
static void note_channels(struct pubsub_shm *ps)
{
	tn_proc(tn_seg->nprocs - 1)->pubsub_channels =
		tn_dict_size(&ps->channels);
}

/* Put this shard's subscriptions back after the tables were rebuilt. */
static void resync(struct pubsub_shm *ps)
{
	struct lent *e;
	size_t i;
	int ns;

	local_generation = atomic_load(&ps->generation);
	for (ns = 0; ns < NS_COUNT; ns++) {
		for (i = 0; i < local[ns].nb; i++) {
			for (e = local[ns].b[i]; e; e = e->next) {
				struct lchan *ch = e->val;

				chan_add(ps, ns, e->key, e->len, e->h,
					 tn_rt.shard, (uint32_t)ch->n);
			}
		}
	}
	note_channels(ps);
}

/*
 * A process died holding the lock, maybe in the middle of changing a
 * table.  The tables are only a summary of what the shards know: start
 * them afresh (the old entries are abandoned, not walked) and have every
 * shard register its subscriptions again.
 */
static void rebuild(struct pubsub_shm *ps)
{
	uint32_t i;

	tn_warn("a process died holding the pub/sub lock; rebuilding the "
		"subscription tables from the shards");
	tn_dict_init(&ps->channels, TN_CHAN_KEY_AT);
	tn_dict_init(&ps->shard_channels, TN_CHAN_KEY_AT);
	tn_dict_init(&ps->patterns, TN_CHAN_KEY_AT);
	atomic_fetch_add(&ps->generation, 1);
	for (i = 0; i < ps->nshards; i++)
		if ((int)i != tn_rt.shard)
			tn_shard_wake((int)i);
}

static struct pubsub_shm *ps_lock(void)
{
	struct pubsub_shm *ps = tn_pubsub();

	if (tn_unlikely(tn_lock(&ps->lock) == -EOWNERDEAD))
		rebuild(ps);
	if (tn_rt.shard >= 0 &&
	    tn_unlikely(atomic_load(&ps->generation) != local_generation))
		resync(ps);
	return ps;
}

static void ps_unlock(struct pubsub_shm *ps)
{
	tn_unlock(&ps->lock);
}

/* ------------------------------------------------------------------ */
/* Subscribing (the caller holds the pub/sub lock)                      */
/* ------------------------------------------------------------------ */

static struct tn_pubsub_client *client_state(struct tn_client *c)
{
	if (!c->ps)
		c->ps = calloc(1, sizeof(*c->ps));
	return c->ps;
}

/* 1 subscribed, 0 already was, -ENOMEM. */
static int subscribe(struct pubsub_shm *ps, struct tn_client *c, enum ns ns,
		     const char *name, size_t len)
{
	uint64_t h = tn_hash(name, len);
	struct tn_pubsub_client *pc = client_state(c);
	struct lent *le, *ce;
	struct lchan *ch;
	struct lsub *sub;

	if (!pc)
		return -ENOMEM;
	if (lmap_find(&pc->subs[ns], name, len, h))
		return 0;
	sub = malloc(sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	le = lmap_find(&local[ns], name, len, h);
	if (!le) {
		ch = calloc(1, sizeof(*ch));
		le = ch ? lmap_add(&local[ns], name, len, h, ch) : NULL;
		if (!le) {
			free(ch);
			goto fail_sub;
		}
		ch->ent = le;
	}
	ch = le->val;
	if (ch->n == ch->cap) {
		size_t cap = ch->cap ? ch->cap * 2 : 4;
		struct lsub **n = realloc(ch->subs, cap * sizeof(*n));

		if (!n)
			goto fail_ch;
		ch->subs = n;
		ch->cap = cap;
	}
	ce = lmap_add(&pc->subs[ns], name, len, h, sub);
	if (!ce)
		goto fail_ch;
	if (chan_add(ps, ns, name, len, h, tn_rt.shard, 1) < 0) {
		lmap_del(&pc->subs[ns], ce);
		goto fail_ch;
	}
	sub->ch = ch;
	sub->c = c;
	sub->idx = ch->n;
	ch->subs[ch->n++] = sub;
	if (ns == NS_CHANNEL)
		note_channels(ps);
	note_counts(c);
	return 1;

fail_ch:
	if (!ch->n) {
		lmap_del(&local[ns], ch->ent);
		free(ch->subs);
		free(ch);
	}
fail_sub:
	free(sub);
	return -ENOMEM;
}

static void drop_sub(struct pubsub_shm *ps, struct tn_client *c, enum ns ns,
		     struct lent *ce)
{
	struct lsub *sub = ce->val, *last;
	struct lchan *ch = sub->ch;

	chan_sub(ps, ns, ce->key, ce->len, ce->h, tn_rt.shard);
	last = ch->subs[--ch->n];
	ch->subs[sub->idx] = last;
	last->idx = sub->idx;
	if (!ch->n) {
		lmap_del(&local[ns], ch->ent);
		free(ch->subs);
		free(ch);
	}
	free(sub);
	lmap_del(&c->ps->subs[ns], ce);
	if (ns == NS_CHANNEL)
		note_channels(ps);
	note_counts(c);
}

/* 1 if it was subscribed. */
static int unsubscribe(struct pubsub_shm *ps, struct tn_client *c, enum ns ns,
		       const char *name, size_t len)
{
	struct lent *ce;

	if (!c->ps)
		return 0;
	ce = lmap_find(&c->ps->subs[ns], name, len, tn_hash(name, len));
	if (!ce)
		return 0;
	drop_sub(ps, c, ns, ce);
	return 1;
}

static const char *const sub_word[NS_COUNT] = {"subscribe", "psubscribe",
					       "ssubscribe"};
static const char *const unsub_word[NS_COUNT] = {
	"unsubscribe", "punsubscribe", "sunsubscribe"};

static void reply_sub(struct tn_reply *r, const char *what, const char *name,
		      size_t len, size_t count)
{
	tn_reply_push(r, 3);
	tn_reply_bulkstr(r, what);
	if (name)
		tn_reply_bulk(r, name, len);
	else
		tn_reply_null(r);
	tn_reply_int(r, (long long)count);
}

/* Every subscription of one namespace, with a reply each if `r`. */
static void unsubscribe_all(struct pubsub_shm *ps, struct tn_client *c,
			    enum ns ns, struct tn_reply *r)
{
	struct lent *ce;

	if (r && !client_count(c, ns)) {
		reply_sub(r, unsub_word[ns], NULL, 0, count_for(c, ns));
		return;
	}
	while (c->ps && (ce = lmap_any(&c->ps->subs[ns]))) {
		if (r) {
			/* the name goes with the entry: reply first */
			size_t after = count_for(c, ns) - 1;

			reply_sub(r, unsub_word[ns], ce->key, ce->len, after);
		}
		drop_sub(ps, c, ns, ce);
	}
}

void tn_pubsub_reset(struct tn_client *c)
{
	struct pubsub_shm *ps;
	int ns;

	if (!tn_pubsub_subscribed(c))
		return;
	ps = ps_lock();
	for (ns = 0; ns < NS_COUNT; ns++)
		unsubscribe_all(ps, c, ns, NULL);
	ps_unlock(ps);
}

static void untouch(struct tn_client *c)
{
	if (c->ps && c->ps->touched) {
		touched[c->ps->touched_idx] = NULL;
		c->ps->touched = false;
	}
}

void tn_pubsub_release(struct tn_client *c)
{
	int ns;

	if (!c->ps)
		return;
	tn_pubsub_reset(c);
	untouch(c);
	for (ns = 0; ns < NS_COUNT; ns++)
		free(c->ps->subs[ns].b);
	free(c->ps);
	c->ps = NULL;
}

/* ------------------------------------------------------------------ */
/* Publishing                                                           */
/* ------------------------------------------------------------------ */

struct publish {
	struct pubsub_shm *ps;
	int kind;
	const char *ch;
	size_t chlen;
	uint64_t h; /* the channel's */
	const char *msg;
	size_t msglen;
	struct blob_shm *blob; /* once one was needed */
	bool blob_failed;
	bool local; /* this shard listens too: write to it after the lock */
	long long receivers;
};

static void note_drop(struct pubsub_shm *ps, int shard)
{
	int64_t now = tn_mstime();
	int64_t last = atomic_load(&ps->drop_warned_ms);
	uint64_t n = atomic_fetch_add(&ps->dropped, 1) + 1;

	if (now - last >= TN_PUBSUB_DROP_WARN_MS &&
	    atomic_compare_exchange_strong(&ps->drop_warned_ms, &last, now))
		tn_warn("pub/sub: shard %d's inbox is full, a message was "
			"dropped (%llu so far); that shard is not keeping up "
			"with its subscribers",
			shard, (unsigned long long)n);
}

/* The payload in the heap, once for every inbox; NULL on OOM. */
static struct blob_shm *blob_get(struct publish *p)
{
	tn_off off;

	if (p->blob || p->blob_failed)
		return p->blob;
	off = tn_alloc(ps_cache(p->ps), sizeof(*p->blob) + p->msglen);
	if (!off) {
		p->blob_failed = true;
		return NULL;
	}
	p->blob = tn_ptr(off);
	atomic_store(&p->blob->refs, 0);
	p->blob->spare = 0;
	p->blob->len = p->msglen;
	memcpy(p->blob->data, p->msg, p->msglen);
	return p->blob;
}

static int backlog_add(int shard, uint32_t kind, const struct iovec *iov,
		       int n)
{
	struct backlog *bl = &backlog[shard];
	struct backlog_rec *rec;
	size_t len = 0;
	char *q;
	int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	if (bl->bytes + len > TN_PUBSUB_BACKLOG_MAX_BYTES)
		return -ENOSPC;
	rec = malloc(sizeof(*rec) + len);
	if (!rec)
		return -ENOMEM;
	rec->next = NULL;
	rec->kind = kind;
	rec->len = (uint32_t)len;
	for (i = 0, q = rec->body; i < n; i++) {
		memcpy(q, iov[i].iov_base, iov[i].iov_len);
		q += iov[i].iov_len;
	}
	if (bl->tail) {
		bl->tail->next = rec;
	} else {
		bl->head = rec;
		bl->pid = tn_proc(TN_PROC_SHARD0 + shard)->pid;
		backlogged++;
	}
	bl->tail = rec;
	bl->bytes += len;
	return 0;
}

/* Push, or ask the consumer for a wake once it has made room. */
static int ring_push_or_ask(struct ring_shm *r, uint32_t kind,
			    const struct iovec *iov, int n)
{
	int rc = tn_ring_push(r, kind, iov, n);

	if (rc != -ENOSPC)
		return rc;
	tn_ring_want_space(r, (unsigned)tn_rt.shard);
	/* it may have drained before it could see our bit */
	return tn_ring_push(r, kind, iov, n);
}

/*
 * Into a shard's inbox (the caller holds the pub/sub lock).  A shard
 * keeps what a full inbox refuses, behind which later records queue, and
 * pushes it when the consumer has made room: a burst that outruns another
 * shard for a moment is delayed, not lost.  Other processes drop.
 */
static int inbox_push(int shard, uint32_t kind, const struct iovec *iov,
		      int n)
{
	struct ring_shm *r = tn_inbox((uint32_t)shard);
	int rc;

	if (tn_rt.shard < 0 || !backlog)
		return tn_ring_push(r, kind, iov, n);
	if (tn_likely(!backlog[shard].head)) {
		rc = ring_push_or_ask(r, kind, iov, n);
		if (rc != -ENOSPC)
			return rc;
	}
	return backlog_add(shard, kind, iov, n);
}

static tn_off rec_blob(const void *body, size_t len);

/* Drop one shard's backlog, with its references to blobs (locked). */
static void backlog_discard(struct backlog *bl)
{
	struct backlog_rec *rec, *next;

	for (rec = bl->head; rec; rec = next) {
		tn_off blob = rec_blob(rec->body, rec->len);

		next = rec->next;
		if (blob) {
			struct blob_shm *b = tn_ptr(blob);

			if (atomic_fetch_sub(&b->refs, 1) == 1)
				tn_free(blob);
		}
		free(rec);
	}
	bl->head = bl->tail = NULL;
	bl->bytes = 0;
	backlogged--;
}

/* Move what the backlogs hold into inboxes that have room (locked). */
static void backlog_flush(struct pubsub_shm *ps)
{
	uint32_t s;

	for (s = 0; backlogged && s < ps->nshards; s++) {
		struct backlog *bl = &backlog[s];
		struct ring_shm *r = tn_inbox(s);
		struct backlog_rec *rec;

		if (!bl->head)
			continue;
		/* its subscribers died with it; a dead one's inbox is
		 * emptied by the supervisor, then a new one is forked */
		if (tn_proc(TN_PROC_SHARD0 + (int)s)->pid != bl->pid) {
			backlog_discard(bl);
			continue;
		}
		if (!tn_proc(TN_PROC_SHARD0 + (int)s)->alive)
			continue;
		while ((rec = bl->head)) {
			struct iovec iov = {rec->body, rec->len};

			if (ring_push_or_ask(r, rec->kind, &iov, 1) < 0)
				break;
			bl->head = rec->next;
			bl->bytes -= rec->len;
			free(rec);
			sent_to[s] = 1;
			wakes_pending = true;
		}
		if (!bl->head) {
			bl->tail = NULL;
			backlogged--;
		}
	}
}

static void push_one(struct publish *p, int shard, int kind,
		     const struct chan_shm *pat, uint64_t pat_h)
{
	struct msg_rec m = {.chlen = (uint32_t)p->chlen,
			    .patlen = pat ? pat->len : 0,
			    .paylen = p->msglen,
			    .h = pat ? pat_h : p->h};
	struct iovec iov[4];
	struct blob_shm *b = NULL;
	int n = 0, rc;

	if (sizeof(m) + m.patlen + p->chlen + p->msglen >
	    TN_PUBSUB_INLINE_MAX_BYTES) {
		b = blob_get(p);
		if (!b) {
			note_drop(p->ps, shard);
			return;
		}
		m.blob = tn_off_of(b);
	}
	iov[n++] = (struct iovec){&m, sizeof(m)};
	if (pat)
		iov[n++] = (struct iovec){(void *)pat->name, pat->len};
	iov[n++] = (struct iovec){(void *)p->ch, p->chlen};
	if (!b)
		iov[n++] = (struct iovec){(void *)p->msg, p->msglen};
	rc = inbox_push(shard, (uint32_t)kind, iov, n);
	if (rc < 0) {
		note_drop(p->ps, shard);
		return;
	}
	if (b)
		atomic_fetch_add(&b->refs, 1);
	sent_to[shard] = 1;
	wakes_pending = true;
}

static void push_to_listeners(struct publish *p, const struct chan_shm *e,
			      int kind, const struct chan_shm *pat)
{
	const uint32_t *cnt = tn_chan_counts((struct chan_shm *)e);
	/* the receivers look the name up by it: hashed once here */
	uint64_t pat_h = pat ? tn_hash(pat->name, pat->len) : 0;
	uint32_t s;

	p->receivers += (long long)e->total;
	for (s = 0; s < p->ps->nshards; s++) {
		if (!cnt[s])
			continue;
		/* our own subscribers need no inbox: see publish() */
		if ((int)s == tn_rt.shard)
			p->local = true;
		else
			push_one(p, (int)s, kind, pat, pat_h);
	}
}

static void match_pattern(void *arg, tn_off off)
{
	struct publish *p = arg;
	struct chan_shm *pat = tn_ptr(off);

	if (tn_glob_match(pat->name, pat->len, p->ch, p->chlen, false))
		push_to_listeners(p, pat, REC_PMESSAGE, pat);
}

/* Wake every shard that got a record (one wake until it drains). */
static void wake_listeners(uint32_t nshards)
{
	uint32_t s;

	wakes_pending = false;
	for (s = 0; s < nshards; s++) {
		if (!sent_to[s])
			continue;
		sent_to[s] = 0;
		if (tn_ring_wake_claim(tn_inbox(s)))
			tn_shard_wake((int)s);
	}
}

static void deliver_local(enum ns ns, const char *ch, size_t chlen,
			  uint64_t h, const char *msg, size_t msglen);
static void drain_inbox(bool may_compact);

static long long publish(enum ns ns, const char *ch, size_t chlen,
			 const char *msg, size_t msglen)
{
	struct publish p = {.ch = ch, .chlen = chlen,
			    .h = tn_hash(ch, chlen), .msg = msg,
			    .msglen = msglen};
	struct chan_shm *e;
	uint32_t nshards;

	if (tn_unlikely(!sent_to)) {
		uint32_t n = TN_MAX(tn_pubsub()->nshards, 1);

		sent_to = calloc(n, 1);
		if (!sent_to)
			return 0;
		/* without one a full inbox drops, as in other processes */
		if (tn_rt.shard >= 0)
			backlog = calloc(n, sizeof(*backlog));
	}
	p.ps = ps_lock();
	nshards = p.ps->nshards;
	if (tn_unlikely(backlogged))
		backlog_flush(p.ps);
	e = tn_ptr(tn_dict_find(table_of(p.ps, ns), ch, chlen, p.h));
	if (e)
		push_to_listeners(&p, e,
				  ns == NS_SHARD ? REC_SMESSAGE : REC_MESSAGE,
				  NULL);
	if (ns == NS_CHANNEL && tn_dict_size(&p.ps->patterns))
		tn_dict_foreach(&p.ps->patterns, match_pattern, &p);
	if (p.blob && !atomic_load(&p.blob->refs))
		tn_free(tn_off_of(p.blob));
	ps_unlock(p.ps);
	/*
	 * A shard wakes the others once at the end of the client's batch
	 * (tn_pubsub_drain), before it writes to its own subscribers, so
	 * they work while it writes: one wake for many messages.  Ours are
	 * written now, as Redis does, not through our own inbox: no second
	 * pass over the message, and a RESP3 client publishing to itself
	 * gets the push before the reply, in Redis' order.
	 */
	if (tn_rt.shard < 0)
		wake_listeners(nshards);
	if (p.local) {
		/* what was published before us (its PUBLISH returned) goes
		 * first: our inbox may still hold it */
		if (tn_ring_used(tn_inbox((uint32_t)tn_rt.shard)))
			drain_inbox(false);
		deliver_local(ns, ch, chlen, p.h, msg, msglen);
	}
	return p.receivers;
}

long long tn_publish(const char *ch, size_t chlen, const char *msg,
		     size_t msglen)
{
	return publish(NS_CHANNEL, ch, chlen, msg, msglen);
}

/* ------------------------------------------------------------------ */
/* Delivering: the shard drains its inbox                               */
/* ------------------------------------------------------------------ */

static void touch(struct tn_client *c)
{
	struct tn_pubsub_client *pc = c->ps;

	if (pc->touched)
		return;
	if (ntouched == touched_cap) {
		size_t cap = touched_cap ? touched_cap * 2 : 64;
		struct tn_client **n = realloc(touched, cap * sizeof(*n));

		if (!n) {
			/* it is written when it next sends a command */
			return;
		}
		touched = n;
		touched_cap = cap;
	}
	pc->touched = true;
	pc->touched_idx = ntouched;
	touched[ntouched++] = c;
}

static const char *class_name(int cls)
{
	return cls == TN_OBUF_PUBSUB ? "pubsub" : "normal";
}

bool tn_client_obuf_limit_reached(struct tn_client *c, int64_t now_ms)
{
	int cls = tn_pubsub_subscribed(c) ? TN_OBUF_PUBSUB : TN_OBUF_NORMAL;
	const struct tn_obuf_limit *l = &tn_conf->obuf_limit[cls];
	long long used = (long long)tn_buf_pending(&c->out);
	bool over = false;

	if (tn_likely(!l->hard_bytes && !l->soft_bytes))
		return false;
	if (l->hard_bytes && used >= l->hard_bytes)
		over = true;
	if (l->soft_bytes && used >= l->soft_bytes) {
		if (!c->obuf_soft_since_ms)
			c->obuf_soft_since_ms = now_ms;
		else if (now_ms - c->obuf_soft_since_ms > l->soft_s * 1000)
			over = true;
	} else {
		c->obuf_soft_since_ms = 0;
	}
	if (over && !(c->flags & TN_CLIENT_CLOSE_ASAP)) {
		tn_warn("client %s (id %llu) closed for overcoming of the %s "
			"output buffer limit (%lld bytes pending)",
			c->addr, (unsigned long long)c->id, class_name(cls),
			used);
		c->flags |= TN_CLIENT_CLOSE_ASAP;
	}
	return over;
}

/* A message frame up to its names, in RESP2 ('>' replaces '*' for RESP3). */
static const char *const msg_head[] = {
	[REC_MESSAGE] = "*3\r\n$7\r\nmessage\r\n",
	[REC_PMESSAGE] = "*4\r\n$8\r\npmessage\r\n",
	[REC_SMESSAGE] = "*3\r\n$8\r\nsmessage\r\n",
};

/* One message's frame, encoded once for all of a channel's clients. */
static struct tn_buf frame;

/*
 * Write one message to every client of this shard on `lc`.  The frame is
 * the same bytes for every client but its first one ('*' for RESP2, '>'
 * for a RESP3 push), so it is built once and copied.  A big payload is
 * not copied into the frame: it goes from the record to each client.
 */
static void fan_out(const struct lchan *lc, uint32_t kind, const char *pat,
		    size_t patlen, const char *ch, size_t chlen,
		    const char *pay, size_t paylen, int64_t now_ms,
		    bool may_compact)
{
	const struct tn_obuf_limit *l = &tn_conf->obuf_limit[TN_OBUF_PUBSUB];
	struct tn_reply fr = {.out = &frame, .resp = 2};
	bool whole = paylen <= TN_PUBSUB_INLINE_MAX_BYTES;
	size_t i, check_at = SIZE_MAX, total;

	/* below both limits, and not timing the soft one: nothing to do */
	if (l->hard_bytes > 0)
		check_at = (size_t)l->hard_bytes;
	if (l->soft_bytes > 0)
		check_at = TN_MIN(check_at, (size_t)l->soft_bytes);
	frame.off = frame.len = 0;
	tn_reply_raw(&fr, msg_head[kind], strlen(msg_head[kind]));
	if (pat)
		tn_reply_bulk(&fr, pat, patlen);
	tn_reply_bulk(&fr, ch, chlen);
	if (whole) {
		tn_reply_bulk(&fr, pay, paylen);
		total = frame.len;
	} else {
		size_t at = frame.len;

		/* the payload's "$<len>\r\n": an array header, retyped */
		tn_reply_array(&fr, (long long)paylen);
		if (!fr.oom)
			frame.data[at] = '$';
		total = frame.len + paylen + 2;
	}
	for (i = 0; i < lc->n; i++) {
		struct tn_client *c = lc->subs[i]->c;
		struct tn_buf *o = &c->out;
		char *w;

		if (c->flags & (TN_CLIENT_CLOSE_ASAP |
				TN_CLIENT_CLOSE_AFTER_REPLY))
			continue;
		/* not under a running command: its deferred replies hold
		 * positions in this buffer */
		if (may_compact && o->off)
			tn_buf_compact(o);
		if (fr.oom || tn_buf_reserve(o, total) < 0) {
			c->flags |= TN_CLIENT_CLOSE_ASAP;
			touch(c);
			continue;
		}
		w = o->data + o->len;
		memcpy(w, frame.data, frame.len);
		if (c->resp == 3)
			w[0] = '>';
		if (!whole) {
			memcpy(w + frame.len, pay, paylen);
			memcpy(w + frame.len + paylen, "\r\n", 2);
		}
		o->len += total;
		/* all of them are subscribers: the pubsub class */
		if (tn_buf_pending(o) >= check_at || c->obuf_soft_since_ms)
			tn_client_obuf_limit_reached(c, now_ms);
		touch(c);
	}
}

static void deliver(uint32_t kind, const char *body, size_t len,
		    int64_t now_ms, bool may_compact)
{
	struct msg_rec m;
	const char *pat, *ch, *pay;
	enum ns ns;
	struct lent *le;

	if (len < sizeof(m) || kind < REC_MESSAGE || kind > REC_SMESSAGE)
		return;
	memcpy(&m, body, sizeof(m));
	pat = body + sizeof(m);
	ch = pat + m.patlen;
	pay = m.blob ? ((struct blob_shm *)tn_ptr(m.blob))->data
		     : ch + m.chlen;
	ns = kind == REC_MESSAGE ? NS_CHANNEL
	     : kind == REC_PMESSAGE ? NS_PATTERN
				    : NS_SHARD;
	if (ns == NS_PATTERN)
		le = lmap_find(&local[ns], pat, m.patlen, m.h);
	else
		le = lmap_find(&local[ns], ch, m.chlen, m.h);
	if (!le)
		return; /* they left since it was published */
	fan_out(le->val, kind, ns == NS_PATTERN ? pat : NULL, m.patlen, ch,
		m.chlen, pay, m.paylen, now_ms, may_compact);
}

/*
 * A message published from this shard, to this shard's subscribers: the
 * channel's, then every matching pattern's, as Redis orders them.  Only
 * this process changes `local`, so no lock is needed.
 */
static void deliver_local(enum ns ns, const char *ch, size_t chlen,
			  uint64_t h, const char *msg, size_t msglen)
{
	int64_t now = tn_mstime();
	struct lent *le;
	size_t i;

	le = lmap_find(&local[ns], ch, chlen, h);
	if (le)
		fan_out(le->val, ns == NS_SHARD ? REC_SMESSAGE : REC_MESSAGE,
			NULL, 0, ch, chlen, msg, msglen, now, false);
	if (ns != NS_CHANNEL)
		return;
	for (i = 0; local[NS_PATTERN].n && i < local[NS_PATTERN].nb; i++) {
		for (le = local[NS_PATTERN].b[i]; le; le = le->next) {
			if (tn_glob_match(le->key, le->len, ch, chlen, false))
				fan_out(le->val, REC_PMESSAGE, le->key,
					le->len, ch, chlen, msg, msglen, now,
					false);
		}
	}
}

static void blob_put(tn_off off)
{
	struct blob_shm *b = tn_ptr(off);
	struct pubsub_shm *ps;

	if (atomic_fetch_sub(&b->refs, 1) != 1)
		return;
	ps = ps_lock();
	tn_free(off);
	ps_unlock(ps);
}

/* The record's blob, if any. */
static tn_off rec_blob(const void *body, size_t len)
{
	struct msg_rec m;

	if (len < sizeof(m))
		return 0;
	memcpy(&m, body, sizeof(m));
	return m.blob;
}

/*
 * Written-to clients to flush, or records in our inbox: the shard asks
 * after every client's commands, so a busy shard delivers what other
 * shards published without waiting for its wake-up to come round.
 */
bool tn_pubsub_pending(void)
{
	if (ntouched || wakes_pending || backlogged)
		return true;
	if (tn_rt.shard < 0 || !tn_seg || !tn_seg->pubsub_off)
		return false;
	return tn_ring_used(tn_inbox((uint32_t)tn_rt.shard)) != 0;
}

/* The shards whose bit (shard & 31) asked for room in our inbox. */
static void wake_space_wanted(uint32_t bits, uint32_t nshards)
{
	while (bits) {
		uint32_t s = (uint32_t)__builtin_ctz(bits);

		bits &= bits - 1;
		for (; s < nshards; s += 32)
			if ((int)s != tn_rt.shard)
				tn_shard_wake((int)s);
	}
}

void tn_pubsub_drain(void)
{
	struct pubsub_shm *ps;

	if (tn_rt.shard < 0 || !tn_seg || !tn_seg->pubsub_off)
		return;
	ps = tn_pubsub();
	if (backlogged) {
		ps_lock();
		backlog_flush(ps);
		ps_unlock(ps);
	}
	if (wakes_pending)
		wake_listeners(ps->nshards);
	drain_inbox(true);
}

static void drain_inbox(bool may_compact)
{
	struct pubsub_shm *ps;
	struct ring_shm *r;
	const void *body;
	uint32_t kind;
	size_t len;
	int64_t now;
	tn_off blob;

	if (tn_rt.shard < 0 || !tn_seg || !tn_seg->pubsub_off)
		return;
	ps = tn_pubsub();
	if (tn_unlikely(atomic_load(&ps->generation) != local_generation))
		ps_unlock(ps_lock());
	r = tn_inbox((uint32_t)tn_rt.shard);
	tn_ring_wake_reset(r);
	if (!tn_ring_used(r))
		return;
	now = tn_mstime();
	while ((body = tn_ring_peek(r, &kind, &len))) {
		deliver(kind, body, len, now, may_compact);
		blob = rec_blob(body, len);
		tn_ring_pop(r);
		if (blob)
			blob_put(blob);
	}
	wake_space_wanted(tn_ring_space_claim(r), ps->nshards);
}

void tn_pubsub_flush(tn_pubsub_flush_fn *fn)
{
	size_t i;

	/* fn may close clients: release() clears their slots here */
	for (i = 0; i < ntouched; i++) {
		struct tn_client *c = touched[i];

		if (!c)
			continue;
		touched[i] = NULL;
		c->ps->touched = false;
		fn(c);
	}
	ntouched = 0;
}

/* A dead shard's subscribers are gone: take them out of the counts and
 * empty its inbox (dropping its references to blobs). */
struct forget {
	int shard;
	tn_off *dead;
	size_t n, cap;
	bool oom;
};

static void forget_entry(void *arg, tn_off off)
{
	struct forget *f = arg;
	struct chan_shm *e = tn_ptr(off);
	uint32_t *cnt = tn_chan_counts(e);

	if (!cnt[f->shard])
		return;
	e->total -= cnt[f->shard];
	cnt[f->shard] = 0;
	if (e->total)
		return;
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		tn_off *n = realloc(f->dead, cap * sizeof(*n));

		if (!n) {
			/* an entry with no subscribers is harmless */
			f->oom = true;
			return;
		}
		f->dead = n;
		f->cap = cap;
	}
	f->dead[f->n++] = off;
}

void tn_pubsub_forget_shard(int shard)
{
	struct pubsub_shm *ps;
	struct forget f = {.shard = shard};
	struct ring_shm *r;
	const void *body;
	uint32_t kind;
	size_t len, i;
	tn_off blob;
	int ns;

	if (!tn_seg || !tn_seg->pubsub_off || shard < 0 ||
	    (uint32_t)shard >= tn_pubsub()->nshards)
		return;
	ps = ps_lock();
	for (ns = 0; ns < NS_COUNT; ns++) {
		struct dict_shm *d = table_of(ps, ns);

		f.n = 0;
		tn_dict_foreach(d, forget_entry, &f);
		for (i = 0; i < f.n; i++) {
			struct chan_shm *e = tn_ptr(f.dead[i]);

			chan_unlink(ps, ns, e, tn_hash(e->name, e->len));
		}
	}
	note_channels(ps);
	r = tn_inbox((uint32_t)shard);
	while ((body = tn_ring_peek(r, &kind, &len))) {
		blob = rec_blob(body, len);
		tn_ring_pop(r);
		if (blob) {
			struct blob_shm *b = tn_ptr(blob);

			if (atomic_fetch_sub(&b->refs, 1) == 1)
				tn_free(blob);
		}
	}
	tn_ring_wake_reset(r);
	ps_unlock(ps);
	free(f.dead);
}

/* ------------------------------------------------------------------ */
/* The RESP2 subscribed context                                         */
/* ------------------------------------------------------------------ */

static void cmd_subscribe(struct tn_ctx *x);
static void cmd_unsubscribe(struct tn_ctx *x);
static void cmd_psubscribe(struct tn_ctx *x);
static void cmd_punsubscribe(struct tn_ctx *x);
static void cmd_ssubscribe(struct tn_ctx *x);
static void cmd_sunsubscribe(struct tn_ctx *x);

bool tn_pubsub_context_denied(struct tn_client *c, const struct tn_cmd *cmd)
{
	tn_cmd_fn *fn = cmd->fn;
	char msg[256];

	if (tn_likely(!c->ps) || c->resp != 2 || !tn_pubsub_subscribed(c))
		return false;
	if (fn == cmd_subscribe || fn == cmd_unsubscribe ||
	    fn == cmd_psubscribe || fn == cmd_punsubscribe ||
	    fn == cmd_ssubscribe || fn == cmd_sunsubscribe ||
	    !strcmp(cmd->name, "ping") || !strcmp(cmd->name, "quit") ||
	    !strcmp(cmd->name, "reset"))
		return false;
	snprintf(msg, sizeof(msg), ERR_CONTEXT, tn_cmd_fullname(cmd));
	tn_dispatch_reject(c, cmd, msg);
	return true;
}

/* ------------------------------------------------------------------ */
/* Commands                                                             */
/* ------------------------------------------------------------------ */

static void subscribe_generic(struct tn_ctx *x, enum ns ns)
{
	struct pubsub_shm *ps = ps_lock();
	int i;

	for (i = 1; i < x->argc; i++) {
		const struct tn_arg *a = &x->argv[i];

		if (subscribe(ps, x->c, ns, a->p, a->len) < 0) {
			tn_reply_error(x->r, TN_ERR_OOM);
			break;
		}
		reply_sub(x->r, sub_word[ns], a->p, a->len,
			  count_for(x->c, ns));
	}
	ps_unlock(ps);
}

static void unsubscribe_generic(struct tn_ctx *x, enum ns ns)
{
	struct pubsub_shm *ps = ps_lock();
	int i;

	if (x->argc == 1) {
		unsubscribe_all(ps, x->c, ns, x->r);
	} else {
		for (i = 1; i < x->argc; i++) {
			const struct tn_arg *a = &x->argv[i];

			unsubscribe(ps, x->c, ns, a->p, a->len);
			reply_sub(x->r, unsub_word[ns], a->p, a->len,
				  count_for(x->c, ns));
		}
	}
	ps_unlock(ps);
}

static void cmd_subscribe(struct tn_ctx *x)
{
	subscribe_generic(x, NS_CHANNEL);
}

static void cmd_unsubscribe(struct tn_ctx *x)
{
	unsubscribe_generic(x, NS_CHANNEL);
}

static void cmd_psubscribe(struct tn_ctx *x)
{
	subscribe_generic(x, NS_PATTERN);
}

static void cmd_punsubscribe(struct tn_ctx *x)
{
	unsubscribe_generic(x, NS_PATTERN);
}

static void cmd_ssubscribe(struct tn_ctx *x)
{
	subscribe_generic(x, NS_SHARD);
}

static void cmd_sunsubscribe(struct tn_ctx *x)
{
	unsubscribe_generic(x, NS_SHARD);
}

static void cmd_publish(struct tn_ctx *x)
{
	tn_reply_int(x->r, publish(NS_CHANNEL, x->argv[1].p, x->argv[1].len,
				   x->argv[2].p, x->argv[2].len));
}

static void cmd_spublish(struct tn_ctx *x)
{
	tn_reply_int(x->r, publish(NS_SHARD, x->argv[1].p, x->argv[1].len,
				   x->argv[2].p, x->argv[2].len));
}

struct list_ctx {
	struct tn_reply *r;
	const struct tn_arg *pat; /* NULL: all */
	long long n;
};

static void list_one(void *arg, tn_off off)
{
	struct list_ctx *l = arg;
	struct chan_shm *e = tn_ptr(off);

	if (l->pat &&
	    !tn_glob_match(l->pat->p, l->pat->len, e->name, e->len, false))
		return;
	tn_reply_bulk(l->r, e->name, e->len);
	l->n++;
}

static void channels_generic(struct tn_ctx *x, enum ns ns)
{
	struct list_ctx l = {.r = x->r,
			     .pat = x->argc == 3 ? &x->argv[2] : NULL};
	struct pubsub_shm *ps;
	size_t mark;

	if (x->argc > 3) {
		tn_reply_errorf(x->r,
				"ERR unknown subcommand or wrong number of "
				"arguments for '%.*s'. Try PUBSUB HELP.",
				(int)TN_MIN(x->argv[1].len, 128), x->argv[1].p);
		return;
	}
	mark = tn_reply_defer(x->r);
	ps = ps_lock();
	tn_dict_foreach(table_of(ps, ns), list_one, &l);
	ps_unlock(ps);
	tn_reply_defer_set(x->r, mark, '*', l.n);
}

static void numsub_generic(struct tn_ctx *x, enum ns ns)
{
	struct pubsub_shm *ps;
	int i;

	tn_reply_array(x->r, (long long)(x->argc - 2) * 2);
	ps = ps_lock();
	for (i = 2; i < x->argc; i++) {
		const struct tn_arg *a = &x->argv[i];
		struct chan_shm *e = tn_ptr(tn_dict_find(
			table_of(ps, ns), a->p, a->len, tn_hash(a->p, a->len)));

		tn_reply_bulk(x->r, a->p, a->len);
		tn_reply_int(x->r, e ? (long long)e->total : 0);
	}
	ps_unlock(ps);
}

static void cmd_pubsub_channels(struct tn_ctx *x)
{
	channels_generic(x, NS_CHANNEL);
}

static void cmd_pubsub_shardchannels(struct tn_ctx *x)
{
	channels_generic(x, NS_SHARD);
}

static void cmd_pubsub_numsub(struct tn_ctx *x)
{
	numsub_generic(x, NS_CHANNEL);
}

static void cmd_pubsub_shardnumsub(struct tn_ctx *x)
{
	numsub_generic(x, NS_SHARD);
}

static void cmd_pubsub_numpat(struct tn_ctx *x)
{
	struct pubsub_shm *ps = ps_lock();
	uint64_t n = tn_dict_size(&ps->patterns);

	ps_unlock(ps);
	tn_reply_int(x->r, (long long)n);
}

static void cmd_pubsub_help(struct tn_ctx *x)
{
	static const char *const help[] = {
		"CHANNELS [<pattern>]",
		"    Return the currently active channels matching a <pattern> "
		"(default: '*').",
		"NUMPAT",
		"    Return number of subscriptions to patterns.",
		"NUMSUB [<channel> ...]",
		"    Return the number of subscribers for the specified "
		"channels, excluding",
		"    pattern subscriptions(default: no channels).",
		"SHARDCHANNELS [<pattern>]",
		"    Return the currently active shard level channels matching "
		"a <pattern> (default: '*').",
		"SHARDNUMSUB [<shardchannel> ...]",
		"    Return the number of subscribers for the specified shard "
		"level channel(s)",
		NULL,
	};

	tn_reply_help(x, help);
}

/* Reached only through the subcommand table; dispatch answers the rest. */
static void cmd_pubsub(struct tn_ctx *x)
{
	tn_reply_errorf(x->r, "ERR unknown subcommand '%.*s'. Try PUBSUB HELP.",
			(int)TN_MIN(x->argv[1].len, 128), x->argv[1].p);
}

/* ------------------------------------------------------------------ */
/* Table                                                                */
/* ------------------------------------------------------------------ */

#define LS (TN_CMD_LOADING | TN_CMD_STALE)
#define SUB_FLAGS (TN_CMD_PUBSUB | TN_CMD_NOSCRIPT | LS)
#define PUB_FLAGS (TN_CMD_PUBSUB | LS | TN_CMD_FAST)
#define PS_FLAGS (TN_CMD_PUBSUB | LS)

/*
 * Shard channels are "keys" to Redis Cluster (SSUBSCRIBE's key specs);
 * here they are not: declaring them would lock their stripes for nothing.
 */
static const struct tn_cmd pubsub_subs[] = {
	{"pubsub|channels", -2, PS_FLAGS, 0, 0, 0, cmd_pubsub_channels, NULL,
	 "pubsub slow", NULL, "List active channels", "2.8.0", "pubsub"},
	{"pubsub|numpat", 2, PS_FLAGS, 0, 0, 0, cmd_pubsub_numpat, NULL,
	 "pubsub slow", NULL,
	 "Get the count of unique patterns pattern subscriptions", "2.8.0",
	 "pubsub"},
	{"pubsub|numsub", -2, PS_FLAGS, 0, 0, 0, cmd_pubsub_numsub, NULL,
	 "pubsub slow", NULL, "Get the count of subscribers for channels",
	 "2.8.0", "pubsub"},
	{"pubsub|shardchannels", -2, PS_FLAGS, 0, 0, 0,
	 cmd_pubsub_shardchannels, NULL, "pubsub slow", NULL,
	 "List active shard channels", "7.0.0", "pubsub"},
	{"pubsub|shardnumsub", -2, PS_FLAGS, 0, 0, 0, cmd_pubsub_shardnumsub,
	 NULL, "pubsub slow", NULL,
	 "Get the count of subscribers for shard channels", "7.0.0", "pubsub"},
	{"pubsub|help", 2, LS, 0, 0, 0, cmd_pubsub_help, NULL, "slow", NULL,
	 "Show helpful text about the different subcommands", "6.2.0",
	 "pubsub"},
	{0},
};

const struct tn_cmd tn_cmds_pubsub[] = {
	{"subscribe", -2, SUB_FLAGS, 0, 0, 0, cmd_subscribe, NULL,
	 "pubsub slow", NULL,
	 "Listen for messages published to the given channels", "2.0.0",
	 "pubsub"},
	{"unsubscribe", -1, SUB_FLAGS, 0, 0, 0, cmd_unsubscribe, NULL,
	 "pubsub slow", NULL,
	 "Stop listening for messages posted to the given channels", "2.0.0",
	 "pubsub"},
	{"psubscribe", -2, SUB_FLAGS, 0, 0, 0, cmd_psubscribe, NULL,
	 "pubsub slow", NULL,
	 "Listen for messages published to channels matching the given "
	 "patterns",
	 "2.0.0", "pubsub"},
	{"punsubscribe", -1, SUB_FLAGS, 0, 0, 0, cmd_punsubscribe, NULL,
	 "pubsub slow", NULL,
	 "Stop listening for messages posted to channels matching the given "
	 "patterns",
	 "2.0.0", "pubsub"},
	{"publish", 3, PUB_FLAGS | TN_CMD_MAY_REPLICATE, 0, 0, 0, cmd_publish,
	 NULL, "pubsub fast", NULL, "Post a message to a channel", "2.0.0",
	 "pubsub"},
	{"pubsub", -2, 0, 0, 0, 0, cmd_pubsub, NULL, "slow", pubsub_subs,
	 "A container for Pub/Sub commands", "2.8.0", "pubsub"},
	{"ssubscribe", -2, SUB_FLAGS, 0, 0, 0, cmd_ssubscribe, NULL,
	 "pubsub slow", NULL,
	 "Listen for messages published to the given shard channels", "7.0.0",
	 "pubsub"},
	{"sunsubscribe", -1, SUB_FLAGS, 0, 0, 0, cmd_sunsubscribe, NULL,
	 "pubsub slow", NULL,
	 "Stop listening for messages posted to the given shard channels",
	 "7.0.0", "pubsub"},
	{"spublish", 3, PUB_FLAGS, 0, 0, 0, cmd_spublish, NULL, "pubsub fast",
	 NULL, "Post a message to a shard channel", "7.0.0", "pubsub"},
	{0},
};
