#!/usr/bin/env bash
# local-clients: connect: a client in a scope that balances the service
# connects to the proxy's listen address and gets a backend inside connect()
# (the proxy never sees it: its accepted count stays, the connect hook's
# balanced count grows, getpeername() still names the listen address); a client
# outside any scope goes through the proxy as before. IPv4 and IPv6, every
# byte checked, and curl against an HTTP backend (python's http.server).
. "$(dirname "$0")/lib.sh"

APP=$TEST_CG/app PLAIN=$TEST_CG/plain
mkdir -p "$APP" "$PLAIN"
cat >"$TMP/cfg.yaml" <<CFG
services:
  - name: web
    listen: 127.0.0.1:8080
    local-clients: connect
    backends: [127.0.0.1:9001, 127.0.0.1:9002]
  - name: web6
    listen: "[::1]:8086"
    local-clients: connect
    backends: ["[::1]:9006"]
  - name: http
    listen: 127.0.0.1:8090
    local-clients: connect
    backends: [127.0.0.1:9010]
scopes:
  - name: app
    cgroup: $APP
    rules:
      - {action: balance, service: web}
      - {action: balance, service: web6}
      - {action: balance, service: http}
CFG
backend 1 9001; backend 2 9002; backend 6 9006 --bind ::1
mkdir -p "$TMP/www" && echo "sockhop local-clients" >"$TMP/www/index.html"
ip netns exec "$NS" python3 -m http.server 9010 --bind 127.0.0.1 --directory "$TMP/www" >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_port 9010
start_proxy "$TMP/cfg.yaml"
[ "$(svc web virtual | jq -r 'join(" ")')" = "127.0.0.1:8080" ] ||
	bad "the listen address is not shown as virtual: $(svc web virtual)"
[ "$(svc web local_clients)" = connect ] || bad "local_clients shown as $(svc web local_clients)"

# in_cg CG ADDR PORT N: N checked connections from cgroup CG; sets LOAD
in_cg() {
	LOAD=$(run_in "$1" "$NS" "$SHLOAD" client "$2" "$3" --conns "$4" --parallel 4 --up 65536 \
		--down 65536 2>"$TMP/load.err")
	[ "$(load_field ok)" = "$4" ] && [ "$(load_field bad)" = 0 ] || bad "from $1 to $2:$3: $LOAD"
}
# deltas SVC CMD...: "accepted balanced" of SVC across CMD
deltas() {
	local s=$1 a0 b0; shift
	a0=$(svc "$s" accepted) b0=$(svc "$s" vip.balanced)
	"$@"
	echo "$(( $(svc "$s" accepted) - a0 )) $(( $(svc "$s" vip.balanced) - b0 ))"
}
read -r acc bal <<<"$(deltas web in_cg "$APP" 127.0.0.1 8080 100)"
[ "$acc" = 0 ] && [ "$bal" = 100 ] || bad "scoped IPv4 clients: proxy accepted $acc, balanced in connect() $bal of 100"
read -r acc6 bal6 <<<"$(deltas web6 in_cg "$APP" ::1 8086 100)"
[ "$acc6" = 0 ] && [ "$bal6" = 100 ] || bad "scoped IPv6 clients: proxy accepted $acc6, balanced $bal6 of 100"
read -r acc2 bal2 <<<"$(deltas web in_cg "$PLAIN" 127.0.0.1 8080 100)"
[ "$acc2" = 100 ] && [ "$bal2" = 0 ] || bad "unscoped clients: proxy accepted $acc2 of 100, balanced $bal2"
result "100 IPv4 and 100 IPv6 connects from the scope to the listen addresses got a backend in connect() (the proxy accepted 0); 100 from outside any scope went through the proxy; every byte checked"

# what the backend sees: the scoped client's own address and port, no proxy between
PORTS=$(run_in "$APP" "$NS" python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 8090))
print(s.getsockname()[1], s.getpeername()[1])')
read -r _ pport <<<"$PORTS"
[ "$pport" = 8090 ] || bad "getpeername() of the scoped client says port $pport, expected the address it connected to (8090)"
page=$(run_in "$APP" "$NS" curl -sS --max-time 5 http://127.0.0.1:8090/index.html 2>&1)
[ "$page" = "sockhop local-clients" ] || bad "curl from the scope: $page"
page2=$(run_in "$PLAIN" "$NS" curl -sS --max-time 5 http://127.0.0.1:8090/index.html 2>&1)
[ "$page2" = "sockhop local-clients" ] || bad "curl from outside the scope: $page2"
[ "$(svc http vip.balanced)" -ge 2 ] && [ "$(svc http accepted)" = 1 ] ||
	bad "curl: balanced $(svc http vip.balanced) (want >= 2: the python probe and curl), proxied $(svc http accepted) (want 1)"
result "curl from the scope fetched the page straight from the backend (getpeername still says :8090), curl from outside through the proxy"
stop_daemon
finish
