import EdgeGraph
import EdgeRuntime
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// Calibration images as the model's float input tensors (preprocessed by the same code the daemon uses).
public struct CalibrationData: Sendable {
    /// One logical NCHW tensor per image, each of `imageShape` ([1, C, H, W]).
    public var samples: [[Float]]
    public var imageShape: Shape

    public init(samples: [[Float]], imageShape: Shape) {
        self.samples = samples
        self.imageShape = imageShape
    }
}

public struct CalibrationOptions: Sendable {
    public var observer: ObserverKind = .mse
    /// For `.percentile`: the upper quantile in percent (the lower one is 100 minus it).
    public var percentile: Double = 99.99
    /// Shift each INT8 layer's bias by (W - Ŵ) E[x], the mean error its weight rounding adds (Nagel et al. 2019).
    public var biasCorrection = true
    /// Cross-layer equalization of convolution pairs before calibrating (Nagel et al. 2019).
    public var equalization = false
    /// Per-channel weights (the scheme's choice; `false` forces per-tensor, for comparison).
    public var perChannelWeights = true
    /// Accuracy budget in points of top-1 agreement with FP32: the most sensitive layers stay in higher precision
    /// until the drop measured on the evaluation images fits. Nil: everything quantizable runs INT8.
    public var budget: Double?
    /// Measure each layer quantized alone (needed by the budget; the report's sensitivity column).
    public var sensitivity = true
    /// Images used for the report's agreement, SQNR and sensitivity (the first ones of the calibration set).
    public var evaluationSamples = 200
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Progress lines (nil: quiet).
    public var log: (@Sendable (String) -> Void)?

    public init() {}
}

public struct CalibrationResult: Sendable {
    /// The quantized graph: value quantization, int8 weights with int32 biases, float weights dequantized (so the
    /// FP32 path computes the quantized model), layers kept in higher precision left unquantized.
    public var graph: Graph
    public var report: CalibrationReport
}

