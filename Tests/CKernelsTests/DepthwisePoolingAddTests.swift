import CKernels
import Testing

@Suite("qs8-qc8w-dwconv")
struct DepthwiseTests {
    @Test("channel remainders, 3x3 s1/s2, dilation, 5x5, asymmetric padding", arguments: ISA.available)
    func geometries(isa: ISA) {
        var failures: [String] = []
        for channels in [1, 3, 8, 15, 16, 17, 31, 32, 33, 40] {
            for (s, p) in [(1, 1), (2, 1), (1, 0)] {
                var t = DepthwiseTester()
                t.channels = channels
                t.strideHeight = s; t.strideWidth = s
                t.padTop = p; t.padLeft = p; t.padBottom = p; t.padRight = p
                t.seed = UInt64(s * 10 + p)
                if let f = t.check(isa) { failures.append(f) }
            }
        }
        var t = DepthwiseTester()
        t.channels = 24; t.kernelHeight = 5; t.kernelWidth = 5; t.padTop = 2; t.padLeft = 2; t.padBottom = 2; t.padRight = 2
        if let f = t.check(isa) { failures.append("5x5: " + f) }
        t = DepthwiseTester()
        t.channels = 19; t.dilationHeight = 2; t.dilationWidth = 2; t.padTop = 2; t.padLeft = 2; t.padBottom = 2; t.padRight = 2
        t.inputHeight = 9; t.inputWidth = 8
        if let f = t.check(isa) { failures.append("dilated: " + f) }
        t = DepthwiseTester()
        t.channels = 20; t.strideHeight = 2; t.strideWidth = 2; t.padTop = 0; t.padLeft = 0; t.padBottom = 1; t.padRight = 1
        if let f = t.check(isa) { failures.append("TF SAME: " + f) }
        t = DepthwiseTester()
        t.channels = 18; t.kernelHeight = 1; t.kernelWidth = 4; t.padTop = 0; t.padBottom = 0; t.padLeft = 3; t.padRight = 0
        if let f = t.check(isa) { failures.append("1x4: " + f) }
        t = DepthwiseTester()
        t.channels = 17; t.batch = 2; t.outputPixelStride = 23
        if let f = t.check(isa) { failures.append("batch + stride: " + f) }
        expectNoFailures(failures)
    }

    @Test("zero points, clamps, extremes, every shift", arguments: ISA.available)
    func values(isa: ISA) {
        var failures: [String] = []
        var seed: UInt64 = 1
        for izp: Int32 in [-128, 0, 127] {
            for (lo, hi): (Int32, Int32) in [(-128, 127), (-20, 127), (-128, 0)] {
                for extremes in [false, true] {
                    var t = DepthwiseTester()
                    t.channels = 33; t.inputZeroPoint = izp; t.outputZeroPoint = lo
                    t.qmin = lo; t.qmax = hi; t.extremes = extremes
                    t.scales = extremes ? .wide : .typical
                    t.seed = seed; seed += 1
                    if let f = t.check(isa) { failures.append(f) }
                }
            }
        }
        expectNoFailures(failures)
    }
}

@Suite("s8-maxpool")
struct MaxPoolTests {
    @Test("3x3 s2 p1 (ResNet), 2x2 s2, dilation, padding ignored, clamps", arguments: ISA.available)
    func geometries(isa: ISA) {
        var failures: [String] = []
        for channels in [1, 7, 15, 16, 17, 31, 32, 33, 64, 70] {
            var t = MaxPoolTester()
            t.channels = channels
            if let f = t.check(isa) { failures.append(f) }
            t.kernelHeight = 2; t.kernelWidth = 2; t.padTop = 0; t.padLeft = 0; t.padBottom = 0; t.padRight = 0
            if let f = t.check(isa) { failures.append("2x2: " + f) }
        }
        var t = MaxPoolTester()
        t.channels = 20; t.dilationHeight = 2; t.dilationWidth = 2; t.padTop = 2; t.padLeft = 2; t.padBottom = 2; t.padRight = 2
        t.inputHeight = 9; t.inputWidth = 9
        if let f = t.check(isa) { failures.append("dilated: " + f) }
        t = MaxPoolTester()
        t.channels = 33; t.qmin = -60; t.qmax = 10; t.strideHeight = 1; t.strideWidth = 1
        if let f = t.check(isa) { failures.append("clamped: " + f) }
        t = MaxPoolTester()
        t.channels = 5; t.padTop = 2; t.padLeft = 0; t.padBottom = 0; t.padRight = 2; t.strideHeight = 1
        if let f = t.check(isa) { failures.append("asymmetric: " + f) }
        expectNoFailures(failures)
    }
}

