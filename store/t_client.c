/*
 * t_client.c - CLIENT: the connection's own name, id and flags, and the
 * shared client table (struct client_shm) that lets CLIENT LIST and
 * CLIENT KILL in one shard process see and close clients of the others.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/daemon.h"
#include "store/cmds.h"
#include "util/util.h"

#define TN_ERR_NOCLIENT "ERR No such client"

/*
 * Names that do not fit the fixed arrays of tn_client and client_shm.
 * Rare, so a short list per process; CLIENT LIST in other shards shows
 * them cut to the shared slot's size.
 */
struct long_name {
	const struct tn_client *c;
	struct long_name *next;
	size_t len;
	char name[];
};

static struct long_name *long_names;

static struct long_name **long_name_find(const struct tn_client *c)
{
	struct long_name **p;

	for (p = &long_names; *p; p = &(*p)->next)
		if ((*p)->c == c)
			return p;
	return NULL;
}

static void long_name_drop(const struct tn_client *c)
{
	struct long_name **p = long_name_find(c), *n;

	if (!p)
		return;
	n = *p;
	*p = n->next;
	free(n);
}

void tn_client_release(struct tn_client *c)
{
	struct client_shm *cs = tn_shard_slot(c);

	if (tn_unlikely(long_names != NULL))
		long_name_drop(c);
	tn_multi_release(c);
	tn_pubsub_release(c);
	/* the next owner of the slot starts outside MULTI */
	if (cs)
		cs->multi_plus1 = 0;
}

void tn_client_note_queued(struct tn_client *c, uint32_t count)
{
	struct client_shm *cs = tn_shard_slot(c);

	if (cs)
		cs->multi_plus1 = count + 1;
}

/*
 * Queueing keeps the count exact; entering MULTI (nothing queued yet)
 * and leaving it (EXEC, DISCARD, RESET) are caught here, once per batch
 * of commands and before their replies are written, so a client that has
 * its reply is seen in its new state from any shard.
 */
void tn_client_sync_slot(struct tn_client *c)
{
	struct client_shm *cs = tn_shard_slot(c);

	if (!cs)
		return;
	if (!(c->multi_flags & TN_MULTI_ACTIVE))
		cs->multi_plus1 = 0;
	else if (!cs->multi_plus1)
		cs->multi_plus1 = 1;
}

const char *tn_client_name(const struct tn_client *c, size_t *len)
{
	struct long_name **p;

	if (tn_unlikely(long_names != NULL) && (p = long_name_find(c))) {
		*len = (*p)->len;
		return (*p)->name;
	}
	*len = strlen(c->name);
	return c->name;
}

bool tn_client_setname(struct tn_ctx *x, const char *name, size_t len)
{
	struct tn_client *c = x->c;
	struct client_shm *cs = tn_shard_slot(c);
	struct long_name *n = NULL;
	size_t i, keep;

	/* CLIENT LIST splits on spaces: Redis allows '!'..'~' only */
	for (i = 0; i < len; i++) {
		if (name[i] < '!' || name[i] > '~') {
			tn_reply_error(x->r,
				       "ERR Client names cannot contain spaces, "
				       "newlines or special characters.");
			return false;
		}
	}
	if (len >= sizeof(c->name)) {
		n = malloc(sizeof(*n) + len + 1);
		if (!n) {
			tn_reply_error(x->r, TN_ERR_OOM);
			return false;
		}
		n->c = c;
		n->len = len;
		memcpy(n->name, name, len);
		n->name[len] = '\0';
	}
	long_name_drop(c);
	if (n) {
		n->next = long_names;
		long_names = n;
	}
	keep = TN_MIN(len, sizeof(c->name) - 1);
	memcpy(c->name, name, keep);
	c->name[keep] = '\0';
	if (cs) {
		keep = TN_MIN(len, sizeof(cs->name) - 1);
		memcpy(cs->name, name, keep);
		cs->name[keep] = '\0';
	}
	return true;
}

void tn_client_set_resp(struct tn_ctx *x, int resp)
{
	struct client_shm *cs = tn_shard_slot(x->c);

	x->c->resp = resp;
	x->r->resp = resp;
	if (cs)
		cs->resp = resp;
}

static void sync_flags(struct tn_client *c)
{
	struct client_shm *cs = tn_shard_slot(c);

	if (cs)
		cs->flags = c->flags;
}

/* ------------------------------------------------------------------ */
/* Reading the shared table                                            */
/* ------------------------------------------------------------------ */

/*
 * A consistent-enough copy of a slot owned by another process: strings
 * are copied with a bound and terminated, since the owner may be
 * rewriting them (a torn name is possible, a crash is not).
 */
