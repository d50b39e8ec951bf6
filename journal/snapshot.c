/*
 * snapshot.c - the keyspace written out one stripe at a time, each in
 * chunks of a few hundred keys serialised under its lock into memory of
 * this process and written after the unlock: no lock is held across disk
 * I/O nor for a whole stripe.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "store/store.h"
#include "util/util.h"

/* Keys serialised per hold of a stripe's lock: a client waits for one
 * chunk at most, not for the whole stripe. */
#define SNAP_CHUNK_KEYS 256

struct snap {
	int fd;
	unsigned visited; /* keys seen in this chunk */
	bool rdb;
	bool compress;
	int64_t now_ms;
	uint64_t crc;
	uint64_t written;
	struct tn_sbuf b;
};

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Write (and checksum) what the buffer holds, then empty it. */
static int snap_flush(struct snap *sn)
{
	int rc;

	if (sn->b.oom)
		return -ENOMEM;
	if (sn->rdb)
		sn->crc = tn_crc64(sn->crc, sn->b.p, sn->b.len);
	rc = write_all(sn->fd, sn->b.p, sn->b.len);
	if (rc < 0)
		return rc;
	sn->written += sn->b.len;
	sn->b.len = 0;
	return 0;
}

static void snap_entry(void *arg, tn_off off)
{
	struct snap *sn = arg;
	const struct kentry_shm *e = tn_ptr(off);

	sn->visited++;
	if (tn_kentry_expired(e, sn->now_ms))
		return;
	if (sn->rdb)
		tn_rdb_put_key(&sn->b, e, sn->compress);
	else
		tn_resp_put_key(&sn->b, e);
}

/* Let the stripe shrink again after a walk given up half way. */
static void snap_unhold(struct stripe_shm *s)
{
	if (!tn_stripe_walk_lock(s, false))
		return;
	tn_dict_hold_size(&s->keys, false);
	tn_stripe_walk_unlock(s);
}

/*
 * One stripe, a chunk per hold of its lock, with a SCAN cursor.  The
 * result is fuzzy (a key written between two chunks is in whichever
 * state the walk found it), which replays right: every write after the
 * rewrite began is in the new incremental file, as an idempotent state
 * assignment.  No key may come twice (Redis refuses an RDB with a
 * duplicate key): the cursor visits each bucket once as long as the
 * table does not shrink, so it is held from shrinking meanwhile.
 */
static int snap_stripe(struct snap *sn, struct stripe_shm *s)
{
	struct dict_shm *d = &s->keys;
	uint64_t cursor = 0;
	bool first = true;
	int rc;

	do {
		if (!tn_stripe_walk_lock(s, false))
			return -EIO; /* poisoned: the store restarts */
		if (first) {
			/* finishing a shrink under way moves entries: a
			 * write (walk_unlock clears the flag) */
			if (d->rehash_idx >= 0)
				s->writing = 1;
			tn_dict_hold_size(d, true);
			first = false;
		} else if (!tn_dict_size_held(d)) {
			/* FLUSHALL emptied it meanwhile: what it holds now
			 * came later, so is in the increment after it */
			tn_stripe_walk_unlock(s);
			return 0;
		}
		sn->now_ms = tn_mstime();
		sn->visited = 0;
		do
			cursor = tn_dict_scan(d, cursor, snap_entry, sn);
		while (cursor && sn->visited < SNAP_CHUNK_KEYS);
		if (!cursor)
			tn_dict_hold_size(d, false);
		tn_stripe_walk_unlock(s);
		rc = snap_flush(sn);
		if (rc < 0) {
			if (cursor)
				snap_unhold(s);
			return rc;
		}
	} while (cursor);
	return 0;
}

static int snap_stripes(struct snap *sn)
{
	uint32_t i;
	int rc;

	for (i = 0; i < tn_seg->nstripes; i++) {
		rc = snap_stripe(sn, tn_stripe(i));
		if (rc < 0)
			return rc;
	}
	return 0;
}

