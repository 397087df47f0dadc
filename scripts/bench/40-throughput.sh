# make bench, sourced by scripts/bench.sh: hit and miss path throughput vs a raw relay.
# Environment: BENCH_RATE_SECONDS (5), the length of each flat-out run.
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

    # flat_out NAME FLOWS WARM_PPS WARM_SECS: warm the rack up with FLOWS flows (set up,
    # promoted if hot), then send them flat out for SECS; MPPS = received / SECS.
    flat_out() {
        "$PLANEGEN" gen --to "$INGRESS" --flows "$2" --alpha 0 --seed 7 --rate "$3" --duration "$4" \
            --sizes 64 --quiet > /dev/null 2>&1
        sleep 1
        "$PLANEGEN" sink --listen "$EGRESS" --idle 2 --json --quiet > "$WORK/$1-sink.json" 2>&1 &
        SINK=$!
        sleep 0.2
        "$PLANEGEN" gen --to "$INGRESS" --flows "$2" --alpha 0 --seed 7 --duration "$SECS" --sizes 64 \
            --quiet --json > "$WORK/$1-gen.json" 2>/dev/null
        wait "$SINK"
        MPPS=$(awk -v n="$(jnum "$WORK/$1-sink.json" received)" -v s="$SECS" 'BEGIN{printf "%.3f\n", n / s / 1e6}')
    }

    # Hit path: 16 flows and a threshold of 1: every flow is hot at the switch at once.
    rack hit 1 4096 0
    if rack_up hit; then
        flat_out hit 16 1000 2
        fig hit_path_mpps "$MPPS"
        fig hit_path_switch_share "$(jnum "$WORK/hit-sink.json" switch_share)"
        fig hit_path_vs_raw_relay "$(ratio "$MPPS" "$RAW")"
    fi
    stop_all

    # Miss path: nothing is ever promoted; every packet goes to a device.
    rack miss 1000000000 4096 0
    if rack_up miss; then
        flat_out miss 1000 2000 1
        fig miss_path_mpps "$MPPS"
    fi
    stop_all
fi
