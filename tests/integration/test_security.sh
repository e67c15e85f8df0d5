#!/usr/bin/env bash
# The daemon's privileges and what it exposes: it runs as an unprivileged
# user holding only the capabilities it names (CAP_BPF, CAP_NET_ADMIN,
# CAP_PERFMON), each one taken away is refused naming it with nothing
# pinned; pins are 0600 in a 0700 directory, the control socket 0600; another
# uid gets EACCES on both.
. "$(dirname "$0")/lib.sh"

RUN_UID=65534 OTHER_UID=65533
SEC=$TMP/sec		# the unprivileged daemon's own directory
BPFFS=$TMP/bpffs	# a bpffs of its own: /sys/fs/bpf is root's, 0700
SEC_PID=
sec_cleanup() {
	if [ -n "$SEC_PID" ] && kill -0 "$SEC_PID" 2>/dev/null; then
		kill -TERM "$SEC_PID"; sleep 0.2; kill -TERM "$SEC_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$SEC_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$SEC_PID" 2>/dev/null
	fi
	rm -rf "$BPFFS/sockhop" 2>/dev/null
	mountpoint -q "$BPFFS" && umount "$BPFFS"
}
trap 'rc=$?; sec_cleanup; (exit $rc); cleanup' EXIT
command -v setpriv >/dev/null || fail "setpriv (util-linux) is missing"

chmod 755 "$TMP"
mkdir -p "$SEC" "$BPFFS"
mount -t bpf -o mode=0700 bpf "$BPFFS" || fail "cannot mount a bpffs at $BPFFS"
chown "$RUN_UID:$RUN_UID" "$SEC" "$BPFFS"
SPIN=$BPFFS/sockhop SCTL=$SEC/ctl.sock
default_config >"$SEC/cfg.yaml"
chmod 644 "$SEC/cfg.yaml"

# as_user CAPS CMD...: CMD as $RUN_UID with exactly the capabilities CAPS
# (comma-separated names, e.g. bpf,net_admin), nothing else in any set.
# It execs: run it in the background or in a subshell.
as_user() {
	local caps=$1 plus; shift
	plus=$(sed 's/\([a-z_]*\)/+\1/g' <<<"$caps")
	exec setpriv --reuid="$RUN_UID" --regid="$RUN_UID" --clear-groups \
		--inh-caps=-all,"$plus" --ambient-caps=-all,"$plus" --bounding-set=-all,"$plus" \
		--no-new-privs "$@"
}

info "as uid $RUN_UID with CAP_BPF, CAP_NET_ADMIN, CAP_PERFMON and nothing else"
as_user bpf,net_admin,perfmon "$SOCKHOPD" -c "$SEC/cfg.yaml" --pin-dir "$SPIN" \
	--control "$SCTL" >"$TMP/sec.log" 2>&1 &
SEC_PID=$!
ready() { grep -q 'ready:' "$TMP/sec.log"; }
wait_until 10 ready || { cat "$TMP/sec.log"; fail "the unprivileged daemon did not start"; }
eff=$(awk '/^CapEff:/ { print $2 }' "/proc/$SEC_PID/status")
uid=$(awk '/^Uid:/ { print $3 }' "/proc/$SEC_PID/status")
want=$(printf '%016x' $(( (1 << 39) | (1 << 38) | (1 << 12) )))	# BPF, PERFMON, NET_ADMIN
[ "$eff" = "$want" ] || bad "CapEff $eff, expected $want"
[ "$uid" = "$RUN_UID" ] || bad "runs as uid $uid"
PIN=$SPIN pair "$TEST_CG/mesh" "$TEST_CG/mesh" "$NS" 127.0.0.1 7401 $((4 << 20)) 2 1
red=$(PIN=$SPIN stat mesh bytes_redirected)
[ "${red:-0}" -ge $((8 << 20)) ] || bad "only ${red:-0} bytes redirected under the unprivileged daemon"
ans=$(setpriv --reuid="$RUN_UID" --regid="$RUN_UID" --clear-groups "$SOCKHOP" --control "$SCTL" services 2>&1) ||
	bad "its own uid cannot use the control socket: $ans"
