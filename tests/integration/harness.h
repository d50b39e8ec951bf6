/*
 * harness.h - start a real titan-supervisor on a free port in a temp dir,
 * talk to it with hiredis, stop it.  Shared by every integration test.
 */
#ifndef TN_HARNESS_H
#define TN_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

#include <hiredis/hiredis.h>

struct tn_server {
	pid_t pid;
	int port;
	int titan_port; /* the scheduler's TITAN_PROTO port */
	int http_port; /* the dashboard's */
	char dir[256];
	char conf[300];
	char log[300];
};

/* Extra configuration for tests of the store alone: no scheduler, whose
 * subscriber connection and notify-keyspace-events flags would show. */
#define TN_STORE_ONLY "titan-port 0\nhttp-port 0\n"

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
/* Fork and exec a supervisor on s's config (stdin and stdout to
 * /dev/null), setting s->pid; -1 if fork failed.  Does not wait. */
pid_t tn_server_spawn(struct tn_server *s);
/* Wait until the server answers PING again (after a restart). */
int tn_server_wait_ready(struct tn_server *s, int timeout_ms);

redisContext *tn_connect(struct tn_server *s);
/* Send raw bytes on a fresh TCP connection and read the answer until the
 * peer closes or `timeout_ms` passes; returns bytes read. */
ssize_t tn_raw_exchange(struct tn_server *s, const void *req, size_t len,
			char *out, size_t outlen, int timeout_ms);

/*
 * RESP3 from C: Debian's hiredis (0.14) cannot parse RESP3, so tests of
 * RESP3 encodings use a raw connection.  tn_raw_connect() opens one;
 * tn_raw_cmd() sends one command (arguments as separate C strings,
 * NULL-terminated, RESP-encoded) and reads exactly one complete reply of
 * any RESP2/RESP3 type into out (NUL-terminated); returns its length or
 * -1.  Compare the bytes exactly, e.g. "%1\r\n+a\r\n:1\r\n".
 */
int tn_raw_connect(struct tn_server *s);
ssize_t tn_raw_cmd(int fd, char *out, size_t outlen, ...);
/* Read one complete reply (e.g. a push message) without sending. */
ssize_t tn_raw_read_reply(int fd, char *out, size_t outlen, int timeout_ms);

/* Run a command; criterion-asserts that a reply came back. */
redisReply *tn_cmd(redisContext *c, const char *fmt, ...);
/* Assertion helpers on a reply (freed by them). */
void tn_expect_status(redisReply *r, const char *s);
void tn_expect_error(redisReply *r, const char *s);
void tn_expect_int(redisReply *r, long long v);
void tn_expect_str(redisReply *r, const char *s);
void tn_expect_nil(redisReply *r);

/* --- process-level helpers (test_process.c, test_limits.c) --- */

/* Monotonic milliseconds, for bounded polls. */
long long tn_now_ms(void);
/* The process title: the first string of /proc/<pid>/cmdline.  0, or -1
 * if the process is gone. */
int tn_proc_title(pid_t pid, char *out, size_t outlen);
/* What `ps` shows: the whole of /proc/<pid>/cmdline with NULs as spaces,
 * trailing blanks dropped.  0, or -1 if the process is gone. */
int tn_proc_cmdline(pid_t pid, char *out, size_t outlen);
/* Live (not zombie) children of `parent`: up to `max` pids, returns how
 * many there are. */
int tn_proc_children(pid_t parent, pid_t *pids, int max);
/* Poll until the supervisor has a child titled `title` whose pid is not
 * `old` (pass 0 for any); its pid, or -1 after timeout_ms. */
pid_t tn_wait_child(struct tn_server *s, const char *title, pid_t old,
		    int timeout_ms);
/* Poll until pid is gone or a zombie; true if it went in time.  Reaps
 * it when it is our own child. */
bool tn_wait_exit(pid_t pid, int timeout_ms);
/* How many sockets the process holds (its /proc/<pid>/fd). */
int tn_proc_sockets(pid_t pid);
/* The shard serving connection `c`, found by the inode of the server's
 * end of the socket in the shards' /proc/<pid>/fd; -1 if none has it
 * within timeout_ms. */
int tn_client_shard(struct tn_server *s, redisContext *c, int timeout_ms);
/* tn_raw_exchange that also says whether the peer closed: reads until
 * `want` bytes came (0: until close), the peer closes, or timeout_ms.
 * out is NUL-terminated (outlen must leave room); returns bytes read. */
ssize_t tn_raw_talk(struct tn_server *s, const void *req, size_t len,
		    char *out, size_t outlen, size_t want, int timeout_ms,
		    bool *closed);
/* Does the file contain `needle`?  false if it cannot be read. */
bool tn_file_contains(const char *path, const char *needle);

#endif
