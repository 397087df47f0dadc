#!/bin/sh
# Installs every Debian 12 package Plane needs to build, test and run.
# Idempotent: when every package is already installed it does nothing.
set -eu

PKGS="build-essential cmake pkg-config git clang libclang-rt-14-dev llvm \
libuv1-dev libmsgpack-dev libxxhash-dev libjemalloc-dev libcmocka-dev \
libsodium-dev libyaml-dev libglpk-dev glpk-utils libpcap-dev libsystemd-dev \
iproute2 nftables iperf3 gnuplot-nox"

missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi

echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086
$SUDO apt-get install -y --no-install-recommends $missing
