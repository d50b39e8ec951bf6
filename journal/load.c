/*
 * load.c - start-up: the supervisor replays the AOF directory (base, then
 * every incremental file in order) or loads the RDB file into a fresh
 * segment before any child runs, through the store's own command table.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "store/store.h"
#include "util/util.h"

#define LOAD_ARGV_STACK 64

/* The client the AOF's commands run as; replies are dropped. */
struct replay {
	struct tn_client c;
	struct tn_arg *args;
	size_t cap;
	const char *file; /* name, for messages */
	uint64_t cmds;
	off_t multi_at; /* offset of an open MULTI, -1 when none */
	char err[300];
};

static int replay_cmd(int argc, char **argv, size_t *len, off_t off, void *arg)
{
	struct replay *r = arg;
	int i;

	if ((size_t)argc > r->cap) {
		struct tn_arg *a = reallocarray(r->args, argc, sizeof(*a));

		if (!a) {
			snprintf(r->err, sizeof(r->err), "out of memory");
			return -1;
		}
		r->args = a;
		r->cap = argc;
	}
	for (i = 0; i < argc; i++)
		r->args[i] = (struct tn_arg){.p = argv[i], .len = len[i]};
	if (!tn_cmd_lookup(argv[0], len[0])) {
		snprintf(r->err, sizeof(r->err),
			 "Unknown command '%.*s' reading the append only file %s "
			 "at offset %lld",
			 (int)TN_MIN(len[0], 64), argv[0], r->file,
			 (long long)off);
		return -1;
	}
	if (len[0] == 6 && !strncasecmp(argv[0], "select", 6) &&
	    (argc != 2 || len[1] != 1 || argv[1][0] != '0')) {
		snprintf(r->err, sizeof(r->err),
			 "SELECT of a database other than 0 in %s at offset "
			 "%lld: Titan has one database",
			 r->file, (long long)off);
		return -1;
	}
	if (len[0] == 5 && !strncasecmp(argv[0], "multi", 5))
		r->multi_at = off;
	else if (len[0] == 4 && !strncasecmp(argv[0], "exec", 4))
		r->multi_at = -1;
	tn_dispatch(&r->c, r->args, argc, 0);
	r->c.out.len = r->c.out.off = 0;
	r->cmds++;
	return 0;
}

static void replay_init(struct replay *r)
{
	memset(r, 0, sizeof(*r));
	r->c.fd = -1;
	r->c.resp = 2;
	r->c.authenticated = true;
	r->c.slot = UINT32_MAX;
	r->c.reply.out = &r->c.out;
	r->c.reply.resp = 2;
	r->multi_at = -1;
}

static void replay_free(struct replay *r)
{
	tn_client_release(&r->c);
	tn_buf_free(&r->c.out);
	tn_buf_free(&r->c.in);
	free(r->c.khash);
	free(r->args);
}

/* Cut a torn tail off at `at`, as aof-load-truncated asks. */
static int cut_tail(const char *path, const char *name, off_t at)
{
	tn_warn("!!! Warning: short read while loading the AOF file %s!!!",
		name);
	tn_warn("!!! Truncating the AOF %s at offset %lld !!!", name,
		(long long)at);
	if (truncate(path, at) < 0) {
		tn_warn("Error truncating the AOF file %s: %s", name,
			strerror(errno));
		return -1;
	}
	tn_warn("AOF %s loaded anyway because aof-load-truncated is enabled",
		name);
	return 0;
}

/*
 * Replay one RESP file (an incremental file or a RESP base).  A torn
 * tail of the last file is cut when aof-load-truncated allows; anything
 * else refuses the start.
 */
