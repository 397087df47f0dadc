#!/bin/sh
# deploy_units: `make install` into a DESTDIR, check the layout, then systemd-analyze verify and security on the installed units.
#
# Usage: units.sh BUILD_DIR THRESHOLD SBINDIR LIBDIR INCLUDEDIR DATADIR UNITDIR SYSUSERSDIR
#   (the *DIR arguments are CMake's full install paths; THRESHOLD is the
#   highest overall exposure allowed, e.g. 3.0)
# Exit: 0 pass, 1 fail, 77 skip (no systemd-analyze).
#
# The DESTDIR is used as systemd-analyze's --root, so verify resolves each
# ExecStart= inside what `make install` produced, not on the host.  The root
# also gets a copy of the host's own units (sysinit.target, ...) and kill(1)
# (ExecReload=), which real hosts have.
set -u

build=$1 threshold=$2 sbindir=$3 libdir=$4 includedir=$5 datadir=$6 unitdir=$7 sysusersdir=$8

say() { printf 'deploy_units: %s\n' "$*"; }
fail() { say "FAIL: $*"; exit 1; }

if ! command -v systemd-analyze >/dev/null 2>&1; then
    say "SKIP: systemd-analyze not found"
    exit 77
fi

root=$(mktemp -d "${TMPDIR:-/tmp}/plane-deploy.XXXXXX") || fail "mktemp"
trap 'rm -rf "$root"' EXIT INT TERM

# 1. make install (what `make install` runs) into the DESTDIR.
if ! DESTDIR=$root cmake --install "$build" >"$root.install.log" 2>&1; then
    cat "$root.install.log"; rm -f "$root.install.log"
    fail "cmake --install failed"
fi
rm -f "$root.install.log"

# 2. The layout the deployment docs promise.
for f in "$sbindir/switchd" "$sbindir/nicd" "$sbindir/serverd"; do
    [ -x "$root$f" ] || fail "missing executable $f"
done
for f in "$libdir/libplane.a" "$libdir/pkgconfig/libplane.pc" \
         "$includedir/plane/app.h" "$includedir/plane/error.h" \
         "$datadir/plane/examples/racks/local.yaml" \
         "$datadir/plane/deploy/rack.yaml" "$datadir/plane/deploy/README.md" \
         "$sysusersdir/plane.conf" \
         "$unitdir/switchd.service" "$unitdir/nicd@.service" \
         "$unitdir/serverd@.service" "$unitdir/plane.target"; do
    [ -f "$root$f" ] || fail "missing file $f"
