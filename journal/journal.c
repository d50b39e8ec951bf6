/*
 * journal.c - the journal process: drains the effect log into the AOF's
 * incremental file in large batches and follows appendfsync: `always`
 * by group commit (one fdatasync for every client that has a write in
 * flight), `everysec` with a sync thread that overlaps its fdatasync
 * (through io_uring when the kernel has it) with the writing of the
 * next batches; publishes the durable position and wakes the shards
 * waiting on it; runs rewrites and BGSAVE in a thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "journal/repl.h"
#include "shm/shm.h"
#include "store/store.h"
#include "util/util.h"

#define J_BATCH_IOV 1024 /* UIO_MAXIOV */
#define J_BATCH_BYTES (8u << 20)
#define J_TICK_MS 100 /* requests, config and retries are seen this often */
#define J_RETRY_MS 1000 /* after a write error */
#define J_FSYNC_EVERYSEC_MS 1000
#define J_RW_RETRY_MS 5000 /* Redis' wait before another automatic try */
#define J_BGSAVE_RETRY_MS 5000 /* after a failed snapshot, likewise */
/* appendfsync always: how long the journal may wait for the clients the
 * last sync released to come back with their next writes, so that one
 * fdatasync covers them all (at most half a sync) */
#define J_GATHER_MAX_US 1000
/* appendfsync everysec/no: after a batch, gather the next this long */
#define J_NAP_US 1000
/* blocks allocated ahead of the end of the file (FALLOC_FL_KEEP_SIZE):
 * an fdatasync then has no block allocation to commit */
#define J_PREALLOC_BYTES (4u << 20)


static struct {
	struct elog_shm *l;
	char dir[TN_AOF_DIR_MAX];
	int fd; /* the incremental file; -1 when the AOF is off */
	off_t size; /* its bytes, all whole commands */
	long long seq;
	bool unsynced;
	int64_t last_fsync_ms;
	int64_t retry_at_ms;
	/* log position written up to: by a previous journal (where to go
	 * on), or not yet synced under appendfsync always */
	uint64_t resume;
	uint64_t written; /* log position the file holds up to */
	uint64_t reserved_at_sync; /* the log's end when sync_here()'s ended */
	/* background work: one at a time, as Redis' one child */
	struct tn_rewrite rw;
	bool rw_running;
	bool turning_on; /* CONFIG SET appendonly yes: the rewrite opens the AOF */
	pthread_t bgsave;
	bool bgsave_running;
	_Atomic int bgsave_done;
	int bgsave_rc;
	int64_t last_auto_check_ms;
	int64_t rw_retry_at_ms; /* after a failed rewrite */
	off_t alloc_end; /* blocks allocated up to here; -1: do not */
} J = {.fd = -1};

/*
 * The sync thread (appendfsync everysec).  The drain thread asks for a
 * sync up to what it wrote and goes on writing while it runs.  Under
 * appendfsync always the drain thread syncs itself (group_commit()), and
 * the records stay in the log (not released) until synced: a failed
 * sync rewinds the file and the cursor to the last synced batch.
 */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	pthread_t thread;
	bool running;
	bool busy; /* an fdatasync in flight */
	bool stop;
	int fd;
	uint64_t want_pos; /* log position written, to be synced */
	off_t want_size; /* the file's size then */
	uint64_t synced_pos;
	off_t synced_size;
	_Atomic int err; /* a failed sync, for the drain thread to handle */
	/* the thread's own ring: one IORING_OP_FSYNC in flight at a time */
	struct io_uring ring;
	bool uring;
} S = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .idle = PTHREAD_COND_INITIALIZER,
       .fd = -1};

