#!/bin/bash
# Profiles switchd's hit path with perf: the hit-path rack of make bench, flat-out traffic, perf record -g.
#
# Usage: scripts/profile-hit.sh [SECONDS]   (root or perf_event_paranoid <= 1; Debian
# linux-perf).  Prints perf report's top symbols of switchd (self time, then with
# children) and leaves perf.data in the work directory it names.  BUILD and
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
SECS=${1:-5}
BENCH_KEEP=1
. "$ROOT/scripts/bench/lib.sh"
trap cleanup EXIT
trap 'exit 130' INT TERM

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
