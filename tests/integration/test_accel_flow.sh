#!/usr/bin/env bash
# The mesh keeps TCP's flow control. An accelerated sender whose peer does
# not read is held back after about what plain TCP allows (measured beside
# it, in the same test); it resumes as the peer reads; every byte arrives
# in order (seeded streams checked byte by byte) across every switch
# between redirecting and being held. Then the kernel flaw that breaks a
# blocking reader, the canary that finds it, and the rule that avoids it.
# Every case is reported; the test fails at the end if any did.
. "$(dirname "$0")/lib.sh"

PLAIN=$TEST_CG/plain		# in no scope: plain TCP, for comparison
mkdir -p "$PLAIN"

cat >"$TMP/cfg.yaml" <<CFG
scopes:
  - name: mesh
    cgroup: $TEST_CG/mesh
    accelerate-buffer: 1MiB
    rules:
      - {action: no-accelerate, port: 7700}
      - {action: accelerate, destination: 127.0.0.0/8}
      - {action: accelerate, destination: '::1'}
CFG
start_daemon "$TMP/cfg.yaml"

# snap: the mesh scope's counters now; delta A B FIELD: B.FIELD - A.FIELD
snap() { "$SOCKHOP" --pin-dir "$PIN" stats -j | jq -c '.scopes[] | select(.scope == "mesh")'; }
delta() { echo $(( $(jq ".$3" <<<"$2") - $(jq ".$3" <<<"$1") )); }
# carried A B: bytes the mesh's senders sent between two snaps, by any path.
# Exact for blocking writers. After a non-blocking send the TCP path could
# not take whole, the kernel carries the next send on the previous verdict
# without running the program, so a probing writer's count may fall short
# by at most what the probe wrote (kern/README.md, "How acceleration works").
carried() {
	echo $(( $(delta "$1" "$2" bytes_redirected) + $(delta "$1" "$2" bytes_held) +
		 $(delta "$1" "$2" bytes_ordered) + $(delta "$1" "$2" bytes_no_peer) ))
}
tcp_mem_pages() { awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat; }
field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" "$2" | tail -1; }
ST=$SHTRAFFIC

# --- 1. a reader that does not read ------------------------------------------
# The server reads nothing for 4 s, then drains 16 MiB and checks them. The
# client writes without blocking for 2 s: what it got away with is the bound.
never_read() {	# CGROUP PORT TAG
	local cg=$1 port=$2 tag=$3 m0 m1 spid
	m0=$(tcp_mem_pages)
	run_in "$cg" "$NS" "$ST" server "$port" --bind 127.0.0.1 --bytes 0 --peer-seed 11 \
		--peer-bytes 16777216 --read-delay-ms 4000 >"$TMP/nr-s.$tag" 2>&1 &
	spid=$!
	run_in "$cg" "$NS" "$ST" client 127.0.0.1 "$port" --bytes 16777216 --seed 11 \
		--max-chunk 1048576 --probe-ms 2000 >"$TMP/nr-c.$tag" 2>&1 &
	local cpid=$!
	# the machine while both ends sit still: the probe is over, the reader
	# has not begun (it begins at 4 s)
	wait_until 5 grep -q '^probed' "$TMP/nr-c.$tag" || bad "$tag: the probe did not end"
	m1=$(tcp_mem_pages)
	wait $cpid || bad "$tag never-read client: $(cat "$TMP/nr-c.$tag")"
	wait $spid || bad "$tag never-read server: $(cat "$TMP/nr-s.$tag")"
	eval "MEM_$tag=$((m1 - m0))"
}
s0=$(snap)
never_read "$PLAIN" 7601 plain
never_read "$TEST_CG/mesh" 7602 mesh
s1=$(snap)
acc_plain=$(field probe_accepted "$TMP/nr-c.plain")
acc_mesh=$(field probe_accepted "$TMP/nr-c.mesh")
[ -n "$acc_mesh" ] && [ -n "$acc_plain" ] && [ "$acc_mesh" -le $((2 * acc_plain)) ] ||
	bad "held back after $acc_mesh bytes, plain TCP after $acc_plain (want at most 2x)"
