#!/usr/bin/env python3
"""One peer runtime, N inferences of one input, for scripts/bench-emulated.sh (run under qemu-aarch64 in the arm64
Python root, or on the host for a check). Loads the model, runs --runs inferences of the same input, and prints one
JSON line: {"runtime", "version", "runs", "threads", "top1", "logits"} (logits of the last run, float).

    python bench/emulated_peer.py --runtime onnxruntime --model M-qdq.onnx --input x.npy --runs 3 --threads 1
    python bench/emulated_peer.py --runtime litert --model M.tflite --input x.npy --runs 3 --threads 1

onnxruntime: the CPU execution provider, intra-op threads = --threads, inter-op 1, sequential, all graph
optimisations, spinning off (see below). LiteRT: ai_edge_litert's
Interpreter (XNNPACK delegate, applied by default) with num_threads = --threads; the NCHW float input is transposed
to NHWC and quantized with the model's input scale and zero point, the int8 logits dequantized.
"""
import argparse
import json
import sys

import numpy as np


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", choices=["onnxruntime", "litert"], required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--input", required=True, help=".npy, float32 NCHW [1, C, H, W]")
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    x = np.load(args.input).astype(np.float32)
    if args.runtime == "onnxruntime":
        import onnxruntime as ort
        version = ort.__version__
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # No spinning: an idle worker of onnxruntime's pool spins by calling into its work queues (stores and
        # function calls, which the instruction counter cannot tell from work); without spinning it blocks in futex.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        y = None
        for _ in range(args.runs):
            y = session.run(None, {name: x})[0]
        logits = np.asarray(y, np.float32).reshape(-1)
    else:
        try:
            from ai_edge_litert.interpreter import Interpreter
            import ai_edge_litert
            version = getattr(ai_edge_litert, "__version__", "?")
        except ImportError:  # on the host: TensorFlow's copy of the same interpreter
            import tensorflow as tf
            Interpreter, version = tf.lite.Interpreter, "tensorflow " + tf.__version__
        interp = Interpreter(model_path=args.model, num_threads=args.threads)
        interp.allocate_tensors()
        inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
        xin = x.transpose(0, 2, 3, 1)
        if inp["dtype"] != np.float32:
            scale, zp = inp["quantization"]
            info = np.iinfo(inp["dtype"])
            xin = np.clip(np.round(xin / scale) + zp, info.min, info.max).astype(inp["dtype"])
        y = None
        for _ in range(args.runs):
            interp.set_tensor(inp["index"], xin)
            interp.invoke()
            y = interp.get_tensor(out["index"])
        if out["dtype"] != np.float32:
            scale, zp = out["quantization"]
            y = (y.astype(np.float32) - zp) * scale
        logits = np.asarray(y, np.float32).reshape(-1)
    print(json.dumps({"runtime": args.runtime, "version": version, "runs": args.runs, "threads": args.threads,
                      "top1": int(np.argmax(logits)), "logits": [float(v) for v in logits]}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
