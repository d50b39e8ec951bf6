/*
 * sched_v1.c - what each TITAN_PROTO opcode does on the scheduler: v1's
 * requests with their reply texts byte for byte (TITAN_PROTO.md 5.1),
 * the v2 extensions (auth, worker links, exec jobs, JSON views), and the
 * translation of a job into a DISPATCH frame for a worker.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "ipc/proto.h"
#include "store/store.h"
#include "util/util.h"
#include "workers/sched.h"

static char uploads_dir[TN_PATH_MAX + 16];
static char perm_dir[TN_PATH_MAX + 16];

#define ERR_SERVICES "ERROR: services are not supported by this scheduler"

/* ------------------------------------------------------------------ */
/* Small helpers                                                        */
/* ------------------------------------------------------------------ */

static void trim(const char **p, size_t *n)
{
	while (*n && (unsigned char)**p <= ' ') {
		(*p)++;
		(*n)--;
	}
	while (*n && (unsigned char)(*p)[*n - 1] <= ' ')
		(*n)--;
}

/* Split at the first '|': false if there is none. */
static bool split1(const char *p, size_t n, const char **a, size_t *al,
		   const char **b, size_t *bl)
{
	const char *q = memchr(p, '|', n);

	if (!q)
		return false;
	*a = p;
	*al = (size_t)(q - p);
	*b = q + 1;
	*bl = (size_t)(p + n - q - 1);
	return true;
}

static char *dupn(const char *p, size_t n)
{
	char *s = strndup(p, n);

	if (!s)
		tn_warn("scheduler: out of memory");
	return s;
}

static void reply_buf(struct sconn *c, struct tn_buf *b)
{
	sched_reply(c, b->data ? b->data : "", b->len);
	tn_buf_free(b);
}

/* Keep the key's TTL: every sign of life from a worker. */
static void refresh_worker(struct sched_worker *w)
{
	char key[SCHED_ID_MAX + 16], val[128];
	int ttl = tn_conf->worker_ttl_s > 0 ? tn_conf->worker_ttl_s : 5;

	w->last_seen_ms = tn_mstime();
	snprintf(key, sizeof(key), "titan:worker:%s", w->id);
	snprintf(val, sizeof(val), "%s:%d", w->host, w->port);
	sched_store_set(key, val, strlen(val), (long long)ttl * 1000);
}

static void hex_id(char *out, const char *prefix, int digits)
{
	uint64_t r = tn_rand64() ^ (uint64_t)tn_ustime();

	sprintf(out, "%s%0*llx", prefix, digits,
		(unsigned long long)(digits >= 16 ? r
						  : r & ((1ULL << (digits * 4)) -
							 1)));
}

/* ------------------------------------------------------------------ */
/* Hooks the job layer calls                                            */
/* ------------------------------------------------------------------ */

static bool is_header(const char *s)
{
	return strncmp(s, "RUN_PAYLOAD", 11) == 0 ||
	       strncmp(s, "DEPLOY_PAYLOAD", 14) == 0 ||
	       strncmp(s, "RUN_ARCHIVE", 11) == 0 ||
	       strncmp(s, "START_ARCHIVE", 13) == 0;
}

/* argv for a v1 script: .py with python3 -u, .sh with bash, else the
 * file itself; args split on single spaces, empties dropped. */
static int script_argv(const char *file, const char *args,
		       struct sched_strv *argv)
{
	size_t fl = strlen(file);
	char self[PATH_MAX];

	if (fl > 3 && strcmp(file + fl - 3, ".py") == 0) {
		sched_strv_push(argv, "python3", 7);
		sched_strv_push(argv, "-u", 2);
		sched_strv_push(argv, file, fl);
	} else if (fl > 3 && strcmp(file + fl - 3, ".sh") == 0) {
		sched_strv_push(argv, "/bin/bash", 9);
		sched_strv_push(argv, file, fl);
	} else {
		snprintf(self, sizeof(self), "%s%s",
			 file[0] == '/' ? "" : "./", file);
		sched_strv_push(argv, self, strlen(self));
	}
	if (args && *args) {
		struct sched_strv a = {0};
		int i;

		sched_strv_split(args, strlen(args), ' ', &a);
		for (i = 0; i < a.n; i++)
			if (a.v[i][0])
				sched_strv_push(argv, a.v[i], strlen(a.v[i]));
		sched_strv_free(&a);
	}
	return argv->n > 0 ? 0 : -ENOMEM;
}

/*
 * A v1 payload as a command: RUN_PAYLOAD stages the script, then runs
 * it; payloads without a header name a file and its args (v1's 0x06).
 */
static int v1_command(const struct sched_job *j, struct sched_strv *argv,
		      const char **stage, size_t *stagel, const char **b64,
		      size_t *b64l, struct sched_strv *f, const char **file,
		      const char **args)
{
	int h;

	if (sched_strv_split(j->payload, strlen(j->payload), '|', f) < 0)
		return -ENOMEM;
	for (h = 0; h < f->n; h++) {
		const char *p = f->v[h];
		size_t n = strlen(p);

		trim(&p, &n);
		memmove(f->v[h], p, n);
		f->v[h][n] = '\0';
	}
	/* drop the trailing job id */
	if (f->n > 0 && strcmp(f->v[f->n - 1], j->id) == 0) {
		free(f->v[--f->n]);
		f->v[f->n] = NULL;
	}
	h = (f->n > 1 && is_header(f->v[1])) ? 1 : 0;
	if (is_header(f->v[h])) {
		if (strncmp(f->v[h], "RUN_PAYLOAD", 11) != 0)
			return -ENOTSUP;
		if (f->n - h >= 4) { /* name|args|b64|req */
			*stage = f->v[h + 1];
			*b64 = f->v[h + 3];
			*file = f->v[h + 1];
			*args = f->v[h + 2];
			script_argv(f->v[h + 1], f->v[h + 2], argv);
		} else if (f->n - h == 3) { /* legacy name|b64 */
			*stage = f->v[h + 1];
			*b64 = f->v[h + 2];
			*file = f->v[h + 1];
			*args = "";
			script_argv(f->v[h + 1], "", argv);
		} else {
			return -EINVAL;
		}
		*stagel = strlen(*stage);
		*b64l = strlen(*b64);
		if (!*stagel || strchr(*stage, '/') || !strcmp(*stage, ".") ||
		    !strcmp(*stage, ".."))
			return -EINVAL;
		return 0;
	}
	/* SKILL|file|args */
	if (f->n < 2 || !f->v[1][0])
		return -EINVAL;
	*file = f->v[1];
	*args = f->n > 2 ? f->v[2] : "";
	return script_argv(f->v[1], *args, argv);
}

