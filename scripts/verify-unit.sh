#!/usr/bin/env bash
# Checks a systemd unit with `systemd-analyze verify` in a throw-away root, and FAILS ON ANY OUTPUT.
#
# Why any output: systemd-analyze exits 0 for "Unknown key 'WatchdogSecs'", "Failed to parse service type, ignoring:
# notifyy" or "Invalid URL, ignoring" (see ../shared/notes/v4l2-systemd-vm.md §3): systemd ignores such lines at run
# time too, so a typo'd hardening directive silently does nothing. Why a root: without --root the check fails when
# ExecStart's binary is not installed on this machine; with --root the unit must sit inside the root together with the
# stock units ("Unit sysinit.target not found" otherwise). So the root gets this host's stock units, the unit, and
# stub executables for every absolute path the unit runs.
#
# Usage: scripts/verify-unit.sh [UNIT...]   (default: systemd/resnet-edge.service)
#        scripts/verify-unit.sh --self-test  (also checks that a unit with a typo FAILS)
# Needs only systemd-analyze (Debian's systemd package; installed with apt-get if missing). PID 1 need not be systemd.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if ! command -v systemd-analyze >/dev/null; then
  echo "verify-unit: installing systemd for systemd-analyze (the host's init is not changed)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd >/dev/null
fi

stock=/lib/systemd/system
[ -e "$stock/sysinit.target" ] || stock=/usr/lib/systemd/system
[ -e "$stock/sysinit.target" ] || { echo "verify-unit: no stock units (sysinit.target) under /lib/systemd/system" >&2; exit 1; }

# verify UNIT -> 0 when systemd-analyze printed nothing; prints what it said otherwise.
verify() {
  local unit=$1 name work out
  name=$(basename "$unit")
  work=$(mktemp -d)
  mkdir -p "$work/root/lib/systemd/system" "$work/root/etc/systemd/system"
  cp -a "$stock/." "$work/root/lib/systemd/system/"
  cp "$unit" "$work/root/lib/systemd/system/$name"
  # Stubs for the executables the unit names (ExecStart=/usr/bin/resnet-edge ..., ExecReload=/bin/kill ...).
  grep -E '^Exec[A-Za-z]*=' "$unit" | sed -E 's/^[^=]+=[-@:+!]*//' | awk '{print $1}' | grep '^/' | sort -u | while read -r exe; do
    mkdir -p "$work/root$(dirname "$exe")"
    printf '#!/bin/sh\nexit 0\n' > "$work/root$exe"
    chmod 0755 "$work/root$exe"
  done
  out=$(systemd-analyze verify --root="$work/root" "/lib/systemd/system/$name" 2>&1) || true
  rm -rf "$work"
  if [ -n "$out" ]; then
    echo "verify-unit: FAIL $unit"
    printf '%s\n' "$out" | sed 's/^/  /'
    return 1
  fi
  echo "verify-unit: OK $unit ($(systemd-analyze --version | head -1))"
}

if [ "${1:-}" = "--self-test" ]; then
  shift
  # The check must catch what plain verify lets through with exit status 0.
  t=$(mktemp -d)
  trap 'rm -rf "$t"' EXIT
  sed 's/^WatchdogSec=/WatchdogSecs=/' "$root/systemd/resnet-edge.service" > "$t/resnet-edge.service"
  if verify "$t/resnet-edge.service" >/dev/null; then echo "verify-unit: self-test FAILED: a typo'd key passed" >&2; exit 1; fi
  sed 's/^Type=notify/Type=notifyy/' "$root/systemd/resnet-edge.service" > "$t/resnet-edge.service"
  if verify "$t/resnet-edge.service" >/dev/null; then echo "verify-unit: self-test FAILED: a bad value passed" >&2; exit 1; fi
  echo "verify-unit: self-test OK (a typo'd key and a bad value both fail)"
fi

status=0
units=("$@")
[ ${#units[@]} -gt 0 ] || units=("$root/systemd/resnet-edge.service")
for u in "${units[@]}"; do verify "$u" || status=1; done
exit $status
