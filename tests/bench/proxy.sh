#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make bench, proxy part: direct loopback vs sockhop connect-time balancing
# (vip: the load runs in a scope and connects to virtual addresses) vs sockhop
# splice vs sockhop relay vs HAProxy (tcp mode) vs nginx (stream), each
# proxy with one thread, in
# two placements: everything on CPU 0 (the CPU-cost view) and the proxies
# alone on CPU 1 (the deployment view). Configurations are interleaved in
# every repetition; the table gives medians and ratios to direct.
# Environment: REPS (5), BULK_MIB (512, also split over the 8 streams of
# bulk8), RR_COUNT (2000), CONNS (2000), IDLE (9950 idle connections for
# the RSS row, 0 skips it: each needs two fds in the proxy and the hard fd
# limit here is 20000, so 10 000 cannot be reached), CONFS (a subset of the
# configurations, e.g. CONFS="direct vip"; direct is always needed).
set -u
. "$(dirname "$0")/../integration/lib.sh"

REPS=${REPS:-5}
BULK_MIB=${BULK_MIB:-512}
RR_COUNT=${RR_COUNT:-2000}
CONNS=${CONNS:-2000}
IDLE=${IDLE:-9950}
ulimit -n "$(ulimit -Hn)"
CONFS=${CONFS:-"direct vip splice relay haproxy nginx"}	# a subset runs only those
BENCH_CG=$TEST_CG/bench
mkdir -p "$BENCH_CG"
declare -A BASE=([direct]=9100 [splice]=8100 [relay]=8200 [haproxy]=8300 [nginx]=8400)

# Backends (pinned with the load): 1 bulk (one connection per run),
# 2 echo 64 B, 3 echo 16 KiB, 4 connection-rate, 5 idle holder.
ip netns exec "$NS" taskset -c 0 "$SHTRAFFIC" epoll-server 9102 --bind 127.0.0.1 --size 64 >/dev/null 2>&1 &
BG_PIDS+=($!)
ip netns exec "$NS" taskset -c 0 "$SHTRAFFIC" epoll-server 9103 --bind 127.0.0.1 --size 16384 >/dev/null 2>&1 &
BG_PIDS+=($!)
backend 4 9104
ip netns exec "$NS" python3 "$ROOT/tests/bench/hold.py" server 9105 >/dev/null 2>&1 &
BG_PIDS+=($!)

{
	echo "services:"
	for i in 1 2 3 4 5; do
		printf '  - {name: vip-%d, virtual: "10.96.1.%d:80", backends: [127.0.0.1:%d]}\n' $i $i $((9100 + i))
	done
	for p in splice relay; do
		for i in 1 2 3 4 5; do
			cat <<CFG
  - name: $p-$i
    listen: 127.0.0.1:$((BASE[$p] + i))
    data-path: $p
    limits: {connections: 30000}
    backends: [127.0.0.1:$((9100 + i))]
CFG
		done
	done
	printf 'scopes:\n  - name: bench\n    cgroup: %s\n    rules:\n' "$BENCH_CG"
	for i in 1 2 3 4 5; do
		printf '      - {action: balance, service: vip-%d}\n' $i
	done
} >"$TMP/sockhop.yaml"
start_proxy "$TMP/sockhop.yaml"
SOCKHOPD_PID=$DAEMON_PID

{
	printf 'global\n  nbthread 1\n  maxconn 9970\ndefaults\n  mode tcp\n  maxconn 9970\n'
	printf '  timeout connect 5s\n  timeout client 600s\n  timeout server 600s\n'
	for i in 1 2 3 4 5; do
		printf 'listen l%d\n  bind 127.0.0.1:%d\n  server s 127.0.0.1:%d\n' $i $((BASE[haproxy] + i)) $((9100 + i))
	done
} >"$TMP/haproxy.cfg"
ip netns exec "$NS" haproxy -f "$TMP/haproxy.cfg" -db >"$TMP/haproxy.log" 2>&1 &
HAPROXY_PID=$!
BG_PIDS+=($HAPROXY_PID)
mkdir -p "$TMP/nginx"
{
	printf 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\nworker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;\n' "$TMP/nginx" "$TMP/nginx"
	printf 'worker_rlimit_nofile 20000;\nevents { worker_connections 19960; }\nstream {\n  proxy_half_close on;\n'
	for i in 1 2 3 4 5; do
		printf '  server { listen 127.0.0.1:%d; proxy_pass 127.0.0.1:%d; }\n' $((BASE[nginx] + i)) $((9100 + i))
	done
	printf '}\n'
} >"$TMP/nginx.conf"
ip netns exec "$NS" nginx -c "$TMP/nginx.conf" -p "$TMP/nginx" >"$TMP/nginx.log" 2>&1 &
NGINX_PID=$!
BG_PIDS+=($NGINX_PID)
wait_port $((BASE[haproxy] + 1)); wait_port $((BASE[nginx] + 1))

