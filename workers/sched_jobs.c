/*
 * sched_jobs.c - the job table and its state machine: ready queues by
 * capability (priority, then FIFO), timers for delays, backoff and
 * timeouts, children unblocked by event, DEAD cancelling descendants,
 * and the worker registry dispatch picks from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "workers/sched.h"

struct sched_hooks sched_hooks;
int64_t sched_log_max_bytes = 1 << 20;

/* ------------------------------------------------------------------ */
/* A string-keyed hash map (jobs, DAGs, workers)                        */
/* ------------------------------------------------------------------ */

struct smap {
	const char **key;
	void **val;
	size_t mask, n, used; /* used counts tombstones too */
};

static const char tomb[] = "";

static uint64_t str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h ^ (h >> 29);
}

static void *smap_get(const struct smap *m, const char *k)
{
	size_t i;

	if (!m->key)
		return NULL;
	for (i = str_hash(k) & m->mask; m->key[i];
	     i = (i + 1) & m->mask)
		if (m->key[i] != tomb && strcmp(m->key[i], k) == 0)
			return m->val[i];
	return NULL;
}

static int smap_put(struct smap *m, const char *k, void *v);

static int smap_grow(struct smap *m)
{
	struct smap nm;
	size_t sz = m->key ? (m->mask + 1) * 2 : 64, i;

	while (sz < m->n * 4)
		sz *= 2;
	nm.key = calloc(sz, sizeof(*nm.key));
	nm.val = calloc(sz, sizeof(*nm.val));
	if (!nm.key || !nm.val) {
		free(nm.key);
		free(nm.val);
		return -ENOMEM;
	}
	nm.mask = sz - 1;
	nm.n = nm.used = 0;
	for (i = 0; m->key && i <= m->mask; i++)
		if (m->key[i] && m->key[i] != tomb)
			smap_put(&nm, m->key[i], m->val[i]);
	free(m->key);
	free(m->val);
	*m = nm;
	return 0;
}

/* Key memory belongs to the value (its id). */
static int smap_put(struct smap *m, const char *k, void *v)
{
	size_t i;

	if (!m->key || (m->used + 1) * 2 > m->mask + 1)
		if (smap_grow(m) < 0)
			return -ENOMEM;
	for (i = str_hash(k) & m->mask; m->key[i]; i = (i + 1) & m->mask) {
		if (m->key[i] != tomb && strcmp(m->key[i], k) == 0) {
			m->key[i] = k;
			m->val[i] = v;
			return 0;
		}
	}
	m->key[i] = k;
	m->val[i] = v;
	m->n++;
	m->used++;
	return 0;
}

static void smap_each(const struct smap *m, void (*fn)(void *v, void *arg),
		      void *arg)
{
	size_t i;

	for (i = 0; m->key && i <= m->mask; i++)
		if (m->key[i] && m->key[i] != tomb)
			fn(m->val[i], arg);
}

static struct smap jobs, dags;
static struct sched_worker **workers;
static int nworkers;
static uint64_t job_seq;

/* ------------------------------------------------------------------ */
/* Timers                                                               */
/* ------------------------------------------------------------------ */

static struct sched_timer **theap;
static size_t tn_theap, cap_theap;

static void th_swap(size_t a, size_t b)
{
	struct sched_timer *t = theap[a];

	theap[a] = theap[b];
	theap[b] = t;
	theap[a]->idx = a;
	theap[b]->idx = b;
}

