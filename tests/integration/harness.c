/*
 * harness.c - the integration tests' server fixture: a real supervisor in
 * a temp dir on a free port, polled (never slept on) until it answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "tests/integration/harness.h"

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *tn_supervisor_path(void)
{
	static char path[512];
	const char *e = getenv("TITAN_SUPERVISOR");

	if (e && *e)
		return e;
	if (!path[0]) {
		char *cwd = getcwd(NULL, 0);

		snprintf(path, sizeof(path), "%s/build/titan-supervisor",
			 cwd ? cwd : ".");
		free(cwd);
	}
	return path;
}

int tn_free_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int tn_server_wait_ready(struct tn_server *s, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct timeval tv = {1, 0};

	while (now_ms() < deadline) {
		redisContext *c;
		redisReply *r;

		if (s->pid > 0 && waitpid(s->pid, NULL, WNOHANG) == s->pid) {
			s->pid = 0;
			return -1;
		}
		c = redisConnectWithTimeout("127.0.0.1", s->port, tv);
		if (c && !c->err) {
			redisSetTimeout(c, tv);
			r = redisCommand(c, "PING");
			if (r && r->type == REDIS_REPLY_STATUS &&
			    strcmp(r->str, "PONG") == 0) {
				freeReplyObject(r);
				redisFree(c);
				return 0;
			}
			if (r)
				freeReplyObject(r);
		}
		if (c)
			redisFree(c);
		usleep(20000);
	}
	return -1;
}

int tn_server_start(struct tn_server *s, const char *extra)
{
	char tmpl[] = "/tmp/titan-test-XXXXXX";
	FILE *f;
	int attempt;

	memset(s, 0, sizeof(*s));
	if (!mkdtemp(tmpl))
		return -1;
	snprintf(s->dir, sizeof(s->dir), "%s", tmpl);
	snprintf(s->conf, sizeof(s->conf), "%s/titan.conf", s->dir);
	snprintf(s->log, sizeof(s->log), "%s/titan.log", s->dir);
	for (attempt = 0; attempt < 5; attempt++) {
		s->port = tn_free_port();
		f = fopen(s->conf, "w");
		if (!f)
			return -1;
		fprintf(f,
			"port %d\nbind 127.0.0.1\ndir %s\nlogfile %s\n"
			"shards 2\nloglevel verbose\n%s\n",
			s->port, s->dir, s->log, extra ? extra : "");
		fclose(f);
		s->pid = fork();
		if (s->pid < 0)
			return -1;
		if (s->pid == 0) {
			int fd = open("/dev/null", O_RDWR);

			dup2(fd, 0);
			dup2(fd, 1);
			execl(tn_supervisor_path(), "titan-supervisor", "-c",
			      s->conf, (char *)NULL);
			_exit(127);
		}
		if (tn_server_wait_ready(s, 15000) == 0)
			return 0;
		if (s->pid > 0) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
			s->pid = 0;
		}
	}
	return -1;
}

int tn_server_stop(struct tn_server *s)
{
	long long deadline;
	int status = 0, rc = -1;
	char cmd[600];

	if (s->pid > 0) {
		kill(s->pid, SIGTERM);
		deadline = now_ms() + 15000;
		while (now_ms() < deadline) {
			pid_t p = waitpid(s->pid, &status, WNOHANG);

			if (p == s->pid) {
				rc = WIFEXITED(status) ? WEXITSTATUS(status)
						       : -1;
				break;
			}
			usleep(10000);
		}
		if (now_ms() >= deadline) {
			kill(s->pid, SIGKILL);
			waitpid(s->pid, NULL, 0);
		}
		s->pid = 0;
	}
	if (s->dir[0] && !getenv("TN_KEEP_TMP")) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
		if (system(cmd) != 0) {
			/* a leftover temp dir is harmless */
		}
	}
	return rc;
}

pid_t tn_child_pid(struct tn_server *s, const char *title)
{
	char cmd[256], line[64];
	FILE *p;
	pid_t pid = -1;

	snprintf(cmd, sizeof(cmd), "pgrep -P %d -f '^%s$'", (int)s->pid,
		 title);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fgets(line, sizeof(line), p))
		pid = atoi(line);
	pclose(p);
	return pid;
}

redisContext *tn_connect(struct tn_server *s)
{
	struct timeval tv = {10, 0};
	redisContext *c = redisConnectWithTimeout("127.0.0.1", s->port, tv);

	cr_assert(c && !c->err, "connect to port %d: %s", s->port,
		  c ? c->errstr : "alloc");
	redisSetTimeout(c, tv);
	return c;
}

ssize_t tn_raw_exchange(struct tn_server *s, const void *req, size_t len,
			char *out, size_t outlen, int timeout_ms)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	size_t got = 0;
	long long deadline = now_ms() + timeout_ms;

	sa.sin_port = htons(s->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	if (len && write(fd, req, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	while (got < outlen && now_ms() < deadline) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		if (poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			break;
		n = read(fd, out + got, outlen - got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	if (got < outlen)
		out[got] = '\0';
	return (ssize_t)got;
}

redisReply *tn_cmd(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	cr_assert(r != NULL, "no reply to \"%s\": %s", fmt, c->errstr);
	return r;
}

void tn_expect_status(redisReply *r, const char *s)
{
	cr_expect(r->type == REDIS_REPLY_STATUS && strcmp(r->str, s) == 0,
		  "expected +%s, got type %d \"%s\"", s, r->type,
		  r->str ? r->str : "");
	freeReplyObject(r);
}

void tn_expect_error(redisReply *r, const char *s)
{
	cr_expect(r->type == REDIS_REPLY_ERROR &&
			  strncmp(r->str, s, strlen(s)) == 0,
		  "expected -%s..., got type %d \"%s\"", s, r->type,
		  r->str ? r->str : "");
	freeReplyObject(r);
}

void tn_expect_int(redisReply *r, long long v)
{
	cr_expect(r->type == REDIS_REPLY_INTEGER && r->integer == v,
		  "expected :%lld, got type %d %lld \"%s\"", v, r->type,
		  r->integer, r->str ? r->str : "");
	freeReplyObject(r);
}

void tn_expect_str(redisReply *r, const char *s)
{
	cr_expect(r->type == REDIS_REPLY_STRING && r->len == strlen(s) &&
			  memcmp(r->str, s, r->len) == 0,
		  "expected \"%s\", got type %d \"%s\"", s, r->type,
		  r->str ? r->str : "");
	freeReplyObject(r);
}

void tn_expect_nil(redisReply *r)
{
	cr_expect(r->type == REDIS_REPLY_NIL, "expected nil, got type %d \"%s\"",
		  r->type, r->str ? r->str : "");
	freeReplyObject(r);
}
