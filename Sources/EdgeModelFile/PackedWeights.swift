import CKernels
import EdgeGraph

/// The weights of one INT8 convolution or fully connected node, pre-packed by a CKernels packer in exactly
/// the layouts of `ck-pack.h`, as the writer takes them and the reader hands them back in place.
public struct PackedWeightsBlob: Sendable, Equatable {
    /// The packing geometry (the arguments the packer was called with).
    public enum Kind: Sendable, Equatable, CustomStringConvertible {
        /// `ck_pack_qs8_qc8w_gemm(nr, kr, inputOffset, groups, nc, ks, kc, inputZeroPoint, ...)`: weights
        /// [groups][nc][ks][kc] (OHWI per group; ks = KH*KW taps of kc = Cin/groups channels, or, for the
        /// im2col form, ks = 1 and kc = KH*KW*Cin/groups in (ky, kx, ci) order; a fully connected layer is
        /// groups 1, nc outputs, ks 1, kc inputs).
        case gemm(nr: Int, kr: Int, inputOffset: Int32, groups: Int, nc: Int, ks: Int, kc: Int, inputZeroPoint: Int32)
        /// `ck_pack_qs8_qc8w_dwconv(cr, channels, ks, inputZeroPoint, ...)`: weights [channels][ks].
        case depthwise(cr: Int, channels: Int, ks: Int, inputZeroPoint: Int32)

        public var description: String {
            switch self {
            case let .gemm(nr, kr, off, g, nc, ks, kc, zp):
                return "gemm nr\(nr) kr\(kr)\(off != 0 ? " input offset \(off)" : "") groups \(g) nc \(nc) ks \(ks) kc \(kc) input zero point \(zp)"
            case let .depthwise(cr, c, ks, zp):
                return "depthwise cr\(cr) channels \(c) ks \(ks) input zero point \(zp)"
            }
        }

        public var inputZeroPoint: Int32 {
            switch self {
            case .gemm(_, _, _, _, _, _, _, let zp), .depthwise(_, _, _, let zp): return zp
            }
        }

        /// Output channels (all groups).
        public var outputChannels: Int {
            switch self {
            case let .gemm(_, _, _, groups, nc, _, _, _): return groups * nc
            case let .depthwise(_, channels, _, _): return channels
            }
        }

        /// Weights per output channel.
        public var reduction: Int {
            switch self {
            case let .gemm(_, _, _, _, _, ks, kc, _): return ks * kc
            case let .depthwise(_, _, ks, _): return ks
            }
        }

        /// The packed size in bytes (as `ck_pack_qs8_qc8w_*_size`), nil if the geometry is out of range.
        public var byteCount: Int? {
            guard let g = try? checkedGeometry() else { return nil }
            return g.blocks * g.blockSize
        }

        /// Bounds that keep every size computation far from overflow.
        static let maxDimension = 1 << 24

        struct Geometry {
            let tile: Int          // nr or cr
            let blocks: Int
            let blockSize: Int
            let weightsOffset: Int // in a block
            let requantOffset: Int // in a block
        }

        func checkedGeometry() throws -> Geometry {
            let limit = Kind.maxDimension
            func range(_ name: String, _ v: Int, _ r: ClosedRange<Int>) throws {
                guard r.contains(v) else { throw PackError("\(name) \(v) is outside [\(r.lowerBound), \(r.upperBound)]") }
            }
            func product(_ xs: [Int]) throws -> Int {
                var p = 1
                for x in xs {
                    let (r, o) = p.multipliedReportingOverflow(by: x)
                    guard !o, r <= 1 << 40 else { throw PackError("the packed size is too large") }
                    p = r
                }
                return p
            }
            switch self {
            case let .gemm(nr, kr, inputOffset, groups, nc, ks, kc, zp):
                try range("nr", nr, 1...64)
                try range("kr", kr, 1...64)
                try range("input offset", Int(inputOffset), 0...255)
                try range("groups", groups, 1...limit)
                try range("nc", nc, 1...limit)
                try range("ks", ks, 1...limit)
                try range("kc", kc, 1...limit)
                try range("input zero point", Int(zp), -128...127)
                let kcPadded = (kc + kr - 1) / kr * kr
                let weights = try product([ks, kcPadded, nr])
                let blockSize = nr * 4 + weights + nr * 12
                let blocks = try product([groups, (nc + nr - 1) / nr])
                _ = try product([blocks, blockSize])
                return Geometry(tile: nr, blocks: blocks, blockSize: blockSize, weightsOffset: nr * 4, requantOffset: nr * 4 + weights)
            case let .depthwise(cr, channels, ks, zp):
                try range("cr", cr, 1...256)
                try range("channels", channels, 1...limit)
                try range("ks", ks, 1...limit)
                try range("input zero point", Int(zp), -128...127)
                let weights = (try product([ks, cr]) + 3) / 4 * 4
                let blockSize = cr * 4 + weights + cr * 12
                let blocks = (channels + cr - 1) / cr
                _ = try product([blocks, blockSize])
                return Geometry(tile: cr, blocks: blocks, blockSize: blockSize, weightsOffset: cr * 4, requantOffset: cr * 4 + weights)
            }
        }
    }

