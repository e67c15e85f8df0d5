#!/bin/bash
# The proxy's two data paths carry bytes exactly and by the intended path:
# {splice, relay} x {client->backend, backend->client, both} x {1 B, 64 KiB,
# 16 MiB}, every byte checked, and the path's own counters (the verdict's
# bytes_redirected for splice, the daemon's bytes_relay for relay) carrying
# at least 99% of them. Then bytes sent before the pair enters the map,
# half-close both ways, a slow reader, and event-loop (epoll) ends.
. "$(dirname "$0")/lib.sh"
# early_count PORT: established connections to PORT holding unread bytes
early_count() { ip netns exec "$NS" ss -Htn state established "sport = :$1" | awk '$1 > 0' | wc -l; }
early_queued() { [ "$(early_count "$1")" -ge "$2" ]; }
tcp_mem_kib() { awk '/^TCP:/ { print $NF * 4 }' /proc/net/sockstat; }

cat >"$TMP/proxy.yaml" <<CFG
services:
  - name: sp
    listen: 127.0.0.1:8080
    data-path: splice
    backends: [127.0.0.1:9001]
  - name: rl
    listen: 127.0.0.1:8081
    data-path: relay
    backends: [127.0.0.1:9001]
  - name: sp-one
    listen: 127.0.0.1:8070
    data-path: splice
    backends: [127.0.0.1:9101]
  - name: rl-one
    listen: 127.0.0.1:8071
    data-path: relay
    backends: [127.0.0.1:9101]
  - name: sp-echo
    listen: "[::1]:8090"
    data-path: splice
    backends: ["[::1]:9201"]
  - name: rl-echo
    listen: "[::1]:8091"
    data-path: relay
    backends: ["[::1]:9201"]
CFG
backend 1 9001
start_proxy "$TMP/proxy.yaml"
[ "$(kstat available)" = true ] || bad "splice is not available: $(grep -i splice "$TMP/daemon.log")"

# --- integrity matrix ---------------------------------------------------------
for path in splice relay; do
	[ $path = splice ] && { name=sp; port=8080; } || { name=rl; port=8081; }
	for size in 1 65536 16777216; do
		for dir in up down both; do
			up=0; down=0
			[ $dir != down ] && up=$size
			[ $dir != up ] && down=$size
			k0=$(kstat bytes_redirected); r0=$(svc rl bytes_relay); s0=$(svc $name bytes_${path})
			bo0=$(be $name 127.0.0.1:9001 bytes_out); bi0=$(be $name 127.0.0.1:9001 bytes_in)
			load 127.0.0.1 $port --conns 1 --up $up --down $down --mode duplex
			[ "$(load_field ok)" = 1 ] || bad "$path $dir $size: $LOAD"
			wait_until 5 svc_is $name active 0 || bad "$path $dir $size: connection still open"
			# the 32-byte request header and 8-byte reply header travel too
			total=$((up + down + 40))
			k=$(( $(kstat bytes_redirected) - k0 )); r=$(( $(svc rl bytes_relay) - r0 ))
			s=$(( $(svc $name bytes_${path}) - s0 ))
			[ $s = $total ] || bad "$path $dir $size: service counted $s bytes, expected $total"
			# the backend's books: request header + up out, reply header + down in
			bo=$(( $(be $name 127.0.0.1:9001 bytes_out) - bo0 ))
			bi=$(( $(be $name 127.0.0.1:9001 bytes_in) - bi0 ))
			[ $bo = $((up + 32)) ] && [ $bi = $((down + 8)) ] ||
				bad "$path $dir $size: the backend counted $bo out and $bi in, expected $((up + 32)) and $((down + 8))"
			if [ $path = splice ]; then
				[ $((k * 100)) -ge $((total * 99)) ] ||
					bad "splice $dir $size: verdict redirected $k of $total bytes"
				[ $r = 0 ] || bad "splice $dir $size: relay moved $r bytes"
			else
				[ $((r * 100)) -ge $((total * 99)) ] ||
					bad "relay $dir $size: relay moved $r of $total bytes"
				[ $k = 0 ] || bad "relay $dir $size: verdict redirected $k bytes"
			fi
		done
	done
	info "$path: 9 transfers verified, path counters match"
done
result "integrity: 18 of 18 transfers exact; splice bytes via the verdict, relay bytes via the loop; each backend's bytes out and in exact"

# --- data before insertion ------------------------------------------------------
# With the daemon stopped, 20 clients connect (the kernel completes the
# handshakes) and send their whole request at once; only then does the
# daemon accept, connect and splice: every byte was queued before insertion.
for path in splice relay; do
	[ $path = splice ] && port=8080 || port=8081
	kill -STOP "$DAEMON_PID"
	ip netns exec "$NS" "$SHLOAD" client 127.0.0.1 $port --conns 20 --parallel 20 \
		--up 200000 --down 200000 --mode client-first >"$TMP/early.out" 2>&1 &
	lpid=$!
	# the clients' first bytes wait in 20 connections the daemon has not accepted
	wait_until 5 early_queued "$port" 20 || bad "$path: early data: $(early_count "$port") of 20 queued"
	kill -CONT "$DAEMON_PID"
	wait $lpid || { cat "$TMP/early.out"; fail "$path: early data: client failed"; }
	grep -q '^ok=20 bad=0' "$TMP/early.out" || bad "$path: early data: $(cat "$TMP/early.out")"
