import EdgeGraph
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

// The `graph` section: JSON
//
//   {"values":  [{"name": "input", "shape": ["N", 3, 224, 224], "quantization": {"scale": 0.0187, "zeroPoint": -14}}, ...],
//    "nodes":   [{"name": "conv1", "op": "Conv", "inputs": [0], "output": 1, ...attributes..., "bias": {ref}, ...}, ...],
//    "inputs":  [0], "outputs": [57]}
//
// "shape" and "quantization" are present only where the IR has them. Attributes per op:
//   Conv:            window, groups, outputChannels, inputChannelsPerGroup, activation, bias (float32),
//                    and either weights (float32, OIHW) or quantized {scales (float32), packed (packed blob)}
//   FullyConnected:  inputs, outputs, activation, bias, and weights ([outputs][inputs]) or quantized
//   ChannelAffine:   scale, shift (float32), activation
//   Activation, Add: activation
//   MaxPool:         window;   AveragePool: window, countIncludePad
//   Flatten: axis;   Reshape: shape;   GlobalAveragePool, MatMul: nothing
// window = {"kernel": [h, w], "stride": [h, w], "dilation": [h, w], "padding": "explicit"|"sameUpper"|"sameLower",
//           "pads": [top, left, bottom, right] (explicit only), "ceilMode": bool}
// activation = {"kind": "none"|"relu"|"clip", "min": x, "max": y (clip only; "inf"/"-inf" for unbounded)}
// A tensor reference {"offset", "length", "dtype"} points into the `weights` section (offset a multiple of 64);
// dtype "float32" (little-endian) or "qs8-packed-gemm"/"qs8-packed-dwconv" with a "layout" object holding the
// packing geometry (nr, kr, inputOffset, groups, nc, ks, kc, inputZeroPoint / cr, channels, ks, inputZeroPoint).

enum OpType: String, CaseIterable {
    case conv = "Conv", fullyConnected = "FullyConnected", channelAffine = "ChannelAffine", activation = "Activation"
    case add = "Add", maxPool = "MaxPool", averagePool = "AveragePool", globalAveragePool = "GlobalAveragePool"
    case flatten = "Flatten", reshape = "Reshape", matMul = "MatMul"
}

enum DType {
    static let float32 = "float32", packedGemm = "qs8-packed-gemm", packedDepthwise = "qs8-packed-dwconv"
}

// MARK: - Writing

/// The `weights` section as it is built: every tensor at a 64-byte-aligned offset.
struct WeightsBuilder {
    var bytes: [UInt8] = []

    private mutating func append(_ raw: UnsafeRawBufferPointer, dtype: String) -> [String: JSONValue] {
        bytes.padToAlignment()
        let offset = bytes.count
        bytes.append(contentsOf: raw)
        return ["offset": .int(offset), "length": .int(raw.count), "dtype": .string(dtype)]
    }

    mutating func add(floats: [Float]) -> JSONValue {
        #if _endian(little)
        return .object(floats.withUnsafeBytes { append($0, dtype: DType.float32) })
        #else
        let le = floats.map { $0.bitPattern.littleEndian }
        return .object(le.withUnsafeBytes { append($0, dtype: DType.float32) })
        #endif
    }

    mutating func add(packed: PackedWeightsBlob) -> JSONValue {
        let layout: [String: JSONValue]
        let dtype: String
        switch packed.kind {
        case let .gemm(nr, kr, off, groups, nc, ks, kc, zp):
            dtype = DType.packedGemm
            layout = ["nr": .int(nr), "kr": .int(kr), "inputOffset": .int(Int(off)), "groups": .int(groups), "nc": .int(nc),
                      "ks": .int(ks), "kc": .int(kc), "inputZeroPoint": .int(Int(zp))]
        case let .depthwise(cr, channels, ks, zp):
            dtype = DType.packedDepthwise
            layout = ["cr": .int(cr), "channels": .int(channels), "ks": .int(ks), "inputZeroPoint": .int(Int(zp))]
        }
        var ref = packed.bytes.withUnsafeBytes { append($0, dtype: dtype) }
        ref["layout"] = .object(layout)
        return .object(ref)
    }
}

