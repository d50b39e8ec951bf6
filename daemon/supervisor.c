/*
 * supervisor.c - creates the shared segment and the sockets, forks the
 * acceptor and the shards, and watches them: a child that dies is forked
 * again (with backoff); one that died inside a stripe lock poisons the
 * store, so every store process restarts (DESIGN.md §7).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/supervisor.h"
#include "ipc/ipc.h"
#include "journal/journal.h"
#include "shm/shm.h"
#include "store/store.h"
#include "util/util.h"

struct tn_runtime tn_rt = {.shard = -1};
extern char **environ;

/*
 * The process table: slot 0 the acceptor, 1 + i shard i, then the journal
 * and the scheduler (whose slot stays empty when titan-port is 0).
 */
struct child {
	pid_t pid;
	int restarts;
	int quick_deaths; /* deaths within a second of starting, in a row */
	int64_t started_ms;
	int64_t respawn_at_ms; /* 0: not waiting */
	bool norespawn;
};

static struct child *children;
static int nchildren;
static int seg_fd = -1;
static struct tn_seg_params seg_params;
static struct tn_config *boot_conf;
/* The original argv[0]: libbsd marks a title shorter than it with a '.'
 * where it ended, and ps shows "titan: shard 0  ." */
static char *argv0;
static size_t argv0_len;

static void set_title(const char *title)
{
	setproctitle("-titan: %s", title);
	if (argv0 && strlen(title) + 7 < argv0_len && argv0[argv0_len] == '.')
		argv0[argv0_len] = '\0';
}

void tn_child_init(const char *title, char role)
{
	sigset_t wait;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* the supervisor may have died before prctl took effect */
	if (getppid() != tn_rt.pid_supervisor)
		_exit(0);
	/* SIGHUP/SIGTERM/SIGINT stay blocked (as in the supervisor) until
	 * the role has its handlers: their default action would kill it */
	sigemptyset(&wait);
	sigaddset(&wait, SIGHUP);
	sigaddset(&wait, SIGTERM);
	sigaddset(&wait, SIGINT);
	sigprocmask(SIG_SETMASK, &wait, NULL);
	signal(SIGPIPE, SIG_IGN);
	set_title(title);
	tn_log_set_role(role);
}

void tn_shard_wake(int shard)
{
	uint64_t one = 1;

	if (shard < 0 || shard > tn_rt.nshards)
		return;
	if (write(tn_rt.shard_wake[shard], &one, sizeof(one)) < 0) {
		/* the counter is saturated: the shard is awake anyway */
	}
}

static int journal_slot(void)
{
	return 1 + tn_rt.nshards;
}

static int sched_slot(void)
{
	return 2 + tn_rt.nshards;
}

/* Empty while this server is a master (REPLICAOF NO ONE). */
static int replica_slot(void)
{
	return 3 + tn_rt.nshards;
}

/* What a slot runs, for log messages. */
static const char *role_of(int slot)
{
	if (slot == 0)
		return "acceptor";
	if (slot == journal_slot())
		return "journal";
	if (slot == sched_slot())
		return "scheduler";
	if (slot == replica_slot())
		return "replica";
	return "shard";
}

/* A child keeps only the descriptors its role uses. */
static void close_other_ends(int slot)
{
	int i;

	for (i = 0; i < tn_rt.nshards; i++) {
		if (slot != 0)
			close(tn_rt.acc_sock[i]);
		if (slot != 1 + i)
			close(tn_rt.shard_sock[i]);
	}
	if (slot != 0) {
		for (i = 0; i < tn_rt.nlisten; i++)
			close(tn_rt.listen_fd[i]);
		tn_rt.nlisten = 0;
	}
	if (slot != sched_slot()) {
		for (i = 0; i < tn_rt.ntitan; i++)
			close(tn_rt.titan_fd[i]);
		tn_rt.ntitan = 0;
		for (i = 0; i < tn_rt.nhttp; i++)
			close(tn_rt.http_fd[i]);
		tn_rt.nhttp = 0;
	}
}

