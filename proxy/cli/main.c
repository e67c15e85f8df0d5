// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cli.c - the sockhop command. It reads the pinned maps directly, so it
 * answers whether the daemon runs or has left its kernel paths behind.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "control.h"
#include "flaws.h"
#include "maps.h"
#include "pins.h"
#include "log.h"
#include "policy.h"

/* Is a link for @cgid pinned (the scope's programs are attached there)? */
static bool attached_at(const char *dir, __u64 cgid, char *via, size_t len)
{
	char links[512], suffix[32];
	struct dirent *de;
	bool found = false;
	DIR *d;

	pins_path(links, sizeof(links), dir, "links", NULL);
	d = opendir(links);
	if (!d)
		return false;
	snprintf(suffix, sizeof(suffix), "-%llu", (unsigned long long)cgid);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name), s = strlen(suffix);

		if (n > s && !strcmp(de->d_name + n - s, suffix)) {
			found = true;
			snprintf(via, len, "%s", de->d_name);
		}
	}
	closedir(d);
	return found;
}

void cli_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int cmd_status(const char *dir, bool json)
{
	struct scope_row rows[SH_MAX_SCOPES];
	struct sh_meta meta;
	size_t nr = 0, i;
	long sockets = -1;
	char tc_pin[512];
	bool running, died, tc;
	int fd, err;

	err = pins_read_meta(dir, &meta);
	if (err) {
		fprintf(stderr, "sockhop: nothing pinned in %s (%s): is sockhopd running, or was "
			"it stopped without --keep?\n", dir, strerror(-err));
		return 1;
	}
	running = pins_owner_alive(&meta);
	died = !running && meta.daemon_pid && !meta.kept;
	err = pins_read_scopes(dir, rows, &nr);
	if (err) {
		fprintf(stderr, "sockhop: cannot read the scopes of %s: %s\n", dir, strerror(-err));
		return 1;
	}
	fd = pins_open_map(dir, "sock_hash");
	if (fd >= 0) {
		sockets = maps_count_keys(fd, sizeof(struct sh_sock_key));
		close(fd);
	}
	pins_path(tc_pin, sizeof(tc_pin), dir, "tc", "egress");
	tc = access(tc_pin, F_OK) == 0;

	if (json) {
		printf("{\"pin_dir\":");
		cli_json_str(dir);
		printf(",\"layout_version\":%u,\"daemon\":{\"running\":%s,\"pid\":%u,"
		       "\"died\":%s},\"kept\":%s,\"accelerated_sockets\":%ld,\"tc_entries\":%s,"
		       "\"kernel_flaws\":", meta.layout_version, running ? "true" : "false",
		       running ? meta.daemon_pid : 0, died ? "true" : "false",
		       meta.kept ? "true" : "false", sockets, tc ? "true" : "false");
		if (!meta.canary_ran) {
			printf("null");
		} else {
			size_t f, k = 0;

			printf("[");
			for (f = 0; f < SH_NR_FLAWS; f++)
				if (meta.kernel_flaws & sh_flaws[f].bit)
					printf("%s\"%s\"", k++ ? "," : "", sh_flaws[f].name);
			printf("]");
		}
		printf(",\"scopes\":[");
		for (i = 0; i < nr; i++) {
			char via[64] = "";
			bool att = attached_at(dir, rows[i].cgid, via, sizeof(via));

			printf("%s{\"name\":", i ? "," : "");
			cli_json_str(rows[i].s.name);
			printf(",\"slot\":%u,\"cgroup_id\":%llu,\"attached_here\":%s}", rows[i].s.slot,
			       (unsigned long long)rows[i].cgid, att ? "true" : "false");
		}
		printf("]}\n");
		return 0;
	}
	printf("pin directory:   %s (layout version %u)\n", dir, meta.layout_version);
	if (running)
		printf("daemon:          running, pid %u\n", meta.daemon_pid);
	else if (died)
		printf("daemon:          not running: pid %u died without cleaning up (killed, OOM or "
		       "a crash); its kernel paths still run, the next sockhopd start reconciles "
		       "them\n", meta.daemon_pid);
	else
		printf("daemon:          not running%s\n",
		       meta.kept ? "; kernel paths kept in place (--keep)" : "");
	printf("accelerated sockets: %ld\n", sockets);
	if (!meta.canary_ran) {
		printf("kernel flaws:    not tested (the daemon's start-up canary could not run)\n");
	} else {
		size_t f;

		printf("kernel flaws:    %s\n", meta.kernel_flaws ? "" : "none of the known ones");
		for (f = 0; f < SH_NR_FLAWS; f++)
			if (meta.kernel_flaws & sh_flaws[f].bit)
				printf("  %s: %s;\n    %s\n", sh_flaws[f].name, sh_flaws[f].what,
				       sh_flaws[f].remedy);
	}
	if (tc)
		printf("tc entries:      pinned; attach with\n"
		       "                   tc filter add dev DEV egress bpf da pinned %s/tc/egress\n"
		       "                   tc filter add dev DEV ingress bpf da pinned %s/tc/ingress\n",
		       dir, dir);
	else
		printf("tc entries:      not pinned\n");
	printf("scopes:          %zu\n", nr);
	for (i = 0; i < nr; i++) {
		char via[64] = "";
		bool att = attached_at(dir, rows[i].cgid, via, sizeof(via));

		printf("  %-20s slot %-3u cgroup id %-10llu %s\n", rows[i].s.name, rows[i].s.slot,
		       (unsigned long long)rows[i].cgid,
		       att ? "programs attached here" : "served by an enclosing scope's programs");
	}
	return 0;
}

