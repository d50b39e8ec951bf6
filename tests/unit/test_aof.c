/*
 * test_aof.c - the AOF's file formats without a server: the manifest
 * (Redis 7's lines, quoting, every malformed class) and the bounded RESP
 * reader (whole commands, a torn tail at every byte, garbage, lengths
 * that claim more than the file holds).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "journal/journal.h"

static char tmpdir[64];
static struct tn_config conf;

static void setup(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/titan-aof-unit-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	tn_config_defaults(&conf);
	snprintf(conf.dir, sizeof(conf.dir), "%s", tmpdir);
	tn_conf = &conf;
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(aof_unit, .init = setup, .fini = teardown, .timeout = 30);

static void put_file(const char *name, const void *p, size_t n)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static int read_manifest(const char *text, struct tn_manifest *m, char *err,
			 size_t errlen)
{
	char path[256];

	put_file("m", text, strlen(text));
	snprintf(path, sizeof(path), "%s/m", tmpdir);
	return tn_manifest_read(path, m, err, errlen);
}

Test(aof_unit, names_are_redis7s)
{
	char s[300];

	tn_aof_name(s, sizeof(s), 1, 'b', true);
	cr_assert_str_eq(s, "appendonly.aof.1.base.rdb");
	tn_aof_name(s, sizeof(s), 7, 'b', false);
	cr_assert_str_eq(s, "appendonly.aof.7.base.aof");
	tn_aof_name(s, sizeof(s), 12, 'i', false);
	cr_assert_str_eq(s, "appendonly.aof.12.incr.aof");
	tn_aof_manifest_name(s, sizeof(s));
	cr_assert_str_eq(s, "appendonly.aof.manifest");
	cr_assert_str_eq(TN_AOF_SELECT0, "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n");
}

Test(aof_unit, manifest_reads_redis_lines)
{
	struct tn_manifest m;
	char err[256] = "";

	cr_assert_eq(read_manifest("file appendonly.aof.2.base.rdb seq 2 type b\n"
				   "# a comment\n\n"
				   "file appendonly.aof.1.incr.aof seq 1 type h\n"
				   "type i seq 3 file \"a b.aof\"\n"
				   "file appendonly.aof.4.incr.aof seq 4 type i "
				   "newkey x\n",
				   &m, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(m.nfiles, 4);
	cr_assert_str_eq(m.files[0].name, "appendonly.aof.2.base.rdb");
	cr_assert_eq(m.files[0].seq, 2);
	cr_assert_eq(m.files[0].type, 'b');
	cr_assert_eq(m.files[1].type, 'h');
	cr_assert_str_eq(m.files[2].name, "a b.aof");
	cr_assert_eq(m.files[2].type, 'i');
	cr_assert_eq(m.files[3].seq, 4);
	tn_manifest_free(&m);
}

Test(aof_unit, manifest_refuses_bad_lines)
{
	static const char *const bad[] = {
	    "file a seq 1\n",                       /* no type */
	    "file a seq x type b\n",                /* bad seq */
	    "file a seq 0 type b\n",                /* seq < 1 */
	    "file a seq 1 type z\n",                /* bad type */
	    "file a seq 1 type bb\n",               /* bad type */
	    "file \"a seq 1 type b\n",              /* open quote */
	    "file a seq 1 type b extra\n",          /* odd word count */
	    "file ../x seq 1 type b\n",             /* a path */
	    "file a seq 1 type b\nfile b seq 2 type b\n", /* two bases */
	    "file a seq 2 type i\nfile b seq 1 type i\n", /* incr order */
	    "# nothing\n",                          /* no file */
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct tn_manifest m;
		char err[256] = "";

		cr_assert_eq(read_manifest(bad[i], &m, err, sizeof(err)), -1,
			     "accepted: %s", bad[i]);
		cr_assert_neq(err[0], '\0', "no message for: %s", bad[i]);
		cr_assert_null(m.files);
	}
}

