import EdgeGraph

/// How a node is computed.
public enum NodePrecision: String, Sendable, CustomStringConvertible {
    case int8
    case fp32
    public var description: String { rawValue }
}

/// What a session does with one graph node, for reports (`resnet-edge bench`, the probe).
public struct NodeExecution: Sendable {
    public let name: String
    public let op: String
    public let precision: NodePrecision
    /// The kernel (a CKernels descriptor name for INT8; "view" for a free reshape, decided per plan).
    public let kernel: String
    /// Why an FP32 node is not INT8 (nil for INT8 nodes and for FP32 graphs).
    public let reason: String?
}

/// Which nodes run INT8 and how every value is stored, decided once per session from the graph alone
/// (no shapes): mixed precision in general, not as a special case.
///
/// - A value's quantization is the model's (its Q/DQ pair), or, where the model has none, its input's
///   through operators that do not change values' scale (MaxPool, Flatten, Reshape).
/// - A node runs INT8 when it has an INT8 kernel, its weights (if any) are quantized, and its inputs and
///   output all carry quantization; otherwise FP32.
/// - A value is stored as int8 when an INT8 node produces it, as float otherwise (graph inputs are float).
///   Where a consumer wants the other form, a conversion step right after the producer writes a second
///   buffer: quantize (round half to even, saturate) or dequantize.
/// - A float value that carries quantization and is read as float (by an FP32 node, or as a graph output)
///   is fake-quantized in place, so FP32 nodes see exactly the values the quantized model defines.
///   With `Precision.fp32` every node is FP32 and this is the whole story: a float simulation of the QDQ model.
struct ExecutionStrategy {
    enum Representation { case float, int8 }

    let quantization: [QuantizationParameters?]
    let runsINT8: [Bool]
    let fp32Reason: [String?]
    let native: [Representation]
    let needsFloat: [Bool]
    let needsInt8: [Bool]
    let fakeQuantize: [Bool]

    init(graph: Graph, precision: Precision, int8Input: Bool = false) {
        let count = graph.values.count
        var quantization = graph.values.map(\.quantization)
        for node in graph.nodes where quantization[node.output] == nil {
            switch node.op {
            case .maxPool, .flatten, .reshape: quantization[node.output] = quantization[node.inputs[0]]
            default: break
            }
        }
        var native = [Representation](repeating: .float, count: count)
        var runsINT8 = [Bool](repeating: false, count: graph.nodes.count)
        var reasons = [String?](repeating: nil, count: graph.nodes.count)
        let graphIsQuantized = quantization.contains { $0 != nil }
        for (index, node) in graph.nodes.enumerated() {
            let reason = Self.fp32Reason(node, graph: graph, quantization: quantization, native: native, precision: precision)
            if let reason {
                reasons[index] = graphIsQuantized ? reason : nil
            } else {
                runsINT8[index] = true
                native[node.output] = .int8
            }
        }
        var needsFloat = [Bool](repeating: false, count: count), needsInt8 = needsFloat
        for (index, node) in graph.nodes.enumerated() {
            for id in node.inputs {
                if runsINT8[index] { needsInt8[id] = true } else { needsFloat[id] = true }
            }
        }
        for id in graph.outputs { needsFloat[id] = true }
        // A quantized graph input read only by INT8 nodes can be handed over as int8 (no quantize step).
        if int8Input {
            for id in graph.inputs where quantization[id] != nil && needsInt8[id] && !needsFloat[id] {
                native[id] = .int8
            }
        }
        self.quantization = quantization
        self.runsINT8 = runsINT8
        self.fp32Reason = reasons
        self.native = native
        self.needsFloat = needsFloat
        self.needsInt8 = needsInt8
        fakeQuantize = (0..<count).map { native[$0] == .float && quantization[$0] != nil && needsFloat[$0] }
    }

    /// Nil when the node can run INT8; else why not.
    private static func fp32Reason(_ node: Node, graph: Graph, quantization: [QuantizationParameters?],
                                   native: [Representation], precision: Precision) -> String? {
        if precision == .fp32 { return "precision fp32" }
        func missing() -> String? {
            for id in node.inputs + [node.output] where quantization[id] == nil {
                return "'\(graph.values[id].name)' has no quantization parameters"
            }
            return nil
        }
        switch node.op {
        case .convolution(let conv):
            if conv.quantized == nil { return "its weights are not quantized" }
            return missing()
        case .fullyConnected(let fc):
            if fc.quantized == nil { return "its weights are not quantized" }
            return missing()
        case .add:
            return missing()
        case .globalAveragePool:
            return missing()
        case .maxPool:
            if let why = missing() { return why }
            if quantization[node.inputs[0]] != quantization[node.output] {
                return "its output is quantized differently from its input (\(quantization[node.output]!) vs \(quantization[node.inputs[0]]!))"
            }
            return nil
        case .flatten, .reshape:
            if let why = missing() { return why }
            if quantization[node.inputs[0]] != quantization[node.output] {
                return "its output is quantized differently from its input"
            }
            // A reshape follows its input: INT8 (a view or an int8 reorder) only after an INT8 producer.
            return native[node.inputs[0]] == .int8 ? nil : "its input is computed in FP32"
        case .channelAffine, .activation, .averagePool, .matMul:
            return "no INT8 kernel for \(node.op.name)"
        }
    }
}
