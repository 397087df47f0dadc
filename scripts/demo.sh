#!/bin/bash
# make demo: the front-end apps on a local rack on 127.0.0.1, Zipf traffic, a NIC failure, a report.
#
# Starts switchd, nicd x2 and serverd from examples/racks/frontend.yaml (VPN gateway,
# NAT, ACL, monitor), sends Zipf(0.99) traffic over 1M flows with planegen, kills a NIC
# with SIGKILL in the middle and restarts it, then stops everything and prints what
# happened.  Environment: BUILD (default build), DEMO_SECONDS (40), DEMO_PPS (8000),
# DEMO_FLOWS (1000000), DEMO_KEEP=1 keeps the work directory.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CFG=$ROOT/examples/racks/frontend.yaml
SECS=${DEMO_SECONDS:-40}
PPS=${DEMO_PPS:-8000}
FLOWS=${DEMO_FLOWS:-1000000}
WORK=$(mktemp -d /tmp/plane-demo.XXXXXX)
PLANECTL=$BUILD/tools/planectl
PLANEGEN=$BUILD/tools/planegen/planegen
PIDS=()

now_ms() { date +%s%3N; }
say() { local t=$(( $(now_ms) - T0 )); printf '[%3d.%01ds] %s\n' $((t / 1000)) $((t % 1000 / 100)) "$*"; }
# Milliseconds since midnight of a log line's HH:MM:SS.mmm (or of now).
log_ms() { awk -F'[:. ]' '{print (($1 * 60 + $2) * 60 + $3) * 1000 + $4; exit}'; }

cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    if [ "${DEMO_KEEP:-0}" = 1 ]; then
        echo "demo: logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for bin in "$BUILD/switchd/switchd" "$BUILD/nicd/nicd" "$BUILD/serverd/serverd" \
           "$PLANEGEN" "$PLANECTL" "$BUILD/apps/vpngw.so"; do
    if [ ! -x "$bin" ] && [ ! -f "$bin" ]; then
        echo "demo: $bin is missing: run 'make' first" >&2
        exit 2
    fi
done

# A copy of the front-end rack with its module paths made absolute, and
# popularity tuned to this demo's modest packet rate (the defaults suit a
# switch line rate): a flow sending a few packets a second becomes hot.
sed -e "s#module: ../../build/apps/#module: $BUILD/apps/#" \
    -e "s#popularity_interval_ms: 100 #popularity_interval_ms: 1000#" \
    -e "s#popularity_threshold: [0-9]* #popularity_threshold: 4 #" "$CFG" > "$WORK/rack.yaml"
CFG=$WORK/rack.yaml

start() {   # start NAME BINARY ARGS...: a daemon in the background, logging to WORK/NAME.log
    local name=$1; shift
    "$@" --config "$CFG" > "$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$name=$!"
    disown $!          # a drill's SIGKILL is not news for the shell
}

ctl() { "$PLANECTL" --config "$CFG" "$@"; }
# counter NAME [DEVICE]: one counter's value (0 when absent)
counter() {
    ctl counters "${2:-tor0}" "$1" --json 2>/dev/null \
        | tr '{,}' '\n\n\n' | sed -n "s/^ *\"$1\": *\([0-9]*\).*/\1/p" | head -1 | sed 's/^$/0/'
}
sum_counter() {   # sum_counter SUFFIX DEVICE: the sum of every counter ending in SUFFIX
    ctl counters "$2" --json 2>/dev/null | tr '{,}' '\n\n\n' \
        | sed -n "s/^ *\"[^\"]*$1\": *\([0-9]*\).*/\1/p" | awk '{s+=$1} END {print s+0}'
}
wait_up() {   # wait_up DEVICE...: until the switch reports every one up (30 s)
    local deadline=$(( $(date +%s) + 30 ))
    for d in "$@"; do
        while [ "$(counter "dev.$d.up")" != 1 ]; do
            if [ "$(date +%s)" -gt "$deadline" ]; then
                echo "demo: $d did not come up; see $WORK/$d.log" >&2
                DEMO_KEEP=1
                exit 1
            fi
            sleep 0.05
        done
    done
}

T0=$(now_ms)
say "starting the front-end rack (switch tor0, nic0, nic1, srv0: VPN gateway, NAT, ACL, monitor)"
start tor0 "$BUILD/switchd/switchd"
start nic0 "$BUILD/nicd/nicd" --id nic0
start nic1 "$BUILD/nicd/nicd" --id nic1
start srv0 "$BUILD/serverd/serverd" --id srv0
wait_up nic0 nic1 srv0
say "rack up"

# Egress leaves the switch ports towards 17110/17111 (the rack's port peers).
"$PLANEGEN" sink --listen 127.0.0.1:17110 --listen 127.0.0.1:17111 \
    --gen-report "$WORK/gen.json" --idle 10 --json > "$WORK/sink.json" 2> "$WORK/sink.err" &
SINK=$!
PIDS+=($SINK)
# Four classes: each app's VLAN with sources (and, for the VPN, destinations) in
# its first tenant; the monitor sees untagged traffic.
CLASSES="udp:7000-7999@10~192.0.2.0/24^10.1.0.0/16,udp:7000-7999@20~10.1.0.0/24"
CLASSES="$CLASSES,udp:7000-7999@30~10.1.0.0/16,udp:7000-7999"
say "traffic: Zipf 0.99 over $FLOWS flows per class, $PPS packets/s for ${SECS} s"
"$PLANEGEN" gen --to 127.0.0.1:17010 --flows "$FLOWS" --alpha 0.99 --rate "$PPS" \
    --duration "$SECS" --class-ports "$CLASSES" --sizes 64,512,1500 \
    --report "$WORK/gen.json" > "$WORK/gen.log" 2>&1 &