extension Activation {
    var json: JSONValue {
        switch self {
        case .none: return .object(["kind": .string("none")])
        case .relu: return .object(["kind": .string("relu")])
        case .clip(let lo, let hi): return .object(["kind": .string("clip"), "min": .float(lo), "max": .float(hi)])
        }
    }
}

extension Window2D {
    var json: JSONValue {
        var o: [String: JSONValue] = [
            "kernel": .array([.int(kernelHeight), .int(kernelWidth)]),
            "stride": .array([.int(strideHeight), .int(strideWidth)]),
            "dilation": .array([.int(dilationHeight), .int(dilationWidth)]),
            "ceilMode": .bool(ceilMode),
        ]
        switch padding {
        case let .explicit(t, l, b, r):
            o["padding"] = .string("explicit")
            o["pads"] = .array([.int(t), .int(l), .int(b), .int(r)])
        case .sameUpper: o["padding"] = .string("sameUpper")
        case .sameLower: o["padding"] = .string("sameLower")
        }
        return .object(o)
    }
}

/// The graph as JSON plus its weights section. INT8 nodes (those with `quantized` weights) store the blob
/// given for them and their per-channel scales, never their float or int8 weights.
func encodeGraph(_ graph: Graph, packed: [String: PackedWeightsBlob]) throws -> (json: JSONValue, weights: [UInt8]) {
    var w = WeightsBuilder()
    var used = Set<String>()
    var values = [JSONValue]()
    for v in graph.values {
        var o: [String: JSONValue] = ["name": .string(v.name)]
        if let shape = v.declaredShape {
            o["shape"] = .array(shape.map { d in
                switch d {
                case .fixed(let n): return .int(n)
                case .symbolic(let s): return .string(s)
                }
            })
        }
        if let q = v.quantization {
            o["quantization"] = .object(["scale": .float(q.scale), "zeroPoint": .int(Int(q.zeroPoint))])
        }
        values.append(.object(o))
    }
    var nodes = [JSONValue]()
    for node in graph.nodes {
        var o: [String: JSONValue] = ["name": .string(node.name), "inputs": .array(node.inputs.map { .int($0) }), "output": .int(node.output)]
        func quantized(_ q: QuantizedWeights?, floats: [Float]) throws {
            if let q {
                guard let blob = packed[node.name] else {
                    throw ModelFileError("node '\(node.name)' (\(node.op.name)) has INT8 weights but no packed blob was given for it; pack every INT8 convolution and fully connected node")
                }
                used.insert(node.name)
                o["quantized"] = .object(["scales": w.add(floats: q.scales), "packed": w.add(packed: blob)])
            } else {
                o["weights"] = w.add(floats: floats)
            }
        }
        switch node.op {
        case .convolution(let c):
            o["op"] = .string(OpType.conv.rawValue)
            o["window"] = c.window.json
            o["groups"] = .int(c.groups)
            o["outputChannels"] = .int(c.outputChannels)
            o["inputChannelsPerGroup"] = .int(c.inputChannelsPerGroup)
            o["activation"] = c.activation.json
            o["bias"] = w.add(floats: c.bias)
            try quantized(c.quantized, floats: c.weights)
        case .fullyConnected(let f):
            o["op"] = .string(OpType.fullyConnected.rawValue)
            o["inputFeatures"] = .int(f.inputs)
            o["outputFeatures"] = .int(f.outputs)
            o["activation"] = f.activation.json
            o["bias"] = w.add(floats: f.bias)
            try quantized(f.quantized, floats: f.weights)
        case let .channelAffine(scale, shift, activation):
            o["op"] = .string(OpType.channelAffine.rawValue)
            o["scale"] = w.add(floats: scale)
            o["shift"] = w.add(floats: shift)
            o["activation"] = activation.json
        case .activation(let a):
            o["op"] = .string(OpType.activation.rawValue)
            o["activation"] = a.json
        case .add(let a):
            o["op"] = .string(OpType.add.rawValue)
            o["activation"] = a.json
        case .maxPool(let window):
            o["op"] = .string(OpType.maxPool.rawValue)
            o["window"] = window.json
        case let .averagePool(window, countIncludePad):
            o["op"] = .string(OpType.averagePool.rawValue)
            o["window"] = window.json
            o["countIncludePad"] = .bool(countIncludePad)
        case .globalAveragePool:
            o["op"] = .string(OpType.globalAveragePool.rawValue)
        case .flatten(let axis):
            o["op"] = .string(OpType.flatten.rawValue)
            o["axis"] = .int(axis)
        case .reshape(let shape):
            o["op"] = .string(OpType.reshape.rawValue)
            o["shape"] = .array(shape.map { .int($0) })
        case .matMul:
            o["op"] = .string(OpType.matMul.rawValue)
        }
        nodes.append(.object(o))
    }
    if let extra = packed.keys.filter({ !used.contains($0) }).sorted().first {
        let exists = graph.nodes.contains { $0.name == extra }
        throw ModelFileError("a packed blob was given for node '\(extra)', \(exists ? "which has no INT8 weights (only convolution and fully connected nodes with quantized weights take one)" : "which is not in the graph")")
    }
    w.bytes.padToAlignment()
    let json: JSONValue = .object([
        "values": .array(values), "nodes": .array(nodes),
        "inputs": .array(graph.inputs.map { .int($0) }), "outputs": .array(graph.outputs.map { .int($0) }),
    ])
    return (json, w.bytes)
}