/* Shell-quote s into b ('...' with '\'' for quotes). */
static void sh_quote(struct tn_buf *b, const char *s)
{
	tn_buf_append(b, "'", 1);
	for (; *s; s++) {
		if (*s == '\'')
			tn_buf_append(b, "'\\''", 4);
		else
			tn_buf_append(b, s, 1);
	}
	tn_buf_append(b, "'", 1);
}

/*
 * A v1 worker runs scripts only: send an EXEC job as a staged shell
 * script (cd, exports, exec argv), then 0x06 RUN it.
 */
static int dispatch_v1_worker(struct sched_worker *w, struct sched_job *j)
{
	struct tn_buf stage = {0}, run = {0}, script = {0};
	struct sched_strv argv = {0}, f = {0};
	const char *sname = "", *b64 = "", *file = "", *args = "";
	size_t snl = 0, b64l = 0;
	char *enc = NULL, name[SCHED_ID_MAX + 8];
	int r = 0, i;

	if (j->kind == SCHED_K_V1) {
		r = v1_command(j, &argv, &sname, &snl, &b64, &b64l, &f, &file,
			       &args);
		if (r < 0)
			goto out;
	} else {
		size_t k;

		snprintf(name, sizeof(name), "%s.sh", j->id);
		for (k = 0; name[k]; k++)
			if (!((name[k] >= 'a' && name[k] <= 'z') ||
			      (name[k] >= 'A' && name[k] <= 'Z') ||
			      (name[k] >= '0' && name[k] <= '9') ||
			      name[k] == '.' || name[k] == '-'))
				name[k] = '_';
		tn_buf_printf(&script, "#!/bin/sh\n");
		if (j->cwd) {
			tn_buf_append(&script, "cd ", 3);
			sh_quote(&script, j->cwd);
			tn_buf_append(&script, " || exit 126\n", 13);
		}
		for (i = 0; i < j->env.n; i++) {
			tn_buf_append(&script, "export ", 7);
			sh_quote(&script, j->env.v[i]);
			tn_buf_append(&script, "\n", 1);
		}
		tn_buf_append(&script, "exec", 4);
		for (i = 0; i < j->argv.n; i++) {
			tn_buf_append(&script, " ", 1);
			sh_quote(&script, j->argv.v[i]);
		}
		tn_buf_append(&script, "\n", 1);
		enc = malloc(tn_b64_encoded_len(script.len) + 1);
		if (!enc) {
			r = -ENOMEM;
			goto out;
		}
		b64l = tn_b64_encode(script.data, script.len, enc);
		b64 = enc;
		sname = file = name;
		snl = strlen(name);
	}
	tn_buf_printf(&run, "%s|%s|%s", j->id, file, args);
	if (snl) {
		tn_buf_append(&stage, sname, snl);
		tn_buf_append(&stage, "|", 1);
		tn_buf_append(&stage, b64, b64l);
		r = sched_v1_call(w, SCHED_V1_DISPATCH, j->id, TN_OP_STAGE,
				  stage.data, stage.len, TN_OP_RUN, run.data,
				  run.len);
	} else {
		r = sched_v1_call(w, SCHED_V1_DISPATCH, j->id, TN_OP_RUN,
				  run.data, run.len, 0, NULL, 0);
	}
out:
	free(enc);
	tn_buf_free(&stage);
	tn_buf_free(&run);
	tn_buf_free(&script);
	sched_strv_free(&argv);
	sched_strv_free(&f);
	return r;
}

static int hook_dispatch(struct sched_worker *w, struct sched_job *j)
{
	struct sconn *c = w->link;
	struct tn_buf b = {0};
	struct sched_strv argv = {0}, f = {0}, cwd = {0};
	const char *stage = "", *b64 = "", *file, *args;
	size_t stagel = 0, b64l = 0;
	char *a = NULL, *e = NULL, *d = NULL;
	int r = 0;

	if (!c)
		return w->v1 ? dispatch_v1_worker(w, j) : -ENOTCONN;
	if (j->kind == SCHED_K_V1) {
		r = v1_command(j, &argv, &stage, &stagel, &b64, &b64l, &f,
			       &file, &args);
		if (r < 0)
			goto out;
		a = sched_strv_b64(&argv);
	} else {
		a = sched_strv_b64(&j->argv);
	}
	e = sched_strv_b64(&j->env);
	if (j->cwd)
		sched_strv_push(&cwd, j->cwd, strlen(j->cwd));
	d = sched_strv_b64(&cwd);
	if (!a || !e || !d) {
		r = -ENOMEM;
		goto out;
	}
	tn_buf_printf(&b, "%s|%d|%lld|%s|%s|%s|", j->id, j->attempts,
		      (long long)j->timeout_ms, a, e, d);
	tn_buf_append(&b, stage, stagel);
	tn_buf_append(&b, "|", 1);
	tn_buf_append(&b, b64, b64l);
	sched_send(c, TN_OP_DISPATCH, b.data, b.len);
out:
	tn_buf_free(&b);
	free(a);
	free(e);
	free(d);
	sched_strv_free(&argv);
	sched_strv_free(&f);
	sched_strv_free(&cwd);
	return r;
}

static void hook_cancel(struct sched_worker *w, struct sched_job *j)
{
	if (w->link)
		sched_send(w->link, TN_OP_CANCEL_JOB, j->id, strlen(j->id));
	else if (w->v1)
		sched_v1_call(w, SCHED_V1_CANCEL, NULL, TN_OP_CANCEL_JOB, j->id,
			      strlen(j->id), 0, NULL, 0);
}

/* ------------------------------------------------------------------ */
/* v1 workers: pinged with 0x01, sent 0x0C STAGE + 0x06 RUN             */
/* ------------------------------------------------------------------ */

static void refresh_worker(struct sched_worker *w);

