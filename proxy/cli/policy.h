/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* policy.h - the CLI's tc policy commands (see policy.c). */
#ifndef SOCKHOP_CLI_POLICY_H
#define SOCKHOP_CLI_POLICY_H

#include <stdbool.h>

/** cli_policy() - rules, defaults and counters per scope; exit status. */
int cli_policy(const char *dir, bool json);

/** cli_explain() - CGROUP PROTO ADDRESS [PORT]: the scope and the rule each
 * hook would take for that flow; exit status. */
int cli_explain(const char *dir, int argc, char **argv, bool json);

/**
 * cli_tc() - attach|detach DEV [egress|ingress]: the plain tc recipe run for
 * the operator (clsact, then a bpf filter on the pinned entry at a fixed
 * preference); detach removes only those filters. Exit status.
 */
int cli_tc(const char *dir, int argc, char **argv);

/** cli_json_str() - print @s as a JSON string (cli.c). */
void cli_json_str(const char *s);

#endif /* SOCKHOP_CLI_POLICY_H */
