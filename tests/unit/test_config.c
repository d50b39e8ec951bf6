/*
 * test_config.c - titan.conf parsing, CONFIG SET/GET semantics, and the
 * promise that titan.conf(5) documents exactly the directives the table
 * knows.  Tests in the "config" suite run in a fresh temp directory.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "util/util.h"

static char test_dir[PATH_MAX];
static char top_dir[PATH_MAX];

static void enter_temp_dir(void)
{
	cr_assert_not_null(getcwd(top_dir, sizeof(top_dir)));
	snprintf(test_dir, sizeof(test_dir), "/tmp/titan-config-XXXXXX");
	cr_assert_not_null(mkdtemp(test_dir), "mkdtemp: %s", strerror(errno));
	cr_assert_eq(chdir(test_dir), 0);
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	return remove(path);
}

static void leave_temp_dir(void)
{
	if (chdir(top_dir) == 0 && test_dir[0])
		nftw(test_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(config, .init = enter_temp_dir, .fini = leave_temp_dir);

static void put(const char *name, const char *text)
{
	FILE *f = fopen(name, "w");

	cr_assert_not_null(f, "cannot create %s: %s", name, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Load `text` as t.conf over the defaults. */
static int load(struct tn_config *c, const char *text, char *err, size_t errlen)
{
	tn_config_defaults(c);
	put("t.conf", text);
	err[0] = '\0';
	return tn_config_load(c, "t.conf", err, errlen);
}

static void load_ok(struct tn_config *c, const char *text)
{
	char err[512];

	cr_assert_eq(load(c, text, err, sizeof(err)), 0,
		     "load failed for:\n%s\nerror: %s", text, err);
}

/* Loading `text` must fail with exactly `want`. */
static void expect_error(const char *text, const char *want)
{
	struct tn_config c;
	char err[512];

	cr_expect_eq(load(&c, text, err, sizeof(err)), -1,
		     "load succeeded for: %s", text);
	cr_expect_str_eq(err, want, "for input: %s", text);
}

static const char *get(const struct tn_config *c, const char *name)
{
	static char buf[4][2048];
	static int next;
	char *out = buf[next++ % 4];

	cr_assert_eq(tn_config_get(c, name, out, sizeof(buf[0])), 0,
		     "tn_config_get(%s) failed", name);
	return out;
}

static int set1(struct tn_config *c, const char *name, const char *value,
		bool runtime, char *err, size_t errlen)
{
	const char *argv[1] = {value};

	err[0] = '\0';
	return tn_config_set(c, name, 1, argv, runtime, err, errlen);
}

Test(config, defaults)
{
	struct tn_config c;

	memset(&c, 0xa5, sizeof(c));
	tn_config_defaults(&c);
	cr_expect_eq(c.port, TN_DEFAULT_PORT);
	cr_expect_eq(c.nbind, 2);
	cr_expect_str_eq(c.bind[0], "*");
	cr_expect_not(c.bind_optional[0]);
	cr_expect_str_eq(c.bind[1], "::*");
	cr_expect(c.bind_optional[1]);
	cr_expect(c.protected_mode);
	cr_expect_str_eq(c.unixsocket, "");
	cr_expect_eq(c.unixsocketperm, 0);
	cr_expect_eq(c.tcp_backlog, TN_DEFAULT_TCP_BACKLOG);
	cr_expect_eq(c.tcp_keepalive_s, TN_DEFAULT_TCP_KEEPALIVE_S);
	cr_expect_eq(c.timeout_s, 0);
	cr_expect_eq(c.maxclients, TN_DEFAULT_MAXCLIENTS);
	cr_expect_str_eq(c.requirepass, "");
	cr_expect_eq(c.maxmemory_bytes, 0);
	cr_expect_eq(c.proto_max_bulk_len, TN_DEFAULT_PROTO_MAX_BULK_BYTES);
	cr_expect_eq(c.client_query_buffer_limit,
		     TN_DEFAULT_QUERY_BUF_LIMIT_BYTES);
	cr_expect_eq(c.set_max_intset_entries, TN_DEFAULT_INTSET_ENTRIES);
	cr_expect_eq(c.hz, TN_DEFAULT_HZ);
	cr_expect_not(c.daemonize);
	cr_expect_str_eq(c.pidfile, "");
	cr_expect_str_eq(c.logfile, "");
	cr_expect_eq(c.loglevel, TN_LOG_NOTICE);
	cr_expect_str_eq(c.dir, "./");
	cr_expect_eq(c.shards, 0);
	cr_expect_eq(c.stripes, 0);
	cr_expect_str_eq(c.config_file, "");
}

Test(config, defaults_pass_check)
{
	struct tn_config c;
	char err[512] = "";

	tn_config_defaults(&c);
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), 0, "%s", err);
}

Test(config, every_directive_from_a_file)
{
	struct tn_config c;

	load_ok(&c, "port 7000\n"
		    "bind 10.0.0.1 -::1 127.0.0.1\n"
		    "protected-mode no\n"
		    "unixsocket /run/titan.sock\n"
		    "unixsocketperm 770\n"
		    "tcp-backlog 128\n"
		    "tcp-keepalive 60\n"
		    "timeout 30\n"
		    "maxclients 4096\n"
		    "requirepass hunter2\n"
		    "maxmemory 2gb\n"
		    "proto-max-bulk-len 64mb\n"
		    "client-query-buffer-limit 2mb\n"
		    "set-max-intset-entries 1024\n"
		    "hz 100\n"
		    "daemonize yes\n"
		    "pidfile /run/titan.pid\n"
		    "logfile /var/log/titan.log\n"
		    "loglevel warning\n"
		    "dir /var/lib/titan\n"
		    "shards 8\n"
		    "stripes 1024\n");
	cr_expect_eq(c.port, 7000);
	cr_expect_eq(c.nbind, 3);
	cr_expect_str_eq(c.bind[0], "10.0.0.1");
	cr_expect_not(c.bind_optional[0]);
	cr_expect_str_eq(c.bind[1], "::1");
	cr_expect(c.bind_optional[1]);
	cr_expect_str_eq(c.bind[2], "127.0.0.1");
	cr_expect_not(c.protected_mode);
	cr_expect_str_eq(c.unixsocket, "/run/titan.sock");
	cr_expect_eq(c.unixsocketperm, 0770);
	cr_expect_eq(c.tcp_backlog, 128);
	cr_expect_eq(c.tcp_keepalive_s, 60);
	cr_expect_eq(c.timeout_s, 30);
	cr_expect_eq(c.maxclients, 4096);
	cr_expect_str_eq(c.requirepass, "hunter2");
	cr_expect_eq(c.maxmemory_bytes, 2LL << 30);
	cr_expect_eq(c.proto_max_bulk_len, 64LL << 20);
	cr_expect_eq(c.client_query_buffer_limit, 2LL << 20);
	cr_expect_eq(c.set_max_intset_entries, 1024);
	cr_expect_eq(c.hz, 100);
	cr_expect(c.daemonize);
	cr_expect_str_eq(c.pidfile, "/run/titan.pid");
	cr_expect_str_eq(c.logfile, "/var/log/titan.log");
	cr_expect_eq(c.loglevel, TN_LOG_WARNING);
	cr_expect_str_eq(c.dir, "/var/lib/titan");
	cr_expect_eq(c.shards, 8);
	cr_expect_eq(c.stripes, 1024);
}

