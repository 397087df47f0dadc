#!/bin/bash
# A scenario rack (examples/racks/NAME.yaml) runs on the local rack: `planectl up`
# starts it on ports chosen at run time, planegen sends traffic of its apps' classes,
# and every packet comes out once with consistent rewrites; then everything stops.
# Usage: scenario.sh SOURCE_DIR BUILD_DIR NAME CLASSES
set -u
src=$1 build=$2 name=$3 classes=$4
work=$(mktemp -d /tmp/plane-scenario.XXXXXX)
up_pid=
cleanup() {
    [ -n "$up_pid" ] && kill -TERM "$up_pid" 2>/dev/null && wait "$up_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "scenario $name: $*" >&2; for f in "$work"/*.log; do echo "== $f"; tail -5 "$f"; done >&2; exit 1; }

# Free ports: a base in 20000-39999 whose 112 ports nobody listens on.
for _ in $(seq 20); do
    base=$(( 20000 + (RANDOM % 200) * 100 ))
    busy=$(ss -Hlun 2>/dev/null | awk -v b="$base" '{n=split($4,a,":"); p=a[n]; if (p>=b && p<b+112) c++} END {print c+0}')
    [ "$busy" = 0 ] && break
done
# Every 127.0.0.1:17xxx of the scenario moves to base + xxx; module paths to this build.
awk -v b="$base" -v apps="$build/apps/" '{
    while (match($0, /127\.0\.0\.1:17[0-9][0-9][0-9]/)) {
        p = substr($0, RSTART + 10, 5) - 17000 + b
        $0 = substr($0, 1, RSTART + 9) p substr($0, RSTART + RLENGTH)
    }
    gsub(/\.\.\/\.\.\/build\/apps\//, apps)
    print
}' "$src/examples/racks/$name.yaml" > "$work/rack.yaml"

"$build/tools/planectl" --config "$work/rack.yaml" up > "$work/up.log" 2>&1 &
up_pid=$!
deadline=$(( $(date +%s) + 60 ))
until grep -q " is up (" "$work/up.log" 2>/dev/null; do
    kill -0 "$up_pid" 2>/dev/null || fail "planectl up exited"
    [ "$(date +%s)" -lt "$deadline" ] || fail "the rack did not come up in 60 s"
    sleep 0.2
done

"$build/tools/planegen/planegen" sink --listen 127.0.0.1:$((base + 110)) \
    --listen 127.0.0.1:$((base + 111)) --gen-report "$work/gen.json" --idle 10 --json \
    --quiet > "$work/sink.json" 2> "$work/sink.log" &
sink=$!
"$build/tools/planegen/planegen" gen --to 127.0.0.1:$((base + 10)) --flows 2000 --alpha 0.99 \
    --rate 2000 --count 6000 --class-ports "$classes" --report "$work/gen.json" --quiet \
    > "$work/gen.log" 2>&1 || fail "planegen gen failed"
wait "$sink"
j=$(cat "$work/sink.json")
num() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<< "$j"; }
recv=$(num received); dup=$(num duplicated); rw=$(num rewrite_errors)
echo "scenario $name: sent 6000, received ${recv:-?}, duplicated ${dup:-?}, rewrite errors ${rw:-?}"
[ "${recv:-0}" -gt 0 ] || fail "nothing came out"
[ "${dup:-1}" = 0 ] && [ "${rw:-1}" = 0 ] || fail "duplicates or changed rewrites"

kill -TERM "$up_pid"
wait "$up_pid"
rc=$?
up_pid=
[ "$rc" = 0 ] || fail "planectl up exited $rc on SIGTERM"
left=$(pgrep -f "$work/rack.yaml" | wc -l)
[ "$left" = 0 ] || fail "$left daemons left running"
exit 0
