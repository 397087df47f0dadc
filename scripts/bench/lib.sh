# make bench: shared helpers, sourced by scripts/bench.sh before the benchmark pieces.
#
# Variables: ROOT BUILD BP (base port) OUT (build/bench) CSV WORK (per-run scratch),
# PLANECTL PLANEGEN, EGRESS/INGRESS (the bench rack's port 0).  A piece writes a rack
# with `rack` (or its own YAML into $WORK and CFG=...), starts it with `rack_up`, drives
# it with planegen and records figures with `fig`; `stop_all` stops what it started.

PIDS=()

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
# dev_pkts FILE DEVICE: packets the sink saw processed by DEVICE (id)
dev_pkts() {
    tr '{' '\n' < "$1" | grep -o "\"device\":\"$2\",\"packets\":[0-9]*" | head -1 | sed 's/.*://' \
        | sed 's/^$/0/'
}
ns_to_us() { awk -v v="${1:-}" 'BEGIN { if (v == "") print "n/a"; else printf "%.1f\n", v / 1000 }'; }
# ratio A B [FMT]: A / B, n/a when B is 0 or missing
ratio() { awk -v a="${1:-}" -v b="${2:-}" -v f="${3:-%.3f}" \
          'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf f "\n", a / b }'; }

# yaml_head THRESHOLD [HEARTBEAT_MISSES (3)] [PORTS (1)]: a bench rack's YAML up to its
# devices: timers (popularity_threshold THRESHOLD) and the switch tor0 with PORTS ports
# (port i listens on BP+10+i and sends egress to BP+110+i).
yaml_head() {
    local i ports=""
    for ((i = 0; i < ${3:-1}; i++)); do
        ports+="    - {id: $i, name: p$i, listen: \"127.0.0.1:$((BP + 10 + i))\", peer: \"127.0.0.1:$((BP + 110 + i))\"}"$'\n'
    done
    cat <<YAML
version: 1
rack: {name: bench, auth_key: 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f}
timers:
  sync_interval_ms: 100
  flush_ms: 10
  idle_ms: 5000
  heartbeat_ms: 10
  heartbeat_misses: ${2:-3}
  rpc_timeout_ms: 50
  rpc_retries: 8
  popularity_interval_ms: 100
  popularity_threshold: $1
switch:
  id: 0
  name: tor0
  control: 127.0.0.1:$BP
  ports:
${ports%$'\n'}
  capacities: {flow_entries: 65536, sram_kb: 16384, tcam_entries: 4096, hash_units: 8, alus: 16}
  features: [recirculation, hash, multicast]
  rate_pps: 0
YAML
}
# yaml_nics K RATE: device lines nic0..nic(K-1) (ids 1..K, ports BP+1..), RATE pps each
yaml_nics() {
    local i
    for ((i = 0; i < $1; i++)); do
        echo "  - {id: $((i + 1)), name: nic$i, role: nic, address: \"127.0.0.1:$((BP + 1 + i))\", memory_mb: 4096, rate_pps: $2, cores: 8, features: [hash, timestamp]}"
    done
}
# yaml_flowcheck FM_ENTRIES: the flowcheck app (id 1, all UDP) as the rack's apps: list
yaml_flowcheck() {
    cat <<YAML
apps:
  - id: 1
    name: flowcheck
    module: $BUILD/apps/flowcheck.so
    traffic_class: {proto: udp}
    flow_manager_entries: $1
    objects:
      mapping: {size: 262144}
      pkts: {size: 262144}
      per_src: {size: 262144}
YAML
}

# rack NAME THRESHOLD FM_ENTRIES NIC_RATE: write WORK/NAME.yaml, a flowcheck rack
# (tor0 with port p0; nic0, nic1 capped at NIC_RATE pps, 0 = no cap; srv0)
rack() {
    {
        yaml_head "$2"
        echo "devices:"
        yaml_nics 2 "$4"
        echo "  - {id: 3, name: srv0, role: server, address: \"127.0.0.1:$((BP + 3))\", memory_mb: 65536, rate_pps: 0, cores: 16, features: [payload, float, crypto, regex, hash, timestamp]}"
        yaml_flowcheck "$3"
    } > "$WORK/$1.yaml"
    CFG=$WORK/$1.yaml
}

start() {   # start NAME BINARY ARGS...: a daemon of CFG, logging to WORK/RUN-NAME.log
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
# rack_up RUN [DEVICE...]: start switchd (tor0) and the devices of CFG (default nic0
# nic1 srv0; names starting with "srv" run serverd, the others nicd), then wait until
# the switch reports every one up.
rack_up() {
    RUN=$1; shift
    local devs=("$@")
    [ ${#devs[@]} -gt 0 ] || devs=(nic0 nic1 srv0)
    start tor0 "$BUILD/switchd/switchd"
    for d in "${devs[@]}"; do
        case $d in
            srv*) start "$d" "$BUILD/serverd/serverd" --id "$d" ;;
            *) start "$d" "$BUILD/nicd/nicd" --id "$d" ;;
        esac
    done
    local deadline=$(( $(date +%s) + 30 ))
    for d in "${devs[@]}"; do
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
