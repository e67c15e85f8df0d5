#!/usr/bin/env bash
# The edges an operator meets first: the root cgroup by any spelling, the
# control socket under idle, flooding and trickling clients, a log pipe
# whose reader left, a daemon killed with -9, --check as the whole static
# check, and a CLI that checks its arguments before it asks the daemon.
# Every case is reported; the test fails at the end if any did.
. "$(dirname "$0")/lib.sh"

PEER=(python3 "$ROOT/tests/tools/ctlpeer.py")
SHLOAD=$ROOT/$BUILD/tests/shload

# --- 1. the root cgroup, by every spelling -----------------------------------
# check_refuses SPELLING PATTERN: --check exits 1 with PATTERN at 3:13.
check_refuses() {
	printf 'scopes:\n  - name: r\n    cgroup: "%s"\n' "$1" >"$TMP/root.yaml"
	"$SOCKHOPD" --check -c "$TMP/root.yaml" >"$TMP/out" 2>&1
	local rc=$?
	[ $rc = 1 ] && grep -q "^$TMP/root.yaml:3:13: scopes\[0\].cgroup: .*$2" "$TMP/out" ||
		bad "--check on cgroup '$1': exit $rc: $(cat "$TMP/out")"
}
for sp in . ./ ./. .//./; do check_refuses "$sp" "names the root of the cgroup2 mount"; done
for sp in "$CG2" "$CG2/" "$CG2/." "$CG2/./" "$CG2//" "$CG2///./"; do
	check_refuses "$sp" "refusing the root cgroup $CG2"
done
check_refuses "a/.." "contains '..'"
check_refuses "$TEST_CG/.." "contains '..'"
ln -s "$CG2" "$TMP/cglink"
check_refuses "$TMP/cglink" "is not a path under the cgroup2 mount"
check_refuses "$TMP/cglink/sockhop-test-$ID" "is not a path under the cgroup2 mount"
# A bind mount of the root inside the hierarchy names the root by another
# path: only identity sees it. (A private mount namespace: gone at exit.)
mkdir -p "$TEST_CG/bind"
printf 'scopes:\n  - name: r\n    cgroup: "%s"\n  - name: s\n    cgroup: "sockhop-test-%s/bind/"\n' \
	"$TEST_CG/bind" "$ID" >"$TMP/bind.yaml"
unshare -m --propagation private sh -c 'mount --bind "$1" "$2" && exec "$3" --check -c "$4"' \
	sh "$CG2" "$TEST_CG/bind" "$SOCKHOPD" "$TMP/bind.yaml" >"$TMP/out" 2>&1
[ $? = 1 ] && grep -q "^$TMP/bind.yaml:3:13: scopes\[0\].cgroup: refusing the root cgroup $CG2 ('$TEST_CG/bind' names it)" "$TMP/out" &&
	grep -q "^$TMP/bind.yaml:5:13: scopes\[1\].cgroup: refusing the root cgroup" "$TMP/out" ||
	bad "a bind mount of the root: $(cat "$TMP/out")"
result "root cgroup refused by --check in 14 spellings, through a symlink and through a bind mount"

# The start-time refusal, where the root is a cgroup of this test's own: a
# cgroup namespace rooted at $TEST_CG/nsroot with cgroup2 mounted anew.
# Had the check failed, the programs would sit on a cgroup we made.
mkdir -p "$TEST_CG/nsroot"
cat >"$TMP/in-cgns.sh" <<'SH'
echo $$ >"$1/cgroup.procs" || exit 91
exec unshare -C -m --propagation private sh -c '
	umount "$1" && mount -t cgroup2 none "$1" || exit 92
	exec "$2" -c "$3" --pin-dir "$4" --control "$5"' sh "$2" "$3" "$4" "$5" "$6"