static const char *const errno_names[SH_ERR_NR] = {
	[SH_ERR_EEXIST] = "EEXIST", [SH_ERR_ENOMEM] = "ENOMEM", [SH_ERR_E2BIG] = "E2BIG",
	[SH_ERR_EOPNOTSUPP] = "EOPNOTSUPP", [SH_ERR_EINVAL] = "EINVAL", [SH_ERR_EBUSY] = "EBUSY",
	[SH_ERR_OTHER] = "other",
};

static void print_stats_json(const char *name, const struct sh_stats *s)
{
	int e;

	printf("{\"scope\":");
	cli_json_str(name);
	printf(",\"msg_redirected\":%llu,\"bytes_redirected\":%llu,\"msg_no_peer\":%llu,"
	       "\"bytes_no_peer\":%llu,\"inserts\":%llu,\"insert_fail\":%llu,"
	       "\"not_matched\":%llu,\"excluded\":%llu,\"skb_verdict\":%llu,"
	       "\"scoped_sockets\":%llu,\"holds\":%llu,\"resumes\":%llu,\"held_ns\":%llu,"
	       "\"msg_held\":%llu,\"bytes_held\":%llu,\"msg_ordered\":%llu,"
	       "\"bytes_ordered\":%llu,\"insert_errno\":{",
	       (unsigned long long)s->msg_redirected, (unsigned long long)s->bytes_redirected,
	       (unsigned long long)s->msg_no_peer, (unsigned long long)s->bytes_no_peer,
	       (unsigned long long)s->inserts, (unsigned long long)s->insert_fail,
	       (unsigned long long)s->not_matched, (unsigned long long)s->excluded,
	       (unsigned long long)s->skb_verdict, (unsigned long long)s->scoped_sockets,
	       (unsigned long long)s->holds, (unsigned long long)s->resumes,
	       (unsigned long long)s->held_ns, (unsigned long long)s->msg_held,
	       (unsigned long long)s->bytes_held, (unsigned long long)s->msg_ordered,
	       (unsigned long long)s->bytes_ordered);
	for (e = 0; e < SH_ERR_NR; e++)
		printf("%s\"%s\":%llu", e ? "," : "", errno_names[e],
		       (unsigned long long)s->insert_errno[e]);
	printf("}}");
}

