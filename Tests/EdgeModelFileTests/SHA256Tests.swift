import EdgeModelFile
import Foundation
import Testing

// EdgeModelFile's own SHA-256 (it replaced swift-crypto's) against FIPS 180-4's examples and coreutils' sha256sum.
@Suite struct SHA256Tests {
    func hex(_ d: SHA256.Digest) -> String { d.map { String(format: "%02x", $0) }.joined() }

    @Test func fipsExamples() {
        #expect(hex(SHA256.hash(data: Data())) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(SHA256.hash(data: Data("abc".utf8))) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(SHA256.hash(data: Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex(SHA256.hash(data: [UInt8](repeating: 0x61, count: 1_000_000)))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func piecesGiveTheSameDigest() {
        let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let whole = SHA256.hash(data: bytes)
        // Every split point across block and padding boundaries (55, 56, 63, 64, ...).
        for cut in [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 500, 999, 1000] {
            var h = SHA256()
            h.update(data: bytes[0..<cut])
            bytes[cut...].withUnsafeBytes { h.update(bufferPointer: $0) }
            #expect(h.finalize() == whole, "cut at \(cut)")
        }
        for n in 50..<140 {
            var h = SHA256()
            for b in bytes[0..<n] { h.update(data: [b]) }
            #expect(h.finalize() == SHA256.hash(data: Array(bytes[0..<n])), "\(n) bytes one at a time")
        }
    }

    @Test func fileHashMatchesSha256sum() throws {
        let path = NSTemporaryDirectory() + "/sha256-\(getpid()).bin"
        let bytes = (0..<3_000_001).map { UInt8(truncatingIfNeeded: ($0 &* 2_654_435_761) >> 13) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let expected = String(out.prefix(64))
        #expect(try ModelProvenance.sha256(contentsOf: URL(fileURLWithPath: path)) == expected)
        #expect(ModelProvenance.sha256(Data(bytes)) == expected)
    }
}
