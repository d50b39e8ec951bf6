/*
 * listen.c - the supervisor opens every listening socket before forking,
 * so a bad `bind` stops start-up with a clear message and the sockets
 * outlive any acceptor restart.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/supervisor.h"
#include "util/util.h"

/* Listen on addr:port; the socket goes to fds[*n] (at most `max`). */
static int listen_one(const char *addr, int port, int backlog, bool optional,
		      int *fds, int *n, int max)
{
	struct addrinfo hints = {0}, *res = NULL;
	char portstr[16];
	const char *host = addr;
	int fd = -1, one = 1, rc;

	if (strcmp(addr, "*") == 0)
		host = "0.0.0.0";
	else if (strcmp(addr, "::*") == 0)
		host = "::";
	snprintf(portstr, sizeof(portstr), "%d", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST;
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0) {
		tn_log(optional ? TN_LOG_NOTICE : TN_LOG_WARNING,
		       "cannot bind %s:%d: %s; check 'bind' in the configuration",
		       addr, port, gai_strerror(rc));
		return optional ? 0 : -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (res->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 ||
	    listen(fd, backlog) < 0)
		goto fail;
	freeaddrinfo(res);
	if (*n >= max) {
		close(fd);
		return 0;
	}
	fds[(*n)++] = fd;
	tn_verbose("listening on %s:%d", addr, port);
	return 0;
fail:
	rc = errno;
	if (fd >= 0)
		close(fd);
	freeaddrinfo(res);
	/* an optional address whose family is missing is not an error */
	if (optional && (rc == EADDRNOTAVAIL || rc == EAFNOSUPPORT ||
			 rc == EPROTONOSUPPORT)) {
		tn_notice("skipping optional bind %s:%d: %s", addr, port,
			  strerror(rc));
		return 0;
	}
	tn_warn("cannot listen on %s:%d: %s; check 'bind' and 'port'", addr,
		port, strerror(rc));
	return -1;
}

static int listen_unix(const struct tn_config *c, struct tn_runtime *rt)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(c->unixsocket) >= sizeof(sa.sun_path)) {
		tn_warn("unixsocket path \"%s\" is too long", c->unixsocket);
		return -1;
	}
	strcpy(sa.sun_path, c->unixsocket);
	unlink(c->unixsocket);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, c->tcp_backlog) < 0) {
		tn_warn("cannot listen on unix socket \"%s\": %s",
			c->unixsocket, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (c->unixsocketperm)
		chmod(c->unixsocket, c->unixsocketperm);
	rt->listen_unix[rt->nlisten] = true;
	rt->listen_fd[rt->nlisten++] = fd;
	return 0;
}

/* One of the scheduler's ports: `bind` (space-separated, "-addr"
 * optional) on `port`, unless that is 0. */
static int listen_list(const char *bind, int port, int backlog, int *fds,
		       int *n, const char *directive)
{
	char list[256], *save = NULL, *a;
	bool optional;

	*n = 0;
	if (port == 0)
		return 0;
	strlcpy(list, bind, sizeof(list));
	for (a = strtok_r(list, " \t", &save); a;
	     a = strtok_r(NULL, " \t", &save)) {
		optional = *a == '-';
		if (listen_one(a + optional, port, backlog, optional, fds, n,
			       TN_MAX_BIND) < 0)
			return -1;
	}
	if (*n == 0) {
		tn_warn("port %d listens nowhere: check '%s'", port,
			directive);
		return -1;
	}
	return 0;
}

/* The scheduler's TITAN_PROTO port and the dashboard's HTTP port. */
static int listen_titan(const struct tn_config *c, struct tn_runtime *rt)
{
	if (listen_list(c->titan_bind, c->titan_port, c->tcp_backlog,
			rt->titan_fd, &rt->ntitan, "titan-bind") < 0)
		return -1;
	return listen_list(c->http_bind, c->http_port, c->tcp_backlog,
			   rt->http_fd, &rt->nhttp, "http-bind");
}

int tn_listen_open(const struct tn_config *c, struct tn_runtime *rt)
{
	int i;

	rt->nlisten = 0;
	if (c->port > 0) {
		for (i = 0; i < c->nbind; i++) {
			rt->listen_unix[rt->nlisten] = false;
			if (listen_one(c->bind[i], c->port, c->tcp_backlog,
				       c->bind_optional[i], rt->listen_fd,
				       &rt->nlisten, TN_MAX_LISTEN) < 0)
				return -1;
		}
	}
	if (c->unixsocket[0] && listen_unix(c, rt) < 0)
		return -1;
	if (rt->nlisten == 0) {
		tn_warn("no listening socket: set 'port' and 'bind', or 'unixsocket'");
		return -1;
	}
	return listen_titan(c, rt);
}

void tn_listen_close(struct tn_runtime *rt, const struct tn_config *c)
{
	int i;

	for (i = 0; i < rt->nlisten; i++) {
		close(rt->listen_fd[i]);
		rt->listen_fd[i] = -1;
	}
	rt->nlisten = 0;
	for (i = 0; i < rt->ntitan; i++)
		close(rt->titan_fd[i]);
	rt->ntitan = 0;
	for (i = 0; i < rt->nhttp; i++)
		close(rt->http_fd[i]);
	rt->nhttp = 0;
	if (c && c->unixsocket[0])
		unlink(c->unixsocket);
}