static void print_stats_text(const char *name, const struct sh_stats *s)
{
	int e;

	printf("%s\n", name);
	printf("  sockets tagged %llu, inserted %llu, insert failures %llu, not matched %llu\n",
	       (unsigned long long)s->scoped_sockets, (unsigned long long)s->inserts,
	       (unsigned long long)s->insert_fail, (unsigned long long)s->not_matched);
	printf("  redirected     %llu msgs, %llu bytes\n", (unsigned long long)s->msg_redirected,
	       (unsigned long long)s->bytes_redirected);
	printf("  passed to TCP  %llu msgs, %llu bytes (no peer socket)\n",
	       (unsigned long long)s->msg_no_peer, (unsigned long long)s->bytes_no_peer);
	printf("  held back      %llu times, %.3f s in all, resumed %llu; TCP carried %llu msgs, "
	       "%llu bytes while held and %llu msgs, %llu bytes to keep the order\n",
	       (unsigned long long)s->holds, (double)s->held_ns / 1e9,
	       (unsigned long long)s->resumes, (unsigned long long)s->msg_held,
	       (unsigned long long)s->bytes_held, (unsigned long long)s->msg_ordered,
	       (unsigned long long)s->bytes_ordered);
	if (s->excluded)
		printf("  excluded       %llu sockets (a no-accelerate rule)\n",
		       (unsigned long long)s->excluded);
	if (s->skb_verdict)
		printf("  sk_skb verdicts %llu\n", (unsigned long long)s->skb_verdict);
	for (e = 0; e < SH_ERR_NR; e++)
		if (s->insert_errno[e])
			printf("  insert failed with %s: %llu\n", errno_names[e],
			       (unsigned long long)s->insert_errno[e]);
}

static int cmd_stats(const char *dir, bool json)
{
	struct scope_row rows[SH_MAX_SCOPES];
	struct sh_stats s;
	size_t nr = 0, i;
	int fd, err;

	err = pins_read_scopes(dir, rows, &nr);
	fd = err ? err : pins_open_map(dir, "stats");
	if (fd < 0) {
		fprintf(stderr, "sockhop: cannot read the maps pinned in %s (%s): is sockhopd "
			"running, or was it stopped without --keep?\n", dir, strerror(-fd));
		return 1;
	}
	if (json)
		printf("{\"scopes\":[");
	for (i = 0; i < nr; i++) {
		err = pins_sum_stats(fd, rows[i].s.slot, &s);
		if (err)
			break;
		if (json) {
			if (i)
				putchar(',');
			print_stats_json(rows[i].s.name, &s);
		} else {
			print_stats_text(rows[i].s.name, &s);
		}
	}
	if (!err)
		err = pins_sum_stats(fd, SH_SLOT_GLOBAL, &s);
	if (!err) {
		if (json) {
			printf("],\"global\":");
			print_stats_json("(global)", &s);
			printf("}\n");
		} else {
			print_stats_text("(no scope / global)", &s);
		}
	}
	close(fd);
	if (err) {
		fprintf(stderr, "sockhop: cannot read counters: %s\n", strerror(-err));
		return 1;
	}
	return 0;
}

/* Sends one command to the daemon's control socket and copies the answer;
 * an answer starting with "error:" fails the command. */
static int control_request(const char *path, const char *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 5 };
	bool first = true, failed = false;
	char buf[65536];
	ssize_t n;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "sockhop: control socket path too long: %s\n", path);
		return 1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		fprintf(stderr, "sockhop: cannot reach sockhopd at %s: %s (is it running with "
			"services? see --control)\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return 1;
	}
	/* A daemon that refused this client at once (too many of them) may
	 * have closed already: its one line is still there to read. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) ||
	    (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 && errno != EPIPE &&
	     errno != ECONNRESET)) {
		fprintf(stderr, "sockhop: %s: %s\n", path, strerror(errno));
		close(fd);
		return 1;
	}
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		if (first && n >= 6 && !memcmp(buf, "error:", 6)) {
			/* the daemon's error, with this program's prefix */
			size_t skip = n > 6 && buf[6] == ' ' ? 7 : 6;

			failed = true;
			fputs("sockhop: ", stderr);
			fwrite(buf + skip, 1, (size_t)n - skip, stderr);
		} else {
			fwrite(buf, 1, (size_t)n, failed ? stderr : stdout);
		}
		first = false;
	}
	close(fd);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		fprintf(stderr, "sockhop: sockhopd at %s did not answer within %ld s (is it "
			"stopped or overloaded?); if it reads this command later, it sees this "
			"client gone and drops it\n", path, (long)tv.tv_sec);
		return 1;
	}
	if (n < 0 && first && errno == ECONNRESET) {
		fprintf(stderr, "sockhop: sockhopd at %s closed the connection without an "
			"answer\n", path);
		return 1;
	}
	if (n < 0) {
		fprintf(stderr, "sockhop: %s: %s\n", path, strerror(errno));
		return 1;
	}
	return failed ? 1 : 0;
}