Test(config, later_lines_override_and_bind_replaces)
{
	struct tn_config c;

	load_ok(&c, "port 7000\nbind 1.2.3.4 -::1 5.6.7.8\n"
		    "port 7001\nbind 127.0.0.1\n");
	cr_expect_eq(c.port, 7001);
	cr_expect_eq(c.nbind, 1);
	cr_expect_str_eq(c.bind[0], "127.0.0.1");
	cr_expect_not(c.bind_optional[0]);
	cr_expect_str_eq(c.bind[1], "", "a replaced list leaves no tail");
	cr_expect_str_eq(get(&c, "bind"), "127.0.0.1");
}

Test(config, names_and_keywords_are_case_insensitive)
{
	struct tn_config c;

	load_ok(&c, "PORT 1234\nProtected-Mode NO\nLogLevel DEBUG\n"
		    "maxmemory 10MB\n");
	cr_expect_eq(c.port, 1234);
	cr_expect_not(c.protected_mode);
	cr_expect_eq(c.loglevel, TN_LOG_DEBUG);
	cr_expect_eq(c.maxmemory_bytes, 10LL << 20);
	cr_expect_str_eq(get(&c, "Port"), "1234");
}

Test(config, quoting)
{
	static const struct {
		const char *line;
		const char *want;
	} cases[] = {
	    {"requirepass plain", "plain"},
	    {"requirepass \"with spaces\"", "with spaces"},
	    {"requirepass 'single quoted'", "single quoted"},
	    {"requirepass \"\\x41\\x62c\"", "Abc"},
	    {"requirepass \"tab\\there\"", "tab\there"},
	    {"requirepass \"nl\\nx\"", "nl\nx"},
	    {"requirepass \"say \\\"hi\\\"\"", "say \"hi\""},
	    {"requirepass \"back\\\\slash\"", "back\\slash"},
	    {"requirepass 'it\\'s'", "it's"},
	    {"requirepass 'no \\n escape'", "no \\n escape"},
	    {"requirepass \"\"", ""},
	    {"requirepass ''", ""},
	    {"requirepass a\"b c\"", "ab c"},
	    {"requirepass \"#not a comment\"", "#not a comment"},
	    {"requirepass\t\ttabs   ", "tabs"},
	};
	struct tn_config c;
	char text[256], err[512];
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), "%s\n", cases[i].line);
		if (load(&c, text, err, sizeof(err)) != 0) {
			cr_expect_fail("%s: %s", cases[i].line, err);
			continue;
		}
		cr_expect_str_eq(c.requirepass, cases[i].want, "%s",
				 cases[i].line);
	}
}

Test(config, quoting_errors)
{
	expect_error("port 1\nrequirepass \"open\n",
		     "t.conf:2: unbalanced quotes in configuration line");
	expect_error("requirepass 'open\n",
		     "t.conf:1: unbalanced quotes in configuration line");
	expect_error("requirepass \"a\"b\n",
		     "t.conf:1: unbalanced quotes in configuration line");
	expect_error("\n\nrequirepass \"a\\x00b\"\n",
		     "t.conf:3: \\x00 is not allowed in a value");
	expect_error("requirepass a b\n",
		     "t.conf:1: 'requirepass' wrong number of arguments");
}

Test(config, comments_blank_lines_and_line_endings)
{
	struct tn_config c;

	load_ok(&c, "# a comment\n"
		    "\n"
		    "   \t\n"
		    "    # an indented comment\n"
		    "port 7002\r\n"
		    "\tloglevel verbose   \n"
		    "#port 9999\n"
		    "hz 50");
	cr_expect_eq(c.port, 7002);
	cr_expect_eq(c.loglevel, TN_LOG_VERBOSE);
	cr_expect_eq(c.hz, 50, "last line without a newline");
	/* As in redis.conf, '#' only starts a comment at the line start. */
	expect_error("port 7000 # the port\n",
		     "t.conf:1: 'port' wrong number of arguments");
}

Test(config, empty_file)
{
	struct tn_config c, d;

	load_ok(&c, "");
	tn_config_defaults(&d);
	cr_expect_eq(c.port, d.port);
	cr_expect_eq(c.nbind, d.nbind);
}

Test(config, include_nested_and_ordered)
{
	struct tn_config c;

	put("inner.conf", "maxclients 77\nport 7100\n");
	put("middle.conf", "include inner.conf\nhz 42\n");
	load_ok(&c, "port 7000\ninclude middle.conf\nloglevel debug\n");
	cr_expect_eq(c.maxclients, 77);
	cr_expect_eq(c.hz, 42);
	cr_expect_eq(c.port, 7100, "the include came after port 7000");
	cr_expect_eq(c.loglevel, TN_LOG_DEBUG);

	load_ok(&c, "include middle.conf\nport 7000\n");
	cr_expect_eq(c.port, 7000, "port 7000 came after the include");

	load_ok(&c, "INCLUDE \"inner.conf\"\n");
	cr_expect_eq(c.port, 7100);
}

Test(config, include_absolute_path)
{
	struct tn_config c;
	char text[PATH_MAX + 32];

	put("abs.conf", "port 7300\n");
	snprintf(text, sizeof(text), "include %s/abs.conf\n", test_dir);
	load_ok(&c, text);
	cr_expect_eq(c.port, 7300);
}

Test(config, include_errors)
{
	put("bad.conf", "# ok\n\nhz nope\n");
	expect_error("port 1\ninclude bad.conf\n",
		     "bad.conf:3: 'hz' wants an integer between 0 and "
		     "2147483647, got 'nope'");
	expect_error("\ninclude missing.conf\n",
		     "t.conf:2: cannot open config file \"missing.conf\": No "
		     "such file or directory");
	expect_error("include\n",
		     "t.conf:1: 'include' wrong number of arguments");
	expect_error("include a.conf b.conf\n",
		     "t.conf:1: 'include' wrong number of arguments");
}

Test(config, include_loop_is_bounded)
{
	expect_error("port 1\ninclude t.conf\n",
		     "t.conf:2: includes nested more than 16 deep; check for a "
		     "file that includes itself");
}

Test(config, include_depth_16_is_allowed)
{
	struct tn_config c;
	char name[32], text[64];
	int i;

	/* t.conf -> i1 -> ... -> i16: sixteen levels of include */
	for (i = 1; i <= 16; i++) {
		snprintf(name, sizeof(name), "i%d.conf", i);
		if (i < 16)
			snprintf(text, sizeof(text), "include i%d.conf\n",
				 i + 1);
		else
			snprintf(text, sizeof(text), "port 7016\n");
		put(name, text);
	}
	load_ok(&c, "include i1.conf\n");
	cr_expect_eq(c.port, 7016);
	put("i16.conf", "include i17.conf\n");
	put("i17.conf", "port 7017\n");
	expect_error("include i1.conf\n",
		     "i16.conf:1: includes nested more than 16 deep; check for "
		     "a file that includes itself");
}

