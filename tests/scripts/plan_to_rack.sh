#!/bin/bash
# The planner's fragment drives a rack: plan the front-end scenario, point a copy of
# the rack at the fragment, and check that switchd and every device accept it and
# take its sizes.  Usage: plan_to_rack.sh SOURCE_DIR BUILD_DIR
set -eu
src=$1 build=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/tools/planectl" plan "$src/examples/racks/frontend.yaml" \
    "$src/examples/racks/workload-frontend.yaml" --out "$work/plan.yaml" > "$work/plan.txt"
grep -q "flow_manager_entries" "$work/plan.yaml"
{ sed "s#module: ../../build/apps/#module: $build/apps/#" "$src/examples/racks/frontend.yaml"
  echo "plan: plan.yaml"; } > "$work/rack.yaml"
"$build/switchd/switchd" --config "$work/rack.yaml" --check-config > "$work/sw.txt"
"$build/nicd/nicd" --config "$work/rack.yaml" --id nic0 --check-config > /dev/null
"$build/serverd/serverd" --config "$work/rack.yaml" --id srv0 --check-config > /dev/null
# The plan gave the monitor the switch's flow entries and the others none.
want=$(sed -n '/name: "monitor"/,/flow_manager_entries/s/.*flow_manager_entries: \([0-9]*\).*/\1/p' \
       "$work/plan.yaml")
got=$(sed -n '/name: monitor/,/flow_manager_entries/s/.*flow_manager_entries: \([0-9]*\).*/\1/p' \
      "$work/sw.txt")
if [ -z "$want" ] || [ "$want" != "$got" ]; then
    echo "monitor's flow manager: plan says '$want', switchd loaded '$got'" >&2
    exit 1
fi
echo "plan applied: monitor flow manager $got entries"
