/*
 * supervisor.h - the supervisor loop, private to daemon/.
 */
#ifndef TN_SUPERVISOR_H
#define TN_SUPERVISOR_H

#include "daemon/daemon.h"

/* Create the segment and sockets, fork the children, watch them.
 * Returns the process exit status. */
int tn_supervisor_run(struct tn_config *conf, int argc, char **argv);

/* Listening sockets for `bind`/`port`/`unixsocket`; 0 or -1 (logged). */
int tn_listen_open(const struct tn_config *c, struct tn_runtime *rt);
void tn_listen_close(struct tn_runtime *rt, const struct tn_config *c);

#endif
