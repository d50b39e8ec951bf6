/*
 * test_dag.c - the scheduler's job layer without a server: v1 DAG line
 * parsing (SDK layout, EXEC form), validation (diamond, fan-out, cycle,
 * missing parent, duplicate), and the state machine with fake hooks.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "ipc/proto.h"
#include "workers/sched.h"

static int parse_ok(const char *body, struct sched_dagspec *d)
{
	char err[256] = "";
	int r = sched_dag_parse(body, strlen(body), d, err, sizeof(err));

	cr_assert_eq(r, 0, "parse failed: %s", err);
	r = sched_dag_validate(d, NULL, NULL, err, sizeof(err));
	cr_assert_eq(r, 0, "validate failed: %s", err);
	return d->n;
}

static void reject(const char *body, const char *want)
{
	struct sched_dagspec d;
	char err[256] = "";
	int r = sched_dag_parse(body, strlen(body), &d, err, sizeof(err));

	if (r == 0)
		r = sched_dag_validate(&d, NULL, NULL, err, sizeof(err));
	cr_assert_neq(r, 0, "accepted: %s", body);
	cr_assert_str_eq(err, want);
	sched_dag_free(&d);
}

Test(dag, sdk_layout)
{
	struct sched_dagspec d;

	parse_ok("a|RUN_PAYLOAD|a.py||aGk=|GENERAL|1|0|[] ; "
		 "b|RUN_PAYLOAD|b.py|x y|aGk=|GPU|5|250|[a]|AFFINITY ; "
		 "c|RUN_PAYLOAD|c.py||aGk=|GENERAL|1|0|[a, DAG-b]",
		 &d);
	cr_assert_eq(d.n, 3);
	cr_assert_str_eq(d.jobs[0].id, "DAG-a");
	cr_assert_str_eq(d.jobs[0].payload,
			 "RUN_PAYLOAD|a.py||aGk=|GENERAL|DAG-a");
	cr_assert_str_eq(d.jobs[0].cap, "GENERAL");
	cr_assert_str_eq(d.jobs[1].cap, "GPU");
	cr_assert_eq(d.jobs[1].prio, 5);
	cr_assert_eq(d.jobs[1].delay_ms, 250);
	cr_assert(d.jobs[1].affinity);
	cr_assert_eq(d.jobs[1].parents.n, 1);
	cr_assert_str_eq(d.jobs[1].parents.v[0], "DAG-a");
	cr_assert_eq(d.jobs[2].parents.n, 2);
	cr_assert_str_eq(d.jobs[2].parents.v[1], "DAG-b");
	cr_assert_eq(d.jobs[0].retries, SCHED_DEFAULT_RETRIES);
	sched_dag_free(&d);
}

Test(dag, generic_and_requirement)
{
	char *r = sched_v1_requirement("GPU|train.py|DAG-x", "DAG-x");

	cr_assert_str_eq(r, "GPU");
	free(r);
	/* the SKILL slot is ignored for header payloads (4.3) */
	r = sched_v1_requirement("GPU|RUN_PAYLOAD|f.py||aGk=|DAG-x", "DAG-x");
	cr_assert_str_eq(r, "GENERAL");
	free(r);
	r = sched_v1_requirement("INTERNAL_SCALE|x", "y");
	cr_assert_str_eq(r, "GENERAL");
	free(r);
}

Test(dag, exec_form)
{
	struct sched_dagspec d;
	char line[512], argv[64], env[64], cwd[32];

	tn_b64_encode("/bin/echo\0hi", 12, argv);
	tn_b64_encode("A=1\0B=2", 7, env);
	tn_b64_encode("/tmp", 4, cwd);
	snprintf(line, sizeof(line), "x|GENERAL|EXEC|%s|2|1500|%s|%s|7|0|[]",
		 argv, env, cwd);
	parse_ok(line, &d);
	cr_assert_eq(d.jobs[0].kind, SCHED_K_EXEC);
	cr_assert_eq(d.jobs[0].argv.n, 2);
	cr_assert_str_eq(d.jobs[0].argv.v[1], "hi");
	cr_assert_eq(d.jobs[0].env.n, 2);
	cr_assert_str_eq(d.jobs[0].cwd, "/tmp");
	cr_assert_eq(d.jobs[0].retries, 2);
	cr_assert_eq(d.jobs[0].timeout_ms, 1500);
	cr_assert_eq(d.jobs[0].prio, 7);
	sched_dag_free(&d);
	reject("x|GENERAL|EXEC||2|0|||1|0|[]",
	       "line 1: job x: bad argv (Base64 of NUL-separated arguments, "
	       "not empty)");
	reject("x|GENERAL|EXEC|!!|2|0|||1|0|[]",
	       "line 1: job x: bad argv (Base64 of NUL-separated arguments, "
	       "not empty)");
}