SH
for sp in "$CG2/." "$CG2//" "$CG2"; do
	printf 'scopes:\n  - name: r\n    cgroup: "%s"\n    rules: [{action: accelerate}]\n' "$sp" >"$TMP/ns.yaml"
	timeout 20 sh "$TMP/in-cgns.sh" "$TEST_CG/nsroot" "$CG2" "$SOCKHOPD" "$TMP/ns.yaml" "$PIN" \
		"$CTL" >"$TMP/out" 2>&1
	rc=$?
	[ $rc = 1 ] && grep -q "^$TMP/ns.yaml:3:13: scopes\[0\].cgroup: refusing the root cgroup $CG2" "$TMP/out" ||
		bad "start in a cgroup namespace on '$sp': exit $rc: $(cat "$TMP/out")"
	[ ! -e "$PIN" ] || bad "a refused start on '$sp' left pins"
	[ -z "$(bpftool cgroup show "$TEST_CG/nsroot" 2>/dev/null | tail -n +2)" ] ||
		bad "programs attached to the namespace root after '$sp'"
done
result "start refused on the namespace's root cgroup in 3 spellings; nothing pinned, nothing attached"

# Two scopes on one cgroup, written two ways; a missing cgroup that create
# would make passes --check with a warning, one it would not is an error.
printf 'scopes:\n  - name: a\n    cgroup: %s/mesh\n  - name: b\n    cgroup: sockhop-test-%s/./mesh/\n' \
	"$TEST_CG" "$ID" >"$TMP/dup.yaml"
"$SOCKHOPD" --check -c "$TMP/dup.yaml" >"$TMP/out" 2>&1
[ $? = 1 ] && grep -q "^$TMP/dup.yaml:5:13: scopes\[1\].cgroup: cgroup $TEST_CG/mesh is already the scope 'a' (line 3)" "$TMP/out" ||
	bad "duplicate cgroup by spelling: $(cat "$TMP/out")"
printf 'scopes:\n  - name: a\n    cgroup: %s/later\n    create: true\n' "$TEST_CG" >"$TMP/later.yaml"
"$SOCKHOPD" --check -c "$TMP/later.yaml" >"$TMP/out" 2>&1 &&
	grep -q "^$TMP/later.yaml:3:13: scopes\[0\].cgroup: warning: cgroup $TEST_CG/later does not exist yet" "$TMP/out" ||
	bad "missing cgroup with create: $(cat "$TMP/out")"
[ ! -e "$TEST_CG/later" ] || bad "--check created a cgroup"
sed -i '/create/d' "$TMP/later.yaml"
"$SOCKHOPD" --check -c "$TMP/later.yaml" >"$TMP/out" 2>&1
[ $? = 1 ] && grep -q "^$TMP/later.yaml:3:13: scopes\[0\].cgroup: cgroup $TEST_CG/later does not exist (create it, or set 'create: true')" "$TMP/out" ||
	bad "missing cgroup without create: $(cat "$TMP/out")"
result "one cgroup by two spellings refused naming both lines; a missing cgroup: warning with create, error without"

# --- 4. --check is the whole static check (file level) ----------------------
mkfifo "$TMP/fifo.yaml"
timeout 5 "$SOCKHOPD" --check -c "$TMP/fifo.yaml" >"$TMP/out" 2>&1
rc=$?
[ $rc = 1 ] && grep -q "^$TMP/fifo.yaml:1:1: a FIFO, not a regular file" "$TMP/out" ||
	bad "--check on a FIFO: exit $rc (124: it hung): $(cat "$TMP/out")"
ln -s "$TMP/nothing.yaml" "$TMP/dangling.yaml"
"$SOCKHOPD" --check -c "$TMP/dangling.yaml" >"$TMP/out" 2>&1
[ $? = 1 ] && grep -q "^$TMP/dangling.yaml:1:1: cannot open: a symbolic link to '$TMP/nothing.yaml', which does not exist" "$TMP/out" ||
	bad "dangling symlink: $(cat "$TMP/out")"
