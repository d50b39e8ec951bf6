/*
 * sched.h - the scheduler's insides: job specs parsed from TITAN_PROTO
 * bodies, the job table and its state machine, the worker registry, the
 * keyspace records, and the hooks the event loop (scheduler.c) provides.
 */
#ifndef TN_SCHED_H
#define TN_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc/ipc.h"

#define SCHED_DEFAULT_RETRIES 3
#define SCHED_BACKOFF_BASE_MS 250  /* first retry; doubles each attempt */
#define SCHED_BACKOFF_MAX_MS 30000
#define SCHED_TIMEOUT_GRACE_MS 3000 /* the worker enforces, we back it up */
#define SCHED_LOG_LINES_REPLY 100   /* GET_LOGS: v1's in-memory window */
#define SCHED_ID_MAX 256
#define SCHED_V1_PING_MS 2000       /* v1 workers: 0x01 interval */
#define SCHED_PREFETCH_MAX 64       /* WORKER_HELLO's prefetch field */

enum sched_state {
	SCHED_PENDING,
	SCHED_RUNNING,
	SCHED_COMPLETED,
	SCHED_FAILED, /* in memory only, between an attempt and its retry */
	SCHED_DEAD,
	SCHED_CANCELLED,
	SCHED_NSTATES,
};

enum sched_kind {
	SCHED_K_V1,   /* a v1 payload (RUN_PAYLOAD, ...) */
	SCHED_K_EXEC, /* argv/env/cwd (SUBMIT_EXEC, EXEC lines) */
};

/* A NUL-separated list of strings (argv, env), owned. */
struct sched_strv {
	char **v;
	int n;
};

/* One job as submitted, before it enters the table. */
struct sched_spec {
	char *id;   /* full id (DAG-x) */
	char *name; /* as the user wrote it, for messages */
	char *cap;
	int prio;
	int64_t delay_ms;
	bool affinity;
	int retries;
	int64_t timeout_ms;
	struct sched_strv parents; /* full ids */
	struct sched_strv pnames;  /* as written */
	int kind;
	char *payload; /* v1: SKILL|PAYLOAD|ID */
	struct sched_strv argv, env;
	char *cwd; /* NULL: the job directory */
};

struct sched_dagspec {
	struct sched_spec *jobs;
	int n, cap;
};

/* Is there a job with this id outside the body?  0 no, 1 finished,
 * 2 not finished (a resubmission would clash). */
typedef int sched_exists_fn(const char *id, void *arg);

/*
 * Parse a 0x04/0x78 body (TITAN_PROTO.md 6.2 plus the EXEC form).  Every
 * line must parse: on error returns -EINVAL with "line N: ..." in err.
 */
int sched_dag_parse(const char *body, size_t len, struct sched_dagspec *d,
		    char *err, size_t errlen);
/* Duplicate ids, unknown parents (not in the body and !exists), cycles.
 * 0, or -EINVAL with the reason ("cycle: a -> b -> a"). */
int sched_dag_validate(const struct sched_dagspec *d, sched_exists_fn *exists,
		       void *arg, char *err, size_t errlen);
void sched_dag_free(struct sched_dagspec *d);
void sched_spec_free(struct sched_spec *s);
/* v1's requirement rule (TITAN_PROTO.md 4.3) for a stored payload. */
char *sched_v1_requirement(const char *payload, const char *id);
/* Base64 of items joined by NUL; decode back.  NULL on OOM / bad input. */
char *sched_strv_b64(const struct sched_strv *v);
int sched_strv_from_b64(const char *p, size_t n, struct sched_strv *v);
void sched_strv_free(struct sched_strv *v);
int sched_strv_push(struct sched_strv *v, const char *p, size_t n);
/* Split "a,b,c" style text. */
int sched_strv_split(const char *p, size_t n, char sep,
		     struct sched_strv *v);

/* ------------------------------------------------------------------ */
/* Timers (a min-heap behind one timerfd)                               */
/* ------------------------------------------------------------------ */

struct sched_timer {
	int64_t at_ms; /* epoch ms */
	size_t idx;    /* position in the heap, SIZE_MAX when idle */
	void (*fn)(struct sched_timer *t);
};