struct client_view {
	uint64_t id;
	uint32_t slot;
	int32_t fd;
	int32_t db;
	int32_t resp;
	uint32_t flags;
	int64_t ctime_ms, last_ms;
	uint64_t qbuf, obuf;
	uint32_t nsub, npsub, nssub;
	long long multi; /* -1 outside MULTI */
	char addr[64], laddr[64], name[64], lastcmd[32];
};

static void copy_str(char *dst, const char *src, size_t n)
{
	memcpy(dst, src, n - 1);
	dst[n - 1] = '\0';
}

static bool view_slot(uint32_t i, struct client_view *v)
{
	struct client_shm *cs = tn_client_slot(i);

	v->id = atomic_load(&cs->id);
	if (!v->id)
		return false;
	v->slot = i;
	v->fd = cs->fd;
	v->db = cs->db;
	v->resp = cs->resp;
	v->flags = cs->flags;
	v->ctime_ms = cs->ctime_ms;
	v->last_ms = cs->last_ms;
	v->qbuf = cs->qbuf;
	v->obuf = cs->obuf;
	v->nsub = cs->nsub;
	v->npsub = cs->npsub;
	v->nssub = cs->nssub;
	v->multi = (long long)cs->multi_plus1 - 1;
	copy_str(v->addr, cs->addr, sizeof(v->addr));
	copy_str(v->laddr, cs->laddr, sizeof(v->laddr));
	copy_str(v->name, cs->name, sizeof(v->name));
	copy_str(v->lastcmd, cs->lastcmd, sizeof(v->lastcmd));
	/* the slot was freed (and maybe reused) while we copied it */
	return atomic_load(&cs->id) == v->id;
}

/* Redis' letters, in its order: P subscribed, x inside MULTI, ... */
static void flags_str(uint32_t f, bool pubsub, bool multi, char *out)
{
	char *p = out;

	if (pubsub)
		*p++ = 'P';
	if (multi)
		*p++ = 'x';
	if (f & TN_CLIENT_BLOCKED)
		*p++ = 'b';
	if (f & TN_CLIENT_CLOSE_AFTER_REPLY)
		*p++ = 'c';
	if (f & TN_CLIENT_CLOSE_ASAP)
		*p++ = 'A';
	if (f & TN_CLIENT_UNIX)
		*p++ = 'U';
	if (f & TN_CLIENT_NO_EVICT)
		*p++ = 'e';
	if (p == out)
		*p++ = 'N';
	*p = '\0';
}

/* One CLIENT LIST line, in Redis 7.0's field order. */
static int client_line(struct tn_ctx *x, struct tn_buf *b,
		       const struct client_view *v)
{
	struct tn_client *c = x->c;
	bool self = v->slot == c->slot;
	const char *name = v->name, *cmd = v->lastcmd;
	size_t namelen = strlen(v->name);
	uint64_t qbuf = v->qbuf, qfree = 0, obuf = v->obuf;
	int64_t now = x->now_ms;
	long long multi = v->multi;
	char flags[10];

	/* inside EXEC the queue's count is exact in the slot */
	if (self && !(c->multi_flags & TN_MULTI_ACTIVE))
		multi = -1;
	else if (self && multi < 0)
		multi = 0;
	flags_str(self ? c->flags : v->flags,
		  self ? tn_pubsub_subscribed(c)
		       : v->nsub + v->npsub + v->nssub > 0,
		  multi >= 0, flags);
	if (self) {
		/* Redis shows the running command as the caller's last one */
		name = tn_client_name(c, &namelen);
		cmd = tn_cmd_fullname(x->cmd);
		qbuf = tn_buf_pending(&c->in);
		qfree = c->in.cap - c->in.len;
		obuf = tn_buf_pending(&c->out);
	}
	return tn_buf_printf(
		b,
		"id=%llu addr=%s laddr=%s fd=%d name=%.*s age=%lld idle=%lld "
		"flags=%s db=%d sub=%u psub=%u ssub=%u multi=%lld qbuf=%llu "
		"qbuf-free=%llu argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=%llu "
		"oll=0 omem=0 tot-mem=%llu events=r%s cmd=%s user=default "
		"redir=-1 resp=%d\n",
		(unsigned long long)v->id, v->addr, v->laddr, v->fd,
		(int)namelen, name, (long long)(now - v->ctime_ms) / 1000,
		(long long)(now - v->last_ms) / 1000, flags, v->db, v->nsub,
		v->npsub, v->nssub, multi, (unsigned long long)qbuf,
		(unsigned long long)qfree, (unsigned long long)obuf,
		(unsigned long long)(qbuf + qfree + obuf), obuf ? "w" : "",
		cmd[0] ? cmd : "NULL", v->resp);
}

