/*
 * test_lock.c - the segment's robust process-shared locks: exclusion
 * between processes, and recovery when a holder dies with the lock.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/shm.h"
#include "tests/unit/seg_fixture.h"

static int seg_fd = -1;

static void seg_setup(void)
{

	seg_fd = tn_test_seg_up(4, 2, 8u << 20, 12);
}

static void seg_teardown(void)
{
	tn_segment_destroy(seg_fd);
}

TestSuite(lock, .init = seg_setup, .fini = seg_teardown);

static void wait_child(pid_t pid, int *status)
{
	cr_assert_eq(waitpid(pid, status, 0), pid);
}

Test(lock, lock_unlock)
{
	pthread_mutex_t *m = &tn_stripe(0)->lock;

	cr_assert_eq(tn_lock(m), 0);
	/* Held: a second try from this thread must not get it. */
	cr_assert_eq(pthread_mutex_trylock(m), EBUSY);
	tn_unlock(m);
	cr_assert_eq(pthread_mutex_trylock(m), 0);
	tn_unlock(m);
}

Test(lock, holder_exits)
{
	pthread_mutex_t *m = &tn_stripe(1)->lock;
	int status;
	pid_t pid;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		_exit(tn_lock(m) == 0 ? 0 : 1);
	}
	wait_child(pid, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	cr_assert_eq(tn_lock(m), -EOWNERDEAD);
	tn_unlock(m);
	cr_assert_eq(tn_lock(m), 0, "lock not usable after recovery");
	tn_unlock(m);
}

Test(lock, holder_killed)
{
	pthread_mutex_t *m = &tn_stripe(2)->lock;
	int pfd[2], status;
	char b;
	pid_t pid;

	cr_assert_eq(pipe(pfd), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (tn_lock(m) != 0)
			_exit(1);
		if (write(pfd[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	cr_assert_eq(read(pfd[0], &b, 1), 1);
	cr_assert_eq(pthread_mutex_trylock(m), EBUSY, "child holds it");
	cr_assert_eq(kill(pid, SIGKILL), 0);
	wait_child(pid, &status);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(pfd[0]);
	close(pfd[1]);

	cr_assert_eq(tn_lock(m), -EOWNERDEAD);
	tn_unlock(m);

	/* Another process now gets it cleanly. */
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int r = tn_lock(m);

		tn_unlock(m);
		_exit(r == 0 ? 0 : 1);
	}
	wait_child(pid, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(tn_lock(m), 0);
	tn_unlock(m);
}

Test(lock, excludes_processes)
{
	enum { NPROC = 3, ROUNDS = 20000 };
	pthread_mutex_t *m = &tn_stripe(3)->lock;
	volatile uint64_t *counter = tn_ptr(tn_seg->config_off);
	pid_t pids[NPROC];
	int i, status;

	*counter = 0;
	for (i = 0; i < NPROC; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0);
		if (pids[i] == 0) {
			for (int k = 0; k < ROUNDS; k++) {
				uint64_t v;

				if (tn_lock(m))
					_exit(1);
				/* A torn read-modify-write would lose counts.
				 */
				v = *counter;
				if (k % 1000 == 0)
					sched_yield();
				*counter = v + 1;
				tn_unlock(m);
			}
			_exit(0);
		}
	}
	for (i = 0; i < NPROC; i++) {
		wait_child(pids[i], &status);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	cr_assert_eq(*counter, (uint64_t)NPROC * ROUNDS);
}

Test(lock, heap_holder_dies)
{
	struct heap_shm *h = tn_heap();
	int status;
	tn_off big;
	pid_t pid;

	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0)
		_exit(tn_lock(&h->lock) == 0 ? 0 : 1);
	wait_child(pid, &status);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	cr_assert_eq(atomic_load(&tn_seg->poisoned), 0);
	/* The allocator recovers the lock and reports the death. */
	big = tn_alloc(tn_heap_cache(0), 3 * TN_PAGE_SIZE);
	cr_assert_neq(big, 0);
	cr_assert_eq(atomic_load(&tn_seg->poisoned), 1);
	tn_free(big);
	cr_assert_eq(tn_heap_used(), 0);
}

Test(lock, init_fresh)
{
	pthread_mutex_t *m = tn_ptr(tn_seg->config_off + 64);

	cr_assert_eq(tn_lock_init(m), 0);
	cr_assert_eq(tn_lock(m), 0);
	tn_unlock(m);
	cr_assert_eq(tn_lock(&tn_seg->config_lock), 0);
	tn_unlock(&tn_seg->config_lock);
}
