/// An activation fused into the operator that produces its input.
public enum Activation: Hashable, Sendable, CustomStringConvertible {
    case none
    case relu
    /// Clamp to [min, max]; ReLU6 is `.clip(min: 0, max: 6)`.
    case clip(min: Float, max: Float)

    public var description: String {
        switch self {
        case .none: return ""
        case .relu: return "relu"
        case .clip(let lo, let hi): return "clip(\(lo),\(hi))"
        }
    }

    /// The clamp bounds this activation applies (infinite for `.none`).
    public var bounds: (lower: Float, upper: Float) {
        switch self {
        case .none: return (-.infinity, .infinity)
        case .relu: return (0, .infinity)
        case .clip(let lo, let hi): return (lo, hi)
        }
    }

    /// The activation equal to applying `self`, then `next`.
    public func followed(by next: Activation) -> Activation {
        if self == .none { return next }
        if next == .none { return self }
        let a = bounds, b = next.bounds
        let lo = Swift.max(a.lower, b.lower), hi = Swift.min(a.upper, b.upper)
        if lo == 0 && hi == .infinity { return .relu }
        return .clip(min: lo, max: hi)
    }
}

/// Spatial padding, explicit or resolved from the input size (ONNX `auto_pad`).
public enum Padding: Hashable, Sendable {
    case explicit(top: Int, left: Int, bottom: Int, right: Int)
    /// ONNX SAME_UPPER: the extra pixel, if any, goes at the end.
    case sameUpper
    /// ONNX SAME_LOWER: the extra pixel, if any, goes at the beginning.
    case sameLower

    public static let zero = Padding.explicit(top: 0, left: 0, bottom: 0, right: 0)
}

/// The geometry shared by convolutions and pooling windows.
public struct Window2D: Hashable, Sendable {
    public var kernelHeight: Int, kernelWidth: Int
    public var strideHeight: Int, strideWidth: Int
    public var dilationHeight: Int, dilationWidth: Int
    public var padding: Padding
    /// Pooling only: round the output size up (PyTorch/ONNX `ceil_mode`).
    public var ceilMode: Bool

    public init(kernel: (Int, Int), stride: (Int, Int) = (1, 1), dilation: (Int, Int) = (1, 1),
                padding: Padding = .zero, ceilMode: Bool = false) {
        (kernelHeight, kernelWidth) = kernel
        (strideHeight, strideWidth) = stride
        (dilationHeight, dilationWidth) = dilation
        self.padding = padding
        self.ceilMode = ceilMode
    }

    /// Output size and resolved padding for an input of `height` x `width`.
    public func resolve(height: Int, width: Int) -> ResolvedWindow {
        let (oh, pt, pb) = Self.resolve(size: height, kernel: kernelHeight, stride: strideHeight,
                                        dilation: dilationHeight, padding: padding, ceilMode: ceilMode, vertical: true)
        let (ow, pl, pr) = Self.resolve(size: width, kernel: kernelWidth, stride: strideWidth,
                                        dilation: dilationWidth, padding: padding, ceilMode: ceilMode, vertical: false)
        return ResolvedWindow(window: self, inputHeight: height, inputWidth: width, outputHeight: oh, outputWidth: ow,
                              padTop: pt, padLeft: pl, padBottom: pb, padRight: pr)
    }

    private static func resolve(size: Int, kernel: Int, stride: Int, dilation: Int, padding: Padding,
                                ceilMode: Bool, vertical: Bool) -> (Int, Int, Int) {
        let extent = (kernel - 1) * dilation + 1
        switch padding {
        case .sameUpper, .sameLower:
            let out = (size + stride - 1) / stride
            let total = Swift.max((out - 1) * stride + extent - size, 0)
            let begin = padding == .sameUpper ? total / 2 : (total + 1) / 2
            return (out, begin, total - begin)
        case .explicit(let top, let left, let bottom, let right):
            let begin = vertical ? top : left, end = vertical ? bottom : right
            let span = size + begin + end - extent
            guard span >= 0 else { return (0, begin, end) }
            var out = (ceilMode ? (span + stride - 1) / stride : span / stride) + 1
            // As PyTorch and onnxruntime: in ceil mode the last window must start inside the input or left padding.
            if ceilMode && (out - 1) * stride >= size + begin { out -= 1 }
            return (out, begin, end)
        }
    }
}

/// A window with concrete sizes and padding.
public struct ResolvedWindow: Hashable, Sendable {
    public let window: Window2D
    public let inputHeight: Int, inputWidth: Int
    public let outputHeight: Int, outputWidth: Int
    public let padTop: Int, padLeft: Int, padBottom: Int, padRight: Int

    public var isPointwise: Bool {
        window.kernelHeight == 1 && window.kernelWidth == 1 && window.strideHeight == 1 && window.strideWidth == 1
            && padTop == 0 && padLeft == 0 && padBottom == 0 && padRight == 0
    }
}

/// A 2-D convolution with its weights. Weights keep ONNX's OIHW order [Cout, Cin/groups, KH, KW];
/// each backend packs them into its own layout once, at plan time.
public struct Convolution: Sendable {
    public var window: Window2D
    public var groups: Int
    public var outputChannels: Int
    public var inputChannelsPerGroup: Int
    public var weights: [Float]
    public var bias: [Float]
    public var activation: Activation
    /// The int8 weights, when the model is quantized; `weights` then holds their dequantized values.
    public var quantized: QuantizedWeights?

