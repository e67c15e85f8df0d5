#!/usr/bin/env bash
# Connect-time load balancing: processes in a scope connect to a virtual
# address and reach backends chosen inside connect().
. "$(dirname "$0")/lib.sh"

APP=$TEST_CG/app OTHER=$TEST_CG/other
mkdir -p "$APP" "$OTHER"
cat >"$TMP/cfg.yaml" <<CFG
services:
  - name: web
    virtual: 10.96.0.10:80
    backends:
      - {address: 127.0.0.1:9101, weight: 1}
      - {address: 127.0.0.1:9102, weight: 2}
      - {address: 127.0.0.1:9103, weight: 3}
    health-check: {interval: 100ms, timeout: 50ms, rise: 2, fall: 2}
scopes:
  - name: app
    cgroup: $APP
    rules:
      - action: balance
        service: web
CFG
backend 1 9101; backend 2 9102; backend 3 9103
start_proxy "$TMP/cfg.yaml"
"$SOCKHOP" --control "$CTL" services
run_in "$APP" "$NS" "$SHLOAD" client 10.96.0.10 80 --conns 300 --parallel 2 --up 100 --down 100
"$SOCKHOP" --control "$CTL" services
"$SOCKHOP" --control "$CTL" table web > /tmp/table.txt
ip netns exec "$NS" ss -tnie > /tmp/ss.txt
