/*
 * proto.c - TITAN_PROTO framing: the resumable frame parser, the writer,
 * blocking send/recv for the CLI and the worker, v1's reply opcode rule,
 * and the strict standard Base64 every binary field travels in.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ipc/proto.h"

/* v1 reads the length as a signed Java int: the top bit means negative. */
#define TN_PROTO_LEN_SIGN 0x80000000u

static uint32_t tn_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int tn_proto_parse(const char *buf, size_t len, uint32_t max_body,
		   struct tn_frame *out, size_t *used)
{
	const unsigned char *p = (const unsigned char *)buf;
	uint32_t blen;

	if (max_body == 0)
		max_body = TN_PROTO_MAX_BODY_V1;
	/* Refuse a stranger at its first byte rather than after eight. */
	if (len >= 1 && p[0] != TN_PROTO_VERSION)
		return TN_PROTO_BADVER;
	if (len < TN_PROTO_HEADER_BYTES)
		return TN_PROTO_AGAIN;
	blen = tn_get_be32(p + 4);
	if ((blen & TN_PROTO_LEN_SIGN) || blen > max_body)
		return TN_PROTO_TOOBIG;
	if (len - TN_PROTO_HEADER_BYTES < blen)
		return TN_PROTO_AGAIN;
	out->version = p[0];
	out->opcode = p[1];
	out->flags = p[2];
	out->spare = p[3];
	out->len = blen;
	out->body = buf + TN_PROTO_HEADER_BYTES;
	*used = TN_PROTO_HEADER_BYTES + (size_t)blen;
	return TN_PROTO_OK;
}

void tn_proto_header(uint8_t out[TN_PROTO_HEADER_BYTES], uint8_t opcode,
		     uint32_t len)
{
	out[0] = TN_PROTO_VERSION;
	out[1] = opcode;
	out[2] = 0;
	out[3] = 0;
	out[4] = (uint8_t)(len >> 24);
	out[5] = (uint8_t)(len >> 16);
	out[6] = (uint8_t)(len >> 8);
	out[7] = (uint8_t)len;
}

int tn_proto_write(struct tn_buf *b, uint8_t opcode, const void *body,
		   size_t len)
{
	uint8_t hdr[TN_PROTO_HEADER_BYTES];
	int rc;

	/* A length v1 would read as negative is never valid on the wire. */
	if (len >= TN_PROTO_LEN_SIGN)
		return -EMSGSIZE;
	rc = tn_buf_reserve(b, TN_PROTO_HEADER_BYTES + len);
	if (rc)
		return rc;
	tn_proto_header(hdr, opcode, (uint32_t)len);
	memcpy(b->data + b->len, hdr, sizeof(hdr));
	if (len)
		memcpy(b->data + b->len + sizeof(hdr), body, len);
	b->len += sizeof(hdr) + len;
	return 0;
}

static bool tn_has_prefix(const char *text, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(text, prefix, n) == 0;
}

uint8_t tn_proto_reply_op(const char *text, size_t len)
{
	static const char *const errs[] = {
		"ERROR", "UNKNOWN", "SERVER_ERROR", "UPLOAD_FAILED",
		"DEPLOY_FAILED",
	};
	size_t i;

	for (i = 0; i < sizeof(errs) / sizeof(errs[0]); i++)
		if (tn_has_prefix(text, len, errs[i]))
			return TN_OP_ERROR;
	return TN_OP_ACK;
}

/* Write all of iov, resuming after EINTR and short writes. */
static int tn_writev_all(int fd, struct iovec *iov, int cnt)
{
	struct msghdr msg;
	ssize_t n;
	bool sock = true;

	while (cnt > 0) {
		if (iov->iov_len == 0) {
			iov++;
			cnt--;
			continue;
		}
		if (sock) {
			/* MSG_NOSIGNAL: a peer gone away is an error to
			 * report, not a SIGPIPE that kills the CLI. */
			memset(&msg, 0, sizeof(msg));
			msg.msg_iov = iov;
			msg.msg_iovlen = (size_t)cnt;
			n = sendmsg(fd, &msg, MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				sock = false;
				continue;
			}
		} else {
			n = writev(fd, iov, cnt);
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && cnt > 0) {
			if ((size_t)n >= iov->iov_len) {
				n -= (ssize_t)iov->iov_len;
				iov->iov_len = 0;
				iov++;
				cnt--;
			} else {
				iov->iov_base = (char *)iov->iov_base + n;
				iov->iov_len -= (size_t)n;
				n = 0;
			}
		}
	}
	return 0;
}

int tn_proto_send(int fd, uint8_t opcode, const void *body, size_t len)
{
	uint8_t hdr[TN_PROTO_HEADER_BYTES];
	struct iovec iov[2];

	if (len >= TN_PROTO_LEN_SIGN)
		return -EMSGSIZE;
	tn_proto_header(hdr, opcode, (uint32_t)len);
	iov[0].iov_base = hdr;
	iov[0].iov_len = sizeof(hdr);
	iov[1].iov_base = (void *)body;
	iov[1].iov_len = body ? len : 0;
	return tn_writev_all(fd, iov, 2);
}

