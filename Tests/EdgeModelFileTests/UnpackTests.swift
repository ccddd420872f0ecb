import CKernels
import Testing
@testable import EdgeModelFile

@Suite("ModelFile unpacking packed weights")
struct ModelFileUnpackTests {
    @Test("GEMM blobs unpack to the packer's input, all four layouts, random shapes", arguments: GemmLayout.all)
    func gemmRoundTrip(layout: GemmLayout) throws {
        var rng = TestRNG(UInt64(layout.nr * 100 + layout.kr))
        for trial in 0..<40 {
            let groups = trial % 5 == 0 ? rng.int(2...4) : 1
            let nc = rng.int(1...37), ks = [1, 1, 4, 9][rng.int(0...3)], kc = rng.int(1...29)
            let zp = Int32(rng.int(-128...127))
            let n = groups * nc
            let weights = (0..<(n * ks * kc)).map { _ in Int8(rng.int(-127...127)) }
            let bias = (0..<n).map { _ in Int32(truncatingIfNeeded: Int64(rng.next() % (1 << 32)) - (1 << 31)) }
            let scales = (0..<n).map { _ in Double(rng.float(1e-5, 2)) }
            let blob = packGemm(layout, groups: groups, nc: nc, ks: ks, kc: kc, inputZeroPoint: zp, weights: weights, bias: bias,
                                requant: scales.map(requant))
            let kind = PackedWeightsBlob.Kind.gemm(nr: layout.nr, kr: layout.kr, inputOffset: layout.inputOffset, groups: groups,
                                                   nc: nc, ks: ks, kc: kc, inputZeroPoint: zp)
            #expect(kind.byteCount == blob.count)
            let u = try blob.withUnsafeBytes { try kind.unpack($0) }
            #expect(u.weights == weights, "trial \(trial): groups \(groups) nc \(nc) ks \(ks) kc \(kc)")
            #expect(u.bias == bias, "trial \(trial)")
            #expect(u.requantization == scales.map { PackedRequantization(ck_requant_pack(requant($0))) })
        }
    }

    /// With the convolution's taps the weights come back OIHW, as the graph holds them: for the IGEMM geometry (ks
    /// taps of kc = Cin channels) and for the im2col/GEMM one (one tap of KH*KW*Cin), every layout, random shapes.
    @Test("GEMM blobs unpack straight to OIHW given the taps, both geometries, all four layouts", arguments: GemmLayout.all)
    func gemmUnpacksToOIHW(layout: GemmLayout) throws {
        var rng = TestRNG(UInt64(layout.nr * 1000 + layout.kr))
        for trial in 0..<30 {
            let nc = rng.int(1...21), taps = [4, 9, 25][rng.int(0...2)], cig = rng.int(1...19)
            let im2col = trial % 2 == 1
            let (ks, kc) = im2col ? (1, taps * cig) : (taps, cig)
            let ohwi = (0..<(nc * taps * cig)).map { _ in Int8(rng.int(-127...127)) }
            var oihw = [Int8](repeating: 0, count: ohwi.count)
            for o in 0..<nc { for t in 0..<taps { for c in 0..<cig { oihw[(o * cig + c) * taps + t] = ohwi[(o * taps + t) * cig + c] } } }
            let bias = (0..<nc).map { _ in Int32(rng.int(-100_000...100_000)) }
            let blob = packGemm(layout, groups: 1, nc: nc, ks: ks, kc: kc, inputZeroPoint: 3, weights: ohwi, bias: bias,
                                requant: (0..<nc).map { _ in requant(0.01) })
            let kind = PackedWeightsBlob.Kind.gemm(nr: layout.nr, kr: layout.kr, inputOffset: layout.inputOffset, groups: 1,
                                                   nc: nc, ks: ks, kc: kc, inputZeroPoint: 3)
            let u = try blob.withUnsafeBytes { try kind.unpack($0, taps: taps) }
            #expect(u.weights == oihw, "trial \(trial): nc \(nc) taps \(taps) cig \(cig) \(im2col ? "im2col" : "igemm")")
            #expect(u.bias == bias, "trial \(trial)")
            #expect(try blob.withUnsafeBytes { try kind.unpack($0) }.weights == ohwi)
        }
    }