static int load_resp(struct replay *r, const char *path, const char *name,
		     bool last)
{
	struct tn_aof_scan_err e;
	int rc;

	r->file = name;
	r->err[0] = '\0';
	r->multi_at = -1;
	rc = tn_aof_scan_file(path, replay_cmd, r, &e);
	if (rc < 0 && r->err[0]) {
		tn_warn("%s; refusing to start", r->err);
		return -1;
	}
	if (rc < 0 && !e.truncated) {
		if (e.offset == 0 && strncmp(e.msg, "cannot", 6) == 0)
			tn_warn("%s", e.msg);
		else
			tn_warn("Bad file format reading the append only file "
				"%s: %s. Make a backup of it and run "
				"'titan-check %s' to see the damage",
				name, e.msg, path);
		return -1;
	}
	if (rc == 0 && r->multi_at < 0)
		return 0;
	if (rc == 0) {
		/* a transaction the file does not close: never applied */
		tn_client_release(&r->c);
		tn_warn("Revert incomplete MULTI/EXEC transaction in AOF file %s",
			name);
		e.offset = r->multi_at;
	} else if (r->multi_at >= 0) {
		tn_client_release(&r->c);
		e.offset = r->multi_at;
	}
	if (!last || !tn_conf->aof_load_truncated) {
		tn_warn("Unexpected end of file reading the append only file %s "
			"(offset %lld). You can: 1) Make a backup of your AOF "
			"file, then use titan-check --fix <%s>. 2) "
			"Alternatively you can set the 'aof-load-truncated' "
			"configuration option to yes and restart the server.",
			name, (long long)e.offset,
			last ? "dir/manifest" : "only the last file can be cut");
		return -1;
	}
	return cut_tail(path, name, e.offset);
}

static bool is_rdb(const char *path)
{
	char magic[5];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool yes;

	if (fd < 0)
		return false;
	yes = read(fd, magic, 5) == 5 && memcmp(magic, "REDIS", 5) == 0;
	close(fd);
	return yes;
}

static int load_base(struct replay *r, const char *path, const char *name,
		     bool last)
{
	uint64_t loaded = 0, expired = 0;
	char err[300];
	int fd;

	if (!is_rdb(path))
		return load_resp(r, path, name, last);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		tn_warn("cannot open the AOF base file %s: %s", path,
			strerror(errno));
		return -1;
	}
	tn_notice("Reading RDB base file on AOF loading...");
	if (tn_rdb_load_fd(fd, -1, &loaded, &expired, err, sizeof(err)) < 0) {
		tn_warn("Bad RDB base file %s: %s. Run 'titan-check %s' to see "
			"the damage",
			name, err, path);
		close(fd);
		return -1;
	}
	close(fd);
	tn_notice("Done loading RDB, keys loaded: %llu, keys expired: %llu.",
		  (unsigned long long)loaded, (unsigned long long)expired);
	return 0;
}

static off_t file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) < 0 ? 0 : st.st_size;
}

int tn_aof_open_incr(const char *dir, const char *name, off_t *size)
{
	char path[TN_AOF_DIR_MAX + 320];
	struct stat st;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*size = st.st_size;
	if (st.st_size == 0) {
		r = tn_write_all(fd, TN_AOF_SELECT0, strlen(TN_AOF_SELECT0));
		if (r < 0) {
			close(fd);
			unlink(path);
			return r;
		}
		*size = (off_t)strlen(TN_AOF_SELECT0);
		if (fdatasync(fd) < 0 || tn_fsync_dir(dir) < 0) {
			r = -errno;
			close(fd);
			return r;
		}
	}
	return fd;
}

int tn_aof_create(const char *dir)
{
	struct tn_manifest m = {0};
	char base[300], incr[300], path[TN_AOF_DIR_MAX + 320];
	bool rdb = tn_conf->aof_use_rdb_preamble;
	off_t size;
	int fd, r;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	tn_aof_name(base, sizeof(base), 1, 'b', rdb);
	tn_aof_name(incr, sizeof(incr), 1, 'i', false);
	snprintf(path, sizeof(path), "%s/%s", dir, base);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	r = rdb ? tn_snapshot_rdb(fd, true, NULL) : 0;
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (r)
		return r;
	tn_notice("Creating AOF base file %s on server start", base);
	fd = tn_aof_open_incr(dir, incr, &size);
	if (fd < 0)
		return fd;
	close(fd);
	tn_notice("Creating AOF incr file %s on server start", incr);
	r = tn_manifest_add(&m, base, 1, 'b');
	if (!r)
		r = tn_manifest_add(&m, incr, 1, 'i');
	if (!r)
		r = tn_manifest_write(dir, &m);
	tn_manifest_free(&m);
	return r;
}

