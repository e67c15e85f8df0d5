#!/usr/bin/env bash
# data-path auto goes back too: a chatty connection moved to the kernel
# splice that then carries bulk (4 MiB within 100 ms one way) is moved back
# to the relay, live, in the middle of a 64 MiB message echoed as it
# arrives, with bytes queued both ways and in the kernel's queue to the
# peer; every byte arrives in order and the conversation goes on on the
# relay. The verdict's own counters show the telling and the bytes passed
# up after the move; explain shows the open connection relayed for bulk and
# counts it when it closes. A chatty connection of small messages stays
# spliced. Every spliced pair, data-path splice too, goes back when its
# reader falls 4 MiB behind (flow control); data-path splice never for bulk.
. "$(dirname "$0")/lib.sh"
[ "$(nproc)" -ge 2 ] || fail "needs 2 CPUs"

cat >"$TMP/proxy.yaml" <<CFG
services:
  - {name: chat, listen: 127.0.0.1:8090, auto-min-idle: 0, backends: [127.0.0.1:9010]}
  - {name: pinned, listen: 127.0.0.1:8091, data-path: splice, backends: [127.0.0.1:9010]}
  - {name: refill, listen: 127.0.0.1:8092, auto-min-idle: 0, backends: [127.0.0.1:9011]}
  - {name: oneway, listen: 127.0.0.1:8093, auto-min-idle: 0, backends: [127.0.0.1:9012]}
  - {name: web, listen: 127.0.0.1:8094, auto-min-idle: 0, backends: [127.0.0.1:9013]}
  - {name: down, listen: 127.0.0.1:8095, auto-min-idle: 0, backends: [127.0.0.1:9014]}
  - {name: paused, listen: 127.0.0.1:8096, data-path: splice, timeouts: {drain: 1s, idle: 20s},
     backends: [127.0.0.1:9015]}
  - {name: stalled, listen: 127.0.0.1:8097, data-path: splice, backends: [127.0.0.1:9016]}
  - {name: stalledauto, listen: 127.0.0.1:8098, auto-min-idle: 0, backends: [127.0.0.1:9016]}
CFG
ip netns exec "$NS" python3 "$ROOT/tests/tools/chat.py" server 9010 >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_port 9010
ip netns exec "$NS" python3 "$ROOT/tests/tools/refill.py" server 9011 --bytes $((64 << 20)) \
	>"$TMP/refill.srv" 2>&1 &
BG_PIDS+=($!)
wait_port 9011
ip netns exec "$NS" python3 "$ROOT/tests/tools/refill.py" down-server 9014 --bytes $((64 << 20)) \
	--tail $((1 << 20)) >"$TMP/down.srv" 2>&1 &
BG_PIDS+=($!)
wait_port 9014
ip netns exec "$NS" python3 "$ROOT/tests/tools/refill.py" down-server 9016 --bytes $((128 << 20)) \
	--tail $((1 << 20)) --rate 25 >"$TMP/stall.srv" 2>&1 &
BG_PIDS+=($!)
wait_port 9016
# on CPU 1, so that clients on CPU 0 are worth splicing (test_proxy_auto)
nsenter --net="/run/netns/$NS" taskset -c 1 "$SOCKHOPD" -c "$TMP/proxy.yaml" --pin-dir "$PIN" \
	--control "$CTL" >>"$TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
ready() { grep -q 'ready:' "$TMP/daemon.log"; }
wait_until 10 ready || fail "sockhopd did not start: $(cat "$TMP/daemon.log")"

# talk PORT ARGS...: one checked conversation from CPU 0, in the background;
# its output in $TMP/talk.out, its pid in TALK
talk() {
	local port=$1; shift
	ip netns exec "$NS" taskset -c 0 python3 "$ROOT/tests/tools/chat.py" client 127.0.0.1 "$port" \
		--conns 1 --parallel 1 --max 2000 "$@" >"$TMP/talk.out" 2>&1 &
	TALK=$!
}
explain() { "$SOCKHOP" --control "$CTL" "$@" explain chat; }

