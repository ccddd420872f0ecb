import CKernels
import EdgeGraph

/// A zero-initialised, 64-byte-aligned block of memory.
final class AlignedBuffer {
    let pointer: UnsafeMutableRawPointer
    let bytes: Int

    init(bytes: Int) {
        self.bytes = max(bytes, 1)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: self.bytes, alignment: MemoryPlan.alignment)
        pointer.initializeMemory(as: UInt8.self, repeating: 0, count: self.bytes)
    }

    deinit { pointer.deallocate() }

    var int8: UnsafeMutablePointer<Int8> { pointer.assumingMemoryBound(to: Int8.self) }
}

/// Errors of the INT8 path name the node: "node 'name' (Conv): why".
func int8Error(_ node: Node, _ why: String) -> GraphError {
    GraphError("node '\(node.name)' (\(node.op.name)): \(why); the INT8 kernels cannot run it")
}

/// The int8 clamp of an activation fused into a node whose output has `output` quantization:
/// quantization is monotone, so clamping the real value to [lo, hi] and then quantizing equals quantizing
/// and clamping to [q(lo), q(hi)].
func int8Bounds(_ activation: Activation, _ output: QuantizationParameters) -> (min: Int32, max: Int32) {
    let (lo, hi) = activation.bounds
    return (Int32(output.quantize(lo)), Int32(output.quantize(hi)))
}

func checkZeroPoint(_ node: Node, _ q: QuantizationParameters, _ role: String) throws {
    guard (-128...127).contains(q.zeroPoint) else {
        throw int8Error(node, "the \(role) zero point \(q.zeroPoint) is outside the int8 range [-128, 127]")
    }
    guard q.scale.isFinite, q.scale > 0 else { throw int8Error(node, "the \(role) scale \(q.scale) must be positive and finite") }
}

/// The per-channel requantization `input_scale * weight_scale[c] / output_scale` through the one
/// definition C and Swift share (`ck_requant_from_scale`).
func requantization(_ node: Node, input: QuantizationParameters, weightScales: [Float], output: QuantizationParameters) throws -> [ck_requant] {
    try weightScales.enumerated().map { c, ws in
        let scale = Double(input.scale) * Double(ws) / Double(output.scale)
        var rq = ck_requant()
        guard ck_requant_from_scale(scale, &rq) == CK_OK else {
            throw int8Error(node, "output channel \(c): requantization scale \(scale) (input scale \(input.scale) x weight scale \(ws) / output scale \(output.scale)) is outside [0, 256)")
        }
        return rq
    }
}

/// How one node's int8 weights are packed (ck-pack.h): enough to unpack them again and to check that a
/// pre-packed blob is what the session's kernels read.
public enum PackedGeometry: Hashable, Sendable, CustomStringConvertible {
    /// `ks` taps of `kc` channels per output channel, `nc` output channels per group.
    case gemm(nr: Int, kr: Int, inputOffset: Int, groups: Int, nc: Int, ks: Int, kc: Int, inputZeroPoint: Int)
    case depthwise(cr: Int, channels: Int, ks: Int, inputZeroPoint: Int)

    public var byteCount: Int {
        switch self {
        case let .gemm(nr, kr, _, groups, nc, ks, kc, _):
            return ck_pack_qs8_qc8w_gemm_size(UInt32(nr), UInt32(kr), groups, nc, ks, kc)
        case let .depthwise(cr, channels, ks, _):
            return ck_pack_qs8_qc8w_dwconv_size(UInt32(cr), channels, ks)
        }
    }

    public var description: String {
        switch self {
        case let .gemm(nr, kr, offset, groups, nc, ks, kc, izp):
            return "gemm nr\(nr) kr\(kr)\(offset != 0 ? " offset \(offset)" : "") groups \(groups) nc \(nc) ks \(ks) kc \(kc) input zero point \(izp)"
        case let .depthwise(cr, channels, ks, izp):
            return "depthwise cr\(cr) channels \(channels) ks \(ks) input zero point \(izp)"
        }
    }
}

