#!/usr/bin/env python3
"""Makes the benchmark models of scripts/bench-emulated.sh: torchvision-layout ResNet18, ResNet50 and MobileNetV2 at
224x224 (and a narrow ResNet at 64x64 for the quick check), random weights (seeded) with realistic BatchNorm
statistics measured on photos, BatchNorm folded into the convolutions, then quantized by onnxruntime's
quantize_static exactly as bench/quantize_onnxruntime.py does (QDQ, per-channel symmetric S8 weights, U8
activations, MinMax over the photos).

    python bench/make_bench_models.py --out DIR [--models resnet18,resnet50,mobilenetv2,resnet-narrow64]

Writes for each model NAME into DIR: NAME.onnx (FP32), NAME-qdq.onnx (INT8 QDQ), NAME.json (MACs, preprocessing),
and the benchmark input: NAME.input.png (the photo after resize and centre crop, exactly the model's input size),
NAME.input.npy (that PNG as the model's float32 NCHW input: (u8 / 255 - mean) / std) and NAME.preprocess.json
(resize 0: `resnet-edge classify --preprocess` of the PNG gives the same tensor). The graph builders, the calibration
of the BatchNorm statistics and classifier, and the BatchNorm folding are Tests/Fixtures/make_fixtures.py's.
Idempotent: a model whose files exist is skipped (--force rebuilds). Needs onnx, onnxruntime, numpy, Pillow
(Tests/Fixtures/requirements.txt).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np
import onnx
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "Tests" / "Fixtures"))
import make_fixtures as mf  # noqa: E402

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
# name -> (builder, input size, seed)
MODELS = {
    "resnet18": ("resnet18", 224, 18),
    "resnet50": ("resnet50", 224, 50),
    "mobilenetv2": ("mobilenetv2", 224, 2),
    "resnet-narrow64": ("narrow", 64, 64),
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--models", default="resnet18", help="comma-separated: " + ", ".join(MODELS))
    ap.add_argument("--images", type=Path, default=REPO.parent / "shared" / "testdata" / "images")
    ap.add_argument("--input-image", default="darknet_dog.jpg", help="the photo (in --images) that is the bench input")
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    photos = sorted(p for p in args.images.iterdir() if p.suffix.lower() in mf.IMAGE_EXTENSIONS)
    if not photos:
        print(f"error: no photos in {args.images}", file=sys.stderr)
        return 1
    for name in args.models.split(","):
        if name not in MODELS:
            print(f"error: unknown model {name} (known: {', '.join(MODELS)})", file=sys.stderr)
            return 1
        family, size, seed = MODELS[name]
        qdq = args.out / f"{name}-qdq.onnx"
        if qdq.exists() and (args.out / f"{name}.json").exists() and not args.force:
            print(f"{qdq}: exists")
            continue
        preset = {"resize": int(round(size * 256 / 224)), "crop": [size, size], "mean": MEAN, "std": STD,
                  "grayscale": False, "pad": 0, "channels": 3}
        pre = {p.name: mf.preprocess(p, preset) for p in photos}
        calib = np.concatenate([pre[p.name][1] for p in photos])
        # narrow: ResNet18's layout (BasicBlock, [2,2,2,2], 7x7/2 stem, max pool) at a quarter of the width, for a quick check.
        net = (mf.build_resnet("resnet18", seed, classes=100, widths=(16, 32, 64, 128)) if family == "narrow" else
               mf.build_mobilenetv2(seed) if family == "mobilenetv2" else mf.build_resnet(family, seed))
        info = mf.calibrate(net, calib, [calib], threads=2)
        nodes, inits = mf.fold_batchnorm(net, lambda n: True)
        model = mf.make_model(nodes, inits, net.classes,
                              doc=f"resnet-edge bench model: {family} layout, random weights (seed {seed}), BatchNorm "
                                  f"statistics measured on photos, BatchNorm folded.")
        fp32 = args.out / f"{name}.onnx"
        onnx.save(model, fp32)
        macs = mf.macs(model, size, size)
        # The bench input: the photo resized and cropped to the model's size, as a PNG (lossless) and as the tensor.
        u8, x = pre[args.input_image]
        Image.fromarray(u8).save(args.out / f"{name}.input.png")
        np.save(args.out / f"{name}.input.npy", x)
        (args.out / f"{name}.preprocess.json").write_text(json.dumps(
            {"resize": 0, "crop": [size, size], "mean": MEAN, "std": STD}))
        from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, \
            quantize_static

        class Reader(CalibrationDataReader):
            def __init__(self):
                self.it = iter(pre[p.name][1] for p in photos)

            def get_next(self):
                v = next(self.it, None)
                return None if v is None else {"input": v}

        logging.getLogger().setLevel(logging.ERROR)
        quantize_static(str(fp32), str(qdq), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax, extra_options={"WeightSymmetric": True})
        meta = {"name": name, "family": family, "size": size, "classes": net.classes, "seed": seed,
                "macs": macs["conv"] + macs["gemm"], "macs_detail": macs, "calibration": info,
                "calibration_photos": [p.name for p in photos], "input_image": args.input_image,
                "fp32": fp32.name, "qdq": qdq.name}
        (args.out / f"{name}.json").write_text(json.dumps(meta, indent=1))
        print(f"{qdq}: {meta['macs'] / 1e9:.3f} GMAC at {size}x{size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
