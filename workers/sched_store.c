/*
 * sched_store.c - the scheduler's state in the keyspace.  Commands run
 * in-process through tn_dispatch (the path client writes take, so they
 * reach the AOF and replicas); records are small `k=v` text lines that
 * redis-cli can read, with Base64 where a value may hold any byte.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "ipc/proto.h"
#include "store/store.h"
#include "util/util.h"
#include "workers/sched.h"

bool sched_unconfirmed_left;

static struct tn_client sc;
static uint64_t sc_khash[16];
static bool store_ready;

int sched_store_init(void)
{
	memset(&sc, 0, sizeof(sc));
	sc.fd = -1;
	sc.resp = 2;
	sc.authenticated = true;
	sc.slot = UINT32_MAX;
	sc.khash = sc_khash;
	sc.khash_cap = TN_ARRAY_SIZE(sc_khash);
	sc.reply.out = &sc.out;
	sc.reply.resp = 2;
	sc.req.bulk_len = -1;
	snprintf(sc.name, sizeof(sc.name), "titan-scheduler");
	store_ready = true;
	return 0;
}

void sched_reply_free(struct sched_reply *r)
{
	free(r->str);
	sched_strv_free(&r->elems);
	memset(r, 0, sizeof(*r));
}

static long parse_line_ll(const char *p, size_t n, long long *v, size_t *used)
{
	const char *e = memchr(p, '\r', n);

	if (!e || (size_t)(e - p) + 1 >= n)
		return -1;
	if (!tn_str2ll(p, (size_t)(e - p), v))
		return -1;
	*used = (size_t)(e - p) + 2;
	return 0;
}

int sched_resp_parse(const char *p, size_t n, struct sched_reply *r)
{
	size_t used;
	long long v, i;
	const char *e;

	memset(r, 0, sizeof(*r));
	if (n < 3)
		return -EPROTO;
	switch (p[0]) {
	case '+':
	case '-':
		e = memchr(p, '\r', n);
		if (!e)
			return -EPROTO;
		r->type = p[0];
		r->len = (size_t)(e - p - 1);
		r->str = strndup(p + 1, r->len);
		return r->str ? 0 : -ENOMEM;
	case ':':
		if (parse_line_ll(p + 1, n - 1, &r->ival, &used) < 0)
			return -EPROTO;
		r->type = ':';
		return 0;
	case '$':
		if (parse_line_ll(p + 1, n - 1, &v, &used) < 0)
			return -EPROTO;
		if (v < 0)
			return 0; /* nil */
		if (1 + used + (size_t)v > n)
			return -EPROTO;
		r->type = '$';
		r->len = (size_t)v;
		r->str = malloc(r->len + 1);
		if (!r->str)
			return -ENOMEM;
		memcpy(r->str, p + 1 + used, r->len);
		r->str[r->len] = '\0';
		return 0;
	case '*':
		if (parse_line_ll(p + 1, n - 1, &v, &used) < 0)
			return -EPROTO;
		r->type = '*';
		p += 1 + used;
		n -= 1 + used;
		for (i = 0; i < v; i++) {
			long long bl;

			/* SUBSCRIBE's confirmation ends in an integer */
			if (n >= 1 && p[0] == ':') {
				const char *e2 = memchr(p, '\r', n);

				if (!e2 || (size_t)(e2 - p) + 2 > n)
					return -EPROTO;
				if (sched_strv_push(&r->elems, p + 1,
						    (size_t)(e2 - p - 1)) < 0)
					return -ENOMEM;
				n -= (size_t)(e2 - p) + 2;
				p = e2 + 2;
				continue;
			}
			if (n < 1 || p[0] != '$' ||
			    parse_line_ll(p + 1, n - 1, &bl, &used) < 0 ||
			    bl < 0 || 1 + used + (size_t)bl + 2 > n)
				return -EPROTO;
			if (sched_strv_push(&r->elems, p + 1 + used,
					    (size_t)bl) < 0)
				return -ENOMEM;
			p += 1 + used + (size_t)bl + 2;
			n -= 1 + used + (size_t)bl + 2;
		}
		return 0;
	}
	return -EPROTO;
}

