#!/usr/bin/env bash
# Readers that stop while their writers go on, both ways, on the kernel
# splice and on the relay. One psock queue holds a socket's egress and,
# behind it, what the verdict passes up for the relay, charged to no socket
# (kern/sockhop.h, "Both ways"): before the fix, two writers whose readers
# read nothing for 4 s each got all 256 MiB out (1 GiB of kernel memory
# outside any limit), and a client that uploaded without reading its
# downloads had its upload stuck behind them. Now sockhopd makes room in
# the send buffer for what is queued (queued_told), the writers are held
# back as TCP holds them on the relay, and every byte arrives in order.
. "$(dirname "$0")/lib.sh"

cat >"$TMP/proxy.yaml" <<CFG
services:
  - {name: sp, listen: 127.0.0.1:8140, data-path: splice, backends: [127.0.0.1:9140]}
  - {name: rl, listen: 127.0.0.1:8141, data-path: relay, backends: [127.0.0.1:9140]}
CFG
start_proxy "$TMP/proxy.yaml"
BOUND=$((64 << 20))	# what a writer may get out to a reader that reads nothing
SIZE=$((256 << 20))

# stream NAME PORT SERVER_ARGS -- CLIENT_ARGS: a checked stream each way
# between a backend on 9140 and a client of PORT; outputs in $TMP/NAME.{srv,cli}
stream() {
	local name=$1 port=$2 sargs=() cargs=()
	shift 2
	while [ $# -gt 0 ] && [ "$1" != -- ]; do sargs+=("$1"); shift; done
	shift
	cargs=("$@")
	ip netns exec "$NS" "$SHTRAFFIC" server 9140 --seed 2 --peer-seed 1 "${sargs[@]}" \
		>"$TMP/$name.srv" 2>&1 &
	SPID=$!
	BG_PIDS+=($SPID)
	wait_port 9140
	ip netns exec "$NS" "$SHTRAFFIC" client 127.0.0.1 "$port" --seed 1 --peer-seed 2 "${cargs[@]}" \
		>"$TMP/$name.cli" 2>&1 &
	CPID=$!
	BG_PIDS+=($CPID)
	START_NS=$(date +%s%N)
}
probe() { sed -n 's/.*probe_accepted=\([0-9]*\).*/\1/p' "$1" | tail -n1; }

# 1. Both readers read nothing for 4 s while both writers write 256 MiB.
for sv in "sp 8140" "rl 8141"; do
	set -- $sv
	q0=$(kstat queued_told) st0=$(kstat stalled) b0=$(kstat behind) r0=$(svc "$1" resets)
	stream "both.$1" "$2" --bytes $SIZE --peer-bytes $SIZE --read-delay-ms 4000 --probe-ms 3000 -- \
		--bytes $SIZE --peer-bytes $SIZE --read-delay-ms 4000 --probe-ms 3000
	wait $CPID || bad "$1, both ways stalled: the client: $(cat "$TMP/both.$1.cli")"
	wait $SPID || bad "$1, both ways stalled: the backend: $(cat "$TMP/both.$1.srv")"
	ps=$(probe "$TMP/both.$1.srv") pc=$(probe "$TMP/both.$1.cli")
	[ "${ps:-$SIZE}" -le $BOUND ] && [ "${pc:-$SIZE}" -le $BOUND ] ||
		bad "$1, both ways stalled: the writers got ${ps:-?} (backend) and ${pc:-?} (client) bytes out to readers that read nothing (at most $BOUND)"
	[ "$(svc "$1" resets)" = "$r0" ] || bad "$1, both ways stalled: reset ($(svc "$1" resets) resets)"
	if [ "$1" = sp ]; then
		# the verdict held a socket (the pair then); what it passed up behind the
		# other's queue (if the race put any there) was made room for
		[ $(( $(kstat behind) - b0 )) -ge 1 ] && [ "$(kstat stalled)" = "$st0" ] ||
			bad "sp, both ways stalled: readers behind $(( $(kstat behind) - b0 )) (expected 1 or 2), stalled $(( $(kstat stalled) - st0 ))"
	fi
	info "$1: both ways stalled: the backend got $((${ps:-0} >> 20)) MiB out, the client $((${pc:-0} >> 20)) MiB (queued told $(( $(kstat queued_told) - q0 ))); $(tail -n1 "$TMP/both.$1.cli")"
done
result "both readers stopped for 4 s while both writers wrote 256 MiB: each writer held back within $((BOUND >> 20)) MiB on the splice as on the relay, no reset, then every byte in order both ways"

# 2. The client uploads 64 MiB and reads none of its 256 MiB download for
# 4 s; the backend reads at once. The upload must reach the backend while
# the download waits (it queued behind the download before the fix).
UP=$((64 << 20))
received() {
	ip netns exec "$NS" ss -Htni state connected "sport = :9140" |
		sed -n 's/.*bytes_received:\([0-9]*\).*/\1/p' | sort -n | tail -n1
}
got_upload() { [ "$(received)" -ge $UP ]; }
for sv in "sp 8140" "rl 8141"; do
	set -- $sv
	r0=$(svc "$1" resets)
	stream "up.$1" "$2" --bytes $SIZE --peer-bytes $UP --probe-ms 3000 -- \
		--bytes $UP --peer-bytes $SIZE --read-delay-ms 4000
	# by 3.5 s of the client's start: it reads from 4 s on (polls take time)
	wait_until 3 got_upload && [ $(( ($(date +%s%N) - START_NS) / 1000000 )) -lt 3500 ] ||
		bad "$1: the upload reached the backend only up to $(received) of $UP bytes while the client did not read"
	wait $CPID || bad "$1, upload while not reading: the client: $(cat "$TMP/up.$1.cli")"
	wait $SPID || bad "$1, upload while not reading: the backend: $(cat "$TMP/up.$1.srv")"
	ps=$(probe "$TMP/up.$1.srv")
	[ "${ps:-$SIZE}" -le $BOUND ] || bad "$1: the backend got ${ps:-?} bytes out to a client that read nothing"
	[ "$(svc "$1" resets)" = "$r0" ] || bad "$1, upload while not reading: reset"
	info "$1: upload through while the download waited; the backend got $((${ps:-0} >> 20)) MiB out"
done
result "a client uploading 64 MiB without reading its download: the upload reached the backend, the download was held back within $((BOUND >> 20)) MiB, every byte in order (splice and relay)"
wait_until 5 kstat_is entries 0 || bad "splice map entries left: $(kstat entries)"
stop_daemon
finish
