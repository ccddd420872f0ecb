#!/usr/bin/env bash
# Regenerates Sources/ONNXProtobuf/onnx.pb.swift from the onnx.proto that ships in the PyPI `onnx` wheel.
# The generated file is committed: building swift-protobuf's protoc plugin takes minutes, and CI should not.
# Needs: protoc (Debian protobuf-compiler), python3 with pip. Pinned to the same onnx as the test fixtures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
onnx_version=$(grep -E '^onnx==' "$root/Tests/Fixtures/requirements.txt" | cut -d= -f3)
protobuf_version=1.39.0

python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$work/wheel" "onnx==$onnx_version"
python3 - "$work" <<'PY'
import sys, zipfile, glob
work = sys.argv[1]
wheel = glob.glob(f"{work}/wheel/onnx-*.whl")[0]
with zipfile.ZipFile(wheel) as z:
    open(f"{work}/onnx.proto", "wb").write(z.read("onnx/onnx.proto"))
PY

if [ ! -x "$work/swift-protobuf/.build/release/protoc-gen-swift" ]; then
  git clone --quiet --branch "$protobuf_version" https://github.com/apple/swift-protobuf "$work/swift-protobuf"
  swift build --package-path "$work/swift-protobuf" -c release --product protoc-gen-swift
fi
protoc --plugin="$work/swift-protobuf/.build/release/protoc-gen-swift" \
       --swift_opt=Visibility=Public --swift_out="$root/Sources/ONNXProtobuf" \
       --proto_path="$work" "$work/onnx.proto"
echo "wrote Sources/ONNXProtobuf/onnx.pb.swift from onnx $onnx_version with swift-protobuf $protobuf_version"
