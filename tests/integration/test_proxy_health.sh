#!/bin/bash
# Health under load. Two primaries live in a second namespace behind a veth
# pair, a backup on loopback. Backend 1 stops (connections refused), comes
# back; backend 2 is black-holed (its address vanishes, so SYNs go
# unanswered and connects time out), then all primaries are down (the
# backup serves), then backend 2 returns. Clients keep connecting all along
# and every one of them must complete.
. "$(dirname "$0")/lib.sh"

NS2=shns2-$ID
new_netns "$NS2"
ip link add shv0-$ID netns "$NS" type veth peer name shv1-$ID netns "$NS2" || bad "veth"
ip -n "$NS" addr add 10.77.0.1/24 dev shv0-$ID
ip -n "$NS" link set shv0-$ID up
ip -n "$NS2" addr add 10.77.0.2/24 dev shv1-$ID
ip -n "$NS2" addr add 10.77.0.3/24 dev shv1-$ID
ip -n "$NS2" link set shv1-$ID up
# a black hole needs a known neighbour: SYNs leave, nothing answers
mac=$(ip -n "$NS2" -br link show shv1-$ID | awk '{ print $3 }')
ip -n "$NS" neigh replace 10.77.0.3 lladdr "$mac" dev shv0-$ID nud permanent

remote_backend() {	# ID ADDR PORT
	ip netns exec "$NS2" "$SHLOAD" backend "$3" --id "$1" --bind "$2" >"$TMP/backend.$1.out" 2>&1 &
	BG_PIDS+=($!)
	eval "BACKEND_PID_$1=$!"
	for _ in $(seq 100); do
		ip netns exec "$NS2" ss -Hltn "sport = :$3" | grep -q . && return 0
		sleep 0.05
	done
	fail "backend $1 did not start"
}

cat >"$TMP/proxy.yaml" <<CFG
services:
  - name: web
    listen: 127.0.0.1:8080
    health-check: {interval: 200ms, timeout: 150ms, rise: 2, fall: 2}
    timeouts: {connect: 300ms}
    limits: {attempts: 3}
    backends:
      - 10.77.0.2:9001
      - 10.77.0.3:9002
      - {address: 127.0.0.1:9003, backup: true}
CFG
remote_backend 1 10.77.0.2 9001
remote_backend 2 10.77.0.3 9002
backend 3 9003
start_proxy "$TMP/proxy.yaml"

# background load: N connections, all must complete
bg_load() {	# CONNS: start a load, return once it is under way
	local a0; a0=$(svc web accepted)
	ip netns exec "$NS" "$SHLOAD" client 127.0.0.1 8080 --conns "$1" --parallel 2 --up 2000 \
		--down 2000 >"$TMP/bg.out" 2>&1 &
	BG_LOAD=$!
	wait_until 5 accepted_more_than "$((a0 + 20))" || fail "the background load did not start"
}
accepted_more_than() { [ "$(svc web accepted)" -gt "$1" ]; }
# The (at most 2, the load's parallelism) connections already running on a
# backend at the instant it dies die with it; every other client completes.
bg_check() {	# WHAT
	wait $BG_LOAD
	LOAD=$(grep '^ok=' "$TMP/bg.out")
	[ $(( $(load_field bad) + $(load_field refused) )) -le 2 ] ||
		{ cat "$TMP/bg.out"; fail "$1: clients failed beyond those in flight on the dying backend"; }
}

load 127.0.0.1 8080 --conns 200 --up 1000 --down 1000
[ "$(backend_count 1):$(backend_count 2):$(backend_count 3)" = 100:100:0 ] || bad "start: $LOAD"

# 1. backend 1 refuses
bg_load 3000
stop_backend 1
t0=$(date +%s.%N)
wait_until 5 be_is web 10.77.0.2:9001 state DOWN || bad "refusing backend not marked down"
t1=$(date +%s.%N)
bg_check "backend 1 refusing"
BG=$LOAD
info "refusing backend DOWN after $(echo "$t1 - $t0" | bc) s; load: $BG"
load 127.0.0.1 8080 --conns 100 --up 100 --down 100
[ "$(backend_count 2)" = 100 ] || bad "after backend 1 went down: $LOAD"
result "refused: backend 1 marked DOWN under load ($(echo "$BG" | cut -d' ' -f1-4)), then 100 of 100 new clients to backend 2"

# back up
remote_backend 1 10.77.0.2 9001
wait_until 5 be_is web 10.77.0.2:9001 state UP || bad "backend 1 did not come back"

# 2. backend 2 black-holed
bg_load 1000
ip -n "$NS2" addr del 10.77.0.3/24 dev shv1-$ID
# the backend's connections open when its address vanished (any state but
# listening): only these may end bad on its side; none can open after
cut_off=$(ip netns exec "$NS2" ss -Htn state established state syn-recv state fin-wait-1 \
	state fin-wait-2 state close-wait state last-ack state closing "sport = :9002" | wc -l)
wait_until 5 be_is web 10.77.0.3:9002 state DOWN || bad "black-holed backend not marked down"
bg_check "backend 2 black-holed"
BG=$LOAD
[ "$(svc web connect_fail)" -gt 0 ] || bad "no connect failure was counted"
load 127.0.0.1 8080 --conns 100 --up 100 --down 100
[ "$(backend_count 1)" = 100 ] || bad "after backend 2 was black-holed: $LOAD"
result "black-holed: backend 2 marked DOWN by timed-out connects ($(echo "$BG" | cut -d' ' -f1-4)), then 100 of 100 new clients to backend 1; $cut_off of its connections were open when its address vanished"

# 3. every primary down: the backup serves
stop_backend 1
wait_until 5 be_is web 10.77.0.2:9001 state DOWN || bad "backend 1 not marked down"
load 127.0.0.1 8080 --conns 100 --up 100 --down 100
[ "$(backend_count 3)" = 100 ] || bad "with every primary down: $LOAD"
result "backup: with both primaries down, 100 of 100 clients went to the backup"

# 4. backend 2 returns: primaries again, the backup idles
ip -n "$NS2" addr add 10.77.0.3/24 dev shv1-$ID
wait_until 5 be_is web 10.77.0.3:9002 state UP || bad "backend 2 did not come back"
load 127.0.0.1 8080 --conns 100 --up 100 --down 100
[ "$(backend_count 2)" = 100 ] || bad "after backend 2 came back: $LOAD"
result "recovery: backend 2 UP again after rise=2 checks; new clients leave the backup"
info "transitions: $(services_json | jq -c '[.services[0].backends[] | {address, state, transitions, check_fail, connect_fail}]')"
stop_daemon
# the streams in flight on backend 2 when its address vanished (their final
# segments lost in the black hole) timed out on its side too
stop_backend 2 "$cut_off"
stop_backend 3
finish