// MARK: - Reading

/// Decodes and checks the graph section against the weights section. Everything is checked before any
/// value is used: indices, attribute ranges, tensor references (in the section, aligned, the byte count the
/// node's shape needs), float values, quantization parameters, packed blob geometry and contents.
struct GraphDecoder {
    static let section = Format.graphKind
    /// Bounds on attributes: far above real models, low enough that no size computation overflows.
    static let maxChannels = 1 << 24
    static let maxSpatial = 1 << 12
    static let maxCount = 1 << 20

    let weights: UnsafeRawBufferPointer
    var graph = Graph()
    var packed: [Int: PackedWeightsView] = [:]
    /// The quantization the runtime uses per value: the value's own, or propagated through MaxPool/Flatten/Reshape.
    var effectiveQuantization: [QuantizationParameters?] = []
    /// Values produced so far (graph inputs, then node outputs in order).
    var produced: [Bool] = []

    init(weights: UnsafeRawBufferPointer) { self.weights = weights }

    static func fail(_ path: String, _ why: String) -> ModelFileError { JSONObject.error(section, path, why) }

    mutating func decode(_ json: JSONValue) throws {
        let top = try JSONObject(json, section: Self.section, path: "")
        let values = try top.array("values")
        guard values.count <= Self.maxCount else { throw top.error("values", "\(values.count) values; at most \(Self.maxCount)") }
        for (i, v) in values.enumerated() { graph.values.append(try decodeValue(v, path: "values[\(i)]")) }
        effectiveQuantization = graph.values.map(\.quantization)
        let valueRange = 0...max(0, graph.values.count - 1)
        guard !graph.values.isEmpty else { throw top.error("values", "the graph has no values") }
        graph.inputs = try top.ints("inputs", valueRange)
        graph.outputs = try top.ints("outputs", valueRange)
        produced = [Bool](repeating: false, count: graph.values.count)
        for id in graph.inputs { produced[id] = true }
        let nodes = try top.array("nodes")
        guard nodes.count <= Self.maxCount else { throw top.error("nodes", "\(nodes.count) nodes; at most \(Self.maxCount)") }
        for (i, n) in nodes.enumerated() { try decodeNode(n, index: i) }
        try top.finish()
        do { try graph.validate() } catch let e as GraphError { throw ModelFileError("section 'graph': \(e.description)") }
        var seen = [String: Int]()
        for (index, view) in packed.sorted(by: { $0.key < $1.key }) {
            if let other = seen[view.node] {
                throw ModelFileError("section 'graph': nodes[\(other)] and nodes[\(index)] are both named '\(view.node)'; INT8 nodes need unique names")
            }
            seen[view.node] = index
        }
    }

