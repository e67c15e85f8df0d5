#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Runs every test: the cmocka unit binaries, then each integration test in
# its own process. Usage: tests/run.sh [NAME...] (names filter by substring).
# The last line is "N passed, N failed, N skipped". With CI=true a skipped
# integration test counts as failed: nothing privileged may skip in CI.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export BUILD
passed=0 failed=0 skipped=0
failed_names=()

FILTER=("$@")
wanted() {
	[ ${#FILTER[@]} -eq 0 ] && return 0
	for f in "${FILTER[@]}"; do [[ $1 == *"$f"* ]] && return 0; done
	return 1
}

run_unit() {
	local bin=$1; shift
	local out; out=$("$bin" "$@" 2>&1)
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' <<<"$out")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' <<<"$out")
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
	if [ -z "$p$f" ]; then	# crashed before its summary
		failed=$((failed + 1)); f=1
	fi
	if [ "${f:-0}" != 0 ]; then
		failed_names+=("$(basename "$bin")")
		echo "$out" | sed 's/^/    /'
	fi
	printf '%-40s %s passed, %s failed\n' "unit/$(basename "$bin")" "${p:-0}" "${f:-0}"
}

# every tests/unit/test_*.c is a cmocka binary of the same name
for src in tests/unit/test_*.c; do
	t=$(basename "$src" .c); t=${t#test_}
	wanted "$t" || continue
	case $t in
	config) run_unit "$BUILD/tests/test_config" . ;;
	cgroup) run_unit "$BUILD/tests/test_cgroup" tests/unit/mountinfo ;;
	*) run_unit "$BUILD/tests/test_$t" ;;
	esac
done

for t in tests/integration/test_*.sh; do
	name=$(basename "$t" .sh)
	wanted "$name" || continue
	start=$(date +%s)
	log=$(mktemp)
	timeout --kill-after=10 600 bash "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $rc = 0 ]; then
		passed=$((passed + 1)); res=PASS
	elif [ $rc = 77 ] && [ "${CI:-}" != true ]; then
		skipped=$((skipped + 1)); res="SKIP ($(tail -n1 "$log"))"
	else
		failed=$((failed + 1)); res="FAIL (exit $rc)"; failed_names+=("$name")
		sed 's/^/    /' "$log"
	fi
	printf '%-40s %s %ss\n' "integration/$name" "$res" "$secs"
	grep '^RESULT \|^CASE FAILED' "$log" | sed 's/^/    /'
	rm -f "$log"
done

[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
