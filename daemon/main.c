/*
 * main.c - titan-supervisor's command line: read the configuration,
 * check it (-t), then hand over to the supervisor loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/daemon.h"
#include "daemon/supervisor.h"
#include "util/util.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: titan-supervisor [-tv] [-c file] [--directive value ...]\n");
}

/* "--port 7000 --bind 127.0.0.1 ::1" -> "port 7000 bind..." lines. */
static int load_overrides(struct tn_config *c, int argc, char **argv,
			  char *err, size_t errlen)
{
	char *text;
	size_t cap = 1, len = 0;
	int i, rc;

	for (i = 0; i < argc; i++)
		cap += strlen(argv[i]) * 4 + 4;
	text = malloc(cap);
	if (!text)
		return -1;
	text[0] = '\0';
	for (i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "--", 2) == 0) {
			if (len)
				text[len++] = '\n';
			len += snprintf(text + len, cap - len, "%s", a + 2);
			continue;
		}
		/* quote the value so spaces and quotes survive the splitter */
		text[len++] = ' ';
		text[len++] = '"';
		for (; *a; a++) {
			if (*a == '"' || *a == '\\')
				text[len++] = '\\';
			text[len++] = *a;
		}
		text[len++] = '"';
		text[len] = '\0';
	}
	text[len] = '\0';
	rc = tn_config_load_string(c, text, "command line", err, errlen);
	free(text);
	return rc;
}

int main(int argc, char **argv)
{
	static struct tn_config conf;
	const char *path = NULL;
	char err[1024];
	bool test_only = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			path = argv[++i];
		} else if (strcmp(argv[i], "-t") == 0) {
			test_only = true;
		} else if (strcmp(argv[i], "-v") == 0 ||
			   strcmp(argv[i], "--version") == 0) {
			printf("titan-supervisor v=%s redis_compat=%s\n",
			       TN_VERSION, TN_REDIS_COMPAT_VERSION);
			return 0;
		} else if (strcmp(argv[i], "-h") == 0 ||
			   strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strncmp(argv[i], "--", 2) == 0) {
			break;
		} else {
			usage(stderr);
			return 1;
		}
	}

	tn_config_defaults(&conf);
	if (path && tn_config_load(&conf, path, err, sizeof(err)) < 0) {
		fprintf(stderr, "titan-supervisor: %s\n", err);
		return 1;
	}
	if (i < argc && load_overrides(&conf, argc - i, argv + i, err,
				       sizeof(err)) < 0) {
		fprintf(stderr, "titan-supervisor: %s\n", err);
		return 1;
	}
	if (tn_config_check(&conf, err, sizeof(err)) < 0) {
		fprintf(stderr, "titan-supervisor: %s%s%s\n", path ? path : "",
			path ? ": " : "", err);
		return 1;
	}
	if (test_only) {
		printf("titan-supervisor: the configuration file %s syntax is ok\n"
		       "titan-supervisor: configuration file %s test is successful\n",
		       path ? path : "(built-in defaults)",
		       path ? path : "(built-in defaults)");
		return 0;
	}
	return tn_supervisor_run(&conf, argc, argv);
}
