#!/usr/bin/env python3
"""LiteRT's model for the same network: a QDQ (or FP32) ONNX classifier rebuilt in TensorFlow and converted to a
full-integer TFLite model (INT8 weights per channel, INT8 activations) by TensorFlow's own converter, on the host.

    python bench/onnx_to_tflite.py --model M-qdq.onnx --output M.tflite [--images DIR] [--size 224]

Needs tensorflow-cpu, onnx, numpy and Pillow (scripts/bench-emulated.sh keeps them in a venv of its cache).

What the conversion keeps and what it changes (so that the side-by-side compares the same network, not the same
bytes):
- Weights: a QDQ model's weights are taken *after* its DequantizeLinear (the int8 values times their per-channel
  scales), so LiteRT starts from exactly the weights onnxruntime and resnet-edge run; the converter re-quantizes them
  per output channel, symmetric, to int8 (scale = max|w| / 127, the same rule as onnxruntime's WeightSymmetric, so
  the int8 weights come out the same up to rounding). The activations' QuantizeLinear/DequantizeLinear pairs are
  dropped: LiteRT calibrates its own activation ranges on the photos (representative dataset, MinMax).
- Activations: LiteRT's full-integer models are int8 (asymmetric, zero point in [-128, 127]); the QDQ model has
  uint8 activations (onnxruntime's default). Input and output tensors are int8 too (the runner quantizes the input
  and dequantizes the logits with the model's own scale and zero point).
- Layout: NCHW -> NHWC (weights OIHW -> HWIO, depthwise -> HWC1); the input is transposed by the runner.
- BatchNorm: must already be folded (the bench models are); a BatchNormalization node is folded here into the
  preceding Conv if present.
- Padding: PyTorch's symmetric padding is kept exactly: "SAME" where it is the same as the explicit padding
  (stride 1), otherwise an explicit PAD op before a "VALID" convolution (TF's SAME puts the odd pixel at the end,
  PyTorch pads both sides). MaxPool padding is PAD with 0, valid only after a ReLU/ReLU6 (checked).
- Activation functions: Relu and Clip(0, 6) become RELU / RELU6 and are fused into the convolution by the
  converter, as onnxruntime fuses them into its QLinearConv.
- Gemm -> FULLY_CONNECTED, GlobalAveragePool -> MEAN over H and W.
Supported ops: Conv (group 1 or depthwise), Relu, Clip, Add, MaxPool, GlobalAveragePool, Flatten, Gemm,
BatchNormalization; anything else is an error naming the op (the bench then reports LiteRT as not run).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402
from PIL import Image  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
MEAN, STD = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)


def photo(path: Path, size: int) -> np.ndarray:
    """torchvision's ImageNet preprocessing (resize shorter side to size*256/224, centre crop), NHWC [1,H,W,3]."""
    with Image.open(path) as src:
        img = src.convert("RGB")
    resize = int(round(size * 256 / 224))
    w, h = img.size
    if w <= h:
        img = img.resize((resize, int(resize * h / w)), Image.BILINEAR)
    else:
        img = img.resize((int(resize * w / h), resize), Image.BILINEAR)
    w, h = img.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    x = np.asarray(img.crop((left, top, left + size, top + size)), np.float32) / np.float32(255)
    return ((x - MEAN) / STD)[None].astype(np.float32)


class Unsupported(Exception):
    pass


