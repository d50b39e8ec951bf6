/*
 * cli.h - helpers of the titan(1) client that live in libtitan: a small
 * JSON reader for the scheduler's replies (JOB_INFO, DAG_INFO,
 * WORKERS_JSON, STATS_JSON), bounded in depth and size.
 */
#ifndef TN_CLI_H
#define TN_CLI_H

#include <stdbool.h>
#include <stddef.h>

#define TN_JSON_MAX_DEPTH 64

enum tn_json_type {
	TN_JSON_NULL,
	TN_JSON_BOOL,
	TN_JSON_NUM,
	TN_JSON_STR,
	TN_JSON_ARR,
	TN_JSON_OBJ,
};

struct tn_json {
	enum tn_json_type type;
	bool b;
	double num;
	char *str;   /* STR: the decoded text; NUM: the number as written */
	char *key;   /* a member of an object: its name */
	struct tn_json *kids; /* ARR, OBJ */
	size_t n;
};

/* Parse one JSON value filling all of s[0..len) (spaces aside).  NULL
 * and errno EINVAL for bad JSON, ENOMEM. */
struct tn_json *tn_json_parse(const char *s, size_t len);
void tn_json_free(struct tn_json *v);
/* An object's member, or NULL (also when v is not an object). */
const struct tn_json *tn_json_get(const struct tn_json *v, const char *key);
/* Text for a table cell: strings as is, numbers as written, true/false,
 * "-" for null or a missing value, "[...]" items joined by ",". */
const char *tn_json_cell(const struct tn_json *v, char *tmp, size_t n);

#endif
