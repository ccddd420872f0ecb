import EdgeGraph
import EdgeRuntime
import Foundation
import Testing

/// Helpers for the INT8 tests: graphs whose every value is an output, synthetic quantization of a float
/// graph, and the per-node comparison of the INT8 kernels with their float definition.
enum QuantizationSupport {
    /// The graph with every node's output (in order) as a graph output, so a run exposes every value.
    static func exposingAllValues(_ graph: Graph) -> Graph {
        var g = graph
        var seen = Set<ValueID>()
        g.outputs = graph.nodes.map(\.output).filter { seen.insert($0).inserted }
        return g
    }

    /// Quantizes a float graph the way onnxruntime's quantize_static does, from one calibration input:
    /// per-tensor asymmetric int8 parameters from each value's range (MinMax, range widened to include 0; MaxPool,
    /// Flatten and Reshape outputs share their input's),
    /// per-output-channel symmetric int8 weights in [-127, 127], int32 biases in units of input x weight scale.
    /// The float weights and biases are replaced by their dequantized values, as the QDQ importer does.
    static func quantized(_ graph: Graph, calibration input: [Float], shape: Shape) throws -> Graph {
        let all = exposingAllValues(graph)
        let session = try InferenceSession(graph: all, options: SessionOptions(threads: 1))
        _ = try session.run(input: input, shape: shape)
        var ranges = [(Float, Float)?](repeating: nil, count: graph.values.count)
        ranges[graph.inputs[0]] = (input.min()!, input.max()!)
        for (index, id) in all.outputs.enumerated() {
            let values = try session.output(index).values
            ranges[id] = (values.min()!, values.max()!)
        }
        var g = graph
        for id in g.values.indices {
            guard let (lo0, hi0) = ranges[id] else { continue }
            let lo = min(lo0, 0), hi = max(hi0, 0)
            let scale = hi > lo ? (hi - lo) / 255 : 1
            let zero = Int32(max(-128, min(127, (-128 - lo / scale).rounded(.toNearestOrEven))))
            g.values[id].quantization = QuantizationParameters(scale: scale, zeroPoint: zero)
        }
        // As onnxruntime's quantizer: MaxPool, Flatten and Reshape keep their input's parameters.
        for node in g.nodes {
            switch node.op {
            case .maxPool, .flatten, .reshape: g.values[node.output].quantization = g.values[node.inputs[0]].quantization
            default: break
            }
        }
        for index in g.nodes.indices {
            let node = g.nodes[index]
            let inputScale = g.values[node.inputs[0]].quantization!.scale
            switch node.op {
            case .convolution(var conv):
                let perChannel = conv.weights.count / conv.outputChannels
                (conv.weights, conv.bias, conv.quantized) = quantize(conv.weights, bias: conv.bias, rows: conv.outputChannels,
                                                                     perRow: perChannel, inputScale: inputScale)
                g.nodes[index].op = .convolution(conv)
            case .fullyConnected(var fc):
                (fc.weights, fc.bias, fc.quantized) = quantize(fc.weights, bias: fc.bias, rows: fc.outputs, perRow: fc.inputs, inputScale: inputScale)
                g.nodes[index].op = .fullyConnected(fc)
            default: break
            }
        }
        return g
    }

    private static func quantize(_ weights: [Float], bias: [Float], rows: Int, perRow: Int, inputScale: Float)
        -> ([Float], [Float], QuantizedWeights) {
        var values = [Int8](repeating: 0, count: weights.count), scales = [Float](repeating: 1, count: rows)
        var int32Bias = [Int32](repeating: 0, count: rows)
        var dequantized = weights, dequantizedBias = bias
        for r in 0..<rows {
            let row = weights[(r * perRow)..<((r + 1) * perRow)]
            let maxAbs = row.map(abs).max() ?? 0
            let s: Float = maxAbs > 0 ? maxAbs / 127 : 1
            scales[r] = s
            for k in 0..<perRow {
                let q = Int8(max(-127, min(127, (weights[r * perRow + k] / s).rounded(.toNearestOrEven))))
                values[r * perRow + k] = q
                dequantized[r * perRow + k] = Float(q) * s
            }
            let b = (Double(bias[r]) / (Double(inputScale) * Double(s))).rounded(.toNearestOrEven)
            int32Bias[r] = Int32(max(-2_147_483_648, min(2_147_483_647, b)))
            dequantizedBias[r] = Float(Double(int32Bias[r]) * Double(inputScale) * Double(s))
        }
        return (dequantized, dequantizedBias, QuantizedWeights(values: values, scales: scales, bias: int32Bias))
    }

