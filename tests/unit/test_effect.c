/*
 * test_effect.c - the effect records commands leave in the log, as exact
 * RESP: one case per command family, MULTI/EXEC wrapping, expiry logged
 * as DEL, nothing for reads, and MISCONF while the AOF cannot be written.
 */
#include <criterion/criterion.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/daemon.h"
#include "store/cmds.h"
#include "util/util.h"

static int seg_fd = -1;
static struct tn_config conf;
static struct tn_client client;
static struct tn_buf out;

static void setup(void)
{
	struct tn_seg_params p = {
	    .nstripes = 4,
	    .nshards = 1,
	    .nclients = 4,
	    .heap_bytes = 32u << 20,
	    .config_bytes = 4096,
	    .key_at = TN_KENTRY_KEY_AT,
	};

	seg_fd = tn_segment_create(&p);
	cr_assert_geq(seg_fd, 0, "tn_segment_create: %d", seg_fd);
	tn_config_defaults(&conf);
	conf.appendonly = true;
	tn_conf = &conf;
	memset(&client, 0, sizeof(client));
	memset(&out, 0, sizeof(out));
	client.resp = 2;
	client.authenticated = true;
	client.slot = UINT32_MAX;
	client.reply.out = &out;
	client.reply.resp = 2;
	tn_stripes_held = TN_HELD_NONE;
}

static void teardown(void)
{
	tn_client_release(&client);
	free(client.khash);
	tn_buf_free(&out);
	tn_conf = NULL;
	if (tn_seg)
		tn_segment_destroy(seg_fd);
}

TestSuite(effect, .init = setup, .fini = teardown, .timeout = 30);

/* Run one command given as words; returns its reply (static buffer). */
static const char *run(const char *first, ...)
{
	static char reply[4096];
	struct tn_arg argv[32];
	const char *w = first;
	va_list ap;
	int argc = 0;

	va_start(ap, first);
	while (w && argc < 32) {
		argv[argc].p = w;
		argv[argc].len = strlen(w);
		argc++;
		w = va_arg(ap, const char *);
	}
	va_end(ap);
	out.off = out.len = 0;
	tn_dispatch(&client, argv, argc, 0);
	snprintf(reply, sizeof(reply), "%.*s", (int)out.len, out.data);
	return reply;
}

/* The next record of the log, released; "" when there is none. */
static char *next_record(void)
{
	static char rec[8192];
	const char *p;
	uint64_t pos;
	size_t len;

	p = tn_elog_peek(tn_elog(), &len, &pos);
	if (!p)
		return strcpy(rec, "");
	cr_assert_lt(len, sizeof(rec));
	memcpy(rec, p, len);
	rec[len] = '\0';
	tn_elog_release(tn_elog(), pos);
	return rec;
}

#define expect_record(want)                                                  \
	do {                                                                 \
		const char *got_ = next_record();                            \
		cr_expect_str_eq(got_, want);                                \
	} while (0)
#define expect_no_record() expect_record("")

#define MULTI "*1\r\n$5\r\nMULTI\r\n"
#define EXEC "*1\r\n$4\r\nEXEC\r\n"

static void set_expire_ms(const char *key, int64_t ms)
{
	struct tn_key k = tn_key_of(key, strlen(key));
	struct kentry_shm *e =
		tn_ptr(tn_dict_find(&k.s->keys, k.p, k.len, k.h));

	cr_assert_not_null(e);
	cr_assert_eq(tn_db_set_expire(k.s, e, ms), 0);
}

Test(effect, off_logs_nothing)
{
	conf.appendonly = false;
	cr_expect_str_eq(run("SET", "k", "v", NULL), "+OK\r\n");
	expect_no_record();
	cr_expect_eq(atomic_load(&tn_elog()->reserved), 0);
}

