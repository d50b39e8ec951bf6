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
#include <pthread.h>
#include <stdatomic.h>
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

/* The same over bytes in memory (the loader maps the file). */
int tn_aof_scan_mem(const char *p, size_t size, tn_aof_cmd_fn *fn, void *arg,
		    struct tn_aof_scan_err *err);

/* Append an entry; 0 or -errno. */
int tn_manifest_add(struct tn_manifest *m, const char *name, long long seq,
		    char type);
/* Replace dir's manifest atomically: temp file, fsync, rename, fsync of
 * the directory.  0 or -errno. */
int tn_manifest_write(const char *dir, const struct tn_manifest *m);

/* dir/appenddirname; a file in it; -ENAMETOOLONG when it does not fit. */
int tn_aof_dir_path(char *out, size_t len);
int tn_aof_file_path(char *out, size_t len, const char *name);
/* Redis 7's names: <appendfilename>.<seq>.base.rdb|aof, .<seq>.incr.aof,
 * <appendfilename>.manifest. */
void tn_aof_name(char *out, size_t len, long long seq, char type, bool rdb);
void tn_aof_manifest_name(char *out, size_t len);
/* Helpers: write everything (EINTR retried), fsync a directory. */
int tn_write_all(int fd, const void *p, size_t n);
int tn_fsync_dir(const char *dir);

/* What every incremental file starts with, as Redis writes it. */
#define TN_AOF_SELECT0 "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"

/* ------------------------------------------------------------------ */
/* The AOF writer (journal/journal.c, journal/rewrite.c)               */
/* ------------------------------------------------------------------ */

/*
 * Create a new AOF directory with an empty base and incremental file 1
 * (first start with appendonly yes).  0 or -errno.
 */
int tn_aof_create(const char *dir);

/*
 * The journal's rewrite, in steps: begin (drain thread, at a record
 * boundary: the next incremental file is opened and listed in the
 * manifest; returns its descriptor, or -errno), the snapshot (in a
 * thread), finish (drain thread, once the thread is done: rename the new
 * base into place, new manifest, old files deleted).
 */
#define TN_AOF_DIR_MAX 1400 /* dir + "/" + appenddirname */

struct tn_rewrite {
	char dir[TN_AOF_DIR_MAX];
	struct tn_manifest m; /* the manifest as of begin */
	long long base_seq; /* of the new base */
	long long incr_seq; /* of the incremental file begun; 0: AOF off */
	char tmp[TN_AOF_DIR_MAX + 64]; /* the new base while it is written */
	bool rdb;
	bool turning_on; /* CONFIG SET appendonly yes: no AOF yet */
	int rc; /* the snapshot's result: 0 or -errno */
	uint64_t base_bytes;
	int64_t start_ms;
	pthread_t thread;
	_Atomic int done;
};

int tn_rewrite_begin(struct tn_rewrite *rw, bool aof_on, int *incr_fd);
int tn_rewrite_spawn(struct tn_rewrite *rw);
/* 0, or -errno (the old files stay in use; logged). */
int tn_rewrite_finish(struct tn_rewrite *rw);
/* Read the manifest of the AOF directory; 0 or -1 (logged). */
int tn_aof_manifest_load(const char *dir, struct tn_manifest *m);
/* Open (creating with the SELECT header when new) an incremental file
 * for writing; its descriptor or -errno, its size in *size. */
int tn_aof_open_incr(const char *dir, const char *name, off_t *size);

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

/* dir/dbfilename into buf: 0, or -ENAMETOOLONG. */
int tn_rdb_path(char *buf, size_t size);

/* SAVE / BGSAVE: write dir/dbfilename atomically (temp file, fsync,
 * rename).  0 or -errno; -ECANCELED (nothing renamed) when a FLUSHALL
 * moved tn_seg->rdb_epoch away from `epoch` meanwhile. */
int tn_rdb_save_file(const char *path, uint64_t epoch);

/*
 * Save dir/dbfilename now (SAVE in a shard, BGSAVE in the journal's
 * thread, the supervisor's save at shutdown) and record it in the
 * segment as Redis does: rdb_last_save_ms, rdb_changes_at_save (the
 * `dirty` count when the walk began), rdb_saves and rdb_last_bgsave_ok.
 * 0 or -errno (logged; -ECANCELED: a FLUSHALL came meanwhile).  The
 * caller owns the rdb_bgsave_in_progress flag and a failure's status.
 */
int tn_rdb_save_db(void);

/* Verify an RDB file without loading it (titan-check): 0, or -1 with
 * the reason and offset in err; *good_end is the offset up to which the
 * file is sound. */
int tn_rdb_check_file(const char *path, off_t *good_end, char *err,
		      size_t errlen);

/* ------------------------------------------------------------------ */
/* RDB building blocks (journal/rdb.c, lzf.c, crc64.c)                  */
/* ------------------------------------------------------------------ */

/* Redis' CRC-64 (Jones, reflected); chain calls by passing the last
 * value back.  crc64 of "123456789" is 0xe9c6d914c4b8d9ca. */
uint64_t tn_crc64(uint64_t crc, const void *p, size_t len);
/* LZF: bytes written to out, or 0 when it does not fit in outlen. */
size_t tn_lzf_compress(const void *in, size_t inlen, void *out,
		       size_t outlen);
/* Bytes produced, or -1 on corrupt input or an output past outlen. */
ssize_t tn_lzf_decompress(const void *in, size_t inlen, void *out,
			  size_t outlen);

/* A growable buffer of this process (a stripe's serialised keys). */
struct tn_sbuf {
	char *p;
	size_t len, cap;
	bool oom; /* an append failed: the contents are incomplete */
};
void tn_sbuf_put(struct tn_sbuf *b, const void *p, size_t len);
void tn_sbuf_free(struct tn_sbuf *b);

struct kentry_shm;
/* The RDB preamble: magic, aux fields (aof-base when asked), SELECTDB 0
 * and RESIZEDB with these counts. */
void tn_rdb_put_header(struct tn_sbuf *b, bool aof_base, uint64_t keys,
		       uint64_t expires);
/* One key as RDB: [EXPIRETIME_MS] type key value.  The caller holds its
 * stripe's lock.  `compress`: LZF for strings over 20 bytes. */
void tn_rdb_put_key(struct tn_sbuf *b, const struct kentry_shm *e,
		    bool compress);
/* The same as RESP commands: SET, SADD (64 members a command), PEXPIREAT. */
void tn_resp_put_key(struct tn_sbuf *b, const struct kentry_shm *e);

#endif
