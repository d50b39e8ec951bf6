/*
 * test_ring.c - the pub/sub inbox ring (shm/ring.c): records of every
 * size, wraparound behind padding, a full ring refusing and counting,
 * the wake flag, and a producer and a consumer in two processes.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/shm.h"

#define RING_BYTES 4096u
#define REGION_BYTES (2 * RING_BYTES)
#define DATA_OFF RING_BYTES

static char *region;
static struct ring_shm *ring;

/* A MAP_SHARED region standing in for the segment: the ring header at
 * offset 64, its data from DATA_OFF.  Shared, so a fork sees it too. */
static void setup(void)
{
	region = mmap(NULL, REGION_BYTES, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	cr_assert_neq(region, MAP_FAILED);
	tn_base = region;
	ring = (struct ring_shm *)(region + 64);
	cr_assert_eq(tn_ring_init(ring, DATA_OFF, RING_BYTES), 0);
}

static void teardown(void)
{
	munmap(region, REGION_BYTES);
	tn_base = NULL;
}

TestSuite(ring, .init = setup, .fini = teardown);

/* Deterministic bytes for record `seq` of length len. */
static void fill(char *p, size_t len, uint32_t seq)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)(seq * 31 + i * 7);
}

static bool same(const char *p, size_t len, uint32_t seq)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (char)(seq * 31 + i * 7))
			return false;
	return true;
}

static int push_bytes(uint32_t kind, const void *p, size_t len)
{
	struct iovec iov = {(void *)p, len};

	return tn_ring_push(ring, kind, &iov, 1);
}

Test(ring, init_checks_its_arguments)
{
	struct ring_shm r;

	cr_expect_eq(tn_ring_init(&r, DATA_OFF, 1000), -EINVAL, "not 2^n");
	cr_expect_eq(tn_ring_init(&r, DATA_OFF, 2048), -EINVAL, "too small");
	cr_expect_eq(tn_ring_init(&r, 0, 4096), -EINVAL, "no data");
	cr_expect_eq(tn_ring_init(&r, DATA_OFF + 4, 4096), -EINVAL,
		     "unaligned data");
	cr_expect_eq(tn_ring_init(&r, DATA_OFF, 1u << 20), 0);
	cr_expect_eq(tn_ring_max_record(&r), (1u << 19) - 8);
}

Test(ring, empty_then_one_record)
{
	uint32_t kind = 0;
	size_t len = 1;
	const char *p;

	cr_expect_null(tn_ring_peek(ring, &kind, &len));
	cr_expect_eq(tn_ring_used(ring), 0);
	cr_assert_eq(push_bytes(7, "hello", 5), 0);
	cr_expect_eq(tn_ring_used(ring), 16, "8 header + 5 padded to 8");
	p = tn_ring_peek(ring, &kind, &len);
	cr_assert_not_null(p);
	cr_expect_eq(kind, 7);
	cr_expect_eq(len, 5);
	cr_expect_eq(memcmp(p, "hello", 5), 0);
	/* peek again: the same record until it is popped */
	cr_expect_eq(tn_ring_peek(ring, &kind, &len), p);
	tn_ring_pop(ring);
	cr_expect_null(tn_ring_peek(ring, &kind, &len));
	cr_expect_eq(tn_ring_used(ring), 0);
	cr_expect_eq(ring->pushed, 1);
}

Test(ring, iovecs_are_concatenated)
{
	struct iovec iov[3] = {{"ab", 2}, {"", 0}, {"cde", 3}};
	uint32_t kind;
	size_t len;
	const char *p;

	cr_assert_eq(tn_ring_push(ring, 1, iov, 3), 0);
	p = tn_ring_peek(ring, &kind, &len);
	cr_assert_not_null(p);
	cr_expect_eq(len, 5);
	cr_expect_eq(memcmp(p, "abcde", 5), 0);
}