Test(effect, strings)
{
	cr_expect_str_eq(run("SET", "k", "v", NULL), "+OK\r\n");
	expect_record("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n");
	run("SET", "k", "w", "PXAT", "99999999999999", NULL);
	expect_record("*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nw\r\n$4\r\nPXAT\r\n"
		      "$14\r\n99999999999999\r\n");
	/* relative times become absolute */
	run("SETEX", "e", "100", "x", NULL);
	{
		const char *r = next_record();
		long long at;

		cr_assert_eq(sscanf(r, "*5\r\n$3\r\nSET\r\n$1\r\ne\r\n$1\r\nx"
				       "\r\n$4\r\nPXAT\r\n$13\r\n%lld",
				    &at),
			     1, "%s", r);
		cr_expect_geq(at, tn_mstime() + 99000);
		cr_expect_leq(at, tn_mstime() + 100000);
	}
	run("INCR", "n", NULL);
	expect_record("*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$1\r\n1\r\n");
	run("INCRBY", "n", "41", NULL);
	expect_record("*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$2\r\n42\r\n");
	run("APPEND", "n", "x", NULL);
	expect_record("*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$3\r\n42x\r\n");
	run("SETRANGE", "n", "0", "ab", NULL);
	expect_record("*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$3\r\nabx\r\n");
	run("GETSET", "n", "z", NULL);
	expect_record("*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$1\r\nz\r\n");
	run("GETDEL", "n", NULL);
	expect_record("*2\r\n$3\r\nDEL\r\n$1\r\nn\r\n");
	run("INCRBYFLOAT", "f", "1.5", NULL);
	expect_record("*3\r\n$3\r\nSET\r\n$1\r\nf\r\n$3\r\n1.5\r\n");
	run("GETEX", "f", "PXAT", "99999999999998", NULL);
	expect_record("*5\r\n$3\r\nSET\r\n$1\r\nf\r\n$3\r\n1.5\r\n$4\r\nPXAT"
		      "\r\n$14\r\n99999999999998\r\n");
	run("GETEX", "f", "PERSIST", NULL);
	expect_record("*3\r\n$3\r\nSET\r\n$1\r\nf\r\n$3\r\n1.5\r\n");
	/* a command that changed nothing logs nothing */
	cr_expect_str_eq(run("SETNX", "f", "2", NULL), ":0\r\n");
	run("SET", "f", "2", "NX", NULL);
	run("GETEX", "f", NULL);
	expect_no_record();
}

Test(effect, mset_is_wrapped)
{
	cr_expect_str_eq(run("MSET", "a", "1", "b", "2", NULL), "+OK\r\n");
	expect_record(MULTI "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
			    "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n" EXEC);
	cr_expect_str_eq(run("MSETNX", "a", "3", "c", "4", NULL), ":0\r\n");
	expect_no_record();
}

Test(effect, sets)
{
	cr_expect_str_eq(run("SADD", "s", "a", "b", "a", NULL), ":2\r\n");
	expect_record("*5\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\na\r\n$1\r\nb\r\n"
		      "$1\r\na\r\n");
	run("SADD", "s", "a", NULL);
	expect_no_record();
	run("SREM", "s", "b", "zz", NULL);
	expect_record("*4\r\n$4\r\nSREM\r\n$1\r\ns\r\n$1\r\nb\r\n$2\r\nzz\r\n");
	run("SREM", "s", "zz", NULL);
	expect_no_record();
	run("SMOVE", "s", "t", "a", NULL);
	expect_record(MULTI "*3\r\n$4\r\nSREM\r\n$1\r\ns\r\n$1\r\na\r\n"
			    "*3\r\n$4\r\nSADD\r\n$1\r\nt\r\n$1\r\na\r\n" EXEC);
	cr_expect_str_eq(run("SPOP", "t", NULL), "$1\r\na\r\n");
	expect_record("*3\r\n$4\r\nSREM\r\n$1\r\nt\r\n$1\r\na\r\n");
	run("SADD", "u", "1", "2", "3", NULL);
	next_record();
	run("SPOP", "u", "2", NULL);
	{
		/* whichever two were popped are the ones logged */
		const char *r = next_record();
		char rep[64];
		int a, b;

		snprintf(rep, sizeof(rep), "%.*s", (int)out.len, out.data);
		cr_assert_eq(sscanf(rep, "*2\r\n$1\r\n%d\r\n$1\r\n%d", &a, &b),
			     2, "%s", rep);
		snprintf(rep, sizeof(rep),
			 "*4\r\n$4\r\nSREM\r\n$1\r\nu\r\n$1\r\n%d\r\n$1\r\n%d"
			 "\r\n",
			 a, b);
		cr_expect_str_eq(r, rep);
	}
	run("SADD", "v", "x", "y", NULL);
	next_record();
	run("SINTERSTORE", "d", "v", "v", NULL);
	{
		const char *r = next_record();

		cr_expect(strcmp(r, MULTI "*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n"
					  "*4\r\n$4\r\nSADD\r\n$1\r\nd\r\n$1\r\nx"
					  "\r\n$1\r\ny\r\n" EXEC) == 0 ||
			      strcmp(r, MULTI "*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n"
					    "*4\r\n$4\r\nSADD\r\n$1\r\nd\r\n$1"
					    "\r\ny\r\n$1\r\nx\r\n" EXEC) == 0,
			  "%s", r);
	}
	run("SDIFFSTORE", "d", "v", "v", NULL);
	expect_record("*2\r\n$3\r\nDEL\r\n$1\r\nd\r\n");
	run("SADD", "w", "q", NULL);
	next_record();
	run("SUNIONSTORE", "i", "w", "nokey", NULL);
	expect_record(MULTI "*2\r\n$3\r\nDEL\r\n$1\r\ni\r\n"
			    "*3\r\n$4\r\nSADD\r\n$1\r\ni\r\n$1\r\nq\r\n"
			    EXEC);
}

