/*
 * rewrite.c - BGREWRITEAOF without a fork: the drain thread switches to
 * a new incremental file at a record boundary, a thread snapshots the
 * stripes one at a time into a new base, then the manifest moves to the
 * new base + the new incremental file and the old files are deleted.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "util/util.h"

static int manifest_if_any(const char *dir, struct tn_manifest *m)
{
	char name[300], path[TN_AOF_DIR_MAX + 320];

	memset(m, 0, sizeof(*m));
	tn_aof_manifest_name(name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (access(path, F_OK) < 0)
		return 0;
	return tn_aof_manifest_load(dir, m);
}

int tn_rewrite_begin(struct tn_rewrite *rw, bool aof_on, int *incr_fd)
{
	long long max_base = 0, max_incr = 0;
	char name[300], path[TN_AOF_DIR_MAX + 320];
	off_t size;
	size_t i;
	int fd, r;

	*incr_fd = -1;
	rw->rdb = tn_conf->aof_use_rdb_preamble;
	rw->start_ms = tn_mstime();
	if (mkdir(rw->dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	if (manifest_if_any(rw->dir, &rw->m) < 0 && !rw->turning_on)
		return -EINVAL;
	for (i = 0; i < rw->m.nfiles; i++) {
		const struct tn_aof_file *f = &rw->m.files[i];

		if (f->type == 'i' && f->seq > max_incr)
			max_incr = f->seq;
		else if (f->type != 'i' && f->seq > max_base)
			max_base = f->seq;
	}
	rw->base_seq = max_base + 1;
	snprintf(rw->tmp, sizeof(rw->tmp), "%s/temp-rewriteaof-bg-%d.aof",
		 rw->dir, (int)getpid());
	if (!aof_on)
		return 0;
	rw->incr_seq = max_incr + 1;
	tn_aof_name(name, sizeof(name), rw->incr_seq, 'i', false);
	snprintf(path, sizeof(path), "%s/%s", rw->dir, name);
	unlink(path); /* a leftover of a rewrite that never finished */
	fd = tn_aof_open_incr(rw->dir, name, &size);
	if (fd < 0)
		return fd;
	if (!rw->turning_on && rw->m.nfiles) {
		/* listed at once: until the new base is in, the old files
		 * and this one together are the data */
		r = tn_manifest_add(&rw->m, name, rw->incr_seq, 'i');
		if (!r)
			r = tn_manifest_write(rw->dir, &rw->m);
		if (r) {
			close(fd);
			unlink(path);
			return r;
		}
	}
	tn_notice("Creating AOF incr file %s on background rewrite", name);
	*incr_fd = fd;
	return 0;
}

int tn_rewrite_spawn(struct tn_rewrite *rw)
{
	int fd = open(rw->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int r;

	if (fd < 0) {
		rw->rc = -errno;
		return rw->rc;
	}
	r = rw->rdb ? tn_snapshot_rdb(fd, true, &rw->base_bytes)
		    : tn_snapshot_resp(fd, &rw->base_bytes);
	if (!r && fsync(fd) < 0)
		r = -errno;
	close(fd);
	if (!r)
		tn_notice("Successfully created the temporary AOF base file %s",
			  strrchr(rw->tmp, '/') + 1);
	rw->rc = r;
	return r;
}

int tn_rewrite_finish(struct tn_rewrite *rw)
{
	struct tn_manifest cur, next = {0};
	char base[300], path[TN_AOF_DIR_MAX + 320];
	struct stat st;
	size_t i;
	int r;

	if (rw->rc) {
		unlink(rw->tmp);
		return rw->rc;
	}
	tn_aof_name(base, sizeof(base), rw->base_seq, 'b', rw->rdb);
	snprintf(path, sizeof(path), "%s/%s", rw->dir, base);
	if (rename(rw->tmp, path) < 0) {
		r = -errno;
		unlink(rw->tmp);
		return r;
	}
	if (stat(path, &st) == 0)
		rw->base_bytes = (uint64_t)st.st_size;
	tn_notice("Successfully renamed the temporary AOF base file %s into %s",
		  strrchr(rw->tmp, '/') + 1, base);
	/* what is on disk now (begin may have listed the new incr) */
	if (rw->turning_on)
		cur = rw->m, memset(&rw->m, 0, sizeof(rw->m));
	else if (manifest_if_any(rw->dir, &cur) < 0)
		return -EINVAL;
	r = tn_manifest_add(&next, base, rw->base_seq, 'b');
	for (i = 0; !r && i < cur.nfiles; i++) {
		const struct tn_aof_file *f = &cur.files[i];

		if (!(f->type == 'i' && rw->incr_seq && f->seq >= rw->incr_seq))
			r = tn_manifest_add(&next, f->name, f->seq, 'h');
	}
	if (!r && rw->incr_seq) {
		char incr[300];

		tn_aof_name(incr, sizeof(incr), rw->incr_seq, 'i', false);
		r = tn_manifest_add(&next, incr, rw->incr_seq, 'i');
	}
	if (!r)
		r = tn_manifest_write(rw->dir, &next);
	if (r) {
		tn_manifest_free(&cur);
		tn_manifest_free(&next);
		return r;
	}
	/* the history goes, then leaves the manifest */
	for (i = 0; i < next.nfiles; i++) {
		struct tn_aof_file *f = &next.files[i];

		if (f->type != 'h')
			continue;
		snprintf(path, sizeof(path), "%s/%s", rw->dir, f->name);
		tn_notice("Removing the history file %s", f->name);
		unlink(path);
		f->type = 0;
	}
	{
		struct tn_manifest final = {0};

		for (i = 0; !r && i < next.nfiles; i++)
			if (next.files[i].type)
				r = tn_manifest_add(&final, next.files[i].name,
						    next.files[i].seq,
						    next.files[i].type);
		if (!r)
			r = tn_manifest_write(rw->dir, &final);
		tn_manifest_free(&final);
	}
	tn_manifest_free(&cur);
	tn_manifest_free(&next);
	return r;
}