/* The words of a command, one line, sent to the daemon. */
static int ask_daemon(const char *path, const char *cmd, int argc, char **argv)
{
	char req[512];
	size_t len;
	int i;

	len = (size_t)snprintf(req, sizeof(req), "%s", cmd);
	for (i = 0; i < argc && len < sizeof(req); i++)
		len += (size_t)snprintf(req + len, sizeof(req) - len, " %s", argv[i]);
	if (len + 2 >= sizeof(req)) {
		fprintf(stderr, "sockhop: %s: arguments too long\n", cmd);
		return 2;
	}
	strcat(req, "\n");
	return control_request(path, req);
}

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
};

static int run_status(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	(void)cmd, (void)argc, (void)argv;
	return cmd_status(c->dir, c->json);
}

static int run_stats(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	(void)cmd, (void)argc, (void)argv;
	return cmd_stats(c->dir, c->json);
}

static int run_policy(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	(void)cmd, (void)argc, (void)argv;
	return cli_policy(c->dir, c->json);
}

static int run_explain(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	(void)cmd;
	return cli_explain(c->dir, argc, argv, c->json);
}

static int run_tc(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	(void)cmd;
	return cli_tc(c->dir, argc, argv);
}

static int run_services(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	(void)cmd, (void)argc, (void)argv;
	return control_request(c->control, c->json ? "services-json\n" : "services\n");
}

/* reload, tc-replace-stages, table, enable: the words as they are */
static int run_verb(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	return ask_daemon(c->control, cmd->name, argc, argv);
}

static int run_weight(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	char *end;
	unsigned long w = strtoul(argv[2], &end, 10);

	if (!isdigit((unsigned char)argv[2][0]) || *end || w < 1 || w > 256) {
		fprintf(stderr, "sockhop: weight: expected 1-256, found '%s'\n", argv[2]);
		return 2;
	}
	return ask_daemon(c->control, cmd->name, argc, argv);
}

static int run_disable(const struct command *cmd, const struct cli *c, int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[2], "kill")) {
		fprintf(stderr, "sockhop: disable: unknown argument '%s' (expected kill)\n", argv[2]);
		return 2;
	}
	return ask_daemon(c->control, cmd->name, argc, argv);
}

static int run_help(const struct command *cmd, const struct cli *c, int argc, char **argv);

