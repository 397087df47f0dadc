#!/bin/bash
# make bench: runs the rack benchmarks of issue 8 on 127.0.0.1 and prints `name: value` lines.
#
# The benchmarks are the pieces scripts/bench/NN-name.sh, sourced in order; they share
# the helpers of scripts/bench/lib.sh.  Each starts its own racks (switchd, nicd, serverd)
# on fixed high ports (BENCH_PORT, default 27000, and the next ~120), drives them with
# planegen and reads planegen sink's JSON, the daemons' counters and logs and /proc.
# Every figure is appended to build/bench/results.csv (name,value) and printed; then
# scripts/bench/plot.sh draws the plots and a table of figures against their goals.
# Environment (sized for a 2-core machine; raise them on a bigger one): each piece's
# header lists its own BENCH_* variables, and
#   BUILD (build)              the release build tree (`make`)
#   BENCH_PORT (27000)         base port
#   BENCH_ONLY="a b"           run only these pieces (the NN-name's name: failover
#                              newflow latency throughput share scaling pinning
#                              promotion divergence)
#   BENCH_KEEP=1               keep the work directory (logs, JSON, pcaps)
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
BP=${BENCH_PORT:-27000}
OUT=$BUILD/bench
CSV=$OUT/results.csv
PLANECTL=$BUILD/tools/planectl
PLANEGEN=$BUILD/tools/planegen/planegen
WORK=$(mktemp -d /tmp/plane-bench.XXXXXX)
EGRESS=127.0.0.1:$((BP + 110))
INGRESS=127.0.0.1:$((BP + 10))

# shellcheck source=bench/lib.sh
. "$ROOT/scripts/bench/lib.sh"

for bin in "$BUILD/switchd/switchd" "$BUILD/nicd/nicd" "$BUILD/serverd/serverd" "$PLANEGEN" \
           "$PLANECTL" "$BUILD/apps/flowcheck.so" "$OUT/pcap_gaps" "$OUT/raw_relay" \
           "$OUT/switch_share" "$OUT/sync_divergence"; do
    if [ ! -e "$bin" ]; then
        echo "bench: $bin is missing: run 'make' first" >&2
        exit 2
    fi
done
mkdir -p "$OUT"
echo "name,value" > "$CSV"
trap cleanup EXIT
trap 'exit 130' INT TERM

for piece in "$ROOT"/scripts/bench/[0-9]*.sh; do
    # shellcheck disable=SC1090
    . "$piece"
done

if [ -x "$ROOT/scripts/bench/plot.sh" ]; then
    "$ROOT/scripts/bench/plot.sh" "$OUT"
fi
echo "bench: figures written to $CSV"
