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

/* Limits of the control socket (sockhopd(8), CONTROL SOCKET). */
#define CTL_MAX_CLIENTS		64	/* at once; more are refused at once */
#define CTL_MAX_CLIENTS_TEXT	"64"
#define CTL_LINE_MAX		4096	/* bytes of one command line */
#define CTL_LINE_MAX_TEXT	"4096"
#define CTL_READ_TIMEOUT	5.0	/* s for the whole command line to arrive */
#define CTL_READ_TIMEOUT_TEXT	"5"
#define CTL_SPARE_READ_TIMEOUT	1.0	/* s, for the one client on the reserved fd */
#define CTL_SPARE_READ_TIMEOUT_TEXT	"1"
#define CTL_WRITE_TIMEOUT	10.0	/* s without progress writing an answer */

/* What the control socket has seen since the start. */
struct control_stats {
	unsigned long long accepted;	/* clients taken on */
	unsigned long long served;	/* commands answered */
	unsigned long long refused_busy;	/* over CTL_MAX_CLIENTS */
	unsigned long long timed_out;	/* no whole line in time, or stopped reading */
	unsigned long long too_long;	/* a line over CTL_LINE_MAX */
	unsigned long long abandoned;	/* the client closed before its line was read */
	unsigned long long on_spare;	/* clients served on the reserved fd (out of fds) */
};

/* What the daemon does for commands that reach beyond the services. Each
 * returns 0 or -errno and writes one line for the operator into @msg. */
struct control_hooks {
	int (*reload)(void *ctx, char *msg, size_t len);
	int (*replace_stages)(void *ctx, char *msg, size_t len);
	void *ctx;
};

/** control_probe() - -EADDRINUSE when a daemon answers on @path, else 0. */
int control_probe(const char *path);

/** control_open() - listen on @path (replacing a stale socket). 0 or -errno. */
int control_open(struct ev_loop *loop, const char *path, struct services *ss,
		 const struct control_hooks *hooks, struct control **out);
void control_close(struct control *ctl);

/** control_stats() - the counters, and how many clients are connected now. */
void control_stats(const struct control *ctl, struct control_stats *st, unsigned int *now);

#endif /* SOCKHOP_CONTROL_H */