static void th_up(size_t i)
{
	while (i > 0 && theap[(i - 1) / 2]->at_ms > theap[i]->at_ms) {
		th_swap(i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void th_down(size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < tn_theap && theap[l]->at_ms < theap[m]->at_ms)
			m = l;
		if (r < tn_theap && theap[r]->at_ms < theap[m]->at_ms)
			m = r;
		if (m == i)
			return;
		th_swap(i, m);
		i = m;
	}
}

void sched_timer_init(struct sched_timer *t, void (*fn)(struct sched_timer *))
{
	t->at_ms = 0;
	t->idx = SIZE_MAX;
	t->fn = fn;
}

void sched_timer_stop(struct sched_timer *t)
{
	size_t i = t->idx;

	if (i == SIZE_MAX)
		return;
	t->idx = SIZE_MAX;
	tn_theap--;
	if (i == tn_theap)
		return;
	theap[i] = theap[tn_theap];
	theap[i]->idx = i;
	th_up(i);
	th_down(theap[i]->idx);
}

void sched_timer_set(struct sched_timer *t, int64_t at_ms)
{
	sched_timer_stop(t);
	if (tn_theap == cap_theap) {
		size_t nc = cap_theap ? cap_theap * 2 : 256;
		struct sched_timer **nh = realloc(theap, sizeof(*nh) * nc);

		if (!nh) {
			tn_warn("scheduler: out of memory arming a timer; "
				"a job may wait until the next event");
			return;
		}
		theap = nh;
		cap_theap = nc;
	}
	t->at_ms = at_ms;
	t->idx = tn_theap;
	theap[tn_theap++] = t;
	th_up(t->idx);
}

int64_t sched_timers_next(void)
{
	return tn_theap ? theap[0]->at_ms : -1;
}

int64_t sched_timers_run(int64_t now_ms)
{
	while (tn_theap && theap[0]->at_ms <= now_ms) {
		struct sched_timer *t = theap[0];

		sched_timer_stop(t);
		t->fn(t);
	}
	return sched_timers_next();
}

/* ------------------------------------------------------------------ */
/* Ready queues, one per capability                                     */
/* ------------------------------------------------------------------ */

struct rq {
	char *cap;
	struct sched_job **h;
	size_t n, cap_n;
};

static struct rq *rqs;
static int nrqs;
static bool kick_wanted;

static bool job_before(const struct sched_job *a, const struct sched_job *b)
{
	if (a->prio != b->prio)
		return a->prio > b->prio;
	return a->seq < b->seq;
}

static struct rq *rq_of(const char *cap, bool create)
{
	int i;
	struct rq *n;

	for (i = 0; i < nrqs; i++)
		if (strcmp(rqs[i].cap, cap) == 0)
			return &rqs[i];
	if (!create)
		return NULL;
	n = realloc(rqs, sizeof(*n) * (size_t)(nrqs + 1));
	if (!n)
		return NULL;
	rqs = n;
	memset(&rqs[nrqs], 0, sizeof(rqs[nrqs]));
	rqs[nrqs].cap = strdup(cap);
	if (!rqs[nrqs].cap)
		return NULL;
	return &rqs[nrqs++];
}

static void rq_swap(struct rq *q, size_t a, size_t b)
{
	struct sched_job *t = q->h[a];

	q->h[a] = q->h[b];
	q->h[b] = t;
	q->h[a]->qidx = a;
	q->h[b]->qidx = b;
}

static void rq_up(struct rq *q, size_t i)
{
	while (i > 0 && job_before(q->h[i], q->h[(i - 1) / 2])) {
		rq_swap(q, i, (i - 1) / 2);
		i = (i - 1) / 2;
	}
}

static void rq_down(struct rq *q, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < q->n && job_before(q->h[l], q->h[m]))
			m = l;
		if (r < q->n && job_before(q->h[r], q->h[m]))
			m = r;
		if (m == i)
			return;
		rq_swap(q, i, m);
		i = m;
	}
}

static int rq_push(struct sched_job *j)
{
	struct rq *q = rq_of(j->cap, true);

	if (!q)
		return -ENOMEM;
	if (q->n == q->cap_n) {
		size_t nc = q->cap_n ? q->cap_n * 2 : 64;
		struct sched_job **nh = realloc(q->h, sizeof(*nh) * nc);

		if (!nh)
			return -ENOMEM;
		q->h = nh;
		q->cap_n = nc;
	}
	j->qidx = q->n;
	q->h[q->n++] = j;
	rq_up(q, j->qidx);
	kick_wanted = true;
	return 0;
}