/// Post-training static quantization of an FP32 graph (BatchNorm folded) for one board's kernels.
public enum Calibrator {
    public static func calibrate(graph source: Graph, data: CalibrationData, scheme: QuantizationScheme,
                                 options: CalibrationOptions) throws -> CalibrationResult {
        guard !data.samples.isEmpty else { throw CalibrationError("no calibration images") }
        let started = Date()
        var graph = source
        var equalized: [String] = []
        if options.equalization {
            equalized = CrossLayerEqualization.apply(&graph)
            options.log?("cross-layer equalization: \(equalized.count) convolution pairs")
        }
        let plan = QuantizationPlan(graph)
        guard !plan.quantizedNodes.isEmpty else {
            throw CalibrationError("the model has no convolution or fully connected layer to quantize")
        }

        // Pass 1: ranges, moving averages, channel means of every value.
        let runner = try ValueRunner(graph: graph, data: data, threads: options.threads)
        var stats = [TensorStatistics](repeating: TensorStatistics(), count: graph.values.count)
        try runner.forEachBatch(data.samples) { id, values, shape in
            stats[id].observe(values, channels: shape.rank >= 2 ? shape[1] : 1,
                              spatial: shape.rank >= 2 ? shape.dims.dropFirst(2).reduce(1, *) : 1)
        }
        options.log?("observed \(plan.quantizedValues.count) tensors over \(data.samples.count) images")

        // Pass 2 (histogram observers): histograms over the pass-1 ranges.
        var histograms: [ValueID: Histogram] = [:]
        if options.observer.needsHistogram {
            for id in plan.quantizedValues {
                let s = stats[id]
                if options.observer == .entropy {
                    histograms[id] = Histogram(lower: 0, upper: max(abs(s.minimum), abs(s.maximum)))
                } else {
                    histograms[id] = Histogram(lower: s.minimum, upper: s.maximum)
                }
            }
            let entropy = options.observer == .entropy
            try runner.forEachBatch(data.samples) { id, values, _ in
                guard histograms[id] != nil else { return }
                if entropy {
                    let magnitudes = values.map { abs($0) }
                    magnitudes.withUnsafeBufferPointer { histograms[id]!.observe($0) }
                } else {
                    histograms[id]!.observe(values)
                }
            }
        }

        // Ranges -> activation parameters.
        var ranges: [ValueID: (Float, Float)] = [:]
        for id in plan.quantizedValues {
            let s = stats[id]
            guard s.count > 0, s.minimum.isFinite, s.maximum.isFinite else {
                throw CalibrationError("value '\(graph.values[id].name)' was never observed finite during calibration")
            }
            // The graph's outputs (the logits) keep their whole range whatever the observer: the class that
            // wins is an extreme value, and clipping it changes the answer.
            if graph.outputs.contains(id) {
                ranges[id] = (s.minimum, s.maximum)
                continue
            }
            switch options.observer {
            case .minmax: ranges[id] = (s.minimum, s.maximum)
            case .movingAverage: ranges[id] = (s.movingMinimum!, s.movingMaximum!)
            case .mse: ranges[id] = histograms[id]!.mseRange()
            case .percentile:
                let h = histograms[id]!
                ranges[id] = (h.quantile(1 - options.percentile / 100), h.quantile(options.percentile / 100))
            case .entropy:
                // Non-negative tensors (after ReLU) spend all 256 levels on [0, T]; signed ones about half per side.
                let t = histograms[id]!.entropyThreshold(targetBins: s.minimum >= 0 ? 256 : 128)
                ranges[id] = (max(s.minimum, -t), min(s.maximum, t))
            }
        }
        var quantized = graph
        for id in plan.quantizedValues {
            quantized.values[id].quantization = activationParameters(ranges[id]!)
        }
        // Weights and biases of every INT8 layer.
        for index in plan.quantizedNodes {
            let node = graph.nodes[index]
            let inputScale = quantized.values[plan.origin[node.inputs[0]]].quantization!.scale
            let means = options.biasCorrection ? stats[node.inputs[0]].channelMeans : nil
            quantized.nodes[index].op = try quantizeWeights(node, inputScale: inputScale, inputMeans: means, scheme: scheme,
                                                            perChannel: options.perChannelWeights && scheme.perChannelWeights)
        }
        options.log?("quantized \(plan.quantizedNodes.count) layers (\(options.observer) ranges\(options.biasCorrection ? ", bias correction" : ""))")

        // Evaluation: agreement with FP32, per-value SQNR and clipping, per-layer sensitivity, the budget.
        let evaluation = Array(data.samples.prefix(max(1, options.evaluationSamples)))
        let evaluator = try SensitivityAnalysis(float: graph, quantized: quantized, plan: plan, samples: evaluation,
                                                imageShape: data.imageShape, threads: options.threads)
        var report = CalibrationReport(observer: options.observer, scheme: scheme, calibrationImages: data.samples.count,
                                       evaluationImages: evaluation.count, biasCorrection: options.biasCorrection,
                                       equalizedPairs: equalized, perChannelWeights: options.perChannelWeights && scheme.perChannelWeights)
        let valueQuality = try evaluator.valueQuality()
        var alone: [Int: LayerAgreement] = [:]
        if options.sensitivity || options.budget != nil {
            for index in plan.quantizedNodes {
                alone[index] = try evaluator.agreementQuantizingOnly(index)
            }
            options.log?("sensitivity: each of \(plan.quantizedNodes.count) layers quantized alone on \(evaluation.count) images")
        }
        var final = quantized
        var kept: [Int] = []
        var overall = try evaluator.agreement(of: final)
        if let budget = options.budget {
            // Most sensitive first: the larger top-1 drop alone, then the lower cosine alone.
            let order = plan.quantizedNodes.sorted {
                let a = alone[$0]!, b = alone[$1]!
                return a.top1 != b.top1 ? a.top1 < b.top1 : a.cosine < b.cosine
            }
            var next = order.makeIterator()
            while 100 * (1 - overall.top1) > budget, let index = next.next() {
                final.nodes[index].op = unquantized(final.nodes[index].op, original: graph.nodes[index].op)
                kept.append(index)
                overall = try evaluator.agreement(of: final)
                options.log?("budget: keeping '\(graph.nodes[index].name)' in \(scheme.higherPrecision): agreement \(String(printf: "%.2f", 100 * overall.top1)) %")
            }
            report.budget = budget
        }
        report.agreementTop1 = overall.top1
        report.meanCosine = overall.cosine
        report.keptInHigherPrecision = kept.map { graph.nodes[$0].name }
        for index in plan.quantizedNodes {
            let node = graph.nodes[index]
            let q = final.values[node.output].quantization!
            let quality = valueQuality[node.output]
            report.layers.append(LayerReport(node: node.name, op: node.op.name,
                                             precision: kept.contains(index) ? scheme.higherPrecision : "int8",
                                             outputScale: q.scale, outputZeroPoint: Int(q.zeroPoint),
                                             range: [ranges[node.output]!.0, ranges[node.output]!.1],
                                             clippedFraction: quality?.clipped ?? 0, sqnrDB: quality?.sqnr ?? .infinity,
                                             aloneTop1: alone[index]?.top1, aloneCosine: alone[index]?.cosine))
        }
        for index in plan.otherQuantizedNodes {
            let node = graph.nodes[index]
            let q = final.values[node.output].quantization!
            let quality = valueQuality[node.output]
            report.layers.append(LayerReport(node: node.name, op: node.op.name, precision: "int8", outputScale: q.scale,
                                             outputZeroPoint: Int(q.zeroPoint), range: [ranges[node.output]!.0, ranges[node.output]!.1],
                                             clippedFraction: quality?.clipped ?? 0, sqnrDB: quality?.sqnr ?? .infinity,
                                             aloneTop1: nil, aloneCosine: nil))
        }
        let order = Dictionary(uniqueKeysWithValues: graph.nodes.enumerated().map { ($1.name, $0) })
        report.layers.sort { order[$0.node]! < order[$1.node]! }
        if let input = graph.inputs.first, let q = final.values[input].quantization {
            report.inputScale = q.scale
            report.inputZeroPoint = Int(q.zeroPoint)
        }
        report.seconds = Date().timeIntervalSince(started)
        return CalibrationResult(graph: final, report: report)
    }

