// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* log.c - leveled logging to stderr. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <bpf/libbpf.h>

#include "log.h"

int log_level = LOG_INFO;
const char *log_prog = "sockhop";

static const char *const level_tag[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warning",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
	[LOG_VERBOSE] = "libbpf",
};

void log_put(FILE *f, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;

	/* a name from a config file or a command line may hold bytes a
	 * terminal obeys (ESC, BEL, C1 controls): they go out as \xNN */
	for (; *u; u++) {
		if ((*u < 0x20 && *u != '\n' && *u != '\t') || *u == 0x7f)
			fprintf(f, "\\x%02x", *u);
		else if (u[0] == 0xc2 && u[1] >= 0x80 && u[1] <= 0x9f)
			fprintf(f, "\\xc2\\x%02x", *++u);
		else
			fputc(*u, f);
	}
}

static void vlog(enum log_level level, const char *fmt, va_list ap)
{
	char msg[4096], *big = NULL;
	va_list again;
	int n;

	if ((int)level > log_level)
		return;
	/* libbpf's own lines already start with "libbpf: ". A failed write
	 * (a closed pipe: SIGPIPE is ignored) is dropped; logging must never
	 * cost the caller anything, least of all the cleanup. */
	if (level == LOG_VERBOSE)
		fprintf(stderr, "%s: ", log_prog);
	else
		fprintf(stderr, "%s: %s: ", log_prog, level_tag[level]);
	/* a line fits the stack; libbpf's verifier log (-vv) may not */
	va_copy(again, ap);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n >= (int)sizeof(msg) && vasprintf(&big, fmt, again) < 0)
		big = NULL;
	va_end(again);
	if (n >= (int)sizeof(msg) && !big)
		snprintf(msg + sizeof(msg) - 5, 5, "...\n");	/* no memory: cut short */
	log_put(stderr, big ? big : msg);
	free(big);
	clearerr(stderr);
}

void log_print(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* libbpf warns about things we handle (e.g. a probe that fails), so
	 * its warnings are our debug and its debug is our verbose. */
	enum log_level ours = level == LIBBPF_WARN ? LOG_DEBUG : LOG_VERBOSE;

	vlog(ours, fmt, ap);
	return 0;
}

void log_located(const char *lines)
{
	/* "FILE:LINE:COL: field: message" lines name their place as compilers
	 * do; they go out as they are, at any level, like --check's */
	log_put(stderr, lines);
	clearerr(stderr);
}

void std_fds_open(void)
{
	int fd;

	/* Started with 0, 1 or 2 closed, the first file we open would take the
	 * number, and our log lines would be written into a BPF map. */
	for (;;) {
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd < 0 || fd > 2)
			break;
		fcntl(fd, F_SETFD, 0);	/* it stands in for a standard stream */
	}
	if (fd > 2)
		close(fd);
}

void log_route_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