/* Threads take no signal: the drain thread handles them. */
static int spawn_thread(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -r;
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

/*
 * Write the batch at J.size.  0, or -errno (a short write is retried for
 * the rest; the caller cuts a partial batch away).  A buffered write is
 * a plain syscall: io_uring would hand it to a kernel worker thread.
 */
static int write_batch(struct iovec *iov, int n, size_t total)
{
	off_t off = J.size;

	while (total) {
		ssize_t w = pwritev(J.fd, iov, n, off);

		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return -errno;
		if (w == 0)
			return -EIO;
		if ((size_t)w == total)
			return 0;
		/* short: the rest after the bytes that made it */
		total -= (size_t)w;
		off += w;
		while (w > 0) {
			if ((size_t)w >= iov->iov_len) {
				w -= (ssize_t)iov->iov_len;
				iov++;
				n--;
			} else {
				iov->iov_base = (char *)iov->iov_base + w;
				iov->iov_len -= (size_t)w;
				w = 0;
			}
		}
	}
	return 0;
}

/* Allocate the file's blocks ahead of the writes, keeping its size: the
 * visible file stays a valid AOF (no zeroed tail) at every instant. */
static void prealloc(size_t total)
{
	off_t from;

	if (J.alloc_end < 0 || J.size + (off_t)total + (1 << 20) <= J.alloc_end)
		return;
	from = J.alloc_end > J.size ? J.alloc_end : J.size;
	if (fallocate(J.fd, FALLOC_FL_KEEP_SIZE, from, J_PREALLOC_BYTES) < 0) {
		/* not supported, or no room: plain appends (the write itself
		 * reports a full disk) */
		J.alloc_end = -1;
		return;
	}
	J.alloc_end = from + J_PREALLOC_BYTES;
}

/* Give back the blocks allocated past the end of a file we leave (ext4
 * frees them on a truncation to the same size; a hole punched past the
 * end is ignored). */
static void prealloc_release(void)
{
	if (J.fd >= 0 && J.alloc_end > J.size && ftruncate(J.fd, J.size) < 0)
		tn_verbose("could not free the blocks allocated past the end of "
			   "the AOF file: %s",
			   strerror(errno));
	J.alloc_end = 0;
}

/* Everything up to `pos` is as durable as the policy asks (S.mu held:
 * both threads publish). */
static void publish_locked(uint64_t pos)
{
	if (pos > atomic_load(&J.l->durable))
		atomic_store(&J.l->durable, pos);
	tn_elog_wake_waiters();
	tn_elog_release(J.l, pos);
}

static void publish(uint64_t pos)
{
	pthread_mutex_lock(&S.mu);
	publish_locked(pos);
	pthread_mutex_unlock(&S.mu);
}

/*
 * fdatasync(fd) through the sync thread's ring, or as a plain call when
 * io_uring is not there (an old kernel, or a seccomp profile that denies
 * it).  A sync always runs in a kernel worker either way; the ring keeps
 * the journal's I/O on one interface.  0 or an errno.
 */
static int datasync(int fd)
{
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int r;

	if (!S.uring)
		return fdatasync(fd) < 0 ? errno : 0;
	sqe = io_uring_get_sqe(&S.ring);
	if (!sqe)
		return fdatasync(fd) < 0 ? errno : 0;
	io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
	do
		r = io_uring_submit_and_wait(&S.ring, 1);
	while (r == -EINTR);
	if (r < 0)
		return -r;
	do
		r = io_uring_wait_cqe(&S.ring, &cqe);
	while (r == -EINTR);
	if (r < 0)
		return -r;
	r = cqe->res;
	io_uring_cqe_seen(&S.ring, cqe);
	return r < 0 ? -r : 0;
}

static void *sync_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&S.mu);
	for (;;) {
		uint64_t pos;
		off_t size;
		int fd, err = 0;

		while (!S.stop && (S.err || S.fd < 0 ||
				   S.want_pos <= S.synced_pos))
			pthread_cond_wait(&S.work, &S.mu);
		if (S.stop)
			break;
		pos = S.want_pos;
		size = S.want_size;
		fd = S.fd;
		S.busy = true;
		pthread_mutex_unlock(&S.mu);
		err = datasync(fd);
		pthread_mutex_lock(&S.mu);
		S.busy = false;
		if (err) {
			S.err = err;
		} else if (pos > S.synced_pos) {
			/* (sync_here() may have gone further meanwhile) */
			S.synced_pos = pos;
			S.synced_size = size;
			publish_locked(pos);
		}
		pthread_cond_broadcast(&S.idle);
		if (err)
			tn_elog_wake(J.l); /* the drain thread handles it */
	}
	pthread_mutex_unlock(&S.mu);
	return NULL;
}

/* Ask for a sync of everything written so far (does not wait). */
static void sync_request(void)
{
	pthread_mutex_lock(&S.mu);
	S.fd = J.fd;
	if (J.written > S.want_pos)
		S.want_pos = J.written;
	S.want_size = J.size;
	pthread_cond_signal(&S.work);
	pthread_mutex_unlock(&S.mu);
}

/*
 * Wait until every sync asked for is done, or failed: before the file
 * changes under the thread (switch, truncation, close).  0 or the errno
 * of a failed sync (left for sync_failed()).
 */
