#!/bin/bash
# The tc policy stages on crafted packets (BPF_PROG_TEST_RUN): IPv4, IPv6,
# TCP, UDP, ICMP, GRE, VLAN, options, extension headers, fragments,
# truncated and malformed headers, ingress socket lookups, an empty cgroup
# slot and missing stages. tests/tools/shtc.c holds the packets and the
# exact verdict, mark and counter changes each one must produce; the rules
# it expects are these.
. "$(dirname "$0")/lib.sh"

SHTC=$ROOT/$BUILD/tests/shtc
mkdir -p "$TEST_CG/outside"
cat >"$TMP/policy.yaml" <<CFG
policy:
  default: allow
scopes:
  - name: web
    cgroup: $TEST_CG/web
    create: true
    default: deny
    rules:
      - {action: count, protocol: tcp}
      - {action: allow, protocol: tcp, destination: 10.1.0.0/16, port: 80-89}
      - {action: deny, protocol: tcp, destination: 10.1.2.0/24}
      - {action: mark, mark: 0x42, protocol: udp, destination: 10.2.0.0/16, port: 53}
      - {action: allow, protocol: icmp}
      - {action: allow, protocol: tcp, destination: "2001:db8::/32", port: 443}
      - {action: mark, mark: 7, destination: "2001:db8:1::/48"}
      - {action: allow, destination: 10.9.0.0/16}
  - name: batch
    cgroup: $TEST_CG/batch
    create: true
    default: mark
    default-mark: 9
    rules:
      - {action: deny, protocol: udp}
      - {action: accelerate, destination: 127.0.0.0/8}
CFG
launch_daemon "$NS" "$TMP/policy.yaml"
for p in egress ingress; do
	[ -e "$PIN/tc/$p" ] || bad "no tc entry pinned at $PIN/tc/$p"
done

# the tool moves itself between the test's cgroups; start it in 'outside'
run_in "$TEST_CG/outside" "$NS" true
sh -c 'echo $$ > "$0/cgroup.procs" && exec nsenter --net="/run/netns/$1" "$2" "$3" "$4" "$5" "$6"' \
	"$TEST_CG/outside" "$NS" "$SHTC" "$PIN" "$TEST_CG/web" "$TEST_CG/batch" "$TEST_CG/outside" \
	>"$TMP/shtc.out" 2>&1
rc=$?
cat "$TMP/shtc.out"
[ $rc = 0 ] || bad "shtc: $(tail -n1 "$TMP/shtc.out")"
n=$(sed -n 's/^cases=\([0-9]*\) failed=0$/\1/p' "$TMP/shtc.out")
[ -n "$n" ] && [ "$n" -ge 40 ] || bad "expected at least 40 cases, got '$n'"
result "$n crafted packets through the stages: every verdict, mark and counter change exact"
stop_daemon
finish
