#!/usr/bin/env bash
# Two processes in an accelerated scope exchange 64 MiB each way (IPv4 to a
# dual-stack listener, so one end is v4-mapped) and 16 MiB each way over
# IPv6: every byte checked in order on both ends; the sk_msg counters carry
# the bytes; the namespace's TCP segment counter shows they were not TCP.
. "$(dirname "$0")/lib.sh"

default_config >"$TMP/cfg.yaml"
start_daemon "$TMP/cfg.yaml"
MESH=$TEST_CG/mesh

segs0=$(tcp_outsegs "$NS")
MiB=$((1024 * 1024))
pair "$MESH" "$MESH" "$NS" 127.0.0.1 7001 $((64 * MiB)) 2 1
segs1=$(tcp_outsegs "$NS")
red=$(stat mesh bytes_redirected)
nopeer=$(stat mesh bytes_no_peer)
ins=$(stat mesh inserts)
info "v4: redirected $red bytes, $nopeer bytes by TCP, $((segs1 - segs0)) TCP segments, $ins inserts"
[ "$ins" = 2 ] || bad "expected 2 sockets inserted, got $ins"
total=$((2 * 64 * MiB))
[ $((red + nopeer)) -ge $total ] || bad "counters account for $((red + nopeer)) of $total bytes"
[ $((red * 100)) -ge $((total * 99)) ] || bad "only $red of $total bytes were redirected"
# Over TCP, 128 MiB would be at least 2048 segments even at 64 KiB each.
[ $((segs1 - segs0)) -lt 100 ] || bad "$((segs1 - segs0)) TCP segments: the payload went through TCP"
result "v4 128 MiB: $red bytes redirected, $((segs1 - segs0)) TCP segments, $(eagains "$NS" 7001) spurious EAGAIN"

pair "$MESH" "$MESH" "$NS" ::1 7002 $((16 * MiB)) 4 3
segs2=$(tcp_outsegs "$NS")
red2=$(stat mesh bytes_redirected)
ins=$(stat mesh inserts)
[ "$ins" = 4 ] || bad "expected 4 sockets inserted after the IPv6 pair, got $ins"
[ $(((red2 - red) * 100)) -ge $((2 * 16 * MiB * 99)) ] || bad "IPv6: only $((red2 - red)) bytes redirected"
[ $((segs2 - segs1)) -lt 100 ] || bad "IPv6: $((segs2 - segs1)) TCP segments"
result "v6 32 MiB: $((red2 - red)) bytes redirected, $((segs2 - segs1)) TCP segments"
[ "$(stat mesh insert_fail)" = 0 ] || bad "insert failures: $(stat mesh insert_fail)"
stop_daemon
finish