    /// Asymmetric int8 parameters of a range (widened to include 0, as every quantizer in the field does, so that
    /// zero padding and ReLU's zeros are exact).
    static func activationParameters(_ range: (Float, Float)) -> QuantizationParameters {
        let lo = min(range.0, 0), hi = max(range.1, 0)
        var scale = (hi - lo) / 255
        if !(scale > 0) || !scale.isFinite { scale = 1e-8 }
        let zeroPoint = (-128 - lo / scale).rounded(.toNearestOrEven)
        return QuantizationParameters(scale: scale, zeroPoint: Int32(max(-128, min(127, zeroPoint))))
    }

    /// The node with per-channel (or per-tensor) symmetric int8 weights in [min, max] and an int32 bias in units of
    /// input scale x weight scale; float weights and bias replaced by their dequantized values.
    static func quantizeWeights(_ node: Node, inputScale: Float, inputMeans: [Float]?, scheme: QuantizationScheme,
                                perChannel: Bool) throws -> Operator {
        let qmax = Float(scheme.weightMaximum)
        func quantizeRows(_ weights: [Float], bias: [Float], rows: Int, inputsPerRow: (Int) -> (channel: Int, count: Int)?) -> QuantizedWeights {
            let perRow = weights.count / rows
            var scales = [Float](repeating: 1, count: rows)
            let tensorMax = weights.map { abs($0) }.max() ?? 0
            for r in 0..<rows {
                var m: Float = 0
                for i in (r * perRow)..<((r + 1) * perRow) { m = max(m, abs(weights[i])) }
                let absMax = perChannel ? m : tensorMax
                scales[r] = absMax > 0 ? absMax / qmax : 1
            }
            var values = [Int8](repeating: 0, count: weights.count)
            for r in 0..<rows {
                for i in (r * perRow)..<((r + 1) * perRow) {
                    let q = (weights[i] / scales[r]).rounded(.toNearestOrEven)
                    values[i] = Int8(max(-qmax, min(qmax, q)))
                }
            }
            var correctedBias = bias
            if let means = inputMeans, !means.isEmpty {
                // E[(W - Ŵ) x] per output channel from the input's channel means (padding taken as the mean too).
                for r in 0..<rows {
                    var shift: Double = 0
                    for j in 0..<perRow {
                        let i = r * perRow + j
                        guard let channel = inputsPerRow(j)?.channel, channel < means.count else { continue }
                        shift += Double(weights[i] - Float(values[i]) * scales[r]) * Double(means[channel])
                    }
                    correctedBias[r] += Float(shift)
                }
            }
            let biasQ = (0..<rows).map { r -> Int32 in
                let v = (Double(correctedBias[r]) / (Double(inputScale) * Double(scales[r]))).rounded(.toNearestOrEven)
                return Int32(max(Double(Int32.min), min(Double(Int32.max), v)))
            }
            return QuantizedWeights(values: values, scales: scales, bias: biasQ)
        }
        /// The bias the int32 bias stands for (the weights' counterpart is `QuantizedWeights.dequantized()`).
        func dequantizedBias(_ q: QuantizedWeights) -> [Float] {
            q.bias.indices.map { Float(Double(q.bias[$0]) * Double(inputScale) * Double(q.scales[$0])) }
        }
        switch node.op {
        case .convolution(var conv):
            let taps = conv.window.kernelHeight * conv.window.kernelWidth
            let cig = conv.inputChannelsPerGroup, cog = conv.outputChannels / conv.groups
            // OIHW: element j of output channel r's row is input channel (r / cog) * cig + j / taps.
            let rowsQ = quantizeRowsConv(conv, quantizeRows: quantizeRows, cig: cig, cog: cog, taps: taps)
            conv.weights = rowsQ.dequantized()
            conv.bias = dequantizedBias(rowsQ)
            conv.quantized = rowsQ
            return .convolution(conv)
        case .fullyConnected(var fc):
            let q = quantizeRows(fc.floatWeights, bias: fc.bias, rows: fc.outputs) { j in (channel: j, count: 1) }
            fc.weights = q.dequantized()
            fc.bias = dequantizedBias(q)
            fc.quantized = q
            return .fullyConnected(fc)
        default:
            throw CalibrationError("node '\(node.name)' (\(node.op.name)) has no weights to quantize")
        }
    }

