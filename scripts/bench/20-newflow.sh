# make bench, sourced by scripts/bench.sh: new_flow_first_packet_p50_us and cp_bytes_per_flow.
# Environment: BENCH_NEWFLOW_COUNT (20000) one-packet flows at BENCH_NEWFLOW_PPS (5000).
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
