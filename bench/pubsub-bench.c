/*
 * pubsub-bench.c - pub/sub throughput and latency client for
 * bench/pubsub-compare.sh: S subscribers and one publisher on a single
 * thread, poll() over all sockets, a minimal RESP2 parser of our own.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define CHAN	"bench:ch"
#define MAXSUB	64
#define BUFSZ	(1 << 20)

struct conn {
	int fd;
	char *buf;
	size_t len;	/* bytes buffered */
	size_t off;	/* bytes parsed */
	long got;	/* messages received (bench payloads only) */
	int warm;	/* saw a warm-up message */
	int subscribed;
};

static struct conn subs[MAXSUB];
static struct conn pub;
static int nsubs = 10;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void die(const char *m)
{
	fprintf(stderr, "pubsub-bench: %s%s%s\n", m, errno ? ": " : "",
		errno ? strerror(errno) : "");
	exit(1);
}

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += w;
		n -= w;
	}
}

/* Read what is there into c's buffer (compacting parsed bytes first). */
static void fill(struct conn *c)
{
	ssize_t r;

	if (c->off) {
		memmove(c->buf, c->buf + c->off, c->len - c->off);
		c->len -= c->off;
		c->off = 0;
	}
	if (c->len == BUFSZ)
		die("reply too large");
	r = read(c->fd, c->buf + c->len, BUFSZ - c->len);
	if (r == 0) {
		errno = 0;
		die("server closed a connection");
	}
	if (r < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		die("read");
	}
	c->len += r;
}

/* One CRLF-terminated line at p (n bytes): its length, or -1 if partial. */
static long line(const char *p, size_t n)
{
	const char *e = memchr(p, '\r', n);

	if (!e || (size_t)(e - p) + 1 >= n)
		return -1;
	return e - p;
}

/*
 * Parse one top-level reply: an array of bulk strings / integers (a push
 * or subscribe confirmation) or a simple line.  Returns bytes consumed,
 * 0 if incomplete.  For arrays, *first and *last point at the first and
 * last element (bulk payload) and *n is the element count; *n = -1 for
 * a plain line, whose first byte is in **first.
 */
static size_t parse(const char *p, size_t len, const char **first,
		    size_t *flen, const char **last, size_t *llen, long *n)
{
	size_t pos = 0;
	long l = line(p, len), cnt, i;

	if (l < 0)
		return 0;
	if (p[0] != '*') {
		*first = p;
		*flen = l;
		*n = -1;
		return l + 2;
	}
	cnt = strtol(p + 1, NULL, 10);
	pos = l + 2;
	*n = cnt;
	for (i = 0; i < cnt; i++) {
		const char *q = p + pos, *v;
		size_t vlen;

		l = line(q, len - pos);
		if (l < 0)
			return 0;
		if (q[0] == '$') {
			long bl = strtol(q + 1, NULL, 10);

			if (bl < 0) {
				v = q;
				vlen = 0;
				pos += l + 2;
			} else {
				if (pos + l + 2 + bl + 2 > len)
					return 0;
				v = q + l + 2;
				vlen = bl;
				pos += l + 2 + bl + 2;
			}
		} else {
			v = q + 1;
			vlen = l - 1;
			pos += l + 2;
		}
		if (i == 0) {
			*first = v;
			*flen = vlen;
		}
		*last = v;
		*llen = vlen;
	}
	return pos;
}

static uint64_t *lat;
static unsigned char *lat_sub; /* which subscriber got lat[i] (-v) */
static long nlat, maxlat;
static int verbose;

/* Consume every complete push in a subscriber's buffer. */
static void drain_sub(struct conn *c, int idx, int record)
{
	const char *f, *l;
	size_t fl, ll, used;
	long n;

	while ((used = parse(c->buf + c->off, c->len - c->off, &f, &fl, &l,
			     &ll, &n)) > 0) {
		c->off += used;
		if (n == 3 && fl == 7 && !memcmp(f, "message", 7)) {
			if (ll == 1 && l[0] == 'w') {
				c->warm = 1;
				continue;
			}
			c->got++;
			if (record && nlat < maxlat) {
				uint64_t t = strtoull(l, NULL, 10);

				lat_sub[nlat] = (unsigned char)idx;
				lat[nlat++] = now_ns() - t;
			}
		} else if (n == 3 && fl == 9 && !memcmp(f, "subscribe", 9)) {
			c->subscribed = 1;
		} else if (n < 0 && f[0] == '-') {
			fprintf(stderr, "pubsub-bench: error %.*s\n", (int)fl, f);
			exit(1);
		}
	}
}