static int cmp_view(const void *a, const void *b)
{
	const struct client_view *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

/* Every live client, ordered by id (connection order, as Redis lists). */
static struct client_view *all_clients(size_t *n)
{
	uint32_t i, total = tn_seg->nclients;
	struct client_view *v;
	size_t cap = 64, used = 0;

	v = malloc(cap * sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < total; i++) {
		if (!atomic_load(&tn_client_slot(i)->id))
			continue;
		if (used == cap) {
			struct client_view *nv;

			cap *= 2;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return NULL;
			}
			v = nv;
		}
		if (view_slot(i, &v[used]))
			used++;
	}
	qsort(v, used, sizeof(*v), cmp_view);
	*n = used;
	return v;
}

static bool find_client(uint64_t id, struct client_view *v)
{
	uint32_t i;

	for (i = 0; i < tn_seg->nclients; i++)
		if (atomic_load(&tn_client_slot(i)->id) == id &&
		    view_slot(i, v))
			return true;
	return false;
}

/* Redis' getClientTypeByName; replicas belong to the journal. */
enum { TYPE_BAD = -1, TYPE_NORMAL, TYPE_OTHER, TYPE_REPLICA };

static int client_type(const struct tn_arg *a)
{
	if (tn_arg_is(a, "normal"))
		return TYPE_NORMAL;
	if (tn_arg_is(a, "slave") || tn_arg_is(a, "replica"))
		return TYPE_REPLICA;
	if (tn_arg_is(a, "pubsub") || tn_arg_is(a, "master"))
		return TYPE_OTHER;
	return TYPE_BAD;
}

static void reply_buf(struct tn_ctx *x, struct tn_buf *b, int rc)
{
	if (rc < 0)
		tn_reply_error(x->r, TN_ERR_OOM);
	else
		tn_reply_verbatim(x->r, b->data ? b->data : "", b->len);
	tn_buf_free(b);
}

/* ------------------------------------------------------------------ */
/* Subcommands                                                          */
/* ------------------------------------------------------------------ */

static void cmd_client_id(struct tn_ctx *x)
{
	tn_reply_int(x->r, (long long)x->c->id);
}

static void cmd_client_setname(struct tn_ctx *x)
{
	if (tn_client_setname(x, x->argv[2].p, x->argv[2].len))
		tn_reply_ok(x->r);
}

static void cmd_client_getname(struct tn_ctx *x)
{
	size_t len;
	const char *name = tn_client_name(x->c, &len);

	if (len)
		tn_reply_bulk(x->r, name, len);
	else
		tn_reply_null(x->r);
}

static void cmd_client_list(struct tn_ctx *x)
{
	struct tn_buf b = {0};
	struct client_view one, *v;
	size_t n = 0, i;
	int type = TYPE_NORMAL, rc = 0, j;

	if (x->argc == 4 && tn_arg_is(&x->argv[2], "type")) {
		type = client_type(&x->argv[3]);
		if (type == TYPE_BAD) {
			tn_reply_errorf(x->r, "ERR Unknown client type '%.*s'",
					(int)x->argv[3].len, x->argv[3].p);
			return;
		}
	} else if (x->argc > 3 && tn_arg_is(&x->argv[2], "id")) {
		for (j = 3; j < x->argc; j++) {
			long long id;

			if (!tn_arg_ll(x, j, &id, "ERR Invalid client ID")) {
				tn_buf_free(&b);
				return;
			}
			if (id > 0 && find_client((uint64_t)id, &one) &&
			    rc == 0)
				rc = client_line(x, &b, &one);
		}
		reply_buf(x, &b, rc);
		return;
	} else if (x->argc != 2) {
		tn_reply_error(x->r, TN_ERR_SYNTAX);
		return;
	}
	if (type != TYPE_NORMAL) {
		tn_reply_verbatim(x->r, "", 0);
		return;
	}
	v = all_clients(&n);
	if (!v) {
		tn_reply_error(x->r, TN_ERR_OOM);
		return;
	}
	for (i = 0; i < n && rc == 0; i++)
		rc = client_line(x, &b, &v[i]);
	free(v);
	reply_buf(x, &b, rc);
}

