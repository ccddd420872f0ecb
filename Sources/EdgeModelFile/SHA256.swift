// SHA-256 (FIPS 180-4), for the provenance hashes in a model file (the source model, the calibration set).
//
// Our own rather than swift-crypto's: swift-crypto 3.x imports full Foundation (which the deployable binary must not
// link: ICU data, libcurl, libxml2; see Sources/EdgeSupport/Printf.swift), and 4.x, though Foundation-free, builds and
// links BoringSSL and XKCP for this one hash. Hashing runs when a model file is written or calibrated, never per
// frame; this does a few hundred MB/s, far more than those steps need. Tests/EdgeModelFileTests/SHA256Tests.swift
// checks it against the FIPS examples and sha256sum.
//
// The API is the subset of swift-crypto's SHA256 the project used: `SHA256.hash(data:)`, `update(data:)`,
// `update(bufferPointer:)`, `finalize()`; a digest is a sequence of bytes.

public struct SHA256: Sendable {
    /// 32 bytes.
    public struct Digest: Sequence, Equatable, Sendable {
        public let bytes: [UInt8]
        public func makeIterator() -> IndexingIterator<[UInt8]> { bytes.makeIterator() }
    }

    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab, 0x5be0_cd19)
    private var block = [UInt8](repeating: 0, count: 64)
    private var blockFill = 0
    private var length: UInt64 = 0  // bytes hashed so far

    public init() {}

    public static func hash<D: Sequence>(data: D) -> Digest where D.Element == UInt8 {
        var h = SHA256()
        h.update(data: data)
        return h.finalize()
    }

    public mutating func update<D: Sequence>(data: D) where D.Element == UInt8 {
        // Contiguous inputs (Data, [UInt8]) are hashed in place; others are copied once.
        let inPlace = data.withContiguousStorageIfAvailable { update(bufferPointer: UnsafeRawBufferPointer($0)) } != nil
        if !inPlace { Array(data).withUnsafeBytes { update(bufferPointer: $0) } }
    }

    public mutating func update(bufferPointer: UnsafeRawBufferPointer) {
        guard let base = bufferPointer.baseAddress, bufferPointer.count > 0 else { return }
        length &+= UInt64(bufferPointer.count)
        var offset = 0
        let count = bufferPointer.count
        if blockFill > 0 {
            let take = min(64 - blockFill, count)
            for i in 0..<take { block[blockFill + i] = base.load(fromByteOffset: i, as: UInt8.self) }
            blockFill += take
            offset = take
            if blockFill < 64 { return }
            block.withUnsafeBytes { Self.compress(&state, $0.baseAddress!) }
            blockFill = 0
        }
        while count - offset >= 64 {
            Self.compress(&state, base + offset)
            offset += 64
        }
        for i in 0..<(count - offset) { block[i] = base.load(fromByteOffset: offset + i, as: UInt8.self) }
        blockFill = count - offset
    }

    public func finalize() -> Digest {
        var copy = self
        let bitLength = length &* 8
        // 0x80, zeros up to 56 mod 64, then the message length in bits, big-endian.
        var tail: [UInt8] = [0x80]
        tail += [UInt8](repeating: 0, count: (55 - blockFill + 64) % 64)
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        tail.withUnsafeBytes { copy.update(bufferPointer: $0) }
        precondition(copy.blockFill == 0)
        let s = copy.state
        var out: [UInt8] = []
        out.reserveCapacity(32)
        for word in [s.0, s.1, s.2, s.3, s.4, s.5, s.6, s.7] {
            out += [UInt8(word >> 24), UInt8(truncatingIfNeeded: word >> 16), UInt8(truncatingIfNeeded: word >> 8), UInt8(truncatingIfNeeded: word)]
        }
        return Digest(bytes: out)
    }

    private static let k: [UInt32] = [
        0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
        0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
        0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
        0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7, 0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
        0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
        0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
        0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
        0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
    ]

    /// One 64-byte block into the state.
    private static func compress(_ state: inout (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32),
                                 _ p: UnsafeRawPointer) {
        @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        // The message schedule, on the stack (a heap array per 64-byte block would dominate the cost).
        withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for i in 0..<16 { w[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            rounds(&state, w)
        }
    }

    private static func rounds(_ state: inout (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32),
                               _ w: UnsafeMutableBufferPointer<UInt32>) {
        @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        var (a, b, c, d, e, f, g, h) = state
        for i in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = h &+ s1 &+ ch &+ Self.k[i] &+ w[i]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            let t2 = s0 &+ maj
            (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
        }
        state = (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d, state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h)
    }
}