/// Packed weights made ahead of time (a model file's), by node name. A session uses a blob in place when its
/// geometry is exactly what its own kernels read; otherwise it packs the node's weights itself.
public struct PrepackedWeights: @unchecked Sendable {
    public struct Blob {
        public let geometry: PackedGeometry
        public let bytes: UnsafeRawBufferPointer
        public init(geometry: PackedGeometry, bytes: UnsafeRawBufferPointer) {
            self.geometry = geometry
            self.bytes = bytes
        }
    }

    public let blobs: [String: Blob]
    /// Keeps the memory the blobs point into alive (a mapped model file).
    public let owner: AnyObject?

    public init(blobs: [String: Blob], owner: AnyObject?) {
        self.blobs = blobs
        self.owner = owner
    }
}

/// One node's packed weights, as `InferenceSession.packWeights` makes them for a model file.
public struct PackedNodeWeights: Sendable {
    public let node: String
    public let geometry: PackedGeometry
    public let bytes: [UInt8]
}

/// Packs GEMM/IGEMM weights (`weights` in [groups][nc][ks][kc] order) in the layout (nr, kr, input offset), with the
/// input zero point folded into the bias and the per-channel requantization after each block.
func packGemmWeights(_ node: Node, nr: Int, kr: Int, inputOffset: Int, groups: Int, nc: Int, ks: Int, kc: Int,
                     weights: [Int8], bias: [Int32], requant: [ck_requant], inputZeroPoint: Int32) throws -> AlignedBuffer {
    let packed = AlignedBuffer(bytes: ck_pack_qs8_qc8w_gemm_size(UInt32(nr), UInt32(kr), groups, nc, ks, kc))
    let status = weights.withUnsafeBufferPointer { w in
        bias.withUnsafeBufferPointer { b in
            requant.withUnsafeBufferPointer { r in
                ck_pack_qs8_qc8w_gemm(UInt32(nr), UInt32(kr), Int32(inputOffset), groups, nc, ks, kc, inputZeroPoint,
                                      w.baseAddress, b.baseAddress, r.baseAddress, packed.pointer)
            }
        }
    }
    guard status == CK_OK else { throw int8Error(node, "packing the weights failed (CKernels status \(status.rawValue))") }
    return packed
}

/// The checks every INT8 GEMM-shaped node passes before packing; returns its requantization.
func checkedGemmRequantization(_ node: Node, outputs: Int, ks: Int, kc: Int, weights: [Int8], bias: [Int32], scales: [Float],
                               input: QuantizationParameters, output: QuantizationParameters) throws -> [ck_requant] {
    guard weights.count == outputs * ks * kc, bias.count == outputs, scales.count == outputs else {
        throw int8Error(node, "the quantized weights have \(weights.count) values, \(scales.count) scales and \(bias.count) biases for \(outputs) output channels of \(ks * kc) weights")
    }
    try checkZeroPoint(node, input, "input")
    try checkZeroPoint(node, output, "output")
    if let i = weights.firstIndex(of: -128) {
        throw int8Error(node, "weight -128 (output channel \(i / (ks * kc))) is outside [-127, 127], which the kernels need; quantize weights symmetrically")
    }
    return try requantization(node, input: input, weightScales: scales, output: output)
}

/// The weights of a convolution or fully connected layer packed for the GEMM/IGEMM micro-kernel of one
/// ISA level (the descriptor's mr/nr/kr and packer), once per session, with the input zero point folded
/// into the bias and the per-channel requantization after each block — or a model file's blob of exactly
/// that layout, used in place.
final class PackedGemmINT8 {
    let ukernel: ck_qs8_qc8w_gemm_ukernel
    let gemm: ck_qs8_qc8w_gemm_fn
    let igemm: ck_qs8_qc8w_igemm_fn
    let mr: Int, nr: Int, kr: Int
    let groups: Int
    /// Output channels per group, and the packed reduction: `ks` taps of `kc` channels.
    let nc: Int, ks: Int, kc: Int
    let blockSize: Int
    let groupStride: Int
    /// Our own packing, or nil when `pointer` is a pre-packed blob.
    let packedBuffer: AlignedBuffer?
    let pointer: UnsafeRawPointer
    let geometry: PackedGeometry
    let params: UnsafeMutablePointer<ck_qs8_minmax_params>
    let inputZeroPoint: Int8

