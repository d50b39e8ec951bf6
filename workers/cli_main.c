/*
 * cli_main.c - titan(1): submit DAG files and commands to the scheduler
 * over TITAN_PROTO, and show jobs, DAGs, logs, workers and stats.  Exit
 * status: 0 done, 1 the server said no or the job failed, 2 usage/network.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "ipc/proto.h"
#include "util/util.h"
#include "workers/cli.h"
#include "workers/dagfile.h"

#define CLI_EXIT_NO 1
#define CLI_EXIT_USAGE 2
#define CLI_CONNECT_TIMEOUT_MS 10000
#define CLI_REPLY_TIMEOUT_S 30
#define CLI_POLL_FIRST_MS 50
#define CLI_POLL_MAX_MS 1000
#define CLI_REDRAW_MS 500

static const char *cli_host = "127.0.0.1";
static const char *cli_port = "9090";
static const char *cli_token;
static bool cli_json;
static int cli_fd = -1;

static const char cli_usage_text[] =
	"usage: titan [-h host] [-p port] [--token T] [--json] command ...\n"
	"commands:\n"
	"  submit FILE.yaml\n"
	"  run [--capability X] [--priority N] [--retries N] "
	"[--timeout SECONDS]\n"
	"      [--env K=V]... [--cwd DIR] [-w] -- CMD ARGS...\n"
	"  status [ID] [-w]\n"
	"  logs [-f] ID\n"
	"  cancel ID\n"
	"  workers\n"
	"  stats\n"
	"See titan(1).\n";

__attribute__((noreturn, format(printf, 1, 2))) static void
cli_usage(const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		fputs("titan: ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	/* The synopsis line only; --help has the rest. */
	fprintf(stderr, "%.*s(titan --help lists the commands)\n",
		(int)(strchr(cli_usage_text, '\n') - cli_usage_text + 1),
		cli_usage_text);
	exit(CLI_EXIT_USAGE);
}

