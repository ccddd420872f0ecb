#!/usr/bin/env python3
"""Builds single-operator ONNX models and onnxruntime's outputs for them: an independent oracle per operator.

    python Tests/Fixtures/make_operator_fixtures.py [--out .fixtures/operators]

The default output directory is .fixtures/operators at the repository root (two directories above this file),
wherever the script is run from. Every case is one small ONNX model exercising one operator/attribute combination
that the importer (Sources/EdgeONNX/GraphBuilder.swift) supports, a random input and onnxruntime's output for it
(CPUExecutionProvider, ORT_DISABLE_ALL, so each operator is computed as written). The cases and the manifest
format are described in Tests/Fixtures/OPERATORS.md.

Uses only onnx, onnxruntime and numpy (pinned in Tests/Fixtures/requirements.txt). Idempotent: fixed seeds
(derived from each case's name, so adding a case changes no other), byte-identical files on every run; files of
cases that a previous run listed and this one does not are removed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

SCRIPT = Path(__file__).resolve()
REPO = SCRIPT.parents[2]
DEFAULT_OUT = REPO / ".fixtures" / "operators"
MANIFEST_VERSION = 1
OPSET = 17
IR_VERSION = 8  # what torch.onnx.export writes for opset 17; also valid for the opset-10 case
SEED = 20240917
INPUT_RANGE = 2.0  # inputs are uniform in [-INPUT_RANGE, INPUT_RANGE]


# ----------------------------------------------------------------------------------------------------------------
# Model building


def case_seed(name: str, stream: int) -> int:
    """A seed that depends only on the case's name (stable across Python runs, unlike hash())."""
    return (SEED * 1_000_003 + zlib.crc32(name.encode()) * 7 + stream) % (2**63)