# place CPU: every proxy process and thread onto CPU
place() {
	local p
	for p in $SOCKHOPD_PID $HAPROXY_PID $NGINX_PID $(pgrep -P $NGINX_PID); do
		taskset -a -p -c "$1" "$p" >/dev/null
	done
}
busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# load CONF CMD...: the load generator on CPU 0, in the balanced scope for
# vip and in a plain cgroup otherwise (the same start-up cost for all)
load() {
	local c=$1; shift
	run_in "$([ "$c" = vip ] && echo "$BENCH_CG" || echo "$TEST_CG/plain")" "$NS" taskset -c 0 "$@"
}
# target CONF N: the address and port a client of test port N connects to
target() { [ "$1" = vip ] && echo "10.96.1.$2 80" || echo "127.0.0.1 $((BASE[$1] + $2))"; }

bulk() {	# CONF -> "Gbit/s cpu_s_per_GiB"
	local j0 j1
	load direct "$SHTRAFFIC" server 9101 --bind 127.0.0.1 --bench --bytes 0 --max-chunk 65536 >"$TMP/bs" 2>&1 &
	local sp=$!
	wait_port 9101
	j0=$(busy_jiffies)
	load $1 "$SHTRAFFIC" client $(target $1 1) --bench --bytes $((BULK_MIB << 20)) --max-chunk 65536 \
		>"$TMP/bc" 2>&1 || fail "$1 bulk client: $(cat "$TMP/bc")"
	wait $sp || fail "$1 bulk server: $(cat "$TMP/bs")"
	j1=$(busy_jiffies)
	sed -n 's/.*recv=\([0-9]*\) .*elapsed=\([0-9.]*\).*/\1 \2/p' "$TMP/bs" |
		awk -v j=$((j1 - j0)) -v hz="$(getconf CLK_TCK)" -v mib="$BULK_MIB" \
			'{ printf "%.2f %.2f\n", $1 * 8 / $2 / 1e9, j / hz / (mib / 1024) }'
}
bulk8() {	# CONF -> Gbit/s of 8 streams at once, BULK_MIB in all
	local each=$(((BULK_MIB << 20) / 8)) pids=() k
	load direct "$SHTRAFFIC" server 9101 --bind 127.0.0.1 --bench --bytes 0 --max-chunk 65536 \
		--accept 8 >"$TMP/b8s" 2>&1 &
	local sp=$!
	wait_port 9101
	for k in 1 2 3 4 5 6 7 8; do
		load $1 "$SHTRAFFIC" client $(target $1 1) --bench --bytes $each --max-chunk 65536 \
			>"$TMP/b8c.$k" 2>&1 &
		pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || fail "$1 bulk8 client: $(cat "$TMP"/b8c.*)"; done
	wait $sp || fail "$1 bulk8 server: $(cat "$TMP/b8s")"
	# every stream complete; the rate is all bytes over the longest stream
	sed -n 's/.*recv=\([0-9]*\) .*elapsed=\([0-9.]*\).*/\1 \2/p' "$TMP/b8s" |
		awk -v want="$each" '$1 != want { bad = 1 } { b += $1; if ($2 > t) t = $2; n++ }
			END { if (bad || n != 8) exit 1; printf "%.2f\n", b * 8 / t / 1e9 }' ||
		fail "$1 bulk8: $(cat "$TMP/b8s")"
}
rr() {	# CONF SIZE -> "p50 p99"
	load $1 "$SHTRAFFIC" rr-client $(target $1 $(($2 == 64 ? 2 : 3))) --size "$2" --count "$RR_COUNT" >"$TMP/rc" 2>&1 ||
		fail "$1 rr: $(cat "$TMP/rc")"
	sed -n 's/.*p50_us=\([0-9.]*\) p99_us=\([0-9.]*\).*/\1 \2/p' "$TMP/rc"
}
connrate() {	# CONF -> connections per second
	local t0 t1
	t0=$(date +%s.%N)
	load $1 "$SHLOAD" client $(target $1 4) --conns "$CONNS" --parallel 4 --up 1 --down 1 >"$TMP/cr" 2>&1 ||
		fail "$1 connrate: $(cat "$TMP/cr")"
	t1=$(date +%s.%N)
	grep -q "^ok=$CONNS " "$TMP/cr" || fail "$1 connrate: $(cat "$TMP/cr")"
	echo "$CONNS $t0 $t1" | awk '{ printf "%.0f\n", $1 / ($3 - $2) }'
}
connlat() {	# CONF -> p50 microseconds of connect(), one connection at a time
	load $1 "$SHLOAD" client $(target $1 4) --conns 500 --parallel 1 --up 1 --down 1 >"$TMP/cl" 2>&1 ||
		fail "$1 connlat: $(cat "$TMP/cl")"
	sed -n 's/^connect_us p50=\([0-9.]*\) .*/\1/p' "$TMP/cl"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

for placement in one split; do
	[ $placement = one ] && place 0 || place 1
	for rep in $(seq "$REPS"); do
		for c in $CONFS; do
			d=$TMP/r.$placement.$c
			bulk $c >"$TMP/b"; read -r g cpu <"$TMP/b"
			echo "$g" >>"$d.bulk"; echo "$cpu" >>"$d.cpu"
			bulk8 $c >>"$d.bulk8"
			rr $c 64 >"$TMP/r"; read -r a b <"$TMP/r"; echo "$a" >>"$d.rr64p50"; echo "$b" >>"$d.rr64p99"
			rr $c 16384 >"$TMP/r"; read -r a b <"$TMP/r"; echo "$a" >>"$d.rr16p50"; echo "$b" >>"$d.rr16p99"
			connrate $c >>"$d.conn"
			connlat $c >>"$d.connlat"
		done
		echo "$placement: repetition $rep/$REPS done" >&2
	done
done
has() { [[ " $CONFS " == *" $1 "* ]]; }
! has splice || { [ "$(svc splice-1 conns_splice)" -gt 0 ] && [ "$(kstat bytes_redirected)" -gt 0 ]; } ||
	fail "the splice runs did not go through the kernel path"
! has vip || [ "$(services_json | jq -r '.services[] | select(.name == "vip-4") | .vip.balanced')" -ge "$CONNS" ] ||
	fail "the vip runs were not balanced at connect()"

# RSS with IDLE idle proxied connections (after the runs: the high-water mark counts)
rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
declare -A RSS
if [ "$IDLE" -gt 0 ]; then
	for c in splice relay haproxy nginx; do
		has $c || continue
		coproc HOLD { ip netns exec "$NS" python3 "$ROOT/tests/bench/hold.py" client $((BASE[$c] + 5)) "$IDLE"; }
		read -r line <&"${HOLD[0]}" || fail "$c: idle holder failed"
		sleep 1
		case $c in
		splice|relay) RSS[$c]=$(rss_of $SOCKHOPD_PID) ;;
		haproxy) RSS[$c]=$(rss_of $HAPROXY_PID) ;;
		nginx) RSS[$c]=$(( $(rss_of $NGINX_PID) + $(rss_of "$(pgrep -P $NGINX_PID)") )) ;;
		esac
		eval "exec ${HOLD[1]}>&-"
		wait $HOLD_PID 2>/dev/null
		# the next round needs the fds back: wait until this proxy let go
		case $c in
		splice|relay) wait_until 60 svc_is $c-5 active 0 || fail "$c: idle connections not closed" ;;
		*) sleep 2 ;;
		esac
	done
