/*
 * repl.h - replication, shared by both sides: what a shard hands the
 * journal with a replica's socket, the replica link states, and the
 * master side's entry points (journal/repl_master.c).
 */
#ifndef TN_REPL_H
#define TN_REPL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define TN_REPL_ID_LEN 40 /* hex characters of a replication id */

/* REPLCONF capa ... */
#define TN_REPL_CAPA_EOF (1u << 0) /* disk-less $EOF:<mark> transfers */
#define TN_REPL_CAPA_PSYNC2 (1u << 1) /* +CONTINUE <replid> */

/* A replica link's state (repl_replica_shm.state), INFO's names. */
enum tn_repl_state {
	TN_REPL_FREE,
	TN_REPL_WAIT_BGSAVE, /* "wait_bgsave": the snapshot is being made */
	TN_REPL_SEND_BULK, /* "send_bulk": the RDB file goes out */
	TN_REPL_ONLINE, /* "online": the live stream */
};

/*
 * What a shard sends with a replica's socket after PSYNC or SYNC, over
 * tn_rt.repl_shard_sock[shard]; the journal answers the replica itself.
 */
struct tn_repl_handoff {
	uint32_t sync; /* SYNC: no +FULLRESYNC line, a sized bulk */
	uint32_t capa; /* TN_REPL_CAPA_* */
	int32_t listening_port; /* REPLCONF listening-port; 0: none */
	uint32_t spare;
	int64_t offset; /* PSYNC's offset; -1 for "?" or bad */
	char replid[TN_REPL_ID_LEN + 1]; /* PSYNC's replid, "?" */
	char ip[48]; /* REPLCONF ip-address, else the peer's */
	char addr[64]; /* the connection's ip:port, for logs */
};

/*
 * Master side (journal/repl_master.c), in the journal process.
 * Start the replication thread (sockets, backlog, full syncs).  0 or
 * -errno.
 */
int tn_repl_master_start(void);
/*
 * The drain thread: a batch of effect records (whole or chunked
 * records, in log order) is on its way to the AOF; append it to the
 * replication stream.  A no-op while no backlog exists.
 */
void tn_repl_feed(const struct iovec *iov, int n);

/*
 * WAIT numreplicas timeout, for a client the shard parks meanwhile: the
 * store side (store/t_repl.c) decides, the shard loop (daemon/shard.c)
 * keeps it and asks again whenever it is woken.
 */
struct tn_repl_wait {
	long long want; /* numreplicas */
	uint64_t logged; /* log position past the client's writes; 0: none */
	uint64_t target; /* stream offset to acknowledge, once `fed` */
	int64_t deadline_ms; /* 0: for ever */
	bool fed; /* the journal streamed `logged`: `target` is known */
	bool asked; /* GETACK requested */
};

/*
 * Progress of a wait (from the shard, at any time): true when it is
 * over, with *acked the count to reply.  While it is not, the caller
 * must be woken by the journal's durable advance (until `fed`) and by
 * replica ACKs (tn_seg->repl_ack_waiting).
 */
bool tn_repl_wait_check(struct tn_repl_wait *w, int64_t now,
			long long *acked);
/*
 * The shard loop (daemon/shard.c): park the client on `w` (copied): no
 * further command of it runs before the wait's reply.  0, or -ENOTSUP
 * for a client no shard loop serves (the caller replies at once).
 */
struct tn_client;
int tn_shard_wait_park(struct tn_client *c, const struct tn_repl_wait *w);
/* The log position past the client's last logged write (0: none). */
uint64_t tn_shard_client_wpos(const struct tn_client *c);

struct tn_buf;
/*
 * INFO replication's replica lines (store/t_repl.c): connected_slaves,
 * min_slaves_good_slaves when min-replicas-to-write is on, slaveN.  A
 * replica with replicas of its own prints them too.  0 or -ENOMEM.
 */
int tn_repl_info_slaves(struct tn_buf *b);

#endif
