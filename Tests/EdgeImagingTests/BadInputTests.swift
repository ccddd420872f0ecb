import EdgeImaging
import Foundation
import Testing
import TestSupport

/// Unreadable, truncated, corrupt and unknown files: each throws an `ImageError` whose one-line description names the
/// file and the cause, and nothing traps.
@Suite struct BadInputTests {
    /// A fresh directory for the bad files of one test.
    static func scratchDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("edgeimaging-bad-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func photo(_ name: String) throws -> [UInt8] {
        readBytes(TestPaths.testImages.appendingPathComponent(name))
    }

    static func readBytes(_ url: URL) -> [UInt8] { (try? [UInt8](Data(contentsOf: url))) ?? [] }

    /// Decodes `bytes` written to `<scratch>/<name>` and returns the error (failing the test if there is none).
    static func decodeError(_ bytes: [UInt8]?, name: String) throws -> ImageError {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent(name)
        if let bytes { try Data(bytes).write(to: url) }
        do {
            let image = try ImageDecoder.decode(contentsOf: url)
            Issue.record("\(name): decoded as \(image.width)x\(image.height)x\(image.channels) instead of failing")
            throw FixtureError("no error")
        } catch let error as ImageError {
            #expect(error.path == url.path)
            return error
        }
    }

    /// The description is one line, starts with the file name and contains every expected fragment.
    static func check(_ error: ImageError, file: String, kind: ImageError.Kind, mentions fragments: [String]) {
        let text = error.description
        print("  \(text)")
        #expect(error.kind == kind, "\(text)")
        #expect(text.hasPrefix("\(file): "), "\(text)")
        #expect(!text.contains("\n"), "\(text)")
        for fragment in fragments {
            #expect(text.lowercased().contains(fragment.lowercased()), "\(text) should mention \(fragment)")
        }
    }

    /// Offsets of each chunk `type` in a PNG: (start of the data, length).
    static func chunks(_ png: [UInt8], type: String) -> [(data: Int, length: Int)] {
        var out: [(Int, Int)] = []
        var offset = 8
        while offset + 12 <= png.count {
            let length = Int(png[offset]) << 24 | Int(png[offset + 1]) << 16 | Int(png[offset + 2]) << 8 | Int(png[offset + 3])
            if String(decoding: png[(offset + 4)..<(offset + 8)], as: UTF8.self) == type { out.append((offset + 8, length)) }
            offset += 12 + length
        }
        return out
    }

    @Test func truncatedJPEG() throws {
        let jpeg = try Self.photo("skimage_rocket.jpg")
        let error = try Self.decodeError(Array(jpeg.prefix(jpeg.count / 2)), name: "rocket-truncated.jpg")
        Self.check(error, file: "rocket-truncated.jpg", kind: .corruptJPEG, mentions: ["JPEG", "premature end"])
    }

    @Test func jpegCutInsideTheHeader() throws {
        let jpeg = try Self.photo("skimage_rocket.jpg")
        let error = try Self.decodeError(Array(jpeg.prefix(100)), name: "rocket-header.jpg")
        Self.check(error, file: "rocket-header.jpg", kind: .corruptJPEG, mentions: ["corrupt JPEG", "truncated"])
    }

    @Test func jpegWithDamagedEntropyData() throws {
        var jpeg = try Self.photo("sklearn_china.jpg")
        // Overwrite a stretch in the middle of the scan with marker-like garbage.
        for i in stride(from: jpeg.count / 2, to: jpeg.count / 2 + 64, by: 2) { jpeg[i] = 0xFF; jpeg[i + 1] = 0xD0 }
        let error = try Self.decodeError(jpeg, name: "china-damaged.jpg")
        Self.check(error, file: "china-damaged.jpg", kind: .corruptJPEG, mentions: ["corrupt JPEG"])
    }

    @Test func truncatedPNG() throws {
        let png = try Self.photo("skimage_coffee.png")
        let error = try Self.decodeError(Array(png.prefix(png.count / 2)), name: "coffee-truncated.png")
        Self.check(error, file: "coffee-truncated.png", kind: .corruptPNG, mentions: ["PNG", "end of data"])
    }

    @Test func pngWithFlippedIDATBytes() throws {
        var png = try Self.photo("skimage_coffee.png")
        let idat = try #require(Self.chunks(png, type: "IDAT").first)
        for i in (idat.data + idat.length / 2)..<(idat.data + idat.length / 2 + 16) { png[i] ^= 0xFF }
        let error = try Self.decodeError(png, name: "skimage_coffee.png")
        // zlib usually trips over the damaged stream before libpng reaches the chunk's CRC.
        Self.check(error, file: "skimage_coffee.png", kind: .corruptPNG, mentions: ["corrupt PNG", "IDAT"])
    }

