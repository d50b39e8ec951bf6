/*
 * worker_main.c - titan-worker(8): parse the flags, name the process, run
 * the agent loop (worker_loop.c) until SIGTERM or KILL_WORKER.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/util.h"
#include "workers/worker.h"

extern char **environ;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: titan-worker [-h host] [-p port] [--token T] [--id ID]\n"
		"                    [--capability CAP[,CAP...]] [--capacity N]\n"
		"                    [--workdir DIR] [--beat SECONDS] "
		"[--prefetch N]\n"
		"                    [--listen PORT]\n");
}

static int bad(const char *what, const char *arg)
{
	fprintf(stderr, "titan-worker: invalid %s '%s'\n", what, arg);
	usage(stderr);
	return 2;
}

static bool int_arg(const char *s, long long lo, long long hi, int *out)
{
	long long v;

	if (!tn_str2ll(s, strlen(s), &v) || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

/* Capabilities: comma-separated words without '|', blanks or empties. */
static bool caps_ok(const char *s)
{
	bool empty = true;

	if (!*s || strlen(s) >= 1024)
		return false;
	for (; *s; s++) {
		if (*s == ',') {
			if (empty)
				return false;
			empty = true;
			continue;
		}
		if (*s == '|' || *s == ' ' || *s == '\t' || *s == '\n' ||
		    *s == ';')
			return false;
		empty = false;
	}
	return !empty;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'h' },
		{ "port", required_argument, NULL, 'p' },
		{ "token", required_argument, NULL, 't' },
		{ "id", required_argument, NULL, 'i' },
		{ "capability", required_argument, NULL, 'c' },
		{ "capacity", required_argument, NULL, 'n' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "beat", required_argument, NULL, 'b' },
		{ "listen", required_argument, NULL, 'l' },
		{ "prefetch", required_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	static struct tn_worker w;
	char abs[PATH_MAX];
	const char *tok = NULL;
	long cpus;
	int c, rc;
	/* libbsd marks a title shorter than the original argv[0] with a
	 * '.' where argv[0] ended (ps showed "titan: worker w1      .") */
	char *argv0 = argv[0];
	size_t argv0_len = strlen(argv[0]);

	/* first: it moves environ, and the title reuses argv's memory */
	setproctitle_init(argc, argv, environ);
	w.o.host = "127.0.0.1";
	w.o.port = 9090;
	w.o.workdir = "titan_workspace";
	w.o.beat_ms = 1000;
	w.o.prefetch = 1;
	snprintf(w.o.caps, sizeof(w.o.caps), "GENERAL");
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	w.o.capacity = cpus > 0 ? (int)cpus : 1;
	if (gethostname(w.hostname, sizeof(w.hostname) - 1) < 0)
		snprintf(w.hostname, sizeof(w.hostname), "localhost");
	snprintf(w.o.id, sizeof(w.o.id), "%.200s-%d", w.hostname,
		 (int)getpid());

	while ((c = getopt_long(argc, argv, "h:p:", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			if (!*optarg)
				return bad("host", optarg);
			w.o.host = optarg;
			break;
		case 'p':
			if (!int_arg(optarg, 1, 65535, &w.o.port))
				return bad("port", optarg);
			break;
		case 't':
			if (!*optarg)
				return bad("token", optarg);
			w.o.token = tok = optarg;
			break;
		case 'i':
			if (!*optarg || strlen(optarg) >= sizeof(w.o.id) ||
			    strchr(optarg, '|'))
				return bad("id", optarg);
			snprintf(w.o.id, sizeof(w.o.id), "%s", optarg);
			break;
		case 'c':
			if (!caps_ok(optarg))
				return bad("capability list", optarg);
			snprintf(w.o.caps, sizeof(w.o.caps), "%s", optarg);
			break;
		case 'n':
			if (!int_arg(optarg, 1, 4096, &w.o.capacity))
				return bad("capacity", optarg);
			break;
		case 'w':
			if (!*optarg)
				return bad("workdir", optarg);
			w.o.workdir = optarg;
			break;
		case 'b': {
			char *end;
			double s;

			errno = 0;
			s = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(s >= 0.01) ||
			    s > 3600)
				return bad("beat", optarg);
			w.o.beat_ms = (int)(s * 1000 + 0.5);
			break;
		}
		case 'q':
			if (!int_arg(optarg, 0, TN_WORKER_PREFETCH_MAX,
				     &w.o.prefetch))
				return bad("prefetch", optarg);
			break;
		case 'l':
			if (!int_arg(optarg, 1, 65535, &w.o.listen_port))
				return bad("listen port", optarg);
			break;
		case 'H':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "titan-worker: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	/* Jobs chdir elsewhere: every path we hand them must be absolute. */
	rc = tn_worker_mkdirs(w.o.workdir);
	if (rc || !realpath(w.o.workdir, abs)) {
		fprintf(stderr, "titan-worker: cannot create workdir %s: %s\n",
			w.o.workdir, strerror(rc ? -rc : errno));
		return 1;
	}
	w.o.workdir = abs;
	/* setproctitle reuses argv's memory, where optarg points */
	w.o.host = strdup(w.o.host);
	if (w.o.token)
		w.o.token = strdup(w.o.token);
	if (!w.o.host || (w.o.token == NULL) != (tok == NULL)) {
		fprintf(stderr, "titan-worker: out of memory\n");
		return 1;
	}
	setproctitle("-titan: worker %s", w.o.id);
	if (strlen(w.o.id) + 14 < argv0_len && argv0[argv0_len] == '.')
		argv0[argv0_len] = '\0';
	tn_log_init(NULL, TN_LOG_NOTICE, 'W');
	tn_notice("titan-worker %s starting: id %s, scheduler %s:%d, "
		  "workdir %s", TN_VERSION, w.o.id, w.o.host, w.o.port,
		  w.o.workdir);
	rc = tn_worker_run(&w);
	if (rc) {
		tn_warn("titan-worker exiting on error: %s", strerror(-rc));
		return 1;
	}
	tn_notice("titan-worker stopped");
	return 0;
}