Test(config, errors_carry_file_and_line)
{
	expect_error("# 1\n# 2\n# 3\n# 4\n# 5\n# 6\n# 7\n# 8\n# 9\n# 10\n"
		     "# 11\nportt 6379\n",
		     "t.conf:12: unknown directive 'portt'");
	expect_error(
	    "\n\nport abc\n",
	    "t.conf:3: 'port' wants an integer between 0 and 65535, got 'abc'");
	expect_error("port 1\nport 2\nport 3\nmaxmemory\n",
		     "t.conf:4: 'maxmemory' wrong number of arguments");
	expect_error("bind\n", "t.conf:1: 'bind' wrong number of arguments");
	expect_error("hz 1 2\n", "t.conf:1: 'hz' wrong number of arguments");
}

Test(config, nul_byte_in_file)
{
	struct tn_config c;
	char err[512];
	static const char text[] = "port 1\nhz 5\0\nport 2\n";
	FILE *f = fopen("nul.conf", "w");

	cr_assert_not_null(f);
	fwrite(text, 1, sizeof(text) - 1, f);
	fclose(f);
	tn_config_defaults(&c);
	cr_expect_eq(tn_config_load(&c, "nul.conf", err, sizeof(err)), -1);
	cr_expect_str_eq(err, "nul.conf:2: NUL byte in configuration file");
}

Test(config, missing_file)
{
	struct tn_config c;
	char err[512];

	tn_config_defaults(&c);
	cr_expect_eq(tn_config_load(&c, "x", err, sizeof(err)), -1);
	cr_expect_str_eq(
	    err, "cannot open config file \"x\": No such file or directory");
}

Test(config, config_file_is_recorded_absolute)
{
	struct tn_config c;
	char path[PATH_MAX + 16], real[PATH_MAX];

	load_ok(&c, "port 1\n");
	snprintf(path, sizeof(path), "%s/t.conf", test_dir);
	/* /tmp may be a symlink: compare with the resolved path */
	cr_assert_not_null(realpath(path, real));
	cr_expect_str_eq(c.config_file, real);
}

Test(config, values_out_of_range_or_malformed)
{
	static const struct {
		const char *line;
		const char *want;
	} cases[] = {
	    {"port 65536",
	     "'port' wants an integer between 0 and 65535, got '65536'"},
	    {"port -1",
	     "'port' wants an integer between 0 and 65535, got '-1'"},
	    {"port 0x10",
	     "'port' wants an integer between 0 and 65535, got '0x10'"},
	    {"port 007",
	     "'port' wants an integer between 0 and 65535, got '007'"},
	    {"port +7",
	     "'port' wants an integer between 0 and 65535, got '+7'"},
	    {"port 99999999999999999999",
	     "'port' wants an integer between 0 and 65535, got "
	     "'99999999999999999999'"},
	    {"maxclients 0",
	     "'maxclients' wants an integer between 1 and 4294967295, got '0'"},
	    {"tcp-keepalive -5", "'tcp-keepalive' wants an integer between 0 "
				 "and 2147483647, got '-5'"},
	    {"hz -1",
	     "'hz' wants an integer between 0 and 2147483647, got '-1'"},
	    {"shards 257",
	     "'shards' wants an integer between 0 and 256, got '257'"},
	    {"stripes 100", "'stripes' wants 0 or a power of two between 64 "
			    "and 65536, got '100'"},
	    {"stripes 32", "'stripes' wants 0 or a power of two between 64 and "
			   "65536, got '32'"},
	    {"stripes 131072", "'stripes' wants 0 or a power of two between 64 "
			       "and 65536, got '131072'"},
	    {"protected-mode maybe",
	     "'protected-mode' wants yes or no, got 'maybe'"},
	    {"daemonize 1", "'daemonize' wants yes or no, got '1'"},
	    {"loglevel loud", "'loglevel' wants one of debug, verbose, notice, "
			      "warning, got 'loud'"},
	    {"unixsocketperm 778", "'unixsocketperm' wants an octal mode "
				   "between 0 and 777, got '778'"},
	    {"unixsocketperm 1000", "'unixsocketperm' wants an octal mode "
				    "between 0 and 777, got '1000'"},
	    {"unixsocketperm rwx", "'unixsocketperm' wants an octal mode "
				   "between 0 and 777, got 'rwx'"},
	    {"maxmemory lots",
	     "'maxmemory' wants a memory size (bytes, or a number with k, kb, "
	     "m, mb, g or gb such as 100mb), got 'lots'"},
	    {"maxmemory -1",
	     "'maxmemory' wants a memory size (bytes, or a number with k, kb, "
	     "m, mb, g or gb such as 100mb), got '-1'"},
	    {"proto-max-bulk-len 1000", "'proto-max-bulk-len' wants a memory "
					"size of at least 1mb, got '1000'"},
	    {"client-query-buffer-limit 1023kb",
	     "'client-query-buffer-limit' wants a memory size of at least 1mb, "
	     "got '1023kb'"},
	    {"dir \"\"", "'dir' can't be empty"},
	    {"bind -", "'bind' wants an address, got '-'"},
	    {"bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17",
	     "'bind' takes at most 16 addresses, got 17"},
	};
	char text[256], want[512];
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), "\n%s\n", cases[i].line);
		snprintf(want, sizeof(want), "t.conf:2: %s", cases[i].want);
		expect_error(text, want);
	}
}

