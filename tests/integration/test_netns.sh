#!/usr/bin/env bash
# The same 4-tuple (127.0.0.1:7300 <-> 127.0.0.1:40123) in two network
# namespaces at once: each stream reaches only its own peer (distinct seeds,
# every byte checked), both pairs are accelerated, no key collides.
. "$(dirname "$0")/lib.sh"

default_config >"$TMP/cfg.yaml"
start_daemon "$TMP/cfg.yaml"
MESH=$TEST_CG/mesh NS2=shns2-$ID
new_netns "$NS2"
MiB=$((1024 * 1024))

pair "$MESH" "$MESH" "$NS" 127.0.0.1 7300 $((8 * MiB)) 12 11 --src-port 40123 &
p1=$!
pair "$MESH" "$MESH" "$NS2" 127.0.0.1 7300 $((8 * MiB)) 22 21 --src-port 40123 &
p2=$!
wait $p1 || bad "the pair in $NS failed"
wait $p2 || bad "the pair in $NS2 failed"
ins=$(stat mesh inserts) red=$(stat mesh bytes_redirected)
[ "$ins" = 4 ] || bad "expected 4 inserted sockets (2 per namespace), got $ins, insert failures: $(stat mesh insert_fail)"
[ $((red * 100)) -ge $((4 * 8 * MiB * 99)) ] || bad "only $red bytes redirected"
result "two namespaces, one 4-tuple: 4 sockets inserted, $red bytes redirected, 0 cross-deliveries"
stop_daemon
finish