int tn_snapshot_rdb(int fd, bool aof_base, uint64_t *written)
{
	struct snap sn = {.fd = fd, .rdb = true};
	unsigned char tail[9];
	int rc, i;

	sn.compress = tn_conf ? tn_conf->rdbcompression : true;
	tn_rdb_put_header(&sn.b, aof_base, tn_db_size(), tn_db_expires());
	rc = snap_flush(&sn);
	if (rc == 0)
		rc = snap_stripes(&sn);
	if (rc == 0) {
		uint64_t crc;

		tail[0] = 0xff; /* RDB_OPCODE_EOF */
		sn.crc = tn_crc64(sn.crc, tail, 1);
		crc = (!tn_conf || tn_conf->rdbchecksum) ? sn.crc : 0;
		for (i = 0; i < 8; i++)
			tail[1 + i] = (unsigned char)(crc >> (8 * i));
		rc = write_all(fd, tail, sizeof(tail));
		if (rc == 0)
			sn.written += sizeof(tail);
	}
	tn_sbuf_free(&sn.b);
	if (written)
		*written = sn.written;
	return rc;
}

int tn_snapshot_resp(int fd, uint64_t *written)
{
	struct snap sn = {.fd = fd, .rdb = false};
	int rc = snap_stripes(&sn);

	tn_sbuf_free(&sn.b);
	if (written)
		*written = sn.written;
	return rc;
}

int tn_rdb_save_file(const char *path, uint64_t epoch)
{
	char tmp[TN_PATH_MAX + 32], buf[TN_PATH_MAX];
	const char *dir;
	int fd, rc, dfd;

	if (strlcpy(buf, path, sizeof(buf)) >= sizeof(buf))
		return -ENAMETOOLONG;
	dir = dirname(buf);
	/* Redis' name for the file being written: temp-<pid>.rdb */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/temp-%d.rdb", dir,
			     (int)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		tn_warn("Failed opening the temp RDB file %s (in server root "
			"dir %s) for saving: %s",
			tmp, dir, strerror(-rc));
		return rc;
	}
	rc = tn_snapshot_rdb(fd, false, NULL);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && epoch != atomic_load(&tn_seg->rdb_epoch)) {
		/* a FLUSHALL came while it was written: older than its file */
		unlink(tmp);
		return -ECANCELED;
	}
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		tn_warn("Write error saving DB on disk (%s): %s", path,
			strerror(-rc));
		unlink(tmp);
		return rc;
	}
	/* the rename itself must survive a crash */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int tn_rdb_path(char *buf, size_t size)
{
	size_t dlen = strlen(tn_conf->dir);
	int n;

	if (tn_conf->dbfilename[0] == '/' || !dlen)
		n = snprintf(buf, size, "%s", tn_conf->dbfilename);
	else
		n = snprintf(buf, size, "%s%s%s", tn_conf->dir,
			     tn_conf->dir[dlen - 1] == '/' ? "" : "/",
			     tn_conf->dbfilename);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

int tn_rdb_save_db(void)
{
	char path[TN_PATH_MAX + 256];
	uint64_t dirty = atomic_load(&tn_seg->dirty);
	int64_t start = tn_mstime();
	int rc;

	rc = tn_rdb_path(path, sizeof(path));
	if (rc < 0)
		return rc;
	rc = tn_rdb_save_file(path, atomic_load(&tn_seg->rdb_epoch));
	if (rc < 0)
		return rc;
	/* (a failed SAVE leaves the status alone, as in Redis) */
	atomic_store(&tn_seg->rdb_last_bgsave_ok, 1);
	atomic_store(&tn_seg->rdb_changes_at_save, dirty);
	atomic_store(&tn_seg->rdb_last_save_ms, tn_mstime());
	atomic_fetch_add(&tn_seg->rdb_saves, 1);
	tn_notice("DB saved on disk (%s, %lld ms)", path,
		  (long long)(tn_mstime() - start));
	return 0;
}
