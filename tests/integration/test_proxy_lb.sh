#!/bin/bash
# The four algorithms through the real daemon: weighted round-robin gives
# exact shares; least-connections and random-of-two send new clients away
# from a busy backend; Maglev keeps every client on its backend and, when
# one of four backends leaves, moves at most 1/4 + 5% of the clients.
. "$(dirname "$0")/lib.sh"

cat >"$TMP/proxy.yaml" <<CFG
services:
  - name: wrr
    listen: 127.0.0.1:8080
    algorithm: round-robin
    backends:
      - {address: 127.0.0.1:9001, weight: 1}
      - {address: 127.0.0.1:9002, weight: 2}
      - {address: 127.0.0.1:9003, weight: 3}
  - name: lc
    listen: 127.0.0.1:8081
    algorithm: least-conn
    backends: [127.0.0.1:9001, 127.0.0.1:9002]
  - name: r2
    listen: 127.0.0.1:8082
    algorithm: random-two
    backends: [127.0.0.1:9001, 127.0.0.1:9002]
  - name: mg
    listen: 127.0.0.1:8083
    algorithm: maglev
    health-check: {interval: 200ms, timeout: 100ms, rise: 1, fall: 1}
    backends: [127.0.0.1:9001, 127.0.0.1:9002, 127.0.0.1:9003, 127.0.0.1:9004]
CFG
for i in 1 2 3 4; do backend $i 900$i; done
start_proxy "$TMP/proxy.yaml"

# --- weighted round-robin: 600 connections, weights 1:2:3 -> exactly 100:200:300
load 127.0.0.1 8080 --conns 600 --up 100 --down 100
[ "$(backend_count 1):$(backend_count 2):$(backend_count 3)" = 100:200:300 ] ||
	bad "round-robin shares: $LOAD"
result "round-robin: 600 connections split exactly 100:200:300 for weights 1:2:3"

# --- least-conn and random-two: one connection held open on one backend ----------
for name in lc r2; do
	[ $name = lc ] && port=8081 || port=8082
	ip netns exec "$NS" bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; sleep 6" &
	hold=$!
	wait_until 5 svc_is $name active 1 || fail "$name: the held connection did not open"
	busy=$(services_json | jq -r --arg s $name '.services[] | select(.name == $s) | .backends[] | select(.active == 1) | .address')
	[ "${busy##*:}" = 9001 ] && idle_id=2 || idle_id=1
	# one at a time, each closed in the daemon before the next arrives
	n=0
	for _ in $(seq 20); do
		load 127.0.0.1 $port --conns 1 --up 10 --down 10
		[ "$(backend_count $idle_id)" = 1 ] && n=$((n + 1))
		wait_until 5 svc_is $name active 1 || bad "$name: short connection not closed"
	done
	[ $n = 20 ] || bad "$name: with $busy busy, only $n of 20 new clients went to the idle backend"
	kill $hold; wait $hold 2>/dev/null
	wait_until 5 svc_is $name active 0 || bad "$name: held connection not closed"
	info "$name: $busy busy -> 20 of 20 new clients to backend $idle_id"
done
load 127.0.0.1 8082 --conns 1000 --parallel 1 --up 10 --down 10
c1=$(backend_count 1); c2=$(backend_count 2)
[ $c1 -ge 300 ] && [ $c2 -ge 300 ] || bad "random-two with idle backends is lopsided: $LOAD"
result "least-conn and random-two: 20 of 20 new clients avoid the busy backend; idle split $c1:$c2"

# --- Maglev: 200 client addresses, 1000 connections -------------------------------
load 127.0.0.1 8083 --conns 1000 --parallel 4 --up 10 --down 10 --src-base 127.0.0.10 --map "$TMP/map1"
sort -u "$TMP/map1" >"$TMP/map1.u"
[ "$(wc -l <"$TMP/map1.u")" = 200 ] || bad "maglev: a client address reached more than one backend"
for i in 1 2 3 4; do
	[ "$(awk -v id=$i '$2 == id' "$TMP/map1.u" | wc -l)" -ge 20 ] || bad "maglev: backend $i got too few clients"
done
stop_backend 4
wait_until 5 be_is mg 127.0.0.1:9004 state DOWN || bad "maglev: backend 4 not marked down"
load 127.0.0.1 8083 --conns 1000 --parallel 4 --up 10 --down 10 --src-base 127.0.0.10 --map "$TMP/map2"
sort -u "$TMP/map2" >"$TMP/map2.u"
[ "$(wc -l <"$TMP/map2.u")" = 200 ] || bad "maglev: after the change a client address reached two backends"
moved=$(join "$TMP/map1.u" "$TMP/map2.u" | awk '$2 != $3' | wc -l)
on4=$(awk '$2 == 4' "$TMP/map1.u" | wc -l)
stray=$(join "$TMP/map1.u" "$TMP/map2.u" | awk '$2 != $3 && $2 != 4' | wc -l)
# at most 1/N + 5% of the 200 clients: 50 + 10
[ $moved -le 60 ] || bad "maglev: $moved of 200 clients moved when 1 of 4 backends left"
result "maglev: 200 clients stable; backend 4 leaving moved $moved of 200 ($on4 were on it, $stray others)"
stop_daemon
for i in 1 2 3; do stop_backend $i; done
finish