done
ls "$root$libdir"/libplane.so* >/dev/null 2>&1 || fail "missing $libdir/libplane.so"
ls "$root$libdir"/plane/apps/*.so >/dev/null 2>&1 || fail "no app modules in $libdir/plane/apps"
grep -q "ExecStart=$sbindir/switchd " "$root$unitdir/switchd.service" \
    || fail "switchd.service does not start $sbindir/switchd"
say "install layout ok"

# 2b. The installed headers and libplane.pc are enough to build against:
#     every public header compiles on its own, from the installed tree only.
if command -v pkg-config >/dev/null 2>&1 && command -v cc >/dev/null 2>&1; then
    # libplane.pc names the real prefix; point it into the DESTDIR.
    pcpath=$root$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
    prefix=$(PKG_CONFIG_PATH=$pcpath pkg-config --variable=prefix libplane) \
        || fail "pkg-config cannot read the installed libplane.pc"
    pc() {
        PKG_CONFIG_PATH=$pcpath pkg-config --define-variable=prefix="$root$prefix" "$@" libplane
    }
    cflags=$(pc --cflags) || fail "pkg-config --cflags libplane"
    libs=$(pc --libs) || fail "pkg-config --libs libplane"
    case " $libs " in *" -lplane "*) ;; *) fail "pkg-config --libs libplane: $libs" ;; esac
    src=$root/use_plane.c
    for h in "$root$includedir"/plane/*.h; do
        printf '#include <plane/%s>\n' "$(basename "$h")" >>"$src"
    done
    printf 'const char *use(void);\nconst char *use(void) { return plane_version_string(); }\n' >>"$src"
    # shellcheck disable=SC2086 # $cflags is a list of flags
    cc -std=c11 -Wall -Wextra -Werror -c $cflags "$src" -o "$root/use_plane.o" \
        || fail "the installed public headers do not compile with pkg-config's flags"
    say "pkg-config and public headers ok"
fi

# 3. The shipped multi-host example parses, for the switch and a device,
#    given a key and the built app modules.
cfgdir=$root/cfgcheck
mkdir -p "$cfgdir"
printf '%s\n' 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f >"$cfgdir/rack.key"
sed -e "s|/etc/plane/rack.key|$cfgdir/rack.key|" \
    -e "s|module: $libdir/plane/apps/|module: $root$libdir/plane/apps/|" \
    "$root$datadir/plane/deploy/rack.yaml" >"$cfgdir/rack.yaml"
for d in "switchd" "nicd --id nic0" "serverd --id srv0"; do
    # shellcheck disable=SC2086 # $d is a command and its arguments
    set -- $d
    prog=$1; shift
    if ! "$build/$prog/$prog" --config "$cfgdir/rack.yaml" "$@" --check-config \
            >"$cfgdir/out" 2>&1; then
        cat "$cfgdir/out"
        fail "$prog --check-config rejects the example rack.yaml"
    fi
done
say "example rack.yaml ok"

# 4. systemd-analyze verify in the installed root: every unit, with instances.
mkdir -p "$root/usr/lib/systemd" "$root/usr/bin"
syslib=/usr/lib/systemd/system
[ -d "$syslib" ] || syslib=/lib/systemd/system
[ -d "$root/usr/lib/systemd/system" ] || cp -R "$syslib" "$root/usr/lib/systemd/system"
for k in /usr/bin/kill /bin/kill; do
    if [ -x "$k" ]; then cp "$k" "$root/usr/bin/kill"; break; fi
done
# Units outside systemd's search path (an unusual prefix) are linked into /etc.
case $unitdir in
    /usr/lib/systemd/system|/lib/systemd/system|/usr/local/lib/systemd/system|/etc/systemd/system) ;;
    *) mkdir -p "$root/etc/systemd/system"
       for u in switchd.service nicd@.service serverd@.service plane.target; do
           cp "$root$unitdir/$u" "$root/etc/systemd/system/$u"
       done ;;
esac
units="switchd.service nicd@nic0.service serverd@srv0.service plane.target"
# shellcheck disable=SC2086
out=$(systemd-analyze verify --root="$root" --man=no --generators=no $units 2>&1)
rc=$?
if [ $rc -ne 0 ] || [ -n "$out" ]; then
    printf '%s\n' "$out"
    fail "systemd-analyze verify (rc $rc; any output counts as a failure)"
fi
say "verify ok: $units"

# 5. Exposure score of each service, offline, under the threshold.
for u in switchd.service nicd@nic0.service serverd@srv0.service; do
    out=$(systemd-analyze security --offline=yes --root="$root" "$u" 2>&1)
    line=$(printf '%s\n' "$out" | grep 'Overall exposure level')
    score=$(printf '%s\n' "$line" | sed -n 's/.*: \([0-9][0-9]*\.[0-9]\).*/\1/p')
    if [ -z "$score" ]; then
        printf '%s\n' "$out"
        fail "no exposure score for $u"
    fi
    if awk -v s="$score" -v t="$threshold" 'BEGIN { exit !(s > t) }'; then
        printf '%s\n' "$out" | grep '✗'
        fail "$u exposure $score is above $threshold"
    fi
    say "security ok: $u exposure $score (threshold $threshold)"
done
say "PASS"
