// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_emit.c - the one report writer: the same calls in JSON and in text. */
#include "cmocka_all.h"
#include <stdlib.h>
#include <string.h>

#include "emit.h"

/* One report, written by one sequence of calls. */
static void report(struct emit *e)
{
	emit_object(e, NULL, NULL);
	emit_str(e, "name", "service %s", "web");
	emit_u64(e, "active", " (active %llu)\n", 3);
	emit_array(e, "backends", NULL);
	emit_object(e, NULL, "  -");
	emit_str(e, "address", " %-10s|", "b1");
	emit_bool(e, "up", " up %s", true);
	emit_s64(e, "delta", NULL, -5);	/* JSON only */
	emit_end(e, "\n");
	emit_object(e, NULL, "  -");
	emit_str(e, "address", " %-10s|", NULL);
	emit_bool(e, "up", " up %s", false);
	emit_s64(e, "delta", NULL, 7);
	emit_end(e, "\n");
	emit_end(e, NULL);
	emit_text(e, "total %d\n", 2);		/* text only */
	emit_array(e, "empty", NULL);
	emit_end(e, NULL);
	emit_object(e, "nested", NULL);
	emit_end(e, NULL);
	emit_end(e, NULL);
}

static void test_same_calls(void **s)
{
	struct emit e;

	(void)s;
	emit_to_memory(&e, true);
	report(&e);
	assert_string_equal(e.buf, "{\"name\":\"web\",\"active\":3,\"backends\":["
				   "{\"address\":\"b1\",\"up\":true,\"delta\":-5},"
				   "{\"address\":null,\"up\":false,\"delta\":7}],"
				   "\"empty\":[],\"nested\":{}}\n");
	/* a second document starts afresh: no comma carried over */
	report(&e);
	assert_int_equal(e.len % 2, 0);
	assert_memory_equal(e.buf, e.buf + e.len / 2, e.len / 2);
	emit_free(&e);

	emit_to_memory(&e, false);
	report(&e);
	assert_string_equal(e.buf, "service web (active 3)\n"
				   "  - b1        | up yes\n"
				   "  - -         | up no\n"
				   "total 2\n");
	emit_free(&e);
}

/* Whatever a name holds, the output stays one valid JSON string. */
static void test_escapes(void **s)
{
	struct emit e;

	(void)s;
	emit_to_memory(&e, true);
	emit_object(&e, NULL, NULL);
	emit_str(&e, "k\"", NULL, "q\" b\\ nl\n tab\t del\x7f");
	emit_str(&e, "u", NULL, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");	/* as it is */
	emit_str(&e, "bad", NULL, "a\xff" "b\xc3" "c\xed\xa0\x80" "d\xc0\xaf");	/* not UTF-8 */
	emit_end(&e, NULL);
	assert_string_equal(e.buf, "{\"k\\\"\":\"q\\\" b\\\\ nl\\u000a tab\\u0009 del\\u007f\","
				   "\"u\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
				   "\"bad\":\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd\"}\n");
	emit_free(&e);
}

/* A text format that does not take its value's type prints "?", never
 * reads an argument that is not there. */
static void test_format_checked(void **s)
{
	struct emit e;

	(void)s;
	emit_to_memory(&e, false);
	emit_u64(&e, "a", "[%u]", 1);		/* not %llu */
	emit_u64(&e, "b", "[%s]", 1);
	emit_u64(&e, "c", "[%llu %llu]", 1);	/* two */
	emit_u64(&e, "d", "[%*llu]", 1);	/* reads a width */
	emit_str(&e, "e", "[%d]", "x");
	emit_str(&e, "f", "[none]", "x");
	emit_u64(&e, "g", "[%5llu%%|%-4llx]", 10);	/* two, %% between */
	emit_u64(&e, "h", "[%05llu%%]", 10);		/* %% is no conversion */
	emit_s64(&e, "i", "[%+lld]", 4);
	emit_str(&e, "j", "[%-3s|%.1s]", "x");	/* two again */
	emit_str(&e, "k", "[%.2s]", "xyz");
	assert_string_equal(e.buf, "??????"
				   "?[00010%][+4]?[xy]");
	emit_free(&e);
}

/* Text is printf as it is, however long. */
static void test_long_text(void **s)
{
	struct emit e;
	char *big = malloc(5001);

	(void)s;
	memset(big, 'x', 5000);
	big[5000] = '\0';
	emit_to_memory(&e, false);
	emit_text(&e, "%s %d\n", "n", 7);
	emit_text(&e, "%s", big);
	assert_int_equal(e.len, 4 + 5000);
	assert_memory_equal(e.buf, "n 7\n", 4);
	assert_false(e.cut);
	emit_free(&e);
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_calls),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_format_checked),
		cmocka_unit_test(test_long_text),
	};

	return cmocka_run_group_tests_name("emit", tests, NULL, NULL);
}