__attribute__((noreturn, format(printf, 2, 3))) static void
cli_die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("titan: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void cli_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------------ */
/* Connection                                                           */
/* ------------------------------------------------------------------ */

/* connect() bounded in time: a host that drops SYNs must not hang us. */
static int cli_connect_one(const struct addrinfo *ai)
{
	struct timeval tv = { CLI_REPLY_TIMEOUT_S, 0 };
	struct pollfd pfd;
	socklen_t sl = sizeof(int);
	int fd, err = 0, fl;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = -errno;
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		while ((err = poll(&pfd, 1, CLI_CONNECT_TIMEOUT_MS)) < 0 &&
		       errno == EINTR)
			;
		if (err == 0) {
			err = -ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
			err = errno;
		if (err) {
			err = -err;
			goto fail;
		}
	}
	fcntl(fd, F_SETFL, fl);
	/* A scheduler that stops answering is reported, not waited on. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
fail:
	close(fd);
	return err;
}

static int cli_exchange(uint8_t op, const void *body, size_t len,
			uint8_t *rop, char **reply);

static void cli_connect(void)
{
	struct addrinfo hints = { 0 }, *res, *ai;
	uint8_t rop;
	char *reply;
	int rc, fd = -ECONNREFUSED;

	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(cli_host, cli_port, &hints, &res);
	if (rc)
		cli_die(CLI_EXIT_USAGE, "cannot connect to %s:%s: %s", cli_host,
			cli_port, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		fd = cli_connect_one(ai);
		if (fd >= 0)
			break;
	}
	freeaddrinfo(res);
	if (fd < 0)
		cli_die(CLI_EXIT_USAGE, "cannot connect to %s:%s: %s", cli_host,
			cli_port, strerror(-fd));
	cli_fd = fd;
	if (!cli_token)
		return;
	rc = cli_exchange(TN_OP_AUTH, cli_token, strlen(cli_token), &rop,
			  &reply);
	if (rc)
		cli_die(CLI_EXIT_USAGE, "%s:%s: authentication: %s", cli_host,
			cli_port, strerror(-rc));
	if (rop == TN_OP_ERROR || strncmp(reply, "OK", 3))
		cli_die(CLI_EXIT_NO, "%s:%s: %s", cli_host, cli_port,
			reply[0] ? reply : "authentication refused");
	free(reply);
}

static int cli_exchange(uint8_t op, const void *body, size_t len,
			uint8_t *rop, char **reply)
{
	struct tn_frame h;
	int rc;

	rc = tn_proto_send(cli_fd, op, body, len);
	if (rc)
		return rc;
	rc = tn_proto_recv(cli_fd, 0, &h, reply);
	if (rc)
		return rc;
	*rop = h.opcode;
	return 0;
}

/*
 * One request, one reply.  The connection is kept for the next call; if
 * the scheduler closed it meanwhile (a restart, a v1-style close), one
 * fresh connection is tried before giving up.
 */
static char *cli_call(uint8_t op, const void *body, size_t len, bool *err)
{
	bool fresh = cli_fd < 0;
	uint8_t rop;
	char *reply;
	int rc;

	if (fresh)
		cli_connect();
	rc = cli_exchange(op, body, len, &rop, &reply);
	if (rc && !fresh && (rc == -ECONNRESET || rc == -EPIPE)) {
		close(cli_fd);
		cli_connect();
		rc = cli_exchange(op, body, len, &rop, &reply);
	}
	if (rc == -EAGAIN || rc == -EWOULDBLOCK)
		cli_die(CLI_EXIT_USAGE, "no reply from %s:%s within %d s",
			cli_host, cli_port, CLI_REPLY_TIMEOUT_S);
	if (rc == -ECONNRESET)
		cli_die(CLI_EXIT_USAGE,
			"%s:%s closed the connection without a reply "
			"(is it a Titan scheduler? does it need --token?)",
			cli_host, cli_port);
	if (rc == -EPROTO)
		cli_die(CLI_EXIT_USAGE,
			"%s:%s sent a bad frame (not a TITAN_PROTO server?)",
			cli_host, cli_port);
	if (rc)
		cli_die(CLI_EXIT_USAGE, "talking to %s:%s: %s", cli_host,
			cli_port, strerror(-rc));
	*err = rop == TN_OP_ERROR || !strncmp(reply, "ERROR", 5);
	return reply;
}

/* A request whose refusal ends the program with status 1. */
static char *cli_must(uint8_t op, const char *body)
{
	bool err;
	char *r = cli_call(op, body, strlen(body), &err);

	if (err)
		cli_die(CLI_EXIT_NO, "%s", r);
	return r;
}

static struct tn_json *cli_must_json(uint8_t op, const char *body,
				     char **raw)
{
	char *r = cli_must(op, body);
	struct tn_json *j = tn_json_parse(r, strlen(r));

	if (!j)
		cli_die(CLI_EXIT_USAGE, "%s:%s sent a reply that is not JSON: "
			"%.80s", cli_host, cli_port, r);
	*raw = r;
	return j;
}

/* ------------------------------------------------------------------ */
/* Output helpers                                                       */
/* ------------------------------------------------------------------ */

static const char *cli_str(const struct tn_json *o, const char *key)
{
	static char tmp[4][512];
	static int next;

	next = (next + 1) % 4;
	return tn_json_cell(tn_json_get(o, key), tmp[next], sizeof(tmp[0]));
}

static bool cli_state_final(const char *s)
{
	return !strcmp(s, "COMPLETED") || !strcmp(s, "DEAD") ||
	       !strcmp(s, "CANCELLED");
}

/* "12s ago" from an epoch-ms field; "-" when unknown. */
static const char *cli_ago(const struct tn_json *o, const char *key)
{
	static char tmp[2][32];
	static int next;
	const struct tn_json *v = tn_json_get(o, key);
	long long d;

	if (!v || v->type != TN_JSON_NUM || v->num <= 0)
		return "-";
	next = !next;
	d = (tn_mstime() - (long long)v->num) / 1000;
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(tmp[next], sizeof(tmp[0]), "%llds ago", d);
	else if (d < 7200)
		snprintf(tmp[next], sizeof(tmp[0]), "%lldm ago", d / 60);
	else
		snprintf(tmp[next], sizeof(tmp[0]), "%lldh ago", d / 3600);
	return tmp[next];
}

/* ------------------------------------------------------------------ */
/* Commands                                                             */
/* ------------------------------------------------------------------ */

static int cmd_submit(int argc, char **argv)
{
	struct tn_buf body = { 0 };
	char err[1024], *r;
	size_t njobs;
	bool no;
	int rc;

	if (argc != 1)
		cli_usage("submit takes one FILE.yaml");
	rc = tn_dagfile_load(argv[0], &body, &njobs, err, sizeof(err));
	if (rc == -ENOMEM)
		cli_die(CLI_EXIT_NO, "out of memory reading %s", argv[0]);
	if (rc)
		cli_die(CLI_EXIT_NO, "%s", err);
	r = cli_call(TN_OP_SUBMIT_DAG2, body.data, body.len, &no);
	tn_buf_free(&body);
	if (no)
		cli_die(CLI_EXIT_NO, "%s: %s", argv[0], r);
	if (cli_json) {
		char *id = r;

		r = cli_must(TN_OP_DAG_INFO, id);
		free(id);
	}
	printf("%s\n", r);
	free(r);
	return 0;
}

/* Print the lines of `now` that `before` did not end with.  The server
 * keeps a bounded tail, so the two windows overlap somewhere. */
static void cli_print_new(const char *before, const char *now)
{
	size_t bl = strlen(before), nl = strlen(now), k;

	if (!nl)
		return;
	/* The largest k such that now[0..k) ends `before` on a line
	 * boundary: those lines were printed already. */
	for (k = TN_MIN(bl, nl); k > 0; k--) {
		if ((k == nl || now[k] == '\n') &&
		    (k == bl || before[bl - k - 1] == '\n') &&
		    !memcmp(before + bl - k, now, k))
			break;
	}
	if (k == nl)
		return;
	if (k)
		k++; /* the newline after the lines already seen */
	fputs(now + k, stdout);
	if (now[nl - 1] != '\n')
		fputc('\n', stdout);
	fflush(stdout);
}

/* The job's state from JOB_INFO; exits 1 if there is no such job. */
static struct tn_json *cli_job_info(const char *id, char **raw)
{
	return cli_must_json(TN_OP_JOB_INFO, id, raw);
}

/* Follow a job until it is final: its log lines as they come (when
 * follow is set), polling with a backoff.  Returns the final JOB_INFO. */
static struct tn_json *cli_follow(const char *id, bool follow)
{
	char *seen = strdup(""), *logs, *raw;
	struct tn_json *info;
	long delay = CLI_POLL_FIRST_MS;
	bool no, final;

	for (;;) {
		info = cli_job_info(id, &raw);
		free(raw);
		final = cli_state_final(cli_str(info, "state"));
		if (follow) {
			/* Logs after the state, so a final state means
			 * every line is in. */
			logs = cli_call(TN_OP_GET_LOGS, id, strlen(id), &no);
			if (!no) {
				cli_print_new(seen, logs);
				free(seen);
				seen = logs;
			} else {
				free(logs);
			}
		}
		if (final)
			break;
		tn_json_free(info);
		cli_sleep_ms(delay);
		delay = TN_MIN(delay * 2, CLI_POLL_MAX_MS);
	}
	free(seen);
	return info;
}

static int cli_job_exit(const char *id, struct tn_json *info)
{
	const char *st = cli_str(info, "state");
	int rc = 0;

	if (strcmp(st, "COMPLETED")) {
		fflush(stdout);
		fprintf(stderr, "titan: job %s %s (exit code %s): %s\n", id,
			st, cli_str(info, "exit_code"), cli_str(info, "result"));
		rc = CLI_EXIT_NO;
	}
	tn_json_free(info);
	return rc;
}

static long long cli_num_arg(const char *opt, const char *v, long long min,
			     long long max)
{
	char *end;
	long long n;

	if (!v)
		cli_usage("%s needs a value", opt);
	errno = 0;
	n = strtoll(v, &end, 10);
	if (!*v || *end || errno || n < min || n > max)
		cli_usage("%s: '%s' is not a number from %lld to %lld", opt, v,
			  min, max);
	return n;
}

static int cmd_run(int argc, char **argv)
{
	const char *cap = "GENERAL", *cwd = NULL;
	const char **env = calloc((size_t)argc + 1, sizeof(*env));
	long long prio = 1, retries = TN_DAGFILE_RETRIES, timeout_ms = 0;
	size_t nenv = 0;
	struct tn_buf body = { 0 };
	bool wait = false;
	char *id;
	int i;

	if (!env)
		cli_die(CLI_EXIT_USAGE, "out of memory");
	for (i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--")) {
			i++;
			break;
		}
		if (a[0] != '-')
			break;
		if (!strcmp(a, "-w") || !strcmp(a, "--wait")) {
			wait = true;
			continue;
		}
		if (!strcmp(a, "--json")) {
			cli_json = true;
			continue;
		}
		if (!v)
			cli_usage("%s needs a value", a);
		i++;
		if (!strcmp(a, "--capability")) {
			if (!*v || strpbrk(v, "|;,[] \t\n"))
				cli_usage("--capability '%s': empty or has a "
					  "character a job line cannot "
					  "carry", v);
			cap = v;
		} else if (!strcmp(a, "--priority")) {
			prio = cli_num_arg(a, v, INT_MIN, INT_MAX);
		} else if (!strcmp(a, "--retries")) {
			retries = cli_num_arg(a, v, 0, TN_DAGFILE_MAX_RETRIES);
		} else if (!strcmp(a, "--timeout")) {
			char *end;
			double s;

			errno = 0;
			s = strtod(v, &end);
			if (!*v || *end || errno || !(s >= 0) ||
			    s > TN_DAGFILE_MAX_SECONDS || strpbrk(v, "xXnN"))
				cli_usage("--timeout: '%s' is not a number of "
					  "seconds", v);
			timeout_ms = (long long)(s * 1000 + 0.5);
		} else if (!strcmp(a, "--env")) {
			if (!strchr(v, '=') || v[0] == '=')
				cli_usage("--env '%s': want NAME=VALUE", v);
			env[nenv++] = v;
		} else if (!strcmp(a, "--cwd")) {
			if (!*v)
				cli_usage("--cwd is empty");
			cwd = v;
		} else {
			cli_usage("run: unknown option %s", a);
		}
	}
	if (i >= argc)
		cli_usage("run needs a command: titan run [options] -- CMD "
			  "ARGS...");
	if (!argv[i][0])
		cli_usage("run: the command is empty");
	tn_buf_printf(&body, "%s|%lld|%lld|%lld|", cap, prio, retries,
		      timeout_ms);
	tn_b64_list_append(&body, (const char *const *)argv + i,
			   (size_t)(argc - i));
	tn_buf_append(&body, "|", 1);
	tn_b64_list_append(&body, env, nenv);
	tn_buf_append(&body, "|", 1);
	if (cwd)
		tn_b64_list_append(&body, &cwd, 1);
	free(env);
	{
		bool no;

		id = cli_call(TN_OP_SUBMIT_EXEC, body.data, body.len, &no);
		tn_buf_free(&body);
		if (no)
			cli_die(CLI_EXIT_NO, "%s", id);
	}
	printf("%s\n", id);
	fflush(stdout);
	if (wait) {
		int rc = cli_job_exit(id, cli_follow(id, true));

		free(id);
		return rc;
	}
	free(id);
	return 0;
}

static void show_dag_list(const struct tn_json *arr)
{
	size_t i;

	if (!arr || arr->type != TN_JSON_ARR)
		cli_die(CLI_EXIT_USAGE, "DAG list: not a JSON array");
	printf("%-20s %-10s %6s  %s\n", "DAG", "STATE", "JOBS", "CREATED");
	for (i = 0; i < arr->n; i++) {
		const struct tn_json *d = &arr->kids[i];

		printf("%-20s %-10s %6s  %s\n", cli_str(d, "id"),
		       cli_str(d, "state"), cli_str(d, "jobs"),
		       cli_ago(d, "created_ms"));
	}
}

static void show_dag(const struct tn_json *d)
{
	const struct tn_json *jobs = tn_json_get(d, "jobs");
	const struct tn_json *counts = tn_json_get(d, "counts");
	size_t i;

	printf("DAG %s  %s\n", cli_str(d, "id"), cli_str(d, "state"));
	if (counts && counts->type == TN_JSON_OBJ && counts->n) {
		for (i = 0; i < counts->n; i++)
			printf("%s%s %s", i ? ", " : "", counts->kids[i].key,
			       tn_json_cell(&counts->kids[i], NULL, 0));
		printf("\n");
	}
	printf("%-24s %-10s %-20s %s\n", "JOB", "STATE", "WORKER", "PARENTS");
	for (i = 0; jobs && jobs->type == TN_JSON_ARR && i < jobs->n; i++) {
		const struct tn_json *j = &jobs->kids[i];

		printf("%-24s %-10s %-20s %s\n", cli_str(j, "id"),
		       cli_str(j, "state"), cli_str(j, "worker"),
		       cli_str(j, "parents"));
	}
}

static void show_job(const struct tn_json *j)
{
	static const char *const keys[] = {
		"id",	   "dag",      "state",	   "capability", "priority",
		"attempts", "retries",  "timeout_ms", "worker",	    "exit_code",
		"argv",	   "parents",  "children",
	};
	static const char *const times[] = { "created_ms", "started_ms",
					     "finished_ms" };
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(keys); i++)
		printf("%-12s %s\n", keys[i], cli_str(j, keys[i]));
	for (i = 0; i < TN_ARRAY_SIZE(times); i++)
		printf("%-12s %s\n", times[i], cli_ago(j, times[i]));
	printf("%-12s %s\n", "result", cli_str(j, "result"));
}