# 20 small messages (promoted after 4 round trips), the 21st of 64 MiB,
# then 19 small ones; open 3 s after the last echo
told0=$(kstat bulk_told) held0=$(kstat bytes_held) red0=$(kstat bytes_redirected)
relay0=$(svc chat bytes_relay)
talk 8090 --exchanges 40 --bulk-at 21 --bulk $((64 << 20)) --linger-ms 3000
open_bulk() { explain -j | jq -e '.open.relayed == 1 and .open.relayed_by.bulk == 1' >/dev/null; }
wait_until 30 open_bulk || bad "the open connection is not shown relayed for bulk: $(explain -j)"
grep -Eq '^ +0 bulk +\(1 open now\): moved back from the kernel splice' <<<"$(explain)" ||
	bad "explain text of the open moved-back connection: $(explain)"
wait $TALK || bad "the conversation: $(cat "$TMP/talk.out")"
grep -q 'ok=1 bad=0' "$TMP/talk.out" || bad "the conversation's bytes: $(cat "$TMP/talk.out")"
[ "$(svc chat conns_promoted)" = 1 ] && [ "$(svc chat conns_demoted)" = 1 ] ||
	bad "promoted $(svc chat conns_promoted), moved back $(svc chat conns_demoted) (expected 1 and 1)"
told=$(( $(kstat bulk_told) - told0 )) held=$(( $(kstat bytes_held) - held0 ))
red=$(( $(kstat bytes_redirected) - red0 )) relayed=$(( $(svc chat bytes_relay) - relay0 ))
# the verdict told, redirected part of the big message and passed the rest
# up; the relay carried what was passed up and the 19 messages after it
[ "$told" -ge 1 ] && [ "$red" -ge $((4 << 20)) ] && [ "$held" -gt 0 ] ||
	bad "verdict: told $told, redirected $red bytes, passed up after the move $held"
[ "$relayed" -ge "$held" ] || bad "the relay carried $relayed bytes, less than the $held passed up to it"
[ "$(kstat bulk_lost)" = 0 ] || bad "bulk records lost: $(kstat bulk_lost)"
wait_until 5 svc_is chat 'auto_stayed.bulk' 1 || bad "the closed connection not counted bulk: $(explain -j)"
explain -j | jq -e '.carried.promoted == 1 and .carried.demoted == 1 and .open.relayed == 0' >/dev/null ||
	bad "explain -j after the close: $(explain -j)"
grep -Eq '\(1 moved from the relay, 1 of them back to it, [01] after the kernel.s queue\)' <<<"$(explain)" ||
	bad "explain text after the close: $(explain)"
wait_until 5 kstat_is entries 0 || bad "splice map entries left: $(kstat entries)"
result "a chatty connection moved to the kernel splice went back to the relay in the middle of a 64 MiB echoed message (told $told, $red bytes redirected, $held passed up after the move, $relayed relayed), every byte in order, 19 more messages on the relay; explain showed it open relayed for bulk and counted it at its close"

# the slot of a moved-back pair is reused: a new conversation splices again
# (its hold was cleared), and small messages alone never move it back
told0=$(kstat bulk_told) red0=$(kstat bytes_redirected)
talk 8090 --exchanges 200
wait $TALK || bad "the small conversation: $(cat "$TMP/talk.out")"
grep -q 'ok=1 bad=0' "$TMP/talk.out" || bad "the small conversation's bytes: $(cat "$TMP/talk.out")"
[ "$(svc chat conns_promoted)" = 2 ] && [ "$(svc chat conns_demoted)" = 1 ] ||
	bad "small messages: promoted $(svc chat conns_promoted) (expected 2), moved back $(svc chat conns_demoted) (expected 1)"
[ $(( $(kstat bytes_redirected) - red0 )) -gt 0 ] && [ "$(kstat bulk_told)" = "$told0" ] ||
	bad "small messages: $(( $(kstat bytes_redirected) - red0 )) bytes redirected, told $(( $(kstat bulk_told) - told0 ))"
result "200 small messages after it: spliced again (the slot's hold cleared), never told bulk, every byte in order"

# one way: 20 checked round trips, then 256 MiB from the client only
# (shtraffic, every byte checked against its seed at the backend)
d0=$(svc oneway conns_demoted)
ip netns exec "$NS" taskset -c 0 "$SHTRAFFIC" server 9012 --bind 127.0.0.1 --turns 20 --bytes 0 \
	--peer-seed 9 --peer-bytes $((256 << 20)) >"$TMP/oneway.srv" 2>&1 &
