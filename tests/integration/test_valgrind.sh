#!/usr/bin/env bash
# sockhopd under valgrind memcheck: 2000 proxied connections on each path
# (splice and relay, random sizes, random close side, every fifth reset),
# 2000 accelerated pairs, a reload and a stop. Definitely lost 0 bytes,
# 0 invalid reads, writes or frees, 0 errors outside tests/valgrind.supp
# (which holds only valgrind's incomplete model of bpf(2): see that file).
. "$(dirname "$0")/lib.sh"
command -v valgrind >/dev/null || fail "valgrind is missing (make deps-test)"
CONNS=${VALGRIND_CONNS:-2000}
# valgrind cannot run an ASan binary: in a sanitized suite it checks the
# plain build (make test SANITIZE=... builds it too)
VG_SOCKHOPD=$SOCKHOPD
if [ -n "${SANITIZE:-}" ]; then
	VG_SOCKHOPD=$ROOT/build/sockhopd
	[ -x "$VG_SOCKHOPD" ] || fail "$VG_SOCKHOPD (the plain build valgrind needs) is not built"
fi

cat >"$TMP/proxy.yaml" <<CFG
scopes:
  - name: mesh
    cgroup: $TEST_CG/mesh
    rules:
      - {action: accelerate, destination: 127.0.0.0/8, port: 9101}
services:
$(two_paths_yaml 127.0.0.1:9001 127.0.0.1:9002)
CFG
backend 1 9001
backend 2 9002
VG=$TMP/valgrind.log
nsenter --net="/run/netns/$NS" valgrind --log-file="$VG" --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--suppressions="$ROOT/tests/valgrind.supp" \
	"$VG_SOCKHOPD" -c "$TMP/proxy.yaml" --pin-dir "$PIN" --control "$CTL" >>"$TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
ready() { grep -q 'ready:' "$TMP/daemon.log"; }
wait_until 120 ready || { cat "$TMP/daemon.log"; fail "sockhopd under valgrind not ready in 120 s"; }

idle() { [ "$(svc sp active)" = 0 ] && [ "$(svc rl active)" = 0 ]; }
for port in 8080 8081; do
	load 127.0.0.1 $port --conns "$CONNS" --parallel 8 --up 65536 --down 65536 --random-sizes \
		--mode random --rst-every 5 --timeout-ms 20000
	[ "$(load_field ok)" = $((CONNS * 4 / 5)) ] && [ "$(load_field bad)" = 0 ] ||
		bad "port $port under valgrind: $LOAD"
done
wait_until 30 idle || bad "connections still open"
sp=$(svc sp conns_splice) rl=$(svc rl conns_relay)
[ "$sp" = "$CONNS" ] && [ "$rl" = "$CONNS" ] || bad "spliced $sp, relayed $rl, expected $CONNS each"

run_in "$TEST_CG/mesh" "$NS" "$SHLOAD" backend 9101 --id 7 --bind 127.0.0.1 >"$TMP/backend.7.out" 2>&1 &
BG_PIDS+=($!)
wait_port 9101
LOAD=$(run_in "$TEST_CG/mesh" "$NS" "$SHLOAD" client 127.0.0.1 9101 --conns "$CONNS" --parallel 8 \
	--up 16384 --down 16384 --random-sizes --mode random 2>"$TMP/load.err") || bad "accelerated pairs: $LOAD"
ins=$(stat mesh inserts)
[ "$ins" = $((2 * CONNS)) ] || bad "accelerated: $ins sockets inserted, expected $((2 * CONNS))"

ans=$("$SOCKHOP" --control "$CTL" reload 2>&1) || bad "reload under valgrind: $ans"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"; rc=$?; DAEMON_PID=
[ $rc = 0 ] || bad "sockhopd under valgrind exited $rc"

lost=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$VG" | tr -d ,)
errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$VG")
invalid=$(grep -c 'Invalid read\|Invalid write\|Invalid free\|Mismatched free' "$VG")
suppressed=$(sed -n 's/.*ERROR SUMMARY: .*(suppressed: \([0-9]*\) from.*/\1/p' "$VG")
[ "${lost:-0}" = 0 ] || bad "definitely lost: $lost bytes"
[ "$invalid" = 0 ] || bad "$invalid invalid accesses"
[ "$errors" = 0 ] || { bad "$errors errors"; grep -A12 '^==[0-9]*== [A-Z]' "$VG" | head -60; }
[ -n "$errors" ] || bad "no valgrind summary in $VG"
result "valgrind: $CONNS spliced + $CONNS relayed connections (every fifth reset), $CONNS accelerated pairs, a reload, a stop: definitely lost ${lost:-0} B, $invalid invalid accesses, $errors errors ($suppressed suppressed: valgrind's bpf(2) model)"
finish