    /// `weights` in [groups][nc][ks][kc] order (OHWI per group), `bias` and `scales` per output channel. `weights` is
    /// only evaluated when the session packs them itself: a pre-packed blob of this geometry was checked when its
    /// file was read (no -128, requantization equal to the scales'), and reordering a model's every weight only to
    /// look at it again was a quarter of a `.rem`'s start-up.
    init(node: Node, kernels: KernelSet, groups: Int, nc: Int, ks: Int, kc: Int, weights: @autoclosure () -> [Int8], bias: [Int32],
         scales: [Float], input: QuantizationParameters, output: QuantizationParameters, activation: Activation,
         prepacked: PrepackedWeights.Blob? = nil) throws {
        ukernel = kernels.gemm
        gemm = ukernel.gemm!
        igemm = ukernel.igemm!
        (mr, nr, kr) = (Int(ukernel.mr), Int(ukernel.nr), Int(ukernel.kr))
        self.groups = groups
        (self.nc, self.ks, self.kc) = (nc, ks, kc)
        blockSize = ck_pack_qs8_qc8w_gemm_block_size(ukernel.nr, ukernel.kr, ks, kc)
        groupStride = (nc + nr - 1) / nr * blockSize
        geometry = .gemm(nr: nr, kr: kr, inputOffset: Int(ukernel.input_offset), groups: groups, nc: nc, ks: ks, kc: kc,
                         inputZeroPoint: Int(input.zeroPoint))
        if let prepacked, prepacked.geometry == geometry, prepacked.bytes.count == geometry.byteCount, let base = prepacked.bytes.baseAddress {
            try checkZeroPoint(node, input, "input")
            try checkZeroPoint(node, output, "output")
            packedBuffer = nil
            pointer = base
        } else {
            let weights = weights()
            let requant = try checkedGemmRequantization(node, outputs: groups * nc, ks: ks, kc: kc, weights: weights, bias: bias,
                                                        scales: scales, input: input, output: output)
            let buffer = try packGemmWeights(node, nr: nr, kr: kr, inputOffset: Int(ukernel.input_offset), groups: groups, nc: nc, ks: ks, kc: kc,
                                             weights: weights, bias: bias, requant: requant, inputZeroPoint: input.zeroPoint)
            packedBuffer = buffer
            pointer = UnsafeRawPointer(buffer.pointer)
        }
        inputZeroPoint = Int8(input.zeroPoint)
        params = .allocate(capacity: 1)
        params.initialize(to: ck_qs8_minmax_params())
        let bounds = int8Bounds(activation, output)
        guard ck_qs8_minmax_params_init(params, output.zeroPoint, bounds.min, bounds.max) == CK_OK else {
            throw int8Error(node, "invalid output parameters (zero point \(output.zeroPoint), clamp [\(bounds.min), \(bounds.max)])")
        }
    }

    /// True when the session reads a model file's blob in place.
    var usesPrepacked: Bool { packedBuffer == nil }

    deinit { params.deallocate() }

    /// The packed block holding column `n0` (a multiple of nr) of group `g`.
    @inline(__always) func weights(group g: Int, column n0: Int) -> UnsafeRawPointer {
        pointer + g * groupStride + (n0 / nr) * blockSize
    }

    /// Output channels per tile: about 64 KiB of packed weights per tile (a tile's weights stay in L1/L2
    /// while its rows stream past), a multiple of nr, at most the whole group, and the group split into tiles
    /// of equal width (threads take equal shares of tiles, so unequal tiles would unbalance them).
    func columnTile(rows: Int, threads: Int) -> Int {
        let perColumn = blockSize / nr
        let blocks = (nc + nr - 1) / nr
        var maxBlocks = max(1, min(blocks, 64 * 1024 / max(perColumn * nr, 1)))
        // Enough tiles for every thread when there are few rows (late layers, the classifier).
        let mTiles = (rows + mr - 1) / mr
        while maxBlocks > 1 && mTiles * groups * ((blocks + maxBlocks - 1) / maxBlocks) < 4 * threads { maxBlocks = (maxBlocks + 1) / 2 }
        let tiles = (blocks + maxBlocks - 1) / maxBlocks
        return (blocks + tiles - 1) / tiles * nr
    }
}