Test(dag, bad_lines)
{
	reject("a|GENERAL|x|1|0", "line 1: cannot parse: no [parents] field");
	reject("a|GENERAL|x|1|zz|[]", "line 1: cannot parse: bad delay field");
	reject("a|GENERAL|x|p|0|[]",
	       "line 1: cannot parse: bad priority field");
	reject("ok|G|x|1|0|[] ; |G|x|1|0|[]",
	       "line 2: cannot parse: empty or too long job id");
	reject("", "no jobs in the DAG");
}

Test(dag, diamond_and_cycle)
{
	struct sched_dagspec d;

	parse_ok("a|G|x|1|0|[];b|G|x|1|0|[a];c|G|x|1|0|[a];d|G|x|1|0|[b,c]",
		 &d);
	cr_assert_eq(d.n, 4);
	sched_dag_free(&d);
	reject("a|G|x|1|0|[b];b|G|x|1|0|[a]", "cycle: a -> b -> a");
	reject("a|G|x|1|0|[a]", "cycle: a -> a");
	reject("a|G|x|1|0|[];b|G|x|1|0|[a,d];c|G|x|1|0|[b];d|G|x|1|0|[c]",
	       "cycle: b -> c -> d -> b");
	reject("a|G|x|1|0|[];b|G|x|1|0|[zz]", "job b: unknown parent zz");
	reject("a|G|x|1|0|[];a|G|y|1|0|[]", "duplicate job id a");
}

Test(dag, fanout_1000)
{
	struct tn_buf b = {0};
	struct sched_dagspec d;
	int i;

	tn_buf_printf(&b, "root|G|x|1|0|[]");
	for (i = 0; i < 1000; i++)
		tn_buf_printf(&b, " ; n%d|G|x|1|0|[root]", i);
	tn_buf_append(&b, "", 1);
	parse_ok(b.data, &d);
	cr_assert_eq(d.n, 1001);
	sched_dag_free(&d);
	tn_buf_free(&b);
}

/* ------------------------------------------------------------------ */
/* State machine with fake hooks                                        */
/* ------------------------------------------------------------------ */

static char dispatched[64][64];
static int ndispatched, ncancelled;

static int fake_dispatch(struct sched_worker *w, struct sched_job *j)
{
	if (ndispatched < 64)
		snprintf(dispatched[ndispatched], 64, "%s@%s", j->id, w->id);
	ndispatched++;
	return 0;
}

static void fake_cancel(struct sched_worker *w, struct sched_job *j)
{
	ncancelled++;
}

static struct sched_worker *mkworker(const char *id, int cap)
{
	struct sched_worker *w = sched_worker_get(id);

	cr_assert_not_null(w);
	w->alive = true;
	w->link = (void *)1;
	w->capacity = cap;
	if (w->caps.n == 0)
		sched_strv_push(&w->caps, "G", 1);
	return w;
}

static void submit(const char *body)
{
	struct sched_dagspec d;
	static int n;
	char id[32];

	parse_ok(body, &d);
	snprintf(id, sizeof(id), "D-t%d", n++);
	cr_assert_eq(sched_submit(&d, sched_dag_new(id, 1), 1000), 0);
	sched_dag_free(&d);
}

static void init_hooks(void)
{
	sched_hooks.dispatch = fake_dispatch;
	sched_hooks.cancel = fake_cancel;
	ndispatched = ncancelled = 0;
}

TestSuite(sched_sm, .init = init_hooks);