static int spawn(int slot)
{
	pid_t pid = fork();

	if (pid < 0) {
		tn_warn("cannot fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		close_other_ends(slot);
		if (slot == 0)
			tn_acceptor_main();
		else if (slot == journal_slot())
			tn_journal_main();
		else if (slot == sched_slot())
			tn_sched_main();
		else if (slot == replica_slot())
			tn_replica_main();
		else
			tn_shard_main(slot - 1);
		_exit(0);
	}
	children[slot].pid = pid;
	children[slot].started_ms = tn_mstime();
	children[slot].respawn_at_ms = 0;
	tn_proc(slot)->pid = pid;
	tn_verbose("started %s (pid %d)", role_of(slot), (int)pid);
	return 0;
}

static int make_segment(const struct tn_config *c)
{
	uint32_t i;

	seg_params.nshards = tn_rt.nshards;
	seg_params.nstripes = c->stripes;
	seg_params.nclients = (uint32_t)TN_MIN(c->maxclients + 64, 1 << 20);
	seg_params.config_bytes = sizeof(struct tn_config);
	seg_params.key_at = TN_KENTRY_KEY_AT;
	seg_params.elog_bytes = (size_t)TN_MAX(c->repl_backlog_size, 0);
	if (c->maxmemory_bytes > 0) {
		/* room above the limit so -OOM is decided by the limit, not
		 * by running out of segment */
		seg_params.heap_bytes = (size_t)c->maxmemory_bytes +
					(size_t)c->maxmemory_bytes / 4 +
					(64u << 20);
	} else {
		long pages = sysconf(_SC_PHYS_PAGES);
		long psz = sysconf(_SC_PAGESIZE);
		size_t ram = pages > 0 && psz > 0 ? (size_t)pages * psz
						  : (size_t)4 << 30;
		/* pages of a memfd are only used when touched */
		seg_params.heap_bytes = ram;
	}
	seg_fd = tn_segment_create(&seg_params);
	if (seg_fd < 0) {
		tn_warn("cannot create the shared segment (%zu bytes of heap): %s",
			seg_params.heap_bytes, strerror(-seg_fd));
		return -1;
	}
	memcpy(tn_ptr(tn_seg->config_off), c, sizeof(*c));
	tn_conf = tn_ptr(tn_seg->config_off);
	for (i = 0; i < tn_seg->nclients; i++)
		tn_client_slot(i)->shard = -1; /* see release_client_slots */
	return 0;
}

/* Replicas' sockets go from the shard that got PSYNC to the journal. */
static int make_repl_channels(void)
{
	int i, sv[2], n = tn_rt.nshards;

	tn_rt.repl_shard_sock = calloc(n, sizeof(int));
	tn_rt.repl_journal_sock = calloc(n, sizeof(int));
	if (!tn_rt.repl_shard_sock || !tn_rt.repl_journal_sock)
		return -1;
	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) <
		    0)
			return -1;
		tn_rt.repl_shard_sock[i] = sv[0];
		tn_rt.repl_journal_sock[i] = sv[1];
	}
	tn_rt.repl_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	return tn_rt.repl_wake < 0 ? -1 : 0;
}

static int make_channels(void)
{
	int i, sv[2], n = tn_rt.nshards;

	tn_rt.acc_sock = calloc(n, sizeof(int));
	tn_rt.shard_sock = calloc(n, sizeof(int));
	/* one wake per shard, then the scheduler's (it waits on `durable`
	 * too under appendfsync always) */
	tn_rt.shard_wake = calloc(n + 1, sizeof(int));
	if (!tn_rt.acc_sock || !tn_rt.shard_sock || !tn_rt.shard_wake)
		return -1;
	for (i = 0; i < n; i++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) <
		    0)
			return -1;
		tn_rt.acc_sock[i] = sv[0];
		tn_rt.shard_sock[i] = sv[1];
	}
	for (i = 0; i <= n; i++) {
		tn_rt.shard_wake[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (tn_rt.shard_wake[i] < 0)
			return -1;
	}
	return make_repl_channels();
}

