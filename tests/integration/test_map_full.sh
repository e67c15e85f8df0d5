#!/usr/bin/env bash
# Full socket maps (sockhopd --socket-map-size 16): exactly the pairs that
# fit take the kernel path, the rest fall back, counted (spliced pairs past
# the map are relayed as map-refused; accelerated sockets past it stay on
# TCP, counted E2BIG), every byte checked on every connection; once the
# connections close, their slots serve new ones.
. "$(dirname "$0")/lib.sh"

SLOTS=16 CONNS=40
cat >"$TMP/cfg.yaml" <<CFG
scopes:
  - name: mesh
    cgroup: $TEST_CG/mesh
    accelerate-buffer: 64MiB
    rules:
      - {action: accelerate, destination: 127.0.0.0/8, port: 9201}
services:
  - name: sp
    listen: 127.0.0.1:8080
    data-path: splice
    backends: [127.0.0.1:9001]
CFG
# The backend reads nothing for 2 s: every connection of a batch is open at once.
backend 1 9001 --read-delay-ms 2000
start_proxy "$TMP/cfg.yaml" --socket-map-size $SLOTS

info "splice: $CONNS connections at once, room for $((SLOTS / 2)) pairs"
load 127.0.0.1 8080 --conns $CONNS --parallel $CONNS --up 262144 --down 262144 --timeout-ms 20000
[ "$(load_field ok)" = $CONNS ] && [ "$(load_field bad)" = 0 ] || bad "full splice map: $LOAD"
sp=$(svc sp conns_splice) rl=$(svc sp conns_relay) refused=$(svc sp fallback.\"map-refused\")
[ "$sp" = $((SLOTS / 2)) ] || bad "$sp connections spliced, expected $((SLOTS / 2)) (the map's room)"
[ "$rl" = $((CONNS - SLOTS / 2)) ] && [ "$refused" = "$rl" ] ||
	bad "$rl relayed, $refused counted map-refused; expected $((CONNS - SLOTS / 2)) each"
idle() { [ "$(svc sp active)" = 0 ] && [ "$(kstat entries)" = 0 ]; }
wait_until 10 idle || bad "after the batch: $(svc sp active) active, $(kstat entries) map entries"
load 127.0.0.1 8080 --conns $((SLOTS / 2)) --parallel $((SLOTS / 2)) --up 65536 --down 65536
sp2=$(svc sp conns_splice)
[ "$(load_field ok)" = $((SLOTS / 2)) ] && [ $((sp2 - sp)) = $((SLOTS / 2)) ] ||
	bad "slots not reused: $LOAD, spliced $((sp2 - sp)) of $((SLOTS / 2))"
result "splice map of $SLOTS sockets: $CONNS at once, $sp spliced, $rl relayed (map-refused $refused), every byte checked; freed slots spliced $((sp2 - sp)) of the next $((SLOTS / 2))"

info "accelerated: $((CONNS / 2)) pairs at once, room for $SLOTS sockets"
run_in "$TEST_CG/mesh" "$NS" "$SHLOAD" backend 9201 --id 2 --bind 127.0.0.1 --read-delay-ms 2000 \
	>"$TMP/backend.2.out" 2>&1 &
BG_PIDS+=($!)
wait_port 9201
LOAD=$(run_in "$TEST_CG/mesh" "$NS" "$SHLOAD" client 127.0.0.1 9201 --conns $((CONNS / 2)) \
	--parallel $((CONNS / 2)) --up 262144 --down 262144 --timeout-ms 20000 2>"$TMP/load.err")
[ "$(load_field ok)" = $((CONNS / 2)) ] && [ "$(load_field bad)" = 0 ] || bad "full sock_hash: $LOAD"
ins=$(stat mesh inserts) e2big=$("$SOCKHOP" --pin-dir "$PIN" stats -j | jq '[.. | objects | .E2BIG? // empty] | add // 0')
[ "$ins" = $SLOTS ] || bad "$ins sockets inserted, expected $SLOTS (the map's room)"
[ "$e2big" = $((CONNS - SLOTS)) ] || bad "$e2big inserts refused E2BIG, expected $((CONNS - SLOTS))"
red=$(stat mesh bytes_redirected) tcp=$(stat mesh bytes_no_peer)
wait_until 10 no_accel_sockets || bad "$(accel_sockets) sockets left in the map"
LOAD=$(run_in "$TEST_CG/mesh" "$NS" "$SHLOAD" client 127.0.0.1 9201 --conns $((SLOTS / 2)) \
	--parallel $((SLOTS / 2)) --up 65536 --down 65536 2>"$TMP/load.err")
ins2=$(stat mesh inserts)
[ "$(load_field ok)" = $((SLOTS / 2)) ] && [ $((ins2 - ins)) = $SLOTS ] ||
	bad "slots not reused: $LOAD, $((ins2 - ins)) of $SLOTS sockets inserted"
result "sock_hash of $SLOTS sockets: $CONNS sockets at once, $ins inserted, $e2big refused E2BIG and left to TCP, every byte checked ($red redirected, $tcp passed to TCP with no peer in the map); freed slots took $((ins2 - ins)) of the next $SLOTS"
stop_daemon
finish