int tn_aof_manifest_load(const char *dir, struct tn_manifest *m)
{
	char name[300], path[TN_AOF_DIR_MAX + 320], err[300];

	tn_aof_manifest_name(name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (tn_manifest_read(path, m, err, sizeof(err)) < 0) {
		tn_warn("Bad AOF manifest %s: %s", path, err);
		return -1;
	}
	return 0;
}

/* Replay base + incremental files; fills the sizes INFO shows. */
static int load_aof(const char *dir)
{
	struct tn_manifest m;
	struct replay r;
	uint64_t total = 0;
	long long last_incr = 0;
	size_t i, last = 0;
	int rc = 0;

	if (tn_aof_manifest_load(dir, &m) < 0)
		return -1;
	for (i = 0; i < m.nfiles; i++)
		if (m.files[i].type != 'h')
			last = i;
	replay_init(&r);
	for (i = 0; i < m.nfiles && !rc; i++) {
		const struct tn_aof_file *f = &m.files[i];
		char path[TN_AOF_DIR_MAX + 320];
		int64_t t0 = tn_ustime();

		if (f->type == 'h')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, f->name);
		if (access(path, R_OK) < 0) {
			tn_warn("The AOF file %s listed in the manifest cannot "
				"be read: %s; refusing to start",
				path, strerror(errno));
			rc = -1;
			break;
		}
		if (f->type == 'b')
			rc = load_base(&r, path, f->name, i == last);
		else
			rc = load_resp(&r, path, f->name, i == last);
		if (rc)
			break;
		if (f->type == 'i')
			last_incr = f->seq;
		total += (uint64_t)file_size(path);
		tn_notice("DB loaded from %s file %s: %.3f seconds",
			  f->type == 'b' ? "base" : "incr", f->name,
			  (double)(tn_ustime() - t0) / 1e6);
		if (f->type == 'i' && i == last)
			tn_seg->aof_good_size = (uint64_t)file_size(path);
	}
	replay_free(&r);
	tn_manifest_free(&m);
	if (!rc) {
		tn_seg->aof_incr_seq = last_incr;
		tn_seg->aof_current_size = total;
		tn_seg->aof_base_size = total;
	}
	return rc;
}

struct expired_walk {
	int64_t now;
	tn_off *v;
	size_t n, cap;
};

static void collect_expired(void *arg, tn_off off)
{
	struct expired_walk *w = arg;
	struct kentry_shm *e = tn_ptr(off);
	tn_off *v;

	if (!tn_kentry_expired(e, w->now))
		return;
	if (w->n == w->cap) {
		v = reallocarray(w->v, w->cap ? w->cap * 2 : 64, sizeof(*v));
		if (!v)
			return; /* kept; expiry removes it later */
		w->v = v;
		w->cap = w->cap ? w->cap * 2 : 64;
	}
	w->v[w->n++] = off;
}

/* Keys whose absolute expiry has passed are not loaded. */
static uint64_t drop_expired(void)
{
	struct expired_walk w = {.now = tn_mstime()};
	struct replay r;
	struct tn_ctx x;
	uint64_t dropped = 0;
	uint32_t s;

	replay_init(&r);
	x = (struct tn_ctx){.c = &r.c, .r = &r.c.reply, .now_ms = w.now};
	for (s = 0; s < tn_seg->nstripes; s++) {
		struct stripe_shm *st = tn_stripe(s);
		size_t i;

		if (!st->ttl_len)
			continue;
		w.n = 0;
		tn_stripe_lock(st);
		tn_dict_foreach(&st->keys, collect_expired, &w);
		for (i = 0; i < w.n; i++) {
			struct kentry_shm *e = tn_ptr(w.v[i]);
			struct tn_key k = tn_key_of(e->key, e->keylen);

			tn_db_delete_entry(&x, &k, e);
			dropped++;
		}
		tn_unlock(&st->lock);
	}
	free(w.v);
	replay_free(&r);
	return dropped;
}