void sched_timer_init(struct sched_timer *t, void (*fn)(struct sched_timer *));
void sched_timer_set(struct sched_timer *t, int64_t at_ms);
void sched_timer_stop(struct sched_timer *t);
/* Run expired timers; returns the next deadline or -1. */
int64_t sched_timers_run(int64_t now_ms);
int64_t sched_timers_next(void);

/* ------------------------------------------------------------------ */
/* Jobs                                                                 */
/* ------------------------------------------------------------------ */

struct sched_worker;
struct sched_dag;

struct sched_logline {
	char *p;
	size_t n;
	char stream; /* 'o' stdout, 'e' stderr */
};

struct sched_job {
	char *id;
	struct sched_dag *dag;
	int state;
	char *cap;
	int prio;
	int retries, attempts;
	int64_t timeout_ms;
	int64_t ready_at_ms; /* not before (delay, backoff); epoch ms */
	bool affinity;
	bool slot_held;   /* counts in its worker's running */
	bool unconfirmed; /* RUNNING from a previous scheduler's records */
	bool active;      /* belongs in titan:jobs:active */
	bool in_active;   /* is there, as far as we wrote it */
	bool queued;      /* sent to a worker whose slots were all busy: it
			   * starts there when one frees (prefetch) */
	struct sched_strv parents;
	struct sched_job **children;
	int nchildren, capchildren;
	int unmet; /* parents not COMPLETED */
	int kind;
	char *payload;
	struct sched_strv argv, env;
	char *cwd;
	char *worker;      /* where it runs / ran */
	char *pref_worker; /* affinity */
	int exit_code;     /* -1: unknown */
	char *result;
	int64_t created_ms, started_ms, finished_ms;
	/* Epoch microseconds: runnable (last parent finished, or queued
	 * once its delay/backoff passed; 0 while it waits), dispatched,
	 * finished.  For latency measurements (bench/dag-bench.sh). */
	int64_t ready_us, started_us, finished_us;
	uint64_t seq;     /* FIFO among equal priorities */
	size_t qidx;      /* in its ready queue, SIZE_MAX if not */
	struct sched_timer timer; /* delay/backoff, or timeout */
	/* log: a ring of lines bounded by job-log-max-bytes */
	struct sched_logline *log;
	size_t log_cap, log_head, log_n, log_bytes;
};

struct sched_dag {
	char *id;
	int64_t created_ms;
	struct sched_job **jobs;
	int njobs;
	int count[SCHED_NSTATES];
};

struct sched_worker {
	char *id;
	char *host;
	int port; /* v1 port, 0 for a link-only worker */
	struct sched_strv caps;
	int capacity;
	int running;    /* jobs sent and not reported: started + queued */
	int prefetch;   /* jobs it queues beyond capacity (WORKER_HELLO) */
	/* jobs it holds queued, oldest first: the head starts there when a
	 * started job ends */
	struct sched_job **queued;
	int nqueued, capqueued;
	bool alive;
	bool v1;         /* registered with 0x02: pinged and dispatched by us */
	void *link;      /* the persistent link (struct sconn), or NULL */
	int64_t last_seen_ms;
	struct sched_timer ping; /* v1 workers */
	int pinging;
};

/* Everything the job layer needs from the outside; the event loop sets
 * it, unit tests set fakes. */
struct sched_hooks {
	/* Send the job to its worker (j->worker set).  0, or -errno: the
	 * attempt fails at once. */
	int (*dispatch)(struct sched_worker *w, struct sched_job *j);
	void (*cancel)(struct sched_worker *w, struct sched_job *j);
	/* Persist the job record / active set / dag record. */
	void (*save_job)(struct sched_job *j);
	void (*save_dag)(struct sched_dag *d);
	/* stream: 'o' stdout, 'e' stderr */
	void (*publish_log)(struct sched_job *j, char stream, const char *line,
			    size_t n);
	/* A worker joined, died, or its load changed (may be NULL). */
	void (*workers_changed)(void);
};
extern struct sched_hooks sched_hooks;

extern int64_t sched_log_max_bytes;

const char *sched_state_name(int st);
int sched_state_parse(const char *s);
bool sched_state_terminal(int st);

struct sched_job *sched_job_find(const char *id);
/* Create a job from a spec (ownership of its strings moves). */
struct sched_job *sched_job_new(struct sched_spec *s, struct sched_dag *d,
				int64_t now_ms);
/* Submit a validated DAG: create every job, link parents, queue the
 * ready ones.  dag may be NULL (single jobs). */
