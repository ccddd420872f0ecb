#!/usr/bin/env python3
"""QDQ models as onnxruntime's quantize_static writes them WITHOUT its pre-processing (every BatchNormalization a
float node between a DequantizeLinear and a QuantizeLinear), with onnxruntime's outputs: the oracle of the
importer's BatchNorm folding into quantized convolutions (Tests/EdgeRuntimeTests/QDQFoldingTests.swift).

    python Tests/Fixtures/make_qdq_fixtures.py [--out .fixtures/qdq] [--force]

Models (small, built with make_fixtures.py's builders: Kaiming weights, BatchNorm statistics measured on the
calibration inputs, a classifier scaled from data with the top-1 margin enforced on the test inputs):
- resnetlike-u8 / -s8: stem Conv-BN-Relu + MaxPool, a basic block, a strided block with a downsample Conv-BN
  (BN then Relu, the torchvision order), GAP, Gemm; 40x48 input; U8 and S8 activations.
- mbv2like-u8: MobileNetV2 inverted residual blocks (1x1 expand, depthwise 3x3, ReLU6 as Clip, 1x1 project,
  residual Add), widths 16/24/40, 56x48 input.
- signedbn-u8: resnetlike with, in every BatchNorm, one channel of negative gamma and one of gamma 0 (plus a
  third negative one in the stem), 32x32 input.
- resnetlike-bnrelu-u8: resnetlike quantized with BatchNormalization and Relu left out of op_types_to_quantize,
  so the graph has Conv -> Q -> DQ -> BatchNorm -> Relu -> Q (the BatchNorm's output unquantized).
- reference-bn-u8: the trained reference model (../shared/models/resnet18-fashion-mnist-bn.onnx, BatchNorm as
  nodes) quantized on 128 Fashion-MNIST training images; onnxruntime's logits on the first 400 test images.

onnxruntime runs every model at ORT_ENABLE_BASIC (the QDQ model as written, as make_fixtures.py's INT8 oracle),
and also with the QuantizeLinear/DequantizeLinear pair between each Conv and its BatchNorm removed (outputs
`<name>.ort-no-conv-qdq.f32`): the float definition of the folded model, which the fold must match closely.
Fixed seeds; skipped when the manifest's inputs digest (this script, make_fixtures.py, package versions, the
reference model) matches. About 10 s on 2 cores.
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

SCRIPT = Path(__file__).resolve()
sys.path.insert(0, str(SCRIPT.parent))
import make_fixtures as mf  # noqa: E402

MANIFEST_VERSION = 1
# The classifier's top-1 lead on every test input, as a fraction of max|logit| (make_fixtures.py uses 0.02): folding
# drops a rounding the QDQ model does, which moves the logits by a few output steps; the fixture's classes must not
# be near-ties at that scale.
MARGIN = 0.25


def resnetlike(seed: int) -> mf.Net:
    net = mf.Net(seed)
    x = net.conv("/conv1", "input", 3, 16, 3, 2, "conv1")
    x = net.relu("/relu", net.bn("/bn1", x, 16, "bn1"))
    x = net.maxpool("/maxpool", x)
    cin = 16
    for li, (cout, stride) in enumerate([(16, 1), (32, 2)], start=1):
        scope, p = f"/layer{li}", f"layer{li}"
        out = net.conv(f"{scope}/conv1", x, cin, cout, 3, stride, f"{p}.conv1")
        out = net.relu(f"{scope}/relu", net.bn(f"{scope}/bn1", out, cout, f"{p}.bn1"))
        out = net.conv(f"{scope}/conv2", out, cout, cout, 3, 1, f"{p}.conv2")
        out = net.bn(f"{scope}/bn2", out, cout, f"{p}.bn2")
        identity = x
        if stride != 1 or cin != cout:
            identity = net.conv(f"{scope}/downsample.0", x, cin, cout, 1, stride, f"{p}.downsample.0")
            identity = net.bn(f"{scope}/downsample.1", identity, cout, f"{p}.downsample.1")
        x = net.relu(f"{scope}/relu_1", net.add(scope, out, identity))
        cin = cout
    net.head("/avgpool/GlobalAveragePool", x, cin, 10, "fc", "/fc")
    return net


def mbv2like(seed: int) -> mf.Net:
    net = mf.Net(seed)

    def cbr(scope, param, x, cin, cout, k, s, group=1):
        x = net.conv(f"{scope}/conv", x, cin, cout, k, s, f"{param}.0", group)
        return net.relu6(f"{scope}/clip", net.bn(f"{scope}/bn", x, cout, f"{param}.1"))

    x = cbr("/features.0", "features.0", "input", 3, 16, 3, 2)
    cin = 16
    for i, (c, s, t) in enumerate([(16, 1, 1), (24, 2, 4), (24, 1, 4), (40, 2, 3)], start=1):
        scope, p = f"/features.{i}", f"features.{i}"
        h = x
        hidden = cin * t
        if t != 1:
            h = cbr(f"{scope}/expand", f"{p}.expand", h, cin, hidden, 1, 1)
        h = cbr(f"{scope}/dw", f"{p}.dw", h, hidden, hidden, 3, s, hidden)
        h = net.conv(f"{scope}/project", h, hidden, c, 1, 1, f"{p}.project.0")
        h = net.bn(f"{scope}/project_bn", h, c, f"{p}.project.1")
        x = net.add(scope, x, h) if s == 1 and cin == c else h
        cin = c
    x = cbr("/features.5", "features.5", x, cin, 64, 1, 1)
    net.head("/GlobalAveragePool", x, 64, 10, "classifier", "/classifier")
    return net


def signed_gammas(net: mf.Net) -> dict:
    """In every BatchNorm one channel gets a negative gamma and one gamma 0 (the stem's a second negative)."""
    changed = {}
    for n in net.nodes:
        if n.op_type != "BatchNormalization":
            continue
        g = net.inits[n.input[1]].copy()
        g[0] = -g[0]
        # The two BatchNorms summed before the classifier zero different channels: a channel constant at the
        # pooled features would get a huge classifier weight (scaled by 1/std) and break the quantized logits.
        g[2 if n.name.startswith("/layer2/downsample") else 1] = 0.0
        if n.name == "/bn1/BatchNormalization":
            g[5] = -g[5]
        net.inits[n.input[1]] = g
        changed[n.name] = {"negative": [int(i) for i in np.nonzero(g < 0)[0]], "zero": [int(i) for i in np.nonzero(g == 0)[0]]}
    return changed


class Reader(CalibrationDataReader):
    def __init__(self, batches):
        self.it = iter(batches)

    def get_next(self):
        x = next(self.it, None)
        return None if x is None else {"input": x}


def quantize(src: Path, dst: Path, calibration: list[np.ndarray], activations: str, op_types=None) -> None:
    quantize_static(str(src), str(dst), Reader(calibration), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8 if activations == "u8" else QuantType.QInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    op_types_to_quantize=op_types, extra_options={"WeightSymmetric": True})


def run_ort(path: Path, inputs: list[np.ndarray]) -> np.ndarray:
    sess = mf.ort_session(path, mf.default_threads())
    return np.concatenate([sess.run(None, {"input": x})[0] for x in inputs]).astype(np.float32)


def without_conv_output_qdq(src: Path, dst: Path) -> int:
    """The QDQ model with the QuantizeLinear/DequantizeLinear pair between each Conv and the BatchNormalization that
    reads it removed: the float definition of what the importer's fold computes (returns the pairs removed)."""
    m = onnx.load(str(src))
    producer = {o: n for n in m.graph.node for o in n.output}
    drop = []
    for n in m.graph.node:
        if n.op_type != "BatchNormalization":
            continue
        dq = producer.get(n.input[0])
        q = producer.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
        if q is not None and q.op_type == "QuantizeLinear" and producer.get(q.input[0]) is not None \
                and producer[q.input[0]].op_type == "Conv":
            n.input[0] = q.input[0]
            drop += [q.name, dq.name]
    keep = [n for n in m.graph.node if n.name not in drop]
    del m.graph.node[:]
    m.graph.node.extend(keep)
    used = {i for n in m.graph.node for i in n.input}
    inits = [i for i in m.graph.initializer if i.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(inits)
    onnx.save(m, str(dst))
    return len(drop) // 2


def count_ops(path: Path) -> dict:
    m = onnx.load(str(path))
    counts: dict[str, int] = {}
    for n in m.graph.node:
        counts[n.op_type] = counts.get(n.op_type, 0) + 1
    return counts


def digest(shared: Path) -> str:
    h = hashlib.sha256()
    for f in (SCRIPT, SCRIPT.parent / "make_fixtures.py", shared / "models" / "resnet18-fashion-mnist-bn.onnx"):
        h.update(f.read_bytes())
    h.update(f"onnx {onnx.__version__} ort {ort.__version__} numpy {np.__version__}".encode())
    return h.hexdigest()


def main() -> int:
    d_out, _, d_shared = mf.default_paths()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=d_out / "qdq")
    ap.add_argument("--shared", type=Path, default=d_shared)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    out, shared = args.out.resolve(), args.shared.resolve()
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice to pre-process: not pre-processing is the point
    key = digest(shared)
    try:
        old = json.loads((out / "manifest.json").read_text())
        if not args.force and old.get("inputs_digest") == key and all((out / f).exists() for m in old["models"] for f in (m["file"], m["inputs"], m["outputs"])):
            print(f"QDQ fixtures in {out} are up to date; --force rebuilds them")
            return 0
    except (OSError, ValueError, KeyError):
        pass
    t0 = time.perf_counter()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    manifest = {"version": MANIFEST_VERSION, "onnxruntime_version": ort.__version__, "models": []}

    def emit(name, qpath, inputs, extra):
        x = np.concatenate(inputs).astype("<f4")
        x.tofile(out / f"{name}.input.f32")
        y = run_ort(qpath, inputs)
        y.astype("<f4").tofile(out / f"{name}.ort.f32")
        ops = count_ops(qpath)
        # onnxruntime on the same model without the Conv -> BatchNorm Q/DQ pairs (the fold's float definition).
        nos1 = out / f"{name}.no-conv-qdq.onnx"
        pairs = without_conv_output_qdq(qpath, nos1)
        run_ort(nos1, inputs).astype("<f4").tofile(out / f"{name}.ort-no-conv-qdq.f32")
        nos1.unlink()
        extra = dict(extra, outputs_without_conv_qdq=f"{name}.ort-no-conv-qdq.f32", conv_qdq_pairs_removed=pairs)
        entry = {"name": name, "file": qpath.name, "inputs": f"{name}.input.f32", "input_shape": list(x.shape),
                 "outputs": f"{name}.ort.f32", "output_shape": list(y.shape), "batchnorms": ops.get("BatchNormalization", 0),
                 "ops": ops, **extra}
        manifest["models"].append(entry)
        print(f"  [{time.perf_counter() - t0:5.1f} s] {name}: {ops.get('BatchNormalization', 0)} BatchNorms, {len(inputs)} inputs {list(inputs[0].shape)}")

    rng = np.random.default_rng(1515)
    synthetic = [("resnetlike", resnetlike, 11, (40, 48), None), ("mbv2like", mbv2like, 12, (56, 48), None),
                 ("signedbn", resnetlike, 13, (32, 32), signed_gammas)]
    for family, builder, seed, (h, w), modify in synthetic:
        calib = [rng.standard_normal((1, 3, h, w)).astype(np.float32) for _ in range(16)]
        test = [rng.standard_normal((1, 3, h, w)).astype(np.float32) for _ in range(8)]
        net = builder(seed)
        changed = modify(net) if modify else {}
        # BatchNorm statistics from the calibration inputs, the classifier's top-1 margin on the test inputs.
        mf.calibrate(net, np.concatenate(calib), [np.concatenate(test)], 1, margin=MARGIN)
        fp32 = out / f"{family}.onnx"
        onnx.save(mf.make_model(net.nodes, mf.used_inits(net.nodes, net.inits), net.classes,
                                input_shape=("N", 3, h, w), doc=f"resnet-edge QDQ fixture {family} (FP32, BatchNorm as nodes)"), fp32)
        variants = [("u8", None)] + ([("s8", None), ("u8", "bnrelu")] if family == "resnetlike" else [])
        for act, kind in variants:
            name = f"{family}-{'bnrelu-' if kind else ''}{act}"
            qpath = out / f"{name}.onnx"
            ops = None
            if kind == "bnrelu":  # BatchNorm and Relu not quantized: Conv -> Q -> DQ -> BatchNorm -> Relu -> Q
                ops = ["Conv", "Gemm", "Add", "MaxPool", "GlobalAveragePool", "Flatten"]
            quantize(fp32, qpath, calib + test, act, ops)  # the test inputs too: their logits must not saturate
            emit(name, qpath, test, {"signed_gammas": changed} if changed else {})

    # The trained reference model with BatchNorm nodes, on Fashion-MNIST.
    fm_dir = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    preset = mf.PRESETS["fashion-mnist"]
    train = mf.fashion_mnist_inputs(mf.read_idx(fm_dir / "train-images-idx3-ubyte.gz")[:128], preset)
    test_images = mf.read_idx(fm_dir / "t10k-images-idx3-ubyte.gz")[:400]
    labels = mf.read_idx(fm_dir / "t10k-labels-idx1-ubyte.gz")[:400]
    test = mf.fashion_mnist_inputs(test_images, preset)
    qpath = out / "reference-bn-u8.onnx"
    quantize(shared / "models" / "resnet18-fashion-mnist-bn.onnx", qpath, [train[k:k + 64] for k in range(0, len(train), 64)], "u8")
    batches = [test[k:k + 100] for k in range(0, len(test), 100)]
    labels.astype(np.uint8).tofile(out / "reference-bn-u8.labels.u8")
    emit("reference-bn-u8", qpath, batches, {"labels": "reference-bn-u8.labels.u8"})

    manifest["inputs_digest"] = key
    manifest["seconds"] = round(time.perf_counter() - t0, 2)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(manifest['models'])} QDQ models with onnxruntime outputs in {out} ({manifest['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