static void v1_ping(struct sched_timer *t)
{
	struct sched_worker *w = (struct sched_worker *)((char *)t -
							 offsetof(struct
								  sched_worker,
								  ping));

	if (!w->v1 || !w->alive)
		return;
	if (!w->pinging && sched_v1_call(w, SCHED_V1_PING, NULL,
					 TN_OP_HEARTBEAT, "", 0, 0, NULL,
					 0) == 0)
		w->pinging = 1;
	sched_timer_set(&w->ping, tn_mstime() + SCHED_V1_PING_MS);
}

void sched_v1_reply(struct sconn *c, uint8_t op, const char *body, size_t n)
{
	struct sched_worker *w = c->v1w;
	struct sched_job *j;

	if (c->v1_kind == SCHED_V1_CANCEL) {
		c->v1_done = true;
		return;
	}
	if (c->v1_kind == SCHED_V1_PING) {
		const char *p = memchr(body, '|', n), *q;
		long long max;

		c->v1_done = true;
		w->pinging = 0;
		if (n < 5 || memcmp(body, "PONG|", 5) != 0 || !p) {
			sched_v1_failed(c);
			return;
		}
		q = memrchr(body, '|', n);
		if (q && q > p && tn_str2ll(q + 1, (size_t)(body + n - q - 1),
					    &max) &&
		    max > 0 && max < 100000 && w->capacity != (int)max) {
			w->capacity = (int)max;
			sched_workers_changed();
		}
		if (!w->alive) {
			sched_kick_want();
			sched_workers_changed();
		}
		w->alive = true;
		refresh_worker(w);
		return;
	}
	j = c->v1_job ? sched_job_find(c->v1_job) : NULL;
	if (!j || j->state != SCHED_RUNNING || !j->worker ||
	    strcmp(j->worker, w->id) != 0) {
		c->v1_done = true;
		return;
	}
	if (tn_buf_pending(&c->v1_next)) {
		/* STAGE's reply; RUN follows */
		if (op != TN_OP_ERROR && memmem(body, n, "FILE_SAVED", 10))
			return;
	} else if (op != TN_OP_ERROR && n == 12 &&
		   memcmp(body, "JOB_ACCEPTED", 12) == 0) {
		c->v1_done = true; /* the 0x12 callback completes it */
		return;
	} else if (op != TN_OP_ERROR && n < 5000 && !memmem(body, n,
							    "FAILED", 6)) {
		/* a synchronous success: done with that text */
		c->v1_done = true;
		sched_job_completed(j, 0, body, n, tn_mstime());
		return;
	}
	c->v1_done = true;
	{
		struct tn_buf b = {0};

		tn_buf_printf(&b, "ERROR: worker %s: ", w->id);
		tn_buf_append(&b, body, TN_MIN(n, 1000));
		sched_job_failed(j, -1, b.data, b.len, true, tn_mstime());
		tn_buf_free(&b);
	}
}

void sched_v1_failed(struct sconn *c)
{
	struct sched_worker *w = c->v1w;
	struct sched_job *j;
	char msg[SCHED_ID_MAX + 64];
	int n;

	if (c->v1_kind == SCHED_V1_CANCEL)
		return;
	if (c->v1_kind == SCHED_V1_PING) {
		w->pinging = 0;
		if (w->alive) {
			tn_notice("scheduler: v1 worker %s did not answer its "
				  "ping; marking it dead (it comes back when "
				  "it registers again)",
				  w->id);
			sched_worker_dead(w, tn_mstime());
		}
		return;
	}
	j = c->v1_job ? sched_job_find(c->v1_job) : NULL;
	if (!j || j->state != SCHED_RUNNING || !j->worker ||
	    strcmp(j->worker, w->id) != 0)
		return;
	n = snprintf(msg, sizeof(msg), "ERROR: v1 worker %s did not accept "
				       "the job",
		     w->id);
	sched_job_failed(j, -1, msg, (size_t)n, true, tn_mstime());
}

/*
 * Every line on titan:logs:<id>, as a terminal would show the job; and on
 * titan:stdout:<id> or titan:stderr:<id> by its stream, for subscribers
 * that must tell them apart.  Those are outside titan:logs:* so a
 * PSUBSCRIBE titan:logs:* still sees each line once.
 */
static void hook_publish(struct sched_job *j, char stream, const char *line,
			 size_t n)
{
	char ch[SCHED_ID_MAX + 32];
	int cl = snprintf(ch, sizeof(ch), "titan:logs:%s", j->id);

	if (cl < 0 || (size_t)cl >= sizeof(ch))
		return;
	tn_publish(ch, (size_t)cl, line, n);
	cl = snprintf(ch, sizeof(ch), "titan:%s:%s",
		      stream == 'e' ? "stderr" : "stdout", j->id);
	if (cl > 0 && (size_t)cl < sizeof(ch))
		tn_publish(ch, (size_t)cl, line, n);
}

void sched_v1_init(void)
{
	sched_hooks.dispatch = hook_dispatch;
	sched_hooks.cancel = hook_cancel;
	sched_hooks.save_job = sched_save_job_store;
	sched_hooks.save_dag = sched_save_dag_store;
	sched_hooks.publish_log = hook_publish;
	snprintf(uploads_dir, sizeof(uploads_dir), "%s/uploads",
		 tn_conf->dir[0] ? tn_conf->dir : ".");
	snprintf(perm_dir, sizeof(perm_dir), "%s/perm_files",
		 tn_conf->dir[0] ? tn_conf->dir : ".");
}

/* ------------------------------------------------------------------ */
/* Workers                                                              */
/* ------------------------------------------------------------------ */

void sched_link_closed(struct sconn *c)
{
	struct sched_worker *w = c->w;
	char key[SCHED_ID_MAX + 16];

	c->w = NULL;
	if (!w || w->link != c)
		return;
	w->link = NULL;
	tn_notice("scheduler: worker %s disconnected; requeueing its jobs",
		  w->id);
	snprintf(key, sizeof(key), "titan:worker:%s", w->id);
	sched_store_del(key);
	sched_worker_dead(w, tn_mstime());
}

void sched_key_expired(const char *key, size_t n)
{
	char id[SCHED_ID_MAX + 1];
	struct sched_worker *w;
	struct sconn *link;

	if (n <= 13 || memcmp(key, "titan:worker:", 13) != 0 ||
	    n - 13 > SCHED_ID_MAX)
		return;
	memcpy(id, key + 13, n - 13);
	id[n - 13] = '\0';
	w = sched_worker_find(id);
	if (!w || !w->alive)
		return;
	tn_notice("scheduler: worker %s missed its heartbeats (%s expired); "
		  "marking it dead and requeueing its jobs",
		  id, key);
	link = w->link;
	if (link) {
		/* it will reconnect and say hello again */
		link->w = NULL;
		w->link = NULL;
		sched_close_after(link);
	}
	sched_worker_dead(w, tn_mstime());
}

