"""onnxruntime's side of the calibrator comparison (Tests/EdgeCalibrationTests): quantize_static (QDQ, per-channel
symmetric S8 weights, U8 activations, MinMax) of an FP32 model on the calibration tensors the Swift test wrote (our
preprocessing of the same photos), then onnxruntime's FP32 and INT8 logits on the test tensors.

  python ort_quantize_compare.py MODEL.onnx WORKDIR
WORKDIR holds calib-*.f32 and test-*.f32 (float32 NCHW, shape in shape.json); writes ort-int8.f32, ort-fp32.f32.
"""
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static


def main() -> None:
    model, work = Path(sys.argv[1]), Path(sys.argv[2])
    shape = json.loads((work / "shape.json").read_text())["shape"]
    def load(pattern):
        return [np.fromfile(p, dtype="<f4").reshape(shape) for p in sorted(work.glob(pattern))]
    calib, test = load("calib-*.f32"), load("test-*.f32")
    name = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"]).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(calib)
        def get_next(self):
            x = next(self.it, None)
            return None if x is None else {name: x}

    qpath = work / "ort-qdq.onnx"
    quantize_static(str(model), str(qpath), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                    calibrate_method=CalibrationMethod.MinMax, extra_options={"WeightSymmetric": True})
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    for path, out in ((qpath, "ort-int8.f32"), (model, "ort-fp32.f32")):
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        logits = np.concatenate([sess.run(None, {name: x})[0] for x in test])
        logits.astype("<f4").tofile(work / out)
    print(f"onnxruntime {ort.__version__}: quantize_static on {len(calib)} tensors, logits for {len(test)}")


if __name__ == "__main__":
    main()
