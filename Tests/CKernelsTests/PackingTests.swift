import CKernels
import Testing

@Suite("weight packing")
struct PackingTests {
    @Test("-128 weights and invalid requantization are rejected")
    func rejects() {
        let uk = ISA.scalar.kernels.gemm
        var packed = [UInt8](repeating: 0, count: 4096)
        let good = [ck_requant](repeating: requant(0.01), count: 4)
        var w = [Int8](repeating: 1, count: 4 * 3)
        let bias = [Int32](repeating: 0, count: 4)
        #expect(uk.pack!(1, 4, 1, 3, 0, w, bias, good, &packed) == CK_OK)
        w[5] = -128
        #expect(uk.pack!(1, 4, 1, 3, 0, w, bias, good, &packed) == CK_ERROR_OUT_OF_RANGE)
        w[5] = 0
        var bad = good
        bad[2] = ck_requant(multiplier: 5, shift: 40)
        #expect(uk.pack!(1, 4, 1, 3, 0, w, bias, bad, &packed) == CK_ERROR_OUT_OF_RANGE)
        #expect(uk.pack!(1, 4, 1, 3, 200, w, bias, good, &packed) == CK_ERROR_INVALID_ARGUMENT)
        #expect(ck_pack_qs8_qc8w_dwconv(16, 2, 2, 0, [1, 2, -128, 3], nil, [requant(0.1), requant(0.1)], &packed)
                == CK_ERROR_OUT_OF_RANGE)
    }

    @Test("layout: folded bias, kr-interleaved weights, per-channel requantization after the block")
    func layout() {
        // nr=8, kr=8 layout, 10 channels (2 blocks), ks=2, kc=3, izp=5.
        let nc = 10, ks = 2, kc = 3, izp: Int32 = 5
        let w = (0..<(nc * ks * kc)).map { Int8(($0 % 200) - 100) }
        let bias = (0..<nc).map { Int32($0 * 1000 - 3000) }
        let rqs = (0..<nc).map { requant(0.001 * Double($0 + 1)) }
        let block = ck_pack_qs8_qc8w_gemm_block_size(8, 8, ks, kc)
        #expect(block == 8 * 4 + ks * 8 * 8 + 8 * 12)
        #expect(ck_pack_qs8_qc8w_gemm_size(8, 8, 1, nc, ks, kc) == 2 * block)
        var packed = [UInt8](repeating: 0xEE, count: 2 * block)
        #expect(ck_pack_qs8_qc8w_gemm_nr8_kr8(1, nc, ks, kc, izp, w, bias, rqs, &packed) == CK_OK)
        func i32(_ offset: Int) -> Int32 {
            Int32(bitPattern: UInt32(packed[offset]) | UInt32(packed[offset + 1]) << 8 | UInt32(packed[offset + 2]) << 16
                  | UInt32(packed[offset + 3]) << 24)
        }
        for n in 0..<16 {
            let b = n / 8, j = n % 8, base = b * block
            let sum = n < nc ? (0..<(ks * kc)).reduce(Int32(0)) { $0 + Int32(w[n * ks * kc + $1]) } : 0
            #expect(i32(base + 4 * j) == (n < nc ? bias[n] - izp * sum : 0))
            for t in 0..<ks {
                for k in 0..<8 {
                    let got = Int8(bitPattern: packed[base + 32 + t * 64 + j * 8 + k])
                    #expect(got == (n < nc && k < kc ? w[(n * ks + t) * kc + k] : 0))
                }
            }
            let rqBase = base + 32 + ks * 64
            let p = n < nc ? ck_requant_pack(rqs[n]) : ck_requant_pack(ck_requant(multiplier: 0, shift: 32))
            #expect(i32(rqBase + 4 * j) == p.multiplier)
            #expect(i32(rqBase + 32 + 4 * j) == p.left_shift)
            #expect(i32(rqBase + 64 + 4 * j) == p.right_shift)
        }
    }

    @Test("the VNNI layout folds the extra -128 * sum(w)")
    func vnniOffset() {
        let w: [Int8] = [3, -4, 5, 6]
        var a = [UInt8](repeating: 0, count: ck_pack_qs8_qc8w_gemm_size(16, 8, 1, 1, 1, 4))
        var b = a
        #expect(ck_pack_qs8_qc8w_gemm(16, 8, 0, 1, 1, 1, 4, 2, w, [100], [requant(0.1)], &a) == CK_OK)
        #expect(ck_pack_qs8_qc8w_gemm_nr16_kr8_x80(1, 1, 1, 4, 2, w, [100], [requant(0.1)], &b) == CK_OK)
        let biasA = Int32(a[0]) | Int32(a[1]) << 8, biasB = Int32(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
        #expect(biasA == 100 - 2 * 10)
        #expect(biasB == 100 - 130 * 10)
        #expect(Array(a[4...]) == Array(b[4...]))
    }
}
