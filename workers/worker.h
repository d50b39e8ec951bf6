/*
 * worker.h - titan-worker, the agent that runs jobs on any host: its
 * options, its state, and the split between the event loop and link
 * (worker_loop.c), the jobs (worker_job.c) and v1 mode (worker_v1.c).
 */
#ifndef TN_WORKER_H
#define TN_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ipc/ipc.h"

#define TN_WORKER_ID_MAX 256          /* worker and job ids, bytes */
#define TN_WORKER_LOG_FLUSH_MS 50     /* LOG_LINES batching interval */
#define TN_WORKER_V1_FLUSH_MS 2000    /* v1 LOG_BATCH interval */
#define TN_WORKER_LOG_CHUNK (64 * 1024) /* send at once past this */
#define TN_WORKER_V1_LINES 200        /* v1 LOG_BATCH line count */
#define TN_WORKER_TAIL_BYTES 4096     /* result text: output tail */
#define TN_WORKER_KILL_GRACE_MS 2000  /* SIGTERM -> SIGKILL */
#define TN_WORKER_BACKOFF_MIN_MS 100
#define TN_WORKER_BACKOFF_MAX_MS 5000
#define TN_WORKER_V1_REGISTER_MS 30000
#define TN_WORKER_MAX_BODY (10u * 1024 * 1024)
#define TN_WORKER_PREFETCH_MAX 64     /* queued DISPATCHes beyond capacity */
/* Reports kept while the link is down; LOG_LINES past it are dropped
 * (completions never are). */
#define TN_WORKER_BACKLOG_MAX (64u * 1024 * 1024)

struct tn_worker_opts {
	const char *host;
	int port;
	const char *token;   /* NULL: no AUTH */
	char id[TN_WORKER_ID_MAX];
	char caps[1024];     /* comma-separated */
	int capacity;
	const char *workdir;
	int beat_ms;
	int listen_port;     /* 0: no v1 mode */
	int prefetch;        /* DISPATCHes we queue while all slots run */
};

/* A DISPATCH received while every slot was busy (prefetch): started,
 * in order, the moment a slot frees. */
struct tn_worker_queued {
	char id[TN_WORKER_ID_MAX];
	char *body;
	size_t len;
};

/* What an epoll event points at. */
enum tn_worker_ev_type {
	TN_WEV_SIGNAL,
	TN_WEV_LINK,
	TN_WEV_LISTEN,
	TN_WEV_V1CONN,
	TN_WEV_JOB_OUT,
	TN_WEV_JOB_ERR,
};

struct tn_worker_ev {
	enum tn_worker_ev_type type;
	void *ptr;
};

enum tn_worker_end {
	TN_WEND_NONE,
	TN_WEND_TIMEOUT,
	TN_WEND_CANCEL,
	TN_WEND_SHUTDOWN,
};

struct tn_worker_job {
	bool used;
	bool spare;          /* this slot's empty spare directory exists */
	bool v1;             /* started by a v1 RUN: v1 reporting */
	bool v1_callback;    /* v1: send 0x12 at the end (not for TEST) */
	char id[TN_WORKER_ID_MAX];
	char dir[4096];
	pid_t pid;           /* process group id too */
	int fd[2];           /* stdout, stderr pipes (-1 when closed) */
	struct tn_worker_ev ev[2];
	struct tn_buf acc[2]; /* bytes read, not yet sent as lines */
	unsigned v1_lines;   /* complete lines pending (v1 batching) */
	char tail[TN_WORKER_TAIL_BYTES];
	size_t tail_total;   /* bytes ever written to tail */
	int timeout_ms;
	int64_t deadline_ms; /* timeout, monotonic; 0: none */
	int64_t kill_ms;     /* SIGKILL due; 0: none */
	enum tn_worker_end end;
	char v1_timeout_text[64];
};

/* The link's out-queue: whole frames; `sent` bytes already written. */
struct tn_worker_outq {
	char *data;
	size_t len;
	size_t cap;
	size_t sent;
};

enum tn_worker_link_state {
	TN_LINK_DOWN,        /* waiting for the reconnect timer */
	TN_LINK_CONNECTING,
	TN_LINK_AUTH,        /* AUTH sent, waiting for ACK OK */
	TN_LINK_HELLO,       /* HELLO sent, waiting for ACK REGISTERED */
	TN_LINK_UP,
};

/* A v1 completion waiting to be delivered (new connection each try). */
struct tn_worker_v1cb {
	struct tn_worker_v1cb *next;
	char *body;
	size_t len;
	int tries;
	int64_t due_ms;
};

