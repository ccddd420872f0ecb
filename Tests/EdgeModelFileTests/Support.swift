import CKernels
import EdgeGraph
import EdgeImaging
import Foundation
@testable import EdgeModelFile

/// A GEMM packing layout as the CKernels descriptors use them.
struct GemmLayout: CustomStringConvertible, Sendable {
    let nr: Int, kr: Int, inputOffset: Int32
    var description: String { "nr\(nr)/kr\(kr)\(inputOffset != 0 ? "/x80" : "")" }
    static let all = [GemmLayout(nr: 4, kr: 1, inputOffset: 0), GemmLayout(nr: 8, kr: 8, inputOffset: 0),
                      GemmLayout(nr: 16, kr: 4, inputOffset: 0), GemmLayout(nr: 16, kr: 8, inputOffset: 128)]
}

struct TestRNG {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 0x9E3779B97F4A7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return state
    }
    mutating func int(_ r: ClosedRange<Int>) -> Int { r.lowerBound + Int(next() % UInt64(r.upperBound - r.lowerBound + 1)) }
    mutating func float(_ lo: Float, _ hi: Float) -> Float { lo + (hi - lo) * Float(next() % 1_000_000) / 1_000_000 }
}

func requant(_ scale: Double) -> ck_requant {
    var rq = ck_requant()
    precondition(ck_requant_from_scale(scale, &rq) == CK_OK)
    return rq
}

/// `ck_pack_qs8_qc8w_gemm` on weights [groups*nc][ks][kc].
func packGemm(_ l: GemmLayout, groups: Int, nc: Int, ks: Int, kc: Int, inputZeroPoint: Int32, weights: [Int8], bias: [Int32],
              requant: [ck_requant]) -> [UInt8] {
    var out = [UInt8](repeating: 0xA5, count: ck_pack_qs8_qc8w_gemm_size(UInt32(l.nr), UInt32(l.kr), groups, nc, ks, kc))
    let status = ck_pack_qs8_qc8w_gemm(UInt32(l.nr), UInt32(l.kr), l.inputOffset, groups, nc, ks, kc, inputZeroPoint, weights, bias, requant, &out)
    precondition(status == CK_OK, "pack failed \(status)")
    return out
}

func packDepthwise(cr: Int, channels: Int, ks: Int, inputZeroPoint: Int32, weights: [Int8], bias: [Int32], requant: [ck_requant]) -> [UInt8] {
    var out = [UInt8](repeating: 0xA5, count: ck_pack_qs8_qc8w_dwconv_size(UInt32(cr), channels, ks))
    let status = ck_pack_qs8_qc8w_dwconv(UInt32(cr), channels, ks, inputZeroPoint, weights, bias, requant, &out)
    precondition(status == CK_OK, "pack failed \(status)")
    return out
}

/// The quantization each value has as the runtime sees it (propagated through MaxPool/Flatten/Reshape).
func effectiveQuantization(_ graph: Graph) -> [QuantizationParameters?] {
    var q = graph.values.map(\.quantization)
    for node in graph.nodes where q[node.output] == nil {
        switch node.op {
        case .maxPool, .flatten, .reshape: q[node.output] = q[node.inputs[0]]
        default: break
        }
    }
    return q
}

