// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_emit.c - the one report writer: JSON commas, nesting, escapes. */
#include "cmocka_all.h"
#include <stdlib.h>
#include <string.h>

#include "emit.h"

/* Nesting, commas at each level, the outermost close ending the line. */
static void test_nesting(void **s)
{
	struct emit e;

	(void)s;
	emit_to_memory(&e, true);
	emit_object(&e, NULL);
	emit_u64(&e, "a", 1);
	emit_array(&e, "b");
	emit_object(&e, NULL);
	emit_bool(&e, "x", true);
	emit_end(&e);
	emit_object(&e, NULL);
	emit_end(&e);
	emit_str(&e, NULL, "s");
	emit_end(&e);
	emit_object(&e, "c");
	emit_end(&e);
	emit_s64(&e, "d", -5);
	emit_null(&e, "e");
	emit_str(&e, "f", NULL);
	emit_end(&e);
	assert_string_equal(e.buf, "{\"a\":1,\"b\":[{\"x\":true},{},\"s\"],\"c\":{},\"d\":-5,"
				   "\"e\":null,\"f\":null}\n");
	/* a second document starts afresh: no comma carried over */
	emit_object(&e, NULL);
	emit_bool(&e, "g", false);
	emit_end(&e);
	assert_string_equal(e.buf + strlen(e.buf) - 12, "{\"g\":false}\n");
	emit_free(&e);
}

/* Whatever a name holds, the output stays one valid JSON string. */
static void test_escapes(void **s)
{
	struct emit e;

	(void)s;
	emit_to_memory(&e, true);
	emit_object(&e, NULL);
	emit_str(&e, "k\"", "q\" b\\ nl\n tab\t del\x7f");
	emit_str(&e, "u", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");	/* kept as it is */
	emit_str(&e, "bad", "a\xff" "b\xc3" "c\xed\xa0\x80" "d\xc0\xaf");	/* not UTF-8 */
	emit_end(&e);
	assert_string_equal(e.buf, "{\"k\\\"\":\"q\\\" b\\\\ nl\\u000a tab\\u0009 del\\u007f\","
				   "\"u\":\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
				   "\"bad\":\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\\ufffdd\\ufffd\\ufffd\"}\n");
	emit_free(&e);
}

/* Text is printf as it is, however long. */
static void test_text(void **s)
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
		cmocka_unit_test(test_nesting),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_text),
	};

	return cmocka_run_group_tests_name("emit", tests, NULL, NULL);
}
