/*
 * dagfile.c - `titan submit`'s YAML reader: libyaml builds the document,
 * we walk it, check every field against v1's pipeline grammar plus
 * Titan's command steps, and write TITAN_PROTO DAG lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "ipc/proto.h"
#include "util/util.h"
#include "workers/dagfile.h"

/* The whole body goes in one frame: no file can be bigger than that. */
#define TN_DAGFILE_MAX_BYTES TN_PROTO_MAX_BODY_V1

struct df_job {
	const char *id;
	yaml_node_t *node; /* the step's mapping */
	yaml_mark_t id_mark;
	size_t index;
};

struct df {
	yaml_document_t doc;
	const char *path;
	const char *basedir;
	char *err;
	size_t errlen;
	struct tn_buf *body;
	struct df_job *jobs;
	size_t njobs;
	struct df_job **sorted; /* by id, for duplicate and parent checks */
};

__attribute__((format(printf, 3, 4))) static int
df_fail(struct df *d, const yaml_mark_t *m, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (m)
		n = snprintf(d->err, d->errlen, "%s:%zu:%zu: ", d->path,
			     m->line + 1, m->column + 1);
	else
		n = snprintf(d->err, d->errlen, "%s: ", d->path);
	if (n < 0 || (size_t)n >= d->errlen)
		return -EINVAL;
	va_start(ap, fmt);
	vsnprintf(d->err + n, d->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static const char *df_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SCALAR_NODE:
		return "a scalar";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return "nothing";
	}
}

/* A scalar's text, NUL-free (libyaml allows "\0" in double quotes). */
static int df_scalar(struct df *d, yaml_node_t *n, const char *what,
		     const char **out)
{
	if (n->type != YAML_SCALAR_NODE)
		return df_fail(d, &n->start_mark, "%s must be a scalar, not %s",
			       what, df_kind(n));
	if (memchr(n->data.scalar.value, '\0', n->data.scalar.length))
		return df_fail(d, &n->start_mark, "%s contains a NUL byte",
			       what);
	*out = (const char *)n->data.scalar.value;
	return 0;
}

/* Ids and capabilities travel unescaped between `|`, `;`, `[`, `,`. */
static int df_word(struct df *d, yaml_node_t *n, const char *what,
		   const char **out)
{
	const char *s;
	size_t i, len;
	int rc = df_scalar(d, n, what, &s);

	if (rc)
		return rc;
	len = strlen(s);
	if (len == 0)
		return df_fail(d, &n->start_mark, "%s is empty", what);
	if (len > TN_DAGFILE_MAX_ID)
		return df_fail(d, &n->start_mark,
			       "%s is longer than %d bytes", what,
			       TN_DAGFILE_MAX_ID);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f || strchr("|;[],", c))
			return df_fail(d, &n->start_mark,
				       "%s '%s' has a character that cannot "
				       "travel in a DAG line (space, control, "
				       "| ; [ ] or ,)",
				       what, s);
	}
	*out = s;
	return 0;
}

static int df_int(struct df *d, yaml_node_t *n, const char *what,
		  long long min, long long max, long long *out)
{
	const char *s;
	char *end;
	long long v;
	int rc = df_scalar(d, n, what, &s);

	if (rc)
		return rc;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max)
		return df_fail(d, &n->start_mark,
			       "%s must be an integer from %lld to %lld, not "
			       "'%s'",
			       what, min, max, s);
	*out = v;
	return 0;
}

/* Seconds in the file, milliseconds on the wire. */
static int df_seconds(struct df *d, yaml_node_t *n, const char *what,
		      long long *ms)
{
	const char *s;
	char *end;
	double v;
	int rc = df_scalar(d, n, what, &s);

	if (rc)
		return rc;
	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v) || v < 0 ||
	    v > TN_DAGFILE_MAX_SECONDS || strpbrk(s, "xXnN"))
		return df_fail(d, &n->start_mark,
			       "%s must be a number of seconds from 0 to "
			       "%.0f, not '%s'",
			       what, TN_DAGFILE_MAX_SECONDS, s);
	*ms = llround(v * 1000);
	return 0;
}

