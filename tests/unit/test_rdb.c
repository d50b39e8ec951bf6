/*
 * test_rdb.c - RDB files on a real segment: CRC-64 and LZF against
 * known values, snapshot then load round trips of every value encoding,
 * and every kind of damage (bad magic, unknown opcode, huge lengths, a
 * torn tail at each byte, flipped bytes) rejected with an offset.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/journal.h"
#include "store/cmds.h"
#include "tests/unit/seg_fixture.h"
#include "util/util.h"

static int seg_fd = -1;
static struct tn_config conf;
static struct tn_client client;
static struct tn_buf out;
static struct tn_ctx ctx;
static char dir[64];
static char path[128];

static void setup(void)
{

	seg_fd = tn_test_seg_up(64, 2, 64u << 20, TN_KENTRY_KEY_AT);
	tn_config_defaults(&conf);
	tn_conf = &conf;
	memset(&client, 0, sizeof(client));
	memset(&out, 0, sizeof(out));
	client.resp = 2;
	client.authenticated = true;
	client.slot = UINT32_MAX;
	client.reply.out = &out;
	client.reply.resp = 2;
	tn_stripes_held = TN_HELD_NONE;
	ctx = (struct tn_ctx){.c = &client, .now_ms = tn_mstime()};
	strcpy(dir, "/tmp/tn-rdb-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dump.rdb", dir);
}

static void teardown(void)
{
	char cmd[160];

	tn_client_release(&client);
	free(client.khash);
	tn_buf_free(&out);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	tn_test_seg_down(seg_fd);
	tn_conf = NULL;
}

TestSuite(rdb_unit, .init = setup, .fini = teardown, .timeout = 60);

/* ------------------------------------------------------------------ */
/* CRC-64 and LZF                                                       */
/* ------------------------------------------------------------------ */

Test(rdb_unit, crc64_check_value)
{
	const char *s = "123456789";

	cr_assert_eq(tn_crc64(0, s, 9), 0xe9c6d914c4b8d9caULL);
	/* chained calls give the same value as one */
	cr_assert_eq(tn_crc64(tn_crc64(0, s, 4), s + 4, 5),
		     0xe9c6d914c4b8d9caULL);
	cr_assert_eq(tn_crc64(0, "", 0), 0);
}

static void lzf_round(const char *in, size_t len)
{
	size_t cap = len + len / 16 + 64;
	char *c = malloc(cap), *d = malloc(len + 1);
	size_t clen = tn_lzf_compress(in, len, c, cap);

	cr_assert_gt(clen, 0, "compress %zu bytes", len);
	cr_assert_eq(tn_lzf_decompress(c, clen, d, len), (ssize_t)len);
	cr_assert_eq(memcmp(in, d, len), 0);
	/* one byte short of room is refused, not overrun */
	cr_assert_eq(tn_lzf_decompress(c, clen, d, len - 1), -1);
	free(c);
	free(d);
}

Test(rdb_unit, lzf_round_trips)
{
	size_t n = 200000, i;
	char *buf = malloc(n);
	uint64_t x = 88172645463325252ULL;

	lzf_round("a", 1);
	lzf_round("abcabcabcabcabcabcabcabcabcabc", 30);
	memset(buf, 'x', n);
	lzf_round(buf, n);
	for (i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (char)(x % 7 ? 'a' + x % 5 : x >> 24);
	}
	lzf_round(buf, n);
	for (i = 0; i < n; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (char)x;
	}
	lzf_round(buf, n);
	/* random data does not shrink: no room, no output */
	cr_assert_eq(tn_lzf_compress(buf, 1000, buf + 2000, 996), 0);
	/* a long run compresses well */
	memset(buf, 'y', 10000);
	cr_assert_lt(tn_lzf_compress(buf, 10000, buf + 20000, 9996), 200);
	free(buf);
}

Test(rdb_unit, lzf_corrupt_input)
{
	char dst[64];
	/* a literal run of 5 with 2 bytes */
	const unsigned char torn[] = {4, 'a', 'b'};
	/* a back reference before the start */
	const unsigned char back[] = {0, 'a', 0x20, 0x05};
	/* a long back reference missing its length byte */
	const unsigned char nolen[] = {0, 'a', 0xe0};

	cr_assert_eq(tn_lzf_decompress(torn, sizeof(torn), dst, 64), -1);
	cr_assert_eq(tn_lzf_decompress(back, sizeof(back), dst, 64), -1);
	cr_assert_eq(tn_lzf_decompress(nolen, sizeof(nolen), dst, 64), -1);
}

