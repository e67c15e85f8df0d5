#!/bin/bash
# The tc policy on real traffic. Two namespaces joined by a veth pair; the
# filter is attached to the client side with the tc command itself, as an
# operator does. Processes in scope 'allowed', in scope 'denied' and in no
# scope connect to servers on the other side. Then: stage replacement and
# reloads while traffic flows, and the daemon leaving in keep mode.
. "$(dirname "$0")/lib.sh"

DEV=shva-$ID
veth_pair "$DEV" shvb-$ID 10.88.0

# config A; config B differs in one rule of 'denied' (deny -> allow)
policy_config() {	# DENIED_ACTION
	cat <<CFG
policy:
  default: allow
scopes:
  - name: allowed
    cgroup: $TEST_CG/allowed
    create: true
    default: deny
    rules:
      - {action: allow, protocol: tcp, destination: 10.88.0.0/24, port: 9000}
      - {action: mark, mark: 0x10, protocol: udp, destination: 10.88.0.2, port: 5353}
  - name: denied
    cgroup: $TEST_CG/denied
    create: true
    rules:
      - {action: count, protocol: tcp}
      - {action: $1, protocol: tcp, destination: 10.88.0.2, port: 9000}
CFG
}
policy_config deny >"$TMP/a.yaml"
policy_config allow >"$TMP/b.yaml"
cp "$TMP/a.yaml" "$TMP/policy.yaml"
launch_daemon "$NS" "$TMP/policy.yaml" --keep

# the operator's recipe, verbatim but for the device and the pin directory
tcns qdisc add dev "$DEV" clsact || bad "tc qdisc add clsact"
tcns filter add dev "$DEV" egress bpf da pinned "$PIN/tc/egress" || bad "tc filter add egress"
tcns filter add dev "$DEV" ingress bpf da pinned "$PIN/tc/ingress" || bad "tc filter add ingress"
# Marks are proven the way they are used, by shaping: the clsact egress hook
# runs before the root qdisc, and an htb filter puts packets of mark 0x10
# in class 1:10. The kernel has no fw classifier built in, so the filter is
# classic BPF: ld [mark]; jeq #0x10; ret #-1 (the filter's classid); ret #0.
tcns qdisc add dev "$DEV" root handle 1: htb default 20 || bad "htb qdisc"
tcns class add dev "$DEV" parent 1: classid 1:10 htb rate 1gbit || bad "htb class 1:10"
tcns class add dev "$DEV" parent 1: classid 1:20 htb rate 10gbit || bad "htb class 1:20"
tcns filter add dev "$DEV" parent 1: protocol all prio 1 bpf \
	bytecode '4,32 0 0 4294963220,21 0 1 16,6 0 0 4294967295,6 0 0 0' classid 1:10 ||
	bad "mark classifier"

ip netns exec "$NS2" "$SHLOAD" backend 9000 --id 1 --bind 10.88.0.2 >"$TMP/backend.1.out" 2>&1 &
BACKEND_PID_1=$!; BG_PIDS+=($!)
ip netns exec "$NS2" "$SHLOAD" udp-backend 5353 --id 2 --bind 10.88.0.2 >/dev/null 2>&1 &
BG_PIDS+=($!)
for _ in $(seq 50); do
	ip netns exec "$NS2" ss -Hltn "sport = :9000" | grep -q . && break; sleep 0.1
done

pol() { "$SOCKHOP" --pin-dir "$PIN" policy -j; }
# tcs SCOPE DIR ACTION FIELD (SCOPE "" = no scope)
tcs() {
	if [ -z "$1" ]; then pol | jq ".no_scope.$2.$3.$4"
	else pol | jq --arg s "$1" ".scopes[] | select(.name == \$s) | .$2.$3.$4"; fi
}
rule_pkts() { pol | jq --arg s "$1" ".scopes[] | select(.name == \$s) | .rules[$2].packets"; }
tcerr() { pol | jq ".errors.$1"; }
client() {	# CGROUP ARGS...: shload client in the cgroup and $NS; its line in $LOAD
	local cg=$1; shift
	LOAD=$(run_in "$TEST_CG/$cg" "$NS" "$SHLOAD" client "$@" 2>"$TMP/load.err")
}

# 1. allowed: TCP streams both ways, every byte checked
client allowed 10.88.0.2 9000 --conns 50 --up 65536 --down 65536 ||
	{ cat "$TMP/load.err"; fail "allowed scope: $LOAD"; }
