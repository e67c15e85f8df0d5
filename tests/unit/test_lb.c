// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_lb.c - backend selection and the Maglev table: exact weighted
 * round-robin shares, weights honoured by Maglev, at most 1/N + 5% of
 * clients remapped when one of N backends leaves, backups only while every
 * primary is down, full and tried members skipped.
 */
#include "cmocka_all.h"
#include <stdlib.h>
#include <string.h>

#include "lb.h"
#include "maglev.h"

static void setup_lb(struct lb *lb, enum cfg_algo algo, unsigned int n, const uint32_t *w)
{
	unsigned int i;

	assert_int_equal(lb_init(lb, algo, n, 42), 0);
	for (i = 0; i < n; i++) {
		lb->m[i].key = 1000 + i;
		lb->m[i].weight = w ? w[i] : 1;
		lb->m[i].up = true;
	}
	lb_changed(lb);
}

static void test_wrr_exact(void **s)
{
	static const uint32_t w[] = { 1, 2, 3, 4 };
	unsigned int count[4] = { 0 }, i, prev = 99, runs = 0;
	struct lb lb;

	(void)s;
	setup_lb(&lb, CFG_ALGO_ROUND_ROBIN, 4, w);
	for (i = 0; i < 1000; i++) {
		int k = lb_pick(&lb, "", 0, NULL, 0);

		assert_true(k >= 0);
		count[k]++;
		runs += (unsigned int)k == prev;
		prev = (unsigned int)k;
	}
	assert_int_equal(count[0], 100);
	assert_int_equal(count[1], 200);
	assert_int_equal(count[2], 300);
	assert_int_equal(count[3], 400);
	assert_true(runs < 300);	/* interleaved, not in bursts */
	lb_free(&lb);
}

static void test_backups_and_skips(void **s)
{
	struct lb lb;
	int tried[1];

	(void)s;
	setup_lb(&lb, CFG_ALGO_ROUND_ROBIN, 3, NULL);
	lb.m[2].backup = true;
	for (int i = 0; i < 10; i++)
		assert_true(lb_pick(&lb, "", 0, NULL, 0) != 2);
	lb.m[0].up = false;
	lb_changed(&lb);
	assert_int_equal(lb_pick(&lb, "", 0, NULL, 0), 1);
	tried[0] = 1;
	assert_int_equal(lb_pick(&lb, "", 0, tried, 1), -1);	/* a primary is up: no backup */
	lb.m[1].up = false;
	lb_changed(&lb);
	assert_int_equal(lb_pick(&lb, "", 0, NULL, 0), 2);	/* every primary down */
	lb.m[2].max = 1;
	lb.m[2].active = 1;
	assert_int_equal(lb_pick(&lb, "", 0, NULL, 0), -1);	/* full */
	lb_free(&lb);
}

static void test_least_conn(void **s)
{
	struct lb lb;

	(void)s;
	setup_lb(&lb, CFG_ALGO_LEAST_CONN, 3, NULL);
	lb.m[0].active = 5;
	lb.m[1].active = 2;
	lb.m[2].active = 3;
	assert_int_equal(lb_pick(&lb, "", 0, NULL, 0), 1);
	lb.m[2].weight = 4;	/* 3/4 < 2/1 */
	assert_int_equal(lb_pick(&lb, "", 0, NULL, 0), 2);
	lb_free(&lb);
}

static void test_random_two(void **s)
{
	unsigned int count[2] = { 0 }, i;
	struct lb lb;

	(void)s;
	setup_lb(&lb, CFG_ALGO_RANDOM_TWO, 2, NULL);
	lb.m[0].active = 1;
	for (i = 0; i < 100; i++)
		assert_int_equal(lb_pick(&lb, "", 0, NULL, 0), 1);
	lb.m[0].active = 0;
	for (i = 0; i < 2000; i++)
		count[lb_pick(&lb, "", 0, NULL, 0)]++;
	assert_true(count[0] > 800 && count[1] > 800);
	lb_free(&lb);
}

static uint16_t *table(const struct maglev_backend *b, unsigned int n)
{
	uint16_t *t = malloc(MAGLEV_TABLE_SIZE * sizeof(*t));

	assert_non_null(t);
	assert_int_equal(maglev_build(b, n, t, MAGLEV_TABLE_SIZE), 0);
	return t;
}

static void test_maglev_weights(void **s)
{
	struct maglev_backend b[3] = { { 11, 1 }, { 22, 2 }, { 33, 1 } };
	unsigned int count[3] = { 0 }, i;
	uint16_t *t = table(b, 3);

	(void)s;
	for (i = 0; i < MAGLEV_TABLE_SIZE; i++) {
		assert_true(t[i] < 3);
		count[t[i]]++;
	}
	/* shares 1:2:1 within 1% of the table */
	assert_true(abs((int)count[1] - MAGLEV_TABLE_SIZE / 2) < MAGLEV_TABLE_SIZE / 100);
	assert_true(abs((int)count[0] - MAGLEV_TABLE_SIZE / 4) < MAGLEV_TABLE_SIZE / 100);
	free(t);
}

static void test_maglev_remap(void **s)
{
	for (unsigned int n = 2; n <= 16; n *= 2) {
		struct maglev_backend b[16];
		unsigned int i, moved = 0, flows = 100000;
		uint16_t *before, *after;

		for (i = 0; i < n; i++)
			b[i] = (struct maglev_backend){ maglev_hash(&i, sizeof(i), 7), 1 };
		before = table(b, n);
		b[n / 2].weight = 0;	/* one of N leaves */
		after = table(b, n);
		for (i = 0; i < flows; i++) {
			uint32_t slot = (uint32_t)(maglev_hash(&i, sizeof(i), 0) % MAGLEV_TABLE_SIZE);

			assert_true(after[slot] != n / 2);
			moved += before[slot] != after[slot];
		}
		(void)s;
		/* at most 1/N + 5% of flows move */
		assert_true(moved * 100 <= flows * (100 / n + 5));
		free(before);
		free(after);
	}
}

static void test_maglev_empty(void **s)
{
	struct maglev_backend b[2] = { { 1, 0 }, { 2, 0 } };
	uint16_t *t = table(b, 2);

	(void)s;
	assert_int_equal(t[0], MAGLEV_EMPTY);
	assert_int_equal(t[MAGLEV_TABLE_SIZE - 1], MAGLEV_EMPTY);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wrr_exact),
		cmocka_unit_test(test_backups_and_skips),
		cmocka_unit_test(test_least_conn),
		cmocka_unit_test(test_random_two),
		cmocka_unit_test(test_maglev_weights),
		cmocka_unit_test(test_maglev_remap),
		cmocka_unit_test(test_maglev_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
