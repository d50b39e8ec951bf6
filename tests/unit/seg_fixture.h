/*
 * seg_fixture.h - a private shared-memory segment for unit tests that run
 * store or shm code in-process, without a supervisor.
 */
#ifndef TN_SEG_FIXTURE_H
#define TN_SEG_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

/* Create the segment (asserting on failure); returns its fd. */
int tn_test_seg_up(uint32_t nstripes, uint32_t nshards, size_t heap_bytes,
		   uint32_t key_at);
/* Destroy it if it exists (a no-op after a failed setup). */
void tn_test_seg_down(int fd);

#endif