extension Convolution {
    /// The int8 weights in OHWI order ([Cout][KH*KW][Cin/groups]), as the GEMM packer and im2col want them.
    func int8WeightsOHWI(_ q: QuantizedWeights) -> [Int8] {
        let ks = window.kernelHeight * window.kernelWidth, cig = inputChannelsPerGroup
        // The same order; or counts that do not fit, which the packer's check reports.
        if ks == 1 || cig == 1 || q.values.count != outputChannels * cig * ks { return q.values }
        // Pointer loops: this runs over every weight a session packs itself (about 22 instructions a weight with
        // indexed arrays).
        return [Int8](unsafeUninitializedCapacity: q.values.count) { out, initialized in
            q.values.withUnsafeBufferPointer { values in
                let src = values.baseAddress!, dst = out.baseAddress!
                for o in 0..<outputChannels {
                    let from = src + o * cig * ks, to = dst + o * ks * cig
                    for t in 0..<ks {
                        for ci in 0..<cig { to[t * cig + ci] = from[ci * ks + t] }
                    }
                }
            }
            initialized = q.values.count
        }
    }
}

/// Packs depthwise weights ([channels][ks]) for the dwconv micro-kernel's channel tile `cr`.
func packDepthwiseWeights(_ node: Node, cr: Int, channels: Int, ks: Int, weights: [Int8], bias: [Int32], requant: [ck_requant],
                          inputZeroPoint: Int32) throws -> AlignedBuffer {
    let packed = AlignedBuffer(bytes: ck_pack_qs8_qc8w_dwconv_size(UInt32(cr), channels, ks))
    let status = weights.withUnsafeBufferPointer { w in
        bias.withUnsafeBufferPointer { b in
            requant.withUnsafeBufferPointer { r in
                ck_pack_qs8_qc8w_dwconv(UInt32(cr), channels, ks, inputZeroPoint, w.baseAddress, b.baseAddress, r.baseAddress, packed.pointer)
            }
        }
    }
    guard status == CK_OK else { throw int8Error(node, "packing the weights failed (CKernels status \(status.rawValue))") }
    return packed
}

/// The checks of a depthwise INT8 node; returns its requantization.
func checkedDepthwiseRequantization(_ node: Node, conv: Convolution, input: QuantizationParameters,
                                    output: QuantizationParameters) throws -> [ck_requant] {
    let q = conv.quantized!
    let ks = conv.window.kernelHeight * conv.window.kernelWidth
    let channels = conv.outputChannels
    guard q.values.count == channels * ks, q.scales.count == channels, q.bias.count == channels else {
        throw int8Error(node, "the quantized weights have \(q.values.count) values, \(q.scales.count) scales and \(q.bias.count) biases for \(channels) channels of \(ks) taps")
    }
    try checkZeroPoint(node, input, "input")
    try checkZeroPoint(node, output, "output")
    if let i = q.values.firstIndex(of: -128) {
        throw int8Error(node, "weight -128 (channel \(i / ks)) is outside [-127, 127], which the kernels need; quantize weights symmetrically")
    }
    return try requantization(node, input: input, weightScales: q.scales, output: output)
}

/// Depthwise weights packed for the dwconv micro-kernel's channel tile (or a model file's blob of that layout).
final class PackedDepthwiseINT8 {
    let function: ck_qs8_qc8w_dwconv_fn
    let packedBuffer: AlignedBuffer?
    let pointer: UnsafeRawPointer
    let geometry: PackedGeometry
    let params: UnsafeMutablePointer<ck_qs8_minmax_params>
    let channels: Int, ks: Int

    init(node: Node, conv: Convolution, kernels: KernelSet, input: QuantizationParameters, output: QuantizationParameters,
         prepacked: PrepackedWeights.Blob? = nil) throws {
        let requant = try checkedDepthwiseRequantization(node, conv: conv, input: input, output: output)
        let q = conv.quantized!
        let uk = kernels.kernels.dwconv
        function = uk.fn!
        channels = conv.outputChannels
        ks = conv.window.kernelHeight * conv.window.kernelWidth
        geometry = .depthwise(cr: Int(uk.cr), channels: channels, ks: ks, inputZeroPoint: Int(input.zeroPoint))
        if let prepacked, prepacked.geometry == geometry, prepacked.bytes.count == geometry.byteCount, let base = prepacked.bytes.baseAddress {
            packedBuffer = nil
            pointer = base
        } else {
            let buffer = try packDepthwiseWeights(node, cr: Int(uk.cr), channels: channels, ks: ks, weights: q.values, bias: q.bias,
                                                  requant: requant, inputZeroPoint: input.zeroPoint)
            packedBuffer = buffer
            pointer = UnsafeRawPointer(buffer.pointer)
        }
        params = .allocate(capacity: 1)
        params.initialize(to: ck_qs8_minmax_params())
        let bounds = int8Bounds(conv.activation, output)
        guard ck_qs8_minmax_params_init(params, output.zeroPoint, bounds.min, bounds.max) == CK_OK else {
            throw int8Error(node, "invalid output parameters (zero point \(output.zeroPoint), clamp [\(bounds.min), \(bounds.max)])")
        }
    }

