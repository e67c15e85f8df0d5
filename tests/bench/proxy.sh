#!/usr/bin/env bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# make bench, proxy part: direct loopback, sockhop's connect-time balancing
# (vip: the load runs in a scope and connects to virtual addresses; local:
# the same load connects to a proxy's listen addresses, which
# local-clients: connect makes virtual for the scope), the
# sockhop proxy with each data path (auto, splice, relay), HAProxy (tcp mode)
# and nginx (stream), each proxy one thread, measured with third-party tools
# (sockperf, iperf3, wrk) and the project's own (shtraffic, shload).
#
# Three launches, the ways operators start a proxy; the proxies are started
# afresh for each, and the load and the backends always run on CPU 0:
#   one        every proxy launched under taskset -c 0: everything on one
#              CPU (the CPU-cost view)
#   dedicated  every proxy launched under taskset -c 1: a core of its own
#   free       launched with no taskset: the scheduler places them
# Configurations are interleaved in every repetition; tables give medians,
# then ratios to direct, HAProxy and nginx of the same launch, and the path
# each sockhop configuration took (its own counters).
# Environment: REPS (3), SECS (3: sockperf, iperf3, wrk), BULK_MIB (512),
# RR_COUNT (2000), CONNS (2000), IDLE (9950 idle connections for the RSS
# line, 0 skips it; the hard fd limit here is 20000), LAUNCHES (a subset of
# "one dedicated free"), CONFS (a subset of the configurations; direct is
# always needed).
set -u
. "$(dirname "$0")/../integration/lib.sh"

REPS=${REPS:-3}
SECS=${SECS:-3}
BULK_MIB=${BULK_MIB:-512}
RR_COUNT=${RR_COUNT:-2000}
CONNS=${CONNS:-2000}
IDLE=${IDLE:-9950}
LAUNCHES=${LAUNCHES:-"one dedicated free"}
CONFS=${CONFS:-"direct vip local auto splice relay haproxy nginx"}
ulimit -n "$(ulimit -Hn)"
for tool in iperf3 sockperf wrk haproxy nginx jq; do
	command -v $tool >/dev/null || fail "$tool is missing (make deps-bench)"
done
BENCH_CG=$TEST_CG/bench
mkdir -p "$BENCH_CG" "$TEST_CG/plain"
declare -A BASE=([direct]=9100 [local]=8500 [auto]=8000 [splice]=8100 [relay]=8200 [haproxy]=8300 [nginx]=8400)
# Test ports (backend 910N; a proxy listens on BASE + N):
NTEST=8	# 1 bulk, 2 echo 64 B, 4 connection rate, 5 idle, 6 sockperf, 7 iperf3, 8 HTTP

# Backends, on CPU 0 with the load. 1 and 7 are started per run.
bg_ns() { ip netns exec "$NS" taskset -c 0 "$@" >/dev/null 2>&1 & BG_PIDS+=($!); }
bg_ns "$SHTRAFFIC" epoll-server 9102 --bind 127.0.0.1 --size 64
backend 4 9104
bg_ns python3 "$ROOT/tests/bench/hold.py" server 9105
bg_ns sockperf sr --tcp -i 127.0.0.1 -p 9106
mkdir -p "$TMP/www"
cat >"$TMP/www/nginx.conf" <<CFG
worker_processes 1;
daemon off;
pid $TMP/www/nginx.pid;
error_log $TMP/www/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:9108; location / { return 200 "sockhop bench\n"; } }
}
CFG
bg_ns nginx -c "$TMP/www/nginx.conf" -p "$TMP/www"
wait_port 9102; wait_port 9105; wait_port 9106; wait_port 9108

