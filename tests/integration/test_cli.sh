#!/usr/bin/env bash
# The operator's surface: --check, --help, errors that name file and line,
# sockhop status/stats in text and JSON, refusal of pins of another layout.
. "$(dirname "$0")/lib.sh"

"$SOCKHOPD" --check -c "$ROOT/proxy/sockhop.yaml" >"$TMP/out" 2>&1 || bad "the shipped config does not validate"
grep -q 'configuration is valid (1 scope, 0 services)' "$TMP/out" || bad "--check output: $(cat "$TMP/out")"
printf 'scopes:\n  - name: x\n    cgroup: x\n    rules:\n      - action: accelerate\n        port: 99999\n' >"$TMP/bad.yaml"
"$SOCKHOPD" --check -c "$TMP/bad.yaml" >"$TMP/out" 2>&1
[ $? = 1 ] || bad "--check on an invalid file must exit 1"
grep -q "^$TMP/bad.yaml:6:15: scopes\[0\].rules\[0\].port: '99999' is not a port" "$TMP/out" ||
	bad "--check error: $(cat "$TMP/out")"
# valid but doing nothing: a warning with the line, the file still valid
printf 'services:\n  - name: r\n    listen: 127.0.0.1:18080\n    data-path: relay\n    auto-min-idle: 10\n    backends: [127.0.0.1:18081]\n' >"$TMP/lint.yaml"
"$SOCKHOPD" --check -c "$TMP/lint.yaml" >"$TMP/out" 2>&1 || bad "--check of a valid file with a warning: $(cat "$TMP/out")"
grep -q "$TMP/lint.yaml:5:20: services\[0\].auto-min-idle: has no effect: the service's data path is relay, not auto" "$TMP/out" ||
	bad "--check lint: $(cat "$TMP/out")"
"$SOCKHOPD" --help | grep -q -- '--pin-dir DIR' || bad "--help lacks --pin-dir"
"$SOCKHOPD" --version | grep -q '^sockhopd ' || bad "--version"
"$SOCKHOPD" --bogus >/dev/null 2>&1; [ $? = 2 ] || bad "an unknown option must exit 2"
"$SOCKHOP" --pin-dir "$PIN" status >"$TMP/out" 2>&1; [ $? = 1 ] || bad "status with nothing pinned must exit 1"
grep -q 'nothing pinned' "$TMP/out" || bad "status error: $(cat "$TMP/out")"
# Without CAP_BPF the daemon names the capability and touches nothing.
setpriv --inh-caps=-bpf --bounding-set=-bpf "$SOCKHOPD" -c "$ROOT/proxy/sockhop.yaml" \
	--pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "started without CAP_BPF"
grep -q 'missing capability CAP_BPF (needed to load BPF programs and create maps)' "$TMP/out" ||
	bad "capability error: $(cat "$TMP/out")"
[ ! -e "$PIN" ] || bad "a start without CAP_BPF left pins"
# "sockhop CMD help" is CMD's usage; after "--" help is an argument (a service named help)
"$SOCKHOP" explain help | grep -q '^Usage: sockhop \[OPTIONS\] explain SERVICE' || bad "explain help: no usage"
"$SOCKHOP" --control "$TMP/none.sock" explain -- help >"$TMP/out" 2>&1 && bad "explain -- help with no daemon succeeded"
grep -q "cannot reach sockhopd at $TMP/none.sock" "$TMP/out" || bad "explain -- help did not ask the daemon: $(cat "$TMP/out")"
"$SOCKHOP" explain '' >"$TMP/out" 2>&1; [ $? = 2 ] && grep -q 'explain: the service name is empty' "$TMP/out" ||
	bad "explain '': $(cat "$TMP/out")"
result "--check, --help, --version, option and status errors; missing CAP_BPF named; explain's argument forms"

# make install puts the binaries, the example config and the man pages in
# place; each page renders without a warning, and names every CLI command.
make -s -C "$ROOT" install BUILD="$BUILD" DESTDIR="$TMP/inst" PREFIX=/usr >"$TMP/inst.log" 2>&1 ||
	bad "make install: $(cat "$TMP/inst.log")"
