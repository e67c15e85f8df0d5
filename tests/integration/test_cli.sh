#!/usr/bin/env bash
# The operator's surface: --check, --help, errors that name file and line,
# sockhop status/stats in text and JSON, refusal of pins of another layout.
. "$(dirname "$0")/lib.sh"

"$SOCKHOPD" --check -c "$ROOT/proxy/sockhop.yaml" >"$TMP/out" 2>&1 || fail "the shipped config does not validate"
grep -q 'configuration is valid (1 scope, 0 services)' "$TMP/out" || fail "--check output: $(cat "$TMP/out")"
printf 'scopes:\n  - name: x\n    cgroup: x\n    rules:\n      - action: accelerate\n        port: 99999\n' >"$TMP/bad.yaml"
"$SOCKHOPD" --check -c "$TMP/bad.yaml" >"$TMP/out" 2>&1
[ $? = 1 ] || fail "--check on an invalid file must exit 1"
grep -q "^$TMP/bad.yaml:6:15: scopes\[0\].rules\[0\].port: '99999' is not a port" "$TMP/out" ||
	fail "--check error: $(cat "$TMP/out")"
"$SOCKHOPD" --help | grep -q -- '--pin-dir DIR' || fail "--help lacks --pin-dir"
"$SOCKHOPD" --version | grep -q '^sockhopd ' || fail "--version"
"$SOCKHOPD" --bogus >/dev/null 2>&1; [ $? = 2 ] || fail "an unknown option must exit 2"
"$SOCKHOP" --pin-dir "$PIN" status >"$TMP/out" 2>&1; [ $? = 1 ] || fail "status with nothing pinned must exit 1"
grep -q 'nothing pinned' "$TMP/out" || fail "status error: $(cat "$TMP/out")"
# Without CAP_BPF the daemon names the capability and touches nothing.
setpriv --inh-caps=-bpf --bounding-set=-bpf "$SOCKHOPD" -c "$ROOT/proxy/sockhop.yaml" \
	--pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "started without CAP_BPF"
grep -q 'missing capability CAP_BPF (needed to load BPF programs and create maps)' "$TMP/out" ||
	fail "capability error: $(cat "$TMP/out")"
[ ! -e "$PIN" ] || fail "a start without CAP_BPF left pins"
result "--check, --help, --version, option and status errors; missing CAP_BPF named"

# A scope whose cgroup does not exist and may not be created: file and line.
printf 'scopes:\n  - name: gone\n    cgroup: %s/absent\n' "$TEST_CG" >"$TMP/absent.yaml"
"$SOCKHOPD" -c "$TMP/absent.yaml" --pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "started with a missing cgroup"
grep -q "$TMP/absent.yaml:3:13: scopes\[0\].cgroup: cgroup $TEST_CG/absent does not exist" "$TMP/out" ||
	fail "missing cgroup error: $(cat "$TMP/out")"
[ ! -e "$PIN" ] || fail "a failed start left pins behind"
printf 'scopes:\n  - name: root\n    cgroup: %s\n' "$CG2" >"$TMP/root.yaml"
"$SOCKHOPD" -c "$TMP/root.yaml" --pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "started on the root cgroup"
grep -q 'refusing the root cgroup' "$TMP/out" || fail "root cgroup error: $(cat "$TMP/out")"
result "missing cgroup and root cgroup refused with file:line, nothing left pinned"

default_config >"$TMP/cfg.yaml"
start_daemon "$TMP/cfg.yaml"
"$SOCKHOP" --pin-dir "$PIN" status >"$TMP/out" || fail "status"
grep -q "daemon:          running, pid $DAEMON_PID" "$TMP/out" || fail "status: $(cat "$TMP/out")"
grep -qE '^  mesh +slot 0 ' "$TMP/out" || fail "status lacks the scope: $(cat "$TMP/out")"
"$SOCKHOP" --pin-dir "$PIN" status -j | grep -q "\"running\":true,\"pid\":$DAEMON_PID" || fail "status -j"
grep -q "^tc entries:      pinned" "$TMP/out" || fail "status does not show the tc entries: $(cat "$TMP/out")"
"$SOCKHOP" --pin-dir "$PIN" status -j | jq -e '.tc_entries == true' >/dev/null || fail "status -j tc_entries"
"$SOCKHOP" --pin-dir "$PIN" stats | grep -q '^mesh$' || fail "stats text"
# A second daemon on the same pins is refused while the first runs.
"$SOCKHOPD" -c "$TMP/cfg.yaml" --pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "a second daemon started"
grep -q "is in use by a running sockhopd (pid $DAEMON_PID)" "$TMP/out" || fail "second daemon: $(cat "$TMP/out")"
result "status/stats text and JSON; a second daemon refused"

# Pins of another layout version are refused, never reused.
stop_daemon
start_daemon "$TMP/cfg.yaml" --keep
stop_daemon
bpftool map update pinned "$PIN/maps/meta" key 0 0 0 0 value 99 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 ||
	fail "cannot rewrite the meta map"
"$SOCKHOPD" -c "$TMP/cfg.yaml" --pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "started on pins of layout 99"
grep -q "holds pins of layout version 99, this sockhopd uses $(sed -n "s/^#define SH_LAYOUT_VERSION[[:space:]]*\([0-9]*\).*/\1/p" "$ROOT/kern/sockhop.h")" "$TMP/out" || fail "layout error: $(cat "$TMP/out")"
result "pins of layout version 99 refused with a message"
