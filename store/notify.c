/*
 * notify.c - keyspace notifications (notify-keyspace-events), Redis'
 * notifyKeyspaceEvent: "__keyspace@0__:<key>" carries the event name and
 * "__keyevent@0__:<event>" the key, published like any PUBLISH.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "store/store.h"
#include "util/util.h"

#define KEYSPACE_PREFIX "__keyspace@0__:"
#define KEYEVENT_PREFIX "__keyevent@0__:"
#define TN_NOTIFY_STACK_BYTES 256 /* channel names built on the stack */

static void publish_prefixed(const char *prefix, size_t plen,
			     const char *name, size_t nlen, const char *msg,
			     size_t mlen)
{
	char stack[TN_NOTIFY_STACK_BYTES], *ch = stack;

	if (plen + nlen > sizeof(stack)) {
		ch = malloc(plen + nlen);
		if (!ch)
			return; /* at most once, as Redis' pub/sub */
	}
	memcpy(ch, prefix, plen);
	memcpy(ch + plen, name, nlen);
	tn_publish(ch, plen + nlen, msg, mlen);
	if (ch != stack)
		free(ch);
}

void tn_notify(struct tn_ctx *x, int type, const char *event,
	       const struct tn_key *k)
{
	int flags;
	size_t elen;

	/* the common case: notifications off, one load */
	if (tn_unlikely(!tn_conf) ||
	    tn_likely(!((flags = tn_conf->notify_keyspace_events) & type)))
		return;
	elen = strlen(event);
	if (flags & TN_NOTIFY_KEYSPACE)
		publish_prefixed(KEYSPACE_PREFIX, sizeof(KEYSPACE_PREFIX) - 1,
				 k->p, k->len, event, elen);
	if (flags & TN_NOTIFY_KEYEVENT)
		publish_prefixed(KEYEVENT_PREFIX, sizeof(KEYEVENT_PREFIX) - 1,
				 event, elen, k->p, k->len);
}