    /// The node (by name) whose weights these are.
    public var node: String
    public var kind: Kind
    public var bytes: [UInt8]

    public init(node: String, kind: Kind, bytes: [UInt8]) {
        self.node = node
        self.kind = kind
        self.bytes = bytes
    }
}

/// A packed blob inside a loaded model file: `bytes` points into the file's mapping (64-byte aligned) and
/// stays valid as long as the `LoadedModelFile` it came from is alive.
public struct PackedWeightsView: @unchecked Sendable {
    public let node: String
    /// The node's index in the loaded graph.
    public let nodeIndex: Int
    public let kind: PackedWeightsBlob.Kind
    public let bytes: UnsafeRawBufferPointer
}

/// One output channel's requantization as packed after each block (`ck_requant_packed`).
public struct PackedRequantization: Sendable, Equatable {
    public var multiplier: Int32
    public var leftShift: Int32
    public var rightShift: Int32
}

/// The contents of a packed blob in canonical order.
public struct UnpackedWeights: Sendable, Equatable {
    /// [outputs][reduction]: [groups*nc][ks][kc] for GEMM blobs (OHWI per output channel; OIHW when unpacked with the
    /// convolution's taps), [channels][ks] for depthwise.
    public var weights: [Int8]
    /// The original int32 bias per output channel (the packed bias with the input zero point unfolded).
    public var bias: [Int32]
    public var requantization: [PackedRequantization]
}

struct PackError: Error { let why: String; init(_ why: String) { self.why = why } }

extension PackedWeightsBlob.Kind {
    /// Unpacks a blob of this geometry: the inverse of the CKernels packer. Checks that the blob has the
    /// size the geometry gives, that every padding byte (columns past nc, k past kc, the depthwise row pad)
    /// is zero, that no weight is -128 (the kernels need [-127, 127]) and that every requantization is one
    /// `ck_requant_from_scale` can produce. Throws one line saying what is wrong.
    ///
    /// `taps`: with 1 (the default) the weights come back as the packer took them, OHWI per output channel
    /// ([tap][channel in tap]); with the convolution's KH*KW they come back OIHW ([channel in tap][tap]), the graph's
    /// order, written there directly rather than reordered in a second pass over every weight.
    public func unpack(_ bytes: UnsafeRawBufferPointer, taps: Int = 1) throws -> UnpackedWeights {
        do {
            return try unpackChecked(bytes, taps: taps)
        } catch let e as PackError {
            throw ModelFileError("packed weights (\(self)): \(e.why)")
        }
    }

