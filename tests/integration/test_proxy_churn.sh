#!/bin/bash
# CHURN_CONNS (default 20000) connections per path, 256 at once, random
# sizes (so random lifetimes) and a random close side (client first,
# backend first, or both at once), every fifth one aborted by the client
# with an RST: completed streams lose nothing, the reset ones reach the
# backend as resets, none is stuck, and the daemon's fds and map entries
# return to their baseline. The same for accelerated pairs (every socket
# inserted, sock_hash empty again). The kernel log gains no warning.
. "$(dirname "$0")/lib.sh"

N=${CHURN_CONNS:-20000}
OK=$((N * 4 / 5)) RST=$((N / 5))
cat >"$TMP/proxy.yaml" <<CFG
scopes:
  - name: mesh
    cgroup: $TEST_CG/mesh
    rules:
      - {action: accelerate, destination: 127.0.0.0/8, port: 9101}
services:
$(two_paths_yaml 127.0.0.1:9001 127.0.0.1:9002)
CFG
# kernel_warnings: lines of the kernel log that say something went wrong
kernel_warnings() {
	dmesg 2>/dev/null | grep -c 'WARNING:\|BUG:\|refcount_t\|general protection\|skmsg\|sockmap\|tcp_bpf'
}
kw0=$(kernel_warnings)
backend 1 9001
backend 2 9002
start_proxy "$TMP/proxy.yaml"
fds0=$(daemon_fds)
rss0=$(daemon_rss_kib)

idle() { [ "$(svc sp active)" = 0 ] && [ "$(svc rl active)" = 0 ]; }
for path in splice relay; do
	[ $path = splice ] && { name=sp; port=8080; } || { name=rl; port=8081; }
	start=$(date +%s.%N)
	# --timeout-ms: a connection without progress for 5 s is stuck, and bad
	load 127.0.0.1 $port --conns "$N" --parallel 256 --up 65536 --down 65536 --random-sizes \
		--mode random --rst-every 5 --timeout-ms 5000
	secs=$(echo "$(date +%s.%N) - $start" | bc); secs=${secs%.*}
	[ "$(load_field ok)" = $OK ] && [ "$(load_field reset)" = $RST ] && [ "$(load_field bad)" = 0 ] ||
		bad "$path churn: $LOAD"
	wait_until 10 idle || bad "$path: connections still open after churn"
	[ "$(svc $name resets)" -ge $RST ] || bad "$path: only $(svc $name resets) resets passed on"
	info "$path: $LOAD; resets passed on: $(svc $name resets)"
	result "$path: $N connections in ${secs:-0} s (256 at once, every fifth reset): $OK exact streams, 0 stuck, $(svc $name resets) resets passed on; $(grep -o 'conn_us p50=[0-9.]* p99=[0-9.]*' "$TMP/load.err")"
done
[ "$(kstat entries)" = 0 ] || bad "splice map entries left: $(kstat entries)"
[ "$(svc sp conns_splice)" = "$N" ] || bad "splice connections: $(svc sp conns_splice)"
[ "$(svc rl conns_relay)" = "$N" ] || bad "relay connections: $(svc rl conns_relay)"
fds=$(daemon_fds); rss=$(daemon_rss_kib)
[ "$fds" = "$fds0" ] || bad "daemon fds: $fds0 before, $fds after"
stop_backend 1
stop_backend 2
resets=$(cat "$TMP"/backend.*.out | sed -n 's/.*reset=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }')
oks=$(cat "$TMP"/backend.*.out | sed -n 's/.* ok=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }')
[ "$oks" = $((2 * OK)) ] || bad "backends completed $oks streams, expected $((2 * OK))"
[ "$resets" = $((2 * RST)) ] || bad "backends saw $resets resets, expected $((2 * RST))"
result "proxy churn: 2 x $N connections, $oks exact streams at the backends, $resets RSTs passed on; fds $fds0 -> $fds, splice entries 0, RSS ${rss0} -> ${rss} KiB"

info "accelerated pairs: client and backend in the scope, no proxy"
run_in "$TEST_CG/mesh" "$NS" "$SHLOAD" backend 9101 --id 7 --bind 127.0.0.1 >"$TMP/backend.7.out" 2>&1 &
BG_PIDS+=($!)
wait_port 9101
LOAD=$(run_in "$TEST_CG/mesh" "$NS" "$SHLOAD" client 127.0.0.1 9101 --conns "$N" --parallel 256 \
	--up 65536 --down 65536 --random-sizes --mode random --rst-every 5 --timeout-ms 5000 2>"$TMP/load.err")
[ "$(load_field ok)" = $OK ] && [ "$(load_field reset)" = $RST ] && [ "$(load_field bad)" = 0 ] ||
	bad "accelerated churn: $LOAD"
ins=$(stat mesh inserts) red=$(stat mesh bytes_redirected)
# every socket of a completed pair is inserted; a pair the client reset may
# end before one of its sockets reached the map (seen once in 40000 under
# ASan, every stream exact; which socket it was is not known)
[ "$ins" -le $((2 * N)) ] && [ "$ins" -ge $((2 * N - RST)) ] && [ "$(stat mesh insert_fail)" = 0 ] ||
	bad "$ins sockets inserted ($(stat mesh insert_fail) failed: $("$SOCKHOP" --pin-dir "$PIN" stats -j |
		jq -c '[.. | objects | select(has("insert_errno")) | .insert_errno]')), expected $((2 * N)) less at most $RST reset ones"
wait_until 10 no_accel_sockets || bad "accelerated sockets left: $(nsenter --net="/run/netns/$NS" "$SOCKHOP" --pin-dir "$PIN" sockets)"
kw=$(kernel_warnings)
[ "$kw" = "$kw0" ] || bad "the kernel log gained $((kw - kw0)) warning lines: $(dmesg | tail -5)"
result "accelerated churn: $N pairs (every fifth reset): $OK exact, $ins of $((2 * N)) sockets inserted, $red bytes redirected, the socket map empty again; kernel log clean"
stop_daemon
finish
