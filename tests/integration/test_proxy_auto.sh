#!/usr/bin/env bash
# data-path auto measures each connection: it starts on the relay and moves
# to the kernel path, live, once its bytes have changed direction 8 times
# (a chatty connection), unless the daemon may run on one CPU only and the
# client's packets arrive on it (there the relay is as fast), or the client's
# CPU was busy while the connection was relayed (auto-min-idle; the redirect
# would add its work there): a spinning process on that CPU keeps the
# connection relayed. A one-way bulk stream stays relayed. Checked with a
# daemon launched under taskset -c 1,
# re-pinned while running (taskset -p), and unpinned; counted per path (the
# promoted ones too) and in the verdict's own counters; every byte checked.
. "$(dirname "$0")/lib.sh"
[ "$(nproc)" -ge 2 ] || fail "needs 2 CPUs"

cat >"$TMP/proxy.yaml" <<CFG
services:
  - {name: chat, listen: 127.0.0.1:8080, auto-min-idle: 0, backends: [127.0.0.1:9002]}
  - {name: idle, listen: 127.0.0.1:8083, backends: [127.0.0.1:9002]}
  - {name: bulk, listen: 127.0.0.1:8081, backends: [127.0.0.1:9003]}
  - {name: mix, listen: 127.0.0.1:8082, auto-min-idle: 0, backends: [127.0.0.1:9004]}
CFG
ip netns exec "$NS" "$SHTRAFFIC" epoll-server 9002 --bind 127.0.0.1 --size 64 >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_port 9002
ip netns exec "$NS" python3 "$ROOT/tests/tools/chat.py" server 9004 >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_port 9004
# pinned_proxy CPU: sockhopd launched the way a dedicated-core deployment
# launches it, under taskset
pinned_proxy() {
	nsenter --net="/run/netns/$NS" taskset -c "$1" "$SOCKHOPD" -c "$TMP/proxy.yaml" --pin-dir "$PIN" \
		--control "$CTL" >>"$TMP/daemon.log" 2>&1 &
	DAEMON_PID=$!
	ready() { grep -q 'ready:' "$TMP/daemon.log"; }
	wait_until 10 ready || fail "sockhopd under taskset did not start: $(cat "$TMP/daemon.log")"
}
# chat CPU [SERVICE PORT]: 3 connections of 4000 checked 64 B round trips
# from a client on CPU (long enough for auto to sample the CPU over 50 ms of
# each one's relayed life); prints "promoted relayed redirected_bytes"
# (deltas). The service 'chat' moves whatever its client CPU's load (its
# auto-min-idle is 0): it checks the placement rule alone.
chat() {
	local name=${2:-chat} port=${3:-8080} p0 r0 b0 k out
	p0=$(svc $name conns_promoted) r0=$(svc $name conns_relay) b0=$(kstat bytes_redirected)
	for k in 1 2 3; do
		out=$(ip netns exec "$NS" taskset -c "$1" "$SHTRAFFIC" rr-client 127.0.0.1 $port --size 64 \
			--count 4000 2>&1) || bad "round trips from CPU $1: $out"
	done
	echo "$(( $(svc $name conns_promoted) - p0 )) $(( $(svc $name conns_relay) - r0 ))" \
		"$(( $(kstat bytes_redirected) - b0 ))"
}
# bulk CPU: one checked 8 MiB one-way stream from CPU; prints "promoted relayed"
bulk() {
	local p0 r0 out
	p0=$(svc bulk conns_promoted) r0=$(svc bulk conns_relay)
	ip netns exec "$NS" "$SHTRAFFIC" server 9003 --bind 127.0.0.1 --bytes 0 --peer-seed 7 \
		--peer-bytes $((8 << 20)) >"$TMP/bulk.srv" 2>&1 &
	local srv=$!
	wait_port 9003
	out=$(ip netns exec "$NS" taskset -c "$1" "$SHTRAFFIC" client 127.0.0.1 8081 --bytes $((8 << 20)) \
		--seed 7 2>&1) || bad "bulk from CPU $1: $out"
	wait $srv || bad "bulk server: $(cat "$TMP/bulk.srv")"
	echo "$(( $(svc bulk conns_promoted) - p0 )) $(( $(svc bulk conns_relay) - r0 ))"
}