    @Test func pngWithWrongIDATCRC() throws {
        var png = try Self.photo("skimage_coffee.png")
        let idat = try #require(Self.chunks(png, type: "IDAT").first)
        png[idat.data + idat.length] ^= 0xFF   // first byte of the chunk's CRC
        let error = try Self.decodeError(png, name: "skimage_coffee.png")
        Self.check(error, file: "skimage_coffee.png", kind: .corruptPNG, mentions: ["corrupt PNG", "IDAT: CRC error"])
    }

    @Test func pngWithDamagedSignature() throws {
        var png = try Self.photo("skimage_coins.png")
        png[6] = 0x00
        let error = try Self.decodeError(png, name: "coins.png")
        Self.check(error, file: "coins.png", kind: .unknownFormat, mentions: ["damaged PNG signature"])
    }

    @Test func textFileRenamedJPG() throws {
        let error = try Self.decodeError(Array("Hello, this is not a picture.\n".utf8), name: "notes.jpg")
        Self.check(error, file: "notes.jpg", kind: .unknownFormat, mentions: ["unknown image format", "text"])
    }

    @Test func emptyFile() throws {
        let error = try Self.decodeError([], name: "empty.png")
        Self.check(error, file: "empty.png", kind: .empty, mentions: ["empty"])
    }

    @Test func missingFile() throws {
        let error = try Self.decodeError(nil, name: "missing.jpg")
        Self.check(error, file: "missing.jpg", kind: .unreadable, mentions: ["cannot open", "no such file"])
    }

    @Test func directory() throws {
        let dir = try Self.scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(throws: ImageError.self) { try ImageDecoder.decode(contentsOf: dir) }
        do { _ = try ImageDecoder.decode(contentsOf: dir) } catch let error as ImageError {
            Self.check(error, file: dir.lastPathComponent, kind: .unreadable, mentions: ["directory"])
        }
    }

    @Test func otherFormatsAreNamed() throws {
        let gif = Array("GIF89a".utf8) + [UInt8](repeating: 0, count: 20)
        Self.check(try Self.decodeError(gif, name: "anim.png"), file: "anim.png", kind: .unknownFormat, mentions: ["GIF"])
        let bmp: [UInt8] = [0x42, 0x4D] + [UInt8](repeating: 7, count: 40)
        Self.check(try Self.decodeError(bmp, name: "x.jpg"), file: "x.jpg", kind: .unknownFormat, mentions: ["BMP"])
    }

    /// Many prefix lengths and single-byte corruptions (the headers densely, the rest sampled) of a PNG and a JPEG:
    /// each decodes or throws an ImageError naming the file; none traps.
    @Test func noPrefixOrByteFlipTraps() throws {
        let png = try Self.photo("skimage_coins.png")
        let jpeg = try Self.photo("mpl_grace_hopper.jpg")
        for (name, bytes) in [("coins.png", png), ("hopper.jpg", jpeg)] {
            for length in stride(from: 0, to: min(bytes.count, 4096), by: 7) + [bytes.count - 1] {
                do { _ = try ImageDecoder.decode(bytes: Array(bytes.prefix(length)), name: name) }
                catch let error as ImageError { #expect(error.description.hasPrefix("\(name): ")) }
            }
            let positions = Array(stride(from: 0, to: min(bytes.count, 2048), by: 13))
                + Array(stride(from: 2048, to: bytes.count, by: max(1, bytes.count / 300)))
            for position in positions {
                var damaged = bytes
                damaged[position] ^= 0x5A
                do { _ = try ImageDecoder.decode(bytes: damaged, name: name) }
                catch let error as ImageError { #expect(error.description.hasPrefix("\(name): ")) }
            }
        }
    }

    /// Real magic bytes with a header declaring an absurd size are refused before allocating.
    @Test func absurdPNGSizeIsRefused() throws {
        var png = try Self.photo("skimage_coins.png")
        // IHDR width/height at 16...23: 1,000,000 x 1,000,000 (libpng's own limit), with IHDR's CRC fixed up.
        for (i, b) in [UInt8]([0x00, 0x0F, 0x42, 0x40, 0x00, 0x0F, 0x42, 0x40]).enumerated() { png[16 + i] = b }
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in png[12..<29] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc & 1) != 0 ? 0xEDB8_8320 ^ (crc >> 1) : crc >> 1 }
        }
        crc ^= 0xFFFF_FFFF
        for i in 0..<4 { png[29 + i] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * i)) }
        let error = try Self.decodeError(png, name: "huge.png")
        #expect(error.kind == .tooLarge || error.kind == .corruptPNG, "\(error)")
        print("  \(error)")
    }
}