srv=$!
wait_port 9012
out=$(ip netns exec "$NS" taskset -c 0 "$SHTRAFFIC" client 127.0.0.1 8093 --turns 20 --seed 9 \
	--bytes $((256 << 20)) 2>&1) || bad "one-way client: $out"
wait $srv || bad "one-way backend: $(cat "$TMP/oneway.srv")"
[ "$(svc oneway conns_promoted)" = 1 ] && [ $(( $(svc oneway conns_demoted) - d0 )) = 1 ] ||
	bad "one way: promoted $(svc oneway conns_promoted), moved back $(( $(svc oneway conns_demoted) - d0 ))"
result "one way (shtraffic): 20 round trips, then 256 MiB moved back to the relay, every byte checked at the backend"

# a slow reader: its echo of 32 MiB read 256 KiB every 2 ms (at most about
# 125 MiB/s, so the sender fills every queue on the way, the kernel's to
# the peer included) is still moved back, waiting for the redirected bytes
# to reach the peer's socket, and arrives whole
d0=$(svc chat conns_demoted) held0=$(kstat bytes_held)
talk 8090 --exchanges 30 --bulk-at 21 --bulk $((32 << 20)) --bulk-pause-ms 2
wait $TALK || bad "the slow reader's conversation: $(cat "$TMP/talk.out")"
grep -q 'ok=1 bad=0' "$TMP/talk.out" || bad "the slow reader's bytes: $(cat "$TMP/talk.out")"
[ $(( $(svc chat conns_demoted) - d0 )) = 1 ] && [ $(( $(kstat bytes_held) - held0 )) -gt 0 ] ||
	bad "slow reader: moved back $(( $(svc chat conns_demoted) - d0 )), held $(( $(kstat bytes_held) - held0 )) bytes"
result "a slow reader (256 KiB every 2 ms) of a 32 MiB echo: moved back to the relay, every byte in order"

# The move back while the kernel still holds redirected bytes for the peer:
# the stream fills every queue at 25 MiB/s (below the bulk rate) while the
# backend reads nothing for 1.5 s, then bursts when it reads again; the
# bytes redirected before the move are then still in the psock's queue to
# the backend socket, and the relay must not write before them.
d0=$(svc refill conns_demoted) w0=$(svc refill demote_waited)
out=$(ip netns exec "$NS" taskset -c 0 python3 "$ROOT/tests/tools/refill.py" client 127.0.0.1 8092 \
	--bytes $((64 << 20)) 2>&1) || bad "the refilled stream: $out $(cat "$TMP/refill.srv")"
[ "$(svc refill conns_promoted)" = 1 ] && [ $(( $(svc refill conns_demoted) - d0 )) = 1 ] ||
	bad "refilled stream: promoted $(svc refill conns_promoted), moved back $(( $(svc refill conns_demoted) - d0 ))"
[ $(( $(svc refill demote_waited) - w0 )) = 1 ] ||
	bad "refilled stream: the move back did not wait for the kernel's queue (demote_waited $(( $(svc refill demote_waited) - w0 )))"
result "a stream that filled every queue slowly, then burst: moved back to the relay while the kernel still held redirected bytes, every byte in order ($out)"

# Real programs: curl fetches 6 small files, then a 64 MiB one, over one
# keep-alive connection from Python's HTTP/1.1 server: moved to the splice
# by the small requests, back to the relay by the big one; checksums match.
mkdir -p "$TMP/www"
for k in 1 2 3 4 5 6; do head -c 2000 /dev/urandom >"$TMP/www/s$k"; done
head -c $((64 << 20)) /dev/urandom >"$TMP/www/big"
(cd "$TMP/www" && exec ip netns exec "$NS" python3 -m http.server 9013 --bind 127.0.0.1 \
	--protocol HTTP/1.1) >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_port 9013
