// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_cgroup.c - cgroup2 discovery and path handling. */
#include "cmocka_all.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"

static char dir[PATH_MAX];	/* tests/unit/mountinfo, from argv[0]'s sibling */

static void find(const char *file, int want_err, const char *want)
{
	char path[PATH_MAX + 64], out[256];
	int err;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	err = cg_find_mount(path, out, sizeof(out));
	assert_int_equal(err, want_err);
	if (!want_err)
		assert_string_equal(out, want);
}

static void test_hybrid(void **s) { (void)s; find("hybrid.txt", 0, "/sys/fs/cgroup/unified"); }
static void test_v2(void **s) { (void)s; find("v2.txt", 0, "/sys/fs/cgroup"); }
static void test_none(void **s) { (void)s; find("none.txt", -ENOENT, NULL); }
static void test_escaped(void **s) { (void)s; find("escaped.txt", 0, "/mnt/my cgroups"); }
static void test_missing_file(void **s) { (void)s; find("no-such-file", -ENOENT, NULL); }

static void test_too_long(void **s)
{
	char path[PATH_MAX + 64], out[8];

	(void)s;
	snprintf(path, sizeof(path), "%s/hybrid.txt", dir);
	assert_int_equal(cg_find_mount(path, out, sizeof(out)), -ENAMETOOLONG);
}

static void resolve(const char *mount, const char *in, int want_err, const char *want)
{
	char out[256];

	assert_int_equal(cg_resolve(mount, in, out, sizeof(out)), want_err);
	if (!want_err)
		assert_string_equal(out, want);
}

static void test_resolve(void **s)
{
	(void)s;
	resolve("/sys/fs/cgroup/unified", "mesh", 0, "/sys/fs/cgroup/unified/mesh");
	resolve("/sys/fs/cgroup/unified", "a/b/", 0, "/sys/fs/cgroup/unified/a/b");
	resolve("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/a", 0, "/sys/fs/cgroup/unified/a");
	resolve("/sys/fs/cgroup/unified/", "a", 0, "/sys/fs/cgroup/unified/a");
	resolve("/sys/fs/cgroup/unified", "//a", -EINVAL, NULL);	/* absolute, elsewhere */
	resolve("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified", 0, "/sys/fs/cgroup/unified");
	resolve("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unifiedX/a", -EINVAL, NULL);
	resolve("/sys/fs/cgroup/unified", "/etc", -EINVAL, NULL);
	resolve("/sys/fs/cgroup/unified", "a/../../etc", -EINVAL, NULL);
	resolve("/sys/fs/cgroup/unified", "..", -EINVAL, NULL);
	resolve("/sys/fs/cgroup/unified", "", -EINVAL, NULL);
	resolve("/sys/fs/cgroup/unified", "a..b", 0, "/sys/fs/cgroup/unified/a..b");
	/* every spelling of the mount itself gives the mount's string */
	resolve("/sys/fs/cgroup/unified", ".", 0, "/sys/fs/cgroup/unified");
	resolve("/sys/fs/cgroup/unified", "./", 0, "/sys/fs/cgroup/unified");
	resolve("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/.", 0, "/sys/fs/cgroup/unified");
	resolve("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified/./", 0, "/sys/fs/cgroup/unified");
	resolve("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified//", 0, "/sys/fs/cgroup/unified");
	resolve("/sys/fs/cgroup/unified", "a/..", -EINVAL, NULL);
	/* and of one cgroup, one string */
	resolve("/sys/fs/cgroup/unified", "./a/./b//", 0, "/sys/fs/cgroup/unified/a/b");
	resolve("/sys/fs/cgroup/unified", "/sys/fs/cgroup/unified//a/", 0, "/sys/fs/cgroup/unified/a");
	resolve("/", "a", 0, "/a");
}

/* A directory that is not on cgroup2 is refused, whatever it is; the root
 * of a real mount is refused by the integration tests (test_edges). */
static void test_check_dir(void **s)
{
	char base[] = "/tmp/sh-cgcheck-XXXXXX", missing[256];
	uint64_t id = 0;

	(void)s;
	assert_non_null(mkdtemp(base));
	assert_int_equal(cg_check_dir(base, base, &id), -EXDEV);
	snprintf(missing, sizeof(missing), "%s/absent", base);
	assert_int_equal(cg_check_dir(base, missing, &id), -ENOENT);
	assert_int_equal(cg_check_dir(base, "/etc/hostname", &id), -ENOTDIR);
	assert_int_equal(rmdir(base), 0);
}

/* create and remove work on any directory tree; a scratch one stands in. */
static void test_create_remove(void **s)
{
	char base[] = "/tmp/sh-cgtest-XXXXXX", deep[256], id_dir[256];
	uint64_t id = 0;
	struct stat st;

	(void)s;
	assert_non_null(mkdtemp(base));
	snprintf(deep, sizeof(deep), "%s/a/b/c", base);
	assert_int_equal(cg_create(deep), 0);
	assert_int_equal(cg_create(deep), 0);	/* idempotent */
	assert_int_equal(stat(deep, &st), 0);
	assert_int_equal(cg_id(deep, &id), 0);
	assert_int_equal(id, (uint64_t)st.st_ino);
	snprintf(id_dir, sizeof(id_dir), "%s/a", base);
	assert_int_equal(cg_remove(id_dir), 0);
	assert_int_equal(stat(id_dir, &st), -1);
	assert_int_equal(cg_id(id_dir, &id), -ENOENT);
	assert_int_equal(rmdir(base), 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hybrid),
		cmocka_unit_test(test_v2),
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_escaped),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_resolve),
		cmocka_unit_test(test_check_dir),
		cmocka_unit_test(test_create_remove),
	};

	snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : "tests/unit/mountinfo");
	return cmocka_run_group_tests_name("cgroup", tests, NULL, NULL);
}