fi

printf '\nsockhop proxy bench, %s, kernel %s, %d CPUs, medians of %d, ratios to direct\n' \
	"$(date -u +%Y-%m-%d)" "$(uname -r)" "$(nproc)" "$REPS"
for placement in one split; do
	[ $placement = one ] && echo "placement: everything on CPU 0" ||
		echo "placement: proxies alone on CPU 1, load and backends on CPU 0"
	printf '%-22s' metric; for c in $CONFS; do printf '%16s' "$c"; done; printf '\n'
	for m in bulk:Gbit/s bulk8:Gbit/s rr64p50:us rr64p99:us rr16p50:us rr16p99:us conn:conn/s connlat:us cpu:s/GiB; do
		f=${m%%:*} u=${m#*:}
		printf '%-22s' "$f ($u)"
		dm=$(median <"$TMP/r.$placement.direct.$f")
		for c in $CONFS; do
			v=$(median <"$TMP/r.$placement.$c.$f")
			printf '%9s %5sx' "$v" "$(awk -v a="$v" -v b="$dm" 'BEGIN { printf "%.2f", (b > 0) ? (a / b) : 0 }')"
		done
		printf '\n'
	done
done
if [ "$IDLE" -gt 0 ]; then
	printf 'RSS with %d idle connections (KiB): splice %s, relay %s, haproxy %s, nginx %s\n' "$IDLE" \
		"${RSS[splice]:--}" "${RSS[relay]:--}" "${RSS[haproxy]:--}" "${RSS[nginx]:--}"
fi
printf '(bulk: %d MiB one way; bulk8: the same over 8 connections at once;\n' "$BULK_MIB"
printf ' rr: %d round trips on one connection to an epoll echo backend;\n' "$RR_COUNT"
printf ' conn: %d connections, 4 at a time, 1 byte each way; connlat: p50 of connect() over 500\n' "$CONNS"
printf ' connections one at a time; cpu: whole-machine busy seconds per GiB of bulk)\n'
stop_daemon
