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

/// The weights of a convolution or fully connected layer packed for the GEMM/IGEMM micro-kernel of one
/// ISA level (the descriptor's mr/nr/kr and packer), once per session, with the input zero point folded
/// into the bias and the per-channel requantization after each block.
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
    let packed: AlignedBuffer
    let params: UnsafeMutablePointer<ck_qs8_minmax_params>
    let inputZeroPoint: Int8

    /// `weights` in [groups][nc][ks][kc] order (OHWI per group), `bias` and `scales` per output channel.
    init(node: Node, kernels: KernelSet, groups: Int, nc: Int, ks: Int, kc: Int, weights: [Int8], bias: [Int32], scales: [Float],
         input: QuantizationParameters, output: QuantizationParameters, activation: Activation) throws {
        let outputs = groups * nc
        guard weights.count == outputs * ks * kc, bias.count == outputs, scales.count == outputs else {
            throw int8Error(node, "the quantized weights have \(weights.count) values, \(scales.count) scales and \(bias.count) biases for \(outputs) output channels of \(ks * kc) weights")
        }
        try checkZeroPoint(node, input, "input")
        try checkZeroPoint(node, output, "output")
        if let i = weights.firstIndex(of: -128) {
            throw int8Error(node, "weight -128 (output channel \(i / (ks * kc))) is outside [-127, 127], which the kernels need; quantize weights symmetrically")
        }
        let requant = try requantization(node, input: input, weightScales: scales, output: output)
        ukernel = kernels.gemm
        gemm = ukernel.gemm!
        igemm = ukernel.igemm!
        (mr, nr, kr) = (Int(ukernel.mr), Int(ukernel.nr), Int(ukernel.kr))
        self.groups = groups
        (self.nc, self.ks, self.kc) = (nc, ks, kc)
        blockSize = ck_pack_qs8_qc8w_gemm_block_size(ukernel.nr, ukernel.kr, ks, kc)
        groupStride = (nc + nr - 1) / nr * blockSize
        let packed = AlignedBuffer(bytes: ck_pack_qs8_qc8w_gemm_size(ukernel.nr, ukernel.kr, groups, nc, ks, kc))
        self.packed = packed
        let pack = ukernel.pack!
        let status = weights.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                requant.withUnsafeBufferPointer { r in
                    pack(groups, nc, ks, kc, input.zeroPoint, w.baseAddress, b.baseAddress, r.baseAddress, packed.pointer)
                }
            }
        }
        guard status == CK_OK else { throw int8Error(node, "packing the weights failed (CKernels status \(status.rawValue))") }
        inputZeroPoint = Int8(input.zeroPoint)
        params = .allocate(capacity: 1)
        params.initialize(to: ck_qs8_minmax_params())
        let bounds = int8Bounds(activation, output)
        guard ck_qs8_minmax_params_init(params, output.zeroPoint, bounds.min, bounds.max) == CK_OK else {
            throw int8Error(node, "invalid output parameters (zero point \(output.zeroPoint), clamp [\(bounds.min), \(bounds.max)])")
        }
    }

    deinit { params.deallocate() }

    /// The packed block holding column `n0` (a multiple of nr) of group `g`.
    @inline(__always) func weights(group g: Int, column n0: Int) -> UnsafeRawPointer {
        UnsafeRawPointer(packed.pointer + g * groupStride + (n0 / nr) * blockSize)
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
        var out = [Int8](repeating: 0, count: q.values.count)
        for o in 0..<outputChannels {
            for ci in 0..<cig {
                for t in 0..<ks { out[(o * ks + t) * cig + ci] = q.values[(o * cig + ci) * ks + t] }
            }
        }
        return out
    }
}

/// Depthwise weights packed for the dwconv micro-kernel's channel tile.
final class PackedDepthwiseINT8 {
    let function: ck_qs8_qc8w_dwconv_fn
    let packed: AlignedBuffer
    let params: UnsafeMutablePointer<ck_qs8_minmax_params>
    let channels: Int, ks: Int

    init(node: Node, conv: Convolution, kernels: KernelSet, input: QuantizationParameters, output: QuantizationParameters) throws {
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
        let requant = try requantization(node, input: input, weightScales: q.scales, output: output)
        let uk = kernels.kernels.dwconv
        function = uk.fn!
        self.channels = channels
        self.ks = ks
        let packed = AlignedBuffer(bytes: ck_pack_qs8_qc8w_dwconv_size(uk.cr, channels, ks))
        self.packed = packed
        let status = q.values.withUnsafeBufferPointer { w in
            q.bias.withUnsafeBufferPointer { b in
                requant.withUnsafeBufferPointer { r in
                    ck_pack_qs8_qc8w_dwconv(uk.cr, channels, ks, input.zeroPoint, w.baseAddress, b.baseAddress, r.baseAddress, packed.pointer)
                }
            }
        }
        guard status == CK_OK else { throw int8Error(node, "packing the weights failed (CKernels status \(status.rawValue))") }
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

    init(node: Node, conv: Convolution, kernels: KernelSet, input: QuantizationParameters, output: QuantizationParameters) throws {
        self.conv = conv
        let q = conv.quantized!
        let w = conv.window
        let ks = w.kernelHeight * w.kernelWidth
        let noPadding: Bool = {
            switch w.padding {
            case .explicit(let t, let l, let b, let r): return t == 0 && l == 0 && b == 0 && r == 0
            case .sameUpper, .sameLower: return true  // 1x1 stride 1: SAME pads nothing
            }
        }()
        if conv.isDepthwise {
            mode = .depthwise
        } else if conv.groups == 1 && ks == 1 && w.strideHeight == 1 && w.strideWidth == 1 && noPadding {
            mode = .gemm
        } else if conv.groups == 1 && ks > 1 && conv.inputChannelsPerGroup <= 4 {
            mode = .im2col
        } else {
            mode = .igemm
        }
        zero = AlignedBuffer(bytes: conv.inputChannels + 64)
        zero.int8.update(repeating: Int8(clamping: input.zeroPoint), count: zero.bytes)
        switch mode {
        case .depthwise:
            depthwise = try PackedDepthwiseINT8(node: node, conv: conv, kernels: kernels, input: input, output: output)
            gemm = nil
            kernelName = kernels.dwconvName
        case .gemm, .im2col, .igemm:
            let cig = conv.inputChannelsPerGroup
            let (packedTaps, packedDepth) = mode == .igemm ? (ks, cig) : (1, ks * cig)
            gemm = try PackedGemmINT8(node: node, kernels: kernels, groups: conv.groups, nc: conv.outputChannels / conv.groups,
                                      ks: packedTaps, kc: packedDepth, weights: conv.int8WeightsOHWI(q), bias: q.bias, scales: q.scales,
                                      input: input, output: output, activation: conv.activation)
            depthwise = nil
            kernelName = mode == .igemm ? kernels.igemmName : kernels.gemmName
        }
    }
}
