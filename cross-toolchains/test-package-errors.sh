#!/usr/bin/env bash
# package-deb.sh on bad input, as a user meets it: each case must exit non-zero with one line that names the problem
# and its fix, and leave no package behind. (The model-level refusals are also unit-tested in PackageModelCLITests;
# this covers the script around them: the binary, the board, the arguments.)
# Usage: test-package-errors.sh [AARCH64_BINARY]   (default: build-release.sh's stripped binary)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${RESNET_EDGE_SHARED:-$root/../shared}
arm=${1:-$root/.build-aarch64-release/resnet-edge-aarch64}
onnx=$shared/models/resnet18-fashion-mnist.onnx
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "test-package-errors: FAIL: $*" >&2; exit 1; }
host=${RESNET_EDGE_HOST_BIN:-$root/.build/release/resnet-edge}
if [ ! -x "$host" ]; then (cd "$root" && swift build -c release --product resnet-edge >/dev/null) || fail "swift build -c release failed"; fi
[ -x "$host" ] || fail "no host resnet-edge at $host"
cases=0

# refused EXPECTED-TEXT ARGS...: exit 1, exactly one line on stderr containing the text, nothing in out/.
refused() {
  local expected=$1; shift
  local err rc=0
  err=$(bash "$root/cross-toolchains/package-deb.sh" --out "$out" --host-binary "$host" "$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -ne 0 ] || fail "package-deb.sh $* succeeded"
  [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ] || fail "package-deb.sh $*: not one line: $err"
  printf '%s\n' "$err" | grep -qF -- "$expected" || fail "package-deb.sh $*: '$err' does not say '$expected'"
  [ -z "$(ls -A "$out")" ] || fail "package-deb.sh $* left $(ls "$out")"
  echo "test-package-errors: ok: $err"
  cases=$((cases + 1))
}

refused "no aarch64 binary at /nonexistent/resnet-edge" --board rpi4 --model "$onnx" --fp32 --binary /nonexistent/resnet-edge
refused "needs the aarch64 binary" --board rpi4 --model "$onnx" --fp32 --binary "$host"
echo "not an ELF file" > "$out.txt"
refused "is not an aarch64" --board rpi4 --model "$onnx" --fp32 --binary "$out.txt"
rm -f "$out.txt"
[ -x "$arm" ] || fail "no aarch64 binary at $arm (cross-toolchains/build-release.sh)"
refused "unknown board 'rpi9'" --board rpi9 --model "$onnx" --fp32 --binary "$arm"
refused "give calibration images (--images DIR or --dataset DIR)" --board rpi4 --model "$onnx" --binary "$arm"
refused "model /nonexistent.onnx not found" --board rpi4 --model /nonexistent.onnx --binary "$arm"
refused "--images /nonexistent is not a directory" --board rpi4 --model "$onnx" --images /nonexistent --binary "$arm"
printf 'a\nb\nc\n' > "$out.labels"
refused "has 3 labels, the model has 10 classes" --board rpi4 --model "$onnx" --fp32 --labels "$out.labels" --binary "$arm"
rm -f "$out.labels"
echo "test-package-errors: OK: $cases cases refused with one line and no package"
