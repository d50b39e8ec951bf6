/*
 * worker_job.c - titan-worker's jobs: DISPATCH parsing, posix_spawn in a
 * process group with stdout/stderr pipes, line batching into LOG_LINES,
 * timeouts and cancels (SIGTERM, SIGKILL 2 s later), JOB_COMPLETE.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/proto.h"
#include "util/util.h"
#include "workers/worker.h"

extern char **environ;

int tn_worker_jobs_init(struct tn_worker *w)
{
	int i;

	w->njobs = w->o.capacity;
	w->jobs = calloc((size_t)w->njobs, sizeof(*w->jobs));
	if (!w->jobs)
		return -ENOMEM;
	for (i = 0; i < w->njobs; i++)
		w->jobs[i].fd[0] = w->jobs[i].fd[1] = -1;
	if (w->o.prefetch > 0) {
		w->queued = calloc((size_t)w->o.prefetch, sizeof(*w->queued));
		if (!w->queued)
			return -ENOMEM;
	}
	return 0;
}

/*
 * Each slot keeps an empty spare directory and renames it to the job's
 * directory, and back when the job left nothing there: a directory
 * rename is 5x cheaper than mkdir + rmdir on ext4, whose inode
 * allocation and release dominated the worker's own time per job.
 */
static void tn_worker_spare_path(struct tn_worker *w, struct tn_worker_job *j,
				 char *out, size_t n)
{
	snprintf(out, n, "%s/.titan-spare-%d-%d", w->o.workdir, (int)getpid(),
		 (int)(j - w->jobs));
}

static bool tn_worker_dir_empty(const char *dir)
{
	char b[1024];
	ssize_t n;
	bool empty = true;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return false;
	while (empty && (n = getdents64(fd, b, sizeof(b))) > 0) {
		ssize_t o;

		for (o = 0; o < n;) {
			struct dirent64 *de = (struct dirent64 *)(b + o);
			const char *nm = de->d_name;

			if (!(nm[0] == '.' &&
			      (!nm[1] || (nm[1] == '.' && !nm[2]))))
				empty = false;
			o += de->d_reclen;
		}
	}
	if (n < 0)
		empty = false;
	close(fd);
	return empty;
}

