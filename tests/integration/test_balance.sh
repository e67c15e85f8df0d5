#!/usr/bin/env bash
# Connect-time load balancing: processes in a scope connect (TCP, IPv4 and
# IPv6) or send (UDP) to virtual addresses that exist nowhere and reach
# backends chosen inside connect()/sendmsg(). Proves the distribution
# (chi-square against the table's slot shares, kernel counters equal to
# what the backends saw), what applications see (getpeername, recvfrom),
# that other cgroups are untouched, ECONNREFUSED without backends, health
# changes, 1000 atomic table swaps under load, Maglev's minimal disruption,
# and paced termination of a removed backend's connections.
. "$(dirname "$0")/lib.sh"

APP=$TEST_CG/app OTHER=$TEST_CG/other OUTSIDE=$TEST_CG/outside MESH=$TEST_CG/mesh
mkdir -p "$APP" "$OTHER" "$OUTSIDE" "$MESH"
cat >"$TMP/cfg.yaml" <<CFG
services:
  - name: web
    virtual: 10.96.0.10:80
    backends:
      - {address: 127.0.0.1:9101, weight: 1}
      - {address: 127.0.0.1:9102, weight: 2}
      - {address: 127.0.0.1:9103, weight: 3}
    health-check: {interval: 100ms, timeout: 50ms, rise: 2, fall: 2}
  - name: web6
    virtual: "[fd00::10]:80"
    backends: ["[::1]:9111", "[::1]:9112"]
  - name: dns
    virtual: 10.96.0.53:53
    virtual-protocol: udp
    backends: [127.0.0.1:9201, 127.0.0.1:9202]
  - name: meshed
    virtual: 10.96.0.70:80
    backends: [127.0.0.1:9107]
  - name: gone
    virtual: 10.96.0.30:80
    backends: [127.0.0.1:9301]
    health-check: {interval: 100ms, timeout: 50ms, rise: 2, fall: 1}
  - name: dead
    virtual: 10.96.0.31:80
    backends: [127.0.0.1:9302]
scopes:
  - name: app
    cgroup: $APP
    rules:
      - {action: balance, service: web}
      - {action: balance, service: web6}
      - {action: balance, service: dns}
      - {action: balance, service: gone}
      - {action: balance, service: dead}
  - name: mesh
    cgroup: $MESH
    rules:
      - {action: balance, service: meshed}
      - {action: accelerate, destination: 127.0.0.0/8}
  - name: other
    cgroup: $OTHER
    rules:
      - {action: accelerate, destination: 127.0.0.0/8}
CFG
backend 1 9101; backend 2 9102; backend 3 9103
backend 11 9111 --bind ::1; backend 12 9112 --bind ::1
for id in 1 2; do
	ip netns exec "$NS" "$SHLOAD" udp-backend 920$id --id 2$id --bind 127.0.0.1 >/dev/null 2>&1 &
	BG_PIDS+=($!)
done
MAPS0=$(bpftool map list | grep -c sh_maglev)
start_proxy "$TMP/cfg.yaml"

app_load() { LOAD=$(run_in "$APP" "$NS" "$SHLOAD" client "$@" 2>"$TMP/load.err") ||
	{ cat "$TMP/load.err"; fail "client in scope app: $LOAD"; }; }
vip() { services_json | jq -r --arg s "$1" ".services[] | select(.name == \$s) | .vip.$2"; }
slots() { be web "$1" slots; }

info "distribution over 3000 connects (weights 1:2:3)"
app_load 10.96.0.10 80 --conns 3000 --parallel 4 --up 64 --down 64
[ "$(load_field ok)" = 3000 ] || bad "3000 connects: $LOAD"
chi=0
for i in 1 2 3; do
	obs=$(backend_count $i) s=$(slots 127.0.0.1:910$i)
	kb=$(be web 127.0.0.1:910$i vip_balanced) ke=$(be web 127.0.0.1:910$i vip_established)
	[ "$kb" = "$obs" ] && [ "$ke" = "$obs" ] ||
		bad "backend $i served $obs but the kernel counted $kb balanced, $ke established"
	chi=$(echo "$chi + ($obs - 3000 * $s / 16381)^2 / (3000 * $s / 16381)" | bc -l)
