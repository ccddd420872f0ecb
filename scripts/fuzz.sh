#!/usr/bin/env bash
# Runs the libFuzzer targets for a bounded time each (FUZZ_SECONDS, default 60):
# - FuzzONNXReader: the ONNX reader, seeded with small real models written by the fixture script
#   (Tests/Fixtures/make_operator_fixtures.py) plus Tests/Fuzz/corpus-onnx;
# - FuzzModelFileReader: the .rem model file reader, seeded with Tests/Fuzz/corpus-rem (small valid files written
#   by Tests/EdgeModelFileTests/FuzzSeedTests.swift, plus crash inputs kept as regressions).
# Crashes are written to .build-fuzz/crashes and fail the run (after both targets ran).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
cd "$root/Tests/Fuzz"
swift build -c release --scratch-path "$root/.build-fuzz" --sanitize=fuzzer
mkdir -p "$root/.build-fuzz/crashes"

corpus_onnx="$root/.build-fuzz/corpus-onnx"
mkdir -p "$corpus_onnx"
cp "$root"/Tests/Fuzz/corpus-onnx/* "$corpus_onnx"/ 2>/dev/null || true
# Small models only: libFuzzer's default max_len keeps inputs to a few KB, so seed with the operator cases.
if [ -d "$root/.fixtures/operators" ]; then
  find "$root/.fixtures/operators" -name '*.onnx' -size -64k -exec cp {} "$corpus_onnx"/ \;
fi
corpus_rem="$root/.build-fuzz/corpus-rem"
mkdir -p "$corpus_rem"
cp "$root"/Tests/Fuzz/corpus-rem/* "$corpus_rem"/

status=0
run() {
  echo "fuzz.sh: $1 for $seconds s"
  # Swift's own crash reporter would catch the signal first and libFuzzer would save no reproducer.
  SWIFT_BACKTRACE=enable=no "$root/.build-fuzz/release/$1" "$2" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
      -timeout=10 -artifact_prefix="$root/.build-fuzz/crashes/$1-" -print_final_stats=1 2>&1 | tail -n 25 || status=1
}
run FuzzONNXReader "$corpus_onnx"
run FuzzModelFileReader "$corpus_rem"
exit $status
