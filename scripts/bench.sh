#!/bin/bash
# make bench: runs the rack benchmarks of issue 8 on 127.0.0.1 and prints `name: value` lines.
#
# Each benchmark starts its own rack (switchd, nicd x2, serverd running flowcheck) on
# fixed high ports (BENCH_PORT, default 27000, and the next ~120), drives it with
# planegen and reads planegen sink's JSON, the switch's log and /proc.  Every figure is
# appended to build/bench/results.csv (name,value) and printed.  Environment (sized for
# a 2-core machine; raise them on a bigger one):
#   BUILD (build)              the release build tree (`make`)
#   BENCH_PORT (27000)         base port
#   BENCH_FAIL_PPS (20000) / BENCH_FAIL_FLOWS (64)   traffic of the failover run
#   BENCH_NEWFLOW_COUNT (20000) / BENCH_NEWFLOW_PPS (5000)   one-packet flows
#   BENCH_LAT_PPS (20000) / BENCH_LAT_SECONDS (8) / BENCH_LAT_FLOWS (10000)
#   BENCH_RATE_SECONDS (5)     each flat-out throughput run
#   BENCH_ONLY="a b"           run only these (failover newflow latency throughput)
#   BENCH_KEEP=1               keep the work directory (logs, JSON, pcaps)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BP=${BENCH_PORT:-27000}
OUT=$BUILD/bench
CSV=$OUT/results.csv
PLANECTL=$BUILD/tools/planectl
PLANEGEN=$BUILD/tools/planegen/planegen
WORK=$(mktemp -d /tmp/plane-bench.XXXXXX)
PIDS=()

for bin in "$BUILD/switchd/switchd" "$BUILD/nicd/nicd" "$BUILD/serverd/serverd" "$PLANEGEN" \
           "$PLANECTL" "$BUILD/apps/flowcheck.so" "$OUT/pcap_gaps" "$OUT/raw_relay"; do
    if [ ! -e "$bin" ]; then
        echo "bench: $bin is missing: run 'make' first" >&2
        exit 2
    fi
done
mkdir -p "$OUT"
echo "name,value" > "$CSV"