Test(effect, keys)
{
	run("SET", "a", "1", NULL);
	next_record();
	cr_expect_str_eq(run("DEL", "a", "nope", NULL), ":1\r\n");
	expect_record("*2\r\n$3\r\nDEL\r\n$1\r\na\r\n");
	run("DEL", "nope", NULL);
	expect_no_record();
	run("SET", "a", "1", NULL);
	next_record();
	run("PEXPIREAT", "a", "99999999999999", NULL);
	expect_record("*3\r\n$9\r\nPEXPIREAT\r\n$1\r\na\r\n$14\r\n"
		      "99999999999999\r\n");
	run("PERSIST", "a", NULL);
	expect_record("*2\r\n$7\r\nPERSIST\r\n$1\r\na\r\n");
	run("PERSIST", "a", NULL);
	expect_no_record();
	run("RENAME", "a", "b", NULL);
	expect_record(MULTI "*2\r\n$3\r\nDEL\r\n$1\r\na\r\n"
			    "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n1\r\n" EXEC);
	run("SADD", "s", "m", NULL);
	next_record();
	run("PEXPIREAT", "s", "99999999999999", NULL);
	next_record();
	run("RENAME", "s", "t", NULL);
	expect_record(MULTI "*2\r\n$3\r\nDEL\r\n$1\r\ns\r\n"
			    "*2\r\n$3\r\nDEL\r\n$1\r\nt\r\n"
			    "*3\r\n$4\r\nSADD\r\n$1\r\nt\r\n$1\r\nm\r\n"
			    "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nt\r\n$14\r\n"
			    "99999999999999\r\n" EXEC);
	/* a time in the past deletes */
	run("EXPIRE", "b", "-1", NULL);
	expect_record("*2\r\n$3\r\nDEL\r\n$1\r\nb\r\n");
	run("SET", "a", "1", NULL);
	next_record();
	cr_expect_str_eq(run("FLUSHALL", NULL), "+OK\r\n");
	expect_record("*1\r\n$8\r\nFLUSHALL\r\n");
	expect_no_record();
}

Test(effect, transaction_is_one_record)
{
	cr_expect_str_eq(run("MULTI", NULL), "+OK\r\n");
	run("SET", "a", "1", NULL);
	run("GET", "a", NULL);
	run("SADD", "s", "x", NULL);
	expect_no_record();
	run("EXEC", NULL);
	expect_record(MULTI "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
			    "*3\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\nx\r\n" EXEC);
	/* a transaction of reads logs nothing */
	run("MULTI", NULL);
	run("GET", "a", NULL);
	run("EXEC", NULL);
	expect_no_record();
}

Test(effect, expiry_is_a_del)
{
	unsigned sampled;

	run("SET", "gone", "v", NULL);
	run("SET", "act", "v", NULL);
	next_record();
	next_record();
	set_expire_ms("gone", tn_mstime() - 10);
	/* a read that finds it expired logs its deletion, nothing else */
	cr_expect_str_eq(run("GET", "gone", NULL), "$-1\r\n");
	expect_record("*2\r\n$3\r\nDEL\r\n$4\r\ngone\r\n");
	cr_expect_str_eq(run("GET", "gone", NULL), "$-1\r\n");
	expect_no_record();
	/* active expiry: the walk unlock appends the stripe's batch */
	set_expire_ms("act", tn_mstime() - 10);
	{
		struct tn_key k = tn_key_of("act", 3);

		cr_assert(tn_stripe_walk_lock(k.s, true));
		cr_expect_eq(tn_expire_stripe(k.s, tn_mstime(),
					      tn_monotonic_us() + 100000,
					      &sampled),
			     1);
		expect_no_record();
		tn_stripe_walk_unlock(k.s);
	}
	expect_record("*2\r\n$3\r\nDEL\r\n$3\r\nact\r\n");
}

Test(effect, reads_log_nothing)
{
	run("SET", "a", "1", NULL);
	run("SADD", "s", "1", NULL);
	next_record();
	next_record();
	run("GET", "a", NULL);
	run("MGET", "a", "b", NULL);
	run("SMEMBERS", "s", NULL);
	run("EXISTS", "a", NULL);
	run("TTL", "a", NULL);
	run("KEYS", "*", NULL);
	run("SCAN", "0", NULL);
	run("DBSIZE", NULL);
	expect_no_record();
}

