#!/bin/bash
# planectl's flag parsing and error messages, without a rack: each case checks the exit
# status and that the message names the problem.  Usage: planectl_flags.sh PLANECTL SRC
set -u
P=$1 src=$2
fail=0
expect() {   # expect STATUS PATTERN ARGS...: run planectl ARGS, check status and output
    local want=$1 pat=$2; shift 2
    local out rc
    out=$("$P" "$@" 2>&1); rc=$?
    if [ "$rc" -ne "$want" ] || ! grep -q -- "$pat" <<< "$out"; then
        echo "FAIL: planectl $* -> exit $rc (want $want), output:"; echo "$out" | head -5
        fail=1
    fi
}
expect 0 "usage: planectl" --help
expect 1 "unknown command frob" frob
expect 1 "cannot load /nonexistent" --config /nonexistent status
expect 1 "timeout takes" --timeout abc status
expect 1 "timeout takes" --timeout 10 status
# A rack that is not running: exit 2 and what to check; quick with a short timeout.
expect 2 "did not answer" --config "$src/examples/racks/local.yaml" --timeout 100 status
expect 2 "is switchd running" --config "$src/examples/racks/local.yaml" --timeout 100 \
    --json devices
# plan's JSON parses as one object with the apps it planned.
out=$("$P" plan "$src/examples/racks/frontend.yaml" "$src/examples/racks/workload-frontend.yaml" \
      --json 2>&1)
if ! grep -q '"apps"' <<< "$out" || ! grep -q '"name": *"monitor"' <<< "$out"; then
    echo "FAIL: plan --json:"; echo "$out" | head -5
    fail=1
fi
exit $fail