{
	echo "services:"
	for i in $(seq $NTEST); do
		printf '  - {name: vip-%d, virtual: "10.96.1.%d:80", backends: [127.0.0.1:%d]}\n' $i $i $((9100 + i))
	done
	for i in $(seq $NTEST); do
		printf '  - {name: local-%d, listen: 127.0.0.1:%d, local-clients: connect, backends: [127.0.0.1:%d]}\n' \
			$i $((BASE[local] + i)) $((9100 + i))
	done
	for p in auto splice relay; do
		for i in $(seq $NTEST); do
			printf '  - {name: %s-%d, listen: 127.0.0.1:%d, data-path: %s, limits: {connections: 30000}, backends: [127.0.0.1:%d]}\n' \
				$p $i $((BASE[$p] + i)) $p $((9100 + i))
		done
	done
	printf 'scopes:\n  - name: bench\n    cgroup: %s\n    rules:\n' "$BENCH_CG"
	for i in $(seq $NTEST); do
		printf '      - {action: balance, service: vip-%d}\n      - {action: balance, service: local-%d}\n' $i $i
	done
} >"$TMP/sockhop.yaml"
{
	printf 'global\n  nbthread 1\n  maxconn 9970\ndefaults\n  mode tcp\n  maxconn 9970\n'
	printf '  timeout connect 5s\n  timeout client 600s\n  timeout server 600s\n'
	for i in $(seq $NTEST); do
		printf 'listen l%d\n  bind 127.0.0.1:%d\n  server s 127.0.0.1:%d\n' $i $((BASE[haproxy] + i)) $((9100 + i))
	done
} >"$TMP/haproxy.cfg"
mkdir -p "$TMP/nginx"
{
	printf 'load_module /usr/lib/nginx/modules/ngx_stream_module.so;\nworker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/error.log;\n' "$TMP/nginx" "$TMP/nginx"
	printf 'worker_rlimit_nofile 20000;\nevents { worker_connections 19960; }\nstream {\n  proxy_half_close on;\n'
	for i in $(seq $NTEST); do
		printf '  server { listen 127.0.0.1:%d; proxy_pass 127.0.0.1:%d; }\n' $((BASE[nginx] + i)) $((9100 + i))
	done
	printf '}\n'
} >"$TMP/nginx.conf"

# start_proxies LAUNCH: sockhopd, HAProxy and nginx started as LAUNCH says
# (under taskset -c 0, under taskset -c 1, or with no taskset)
start_proxies() {
	local pre=()
	case $1 in
	one) pre=(taskset -c 0) ;;
	dedicated) pre=(taskset -c 1) ;;
	esac
	local from; from=$(cat "$TMP/daemon.log" 2>/dev/null | wc -l)
	nsenter --net="/run/netns/$NS" ${pre[@]+"${pre[@]}"} "$SOCKHOPD" -c "$TMP/sockhop.yaml" \
		--pin-dir "$PIN" --control "$CTL" >>"$TMP/daemon.log" 2>&1 &
	DAEMON_PID=$!
	ready() { tail -n +$((from + 1)) "$TMP/daemon.log" | grep -q 'ready:'; }
	wait_until 10 ready || fail "sockhopd ($1) did not start: $(tail -5 "$TMP/daemon.log")"
	ip netns exec "$NS" ${pre[@]+"${pre[@]}"} haproxy -f "$TMP/haproxy.cfg" -db >>"$TMP/haproxy.log" 2>&1 &
	HAPROXY_PID=$!
	ip netns exec "$NS" ${pre[@]+"${pre[@]}"} nginx -c "$TMP/nginx.conf" -p "$TMP/nginx" >>"$TMP/nginx.log" 2>&1 &
	NGINX_PID=$!
	BG_PIDS+=($HAPROXY_PID $NGINX_PID)
	wait_port $((BASE[haproxy] + 1)); wait_port $((BASE[nginx] + 1))
}
stop_proxies() {
	stop_daemon
	kill -TERM $HAPROXY_PID $NGINX_PID 2>/dev/null
	wait $HAPROXY_PID $NGINX_PID 2>/dev/null
	local p
	for p in $((BASE[haproxy] + 1)) $((BASE[nginx] + 1)); do
		for _ in $(seq 50); do ip netns exec "$NS" ss -Hltn "sport = :$p" | grep -q . || break; sleep 0.1; done
	done
}

busy_jiffies() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 }' /proc/stat; }
# load CONF CMD...: the load on CPU 0, in the balanced scope for vip and
# local and in a plain cgroup otherwise (the same start-up cost for all)
load() {
	local c=$1; shift
	run_in "$([[ $c = vip || $c = local ]] && echo "$BENCH_CG" || echo "$TEST_CG/plain")" "$NS" taskset -c 0 "$@"
}
# target CONF N: the address and port a client of test port N connects to
target() { [ "$1" = vip ] && echo "10.96.1.$2 80" || echo "127.0.0.1 $((BASE[$1] + $2))"; }
host() { local t; t=$(target "$@"); echo "${t% *}"; }
port() { local t; t=$(target "$@"); echo "${t#* }"; }