Test(config, bind_limits)
{
	struct tn_config c;
	char text[2048], addr[80];

	load_ok(&c, "bind 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 -16\n");
	cr_expect_eq(c.nbind, 16);
	cr_expect_str_eq(c.bind[15], "16");
	cr_expect(c.bind_optional[15]);

	memset(addr, 'a', 64);
	addr[64] = '\0';
	snprintf(text, sizeof(text), "bind %s\n", addr);
	expect_error(text, "t.conf:1: 'bind' address is longer than 63 bytes: "
			   "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			   "aaaaaaaaaaaaaa'");
	addr[63] = '\0';
	snprintf(text, sizeof(text), "bind %s\n", addr);
	load_ok(&c, text);
	cr_expect_str_eq(c.bind[0], addr);
}

Test(config, string_too_long)
{
	struct tn_config c;
	char *text = malloc(2 * TN_PATH_MAX);
	char want[128];
	int n;

	cr_assert_not_null(text);
	n = snprintf(text, 2 * TN_PATH_MAX, "logfile ");
	memset(text + n, 'x', TN_PATH_MAX);
	text[n + TN_PATH_MAX] = '\0';
	snprintf(want, sizeof(want),
		 "t.conf:1: 'logfile' is longer than %d bytes",
		 TN_PATH_MAX - 1);
	expect_error(text, want);
	text[n + TN_PATH_MAX - 1] = '\0';
	load_ok(&c, text);
	cr_expect_eq(strlen(c.logfile), TN_PATH_MAX - 1);
	free(text);
}

Test(config, memory_units)
{
	static const struct {
		const char *text;
		long long bytes;
	} ok[] = {
	    {"0", 0},
	    {"12", 12},
	    {"5b", 5},
	    {"10k", 10000},
	    {"10kb", 10240},
	    {"10K", 10000},
	    {"10KB", 10240},
	    {"3m", 3000000},
	    {"3mb", 3LL << 20},
	    {"100MB", 100LL << 20},
	    {"2g", 2000000000LL},
	    {"1gb", 1LL << 30},
	    {"1Gb", 1LL << 30},
	    {"8589934591gb", 8589934591LL << 30},
	};
	static const char *const bad[] = {
	    "",	     "k",    "kb",	     "1tb",
	    "1.5gb", "-1",   "+1",	     "1 gb",
	    "1gbb",  "0x10", "8589934592gb", "99999999999999999999",
	};
	struct tn_config c;
	char err[512];
	size_t i;

	tn_config_defaults(&c);
	for (i = 0; i < TN_ARRAY_SIZE(ok); i++) {
		cr_expect_eq(
		    set1(&c, "maxmemory", ok[i].text, false, err, sizeof(err)),
		    0, "'%s': %s", ok[i].text, err);
		cr_expect_eq(c.maxmemory_bytes, ok[i].bytes, "'%s' gave %lld",
			     ok[i].text, c.maxmemory_bytes);
	}
	for (i = 0; i < TN_ARRAY_SIZE(bad); i++)
		cr_expect_eq(
		    set1(&c, "maxmemory", bad[i], false, err, sizeof(err)), -1,
		    "'%s' was accepted", bad[i]);
}

Test(config, hz_is_clamped_like_redis)
{
	struct tn_config c;

	load_ok(&c, "hz 0\n");
	cr_expect_eq(c.hz, 1);
	load_ok(&c, "hz 1000\n");
	cr_expect_eq(c.hz, 500);
	cr_expect_str_eq(get(&c, "hz"), "500");
	load_ok(&c, "hz 500\n");
	cr_expect_eq(c.hz, 500);
}

Test(config, failed_set_changes_nothing)
{
	struct tn_config c, before;
	char err[512];
	const char *argv[17] = {"1.1.1.1", "-"};

	load_ok(&c, "port 7000\nbind 127.0.0.1 -::1\nmaxmemory 1gb\n");
	before = c;
	cr_expect_eq(set1(&c, "port", "70000", false, err, sizeof(err)), -1);
	cr_expect_eq(set1(&c, "maxmemory", "1tb", false, err, sizeof(err)), -1);
	cr_expect_eq(set1(&c, "loglevel", "x", false, err, sizeof(err)), -1);
	cr_expect_eq(
	    tn_config_set(&c, "bind", 2, argv, false, err, sizeof(err)), -1);
	cr_expect_eq(memcmp(&c, &before, sizeof(c)), 0,
		     "a refused value changed the configuration");
}

/* Read once at start-up: CONFIG SET must refuse these. */
static const char *const immutable[] = {
    "port",   "bind",	 "unixsocket", "unixsocketperm", "tcp-backlog",
    "shards", "stripes", "daemonize",  "pidfile",	 "logfile",
    "appendfilename", "appenddirname", "repl-backlog-size", "titan-port",
    "titan-bind", "titan-auth-token", "http-port", "http-bind", "replicaof",
};

static bool is_immutable(const char *name)
{
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(immutable); i++)
		if (strcmp(immutable[i], name) == 0)
			return true;
	return false;
}

Test(config, runtime_refuses_immutable_directives)
{
	const char *const *names = tn_config_names();
	struct tn_config c, before;
	char err[512], want[512], value[2048];
	size_t i;

	tn_config_defaults(&c);
	for (i = 0; names[i]; i++) {
		if (!is_immutable(names[i]))
			continue;
		snprintf(value, sizeof(value), "%s", get(&c, names[i]));
		before = c;
		snprintf(want, sizeof(want),
			 "ERR CONFIG SET failed (possibly related to argument "
			 "'%s') - can't set immutable config",
			 names[i]);
		cr_expect_eq(set1(&c, names[i], value, true, err, sizeof(err)),
			     -1, "%s accepted at runtime", names[i]);
		cr_expect_str_eq(err, want);
		cr_expect_eq(memcmp(&c, &before, sizeof(c)), 0);
	}
	/* The file may set them all the same. */
	cr_expect_eq(set1(&c, "port", "7000", false, err, sizeof(err)), 0, "%s",
		     err);
	cr_expect_eq(c.port, 7000);
}

Test(config, runtime_accepts_mutable_directives)
{
	static const struct {
		const char *name, *value;
	} cases[] = {
	    {"protected-mode", "no"},
	    {"tcp-keepalive", "10"},
	    {"timeout", "60"},
	    {"maxclients", "50"},
	    {"requirepass", "pw"},
	    {"maxmemory", "100mb"},
	    {"proto-max-bulk-len", "1mb"},
	    {"client-query-buffer-limit", "2gb"},
	    {"set-max-intset-entries", "64"},
	    {"client-output-buffer-limit", "pubsub 1mb 512kb 10"},
	    {"notify-keyspace-events", "KEA"},
	    {"hz", "20"},
	    {"loglevel", "debug"},
	    {"dir", "/tmp"},
	    {"appendonly", "yes"},
	    {"appendfsync", "always"},
	    {"aof-load-truncated", "no"},
	    {"aof-use-rdb-preamble", "no"},
	    {"auto-aof-rewrite-percentage", "50"},
	    {"auto-aof-rewrite-min-size", "1mb"},
	    {"save", "900 1"},
	    {"stop-writes-on-bgsave-error", "no"},
	    {"dbfilename", "x.rdb"},
	    {"rdbcompression", "no"},
	    {"rdbchecksum", "no"},
	    {"worker-ttl", "10"},
	    {"job-log-max-bytes", "64kb"},
	    {"titan-max-frame-bytes", "1mb"},
	    {"masterauth", "pw"},
	    {"masteruser", "u"},
	    {"replica-read-only", "no"},
	    {"replica-serve-stale-data", "no"},
	    {"replica-priority", "10"},
	    {"repl-backlog-ttl", "60"},
	    {"repl-diskless-sync", "no"},
	    {"repl-diskless-sync-delay", "0"},
	    {"repl-diskless-sync-max-replicas", "3"},
	    {"repl-ping-replica-period", "5"},
	    {"repl-timeout", "30"},
	    {"min-replicas-to-write", "1"},
	    {"min-replicas-max-lag", "5"},
	};
	const char *const *names = tn_config_names();
	struct tn_config c;
	char err[512];
	size_t i, n, mutable = 0;

	tn_config_defaults(&c);
	for (i = 0; i < TN_ARRAY_SIZE(cases); i++) {
		cr_expect_not(is_immutable(cases[i].name));
		cr_expect_eq(set1(&c, cases[i].name, cases[i].value, true, err,
				  sizeof(err)),
			     0, "CONFIG SET %s %s: %s", cases[i].name,
			     cases[i].value, err);
	}
	/* Every directive is either tested here or listed as immutable. */
	for (n = 0; names[n]; n++)
		if (!is_immutable(names[n]))
			mutable ++;
	cr_expect_eq(mutable, TN_ARRAY_SIZE(cases),
		     "a mutable directive is not covered by this test");
	cr_expect_eq(c.maxmemory_bytes, 100LL << 20);
	cr_expect_eq(c.loglevel, TN_LOG_DEBUG);
	cr_expect_str_eq(c.dir, "/tmp");
	cr_expect_eq(c.appendfsync, TN_FSYNC_ALWAYS);
}

