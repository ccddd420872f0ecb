import EdgeGraph
import ONNXProtobuf

/// What an ONNX tensor name stands for while the graph is built.
private enum Binding {
    case value(ValueID)
    case constant(ConstantTensor)
    /// The int8/uint8 output of a QuantizeLinear on an activation: only a DequantizeLinear may read it,
    /// and the pair becomes quantization parameters on the activation (the QDQ format).
    case quantized(ValueID, QuantizationParameters)
}

/// Lowers one ONNX GraphProto, node by node, onto the graph IR.
struct GraphBuilder {
    let opset: Int
    private var graph = Graph()
    private var bindings: [String: Binding] = [:]
    /// How many ONNX node inputs and graph outputs refer to each name: a producer may absorb its
    /// consumer (BatchNorm folding, activation fusion) only when that consumer is the single user.
    private var uses: [String: Int] = [:]
    /// The node that produces each value, for folding into it.
    private var producer: [ValueID: Int] = [:]

    init(opset: Int) { self.opset = opset }

    /// Inputs each operator cannot do without (optional ones, like Conv's bias, are checked where used).
    static let requiredInputs: [String: Int] = [
        "Conv": 2, "BatchNormalization": 5, "Relu": 1, "Clip": 1, "Add": 2, "MaxPool": 1, "AveragePool": 1,
        "GlobalAveragePool": 1, "Flatten": 1, "Reshape": 2, "Gemm": 2, "MatMul": 2, "Identity": 1, "Dropout": 1,
        "QuantizeLinear": 2, "DequantizeLinear": 2,
    ]

    mutating func build(_ proto: Onnx_GraphProto) throws -> Graph {
        for node in proto.node {
            for name in node.input where !name.isEmpty { uses[name, default: 0] += 1 }
        }
        for output in proto.output { uses[output.name, default: 0] += 1 }

        for (index, initializer) in proto.initializer.enumerated() {
            let tensor = try ConstantTensor(initializer, context: "initializer #\(index)")
            bindings[initializer.name] = .constant(tensor)
        }
        for input in proto.input where bindings[input.name] == nil {
            try addGraphInput(input)
        }
        guard !graph.inputs.isEmpty else { throw ONNXImportError("the graph has no inputs that are not initializers") }

        for (index, node) in proto.node.enumerated() {
            try lower(node, index: index)
        }

        for output in proto.output {
            switch bindings[output.name] {
            case .value(let id)?:
                graph.values[id].name = output.name
                graph.outputs.append(id)
            case .constant?:
                throw ONNXImportError("graph output '\(output.name)' is a constant; resnet-edge needs outputs computed from the input")
            case .quantized?:
                throw ONNXImportError("graph output '\(output.name)' is an int8 tensor; resnet-edge's models output float (end the graph with DequantizeLinear)")
            case nil:
                throw ONNXImportError("graph output '\(output.name)' is not produced by any node")
            }
        }
        guard !graph.outputs.isEmpty else { throw ONNXImportError("the graph has no outputs") }
        try graph.validate()
        return graph
    }

    private mutating func addGraphInput(_ input: Onnx_ValueInfoProto) throws {
        let type = input.type.tensorType
        guard input.type.tensorType.elemType == Int32(Onnx_TensorProto.DataType.float.rawValue) else {
            throw ONNXImportError("graph input '\(input.name)' has element type #\(type.elemType); resnet-edge takes float32 inputs")
        }
        let dims: [DeclaredDimension]? = type.hasShape ? type.shape.dim.map { d in
            if case .dimValue(let v)? = d.value, v > 0 { return .fixed(Int(v)) }
            if case .dimParam(let p)? = d.value { return .symbolic(p) }
            return .symbolic("")
        } : nil
        let id = graph.addValue(input.name, declaredShape: dims)
        graph.inputs.append(id)
        bindings[input.name] = .value(id)
    }

    // MARK: - Node lowering

