/*
 * t_info.c - INFO: the server's state and counters with Redis 7.0's
 * section and field names, summed over the processes that share the
 * segment, plus the sampler behind the instantaneous_* rates.
 */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "store/cmds.h"
#include "util/util.h"

#define TN_MINCORE_CHUNK_PAGES 65536u /* 256 MiB of segment per call */

enum {
	SEC_SERVER = 1u << 0,
	SEC_CLIENTS = 1u << 1,
	SEC_MEMORY = 1u << 2,
	SEC_PERSISTENCE = 1u << 3,
	SEC_STATS = 1u << 4,
	SEC_REPLICATION = 1u << 5,
	SEC_CPU = 1u << 6,
	SEC_MODULES = 1u << 7,
	SEC_CLUSTER = 1u << 8,
	SEC_KEYSPACE = 1u << 9,
	SEC_ALL = (1u << 10) - 1,
};

static const struct {
	const char *name;
	unsigned bits;
} sections[] = {
	{"server", SEC_SERVER},
	{"clients", SEC_CLIENTS},
	{"memory", SEC_MEMORY},
	{"persistence", SEC_PERSISTENCE},
	{"stats", SEC_STATS},
	{"replication", SEC_REPLICATION},
	{"cpu", SEC_CPU},
	{"modules", SEC_MODULES},
	{"module_list", SEC_MODULES},
	{"cluster", SEC_CLUSTER},
	{"keyspace", SEC_KEYSPACE},
	{"default", SEC_ALL},
	{"all", SEC_ALL},
	{"everything", SEC_ALL},
};

/* ------------------------------------------------------------------ */
/* Sums over processes                                                  */
/* ------------------------------------------------------------------ */

struct totals {
	int64_t clients;
	uint64_t commands, connections, rejected, hits, misses, expired;
	uint64_t net_in, net_out, blocked, pubsub_channels;
};

static void sum_procs(struct totals *t)
{
	uint32_t i;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < tn_seg->nprocs; i++) {
		struct proc_shm *p = tn_proc(i);

		if (i == TN_PROC_ACCEPTOR) {
			/* refused at the door, never a client of a shard */
			t->rejected += p->rejected;
			continue;
		}
		t->clients += p->clients;
		t->commands += p->commands;
		t->connections += p->connections;
		t->rejected += p->rejected;
		t->hits += p->hits;
		t->misses += p->misses;
		t->expired += p->expired;
		t->net_in += p->net_in;
		t->net_out += p->net_out;
		t->blocked += p->blocked;
		t->pubsub_channels += p->pubsub_channels;
	}
	t->expired += tn_seg->expired_keys;
}

/* ------------------------------------------------------------------ */
/* Instantaneous metrics                                                */
/* ------------------------------------------------------------------ */

static void metric_sample(struct metric_shm *m, uint64_t count, int64_t now)
{
	int64_t t = now - m->last_ms;
	/* CONFIG RESETSTAT may have zeroed the counter under us */
	uint64_t delta = count >= m->last_count ? count - m->last_count : 0;

	if (m->last_ms > 0 && t > 0) {
		m->samples[m->idx] = delta * 1000 / (uint64_t)t;
		m->idx = (m->idx + 1) % TN_METRIC_SAMPLES;
	}
	m->last_ms = now;
	m->last_count = count;
}

static uint64_t metric_rate(const struct metric_shm *m)
{
	uint64_t sum = 0;
	int i;

	for (i = 0; i < TN_METRIC_SAMPLES; i++)
		sum += m->samples[i];
	return sum / TN_METRIC_SAMPLES;
}

static void peak_update(uint64_t used)
{
	uint64_t peak = atomic_load(&tn_seg->mem_peak);

	while (used > peak &&
	       !atomic_compare_exchange_weak(&tn_seg->mem_peak, &peak, used))
		;
}

