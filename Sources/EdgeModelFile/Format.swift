import CKernels
import CZlib

/// The binary container: constants, the header and section table, little-endian access and checksums.
///
/// ```
/// offset  size  header (64 bytes in format 1.0; every integer little-endian)
///   0      8    magic "RNEDGEM\0"
///   8      2    format major version (1)      10  2  format minor version (0)
///  12      4    header size (64)              16  4  header CRC32 (of the header bytes, this field taken as 0)
///  20      4    section count                 24  8  section table offset
///  32      8    file size                     40  4  section table entry size (48)
///  44      4    section table CRC32           48 16  reserved (zero)
///
/// section table entry (48 bytes)
///   0     16    kind, ASCII, NUL-padded ("meta", "graph", "weights")
///  16      8    offset (a multiple of 64)     24  8  length
///  32      4    CRC32 of the section bytes    36  4  flags (bit 0: optional, a reader may skip an unknown kind)
///  40      8    reserved (zero)
/// ```
/// Sections start at 64-byte-aligned offsets; the bytes between the header, the table and the sections are
/// zero, and the file ends where the last section ends, so every byte of a valid file is covered by a check.
enum Format {
    static let magic: [UInt8] = Array("RNEDGEM".utf8) + [0]
    static let majorVersion: UInt16 = 1
    static let minorVersion: UInt16 = 0
    static let headerSize = 64
    static let entrySize = 48
    static let alignment = 64
    static let maxSections = 64
    static let kindLength = 16
    /// Section flag bit 0: a reader that does not know the kind may skip the section.
    static let optionalFlag: UInt32 = 1
    static let knownFlags: UInt32 = optionalFlag

    enum HeaderField {
        static let major = 8, minor = 10, headerSize = 12, headerCRC = 16, sectionCount = 20
        static let tableOffset = 24, fileSize = 32, entrySize = 40, tableCRC = 44, reserved = 48
    }

    static let metaKind = "meta", graphKind = "graph", weightsKind = "weights"
    static let requiredKinds = [metaKind, graphKind, weightsKind]

    static func alignUp(_ x: Int, _ a: Int = alignment) -> Int { (x + a - 1) / a * a }
}

/// Whether `crc32` can use the CPU's CRC32 instructions (every aarch64 board); asked once.
private let crc32InHardware = ck_crc32_hardware_available()

/// zlib's CRC-32 (the one of PNG and zip) over any number of bytes: the ARMv8 CRC32 instructions where the CPU has
/// them (a load checks every section of the file: zlib took about 4 instructions a byte), else zlib.
func crc32(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
    guard var p = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return initial }
    if crc32InHardware { return ck_crc32_update__aarch64_crc(initial, p, bytes.count) }
    var crc = UInt(initial)
    var remaining = bytes.count
    while remaining > 0 {
        let n = min(remaining, 1 << 30)
        crc = CZlib.crc32(crc, p, uInt(n))
        p += n
        remaining -= n
    }
    return UInt32(truncatingIfNeeded: crc)
}

/// Little-endian reads from a byte range; callers check bounds first.
extension UnsafeRawBufferPointer {
    @inline(__always) func u16(_ offset: Int) -> UInt16 { UInt16(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inline(__always) func u32(_ offset: Int) -> UInt32 { UInt32(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
    @inline(__always) func i32(_ offset: Int) -> Int32 { Int32(bitPattern: u32(offset)) }
    @inline(__always) func u64(_ offset: Int) -> UInt64 { UInt64(littleEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }

    func allZero(_ range: Range<Int>) -> Bool {
        var i = range.lowerBound
        while i + 8 <= range.upperBound {
            if loadUnaligned(fromByteOffset: i, as: UInt64.self) != 0 { return false }
            i += 8
        }
        while i < range.upperBound {
            if self[i] != 0 { return false }
            i += 1
        }
        return true
    }
}

/// Little-endian writes into a growing byte array.
extension Array where Element == UInt8 {
    mutating func put16(_ v: UInt16, at offset: Int) { withUnsafeMutableBytes { $0.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt16.self) } }
    mutating func put32(_ v: UInt32, at offset: Int) { withUnsafeMutableBytes { $0.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self) } }
    mutating func put64(_ v: UInt64, at offset: Int) { withUnsafeMutableBytes { $0.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt64.self) } }

    mutating func padToAlignment(_ a: Int = Format.alignment) {
        let target = Format.alignUp(count, a)
        if target > count { append(contentsOf: repeatElement(0, count: target - count)) }
    }
}

/// One entry of the section table as read from a file.
public struct ModelFileSection: Sendable, Equatable {
    public let kind: String
    /// Offset and length in the file.
    public let offset: Int
    public let length: Int
    public let crc32: UInt32
    public let flags: UInt32
    public var isOptional: Bool { flags & Format.optionalFlag != 0 }
}
