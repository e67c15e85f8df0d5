#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make bench: local acceleration vs plain loopback TCP between two processes.
# Every process is pinned to one CPU (taskset), the CPU-cost view: on this
# 2-vCPU machine a cross-CPU wake-up costs ~30 us and makes unpinned
# latency bimodal. Configurations are interleaved in every repetition;
# the table gives medians of REPS runs and ratios to plain loopback.
# Environment: REPS (default 7), BULK_MIB (default 1024), RR_COUNT (5000).
set -u
. "$(dirname "$0")/../integration/lib.sh"

REPS=${REPS:-7}
BULK_MIB=${BULK_MIB:-1024}
RR_COUNT=${RR_COUNT:-5000}
CPU=${BENCH_CPU:-0}
MESH=$TEST_CG/mesh PLAIN=$TEST_CG/plain
mkdir -p "$PLAIN"
default_config >"$TMP/cfg.yaml"
start_daemon "$TMP/cfg.yaml"

pinned() { local cg=$1; shift; run_in "$cg" "$NS" taskset -c "$CPU" "$@"; }

# bulk CGROUP PORT: Gbit/s of BULK_MIB MiB, measured by the receiver.
bulk() {
	local port=$2
	pinned "$1" "$SHTRAFFIC" server $port --bench --bytes 0 --max-chunk 65536 >"$TMP/bs" 2>&1 &
	local sp=$!
	pinned "$1" "$SHTRAFFIC" client 127.0.0.1 $port --bench --bytes $((BULK_MIB << 20)) \
		--max-chunk 65536 >"$TMP/bc" 2>&1 || fail "bulk client: $(cat "$TMP/bc")"
	wait $sp || fail "bulk server: $(cat "$TMP/bs")"
	sed -n 's/.*recv=\([0-9]*\) .*elapsed=\([0-9.]*\).*/\1 \2/p' "$TMP/bs" |
		awk '{ printf "%.2f\n", $1 * 8 / $2 / 1e9 }'
}

# rr CGROUP SIZE PORT: "p50 p99" microseconds of RR_COUNT round trips.
rr() {
	local port=$3
	pinned "$1" "$SHTRAFFIC" epoll-server $port --size "$2" >"$TMP/rs" 2>&1 &
	local sp=$!
	pinned "$1" "$SHTRAFFIC" rr-client 127.0.0.1 $port --size "$2" --count "$RR_COUNT" \
		>"$TMP/rc" 2>&1 || fail "rr client: $(cat "$TMP/rc")"
	kill $sp 2>/dev/null; wait $sp 2>/dev/null
	sed -n 's/.*p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2/p' "$TMP/rc"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for rep in $(seq "$REPS"); do
	for mode in plain accel; do
		cg=$PLAIN; [ $mode = accel ] && cg=$MESH
		base=$((10000 + rep * 10)); [ $mode = accel ] && base=$((base + 5))
		bulk "$cg" $base >>"$TMP/$mode.bulk"
		rr "$cg" 64 $((base + 1)) >"$TMP/rr.out"
		read -r p50 p99 <"$TMP/rr.out"
		echo "$p50" >>"$TMP/$mode.rr64.p50"; echo "$p99" >>"$TMP/$mode.rr64.p99"
		rr "$cg" 16384 $((base + 2)) >"$TMP/rr.out"
		read -r p50 p99 <"$TMP/rr.out"
		echo "$p50" >>"$TMP/$mode.rr16k.p50"; echo "$p99" >>"$TMP/$mode.rr16k.p99"
	done
	echo "repetition $rep/$REPS done" >&2
done
red=$(stat mesh bytes_redirected)
[ "$red" -gt 0 ] || fail "the accelerated runs redirected nothing"

printf '\nsockhop bench, %s, kernel %s, %d CPUs, all processes on CPU %s, median of %d\n' \
	"$(date -u +%Y-%m-%d)" "$(uname -r)" "$(nproc)" "$CPU" "$REPS"
printf '%-28s %14s %14s %10s %8s\n' metric "plain loopback" accelerated ratio goal
row() {	# name file unit goal-text
	local p a
	p=$(median <"$TMP/plain.$2") a=$(median <"$TMP/accel.$2")
	printf '%-28s %11s %-2s %11s %-2s %9sx %8s\n' "$1" "$p" "$3" "$a" "$3" \
		"$(awk -v a="$a" -v p="$p" 'BEGIN { printf "%.2f", a / p }')" "$4"
}
row "bulk throughput" bulk Gb ">=1.8x"
row "64 B round trip p50" rr64.p50 us "<=0.55x"
row "64 B round trip p99" rr64.p99 us ""
row "16 KiB round trip p50" rr16k.p50 us "<=0.55x"
row "16 KiB round trip p99" rr16k.p99 us ""
printf '(bulk: %d MiB one way, 64 KiB sends; round trips: %d on one connection, epoll server)\n' \
	"$BULK_MIB" "$RR_COUNT"
stop_daemon
