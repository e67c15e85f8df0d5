#!/usr/bin/env bash
# Out of file descriptors: sockhopd started with RLIMIT_NOFILE 256 says at
# start that its services' limits need more; a flood of idle clients that
# takes every descriptor pauses the listeners (counted, logged once per 100
# pauses, not once per client) instead of resetting client after client,
# the control socket still answers on a descriptor held for it, and once
# the flood goes every service carries exact bytes again.
. "$(dirname "$0")/lib.sh"

cat >"$TMP/proxy.yaml" <<CFG
services:
  - {name: flood, listen: 127.0.0.1:8080, data-path: relay, limits: {connections: 0}, backends: [127.0.0.1:9005]}
  - {name: other, listen: 127.0.0.1:8081, data-path: auto, backends: [127.0.0.1:9001]}
CFG
ip netns exec "$NS" python3 "$ROOT/tests/bench/hold.py" server 9005 >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_port 9005
backend 1 9001
printf '#!/bin/sh\nexec prlimit --nofile=256:1024 %s "$@"\n' "$SOCKHOPD" >"$TMP/sockhopd-256"
chmod +x "$TMP/sockhopd-256"
SOCKHOPD=$TMP/sockhopd-256 start_proxy "$TMP/proxy.yaml"
grep -q 'limits (limits.connections) need up to 85600 file descriptors.*RLIMIT_NOFILE is 256' "$TMP/daemon.log" ||
	bad "no start-up warning of the descriptor budget: $(grep -i rlimit "$TMP/daemon.log")"

coproc HOLD { ip netns exec "$NS" python3 "$ROOT/tests/bench/hold.py" client 8080 400; }
read -r line <&"${HOLD[0]}" || fail "the idle holder failed"
paused() { [ "$(svc flood accept_paused)" -ge 1 ]; }
wait_until 10 paused || bad "400 idle clients against 256 descriptors never paused the listener"
# a measurement window, not a synchronisation: 100 ms pauses over 1.5 s
# (and the daemon's CPU time over it: a listener that spins on EMFILE burns it)
[ "$(cat /proc/$DAEMON_PID/comm)" = sockhopd ] || fail "DAEMON_PID is $(cat /proc/$DAEMON_PID/comm), not sockhopd"
cpu() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
p0=$(svc flood accept_paused) c0=$(cpu) t0=$(date +%s%N)
sleep 1.5
c1=$(cpu) p1=$(svc flood accept_paused) t1=$(date +%s%N)
rate=$(( (p1 - p0) * 1000000000 / (t1 - t0) ))
[ "$rate" -le 15 ] || bad "the listener paused $rate times a second (100 ms pauses: at most 10)"
ticks=$(( c1 - c0 ))
[ "$ticks" -le 30 ] || bad "the daemon used $ticks ticks of CPU in 1.5 s out of descriptors"
# the operator still reaches the daemon: one descriptor is held for the
# control socket (each sockhop call here found none other free)
s0=$(services_json | jq .control.on_spare)
for k in 1 2 3 4 5; do
	out=$("$SOCKHOP" --control "$CTL" explain flood 2>&1) && grep -q '^service flood: data path relay' <<<"$out" ||
		bad "explain out of descriptors: $out"
done
# three silent control clients (connected, sending nothing) hold the
# reserve 1 s each, not 5: sockhop, which waits 5 s, still gets its answer
python3 -c 'import socket, sys, time
held = []
for _ in range(3):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); held.append(s)
print("held", flush=True); time.sleep(8)' "$CTL" >"$TMP/silent.out" 2>&1 &
silent=$!
BG_PIDS+=($silent)
wait_until 5 grep -q held "$TMP/silent.out" || bad "silent control clients: $(cat "$TMP/silent.out")"
out=$("$SOCKHOP" --control "$CTL" explain flood 2>&1) && grep -q '^service flood: data path relay' <<<"$out" ||
	bad "explain behind three silent control clients, out of descriptors: $out"