default_config >"$TMP/private.yaml"
chmod 0600 "$TMP/private.yaml"
cp "$TMP/private.yaml" /tmp/sockhop-private-$ID.yaml && chmod 0600 /tmp/sockhop-private-$ID.yaml
setpriv --reuid=65534 --regid=65534 --clear-groups "$SOCKHOPD" --check -c /tmp/sockhop-private-$ID.yaml >"$TMP/out" 2>&1
[ $? = 1 ] && grep -q "^/tmp/sockhop-private-$ID.yaml:1:1: cannot open: Permission denied" "$TMP/out" ||
	bad "unreadable file: $(cat "$TMP/out")"
rm -f /tmp/sockhop-private-$ID.yaml
{ default_config; printf -- '---\nscopes: [\n'; } >"$TMP/two.yaml"
"$SOCKHOPD" --check -c "$TMP/two.yaml" >"$TMP/out" 2>&1
[ $? = 1 ] && grep -q "^$TMP/two.yaml:$(( $(default_config | wc -l) + 3 )):1: YAML syntax error" "$TMP/out" || bad "second document: $(cat "$TMP/out")"
printf 'scopes:\n  - name: a\n    cgroup: \xfe\n' >"$TMP/utf.yaml"
"$SOCKHOPD" --check -c "$TMP/utf.yaml" >"$TMP/out" 2>&1
[ $? = 1 ] && grep -q "^$TMP/utf.yaml:3:13: invalid UTF-8 (byte 0xfe)" "$TMP/out" || bad "invalid UTF-8: $(cat "$TMP/out")"
if [ ! -e /etc/sockhop/sockhop.yaml ]; then
	"$SOCKHOPD" --check >"$TMP/out" 2>&1
	grep -q "start with 'sockhopd -c FILE'; 'make install' puts an example at /etc/sockhop/sockhop.yaml.example" "$TMP/out" ||
		bad "a bare sockhopd without /etc/sockhop/sockhop.yaml: $(cat "$TMP/out")"
fi
result "--check: a FIFO refused at once, a dangling symlink, an unreadable file, a second document and invalid UTF-8 named at their line"

# --- 2. the control socket never blocks the loop ----------------------------
PORT=18801 BEPORT=18802
cat >"$TMP/proxy.yaml" <<CFG
services:
  - name: web
    listen: 127.0.0.1:$PORT
    backends: [127.0.0.1:$BEPORT]
    data-path: relay
CFG
backend 1 $BEPORT
start_proxy "$TMP/proxy.yaml"
"${PEER[@]}" idle "$CTL" 50 >"$TMP/idle.out" 2>&1 &
IDLE=$!
BG_PIDS+=($IDLE)
wait_until 10 grep -q 'connected 50' "$TMP/idle.out" || bad "50 idle clients did not connect: $(cat "$TMP/idle.out")"
"${PEER[@]}" trickle "$CTL" 8 >"$TMP/trickle.out" 2>&1 &
TRICKLE=$!
BG_PIDS+=($TRICKLE)
"${PEER[@]}" flood "$CTL" 1048576 >"$TMP/flood.out" 2>&1
grep -q "answer=b'error: command longer than 4096 bytes" "$TMP/flood.out" || bad "1 MB without a newline: $(cat "$TMP/flood.out")"
# proxied connections while those clients sit on the control socket
ip netns exec "$NS" "$SHLOAD" client 127.0.0.1 $PORT --conns 300 --parallel 1 --up 64 --down 64 \
	>"$TMP/load.out" 2>"$TMP/load.err" || bad "proxied load: $(cat "$TMP/load.out" "$TMP/load.err")"
