/*
 * sched_json.c - the JSON replies: v1's STATS_JSON shape (TITAN_PROTO.md
 * 9.1, with strings escaped), and JOB_INFO, DAG_INFO, WORKERS_JSON of
 * the v2 extensions.
 */
#include <stdio.h>
#include <string.h>

#include "util/util.h"
#include "workers/sched.h"

void sched_json_str(struct tn_buf *b, const char *s, size_t n)
{
	size_t i;

	tn_buf_append(b, "\"", 1);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};

			tn_buf_append(b, e, 2);
		} else if (c == '\n') {
			tn_buf_append(b, "\\n", 2);
		} else if (c == '\r') {
			tn_buf_append(b, "\\r", 2);
		} else if (c == '\t') {
			tn_buf_append(b, "\\t", 2);
		} else if (c < 0x20) {
			tn_buf_printf(b, "\\u%04x", c);
		} else {
			tn_buf_append(b, s + i, 1);
		}
	}
	tn_buf_append(b, "\"", 1);
}

void sched_json_cstr(struct tn_buf *b, const char *s)
{
	if (s)
		sched_json_str(b, s, strlen(s));
	else
		tn_buf_append(b, "null", 4);
}

static void json_strv(struct tn_buf *b, const struct sched_strv *v)
{
	int i;

	tn_buf_append(b, "[", 1);
	for (i = 0; i < v->n; i++) {
		if (i)
			tn_buf_append(b, ",", 1);
		sched_json_cstr(b, v->v[i]);
	}
	tn_buf_append(b, "]", 1);
}

static void json_ms(struct tn_buf *b, const char *k, int64_t ms)
{
	if (ms > 0)
		tn_buf_printf(b, ",\"%s\":%lld", k, (long long)ms);
	else
		tn_buf_printf(b, ",\"%s\":null", k);
}

void sched_json_job(struct tn_buf *b, const struct sched_job *j)
{
	int i;

	tn_buf_append(b, "{\"id\":", 6);
	sched_json_cstr(b, j->id);
	tn_buf_append(b, ",\"dag\":", 7);
	sched_json_cstr(b, j->dag ? j->dag->id : NULL);
	tn_buf_append(b, ",\"state\":", 9);
	sched_json_cstr(b, sched_state_name(j->state));
	tn_buf_append(b, ",\"capability\":", 14);
	sched_json_cstr(b, j->cap);
	tn_buf_printf(b,
		      ",\"priority\":%d,\"attempts\":%d,\"retries\":%d,"
		      "\"timeout_ms\":%lld,\"worker\":",
		      j->prio, j->attempts, j->retries,
		      (long long)j->timeout_ms);
	sched_json_cstr(b, j->worker);
	if (j->exit_code >= 0)
		tn_buf_printf(b, ",\"exit_code\":%d", j->exit_code);
	else
		tn_buf_append(b, ",\"exit_code\":null", 17);
	tn_buf_append(b, ",\"result\":", 10);
	sched_json_cstr(b, j->result);
	tn_buf_append(b, ",\"parents\":", 11);
	json_strv(b, &j->parents);
	tn_buf_append(b, ",\"children\":[", 13);
	for (i = 0; i < j->nchildren; i++) {
		if (i)
			tn_buf_append(b, ",", 1);
		sched_json_cstr(b, j->children[i]->id);
	}
	tn_buf_append(b, "],\"argv\":", 9);
	if (j->kind == SCHED_K_EXEC)
		json_strv(b, &j->argv);
	else
		tn_buf_append(b, "null", 4);
	json_ms(b, "created_ms", j->created_ms);
	json_ms(b, "started_ms", j->started_ms);
	json_ms(b, "finished_ms", j->finished_ms);
	json_ms(b, "ready_us", j->ready_us);
	json_ms(b, "started_us", j->started_us);
	json_ms(b, "finished_us", j->finished_us);
	tn_buf_append(b, "}", 1);
}

void sched_json_dag(struct tn_buf *b, const struct sched_dag *d)
{
	int i, first = 1;

	tn_buf_append(b, "{\"id\":", 6);
	sched_json_cstr(b, d->id);
	tn_buf_append(b, ",\"state\":", 9);
	sched_json_cstr(b, sched_dag_state(d));
	tn_buf_append(b, ",\"jobs\":[", 9);
	for (i = 0; i < d->njobs; i++) {
		const struct sched_job *j = d->jobs[i];

		if (i)
			tn_buf_append(b, ",", 1);
		tn_buf_append(b, "{\"id\":", 6);
		sched_json_cstr(b, j->id);
		tn_buf_append(b, ",\"state\":", 9);
		sched_json_cstr(b, sched_state_name(j->state));
		tn_buf_append(b, ",\"parents\":", 11);
		json_strv(b, &j->parents);
		tn_buf_append(b, ",\"worker\":", 10);
		sched_json_cstr(b, j->worker);
		tn_buf_append(b, "}", 1);
	}
	tn_buf_append(b, "],\"counts\":{", 12);
	for (i = 0; i < SCHED_NSTATES; i++) {
		if (i == SCHED_FAILED)
			continue;
		tn_buf_printf(b, "%s\"%s\":%d", first ? "" : ",",
			      sched_state_name(i),
			      d->count[i] + (i == SCHED_PENDING
						     ? d->count[SCHED_FAILED]
						     : 0));
		first = 0;
	}
	tn_buf_append(b, "}}", 2);
}