    public init(window: Window2D, groups: Int, outputChannels: Int, inputChannelsPerGroup: Int,
                weights: [Float], bias: [Float]? = nil, activation: Activation = .none) {
        self.window = window
        self.groups = groups
        self.outputChannels = outputChannels
        self.inputChannelsPerGroup = inputChannelsPerGroup
        self.weights = weights
        self.bias = bias ?? [Float](repeating: 0, count: outputChannels)
        self.activation = activation
    }

    /// The float weights: `weights`, or, where a model file left them out for an INT8 node, the
    /// dequantized int8 weights (values x per-output-channel scale).
    public var floatWeights: [Float] {
        guard weights.isEmpty, let q = quantized, !q.values.isEmpty else { return weights }
        return q.dequantized()
    }

    public var inputChannels: Int { inputChannelsPerGroup * groups }
    public var isDepthwise: Bool { groups > 1 && groups == inputChannels && inputChannelsPerGroup == 1 && outputChannels == groups }
}

/// y = x W^T + b, with W [outputs, inputs] (the PyTorch Linear / ONNX Gemm transB=1 layout).
public struct FullyConnected: Sendable {
    public var inputs: Int
    public var outputs: Int
    public var weights: [Float]
    public var bias: [Float]
    public var activation: Activation
    /// The int8 weights, when the model is quantized; `weights` then holds their dequantized values.
    public var quantized: QuantizedWeights?

    /// `weights`, or the dequantized int8 weights where a model file left the float ones out.
    public var floatWeights: [Float] {
        guard weights.isEmpty, let q = quantized, !q.values.isEmpty else { return weights }
        return q.dequantized()
    }

    public init(inputs: Int, outputs: Int, weights: [Float], bias: [Float]? = nil, activation: Activation = .none) {
        self.inputs = inputs
        self.outputs = outputs
        self.weights = weights
        self.bias = bias ?? [Float](repeating: 0, count: outputs)
        self.activation = activation
    }
}

/// The operators of the graph IR. Importers lower their framework's operators onto these;
/// every backend implements all of them.
public enum Operator: Sendable {
    case convolution(Convolution)
    case fullyConnected(FullyConnected)
    /// Per-channel y = x * scale + shift (a BatchNormalization that could not be folded).
    case channelAffine(scale: [Float], shift: [Float], activation: Activation)
    /// Element-wise activation on its own (one not fused into a producer).
    case activation(Activation)
    /// Element-wise sum of two tensors of the same shape (the residual connection), then an activation.
    case add(Activation)
    case maxPool(Window2D)
    case averagePool(Window2D, countIncludePad: Bool)
    case globalAveragePool
    /// [d0, ..., dn] -> [d0 * ... * d(axis-1), d(axis) * ... * dn].
    case flatten(axis: Int)
    /// ONNX Reshape semantics: 0 copies the input dimension, -1 is inferred.
    case reshape([Int])
    /// Matrix product of two rank-2 activations.
    case matMul

    /// A short name for tables and error messages.
    public var name: String {
        switch self {
        case .convolution(let c):
            return c.isDepthwise ? "DepthwiseConv" : (c.groups > 1 ? "GroupConv" : "Conv")
        case .fullyConnected: return "FullyConnected"
        case .channelAffine: return "ChannelAffine"
        case .activation(let a): return a == .relu ? "Relu" : "Clip"
        case .add: return "Add"
        case .maxPool: return "MaxPool"
        case .averagePool: return "AveragePool"
        case .globalAveragePool: return "GlobalAveragePool"
        case .flatten: return "Flatten"
        case .reshape: return "Reshape"
        case .matMul: return "MatMul"
        }
    }

    /// The activation fused into this operator, if it can carry one.
    public var fusedActivation: Activation? {
        switch self {
        case .convolution(let c): return c.activation
        case .fullyConnected(let f): return f.activation
        case .channelAffine(_, _, let a): return a
        case .add(let a): return a
        default: return nil
        }
    }

    /// This operator with `next` applied after its fused activation, or nil if it cannot carry one.
    public func fusing(_ next: Activation) -> Operator? {
        switch self {
        case .convolution(var c): c.activation = c.activation.followed(by: next); return .convolution(c)
        case .fullyConnected(var f): f.activation = f.activation.followed(by: next); return .fullyConnected(f)
        case .channelAffine(let s, let b, let a): return .channelAffine(scale: s, shift: b, activation: a.followed(by: next))
        case .add(let a): return .add(a.followed(by: next))
        default: return nil
        }
    }

    /// Number of learned parameters (weights and biases).
    public var parameterCount: Int {
        switch self {
        case .convolution(let c): return max(c.weights.count, c.quantized?.values.count ?? 0) + c.bias.count
        case .fullyConnected(let f): return max(f.weights.count, f.quantized?.values.count ?? 0) + f.bias.count
        case .channelAffine(let s, let b, _): return s.count + b.count
        default: return 0
        }
    }
}