    deinit { params.deallocate() }
}

/// A quantized convolution, packed once per session for one of four ways of running it:
/// - `.gemm`: 1x1, stride 1, no padding, no groups: a GEMM straight over the NHWC rows;
/// - `.im2col`: few input channels (the RGB stem): an im2col row per output pixel (`ck_im2col_conv2d`),
///   then a GEMM with K = KH*KW*C (an IGEMM tap would carry only C bytes of K there);
/// - `.igemm`: everything else, over an indirection buffer (groups through a_offset);
/// - `.depthwise`: the dwconv kernel over the same indirection buffer.
final class PackedConvolutionINT8 {
    enum Mode: String { case gemm, im2col, igemm, depthwise }

    let conv: Convolution
    let mode: Mode
    let gemm: PackedGemmINT8?
    let depthwise: PackedDepthwiseINT8?
    /// At least Cin bytes of the input zero point: the padding row of the indirection buffer.
    let zero: AlignedBuffer
    let kernelName: String

    /// How a convolution runs INT8; a function of the convolution alone, so a model file packed elsewhere agrees.
    static func mode(_ conv: Convolution) -> Mode {
        let w = conv.window
        let ks = w.kernelHeight * w.kernelWidth
        let noPadding: Bool = {
            switch w.padding {
            case .explicit(let t, let l, let b, let r): return t == 0 && l == 0 && b == 0 && r == 0
            case .sameUpper, .sameLower: return true  // 1x1 stride 1: SAME pads nothing
            }
        }()
        if conv.isDepthwise { return .depthwise }
        if conv.groups == 1 && ks == 1 && w.strideHeight == 1 && w.strideWidth == 1 && noPadding { return .gemm }
        if conv.groups == 1 && ks > 1 && conv.inputChannelsPerGroup <= 4 { return .im2col }
        return .igemm
    }

    /// (taps, channels per tap) of the packed reduction: im2col and GEMM pack one tap of KH*KW*Cin/groups.
    static func packedReduction(_ conv: Convolution, _ mode: Mode) -> (ks: Int, kc: Int) {
        let ks = conv.window.kernelHeight * conv.window.kernelWidth, cig = conv.inputChannelsPerGroup
        return mode == .igemm ? (ks, cig) : (1, ks * cig)
    }

    init(node: Node, conv: Convolution, kernels: KernelSet, input: QuantizationParameters, output: QuantizationParameters,
         prepacked: PrepackedWeights.Blob? = nil) throws {
        self.conv = conv
        let q = conv.quantized!
        mode = Self.mode(conv)
        zero = AlignedBuffer(bytes: conv.inputChannels + 64)
        zero.int8.update(repeating: Int8(clamping: input.zeroPoint), count: zero.bytes)
        switch mode {
        case .depthwise:
            depthwise = try PackedDepthwiseINT8(node: node, conv: conv, kernels: kernels, input: input, output: output, prepacked: prepacked)
            gemm = nil
            kernelName = kernels.dwconvName
        case .gemm, .im2col, .igemm:
            let (packedTaps, packedDepth) = Self.packedReduction(conv, mode)
            gemm = try PackedGemmINT8(node: node, kernels: kernels, groups: conv.groups, nc: conv.outputChannels / conv.groups,
                                      ks: packedTaps, kc: packedDepth, weights: conv.int8WeightsOHWI(q), bias: q.bias, scales: q.scales,
                                      input: input, output: output, activation: conv.activation, prepacked: prepacked)
            depthwise = nil
            kernelName = mode == .igemm ? kernels.igemmName : kernels.gemmName
        }
    }
}