/// Packs every INT8 node of a graph the way the runtime would run it: depthwise convolutions with the dwconv
/// packer (cr), 1x1 and few-channel (im2col) convolutions as one GEMM tap, the rest as IGEMM taps, FC as a GEMM.
func packAll(_ graph: Graph, layout: GemmLayout, cr: Int = 16) -> [PackedWeightsBlob] {
    let q = effectiveQuantization(graph)
    var blobs = [PackedWeightsBlob]()
    for node in graph.nodes {
        let inQ = q[node.inputs[0]] ?? QuantizationParameters(scale: 1, zeroPoint: 0)
        let outQ = q[node.output] ?? QuantizationParameters(scale: 1, zeroPoint: 0)
        func rqs(_ scales: [Float]) -> [ck_requant] { scales.map { requant(Double(inQ.scale) * Double($0) / Double(outQ.scale)) } }
        switch node.op {
        case .convolution(let c):
            guard let qw = c.quantized else { continue }
            let ks = c.window.kernelHeight * c.window.kernelWidth, cig = c.inputChannelsPerGroup
            if c.isDepthwise {
                let bytes = packDepthwise(cr: cr, channels: c.outputChannels, ks: ks, inputZeroPoint: inQ.zeroPoint,
                                          weights: qw.values, bias: qw.bias, requant: rqs(qw.scales))
                blobs.append(PackedWeightsBlob(node: node.name, kind: .depthwise(cr: cr, channels: c.outputChannels, ks: ks, inputZeroPoint: inQ.zeroPoint), bytes: bytes))
                continue
            }
            var ohwi = [Int8](repeating: 0, count: qw.values.count)
            for o in 0..<c.outputChannels { for ci in 0..<cig { for t in 0..<ks { ohwi[(o * ks + t) * cig + ci] = qw.values[(o * cig + ci) * ks + t] } } }
            let oneTap = ks == 1 || (c.groups == 1 && cig <= 4)
            let (pks, kc) = oneTap ? (1, ks * cig) : (ks, cig)
            let nc = c.outputChannels / c.groups
            let bytes = packGemm(layout, groups: c.groups, nc: nc, ks: pks, kc: kc, inputZeroPoint: inQ.zeroPoint, weights: ohwi,
                                 bias: qw.bias, requant: rqs(qw.scales))
            blobs.append(PackedWeightsBlob(node: node.name, kind: .gemm(nr: layout.nr, kr: layout.kr, inputOffset: layout.inputOffset, groups: c.groups,
                                                                        nc: nc, ks: pks, kc: kc, inputZeroPoint: inQ.zeroPoint), bytes: bytes))
        case .fullyConnected(let f):
            guard let qw = f.quantized else { continue }
            let bytes = packGemm(layout, groups: 1, nc: f.outputs, ks: 1, kc: f.inputs, inputZeroPoint: inQ.zeroPoint, weights: qw.values,
                                 bias: qw.bias, requant: rqs(qw.scales))
            blobs.append(PackedWeightsBlob(node: node.name, kind: .gemm(nr: layout.nr, kr: layout.kr, inputOffset: layout.inputOffset, groups: 1,
                                                                        nc: f.outputs, ks: 1, kc: f.inputs, inputZeroPoint: inQ.zeroPoint), bytes: bytes))
        default: continue
        }
    }
    return blobs
}

func testMetadata(spec: PreprocessSpec, labels: [String], board: String = "rpi4", layout: String = "neondot",
                  calibrated: Bool = true) -> ModelMetadata {
    ModelMetadata(toolVersion: "0.1.0-test", board: board, kernelLayout: layout, preprocessing: spec, labels: labels,
                  provenance: ModelProvenance(sourceModelSHA256: ModelProvenance.sha256(Data("source".utf8)), sourceModelName: "test.onnx",
                                              calibration: calibrated ? .init(sha256: ModelProvenance.sha256(Data("calibration".utf8)), count: 16) : nil,
                                              settings: ["precision": "int8", "method": "minmax"]),
                  calibrationReport: calibrated ? .object(["layers": .array([.object(["name": .string("conv1"), "min": .double(-1.5), "max": .int(3)])]), "top1": .double(0.91)]) : nil)
}

// MARK: - Small graphs

/// Every operator and attribute of the IR, FP32, over a 3x8x8 input: a [1, 5] output.
func everyOperatorGraph(seed: UInt64 = 1) -> Graph {
    var rng = TestRNG(seed)
    func floats(_ n: Int, _ lo: Float = -0.5, _ hi: Float = 0.5) -> [Float] { (0..<n).map { _ in rng.float(lo, hi) } }
    var g = Graph()
    let x = g.addValue("image", declaredShape: [.symbolic("N"), .fixed(3), .fixed(8), .fixed(8)])
    g.inputs = [x]
    func node(_ name: String, _ op: Operator, _ inputs: [ValueID]) -> ValueID {
        let out = g.addValue(name + ".out")
        g.addNode(name, op, inputs: inputs, output: out)
        return out
    }
    let c1 = node("conv1", .convolution(Convolution(window: Window2D(kernel: (3, 3), padding: .explicit(top: 1, left: 1, bottom: 1, right: 1)),
                                                     groups: 1, outputChannels: 8, inputChannelsPerGroup: 3, weights: floats(8 * 3 * 9),
                                                     bias: floats(8), activation: .relu)), [x])
    let c2 = node("dw", .convolution(Convolution(window: Window2D(kernel: (3, 3), stride: (2, 2), padding: .sameUpper),
                                                  groups: 8, outputChannels: 8, inputChannelsPerGroup: 1, weights: floats(8 * 9),
                                                  bias: floats(8), activation: .clip(min: 0, max: 6))), [c1])
    let c3 = node("group", .convolution(Convolution(window: Window2D(kernel: (1, 2), dilation: (1, 2), padding: .sameLower),
                                                     groups: 2, outputChannels: 8, inputChannelsPerGroup: 4, weights: floats(8 * 4 * 2),
                                                     bias: floats(8), activation: .clip(min: -.infinity, max: 3))), [c2])
    let aff = node("affine", .channelAffine(scale: floats(8, 0.5, 1.5), shift: floats(8), activation: .relu), [c3])
    let act = node("clip", .activation(.clip(min: -1, max: 1)), [aff])
    let sum = node("add", .add(.relu), [c2, act])
    let mp = node("maxpool", .maxPool(Window2D(kernel: (2, 2), stride: (2, 2), padding: .explicit(top: 0, left: 0, bottom: 1, right: 1), ceilMode: true)), [sum])
    let ap = node("avgpool", .averagePool(Window2D(kernel: (3, 3), padding: .explicit(top: 1, left: 1, bottom: 1, right: 1)), countIncludePad: false), [mp])
    let ap2 = node("avgpool-pad", .averagePool(Window2D(kernel: (2, 2), stride: (1, 1), padding: .sameUpper), countIncludePad: true), [ap])
    let gp = node("gap", .globalAveragePool, [ap2])
    let fl = node("flatten", .flatten(axis: 1), [gp])
    let rs = node("reshape", .reshape([0, -1]), [fl])
    let fc = node("fc", .fullyConnected(FullyConnected(inputs: 8, outputs: 5, weights: floats(40), bias: floats(5), activation: .none)), [rs])
    let col = node("column", .reshape([5, 1]), [fc])
    let outer = node("outer", .matMul, [col, fc])
    let out = node("project", .matMul, [fc, outer])
    g.outputs = [out]
    return g
}

