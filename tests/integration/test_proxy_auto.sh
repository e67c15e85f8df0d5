#!/usr/bin/env bash
# data-path auto chooses per connection from where the daemon and the client
# run: a daemon pinned to one CPU (taskset -c 1, as launched) splices the
# clients that run on another CPU and relays those on its own; re-pinned
# while running (taskset -p) it follows; unpinned it splices every one.
# Counted per path and cause; every byte checked.
. "$(dirname "$0")/lib.sh"
[ "$(nproc)" -ge 2 ] || fail "needs 2 CPUs"

cat >"$TMP/proxy.yaml" <<CFG
services:
  - name: au
    listen: 127.0.0.1:8080
    backends: [127.0.0.1:9001]
CFG
backend 1 9001
# pinned_proxy CPU: sockhopd launched the way a dedicated-core deployment
# launches it, under taskset
pinned_proxy() {
	nsenter --net="/run/netns/$NS" taskset -c "$1" "$SOCKHOPD" -c "$TMP/proxy.yaml" --pin-dir "$PIN" \
		--control "$CTL" >>"$TMP/daemon.log" 2>&1 &
	DAEMON_PID=$!
	ready() { grep -q 'ready:' "$TMP/daemon.log"; }
	wait_until 10 ready || fail "sockhopd under taskset did not start: $(cat "$TMP/daemon.log")"
}
# batch CPU: 20 verified connections from a client on CPU; prints "spliced relayed"
batch() {
	local sp0 rl0
	sp0=$(svc au conns_splice) rl0=$(svc au conns_relay)
	LOAD=$(ip netns exec "$NS" taskset -c "$1" "$SHLOAD" client 127.0.0.1 8080 --conns 20 \
		--parallel 2 --up 65536 --down 65536 2>"$TMP/load.err")
	[ "$(load_field ok)" = 20 ] && [ "$(load_field bad)" = 0 ] || bad "client on CPU $1: $LOAD"
	echo "$(( $(svc au conns_splice) - sp0 )) $(( $(svc au conns_relay) - rl0 ))"
}

pinned_proxy 1
[ "$(svc au data_path)" = auto ] || bad "data path shown as $(svc au data_path)"
read -r sp rl <<<"$(batch 0)"
[ "$sp" = 20 ] && [ "$rl" = 0 ] || bad "daemon on CPU 1, client on CPU 0: $sp spliced, $rl relayed"
read -r sp2 rl2 <<<"$(batch 1)"
[ "$sp2" = 0 ] && [ "$rl2" = 20 ] || bad "daemon on CPU 1, client on CPU 1: $sp2 spliced, $rl2 relayed"
[ "$(svc au fallback.auto)" = 20 ] || bad "relayed by auto counted $(svc au fallback.auto)"
result "daemon launched with taskset -c 1: a client on CPU 0 spliced $sp of 20, a client on CPU 1 relayed $rl2 of 20 (counted auto), every byte checked"

taskset -p -c 0 "$DAEMON_PID" >/dev/null || bad "taskset -p"
read -r sp rl <<<"$(batch 0)"
read -r sp2 rl2 <<<"$(batch 1)"
[ "$sp" = 0 ] && [ "$rl" = 20 ] && [ "$sp2" = 20 ] && [ "$rl2" = 0 ] ||
	bad "re-pinned to CPU 0: client on 0 $sp/$rl, client on 1 $sp2/$rl2 (spliced/relayed)"
taskset -p -c 0,1 "$DAEMON_PID" >/dev/null || bad "taskset -p"
read -r sp3 rl3 <<<"$(batch 0)"
read -r sp4 rl4 <<<"$(batch 1)"
[ "$sp3" = 20 ] && [ "$sp4" = 20 ] || bad "unpinned: client on 0 spliced $sp3, client on 1 spliced $sp4"
result "re-pinned while running to CPU 0: the client on CPU 0 relayed $rl, on CPU 1 spliced $sp2; unpinned: $sp3 and $sp4 of 20 spliced"
stop_daemon
finish
