// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * main.c - the sockhop command: its options, its table of commands and their
 * help. The commands themselves live in status.c, policy.c, tc.c and
 * daemon.c (cli.h).
 */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ctlproto.h"
#include "emit.h"
#include "log.h"
#include "pins.h"

struct cli {
	const char *dir;	/* --pin-dir */
	const char *control;	/* --control */
	bool json;
};

struct command {
	const char *name;
	const char *args;	/* usage after the name */
	const char *help;	/* what it does; lines indented by the printer */
	int min, max;		/* arguments taken */
	bool daemon;		/* asks the running daemon (else reads the pins) */
	bool json;		/* can answer in JSON (-j) */
	int (*run)(const struct command *cmd, const struct cli *c, int argc, char **argv);
	const char *source;	/* NULL: said from @daemon; else what each form asks */
};

static int run_status(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	struct emit e;

	(void)cmd, (void)argc, (void)argv;
	emit_to_file(&e, stdout, c->json);
	return cli_status(c->dir, &e);
}

static int run_stats(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	struct emit e;

	(void)cmd, (void)argc, (void)argv;
	emit_to_file(&e, stdout, c->json);
	return cli_stats(c->dir, &e);
}

static int run_sockets(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	struct emit e;

	(void)cmd, (void)argc, (void)argv;
	emit_to_file(&e, stdout, c->json);
	return cli_sockets(c->dir, &e);
}

static int run_policy(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	struct emit e;

	(void)cmd, (void)argc, (void)argv;
	emit_to_file(&e, stdout, c->json);
	return cli_policy(c->dir, &e);
}

void cli_err(const char *fmt, ...)
{
	char msg[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fputs("sockhop: ", stderr);
	log_put(stderr, msg);
}

static int run_explain(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	struct emit e;

	(void)cmd;
	/* one word names a service: its data path is the daemon's to tell */
	if (argc == 1 && !*argv[0]) {
		cli_err("explain: the service name is empty\n");
		return 2;
	}
	if (argc == 1)
		return cli_ask(c->control, c->json ? "explain-json" : "explain", argc, argv);
	if (argc == 2) {
		cli_err("explain: expected SERVICE, or CGROUP tcp|udp|icmp ADDRESS [PORT]\n");
		return 2;
	}
	emit_to_file(&e, stdout, c->json);
	return cli_explain(c->dir, argc, argv, &e);
}

static int run_tc(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	(void)cmd;
	return cli_tc(c->dir, argc, argv);
}

static int run_services(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	(void)argc, (void)argv;
	return cli_ask(c->control, c->json ? "services-json" : cmd->name, 0, NULL);
}

/* reload, tc-replace-stages, table, enable: the words as they are */
static int run_verb(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	return cli_ask(c->control, cmd->name, argc, argv);
}

static int run_weight(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	char *end;
	unsigned long w = strtoul(argv[2], &end, 10);

	if (!isdigit((unsigned char)argv[2][0]) || *end || w < 1 || w > 256) {
		cli_err("weight: expected 1-256, found '%s'\n", argv[2]);
		return 2;
	}
	return cli_ask(c->control, cmd->name, argc, argv);
}

static int run_disable(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[2], "kill")) {
		cli_err("disable: unknown argument '%s' (expected kill)\n", argv[2]);
		return 2;
	}
	return cli_ask(c->control, cmd->name, argc, argv);
}

static int run_help(const struct command *cmd, const struct cli *c, int argc, char **argv);

static const struct command commands[] = {
	{ "status", "", "pin directory, daemon, scopes and their attachments, sockets,\n"
	  "whether the tc entries are pinned", 0, 0, false, true, run_status, NULL },
	{ "stats", "", "per-scope acceleration counters, summed over CPUs", 0, 0, false, true, run_stats, NULL },
	{ "sockets", "", "each accelerated socket: its scope, the bytes it holds unread\n"
	  "(which ss does not show) and whether its sends are held back", 0, 0, false, true,
	  run_sockets, NULL },
	{ "services", "", "services: backends (state, active connections, bytes, failures),\n"
	  "limits hit, the split between splice and relay, and for virtual\n"
	  "addresses the connect-time table and counters", 0, 0, true, true, run_services, NULL },
	{ "table", "SERVICE", "the connect-time Maglev table: \"SLOT BACKEND\" per line",
	  1, 1, true, false, run_verb, NULL },
	{ "weight", "SERVICE BACKEND N", "set a backend's weight (1-256) until restart;\n"
	  "BACKEND is the address as written in the config", 3, 3, true, false, run_weight, NULL },
	{ "disable", "SERVICE BACKEND [kill]", "take a backend out of rotation (MAINT); with kill,\n"
	  "terminate the connect-time balanced connections it has, 64 per 100 ms",
	  2, 3, true, false, run_disable, NULL },
	{ "enable", "SERVICE BACKEND", "put a disabled backend back", 2, 2, true, false, run_verb, NULL },
	{ "policy", "", "tc policy: each scope's default, rules and per-rule counters,\n"
	  "packets and bytes per action and direction, error reasons", 0, 0, false, true, run_policy, NULL },
	{ "explain", "SERVICE | CGROUP tcp|udp|icmp ADDRESS [PORT]", "with SERVICE: its data "
	  "path in words (the rule, which path carried\nhow many connections and bytes, why the "
	  "relayed ones stayed relayed);\nwith a flow: which scope a socket created in CGROUP "
	  "belongs to, and\nwhich rule the tc policy, accelerate and balance take for it",
	  1, 4, false, true, run_explain, "SERVICE asks the running sockhopd through --control;\n   "
	  "a flow reads the pins in --pin-dir, whether or not sockhopd runs" },
	{ "tc", "attach|detach DEV [egress|ingress]", "run the tc recipe for DEV (clsact qdisc, "
	  "bpf filters on the pinned\nentries at preference 49152); detach removes only those",
	  1, 3, false, false, run_tc, NULL },	/* tc checks its word first */
	{ "reload", "", "make the daemon re-read its config (as SIGHUP does); exit 1 with\n"
	  "the reason when it refuses", 0, 0, true, false, run_verb, NULL },
	{ "tc-replace-stages", "", "load the tc stages anew and swap them into their slots;\n"
	  "the operators' filters are not touched", 0, 0, true, false, run_verb, NULL },
	{ "help", "[COMMAND]", "this help, or one command's", 0, 1, false, false, run_help, NULL },
};
#define NR_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *find_command(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