/* Count complete replies on the publisher connection. */
static long drain_pub(void)
{
	const char *f, *l;
	size_t fl, ll, used;
	long n, k = 0;

	while ((used = parse(pub.buf + pub.off, pub.len - pub.off, &f, &fl,
			     &l, &ll, &n)) > 0) {
		pub.off += used;
		if (n < 0 && f[0] == '-') {
			fprintf(stderr, "pubsub-bench: PUBLISH: %.*s\n",
				(int)fl, f);
			exit(1);
		}
		k++;
	}
	return k;
}

static struct pollfd pfd[MAXSUB + 1];

/* Wait up to ms for input; read and parse it.  Returns publish replies. */
static long pump(int ms, int record)
{
	long k = 0;
	int i, r;

	for (i = 0; i < nsubs; i++) {
		pfd[i].fd = subs[i].fd;
		pfd[i].events = POLLIN;
	}
	pfd[nsubs].fd = pub.fd;
	pfd[nsubs].events = POLLIN;
	r = poll(pfd, nsubs + 1, ms);
	if (r < 0 && errno != EINTR)
		die("poll");
	for (i = 0; r > 0 && i < nsubs; i++) {
		if (pfd[i].revents) {
			fill(&subs[i]);
			drain_sub(&subs[i], i, record);
		}
	}
	if (r > 0 && pfd[nsubs].revents) {
		fill(&pub);
		k = drain_pub();
	}
	return k;
}

static long total_got(void)
{
	long t = 0;
	int i;

	for (i = 0; i < nsubs; i++)
		t += subs[i].got;
	return t;
}