static int df_bool(struct df *d, yaml_node_t *n, const char *what,
		   bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	const char *s;
	size_t i;
	int rc = df_scalar(d, n, what, &s);

	if (rc)
		return rc;
	for (i = 0; i < 3; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return df_fail(d, &n->start_mark, "%s must be true or false, not '%s'",
		       what, s);
}

static yaml_node_t *df_node(struct df *d, yaml_node_item_t i)
{
	return yaml_document_get_node(&d->doc, i);
}

static int df_cmp_job(const void *a, const void *b)
{
	const struct df_job *x = *(struct df_job *const *)a;
	const struct df_job *y = *(struct df_job *const *)b;
	int c = strcmp(x->id, y->id);

	if (c)
		return c;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int df_cmp_key(const void *key, const void *elem)
{
	return strcmp(key, (*(struct df_job *const *)elem)->id);
}

static bool df_has_job(struct df *d, const char *id)
{
	return bsearch(id, d->sorted, d->njobs, sizeof(*d->sorted),
		       df_cmp_key) != NULL;
}

/* Append a file's bytes as Base64; bounded before anything is read. */
static int df_append_file(struct df *d, yaml_node_t *n, const char *file)
{
	char path[4096];
	struct stat st;
	char *raw = NULL;
	size_t got = 0, enc;
	ssize_t r;
	int fd, rc = 0;

	if (file[0] == '/')
		rc = snprintf(path, sizeof(path), "%s", file);
	else
		rc = snprintf(path, sizeof(path), "%s/%s", d->basedir, file);
	if (rc < 0 || (size_t)rc >= sizeof(path))
		return df_fail(d, &n->start_mark, "file path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return df_fail(d, &n->start_mark, "cannot open file '%s': %s",
			       path, strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = df_fail(d, &n->start_mark, "file '%s' is not a regular "
			     "file", path);
		goto out;
	}
	if ((size_t)st.st_size / 3 * 4 > TN_DAGFILE_MAX_BYTES) {
		rc = df_fail(d, &n->start_mark,
			     "file '%s' is %lld bytes: its Base64 would not "
			     "fit in a 10 MiB frame",
			     path, (long long)st.st_size);
		if (rc == -EINVAL)
			rc = -E2BIG;
		goto out;
	}
	raw = malloc((size_t)st.st_size + 1);
	if (!raw) {
		rc = -ENOMEM;
		goto out;
	}
	/* Read what is there now, bounded by the size we checked. */
	while (got < (size_t)st.st_size) {
		r = read(fd, raw + got, (size_t)st.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = df_fail(d, &n->start_mark,
				     "cannot read file '%s': %s", path,
				     strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		got += (size_t)r;
	}
	enc = tn_b64_encoded_len(got);
	rc = tn_buf_reserve(d->body, enc + 1);
	if (rc)
		goto out;
	tn_b64_encode(raw, got, d->body->data + d->body->len);
	d->body->len += enc;
out:
	free(raw);
	close(fd);
	return rc;
}

static const char *df_basename(const char *p)
{
	const char *s = strrchr(p, '/');

	return s ? s + 1 : p;
}

struct df_step {
	yaml_node_t *type, *file, *args, *req, *prio, *delay, *affinity,
		*deps, *port, *command, *env, *cwd, *retries, *timeout;
};

static int df_step_fields(struct df *d, struct df_job *j, struct df_step *st)
{
	static const char *const names[] = {
		"id",	      "type",	  "file",    "args",   "requirement",
		"priority",   "delay",	  "affinity", "depends_on", "port",
		"command",    "env",	  "cwd",     "retries", "timeout",
	};
	yaml_node_t **slots[] = {
		NULL,	    &st->type,	   &st->file,	  &st->args,
		&st->req,   &st->prio,	   &st->delay,	  &st->affinity,
		&st->deps,  &st->port,	   &st->command,  &st->env,
		&st->cwd,   &st->retries,  &st->timeout,
	};
	yaml_node_pair_t *p;
	const char *k;
	size_t i;
	int rc;

	memset(st, 0, sizeof(*st));
	for (p = j->node->data.mapping.pairs.start;
	     p < j->node->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = df_node(d, p->key);

		rc = df_scalar(d, kn, "a field name", &k);
		if (rc)
			return rc;
		for (i = 0; i < TN_ARRAY_SIZE(names); i++)
			if (!strcmp(k, names[i]))
				break;
		if (i == TN_ARRAY_SIZE(names)) {
			if (!strcmp(k, "hitl_message") ||
			    !strcmp(k, "max_wait_seconds"))
				return df_fail(d, &kn->start_mark,
					       "job %s: '%s' (v1's approval "
					       "gates) is not supported",
					       j->id, k);
			return df_fail(d, &kn->start_mark,
				       "job %s: unknown field '%s' (known: id, "
				       "type, file, args, requirement, "
				       "priority, delay, affinity, depends_on, "
				       "port, command, env, cwd, retries, "
				       "timeout)",
				       j->id, k);
		}
		if (!slots[i])
			continue;
		if (*slots[i])
			return df_fail(d, &kn->start_mark,
				       "job %s: field '%s' given twice", j->id,
				       k);
		*slots[i] = df_node(d, p->value);
	}
	return 0;
}


/* "[a,b]" after checking every parent is a job of this file. */
static int df_append_parents(struct df *d, struct df_job *j, yaml_node_t *n)
{
	yaml_node_item_t *it;
	const char *p;
	int rc = 0, first = 1;

	rc = tn_buf_append(d->body, "[", 1);
	if (rc)
		return rc;
	if (!n)
		goto close;
	if (n->type == YAML_SCALAR_NODE) {
		/* `depends_on: a` reads as the one-item list. */
		rc = df_word(d, n, "depends_on", &p);
		if (rc)
			return rc;
		if (!df_has_job(d, p))
			return df_fail(d, &n->start_mark,
				       "job %s: unknown parent %s", j->id, p);
		rc = tn_buf_append(d->body, p, strlen(p));
		goto close;
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return df_fail(d, &n->start_mark,
			       "job %s: depends_on must be a list of job ids, "
			       "not %s",
			       j->id, df_kind(n));
	for (it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++) {
		yaml_node_t *pn = df_node(d, *it);

		rc = df_word(d, pn, "a depends_on item", &p);
		if (rc)
			return rc;
		if (!strcmp(p, j->id))
			return df_fail(d, &pn->start_mark,
				       "job %s depends on itself", j->id);
		if (!df_has_job(d, p))
			return df_fail(d, &pn->start_mark,
				       "job %s: unknown parent %s", j->id, p);
		if (!first)
			rc = tn_buf_append(d->body, ",", 1);
		if (!rc)
			rc = tn_buf_append(d->body, p, strlen(p));
		if (rc)
			return rc;
		first = 0;
	}
close:
	if (!rc)
		rc = tn_buf_append(d->body, "]", 1);
	return rc;
}

/* The argv of a command step: a list as is, a string through sh -c. */
static int df_append_argv(struct df *d, struct df_job *j, yaml_node_t *n)
{
	const char *v[3] = { "/bin/sh", "-c", NULL };
	const char **argv;
	yaml_node_item_t *it;
	size_t i = 0, cnt;
	int rc;

	if (n->type == YAML_SCALAR_NODE) {
		rc = df_scalar(d, n, "command", &v[2]);
		if (rc)
			return rc;
		if (!v[2][0])
			return df_fail(d, &n->start_mark,
				       "job %s: command is empty", j->id);
		return tn_b64_list_append(d->body, v, 3);
	}
	if (n->type != YAML_SEQUENCE_NODE)
		return df_fail(d, &n->start_mark,
			       "job %s: command must be a string or a list, "
			       "not %s",
			       j->id, df_kind(n));
	cnt = (size_t)(n->data.sequence.items.top -
		       n->data.sequence.items.start);
	if (cnt == 0)
		return df_fail(d, &n->start_mark, "job %s: command is empty",
			       j->id);
	argv = calloc(cnt, sizeof(*argv));
	if (!argv)
		return -ENOMEM;
	for (it = n->data.sequence.items.start;
	     it < n->data.sequence.items.top; it++, i++) {
		rc = df_scalar(d, df_node(d, *it), "a command item", &argv[i]);
		if (rc)
			goto out;
	}
	if (!argv[0][0]) {
		rc = df_fail(d, &n->start_mark, "job %s: command's first item "
			     "(the program) is empty", j->id);
		goto out;
	}
	rc = tn_b64_list_append(d->body, argv, cnt);
out:
	free(argv);
	return rc;
}

static int df_append_env(struct df *d, struct df_job *j, yaml_node_t *n)
{
	const char **items = NULL;
	char **owned = NULL;
	yaml_node_pair_t *p;
	size_t cnt = 0, i = 0;
	int rc = 0;

	if (!n)
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return df_fail(d, &n->start_mark,
			       "job %s: env must be a mapping of NAME: value, "
			       "not %s",
			       j->id, df_kind(n));
	cnt = (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
	items = calloc(cnt + 1, sizeof(*items));
	owned = calloc(cnt + 1, sizeof(*owned));
	if (!items || !owned) {
		rc = -ENOMEM;
		goto out;
	}
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++, i++) {
		yaml_node_t *kn = df_node(d, p->key);
		const char *k, *v;

		rc = df_scalar(d, kn, "an env name", &k);
		if (!rc && (!k[0] || strchr(k, '=')))
			rc = df_fail(d, &kn->start_mark,
				     "job %s: env name '%s' is empty or has "
				     "'='",
				     j->id, k);
		if (!rc)
			rc = df_scalar(d, df_node(d, p->value), "an env value",
				       &v);
		if (rc)
			goto out;
		if (asprintf(&owned[i], "%s=%s", k, v) < 0) {
			owned[i] = NULL;
			rc = -ENOMEM;
			goto out;
		}
		items[i] = owned[i];
	}
	rc = tn_b64_list_append(d->body, items, cnt);
out:
	for (i = 0; owned && i < cnt; i++)
		free(owned[i]);
	free(owned);
	free(items);
	return rc;
}

/* v1 converts args to one string; a list reads as its items joined. */
static int df_append_args(struct df *d, struct df_job *j, yaml_node_t *n)
{
	yaml_node_item_t *it;
	const char *s;
	size_t start = d->body->len, i;
	int rc = 0;

	if (!n)
		return 0;
	if (n->type == YAML_SCALAR_NODE) {
		rc = df_scalar(d, n, "args", &s);
		if (!rc)
			rc = tn_buf_append(d->body, s, strlen(s));
	} else if (n->type == YAML_SEQUENCE_NODE) {
		for (it = n->data.sequence.items.start;
		     !rc && it < n->data.sequence.items.top; it++) {
			rc = df_scalar(d, df_node(d, *it), "an args item", &s);
			if (!rc && it != n->data.sequence.items.start)
				rc = tn_buf_append(d->body, " ", 1);
			if (!rc)
				rc = tn_buf_append(d->body, s, strlen(s));
		}
	} else {
		return df_fail(d, &n->start_mark,
			       "job %s: args must be a string, not %s", j->id,
			       df_kind(n));
	}
	if (rc)
		return rc;
	for (i = start; i < d->body->len; i++) {
		char *c = &d->body->data[i];

		/* As the SDK does; a ';' would end the DAG line. */
		if (*c == '|' || *c == '\n' || *c == '\r')
			*c = ' ';
		else if (*c == ';')
			return df_fail(d, &n->start_mark,
				       "job %s: args cannot contain ';' (it "
				       "ends a DAG line); use command: "
				       "instead",
				       j->id);
	}
	return 0;
}

static int df_job_line(struct df *d, struct df_job *j)
{
	struct df_step st;
	const char *type = "run", *req = "GENERAL", *file = NULL, *cwd = NULL;
	long long prio = 1, delay_ms = 0, port = 0, retries = TN_DAGFILE_RETRIES;
	long long timeout_ms = 0;
	bool affinity = false, service;
	int rc;

	rc = df_step_fields(d, j, &st);
	if (!rc && st.type) {
		rc = df_scalar(d, st.type, "type", &type);
		if (!rc && strcmp(type, "run") && strcmp(type, "service"))
			rc = df_fail(d, &st.type->start_mark,
				     "job %s: type must be run or service, "
				     "not '%s'",
				     j->id, type);
	}
	if (!rc && st.req)
		rc = df_word(d, st.req, "requirement", &req);
	if (!rc && st.prio)
		rc = df_int(d, st.prio, "priority", -2147483647LL - 1,
			    2147483647LL, &prio);
	if (!rc && st.delay)
		rc = df_seconds(d, st.delay, "delay", &delay_ms);
	if (!rc && st.affinity)
		rc = df_bool(d, st.affinity, "affinity", &affinity);
	if (!rc && st.port)
		rc = df_int(d, st.port, "port", 1, 65535, &port);
	if (!rc && st.retries)
		rc = df_int(d, st.retries, "retries", 0,
			    TN_DAGFILE_MAX_RETRIES, &retries);
	if (!rc && st.timeout)
		rc = df_seconds(d, st.timeout, "timeout", &timeout_ms);
	if (!rc && st.cwd) {
		rc = df_scalar(d, st.cwd, "cwd", &cwd);
		if (!rc && !cwd[0])
			rc = df_fail(d, &st.cwd->start_mark,
				     "job %s: cwd is empty", j->id);
	}
	if (rc)
		return rc;
	service = !strcmp(type, "service");

	if (st.file && st.command)
		return df_fail(d, &st.command->start_mark,
			       "job %s: give file or command, not both",
			       j->id);
	if (!st.file && !st.command)
		return df_fail(d, &j->node->start_mark,
			       "job %s: needs file (a script) or command",
			       j->id);

	if (d->body->len && (rc = tn_buf_append(d->body, " ; ", 3)))
		return rc;
	if ((rc = tn_buf_append(d->body, j->id, strlen(j->id))))
		return rc;

	if (st.command) {
		static const char *const file_only[] = { "type", "args",
							 "port" };
		yaml_node_t *bad[] = { st.type, st.args, st.port };
		size_t i;

		for (i = 0; i < TN_ARRAY_SIZE(bad); i++)
			if (bad[i])
				return df_fail(d, &bad[i]->start_mark,
					       "job %s: '%s' is for file: "
					       "steps; a command step takes "
					       "its arguments in command",
					       j->id, file_only[i]);
		rc = tn_buf_printf(d->body, "|%s|EXEC|", req);
		if (!rc)
			rc = df_append_argv(d, j, st.command);
		if (!rc)
			rc = tn_buf_printf(d->body, "|%lld|%lld|", retries,
					   timeout_ms);
		if (!rc)
			rc = df_append_env(d, j, st.env);
		if (!rc)
			rc = tn_buf_append(d->body, "|", 1);
		if (!rc && cwd)
			rc = tn_b64_list_append(d->body, &cwd, 1);
		if (!rc)
			rc = tn_buf_printf(d->body, "|%lld|%lld|", prio,
					   delay_ms);
	} else {
		static const char *const cmd_only[] = { "env", "cwd", "retries",
							"timeout" };
		yaml_node_t *bad[] = { st.env, st.cwd, st.retries, st.timeout };
		const char *base;
		size_t i;

		for (i = 0; i < TN_ARRAY_SIZE(bad); i++)
			if (bad[i])
				return df_fail(d, &bad[i]->start_mark,
					       "job %s: '%s' needs a command "
					       "step (v1's file: jobs cannot "
					       "carry it)",
					       j->id, cmd_only[i]);
		rc = df_scalar(d, st.file, "file", &file);
		if (rc)
			return rc;
		base = df_basename(file);
		if (!base[0] || strpbrk(base, "|;\n"))
			return df_fail(d, &st.file->start_mark,
				       "job %s: file name '%s' is empty or has "
				       "'|', ';' or a newline",
				       j->id, file);
		if (service && !st.port)
			return df_fail(d, &j->node->start_mark,
				       "job %s: type service needs a port",
				       j->id);
		if (service) {
			rc = tn_buf_printf(d->body, "|DEPLOY_PAYLOAD|%s|",
					   base);
			if (!rc)
				rc = df_append_file(d, st.file, file);
			if (!rc)
				rc = tn_buf_printf(d->body, "|%lld", port);
		} else {
			rc = tn_buf_printf(d->body, "|RUN_PAYLOAD|%s|", base);
			if (!rc)
				rc = df_append_args(d, j, st.args);
			if (!rc)
				rc = tn_buf_append(d->body, "|", 1);
			if (!rc)
				rc = df_append_file(d, st.file, file);
		}
		if (!rc)
			rc = tn_buf_printf(d->body, "|%s|%lld|%lld|", req, prio,
					   delay_ms);
	}
	if (!rc)
		rc = df_append_parents(d, j, st.deps);
	if (!rc && affinity)
		rc = tn_buf_append(d->body, "|AFFINITY", 9);
	if (!rc && d->body->len > TN_DAGFILE_MAX_BYTES) {
		df_fail(d, &j->node->start_mark,
			"the DAG passes the 10 MiB frame limit at job %s",
			j->id);
		rc = -E2BIG;
	}
	return rc;
}

/* First pass: every step's id, so parents can be checked by name. */
static int df_collect(struct df *d, yaml_node_t *jobs)
{
	yaml_node_item_t *it;
	size_t i = 0;
	int rc;

	if (jobs->type != YAML_SEQUENCE_NODE)
		return df_fail(d, &jobs->start_mark,
			       "jobs must be a list of steps, not %s",
			       df_kind(jobs));
	d->njobs = (size_t)(jobs->data.sequence.items.top -
			    jobs->data.sequence.items.start);
	if (d->njobs == 0)
		return df_fail(d, &jobs->start_mark, "jobs is empty");
	d->jobs = calloc(d->njobs, sizeof(*d->jobs));
	d->sorted = calloc(d->njobs, sizeof(*d->sorted));
	if (!d->jobs || !d->sorted)
		return -ENOMEM;
	for (it = jobs->data.sequence.items.start;
	     it < jobs->data.sequence.items.top; it++, i++) {
		yaml_node_t *n = df_node(d, *it), *idn = NULL;
		yaml_node_pair_t *p;

		if (n->type != YAML_MAPPING_NODE)
			return df_fail(d, &n->start_mark,
				       "job %zu must be a mapping (id: ..., "
				       "command: ...), not %s",
				       i + 1, df_kind(n));
		for (p = n->data.mapping.pairs.start;
		     p < n->data.mapping.pairs.top; p++) {
			yaml_node_t *k = df_node(d, p->key);

			if (k->type == YAML_SCALAR_NODE &&
			    !strcmp((char *)k->data.scalar.value, "id"))
				idn = df_node(d, p->value);
		}
		if (!idn)
			return df_fail(d, &n->start_mark, "job %zu has no id",
				       i + 1);
		rc = df_word(d, idn, "id", &d->jobs[i].id);
		if (rc)
			return rc;
		d->jobs[i].node = n;
		d->jobs[i].id_mark = idn->start_mark;
		d->jobs[i].index = i;
		d->sorted[i] = &d->jobs[i];
	}
	qsort(d->sorted, d->njobs, sizeof(*d->sorted), df_cmp_job);
	for (i = 1; i < d->njobs; i++)
		if (!strcmp(d->sorted[i]->id, d->sorted[i - 1]->id))
			return df_fail(d, &d->sorted[i]->id_mark,
				       "duplicate job id %s",
				       d->sorted[i]->id);
	return 0;
}

static int df_top(struct df *d, yaml_node_t *root)
{
	yaml_node_pair_t *p;
	yaml_node_t *jobs = NULL;
	const char *k, *s;
	bool b;
	size_t i;
	int rc;

	if (root->type != YAML_MAPPING_NODE)
		return df_fail(d, &root->start_mark,
			       "the file must be a mapping (name:, jobs:), not "
			       "%s",
			       df_kind(root));
	for (p = root->data.mapping.pairs.start;
	     p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *kn = df_node(d, p->key), *v = df_node(d, p->value);

		rc = df_scalar(d, kn, "a field name", &k);
		if (rc)
			return rc;
		if (!strcmp(k, "name"))
			rc = df_scalar(d, v, "name", &s);
		else if (!strcmp(k, "project"))
			rc = df_bool(d, v, "project", &b);
		else if (!strcmp(k, "version"))
			rc = 0;
		else if (!strcmp(k, "jobs"))
			jobs = v;
		else
			rc = df_fail(d, &kn->start_mark,
				     "unknown field '%s' (known: name, "
				     "project, version, jobs)",
				     k);
		if (rc)
			return rc;
	}
	if (!jobs)
		return df_fail(d, &root->start_mark, "no jobs: list");
	rc = df_collect(d, jobs);
	for (i = 0; !rc && i < d->njobs; i++)
		rc = df_job_line(d, &d->jobs[i]);
	return rc;
}

int tn_dagfile_parse(const char *text, size_t len, const char *path,
		     const char *basedir, struct tn_buf *body, size_t *njobs,
		     char *err, size_t errlen)
{
	struct df d = { .path = path, .basedir = basedir, .err = err,
			.errlen = errlen, .body = body };
	yaml_parser_t parser;
	yaml_node_t *root;
	size_t start = body->len;
	int rc;

	err[0] = '\0';
	if (njobs)
		*njobs = 0;
	if (len > TN_DAGFILE_MAX_BYTES)
		return df_fail(&d, NULL, "bigger than 10 MiB"), -E2BIG;
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
				     len);
	if (!yaml_parser_load(&parser, &d.doc)) {
		const char *ctx = parser.context ? parser.context : "";

		rc = df_fail(&d, &parser.problem_mark, "%s%s%s",
			     parser.problem ? parser.problem : "bad YAML",
			     *ctx ? " " : "", ctx);
		yaml_parser_delete(&parser);
		return rc;
	}
	root = yaml_document_get_root_node(&d.doc);
	if (!root)
		rc = df_fail(&d, NULL, "empty file: want name: and jobs:");
	else
		rc = df_top(&d, root);
	if (njobs)
		*njobs = rc ? 0 : d.njobs;
	if (rc)
		body->len = start;
	free(d.jobs);
	free(d.sorted);
	yaml_document_delete(&d.doc);
	yaml_parser_delete(&parser);
	return rc;
}

int tn_dagfile_load(const char *path, struct tn_buf *body, size_t *njobs,
		    char *err, size_t errlen)
{
	struct tn_buf text = { 0 };
	char *dir = NULL, *slash;
	char chunk[65536];
	ssize_t r;
	int fd, rc;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path,
			 strerror(errno));
		return rc;
	}
	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot read %s: %s", path,
				 strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (text.len + (size_t)r > TN_DAGFILE_MAX_BYTES) {
			rc = -E2BIG;
			snprintf(err, errlen, "%s: bigger than 10 MiB", path);
			goto out;
		}
		rc = tn_buf_append(&text, chunk, (size_t)r);
		if (rc)
			goto out;
	}
	dir = strdup(path);
	if (!dir) {
		rc = -ENOMEM;
		goto out;
	}
	slash = strrchr(dir, '/');
	if (!slash)
		strcpy(dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	rc = tn_dagfile_parse(text.data ? text.data : "", text.len, path, dir,
			      body, njobs, err, errlen);
out:
	free(dir);
	tn_buf_free(&text);
	close(fd);
	return rc;
}
