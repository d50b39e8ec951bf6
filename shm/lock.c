/*
 * lock.c - process-shared robust mutexes for the segment: a process that
 * dies holding one leaves it recoverable, and the next locker is told.
 */
#include <errno.h>
#include <pthread.h>

#include "shm/shm.h"

int tn_lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int r;

	r = pthread_mutexattr_init(&a);
	if (r)
		return -r;
	r = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (!r)
		r = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (!r)
		r = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return -r;
}

int tn_lock(pthread_mutex_t *m)
{
	int r = pthread_mutex_lock(m);

	if (__builtin_expect(r == 0, 1))
		return 0;
	if (r == EOWNERDEAD) {
		/* Keep the lock usable; what it guards is the caller's call. */
		pthread_mutex_consistent(m);
		return -EOWNERDEAD;
	}
	return -r;
}

void tn_unlock(pthread_mutex_t *m)
{
	pthread_mutex_unlock(m);
}
