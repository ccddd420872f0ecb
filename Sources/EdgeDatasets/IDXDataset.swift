import CZlib
import EdgeImaging
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import EdgeSupport

/// Images and labels in the IDX format of MNIST and Fashion-MNIST, plain or gzip-compressed
/// (zlib's gzread reads both).
public struct IDXDataset: LabelledImageSet {
    public let width: Int, height: Int
    public let count: Int
    private let pixels: [UInt8]
    private let labels: [UInt8]
    public let summary: String
    public var classNames: [String]? { nil }

    public init(images: String, labels: String) throws {
        let imageData = try Self.read(images)
        let labelData = try Self.read(labels)
        let imageHeader = try Self.header(imageData, path: images, magic: 0x0000_0803, dimensions: 3)
        let labelHeader = try Self.header(labelData, path: labels, magic: 0x0000_0801, dimensions: 1)
        let (n, h, w) = (imageHeader[0], imageHeader[1], imageHeader[2])
        guard labelHeader[0] == n else {
            throw DatasetError("\(labels) has \(labelHeader[0]) labels for the \(n) images in \(images)")
        }
        guard imageData.count == 16 + n * h * w else {
            throw DatasetError("\(images) is truncated: \(imageData.count) bytes, the header promises \(16 + n * h * w)")
        }
        guard labelData.count == 8 + n else {
            throw DatasetError("\(labels) is truncated: \(labelData.count) bytes, the header promises \(8 + n)")
        }
        (count, height, width) = (n, h, w)
        pixels = Array(imageData[16...])
        self.labels = Array(labelData[8...])
        summary = "IDX \(images) (\(n) images \(w)x\(h))"
    }

    /// The IDX pair for `split` in `directory`, or nil when the directory holds none.
    public static func find(in directory: String, split: String) throws -> IDXDataset? {
        let fm = FileManager.default
        func existing(_ stem: String) -> String? {
            [stem, stem + ".gz"].map { directory + "/" + $0 }.first { fm.fileExists(atPath: $0) }
        }
        let images = existing("\(split)-images-idx3-ubyte"), labels = existing("\(split)-labels-idx1-ubyte")
        switch (images, labels) {
        case let (i?, l?): return try IDXDataset(images: i, labels: l)
        case (nil, nil): return nil
        default: throw DatasetError("\(directory) has only one of \(split)-images-idx3-ubyte and \(split)-labels-idx1-ubyte")
        }
    }

    public func image(at index: Int) throws -> DecodedImage {
        let size = width * height
        return DecodedImage(width: width, height: height, channels: 1, pixels: Array(pixels[(index * size)..<((index + 1) * size)]))
    }

    public func label(at index: Int) -> Int { Int(labels[index]) }

    static func read(_ path: String) throws -> [UInt8] {
        guard FileManager.default.isReadableFile(atPath: path), let file = gzopen(path, "rb") else {
            throw DatasetError("cannot open \(path)")
        }
        defer { gzclose(file) }
        var out = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { gzread(file, $0.baseAddress, UInt32($0.count)) }
            if n < 0 {
                var code: Int32 = 0
                let message = gzerror(file, &code).map { String(cString: $0) } ?? "read error"
                throw DatasetError("\(path) is corrupt: \(message)")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<Int(n)])
        }
        return out
    }

    static func header(_ data: [UInt8], path: String, magic: UInt32, dimensions: Int) throws -> [Int] {
        let size = 4 + 4 * dimensions
        guard data.count >= size else { throw DatasetError("\(path) is too short for an IDX header") }
        func word(_ i: Int) -> UInt32 { data[i..<(i + 4)].reduce(0) { $0 << 8 | UInt32($1) } }
        guard word(0) == magic else {
            throw DatasetError(String(printf: "%@ is not an IDX file of the expected kind (magic 0x%08x, expected 0x%08x)", path, word(0), magic))
        }
        return (0..<dimensions).map { Int(word(4 + 4 * $0)) }
    }
}