p99=$(sed -n 's/^conn_us p50=[0-9.]* p99=\([0-9.]*\).*/\1/p' "$TMP/load.err")
awk -v p="$p99" 'BEGIN { exit !(p != "" && p < 50000) }' || bad "proxied round trips p99 ${p99:-?} us (want < 50 ms)"
worst=0
for _ in $(seq 10); do
	t0=$(date +%s%N)
	"$SOCKHOP" --control "$CTL" services >/dev/null || bad "sockhop services failed beside the hostile clients"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	[ $ms -gt $worst ] && worst=$ms
done
[ $worst -lt 100 ] || bad "sockhop services took $worst ms (want < 100)"
wait $TRICKLE
grep -q "answer=b'error: no complete command within 5 seconds" "$TMP/trickle.out" || bad "a byte a second: $(cat "$TMP/trickle.out")"
kill $IDLE; wait $IDLE 2>/dev/null
result "50 idle, a 1 MB flood, a byte a second: 300 proxied round trips p99 ${p99} us, sockhop services at most $worst ms"

ans=$("${PEER[@]}" split "$CTL")
[[ $ans == "service web  (round-robin, data path relay)" ]] || bad "a command over two reads: $ans"
ans=$("${PEER[@]}" raw "$CTL" 1b5b33316d6869070a)
[ "$ans" = "b\"error: a byte that is not printable ASCII in the command '\\\\x1b[31mhi\\\\x07'\\n\"" ] ||
	bad "garbage is escaped: $ans"
ans=$("${PEER[@]}" raw "$CTL" 7365727669636573206578747261210a)
[[ $ans == *"error: services takes no arguments, found 'extra!'"* ]] || bad "extra argument: $ans"
ans=$("${PEER[@]}" many "$CTL" 70)
[ "$ans" = "refused=6 answered=64" ] || bad "70 clients at once: $ans (want 64 answered, 6 refused)"
j=$(services_json)
[ "$(jq '.control.refused_busy' <<<"$j")" = 6 ] && [ "$(jq '.control.too_long' <<<"$j")" = 1 ] &&
	[ "$(jq '.control.timed_out' <<<"$j")" = 51 ] && [ "$(jq '.control.clients' <<<"$j")" = 1 ] ||
	bad "control counters: $(jq -c .control <<<"$j")"
result "split command answered, garbage escaped, 70 at once: 64 answered and 6 refused; counters $(jq -c .control <<<"$j")"

# A command whose CLI gave up (the daemon was stopped) is not run later.
kill -STOP "$DAEMON_PID"
"$SOCKHOP" --control "$CTL" reload >"$TMP/out" 2>&1 && bad "reload answered by a stopped daemon"
grep -q "did not answer within 5 s" "$TMP/out" || bad "reload to a stopped daemon: $(cat "$TMP/out")"
kill -CONT "$DAEMON_PID"
wait_until 5 grep -q "control: a client left before its command was read; not running 'reload'" "$TMP/daemon.log" ||
	bad "the abandoned reload: $(tail -3 "$TMP/daemon.log")"
grep -q 'reloaded' "$TMP/daemon.log" && bad "a reload the CLI gave up on ran anyway"
[ "$(services_json | jq .control.abandoned)" = 1 ] || bad "abandoned count: $(services_json | jq -c .control)"
# a NUL byte in a command is refused, not cut short
ans=$("${PEER[@]}" raw "$CTL" 7365727669636573006a736f6e0a)
[[ $ans == *"error: a NUL byte in the command"* ]] || bad "a NUL in a command: $ans"
# a deeply nested file refuses a reload at once; the loop keeps serving
cp "$TMP/proxy.yaml" "$TMP/proxy.good"
python3 -c "import sys; open(sys.argv[1],'a').write('# pad\nx: ' + '['*80000 + ']'*80000 + '\n')" "$TMP/proxy.yaml"
t0=$(date +%s%N)
"$SOCKHOP" --control "$CTL" reload >"$TMP/out" 2>&1 && bad "a reload of a 160 KB nested file was taken"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "nesting deeper than 64 levels" "$TMP/out" && [ $ms -lt 500 ] ||
	bad "a deeply nested reload: ${ms} ms: $(cat "$TMP/out")"
