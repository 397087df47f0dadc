#!/bin/bash
# make bench: draws build/bench/*.png from the pieces' data files and prints the figures against their goals.
#
# Usage: plot.sh OUT   (OUT holds results.csv and the pieces' *.dat files)
# A plot whose data file is missing (its piece did not run) is skipped; without
# gnuplot (Debian gnuplot-nox) only the table is printed.
set -u
OUT=${1:?usage: plot.sh OUT}
CSV=$OUT/results.csv

# ---- the table: figure, value, goal, verdict -----------------------------------
# goal: ">= X", "< X", "== X" or "report" (issue 8's table).
goal_of() {
    case $1 in
        hit_path_vs_raw_relay) echo ">= 0.7" ;;
        switch_share_vs_oracle) echo ">= 0.95" ;;
        scaling_1_to_4_devices) echo ">= 3.5" ;;
        packet_vs_app_pinning) echo ">= 1.45" ;;
        new_flow_first_packet_p50_us) echo "< 1000" ;;
        failover_ms) echo "< 50" ;;
        sync_divergence_after_quiesce) echo "== 0" ;;
        *) echo "report" ;;
    esac
}
if [ -s "$CSV" ]; then
    printf '\n%-40s %14s  %-8s %s\n' figure value goal verdict
    printf '%-40s %14s  %-8s %s\n' "----------------------------------------" "--------------" "--------" "-------"
    tail -n +2 "$CSV" | while IFS=, read -r name value; do
        goal=$(goal_of "$name")
        verdict=$(awk -v v="$value" -v g="$goal" 'BEGIN {
            split(g, a, " ");
            if (g == "report") { print ""; exit }
            if (v !~ /^[0-9.eE+-]+$/) { print "n/a"; exit }
            ok = (a[1] == ">=" && v + 0 >= a[2] + 0) || (a[1] == "<" && v + 0 < a[2] + 0) \
                 || (a[1] == "==" && v + 0 == a[2] + 0);
            print ok ? "met" : "NOT met" }')
        printf '%-40s %14s  %-8s %s\n' "$name" "$value" "$goal" "$verdict"
    done
fi

if ! command -v gnuplot > /dev/null 2>&1; then
    echo "bench: gnuplot not found (Debian gnuplot-nox): no plots" >&2
    exit 0
fi

plot() {   # plot NAME: run the gnuplot program on stdin, writing OUT/NAME.png
    if gnuplot 2> "$OUT/$1.gnuplot.log"; then
        echo "bench: plot $OUT/$1.png"
        rm -f "$OUT/$1.gnuplot.log"
    else
        echo "bench: plot $1 failed: see $OUT/$1.gnuplot.log" >&2
    fi
}
TERM_PNG="set terminal pngcairo size 900,560 font ',10' noenhanced"
command -v gnuplot > /dev/null && gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo \
    || TERM_PNG="set terminal png size 900,560 noenhanced"

# Switch share / oracle share vs flow-manager size, per Zipf alpha, steady and churn.
# One file per series: gnuplot draws no line across rows it filtered out.
if [ -s "$OUT/switch_share.dat" ]; then
    terms=()
    for m in steady churn; do
        for a in $(awk '!/^#/ {print $2}' "$OUT/switch_share.dat" | sort -u); do
            f=$OUT/switch_share-$a-$m.series
            awk -v a="$a" -v m="$m" '!/^#/ && $2 == a && $3 == m' "$OUT/switch_share.dat" | sort -n > "$f"
            [ -s "$f" ] || continue
            dt=1; [ "$m" = churn ] && dt=2
            terms+=("'$f' using 1:6 title 'alpha $a $m' dashtype $dt")
        done
    done
    plot switch_share <<GP
$TERM_PNG
set output '$OUT/switch_share.png'
set title 'Share served at the switch / oracle share (1M flows)'
set xlabel 'flow-manager entries'; set ylabel 'ratio to oracle'
set logscale x 2; set yrange [0:1.1]; set key bottom right; set grid
set style data linespoints
plot $(IFS=,; echo "${terms[*]}")
GP
    rm -f "$OUT"/switch_share-*.series
fi

# Device-processed throughput vs number of NICs, with and without hot keys.
if [ -s "$OUT/scaling.dat" ]; then
    plot scaling <<GP
$TERM_PNG
set output '$OUT/scaling.png'
set title 'Miss traffic processed by rate-capped NICs'
set xlabel 'NICs'; set ylabel 'packets/s processed by devices'
set xtics (1, 2, 4); set yrange [0:*]; set key top left; set grid
set style data linespoints
plot '< grep -v "^#" $OUT/scaling.dat | awk "\\\$2 == 1"' using 1:3 title 'hot keys at the switch', \
     '< grep -v "^#" $OUT/scaling.dat | awk "\\\$2 == 0"' using 1:3 title 'no hot keys'
GP
fi

# Packet- vs app-pinning per app.
if [ -s "$OUT/pinning.dat" ]; then
    plot pinning <<GP
$TERM_PNG
set output '$OUT/pinning.png'
set title 'Front-end apps: delivered packets/s'
set ylabel 'packets/s'; set style data histograms; set style histogram clustered
set style fill solid 0.8 border -1; set boxwidth 0.9; set key top left; set grid ytics
plot '$OUT/pinning.dat' using 2:xtic(1) title 'packet-pinning', '' using 3 title 'app-pinning'
GP
fi

# Divergence of the copies of per-flow counters, per epoch, loaded then quiet.
if [ -s "$OUT/divergence.dat" ]; then
    plot divergence <<GP
$TERM_PNG
set output '$OUT/divergence.png'
set title 'Counters at the switch vs their device copies, per epoch'
set xlabel 'time (ms)'; set ylabel 'relative divergence'; set y2label 'packets'
set ytics nomirror; set y2tics; set key top right; set grid
plot '$OUT/divergence.dat' using 1:3 with linespoints title 'relative (sum |sw - dev| / sum sw)', \
     '' using 1:4 axes x1y2 with lines title 'absolute (packets)'
GP
fi
exit 0
