/*
 * test_dagfile.c - `titan submit`'s YAML reader: a diamond of file: and
 * command: steps gives the exact SUBMIT_DAG2 body, and every bad file
 * gets a message naming the file, line and column.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "workers/dagfile.h"

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	f = fopen(p, "w");
	cr_assert_not_null(f, "%s", p);
	fputs(text, f);
	fclose(f);
}

static void setup(void)
{
	char p[128];

	strcpy(tmpdir, "/tmp/titan-dagfile-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
	snprintf(p, sizeof(p), "%s/sub", tmpdir);
	cr_assert_eq(mkdir(p, 0700), 0);
	write_file("a.sh", "echo a\n");
	write_file("sub/d.py", "print(1)\n");
}

static void teardown(void)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	cr_assert_eq(system(cmd), 0);
}

static const char diamond[] =
	"name: diamond\n"
	"project: false\n"
	"version: 2\n"
	"jobs:\n"
	"  - id: a\n"
	"    file: a.sh\n"
	"    args: x|y\n"
	"  - id: b\n"
	"    command: [echo, \"hi there\"]\n"
	"    depends_on: [a]\n"
	"    env: {K: v}\n"
	"    cwd: /tmp\n"
	"    retries: 2\n"
	"    timeout: 1.5\n"
	"    requirement: GPU\n"
	"  - id: c\n"
	"    command: \"echo c; exit 0\"\n"
	"    depends_on: a\n"
	"    priority: 5\n"
	"    delay: 2\n"
	"  - id: d\n"
	"    type: service\n"
	"    file: sub/d.py\n"
	"    port: 8080\n"
	"    depends_on:\n"
	"      - b\n"
	"      - c\n"
	"    affinity: true\n";

static const char diamond_body[] =
	"a|RUN_PAYLOAD|a.sh|x y|ZWNobyBhCg==|GENERAL|1|0|[]"
	" ; b|GPU|EXEC|ZWNobwBoaSB0aGVyZQ==|2|1500|Sz12|L3RtcA==|1|0|[a]"
	" ; c|GENERAL|EXEC|L2Jpbi9zaAAtYwBlY2hvIGM7IGV4aXQgMA==|3|0|||5|2000"
	"|[a]"
	" ; d|DEPLOY_PAYLOAD|d.py|cHJpbnQoMSkK|8080|GENERAL|1|0|[b,c]"
	"|AFFINITY";

Test(dagfile, diamond_from_file, .init = setup, .fini = teardown)
{
	struct tn_buf b = { 0 };
	char err[512], path[128];
	size_t n = 0;

	write_file("dag.yaml", diamond);
	snprintf(path, sizeof(path), "%s/dag.yaml", tmpdir);
	cr_assert_eq(tn_dagfile_load(path, &b, &n, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(n, 4);
	tn_buf_append(&b, "", 1);
	cr_assert_str_eq(b.data, diamond_body);
	tn_buf_free(&b);
}

Test(dagfile, relative_path_from_cwd, .init = setup, .fini = teardown)
{
	struct tn_buf b = { 0 };
	char err[512], old[4096];
	size_t n;

	write_file("dag.yaml", diamond);
	cr_assert_not_null(getcwd(old, sizeof(old)));
	cr_assert_eq(chdir(tmpdir), 0);
	cr_assert_eq(tn_dagfile_load("dag.yaml", &b, &n, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(chdir(old), 0);
	tn_buf_append(&b, "", 1);
	cr_assert_str_eq(b.data, diamond_body);
	tn_buf_free(&b);
}

Test(dagfile, missing_file_names_it)
{
	struct tn_buf b = { 0 };
	char err[512];
	size_t n;

	cr_assert_eq(tn_dagfile_load("/nonexistent/x.yaml", &b, &n, err,
				     sizeof(err)),
		     -ENOENT);
	cr_assert_str_eq(err, "cannot open /nonexistent/x.yaml: No such "
			      "file or directory");
}

struct bad {
	const char *yaml;
	const char *err;
};

/* Every error case: the message, position included, exactly. */
static const struct bad bad_cases[] = {
	{ "jobs: [\n", "t.yaml:2:1: did not find expected node content "
		       "while parsing a flow node" },
	{ "", "t.yaml: empty file: want name: and jobs:" },
	{ "- a\n", "t.yaml:1:1: the file must be a mapping (name:, jobs:), "
		   "not a list" },
	{ "name: x\nfoo: 1\njobs: []\n",
	  "t.yaml:2:1: unknown field 'foo' (known: name, project, version, "
	  "jobs)" },
	{ "name: x\n", "t.yaml:1:1: no jobs: list" },
	{ "jobs: []\n", "t.yaml:1:7: jobs is empty" },
	{ "jobs: {a: 1}\n", "t.yaml:1:7: jobs must be a list of steps, not a "
			    "mapping" },
	{ "jobs:\n  - command: x\n", "t.yaml:2:5: job 1 has no id" },
	{ "jobs:\n  - x\n", "t.yaml:2:5: job 1 must be a mapping (id: ..., "
			    "command: ...), not a scalar" },
	{ "jobs:\n  - id: a b\n    command: x\n",
	  "t.yaml:2:9: id 'a b' has a character that cannot travel in a DAG "
	  "line (space, control, | ; [ ] or ,)" },
	{ "jobs:\n  - id: 'a|b'\n    command: x\n",
	  "t.yaml:2:9: id 'a|b' has a character that cannot travel in a DAG "
	  "line (space, control, | ; [ ] or ,)" },
	{ "jobs:\n  - id: ''\n    command: x\n", "t.yaml:2:9: id is empty" },
	{ "jobs:\n  - id: [a]\n", "t.yaml:2:9: id must be a scalar, not a "
				  "list" },
	{ "jobs:\n  - id: a\n    command: x\n  - id: a\n    command: y\n",
	  "t.yaml:4:9: duplicate job id a" },
	{ "jobs:\n  - id: a\n    command: x\n    colour: red\n",
	  "t.yaml:4:5: job a: unknown field 'colour' (known: id, type, file, "
	  "args, requirement, priority, delay, affinity, depends_on, port, "
	  "command, env, cwd, retries, timeout)" },
	{ "jobs:\n  - id: a\n    command: x\n    command: y\n",
	  "t.yaml:4:5: job a: field 'command' given twice" },
	{ "jobs:\n  - id: a\n    hitl_message: ok?\n    command: x\n",
	  "t.yaml:3:5: job a: 'hitl_message' (v1's approval gates) is not "
	  "supported" },
	{ "jobs:\n  - id: a\n    type: batch\n    file: a.sh\n",
	  "t.yaml:3:11: job a: type must be run or service, not 'batch'" },
	{ "jobs:\n  - id: a\n", "t.yaml:2:5: job a: needs file (a script) or "
				"command" },
	{ "jobs:\n  - id: a\n    file: a.sh\n    command: x\n",
	  "t.yaml:4:14: job a: give file or command, not both" },
	{ "jobs:\n  - id: a\n    file: nope.sh\n",
	  "t.yaml:3:11: cannot open file '@/nope.sh': No such file or "
	  "directory" },
	{ "jobs:\n  - id: a\n    file: sub\n",
	  "t.yaml:3:11: file '@/sub' is not a regular file" },
	{ "jobs:\n  - id: a\n    type: service\n    file: a.sh\n",
	  "t.yaml:2:5: job a: type service needs a port" },
	{ "jobs:\n  - id: a\n    type: service\n    file: a.sh\n    port: 0\n",
	  "t.yaml:5:11: port must be an integer from 1 to 65535, not '0'" },
	{ "jobs:\n  - id: a\n    command: x\n    priority: high\n",
	  "t.yaml:4:15: priority must be an integer from -2147483648 to "
	  "2147483647, not 'high'" },
	{ "jobs:\n  - id: a\n    command: x\n    delay: -1\n",
	  "t.yaml:4:12: delay must be a number of seconds from 0 to 31622400, "
	  "not '-1'" },
	{ "jobs:\n  - id: a\n    command: x\n    timeout: nan\n",
	  "t.yaml:4:14: timeout must be a number of seconds from 0 to "
	  "31622400, not 'nan'" },
	{ "jobs:\n  - id: a\n    command: x\n    retries: 1001\n",
	  "t.yaml:4:14: retries must be an integer from 0 to 1000, not "
	  "'1001'" },
	{ "jobs:\n  - id: a\n    command: x\n    affinity: maybe\n",
	  "t.yaml:4:15: affinity must be true or false, not 'maybe'" },
	{ "jobs:\n  - id: a\n    command: x\n    depends_on: [z]\n",
	  "t.yaml:4:18: job a: unknown parent z" },
	{ "jobs:\n  - id: a\n    command: x\n    depends_on: z\n",
	  "t.yaml:4:17: job a: unknown parent z" },
	{ "jobs:\n  - id: a\n    command: x\n    depends_on: [a]\n",
	  "t.yaml:4:18: job a depends on itself" },
	{ "jobs:\n  - id: a\n    command: x\n    depends_on: {a: 1}\n",
	  "t.yaml:4:17: job a: depends_on must be a list of job ids, not a "
	  "mapping" },
	{ "jobs:\n  - id: a\n    command: []\n",
	  "t.yaml:3:14: job a: command is empty" },
	{ "jobs:\n  - id: a\n    command: ''\n",
	  "t.yaml:3:14: job a: command is empty" },
	{ "jobs:\n  - id: a\n    command: {x: 1}\n",
	  "t.yaml:3:14: job a: command must be a string or a list, not a "
	  "mapping" },
	{ "jobs:\n  - id: a\n    command: [\"x\\0y\"]\n",
	  "t.yaml:3:15: a command item contains a NUL byte" },
	{ "jobs:\n  - id: a\n    command: x\n    env: [A=1]\n",
	  "t.yaml:4:10: job a: env must be a mapping of NAME: value, not a "
	  "list" },
	{ "jobs:\n  - id: a\n    command: x\n    env: {A=B: 1}\n",
	  "t.yaml:4:11: job a: env name 'A=B' is empty or has '='" },
	{ "jobs:\n  - id: a\n    command: x\n    args: y\n",
	  "t.yaml:4:11: job a: 'args' is for file: steps; a command step "
	  "takes its arguments in command" },
	{ "jobs:\n  - id: a\n    file: a.sh\n    env: {A: 1}\n",
	  "t.yaml:4:10: job a: 'env' needs a command step (v1's file: jobs "
	  "cannot carry it)" },
	{ "jobs:\n  - id: a\n    file: a.sh\n    args: 'x; rm -rf /'\n",
	  "t.yaml:4:11: job a: args cannot contain ';' (it ends a DAG line); "
	  "use command: instead" },
	{ "jobs:\n  - id: a\n    command: x\n    cwd: ''\n",
	  "t.yaml:4:10: job a: cwd is empty" },
	{ "jobs:\n  - id: a\n    command: x\n    requirement: 'G,P'\n",
	  "t.yaml:4:18: requirement 'G,P' has a character that cannot travel "
	  "in a DAG line (space, control, | ; [ ] or ,)" },
	{ "jobs:\n  - id: a\n    command: x\n\t- id: b\n",
	  "t.yaml:4:1: found a tab character that violates indentation while "
	  "scanning a plain scalar" },
};