static void cmd_client_info(struct tn_ctx *x)
{
	struct tn_buf b = {0};
	struct client_view v;

	if (!tn_shard_slot(x->c) || !view_slot(x->c->slot, &v)) {
		/* no shared slot: show what we know locally */
		memset(&v, 0, sizeof(v));
		v.id = x->c->id;
		v.slot = x->c->slot;
		v.fd = x->c->fd;
		v.resp = x->c->resp;
		v.ctime_ms = x->c->ctime_ms;
		v.last_ms = x->c->last_ms;
		snprintf(v.addr, sizeof(v.addr), "%s", x->c->addr);
		snprintf(v.laddr, sizeof(v.laddr), "%s", x->c->laddr);
	}
	reply_buf(x, &b, client_line(x, &b, &v));
}

struct kill_filter {
	const struct tn_arg *addr, *laddr;
	uint64_t id;
	int type;
	bool skipme;
};

/* Parse the new form's filters; false when an error was replied. */
static bool kill_parse(struct tn_ctx *x, struct kill_filter *f)
{
	int i;

	for (i = 2; i < x->argc; i += 2) {
		const struct tn_arg *opt = &x->argv[i], *val;

		if (i + 1 >= x->argc) {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return false;
		}
		val = &x->argv[i + 1];
		if (tn_arg_is(opt, "id")) {
			long long id;

			if (!tn_str2ll(val->p, val->len, &id) || id < 1) {
				tn_reply_error(x->r, "ERR client-id should be "
						     "greater than 0");
				return false;
			}
			f->id = (uint64_t)id;
		} else if (tn_arg_is(opt, "type")) {
			f->type = client_type(val);
			if (f->type == TYPE_BAD) {
				tn_reply_errorf(x->r,
						"ERR Unknown client type '%.*s'",
						(int)val->len, val->p);
				return false;
			}
		} else if (tn_arg_is(opt, "addr")) {
			f->addr = val;
		} else if (tn_arg_is(opt, "laddr")) {
			f->laddr = val;
		} else if (tn_arg_is(opt, "user")) {
			if (!tn_arg_is(val, "default")) {
				tn_reply_errorf(x->r, "ERR No such user '%.*s'",
						(int)val->len, val->p);
				return false;
			}
		} else if (tn_arg_is(opt, "skipme")) {
			if (tn_arg_is(val, "yes")) {
				f->skipme = true;
			} else if (tn_arg_is(val, "no")) {
				f->skipme = false;
			} else {
				tn_reply_error(x->r, TN_ERR_SYNTAX);
				return false;
			}
		} else {
			tn_reply_error(x->r, TN_ERR_SYNTAX);
			return false;
		}
	}
	return true;
}

static bool str_is(const char *s, const struct tn_arg *a)
{
	return strlen(s) == a->len && memcmp(s, a->p, a->len) == 0;
}

/*
 * Ask the owning shard to close a client.  The slot may be freed and
 * claimed by a new connection between our look and our write: look
 * again afterwards and take the request back if the id changed.
 */
static bool kill_slot(uint32_t i, uint64_t id)
{
	struct client_shm *cs = tn_client_slot(i);
	int32_t one = 1;

	atomic_store(&cs->kill, 1);
	if (atomic_load(&cs->id) != id) {
		atomic_compare_exchange_strong(&cs->kill, &one, 0);
		return false;
	}
	tn_shard_wake(cs->shard);
	return true;
}

static void cmd_client_kill(struct tn_ctx *x)
{
	struct kill_filter f = {.type = TYPE_NORMAL, .skipme = true};
	bool old = x->argc == 3, close_me = false;
	struct client_view v;
	long long killed = 0;
	uint32_t i;

	if (old) {
		/* CLIENT KILL ip:port, which may name the caller itself */
		f.addr = &x->argv[2];
		f.skipme = false;
	} else if (!kill_parse(x, &f)) {
		return;
	}
	for (i = 0; i < tn_seg->nclients && f.type == TYPE_NORMAL; i++) {
		if (!atomic_load(&tn_client_slot(i)->id) || !view_slot(i, &v))
			continue;
		if (f.addr && !str_is(v.addr, f.addr))
			continue;
		if (f.laddr && !str_is(v.laddr, f.laddr))
			continue;
		if (f.id && v.id != f.id)
			continue;
		if (i == x->c->slot) {
			if (f.skipme)
				continue;
			close_me = true;
			killed++;
		} else if (kill_slot(i, v.id)) {
			killed++;
		}
	}
	/* replica links live in the journal (journal/repl_master.c) */
	if (f.type == TYPE_REPLICA && !f.addr && !f.laddr && !f.id)
		killed += tn_repl_kill_replicas();
	if (old) {
		if (killed)
			tn_reply_ok(x->r);
		else
			tn_reply_error(x->r, TN_ERR_NOCLIENT);
	} else {
		tn_reply_int(x->r, killed);
	}
	/* only after the reply is queued, as Redis does */
	if (close_me) {
		x->c->flags |= TN_CLIENT_CLOSE_AFTER_REPLY;
		sync_flags(x->c);
	}
}

