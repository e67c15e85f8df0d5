#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make bench, first part: the mesh. Two processes over loopback, in a scope
# that accelerates (flow control on, the default 1 MiB bound) and in a
# cgroup of no scope (plain TCP), with third-party tools (iperf3, sockperf)
# beside the project's own (shtraffic). Two views in every repetition: all
# processes on one CPU (taskset -c 0, the CPU-cost view) and on both CPUs
# (unpinned). Configurations are interleaved in each repetition; the table
# gives medians of REPS runs and ratios to plain TCP of the same view.
# Where the time goes: bpf_stats (enabled for the run, then restored) gives
# each program's cost per run and how often it ran.
# Environment: REPS (default 5), BULK_MIB (1024), RR_COUNT (5000),
# CONN_COUNT (3000), SECS (3, for iperf3 and sockperf).
set -u
. "$(dirname "$0")/../integration/lib.sh"

REPS=${REPS:-5}
BULK_MIB=${BULK_MIB:-1024}
RR_COUNT=${RR_COUNT:-5000}
CONN_COUNT=${CONN_COUNT:-3000}
SECS=${SECS:-3}
MESH=$TEST_CG/mesh PLAIN=$TEST_CG/plain
mkdir -p "$PLAIN"
for tool in iperf3 sockperf; do command -v $tool >/dev/null || fail "$tool is missing (make deps-bench)"; done
cat >"$TMP/cfg.yaml" <<CFG
scopes:
  - name: mesh
    cgroup: $MESH
    rules:
      - {action: accelerate, destination: 127.0.0.0/8}
CFG
stats_was=$(cat /proc/sys/kernel/bpf_stats_enabled)
restore_stats() { echo "$stats_was" >/proc/sys/kernel/bpf_stats_enabled; }
trap 'rc=$?; restore_stats; (exit $rc); cleanup' EXIT
echo 1 >/proc/sys/kernel/bpf_stats_enabled
start_daemon "$TMP/cfg.yaml"

# on VIEW CGROUP CMD...: CMD in CGROUP and the namespace, on CPU 0 for view
# 1cpu, anywhere for view 2cpu.
on() {
	local view=$1 cg=$2; shift 2
	if [ "$view" = 1cpu ]; then run_in "$cg" "$NS" taskset -c 0 "$@"; else run_in "$cg" "$NS" "$@"; fi
}
# bg VIEW CGROUP CMD...: the same in the background; its pid in $BG.
bg() { on "$@" & BG=$!; BG_PIDS+=($BG); }