let smallSpec = PreprocessSpec(resize: 9, cropHeight: 8, cropWidth: 8, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])

/// A quantized graph exercising every packing form: an im2col stem (3 channels, 3x3), an IGEMM 3x3, a 1x1
/// GEMM, a depthwise, a grouped convolution, a max pool, global pool, flatten and FC, with `channels` wide layers.
func int8Graph(seed: UInt64 = 7, channels: Int = 20, classes: Int = 10) -> Graph {
    var rng = TestRNG(seed)
    var g = Graph()
    func q(_ scale: Float, _ zp: Int32) -> QuantizationParameters { QuantizationParameters(scale: scale, zeroPoint: zp) }
    let x = g.addValue("image", declaredShape: [.symbolic("batch"), .fixed(3), .fixed(8), .fixed(8)])
    g.values[x].quantization = q(0.02, -3)
    g.inputs = [x]
    func qweights(_ cout: Int, _ per: Int) -> QuantizedWeights {
        QuantizedWeights(values: (0..<(cout * per)).map { _ in Int8(rng.int(-127...127)) },
                         scales: (0..<cout).map { _ in rng.float(0.001, 0.01) },
                         bias: (0..<cout).map { _ in Int32(rng.int(-5000...5000)) })
    }
    func conv(_ name: String, _ input: ValueID, window: Window2D, groups: Int, cout: Int, cig: Int, out: QuantizationParameters,
              activation: Activation = .relu) -> ValueID {
        let qw = qweights(cout, cig * window.kernelHeight * window.kernelWidth)
        var c = Convolution(window: window, groups: groups, outputChannels: cout, inputChannelsPerGroup: cig, weights: qw.dequantized(),
                            bias: (0..<cout).map { Float(qw.bias[$0]) * qw.scales[$0] * 0.02 }, activation: activation)
        c.quantized = qw
        let v = g.addValue(name + ".out")
        g.values[v].quantization = out
        g.addNode(name, .convolution(c), inputs: [input], output: v)
        return v
    }
    let c = channels
    let stem = conv("stem", x, window: Window2D(kernel: (3, 3), padding: .explicit(top: 1, left: 1, bottom: 1, right: 1)), groups: 1, cout: c, cig: 3, out: q(0.05, -128))
    let mp = g.addValue("pool.out")
    g.addNode("pool", .maxPool(Window2D(kernel: (2, 2), stride: (2, 2))), inputs: [stem], output: mp)
    let k3 = conv("conv3x3", mp, window: Window2D(kernel: (3, 3), padding: .explicit(top: 1, left: 1, bottom: 1, right: 1)), groups: 1, cout: c + 3, cig: c, out: q(0.04, 5))
    let pw = conv("pointwise", k3, window: Window2D(kernel: (1, 1)), groups: 1, cout: c, cig: c + 3, out: q(0.03, -7), activation: .clip(min: 0, max: 6))
    let dw = conv("depthwise", pw, window: Window2D(kernel: (3, 3), stride: (2, 2), padding: .sameUpper), groups: c, cout: c, cig: 1, out: q(0.06, 0))
    let gr = conv("grouped", dw, window: Window2D(kernel: (3, 3), padding: .explicit(top: 1, left: 1, bottom: 1, right: 1)), groups: 2, cout: c + 2, cig: c / 2, out: q(0.05, 2))
    let gap = g.addValue("gap.out")
    g.values[gap].quantization = q(0.05, 2)
    g.addNode("gap", .globalAveragePool, inputs: [gr], output: gap)
    let fl = g.addValue("flatten.out")
    g.addNode("flatten", .flatten(axis: 1), inputs: [gap], output: fl)
    let qw = qweights(classes, c + 2)
    var fc = FullyConnected(inputs: c + 2, outputs: classes, weights: qw.dequantized(), bias: (0..<classes).map { Float($0) * 0.01 })
    fc.quantized = qw
    let logits = g.addValue("logits")
    g.values[logits].quantization = q(0.1, 10)
    g.addNode("fc", .fullyConnected(fc), inputs: [fl], output: logits)
    g.outputs = [logits]
    return g
}

