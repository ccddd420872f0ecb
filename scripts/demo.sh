#!/usr/bin/env bash
# The main job on its built-in default: builds resnet-edge (release) and runs the daemon, `resnet-edge serve`, with no
# configuration and no camera: the reference model (ResNet18 trained on Fashion-MNIST, ../shared/models) classifies a
# moving test pattern, then the sample photos as a replayed image source; while it runs, the HTTP endpoints are read
# (/healthz, /latest, /events, /metrics). Then it classifies the sample photos with `classify` and measures the
# model's accuracy on the first 1,000 Fashion-MNIST test images. No camera and no downloads beyond Debian packages.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
shared=${RESNET_EDGE_SHARED:-$root/../shared}
bash scripts/setup-host.sh
# RESNET_EDGE_SCRATCH: another build folder (e.g. .build-dmn), as `swift build --scratch-path` takes it.
scratch=${RESNET_EDGE_SCRATCH:-.build}
swift build -c release --product resnet-edge --scratch-path "$scratch"
bin=$scratch/release/resnet-edge
model=$shared/models/resnet18-fashion-mnist.onnx

# GET http://127.0.0.1:PORT/PATH with curl, or Python where curl is missing.
fetch() {
  if command -v curl >/dev/null; then curl -s --max-time 5 "http://127.0.0.1:$1$2"
  else python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())' "http://127.0.0.1:$1$2"; fi
}
work=$(mktemp -d)
trap 'kill "${pid:-}" 2>/dev/null || true; rm -rf "$work"' EXIT

echo "== resnet-edge serve (built-in default: reference model, test pattern, HTTP on a free loopback port), 150 frames"
"$bin" serve --model "$model" --preprocess fashion-mnist --source pattern --http 127.0.0.1:0 --frames 150 \
  >"$work/results.jsonl" 2>"$work/serve.log" &
pid=$!
port=""
for _ in $(seq 1 300); do
  port=$(sed -n 's|.*results: http://127.0.0.1:\([0-9]*\)/latest.*|\1|p' "$work/serve.log" | head -1)
  [ -n "$port" ] && grep -q "first frame classified" "$work/serve.log" && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$port" ] || { cat "$work/serve.log"; echo "demo: the daemon did not start" >&2; exit 1; }
sleep 1
echo "-- GET /healthz";  fetch "$port" /healthz
echo "-- GET /latest";   fetch "$port" /latest
echo "-- GET /events (the first lines of the stream)"
if command -v curl >/dev/null; then curl -s -N --max-time 1 "http://127.0.0.1:$port/events" | head -6 || true; fi
echo "-- GET /metrics (resnet_edge_*, without histogram buckets)"
fetch "$port" /metrics | grep '^resnet_edge_' | grep -v '_bucket{' | head -40
wait "$pid"
pid=""
echo "-- the daemon's log (stderr; the journal under systemd)"
cat "$work/serve.log"
echo "-- results on stdout: $(wc -l <"$work/results.jsonl") JSON lines; the last:"
tail -1 "$work/results.jsonl"

echo
echo "== resnet-edge serve on the sample photos (an image source replaying the folder, one pass)"
count=$(ls "$shared"/testdata/images/*.{jpg,png} 2>/dev/null | wc -l)
show_result=$(cat <<'PY'
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    print("  frame %3d: %-12s %5.1f%%  (%.1f ms from frame to result)"
          % (r["sequence"], r["labels"][0], 100 * r["probabilities"][0], r["capture_to_result_ms"]))
PY
)
"$bin" serve --model "$model" --preprocess fashion-mnist --source images --path "$shared/testdata/images" --fps 20 \
  --http "" --top 1 --frames "$count" 2>/dev/null |
  python3 -c "$show_result"
echo
echo "== resnet-edge classify and evaluate"
"$bin" classify --model "$model" --preprocess fashion-mnist --top 3 "$shared"/testdata/images/*.{jpg,png}
"$bin" evaluate --model "$model" --dataset /usr/share/datasets/fashion-mnist --limit 1000