ParameterizedTestParameters(dagfile, bad_files)
{
	size_t n = sizeof(bad_cases) / sizeof(bad_cases[0]), i;
	struct bad *p = cr_malloc(n * sizeof(*p));

	for (i = 0; i < n; i++) {
		p[i].yaml = cr_malloc(strlen(bad_cases[i].yaml) + 1);
		strcpy((char *)p[i].yaml, bad_cases[i].yaml);
		p[i].err = cr_malloc(strlen(bad_cases[i].err) + 1);
		strcpy((char *)p[i].err, bad_cases[i].err);
	}
	return cr_make_param_array(struct bad, p, n);
}

ParameterizedTest(struct bad *c, dagfile, bad_files, .init = setup,
		  .fini = teardown)
{
	struct tn_buf b = { 0 };
	char err[512], want[512];
	const char *at;
	size_t n = 7;
	int rc;

	tn_buf_append(&b, "keep", 4);
	rc = tn_dagfile_parse(c->yaml, strlen(c->yaml), "t.yaml", tmpdir, &b,
			      &n, err, sizeof(err));
	cr_assert_eq(rc, -EINVAL, "%s: rc %d (%s)", c->yaml, rc, err);
	/* '@' in the expected text stands for the temp dir */
	at = strchr(c->err, '@');
	if (at)
		snprintf(want, sizeof(want), "%.*s%s%s", (int)(at - c->err),
			 c->err, tmpdir, at + 1);
	else
		snprintf(want, sizeof(want), "%s", c->err);
	cr_assert_str_eq(err, want, "for:\n%s", c->yaml);
	cr_assert_eq(n, 0);
	cr_assert_eq(b.len, 4, "a failed parse leaves the body as it was");
	tn_buf_free(&b);
}

