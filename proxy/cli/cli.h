/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cli.h - the commands of `sockhop`, one file each kind: status.c (status,
 * stats), sockets.c, policy.c (policy, explain), tc.c (the tc recipe), daemon.c (what
 * the running daemon answers). Each returns the exit status: 0 done,
 * 1 failed, 2 usage error.
 */
#ifndef SOCKHOP_CLI_H
#define SOCKHOP_CLI_H

struct emit;

/** cli_status() - pin directory, daemon, scopes and their attachments. */
int cli_status(const char *dir, struct emit *e);

/** cli_stats() - per-scope acceleration counters, summed over CPUs. */
int cli_stats(const char *dir, struct emit *e);

/** cli_sockets() - each accelerated socket: scope, unread bytes, held. */
int cli_sockets(const char *dir, struct emit *e);

/** cli_policy() - rules, defaults and counters per scope. */
int cli_policy(const char *dir, struct emit *e);

/** cli_explain() - CGROUP PROTO ADDRESS [PORT]: the scope and the rule each
 * hook would take for that flow. */
int cli_explain(const char *dir, int argc, char **argv, struct emit *e);

/**
 * cli_tc() - attach|detach DEV [egress|ingress]: the plain tc recipe run for
 * the operator (clsact, then a bpf filter on the pinned entry at a fixed
 * preference); detach removes only those filters.
 */
int cli_tc(const char *dir, int argc, char **argv);

/**
 * cli_ask() - send the words @cmd @argv[0..argc) as one line to the daemon
 * at control socket @path and copy its answer to stdout; an answer that is
 * a refusal goes to stderr, with this program's prefix, and fails.
 */
int cli_ask(const char *path, const char *cmd, int argc, char **argv);

/** cli_err() - "sockhop: " and the message on stderr, any control byte in
 * it (an argument echoed back, say) shown as \xNN rather than obeyed. */
__attribute__((format(printf, 1, 2)))
void cli_err(const char *fmt, ...);

#endif /* SOCKHOP_CLI_H */