class Builder:
    """Collects the nodes and initializers of one case's graph; weights are N(0, 1/fan_in), float32."""

    def __init__(self, name: str):
        self.rng = np.random.default_rng(case_seed(name, 1))
        self.nodes: list[onnx.NodeProto] = []
        self.inits: dict[str, np.ndarray] = {}
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter}"

    def weight(self, prefix: str, shape, fan_in: int) -> str:
        name = self.fresh(prefix)
        self.inits[name] = (self.rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
        return name

    def const(self, prefix: str, value: np.ndarray) -> str:
        name = self.fresh(prefix)
        self.inits[name] = np.ascontiguousarray(value)
        return name

    def node(self, op: str, inputs: list[str], out: str | None = None, outputs: list[str] | None = None, **attrs) -> str:
        out = out or self.fresh(op.lower())
        self.nodes.append(helper.make_node(op, inputs, outputs or [out], name=self.fresh(f"/{op}"), **attrs))
        return out

    def conv(self, x: str, cin: int, cout: int, kernel, *, group: int = 1, bias: bool = True,
             out: str | None = None, **attrs) -> str:
        kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
        fan_in = cin // group * kh * kw
        inputs = [x, self.weight("conv.weight", (cout, cin // group, kh, kw), fan_in)]
        if bias:
            inputs.append(self.weight("conv.bias", (cout,), fan_in))
        if group != 1:
            attrs["group"] = group
        return self.node("Conv", inputs, out, kernel_shape=[kh, kw], **attrs)

    def bn(self, x: str, channels: int, *, out: str | None = None, epsilon: float | None = None) -> str:
        """BatchNormalization with non-trivial statistics: gamma ~ N(1, 0.3), beta, mean ~ N(0, 0.5), var in [0.3, 2]."""
        r = self.rng
        gamma = self.const("bn.weight", (1 + 0.3 * r.standard_normal(channels)).astype(np.float32))
        beta = self.const("bn.bias", (0.5 * r.standard_normal(channels)).astype(np.float32))
        mean = self.const("bn.running_mean", (0.5 * r.standard_normal(channels)).astype(np.float32))
        var = self.const("bn.running_var", r.uniform(0.3, 2.0, channels).astype(np.float32))
        attrs = {} if epsilon is None else {"epsilon": epsilon}
        return self.node("BatchNormalization", [x, gamma, beta, mean, var], out, **attrs)

    def gemm(self, x: str, k: int, n: int, *, out: str | None = None, trans_b: bool = True) -> str:
        w = self.weight("fc.weight", (n, k) if trans_b else (k, n), k)
        b = self.weight("fc.bias", (n,), k)
        return self.node("Gemm", [x, w, b], out, **({"transB": 1} if trans_b else {}))


@dataclass
class Alternative:
    """A variant of a case's model (one attribute of its first `op` node changed) that must (not) match it.

    Proves that the case discriminates what it claims to (SAME_UPPER vs SAME_LOWER, ceil_mode, ...), and checks
    auto_pad against explicit pads worked out by hand from the ONNX spec."""
    why: str
    op: str
    attrs: dict
    same: bool


@dataclass
class Case:
    name: str
    description: str
    input_shape: list[int]
    build: Callable[[Builder], None]  # adds nodes; the graph input is "input", the last node must write "output"
    opset: int = OPSET
    batch_symbolic: bool = True  # declare dim 0 of the input as "N"
    alternatives: list[Alternative] = field(default_factory=list)


def make_model(case: Case) -> onnx.ModelProto:
    b = Builder(case.name)
    case.build(b)
    dims: list = list(case.input_shape)
    if case.batch_symbolic:
        dims[0] = "N"
    graph = helper.make_graph(
        b.nodes, case.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(a, n) for n, a in b.inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", case.opset)],
                              producer_name="resnet-edge make_operator_fixtures.py", producer_version="1")
    model.ir_version = IR_VERSION
    model.doc_string = case.description
    # Declare the output's type and shape as onnx's shape inference works them out (as exporters do).
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    model.graph.output[0].CopyFrom(inferred.graph.output[0])
    return model


def declared_shape_matches(model: onnx.ModelProto, shape: tuple) -> bool:
    dims = model.graph.output[0].type.tensor_type.shape.dim
    return len(dims) == len(shape) and all(not d.HasField("dim_value") or d.dim_value == s for d, s in zip(dims, shape))


def with_attributes(model: onnx.ModelProto, op: str, attrs: dict) -> onnx.ModelProto:
    variant = onnx.ModelProto()
    variant.CopyFrom(model)
    node = next(n for n in variant.graph.node if n.op_type == op)
    kept = [a for a in node.attribute if a.name not in attrs and not (a.name in ("pads", "auto_pad") and
                                                                       ({"pads", "auto_pad"} & attrs.keys()))]
    del node.attribute[:]
    node.attribute.extend(kept)
    node.attribute.extend(helper.make_attribute(k, v) for k, v in attrs.items() if v is not None)
    return variant


def run_ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    so.inter_op_num_threads = 1
    so.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    (y,) = session.run(["output"], {"input": x})
    return np.asarray(y, dtype=np.float32)


# ----------------------------------------------------------------------------------------------------------------
# The cases


def conv_case(name, description, input_shape, cout, kernel, *, group=1, bias=True, alternatives=(), **attrs) -> Case:
    return Case(name, description, input_shape,
                lambda b: b.conv("input", input_shape[1], cout, kernel, group=group, bias=bias, out="output", **attrs),
                alternatives=list(alternatives))


def clip_initializers(b: Builder, lo: float | None, hi: float | None) -> list[str]:
    """Clip-11+ inputs: min/max as scalar float initializers, "" for an omitted one."""
    return ["" if v is None else b.const("clip.min" if i == 0 else "clip.max", np.array(v, dtype=np.float32))
            for i, v in enumerate((lo, hi))]


def build_residual(b: Builder):
    left = b.conv("input", 6, 8, 3, pads=[1, 1, 1, 1])
    right = b.conv("input", 6, 8, 1)
    s = b.node("Add", [left, right])
    b.node("Relu", [s], "output")


def build_everything(b: Builder):
    x = b.conv("input", 3, 8, 3, bias=False, strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.bn(x, 8)
    x = b.node("Relu", [x])
    skip = b.node("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = b.conv(skip, 8, 8, 3, group=8, pads=[1, 1, 1, 1])
    x = b.node("Clip", [x, *clip_initializers(b, 0.0, 6.0)])
    x = b.conv(x, 8, 8, 1)
    x = b.node("Add", [x, skip])
    x = b.node("GlobalAveragePool", [x])
    x = b.node("Flatten", [x], axis=1)
    b.gemm(x, 8, 10, out="output")


def build_reshape_back_conv(b: Builder):
    shape = b.const("shape", np.array([-1, 4, 7, 9], dtype=np.int64))
    x = b.node("Reshape", ["input", shape])
    b.conv(x, 4, 6, 3, pads=[1, 1, 1, 1], out="output")


def build_reshape_constant_node(b: Builder):
    x = b.conv("input", 3, 5, 3, strides=[2, 2])  # [N, 5, 6, 7]
    shape = b.node("Constant", [], value=numpy_helper.from_array(np.array([-1, 5 * 6 * 7], dtype=np.int64)))
    x = b.node("Reshape", [x, shape])
    b.gemm(x, 5 * 6 * 7, 9, out="output")


def build_constant_weight(b: Builder):
    w = (b.rng.standard_normal((7, 5, 3, 3)) / np.sqrt(5 * 9)).astype(np.float32)
    weight = b.node("Constant", [], value=numpy_helper.from_array(w))
    bias = b.weight("conv.bias", (7,), 5 * 9)
    b.node("Conv", ["input", weight, bias], "output", kernel_shape=[3, 3], pads=[1, 1, 1, 1])


def build_identity_dropout(b: Builder):
    x = b.conv("input", 4, 6, 3, pads=[1, 1, 1, 1])
    x = b.node("Identity", [x])
    x = b.node("Dropout", [x])
    x = b.node("Relu", [x])
    b.conv(x, 6, 5, 1, out="output")


def build_gemm(trans_b: bool, alpha: float | None, beta: float | None, c_shape: tuple | None, k: int, n: int):
    def build(b: Builder):
        w = b.weight("fc.weight", (n, k) if trans_b else (k, n), k)
        inputs = ["input", w]
        if c_shape is not None:
            inputs.append(b.weight("fc.bias", c_shape, k))
        attrs = {"transB": 1} if trans_b else {}
        if alpha is not None:
            attrs["alpha"] = alpha
        if beta is not None:
            attrs["beta"] = beta
        b.node("Gemm", inputs, "output", **attrs)
    return build


def cases() -> list[Case]:
    P1 = [1, 1, 1, 1]
    out: list[Case] = [
        # --- Conv
        conv_case("conv_3x3_p1", "Conv 3x3, pads 1, stride 1, bias", [2, 5, 13, 11], 7, 3, pads=P1),
        conv_case("conv_3x3_s2_asym_pads", "Conv 3x3 stride 2, asymmetric pads [0,1,1,0] (top,left,bottom,right)",
                  [2, 4, 15, 18], 6, 3, strides=[2, 2], pads=[0, 1, 1, 0],
                  alternatives=[Alternative("symmetric pads [1,1,1,1] must differ", "Conv", {"pads": P1}, False)]),
        # 18 rows with a 5x5 kernel and stride 2 need 3 rows of padding: 1 above and 2 below for SAME_UPPER.
        conv_case("conv_same_upper_s2", "Conv 5x5 stride 2, auto_pad SAME_UPPER (total padding 3 rows, 4 columns)",
                  [2, 3, 18, 19], 8, 5, strides=[2, 2], auto_pad="SAME_UPPER",
                  alternatives=[Alternative("explicit pads [1,2,2,2] must match", "Conv", {"pads": [1, 2, 2, 2]}, True),
                                Alternative("SAME_LOWER must differ", "Conv", {"auto_pad": "SAME_LOWER"}, False)]),
        # 17x19 with a 4x4 kernel and stride 2: 3 rows and 3 columns of padding, 2 before and 1 after for SAME_LOWER.
        conv_case("conv_same_lower_s2", "Conv 4x4 stride 2, auto_pad SAME_LOWER (total padding 3 rows, 3 columns)",
                  [2, 3, 17, 19], 8, 4, strides=[2, 2], auto_pad="SAME_LOWER",
                  alternatives=[Alternative("explicit pads [2,2,1,1] must match", "Conv", {"pads": [2, 2, 1, 1]}, True),
                                Alternative("SAME_UPPER must differ", "Conv", {"auto_pad": "SAME_UPPER"}, False)]),
        conv_case("conv_valid", "Conv 3x3 stride 2, auto_pad VALID", [2, 4, 14, 17], 6, 3, strides=[2, 2],
                  auto_pad="VALID",
                  alternatives=[Alternative("explicit pads [0,0,0,0] must match", "Conv", {"pads": [0, 0, 0, 0]}, True)]),
        conv_case("conv_dilation2", "Conv 3x3 dilation 2, pads 2", [2, 5, 15, 13], 6, 3, dilations=[2, 2],
                  pads=[2, 2, 2, 2]),
        conv_case("conv_group2", "Conv 3x3 pads 1, group 2 (8 -> 6 channels, 4 in / 3 out per group)",
                  [2, 8, 11, 13], 6, 3, group=2, pads=P1),
        conv_case("conv_depthwise_s2", "depthwise Conv 3x3 stride 2 pads 1, group = channels = 12",
                  [2, 12, 17, 15], 12, 3, group=12, strides=[2, 2], pads=P1),
        conv_case("conv_depthwise_mult2", "depthwise Conv 3x3 pads 1 with channel multiplier 2 (group 6, 6 -> 12)",
                  [1, 6, 9, 11], 12, 3, group=6, pads=P1),
        conv_case("conv_1x1", "pointwise Conv 1x1 stride 1 (24 -> 16 channels)", [2, 24, 13, 11], 16, 1),
        conv_case("conv_1x1_s2", "Conv 1x1 stride 2 (16 -> 24 channels)", [2, 16, 17, 15], 24, 1, strides=[2, 2]),
        conv_case("conv_7x7_s2_p3", "Conv 7x7 stride 2 pads 3 on 3 channels (the ResNet stem)", [2, 3, 37, 33], 8, 7,
                  strides=[2, 2], pads=[3, 3, 3, 3]),
        conv_case("conv_no_bias", "Conv 3x3 pads 1 without the bias input", [2, 5, 9, 13], 7, 3, bias=False, pads=P1),
        conv_case("conv_1x3", "Conv with a non-square 1x3 kernel, pads [0,1,0,1]", [2, 4, 9, 13], 6, (1, 3),
                  pads=[0, 1, 0, 1]),
        Case("conv_constant_node_weight", "Conv whose weight is the output of a Constant node (value tensor)",
             [2, 5, 9, 11], build_constant_weight),
        # --- activations
        Case("conv_relu", "Conv 3x3 pads 1 then Relu (fusable)", [2, 4, 11, 9],
             lambda b: b.node("Relu", [b.conv("input", 4, 6, 3, pads=P1)], "output")),
        Case("conv_clip_0_6", "Conv 3x3 pads 1 then Clip(0, 6) with min/max as scalar initializer inputs (opset 17)",
             [2, 4, 11, 9],
             lambda b: b.node("Clip", [b.conv("input", 4, 6, 3, pads=P1), *clip_initializers(b, 0.0, 6.0)], "output")),
        Case("conv_clip_max_only", "Conv 3x3 pads 1 then Clip with only max (0.5) given, min omitted (\"\")",
             [2, 4, 11, 9],
             lambda b: b.node("Clip", [b.conv("input", 4, 6, 3, pads=P1), *clip_initializers(b, None, 0.5)], "output")),
        Case("clip_standalone", "Clip(-0.5, 1.25) directly on the graph input (opset 17, initializer bounds)",
             [2, 3, 7, 9], lambda b: b.node("Clip", ["input", *clip_initializers(b, -0.5, 1.25)], "output")),
        Case("conv_clip_opset10", "Conv 3x3 pads 1 then Clip-6 with min=-0.5 max=0.75 attributes (opset 10 model)",
             [2, 4, 11, 9],
             lambda b: b.node("Clip", [b.conv("input", 4, 6, 3, pads=P1)], "output", min=-0.5, max=0.75),
             opset=10),
        Case("relu_standalone", "Relu directly on the graph input", [2, 3, 7, 9],
             lambda b: b.node("Relu", ["input"], "output")),
        # --- BatchNormalization
        Case("batchnorm_standalone", "BatchNormalization (epsilon 1e-3) directly on the graph input", [2, 6, 9, 7],
             lambda b: b.bn("input", 6, out="output", epsilon=1e-3)),
        Case("conv_batchnorm", "Conv 3x3 pads 1 without bias then BatchNormalization (foldable, ResNet style)",
             [2, 5, 11, 9], lambda b: b.bn(b.conv("input", 5, 7, 3, bias=False, pads=P1), 7, out="output")),
        Case("conv_bias_batchnorm", "Conv 3x3 stride 2 pads 1 with bias then BatchNormalization (foldable)",
             [2, 5, 11, 9],
             lambda b: b.bn(b.conv("input", 5, 7, 3, strides=[2, 2], pads=P1), 7, out="output")),
        # --- Add
        Case("residual_add_relu", "two Conv branches (3x3 pads 1 and 1x1) of the input, Add, Relu", [2, 6, 11, 13],
             build_residual),
        Case("add_same_input", "Add(input, input): both operands are the graph input", [2, 3, 7, 9],
             lambda b: b.node("Add", ["input", "input"], "output")),
        Case("conv_add_self_relu", "Conv then Add(c, c) (both operands the same tensor) then Relu", [2, 4, 9, 7],
             lambda b: b.node("Relu", [b.node("Add", [c := b.conv("input", 4, 5, 3, pads=P1), c])], "output")),
        # --- pooling
        Case("maxpool_3x3_s2_p1", "MaxPool 3x3 stride 2 pads 1", [2, 4, 17, 15],
             lambda b: b.node("MaxPool", ["input"], "output", kernel_shape=[3, 3], strides=[2, 2], pads=P1)),
        Case("maxpool_2x2_s2_ceil", "MaxPool 2x2 stride 2 ceil_mode=1 on 15x13", [2, 4, 15, 13],
             lambda b: b.node("MaxPool", ["input"], "output", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             alternatives=[Alternative("ceil_mode=0 must differ", "MaxPool", {"ceil_mode": 0}, False)]),
        Case("maxpool_dilation2", "MaxPool 3x3 stride 2 dilation 2 pads 1", [2, 3, 17, 15],
             lambda b: b.node("MaxPool", ["input"], "output", kernel_shape=[3, 3], strides=[2, 2], dilations=[2, 2],
                              pads=P1),
             alternatives=[Alternative("dilation 1 must differ", "MaxPool", {"dilations": [1, 1]}, False)]),
        Case("maxpool_same_upper", "MaxPool 3x3 stride 2 auto_pad SAME_UPPER on 16x15 (1 padding row, after)",
             [2, 3, 16, 15],
             lambda b: b.node("MaxPool", ["input"], "output", kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
             alternatives=[Alternative("explicit pads [0,1,1,1] must match", "MaxPool", {"pads": [0, 1, 1, 1]}, True)]),
        Case("avgpool_3x3_s1_p1_excl", "AveragePool 3x3 stride 1 pads 1 count_include_pad=0", [2, 4, 11, 13],
             lambda b: b.node("AveragePool", ["input"], "output", kernel_shape=[3, 3], pads=P1, count_include_pad=0),
             alternatives=[Alternative("count_include_pad=1 must differ", "AveragePool", {"count_include_pad": 1},
                                       False)]),
        Case("avgpool_3x3_s2_p1_incl", "AveragePool 3x3 stride 2 pads 1 count_include_pad=1", [2, 4, 17, 15],
             lambda b: b.node("AveragePool", ["input"], "output", kernel_shape=[3, 3], strides=[2, 2], pads=P1,
                              count_include_pad=1),
             alternatives=[Alternative("count_include_pad=0 must differ", "AveragePool", {"count_include_pad": 0},
                                       False)]),
        Case("avgpool_2x2_s2_ceil", "AveragePool 2x2 stride 2 ceil_mode=1 on 15x13 (edge windows average what is "
             "inside the input)", [2, 4, 15, 13],
             lambda b: b.node("AveragePool", ["input"], "output", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
             alternatives=[Alternative("ceil_mode=0 must differ", "AveragePool", {"ceil_mode": 0}, False)]),
        Case("global_avgpool", "GlobalAveragePool on 13x11", [2, 6, 13, 11],
             lambda b: b.node("GlobalAveragePool", ["input"], "output")),
        # --- Flatten / Reshape
        Case("conv_flatten_axis1", "Conv 3x3 pads 1 then Flatten axis 1 of the [N,5,7,9] map (NCHW order)",
             [2, 4, 7, 9], lambda b: b.node("Flatten", [b.conv("input", 4, 5, 3, pads=P1)], "output", axis=1)),
        Case("conv_flatten_axis2", "Conv 3x3 pads 1 then Flatten axis 2: [N,5,7,9] -> [N*5, 63]", [2, 4, 7, 9],
             lambda b: b.node("Flatten", [b.conv("input", 4, 5, 3, pads=P1)], "output", axis=2)),
        Case("conv_reshape_0_m1", "Conv 3x3 pads 1 then Reshape to [0, -1] (int64 initializer)", [2, 4, 7, 9],
             lambda b: b.node("Reshape", [b.conv("input", 4, 5, 3, pads=P1),
                                          b.const("shape", np.array([0, -1], dtype=np.int64))], "output")),
        Case("reshape_to_nchw_conv", "Reshape [N, 252] to [-1, 4, 7, 9] (int64 initializer) then Conv 3x3 pads 1",
             [2, 4 * 7 * 9], build_reshape_back_conv),
        Case("conv_reshape_constant_gemm", "Conv 3x3 stride 2, Reshape to [-1, 210] with the shape from a Constant "
             "node, Gemm", [2, 3, 13, 15], build_reshape_constant_node),
        # --- Gemm / MatMul
        Case("gemm_transb_bias", "Gemm transB=1 with bias C of shape [N]", [5, 37],
             build_gemm(True, None, None, (11,), 37, 11)),
        Case("gemm_alpha_beta", "Gemm transB=0 alpha 0.5 beta 2 with bias C of shape [N]", [5, 37],
             build_gemm(False, 0.5, 2.0, (11,), 37, 11)),
        Case("gemm_scalar_c", "Gemm transB=1 with a scalar (rank-0) C, beta 1.5", [5, 37],
             build_gemm(True, None, 1.5, (), 37, 11)),
        Case("gemm_no_c", "Gemm transB=1 without C", [3, 20], build_gemm(True, None, None, None, 20, 7)),
        Case("matmul_constant", "MatMul of a [N, 37] input by a constant [37, 11] initializer", [5, 37],
             lambda b: b.node("MatMul", ["input", b.weight("fc.weight", (37, 11), 37)], "output")),
        Case("matmul_add_bias", "MatMul by a constant [37, 11] then Add of a constant [11] bias (Linear)", [5, 37],
             lambda b: b.node("Add", [b.node("MatMul", ["input", b.weight("fc.weight", (37, 11), 37)]),
                                      b.weight("fc.bias", (11,), 37)], "output")),
        Case("matmul_two_activations", "MatMul(Relu(X), X) of two activations, X of shape [6, 6]", [6, 6],
             lambda b: b.node("MatMul", [b.node("Relu", ["input"]), "input"], "output"), batch_symbolic=False),
        # --- pass-through nodes
        Case("identity_dropout_chain", "Conv -> Identity -> Dropout (inference, no ratio/training_mode) -> Relu -> "
             "Conv 1x1", [2, 4, 9, 11], build_identity_dropout),
        # --- everything
        Case("everything_chain", "Conv 3x3 s2 -> BN -> Relu -> MaxPool 3x3 s2 -> depthwise Conv -> Clip(0,6) -> "
             "Conv 1x1 -> Add(MaxPool output) -> GlobalAveragePool -> Flatten -> Gemm", [3, 3, 23, 29],
             build_everything),
    ]
    names = [c.name for c in out]
    assert len(names) == len(set(names)), "duplicate case names"
    return out


# ----------------------------------------------------------------------------------------------------------------
# Output


def write_bytes(path: Path, data: bytes):
    """Writes only when the content changed (keeps mtimes of unchanged fixtures), atomically."""
    if path.exists() and path.read_bytes() == data:
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def manifest_json(manifest: dict) -> str:
    """The manifest with one line per case (diffable, greppable)."""
    head = json.dumps({k: v for k, v in manifest.items() if k != "cases"})[:-1]
    cases = ",\n  ".join(json.dumps(c) for c in manifest["cases"])
    return f'{head}, "cases": [\n  {cases}\n]}}\n'


def previous_files(out: Path) -> set[str]:
    """The files a previous run's manifest lists (only these are ever removed)."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        return {c[k] for c in manifest["cases"] for k in ("model", "input", "output")}
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    args = ap.parse_args()
    start = time.perf_counter()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    stale = previous_files(out)

    entries, rows, failures = [], [], []
    for case in cases():
        model = make_model(case)
        onnx.checker.check_model(model, full_check=True)
        rng = np.random.default_rng(case_seed(case.name, 2))
        x = rng.uniform(-INPUT_RANGE, INPUT_RANGE, case.input_shape).astype(np.float32)
        y = run_ort(model, x)
        if not declared_shape_matches(model, y.shape):
            failures.append(f"{case.name}: output shape {y.shape} disagrees with the declared "
                            f"{model.graph.output[0].type.tensor_type.shape}")
        if not np.all(np.isfinite(y)):
            failures.append(f"{case.name}: non-finite output")
        for alt in case.alternatives:
            y2 = run_ort(with_attributes(model, alt.op, alt.attrs), x)
            same = y2.shape == y.shape and float(np.max(np.abs(y2 - y))) <= 1e-6 * max(1.0, float(np.max(np.abs(y))))
            if same != alt.same:
                failures.append(f"{case.name}: {alt.why}, but it {'matches' if same else 'differs'}")

        files = {"model": f"{case.name}.onnx", "input": f"{case.name}.input.f32", "output": f"{case.name}.output.f32"}
        write_bytes(out / files["model"], model.SerializeToString())
        write_bytes(out / files["input"], x.astype("<f4").tobytes())
        write_bytes(out / files["output"], y.astype("<f4").tobytes())
        stale -= set(files.values())
        entries.append({"name": case.name, "model": files["model"], "input_shape": list(x.shape),
                        "input": files["input"], "output": files["output"], "output_shape": list(y.shape),
                        "opset": case.opset, "ops": sorted({n.op_type for n in model.graph.node}),
                        "description": case.description})
        rows.append((case.name, case.opset, list(x.shape), list(y.shape), float(np.max(np.abs(y)))))

    manifest = {"version": MANIFEST_VERSION, "generator": "Tests/Fixtures/make_operator_fixtures.py",
                "onnx": onnx.__version__, "onnxruntime": ort.__version__, "numpy": np.__version__,
                "cases": entries}
    write_bytes(out / "manifest.json", manifest_json(manifest).encode())
    for name in sorted(stale):
        if "/" not in name and (out / name).is_file():
            (out / name).unlink()

    w = max(len(r[0]) for r in rows)
    print(f"{'case':<{w}}  opset  {'input shape':<16}  {'output shape':<16}  max|out|")
    for name, opset, xs, ys, m in rows:
        print(f"{name:<{w}}  {opset:>5}  {str(xs):<16}  {str(ys):<16}  {m:8.4f}")
    print(f"{len(rows)} cases written to {out} in {time.perf_counter() - start:.2f} s "
          f"(onnx {onnx.__version__}, onnxruntime {ort.__version__}, numpy {np.__version__})")
    for f in failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
