/*
 * seg_fixture.c - segment set-up and tear-down shared by the unit suites
 * that exercise shm/ and store/ code directly.
 */
#include <criterion/criterion.h>

#include "shm/shm.h"
#include "tests/unit/seg_fixture.h"

int tn_test_seg_up(uint32_t nstripes, uint32_t nshards, size_t heap_bytes,
		   uint32_t key_at)
{
	struct tn_seg_params p = {
	    .nstripes = nstripes,
	    .nshards = nshards,
	    .nclients = 4,
	    .heap_bytes = heap_bytes,
	    .config_bytes = 4096,
	    .key_at = key_at,
	};
	int fd = tn_segment_create(&p);

	cr_assert_geq(fd, 0, "tn_segment_create: %d", fd);
	return fd;
}

void tn_test_seg_down(int fd)
{
	if (tn_seg)
		tn_segment_destroy(fd);
}
