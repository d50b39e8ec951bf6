/*
 * sse-bench.c - hold N event-stream clients on one job's output and check
 * that each received every line, in order, exactly once.
 *   sse-bench PORT JOB_ID N LINES
 * Prints how many clients saw lines 1..LINES and the job COMPLETED.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct client {
	int fd;
	long next; /* the line number expected next */
	int bad;   /* a line missing, repeated or out of order */
	int done;  /* saw the COMPLETED job event */
	size_t len;
	char buf[65536];
};

static void on_line(struct client *c, const char *l, size_t n)
{
	const char *p = memmem(l, n, "\"l\":\"line ", 10);

	if (p && !memmem(l, n, "\"state\"", 7)) {
		long v = strtol(p + 10, NULL, 10);

		if (v != c->next)
			c->bad = 1;
		c->next = v + 1;
	} else if (memmem(l, n, "\"state\":\"COMPLETED\"", 19)) {
		c->done = 1;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct epoll_event ev, evs[256];
	struct client *cl;
	int n, lines, ep, i, finished = 0, good = 0, nbad = 0;
	char req[512];
	time_t end;

	if (argc != 5) {
		fprintf(stderr, "usage: sse-bench PORT JOB_ID N LINES\n");
		return 2;
	}
	n = atoi(argv[3]);
	lines = atoi(argv[4]);
	a.sin_port = htons((uint16_t)atoi(argv[1]));
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	snprintf(req, sizeof(req),
		 "GET /api/jobs/%s/events HTTP/1.1\r\nHost: bench\r\n\r\n",
		 argv[2]);
	cl = calloc((size_t)n, sizeof(*cl));
	ep = epoll_create1(0);
	for (i = 0; i < n; i++) {
		cl[i].fd = socket(AF_INET, SOCK_STREAM, 0);
		cl[i].next = 1;
		if (cl[i].fd < 0 ||
		    connect(cl[i].fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
		    write(cl[i].fd, req, strlen(req)) != (ssize_t)strlen(req)) {
			fprintf(stderr, "client %d: %s\n", i, strerror(errno));
			return 1;
		}
		ev.events = EPOLLIN;
		ev.data.ptr = &cl[i];
		epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
	}
	fprintf(stderr, "sse-bench: %d clients connected\n", n);
	end = time(NULL) + 120;
	while (finished < n && time(NULL) < end) {
		int k = epoll_wait(ep, evs, 256, 1000);

		for (i = 0; i < k; i++) {
			struct client *c = evs[i].data.ptr;
			ssize_t r = read(c->fd, c->buf + c->len,
					 sizeof(c->buf) - c->len);
			char *s, *nl;

			if (r <= 0) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				finished++;
				continue;
			}
			c->len += (size_t)r;
			s = c->buf;
			while ((nl = memchr(s, '\n', c->len - (size_t)(s - c->buf)))) {
				on_line(c, s, (size_t)(nl - s));
				s = nl + 1;
			}
			c->len -= (size_t)(s - c->buf);
			memmove(c->buf, s, c->len);
			if (c->done) {
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				finished++;
			}
		}
	}
	for (i = 0; i < n; i++) {
		if (cl[i].done && !cl[i].bad && cl[i].next == lines + 1)
			good++;
		else
			nbad++;
	}
	printf("clients %d, every line in order %d, incomplete %d\n", n,
	       good, nbad);
	return good == n ? 0 : 1;
}
