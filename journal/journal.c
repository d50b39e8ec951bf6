/*
 * journal.c - the journal process (placeholder until the io_uring writer
 * lands: it only waits for SIGTERM).
 */
#include <signal.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "util/util.h"

void tn_journal_main(void)
{
	sigset_t set;
	int sig;

	tn_child_init("journal", 'J');
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

int tn_persist_load(void)
{
	return 0;
}

void tn_persist_drain(int64_t timeout_ms)
{
	(void)timeout_ms;
}