    @Test("depthwise blobs unpack to the packer's input", arguments: [16, 1, 8])
    func depthwiseRoundTrip(cr: Int) throws {
        var rng = TestRNG(UInt64(cr))
        for trial in 0..<40 {
            let channels = rng.int(1...53), ks = [1, 9, 25, 3][rng.int(0...3)]
            let zp = Int32(rng.int(-128...127))
            let weights = (0..<(channels * ks)).map { _ in Int8(rng.int(-127...127)) }
            let bias = (0..<channels).map { _ in Int32(rng.int(-100_000...100_000)) }
            let scales = (0..<channels).map { _ in Double(rng.float(1e-4, 0.5)) }
            let blob = packDepthwise(cr: cr, channels: channels, ks: ks, inputZeroPoint: zp, weights: weights, bias: bias, requant: scales.map(requant))
            let kind = PackedWeightsBlob.Kind.depthwise(cr: cr, channels: channels, ks: ks, inputZeroPoint: zp)
            #expect(kind.byteCount == blob.count)
            let u = try blob.withUnsafeBytes { try kind.unpack($0) }
            #expect(u.weights == weights, "trial \(trial): channels \(channels) ks \(ks)")
            #expect(u.bias == bias)
            #expect(u.requantization == scales.map { PackedRequantization(ck_requant_pack(requant($0))) })
        }
    }

    @Test("bias folding wraps like the packer (int32 extremes)")
    func wrappingBias() throws {
        let layout = GemmLayout.all[3]
        let weights = [Int8](repeating: 127, count: 3 * 64)
        let bias: [Int32] = [.max, .min, 0]
        let blob = packGemm(layout, groups: 1, nc: 3, ks: 1, kc: 64, inputZeroPoint: 127, weights: weights, bias: bias, requant: [requant(0.1), requant(0.1), requant(0.1)])
        let u = try blob.withUnsafeBytes { try PackedWeightsBlob.Kind.gemm(nr: 16, kr: 8, inputOffset: 128, groups: 1, nc: 3, ks: 1, kc: 64, inputZeroPoint: 127).unpack($0) }
        #expect(u.bias == bias)
    }

    @Test("a damaged blob is an error, not wrong weights")
    func damaged() throws {
        let layout = GemmLayout(nr: 8, kr: 8, inputOffset: 0)
        let kind = PackedWeightsBlob.Kind.gemm(nr: 8, kr: 8, inputOffset: 0, groups: 1, nc: 5, ks: 2, kc: 3, inputZeroPoint: 1)
        let blob = packGemm(layout, groups: 1, nc: 5, ks: 2, kc: 3, inputZeroPoint: 1, weights: [Int8](repeating: 3, count: 30),
                            bias: [1, 2, 3, 4, 5], requant: [requant(0.5), requant(0.5), requant(0.5), requant(0.5), requant(0.5)])
        func error(_ mutate: (inout [UInt8]) -> Void) -> String {
            var b = blob
            mutate(&b)
            do { _ = try b.withUnsafeBytes { try kind.unpack($0) }; return "no error" } catch { return "\(error)" }
        }
        #expect(error { $0.removeLast() }.contains("the geometry needs"))
        #expect(error { $0[32 + 3] = 9 }.contains("padding byte"))          // k = 3 >= kc in column 0
        #expect(error { $0[32 + 7 * 8] = 1 }.contains("padding byte"))      // column 7 >= nc
        #expect(error { $0[32] = 0x80 }.contains("-128"))
        #expect(error { $0[32 + 2 * 64 + 0] = 1; $0[32 + 2 * 64 + 3] = 0 }.contains("requantization"))
        #expect(error { $0[4 * 6] = 1 }.contains("padding column"))
    }
}