/* One screen of `status`; true when what it shows is finished. */
static bool status_once(const char *id, bool *ok)
{
	struct tn_json *j;
	char *raw;
	bool done = true;
	size_t i;

	if (!id) {
		j = cli_must_json(TN_OP_DAG_INFO, "", &raw);
		if (cli_json)
			printf("%s\n", raw);
		else
			show_dag_list(j);
		for (i = 0; j->type == TN_JSON_ARR && i < j->n; i++)
			if (!cli_state_final(cli_str(&j->kids[i], "state")))
				done = false;
		*ok = true;
	} else {
		bool dag = !strncmp(id, "D-", 2);

		j = cli_must_json(dag ? TN_OP_DAG_INFO : TN_OP_JOB_INFO, id,
				  &raw);
		if (cli_json)
			printf("%s\n", raw);
		else if (dag)
			show_dag(j);
		else
			show_job(j);
		done = cli_state_final(cli_str(j, "state"));
		*ok = !strcmp(cli_str(j, "state"), "COMPLETED");
	}
	fflush(stdout);
	free(raw);
	tn_json_free(j);
	return done;
}

static int cmd_status(int argc, char **argv)
{
	const char *id = NULL;
	bool wait = false, tty = isatty(STDOUT_FILENO), ok;
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-w") || !strcmp(argv[i], "--watch"))
			wait = true;
		else if (!strcmp(argv[i], "--json"))
			cli_json = true;
		else if (argv[i][0] == '-')
			cli_usage("status: unknown option %s", argv[i]);
		else if (id)
			cli_usage("status takes at most one ID");
		else
			id = argv[i];
	}
	if (!wait) {
		status_once(id, &ok);
		return 0;
	}
	for (;;) {
		if (tty)
			fputs("\033[H\033[2J", stdout);
		if (status_once(id, &ok))
			break;
		if (!tty)
			printf("\n");
		cli_sleep_ms(CLI_REDRAW_MS);
	}
	return ok ? 0 : CLI_EXIT_NO;
}