void tn_stats_cron(int64_t now_ms)
{
	struct totals t;

	/* one writer keeps the rings simple */
	if (tn_rt.shard != 0)
		return;
	peak_update(tn_heap_used());
	/* a tenth of slack: timer ticks land a little early or late */
	if (now_ms - tn_seg->inst[TN_METRIC_COMMANDS].last_ms <
	    TN_METRIC_PERIOD_MS * 9 / 10)
		return;
	sum_procs(&t);
	metric_sample(&tn_seg->inst[TN_METRIC_COMMANDS], t.commands, now_ms);
	metric_sample(&tn_seg->inst[TN_METRIC_NET_IN], t.net_in, now_ms);
	metric_sample(&tn_seg->inst[TN_METRIC_NET_OUT], t.net_out, now_ms);
}

void tn_stats_reset(void)
{
	int i;

	for (i = 0; i < TN_METRIC_COUNT; i++) {
		struct metric_shm *m = &tn_seg->inst[i];

		memset(m->samples, 0, sizeof(m->samples));
		m->last_count = 0;
	}
	atomic_store(&tn_seg->mem_peak, tn_heap_used());
}

/* ------------------------------------------------------------------ */
/* /proc                                                                */
/* ------------------------------------------------------------------ */

/* Our processes: the supervisor, the acceptor and every shard (a dead
 * child's pid may already belong to someone else: skip it). */
static int our_pids(int *pids, int max)
{
	int n = 0;
	uint32_t i;

	if (tn_rt.pid_supervisor > 0)
		pids[n++] = tn_rt.pid_supervisor;
	for (i = 0; i < tn_seg->nprocs && n < max; i++)
		if (tn_proc(i)->pid > 0 && tn_proc(i)->alive)
			pids[n++] = tn_proc(i)->pid;
	return n;
}

/* A process' anonymous (its own) and file-backed resident kB. */
static void proc_rss_kb(int pid, uint64_t *anon, uint64_t *file)
{
	char path[64], line[128];
	unsigned long long v;
	FILE *f;

	*anon = *file = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "RssAnon: %llu", &v) == 1)
			*anon = v;
		else if (sscanf(line, "RssFile: %llu", &v) == 1)
			*file = v;
	}
	fclose(f);
}

/*
 * The segment's memfd, inherited from the supervisor: its allocated
 * blocks are the segment's pages in memory (or swap), counted once
 * however many processes map them.  Found once per process by name and
 * size; -1 if this process does not hold it.
 */
static int segment_fd(void)
{
	static int fd = -2;
	char path[64], link[64];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fd >= 0 && fstat(fd, &st) == 0 &&
	    (uint64_t)st.st_size == tn_seg->size)
		return fd;
	fd = -1;
	d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		int n = atoi(de->d_name);
		ssize_t len;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", n);
		len = readlink(path, link, sizeof(link) - 1);
		if (len <= 0)
			continue;
		link[len] = '\0';
		if (strncmp(link, "/memfd:titan", 12) == 0 &&
		    fstat(n, &st) == 0 &&
		    (uint64_t)st.st_size == tn_seg->size) {
			fd = n;
			break;
		}
	}
	closedir(d);
	return fd;
}

/*
 * Bytes of the segment in memory.  Without the memfd, mincore() on the
 * shared mapping gives the same answer (it looks at the memfd's page
 * cache), only slower on a large segment.
 */
static uint64_t segment_rss_bytes(void)
{
	static unsigned char vec[TN_MINCORE_CHUNK_PAGES];
	long page = sysconf(_SC_PAGESIZE);
	uint64_t pages = (tn_seg->size + page - 1) / page, off, n = 0, i;
	int fd = segment_fd();
	struct stat st;

	if (fd >= 0 && fstat(fd, &st) == 0)
		return (uint64_t)st.st_blocks * 512;
	for (off = 0; off < pages; off += TN_MINCORE_CHUNK_PAGES) {
		uint64_t len = TN_MIN(pages - off, TN_MINCORE_CHUNK_PAGES);

		if (mincore(tn_base + off * page, len * page, vec) < 0)
			return 0;
		for (i = 0; i < len; i++)
			n += vec[i] & 1;
	}
	return n * (uint64_t)page;
}