Test(config, replicaof_takes_host_port_or_no_one)
{
	const char *hp[2] = {"10.0.0.5", "6380"}, *no[2] = {"NO", "one"},
		   *bad[2] = {"h", "0"}, *word[2] = {"h", "63x"};
	struct tn_config c;
	char err[512];

	tn_config_defaults(&c);
	cr_expect_str_eq(get(&c, "replicaof"), "");
	cr_assert_eq(tn_config_set(&c, "replicaof", 2, hp, false, err,
				   sizeof(err)),
		     0, "%s", err);
	cr_expect_str_eq(get(&c, "replicaof"), "10.0.0.5 6380");
	cr_expect_eq(c.replicaof_port, 6380);
	cr_expect_eq(tn_config_set(&c, "replicaof", 2, bad, false, err,
				   sizeof(err)),
		     -1);
	cr_expect(strstr(err, "port") != NULL, "%s", err);
	cr_expect_eq(tn_config_set(&c, "replicaof", 2, word, false, err,
				   sizeof(err)),
		     -1);
	cr_expect_eq(c.replicaof_port, 6380);
	cr_expect_eq(tn_config_set(&c, "replicaof", 1, hp, false, err,
				   sizeof(err)),
		     -1);
	cr_assert_eq(tn_config_set(&c, "replicaof", 2, no, false, err,
				   sizeof(err)),
		     0, "%s", err);
	cr_expect_str_eq(get(&c, "replicaof"), "");
	cr_expect_eq(c.replicaof_port, 0);
}

Test(config, titan_bind_beyond_loopback_needs_a_token)
{
	struct tn_config c;
	char err[512];

	tn_config_defaults(&c);
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(set1(&c, "titan-bind", "127.0.0.1 0.0.0.0", false, err,
			  sizeof(err)),
		     0);
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), -1);
	cr_expect(strstr(err, "titan-auth-token") != NULL, "%s", err);
	cr_assert_eq(set1(&c, "titan-auth-token", "s3cret", false, err,
			  sizeof(err)),
		     0);
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(set1(&c, "titan-auth-token", "", false, err, sizeof(err)),
		     0);
	cr_assert_eq(set1(&c, "titan-bind", "127.0.0.1", false, err,
			  sizeof(err)),
		     0);
	cr_assert_eq(set1(&c, "http-bind", "::", false, err, sizeof(err)), 0);
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), -1);
	cr_expect(strstr(err, "http-bind") != NULL, "%s", err);
	cr_assert_eq(set1(&c, "http-port", "0", false, err, sizeof(err)), 0);
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), 0, "%s", err);
	/* no scheduler port, nothing to protect */
	cr_assert_eq(set1(&c, "titan-auth-token", "", false, err, sizeof(err)),
		     0);
	cr_assert_eq(set1(&c, "titan-port", "0", false, err, sizeof(err)), 0);
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), 0, "%s", err);
}

Test(config, runtime_errors_use_redis_wording)
{
	static const struct {
		const char *name, *value, *want;
	} cases[] = {
	    {"hz", "abc",
	     "ERR CONFIG SET failed (possibly related to argument 'hz') - "
	     "argument couldn't be parsed into an integer"},
	    {"tcp-keepalive", "-1",
	     "ERR CONFIG SET failed (possibly related to argument "
	     "'tcp-keepalive') - argument must be between 0 and 2147483647 "
	     "inclusive"},
	    {"maxclients", "0",
	     "ERR CONFIG SET failed (possibly related to argument "
	     "'maxclients') - argument must be between 1 and 4294967295 "
	     "inclusive"},
	    {"maxmemory", "lots",
	     "ERR CONFIG SET failed (possibly related to argument 'maxmemory') "
	     "- argument must be a memory value"},
	    {"proto-max-bulk-len", "10",
	     "ERR CONFIG SET failed (possibly related to argument "
	     "'proto-max-bulk-len') - argument must be between 1048576 and "
	     "9223372036854775807 inclusive"},
	    {"protected-mode", "maybe",
	     "ERR CONFIG SET failed (possibly related to argument "
	     "'protected-mode') - argument must be 'yes' or 'no'"},
	    {"loglevel", "loud",
	     "ERR CONFIG SET failed (possibly related to argument 'loglevel') "
	     "- argument(s) must be one of the following: debug, verbose, "
	     "notice, warning"},
	    {"dir", "",
	     "ERR CONFIG SET failed (possibly related to argument 'dir') - dir "
	     "can't be empty"},
	    {"portt", "1",
	     "ERR Unknown option or number of arguments for CONFIG SET - "
	     "'portt'"},
	};
	struct tn_config c;
	char err[512];
	size_t i;

	tn_config_defaults(&c);
	for (i = 0; i < TN_ARRAY_SIZE(cases); i++) {
		cr_expect_eq(set1(&c, cases[i].name, cases[i].value, true, err,
				  sizeof(err)),
			     -1, "CONFIG SET %s %s accepted", cases[i].name,
			     cases[i].value);
		cr_expect_str_eq(err, cases[i].want);
	}
	cr_expect_eq(tn_config_set(&c, "hz", 0, NULL, true, err, sizeof(err)),
		     -1);
	cr_expect_str_eq(err, "ERR CONFIG SET failed (possibly related to "
			      "argument 'hz') - wrong number of arguments");
}

