#!/usr/bin/env python3
"""Builds the test fixtures of resnet-edge: ONNX models, preprocessed images and onnxruntime reference outputs.

    python Tests/Fixtures/make_fixtures.py [--out .fixtures] [--images ../shared/testdata/images] [--shared ../shared]

Defaults are resolved from this file's location (the repository root is two directories up), or taken from
$RESNET_EDGE_FIXTURES / $RESNET_EDGE_SHARED when set, as the Swift tests do. Uses only onnx, onnxruntime, numpy
and Pillow (Tests/Fixtures/requirements.txt). The output format is documented in Tests/Fixtures/README.md.

Idempotent: every run rewrites the managed entries (manifest.json, pre/, models/, out/, bad/) from scratch with
fixed seeds; when the manifest's input digest (this script, package versions, images, reference models) matches and
every listed file exists, the run is skipped (pass --force to rebuild anyway).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import PIL
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[2]
MANIFEST_VERSION = 1
OPSET = 17
IR_VERSION = 8  # what torch.onnx.export writes for opset 17
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png"}
MANAGED = ["pre", "models", "out", "bad", "fmnist"]
BN_EPS = 1e-5

PRESETS = {
    "imagenet-224": {"resize": 256, "crop": [224, 224], "mean": [0.485, 0.456, 0.406],
                     "std": [0.229, 0.224, 0.225], "grayscale": False, "pad": 0, "channels": 3},
    "imagenet-192x160": {"resize": 220, "crop": [192, 160], "mean": [0.485, 0.456, 0.406],
                         "std": [0.229, 0.224, 0.225], "grayscale": False, "pad": 0, "channels": 3},
    "fashion-mnist": {"resize": 28, "crop": [28, 28], "mean": [0.286], "std": [0.353],
                      "grayscale": True, "pad": 2, "channels": 3},
}

# Images whose imagenet-224 inputs calibrate the BatchNorm statistics and the classifier (every third photo).
CALIBRATION_STRIDE = 3
# onnxruntime session settings used for every reference output.
ORT_LEVEL = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
ORT_LEVEL_NAME = "ORT_ENABLE_BASIC"


class Timer:
    def __init__(self):
        self.start = time.perf_counter()
        self.phases: list[tuple[str, float]] = []
        self._last = self.start

    def mark(self, name: str):
        now = time.perf_counter()
        self.phases.append((name, now - self._last))
        print(f"  [{now - self._last:6.2f} s] {name}", flush=True)
        self._last = now

    def total(self) -> float:
        return time.perf_counter() - self.start


# ----------------------------------------------------------------------------------------------------------------
# Preprocessing: torchvision's Resize(int) + CenterCrop + ToTensor + Normalize on PIL images, in Pillow and numpy.


def resize_shorter_side(img: Image.Image, size: int) -> Image.Image:
    """torchvision.transforms.functional.resize(img, size) for a PIL image and an int size (bilinear)."""
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) == (w, h):
        return img
    return img.resize((new_w, new_h), Image.BILINEAR)


def center_crop(img: Image.Image, crop_h: int, crop_w: int) -> Image.Image:
    """torchvision.transforms.functional.center_crop (the padding branch never applies to these presets)."""
    w, h = img.size
    if crop_w > w or crop_h > h:
        raise ValueError(f"crop {crop_h}x{crop_w} larger than the resized image {h}x{w}")
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return img.crop((left, top, left + crop_w, top + crop_h))


def preprocess(path: Path, preset: dict) -> tuple[np.ndarray, np.ndarray]:
    """Returns (uint8 HWC pixels after resize and crop, float32 NCHW model input with N = 1)."""
    with Image.open(path) as src:
        img = src.convert("L" if preset["grayscale"] else "RGB")
    img = resize_shorter_side(img, preset["resize"])
    img = center_crop(img, *preset["crop"])
    u8 = np.asarray(img, dtype=np.uint8)
    if u8.ndim == 2:
        u8 = u8[:, :, None]
    mean = np.asarray(preset["mean"], dtype=np.float32)
    std = np.asarray(preset["std"], dtype=np.float32)
    x = u8.astype(np.float32) / np.float32(255)
    x = (x - mean) / std  # float32 throughout, broadcast over the channel axis (HWC)
    pad = preset["pad"]
    if pad:
        fill = (np.float32(0) - mean) / std  # the value a black pixel maps to
        assert fill.size == 1, "padding is only defined for single-channel presets"
        x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode="constant", constant_values=fill.item())
    if x.shape[2] == 1 and preset["channels"] == 3:
        x = np.repeat(x, 3, axis=2)
    f = np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)
    return np.ascontiguousarray(u8), f


# ----------------------------------------------------------------------------------------------------------------
# Graph building with exporter-like names (torch.onnx.export of torchvision models, BatchNorm kept as nodes).


class Net:
    """An ONNX graph in BatchNorm-as-nodes form with numpy initializers (ordered by first use)."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.classes = 0

    def _node(self, op: str, name: str, inputs: list[str], output: str | None = None, **attrs) -> str:
        output = output or f"{name}_output_0"
        self.nodes.append(helper.make_node(op, inputs, [output], name=name, **attrs))
        return output

    def conv(self, scope: str, x: str, cin: int, cout: int, k: int, stride: int, param: str, group: int = 1) -> str:
        # torchvision: kaiming_normal_(mode="fan_out", nonlinearity="relu"); fan_out = cout * k * k.
        std = math.sqrt(2.0 / (cout * k * k))
        w = (self.rng.standard_normal((cout, cin // group, k, k), dtype=np.float32) * np.float32(std))
        self.inits[f"{param}.weight"] = w
        p = (k - 1) // 2
        return self._node("Conv", f"{scope}/Conv", [x, f"{param}.weight"], dilations=[1, 1], group=group,
                          kernel_shape=[k, k], pads=[p, p, p, p], strides=[stride, stride])

    def bn(self, scope: str, x: str, c: int, param: str) -> str:
        self.inits[f"{param}.weight"] = self.rng.uniform(0.5, 1.5, c).astype(np.float32)
        self.inits[f"{param}.bias"] = (self.rng.standard_normal(c) * 0.1).astype(np.float32)
        self.inits[f"{param}.running_mean"] = np.zeros(c, np.float32)  # set from data by calibrate()
        self.inits[f"{param}.running_var"] = np.ones(c, np.float32)
        return self._node("BatchNormalization", f"{scope}/BatchNormalization",
                          [x] + [f"{param}.{n}" for n in ("weight", "bias", "running_mean", "running_var")],
                          epsilon=BN_EPS, momentum=0.9, training_mode=0)

    def relu(self, scope: str, x: str) -> str:
        return self._node("Relu", f"{scope}/Relu", [x])

    def relu6(self, scope: str, x: str) -> str:
        if "clip_min" not in self.inits:
            self.inits["clip_min"] = np.array(0.0, np.float32)
            self.inits["clip_max"] = np.array(6.0, np.float32)
        return self._node("Clip", f"{scope}/Clip", [x, "clip_min", "clip_max"])

    def maxpool(self, scope: str, x: str) -> str:
        return self._node("MaxPool", f"{scope}/MaxPool", [x], ceil_mode=0, dilations=[1, 1], kernel_shape=[3, 3],
                          pads=[1, 1, 1, 1], strides=[2, 2])

    def add(self, scope: str, a: str, b: str) -> str:
        return self._node("Add", f"{scope}/Add", [a, b])

    def head(self, pool_name: str, x: str, cin: int, classes: int, param: str, scope: str) -> str:
        x = self._node("GlobalAveragePool", pool_name, [x])
        x = self._node("Flatten", "/Flatten", [x], axis=1)
        # Placeholder weights; calibrate() replaces them with data-scaled ones.
        self.inits[f"{param}.weight"] = np.zeros((classes, cin), np.float32)
        self.inits[f"{param}.bias"] = np.zeros(classes, np.float32)
        self.classes = classes
        return self._node("Gemm", f"{scope}/Gemm", [x, f"{param}.weight", f"{param}.bias"], output="logits",
                          alpha=1.0, beta=1.0, transB=1)

    @property
    def fc_param(self) -> str:
        return self.nodes[-1].input[1].rsplit(".", 1)[0]


def build_resnet(kind: str, seed: int, classes: int = 1000, widths=(64, 128, 256, 512)) -> Net:
    """torchvision resnet18 (BasicBlock, [2,2,2,2]) or resnet50 (Bottleneck v1.5, [3,4,6,3]); other `widths` give the
    same layout narrower or wider (the stem has widths[0] channels)."""
    net = Net(seed)
    bottleneck = kind == "resnet50"
    layers = [3, 4, 6, 3] if bottleneck else [2, 2, 2, 2]
    expansion = 4 if bottleneck else 1
    x = net.conv("/conv1", "input", 3, widths[0], 7, 2, "conv1")
    x = net.bn("/bn1", x, widths[0], "bn1")
    x = net.relu("/relu", x)
    x = net.maxpool("/maxpool", x)
    inplanes = widths[0]
    for li, (planes, blocks, stride) in enumerate(zip(widths, layers, [1, 2, 2, 2]), start=1):
        for bi in range(blocks):
            s = stride if bi == 0 else 1
            scope, p = f"/layer{li}/layer{li}.{bi}", f"layer{li}.{bi}"
            cout = planes * expansion
            if bottleneck:
                out = net.conv(f"{scope}/conv1", x, inplanes, planes, 1, 1, f"{p}.conv1")
                out = net.relu(f"{scope}/relu", net.bn(f"{scope}/bn1", out, planes, f"{p}.bn1"))
                out = net.conv(f"{scope}/conv2", out, planes, planes, 3, s, f"{p}.conv2")
                out = net.relu(f"{scope}/relu_1", net.bn(f"{scope}/bn2", out, planes, f"{p}.bn2"))
                out = net.conv(f"{scope}/conv3", out, planes, cout, 1, 1, f"{p}.conv3")
                out = net.bn(f"{scope}/bn3", out, cout, f"{p}.bn3")
                last_relu = "relu_2"
            else:
                out = net.conv(f"{scope}/conv1", x, inplanes, planes, 3, s, f"{p}.conv1")
                out = net.relu(f"{scope}/relu", net.bn(f"{scope}/bn1", out, planes, f"{p}.bn1"))
                out = net.conv(f"{scope}/conv2", out, planes, planes, 3, 1, f"{p}.conv2")
                out = net.bn(f"{scope}/bn2", out, planes, f"{p}.bn2")
                last_relu = "relu_1"
            identity = x
            if s != 1 or inplanes != cout:
                identity = net.conv(f"{scope}/downsample/downsample.0", x, inplanes, cout, 1, s,
                                    f"{p}.downsample.0")
                identity = net.bn(f"{scope}/downsample/downsample.1", identity, cout, f"{p}.downsample.1")
            x = net.relu(f"{scope}/{last_relu}", net.add(scope, out, identity))
            inplanes = cout
    net.head("/avgpool/GlobalAveragePool", x, inplanes, classes, "fc", "/fc")
    return net


def build_mobilenetv2(seed: int, classes: int = 1000) -> Net:
    """torchvision mobilenet_v2 (width 1.0): ReLU6 as Clip(x, 0, 6), depthwise 3x3, linear bottlenecks."""
    net = Net(seed)

    def conv_bn_relu6(scope: str, param: str, x: str, cin: int, cout: int, k: int, s: int, group: int = 1) -> str:
        sub = scope.rsplit("/", 1)[1]  # e.g. "features.0" or "conv.1"
        x = net.conv(f"{scope}/{sub}.0", x, cin, cout, k, s, f"{param}.0", group)
        x = net.bn(f"{scope}/{sub}.1", x, cout, f"{param}.1")
        return net.relu6(f"{scope}/{sub}.2", x)

    settings = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
                (6, 320, 1, 1)]
    x = conv_bn_relu6("/features/features.0", "features.0", "input", 3, 32, 3, 2)
    cin, idx = 32, 1
    for t, c, n, s in settings:
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = cin * t
            scope, p = f"/features/features.{idx}", f"features.{idx}"
            h, j = x, 0
            if t != 1:
                h = conv_bn_relu6(f"{scope}/conv/conv.0", f"{p}.conv.0", h, cin, hidden, 1, 1)
                j = 1
            h = conv_bn_relu6(f"{scope}/conv/conv.{j}", f"{p}.conv.{j}", h, hidden, hidden, 3, stride, hidden)
            h = net.conv(f"{scope}/conv/conv.{j + 1}", h, hidden, c, 1, 1, f"{p}.conv.{j + 1}")
            h = net.bn(f"{scope}/conv/conv.{j + 2}", h, c, f"{p}.conv.{j + 2}")
            x = net.add(scope, x, h) if stride == 1 and cin == c else h
            cin, idx = c, idx + 1
    x = conv_bn_relu6("/features/features.18", "features.18", x, cin, 1280, 1, 1)
    net.head("/GlobalAveragePool", x, 1280, classes, "classifier.1", "/classifier/classifier.1")
    return net


def make_model(nodes, inits: dict[str, np.ndarray], classes: int, input_shape=("N", 3, "H", "W"),
               output_shape=None, doc: str = "") -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "main_graph",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(input_shape))],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, list(output_shape or ["N", classes]))],
        initializer=[numpy_helper.from_array(np.ascontiguousarray(a), name) for name, a in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="resnet-edge make_fixtures.py", producer_version="1")
    model.ir_version = IR_VERSION
    if doc:
        model.doc_string = doc
    return model