stop_all() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    PIDS=()
}
cleanup() {
    stop_all
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "bench: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

want() { [ -z "${BENCH_ONLY:-}" ] || [[ " $BENCH_ONLY " == *" $1 "* ]]; }
fig() {   # fig NAME VALUE: print and record one figure
    printf '%s: %s\n' "$1" "$2"
    printf '%s,%s\n' "$1" "$2" >> "$CSV"
}
# Milliseconds since midnight of a log line's HH:MM:SS.mmm (or of `date`).
log_ms() { awk -F'[:. ]' '{print (($1 * 60 + $2) * 60 + $3) * 1000 + $4; exit}'; }
# jnum FILE KEY: the first numeric value of "KEY" in a JSON file
jnum() { tr '{,}' '\n\n\n' < "$1" | sed -n "s/^ *\"$2\": *\([0-9.]*\).*/\1/p" | head -1; }
# dev_lat FILE DEVICE FIELD: a per-device latency percentile (ns) from sink JSON
dev_lat() {
    tr '{' '\n' < "$1" | grep -A1 "\"device\":\"$2\"" | grep -o "\"$3\":[0-9]*" | head -1 \
        | sed 's/.*://'
}
ns_to_us() { awk -v v="${1:-}" 'BEGIN { if (v == "") print "n/a"; else printf "%.1f\n", v / 1000 }'; }

# rack NAME THRESHOLD FM_ENTRIES NIC_RATE: write WORK/NAME.yaml, a flowcheck rack
rack() {
    cat > "$WORK/$1.yaml" <<YAML
version: 1
rack: {name: bench, auth_key: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f}
timers:
  sync_interval_ms: 100
  flush_ms: 10
  idle_ms: 5000
  heartbeat_ms: 10
  heartbeat_misses: 3
  rpc_timeout_ms: 50
  rpc_retries: 8
  popularity_interval_ms: 100
  popularity_threshold: $2
switch:
  id: 0
  name: tor0
  control: 127.0.0.1:$BP
  ports:
    - {id: 0, name: p0, listen: "127.0.0.1:$((BP + 10))", peer: "127.0.0.1:$((BP + 110))"}
  capacities: {flow_entries: 65536, sram_kb: 16384, tcam_entries: 4096, hash_units: 8, alus: 16}
  features: [recirculation, hash, multicast]
  rate_pps: 0
devices:
  - {id: 1, name: nic0, role: nic, address: "127.0.0.1:$((BP + 1))", memory_mb: 4096, rate_pps: $4, cores: 8, features: [hash, timestamp]}
  - {id: 2, name: nic1, role: nic, address: "127.0.0.1:$((BP + 2))", memory_mb: 4096, rate_pps: $4, cores: 8, features: [hash, timestamp]}
  - {id: 3, name: srv0, role: server, address: "127.0.0.1:$((BP + 3))", memory_mb: 65536, rate_pps: 0, cores: 16, features: [payload, float, crypto, regex, hash, timestamp]}
apps:
  - id: 1
    name: flowcheck
    module: $BUILD/apps/flowcheck.so
    traffic_class: {proto: udp}
    flow_manager_entries: $3
    objects:
      mapping: {size: 262144}
      pkts: {size: 262144}
      per_src: {size: 262144}
YAML
    CFG=$WORK/$1.yaml
}

start() {   # start NAME BINARY ARGS...: a daemon, logging to WORK/RUN-NAME.log
    local name=$1; shift
    "$@" --config "$CFG" > "$WORK/$RUN-$name.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$name=$!"
    disown $!
}
ctl() { "$PLANECTL" --config "$CFG" "$@"; }
counter() {   # counter NAME [NODE]
    ctl counters "${2:-tor0}" "$1" --json 2>/dev/null \
        | tr '{,}' '\n\n\n' | sed -n "s/^ *\"$1\": *\([0-9]*\).*/\1/p" | head -1 | sed 's/^$/0/'
}
rack_up() {   # rack_up RUN: start the rack of CFG and wait until every device is up
    RUN=$1
    start tor0 "$BUILD/switchd/switchd"
    start nic0 "$BUILD/nicd/nicd" --id nic0
    start nic1 "$BUILD/nicd/nicd" --id nic1
    start srv0 "$BUILD/serverd/serverd" --id srv0
    local deadline=$(( $(date +%s) + 30 ))
    for d in nic0 nic1 srv0; do
        while [ "$(counter "dev.$d.up")" != 1 ]; do
            if [ "$(date +%s)" -gt "$deadline" ]; then
                echo "bench: $d did not come up; see $WORK/$RUN-$d.log" >&2
                BENCH_KEEP=1
                return 1
            fi
            sleep 0.05
        done
    done
}
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
EGRESS=127.0.0.1:$((BP + 110))
INGRESS=127.0.0.1:$((BP + 10))

# ---- 1. failover_ms ----------------------------------------------------------
if want failover; then
    PPS=${BENCH_FAIL_PPS:-20000}
    rack failover 1000000000 4096 0   # nothing promoted: nic0 serves its flows itself
    if rack_up failover; then
        "$PLANEGEN" sink --listen "$EGRESS" --idle 3 --json --quiet --pcap "$WORK/failover.pcap" \
            --gen-report "$WORK/failover-gen.json" > "$WORK/failover-sink.json" 2>&1 &
        SINK=$!
        # Few flows, uniform, so each sends every few ms (the per-flow gap's
        # resolution) and every device holds some: nic0's stall with it.
        "$PLANEGEN" gen --to "$INGRESS" --flows "${BENCH_FAIL_FLOWS:-64}" --alpha 0 --rate "$PPS" --duration 8 \
            --sizes 64 --quiet --report "$WORK/failover-gen.json" > /dev/null 2>&1 &
        GEN=$!
        sleep 4
        # Builtins only between the time and the kill: a forked `date` on a
        # loaded 2-core machine costs tens of ms and would skew both figures.
        KT=$EPOCHREALTIME
        kill -KILL "$PID_nic0"
        KILL_NS=$(( ${KT%.*} * 1000000000 + 10#${KT#*.} * 1000 ))
        KILL_AT=$(date -d "@${KT%.*}.${KT#*.}" +%H:%M:%S.%3N | log_ms)
        echo "$KILL_NS" > "$WORK/failover-kill-ns.txt"
        wait "$GEN"; wait "$SINK"
        DOWN_AT=$(grep "nic0 missed" "$WORK/failover-tor0.log" | tail -1 | cut -d' ' -f1 | log_ms)
        if [ -n "$DOWN_AT" ]; then fig failover_detect_ms $(( DOWN_AT - KILL_AT )); else fig failover_detect_ms n/a; fi
        GAP=$("$OUT/pcap_gaps" "$WORK/failover.pcap" "$(( KILL_NS - 500000000 ))" "$KILL_NS")
        echo "$GAP" > "$WORK/failover-gap.txt"
        # failover_ms: kill to the first packet after it of the slowest flow
        # (nic0's flows, served again by their replica); the aggregate egress
        # gap is shorter: the other flows keep flowing.
        fig failover_ms "$(awk '{printf "%.1f\n", $8 / 1000}' <<< "$GAP")"
        fig failover_egress_gap_ms "$(awk '{printf "%.1f\n", $2 / 1000}' <<< "$GAP")"
        fig failover_lost_packets "$(jnum "$WORK/failover-sink.json" lost)"
    fi
    stop_all
fi

# ---- 2. new_flow_first_packet_p50_us and cp_bytes_per_flow ------------------------
if want newflow; then
    N=${BENCH_NEWFLOW_COUNT:-20000}
    PPS=${BENCH_NEWFLOW_PPS:-5000}
    rack newflow 1000000 4096 0
    if rack_up newflow; then
        sleep 1
        declare -A RSS0
        for d in tor0 nic0 nic1 srv0; do eval "p=\$PID_$d"; RSS0[$d]=$(rss_kb "$p"); done
        "$PLANEGEN" sink --listen "$EGRESS" --idle 3 --json --quiet --sent "$N" \
            > "$WORK/newflow-sink.json" 2>&1 &
        SINK=$!
        # A flow space far larger than the count: (almost) every packet starts a flow.
        "$PLANEGEN" gen --to "$INGRESS" --flows 4000000000 --alpha 0 --count "$N" --rate "$PPS" \
            --sizes 64 --quiet > /dev/null 2>&1
        wait "$SINK"
        J=$WORK/newflow-sink.json
        fig new_flow_first_packet_p50_us "$(ns_to_us "$(tr '{,' '\n\n' < "$J" | grep -m1 -o '"p50":[0-9]*' | sed 's/.*://')")"
        fig new_flow_first_packet_p99_us "$(ns_to_us "$(tr '{,' '\n\n' < "$J" | grep -m1 -o '"p99":[0-9]*' | sed 's/.*://')")"
        fig new_flow_received "$(jnum "$J" received)/$N"
        NEWF=0; DEV_KB=0
        for d in nic0 nic1 srv0; do
            NEWF=$(( NEWF + $(counter device.new_flows "$d") ))
            eval "p=\$PID_$d"; DEV_KB=$(( DEV_KB + $(rss_kb "$p") - ${RSS0[$d]} ))
        done
        SW_KB=$(( $(rss_kb "$PID_tor0") - ${RSS0[tor0]} ))
        fig new_flows_set_up "$NEWF"
        if [ "$NEWF" -gt 0 ]; then
            fig cp_bytes_per_flow_devices $(( DEV_KB * 1024 / NEWF ))
            fig cp_bytes_per_flow_switch $(( SW_KB * 1024 / NEWF ))
        fi
    fi
    stop_all
fi

# ---- 3. latency by processing device ---------------------------------------------
if want latency; then
    PPS=${BENCH_LAT_PPS:-20000}
    SECS=${BENCH_LAT_SECONDS:-8}
    rack latency 4 4096 0
    if rack_up latency; then
        "$PLANEGEN" sink --listen "$EGRESS" --idle 3 --json --quiet \
            --gen-report "$WORK/latency-gen.json" > "$WORK/latency-sink.json" 2>&1 &
        SINK=$!
        "$PLANEGEN" gen --to "$INGRESS" --flows "${BENCH_LAT_FLOWS:-10000}" --alpha 0.99 \
            --rate "$PPS" --duration "$SECS" --sizes 64 --quiet \
            --report "$WORK/latency-gen.json" > /dev/null 2>&1
        wait "$SINK"
        J=$WORK/latency-sink.json
        fig latency_switch_p50_us "$(ns_to_us "$(dev_lat "$J" 0 p50)")"
        fig latency_switch_p99_us "$(ns_to_us "$(dev_lat "$J" 0 p99)")"
        # External: the busiest device other than the switch.
        EXT=$(tr '[' '\n' < "$J" | tr '{' '\n' | grep -o '"device":"[1-9][0-9]*","packets":[0-9]*' \
              | sed 's/"device":"\([0-9]*\)","packets":\([0-9]*\)/\2 \1/' | sort -rn | head -1 | cut -d' ' -f2)
        fig latency_ext_p50_us "$(ns_to_us "$(dev_lat "$J" "${EXT:-1}" p50)")"
        fig latency_ext_p99_us "$(ns_to_us "$(dev_lat "$J" "${EXT:-1}" p99)")"
        fig latency_switch_share "$(jnum "$J" switch_share)"
    fi
    stop_all
fi

# ---- 4. hit and miss path throughput vs a raw relay --------------------------------
if want throughput; then
    SECS=${BENCH_RATE_SECONDS:-5}
    # Raw relay: the same sockets, no parse, lookup or app.
    RUN=relay
    "$OUT/raw_relay" $((BP + 10)) $((BP + 110)) $((SECS + 4)) > "$WORK/relay.out" 2>&1 &
    RELAY=$!
    sleep 0.3
    "$PLANEGEN" sink --listen "$EGRESS" --idle 2 --json --quiet > "$WORK/relay-sink.json" 2>&1 &
    SINK=$!
    sleep 0.2
    "$PLANEGEN" gen --to "$INGRESS" --flows 16 --alpha 0 --duration "$SECS" --sizes 64 --quiet \
        --json > "$WORK/relay-gen.json" 2>/dev/null
    wait "$SINK"; wait "$RELAY"
    RAW=$(awk -v n="$(jnum "$WORK/relay-sink.json" received)" -v s="$SECS" 'BEGIN{printf "%.3f\n", n / s / 1e6}')
    fig raw_relay_mpps "$RAW"

    # Hit path: 16 flows and a threshold of 1: every flow is hot at the switch at once.
    rack hit 1 4096 0
    if rack_up hit; then
        "$PLANEGEN" gen --to "$INGRESS" --flows 16 --alpha 0 --seed 7 --rate 1000 --duration 2 --sizes 64 \
            --quiet > /dev/null 2>&1   # warm-up: set up and promote the flows
        sleep 1
        "$PLANEGEN" sink --listen "$EGRESS" --idle 2 --json --quiet > "$WORK/hit-sink.json" 2>&1 &
        SINK=$!
        sleep 0.2
        "$PLANEGEN" gen --to "$INGRESS" --flows 16 --alpha 0 --seed 7 --duration "$SECS" --sizes 64 \
            --quiet --json > "$WORK/hit-gen.json" 2>/dev/null
        wait "$SINK"
        HIT=$(awk -v n="$(jnum "$WORK/hit-sink.json" received)" -v s="$SECS" 'BEGIN{printf "%.3f\n", n / s / 1e6}')
        fig hit_path_mpps "$HIT"
        fig hit_path_switch_share "$(jnum "$WORK/hit-sink.json" switch_share)"
        fig hit_path_vs_raw_relay "$(awk -v h="$HIT" -v r="$RAW" 'BEGIN{ if (r > 0) printf "%.3f\n", h / r; else print "n/a" }')"
    fi
    stop_all

    # Miss path: nothing is ever promoted; every packet goes to a device.
    rack miss 1000000000 4096 0
    if rack_up miss; then
        "$PLANEGEN" gen --to "$INGRESS" --flows 1000 --alpha 0 --seed 7 --rate 2000 --duration 1 --sizes 64 \
            --quiet > /dev/null 2>&1   # warm-up: set the flows up
        sleep 0.5
        "$PLANEGEN" sink --listen "$EGRESS" --idle 2 --json --quiet > "$WORK/miss-sink.json" 2>&1 &
        SINK=$!
        sleep 0.2
        "$PLANEGEN" gen --to "$INGRESS" --flows 1000 --alpha 0 --seed 7 --duration "$SECS" --sizes 64 \
            --quiet --json > "$WORK/miss-gen.json" 2>/dev/null
        wait "$SINK"
        fig miss_path_mpps "$(awk -v n="$(jnum "$WORK/miss-sink.json" received)" -v s="$SECS" 'BEGIN{printf "%.3f\n", n / s / 1e6}')"
    fi
    stop_all
fi

echo "bench: figures written to $CSV"