struct tn_worker_v1conn {
	int fd;
	struct tn_worker_ev ev;
	struct tn_buf in;
	struct tn_buf out;
	bool close_after;    /* close once `out` is written */
	bool exit_after;     /* KILL_WORKER: exit once `out` is written */
	struct tn_worker_v1conn *next;
};

struct tn_worker {
	struct tn_worker_opts o;
	char hostname[256];
	int epfd;
	int sigfd;
	struct tn_worker_ev sig_ev;
	bool stopping;       /* SIGTERM or KILL_WORKER seen */
	int64_t stop_deadline_ms; /* give up flushing at this time */

	/* persistent link (not in v1 mode) */
	int link_fd;
	struct tn_worker_ev link_ev;
	enum tn_worker_link_state link_state;
	int backoff_ms;
	int64_t reconnect_ms;
	int64_t beat_due_ms;
	struct tn_buf link_in;
	struct tn_worker_outq hs;   /* AUTH, HELLO */
	struct tn_worker_outq q;    /* everything else */
	bool link_want_out;
	bool hello_plain;    /* the scheduler refused HELLO's prefetch field */

	/* v1 mode */
	int listen_fd;
	struct tn_worker_ev listen_ev;
	struct tn_worker_v1conn *v1conns;
	struct tn_worker_v1cb *v1cbs;
	int64_t v1_register_due_ms;
	int v1_register_backoff_ms;

	/* jobs */
	struct tn_worker_job *jobs;
	int njobs;           /* slots in jobs[] */
	int running;
	int64_t flush_due_ms; /* 0: nothing pending */
	struct tn_worker_queued *queued; /* FIFO, o.prefetch long */
	int nqueued;
};

static inline int64_t tn_worker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* worker_loop.c */
int tn_worker_run(struct tn_worker *w);
/* Queue a frame for the scheduler (link mode). */
void tn_worker_link_send(struct tn_worker *w, uint8_t op, const void *body,
			 size_t len, bool droppable);
int tn_worker_epoll_add(struct tn_worker *w, int fd, uint32_t events,
			struct tn_worker_ev *ev);

/* worker_job.c */
int tn_worker_jobs_init(struct tn_worker *w);
void tn_worker_jobs_free(struct tn_worker *w);
struct tn_worker_job *tn_worker_job_find(struct tn_worker *w,
					 const char *id);
void tn_worker_dispatch(struct tn_worker *w, const char *body, size_t len);
/* Start queued DISPATCHes while slots are free. */
void tn_worker_start_queued(struct tn_worker *w);
/* Drop a queued job (cancel, shutdown), reporting `why`.  true if it
 * was queued. */
bool tn_worker_unqueue(struct tn_worker *w, const char *id, const char *why);
/* Write what the link's queue holds now (a completion before a spawn). */
void tn_worker_link_flush_now(struct tn_worker *w);
void tn_worker_cancel(struct tn_worker *w, struct tn_worker_job *j,
		      enum tn_worker_end why, bool force);
void tn_worker_job_readable(struct tn_worker *w, struct tn_worker_job *j,
			    int stream, bool drain);
void tn_worker_reap(struct tn_worker *w);
void tn_worker_flush_logs(struct tn_worker *w);
void tn_worker_job_timers(struct tn_worker *w, int64_t now);
int64_t tn_worker_job_next_due(struct tn_worker *w);
/*
 * Start argv in dir (cwd: cwd or dir), env items added to ours.  On a
 * spawn failure returns -errno with nothing started.
 */
int tn_worker_job_start(struct tn_worker *w, struct tn_worker_job *j,
			char **argv, char **env, size_t nenv, const char *cwd,
			bool merge_err);
struct tn_worker_job *tn_worker_job_alloc(struct tn_worker *w,
					  const char *id);
void tn_worker_job_release(struct tn_worker *w, struct tn_worker_job *j);
/* Job id -> a safe directory name component. */
void tn_worker_sanitise(const char *id, char *out, size_t outlen);
int tn_worker_mkdirs(const char *path);

/* worker_v1.c */
int tn_worker_v1_init(struct tn_worker *w);
void tn_worker_v1_accept(struct tn_worker *w);
void tn_worker_v1_conn_event(struct tn_worker *w, struct tn_worker_v1conn *c,
			     uint32_t events);
void tn_worker_v1_timers(struct tn_worker *w, int64_t now);
int64_t tn_worker_v1_next_due(struct tn_worker *w);
void tn_worker_v1_send_logs(struct tn_worker *w, const char *id,
			    const char *lines, size_t len);
void tn_worker_v1_complete(struct tn_worker *w, const char *body,
			   size_t len);
void tn_worker_v1_free(struct tn_worker *w);
bool tn_worker_v1_idle(struct tn_worker *w);

#endif
