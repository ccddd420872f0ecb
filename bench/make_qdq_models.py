#!/usr/bin/env python3
"""FP32 ResNet18 / ResNet50 / MobileNetV2 (torchvision layout, BatchNorm as nodes) and their QDQ versions as
onnxruntime's quantize_static writes them WITHOUT its pre-processing (each BatchNorm stays a float node between
a DequantizeLinear and a QuantizeLinear): the benchmark models of `resnet-edge bench --int8-model`, and
onnxruntime's INT8 logits on the photos for judging how close we stay (`--agreement BINARY`).

    .venv/bin/python bench/make_qdq_models.py --out /tmp/qdq-bench                      # all three, 224x224
    .venv/bin/python bench/make_qdq_models.py --out /tmp/qdq-bench --models mobilenetv2 --pre-processed
    .venv/bin/python bench/make_qdq_models.py --out /tmp/qdq-bench --agreement .build-release/resnet-edge

No torch: the graphs are built with onnx.helper by Tests/Fixtures/make_fixtures.py's builders (seeded random
Kaiming weights, BatchNorm statistics measured on the photos, a classifier scaled from data), as the fixtures'
resnet18/resnet50/mobilenetv2. Writes <name>.onnx (FP32, BatchNorm nodes), <name>-qdq.onnx (QDQ, not
pre-processed) and with --pre-processed also <name>-qdq-pre.onnx (quant_pre_process first: BatchNorm folded).
Calibration as bench/quantize_onnxruntime.py: per-channel symmetric S8 weights, U8 activations, MinMax on the
photos (../shared/testdata/images). Needs the .venv of scripts/test-setup.sh.

--agreement BINARY runs `BINARY classify --json --logits` on every photo for each QDQ model present and compares
with onnxruntime (ORT_ENABLE_BASIC, i.e. the QDQ model computed as written, and ORT_ENABLE_ALL, its INT8 kernels):
top-1 agreement, the largest logit difference in units of the output scale, and the logits' cosine.
"""
from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "Tests" / "Fixtures"))
import make_fixtures as mf  # noqa: E402  (the fixtures' graph builders and BatchNorm calibration)

SEEDS = {"resnet18": 18, "resnet50": 50, "mobilenetv2": 2}


def photos(images: Path) -> list[Path]:
    return sorted(p for p in images.iterdir() if p.suffix.lower() in mf.IMAGE_EXTENSIONS)


def build(name: str, inputs: np.ndarray, threads: int) -> onnx.ModelProto:
    net = mf.build_mobilenetv2(seed=SEEDS[name]) if name == "mobilenetv2" else mf.build_resnet(name, seed=SEEDS[name])
    mf.calibrate(net, inputs, [inputs], threads)
    return mf.make_model(net.nodes, mf.used_inits(net.nodes, net.inits), net.classes,
                         doc=f"resnet-edge bench model: torchvision {name} layout, random weights (seed {SEEDS[name]}), "
                             "BatchNorm statistics measured on photos, BatchNorm as nodes")


def quantize(fp32: Path, out: Path, tensors: list[np.ndarray], pre_process: bool) -> None:
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(tensors)

        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {"input": x}

    source = fp32
    if pre_process:
        from onnxruntime.quantization.shape_inference import quant_pre_process
        source = out.with_suffix(".tmp.onnx")
        quant_pre_process(str(fp32), str(source), skip_symbolic_shape=True)  # sympy is not in the .venv
    quantize_static(str(source), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, extra_options={"WeightSymmetric": True})
    if pre_process:
        source.unlink()


def output_scale(model: Path) -> float:
    """The scale of the DequantizeLinear that produces the graph output (one output step)."""
    m = onnx.load(str(model), load_external_data=False)
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in m.graph.initializer}
    out = m.graph.output[0].name
    for n in m.graph.node:
        if out in n.output and n.op_type == "DequantizeLinear":
            return float(inits[n.input[1]])
    raise ValueError(f"{model}: the output is not produced by a DequantizeLinear")


