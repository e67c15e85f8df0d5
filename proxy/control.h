/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * control.h - the daemon's control socket (a UNIX stream socket): the CLI
 * sends one command line and reads the answer until EOF.
 *   services        a table of services and backends
 *   services-json   the same as one JSON object
 */
#ifndef SOCKHOP_CONTROL_H
#define SOCKHOP_CONTROL_H

#include <ev.h>

struct services;
struct control;

#define SH_DEFAULT_CONTROL "/run/sockhopd.sock"

/** control_open() - listen on @path (replacing a stale socket). 0 or -errno. */
int control_open(struct ev_loop *loop, const char *path, struct services *ss,
		 struct control **out);
void control_close(struct control *ctl);

#endif /* SOCKHOP_CONTROL_H */