/* ------------------------------------------------------------------ */
/* Round trips through the segment                                      */
/* ------------------------------------------------------------------ */

static struct kentry_shm *get(const char *name)
{
	struct tn_key k = tn_key_of(name, strlen(name));

	return tn_ptr(tn_dict_find(&k.s->keys, k.p, k.len, k.h));
}

static void set_str(const char *name, const char *v, size_t len,
		    int64_t expire)
{
	struct tn_key k = tn_key_of(name, strlen(name));
	struct kentry_shm *e = tn_db_set_string(&ctx, &k, v, len, false);

	cr_assert_not_null(e);
	if (expire >= 0)
		cr_assert_eq(tn_db_set_expire(k.s, e, expire), 0);
}

/* SADD through dispatch, so the set gets its usual encoding. */
static void sadd(const char *name, int n, const char *const *m)
{
	struct tn_arg argv[80];
	int i;

	argv[0] = (struct tn_arg){.p = "sadd", .len = 4};
	argv[1] = (struct tn_arg){.p = name, .len = strlen(name)};
	for (i = 0; i < n; i++)
		argv[2 + i] = (struct tn_arg){.p = m[i], .len = strlen(m[i])};
	out.off = out.len = 0;
	tn_dispatch(&client, argv, n + 2, 0);
	cr_assert(out.len > 0 && out.data[0] == ':', "%.*s", (int)out.len,
		  out.data);
}

static bool set_has(struct kentry_shm *e, const char *m)
{
	tn_off off;
	long long v;

	memcpy(&off, tn_kentry_val(e), sizeof(off));
	if (e->enc == TN_E_INTSET)
		return tn_str2ll(m, strlen(m), &v) &&
		       tn_intset_find(tn_ptr(off), v, NULL);
	return tn_dict_find(tn_ptr(off), m, strlen(m),
			    tn_hash(m, strlen(m))) != 0;
}

static uint64_t set_card(struct kentry_shm *e)
{
	tn_off off;

	memcpy(&off, tn_kentry_val(e), sizeof(off));
	if (e->enc == TN_E_INTSET)
		return ((struct intset_shm *)tn_ptr(off))->count;
	return tn_dict_size(tn_ptr(off));
}

static void save_to(const char *p, bool aof_base)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint64_t written = 0;
	struct stat st;

	cr_assert_geq(fd, 0);
	cr_assert_eq(tn_snapshot_rdb(fd, aof_base, &written), 0);
	close(fd);
	cr_assert_eq(stat(p, &st), 0);
	cr_assert_eq((uint64_t)st.st_size, written);
}

static const char *const ints[] = {"1", "-7", "300", "70000", "-2147483649",
				   "9223372036854775807"};
static const char *const words[] = {"alpha", "beta", "12", "gamma delta",
				    "0x10", ""};

static void fill(void)
{
	char big[5000];
	int64_t later = tn_mstime() + 3600 * 1000;

	memset(big, 'z', sizeof(big));
	memcpy(big, "head", 4);
	set_str("s:plain", "hello", 5, -1);
	set_str("s:int8", "-100", 4, -1);
	set_str("s:int16", "30000", 5, -1);
	set_str("s:int32", "-2000000000", 11, -1);
	set_str("s:notint", "007", 3, -1);
	set_str("s:big", "9223372036854775807", 19, -1);
	set_str("s:lzf", big, sizeof(big), later);
	set_str("s:empty", "", 0, -1);
	set_str("s:gone", "x", 1, tn_mstime() - 1000);
	set_str("12345", "numeric key", 11, later + 1);
	sadd("set:ints", 6, ints);
	sadd("set:words", 6, words);
	sadd("set:small", 2, (const char *const[]){"3", "1"});
}

