#!/usr/bin/env bash
# The test command (README, CI): set up, build, run every test on the host, then fuzz the ONNX reader
# for a bounded time (FUZZ_SECONDS, default 60).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
start=$SECONDS
bash scripts/test-setup.sh
echo "test.sh: setup took $((SECONDS - start)) s"
t=$SECONDS
swift build --build-tests
echo "test.sh: build took $((SECONDS - t)) s"
t=$SECONDS
swift test --skip-build
echo "test.sh: host tests took $((SECONDS - t)) s"
t=$SECONDS
bash scripts/fuzz.sh
echo "test.sh: fuzzing took $((SECONDS - t)) s; total $((SECONDS - start)) s"
