#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make soak: SOAK_SECONDS (default 600) of churn on every path (spliced and
# relayed connections with every fifth reset, accelerated pairs, connects
# to a virtual address), a reload every 10 s, and one kill -9 with a
# restart half-way. Samples the daemon's RSS, fds and map entries every
# 10 s; prints the figures; fails when a completed stream lost a byte, a
# reload failed, RSS grew more than 1 MiB per 10 minutes after warm-up,
# or fds and map entries did not come back to their baseline.
set -u
. "$(dirname "$0")/../integration/lib.sh"

SECS=${SOAK_SECONDS:-600}	# under 240 s the RSS slope is not measured
WARMUP=60
APP=$TEST_CG/app MESH=$TEST_CG/mesh
mkdir -p "$APP" "$MESH"
config() {
	cat <<CFG
services:
  - name: web
    virtual: 10.96.0.10:80
    backends: [{address: 127.0.0.1:9101, weight: $1}, 127.0.0.1:9102]
$(two_paths_yaml 127.0.0.1:9001 127.0.0.1:9002)
scopes:
  - name: app
    cgroup: $APP
    rules:
      - {action: balance, service: web}
  - name: mesh
    cgroup: $MESH
    rules:
      - {action: accelerate, destination: 127.0.0.0/8, port: 9201}
CFG
}
MAPS0=$(bpftool map list | grep -c sh_maglev)
backend 1 9001; backend 2 9002; backend 11 9101; backend 12 9102
run_in "$MESH" "$NS" "$SHLOAD" backend 9201 --id 21 --bind 127.0.0.1 >"$TMP/backend.21.out" 2>&1 &
BG_PIDS+=($!)
config 1 >"$TMP/cfg.yaml"
start_proxy "$TMP/cfg.yaml"
wait_port 9201
fds0=$(daemon_fds)	# a fresh daemon with no connection

# churn CMD...: rounds of CMD until $TMP/done; one line per round:
# "START_NS END_NS OUTPUT" (OUTPUT "round failed" when CMD failed)
churn() {
	local t0 out
	while [ ! -f "$TMP/done" ]; do
		t0=$(date +%s%N)
		out=$("$@" 2>/dev/null) || out="round failed $out"
		echo "$t0 $(date +%s%N) $out"
	done
}
common=(--conns 200 --parallel 32 --up 32768 --down 32768 --random-sizes --mode random --timeout-ms 10000)
churn ip netns exec "$NS" "$SHLOAD" client 127.0.0.1 8080 "${common[@]}" --rst-every 5 >"$TMP/c.splice" &
C1=$!
churn ip netns exec "$NS" "$SHLOAD" client 127.0.0.1 8081 "${common[@]}" --rst-every 5 >"$TMP/c.relay" &
C2=$!
churn run_in "$MESH" "$NS" "$SHLOAD" client 127.0.0.1 9201 "${common[@]}" --rst-every 5 >"$TMP/c.mesh" &
C3=$!
churn run_in "$APP" "$NS" "$SHLOAD" client 10.96.0.10 80 "${common[@]}" >"$TMP/c.vip" &
C4=$!
BG_PIDS+=($C1 $C2 $C3 $C4)

: >"$TMP/samples"	# seconds life rss_kib fds splice_entries
start=$(date +%s) life=1 reloads=0 reload_failed=0 killed=0
while [ $(( $(date +%s) - start )) -lt "$SECS" ]; do
	sleep 10	# the pace of samples and reloads
	t=$(( $(date +%s) - start ))
	config $(( reloads % 2 ? 1 : 3 )) >"$TMP/cfg.yaml"
	"$SOCKHOP" --control "$CTL" reload >/dev/null 2>&1 && reloads=$((reloads + 1)) ||
		reload_failed=$((reload_failed + 1))
	echo "$t $life $(daemon_rss_kib) $(daemon_fds) $(kstat entries)" >>"$TMP/samples"
	if [ $killed = 0 ] && [ $t -ge $((SECS / 2)) ]; then
		kill_ns=$(date +%s%N)
		kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
		killed=1 life=2
		start_proxy "$TMP/cfg.yaml"
		ready_ns=$(date +%s%N)
	fi
done
touch "$TMP/done"
wait $C1 $C2 $C3 $C4
idle() { [ "$(svc sp active)" = 0 ] && [ "$(svc rl active)" = 0 ] && [ "$(kstat entries)" = 0 ]; }
wait_until 15 idle || bad "connections left after the soak: sp $(svc sp active), rl $(svc rl active), entries $(kstat entries)"
echo "$(( $(date +%s) - start )) $life $(daemon_rss_kib) $(daemon_fds) $(kstat entries)" >>"$TMP/samples"

