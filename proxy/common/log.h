/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* log.h - leveled logging to stderr; libbpf's messages come through here too. */
#ifndef SOCKHOP_LOG_H
#define SOCKHOP_LOG_H

#include <stdio.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
	LOG_VERBOSE,	/* libbpf's debug output */
};

extern int log_level;	/* messages above this level are dropped */
extern const char *log_prog;	/* every line's prefix: "sockhopd" or "sockhop" */

__attribute__((format(printf, 2, 3)))
void log_print(enum log_level level, const char *fmt, ...);

/* Writes @s to @f with control bytes (but newline and tab) as \xNN. */
void log_put(FILE *f, const char *s);

/* Writes "FILE:LINE:COL: ..." lines as they are, with no prefix. */
void log_located(const char *lines);

/* Opens /dev/null on each of fds 0, 1 and 2 that is closed. */
void std_fds_open(void);

/* Routes libbpf's messages through log_print(), one level lower. */
void log_route_libbpf(void);

#define pr_err(...)	log_print(LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)	log_print(LOG_WARN, __VA_ARGS__)
#define pr_info(...)	log_print(LOG_INFO, __VA_ARGS__)
#define pr_debug(...)	log_print(LOG_DEBUG, __VA_ARGS__)

#endif /* SOCKHOP_LOG_H */
