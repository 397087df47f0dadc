#!/bin/sh
# integration_netns: the rack over three network namespaces (switch, NIC and server hosts joined by veth pairs) running flowcheck.
#
# Usage: netns.sh SWITCHD NICD SERVERD PLANEGEN FLOWCHECK_SO
# Exit: 0 pass, 1 fail, 77 skip (not root, or no network namespaces).
#
# Topology (each host its own namespace and addresses; the switch host
# routes between its two links, as a ToR would, so NIC <-> server traffic
# such as replication crosses it too):
#
#   NIC host 10.77.1.2 --veth-- 10.77.1.1 [switch host] 10.77.2.1 --veth-- 10.77.2.2 server host
#   nicd nic0 :17001, nicd nic1 :17002     switchd             serverd srv0 :17003
#
# switchd's control address and front-panel ports are on the switch host;
# planegen gen (sender) and planegen sink (receiver) run there too, on the
# ports' listen and peer addresses.  Frames travel gen -> switch port ->
# (per flowcheck's flow placement) a device on another host -> switch ->
# sink, and the sink checks every frame came back once, rewritten
# consistently (flowcheck's mapping id), and that devices on the other hosts
# processed some of them.  Every wait polls a condition under a deadline;
# the namespaces are removed on any exit.
set -u

lib_name=integration_netns
. "$(dirname "$0")/../lib/netns_lib.sh"

