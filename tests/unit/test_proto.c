/*
 * test_proto.c - TITAN_PROTO framing: every malformed header class, the
 * 10 MiB edge, every byte split of a stream of frames, blocking send/recv
 * over a socketpair, v1's reply opcode rule and RFC 4648 Base64.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/proto.h"
#include "util/util.h"

#define MAX TN_PROTO_MAX_BODY_V1

static void hdr(char *out, uint8_t ver, uint8_t op, uint32_t len)
{
	tn_proto_header((uint8_t *)out, op, len);
	out[0] = (char)ver;
}

Test(proto, header_bytes)
{
	uint8_t h[8];

	tn_proto_header(h, 0x78, 0x01020304);
	cr_assert_eq(h[0], 1);
	cr_assert_eq(h[1], 0x78);
	cr_assert_eq(h[2], 0);
	cr_assert_eq(h[3], 0);
	cr_assert_eq(h[4], 1);
	cr_assert_eq(h[5], 2);
	cr_assert_eq(h[6], 3);
	cr_assert_eq(h[7], 4);
}

Test(proto, short_header_is_again)
{
	char b[8];
	struct tn_frame f;
	size_t used = 99, i;

	hdr(b, 1, TN_OP_STATS, 0);
	for (i = 0; i < 8; i++)
		cr_assert_eq(tn_proto_parse(b, i, MAX, &f, &used),
			     TN_PROTO_AGAIN, "prefix %zu", i);
	cr_assert_eq(used, 99, "used must not move on AGAIN");
	cr_assert_eq(tn_proto_parse(b, 8, MAX, &f, &used), TN_PROTO_OK);
	cr_assert_eq(used, 8);
	cr_assert_eq(f.len, 0);
	cr_assert_eq(f.opcode, TN_OP_STATS);
}

Test(proto, bad_version)
{
	char b[8];
	struct tn_frame f;
	size_t used;
	unsigned v;

	for (v = 0; v < 256; v++) {
		if (v == 1)
			continue;
		hdr(b, (uint8_t)v, TN_OP_ACK, 0);
		cr_assert_eq(tn_proto_parse(b, 8, MAX, &f, &used),
			     TN_PROTO_BADVER, "version %u", v);
		/* known at the first byte */
		cr_assert_eq(tn_proto_parse(b, 1, MAX, &f, &used),
			     TN_PROTO_BADVER);
	}
	/* HTTP, a RESP array: strangers on the port */
	cr_assert_eq(tn_proto_parse("GET / HTTP/1.1\r\n", 16, MAX, &f, &used),
		     TN_PROTO_BADVER);
	cr_assert_eq(tn_proto_parse("*1\r\n$4\r\nPING\r\n", 14, MAX, &f,
				    &used),
		     TN_PROTO_BADVER);
}

Test(proto, ten_mib_allowed_one_more_refused)
{
	char b[8];
	struct tn_frame f;
	size_t used;

	hdr(b, 1, TN_OP_SUBMIT_DAG, MAX);
	cr_assert_eq(tn_proto_parse(b, 8, MAX, &f, &used), TN_PROTO_AGAIN);
	cr_assert_eq(tn_proto_parse(b, 8, 0, &f, &used), TN_PROTO_AGAIN,
		     "0 means the v1 limit");
	hdr(b, 1, TN_OP_SUBMIT_DAG, MAX + 1);
	cr_assert_eq(tn_proto_parse(b, 8, MAX, &f, &used), TN_PROTO_TOOBIG);
	cr_assert_eq(tn_proto_parse(b, 8, 0, &f, &used), TN_PROTO_TOOBIG);
	/* a configured limit */
	hdr(b, 1, TN_OP_SUBMIT_DAG, 101);
	cr_assert_eq(tn_proto_parse(b, 8, 100, &f, &used), TN_PROTO_TOOBIG);
	hdr(b, 1, TN_OP_SUBMIT_DAG, 100);
	cr_assert_eq(tn_proto_parse(b, 8, 100, &f, &used), TN_PROTO_AGAIN);
}

