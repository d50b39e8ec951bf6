/*
 * acceptor.c - accepts every connection and hands it to the least loaded
 * live shard with SCM_RIGHTS.  It enforces `maxclients` and
 * `protected-mode` before a shard ever sees the socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "ipc/ipc.h"
#include "shm/shm.h"
#include "util/util.h"

/* how long a new acceptor waits for the shards before it takes clients */
#define TN_START_WAIT_MS 5000

static volatile sig_atomic_t acceptor_stop;

static void on_term(int sig)
{
	acceptor_stop = 1;
}

static volatile sig_atomic_t acceptor_reopen_log;

static void on_hup(int sig)
{
	acceptor_reopen_log = 1;
}

static const char denied_msg[] =
	"-DENIED Redis is running in protected mode because protected mode "
	"is enabled and no password is set for the default user. In this mode "
	"connections are only accepted from the loopback interface. If you "
	"want to connect from external computers to Redis you may adopt one "
	"of the following solutions: 1) Just disable protected mode sending "
	"the command 'CONFIG SET protected-mode no' from the loopback "
	"interface by connecting to Redis from the same host the server is "
	"running, however MAKE SURE Redis is not publicly accessible from "
	"internet if you do so. Use CONFIG REWRITE to make this change "
	"permanent. 2) Alternatively you can just disable the protected mode "
	"by editing the Redis configuration file, and setting the protected "
	"mode option to 'no', and then restarting the server. 3) If you "
	"started the server manually just for testing, restart it with the "
	"'--protected-mode no' option. 4) Set up an authentication password "
	"for the default user. NOTE: You only need to do one of the above "
	"things in order for the server to start accepting connections from "
	"the outside.\r\n";

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)ss;

		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return true;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
			return s6->sin6_addr.s6_addr[12] == 127;
		return false;
	}
	return true;
}

static int64_t total_clients(void)
{
	int64_t n = 0;
	int i;

	for (i = 0; i < tn_rt.nshards; i++)
		n += tn_proc(TN_PROC_SHARD0 + i)->clients;
	return n;
}

/* Least loaded live shard not in `skip`, or -1 when none serves. */
static int pick_shard(const uint8_t *skip)
{
	int i, best = -1;
	int64_t best_n = 0;

	for (i = 0; i < tn_rt.nshards; i++) {
		struct proc_shm *p = tn_proc(TN_PROC_SHARD0 + i);

		if (!p->alive || skip[i])
			continue;
		if (best < 0 || p->clients < best_n) {
			best = i;
			best_n = p->clients;
		}
	}
	return best;
}

static bool all_shards_alive(void)
{
	int i;

	for (i = 0; i < tn_rt.nshards; i++)
		if (!tn_proc(TN_PROC_SHARD0 + i)->alive)
			return false;
	return true;
}

static void reject(int fd, const char *msg, size_t len)
{
	if (write(fd, msg, len) < 0) {
		/* the client is gone already */
	}
	close(fd);
}

/*
 * Give the socket to the least loaded shard.  The channels do not block:
 * a shard that is stopped or swamped (its channel full) is skipped, so
 * one stuck shard never holds up connections for the others.
 */
static void hand_off(int fd, const struct tn_handoff *h)
{
	static const char none[] =
		"-ERR no store process is serving; try again\r\n";
	uint8_t skip[TN_MAX_SHARDS] = {0};
	int shard, rc;

	while ((shard = pick_shard(skip)) >= 0) {
		tn_proc(TN_PROC_SHARD0 + shard)->clients++;
		rc = tn_fd_send(tn_rt.acc_sock[shard], fd, h, sizeof(*h));
		if (rc == 0) {
			close(fd);
			return;
		}
		tn_proc(TN_PROC_SHARD0 + shard)->clients--;
		if (rc != -EAGAIN)
			tn_warn("cannot hand a connection to shard %d: %s",
				shard, strerror(-rc));
		skip[shard] = 1;
	}
	reject(fd, none, sizeof(none) - 1);
}

static void handle_accept(int lfd, bool is_unix)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct tn_handoff h = {.is_unix = is_unix};
	struct proc_shm *me = tn_proc(TN_PROC_ACCEPTOR);
	int fd, one = 1;

	for (;;) {
		sl = sizeof(ss);
		fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (fd < 0)
			return;
		me->connections++;
		if (total_clients() >= tn_conf->maxclients) {
			static const char m[] =
				"-ERR max number of clients reached\r\n";
			me->rejected++;
			reject(fd, m, sizeof(m) - 1);
			continue;
		}
		if (!is_unix && tn_conf->protected_mode &&
		    !tn_conf->requirepass[0] && !is_loopback(&ss)) {
			reject(fd, denied_msg, sizeof(denied_msg) - 1);
			continue;
		}
		if (!is_unix) {
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
				   sizeof(one));
			if (tn_conf->tcp_keepalive_s > 0) {
				int idle = tn_conf->tcp_keepalive_s;

				setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one,
					   sizeof(one));
				setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
					   sizeof(idle));
			}
		}
		hand_off(fd, &h);
	}
}

void tn_acceptor_main(void)
{
	struct epoll_event ev, evs[TN_MAX_LISTEN];
	sigset_t unblock;
	int ep, i, n;

	tn_child_init("acceptor", 'A');
	signal(SIGTERM, on_term);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, on_hup);
	/* handlers in: take what tn_child_init held back */
	sigemptyset(&unblock);
	sigprocmask(SIG_SETMASK, &unblock, NULL);
	tn_proc(TN_PROC_ACCEPTOR)->alive = 1;
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0)
		_exit(1);
	for (i = 0; i < tn_rt.nshards; i++)
		fcntl(tn_rt.acc_sock[i], F_SETFL,
		      fcntl(tn_rt.acc_sock[i], F_GETFL) | O_NONBLOCK);
	for (i = 0; i < tn_rt.nlisten; i++) {
		ev.events = EPOLLIN;
		ev.data.u32 = i;
		epoll_ctl(ep, EPOLL_CTL_ADD, tn_rt.listen_fd[i], &ev);
	}
	/* the shards start a moment after us: until they are up, clients
	 * wait in the listen backlog rather than be refused, or all be
	 * handed to the first shard up (a pool that connects at start-up
	 * would keep them there) */
	for (i = 0; i < TN_START_WAIT_MS && !acceptor_stop &&
		    !all_shards_alive();
	     i++)
		usleep(1000);
	while (!acceptor_stop) {
		n = epoll_wait(ep, evs, TN_ARRAY_SIZE(evs), 1000);
		if (getppid() != tn_rt.pid_supervisor)
			break;
		if (acceptor_reopen_log) {
			acceptor_reopen_log = 0;
			tn_log_reopen();
		}
		tn_log_set_level(tn_conf->loglevel);
		for (i = 0; i < n; i++) {
			int li = evs[i].data.u32;

			handle_accept(tn_rt.listen_fd[li],
				      tn_rt.listen_unix[li]);
		}
	}
	/* stop accepting: the supervisor keeps the sockets for a restart */
	close(ep);
	_exit(0);
}
