/*
 * web_sched.c - the scheduler as the dashboard's data source: the JSON
 * serialisers of JOB_INFO, DAG_INFO and WORKERS_JSON behind the
 * tn_web_source callbacks, and hooks that tell the dashboard of changes.
 */
#include <errno.h>
#include <string.h>

#include "daemon/daemon.h"
#include "util/util.h"
#include "workers/sched.h"
#include "workers/web.h"

static struct sched_hooks chained; /* the hooks we wrap */

static int src_workers(struct tn_buf *b, void *arg)
{
	sched_json_workers(b);
	return 0;
}

static int src_dags(struct tn_buf *b, void *arg)
{
	sched_json_dags(b);
	return 0;
}

static int src_dag(const char *id, struct tn_buf *b, void *arg)
{
	struct sched_dag *d = sched_dag_find(id);

	if (!d)
		return -ENOENT;
	sched_json_dag(b, d);
	return 0;
}

static struct sched_job *find(const char *id)
{
	struct sched_job *j = sched_job_find(id);

	return j ? j : sched_job_lookup(id);
}

static int src_job(const char *id, struct tn_buf *b, void *arg)
{
	struct sched_job *j = find(id);

	if (!j)
		return -ENOENT;
	sched_json_job(b, j);
	return 0;
}

struct counts {
	long long n[SCHED_NSTATES];
};

static void count_job(struct sched_job *j, void *arg)
{
	struct counts *c = arg;

	if (j->state >= 0 && j->state < SCHED_NSTATES)
		c->n[j->state]++;
}

static int src_counts(struct tn_buf *b, void *arg)
{
	struct counts c = { { 0 } };
	int i;

	sched_jobs_each(count_job, &c);
	tn_buf_append(b, "{", 1);
	for (i = 0; i < SCHED_NSTATES; i++)
		tn_buf_printf(b, "%s\"%s\":%lld", i ? "," : "",
			      sched_state_name(i), c.n[i]);
	return tn_buf_append(b, "}", 1);
}

static long long src_finished(void *arg)
{
	struct counts c = { { 0 } };

	sched_jobs_each(count_job, &c);
	return c.n[SCHED_COMPLETED] + c.n[SCHED_DEAD] + c.n[SCHED_CANCELLED];
}

/* The buffered history, each line with the stream it came on. */
static int src_log(const char *id, tn_web_emit_fn *emit, void *ctx,
		   void *arg)
{
	struct sched_job *j = find(id);
	size_t i;

	if (!j)
		return -ENOENT;
	for (i = 0; i < j->log_n; i++) {
		const struct sched_logline *l =
			&j->log[(j->log_head + i) % j->log_cap];

		emit(ctx, l->stream == 'e' ? 'e' : 'o', l->p, l->n);
	}
	return 0;
}

static void hook_save_job(struct sched_job *j)
{
	if (chained.save_job)
		chained.save_job(j);
	tn_web_job_changed(j->id);
	if (j->dag)
		tn_web_dag_changed(j->dag->id);
}

static void hook_save_dag(struct sched_dag *d)
{
	if (chained.save_dag)
		chained.save_dag(d);
	tn_web_dag_changed(d->id);
}

static void hook_publish_log(struct sched_job *j, char stream,
			     const char *line, size_t n)
{
	if (chained.publish_log)
		chained.publish_log(j, stream, line, n);
	tn_web_log_line(j->id, stream, line, n);
}

int tn_web_sched_start(void)
{
	static const struct tn_web_source src = {
		.workers = src_workers,
		.dags = src_dags,
		.dag = src_dag,
		.job = src_job,
		.job_counts = src_counts,
		.job_log = src_log,
		.finished = src_finished,
	};
	struct tn_web_opts o = { .token = tn_conf->titan_auth_token };
	int fd;

	if (tn_rt.nhttp == 0)
		return -ENOENT;
	fd = tn_web_init(tn_rt.http_fd, tn_rt.nhttp, &src, &o);
	if (fd < 0) {
		tn_warn("scheduler: cannot start the dashboard on http-port "
			"%d: %s", tn_conf->http_port, strerror(-fd));
		return fd;
	}
	chained = sched_hooks;
	sched_hooks.save_job = hook_save_job;
	sched_hooks.save_dag = hook_save_dag;
	sched_hooks.publish_log = hook_publish_log;
	sched_hooks.workers_changed = tn_web_workers_changed;
	tn_notice("scheduler: dashboard on http-port %d%s", tn_conf->http_port,
		  o.token[0] ? " (token required)" : "");
	return fd;
}
