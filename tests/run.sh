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

# With SANITIZE set (make test SANITIZE=address,undefined) every binary of
# the build halts on its first report and writes it under $SAN_DIR; a test
# after which a report appeared fails, whatever its own verdict.
SAN_DIR= san_reports=0
[ -n "${SANITIZE:-}" ] && SAN_DIR=$(mktemp -d /tmp/sockhop-sanitize.XXXXXX)
# san_begin NAME: reports of what runs next go to $SAN_DIR/NAME/.
san_begin() {
	[ -n "$SAN_DIR" ] || return 0
	mkdir -p "$SAN_DIR/$1"
	chmod 711 "$SAN_DIR"; chmod 1777 "$SAN_DIR/$1"	# a daemon run as another uid reports too
	export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:exitcode=99:log_path=$SAN_DIR/$1/asan"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$SAN_DIR/$1/ubsan"
}
# san_clean NAME: 0 when NAME left no sanitizer report; else prints them.
san_clean() {
	[ -n "$SAN_DIR" ] || return 0
	local f n=0
	for f in "$SAN_DIR/$1"/*; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		echo "    sanitizer report ($(basename "$f")):"
		sed -n '1,40s/^/      /p' "$f"
	done
	san_reports=$((san_reports + n))
	[ $n = 0 ]
}

FILTER=("$@")
wanted() {
	[ ${#FILTER[@]} -eq 0 ] && return 0
	for f in "${FILTER[@]}"; do [[ $1 == *"$f"* ]] && return 0; done
	return 1
}

run_unit() {
	local bin=$1; shift
	san_begin "unit-$(basename "$bin")"
	local out; out=$("$bin" "$@" 2>&1)
	local p f
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' <<<"$out")
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' <<<"$out")
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
	if [ -z "$p$f" ]; then	# crashed before its summary
		failed=$((failed + 1)); f=1
	fi
	local san; san=$(san_clean "unit-$(basename "$bin")")
	if [ -n "$san" ]; then
		san_reports=$((san_reports + $(grep -c '^    sanitizer report' <<<"$san")))
		failed=$((failed + 1)); f=$((${f:-0} + 1)); out+=$'\n'$san
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

# the libFuzzer harnesses, briefly: every kept crash input replayed, then
# FUZZ_SMOKE_SECONDS (default 10) of new inputs each; make fuzz runs longer
if wanted fuzz; then
	san_begin fuzz
	out=$(BUILD=$BUILD FUZZ_SECONDS=${FUZZ_SMOKE_SECONDS:-10} tests/fuzz/run.sh 2>&1)
	sed '$d' <<<"$out"
	read -r p _ f _ <<<"$(tail -n1 <<<"$out")"
	passed=$((passed + ${p:-0})); failed=$((failed + ${f:-1}))
	[ "${f:-1}" = 0 ] || failed_names+=(fuzz)
	san_clean fuzz || true	# shown and counted; the harness already failed on it
fi

for t in tests/integration/test_*.sh; do
	name=$(basename "$t" .sh)
	wanted "$name" || continue
	start=$(date +%s)
	log=$(mktemp)
	san_begin "$name"
	timeout --kill-after=10 600 bash "$t" >"$log" 2>&1
	rc=$?
	secs=$(( $(date +%s) - start ))
	if ! san_clean "$name" >>"$log" && { [ $rc = 0 ] || [ $rc = 77 ]; }; then
		rc=98	# the test passed, a binary it ran did not
	fi
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
if [ -n "$SAN_DIR" ]; then
	if [ "$san_reports" = 0 ] && ! find "$SAN_DIR" -type f | grep -q .; then
		rm -rf "$SAN_DIR"	# nothing to keep
		echo "sanitizers ($SANITIZE): 0 reports"
	else
		echo "sanitizers ($SANITIZE): $san_reports report(s), kept in $SAN_DIR"
	fi
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
