import Foundation

/// Where the tests find their inputs: the generated oracle fixtures (`.fixtures/`, written by
/// `Tests/Fixtures/make_fixtures.py` through `scripts/test-setup.sh`) and the project's shared data (`../shared`).
/// A missing fixture is a test failure, never a skip: a suite that silently skips its oracle cannot fail.
public enum TestPaths {
    /// The repository root, derived from this file's location (Tests/TestSupport/Fixtures.swift).
    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `$RESNET_EDGE_FIXTURES`, or `.fixtures/` at the repository root.
    public static var fixtures: URL {
        if let path = ProcessInfo.processInfo.environment["RESNET_EDGE_FIXTURES"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return repositoryRoot.appendingPathComponent(".fixtures")
    }

    /// `$RESNET_EDGE_SHARED`, or `../shared` beside the repository.
    public static var shared: URL {
        if let path = ProcessInfo.processInfo.environment["RESNET_EDGE_SHARED"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        return repositoryRoot.deletingLastPathComponent().appendingPathComponent("shared")
    }

    public static var testImages: URL { shared.appendingPathComponent("testdata/images") }
    public static var referenceModels: URL { shared.appendingPathComponent("models") }
}

/// Under emulation (qemu-user, 10-30x slower) the suite runs every test on a prefix of its data:
/// `RESNET_EDGE_TEST_SUBSET=1` keeps the first two photos of every single-image case, the first batch of every batched one, and the first 300
/// Fashion-MNIST images. The assertions are the same; only the data shrinks.
public enum TestSubset {
    public static var isActive: Bool {
        let value = ProcessInfo.processInfo.environment["RESNET_EDGE_TEST_SUBSET"] ?? ""
        return !value.isEmpty && value != "0"
    }

    /// Whether a case over these photos (of the sorted photo list `all`) runs.
    public static func includes(images: [String], of all: [String]) -> Bool {
        guard isActive else { return true }
        let sorted = all.sorted()
        // Batched cases: the first batch only (it starts with the first photo).
        if images.count > 1 { return images.first == sorted.first }
        return sorted.prefix(2).contains(images[0])
    }

    /// How many of `count` Fashion-MNIST images to evaluate.
    public static func fashionMNISTImages(_ count: Int) -> Int { isActive ? min(count, 300) : count }
}

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The manifest written by `Tests/Fixtures/make_fixtures.py`; its format is documented in Tests/Fixtures/README.md.
public struct FixtureManifest: Decodable, Sendable {
    public struct Preset: Decodable, Sendable {
        public let resize: Int
        public let crop: [Int]            // [height, width]
        public let mean: [Float]
        public let std: [Float]
        public let grayscale: Bool
        public let pad: Int
        public let channels: Int
    }
    public struct Preprocessed: Decodable, Sendable {
        public let uint8: String          // the resized and cropped pixels, HWC uint8 (C = 1 or 3)
        public let uint8_shape: [Int]
        public let float: String          // the model input, NCHW float32 little-endian, N = 1
        public let float_shape: [Int]
    }
    public struct Model: Decodable, Sendable {
        public let name: String
        public let file: String
        public let family: String
        public let bn_folded: Bool
        public let classes: Int
    }
    public struct Case: Decodable, Sendable {
        public let model: String
        public let preset: String
        public let batch: Int
        public let images: [String]
        public let output: String         // onnxruntime's logits, float32 little-endian
        public let output_shape: [Int]
    }
    public struct BadModel: Decodable, Sendable {
        public let file: String
        public let expect: [String]       // substrings the error message must contain
    }

    public let version: Int
    public let images: [String]
    public let presets: [String: Preset]
    public let preprocessed: [String: [String: Preprocessed]]
    public let models: [Model]
    public let cases: [Case]
    /// onnxruntime's outputs for the QDQ (INT8) models, batch 1 per photo; absent in fixtures made before them.
    public let quantized_cases: [Case]?
    public let bad: [String: BadModel]
    public struct FashionMNIST: Decodable, Sendable {
        public let model: String
        public let images: Int
        public let logits: String         // onnxruntime's logits for every test image, [images, 10] float32
        public let top1: Double
    }
    public let fashion_mnist: FashionMNIST?

    /// Loads `manifest.json`; throws with the command that makes it when it is missing.
    public static func load() throws -> FixtureManifest {
        let url = TestPaths.fixtures.appendingPathComponent("manifest.json")
        guard let data = try? Data(contentsOf: url) else {
            throw FixtureError("fixtures missing at \(url.path): run scripts/test-setup.sh (or scripts/test.sh) first")
        }
        return try JSONDecoder().decode(FixtureManifest.self, from: data)
    }

    public func url(_ relative: String) -> URL { TestPaths.fixtures.appendingPathComponent(relative) }

    public func model(named name: String) throws -> Model {
        guard let m = models.first(where: { $0.name == name }) else { throw FixtureError("no fixture model \(name)") }
        return m
    }
}

/// Reads a little-endian float32 file written by numpy's `tofile`.
public func readFloat32File(_ url: URL) throws -> [Float] {
    let data = try Data(contentsOf: url)
    guard data.count % 4 == 0 else { throw FixtureError("\(url.path): size \(data.count) is not a multiple of 4") }
    return data.withUnsafeBytes { raw in
        (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
    }
}

public func readUInt8File(_ url: URL) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: url))
}