/* Every size from 0 to the max, one at a time: the position walks round
 * the ring many times, and records that do not fit before the end go to
 * the start behind a padding record. */
Test(ring, every_size_up_to_the_max)
{
	size_t max = tn_ring_max_record(ring), n, len;
	static char buf[RING_BYTES];
	uint32_t kind;
	const char *p;

	cr_assert_eq(max, RING_BYTES / 2 - TN_RING_HEADER_BYTES);
	for (n = 0; n <= max; n++) {
		fill(buf, n, (uint32_t)n);
		cr_assert_eq(push_bytes((uint32_t)n, buf, n), 0, "size %zu",
			     n);
		p = tn_ring_peek(ring, &kind, &len);
		cr_assert_not_null(p, "size %zu", n);
		cr_assert_eq(kind, n);
		cr_assert_eq(len, n);
		cr_assert(same(p, n, (uint32_t)n), "size %zu: bytes differ", n);
		/* the record lies whole inside the data area */
		cr_assert_geq(p, region + DATA_OFF);
		cr_assert_leq(p + n, region + DATA_OFF + RING_BYTES);
		tn_ring_pop(ring);
	}
	cr_expect_gt(atomic_load(&ring->tail), 100 * RING_BYTES,
		     "went round many times");
	cr_expect_eq(tn_ring_used(ring), 0);
	cr_expect_eq(atomic_load(&ring->dropped), 0);
	cr_expect_eq(push_bytes(1, buf, max + 1), -EMSGSIZE);
}

/* Two records of different sizes in flight at every offset. */
Test(ring, wraparound_keeps_order)
{
	static char buf[600];
	uint32_t seq, want = 0, kind;
	size_t len;
	const char *p;

	for (seq = 0; seq < 5000; seq++) {
		size_t n = (seq * 37) % sizeof(buf);

		fill(buf, n, seq);
		while (push_bytes(seq, buf, n) == -ENOSPC) {
			p = tn_ring_peek(ring, &kind, &len);
			cr_assert_not_null(p);
			cr_assert_eq(kind, want);
			cr_assert_eq(len, (want * 37) % sizeof(buf));
			cr_assert(same(p, len, want));
			tn_ring_pop(ring);
			want++;
		}
		cr_assert_leq(tn_ring_used(ring), RING_BYTES);
	}
	while ((p = tn_ring_peek(ring, &kind, &len))) {
		cr_assert_eq(kind, want);
		cr_assert(same(p, len, want));
		tn_ring_pop(ring);
		want++;
	}
	cr_expect_eq(want, 5000);
}

Test(ring, full_ring_refuses_and_counts)
{
	char rec[504]; /* 512 bytes a record with its header */
	uint32_t i, kind;
	size_t len;

	memset(rec, 'x', sizeof(rec));
	for (i = 0; i < RING_BYTES / 512; i++)
		cr_assert_eq(push_bytes(i, rec, sizeof(rec)), 0, "record %u",
			     i);
	cr_expect_eq(tn_ring_used(ring), RING_BYTES);
	cr_expect_eq(push_bytes(99, rec, sizeof(rec)), -ENOSPC);
	cr_expect_eq(push_bytes(99, "", 0), -ENOSPC, "not even a header");
	cr_expect_eq(atomic_load(&ring->dropped), 2);
	/* what was in stays intact and in order */
	cr_assert_not_null(tn_ring_peek(ring, &kind, &len));
	cr_expect_eq(kind, 0);
	tn_ring_pop(ring);
	cr_expect_eq(push_bytes(8, rec, sizeof(rec)), 0, "room again");
	for (i = 1; i <= 8; i++) {
		cr_assert_not_null(tn_ring_peek(ring, &kind, &len));
		cr_expect_eq(kind, i);
		tn_ring_pop(ring);
	}
	cr_expect_null(tn_ring_peek(ring, &kind, &len));
}

/* A record that fits in total but not before the end waits for room
 * for the padding too. */
