// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tc.c - `sockhop tc attach|detach`: the iproute2 recipe, run for the
 * operator. It runs tc itself, so what it does is what the README's recipe
 * does, and an operator can always do it by hand instead.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "cli.h"
#include "pins.h"

/* The preference and handle of the filters `sockhop tc attach` adds, so
 * that `detach` removes exactly those and nothing an operator added. */
#define TC_PREF		"49152"
#define TC_HANDLE	"1"

/* Runs tc with @argv (NULL-terminated); its exit status, 127 when it could
 * not run. */
static int run_tc(char *const argv[])
{
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 127;
	if (pid == 0) {
		execvp("tc", argv);
		cli_err("cannot run tc: %s (install iproute2)\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return 127;
	return WEXITSTATUS(status);
}

int cli_tc(const char *dir, int argc, char **argv)
{
	static const char *const hooks[2] = { "egress", "ingress" };
	char path[512];
	bool attach;
	int h, rc = 0;

	if (strcmp(argv[0], "attach") && strcmp(argv[0], "detach")) {
		cli_err("tc: expected attach or detach, found '%s'\n", argv[0]);
		return 2;
	}
	if (argc < 2) {
		cli_err("tc %s: missing DEV (usage: sockhop tc %s DEV [egress|ingress])\n",
			argv[0], argv[0]);
		return 2;
	}
	if (argc == 3 && strcmp(argv[2], "egress") && strcmp(argv[2], "ingress")) {
		cli_err("tc: expected egress or ingress, found '%s'\n", argv[2]);
		return 2;
	}
	attach = !strcmp(argv[0], "attach");
	if (attach) {
		char *qdisc[] = { "tc", "qdisc", "replace", "dev", argv[1], "clsact", NULL };

		pins_path(path, sizeof(path), dir, "tc", "egress");
		if (access(path, F_OK)) {
			cli_err("%s is not pinned (is sockhopd running, with "
				"--pin-dir %s?)\n", path, dir);
			return 1;
		}
		if (run_tc(qdisc))
			return 1;
	}
	for (h = 0; h < 2; h++) {
		char *hook = (char *)hooks[h];
		char *add[] = { "tc", "filter", "replace", "dev", argv[1], hook, "pref", TC_PREF,
				"handle", TC_HANDLE, "bpf", "da", "pinned", path, NULL };
		char *del[] = { "tc", "filter", "del", "dev", argv[1], hook, "pref", TC_PREF, NULL };

		if (argc == 3 && strcmp(argv[2], hook))
			continue;
		pins_path(path, sizeof(path), dir, "tc", hook);
		if (run_tc(attach ? add : del)) {
			rc = 1;
			continue;
		}
		printf("%s: %s %s\n", argv[1], hook, attach ? path : "filter removed");
	}
	if (!attach && !rc)
		printf("%s: the clsact qdisc stays; 'tc qdisc del dev %s clsact' removes it when "
		       "nothing else uses it\n", argv[1], argv[1]);
	return rc;
}
