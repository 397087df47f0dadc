# make bench, sourced by scripts/bench.sh: latency by processing device.
# Environment: BENCH_LAT_PPS (20000), BENCH_LAT_SECONDS (8), BENCH_LAT_FLOWS (10000).
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