cp "$TMP/proxy.good" "$TMP/proxy.yaml"
result "an abandoned reload is dropped, not run; a NUL in a command refused; a 160 KB nested reload refused in $ms ms"
stop_daemon

# --- 5. the CLI checks before it asks ---------------------------------------
"$SOCKHOP" help >"$TMP/out" && grep -q '^  weight SERVICE BACKEND N' "$TMP/out" || bad "sockhop help"
for form in "weight help" "weight --help" "help weight"; do
	# shellcheck disable=SC2086
	"$SOCKHOP" $form >"$TMP/out" 2>&1 && [ "$(head -1 "$TMP/out")" = "Usage: sockhop [OPTIONS] weight SERVICE BACKEND N" ] ||
		bad "sockhop $form: $(cat "$TMP/out")"
done
"${PEER[@]}" mute-server "$TMP/mute.sock" >"$TMP/mute.out" 2>&1 &
MUTE=$!
BG_PIDS+=($MUTE)
wait_until 5 grep -q listening "$TMP/mute.out" || bad "mute server"
for args in "weight" "weight web 127.0.0.1:1 5 extra" "weight web 127.0.0.1:1 0" "disable web 127.0.0.1:1 now" \
	"enable web" "table" "services extra" "reload now"; do
	# shellcheck disable=SC2086
	timeout 2 "$SOCKHOP" --control "$TMP/mute.sock" $args >"$TMP/out" 2>&1
	rc=$?
	[ $rc = 2 ] || bad "sockhop $args: exit $rc (want 2, no daemon asked): $(cat "$TMP/out")"
done
t0=$(date +%s)
"$SOCKHOP" --control "$TMP/mute.sock" services >"$TMP/out" 2>&1
rc=$?
secs=$(( $(date +%s) - t0 ))
[ $rc = 1 ] && grep -q "^sockhop: sockhopd at $TMP/mute.sock did not answer within 5 s" "$TMP/out" ||
	bad "a daemon that does not answer: exit $rc after ${secs}s: $(cat "$TMP/out")"
kill -TERM $MUTE; wait $MUTE 2>/dev/null
grep -q '^connections 1$' "$TMP/mute.out" || bad "the bad invocations reached the daemon: $(cat "$TMP/mute.out")"
result "sockhop help / CMD help / --help; 8 bad invocations refused without asking the daemon; a mute daemon named after 5 s"

# --- 3. SIGPIPE, kill -9 and what the next start does -----------------------
cat >"$TMP/made.yaml" <<CFG
scopes:
  - name: made
    cgroup: $TEST_CG/made
    create: true
    rules: [{action: accelerate, destination: 127.0.0.0/8}]
services:
  - name: web
    listen: 127.0.0.1:$PORT
    backends: [127.0.0.1:$BEPORT]
CFG
# links_of DIR: the programs attached to cgroup DIR
links_of() { bpftool cgroup show "$1" 2>/dev/null | tail -n +2 | wc -l; }

mkfifo "$TMP/log.fifo"
cat "$TMP/log.fifo" >"$TMP/pipe.log" &
CAT=$!
nsenter --net="/run/netns/$NS" "$SOCKHOPD" -c "$TMP/made.yaml" --pin-dir "$PIN" --control "$CTL" \
	>/dev/null 2>"$TMP/log.fifo" &
DAEMON_PID=$!
wait_until 10 grep -q 'ready:' "$TMP/pipe.log" || bad "the daemon writing to a pipe did not start: $(cat "$TMP/pipe.log")"
kill $CAT; wait $CAT 2>/dev/null	# the reader leaves, as tee does on Ctrl-C
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"
rc=$?
DAEMON_PID=
[ $rc = 0 ] || bad "with its log pipe gone the daemon exited $rc on SIGTERM (141: SIGPIPE)"
[ ! -e "$PIN" ] && [ ! -e "$TEST_CG/made" ] && [ ! -e "$CTL" ] ||
	bad "left behind after SIGTERM with a dead log pipe: $(ls -d "$PIN" "$TEST_CG/made" "$CTL" 2>/dev/null)"
