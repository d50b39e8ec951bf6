/*
 * dag-spawn.c - the physical limit for bench/dag-bench.sh: posix_spawn and
 * reap a no-op command, `par` at a time, `n` times, and print the rate.
 *   dag-spawn [n [par [command]]]   (defaults 10000, 2, /bin/true)
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	int par = argc > 2 ? atoi(argv[2]) : 2;
	char *cmd = argc > 3 ? argv[3] : "/bin/true";
	char *args[] = { cmd, NULL };
	long started = 0, done = 0;
	double t0;
	int running = 0, st;

	if (n <= 0 || par <= 0) {
		fprintf(stderr, "usage: dag-spawn [n [par [command]]]\n");
		return 2;
	}
	t0 = now_s();
	while (done < n) {
		while (running < par && started < n) {
			pid_t pid;
			int rc = posix_spawn(&pid, cmd, NULL, NULL, args, environ);

			if (rc) {
				fprintf(stderr, "dag-spawn: %s: %s\n", cmd,
					strerror(rc));
				return 1;
			}
			started++;
			running++;
		}
		if (wait(&st) < 0) {
			perror("dag-spawn: wait");
			return 1;
		}
		running--;
		done++;
	}
	printf("%.1f\n", n / (now_s() - t0));
	fflush(stdout);
	{
		/* the CPU cost per spawn, ours and the children's, for
		 * dag-bench's per-process breakdown */
		struct rusage self, kids;

		getrusage(RUSAGE_SELF, &self);
		getrusage(RUSAGE_CHILDREN, &kids);
		fprintf(stderr, "dag-spawn: cpu us per spawn: self %.0f, "
			"children %.0f\n",
			(self.ru_utime.tv_sec + self.ru_stime.tv_sec) * 1e6 / n +
				(self.ru_utime.tv_usec + self.ru_stime.tv_usec) /
					(double)n,
			(kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) * 1e6 / n +
				(kids.ru_utime.tv_usec + kids.ru_stime.tv_usec) /
					(double)n);
	}
	return 0;
}
