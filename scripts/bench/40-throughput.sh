# make bench, sourced by scripts/bench.sh: hit and miss path throughput vs a raw relay.
# Environment: BENCH_RATE_SECONDS (3), the length of each flat-out run; BENCH_RATE_REPEAT
# (3) relay/hit pairs.
if want throughput; then
    SECS=${BENCH_RATE_SECONDS:-3}
    REPEAT=${BENCH_RATE_REPEAT:-3}
    # mpps NAME: packets/s (millions) the sink of run NAME received over SECS
    mpps() { awk -v n="$(jnum "$WORK/$1-sink.json" received)" -v s="$SECS" 'BEGIN{printf "%.3f\n", n / s / 1e6}'; }
    # median V...: the middle value (the lower middle of an even count)
    median() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
    # One core for the forwarder (switchd or the relay), the others for gen and sink,
    # when taskset and >= 2 CPUs are there: "one core" as the issue's figure says, and
    # the forwarder's core is not shared with the traffic tools.
    NCPU=$(nproc 2>/dev/null || echo 1)
    FWD_CPU="" TOOLS_CPU=""
    if command -v taskset > /dev/null && [ "$NCPU" -ge 2 ]; then
        FWD_CPU="taskset -c $((NCPU - 1))" TOOLS_CPU="taskset -c 0-$((NCPU - 2))"
    fi
    # cpu_ticks PID: user + system CPU time of PID, in clock ticks
    cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
    HZ=$(getconf CLK_TCK 2>/dev/null || echo 100)
    # blast NAME TO FLOWS FWD_PID: a sink, then gen flat out to TO (64 B frames) for SECS;
    # CPU[NAME] = the CPU seconds the forwarder FWD_PID spent meanwhile
    declare -A CPU
    blast() {
        $TOOLS_CPU "$PLANEGEN" sink --listen "$EGRESS" --idle 2 --json --quiet > "$WORK/$1-sink.json" 2>&1 &
        SINK=$!
        sleep 0.2
        local t0; t0=$(cpu_ticks "$4")
        $TOOLS_CPU "$PLANEGEN" gen --to "$2" --flows "$3" --alpha 0 --seed 7 --duration "$SECS" --sizes 64 \
            --quiet --json > "$WORK/$1-gen.json" 2>/dev/null
        sleep 0.1   # the last datagrams in flight
        CPU[$1]=$(awk -v a="$t0" -v b="$(cpu_ticks "$4")" -v hz="$HZ" 'BEGIN{printf "%.3f\n", (b - a) / hz}')
        wait "$SINK"
    }
    # per_core NAME: millions of packets per CPU second of the forwarder in run NAME
    per_core() { awk -v n="$(jnum "$WORK/$1-sink.json" received)" -v c="${CPU[$1]}" \
                 'BEGIN{ if (c > 0) printf "%.3f\n", n / c / 1e6; else print "n/a" }'; }
    # warm NAME FLOWS PPS SECONDS: set the flows up (and promote them if hot)
    warm() {
        "$PLANEGEN" gen --to "$INGRESS" --flows "$2" --alpha 0 --seed 7 --rate "$3" --duration "$4" \
            --sizes 64 --quiet > /dev/null 2>&1
        sleep 1
    }

    # Hit path vs a raw relay (the same sockets, no parse, lookup or app): REPEAT
    # alternating pairs of SECS-long runs while the hit rack is up (the relay listens on
    # a port of its own and sends to the same sink).  On a machine this small the
    # packets per second a run delivers are set as much by gen and sink as by the
    # forwarder, so the figure is the forwarder's packets per CPU second, i.e. what one
    # core of it forwards: switchd's over the relay's, the median of the pairs.  The
    # forwarder gets a core of its own (taskset) when there are two.  Hit rack: 16
    # flows and a threshold of 1, so every flow is at the switch.
    rack hit 1 4096 0
    if rack_up hit; then
        [ -n "$FWD_CPU" ] && taskset -pc $((NCPU - 1)) "$PID_tor0" > /dev/null
        warm hit 16 1000 2
        RAWS=() HITS=() RATIOS=() RAWC=() HITC=()
        for ((i = 0; i < REPEAT; i++)); do
            $FWD_CPU "$OUT/raw_relay" $((BP + 20)) $((BP + 110)) $((SECS + 4)) > "$WORK/relay.out" 2>&1 &
            RELAY=$!
            sleep 0.3
            blast "relay$i" "127.0.0.1:$((BP + 20))" 16 "$RELAY"
            wait "$RELAY"
            blast "hit$i" "$INGRESS" 16 "$PID_tor0"
            RAWS+=("$(mpps "relay$i")") HITS+=("$(mpps "hit$i")")
            RAWC+=("$(per_core "relay$i")") HITC+=("$(per_core "hit$i")")
            RATIOS+=("$(ratio "${HITC[$i]}" "${RAWC[$i]}")")
        done
        echo "throughput: relay ${RAWS[*]} Mpps (${RAWC[*]} per core), hit ${HITS[*]} Mpps (${HITC[*]} per core), ratios ${RATIOS[*]}"
        fig raw_relay_mpps "$(median "${RAWS[@]}")"
        fig hit_path_mpps "$(median "${HITS[@]}")"
        fig raw_relay_mpps_per_core "$(median "${RAWC[@]}")"
        fig hit_path_mpps_per_core "$(median "${HITC[@]}")"
        fig hit_path_switch_share "$(jnum "$WORK/hit0-sink.json" switch_share)"
        fig hit_path_vs_raw_relay "$(median "${RATIOS[@]}")"
    fi
    stop_all

    # Miss path: nothing is ever promoted; every packet goes to a device.
    rack miss 1000000000 4096 0
    if rack_up miss; then
        warm miss 1000 2000 1
        blast miss "$INGRESS" 1000 "$PID_tor0"
        fig miss_path_mpps "$(mpps miss)"
    fi
    stop_all
fi
