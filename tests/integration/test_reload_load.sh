#!/usr/bin/env bash
# RELOADS (default 1000) reloads at 10 a second while the proxy churns and
# 60 proxied connections stream: every reload changes the weights of a
# connect-time balanced service (three weight sets in turn); 1% of them are
# invalid. Established connections are never reset (every echoed byte
# checked), the churn loses nothing, the connects made after each reload
# follow that generation's weights (chi-square per weight set, over every
# generation that had it), an invalid reload is refused with the previous
# generation in force (no table swap, its weights still followed), and no
# inner map is left behind.
. "$(dirname "$0")/lib.sh"

RELOADS=${RELOADS:-1000}
APP=$TEST_CG/app
mkdir -p "$APP"
W1=(1 1 4) W2=(1 4 1)	# the three weight sets of backends 1 and 2
# config W1 W2: the daemon's config with those weights
config() {
	cat <<CFG
services:
  - name: web
    virtual: 10.96.0.10:80
    backends:
      - {address: 127.0.0.1:9101, weight: $1}
      - {address: 127.0.0.1:9102, weight: $2}
$(two_paths_yaml 127.0.0.1:9001)
  - name: csp
    listen: 127.0.0.1:8090
    data-path: splice
    backends: [127.0.0.1:9003]
  - name: crl
    listen: 127.0.0.1:8091
    data-path: relay
    backends: [127.0.0.1:9003]
scopes:
  - name: app
    cgroup: $APP
    rules:
      - {action: balance, service: web}
CFG
}
MAPS0=$(bpftool map list | grep -c sh_maglev)
backend 1 9101; backend 2 9102; backend 3 9003
config 1 1 >"$TMP/cfg.yaml"
start_proxy "$TMP/cfg.yaml"
vip() { services_json | jq -r --arg s "$1" ".services[] | select(.name == \$s) | .vip.$2"; }
reload() { "$SOCKHOP" --control "$CTL" reload 2>&1; }

# each weight set's slot shares, as the table gives them
for k in 0 1 2; do
	config "${W1[k]}" "${W2[k]}" >"$TMP/cfg.yaml"
	reload >/dev/null || fail "reload to weights ${W1[k]}:${W2[k]}"
	S1[k]=$(be web 127.0.0.1:9101 slots) S2[k]=$(be web 127.0.0.1:9102 slots)
	N1[k]=0 N2[k]=0
done

ip netns exec "$NS" python3 "$ROOT/tests/tools/survivors.py" 9001 30 127.0.0.1:8080 127.0.0.1:8081 \
	>"$TMP/live.out" 2>&1 &
LIVE=$!
BG_PIDS+=($LIVE)
live_ready() { grep -q '^ready' "$TMP/live.out"; }
wait_until 30 live_ready || fail "streams not up: $(cat "$TMP/live.out")"
(
	while [ ! -f "$TMP/done" ]; do
		for port in 8090 8091; do
			ip netns exec "$NS" "$SHLOAD" client 127.0.0.1 $port --conns 100 --parallel 8 \
				--up 16384 --down 16384 --random-sizes --mode random --rst-every 5 \
				--timeout-ms 10000 2>>"$TMP/churn.err" || echo "round failed"
		done
	done
) >"$TMP/churn" &
CHURN=$!
BG_PIDS+=($CHURN)

cur=2 invalid=0 refused=0 swaps_kept=0 failed_reloads=0 started=$(date +%s%N)
for i in $(seq "$RELOADS"); do
	t0=$(date +%s%N)
	if [ $((i % 100)) = 50 ]; then	# 1%: invalid; the running generation stays
		invalid=$((invalid + 1))
		config 0 1 >"$TMP/cfg.yaml"
		sw0=$(vip web swaps)
		ans=$(reload) && bad "invalid reload $i accepted: $ans"
		[[ $ans == *"reload refused, the running config stays"* ]] && refused=$((refused + 1))
		[ "$(vip web swaps)" = "$sw0" ] && swaps_kept=$((swaps_kept + 1))
	else
		cur=$(( (cur + 1) % 3 ))
		config "${W1[cur]}" "${W2[cur]}" >"$TMP/cfg.yaml"
		ans=$(reload) || { failed_reloads=$((failed_reloads + 1)); bad "reload $i: $ans"; }
	fi
	# connects made wholly inside this generation
	LOAD=$(run_in "$APP" "$NS" "$SHLOAD" client 10.96.0.10 80 --conns 10 --parallel 2 2>/dev/null)
	[ "$(load_field ok)" = 10 ] || bad "connects after reload $i: $LOAD"
	N1[cur]=$(( N1[cur] + $(backend_count 1) )) N2[cur]=$(( N2[cur] + $(backend_count 2) ))
	# at most 10 a second
	left=$(( 100000000 - ($(date +%s%N) - t0) ))
	[ $left -gt 0 ] && sleep "0.$(printf %09d $left)"
done
secs=$(( ($(date +%s%N) - started) / 1000000000 ))
touch "$TMP/done"
wait $CHURN
kill -USR1 "$LIVE"
wait "$LIVE"; lrc=$?
live=$(tail -n1 "$TMP/live.out")
[ $lrc = 0 ] && [ "$(word_field "$live" ended)" = "0/120" ] && [ "$(word_field "$live" flowing)" = 60/60 ] ||
	bad "established connections across the reloads: $live"
rounds=$(grep -c . "$TMP/churn") churn_bad=$(grep -c 'round failed' "$TMP/churn")
churn_ok=$(sed -n 's/^ok=\([0-9]*\).*/\1/p' "$TMP/churn" | paste -sd+ | bc)
[ "$churn_bad" = 0 ] || bad "$churn_bad churn rounds failed: $(tail -3 "$TMP/churn.err")"
[ "$refused" = "$invalid" ] && [ "$swaps_kept" = "$invalid" ] ||
	bad "invalid reloads: $refused of $invalid refused, $swaps_kept kept their table"
chis=""
for k in 0 1 2; do
	n=$(( N1[k] + N2[k] ))
	chi=$(echo "e1 = $n * ${S1[k]} / (${S1[k]} + ${S2[k]}); e2 = $n - e1; (${N1[k]} - e1)^2 / e1 + (${N2[k]} - e2)^2 / e2" | bc -l)
	echo "$chi < 10.83" | bc -l | grep -q 1 ||
		bad "weights ${W1[k]}:${W2[k]}: ${N1[k]}:${N2[k]} for slots ${S1[k]}:${S2[k]}, chi-square $chi (1 dof, p < 0.001)"
	chis+="${W1[k]}:${W2[k]} -> ${N1[k]}:${N2[k]} (slots ${S1[k]}:${S2[k]}, chi-square $(printf %.2f "$chi")); "
done
inner_maps_at_most() { [ "$(bpftool map list | grep -c sh_maglev)" -le "$1" ]; }
wait_until 10 inner_maps_at_most $((MAPS0 + 1)) ||
	bad "inner maps leaked: $(bpftool map list | grep -c sh_maglev), $MAPS0 + 1 expected"
result "$RELOADS reloads in $secs s ($invalid invalid: $refused refused, the old table kept by $swaps_kept): 60 established streams $(word_field "$live" flowing) flowing, $(word_field "$live" ended) ended, $(word_field "$live" mismatches) mismatches; churn $rounds rounds, $churn_ok exact, 0 failed; ${chis}inner maps back to one"
stop_daemon
finish
