/*
 * scheduler.c - the scheduler process (placeholder until the TITAN_PROTO
 * server lands: it only waits for SIGTERM).
 */
#include <signal.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "util/util.h"

void tn_sched_main(void)
{
	sigset_t set;
	int sig;

	tn_child_init("scheduler", 'S');
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP)
			tn_log_reopen();
		else
			_exit(0);
	}
}