    private mutating func lower(_ node: Onnx_NodeProto, index: Int) throws {
        let name = node.name.isEmpty ? "#\(index) (\(node.opType))" : node.name
        let context = NodeContext(node: node, name: name)
        guard node.domain.isEmpty || node.domain == "ai.onnx" else {
            throw context.error("operator domain '\(node.domain)' is not supported; supported: the default ai.onnx domain")
        }
        // Every input must be bound before use: catches dangling names and missing initializers.
        for input in node.input where !input.isEmpty && bindings[input] == nil {
            throw context.error("input '\(input)' is not produced by any node and is not an initializer or graph input")
        }
        guard let output = node.output.first, !output.isEmpty else { throw context.error("has no output") }
        if let arity = Self.requiredInputs[node.opType], node.input.count < arity || node.input.prefix(arity).contains(where: \.isEmpty) {
            let required = node.opType == "Reshape" && opset < 5 ? 1 : arity
            if node.input.count < required || node.input.prefix(required).contains(where: \.isEmpty) {
                throw context.error("needs \(required) input(s), has \(node.input.filter { !$0.isEmpty }.count)")
            }
        }

        switch node.opType {
        case "Conv": try lowerConv(context)
        case "BatchNormalization": try lowerBatchNorm(context)
        case "Relu":
            try context.checkAttributes([])
            try fuseOrAdd(context, .relu)
        case "Clip": try lowerClip(context)
        case "Add": try lowerAdd(context)
        case "MaxPool":
            try context.checkAttributes(["auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "storage_order", "strides"])
            if context.int("storage_order", default: 0) != 0 {
                throw context.error("attribute storage_order=1 (column-major indices) is not supported; supported: 0")
            }
            try requireUnused(context, outputsAfter: 1, what: "the Indices output")
            try addNode(context, .maxPool(try window(context)), inputs: [try value(context, 0)])
        case "AveragePool":
            try context.checkAttributes(["auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides"])
            try addNode(context, .averagePool(try window(context), countIncludePad: context.int("count_include_pad", default: 0) != 0),
                        inputs: [try value(context, 0)])
        case "GlobalAveragePool":
            try context.checkAttributes([])
            try addNode(context, .globalAveragePool, inputs: [try value(context, 0)])
        case "Flatten":
            try context.checkAttributes(["axis"])
            try addNode(context, .flatten(axis: context.int("axis", default: 1)), inputs: [try value(context, 0)])
        case "Reshape": try lowerReshape(context)
        case "Gemm": try lowerGemm(context)
        case "MatMul": try lowerMatMul(context)
        case "Identity":
            try context.checkAttributes([])
            bindings[output] = bindings[node.input[0]]
        case "Dropout":
            // Inference: Dropout is the identity. A training_mode input that is true would change that.
            try context.checkAttributes(["seed", "ratio", "is_test"])
            if node.input.count > 2, !node.input[2].isEmpty {
                guard case .constant(let mode)? = bindings[node.input[2]], mode.ints.allSatisfy({ $0 == 0 }) else {
                    throw context.error("training_mode must be a constant false for inference")
                }
            }
            try requireUnused(context, outputsAfter: 1, what: "the mask output")
            bindings[output] = bindings[node.input[0]]
        case "Constant": try lowerConstant(context)
        case "QuantizeLinear": try lowerQuantize(context)
        case "DequantizeLinear": try lowerDequantize(context)
        default:
            throw ONNXImportError("unsupported operator '\(node.opType)' in node '\(name)'; supported: \(ONNXImporter.supportedOperators.joined(separator: ", "))")
        }
    }

    private mutating func lowerConv(_ c: NodeContext) throws {
        try c.checkAttributes(["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"])
        let x = try value(c, 0)
        let w = try constant(c, 1, role: "weights")
        guard w.dims.count == 4 else {
            throw c.error("only 2-D convolutions are supported; the weights have shape \(w.dims)")
        }
        guard w.elementCount > 0 else { throw c.error("the weights have an empty shape \(w.dims)") }
        let groups = c.int("group", default: 1)
        guard groups >= 1, w.dims[0] % groups == 0 else { throw c.error("group=\(groups) does not divide \(w.dims[0]) output channels") }
        if let kernel = c.ints("kernel_shape"), kernel != [w.dims[2], w.dims[3]] {
            throw c.error("kernel_shape \(kernel) disagrees with the weights' shape \(w.dims)")
        }
        var bias: [Float]? = nil
        if c.node.input.count > 2, !c.node.input[2].isEmpty {
            let b = try constant(c, 2, role: "bias")
            guard b.elementCount == w.dims[0] else { throw c.error("bias has \(b.elementCount) values for \(w.dims[0]) output channels") }
            bias = b.floats
        }
        var conv = Convolution(window: try window(c, kernel: (w.dims[2], w.dims[3])), groups: groups,
                               outputChannels: w.dims[0], inputChannelsPerGroup: w.dims[1], weights: w.floats, bias: bias)
        if let origin = w.quantizedOrigin {
            conv.quantized = try quantizedWeights(c, origin, outputs: w.dims[0], axis: 0,
                                                  bias: c.node.input.count > 2 && !c.node.input[2].isEmpty ? try constant(c, 2, role: "bias") : nil)
        }
        try addNode(c, .convolution(conv), inputs: [x])
    }

    private mutating func lowerBatchNorm(_ c: NodeContext) throws {
        try c.checkAttributes(["epsilon", "momentum", "spatial", "training_mode"])
        if c.int("training_mode", default: 0) != 0 { throw c.error("training_mode=1 is not supported; export the model in eval mode") }
        if opset < 9, c.int("spatial", default: 1) != 1 { throw c.error("spatial=0 is not supported") }
        try requireUnused(c, outputsAfter: 1, what: "the training outputs (running mean/var)")
        let x = try value(c, 0)
        let gamma = try constant(c, 1, role: "scale"), beta = try constant(c, 2, role: "bias")
        let mean = try constant(c, 3, role: "mean"), variance = try constant(c, 4, role: "variance")
        let channels = gamma.elementCount
        guard [beta, mean, variance].allSatisfy({ $0.elementCount == channels }) else {
            throw c.error("scale, bias, mean and variance must all have \(channels) values")
        }
        let epsilon = Double(c.float("epsilon", default: 1e-5))
        // y = (x - mean) / sqrt(var + eps) * gamma + beta = x * scale + shift, computed in double.
        var scale = [Float](repeating: 0, count: channels), shift = scale
        for i in 0..<channels {
            let s = Double(gamma.floats[i]) / (Double(variance.floats[i]) + epsilon).squareRoot()
            scale[i] = Float(s)
            shift[i] = Float(Double(beta.floats[i]) - Double(mean.floats[i]) * s)
        }
        // Fold into the producing convolution when this BatchNorm is its only consumer.
        if let p = producer[x], uses[c.node.input[0]] == 1, case .convolution(var conv) = graph.nodes[p].op,
           conv.activation == .none, conv.outputChannels == channels, conv.quantized == nil, graph.values[x].quantization == nil {
            let perChannel = conv.weights.count / channels
            for o in 0..<channels {
                let s = Double(scale[o])
                for k in 0..<perChannel { conv.weights[o * perChannel + k] = Float(Double(conv.weights[o * perChannel + k]) * s) }
                conv.bias[o] = Float(Double(conv.bias[o]) * s + Double(shift[o]))
            }
            graph.nodes[p].op = .convolution(conv)
            alias(c, to: x)
            return
        }
        try addNode(c, .channelAffine(scale: scale, shift: shift, activation: .none), inputs: [x])
    }

    private mutating func lowerClip(_ c: NodeContext) throws {
        var lower = -Float.infinity, upper = Float.infinity
        if opset < 11 {
            try c.checkAttributes(["min", "max"])
            lower = c.float("min", default: lower)
            upper = c.float("max", default: upper)
        } else {
            try c.checkAttributes([])
            if c.node.input.count > 1, !c.node.input[1].isEmpty { lower = try scalar(c, 1, role: "min") }
            if c.node.input.count > 2, !c.node.input[2].isEmpty { upper = try scalar(c, 2, role: "max") }
        }
        guard lower <= upper else { throw c.error("min \(lower) is greater than max \(upper)") }
        let activation: Activation = (lower == 0 && upper == .infinity) ? .relu : .clip(min: lower, max: upper)
        try fuseOrAdd(c, activation)
    }

    private mutating func lowerAdd(_ c: NodeContext) throws {
        try c.checkAttributes([])
        guard c.node.input.count == 2 else { throw c.error("expects two inputs") }
        switch (bindings[c.node.input[0]], bindings[c.node.input[1]]) {
        case (.value(let a)?, .value(let b)?):
            try addNode(c, .add(.none), inputs: [a, b])
        case (.value(let a)?, .constant(let k)?), (.constant(let k)?, .value(let a)?):
            // MatMul + Add(bias), as some exporters write a Linear layer: fold the bias.
            var input = c.node.input[1]
            if case .value? = bindings[c.node.input[0]] { input = c.node.input[0] }
            if let p = producer[a], uses[input] == 1, case .fullyConnected(var fc) = graph.nodes[p].op,
               fc.activation == .none, k.elementCount == fc.outputs, k.dims.last == fc.outputs {
                for i in 0..<fc.outputs { fc.bias[i] += k.floats[i] }
                graph.nodes[p].op = .fullyConnected(fc)
                alias(c, to: a)
                return
            }
            throw c.error("adding a constant tensor of shape \(k.dims) is supported only as the bias of a preceding MatMul/Gemm")
        case (.quantized?, _), (_, .quantized?):
            throw Self.quantizedConsumer(c, c.node.input.joined(separator: "', '"))
        default:
            throw c.error("adding two constants is not supported")
        }
    }

    private mutating func lowerReshape(_ c: NodeContext) throws {
        try c.checkAttributes(["allowzero", "shape"])
        let target: [Int]
        if opset < 5 {
            guard let shape = c.ints("shape") else { throw c.error("missing attribute shape") }
            target = shape
        } else {
            target = try constant(c, 1, role: "shape").ints.map { Int($0) }
        }
        if c.int("allowzero", default: 0) != 0, target.contains(0) {
            throw c.error("allowzero=1 with a 0 in the target shape is not supported")
        }
        try addNode(c, .reshape(target), inputs: [try value(c, 0)])
    }

    private mutating func lowerGemm(_ c: NodeContext) throws {
        try c.checkAttributes(["alpha", "beta", "transA", "transB"])
        if c.int("transA", default: 0) != 0 {
            throw c.error("attribute transA=1 is not supported; supported: transA=0 (activations as rows)")
        }
        let x = try value(c, 0)
        let b = try constant(c, 1, role: "weights (B)")
        guard b.dims.count == 2 else { throw c.error("B must be a matrix, got shape \(b.dims)") }
        let transB = c.int("transB", default: 0) != 0
        let (outputs, inputs) = transB ? (b.dims[0], b.dims[1]) : (b.dims[1], b.dims[0])
        let alpha = c.float("alpha", default: 1), beta = c.float("beta", default: 1)
        var weights = [Float](repeating: 0, count: outputs * inputs)
        for o in 0..<outputs {
            for i in 0..<inputs { weights[o * inputs + i] = alpha * (transB ? b.floats[o * inputs + i] : b.floats[i * outputs + o]) }
        }
        var bias = [Float](repeating: 0, count: outputs)
        if c.node.input.count > 2, !c.node.input[2].isEmpty {
            let k = try constant(c, 2, role: "bias (C)")
            if k.elementCount == outputs {
                bias = k.floats.map { beta * $0 }
            } else if k.elementCount == 1 {
                bias = [Float](repeating: beta * k.floats[0], count: outputs)
            } else {
                throw c.error("C of shape \(k.dims) is not supported; supported: a scalar or one value per output (\(outputs))")
            }
        }
        var fc = FullyConnected(inputs: inputs, outputs: outputs, weights: weights, bias: bias)
        if let origin = b.quantizedOrigin {
            guard alpha == 1, beta == 1 else { throw c.error("a quantized Gemm with alpha or beta other than 1 is not supported") }
            var q = try quantizedWeights(c, origin, outputs: outputs, axis: transB ? 0 : 1,
                                         bias: c.node.input.count > 2 && !c.node.input[2].isEmpty ? try constant(c, 2, role: "bias (C)") : nil)
            if !transB {  // weights are kept as [outputs][inputs]
                var t = [Int8](repeating: 0, count: q.values.count)
                for o in 0..<outputs { for i in 0..<inputs { t[o * inputs + i] = q.values[i * outputs + o] } }
                q.values = t
            }
            fc.quantized = q
        }
        try addNode(c, .fullyConnected(fc), inputs: [x])
    }

    private mutating func lowerMatMul(_ c: NodeContext) throws {
        try c.checkAttributes([])
        let a = try value(c, 0)
        switch bindings[c.node.input[1]] {
        case .constant(let b)?:
            guard b.dims.count == 2 else { throw c.error("a constant B must be a matrix, got shape \(b.dims)") }
            let (inputs, outputs) = (b.dims[0], b.dims[1])
            var weights = [Float](repeating: 0, count: outputs * inputs)
            for o in 0..<outputs { for i in 0..<inputs { weights[o * inputs + i] = b.floats[i * outputs + o] } }
            try addNode(c, .fullyConnected(FullyConnected(inputs: inputs, outputs: outputs, weights: weights)), inputs: [a])
        case .value(let b)?:
            try addNode(c, .matMul, inputs: [a, b])
        case .quantized?:
            throw Self.quantizedConsumer(c, c.node.input[1])
        case nil:
            throw c.error("input '\(c.node.input[1])' is not produced by any node")
        }
    }

    private mutating func lowerConstant(_ c: NodeContext) throws {
        guard c.node.attribute.count == 1, let attribute = c.node.attribute.first else {
            throw c.error("expects exactly one value attribute")
        }
        let tensor: ConstantTensor
        switch attribute.name {
        case "value": tensor = try ConstantTensor(attribute.t, context: "'\(c.node.output[0])'")
        case "value_float": tensor = ConstantTensor(dims: [], floats: [attribute.f])
        case "value_floats": tensor = ConstantTensor(dims: [attribute.floats.count], floats: attribute.floats)
        case "value_int": tensor = ConstantTensor(dims: [], ints: [attribute.i])
        case "value_ints": tensor = ConstantTensor(dims: [attribute.ints.count], ints: attribute.ints)
        default: throw c.error("attribute \(attribute.name) is not supported; supported: value, value_float(s), value_int(s)")
        }
        bindings[c.node.output[0]] = .constant(tensor)
    }

    // MARK: - QDQ (onnxruntime quantize_static, QuantFormat.QDQ)

    private mutating func lowerQuantize(_ c: NodeContext) throws {
        try c.checkAttributes(["axis", "saturate", "output_dtype", "block_size"])
        let x = try value(c, 0)
        let params = try activationParameters(c)
        if let existing = graph.values[x].quantization, existing != params {
            throw c.error("'\(c.node.input[0])' is quantized twice with different parameters (\(existing) and \(params))")
        }
        bindings[c.node.output[0]] = .quantized(x, params)
    }

    private mutating func lowerDequantize(_ c: NodeContext) throws {
        try c.checkAttributes(["axis", "block_size", "output_dtype"])
        if c.int("block_size", default: 0) != 0 { throw c.error("blocked quantization (block_size) is not supported") }
        switch bindings[c.node.input[0]] {
        case .quantized(let x, let params)?:
            // A QDQ pair on an activation: the activation is quantized with these parameters.
            let scale = try constant(c, 1, role: "scale")
            let zero = c.node.input.count > 2 && !c.node.input[2].isEmpty ? try constant(c, 2, role: "zero point") : nil
            let own = try Self.int8Domain(c, scale: scale, zeroPoint: zero)
            guard own == params else { throw c.error("its scale/zero point \(own) differ from the QuantizeLinear's \(params)") }
            graph.values[x].quantization = params
            bindings[c.node.output[0]] = .value(x)
        case .constant(let q)?:
            // A quantized constant (weights, bias): dequantize at import, keep the integers beside.
            guard q.elementType == .int8 || q.elementType == .uint8 || q.elementType == .integer else {
                throw c.error("the quantized input must be an integer tensor")
            }
            let scale = try constant(c, 1, role: "scale")
            let zero = c.node.input.count > 2 && !c.node.input[2].isEmpty ? try constant(c, 2, role: "zero point") : nil
            var axis = c.int("axis", default: 1)
            if axis < 0 { axis += q.dims.count }
            let perAxis = scale.elementCount > 1
            if perAxis {
                guard axis >= 0, axis < q.dims.count, q.dims[axis] == scale.elementCount else {
                    throw c.error("\(scale.elementCount) scales do not match axis \(axis) of shape \(q.dims)")
                }
            }
            let zeroPoints = zero?.ints ?? [Int64](repeating: 0, count: scale.elementCount)
            guard zeroPoints.count == scale.elementCount else { throw c.error("scale and zero point differ in size") }
            let inner = perAxis ? q.dims[(axis + 1)...].reduce(1, *) : 1
            let channels = scale.elementCount
            var floats = [Float](repeating: 0, count: q.elementCount)
            for i in 0..<q.elementCount {
                let ch = perAxis ? (i / inner) % channels : 0
                floats[i] = Float(q.ints[i] - zeroPoints[ch]) * scale.floats[ch]
            }
            var tensor = ConstantTensor(dims: q.dims, floats: floats)
            tensor.quantizedOrigin = QuantizedOrigin(values: q.ints, scales: scale.floats, zeroPoints: zeroPoints, axis: axis, elementType: q.elementType)
            bindings[c.node.output[0]] = .constant(tensor)
        case .value?:
            throw c.error("dequantizes the activation '\(c.node.input[0])', which no QuantizeLinear produced")
        case nil:
            throw c.error("input '\(c.node.input[0])' is not produced by any node")
        }
    }

    /// Per-tensor activation parameters of a QuantizeLinear, mapped to the int8 domain
    /// (uint8 q - 128 with zero point - 128 is the same real value, exactly).
    private func activationParameters(_ c: NodeContext) throws -> QuantizationParameters {
        let scale = try constant(c, 1, role: "scale")
        let zero = c.node.input.count > 2 && !c.node.input[2].isEmpty ? try constant(c, 2, role: "zero point") : nil
        return try Self.int8Domain(c, scale: scale, zeroPoint: zero)
    }

    private static func int8Domain(_ c: NodeContext, scale: ConstantTensor, zeroPoint: ConstantTensor?) throws -> QuantizationParameters {
        guard scale.elementCount == 1, zeroPoint.map({ $0.elementCount == 1 }) ?? true else {
            throw c.error("activations must be quantized per tensor (one scale and zero point)")
        }
        let s = scale.floats[0]
        guard s.isFinite, s > 0 else { throw c.error("scale \(s) must be positive and finite") }
        // No zero-point input means uint8 with zero point 0 (the ONNX default).
        let type = zeroPoint?.elementType ?? .uint8
        let z = zeroPoint?.ints[0] ?? 0
        switch type {
        case .uint8: return QuantizationParameters(scale: s, zeroPoint: Int32(z) - 128)
        case .int8: return QuantizationParameters(scale: s, zeroPoint: Int32(z))
        default: throw c.error("activations must be quantized to int8 or uint8")
        }
    }

    /// Checks that dequantized weights are what the int8 kernels take (per output channel, symmetric,
    /// int8 in [-127, 127]) and returns them with the int32 bias.
    private func quantizedWeights(_ c: NodeContext, _ origin: QuantizedOrigin, outputs: Int, axis: Int, bias: ConstantTensor?) throws -> QuantizedWeights {
        guard origin.elementType == .int8 else {
            throw c.error("weights quantized to uint8 are not supported; quantize weights to int8 (QInt8)")
        }
        guard origin.zeroPoints.allSatisfy({ $0 == 0 }) else {
            throw c.error("weights with a non-zero zero point are not supported; quantize weights symmetrically")
        }
        let scales: [Float]
        if origin.scales.count == 1 {
            scales = [Float](repeating: origin.scales[0], count: outputs)
        } else {
            guard origin.axis == axis, origin.scales.count == outputs else {
                throw c.error("weights must be quantized per output channel (axis \(axis)), got \(origin.scales.count) scales on axis \(origin.axis)")
            }
            scales = origin.scales
        }
        if let low = origin.values.first(where: { $0 < -127 }) {
            throw c.error("weight value \(low) is outside [-127, 127], which the NEON kernels need; quantize with a symmetric range")
        }
        var int32Bias = [Int32](repeating: 0, count: outputs)
        if let bias {
            guard let b = bias.quantizedOrigin, b.values.count == outputs else {
                throw c.error("a quantized layer needs an int32 bias from DequantizeLinear")
            }
            int32Bias = b.values.map { Int32(clamping: $0) }
        }
        return QuantizedWeights(values: origin.values.map { Int8($0) }, scales: scales, bias: int32Bias)
    }

    // MARK: - Helpers

    /// Fuses an activation into the producer of the input when this node is its only consumer;
    /// otherwise adds it as a node of its own.
    private mutating func fuseOrAdd(_ c: NodeContext, _ activation: Activation) throws {
        let x = try value(c, 0)
        // Not into a producer whose output is already quantized: that output keeps its own parameters.
        if let p = producer[x], uses[c.node.input[0]] == 1, graph.values[x].quantization == nil,
           let fused = graph.nodes[p].op.fusing(activation) {
            graph.nodes[p].op = fused
            alias(c, to: x)
            return
        }
        try addNode(c, .activation(activation), inputs: [x])
    }

    /// The node's output becomes another name for `id` (the value a folded node wrote into).
    private mutating func alias(_ c: NodeContext, to id: ValueID) {
        bindings[c.node.output[0]] = .value(id)
        graph.values[id].name = c.node.output[0]
    }

    private mutating func addNode(_ c: NodeContext, _ op: Operator, inputs: [ValueID]) throws {
        let output = graph.addValue(c.node.output[0])
        producer[output] = graph.nodes.count
        graph.addNode(c.name, op, inputs: inputs, output: output)
        bindings[c.node.output[0]] = .value(output)
    }

    private func value(_ c: NodeContext, _ index: Int) throws -> ValueID {
        guard index < c.node.input.count, !c.node.input[index].isEmpty else { throw c.error("input #\(index) is missing") }
        switch bindings[c.node.input[index]] {
        case .value(let id)?: return id
        case .constant?: throw c.error("input '\(c.node.input[index])' is a constant where an activation is expected; constant inputs are not supported there")
        case .quantized?: throw Self.quantizedConsumer(c, c.node.input[index])
        case nil: throw c.error("input '\(c.node.input[index])' is not produced by any node")
        }
    }

    static func quantizedConsumer(_ c: NodeContext, _ name: String) -> ONNXImportError {
        c.error("reads the int8 output '\(name)' of a QuantizeLinear; only QuantizeLinear -> DequantizeLinear pairs (the QDQ format) are supported, not QOperator models")
    }

    private func constant(_ c: NodeContext, _ index: Int, role: String) throws -> ConstantTensor {
        guard index < c.node.input.count, !c.node.input[index].isEmpty else { throw c.error("the \(role) input is missing") }
        switch bindings[c.node.input[index]] {
        case .constant(let t)?: return t
        case .value?, .quantized?: throw c.error("the \(role) '\(c.node.input[index])' are computed at run time; only constant (initializer) \(role) are supported")
        case nil: throw c.error("the \(role) '\(c.node.input[index])' are not defined: no initializer, Constant node or graph input has that name")
        }
    }

    private func scalar(_ c: NodeContext, _ index: Int, role: String) throws -> Float {
        let t = try constant(c, index, role: role)
        guard t.elementCount == 1 else { throw c.error("\(role) must be a scalar, got shape \(t.dims)") }
        return t.floats[0]
    }

    private func requireUnused(_ c: NodeContext, outputsAfter first: Int, what: String) throws {
        for name in c.node.output.dropFirst(first) where !name.isEmpty && (uses[name] ?? 0) > 0 {
            throw c.error("\(what) ('\(name)') is used by the graph; only the first output is supported")
        }
    }

    /// A convolution or pooling window from ONNX's kernel_shape/strides/dilations/pads/auto_pad/ceil_mode.
    private func window(_ c: NodeContext, kernel: (Int, Int)? = nil) throws -> Window2D {
        let k: [Int]
        if let kernel { k = [kernel.0, kernel.1] } else {
            guard let shape = c.ints("kernel_shape") else { throw c.error("missing attribute kernel_shape") }
            k = shape
        }
        guard k.count == 2, k.allSatisfy({ $0 > 0 }) else { throw c.error("kernel_shape \(k) is not 2-D; only 2-D windows are supported") }
        let strides = c.ints("strides") ?? [1, 1]
        let dilations = c.ints("dilations") ?? [1, 1]
        // Window sizes far beyond any image would overflow the output-size arithmetic; reject them here.
        let limit = 1 << 16
        for (attribute, values) in [("kernel_shape", k), ("strides", strides), ("dilations", dilations), ("pads", c.ints("pads") ?? [])]
        where values.contains(where: { $0 > limit }) {
            throw c.error("\(attribute) \(values) exceeds \(limit)")
        }
        guard strides.count == 2, strides.allSatisfy({ $0 > 0 }) else { throw c.error("strides \(strides) must be two positive values") }
        guard dilations.count == 2, dilations.allSatisfy({ $0 > 0 }) else { throw c.error("dilations \(dilations) must be two positive values") }
        let padding: Padding
        switch c.string("auto_pad", default: "NOTSET") {
        case "NOTSET":
            let pads = c.ints("pads") ?? [0, 0, 0, 0]
            guard pads.count == 4, pads.allSatisfy({ $0 >= 0 }) else { throw c.error("pads \(pads) must be four non-negative values") }
            padding = .explicit(top: pads[0], left: pads[1], bottom: pads[2], right: pads[3])
        case "VALID": padding = .zero
        case "SAME_UPPER": padding = .sameUpper
        case "SAME_LOWER": padding = .sameLower
        case let other: throw c.error("auto_pad '\(other)' is not supported; supported: NOTSET, VALID, SAME_UPPER, SAME_LOWER")
        }
        return Window2D(kernel: (k[0], k[1]), stride: (strides[0], strides[1]), dilation: (dilations[0], dilations[1]),
                        padding: padding, ceilMode: c.int("ceil_mode", default: 0) != 0)
    }
}

/// A node being lowered, with typed attribute access and errors that name it.
struct NodeContext {
    let node: Onnx_NodeProto
    let name: String

    func error(_ why: String) -> ONNXImportError {
        ONNXImportError("\(node.opType) node '\(name)': \(why)")
    }

    func checkAttributes(_ known: Set<String>) throws {
        for attribute in node.attribute where !known.contains(attribute.name) {
            throw error("attribute '\(attribute.name)' is not supported; supported: \(known.isEmpty ? "none" : known.sorted().joined(separator: ", "))")
        }
    }

    private func attribute(_ name: String) -> Onnx_AttributeProto? { node.attribute.first { $0.name == name } }

    func int(_ name: String, default value: Int) -> Int { attribute(name).map { Int($0.i) } ?? value }
    func float(_ name: String, default value: Float) -> Float { attribute(name).map { $0.f } ?? value }
    func ints(_ name: String) -> [Int]? { attribute(name).map { $0.ints.map { Int($0) } } }
    func string(_ name: String, default value: String) -> String {
        attribute(name).map { String(decoding: $0.s, as: UTF8.self) } ?? value
    }
}
