#!/usr/bin/env bash
# kill -9 with live connections on every path, and what survives it:
# 100 accelerated pairs keep flowing with no daemon (their programs and map
# are pinned), every byte checked; 100 spliced and 100 relayed connections
# end on both sides (EOF or reset) within 2 s, none hangs; the next start
# says what it found and adopts it; its stop leaves no pin and no program
# on the cgroup.
. "$(dirname "$0")/lib.sh"

SURVIVORS=$ROOT/tests/tools/survivors.py N=100
cat >"$TMP/cfg.yaml" <<CFG
scopes:
  - name: mesh
    cgroup: $TEST_CG/mesh
    rules:
      - {action: accelerate, destination: 127.0.0.0/8, port: 9301}
services:
$(two_paths_yaml 127.0.0.1:9001)
CFG
start_proxy "$TMP/cfg.yaml"
ip netns exec "$NS" python3 "$SURVIVORS" 9001 $N 127.0.0.1:8080 127.0.0.1:8081 >"$TMP/proxied.out" 2>&1 &
PROXIED=$!
BG_PIDS+=($PROXIED)
run_in "$TEST_CG/mesh" "$NS" python3 "$SURVIVORS" 9301 $N 127.0.0.1:9301 >"$TMP/mesh.out" 2>&1 &
MESHPID=$!
BG_PIDS+=($MESHPID)
ready() { grep -q '^ready' "$TMP/proxied.out" && grep -q '^ready' "$TMP/mesh.out"; }
wait_until 30 ready || fail "connections not up: $(cat "$TMP/proxied.out" "$TMP/mesh.out")"
[ "$(svc sp conns_splice)" = $N ] && [ "$(svc rl conns_relay)" = $N ] ||
	bad "before the kill: $(svc sp conns_splice) spliced, $(svc rl conns_relay) relayed"
[ "$(stat mesh inserts)" = $((2 * N)) ] || bad "before the kill: $(stat mesh inserts) sockets accelerated"
# sockhop explain SERVICE: where the open connections are, and why
"$SOCKHOP" --control "$CTL" -j explain sp | jq -e --argjson n $N '.data_path == "splice" and
	.open.spliced == $n and .open.relayed == 0 and .carried.splice == $n' >/dev/null ||
	bad "explain sp: $("$SOCKHOP" --control "$CTL" explain sp)"
out=$("$SOCKHOP" --control "$CTL" explain rl)
grep -q "relayed from the start because: configured $N$" <<<"$out" &&
	grep -q "open now: 0 spliced, $N relayed" <<<"$out" && grep -q "data-path relay" <<<"$out" ||
	bad "explain rl: $out"

# the mesh end is the only process of its cgroup ($MESHPID is the shell
# that put it there)
mesh_py=$(cat "$TEST_CG/mesh/cgroup.procs")
kill -KILL "$DAEMON_PID"
kill -USR1 "$PROXIED" $mesh_py
wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
red0=$(stat mesh bytes_redirected)	# read with the daemon gone: what follows is sk_msg alone
wait "$PROXIED"; prc=$?
wait "$MESHPID"; mrc=$?
red1=$(stat mesh bytes_redirected)
pout=$(tail -n1 "$TMP/proxied.out") mout=$(tail -n1 "$TMP/mesh.out")
[ $prc = 0 ] && [ "$(word_field "$pout" ended)" = "$((4 * N))/$((4 * N))" ] && [ "$(word_field "$pout" hung)" = 0 ] &&
	[ "$(word_field "$pout" max_ms)" -le 2000 ] || bad "proxied connections after kill -9: $pout"
[ $mrc = 0 ] && [ "$(word_field "$mout" ended)" = "0/$((2 * N))" ] && [ "$(word_field "$mout" flowing)" = "$N/$N" ] &&
	[ "$(word_field "$mout" mismatches)" = 0 ] || bad "accelerated pairs after kill -9: $mout"
[ "$red1" -gt "$red0" ] || bad "sk_msg redirected nothing after the kill ($red0 -> $red1)"
result "kill -9: $N spliced + $N relayed: $(word_field "$pout" ended) ends closed, the last after $(word_field "$pout" max_ms) ms, $(word_field "$pout" hung) hung; $N accelerated pairs: $(word_field "$mout" flowing) kept flowing for 3 s with no daemon, $(( (red1 - red0) )) bytes redirected meanwhile, $(word_field "$mout" mismatches) mismatches"

: >"$TMP/daemon.log"
start_proxy "$TMP/cfg.yaml"
[ "$(grep -c 'died without cleaning up' "$TMP/daemon.log")" = 1 ] ||
	bad "the restart did not say what it found: $(head -5 "$TMP/daemon.log")"
stop_daemon
attached=$(bpftool cgroup show "$TEST_CG/mesh") || bad "bpftool cgroup show $TEST_CG/mesh failed"
progs=$(tail -n +2 <<<"$attached" | grep -c .)
[ ! -e "$PIN" ] && [ "$progs" = 0 ] || bad "after the restart's stop: pins $(ls "$PIN" 2>/dev/null | tr '\n' ' '), $progs programs on the cgroup"
result "restart after kill -9 says so once and adopts; its stop leaves 0 pins and 0 programs on the cgroup"
finish