/*
 * used_memory_rss: what all our processes keep in RAM, shared pages
 * counted once.  Each process' anonymous pages are its own; the
 * file-backed ones (the binary, libc) are the same pages in every
 * process forked from the supervisor, so the largest such set stands
 * for all; the segment is added once from its memfd.
 */
static uint64_t rss_bytes(void)
{
	int pids[TN_MAX_LISTEN + 300], n, i;
	uint64_t anon, file, kb = 0, file_max = 0;

	n = our_pids(pids, (int)TN_ARRAY_SIZE(pids));
	for (i = 0; i < n; i++) {
		proc_rss_kb(pids[i], &anon, &file);
		kb += anon;
		file_max = TN_MAX(file_max, file);
	}
	return (kb + file_max) * 1024 + segment_rss_bytes();
}

/* utime and stime of our processes, in clock ticks. */
static void cpu_ticks(unsigned long long *user, unsigned long long *sys)
{
	int pids[TN_MAX_LISTEN + 300], n, i;
	char path[64], buf[1024];

	*user = *sys = 0;
	n = our_pids(pids, (int)TN_ARRAY_SIZE(pids));
	for (i = 0; i < n; i++) {
		unsigned long long u, s;
		char *p;
		FILE *f;
		size_t len;

		snprintf(path, sizeof(path), "/proc/%d/stat", pids[i]);
		f = fopen(path, "r");
		if (!f)
			continue;
		len = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[len] = '\0';
		/* the command name may hold spaces: fields follow its ')' */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
				"%llu %llu",
				&u, &s) == 2) {
			*user += u;
			*sys += s;
		}
	}
}

/* Redis' bytesToHuman. */
static void human(char *s, size_t len, unsigned long long n)
{
	static const char units[] = "KMGTP";
	double d = (double)n;
	int u = -1;

	if (n < 1024) {
		snprintf(s, len, "%lluB", n);
		return;
	}
	while (d >= 1024 && u < 4) {
		d /= 1024;
		u++;
	}
	if (d >= 1024)
		snprintf(s, len, "%lluB", n);
	else
		snprintf(s, len, "%.2f%c", d, units[u]);
}

/* ------------------------------------------------------------------ */
/* Sections                                                             */
/* ------------------------------------------------------------------ */

static int info_server(struct tn_buf *b, int64_t now_ms)
{
	struct utsname un;
	char exe[PATH_MAX] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int64_t up = (now_ms - tn_seg->start_ms) / 1000;

	if (n > 0)
		exe[n] = '\0';
	if (uname(&un) < 0)
		memset(&un, 0, sizeof(un));
	return tn_buf_printf(
		b,
		"# Server\r\n"
		"redis_version:%s\r\n"
		"titan_version:%s\r\n"
		"redis_git_sha1:00000000\r\n"
		"redis_git_dirty:0\r\n"
		"redis_mode:standalone\r\n"
		"os:%s %s %s\r\n"
		"arch_bits:%d\r\n"
		"monotonic_clock:POSIX clock_gettime\r\n"
		"multiplexing_api:epoll\r\n"
		"atomicvar_api:c11-builtin\r\n"
		"gcc_version:%d.%d.%d\r\n"
		"process_id:%d\r\n"
		"process_supervised:no\r\n"
		"run_id:%s\r\n"
		"tcp_port:%d\r\n"
		"server_time_usec:%lld\r\n"
		"uptime_in_seconds:%lld\r\n"
		"uptime_in_days:%lld\r\n"
		"hz:%d\r\n"
		"configured_hz:%d\r\n"
		"executable:%s\r\n"
		"config_file:%s\r\n"
		"io_threads_active:0\r\n"
		"shards:%u\r\n"
		"stripes:%u\r\n",
		TN_REDIS_COMPAT_VERSION, TN_VERSION, un.sysname, un.release,
		un.machine, (int)sizeof(long) * 8, __GNUC__, __GNUC_MINOR__,
		__GNUC_PATCHLEVEL__, tn_rt.pid_supervisor, tn_seg->run_id,
		tn_conf->port, (long long)tn_ustime(), (long long)up,
		(long long)up / 86400, tn_conf->hz, tn_conf->hz, exe,
		tn_conf->config_file, tn_seg->nshards, tn_seg->nstripes);
}

