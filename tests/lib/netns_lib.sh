# Shell helpers shared by the network-namespace tests (tests/deploy/netns.sh, tests/tap/iperf_nat.sh).
#
# Sourced (POSIX sh) by a test script, relative to the script's own
# directory:  . "$(dirname "$0")/../lib/netns_lib.sh"
# The functions read these variables of the caller:
#   lib_name    the test's name: the prefix of every message (set before sourcing)
#   work        the scratch directory; its *.log files are shown on failure,
#               and it is removed on exit unless PLANE_IT_KEEP=1
#   namespaces  the network namespaces the test creates (space-separated)
#   pids        the daemons the test started and still expects running

# abs PATH: PATH made absolute (rack.yaml's relative paths are taken from its own directory).
abs() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }

# say MSG...: one line of the test's output.
say() { printf '%s: %s\n' "$lib_name" "$*"; }

# require_root WHY: skips (exit 77) unless running as root.
require_root() {
    if [ "$(id -u)" -ne 0 ]; then
        say "SKIP: needs root ($1)"
        exit 77
    fi
}

# ns_cleanup: the EXIT trap.  Stops the daemons (SIGTERM, then SIGKILL after
# 10 s), anything else left in the namespaces, removes the namespaces and
# the scratch directory.
ns_cleanup() {
    for p in $pids; do
        kill -TERM "$p" 2>/dev/null
    done
    # Daemons get a moment to stop cleanly, then are killed.
    for p in $pids; do
        n=0
        while kill -0 "$p" 2>/dev/null && [ $n -lt 100 ]; do
            sleep 0.1; n=$((n + 1))
        done
        kill -KILL "$p" 2>/dev/null
    done
    # Anything else still running inside our namespaces (a tool left by a
    # failed step) is ours too: stop it before the namespaces go.
    for ns in $namespaces; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do
            kill -KILL "$p" 2>/dev/null
        done
    done
    wait 2>/dev/null
    for ns in $namespaces; do
        ip netns del "$ns" 2>/dev/null
    done
    if [ "${PLANE_IT_KEEP:-0}" = 1 ]; then
        say "kept $work"
    else
        rm -rf "$work"
    fi
}

# fail MSG...: reports the failure with the tail of every log, exits 1.
fail() {
    say "FAIL: $*"
    for f in "$work"/*.log; do
        [ -f "$f" ] || continue
        say "---- $(basename "$f") ----"
        tail -n 40 "$f"
    done
    exit 1
}

# ns_add_all: creates $namespaces; skips (exit 77) when the first cannot be
# created (no network namespaces here), fails on any later one.
ns_add_all() {
    set -- $namespaces
    if ! ip netns add "$1" 2>"$work/netns.err"; then
        say "SKIP: network namespaces unavailable: $(cat "$work/netns.err")"
        exit 77
    fi
    shift
    for ns in "$@"; do
        ip netns add "$ns" || fail "ip netns add $ns"
    done
}

# write_rack_key: the rack's (test) auth key in $work/rack.key, mode 0600.
write_rack_key() {
    printf '%s\n' 6974657374206b65792c206e6f7420612073656372657420617420616c6c2121 >"$work/rack.key"
    chmod 0600 "$work/rack.key"
}

# check_rack SWITCHD: fails unless switchd accepts $work/rack.yaml.
check_rack() {
    "$1" --config "$work/rack.yaml" --check-config >"$work/check.log" 2>&1 \
        || fail "rack.yaml rejected"
}

# start_in NS LOG CMD...: starts the daemon CMD in namespace NS, its output
# in $work/LOG.log; adds its pid to $pids and sets last_pid.  `ip netns
# exec` is started directly (a simple command, no subshell): ip execs the
# daemon, so $! is the daemon's pid.
start_in() {
    ns=$1 log=$2
    shift 2
    ip netns exec "$ns" "$@" >"$work/$log.log" 2>&1 &
    last_pid=$!
    pids="$pids $last_pid"
}

# alive [SKIP_PID]: true while every daemon in $pids (but SKIP_PID) runs.
alive() {
    for p in $pids; do
        [ "$p" = "${1:-}" ] && continue
        kill -0 "$p" 2>/dev/null || return 1
    done
}

# stop_daemons [SKIP_PID]: the clean stop: SIGTERM to every daemon in $pids
# (but SKIP_PID, already gone), each must exit 0; fails otherwise.  Empties $pids.
stop_daemons() {
    for p in $pids; do
        [ "$p" = "${1:-}" ] && continue
        kill -TERM "$p" 2>/dev/null
    done
    for p in $pids; do
        wait "$p"; st=$?
        [ "$p" = "${1:-}" ] && continue
        [ $st -eq 0 ] || fail "daemon $p exited $st after SIGTERM"
    done
    pids=""
}

# poll TRIES CMD...: runs CMD every 0.1 s until it succeeds, at most TRIES times.
poll() {
    tries=$1; shift
    n=0
    until "$@" >/dev/null 2>&1; do
        n=$((n + 1))
        [ $n -ge "$tries" ] && return 1
        sleep 0.1
    done
}