struct each_ctx {
	struct tn_buf *b;
	int n;
};

static void dag_summary(struct sched_dag *d, void *arg)
{
	struct each_ctx *x = arg;

	if (x->n++)
		tn_buf_append(x->b, ",", 1);
	tn_buf_append(x->b, "{\"id\":", 6);
	sched_json_cstr(x->b, d->id);
	tn_buf_append(x->b, ",\"state\":", 9);
	sched_json_cstr(x->b, d->njobs ? sched_dag_state(d) : "UNKNOWN");
	tn_buf_printf(x->b, ",\"jobs\":%d,\"created_ms\":%lld}", d->njobs,
		      (long long)d->created_ms);
}

void sched_json_dags(struct tn_buf *b)
{
	struct each_ctx x = {b, 0};

	tn_buf_append(b, "[", 1);
	sched_dags_each(dag_summary, &x);
	tn_buf_append(b, "]", 1);
}

static void worker_json(struct sched_worker *w, void *arg)
{
	struct each_ctx *x = arg;

	if (x->n++)
		tn_buf_append(x->b, ",", 1);
	tn_buf_append(x->b, "{\"id\":", 6);
	sched_json_cstr(x->b, w->id);
	tn_buf_append(x->b, ",\"host\":", 8);
	sched_json_cstr(x->b, w->host);
	tn_buf_printf(x->b, ",\"port\":%d,\"capabilities\":", w->port);
	json_strv(x->b, &w->caps);
	tn_buf_printf(x->b,
		      ",\"capacity\":%d,\"running\":%d,\"alive\":%s,"
		      "\"last_seen_ms\":%lld}",
		      w->capacity, w->running, w->alive ? "true" : "false",
		      (long long)w->last_seen_ms);
}

void sched_json_workers(struct tn_buf *b)
{
	struct each_ctx x = {b, 0};

	tn_buf_append(b, "[", 1);
	sched_workers_each(worker_json, &x);
	tn_buf_append(b, "]", 1);
}

static void count_alive(struct sched_worker *w, void *arg)
{
	*(int *)arg += w->alive;
}

struct stats_ctx {
	struct tn_buf *b;
	int n;
	struct sched_worker *w;
	int hist;
	const struct sched_job *active;
};

static void find_active(struct sched_job *j, void *arg)
{
	struct stats_ctx *x = arg;

	if (j->state == SCHED_RUNNING && j->worker &&
	    strcmp(j->worker, x->w->id) == 0 && !x->active)
		x->active = j;
}

static void stats_worker(struct sched_worker *w, void *arg)
{
	struct stats_ctx *x = arg;
	int i;

	if (!w->alive)
		return;
	x->w = w;
	x->active = NULL;
	if (w->running)
		sched_jobs_each(find_active, x);
	if (x->n++)
		tn_buf_append(x->b, ",", 1);
	tn_buf_printf(x->b, "{\"port\": %d,\"capabilities\": \"[", w->port);
	for (i = 0; i < w->caps.n; i++) {
		struct tn_buf t = {0};

		/* v1 prints Java's list text inside one JSON string */
		sched_json_cstr(&t, w->caps.v[i]);
		tn_buf_printf(x->b, "%s%.*s", i ? ", " : "",
			      (int)(t.len >= 2 ? t.len - 2 : 0),
			      t.data ? t.data + 1 : "");
		tn_buf_free(&t);
	}
	tn_buf_printf(x->b, "]\",\"load\": \"%d/%d\",\"active_job\": ",
		      w->running, w->capacity);
	sched_json_cstr(x->b, x->active ? x->active->id : NULL);
	tn_buf_append(x->b, ", \"history\": [", 14);
	if (x->active) {
		tn_buf_append(x->b, "{\"id\": ", 7);
		sched_json_cstr(x->b, x->active->id);
		tn_buf_printf(x->b,
			      ", \"status\": \"RUNNING\", \"time\": \"%lldms\"}",
			      (long long)(tn_mstime() -
					  x->active->started_ms));
	}
	tn_buf_append(x->b, "],\"services\": []}", 17);
}

void sched_json_stats(struct tn_buf *b)
{
	int alive = 0;
	struct stats_ctx x = {b, 0, NULL, 0, NULL};

	sched_workers_each(count_alive, &alive);
	tn_buf_printf(b, "{\"active_workers\": %d,\"queue_size\": %zu,"
			 "\"workers\": [",
		      alive, sched_queue_size());
	sched_workers_each(stats_worker, &x);
	tn_buf_append(b, "]}", 2);
}
