#!/usr/bin/env bash
# Stop in the default mode leaves nothing attached or pinned; stop with
# --keep leaves acceleration working with no daemon, and a restart adopts
# the kept state (counters continue) and then removes it on a full stop.
. "$(dirname "$0")/lib.sh"

default_config >"$TMP/cfg.yaml"
MESH=$TEST_CG/mesh
MiB=$((1024 * 1024))
attached() { bpftool cgroup show "$MESH" 2>/dev/null | grep -cE 'sock_ops|sock_create'; }

info "default stop"
start_daemon "$TMP/cfg.yaml"
pair "$MESH" "$MESH" "$NS" 127.0.0.1 7401 $MiB 2 1
[ "$(stat mesh inserts)" = 2 ] || bad "not accelerated while running"
[ "$(attached)" = 2 ] || bad "expected sockops and sock_create attached to $MESH"
stop_daemon
[ ! -e "$PIN" ] || bad "pins left after a default stop: $(ls -R "$PIN")"
[ "$(attached)" = 0 ] || bad "programs still attached after a default stop"
segs0=$(tcp_outsegs "$NS")
pair "$MESH" "$MESH" "$NS" 127.0.0.1 7402 $((8 * MiB)) 4 3
segs1=$(tcp_outsegs "$NS")
[ $((segs1 - segs0)) -ge 64 ] || bad "traffic after a default stop still skips TCP"
result "default stop: 0 pins, 0 attachments, traffic back on TCP ($((segs1 - segs0)) segments)"

info "keep stop"
start_daemon "$TMP/cfg.yaml" --keep
stop_daemon
[ -d "$PIN/maps" ] && [ -d "$PIN/links" ] || bad "--keep removed the pins"
[ "$(attached)" = 2 ] || bad "--keep detached the programs"
"$SOCKHOP" --pin-dir "$PIN" status | grep -q 'not running; kernel paths kept' ||
	bad "sockhop status does not report the kept state"
segs0=$(tcp_outsegs "$NS")
pair "$MESH" "$MESH" "$NS" 127.0.0.1 7403 $((8 * MiB)) 6 5
segs1=$(tcp_outsegs "$NS")
red=$(stat mesh bytes_redirected)
[ "$red" -ge $((2 * 8 * MiB * 99 / 100)) ] || bad "no daemon: only $red bytes redirected"
[ $((segs1 - segs0)) -lt 100 ] || bad "no daemon: $((segs1 - segs0)) TCP segments"
result "keep stop: accelerated with no daemon ($red bytes redirected)"

info "restart adopts"
start_daemon "$TMP/cfg.yaml"
grep -q 'ready: 1 scope, 0 services, pins in .*(adopted)' "$TMP/daemon.log" || bad "the restart did not adopt"
[ "$(attached)" = 2 ] || bad "adoption changed the attachments: $(attached)"
pair "$MESH" "$MESH" "$NS" 127.0.0.1 7404 $MiB 8 7
red2=$(stat mesh bytes_redirected)
[ "$red2" -ge $((red + 2 * MiB)) ] || bad "after adoption: counters $red -> $red2"
stop_daemon
[ ! -e "$PIN" ] || bad "pins left after the adopting daemon's default stop"
[ "$(attached)" = 0 ] || bad "programs still attached after the adopting daemon's stop"
result "restart adopted the kept state, counters continued ($red -> $red2), full stop cleaned"

# A default stop while a stalled reader holds redirected bytes in its queue:
# the sockets' psocks hold the programs, which hold sock_hash, so the map
# outlives its pin until these connections close; nothing is lost.
info "default stop with bytes queued to a stalled reader"
start_daemon "$TMP/cfg.yaml"
run_in "$MESH" "$NS" "$SHTRAFFIC" server 7405 --bytes 0 --peer-seed 9 --peer-bytes 2000000 \
	--read-delay-ms 1500 >"$TMP/stall.s" 2>&1 &
sp=$!
run_in "$MESH" "$NS" "$SHTRAFFIC" client 127.0.0.1 7405 --bytes 2000000 --seed 9 >"$TMP/stall.c" 2>&1 &
cp=$!
for _ in $(seq 50); do [ "$(stat mesh bytes_redirected)" -ge 2000000 ] && break; sleep 0.02; done
queued=$(stat mesh bytes_redirected)
[ "$queued" -ge 2000000 ] || bad "the 2 MB were not redirected before the stop ($queued)"
stop_daemon
wait $cp || bad "the writer failed across the stop: $(cat "$TMP/stall.c")"
wait $sp || bad "the stalled reader lost bytes across the stop: $(cat "$TMP/stall.s")"
[ ! -e "$PIN" ] || bad "pins left"
result "default stop with 2 MB queued to a stalled reader: every byte delivered, in order"
finish
