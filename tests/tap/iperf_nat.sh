#!/bin/sh
# integration_tap_iperf_nat: a real TCP transfer (iperf3) between two namespaces crosses switchd's TAP ports and the NAT app; a NIC is killed mid-transfer.
#
# Usage: iperf_nat.sh SWITCHD NICD SERVERD PLANECTL NAT_SO
# Exit: 0 pass, 1 fail, 77 skip (not root, no iperf3, no /dev/net/tun, no
# network namespaces).
#
# Topology (ExoPlane Fig. 18: throughput across a device failure):
#
#   [inside ns]                     [switch ns]                     [outside ns]
#   iperf3 client                   switchd (NAT app)               iperf3 server
#   pli0 10.1.0.2  <==TAP fd==>  port 1 "inside"                    198.51.100.2 plo0
#                                port 0 "outside"  <==TAP fd==>
#                                nic0, nic1, srv0 on the switch ns's lo
#
# Why TAPs moved into the end hosts' namespaces (not veth + bridge): switchd
# creates each TAP in its own namespace (TUNSETIFF), then the test moves the
# interface into the host namespace (`ip link set NAME netns NS`).  A TAP's
# fd stays attached to its interface wherever the interface lives, so
# switchd keeps reading and writing it, and the host's kernel sees a plain
# Ethernet link whose other end is the switch.  No bridge, no extra hop, and
# nothing ever appears in the caller's namespace.  (The interfaces are not
# persistent: they disappear when switchd exits.)
#
# The NAT rewrites addresses and ports, not MACs, and the switch drops
# everything that is not IP (ARP included), so each host has a permanent
# neighbour entry giving the other host's MAC for the addresses it talks to:
# the inside host sends to 198.51.100.2 with the outside host's MAC, the
# outside host answers the pool addresses with the inside host's MAC.
#
# The rack: shards put both NICs' flows on the NICs with the server as their
# replica (logical 0: nic0 -> srv0, logical 1: nic1 -> srv0), and promotion
# is off (popularity_threshold at its maximum) so the transfer stays on a
# NIC instead of moving to the switch: the drill then hits the data path.
# At ~3 s the NIC that processed most of the transfer is killed with
# SIGKILL; the switch misses its heartbeats, fails its logical over to srv0
# (which holds the replicated NAT sessions) and the transfer goes on.
# Checks: iperf3 exits 0, end.sum_received.bits_per_second > 0, and the
# last interval carries traffic again; throughput before/after is printed.
set -u

lib_name=integration_tap_iperf_nat
. "$(dirname "$0")/../lib/netns_lib.sh"