[ "$(field probe_pollout "$TMP/nr-c.mesh")" = 0 ] || bad "epoll/poll still said POLLOUT while held: $(cat "$TMP/nr-c.mesh")"
blocked=$(field probe_block_ms "$TMP/nr-c.mesh")
awk -v b="$blocked" 'BEGIN { exit !(b >= 1000) }' || bad "the blocking send after the probe waited only ${blocked} ms"
grep -q 'recv=16777216' "$TMP/nr-s.mesh" || bad "the reader did not get all 16 MiB: $(cat "$TMP/nr-s.mesh")"
[ "$MEM_mesh" -le $((2 * MEM_plain + 256)) ] ||
	bad "TCP memory while held: $MEM_mesh pages, plain TCP $MEM_plain (want at most 2x)"
[ "$(delta "$s0" "$s1" holds)" -ge 1 ] && [ "$(delta "$s0" "$s1" resumes)" -ge 1 ] ||
	bad "never-read counters: holds $(delta "$s0" "$s1" holds), resumes $(delta "$s0" "$s1" resumes)"
c=$(carried "$s0" "$s1")
[ "$c" -le 16777216 ] && [ "$c" -ge $((16777216 - acc_mesh)) ] ||
	bad "the mesh's counters carried $c of 16777216 bytes (the probe wrote $acc_mesh)"
[ "$(delta "$s0" "$s1" bytes_redirected)" -gt $((2 << 20)) ] ||
	bad "after the hold the bytes did not go back to redirect: $(delta "$s0" "$s1" bytes_redirected) redirected"
result "never-reading peer: held after $acc_mesh bytes (plain TCP $acc_plain), POLLOUT off, a blocking send waited ${blocked} ms; TCP memory +$MEM_mesh pages (plain +$MEM_plain); 16 MiB exact; $(delta "$s0" "$s1" holds) hold(s), $(delta "$s0" "$s1" resumes) resume(s), $(delta "$s0" "$s1" bytes_redirected) bytes redirected"

# A reload changes the bound in place: a quarter of it holds the sender a
# quarter as far (plus TCP's window and the unsent queue, as before).
sed -i 's/accelerate-buffer: 1MiB/accelerate-buffer: 256KiB/' "$TMP/cfg.yaml"
reloads() { [ "$(grep -c 'reloaded' "$TMP/daemon.log")" -ge "$1" ]; }
kill -HUP "$DAEMON_PID"
wait_until 5 reloads 1 || bad "the reload to 256 KiB: $(tail -2 "$TMP/daemon.log")"
never_read "$TEST_CG/mesh" 7608 small
acc_small=$(field probe_accepted "$TMP/nr-c.small")
[ "$acc_small" -le $((acc_mesh - 256 * 1024)) ] ||
	bad "with accelerate-buffer 256KiB the sender got $acc_small bytes ahead (1 MiB: $acc_mesh)"
sed -i 's/accelerate-buffer: 256KiB/accelerate-buffer: 1MiB/' "$TMP/cfg.yaml"
kill -HUP "$DAEMON_PID"
wait_until 5 reloads 2 || bad "the reload back to 1 MiB: $(tail -2 "$TMP/daemon.log")"
result "reloaded to accelerate-buffer 256KiB: held after $acc_small bytes (1 MiB: $acc_mesh); back to 1 MiB"

# --- 2. a reader at 64 KiB/s for 30 s against a fast writer -------------------
s0=$(snap)
maxmem=0 m0=$(tcp_mem_pages)
run_in "$TEST_CG/mesh" "$NS" "$ST" server 7603 --bind 127.0.0.1 --bytes 0 --peer-seed 12 \
	--peer-bytes 1966080 --read-rate 65536 --max-chunk 65536 >"$TMP/slow-s" 2>&1 &
spid=$!
run_in "$TEST_CG/mesh" "$NS" "$ST" client 127.0.0.1 7603 --bytes 1966080 --seed 12 \
	--max-chunk 262144 --probe-ms 3000 >"$TMP/slow-c" 2>&1 &
cpid=$!
while kill -0 $spid 2>/dev/null; do
	m=$(( $(tcp_mem_pages) - m0 )); [ $m -gt $maxmem ] && maxmem=$m
	sleep 1
done
wait $spid || bad "slow reader: $(cat "$TMP/slow-s")"
wait $cpid || bad "fast writer: $(cat "$TMP/slow-c")"
s1=$(snap)
secs=$(field elapsed "$TMP/slow-s")
acc=$(field probe_accepted "$TMP/slow-c")
awk -v e="$secs" 'BEGIN { exit !(e >= 28 && e < 40) }' || bad "the slow read took ${secs} s, not about 30"
[ "$acc" -le $((2 * acc_plain + 3 * 65536)) ] || bad "the fast writer got $acc bytes ahead in 3 s"
[ "$maxmem" -le $((2 * MEM_plain + 256)) ] || bad "TCP memory during the slow read: up to $maxmem pages"
c=$(carried "$s0" "$s1")
[ "$c" -le 1966080 ] && [ "$c" -ge $((1966080 - acc)) ] ||
	bad "slow read: the counters carried $c of 1966080 bytes (the probe wrote $acc)"
