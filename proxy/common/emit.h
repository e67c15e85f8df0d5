/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * emit.h - one writer for every report both binaries give, text or JSON
 * from the same calls, as iproute2's print_uint(PRINT_ANY, ...) does: a
 * field names its JSON key and its text form in one call, so a counter is
 * written once and its two forms cannot drift apart.
 *
 *   emit_u64(e, "accepted", ", accepted %llu", st->accepted);
 *
 * writes `"accepted":12` in JSON and `, accepted 12` in text. A NULL text
 * format leaves the field out of the text; emit_text() writes words that
 * only the text has (headings, table rules). JSON is compact (no spaces);
 * commas, nesting and string escapes are this writer's alone. Output goes
 * to a stream (the CLI's stdout) or to memory (the daemon's answers, sent
 * without blocking).
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

/** emit_text() - words of the text form only: printf'd in text, nothing in
 * JSON. */
__attribute__((format(printf, 2, 3)))
void emit_text(struct emit *e, const char *fmt, ...);

/*
 * Fields. @key names the member inside a JSON object (NULL inside an array);
 * @fmt is its text form, a printf format with one conversion for the value
 * (%llu, %lld, %llx for the numbers, %s for strings and booleans, which
 * print "yes" or "no"), or NULL for JSON only. A format that does not take
 * the value's type prints "?" rather than read the wrong argument.
 */
void emit_u64(struct emit *e, const char *key, const char *fmt, unsigned long long v);
void emit_s64(struct emit *e, const char *key, const char *fmt, long long v);
void emit_str(struct emit *e, const char *key, const char *fmt, const char *s);	/* NULL: null */
void emit_bool(struct emit *e, const char *key, const char *fmt, bool v);

/*
 * Nesting. In JSON an object or array under @key; in text, @fmt (printf'd
 * without arguments, NULL for nothing) where it opens, and emit_end()'s
 * where it closes: a row's newline, say. Closing the outermost JSON level
 * ends the line.
 */
void emit_object(struct emit *e, const char *key, const char *fmt);
void emit_array(struct emit *e, const char *key, const char *fmt);
void emit_end(struct emit *e, const char *fmt);

#endif /* SOCKHOP_EMIT_H */
