/*
 * proto.h - TITAN_PROTO framing (TITAN_PROTO.md section 2, titan-proto(7)):
 * an 8-byte header (version 0x01, opcode, flags, spare, u32 big-endian
 * body length) and the body.  One resumable parser and one writer, shared
 * by the scheduler, titan-worker and the titan CLI.
 */
#ifndef TN_PROTO_H
#define TN_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc/ipc.h"

#define TN_PROTO_VERSION 0x01
#define TN_PROTO_HEADER_BYTES 8
#define TN_PROTO_MAX_BODY_V1 (10u * 1024 * 1024) /* v1's limit, inclusive */

/* Titan v1 opcodes (TITAN_PROTO.md section 5). */
enum tn_op {
	TN_OP_HEARTBEAT = 0x01,
	TN_OP_REGISTER = 0x02,
	TN_OP_SUBMIT_JOB = 0x03,
	TN_OP_SUBMIT_DAG = 0x04,
	TN_OP_DEPLOY = 0x05,
	TN_OP_RUN = 0x06,
	TN_OP_STOP = 0x07,
	TN_OP_STATS = 0x08,
	TN_OP_STATS_JSON = 0x09,
	TN_OP_UNREGISTER_SERVICE = 0x0A,
	TN_OP_CLEAN_STATS = 0x0B,
	TN_OP_STAGE = 0x0C,
	TN_OP_START_SERVICE = 0x0D,
	TN_OP_KILL_WORKER = 0x11,
	TN_OP_JOB_COMPLETE = 0x12,
	TN_OP_LOG_STREAM = 0x15,
	TN_OP_GET_LOGS = 0x16,
	TN_OP_LOG_BATCH = 0x17,
	TN_OP_RUN_ARCHIVE = 0x18,
	TN_OP_START_SERVICE_ARCHIVE = 0x19,
	TN_OP_ACK = 0x50,
	TN_OP_ERROR = 0x51,
	TN_OP_DATA = 0x52,
	TN_OP_UPLOAD_ASSET = 0x53,
	TN_OP_FETCH_ASSET = 0x54,
	TN_OP_GET_JOB_STATUS = 0x55,
	TN_OP_CANCEL_JOB = 0x56,
	TN_OP_DEPLOY_SCRIPT = 0x57,
	TN_OP_KV_SET = 0x60,
	TN_OP_KV_GET = 0x61,
	TN_OP_KV_SADD = 0x62,
	TN_OP_KV_SMEMBERS = 0x63,
	/*
	 * Titan v2 extensions (0x70-0x7F), documented in titan-proto(7).
	 * Bodies are `|`-separated text like v1's; fields that may hold any
	 * byte (argv, env, cwd) are standard Base64 of NUL-separated items.
	 */
	TN_OP_AUTH = 0x70,          /* C,W->M: token -> ACK "OK" */
	TN_OP_WORKER_HELLO = 0x71,  /* W->M, persistent link (see man page) */
	TN_OP_WORKER_BEAT = 0x72,   /* W->M: id|running -> no reply */
	TN_OP_DISPATCH = 0x73,      /* M->W on the persistent link */
	TN_OP_SUBMIT_EXEC = 0x74,   /* C->M: one command job -> ACK job id */
	TN_OP_JOB_INFO = 0x75,      /* C->M: job id -> ACK JSON */
	TN_OP_DAG_INFO = 0x76,      /* C->M: dag id or "" -> ACK JSON */
	TN_OP_WORKERS_JSON = 0x77,  /* C->M: "" -> ACK JSON array */
	TN_OP_SUBMIT_DAG2 = 0x78,   /* C->M: 0x04's body -> ACK dag id */
	TN_OP_LOG_LINES = 0x79,     /* W->M: id|stream|lines, no reply */
};

/* One frame's header, decoded. */
struct tn_frame {
	uint8_t version;
	uint8_t opcode;
	uint8_t flags;
	uint8_t spare;
	uint32_t len;
	const char *body; /* in the parser's buffer; valid until consumed */
};

enum tn_proto_status {
	TN_PROTO_OK = 1,      /* a whole frame is in `out` */
	TN_PROTO_AGAIN = 0,   /* need more bytes */
	TN_PROTO_BADVER = -1, /* version byte is not 0x01 */
	TN_PROTO_TOOBIG = -2, /* length over the limit (or top bit set) */
};

/*
 * Parse one frame from buf[0..len).  On TN_PROTO_OK, *used is the byte
 * count of the frame (header + body) and out->body points into buf.
 * Never reads past len; bounds the length (max_body) before anything
 * waits for the body, so a peer cannot make us buffer more.  max_body 0
 * means TN_PROTO_MAX_BODY_V1.  A bad version byte is reported as soon as
 * the first byte is in.
 */
int tn_proto_parse(const char *buf, size_t len, uint32_t max_body,
		   struct tn_frame *out, size_t *used);
/* Append a frame to b.  0, -ENOMEM, or -EMSGSIZE (len >= 2^31). */
int tn_proto_write(struct tn_buf *b, uint8_t opcode, const void *body,
		   size_t len);
/* Encode a header into out[8]. */
void tn_proto_header(uint8_t out[TN_PROTO_HEADER_BYTES], uint8_t opcode,
		     uint32_t len);
/*
 * v1's reply opcode rule (TITAN_PROTO.md 2.1): OP_ERROR when the text
 * starts with ERROR, UNKNOWN, SERVER_ERROR, UPLOAD_FAILED or
 * DEPLOY_FAILED; OP_ACK otherwise.
 */
uint8_t tn_proto_reply_op(const char *text, size_t len);

/* Blocking helpers for the CLI and the worker (fd in blocking mode):
 * send one frame; read one frame into *body (malloc'd, NUL-terminated).
 * 0, or -errno (-EPROTO for a bad frame, -ECONNRESET on EOF). */
int tn_proto_send(int fd, uint8_t opcode, const void *body, size_t len);
int tn_proto_recv(int fd, uint32_t max_body, struct tn_frame *hdr,
		  char **body);

/* Standard Base64 (RFC 4648, '=' padding, no line breaks). */
size_t tn_b64_encoded_len(size_t n); /* without the NUL */
size_t tn_b64_decoded_max(size_t n);  /* bound for tn_b64_decode's out */
size_t tn_b64_encode(const void *in, size_t n, char *out); /* NUL-ends */
/* Decode; -1 on a character outside the alphabet or bad padding
 * (whitespace included, as v1's decoder).  Returns the byte count. */
ssize_t tn_b64_decode(const char *in, size_t n, void *out);

/*
 * The v2 "b64(list)" fields: Base64 of the items joined with NUL bytes
 * (an empty list is an empty field).  Append appends the text to b (0 or
 * -ENOMEM).  Decode gives a NULL-ended array (argv-ready) in one
 * allocation, released with free(*items): 0, -EINVAL, -ENOMEM.
 */
int tn_b64_list_append(struct tn_buf *b, const char *const *items,
		       size_t n);
int tn_b64_list_decode(const char *in, size_t n, char ***items,
		       size_t *count);

#endif
