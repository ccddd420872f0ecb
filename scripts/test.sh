#!/usr/bin/env bash
# The test command (README, CI). On the host: set up, build, run every test, check the systemd unit, fuzz the
# ONNX and model-file readers for a bounded time each (FUZZ_SECONDS, 30 here), run the camera daemon under
# systemd with a virtual camera in a qemu VM (scripts/test-vm.sh; RESNET_EDGE_SKIP_VM=1 skips it). Then on
# emulated ARM: set up the aarch64 cross toolchain, run every
# test under qemu-aarch64 as Cortex-A72 and the kernel-dependent ones as Cortex-A76 (on the reduced data set,
# RESNET_EDGE_TEST_SUBSET), with RESNET_EDGE_BENCH_CHECK=1 check our aarch64 build against onnxruntime's under qemu,
# build the deployable binary (glibc <= 2.31), package the reference model for rpi4 and rpi5 (calibrated to INT8 by
# the packaging) and install each package in arm64 Debian bookworm and bullseye roots, where its serve must run INT8 on
# the board's kernels with the host's logits. RESNET_EDGE_SKIP_ARM=1 stops after the host part.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
shared=${RESNET_EDGE_SHARED:-$root/../shared}
start=$SECONDS
step() { echo "test.sh: $1 took $((SECONDS - t)) s"; }

t=$SECONDS; bash scripts/test-setup.sh; step "setup"
t=$SECONDS; swift build --build-tests; step "host build"
t=$SECONDS; swift test --skip-build; step "host tests"
t=$SECONDS; bash scripts/verify-unit.sh --self-test; step "systemd unit check"
t=$SECONDS; FUZZ_SECONDS=${FUZZ_SECONDS:-30} bash scripts/fuzz.sh; step "fuzzing"
# The daemon under real systemd with a V4L2 camera (vivid) in a qemu VM; see scripts/test-vm.sh.
if [ "${RESNET_EDGE_SKIP_VM:-0}" != 1 ]; then
  t=$SECONDS; RESNET_EDGE_SHARED=$shared bash scripts/test-vm.sh amd64; step "VM integration test (amd64)"
fi

if [ "${RESNET_EDGE_SKIP_ARM:-0}" != 1 ]; then
  # Every test as Cortex-A72 (Pi 4: NEON kernels); as Cortex-A76 (Pi 5: the dot-product kernels) the suites whose
  # results depend on which kernels the CPU selects: the micro-kernels against scalar, whole INT8 models byte for
  # byte across variants and against onnxruntime, model files packed for and run on the neondot layout. The rest
  # (parsing, preprocessing, the daemon, the probe) is the same code on both CPUs, and a second full emulated run
  # would take CI about 20 minutes more.
  a76_suites='CKernelsTests\.|EdgeModelFileTests\.|QuantizedKernelTests|Int8InputTests|QuantizedOracleTests|CalibrateCLITests'
  t=$SECONDS; RESNET_EDGE_TEST_SUBSET=1 XC_CPUS=cortex-a72 bash cross-toolchains/test-aarch64.sh; step "aarch64 toolchain and every test under qemu cortex-a72"
  t=$SECONDS; RESNET_EDGE_TEST_SUBSET=1 XC_CPUS=cortex-a76 XC_SKIP_SETUP=1 bash cross-toolchains/test-aarch64.sh --filter "$a76_suites"
  step "kernel-dependent tests under qemu cortex-a76"
  # The emulated side-by-side's correctness check (ours against onnxruntime's aarch64 wheel under qemu cortex-a72,
  # 24 s once its cache exists) is opt-in, RESNET_EDGE_BENCH_CHECK=1: on a fresh machine it first downloads llvm-19,
  # qemu's source (for qemu-plugin.h), a venv and an arm64 Python root, and this run is already near CI's 75 minutes.
  if [ "${RESNET_EDGE_BENCH_CHECK:-0}" = 1 ]; then
    t=$SECONDS; bash scripts/bench-emulated.sh --check --resnet-edge .build-aarch64/aarch64-unknown-linux-gnu/release/resnet-edge
    step "emulated side-by-side check (ours vs onnxruntime, cortex-a72)"
  fi
  t=$SECONDS; XC_SKIP_SETUP=1 bash cross-toolchains/build-release.sh; step "aarch64 release build"
  # The board packages as a user makes them: the reference FP32 ONNX plus calibration data, calibrated for each board
  # by package-deb.sh itself; installed into bookworm and bullseye arm64 roots, each run there under its board's CPU
  # (rpi4: cortex-a72, neon; rpi5: cortex-a76, neondot) against the host's logits.
  t=$SECONDS; bash cross-toolchains/test-package-errors.sh; step "package-deb.sh on bad input"
  for board in rpi4 rpi5; do
    t=$SECONDS
    rm -rf "out/$board"
    bash cross-toolchains/package-deb.sh --board "$board" --model "$shared/models/resnet18-fashion-mnist.onnx" \
        --labels "$shared/models/labels.txt" --dataset /usr/share/datasets/fashion-mnist --out "out/$board"
    bash cross-toolchains/test-deb.sh --suites "bookworm bullseye" "out/$board"/resnet-edge_*_arm64.deb
    step "board package for $board and its install test"
  done
fi
echo "test.sh: all passed in $((SECONDS - start)) s"