held=$(( $(delta "$s0" "$s1" held_ns) / 1000000000 ))
[ "$(delta "$s0" "$s1" holds)" -ge 1 ] && [ $held -ge 10 ] || bad "slow read: holds $(delta "$s0" "$s1" holds), held ${held} s"
result "reader at 64 KiB/s for ${secs} s: writer $acc bytes ahead after 3 s, TCP memory at most +$maxmem pages, 1966080 bytes exact; held ${held} s in $(delta "$s0" "$s1" holds) hold(s)"

# --- 3. 32 connections whose readers stop and go ------------------------------
# Each reader first stops 10 s, then stops 30 ms after every 80 KiB: about
# 100 stops per connection, all 32 at once, 8 MiB each.
s0=$(snap)
run_in "$TEST_CG/mesh" "$NS" "$ST" server 7604 --bind 127.0.0.1 --accept 32 --bytes 0 \
	--peer-seed 13 --peer-bytes 8388608 --read-delay-ms 10000 --stall-every 81920 --stall-ms 30 \
	>"$TMP/many-s" 2>&1 &
spid=$!
cpids=()
for i in $(seq 32); do
	run_in "$TEST_CG/mesh" "$NS" "$ST" client 127.0.0.1 7604 --bytes 8388608 --seed 13 \
		--max-chunk 1048576 >"$TMP/many-c.$i" 2>&1 &
	cpids+=($!)
done
for p in "${cpids[@]}"; do wait "$p" || bad "a stop-and-go writer failed: $(cat "$TMP"/many-c.* | grep -v '^sent' | head -3)"; done
wait $spid || bad "stop-and-go readers: $(grep -v '^sent=' "$TMP/many-s" | head -5)"
s1=$(snap)
ok=$(grep -c 'recv=8388608 ' "$TMP/many-s")
[ "$ok" = 32 ] || bad "stop-and-go: $ok of 32 streams exact"
[ "$(carried "$s0" "$s1")" = $((32 * 8388608)) ] || bad "stop-and-go: the counters carried $(carried "$s0" "$s1") of $((32 * 8388608)) bytes"
[ "$(delta "$s0" "$s1" holds)" -ge 32 ] && [ "$(delta "$s0" "$s1" resumes)" -ge 32 ] ||
	bad "stop-and-go: holds $(delta "$s0" "$s1" holds), resumes $(delta "$s0" "$s1" resumes)"
result "32 connections, readers stopped 10 s then about 100 times each: $ok of 32 x 8 MiB exact; $(delta "$s0" "$s1" holds) holds, $(delta "$s0" "$s1" resumes) resumes, $(delta "$s0" "$s1" bytes_held) bytes by TCP while held"

# --- 4. random sizes from 1 B to 1 MiB, both ways at once --------------------
# Both readers stall now and then, so both directions are held and resume
# while the other flows. IPv4, IPv6, and IPv4 to a dual-stack (v4-mapped) end.
both_ways() {	# TAG BIND CONNECT PORT
	local tag=$1 bind=$2 addr=$3 port=$4 spid
	run_in "$TEST_CG/mesh" "$NS" "$ST" server "$port" --bind "$bind" --bytes 67108864 --seed 21 \
		--peer-seed 22 --peer-bytes 67108864 --max-chunk 1048576 --stall-every 4194304 \
		--stall-ms 150 >"$TMP/bw-s.$tag" 2>&1 &
	spid=$!
	run_in "$TEST_CG/mesh" "$NS" "$ST" client "$addr" "$port" --bytes 67108864 --seed 22 \
		--peer-seed 21 --peer-bytes 67108864 --max-chunk 1048576 --stall-every 3145728 \
		--stall-ms 150 >"$TMP/bw-c.$tag" 2>&1 || bad "$tag both ways, client: $(cat "$TMP/bw-c.$tag")"
	wait $spid || bad "$tag both ways, server: $(cat "$TMP/bw-s.$tag")"
}
for spec in "ipv4 127.0.0.1 127.0.0.1 7605" "ipv6 ::1 ::1 7606" "v4mapped :: 127.0.0.1 7607"; do
	set -- $spec
	s0=$(snap)
	both_ways "$@"
	s1=$(snap)
	[ "$(carried "$s0" "$s1")" = $((2 * 67108864)) ] || bad "$1: the counters carried $(carried "$s0" "$s1") of $((2 * 67108864)) bytes"
	# the readers (which check every byte) are slower than the writers:
	# both directions are held and resume over and over
	[ "$(delta "$s0" "$s1" holds)" -ge 10 ] && [ "$(delta "$s0" "$s1" resumes)" -ge 10 ] ||
		bad "$1: only $(delta "$s0" "$s1" holds) holds, $(delta "$s0" "$s1" resumes) resumes"
	[ "$(delta "$s0" "$s1" bytes_redirected)" -gt $((16 << 20)) ] ||
		bad "$1: only $(delta "$s0" "$s1" bytes_redirected) bytes redirected between the holds"
	info "$1: $(tail -1 "$TMP/bw-c.$1")"
	result "$1: 64 MiB each way at once, sizes 1 B-1 MiB, both readers stalling: exact; $(delta "$s0" "$s1" holds) holds, $(delta "$s0" "$s1" resumes) resumes, $(( $(delta "$s0" "$s1" bytes_redirected) >> 20 )) MiB redirected"