def agreement(binary: str, model: Path, files: list[Path], tensors: list[np.ndarray]) -> dict:
    run = subprocess.run([binary, "classify", "--model", str(model), "--preprocess", "imagenet", "--json", "--logits",
                          "--threads", "1", *map(str, files)], capture_output=True, text=True, check=True)
    ours = np.array([json.loads(line)["logits"] for line in run.stdout.splitlines() if line.startswith("{")], np.float64)
    step = output_scale(model)
    result = {"photos": len(files), "output_scale": step}
    for level, tag in ((ort.GraphOptimizationLevel.ORT_ENABLE_BASIC, "ort_basic"),
                       (ort.GraphOptimizationLevel.ORT_ENABLE_ALL, "ort_all")):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        so.intra_op_num_threads = 1
        sess = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
        theirs = np.concatenate([sess.run(None, {"input": x})[0] for x in tensors]).astype(np.float64)
        cos = (ours * theirs).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(theirs, axis=1))
        result[tag] = {"top1_agree": int((ours.argmax(1) == theirs.argmax(1)).sum()),
                       "max_diff_steps": float(np.abs(ours - theirs).max() / step),
                       "mean_max_diff_steps": float((np.abs(ours - theirs).max(1) / step).mean()),
                       "min_cosine": float(cos.min()), "mean_cosine": float(cos.mean())}
        if tag == "ort_basic":
            result["ort_basic_vs_all_top1_agree"] = theirs.argmax(1)
        else:
            basic = result.pop("ort_basic_vs_all_top1_agree")
            result["ort_basic_vs_ort_all_top1_agree"] = int((basic == theirs.argmax(1)).sum())
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--models", default="resnet18,resnet50,mobilenetv2", help="comma-separated: resnet18, resnet50, mobilenetv2")
    ap.add_argument("--images", type=Path, default=REPO.parent / "shared" / "testdata" / "images")
    ap.add_argument("--pre-processed", action="store_true", help="also write <name>-qdq-pre.onnx (quant_pre_process first)")
    ap.add_argument("--agreement", metavar="BINARY", help="compare BINARY's INT8 logits with onnxruntime's (models must exist)")
    ap.add_argument("--threads", type=int, default=mf.default_threads())
    args = ap.parse_args()
    logging.getLogger().setLevel(logging.ERROR)
    args.out.mkdir(parents=True, exist_ok=True)
    files = photos(args.images)
    preset = mf.PRESETS["imagenet-224"]
    tensors = [mf.preprocess(p, preset)[1] for p in files]
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    if args.agreement:
        report = {}
        for name in names:
            for suffix in ("-qdq", "-qdq-pre"):
                model = args.out / f"{name}{suffix}.onnx"
                if model.exists():
                    report[model.name] = r = agreement(args.agreement, model, files, tensors)
                    b, a = r["ort_basic"], r["ort_all"]
                    print(f"{model.name:24s} vs ORT basic: top-1 {b['top1_agree']}/{r['photos']}, max diff {b['max_diff_steps']:.1f} steps "
                          f"(mean {b['mean_max_diff_steps']:.1f}), cosine min {b['min_cosine']:.5f}; vs ORT all (its INT8 kernels): "
                          f"top-1 {a['top1_agree']}/{r['photos']}, max {a['max_diff_steps']:.1f} steps, cosine min {a['min_cosine']:.5f}; "
                          f"ORT basic vs all top-1 {r['ort_basic_vs_ort_all_top1_agree']}/{r['photos']}")
        (args.out / "agreement.json").write_text(json.dumps(report, indent=1) + "\n")
        return 0
    calib = np.concatenate(tensors[::mf.CALIBRATION_STRIDE])
    for name in names:
        if name not in SEEDS:
            print(f"error: unknown model {name}; choose from {', '.join(SEEDS)}", file=sys.stderr)
            return 1
        t0 = time.perf_counter()
        model = build(name, calib, args.threads)
        fp32 = args.out / f"{name}.onnx"
        onnx.save(model, fp32)
        t1 = time.perf_counter()
        quantize(fp32, args.out / f"{name}-qdq.onnx", tensors, pre_process=False)
        if args.pre_processed:
            quantize(fp32, args.out / f"{name}-qdq-pre.onnx", tensors, pre_process=True)
        print(f"{name}: FP32 {fp32} ({t1 - t0:.1f} s), QDQ {args.out / (name + '-qdq.onnx')} ({time.perf_counter() - t1:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