def used_inits(nodes, inits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for n in nodes:
        for i in n.input:
            if i in inits and i not in out:
                out[i] = inits[i]
    return out


def fold_batchnorm(net: Net, fold) -> tuple[list, dict[str, np.ndarray]]:
    """Folds every BatchNormalization whose name satisfies fold(name) into the Conv that produces its input, the
    way the PyTorch exporter does (Conv gains a bias; initializers renamed onnx::Conv_<n>). Computed in float64."""
    producer = {n.output[0]: n for n in net.nodes}
    uses: dict[str, int] = {}
    for n in net.nodes:
        for i in n.input:
            uses[i] = uses.get(i, 0) + 1
    folded: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # conv node name -> (W, b)
    rename: dict[str, str] = {}
    skip: set[str] = set()
    for n in net.nodes:
        if n.op_type != "BatchNormalization" or not fold(n.name):
            continue
        conv = producer[n.input[0]]
        assert conv.op_type == "Conv" and uses[n.input[0]] == 1 and len(conv.input) == 2, n.name
        gamma, beta, mean, var = (net.inits[i].astype(np.float64) for i in n.input[1:])
        scale = gamma / np.sqrt(var + BN_EPS)
        w = net.inits[conv.input[1]].astype(np.float64) * scale[:, None, None, None]
        b = beta - mean * scale
        folded[conv.name] = (w.astype(np.float32), b.astype(np.float32))
        rename[n.output[0]] = conv.output[0]
        skip.add(n.name)
    nodes, inits, counter = [], {}, 193
    for n in net.nodes:
        if n.name in skip:
            continue
        new = onnx.NodeProto()
        new.CopyFrom(n)
        for k, i in enumerate(new.input):
            if i in rename:
                new.input[k] = rename[i]
        if n.name in folded:
            w, b = folded[n.name]
            wn, bn = f"onnx::Conv_{counter}", f"onnx::Conv_{counter + 1}"
            counter += 3
            inits[wn], inits[bn] = w, b
            new.input[1] = wn
            new.input.append(bn)
        nodes.append(new)
    for name, a in used_inits(nodes, net.inits).items():
        inits.setdefault(name, a)
    return nodes, used_inits(nodes, inits)


# ----------------------------------------------------------------------------------------------------------------
# Data-driven calibration with onnxruntime.


def ort_session(model_or_path, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ORT_LEVEL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    src = model_or_path.SerializeToString() if isinstance(model_or_path, onnx.ModelProto) else str(model_or_path)
    return ort.InferenceSession(src, so, providers=["CPUExecutionProvider"])


class SubgraphRunner:
    """Runs the parts of a graph needed for some tensors, starting from tensors already computed (cached)."""

    def __init__(self, net: Net, x: np.ndarray, threads: int):
        self.net, self.threads = net, threads
        self.producer = {o: n for n in net.nodes for o in n.output}
        self.consumers: dict[str, list[str]] = {}
        for n in net.nodes:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n.name)
        self.cache: dict[str, np.ndarray] = {"input": x}
        self.done: set[str] = set()

    def compute(self, targets: list[str]):
        need: list[onnx.NodeProto] = []
        seen: set[str] = set()
        inputs: set[str] = set()
        stack = [t for t in targets if t not in self.cache]
        while stack:
            t = stack.pop()
            if t in self.cache:
                inputs.add(t)
                continue
            node = self.producer[t]
            if node.name in seen:
                continue
            seen.add(node.name)
            need.append(node)
            stack.extend(i for i in node.input if i and i not in self.net.inits)
        if not need:
            return
        order = {n.name: k for k, n in enumerate(self.net.nodes)}
        need.sort(key=lambda n: order[n.name])
        outputs = [o for n in need for o in n.output]
        graph = helper.make_graph(
            need, "calibration",
            [helper.make_tensor_value_info(i, TensorProto.FLOAT, list(self.cache[i].shape)) for i in sorted(inputs)],
            [helper.make_tensor_value_info(o, TensorProto.FLOAT, None) for o in outputs],
            initializer=[numpy_helper.from_array(a, k) for k, a in used_inits(need, self.net.inits).items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        results = ort_session(model, self.threads).run(outputs, {i: self.cache[i] for i in inputs})
        self.cache.update(zip(outputs, results))
        self.done.update(n.name for n in need)
        for name in list(self.cache):  # drop tensors every consumer of which has run
            if name not in targets and all(c in self.done for c in self.consumers.get(name, ["?"])):
                del self.cache[name]


def calibrate(net: Net, x: np.ndarray, eval_inputs: list[np.ndarray], threads: int, logit_std: float = 4.0,
              margin: float = 0.02) -> dict:
    """Makes the random network's numbers realistic, from data:
    1. every BatchNorm's running mean/var is set to the statistics of its input on x (NCHW float32, the calibration
       photos), layer by layer in topological order (a BatchNorm is measured once all BatchNorms upstream are set);
    2. the classifier is logits = W ((f - m) / s) + b, W ~ N(0, 1) scaled so that the logits' std on x is logit_std,
       f the pooled features, m and s the per-channel mean and std of the last feature map on x;
    3. near-ties are removed: on every input the fixtures use (eval_inputs), the network's own top-1 must lead its
       top-2 by margin * max|logit|; where it does not, the two classes' rows get a small opposite nudge along that
       input's centred feature vector (minimal-norm), repeated until every input has the margin."""
    runner = SubgraphRunner(net, x, threads)
    bns = [n for n in net.nodes if n.op_type == "BatchNormalization"]
    upstream: dict[str, set[str]] = {}
    for n in net.nodes:  # BatchNorm ancestors of each node (nodes are topologically ordered)
        anc: set[str] = set()
        for i in n.input:
            p = runner.producer.get(i)
            if p is not None:
                anc |= upstream[p.name]
                if p.op_type == "BatchNormalization":
                    anc.add(p.name)
        upstream[n.name] = anc
    set_bns: set[str] = set()
    waves = 0
    while len(set_bns) < len(bns):
        ready = [b for b in bns if b.name not in set_bns and upstream[b.name] <= set_bns]
        runner.compute([b.input[0] for b in ready])
        for b in ready:
            a = runner.cache[b.input[0]].astype(np.float64)
            net.inits[b.input[3]] = a.mean(axis=(0, 2, 3)).astype(np.float32)
            net.inits[b.input[4]] = a.var(axis=(0, 2, 3)).astype(np.float32)
            set_bns.add(b.name)
        waves += 1

    gemm = net.nodes[-1]
    fmap_name = net.nodes[-3].input[0]  # GlobalAveragePool's input
    runner.compute([fmap_name])
    fmap = runner.cache[fmap_name].astype(np.float64)
    m = fmap.mean(axis=(0, 2, 3))
    s = fmap.std(axis=(0, 2, 3)) + 1e-3
    feats = fmap.mean(axis=(2, 3))
    w = net.rng.standard_normal((net.classes, fmap.shape[1])) / s[None, :]
    w *= logit_std / ((feats - m) @ w.T).std()
    b = -w @ m + net.rng.standard_normal(net.classes) * 0.1
    w_random = w.copy()

    # Pooled features of every input the fixtures use (the graph up to Flatten, dynamic H and W).
    feat_nodes = net.nodes[:-1]
    graph = helper.make_graph(
        feat_nodes, "features", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info(feat_nodes[-1].output[0], TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(a, k) for k, a in used_inits(feat_nodes, net.inits).items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    sess = ort_session(model, threads)
    f = np.concatenate([sess.run(None, {"input": xi[k:k + 6]})[0] for xi in eval_inputs
                        for k in range(0, len(xi), 6)]).astype(np.float64)
    fc = f - m
    rows = np.arange(len(f))
    nudges = 0
    for _ in range(20 * len(f)):
        logits = f @ w.T + b
        order = np.argsort(logits, axis=1)
        c1, c2 = order[:, -1], order[:, -2]
        gap = logits[rows, c1] - logits[rows, c2]
        need = margin * np.abs(logits).max(axis=1)
        if (gap >= need).all():
            break
        j = int(np.argmin(gap / need))
        step = (1.25 * need[j] - gap[j]) / 2 * fc[j] / (fc[j] @ fc[j])
        w[c1[j]] += step
        b[c1[j]] -= step @ m
        w[c2[j]] -= step
        b[c2[j]] += step @ m
        nudges += 1
    else:
        raise RuntimeError("could not separate the top-1 logits")
    net.inits[gemm.input[1]] = w.astype(np.float32)
    net.inits[gemm.input[2]] = b.astype(np.float32)
    return {"waves": waves, "batchnorms": len(bns), "last_feature_map_abs_max": float(np.abs(fmap).max()),
            "last_feature_map_mean": float(fmap.mean()), "margin_nudges": nudges,
            "fc_nudge_relative_norm": float(np.linalg.norm(w - w_random) / np.linalg.norm(w_random))}


# ----------------------------------------------------------------------------------------------------------------
# Analysis helpers.


def macs(model: onnx.ModelProto, h: int, w: int) -> dict[str, int]:
    """Multiply-accumulates of Conv and Gemm at batch 1 and the given input size, from onnx shape inference."""
    m = onnx.ModelProto()
    m.CopyFrom(model)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    for d, v in zip(dims, [1, 3, h, w]):
        d.Clear()
        d.dim_value = v
    m = onnx.shape_inference.infer_shapes(m, strict_mode=True)
    shapes = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
              for v in list(m.graph.value_info) + list(m.graph.output) + list(m.graph.input)}
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    total = {"conv": 0, "gemm": 0}
    for n in m.graph.node:
        if n.op_type == "Conv":
            wshape = inits[n.input[1]]
            total["conv"] += int(np.prod(shapes[n.output[0]])) * int(np.prod(wshape[1:]))
        elif n.op_type == "Gemm":
            wshape = inits[n.input[1]]
            total["gemm"] += int(np.prod(shapes[n.output[0]])) * (wshape[1])
    return total


def top1_gap(logits: np.ndarray) -> np.ndarray:
    """(top1 - top2) / max|logit| per row."""
    s = np.sort(logits, axis=1)
    return (s[:, -1] - s[:, -2]) / np.abs(logits).max(axis=1)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------------------------
# Bad models.


def small_stem(prefix_nodes: list, inits: dict, conv_name="/conv1/Conv", cin=3, cout=8):
    rng = np.random.default_rng(7)
    inits["conv1.weight"] = (rng.standard_normal((cout, cin, 3, 3)) * 0.2).astype(np.float32)
    prefix_nodes.append(helper.make_node("Conv", ["input", "conv1.weight"], ["c1"], name=conv_name,
                                         kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
    prefix_nodes.append(helper.make_node("Relu", ["c1"], ["r1"], name="/relu/Relu"))
    return "r1"


def classifier_tail(nodes: list, inits: dict, x: str, cin: int, classes: int = 10):
    rng = np.random.default_rng(8)
    inits["fc.weight"] = (rng.standard_normal((classes, cin)) * 0.3).astype(np.float32)
    inits["fc.bias"] = np.zeros(classes, np.float32)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="/avgpool/GlobalAveragePool"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="/Flatten", axis=1))
    nodes.append(helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="/fc/Gemm",
                                  alpha=1.0, beta=1.0, transB=1))


def bad_models() -> dict[str, tuple[onnx.ModelProto, list[str], bool]]:
    """name -> (model, expected message substrings, meant to be valid)."""
    shape = [1, 3, 16, 16]
    out: dict[str, tuple[onnx.ModelProto, list[str], bool]] = {}

    nodes, inits = [], {}
    x = small_stem(nodes, inits)
    inits["upsample_scales"] = np.array([1, 1, 2, 2], np.float32)
    nodes.append(helper.make_node("Resize", [x, "", "upsample_scales"], ["up"], name="upsample_head",
                                  mode="nearest"))
    classifier_tail(nodes, inits, "up", 8)
    out["unsupported-op"] = (make_model(nodes, inits, 10, shape, [1, 10]), ["Resize", "upsample_head"], True)

    nodes, inits = [], {}
    x = small_stem(nodes, inits)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="/avgpool/GlobalAveragePool"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="/Flatten", axis=1))
    # A = flat [1, 8] with transA=1 is read as [K=1, M=8]; B [10, 1] with transB=1 -> Y [8, 10]. Valid ONNX.
    inits["fc.weight"] = np.full((10, 1), 0.5, np.float32)
    inits["fc.bias"] = np.zeros(10, np.float32)
    nodes.append(helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["logits"], name="fc_transposed",
                                  alpha=1.0, beta=1.0, transA=1, transB=1))
    out["unsupported-attribute"] = (make_model(nodes, inits, 10, shape, [8, 10]),
                                    ["Gemm", "fc_transposed", "transA"], True)

    nodes, inits = [], {}
    nodes.append(helper.make_node("Conv", ["input", "conv1.weight"], ["c1"], name="conv_missing",
                                  kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
    nodes.append(helper.make_node("Relu", ["c1"], ["r1"], name="/relu/Relu"))
    classifier_tail(nodes, inits, "r1", 8)
    out["missing-initializer"] = (make_model(nodes, inits, 10, shape, [1, 10]), ["conv1.weight", "conv_missing"],
                                  False)

    nodes, inits = [], {}
    x = small_stem(nodes, inits)
    nodes.append(helper.make_node("Relu", ["ghost"], ["g"], name="relu_ghost"))
    nodes.append(helper.make_node("Add", [x, "g"], ["sum"], name="/Add"))
    classifier_tail(nodes, inits, "sum", 8)
    out["dangling-input"] = (make_model(nodes, inits, 10, shape, [1, 10]), ["ghost", "relu_ghost"], False)

    nodes, inits = [], {}
    x = small_stem(nodes, inits)
    classifier_tail(nodes, inits, x, 8)
    out["external-data"] = (make_model(nodes, inits, 10, shape, [1, 10]), ["external"], True)

    nodes, inits = [], {}
    rng = np.random.default_rng(9)
    inits["conv1.weight"] = (rng.standard_normal((8, 4, 3, 3)) * 0.2).astype(np.float32)
    nodes.append(helper.make_node("Conv", ["input", "conv1.weight"], ["c1"], name="conv_bad_channels",
                                  kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]))
    nodes.append(helper.make_node("Relu", ["c1"], ["r1"], name="/relu/Relu"))
    classifier_tail(nodes, inits, "r1", 8)
    out["conv-channel-mismatch"] = (make_model(nodes, inits, 10, shape, [1, 10]), ["conv_bad_channels"], False)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Main.

# (name, family, BatchNorms folded: True / False / "features.10-18" (mobilenet_fold), cases as (preset, batch))
SYNTHETIC = [
    ("resnet18-bn", "resnet18", False, [("imagenet-224", 1), ("imagenet-224", 4), ("imagenet-192x160", 1)]),
    ("resnet18", "resnet18", True, [("imagenet-224", 1), ("imagenet-224", 4), ("imagenet-192x160", 1)]),
    ("resnet50", "resnet50", True, [("imagenet-224", 1)]),
    ("mobilenetv2", "mobilenetv2", "features.10-18", [("imagenet-224", 1), ("imagenet-224", 4)]),
]
REFERENCE = [
    ("reference", "resnet18-fashion-mnist.onnx", True, [("fashion-mnist", 1), ("fashion-mnist", 4)]),
    ("reference-bn", "resnet18-fashion-mnist-bn.onnx", False, [("fashion-mnist", 1), ("fashion-mnist", 4)]),
]


# (name, source model, preset of the calibration photos, activation type): onnxruntime quantize_static QDQ models.
QUANTIZED = [
    ("resnet18-qdq-u8", "resnet18", "imagenet-224", "QUInt8"),
    ("resnet18-qdq-s8", "resnet18", "imagenet-224", "QInt8"),
    ("reference-qdq-u8", "reference", "fashion-mnist", "QUInt8"),
]


def mobilenet_fold(name: str) -> bool:
    """MobileNetV2: BatchNorm kept as nodes in features.0-9, folded into the convs in features.10-18."""
    idx = int(name.split("/")[2].split(".")[1])
    return idx >= 10


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max over rows of max|a - b| / max|b|."""
    return float((np.abs(a - b).max(axis=1) / np.abs(b).max(axis=1)).max())


def default_paths():
    env_out = os.environ.get("RESNET_EDGE_FIXTURES") or ""
    env_shared = os.environ.get("RESNET_EDGE_SHARED") or ""
    shared = Path(env_shared) if env_shared else REPO.parent / "shared"
    out = Path(env_out) if env_out else REPO / ".fixtures"
    return out, shared / "testdata" / "images", shared


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (MNIST format, gzip-compressed) as a uint8 array of its declared shape."""
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist_inputs(images: np.ndarray, preset: dict) -> np.ndarray:
    """The reference model's preprocessing of 28x28 gray images, as preprocess() does for photos: /255, normalise,
    pad with the value 0 maps to, replicate to 3 channels. [N, 3, 32, 32] float32."""
    mean, std = np.float32(preset["mean"][0]), np.float32(preset["std"][0])
    x = (images.astype(np.float32) / np.float32(255) - mean) / std
    pad = preset["pad"]
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad)), constant_values=(np.float32(0) - mean) / std)
    return np.ascontiguousarray(np.repeat(x[:, None], preset["channels"], axis=1), dtype=np.float32)