done

# --- 5. the blocking reader's kernel flaw -------------------------------------
flaws=$("$SOCKHOP" --pin-dir "$PIN" status -j | jq -c .kernel_flaws)
[ "$flaws" != null ] || bad "the start-up canary did not run"
run_duplex() {	# PORT TAG
	run_in "$TEST_CG/mesh" "$NS" python3 "$ROOT/tests/tools/duplex.py" server "$1" >"$TMP/dx-s.$2" 2>&1 &
	local spid=$!
	wait_port "$1"
	run_in "$TEST_CG/mesh" "$NS" python3 "$ROOT/tests/tools/duplex.py" client 127.0.0.1 "$1" >"$TMP/dx-c.$2" 2>&1
	local rc=$?
	wait $spid
	return $rc
}
s0=$(snap)
"$SOCKHOP" --pin-dir "$PIN" explain "$TEST_CG/mesh" tcp 127.0.0.1 7700 | grep -q '^accelerate: no, by rules\[0\] (no-accelerate)$' ||
	bad "explain on the excluded port: $("$SOCKHOP" --pin-dir "$PIN" explain "$TEST_CG/mesh" tcp 127.0.0.1 7700)"
"$SOCKHOP" --pin-dir "$PIN" explain "$TEST_CG/mesh" tcp 127.0.0.1 7701 | grep -q '^accelerate: yes, by rules\[1\]$' ||
	bad "explain on an accelerated port"
run_duplex 7700 excluded || bad "a full-duplex pair on the excluded port failed: $(cat "$TMP/dx-c.excluded")"
s1=$(snap)
[ "$(delta "$s0" "$s1" excluded)" = 2 ] && [ "$(delta "$s0" "$s1" inserts)" = 0 ] ||
	bad "the no-accelerate port: excluded $(delta "$s0" "$s1" excluded), inserted $(delta "$s0" "$s1" inserts)"
run_duplex 7701 accelerated
rc=$?
if grep -q recv-eagain <<<"$flaws"; then
	[ $rc != 0 ] && grep -q 'eagain=[1-9]' "$TMP/dx-c.accelerated" ||
		bad "the canary reports recv-eagain, yet an accelerated full-duplex pair did not hit it: $(cat "$TMP/dx-c.accelerated")"
	"$SOCKHOP" --pin-dir "$PIN" status | grep -q '^  recv-eagain: a thread blocked in recv()' || bad "status does not list recv-eagain"
	verdict="the canary found it, an accelerated pair hits it ($(cat "$TMP/dx-c.accelerated"))"
else
	[ $rc = 0 ] || bad "no flaw reported, yet the accelerated full-duplex pair failed: $(cat "$TMP/dx-c.accelerated")"
	verdict="not on this kernel"
fi
result "blocking reader + writer thread: recv-eagain $verdict; on a no-accelerate port the same pair works ($(cat "$TMP/dx-c.excluded")), 2 sockets excluded"

