#!/bin/sh
# Test of scripts/bench/plot.sh: figures against their goals, and a PNG per data file (with gnuplot).
#
# Usage: bench_plot.sh ROOT   (the source tree).  Writes sample results.csv and .dat
# files into a temp dir, runs plot.sh on it and checks the verdict of each goal figure
# (met / NOT met at the boundary) and, when gnuplot is installed, that every plot was
# drawn.  Exit 0 pass, 1 fail.
set -u
ROOT=${1:?usage: bench_plot.sh ROOT}
T=$(mktemp -d /tmp/plane-bench-plot.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "bench_plot: FAIL: $*"; cat "$T/out" 2>/dev/null; exit 1; }

cat > "$T/results.csv" <<CSV
name,value
failover_ms,49.9
new_flow_first_packet_p50_us,1000
hit_path_vs_raw_relay,0.7
switch_share_vs_oracle,0.949
scaling_1_to_4_devices,3.5
packet_vs_app_pinning,1.46
sync_divergence_after_quiesce,0
latency_switch_p50_us,150
raw_relay_mpps,n/a
CSV
printf '# fm_entries alpha mode share oracle ratio\n1024 0.99 steady 0.5 0.52 0.96\n2048 0.99 steady 0.55 0.57 0.96\n1024 0.99 churn 0.4 0.52 0.77\n2048 0.99 churn 0.45 0.57 0.79\n' > "$T/switch_share.dat"
printf '# devices hot device_pps total_pps\n1 1 2000 3000\n2 1 4000 6500\n4 1 7900 14000\n1 0 2000 2000\n2 0 4000 4000\n4 0 8000 8000\n' > "$T/scaling.dat"
printf '# app packet_pps app_pps\nvpngw 2600 2600\nnat 2600 1000\n' > "$T/pinning.dat"
printf '# t_ms phase rel_div abs_div keys replica_abs_div\n0 load 0.05 40 10 0\n100 load 0.01 8 10 0\n200 quiet 0 0 10 0\n' > "$T/divergence.dat"

sh -c "\"$ROOT/scripts/bench/plot.sh\" \"$T\"" > "$T/out" 2>&1 || fail "plot.sh exited $?"
verdict() {   # verdict NAME WANT: the table's last column for NAME
    got=$(awk -v n="$1" '$1 == n { s = ""; for (i = 3; i <= NF; i++) s = s (i > 3 ? " " : "") $i; print s }' "$T/out")
    [ "$got" = "$2" ] || fail "$1: verdict '$got', want '$2'"
}
verdict failover_ms "< 50 met"
verdict new_flow_first_packet_p50_us "< 1000 NOT met"
verdict hit_path_vs_raw_relay ">= 0.7 met"
verdict switch_share_vs_oracle ">= 0.95 NOT met"
verdict scaling_1_to_4_devices ">= 3.5 met"
verdict packet_vs_app_pinning ">= 1.45 met"
verdict sync_divergence_after_quiesce "== 0 met"
verdict latency_switch_p50_us "report"
verdict raw_relay_mpps "report"

if command -v gnuplot > /dev/null 2>&1; then
    for p in switch_share scaling pinning divergence; do
        [ -s "$T/$p.png" ] || fail "$p.png was not drawn"
    done
    echo "bench_plot: verdicts right, 4 plots drawn"
else
    echo "bench_plot: verdicts right (no gnuplot: plots not checked)"
fi
exit 0