static void verify(void)
{
	struct kentry_shm *e;
	int i;

	e = get("s:plain");
	cr_assert(e && e->vlen == 5 && !memcmp(tn_kentry_val(e), "hello", 5));
	cr_assert_eq(e->expire_ms, -1);
	e = get("s:int8");
	cr_assert(e && e->vlen == 4 && !memcmp(tn_kentry_val(e), "-100", 4));
	e = get("s:int16");
	cr_assert(e && e->vlen == 5 && !memcmp(tn_kentry_val(e), "30000", 5));
	e = get("s:int32");
	cr_assert(e && e->vlen == 11 &&
		  !memcmp(tn_kentry_val(e), "-2000000000", 11));
	e = get("s:notint");
	cr_assert(e && e->vlen == 3 && !memcmp(tn_kentry_val(e), "007", 3));
	e = get("s:big");
	cr_assert(e && e->vlen == 19);
	e = get("s:empty");
	cr_assert(e && e->vlen == 0 && e->type == TN_T_STRING);
	e = get("s:lzf");
	cr_assert(e && e->vlen == 5000 && !memcmp(tn_kentry_val(e), "headz", 5));
	cr_assert_eq(tn_kentry_val(e)[4999], 'z');
	cr_assert_gt(e->expire_ms, tn_mstime());
	cr_assert_null(get("s:gone"));
	e = get("12345");
	cr_assert(e && e->expire_ms > tn_mstime());
	e = get("set:ints");
	cr_assert(e && e->type == TN_T_SET && e->enc == TN_E_INTSET);
	cr_assert_eq(set_card(e), 6);
	for (i = 0; i < 6; i++)
		cr_assert(set_has(e, ints[i]), "member %s", ints[i]);
	e = get("set:words");
	cr_assert(e && e->type == TN_T_SET && e->enc == TN_E_HT);
	cr_assert_eq(set_card(e), 6);
	for (i = 0; i < 6; i++)
		cr_assert(set_has(e, words[i]), "member '%s'", words[i]);
	e = get("set:small");
	cr_assert(e && e->enc == TN_E_INTSET && set_card(e) == 2);
	cr_assert_eq(tn_db_size(), 12);
}