Test(proto, huge_and_top_bit_lengths)
{
	char b[8];
	struct tn_frame f;
	size_t used;

	hdr(b, 1, TN_OP_ACK, 0xffffffffu);
	cr_assert_eq(tn_proto_parse(b, 8, MAX, &f, &used), TN_PROTO_TOOBIG);
	/* negative to v1's Java int even if the limit were bigger */
	hdr(b, 1, TN_OP_ACK, 0x80000000u);
	cr_assert_eq(tn_proto_parse(b, 8, 0xffffffffu, &f, &used),
		     TN_PROTO_TOOBIG);
	hdr(b, 1, TN_OP_ACK, 0x80000001u);
	cr_assert_eq(tn_proto_parse(b, 8, 0xffffffffu, &f, &used),
		     TN_PROTO_TOOBIG);
	hdr(b, 1, TN_OP_ACK, 0x7fffffffu);
	cr_assert_eq(tn_proto_parse(b, 8, 0xffffffffu, &f, &used),
		     TN_PROTO_AGAIN);
}

Test(proto, truncated_body)
{
	char b[8 + 5];
	struct tn_frame f;
	size_t used, i;

	hdr(b, 1, TN_OP_KV_GET, 5);
	memcpy(b + 8, "hello", 5);
	for (i = 8; i < sizeof(b); i++)
		cr_assert_eq(tn_proto_parse(b, i, MAX, &f, &used),
			     TN_PROTO_AGAIN);
	cr_assert_eq(tn_proto_parse(b, sizeof(b), MAX, &f, &used),
		     TN_PROTO_OK);
	cr_assert_eq(used, sizeof(b));
	cr_assert_eq(f.len, 5);
	cr_assert_eq(f.body, b + 8);
	cr_assert_eq(memcmp(f.body, "hello", 5), 0);
}

Test(proto, unknown_opcode_parses_flags_kept)
{
	char b[8 + 2];
	struct tn_frame f;
	size_t used;

	hdr(b, 1, 0xEE, 2);
	b[2] = 0x5a;
	b[3] = (char)0xa5;
	memcpy(b + 8, "xy", 2);
	cr_assert_eq(tn_proto_parse(b, sizeof(b), MAX, &f, &used),
		     TN_PROTO_OK);
	cr_assert_eq(f.opcode, 0xEE);
	cr_assert_eq(f.flags, 0x5a);
	cr_assert_eq(f.spare, 0xa5);
	cr_assert_eq(f.version, 1);
}

/* Three frames back to back (empty, text, binary with NULs). */
static void build_stream(struct tn_buf *s)
{
	static const char bin[] = { 'a', 0, 'b', '|', 0, (char)0xff };

	cr_assert_eq(tn_proto_write(s, TN_OP_STATS_JSON, NULL, 0), 0);
	cr_assert_eq(tn_proto_write(s, TN_OP_SUBMIT_DAG2, "a|b|c", 5), 0);
	cr_assert_eq(tn_proto_write(s, TN_OP_DISPATCH, bin, sizeof(bin)), 0);
}

/* Feed in[0..n) to a buffer in two pieces split at cut, parsing as a
 * server would after each piece; returns the frames seen as text. */
static void parse_split(const char *in, size_t n, size_t cut,
			struct tn_buf *log)
{
	struct tn_buf q = { 0 };
	struct tn_frame f;
	size_t used, pieces[2] = { cut, n - cut }, at = 0;
	int i, rc;

	for (i = 0; i < 2; i++) {
		cr_assert_eq(tn_buf_append(&q, in + at, pieces[i]), 0);
		at += pieces[i];
		for (;;) {
			rc = tn_proto_parse(q.data + q.off, q.len - q.off, MAX,
					    &f, &used);
			if (rc == TN_PROTO_AGAIN)
				break;
			cr_assert_eq(rc, TN_PROTO_OK, "cut %zu: rc %d", cut,
				     rc);
			tn_buf_printf(log, "[%02x %u ", f.opcode, f.len);
			tn_buf_append(log, f.body, f.len);
			tn_buf_append(log, "]", 1);
			q.off += used;
		}
		tn_buf_compact(&q);
	}
	cr_assert_eq(q.len - q.off, 0, "cut %zu: leftover bytes", cut);
	tn_buf_free(&q);
}

