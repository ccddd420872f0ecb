#!/usr/bin/env bash
# The main job on its built-in default: builds resnet-edge (release) and classifies the sample photos
# with the reference model (ResNet18 trained on Fashion-MNIST, ../shared/models), then measures its
# accuracy on the first 1,000 Fashion-MNIST test images. No camera and no downloads beyond Debian packages.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
shared=${RESNET_EDGE_SHARED:-$root/../shared}
bash scripts/setup-host.sh
swift build -c release --product resnet-edge
bin=.build/release/resnet-edge
model=$shared/models/resnet18-fashion-mnist.onnx
"$bin" classify --model "$model" --preprocess fashion-mnist --top 3 "$shared"/testdata/images/*.{jpg,png}
"$bin" evaluate --model "$model" --dataset /usr/share/datasets/fashion-mnist --limit 1000