static void rq_remove(struct sched_job *j)
{
	struct rq *q;
	size_t i = j->qidx;

	if (i == SIZE_MAX)
		return;
	q = rq_of(j->cap, false);
	j->qidx = SIZE_MAX;
	if (!q)
		return;
	q->n--;
	if (i == q->n)
		return;
	q->h[i] = q->h[q->n];
	q->h[i]->qidx = i;
	rq_up(q, i);
	rq_down(q, q->h[i]->qidx);
}

size_t sched_queue_size(void)
{
	size_t n = 0;
	int i;

	for (i = 0; i < nrqs; i++)
		n += rqs[i].n;
	return n;
}

/* ------------------------------------------------------------------ */
/* States                                                               */
/* ------------------------------------------------------------------ */

static const char *const state_names[SCHED_NSTATES] = {
	"PENDING", "RUNNING", "COMPLETED", "FAILED", "DEAD", "CANCELLED",
};

const char *sched_state_name(int st)
{
	return st >= 0 && st < SCHED_NSTATES ? state_names[st] : "UNKNOWN";
}

int sched_state_parse(const char *s)
{
	int i;

	for (i = 0; i < SCHED_NSTATES; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

bool sched_state_terminal(int st)
{
	return st == SCHED_COMPLETED || st == SCHED_DEAD ||
	       st == SCHED_CANCELLED;
}

static void set_state(struct sched_job *j, int st)
{
	if (j->dag) {
		j->dag->count[j->state]--;
		j->dag->count[st]++;
	}
	j->state = st;
}

static void save(struct sched_job *j)
{
	if (sched_hooks.save_job)
		sched_hooks.save_job(j);
}

int64_t sched_backoff_ms(int attempt)
{
	int64_t ms = SCHED_BACKOFF_BASE_MS;

	while (--attempt > 0 && ms < SCHED_BACKOFF_MAX_MS)
		ms *= 2;
	return TN_MIN(ms, SCHED_BACKOFF_MAX_MS);
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                 */
/* ------------------------------------------------------------------ */

static void job_timer(struct sched_timer *t);

struct sched_job *sched_job_find(const char *id)
{
	return smap_get(&jobs, id);
}

size_t sched_jobs_count(void)
{
	return jobs.n;
}

void sched_jobs_each(void (*fn)(struct sched_job *j, void *arg), void *arg)
{
	smap_each(&jobs, (void (*)(void *, void *))fn, arg);
}

static void log_clear(struct sched_job *j)
{
	size_t i;

	for (i = 0; i < j->log_n; i++)
		free(j->log[(j->log_head + i) % j->log_cap].p);
	free(j->log);
	j->log = NULL;
	j->log_cap = j->log_head = j->log_n = j->log_bytes = 0;
}

/* Drop j from the DAG and from its parents' child lists (resubmission
 * of a finished id). */
static void job_unlink(struct sched_job *j)
{
	int i, k;

	if (j->dag) {
		struct sched_dag *d = j->dag;

		for (i = 0; i < d->njobs; i++) {
			if (d->jobs[i] == j) {
				d->jobs[i] = d->jobs[--d->njobs];
				break;
			}
		}
		d->count[j->state]--;
		j->dag = NULL;
	}
	for (i = 0; i < j->parents.n; i++) {
		struct sched_job *p = sched_job_find(j->parents.v[i]);

		for (k = 0; p && k < p->nchildren; k++) {
			if (p->children[k] == j) {
				p->children[k] = p->children[--p->nchildren];
				break;
			}
		}
	}
}

static void job_reset(struct sched_job *j)
{
	job_unlink(j);
	sched_timer_stop(&j->timer);
	rq_remove(j);
	free(j->cap);
	free(j->payload);
	free(j->cwd);
	free(j->worker);
	free(j->pref_worker);
	free(j->result);
	free(j->children);
	sched_strv_free(&j->parents);
	sched_strv_free(&j->argv);
	sched_strv_free(&j->env);
	log_clear(j);
	{
		char *id = j->id;

		memset(j, 0, sizeof(*j));
		j->id = id;
	}
}

struct sched_job *sched_job_new(struct sched_spec *s, struct sched_dag *d,
				int64_t now_ms)
{
	struct sched_job *j = sched_job_find(s->id);
	bool fresh = !j;

	if (j) {
		job_reset(j);
		free(s->id);
	} else {
		j = calloc(1, sizeof(*j));
		if (!j)
			return NULL;
		j->id = s->id;
	}
	s->id = NULL;
	j->state = SCHED_PENDING;
	j->cap = s->cap;
	s->cap = NULL;
	j->prio = s->prio;
	j->retries = s->retries;
	j->timeout_ms = s->timeout_ms;
	j->ready_at_ms = s->delay_ms > 0 ? now_ms + s->delay_ms : 0;
	j->affinity = s->affinity;
	j->parents = s->parents;
	s->parents = (struct sched_strv){0};
	j->kind = s->kind;
	j->payload = s->payload;
	s->payload = NULL;
	j->argv = s->argv;
	s->argv = (struct sched_strv){0};
	j->env = s->env;
	s->env = (struct sched_strv){0};
	j->cwd = s->cwd;
	s->cwd = NULL;
	j->exit_code = -1;
	j->created_ms = now_ms;
	j->seq = ++job_seq;
	j->qidx = SIZE_MAX;
	j->active = true;
	sched_timer_init(&j->timer, job_timer);
	if (!j->cap)
		j->cap = strdup("GENERAL");
	if (fresh && smap_put(&jobs, j->id, j) < 0) {
		free(j->id);
		free(j);
		return NULL;
	}
	if (d)
		sched_dag_add(d, j);
	return j;
}

static int add_child(struct sched_job *p, struct sched_job *c)
{
	if (p->nchildren == p->capchildren) {
		int nc = p->capchildren ? p->capchildren * 2 : 4;
		struct sched_job **n =
			realloc(p->children, sizeof(*n) * (size_t)nc);

		if (!n)
			return -ENOMEM;
		p->children = n;
		p->capchildren = nc;
	}
	p->children[p->nchildren++] = c;
	return 0;
}

static void cancel_tree(struct sched_job *j, const char *why, int64_t now_ms);
static void unqueue(struct sched_worker *w, struct sched_job *j);

void sched_job_link(struct sched_job *j, int64_t now_ms)
{
	int i;
	const char *gone = NULL;

	j->unmet = 0;
	for (i = 0; i < j->parents.n; i++) {
		struct sched_job *p = sched_job_lookup(j->parents.v[i]);

		if (!p) {
			gone = j->parents.v[i];
			continue;
		}
		add_child(p, j);
		if (p->state == SCHED_COMPLETED) {
			if (j->affinity && !j->pref_worker && p->worker)
				j->pref_worker = strdup(p->worker);
			continue;
		}
		j->unmet++;
		if (p->state == SCHED_DEAD || p->state == SCHED_CANCELLED)
			gone = p->id;
	}
	if (gone && !sched_state_terminal(j->state)) {
		char why[SCHED_ID_MAX + 64];

		snprintf(why, sizeof(why), "ERROR: parent %s did not complete",
			 gone);
		cancel_tree(j, why, now_ms);
	}
}

void sched_job_ready(struct sched_job *j, int64_t now_ms)
{
	if (j->state != SCHED_PENDING || j->unmet > 0 || j->qidx != SIZE_MAX)
		return;
	if (j->ready_at_ms > now_ms) {
		sched_timer_set(&j->timer, j->ready_at_ms);
		return;
	}
	if (!j->ready_us)
		j->ready_us = tn_ustime();
	if (rq_push(j) < 0)
		tn_warn("scheduler: out of memory queueing job %s", j->id);
}

int sched_submit(struct sched_dagspec *ds, struct sched_dag *dag,
		 int64_t now_ms)
{
	struct sched_job **made = calloc((size_t)ds->n, sizeof(*made));
	int i;

	if (!made)
		return -ENOMEM;
	for (i = 0; i < ds->n; i++) {
		made[i] = sched_job_new(&ds->jobs[i], dag, now_ms);
		if (!made[i]) {
			free(made);
			return -ENOMEM;
		}
	}
	if (dag && sched_hooks.save_dag)
		sched_hooks.save_dag(dag);
	for (i = 0; i < ds->n; i++)
		save(made[i]);
	for (i = 0; i < ds->n; i++)
		sched_job_link(made[i], now_ms);
	for (i = 0; i < ds->n; i++)
		sched_job_ready(made[i], now_ms);
	free(made);
	return 0;
}

static void set_str(char **dst, const char *p, size_t n)
{
	free(*dst);
	*dst = p ? strndup(p, n) : NULL;
}

static void finish(struct sched_job *j, int st, int64_t now_ms)
{
	j->finished_us = tn_ustime();
	sched_timer_stop(&j->timer);
	rq_remove(j);
	set_state(j, st);
	j->finished_ms = now_ms;
	j->active = false;
	save(j);
	if (j->dag && sched_hooks.save_dag &&
	    j->dag->count[SCHED_PENDING] + j->dag->count[SCHED_RUNNING] +
		    j->dag->count[SCHED_FAILED] ==
		0)
		sched_hooks.save_dag(j->dag);
}

/* Cancel j and every descendant that has not finished (iteratively: a
 * chain may be long). */
static void cancel_tree(struct sched_job *j, const char *why, int64_t now_ms)
{
	struct sched_job **stack = NULL;
	size_t n = 0, cap = 0;

	for (;;) {
		int i;

		if (!sched_state_terminal(j->state)) {
			if (j->state == SCHED_RUNNING && j->slot_held &&
			    sched_hooks.cancel) {
				struct sched_worker *w =
					sched_worker_find(j->worker);

				/* queued there: it drops it without starting
				 * anything in its place */
				if (w && j->queued)
					unqueue(w, j);
				if (w)
					sched_hooks.cancel(w, j);
			}
			if (why)
				set_str(&j->result, why, strlen(why));
			finish(j, SCHED_CANCELLED, now_ms);
			for (i = 0; i < j->nchildren; i++) {
				if (n == cap) {
					size_t nc = cap ? cap * 2 : 64;
					struct sched_job **ns = realloc(
						stack, sizeof(*ns) * nc);

					if (!ns)
						break;
					stack = ns;
					cap = nc;
				}
				stack[n++] = j->children[i];
			}
		}
		if (n == 0)
			break;
		j = stack[--n];
		why = "ERROR: an ancestor did not complete";
	}
	free(stack);
}

/* Take j off its worker's queue (it never started there). */
static void unqueue(struct sched_worker *w, struct sched_job *j)
{
	int i;

	for (i = 0; w && i < w->nqueued; i++) {
		if (w->queued[i] != j)
			continue;
		w->nqueued--;
		memmove(&w->queued[i], &w->queued[i + 1],
			sizeof(*w->queued) * (size_t)(w->nqueued - i));
		break;
	}
}

static void arm_timeout(struct sched_job *j, struct sched_worker *w,
			int64_t now_ms)
{
	if (j->timeout_ms > 0)
		sched_timer_set(&j->timer,
				now_ms + j->timeout_ms +
					(w->link ? SCHED_TIMEOUT_GRACE_MS : 0));
}

/*
 * A started job left w: the worker starts the oldest job it holds
 * queued in that slot at once (before it reports), so that job's run,
 * and its time limit, begin now.
 */
static void queue_advance(struct sched_worker *w)
{
	struct sched_job *q;

	if (!w->nqueued)
		return;
	q = w->queued[0];
	memmove(&w->queued[0], &w->queued[1],
		sizeof(*w->queued) * (size_t)(w->nqueued - 1));
	w->nqueued--;
	q->queued = false;
	q->started_ms = tn_mstime();
	q->started_us = tn_ustime();
	arm_timeout(q, w, q->started_ms);
}

void sched_worker_release(struct sched_job *j)
{
	struct sched_worker *w;
	bool was_queued = j->queued;

	if (!j->slot_held)
		return;
	j->slot_held = false;
	j->queued = false;
	w = sched_worker_find(j->worker);
	if (w && was_queued)
		unqueue(w, j);
	else if (w)
		queue_advance(w);
	if (w && w->running > 0) {
		w->running--;
		kick_wanted = true;
		sched_workers_changed();
	}
}

void sched_workers_changed(void)
{
	if (sched_hooks.workers_changed)
		sched_hooks.workers_changed();
}

void sched_job_completed(struct sched_job *j, int exit_code,
			 const char *result, size_t rlen, int64_t now_ms)
{
	int i;

	if (j->state != SCHED_RUNNING)
		return;
	j->exit_code = exit_code;
	set_str(&j->result, result, rlen);
	finish(j, SCHED_COMPLETED, now_ms);
	/* after finished_us: the job queued behind it starts now */
	sched_worker_release(j);
	for (i = 0; i < j->nchildren; i++) {
		struct sched_job *c = j->children[i];

		if (c->state != SCHED_PENDING)
			continue;
		if (c->affinity && !c->pref_worker && j->worker)
			c->pref_worker = strdup(j->worker);
		if (c->unmet > 0 && --c->unmet == 0) {
			/* dependency met: the moment its last parent ended */
			c->ready_us = j->finished_us;
			sched_job_ready(c, now_ms);
		}
	}
}

void sched_job_failed(struct sched_job *j, int exit_code, const char *result,
		      size_t rlen, bool retry, int64_t now_ms)
{
	int i;

	if (j->state != SCHED_RUNNING)
		return;
	sched_worker_release(j);
	sched_timer_stop(&j->timer);
	j->exit_code = exit_code;
	set_str(&j->result, result, rlen);
	if (retry && j->attempts <= j->retries) {
		set_state(j, SCHED_PENDING);
		j->ready_at_ms = now_ms + sched_backoff_ms(j->attempts);
		j->ready_us = 0;
		save(j);
		sched_job_ready(j, now_ms);
		return;
	}
	finish(j, SCHED_DEAD, now_ms);
	for (i = 0; i < j->nchildren; i++)
		cancel_tree(j->children[i], "ERROR: an ancestor did not complete",
			    now_ms);
}

void sched_job_requeue(struct sched_job *j, int64_t now_ms)
{
	if (j->state != SCHED_RUNNING) {
		sched_worker_release(j);
		return;
	}
	sched_worker_release(j);
	sched_timer_stop(&j->timer);
	if (j->attempts > 0)
		j->attempts--;
	j->unconfirmed = false;
	set_state(j, SCHED_PENDING);
	j->ready_at_ms = 0;
	j->ready_us = 0;
	save(j);
	sched_job_ready(j, now_ms);
}

bool sched_job_cancel(struct sched_job *j, int64_t now_ms)
{
	if (sched_state_terminal(j->state))
		return false;
	cancel_tree(j, "ERROR: cancelled", now_ms);
	return true;
}

static void job_timer(struct sched_timer *t)
{
	struct sched_job *j = (struct sched_job *)((char *)t -
						   offsetof(struct sched_job,
							    timer));
	int64_t now = tn_mstime();

	if (j->state == SCHED_PENDING) {
		j->ready_at_ms = 0;
		j->ready_us = 0; /* runnable from now: its delay is over */
		sched_job_ready(j, now);
	} else if (j->state == SCHED_RUNNING) {
		char msg[96];
		struct sched_worker *w = sched_worker_find(j->worker);
		int n;

		if (w && sched_hooks.cancel)
			sched_hooks.cancel(w, j);
		n = snprintf(msg, sizeof(msg), "ERROR: timed out after %lld ms",
			     (long long)j->timeout_ms);
		sched_job_failed(j, -1, msg, (size_t)n, true, now);
	}
}

void sched_job_log(struct sched_job *j, const char *line, size_t n)
{
	sched_job_log_stream(j, 'o', line, n);
}

void sched_job_log_stream(struct sched_job *j, char stream, const char *line,
			  size_t n)
{
	size_t max = (size_t)(sched_log_max_bytes > 0 ? sched_log_max_bytes
						       : 1);
	struct sched_logline *l;

	stream = stream == 'e' ? 'e' : 'o';
	if (sched_hooks.publish_log)
		sched_hooks.publish_log(j, stream, line, n);
	if (n > max)
		n = max;
	while (j->log_n > 0 && j->log_bytes + n > max) {
		l = &j->log[j->log_head];
		j->log_bytes -= l->n;
		free(l->p);
		j->log_head = (j->log_head + 1) % j->log_cap;
		j->log_n--;
	}
	if (j->log_n == j->log_cap) {
		size_t nc = j->log_cap ? j->log_cap * 2 : 16, i;
		struct sched_logline *nl = malloc(sizeof(*nl) * nc);

		if (!nl)
			return;
		for (i = 0; i < j->log_n; i++)
			nl[i] = j->log[(j->log_head + i) % j->log_cap];
		free(j->log);
		j->log = nl;
		j->log_cap = nc;
		j->log_head = 0;
	}
	l = &j->log[(j->log_head + j->log_n) % j->log_cap];
	l->p = malloc(n ? n : 1);
	if (!l->p)
		return;
	memcpy(l->p, line, n);
	l->n = n;
	l->stream = stream;
	j->log_n++;
	j->log_bytes += n;
}

void sched_job_log_tail(struct sched_job *j, size_t max, struct tn_buf *b)
{
	size_t i, from = j->log_n > max ? j->log_n - max : 0;

	for (i = from; i < j->log_n; i++) {
		const struct sched_logline *l =
			&j->log[(j->log_head + i) % j->log_cap];

		if (i > from)
			tn_buf_append(b, "\n", 1);
		tn_buf_append(b, l->p, l->n);
	}
}

/* ------------------------------------------------------------------ */
/* DAGs                                                                 */
/* ------------------------------------------------------------------ */

struct sched_dag *sched_dag_new(const char *id, int64_t now_ms)
{
	struct sched_dag *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->id = strdup(id);
	d->created_ms = now_ms;
	if (!d->id || smap_put(&dags, d->id, d) < 0) {
		free(d->id);
		free(d);
		return NULL;
	}
	return d;
}

struct sched_dag *sched_dag_find(const char *id)
{
	return smap_get(&dags, id);
}

void sched_dag_add(struct sched_dag *d, struct sched_job *j)
{
	struct sched_job **n;

	n = realloc(d->jobs, sizeof(*n) * (size_t)(d->njobs + 1));
	if (!n)
		return;
	d->jobs = n;
	d->jobs[d->njobs++] = j;
	d->count[j->state]++;
	j->dag = d;
}

const char *sched_dag_state(const struct sched_dag *d)
{
	if (d->count[SCHED_RUNNING])
		return "RUNNING";
	if (d->count[SCHED_PENDING] || d->count[SCHED_FAILED])
		return "PENDING";
	if (d->count[SCHED_DEAD])
		return "DEAD";
	if (d->count[SCHED_CANCELLED])
		return "CANCELLED";
	return "COMPLETED";
}

void sched_dags_each(void (*fn)(struct sched_dag *d, void *arg), void *arg)
{
	smap_each(&dags, (void (*)(void *, void *))fn, arg);
}

/* ------------------------------------------------------------------ */
/* Workers and dispatch                                                 */
/* ------------------------------------------------------------------ */

struct sched_worker *sched_worker_find(const char *id)
{
	int i;

	if (!id)
		return NULL;
	for (i = 0; i < nworkers; i++)
		if (strcmp(workers[i]->id, id) == 0)
			return workers[i];
	return NULL;
}

struct sched_worker *sched_worker_get(const char *id)
{
	struct sched_worker *w = sched_worker_find(id), **n;

	if (w)
		return w;
	n = realloc(workers, sizeof(*n) * (size_t)(nworkers + 1));
	if (!n)
		return NULL;
	workers = n;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->id = strdup(id);
	w->host = strdup("");
	w->capacity = 1;
	if (!w->id || !w->host) {
		free(w->id);
		free(w->host);
		free(w);
		return NULL;
	}
	sched_timer_init(&w->ping, NULL);
	workers[nworkers++] = w;
	return w;
}

void sched_workers_each(void (*fn)(struct sched_worker *w, void *arg),
			void *arg)
{
	int i;

	for (i = 0; i < nworkers; i++)
		fn(workers[i], arg);
}

bool sched_worker_has_cap(const struct sched_worker *w, const char *cap)
{
	int i;

	for (i = 0; i < w->caps.n; i++)
		if (strcmp(w->caps.v[i], cap) == 0)
			return true;
	return false;
}

struct dead_ctx {
	struct sched_worker *w;
	int64_t now;
};

static void requeue_on(struct sched_job *j, void *arg)
{
	struct dead_ctx *x = arg;

	if (j->slot_held && j->worker && strcmp(j->worker, x->w->id) == 0)
		sched_job_requeue(j, x->now);
}

void sched_worker_dead(struct sched_worker *w, int64_t now_ms)
{
	struct dead_ctx x = {w, now_ms};

	w->alive = false;
	while (w->nqueued > 0)
		w->queued[--w->nqueued]->queued = false;
	sched_jobs_each(requeue_on, &x);
	w->running = 0;
	sched_workers_changed();
}

static bool can_take(const struct sched_worker *w, const char *cap)
{
	return w->alive && (w->link || w->v1) &&
	       w->running < w->capacity + (w->link ? w->prefetch : 0) &&
	       sched_worker_has_cap(w, cap);
}

static struct sched_worker *pick(const struct sched_job *j)
{
	struct sched_worker *best = NULL;
	int i;

	if (j->affinity && j->pref_worker) {
		best = sched_worker_find(j->pref_worker);
		if (best && can_take(best, j->cap))
			return best;
		best = NULL;
	}
	for (i = 0; i < nworkers; i++) {
		struct sched_worker *w = workers[i];

		if (!can_take(w, j->cap))
			continue;
		/* least loaded by fraction of capacity, first minimum */
		if (!best || (long long)w->running * best->capacity <
				     (long long)best->running * w->capacity)
			best = w;
	}
	return best;
}

static void start(struct sched_job *j, struct sched_worker *w,
		  int64_t now_ms)
{
	int r;

	set_state(j, SCHED_RUNNING);
	j->attempts++;
	set_str(&j->worker, w->id, strlen(w->id));
	j->slot_held = true;
	j->unconfirmed = false;
	j->started_ms = now_ms;
	j->started_us = tn_ustime();
	if (w->running >= w->capacity && w->nqueued == w->capqueued) {
		int nc = w->capqueued ? w->capqueued * 2 : 4;
		struct sched_job **nq =
			realloc(w->queued, sizeof(*nq) * (size_t)nc);

		if (nq) {
			w->queued = nq;
			w->capqueued = nc;
		}
	}
	if (w->running >= w->capacity && w->nqueued < w->capqueued) {
		/* prefetch: queued on the worker behind its running jobs;
		 * it starts (and its clock runs) when one of them ends */
		w->queued[w->nqueued++] = j;
		j->queued = true;
	} else {
		/* (out of memory for the queue: its clock runs from now) */
		arm_timeout(j, w, now_ms);
	}
	w->running++;
	sched_workers_changed();
	save(j);
	r = sched_hooks.dispatch ? sched_hooks.dispatch(w, j) : 0;
	if (r < 0) {
		char msg[SCHED_ID_MAX + 64];
		int n;

		if (r == -ENOTSUP)
			n = snprintf(msg, sizeof(msg),
				     "ERROR: services and archive jobs are "
				     "not supported by this scheduler");
		else
			n = snprintf(msg, sizeof(msg),
				     "ERROR: dispatch to worker %s failed: %s",
				     w->id, strerror(-r));
		sched_job_failed(j, -1, msg, (size_t)n, r != -ENOTSUP,
				 now_ms);
	}
}

void sched_kick(int64_t now_ms)
{
	int i;

	if (!kick_wanted)
		return;
	kick_wanted = false;
	for (i = 0; i < nrqs; i++) {
		struct rq *q = &rqs[i];

		while (q->n > 0) {
			struct sched_job *j = q->h[0];
			struct sched_worker *w = pick(j);

			if (!w) {
				/* affinity may still fit another job: try
				 * the plain pick for the queue head only */
				break;
			}
			rq_remove(j);
			start(j, w, now_ms);
		}
	}
}

void sched_kick_want(void)
{
	kick_wanted = true;
}