static const struct command commands[] = {
	{ "status", "", "pin directory, daemon, scopes and their attachments, sockets,\n"
	  "whether the tc entries are pinned", 0, 0, false, true, run_status },
	{ "stats", "", "per-scope acceleration counters, summed over CPUs", 0, 0, false, true, run_stats },
	{ "services", "", "services: backends (state, active connections, bytes, failures),\n"
	  "limits hit, the split between splice and relay, and for virtual\n"
	  "addresses the connect-time table and counters", 0, 0, true, true, run_services },
	{ "table", "SERVICE", "the connect-time Maglev table: \"SLOT BACKEND\" per line",
	  1, 1, true, false, run_verb },
	{ "weight", "SERVICE BACKEND N", "set a backend's weight (1-256) until restart;\n"
	  "BACKEND is the address as written in the config", 3, 3, true, false, run_weight },
	{ "disable", "SERVICE BACKEND [kill]", "take a backend out of rotation (MAINT); with kill,\n"
	  "terminate the connect-time balanced connections it has, 64 per 100 ms",
	  2, 3, true, false, run_disable },
	{ "enable", "SERVICE BACKEND", "put a disabled backend back", 2, 2, true, false, run_verb },
	{ "policy", "", "tc policy: each scope's default, rules and per-rule counters,\n"
	  "packets and bytes per action and direction, error reasons", 0, 0, false, true, run_policy },
	{ "explain", "CGROUP tcp|udp|icmp ADDRESS [PORT]", "which scope a socket created in "
	  "CGROUP belongs to, and which rule\nthe tc policy, accelerate and balance take for "
	  "the flow", 3, 4, false, true, run_explain },
	{ "tc", "attach|detach DEV [egress|ingress]", "run the tc recipe for DEV (clsact qdisc, "
	  "bpf filters on the pinned\nentries at preference 49152); detach removes only those",
	  2, 3, false, false, run_tc },
	{ "reload", "", "make the daemon re-read its config (as SIGHUP does); exit 1 with\n"
	  "the reason when it refuses", 0, 0, true, false, run_verb },
	{ "tc-replace-stages", "", "load the tc stages anew and swap them into their slots;\n"
	  "the operators' filters are not touched", 0, 0, true, false, run_verb },
	{ "help", "[COMMAND]", "this help, or one command's", 0, 1, false, false, run_help },
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
	fprintf(out, "  (%s)\n", cmd->daemon ? "asks the running sockhopd through --control" :
		"reads the pins in --pin-dir, whether or not sockhopd runs");
}

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
"Usage: sockhop [OPTIONS] COMMAND [ARGS]\n"
"Shows and steers sockhop: status, stats, policy and explain read the pinned\n"
"maps (whether or not the daemon runs); services, reload and the backend\n"
"commands ask the running daemon. 'sockhop help COMMAND' shows one command.\n"
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
		fprintf(stderr, "sockhop: help: unknown command '%s'\n", argv[0]);
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
	bool help = false;
	int c, nargs;

	signal(SIGPIPE, SIG_IGN);	/* `sockhop services | head`: end quietly */
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
			fprintf(stderr, "sockhop: option '%s' needs an argument\n", argv[optind - 1]);
			return 2;
		default:
			fprintf(stderr, "sockhop: unknown option '%s'%s\n", argv[optind - 1],
				isdigit((unsigned char)argv[optind - 1][1]) ?
				" (a number? put '--' before arguments that start with '-')" :
				"; 'sockhop help' lists the options");
			return 2;
		}
	}
	if (!*cli.dir || !*cli.control) {
		fprintf(stderr, "sockhop: %s may not be empty\n", !*cli.dir ? "--pin-dir" : "--control");
		return 2;
	}
	if (optind >= argc) {
		usage(help ? stdout : stderr);
		return help ? 0 : 2;
	}
	cmd = find_command(argv[optind]);
	if (!cmd) {
		fprintf(stderr, "sockhop: unknown command '%s'; 'sockhop help' lists them\n",
			argv[optind]);
		return 2;
	}
	optind++;
	nargs = argc - optind;
	/* "sockhop CMD help" and "sockhop CMD --help": that command's usage */
	if (help || (cmd->run != run_help && nargs == 1 && !strcmp(argv[optind], "help"))) {
		command_usage(stdout, cmd);
		return 0;
	}
	if (cli.json && !cmd->json) {
		fprintf(stderr, "sockhop: %s has no JSON form (-j)\n", cmd->name);
		return 2;
	}
	/* the arguments are checked here, before any daemon is asked */
	if (nargs < cmd->min || nargs > cmd->max) {
		fprintf(stderr, "sockhop: %s: %s arguments\n", cmd->name,
			nargs < cmd->min ? "missing" : "too many");
		command_usage(stderr, cmd);
		return 2;
	}
	return cmd->run(cmd, &cli, nargs, argv + optind);
}
