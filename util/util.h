/*
 * util.h - small helpers every Titan module uses: logging, clocks,
 * compiler hints.  Nothing here knows about the segment or the protocol.
 */
#ifndef TN_UTIL_H
#define TN_UTIL_H

#include <stdarg.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define TN_VERSION "0.1.0"
/* What INFO reports as redis_version: clients gate features on it. */
#define TN_REDIS_COMPAT_VERSION "7.0.15"

#define TN_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define tn_likely(x) __builtin_expect(!!(x), 1)
#define tn_unlikely(x) __builtin_expect(!!(x), 0)
#define TN_MIN(a, b) ((a) < (b) ? (a) : (b))
#define TN_MAX(a, b) ((a) > (b) ? (a) : (b))

/* Log levels, in redis.conf's order. */
enum tn_loglevel {
	TN_LOG_DEBUG,
	TN_LOG_VERBOSE,
	TN_LOG_NOTICE,
	TN_LOG_WARNING,
};

/*
 * The process-wide log target.  Each line is one write(2) so lines from
 * different processes never interleave.  `role` is the one-letter role
 * Redis prints after the pid (X supervisor, A acceptor, S shard, ...).
 */
void tn_log_init(const char *path, int level, char role);
int tn_log_reopen(void);
void tn_log_set_level(int level);
void tn_log_set_role(char role);
void tn_log(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define tn_debug(...) tn_log(TN_LOG_DEBUG, __VA_ARGS__)
#define tn_verbose(...) tn_log(TN_LOG_VERBOSE, __VA_ARGS__)
#define tn_notice(...) tn_log(TN_LOG_NOTICE, __VA_ARGS__)
#define tn_warn(...) tn_log(TN_LOG_WARNING, __VA_ARGS__)

static inline int64_t tn_mstime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t tn_ustime(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline int64_t tn_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Fast per-process random numbers for sampling (not for secrets). */
uint64_t tn_rand64(void);

/* Strict integer parsing as Redis' string2ll: no spaces, no '+', no
 * leading zeros, fits in int64.  Returns 1 on success. */
int tn_str2ll(const char *s, size_t len, long long *out);
/* Strict long double parse as Redis' string2ld (no spaces, not NaN). */
int tn_str2ld(const char *s, size_t len, long double *out);
/* Integer to decimal; returns the length written (buf >= 21 bytes). */
int tn_ll2str(char *buf, long long v);
/* Redis' MAX_LONG_DOUBLE_CHARS: room for "%.17Lf" of any long double. */
#define TN_LD_MAX_CHARS (5 * 1024)
/*
 * A finite long double as Redis' ld2string(LD_STR_HUMAN) prints it: fixed
 * point with 17 digits, trailing zeros and a bare '.' dropped, "-0" as
 * "0".  Returns the length, or 0 if it does not fit in `cap`.
 */
size_t tn_ld2str(char *buf, size_t cap, long double d);
/* Parse "100", "1k", "10mb", "1gb" as redis.conf does (k=1000, kb=1024). */
int tn_parse_memory(const char *s, unsigned long long *out);

/* Set by SIGTERM/SIGINT and by SIGHUP once tn_signals_stop_hup() ran. */
extern volatile sig_atomic_t tn_stop_flag, tn_reopen_flag;
/* Install those handlers (without SA_RESTART, so a blocking wait ends
 * with EINTR at once) and unblock every signal. */
void tn_signals_stop_hup(void);

#endif