[ "$(tcs allowed egress allow packets)" -gt 0 ] || bad "no allowed egress packet counted"
[ "$(tcs allowed ingress allow packets)" -gt 0 ] || bad "replies not counted at ingress"
[ "$(tcs allowed egress allow bytes)" -ge $((50 * 65536)) ] || bad "egress bytes short"
[ "$(tcs allowed egress deny packets)" = 0 ] || bad "allowed scope had drops"
result "allowed scope: 50 x 64 KiB each way exact ($LOAD); $(tcs allowed egress allow packets) egress and $(tcs allowed ingress allow packets) ingress packets counted allow"

# 2. denied: the SYN is dropped by the filter, the server never sees it
before=$(tcs denied egress deny packets)
timeout 3 bash -c "$(declare -f run_in); run_in '$TEST_CG/denied' '$NS' '$SHLOAD' client 10.88.0.2 9000 --conns 1" \
	>"$TMP/denied.out" 2>&1 && fail "a denied client connected: $(cat "$TMP/denied.out")"
after=$(tcs denied egress deny packets)
[ "$after" -gt "$before" ] || bad "denied SYNs not counted ($before -> $after)"
[ "$(rule_pkts denied 1)" -ge 1 ] && [ "$(rule_pkts denied 0)" -ge "$(rule_pkts denied 1)" ] ||
	bad "rule counters: count $(rule_pkts denied 0), deny $(rule_pkts denied 1)"
result "denied scope: connect timed out, $after SYNs dropped and counted by its deny rule (and its count rule)"

# 3. no scope: the no-scope default (allow)
before=$(tcs "" egress allow packets)
client outside 10.88.0.2 9000 --conns 20 --up 4096 --down 4096 || bad "no scope: $LOAD"
[ "$(tcs "" egress allow packets)" -gt "$before" ] || bad "no-scope traffic not counted"
result "no scope: 20 connections through, counted under the no-scope default"

# 4. marks: 20 datagrams from 'allowed' to 5353 are marked 0x10 at egress
LOAD=$(run_in "$TEST_CG/allowed" "$NS" "$SHLOAD" udp-client 10.88.0.2 5353 --conns 20) ||
	bad "udp: $LOAD"
[ "$(tcs allowed egress mark packets)" = 20 ] || bad "egress marks: $(tcs allowed egress mark packets)"
[ "$(tcs allowed ingress mark packets)" = 20 ] || bad "ingress marks: $(tcs allowed ingress mark packets)"
fw=$(tcns -s class show dev "$DEV" classid 1:10 | awk '/Sent/ { print $4; exit }')
[ "${fw:-0}" = 20 ] || bad "htb class 1:10 (mark 0x10) sent ${fw:-0} packets, expected 20"
result "marks: 20 datagrams answered ($LOAD), 20 marked at egress and 20 at ingress; htb shaped exactly those $fw packets into the class of mark 0x10"

# 5. stage replacement while traffic flows: no drop, counters go on
eg0=$(tcs allowed egress allow packets)
run_in "$TEST_CG/allowed" "$NS" "$SHLOAD" client 10.88.0.2 9000 --conns 400 --parallel 2 \
	--up 16384 --down 16384 >"$TMP/bg.out" 2>&1 &
bg=$!
for _ in $(seq 30); do
	"$SOCKHOP" --control "$CTL" tc-replace-stages >/dev/null || bad "tc-replace-stages failed"
	sleep 0.05
done
wait $bg || bad "traffic during stage replacement: $(cat "$TMP/bg.out")"
[ "$(tcs allowed egress deny packets)" = 0 ] || bad "drops during stage replacement"
for s in parse rules action; do
	[ "$(tcerr no_stage_$s)" = 0 ] || bad "a tail call to $s missed"
done
[ "$(tcs allowed egress allow packets)" -gt "$eg0" ] || bad "counters did not go on"
result "30 stage replacements under 400 connections: $(grep '^ok=' "$TMP/bg.out" | cut -d' ' -f1-3), 0 drops, 0 missed tail calls, counters $eg0 -> $(tcs allowed egress allow packets)"

# 6. reloads while traffic flows; the changed rule acts on the next packet
run_in "$TEST_CG/allowed" "$NS" "$SHLOAD" client 10.88.0.2 9000 --conns 400 --parallel 2 \
	--up 16384 --down 16384 >"$TMP/bg.out" 2>&1 &
bg=$!
for i in $(seq 40); do
	cp "$TMP/$([ $((i % 2)) = 0 ] && echo a || echo b).yaml" "$TMP/policy.yaml"
	"$SOCKHOP" --control "$CTL" reload >/dev/null || bad "reload $i refused"
