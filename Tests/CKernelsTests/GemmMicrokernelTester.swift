// Reusable tester for the qs8-qc8w-gemm / -igemm micro-kernels (after XNNPACK's gemm-microkernel-tester):
// one tile of m x n outputs with K = ks * k, checked byte for byte against the Swift statement of the
// definition (which the scalar kernel implements). A rows, the zero buffer and the packed weights end at
// guard pages (no over-read); C is pre-filled with a pattern that must survive outside the tile.
import CKernels

struct GemmMicrokernelTester {
    enum Values { case random, extreme, zero }
    enum Bias { case small, full }

    var m = 1
    var n = 1
    var k = 1
    var ks = 1                      // IGEMM taps (GEMM: 1)
    var aStride = 0                 // 0: k
    var cmStride = 0                // 0: n
    var inputZeroPoint: Int32 = 0
    var outputZeroPoint: Int32 = 0
    var qmin: Int32 = -128
    var qmax: Int32 = 127
    var aOffset = 0                 // IGEMM
    var zeroRowProbability = 0.0    // IGEMM: rows that point at the zero buffer (padding)
    var weightValues = Values.random
    var activationValues = Values.random
    var bias = Bias.small
    var scales = ScaleMode.typical
    var seed: UInt64 = 1

    private var effectiveAStride: Int { aStride == 0 ? k : aStride }
    private var effectiveCmStride: Int { cmStride == 0 ? n : cmStride }

    struct Data {
        var rows: [[Int8]]              // activation rows (each k bytes)
        var rowOf: [Int?]               // IGEMM: [m * ks + t] -> row index, nil = zero buffer; GEMM: [m] -> m
        var weights: [Int8]             // [n][ks][k]
        var bias: [Int32]
        var requant: [ck_requant]
    }

    private func value(_ rng: inout Rng, _ mode: Values, weight: Bool) -> Int8 {
        switch mode {
        case .random: return weight ? rng.int8(-127...127) : rng.int8()
        case .extreme: return weight ? (rng.bool() ? 127 : -127) : (rng.bool() ? 127 : -128)
        case .zero: return 0
        }
    }

    func makeData(igemm: Bool) -> Data {
        var rng = Rng(seed: seed &* 0x1000_0001 &+ UInt64(m * 1_000_003 + n * 1009 + k * 31 + ks))
        let rowCount = igemm ? m * ks + 3 : m
        let rows = (0..<rowCount).map { _ in (0..<k).map { _ in value(&rng, activationValues, weight: false) } }
        var rowOf: [Int?] = []
        if igemm {
            rowOf = (0..<(m * ks)).map { _ in rng.bool(zeroRowProbability) ? nil : rng.int(0...(rowCount - 1)) }
        } else {
            rowOf = (0..<m).map { $0 }
        }
        let weights = (0..<(n * ks * k)).map { _ in value(&rng, weightValues, weight: true) }
        let bias: [Int32] = (0..<n).map { _ in
            switch self.bias {
            case .small: return Int32(rng.int(-5000...5000))
            case .full: return rng.int32()
            }
        }
        let requant = makeScales(&rng, count: n, depth: ks * k, mode: scales).map { CKernelsTests.requant($0) }
        return Data(rows: rows, rowOf: rowOf, weights: weights, bias: bias, requant: requant)
    }

