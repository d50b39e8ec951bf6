/*
 * journal.c - the journal process: drains the effect log into the AOF's
 * incremental file in large batches (io_uring, or writev when the kernel
 * refuses it), follows appendfsync, publishes the durable position and
 * wakes the shards waiting on it; runs rewrites and BGSAVE in a thread.
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
#include "util/util.h"

#define J_BATCH_IOV 1024 /* UIO_MAXIOV */
#define J_BATCH_BYTES (8u << 20)
#define J_TICK_MS 100 /* requests, config and retries are seen this often */
#define J_RETRY_MS 1000 /* after a write error */
#define J_FSYNC_EVERYSEC_MS 1000
#define J_RING_ENTRIES 8
#define J_RW_RETRY_MS 5000 /* Redis' wait before another automatic try */

static volatile sig_atomic_t stop_flag, reopen_flag;

static struct {
	struct elog_shm *l;
	char dir[TN_AOF_DIR_MAX];
	int fd; /* the incremental file; -1 when the AOF is off */
	off_t size; /* its bytes, all whole commands */
	long long seq;
	bool unsynced;
	int64_t last_fsync_ms;
	int64_t retry_at_ms;
	uint64_t resume; /* log position written up to by a previous journal */
	bool uring;
	struct io_uring ring;
	/* background work: one at a time, as Redis' one child */
	struct tn_rewrite rw;
	bool rw_running;
	bool turning_on; /* CONFIG SET appendonly yes: the rewrite opens the AOF */
	pthread_t bgsave;
	bool bgsave_running;
	_Atomic int bgsave_done;
	int bgsave_rc;
	uint64_t bgsave_dirty;
	int64_t last_auto_check_ms;
	int64_t rw_retry_at_ms; /* after a failed rewrite */
} J = {.fd = -1};

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_hup(int sig)
{
	(void)sig;
	reopen_flag = 1;
}

static void signals_setup(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	/* no SA_RESTART: a signal ends the futex sleep at once */
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&set);
	sigprocmask(SIG_SETMASK, &set, NULL);
}

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

static void uring_setup(void)
{
	int r = io_uring_queue_init(J_RING_ENTRIES, &J.ring, 0);

	J.uring = r == 0;
	if (J.uring)
		tn_notice("journal: writing the AOF with io_uring (linked "
			  "fdatasync for appendfsync always)");
	else
		tn_notice("journal: io_uring is not available (%s); writing "
			  "the AOF with writev + fdatasync",
			  strerror(-r));
}

/* One writev (+ a linked fdatasync) through the ring; the bytes written
 * or -errno, the sync's result in *sync_rc. */
static ssize_t uring_writev(const struct iovec *iov, int n, off_t off,
			    bool sync, int *sync_rc)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&J.ring);
	struct io_uring_cqe *cqe;
	ssize_t w = -EIO;
	int i, want = sync ? 2 : 1, r;

	*sync_rc = 0;
	io_uring_prep_writev(sqe, J.fd, iov, (unsigned)n, (uint64_t)off);
	io_uring_sqe_set_data64(sqe, 1);
	if (sync) {
		sqe->flags |= IOSQE_IO_LINK;
		sqe = io_uring_get_sqe(&J.ring);
		io_uring_prep_fsync(sqe, J.fd, IORING_FSYNC_DATASYNC);
		io_uring_sqe_set_data64(sqe, 2);
	}
	do
		r = io_uring_submit_and_wait(&J.ring, (unsigned)want);
	while (r == -EINTR);
	if (r < 0)
		return r;
	for (i = 0; i < want; i++) {
		do
			r = io_uring_wait_cqe(&J.ring, &cqe);
		while (r == -EINTR);
		if (r < 0)
			return r;
		if (io_uring_cqe_get_data64(cqe) == 1)
			w = cqe->res;
		else
			*sync_rc = cqe->res;
		io_uring_cqe_seen(&J.ring, cqe);
	}
	return w;
}