    /// Every INT8 node, fed exactly the int8 inputs it sees in a full INT8 run, against the float definition of
    /// the same node (FP32 with fake quantization) on the same inputs: at most one output step apart. Also the
    /// node alone must give the same bytes as inside the full run. Returns the worst difference in steps.
    @discardableResult
    static func checkEachNodeWithinOneStep(_ graph: Graph, input: [Float], shape: Shape, label: String,
                                           sourceLocation: SourceLocation = #_sourceLocation) throws -> Float {
        let all = exposingAllValues(graph)
        let full = try InferenceSession(graph: all, options: SessionOptions(threads: 1))
        _ = try full.run(input: input, shape: shape)
        let shapes = try #require(full.shapes)
        var logical = [ValueID: [Float]]()
        logical[graph.inputs[0]] = input
        for (index, id) in all.outputs.enumerated() { logical[id] = try full.output(index).values }
        let q = full.valueQuantization
        var worstAll: Float = 0
        var checked = 0
        for (index, node) in graph.nodes.enumerated() where full.nodeExecutions[index].precision == .int8 {
            if case .flatten = node.op { continue }
            if case .reshape = node.op { continue }
            var single = Graph()
            var mapping = [ValueID: ValueID]()
            for id in node.inputs where mapping[id] == nil {
                mapping[id] = single.addValue(graph.values[id].name)
                single.values[mapping[id]!].quantization = q[id]
                single.inputs.append(mapping[id]!)
            }
            let out = single.addValue(graph.values[node.output].name)
            single.values[out].quantization = q[node.output]
            single.addNode(node.name, node.op, inputs: node.inputs.map { mapping[$0]! }, output: out)
            single.outputs = [out]
            let inputs = Array(Set(node.inputs)).sorted { mapping[$0]! < mapping[$1]! }
            func run(_ precision: Precision) throws -> [Float] {
                let s = try InferenceSession(graph: single, options: SessionOptions(threads: 1, precision: precision))
                try s.prepare(inputShapes: inputs.map { shapes[$0] })
                for (i, id) in inputs.enumerated() {
                    try logical[id]!.withUnsafeBufferPointer { try s.setInput(i, nchw: $0.baseAddress!) }
                }
                try s.execute()
                return try s.output().values
            }
            let int8 = try run(.auto), float = try run(.fp32)
            let step = q[node.output]!.scale
            let worst = zip(int8, float).map { abs($0 - $1) / step }.max() ?? 0
            worstAll = max(worstAll, worst)
            #expect(worst <= 1.001, "\(label) node \(node.name) (\(node.op.name)): INT8 is \(worst) steps from its float definition",
                    sourceLocation: sourceLocation)
            #expect(int8 == logical[node.output]!, "\(label) node \(node.name): alone it differs from the same node in the full run",
                    sourceLocation: sourceLocation)
            checked += 1
        }
        #expect(checked > 0, "\(label): no INT8 node", sourceLocation: sourceLocation)
        print("int8-per-node-steps \(label) worst \(worstAll) over \(checked) nodes")
        return worstAll
    }

    /// The int8 bytes of every value a node computes in INT8, for bit-exactness comparisons.
    static func int8Values(_ graph: Graph, input: [Float], shape: Shape, options: SessionOptions) throws -> [[Int8]] {
        let all = exposingAllValues(graph)
        let session = try InferenceSession(graph: all, options: options)
        _ = try session.run(input: input, shape: shape)
        return try all.outputs.indices.compactMap { try session.quantizedOutput($0)?.values }
    }
}

/// A deterministic pseudo-random input in [-2, 2].
func syntheticInput(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed &+ 0x9E37_79B9_7F4A_7C15
    return (0..<count).map { _ in
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Float(Double(z >> 11) / Double(1 << 53) * 4 - 2)
    }
}