static void free_channels(void)
{
	int i;

	for (i = 0; i < tn_rt.nshards; i++) {
		close(tn_rt.acc_sock[i]);
		close(tn_rt.shard_sock[i]);
	}
	for (i = 0; i <= tn_rt.nshards; i++)
		close(tn_rt.shard_wake[i]);
	free(tn_rt.acc_sock);
	free(tn_rt.shard_sock);
	free(tn_rt.shard_wake);
	for (i = 0; tn_rt.repl_shard_sock && i < tn_rt.nshards; i++) {
		close(tn_rt.repl_shard_sock[i]);
		close(tn_rt.repl_journal_sock[i]);
	}
	free(tn_rt.repl_shard_sock);
	free(tn_rt.repl_journal_sock);
	close(tn_rt.repl_wake);
}

static int daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	setsid();
	fd = open("/dev/null", O_RDWR);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
	return 0;
}

static void write_pidfile(const char *path)
{
	FILE *f;

	if (!path[0])
		return;
	f = fopen(path, "w");
	if (!f) {
		tn_warn("cannot write pidfile \"%s\": %s", path,
			strerror(errno));
		return;
	}
	fprintf(f, "%d\n", (int)getpid());
	fclose(f);
}

static int slot_of(pid_t pid)
{
	int i;

	for (i = 0; i < nchildren; i++)
		if (children[i].pid == pid)
			return i;
	return -1;
}

static void child_gone(int slot);

/* Signal every child but the one in slot `spare` (-1: none). */
static void kill_but(int spare, int sig)
{
	int i;

	for (i = 0; i < nchildren; i++)
		if (i != spare && children[i].pid > 0)
			kill(children[i].pid, sig);
}

static void kill_all(int sig)
{
	kill_but(-1, sig);
}

/* Wait for every child but `spare` to exit, SIGKILL after `grace_ms`. */
static void reap_but(int spare, int64_t grace_ms)
{
	int64_t deadline = tn_mstime() + grace_ms;
	bool killed = false;
	int i, status, left;
	pid_t pid;

	for (;;) {
		left = 0;
		for (i = 0; i < nchildren; i++)
			if (i != spare && children[i].pid > 0)
				left++;
		if (!left)
			return;
		pid = waitpid(-1, &status, WNOHANG);
		if (pid > 0) {
			i = slot_of(pid);
			if (i >= 0)
				child_gone(i);
			continue;
		}
		if (pid < 0 && errno == ECHILD)
			return;
		if (!killed && tn_mstime() > deadline) {
			tn_warn("children did not stop in time; killing them");
			kill_but(spare, SIGKILL);
			killed = true;
		}
		usleep(10000);
	}
}

static void reap_all(int64_t grace_ms)
{
	reap_but(-1, grace_ms);
}

/*
 * Connections the acceptor handed to shards that never read them: the
 * new segment counts no clients, so they would be counted out but never
 * in.  The store restarts, every client is dropped; these too.
 */
static void drop_pending_handoffs(void)
{
	struct tn_handoff h;
	int i, fd;

	for (i = 0; i < tn_rt.nshards; i++) {
		int sock = tn_rt.shard_sock[i];

		fcntl(sock, F_SETFL, fcntl(sock, F_GETFL) | O_NONBLOCK);
		while (tn_fd_recv(sock, &fd, &h, sizeof(h)) > 0)
			if (fd >= 0)
				close(fd);
	}
}

/*
 * A child died inside a stripe lock: the keyspace may be half-written.
 * Stop every store process, rebuild the segment, start them again.
 */