static size_t fmt_publish(char *o, const char *payload)
{
	size_t pl = strlen(payload);

	return sprintf(o, "*3\r\n$7\r\nPUBLISH\r\n$%d\r\n%s\r\n$%zu\r\n%s\r\n",
		       (int)strlen(CHAN), CHAN, pl, payload);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * -v: each subscriber's own p50/p99 on stderr, before the samples are
 * sorted together: subscribers that share the publisher's shard process
 * and those that do not show apart.
 */
static void per_sub_report(void)
{
	uint64_t *v = malloc(nlat * sizeof(*v));
	long i, n;
	int s;

	if (!v)
		die("malloc");
	for (s = 0; s < nsubs; s++) {
		for (i = n = 0; i < nlat; i++)
			if (lat_sub[i] == s)
				v[n++] = lat[i];
		if (!n)
			continue;
		qsort(v, n, sizeof(*v), cmp_u64);
		fprintf(stderr, "sub %d: n %ld p50_us %.1f p99_us %.1f\n", s,
			n, v[n / 2] / 1000.0, v[(long)(n * 0.99)] / 1000.0);
	}
	free(v);
}

int main(int argc, char **argv)
{
	int port = 6379, opt, window = 64, i;
	long count = 200000, sent = 0, acked = 0, want;
	const char *mode = "tput";
	char cmd[256];
	uint64_t t0, deadline, last_progress, t_pub = 0, t_end;
	long prev;

	while ((opt = getopt(argc, argv, "p:n:s:w:m:v")) != -1) {
		switch (opt) {
		case 'v': verbose = 1; break;
		case 'p': port = atoi(optarg); break;
		case 'n': count = atol(optarg); break;
		case 's': nsubs = atoi(optarg); break;
		case 'w': window = atoi(optarg); break;
		case 'm': mode = optarg; break;
		default:
			fprintf(stderr, "usage: %s [-p port] [-n count] [-s subs]"
				" [-w window] [-m tput|lat] [-v]\n", argv[0]);
			return 2;
		}
	}
	if (nsubs < 1 || nsubs > MAXSUB || count < 1 || window < 1)
		die("bad arguments");

	for (i = 0; i < nsubs; i++) {
		subs[i].fd = dial(port);
		subs[i].buf = malloc(BUFSZ);
		write_all(subs[i].fd, "*2\r\n$9\r\nSUBSCRIBE\r\n$8\r\n" CHAN "\r\n",
			  strlen("*2\r\n$9\r\nSUBSCRIBE\r\n$8\r\n" CHAN "\r\n"));
	}
	pub.fd = dial(port);
	pub.buf = malloc(BUFSZ);
	if (!pub.buf)
		die("malloc");

	/*
	 * Warm up: publish "w" until every subscriber has seen one, so the
	 * subscriptions are live on every shard before the clock starts.
	 */
	deadline = now_ns() + 10000000000ull;
	for (;;) {
		int ready = 1;

		for (i = 0; i < nsubs; i++)
			ready &= subs[i].warm;
		if (ready)
			break;
		if (now_ns() > deadline) {
			errno = 0;
			die("subscribers never got the warm-up message");
		}
		write_all(pub.fd, cmd, fmt_publish(cmd, "w"));
		sent++;
		while (acked < sent)
			acked += pump(1000, 0);
		pump(10, 0);
	}
	sent = acked = 0;

	if (!strcmp(mode, "lat")) {
		maxlat = count * nsubs;
		lat = malloc(maxlat * sizeof(*lat));
		lat_sub = malloc(maxlat);
		if (!lat || !lat_sub)
			die("malloc");
		t0 = now_ns();
		for (sent = 0; sent < count; sent++) {
			char ts[32], c2[256];

			want = (sent + 1) * nsubs;
			/* payload: the send time, taken just before the write */
			snprintf(ts, sizeof(ts), "%llu",
				 (unsigned long long)now_ns());
			write_all(pub.fd, c2, fmt_publish(c2, ts));
			deadline = now_ns() + 2000000000ull;
			while ((acked < sent + 1 || total_got() < want) &&
			       now_ns() < deadline)
				acked += pump(100, 1);
		}
		t_end = now_ns();
		if (verbose)
			per_sub_report();
		qsort(lat, nlat, sizeof(*lat), cmp_u64);
		printf("lat_msgs %ld\n", nlat);
		printf("lat_expected %ld\n", count * nsubs);
		printf("lat_p50_us %.1f\n",
		       nlat ? lat[nlat / 2] / 1000.0 : 0.0);
		printf("lat_p99_us %.1f\n",
		       nlat ? lat[(long)(nlat * 0.99)] / 1000.0 : 0.0);
		printf("lat_secs %.3f\n", (t_end - t0) / 1e9);
		return 0;
	}

	/* Throughput: keep `window` PUBLISHes outstanding. */
	{
		static char batch[1 << 16];
		const char *payload = "0123456789abcdef";

		want = count * nsubs;
		t0 = now_ns();
		last_progress = t0;
		prev = 0;
		while (acked < count || total_got() < want) {
			size_t bl = 0;

			while (sent < count && sent - acked < window &&
			       bl < sizeof(batch) - 256) {
				bl += fmt_publish(batch + bl, payload);
				sent++;
			}
			if (bl)
				write_all(pub.fd, batch, bl);
			acked += pump(100, 0);
			if (acked == count && !t_pub)
				t_pub = now_ns();
			if (total_got() != prev || acked < count) {
				prev = total_got();
				last_progress = now_ns();
			}
			if (now_ns() - last_progress > 5000000000ull ||
			    now_ns() - t0 > 300000000000ull) {
				fprintf(stderr, "pubsub-bench: timeout, got"
					" %ld of %ld messages\n", prev, want);
				break;
			}
		}
		t_end = total_got() == want ? now_ns() : last_progress;
		if (!t_pub)
			t_pub = t_end;
		printf("tput_delivered %ld\n", total_got());
		printf("tput_expected %ld\n", want);
		printf("tput_publish_per_s %.0f\n", count / ((t_pub - t0) / 1e9));
		printf("tput_delivered_per_s %.0f\n",
		       total_got() / ((t_end - t0) / 1e9));
		printf("tput_secs %.3f\n", (t_end - t0) / 1e9);
	}
	return 0;
}