    /// Convolution rows: the input channel of element j of output channel r's row is (r / cog) * cig + j / taps.
    private static func quantizeRowsConv(_ conv: Convolution,
                                         quantizeRows: ([Float], [Float], Int, (Int) -> (channel: Int, count: Int)?) -> QuantizedWeights,
                                         cig: Int, cog: Int, taps: Int) -> QuantizedWeights {
        // Group-aware channel lookup needs the row; quantize group by group and stitch.
        if conv.groups == 1 {
            return quantizeRows(conv.floatWeights, conv.bias, conv.outputChannels) { j in (channel: j / taps, count: 1) }
        }
        let weights = conv.floatWeights
        let perRow = cig * taps
        var values: [Int8] = [], scales: [Float] = [], bias: [Int32] = []
        for g in 0..<conv.groups {
            let rows = (g * cog)..<((g + 1) * cog)
            let part = Array(weights[(rows.lowerBound * perRow)..<(rows.upperBound * perRow)])
            let q = quantizeRows(part, Array(conv.bias[rows]), cog) { j in (channel: g * cig + j / taps, count: 1) }
            values += q.values
            scales += q.scales
            bias += q.bias
        }
        return QuantizedWeights(values: values, scales: scales, bias: bias)
    }

    /// A node's operator without its int8 weights (it runs FP32 on the original float weights).
    static func unquantized(_ op: Operator, original: Operator) -> Operator {
        switch (op, original) {
        case (.convolution, .convolution(var conv)):
            conv.quantized = nil
            return .convolution(conv)
        case (.fullyConnected, .fullyConnected(var fc)):
            fc.quantized = nil
            return .fullyConnected(fc)
        default:
            return op
        }
    }
}

/// Which values get quantization parameters and which nodes get int8 weights.
struct QuantizationPlan {
    /// Convolutions and fully connected layers (graph order).
    let quantizedNodes: [Int]
    /// Adds and global average pools (int8 kernels without weights).
    let otherQuantizedNodes: [Int]
    /// Values with their own parameters: the graph input and the inputs and outputs of the nodes above, except
    /// values computed by MaxPool/Flatten/Reshape, which take their input's (the session propagates them).
    let quantizedValues: [ValueID]
    /// Per value, the value whose parameters it uses: itself, or the start of a MaxPool/Flatten/Reshape chain.
    let origin: [ValueID]

    init(_ graph: Graph) {
        var producer = [Int?](repeating: nil, count: graph.values.count)
        for (i, n) in graph.nodes.enumerated() { producer[n.output] = i }
        func start(_ id: ValueID) -> ValueID {
            var v = id
            while let p = producer[v] {
                switch graph.nodes[p].op {
                case .maxPool, .flatten, .reshape: v = graph.nodes[p].inputs[0]
                default: return v
                }
            }
            return v
        }
        var nodes: [Int] = [], others: [Int] = []
        var values = Set<ValueID>()
        for (i, node) in graph.nodes.enumerated() {
            switch node.op {
            case .convolution, .fullyConnected:
                nodes.append(i)
            case .add, .globalAveragePool:
                others.append(i)
            default:
                continue
            }
            for id in node.inputs { values.insert(start(id)) }
            values.insert(node.output)
        }
        origin = graph.values.indices.map(start)
        quantizedNodes = nodes
        otherQuantizedNodes = others
        quantizedValues = values.sorted()
    }
}