long sched_resp_complete(const char *p, size_t n)
{
	size_t used;
	long long v, i;
	long total, sub;
	const char *e;

	if (n < 1)
		return 0;
	switch (p[0]) {
	case '+':
	case '-':
	case ':':
		e = memchr(p, '\n', n);
		return e ? (long)(e - p + 1) : 0;
	case '$':
		if (parse_line_ll(p + 1, n - 1, &v, &used) < 0)
			return memchr(p, '\n', n) ? -1 : 0;
		if (v < 0)
			return (long)(1 + used);
		if (1 + used + (size_t)v + 2 > n)
			return 0;
		return (long)(1 + used + (size_t)v + 2);
	case '*':
		if (parse_line_ll(p + 1, n - 1, &v, &used) < 0)
			return memchr(p, '\n', n) ? -1 : 0;
		total = (long)(1 + used);
		for (i = 0; i < v; i++) {
			sub = sched_resp_complete(p + total, n - (size_t)total);
			if (sub <= 0)
				return sub;
			total += sub;
		}
		return total;
	}
	return -1;
}

int sched_store_cmd(struct sched_reply *r, int argc, const char **argv,
		    const size_t *lens)
{
	struct tn_arg a[8];
	int i, ret;

	if (!store_ready || argc > 8)
		return -EINVAL;
	for (i = 0; i < argc; i++) {
		a[i].p = argv[i];
		a[i].len = lens ? lens[i] : strlen(argv[i]);
	}
	sc.out.len = sc.out.off = 0;
	tn_dispatch(&sc, a, argc, -1);
	ret = sched_resp_parse(sc.out.data + sc.out.off, tn_buf_pending(&sc.out), r);
	sc.out.len = sc.out.off = 0;
	if (ret == 0 && r->type == '-') {
		tn_warn("scheduler: store command %.*s failed: %s",
			(int)a[0].len, a[0].p, r->str);
		sched_reply_free(r);
		return -EIO;
	}
	return ret;
}

int sched_store_set(const char *key, const char *val, size_t vlen,
		    long long px)
{
	struct sched_reply r;
	char pxs[24];
	const char *argv[] = {"SET", key, val, "PX", pxs};
	size_t lens[] = {3, strlen(key), vlen, 2, 0};
	int ret;

	lens[4] = (size_t)snprintf(pxs, sizeof(pxs), "%lld", px);
	ret = sched_store_cmd(&r, px > 0 ? 5 : 3, argv, lens);
	sched_reply_free(&r);
	return ret;
}

int sched_store_get(const char *key, char **val, size_t *vlen)
{
	struct sched_reply r;
	const char *argv[] = {"GET", key};
	int ret = sched_store_cmd(&r, 2, argv, NULL);

	*val = NULL;
	if (ret < 0)
		return ret;
	if (r.type == '$') {
		*val = r.str;
		*vlen = r.len;
		r.str = NULL;
	}
	sched_reply_free(&r);
	return 0;
}

static int simple(const char *cmd, const char *key, const char *member)
{
	struct sched_reply r;
	const char *argv[] = {cmd, key, member};
	int ret = sched_store_cmd(&r, member ? 3 : 2, argv, NULL);

	sched_reply_free(&r);
	return ret;
}

int sched_store_sadd(const char *key, const char *member)
{
	return simple("SADD", key, member);
}

int sched_store_srem(const char *key, const char *member)
{
	return simple("SREM", key, member);
}

int sched_store_del(const char *key)
{
	return simple("DEL", key, NULL);
}

