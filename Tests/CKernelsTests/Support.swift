// Shared test support: deterministic RNG, guard-paged buffers, the Swift statement of the
// requantization definition, and the list of kernel variants this CPU can run.
import CKernels
import Testing
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// SplitMix64: small, deterministic, identical on every platform.
struct Rng {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        let width = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next() % width)
    }
    mutating func int8(_ range: ClosedRange<Int> = -128...127) -> Int8 { Int8(int(range)) }
    mutating func int32() -> Int32 { Int32(truncatingIfNeeded: next()) }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func bool(_ probability: Double = 0.5) -> Bool { unit() < probability }
    /// Log-uniform in [lo, hi).
    mutating func logUniform(_ lo: Double, _ hi: Double) -> Double { lo * pow(hi / lo, unit()) }
}

/// `count` bytes that end exactly at a PROT_NONE page: any read or write past the end faults, so
/// kernels that claim "no over-read" are checked for real (qemu-user honours mprotect too).
final class GuardedBuffer {
    private let base: UnsafeMutableRawPointer
    private let mapped: Int
    let count: Int
    let pointer: UnsafeMutablePointer<Int8>

    init(count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let dataPages = max(1, (count + page - 1) / page)
        mapped = (dataPages + 1) * page
        guard let p = mmap(nil, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else { fatalError("mmap failed") }
        base = p
        precondition(mprotect(base + dataPages * page, page, PROT_NONE) == 0)
        self.count = count
        pointer = (base + dataPages * page - count).assumingMemoryBound(to: Int8.self)
    }

    convenience init(_ bytes: [Int8]) {
        self.init(count: bytes.count)
        for (i, b) in bytes.enumerated() { pointer[i] = b }
    }

    deinit { munmap(base, mapped) }

    subscript(i: Int) -> Int8 {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    var bytes: [Int8] { (0..<count).map { pointer[$0] } }
}

/// The requantization definition of ck-requantization.h, restated independently in Swift.
func referenceRequantize(_ acc: Int32, _ rq: ck_requant, zeroPoint: Int32, min: Int32, max: Int32) -> Int8 {
    let product = Int64(acc) * Int64(rq.multiplier)
    let rounding = Int64(1) << (Int64(rq.shift) - 1)
    var y = ((product + rounding) >> Int64(rq.shift)) + Int64(zeroPoint)
    y = Swift.min(Swift.max(y, Int64(min)), Int64(max))
    return Int8(y)
}

func requant(_ scale: Double) -> ck_requant {
    var rq = ck_requant()
    let status = ck_requant_from_scale(scale, &rq)
    precondition(status == CK_OK, "scale \(scale) rejected")
    return rq
}

/// A kernel variant as a test argument.
struct ISA: Sendable, CustomStringConvertible, Hashable {
    let raw: UInt32
    var isa: ck_isa { ck_isa(rawValue: raw) }
    var description: String { String(cString: ck_isa_name(isa)) }

    static let all: [ISA] = (0..<CK_ISA_COUNT.rawValue).map { ISA(raw: $0) }
    /// The variants this binary and CPU can run (scalar always first).
    static let available: [ISA] = all.filter { ck_isa_is_available($0.isa) != 0 }

    var kernels: ck_kernels {
        var k = ck_kernels()
        let status = ck_kernels_for_isa(isa, &k)
        precondition(status == CK_OK, "\(self) not available")
        return k
    }
    static var scalar: ISA { ISA(raw: CK_ISA_SCALAR.rawValue) }
}

func makeParams(zeroPoint: Int32, min: Int32, max: Int32) -> ck_qs8_minmax_params {
    var p = ck_qs8_minmax_params()
    precondition(ck_qs8_minmax_params_init(&p, zeroPoint, min, max) == CK_OK)
    return p
}

/// One expectation for a batch of cases, showing only the first few failures.
func expectNoFailures(_ failures: [String], sourceLocation: SourceLocation = #_sourceLocation) {
    let ok = failures.isEmpty
    #expect(ok, "\(failures.count) failing cases:\n\(failures.prefix(4).joined(separator: "\n"))",
            sourceLocation: sourceLocation)
}

/// Index and values of the first difference, for readable failures.
func firstMismatch(_ a: [Int8], _ b: [Int8]) -> String? {
    if a.count != b.count { return "count \(a.count) != \(b.count)" }
    for i in 0..<a.count where a[i] != b[i] {
        return "index \(i): got \(a[i]), expected \(b[i]) (\(a.indices.filter { a[$0] != b[$0] }.count) differ)"
    }
    return nil
}

/// Packs GEMM weights for `uk` into a guard-paged buffer (so the packer's writes are bounds-checked too).
func packGemm(_ uk: ck_qs8_qc8w_gemm_ukernel, groups: Int, n: Int, ks: Int, k: Int, inputZeroPoint: Int32,
              weights: [Int8], bias: [Int32], requant: [ck_requant]) -> GuardedBuffer {
    let size = ck_pack_qs8_qc8w_gemm_size(uk.nr, uk.kr, groups, n, ks, k)
    let packed = GuardedBuffer(count: size)
    let status = weights.withUnsafeBufferPointer { w in
        bias.withUnsafeBufferPointer { b in
            requant.withUnsafeBufferPointer { r in
                uk.pack!(groups, n, ks, k, inputZeroPoint, w.baseAddress, b.baseAddress, r.baseAddress,
                         UnsafeMutableRawPointer(packed.pointer))
            }
        }
    }
    precondition(status == CK_OK, "packing failed: \(status)")
    return packed
}

/// Per-channel scales that put typical outputs across the int8 range for a K-deep dot product, with
/// occasional extreme, tiny and zero scales.
func makeScales(_ rng: inout Rng, count: Int, depth: Int, mode: ScaleMode) -> [Double] {
    (0..<count).map { _ in
        switch mode {
        case .typical:
            return 40.0 / (5300.0 * Double(depth).squareRoot()) * rng.logUniform(0.5, 2)
        case .wide:
            switch rng.int(0...9) {
            case 0: return 0
            case 1: return rng.logUniform(1e-12, 0x1p-32)
            case 2: return rng.logUniform(0.5, 255.99)
            case 3, 4: return pow(2, Double(rng.int(-32...7)))  // multiplier 2^30: round-half-up ties are common
            default: return rng.logUniform(0x1p-32, 255.99)
            }
        }
    }
}

enum ScaleMode: Sendable { case typical, wide }
