/*
 * harness.h - start a real titan-supervisor on a free port in a temp dir,
 * talk to it with hiredis, stop it.  Shared by every integration test.
 */
#ifndef TN_HARNESS_H
#define TN_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis.h>

struct tn_server {
	pid_t pid;
	int port;
	char dir[256];
	char conf[300];
	char log[300];
};

/* Start with `extra` appended to the generated titan.conf (may be NULL).
 * Returns 0 when the server answers PING, -1 otherwise. */
int tn_server_start(struct tn_server *s, const char *extra);
/* SIGTERM, wait (bounded), remove the temp dir.  Returns the exit status
 * (as from waitpid's WEXITSTATUS) or -1 if it had to be killed. */
int tn_server_stop(struct tn_server *s);
/* Path of the supervisor binary under test. */
const char *tn_supervisor_path(void);
/* A free TCP port on 127.0.0.1. */
int tn_free_port(void);
/* Pids of the children with this title ("titan: shard 0"), -1 if none. */
pid_t tn_child_pid(struct tn_server *s, const char *title);
/* Wait until the server answers PING again (after a restart). */
int tn_server_wait_ready(struct tn_server *s, int timeout_ms);

redisContext *tn_connect(struct tn_server *s);
/* Send raw bytes on a fresh TCP connection and read the answer until the
 * peer closes or `timeout_ms` passes; returns bytes read. */
ssize_t tn_raw_exchange(struct tn_server *s, const void *req, size_t len,
			char *out, size_t outlen, int timeout_ms);

/* Run a command; criterion-asserts that a reply came back. */
redisReply *tn_cmd(redisContext *c, const char *fmt, ...);
/* Assertion helpers on a reply (freed by them). */
void tn_expect_status(redisReply *r, const char *s);
void tn_expect_error(redisReply *r, const char *s);
void tn_expect_int(redisReply *r, long long v);
void tn_expect_str(redisReply *r, const char *s);
void tn_expect_nil(redisReply *r);

#endif
