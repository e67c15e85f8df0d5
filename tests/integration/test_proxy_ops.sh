#!/bin/bash
# Operating the proxy: connection limits (per service, per backend), no
# usable backend, idle timeouts on both paths, graceful shutdown on
# SIGTERM, and the relay fallback when BPF is not permitted.
. "$(dirname "$0")/lib.sh"

cat >"$TMP/proxy.yaml" <<CFG
services:
  - name: lim
    listen: 127.0.0.1:8080
    limits: {connections: 3}
    backends: [127.0.0.1:9001]
  - name: pb
    listen: 127.0.0.1:8081
    limits: {per-backend: 1}
    backends: [127.0.0.1:9001, 127.0.0.1:9002]
  - name: nb
    listen: 127.0.0.1:8082
    limits: {attempts: 2}
    backends: [127.0.0.1:9998, 127.0.0.1:9999]
  - name: sp-idle
    listen: 127.0.0.1:8083
    data-path: splice
    timeouts: {idle: 1s}
    backends: [127.0.0.1:9001]
  - name: rl-idle
    listen: 127.0.0.1:8084
    data-path: relay
    timeouts: {idle: 1s}
    backends: [127.0.0.1:9001]
  - name: re-idle
    listen: 127.0.0.1:8085
    timeouts: {idle: 5m}
    backends: [127.0.0.1:9001]
CFG
backend 1 9001
backend 2 9002
start_proxy "$TMP/proxy.yaml"

hold() {	# PORT SECONDS: an idle client connection
	ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$1; sleep $2" 2>/dev/null &
	HOLDS+=($!)
}
release() { kill "${HOLDS[@]}" 2>/dev/null; wait "${HOLDS[@]}" 2>/dev/null; HOLDS=(); }
HOLDS=()

# --- per-service limit: 3 held, the 4th is reset at once and counted ----------
for _ in 1 2 3; do hold 8080 10; done
wait_until 5 svc_is lim active 3 || fail "3 held connections did not open"
t0=$(date +%s%N)
load 127.0.0.1 8080 --conns 1 --up 10 --down 10 --timeout-ms 3000
t1=$(date +%s%N)
[ "$(load_field refused)" = 1 ] || bad "4th connection over the limit was not refused: $LOAD"
[ "$(svc lim rejected_limit)" = 1 ] || bad "rejected_limit = $(svc lim rejected_limit)"
[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] || bad "refusal took $(( (t1 - t0) / 1000000 )) ms"
release
wait_until 5 svc_is lim active 0 || bad "held connections not closed"
load 127.0.0.1 8080 --conns 3 --parallel 3 --up 10 --down 10
[ "$(load_field ok)" = 3 ] || bad "after the limit cleared: $LOAD"
result "service limit: 4th of 3 allowed reset in $(( (t1 - t0) / 1000000 )) ms and counted; served again once below"

# --- per-backend limit: one each; the third finds no usable backend ------------
hold 8081 10; hold 8081 10
wait_until 5 svc_is pb active 2 || fail "2 held connections did not open"
[ "$(be pb 127.0.0.1:9001 active):$(be pb 127.0.0.1:9002 active)" = 1:1 ] || bad "per-backend spread"
load 127.0.0.1 8081 --conns 1 --up 10 --down 10 --timeout-ms 3000
[ "$(load_field refused)" = 1 ] || bad "3rd connection with both backends full: $LOAD"
[ "$(svc pb no_backend)" = 1 ] || bad "no_backend = $(svc pb no_backend)"
release
result "backend limit: with both backends at 1 of 1, the next client is reset and counted as no backend"

# --- no backend listening: bounded attempts, prompt reset -------------------------
t0=$(date +%s%N)
load 127.0.0.1 8082 --conns 1 --up 10 --down 10 --timeout-ms 3000
t1=$(date +%s%N)
[ "$(load_field refused)" = 1 ] || bad "no backend: $LOAD"
[ "$(svc nb connect_fail)" = 2 ] && [ "$(svc nb no_backend)" = 1 ] ||
	bad "no backend counters: connect_fail $(svc nb connect_fail) no_backend $(svc nb no_backend)"
result "no backend: 2 attempts (both refused), client reset in $(( (t1 - t0) / 1000000 )) ms, counted"

# --- idle timeout, both paths: an idle connection goes, a trickling one stays ------
for name in sp-idle rl-idle; do
	[ $name = sp-idle ] && port=8083 || port=8084
	hold $port 6
	ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port
		for i in \$(seq 12); do printf x >&3; sleep 0.25; done; sleep 0.5" &
	trickle=$!
	wait_until 5 svc_is $name active 2 || fail "$name: connections did not open"
	wait_until 3 svc_is $name idle_closed 1 ||
		bad "$name: idle_closed = $(svc $name idle_closed) 3 s after the idle timeout of 1 s"
	[ "$(svc $name active)" = 1 ] || bad "$name: the trickling connection was closed too"
	wait $trickle
	release
	wait_until 5 svc_is $name active 0 || bad "$name: connections left"
