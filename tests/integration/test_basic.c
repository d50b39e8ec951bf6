/*
 * test_basic.c - the server starts, answers, and serves strings.
 */
#include <criterion/criterion.h>

#include "tests/integration/harness.h"

static struct tn_server srv;

static void setup(void)
{
	cr_assert(tn_server_start(&srv, NULL) == 0, "server did not start");
}

static void teardown(void)
{
	cr_expect(tn_server_stop(&srv) == 0, "supervisor did not exit 0");
}

TestSuite(basic, .init = setup, .fini = teardown);

Test(basic, ping_set_get)
{
	redisContext *c = tn_connect(&srv);

	tn_expect_status(tn_cmd(c, "PING"), "PONG");
	tn_expect_str(tn_cmd(c, "PING hello"), "hello");
	tn_expect_status(tn_cmd(c, "SET foo bar"), "OK");
	tn_expect_str(tn_cmd(c, "GET foo"), "bar");
	tn_expect_nil(tn_cmd(c, "GET nosuch"));
	tn_expect_error(tn_cmd(c, "NOSUCHCMD a b"),
			"ERR unknown command 'NOSUCHCMD', with args beginning "
			"with: 'a' 'b' ");
	tn_expect_error(tn_cmd(c, "GET"),
			"ERR wrong number of arguments for 'get' command");
	redisFree(c);
}
