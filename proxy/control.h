/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * control.h - the daemon's control socket (a UNIX stream socket): the CLI
 * sends one command line and reads the answer until EOF.
 *   services        a table of services and backends
 *   services-json   the same as one JSON object
 *   reload          re-read the config file (as SIGHUP does)
 *   tc-replace-stages  load the tc stages anew and swap them in
 */
#ifndef SOCKHOP_CONTROL_H
#define SOCKHOP_CONTROL_H

#include <stddef.h>
#include <ev.h>

struct services;
struct control;

#define SH_DEFAULT_CONTROL "/run/sockhopd.sock"

/* What the daemon does for commands that reach beyond the services. Each
 * returns 0 or -errno and writes one line for the operator into @msg. */
struct control_hooks {
	int (*reload)(void *ctx, char *msg, size_t len);
	int (*replace_stages)(void *ctx, char *msg, size_t len);
	void *ctx;
};

/** control_open() - listen on @path (replacing a stale socket). 0 or -errno. */
int control_open(struct ev_loop *loop, const char *path, struct services *ss,
		 const struct control_hooks *hooks, struct control **out);
void control_close(struct control *ctl);

#endif /* SOCKHOP_CONTROL_H */