@Suite("qs8-gavgpool")
struct GlobalAveragePoolTests {
    @Test("rows, channel remainders, strides, zero points, extremes", arguments: ISA.available)
    func cases(isa: ISA) {
        var failures: [String] = []
        var seed: UInt64 = 1
        for rows in [1, 2, 3, 7, 49, 64, 300] {
            for channels in [1, 8, 15, 16, 17, 33, 512] where rows * channels <= 40_000 {
                var t = GlobalAveragePoolTester()
                t.rows = rows; t.channels = channels; t.seed = seed; seed += 1
                if let f = t.check(isa) { failures.append(f) }
            }
        }
        for (izp, ozp, iscale, oscale): (Int32, Int32, Double, Double) in
            [(-128, -128, 0.1, 0.05), (127, 127, 0.01, 0.3), (0, 0, 1.0, 0.001), (-1, 5, 0.02, 0.02)] {
            for extremes in [false, true] {
                var t = GlobalAveragePoolTester()
                t.rows = 49; t.channels = 24; t.inputStride = 40
                t.inputZeroPoint = izp; t.outputZeroPoint = ozp; t.inputScale = iscale; t.outputScale = oscale
                t.extremes = extremes; t.qmin = -100; t.qmax = 100
                if let f = t.check(isa) { failures.append(f) }
            }
        }
        expectNoFailures(failures)
    }

    @Test func paramsValidation() {
        var p = ck_qs8_gavgpool_params()
        #expect(ck_qs8_gavgpool_params_init(&p, 0, 0, 1, 0, 1, -128, 127) == CK_ERROR_INVALID_ARGUMENT)
        #expect(ck_qs8_gavgpool_params_init(&p, (1 << 23) + 1, 0, 1, 0, 1, -128, 127) == CK_ERROR_INVALID_ARGUMENT)
        #expect(ck_qs8_gavgpool_params_init(&p, 4, 200, 1, 0, 1, -128, 127) == CK_ERROR_INVALID_ARGUMENT)
        #expect(ck_qs8_gavgpool_params_init(&p, 4, 0, 1, 0, 1, 10, -10) == CK_ERROR_INVALID_ARGUMENT)
        #expect(ck_qs8_gavgpool_params_init(&p, 1, 0, 300, 0, 1, -128, 127) == CK_ERROR_OUT_OF_RANGE)
        #expect(ck_qs8_gavgpool_params_init(&p, 49, 0, 0.1, 0, 0.05, -128, 127) == CK_OK)
    }
}

@Suite("qs8-vadd")
struct AddTests {
    @Test("lengths, scales, zero points, clamps (ReLU), extremes, in place", arguments: ISA.available)
    func cases(isa: ISA) {
        var failures: [String] = []
        var rng = Rng(seed: 99)
        for n in Array(1...50) + [64, 255, 1000] {
            var t = AddTester()
            t.n = n; t.seed = UInt64(n)
            if let f = t.check(isa) { failures.append(f) }
        }
        for i in 0..<60 {
            var t = AddTester()
            t.n = 37
            t.aZeroPoint = Int32(rng.int(-128...127)); t.bZeroPoint = Int32(rng.int(-128...127))
            t.outputZeroPoint = Int32(rng.int(-128...127))
            t.aScale = rng.logUniform(1e-3, 1); t.bScale = rng.logUniform(1e-3, 1)
            t.outputScale = max(t.aScale, t.bScale) * rng.logUniform(0x1p-7, 900)  // ratio in (2^-10, 2^7]
            if i % 3 == 0 { t.qmin = t.outputZeroPoint }  // fused ReLU
            t.extremes = i % 4 == 1
            t.inPlace = i % 5 == 2
            t.seed = UInt64(i)
            if let f = t.check(isa) { failures.append(f) }
        }
        expectNoFailures(failures)
    }

    @Test func paramsValidation() {
        var p = ck_qs8_add_params()
        #expect(ck_qs8_add_params_init(&p, 0, 1, 0, 1, 0, 1, -128, 127) == CK_OK)
        #expect(p.shift == 20 && p.a_multiplier == 1 << 20)
        #expect(ck_qs8_add_params_init(&p, 0, 1, 0, 1, 0, 0x1p-8, -128, 127) == CK_ERROR_OUT_OF_RANGE)   // ratio 256
        #expect(ck_qs8_add_params_init(&p, 0, 1e-4, 0, 1e-4, 0, 1, -128, 127) == CK_ERROR_OUT_OF_RANGE)  // ratio < 2^-10
        #expect(ck_qs8_add_params_init(&p, 0, 1, 0, 1, 0, -1, -128, 127) == CK_ERROR_OUT_OF_RANGE)
        #expect(ck_qs8_add_params_init(&p, 0, 1, 0, 1, 0, .nan, -128, 127) == CK_ERROR_OUT_OF_RANGE)
        #expect(ck_qs8_add_params_init(&p, 128, 1, 0, 1, 0, 1, -128, 127) == CK_ERROR_INVALID_ARGUMENT)
        #expect(ck_qs8_add_params_init(&p, 0, 1, 0, 1, 0, 1, 5, 4) == CK_ERROR_INVALID_ARGUMENT)
    }
}