static int sync_quiesce(void)
{
	int err;

	pthread_mutex_lock(&S.mu);
	while (S.running && (S.busy || (!S.err && S.fd >= 0 &&
					S.want_pos > S.synced_pos)))
		pthread_cond_wait(&S.idle, &S.mu);
	err = S.err;
	pthread_mutex_unlock(&S.mu);
	return err;
}

/* A new file (or none): the sync thread starts from its state. */
static void sync_set_file(void)
{
	uint64_t at = atomic_load(&J.l->consumed);

	J.written = J.resume > at ? J.resume : at;
	pthread_mutex_lock(&S.mu);
	S.fd = J.fd;
	S.want_pos = S.synced_pos = J.written;
	S.want_size = S.synced_size = J.size;
	S.err = 0;
	pthread_mutex_unlock(&S.mu);
}

static void sync_start(void)
{
	pthread_condattr_t ca;
	int r;

	/* timed waits on the clock tn_monotonic_us() reads */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&S.work, &ca);
	pthread_condattr_destroy(&ca);
	r = io_uring_queue_init(4, &S.ring, 0);
	S.uring = r == 0;
	if (S.uring)
		tn_notice("journal: syncing the AOF through io_uring");
	else
		tn_notice("journal: io_uring is not available (%s); syncing "
			  "with fdatasync(2)",
			  strerror(-r));
	r = spawn_thread(&S.thread, sync_thread, NULL);

	S.running = r == 0;
	if (r)
		tn_warn("journal: cannot start the sync thread: %s; syncing "
			"in the drain thread",
			strerror(-r));
}

static void write_failed(int err, size_t total)
{
	if (atomic_load(&J.l->write_errno) != err)
		tn_warn("Error writing to the AOF file %s.%lld.incr.aof: %s; "
			"writes are refused (MISCONF) until it works again, "
			"retrying every second",
			tn_conf->appendfilename, J.seq, strerror(err));
	/* whatever made it of the batch goes: the file keeps whole commands
	 * (and ext4 frees the blocks allocated ahead with it) */
	J.alloc_end = 0;
	if (ftruncate(J.fd, J.size) < 0)
		tn_warn("Could not remove the partial batch (%zu bytes) from the "
			"AOF file after the error (ftruncate: %s); a restart will "
			"cut it as a torn tail",
			total, strerror(errno));
	atomic_store(&J.l->write_errno, err);
	J.retry_at_ms = tn_mstime() + J_RETRY_MS;
}

/*
 * A sync failed.  Under appendfsync always nothing past the last good
 * sync was released: cut the file back to it and write those records
 * again when the retry comes.  Otherwise (everysec) the records are
 * released already: the file keeps them, the next sync retries.
 */
static void sync_failed(void)
{
	bool rewind;
	int err;

	pthread_mutex_lock(&S.mu);
	err = S.err;
	rewind = err && S.synced_pos >= atomic_load(&J.l->consumed);
	if (rewind) {
		J.size = S.synced_size;
		J.resume = J.written = S.synced_pos;
		S.want_pos = S.synced_pos;
		S.want_size = S.synced_size;
	}
	S.err = 0;
	pthread_mutex_unlock(&S.mu);
	if (!err)
		return;
	if (rewind) {
		atomic_store(&tn_seg->aof_good_size, (uint64_t)J.size);
		atomic_store(&tn_seg->aof_good_pos, J.resume);
	}
	write_failed(err, 0);
}

/*
 * fdatasync now, in this thread: 0, or -errno with the failure handled
 * as the sync thread's would be.  A plain call: through io_uring the
 * sync would hop to a kernel worker and back (measured under
 * appendfsync always, -P 1 -c 50: 26-29k SET/s against 29.5-30k).
 */
static int sync_here(void)
{
	int err = fdatasync(J.fd) < 0 ? errno : 0;

	/* before the publish: what the released clients send next is not
	 * "what came during the sync" (group_commit()'s target) */
	J.reserved_at_sync = atomic_load(&J.l->reserved);
	pthread_mutex_lock(&S.mu);
	if (err) {
		S.err = err;
		pthread_mutex_unlock(&S.mu);
		sync_failed();
		return -err;
	}
	if (J.written > S.synced_pos)
		S.synced_pos = J.written;
	S.want_pos = S.synced_pos;
	S.want_size = S.synced_size = J.size;
	publish_locked(S.synced_pos);
	pthread_mutex_unlock(&S.mu);
	return 0;
}

