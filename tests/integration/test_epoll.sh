#!/usr/bin/env bash
# An epoll server in an accelerated scope answers 1000 requests of 64 B and
# 1000 of 16 KiB without a stall (each reply due within 5 s). This kernel
# stalls epoll read wakeups for sockets in a sockmap without a verdict
# program; this test hangs if the sk_skb verdict is ever left out.
. "$(dirname "$0")/lib.sh"

default_config >"$TMP/cfg.yaml"
start_daemon "$TMP/cfg.yaml"
MESH=$TEST_CG/mesh

for size in 64 16384; do
	port=$((7200 + size % 1000))
	run_in "$MESH" "$NS" "$SHTRAFFIC" epoll-server $port --size $size >"$TMP/srv.$size" 2>&1 &
	BG_PIDS+=($!)
	before=$(stat mesh msg_redirected)
	run_in "$MESH" "$NS" "$SHTRAFFIC" rr-client 127.0.0.1 $port --size $size --count 1000 \
		--timeout-ms 5000 --seed $size >"$TMP/cli.$size" 2>&1
	rc=$?
	cat "$TMP/cli.$size"
	[ $rc = 3 ] && fail "the epoll server stalled ($size B requests)"
	[ $rc = 0 ] || bad "request/response with $size B failed ($rc)"
	after=$(stat mesh msg_redirected)
	[ $((after - before)) -ge 2000 ] || bad "only $((after - before)) messages redirected for 1000 round trips"
	result "$size B: 1000 round trips, $((after - before)) messages redirected, $(cat "$TMP/cli.$size")"
done
stop_daemon
finish