/*
 * Write the batch at J.size, with its fdatasync when `sync`.  0, or
 * -errno (a short write is retried for the rest; the caller cuts a
 * partial batch away).
 */
static int write_batch(struct iovec *iov, int n, size_t total, bool sync)
{
	off_t off = J.size;

	while (total) {
		int sync_rc = 0;
		ssize_t w;

		/* a buffered write alone costs less as a plain syscall: the
		 * ring hands appends to a kernel worker thread */
		if (J.uring && sync) {
			w = uring_writev(iov, n, off, sync, &sync_rc);
		} else {
			w = pwritev(J.fd, iov, n, off);
			if (w < 0)
				w = -errno;
			else if ((size_t)w == total && sync &&
				 fdatasync(J.fd) < 0)
				sync_rc = -errno;
		}
		if (w == -EINTR || w == -EAGAIN)
			continue;
		if (w < 0)
			return (int)w;
		if (w == 0)
			return -EIO;
		if ((size_t)w == total)
			return sync_rc == -ECANCELED ? -EIO : sync_rc;
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

static void wake_shards(void)
{
	uint32_t bits = atomic_exchange(&J.l->shard_waiting, 0);

	while (bits) {
		int i = __builtin_ctz(bits);

		bits &= bits - 1;
		tn_shard_wake(i);
	}
}

/* Everything up to `pos` is as durable as the policy asks. */
static void publish(uint64_t pos)
{
	if (pos > atomic_load(&J.l->durable))
		atomic_store(&J.l->durable, pos);
	wake_shards();
	tn_elog_release(J.l, pos);
}

static void write_failed(int err, size_t total)
{
	if (atomic_load(&J.l->write_errno) != err)
		tn_warn("Error writing to the AOF file %s.%lld.incr.aof: %s; "
			"writes are refused (MISCONF) until it works again, "
			"retrying every second",
			tn_conf->appendfilename, J.seq, strerror(err));
	/* whatever made it of the batch goes: the file keeps whole commands */
	if (ftruncate(J.fd, J.size) < 0)
		tn_warn("Could not remove the partial batch (%zu bytes) from the "
			"AOF file after the error (ftruncate: %s); a restart will "
			"cut it as a torn tail",
			total, strerror(errno));
	atomic_store(&J.l->write_errno, err);
	J.retry_at_ms = tn_mstime() + J_RETRY_MS;
}

static void everysec_fsync(int64_t now)
{
	if (!J.unsynced || J.fd < 0 ||
	    now - J.last_fsync_ms < J_FSYNC_EVERYSEC_MS)
		return;
	if (fdatasync(J.fd) < 0) {
		write_failed(errno, 0);
		return;
	}
	J.unsynced = false;
	J.last_fsync_ms = now;
}

/*
 * Drain what is committed into the AOF (or just release it when the AOF
 * is off).  Returns true when it did something.
 */
static bool drain_once(void)
{
	struct iovec iov[J_BATCH_IOV];
	uint64_t consumed = atomic_load(&J.l->consumed);
	uint64_t cur = consumed > J.resume ? consumed : J.resume, end = cur;
	size_t total = 0, len;
	const void *p;
	bool always;
	int n = 0, r;

	if (J.fd >= 0 && atomic_load(&J.l->write_errno) &&
	    tn_mstime() < J.retry_at_ms)
		return false;
	while (n < J_BATCH_IOV && total < J_BATCH_BYTES &&
	       (p = tn_elog_read(J.l, &cur, &len))) {
		iov[n].iov_base = (void *)p;
		iov[n++].iov_len = len;
		total += len;
		end = cur;
	}
	if (!n) {
		if (cur > consumed)
			tn_elog_release(J.l, cur); /* padding only */
		return false;
	}
	if (J.fd < 0) {
		tn_repl_feed(iov, n);
		publish(end);
		return true;
	}
	always = tn_conf->appendfsync == TN_FSYNC_ALWAYS;
	r = write_batch(iov, n, total, always);
	if (r < 0) {
		write_failed(-r, total);
		return false;
	}
	J.size += (off_t)total;
	/* the size first: a journal killed in between rewrites nothing */
	atomic_store(&tn_seg->aof_good_size, (uint64_t)J.size);
	atomic_store(&tn_seg->aof_good_pos, end);
	atomic_fetch_add(&tn_seg->aof_current_size, total);
	if (atomic_load(&J.l->write_errno)) {
		tn_warn("AOF write error looks solved, Titan can write again.");
		atomic_store(&J.l->write_errno, 0);
	}
	if (always) {
		J.unsynced = false;
		J.last_fsync_ms = tn_mstime();
	} else {
		J.unsynced = true;
	}
	tn_repl_feed(iov, n);
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
	return 0;
}

static void aof_close(void)
{
	if (J.fd < 0)
		return;
	if (fdatasync(J.fd) < 0)
		tn_warn("fsync of the AOF file failed at close: %s",
			strerror(errno));
	close(J.fd);
	J.fd = -1;
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
			if (fdatasync(J.fd) < 0)
				tn_warn("fsync of the old AOF file: %s",
					strerror(errno));
			close(J.fd);
		}
		J.fd = fd;
		J.seq = J.rw.incr_seq;
		J.size = (off_t)strlen(TN_AOF_SELECT0);
		J.unsynced = false;
		J.resume = 0;
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
			close(J.fd);
			J.fd = -1;
			atomic_store(&tn_seg->aof_on, 0);
		}
	}
	J.turning_on = false;
	tn_manifest_free(&J.rw.m);
}