static int info_clients(struct tn_buf *b, const struct totals *t)
{
	return tn_buf_printf(b,
			     "# Clients\r\n"
			     "connected_clients:%lld\r\n"
			     "cluster_connections:0\r\n"
			     "maxclients:%lld\r\n"
			     "blocked_clients:%llu\r\n"
			     "tracking_clients:0\r\n",
			     (long long)t->clients, tn_conf->maxclients,
			     (unsigned long long)t->blocked);
}

static int info_memory(struct tn_buf *b)
{
	uint64_t used = tn_heap_used(), rss = rss_bytes(), peak;
	uint64_t sys = (uint64_t)sysconf(_SC_PHYS_PAGES) *
		       (uint64_t)sysconf(_SC_PAGESIZE);
	long long maxmem = tn_conf->maxmemory_bytes;
	char h_used[32], h_rss[32], h_peak[32], h_sys[32], h_max[32];

	peak_update(used);
	peak = atomic_load(&tn_seg->mem_peak);
	human(h_used, sizeof(h_used), used);
	human(h_rss, sizeof(h_rss), rss);
	human(h_peak, sizeof(h_peak), peak);
	human(h_sys, sizeof(h_sys), sys);
	human(h_max, sizeof(h_max), (unsigned long long)maxmem);
	return tn_buf_printf(
		b,
		"# Memory\r\n"
		"used_memory:%llu\r\n"
		"used_memory_human:%s\r\n"
		"used_memory_rss:%llu\r\n"
		"used_memory_rss_human:%s\r\n"
		"used_memory_peak:%llu\r\n"
		"used_memory_peak_human:%s\r\n"
		"used_memory_peak_perc:%.2f%%\r\n"
		"total_system_memory:%llu\r\n"
		"total_system_memory_human:%s\r\n"
		"maxmemory:%lld\r\n"
		"maxmemory_human:%s\r\n"
		"maxmemory_policy:noeviction\r\n"
		"mem_fragmentation_ratio:%.2f\r\n"
		"mem_fragmentation_bytes:%lld\r\n"
		"mem_allocator:titan-slab\r\n"
		"segment_bytes:%llu\r\n"
		"lazyfree_pending_objects:0\r\n",
		(unsigned long long)used, h_used, (unsigned long long)rss,
		h_rss, (unsigned long long)peak, h_peak,
		peak ? (double)used * 100 / (double)peak : 0.0,
		(unsigned long long)sys, h_sys, maxmem, h_max,
		used ? (double)rss / (double)used : 0.0,
		(long long)rss - (long long)used,
		(unsigned long long)tn_seg->size);
}