Test(aof_unit, manifest_line_too_long)
{
	struct tn_manifest m;
	char err[256] = "", *text = malloc(5000);

	memset(text, 'a', 4999);
	memcpy(text, "file ", 5);
	text[4999] = '\0';
	cr_assert_eq(read_manifest(text, &m, err, sizeof(err)), -1);
	cr_assert(strstr(err, "line 1") != NULL, "%s", err);
	free(text);
}

Test(aof_unit, manifest_write_round_trip)
{
	struct tn_manifest m = {0}, back;
	char path[256], err[256] = "", buf[512];
	FILE *f;
	size_t n;

	cr_assert_eq(tn_manifest_add(&m, "appendonly.aof.1.base.rdb", 1, 'b'), 0);
	cr_assert_eq(tn_manifest_add(&m, "odd \"name\".aof", 1, 'h'), 0);
	cr_assert_eq(tn_manifest_add(&m, "appendonly.aof.2.incr.aof", 2, 'i'), 0);
	cr_assert_eq(tn_manifest_write(tmpdir, &m), 0);
	snprintf(path, sizeof(path), "%s/appendonly.aof.manifest", tmpdir);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	cr_assert_str_eq(buf, "file appendonly.aof.1.base.rdb seq 1 type b\n"
			      "file \"odd \\\"name\\\".aof\" seq 1 type h\n"
			      "file appendonly.aof.2.incr.aof seq 2 type i\n");
	cr_assert_eq(tn_manifest_read(path, &back, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(back.nfiles, 3);
	cr_assert_str_eq(back.files[1].name, "odd \"name\".aof");
	snprintf(path, sizeof(path), "%s/temp-appendonly.aof.manifest", tmpdir);
	cr_assert_neq(access(path, F_OK), 0, "the temp file stayed");
	tn_manifest_free(&m);
	tn_manifest_free(&back);
}

/* What the scanner saw, joined as "argv0 argv1|argv0|..." */
struct seen {
	char text[4096];
	size_t n;
	int cmds;
	off_t last_off;
	int stop_after;
};

static int collect(int argc, char **argv, size_t *len, off_t off, void *arg)
{
	struct seen *s = arg;
	int i;

	for (i = 0; i < argc; i++)
		s->n += snprintf(s->text + s->n, sizeof(s->text) - s->n, "%s%.*s",
				 i ? " " : "", (int)len[i], argv[i]);
	s->n += snprintf(s->text + s->n, sizeof(s->text) - s->n, "|");
	s->cmds++;
	s->last_off = off;
	return s->stop_after && s->cmds >= s->stop_after;
}

#define CMDS                                                                 \
	"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"                                  \
	"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"                           \
	"*4\r\n$4\r\nSADD\r\n$1\r\ns\r\n$4\r\na\r\nb\r\n$1\r\nc\r\n"

Test(aof_unit, scan_reads_commands_and_binary)
{
	struct tn_aof_scan_err e;
	struct seen s = {0};

	cr_assert_eq(tn_aof_scan_mem(CMDS, sizeof(CMDS) - 1, collect, &s, &e), 0,
		     "%s", e.msg);
	cr_assert_eq(s.cmds, 3);
	cr_assert_str_eq(s.text, "SELECT 0|SET k |SADD s a\r\nb c|");
	cr_assert_eq(s.last_off, 23 + 26);
}

Test(aof_unit, scan_torn_tail_at_every_byte)
{
	static const char all[] = CMDS;
	/* command boundaries */
	const size_t b1 = 23, b2 = 23 + 26, end = sizeof(all) - 1;
	size_t cut;

	for (cut = 0; cut <= end; cut++) {
		struct tn_aof_scan_err e;
		struct seen s = {0};
		int rc = tn_aof_scan_mem(all, cut, collect, &s, &e);
		size_t good = cut >= end ? end : cut >= b2 ? b2 : cut >= b1 ? b1 : 0;

		if (cut == good) {
			cr_assert_eq(rc, 0, "cut %zu: %s", cut, e.msg);
			continue;
		}
		cr_assert_eq(rc, -1, "cut %zu accepted", cut);
		cr_assert(e.truncated, "cut %zu: not seen as torn: %s", cut,
			  e.msg);
		cr_assert_eq(e.offset, (off_t)good, "cut %zu: offset %lld", cut,
			     (long long)e.offset);
	}
}

Test(aof_unit, scan_garbage_names_offset)
{
	static const char bad[] = "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n"
				  "hello world\r\n"
				  "*1\r\n$4\r\nPING\r\n";
	static const char bad_crlf[] = "*1\r\n$4\r\nPINGxx";
	static const char bad_len[] = "*1\r\n$-3\r\n";
	static const char bad_argc[] = "*0\r\n";
	static const char long_line[] = "*1\r\n$0000000000000000000000000000000000"
					"000000001\r\nx\r\n";
	struct tn_aof_scan_err e;
	struct seen s = {0};

	cr_assert_eq(tn_aof_scan_mem(bad, sizeof(bad) - 1, collect, &s, &e), -1);
	cr_assert_not(e.truncated);
	cr_assert_eq(e.offset, 23);
	cr_assert(strstr(e.msg, "offset 23") != NULL, "%s", e.msg);
	cr_assert_eq(s.cmds, 1);

	cr_assert_eq(tn_aof_scan_mem(bad_crlf, sizeof(bad_crlf) - 1, collect, &s,
				     &e),
		     -1);
	cr_assert_not(e.truncated);
	cr_assert_eq(e.offset, 4);
	cr_assert_eq(tn_aof_scan_mem(bad_len, sizeof(bad_len) - 1, collect, &s,
				     &e),
		     -1);
	cr_assert_not(e.truncated);
	cr_assert_eq(tn_aof_scan_mem(bad_argc, sizeof(bad_argc) - 1, collect, &s,
				     &e),
		     -1);
	cr_assert_not(e.truncated);
	cr_assert_eq(tn_aof_scan_mem(long_line, sizeof(long_line) - 1, collect,
				     &s, &e),
		     -1);
	cr_assert_not(e.truncated);
}

Test(aof_unit, scan_huge_lengths_allocate_nothing)
{
	/* lengths far beyond the file: torn, not a 512 MB allocation */
	static const char big_bulk[] = "*1\r\n$536870912000\r\nabc";
	static const char big_argc[] = "*1048576\r\n$1\r\na\r\n";
	static const char too_many[] = "*1048577\r\n$1\r\na\r\n";
	struct tn_aof_scan_err e;
	struct seen s = {0};

	cr_assert_eq(tn_aof_scan_mem(big_bulk, sizeof(big_bulk) - 1, collect, &s,
				     &e),
		     -1);
	cr_assert(e.truncated);
	cr_assert_eq(e.offset, 0);
	cr_assert_eq(tn_aof_scan_mem(big_argc, sizeof(big_argc) - 1, collect, &s,
				     &e),
		     -1);
	cr_assert(e.truncated);
	cr_assert_eq(tn_aof_scan_mem(too_many, sizeof(too_many) - 1, collect, &s,
				     &e),
		     -1);
	cr_assert_not(e.truncated);
	cr_assert_eq(s.cmds, 0);
}

Test(aof_unit, scan_stops_when_asked_and_reads_files)
{
	struct tn_aof_scan_err e;
	struct seen s = {.stop_after = 2};
	char path[256];

	put_file("x.aof", CMDS, sizeof(CMDS) - 1);
	snprintf(path, sizeof(path), "%s/x.aof", tmpdir);
	cr_assert_eq(tn_aof_scan_file(path, collect, &s, &e), -1);
	cr_assert_eq(s.cmds, 2);
	cr_assert_eq(e.offset, 23);
	memset(&s, 0, sizeof(s));
	cr_assert_eq(tn_aof_scan_file(path, collect, &s, &e), 0);
	cr_assert_eq(s.cmds, 3);
	put_file("empty.aof", "", 0);
	snprintf(path, sizeof(path), "%s/empty.aof", tmpdir);
	cr_assert_eq(tn_aof_scan_file(path, collect, &s, &e), 0);
	snprintf(path, sizeof(path), "%s/missing.aof", tmpdir);
	cr_assert_eq(tn_aof_scan_file(path, collect, &s, &e), -1);
	cr_assert(strstr(e.msg, "missing.aof") != NULL, "%s", e.msg);
}