static int restart_store(void)
{
	struct tn_config saved = *tn_conf;
	int i;

	tn_warn("a store process died inside a stripe lock; restarting the store");
	/* what the log holds of acknowledged writes must reach the disk
	 * before the segment goes */
	tn_persist_drain(5000);
	kill_all(SIGKILL);
	reap_all(5000);
	drop_pending_handoffs();
	tn_segment_destroy(seg_fd);
	if (make_segment(&saved) < 0 || tn_persist_load() < 0)
		return -1;
	for (i = 0; i < nchildren; i++) {
		children[i].restarts++;
		tn_proc(i)->restarts = children[i].restarts;
		if (children[i].norespawn)
			continue;
		if (spawn(i) < 0)
			return -1;
	}
	return 0;
}

/*
 * A dead shard cannot free its clients' slots: CLIENT LIST would show
 * them for ever.  A slot is free when its id is 0; a live shard that
 * claims one writes `shard` after the claim, and a released slot has
 * shard -1, so a fresh claim never looks like one of the dead shard's.
 * Returns how many clients the shard had.
 */
static int64_t release_client_slots(int shard)
{
	int64_t n = 0;
	uint32_t i;

	for (i = 0; i < tn_seg->nclients; i++) {
		struct client_shm *cs = tn_client_slot(i);
		uint64_t id = atomic_load(&cs->id);

		if (!id || cs->shard != shard)
			continue;
		cs->kill = 0;
		cs->shard = -1;
		if (atomic_compare_exchange_strong(&cs->id, &id, 0))
			n++;
	}
	return n;
}

/*
 * Did the dead shard die inside a stripe lock while writing?  Its robust
 * mutexes tell the next locker, but that may be nobody for a long time:
 * look now, so a half-written stripe is never served.
 */
static void check_stripes(void)
{
	uint32_t i;

	for (i = 0; i < tn_seg->nstripes; i++) {
		struct stripe_shm *s = tn_stripe(i);
		int r = pthread_mutex_trylock(&s->lock);

		if (r == EOWNERDEAD) {
			pthread_mutex_consistent(&s->lock);
			if (s->writing)
				tn_seg->poisoned = 1;
		}
		if (r == 0 || r == EOWNERDEAD)
			pthread_mutex_unlock(&s->lock);
	}
}

/* The child in `slot` has exited: what it held in the segment is free. */
static void child_gone(int slot)
{
	children[slot].pid = 0;
	tn_proc(slot)->alive = 0;
	/* only the clients it had: those the acceptor handed it that wait
	 * unread in its channel go to the next one, and stay counted */
	if (slot > 0 && slot <= tn_rt.nshards) {
		tn_proc(slot)->clients -= release_client_slots(slot - 1);
		check_stripes();
		/* its subscribers are gone: no PUBLISH may count them */
		tn_pubsub_forget_shard(slot - 1);
	}
}

static void child_exited(pid_t pid, int status)
{
	int slot = slot_of(pid);
	struct child *ch;
	int64_t now = tn_mstime(), delay;

	if (slot < 0)
		return;
	ch = &children[slot];
	child_gone(slot);
	if (WIFEXITED(status) && WEXITSTATUS(status) == TN_EXIT_NORESPAWN) {
		tn_warn("%s (slot %d) exited on a configuration error; not "
			"restarting it",
			role_of(slot), slot);
		ch->norespawn = true;
		return;
	}
	if (WIFSIGNALED(status))
		tn_warn("%s (pid %d) killed by signal %d; restarting it",
			role_of(slot), (int)pid, WTERMSIG(status));
	else
		tn_warn("%s (pid %d) exited with status %d; restarting it",
			role_of(slot), (int)pid, WEXITSTATUS(status));
	ch->quick_deaths = now - ch->started_ms < 1000 ? ch->quick_deaths + 1
						       : 0;
	delay = ch->quick_deaths ? TN_MIN(100LL << TN_MIN(ch->quick_deaths, 6),
					  5000)
				 : 0;
	ch->restarts++;
	tn_proc(slot)->restarts = ch->restarts;
	ch->respawn_at_ms = now + delay;
}