for page in man8/sockhopd.8 man8/sockhop.8 man5/sockhop.yaml.5; do
	f=$TMP/inst/usr/share/man/$page
	[ -f "$f" ] || bad "make install did not install $page"
	warn=$(MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	[ -z "$warn" ] || bad "man -l $page warns: $warn"
done
[ -x "$TMP/inst/usr/sbin/sockhopd" ] && [ -f "$TMP/inst/etc/sockhop/sockhop.yaml.example" ] ||
	bad "make install: binaries or example config missing"
page8=$(sed 's/\\-/-/g; s/"//g' "$TMP/inst/usr/share/man/man8/sockhop.8")
for cmd in $("$SOCKHOP" help | awk '/^Commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 } /^$/ { if (on) exit }'); do
	grep -Eq "^\.BI? $cmd( |$)" <<<"$page8" || bad "sockhop(8) does not describe '$cmd'"
done
result "make install: binaries, example config and three man pages, each rendering without a warning; sockhop(8) covers every command"

# A scope whose cgroup does not exist and may not be created: file and line.
printf 'scopes:\n  - name: gone\n    cgroup: %s/absent\n' "$TEST_CG" >"$TMP/absent.yaml"
"$SOCKHOPD" -c "$TMP/absent.yaml" --pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "started with a missing cgroup"
grep -q "$TMP/absent.yaml:3:13: scopes\[0\].cgroup: cgroup $TEST_CG/absent does not exist" "$TMP/out" ||
	bad "missing cgroup error: $(cat "$TMP/out")"
[ ! -e "$PIN" ] || bad "a failed start left pins behind"
printf 'scopes:\n  - name: root\n    cgroup: %s\n' "$CG2" >"$TMP/root.yaml"
"$SOCKHOPD" -c "$TMP/root.yaml" --pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "started on the root cgroup"
grep -q 'refusing the root cgroup' "$TMP/out" || bad "root cgroup error: $(cat "$TMP/out")"
result "missing cgroup and root cgroup refused with file:line, nothing left pinned"

default_config >"$TMP/cfg.yaml"
start_daemon "$TMP/cfg.yaml"
"$SOCKHOP" --pin-dir "$PIN" status >"$TMP/out" || bad "status"
grep -q "daemon:          running, pid $DAEMON_PID" "$TMP/out" || bad "status: $(cat "$TMP/out")"
grep -qE '^  mesh +slot 0 ' "$TMP/out" || bad "status lacks the scope: $(cat "$TMP/out")"
"$SOCKHOP" --pin-dir "$PIN" status -j | grep -q "\"running\":true,\"pid\":$DAEMON_PID" || bad "status -j"
grep -q "^tc entries:      pinned" "$TMP/out" || bad "status does not show the tc entries: $(cat "$TMP/out")"
"$SOCKHOP" --pin-dir "$PIN" status -j | jq -e '.tc_entries == true' >/dev/null || bad "status -j tc_entries"
"$SOCKHOP" --pin-dir "$PIN" stats | grep -q '^mesh$' || bad "stats text"
# A second daemon on the same pins is refused while the first runs.
"$SOCKHOPD" -c "$TMP/cfg.yaml" --pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "a second daemon started"
grep -q "is in use by a running sockhopd (pid $DAEMON_PID)" "$TMP/out" || bad "second daemon: $(cat "$TMP/out")"
result "status/stats text and JSON; a second daemon refused"

# Pins of another layout version are refused, never reused.
stop_daemon
start_daemon "$TMP/cfg.yaml" --keep
stop_daemon
bpftool map update pinned "$PIN/maps/meta" key 0 0 0 0 value 99 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 ||
	bad "cannot rewrite the meta map"
"$SOCKHOPD" -c "$TMP/cfg.yaml" --pin-dir "$PIN" >"$TMP/out" 2>&1 && fail "started on pins of layout 99"
grep -q "holds pins of layout version 99, this sockhopd uses $(sed -n "s/^#define SH_LAYOUT_VERSION[[:space:]]*\([0-9]*\).*/\1/p" "$ROOT/kern/sockhop.h")" "$TMP/out" || bad "layout error: $(cat "$TMP/out")"
result "pins of layout version 99 refused with a message"
finish