d0=$(svc web conns_demoted)
urls=() outs=()
for k in 1 2 3 4 5 6 big; do
	f=${k/#[0-9]/s$k}
	urls+=("http://127.0.0.1:8094/$f") outs+=(-o "$TMP/got.$f")
done
out=$(ip netns exec "$NS" taskset -c 0 curl -sS --fail "${urls[@]}" "${outs[@]}" 2>&1) ||
	bad "curl: $out"
for f in s1 s2 s3 s4 s5 s6 big; do
	cmp -s "$TMP/www/$f" "$TMP/got.$f" || bad "curl's $f differs from the served file"
done
[ "$(svc web conns_promoted)" = 1 ] && [ $(( $(svc web conns_demoted) - d0 )) = 1 ] &&
	[ "$(svc web accepted)" = 1 ] ||
	bad "curl: accepted $(svc web accepted) (one keep-alive connection expected), promoted $(svc web conns_promoted), moved back $(( $(svc web conns_demoted) - d0 ))"
result "curl over one keep-alive connection to Python's HTTP/1.1 server: 6 small files moved it to the splice, a 64 MiB one back to the relay, every file identical"

# Half-closed after the move: 64 MiB come down to a client that reads
# nothing for 1.5 s, which then sends a 1 MiB tail and shuts down its write
# side. The tail and the FIN reach the client's socket while its psock still
# queues megabytes redirected to it: the passed skbs wait behind them, so a
# FIN read first is early, and the tail must still reach the backend.
out=$(ip netns exec "$NS" taskset -c 0 python3 "$ROOT/tests/tools/refill.py" down-client 127.0.0.1 8095 \
	--bytes $((64 << 20)) --tail $((1 << 20)) 2>&1) || bad "the half-closed client: $out"
wait_until 10 grep -q '^tail' "$TMP/down.srv" || bad "the backend never saw the tail's end"
grep -qx "tail ok $((1 << 20))" "$TMP/down.srv" || bad "the backend's tail: $(cat "$TMP/down.srv")"
[ "$(svc down conns_promoted)" = 1 ] && [ "$(svc down conns_demoted)" = 1 ] ||
	bad "half-closed: promoted $(svc down conns_promoted), moved back $(svc down conns_demoted)"
result "half-closed after the move: a 1 MiB tail and a FIN after 64 MiB for a slow reader reached the backend whole ($(tr '\n' ' ' <"$TMP/down.srv")), the 64 MiB too ($out)"

# A reader that pauses after its backend has finished: 16 MiB sent and
# closed by the backend while the client reads nothing for 4 s. The daemon
# waits for the spliced bytes to reach the client before it passes the FIN
# on; it waits as long as the peer takes bytes, and the idle timeout (20 s)
# bounds a peer that takes none, not the stop's drain timeout (1 s here).
r0=$(svc paused resets)
ip netns exec "$NS" "$SHTRAFFIC" server 9015 --bind 127.0.0.1 --turns 4 --bytes $((16 << 20)) --seed 2 \
	--peer-seed 1 --peer-bytes 4096 >"$TMP/paused.srv" 2>&1 &
srv=$!
wait_port 9015
out=$(ip netns exec "$NS" taskset -c 0 "$SHTRAFFIC" client 127.0.0.1 8096 --turns 4 --bytes 4096 --seed 1 \
	--peer-seed 2 --peer-bytes $((16 << 20)) --read-delay-ms 4000 2>&1) || bad "the paused reader: $out"
wait $srv || bad "the paused reader's backend: $(cat "$TMP/paused.srv")"
[ "$(svc paused resets)" = "$r0" ] || bad "the paused reader was reset ($(( $(svc paused resets) - r0 )))"
result "a spliced reader that paused 4 s after its backend had sent 16 MiB and closed got every byte (the wait is bounded by the idle timeout, not the 1 s drain timeout)"

# A reader that stops: 128 MiB come down to a client that reads nothing for
# 6 s, then sends a 1 MiB tail and shuts down its write side. A redirected skb leaves its socket's accounting, so without flow
# control the backend would push all of it into the kernel's queue to the
# client (it did: "held at" never came, 128 MiB sent). The verdict holds
# the backend's socket once 4 MiB wait for the reader, and the pair goes
# to the relay, where TCP's window holds the backend back; data-path splice
# included, as only the relay can read what the verdict then passes up.
# With 4 MiB still queued for the reader, the tail and the FIN reach the
# client's socket behind them: the FIN read first is early, and the move
# waits for the queue.
n=0 behind0=$(kstat behind)
for svc_port in "stalled 8097" "stalledauto 8098"; do
	set -- $svc_port
	n=$((n + 1))
	b0=$(kstat behind)
	ip netns exec "$NS" taskset -c 0 python3 "$ROOT/tests/tools/refill.py" down-client 127.0.0.1 "$2" \
		--bytes $((128 << 20)) --tail $((1 << 20)) --pause-ms 6000 >"$TMP/stall.out" 2>&1 &
	cpid=$!
	held_lines() { [ "$(grep -c '^held at' "$TMP/stall.srv")" -ge "$n" ]; }
	wait_until 6 held_lines || bad "$1: the backend was not held back: $(cat "$TMP/stall.srv")"
	held=$(sed -n 's/^held at //p' "$TMP/stall.srv" | tail -n1)
	[ "${held:-999999999}" -le $((48 << 20)) ] || bad "$1: the backend got ${held:-?} bytes out to a reader that reads nothing"
	wait $cpid || bad "$1: the stalled reader's bytes: $(cat "$TMP/stall.out")"
	tails() { [ "$(grep -c '^tail' "$TMP/stall.srv")" -ge "$n" ]; }
	wait_until 10 tails || bad "$1: the backend never saw the tail's end"
	[ "$(grep -cx "tail ok $((1 << 20))" "$TMP/stall.srv")" = "$n" ] || bad "$1: the tail: $(cat "$TMP/stall.srv")"
	[ "$(svc "$1" conns_demoted)" = 1 ] || bad "$1: moved back $(svc "$1" conns_demoted)"
	info "$1: held at $((held >> 10)) KiB of 128 MiB; readers behind $(( $(kstat behind) - b0 )), moved back for it $(svc "$1" demote_behind)"
done
[ "$(svc stalled demote_behind)" = 1 ] && [ "$(svc stalled demote_waited)" = 1 ] &&
	[ $(( $(kstat behind) - behind0 )) -ge 1 ] ||
	bad "data-path splice: moved back as behind $(svc stalled demote_behind), after the queue $(svc stalled demote_waited), the verdict held $(( $(kstat behind) - behind0 ))"
wait_until 5 kstat_is entries 0 || bad "splice map entries left: $(kstat entries)"
result "a reader that stops: the backend held back at most 48 MiB ahead of it on both paths (data-path splice moved to the relay as the reader fell behind), then all 128 MiB in order and the 1 MiB tail behind the FIN (the splice's move waited for the kernel's queue)"

# data-path splice asked for the kernel path: bulk stays there, unless its
# reader falls behind (Python reads the echo 256 KiB at a time)
told0=$(kstat bulk_told) held0=$(kstat bytes_held)
talk 8091 --exchanges 10 --bulk-at 5 --bulk $((64 << 20))
wait $TALK || bad "the spliced conversation: $(cat "$TMP/talk.out")"
grep -q 'ok=1 bad=0' "$TMP/talk.out" || bad "the spliced conversation's bytes: $(cat "$TMP/talk.out")"
[ "$(kstat bulk_told)" = "$told0" ] && [ "$(svc pinned conns_demoted)" = "$(svc pinned demote_behind)" ] ||
	bad "data-path splice: told $(( $(kstat bulk_told) - told0 )), moved back $(svc pinned conns_demoted), as behind $(svc pinned demote_behind)"
result "data-path splice: a 64 MiB echoed message was never told bulk (moved back only as its reader fell behind: $(svc pinned demote_behind), $(( $(kstat bytes_held) - held0 )) bytes held), every byte in order"

# The stopped readers above make TCP probe zero windows and retransmit; a
# retransmission that begins before bytes already had is cut by the verdict
# (kern/README.md, "Retransmitted bytes"): before the cut, one run in two
# repeated 64 KiB here. Not every run meets one; every byte was checked.
[ "$(kstat overlap_reset)" = 0 ] || bad "retransmissions too old to cut: $(kstat overlap_reset)"
info "retransmitted skbs cut to their new bytes: $(kstat old_skbs) ($(kstat old_bytes) old bytes)"
stop_daemon
finish