func classLabels(_ n: Int) -> [String] { (0..<n).map { "class-\($0)" } }

/// A small valid INT8 file (used by the corruption tests and as a fuzz seed).
func smallINT8File(layout: GemmLayout = GemmLayout.all[2], channels: Int = 20, cr: Int = 16) throws -> [UInt8] {
    let g = int8Graph(channels: channels)
    return try ModelFile.serialize(ModelFileContents(graph: g, metadata: testMetadata(spec: smallSpec, labels: classLabels(10)),
                                                     packedWeights: packAll(g, layout: layout, cr: cr)))
}

// MARK: - Comparing graphs

func sameBits(_ a: [Float], _ b: [Float]) -> Bool { a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern } }

/// Every field of two graphs, with INT8 nodes' float weights expected empty in `read`. Returns the first difference.
func firstDifference(_ original: Graph, _ read: Graph) -> String? {
    guard original.values.count == read.values.count else { return "value count" }
    for (a, b) in zip(original.values, read.values) {
        if a.name != b.name || a.declaredShape != b.declaredShape { return "value \(a.name)" }
        if a.quantization?.scale.bitPattern != b.quantization?.scale.bitPattern || a.quantization?.zeroPoint != b.quantization?.zeroPoint { return "quantization of \(a.name)" }
    }
    guard original.inputs == read.inputs, original.outputs == read.outputs else { return "inputs/outputs" }
    guard original.nodes.count == read.nodes.count else { return "node count" }
    func sameQ(_ a: QuantizedWeights?, _ b: QuantizedWeights?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case let (x?, y?): return x.values == y.values && x.bias == y.bias && sameBits(x.scales, y.scales)
        default: return false
        }
    }
    for (a, b) in zip(original.nodes, read.nodes) {
        guard a.name == b.name, a.inputs == b.inputs, a.output == b.output else { return "node \(a.name) header" }
        switch (a.op, b.op) {
        case let (.convolution(x), .convolution(y)):
            guard x.window == y.window, x.groups == y.groups, x.outputChannels == y.outputChannels,
                  x.inputChannelsPerGroup == y.inputChannelsPerGroup, x.activation == y.activation, sameBits(x.bias, y.bias) else { return "conv \(a.name)" }
            guard sameQ(x.quantized, y.quantized) else { return "conv \(a.name) quantized" }
            guard x.quantized == nil ? sameBits(x.weights, y.weights) : y.weights.isEmpty else { return "conv \(a.name) weights" }
        case let (.fullyConnected(x), .fullyConnected(y)):
            guard x.inputs == y.inputs, x.outputs == y.outputs, x.activation == y.activation, sameBits(x.bias, y.bias) else { return "fc \(a.name)" }
            guard sameQ(x.quantized, y.quantized) else { return "fc \(a.name) quantized" }
            guard x.quantized == nil ? sameBits(x.weights, y.weights) : y.weights.isEmpty else { return "fc \(a.name) weights" }
        case let (.channelAffine(s1, b1, a1), .channelAffine(s2, b2, a2)):
            guard sameBits(s1, s2), sameBits(b1, b2), a1 == a2 else { return "affine \(a.name)" }
        case let (.activation(x), .activation(y)): guard x == y else { return "activation \(a.name)" }
        case let (.add(x), .add(y)): guard x == y else { return "add \(a.name)" }
        case let (.maxPool(x), .maxPool(y)): guard x == y else { return "maxpool \(a.name)" }
        case let (.averagePool(x, p), .averagePool(y, r)): guard x == y, p == r else { return "avgpool \(a.name)" }
        case (.globalAveragePool, .globalAveragePool), (.matMul, .matMul): break
        case let (.flatten(x), .flatten(y)): guard x == y else { return "flatten \(a.name)" }
        case let (.reshape(x), .reshape(y)): guard x == y else { return "reshape \(a.name)" }
        default: return "op of \(a.name)"
        }
    }
    return nil
}