done
wait $bg || bad "traffic during reloads: $(cat "$TMP/bg.out")"
[ "$(tcs allowed egress deny packets)" = 0 ] || bad "drops during reloads"
[ "$(tcerr no_rule_table)" = 0 ] || bad "a packet found a scope without rules"
cp "$TMP/b.yaml" "$TMP/policy.yaml"
"$SOCKHOP" --control "$CTL" reload >/dev/null || bad "reload to b"
client denied 10.88.0.2 9000 --conns 5 --up 1000 --down 1000 --timeout-ms 3000 ||
	bad "after the reload that allows it: $LOAD"
cp "$TMP/a.yaml" "$TMP/policy.yaml"
"$SOCKHOP" --control "$CTL" reload >/dev/null || bad "reload to a"
timeout 3 bash -c "$(declare -f run_in); run_in '$TEST_CG/denied' '$NS' '$SHLOAD' client 10.88.0.2 9000 --conns 1" \
	>/dev/null 2>&1 && fail "denied again after the reload back, yet it connected"
sed 's/name: denied/name: renamed/' "$TMP/a.yaml" >"$TMP/policy.yaml"
"$SOCKHOP" --control "$CTL" reload >"$TMP/refused.out" 2>&1 && fail "a renamed scope was reloaded"
grep -q "scopes\[1\]" "$TMP/refused.out" || bad "refusal does not name the field: $(cat "$TMP/refused.out")"
result "40 reloads under 400 connections: $(grep '^ok=' "$TMP/bg.out" | cut -d' ' -f1-3), 0 drops, never a scope without rules; deny -> allow -> deny took effect on the next connect; a renamed scope is refused ($(cut -c1-60 "$TMP/refused.out")...)"
cp "$TMP/a.yaml" "$TMP/policy.yaml"

# 7. keep mode: the daemon leaves, the pinned filter keeps enforcing
stop_daemon
[ -e "$PIN/tc/egress" ] || bad "keep mode removed the pins"
before=$(tcs denied egress deny packets)
timeout 3 bash -c "$(declare -f run_in); run_in '$TEST_CG/denied' '$NS' '$SHLOAD' client 10.88.0.2 9000 --conns 1" \
	>/dev/null 2>&1 && fail "denied client connected with the daemon gone"
[ "$(tcs denied egress deny packets)" -gt "$before" ] || bad "no drop counted with the daemon gone"
client allowed 10.88.0.2 9000 --conns 20 --up 65536 --down 65536 || bad "allowed, daemon gone: $LOAD"
for s in parse rules action; do
	[ "$(tcerr no_stage_$s)" = 0 ] || bad "a tail call to $s missed with the daemon gone"
done
result "keep mode: with sockhopd gone the filter still drops 'denied' and passes 'allowed' (20 exact), every tail call taken"

# adopt; the operator's filters go, and `sockhop tc` does the recipe instead
launch_daemon "$NS" "$TMP/policy.yaml"
tcns filter del dev "$DEV" egress
tcns filter del dev "$DEV" ingress
shtc_cli() { nsenter --net="/run/netns/$NS" "$SOCKHOP" --pin-dir "$PIN" tc "$@"; }
shtc_cli attach "$DEV" >"$TMP/attach.out" || bad "sockhop tc attach: $(cat "$TMP/attach.out")"
for h in egress ingress; do
	tcns filter show dev "$DEV" $h | grep -q "tc_$h" || bad "no $h filter after sockhop tc attach"
done
client allowed 10.88.0.2 9000 --conns 5 --up 1000 --down 1000 || bad "after sockhop tc attach: $LOAD"
timeout 3 bash -c "$(declare -f run_in); run_in '$TEST_CG/denied' '$NS' '$SHLOAD' client 10.88.0.2 9000 --conns 1" \
	>/dev/null 2>&1 && fail "denied client connected through the filters sockhop tc attached"
shtc_cli detach "$DEV" >/dev/null || bad "sockhop tc detach"
for h in egress ingress; do
	[ -z "$(tcns filter show dev "$DEV" $h)" ] || bad "$h filter left after sockhop tc detach"
done
result "sockhop tc attach/detach: the same filters as the recipe (allowed passes, denied dropped), detach removes exactly them"
stop_daemon
[ -e "$PIN" ] && fail "$PIN left behind"
tcns qdisc del dev "$DEV" clsact
tcns qdisc del dev "$DEV" root
stop_backend 1
# 50 + 20 + 400 + 400 + 5 + 20 + 5 connections were let through; not one
# denied SYN reached the server
grep -q '^conns=900 ' "$TMP/backend.1.out" ||
	bad "the server saw $(grep -o '^conns=[0-9]*' "$TMP/backend.1.out"), expected conns=900"
finish