static int64_t respawn_due(void)
{
	int64_t now = tn_mstime(), next = -1;
	int i;

	for (i = 0; i < nchildren; i++) {
		struct child *ch = &children[i];

		if (ch->pid || ch->norespawn || !ch->respawn_at_ms)
			continue;
		if (ch->respawn_at_ms <= now) {
			spawn(i);
			continue;
		}
		if (next < 0 || ch->respawn_at_ms - now < next)
			next = ch->respawn_at_ms - now;
	}
	return next;
}

/*
 * REPLICAOF changed the master (a shard wrote tn_conf, then signalled):
 * stop the replica process following the old one, if any, and start one
 * for the new master, if any.
 */
static void replica_follow(void)
{
	struct child *ch = &children[replica_slot()];
	int64_t deadline = tn_mstime() + 10000;
	bool follow;
	int status;

	tn_lock(&tn_seg->config_lock);
	follow = tn_conf->replicaof_host[0] != '\0';
	tn_unlock(&tn_seg->config_lock);
	if (ch->pid > 0) {
		kill(ch->pid, SIGTERM);
		while (waitpid(ch->pid, &status, WNOHANG) == 0) {
			if (tn_mstime() > deadline) {
				tn_warn("the replica (pid %d) did not stop in "
					"time; killing it", (int)ch->pid);
				kill(ch->pid, SIGKILL);
				waitpid(ch->pid, &status, 0);
				break;
			}
			usleep(10000);
		}
		ch->pid = 0;
		tn_proc(replica_slot())->alive = 0;
	}
	ch->norespawn = !follow;
	ch->respawn_at_ms = 0;
	ch->quick_deaths = 0;
	if (follow)
		spawn(replica_slot());
}