static void cmd_client_noevict(struct tn_ctx *x)
{
	if (tn_arg_is(&x->argv[2], "on")) {
		x->c->flags |= TN_CLIENT_NO_EVICT;
	} else if (tn_arg_is(&x->argv[2], "off")) {
		x->c->flags &= ~TN_CLIENT_NO_EVICT;
	} else {
		tn_reply_error(x->r, TN_ERR_SYNTAX);
		return;
	}
	sync_flags(x->c);
	tn_reply_ok(x->r);
}

static void cmd_client_help(struct tn_ctx *x)
{
	static const char *const help[] = {
		"GETNAME",
		"    Return the name of the current connection.",
		"ID",
		"    Return the ID of the current connection.",
		"INFO",
		"    Return information about the current client connection.",
		"KILL <ip:port>",
		"    Kill connection made from <ip:port>.",
		"KILL <option> <value> [<option> <value> [...]]",
		"    Kill connections. Options are:",
		"    * ADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made from the specified address",
		"    * LADDR (<ip:port>|<unixsocket>:0)",
		"      Kill connections made to specified local address",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Kill connections by type.",
		"    * USER <username>",
		"      Kill connections authenticated by <username>.",
		"    * SKIPME (YES|NO)",
		"      Skip killing current connection (default: yes).",
		"LIST [options ...]",
		"    Return information about client connections. Options:",
		"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
		"      Return clients of specified type.",
		"SETNAME <name>",
		"    Assign the name <name> to the current connection.",
		"NO-EVICT (ON|OFF)",
		"    Protect current client connection from eviction.",
		NULL,
	};

	tn_reply_help(x, help);
}

/* Reached only through the subcommand table; dispatch answers the rest. */
static void cmd_client(struct tn_ctx *x)
{
	tn_reply_errorf(x->r, "ERR unknown subcommand '%.*s'. Try CLIENT HELP.",
			(int)TN_MIN(x->argv[1].len, 128), x->argv[1].p);
}

#define CLIENT_FLAGS (TN_CMD_NOSCRIPT | TN_CMD_LOADING | TN_CMD_STALE)
#define CLIENT_ADMIN (CLIENT_FLAGS | TN_CMD_ADMIN)

static const struct tn_cmd client_subs[] = {
	{"client|id", 2, CLIENT_FLAGS, 0, 0, 0, cmd_client_id, NULL,
	 "slow connection", NULL, "Returns the client ID for the current "
	 "connection", "5.0.0", "connection"},
	{"client|setname", 3, CLIENT_FLAGS, 0, 0, 0, cmd_client_setname, NULL,
	 "slow connection", NULL, "Set the current connection name", "2.6.9",
	 "connection"},
	{"client|getname", 2, CLIENT_FLAGS, 0, 0, 0, cmd_client_getname, NULL,
	 "slow connection", NULL, "Get the current connection name", "2.6.9",
	 "connection"},
	{"client|list", -2, CLIENT_ADMIN | TN_CMD_RANDOM, 0, 0, 0,
	 cmd_client_list, NULL, "admin slow dangerous connection", NULL,
	 "Get the list of client connections", "2.4.0", "connection"},
	{"client|info", 2, CLIENT_FLAGS | TN_CMD_RANDOM, 0, 0, 0,
	 cmd_client_info, NULL, "slow connection", NULL,
	 "Returns information about the current client connection.", "6.2.0",
	 "connection"},
	{"client|kill", -3, CLIENT_ADMIN, 0, 0, 0, cmd_client_kill, NULL,
	 "admin slow dangerous connection", NULL,
	 "Kill the connection of a client", "2.4.0", "connection"},
	{"client|no-evict", 3, CLIENT_ADMIN, 0, 0, 0, cmd_client_noevict, NULL,
	 "admin slow dangerous connection", NULL,
	 "Set client eviction mode for the current connection", "7.0.0",
	 "connection"},
	{"client|help", 2, TN_CMD_LOADING | TN_CMD_STALE, 0, 0, 0,
	 cmd_client_help, NULL, "slow connection", NULL,
	 "Show helpful text about the different subcommands", "5.0.0",
	 "connection"},
	{0},
};

const struct tn_cmd tn_cmds_client[] = {
	{"client", -2, 0, 0, 0, 0, cmd_client, NULL, "slow", client_subs,
	 "A container for client connection commands", "2.4.0", "connection"},
	{0},
};