/* Make j->dir: the slot's spare renamed, else a new directory. */
static int tn_worker_dir_make(struct tn_worker *w, struct tn_worker_job *j)
{
	char spare[sizeof(j->dir) + 64];

	if (j->spare) {
		tn_worker_spare_path(w, j, spare, sizeof(spare));
		if (rename(spare, j->dir) == 0) {
			j->spare = false;
			return 0;
		}
		/* a directory of that name with files in it: use it */
		if (errno == ENOTEMPTY || errno == EEXIST)
			return 0;
		j->spare = false;
	}
	if (mkdir(j->dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The job is over: its directory goes unless it left files there. */
static void tn_worker_dir_done(struct tn_worker *w, struct tn_worker_job *j)
{
	char spare[sizeof(j->dir) + 64];

	if (!j->spare && tn_worker_dir_empty(j->dir)) {
		tn_worker_spare_path(w, j, spare, sizeof(spare));
		if (rename(j->dir, spare) == 0) {
			j->spare = true;
			return;
		}
	}
	rmdir(j->dir);
}

void tn_worker_jobs_free(struct tn_worker *w)
{
	char spare[sizeof(w->jobs[0].dir) + 64];
	int i;

	for (i = 0; i < w->njobs; i++) {
		tn_buf_free(&w->jobs[i].acc[0]);
		tn_buf_free(&w->jobs[i].acc[1]);
		if (w->jobs[i].spare) {
			tn_worker_spare_path(w, &w->jobs[i], spare,
					     sizeof(spare));
			rmdir(spare);
		}
	}
	free(w->jobs);
	w->jobs = NULL;
	while (w->nqueued > 0)
		free(w->queued[--w->nqueued].body);
	free(w->queued);
	w->queued = NULL;
}

struct tn_worker_job *tn_worker_job_find(struct tn_worker *w, const char *id)
{
	int i;

	for (i = 0; i < w->njobs; i++)
		if (w->jobs[i].used && strcmp(w->jobs[i].id, id) == 0)
			return &w->jobs[i];
	return NULL;
}

struct tn_worker_job *tn_worker_job_alloc(struct tn_worker *w,
					  const char *id)
{
	struct tn_worker_job *j;
	bool spare;
	int i;

	for (i = 0; i < w->njobs; i++) {
		j = &w->jobs[i];
		if (j->used)
			continue;
		spare = j->spare;
		tn_buf_free(&j->acc[0]);
		tn_buf_free(&j->acc[1]);
		memset(j, 0, sizeof(*j));
		j->spare = spare;
		j->used = true;
		j->fd[0] = j->fd[1] = -1;
		snprintf(j->id, sizeof(j->id), "%s", id);
		return j;
	}
	return NULL;
}

void tn_worker_job_release(struct tn_worker *w, struct tn_worker_job *j)
{
	int s;

	for (s = 0; s < 2; s++) {
		if (j->fd[s] >= 0) {
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, j->fd[s], NULL);
			close(j->fd[s]);
		}
		j->fd[s] = -1;
		j->acc[s].len = j->acc[s].off = 0;
	}
	/* Keep the directory only if the job left files in it. */
	if (!j->v1 && j->dir[0])
		tn_worker_dir_done(w, j);
	if (j->pid > 0)
		w->running--;
	j->pid = 0;
	j->used = false;
}

void tn_worker_sanitise(const char *id, char *out, size_t outlen)
{
	size_t i, n = 0;

	if (outlen < 3)
		return;
	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || !*id)
		out[n++] = '_';
	for (i = 0; id[i] && n + 1 < outlen; i++) {
		char c = id[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || c == '-' || c == '_' ||
			  c == '.';

		out[n++] = ok ? c : '_';
	}
	out[n] = '\0';
}

int tn_worker_mkdirs(const char *path)
{
	char tmp[4096];
	size_t i, n = strlen(path);

	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = path[i];
	}
	return 0;
}

/* Send `id|status|result`: on the link, or as a v1 callback. */
static void tn_worker_report(struct tn_worker *w, bool v1, const char *id,
			     size_t idlen, const char *status,
			     const char *result, size_t rlen)
{
	struct tn_buf b = { 0 };

	if (tn_buf_append(&b, id, idlen) || tn_buf_printf(&b, "|%s|", status) ||
	    tn_buf_append(&b, result, rlen)) {
		tn_warn("out of memory reporting job %.*s; its result is lost",
			(int)idlen, id);
		goto out;
	}
	if (v1)
		tn_worker_v1_complete(w, b.data, b.len);
	else
		tn_worker_link_send(w, TN_OP_JOB_COMPLETE, b.data, b.len,
				    false);
out:
	tn_buf_free(&b);
}

static void tn_worker_fail(struct tn_worker *w, const char *id, size_t idlen,
			   const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void tn_worker_fail(struct tn_worker *w, const char *id, size_t idlen,
			   const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(msg))
		n = sizeof(msg) - 1;
	tn_worker_report(w, false, id, idlen, "FAILED", msg, (size_t)n);
}

/* Our environment with the job's K=V items laid over it. */
static char **tn_worker_envp(char **items, size_t n)
{
	size_t ne = 0, i, k, out = 0;
	char **v;

	while (environ[ne])
		ne++;
	v = malloc((ne + n + 1) * sizeof(*v));
	if (!v)
		return NULL;
	for (i = 0; i < ne; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t kl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool shadowed = false;

		for (k = 0; k < n && !shadowed; k++)
			shadowed = strncmp(items[k], environ[i], kl) == 0 &&
				   items[k][kl] == '=';
		if (!shadowed)
			v[out++] = environ[i];
	}
	for (k = 0; k < n; k++)
		v[out++] = items[k];
	v[out] = NULL;
	return v;
}

int tn_worker_job_start(struct tn_worker *w, struct tn_worker_job *j,
			char **argv, char **env, size_t nenv, const char *cwd,
			bool merge_err)
{
	int po[2] = { -1, -1 }, pe[2] = { -1, -1 }, rc, s;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, defs;
	char **envp;
	pid_t pid;

	envp = tn_worker_envp(env, nenv);
	if (!envp)
		return -ENOMEM;
	if (pipe2(po, O_CLOEXEC) < 0 ||
	    (!merge_err && pipe2(pe, O_CLOEXEC) < 0)) {
		rc = -errno;
		goto fail_pipes;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, merge_err ? po[1] : pe[1], 2);
	posix_spawn_file_actions_addchdir_np(&fa, cwd);
	/* descriptors our own parent leaked to us are not the job's */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	/* Our blocked signals (for signalfd) and ignored SIGPIPE must not
	 * leak into the job. */
	sigemptyset(&none);
	sigemptyset(&defs);
	sigaddset(&defs, SIGPIPE);
	sigaddset(&defs, SIGCHLD);
	sigaddset(&defs, SIGTERM);
	sigaddset(&defs, SIGINT);
	sigaddset(&defs, SIGHUP);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &defs);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP |
					      POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	rc = -posix_spawnp(&pid, argv[0], &fa, &at, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(po[1]);
	po[1] = -1;
	if (pe[1] >= 0)
		close(pe[1]);
	pe[1] = -1;
	if (rc)
		goto fail_pipes;
	free(envp);
	j->pid = pid;
	w->running++;
	j->fd[0] = po[0];
	j->fd[1] = pe[0];
	for (s = 0; s < 2; s++) {
		if (j->fd[s] < 0)
			continue;
		fcntl(j->fd[s], F_SETFL, O_NONBLOCK);
		j->ev[s].type = s ? TN_WEV_JOB_ERR : TN_WEV_JOB_OUT;
		j->ev[s].ptr = j;
		if (tn_worker_epoll_add(w, j->fd[s], EPOLLIN, &j->ev[s]) < 0)
			tn_warn("cannot watch the output of job %s: %s",
				j->id, strerror(errno));
	}
	if (j->timeout_ms > 0)
		j->deadline_ms = tn_worker_now_ms() + j->timeout_ms;
	return 0;

fail_pipes:
	for (s = 0; s < 2; s++) {
		if (po[s] >= 0)
			close(po[s]);
		if (pe[s] >= 0)
			close(pe[s]);
	}
	free(envp);
	return rc;
}

static int tn_worker_queued_find(struct tn_worker *w, const char *id)
{
	int i;

	for (i = 0; i < w->nqueued; i++)
		if (strcmp(w->queued[i].id, id) == 0)
			return i;
	return -1;
}

bool tn_worker_unqueue(struct tn_worker *w, const char *id, const char *why)
{
	int i = tn_worker_queued_find(w, id);

	if (i < 0)
		return false;
	free(w->queued[i].body);
	memmove(&w->queued[i], &w->queued[i + 1],
		sizeof(*w->queued) * (size_t)(w->nqueued - i - 1));
	w->nqueued--;
	tn_worker_report(w, false, id, strlen(id), "FAILED", why, strlen(why));
	return true;
}

static void tn_worker_dispatch_now(struct tn_worker *w, const char *body,
				   size_t len);

void tn_worker_start_queued(struct tn_worker *w)
{
	while (w->nqueued > 0 && w->running < w->o.capacity && !w->stopping) {
		struct tn_worker_queued q = w->queued[0];

		memmove(&w->queued[0], &w->queued[1],
			sizeof(*w->queued) * (size_t)(w->nqueued - 1));
		w->nqueued--;
		tn_worker_dispatch_now(w, q.body, q.len);
		free(q.body);
	}
}

/*
 * One DISPATCH: started now if a slot is free, else kept (up to
 * --prefetch of them, when the scheduler took that field of our HELLO)
 * and started the moment a slot frees, so a slot does not sit idle
 * while a completion and the next DISPATCH cross the link.
 */
void tn_worker_dispatch(struct tn_worker *w, const char *body, size_t len)
{
	const char *bar = memchr(body, '|', len);
	size_t il = bar ? (size_t)(bar - body) : len;
	struct tn_worker_queued *q;
	char id[TN_WORKER_ID_MAX];

	if (w->running < w->o.capacity || w->stopping || w->hello_plain ||
	    w->nqueued >= w->o.prefetch || il == 0 || il >= sizeof(id) ||
	    memchr(body, '\0', il)) {
		tn_worker_dispatch_now(w, body, len);
		return;
	}
	memcpy(id, body, il);
	id[il] = '\0';
	if (tn_worker_job_find(w, id) || tn_worker_queued_find(w, id) >= 0) {
		tn_notice("job %s dispatched again while it is here; the "
			  "first copy will report", id);
		return;
	}
	q = &w->queued[w->nqueued];
	q->body = malloc(len ? len : 1);
	if (!q->body) {
		tn_worker_fail(w, id, il, "ERROR: out of memory queueing the "
			       "job on the worker");
		return;
	}
	memcpy(q->body, body, len);
	q->len = len;
	memcpy(q->id, id, il + 1);
	w->nqueued++;
}

/* Parse one DISPATCH body (TITAN_PROTO v2, titan-proto(7)) and start it. */
static void tn_worker_dispatch_now(struct tn_worker *w, const char *body,
				   size_t len)
{
	const char *f[8];
	size_t fl[8], nf = 0, i, nargv = 0, nenv = 0, ncwd = 0;
	char **argv = NULL, **env = NULL, **cwdv = NULL, *stage = NULL;
	char id[TN_WORKER_ID_MAX], safe[TN_WORKER_ID_MAX + 2];
	char path[4096 + TN_WORKER_ID_MAX], *argv0 = NULL;
	struct tn_worker_job *j = NULL;
	long long timeout = 0;
	const char *p = body, *end = body + len, *bar;
	int rc;

	while (nf < 7 && (bar = memchr(p, '|', (size_t)(end - p)))) {
		f[nf] = p;
		fl[nf++] = (size_t)(bar - p);
		p = bar + 1;
	}
	f[nf] = p;
	fl[nf++] = (size_t)(end - p);
	if (fl[0] == 0 || memchr(f[0], '\0', fl[0])) {
		tn_warn("DISPATCH without a job id (%zu bytes) ignored; the "
			"scheduler speaks another protocol version?", len);
		return;
	}
	if (fl[0] >= sizeof(id)) {
		tn_worker_fail(w, f[0], fl[0], "ERROR: job id longer than %d "
			       "bytes", TN_WORKER_ID_MAX - 1);
		return;
	}
	memcpy(id, f[0], fl[0]);
	id[fl[0]] = '\0';
	if (nf != 8) {
		tn_worker_fail(w, id, fl[0], "ERROR: bad DISPATCH: %zu fields, "
			       "expected 8", nf);
		return;
	}
	if (w->stopping) {
		tn_worker_fail(w, id, fl[0], "ERROR: worker shutting down");
		return;
	}
	if (tn_worker_job_find(w, id) || tn_worker_queued_find(w, id) >= 0) {
		tn_notice("job %s dispatched again while it is here; the "
			  "first copy will report", id);
		return;
	}
	if (w->running >= w->o.capacity) {
		tn_worker_fail(w, id, fl[0], "ERROR_WORKER_SATURATED");
		return;
	}
	if (!tn_str2ll(f[2], fl[2], &timeout) || timeout < 0 ||
	    timeout > 0x7fffffff) {
		tn_worker_fail(w, id, fl[0], "ERROR: bad DISPATCH: timeout "
			       "'%.*s' is not a number of ms", (int)TN_MIN(fl[2], 32),
			       f[2]);
		return;
	}
	if (tn_b64_list_decode(f[3], fl[3], &argv, &nargv) ||
	    tn_b64_list_decode(f[4], fl[4], &env, &nenv) ||
	    tn_b64_list_decode(f[5], fl[5], &cwdv, &ncwd)) {
		tn_worker_fail(w, id, fl[0], "ERROR: bad DISPATCH: argv, env "
			       "or cwd is not Base64 of a list");
		goto out;
	}
	if (nargv == 0 || !argv[0][0]) {
		tn_worker_fail(w, id, fl[0], "ERROR: bad DISPATCH: empty argv");
		goto out;
	}
	for (i = 0; i < nenv; i++) {
		if (!strchr(env[i], '=') || env[i][0] == '=') {
			tn_worker_fail(w, id, fl[0], "ERROR: bad DISPATCH: env "
				       "item '%.64s' is not K=V", env[i]);
			goto out;
		}
	}
	if (ncwd > 1 || (ncwd == 1 && !cwdv[0][0])) {
		tn_worker_fail(w, id, fl[0], "ERROR: bad DISPATCH: cwd must "
			       "be one non-empty path");
		goto out;
	}
	if (fl[6] && (memchr(f[6], '/', fl[6]) || memchr(f[6], '\0', fl[6]) ||
		      (fl[6] == 1 && f[6][0] == '.') ||
		      (fl[6] == 2 && f[6][0] == '.' && f[6][1] == '.') ||
		      fl[6] > 255)) {
		tn_worker_fail(w, id, fl[0], "ERROR: bad stage file name "
			       "'%.*s'", (int)TN_MIN(fl[6], 64), f[6]);
		goto out;
	}
	j = tn_worker_job_alloc(w, id);
	tn_worker_sanitise(id, safe, sizeof(safe));
	snprintf(j->dir, sizeof(j->dir), "%s/%s", w->o.workdir, safe);
	rc = tn_worker_dir_make(w, j);
	if (rc < 0) {
		tn_worker_fail(w, id, fl[0], "ERROR: cannot create %s: %s",
			       j->dir, strerror(-rc));
		j->dir[0] = '\0';
		goto release;
	}
	if (fl[6]) {
		ssize_t n;
		int fd;

		stage = malloc(tn_b64_decoded_max(fl[7]) + 1);
		n = stage ? tn_b64_decode(f[7], fl[7], stage) : -1;
		if (n < 0) {
			tn_worker_fail(w, id, fl[0], "ERROR: bad DISPATCH: "
				       "stage file is not Base64");
			goto release;
		}
		snprintf(path, sizeof(path), "%s/%.*s", j->dir, (int)fl[6],
			 f[6]);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
		if (fd < 0 || write(fd, stage, (size_t)n) != n) {
			tn_worker_fail(w, id, fl[0], "ERROR: cannot write stage "
				       "file %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			goto release;
		}
		close(fd);
	}
	/* A relative path with a slash means "in the job's directory". */
	if (argv[0][0] != '/' && strchr(argv[0], '/')) {
		if (asprintf(&argv0, "%s/%s", j->dir, argv[0]) < 0) {
			argv0 = NULL;
			tn_worker_fail(w, id, fl[0], "ERROR: out of memory");
			goto release;
		}
	}
	j->timeout_ms = (int)timeout;
	{
		char *orig = argv[0];

		if (argv0)
			argv[0] = argv0;
		rc = tn_worker_job_start(w, j, argv, env, nenv,
					 ncwd ? cwdv[0] : j->dir, false);
		argv[0] = orig;
	}
	if (rc) {
		tn_worker_fail(w, id, fl[0], "ERROR: cannot run %s: %s",
			       argv[0], strerror(-rc));
		goto release;
	}
	tn_verbose("job %s started: pid %d, %s", id, (int)j->pid, argv[0]);
	goto out;
release:
	tn_worker_job_release(w, j);
out:
	free(argv0);
	free(stage);
	free(argv);
	free(env);
	free(cwdv);
}

void tn_worker_cancel(struct tn_worker *w, struct tn_worker_job *j,
		      enum tn_worker_end why, bool force)
{
	if (j->pid <= 0)
		return;
	if (j->end == TN_WEND_NONE)
		j->end = why;
	j->deadline_ms = 0;
	if (kill(-j->pid, force ? SIGKILL : SIGTERM) < 0 && errno != ESRCH)
		tn_warn("cannot signal job %s (group %d): %s", j->id,
			(int)j->pid, strerror(errno));
	if (!force && !j->kill_ms)
		j->kill_ms = tn_worker_now_ms() + TN_WORKER_KILL_GRACE_MS;
}

static void tn_worker_tail_add(struct tn_worker_job *j, const char *p,
			       size_t n)
{
	size_t at;

	if (n > sizeof(j->tail)) {
		p += n - sizeof(j->tail);
		j->tail_total += n - sizeof(j->tail);
		n = sizeof(j->tail);
	}
	while (n) {
		size_t k;

		at = j->tail_total % sizeof(j->tail);
		k = TN_MIN(n, sizeof(j->tail) - at);
		memcpy(j->tail + at, p, k);
		j->tail_total += k;
		p += k;
		n -= k;
	}
}

/* The last output, from a line start if it was cut, trimmed. */
static size_t tn_worker_tail_get(struct tn_worker_job *j, char *out)
{
	size_t n = TN_MIN(j->tail_total, sizeof(j->tail)), start, i, b = 0;

	start = j->tail_total > sizeof(j->tail) ?
			j->tail_total % sizeof(j->tail) : 0;
	for (i = 0; i < n; i++)
		out[i] = j->tail[(start + i) % sizeof(j->tail)];
	if (j->tail_total > sizeof(j->tail)) {
		char *nl = memchr(out, '\n', n);

		if (nl && nl + 1 < out + n)
			b = (size_t)(nl + 1 - out);
	}
	while (b < n && (out[b] == ' ' || out[b] == '\n' || out[b] == '\r' ||
			 out[b] == '\t'))
		b++;
	while (n > b && (out[n - 1] == ' ' || out[n - 1] == '\n' ||
			 out[n - 1] == '\r' || out[n - 1] == '\t'))
		n--;
	memmove(out, out + b, n - b);
	return n - b;
}

static void tn_worker_send_lines(struct tn_worker *w, struct tn_worker_job *j,
				 int s, const char *p, size_t n)
{
	struct tn_buf b = { 0 };

	if (j->v1) {
		tn_worker_v1_send_logs(w, j->id, p, n);
		return;
	}
	if (tn_buf_printf(&b, "%s|%c|", j->id, s ? 'e' : 'o') ||
	    tn_buf_append(&b, p, n))
		tn_warn("out of memory sending logs of job %s", j->id);
	else
		tn_worker_link_send(w, TN_OP_LOG_LINES, b.data, b.len, true);
	tn_buf_free(&b);
}

/*
 * Send what stream s holds: its complete lines, plus the partial last
 * line when the job ended (final) or it grew past a chunk.
 */
static void tn_worker_flush_stream(struct tn_worker *w,
				   struct tn_worker_job *j, int s, bool final)
{
	struct tn_buf *a = &j->acc[s];
	const char *p = a->data + a->off, *nl;
	size_t n = tn_buf_pending(a);

	if (!n)
		return;
	if (final) {
		if (p[n - 1] == '\n')
			n--;
		if (n)
			tn_worker_send_lines(w, j, s, p, n);
		a->len = a->off = 0;
		j->v1_lines = 0;
		return;
	}
	nl = memrchr(p, '\n', n);
	if (nl) {
		tn_worker_send_lines(w, j, s, p, (size_t)(nl - p));
		a->off += (size_t)(nl - p) + 1;
		p = nl + 1;
		n = tn_buf_pending(a);
	}
	if (n >= TN_WORKER_LOG_CHUNK) {
		tn_worker_send_lines(w, j, s, p, n);
		a->off += n;
	}
	j->v1_lines = 0;
	if (a->off == a->len)
		a->len = a->off = 0;
	else
		tn_buf_compact(a);
}

void tn_worker_flush_logs(struct tn_worker *w)
{
	int i, s;

	for (i = 0; i < w->njobs; i++)
		if (w->jobs[i].used)
			for (s = 0; s < 2; s++)
				tn_worker_flush_stream(w, &w->jobs[i], s, false);
	w->flush_due_ms = 0;
}

/* Read what the pipe has (bounded per call, so one chatty job cannot
 * starve the loop); EOF closes it. */
void tn_worker_job_readable(struct tn_worker *w, struct tn_worker_job *j,
			    int s, bool drain)
{
	struct tn_buf *a = &j->acc[s];
	int rounds;

	for (rounds = 0; (drain || rounds < 4) && j->fd[s] >= 0; rounds++) {
		ssize_t n;

		if (tn_buf_reserve(a, TN_WORKER_LOG_CHUNK)) {
			tn_warn("out of memory reading output of job %s", j->id);
			return;
		}
		n = read(j->fd[s], a->data + a->len, TN_WORKER_LOG_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, j->fd[s], NULL);
			close(j->fd[s]);
			j->fd[s] = -1;
			break;
		}
		tn_worker_tail_add(j, a->data + a->len, (size_t)n);
		if (j->v1) {
			const char *q = a->data + a->len, *e = q + n;

			while ((q = memchr(q, '\n', (size_t)(e - q))) && ++q)
				j->v1_lines++;
		}
		a->len += (size_t)n;
		if (tn_buf_pending(a) >= TN_WORKER_LOG_CHUNK ||
		    (j->v1 && j->v1_lines >= TN_WORKER_V1_LINES))
			tn_worker_flush_stream(w, j, s, false);
	}
	if (tn_buf_pending(a) && !w->flush_due_ms)
		w->flush_due_ms = tn_worker_now_ms() +
				  (w->o.listen_port ? TN_WORKER_V1_FLUSH_MS :
						      TN_WORKER_LOG_FLUSH_MS);
}

static void tn_worker_finish(struct tn_worker *w, struct tn_worker_job *j,
			     int st)
{
	char result[TN_WORKER_TAIL_BYTES + 128], tail[TN_WORKER_TAIL_BYTES];
	const char *status = "FAILED";
	size_t tl;
	int s, n;

	/* What the job wrote before it exited is still in the pipes; what
	 * its leftover children write later is not its output. */
	for (s = 0; s < 2; s++) {
		if (j->fd[s] >= 0)
			tn_worker_job_readable(w, j, s, true);
		if (j->fd[s] >= 0) {
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, j->fd[s], NULL);
			close(j->fd[s]);
		}
		j->fd[s] = -1;
		tn_worker_flush_stream(w, j, s, true);
	}
	kill(-j->pid, SIGKILL);
	tl = tn_worker_tail_get(j, tail);
	switch (j->end) {
	case TN_WEND_TIMEOUT:
		if (j->v1)
			n = snprintf(result, sizeof(result), "%s",
				     j->v1_timeout_text);
		else
			n = snprintf(result, sizeof(result),
				     "ERROR: timed out after %d ms",
				     j->timeout_ms);
		break;
	case TN_WEND_CANCEL:
		n = snprintf(result, sizeof(result), "ERROR: cancelled");
		break;
	case TN_WEND_SHUTDOWN:
		n = snprintf(result, sizeof(result),
			     "ERROR: worker shutting down");
		break;
	default:
		if (WIFSIGNALED(st)) {
			n = snprintf(result, sizeof(result),
				     "ERROR: killed by signal %d", WTERMSIG(st));
			break;
		}
		if (WEXITSTATUS(st) == 0)
			status = "COMPLETED";
		/* v1 always wrote COMPLETED|<code>|...; the status says. */
		n = snprintf(result, sizeof(result), "%s|%d|%.*s",
			     WEXITSTATUS(st) == 0 || j->v1 ? "COMPLETED" :
							     "FAILED",
			     WEXITSTATUS(st), (int)tl, tail);
		break;
	}
	if (n >= (int)sizeof(result))
		n = sizeof(result) - 1;
	tn_verbose("job %s finished: %s", j->id, result);
	if (!j->v1 || j->v1_callback)
		tn_worker_report(w, j->v1, j->id, strlen(j->id), status, result,
				 (size_t)n);
	tn_worker_job_release(w, j);
	if (w->nqueued > 0) {
		/* the completion goes first (a child of this job may be
		 * waiting for it), then the spawn */
		tn_worker_link_flush_now(w);
		tn_worker_start_queued(w);
	}
}

