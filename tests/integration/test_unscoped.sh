#!/usr/bin/env bash
# A process outside every scope still works and is not accelerated; a pair
# where only the server is in scope is not accelerated either (no peer).
. "$(dirname "$0")/lib.sh"

default_config >"$TMP/cfg.yaml"
start_daemon "$TMP/cfg.yaml"
MESH=$TEST_CG/mesh OUT=$TEST_CG/outside
MiB=$((1024 * 1024))

segs0=$(tcp_outsegs "$NS")
pair "$OUT" "$OUT" "$NS" 127.0.0.1 7101 $((16 * MiB)) 2 1
segs1=$(tcp_outsegs "$NS")
[ "$(stat mesh scoped_sockets)" = 0 ] || bad "sockets outside the scope were tagged"
[ "$(stat mesh inserts)" = 0 ] || bad "sockets outside the scope were inserted"
[ $((segs1 - segs0)) -ge 256 ] || bad "only $((segs1 - segs0)) TCP segments for 32 MiB outside the scope"
result "outside: 32 MiB over TCP, $((segs1 - segs0)) segments, nothing tagged"

pair "$MESH" "$OUT" "$NS" 127.0.0.1 7102 $((4 * MiB)) 4 3
[ "$(stat mesh inserts)" = 1 ] || bad "expected only the server socket inserted"
[ "$(stat mesh bytes_redirected)" = 0 ] || bad "bytes were redirected with no peer in scope"
nopeer=$(stat mesh bytes_no_peer)
[ "$nopeer" -ge $((4 * MiB)) ] || bad "the server's sends ($nopeer B) were not passed to TCP"
result "half in scope: server inserted, its $nopeer bytes passed to TCP"
stop_daemon
finish