result "uid $RUN_UID, CapEff $eff (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN): ready, $red bytes redirected, every byte checked"

info "pins and the control socket: modes, and another uid"
dmode=$(command stat -c %a "$SPIN")
[ "$dmode" = 700 ] || bad "pin directory mode $dmode"
loose=$(find "$SPIN" -mindepth 1 \( -type f -o -type d \) ! -perm 0600 ! \( -type d -perm 0700 \) | head -3)
[ -z "$loose" ] || bad "pins not 0600 (directories 0700): $loose"
npins=$(find "$SPIN" -type f | wc -l)
[ "$npins" -gt 10 ] || bad "only $npins pins under $SPIN"
smode=$(command stat -c %a "$SCTL")
[ "$smode" = 600 ] || bad "control socket mode $smode"
# another uid: EACCES on the control socket, on the pin directory and its pins
errs=$(setpriv --reuid="$OTHER_UID" --regid="$OTHER_UID" --clear-groups /usr/bin/python3 - "$SCTL" "$SPIN" <<'PY'
import errno, os, socket, sys
ctl, pin = sys.argv[1], sys.argv[2]
out = []
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(ctl); out.append("control:connected")
except OSError as e:
    out.append("control:" + errno.errorcode[e.errno])
for p in (pin, os.path.join(pin, "sock_hash")):
    try:
        os.listdir(p) if p == pin else open(p, "rb")
        out.append("pin:opened")
    except OSError as e:
        out.append("pin:" + errno.errorcode[e.errno])
print(" ".join(out))
PY
)
[ "$errs" = "control:EACCES pin:EACCES pin:EACCES" ] || bad "uid $OTHER_UID: $errs"
out=$(setpriv --reuid="$OTHER_UID" --regid="$OTHER_UID" --clear-groups "$SOCKHOP" --pin-dir "$SPIN" stats 2>&1) &&
	bad "uid $OTHER_UID read the stats: $out"
[[ $out == *"ermission denied"* ]] || bad "uid $OTHER_UID's stats error does not say permission: $out"
result "pin dir 0700, $npins pins 0600, control socket 0600; uid $OTHER_UID: $errs; sockhop stats: $out"

kill -TERM "$SEC_PID"; wait "$SEC_PID"; rc=$?; SEC_PID=
[ $rc = 0 ] || bad "the unprivileged daemon exited $rc on SIGTERM"
[ ! -e "$SPIN" ] || bad "the unprivileged daemon left $SPIN"
result "SIGTERM: exit $rc, pins removed"

info "each capability taken away in turn"
for cap in bpf net_admin perfmon; do
	rest=$(tr ',' '\n' <<<"bpf,net_admin,perfmon" | grep -vx "$cap" | paste -sd,)
	(as_user "$rest" timeout 10 "$SOCKHOPD" -c "$SEC/cfg.yaml" --pin-dir "$SPIN" --control "$SCTL") \
		>"$TMP/nocap.log" 2>&1 && bad "started without CAP_${cap^^}"
	grep -q "missing capability CAP_${cap^^} (needed to " "$TMP/nocap.log" ||
		bad "without CAP_${cap^^}: $(head -3 "$TMP/nocap.log")"
	[ ! -e "$SPIN" ] && [ ! -e "$SCTL" ] || bad "a start without CAP_${cap^^} left pins or a socket"
done
result "without CAP_BPF, CAP_NET_ADMIN or CAP_PERFMON: refused, naming it, nothing pinned"

info "run as root: the same modes under /sys/fs/bpf"
default_config >"$TMP/cfg.yaml"
start_daemon "$TMP/cfg.yaml"
[ "$(command stat -c %a "$PIN")" = 700 ] || bad "root's pin directory mode $(command stat -c %a "$PIN")"
loose=$(find "$PIN" -mindepth 1 -type f ! -perm 0600 | head -3)
[ -z "$loose" ] || bad "root's pins not 0600: $loose"
[ "$(command stat -c %a "$CTL")" = 600 ] || bad "root's control socket mode $(command stat -c %a "$CTL")"
stop_daemon
result "as root: pin dir 0700, pins 0600, control socket 0600"
finish