bulk() {	# CONF -> "Gbit/s cpu_s_per_GiB" (shtraffic, 64 KiB sends)
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
iperf() {	# CONF -> Gbit/s received (iperf3, SECS seconds, its 128 KiB writes)
	load direct iperf3 -s -1 -B 127.0.0.1 -p 9107 >/dev/null 2>&1 &
	local sp=$!
	wait_port 9107
	load $1 iperf3 -c "$(host $1 7)" -p "$(port $1 7)" -t "$SECS" -J >"$TMP/ij" 2>&1 ||
		fail "$1 iperf3: $(tail -3 "$TMP/ij")"
	wait $sp
	jq -r '.end.sum_received.bits_per_second / 1e9 | . * 100 | round / 100' "$TMP/ij"
}
rr() {	# CONF -> p50 us of 64 B round trips (shtraffic)
	load $1 "$SHTRAFFIC" rr-client $(target $1 2) --size 64 --count "$RR_COUNT" >"$TMP/rc" 2>&1 ||
		fail "$1 rr: $(cat "$TMP/rc")"
	sed -n 's/.*p50_us=\([0-9.]*\) .*/\1/p' "$TMP/rc"
}
sperf() {	# CONF -> p50 us of 64 B round trips (sockperf ping-pong, full RTT)
	load $1 sockperf pp --tcp -i "$(host $1 6)" -p "$(port $1 6)" -t "$SECS" -m 64 --full-rtt \
		>"$TMP/sp" 2>&1 || fail "$1 sockperf: $(tail -3 "$TMP/sp")"
	sed -n 's/.*percentile 50.000 = *\([0-9.]*\).*/\1/p' "$TMP/sp"
}
connrate() {	# CONF -> new connections a second (shload, 4 at a time, 1 byte each way)
	local t0 t1
	t0=$(date +%s.%N)
	load $1 "$SHLOAD" client $(target $1 4) --conns "$CONNS" --parallel 4 --up 1 --down 1 >"$TMP/cr" 2>&1 ||
		fail "$1 connrate: $(cat "$TMP/cr")"
	t1=$(date +%s.%N)
	grep -q "^ok=$CONNS " "$TMP/cr" || fail "$1 connrate: $(cat "$TMP/cr")"
	echo "$CONNS $t0 $t1" | awk '{ printf "%.0f\n", $1 / ($3 - $2) }'
}
wrkrate() {	# CONF -> HTTP requests a second (wrk, 1 thread, 8 keep-alive connections)
	load $1 wrk -t 1 -c 8 -d "${SECS}s" "http://$(host $1 8):$(port $1 8)/" >"$TMP/wk" 2>&1 ||
		fail "$1 wrk: $(cat "$TMP/wk")"
	grep -q "Non-2xx\|Socket errors" "$TMP/wk" && fail "$1 wrk: errors: $(cat "$TMP/wk")"
	sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$TMP/wk" | awk '{ printf "%.0f\n", $1 }'
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# paths CONF: "spliced relayed moved" summed over CONF's services
paths() {
	"$SOCKHOP" --control "$CTL" services -j | jq -r --arg p "$1-" \
		'[.services[] | select(.name | startswith($p))] |
		 "\(map(.conns_splice) | add) \(map(.conns_relay) | add) \(map(.conns_promoted) | add)"'
}
has() { [[ " $CONFS " == *" $1 "* ]]; }
METRICS="sperf:sockperf-p50:us rr:rr64-p50:us iperf:iperf3:Gbit/s bulk:bulk:Gbit/s cpu:cpu:s/GiB conn:conn:conn/s wrk:wrk:req/s"

declare -A PATH_OF
for launch in $LAUNCHES; do
	start_proxies $launch
	for rep in $(seq "$REPS"); do
		for c in $CONFS; do
			d=$TMP/r.$launch.$c
			sperf $c >>"$d.sperf"
			rr $c >>"$d.rr"
			iperf $c >>"$d.iperf"
			bulk $c >"$TMP/b"; read -r g cpu <"$TMP/b"; echo "$g" >>"$d.bulk"; echo "$cpu" >>"$d.cpu"
			connrate $c >>"$d.conn"
			wrkrate $c >>"$d.wrk"
		done
		echo "$launch: repetition $rep/$REPS done" >&2
	done
	for c in auto splice relay; do
		has $c || continue
		read -r s r m <<<"$(paths $c)"
		PATH_OF[$launch.$c]="spliced $s, relayed $r, moved $m"
	done
	! has splice || [ "$(kstat bytes_redirected)" -gt 0 ] || fail "$launch: the splice runs did not go through the kernel path"
	for c in vip local; do
		! has $c || [ "$("$SOCKHOP" --control "$CTL" services -j | jq -r --arg s $c-4 '.services[] | select(.name == $s) | .vip.balanced')" -ge "$CONNS" ] ||
			fail "$launch: the $c runs were not balanced at connect()"
	done
	! has local || [ "$(svc local-4 accepted)" = 0 ] || fail "$launch: local clients went through the proxy"
	[ "$launch" = "${LAUNCHES##* }" ] || stop_proxies
done

# RSS with IDLE idle proxied connections, in the last launch (after the runs:
# the high-water mark counts)
rss_of() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
declare -A RSS
if [ "$IDLE" -gt 0 ]; then
	for c in auto relay splice haproxy nginx; do
		has $c || continue
		coproc HOLD { ip netns exec "$NS" python3 "$ROOT/tests/bench/hold.py" client $((BASE[$c] + 5)) "$IDLE"; }
		read -r line <&"${HOLD[0]}" || fail "$c: idle holder failed"
		sleep 1	# let the proxy finish its accept backlog (a measurement, not a synchronisation)
		case $c in
		auto|splice|relay) RSS[$c]=$(rss_of $DAEMON_PID) ;;
		haproxy) RSS[$c]=$(rss_of $HAPROXY_PID) ;;
		nginx) RSS[$c]=$(( $(rss_of $NGINX_PID) + $(rss_of "$(pgrep -P $NGINX_PID)") )) ;;
		esac
		eval "exec ${HOLD[1]}>&-"
		wait $HOLD_PID 2>/dev/null
		# the next round needs the fds back: wait until this proxy let go
		case $c in
		auto|splice|relay) wait_until 60 svc_is $c-5 active 0 || fail "$c: idle connections not closed" ;;
		*) sleep 2 ;;
		esac
	done
