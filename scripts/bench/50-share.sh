# make bench, sourced by scripts/bench.sh: switch_share_vs_oracle (simulation) and one rack point.
# Environment: BENCH_SHARE_ARGS (extra switch_share options; unset: --quick, three sizes
# and half-length windows, ~1 min; set it empty for the full sweep, ~2.5 min),
# BENCH_SHARE_THR64_SIZES (1024,8192,65536), BENCH_SHARE_PPS
# (10000), BENCH_SHARE_SECONDS (16, two runs of this), BENCH_SHARE_ENTRIES (4096),
# BENCH_SHARE_THRESHOLD (2, the daemons' default: packets per 100 ms interval),
# BENCH_SHARE_FLOWS (1000000).
if want share; then
    # The simulation: Plane's popularity tracker, flow manager and update engine on a
    # virtual clock (bench/switch_share.c), 1 Mpps virtual, the daemons' default timers
    # and popularity_threshold (2: keys of >= ~10 pps are reported; the switch admits
    # one into a full flow manager only when it beats the key it would evict); then
    # the old default 64 for comparison (only keys of >= ~320 pps are ever hot, about
    # 200 of them here, whatever the flow manager's size), figures suffixed _thr64,
    # steady, alpha 0.99 at three sizes.  A 64K flow manager takes ~40 virtual seconds
    # to fill (the devices report at most 64 keys per interval each), and at 1 Mpps
    # its coldest resident keys see ~1.5 packets per second, so T_idle (1 s) ages
    # some out: that size is bounded near 0.9 of the oracle by T_idle, not admission.
    # shellcheck disable=SC2086
    "$OUT/switch_share" --dat "$OUT/switch_share.dat" ${BENCH_SHARE_ARGS---quick} > "$WORK/share-sim.out" 2>&1
    # shellcheck disable=SC2086
    "$OUT/switch_share" --threshold 64 --steady-only --alphas 0.99 \
        --sizes "${BENCH_SHARE_THR64_SIZES:-1024,8192,65536}" \
        --suffix _thr64 --dat "$OUT/switch_share_thr64.dat" ${BENCH_SHARE_ARGS---quick} \
        > "$WORK/share-sim-thr64.out" 2>&1
    # T_idle's bound at 64K entries: the same simulation with idle_ms 5000 (alpha 0.9,
    # the worst point at the default 1000).
    # shellcheck disable=SC2086
    "$OUT/switch_share" --steady-only --sizes 65536 --alphas 0.9 --idle 5000 --suffix _idle5s \
        ${BENCH_SHARE_ARGS---quick} > "$WORK/share-sim-idle5s.out" 2>&1
    while read -r name value; do
        fig "${name%:}" "$value"
    done < <(cat "$WORK/share-sim.out" "$WORK/share-sim-thr64.out" "$WORK/share-sim-idle5s.out" \
             | grep -E '^switch_share_(vs_oracle|vs_oracle_churn|runtime_s)(_thr64|_idle5s)?: |^switch_share_vs_oracle_0\.99_(1024|65536): |^switch_share_vs_oracle_thr64_0\.99_[0-9]+: ')

    # One rack point: Zipf 0.99 over FLOWS flows at PPS through a flowcheck rack with
    # ENTRIES flow-manager entries.  The first run warms the switch up; the second,
    # with the same seed (the same flows and hot set), is measured by the sink.
    PPS=${BENCH_SHARE_PPS:-10000}
    SECS=${BENCH_SHARE_SECONDS:-16}
    ENTRIES=${BENCH_SHARE_ENTRIES:-4096}
    THR=${BENCH_SHARE_THRESHOLD:-2}
    FLOWS=${BENCH_SHARE_FLOWS:-1000000}
    ORACLE=$("$OUT/switch_share" --oracle "$ENTRIES" --alpha 0.99 --flows "$FLOWS" | sed -n 's/^oracle_share: //p')
    # The simulation at the rack's own parameters (rate, threshold, T_idle, devices),
    # to set the rack's figure beside what the model predicts for it.
    "$OUT/switch_share" --steady-only --sizes "$ENTRIES" --alphas 0.99 --flows "$FLOWS" \
        --rate "$PPS" --threshold "$THR" --idle 5000 --devices 3 --warmup "$SECS" \
        --measure "$SECS" > "$WORK/share-sim-rack.out" 2>&1
    fig switch_share_sim_at_rack_vs_oracle \
        "$(sed -n 's/^switch_share_vs_oracle: //p' "$WORK/share-sim-rack.out")"
    rack share "$THR" "$ENTRIES" 0
    if rack_up share; then
        "$PLANEGEN" gen --to "$INGRESS" --flows "$FLOWS" --alpha 0.99 --seed 11 --rate "$PPS" \
            --duration "$SECS" --sizes 64 --quiet > /dev/null 2>&1
        "$PLANEGEN" sink --listen "$EGRESS" --idle 2 --json --quiet > "$WORK/share-sink.json" 2>&1 &
        SINK=$!
        sleep 0.2
        "$PLANEGEN" gen --to "$INGRESS" --flows "$FLOWS" --alpha 0.99 --seed 11 --rate "$PPS" \
            --duration "$SECS" --sizes 64 --quiet --json > "$WORK/share-gen.json" 2>/dev/null
        wait "$SINK"
        SHARE=$(jnum "$WORK/share-sink.json" switch_share)
        fig switch_share_rack "$SHARE"
        fig switch_share_rack_oracle "$ORACLE"
        fig switch_share_rack_vs_oracle "$(ratio "$SHARE" "$ORACLE")"
        fig switch_share_rack_resident "$(counter app.flowcheck.fm.occupancy)"
    fi
    stop_all
fi