done
echo "$chi < 13.82" | bc -l | grep -q 1 || bad "chi-square $chi over 2 dof (p < 0.001): $LOAD"
[ "$(vip web balanced)" = 3000 ] || bad "service counter: $(vip web balanced) balanced"
out=$("$SOCKHOP" --control "$CTL" explain web) && grep -q "^service web: virtual only: the kernel balances" <<<"$out" ||
	bad "explain of a virtual-only service: $out"
result "3000 connects: $(echo "$LOAD" | sed 's/.*backends=//') for slots $(slots 127.0.0.1:9101)/$(slots 127.0.0.1:9102)/$(slots 127.0.0.1:9103), chi-square $(printf %.2f "$chi"), getpeername() = VIP on every one"

info "outside the scope, and a scope without a balance rule"
LOAD=$(run_in "$OUTSIDE" "$NS" "$SHLOAD" client 10.96.0.10 80 --conns 20 2>/dev/null)
[ "$(load_field refused)" = 20 ] || bad "a process outside every scope was balanced: $LOAD"
LOAD=$(run_in "$OTHER" "$NS" "$SHLOAD" client 10.96.0.10 80 --conns 20 2>/dev/null)
[ "$(load_field refused)" = 20 ] || bad "scope 'other' has no balance rule but got through: $LOAD"
[ "$(vip web balanced)" = 3000 ] && [ "$(vip web not_allowed)" = 20 ] ||
	bad "balanced $(vip web balanced), not allowed $(vip web not_allowed)"
result "outside: 20 of 20 unbalanced (no route to the VIP); scope without rule: 20 counted not allowed"

info "IPv6 and UDP"
app_load fd00::10 80 --conns 200 --parallel 2 --up 100 --down 100
[ "$(load_field ok)" = 200 ] && [ "$(backend_count 11)" -gt 0 ] && [ "$(backend_count 12)" -gt 0 ] ||
	bad "IPv6 VIP: $LOAD"
v6=$LOAD
LOAD=$(run_in "$APP" "$NS" "$SHLOAD" udp-client 10.96.0.53 53 --conns 200 2>"$TMP/load.err") ||
	{ cat "$TMP/load.err"; fail "UDP: $LOAD"; }
[ "$(load_field ok)" = 200 ] && [ "$(backend_count 21)" -gt 0 ] && [ "$(backend_count 22)" -gt 0 ] ||
	bad "UDP VIP: $LOAD"
result "IPv6 [fd00::10]:80: $(echo "$v6" | sed 's/.*backends=//'); UDP 200 datagrams: $(echo "$LOAD" | sed 's/.*backends=//'), every answer from 10.96.0.53:53"

info "no healthy backend: ECONNREFUSED at once"
wait_until 5 be_is gone 127.0.0.1:9301 state DOWN || bad "the dead backend is not marked down"
t0=$(date +%s%N)
LOAD=$(run_in "$APP" "$NS" "$SHLOAD" client 10.96.0.30 80 --conns 50 2>/dev/null)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(load_field econnrefused)" = 50 ] || bad "expected 50 ECONNREFUSED: $LOAD"
[ "$(vip gone no_backend)" = 50 ] && [ "$(vip gone balanced)" = 0 ] ||
	bad "no_backend $(vip gone no_backend), balanced $(vip gone balanced)"
result "50 connects refused with ECONNREFUSED in $ms ms (counted no_backend 50)"

info "a backend that refuses: each connect is balanced, then counted failed"
LOAD=$(run_in "$APP" "$NS" "$SHLOAD" client 10.96.0.31 80 --conns 20 2>/dev/null)
[ "$(load_field refused)" = 20 ] || bad "expected 20 refused connects: $LOAD"
[ "$(be dead 127.0.0.1:9302 vip_balanced)" = 20 ] && [ "$(be dead 127.0.0.1:9302 vip_failed)" = 20 ] &&
	[ "$(be dead 127.0.0.1:9302 vip_established)" = 0 ] ||
	bad "dead backend: balanced $(be dead 127.0.0.1:9302 vip_balanced), failed $(be dead 127.0.0.1:9302 vip_failed)"
result "a backend with nothing listening (no health check): 20 connects balanced to it, 20 counted failed by sockops, 0 established"

