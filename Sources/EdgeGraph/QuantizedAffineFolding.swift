/// What `Graph.foldQuantizedChannelAffines()` did with one ChannelAffine node (a BatchNormalization that
/// import could not fold in float).
public struct ChannelAffineFold: Sendable, CustomStringConvertible {
    /// The ChannelAffine node's name.
    public let affine: String
    /// The convolution it was folded into (nil when it was not).
    public let convolution: String?
    /// Why it stays a float ChannelAffine (nil when folded).
    public let reason: String?
    /// Channels with a negative scale (their int8 weights and bias negated) and with a zero scale (the channel
    /// became the constant shift).
    public let negatedChannels: Int
    public let constantChannels: Int

    public var folded: Bool { reason == nil }

    public var description: String {
        if let reason { return "\(affine): not folded, \(reason)" }
        return "\(affine): folded into \(convolution ?? "?")"
            + (negatedChannels + constantChannels > 0 ? " (\(negatedChannels) negated, \(constantChannels) constant channels)" : "")
    }
}

extension Graph {
    /// Folds per-channel float affines (`channelAffine`, what an unfolded BatchNormalization becomes) into the
    /// quantized convolution that produces their input, as the QDQ model onnxruntime's `quantize_static` writes
    /// without its pre-processing has them: Conv -> Q(s1) -> DQ -> BatchNorm [-> Relu] -> Q(s2) -> DQ.
    ///
    /// The convolution's int32 accumulator stands for `in_scale * w_scale[c] * (acc + bias[c])`; the affine maps
    /// that to `a[c] * (...) + b[c]`. So the folded convolution has weight scales `w_scale[c] * |a[c]|` (per-channel
    /// requantization `in_scale * w_scale[c] * |a[c]| / s2`), its int8 weights and bias negated where `a[c] < 0`
    /// (exact: the weights are symmetric in [-127, 127]), `b[c]` added to the bias in the new bias units, the
    /// affine's activation fused, and its output is the affine's, quantized straight to s2. A channel with
    /// `a[c] == 0` is the constant `b[c]`: zero weights, bias `round(b[c] / s2)` at requantization scale ~1.
    /// What is dropped is the intermediate rounding and clipping at s1 (see the README for how close it stays).
    /// An affine followed only by a quantized MaxPool takes the MaxPool's output parameters first (exact).
    ///
    /// Folded only when the affine is the convolution's single consumer (the conv output's Q/DQ feeds nothing
    /// else, and it is no graph output), the convolution has no activation of its own, the convolution's input
    /// and the affine's output carry quantization parameters (so the result runs INT8), and every channel's
    /// requantization scale and int32 bias stay within what the INT8 kernels represent. Every ChannelAffine of
    /// the graph gets an entry in the result, folded or with the reason it was not.
    @discardableResult
    public mutating func foldQuantizedChannelAffines() -> [ChannelAffineFold] {
        var producer = [Int?](repeating: nil, count: values.count)
        for (index, node) in nodes.enumerated() { producer[node.output] = index }
        let uses = useCounts()
        // An affine whose output only a MaxPool reads, that MaxPool's output quantized (BatchNorm -> Relu -> MaxPool
        // -> Q, the torchvision stem when BatchNorm and Relu are left unquantized): QuantizeLinear is monotone
        // non-decreasing, so Q(max(x)) = max(Q(x)) and quantizing the MaxPool's input with its output's parameters
        // changes no value. That gives the affine a quantized output to fold into.
        for node in nodes {
            guard case .maxPool = node.op, let q = values[node.output].quantization else { continue }
            let x = node.inputs[0]
            guard values[x].quantization == nil, uses[x] == 1, let p = producer[x], case .channelAffine = nodes[p].op else { continue }
            values[x].quantization = q
        }
        var report: [ChannelAffineFold] = []
        var removed = Set<Int>()
        for index in nodes.indices {
            guard case .channelAffine(let scale, let shift, let activation) = nodes[index].op else { continue }
            let affine = nodes[index]
            func skip(_ why: String) { report.append(ChannelAffineFold(affine: affine.name, convolution: nil, reason: why, negatedChannels: 0, constantChannels: 0)) }
            let x = affine.inputs[0], y = affine.output
            guard let p = producer[x], case .convolution(let conv) = nodes[p].op, let q = conv.quantized else {
                skip("its input is not computed by a quantized convolution"); continue
            }
            guard uses[x] == 1 else { skip("the convolution's output '\(values[x].name)' has other consumers"); continue }
            guard conv.activation == .none else { skip("the convolution already applies \(conv.activation)"); continue }
            guard conv.outputChannels == scale.count, shift.count == scale.count else {
                skip("\(scale.count) channels for a convolution of \(conv.outputChannels) outputs"); continue
            }
            guard let input = values[nodes[p].inputs[0]].quantization else { skip("the convolution's input is not quantized"); continue }
            guard let output = values[y].quantization else { skip("its output '\(values[y].name)' is not quantized"); continue }
            switch Self.foldedConvolution(conv, q, scale: scale, shift: shift, input: input, output: output) {
            case .failure(let why):
                skip(why)
            case .success(var folded):
                folded.conv.activation = activation
                nodes[p].op = .convolution(folded.conv)
                nodes[p].output = y
                producer[y] = p
                removed.insert(index)
                report.append(ChannelAffineFold(affine: affine.name, convolution: nodes[p].name, reason: nil,
                                                negatedChannels: folded.negated, constantChannels: folded.constant))
            }
        }
        if !removed.isEmpty {
            nodes = nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
            removeUnusedValues()
        }
        return report
    }