    func decodeValue(_ json: JSONValue, path: String) throws -> Value {
        let o = try JSONObject(json, section: Self.section, path: path)
        var value = Value(name: try o.string("name"))
        if o.has("shape") {
            value.declaredShape = try o.array("shape").enumerated().map { axis, d -> DeclaredDimension in
                switch d {
                case .string(let s): return .symbolic(s)
                default: return .fixed(try JSONObject.int(d, 1...Self.maxChannels) { o.error("shape[\(axis)]", $0) })
                }
            }
            guard value.declaredShape!.count <= 8 else { throw o.error("shape", "rank \(value.declaredShape!.count); at most 8") }
        }
        if let q = try o.optionalObject("quantization") {
            let scale = try q.float("scale")
            guard scale > 0, scale.isNormal else { throw q.error("scale", "quantization scale \(scale) of value '\(value.name)' must be positive and finite") }
            value.quantization = QuantizationParameters(scale: scale, zeroPoint: Int32(try q.int("zeroPoint", -128...127)))
            try q.finish()
        }
        try o.finish()
        return value
    }

    func activation(_ o: JSONObject) throws -> Activation {
        let a = try o.object("activation")
        let activation: Activation
        switch try a.string("kind") {
        case "none": activation = .none
        case "relu": activation = .relu
        case "clip":
            let lo = try a.float("min", finite: false), hi = try a.float("max", finite: false)
            guard lo <= hi, lo < .infinity, hi > -.infinity else { throw a.error("min", "clip bounds [\(lo), \(hi)] are empty") }
            activation = .clip(min: lo, max: hi)
        case let other: throw a.error("kind", "unknown activation '\(other)' (known: none, relu, clip)")
        }
        try a.finish()
        return activation
    }

    func window(_ o: JSONObject) throws -> Window2D {
        let w = try o.object("window")
        let spatial = 1...Self.maxSpatial
        let k = try w.ints("kernel", count: 2, spatial), s = try w.ints("stride", count: 2, spatial)
        let d = try w.ints("dilation", count: 2, spatial)
        let padding: Padding
        switch try w.string("padding") {
        case "explicit":
            let p = try w.ints("pads", count: 4, 0...Self.maxSpatial)
            padding = .explicit(top: p[0], left: p[1], bottom: p[2], right: p[3])
        case "sameUpper": padding = .sameUpper
        case "sameLower": padding = .sameLower
        case let other: throw w.error("padding", "unknown padding '\(other)' (known: explicit, sameUpper, sameLower)")
        }
        let window = Window2D(kernel: (k[0], k[1]), stride: (s[0], s[1]), dilation: (d[0], d[1]), padding: padding,
                              ceilMode: try w.bool("ceilMode"))
        try w.finish()
        return window
    }

