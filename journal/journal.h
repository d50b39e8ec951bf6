/*
 * journal.h - persistence: the AOF directory (Redis 7's multi-part
 * layout: manifest, one base file, incremental files), RDB files, and
 * the snapshot walk both are written by.  Used by the journal process,
 * the supervisor (loading), SAVE/BGSAVE/BGREWRITEAOF and titan-check.
 */
#ifndef TN_JOURNAL_H
#define TN_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ------------------------------------------------------------------ */
/* AOF files (journal/aof.c)                                            */
/* ------------------------------------------------------------------ */

/* One command read from an AOF file: argv[i] has len[i] bytes. */
typedef int tn_aof_cmd_fn(int argc, char **argv, size_t *len, off_t offset,
			  void *arg);

/* Where and why a scan stopped short. */
struct tn_aof_scan_err {
	off_t offset; /* of the first byte not accepted */
	bool truncated; /* the file ends inside a command (a torn tail) */
	char msg[256];
};

/*
 * Read every command of a RESP AOF file (multibulk only, as Redis writes
 * it), calling fn for each; stops if fn returns non-zero.  Bounds every
 * length before allocating.  Returns 0, or -1 with err filled.
 */
int tn_aof_scan_file(const char *path, tn_aof_cmd_fn *fn, void *arg,
		     struct tn_aof_scan_err *err);

/* A manifest entry: Redis 7.0's "file <name> seq <n> type <b|h|i>". */
struct tn_aof_file {
	char name[256];
	long long seq;
	char type; /* 'b' base, 'h' history, 'i' incremental */
};

struct tn_manifest {
	struct tn_aof_file *files;
	size_t nfiles;
};

/* Parse `path` (a manifest).  0, or -1 with "line N: ..." in err. */
int tn_manifest_read(const char *path, struct tn_manifest *m, char *err,
		     size_t errlen);
void tn_manifest_free(struct tn_manifest *m);

/* ------------------------------------------------------------------ */
/* RDB (journal/rdb.c) and snapshots (journal/snapshot.c)              */
/* ------------------------------------------------------------------ */

#define TN_RDB_VERSION 10 /* what Redis 7.0 writes and reads */

/*
 * Load an RDB file (stock Redis 7.0's or ours) into the segment: strings,
 * sets, expiry times; keys already expired are skipped.  0, or -1 with
 * the reason and byte offset in err (a type Titan does not hold, a bad
 * checksum, a torn file).  `loaded`/`expired` count keys (may be NULL).
 */
int tn_rdb_load_file(const char *path, uint64_t *loaded, uint64_t *expired,
		     char *err, size_t errlen);
/* Same over an open descriptor positioned at the RDB's first byte
 * (an AOF base file, a replication stream), reading at most `limit`
 * bytes when limit >= 0. */
int tn_rdb_load_fd(int fd, off_t limit, uint64_t *loaded, uint64_t *expired,
		   char *err, size_t errlen);

/*
 * Write a snapshot of the whole keyspace to fd, one stripe at a time
 * under its lock (no global pause): as RDB (with the "aof-base" aux
 * field when aof_base) or as RESP commands (SET/SADD/PEXPIREAT).
 * 0 or -errno.  Bytes written go to *written when not NULL.
 */
int tn_snapshot_rdb(int fd, bool aof_base, uint64_t *written);
int tn_snapshot_resp(int fd, uint64_t *written);

/* SAVE / BGSAVE: write dir/dbfilename atomically (temp file, fsync,
 * rename).  0 or -errno. */
int tn_rdb_save_file(const char *path);

/* Verify an RDB file without loading it (titan-check): 0, or -1 with
 * the reason and offset in err; *good_end is the offset up to which the
 * file is sound. */
int tn_rdb_check_file(const char *path, off_t *good_end, char *err,
		      size_t errlen);

#endif