/* Redis 7.0's fields, in its order; the journal keeps the state. */
static int info_persistence(struct tn_buf *b)
{
	int64_t now = tn_mstime(), last_save = tn_seg->rdb_last_save_ms;
	uint64_t dirty = tn_seg->dirty, saved = tn_seg->rdb_changes_at_save;
	bool bgsave = tn_seg->rdb_bgsave_in_progress;
	bool rewriting = tn_seg->aof_rewrite_in_progress;
	bool aof = tn_conf->appendonly;
	int r;

	if (last_save <= 0)
		last_save = tn_seg->start_ms;
	r = tn_buf_printf(
	    b,
	    "# Persistence\r\n"
	    "loading:0\r\n"
	    "async_loading:0\r\n"
	    "current_cow_peak:0\r\n"
	    "current_cow_size:0\r\n"
	    "current_cow_size_age:0\r\n"
	    "current_fork_perc:0.00\r\n"
	    "current_save_keys_processed:0\r\n"
	    "current_save_keys_total:0\r\n"
	    "rdb_changes_since_last_save:%llu\r\n"
	    "rdb_bgsave_in_progress:%d\r\n"
	    "rdb_last_save_time:%lld\r\n"
	    "rdb_last_bgsave_status:%s\r\n"
	    "rdb_last_bgsave_time_sec:%lld\r\n"
	    "rdb_current_bgsave_time_sec:%lld\r\n"
	    "rdb_saves:%llu\r\n"
	    "rdb_last_cow_size:0\r\n"
	    "rdb_last_load_keys_expired:0\r\n"
	    "rdb_last_load_keys_loaded:0\r\n"
	    "aof_enabled:%d\r\n"
	    "aof_rewrite_in_progress:%d\r\n"
	    "aof_rewrite_scheduled:%d\r\n"
	    "aof_last_rewrite_time_sec:%lld\r\n"
	    "aof_current_rewrite_time_sec:%lld\r\n"
	    "aof_last_bgrewrite_status:%s\r\n"
	    "aof_rewrites:%llu\r\n"
	    "aof_rewrites_consecutive_failures:%llu\r\n"
	    "aof_last_write_status:%s\r\n"
	    "aof_last_cow_size:0\r\n"
	    "module_fork_in_progress:0\r\n"
	    "module_fork_last_cow_size:0\r\n",
	    (unsigned long long)(dirty > saved ? dirty - saved : 0), bgsave,
	    (long long)last_save / 1000,
	    tn_seg->rdb_last_bgsave_ok ? "ok" : "err",
	    (long long)tn_seg->rdb_last_bgsave_sec,
	    bgsave ? (long long)(now - tn_seg->rdb_bgsave_start_ms) / 1000 : -1LL,
	    (unsigned long long)tn_seg->rdb_saves, aof, rewriting,
	    (int)tn_seg->aof_rewrite_scheduled,
	    (long long)tn_seg->aof_last_rewrite_sec,
	    rewriting && tn_seg->aof_rewrite_start_ms
		? (long long)(now - tn_seg->aof_rewrite_start_ms) / 1000
		: -1LL,
	    tn_seg->aof_last_rewrite_ok ? "ok" : "err",
	    (unsigned long long)tn_seg->aof_rewrites,
	    (unsigned long long)tn_seg->aof_rewrite_failures,
	    tn_elog()->write_errno ? "err" : "ok");
	if (r < 0 || !aof)
		return r;
	return tn_buf_printf(b,
			     "aof_current_size:%llu\r\n"
			     "aof_base_size:%llu\r\n"
			     "aof_pending_rewrite:%d\r\n"
			     "aof_buffer_length:0\r\n"
			     "aof_pending_bio_fsync:0\r\n"
			     "aof_delayed_fsync:%llu\r\n",
			     (unsigned long long)tn_seg->aof_current_size,
			     (unsigned long long)tn_seg->aof_base_size,
			     (int)tn_seg->aof_rewrite_scheduled,
			     (unsigned long long)tn_seg->aof_delayed_fsync);
}

static int info_stats(struct tn_buf *b, const struct totals *t)
{
	const struct metric_shm *m = tn_seg->inst;

	return tn_buf_printf(
		b,
		"# Stats\r\n"
		"total_connections_received:%llu\r\n"
		"total_commands_processed:%llu\r\n"
		"instantaneous_ops_per_sec:%llu\r\n"
		"total_net_input_bytes:%llu\r\n"
		"total_net_output_bytes:%llu\r\n"
		"instantaneous_input_kbps:%.2f\r\n"
		"instantaneous_output_kbps:%.2f\r\n"
		"rejected_connections:%llu\r\n"
		"sync_full:0\r\n"
		"sync_partial_ok:0\r\n"
		"sync_partial_err:0\r\n"
		"expired_keys:%llu\r\n"
		"expire_cycle_cpu_milliseconds:%llu\r\n"
		"evicted_keys:%llu\r\n"
		"keyspace_hits:%llu\r\n"
		"keyspace_misses:%llu\r\n"
		"pubsub_channels:%llu\r\n"
		"latest_fork_usec:0\r\n"
		"total_forks:0\r\n",
		(unsigned long long)t->connections,
		(unsigned long long)t->commands,
		(unsigned long long)metric_rate(&m[TN_METRIC_COMMANDS]),
		(unsigned long long)t->net_in, (unsigned long long)t->net_out,
		(double)metric_rate(&m[TN_METRIC_NET_IN]) / 1024,
		(double)metric_rate(&m[TN_METRIC_NET_OUT]) / 1024,
		(unsigned long long)t->rejected,
		(unsigned long long)t->expired,
		(unsigned long long)tn_seg->expire_cycle_ms,
		(unsigned long long)tn_seg->evicted_keys,
		(unsigned long long)t->hits, (unsigned long long)t->misses,
		(unsigned long long)t->pubsub_channels);
}