static void *bgsave_thread(void *arg)
{
	char path[TN_PATH_MAX + 300];

	(void)arg;
	snprintf(path, sizeof(path), "%s/%s", tn_conf->dir,
		 tn_conf->dbfilename);
	J.bgsave_rc = tn_rdb_save_file(path);
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
	J.bgsave_dirty = atomic_load(&tn_seg->dirty);
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
		atomic_store(&tn_seg->rdb_last_save_ms, now);
		atomic_store(&tn_seg->rdb_changes_at_save, J.bgsave_dirty);
		atomic_fetch_add(&tn_seg->rdb_saves, 1);
		atomic_store(&tn_seg->rdb_last_bgsave_ok, 1);
		tn_notice("Background saving terminated with success");
	} else {
		atomic_store(&tn_seg->rdb_last_bgsave_ok, 0);
		tn_warn("Background saving error: %s",
			strerror(-J.bgsave_rc));
	}
	atomic_store(&tn_seg->rdb_bgsave_in_progress, 0);
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

	if (reopen_flag) {
		reopen_flag = 0;
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
	if (!busy && now >= J.rw_retry_at_ms && auto_rewrite_due(now))
		rewrite_start();
	if (tn_conf->appendfsync == TN_FSYNC_EVERYSEC)
		everysec_fsync(now);
}

static void journal_exit(void)
{
	int rc = 0;

	/* the shards are gone: write what they left */
	while (drain_once())
		;
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

void tn_journal_main(void)
{
	int rc;

	tn_child_init("journal", 'J');
	J.l = tn_elog();
	signals_setup();
	if (tn_aof_dir_path(J.dir, sizeof(J.dir)) < 0) {
		tn_warn("the AOF directory path is too long");
		_exit(TN_EXIT_NORESPAWN);
	}
	uring_setup();
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

		if (stop_flag)
			journal_exit();
		housekeeping();
		for (i = 0; i < 64 && drain_once(); i++)
			;
		if (i == 0 && J.fd >= 0 && atomic_load(&J.l->write_errno)) {
			/* records wait for the retry: do not spin on them */
			usleep(J_TICK_MS * 1000);
		} else if (i == 0) {
			uint64_t at = atomic_load(&J.l->consumed);

			if (J.resume > at)
				at = J.resume;
			tn_elog_wait_at(J.l, at, J_TICK_MS);
		}
	}
}