Test(proto, every_byte_split)
{
	struct tn_buf s = { 0 }, whole = { 0 }, got = { 0 };
	size_t cut;

	build_stream(&s);
	parse_split(s.data, s.len, s.len, &whole);
	cr_assert_eq(whole.len, strlen("[09 0 ][78 5 a|b|c][73 6 ]") + 6);
	for (cut = 0; cut <= s.len; cut++) {
		got.len = 0;
		parse_split(s.data, s.len, cut, &got);
		cr_assert_eq(got.len, whole.len, "cut %zu", cut);
		cr_assert_eq(memcmp(got.data, whole.data, got.len), 0,
			     "cut %zu", cut);
	}
	tn_buf_free(&s);
	tn_buf_free(&whole);
	tn_buf_free(&got);
}

Test(proto, byte_at_a_time)
{
	struct tn_buf s = { 0 };
	struct tn_frame f;
	size_t used, i, start = 0, frames = 0;
	int rc;

	build_stream(&s);
	for (i = 1; i <= s.len; i++) {
		rc = tn_proto_parse(s.data + start, i - start, MAX, &f, &used);
		if (rc == TN_PROTO_OK) {
			start += used;
			frames++;
		} else {
			cr_assert_eq(rc, TN_PROTO_AGAIN);
		}
	}
	cr_assert_eq(frames, 3);
	cr_assert_eq(start, s.len);
	tn_buf_free(&s);
}

Test(proto, write_refuses_negative_length)
{
	struct tn_buf s = { 0 };

	cr_assert_eq(tn_proto_write(&s, TN_OP_ACK, "", 0x80000000u),
		     -EMSGSIZE);
	cr_assert_eq(s.len, 0);
	cr_assert_eq(tn_proto_send(-1, TN_OP_ACK, "", 0x80000000u),
		     -EMSGSIZE);
}