Test(config, get_formats_like_config_get)
{
	static const struct {
		const char *name, *want;
	} defaults[] = {
	    {"port", "6379"},
	    {"bind", "* -::*"},
	    {"protected-mode", "yes"},
	    {"unixsocket", ""},
	    {"unixsocketperm", "0"},
	    {"tcp-backlog", "511"},
	    {"tcp-keepalive", "300"},
	    {"timeout", "0"},
	    {"maxclients", "10000"},
	    {"requirepass", ""},
	    {"maxmemory", "0"},
	    {"proto-max-bulk-len", "536870912"},
	    {"client-query-buffer-limit", "1073741824"},
	    {"client-output-buffer-limit",
	     "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 "
	     "8388608 60"},
	    {"set-max-intset-entries", "512"},
	    {"notify-keyspace-events", ""},
	    {"hz", "10"},
	    {"daemonize", "no"},
	    {"pidfile", ""},
	    {"logfile", ""},
	    {"loglevel", "notice"},
	    {"dir", "./"},
	    {"shards", "0"},
	    {"stripes", "0"},
	    {"appendonly", "no"},
	    {"appendfilename", "appendonly.aof"},
	    {"appenddirname", "appendonlydir"},
	    {"appendfsync", "everysec"},
	    {"aof-load-truncated", "yes"},
	    {"aof-use-rdb-preamble", "yes"},
	    {"auto-aof-rewrite-percentage", "100"},
	    {"auto-aof-rewrite-min-size", "67108864"},
	    {"save", "3600 1 300 100 60 10000"},
	    {"stop-writes-on-bgsave-error", "yes"},
	    {"dbfilename", "dump.rdb"},
	    {"rdbcompression", "yes"},
	    {"rdbchecksum", "yes"},
	    {"repl-backlog-size", "1048576"},
	    {"titan-port", "9090"},
	    {"titan-bind", "127.0.0.1"},
	    {"titan-auth-token", ""},
	    {"worker-ttl", "5"},
	    {"job-log-max-bytes", "1048576"},
	    {"titan-max-frame-bytes", "10485760"},
	    {"http-port", "5000"},
	    {"http-bind", "127.0.0.1"},
	    {"replicaof", ""},
	    {"masterauth", ""},
	    {"masteruser", ""},
	    {"replica-read-only", "yes"},
	    {"replica-serve-stale-data", "yes"},
	    {"replica-priority", "100"},
	    {"repl-backlog-ttl", "3600"},
	    {"repl-diskless-sync", "yes"},
	    {"repl-diskless-sync-delay", "5"},
	    {"repl-diskless-sync-max-replicas", "0"},
	    {"repl-ping-replica-period", "10"},
	    {"repl-timeout", "60"},
	    {"min-replicas-to-write", "0"},
	    {"min-replicas-max-lag", "10"},
	};
	const char *const *names = tn_config_names();
	struct tn_config c;
	size_t i, n = 0;
	char out[16];

	tn_config_defaults(&c);
	for (i = 0; i < TN_ARRAY_SIZE(defaults); i++)
		cr_expect_str_eq(get(&c, defaults[i].name), defaults[i].want,
				 "CONFIG GET %s", defaults[i].name);
	while (names[n])
		n++;
	cr_expect_eq(n, TN_ARRAY_SIZE(defaults),
		     "a directive has no expected CONFIG GET default here");
	cr_expect_eq(tn_config_get(&c, "portt", out, sizeof(out)), -1);
	/* A short buffer truncates but stays a C string. */
	cr_expect_eq(tn_config_get(&c, "proto-max-bulk-len", out, 4), 0);
	cr_expect_str_eq(out, "536");
}

Test(config, set_then_get)
{
	static const struct {
		const char *line, *name, *want;
	} cases[] = {
	    {"maxmemory 1gb", "maxmemory", "1073741824"},
	    {"maxmemory 10k", "maxmemory", "10000"},
	    {"unixsocketperm 700", "unixsocketperm", "700"},
	    {"unixsocketperm 0755", "unixsocketperm", "755"},
	    {"bind 127.0.0.1 -::1", "bind", "127.0.0.1 -::1"},
	    {"bind -10.0.0.1", "bind", "-10.0.0.1"},
	    {"protected-mode NO", "protected-mode", "no"},
	    {"daemonize yes", "daemonize", "yes"},
	    {"loglevel WARNING", "loglevel", "warning"},
	    {"requirepass \"a b\"", "requirepass", "a b"},
	    {"hz 7", "hz", "7"},
	    {"stripes 65536", "stripes", "65536"},
	};
	struct tn_config c;
	char text[256];
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(cases); i++) {
		snprintf(text, sizeof(text), "%s\n", cases[i].line);
		load_ok(&c, text);
		cr_expect_str_eq(get(&c, cases[i].name), cases[i].want, "%s",
				 cases[i].line);
	}
}

/* What CONFIG GET prints, CONFIG SET (or the file) must take back. */
Test(config, get_output_parses_back)
{
	const char *const *names = tn_config_names();
	struct tn_config c, again;
	char line[4096], err[512];
	size_t i;

	load_ok(&c, "port 7000\nbind 127.0.0.1 -::1\nunixsocketperm 750\n"
		    "maxmemory 3mb\nrequirepass \"p w\"\nloglevel debug\n"
		    "dir /var/tmp\nshards 4\nstripes 128\nhz 33\n");
	for (i = 0; names[i]; i++) {
		const char *v = get(&c, names[i]);

		/* bind is a list; other values are one quoted argument */
		if (strcmp(names[i], "bind") == 0)
			snprintf(line, sizeof(line), "%s %s\n", names[i], v);
		else
			snprintf(line, sizeof(line), "%s \"%s\"\n", names[i],
				 v);
		tn_config_defaults(&again);
		cr_expect_eq(tn_config_load_string(&again, line, "round trip",
						   err, sizeof(err)),
			     0, "%s: %s", line, err);
		cr_expect_str_eq(get(&again, names[i]), v, "%s", names[i]);
	}
}

Test(config, load_string_for_the_command_line)
{
	struct tn_config c;
	char err[512];

	tn_config_defaults(&c);
	cr_expect_eq(tn_config_load_string(&c,
					   "port 7000\nbind 127.0.0.1 ::1\n",
					   "command line", err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(c.port, 7000);
	cr_expect_eq(c.nbind, 2);
	cr_expect_eq(tn_config_load_string(&c, "loglevel debug\nshards x\n",
					   "command line", err, sizeof(err)),
		     -1);
	cr_expect_str_eq(err, "command line:2: 'shards' wants an integer "
			      "between 0 and 256, got 'x'");
	cr_expect_eq(c.loglevel, TN_LOG_DEBUG, "lines before the error apply");
	cr_expect_str_eq(c.config_file, "", "load_string is not a file");
}

Test(config, check_cross_directive_constraints)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
	    {"stripes 64\nshards 128\n",
	     "stripes (64) is less than the number of shards (128); raise "
	     "stripes or set it to 0"},
	    {"port 0\n", "port is 0 and unixsocket is not set, so Titan would "
			 "listen nowhere; set port or unixsocket"},
	    {"bind 10.1.2.3 -192.168.0.1\n",
	     "protected-mode is on and requirepass is empty, but no bind "
	     "address is loopback or wildcard, so no client could connect; set "
	     "requirepass, add 127.0.0.1 to bind, or set protected-mode no"},
	};
	static const char *const good[] = {
	    "stripes 128\nshards 128\n",
	    "stripes 256\nshards 1\n",
	    "port 0\nunixsocket /tmp/t.sock\n",
	    "bind 10.1.2.3\nrequirepass pw\n",
	    "bind 10.1.2.3\nprotected-mode no\n",
	    "bind 10.1.2.3\nunixsocket /tmp/t.sock\n",
	    "bind 10.1.2.3 -127.0.0.1\n",
	    "bind 0.0.0.0\n",
	    "bind localhost\n",
	};
	struct tn_config c;
	char err[512];
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(bad); i++) {
		load_ok(&c, bad[i].text);
		err[0] = '\0';
		cr_expect_eq(tn_config_check(&c, err, sizeof(err)), -1,
			     "check passed: %s", bad[i].text);
		cr_expect_str_eq(err, bad[i].want);
	}
	for (i = 0; i < TN_ARRAY_SIZE(good); i++) {
		load_ok(&c, good[i]);
		err[0] = '\0';
		cr_expect_eq(tn_config_check(&c, err, sizeof(err)), 0, "%s: %s",
			     good[i], err);
	}
}