void tn_worker_reap(struct tn_worker *w)
{
	int st, i;
	pid_t pid;

	while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
		for (i = 0; i < w->njobs; i++) {
			if (w->jobs[i].used && w->jobs[i].pid == pid) {
				tn_worker_finish(w, &w->jobs[i], st);
				break;
			}
		}
	}
}

void tn_worker_job_timers(struct tn_worker *w, int64_t now)
{
	int i;

	for (i = 0; i < w->njobs; i++) {
		struct tn_worker_job *j = &w->jobs[i];

		if (!j->used || j->pid <= 0)
			continue;
		if (j->deadline_ms && now >= j->deadline_ms) {
			tn_notice("job %s timed out after %d ms; stopping its "
				  "process group %d", j->id, j->timeout_ms,
				  (int)j->pid);
			tn_worker_cancel(w, j, TN_WEND_TIMEOUT, false);
		}
		if (j->kill_ms && now >= j->kill_ms) {
			kill(-j->pid, SIGKILL);
			j->kill_ms = 0;
		}
	}
}

int64_t tn_worker_job_next_due(struct tn_worker *w)
{
	int64_t due = 0;
	int i;

	for (i = 0; i < w->njobs; i++) {
		struct tn_worker_job *j = &w->jobs[i];

		if (!j->used)
			continue;
		if (j->deadline_ms && (!due || j->deadline_ms < due))
			due = j->deadline_ms;
		if (j->kill_ms && (!due || j->kill_ms < due))
			due = j->kill_ms;
	}
	if (w->flush_due_ms && (!due || w->flush_due_ms < due))
		due = w->flush_due_ms;
	return due;
}
