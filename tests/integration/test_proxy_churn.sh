#!/bin/bash
# 2000 short connections per path with a random close side (client first,
# backend first, or both at once), every fifth one aborted by the client
# with an RST: completed streams lose nothing, the reset ones reach the
# backend as resets, and the daemon's fds and map entries return to their
# baseline.
. "$(dirname "$0")/lib.sh"

cat >"$TMP/proxy.yaml" <<CFG
services:
  - name: sp
    listen: 127.0.0.1:8080
    data-path: splice
    backends: [127.0.0.1:9001, 127.0.0.1:9002]
  - name: rl
    listen: 127.0.0.1:8081
    data-path: relay
    backends: [127.0.0.1:9001, 127.0.0.1:9002]
CFG
backend 1 9001
backend 2 9002
start_proxy "$TMP/proxy.yaml"
fds0=$(daemon_fds)
rss0=$(daemon_rss_kib)

idle() { [ "$(svc sp active)" = 0 ] && [ "$(svc rl active)" = 0 ]; }
for path in splice relay; do
	[ $path = splice ] && { name=sp; port=8080; } || { name=rl; port=8081; }
	load 127.0.0.1 $port --conns 2000 --parallel 8 --up 65536 --down 65536 --random-sizes \
		--mode random --rst-every 5
	[ "$(load_field ok)" = 1600 ] && [ "$(load_field reset)" = 400 ] && [ "$(load_field bad)" = 0 ] ||
		bad "$path churn: $LOAD"
	wait_until 10 idle || bad "$path: connections still open after churn"
	[ "$(svc $name resets)" -ge 400 ] || bad "$path: only $(svc $name resets) resets passed on"
	info "$path: $LOAD; resets passed on: $(svc $name resets)"
done
[ "$(kstat entries)" = 0 ] || bad "splice map entries left: $(kstat entries)"
[ "$(svc sp conns_splice)" = 2000 ] || bad "splice connections: $(svc sp conns_splice)"
[ "$(svc rl conns_relay)" = 2000 ] || bad "relay connections: $(svc rl conns_relay)"
fds=$(daemon_fds); rss=$(daemon_rss_kib)
[ "$fds" = "$fds0" ] || bad "daemon fds: $fds0 before, $fds after"
stop_backend 1
stop_backend 2
resets=$(cat "$TMP"/backend.*.out | sed -n 's/.*reset=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }')
oks=$(cat "$TMP"/backend.*.out | sed -n 's/.* ok=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }')
[ "$oks" = 3200 ] || bad "backends completed $oks streams, expected 3200"
[ "$resets" = 800 ] || bad "backends saw $resets resets, expected 800"
result "churn: 2 x 2000 connections, 3200 exact streams, 800 RSTs passed on; fds $fds0 -> $fds, splice entries 0, RSS ${rss0} -> ${rss} KiB"
stop_daemon
finish
