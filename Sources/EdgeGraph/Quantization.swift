/// Affine int8 quantization of a tensor: real = scale * (q - zeroPoint), q in [-128, 127].
/// Activations are quantized per tensor (the layout every int8 GEMM kernel in this field wants).
public struct QuantizationParameters: Hashable, Sendable, CustomStringConvertible {
    public var scale: Float
    public var zeroPoint: Int32

    public init(scale: Float, zeroPoint: Int32) {
        self.scale = scale
        self.zeroPoint = zeroPoint
    }

    /// The int8 value nearest to `x` (round half to even, as onnxruntime's QuantizeLinear), saturated.
    public func quantize(_ x: Float) -> Int8 {
        let q = (x / scale).rounded(.toNearestOrEven) + Float(zeroPoint)
        return Int8(Swift.max(-128, Swift.min(127, q)))
    }

    public func dequantize(_ q: Int8) -> Float { scale * Float(Int32(q) - zeroPoint) }

    public var description: String { "scale \(scale) zp \(zeroPoint)" }
}

/// Per-output-channel symmetric int8 weights (zero point 0, values in [-127, 127]) in the same
/// element order as the float weights they stand for, with the int32 bias in units of
/// input scale x weight scale, as the quantized model defines it.
public struct QuantizedWeights: Sendable {
    public var values: [Int8]
    /// One per output channel.
    public var scales: [Float]
    /// int32 bias per output channel, in units of (input scale x scales[c]).
    public var bias: [Int32]

    public init(values: [Int8], scales: [Float], bias: [Int32]) {
        self.values = values
        self.scales = scales
        self.bias = bias
    }

    /// The float weights these stand for: values[i] * scales[channel of i], the values being one equal run per
    /// output channel (empty if the counts do not divide).
    public func dequantized() -> [Float] {
        guard !scales.isEmpty, values.count % scales.count == 0 else { return [] }
        let per = values.count / scales.count
        return values.enumerated().map { i, v in Float(v) * scales[i / per] }
    }
}