static void everysec_fsync(int64_t now)
{
	if (!J.unsynced || J.fd < 0 ||
	    now - J.last_fsync_ms < J_FSYNC_EVERYSEC_MS)
		return;
	J.unsynced = false;
	J.last_fsync_ms = now;
	if (S.running) {
		/* Redis' background fsync: the drain goes on meanwhile */
		sync_request();
		return;
	}
	sync_here();
}

/*
 * Drain what is committed into the AOF (or just release it when the AOF
 * is off).  Returns true when it did something.
 */
static bool drain_once(void)
{
	struct iovec iov[J_BATCH_IOV];
	uint64_t consumed = atomic_load(&J.l->consumed);
	uint64_t cur, end;
	size_t total = 0, len;
	const void *p;
	bool always;
	int n = 0, r;

	if (J.fd >= 0 && S.err)
		sync_failed();
	if (J.fd >= 0 && atomic_load(&J.l->write_errno) &&
	    tn_mstime() < J.retry_at_ms)
		return false;
	cur = end = consumed > J.resume ? consumed : J.resume;
	while (n < J_BATCH_IOV && total < J_BATCH_BYTES &&
	       (p = tn_elog_read(J.l, &cur, &len))) {
		iov[n].iov_base = (void *)p;
		iov[n++].iov_len = len;
		total += len;
		end = cur;
	}
	if (!n) {
		/* padding only; not while written records wait for a sync */
		if (cur > consumed && J.resume <= consumed)
			tn_elog_release(J.l, cur);
		return false;
	}
	if (J.fd < 0) {
		tn_repl_feed(iov, n);
		publish(end);
		return true;
	}
	always = tn_conf->appendfsync == TN_FSYNC_ALWAYS;
	prealloc(total);
	r = write_batch(iov, n, total);
	if (r < 0) {
		write_failed(-r, total);
		return false;
	}
	J.size += (off_t)total;
	/* the size first: a journal killed in between rewrites nothing */
	atomic_store(&tn_seg->aof_good_size, (uint64_t)J.size);
	atomic_store(&tn_seg->aof_good_pos, end);
	atomic_fetch_add(&tn_seg->aof_current_size, total);
	J.written = end;
	if (atomic_load(&J.l->write_errno)) {
		tn_warn("AOF write error looks solved, Titan can write again.");
		atomic_store(&J.l->write_errno, 0);
	}
	tn_repl_feed(iov, n);
	if (always) {
		/* durable once synced: group_commit() syncs and publishes */
		J.resume = end;
		J.unsynced = false;
		J.last_fsync_ms = tn_mstime();
		return true;
	}
	J.unsynced = true;
	publish(end);
	return true;
}

/* ------------------------------------------------------------------ */
/* Opening, closing, switching files                                   */
/* ------------------------------------------------------------------ */

