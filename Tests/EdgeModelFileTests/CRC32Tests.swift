import CKernels
import Testing
@testable import EdgeModelFile

/// The model file's CRC-32 (ARMv8 CRC32 instructions where the CPU has them, else zlib) against the standard check
/// value and a bit-at-a-time reference of the reflected polynomial 0xEDB88320, at every alignment and length tail.
@Suite struct CRC32Tests {
    static func reference(_ bytes: [UInt8], initial: UInt32 = 0) -> UInt32 {
        var crc = ~initial
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = crc & 1 != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
        }
        return ~crc
    }

    @Test func checkValueAndReference() {
        #expect(Array("123456789".utf8).withUnsafeBytes { crc32($0) } == 0xCBF4_3926)
        var rng = SystemRandomNumberGenerator()
        let data = (0..<300).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for start in 0..<9 {
            for count in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 200] where start + count <= data.count {
                let slice = Array(data[start..<(start + count)])
                let got = data.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[start..<(start + count)])) }
                #expect(got == Self.reference(slice), "start \(start), count \(count)")
            }
        }
        // Chained: the CRC of a whole equals the CRC of its second part started from the first part's.
        let whole = data.withUnsafeBytes { crc32($0) }
        let first = data.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[0..<123])) }
        #expect(data.withUnsafeBytes { crc32(UnsafeRawBufferPointer(rebasing: $0[123...]), initial: first) } == whole)
    }

    @Test(.enabled(if: ck_crc32_hardware_available(),
                   "this CPU has no CRC32 instructions (x86-64; qemu cortex-a72/a76 has them): checkValueAndReference covers the zlib path"))
    func theCRC32InstructionsWhereTheCPUHasThem() {
        var rng = SystemRandomNumberGenerator()
        let data = (0..<4099).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for (start, count) in [(0, 4099), (1, 4000), (3, 13), (5, 0), (7, 1)] {
            let got = data.withUnsafeBufferPointer { ck_crc32_update__aarch64_crc(0x1234_5678, $0.baseAddress! + start, count) }
            #expect(got == Self.reference(Array(data[start..<(start + count)]), initial: 0x1234_5678), "start \(start), count \(count)")
        }
    }
}
