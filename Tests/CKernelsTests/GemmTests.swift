// qs8-qc8w-gemm and -igemm: every M/N/K remainder against each variant's tile, zero points, extreme
// values, saturation, strides, padding rows, a_offset. Every variant is compared with the definition
// (which the scalar kernel implements), so all variants agree byte for byte.
import CKernels
import Testing

private func nValues(_ nr: Int) -> [Int] {
    Array(Set([1, 2, nr / 2, nr - 1, nr, nr + 1, 2 * nr + nr / 2 + 1].filter { $0 >= 1 })).sorted()
}

private func kValues(_ isa: ISA) -> [Int] {
    let block = isa.gemmKBlock
    return Array(Set(Array(1...(2 * block + 1)) + [3 * block - 1, 4 * block + 3])).sorted()
}

@Suite("qs8-qc8w-gemm / igemm micro-kernels")
struct QS8QC8WGemmTests {
    @Test("every m <= mr, n around nr, k around the k block", arguments: ISA.available, [false, true])
    func tileEdges(isa: ISA, igemm: Bool) {
        let uk = isa.kernels.gemm
        var failures: [String] = []
        for m in 1...Int(uk.mr) {
            for n in nValues(Int(uk.nr)) {
                for k in kValues(isa) {
                    var t = GemmMicrokernelTester()
                    t.m = m; t.n = n; t.k = k
                    t.ks = igemm ? 2 : 1
                    t.inputZeroPoint = 3; t.outputZeroPoint = -5
                    t.zeroRowProbability = igemm ? 0.25 : 0
                    t.seed = UInt64(m * 7 + n)
                    if let f = t.check(isa, igemm: igemm) { failures.append(f) }
                }
            }
        }
        expectNoFailures(failures)
    }

    @Test("strided A and C", arguments: ISA.available, [false, true])
    func strides(isa: ISA, igemm: Bool) {
        let uk = isa.kernels.gemm
        var failures: [String] = []
        for (n, k) in [(Int(uk.nr), 3), (Int(uk.nr) * 2 + 3, 37), (5, Int(uk.kr) * 4)] {
            var t = GemmMicrokernelTester()
            t.m = Int(uk.mr); t.n = n; t.k = k
            t.aStride = k + 11; t.cmStride = n + 13
            t.ks = igemm ? 3 : 1
            if let f = t.check(isa, igemm: igemm) { failures.append(f) }
        }
        expectNoFailures(failures)
    }

    @Test("zero points and clamps (ReLU, ReLU6-like, narrow)", arguments: ISA.available, [false, true])
    func zeroPointsAndClamps(isa: ISA, igemm: Bool) {
        let uk = isa.kernels.gemm
        var failures: [String] = []
        let clamps: [(Int32, Int32)] = [(-128, 127), (0, 127), (-10, 10), (100, 127), (-128, -100), (7, 7)]
        var seed: UInt64 = 1
        for izp: Int32 in [-128, -1, 0, 42, 127] {
            for ozp: Int32 in [-128, 0, 127] {
                for (lo, hi) in clamps {
                    var t = GemmMicrokernelTester()
                    t.m = Int(uk.mr); t.n = Int(uk.nr) + 1; t.k = 19
                    t.ks = igemm ? 2 : 1
                    t.zeroRowProbability = igemm ? 0.3 : 0
                    t.inputZeroPoint = izp; t.outputZeroPoint = ozp
                    t.qmin = lo; t.qmax = hi
                    t.seed = seed; seed += 1
                    if let f = t.check(isa, igemm: igemm) { failures.append(f) }
                }
            }
        }
        expectNoFailures(failures)
    }

    @Test("extreme operands: weights +-127, activations -128/127, deep K", arguments: ISA.available, [false, true])
    func extremes(isa: ISA, igemm: Bool) {
        let uk = isa.kernels.gemm
        var failures: [String] = []
        for izp: Int32 in [-128, 127, 0] {
            for k in [64, 1024 + 5] {
                for a in [GemmMicrokernelTester.Values.extreme, .random] {
                    var t = GemmMicrokernelTester()
                    t.m = Int(uk.mr); t.n = Int(uk.nr) * 2 - 1; t.k = igemm ? k / 4 : k
                    t.ks = igemm ? 4 : 1
                    t.weightValues = .extreme; t.activationValues = a
                    t.inputZeroPoint = izp
                    t.scales = .wide
                    t.seed = UInt64(k) + UInt64(izp + 200)
                    if let f = t.check(isa, igemm: igemm) { failures.append(f) }
                }
            }
        }
        expectNoFailures(failures)
    }

    @Test("requantization over the full int32 accumulator range and every shift", arguments: ISA.available)
    func fullRangeRequantization(isa: ISA) {
        // Zero weights: the accumulator is exactly the (random, full-range) bias.
        let uk = isa.kernels.gemm
        var failures: [String] = []
        for seed in 1...40 {
            var t = GemmMicrokernelTester()
            t.m = Int(uk.mr); t.n = 64; t.k = 1
            t.weightValues = .zero; t.bias = .full; t.scales = .wide
            t.outputZeroPoint = Int32(seed % 256) - 128
            t.seed = UInt64(seed)
            if let f = t.check(isa, igemm: false) { failures.append(f) }
        }
        // Large random accumulators through the real dot product as well.
        for seed in 1...8 {
            var t = GemmMicrokernelTester()
            t.m = Int(uk.mr); t.n = 40; t.k = 300
            t.bias = .full; t.scales = .wide; t.activationValues = .extreme
            t.seed = UInt64(seed)
            if let f = t.check(isa, igemm: false) { failures.append(f) }
        }
        expectNoFailures(failures)
    }

    @Test("IGEMM: padding rows, a_offset, many taps", arguments: ISA.available)
    func igemmIndirection(isa: ISA) {
        let uk = isa.kernels.gemm
        var failures: [String] = []
        for ks in [1, 3, 9, 25] {
            for aOffset in [0, 7, 4096] {
                for p in [0.0, 0.5, 1.0] {
                    var t = GemmMicrokernelTester()
                    t.m = Int(uk.mr); t.n = Int(uk.nr) + 3; t.k = 13
                    t.ks = ks; t.aOffset = aOffset; t.zeroRowProbability = p
                    t.inputZeroPoint = -77
                    t.seed = UInt64(ks * 10 + aOffset)
                    if let f = t.check(isa, igemm: true) { failures.append(f) }
                }
            }
        }
        expectNoFailures(failures)
    }
}