pinned_proxy 1
[ "$(svc chat data_path)" = auto ] || bad "data path shown as $(svc chat data_path)"
read -r pr rl by <<<"$(chat 0)"
[ "$pr" = 3 ] && [ "$rl" = 3 ] && [ "$by" -gt 0 ] ||
	bad "daemon on CPU 1, chatty client on CPU 0: $pr of 3 promoted ($rl started relayed), $by bytes redirected"
[ "$(svc chat conns_splice)" = 3 ] || bad "promoted connections counted spliced: $(svc chat conns_splice)"
read -r pr2 rl2 by2 <<<"$(chat 1)"
[ "$pr2" = 0 ] && [ "$rl2" = 3 ] && [ "$by2" = 0 ] ||
	bad "daemon on CPU 1, chatty client on CPU 1: $pr2 promoted, $rl2 relayed, $by2 bytes redirected"
read -r bp brl <<<"$(bulk 0)"
[ "$bp" = 0 ] && [ "$brl" = 1 ] || bad "one-way bulk from CPU 0: $bp promoted, $brl relayed"
[ "$(svc chat fallback.auto)" = 6 ] || bad "started on the relay by auto counted $(svc chat fallback.auto), expected 6"
# each connection that closed relayed is counted by why it stayed there
wait_until 5 svc_is chat 'auto_stayed."same-cpu"' 3 ||
	bad "chatty clients on the daemon's CPU counted same-cpu: $(svc chat 'auto_stayed."same-cpu"')"
wait_until 5 svc_is bulk 'auto_stayed."few-turns"' 1 ||
	bad "the one-way stream counted few-turns: $(svc bulk 'auto_stayed."few-turns"')"
result "daemon launched with taskset -c 1: chatty clients on CPU 0 moved to the kernel path $pr of 3 ($by bytes redirected), on CPU 1 stayed relayed $rl2 of 3; a one-way 8 MiB stream stayed relayed; every byte checked"

# auto-min-idle (default 25%): with the daemon on CPU 1 and a client on an
# idle CPU 0 the connection moves; with a process spinning on CPU 0 the
# client's CPU has no room for the redirect's work, so it stays relayed
# (and is counted so).
# (An idle CPU may still read busy over one span, the test's own jq runs
# there: such a connection is put off, counted, and moves on a later span.)
read -r pa rla bya <<<"$(chat 0 idle 8083)"
[ "$pa" = 3 ] || bad "CPU 0 idle: $pa of 3 promoted, $(svc idle promote_busy) counted kept relayed"
busy0=$(svc idle promote_busy)
taskset -c 0 bash -c 'while :; do :; done' &
spin=$!
BG_PIDS+=($spin)
read -r pb rlb byb <<<"$(chat 0 idle 8083)"
kill $spin; wait $spin 2>/dev/null
busy=$(( $(svc idle promote_busy) - busy0 ))
[ "$pb" = 0 ] && [ "$rlb" = 3 ] && [ "$byb" = 0 ] && [ "$busy" = 3 ] ||
	bad "CPU 0 busy: $pb of 3 promoted, $rlb relayed, $byb bytes redirected, $busy counted kept relayed"
result "auto-min-idle 25%: a chatty client on idle CPU 0 moved $pa of 3; with CPU 0 kept busy by a spinning process $rlb of 3 stayed relayed, $busy counted 'kept relayed a while'"

# sockhop explain SERVICE says the same in words, and in JSON; an open
# connection that has not moved is shown with its reason.
explain() { "$SOCKHOP" --control "$CTL" "$@" explain idle; }
wait_until 5 svc_is idle 'auto_stayed."client-busy"' 3 ||
	bad "kept relayed for a busy CPU counted client-busy: $(svc idle 'auto_stayed."client-busy"')"
out=$(explain) || bad "explain idle: $out"
grep -q 'by the kernel splice: 3 connections (3 moved from the relay)' <<<"$out" &&
	grep -Eq '^ +3 client-busy +\(0 open now\): its client.s CPU was idle less than auto-min-idle' <<<"$out" &&
	grep -q 'by the relay only: *3 connections' <<<"$out" ||
	bad "explain idle does not say 3 moved and 3 kept relayed for a busy CPU: $out"