Test(proto, reply_op_rule)
{
	static const struct {
		const char *text;
		uint8_t op;
	} cases[] = {
		{ "ERROR: no such job", TN_OP_ERROR },
		{ "ERROR", TN_OP_ERROR },
		{ "UNKNOWN_COMMAND", TN_OP_ERROR },
		{ "SERVER_ERROR: x", TN_OP_ERROR },
		{ "UPLOAD_FAILED", TN_OP_ERROR },
		{ "DEPLOY_FAILED: x", TN_OP_ERROR },
		{ "DAG_ACCEPTED", TN_OP_ACK },
		{ "", TN_OP_ACK },
		{ "ERRO", TN_OP_ACK },
		{ "error: lower case", TN_OP_ACK },
		{ "COMMUNICATION_ERROR: x", TN_OP_ACK },
		{ "NOT_FOUND", TN_OP_ACK },
		{ " ERROR", TN_OP_ACK },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		cr_assert_eq(tn_proto_reply_op(cases[i].text,
					       strlen(cases[i].text)),
			     cases[i].op, "'%s'", cases[i].text);
	/* only len bytes count */
	cr_assert_eq(tn_proto_reply_op("ERROR", 4), TN_OP_ACK);
}

struct writer_arg {
	int fd;
	const char *data;
	size_t len;
	size_t chunk;
};

static void *slow_writer(void *p)
{
	struct writer_arg *a = p;
	size_t at = 0, n;

	while (at < a->len) {
		n = TN_MIN(a->chunk, a->len - at);
		if (write(a->fd, a->data + at, n) != (ssize_t)n)
			break;
		at += n;
	}
	close(a->fd);
	return NULL;
}

Test(proto, send_recv_roundtrip)
{
	int sv[2];
	struct tn_frame h;
	char *body;
	char big[100000];
	size_t i;

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(tn_proto_send(sv[0], TN_OP_AUTH, "tok", 3), 0);
	cr_assert_eq(tn_proto_send(sv[0], TN_OP_WORKERS_JSON, NULL, 0), 0);
	cr_assert_eq(tn_proto_recv(sv[1], 0, &h, &body), 0);
	cr_assert_eq(h.opcode, TN_OP_AUTH);
	cr_assert_eq(h.len, 3);
	cr_assert_str_eq(body, "tok");
	cr_assert_eq(h.body, body);
	free(body);
	cr_assert_eq(tn_proto_recv(sv[1], 0, &h, &body), 0);
	cr_assert_eq(h.opcode, TN_OP_WORKERS_JSON);
	cr_assert_eq(h.len, 0);
	cr_assert_str_eq(body, "");
	free(body);
	close(sv[0]);
	close(sv[1]);

	/* a body bigger than the socket buffer, sent from another thread
	 * while we read: short writes and short reads on both sides */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	{
		struct tn_buf s = { 0 };
		struct writer_arg a;
		pthread_t t;

		cr_assert_eq(tn_proto_write(&s, TN_OP_LOG_LINES, big,
					    sizeof(big)),
			     0);
		a.fd = sv[0];
		a.data = s.data;
		a.len = s.len;
		a.chunk = 3;
		cr_assert_eq(pthread_create(&t, NULL, slow_writer, &a), 0);
		cr_assert_eq(tn_proto_recv(sv[1], 0, &h, &body), 0);
		cr_assert_eq(h.len, sizeof(big));
		cr_assert_eq(memcmp(body, big, sizeof(big)), 0);
		free(body);
		/* then EOF at a frame boundary */
		cr_assert_eq(tn_proto_recv(sv[1], 0, &h, &body),
			     -ECONNRESET);
		cr_assert_null(body);
		pthread_join(t, NULL);
		tn_buf_free(&s);
	}
	close(sv[1]);

	/* send with a big body against a reader thread */
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	{
		char *big2 = malloc(3 * 1024 * 1024);

		memset(big2, 'z', 3 * 1024 * 1024);
		if (fork() == 0) {
			close(sv[1]);
			_exit(tn_proto_send(sv[0], TN_OP_DATA, big2,
					    3 * 1024 * 1024) ?
				      1 :
				      0);
		}
		close(sv[0]);
		cr_assert_eq(tn_proto_recv(sv[1], 0, &h, &body), 0);
		cr_assert_eq(h.len, 3 * 1024 * 1024);
		cr_assert_eq(memcmp(body, big2, h.len), 0);
		free(body);
		free(big2);
		close(sv[1]);
		{
			int st;

			cr_assert_gt(wait(&st), 0);
			cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		}
	}
}

static int recv_from_bytes(const char *bytes, size_t n, uint32_t max,
			   char **body)
{
	int sv[2], rc;
	struct tn_frame h;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	cr_assert_eq(write(sv[0], bytes, n), (ssize_t)n);
	close(sv[0]);
	rc = tn_proto_recv(sv[1], max, &h, body);
	close(sv[1]);
	return rc;
}

Test(proto, recv_errors)
{
	char b[16];
	char *body = (char *)1;

	/* EOF before anything, inside the header, inside the body */
	cr_assert_eq(recv_from_bytes("", 0, 0, &body), -ECONNRESET);
	cr_assert_null(body);
	hdr(b, 1, TN_OP_ACK, 4);
	memcpy(b + 8, "ab", 2);
	cr_assert_eq(recv_from_bytes(b, 5, 0, &body), -ECONNRESET);
	cr_assert_eq(recv_from_bytes(b, 10, 0, &body), -ECONNRESET);
	cr_assert_null(body);
	/* bad version, too big, top bit */
	hdr(b, 2, TN_OP_ACK, 0);
	cr_assert_eq(recv_from_bytes(b, 8, 0, &body), -EPROTO);
	hdr(b, 1, TN_OP_ACK, MAX + 1);
	cr_assert_eq(recv_from_bytes(b, 8, 0, &body), -EPROTO);
	hdr(b, 1, TN_OP_ACK, 0x80000000u);
	cr_assert_eq(recv_from_bytes(b, 8, 0xffffffffu, &body), -EPROTO);
	hdr(b, 1, TN_OP_ACK, 9);
	cr_assert_eq(recv_from_bytes(b, 8, 8, &body), -EPROTO);
	cr_assert_null(body);
	/* a closed fd */
	{
		struct tn_frame h;

		cr_assert_eq(tn_proto_recv(-1, 0, &h, &body), -EBADF);
	}
}

Test(proto, send_to_closed_peer_is_epipe_not_sigpipe)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	close(sv[1]);
	cr_assert_eq(tn_proto_send(sv[0], TN_OP_ACK, "x", 1), -EPIPE);
	close(sv[0]);
}

Test(proto, send_on_a_pipe)
{
	int p[2];
	char got[11];

	cr_assert_eq(pipe(p), 0);
	cr_assert_eq(tn_proto_send(p[1], TN_OP_ACK, "OK!", 3), 0);
	cr_assert_eq(read(p[0], got, sizeof(got)), 11);
	cr_assert_eq(memcmp(got, "\x01\x50\x00\x00\x00\x00\x00\x03OK!", 11),
		     0);
	close(p[0]);
	close(p[1]);
}