/* Read exactly n bytes: -ECONNRESET if the peer closes first. */
static int tn_read_all(int fd, void *p, size_t n)
{
	char *d = p;
	ssize_t r;

	while (n > 0) {
		r = read(fd, d, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -ECONNRESET;
		d += r;
		n -= (size_t)r;
	}
	return 0;
}

int tn_proto_recv(int fd, uint32_t max_body, struct tn_frame *hdr,
		  char **body)
{
	char head[TN_PROTO_HEADER_BYTES];
	struct tn_frame f;
	size_t used;
	char *b;
	int rc;

	*body = NULL;
	rc = tn_read_all(fd, head, sizeof(head));
	if (rc)
		return rc;
	/* A header with a zero length is a whole frame; any other length
	 * makes the parser say AGAIN once the header checks pass. */
	rc = tn_proto_parse(head, sizeof(head), max_body, &f, &used);
	if (rc == TN_PROTO_BADVER || rc == TN_PROTO_TOOBIG)
		return -EPROTO;
	f.version = (uint8_t)head[0];
	f.opcode = (uint8_t)head[1];
	f.flags = (uint8_t)head[2];
	f.spare = (uint8_t)head[3];
	f.len = tn_get_be32((const unsigned char *)head + 4);
	b = malloc((size_t)f.len + 1);
	if (!b)
		return -ENOMEM;
	rc = tn_read_all(fd, b, f.len);
	if (rc) {
		free(b);
		return rc;
	}
	b[f.len] = '\0';
	f.body = b;
	*hdr = f;
	*body = b;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Base64 (RFC 4648 section 4)                                          */
/* ------------------------------------------------------------------ */

static const char tn_b64_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t tn_b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t tn_b64_decoded_max(size_t n)
{
	return n / 4 * 3;
}

size_t tn_b64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *s = in;
	char *d = out;
	uint32_t v;

	for (; n >= 3; n -= 3, s += 3) {
		v = (uint32_t)s[0] << 16 | (uint32_t)s[1] << 8 | s[2];
		*d++ = tn_b64_alpha[v >> 18];
		*d++ = tn_b64_alpha[(v >> 12) & 63];
		*d++ = tn_b64_alpha[(v >> 6) & 63];
		*d++ = tn_b64_alpha[v & 63];
	}
	if (n) {
		v = (uint32_t)s[0] << 16;
		if (n == 2)
			v |= (uint32_t)s[1] << 8;
		*d++ = tn_b64_alpha[v >> 18];
		*d++ = tn_b64_alpha[(v >> 12) & 63];
		*d++ = n == 2 ? tn_b64_alpha[(v >> 6) & 63] : '=';
		*d++ = '=';
	}
	*d = '\0';
	return (size_t)(d - out);
}

static int tn_b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

ssize_t tn_b64_decode(const char *in, size_t n, void *out)
{
	const unsigned char *s = (const unsigned char *)in;
	unsigned char *d = out;
	size_t i, pad = 0;
	int a, b, c, e;

	if (n % 4)
		return -1;
	if (n && s[n - 1] == '=')
		pad = s[n - 2] == '=' ? 2 : 1;
	for (i = 0; i < n; i += 4) {
		bool last = i + 4 == n;

		a = tn_b64_val(s[i]);
		b = tn_b64_val(s[i + 1]);
		c = last && pad == 2 ? 0 : tn_b64_val(s[i + 2]);
		e = last && pad >= 1 ? 0 : tn_b64_val(s[i + 3]);
		/* '=' anywhere but the tail is outside the alphabet. */
		if (a < 0 || b < 0 || c < 0 || e < 0)
			return -1;
		*d++ = (unsigned char)(a << 2 | b >> 4);
		if (last && pad == 2)
			break;
		*d++ = (unsigned char)((b & 15) << 4 | c >> 2);
		if (last && pad == 1)
			break;
		*d++ = (unsigned char)((c & 3) << 6 | e);
	}
	return (ssize_t)(d - (unsigned char *)out);
}

int tn_b64_list_append(struct tn_buf *b, const char *const *items,
		       size_t n)
{
	struct tn_buf raw = { 0 };
	size_t i, enc;
	int rc = 0;

	for (i = 0; i < n && !rc; i++) {
		if (i)
			rc = tn_buf_append(&raw, "", 1);
		if (!rc)
			rc = tn_buf_append(&raw, items[i], strlen(items[i]));
	}
	if (rc)
		goto out;
	enc = tn_b64_encoded_len(raw.len);
	rc = tn_buf_reserve(b, enc + 1);
	if (rc)
		goto out;
	tn_b64_encode(raw.data, raw.len, b->data + b->len);
	b->len += enc;
out:
	tn_buf_free(&raw);
	return rc;
}

int tn_b64_list_decode(const char *in, size_t n, char ***items,
		       size_t *count)
{
	size_t max = tn_b64_decoded_max(n), k = 1, i, at;
	char *raw, **v, *data;
	ssize_t got;

	*items = NULL;
	*count = 0;
	raw = malloc(max + 1);
	if (!raw)
		return -ENOMEM;
	got = tn_b64_decode(in, n, raw);
	if (got < 0) {
		free(raw);
		return -EINVAL;
	}
	for (i = 0; i < (size_t)got; i++)
		k += raw[i] == '\0';
	if (got == 0)
		k = 0;
	/* One block: the pointer array (NULL-ended, argv-ready), then the
	 * strings, so one free() releases everything. */
	v = malloc((k + 1) * sizeof(*v) + (size_t)got + 1);
	if (!v) {
		free(raw);
		return -ENOMEM;
	}
	data = (char *)(v + k + 1);
	memcpy(data, raw, (size_t)got);
	data[got] = '\0';
	free(raw);
	for (i = 0, at = 0; i < k; i++) {
		v[i] = data + at;
		at += strlen(data + at) + 1;
	}
	v[k] = NULL;
	*items = v;
	*count = k;
	return 0;
}
