#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make fuzz: each libFuzzer harness (fuzz_config, fuzz_rules, fuzz_request)
# for FUZZ_SECONDS (default 60), after replaying every input that ever
# crashed one (regressions/NAME/). The working corpus grows under
# $BUILD/fuzz/corpus/NAME, seeded from seeds/NAME and, for the config, from
# the shipped config and every config the integration tests write. A new
# crash is left as $BUILD/fuzz/crash-NAME-*: keep it in regressions/NAME/.
# Usage: tests/fuzz/run.sh [NAME...]. One line per harness; the last line
# is "N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.."
BUILD=${BUILD:-build}
SECS=${FUZZ_SECONDS:-60}
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(config rules request)
passed=0 failed=0

# seed_configs DIR: the shipped config and each YAML heredoc of the tests
seed_configs() {
	cp proxy/sockhop.yaml "$1/shipped.yaml"
	local t n=0
	for t in tests/integration/*.sh tests/bench/*.sh; do
		awk -v dir="$1" -v base="$(basename "$t" .sh)" '
			/<<.?CFG.?$/ { on = 1; n++; f = sprintf("%s/%s-%d.yaml", dir, base, n); next }
			/^CFG$/ { on = 0; close(f); next }
			on { print > f }' "$t"
	done
}

for name in "${names[@]}"; do
	bin=$BUILD/fuzz/fuzz_$name
	corpus=$BUILD/fuzz/corpus/$name
	log=$BUILD/fuzz/$name.log
	[ -x "$bin" ] || { echo "fuzz/$name: $bin is not built (make fuzz-build)"; failed=$((failed + 1)); continue; }
	mkdir -p "$corpus"
	cp tests/fuzz/seeds/"$name"/* "$corpus/" 2>/dev/null
	[ "$name" = config ] && seed_configs "$corpus"
	res=PASS
	regs=(tests/fuzz/regressions/"$name"/*)
	if [ -e "${regs[0]}" ] && ! "$bin" -runs=1 "${regs[@]}" >"$log.regress" 2>&1; then
		res="FAIL (a regression input crashes it again: $BUILD/fuzz/$name.log.regress)"
	fi
	if [ "$res" = PASS ]; then
		"$bin" "$corpus" -max_total_time="$SECS" -timeout=5 -rss_limit_mb=2048 \
			-max_len=65536 -print_final_stats=1 -artifact_prefix="$BUILD/fuzz/crash-$name-" \
			>"$log" 2>&1 ||
			res="FAIL (see $log; the input is $BUILD/fuzz/crash-$name-*)"
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" 2>/dev/null | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" 2>/dev/null | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" 2>/dev/null | tail -1 | cut -d' ' -f2)
	size=$(find "$corpus" -type f | wc -l)
	if [ "$res" = PASS ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	printf '%-40s %s %ss\n' "fuzz/$name" "$res" "$SECS"
	printf '    RESULT fuzz %s: %s executions, %s edges covered (%s features), corpus %s inputs, %s regression inputs replayed\n' \
		"$name" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$size" \
		"$( [ -e "${regs[0]}" ] && echo ${#regs[@]} || echo 0)"
	[ "$res" = PASS ] || tail -30 "$log" | sed 's/^/    /'
done
echo "$passed passed, $failed failed, 0 skipped"
[ "$failed" = 0 ]