static int cmd_logs(int argc, char **argv)
{
	const char *id = NULL;
	bool follow = false, no;
	char *r;
	int i;

	for (i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "-f") || !strcmp(argv[i], "--follow"))
			follow = true;
		else if (argv[i][0] == '-' && argv[i][1])
			cli_usage("logs: unknown option %s", argv[i]);
		else if (id)
			cli_usage("logs takes one ID");
		else
			id = argv[i];
	}
	if (!id)
		cli_usage("logs needs a job ID");
	if (follow) {
		tn_json_free(cli_follow(id, true));
		return 0;
	}
	r = cli_call(TN_OP_GET_LOGS, id, strlen(id), &no);
	if (no)
		cli_die(CLI_EXIT_NO, "%s", r);
	cli_print_new("", r);
	free(r);
	return 0;
}

static int cmd_cancel(int argc, char **argv)
{
	bool no;
	char *r;
	int rc;

	if (argc != 1 || !argv[0][0])
		cli_usage("cancel takes one job ID");
	r = cli_call(TN_OP_CANCEL_JOB, argv[0], strlen(argv[0]), &no);
	printf("%s\n", r);
	rc = no || strcmp(r, "CANCELLED") ? CLI_EXIT_NO : 0;
	free(r);
	return rc;
}

static int cmd_workers(int argc, char **argv)
{
	struct tn_json *j;
	char *raw, load[64];
	size_t i;

	if (argc)
		cli_usage("workers takes no arguments");
	j = cli_must_json(TN_OP_WORKERS_JSON, "", &raw);
	if (cli_json) {
		printf("%s\n", raw);
	} else {
		if (j->type != TN_JSON_ARR)
			cli_die(CLI_EXIT_USAGE, "workers: not a JSON array");
		printf("%-24s %-16s %-20s %-7s %-5s %s\n", "WORKER", "HOST",
		       "CAPABILITIES", "LOAD", "ALIVE", "LAST SEEN");
		for (i = 0; i < j->n; i++) {
			const struct tn_json *w = &j->kids[i];

			snprintf(load, sizeof(load), "%s/%s",
				 cli_str(w, "running"), cli_str(w, "capacity"));
			printf("%-24s %-16s %-20s %-7s %-5s %s\n",
			       cli_str(w, "id"), cli_str(w, "host"),
			       cli_str(w, "capabilities"), load,
			       cli_str(w, "alive"), cli_ago(w, "last_seen_ms"));
		}
	}
	free(raw);
	tn_json_free(j);
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	const struct tn_json *ws;
	struct tn_json *j;
	char *raw;
	size_t i;

	if (argc)
		cli_usage("stats takes no arguments");
	j = cli_must_json(TN_OP_STATS_JSON, "", &raw);
	if (cli_json) {
		printf("%s\n", raw);
		goto out;
	}
	printf("active workers  %s\n", cli_str(j, "active_workers"));
	printf("queue size      %s\n", cli_str(j, "queue_size"));
	ws = tn_json_get(j, "workers");
	if (!ws || ws->type != TN_JSON_ARR || !ws->n)
		goto out;
	printf("\n%-8s %-20s %-7s %-24s %s\n", "PORT", "CAPABILITIES", "LOAD",
	       "ACTIVE JOB", "SERVICES");
	for (i = 0; i < ws->n; i++) {
		const struct tn_json *w = &ws->kids[i];

		printf("%-8s %-20s %-7s %-24s %s\n", cli_str(w, "port"),
		       cli_str(w, "capabilities"), cli_str(w, "load"),
		       cli_str(w, "active_job"), cli_str(w, "services"));
	}
out:
	free(raw);
	tn_json_free(j);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} cli_cmds[] = {
	{ "submit", cmd_submit }, { "run", cmd_run },
	{ "status", cmd_status }, { "logs", cmd_logs },
	{ "cancel", cmd_cancel }, { "workers", cmd_workers },
	{ "stats", cmd_stats },
};