extension InferenceSession {
    /// Every INT8 convolution and fully connected node's weights packed in `layout` (the layout of the kernels a
    /// board runs, which need not be this CPU's), as a model file stores them. The nodes are those a session
    /// would run INT8; the packing is the one such a session makes (and then uses in place).
    public static func packWeights(graph: Graph, layout: WeightLayout) throws -> [PackedNodeWeights] {
        try graph.validate()
        let strategy = ExecutionStrategy(graph: graph, precision: .auto)
        let q = strategy.quantization
        var result: [PackedNodeWeights] = []
        func bytes(_ buffer: AlignedBuffer, _ count: Int) -> [UInt8] {
            Array(UnsafeRawBufferPointer(start: buffer.pointer, count: count))
        }
        for (index, node) in graph.nodes.enumerated() where strategy.runsINT8[index] {
            let input = q[node.inputs[0]]!, output = q[node.output]!
            switch node.op {
            case .convolution(let conv):
                let qw = conv.quantized!
                let mode = PackedConvolutionINT8.mode(conv)
                if mode == .depthwise {
                    let requant = try checkedDepthwiseRequantization(node, conv: conv, input: input, output: output)
                    let ks = conv.window.kernelHeight * conv.window.kernelWidth
                    let geometry = PackedGeometry.depthwise(cr: layout.depthwiseCR, channels: conv.outputChannels, ks: ks,
                                                            inputZeroPoint: Int(input.zeroPoint))
                    let buffer = try packDepthwiseWeights(node, cr: layout.depthwiseCR, channels: conv.outputChannels, ks: ks,
                                                          weights: qw.values, bias: qw.bias, requant: requant, inputZeroPoint: input.zeroPoint)
                    result.append(PackedNodeWeights(node: node.name, geometry: geometry, bytes: bytes(buffer, geometry.byteCount)))
                } else {
                    let (ks, kc) = PackedConvolutionINT8.packedReduction(conv, mode)
                    let nc = conv.outputChannels / conv.groups
                    let weights = conv.int8WeightsOHWI(qw)
                    let requant = try checkedGemmRequantization(node, outputs: conv.outputChannels, ks: ks, kc: kc, weights: weights,
                                                                bias: qw.bias, scales: qw.scales, input: input, output: output)
                    let geometry = PackedGeometry.gemm(nr: layout.gemmNR, kr: layout.gemmKR, inputOffset: layout.gemmInputOffset,
                                                       groups: conv.groups, nc: nc, ks: ks, kc: kc, inputZeroPoint: Int(input.zeroPoint))
                    let buffer = try packGemmWeights(node, nr: layout.gemmNR, kr: layout.gemmKR, inputOffset: layout.gemmInputOffset,
                                                     groups: conv.groups, nc: nc, ks: ks, kc: kc, weights: weights, bias: qw.bias,
                                                     requant: requant, inputZeroPoint: input.zeroPoint)
                    result.append(PackedNodeWeights(node: node.name, geometry: geometry, bytes: bytes(buffer, geometry.byteCount)))
                }
            case .fullyConnected(let fc):
                let qw = fc.quantized!
                let requant = try checkedGemmRequantization(node, outputs: fc.outputs, ks: 1, kc: fc.inputs, weights: qw.values,
                                                            bias: qw.bias, scales: qw.scales, input: input, output: output)
                let geometry = PackedGeometry.gemm(nr: layout.gemmNR, kr: layout.gemmKR, inputOffset: layout.gemmInputOffset,
                                                   groups: 1, nc: fc.outputs, ks: 1, kc: fc.inputs, inputZeroPoint: Int(input.zeroPoint))
                let buffer = try packGemmWeights(node, nr: layout.gemmNR, kr: layout.gemmKR, inputOffset: layout.gemmInputOffset,
                                                 groups: 1, nc: fc.outputs, ks: 1, kc: fc.inputs, weights: qw.values, bias: qw.bias,
                                                 requant: requant, inputZeroPoint: input.zeroPoint)
                result.append(PackedNodeWeights(node: node.name, geometry: geometry, bytes: bytes(buffer, geometry.byteCount)))
            default:
                break
            }
        }
        return result
    }
}