info "health: a backend that stops listening leaves the table, and comes back"
stop_backend 3
t0=$(date +%s%N)
wait_until 3 be_is web 127.0.0.1:9103 slots 0 || bad "backend 3 still has slots after 3 s"
down_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
app_load 10.96.0.10 80 --conns 300 --parallel 2
[ "$(load_field ok)" = 300 ] && [ "$(backend_count 3)" = 0 ] || bad "with backend 3 down: $LOAD"
backend 3 9103
has_slots() { [ "$(be web "$1" slots)" -gt 0 ]; }	# a function: evaluated on every poll
wait_until 3 has_slots 127.0.0.1:9103 || bad "backend 3 did not come back"
app_load 10.96.0.10 80 --conns 300 --parallel 2
[ "$(load_field ok)" = 300 ] && [ "$(backend_count 3)" -gt 0 ] || bad "after recovery: $LOAD"
result "down in $down_ms ms (fall 2 x 100 ms), 300 connects all on 1 and 2; back up, it takes connections again"

info "1000 table swaps under a steady connect load"
swaps0=$(vip web swaps) balanced0=$(vip web balanced)
# rounds of 200 connects, back to back, until the swaps are done
(
	while [ ! -f "$TMP/swaps-done" ]; do
		run_in "$APP" "$NS" "$SHLOAD" client 10.96.0.10 80 --conns 200 --parallel 4 2>>"$TMP/swapload.err"
	done
) >"$TMP/swapload" &
lp=$!
balanced_more_than() { [ "$(vip web balanced)" -gt "$1" ]; }
wait_until 5 balanced_more_than $((balanced0 + 10)) || fail "the connect load did not start"
for i in $(seq 1000); do
	"$SOCKHOP" --control "$CTL" weight web 127.0.0.1:9101 $(( i % 2 ? 5 : 1 )) >/dev/null ||
		bad "weight change $i failed"
done
touch "$TMP/swaps-done"
wait $lp
sum() { sed -n "s/.*\b$1=\([0-9]*\).*/\1/p" "$TMP/swapload" | paste -sd+ | bc; }
rounds=$(wc -l <"$TMP/swapload") ok=$(sum ok) bad=$(sum bad) refused=$(sum refused)
[ "$rounds" -ge 2 ] || bad "the load did not overlap the swaps ($rounds rounds)"
[ "$ok" = $((rounds * 200)) ] && [ "$bad" = 0 ] && [ "$refused" = 0 ] ||
	{ cat "$TMP/swapload.err"; fail "during swaps: $ok ok of $((rounds * 200)), $bad bad, $refused refused"; }
[ $(( $(vip web swaps) - swaps0 )) -ge 1000 ] || bad "only $(( $(vip web swaps) - swaps0 )) swaps"
nvip=$(services_json | jq '[.services[] | select(.virtual | length > 0)] | length')
inner_maps_at_most() { [ "$(bpftool map list | grep -c sh_maglev)" -le "$1" ]; }
wait_until 10 inner_maps_at_most $((MAPS0 + nvip)) ||
	bad "inner maps leaked: $(bpftool map list | grep -c sh_maglev) sh_maglev maps, $MAPS0 + $nvip expected"
result "1000 swaps under $rounds back-to-back rounds of 200 connects: $ok ok, 0 refused, 0 bad; inner maps back to one per virtual service"

info "reload with a changed weight: one rebuild and swap, the file's weight wins"
swaps0=$(vip web swaps)
sed -i 's/{address: 127.0.0.1:9101, weight: 1}/{address: 127.0.0.1:9101, weight: 4}/' "$TMP/cfg.yaml"
"$SOCKHOP" --control "$CTL" reload >"$TMP/reload.out" || bad "reload: $(cat "$TMP/reload.out")"
s1=$(slots 127.0.0.1:9101)
# weights 4:2:3 give backend 1 4/9 of 16381 slots
[ "$s1" -ge 6916 ] && [ "$s1" -le 7644 ] || bad "after the reload backend 1 holds $s1 slots, not ~7280"
[ $(( $(vip web swaps) - swaps0 )) = 1 ] || bad "$(( $(vip web swaps) - swaps0 )) swaps for one reload"
app_load 10.96.0.10 80 --conns 300 --parallel 4
[ "$(load_field ok)" = 300 ] || bad "after the reload: $LOAD"
sed -i 's/{address: 127.0.0.1:9101, weight: 4}/{address: 127.0.0.1:9101, weight: 1}/' "$TMP/cfg.yaml"
"$SOCKHOP" --control "$CTL" reload >/dev/null || bad "reload back"
result "reload: weight 1 -> 4 in the file gave backend 1 $s1 of 16381 slots (4/9 = 7280) in one swap; 300 connects after it all ok"