int main(int argc, char **argv)
{
	const char *env;
	size_t c;
	int i;

	signal(SIGPIPE, SIG_IGN);
	if ((env = getenv("TITAN_HOST")) && *env)
		cli_host = env;
	if ((env = getenv("TITAN_PORT")) && *env)
		cli_port = env;
	if ((env = getenv("TITAN_TOKEN")) && *env)
		cli_token = env;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--help")) {
			fputs(cli_usage_text, stdout);
			return 0;
		}
		if (!strcmp(a, "--json")) {
			cli_json = true;
			continue;
		}
		if (strcmp(a, "-h") && strcmp(a, "-p") && strcmp(a, "--token"))
			cli_usage("unknown option %s", a);
		if (i + 1 >= argc)
			cli_usage("%s needs a value", a);
		if (!strcmp(a, "-h"))
			cli_host = argv[++i];
		else if (!strcmp(a, "-p"))
			cli_port = argv[++i];
		else
			cli_token = argv[++i];
	}
	cli_num_arg("port", cli_port, 1, 65535);
	if (!*cli_host)
		cli_usage("the host is empty");
	if (i >= argc)
		cli_usage("no command");
	for (c = 0; c < TN_ARRAY_SIZE(cli_cmds); c++)
		if (!strcmp(argv[i], cli_cmds[c].name))
			break;
	if (c == TN_ARRAY_SIZE(cli_cmds))
		cli_usage("unknown command '%s'", argv[i]);
	/* --json may follow the command's name; run's own parser keeps
	 * what comes after its "--" untouched. */
	if (cli_cmds[c].fn != cmd_run) {
		int k, out = i + 1;

		for (k = i + 1; k < argc; k++) {
			if (!strcmp(argv[k], "--json"))
				cli_json = true;
			else
				argv[out++] = argv[k];
		}
		argc = out;
	}
	return cli_cmds[c].fn(argc - i - 1, argv + i + 1);
}
