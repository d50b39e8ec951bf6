/*
 * dagfile.h - a YAML DAG file (v1's pipeline fields plus Titan's command
 * steps, titan(1)) turned into a SUBMIT_DAG2 body, with libyaml.
 */
#ifndef TN_DAGFILE_H
#define TN_DAGFILE_H

#include <stddef.h>

#include "ipc/ipc.h"

/* Defaults of a command step, as titan(1) documents them. */
#define TN_DAGFILE_RETRIES 3
#define TN_DAGFILE_MAX_RETRIES 1000
#define TN_DAGFILE_MAX_SECONDS (366.0 * 24 * 3600)
#define TN_DAGFILE_MAX_ID 256

/*
 * Read the YAML file at path and append the body to `body` (lines joined
 * by " ; ").  `file:` steps are read relative to the file's directory.
 * 0, or -errno with a message "path:line:column: what" in err (the
 * position is left out where there is none): -EINVAL for a bad file,
 * -E2BIG when the body would pass the 10 MiB frame limit.
 */
int tn_dagfile_load(const char *path, struct tn_buf *body, size_t *njobs,
		    char *err, size_t errlen);
/* The same for YAML text already in memory; `path` names it in messages
 * and basedir is where `file:` paths start. */
int tn_dagfile_parse(const char *text, size_t len, const char *path,
		     const char *basedir, struct tn_buf *body, size_t *njobs,
		     char *err, size_t errlen);

#endif