[ $# -eq 5 ] || { echo "usage: $0 SWITCHD NICD SERVERD PLANECTL NAT_SO" >&2; exit 2; }
switchd=$(abs "$1") nicd=$(abs "$2") serverd=$(abs "$3") planectl=$(abs "$4") nat=$(abs "$5")

require_root "network namespaces, TAP devices"
for tool in ip iperf3; do
    if ! command -v $tool >/dev/null 2>&1; then
        say "SKIP: no $tool (scripts/install-deps.sh installs it)"
        exit 77
    fi
done
if [ ! -c /dev/net/tun ]; then
    say "SKIP: no /dev/net/tun"
    exit 77
fi

tag=$$
ns_sw=pltsw$tag ns_in=pltin$tag ns_out=pltout$tag
tap_in=pli0 tap_out=plo0
mac_in=02:00:0a:01:00:02 mac_out=02:00:c6:33:64:02
ip_in=10.1.0.2 ip_out=198.51.100.2
namespaces="$ns_sw $ns_in $ns_out"
work=$(mktemp -d "${TMPDIR:-/tmp}/plane-tap.XXXXXX") || exit 1
pids=""
# On exit switchd's TAPs go with it (not persistent), wherever they were.
trap ns_cleanup EXIT
trap 'exit 1' INT TERM HUP

ns_add_all
for ns in $ns_sw $ns_in $ns_out; do
    ip -n "$ns" link set lo up || fail "lo up in $ns"
done
# No IPv6 on the hosts: router solicitations and DAD would only be counted
# drops at the switch (non-IPv4 traffic is not the NAT's).
for ns in $ns_in $ns_out; do
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 \
        net.ipv6.conf.default.disable_ipv6=1 >/dev/null 2>&1
done

# Fixed addresses are fine: every daemon is alone on its namespace's lo.
write_rack_key
cat >"$work/rack.yaml" <<EOF
version: 1
rack:
  name: tapnat
  auth_key_file: rack.key
# Liveness a little slower than the defaults (100 ms to detect instead of
# 30): under a sanitizer build on a loaded 2-core machine the server, which
# replicates every packet of the transfer, can miss 3 heartbeats of 10 ms.
timers:
  heartbeat_ms: 25
  heartbeat_misses: 4
  popularity_threshold: 1073741824
switch:
  id: 0
  name: tor0
  control: 127.0.0.1:17000
  ports:
    - {id: 0, name: outside, tap: $tap_out}
    - {id: 1, name: inside, tap: $tap_in}
  features: [recirculation, hash, multicast]
devices:
  - {id: 1, name: nic0, role: nic, address: 127.0.0.1:17001, features: [hash, timestamp]}
  - {id: 2, name: nic1, role: nic, address: 127.0.0.1:17002, features: [hash, timestamp]}
  - {id: 3, name: srv0, role: server, address: 127.0.0.1:17003, features: [payload, hash, timestamp]}
shards:
  logical_devices: 2
  map:
    0: {primary: nic0, replica: srv0}
    1: {primary: nic1, replica: srv0}
apps:
  - id: 1
    name: nat
    module: $nat
    traffic_class: {proto: tcp}
    flow_manager_entries: 1024
    objects:
      sessions: {size: 4096}
      pkts: {size: 1}
      exhausted: {size: 1}
      unsolicited: {size: 1}
    params:
      # 4 inside addresses share 4 x 64512 public slots: a block of 64512
      # per address, so no two test connections ever share a slot.
      tenant0: "inside=10.1.0.0/30 pool=203.0.113.0/30 ports=1024-65535"
      inside_port: "1"
      outside_port: "0"
EOF
check_rack "$switchd"

loglevel=${PLANE_IT_LOG_LEVEL:-info}
start_in "$ns_sw" switchd "$switchd" --config "$work/rack.yaml" --log-level "$loglevel"
for d in nic0 nic1; do
    start_in "$ns_sw" $d "$nicd" --config "$work/rack.yaml" --id $d --log-level "$loglevel"
    eval "pid_$d=\$last_pid"
done
start_in "$ns_sw" srv0 "$serverd" --config "$work/rack.yaml" --id srv0 --log-level "$loglevel"
say "daemons started:$pids"

# switchd created both TAPs when it started its ports.
taps_exist() {
    ip -n "$ns_sw" link show "$tap_in" && ip -n "$ns_sw" link show "$tap_out"
}
poll 300 taps_exist || fail "switchd did not create $tap_in and $tap_out"

# Move each TAP into its host's namespace and make it that host's link.
setup_hosts() {
    ip -n "$ns_sw" link set "$tap_in" netns "$ns_in" || return 1
    ip -n "$ns_sw" link set "$tap_out" netns "$ns_out" || return 1
    ip -n "$ns_in" link set "$tap_in" address $mac_in || return 1
    ip -n "$ns_out" link set "$tap_out" address $mac_out || return 1
    ip -n "$ns_in" addr add $ip_in/30 dev "$tap_in" || return 1
    ip -n "$ns_out" addr add $ip_out/24 dev "$tap_out" || return 1
    ip -n "$ns_in" link set "$tap_in" up || return 1
    ip -n "$ns_out" link set "$tap_out" up || return 1
    ip -n "$ns_in" route add 198.51.100.0/24 dev "$tap_in" || return 1
    ip -n "$ns_out" route add 203.0.113.0/30 dev "$tap_out" || return 1
    ip -n "$ns_in" neigh replace $ip_out lladdr $mac_out nud permanent dev "$tap_in" || return 1
    for a in 203.0.113.0 203.0.113.1 203.0.113.2 203.0.113.3; do
        ip -n "$ns_out" neigh replace $a lladdr $mac_in nud permanent dev "$tap_out" || return 1
    done
}
setup_hosts 2>"$work/hosts.log" || fail "host network setup"
say "hosts up: $ns_in ($ip_in on $tap_in) $ns_out ($ip_out on $tap_out)"

ctl() { ip netns exec "$ns_sw" "$planectl" --config "$work/rack.yaml" --timeout 1000 "$@"; }
ctr() { ctl counters "$1" "$2" 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'; }
all_up() {
    for d in nic0 nic1 srv0; do
        [ "$(ctr switch dev.$d.up)" = 1 ] || return 1
    done
}
poll 600 all_up || fail "devices not up at the switch within 60 s"
alive || fail "a daemon exited during start-up"

ip netns exec "$ns_out" iperf3 -s -B $ip_out -p 5201 >"$work/iperf3-server.log" 2>&1 &
server=$!
# Readiness as a condition: a short transfer makes it through the NAT.
probe() {
    ip netns exec "$ns_in" iperf3 -c $ip_out -p 5201 -t 1 --connect-timeout 2000 \
        >"$work/probe.log" 2>&1
}
poll 30 probe || fail "no TCP transfer through the NAT (probe)"
say "probe transfer through the NAT ok"

# The run: 8 s, half-second intervals; the drill at ~3 s.
ip netns exec "$ns_in" iperf3 -c $ip_out -p 5201 -t 8 -i 0.5 -J --connect-timeout 5000 \
    >"$work/iperf3.json" 2>"$work/iperf3-client.log" &
client=$!
sleep 3
p0=$(ctr nic0 device.processed) p1=$(ctr nic1 device.processed)
victim=nic0 vpid=$pid_nic0
if [ "${p1:-0}" -gt "${p0:-0}" ]; then
    victim=nic1 vpid=$pid_nic1
fi
kill -KILL "$vpid"
kill_s=3
say "drill: killed $victim (pid $vpid; processed nic0=${p0:-?} nic1=${p1:-?})"
wait "$client"
rc=$?
[ $rc -eq 0 ] || fail "iperf3 client exit status $rc: $(cat "$work/iperf3-client.log" "$work/iperf3.json" | tail -n 5)"

# iperf3 -J pretty-prints one key per line: interval sums and sum_received.
awk '
    /"streams":|"sum_sent":|"cpu_utilization/ { st = "" }
    /"sum":[ \t]*\{/ { st = "sum" }
    /"sum_received":/ { st = "recv" }
    st == "sum" && /"start":/ { gsub(/[^0-9.e+-]/, "", $2); s = $2 }
    st == "sum" && /"end":/ { gsub(/[^0-9.e+-]/, "", $2); e = $2 }
    st != "" && /"bits_per_second":/ {
        gsub(/[^0-9.e+-]/, "", $2)
        if (st == "sum") print "I", s, e, $2; else print "R", $2
        st = ""
    }' "$work/iperf3.json" >"$work/iperf3.sums"
recv=$(awk '$1 == "R" { print $2 }' "$work/iperf3.sums" | head -n 1)
[ -n "$recv" ] || fail "no end.sum_received in the iperf3 JSON"
awk -v r="$recv" 'BEGIN { exit !(r > 0) }' || fail "end.sum_received.bits_per_second is $recv"
say "intervals (start end Mbit/s):"
awk '$1 == "I" { printf "integration_tap_iperf_nat:   %5.1f %5.1f %10.2f\n", $2, $3, $4 / 1e6 }' \
    "$work/iperf3.sums"
# Before: the second before the drill; after: from 1 s after it to the end.
summary=$(awk -v k=$kill_s '
    $1 == "I" && $2 >= k - 1.1 && $3 <= k + 0.1 { b += $4; nb++ }
    $1 == "I" && $2 >= k + 1 { a += $4; na++ }
    $1 == "I" { last = $4 }
    END {
        printf "%.2f %.2f %.2f", nb ? b / nb / 1e6 : 0, na ? a / na / 1e6 : 0, last / 1e6
    }' "$work/iperf3.sums")
set -- $summary
say "throughput before the drill $1 Mbit/s, after $2 Mbit/s, last interval $3 Mbit/s; received $(awk -v r="$recv" 'BEGIN { printf "%.2f", r / 1e6 }') Mbit/s overall"
awk -v x="$3" 'BEGIN { exit !(x > 0) }' || fail "no traffic in the last interval: throughput not restored"
alive "$vpid" || fail "a daemon other than $victim exited"
[ "$(ctr switch dev.$victim.up)" = 0 ] || fail "the switch still sees $victim up"
say "switch: $(ctl counters switch tap.port 2>/dev/null | tr -s ' ' | tr '\n' ';')"

# Clean stop: SIGTERM, every surviving daemon exits 0 (iperf3's server
# exits 1 on a signal: it is just stopped).
kill -TERM "$server" 2>/dev/null
wait "$server" 2>/dev/null
stop_daemons "$vpid"
say "PASS"
