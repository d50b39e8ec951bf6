/*
 * buf.c - the growable byte buffer behind query and reply buffers:
 * doubling growth up to 1 MiB then linear, and a compaction that only
 * moves bytes when that frees at least as much as it copies.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/ipc.h"

#define TN_BUF_MIN_CAP 256
/* Past this, grow by this much instead of doubling (Redis' sds rule), so
 * a 512 MiB bulk does not reserve a second 512 MiB. */
#define TN_BUF_MAX_PREALLOC (1024 * 1024)
/* An empty buffer bigger than this is given back to the allocator. */
#define TN_BUF_KEEP_MAX (1024 * 1024)

int tn_buf_reserve(struct tn_buf *b, size_t extra)
{
	size_t need, cap;
	char *p;

	if (extra <= b->cap - b->len)
		return 0;
	if (extra > SIZE_MAX / 2 - b->len)
		return -ENOMEM;
	need = b->len + extra;
	if (need < TN_BUF_MAX_PREALLOC)
		cap = need * 2;
	else
		cap = need + TN_BUF_MAX_PREALLOC;
	if (cap < TN_BUF_MIN_CAP)
		cap = TN_BUF_MIN_CAP;
	p = realloc(b->data, cap);
	if (!p) {
		/* The slack was a nicety; try for exactly what was asked. */
		cap = need;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int tn_buf_append(struct tn_buf *b, const void *p, size_t n)
{
	int rc;

	if (n == 0)
		return 0;
	rc = tn_buf_reserve(b, n);
	if (rc)
		return rc;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

int tn_buf_printf(struct tn_buf *b, const char *fmt, ...)
{
	va_list ap, again;
	int n, rc;

	rc = tn_buf_reserve(b, 64);
	if (rc)
		return rc;
	va_start(ap, fmt);
	va_copy(again, ap);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		rc = -EINVAL;
		goto out;
	}
	if ((size_t)n >= b->cap - b->len) {
		/* vsnprintf needs room for its NUL, which we then drop. */
		rc = tn_buf_reserve(b, (size_t)n + 1);
		if (rc)
			goto out;
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, again);
	}
	b->len += (size_t)n;
out:
	va_end(again);
	return rc;
}

void tn_buf_compact(struct tn_buf *b)
{
	size_t pending = b->len - b->off;

	if (pending == 0) {
		b->off = b->len = 0;
		if (b->cap > TN_BUF_KEEP_MAX) {
			free(b->data);
			b->data = NULL;
			b->cap = 0;
		}
		return;
	}
	/* Copy only when it frees at least as many bytes as it moves, so the
	 * total copying stays linear in the bytes that pass through. */
	if (b->off == 0 || b->off < pending)
		return;
	memmove(b->data, b->data + b->off, pending);
	b->off = 0;
	b->len = pending;
}

void tn_buf_free(struct tn_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = b->off = 0;
}