Test(config, check_catches_values_written_behind_its_back)
{
	struct tn_config c;
	char err[512];

	/* The struct lives in the shared segment: check what is there. */
	tn_config_defaults(&c);
	c.maxclients = 0;
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "maxclients is 0; it must be at least 1");

	tn_config_defaults(&c);
	c.shards = 300;
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), -1);
	cr_expect_str_eq(
	    err,
	    "shards is 300; it must be between 0 (one per online CPU) and 256");

	tn_config_defaults(&c);
	c.stripes = 100;
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), -1);
	cr_expect_str_eq(err, "stripes is 100; it must be 0 (derived) or a "
			      "power of two between 64 and 65536");

	tn_config_defaults(&c);
	c.stripes = 64;
	c.shards = 0;
	if (sysconf(_SC_NPROCESSORS_ONLN) > 64)
		cr_expect_eq(tn_config_check(&c, err, sizeof(err)), -1);
	else
		cr_expect_eq(tn_config_check(&c, err, sizeof(err)), 0, "%s",
			     err);
}

Test(config, names_are_unique_and_known)
{
	const char *const *names = tn_config_names();
	struct tn_config c;
	char out[2048];
	size_t i, j;

	tn_config_defaults(&c);
	cr_assert_not_null(names);
	cr_expect_str_eq(names[0], "port", "table order starts with port");
	for (i = 0; names[i]; i++) {
		cr_expect_eq(tn_config_get(&c, names[i], out, sizeof(out)), 0,
			     "%s", names[i]);
		for (j = 0; j < i; j++)
			cr_expect_str_neq(names[i], names[j]);
	}
	cr_expect_eq(i, 60);
}

/* Redis' keyspaceEventsStringToFlags and keyspaceEventsFlagsToString. */
Test(config, notify_keyspace_events_like_redis)
{
	static const struct {
		const char *set, *get;
	} cases[] = {
	    {"", ""},		 {"KEA", "AKE"},   {"Kgn", "gnK"},
	    {"AKEmn", "AKEm"},	 {"Ex", "xE"},	   {"$sg", "g$sK"},
	    {"g$lshzxetd", "AK"}, {"EKm", "KEm"}, {"xxE", "xE"},
	};
	struct tn_config c;
	char err[512];
	size_t i;

	for (i = 0; i < TN_ARRAY_SIZE(cases); i++) {
		tn_config_defaults(&c);
		/* "$sg" and the A row also set K, to show the letters' order */
		cr_assert_eq(set1(&c, "notify-keyspace-events", cases[i].set,
				  true, err, sizeof(err)),
			     0, "%s: %s", cases[i].set, err);
		if (i == 5 || i == 6)
			c.notify_keyspace_events |= TN_NOTIFY_KEYSPACE;
		cr_expect_str_eq(get(&c, "notify-keyspace-events"),
				 cases[i].get, "set %s", cases[i].set);
	}
	tn_config_defaults(&c);
	cr_expect_eq(set1(&c, "notify-keyspace-events", "Ex", true, err,
			  sizeof(err)),
		     0);
	cr_expect_eq(c.notify_keyspace_events,
		     TN_NOTIFY_KEYEVENT | TN_NOTIFY_EXPIRED);
	cr_expect_eq(set1(&c, "notify-keyspace-events", "KEQ", true, err,
			  sizeof(err)),
		     -1);
	cr_expect_str_eq(err, "ERR CONFIG SET failed (possibly related to "
			      "argument 'notify-keyspace-events') - Invalid "
			      "event class character. Use "
			      "'Ag$lshzxeKEtmdn'.");
	cr_expect_eq(c.notify_keyspace_events,
		     TN_NOTIFY_KEYEVENT | TN_NOTIFY_EXPIRED, "unchanged");
}

/* Redis' client-output-buffer-limit: groups of four, all or nothing. */
Test(config, client_output_buffer_limit_like_redis)
{
	static const struct {
		const char *value, *err;
	} bad[] = {
	    {"pubsub 1mb", "Wrong number of arguments in buffer limit "
			   "configuration."},
	    {"pubsub  1mb 2k 3", "Wrong number of arguments in buffer limit "
				 "configuration."},
	    {"foo 1 1 1", "Invalid client class specified in buffer limit "
			  "configuration."},
	    {"master 1 1 1", "Invalid client class specified in buffer limit "
			     "configuration."},
	    {"pubsub 1x 1 1", "Error in hard, soft or soft_seconds setting in "
			      "buffer limit configuration."},
	    {"pubsub -1 1 1", "Error in hard, soft or soft_seconds setting in "
			      "buffer limit configuration."},
	    {"pubsub 1 1 -1", "Error in hard, soft or soft_seconds setting in "
			      "buffer limit configuration."},
	    {"normal 1 2 3 pubsub 1 1 x", "Error in hard, soft or "
					  "soft_seconds setting in buffer "
					  "limit configuration."},
	};
	const char *file_args[] = {"replica", "1gb", "100mb", "5"};
	struct tn_config c;
	char err[512], want[512];
	size_t i;

	tn_config_defaults(&c);
	cr_expect_eq(c.obuf_limit[TN_OBUF_PUBSUB].hard_bytes, 32LL << 20);
	cr_expect_eq(c.obuf_limit[TN_OBUF_PUBSUB].soft_bytes, 8LL << 20);
	cr_expect_eq(c.obuf_limit[TN_OBUF_PUBSUB].soft_s, 60);
	for (i = 0; i < TN_ARRAY_SIZE(bad); i++) {
		cr_expect_eq(set1(&c, "client-output-buffer-limit",
				  bad[i].value, true, err, sizeof(err)),
			     -1, "%s accepted", bad[i].value);
		snprintf(want, sizeof(want),
			 "ERR CONFIG SET failed (possibly related to argument "
			 "'client-output-buffer-limit') - %s",
			 bad[i].err);
		cr_expect_str_eq(err, want, "%s", bad[i].value);
	}
	cr_expect_str_eq(get(&c, "client-output-buffer-limit"),
			 "normal 0 0 0 slave 268435456 67108864 60 pubsub "
			 "33554432 8388608 60",
			 "a refused value changes nothing");
	cr_expect_eq(set1(&c, "client-output-buffer-limit",
			  "PUBSUB 1mb 2k 03 replica 1 2 3", true, err,
			  sizeof(err)),
		     0, "%s", err);
	cr_expect_str_eq(get(&c, "client-output-buffer-limit"),
			 "normal 0 0 0 slave 1 2 3 pubsub 1048576 2000 3");
	cr_expect_eq(set1(&c, "client-output-buffer-limit", "", true, err,
			  sizeof(err)),
		     0, "nothing to change");
	/* the last of a class wins */
	cr_expect_eq(set1(&c, "client-output-buffer-limit",
			  "pubsub 1 1 1 pubsub 5 5 5", true, err,
			  sizeof(err)),
		     0);
	cr_expect_eq(c.obuf_limit[TN_OBUF_PUBSUB].hard_bytes, 5);
	/* a config line gives the four words as arguments */
	cr_expect_eq(tn_config_set(&c, "client-output-buffer-limit", 4,
				   file_args, false, err, sizeof(err)),
		     0, "%s", err);
	cr_expect_eq(c.obuf_limit[TN_OBUF_REPLICA].hard_bytes, 1LL << 30);
	cr_expect_eq(c.obuf_limit[TN_OBUF_REPLICA].soft_bytes, 100LL << 20);
	cr_expect_eq(c.obuf_limit[TN_OBUF_REPLICA].soft_s, 5);
	cr_expect_eq(tn_config_set(&c, "client-output-buffer-limit", 0,
				   file_args, false, err, sizeof(err)),
		     -1, "no arguments");
}

