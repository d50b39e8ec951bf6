/*
 * harness.c - the integration tests' server fixture: a real supervisor in
 * a temp dir on a free port, polled (never slept on) until it answers.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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
			/* with requirepass, NOAUTH is an answer too */
			if (r && ((r->type == REDIS_REPLY_STATUS &&
				   strcmp(r->str, "PONG") == 0) ||
				  (r->type == REDIS_REPLY_ERROR &&
				   strncmp(r->str, "NOAUTH", 6) == 0))) {
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

pid_t tn_server_spawn(struct tn_server *s)
{
	s->pid = fork();
	if (s->pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		/* a test that fails an assertion exits at once: its server
		 * goes with it instead of lingering */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fd, 0);
		dup2(fd, 1);
		execl(tn_supervisor_path(), "titan-supervisor", "-c", s->conf,
		      (char *)NULL);
		_exit(127);
	}
	return s->pid;
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
		s->titan_port = tn_free_port();
		s->http_port = tn_free_port();
		f = fopen(s->conf, "w");
		if (!f)
			return -1;
		fprintf(f,
			"port %d\nbind 127.0.0.1\ntitan-port %d\n"
			"http-port %d\ndir %s\nlogfile %s\nshards 2\n"
			"loglevel verbose\n%s\n",
			s->port, s->titan_port, s->http_port, s->dir, s->log,
			extra ? extra : "");
		fclose(f);
		if (tn_server_spawn(s) < 0)
			return -1;
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
	pid_t pids[512];
	char t[128];
	int i, n;

	/* the title is the first string of cmdline: `pgrep -f` matches the
	 * whole padded argv area and misses it */
	if (s->pid <= 0)
		return -1;
	n = tn_proc_children(s->pid, pids, 512);
	for (i = 0; i < n && i < 512; i++)
		if (tn_proc_title(pids[i], t, sizeof(t)) == 0 &&
		    strcmp(t, title) == 0)
			return pids[i];
	return -1;
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

/* --- process-level helpers --- */

long long tn_now_ms(void)
{
	return now_ms();
}

static ssize_t read_small_file(const char *path, char *out, size_t outlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n, got = 0;

	if (fd < 0)
		return -1;
	while ((size_t)got < outlen - 1) {
		n = read(fd, out + got, outlen - 1 - got);
		if (n <= 0)
			break;
		got += n;
	}
	close(fd);
	out[got] = '\0';
	return got;
}

int tn_proc_title(pid_t pid, char *out, size_t outlen)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	/* the string ends at the first NUL: read_small_file terminates it */
	return read_small_file(path, out, outlen) < 0 ? -1 : 0;
}

int tn_proc_cmdline(pid_t pid, char *out, size_t outlen)
{
	char path[64];
	ssize_t n, i;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	n = read_small_file(path, out, outlen);
	if (n < 0)
		return -1;
	for (i = 0; i < n; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		out[--n] = '\0';
	return 0;
}

/* State letter and parent of pid from /proc/<pid>/stat; -1 if gone. */
static int proc_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[512], *p;
	int pp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	/* comm may hold spaces and parentheses: parse after the last ')' */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %d", state, &pp) != 2)
		return -1;
	*ppid = pp;
	return 0;
}

int tn_proc_children(pid_t parent, pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char state, *end;
		pid_t pid = (pid_t)strtol(de->d_name, &end, 10), pp;

		if (*end || pid <= 0 || proc_stat(pid, &state, &pp) < 0)
			continue;
		if (pp != parent || state == 'Z' || state == 'X')
			continue;
		if (n < max)
			pids[n] = pid;
		n++;
	}
	closedir(d);
	return n;
}

pid_t tn_wait_child(struct tn_server *s, const char *title, pid_t old,
		    int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	do {
		pid_t p = tn_child_pid(s, title);

		if (p > 0 && p != old)
			return p;
		usleep(10000);
	} while (now_ms() < deadline);
	return -1;
}

bool tn_wait_exit(pid_t pid, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	do {
		char state;
		pid_t pp;

		if (waitpid(pid, NULL, WNOHANG) == pid)
			return true;
		if (proc_stat(pid, &state, &pp) < 0 || state == 'Z' ||
		    state == 'X')
			return true;
		usleep(10000);
	} while (now_ms() < deadline);
	return false;
}

int tn_proc_sockets(pid_t pid)
{
	char path[64], link[320], target[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		ssize_t l;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		l = readlink(link, target, sizeof(target) - 1);
		if (l > 0 && strncmp(target, "socket:", 7) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Inode of the server's end of the TCP connection whose client end is
 * 127.0.0.1:cport; 0 if not (yet) listed. */
static unsigned long server_inode(int sport, int cport)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	char line[512];
	unsigned long inode = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned la, lp, ra, rp, st;
		unsigned long ino;

		if (sscanf(line,
			   " %*d: %x:%x %x:%x %x %*x:%*x %*x:%*x %*x %*u %*u %lu",
			   &la, &lp, &ra, &rp, &st, &ino) != 6)
			continue;
		if ((int)lp == sport && (int)rp == cport && ino) {
			inode = ino;
			break;
		}
	}
	fclose(f);
	return inode;
}

static bool proc_has_inode(pid_t pid, unsigned long inode)
{
	char path[64], link[320], target[64], want[64];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	d = opendir(path);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		ssize_t l;

		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		l = readlink(link, target, sizeof(target) - 1);
		if (l > 0) {
			target[l] = '\0';
			found = strcmp(target, want) == 0;
		}
	}
	closedir(d);
	return found;
}