kill $silent 2>/dev/null; wait $silent 2>/dev/null
spare=$(( $(services_json | jq .control.on_spare) - s0 ))
[ "$spare" -ge 10 ] || bad "$spare of 10 control clients served on the reserved descriptor"
active=$(svc flood active)
[ "$active" -ge 90 ] && [ "$active" -le 128 ] || bad "$active connections held with 256 descriptors"
# One descriptor more (prlimit on the running daemon): the listener takes
# it for a client, and none is left for that client's backend socket. The
# client waits for one (shown in explain) instead of being reset; with more
# room it connects.
waits() { "$SOCKHOP" --control "$CTL" -j explain flood | jq -e ".open.waiting_fd == $1" >/dev/null; }
# (an odd number of descriptors was left at the flood's end: one client
# waits already; one more descriptor lets it connect, and the count is even)
lim=256
if waits 1; then
	lim=257
	prlimit --pid "$DAEMON_PID" --nofile=$lim:1024 || bad "prlimit $lim"
	wait_until 5 waits 0 || bad "the client that waited at the flood's end never got its backend socket"
fi
nb0=$(svc flood no_backend) a0=$(svc flood accepted)
prlimit --pid "$DAEMON_PID" --nofile=$((lim + 1)):1024 || bad "prlimit $((lim + 1))"
wait_until 5 svc_is flood accepted $((a0 + 1)) || bad "one more descriptor: $(( $(svc flood accepted) - a0 )) accepted"
wait_until 2 waits 1 || bad "a client with no descriptor for its backend not shown waiting: $("$SOCKHOP" --control "$CTL" explain flood)"
sleep 2.5	# a measurement window past the 2 s connect timeout: 25 of its 100 ms retries
[ "$(svc flood no_backend)" = "$nb0" ] && [ "$(svc flood no_fd)" = 0 ] && waits 1 ||
	bad "the client with no descriptor for its backend: $(( $(svc flood no_backend) - nb0 )) reset, $(svc flood no_fd) for want of one"
grep -q ' 1 waiting for a file descriptor' <<<"$("$SOCKHOP" --control "$CTL" explain flood)" ||
	bad "explain does not say it: $("$SOCKHOP" --control "$CTL" explain flood)"
# 44 or so descriptors more: the waiting client takes one first (a listener
# that resumes lets waiting clients try before it accepts), the backlog the
# rest, two a client; should that leave an odd one, one more descriptor
# lets the last client accepted connect too (the count the daemon itself
# holds decides the parity)
prlimit --pid "$DAEMON_PID" --nofile=300:1024 || bad "prlimit 300"
settled() { local a; a=$(svc flood accepted); sleep 0.3; [ "$(svc flood accepted)" = "$a" ]; }
wait_until 5 settled || bad "the backlog still being accepted 5 s after the limit rose"
if waits 1; then
	prlimit --pid "$DAEMON_PID" --nofile=301:1024 || bad "prlimit 301"
fi
wait_until 5 waits 0 || bad "the waiting client never got its backend socket"
[ "$(svc flood no_backend)" = "$nb0" ] && [ "$(svc flood no_fd)" = 0 ] ||
	bad "$(( $(svc flood no_backend) - nb0 )) reset after the limit rose, $(svc flood no_fd) for want of a descriptor"
warnings=$(grep -c 'pausing the listeners' "$TMP/daemon.log")
[ "$warnings" -le $(( $(svc flood accept_paused) / 100 + 2 )) ] ||
	bad "$warnings pause warnings for $(svc flood accept_paused) pauses"
grep -q 'flood: socket: ' "$TMP/daemon.log" && bad "a warning per refused backend socket"
# clients of another service that come while no descriptor is free wait
# (in the backlog, or for their backend's socket) and finish once the
# flood goes: none is reset
ip netns exec "$NS" "$SHLOAD" client 127.0.0.1 8081 --conns 50 --parallel 4 --up 65536 \
	--down 65536 >"$TMP/during.out" 2>&1 &
during=$!
BG_PIDS+=($during)
waiting() { [ "$(svc other accepted)" -ge 1 ] || [ "$(svc other accept_paused)" -ge 1 ]; }
wait_until 5 waiting || bad "the other service's clients neither accepted nor waiting"
eval "exec ${HOLD[1]}>&-"
wait $HOLD_PID 2>/dev/null
wait $during || bad "clients that came out of descriptors: $(cat "$TMP/during.out")"
grep -Eq '(^| )ok=50( |$)' "$TMP/during.out" && [ "$(svc other no_backend)" = 0 ] ||
	bad "clients that came out of descriptors: $(cat "$TMP/during.out"), $(svc other no_backend) reset"