    func unpackChecked(_ blob: UnsafeRawBufferPointer, taps: Int = 1) throws -> UnpackedWeights {
        let g = try checkedGeometry()
        let expected = g.blocks * g.blockSize
        guard blob.count == expected else { throw PackError("\(blob.count) bytes; the geometry needs \(expected)") }
        let outputs = outputChannels, reduction = self.reduction
        guard taps >= 1, reduction % taps == 0 else { throw PackError("\(reduction) weights per output channel are not \(taps) taps") }
        var weights = [Int8](repeating: 0, count: outputs * reduction)
        var bias = [Int32](repeating: 0, count: outputs)
        var requant = [PackedRequantization](repeating: PackedRequantization(multiplier: 0, leftShift: 0, rightShift: 0), count: outputs)
        let tile = g.tile
        // (group, first channel in group, channels per group) per block.
        let perGroup: Int, zeroPointSum: UInt32
        switch self {
        case let .gemm(_, _, off, _, nc, _, _, zp): perGroup = nc; zeroPointSum = UInt32(bitPattern: zp &+ off)
        case let .depthwise(_, channels, _, zp): perGroup = channels; zeroPointSum = UInt32(bitPattern: zp)
        }
        let blocksPerGroup = (perGroup + tile - 1) / tile
        try weights.withUnsafeMutableBufferPointer { w in
            for block in 0..<g.blocks {
                let base = block * g.blockSize
                let group = block / blocksPerGroup, n0 = (block % blocksPerGroup) * tile
                let columns = min(tile, perGroup - n0)
                // Weights.
                switch self {
                case let .gemm(nr, kr, _, _, nc, ks, kc, _):
                    // The fast copy runs over every weight of the model at load; only a block it rejects is walked
                    // again, byte by byte, to say which byte is wrong.
                    let source = blob.baseAddress!.advanced(by: base + g.weightsOffset).assumingMemoryBound(to: Int8.self)
                    if Self.copyGemmBlock(source, to: w.baseAddress! + (group * nc + n0) * ks * kc, nr: nr, kr: kr, ks: ks, kc: kc,
                                          columns: columns, taps: taps) { break }
                    let kBlocks = (kc + kr - 1) / kr
                    var p = base + g.weightsOffset
                    for t in 0..<ks {
                        for kb in 0..<kBlocks {
                            for j in 0..<nr {
                                for i in 0..<kr {
                                    let v = Int8(bitPattern: blob[p + j * kr + i])
                                    let k = kb * kr + i
                                    if j < columns && k < kc {
                                        if v == -128 { throw PackError("output channel \(group * nc + n0 + j) has weight -128, outside [-127, 127]") }
                                        w[((group * nc + n0 + j) * ks + t) * kc + k] = v
                                    } else if v != 0 {
                                        throw PackError("block \(block): padding byte at \(p + j * kr + i) is \(v), not 0")
                                    }
                                }
                            }
                            p += nr * kr
                        }
                    }
                    // The walk finds what the fast copy rejected; a block both accept cannot get here.
                    throw PackError("block \(block): weights the fast copy rejected and the check did not")
                case let .depthwise(cr, _, ks, _):
                    let p = base + g.weightsOffset
                    for t in 0..<ks {
                        for j in 0..<cr {
                            let v = Int8(bitPattern: blob[p + t * cr + j])
                            if j < columns {
                                if v == -128 { throw PackError("channel \(n0 + j) has weight -128, outside [-127, 127]") }
                                w[(n0 + j) * ks + t] = v
                            } else if v != 0 {
                                throw PackError("block \(block): padding byte at \(p + t * cr + j) is \(v), not 0")
                            }
                        }
                    }
                    for q in (p + ks * cr)..<(base + g.requantOffset) where blob[q] != 0 {
                        throw PackError("block \(block): padding byte at \(q) is \(blob[q]), not 0")
                    }
                }
                // Bias and requantization.
                for j in 0..<tile {
                    let packedBias = blob.i32(base + 4 * j)
                    let rq = PackedRequantization(multiplier: blob.i32(base + g.requantOffset + 4 * j),
                                                  leftShift: blob.i32(base + g.requantOffset + 4 * (tile + j)),
                                                  rightShift: blob.i32(base + g.requantOffset + 4 * (2 * tile + j)))
                    if j >= columns {
                        guard packedBias == 0, rq == PackedRequantization(multiplier: 0, leftShift: 0, rightShift: 0) else {
                            throw PackError("block \(block): padding column \(j) has a non-zero bias or requantization")
                        }
                        continue
                    }
                    let channel = group * perGroup + n0 + j
                    guard rq.isValid else {
                        throw PackError("output channel \(channel): requantization (multiplier \(rq.multiplier), shifts \(rq.leftShift)/\(rq.rightShift)) is not one ck_requant_from_scale makes")
                    }
                    var sum: UInt32 = 0
                    let row = w.baseAddress! + channel &* reduction   // a pointer loop: it vectorises
                    for i in 0..<reduction { sum &+= UInt32(bitPattern: Int32(row[i])) }
                    bias[channel] = Int32(bitPattern: UInt32(bitPattern: packedBias) &+ zeroPointSum &* sum)
                    requant[channel] = rq
                }
            }
        }
        return UnpackedWeights(weights: weights, bias: bias, requantization: requant)
    }