done
[ "$(svc sp-idle conns_splice)" = 2 ] || bad "sp-idle did not splice"
result "idle timeout 1s: the idle connection closed, the one trickling a byte every 250 ms kept, on splice and relay"

# --- a reload that shortens the idle timeout reaches connections already open ----
hold 8085 10
wait_until 5 svc_is re-idle active 1 || fail "re-idle: the connection did not open"
sed -i 's/timeouts: {idle: 5m}/timeouts: {idle: 1s}/' "$TMP/proxy.yaml"
"$SOCKHOP" --control "$CTL" reload >"$TMP/reload.out" || bad "reload: $(cat "$TMP/reload.out")"
wait_until 4 svc_is re-idle idle_closed 1 ||
	bad "re-idle: a connection open before the reload to idle 1s still open: $(svc re-idle active)"
release
result "reload idle 5m -> 1s: the connection open before it closed as idle within seconds"

# --- graceful shutdown: stop accepting, let a transfer finish, then exit ----------
stop_backend 1
backend 1 9001 --read-delay-ms 1500
ip netns exec "$NS" "$SHLOAD" client 127.0.0.1 8080 --conns 1 --up 8388608 --down 8388608 \
	>"$TMP/drain.out" 2>&1 &
lpid=$!
wait_until 5 svc_is lim active 1 || fail "transfer did not start"
kill -TERM "$DAEMON_PID"
draining() { grep -q 'draining 1 connection' "$TMP/daemon.log"; }
wait_until 3 draining || fail "SIGTERM did not start the drain: $(tail -3 "$TMP/daemon.log")"
ip netns exec "$NS" bash -c 'exec 3<>/dev/tcp/127.0.0.1/8080' 2>/dev/null &&
	bad "a new connection was accepted while draining"
kill -0 $lpid || bad "the transfer ended before the backend started reading"
kill -0 "$DAEMON_PID" || bad "the daemon left before its connection finished"
wait $lpid || { cat "$TMP/drain.out"; fail "the draining transfer failed"; }
grep -q '^ok=1 ' "$TMP/drain.out" || bad "drain: $(cat "$TMP/drain.out")"
wait "$DAEMON_PID"; rc=$?; DAEMON_PID=
[ $rc = 0 ] || fail "sockhopd exited $rc after draining"
grep -q 'every connection is closed' "$TMP/daemon.log" || bad "no drain message"
result "graceful shutdown: new clients refused at once, 2 x 8 MiB in flight finished exactly, exit 0"

# drain deadline: an idle connection is reset when the deadline passes
sed -i 's/    timeouts: {idle: 1s}/    timeouts: {idle: 1m, drain: 500ms}/' "$TMP/proxy.yaml"
start_proxy "$TMP/proxy.yaml"
hold 8083 20
wait_until 5 svc_is sp-idle active 1 || fail "held connection did not open"
t0=$(date +%s%N)
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; rc=$?; DAEMON_PID=
t1=$(date +%s%N)
[ $rc = 0 ] || bad "exit $rc after the drain deadline"
ms=$(( (t1 - t0) / 1000000 ))
[ $ms -ge 400 ] && [ $ms -lt 3000 ] || bad "drain deadline 500 ms took $ms ms"
grep -q 'sp-idle: drain deadline reached with 1 connection' "$TMP/daemon.log" || bad "no deadline message"
release
result "drain deadline: the daemon reset the last idle connection and left after $ms ms (deadline 500 ms)"

# --- no CAP_BPF: every service relays, counted as no-bpf ------------------------------
command -v setpriv >/dev/null || fail "setpriv (util-linux) is missing"
from=$(wc -l <"$TMP/daemon.log")
ip netns exec "$NS" setpriv --inh-caps=-bpf,-perfmon --bounding-set=-bpf,-perfmon \
	"$SOCKHOPD" -c "$TMP/proxy.yaml" --pin-dir "$PIN" --control "$CTL" >>"$TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
ready_since() { tail -n +$(($1 + 1)) "$TMP/daemon.log" | grep -q 'ready:'; }
wait_until 10 ready_since "$from" || fail "unprivileged daemon not ready"
load 127.0.0.1 8083 --conns 20 --up 100000 --down 100000
[ "$(load_field ok)" = 20 ] || bad "relay fallback: $LOAD"
[ "$(svc sp-idle fallback.\"no-bpf\")" = 20 ] || bad "fallback counter: $(svc sp-idle fallback)"
[ "$(kstat available)" = false ] || bad "splice reported available without CAP_BPF"
[ "$(grep -c 'relaying connections in user space (no-bpf)' "$TMP/daemon.log")" = 1 ] ||
	bad "the fallback cause was not logged exactly once"
result "no CAP_BPF: the splice service relayed 20 of 20 exactly, counted as no-bpf, logged once"
stop_daemon
stop_backend 1
stop_backend 2
finish
