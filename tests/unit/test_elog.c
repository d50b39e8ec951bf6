/*
 * test_elog.c - the effect log on a MAP_SHARED ring: record order, the
 * padding at the wrap, chunks of a record bigger than the ring, several
 * producer processes at once, back-pressure on a full ring, the
 * journal wakes a shard defers to the end of its loop round, and the
 * journal's naps that only a producer short of room cuts short.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/shm.h"
#include "util/util.h"

#define AREA_HDR 4096u

static struct elog_shm *l;
static size_t area_bytes;
static _Atomic uint32_t *flag; /* for the back-pressure child */

/* A fake segment: the log header, a flag word, then the ring. */
static void make_log(uint64_t ring)
{
	char *a;

	area_bytes = AREA_HDR + ring;
	a = mmap(NULL, area_bytes, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(a, MAP_FAILED);
	tn_base = a;
	tn_seg = NULL;
	l = (struct elog_shm *)(a + 64);
	flag = (_Atomic uint32_t *)(a + 1024);
	cr_assert_eq(tn_elog_init(l, AREA_HDR, ring), 0);
}

/* A fresh 4 KB log made full: 4 x (8 + 1016) bytes. */
static void make_full_log(void)
{
	char buf[1016];
	int i;

	make_log(4096);
	memset(buf, 'x', sizeof(buf));
	for (i = 0; i < 4; i++)
		cr_assert_gt(tn_elog_append_to(l, buf, sizeof(buf)), 0);
}

static void drop_log(void)
{
	if (tn_base)
		munmap(tn_base, area_bytes);
	tn_base = NULL;
}

TestSuite(elog, .fini = drop_log, .timeout = 60);

/* Deterministic bytes for record `i` of producer `p`, `n` long. */
static void fill(char *buf, size_t n, unsigned p, unsigned i)
{
	size_t k;

	for (k = 0; k < n; k++)
		buf[k] = (char)('a' + (p * 7 + i * 13 + k) % 26);
}

Test(elog, init_rejects_bad_sizes)
{
	struct elog_shm x;

	cr_expect_eq(tn_elog_init(&x, 4096, 5000), -EINVAL);
	cr_expect_eq(tn_elog_init(&x, 4096, 1024), -EINVAL);
	cr_expect_eq(tn_elog_init(&x, 4097, 8192), -EINVAL);
	cr_expect_eq(tn_elog_init(&x, 0, 8192), -EINVAL);
}

Test(elog, records_in_order)
{
	char buf[600], *got;
	uint64_t cursor, pos, last = 0;
	size_t len;
	unsigned i;

	make_log(1u << 16);
	cr_expect_null(tn_elog_peek(l, &len, &pos));
	for (i = 0; i < 40; i++) {
		fill(buf, i * 13 + 1, 0, i);
		pos = tn_elog_append_to(l, buf, i * 13 + 1);
		cr_assert_gt(pos, last, "positions grow");
		cr_assert_eq(pos % 8, 0, "records are 8-byte aligned");
		last = pos;
	}
	cr_expect_eq(tn_elog_committed(l), last);
	cursor = 0;
	for (i = 0; i < 40; i++) {
		got = (char *)tn_elog_read(l, &cursor, &len);
		cr_assert_not_null(got, "record %u", i);
		cr_assert_eq(len, i * 13 + 1);
		fill(buf, len, 0, i);
		cr_assert_eq(memcmp(got, buf, len), 0, "record %u bytes", i);
	}
	cr_expect_null(tn_elog_read(l, &cursor, &len));
	cr_expect_eq(cursor, last);
	/* peek reads from `consumed`, which has not moved */
	got = (char *)tn_elog_peek(l, &len, &pos);
	cr_assert_not_null(got);
	cr_expect_eq(len, 1);
	tn_elog_release(l, last);
	cr_expect_null(tn_elog_peek(l, &len, &pos));
	cr_expect_eq(atomic_load(&l->consumed), last);
}

Test(elog, wrap_uses_padding)
{
	char buf[1500], *got;
	uint64_t pos, start;
	size_t len;
	unsigned i, pads = 0;

	make_log(4096);
	for (i = 0; i < 50; i++) {
		size_t n = 300 + (i * 211) % 1200;

		start = atomic_load(&l->reserved);
		fill(buf, n, 1, i);
		pos = tn_elog_append_to(l, buf, n);
		/* the record starts after a padding record when it would
		 * have crossed the end */
		if ((start & 4095) + 8 + n > 4096) {
			pads++;
			cr_assert_eq((pos - ((8 + n + 7) & ~(size_t)7)) & 4095, 0,
				     "record %u starts the ring", i);
		}
		got = (char *)tn_elog_peek(l, &len, &pos);
		cr_assert_not_null(got);
		cr_assert_eq(len, n);
		cr_assert_eq(memcmp(got, buf, n), 0, "record %u", i);
		tn_elog_release(l, pos);
	}
	cr_expect_gt(pads, 5, "the test wrapped (%u times)", pads);
	cr_expect_null(tn_elog_peek(l, &len, &pos));
}

Test(elog, max_record)
{
	make_log(8192);
	cr_expect_eq(tn_elog_max_record(l), 4096 - 8);
}

/* Read everything up to `total` body bytes into out, releasing as it
 * goes; fails the test after ~10 s without progress. */
static size_t drain(char *out, size_t total)
{
	size_t have = 0, len;
	uint64_t pos;
	const char *p;
	int idle = 0;

	while (have < total) {
		p = tn_elog_peek(l, &len, &pos);
		if (!p) {
			cr_assert_lt(++idle, 1000, "log stalled at %zu", have);
			tn_elog_wait(l, 10);
			continue;
		}
		idle = 0;
		cr_assert_leq(have + len, total);
		memcpy(out + have, p, len);
		have += len;
		tn_elog_release(l, pos);
	}
	return have;
}

Test(elog, big_record_is_chunked)
{
	size_t n = 20000;
	char *buf = malloc(n), *out = malloc(n);
	uint64_t pos;
	size_t len;
	pid_t pid;
	int st;

	make_log(4096);
	fill(buf, n, 2, 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* blocks until the parent frees room, chunk by chunk */
		_exit(tn_elog_append_to(l, buf, n) ? 0 : 1);
	}
	cr_assert_eq(drain(out, n), n);
	cr_expect_eq(memcmp(out, buf, n), 0, "chunks concatenate to the record");
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_expect_null(tn_elog_peek(l, &len, &pos));
	free(buf);
	free(out);
}

#define NPROD 4
#define PER_PROD 3000

Test(elog, producers_in_parallel)
{
	unsigned next[NPROD] = {0};
	pid_t pids[NPROD];
	unsigned done = 0, p, i;
	char buf[512];
	int idle = 0, st;

	make_log(1u << 14);
	for (p = 0; p < NPROD; p++) {
		pids[p] = fork();
		cr_assert_geq(pids[p], 0);
		if (pids[p] == 0) {
			for (i = 0; i < PER_PROD; i++) {
				/* "<p> <i> " then filler up to a length */
				size_t n = 20 + (i * 37 + p * 11) % 400;
				int h = snprintf(buf, sizeof(buf), "%u %u ", p,
						 i);

				fill(buf + h, n - (size_t)h, p, i);
				if (!tn_elog_append_to(l, buf, n))
					_exit(1);
			}
			_exit(0);
		}
	}
	while (done < NPROD * PER_PROD) {
		uint64_t pos;
		size_t len;
		const char *r = tn_elog_peek(l, &len, &pos);
		char want[512];
		unsigned rp, ri;
		int h;

		if (!r) {
			cr_assert_lt(++idle, 2000, "stalled after %u", done);
			tn_elog_wait(l, 10);
			continue;
		}
		idle = 0;
		cr_assert_eq(sscanf(r, "%u %u ", &rp, &ri), 2);
		cr_assert_lt(rp, NPROD);
		cr_assert_eq(ri, next[rp], "producer %u: record %u after %u",
			     rp, ri, next[rp]);
		h = snprintf(want, sizeof(want), "%u %u ", rp, ri);
		cr_assert_eq(len, 20 + (ri * 37 + rp * 11) % 400);
		fill(want + h, len - (size_t)h, rp, ri);
		cr_assert_eq(memcmp(r, want, len), 0, "bytes of %u/%u", rp,
			     ri);
		next[rp]++;
		done++;
		tn_elog_release(l, pos);
	}
	for (p = 0; p < NPROD; p++) {
		cr_assert_eq(waitpid(pids[p], &st, 0), pids[p]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		cr_expect_eq(next[p], PER_PROD);
	}
	{
		uint64_t pos;
		size_t len;

		cr_expect_null(tn_elog_peek(l, &len, &pos), "nothing extra");
	}
}

Test(elog, full_ring_blocks_until_release)
{
	uint64_t pos;
	size_t len;
	pid_t pid;
	int i, st;

	make_full_log();
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		uint64_t p = tn_elog_append_to(l, "late", 4);

		atomic_store(flag, 1);
		_exit(p ? 0 : 1);
	}
	/* the child must still be waiting a while later; nothing but a
	 * release can let it go */
	for (i = 0; i < 20; i++) {
		usleep(10000);
		cr_assert_eq(atomic_load(flag), 0, "appended into a full ring");
	}
	cr_assert_not_null(tn_elog_peek(l, &len, &pos));
	tn_elog_release(l, pos);
	for (i = 0; i < 1000 && !atomic_load(flag); i++)
		usleep(1000);
	cr_assert_eq(atomic_load(flag), 1, "release did not wake the producer");
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

Test(elog, wait_returns_when_a_record_arrives)
{
	int64_t t0;
	pid_t pid;
	int st;

	make_log(4096);
	t0 = tn_mstime();
	tn_elog_wait(l, 50);
	cr_expect_geq(tn_mstime() - t0, 40, "an empty log sleeps");
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* once the parent sleeps, append */
		while (!atomic_load(&l->journal_sleeping))
			usleep(100);
		_exit(tn_elog_append_to(l, "x", 1) ? 0 : 1);
	}
	t0 = tn_mstime();
	tn_elog_wait(l, 5000);
	cr_expect_lt(tn_mstime() - t0, 4000, "the producer woke the journal");
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A shard defers its wakes: appends leave a sleeping journal alone, one
 * flush wakes it once, and turning deferral off flushes. */
Test(elog, deferred_wakes_once_per_flush)
{
	uint32_t v;
	int i;

	make_log(4096);
	tn_elog_defer_wakes(true);
	atomic_store(&l->journal_sleeping, 1);
	v = atomic_load(&l->journal_futex);
	for (i = 0; i < 3; i++)
		cr_assert_gt(tn_elog_append_to(l, "rec", 3), 0);
	cr_expect_eq(atomic_load(&l->journal_sleeping), 1, "woken per record");
	cr_expect_eq(atomic_load(&l->journal_futex), v);
	tn_elog_flush_wakes();
	cr_expect_eq(atomic_load(&l->journal_sleeping), 0, "flush woke nobody");
	cr_expect_eq(atomic_load(&l->journal_futex), v + 1);
	/* nothing new: no second wake */
	atomic_store(&l->journal_sleeping, 1);
	tn_elog_flush_wakes();
	cr_expect_eq(atomic_load(&l->journal_futex), v + 1);
	cr_assert_gt(tn_elog_append_to(l, "rec", 3), 0);
	cr_expect_eq(atomic_load(&l->journal_futex), v + 1);
	tn_elog_defer_wakes(false);
	cr_expect_eq(atomic_load(&l->journal_futex), v + 2,
		     "turning deferral off must flush");
	/* not deferring: each append wakes a sleeping journal at once */
	atomic_store(&l->journal_sleeping, 1);
	cr_assert_gt(tn_elog_append_to(l, "rec", 3), 0);
	cr_expect_eq(atomic_load(&l->journal_futex), v + 3);
}

/*
 * A deferring producer that fills the ring wakes the journal before it
 * waits for room: a consumer that sleeps until woken (a long timeout)
 * still drains 16 rings' worth without ever sleeping it out.
 */
Test(elog, deferring_producer_on_a_full_ring_wakes_the_journal)
{
	enum { NREC = 512 };
	char buf[120];
	unsigned got = 0;
	pid_t pid;
	int st;

	make_log(4096);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		unsigned i;

		/* a failed parent must not leave us waiting for room */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		tn_elog_defer_wakes(true);
		for (i = 0; i < NREC; i++) {
			int h = snprintf(buf, sizeof(buf), "%u ", i);

			fill(buf + h, sizeof(buf) - (size_t)h, 0, i);
			if (!tn_elog_append_to(l, buf, sizeof(buf)))
				_exit(1);
		}
		tn_elog_defer_wakes(false); /* the last records' wake */
		_exit(0);
	}
	while (got < NREC) {
		uint64_t pos;
		size_t len;
		const char *r = tn_elog_peek(l, &len, &pos);
		unsigned ri;

		if (!r) {
			int64_t t0 = tn_mstime();

			tn_elog_wait(l, 10000);
			cr_assert_lt(tn_mstime() - t0, 5000,
				     "the journal slept with %u records read",
				     got);
			continue;
		}
		cr_assert_eq(len, sizeof(buf));
		cr_assert_eq(sscanf(r, "%u ", &ri), 1);
		cr_assert_eq(ri, got, "record %u after %u", ri, got);
		got++;
		tn_elog_release(l, pos);
	}
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/*
 * A napping journal (gathering a batch under appendfsync everysec) is
 * not woken by appends: its nap runs out by itself.  A producer short of
 * room does cut it short, or back-pressure would wait out every nap.
 */
Test(elog, nap_is_cut_short_only_by_a_producer_short_of_room)
{
	_Atomic int64_t *append_ms;
	int64_t t0, t1;
	uint64_t pos;
	size_t len;
	pid_t pid;
	int st;

	make_log(4096);
	append_ms = (_Atomic int64_t *)(tn_base + 2048);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		while (!atomic_load(&l->journal_sleeping))
			usleep(100);
		if (!tn_elog_append_to(l, "rec", 3))
			_exit(1);
		atomic_store(append_ms, tn_mstime());
		_exit(0);
	}
	t0 = tn_mstime();
	tn_elog_nap(l, tn_elog_seq(l), 400000);
	t1 = tn_mstime();
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_gt(atomic_load(append_ms), 0);
	cr_assert_lt(atomic_load(append_ms), t1 - 200,
		     "the append came late (%lld ms into a %lld ms nap)",
		     (long long)(atomic_load(append_ms) - t0),
		     (long long)(t1 - t0));
	cr_expect_geq(t1 - t0, 350, "an append cut the nap short (%lld ms)",
		      (long long)(t1 - t0));
	cr_assert_not_null(tn_elog_peek(l, &len, &pos));
	cr_assert_eq(len, 3);

	/* now a full ring (a fresh one: no padding in the way), and a
	 * producer that must wait for room */
	drop_log();
	make_full_log();
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		while (!atomic_load(&l->journal_sleeping))
			usleep(100);
		_exit(tn_elog_append_to(l, "late", 4) ? 0 : 1);
	}
	t0 = tn_mstime();
	tn_elog_nap(l, tn_elog_seq(l), 10 * 1000000);
	cr_expect_lt(tn_mstime() - t0, 5000,
		     "a producer short of room did not wake the nap");
	while (tn_elog_peek(l, &len, &pos) && len != 4)
		tn_elog_release(l, pos);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