wait_until 20 svc_is flood active 0 || bad "the flood's connections did not close: $(svc flood active)"
load 127.0.0.1 8081 --conns 50 --parallel 4 --up 65536 --down 65536
[ "$(load_field ok)" = 50 ] || bad "after the flood: $LOAD"
# A client that closes (FIN) while it waits for a descriptor waits at most
# the connect timeout (it may only have half-closed), not the idle one:
# exactly room for K proxied connections, K idle ones, then one that finds
# a descriptor for itself (the limit raised by one) and none for its backend.
# (the first flood's clients left in the backlog are accepted and closed
# first: nothing queued, nothing open)
settled() {
	[ "$(ip netns exec "$NS" ss -Hltn 'sport = :8080' | awk '{ print $2 }')" = 0 ] &&
		svc_is flood active 0 && svc_is other active 0
}
wait_until 20 settled || bad "the first flood did not drain: $(svc flood active) active"
K=10
# RLIMIT_NOFILE caps descriptor numbers, not their count: the limits that
# leave exactly 2K, then 2K + 1, free numbers below them
read -r lim0 lim1 <<<"$(python3 -c 'import os, sys
used = {int(f) for f in os.listdir("/proc/%s/fd" % sys.argv[1])}
free = [n for n in range(4096) if n not in used]
k = int(sys.argv[2])
print(free[2 * k - 1] + 1, free[2 * k] + 1)' "$DAEMON_PID" $K)"
prlimit --pid "$DAEMON_PID" --nofile=$lim0:1024 || bad "prlimit $lim0"
coproc HOLD2 { ip netns exec "$NS" python3 "$ROOT/tests/bench/hold.py" client 8080 $K; }
hold2_pid=$HOLD2_PID hold2_in=${HOLD2[1]}
read -r line <&"${HOLD2[0]}" || fail "the second holder failed"
wait_until 5 svc_is flood active $K || bad "$K idle clients: $(svc flood active) active"
r0=$(svc flood resets)
# the quitting client: connects, sends a byte, closes when told (a file)
ip netns exec "$NS" python3 -c 'import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", 8080)); s.sendall(b"x")
open(sys.argv[1] + ".up", "w").close()
while not os.path.exists(sys.argv[1] + ".go"):
    time.sleep(0.02)
s.close(); time.sleep(10)' "$TMP/quit" &
quit=$!
BG_PIDS+=($quit)
wait_until 5 test -e "$TMP/quit.up" || fail "the quitting client did not connect"
prlimit --pid "$DAEMON_PID" --nofile=$lim1:1024 || bad "prlimit $lim1"
wait_until 5 waits 1 || bad "the last client not shown waiting for a descriptor: $("$SOCKHOP" --control "$CTL" explain flood)"
touch "$TMP/quit.go"
sleep 0.5	# a window inside the connect timeout: a half-close is not a reset
waits 1 || bad "the client was let go at its FIN, before the connect timeout"
# its FIN: most likely gone, perhaps only half-closed, it waits at most the
# 2 s connect timeout (counted from its first miss), not the idle timeout
wait_until 4 waits 0 || bad "a client that closed while waiting for a descriptor was kept past the connect timeout"
[ "$(svc flood resets)" = $((r0 + 1)) ] && [ "$(svc flood no_fd)" = 1 ] && [ "$(svc flood active)" = $K ] ||
	bad "the client that closed while waiting: $(( $(svc flood resets) - r0 )) resets, $(svc flood no_fd) no_fd, $(svc flood active) active"
kill $quit 2>/dev/null
eval "exec $hold2_in>&-"
wait $quit $hold2_pid 2>/dev/null
result "RLIMIT_NOFILE 256: said at start; 400 idle clients held $active connections and paused the listener $(svc flood accept_paused) times, $rate a second ($warnings warnings, $ticks CPU ticks in 1.5 s); a client accepted with no descriptor left for its backend waited past the connect timeout (not reset) until prlimit gave one; the control socket answered on its reserved descriptor ($spare clients), behind three silent ones too; 50 clients of another service that came meanwhile all exact; after them 50 of 50 exact through another service; a client that closed while waiting for a descriptor waited only the connect timeout"
stop_daemon
finish