Test(rdb_unit, round_trip_every_encoding)
{
	uint64_t loaded = 0, expired = 0;
	char err[256] = "";
	off_t good;

	fill();
	save_to(path, false);
	cr_assert_eq(tn_rdb_check_file(path, &good, err, sizeof(err)), 0,
		     "%s", err);
	tn_db_flush_all(&ctx);
	cr_assert_eq(tn_db_size(), 0);
	cr_assert_eq(tn_rdb_load_file(path, &loaded, &expired, err,
				      sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(loaded, 12);
	cr_assert_eq(expired, 0);
	verify();
	/* loading again over the same keys is refused, naming one */
	cr_assert_eq(tn_rdb_load_file(path, NULL, NULL, err, sizeof(err)), -1);
	cr_assert(strstr(err, "duplicated key"), "%s", err);
}

Test(rdb_unit, uncompressed_and_unchecksummed)
{
	char err[256] = "";
	unsigned char tail[8], zero[8] = {0};
	int fd;

	tn_conf->rdbcompression = false;
	tn_conf->rdbchecksum = false;
	fill();
	save_to(path, true);
	fd = open(path, O_RDONLY);
	cr_assert_eq(pread(fd, tail, 8, lseek(fd, -8, SEEK_END)), 8);
	close(fd);
	cr_assert_eq(memcmp(tail, zero, 8), 0);
	tn_db_flush_all(&ctx);
	cr_assert_eq(tn_rdb_load_file(path, NULL, NULL, err, sizeof(err)), 0,
		     "%s", err);
	verify();
}

Test(rdb_unit, expired_keys_skipped_on_load)
{
	uint64_t loaded = 0, expired = 0;
	char err[256];
	int64_t soon = tn_mstime() + 150;

	set_str("keep", "1", 1, -1);
	set_str("short", "1", 1, soon);
	save_to(path, false);
	tn_db_flush_all(&ctx);
	while (tn_mstime() <= soon + 1)
		usleep(10000);
	cr_assert_eq(tn_rdb_load_file(path, &loaded, &expired, err,
				      sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(loaded, 1);
	cr_assert_eq(expired, 1);
	cr_assert_null(get("short"));
	cr_assert_not_null(get("keep"));
}

Test(rdb_unit, resp_snapshot)
{
	char buf[4096];
	int fd;
	ssize_t n;
	const char *m[70];
	char names[70][16];
	int i;

	for (i = 0; i < 70; i++) {
		snprintf(names[i], sizeof(names[i]), "m%d", i);
		m[i] = names[i];
	}
	sadd("big", 70, m);
	set_str("k", "v", 1, 1999999999000LL);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	cr_assert_eq(tn_snapshot_resp(fd, NULL), 0);
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	cr_assert_gt(n, 0);
	buf[n] = 0;
	cr_assert(strstr(buf, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"));
	cr_assert(strstr(buf, "*3\r\n$9\r\nPEXPIREAT\r\n$1\r\nk\r\n"
			      "$13\r\n1999999999000\r\n"));
	/* 70 members: one SADD of 64, one of 6 */
	cr_assert(strstr(buf, "*66\r\n$4\r\nSADD\r\n$3\r\nbig\r\n"));
	cr_assert(strstr(buf, "*8\r\n$4\r\nSADD\r\n$3\r\nbig\r\n"));
}

/* ------------------------------------------------------------------ */
/* Damage                                                               */
/* ------------------------------------------------------------------ */

static void write_bytes(const char *p, const void *d, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, d, n), (ssize_t)n);
	close(fd);
}

static char *read_all(const char *p, size_t *n)
{
	struct stat st;
	char *d;
	int fd = open(p, O_RDONLY);

	cr_assert_geq(fd, 0);
	fstat(fd, &st);
	d = malloc((size_t)st.st_size);
	cr_assert_eq(read(fd, d, (size_t)st.st_size), st.st_size);
	close(fd);
	*n = (size_t)st.st_size;
	return d;
}

/* The file is refused, with an offset in the message containing `what`. */
static void refused(const void *d, size_t n, const char *what)
{
	char err[256] = "";
	off_t good = -1;

	write_bytes(path, d, n);
	cr_assert_eq(tn_rdb_check_file(path, &good, err, sizeof(err)), -1,
		     "accepted, wanted '%s'", what);
	cr_assert(!strncmp(err, "offset ", 7), "%s", err);
	cr_assert(strstr(err, what), "'%s' lacks '%s'", err, what);
	cr_assert(good >= 0 && (size_t)good <= n);
	cr_assert_eq(tn_rdb_load_file(path, NULL, NULL, err, sizeof(err)), -1);
}

Test(rdb_unit, malformed_classes)
{
	/* REDIS0010, then the body */
	static const unsigned char opcode[] = "REDIS0010\x42";
	static const unsigned char huge[] = "REDIS0010\x00\x81\x7f\xff\xff\xff"
					    "\xff\xff\xff\xff";
	static const unsigned char big32[] = "REDIS0010\x00\x80\x00\x0f\xff\xf0";
	static const unsigned char hash[] = "REDIS0010\x04\x01h\x01\x01a\x01b"
					    "\xff";
	static const unsigned char db1[] = "REDIS0010\xfe\x01\x00\x01k\x01v\xff";
	static const unsigned char func[] = "REDIS0010\xf5";
	static const unsigned char modaux[] = "REDIS0010\xf7";
	static const unsigned char badint[] = "REDIS0010\x0b\x01s\x08"
					      "\x03\x00\x00\x00\x00\x00\x00\x00";
	static const unsigned char badenc[] = "REDIS0010\x00\x01k\xc7";

	refused("RDBX0010\xff", 9, "bad magic");
	refused("REDIS0099\xff", 10, "version 99");
	refused("REDIS", 5, "unexpected end of file");
	refused(opcode, sizeof(opcode) - 1, "unknown RDB opcode or type 0x42");
	refused(huge, sizeof(huge) - 1, "over the limit");
	refused(big32, sizeof(big32) - 1, "runs past the end");
	refused(hash, sizeof(hash) - 1, "key 'h' holds a hash (RDB type 4)");
	refused(db1, sizeof(db1) - 1, "database 1");
	refused(func, sizeof(func) - 1, "functions");
	refused(modaux, sizeof(modaux) - 1, "module");
	refused(badint, sizeof(badint) - 1, "intset encoding 3");
	refused(badenc, sizeof(badenc) - 1, "unknown string encoding 7");
}

Test(rdb_unit, torn_at_every_byte_and_flipped_bytes)
{
	char err[256];
	size_t n, i;
	char *d;
	off_t good;

	fill();
	save_to(path, false);
	d = read_all(path, &n);
	for (i = 0; i < n; i++) {
		write_bytes(path, d, i);
		cr_assert_eq(tn_rdb_check_file(path, &good, err, sizeof(err)),
			     -1, "accepted a file cut at %zu of %zu", i, n);
		cr_assert(!strncmp(err, "offset ", 7), "%s", err);
		cr_assert_leq(good, (off_t)i);
	}
	/* a flipped byte anywhere: the checksum (or the parser) notices */
	for (i = 9; i < n; i++) {
		d[i] ^= 0x5a;
		write_bytes(path, d, n);
		cr_assert_eq(tn_rdb_check_file(path, &good, err, sizeof(err)),
			     -1, "accepted a flip at %zu", i);
		cr_assert(!strncmp(err, "offset ", 7), "%s", err);
		d[i] ^= 0x5a;
	}
	d[n - 1] ^= 1;
	refused(d, n, "checksum mismatch");
	free(d);
}

Test(rdb_unit, listpack_set)
{
	/* a 7.2-style listpack set: "a", 5, -300 */
	unsigned char lp[] = {
	    0, 0, 0, 0, 3, 0,	 /* total bytes (filled in), 3 entries */
	    0x81, 'a', 2,	 /* 6-bit string "a", backlen 2 */
	    0x05, 1,		 /* 7-bit uint 5 */
	    0xdf, 0xd4, 2,	 /* 13-bit int: 0x1fd4 - 8192 = -44 */
	    0xff,
	};
	unsigned char file[64];
	size_t n = 0;
	char err[256] = "";
	struct kentry_shm *e;

	lp[0] = sizeof(lp);
	memcpy(file, "REDIS0011", 9);
	n = 9;
	file[n++] = 20; /* RDB_TYPE_SET_LISTPACK */
	file[n++] = 2;
	memcpy(file + n, "lp", 2);
	n += 2;
	file[n++] = sizeof(lp);
	memcpy(file + n, lp, sizeof(lp));
	n += sizeof(lp);
	file[n++] = 0xff;
	memset(file + n, 0, 8);
	n += 8;
	write_bytes(path, file, n);
	cr_assert_eq(tn_rdb_load_file(path, NULL, NULL, err, sizeof(err)), 0,
		     "%s", err);
	e = get("lp");
	cr_assert(e && e->type == TN_T_SET && set_card(e) == 3);
	cr_assert(set_has(e, "a") && set_has(e, "5") && set_has(e, "-44"));
}

Test(rdb_unit, expiretime_in_seconds_and_skipped_opcodes)
{
	/* EXPIRETIME (seconds, signed 32 bits) in 2030 and in 2001, an IDLE and a FREQ
	 * opcode (written under LRU/LFU policies), an empty db 1 */
	static const unsigned char file[] =
	    "REDIS0009"
	    "\xfa\x09redis-ver\x05" "6.2.0"
	    "\xfe\x00\xfb\x02\x02"
	    "\xfd" "\x00\xb3\x3f\x71" "\x00\x01" "a" "\x01" "1"
	    "\xfd" "\x00\xca\x9a\x3b" "\x00\x01" "b" "\x01" "2"
	    "\xf8\x05" "\xf9\x07" "\x00\x01" "c" "\xc0\x7f"
	    "\xfe\x01"
	    "\xff" "\x00\x00\x00\x00\x00\x00\x00\x00";
	uint64_t loaded = 0, expired = 0;
	char err[256] = "";
	struct kentry_shm *e;

	write_bytes(path, file, sizeof(file) - 1);
	cr_assert_eq(tn_rdb_load_file(path, &loaded, &expired, err,
				      sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(loaded, 2);
	cr_assert_eq(expired, 1);
	e = get("a");
	cr_assert(e && e->expire_ms == 1900000000LL * 1000);
	cr_assert_null(get("b"));
	e = get("c");
	cr_assert(e && e->vlen == 3 && !memcmp(tn_kentry_val(e), "127", 3));
}