    private struct FoldedConvolution { var conv: Convolution; var negated: Int; var constant: Int }
    private enum FoldResult { case success(FoldedConvolution), failure(String) }

    /// The convolution with the affine folded in, or why it cannot be (a channel whose requantization scale or
    /// bias the INT8 kernels cannot represent).
    private static func foldedConvolution(_ conv: Convolution, _ q: QuantizedWeights, scale: [Float], shift: [Float],
                                          input: QuantizationParameters, output: QuantizationParameters) -> FoldResult {
        let channels = conv.outputChannels
        guard q.scales.count == channels, q.bias.count == channels, !q.values.isEmpty, q.values.count % channels == 0 else {
            return .failure("the convolution's quantized weights do not have one run per output channel")
        }
        let per = q.values.count / channels
        var values = q.values, scales = q.scales, bias = q.bias
        var floatBias = conv.bias
        var negated = 0, constant = 0
        let inScale = Double(input.scale), outScale = Double(output.scale)
        // |bias| + |accumulator| must stay in int32; the accumulator of a K-deep dot product of int8 weights
        // and zero-point-adjusted int8 inputs is below K * 127 * 255.
        let accumulatorBound = Double(per) * 127 * 255
        let biasLimit = Double(Int32.max) - accumulatorBound - 1
        for c in 0..<channels {
            let a = Double(scale[c]), b = Double(shift[c])
            guard a.isFinite, b.isFinite else { return .failure("channel \(c) has a non-finite scale or shift") }
            let newScale: Float
            let newBias: Double
            if a == 0 {
                // The constant b: no weights; at requantization scale in_scale * (s2 / in_scale) / s2 ~ 1 the
                // bias round(b / s2) comes out as it is, the value QuantizeLinear gives b.
                for k in 0..<per { values[c * per + k] = 0 }
                newScale = Float(outScale / inScale)
                newBias = (b / outScale).rounded(.toNearestOrEven)
                constant += 1
            } else {
                if a < 0 {
                    for k in 0..<per { values[c * per + k] = -values[c * per + k] }
                    negated += 1
                }
                newScale = Float(Double(q.scales[c]) * abs(a))
                guard newScale.isFinite, newScale > 0 else { return .failure("channel \(c): weight scale \(q.scales[c]) x \(abs(a)) is not representable") }
                // real = a * in * w * (acc + bias) + b = in * w' * (sign(a) * acc + bias').
                let unit = inScale * Double(newScale)
                newBias = ((a * inScale * Double(q.scales[c]) * Double(q.bias[c]) + b) / unit).rounded(.toNearestOrEven)
            }
            let requant = inScale * Double(newScale) / outScale
            guard requant >= 0x1p-32, requant < 256 else {
                return .failure("channel \(c): the folded requantization scale \(requant) is outside [2^-32, 256)")
            }
            guard abs(newBias) <= biasLimit else {
                return .failure("channel \(c): the folded bias \(newBias) does not fit int32 beside the accumulator")
            }
            scales[c] = newScale
            bias[c] = Int32(newBias)
            floatBias[c] = Float(newBias * inScale * Double(newScale))
        }
        var folded = conv
        folded.quantized = QuantizedWeights(values: values, scales: scales, bias: bias)
        if !conv.weights.isEmpty { folded.weights = folded.quantized!.dequantized() }
        folded.bias = floatBias
        return .success(FoldedConvolution(conv: folded, negated: negated, constant: constant))
    }

    /// Drops values that no node reads or writes and that are no graph input or output, renumbering the rest
    /// (in order).
    public mutating func removeUnusedValues() {
        var used = [Bool](repeating: false, count: values.count)
        for id in inputs + outputs { used[id] = true }
        for node in nodes {
            for id in node.inputs { used[id] = true }
            used[node.output] = true
        }
        guard used.contains(false) else { return }
        var map = [Int](repeating: -1, count: values.count)
        var kept: [Value] = []
        for (id, value) in values.enumerated() where used[id] {
            map[id] = kept.count
            kept.append(value)
        }
        values = kept
        inputs = inputs.map { map[$0] }
        outputs = outputs.map { map[$0] }
        for i in nodes.indices {
            nodes[i].inputs = nodes[i].inputs.map { map[$0] }
            nodes[i].output = map[nodes[i].output]
        }
    }
}
