# make bench, sourced by scripts/bench.sh: sync_divergence (paper Fig. 17).
# Environment: BENCH_DIV_SECONDS (10) of Zipf(0.99) traffic over BENCH_DIV_FLOWS (2000)
# flows at BENCH_DIV_PPS (20000), popularity_threshold BENCH_DIV_THRESHOLD (8), then
# BENCH_DIV_AFTER (20) quiet epochs.
#
# bench/sync_divergence reads, every T_e (sync_interval_ms), flowcheck's per-flow `pkts`
# register of every key resident at the switch, at the switch and at both devices
# holding the key's shard, and writes $OUT/divergence.dat (`t_ms phase rel_div abs_div
# keys replica_abs_div`; rel_div = sum over keys of |switch - the device copy nearest
# to it (the one it syncs with)| / sum of the switch's values; replica_abs_div = sum
# over keys of the spread of the device copies).  Loaded figures are relative, over the
# loaded epochs; after quiesce both absolute differences must be 0.  idle_ms is raised so that no key is demoted during
# the measurement, and heartbeat_misses so that no device is taken down by a busy
# machine (BENCH_DIV_HB_MISSES, 100).  Registers keyed by fewer fields than the union key (flowcheck's
# per_src) are handed back at demotion only, not every epoch: they are not measured.
if want divergence; then
    DSECS=${BENCH_DIV_SECONDS:-10}
    rack divergence "${BENCH_DIV_THRESHOLD:-8}" 4096 0
    # No demotion during the measurement (idle_ms), and no failover either: on a loaded
    # 2-core machine 3 missed 10 ms heartbeats happen, and a failover is not what this
    # measures (BENCH_DIV_HB_MISSES=3 to see it anyway).
    sed -i -e 's/^\( *idle_ms:\).*/\1 600000/' \
        -e "s/^\( *heartbeat_misses:\).*/\1 ${BENCH_DIV_HB_MISSES:-100}/" "$CFG"
    TE=$(sed -n 's/^ *sync_interval_ms: *\([0-9]*\).*/\1/p' "$CFG")
    if [ ! -x "$OUT/sync_divergence" ]; then
        echo "bench: $OUT/sync_divergence is missing: run 'make' first" >&2
    elif rack_up divergence; then
        QF=$WORK/divergence.quiet
        rm -f "$QF"
        "$PLANEGEN" sink --listen "$EGRESS" --idle 3 --json --quiet \
            > "$WORK/divergence-sink.json" 2>&1 &
        SINK=$!
        "$PLANEGEN" gen --to "$INGRESS" --flows "${BENCH_DIV_FLOWS:-2000}" --alpha 0.99 \
            --rate "${BENCH_DIV_PPS:-20000}" --duration "$DSECS" --seed 90 --sizes 64 --quiet \
            > /dev/null 2>&1 &
        GEN=$!
        sleep 0.3
        "$OUT/sync_divergence" --config "$CFG" --quiet-file "$QF" --interval "$TE" \
            --after "${BENCH_DIV_AFTER:-20}" --out "$OUT/divergence.dat" \
            > "$WORK/divergence.out" 2> "$WORK/divergence.err" &
        DIV=$!
        wait "$GEN"
        touch "$QF"      # quiesce: the generator is done
        wait "$DIV"
        wait "$SINK"
        while IFS=': ' read -r name value; do
            [ -n "$name" ] && fig "$name" "$value"
        done < "$WORK/divergence.out"
        fig sync_divergence_interval_ms "$TE"
        # Devices the switch took down meanwhile (heartbeats missed on a loaded machine):
        # a replica away for a moment misses its primary's replication stream.
        fig sync_divergence_device_downs "$(grep -c 'missed .* heartbeats: down' "$WORK/divergence-tor0.log")"
        for n in tor0 nic0 nic1 srv0; do ctl counters "$n" > "$WORK/divergence-counters-$n.txt" 2>&1; done
        fig sync_divergence_switch_share "$(jnum "$WORK/divergence-sink.json" switch_share)"
        if [ -s "$WORK/divergence.err" ]; then
            sed 's/^/bench: divergence: /' "$WORK/divergence.err" >&2
        fi
    fi
    stop_all
fi
