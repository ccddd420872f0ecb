#!/usr/bin/env bash
# Cross-builds resnet-edge's tests for aarch64 (Swift 6.2.3, SDK aarch64-sid, scratch path .build-aarch64) and runs
# the whole suite under qemu-user twice: QEMU_CPU=cortex-a72 (Pi 4: NEON, no dot product) and cortex-a76 (Pi 5:
# dot product). Prints the time of each part; exits non-zero if the build or any test run fails.
#
#   bash cross-toolchains/test-aarch64.sh                         # release tests (default: much faster under qemu)
#   XC_TEST_CONFIG=debug bash cross-toolchains/test-aarch64.sh    # debug build of the tests
#   XC_CPUS=cortex-a76 bash cross-toolchains/test-aarch64.sh --filter OracleTests   # extra args go to `swift test`
#   RESNET_EDGE_TEST_SUBSET=1 bash cross-toolchains/test-aarch64.sh                 # the tests' reduced data set
#
# The fixtures (.fixtures/, made on the host by scripts/test-setup.sh) are plain files read by path; the emulated
# tests use the same ones. Environment: XC_DIR (toolchain, default /var/cache/resnet-edge-xc), XC_TEST_CONFIG
# (release|debug), XC_CPUS (default "cortex-a72 cortex-a76"), XC_SKIP_SETUP=1 (do not re-check the toolchain).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
export XC_DIR=${XC_DIR:-/var/cache/resnet-edge-xc}
config=${XC_TEST_CONFIG:-release}
cpus=${XC_CPUS:-cortex-a72 cortex-a76}
X=$here/xswift
start=$SECONDS

t=$SECONDS
if [ "${XC_SKIP_SETUP:-0}" != 1 ]; then
  out=$(bash "$here/setup-aarch64.sh" 2>&1) || { echo "$out"; echo "test-aarch64: toolchain setup failed" >&2; exit 1; }
  echo "$out" | grep -v 'already done' || true
fi
if [ ! -e "${RESNET_EDGE_FIXTURES:-.fixtures}/manifest.json" ]; then
  bash scripts/test-setup.sh
fi
echo "test-aarch64: setup check took $((SECONDS - t)) s"

case $config in
  release) cfg=(-c release -Xswiftc -enable-testing) ;;
  debug) cfg=() ;;
  *) echo "test-aarch64: XC_TEST_CONFIG must be release or debug" >&2; exit 2 ;;
esac
common=(--swift-sdk aarch64-sid --scratch-path .build-aarch64 "${cfg[@]}")

t=$SECONDS
if ! "$X" build "${common[@]}" --build-tests; then
  echo "test-aarch64: cross build ($config) FAILED after $((SECONDS - t)) s" >&2
  exit 1
fi
echo "test-aarch64: cross build of the tests ($config) took $((SECONDS - t)) s"

failed=()
summary=()
for cpu in $cpus; do
  t=$SECONDS
  echo "test-aarch64: running the tests under qemu, QEMU_CPU=$cpu ($config)"
  if QEMU_CPU=$cpu "$X" test "${common[@]}" --skip-build "$@"; then
    summary+=("$cpu: passed in $((SECONDS - t)) s")
  else
    failed+=("$cpu")
    summary+=("$cpu: FAILED after $((SECONDS - t)) s")
  fi
  echo "test-aarch64: tests under $cpu took $((SECONDS - t)) s"
done

for line in "${summary[@]}"; do echo "test-aarch64: $line"; done
echo "test-aarch64: total $((SECONDS - start)) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-aarch64: FAILED under ${failed[*]}" >&2
  exit 1
fi
