/*
 * ipc.h - bytes on the wire and between processes: the resumable RESP
 * request parser, the reply buffer writer (RESP2/RESP3), and fd passing
 * over Unix-domain sockets.
 */
#ifndef TN_IPC_H
#define TN_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------------ */
/* Growable byte buffer                                                 */
/* ------------------------------------------------------------------ */

struct tn_buf {
	char *data;
	size_t len; /* bytes in use */
	size_t cap;
	size_t off; /* bytes already consumed from the front */
};

int tn_buf_reserve(struct tn_buf *b, size_t extra); /* 0 or -ENOMEM */
int tn_buf_append(struct tn_buf *b, const void *p, size_t n);
int tn_buf_printf(struct tn_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Drop consumed bytes from the front (memmove) when worthwhile. */
void tn_buf_compact(struct tn_buf *b);
void tn_buf_free(struct tn_buf *b);
static inline size_t tn_buf_pending(const struct tn_buf *b)
{
	return b->len - b->off;
}

/* ------------------------------------------------------------------ */
/* RESP request parser (ipc/resp.c)                                     */
/* ------------------------------------------------------------------ */

#define TN_INLINE_MAX (64 * 1024) /* Redis' PROTO_INLINE_MAX_SIZE */
#define TN_MBULK_BIG_ARG (32 * 1024)

struct tn_resp_limits {
	long long max_bulk; /* proto-max-bulk-len */
	long long max_query; /* client-query-buffer-limit */
	bool authenticated; /* else Redis 7's small unauthenticated limits */
};

/* One argument: a slice of the query buffer, valid until the buffer is
 * consumed past it. */
struct tn_arg {
	const char *p;
	size_t len;
};

/*
 * Parser state, kept across reads.  Argument positions are stored as
 * offsets from buf->off (the request's first byte), so the buffer may be
 * reallocated or compacted while a request is incomplete.
 */
struct tn_resp_req {
	int state; /* 0 idle, 1 in multibulk */
	size_t pos; /* bytes of this request parsed so far, from buf->off */
	long long mbulk_left; /* arguments still to read */
	long long bulk_len; /* -1: expecting a $ line */
	size_t argc;
	size_t argcap;
	size_t *arg_off; /* offset of each argument from buf->off */
	size_t *arg_len;
	struct tn_arg *argv; /* filled when a request is complete */
	char *inline_store; /* unescaped inline arguments */
	size_t inline_cap;
};

enum {
	TN_RESP_MORE = 0, /* need more bytes */
	TN_RESP_DONE = 1, /* req->argv[0..argc) holds a request */
	TN_RESP_EMPTY = 2, /* an empty inline line or *0/ *-1: nothing to run */
	TN_RESP_ERROR = -1, /* protocol error: reply err, then close */
};

/*
 * Parse one request from b->data[b->off .. b->len).  On DONE or EMPTY,
 * b->off is advanced past it.  On ERROR, `err` holds the message without
 * the leading '-' (e.g. "ERR Protocol error: invalid bulk length").
 */
int tn_resp_parse(struct tn_resp_req *req, struct tn_buf *b,
		  const struct tn_resp_limits *lim, char *err, size_t errlen);
void tn_resp_req_reset(struct tn_resp_req *req);
void tn_resp_req_free(struct tn_resp_req *req);

/* Split an inline line as Redis' sdssplitargs does ("..." with \xHH and
 * \n escapes, '...'; a NUL byte ends the line).  Returns argc, or -1 on
 * unbalanced quotes.  Each argument is written to `store` (capacity >=
 * len) and described in argv (capacity argmax); an argc above argmax
 * means only the first argmax were described: call again, larger. */
int tn_split_args(const char *line, size_t len, char *store,
		  struct tn_arg *argv, size_t argmax);

/* ------------------------------------------------------------------ */
/* Reply writer (ipc/reply.c)                                           */
/* ------------------------------------------------------------------ */

/*
 * Replies are appended to an output tn_buf.  `resp` is 2 or 3 and picks
 * the encoding of nulls, maps, sets, doubles, booleans, push frames.
 * The writer functions never fail: on allocation failure they set
 * `oom` in the sink and the caller closes the client.
 */
struct tn_reply {
	struct tn_buf *out;
	int resp;
	bool oom;
};

void tn_reply_raw(struct tn_reply *r, const void *p, size_t n);
void tn_reply_ok(struct tn_reply *r);
void tn_reply_status(struct tn_reply *r, const char *s);
/* "-<msg>\r\n"; msg must start with its code (ERR, WRONGTYPE, ...).
 * Newlines inside msg are replaced by spaces as Redis does. */
void tn_reply_error(struct tn_reply *r, const char *msg);
void tn_reply_errorf(struct tn_reply *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tn_reply_int(struct tn_reply *r, long long v);
void tn_reply_bulk(struct tn_reply *r, const void *p, size_t n);
void tn_reply_bulkstr(struct tn_reply *r, const char *s);
void tn_reply_bulk_ll(struct tn_reply *r, long long v);
/* A double as Redis prints it: RESP3 ',' or a RESP2 bulk string ("%.17g"
 * style, "inf"/"-inf"). */
void tn_reply_double(struct tn_reply *r, double d);
/* INCRBYFLOAT-style long double bulk (humanfriendly, as Redis). */
void tn_reply_long_double(struct tn_reply *r, long double d);
void tn_reply_null(struct tn_reply *r); /* $-1 or _ */
void tn_reply_null_array(struct tn_reply *r); /* *-1 or _ */
void tn_reply_bool(struct tn_reply *r, bool b); /* :0/:1 or #f/#t */
void tn_reply_array(struct tn_reply *r, long long n);
void tn_reply_map(struct tn_reply *r, long long n); /* n pairs */
void tn_reply_set(struct tn_reply *r, long long n); /* ~ or * */
void tn_reply_push(struct tn_reply *r, long long n); /* > or * */
/* "=<len>\r\ntxt:..." in RESP3, a bulk string in RESP2. */
void tn_reply_verbatim(struct tn_reply *r, const char *p, size_t n);

/*
 * A length not yet known (SCAN, KEYS): reserve, write the elements, then
 * fill in.  `kind` is '*', '%' or '~' (mapped down for RESP2).
 */
size_t tn_reply_defer(struct tn_reply *r);
void tn_reply_defer_set(struct tn_reply *r, size_t mark, char kind,
			long long n);

/* ------------------------------------------------------------------ */
/* Unix-domain socket helpers (ipc/fdpass.c)                            */
/* ------------------------------------------------------------------ */

/* Send `fd` with a small message over a SOCK_SEQPACKET socket.  0 or
 * -errno. */
int tn_fd_send(int sock, int fd, const void *msg, size_t len);
/* Receive one message and at most one fd (*fd = -1 if none).  Returns
 * bytes received, 0 on peer close, or -errno. */
ssize_t tn_fd_recv(int sock, int *fd, void *msg, size_t len);

#endif