/* Find a file of the source tree: tests run from the top, or TN_SRCDIR. */
static FILE *open_source(const char *rel, char *path, size_t len)
{
	const char *srcdir = getenv("TN_SRCDIR");
	FILE *f;

	snprintf(path, len, "%s", rel);
	f = fopen(path, "r");
	if (!f && srcdir) {
		snprintf(path, len, "%s/%s", srcdir, rel);
		f = fopen(path, "r");
	}
	return f;
}

TestSuite(config_docs);

/* titan.conf(5) documents exactly the directives the parser knows. */
Test(config_docs, man_page_lists_every_directive)
{
	const char *const *names = tn_config_names();
	char path[PATH_MAX], line[1024], documented[128][64];
	size_t ndoc = 0, i, j, n;
	FILE *f = open_source("man/titan.conf.5", path, sizeof(path));
	bool found;

	cr_assert_not_null(f, "cannot open man/titan.conf.5 (run from the top "
			      "of the tree or set TN_SRCDIR)");
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, ".It Ic ", 7) != 0)
			continue;
		n = strcspn(line + 7, " \t\n");
		cr_assert_lt(ndoc, TN_ARRAY_SIZE(documented));
		cr_assert_lt(n, sizeof(documented[0]));
		memcpy(documented[ndoc], line + 7, n);
		documented[ndoc++][n] = '\0';
	}
	fclose(f);
	cr_expect_gt(ndoc, 0, "%s has no .It Ic entries", path);

	for (i = 0; names[i]; i++) {
		found = false;
		for (j = 0; j < ndoc; j++)
			found |= strcmp(names[i], documented[j]) == 0;
		cr_expect(found, "directive '%s' is missing from %s", names[i],
			  path);
	}
	for (j = 0; j < ndoc; j++) {
		found = false;
		for (i = 0; names[i]; i++)
			found |= strcmp(names[i], documented[j]) == 0;
		cr_expect(
		    found,
		    "%s documents '%s', which tn_config_names() does not have",
		    path, documented[j]);
		for (i = 0; i < j; i++)
			cr_expect_str_neq(documented[i], documented[j],
					  "%s documents '%s' twice", path,
					  documented[j]);
	}
}

/* The sample configuration starts a server: it loads and checks. */
Test(config_docs, sample_titan_conf_loads)
{
	struct tn_config c;
	char path[PATH_MAX], err[512] = "";
	FILE *f = open_source("titan.conf", path, sizeof(path));

	cr_assert_not_null(f, "cannot open titan.conf");
	fclose(f);
	tn_config_defaults(&c);
	cr_assert_eq(tn_config_load(&c, path, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(tn_config_check(&c, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(c.port, 6379);
	cr_expect_str_eq(get(&c, "bind"), "127.0.0.1 -::1");
	cr_expect(c.protected_mode);
	cr_expect_str_eq(c.dir, "./");
	cr_expect_str_eq(c.logfile, "");
	cr_expect_eq(c.loglevel, TN_LOG_NOTICE);
	cr_expect_eq(c.shards, 0);
}

/* Redis' save points: the file's first line replaces the default, later
 * lines add; "" clears; CONFIG SET replaces; bad pairs change nothing. */
Test(config, save_points)
{
	static const char *const bad[] = {
	    "1",	 "1 2 3", "0 1",	 "1 -1", "x 1",
	    "1 1x", "1  1",  "99999999999999999999 1",
	};
	struct tn_config c;
	char err[512], want[512];
	size_t i;

	tn_config_defaults(&c);
	cr_expect_str_eq(get(&c, "save"), "3600 1 300 100 60 10000");
	cr_expect(c.stop_writes_on_bgsave_error);
	load_ok(&c, "save 900 1\nsave 60 10000 5 0\n");
	cr_expect_str_eq(get(&c, "save"), "900 1 60 10000 5 0");
	cr_expect_eq(c.nsave, 3);
	cr_expect_eq(c.save[2].seconds, 5);
	cr_expect_eq(c.save[2].changes, 0);
	load_ok(&c, "save \"\"\n");
	cr_expect_eq(c.nsave, 0);
	cr_expect_str_eq(get(&c, "save"), "");
	load_ok(&c, "port 1\n");
	cr_expect_eq(c.nsave, 3, "no save line: the default stays");
	cr_expect_eq(set1(&c, "save", "10 2 20 3", true, err, sizeof(err)), 0,
		     "%s", err);
	cr_expect_str_eq(get(&c, "save"), "10 2 20 3");
	cr_expect_eq(set1(&c, "save", "7 7", true, err, sizeof(err)), 0);
	cr_expect_str_eq(get(&c, "save"), "7 7", "CONFIG SET replaces");
	for (i = 0; i < TN_ARRAY_SIZE(bad); i++) {
		cr_expect_eq(set1(&c, "save", bad[i], true, err, sizeof(err)),
			     -1, "'%s' accepted", bad[i]);
		snprintf(want, sizeof(want),
			 "ERR CONFIG SET failed (possibly related to argument "
			 "'save') - Invalid save parameters");
		cr_expect_str_eq(err, want, "%s", bad[i]);
	}
	cr_expect_str_eq(get(&c, "save"), "7 7", "a refused value changes nothing");
	cr_expect_eq(set1(&c, "save", "", true, err, sizeof(err)), 0);
	cr_expect_eq(c.nsave, 0);
	expect_error("save 10\n",
		     "t.conf:1: 'save' wants pairs of <seconds> <changes> (at "
		     "most 16), or \"\" for none");
	expect_error("port 1\nsave 0 5\n",
		     "t.conf:2: 'save' wants <seconds> of at least 1 and "
		     "<changes> of at least 0, got '0'");
	expect_error("save 1 1 2 2 3 3 4 4 5 5 6 6 7 7 8 8\n"
		     "save 1 1 2 2 3 3 4 4 5 5 6 6 7 7 8 8 9 9\n",
		     "t.conf:2: 'save' has more than 16 save points in all");
}