/* Remove temp files a killed journal left in the AOF directory. */
static void clean_temp_files(void)
{
	DIR *d = opendir(J.dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[TN_AOF_DIR_MAX + 320];

		if (strncmp(de->d_name, "temp-rewriteaof-", 16) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", J.dir, de->d_name);
		unlink(path);
	}
	closedir(d);
}

/* The AOF is on: open the last incremental file of the manifest. */
static int aof_open(void)
{
	struct tn_manifest m;
	const struct tn_aof_file *last = NULL;
	long long maxseq = 0;
	size_t i;
	int fd;

	if (tn_aof_manifest_load(J.dir, &m) < 0)
		return -1;
	for (i = 0; i < m.nfiles; i++) {
		if (m.files[i].type == 'i')
			last = &m.files[i];
		if (m.files[i].seq > maxseq)
			maxseq = m.files[i].seq;
	}
	if (!last) {
		char name[300];

		/* a base alone (BGREWRITEAOF with the AOF off): a new incr */
		tn_aof_name(name, sizeof(name), maxseq + 1, 'i', false);
		if (tn_manifest_add(&m, name, maxseq + 1, 'i') < 0 ||
		    tn_manifest_write(J.dir, &m) < 0) {
			tn_warn("cannot add an incremental file to the AOF "
				"manifest in %s: %s",
				J.dir, strerror(errno));
			tn_manifest_free(&m);
			return -1;
		}
		last = &m.files[m.nfiles - 1];
	}
	fd = tn_aof_open_incr(J.dir, last->name, &J.size);
	if (fd < 0) {
		tn_warn("cannot open the AOF file %s/%s: %s", J.dir, last->name,
			strerror(-fd));
		tn_manifest_free(&m);
		return -1;
	}
	J.fd = fd;
	J.seq = last->seq;
	if (J.seq == atomic_load(&tn_seg->aof_incr_seq)) {
		uint64_t good = atomic_load(&tn_seg->aof_good_size);

		/* a journal killed mid-write left part of a batch: cut it,
		 * and write again only what it had not written whole */
		if (good && (uint64_t)J.size > good) {
			tn_warn("Cutting %lld bytes of a batch the previous "
				"journal did not finish from %s",
				(long long)J.size - (long long)good, last->name);
			if (ftruncate(fd, (off_t)good) == 0)
				J.size = (off_t)good;
		}
		J.resume = atomic_load(&tn_seg->aof_good_pos);
	} else {
		atomic_store(&tn_seg->aof_incr_seq, J.seq);
		atomic_store(&tn_seg->aof_good_size, (uint64_t)J.size);
		atomic_store(&tn_seg->aof_good_pos, atomic_load(&J.l->consumed));
	}
	tn_notice("Opening AOF incr file %s on server start", last->name);
	tn_manifest_free(&m);
	atomic_store(&tn_seg->aof_on, 1);
	J.last_fsync_ms = tn_mstime();
	J.alloc_end = 0;
	sync_set_file();
	/* what the previous journal wrote but did not sync: sync it now,
	 * the shards may hold replies for it */
	if (J.resume > atomic_load(&J.l->durable))
		sync_here();
	return 0;
}

/* Before a file is left: its syncs done, its spare blocks given back. */
static void aof_leave(void)
{
	int err = sync_quiesce();

	if (err)
		tn_warn("fsync of the AOF file %s.%lld.incr.aof failed: %s",
			tn_conf->appendfilename, J.seq, strerror(err));
	prealloc_release();
	if (fdatasync(J.fd) < 0)
		tn_warn("fsync of the AOF file failed at close: %s",
			strerror(errno));
	else if (J.written > atomic_load(&J.l->durable))
		/* appendfsync always: a group that was still gathering */
		publish(J.written);
}

static void aof_close(void)
{
	if (J.fd < 0)
		return;
	aof_leave();
	close(J.fd);
	J.fd = -1;
	sync_set_file();
	atomic_store(&tn_seg->aof_on, 0);
}

/* ------------------------------------------------------------------ */
/* Background work: rewrite, BGSAVE                                    */
/* ------------------------------------------------------------------ */

static void *rewrite_thread(void *arg)
{
	struct tn_rewrite *rw = arg;

	tn_rewrite_spawn(rw);
	atomic_store(&rw->done, 1);
	tn_elog_wake(J.l);
	return NULL;
}

static void rewrite_start(void)
{
	int fd = -1, r;

	atomic_store(&tn_seg->aof_rewrite_in_progress, 1);
	atomic_store(&J.l->req_rewrite, 0);
	atomic_store(&tn_seg->aof_rewrite_scheduled, 0);
	atomic_store(&tn_seg->aof_rewrite_start_ms, tn_mstime());
	memset(&J.rw, 0, sizeof(J.rw));
	snprintf(J.rw.dir, sizeof(J.rw.dir), "%s", J.dir);
	J.rw.turning_on = J.turning_on;
	r = tn_rewrite_begin(&J.rw, J.fd >= 0 || J.turning_on, &fd);
	if (r == 0 && fd >= 0) {
		/* the switch point: everything before is in the old file */
		if (J.fd >= 0) {
			aof_leave();
			close(J.fd);
		}
		J.fd = fd;
		J.seq = J.rw.incr_seq;
		J.size = (off_t)strlen(TN_AOF_SELECT0);
		J.unsynced = false;
		J.resume = 0;
		J.alloc_end = 0;
		sync_set_file();
		atomic_store(&tn_seg->aof_good_size, (uint64_t)J.size);
		atomic_store(&tn_seg->aof_good_pos, atomic_load(&J.l->consumed));
		atomic_store(&tn_seg->aof_incr_seq, J.seq);
		atomic_store(&tn_seg->aof_on, 1);
	}
	if (r == 0)
		r = spawn_thread(&J.rw.thread, rewrite_thread, &J.rw);
	if (r) {
		tn_warn("Can't rewrite the append only file: %s", strerror(-r));
		atomic_store(&tn_seg->aof_rewrite_in_progress, 0);
		atomic_store(&tn_seg->aof_last_rewrite_ok, 0);
		atomic_fetch_add(&tn_seg->aof_rewrite_failures, 1);
		J.turning_on = false;
		J.rw_retry_at_ms = tn_mstime() + J_RW_RETRY_MS;
		return;
	}
	J.rw_running = true;
	tn_notice("Background append only file rewriting started");
}

static void rewrite_reap(void)
{
	int64_t now;
	int r;

	if (!J.rw_running || !atomic_load(&J.rw.done))
		return;
	pthread_join(J.rw.thread, NULL);
	J.rw_running = false;
	r = tn_rewrite_finish(&J.rw);
	now = tn_mstime();
	atomic_store(&tn_seg->aof_last_rewrite_sec,
		     (now - J.rw.start_ms) / 1000);
	atomic_store(&tn_seg->aof_last_rewrite_ms, now);
	atomic_store(&tn_seg->aof_rewrite_in_progress, 0);
	if (r == 0) {
		atomic_store(&tn_seg->aof_last_rewrite_ok, 1);
		atomic_store(&tn_seg->aof_rewrite_failures, 0);
		atomic_fetch_add(&tn_seg->aof_rewrites, 1);
		atomic_store(&tn_seg->aof_base_size, J.rw.base_bytes);
		atomic_store(&tn_seg->aof_current_size,
			     J.rw.base_bytes + (uint64_t)J.size);
		tn_notice("Background AOF rewrite finished successfully");
	} else {
		atomic_store(&tn_seg->aof_last_rewrite_ok, 0);
		atomic_fetch_add(&tn_seg->aof_rewrite_failures, 1);
		tn_warn("Background AOF rewrite failed: %s", strerror(-r));
		J.rw_retry_at_ms = now + J_RW_RETRY_MS;
		if (J.turning_on) {
			/* no base: the AOF cannot be on yet; try again */
			aof_leave();
			close(J.fd);
			J.fd = -1;
			sync_set_file();
			atomic_store(&tn_seg->aof_on, 0);
		}
	}
	J.turning_on = false;
	tn_manifest_free(&J.rw.m);
}

static void *bgsave_thread(void *arg)
{
	(void)arg;
	J.bgsave_rc = tn_rdb_save_db();
	atomic_store(&J.bgsave_done, 1);
	tn_elog_wake(J.l);
	return NULL;
}

static void bgsave_start(void)
{
	int r;

	/* in that order: BGSAVE sees one or the other all along */
	atomic_store(&tn_seg->rdb_bgsave_in_progress, 1);
	atomic_store(&J.l->req_bgsave, 0);
	atomic_store(&tn_seg->rdb_bgsave_start_ms, tn_mstime());
	atomic_store(&J.bgsave_done, 0);
	r = spawn_thread(&J.bgsave, bgsave_thread, NULL);
	if (r) {
		tn_warn("Can't save in background: %s", strerror(-r));
		atomic_store(&tn_seg->rdb_bgsave_in_progress, 0);
		atomic_store(&tn_seg->rdb_last_bgsave_ok, 0);
		return;
	}
	J.bgsave_running = true;
	tn_notice("Background saving started");
}

static void bgsave_reap(void)
{
	int64_t now;

	if (!J.bgsave_running || !atomic_load(&J.bgsave_done))
		return;
	pthread_join(J.bgsave, NULL);
	J.bgsave_running = false;
	now = tn_mstime();
	atomic_store(&tn_seg->rdb_last_bgsave_sec,
		     (now - atomic_load(&tn_seg->rdb_bgsave_start_ms)) / 1000);
	if (J.bgsave_rc == 0) {
		/* (tn_rdb_save_db() recorded it) */
		tn_notice("Background saving terminated with success");
	} else if (J.bgsave_rc == -ECANCELED) {
		/* as Redis' FLUSHALL killing the child: no error */
		tn_notice("Background saving stopped: FLUSHALL came first");
	} else {
		atomic_store(&tn_seg->rdb_last_bgsave_ok, 0);
		tn_warn("Background saving error: %s",
			strerror(-J.bgsave_rc));
	}
	atomic_store(&tn_seg->rdb_bgsave_in_progress, 0);
}

/*
 * Redis' save points: a snapshot once, for one of them, at least
 * `changes` writes were made since the last save and it is more than
 * `seconds` old; after a failed one, not again for J_BGSAVE_RETRY_MS.
 */
static bool save_due(int64_t now)
{
	uint64_t changes = atomic_load(&tn_seg->dirty) -
			   atomic_load(&tn_seg->rdb_changes_at_save);
	int64_t last = atomic_load(&tn_seg->rdb_last_save_ms);
	int i, n = TN_MIN(tn_conf->nsave, TN_MAX_SAVE_POINTS);

	if (last <= 0)
		last = tn_seg->start_ms;
	if (!atomic_load(&tn_seg->rdb_last_bgsave_ok) &&
	    now - atomic_load(&tn_seg->rdb_bgsave_start_ms) <=
		J_BGSAVE_RETRY_MS)
		return false;
	for (i = 0; i < n; i++) {
		const struct tn_save_point *sp = &tn_conf->save[i];

		if (changes >= (uint64_t)sp->changes &&
		    now - last > sp->seconds * 1000) {
			tn_notice("%lld changes in %lld seconds. Saving...",
				  sp->changes, sp->seconds);
			return true;
		}
	}
	return false;
}

/* Redis' auto-aof-rewrite rule: growth over the base by a percentage. */
static bool auto_rewrite_due(int64_t now)
{
	uint64_t cur, base;

	if (now - J.last_auto_check_ms < J_TICK_MS)
		return false;
	J.last_auto_check_ms = now;
	if (J.fd < 0 || tn_conf->auto_aof_rewrite_percentage <= 0)
		return false;
	cur = atomic_load(&tn_seg->aof_current_size);
	if (cur < (uint64_t)tn_conf->auto_aof_rewrite_min_size)
		return false;
	base = atomic_load(&tn_seg->aof_base_size);
	if (!base)
		base = 1;
	if ((cur * 100 / base) - 100 <
	    (uint64_t)tn_conf->auto_aof_rewrite_percentage)
		return false;
	tn_notice("Starting automatic rewriting of AOF on %llu%% growth",
		  (unsigned long long)(cur * 100 / base - 100));
	return true;
}

/* Requests, config changes, finished threads: between two batches. */
static void housekeeping(void)
{
	int64_t now = tn_mstime();
	bool busy;

	if (tn_reopen_flag) {
		tn_reopen_flag = 0;
		tn_log_reopen();
	}
	rewrite_reap();
	bgsave_reap();
	busy = J.rw_running || J.bgsave_running;
	if (tn_conf->appendonly && J.fd < 0 && !busy &&
	    now >= J.rw_retry_at_ms) {
		/* CONFIG SET appendonly yes: a rewrite makes the base */
		J.turning_on = true;
		rewrite_start();
		busy = true;
	} else if (!tn_conf->appendonly && J.fd >= 0 && !J.rw_running) {
		tn_notice("Background append only file rewriting: the AOF is "
			  "turned off (appendonly no)");
		aof_close();
	}
	if (!busy && atomic_load(&J.l->req_rewrite)) {
		rewrite_start();
		busy = true;
	}
	if (!busy && atomic_load(&J.l->req_bgsave)) {
		bgsave_start();
		busy = true;
	}
	if (!busy && save_due(now)) {
		bgsave_start();
		busy = true;
	}
	if (!busy && now >= J.rw_retry_at_ms && auto_rewrite_due(now))
		rewrite_start();
	if (tn_conf->appendfsync == TN_FSYNC_EVERYSEC)
		everysec_fsync(now);
	/* CONFIG SET appendfsync away from always while a group gathered:
	 * its replies wait for a sync that the other policies never make */
	if (J.fd >= 0 && tn_conf->appendfsync != TN_FSYNC_ALWAYS &&
	    J.written > atomic_load(&J.l->durable))
		sync_here();
}

static void journal_exit(void)
{
	int rc = 0;

	/* the shards are gone: write what they left */
	while (drain_once())
		;
	if (J.fd >= 0)
		sync_quiesce();
	if (J.fd >= 0 && tn_elog_committed(J.l) > atomic_load(&J.l->consumed)) {
		tn_warn("journal: exiting with unwritten records (%s): the "
			"last writes were not saved",
			strerror(atomic_load(&J.l->write_errno)));
		rc = 1;
	}
	if (J.fd >= 0) {
		tn_notice("Calling fsync() on the AOF file.");
		aof_close();
	}
	if (J.rw_running)
		unlink(J.rw.tmp);
	_exit(rc);
}

/*
 * Nap between batches to let the next one grow: only when no reply waits
 * for these writes (not appendfsync always) and no replica waits for the
 * stream (the nap would be replication lag).
 */
static bool gathering(void)
{
	if (atomic_load(&tn_seg->repl_nreplicas) > 0)
		return false;
	return J.fd < 0 || tn_conf->appendfsync != TN_FSYNC_ALWAYS;
}

/*
 * appendfsync always: group commit, in this thread.  Sync once the
 * clients the last sync released are back with their next writes (the
 * log reached G.pos: what came during that sync and as much again), or
 * at the latest half a sync after it; then write the group in one go and
 * sync it.  Syncing at once would split the clients into two groups that
 * take turns, each waiting for the other's sync.  While the sync runs,
 * the shards append without waking us.  (A sync thread overlapping the
 * next write saves little here and costs two thread hops per group:
 * scheduling delay, on a busy machine.)  False when there was nothing
 * to do.
 */
static bool group_commit(void)
{
	static struct {
		uint64_t pos;
		int64_t until;
	} G;
	uint64_t durable = atomic_load(&J.l->durable), start, end;
	int64_t now, t0;
	size_t len;
	int i;

	/* how far the committed records reach: the walk starts where the
	 * file ends (not at `consumed`), takes at least one record (is
	 * there any?) and stops at the target */
	start = end = TN_MAX(J.resume, atomic_load(&J.l->consumed));
	while ((end == start || end < G.pos) && tn_elog_read(J.l, &end, &len))
		;
	if (J.written <= durable && end == start)
		return false;
	t0 = tn_monotonic_us();
	if (end < G.pos && t0 < G.until) {
		tn_elog_wait_at(J.l, end, G.until - t0);
		return true;
	}
	for (i = 0; i < 64 && drain_once(); i++)
		;
	/* (after a write error, what was written before it is synced) */
	if (J.written <= durable || sync_here() < 0)
		return i > 0;
	now = tn_monotonic_us();
	G.pos = J.reserved_at_sync + (J.written - durable);
	G.until = now + TN_MIN((now - t0) / 2, J_GATHER_MAX_US);
	return true;
}

void tn_journal_main(void)
{
	int rc;

	tn_child_init("journal", 'J');
	J.l = tn_elog();
	tn_signals_stop_hup();
	if (tn_aof_dir_path(J.dir, sizeof(J.dir)) < 0) {
		tn_warn("the AOF directory path is too long");
		_exit(TN_EXIT_NORESPAWN);
	}
	sync_start();
	tn_elog_prefault(J.l);
	rc = tn_repl_master_start();
	if (rc < 0)
		tn_warn("journal: cannot start the replication thread: %s; "
			"replicas cannot sync",
			strerror(-rc));
	clean_temp_files();
	if (tn_conf->appendonly && !atomic_load(&tn_seg->aof_on)) {
		/* CONFIG SET appendonly yes came first: no AOF yet */
	} else if (tn_conf->appendonly && aof_open() < 0) {
		tn_warn("journal: the AOF cannot be opened; writing a new one "
			"from memory (a rewrite)");
	}
	/* a rewrite the previous journal did not finish starts again */
	if (atomic_load(&tn_seg->aof_rewrite_in_progress))
		atomic_store(&J.l->req_rewrite, 1);
	if (atomic_load(&tn_seg->rdb_bgsave_in_progress))
		atomic_store(&J.l->req_bgsave, 1);
	for (;;) {
		int i;

		if (tn_stop_flag)
			journal_exit();
		housekeeping();
		if (gathering()) {
			i = drain_once();
			if (i) {
				/* replies do not wait for these writes: let
				 * the next batch grow for a moment, unwoken */
				tn_elog_nap(J.l, tn_elog_seq(J.l), J_NAP_US);
				continue;
			}
		} else if (J.fd >= 0 &&
			   tn_conf->appendfsync == TN_FSYNC_ALWAYS) {
			i = group_commit();
		} else {
			for (i = 0; i < 64 && drain_once(); i++)
				;
		}
		if (i == 0 && J.fd >= 0 && atomic_load(&J.l->write_errno)) {
			/* records wait for the retry: do not spin on them */
			usleep(J_TICK_MS * 1000);
		} else if (i == 0) {
			uint64_t at = atomic_load(&J.l->consumed);

			if (J.resume > at)
				at = J.resume;
			tn_elog_wait_at(J.l, at, J_TICK_MS * 1000);
		}
	}
}