def input_digest(images: list[Path], shared: Path) -> str:
    h = hashlib.sha256()
    h.update(SCRIPT.read_bytes())
    h.update(f"onnx {onnx.__version__} ort {ort.__version__} numpy {np.__version__} pillow {PIL.__version__}".encode())
    for p in images:
        h.update(p.name.encode())
        h.update(sha256_file(p).encode())
    for _, fname, _, _ in REFERENCE:
        h.update(sha256_file(shared / "models" / fname).encode())
    return h.hexdigest()


def up_to_date(out: Path, digest: str) -> bool:
    try:
        manifest = json.loads((out / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    if manifest.get("inputs_digest") != digest:
        return False
    files = [m["file"] for m in manifest["models"]] + [c["output"] for c in manifest["cases"]]
    files += [b["file"] for b in manifest["bad"].values()]
    files += [manifest["fashion_mnist"]["logits"]] if "fashion_mnist" in manifest else [""]
    files += [c["output"] for c in manifest.get("quantized_cases", [None])] if "quantized_cases" in manifest else [""]
    for per in manifest["preprocessed"].values():
        for e in per.values():
            files += [e["uint8"], e["float"]]
    return all((out / f).exists() for f in files)


def main() -> int:
    d_out, d_images, d_shared = default_paths()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=d_out, help=f"output directory (default {d_out})")
    ap.add_argument("--images", type=Path, default=d_images, help=f"photos (default {d_images})")
    ap.add_argument("--shared", type=Path, default=d_shared, help=f"shared data, for models/ (default {d_shared})")
    ap.add_argument("--force", action="store_true", help="rebuild even when the fixtures are up to date")
    ap.add_argument("--threads", type=int, default=default_threads(), help="onnxruntime threads")
    args = ap.parse_args()
    out, shared = args.out.resolve(), args.shared.resolve()
    timer = Timer()

    images = sorted((p for p in args.images.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS),
                    key=lambda p: p.name)
    if not images:
        print(f"error: no .jpg/.jpeg/.png images in {args.images}", file=sys.stderr)
        return 1
    digest = input_digest(images, shared)
    if not args.force and up_to_date(out, digest):
        print(f"fixtures in {out} are up to date (inputs digest {digest[:12]}); --force rebuilds them")
        return 0
    print(f"making fixtures in {out} from {len(images)} images ({args.threads} onnxruntime threads)")

    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)  # absent until everything is written
    for d in MANAGED:
        shutil.rmtree(out / d, ignore_errors=True)
        (out / d).mkdir()
    names = [p.name for p in images]
    manifest: dict = {"version": MANIFEST_VERSION, "images": names, "presets": PRESETS, "preprocessed": {},
                      "models": [], "cases": [], "bad": {}}

    # Preprocessing.
    inputs: dict[str, dict[str, np.ndarray]] = {}
    for preset_name, preset in PRESETS.items():
        (out / "pre" / preset_name).mkdir()
        per, inputs[preset_name] = {}, {}
        for p in images:
            u8, f = preprocess(p, preset)
            stem = p.stem
            u8.tofile(out / "pre" / preset_name / f"{stem}.u8")
            f.astype("<f4").tofile(out / "pre" / preset_name / f"{stem}.f32")
            per[p.name] = {"uint8": f"pre/{preset_name}/{stem}.u8", "uint8_shape": list(u8.shape),
                           "float": f"pre/{preset_name}/{stem}.f32", "float_shape": list(f.shape)}
            inputs[preset_name][p.name] = f
        manifest["preprocessed"][preset_name] = per
    timer.mark(f"preprocessed {len(images)} images x {len(PRESETS)} presets")

    # Synthetic models: build in BatchNorm form, calibrate on data, emit folded / unfolded variants.
    calib = np.concatenate([inputs["imagenet-224"][n] for n in names[::CALIBRATION_STRIDE]])
    built: dict[str, Net] = {}
    model_paths: dict[str, Path] = {}
    stats: dict = {"calibration_images": names[::CALIBRATION_STRIDE], "calibration": {}, "models": {}}
    for name, family, fold, _ in SYNTHETIC:
        if family not in built:
            net = build_mobilenetv2(seed=2) if family == "mobilenetv2" else \
                build_resnet(family, seed=18 if family == "resnet18" else 50)
            presets_used = sorted({p for n, fam, _, cases in SYNTHETIC if fam == family for p, _ in cases})
            info = calibrate(net, calib, [np.concatenate(list(inputs[p].values())) for p in presets_used],
                             args.threads)
            built[family] = net
            stats["calibration"][family] = info
            timer.mark(f"built and calibrated {family} ({info['batchnorms']} BatchNorms in {info['waves']} waves, "
                       f"{info['margin_nudges']} margin nudges, |dW|/|W| {info['fc_nudge_relative_norm']:.4f})")
        net = built[family]
        if fold is False:
            nodes, inits = net.nodes, used_inits(net.nodes, net.inits)
        else:
            nodes, inits = fold_batchnorm(net, (lambda n: True) if fold is True else mobilenet_fold)
        doc = (f"resnet-edge test fixture: torchvision {family} layout with random weights (seeded), BatchNorm "
               f"statistics measured on photos; BatchNorm {'folded' if fold is True else 'as nodes' if fold is False else 'folded in features.10-18, nodes elsewhere'}.")
        model = make_model(nodes, inits, net.classes, doc=doc)
        path = out / "models" / f"{name}.onnx"
        onnx.save(model, path)
        onnx.checker.check_model(str(path), full_check=True)
        model_paths[name] = path
        m224 = macs(model, 224, 224)
        stats["models"][name] = {"macs_224": m224, "gmac_224": round((m224["conv"] + m224["gemm"]) / 1e9, 4),
                                 "bytes": path.stat().st_size,
                                 "ops": sorted({n.op_type for n in model.graph.node})}
        manifest["models"].append({"name": name, "file": f"models/{name}.onnx", "family": family,
                                   "bn_folded": fold is True, "classes": net.classes})
        timer.mark(f"wrote and checked models/{name}.onnx ({path.stat().st_size / 1e6:.1f} MB, "
                   f"{stats['models'][name]['gmac_224']} GMAC at 224x224)")

    # Reference models (trained; not generated): relative symlinks into models/.
    ref_json = {}
    try:
        ref_json = json.loads((shared / "models" / "reference.json").read_text()).get("sha256", {})
    except (OSError, ValueError):
        pass
    for name, fname, folded, _ in REFERENCE:
        src = shared / "models" / fname
        if not src.exists():
            print(f"error: reference model {src} missing", file=sys.stderr)
            return 1
        sha = sha256_file(src)
        if fname in ref_json and ref_json[fname] != sha:
            print(f"warning: {src} sha256 {sha} differs from reference.json", file=sys.stderr)
        link = out / "models" / f"{name}.onnx"
        common = os.path.commonpath([src, link.parent])
        link.symlink_to(os.path.relpath(src, link.parent) if common != os.path.sep else src)
        model_paths[name] = link
        onnx.checker.check_model(str(link), full_check=True)
        model = onnx.load(str(link))
        m = macs(model, 32, 32)
        stats["models"][name] = {"macs_32": m, "gmac_32": round((m["conv"] + m["gemm"]) / 1e9, 4),
                                 "sha256": sha, "ops": sorted({n.op_type for n in model.graph.node})}
        classes = model.graph.output[0].type.tensor_type.shape.dim[1].dim_value
        manifest["models"].append({"name": name, "file": f"models/{name}.onnx", "family": "resnet18",
                                   "bn_folded": folded, "classes": classes})
    timer.mark("linked and checked the reference models")

    # Reference outputs.
    logits_by: dict[tuple[str, str, int], np.ndarray] = {}  # (model, preset, batch) -> all rows in image order
    for name, _, _, cases in SYNTHETIC + REFERENCE:
        sess = ort_session(model_paths[name], args.threads)
        (out / "out" / name).mkdir()
        t0 = time.perf_counter()
        for preset_name, batch in cases:
            rows = []
            for gi, start in enumerate(range(0, len(names), batch)):
                group = names[start:start + batch]
                x = np.concatenate([inputs[preset_name][n] for n in group])
                (y,) = sess.run(["logits"], {"input": x})
                y = np.ascontiguousarray(y, dtype=np.float32)
                rel = f"out/{name}/{preset_name}-b{batch}-{gi:03d}.f32"
                y.astype("<f4").tofile(out / rel)
                manifest["cases"].append({"model": name, "preset": preset_name, "batch": len(group),
                                          "images": group, "output": rel, "output_shape": list(y.shape)})
                rows.append(y)
            logits_by[(name, preset_name, batch)] = np.concatenate(rows)
        timer.mark(f"onnxruntime reference outputs for {name} ({time.perf_counter() - t0:.2f} s of inference)")

    # INT8 models as onnxruntime's quantize_static makes them (QDQ, per-channel symmetric S8 weights; U8 and S8
    # activations, MinMax calibration on the photos), with onnxruntime's INT8 outputs: the oracle of the INT8 path.
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)

    class Reader(CalibrationDataReader):
        def __init__(self, batches):
            self.batches = iter(batches)

        def get_next(self):
            x = next(self.batches, None)
            return None if x is None else {"input": x}

    manifest["quantized_cases"] = []
    fm_train = read_idx(Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")) / "train-images-idx3-ubyte.gz")
    for qname, source, preset_name, activation_type in QUANTIZED:
        calibration = [inputs[preset_name][n] for n in names]
        if preset_name == "fashion-mnist":
            calibration = [x[None] for x in fashion_mnist_inputs(fm_train[:1000], PRESETS["fashion-mnist"])]
        path = out / "models" / f"{qname}.onnx"
        quantize_static(str(model_paths[source]), str(path), Reader(calibration), quant_format=QuantFormat.QDQ,
                        per_channel=True, activation_type=getattr(QuantType, activation_type), weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, extra_options={"WeightSymmetric": True})
        model_paths[qname] = path
        manifest["models"].append({"name": qname, "file": f"models/{qname}.onnx", "family": f"{source}-qdq",
                                   "bn_folded": True, "classes": 1000 if preset_name != "fashion-mnist" else 10})
        sess = ort_session(path, args.threads)
        (out / "out" / qname).mkdir()
        for i, n in enumerate(names):
            (y,) = sess.run(["logits"], {"input": inputs[preset_name][n]})
            rel = f"out/{qname}/{preset_name}-b1-{i:03d}.f32"
            np.ascontiguousarray(y, dtype="<f4").tofile(out / rel)
            manifest["quantized_cases"].append({"model": qname, "preset": preset_name, "batch": 1, "images": [n],
                                                "output": rel, "output_shape": list(y.shape)})
        timer.mark(f"quantize_static {qname} ({activation_type}) and onnxruntime INT8 outputs")

    # The reference model on the whole Fashion-MNIST test set: onnxruntime's logits per image, so the Swift
    # tests can assert per-image agreement (and check any prefix of the set, e.g. under emulation).
    fm_dir = Path(os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist"))
    fm_images, fm_labels = read_idx(fm_dir / "t10k-images-idx3-ubyte.gz"), read_idx(fm_dir / "t10k-labels-idx1-ubyte.gz")
    fm_inputs = fashion_mnist_inputs(fm_images, PRESETS["fashion-mnist"])
    sess = ort_session(model_paths["reference"], args.threads)
    fm_logits = np.concatenate([sess.run(["logits"], {"input": fm_inputs[k:k + 500]})[0] for k in range(0, len(fm_inputs), 500)])
    fm_logits.astype("<f4").tofile(out / "fmnist" / "reference-t10k.f32")
    manifest["fashion_mnist"] = {"model": "reference", "split": "t10k", "images": int(len(fm_labels)),
                                 "logits": "fmnist/reference-t10k.f32",
                                 "top1": float((fm_logits.argmax(1) == fm_labels).mean())}
    timer.mark(f"onnxruntime on the {len(fm_labels)} Fashion-MNIST test images (top-1 {manifest['fashion_mnist']['top1']:.4f})")

    # Bad models.
    for bad_name, (model, expect, valid) in bad_models().items():
        path = out / "bad" / f"{bad_name}.onnx"
        if bad_name == "external-data":
            onnx.save(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                      location=f"{bad_name}.onnx.data", size_threshold=0)
            os.chmod(out / "bad" / f"{bad_name}.onnx.data", 0o644)
        else:
            onnx.save(model, path)
        if valid:
            onnx.checker.check_model(str(path), full_check=True)
            ort_session(path, 1)  # onnxruntime accepts it too
        manifest["bad"][bad_name] = {"file": f"bad/{bad_name}.onnx", "expect": expect}
    timer.mark(f"wrote {len(manifest['bad'])} bad models")

    # Sanity figures.
    checks: dict = {}
    a = np.concatenate([logits_by[("resnet18", p, b)] for p, b in SYNTHETIC[1][3]])
    b_ = np.concatenate([logits_by[("resnet18-bn", p, b)] for p, b in SYNTHETIC[0][3]])
    checks["resnet18_folded_vs_bn_max_rel_diff"] = rel_diff(a, b_)
    checks["resnet18_folded_vs_bn_top1_agree"] = bool((a.argmax(1) == b_.argmax(1)).all())
    # The same without onnxruntime's own BatchNorm fusion: resnet18-bn evaluated node by node (ORT_DISABLE_ALL).
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = args.threads
    plain = ort.InferenceSession(str(model_paths["resnet18-bn"]), so, providers=["CPUExecutionProvider"])
    x224 = np.concatenate(list(inputs["imagenet-224"].values()))
    y_plain = np.concatenate([plain.run(["logits"], {"input": x224[k:k + 1]})[0] for k in range(len(x224))])
    checks["resnet18_folded_vs_bn_unoptimized_max_rel_diff"] = rel_diff(logits_by[("resnet18", "imagenet-224", 1)],
                                                                         y_plain)
    batch_diff = 0.0
    for (name, preset_name, batch), y in logits_by.items():
        if batch > 1:
            batch_diff = max(batch_diff, rel_diff(y, logits_by[(name, preset_name, 1)]))
    checks["batch_vs_single_max_rel_diff"] = batch_diff
    per_model = {}
    for name, _, _, cases in SYNTHETIC + REFERENCE:
        ys = [logits_by[(name, p, b)] for p, b in cases]
        allrows = np.concatenate(ys)
        gaps = np.concatenate([top1_gap(y) for y in ys])
        per_model[name] = {"logit_std": float(allrows.std(axis=1).mean()),
                           "logit_abs_max": float(np.abs(allrows).max()),
                           "min_top1_gap_rel": float(gaps.min()),
                           "median_top1_gap_rel": float(np.median(gaps)),
                           "distinct_top1_224_or_fmnist": int(len(set(ys[0].argmax(1).tolist())))}
    checks["per_model"] = per_model
    synthetic_gaps = [per_model[n]["min_top1_gap_rel"] for n, *_ in SYNTHETIC]
    checks["min_top1_gap_rel_synthetic"] = min(synthetic_gaps)
    checks["min_top1_gap_rel_all"] = min(v["min_top1_gap_rel"] for v in per_model.values())
    timer.mark("computed sanity figures")

    manifest["onnxruntime_version"] = ort.__version__
    manifest["onnx_version"] = onnx.__version__
    manifest["numpy_version"] = np.__version__
    manifest["ort_graph_optimization_level"] = ORT_LEVEL_NAME
    manifest["inputs_digest"] = digest
    manifest["stats"] = stats
    manifest["checks"] = checks
    manifest["timing_seconds"] = {k: round(v, 3) for k, v in timer.phases}
    manifest["timing_seconds"]["total"] = round(timer.total(), 3)
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    tmp.replace(out / "manifest.json")

    print("\nMACs (conv + fc):")
    for name, s in stats["models"].items():
        key = "gmac_224" if "gmac_224" in s else "gmac_32"
        print(f"  {name:14s} {s[key]:7.4f} GMAC at {'224x224' if key == 'gmac_224' else '32x32'}")
    print("logits:")
    for name, v in per_model.items():
        print(f"  {name:14s} std {v['logit_std']:6.3f}  max|logit| {v['logit_abs_max']:7.3f}  "
              f"min top1-top2 gap / max|logit| {v['min_top1_gap_rel']:.4f} (median {v['median_top1_gap_rel']:.4f}), "
              f"{v['distinct_top1_224_or_fmnist']} distinct top-1 over {len(names)} images")
    print(f"resnet18 folded vs BatchNorm nodes (max over rows of max|diff| / max|logit|): "
          f"{checks['resnet18_folded_vs_bn_max_rel_diff']:.2e}, top-1 agree: {checks['resnet18_folded_vs_bn_top1_agree']}; "
          f"vs resnet18-bn under ORT_DISABLE_ALL: {checks['resnet18_folded_vs_bn_unoptimized_max_rel_diff']:.2e}")
    print(f"batch 4 vs batch 1: max |diff| / max|logit| = {batch_diff:.2e}")
    size = sum(f.stat().st_size for d in MANAGED for f in (out / d).rglob("*") if f.is_file() and not f.is_symlink())
    print(f"\n{len(manifest['cases'])} cases, {len(manifest['models'])} models, {len(manifest['bad'])} bad models; "
          f"{size / 1e6:.1f} MB written to {out}")
    print(f"total {timer.total():.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