ip netns exec "$NS" python3 -c 'import socket, time
s = socket.create_connection(("127.0.0.1", 8083)); s.sendall(b"x" * 64)
assert len(s.recv(64)) > 0
time.sleep(60)' &
held=$!
BG_PIDS+=($held)
open_few() { explain -j | jq -e '.open.relayed == 1 and .open.relayed_by."few-turns" == 1' >/dev/null; }
wait_until 5 open_few || bad "an open one-request connection not shown relayed for few-turns: $(explain -j)"
grep -Eq '^ +0 few-turns +\(1 open now\)' <<<"$(explain)" || bad "explain text of the open connection: $(explain)"
kill $held; wait $held 2>/dev/null
wait_until 5 svc_is idle 'auto_stayed."few-turns"' 1 || bad "the closed one-request connection not counted few-turns"
explain -j | jq -e '.data_path == "auto" and .auto_min_idle == 25 and .promote_turns == 8 and
	.look_ms == 50 and .carried.promoted == 3 and .carried.splice == 3 and .carried.relay_only == 4 and
	.auto_stayed."client-busy" == 3 and .open.relayed == 0' >/dev/null ||
	bad "explain -j idle: $(explain -j)"
err=$("$SOCKHOP" --control "$CTL" explain nosuch 2>&1) && bad "explain of an unknown service succeeded"
grep -q "no service named 'nosuch'" <<<"$err" || bad "explain of an unknown service said: $err"
err=$("$SOCKHOP" --control "$CTL" -j explain nosuch 2>&1) && bad "explain -j of an unknown service succeeded: $err"
grep -q "no service named 'nosuch'" <<<"$err" || bad "explain -j of an unknown service said: $err"
result "sockhop explain idle: 3 moved, 3 kept relayed for a busy client CPU, an open one-request connection shown relayed for few-turns and counted at its close; an unknown service refused by name"

taskset -p -c 0 "$DAEMON_PID" >/dev/null || bad "taskset -p"
read -r pr rl by <<<"$(chat 0)"
read -r pr2 rl2 by2 <<<"$(chat 1)"
[ "$pr" = 0 ] && [ "$pr2" = 3 ] && [ "$by2" -gt 0 ] ||
	bad "re-pinned to CPU 0: client on 0 promoted $pr, client on 1 promoted $pr2 ($by2 bytes redirected)"
taskset -p -c 0,1 "$DAEMON_PID" >/dev/null || bad "taskset -p"
read -r pr3 rl3 by3 <<<"$(chat 0)"
read -r pr4 rl4 by4 <<<"$(chat 1)"
[ "$pr3" = 3 ] && [ "$pr4" = 3 ] || bad "unpinned: client on 0 promoted $pr3, client on 1 promoted $pr4"
result "re-pinned while running to CPU 0: the chatty client on CPU 0 stayed relayed, on CPU 1 moved $pr2 of 3; unpinned: $pr3 and $pr4 of 3 moved"

# Conversations of random-sized messages (up to 200 KB, echoed as they
# arrive) turn at every chunk: they move to the kernel path in the middle of
# a message, with bytes queued on both sides, and every byte arrives in order.
p0=$(svc mix conns_promoted) b0=$(kstat bytes_redirected)
out=$(ip netns exec "$NS" python3 "$ROOT/tests/tools/chat.py" client 127.0.0.1 8082 --conns 30 --parallel 6 \
	--exchanges 20 --max 200000 2>&1) || bad "conversations: $out"
moved=$(( $(svc mix conns_promoted) - p0 ))
[ "$moved" -ge 25 ] || bad "only $moved of 30 conversations moved to the kernel path"
redirected=$(( $(kstat bytes_redirected) - b0 ))
[ "$redirected" -gt 0 ] || bad "the verdict redirected no byte of the conversations"
wait_until 5 kstat_is entries 0 || bad "splice map entries left: $(kstat entries)"
result "30 conversations of 20 random messages (up to 200 KB, echoed as they arrive): $moved moved to the kernel path mid-message ($redirected bytes redirected by the verdict), every byte in order ($out), no map entry left"
stop_daemon
finish