def load_float_graph(path: str):
    """The ONNX graph with QDQ removed: (nodes, float initializers, input name, output name)."""
    m = onnx.load(path)
    g = m.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    consts = {}
    for n in g.node:
        if n.op_type == "Constant":
            consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
    inits.update(consts)
    alias: dict[str, str] = {}

    def resolve(name):
        while name in alias:
            name = alias[name]
        return name

    nodes = []
    for n in g.node:
        if n.op_type == "Constant":
            continue
        if n.op_type == "DequantizeLinear" and n.input[0] in inits:
            q = inits[n.input[0]].astype(np.float64)
            scale = inits[n.input[1]].astype(np.float64)
            zp = inits[n.input[2]].astype(np.float64) if len(n.input) > 2 and n.input[2] else 0.0
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            if np.ndim(scale) == 1 and q.ndim > 1:
                shape = [1] * q.ndim
                shape[axis] = -1
                scale = scale.reshape(shape)
                zp = np.reshape(zp, shape) if np.ndim(zp) == 1 else zp
            inits[n.output[0]] = ((q - zp) * scale).astype(np.float32)
            continue
        if n.op_type == "QuantizeLinear":
            # onnxruntime's quantizer drops a Relu/Clip before a QuantizeLinear whose range starts at 0 (the
            # zero point at the type's minimum clamps negatives): put the ReLU back.
            zp = inits.get(n.input[2]) if len(n.input) > 2 else None
            src = next((p for p in nodes if p.output[0] == resolve(n.input[0])), None)
            if zp is not None and zp.size == 1 and int(zp) == np.iinfo(zp.dtype).min and (
                    src is None or src.op_type not in ("Relu", "Clip")):
                nodes.append(onnx.helper.make_node("Relu", [n.input[0]], [n.output[0]], name=n.name + "_relu"))
                continue
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            alias[n.output[0]] = n.input[0]
            continue
        nodes.append(n)
    for n in nodes:
        for k, i in enumerate(n.input):
            n.input[k] = resolve(i)
    out = resolve(g.output[0].name)
    return nodes, inits, g.input[0].name, out


def with_fp32_structure(qdq_path: str, fp32_path: str):
    """The FP32 model's graph (its Relu/Clip nodes as they are) with the QDQ model's dequantized weights and biases,
    matched by node name (quantize_static keeps the names of Conv and Gemm nodes)."""
    qnodes, qinits, _, _ = load_float_graph(qdq_path)
    nodes, inits, input_name, output_name = load_float_graph(fp32_path)
    by_name = {n.name: n for n in qnodes}
    replaced = 0
    for n in nodes:
        q = by_name.get(n.name)
        if n.op_type in ("Conv", "Gemm") and q is not None:
            for k in range(1, min(len(n.input), len(q.input))):
                if q.input[k] in qinits and qinits[q.input[k]].shape == inits[n.input[k]].shape:
                    inits[n.input[k]] = qinits[q.input[k]]
            replaced += 1
    if replaced != sum(n.op_type in ("Conv", "Gemm") for n in nodes):
        raise Unsupported(f"{fp32_path} and {qdq_path} do not have the same Conv/Gemm nodes")
    return nodes, inits, input_name, output_name


