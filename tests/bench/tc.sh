#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make bench: the per-packet cost of the tc policy filter. A client in a
# scope sends through a veth pair to a server in a second namespace, with
# the filter attached (egress and ingress, as an operator attaches it) and
# without it, interleaved in every repetition. The config has 8 scopes of
# 20 rules; the load runs in the scope tried last, and its packets pass 19
# rules before the one that allows them: the egress entry tests 8 cgroup
# slots and the rule stage walks 20 rules, both ways. Every process on one
# CPU. Environment: REPS (default 15), BULK_MIB (1024), RR_COUNT (5000).
set -u
. "$(dirname "$0")/../integration/lib.sh"

REPS=${REPS:-15}
BULK_MIB=${BULK_MIB:-1024}
RR_COUNT=${RR_COUNT:-5000}
CPU=${BENCH_CPU:-0}
DEV=shta-$ID
veth_pair "$DEV" shtb-$ID 10.89.0

{
	echo "scopes:"
	for s in 1 2 3 4 5 6 7 8; do
		printf '  - name: s%d\n    cgroup: %s/s%d\n    create: true\n    default: deny\n    rules:\n' \
			$s "$TEST_CG" $s
		for r in $(seq 19); do
			printf '      - {action: deny, protocol: tcp, destination: 10.89.0.0/16, port: %d}\n' $((1000 + r))
		done
		echo "      - {action: allow, protocol: tcp, destination: 10.89.0.0/24, port: 9000-9100}"
	done
} >"$TMP/tc.yaml"
launch_daemon "$NS" "$TMP/tc.yaml"
tcns qdisc add dev "$DEV" clsact || fail "clsact"
filter() {	# on|off
	if [ "$1" = on ]; then
		tcns filter add dev "$DEV" egress bpf da pinned "$PIN/tc/egress" || fail "filter"
		tcns filter add dev "$DEV" ingress bpf da pinned "$PIN/tc/ingress" || fail "filter"
	else
		tcns filter del dev "$DEV" egress
		tcns filter del dev "$DEV" ingress
	fi
}
CG=$TEST_CG/s8
client() { run_in "$CG" "$NS" taskset -c "$CPU" "$@"; }
# server CMD...: in the background, in $NS2; its pid in $SP (exec: the pid
# is the server's own, so kill reaches it and cleanup does too)
server() {
	(exec ip netns exec "$NS2" taskset -c "$CPU" "$@") &
	SP=$!
	BG_PIDS+=($SP)
}

bulk() {	# PORT: Gbit/s measured by the receiver
	server "$SHTRAFFIC" server "$1" --bind 10.89.0.2 --bench --bytes 0 --max-chunk 65536 \
		>"$TMP/bs" 2>&1
	local sp=$SP
	sleep 0.1
	client "$SHTRAFFIC" client 10.89.0.2 "$1" --bench --bytes $((BULK_MIB << 20)) \
		--max-chunk 65536 >"$TMP/bc" 2>&1 || fail "bulk client: $(cat "$TMP/bc")"
	wait $sp || fail "bulk server: $(cat "$TMP/bs")"
	sed -n 's/.*recv=\([0-9]*\) .*elapsed=\([0-9.]*\).*/\1 \2/p' "$TMP/bs" |
		awk '{ printf "%.2f\n", $1 * 8 / $2 / 1e9 }'
}

rr() {	# SIZE PORT: "p50 p99"
	server "$SHTRAFFIC" epoll-server "$2" --bind 10.89.0.2 --size "$1" >"$TMP/rs" 2>&1
	local sp=$SP
	sleep 0.1
	client "$SHTRAFFIC" rr-client 10.89.0.2 "$2" --size "$1" --count "$RR_COUNT" \
		>"$TMP/rc" 2>&1 || fail "rr client: $(cat "$TMP/rc")"
	kill $sp 2>/dev/null; wait $sp 2>/dev/null
	sed -n 's/.*p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2/p' "$TMP/rc"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
allowed() { "$SOCKHOP" --pin-dir "$PIN" policy -j | jq '.scopes[7].egress.allow.packets'; }

for rep in $(seq "$REPS"); do
	# the order alternates, so neither mode always runs first in a repetition
	order="off on"; [ $((rep % 2)) = 0 ] && order="on off"
	for mode in $order; do
		[ $mode = on ] && filter on
		port=$((9000 + rep * 6)); [ $mode = on ] && port=$((port + 3))
		before=$(allowed)
		bulk $port >>"$TMP/$mode.bulk"
		rr 64 $((port + 1)) >"$TMP/rr.out"
		read -r p50 p99 <"$TMP/rr.out"
		echo "$p50" >>"$TMP/$mode.rr64.p50"; echo "$p99" >>"$TMP/$mode.rr64.p99"
		rr 16384 $((port + 2)) >"$TMP/rr.out"
		read -r p50 p99 <"$TMP/rr.out"
		echo "$p50" >>"$TMP/$mode.rr16k.p50"; echo "$p99" >>"$TMP/$mode.rr16k.p99"
		after=$(allowed)
		if [ $mode = on ]; then
			[ "$after" -gt "$before" ] || fail "the filter counted nothing while on"
			filter off
		else
			[ "$after" = "$before" ] || fail "the filter counted packets while off"
		fi
	done
	echo "tc repetition $rep/$REPS: bulk off $(tail -n1 "$TMP/off.bulk") on $(tail -n1 "$TMP/on.bulk"), 64 B p50 off $(tail -n1 "$TMP/off.rr64.p50") on $(tail -n1 "$TMP/on.rr64.p50")" >&2
done
denied=$("$SOCKHOP" --pin-dir "$PIN" policy -j | jq '[.scopes[].egress.deny.packets] | add')
[ "$denied" = 0 ] || fail "$denied packets were denied"

printf '\nsockhop tc policy bench, %s, kernel %s, veth between two namespaces, all on CPU %s, median of %d\n' \
	"$(date -u +%Y-%m-%d)" "$(uname -r)" "$CPU" "$REPS"
printf '(8 scopes x 20 rules; the load is in the scope tried last and matches its 20th rule)\n'
printf '%-24s %12s %12s %12s %12s\n' metric "no filter" "filter" overhead goal
row() {	# name file unit kind goal
	local o n
	o=$(median <"$TMP/off.$2") n=$(median <"$TMP/on.$2")
	if [ "$4" = pct ]; then
		printf '%-24s %9s %-2s %9s %-2s %11s%% %12s\n' "$1" "$o" "$3" "$n" "$3" \
			"$(awk -v o="$o" -v n="$n" 'BEGIN { printf "%.1f", (o - n) / o * 100 }')" "$5"
	else
		printf '%-24s %9s %-2s %9s %-2s %9s us %12s\n' "$1" "$o" "$3" "$n" "$3" \
			"$(awk -v o="$o" -v n="$n" 'BEGIN { printf "%+.1f", n - o }')" "$5"
	fi
}
row "bulk throughput" bulk Gb pct "<=5%"
row "64 B round trip p50" rr64.p50 us us "<=2 us"
row "64 B round trip p99" rr64.p99 us us ""
row "16 KiB round trip p50" rr16k.p50 us us ""
row "16 KiB round trip p99" rr16k.p99 us us ""
printf '(bulk: %d MiB one way; round trips: %d on one connection, epoll server)\n' \
	"$BULK_MIB" "$RR_COUNT"