/* ------------------------------------------------------------------ */
/* Base64                                                               */
/* ------------------------------------------------------------------ */

Test(b64, rfc4648_vectors)
{
	static const char *const v[][2] = {
		{ "", "" },	     { "f", "Zg==" },
		{ "fo", "Zm8=" },    { "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};
	char enc[32], dec[32];
	size_t i, n;
	ssize_t d;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = strlen(v[i][0]);
		cr_assert_eq(tn_b64_encoded_len(n), strlen(v[i][1]));
		cr_assert_eq(tn_b64_encode(v[i][0], n, enc), strlen(v[i][1]));
		cr_assert_str_eq(enc, v[i][1]);
		d = tn_b64_decode(v[i][1], strlen(v[i][1]), dec);
		cr_assert_eq(d, (ssize_t)n, "'%s'", v[i][1]);
		cr_assert_eq(memcmp(dec, v[i][0], n), 0);
		cr_assert_geq(tn_b64_decoded_max(strlen(v[i][1])), n);
	}
}

Test(b64, all_bytes_roundtrip)
{
	unsigned char in[256], out[256];
	char enc[400];
	size_t n, i;

	for (i = 0; i < 256; i++)
		in[i] = (unsigned char)(255 - i);
	for (n = 0; n <= 256; n += 1) {
		size_t e = tn_b64_encode(in, n, enc);

		cr_assert_eq(tn_b64_decode(enc, e, out), (ssize_t)n);
		cr_assert_eq(memcmp(in, out, n), 0);
	}
	/* both 62 and 63 appear */
	tn_b64_encode("\xfb\xff", 2, enc);
	cr_assert_str_eq(enc, "+/8=");
}

Test(b64, bad_input)
{
	static const char *const bad[] = {
		"Zg",	     /* missing padding */
		"Zg=",	     /* short padding */
		"Z===",	     /* three pads */
		"====",	     /* only pads */
		"Zm9v Yg==", /* whitespace */
		"Zm9v\nYg==", "Zm9vYg==\n", "Zm9vYg=\r", "Zm=v", /* pad inside */
		"Zg==Zg==",			       /* pad then more */
		"Zm9-",				       /* url alphabet */
		"Zm9_", "Zm9\x80", "Zm9\0",
	};
	char out[16];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = strlen(bad[i]);

		if (i == sizeof(bad) / sizeof(bad[0]) - 1)
			n = 4; /* embedded NUL */
		cr_assert_eq(tn_b64_decode(bad[i], n, out), -1, "'%s'",
			     bad[i]);
	}
}

Test(b64, list)
{
	static const char *const argv[] = { "/bin/sh", "-c", "echo a|b",
					    "" };
	struct tn_buf b = { 0 };
	char **items;
	size_t n;

	cr_assert_eq(tn_b64_list_append(&b, argv, 4), 0);
	{
		char raw[64];
		ssize_t d = tn_b64_decode(b.data, b.len, raw);

		cr_assert_eq(d, 20);
		cr_assert_eq(memcmp(raw, "/bin/sh\0-c\0echo a|b\0", 20), 0);
	}
	cr_assert_eq(tn_b64_list_decode(b.data, b.len, &items, &n), 0);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(items[0], "/bin/sh");
	cr_assert_str_eq(items[1], "-c");
	cr_assert_str_eq(items[2], "echo a|b");
	cr_assert_str_eq(items[3], "");
	cr_assert_null(items[4]);
	free(items);

	/* empty list is an empty field */
	b.len = 0;
	cr_assert_eq(tn_b64_list_append(&b, argv, 0), 0);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(tn_b64_list_decode("", 0, &items, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(items[0]);
	free(items);

	/* appends after what is there */
	tn_buf_append(&b, "x|", 2);
	cr_assert_eq(tn_b64_list_append(&b, argv, 1), 0);
	cr_assert_eq(b.len, 2 + 12);
	cr_assert_eq(memcmp(b.data, "x|L2Jpbi9zaA==", 14), 0);

	cr_assert_eq(tn_b64_list_decode("L2Jp bi9zaA==", 13, &items, &n),
		     -EINVAL);
	cr_assert_null(items);
	tn_buf_free(&b);
}