static void op_hello(struct sconn *c, const char *body, size_t n)
{
	struct sched_strv f = {0};
	struct sched_worker *w;
	long long port, cap, prefetch = 0;

	if (sched_strv_split(body, n, '|', &f) < 0 || f.n < 5 || f.n > 6 ||
	    !f.v[0][0] || strlen(f.v[0]) > SCHED_ID_MAX ||
	    !tn_str2ll(f.v[2], strlen(f.v[2]), &port) || port < 0 ||
	    port > 65535 || !tn_str2ll(f.v[4], strlen(f.v[4]), &cap) ||
	    cap < 1 || cap > 100000 ||
	    (f.n == 6 && (!tn_str2ll(f.v[5], strlen(f.v[5]), &prefetch) ||
			  prefetch < 0 || prefetch > SCHED_PREFETCH_MAX))) {
		sched_reply_str(c, "ERROR: WORKER_HELLO body must be "
				   "id|host|port|cap1,cap2|capacity"
				   "[|prefetch 0-64]");
		sched_strv_free(&f);
		return;
	}
	w = sched_worker_get(f.v[0]);
	if (!w) {
		sched_reply_str(c, "ERROR: out of memory");
		sched_strv_free(&f);
		return;
	}
	if (w->link && w->link != c) {
		struct sconn *old = w->link;

		old->w = NULL;
		sched_close_after(old);
	}
	free(w->host);
	w->host = strdup(f.v[1][0] ? f.v[1] : c->peer);
	w->port = (int)port;
	sched_strv_free(&w->caps);
	sched_strv_split(f.v[3], strlen(f.v[3]), ',', &w->caps);
	w->capacity = (int)cap;
	w->prefetch = (int)prefetch;
	w->alive = true;
	sched_workers_changed();
	w->link = c;
	c->w = w;
	refresh_worker(w);
	sched_strv_free(&f);
	sched_kick_want();
	tn_notice("scheduler: worker %s (%s) joined with capacity %d", w->id,
		  w->host, w->capacity);
	sched_reply_str(c, "REGISTERED");
}

struct unconf_ctx {
	struct sched_worker *w;
	int64_t now;
	int left; /* unconfirmed jobs on other workers */
};

static void requeue_unconfirmed(struct sched_job *j, void *arg)
{
	struct unconf_ctx *x = arg;

	if (!j->unconfirmed || j->state != SCHED_RUNNING || !j->worker)
		return;
	if (strcmp(j->worker, x->w->id) == 0)
		sched_job_requeue(j, x->now);
	else
		x->left++;
}

static void op_beat(struct sconn *c, const char *body, size_t n)
{
	const char *q = memchr(body, '|', n);
	long long running;

	if (!c->w)
		return;
	if (!c->w->alive) {
		c->w->alive = true;
		sched_kick_want();
		sched_workers_changed();
	}
	refresh_worker(c->w);
	/* a worker that runs nothing does not run what an earlier
	 * scheduler sent it before dying */
	if (sched_unconfirmed_left && q &&
	    tn_str2ll(q + 1, (size_t)(body + n - q - 1), &running) &&
	    running == 0) {
		struct unconf_ctx x = {c->w, tn_mstime(), 0};

		sched_jobs_each(requeue_unconfirmed, &x);
		sched_unconfirmed_left = x.left > 0;
	}
}

/* v1 0x02: `<port>||<capability>||<isPermanent>`. */
static void op_register(struct sconn *c, const char *body, size_t n)
{
	const char *p = body, *end = body + n, *sep;
	char id[128], capbuf[64] = "GENERAL";
	long long port;
	struct sched_worker *w;
	size_t pl;

	sep = memmem(p, n, "||", 2);
	pl = sep ? (size_t)(sep - p) : n;
	if (!tn_str2ll(p, pl, &port) || port < 0 || port > 65535) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "SERVER_ERROR: For input string: \"%.*s\"",
			 (int)TN_MIN(pl, 64), p);
		sched_reply_str(c, msg);
		return;
	}
	if (sep) {
		const char *cp = sep + 2, *ce = memmem(cp, (size_t)(end - cp),
						       "||", 2);
		size_t cl = ce ? (size_t)(ce - cp) : (size_t)(end - cp);

		if (cl > 0 && cl < sizeof(capbuf) &&
		    strcmp(cp, "true") != 0 && strcmp(cp, "false") != 0)
			snprintf(capbuf, sizeof(capbuf), "%.*s", (int)cl, cp);
	}
	snprintf(id, sizeof(id), "%s:%lld", c->peer, port);
	w = sched_worker_get(id);
	if (!w) {
		sched_reply_str(c, "SERVER_ERROR: out of memory");
		return;
	}
	free(w->host);
	w->host = strdup(c->peer);
	w->port = (int)port;
	if (!sched_worker_has_cap(w, capbuf))
		sched_strv_push(&w->caps, capbuf, strlen(capbuf));
	if (!w->v1)
		w->capacity = 4; /* v1's pool; PONG says the real one */
	w->v1 = true;
	if (!w->alive)
		sched_kick_want();
	w->alive = true;
	sched_workers_changed();
	refresh_worker(w);
	if (w->ping.idx == SIZE_MAX) {
		sched_timer_init(&w->ping, v1_ping);
		sched_timer_set(&w->ping, tn_mstime() + SCHED_V1_PING_MS);
	}
	sched_reply_str(c, "REGISTERED");
}

/* 0x11 `<host>|<port>` */
static void op_kill_worker(struct sconn *c, const char *body, size_t n)
{
	const char *h, *p;
	size_t hl, pln;
	long long port;
	char id[160], msg[200];
	struct sched_worker *w;

	if (!split1(body, n, &h, &hl, &p, &pln)) {
		sched_reply_str(c, "ERROR: Payload must be HOST|PORT");
		return;
	}
	trim(&p, &pln);
	if (!tn_str2ll(p, pln, &port)) {
		sched_reply_str(c, "ERROR: Invalid Port Format");
		return;
	}
	snprintf(id, sizeof(id), "%.*s:%lld", (int)TN_MIN(hl, 100), h, port);
	w = sched_worker_find(id);
	if (!w || !w->alive) {
		snprintf(msg, sizeof(msg),
			 "ERROR: Worker node %lld not found in registry.",
			 port);
		sched_reply_str(c, msg);
		return;
	}
	if (w->link) {
		struct sconn *l = w->link;

		sched_close_after(l);
	}
	sched_worker_dead(w, tn_mstime());
	snprintf(msg, sizeof(msg),
		 "SUCCESS: Worker %lld and 0 services shut down.", port);
	sched_reply_str(c, msg);
}