int sched_store_smembers(const char *key, struct sched_strv *out)
{
	struct sched_reply r;
	const char *argv[] = {"SMEMBERS", key};
	int ret = sched_store_cmd(&r, 2, argv, NULL);

	memset(out, 0, sizeof(*out));
	if (ret < 0)
		return ret;
	*out = r.elems;
	r.elems = (struct sched_strv){0};
	sched_reply_free(&r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Records                                                              */
/* ------------------------------------------------------------------ */

static void put_b64(struct tn_buf *b, const char *k, const char *p, size_t n)
{
	char *e = malloc(tn_b64_encoded_len(n) + 1);

	if (!e)
		return;
	tn_b64_encode(p, n, e);
	tn_buf_printf(b, "%s=%s\n", k, e);
	free(e);
}

static void put_strv(struct tn_buf *b, const char *k,
		     const struct sched_strv *v)
{
	char *e = sched_strv_b64(v);

	tn_buf_printf(b, "%s=%s\n", k, e ? e : "");
	free(e);
}

void sched_record_job(const struct sched_job *j, struct tn_buf *b)
{
	tn_buf_printf(b,
		      "state=%s\ndag=%s\ncap=%s\nprio=%d\nretries=%d\n"
		      "attempts=%d\ntimeout_ms=%lld\nready_at_ms=%lld\n"
		      "affinity=%d\nkind=%s\nworker=%s\npref_worker=%s\n"
		      "exit_code=%d\ncreated_ms=%lld\nstarted_ms=%lld\n"
		      "finished_ms=%lld\nready_us=%lld\nstarted_us=%lld\n"
		      "finished_us=%lld\n",
		      sched_state_name(j->state == SCHED_FAILED ? SCHED_PENDING
								: j->state),
		      j->dag ? j->dag->id : "", j->cap, j->prio, j->retries,
		      j->attempts, (long long)j->timeout_ms,
		      (long long)j->ready_at_ms, j->affinity ? 1 : 0,
		      j->kind == SCHED_K_EXEC ? "exec" : "v1",
		      j->worker ? j->worker : "",
		      j->pref_worker ? j->pref_worker : "", j->exit_code,
		      (long long)j->created_ms, (long long)j->started_ms,
		      (long long)j->finished_ms, (long long)j->ready_us,
		      (long long)j->started_us, (long long)j->finished_us);
	put_strv(b, "parents", &j->parents);
	if (j->kind == SCHED_K_EXEC) {
		put_strv(b, "argv", &j->argv);
		put_strv(b, "env", &j->env);
		if (j->cwd)
			put_b64(b, "cwd", j->cwd, strlen(j->cwd));
	} else if (j->payload) {
		put_b64(b, "payload", j->payload, strlen(j->payload));
	}
	if (j->result)
		put_b64(b, "result", j->result, strlen(j->result));
}

static char *b64_str(const char *p, size_t n)
{
	char *out = malloc(n + 1);
	ssize_t l;

	if (!out)
		return NULL;
	l = tn_b64_decode(p, n, out);
	if (l < 0) {
		free(out);
		return NULL;
	}
	out[l] = '\0';
	return out;
}

struct sched_job *sched_record_load(const char *id, const char *p, size_t n)
{
	struct sched_spec s = {0};
	struct sched_job *j;
	const char *end = p + n, *dag = NULL;
	size_t dagl = 0;
	int state = -1, attempts = 0, exit_code = -1;
	long long created = 0, started = 0, finished = 0, ready_at = 0;
	long long us[3] = { 0, 0, 0 }; /* ready, started, finished */
	char *worker = NULL, *pref = NULL, *result = NULL;
	int64_t now = tn_mstime();

	s.id = strdup(id);
	s.retries = SCHED_DEFAULT_RETRIES;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eq;
		size_t kl, vl;
		const char *v;
		char num[32];

		if (!nl)
			nl = end;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (!eq) {
			p = nl + 1;
			continue;
		}
		kl = (size_t)(eq - p);
		v = eq + 1;
		vl = (size_t)(nl - v);
		snprintf(num, sizeof(num), "%.*s", (int)TN_MIN(vl, 31), v);
#define KEY(name) (kl == strlen(name) && memcmp(p, name, kl) == 0)
		if (KEY("state"))
			state = sched_state_parse(num);
		else if (KEY("dag")) {
			dag = v;
			dagl = vl;
		} else if (KEY("cap"))
			s.cap = strndup(v, vl);
		else if (KEY("prio"))
			s.prio = atoi(num);
		else if (KEY("retries"))
			s.retries = atoi(num);
		else if (KEY("attempts"))
			attempts = atoi(num);
		else if (KEY("timeout_ms"))
			s.timeout_ms = atoll(num);
		else if (KEY("ready_at_ms"))
			ready_at = atoll(num);
		else if (KEY("affinity"))
			s.affinity = num[0] == '1';
		else if (KEY("kind"))
			s.kind = strcmp(num, "exec") == 0 ? SCHED_K_EXEC
							  : SCHED_K_V1;
		else if (KEY("worker") && vl)
			worker = strndup(v, vl);
		else if (KEY("pref_worker") && vl)
			pref = strndup(v, vl);
		else if (KEY("exit_code"))
			exit_code = atoi(num);
		else if (KEY("created_ms"))
			created = atoll(num);
		else if (KEY("started_ms"))
			started = atoll(num);
		else if (KEY("finished_ms"))
			finished = atoll(num);
		else if (KEY("ready_us"))
			us[0] = atoll(num);
		else if (KEY("started_us"))
			us[1] = atoll(num);
		else if (KEY("finished_us"))
			us[2] = atoll(num);
		else if (KEY("parents"))
			sched_strv_from_b64(v, vl, &s.parents);
		else if (KEY("argv"))
			sched_strv_from_b64(v, vl, &s.argv);
		else if (KEY("env"))
			sched_strv_from_b64(v, vl, &s.env);
		else if (KEY("cwd"))
			s.cwd = b64_str(v, vl);
		else if (KEY("payload"))
			s.payload = b64_str(v, vl);
		else if (KEY("result"))
			result = b64_str(v, vl);
#undef KEY
		p = nl + 1;
	}
	if (state < 0 || !s.id) {
		tn_warn("scheduler: record of job %s has no valid state; "
			"skipped (inspect it with GET titan:job:%s)",
			id, id);
		sched_spec_free(&s);
		free(worker);
		free(pref);
		free(result);
		return NULL;
	}
	{
		struct sched_dag *d = NULL;

		if (dagl) {
			char *did = strndup(dag, dagl);

			d = did ? sched_dag_find(did) : NULL;
			if (did && !d)
				d = sched_dag_new(did, created);
			free(did);
		}
		j = sched_job_new(&s, NULL, now);
		sched_spec_free(&s);
		if (!j) {
			free(worker);
			free(pref);
			free(result);
			return NULL;
		}
		j->state = state;
		if (d)
			sched_dag_add(d, j);
	}
	j->attempts = attempts;
	j->ready_at_ms = ready_at;
	j->worker = worker;
	j->pref_worker = pref;
	j->exit_code = exit_code;
	j->result = result;
	j->created_ms = created;
	j->started_ms = started;
	j->finished_ms = finished;
	j->ready_us = us[0];
	j->started_us = us[1];
	j->finished_us = us[2];
	j->active = !sched_state_terminal(state);
	/* recovery finds active jobs through the set; others are not in it */
	j->in_active = j->active;
	return j;
}

void sched_record_dag(const struct sched_dag *d, struct tn_buf *b)
{
	int i;

	tn_buf_printf(b, "state=%s\ncreated_ms=%lld\njobs=", sched_dag_state(d),
		      (long long)d->created_ms);
	for (i = 0; i < d->njobs; i++)
		tn_buf_printf(b, "%s%s", i ? "," : "", d->jobs[i]->id);
	tn_buf_append(b, "\n", 1);
}

static char keybuf[SCHED_ID_MAX + 64];

static const char *job_key(const char *id)
{
	snprintf(keybuf, sizeof(keybuf), "titan:job:%s", id);
	return keybuf;
}

void sched_save_job_store(struct sched_job *j)
{
	struct tn_buf b = {0};

	sched_record_job(j, &b);
	sched_store_set(job_key(j->id), b.data, b.len, 0);
	tn_buf_free(&b);
	/* one set write per job for each of submit and finish, not per
	 * state change */
	if (j->active == j->in_active)
		return;
	if (j->active)
		sched_store_sadd("titan:jobs:active", j->id);
	else
		sched_store_srem("titan:jobs:active", j->id);
	j->in_active = j->active;
}

void sched_save_dag_store(struct sched_dag *d)
{
	struct tn_buf b = {0};
	char key[SCHED_ID_MAX + 16];

	sched_record_dag(d, &b);
	snprintf(key, sizeof(key), "titan:dag:%s", d->id);
	sched_store_set(key, b.data, b.len, 0);
	tn_buf_free(&b);
	sched_store_sadd("titan:dags", d->id);
}

struct sched_job *sched_job_lookup(const char *id)
{
	struct sched_job *j = sched_job_find(id);
	char *val;
	size_t n;

	if (j || !store_ready)
		return j;
	if (sched_store_get(job_key(id), &val, &n) < 0 || !val)
		return NULL;
	j = sched_record_load(id, val, n);
	free(val);
	return j;
}

void sched_dag_load_jobs(struct sched_dag *d)
{
	char key[SCHED_ID_MAX + 16], *val, *p, *e;
	size_t n;

	if (d->njobs > 0 || !store_ready)
		return;
	snprintf(key, sizeof(key), "titan:dag:%s", d->id);
	if (sched_store_get(key, &val, &n) < 0 || !val)
		return;
	p = strstr(val, "\njobs=");
	if (p) {
		struct sched_strv ids = {0};
		int i;

		p += 6;
		e = strchr(p, '\n');
		sched_strv_split(p, e ? (size_t)(e - p) : strlen(p), ',', &ids);
		for (i = 0; i < ids.n; i++)
			if (ids.v[i][0])
				sched_job_lookup(ids.v[i]);
		sched_strv_free(&ids);
	}
	free(val);
}

/* ------------------------------------------------------------------ */
/* Recovery                                                             */
/* ------------------------------------------------------------------ */

static void load_dag(const char *id)
{
	char key[SCHED_ID_MAX + 16], *val, *p;
	size_t n;
	struct sched_dag *d;

	snprintf(key, sizeof(key), "titan:dag:%s", id);
	if (sched_store_get(key, &val, &n) < 0 || !val)
		return;
	d = sched_dag_find(id);
	if (!d)
		d = sched_dag_new(id, 0);
	p = strstr(val, "created_ms=");
	if (d && p)
		d->created_ms = atoll(p + 11);
	free(val);
}

int sched_recover(int64_t now_ms)
{
	struct sched_strv act = {0}, ds = {0};
	int i, loaded = 0;

	if (sched_store_smembers("titan:dags", &ds) == 0)
		for (i = 0; i < ds.n; i++)
			load_dag(ds.v[i]);
	sched_strv_free(&ds);
	if (sched_store_smembers("titan:jobs:active", &act) < 0)
		return 0;
	for (i = 0; i < act.n; i++) {
		struct sched_job *j = sched_job_lookup(act.v[i]);

		if (!j || sched_state_terminal(j->state)) {
			sched_store_srem("titan:jobs:active", act.v[i]);
			continue;
		}
		loaded++;
	}
	for (i = 0; i < act.n; i++) {
		struct sched_job *j = sched_job_find(act.v[i]);
		char wkey[SCHED_ID_MAX + 16], *val = NULL;
		size_t n;

		if (!j || sched_state_terminal(j->state))
			continue;
		sched_job_link(j, now_ms);
		if (j->state == SCHED_FAILED)
			j->state = SCHED_PENDING;
		if (j->state != SCHED_RUNNING || !j->worker)
			continue;
		/* RUNNING: keep it if its worker still has a live key; the
		 * worker reconnects and reports, or the key expires */
		snprintf(wkey, sizeof(wkey), "titan:worker:%s", j->worker);
		if (sched_store_get(wkey, &val, &n) == 0 && val) {
			struct sched_worker *w = sched_worker_get(j->worker);

			free(val);
			if (w) {
				w->alive = true;
				w->running++;
				j->slot_held = true;
				j->unconfirmed = true;
				sched_unconfirmed_left = true;
				if (j->timeout_ms > 0)
					sched_timer_set(
						&j->timer,
						j->started_ms + j->timeout_ms +
							SCHED_TIMEOUT_GRACE_MS);
				continue;
			}
		}
		j->state = SCHED_PENDING;
		if (j->dag) {
			j->dag->count[SCHED_RUNNING]--;
			j->dag->count[SCHED_PENDING]++;
		}
		if (j->attempts > 0)
			j->attempts--;
		sched_save_job_store(j);
	}
	for (i = 0; i < act.n; i++) {
		struct sched_job *j = sched_job_find(act.v[i]);

		if (j)
			sched_job_ready(j, now_ms);
	}
	sched_strv_free(&act);
	return loaded;
}