fi
stop_proxies

fmt_value() { printf '%12s' "$1"; }
printf '\nsockhop proxy bench, %s, kernel %s, %d CPUs, medians of %d\n' \
	"$(date -u +%Y-%m-%d)" "$(uname -r)" "$(nproc)" "$REPS"
for launch in $LAUNCHES; do
	case $launch in
	one) echo "launch: one CPU (every proxy launched under taskset -c 0, with the load and the backends)" ;;
	dedicated) echo "launch: a core of its own (every proxy launched under taskset -c 1; load and backends on CPU 0)" ;;
	free) echo "launch: unpinned (every proxy launched with no taskset; load and backends on CPU 0)" ;;
	esac
	printf '%-8s' config
	for m in $METRICS; do f=${m#*:}; printf '%12s' "${f%%:*}"; done
	printf '   path (sockhop, its counters)\n%-8s' ''
	for m in $METRICS; do printf '%12s' "(${m##*:})"; done
	printf '\n'
	for c in $CONFS; do
		printf '%-8s' "$c"
		for m in $METRICS; do
			f=${m%%:*}
			median <"$TMP/r.$launch.$c.$f" >"$TMP/med.$launch.$c.$f"
			fmt_value "$(cat "$TMP/med.$launch.$c.$f")"
		done
		printf '   %s\n' "${PATH_OF[$launch.$c]:-}"
	done
	printf 'ratios to direct / HAProxy / nginx (latency and cpu: lower is better)\n'
	for c in $CONFS; do
		case $c in direct|haproxy|nginx) continue ;; esac
		printf '%-8s' "$c"
		for m in $METRICS; do
			f=${m%%:*} v=$(cat "$TMP/med.$launch.$c.$f") cell=
			for ref in direct haproxy nginx; do
				has $ref || { cell+="-/"; continue; }
				cell+=$(awk -v a="$v" -v b="$(cat "$TMP/med.$launch.$ref.$f")" \
					'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')/
			done
			printf '%16s' "${cell%/}"
		done
		printf '\n'
	done
	printf '\n'
done
if [ "$IDLE" -gt 0 ]; then
	printf 'RSS with %d idle connections (KiB, launch %s): auto %s, relay %s, splice %s, haproxy %s, nginx %s\n' \
		"$IDLE" "${LAUNCHES##* }" "${RSS[auto]:--}" "${RSS[relay]:--}" "${RSS[splice]:--}" \
		"${RSS[haproxy]:--}" "${RSS[nginx]:--}"
fi
printf '(sockperf: ping-pong p50, full round trip, 64 B, %d s; rr64: %d round trips of 64 B (shtraffic);\n' "$SECS" "$RR_COUNT"
printf ' iperf3: one stream, %d s, received; bulk: %d MiB one way (shtraffic, 64 KiB sends); cpu: whole-\n' "$SECS" "$BULK_MIB"
printf ' machine busy seconds per GiB of bulk; conn: %d connections, 4 at a time, 1 byte each way (shload);\n' "$CONNS"
printf ' wrk: HTTP requests a second over 8 keep-alive connections to nginx, %d s)\n' "$SECS"
