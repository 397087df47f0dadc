# make bench, sourced by scripts/bench.sh: scaling_1_to_4_devices (ExoPlane Fig. 15).
#
# Racks of k = 1, 2, 4 NICs (no server: every device is the same capped NIC, so the only
# thing that changes is how many there are), each NIC capped at BENCH_SCALE_CAP packets/s
# by its token bucket (excess dropped, counted rate_limited).  Zipf traffic over
# BENCH_SCALE_FLOWS flows is offered at BENCH_SCALE_LOAD x k x CAP, so every rack is
# overloaded by the same factor, and we count what comes out: device_pps, the packets/s
# processed by the NICs (the miss traffic; per-device counts of the sink), and total_pps
# (plus those served at the switch).
#   hot:    the switch caches the hottest keys (flow manager of BENCH_SCALE_FM entries,
#           popularity threshold BENCH_SCALE_THRESHOLD), so the devices see the tail,
#           which spreads evenly over the shards.
#   no hot: nothing is ever promoted; every packet, the hottest flows' included, goes to
#           the device owning its shard, and a device holding hot shards drops while the
#           others have room (the paper's 100%-offloaded line).
# A 1-NIC rack has no replica (the config allows it: logical 0 unreplicated); the
# others replicate each logical device on the next NIC, as the default shard map does.
# A second pair of runs offers the largest rack exactly its capacity (load 1.0): there
# the hot keys decide whether all of it is served (imbalance shows only when some
# devices have room to spare).
# Figures: scaling_1_to_4_devices (device_pps at 4 / at 1, hot), _no_hot, the same at 2,
# scaling_total_1_to_4_devices, scaling_4_device_utilisation[_no_hot],
# scaling_4_served_at_capacity[_no_hot]; $OUT/scaling.dat for the plot
# (# devices hot device_pps total_pps offered_pps rate_limited load).
# Environment: BENCH_SCALE_CAP (2000), BENCH_SCALE_LOAD (2.0), BENCH_SCALE_FLOWS (20000),
# BENCH_SCALE_ALPHA (0.99), BENCH_SCALE_FM (64), BENCH_SCALE_THRESHOLD (4),
# BENCH_SCALE_SECONDS (3), BENCH_SCALE_DEVICES ("1 2 4").

# scale_rack NAME K THRESHOLD FM_ENTRIES CAP: WORK/NAME.yaml, tor0 + nic0..nic(K-1).
scale_rack() {
    {
        yaml_head "$3" 10
        echo "devices:"
        yaml_nics "$2" "$5"
        yaml_flowcheck "$4"
    } > "$WORK/$1.yaml"
    CFG=$WORK/$1.yaml
}