Test(effect, misconf_refuses_writes)
{
	atomic_store(&tn_elog()->write_errno, ENOSPC);
	cr_expect_str_eq(run("SET", "a", "1", NULL),
			 "-MISCONF Errors writing to the AOF file: No space "
			 "left on device\r\n");
	cr_expect_str_eq(run("PING", NULL),
			 "-MISCONF Errors writing to the AOF file: No space "
			 "left on device\r\n");
	cr_expect_str_eq(run("GET", "a", NULL), "$-1\r\n");
	run("MULTI", NULL);
	cr_expect_str_eq(run("SET", "a", "1", NULL),
			 "-MISCONF Errors writing to the AOF file: No space "
			 "left on device\r\n");
	cr_expect_str_eq(run("EXEC", NULL),
			 "-EXECABORT Transaction discarded because of "
			 "previous errors.\r\n");
	expect_no_record();
	atomic_store(&tn_elog()->write_errno, 0);
	cr_expect_str_eq(run("SET", "a", "1", NULL), "+OK\r\n");
	/* appendonly off: the journal's errors do not concern writes */
	atomic_store(&tn_elog()->write_errno, EIO);
	conf.appendonly = false;
	cr_expect_str_eq(run("SET", "a", "2", NULL), "+OK\r\n");
}

/* Two shards and the scheduler (wake index nshards): the journal's
 * durable advance wakes exactly the waiters whose bits are set. */
Test(effect, durable_wakes_waiting_shards)
{
	struct elog_shm *l = tn_elog();
	int fds[3], i, saved_n = tn_rt.nshards, *saved = tn_rt.shard_wake;
	uint64_t v;

	for (i = 0; i < 3; i++) {
		fds[i] = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		cr_assert_geq(fds[i], 0);
	}
	tn_rt.nshards = 2;
	tn_rt.shard_wake = fds;
	atomic_store(&l->shard_waiting, (1u << 1) | (1u << 2));
	tn_elog_publish_durable(100);
	cr_expect_eq(atomic_load(&l->durable), 100);
	cr_expect_eq(atomic_load(&l->shard_waiting), 0);
	cr_expect_lt(read(fds[0], &v, sizeof(v)), 0, "shard 0 did not wait");
	cr_expect_eq(read(fds[1], &v, sizeof(v)), sizeof(v), "shard 1 woken");
	cr_expect_eq(read(fds[2], &v, sizeof(v)), sizeof(v),
		     "the scheduler woken");
	tn_elog_publish_durable(50);
	cr_expect_eq(atomic_load(&l->durable), 100, "durable never goes back");
	cr_expect_lt(read(fds[1], &v, sizeof(v)), 0, "no bit, no wake");
	tn_rt.nshards = saved_n;
	tn_rt.shard_wake = saved;
	for (i = 0; i < 3; i++)
		close(fds[i]);
}

Test(effect, position_for_the_reply)
{
	uint64_t pos;

	tn_effect_take_pos();
	run("GET", "a", NULL);
	cr_expect_eq(tn_effect_take_pos(), 0);
	run("SET", "a", "1", NULL);
	pos = tn_effect_take_pos();
	cr_expect_eq(pos, atomic_load(&tn_elog()->reserved));
	cr_expect_eq(tn_effect_take_pos(), 0);
}

/* The counts in the headers are written without printf: every width,
 * from an empty argument to one of four digits, and an argc of two. */
Test(effect, header_counts)
{
	static char big[1000], want[1100];
	static const size_t lens[] = {0, 9, 10, 99, 100, 1000};
	size_t i;

	memset(big, 'v', sizeof(big));
	for (i = 0; i < TN_ARRAY_SIZE(lens); i++) {
		struct tn_arg argv[3] = {
		    {.p = "SET", .len = 3}, {.p = "k", .len = 1},
		    {.p = big, .len = lens[i]}};
		int h;

		out.off = out.len = 0;
		tn_dispatch(&client, argv, 3, 0);
		h = snprintf(want, sizeof(want),
			     "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%zu\r\n", lens[i]);
		memcpy(want + h, big, lens[i]);
		memcpy(want + h + lens[i], "\r\n", 3);
		expect_record(want);
	}
	/* twelve arguments: a two-digit argc */
	run("SADD", "s", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10",
	    NULL);
	expect_record("*12\r\n$4\r\nSADD\r\n$1\r\ns\r\n$1\r\n1\r\n$1\r\n2\r\n"
		      "$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n$1\r\n7\r\n"
		      "$1\r\n8\r\n$1\r\n9\r\n$2\r\n10\r\n");
}
