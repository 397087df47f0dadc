# make bench, sourced by scripts/bench.sh: failover_ms.
# Environment: BENCH_FAIL_PPS (20000), BENCH_FAIL_FLOWS (64), BENCH_FAIL_HB_MS (5): the
# heartbeat period; detection takes 3 missed periods (heartbeat_misses), so it sets most
# of failover_ms (the racks' default, 10 ms, gives 40-55 ms here).
if want failover; then
    PPS=${BENCH_FAIL_PPS:-20000}
    rack failover 1000000000 4096 0   # nothing promoted: nic0 serves its flows itself
    sed -i "s/^\( *heartbeat_ms:\).*/\1 ${BENCH_FAIL_HB_MS:-5}/" "$CFG"
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