static int watch(int sfd)
{
	struct signalfd_siginfo si;
	struct pollfd pfd = {.fd = sfd, .events = POLLIN};
	int64_t wait_ms;
	int status;
	pid_t pid;

	for (;;) {
		/* first: a respawn would only be killed by the restart */
		if (tn_seg->poisoned) {
			if (restart_store() < 0)
				return 1;
		}
		wait_ms = respawn_due();
		if (poll(&pfd, 1, wait_ms < 0 ? 1000 : (int)wait_ms) <= 0)
			continue;
		if (read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		switch (si.ssi_signo) {
		case SIGCHLD:
			while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
				child_exited(pid, status);
			break;
		case SIGHUP:
			tn_notice("SIGHUP received: reopening the log file");
			tn_log_reopen();
			kill_all(SIGHUP);
			break;
		case SIGUSR1:
			/* a child saw EOWNERDEAD; the poisoned flag is set */
			break;
		case SIGUSR2:
			replica_follow();
			break;
		case SIGTERM:
		case SIGINT:
			tn_notice("received %s, shutting down",
				  si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
			return 0;
		}
	}
}

/* Stop every child; the journal last: it writes what the others logged. */
static void stop_children(void)
{
	kill_but(journal_slot(), SIGTERM);
	reap_but(journal_slot(), 10000);
	kill_all(SIGTERM);
	reap_all(10000);
}

/*
 * Redis' save at shutdown: with save points set (unless SHUTDOWN NOSAVE)
 * or on SHUTDOWN SAVE, once every child has stopped, so that the
 * snapshot holds every write that was answered.  False when it was
 * wanted and failed, unless SHUTDOWN FORCE said to go on.
 */
static bool final_save(void)
{
	int want = atomic_load(&tn_seg->shutdown_save);

	if (want < 0 || (want == 0 && tn_conf->nsave == 0))
		return true;
	if (tn_seg->poisoned) {
		/* a shard killed mid-write: do not replace a good file */
		tn_warn("not saving the final RDB snapshot: a store process "
			"died inside a write");
		return true;
	}
	tn_notice("Saving the final RDB snapshot before exiting.");
	if (tn_rdb_save_db() == 0)
		return true;
	if (atomic_load(&tn_seg->shutdown_force)) {
		tn_warn("Error trying to save the DB; exiting anyway "
			"(SHUTDOWN FORCE)");
		return true;
	}
	tn_warn("Error trying to save the DB, can't exit.");
	return false;
}

int tn_supervisor_run(struct tn_config *conf, int argc, char **argv)
{
	sigset_t mask;
	int sfd, i, rc = 1;
	long ncpu;

	boot_conf = conf;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (conf->shards <= 0)
		conf->shards = ncpu > 0 ? (int)TN_MIN(ncpu, TN_MAX_SHARDS) : 1;
	if (conf->stripes <= 0) {
		conf->stripes = TN_MIN_STRIPES;
		while (conf->stripes < conf->shards * 8)
			conf->stripes <<= 1;
	}
	if (conf->daemonize && daemonize() < 0) {
		fprintf(stderr, "titan-supervisor: cannot daemonize: %s\n",
			strerror(errno));
		return 1;
	}
	if (chdir(conf->dir) < 0) {
		fprintf(stderr, "titan-supervisor: cannot chdir to \"%s\": %s; "
				"check 'dir'\n",
			conf->dir, strerror(errno));
		return 1;
	}
	tn_log_init(conf->logfile, conf->loglevel, 'X');
	argv0 = argv[0];
	argv0_len = strlen(argv[0]);
	setproctitle_init(argc, argv, environ);
	set_title("supervisor");
	tn_rt.pid_supervisor = getpid();
	tn_rt.nshards = conf->shards;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2); /* REPLICAOF changed replicaof-host */
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		tn_warn("signalfd: %s", strerror(errno));
		return 1;
	}
	if (tn_listen_open(conf, &tn_rt) < 0)
		goto out_sfd;
	if (make_channels() < 0) {
		tn_warn("cannot create shard channels: %s", strerror(errno));
		goto out_listen;
	}
	if (make_segment(conf) < 0)
		goto out_channels;
	write_pidfile(conf->pidfile);

	if (tn_persist_load() < 0)
		goto out_segment;
	nchildren = 4 + tn_rt.nshards;
	children = calloc(nchildren, sizeof(*children));
	if (!children)
		goto out_segment;
	/* no scheduler without its port */
	children[sched_slot()].norespawn = tn_rt.ntitan == 0 && tn_rt.nhttp == 0;
	/* no replica process without a master to follow */
	children[replica_slot()].norespawn = !conf->replicaof_host[0];
	tn_notice("Titan %s starting: %d shards, %u stripes, port %d, pid %d",
		  TN_VERSION, tn_rt.nshards, tn_seg->nstripes, conf->port,
		  (int)getpid());
	for (i = 0; i < nchildren; i++)
		if (!children[i].norespawn && spawn(i) < 0)
			goto out_children;
	tn_notice("Ready to accept connections");
	for (;;) {
		rc = watch(sfd);
		tn_seg->shutting_down = 1;
		stop_children();
		if (rc != 0 || final_save())
			break;
		/* as Redis: no exit without the save; the keyspace is still
		 * in the segment, so serve it again */
		tn_warn("SIGTERM received but errors trying to shut down the "
			"server, check the logs for more information");
		atomic_store(&tn_seg->shutdown_save, 0);
		atomic_store(&tn_seg->shutdown_force, 0);
		atomic_store(&tn_seg->shutting_down, 0);
		for (i = 0; i < nchildren; i++)
			if (!children[i].norespawn)
				spawn(i);
	}
	goto out_stopped;
out_children:
	stop_children();
out_stopped:
	free(children);
	if (conf->pidfile[0])
		unlink(conf->pidfile);
	if (rc == 0)
		tn_notice("Titan is now ready to exit, bye bye...");
out_segment:
	tn_segment_destroy(seg_fd);
out_channels:
	free_channels();
out_listen:
	tn_listen_close(&tn_rt, boot_conf);
out_sfd:
	close(sfd);
	return rc;
}