int tn_client_shard(struct tn_server *s, redisContext *c, int timeout_ms)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	long long deadline = now_ms() + timeout_ms;
	unsigned long inode;
	char title[32];
	int i;

	if (getsockname(c->fd, (struct sockaddr *)&sa, &sl) < 0)
		return -1;
	do {
		inode = server_inode(s->port, ntohs(sa.sin_port));
		/* the acceptor may still hold it, or it is in flight */
		for (i = 0; inode && i < 256; i++) {
			pid_t p;

			snprintf(title, sizeof(title), "titan: shard %d", i);
			p = tn_child_pid(s, title);
			if (p <= 0)
				break;
			if (proc_has_inode(p, inode))
				return i;
		}
		usleep(5000);
	} while (now_ms() < deadline);
	return -1;
}

ssize_t tn_raw_talk(struct tn_server *s, const void *req, size_t len,
		    char *out, size_t outlen, size_t want, int timeout_ms,
		    bool *closed)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long long deadline = now_ms() + timeout_ms;
	size_t got = 0, sent = 0;

	*closed = false;
	out[0] = '\0';
	sa.sin_port = htons(s->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* the server may answer and close before it has read everything */
	while (sent < len) {
		ssize_t n = send(fd, (const char *)req + sent, len - sent,
				 MSG_NOSIGNAL);

		if (n <= 0)
			break;
		sent += n;
	}
	while (got < outlen - 1 && (!want || got < want)) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		long long left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		n = read(fd, out + got, outlen - 1 - got);
		if (n <= 0) {
			*closed = true;
			break;
		}
		got += n;
	}
	/* a reply that filled `want` may still be followed by a close */
	if (want && got >= want && !*closed) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		char extra[256];

		if (poll(&pfd, 1, 200) > 0 &&
		    read(fd, extra, sizeof(extra)) == 0)
			*closed = true;
	}
	out[got] = '\0';
	close(fd);
	return (ssize_t)got;
}

bool tn_file_contains(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	ssize_t n;
	bool found = false;

	if (!f)
		return false;
	while (!found && (n = getline(&buf, &cap, f)) >= 0)
		found = strstr(buf, needle) != NULL;
	free(buf);
	fclose(f);
	return found;
}

int tn_raw_connect(struct tn_server *s)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_port = htons(s->port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Length of the first complete reply in buf[0..len), 0 if incomplete. */
static size_t reply_complete(const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	size_t head, i, total;
	long long n;

	if (!nl || len < 3)
		return 0;
	head = (size_t)(nl - buf) + 1;
	n = strtoll(buf + 1, NULL, 10);
	switch (buf[0]) {
	case '$':
	case '=':
	case '!':
		if (n < 0)
			return head;
		return len >= head + (size_t)n + 2 ? head + (size_t)n + 2 : 0;
	case '*':
	case '~':
	case '>':
	case '%':
	case '|':
		if (n < 0)
			return head;
		if (buf[0] == '%' || buf[0] == '|')
			n *= 2;
		total = head;
		for (i = 0; i < (size_t)n; i++) {
			size_t one = reply_complete(buf + total, len - total);

			if (!one)
				return 0;
			total += one;
		}
		return total;
	default:
		return head;
	}
}

ssize_t tn_raw_read_reply(int fd, char *out, size_t outlen, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	size_t got = 0, done;

	while (got < outlen - 1) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		ssize_t n;

		out[got] = '\0';
		done = reply_complete(out, got);
		if (done) {
			out[done] = '\0';
			return (ssize_t)done;
		}
		if (now_ms() >= deadline ||
		    poll(&pfd, 1, (int)(deadline - now_ms())) <= 0)
			return -1;
		/* one byte at a time: never read past this reply */
		n = read(fd, out + got, 1);
		if (n <= 0)
			return -1;
		got += n;
	}
	return -1;
}

ssize_t tn_raw_cmd(int fd, char *out, size_t outlen, ...)
{
	char req[65536];
	size_t len = 0, argc = 0;
	const char *a;
	va_list ap;

	va_start(ap, outlen);
	while ((a = va_arg(ap, const char *)))
		argc++;
	va_end(ap);
	len = snprintf(req, sizeof(req), "*%zu\r\n", argc);
	va_start(ap, outlen);
	while ((a = va_arg(ap, const char *)) && len < sizeof(req))
		len += snprintf(req + len, sizeof(req) - len, "$%zu\r\n%s\r\n",
				strlen(a), a);
	va_end(ap);
	if (len >= sizeof(req) || write(fd, req, len) != (ssize_t)len)
		return -1;
	return tn_raw_read_reply(fd, out, outlen, 10000);
}
