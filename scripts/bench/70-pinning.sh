# make bench, sourced by scripts/bench.sh: packet_vs_app_pinning (ExoPlane Table 3).
#
# The front-end rack's four apps (vpngw, nat, acl, monitor; examples/racks/frontend.yaml)
# on a switch and four NICs, each NIC capped at BENCH_PIN_CAP packets/s.  Every app is
# offered BENCH_PIN_LOAD x CAP packets/s, the same traffic in both runs.  The default,
# 2.66, is the paper's for the four-app row of Table 3: 98.6 Gbps of traffic per app
# against the 37.05 Gbps a pinned device delivered ((271.3 - 2 x 98.6) / 2).  The ratio
# follows from that load: if packet-pinning serves everything and app-pinning serves two
# apps at the switch plus one cap on each of two NICs, it is 4L / (2L + 2C) (1.45 at
# 2.66; 1.44 at 2.56, the VPN+NAT row's); pinning_ideal_ratio prints that bound and
# pinning_packet_served the share of the offered load packet-pinning delivered.
#   packet-pinning: Plane as is: every app's hot keys at the switch, its other keys on
#                   all four NICs by shard.
#   app-pinning:    the paper's baseline (section 7.1): an app whose state fits the switch
#                   runs there, every other one wholly on the one NIC with the most room
#                   left.  vpngw and monitor fit (their traffic has BENCH_PIN_SMALL_FLOWS
#                   keys, all resident in their flow managers after the warm-up; their
#                   first packets go to nic2/nic3); nat is pinned to nic0 and acl to nic1
#                   (`devices: [nicN]`: never at the switch, misses only to that NIC).
# nat and acl carry Zipf BENCH_PIN_ALPHA traffic over BENCH_PIN_FLOWS flows, more than
# their flow managers (BENCH_PIN_FM entries) hold: with packet-pinning only their hot
# keys are at the switch.  Throughput is what comes out of the rack (sink), per app from
# the switch's counters (served at the switch + processed by devices).
# Figures: packet_vs_app_pinning (aggregate packets/s, packet- over app-pinning),
# pinning_packet_pps, pinning_app_pps, pinning_<app>_ratio, pinning_ideal_ratio,
# pinning_packet_served; $OUT/pinning.dat (# app packet_pps app_pps).
# Environment: BENCH_PIN_CAP (1000), BENCH_PIN_LOAD (2.66), BENCH_PIN_FLOWS (4000),
# BENCH_PIN_SMALL_FLOWS (64), BENCH_PIN_ALPHA (0.99), BENCH_PIN_FM (256),
# BENCH_PIN_THRESHOLD (2), BENCH_PIN_SECONDS (5).

# pin_rack NAME PLACEMENT(packet|app): WORK/NAME.yaml, the front-end apps on tor0 + nic0..3.
pin_rack() {
    local vpn="" nat="" acl="" mon=""
    if [ "$2" = app ]; then
        vpn=$'\n    devices: [tor0, nic2]'
        mon=$'\n    devices: [tor0, nic3]'
        nat=$'\n    devices: [nic0]'
        acl=$'\n    devices: [nic1]'
    fi
    {
        yaml_head "$PIN_THR" 10 2
        echo "devices:"
        yaml_nics 4 "$PIN_CAP"
        cat <<YAML
apps:
  - id: 1
    name: vpngw
    module: $BUILD/apps/vpngw.so
    traffic_class: {proto: any, vlan: 10}
    flow_manager_entries: 4096$vpn
    objects: {tunnels: {size: 262144}, pkts: {size: 1}}
    params:
      local: "192.0.2.1"
      tenant0: "prefix=10.1.0.0/16 endpoint=198.51.100.1 port=1"
      tenant1: "prefix=10.2.0.0/16 endpoint=198.51.100.2 port=1"
  - id: 2
    name: nat
    module: $BUILD/apps/nat.so
    traffic_class: {proto: any, vlan: 20}
    flow_manager_entries: $PIN_FM$nat
    objects: {sessions: {size: 262144}, pkts: {size: 1}, exhausted: {size: 1}, unsolicited: {size: 1}}
    params:
      tenant0: "inside=10.1.0.0/24 pool=203.0.113.0/30 ports=1024-65535"
      tenant1: "inside=10.2.0.0/24 pool=203.0.113.4/30 ports=1024-65535"
      inside_port: "1"
      outside_port: "0"
  - id: 3
    name: acl
    module: $BUILD/apps/acl.so
    traffic_class: {proto: any, vlan: 30}
    flow_manager_entries: $PIN_FM$acl
    objects: {verdicts: {size: 262144}, dropped: {size: 1}, passed: {size: 1}}
    params:
      tenant0: "10.1.0.0/16"
      tenant1: "10.2.0.0/16"
      rule0: "deny proto=tcp dport=22"
      rule1: "allow proto=tcp dst=10.1.0.0/16 dport=80-443 tenant=0"
      rule2: "allow proto=udp src=192.0.2.0/24 tenant=1"
      rule9: "deny tenant=1"
      default: allow
      out_port: "1"
  - id: 4
    name: monitor
    module: $BUILD/apps/monitor.so
    traffic_class: {proto: any}
    flow_manager_entries: 4096$mon
    objects:
      level0: {size: 16384}
      level1: {size: 16384}
      level2: {size: 8192}
      level3: {size: 8192}
      level4: {size: 4096}
      level5: {size: 4096}
      level6: {size: 4096}
      level7: {size: 4096}
      level8: {size: 4096}
      level9: {size: 4096}
      level10: {size: 4096}
      level11: {size: 4096}
      cand: {size: 65536}
    params: {seed: "0x6d6f6e69746f7231", cand_min: "64", count: packets}
YAML
    } > "$WORK/$1.yaml"
    CFG=$WORK/$1.yaml
}