int sched_submit(struct sched_dagspec *ds, struct sched_dag *dag,
		 int64_t now_ms);
struct sched_dag *sched_dag_new(const char *id, int64_t now_ms);
struct sched_dag *sched_dag_find(const char *id);
void sched_dag_add(struct sched_dag *d, struct sched_job *j);
const char *sched_dag_state(const struct sched_dag *d);
/* Iterate all DAGs / jobs. */
void sched_dags_each(void (*fn)(struct sched_dag *d, void *arg), void *arg);
void sched_jobs_each(void (*fn)(struct sched_job *j, void *arg), void *arg);
size_t sched_jobs_count(void);
size_t sched_queue_size(void);

/* Events. */
void sched_job_completed(struct sched_job *j, int exit_code,
			 const char *result, size_t rlen, int64_t now_ms);
void sched_job_failed(struct sched_job *j, int exit_code, const char *result,
		      size_t rlen, bool retry, int64_t now_ms);
/* Worker gone: back to PENDING without counting the attempt. */
void sched_job_requeue(struct sched_job *j, int64_t now_ms);
/* Returns true if it was cancelled (not already finished). */
bool sched_job_cancel(struct sched_job *j, int64_t now_ms);
/* Keep and publish one line of the job's output on stream 'o' or 'e';
 * sched_job_log is the stdout form (v1 workers do not say). */
void sched_job_log_stream(struct sched_job *j, char stream, const char *line,
			  size_t n);
void sched_job_log(struct sched_job *j, const char *line, size_t n);
/* The last `max` lines joined by '\n' into b. */
void sched_job_log_tail(struct sched_job *j, size_t max, struct tn_buf *b);
/* Queue j if PENDING, its parents done and its time has come. */
void sched_job_ready(struct sched_job *j, int64_t now_ms);
/* Link a recovered job's parents (after all are loaded). */
void sched_job_link(struct sched_job *j, int64_t now_ms);
/* Dispatch whatever can run now (cheap when nothing changed). */
void sched_kick(int64_t now_ms);
/* Something changed that may let a queued job run (a worker joined). */
void sched_kick_want(void);
int64_t sched_backoff_ms(int attempt);

/* Workers. */
struct sched_worker *sched_worker_find(const char *id);
struct sched_worker *sched_worker_get(const char *id); /* create */
void sched_workers_each(void (*fn)(struct sched_worker *w, void *arg),
			void *arg);
/* Dead: requeue its running jobs. */
void sched_worker_dead(struct sched_worker *w, int64_t now_ms);
bool sched_worker_has_cap(const struct sched_worker *w, const char *cap);
/* Tell the hook a worker joined, died or changed load. */
void sched_workers_changed(void);
/* A slot freed on w (job finished there). */
void sched_worker_release(struct sched_job *j);

/* ------------------------------------------------------------------ */
/* Keyspace (sched_store.c): commands run in-process through tn_dispatch */
/* ------------------------------------------------------------------ */

struct sched_reply {
	int type; /* '+', '-', ':', '$', '*', or 0 for nil */
	long long ival;
	char *str; /* '$', '+', '-' */
	size_t len;
	struct sched_strv elems; /* '*' of bulk strings */
};

int sched_store_init(void);
/* One RESP2 reply: its byte length when complete, 0 if more is needed,
 * -1 if malformed; then parse it (arrays of bulk strings only). */
long sched_resp_complete(const char *p, size_t n);
int sched_resp_parse(const char *p, size_t n, struct sched_reply *r);
/* Run a command; *r gets the reply.  0, or -errno. */
int sched_store_cmd(struct sched_reply *r, int argc, const char **argv,
		    const size_t *lens);
void sched_reply_free(struct sched_reply *r);
int sched_store_set(const char *key, const char *val, size_t vlen,
		    long long px);
/* *val malloc'd, NULL when missing.  0 or -errno. */
int sched_store_get(const char *key, char **val, size_t *vlen);
int sched_store_sadd(const char *key, const char *member);
int sched_store_srem(const char *key, const char *member);
int sched_store_smembers(const char *key, struct sched_strv *out);
int sched_store_del(const char *key);