/* ------------------------------------------------------------------ */
/* Jobs and logs                                                        */
/* ------------------------------------------------------------------ */

static struct sched_job *find_job(const char *p, size_t n, bool dag_too)
{
	char id[SCHED_ID_MAX + 8];
	struct sched_job *j;

	if (n == 0 || n > SCHED_ID_MAX || memchr(p, '\0', n))
		return NULL;
	memcpy(id, p, n);
	id[n] = '\0';
	j = sched_job_lookup(id);
	if (!j && dag_too && strncmp(id, "DAG-", 4) != 0) {
		snprintf(id, sizeof(id), "DAG-%.*s", (int)n, p);
		j = sched_job_lookup(id);
	}
	return j;
}

static void add_lines(struct sched_job *j, char stream, const char *p,
		      size_t n)
{
	const char *end = p + n;

	/* trailing empty lines dropped, as v1 */
	while (end > p && end[-1] == '\n')
		end--;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;

		sched_job_log_stream(j, stream, p, (size_t)(le - p));
		p = nl ? nl + 1 : end;
	}
}

static void op_log_batch(struct sconn *c, const char *body, size_t n)
{
	const char *id, *lines;
	size_t il, ll;
	struct sched_job *j;

	if (split1(body, n, &id, &il, &lines, &ll)) {
		j = find_job(id, il, false);
		if (j)
			add_lines(j, 'o', lines, ll);
	}
	if (!c->w)
		sched_reply_str(c, "ACK_BATCH");
}

static void op_log_stream(struct sconn *c, const char *body, size_t n)
{
	const char *id, *line;
	size_t il, ll;
	struct sched_job *j;

	if (split1(body, n, &id, &il, &line, &ll)) {
		j = find_job(id, il, false);
		if (j)
			sched_job_log(j, line, ll);
	}
	if (!c->w)
		sched_reply_str(c, "ACK_LOG");
}

/* 0x79 `<jobId>|<o|e>|lines` */
static void op_log_lines(struct sconn *c, const char *body, size_t n)
{
	const char *id, *rest, *st, *lines;
	size_t il, rl, sl, ll;
	struct sched_job *j;

	if (!split1(body, n, &id, &il, &rest, &rl) ||
	    !split1(rest, rl, &st, &sl, &lines, &ll))
		return;
	j = find_job(id, il, false);
	if (j)
		add_lines(j, sl == 1 && st[0] == 'e' ? 'e' : 'o', lines, ll);
}

/* Exit code from `COMPLETED|<code>|...` or `FAILED|<code>|...`. */
static int result_code(const char *r, size_t n)
{
	const char *a, *b, *c2, *d;
	size_t al, bl, cl, dl;
	long long v;

	if (!split1(r, n, &a, &al, &b, &bl))
		return -1;
	if (!split1(b, bl, &c2, &cl, &d, &dl)) {
		c2 = b;
		cl = bl;
	}
	return tn_str2ll(c2, cl, &v) && v >= 0 && v < 256 ? (int)v : -1;
}

static void op_job_complete(struct sconn *c, const char *body, size_t n)
{
	const char *id, *rest, *st = NULL, *res = "";
	size_t il, rl, sl = 0, resl = 0;
	struct sched_job *j = NULL;
	int64_t now = tn_mstime();

	if (split1(body, n, &id, &il, &rest, &rl)) {
		if (!split1(rest, rl, &st, &sl, &res, &resl)) {
			st = rest;
			sl = rl;
		}
		j = find_job(id, il, false);
	}
	if (j && c->w && j->worker && strcmp(j->worker, c->w->id) != 0)
		j = NULL; /* a stale report from a worker it left */
	if (j && j->state == SCHED_RUNNING) {
		int code = result_code(res, resl);

		if (sl == 9 && memcmp(st, "COMPLETED", 9) == 0)
			sched_job_completed(j, code < 0 ? 0 : code, res, resl,
					    now);
		else
			sched_job_failed(j, code, res, resl, true, now);
	} else if (j) {
		sched_worker_release(j); /* cancelled: its slot is free */
	}
	if (!c->w)
		sched_reply_str(c, "ACK_CALLBACK");
}

static void op_status(struct sconn *c, const char *body, size_t n)
{
	struct sched_job *j = find_job(body, n, true);
	int st;

	if (!j) {
		sched_reply_str(c, "NULL");
		return;
	}
	st = j->state == SCHED_FAILED ? SCHED_PENDING : j->state;
	sched_reply_str(c, sched_state_name(st));
}

static void op_get_logs(struct sconn *c, const char *body, size_t n)
{
	struct sched_job *j = find_job(body, n, false);
	struct tn_buf b = {0};

	if (j)
		sched_job_log_tail(j, SCHED_LOG_LINES_REPLY, &b);
	reply_buf(c, &b);
}

static void op_cancel(struct sconn *c, const char *body, size_t n)
{
	struct sched_job *j;

	trim(&body, &n);
	j = find_job(body, n, false);
	if (j && sched_job_cancel(j, tn_mstime()))
		sched_reply_str(c, "CANCELLED");
	else
		sched_reply_str(c, "NOT_FOUND");
}

static int exists_cb(const char *id, void *arg)
{
	struct sched_job *j = sched_job_lookup(id);

	if (!j)
		return 0;
	return sched_state_terminal(j->state) ? 1 : 2;
}