# pin_traffic RATE_PER_APP SECONDS [GEN ARGS...]: both traffic sets at once, same seeds
# every time: vpngw + monitor over few keys, nat + acl Zipf over many.
pin_traffic() {
    local rate=$1 secs=$2; shift 2
    "$PLANEGEN" gen --to "$INGRESS" --flows "$PIN_SMALL" --alpha 0 --seed 21 --rate "$((2 * rate))" \
        --duration "$secs" --sizes 64 --quiet \
        --class-ports "udp:7000-7999@10~192.0.2.0/24^10.1.0.0/16,udp:7000-7999" "$@" \
        > /dev/null 2>&1 &
    local g1=$!
    "$PLANEGEN" gen --to "$INGRESS" --flows "$PIN_FLOWS" --alpha "$PIN_ALPHA" --seed 22 \
        --rate "$((2 * rate))" --duration "$secs" --sizes 64 --quiet \
        --class-ports "udp:7000-7999@20~10.1.0.0/24,udp:7000-7999@30~10.1.0.0/16" "$@" \
        > /dev/null 2>&1
    wait "$g1"
}

# pin_app_pkts APP: packets of APP that left the rack so far (switch + devices).
pin_app_pkts() {
    echo $(( $(counter "app.$1.sw_forwarded") + $(counter "app.$1.dev_processed") ))
}

if want pinning; then
    PIN_CAP=${BENCH_PIN_CAP:-1000}
    PIN_LOAD=${BENCH_PIN_LOAD:-2.66}
    PIN_FLOWS=${BENCH_PIN_FLOWS:-4000}
    PIN_SMALL=${BENCH_PIN_SMALL_FLOWS:-64}
    PIN_ALPHA=${BENCH_PIN_ALPHA:-0.99}
    PIN_FM=${BENCH_PIN_FM:-256}
    PIN_THR=${BENCH_PIN_THRESHOLD:-2}
    PIN_SECS=${BENCH_PIN_SECONDS:-5}
    PIN_APPS="vpngw nat acl monitor"
    PIN_RATE=$(awk -v l="$PIN_LOAD" -v c="$PIN_CAP" 'BEGIN{printf "%d\n", l * c}')
    declare -A PIN_PPS=()
    for mode in packet app; do
        pin_rack "pin-$mode" "$mode"
        if ! rack_up "pin-$mode" nic0 nic1 nic2 nic3; then stop_all; continue; fi
        # Warm-up at a rate every placement absorbs (a pinned app's NIC included), so
        # flows are set up and hot keys promoted before the measurement.
        pin_traffic "$((PIN_CAP * 6 / 10))" 3
        sleep 1
        for a in $PIN_APPS; do eval "PIN0_$a=$(pin_app_pkts "$a")"; done
        "$PLANEGEN" sink --listen "$EGRESS" --listen "127.0.0.1:$((BP + 111))" --idle 2 --json \
            --quiet > "$WORK/pin-$mode-sink.json" 2>&1 &
        SINK=$!
        sleep 0.2
        pin_traffic "$PIN_RATE" "$PIN_SECS"
        wait "$SINK"
        line="pinning: $mode-pinning:"
        for a in $PIN_APPS; do
            n0=PIN0_$a
            PIN_PPS[$mode.$a]=$(awk -v a="$(pin_app_pkts "$a")" -v b="${!n0}" -v s="$PIN_SECS" \
                'BEGIN{printf "%.0f\n", (a - b) / s}')
            line+=" $a ${PIN_PPS[$mode.$a]}/s"
        done
        PIN_PPS[$mode]=$(awk -v n="$(jnum "$WORK/pin-$mode-sink.json" received)" -v s="$PIN_SECS" \
            'BEGIN{printf "%.0f\n", n / s}')
        echo "$line; total ${PIN_PPS[$mode]}/s (offered $((4 * PIN_RATE))/s, switch share" \
             "$(jnum "$WORK/pin-$mode-sink.json" switch_share))"
        stop_all
    done
    echo "# app packet_pps app_pps" > "$OUT/pinning.dat"
    for a in $PIN_APPS; do
        echo "$a ${PIN_PPS[packet.$a]:-0} ${PIN_PPS[app.$a]:-0}" >> "$OUT/pinning.dat"
    done
    fig packet_vs_app_pinning "$(ratio "${PIN_PPS[packet]:-}" "${PIN_PPS[app]:-}")"
    fig pinning_packet_pps "${PIN_PPS[packet]:-n/a}"
    fig pinning_app_pps "${PIN_PPS[app]:-n/a}"
    for a in $PIN_APPS; do
        fig "pinning_${a}_ratio" "$(ratio "${PIN_PPS[packet.$a]:-}" "${PIN_PPS[app.$a]:-}")"
    done
    fig pinning_ideal_ratio "$(ratio "$((4 * PIN_RATE))" "$((2 * PIN_RATE + 2 * PIN_CAP))")"
    fig pinning_packet_served "$(ratio "${PIN_PPS[packet]:-}" "$((4 * PIN_RATE))")"
fi