# rounds and streams per path; a round of a proxy path that overlapped the
# daemon's absence (kill -9 to ready) is counted apart: what it lost is what
# kill -9 costs a proxied connection. The mesh and the virtual addresses
# need no daemon: their rounds must be exact across the kill too.
total=0
report_path() {
	local f=$TMP/c.$1 cut=$TMP/c.$1.cut kept=$TMP/c.$1.kept ok bad failed ncut
	awk -v k="${kill_ns:-0}" -v r="${ready_ns:-0}" -v cut="$cut" \
		'{ if ($1 <= r && $2 >= k) print > cut; else print }' "$f" >"$kept"
	ok=$(sed -n 's/^[0-9]* [0-9]* ok=\([0-9]*\).*/\1/p' "$kept" | paste -sd+ | bc)
	bad=$(sed -n 's/.* bad=\([0-9]*\).*/\1/p' "$kept" | paste -sd+ | bc)
	failed=$(grep -c 'round failed' "$kept")
	ncut=$(cat "$cut" 2>/dev/null | wc -l)
	printf '  %-8s %8s exact streams %4s bad %3s failed rounds; %s rounds overlapped the kill -9 (%s bad streams there)\n' \
		"$1" "${ok:-0}" "${bad:-0}" "$failed" "$ncut" \
		"$(sed -n 's/.* bad=\([0-9]*\).*/\1/p' "$cut" 2>/dev/null | paste -sd+ | bc)"
	[ "${bad:-0}" = 0 ] && [ "$failed" = 0 ] || bad "$1: $bad bad streams, $failed failed rounds"
	case $1 in mesh|vip)
		[ -z "$(grep 'round failed\| bad=[1-9]' "$cut" 2>/dev/null)" ] ||
			bad "$1: streams lost across the kill -9, which this path does not depend on"
	esac
	total=$((total + ${ok:-0}))
}
# slope LIFE: RSS growth in KiB per 10 minutes after warm-up (least squares)
slope() {
	awk -v life="$1" -v w=$WARMUP -v t0="$( [ "$1" = 2 ] && awk '$2 == 2 { print $1; exit }' "$TMP/samples" || echo 0)" \
		'$2 == life && $1 - t0 >= w { n++; sx += $1; sy += $3; sxx += $1 * $1; sxy += $1 * $3 }
		 END { if (n < 3) { print "n/a"; exit } d = n * sxx - sx * sx; printf "%.0f", d ? (n * sxy - sx * sy) / d * 600 : 0 }' "$TMP/samples"
}
echo "soak: ${SECS} s, a reload every 10 s ($reloads done, $reload_failed failed), one kill -9 and restart at $((SECS / 2)) s"
for p in splice relay mesh vip; do report_path $p; done
echo "  $total exact streams in all"
for life in 1 2; do
	s=$(slope $life)
	read -r fmin fmax < <(awk -v life=$life -v w=$WARMUP '$2 == life { if (!n++ || $4 < a) a = $4; if ($4 > b) b = $4 } END { print a, b }' "$TMP/samples")
	read -r rmin rmax < <(awk -v life=$life '$2 == life { if (!n++ || $3 < a) a = $3; if ($3 > b) b = $3 } END { print a, b }' "$TMP/samples")
	printf '  daemon %d: RSS %s-%s KiB, slope %s KiB per 10 min after %d s; fds %s-%s\n' \
		$life "$rmin" "$rmax" "$s" $WARMUP "$fmin" "$fmax"
	if [ "$s" = n/a ]; then	# too short a life to fit a line through
		[ "$SECS" -lt 240 ] || bad "daemon $life: fewer than 3 RSS samples after warm-up"
	else
		[ "$s" -le 1024 ] || bad "daemon $life: RSS grows $s KiB per 10 min"
	fi
done
fds_end=$(daemon_fds)
maps=$(bpftool map list | grep -c sh_maglev)
echo "  at the end, idle: fds $fds_end (a fresh daemon: $fds0), splice entries $(kstat entries), inner maps $maps (baseline $MAPS0 + 1)"
[ "$reload_failed" = 0 ] || bad "$reload_failed reloads failed"
[ "$maps" -le $((MAPS0 + 1)) ] || bad "inner maps leaked: $maps"
[ "$killed" = 1 ] || bad "the kill -9 did not happen (SOAK_SECONDS too short?)"
[ "$fds_end" = "$fds0" ] || bad "fds not back to baseline: $fds_end idle at the end, $fds0 fresh"
stop_daemon
finish
echo "soak passed"