/* Parse, validate, submit.  0 with the DAG id, or -1 with a reason. */
static int submit_body(const char *body, size_t n, char *dag_id, char *err,
		       size_t errlen)
{
	struct sched_dagspec ds;
	struct sched_dag *d;
	int r;

	r = sched_dag_parse(body, n, &ds, err, errlen);
	if (r == 0)
		r = sched_dag_validate(&ds, exists_cb, NULL, err, errlen);
	if (r < 0) {
		sched_dag_free(&ds);
		return -1;
	}
	do
		hex_id(dag_id, "D-", 12);
	while (sched_dag_find(dag_id));
	d = sched_dag_new(dag_id, tn_mstime());
	if (!d || sched_submit(&ds, d, tn_mstime()) < 0) {
		snprintf(err, errlen, "out of memory");
		sched_dag_free(&ds);
		return -1;
	}
	sched_dag_free(&ds);
	return 0;
}

static void op_submit_dag(struct sconn *c, const char *body, size_t n,
			  bool v2)
{
	char id[32], err[512], msg[600];

	if (submit_body(body, n, id, err, sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "ERROR: %s%s",
			 v2 ? "" : "DAG rejected: ", err);
		sched_reply_str(c, msg);
		return;
	}
	sched_reply_str(c, v2 ? id : "DAG_ACCEPTED");
}

/* 0x74 `<cap>|<prio>|<retries>|<timeout_ms>|argv|env|cwd` */
static void op_submit_exec(struct sconn *c, const char *body, size_t n)
{
	struct sched_strv f = {0};
	struct sched_dagspec ds = {0};
	char line_err[300], msg[400], id[32];
	struct tn_buf line = {0};

	if (sched_strv_split(body, n, '|', &f) < 0 || f.n != 7) {
		sched_reply_str(c, "ERROR: SUBMIT_EXEC body must be "
				   "cap|priority|retries|timeout_ms|argv|env|"
				   "cwd");
		sched_strv_free(&f);
		return;
	}
	hex_id(id, "RUN-", 16);
	/* reuse the EXEC line grammar: one parser, one set of checks */
	tn_buf_printf(&line, "%s|%s|EXEC|%s|%s|%s|%s|%s|%s|0|[]", id, f.v[0],
		      f.v[4], f.v[2], f.v[3], f.v[5], f.v[6], f.v[1]);
	sched_strv_free(&f);
	if (sched_dag_parse(line.data, line.len, &ds, line_err,
			    sizeof(line_err)) < 0) {
		const char *e = strstr(line_err, ": ");

		/* drop "line 1: job RUN-...: " */
		e = e ? strstr(e + 2, ": ") : NULL;
		snprintf(msg, sizeof(msg), "ERROR: %s",
			 e ? e + 2 : line_err);
		sched_reply_str(c, msg);
		goto out;
	}
	if (ds.jobs[0].id[0] == 'D') { /* DAG- prefix: a RUN- id keeps none */
		free(ds.jobs[0].id);
		ds.jobs[0].id = strdup(id);
	}
	if (sched_submit(&ds, NULL, tn_mstime()) < 0) {
		sched_reply_str(c, "ERROR: out of memory");
		goto out;
	}
	sched_reply_str(c, id);
out:
	sched_dag_free(&ds);
	tn_buf_free(&line);
}

/* 0x03: `[id|]payload[|prio][|delay]`, parsed from the right. */
static void op_submit_job(struct sconn *c, const char *body, size_t n)
{
	struct sched_dagspec ds = {0};
	struct sched_spec *s;
	const char *q, *idp = NULL;
	size_t idl = 0;
	long long v;
	int prio = 1;
	int64_t delay = 0;
	char uuid[40];

	ds.jobs = calloc(1, sizeof(*ds.jobs));
	if (!ds.jobs) {
		sched_reply_str(c, "SERVER_ERROR: out of memory");
		return;
	}
	ds.n = ds.cap = 1;
	s = &ds.jobs[0];
	q = memrchr(body, '|', n);
	if (q && tn_str2ll(q + 1, (size_t)(body + n - q - 1), &v)) {
		delay = v;
		n = (size_t)(q - body);
		q = memrchr(body, '|', n);
		if (q && tn_str2ll(q + 1, (size_t)(body + n - q - 1), &v) &&
		    v >= INT_MIN && v <= INT_MAX) {
			prio = (int)v;
			n = (size_t)(q - body);
		}
	}
	q = memchr(body, '|', n);
	if (q && !is_header(body)) {
		idp = body;
		idl = (size_t)(q - body);
		body = q + 1;
		n -= idl + 1;
	}
	trim(&body, &n);
	if (idl == 0 || idl > SCHED_ID_MAX) {
		uint64_t a = tn_rand64(), b = tn_rand64();

		snprintf(uuid, sizeof(uuid),
			 "%08llx-%04llx-4%03llx-%04llx-%012llx",
			 (unsigned long long)(a >> 32),
			 (unsigned long long)((a >> 16) & 0xffff),
			 (unsigned long long)(a & 0xfff),
			 (unsigned long long)(0x8000 | ((b >> 48) & 0x3fff)),
			 (unsigned long long)(b & 0xffffffffffffULL));
		s->id = strdup(uuid);
	} else {
		s->id = dupn(idp, idl);
	}
	s->payload = dupn(body, n);
	s->prio = prio;
	s->delay_ms = delay > 0 ? delay : 0;
	s->retries = SCHED_DEFAULT_RETRIES;
	s->kind = SCHED_K_V1;
	if (s->id && s->payload) {
		s->cap = sched_v1_requirement(s->payload, s->id);
		if (exists_cb(s->id, NULL) != 2)
			sched_submit(&ds, NULL, tn_mstime());
	}
	sched_dag_free(&ds);
	sched_reply_str(c, "JOB_ACCEPTED");
}

static void op_job_info(struct sconn *c, const char *body, size_t n)
{
	struct sched_job *j = find_job(body, n, true);
	struct tn_buf b = {0};
	char msg[SCHED_ID_MAX + 32];

	if (!j) {
		snprintf(msg, sizeof(msg), "ERROR: no such job %.*s",
			 (int)TN_MIN(n, SCHED_ID_MAX), body);
		sched_reply_str(c, msg);
		return;
	}
	sched_json_job(&b, j);
	reply_buf(c, &b);
}

static void op_dag_info(struct sconn *c, const char *body, size_t n)
{
	struct tn_buf b = {0};
	char id[SCHED_ID_MAX + 1], msg[SCHED_ID_MAX + 32];
	struct sched_dag *d;

	trim(&body, &n);
	if (n == 0) {
		sched_json_dags(&b);
		reply_buf(c, &b);
		return;
	}
	snprintf(id, sizeof(id), "%.*s", (int)TN_MIN(n, SCHED_ID_MAX), body);
	d = sched_dag_find(id);
	if (!d) {
		snprintf(msg, sizeof(msg), "ERROR: no such DAG %s", id);
		sched_reply_str(c, msg);
		return;
	}
	sched_dag_load_jobs(d);
	sched_json_dag(&b, d);
	reply_buf(c, &b);
}