static int info_cpu(struct tn_buf *b)
{
	unsigned long long u, s;
	double hz = (double)sysconf(_SC_CLK_TCK);

	cpu_ticks(&u, &s);
	return tn_buf_printf(b,
			     "# CPU\r\n"
			     "used_cpu_sys:%.6f\r\n"
			     "used_cpu_user:%.6f\r\n"
			     "used_cpu_sys_children:0.000000\r\n"
			     "used_cpu_user_children:0.000000\r\n",
			     (double)s / hz, (double)u / hz);
}

static int info_keyspace(struct tn_buf *b)
{
	uint64_t keys = tn_db_size();

	if (tn_buf_printf(b, "# Keyspace\r\n") < 0)
		return -1;
	if (!keys)
		return 0;
	return tn_buf_printf(b, "db0:keys=%llu,expires=%llu,avg_ttl=0\r\n",
			     (unsigned long long)keys,
			     (unsigned long long)tn_db_expires());
}

static unsigned parse_sections(struct tn_ctx *x)
{
	unsigned want = 0;
	size_t j;
	int i;

	if (x->argc == 1)
		return SEC_ALL;
	for (i = 1; i < x->argc; i++)
		for (j = 0; j < TN_ARRAY_SIZE(sections); j++)
			if (tn_arg_is(&x->argv[i], sections[j].name))
				want |= sections[j].bits;
	return want;
}

static void cmd_info(struct tn_ctx *x)
{
	unsigned want = parse_sections(x);
	struct tn_buf b = {0};
	struct totals t;
	int rc = 0, done = 0;

	sum_procs(&t);
	/* a blank line between sections, as Redis */
#define SECTION(bit, call)                                                   \
	do {                                                                 \
		if ((want & (bit)) && rc == 0) {                              \
			if (done++)                                          \
				rc = tn_buf_printf(&b, "\r\n");               \
			if (rc == 0)                                         \
				rc = (call);                                 \
		}                                                            \
	} while (0)
	SECTION(SEC_SERVER, info_server(&b, x->now_ms));
	SECTION(SEC_CLIENTS, info_clients(&b, &t));
	SECTION(SEC_MEMORY, info_memory(&b));
	SECTION(SEC_PERSISTENCE, info_persistence(&b));
	SECTION(SEC_STATS, info_stats(&b, &t));
	SECTION(SEC_REPLICATION, tn_info_replication(&b));
	SECTION(SEC_CPU, info_cpu(&b));
	SECTION(SEC_MODULES, tn_buf_printf(&b, "# Modules\r\n"));
	SECTION(SEC_CLUSTER, tn_buf_printf(&b, "# Cluster\r\n"
					       "cluster_enabled:0\r\n"));
	SECTION(SEC_KEYSPACE, info_keyspace(&b));
#undef SECTION
	if (rc < 0)
		tn_reply_error(x->r, TN_ERR_OOM);
	else
		tn_reply_verbatim(x->r, b.data ? b.data : "", b.len);
	tn_buf_free(&b);
}

const struct tn_cmd tn_cmds_info[] = {
	{"info", -1, TN_CMD_LOADING | TN_CMD_STALE | TN_CMD_RANDOM, 0, 0, 0,
	 cmd_info, NULL, "slow dangerous", NULL,
	 "Get information and statistics about the server", "1.0.0",
	 "server"},
	{0},
};