done
result "data before insertion: 2 x 20 clients whose requests were queued before the splice: all exact"

# --- half-close ---------------------------------------------------------------
# The client sends 1 MiB and shuts its write side; the backend keeps
# sending 16 MiB after reading EOF. Blocking sockets at both ends (threads).
for path in splice relay; do
	[ $path = splice ] && port=8070 || port=8071
	ip netns exec "$NS" "$SHTRAFFIC" server 9101 --bind 127.0.0.1 --bytes 16777216 --seed 7 \
		--peer-seed 8 --peer-bytes 1048576 --read-delay-ms 0 >"$TMP/hc.server" 2>&1 &
	spid=$!
	wait_port 9101
	ip netns exec "$NS" "$SHTRAFFIC" client 127.0.0.1 $port --bytes 1048576 --seed 8 \
		--peer-seed 7 --peer-bytes 16777216 >"$TMP/hc.client" 2>&1 ||
		{ cat "$TMP/hc.client"; fail "$path: half-close client"; }
	wait $spid || { cat "$TMP/hc.server"; fail "$path: half-close server"; }
	info "$path half-close: $(tail -n1 "$TMP/hc.client")"
done
# and the other way round: the backend finishes and shuts first
for path in splice relay; do
	[ $path = splice ] && port=8080 || port=8081
	load 127.0.0.1 $port --conns 50 --parallel 5 --up 300000 --down 3000 --mode server-first
	[ "$(load_field ok)" = 50 ] || bad "$path: backend-first half-close: $LOAD"
	load 127.0.0.1 $port --conns 50 --parallel 5 --up 3000 --down 300000 --mode client-first
	[ "$(load_field ok)" = 50 ] || bad "$path: client-first half-close: $LOAD"
done
result "half-close: both directions, both paths: every byte before EOF"

# --- slow reader ----------------------------------------------------------------
# The backend starts reading only after 3 s; the client pushes 64 MiB. The
# writer must be held back by the full window, memory must stay bounded.
stop_backend 1
backend 1 9001 --read-delay-ms 3000
for path in splice relay; do
	[ $path = splice ] && port=8080 || port=8081
	# TCP memory is one count for the whole machine (not per netns): what
	# this transfer adds to it is measured, not the count
	rss0=$(daemon_rss_kib) behind0=$(kstat behind) mem0=$(tcp_mem_kib)
	ip netns exec "$NS" "$SHLOAD" client 127.0.0.1 $port --conns 1 --up 67108864 --down 1000 \
		--mode duplex --timeout-ms 20000 >"$TMP/slow.out" 2>&1 &
	lpid=$!
	sleep 2
	mem=$(( $(tcp_mem_kib) - mem0 ))
	rss=$(daemon_rss_kib)
	# the daemon's socket to the backend: a spliced one gets a 4 MiB send
	# buffer (doubled by the kernel), so the psock worker stalls less
	tb=$(ip netns exec "$NS" ss -tmnH state established '( dport = :9001 )' |
		sed -n 's/.*skmem:([^)]*,tb\([0-9]*\),.*/\1/p' | head -n1)
	if [ $path = splice ]; then
		[ "${tb:-0}" -ge 8388608 ] || bad "splice: the backend socket's send buffer is ${tb:-?}"
		# TCP memory does not see what the splice queues (orphaned skbs):
		# the verdict must have held the writer back itself
		[ "$(kstat behind)" -gt "$behind0" ] || bad "splice: the verdict never held the writer back"
	fi
	kill -0 $lpid 2>/dev/null || bad "$path: the writer was not held back by the stalled reader"
	wait $lpid || { cat "$TMP/slow.out"; fail "$path: slow reader transfer failed"; }
	grep -q '^ok=1 bad=0' "$TMP/slow.out" || bad "$path: slow reader: $(cat "$TMP/slow.out")"
	[ "$mem" -lt 32768 ] || bad "$path: $mem KiB of TCP memory queued for a stalled reader"
	[ $((rss - rss0)) -lt 4096 ] || bad "$path: daemon RSS grew by $((rss - rss0)) KiB"
	info "$path slow reader: writer held back; TCP memory ${mem} KiB; send buffer $tb; daemon RSS +$((rss - rss0)) KiB"
done
result "slow reader: writer held back, TCP memory and daemon RSS bounded, 64 MiB exact on both paths"

# --- event-loop ends ---------------------------------------------------------------
for size in 64 16384; do
	ip netns exec "$NS" "$SHTRAFFIC" epoll-server 9201 --bind ::1 --size $size >"$TMP/echo.out" 2>&1 &
	epid=$!
	BG_PIDS+=($epid)
	wait_port 9201
	for path in splice relay; do
		[ $path = splice ] && port=8090 || port=8091
		out=$(ip netns exec "$NS" "$SHTRAFFIC" rr-client ::1 $port --size $size --count 1000 --timeout-ms 5000) ||
			bad "$path: epoll round trips of $size B stalled or failed: $out"
		info "$path epoll $size B: $out"
	done
	kill $epid; wait $epid 2>/dev/null
done
result "event loop: an epoll backend answered 2 x 2 x 1000 round trips through both paths, none stalled"

# --- nothing left behind -----------------------------------------------------------
wait_until 5 kstat_is entries 0 || bad "splice map entries left: $(kstat entries)"
[ "$(kstat redirect_fail)" = 0 ] || bad "redirect failures: $(kstat redirect_fail)"
stop_daemon
stop_backend 1
finish