Test(sched_sm, diamond_order_and_retry)
{
	struct sched_worker *w = mkworker("w1", 4);
	struct sched_job *a, *b, *c, *d;

	submit("a|G|x|1|0|[];b|G|x|1|0|[a];c|G|x|2|0|[a];d|G|x|1|0|[b,c]");
	sched_kick_want();
	sched_kick(1000);
	cr_assert_eq(ndispatched, 1);
	cr_assert_str_eq(dispatched[0], "DAG-a@w1");
	a = sched_job_find("DAG-a");
	b = sched_job_find("DAG-b");
	c = sched_job_find("DAG-c");
	d = sched_job_find("DAG-d");
	cr_assert_eq(a->state, SCHED_RUNNING);
	cr_assert_eq(w->running, 1);
	sched_job_completed(a, 0, "ok", 2, 1001);
	cr_assert_eq(w->running, 0);
	sched_kick(1001);
	cr_assert_eq(ndispatched, 3);
	/* c has the higher priority */
	cr_assert_str_eq(dispatched[1], "DAG-c@w1");
	cr_assert_str_eq(dispatched[2], "DAG-b@w1");
	cr_assert_eq(d->unmet, 2);
	/* b fails once: back to PENDING with a backoff, not dispatched */
	sched_job_failed(b, 1, "FAILED|1|x", 10, true, 1002);
	cr_assert_eq(b->state, SCHED_PENDING);
	cr_assert_eq(b->ready_at_ms, 1002 + SCHED_BACKOFF_BASE_MS);
	sched_kick(1002);
	cr_assert_eq(ndispatched, 3);
	sched_timers_run(1002 + SCHED_BACKOFF_BASE_MS);
	sched_kick(1002 + SCHED_BACKOFF_BASE_MS);
	cr_assert_eq(ndispatched, 4);
	cr_assert_eq(b->attempts, 2);
	sched_job_completed(b, 0, "", 0, 2000);
	sched_job_completed(c, 0, "", 0, 2000);
	cr_assert_eq(d->unmet, 0);
	sched_kick(2000);
	cr_assert_str_eq(dispatched[4], "DAG-d@w1");
	sched_job_completed(d, 0, "", 0, 2001);
	cr_assert_str_eq(sched_dag_state(d->dag), "COMPLETED");
}

Test(sched_sm, dead_cancels_descendants_and_backoff)
{
	struct sched_job *a, *b, *c;
	int i;

	mkworker("w1", 4);
	cr_assert_eq(sched_backoff_ms(1), SCHED_BACKOFF_BASE_MS);
	cr_assert_eq(sched_backoff_ms(2), 2 * SCHED_BACKOFF_BASE_MS);
	cr_assert_eq(sched_backoff_ms(40), SCHED_BACKOFF_MAX_MS);
	submit("x|G|EXEC|L2Jpbi9mYWxzZQ==|1|0|||1|0|[];"
	       "y|G|x|1|0|[x];z|G|x|1|0|[y]");
	a = sched_job_find("DAG-x");
	b = sched_job_find("DAG-y");
	c = sched_job_find("DAG-z");
	for (i = 0; i < 2; i++) {
		sched_kick_want();
		sched_kick(5000 + i * 100000);
		cr_assert_eq(a->state, SCHED_RUNNING, "attempt %d", i + 1);
		sched_job_failed(a, 1, "FAILED|1|", 9, true,
				 5000 + i * 100000);
		sched_timers_run(5000 + i * 100000 + SCHED_BACKOFF_MAX_MS);
	}
	cr_assert_eq(a->state, SCHED_DEAD);
	cr_assert_eq(a->attempts, 2);
	cr_assert_eq(b->state, SCHED_CANCELLED);
	cr_assert_eq(c->state, SCHED_CANCELLED);
}

Test(sched_sm, timeout_and_worker_death)
{
	struct sched_worker *w1 = mkworker("w1", 1), *w2;
	struct sched_job *t, *u;

	submit("t|G|EXEC|L2Jpbi9zbGVlcAA1|0|100|||1|0|[];"
	       "u|G|x|1|0|[]");
	sched_kick_want();
	sched_kick(1000);
	t = sched_job_find("DAG-t");
	u = sched_job_find("DAG-u");
	cr_assert_eq(t->state, SCHED_RUNNING);
	cr_assert_eq(u->state, SCHED_PENDING, "capacity 1");
	/* the guard timer: timeout + grace for a linked worker */
	sched_timers_run(1000 + 100 + SCHED_TIMEOUT_GRACE_MS);
	cr_assert_eq(t->state, SCHED_DEAD);
	cr_assert_str_eq(t->result, "ERROR: timed out after 100 ms");
	cr_assert_eq(ncancelled, 1);
	sched_kick(5000);
	cr_assert_eq(u->state, SCHED_RUNNING);
	cr_assert_str_eq(u->worker, "w1");
	/* w1 dies: u goes back to PENDING, attempt not counted, runs on w2 */
	sched_worker_dead(w1, 6000);
	cr_assert_eq(u->state, SCHED_PENDING);
	cr_assert_eq(u->attempts, 0);
	w2 = mkworker("w2", 2);
	sched_kick_want();
	sched_kick(6001);
	cr_assert_eq(u->state, SCHED_RUNNING);
	cr_assert_str_eq(u->worker, "w2");
	cr_assert_eq(w2->running, 1);
	cr_assert(sched_job_cancel(u, 6002));
	cr_assert_eq(u->state, SCHED_CANCELLED);
	cr_assert_not(sched_job_cancel(u, 6003));
}