static void stats_text(struct sched_worker *w, void *arg)
{
	struct tn_buf *b = arg;
	int i;

	if (!w->alive)
		return;
	tn_buf_printf(b, "  \u2022 [%d] Load: %d/%d (%d%%) | Skills: [",
		      w->port, w->running, w->capacity,
		      w->capacity ? w->running * 100 / w->capacity : 0);
	for (i = 0; i < w->caps.n; i++)
		tn_buf_printf(b, "%s%s", i ? ", " : "", w->caps.v[i]);
	tn_buf_printf(b, "] (%s)\n", w->id);
}

static void count_alive(struct sched_worker *w, void *arg)
{
	*(int *)arg += w->alive;
}

struct cnt {
	int delayed, blocked;
};

static void count_jobs(struct sched_job *j, void *arg)
{
	struct cnt *x = arg;

	if (j->state != SCHED_PENDING || j->qidx != SIZE_MAX)
		return;
	if (j->unmet > 0)
		x->blocked++;
	else
		x->delayed++;
}

static void op_stats(struct sconn *c)
{
	struct tn_buf b = {0};
	int alive = 0;
	struct cnt x = {0, 0};

	sched_workers_each(count_alive, &alive);
	sched_jobs_each(count_jobs, &x);
	tn_buf_printf(&b,
		      "\n--- TITAN SYSTEM MONITOR ---\n"
		      "Active Workers:    %d\nExecution Queue:   %zu\n"
		      "Delayed Jobs:      %d\nDAG Blocked Jobs:  %d\n"
		      "Dead Letter Queue: 0\n----------------------------\n",
		      alive, sched_queue_size(), x.delayed, x.blocked);
	if (alive) {
		tn_buf_printf(&b, "Worker Status:\n");
		sched_workers_each(stats_text, &b);
	} else {
		tn_buf_printf(&b, "[INFO] No workers currently connected.\n");
	}
	reply_buf(c, &b);
}

/* ------------------------------------------------------------------ */
/* KV (user:<key>)                                                      */
/* ------------------------------------------------------------------ */

static void op_kv(struct sconn *c, uint8_t op, const char *body, size_t n)
{
	const char *k = body, *v = NULL;
	size_t kl = n, vl = 0;
	struct tn_buf key = {0};
	struct sched_reply r;
	int ret;

	if (op == TN_OP_KV_SET || op == TN_OP_KV_SADD) {
		if (!split1(body, n, &k, &kl, &v, &vl)) {
			sched_reply_str(c, "ERROR: Invalid Format");
			return;
		}
	}
	tn_buf_append(&key, "user:", 5);
	tn_buf_append(&key, k, kl);
	if (!key.data) {
		sched_reply_str(c, "SERVER_ERROR: out of memory");
		return;
	}
	{
		const char *argv[3] = {NULL, key.data, v};
		size_t lens[3] = {0, key.len, vl};

		switch (op) {
		case TN_OP_KV_SET:
			argv[0] = "SET";
			lens[0] = 3;
			ret = sched_store_cmd(&r, 3, argv, lens);
			sched_reply_str(c, "OK");
			break;
		case TN_OP_KV_SADD:
			argv[0] = "SADD";
			lens[0] = 4;
			ret = sched_store_cmd(&r, 3, argv, lens);
			sched_reply_str(c, ret == 0 && r.type == ':' &&
						   r.ival > 0
					       ? "1"
					       : "0");
			break;
		case TN_OP_KV_GET:
			argv[0] = "GET";
			lens[0] = 3;
			ret = sched_store_cmd(&r, 2, argv, lens);
			if (ret == 0 && r.type == '$')
				sched_reply(c, r.str, r.len);
			else
				sched_reply_str(c, "NULL");
			break;
		default: {
			struct tn_buf b = {0};
			int i;

			argv[0] = "SMEMBERS";
			lens[0] = 8;
			ret = sched_store_cmd(&r, 2, argv, lens);
			for (i = 0; ret == 0 && i < r.elems.n; i++)
				tn_buf_printf(&b, "%s%s", i ? "," : "",
					      r.elems.v[i]);
			reply_buf(c, &b);
			break;
		}
		}
	}
	if (ret == 0)
		sched_reply_free(&r);
	tn_buf_free(&key);
}

/* ------------------------------------------------------------------ */
/* Files: dir/uploads and dir/perm_files                                */
/* ------------------------------------------------------------------ */

/* A plain name inside dir: no '/', not "." or "..", no NUL. */
static bool safe_name(const char *p, size_t n)
{
	if (n == 0 || n > 255 || memchr(p, '/', n) || memchr(p, '\0', n) ||
	    memchr(p, '\\', n))
		return false;
	if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
		return false;
	return true;
}

static int write_file(const char *dir, const char *name, size_t nl,
		      const char *b64, size_t bl, char *err, size_t errlen)
{
	char path[TN_PATH_MAX + 300], tmp[TN_PATH_MAX + 320];
	char *data = malloc(bl + 1);
	ssize_t len;
	int fd;

	if (!data) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	len = tn_b64_decode(b64, bl, data);
	if (len < 0) {
		free(data);
		snprintf(err, errlen, "Illegal base64 character");
		return -1;
	}
	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/%.*s", dir, (int)nl, name);
	snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, data, (size_t)len) != len || fsync(fd) < 0 ||
	    rename(tmp, path) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		free(data);
		return -1;
	}
	close(fd);
	free(data);
	return 0;
}