Test(ring, padding_counts_against_the_room)
{
	char rec[1528];
	uint32_t kind;
	size_t len;

	memset(rec, 'p', sizeof(rec));

	cr_assert_eq(push_bytes(1, rec, 1016), 0);
	cr_assert_eq(push_bytes(2, rec, 1016), 0);
	cr_assert_eq(push_bytes(3, rec, 1016), 0);
	/* 3072 used; pop two: 1024 used at [2048, 3072) */
	tn_ring_peek(ring, &kind, &len);
	tn_ring_pop(ring);
	tn_ring_peek(ring, &kind, &len);
	tn_ring_pop(ring);
	/* 1024 free before the end, 2048 after the start: a 1536-byte
	 * record pads 1024 and takes 1536 at the start */
	cr_assert_eq(push_bytes(4, rec, 1528), 0);
	cr_expect_eq(tn_ring_used(ring), 1024 + 1024 + 1536);
	/* now 512 remain: a 512-byte record fits, one more byte does not */
	cr_expect_eq(push_bytes(5, rec, 505), -ENOSPC);
	cr_expect_eq(push_bytes(5, rec, 504), 0);
	cr_assert_not_null(tn_ring_peek(ring, &kind, &len));
	cr_expect_eq(kind, 3);
	tn_ring_pop(ring);
	cr_assert_not_null(tn_ring_peek(ring, &kind, &len));
	cr_expect_eq(kind, 4, "the padding is skipped");
	cr_expect_eq(len, 1528);
}

Test(ring, wake_flag_batches_wakes)
{
	cr_expect(tn_ring_wake_claim(ring), "first record wakes");
	cr_expect_not(tn_ring_wake_claim(ring), "already woken");
	cr_expect_not(tn_ring_wake_claim(ring));
	tn_ring_wake_reset(ring);
	cr_expect(tn_ring_wake_claim(ring), "drained: wake again");
}

/* Producers that found the ring full are told, once each, by bit. */
Test(ring, space_requests_are_claimed_once)
{
	cr_expect_eq(tn_ring_space_claim(ring), 0, "nobody asked");
	tn_ring_want_space(ring, 1);
	tn_ring_want_space(ring, 5);
	tn_ring_want_space(ring, 5);
	tn_ring_want_space(ring, 33); /* shares bit 1 */
	cr_expect_eq(tn_ring_space_claim(ring), (1u << 1) | (1u << 5));
	cr_expect_eq(tn_ring_space_claim(ring), 0, "claimed: cleared");
	tn_ring_want_space(ring, 31);
	cr_expect_eq(tn_ring_space_claim(ring), 1u << 31);
}

#define XPROC_RECORDS 200000u

/* The producer in a child process, the consumer here: every record
 * arrives once, in order, intact, through a ring far smaller than the
 * stream. */
Test(ring, producer_and_consumer_in_two_processes, .timeout = 60)
{
	static char buf[300];
	uint32_t want = 0, kind;
	size_t len;
	const char *p;
	int status;
	pid_t pid;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		uint32_t seq;

		for (seq = 0; seq < XPROC_RECORDS; seq++) {
			size_t n = (seq * 13) % sizeof(buf);

			fill(buf, n, seq);
			while (push_bytes(seq, buf, n) == -ENOSPC)
				sched_yield();
		}
		_exit(0);
	}
	while (want < XPROC_RECORDS) {
		p = tn_ring_peek(ring, &kind, &len);
		if (!p) {
			sched_yield();
			continue;
		}
		cr_assert_eq(kind, want);
		cr_assert_eq(len, (want * 13) % sizeof(buf));
		cr_assert(same(p, len, want), "record %u corrupted", want);
		tn_ring_pop(ring);
		want++;
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_expect_null(tn_ring_peek(ring, &kind, &len));
	cr_expect_eq(ring->pushed, XPROC_RECORDS);
}