GEN=$!
PIDS+=($GEN)

sleep $(( SECS * 3 / 8 ))
say "drill: kill -9 nic0 under traffic"
KILL_AT=$(date +%H:%M:%S.%3N | log_ms)
kill -KILL "$PID_nic0"
while [ "$(counter dev.nic0.up)" != 0 ]; do sleep 0.002; done
# Detection time from the switch's own log line, not from this polling.
# (the last such line: nic0 may also have been late at start-up)
DOWN_AT=$(grep "nic0 missed" "$WORK/tor0.log" | tail -1 | cut -d' ' -f1 | log_ms)
DETECT_MS=$(( ${DOWN_AT:-$KILL_AT} - KILL_AT ))
say "switch saw nic0 down after $DETECT_MS ms: its shards are served by their replicas"
sleep $(( SECS / 4 ))
say "restarting nic0"
start nic0 "$BUILD/nicd/nicd" --id nic0
wait_up nic0
say "nic0 back in service"

wait "$GEN"
say "traffic done; waiting for the last packets and two sync periods"
wait "$SINK"
sleep 0.3

# ---- the report ------------------------------------------------------------
J=$WORK/sink.json
jnum() { tr '{,}' '\n\n\n' < "$J" | sed -n "s/^ *\"$1\": *\([0-9.]*\).*/\1/p" | head -1; }
SENT=$(jnum sent); RECV=$(jnum received); LOST=$(jnum lost); DUP=$(jnum duplicated)
RW=$(jnum rewrite_errors); PPS_OUT=$(jnum pps); SHARE=$(jnum switch_share)
APPDROP=$(jnum app_dropped)
DOWN_DROPS=$(counter device_down)
PROMO=$(sum_counter ".update.promotions" tor0)
DEMO=$(sum_counter ".update.demotions" tor0)
LAG=0
for a in vpngw nat acl monitor; do
    l=$(counter "app.$a.sync_lag_ms"); [ "${l:-0}" -gt "$LAG" ] && LAG=$l
done
NEWF=0
for d in nic0 nic1 srv0; do NEWF=$(( NEWF + $(counter device.new_flows "$d") )); done
HELD=0
for d in nic0 nic1 srv0; do HELD=$(( HELD + $(counter device.hold_full "$d") )); done
# Packets sent to nic0 between the kill and the switch noticing (and those it held
# unreplicated) died with it: the switch counts its sends; the rest must be zero.
EXPLAINED=$(( DOWN_DROPS ))

echo
echo "================ Plane demo: front-end apps on a local rack ================"
printf '%-34s %s\n' "packets sent / received" "$SENT / $RECV"
printf '%-34s %s\n' "throughput out (pps)" "$PPS_OUT"
printf '%-34s %.1f %%\n' "processed at the switch" "$(awk "BEGIN{print 100*$SHARE}")"
printf '%-34s %s\n' "new flows set up (devices)" "$NEWF"
printf '%-34s %s / %s\n' "promotions / demotions" "$PROMO" "$DEMO"
printf '%-34s %s ms (heartbeats 10 ms x 3)\n' "failover detection" "$DETECT_MS"
printf '%-34s %s\n' "lost while nic0 died (expected)" "$LOST"
printf '%-34s %s ms\n' "sync lag after quiesce (T_e 100)" "$LAG"
echo "latency by processing device (p50 / p99, us):"
tr '[' '\n' < "$J" | tr '{' '\n' | grep -o '"device":"[0-9]*","packets":[0-9]*' | while read -r l; do
    d=$(echo "$l" | sed 's/.*"device":"\([0-9]*\)".*/\1/'); n=$(echo "$l" | sed 's/.*"packets":\([0-9]*\)/\1/')
    name=$(case $d in 0) echo tor0;; 1) echo nic0;; 2) echo nic1;; 3) echo srv0;; *) echo "$d";; esac)
    p=$(tr '{' '\n' < "$J" | grep -A1 "\"device\":\"$d\"" | grep -o '"p50":[0-9]*,"p90":[0-9]*,"p99":[0-9]*' | head -1)
    p50=$(echo "$p" | sed 's/"p50":\([0-9]*\).*/\1/'); p99=$(echo "$p" | sed 's/.*"p99":\([0-9]*\)/\1/')
    printf '  %-6s %9s packets   %8.1f / %8.1f\n' "$name" "$n" "$(awk "BEGIN{print ${p50:-0}/1000}")" \
        "$(awk "BEGIN{print ${p99:-0}/1000}")"
done
ERRORS=$(( DUP + RW ))
printf '%-34s %s (duplicates %s, rewritten fields changed within a flow %s)\n' "errors" \
    "$ERRORS" "$DUP" "$RW"
printf '%-34s %s (app verdicts, e.g. ACL denies)\n' "dropped by apps" "${APPDROP:-0}"
echo "============================================================================="
if [ "$ERRORS" -ne 0 ]; then
    echo "demo: errors are not zero; logs kept in $WORK" >&2
    DEMO_KEEP=1
    exit 1
fi
if [ "$LOST" -gt $(( EXPLAINED + PPS )) ]; then
    echo "demo: $LOST packets lost, more than a second of traffic around the failure" >&2
    DEMO_KEEP=1
    exit 1
fi
exit 0
