#!/usr/bin/env python3
"""The onnxruntime side of `resnet-edge bench`: the same model, batch and thread count, timed the same way.

Prints one JSON object: {"runtime": "onnxruntime", "version": ..., "median_ms": ..., "p90_ms": ..., "runs": ...}.
"""
import argparse
import json
import time

import numpy as np
import onnxruntime as ort


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--height", type=int, default=224)
    ap.add_argument("--width", type=int, default=224)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--min-runs", type=int, default=10)
    ap.add_argument("--min-seconds", type=float, default=2.0)
    args = ap.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Same rule as ours: worker threads may sleep between runs (no spinning that a single-shot caller pays for).
    options.add_session_config_entry("session.intra_op.allow_spinning", "1")
    session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = np.random.default_rng(0).standard_normal((args.batch, args.channels, args.height, args.width)).astype(np.float32)
    for _ in range(args.warmup):
        session.run(None, {name: x})
    times = []
    start = time.perf_counter()
    while len(times) < args.min_runs or time.perf_counter() - start < args.min_seconds:
        t = time.perf_counter()
        session.run(None, {name: x})
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    print(json.dumps({"runtime": "onnxruntime", "version": ort.__version__, "runs": len(times),
                      "median_ms": times[len(times) // 2], "p90_ms": times[int(len(times) * 0.9)],
                      "min_ms": times[0]}))


if __name__ == "__main__":
    main()
