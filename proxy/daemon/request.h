/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * request.h - the decoder of one control request line: pure code (no loop,
 * no services), so the fuzzer and the daemon run the same function. Every
 * byte of the line comes from a client; nothing of it reaches an answer or
 * a log unescaped.
 */
#ifndef SOCKHOP_REQUEST_H
#define SOCKHOP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "emit.h"

enum ctl_verb {
	CTL_SERVICES,
	CTL_SERVICES_JSON,
	CTL_TABLE,
	CTL_EXPLAIN,
	CTL_EXPLAIN_JSON,
	CTL_WEIGHT,
	CTL_DISABLE,
	CTL_ENABLE,
	CTL_RELOAD,
	CTL_TC_REPLACE_STAGES,
};

struct ctl_request {
	enum ctl_verb verb;
	const char *service;	/* table, explain, weight, disable, enable; into the line */
	const char *backend;	/* weight, disable, enable */
	uint32_t weight;	/* weight: 1-256 */
	bool kill;		/* disable ... kill */
};

/**
 * ctl_request_parse() - decode @line (@len bytes up to, not including, the
 * newline; a trailing CR is dropped; @line has room for a NUL at @len)
 * into @req. The line is split in place; words are separated by spaces.
 * Return: 0, or -EINVAL with the refusal (CTL_ERROR_PREFIX, the reason, a
 * newline; the client's bytes escaped) appended to @err.
 */
int ctl_request_parse(char *line, size_t len, struct ctl_request *req, struct emit *err);

/** ctl_put_escaped() - append @s (@len bytes) to @o, everything but
 * printable ASCII (and quote, backslash) as \\xNN, at most @max bytes. */
void ctl_put_escaped(struct emit *o, const char *s, size_t len, size_t max);

#endif /* SOCKHOP_REQUEST_H */
