import CKernels
import Foundation
import Testing

@Suite("requantization (rndnu) definition and scale conversion")
struct RequantizationTests {
    private func rq(_ scale: Double) -> ck_requant? {
        var r = ck_requant()
        return ck_requant_from_scale(scale, &r) == CK_OK ? r : nil
    }

    @Test func conversionExactValues() {
        #expect(rq(0.5).map { ($0.multiplier, $0.shift) } ?? (0, 0) == (1 << 30, 31))
        #expect(rq(1.0).map { ($0.multiplier, $0.shift) } ?? (0, 0) == (1 << 30, 30))
        #expect(rq(0.75).map { ($0.multiplier, $0.shift) } ?? (0, 0) == (0x6000_0000, 31))
        #expect(rq(0x1p-32).map { ($0.multiplier, $0.shift) } ?? (0, 0) == (1 << 30, 62))
        #expect(rq(255.5).map { $0.shift } == 23)
        #expect(rq(0.0).map { ($0.multiplier, $0.shift) } ?? (1, 1) == (0, 32))
        #expect(rq(1e-12).map { ($0.multiplier, $0.shift) } ?? (1, 1) == (0, 32))
        // m * 2^31 rounds up to 2^31: the multiplier renormalises to 2^30 and the shift drops by one.
        #expect(rq(1.0 - 0x1p-40).map { ($0.multiplier, $0.shift) } ?? (0, 0) == (1 << 30, 30))
        #expect(rq(256.0) == nil)
        #expect(rq(256.0 - 0x1p-40) == nil)  // rounds to 256
        #expect(rq(-1e-3) == nil)
        #expect(rq(.nan) == nil)
        #expect(rq(.infinity) == nil)
    }

    @Test func conversionIsAccurateAndValid() {
        var rng = Rng(seed: 5)
        for _ in 0..<20_000 {
            let scale = rng.logUniform(0x1p-32, 255.999)
            guard let r = rq(scale) else { Issue.record("rejected \(scale)"); continue }
            #expect(ck_requant_is_valid(r) != 0)
            #expect(r.multiplier >= 1 << 30)
            let back = ck_requant_to_scale(r)
            #expect(abs(back - scale) <= scale * 0x1p-30, "\(scale) -> \(back)")
        }
    }

    @Test("C ck_requantize_rndnu == the Swift statement, incl. INT32_MIN/MAX, ties, every shift")
    func definitionAgreement() {
        var rng = Rng(seed: 11)
        let special: [Int32] = [.min, .min + 1, -1, 0, 1, .max - 1, .max, 1 << 30, -(1 << 30)]
        var mismatches = 0
        for i in 0..<200_000 {
            let scale: Double
            switch i % 4 {
            case 0: scale = pow(2, Double(rng.int(-32...7)))     // ties are common
            case 1: scale = rng.logUniform(0.5, 255.9)           // left shift path
            default: scale = rng.logUniform(0x1p-32, 1)
            }
            let r = requant(scale)
            let acc = i % 10 == 0 ? special[rng.int(0...(special.count - 1))] : rng.int32() >> Int32(rng.int(0...31))
            let zp = Int32(rng.int(-128...127))
            let c = ck_requantize_rndnu(acc, r, zp, -128, 127)
            if c != referenceRequantize(acc, r, zeroPoint: zp, min: -128, max: 127) { mismatches += 1 }
        }
        #expect(mismatches == 0)
    }

    @Test("round half up (ties toward +infinity), and the real-valued meaning")
    func roundingSemantics() {
        let half = requant(0.5)
        #expect(ck_requantize_rndnu(1, half, 0, -128, 127) == 1)    // 0.5 -> 1
        #expect(ck_requantize_rndnu(-1, half, 0, -128, 127) == 0)   // -0.5 -> 0
        #expect(ck_requantize_rndnu(3, half, 0, -128, 127) == 2)    // 1.5 -> 2
        #expect(ck_requantize_rndnu(-3, half, 0, -128, 127) == -1)  // -1.5 -> -1
        #expect(ck_requantize_rndnu(-5, half, 0, -128, 127) == -2)  // -2.5 -> -2
        #expect(ck_requantize_rndnu(.max, requant(0x1p-32), 0, -128, 127) == 0)
        #expect(ck_requantize_rndnu(.min, requant(0x1p-32), 0, -128, 127) == 0)   // -0.5 -> 0
        #expect(ck_requantize_rndnu(.min, requant(0x1p-31), 0, -128, 127) == -1)
        #expect(ck_requantize_rndnu(.max, requant(100), 0, -128, 127) == 127)
        #expect(ck_requantize_rndnu(.min, requant(100), 0, -128, 127) == -128)
        #expect(ck_requantize_rndnu(1, requant(100), 0, -128, 127) == 100)
        #expect(ck_requantize_rndnu(2, requant(100), -100, -128, 127) == 100)
        // Within half a unit (plus the multiplier's 2^-30 relative error) of acc * scale.
        var rng = Rng(seed: 3)
        for _ in 0..<20_000 {
            let scale = rng.logUniform(1e-6, 1)
            let acc = rng.int32() >> Int32(rng.int(8...31))
            let r = requant(scale)
            let y = Double(ck_requantize_rndnu(acc, r, 0, -128, 127))
            let real = Double(acc) * scale
            if abs(real) < 127 {
                #expect(abs(y - real) <= 0.5 + abs(real) * 0x1p-29 + 1e-9, "acc \(acc) scale \(scale)")
            }
        }
    }

    @Test func packedFormRoundTrips() {
        var rng = Rng(seed: 9)
        for _ in 0..<5000 {
            let r = requant(rng.logUniform(0x1p-32, 255))
            let p = ck_requant_pack(r)
            #expect(p.left_shift >= 0 && p.left_shift <= 9 && p.right_shift >= 0 && p.right_shift <= 30)
            #expect(p.left_shift == 0 || p.right_shift == 0)
            let u = ck_requant_unpack(p)
            #expect(u.multiplier == r.multiplier && u.shift == r.shift)
        }
    }

    @Test func minmaxParams() {
        var p = ck_qs8_minmax_params()
        #expect(ck_qs8_minmax_params_init(&p, 0, -128, 127) == CK_OK)
        #expect(ck_qs8_minmax_params_init(&p, 128, -128, 127) == CK_ERROR_INVALID_ARGUMENT)
        #expect(ck_qs8_minmax_params_init(&p, 0, 1, 0) == CK_ERROR_INVALID_ARGUMENT)
        #expect(ck_qs8_minmax_params_init(&p, 0, -129, 0) == CK_ERROR_INVALID_ARGUMENT)
    }
}