# --- 6. a reader closed or killed with bytes unread ---------------------------
# Plain TCP resets such a connection; the socket map hides the bytes from
# close(), so the daemon aborts the held writer instead. Either way its next
# send fails at once, not after TCP's retries.
CLOSER=$ROOT/tests/tools/closer.py
s0=$(snap)
for how in kill close; do
	run_in "$PLAIN" "$NS" python3 "$CLOSER" $((7740 + ${#how})) $how >"$TMP/cl-plain.$how" 2>&1
	run_in "$TEST_CG/mesh" "$NS" python3 "$CLOSER" $((7750 + ${#how})) $how >"$TMP/cl-mesh.$how" 2>&1
	for w in plain mesh; do
		ms=$(field ms "$TMP/cl-$w.$how")
		[ -n "$ms" ] && [ "$ms" -ge 0 ] && [ "$ms" -lt 2000 ] ||
			bad "reader $how with bytes unread: the $w writer: $(cat "$TMP/cl-$w.$how")"
	done
done
s1=$(snap)
[ "$(delta "$s0" "$s1" closed_unread)" -ge 2 ] ||
	bad "closed_unread counted $(delta "$s0" "$s1" closed_unread), expected 2"
[ "$(grep -c 'mesh: aborted' "$TMP/daemon.log")" -ge 2 ] || bad "the daemon logged no abort"
result "reader killed / closed with bytes unread: the held writer failed in $(field ms "$TMP/cl-mesh.kill") / $(field ms "$TMP/cl-mesh.close") ms ($(sed 's/ .*//' "$TMP/cl-mesh.kill")), plain TCP in $(field ms "$TMP/cl-plain.kill") / $(field ms "$TMP/cl-plain.close") ms; $(delta "$s0" "$s1" closed_unread) peers aborted"

# --- 7. the application's own buffer sizes -----------------------------------
# A reader that set SO_RCVBUF 16 KiB holds the writer back at about that,
# not at the scope's 1 MiB.
run_in "$TEST_CG/mesh" "$NS" python3 "$CLOSER" 7761 ahead 16384 >"$TMP/ahead.mesh" 2>&1
run_in "$TEST_CG/mesh" "$NS" python3 "$CLOSER" 7762 ahead >"$TMP/ahead.mesh-default" 2>&1
small=$(field ahead "$TMP/ahead.mesh") big=$(field ahead "$TMP/ahead.mesh-default")
[ -n "$small" ] && [ -n "$big" ] && [ "$small" -lt 524288 ] && [ "$big" -ge 1048576 ] ||
	bad "SO_RCVBUF 16 KiB: the writer got $small bytes ahead (unset: $big)"
result "a reader with SO_RCVBUF 16 KiB held the writer after $small bytes (unset: $big)"

# `sockhop sockets` (run in the sockets' netns) shows what ss cannot: the
# bytes redirected to the reader, and the writer held back.
run_in "$TEST_CG/mesh" "$NS" python3 "$CLOSER" 7763 hold >"$TMP/hold.mesh" 2>&1 &
hold_pid=$!
socks() { nsenter --net="/run/netns/$NS" "$SOCKHOP" --pin-dir "$PIN" sockets -j; }
held_seen() {
	socks | jq -e '[.sockets[] | select(.remote == "127.0.0.1:7763" and .held)] | length == 1' >/dev/null &&
	socks | jq -e '[.sockets[] | select(.local == "127.0.0.1:7763" and .unread >= 1048576)] | length == 1' >/dev/null
}
wait_until 5 held_seen || bad "sockhop sockets: $(socks)"
wait $hold_pid
result "sockhop sockets: the writer held, its reader holding $(field ahead "$TMP/hold.mesh") bytes unread"

# --- 8. the canary's other findings, and config warnings ----------------------
for f in no-waitall no-rcvlowat; do
	"$SOCKHOP" --pin-dir "$PIN" status -j | jq -e --arg f $f '.kernel_flaws | index($f)' >/dev/null ||
		bad "status -j lacks the flaw $f"
done
printf 'scopes:\n  - name: l\n    cgroup: %s/lint\n    create: true\n    accelerate-buffer: 4MiB\n    rules:\n      - {action: no-accelerate, port: 22}\n' \
	"$TEST_CG" >"$TMP/lint.yaml"
"$SOCKHOPD" --check -c "$TMP/lint.yaml" >"$TMP/lint.out" 2>&1
grep -q "lint.yaml:7:9: scopes\[0\].rules\[0\]: this no-accelerate rule changes nothing" "$TMP/lint.out" &&
	grep -q "lint.yaml:5:24: scopes\[0\].accelerate-buffer: has no effect" "$TMP/lint.out" ||
	bad "lint warnings: $(cat "$TMP/lint.out")"
result "status lists no-waitall and no-rcvlowat; --check warns of a no-accelerate rule and an accelerate-buffer that do nothing"

stop_daemon
finish
