# make bench, sourced by scripts/bench.sh: promotion_ms (a new hot key until served at the switch).
# Environment: BENCH_PROMO_WAVES (5) waves of BENCH_PROMO_FLOWS (10) new flows hot from
# their first packet, BENCH_PROMO_PPS (10000) per wave; background Zipf(0.99) traffic of
# BENCH_PROMO_BG_PPS (10000) over BENCH_PROMO_BG_FLOWS (100000) flows; the rack's
# popularity_threshold BENCH_PROMO_THRESHOLD (32), popularity_interval_ms 100.
#
# The sink times, per new flow (5-tuple, source in 10.200.0.0/16; the background comes
# from 10.0.0.0/9), its first packet's arrival and the first arrival of one processed at
# the switch (`planegen sink --promotion-src`).  promotion_ms is the p50 over the flows
# of that difference: the time the key takes to reach the threshold (threshold / its
# rate), then up to one popularity interval until the device's POP_REPORT, then the
# promotion (ENTRY_READ at the device, install at the switch).  Waves start off the
# interval's beat so they sample its phase.
if want promotion; then
    ns_to_ms() { awk -v v="${1:-}" 'BEGIN { if (v == "") print "n/a"; else printf "%.1f\n", v / 1e6 }'; }
    WAVES=${BENCH_PROMO_WAVES:-5}
    PFLOWS=${BENCH_PROMO_FLOWS:-10}
    PPPS=${BENCH_PROMO_PPS:-10000}
    PTHR=${BENCH_PROMO_THRESHOLD:-32}
    BGPPS=${BENCH_PROMO_BG_PPS:-10000}
    rack promotion "$PTHR" 4096 0
    PINT=$(sed -n 's/^ *popularity_interval_ms: *\([0-9]*\).*/\1/p' "$CFG")
    if rack_up promotion; then
        PJ=$WORK/promotion-sink.json
        "$PLANEGEN" sink --listen "$EGRESS" --idle 2 --json --quiet --promotion-src 10.200.0.0/16 \
            > "$PJ" 2>"$WORK/promotion-sink.err" &
        SINK=$!
        sleep 0.2
        BGSECS=$(awk -v w="$WAVES" 'BEGIN { printf "%.1f\n", 2 + w * 0.63 + 1.5 }')
        "$PLANEGEN" gen --to "$INGRESS" --flows "${BENCH_PROMO_BG_FLOWS:-100000}" --alpha 0.99 \
            --rate "$BGPPS" --duration "$BGSECS" --seed 80 --sizes 64 \
            --class-ports 'udp:7000-7999~10.0.0.0/9' --quiet > /dev/null 2>&1 &
        BG=$!
        sleep 2     # the background's hot keys promoted: the switch is busy as usual
        GENS=()
        for w in $(seq "$WAVES"); do
            "$PLANEGEN" gen --to "$INGRESS" --flows "$PFLOWS" --alpha 0 --rate "$PPPS" --duration 1 \
                --seed $(( 8000 + w )) --sizes 64 --class-ports 'udp:7000-7999~10.200.0.0/16' \
                --quiet > /dev/null 2>&1 &
            GENS+=($!)
            sleep 0.63   # not a multiple of the popularity interval
        done
        for g in "${GENS[@]}"; do wait "$g"; done
        wait "$BG"; wait "$SINK"
        # The sink's "promotion" object alone (its keys repeat outside it).
        sed -n 's/.*"promotion":{\([^}]*\)}.*/{\1}/p' "$WORK/promotion-sink.json" > "$WORK/promotion.json"
        PJ=$WORK/promotion.json
        P50=$(jnum "$PJ" p50_ns); PMAX=$(jnum "$PJ" max_ns)
        fig promotion_ms "$(ns_to_ms "$P50")"
        fig promotion_ms_max "$(ns_to_ms "$PMAX")"
        fig promotion_ms_p90 "$(ns_to_ms "$(jnum "$PJ" p90_ns)")"
        fig promotion_flows_promoted "$(jnum "$PJ" promoted)/$(jnum "$PJ" flows)"
        fig promotion_interval_ms "$PINT"
        fig promotion_threshold "$PTHR"
        # The part of promotion_ms a key spends becoming hot, at its own rate.
        fig promotion_time_to_threshold_ms "$(awk -v t="$PTHR" -v r="$PPPS" -v f="$PFLOWS" \
            'BEGIN { printf "%.1f\n", t / (r / f) * 1000 }')"
        fig promotion_installs "$(counter app.flowcheck.install_ok)"
    fi
    stop_all
fi