bulk() {	# VIEW CG PORT: Gbit/s, shtraffic, 64 KiB sends
	bg "$1" "$2" "$SHTRAFFIC" server "$3" --bench --bytes 0 --max-chunk 65536 >"$TMP/bs" 2>&1
	on "$1" "$2" "$SHTRAFFIC" client 127.0.0.1 "$3" --bench --bytes $((BULK_MIB << 20)) \
		--max-chunk 65536 >"$TMP/bc" 2>&1 || fail "bulk client: $(cat "$TMP/bc")"
	wait $BG || fail "bulk server: $(cat "$TMP/bs")"
	sed -n 's/.*recv=\([0-9]*\) .*elapsed=\([0-9.]*\).*/\1 \2/p' "$TMP/bs" |
		awk '{ printf "%.2f\n", $1 * 8 / $2 / 1e9 }'
}
iperf() {	# VIEW CG PORT [LEN]: Gbit/s, iperf3 (writes of LEN, its default 128K), received
	bg "$1" "$2" iperf3 -s -1 -p "$3" >/dev/null 2>&1
	wait_port "$3"
	on "$1" "$2" iperf3 -c 127.0.0.1 -p "$3" -t "$SECS" ${4:+-l "$4"} -J >"$TMP/ij" 2>&1 ||
		fail "iperf3: $(tail -3 "$TMP/ij")"
	wait $BG
	jq '.end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100' "$TMP/ij"
}
rr() {		# VIEW CG PORT SIZE: "p50 p99" us, shtraffic on an epoll server
	bg "$1" "$2" "$SHTRAFFIC" epoll-server "$3" --size "$4" >/dev/null 2>&1
	wait_port "$3"
	on "$1" "$2" "$SHTRAFFIC" rr-client 127.0.0.1 "$3" --size "$4" --count "$RR_COUNT" \
		>"$TMP/rc" 2>&1 || fail "rr: $(cat "$TMP/rc")"
	kill $BG; wait $BG 2>/dev/null
	sed -n 's/.*p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2/p' "$TMP/rc"
}
sperf() {	# VIEW CG PORT: "p50 p99" us of 64 B, sockperf ping-pong
	bg "$1" "$2" sockperf server -i 127.0.0.1 -p "$3" --tcp >/dev/null 2>&1
	wait_port "$3"
	on "$1" "$2" sockperf ping-pong -i 127.0.0.1 -p "$3" --tcp -m 64 -t "$SECS" >"$TMP/sp" 2>&1 ||
		fail "sockperf: $(tail -3 "$TMP/sp")"
	kill $BG; wait $BG 2>/dev/null
	echo "$(sed -n 's/.*percentile 50.000 = *\([0-9.]*\).*/\1/p' "$TMP/sp") $(sed -n 's/.*percentile 99.000 = *\([0-9.]*\).*/\1/p' "$TMP/sp")"
}
conns() {	# VIEW CG PORT: new connections a second, one 1 B round trip each
	bg "$1" "$2" "$SHTRAFFIC" epoll-server "$3" --size 1 >/dev/null 2>&1
	wait_port "$3"
	on "$1" "$2" "$SHTRAFFIC" conn-client 127.0.0.1 "$3" --size 1 --count "$CONN_COUNT" \
		>"$TMP/cc" 2>&1 || fail "conns: $(cat "$TMP/cc")"
	kill $BG; wait $BG 2>/dev/null
	sed -n 's/.*per_s=\([0-9]*\).*/\1/p' "$TMP/cc"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
record() { echo "$3" >>"$TMP/$1.$2"; }	# MODE-VIEW METRIC VALUE

# bpf_stats of one program: "runs ns" summed over its loaded instances
prog_stats() { bpftool prog show -j | jq -r --arg n "$1" '[.[] | select(.name == $n)] |
	"\(map(.run_cnt // 0) | add // 0) \(map(.run_time_ns // 0) | add // 0)"'; }
declare -A runs0 ns0
for p in sock_create_tag sockops_accel sk_msg_redirect skb_verdict_pass; do
	read -r "runs0[$p]" "ns0[$p]" <<<"$(prog_stats $p)"
done

for rep in $(seq "$REPS"); do
	for view in 1cpu 2cpu; do
		for mode in plain accel; do
			cg=$PLAIN; [ $mode = accel ] && cg=$MESH
			base=$((12000 + rep * 40))
			[ $view = 2cpu ] && base=$((base + 20))
			[ $mode = accel ] && base=$((base + 10))
			k=$mode-$view
			record $k bulk "$(bulk $view "$cg" $base)"
			record $k iperf "$(iperf $view "$cg" $((base + 1)))"
			# where acceleration stops paying: small writes, each one a
			# redirect that takes the reader's socket lock
			record $k iperf1k "$(iperf $view "$cg" $((base + 6)) 1K)"
			record $k iperf16k "$(iperf $view "$cg" $((base + 7)) 16K)"
			record $k iperf256k "$(iperf $view "$cg" $((base + 8)) 256K)"
			read -r p50 p99 <<<"$(rr $view "$cg" $((base + 2)) 64)"
			record $k rr64.p50 "$p50"; record $k rr64.p99 "$p99"
			read -r p50 p99 <<<"$(sperf $view "$cg" $((base + 3)))"
			record $k sp64.p50 "$p50"; record $k sp64.p99 "$p99"
			read -r p50 p99 <<<"$(rr $view "$cg" $((base + 4)) 16384)"
			record $k rr16k.p50 "$p50"
			record $k conns "$(conns $view "$cg" $((base + 5)))"
		done
	done
	echo "repetition $rep/$REPS done" >&2
done
[ "$(stat mesh bytes_redirected)" -gt 0 ] || fail "the accelerated runs redirected nothing"

printf '\nsockhop bench: the mesh, %s, kernel %s, %d CPUs, median of %d (flow control on, accelerate-buffer 1 MiB)\n' \
	"$(date -u +%Y-%m-%d)" "$(uname -r)" "$(nproc)" "$REPS"
printf '%-34s %12s %12s %7s   %12s %12s %7s %9s\n' "" "1 CPU plain" accelerated ratio "2 CPUs plain" accelerated ratio goal
row() {	# NAME METRIC UNIT GOAL
	local v pv av line
	line=$(printf '%-34s' "$1")
	for v in 1cpu 2cpu; do
		pv=$(median <"$TMP/plain-$v.$2") av=$(median <"$TMP/accel-$v.$2")
		line+=$(printf ' %9s %-2s %9s %-2s %6sx  ' "$pv" "$3" "$av" "$3" \
			"$(awk -v a="$av" -v p="$pv" 'BEGIN { printf "%.2f", a / p }')")
	done
	printf '%s %9s\n' "$line" "$4"
}
row "bulk, shtraffic (64 KiB sends)" bulk Gb ">=1.8x"
row "bulk, iperf3" iperf Gb ">=1.8x"
row "bulk, iperf3, 1 KiB writes" iperf1k Gb ""
row "bulk, iperf3, 16 KiB writes" iperf16k Gb ""
row "bulk, iperf3, 256 KiB writes" iperf256k Gb ""
row "64 B round trip p50, shtraffic" rr64.p50 us "<=0.55x"
row "64 B round trip p99, shtraffic" rr64.p99 us ""
row "64 B round trip p50, sockperf" sp64.p50 us "<=0.55x"
row "64 B round trip p99, sockperf" sp64.p99 us ""
row "16 KiB round trip p50, shtraffic" rr16k.p50 us ""
row "new connections/s, shtraffic" conns /s ">=0.95x"
printf '(bulk %d MiB one way; iperf3 and sockperf %d s; round trips %d on one connection to an epoll server; connections %d one after the other, a 1 B round trip each)\n' \
	"$BULK_MIB" "$SECS" "$RR_COUNT" "$CONN_COUNT"

printf '\nwhere the time goes: each program, over the whole run (bpf_stats)\n'
printf '%-18s %12s %10s\n' program runs ns/run
for p in sock_create_tag sockops_accel sk_msg_redirect skb_verdict_pass; do
	read -r r n <<<"$(prog_stats $p)"
	r=$((r - runs0[$p])) n=$((n - ns0[$p]))
	printf '%-18s %12d %10s\n' "$p" "$r" "$(awk -v r="$r" -v n="$n" 'BEGIN { printf "%.0f", r ? n / r : 0 }')"
done
"$SOCKHOP" --pin-dir "$PIN" stats -j | jq -r '.scopes[] | select(.scope == "mesh") |
	"flow control over the run: \(.holds) holds, \(.resumes) resumes, \(.bytes_redirected) bytes redirected, \(.bytes_held) by TCP while held"'
stop_daemon