    /// The bytes a tensor reference points at, after checking it.
    func tensor(_ o: JSONObject, _ key: String, dtype expected: String, bytes expectedBytes: Int?, what: String,
                node: String) throws -> (bytes: UnsafeRawBufferPointer, ref: JSONObject) {
        let r = try o.object(key)
        let dtype = try r.string("dtype")
        guard dtype == expected else { throw r.error("dtype", "'\(dtype)' where \(expected) is expected") }
        let offset = try r.int("offset", 0...Int(Int64.max / 2)), length = try r.int("length", 0...Int(Int64.max / 2))
        guard offset % Format.alignment == 0 else {
            throw ModelFileError("section 'graph': \(node): '\(key)' starts at offset \(offset) of the weights section, not a multiple of \(Format.alignment)")
        }
        guard offset <= weights.count, length <= weights.count - offset else {
            throw ModelFileError("section 'graph': \(node): '\(key)' (offset \(offset), \(length) bytes) lies outside the weights section (\(weights.count) bytes)")
        }
        if let expectedBytes, length != expectedBytes {
            throw ModelFileError("section 'graph': \(node): '\(key)' holds \(length) bytes; \(what) needs \(expectedBytes)")
        }
        return (UnsafeRawBufferPointer(rebasing: weights[offset..<(offset + length)]), r)
    }

    func floats(_ o: JSONObject, _ key: String, count: Int, what: String, node: String, positive: Bool = false) throws -> [Float] {
        let (raw, r) = try tensor(o, key, dtype: DType.float32, bytes: count * 4, what: "\(what) (\(count) float32)", node: node)
        try r.finish()
        var out = [Float](repeating: 0, count: count)
        out.withUnsafeMutableBytes { dst in
            #if _endian(little)
            dst.copyMemory(from: raw)
            #else
            for i in 0..<count { dst.storeBytes(of: raw.u32(4 * i), toByteOffset: 4 * i, as: UInt32.self) }
            #endif
        }
        if let bad = out.firstIndex(where: { !$0.isFinite || (positive && !($0 > 0)) }) {
            throw ModelFileError("section 'graph': \(node): \(key)[\(bad)] is \(out[bad]); \(positive ? "scales must be positive and finite" : "weights must be finite")")
        }
        return out
    }

    static func product(_ xs: [Int]) -> Int? {
        var p = 1
        for x in xs {
            let (r, o) = p.multipliedReportingOverflow(by: x)
            guard !o, r <= 1 << 40 else { return nil }
            p = r
        }
        return p
    }