result "log pipe without a reader: SIGTERM exits 0 and removes pins, the created cgroup and the control socket"

start_proxy "$TMP/made.yaml"
links1=$(ls "$PIN/links" | wc -l)
progs1=$(links_of "$TEST_CG/made")
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
"$SOCKHOP" --pin-dir "$PIN" status >"$TMP/out" 2>&1
grep -q 'died without cleaning up' "$TMP/out" || bad "status after kill -9: $(cat "$TMP/out")"
"$SOCKHOP" --pin-dir "$PIN" status -j | jq -e '.daemon.died == true' >/dev/null || bad "status -j after kill -9"
: >"$TMP/daemon.log"
start_proxy "$TMP/made.yaml"
[ "$(grep -c 'died without cleaning up' "$TMP/daemon.log")" = 1 ] || bad "restart after kill -9 log: $(cat "$TMP/daemon.log")"
[ "$(ls "$PIN/links" | wc -l)" = "$links1" ] && [ "$(links_of "$TEST_CG/made")" = "$progs1" ] ||
	bad "restart after kill -9: $(ls "$PIN/links" | wc -l) links (was $links1), $(links_of "$TEST_CG/made") programs (was $progs1)"
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
# the next start's config has no scope any more: its link and cgroup go
sed -n '/^services:/,$p' "$TMP/made.yaml" >"$TMP/noscope.yaml"
start_proxy "$TMP/noscope.yaml"
grep -q "scope 'made' left the config: removed the cgroup $TEST_CG/made created for it" "$TMP/daemon.log" ||
	bad "the left scope's cgroup: $(tail -5 "$TMP/daemon.log")"
[ ! -e "$TEST_CG/made" ] || bad "the cgroup made for a scope that left the config stayed"
[ "$(ls "$PIN/links" 2>/dev/null | wc -l)" = 0 ] || bad "links of a scope that left the config stayed: $(ls "$PIN/links")"
kill -TERM "$DAEMON_PID"
wait "$DAEMON_PID"; rc=$?; DAEMON_PID=
[ $rc = 0 ] && [ ! -e "$PIN" ] || bad "final stop: exit $rc, left $(ls -R "$PIN" 2>/dev/null | tr '\n' ' ')"
if grep -v '^sockhopd: ' "$TMP/daemon.log" | grep -q .; then
	bad "daemon log lines without the sockhopd: prefix: $(grep -v '^sockhopd: ' "$TMP/daemon.log" | head -3)"
fi
result "kill -9: status says so, the next start says so once and adopts ($links1 links, $progs1 programs, no duplicates); a scope that left is removed with its cgroup; 0 orphans after stop"

# A second daemon beside a running one is refused: on the same control
# socket at once, and with pins deleted and another socket, by the cgroup
# already running sockhop's programs. Nothing is attached twice.
default_config >"$TMP/scopes.yaml"
: >"$TMP/daemon.log"
start_daemon "$TMP/scopes.yaml"
first=$DAEMON_PID
progs=$(links_of "$TEST_CG/mesh")
"$SOCKHOPD" -c "$TMP/scopes.yaml" --pin-dir "$PIN" --control "$CTL" >"$TMP/out" 2>&1 &&
	bad "a second daemon on the same control socket started"
grep -q "another sockhopd answers on the control socket $CTL: refusing to start" "$TMP/out" ||
	bad "second daemon: $(cat "$TMP/out")"
rm -rf "$PIN"
"$SOCKHOPD" -c "$TMP/scopes.yaml" --pin-dir "$PIN" --control "$TMP/other.sock" >"$TMP/out" 2>&1 &&
	bad "a second daemon started after the pins were deleted"