    /// The definition: acc = bias + sum (a - izp) * w  (mod 2^32), then requantize.
    func reference(_ d: Data, igemm: Bool) -> [Int8] {
        var out = [Int8](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var acc = d.bias[j]
                for t in 0..<ks {
                    guard let r = d.rowOf[igemm ? i * ks + t : i] else { continue }  // padding: (izp - izp) * w
                    let row = d.rows[r]
                    let wBase = (j * ks + t) * k
                    for kk in 0..<k {
                        acc = acc &+ (Int32(row[kk]) - inputZeroPoint) &* Int32(d.weights[wBase + kk])
                    }
                }
                out[i * n + j] = referenceRequantize(acc, d.requant[j], zeroPoint: outputZeroPoint, min: qmin, max: qmax)
            }
        }
        return out
    }

    /// Runs the ISA's kernel; returns the m x n tile, or a description of a guard violation.
    func run(_ isa: ISA, igemm: Bool, data d: Data) -> Result<[Int8], TesterFailure> {
        let uk = isa.kernels.gemm
        precondition(m <= Int(uk.mr))
        let packed = packGemm(uk, groups: 1, n: n, ks: ks, k: k, inputZeroPoint: inputZeroPoint,
                              weights: d.weights, bias: d.bias, requant: d.requant)
        let cm = effectiveCmStride
        let cCount = (m - 1) * cm + n
        let c = GuardedBuffer(count: cCount)
        var pattern = Rng(seed: 77)
        let fill = (0..<cCount).map { _ in pattern.int8() }
        for i in 0..<cCount { c[i] = fill[i] }
        var params = makeParams(zeroPoint: outputZeroPoint, min: qmin, max: qmax)

        if igemm {
            // Activation rows live at pool + aOffset + r * k; the kernel adds aOffset to non-zero pointers.
            let pool = GuardedBuffer(count: aOffset + d.rows.count * k)
            for (r, row) in d.rows.enumerated() { for kk in 0..<k { pool[aOffset + r * k + kk] = row[kk] } }
            let zero = GuardedBuffer([Int8](repeating: Int8(inputZeroPoint), count: k))
            let pointers: [UnsafePointer<Int8>?] = d.rowOf.map { r in
                r.map { UnsafePointer(pool.pointer + $0 * k) } ?? UnsafePointer(zero.pointer)
            }
            pointers.withUnsafeBufferPointer { ind in
                uk.igemm!(m, n, k, ks, ind.baseAddress, UnsafeRawPointer(packed.pointer), c.pointer, cm,
                          aOffset, UnsafePointer(zero.pointer), &params)
            }
            withExtendedLifetime((pool, zero)) {}
        } else {
            let stride = effectiveAStride
            let a = GuardedBuffer(count: (m - 1) * stride + k)
            for i in 0..<m { for kk in 0..<k { a[i * stride + kk] = d.rows[i][kk] } }
            uk.gemm!(m, n, k, UnsafePointer(a.pointer), stride, UnsafeRawPointer(packed.pointer), c.pointer, cm, &params)
            withExtendedLifetime(a) {}
        }
        var out = [Int8](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n { out[i * n + j] = c[i * cm + j] }
            if i + 1 < m {
                for j in n..<cm where c[i * cm + j] != fill[i * cm + j] {
                    return .failure(TesterFailure("wrote outside the tile at row \(i) column \(j)"))
                }
            }
        }
        return .success(out)
    }

    /// nil if the kernel matches the definition, else a description.
    func check(_ isa: ISA, igemm: Bool) -> String? {
        let d = makeData(igemm: igemm)
        let expected = reference(d, igemm: igemm)
        switch run(isa, igemm: igemm, data: d) {
        case .failure(let f): return "\(self.describe(isa, igemm)): \(f.message)"
        case .success(let got):
            if let diff = firstMismatch(got, expected) { return "\(self.describe(isa, igemm)): \(diff)" }
            return nil
        }
    }

    func describe(_ isa: ISA, _ igemm: Bool) -> String {
        "\(isa) \(igemm ? "igemm" : "gemm") m=\(m) n=\(n) k=\(k) ks=\(ks) aStride=\(aStride) cm=\(cmStride) "
            + "izp=\(inputZeroPoint) ozp=\(outputZeroPoint) [\(qmin),\(qmax)] aOffset=\(aOffset) "
            + "w=\(weightValues) a=\(activationValues) bias=\(bias) scales=\(scales) seed=\(seed)"
    }
}

struct TesterFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

extension ISA {
    /// K per main-loop iteration of the GEMM kernel (the K edges to cover are around it).
    var gemmKBlock: Int {
        switch isa {
        case CK_ISA_NEON: return 16
        case CK_ISA_SCALAR: return 2
        default: return 8
        }
    }
}
