/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * emit.h - one writer for every report both binaries give, to a stream (the
 * CLI's stdout) or to memory (the daemon's answers, sent without blocking).
 * Text is printf lines; JSON is compact (no spaces), built by calls that keep
 * its commas, nesting and string escapes right, so no report hand-writes
 * them. As bpftool does: a report says `if (e->json)` where its two forms
 * differ, and each form stays readable.
 */
#ifndef SOCKHOP_EMIT_H
#define SOCKHOP_EMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EMIT_MAX_DEPTH 32

struct emit {
	bool json;		/* the report's form */
	FILE *file;		/* where it goes, or NULL: into buf */
	char *buf;		/* memory output, malloc'ed, NUL-terminated */
	size_t len, cap;
	bool cut;		/* memory ran out: the output is cut short */
	unsigned int depth;	/* open objects and arrays */
	uint32_t members;	/* bit d: level d holds a member already */
	uint32_t arrays;	/* bit d: level d is an array (else an object) */
};

/** emit_to_file() - reports into stream @f, text or @json. */
void emit_to_file(struct emit *e, FILE *f, bool json);

/** emit_to_memory() - reports into e->buf (e->len bytes); free with
 * emit_free(). */
void emit_to_memory(struct emit *e, bool json);

/** emit_free() - frees the memory output. */
void emit_free(struct emit *e);

/** emit_text() - append printf output as it is (text reports, and bare
 * JSON only where no helper fits). */
__attribute__((format(printf, 2, 3)))
void emit_text(struct emit *e, const char *fmt, ...);

/*
 * JSON. @key names the member inside an object and is NULL inside an array
 * or at the top. Closing the outermost object ends the line.
 */
void emit_object(struct emit *e, const char *key);	/* opens {, ends with emit_end() */
void emit_array(struct emit *e, const char *key);	/* opens [, ends with emit_end() */
void emit_end(struct emit *e);
void emit_str(struct emit *e, const char *key, const char *s);	/* NULL: null */
void emit_u64(struct emit *e, const char *key, unsigned long long v);
void emit_s64(struct emit *e, const char *key, long long v);
void emit_bool(struct emit *e, const char *key, bool v);
void emit_null(struct emit *e, const char *key);

#endif /* SOCKHOP_EMIT_H */
