# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# Shared by the integration tests. Each test gets its own network namespace,
# its own cgroups under the discovered cgroup2 mount, its own pin directory
# and scratch directory; cleanup runs on every exit path (trap EXIT).
# A test exits 0 (pass), 77 (skip: not root, outside CI) or anything else.
set -u

BUILD=${BUILD:-build}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SOCKHOPD=$ROOT/$BUILD/sockhopd
SOCKHOP=$ROOT/$BUILD/sockhop
SHTRAFFIC=$ROOT/$BUILD/tests/shtraffic
SHLOAD=$ROOT/$BUILD/tests/shload
ID=sh$$
NS=shns-$ID
PIN=/sys/fs/bpf/sockhop-test-$ID
TMP=$(mktemp -d /tmp/sockhop-test.XXXXXX)
CG2=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
TEST_CG=$CG2/sockhop-test-$ID
CTL=$TMP/ctl.sock	# every test daemon's control socket
DAEMON_PID=
EXTRA_NS=()
BG_PIDS=()

fail() { echo "FAIL: $*" >&2; exit 1; }
info() { echo "--- $*"; }
# A test goes on after a failed check, so that one run reports every case:
# bad records the failure; result closes a case, "RESULT ..." when it had
# none, else "CASE FAILED ..." (tests/run.sh shows both under the test's
# line); finish ends the test, failed if any case did. fail is for what the
# cases after it cannot do without (a daemon that did not start).
ERRORS=0
ERRORS_SEEN=0
# Failures are kept in a file as well, so that a check inside $(...) (a
# subshell) still counts.
bad() { echo "FAIL: $*" >&2; echo "$*" >>"$TMP/bad.log"; ERRORS=$(bad_count); }
bad_count() { if [ -f "$TMP/bad.log" ]; then wc -l <"$TMP/bad.log"; else echo 0; fi; }
result() {
	ERRORS=$(bad_count)
	if [ "$ERRORS" = "$ERRORS_SEEN" ]; then echo "RESULT $*"; else echo "CASE FAILED: $*"; fi
	ERRORS_SEEN=$ERRORS
}
finish() { ERRORS=$(bad_count); [ "$ERRORS" = 0 ] || fail "$ERRORS check(s) failed"; }

if [ "$(id -u)" != 0 ]; then
	echo "needs root (BPF, cgroups, netns)"
	[ "${CI:-}" = true ] && exit 1
	exit 77
fi
[ -n "$CG2" ] || fail "no cgroup2 mount in /proc/self/mountinfo"
for bin in "$SOCKHOPD" "$SOCKHOP" "$SHTRAFFIC" "$SHLOAD"; do
	[ -x "$bin" ] || fail "$bin is not built (make test builds it)"
done

