/*
 * signals.c - the stop and log-reopen flags of the helper processes (the
 * journal, the replica link) and the handlers that set them.
 */
#include <signal.h>
#include <string.h>

#include "util/util.h"

volatile sig_atomic_t tn_stop_flag, tn_reopen_flag;

static void on_stop(int sig)
{
	(void)sig;
	tn_stop_flag = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	tn_reopen_flag = 1;
}

void tn_signals_stop_hup(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	/* no SA_RESTART: a signal ends a futex sleep or poll() at once */
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}