grep -q "cgroup $TEST_CG/mesh already runs sockhop's sock_create_tag (program id [0-9]*), which no pin in $PIN accounts for" "$TMP/out" ||
	bad "second daemon, pins deleted: $(cat "$TMP/out")"
[ "$(links_of "$TEST_CG/mesh")" = "$progs" ] || bad "programs attached twice: $(bpftool cgroup show "$TEST_CG/mesh")"
[ ! -e "$TMP/other.sock" ] && [ ! -e "$PIN" ] || bad "the refused daemon left its socket or pins"
kill -TERM "$first"; wait "$first"; DAEMON_PID=
result "a second daemon refused on a live control socket, and on a cgroup already served after its pins were deleted ($progs programs, not twice)"

# A scope's cgroup removed and made again: a reload says so; the stop
# leaves the new one alone. create: true makes the missing parents too,
# and the stop removes them.
cat >"$TMP/made2.yaml" <<CFG
scopes:
  - name: keep
    cgroup: $TEST_CG/keep
    create: true
  - name: deep
    cgroup: $TEST_CG/p/q/r
    create: true
CFG
: >"$TMP/daemon.log"
start_daemon "$TMP/made2.yaml"
grep -q "scope 'deep': created cgroup $TEST_CG/p/q/r and 2 parents" "$TMP/daemon.log" || bad "nested create: $(cat "$TMP/daemon.log")"
rmdir "$TEST_CG/keep" && mkdir "$TEST_CG/keep"
"$SOCKHOP" --control "$CTL" reload >"$TMP/out" 2>&1 && bad "a reload over a cgroup made again was taken"
grep -q "the cgroup $TEST_CG/keep of scope 0 was removed and made again since the start" "$TMP/out" ||
	bad "reload over a cgroup made again: $(cat "$TMP/out")"
# the cgroup renamed in spelling only is the same scope: that reload is fine
rmdir "$TEST_CG/keep"; kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; DAEMON_PID=
[ ! -e "$TEST_CG/p" ] || bad "created parents left behind: $(find "$TEST_CG/p")"
: >"$TMP/daemon.log"
start_daemon "$TMP/made2.yaml"
rmdir "$TEST_CG/keep" && mkdir "$TEST_CG/keep"
stop_daemon
[ -d "$TEST_CG/keep" ] || bad "the stop removed a cgroup it had not made"
grep -q "left cgroup $TEST_CG/keep in place: it is not the one sockhopd created" "$TMP/daemon.log" ||
	bad "stop over a cgroup made again: $(cat "$TMP/daemon.log")"
sed -i "s|cgroup: $TEST_CG/keep|cgroup: sockhop-test-$ID/./keep/|" "$TMP/made2.yaml"
: >"$TMP/daemon.log"
start_daemon "$TMP/made2.yaml"
sed -i "s|cgroup: sockhop-test-$ID/./keep/|cgroup: sockhop-test-$ID/keep|" "$TMP/made2.yaml"
"$SOCKHOP" --control "$CTL" reload >"$TMP/out" 2>&1 || bad "a reload that only respells a cgroup: $(cat "$TMP/out")"
# explain finds the scope by a relative path too, and refuses what is no cgroup
"$SOCKHOP" --pin-dir "$PIN" explain "sockhop-test-$ID/keep" tcp 10.0.0.1 80 | grep -q "scope 'keep'" ||
	bad "explain by a relative path: $("$SOCKHOP" --pin-dir "$PIN" explain "sockhop-test-$ID/keep" tcp 10.0.0.1 80 2>&1)"