/* Counters the replay moved that Redis does not count while loading. */
struct saved_stats {
	uint64_t commands, cmd_usec, hits, misses, expired;
};

int tn_persist_load(void)
{
	struct proc_shm *p = tn_proc(TN_PROC_SHARD0);
	struct saved_stats st = {p->commands, p->cmd_usec, p->hits, p->misses,
				 p->expired};
	char dir[TN_AOF_DIR_MAX], path[TN_AOF_DIR_MAX + 320];
	int64_t t0 = tn_ustime();
	uint64_t dropped;
	int rc = 0;

	tn_seg->aof_last_rewrite_sec = -1;
	tn_seg->rdb_last_bgsave_sec = -1;
	if (!tn_seg->rdb_last_save_ms)
		tn_seg->rdb_last_save_ms = tn_mstime();
	tn_seg->loading = 1;
	if (tn_conf->appendonly) {
		char man[300];
		struct stat sb;

		if (tn_aof_dir_path(dir, sizeof(dir)) < 0) {
			tn_warn("the AOF directory path %s/%s is too long",
				tn_conf->dir, tn_conf->appenddirname);
			rc = -1;
			goto out;
		}
		tn_aof_manifest_name(man, sizeof(man));
		snprintf(path, sizeof(path), "%s/%s", dir, man);
		if (stat(path, &sb) < 0 && errno == ENOENT) {
			snprintf(path, sizeof(path), "%s/%s", tn_conf->dir,
				 tn_conf->appendfilename);
			if (access(path, F_OK) == 0) {
				tn_warn("%s is a single-file AOF of an older Redis; "
					"Titan reads only the multi-part layout "
					"(%s/): load it with redis-server 7 once "
					"to convert it, or move it away",
					path, tn_conf->appenddirname);
				rc = -1;
				goto out;
			}
			rc = tn_aof_create(dir);
			if (rc < 0)
				tn_warn("cannot create the AOF directory %s: %s; "
					"check 'dir' and its permissions",
					dir, strerror(-rc));
			tn_seg->aof_on = rc == 0;
			tn_seg->aof_incr_seq = 1;
			tn_seg->aof_good_size = strlen(TN_AOF_SELECT0);
			tn_seg->aof_current_size = tn_seg->aof_good_size;
			goto out;
		}
		rc = load_aof(dir);
		tn_seg->aof_on = rc == 0;
		if (!rc)
			tn_notice("DB loaded from append only file: %.3f seconds",
				  (double)(tn_ustime() - t0) / 1e6);
	} else {
		uint64_t loaded = 0, expired = 0;
		char err[300];

		if (tn_rdb_path(path, sizeof(path)) < 0 ||
		    access(path, F_OK) < 0)
			goto out;
		if (tn_rdb_load_file(path, &loaded, &expired, err,
				     sizeof(err)) < 0) {
			tn_warn("Fatal error loading the DB %s: %s. Run "
				"'titan-check %s' to see the damage",
				path, err, path);
			rc = -1;
			goto out;
		}
		tn_notice("Done loading RDB, keys loaded: %llu, keys expired: "
			  "%llu.",
			  (unsigned long long)loaded,
			  (unsigned long long)expired);
		tn_notice("DB loaded from disk: %.3f seconds",
			  (double)(tn_ustime() - t0) / 1e6);
	}
out:
	dropped = rc ? 0 : drop_expired();
	if (dropped)
		tn_verbose("%llu keys had expired while the server was down",
			   (unsigned long long)dropped);
	p->commands = st.commands;
	p->cmd_usec = st.cmd_usec;
	p->hits = st.hits;
	p->misses = st.misses;
	p->expired = st.expired;
	tn_seg->dirty = 0;
	tn_seg->loading = 0;
	return rc;
}

void tn_persist_drain(int64_t timeout_ms)
{
	struct elog_shm *l = tn_elog();
	int64_t end = tn_mstime() + timeout_ms;

	if (!l)
		return;
	while (atomic_load(&l->durable) < tn_elog_committed(l) &&
	       !atomic_load(&l->write_errno) && tn_mstime() < end)
		usleep(1000);
}