Test(sched_sm, log_ring_bounded)
{
	struct sched_job *j;
	struct tn_buf b = {0};
	int i;
	char line[16];

	sched_log_max_bytes = 100;
	submit("lg|G|x|1|0|[]");
	j = sched_job_find("DAG-lg");
	for (i = 0; i < 50; i++) {
		int n = snprintf(line, sizeof(line), "line%02d", i);

		sched_job_log(j, line, (size_t)n);
	}
	cr_assert_leq(j->log_bytes, 100);
	sched_job_log_tail(j, 2, &b);
	tn_buf_append(&b, "", 1);
	cr_assert_str_eq(b.data, "line48\nline49");
	tn_buf_free(&b);
}

/*
 * Prefetch: a worker that takes jobs beyond its capacity holds them
 * queued, oldest first; the head starts, and its time limit begins, when
 * a started job ends there; a cancelled queued job starts nothing in its
 * place; a dead worker's queued jobs go back to PENDING.
 */
Test(sched_sm, prefetch_queue)
{
	struct sched_worker *w = mkworker("w1", 1);
	struct sched_job *a, *b, *c, *d;

	w->prefetch = 1;
	submit("a|G|EXEC|L2Jpbi9zbGVlcAA1|0|100|||1|0|[];"
	       "b|G|EXEC|L2Jpbi9zbGVlcAA1|0|100|||1|0|[];"
	       "c|G|x|1|0|[];d|G|x|1|0|[]");
	a = sched_job_find("DAG-a");
	b = sched_job_find("DAG-b");
	c = sched_job_find("DAG-c");
	d = sched_job_find("DAG-d");
	sched_kick_want();
	sched_kick(1000);
	cr_assert_eq(ndispatched, 2, "capacity 1 + prefetch 1");
	cr_assert_str_eq(dispatched[0], "DAG-a@w1");
	cr_assert_str_eq(dispatched[1], "DAG-b@w1");
	cr_assert_eq(a->state, SCHED_RUNNING);
	cr_assert_eq(b->state, SCHED_RUNNING, "queued jobs are RUNNING there");
	cr_assert_not(a->queued);
	cr_assert(b->queued);
	cr_assert_eq(w->running, 2);
	cr_assert_eq(w->nqueued, 1);
	cr_assert_neq(a->timer.idx, SIZE_MAX, "a's time limit runs");
	cr_assert_eq(b->timer.idx, SIZE_MAX, "b's does not, yet");
	cr_assert_eq(c->state, SCHED_PENDING);
	/* a ends: b starts there at once, c is sent to queue behind it */
	sched_job_completed(a, 0, "", 0, 1050);
	cr_assert_not(b->queued);
	cr_assert_eq(w->nqueued, 0);
	cr_assert_neq(b->timer.idx, SIZE_MAX, "b's time limit runs now");
	cr_assert_geq(b->started_us, a->finished_us);
	sched_kick(1050);
	cr_assert_eq(ndispatched, 3);
	cr_assert(c->queued);
	cr_assert_eq(w->running, 2);
	/* c is cancelled while queued: the worker drops it and reports */
	cr_assert(sched_job_cancel(c, 1060));
	cr_assert_eq(c->state, SCHED_CANCELLED);
	cr_assert_eq(ncancelled, 1);
	cr_assert_eq(w->nqueued, 0);
	cr_assert_eq(w->running, 2, "until the worker says so");
	sched_worker_release(c);
	cr_assert_eq(w->running, 1);
	cr_assert_eq(b->timer.idx != SIZE_MAX, true, "b still runs");
	sched_kick(1070);
	cr_assert_eq(ndispatched, 4);
	cr_assert(d->queued, "b still holds the slot");
	/* the worker dies: b and d are PENDING again, attempts not counted */
	sched_worker_dead(w, 1080);
	cr_assert_eq(b->state, SCHED_PENDING);
	cr_assert_eq(d->state, SCHED_PENDING);
	cr_assert_eq(b->attempts, 0);
	cr_assert_eq(d->attempts, 0);
	cr_assert_not(d->queued);
	cr_assert_eq(w->nqueued, 0);
	cr_assert_eq(w->running, 0);
}