    /// Copies one GEMM block's weights ([ks][k blocks][nr][kr]) to their places at `destination` (the block's first
    /// channel; channels ks * kc apart): position r = t * kc + k of a channel's reduction is OHWI tap r / cig, input
    /// channel r % cig (cig = ks * kc / taps), written to ci * taps + tap (OIHW; with taps 1 that is r). False if a
    /// weight is -128 or a padding byte (a column past `columns`, k past kc) is not zero. Pointer loops, one output
    /// channel at a time, the checks folded into a minimum and an OR: with a bounds-checked, throwing loop per byte
    /// and a second pass to reorder, this took about 100 instructions a weight, half of a ResNet18 `.rem`'s start-up.
    @inline(__always)
    static func copyGemmBlock(_ source: UnsafePointer<Int8>, to destination: UnsafeMutablePointer<Int8>, nr: Int, kr: Int, ks: Int, kc: Int,
                              columns: Int, taps: Int) -> Bool {
        var minimum: Int8 = 0, padding: Int8 = 0
        let kBlocks = (kc &+ kr &- 1) / kr
        let blockStride = nr &* kr, tapStride = kBlocks &* blockStride
        let reduction = ks &* kc, cig = reduction / taps
        for j in 0..<nr {
            if j >= columns {
                for t in 0..<ks {
                    let from = source + t &* tapStride + j &* kr
                    for kb in 0..<kBlocks { for i in 0..<kr { padding |= from[kb &* blockStride &+ i] } }
                }
                continue
            }
            let to = destination + j &* reduction
            if taps == 1 || taps == ks {
                // OHWI (taps 1): weight k of tap t goes to t * kc + k. OIHW from the IGEMM geometry (ks taps of kc = cig
                // channels): to k * taps + t. Either way a fixed step along k.
                let (kStep, tapStart) = taps == 1 ? (1, kc) : (taps, 1)
                for t in 0..<ks {
                    let from = source + t &* tapStride + j &* kr
                    var out = to + t &* tapStart
                    var k = 0
                    for kb in 0..<kBlocks {
                        let block = from + kb &* blockStride
                        let kn = Swift.min(kr, kc &- k)
                        for i in 0..<kn {
                            out.pointee = block[i]
                            out += kStep
                        }
                        for i in kn..<kr { padding |= block[i] }
                        k &+= kr
                    }
                }
                continue
            }
            // OIHW from the im2col geometry (one tap of KH*KW*cig): (tap, input channel) of reduction position r,
            // advanced as r counts up, no division per weight.
            var tap = 0, ci = 0
            for t in 0..<ks {
                let from = source + t &* tapStride + j &* kr
                var k = 0
                for kb in 0..<kBlocks {
                    let block = from + kb &* blockStride
                    let kn = Swift.min(kr, kc &- k)
                    for i in 0..<kn {
                        to[ci &* taps &+ tap] = block[i]
                        ci &+= 1
                        if ci == cig { ci = 0; tap &+= 1 }
                    }
                    for i in kn..<kr { padding |= block[i] }
                    k &+= kr
                }
            }
        }
        // -128 anywhere in the block's weight bytes is wrong (a weight outside [-127, 127], or padding that is not 0):
        // one reduction over the contiguous source instead of a compare per copied weight.
        for i in 0..<(ks &* tapStride) { minimum = Swift.min(minimum, source[i]) }
        return minimum != -128 && padding == 0
    }
}

extension PackedRequantization {
    init(_ p: ck_requant_packed) { self.init(multiplier: p.multiplier, leftShift: p.left_shift, rightShift: p.right_shift) }

    /// The (multiplier, shift) pair this packs.
    var unpacked: ck_requant {
        ck_requant_unpack(ck_requant_packed(multiplier: multiplier, left_shift: leftShift, right_shift: rightShift))
    }

    /// A form `ck_requant_pack(ck_requant_from_scale(s))` can produce.
    var isValid: Bool {
        guard (0...9).contains(leftShift), (0...30).contains(rightShift), leftShift == 0 || rightShift == 0 else { return false }
        let rq = unpacked
        return ck_requant_is_valid(rq) != 0 && PackedRequantization(ck_requant_pack(rq)) == self
    }

    /// The packed requantization for a real scale, nil if CKernels rejects it.
    static func from(scale: Double) -> PackedRequantization? {
        var rq = ck_requant()
        guard ck_requant_from_scale(scale, &rq) == CK_OK else { return nil }
        return PackedRequantization(ck_requant_pack(rq))
    }

    /// The real scale multiplier * 2^-shift.
    public var scale: Double { ck_requant_to_scale(unpacked) }
}