[ $# -eq 5 ] || { echo "usage: $0 SWITCHD NICD SERVERD PLANEGEN FLOWCHECK_SO" >&2; exit 2; }
# Absolute paths: rack.yaml's relative paths are taken from its own directory.
switchd=$(abs "$1") nicd=$(abs "$2") serverd=$(abs "$3") planegen=$(abs "$4") flowcheck=$(abs "$5")

require_root "network namespaces, veth"
if ! command -v ip >/dev/null 2>&1; then
    say "SKIP: no ip(8)"
    exit 77
fi

tag=$$
ns_sw=plsw$tag ns_nic=plnic$tag ns_srv=plsrv$tag
namespaces="$ns_sw $ns_nic $ns_srv"
work=$(mktemp -d "${TMPDIR:-/tmp}/plane-netns.XXXXXX") || exit 1
pids=""
trap ns_cleanup EXIT
trap 'exit 1' INT TERM HUP

ns_add_all

in_sw() { ip netns exec "$ns_sw" "$@"; }
in_nic() { ip netns exec "$ns_nic" "$@"; }
in_srv() { ip netns exec "$ns_srv" "$@"; }

# veth pairs are created inside the switch namespace, then one end moved,
# so no interface ever appears in (or collides with) the caller's namespace.
setup_net() {
    in_sw ip link add swnic type veth peer name nic0e || return 1
    in_sw ip link add swsrv type veth peer name srv0e || return 1
    in_sw ip link set nic0e netns "$ns_nic" || return 1
    in_sw ip link set srv0e netns "$ns_srv" || return 1
    in_sw ip addr add 10.77.1.1/24 dev swnic || return 1
    in_sw ip addr add 10.77.2.1/24 dev swsrv || return 1
    in_nic ip addr add 10.77.1.2/24 dev nic0e || return 1
    in_srv ip addr add 10.77.2.2/24 dev srv0e || return 1
    for ns in $ns_sw $ns_nic $ns_srv; do
        ip -n "$ns" link set lo up || return 1
    done
    in_sw ip link set swnic up && in_sw ip link set swsrv up || return 1
    in_nic ip link set nic0e up && in_srv ip link set srv0e up || return 1
    in_nic ip route add default via 10.77.1.1 || return 1
    in_srv ip route add default via 10.77.2.1 || return 1
    in_sw sysctl -q -w net.ipv4.ip_forward=1 || return 1
}
if ! setup_net 2>"$work/net.err"; then
    if grep -qi 'not supported\|unknown.*veth\|operation not permitted' "$work/net.err"; then
        say "SKIP: veth unavailable: $(cat "$work/net.err")"
        exit 77
    fi
    cat "$work/net.err"
    fail "network setup"
fi

# Hosts reach each other across the switch host (polled: links come up asynchronously).
if command -v ping >/dev/null 2>&1; then
    poll 100 in_nic ping -c 1 -W 1 10.77.2.2 || fail "NIC host cannot reach the server host"
    poll 100 in_srv ping -c 1 -W 1 10.77.1.1 || fail "server host cannot reach the switch host"
fi
say "namespaces up: $ns_sw (10.77.1.1, 10.77.2.1) $ns_nic (10.77.1.2) $ns_srv (10.77.2.2)"

# The same rack.yaml for every host, as on a real deployment; the key in its own file.
write_rack_key
cat >"$work/rack.yaml" <<EOF
version: 1
rack:
  name: netns
  auth_key_file: rack.key
switch:
  id: 0
  name: tor0
  control: 10.77.1.1:17000
  ports:
    - {id: 0, name: p0, listen: 10.77.1.1:17010, peer: 10.77.1.1:17110}
  features: [recirculation, hash, multicast]
devices:
  - {id: 1, name: nic0, role: nic, address: 10.77.1.2:17001, features: [hash, timestamp]}
  - {id: 2, name: nic1, role: nic, address: 10.77.1.2:17002, features: [hash, timestamp]}
  - {id: 3, name: srv0, role: server, address: 10.77.2.2:17003, features: [payload, hash, timestamp]}
apps:
  - id: 1
    name: flowcheck
    module: $flowcheck
    traffic_class: {proto: udp}
    flow_manager_entries: 512
    objects:
      mapping: {size: 65536}
      pkts: {size: 65536}
      per_src: {size: 65536}
EOF
check_rack "$switchd"

loglevel=${PLANE_IT_LOG_LEVEL:-info}
start_in "$ns_sw" switchd "$switchd" --config "$work/rack.yaml" --log-level "$loglevel"
start_in "$ns_nic" nic0 "$nicd" --config "$work/rack.yaml" --id nic0 --log-level "$loglevel"
start_in "$ns_nic" nic1 "$nicd" --config "$work/rack.yaml" --id nic1 --log-level "$loglevel"
start_in "$ns_srv" srv0 "$serverd" --config "$work/rack.yaml" --id srv0 --log-level "$loglevel"
say "daemons started:$pids"

# JSON field of the sink's one-object summary (top-level numbers only).
field() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p" "$2" | head -n 1; }

# Readiness is a condition: a small probe run makes it through the rack.
deadline=$(($(date +%s) + 120))
probe=0
while :; do
    alive || fail "a daemon exited during start-up"
    probe=$((probe + 1))
    ip netns exec "$ns_sw" "$planegen" sink --listen 10.77.1.1:17110 --idle 2 --duration 20 --json --quiet \
        --ready-file "$work/probe.ready" >"$work/probe.json" 2>"$work/probe.err" &
    sinkpid=$!
    n=0
    until [ -s "$work/probe.ready" ] || [ $n -ge 100 ]; do sleep 0.1; n=$((n + 1)); done
    in_sw "$planegen" gen --to 10.77.1.1:17010 --class-ports udp:7000-7999 --flows 16 \
        --count 32 --seed "$probe" --quiet >/dev/null 2>"$work/probe-gen.err"
    wait "$sinkpid"
    rm -f "$work/probe.ready"
    got=$(field received "$work/probe.json")
    if [ "${got:-0}" -gt 0 ]; then
        say "rack ready after $probe probe(s): $got of 32 probe frames came back"
        break
    fi
    [ "$(date +%s)" -lt "$deadline" ] || fail "no probe frame came back within 120 s"
done

# The run: numbered frames of many flows, paced; the sink stops when all arrived.
count=3000
ip netns exec "$ns_sw" "$planegen" sink --listen 10.77.1.1:17110 --gen-report "$work/gen.json" --duration 120 \
    --json --quiet --ready-file "$work/sink.ready" >"$work/sink.json" 2>"$work/sink.log" &
sinkpid=$!
n=0
until [ -s "$work/sink.ready" ] || [ $n -ge 300 ]; do sleep 0.1; n=$((n + 1)); done
[ -s "$work/sink.ready" ] || fail "sink did not start"
in_sw "$planegen" gen --to 10.77.1.1:17010 --class-ports udp:7000-7999 --flows 200 \
    --alpha 0.9 --count $count --rate 1000 --seed 7 --report "$work/gen.json" --quiet \
    >"$work/gen.log" 2>&1 || fail "planegen gen failed"
wait "$sinkpid"
src=$?
alive || fail "a daemon exited during the run"
say "sink: $(cat "$work/sink.json")"
[ $src -eq 0 ] || fail "sink exit status $src"

sent=$(field sent "$work/gen.json")
unique=$(field unique "$work/sink.json")
dup=$(field duplicated "$work/sink.json")
rw=$(field rewrite_errors "$work/sink.json")
[ "$sent" = "$count" ] || fail "gen sent $sent of $count"
[ "$unique" = "$count" ] || fail "$unique of $count frames came back"
[ "$dup" = 0 ] || fail "$dup duplicated frames"
[ "$rw" = 0 ] || fail "$rw frames with an inconsistent rewrite (flowcheck mapping)"
# Devices on the other hosts did part of the processing (device ids 1..3).
remote=$(grep -o '"device":"[0-9]*","packets":[0-9]*' "$work/sink.json" \
    | sed 's/"device":"\([0-9]*\)","packets":\([0-9]*\)/\1 \2/' \
    | awk '$1 != 0 { s += $2 } END { print s + 0 }')
[ "$remote" -gt 0 ] || fail "no frame was processed by a device on another host"
say "$unique/$count frames back once, consistent rewrites; $remote processed on the NIC/server hosts"

# Clean stop: SIGTERM, every daemon exits 0.
stop_daemons
say "PASS"