    mutating func decodeNode(_ json: JSONValue, index: Int) throws {
        let path = "nodes[\(index)]"
        let o = try JSONObject(json, section: Self.section, path: path)
        let name = try o.string("name")
        let valueRange = 0...(graph.values.count - 1)
        let inputs = try o.ints("inputs", valueRange)
        let output = try o.int("output", valueRange)
        let opName = try o.string("op")
        guard let op = OpType(rawValue: opName) else {
            throw o.error("op", "unknown op type '\(opName)' in node '\(name)' (this reader knows \(OpType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let expectedInputs = [OpType.add: 2, .matMul: 2][op] ?? 1
        guard inputs.count == expectedInputs else {
            throw o.error("inputs", "\(op.rawValue) node '\(name)' takes \(expectedInputs) input(s), not \(inputs.count)")
        }
        let label = "node '\(name)' (\(op.rawValue))"
        // Single assignment in execution order (Graph.validate checks it again on the whole graph).
        if let unproduced = inputs.first(where: { !produced[$0] }) {
            throw ModelFileError("section 'graph': \(label) reads '\(graph.values[unproduced].name)' before anything produces it")
        }
        guard !produced[output] else {
            throw ModelFileError("section 'graph': \(label) writes '\(graph.values[output].name)', which is already produced")
        }
        produced[output] = true
        let channels = 1...Self.maxChannels
        let operation: Operator
        switch op {
        case .conv:
            let window = try window(o)
            let groups = try o.int("groups", channels), cout = try o.int("outputChannels", channels)
            let cig = try o.int("inputChannelsPerGroup", channels)
            guard cout % groups == 0 else { throw o.error("groups", "\(groups) groups do not divide \(cout) output channels in node '\(name)'") }
            let ks = window.kernelHeight * window.kernelWidth
            guard let count = Self.product([cout, cig, ks]) else { throw o.error("outputChannels", "the weights of node '\(name)' are too large") }
            var conv = Convolution(window: window, groups: groups, outputChannels: cout, inputChannelsPerGroup: cig, weights: [],
                                   bias: try floats(o, "bias", count: cout, what: "\(cout) output channels", node: label),
                                   activation: try activation(o))
            if o.has("quantized") {
                guard !o.has("weights") else { throw ModelFileError("section 'graph': \(label): has both float weights and INT8 weights") }
                conv.quantized = try quantized(o, node: label, name: name, index: index, input: inputs[0], output: output,
                                               count: count, outputs: cout, taps: ks) { kind in
                    switch kind {
                    case let .gemm(_, _, _, g, nc, pks, kc, _):
                        return g == groups && g * nc == cout && ((pks == ks && kc == cig) || (pks == 1 && kc == ks * cig))
                    case let .depthwise(_, c, pks, _):
                        return groups == cout && cig == 1 && c == cout && pks == ks
                    }
                }
            } else {
                conv.weights = try floats(o, "weights", count: count, what: "[\(cout), \(cig), \(window.kernelHeight), \(window.kernelWidth)]", node: label)
            }
            operation = .convolution(conv)
        case .fullyConnected:
            let inFeatures = try o.int("inputFeatures", channels), outFeatures = try o.int("outputFeatures", channels)
            guard let count = Self.product([inFeatures, outFeatures]) else { throw o.error("outputFeatures", "the weights of node '\(name)' are too large") }
            var fc = FullyConnected(inputs: inFeatures, outputs: outFeatures, weights: [],
                                    bias: try floats(o, "bias", count: outFeatures, what: "\(outFeatures) outputs", node: label),
                                    activation: try activation(o))
            if o.has("quantized") {
                guard !o.has("weights") else { throw ModelFileError("section 'graph': \(label): has both float weights and INT8 weights") }
                fc.quantized = try quantized(o, node: label, name: name, index: index, input: inputs[0], output: output,
                                             count: count, outputs: outFeatures, taps: 1) { kind in
                    if case let .gemm(_, _, _, g, nc, ks, kc, _) = kind { return g == 1 && nc == outFeatures && ks == 1 && kc == inFeatures }
                    return false
                }
            } else {
                fc.weights = try floats(o, "weights", count: count, what: "[\(outFeatures), \(inFeatures)]", node: label)
            }
            operation = .fullyConnected(fc)
        case .channelAffine:
            let scaleRef = try o.object("scale")
            let length = try scaleRef.int("length", 4...(4 * Self.maxChannels))
            guard length % 4 == 0 else { throw scaleRef.error("length", "\(length) bytes is not a whole number of float32") }
            let scale = try floats(o, "scale", count: length / 4, what: "\(length / 4) channels", node: label)
            let shift = try floats(o, "shift", count: length / 4, what: "\(length / 4) channels (as many as 'scale')", node: label)
            operation = .channelAffine(scale: scale, shift: shift, activation: try activation(o))
        case .activation: operation = .activation(try activation(o))
        case .add: operation = .add(try activation(o))
        case .maxPool: operation = .maxPool(try window(o))
        case .averagePool: operation = .averagePool(try window(o), countIncludePad: try o.bool("countIncludePad"))
        case .globalAveragePool: operation = .globalAveragePool
        case .flatten: operation = .flatten(axis: try o.int("axis", -8...8))
        case .reshape:
            let shape = try o.ints("shape", -1...Self.maxChannels)
            guard shape.count <= 8 else { throw o.error("shape", "rank \(shape.count); at most 8") }
            operation = .reshape(shape)
        case .matMul: operation = .matMul
        }
        try o.finish()
        graph.nodes.append(Node(name: name, op: operation, inputs: inputs, output: output))
        switch operation {
        case .maxPool, .flatten, .reshape:
            if effectiveQuantization[output] == nil { effectiveQuantization[output] = effectiveQuantization[inputs[0]] }
        default: break
        }
    }

    /// Reads an INT8 node's scales and packed blob, checks the blob against the node, and recovers the
    /// canonical quantized weights by unpacking it.
    mutating func quantized(_ o: JSONObject, node label: String, name: String, index: Int, input: ValueID, output: ValueID,
                            count: Int, outputs: Int, taps: Int, fits: (PackedWeightsBlob.Kind) -> Bool) throws -> QuantizedWeights {
        let q = try o.object("quantized")
        let scales = try floats(q, "scales", count: outputs, what: "\(outputs) output channels", node: label, positive: true)
        let p = try q.object("packed")
        let dtype = try p.string("dtype")
        let layout = try p.object("layout")
        let kind: PackedWeightsBlob.Kind
        let zp = -128...127
        switch dtype {
        case DType.packedGemm:
            kind = .gemm(nr: try layout.int("nr", 1...64), kr: try layout.int("kr", 1...64), inputOffset: Int32(try layout.int("inputOffset", 0...255)),
                         groups: try layout.int("groups", 1...Self.maxChannels), nc: try layout.int("nc", 1...Self.maxChannels),
                         ks: try layout.int("ks", 1...Self.maxChannels), kc: try layout.int("kc", 1...Self.maxChannels),
                         inputZeroPoint: Int32(try layout.int("inputZeroPoint", zp)))
        case DType.packedDepthwise:
            kind = .depthwise(cr: try layout.int("cr", 1...256), channels: try layout.int("channels", 1...Self.maxChannels),
                              ks: try layout.int("ks", 1...Self.maxChannels), inputZeroPoint: Int32(try layout.int("inputZeroPoint", zp)))
        default:
            throw p.error("dtype", "'\(dtype)' where \(DType.packedGemm) or \(DType.packedDepthwise) is expected")
        }
        try layout.finish()
        guard fits(kind), kind.reduction * kind.outputChannels == count else {
            throw ModelFileError("section 'graph': \(label): the packed blob's geometry (\(kind)) does not fit the node")
        }
        guard let size = kind.byteCount else {
            throw ModelFileError("section 'graph': \(label): the packed blob's geometry (\(kind)) is out of range")
        }
        let (blob, _) = try tensor(q, "packed", dtype: dtype, bytes: size, what: "the packed geometry (\(kind))", node: label)
        try q.finish()
        if let inQ = effectiveQuantization[input], inQ.zeroPoint != kind.inputZeroPoint {
            throw ModelFileError("section 'graph': \(label): the packed blob folds input zero point \(kind.inputZeroPoint), the input '\(graph.values[input].name)' has \(inQ.zeroPoint)")
        }
        let unpacked: UnpackedWeights
        do {
            unpacked = try kind.unpack(blob, taps: taps)   // OIHW, the graph's order
        } catch let e as ModelFileError {
            throw ModelFileError("section 'graph': \(label): \(e.description)")
        }
        if let inQ = effectiveQuantization[input], let outQ = graph.values[output].quantization {
            for (c, rq) in unpacked.requantization.enumerated() {
                let scale = Double(inQ.scale) * Double(scales[c]) / Double(outQ.scale)
                guard let expected = PackedRequantization.from(scale: scale) else {
                    throw ModelFileError("section 'graph': \(label): output channel \(c): requantization scale \(scale) (input scale x weight scale / output scale) is outside [0, 256)")
                }
                guard expected == rq else {
                    throw ModelFileError("section 'graph': \(label): output channel \(c): the packed requantization (scale \(rq.scale)) does not match input scale x weight scale / output scale (\(scale))")
                }
            }
        }
        packed[index] = PackedWeightsView(node: name, nodeIndex: index, kind: kind, bytes: blob)
        return QuantizedWeights(values: unpacked.weights, scales: scales, bias: unpacked.bias)
    }
}