static void op_put_file(struct sconn *c, const char *body, size_t n,
			bool deploy)
{
	const char *name, *b64;
	size_t nl, bl;
	char err[TN_PATH_MAX + 400], msg[TN_PATH_MAX + 450];

	if (!split1(body, n, &name, &nl, &b64, &bl)) {
		sched_reply_str(c, deploy ? "ERROR: Invalid Deploy Payload"
					  : "ERROR: Invalid Upload Payload");
		return;
	}
	if (!safe_name(name, nl)) {
		sched_reply_str(c, deploy ? "ERROR: Invalid script name (path "
					    "traversal rejected)"
					  : "ERROR: Invalid asset name (path "
					    "traversal rejected)");
		return;
	}
	if (write_file(deploy ? perm_dir : uploads_dir, name, nl, b64, bl, err,
		       sizeof(err)) < 0) {
		snprintf(msg, sizeof(msg), "%s: %s",
			 deploy ? "DEPLOY_FAILED" : "UPLOAD_FAILED", err);
		sched_reply_str(c, msg);
		return;
	}
	sched_reply_str(c, deploy ? "DEPLOY_SUCCESS" : "UPLOAD_SUCCESS");
}

static void op_fetch(struct sconn *c, const char *body, size_t n)
{
	char path[TN_PATH_MAX + 300], msg[400];
	struct stat st;
	char *data, *out;
	int fd;
	ssize_t r;

	trim(&body, &n);
	if (!safe_name(body, n)) {
		sched_reply_str(c, "ERROR_NOT_FOUND");
		return;
	}
	snprintf(path, sizeof(path), "%s/%.*s", uploads_dir, (int)n, body);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		if (fd >= 0)
			close(fd);
		sched_reply_str(c, "ERROR_NOT_FOUND");
		return;
	}
	if ((size_t)st.st_size > (size_t)tn_conf->titan_max_frame_bytes / 4 * 3) {
		close(fd);
		snprintf(msg, sizeof(msg),
			 "ERROR_READING_FILE: %lld bytes do not fit in a frame",
			 (long long)st.st_size);
		sched_reply_str(c, msg);
		return;
	}
	data = malloc((size_t)st.st_size + 1);
	out = malloc(tn_b64_encoded_len((size_t)st.st_size) + 1);
	r = data && out ? read(fd, data, (size_t)st.st_size) : -1;
	close(fd);
	if (r != st.st_size) {
		snprintf(msg, sizeof(msg), "ERROR_READING_FILE: %s",
			 strerror(r < 0 ? errno : EIO));
		sched_reply_str(c, msg);
	} else {
		size_t l = tn_b64_encode(data, (size_t)r, out);

		sched_reply(c, out, l);
	}
	free(data);
	free(out);
}

/* ------------------------------------------------------------------ */
/* The dispatcher                                                       */
/* ------------------------------------------------------------------ */

static bool token_ok(const char *p, size_t n)
{
	const char *t = tn_conf->titan_auth_token;
	size_t tl = strlen(t), i;
	unsigned char diff = (unsigned char)(tl != n);

	/* no early exit on the first differing byte */
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(p[i] ^ (i < tl ? t[i] : 0));
	return diff == 0;
}

void sched_handle_frame(struct sconn *c, uint8_t op, const char *body,
			size_t n)
{
	char msg[64];

	if (op == TN_OP_AUTH) {
		if (!tn_conf->titan_auth_token[0] || token_ok(body, n)) {
			c->authed = true;
			sched_reply_str(c, "OK");
		} else {
			sched_reply_str(c, "ERROR: invalid token");
			sched_close_after(c);
		}
		return;
	}
	if (!c->authed) {
		sched_reply_str(c, "ERROR: authentication required");
		sched_close_after(c);
		return;
	}
	switch (op) {
	case TN_OP_WORKER_HELLO:
		op_hello(c, body, n);
		break;
	case TN_OP_WORKER_BEAT:
		op_beat(c, body, n);
		break;
	case TN_OP_LOG_LINES:
		op_log_lines(c, body, n);
		break;
	case TN_OP_LOG_BATCH:
		op_log_batch(c, body, n);
		break;
	case TN_OP_LOG_STREAM:
		op_log_stream(c, body, n);
		break;
	case TN_OP_JOB_COMPLETE:
		op_job_complete(c, body, n);
		break;
	case TN_OP_REGISTER:
		op_register(c, body, n);
		break;
	case TN_OP_SUBMIT_JOB:
		op_submit_job(c, body, n);
		break;
	case TN_OP_SUBMIT_DAG:
		op_submit_dag(c, body, n, false);
		break;
	case TN_OP_SUBMIT_DAG2:
		op_submit_dag(c, body, n, true);
		break;
	case TN_OP_SUBMIT_EXEC:
		op_submit_exec(c, body, n);
		break;
	case TN_OP_GET_JOB_STATUS:
		op_status(c, body, n);
		break;
	case TN_OP_GET_LOGS:
		op_get_logs(c, body, n);
		break;
	case TN_OP_CANCEL_JOB:
		op_cancel(c, body, n);
		break;
	case TN_OP_JOB_INFO:
		op_job_info(c, body, n);
		break;
	case TN_OP_DAG_INFO:
		op_dag_info(c, body, n);
		break;
	case TN_OP_WORKERS_JSON: {
		struct tn_buf b = {0};

		sched_json_workers(&b);
		reply_buf(c, &b);
		break;
	}
	case TN_OP_STATS_JSON: {
		struct tn_buf b = {0};

		sched_json_stats(&b);
		reply_buf(c, &b);
		break;
	}
	case TN_OP_STATS:
		op_stats(c);
		break;
	case TN_OP_CLEAN_STATS:
		sched_reply_str(c, "Stats Map Cleared. Run STATS again to see "
				   "fresh state.");
		break;
	case TN_OP_UNREGISTER_SERVICE:
		sched_reply_str(c, "ACK_UNREGISTERED");
		break;
	case TN_OP_KILL_WORKER:
		op_kill_worker(c, body, n);
		break;
	case TN_OP_DEPLOY:
	case TN_OP_RUN:
	case TN_OP_STOP:
		sched_reply_str(c, ERR_SERVICES);
		break;
	case TN_OP_KV_SET:
	case TN_OP_KV_GET:
	case TN_OP_KV_SADD:
	case TN_OP_KV_SMEMBERS:
		op_kv(c, op, body, n);
		break;
	case TN_OP_UPLOAD_ASSET:
		op_put_file(c, body, n, false);
		break;
	case TN_OP_DEPLOY_SCRIPT:
		op_put_file(c, body, n, true);
		break;
	case TN_OP_FETCH_ASSET:
		op_fetch(c, body, n);
		break;
	default:
		snprintf(msg, sizeof(msg), "UNKNOWN_OPCODE: %d", (int8_t)op);
		sched_reply_str(c, msg);
		break;
	}
}