/* Job records: encode / decode the titan:job:<id> text. */
void sched_record_job(const struct sched_job *j, struct tn_buf *b);
struct sched_job *sched_record_load(const char *id, const char *p, size_t n);
void sched_record_dag(const struct sched_dag *d, struct tn_buf *b);
void sched_save_job_store(struct sched_job *j);
void sched_save_dag_store(struct sched_dag *d);
/* Load a job (and what it needs) from the keyspace if not in memory. */
struct sched_job *sched_job_lookup(const char *id);
/* A DAG known from titan:dags only: load its jobs' records. */
void sched_dag_load_jobs(struct sched_dag *d);
/* Rebuild queues after a restart.  Returns how many jobs were loaded. */
int sched_recover(int64_t now_ms);
/* Recovery kept RUNNING jobs it has not heard of since (unconfirmed):
 * a beat saying "running 0" must look for them.  Cleared when a look
 * finds none, so beats do not scan the job table for ever. */
extern bool sched_unconfirmed_left;

/* ------------------------------------------------------------------ */
/* JSON (sched_json.c)                                                  */
/* ------------------------------------------------------------------ */

void sched_json_str(struct tn_buf *b, const char *s, size_t n);
void sched_json_cstr(struct tn_buf *b, const char *s); /* NULL -> null */
void sched_json_job(struct tn_buf *b, const struct sched_job *j);
void sched_json_dag(struct tn_buf *b, const struct sched_dag *d);
void sched_json_dags(struct tn_buf *b);
void sched_json_workers(struct tn_buf *b);
void sched_json_stats(struct tn_buf *b);

/* ------------------------------------------------------------------ */
/* Connections (scheduler.c) and the opcode handlers (sched_v1.c)       */
/* ------------------------------------------------------------------ */

enum sconn_kind {
	SC_LISTEN,
	SC_CLIENT, /* a client, or a worker's persistent link */
	SC_SUB,    /* our RESP subscription to __keyevent@0__:expired */
	SC_TIMER,
	SC_SIGNAL,
	SC_WAKE, /* eventfd: the journal made the held output durable */
	SC_V1OUT, /* our call to a v1 worker's own port (ping, stage + run) */
};

enum { SCHED_V1_PING, SCHED_V1_DISPATCH, SCHED_V1_CANCEL };

struct sconn {
	int fd;
	int kind;
	struct tn_buf in, out;
	bool authed;
	bool closing; /* close once `out` is flushed */
	bool dead;    /* closed; freed at the end of the loop turn */
	bool dirty;   /* in the flush list */
	bool want_out;
	struct sched_worker *w; /* the worker this link belongs to */
	char peer[64];          /* peer IP as text */
	struct sconn *next_dirty;
	/* SC_V1OUT */
	struct sched_worker *v1w;
	int v1_kind;
	int v1_step;
	bool v1_done; /* got what it wanted: closing is not a failure */
	char *v1_job;
	struct tn_buf v1_next; /* the frame after STAGE's reply */
	struct sched_timer v1_timeout;
};

/*
 * Call a v1 worker on its own port: send `first`, then (after a reply)
 * `next` if any.  The replies go to sched_v1_reply(); a connection that
 * ends before c->v1_done goes to sched_v1_failed().  0 or -errno.
 */
int sched_v1_call(struct sched_worker *w, int kind, const char *job_id,
		  uint8_t op1, const char *b1, size_t l1, uint8_t op2,
		  const char *b2, size_t l2);
void sched_v1_reply(struct sconn *c, uint8_t op, const char *body, size_t n);
void sched_v1_failed(struct sconn *c);

/* Queue a frame on c (flushed at the end of the loop turn). */
void sched_send(struct sconn *c, uint8_t op, const void *body, size_t n);
/* A reply with v1's opcode rule (ERROR prefixes -> OP_ERROR). */
void sched_reply(struct sconn *c, const char *text, size_t n);
void sched_reply_str(struct sconn *c, const char *text);
/* Close after the queued bytes are out. */
void sched_close_after(struct sconn *c);
/* Handle one frame.  The body is only valid during the call. */
void sched_handle_frame(struct sconn *c, uint8_t op, const char *body,
			size_t n);
/* The link closed: the worker is dead. */
void sched_link_closed(struct sconn *c);
/* An expired key from the subscription. */
void sched_key_expired(const char *key, size_t n);
/* Set up hooks and paths (dir/uploads, dir/perm_files). */
void sched_v1_init(void);

#endif