"$SOCKHOP" --pin-dir "$PIN" explain /tmp tcp 10.0.0.1 80 >"$TMP/out" 2>&1
[ $? = 2 ] && grep -q "'/tmp' is not a cgroup under the cgroup2 mount" "$TMP/out" || bad "explain /tmp: $(cat "$TMP/out")"
stop_daemon
result "a cgroup made again: reload refused, stop leaves it; nested create removed at stop; a respelled cgroup reloads; explain by relative path"

# A busy cgroup of a scope that left: named by its path. Closed stdio:
# logs go to /dev/null, never into a BPF map.
: >"$TMP/daemon.log"
start_proxy "$TMP/made.yaml"
sleep 300 & SLEEPER=$!; BG_PIDS+=($SLEEPER)
echo $SLEEPER >"$TEST_CG/made/cgroup.procs"
kill -KILL "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
: >"$TMP/daemon.log"
start_proxy "$TMP/noscope.yaml"
grep -q "left the cgroup $TEST_CG/made created for it in place: Device or resource busy (a process is still in it); remove it with 'rmdir $TEST_CG/made' once it is empty" "$TMP/daemon.log" ||
	bad "busy left cgroup: $(grep made "$TMP/daemon.log")"
stop_daemon
kill $SLEEPER; wait $SLEEPER 2>/dev/null
nsenter --net="/run/netns/$NS" "$SOCKHOPD" -c "$TMP/proxy.yaml" --pin-dir "$PIN" --control "$CTL" <&- >&- 2>&- &
DAEMON_PID=$!
wait_until 10 test -S "$CTL" || bad "the daemon without stdio did not start"
fd2=$(readlink "/proc/$DAEMON_PID/fd/2")
[ "$fd2" = /dev/null ] || bad "with stdio closed, fd 2 is $fd2"
kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID"; DAEMON_PID=
result "a busy cgroup of a scope that left is named by its path; with stdio closed fd 2 is /dev/null"

# A daemon of scopes only says nothing of connections when it stops.
default_config >"$TMP/scopes.yaml"
: >"$TMP/daemon.log"
start_daemon "$TMP/scopes.yaml"
stop_daemon
grep -q 'no longer accepting' "$TMP/daemon.log" && bad "a scopes-only daemon logged 'no longer accepting'"
grep -q 'received Terminated, stopping' "$TMP/daemon.log" || bad "scopes-only stop: $(cat "$TMP/daemon.log")"
result "a scopes-only daemon stops without the proxy's drain message"

# --control naming a file that is not a socket: refused, the file intact
echo precious >"$TMP/precious"
"$SOCKHOPD" -c "$TMP/scopes.yaml" --pin-dir "$PIN" --control "$TMP/precious" >"$TMP/out" 2>&1 &&
	bad "started on a regular file as its control socket"
grep -q "the file exists and is not a socket; refusing to replace it" "$TMP/out" || bad "--control on a file: $(cat "$TMP/out")"
[ "$(cat "$TMP/precious")" = precious ] && [ ! -e "$PIN" ] || bad "--control on a file: the file changed or pins were left"
# bytes a terminal obeys are shown, never sent raw, in config errors and CLI messages
printf 'scopes:\n  - name: "x\\e[2J"\n    cgroup: "a\\x01b"\n' >"$TMP/esc.yaml"
"$SOCKHOPD" --check -c "$TMP/esc.yaml" >"$TMP/out" 2>&1
grep -q "'x\\\\x1b\[2J' is not a valid name" "$TMP/out" && ! grep -q $'\e' "$TMP/out" || bad "config error not escaped: $(cat -v "$TMP/out")"
"$SOCKHOP" explain $'x\e]0;pwn\a' tcp 1.2.3.4 >"$TMP/out" 2>&1
grep -q 'x\\x1b\]0;pwn\\x07' "$TMP/out" && ! grep -q $'\e' "$TMP/out" || bad "CLI message not escaped: $(cat -v "$TMP/out")"
result "--control on a regular file refused with the file intact; ESC and BEL in a config value and a CLI argument shown as \\xNN"

finish
