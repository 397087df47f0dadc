#!/bin/bash
# Profiles switchd's hit path: the hit-path rack of make bench under perf record -g (flat-out traffic) or callgrind.
#
# Usage: scripts/profile-hit.sh [SECONDS]     perf (root or perf_event_paranoid <= 1;
#                                             Debian linux-perf): switchd's top symbols
#        scripts/profile-hit.sh callgrind     switchd under valgrind --tool=callgrind,
#                                             50 000 hit packets at 5 kpps: instructions
#                                             per packet and by function
# Leaves perf.data / callgrind.out in the work directory it names.  BUILD and
# BENCH_PORT as for scripts/bench.sh.  docs/benchmarks.md has a recorded profile.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BP=${BENCH_PORT:-27500}
OUT=$BUILD/bench
CSV=/dev/null
PLANECTL=$BUILD/tools/planectl
PLANEGEN=$BUILD/tools/planegen/planegen
WORK=$(mktemp -d /tmp/plane-profile.XXXXXX)
EGRESS=127.0.0.1:$((BP + 110))
INGRESS=127.0.0.1:$((BP + 10))
MODE=perf
if [ "${1:-}" = callgrind ]; then MODE=callgrind; shift; fi
SECS=${1:-5}
BENCH_KEEP=1
. "$ROOT/scripts/bench/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "$MODE" = callgrind ]; then
    command -v valgrind > /dev/null || { echo "profile: valgrind not found" >&2; exit 2; }
    rack hit 1 4096 0
    # switchd runs ~50x slower under valgrind: liveness generous enough for that.
    sed -i 's/^\( *heartbeat_misses:\).*/\1 50/' "$CFG"
    RUN=cg
    start tor0 valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" \
        "$BUILD/switchd/switchd"
    for d in nic0 nic1; do start "$d" "$BUILD/nicd/nicd" --id "$d"; done
    start srv0 "$BUILD/serverd/serverd" --id srv0
    for _ in $(seq 600); do [ "$(counter dev.srv0.up)" = 1 ] && break; sleep 0.1; done
    "$PLANEGEN" gen --to "$INGRESS" --flows 16 --alpha 0 --seed 7 --rate 500 --duration 3 \
        --sizes 64 --quiet   # warm-up: every flow promoted
    sleep 1
    callgrind_control -z "$PID_tor0" > /dev/null 2>&1
    "$PLANEGEN" sink --listen "$EGRESS" --idle 3 --json --quiet > "$WORK/sink.json" 2>&1 &
    SINK=$!
    "$PLANEGEN" gen --to "$INGRESS" --flows 16 --alpha 0 --seed 7 --rate 5000 --count 50000 \
        --sizes 64 --quiet
    wait "$SINK"
    callgrind_control -d "$PID_tor0" > /dev/null 2>&1
    sleep 1
    echo "switch share: $(jnum "$WORK/sink.json" switch_share), received $(jnum "$WORK/sink.json" received)"
    OUTF=$(ls -t "$WORK"/callgrind.out* | head -1)
    echo "== inclusive, top 25 =="
    callgrind_annotate --inclusive=yes "$OUTF" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | head -25
    echo "== called from the hit path (sw_port_ingress) =="
    callgrind_annotate --tree=calling --inclusive=yes "$OUTF" 2>/dev/null \
        | grep -A12 '\*  .*:sw_port_ingress ' | head -13
    echo "profile: $OUTF"
    exit 0
fi
if ! command -v perf > /dev/null; then
    echo "profile: perf not found (Debian linux-perf)" >&2
    exit 2
fi
rack hit 1 4096 0
rack_up hit || exit 1
"$PLANEGEN" gen --to "$INGRESS" --flows 16 --alpha 0 --seed 7 --rate 1000 --duration 2 --sizes 64 \
    --quiet > /dev/null 2>&1   # warm-up: every flow promoted
sleep 1
"$PLANEGEN" sink --listen "$EGRESS" --idle 2 --json --quiet > "$WORK/sink.json" 2>&1 &
SINK=$!
"$PLANEGEN" gen --to "$INGRESS" --flows 16 --alpha 0 --seed 7 --duration "$SECS" --sizes 64 \
    --quiet > /dev/null 2>&1 &
GEN=$!
perf record -F 2999 -g -o "$WORK/perf.data" -p "$PID_tor0" -- sleep "$((SECS - 1))" \
    > "$WORK/perf-record.log" 2>&1
wait "$GEN"; wait "$SINK"
echo "switch share: $(jnum "$WORK/sink.json" switch_share), received $(jnum "$WORK/sink.json" received)"
echo "== self time by binary =="
perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | head -8
echo "== self time, top user-space symbols =="
perf report -i "$WORK/perf.data" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9].*\[\.\]' | head -20
echo "== with children, top 20 =="
perf report -i "$WORK/perf.data" --children --sort symbol --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | head -20
echo "profile: perf.data in $WORK"
