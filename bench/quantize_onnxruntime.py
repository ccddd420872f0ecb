#!/usr/bin/env python3
"""Make the INT8 (QDQ) version of an FP32 ONNX model with onnxruntime's quantize_static, as the test fixtures do.

Per-channel symmetric S8 weights, U8 (default) or S8 activations, MinMax calibration on photos preprocessed the
torchvision way (Pillow BILINEAR resize of the shorter side, centre crop, normalise), QuantFormat.QDQ. The result is
what `resnet-edge bench --int8-model` and `resnet-edge classify` run INT8, and what bench/onnxruntime_peer.py runs
as onnxruntime's INT8 peer.

By default the model is quantized as given, without onnxruntime's pre-processing (`quant_pre_process`: symbolic
shape inference, onnxruntime's graph optimisation, which folds BatchNormalization into the convolution): a model
with BatchNormalization nodes then keeps each one as a float node between a DequantizeLinear and a QuantizeLinear,
as most users' quantize_static runs do. `--pre-process` runs quant_pre_process first (BatchNorm folded in float).

    .venv/bin/python bench/quantize_onnxruntime.py --model resnet18.onnx --output resnet18-qdq.onnx
    .venv/bin/python bench/quantize_onnxruntime.py --model m.onnx --output m-qdq.onnx --preprocess fashion-mnist \\
        --images ../shared/testdata/images --activations s8

Needs the pinned .venv of scripts/test-setup.sh (onnx, onnxruntime, numpy, pillow).
"""
import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import onnx
from PIL import Image
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static

REPO = Path(__file__).resolve().parent.parent
PRESETS = {
    "imagenet": {"resize": 256, "crop": [224, 224], "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                 "grayscale": False, "pad": 0, "channels": 3},
    "fashion-mnist": {"resize": 28, "crop": [28, 28], "mean": [0.286], "std": [0.353], "grayscale": True, "pad": 2,
                      "channels": 3},
}


def preprocess(path: Path, spec: dict) -> np.ndarray:
    """One photo as the model input [1, C, H, W] float32 (torchvision's transforms on a PIL image)."""
    with Image.open(path) as src:
        img = src.convert("L" if spec.get("grayscale", False) else "RGB")
    resize = spec["resize"]
    if resize:
        w, h = img.size
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = resize, int(resize * long / short)
        size = (new_short, new_long) if w <= h else (new_long, new_short)
        if size != (w, h):
            img = img.resize(size, Image.BILINEAR)
    crop = spec["crop"] if isinstance(spec["crop"], list) else [spec["crop"], spec["crop"]]
    w, h = img.size
    top, left = int(round((h - crop[0]) / 2.0)), int(round((w - crop[1]) / 2.0))
    img = img.crop((left, top, left + crop[1], top + crop[0]))
    x = np.asarray(img, dtype=np.uint8)
    if x.ndim == 2:
        x = x[:, :, None]
    mean = np.asarray(spec["mean"], dtype=np.float32)
    std = np.asarray(spec["std"], dtype=np.float32)
    x = (x.astype(np.float32) / np.float32(255) - mean) / std
    pad = spec.get("pad", 0)
    if pad:
        fill = ((np.float32(0) - mean) / std).reshape(-1)[0]
        x = np.pad(x, ((pad, pad), (pad, pad), (0, 0)), constant_values=fill)
    channels = spec.get("channels", 1 if spec.get("grayscale", False) else 3)
    if x.shape[2] == 1 and channels == 3:
        x = np.repeat(x, 3, axis=2)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None], dtype=np.float32)


def imagenet_for(model: onnx.ModelProto) -> dict:
    """torchvision's ImageNet transform for the model's declared input size (224x224 where it is symbolic)."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    h = dims[2].dim_value if len(dims) == 4 and dims[2].dim_value > 0 else 224
    w = dims[3].dim_value if len(dims) == 4 and dims[3].dim_value > 0 else 224
    return dict(PRESETS["imagenet"], resize=int(round(min(h, w) * 256 / 224)), crop=[h, w])


class Reader(CalibrationDataReader):
    def __init__(self, name, tensors):
        self.name = name
        self.tensors = iter(tensors)

    def get_next(self):
        x = next(self.tensors, None)
        return None if x is None else {self.name: x}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the FP32 ONNX model")
    ap.add_argument("--output", required=True, help="where to write the QDQ model")
    ap.add_argument("--images", default=str(REPO.parent / "shared" / "testdata" / "images"),
                    help="calibration photos (a directory of .jpg/.jpeg/.png; default ../shared/testdata/images)")
    ap.add_argument("--preprocess", default=None,
                    help="imagenet, fashion-mnist or a preprocess JSON file (default: <model>.preprocess.json beside "
                         "the model if present, else ImageNet for the model's input size)")
    ap.add_argument("--activations", choices=["u8", "s8"], default="u8", help="activation type (default u8)")
    ap.add_argument("--limit", type=int, default=0, help="use at most this many photos (0: all)")
    ap.add_argument("--pre-process", action="store_true",
                    help="run onnxruntime's quant_pre_process first (shape inference + optimisation: BatchNorm folded)")
    args = ap.parse_args()

    model = onnx.load(args.model, load_external_data=False)
    sidecar = Path(args.model).with_suffix("").with_suffix(".preprocess.json")
    if args.preprocess in PRESETS:
        spec = PRESETS[args.preprocess] if args.preprocess != "imagenet" else imagenet_for(model)
    elif args.preprocess:
        spec = json.loads(Path(args.preprocess).read_text())
    elif sidecar.exists():
        spec = json.loads(sidecar.read_text())
    else:
        spec = imagenet_for(model)
    photos = sorted(p for p in Path(args.images).iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if args.limit:
        photos = photos[:args.limit]
    if not photos:
        print(f"error: no .jpg/.jpeg/.png photos in {args.images}", file=sys.stderr)
        return 1
    tensors = [preprocess(p, spec) for p in photos]
    logging.getLogger().setLevel(logging.ERROR)  # quantize_static's advice to run its pre-processing first
    source = args.model
    if args.pre_process:
        from onnxruntime.quantization.shape_inference import quant_pre_process
        source = str(Path(args.output).with_suffix(".preprocessed.onnx"))
        quant_pre_process(args.model, source, skip_symbolic_shape=True)  # sympy is not in the .venv
    quantize_static(source, args.output, Reader(model.graph.input[0].name, tensors), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8 if args.activations == "u8" else QuantType.QInt8,
                    weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                    extra_options={"WeightSymmetric": True})
    if args.pre_process:
        Path(source).unlink()
    print(f"{args.output}: QDQ{' (pre-processed)' if args.pre_process else ''}, per-channel S8 weights, {args.activations.upper()} activations, "
          f"MinMax over {len(photos)} photos from {args.images}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