if want scaling; then
    SC_CAP=${BENCH_SCALE_CAP:-2000}
    SC_LOAD=${BENCH_SCALE_LOAD:-2.0}
    SC_FLOWS=${BENCH_SCALE_FLOWS:-20000}
    SC_ALPHA=${BENCH_SCALE_ALPHA:-0.99}
    SC_FM=${BENCH_SCALE_FM:-64}
    SC_THR=${BENCH_SCALE_THRESHOLD:-4}
    SC_SECS=${BENCH_SCALE_SECONDS:-3}
    SC_KS=${BENCH_SCALE_DEVICES:-1 2 4}
    SC_KMAX=$(tr ' ' '\n' <<< "$SC_KS" | sort -n | tail -1)
    echo "# devices hot device_pps total_pps offered_pps rate_limited load" > "$OUT/scaling.dat"
    declare -A SC_DEV=() SC_TOT=() SC_OFF=()
    # Runs "k hot load": the scaling series, then the largest rack at load 1.0.
    SC_RUNS=()
    for hot in 1 0; do
        for k in $SC_KS; do SC_RUNS+=("$k $hot $SC_LOAD"); done
        SC_RUNS+=("$SC_KMAX $hot 1.0")
    done
    for run in "${SC_RUNS[@]}"; do
        read -r k hot load <<< "$run"
        name=scale-k$k-h$hot-l$load
        if [ "$hot" = 1 ]; then scale_rack "$name" "$k" "$SC_THR" "$SC_FM" "$SC_CAP"
        else scale_rack "$name" "$k" 1000000000 "$SC_FM" "$SC_CAP"; fi
        devs=()
        for ((i = 0; i < k; i++)); do devs+=("nic$i"); done
        if ! rack_up "$name" "${devs[@]}"; then stop_all; continue; fi
        rate=$(awk -v l="$load" -v k="$k" -v c="$SC_CAP" 'BEGIN{printf "%d\n", l * k * c}')
        # Warm-up under the caps: the flows are set up (and, hot, the hottest
        # promoted) before the measurement, which sees the same traffic (same seed).
        "$PLANEGEN" gen --to "$INGRESS" --flows "$SC_FLOWS" --alpha "$SC_ALPHA" --seed 11 \
            --rate "$((k * SC_CAP * 8 / 10))" --duration 2 --sizes 64 --quiet > /dev/null 2>&1
        sleep 0.5
        rl0=0
        for d in "${devs[@]}"; do rl0=$((rl0 + $(counter device.rate_limited "$d"))); done
        "$PLANEGEN" sink --listen "$EGRESS" --idle 1 --json --quiet > "$WORK/$name-sink.json" 2>&1 &
        SINK=$!
        sleep 0.2
        "$PLANEGEN" gen --to "$INGRESS" --flows "$SC_FLOWS" --alpha "$SC_ALPHA" --seed 11 \
            --rate "$rate" --duration "$SC_SECS" --sizes 64 --quiet --json \
            > "$WORK/$name-gen.json" 2>/dev/null
        wait "$SINK"
        rl=0
        for d in "${devs[@]}"; do rl=$((rl + $(counter device.rate_limited "$d"))); done
        rl=$((rl - rl0))
        recv=$(jnum "$WORK/$name-sink.json" received)
        devp=0
        for ((i = 1; i <= k; i++)); do devp=$((devp + $(dev_pkts "$WORK/$name-sink.json" "$i"))); done
        sent=$(jnum "$WORK/$name-gen.json" sent)
        dpps=$(awk -v n="$devp" -v s="$SC_SECS" 'BEGIN{printf "%.0f\n", n / s}')
        tpps=$(awk -v n="${recv:-0}" -v s="$SC_SECS" 'BEGIN{printf "%.0f\n", n / s}')
        opps=$(awk -v n="${sent:-0}" -v s="$SC_SECS" 'BEGIN{printf "%.0f\n", n / s}')
        # The plot's series are the scaling runs only.
        [ "$load" = "$SC_LOAD" ] && echo "$k $hot $dpps $tpps $opps $rl $load" >> "$OUT/scaling.dat"
        echo "scaling: k=$k hot=$hot load=$load offered ${opps}/s device ${dpps}/s total ${tpps}/s" \
             "(cap ${SC_CAP}/s each, rate_limited $rl, switch share $(jnum "$WORK/$name-sink.json" switch_share))"
        SC_DEV[$k.$hot.$load]=$dpps
        SC_TOT[$k.$hot.$load]=$tpps
        SC_OFF[$k.$hot.$load]=$opps
        stop_all
    done
    L=$SC_LOAD
    fig scaling_1_to_4_devices "$(ratio "${SC_DEV[4.1.$L]:-}" "${SC_DEV[1.1.$L]:-}")"
    fig scaling_1_to_4_devices_no_hot "$(ratio "${SC_DEV[4.0.$L]:-}" "${SC_DEV[1.0.$L]:-}")"
    fig scaling_1_to_2_devices "$(ratio "${SC_DEV[2.1.$L]:-}" "${SC_DEV[1.1.$L]:-}")"
    fig scaling_1_to_2_devices_no_hot "$(ratio "${SC_DEV[2.0.$L]:-}" "${SC_DEV[1.0.$L]:-}")"
    fig scaling_total_1_to_4_devices "$(ratio "${SC_TOT[4.1.$L]:-}" "${SC_TOT[1.1.$L]:-}")"
    # What the devices delivered at 4 against what 4 caps allow: 1.0 = no capacity
    # lost to imbalance (under overload every device is busy either way).
    fig scaling_4_device_utilisation "$(ratio "${SC_DEV[4.1.$L]:-}" "$((4 * SC_CAP))")"
    fig scaling_4_device_utilisation_no_hot "$(ratio "${SC_DEV[4.0.$L]:-}" "$((4 * SC_CAP))")"
    # Offered exactly the largest rack's capacity: the share delivered.  Without hot
    # keys the devices owning the hottest shards drop while the others idle (Fig. 15's
    # 100%-offloaded line); with them the tail spreads evenly.
    fig "scaling_${SC_KMAX}_served_at_capacity" \
        "$(ratio "${SC_TOT[$SC_KMAX.1.1.0]:-}" "${SC_OFF[$SC_KMAX.1.1.0]:-}")"
    fig "scaling_${SC_KMAX}_served_at_capacity_no_hot" \
        "$(ratio "${SC_TOT[$SC_KMAX.0.1.0]:-}" "${SC_OFF[$SC_KMAX.0.1.0]:-}")"
fi