# Removes a cgroup tree deepest first, killing what still runs in it.
remove_cgroup_tree() {
	local top=$1 d
	[ -d "$top" ] || return 0
	for d in $(find "$top" -depth -type d); do
		[ -f "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill" 2>/dev/null
	done
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		for d in $(find "$top" -depth -type d 2>/dev/null); do rmdir "$d" 2>/dev/null; done
		[ -d "$top" ] || return 0
		sleep 0.2
	done
	echo "warning: could not remove $top" >&2
}

cleanup() {
	local rc=$?
	set +e
	for p in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do kill "$p" 2>/dev/null; done
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		# the second SIGTERM skips the proxy's connection drain
		kill -TERM "$DAEMON_PID"; sleep 0.2; kill -TERM "$DAEMON_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$DAEMON_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$DAEMON_PID" 2>/dev/null
	fi
	if [ $rc != 0 ] && [ -f "$TMP/daemon.log" ]; then
		echo "--- daemon log:"; tail -n 30 "$TMP/daemon.log"
	fi
	remove_cgroup_tree "$TEST_CG"
	# Unpinning the links detaches them: nothing else holds them now.
	rm -rf "$PIN"
	ip netns del "$NS" 2>/dev/null
	for n in ${EXTRA_NS[@]+"${EXTRA_NS[@]}"}; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$TEST_CG/mesh" || fail "cannot create $TEST_CG/mesh"
ip netns add "$NS" || fail "cannot create netns $NS"
ip -n "$NS" link set lo up

# new_netns NAME: another private namespace with lo up, removed at exit.
new_netns() {
	ip netns add "$1" || fail "cannot create netns $1"
	EXTRA_NS+=("$1")
	ip -n "$1" link set lo up
}

# veth_pair DEV PEER NET: a veth pair, DEV in $NS with NET.1/24 and PEER in
# a new namespace $NS2 with NET.2/24, both up (NET: the first three octets).
veth_pair() {
	NS2=shns2-$ID
	new_netns "$NS2"
	ip link add "$1" netns "$NS" type veth peer name "$2" netns "$NS2" || fail "veth"
	ip -n "$NS" addr add "$3.1/24" dev "$1"
	ip -n "$NS2" addr add "$3.2/24" dev "$2"
	ip -n "$NS" link set "$1" up
	ip -n "$NS2" link set "$2" up
}

# tcns ARGS...: tc in $NS. nsenter, not `ip netns exec` (or tc -n), which
# remount /sys and so hide the bpffs mounted at /sys/fs/bpf.
tcns() { nsenter --net="/run/netns/$NS" tc "$@"; }

# run_in CGROUP NETNS CMD...: run CMD inside the cgroup and the namespace.
# The cgroup is joined first: `ip netns exec` remounts /sys, which hides
# the cgroup2 mount when it lives under /sys/fs/cgroup.
run_in() {
	local cg=$1 ns=$2; shift 2
	mkdir -p "$cg"
	sh -c 'echo $$ > "$0/cgroup.procs" && ns=$1 && shift && exec ip netns exec "$ns" "$@"' "$cg" "$ns" "$@"
}

# default_config: scope 'mesh' at $TEST_CG/mesh accelerating loopback v4 and v6.
# Its flow-control bound is larger than any stream of the tests that use it:
# they prove the redirect path; test_accel_flow proves the bound.
default_config() {
	cat <<CFG
scopes:
  - name: mesh
    cgroup: $TEST_CG/mesh
    accelerate-buffer: 256MiB
    rules:
      - action: accelerate
        destination: 127.0.0.0/8
      - action: accelerate
        destination: ::1
CFG
}

# start_daemon CONFIG [ARGS...]: start sockhopd as a user does; wait for ready.
start_daemon() { launch_daemon "" "$@"; }

# launch_daemon NETNS CONFIG [ARGS...]: sockhopd (inside NETNS unless ""); wait for ready.
launch_daemon() {
	local ns=$1 cfg=$2; shift 2
	local from; from=$(cat "$TMP/daemon.log" 2>/dev/null | wc -l)
	if [ -n "$ns" ]; then
		# nsenter, not `ip netns exec`: that remounts /sys, hiding the
		# cgroup2 mount that scopes need
		nsenter --net="/run/netns/$ns" "$SOCKHOPD" -c "$cfg" --pin-dir "$PIN" \
			--control "$CTL" "$@" \
			>>"$TMP/daemon.log" 2>&1 &
	else
		"$SOCKHOPD" -c "$cfg" --pin-dir "$PIN" --control "$CTL" "$@" \
			>>"$TMP/daemon.log" 2>&1 &
	fi
	DAEMON_PID=$!
	for _ in $(seq 100); do
		# Only this start's lines count: the log keeps earlier runs.
		tail -n +$((from + 1)) "$TMP/daemon.log" | grep -q 'ready:' && return 0
		kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$TMP/daemon.log"; fail "sockhopd exited at start"; }
		sleep 0.1
	done
	fail "sockhopd not ready after 10 s"
}

# stop_daemon: SIGTERM and wait; fails when it does not exit 0.
stop_daemon() {
	kill -TERM "$DAEMON_PID"
	wait "$DAEMON_PID"
	local rc=$?
	DAEMON_PID=
	[ $rc = 0 ] || fail "sockhopd exited $rc on SIGTERM"
}

# stat SCOPE FIELD: one counter of `sockhop stats -j` (global: "(global)").
stat() {
	"$SOCKHOP" --pin-dir "$PIN" stats -j | tr '{' '\n' | grep "\"scope\":\"$1\"" |
		sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p"
}

# tcp_outsegs NETNS: the namespace's TCP OutSegs counter.
tcp_outsegs() {
	ip netns exec "$1" cat /proc/net/snmp |
		awk '$1 == "Tcp:" && !h { for (i = 2; i <= NF; i++) if ($i == "OutSegs") c = i; h = 1; next }
		     $1 == "Tcp:" && h { print $c; exit }'
}

# pair CGROUP_S CGROUP_C NETNS ADDR PORT BYTES [SEEDS]: stream BYTES both ways
# between a server and a client and verify every byte on both ends.
pair() {
	local cgs=$1 cgc=$2 ns=$3 addr=$4 port=$5 bytes=$6 ss=${7:-2} cs=${8:-1}
	shift 8 2>/dev/null || shift $#
	run_in "$cgs" "$ns" "$SHTRAFFIC" server "$port" --bytes "$bytes" --seed "$ss" \
		--peer-seed "$cs" --peer-bytes "$bytes" >"$TMP/server.$ns.$port.out" 2>&1 &
	local spid=$!
	run_in "$cgc" "$ns" "$SHTRAFFIC" client "$addr" "$port" --bytes "$bytes" --seed "$cs" \
		--peer-seed "$ss" --peer-bytes "$bytes" "$@" >"$TMP/client.$ns.$port.out" 2>&1
	local crc=$?
	wait $spid
	local src=$?
	[ $crc = 0 ] || { cat "$TMP/client.$ns.$port.out"; fail "client to $addr:$port failed ($crc)"; }
	[ $src = 0 ] || { cat "$TMP/server.$ns.$port.out"; fail "server on $port failed ($src)"; }
	info "$addr:$port server: $(tail -n1 "$TMP/server.$ns.$port.out")"
	info "$addr:$port client: $(tail -n1 "$TMP/client.$ns.$port.out")"
}

# eagains NETNS PORT: spurious EAGAINs both ends of a pair() saw (kernel quirk).
eagains() {
	cat "$TMP/server.$1.$2.out" "$TMP/client.$1.$2.out" |
		sed -n 's/.*spurious_eagain=\([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s + 0 }'
}

# --- the proxy (services) -----------------------------------------------------

# start_proxy CONFIG [ARGS...]: sockhopd inside $NS, control socket $CTL.
start_proxy() { local cfg=$1; shift; launch_daemon "$NS" "$cfg" --control "$CTL" "$@"; }

# services_json: the daemon's answer to `sockhop services -j`.
services_json() { "$SOCKHOP" --control "$CTL" services -j; }

# svc SERVICE FIELD: one field of a service.
svc() { services_json | jq -r --arg s "$1" ".services[] | select(.name == \$s) | .$2"; }

# be SERVICE ADDRESS FIELD: one field of a backend.
be() {
	services_json | jq -r --arg s "$1" --arg a "$2" \
		".services[] | select(.name == \$s) | .backends[] | select(.address == \$a) | .$3"
}

# kstat FIELD: a counter of the splice verdict (summed over CPUs).
kstat() { services_json | jq -r ".splice.$1"; }

# backend ID PORT [ARGS...]: an shload backend in $NS on 127.0.0.1:PORT.
backend() {
	local id=$1 port=$2; shift 2
	ip netns exec "$NS" "$SHLOAD" backend "$port" --id "$id" --bind 127.0.0.1 "$@" \
		>"$TMP/backend.$id.out" 2>&1 &
	BG_PIDS+=($!)
	eval "BACKEND_PID_$id=$!"
	wait_port "$port"
}

# wait_port PORT: until something listens on PORT in $NS.
wait_port() {
	for _ in $(seq 100); do
		ip netns exec "$NS" ss -Hltn "sport = :$1" | grep -q . && return 0
		sleep 0.05
	done
	fail "nothing listens on port $1"
}

# stop_backend ID [MAX_BAD]: SIGTERM it and check its own verdict: no bad
# stream, or at most MAX_BAD where the test broke connections on purpose
# (streams in flight on a backend whose address vanished die with it).
stop_backend() {
	local pid max_bad=${2:-0} bad; eval "pid=\$BACKEND_PID_$1"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	local rc=$?
	[ $rc = 0 ] && return 0
	bad=$(grep -o '^conns=.* bad=[0-9]*' "$TMP/backend.$1.out" | tail -1 | sed 's/.*bad=//')
	[ -n "$bad" ] && [ "$rc" = 1 ] && [ "$bad" -le "$max_bad" ] && return 0
	cat "$TMP/backend.$1.out"; fail "backend $1 saw bad streams (exit $rc, at most $max_bad allowed)"
}

# load ARGS...: shload client in $NS; its output line is in $LOAD.
load() {
	LOAD=$(ip netns exec "$NS" "$SHLOAD" client "$@" 2>"$TMP/load.err")
	local rc=$?
	[ $rc = 0 ] || { cat "$TMP/load.err"; fail "shload client: $LOAD (exit $rc)"; }
}

# two_paths_yaml BACKEND...: the services sp (splice, 127.0.0.1:8080) and
# rl (relay, 127.0.0.1:8081) over the same backends, as config lines.
two_paths_yaml() {
	local list; list=$(printf '%s, ' "$@"); list="[${list%, }]"
	printf '  - name: sp\n    listen: 127.0.0.1:8080\n    data-path: splice\n    backends: %s\n' "$list"
	printf '  - name: rl\n    listen: 127.0.0.1:8081\n    data-path: relay\n    backends: %s\n' "$list"
}

# accel_sockets: how many sockets the accelerated-socket map holds in $NS.
accel_sockets() {
	nsenter --net="/run/netns/$NS" "$SOCKHOP" --pin-dir "$PIN" sockets -j | jq '.sockets | length'
}
no_accel_sockets() { [ "$(accel_sockets)" = 0 ]; }

# word_field LINE NAME: the value of NAME=VALUE in LINE.
word_field() { sed -n "s/.*\<$2=\([0-9./]*\).*/\1/p" <<<"$1"; }

# load_field NAME: ok, bad, reset, refused from $LOAD.
load_field() { echo "$LOAD" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

# backend_count ID: connections backend ID served according to $LOAD.
backend_count() {
	echo "$LOAD" | sed -n 's/.*backends=//p' | tr ',' '\n' | awk -F: -v id="$1" '$1 == id { print $2 }' |
		grep . || echo 0
}

# daemon_fds: open fds of the daemon.
daemon_fds() { ls "/proc/$DAEMON_PID/fd" | wc -l; }

# daemon_rss_kib: resident set of the daemon.
daemon_rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status"; }

# wait_until SECONDS CMD...: poll CMD every 0.1 s until it succeeds.
wait_until() {
	local t=$1; shift
	for _ in $(seq $((t * 10))); do "$@" && return 0; sleep 0.1; done
	return 1
}

# Conditions for wait_until (evaluated on every poll, unlike "$(...)" args).
svc_is() { [ "$(svc "$1" "$2")" = "$3" ]; }
be_is() { [ "$(be "$1" "$2" "$3")" = "$4" ]; }
kstat_is() { [ "$(kstat "$1")" = "$2" ]; }