/* Prints @text with every line indented by @indent spaces. */
static void print_indented(FILE *out, const char *text, int indent)
{
	while (*text) {
		size_t n = strcspn(text, "\n");

		fprintf(out, "%*s%.*s\n", indent, "", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

static void command_usage(FILE *out, const struct command *cmd)
{
	fprintf(out, "Usage: sockhop [OPTIONS] %s%s%s\n", cmd->name, *cmd->args ? " " : "",
		cmd->args);
	print_indented(out, cmd->help, 2);
	fprintf(out, "  (%s)\n", cmd->source ? cmd->source : cmd->daemon ?
		"asks the running sockhopd through --control" :
		"reads the pins in --pin-dir, whether or not sockhopd runs");
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
"Usage: sockhop [OPTIONS] COMMAND [ARGS]\n"
"Shows and steers sockhop: status, stats, policy and explain of a flow read\n"
"the pinned maps (whether or not the daemon runs); services, explain of a\n"
"service, reload and the backend commands ask the running daemon.\n"
"'sockhop help COMMAND' shows one command.\n"
"\n"
"Commands:\n");
	for (i = 0; i < NR_COMMANDS; i++) {
		const struct command *cmd = &commands[i];
		int n = fprintf(out, "  %s%s%s", cmd->name, *cmd->args ? " " : "", cmd->args);
		const char *help = cmd->help;

		if (n < 12) {	/* a short one takes its first help line beside it */
			size_t first = strcspn(help, "\n");

			fprintf(out, "%*s%.*s", 12 - n, "", (int)first, help);
			help += first + (help[first] == '\n');
		}
		fputc('\n', out);
		print_indented(out, help, 12);
	}
	fprintf(out,
"\n"
"Options (before or after the command):\n"
"      --pin-dir DIR  pin directory (default " SH_DEFAULT_PIN_DIR ")\n"
"      --control PATH the daemon's control socket (default " SH_DEFAULT_CONTROL ")\n"
"  -j, --json         print JSON\n"
"  -h, --help         show this help, or with a command that command's\n"
"  -V, --version      show the version\n"
"Exit status: 0 done, 1 failed, 2 usage error.\n");
}

static int run_help(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	const struct command *what;

	(void)cmd, (void)c;
	if (!argc) {
		usage(stdout);
		return 0;
	}
	what = find_command(argv[0]);
	if (!what) {
		cli_err("help: unknown command '%s'\n", argv[0]);
		return 2;
	}
	command_usage(stdout, what);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "pin-dir", required_argument, NULL, 'p' },
		{ "control", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli = { .dir = SH_DEFAULT_PIN_DIR, .control = SH_DEFAULT_CONTROL };
	const struct command *cmd;
	bool help = false, dashdash = false;
	int c, nargs, i;

	signal(SIGPIPE, SIG_IGN);	/* `sockhop services | head`: end quietly */
	/* after "--" a word "help" is an argument (a service named help) */
	for (i = 1; i < argc; i++)
		dashdash |= !strcmp(argv[i], "--");
	/* getopt permutes: options may come before or after the command */
	std_fds_open();
	opterr = 0;	/* our own messages, with our prefix, not argv[0]'s */
	while ((c = getopt_long(argc, argv, ":jhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p': cli.dir = optarg; break;
		case 'c': cli.control = optarg; break;
		case 'j': cli.json = true; break;
		case 'h': help = true; break;
		case 'V': printf("sockhop %s (BPF layout %d)\n", SOCKHOP_VERSION, SH_LAYOUT_VERSION); return 0;
		case ':':
			cli_err("option '%s' needs an argument\n", argv[optind - 1]);
			return 2;
		default:
			cli_err("unknown option '%s'%s\n", argv[optind - 1],
				isdigit((unsigned char)argv[optind - 1][1]) ?
				" (a number? put '--' before arguments that start with '-')" :
				"; 'sockhop help' lists the options");
			return 2;
		}
	}
	if (!*cli.dir || !*cli.control) {
		cli_err("%s may not be empty\n", !*cli.dir ? "--pin-dir" : "--control");
		return 2;
	}
	if (optind >= argc) {
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		cli_err("unknown command '%s'; 'sockhop help' lists them\n",
			argv[optind]);
		return 2;
	}
	optind++;
	nargs = argc - optind;
	/* "sockhop CMD help" and "sockhop CMD --help": that command's usage */
	if (help || (cmd->run != run_help && nargs == 1 && !dashdash &&
		     !strcmp(argv[optind], "help"))) {
		command_usage(stdout, cmd);
		return 0;
	}
	if (cli.json && !cmd->json) {
		cli_err("%s has no JSON form (-j)\n", cmd->name);
		return 2;
	}
	/* the arguments are checked here, before any daemon is asked */
	if (nargs < cmd->min || nargs > cmd->max) {
		cli_err("%s: %s arguments\n", cmd->name,
			nargs < cmd->min ? "missing" : "too many");
		command_usage(stderr, cmd);
		return 2;
	}
	return cmd->run(cmd, &cli, nargs, argv + optind);
}