info "Maglev: removing one of 3 backends, with kill"
"$SOCKHOP" --control "$CTL" weight web 127.0.0.1:9101 1 >/dev/null
"$SOCKHOP" --control "$CTL" table web >"$TMP/before"
# 30 connections held open from the scope (bash connects through connect())
run_in "$APP" "$NS" bash -c 'for i in $(seq 30); do exec {fd}<>/dev/tcp/10.96.0.10/80; done; sleep 30' &
BG_PIDS+=($!)
# the daemon's health checks connect to the same backends every 100 ms: not counted
held() { ip netns exec "$NS" ss -Htnp state established "dport = :$1" | grep -vc '"sockhopd"'; }
all_held() { [ $(( $(held 9101) + $(held 9102) + $(held 9103) )) = 30 ]; }
wait_until 5 all_held || bad "30 connections did not all establish: $(( $(held 9101) + $(held 9102) + $(held 9103) ))"
on2=$(held 9102) on13=$(( $(held 9101) + $(held 9103) ))
[ $((on2 + on13)) = 30 ] || bad "expected 30 held connections, found $((on2 + on13))"
"$SOCKHOP" --control "$CTL" disable web 127.0.0.1:9102 kill >/dev/null || bad "disable failed"
none_on() { [ "$(held "$1")" = 0 ]; }
wait_until 5 none_on 9102 ||
	bad "connections to the removed backend survive: $(held 9102)"
[ "$(be web 127.0.0.1:9102 killed)" = "$on2" ] || bad "killed $(be web 127.0.0.1:9102 killed), expected $on2"
[ $(( $(held 9101) + $(held 9103) )) = "$on13" ] || bad "connections to the other backends were hit"
"$SOCKHOP" --control "$CTL" table web >"$TMP/after"
moved=$(paste -d' ' "$TMP/before" "$TMP/after" | awk '$2 != $4' | wc -l)
others=$(paste -d' ' "$TMP/before" "$TMP/after" | awk '$2 != $4 && $2 != "127.0.0.1:9102"' | wc -l)
limit=$(( 16381 * 38 / 100 ))	# 1/3 + 5%
[ "$moved" -le "$limit" ] || bad "$moved of 16381 slots moved (limit $limit)"
grep -q 127.0.0.1:9102 "$TMP/after" && fail "the disabled backend still holds slots"
app_load 10.96.0.10 80 --conns 300 --parallel 2
[ "$(backend_count 2)" = 0 ] || bad "the disabled backend got connections: $LOAD"
result "$moved of 16381 slots moved (1/3 + 5% = $limit), $others of them belonged to the remaining backends; $on2 held connections to it terminated, $on13 others untouched"

info "composition with sk_msg acceleration (client and backend in an accelerated scope)"
run_in "$MESH" "$NS" "$SHLOAD" backend 9107 --id 7 --bind 127.0.0.1 >"$TMP/backend.7.out" 2>&1 &
BG_PIDS+=($!)
wait_port 9107
LOAD=$(run_in "$MESH" "$NS" "$SHLOAD" client 10.96.0.70 80 --conns 4 --up $((4 << 20)) --down $((4 << 20)) 2>"$TMP/load.err") ||
	{ cat "$TMP/load.err"; fail "through VIP + acceleration: $LOAD"; }
red=$(stat mesh bytes_redirected) ins=$(stat mesh inserts)
tcp=$(( $(stat mesh bytes_held) + $(stat mesh bytes_ordered) + $(stat mesh bytes_no_peer) ))
total=$((2 * 4 * (4 << 20) + 4 * 40))	# shload: a 32-byte request and an 8-byte answer each
[ "$(load_field ok)" = 4 ] && [ "$ins" = 8 ] || bad "expected 4 ok and 8 inserted sockets: $LOAD, inserts $ins"
# every byte went through sk_msg: redirected, or left to TCP while a peer
# was held back (flow control); most of them redirected
[ $((red + tcp)) = $total ] || bad "sk_msg saw $((red + tcp)) of $total bytes ($red redirected, $tcp to TCP)"
[ $((red * 2)) -ge $total ] || bad "only $red of $total bytes redirected by sk_msg ($tcp to TCP while held)"
result "VIP + accelerate: 4 streams of 4 MiB each way, 8 sockets in the SOCKHASH, $red bytes redirected by sk_msg and $tcp left to TCP while a peer was held back (sum exact), getpeername() still the VIP"
stop_daemon
finish
