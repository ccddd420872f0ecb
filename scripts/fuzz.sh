#!/usr/bin/env bash
# Runs the libFuzzer target for the ONNX reader for a bounded time (default 60 s; FUZZ_SECONDS overrides).
# The seed corpus is small real models written by the fixture script (Tests/Fixtures/make_operator_fixtures.py)
# plus Tests/Fuzz/corpus-onnx; crashes are written to .build-fuzz/crashes and fail the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-60}
cd "$root/Tests/Fuzz"
swift build -c release --scratch-path "$root/.build-fuzz" --product FuzzONNXReader --sanitize=fuzzer
corpus="$root/.build-fuzz/corpus-onnx"
mkdir -p "$corpus" "$root/.build-fuzz/crashes"
cp "$root"/Tests/Fuzz/corpus-onnx/* "$corpus"/ 2>/dev/null || true
# Small models only: libFuzzer's default max_len keeps inputs to a few KB, so seed with the operator cases.
if [ -d "$root/.fixtures/operators" ]; then
  find "$root/.fixtures/operators" -name '*.onnx' -size -64k -exec cp {} "$corpus"/ \;
fi
# Swift's own crash reporter would catch the signal first and libFuzzer would save no reproducer.
SWIFT_BACKTRACE=enable=no "$root/.build-fuzz/release/FuzzONNXReader" "$corpus" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=2048 \
    -timeout=10 -artifact_prefix="$root/.build-fuzz/crashes/" -print_final_stats=1 2>&1 | tail -n 25