Test(dagfile, defaults_aliases_and_yes, .init = setup, .fini = teardown)
{
	static const char y[] = "jobs:\n"
				"  - id: DAG-x\n"
				"    command: &c [true]\n"
				"    affinity: yes\n"
				"    timeout: 2\n"
				"  - id: y\n"
				"    command: *c\n"
				"    depends_on: [DAG-x]\n"
				"    env: {}\n"
				"    args_unused: &a 1\n";
	static const char ok[] = "jobs:\n"
				 "  - id: DAG-x\n"
				 "    command: &c [\"true\"]\n"
				 "    affinity: yes\n"
				 "    timeout: 2\n"
				 "  - id: y\n"
				 "    command: *c\n"
				 "    depends_on: [DAG-x]\n"
				 "    env: {}\n";
	struct tn_buf b = { 0 };
	char err[512];
	size_t n;

	cr_assert_eq(tn_dagfile_parse(y, strlen(y), "t.yaml", tmpdir, &b, &n,
				      err, sizeof(err)),
		     -EINVAL);
	cr_assert_eq(tn_dagfile_parse(ok, strlen(ok), "t.yaml", tmpdir, &b,
				      &n, err, sizeof(err)),
		     0, "%s", err);
	tn_buf_append(&b, "", 1);
	/* "true" is dHJ1ZQ== */
	cr_assert_str_eq(b.data, "DAG-x|GENERAL|EXEC|dHJ1ZQ==|3|2000|||1|0|[]"
				 "|AFFINITY"
				 " ; y|GENERAL|EXEC|dHJ1ZQ==|3|0|||1|0|[DAG-x]");
	tn_buf_free(&b);
}

Test(dagfile, wide_fan_out)
{
	struct tn_buf y = { 0 }, b = { 0 };
	char err[512];
	size_t n, i;

	tn_buf_printf(&y, "name: wide\njobs:\n  - id: root\n    command: "
			  "[\"true\"]\n");
	for (i = 0; i < 1000; i++)
		tn_buf_printf(&y, "  - {id: j%zu, command: [\"true\"], "
				  "depends_on: [root]}\n",
			      i);
	cr_assert_eq(tn_dagfile_parse(y.data, y.len, "w.yaml", ".", &b, &n, err,
				      sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(n, 1001);
	tn_buf_append(&b, "", 1);
	cr_assert_not_null(strstr(b.data, " ; j999|GENERAL|EXEC|dHJ1ZQ==|3|0|"
					  "||1|0|[root]"));
	tn_buf_free(&y);
	tn_buf_free(&b);
}