def attr(n, name, default=None):
    for a in n.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def build(nodes, inits, input_name, output_name):
    import tensorflow as tf
    producer = {n.output[0]: n for n in nodes}
    # BatchNormalization after Conv: fold.
    folded = {}
    for n in nodes:
        if n.op_type == "BatchNormalization":
            c = producer.get(n.input[0])
            if c is None or c.op_type != "Conv":
                raise Unsupported("BatchNormalization not after a Conv")
            g, b, mu, var = (inits[i].astype(np.float64) for i in n.input[1:5])
            s = g / np.sqrt(var + attr(n, "epsilon", 1e-5))
            w = inits[c.input[1]] * s[:, None, None, None]
            b0 = inits[c.input[2]] if len(c.input) > 2 else 0
            folded[c.name] = (w.astype(np.float32), ((b0 - mu) * s + b).astype(np.float32))

    def run(x):
        vals = {input_name: x}
        for n in nodes:
            op = n.op_type
            i = [vals[k] if k in vals else None for k in n.input]
            if op == "Conv":
                w, b = folded.get(n.name, (inits[n.input[1]], inits[n.input[2]] if len(n.input) > 2 else None))
                group = attr(n, "group", 1)
                pads = attr(n, "pads", [0, 0, 0, 0])
                s = attr(n, "strides", [1, 1])
                k = w.shape[2:]
                if attr(n, "dilations", [1, 1]) != [1, 1]:
                    raise Unsupported("dilated Conv")
                x0 = i[0]
                same = s == [1, 1] and pads == [(k[0] - 1) // 2, (k[1] - 1) // 2] * 2 and k[0] % 2 == 1
                if any(pads) and not same:
                    x0 = tf.pad(x0, [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]])
                padding = "SAME" if same else "VALID"
                cin = w.shape[1] * group
                if group == 1:
                    y = tf.nn.conv2d(x0, tf.constant(w.transpose(2, 3, 1, 0)), [1, *s, 1], padding)
                elif group == cin and w.shape[0] == cin:
                    y = tf.nn.depthwise_conv2d(x0, tf.constant(w.transpose(2, 3, 0, 1)), [1, *s, 1], padding)
                else:
                    raise Unsupported(f"grouped Conv (group {group})")
                if b is not None:
                    y = tf.nn.bias_add(y, tf.constant(b))
            elif op == "BatchNormalization":
                y = i[0]  # folded into the Conv above
            elif op == "Relu":
                y = tf.nn.relu(i[0])
            elif op == "Clip":
                lo = float(inits[n.input[1]]) if len(n.input) > 1 and n.input[1] else attr(n, "min", None)
                hi = float(inits[n.input[2]]) if len(n.input) > 2 and n.input[2] else attr(n, "max", None)
                if (lo, hi) != (0.0, 6.0):
                    raise Unsupported(f"Clip({lo}, {hi})")
                y = tf.nn.relu6(i[0])
            elif op == "Add":
                y = tf.add(i[0], i[1])
            elif op == "MaxPool":
                k, s, pads = attr(n, "kernel_shape"), attr(n, "strides", [1, 1]), attr(n, "pads", [0, 0, 0, 0])
                x0 = i[0]
                if any(pads):
                    src = producer.get(n.input[0])
                    if src is None or src.op_type not in ("Relu", "Clip"):
                        raise Unsupported("padded MaxPool not after a ReLU")
                    x0 = tf.pad(x0, [[0, 0], [pads[0], pads[2]], [pads[1], pads[3]], [0, 0]])
                y = tf.nn.max_pool2d(x0, k, s, "VALID")
            elif op == "GlobalAveragePool":
                y = tf.reduce_mean(i[0], axis=[1, 2], keepdims=True)
            elif op == "Flatten":
                y = tf.reshape(i[0], [tf.shape(i[0])[0], -1])
            elif op == "Gemm":
                w, b = inits[n.input[1]], inits[n.input[2]] if len(n.input) > 2 else None
                if not attr(n, "transB", 0):
                    w = w.T
                y = tf.matmul(i[0], tf.constant(w.T))
                if b is not None:
                    y = y + tf.constant(b)
            else:
                raise Unsupported(f"op {op}")
            vals[n.output[0]] = y
        return vals[output_name]

    return run


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--images", default=str(REPO.parent / "shared" / "testdata" / "images"))
    ap.add_argument("--fp32", default="", help="the FP32 model the QDQ one was made from: its graph structure "
                    "(Relu/Clip nodes) is taken, with the QDQ model's dequantized weights")
    ap.add_argument("--size", type=int, default=0, help="input height = width (default: the model's, else 224)")
    args = ap.parse_args()
    import tensorflow as tf
    if args.fp32:
        nodes, inits, input_name, output_name = with_fp32_structure(args.model, args.fp32)
    else:
        nodes, inits, input_name, output_name = load_float_graph(args.model)
    m = onnx.load(args.model, load_external_data=False)
    dims = m.graph.input[0].type.tensor_type.shape.dim
    size = args.size or (dims[2].dim_value if len(dims) == 4 and dims[2].dim_value > 0 else 224)
    try:
        fn = build(nodes, inits, input_name, output_name)
        concrete = tf.function(fn, input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32)]).get_concrete_function()
    except Unsupported as e:
        print(f"error: cannot convert {args.model} for LiteRT: {e}", file=sys.stderr)
        return 2
    photos = sorted(p for p in Path(args.images).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    calib = [photo(p, size) for p in photos]

    def representative():
        for x in calib:
            yield [x]

    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    data = conv.convert()
    Path(args.output).write_bytes(data)
    # The float reference of the rebuilt graph on the first photo, to check the rebuild against onnxruntime.
    print(f"{args.output}: full-integer int8 TFLite, {len(data) / 1e6:.1f} MB, calibrated on {len(calib)} photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
